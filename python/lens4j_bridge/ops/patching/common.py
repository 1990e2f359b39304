"""What the patching ops share: the sweep kinds (as in transformer_lens.patching), the
clean and corrupted inputs checked against each other, and a sweep's grid with its labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformer_lens.utilities import get_act_name

from ...errors import LensError, nearest, require
from ..metrics import last_positions_of
from ..model import tokens_of


# kind -> (activation short name, swept axes), as in transformer_lens.patching
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "resid_pre": ("resid_pre", ("layer", "pos")),
    "resid_mid": ("resid_mid", ("layer", "pos")),
    "resid_post": ("resid_post", ("layer", "pos")),
    "attn_out": ("attn_out", ("layer", "pos")),
    "mlp_out": ("mlp_out", ("layer", "pos")),
    "attn_head_out_all_pos": ("z", ("layer", "head")),
    "attn_head_q_all_pos": ("q", ("layer", "head")),
    "attn_head_k_all_pos": ("k", ("layer", "head")),
    "attn_head_v_all_pos": ("v", ("layer", "head")),
    "attn_head_pattern_all_pos": ("pattern", ("layer", "head_index")),
    "attn_head_out_by_pos": ("z", ("layer", "pos", "head")),
    "attn_head_q_by_pos": ("q", ("layer", "pos", "head")),
    "attn_head_k_by_pos": ("k", ("layer", "pos", "head")),
    "attn_head_v_by_pos": ("v", ("layer", "pos", "head")),
    "attn_head_pattern_by_pos": ("pattern", ("layer", "head_index", "dest_pos")),
    "attn_head_pattern_dest_src_pos": ("pattern", ("layer", "head_index", "dest_pos", "src_pos")),
}
# the *_every helpers: stacked on a leading patch_type axis
EVERY: dict[str, tuple[list[str], tuple[str, ...], list[str]]] = {
    "block_every": (["resid_pre", "attn_out", "mlp_out"], ("layer", "pos"), ["resid_pre", "attn_out", "mlp_out"]),
    "attn_head_all_pos_every": (
        ["attn_head_out_all_pos", "attn_head_q_all_pos", "attn_head_k_all_pos", "attn_head_v_all_pos", "attn_head_pattern_all_pos"],
        ("layer", "head"), ["out", "q", "k", "v", "pattern"]),
    "attn_head_by_pos_every": (
        ["attn_head_out_by_pos", "attn_head_q_by_pos", "attn_head_k_by_pos", "attn_head_v_by_pos", "attn_head_pattern_by_pos"],
        ("layer", "pos", "head"), ["out", "q", "k", "v", "pattern"]),
}


def _inputs(model: Any, clean: Any, corrupted: Any, prepend_bos: bool | None, padding_side: str | None) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    clean_tokens = tokens_of(model, clean, prepend_bos, padding_side)
    corrupted_tokens = tokens_of(model, corrupted, prepend_bos, padding_side)
    if clean_tokens.shape != corrupted_tokens.shape:
        raise LensError(
            f"clean and corrupted inputs must have the same [batch, pos] token shape: clean is {list(clean_tokens.shape)}, "
            f"corrupted is {list(corrupted_tokens.shape)}. Patching swaps activations position by position, so "
            "choose prompts of equal token length (see model.to_str_tokens) or pad them to the same length.",
            "shape_mismatch", argument="corrupted", shape=list(corrupted_tokens.shape), expected=list(clean_tokens.shape),
        )
    last = last_positions_of(model, corrupted, corrupted_tokens, prepend_bos, padding_side)
    return clean_tokens, corrupted_tokens, last


def _value(t: torch.Tensor) -> Any:
    t = t.detach().float().cpu()
    return t.item() if t.dim() == 0 else t.tolist()


def _labels(model: Any, tokens: torch.Tensor) -> dict[str, Any]:
    return {"tokens": [model.to_str_tokens(row) for row in tokens]}


def _canonical_kind(kind: str) -> str:
    name = kind.removeprefix("get_act_patch_") if isinstance(kind, str) else kind
    if name not in KINDS and name not in EVERY:
        raise LensError(f"unknown patching kind {kind!r}; valid: {sorted(KINDS) + sorted(EVERY)}", argument="kind", got=kind,
                        nearest=nearest(name, sorted(KINDS) + sorted(EVERY)) if isinstance(name, str) else None,
                        valid=sorted(KINDS) + sorted(EVERY))
    return name


@dataclass
class _SweepInputs:
    """A sweep's prompts and clean activations, checked: what the exact and the attribution sweeps share."""

    sub_kinds: list[str]
    clean_tokens: torch.Tensor | None  # None when only a clean cache was given
    corrupted_tokens: torch.Tensor
    last: list[int]
    clean_cache: Any
    clean_logits: torch.Tensor | None
    need: list[str]  # the hook names the sweep patches


def _sweep_inputs(model: Any, name: str, clean: Any, corrupted: Any, clean_cache: Any,
                  prepend_bos: bool | None, padding_side: str | None) -> _SweepInputs:
    require(clean is not None or clean_cache is not None, "give the clean prompts ('clean') or a clean cache ('clean_cache')")
    sub_kinds = EVERY[name][0] if name in EVERY else [name]
    kv_heads = getattr(model.cfg, "n_key_value_heads", None)
    require(name not in EVERY or "head" not in EVERY[name][1] or kv_heads in (None, model.cfg.n_heads),
            f"{name} stacks q with k / v, which needs n_key_value_heads == n_heads; this model has {kv_heads} key/value "
            f"heads for {model.cfg.n_heads} heads: run the k / v sweeps on their own")
    acts = sorted({KINDS[k][0] for k in sub_kinds})
    need = [get_act_name(a, l) for a in acts for l in range(model.cfg.n_layers)]
    absent = [n for n in need if n not in model.hook_dict]
    if absent:
        raise LensError(f"{name} patches {absent[0]}, which this model does not have"
                        + (" (its blocks run attention and MLP in parallel: there is no residual between them; patch "
                           "resid_pre, attn_out or mlp_out instead)" if "resid_mid" in absent[0] else "") + "; see model.hook_names",
                        "unknown_hook", got=absent[0])

    clean_logits, clean_tokens = None, None
    if clean is not None:
        clean_tokens, corrupted_tokens, last = _inputs(model, clean, corrupted, prepend_bos, padding_side)
        if clean_cache is None:
            wanted = set(need)
            clean_logits, clean_cache = model.run_with_cache(clean_tokens, names_filter=lambda n: n in wanted)
    else:
        corrupted_tokens = tokens_of(model, corrupted, prepend_bos, padding_side)
        last = last_positions_of(model, corrupted, corrupted_tokens, prepend_bos, padding_side)
    missing = [n for n in need if n not in clean_cache.cache_dict]
    require(not missing, f"the clean cache lacks {missing[:4]}{' ...' if len(missing) > 4 else ''}: run it with these names, or pass 'clean'",
            "unknown_hook", argument="clean_cache", got=missing)
    for n in need:
        batch, seq = clean_cache[n].shape[0], clean_cache[n].shape[-1 if n.endswith("hook_pattern") else 1]
        require((batch, seq) == tuple(corrupted_tokens.shape),
                f"the clean cache holds {n} for [batch, pos] = {[batch, seq]}, but the corrupted input is {list(corrupted_tokens.shape)}",
                "shape_mismatch", argument="corrupted", shape=list(corrupted_tokens.shape), expected=[batch, seq])
    return _SweepInputs(sub_kinds, clean_tokens, corrupted_tokens, last, clean_cache, clean_logits, need)


def _grid(model: Any, name: str, inputs: _SweepInputs, results: list[torch.Tensor]) -> tuple[torch.Tensor, list[str], dict[str, Any]]:
    """The sub-sweeps' values as one grid, with its axes and labels (a *_every kind stacks them on patch_type)."""
    if name in EVERY:
        parts = []
        for k, r in zip(inputs.sub_kinds, results):
            if KINDS[k][1] == ("layer", "head_index", "dest_pos"):
                r = r.transpose(1, 2)  # pattern by dest_pos -> [layer, pos, head] like the others
            parts.append(r)
        values = torch.stack(parts)
        axes = ["patch_type", *EVERY[name][1]]
    else:
        values = results[0]
        axes = list(KINDS[name][1])
    labels: dict[str, Any] = {a: list(range(values.shape[i])) for i, a in enumerate(axes)}
    if name in EVERY:
        labels["patch_type"] = EVERY[name][2]
    labels.update(_labels(model, inputs.clean_tokens if inputs.clean_tokens is not None else inputs.corrupted_tokens))
    return values, axes, labels
