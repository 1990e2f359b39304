"""Activation patching sweeps and path patching, as single batched ops.

Values equal TransformerLens' ``patching.get_act_patch_*`` (and, for path patching, the
plain two-run loop of Wang et al. / seed 002), but the work is organised differently:

* Patched variants are stacked along the batch axis, ``chunk_size`` variants at a time.
* A variant starts at the layer it patches, from the corrupted run's cached residual; the
  blocks before it would only recompute the corrupted run. The bridge's ``start_at_layer``
  still runs those blocks, so the blocks are called one by one here (``blocks[L](x)``), which
  keeps every hook firing. Variants enter the stacked batch at their own layer.
* A patch that first changes position p leaves positions < p equal to the corrupted run at
  every layer (causal attention), so only positions >= p are recomputed; their attention
  reads the corrupted run's keys and values for the prefix (a KV "cache" handed to the
  attention). p comes from the data: where clean and corrupted activations first differ, so
  a patch over all positions starts after the prompts' shared prefix, and a patch that writes
  exactly what is already there is not run at all.
* Only the positions the metric reads are unembedded, positions after the last of them are
  never computed, and the last block computes outputs only from the first read position on
  (earlier positions give it keys and values).

A block called on its own gets what the model's own forward handed it in the corrupted run
(recorded by a pre-hook in ``_run_base``): rotary position embeddings from the model's rotary
module, the attention mask (sliding windows, padding), position ids; cut to the recomputed
positions (``_block_kwargs``). The prefix's keys and values are recorded as the attention
hands them to its key/value cache (after RoPE and any key norm), and the logits come from the
model's final norm, unembedding and the post-unembedding transform its adapter declares
(Gemma 2's soft-cap; ``_final_stage``). Nothing here is written per architecture.

This "suffix" method is checked against the model's own forward at the start of every op
(``_suffix_check``); where it does not reproduce it (a block argument it cannot cut, an
attention that does not use the key/value cache), the op falls back to the "batched"
method: stacked variants through the model's full forward with hooks, and says why.
"""

from __future__ import annotations

import bisect
import inspect
import itertools
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from transformer_lens.utilities import get_act_name

from ...errors import LensError, require
from ...session import Session
from .. import op
from ..metrics import Metric, last_positions_of, metric_from_spec
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
METHODS = ("auto", "suffix", "batched")
DEFAULT_CPU_BUDGET_MB = 1024


# -- the base run and the block runner -----------------------------------------------------

@dataclass
class BaseRun:
    """The run that patched variants start from: tokens, logits, the cached activations, and
    what the model's own forward handed each block (its arguments, and the keys and values
    its attention wrote to the key/value cache)."""

    tokens: torch.Tensor
    logits: torch.Tensor
    cache: Any  # ActivationCache with resid_pre of every layer and the final residual
    block_args: list[dict[str, Any] | None] = field(default_factory=list)  # per block, by parameter name
    kv: list[tuple[torch.Tensor, torch.Tensor] | None] = field(default_factory=list)  # per block: [batch, kv_heads, pos, d_head]

    @property
    def batch(self) -> int:
        return self.tokens.shape[0]

    @property
    def seq(self) -> int:
        return self.tokens.shape[1]

    def act(self, name: str) -> torch.Tensor:
        return self.cache[name]


def _base_names(model: Any, extra: list[str] = ()) -> list[str]:
    n = model.cfg.n_layers
    names = [get_act_name("resid_pre", l) for l in range(n)]
    names.append(get_act_name("resid_post", n - 1))
    return sorted(set(names) | set(extra))


def _is_kv_cache(value: Any) -> bool:
    return not isinstance(value, torch.Tensor) and callable(getattr(value, "update", None)) and not isinstance(value, dict)


class _KVRecorder:
    """Stands in for the forward's own key/value cache during the base run: records the keys
    and values the block's attention hands it (after rotary embeddings and any key norm, as
    the attention will read them) and passes everything on to the real cache."""

    def __init__(self, inner: Any, store: list, layer: int) -> None:
        self._inner, self._store, self._layer = inner, store, layer

    def update(self, k: torch.Tensor, v: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        self._store[self._layer] = (k, v)
        return self._inner.update(k, v, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _bound_arguments(block: Any, args: tuple, kwargs: dict) -> dict[str, Any] | None:
    """The block's call arguments by the wrapped layer's parameter names (None when unknown)."""
    try:
        sig = inspect.signature(block.original_component.forward)
        bound = sig.bind_partial(*args, **kwargs).arguments
    except (AttributeError, TypeError, ValueError):
        return None
    out: dict[str, Any] = {}
    for name, value in bound.items():
        if sig.parameters[name].kind == inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        elif sig.parameters[name].kind != inspect.Parameter.VAR_POSITIONAL:
            out[name] = value
    return out


def _run_base(model: Any, tokens: torch.Tensor, names: list[str]) -> BaseRun:
    wanted = set(names)
    blocks = list(getattr(model, "blocks", []))
    block_args: list[dict[str, Any] | None] = [None] * len(blocks)
    kv: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * len(blocks)

    def capture(layer: int) -> Callable[..., Any]:
        def hook(module: Any, args: tuple, kwargs: dict) -> Any:
            # swap the forward's key/value cache for a recorder around it: the suffix method
            # needs the prefix's keys and values exactly as this attention computes them
            args = tuple(_KVRecorder(a, kv, layer) if _is_kv_cache(a) else a for a in args)
            kwargs = {k: _KVRecorder(v, kv, layer) if _is_kv_cache(v) else v for k, v in kwargs.items()}
            block_args[layer] = _bound_arguments(module, args, kwargs)
            return args, kwargs
        return hook

    handles = [block.register_forward_pre_hook(capture(layer), with_kwargs=True) for layer, block in enumerate(blocks)]
    try:
        logits, cache = model.run_with_cache(tokens, names_filter=lambda name: name in wanted)
    finally:
        for h in handles:
            h.remove()
    return BaseRun(tokens, logits, cache, block_args, kv)


class _PrefixKV:
    """The corrupted run's keys and values before the recomputed positions, for every row.

    The bridge's attention calls ``past_key_values.update(k, v, layer_idx)`` and attends over
    what it returns; the attention mask handed to the block covers the prefix too.
    """

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, repeats: int) -> None:
        self.keys, self.values, self.repeats = keys, values, repeats

    def update(self, k: torch.Tensor, v: torch.Tensor, *args: Any, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        pk = self.keys.repeat(self.repeats, 1, 1, 1).to(k.dtype)
        pv = self.values.repeat(self.repeats, 1, 1, 1).to(v.dtype)
        return torch.cat([pk, k], dim=2), torch.cat([pv, v], dim=2)

    def get_seq_length(self, *args: Any) -> int:
        return self.keys.shape[2]


class _Probed(Exception):
    """Raised from inside a block once its attention has computed the keys and values."""

    def __init__(self, k: torch.Tensor, v: torch.Tensor) -> None:
        super().__init__("keys and values computed")
        self.k, self.v = k, v


class _KVProbe:
    """A key/value cache that stops the block as soon as its keys and values are known."""

    def update(self, k: torch.Tensor, v: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        raise _Probed(k, v)


class _NotRunnable(Exception):
    """A block argument the suffix method does not know how to cut to the recomputed positions."""


def _rows(t: torch.Tensor, batch: int, repeats: int) -> torch.Tensor:
    """A per-prompt tensor for the stacked variants (a leading 1 broadcasts and stays)."""
    return t.repeat(repeats, *([1] * (t.dim() - 1))) if repeats > 1 and t.shape[0] == batch and batch > 1 else t


def _block_kwargs(base: BaseRun, layer: int, first: int, count: int, repeats: int, cache: Any) -> dict[str, Any]:
    """What the model's forward handed block ``layer``, cut to positions [first, first+count)
    of ``repeats`` stacked copies of the batch: rotary position embeddings and position ids at
    those positions, the attention mask's rows for them (over keys 0..first+count, so sliding
    windows and padding hold), and ``cache`` (the prefix's keys and values) as the cache."""
    given = base.block_args[layer] if layer < len(base.block_args) else None
    if given is None:
        raise _NotRunnable(f"the arguments the forward hands block {layer} were not seen")
    stop, seq, B = first + count, base.seq, base.batch
    out: dict[str, Any] = {}
    for i, (name, value) in enumerate(given.items()):
        if i == 0:
            continue  # the hidden states: the caller gives them
        if _is_kv_cache(value) or name in ("past_key_values", "layer_past", "past_key_value"):
            out[name] = cache
        elif name == "use_cache":
            out[name] = False
        elif isinstance(value, torch.Tensor):
            if name == "attention_mask" and value.dim() == 4 and value.shape[-2:] == (seq, seq):
                out[name] = _rows(value[:, :, first:stop, :stop], B, repeats)
            elif name == "position_ids" and value.dim() == 2 and value.shape[-1] == seq:
                out[name] = _rows(value[:, first:stop], B, repeats)
            elif name == "cache_position" and value.dim() == 1 and value.shape[0] == seq:
                out[name] = value[first:stop]
            elif seq in value.shape:
                raise _NotRunnable(f"block {layer}'s argument {name!r} ({list(value.shape)}) may vary with position")
            else:
                out[name] = value
        elif name == "position_embeddings" and isinstance(value, (tuple, list)) and \
                all(isinstance(t, torch.Tensor) and t.dim() >= 2 and t.shape[1] == seq for t in value):
            # the model's own rotary module's output at every position; a slice is its value at these
            out[name] = type(value)(_rows(t[:, first:stop], B, repeats) for t in value)
        elif isinstance(value, (tuple, list, dict)) and any(isinstance(t, torch.Tensor) for t in
                                                             (value.values() if isinstance(value, dict) else value)):
            raise _NotRunnable(f"block {layer}'s argument {name!r} holds tensors the suffix method cannot cut")
        else:
            out[name] = value
    return out


def _call_block(model: Any, base: BaseRun, layer: int, x: torch.Tensor, first: int, cache: Any,
                hooks: HookList | None = None) -> torch.Tensor:
    """blocks[layer] on rows holding positions first.. of stacked copies of the batch."""
    kwargs = _block_kwargs(base, layer, first, x.shape[1], x.shape[0] // base.batch, cache)
    if hooks:
        with model.hooks(fwd_hooks=hooks):
            out = model.blocks[layer](x, **kwargs)
    else:
        out = model.blocks[layer](x, **kwargs)
    return out[0] if isinstance(out, tuple) else out


def _prefix(base: BaseRun, layer: int, start: int, repeats: int) -> _PrefixKV | None:
    if start == 0:
        return None
    recorded = base.kv[layer] if layer < len(base.kv) else None
    if recorded is None:
        raise _NotRunnable(f"block {layer}'s attention handed no keys and values to the cache")
    k, v = recorded
    return _PrefixKV(k[:, :, :start], v[:, :, :start], repeats)


HookList = list[tuple[str, Callable[..., Any]]]


def _run_blocks(
    model: Any,
    base: BaseRun,
    entries: list[int],
    start: int,
    hooks: dict[int, HookList],
    stop: int | None = None,
    initial: Callable[[int, int], torch.Tensor] | None = None,
    end: int | None = None,
    tail: int | None = None,
    initial_is_mid: bool = False,
) -> tuple[torch.Tensor, int]:
    """Run the stacked variants through blocks[entries[0]:stop] on positions [start, end).

    ``entries`` (ascending) is each variant's first layer: variant i joins the batch at that
    layer, with the base run's residual there (or ``initial(layer, count)``), as rows
    [i*batch, (i+1)*batch). A variant may join at ``n_layers`` (after the last block) with
    ``initial`` giving its final residual. With ``initial_is_mid`` the rows ``initial`` gives
    are the residual after the layer's attention (resid_mid), and only the MLP half of that
    layer runs on them. Positions from ``end`` on are never needed (nothing before them reads
    them) and are left out. With ``tail``, the last block computes outputs only from position
    ``tail`` on (the earlier ones only give keys and values). Returns the residual after the
    last block, [variants*batch, positions, d_model], and its first position.
    """
    n_layers = model.cfg.n_layers
    stop = n_layers if stop is None else stop
    x: torch.Tensor | None = None
    cut = 0 if tail is None or tail <= start else tail - start
    for layer in range(entries[0], stop):
        joining = sum(1 for e in entries if e == layer)
        rows = None  # the variants joining at this layer, apart from x until they have run it
        if joining:
            rows = initial(layer, joining) if initial is not None else \
                base.act(get_act_name("resid_pre", layer))[:, start:end].repeat(joining, 1, 1)
        if cut and layer == n_layers - 1:
            # rows that joined earlier need no hook here; the joining rows' patches may sit anywhere
            parts = []
            if x is not None:
                parts.append(_final_block_tail(model, base, layer, x, start, tail))
            if rows is not None and initial_is_mid:
                parts.append(_mlp_half(model, layer, rows[:, cut:]))
            elif rows is not None:
                parts.append(_block(model, base, layer, rows, start, hooks.get(layer, []))[:, cut:])
            late = sum(1 for e in entries if e >= n_layers)
            if late:
                parts.append(initial(n_layers, late)[:, cut:])
            return torch.cat(parts), tail
        if rows is not None and not initial_is_mid:
            x, rows = (rows if x is None else torch.cat([x, rows])), None  # one block call for all rows
        if x is not None:
            x = _block(model, base, layer, x, start, hooks.get(layer, []))
        if rows is not None:  # they entered after the layer's attention: only its MLP half
            rows = _mlp_half(model, layer, rows)
            x = rows if x is None else torch.cat([x, rows])
    late = sum(1 for e in entries if e >= n_layers) if stop == n_layers else 0
    if late:  # variants whose whole change is in the final residual
        rows = initial(n_layers, late)
        x = rows if x is None else torch.cat([x, rows])
    assert x is not None
    return x, start


# -- what a block is made of: checked on the base run, used by the head-output entry and
#    path patching's frozen shortcut -----------------------------------------------------------

@dataclass
class _Layout:
    """How a block combines its halves: sequential (the MLP reads resid_mid) or parallel (the
    attention and the MLP both read resid_pre), and the norm the MLP reads through."""

    parallel: bool
    mlp_norm: str  # "ln2", or "ln1" where attention and MLP share the input norm (Phi)


def _attn_output(model: Any, layer: int, z: torch.Tensor) -> torch.Tensor:
    """The attention's contribution to the residual from its heads' z: the output projection,
    and the post-attention norm where the block has one (Gemma 2 / 3)."""
    block = model.blocks[layer]
    out = block.attn.o(z.flatten(-2))
    if "ln1_post" in (getattr(block, "submodules", None) or {}):
        out = block.ln1_post(out)
    return out


def _mlp_branch(model: Any, layer: int, x: torch.Tensor, layout: _Layout) -> torch.Tensor:
    """The MLP's contribution to the residual given the residual it reads."""
    block = model.blocks[layer]
    out = block.mlp(getattr(block, layout.mlp_norm)(x))
    if "ln2_post" in (getattr(block, "submodules", None) or {}):
        out = block.ln2_post(out)
    return out


def _mlp_half(model: Any, layer: int, resid_mid: torch.Tensor) -> torch.Tensor:
    """The second half of a sequential block: resid_mid + MLP(ln2(resid_mid))."""
    return resid_mid + _mlp_branch(model, layer, resid_mid, _Layout(False, "ln2"))


def _layout_names(model: Any) -> list[str]:
    """The activations ``_layout_check`` reads."""
    n = model.cfg.n_layers
    names = [get_act_name(a, l) for l in range(n) for a in ("resid_pre", "z", "attn_out")]
    names += [get_act_name("resid_mid", l) for l in range(n) if get_act_name("resid_mid", l) in model.hook_dict]
    names.append(get_act_name("resid_post", n - 1))
    return names


def _close(a: torch.Tensor, b: torch.Tensor, scale: float) -> float:
    """The difference between a and b, relative to scale (exact enough: <= 1e-5)."""
    return float((a - b).abs().max()) / max(1.0, scale)


def _layout_check(model: Any, base: BaseRun) -> tuple[_Layout | None, str | None]:
    """The blocks' layout, checked on the base run at every layer: the attention output is
    ``_attn_output(z)``, and the block's output is resid_mid + MLP branch (sequential) or
    resid_pre + attention output + MLP branch (parallel). Or why not."""
    try:
        n = model.cfg.n_layers
        parallel = get_act_name("resid_mid", 0) not in model.hook_dict
        norms = ["ln2"] if not parallel else [nm for nm in ("ln2", "ln1") if hasattr(model.blocks[0], nm)]
        for mlp_norm in norms:
            layout, reason = _Layout(parallel, mlp_norm), None
            for layer in range(n):
                pre = base.act(get_act_name("resid_pre", layer))
                post = base.act(get_act_name("resid_pre", layer + 1) if layer + 1 < n else get_act_name("resid_post", layer))
                attn = base.act(get_act_name("attn_out", layer))
                scale = float(post.abs().max())
                err = _close(_attn_output(model, layer, base.act(get_act_name("z", layer))), attn, scale)
                if err > 1e-5:
                    return None, f"the attention output is not its output projection of z (differs by {err:.1e})"
                if parallel:
                    err = _close(pre + attn + _mlp_branch(model, layer, pre, layout), post, scale)
                else:
                    mid = base.act(get_act_name("resid_mid", layer))
                    err = max(_close(pre + attn, mid, scale), _close(mid + _mlp_branch(model, layer, mid, layout), post, scale))
                if err > 1e-5:
                    reason = f"the {'parallel' if parallel else 'sequential'} block does not recompose from its halves (differs by {err:.1e})"
                    break
            if reason is None:
                return layout, None
        return None, reason or "the block has no norm the MLP reads through"
    except Exception as e:  # no o / ln2 / mlp as the bridge names them
        return None, f"the block's halves cannot be called ({type(e).__name__}: {str(e)[:160]})"


def _final_block_tail(model: Any, base: BaseRun, layer: int, x: torch.Tensor, start: int, tail: int) -> torch.Tensor:
    """The last block's output from position ``tail`` on: positions start..tail-1 give only keys
    and values, taken from the block's own attention, which is stopped once it has them."""
    repeats = x.shape[0] // base.batch
    head = x[:, : tail - start]
    try:
        _call_block(model, base, layer, head, start, _KVProbe())
        raise _NotRunnable("the last block's attention did not hand its keys to the cache")
    except _Probed as p:
        k, v = p.k, p.v
    recorded = base.kv[layer]
    if recorded is None:
        raise _NotRunnable(f"block {layer}'s attention handed no keys and values to the cache")
    base_k = recorded[0][:, :, :start].repeat(repeats, 1, 1, 1)
    base_v = recorded[1][:, :, :start].repeat(repeats, 1, 1, 1)
    prefix = _PrefixKV(torch.cat([base_k, k.to(base_k.dtype)], 2), torch.cat([base_v, v.to(base_v.dtype)], 2), 1)
    return _call_block(model, base, layer, x[:, tail - start:], tail, prefix)


def _block(model: Any, base: BaseRun, layer: int, x: torch.Tensor, start: int, hooks: HookList) -> torch.Tensor:
    """blocks[layer] on rows holding positions start.. of the stacked variants, with hooks."""
    return _call_block(model, base, layer, x, start, _prefix(base, layer, start, x.shape[0] // base.batch), hooks)


def _final_stage(model: Any, x: torch.Tensor) -> torch.Tensor:
    """Logits from the final residual through the model's own final stage: its final norm,
    its unembedding, and the post-unembedding transform its adapter declares (Gemma 2's
    final logit soft-cap, Granite's / Cohere's scaling)."""
    logits = model.unembed(model.ln_final(x))
    adapter = getattr(model, "adapter", None)
    transform = getattr(adapter, "apply_output_logits_transform", None)
    return transform(logits) if transform is not None else logits


def _readout(model: Any, base: BaseRun, x: torch.Tensor, start: int, metric: Metric) -> torch.Tensor:
    """Logits of the variants at the positions the metric reads: [variants, batch, k, d_vocab].

    Positions before ``start`` were not recomputed: their logits are the base run's.
    """
    B, n = base.batch, base.seq
    V = x.shape[0] // B
    if metric.positions is None:
        suffix = _final_stage(model, x)
        prefix = base.logits[:, :start].repeat(V, 1, 1)
        return torch.cat([prefix, suffix.to(prefix.dtype)], dim=1).view(V, B, n, -1)
    positions = metric.positions.to(x.device)
    index = (positions - start).clamp(min=0)
    rows = torch.arange(B, device=x.device)[:, None]
    picked = x.view(V, B, x.shape[1], x.shape[2])[:, rows, index]  # [V, B, k, d_model]
    k = positions.shape[1]
    logits = _final_stage(model, picked.reshape(V * B, k, -1)).view(V, B, k, -1)
    before = positions < start
    if bool(before.any()):
        logits[:, before] = metric.select(base.logits)[before].to(logits.dtype)
    return logits


def _run_full(model: Any, base: BaseRun, count: int, hooks: HookList, stop: int | None = None) -> torch.Tensor:
    """The batched method: ``count`` copies of the base tokens through the model's own forward."""
    kwargs: dict[str, Any] = {}
    if stop is not None and stop < model.cfg.n_layers:
        kwargs["stop_at_layer"] = stop
    with model.hooks(fwd_hooks=hooks):
        return model(base.tokens.repeat(count, 1), **kwargs)


def _suffix_check(model: Any, base: BaseRun) -> tuple[str | None, bool]:
    """Why the suffix method cannot be trusted on this model (None when it reproduces the
    forward), and whether the last block may be cut to the read positions (``tail``)."""
    try:
        if not hasattr(model, "blocks") or not hasattr(model, "ln_final") or not hasattr(model, "unembed"):
            return "the model has no blocks / ln_final / unembed stack", False
        start = base.seq // 2
        x, _ = _run_blocks(model, base, [0], start, {})
        final = base.act(get_act_name("resid_post", model.cfg.n_layers - 1))
        logits = _final_stage(model, final[:, -1:])
        scale = max(1.0, float(final.abs().max()))
        resid_err = float((x - final[:, start:]).abs().max())
        logit_err = float((logits - base.logits[:, -1:]).abs().max())
        if resid_err > 1e-5 * scale or logit_err > 1e-5 * max(1.0, float(base.logits.abs().max())):
            return f"running the blocks from cached residuals differs from the forward (residual {resid_err:.2e}, logits {logit_err:.2e})", False
    except _NotRunnable as e:
        return str(e), False
    except Exception as e:  # any failure means: use the model's own forward instead
        return f"calling the blocks directly failed ({type(e).__name__}: {str(e)[:200]})", False
    try:
        x, first = _run_blocks(model, base, [0, 0], start, {}, tail=base.seq - 1)
        tail_err = float((x.view(2, base.batch, -1, x.shape[-1])[:, :, 0] - final[:, -1]).abs().max())
        return None, first == base.seq - 1 and tail_err <= 1e-5 * scale
    except Exception:  # the last block's keys and values cannot be had apart from its outputs
        return None, False


def _choose_method(model: Any, base: BaseRun, method: str) -> tuple[str, str | None, bool]:
    """The method to use, why the suffix method was not (if so), and whether ``tail`` may be used."""
    require(method in METHODS, f"method must be one of {list(METHODS)}, got {method!r}")
    if method == "batched":
        return "batched", None, False
    reason, tail_ok = _suffix_check(model, base)
    if reason is None:
        return "suffix", None, tail_ok
    if method == "suffix":
        raise LensError(f"the suffix method is not exact on this model: {reason}; use method 'batched' or 'auto'")
    return "batched", reason, False


def _chunk_size(model: Any, batch: int, seq: int, read: int, chunk_size: int | None, memory_mb: float | None) -> int:
    """Variants per stacked run: given, or as many as fit the memory budget."""
    if chunk_size is not None:
        require(isinstance(chunk_size, int) and chunk_size >= 1, f"chunk_size must be a positive integer, got {chunk_size!r}")
        return chunk_size
    cfg = model.cfg
    device = next(model.parameters()).device
    if memory_mb is None:
        if device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(device)
            memory_mb = free / 2**20 / 4
        else:
            memory_mb = DEFAULT_CPU_BUDGET_MB
    require(memory_mb > 0, f"memory_mb must be positive, got {memory_mb}")
    itemsize = torch.empty((), dtype=next(model.parameters()).dtype).element_size()
    d_mlp = getattr(cfg, "d_mlp", None) or 4 * cfg.d_model
    # what one block keeps alive per token (MLP hidden twice, a dozen residual-sized tensors,
    # scores and pattern), plus the logits read out
    per_token = itemsize * (2 * d_mlp + 12 * cfg.d_model + 3 * cfg.n_heads * seq)
    per_variant = batch * (seq * per_token + read * cfg.d_vocab * 4 * 2)
    return max(1, int(memory_mb * 2**20 // per_variant))


def _variants_hook(batch: int, items: list[tuple[int, Callable[[torch.Tensor], None]]]) -> Callable[..., torch.Tensor]:
    """One hook that applies each variant's patch to that variant's rows of the stacked batch.

    Slots count from the end (-1 = the last ``batch`` rows): a sweep's patches at a layer are
    for the variants joining there, which are the last rows, also when the last block runs
    them apart from the others.
    """

    def hook(act: torch.Tensor, hook: Any = None) -> torch.Tensor:
        rows = act.view(act.shape[0] // batch, batch, *act.shape[1:])
        for slot, patch in items:
            patch(rows[slot])
        return act

    return hook


# -- activation patching sweeps --------------------------------------------------------------

@dataclass
class _Variant:
    cell: tuple[int, ...]
    layer: int
    start: int | None  # first position the patch changes; None: it writes what is already there
    hook: str
    make_patch: Callable[[int], Callable[[torch.Tensor], None]]  # offset -> patch of this variant's rows


def _patch_maker(act: str, axes: tuple[str, ...], cell: tuple[int, ...], clean: torch.Tensor) -> Callable[[int], Callable[[torch.Tensor], None]]:
    """The patch for one cell, as TransformerLens' patch setters do it, on rows starting at position ``offset``."""
    if axes == ("layer", "pos"):
        pos = cell[1]
        return lambda off: (lambda a: a[:, pos - off].copy_(clean[:, pos]))
    if axes == ("layer", "pos", "head"):
        pos, head = cell[1], cell[2]
        return lambda off: (lambda a: a[:, pos - off, head].copy_(clean[:, pos, head]))
    if axes in (("layer", "head"), ("layer", "head_index")):
        head = cell[1]
        if act == "pattern":
            return lambda off: (lambda a: a[:, head].copy_(clean[:, head, off:]))
        return lambda off: (lambda a: a[:, :, head].copy_(clean[:, off:, head]))
    if axes == ("layer", "head_index", "dest_pos"):
        head, dest = cell[1], cell[2]
        return lambda off: (lambda a: a[:, head, dest - off].copy_(clean[:, head, dest]))
    if axes == ("layer", "head_index", "dest_pos", "src_pos"):
        head, dest, src = cell[1], cell[2], cell[3]
        return lambda off: (lambda a: a[:, head, dest - off, src].copy_(clean[:, head, dest, src]))
    raise LensError(f"internal: no patch for axes {axes}", "python_error")


def _changed_from(act: str, axes: tuple[str, ...], cell: tuple[int, ...], clean: torch.Tensor, corrupted: torch.Tensor) -> int | None:
    """The first position whose activation the patch changes, or None when it changes nothing.

    Clean and corrupted prompts usually share a prefix: there the two runs agree exactly, a
    patch is a no-op, and a patch over all positions only changes them from the first
    difference on. Exact equality is asked for, so a no-op is only ever skipped, never guessed.
    """
    if axes in (("layer", "pos"), ("layer", "pos", "head")):
        index = (slice(None), *cell[1:])
        return None if torch.equal(clean[index], corrupted[index]) else cell[1]
    if axes in (("layer", "head_index", "dest_pos"), ("layer", "head_index", "dest_pos", "src_pos")):
        index = (slice(None), *cell[1:])
        return None if torch.equal(clean[index], corrupted[index]) else cell[2]
    head = cell[1]
    if act == "pattern":  # [batch, head, dest, src]: positions are the destinations
        differs = (clean[:, head] != corrupted[:, head]).any(-1).any(0)
    else:  # [batch, pos, head, d_head]
        differs = (clean[:, :, head] != corrupted[:, :, head]).any(-1).any(0)
    where = differs.nonzero()
    return int(where[0]) if len(where) else None


def _axis_sizes(model: Any, act: str, axes: tuple[str, ...], seq: int) -> list[int]:
    heads = model.cfg.n_heads
    if act in ("k", "v") and getattr(model.cfg, "n_key_value_heads", None):
        heads = model.cfg.n_key_value_heads
    size = {"layer": model.cfg.n_layers, "pos": seq, "dest_pos": seq, "src_pos": seq, "head": heads, "head_index": heads}
    return [size[a] for a in axes]


def _evaluate_variants(
    s: Session | None,
    model: Any,
    base: BaseRun,
    variants: list[Any],
    metric: Metric,
    method: str,
    chunk: int,
    make_hooks: Callable[[list[Any], int, bool], dict[int, HookList]],
    entry_of: Callable[[Any], int],
    start_of: Callable[[Any], int],
    label: str,
    stop: int | None = None,
    done_before: int = 0,
    total: int | None = None,
    stats: dict[str, int] | None = None,
    tail_ok: bool = False,
    make_entry: Callable[[list[Any], int, int], Callable[[int, int], torch.Tensor]] | None = None,
    entry_is_mid: bool = True,
) -> list[torch.Tensor]:
    """Run variants in stacked chunks and return the metric of each, in the order given.

    ``make_hooks(chunk, offset, staggered)`` returns the hooks per layer for a chunk whose rows
    start at position ``offset`` and whose variants join at their own layer (``staggered``) or
    all at the embedding. Under the suffix method, variants are grouped by their first changed
    position and enter at their own layer; under the batched method, all start at the embedding.
    With ``make_entry(chunk, start, end)`` (suffix method) the variants need no hooks: they
    enter with the rows ``_run_blocks``' ``initial`` gives, after their layer's attention
    (``entry_is_mid``) or, for parallel blocks, at the next layer.
    """
    total = total if total is not None else len(variants)
    results: list[torch.Tensor | None] = [None] * len(variants)
    order = list(range(len(variants)))
    done = done_before
    end = base.seq if metric.positions is None else int(metric.positions.max()) + 1

    def unchanged(i: int) -> bool:
        # a no-op patch, or (suffix method: causal attention) one at or after every position the metric reads
        start = start_of(variants[i])
        return start is None or (method == "suffix" and start >= end)

    skipped = [i for i in order if unchanged(i)]
    if skipped:
        value = torch.as_tensor(metric(base.logits)).detach().float().cpu()
        for i in skipped:
            results[i] = value
        done += len(skipped)
    order = [i for i in order if not unchanged(i)]
    if stats is not None:
        stats["skipped"] = stats.get("skipped", 0) + len(skipped)
        stats["chunk_size"] = chunk
    if method == "suffix":
        order.sort(key=lambda i: (start_of(variants[i]), entry_of(variants[i])))
        groups = [list(g) for _, g in itertools.groupby(order, key=lambda i: start_of(variants[i]))]
    else:
        groups = [order]
    for group in groups:
        for c in range(0, len(group), chunk):
            ids = group[c:c + chunk]
            part = [variants[i] for i in ids]
            if method == "suffix":
                start = start_of(part[0])
                tail = int(metric.positions.min()) if tail_ok and metric.positions is not None else None
                entries = [entry_of(v) for v in part]
                if make_entry is not None:
                    x, first = _run_blocks(model, base, entries, start, {}, stop=stop, initial=make_entry(part, start, end),
                                           end=end, tail=tail, initial_is_mid=entry_is_mid)
                else:
                    x, first = _run_blocks(model, base, entries, start, make_hooks(part, start, True), stop=stop, end=end, tail=tail)
                logits = _readout(model, base, x, first, metric)
                values = [metric.from_selected(logits[j]) for j in range(len(part))]
            else:
                per_layer = make_hooks(part, 0, False)
                flat = [h for layer in sorted(per_layer) for h in per_layer[layer]]
                logits = _run_full(model, base, len(part), flat)
                B = base.batch
                values = [metric(logits[j * B:(j + 1) * B]) for j in range(len(part))]
            for i, v in zip(ids, values):
                results[i] = torch.as_tensor(v).detach().float().cpu()
            done += len(part)
            if s is not None:
                s.progress(done, total, label)
    return results  # type: ignore[return-value]


def _sweep_kind(
    s: Session | None, model: Any, base: BaseRun, clean_cache: Any, kind: str, metric: Metric, method: str,
    chunk_size: int | None, memory_mb: float | None, done_before: int = 0, total: int | None = None,
    stats: dict[str, int] | None = None,
    tail_ok: bool = False,
    layout: _Layout | None = None,
) -> torch.Tensor:
    act, axes = KINDS[kind]
    sizes = _axis_sizes(model, act, axes, base.seq)
    B = base.batch
    head_entry = act == "z" and layout is not None  # layout: the suffix method, checked on this model
    variants = []
    for cell in itertools.product(*[range(n) for n in sizes]):
        name = get_act_name(act, cell[0])
        clean = clean_cache[name]
        variants.append(_Variant(cell, cell[0], _changed_from(act, axes, cell, clean, base.act(name)), name,
                                 _patch_maker(act, axes, cell, clean)))

    def make_hooks(part: list[_Variant], offset: int, staggered: bool) -> dict[int, HookList]:
        per_hook: dict[str, list] = defaultdict(list)
        layer_of: dict[str, int] = {}
        layers = [v.layer for v in part]  # ascending when staggered
        for slot, v in enumerate(part):
            present = bisect.bisect_right(layers, v.layer) if staggered else len(part)
            per_hook[v.hook].append((slot - present, v.make_patch(offset)))
            layer_of[v.hook] = v.layer
        hooks: dict[int, HookList] = defaultdict(list)
        for name, items in per_hook.items():
            hooks[layer_of[name]].append((name, _variants_hook(B, items)))
        return hooks

    def entry_of(v: _Variant) -> int:
        return v.layer + 1 if head_entry and layout.parallel else v.layer

    def make_entry(part: list[_Variant], start: int, end: int) -> Callable[[int, int], torch.Tensor]:
        def rows(layer: int, count: int) -> torch.Tensor:
            # a patch of heads' z changes the residual by exactly the change of the attention's
            # output (the model's own output projection and post-attention norm); a sequential
            # block's MLP then runs on resid_mid, a parallel block's layer is already complete
            joining = [v for v in part if entry_of(v) == layer]
            src = joining[0].layer
            name = get_act_name("z", src)
            z_base, z_clean = base.act(name)[:, start:end], clean_cache[name][:, start:end].to(base.act(name).device)
            z = z_base.repeat(count, 1, 1, 1)
            rows_z = z.view(count, B, *z.shape[1:])
            for i, v in enumerate(joining):
                head = v.cell[-1]
                if axes == ("layer", "pos", "head"):  # one position only
                    rows_z[i, :, v.cell[1] - start, head] = z_clean[:, v.cell[1] - start, head]
                else:
                    rows_z[i, :, :, head] = z_clean[:, :, head]
            attn_base = base.act(get_act_name("attn_out", src))[:, start:end]
            if layout.parallel:
                into = base.act(get_act_name("resid_pre", src + 1) if src + 1 < model.cfg.n_layers else get_act_name("resid_post", src))
            else:
                into = base.act(get_act_name("resid_mid", src))
            into = into[:, start:end].repeat(count, 1, 1)
            return into + (_attn_output(model, src, z) - attn_base.repeat(count, 1, 1))
        return rows

    read = base.seq if metric.positions is None else metric.positions.shape[1]
    chunk = _chunk_size(model, B, base.seq, read, chunk_size, memory_mb)
    values = _evaluate_variants(s, model, base, variants, metric, method, chunk, make_hooks,
                                entry_of=entry_of, start_of=lambda v: v.start,
                                label=f"patching {kind}", done_before=done_before, total=total, stats=stats, tail_ok=tail_ok,
                                make_entry=make_entry if head_entry else None,
                                entry_is_mid=not (head_entry and layout.parallel))
    stacked = torch.stack(values)
    return stacked.view(*sizes, *stacked.shape[1:])


# -- shared op plumbing -----------------------------------------------------------------------

def _inputs(model: Any, clean: Any, corrupted: Any, prepend_bos: bool | None, padding_side: str | None) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    clean_tokens = tokens_of(model, clean, prepend_bos, padding_side)
    corrupted_tokens = tokens_of(model, corrupted, prepend_bos, padding_side)
    if clean_tokens.shape != corrupted_tokens.shape:
        raise LensError(
            f"clean and corrupted inputs must have the same [batch, pos] token shape: clean is {list(clean_tokens.shape)}, "
            f"corrupted is {list(corrupted_tokens.shape)}. Patching swaps activations position by position, so "
            "choose prompts of equal token length (see model.to_str_tokens) or pad them to the same length.",
            "shape_mismatch",
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
        raise LensError(f"unknown patching kind {kind!r}; valid: {sorted(KINDS) + sorted(EVERY)}")
    return name


@op("patching.kinds")
def kinds(s: Session) -> dict[str, Any]:
    """Every sweep kind with its axes (TransformerLens' ``get_act_patch_<kind>``)."""
    out: dict[str, Any] = {k: {"activation": a, "axes": list(ax)} for k, (a, ax) in KINDS.items()}
    for k, (_, ax, names) in EVERY.items():
        out[k] = {"activation": None, "axes": ["patch_type", *ax], "patch_types": names}
    return out


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
                        "unknown_hook")

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
            "unknown_hook")
    for n in need:
        batch, seq = clean_cache[n].shape[0], clean_cache[n].shape[-1 if n.endswith("hook_pattern") else 1]
        require((batch, seq) == tuple(corrupted_tokens.shape),
                f"the clean cache holds {n} for [batch, pos] = {[batch, seq]}, but the corrupted input is {list(corrupted_tokens.shape)}",
                "shape_mismatch")
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


@op("patching.sweep")
def sweep(
    s: Session,
    model: Any,
    corrupted: Any,
    metric: dict[str, Any],
    kind: str = "resid_pre",
    clean: Any = None,
    clean_cache: Any = None,
    prepend_bos: bool | None = None,
    padding_side: str | None = None,
    method: str = "auto",
    chunk_size: int | None = None,
    memory_mb: float | None = None,
) -> dict[str, Any]:
    """Activation patching: for every cell of ``kind``'s grid, run the corrupted input with the
    clean activation patched in and evaluate the metric spec on the result.

    Give the clean prompts as ``clean`` (they are run here) or a ``clean_cache`` from
    ``model.run_with_cache``. Returns ``values`` [grid..., metric shape], ``axes``, ``labels``,
    the metric on the unpatched runs, the method used and the time taken.
    """
    t0 = time.perf_counter()
    name = _canonical_kind(kind)
    inputs = _sweep_inputs(model, name, clean, corrupted, clean_cache, prepend_bos, padding_side)
    patches_z = any(KINDS[k][0] == "z" for k in inputs.sub_kinds)
    base = _run_base(model, inputs.corrupted_tokens, _base_names(model, inputs.need + (_layout_names(model) if patches_z else [])))
    m = metric_from_spec(s, model, metric, inputs.corrupted_tokens, last_positions=inputs.last,
                         clean_logits=inputs.clean_logits, corrupted_logits=base.logits)
    chosen, reason, tail_ok = _choose_method(model, base, method)
    layout, entry_reason = _layout_check(model, base) if chosen == "suffix" and patches_z else (None, None)
    if s is not None and reason is not None:
        s.progress(0, 1, f"patching {name}: the fast (suffix) method is off on this model, running the full forward per patch: {reason}")
    if s is not None and entry_reason is not None:
        s.progress(0, 1, f"patching {name}: head outputs go through hooks, not the head-output entry: {entry_reason}")

    sizes = [math.prod(_axis_sizes(model, *KINDS[k], base.seq)) for k in inputs.sub_kinds]
    results, done, stats = [], 0, {}
    for k, size in zip(inputs.sub_kinds, sizes):
        results.append(_sweep_kind(s, model, base, inputs.clean_cache, k, m, chosen, chunk_size, memory_mb, done, sum(sizes), stats,
                                   tail_ok, layout))
        done += size

    values, axes, labels = _grid(model, name, inputs, results)
    return {
        "kind": name,
        "values": values,
        "axes": axes,
        "labels": labels,
        "metric": m.describe,
        "clean_value": None if inputs.clean_logits is None else _value(m(inputs.clean_logits)),
        "corrupted_value": _value(m(base.logits)),
        "method": chosen,
        "fallback_reason": reason,
        "last_block_tail": tail_ok,  # the last block computed only the positions the metric reads
        "head_entry": layout is not None,  # head-output patches entered the residual after their attention
        "head_entry_reason": entry_reason,  # why head-output patches went through hooks instead (None: not needed or entered)
        "parallel_blocks": None if layout is None else layout.parallel,
        "patches": sum(sizes),
        # patches that cannot change what the metric reads (they write the value already there,
        # or sit after every read position): their value is the corrupted run's, not re-run
        "skipped_unchanged": stats.get("skipped", 0),
        "chunk_size": stats.get("chunk_size"),
        "seconds": time.perf_counter() - t0,
    }


# -- attribution patching --------------------------------------------------------------------

# each activation's dimensions, named as the sweep axes name them
_ACT_DIMS: dict[str, tuple[str, ...]] = {
    **{a: ("batch", "pos", "head", "d_head") for a in ("z", "q", "k", "v")},
    "pattern": ("batch", "head_index", "dest_pos", "src_pos"),
}
_RESID_DIMS = ("batch", "pos", "d_model")
_NOT_DIFFERENTIABLE = ("rank", "java")


def _require_differentiable(spec: Any) -> None:
    inner = spec.get("of") if isinstance(spec, dict) and spec.get("type") == "normalized" else spec
    kind = inner.get("type") if isinstance(inner, dict) else None
    require(kind not in _NOT_DIFFERENTIABLE,
            f"attribution patching follows the metric's gradient, and a {kind!r} metric has none; "
            "use a differentiable one: logit_diff, normalized, loss, kl, prob or logit")


def _gradients(model: Any, tokens: torch.Tensor, names: list[str], metric: Metric) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """One forward and one backward of the corrupted run: its logits, and each named
    activation with the gradient of the metric (summed over prompts) with respect to it.

    The gradient is taken with respect to a zero added at the hook's output, so it follows
    exactly what a patch there changes. (Gradients of the activation tensor itself can differ:
    the bridge's ``hook_resid_mid`` is ``ln2.hook_in``, and the residual connection reads the
    tensor before the hook, so a patch there reaches the MLP only, as in TransformerLens.)
    """
    acts: dict[str, torch.Tensor] = {}
    nudges: dict[str, torch.Tensor] = {}

    def nudge(name: str) -> Callable[..., torch.Tensor]:
        def hook(act: torch.Tensor, hook: Any = None) -> torch.Tensor:
            acts[name] = act.detach()
            nudges[name] = torch.zeros_like(act, requires_grad=True)
            return act + nudges[name]
        return hook

    with torch.enable_grad():
        logits = model.run_with_hooks(tokens, fwd_hooks=[(n, nudge(n)) for n in names])
        total = metric(logits).sum()
        require(total.requires_grad, f"the metric {metric.describe} carries no gradient back to the model; "
                                     "attribution patching needs a differentiable metric", "python_error")
        found = torch.autograd.grad(total, [nudges[n] for n in names], allow_unused=True)
    grads = {}
    for n, g in zip(names, found):
        grads[n] = torch.zeros_like(acts[n]) if g is None else g  # None: nothing the metric reads depends on it
    return logits.detach(), acts, grads


def _attribution_kind(model: Any, kind: str, clean_cache: Any, acts: dict[str, torch.Tensor], grads: dict[str, torch.Tensor]) -> torch.Tensor:
    """(clean - corrupted) . gradient, summed over each cell's slice: [grid..., batch]."""
    act, axes = KINDS[kind]
    dims = _ACT_DIMS.get(act, _RESID_DIMS)
    keep = [dims.index(a) for a in axes[1:]]
    kept_in_order = sorted(keep)
    per_layer = []
    for layer in range(model.cfg.n_layers):
        name = get_act_name(act, layer)
        effect = (clean_cache[name].to(acts[name].device) - acts[name]) * grads[name]
        summed_out = [d for d in range(1, effect.dim()) if d not in keep]
        cells = effect.sum(dim=summed_out) if summed_out else effect  # [batch, kept dims ascending]
        per_layer.append(cells.permute(*[kept_in_order.index(d) + 1 for d in keep], 0))
    return torch.stack(per_layer).float().cpu()


@op("patching.attribution")
def attribution(
    s: Session,
    model: Any,
    corrupted: Any,
    metric: dict[str, Any],
    kind: str = "resid_pre",
    clean: Any = None,
    clean_cache: Any = None,
    prepend_bos: bool | None = None,
    padding_side: str | None = None,
) -> dict[str, Any]:
    """Attribution patching: ``patching.sweep``'s grid estimated to first order, from one
    clean forward and one forward and backward of the corrupted run.

    Each cell's value is the corrupted run's metric plus (clean - corrupted activation) . the
    metric's gradient, summed over the cell's slice (Nanda, "Attribution Patching", 2023): the
    linear approximation of the metric after that patch. It is exact for a metric linear in
    the activation and a screening estimate otherwise, far cheaper than the exact sweep;
    ``docs/BENCHMARKS.md`` compares the two. Same arguments and result as ``patching.sweep``,
    with method "attribution".
    """
    t0 = time.perf_counter()
    name = _canonical_kind(kind)
    _require_differentiable(metric)
    inputs = _sweep_inputs(model, name, clean, corrupted, clean_cache, prepend_bos, padding_side)
    # a normalized metric without its corrupted end needs the corrupted logits before the gradient run
    ends_missing = isinstance(metric, dict) and metric.get("type") == "normalized" and metric.get("corrupted") is None
    m = metric_from_spec(s, model, metric, inputs.corrupted_tokens, last_positions=inputs.last, clean_logits=inputs.clean_logits,
                         corrupted_logits=model(inputs.corrupted_tokens) if ends_missing else None)
    logits, acts, grads = _gradients(model, inputs.corrupted_tokens, inputs.need, m)
    corrupted_value = m(logits).detach().float().cpu()
    require(corrupted_value.dim() == 0 or tuple(corrupted_value.shape) == (inputs.corrupted_tokens.shape[0],),
            f"attribution patching needs a scalar or per-prompt metric, got shape {list(corrupted_value.shape)}")
    results = []
    for k in inputs.sub_kinds:
        effect = _attribution_kind(model, k, inputs.clean_cache, acts, grads)
        # a scalar metric's gradient already carries its reduction over prompts: the cell's estimate sums them
        results.append(corrupted_value + (effect.sum(-1) if corrupted_value.dim() == 0 else effect))
    values, axes, labels = _grid(model, name, inputs, results)
    if s is not None:
        s.progress(1, 1, f"attribution {name}")
    return {
        "kind": name,
        "values": values,
        "axes": axes,
        "labels": labels,
        "metric": m.describe,
        "clean_value": None if inputs.clean_logits is None else _value(m(inputs.clean_logits)),
        "corrupted_value": _value(corrupted_value),
        "method": "attribution",
        "patches": values.numel() // max(1, corrupted_value.numel()),
        "seconds": time.perf_counter() - t0,
    }


# -- path patching ----------------------------------------------------------------------------

RESID_HOOKS = ("resid_pre", "resid_mid", "resid_post")
HEAD_INPUTS = ("q", "k", "v")
DIRECTIONS = ("denoise", "noise")


@dataclass
class _Receivers:
    """Where the sender heads' effect is read: residual stream hooks, or heads' q / k / v."""

    resid: list[tuple[int, str]] = field(default_factory=list)  # (layer, resid_pre|resid_mid|resid_post)
    heads: list[tuple[int, int, str]] = field(default_factory=list)  # (layer, head, q|k|v)

    def hook_names(self) -> list[str]:
        return sorted({get_act_name(h, l) for l, h in self.resid} | {get_act_name(c, l) for l, _, c in self.heads})

    def last_layer(self) -> int:
        return max([l for l, _ in self.resid] + [l for l, _, _ in self.heads])

    def reached_by(self, sender_layer: int) -> bool:
        """Whether a head in ``sender_layer`` has any path to a receiver."""
        for layer, hook in self.resid:
            if sender_layer < layer or (sender_layer == layer and hook != "resid_pre"):
                return True
        return any(sender_layer < layer for layer, _, _ in self.heads)


def _parse_receivers(model: Any, spec: Any) -> _Receivers:
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    kv_heads = getattr(model.cfg, "n_key_value_heads", None) or n_heads
    usage = ("receivers must be {'type': 'final'}, {'type': 'resid', 'hook': 'resid_post', 'layers': [L, ...]} or "
             "{'type': 'heads', 'heads': [[L, H], [L, H, 'v'], ...], 'input': 'q'|'k'|'v'}")
    require(isinstance(spec, dict) and spec.get("type") in ("final", "resid", "heads"), f"{usage}; got {spec!r}")

    def layer_of(value: Any) -> int:
        require(isinstance(value, int) and not isinstance(value, bool), f"receiver layer must be an integer, got {value!r}")
        require(-n_layers <= value < n_layers, f"receiver layer {value} is out of range for a model with {n_layers} layers")
        return value % n_layers

    out = _Receivers()
    if spec["type"] == "final":
        out.resid.append((n_layers - 1, "resid_post"))
    elif spec["type"] == "resid":
        hook = spec.get("hook", "resid_post")
        require(hook in RESID_HOOKS, f"receiver hook must be one of {list(RESID_HOOKS)}, got {hook!r}")
        layers = spec.get("layers", [spec["layer"]] if "layer" in spec else None)
        require(isinstance(layers, list) and layers, f"resid receivers need 'layers': [L, ...] (or 'layer': L); {usage}")
        out.resid = [(layer_of(l), hook) for l in layers]
    else:
        heads = spec.get("heads")
        require(isinstance(heads, list) and heads, f"head receivers need 'heads': [[L, H], ...]; {usage}")
        default_input = spec.get("input")
        for item in heads:
            require(isinstance(item, list) and len(item) in (2, 3), f"a receiver head is [layer, head] or [layer, head, 'q'|'k'|'v'], got {item!r}")
            layer = layer_of(item[0])
            comp = item[2] if len(item) == 3 else default_input
            require(comp in HEAD_INPUTS, f"receiver head {item}: say which input it receives on, one of {list(HEAD_INPUTS)} "
                                         f"(as a third element or 'input'), got {comp!r}")
            limit = n_heads if comp == "q" else kv_heads
            head = item[1]
            require(isinstance(head, int) and not isinstance(head, bool) and 0 <= head < limit,
                    f"unknown receiver head {item}: layer {layer} has heads 0..{limit - 1} for input {comp!r}")
            out.heads.append((layer, head, comp))
    return out


def _first_difference(base: BaseRun, source: BaseRun, names: list[str]) -> int | None:
    """The first position at which any of the named activations differs between the runs."""
    differs = torch.zeros(base.seq, dtype=torch.bool)
    for name in names:
        a, b = base.act(name), source.act(name)
        differs |= (a != b).reshape(a.shape[0], a.shape[1], -1).any(-1).any(0).cpu()
    where = differs.nonzero()
    return int(where[0]) if len(where) else None


def path_patch_values(
    s: Session | None, model: Any, base: BaseRun, source: BaseRun, receivers: _Receivers, metric: Metric,
    senders: list[tuple[int, int]], method: str, chunk: int, layout: _Layout | None = None, start: int = 0,
) -> list[torch.Tensor]:
    """The metric with each sender head's path to the receivers patched (base run, sender from ``source``).

    Step 1: the base run with every head's output (hook_z) frozen at the base run's values except
    the sender's, taken from the source run; the receivers' activations are recorded (MLPs and
    norms recompute, as in Wang et al. and the seed). Step 2: the base run with only the
    receivers' activations replaced by the recorded ones.

    With a checked block ``layout`` (the frozen shortcut; suffix method, ``_layout_check``), a
    step-1 layer whose heads are all frozen skips its attention: its output is the base run's
    attn_out (the sender's layer: ``_attn_output(z)`` with the sender's z swapped in), so only
    the MLP branch runs there (on resid_mid, or on resid_pre for parallel blocks). Layers whose heads are receivers still run whole, with hooks. The suffix
    method recomputes positions ``start``.. only (before it the base and source runs agree,
    so every step equals the base run there).
    """
    B = base.batch
    if method == "batched":
        start = 0
    stop1 = receivers.last_layer() + 1
    capture_names = receivers.hook_names()
    head_layers = {layer for layer, _, _ in receivers.heads}

    def record(captured: dict[str, torch.Tensor], count: int, name: str, act: torch.Tensor) -> None:
        # variants that joined after this layer cannot have changed it: they keep the base value
        full = base.act(name)[:, start:].repeat(count, *([1] * (act.dim() - 1)))
        full[: act.shape[0]] = act
        captured[name] = full

    heads_at: dict[str, list[int]] = defaultdict(list)
    for layer, head, comp in receivers.heads:
        name = get_act_name(comp, layer)
        if head not in heads_at[name]:
            heads_at[name].append(head)

    def step1_hooks(part: list[tuple[int, int]], captured: dict[str, torch.Tensor], first_layer: int) -> dict[int, HookList]:
        by_layer: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for slot, (layer, head) in enumerate(part):
            by_layer[layer].append((slot, head))
        hooks: dict[int, HookList] = defaultdict(list)
        for layer in range(first_layer, stop1):
            z_name = get_act_name("z", layer)
            frozen, patched = base.act(z_name)[:, start:], source.act(z_name)[:, start:]
            senders_here = by_layer.get(layer, [])

            def freeze(act: torch.Tensor, hook: Any = None, frozen=frozen, patched=patched, senders_here=senders_here) -> torch.Tensor:
                rows = act.view(act.shape[0] // B, B, *act.shape[1:])
                rows.copy_(frozen.expand_as(rows))
                for slot, head in senders_here:
                    rows[slot, :, :, head] = patched[:, :, head]
                return act

            hooks[layer].append((z_name, freeze))
        for name in capture_names:
            layer = int(name.split(".")[1])

            def capture(act: torch.Tensor, hook: Any = None, name: str = name) -> torch.Tensor:
                record(captured, len(part), name, act)
                return act

            hooks[layer].append((name, capture))
        return hooks

    def step1_frozen(part: list[tuple[int, int]], captured: dict[str, torch.Tensor]) -> None:
        hooks = step1_hooks(part, captured, part[0][0])  # used at the head receivers' layers only
        x: torch.Tensor | None = None
        for layer in range(part[0][0], stop1):
            joining = [(slot, head) for slot, (l, head) in enumerate(part) if l == layer]
            if joining:
                rows = base.act(get_act_name("resid_pre", layer))[:, start:].repeat(len(joining), 1, 1)
                x = rows if x is None else torch.cat([x, rows])
            assert x is not None
            if layer in head_layers:
                x = _block(model, base, layer, x, start, hooks.get(layer, []))
                continue
            names = {h: get_act_name(h, layer) for h in RESID_HOOKS}
            if names["resid_pre"] in capture_names:
                record(captured, len(part), names["resid_pre"], x)
            attn = base.act(get_act_name("attn_out", layer))[:, start:].repeat(x.shape[0] // B, 1, 1)
            if joining:
                z_name = get_act_name("z", layer)
                z = base.act(z_name)[:, start:].repeat(len(joining), 1, 1, 1)
                rows_z = z.view(len(joining), B, *z.shape[1:])
                for i, (_, head) in enumerate(joining):
                    rows_z[i, :, :, head] = source.act(z_name)[:, start:, head]
                attn[joining[0][0] * B:] = _attn_output(model, layer, z)  # the joining slots come last
            if layout.parallel:  # the MLP reads the block's input, beside the attention
                x = x + attn + _mlp_branch(model, layer, x, layout)
            else:
                x = x + attn
                if names["resid_mid"] in capture_names:
                    record(captured, len(part), names["resid_mid"], x)
                x = x + _mlp_branch(model, layer, x, layout)
            if names["resid_post"] in capture_names:
                record(captured, len(part), names["resid_post"], x)

    def step2(captured: dict[str, torch.Tensor]) -> tuple[dict[int, HookList], int, Callable[[int, int], torch.Tensor] | None]:
        """Hooks per layer, the layer step 2 starts at, and its starting residual."""
        hooks: dict[int, HookList] = defaultdict(list)
        if receivers.resid:
            order = {"resid_pre": 0, "resid_mid": 1, "resid_post": 2}
            if method == "batched":
                for layer, hook in receivers.resid:
                    name = get_act_name(hook, layer)
                    hooks[layer].append((name, lambda act, hook=None, value=captured[name]: value))
                return hooks, 0, None
            layer, hook = max(receivers.resid, key=lambda r: (r[0], order[r[1]]))
            value = captured[get_act_name(hook, layer)]
            if hook == "resid_pre":
                return hooks, layer, lambda l, count: value
            if hook == "resid_post":
                return hooks, layer + 1, lambda l, count: value
            hooks[layer].append((get_act_name(hook, layer), lambda act, hook=None: value))
            return hooks, layer, None
        for name, heads in heads_at.items():
            layer = int(name.split(".")[1])
            value = captured[name]

            def replace(act: torch.Tensor, hook: Any = None, value=value, heads=heads) -> torch.Tensor:
                act[:, :, heads] = value[:, :, heads]
                return act

            hooks[layer].append((name, replace))
        first = 0 if method == "batched" else min(l for l, _, _ in receivers.heads)
        return hooks, first, None

    results: list[torch.Tensor] = []
    done = 0
    ordered = sorted(senders)
    for c in range(0, len(ordered), chunk):
        part = ordered[c:c + chunk]
        V = len(part)
        captured: dict[str, torch.Tensor] = {}
        if method == "suffix" and layout is not None:
            step1_frozen(part, captured)
        elif method == "suffix":
            hooks1 = step1_hooks(part, captured, part[0][0])
            _run_blocks(model, base, [layer for layer, _ in part], start, hooks1, stop=stop1)  # records via hooks
        else:
            hooks1 = step1_hooks(part, captured, 0)
            _run_full(model, base, V, [h for l in sorted(hooks1) for h in hooks1[l]], stop=stop1)
        hooks2, first, initial = step2(captured)
        if method == "suffix":
            if first >= model.cfg.n_layers:  # the receiver is the final residual: unembed it
                x = initial(first, V) if initial else None
            else:
                x, _ = _run_blocks(model, base, [first] * V, start, hooks2, initial=initial)
            logits = _readout(model, base, x, start, metric)
            values = [metric.from_selected(logits[j]) for j in range(V)]
        else:
            logits = _run_full(model, base, V, [h for l in sorted(hooks2) for h in hooks2[l]])
            values = [metric(logits[j * B:(j + 1) * B]) for j in range(V)]
        results.extend(torch.as_tensor(v).detach().float().cpu() for v in values)
        done += V
        if s is not None:
            s.progress(done, len(ordered), "path patching")
    by_sender = dict(zip(ordered, results))
    return [by_sender[x] for x in senders]


@op("patching.path_patch")
def path_patch(
    s: Session,
    model: Any,
    clean: Any,
    corrupted: Any,
    metric: dict[str, Any],
    receivers: dict[str, Any],
    direction: str = "denoise",
    sender_layers: list[int] | None = None,
    prepend_bos: bool | None = None,
    padding_side: str | None = None,
    method: str = "auto",
    chunk_size: int | None = None,
    memory_mb: float | None = None,
    frozen_shortcut: bool = True,
) -> dict[str, Any]:
    """Path patching from every sender head (layer x head) to the receivers.

    ``direction`` "denoise" (seed 002): run the corrupted input, take the sender head's output
    from the clean run, freeze every other head at its corrupted value. "noise" (Wang et al.):
    run the clean input, sender from the corrupted run, others frozen at their clean values.
    Returns ``values`` [n_layers, n_heads, metric shape]; senders with no path to a receiver
    hold the unpatched base run's value, senders outside ``sender_layers`` hold NaN.
    ``frozen_shortcut`` lets step 1 skip the attention of layers whose heads are all frozen
    (used where ``_layout_check`` shows it exact; hooks inside those attentions do not fire).
    The result says which method ran (``method``, ``frozen_shortcut``) and, where a fast path
    was not taken, why (``fallback_reason``, ``frozen_shortcut_reason``).
    """
    t0 = time.perf_counter()
    require(direction in DIRECTIONS, f"direction must be one of {list(DIRECTIONS)}, got {direction!r}")
    recv = _parse_receivers(model, receivers)
    clean_tokens, corrupted_tokens, last = _inputs(model, clean, corrupted, prepend_bos, padding_side)
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    if sender_layers is None:
        sender_layers = list(range(n_layers))
    require(isinstance(sender_layers, list) and all(isinstance(l, int) and not isinstance(l, bool) and -n_layers <= l < n_layers for l in sender_layers),
            f"sender_layers must be a list of layers in [{-n_layers}, {n_layers - 1}], got {sender_layers!r}")
    sender_layers = sorted({l % n_layers for l in sender_layers})

    extra = _layout_names(model) + recv.hook_names()
    names = _base_names(model, extra)
    clean_run = _run_base(model, clean_tokens, names)
    corrupted_run = _run_base(model, corrupted_tokens, names)
    base, source = (corrupted_run, clean_run) if direction == "denoise" else (clean_run, corrupted_run)
    if direction == "noise":
        last = last_positions_of(model, clean, clean_tokens, prepend_bos, padding_side)
    m = metric_from_spec(s, model, metric, base.tokens, last_positions=last,
                         clean_logits=clean_run.logits, corrupted_logits=corrupted_run.logits)
    chosen, reason, _ = _choose_method(model, base, method)

    start = _first_difference(base, source, [get_act_name("z", l) for l in range(n_layers)])
    # identical runs: no sender can change anything
    senders = [(l, h) for l in sender_layers for h in range(n_heads) if recv.reached_by(l)] if start is not None else []
    read = base.seq if m.positions is None else m.positions.shape[1]
    chunk = _chunk_size(model, base.batch, base.seq, read, chunk_size, memory_mb)
    base_value = torch.as_tensor(m(base.logits)).detach().float().cpu()
    layout, shortcut_reason = (None, None)
    if chosen == "suffix" and frozen_shortcut:
        layout, shortcut_reason = _layout_check(model, base)
    if reason is not None:
        s.progress(0, 1, f"path patching: the fast (suffix) method is off on this model, running the full forward per sender: {reason}")
    if shortcut_reason is not None:
        s.progress(0, 1, f"path patching: frozen layers run their attention (no frozen shortcut): {shortcut_reason}")
    values = path_patch_values(s, model, base, source, recv, m, senders, chosen, chunk, layout, start or 0) if senders else []
    grid = torch.full((n_layers, n_heads, *base_value.shape), float("nan"))
    for l in sender_layers:
        grid[l] = base_value
    for (l, h), v in zip(senders, values):
        grid[l, h] = v
    return {
        "values": grid,
        "axes": ["layer", "head"],
        "labels": {"layer": list(range(n_layers)), "head": list(range(n_heads)), **_labels(model, clean_tokens)},
        "direction": direction,
        "receivers": {"resid": [[l, h] for l, h in recv.resid], "heads": [[l, h, c] for l, h, c in recv.heads]},
        "metric": m.describe,
        "clean_value": _value(m(clean_run.logits)),
        "corrupted_value": _value(m(corrupted_run.logits)),
        "base_value": _value(base_value),
        "measured_senders": [[l, h] for l, h in senders],
        "first_difference": start,  # the runs agree before this position; only later ones are recomputed
        "chunk_size": chunk,
        "method": chosen,
        "frozen_shortcut": layout is not None,
        "frozen_shortcut_reason": shortcut_reason,
        "fallback_reason": reason,
        "seconds": time.perf_counter() - t0,
    }
