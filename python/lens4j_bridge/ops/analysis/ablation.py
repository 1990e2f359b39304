"""Analyses from the seeds, each one op: test_prompt, logit lens, direct logit attribution,
head detection, ablation, activation datasets / steering vectors / PCA.

Every op returns a dict whose grids are tensors (they become handles) and whose labels
are plain lists: layer labels as TransformerLens writes them ("0_pre", "L0H3"), token
strings, positions. Where a seed defines the computation, the op follows the seed's
formula (the docstring names the seed), so that the numbers are the notebook's numbers.

Sections: input helpers; test_prompt; logit lens; direct logit attribution (cache
methods); head detector; steering and activation datasets; ablation.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from transformer_lens.ActivationCache import ActivationCache
from transformer_lens.utilities import Slice, get_act_name

from ...errors import LensError, require
from ...session import Session
from .. import op
from ..model import check_hook_names, to_single_token, tokens_of
from ..tensor import as_tensor

# ---------------------------------------------------------------------------------------
# Input helpers
# ---------------------------------------------------------------------------------------


def _token_id(s: Session, model: Any, token: Any, what: str = "token") -> int:
    """A single token given as text (must be one token) or as an id."""
    if isinstance(token, str):
        return to_single_token(s, model, token)
    if isinstance(token, torch.Tensor) and token.numel() == 1:
        token = int(token.item())
    require(isinstance(token, int) and not isinstance(token, bool),
            f"{what} must be a token text or a token id, got {type(token).__name__}")
    vocab = model.cfg.d_vocab
    require(0 <= token < vocab, f"{what} id {token} is out of range: valid ids are 0..{vocab - 1}")
    return token


def _answer_pairs(s: Session, model: Any, answers: Any, batch: int) -> torch.Tensor:
    """[[correct, incorrect], ...] (texts or ids) as a [batch, 2] tensor; one pair serves every prompt."""
    if isinstance(answers, torch.Tensor):
        answers = answers.tolist()
    require(isinstance(answers, list) and len(answers) > 0,
            "answers must be a non-empty list of [correct, incorrect] pairs (token texts or ids)")
    if len(answers) == 2 and not isinstance(answers[0], list):
        answers = [answers]  # a single pair given flat
    pairs = []
    for i, pair in enumerate(answers):
        require(isinstance(pair, list) and len(pair) == 2,
                f"answers[{i}] must be a [correct, incorrect] pair, got {pair!r}")
        pairs.append([_token_id(s, model, t, f"answers[{i}]") for t in pair])
    if len(pairs) == 1 and batch > 1:
        pairs = pairs * batch
    if len(pairs) != batch:
        raise LensError(f"got {len(pairs)} answer pairs for a batch of {batch} prompts: give one pair per prompt (or one pair for all)",
                        "shape_mismatch")
    return torch.tensor(pairs, dtype=torch.int64, device=_device(model))


def _device(model: Any) -> torch.device:
    return next(model.parameters()).device


def _positions(positions: Any, n_pos: int, what: str = "positions") -> list[int]:
    """Positions (negative ones count from the end) as non-negative indices; None = all."""
    if positions is None:
        return list(range(n_pos))
    if isinstance(positions, int):
        positions = [positions]
    require(isinstance(positions, list) and all(isinstance(p, int) and not isinstance(p, bool) for p in positions) and positions,
            f"{what} must be a non-empty list of integers, got {positions!r}")
    out = []
    for p in positions:
        require(-n_pos <= p < n_pos, f"position {p} is out of range for a sequence of {n_pos} tokens (valid: {-n_pos}..{n_pos - 1})")
        out.append(p % n_pos)
    return out


def _layer_list(layers: Any, n: int, what: str = "layers") -> list[int]:
    if layers is None:
        return list(range(n))
    if isinstance(layers, int):
        layers = [layers]
    require(isinstance(layers, list) and layers and all(isinstance(l, int) and not isinstance(l, bool) for l in layers),
            f"{what} must be a non-empty list of integers, got {layers!r}")
    for l in layers:
        require(-n <= l < n, f"{what} index {l} is out of range: valid 0..{n - 1} (or -{n}..-1)")
    return [l % n for l in layers]


def _heads(model: Any, heads: Any) -> list[tuple[int, int]]:
    """[[layer, head], ...] validated against the model; None = every head."""
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    if heads is None:
        return [(l, h) for l in range(n_layers) for h in range(n_heads)]
    require(isinstance(heads, list) and heads, "heads must be a non-empty list of [layer, head] pairs")
    out = []
    for pair in heads:
        ok = isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in pair)
        require(ok, f"each head must be a [layer, head] pair of integers, got {pair!r}")
        layer, head = pair
        require(0 <= layer < n_layers and 0 <= head < n_heads,
                f"unknown head L{layer}H{head}: the model has layers 0..{n_layers - 1} and heads 0..{n_heads - 1}")
        out.append((layer, head))
    return out


def _str_tokens(model: Any, tokens: torch.Tensor) -> list[list[str]]:
    return [list(model.to_str_tokens(row)) for row in tokens]


def _decode_ids(model: Any, ids: torch.Tensor) -> list:
    """Nested lists of token strings for an id tensor of any shape (decoding each id once)."""
    flat = ids.reshape(-1).tolist()
    table = {i: model.tokenizer.decode([i]) for i in set(flat)}
    strings = [table[i] for i in flat]
    for size in reversed(ids.shape[1:]):
        strings = [strings[i:i + size] for i in range(0, len(strings), size)]
    return strings


def _cache(cache: Any) -> ActivationCache:
    require(isinstance(cache, ActivationCache), f"cache must be a cache handle, got {type(cache).__name__}")
    return cache


def _pos_slice(value: Any, n_pos: int | None) -> Slice:
    """A TransformerLens Slice from JSON: null, an int, a list of ints, or {"start","stop","step"}."""
    if value is None or isinstance(value, Slice):
        return Slice(value)
    if isinstance(value, dict):
        unknown = set(value) - {"start", "stop", "step"}
        require(not unknown, f"a slice object takes start, stop and step; unknown keys {sorted(unknown)}")
        return Slice((value.get("start"), value.get("stop"), value.get("step")))
    indices = [value] if isinstance(value, int) else value
    if isinstance(indices, torch.Tensor):
        indices = indices.tolist()
    require(isinstance(indices, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in indices),
            f"pos_slice must be null, an int, a list of ints or {{start, stop, step}}, got {value!r}")
    if n_pos is not None:
        for i in indices:
            require(-n_pos <= i < n_pos, f"position {i} is out of range for a sequence of {n_pos} tokens (valid: {-n_pos}..{n_pos - 1})")
    return Slice(value)


def _cache_n_pos(cache: ActivationCache) -> int | None:
    embed = cache.cache_dict.get("hook_embed")
    if embed is None:
        embed = cache.cache_dict.get("blocks.0.hook_resid_pre")
    return None if embed is None else embed.shape[-2]


def _cache_layer(cache: ActivationCache, layer: int | None, allow_final: bool = True) -> int | None:
    n = cache.model.cfg.n_layers
    if layer is None or layer == -1:
        return layer
    top = n if allow_final else n - 1
    require(isinstance(layer, int) and 0 <= layer <= top,
            f"layer {layer} is out of range: valid 0..{top}, or -1 / null for the unembed (all layers)")
    return layer


def _tl_call(what: str, fn: Callable[[], Any]) -> Any:
    """Call TransformerLens; its assertion and lookup failures become LensErrors naming the call."""
    try:
        return fn()
    except LensError:
        raise
    except (AssertionError, KeyError, ValueError, IndexError, RuntimeError) as e:
        raise LensError(f"{what} failed: {type(e).__name__}: {e}") from e


# ---------------------------------------------------------------------------------------
# test_prompt (seed 001's first call; transformer_lens.utilities.test_prompt's numbers)
# ---------------------------------------------------------------------------------------


@op("analysis.test_prompt")
def test_prompt(
    s: Session, model: Any, prompt: str, answer: str | list[str], top_k: int = 10,
    prepend_space_to_answer: bool = True, prepend_bos: bool | None = None,
) -> dict[str, Any]:
    """What transformer_lens.utilities.test_prompt prints, as a record.

    One answer string may be several tokens (one step per answer token); a list of answers
    compares their first tokens as alternative next tokens (one step). Per step: each answer
    token's rank, logit and probability, and the top-k tokens with logits and probabilities.
    Numbers are plain JSON (a record for a pretty printer), not tensor handles.
    """
    require(isinstance(prompt, str), "prompt must be a string")
    answers = [answer] if isinstance(answer, str) else answer
    require(isinstance(answers, list) and answers and all(isinstance(a, str) and a for a in answers),
            "answer must be a non-empty string or a non-empty list of non-empty strings")
    vocab = model.cfg.d_vocab
    require(isinstance(top_k, int) and 0 <= top_k <= vocab, f"top_k must be in [0, {vocab}], got {top_k!r}")
    n_answers = len(answers)
    multiple = n_answers > 1
    if prepend_space_to_answer:
        answers = [a if a.startswith(" ") else " " + a for a in answers]
    # The same steps as TransformerLens' test_prompt, so that ranks (ties included) agree.
    prompt_tokens = model.to_tokens(prompt, prepend_bos=prepend_bos)
    if multiple:
        answer_tokens = torch.cat([model.to_tokens(a, prepend_bos=False)[:, :1] for a in answers])
    else:
        answer_tokens = model.to_tokens(answers, prepend_bos=False)
    prompt_tokens = prompt_tokens.repeat(answer_tokens.shape[0], 1)
    tokens = torch.cat((prompt_tokens, answer_tokens), dim=1)
    prompt_str_tokens = list(model.to_str_tokens(prompt, prepend_bos=prepend_bos))
    answer_str_tokens_list = [list(model.to_str_tokens(a, prepend_bos=False)) for a in answers]
    prompt_length = len(prompt_str_tokens)
    answer_length = 1 if multiple else len(answer_str_tokens_list[0])
    logits = model(tokens)
    probs = logits.softmax(dim=-1)
    steps = []
    for index in range(prompt_length, prompt_length + answer_length):
        ids = tokens[:, index]
        token_probs = probs[:, index - 1]
        sorted_probs, sorted_positions = token_probs.sort(descending=True)
        ranks = sorted_positions.argsort(-1)[range(n_answers), ids.cpu()].tolist()
        top_ids = sorted_positions[0, :top_k]
        steps.append({
            "position": index - 1,
            "answer_token_ids": ids.tolist(),
            "answer_tokens": [a[index - prompt_length] for a in answer_str_tokens_list],
            "ranks": ranks,
            "logits": [logits[i, index - 1, ids[i]].item() for i in range(n_answers)],
            "probs": [token_probs[i, ids[i]].item() for i in range(n_answers)],
            "top_token_ids": top_ids.tolist(),
            "top_tokens": [model.to_string(t) for t in top_ids],
            "top_logits": logits[0, index - 1, top_ids].tolist(),
            "top_probs": sorted_probs[0, :top_k].tolist(),
        })
    return {
        "prompt_tokens": prompt_str_tokens,
        "answers": answers,
        "answer_tokens": answer_str_tokens_list,
        "steps": steps,
    }


# ---------------------------------------------------------------------------------------
# Logit lens (seed 003: ln2.hook_normalized per layer; seed 001: accumulated_resid)
# ---------------------------------------------------------------------------------------

LENS_SOURCES = ("ln2_normalized", "resid_post", "accumulated_resid")


def _has_resid_mid(model: Any) -> bool:
    """Whether the blocks have a residual between attention and MLP (not so where they run in parallel)."""
    return get_act_name("resid_mid", 0) in model.hook_dict


def _output_transform(model: Any) -> tuple[Callable[[torch.Tensor], torch.Tensor] | None, str | None]:
    """The model's post-unembedding transform (Gemma 2's final logit soft-cap, Granite's scaling)
    as its adapter declares it, and a description; (None, None) where the unembedding is the output."""
    adapter = getattr(model, "adapter", None)
    transform = getattr(adapter, "apply_output_logits_transform", None)
    if transform is None:
        return None, None
    from transformer_lens.model_bridge.architecture_adapter import ArchitectureAdapter

    cap = getattr(model.cfg, "output_logits_soft_cap", None)
    overridden = type(adapter).apply_output_logits_transform is not ArchitectureAdapter.apply_output_logits_transform
    if overridden:
        return transform, f"{type(adapter).__name__}'s post-unembedding transform"
    if cap is not None and cap > 0:
        return transform, f"final logit soft-cap {cap:g} * tanh(logits / {cap:g})"
    return None, None


def _as_batch_pos(act: torch.Tensor, batch: int, n_pos: int) -> torch.Tensor:
    """An activation the bridge gives flattened over tokens ([batch*pos, d]: OPT's MLP half) as [batch, pos, d]."""
    if act.dim() == 2 and act.shape[0] == batch * n_pos:
        return act.view(batch, n_pos, act.shape[-1])
    return act


@op("analysis.logit_lens")
def logit_lens(
    s: Session, model: Any, input: Any, layers: list[int] | None = None, positions: list[int] | None = None,
    top_k: int = 5, target: Any = None, source: str = "ln2_normalized", incl_mid: bool = False,
    recompute_ln: bool = False, prepend_bos: bool | None = None, output_transform: bool = False,
) -> dict[str, Any]:
    """Per row (a layer) and position: top-k tokens, target probability and rank, KL(final || row).

    Rows by ``source``:
    - "ln2_normalized" (seed 003): ``blocks.L.ln2.hook_normalized`` unembedded, one row per layer.
    - "resid_post": ``ln_final(blocks.L.hook_resid_post)`` unembedded (the last row is the model's logits).
    - "accumulated_resid" (seed 001): ``cache.accumulated_resid(incl_mid=...)`` rows, through
      ``cache.apply_ln_to_stack(layer=-1)`` (the final cached LN scale, the seed's formula; or
      statistics recomputed per row with ``recompute_ln``), then the unembed.
    ``layers`` picks rows by index (negative from the end). KL is the seed's
    ``kl_div(log_softmax(row), softmax(final_logits), reduction="none").sum(-1)``.
    Grids are [row, batch, position(, k)]; the seed's [pos, layer] grid is ``kl[:, 0].T``.

    A model whose output passes through a transform after the unembedding (Gemma 2's final
    logit soft-cap) has rows of uncapped logits, as in TransformerLens, so even the last
    "resid_post" row is not the model's output there; the result says so
    (``output_transform``). With ``output_transform=True`` every row goes through the model's
    own transform, and the last "resid_post" row is the model's output.
    """
    require(source in LENS_SOURCES, f"unknown logit lens source {source!r}; valid: {list(LENS_SOURCES)}")
    vocab = model.cfg.d_vocab
    require(isinstance(top_k, int) and 1 <= top_k <= vocab, f"top_k must be in [1, {vocab}], got {top_k!r}")
    tokens = tokens_of(model, input, prepend_bos)
    n_layers = model.cfg.n_layers
    pos = _positions(positions, tokens.shape[1])
    target_id = None if target is None else _token_id(s, model, target, "target")

    if source == "ln2_normalized":
        names = [f"blocks.{l}.ln2.hook_normalized" for l in range(n_layers)]
        if names[0] not in model.hook_dict:
            raise LensError(
                f"logit lens source 'ln2_normalized' reads {names[0]}, which this model does not have (its blocks have no "
                f"ln2{': attention and MLP share the input norm' if not _has_resid_mid(model) else ''}); sources that exist "
                "here: 'resid_post' (ln_final of each block's output) and 'accumulated_resid'"
                + ("" if _has_resid_mid(model) else " (without incl_mid: there is no resid_mid)"), "unknown_hook")
    elif source == "resid_post":
        names = [get_act_name("resid_post", l) for l in range(n_layers)]
    else:
        names = [get_act_name("resid_pre", l) for l in range(n_layers)] + [get_act_name("resid_post", n_layers - 1), "ln_final.hook_scale"]
        if incl_mid:
            require(_has_resid_mid(model), "incl_mid=True needs resid_mid, which this model's blocks do not have "
                                           "(attention and MLP run in parallel); use incl_mid=False", "unknown_hook")
            names += [get_act_name("resid_mid", l) for l in range(n_layers)]
    check_hook_names(model, names)
    transform, transform_text = _output_transform(model)
    wanted = set(names)
    final_logits, cache = model.run_with_cache(tokens, names_filter=lambda n: n in wanted)

    if source == "accumulated_resid":
        # The stack without LN: it is applied per row below, on the chosen positions only.
        acts, labels = cache.accumulated_resid(layer=-1, incl_mid=incl_mid, return_labels=True)
    else:
        acts = [_as_batch_pos(cache[n], tokens.shape[0], tokens.shape[1]) for n in names]
        labels = [f"{l}_{'ln2' if source == 'ln2_normalized' else 'post'}" for l in range(n_layers)]
    rows = _layer_list(layers, len(labels), "layers (rows)")

    final_probs = final_logits[:, pos].softmax(dim=-1)
    tops, top_probs, kls, target_probs, target_ranks = [], [], [], [], []
    for i in rows:
        x = acts[i][:, pos]
        if source == "accumulated_resid":
            x = cache.apply_ln_to_stack(x[None], layer=-1, pos_slice=pos, recompute_ln=recompute_ln)[0]
        elif source == "resid_post":
            x = model.ln_final(x)
        row_logits = model.unembed(x)
        if output_transform and transform is not None:
            row_logits = transform(row_logits)
        log_probs = row_logits.log_softmax(dim=-1)
        values, ids = log_probs.topk(top_k, dim=-1)
        tops.append(ids)
        top_probs.append(values.exp())
        kls.append(torch.nn.functional.kl_div(log_probs, final_probs, reduction="none").sum(-1))
        if target_id is not None:
            target_probs.append(log_probs[..., target_id].exp())
            target_ranks.append((row_logits > row_logits[..., target_id:target_id + 1]).sum(-1))
    top_ids = torch.stack(tops)
    result: dict[str, Any] = {
        "source": source,
        "labels": [labels[i] for i in rows],
        "rows": rows,
        "positions": pos,
        "str_tokens": _str_tokens(model, tokens),
        "top_token_ids": top_ids,
        "top_tokens": _decode_ids(model, top_ids),
        "top_probs": torch.stack(top_probs),
        "kl": torch.stack(kls),
        # the model's post-unembedding transform, and whether the rows went through it (None: it has none)
        "output_transform": transform_text,
        "output_transform_applied": bool(output_transform and transform is not None),
    }
    if target_id is not None:
        result.update(target_id=target_id, target_probs=torch.stack(target_probs), target_ranks=torch.stack(target_ranks))
    return result


# ---------------------------------------------------------------------------------------
# Direct logit attribution: ActivationCache methods on a cache handle, and seed 001's DLA
# ---------------------------------------------------------------------------------------


@op("analysis.accumulated_resid")
def accumulated_resid(
    s: Session, cache: Any, layer: int | None = None, incl_mid: bool = False, apply_ln: bool = False,
    pos_slice: Any = None, mlp_input: bool = False,
) -> dict[str, Any]:
    c = _cache(cache)
    layer = _cache_layer(c, layer)
    sl = _pos_slice(pos_slice, _cache_n_pos(c))
    stack, labels = _tl_call("accumulated_resid", lambda: c.accumulated_resid(
        layer=layer, incl_mid=incl_mid, apply_ln=apply_ln, pos_slice=sl, mlp_input=mlp_input, return_labels=True))
    return {"stack": stack, "labels": labels}


@op("analysis.decompose_resid")
def decompose_resid(
    s: Session, cache: Any, layer: int | None = None, mlp_input: bool = False, mode: str = "all",
    apply_ln: bool = False, pos_slice: Any = None, incl_embeds: bool = True,
) -> dict[str, Any]:
    c = _cache(cache)
    require(mode in ("all", "mlp", "attn"), f"mode must be 'all', 'mlp' or 'attn', got {mode!r}")
    layer = _cache_layer(c, layer)
    sl = _pos_slice(pos_slice, _cache_n_pos(c))
    stack, labels = _tl_call("decompose_resid", lambda: c.decompose_resid(
        layer=layer, mlp_input=mlp_input, mode=mode, apply_ln=apply_ln, pos_slice=sl, incl_embeds=incl_embeds, return_labels=True))
    return {"stack": stack, "labels": labels}


@op("analysis.stack_head_results")
def stack_head_results(
    s: Session, cache: Any, layer: int = -1, incl_remainder: bool = False, pos_slice: Any = None, apply_ln: bool = False,
) -> dict[str, Any]:
    c = _cache(cache)
    layer = _cache_layer(c, layer)
    sl = _pos_slice(pos_slice, _cache_n_pos(c))
    stack, labels = _tl_call("stack_head_results", lambda: c.stack_head_results(
        layer=layer, return_labels=True, incl_remainder=incl_remainder, pos_slice=sl, apply_ln=apply_ln))
    return {"stack": stack, "labels": labels}


@op("analysis.apply_ln_to_stack")
def apply_ln_to_stack(
    s: Session, cache: Any, residual_stack: Any, layer: int | None = None, mlp_input: bool = False,
    pos_slice: Any = None, batch_slice: Any = None, has_batch_dim: bool = True, recompute_ln: bool = False,
) -> dict[str, Any]:
    c = _cache(cache)
    stack = as_tensor(residual_stack)
    layer = _cache_layer(c, layer)
    sl = _pos_slice(pos_slice, _cache_n_pos(c))
    bl = _pos_slice(batch_slice, None)
    d_model = c.model.cfg.d_model
    require(stack.dim() >= 2 and stack.shape[-1] == d_model,
            f"residual_stack must be [components, ..., d_model={d_model}], got shape {list(stack.shape)}")
    out = _tl_call("apply_ln_to_stack", lambda: c.apply_ln_to_stack(
        stack, layer=layer, mlp_input=mlp_input, pos_slice=sl, batch_slice=bl, has_batch_dim=has_batch_dim, recompute_ln=recompute_ln))
    return {"stack": out}


def _token_arg(s: Session, model: Any, tokens: Any) -> Any:
    """Tokens for logit_attrs: a text, an id, a list of texts/ids or a tensor, as TL accepts them."""
    if isinstance(tokens, (str, int)) and not isinstance(tokens, bool):
        return _token_id(s, model, tokens)
    if isinstance(tokens, list):
        return torch.tensor([_token_id(s, model, t) for t in tokens], dtype=torch.int64)
    t = as_tensor(tokens)
    require(not t.is_floating_point(), "tokens must be integer token ids")
    return t.to(torch.int64)


@op("analysis.logit_attrs")
def logit_attrs(
    s: Session, cache: Any, residual_stack: Any, tokens: Any, incorrect_tokens: Any = None,
    pos_slice: Any = None, batch_slice: Any = None, has_batch_dim: bool = True,
) -> dict[str, Any]:
    c = _cache(cache)
    stack = as_tensor(residual_stack)
    tok = _token_arg(s, c.model, tokens)
    bad = None if incorrect_tokens is None else _token_arg(s, c.model, incorrect_tokens)
    sl = _pos_slice(pos_slice, _cache_n_pos(c))
    bl = _pos_slice(batch_slice, None)
    attrs = _tl_call("logit_attrs", lambda: c.logit_attrs(
        stack, tokens=tok, incorrect_tokens=bad, pos_slice=sl, batch_slice=bl, has_batch_dim=has_batch_dim))
    return {"attrs": attrs}


@op("analysis.get_full_resid_decomposition")
def get_full_resid_decomposition(
    s: Session, cache: Any, layer: int | None = None, mlp_input: bool = False, expand_neurons: bool = True,
    apply_ln: bool = False, pos_slice: Any = None,
) -> dict[str, Any]:
    c = _cache(cache)
    layer = _cache_layer(c, layer)
    sl = _pos_slice(pos_slice, _cache_n_pos(c))
    stack, labels = _tl_call("get_full_resid_decomposition", lambda: c.get_full_resid_decomposition(
        layer=layer, mlp_input=mlp_input, expand_neurons=expand_neurons, apply_ln=apply_ln, pos_slice=sl, return_labels=True))
    return {"stack": stack, "labels": labels}


DLA_BY = ("layer", "head", "component", "accumulated")


@op("analysis.logit_diff_attribution")
def logit_diff_attribution(
    s: Session, model: Any, cache: Any, answers: Any, by: str = "layer", position: int = -1,
    incl_mid: bool | None = None,
) -> dict[str, Any]:
    """Seed 001's direct logit attribution of the logit difference.

    ``residual_stack_to_logit_diff``: ``einsum("... batch d, batch d -> ...",
    cache.apply_ln_to_stack(stack, layer=-1, pos_slice=position), logit_diff_directions) / batch``
    with ``logit_diff_directions = tokens_to_residual_directions(correct) - (incorrect)``.
    Stacks by ``by``: "layer" = decompose_resid (embed, pos_embed, L_attn_out, L_mlp_out),
    "head" = stack_head_results (result [layer, head]), "component" =
    get_full_resid_decomposition(expand_neurons=False), "accumulated" =
    accumulated_resid(incl_mid=...) (the seed's logit lens; ``incl_mid`` defaults to True where
    the blocks have a resid_mid, False where attention and MLP run in parallel).

    DLA is linear in the residual: on a model with a post-unembedding transform (Gemma 2's
    final logit soft-cap) ``logit_diff`` is the difference before it, not the model's output;
    the result names the transform (``output_transform``).
    """
    c = _cache(cache)
    require(by in DLA_BY, f"by must be one of {list(DLA_BY)}, got {by!r}")
    n_pos = _cache_n_pos(c)
    require(c.has_batch_dim, "logit_diff_attribution needs a cache with a batch dimension")
    require(isinstance(position, int) and n_pos is not None and -n_pos <= position < n_pos,
            f"position {position} is out of range for a sequence of {n_pos} tokens")
    batch = c["hook_embed"].shape[0] if "hook_embed" in c.cache_dict else c["resid_pre", 0].shape[0]
    pairs = _answer_pairs(s, model, answers, batch)
    directions = model.tokens_to_residual_directions(pairs)
    logit_diff_directions = directions[:, 0] - directions[:, 1]
    if by == "layer":
        stack, labels = _tl_call("decompose_resid", lambda: c.decompose_resid(layer=-1, pos_slice=position, return_labels=True))
    elif by == "head":
        stack, labels = _tl_call("stack_head_results", lambda: c.stack_head_results(layer=-1, pos_slice=position, return_labels=True))
    elif by == "component":
        stack, labels = _tl_call("get_full_resid_decomposition", lambda: c.get_full_resid_decomposition(
            layer=-1, expand_neurons=False, pos_slice=position, return_labels=True))
    else:
        mid = _has_resid_mid(model) if incl_mid is None else incl_mid
        require(not mid or _has_resid_mid(model), "incl_mid=True needs resid_mid, which this model's blocks do not have "
                                                  "(attention and MLP run in parallel); use incl_mid=False or leave it unset")
        stack, labels = _tl_call("accumulated_resid", lambda: c.accumulated_resid(
            layer=-1, incl_mid=mid, pos_slice=position, return_labels=True))
    scaled = c.apply_ln_to_stack(stack, layer=-1, pos_slice=position)
    attributions = torch.einsum("...bd,bd->...", scaled, logit_diff_directions) / batch
    per_prompt = torch.einsum("cbd,bd->cb", scaled, logit_diff_directions)
    final = c.apply_ln_to_stack(c["resid_post", model.cfg.n_layers - 1][:, position][None], layer=-1, pos_slice=position)[0]
    result: dict[str, Any] = {
        "by": by,
        "labels": labels,
        "attributions": attributions,
        "per_prompt": per_prompt,
        "logit_diff": (torch.einsum("bd,bd->", final, logit_diff_directions) / batch).item(),
        "answer_token_ids": pairs.tolist(),
        "output_transform": _output_transform(model)[1],  # applied after the unembedding by the model, not in DLA
    }
    if by == "accumulated":
        result["incl_mid"] = mid
    if by == "head":
        result["attributions"] = attributions.reshape(model.cfg.n_layers, model.cfg.n_heads)
        result["layers"] = list(range(model.cfg.n_layers))
        result["heads"] = list(range(model.cfg.n_heads))
    return result


# ---------------------------------------------------------------------------------------
# Head detector (transformer_lens.head_detector; seeds 000, 001, 004)
# ---------------------------------------------------------------------------------------

HEAD_PATTERNS = ("previous_token_head", "duplicate_token_head", "induction_head")


def _pattern_names(model: Any) -> list[str]:
    return [get_act_name("pattern", l) for l in range(model.cfg.n_layers)]


def _patterns(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """Attention patterns of every layer, [layer, batch, head, q, k], from one forward pass."""
    names = _pattern_names(model)
    wanted = set(names)
    _, cache = model.run_with_cache(tokens, names_filter=lambda n: n in wanted, return_type=None)
    return torch.stack([cache[n] for n in names])


def _sequences(model: Any, input: Any, prepend_bos: bool | None) -> list[torch.Tensor]:
    """Each sequence's own tokens, [pos]: a string or each string of a list, or each row of a token tensor."""
    if isinstance(input, str):
        input = [input]
    if isinstance(input, list) and input and all(isinstance(x, str) for x in input):
        return [model.to_tokens(x, prepend_bos=prepend_bos)[0] for x in input]
    require(not (isinstance(input, list) and not input), "the input is empty: give a prompt, prompts or tokens")
    return list(tokens_of(model, as_tensor(input), prepend_bos))


@op("analysis.detect_head")
def detect_head(
    s: Session, model: Any, input: Any, pattern: Any, heads: list | None = None, exclude_bos: bool = False,
    exclude_current_token: bool = False, error_measure: str = "mul", prepend_bos: bool | None = None,
) -> dict[str, Any]:
    """transformer_lens.head_detector.detect_head, all heads from one forward pass per sequence length.

    ``pattern``: "previous_token_head", "duplicate_token_head", "induction_head", or a custom
    [pos, pos] lower-triangular tensor (every sequence must then have that length). Several
    sequences: the mean of the per-sequence score grids (as TransformerLens does for a list).
    Heads outside ``heads`` score -1, as in TransformerLens.
    """
    require(error_measure in ("mul", "abs"), f"error_measure must be 'mul' or 'abs', got {error_measure!r}")
    from transformer_lens import head_detector as hd

    custom = None
    if isinstance(pattern, str):
        require(pattern in HEAD_PATTERNS, f"unknown head pattern {pattern!r}; valid: {list(HEAD_PATTERNS)} or a [pos, pos] tensor")
    else:
        custom = as_tensor(pattern).float()
        require(custom.dim() == 2 and custom.shape[0] == custom.shape[1],
                f"a custom detection pattern must be a square [pos, pos] matrix, got shape {list(custom.shape)}")
        require(bool(torch.equal(custom, torch.tril(custom))), "a custom detection pattern must be lower triangular (no attention to later tokens)")
    seqs = _sequences(model, input, prepend_bos)
    n_ctx = model.cfg.n_ctx
    for seq in seqs:
        require(1 < seq.shape[0] < n_ctx, f"each sequence must have 2..{n_ctx - 1} tokens, got {seq.shape[0]}")
        if custom is not None:
            require(seq.shape[0] == custom.shape[0],
                    f"the detection pattern is {custom.shape[0]}x{custom.shape[0]} but a sequence has {seq.shape[0]} tokens", "shape_mismatch")
    selected = _heads(model, heads)
    mask = torch.zeros(model.cfg.n_layers, model.cfg.n_heads, dtype=torch.bool)
    for l, h in selected:
        mask[l, h] = True

    # Sequences of one length share a forward pass; scores are per sequence, then averaged.
    scores: list[torch.Tensor | None] = [None] * len(seqs)
    by_len: dict[int, list[int]] = {}
    for i, seq in enumerate(seqs):
        by_len.setdefault(seq.shape[0], []).append(i)
    for idx in by_len.values():
        patterns = _patterns(model, torch.stack([seqs[i] for i in idx]))  # [layer, b, head, q, k]
        for j, i in enumerate(idx):
            det = custom if custom is not None else getattr(hd, f"get_{pattern}_detection_pattern")(seqs[i].cpu())
            scores[i] = _head_scores(patterns[:, j], det.to(patterns.device), exclude_bos, exclude_current_token, error_measure)
    grid = torch.stack(scores).mean(0) if len(scores) > 1 else scores[0]
    grid = torch.where(mask.to(grid.device), grid, torch.full_like(grid, -1.0))
    return {
        "scores": grid.to(model.cfg.dtype),
        "layers": list(range(model.cfg.n_layers)),
        "heads": list(range(model.cfg.n_heads)),
        "pattern": pattern if isinstance(pattern, str) else "custom",
        "n_sequences": len(seqs),
    }


def _head_scores(patterns: torch.Tensor, det: torch.Tensor, exclude_bos: bool, exclude_current: bool, measure: str) -> torch.Tensor:
    """compute_head_attention_similarity_score for every head at once: [layer, head, q, k] -> [layer, head]."""
    if measure == "mul":
        if exclude_bos or exclude_current:
            patterns = patterns.clone()
        if exclude_bos:
            patterns[..., :, 0] = 0
        if exclude_current:
            patterns.diagonal(dim1=-2, dim2=-1).zero_()
        return (patterns * det).sum((-2, -1)) / patterns.sum((-2, -1))
    abs_diff = (patterns - det).abs()
    size = abs_diff.shape[-1]
    if exclude_bos:
        abs_diff[..., :, 0] = 0
    if exclude_current:
        abs_diff.diagonal(dim1=-2, dim2=-1).zero_()
    # TransformerLens rounds each head's score to 3 decimals with Python's round.
    means = abs_diff.flatten(-2).mean(-1) * size
    return torch.tensor([[1 - round(v, 3) for v in row] for row in means.tolist()], dtype=patterns.dtype, device=patterns.device)


@op("analysis.repeated_random_tokens")
def repeated_random_tokens(
    s: Session, model: Any, seq_len: int, batch: int = 1, seed: int = 0, low: int = 100, high: int = 20000,
    prepend_bos: bool = True,
) -> dict[str, Any]:
    """Seeds 001/004: ``randint(low, high, (batch, seq_len))`` repeated twice, here with a seeded
    torch.Generator and BOS in front (``prepend_bos``). ``high`` is capped at the vocabulary size."""
    require(isinstance(seq_len, int) and seq_len >= 1, f"seq_len must be a positive integer, got {seq_len!r}")
    require(isinstance(batch, int) and batch >= 1, f"batch must be a positive integer, got {batch!r}")
    high = min(high, model.cfg.d_vocab)
    require(0 <= low < high, f"token range [{low}, {high}) is empty (vocabulary size {model.cfg.d_vocab})")
    total = 2 * seq_len + (1 if prepend_bos else 0)
    require(total <= model.cfg.n_ctx, f"2 * seq_len{' + 1 (BOS)' if prepend_bos else ''} = {total} exceeds the model's context of {model.cfg.n_ctx}")
    gen = torch.Generator().manual_seed(seed)
    original = torch.randint(low, high, (batch, seq_len), generator=gen)
    tokens = torch.cat([original, original], dim=1)
    if prepend_bos:
        bos = model.tokenizer.bos_token_id
        require(bos is not None, "the tokenizer has no BOS token; use prepend_bos=false")
        tokens = torch.cat([torch.full((batch, 1), bos, dtype=tokens.dtype), tokens], dim=1)
    return {"tokens": tokens.to(_device(model)), "seq_len": seq_len, "prepend_bos": prepend_bos}


@op("analysis.repeated_token_scores")
def repeated_token_scores(s: Session, model: Any, tokens: Any, seq_len: int) -> dict[str, Any]:
    """Seed 001's previous-token, duplicate-token and induction scores on repeated tokens:
    the mean over batch and diagonal of ``pattern.diagonal(offset=k, dim1=-1, dim2=-2)`` with
    k = 1, seq_len and seq_len - 1, from one forward pass."""
    t = tokens_of(model, tokens)
    require(isinstance(seq_len, int) and 1 <= seq_len < t.shape[1], f"seq_len must be in [1, {t.shape[1] - 1}], got {seq_len!r}")
    patterns = _patterns(model, t)  # [layer, batch, head, q, k]
    out = {}
    for name, offset in (("previous_token", 1), ("duplicate_token", seq_len), ("induction", seq_len - 1)):
        out[name] = patterns.diagonal(offset=offset, dim1=-1, dim2=-2).mean(dim=(1, 3))
    out.update(layers=list(range(model.cfg.n_layers)), heads=list(range(model.cfg.n_heads)))
    return out


@op("analysis.induction_scores")
def induction_scores(s: Session, model: Any, prompts: Any, prepend_bos: bool | None = None) -> dict[str, Any]:
    """Seed 000's per-question induction score: the prompts are tokenized together (right
    padding, as ``model.to_tokens(questions)``), ``length`` is that padded length, and each
    prompt's score per head is the mean of ``pattern.diagonal(dim1=-2, dim2=-1, offset=1 - length // 2)``.
    One forward pass for the batch (right padding does not change the earlier positions)."""
    tokens = tokens_of(model, prompts, prepend_bos)
    length = tokens.shape[1]
    require(length >= 2, "induction scores need prompts of at least 2 tokens")
    offset = 1 - length // 2
    patterns = _patterns(model, tokens)  # [layer, batch, head, q, k]
    scores = patterns.diagonal(dim1=-2, dim2=-1, offset=offset).mean(-1).permute(1, 0, 2)  # [batch, layer, head]
    flat = scores.flatten(1).argmax(-1)
    n_heads = model.cfg.n_heads
    return {
        "scores": scores,
        "max_layer": (flat // n_heads).tolist(),
        "max_head": (flat % n_heads).tolist(),
        "max_score": scores.flatten(1).max(-1).values.tolist(),
        "offset": offset,
        "length": length,
        "layers": list(range(model.cfg.n_layers)),
        "heads": list(range(n_heads)),
    }


# ---------------------------------------------------------------------------------------
# Steering and activation datasets (seed 003)
# ---------------------------------------------------------------------------------------

DATASET_HOOKS = ("ln2.hook_normalized", "resid_pre", "resid_mid", "resid_post")


def _demarcation_id(s: Session, model: Any, demarcation: Any) -> int:
    # The seed takes the last token of the encoded string: tokenizer.encode(" :")[-1].
    if isinstance(demarcation, str):
        require(demarcation != "", "demarcation must be a non-empty string or a token id")
        return int(model.to_tokens(demarcation, prepend_bos=False)[0, -1])
    return _token_id(s, model, demarcation, "demarcation")


@op("analysis.activation_dataset")
def activation_dataset(
    s: Session, model: Any, prompt_pairs: list[list[str]], demarcation: Any, layers: list[int] | None = None,
    offset: int = 1, hook: str = "ln2.hook_normalized",
) -> dict[str, Any]:
    """Seed 003's ``crate_activation_dataset``: for each prompt, the activation at every layer
    of the token ``offset`` after the first demarcation token (seed: ``tokens[:pos + 2]``,
    last position, ``blocks.L.ln2.hook_normalized``). ``hook`` may instead be resid_pre,
    resid_mid or resid_post. All prompts run in one right-padded batch: under causal
    attention the padding after the read position changes nothing there.
    Returns a, b: [pairs, layers, d_model]."""
    require(isinstance(prompt_pairs, list) and prompt_pairs, "prompt_pairs must be a non-empty list of [a, b] prompt pairs")
    for i, pair in enumerate(prompt_pairs):
        require(isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair),
                f"prompt_pairs[{i}] must be a pair of two prompt strings, got {pair!r}")
    require(hook in DATASET_HOOKS, f"unknown hook {hook!r}; valid: {list(DATASET_HOOKS)}")
    require(isinstance(offset, int) and offset >= 0, f"offset must be an integer >= 0, got {offset!r}")
    dem = _demarcation_id(s, model, demarcation)
    layer_ids = _layer_list(layers, model.cfg.n_layers)
    names = [f"blocks.{l}.{hook}" if "." in hook else get_act_name(hook, l) for l in layer_ids]
    check_hook_names(model, names)
    prompts = [p for pair in prompt_pairs for p in pair]
    per_prompt = [model.to_tokens(p)[0] for p in prompts]
    read_at = []
    for i, toks in enumerate(per_prompt):
        ids = toks.tolist()
        if dem not in ids:
            raise LensError(f"the demarcation token {model.tokenizer.decode([dem])!r} (id {dem}) is not in prompt {prompts[i]!r}, "
                            f"whose tokens are {list(model.to_str_tokens(toks))}")
        p = ids.index(dem) + offset
        require(p < len(ids), f"prompt {prompts[i]!r} has no token {offset} after its demarcation token")
        read_at.append(p)
    tokens = tokens_of(model, prompts, padding_side="right")
    wanted = set(names)
    _, cache = model.run_with_cache(tokens, names_filter=lambda n: n in wanted, return_type=None)
    rows = torch.arange(len(prompts), device=tokens.device)
    cols = torch.tensor(read_at, device=tokens.device)
    acts = torch.stack([cache[n][rows, cols] for n in names], dim=1)  # [prompts, layers, d_model]
    return {
        "a": acts[0::2],
        "b": acts[1::2],
        "layers": layer_ids,
        "hook": hook,
        "demarcation_id": dem,
        "positions_a": read_at[0::2],
        "positions_b": read_at[1::2],
    }


@op("analysis.steering_vector")
def steering_vector(s: Session, a: Any, b: Any, layer: int | None = None) -> dict[str, Any]:
    """Mean difference of paired activations, ``(a - b).mean(0)``: [layers, d_model], or [d_model]
    at one row of the layer axis. Apply it with the hooks area's "add" action."""
    ta, tb = as_tensor(a), as_tensor(b)
    if ta.shape != tb.shape:
        raise LensError(f"a and b must have the same shape, got {list(ta.shape)} and {list(tb.shape)}", "shape_mismatch")
    require(ta.dim() >= 2, f"activations must be [pairs, ..., d_model], got shape {list(ta.shape)}")
    vec = (ta - tb).mean(0)
    if layer is not None:
        require(vec.dim() == 2, "layer selects a row of [pairs, layers, d_model] activations; these have no layer axis")
        (row,) = _layer_list(layer, vec.shape[0], "layer")
        vec = vec[row]
    return {"vector": vec, "norm": vec.norm(dim=-1)}


@op("analysis.pca2")
def pca2(s: Session, a: Any, b: Any, layers: list[int] | None = None) -> dict[str, Any]:
    """Seed 003's 2-component PCA of a and b ([n, layers, d_model]) per layer, fitted on both.

    Exact SVD of the centered data (torch.linalg.svd) rather than torch.pca_lowrank: the
    data is small (hundreds of rows), so the exact decomposition is cheap, deterministic and
    equal to sklearn's PCA up to sign; pca_lowrank is randomized and approximate. Each
    component's sign is fixed so that its largest-magnitude entry is positive.
    Separability (the seed only plots): the training accuracy of a mean-difference linear
    classifier (nearest class mean, boundary halfway between the means) in the 2-D PCA
    plane (``accuracy_pca``) and in the full space (``accuracy_full``).
    """
    ta, tb = as_tensor(a).float(), as_tensor(b).float()
    if ta.dim() == 2:
        ta, tb = ta[:, None], tb[:, None]
    require(ta.dim() == 3 and tb.dim() == 3, f"a and b must be [n, layers, d_model] (or [n, d_model]), got {list(ta.shape)} and {list(tb.shape)}")
    if ta.shape[1:] != tb.shape[1:]:
        raise LensError(f"a and b must agree in layers and d_model, got {list(ta.shape)} and {list(tb.shape)}", "shape_mismatch")
    require(ta.shape[0] + tb.shape[0] >= 2 and ta.shape[0] >= 1 and tb.shape[0] >= 1, "PCA needs at least one activation in a and one in b")
    rows = _layer_list(layers, ta.shape[1])
    n_a = ta.shape[0]
    comps, proj_a, proj_b, ratios, means, acc_pca, acc_full = [], [], [], [], [], [], []
    for l in rows:
        x = torch.cat([ta[:, l], tb[:, l]])
        mean = x.mean(0)
        centered = x - mean
        _, sv, vh = torch.linalg.svd(centered, full_matrices=False)
        k = min(2, vh.shape[0])
        c = vh[:k]
        flip = torch.sign(c.gather(1, c.abs().argmax(1, keepdim=True)))
        c = c * torch.where(flip == 0, torch.ones_like(flip), flip)
        if k < 2:  # one sample in all: pad the missing component with zeros
            c = torch.cat([c, torch.zeros(2 - k, c.shape[1])])
        p = centered @ c.T
        var = sv ** 2
        ratio = var[:2] / var.sum() if var.sum() > 0 else torch.zeros(min(2, var.numel()))
        comps.append(c)
        proj_a.append(p[:n_a])
        proj_b.append(p[n_a:])
        ratios.append(torch.nn.functional.pad(ratio, (0, 2 - ratio.numel())))
        means.append(mean)
        acc_pca.append(_mean_difference_accuracy(p[:n_a], p[n_a:]))
        acc_full.append(_mean_difference_accuracy(ta[:, l], tb[:, l]))
    return {
        "layers": rows,
        "components": torch.stack(comps),
        "projections_a": torch.stack(proj_a),
        "projections_b": torch.stack(proj_b),
        "explained_variance_ratio": torch.stack(ratios),
        "mean": torch.stack(means),
        "accuracy_pca": torch.tensor(acc_pca),
        "accuracy_full": torch.tensor(acc_full),
    }


def _mean_difference_accuracy(xa: torch.Tensor, xb: torch.Tensor) -> float:
    """Fraction classified right by sign((x - midpoint) . (mean_a - mean_b))."""
    ma, mb = xa.mean(0), xb.mean(0)
    w = ma - mb
    mid = (ma + mb) / 2
    right = ((xa - mid) @ w > 0).sum() + ((xb - mid) @ w < 0).sum()
    return right.item() / (xa.shape[0] + xb.shape[0])


# ---------------------------------------------------------------------------------------
# Ablation (seed 004): zero / mean / resample ablation of each head's z, batched
# ---------------------------------------------------------------------------------------

ABLATIONS = ("zero", "mean", "resample")
MEAN_OVER = ("batch", "d_head")
MAX_ROWS = 64  # rows (prompts x variants) per forward pass unless batch_size says otherwise


def _scalar(value: Any) -> float:
    if isinstance(value, torch.Tensor):
        require(value.numel() == 1, f"the ablation metric must give one number per run, got shape {list(value.shape)}; "
                                    "use a metric that averages over prompts")
        return value.item()
    return float(value)


class _Ablation:
    """The clean and corrupted runs that every method shares, and the batched sweep."""

    def __init__(self, s: Session, model: Any, clean: Any, corrupted: Any, answers: Any, positions: Any,
                 heads: Any, metric: dict | None, prepend_bos: bool | None, batch_size: int | None,
                 positions_per_prompt: Any = None) -> None:
        from ..metrics import last_positions_of, metric_from_spec

        self.s, self.model = s, model
        self.clean_tokens = tokens_of(model, clean, prepend_bos)
        self.corrupted_tokens = tokens_of(model, corrupted, prepend_bos)
        if self.clean_tokens.shape != self.corrupted_tokens.shape:
            raise LensError(f"clean and corrupted inputs must have the same [batch, pos] shape, got {list(self.clean_tokens.shape)} "
                            f"and {list(self.corrupted_tokens.shape)}; pad or choose prompts of equal token length", "shape_mismatch")
        require(answers is not None or metric is not None, "give answers ([[correct, incorrect], ...]) or a metric spec")
        self.batch, n_pos = self.corrupted_tokens.shape
        self.positions = _positions(positions, n_pos)
        # On a right-padded batch "the last position" is each prompt's last real token, as the metric
        # reads it: [batch][k] rows of positions for the corrupted run, and for the clean run whose z
        # mean and resample read (its prompts may pad differently).
        corrupted_last = last_positions_of(model, corrupted, self.corrupted_tokens, prepend_bos)
        clean_last = last_positions_of(model, clean, self.clean_tokens, prepend_bos)
        self.rows = _row_positions(positions, positions_per_prompt, corrupted_last, n_pos)
        self.clean_rows = _row_positions(positions, positions_per_prompt, clean_last, n_pos)
        self.heads = _heads(model, heads)
        require(batch_size is None or (isinstance(batch_size, int) and batch_size >= 1), f"batch_size must be a positive integer, got {batch_size!r}")
        self.variants_per_pass = max(1, (batch_size or MAX_ROWS) // self.batch)
        names = [get_act_name("z", l) for l in sorted({l for l, _ in self.heads})]
        wanted = set(names)
        clean_logits, cache = model.run_with_cache(self.clean_tokens, names_filter=lambda n: n in wanted)
        corrupted_logits = model(self.corrupted_tokens)
        self.clean_z = {n: cache[n] for n in names}
        # The metrics area's spec: seed 004's mean logit difference unless a metric is given.
        spec = metric if metric is not None else {"type": "logit_diff", "answers": answers}
        self.prenormalized = isinstance(spec, dict) and spec.get("type") == "normalized"
        self.metric = metric_from_spec(
            s, model, spec, self.corrupted_tokens,
            last_positions=last_positions_of(model, corrupted, self.corrupted_tokens, prepend_bos),
            clean_logits=clean_logits, corrupted_logits=corrupted_logits)
        if self.prenormalized:
            self.clean_metric, self.corrupted_metric = _scalar(self.metric.clean), _scalar(self.metric.corrupted)
        else:
            self.clean_metric, self.corrupted_metric = _scalar(self.metric(clean_logits)), _scalar(self.metric(corrupted_logits))

    def values(self, method: str, layer: int, head: int, seed: int | None, mean_over: str) -> torch.Tensor | float:
        """What replaces z[:, positions, head] of the corrupted run: [batch, n_pos, d_head] or a broadcastable tensor."""
        if method == "zero":
            return 0.0
        clean_z = self.clean_z[get_act_name("z", layer)]
        index = torch.tensor(self.clean_rows, device=clean_z.device)  # [batch, k]
        z = clean_z[torch.arange(self.batch, device=clean_z.device)[:, None], index, head, :]  # [batch, k, d_head]
        if method == "resample":
            if seed is None:
                return z  # seed 004: each corrupted prompt gets its own clean prompt's activation
            perm = torch.randperm(self.batch, generator=torch.Generator().manual_seed(seed)).to(z.device)
            return z[perm]
        if mean_over == "batch":
            return z.mean(dim=0, keepdim=True)
        return z.mean(dim=-1, keepdim=True)  # seed 004's literal `.mean(dim=1, keepdim=True)` over d_head

    def sweep(self, method: str, seed: int | None, mean_over: str, progress: tuple[int, int]) -> torch.Tensor:
        n_layers, n_heads = self.model.cfg.n_layers, self.model.cfg.n_heads
        grid = torch.full((n_layers, n_heads), float("nan"))
        by_layer: dict[int, list[int]] = {}
        for l, h in self.heads:
            by_layer.setdefault(l, []).append(h)
        done, total = progress
        for layer, heads in sorted(by_layer.items()):
            for start in range(0, len(heads), self.variants_per_pass):
                chunk = heads[start:start + self.variants_per_pass]
                for h, value in zip(chunk, self._run_chunk(method, layer, chunk, seed, mean_over)):
                    grid[layer, h] = value
                done += len(chunk)
                self.s.progress(done, total, f"{method} ablation, layer {layer}")
        return grid

    def _run_chunk(self, method: str, layer: int, heads: list[int], seed: int | None, mean_over: str) -> list[float]:
        k, b = len(heads), self.batch
        values = [self.values(method, layer, h, seed, mean_over) for h in heads]
        rows = torch.tensor(self.rows)  # [batch, k]: each prompt's own positions

        def ablate(z: torch.Tensor, hook: Any) -> torch.Tensor:
            # Variant j occupies rows j*b .. (j+1)*b - 1 and has head heads[j] ablated.
            prompt = torch.arange(b, device=z.device)
            for j, (h, v) in enumerate(zip(heads, values)):
                for i in range(rows.shape[1]):
                    pos = rows[:, i].to(z.device)
                    z[j * b + prompt, pos, h, :] = v if isinstance(v, float) else v[:, i].expand(b, -1)
            return z

        tokens = self.corrupted_tokens.repeat(k, 1)
        logits = self.model.run_with_hooks(tokens, fwd_hooks=[(get_act_name("z", layer), ablate)])
        return [_scalar(self.metric(logits[j * b:(j + 1) * b])) for j in range(k)]

    def normalize(self, grid: torch.Tensor) -> torch.Tensor:
        if self.prenormalized:  # a "normalized" metric spec already did it
            return grid
        denom = self.clean_metric - self.corrupted_metric
        if denom == 0:
            raise LensError("the clean and corrupted runs give the same metric value, so the normalized metric "
                            "(patched - corrupted) / (clean - corrupted) is undefined; choose inputs that differ")
        return (grid - self.corrupted_metric) / denom


def _row_positions(positions: list[int], per_prompt: Any, last: list[int], n_pos: int) -> list[list[int]]:
    """Each prompt's positions as non-negative indices. Negative positions count back from that
    prompt's last real token (its own end under right padding), so -1 is where the metric reads;
    non-negative ones are the same column for every prompt. ``per_prompt`` (one list per prompt,
    all of one length) replaces ``positions``."""
    batch = len(last)
    if per_prompt is None:
        per_prompt = [positions] * batch
    require(isinstance(per_prompt, list) and len(per_prompt) == batch,
            f"positions_per_prompt needs one list of positions per prompt ({batch}), got "
            f"{len(per_prompt) if isinstance(per_prompt, list) else type(per_prompt).__name__}", "shape_mismatch")
    rows = []
    for i, ps in enumerate(per_prompt):
        ps = [ps] if isinstance(ps, int) else ps
        require(isinstance(ps, list) and ps and all(isinstance(p, int) and not isinstance(p, bool) for p in ps),
                f"positions of prompt {i} must be a non-empty list of integers, got {ps!r}")
        length = last[i] + 1
        row = []
        for p in ps:
            require(-length <= p < n_pos, f"position {p} of prompt {i} is out of range: the prompt has {length} real tokens "
                                          f"(valid: {-length}..{length - 1}; padded length {n_pos})")
            row.append(p + length if p < 0 else p)
        rows.append(row)
    require(len({len(r) for r in rows}) == 1, "every prompt needs the same number of positions; got " + str([len(r) for r in rows]),
            "shape_mismatch")
    return rows


def _check_method(method: str, mean_over: str) -> None:
    require(method in ABLATIONS, f"unknown ablation method {method!r}; valid: {list(ABLATIONS)}")
    require(mean_over in MEAN_OVER, f"mean_over must be one of {list(MEAN_OVER)}, got {mean_over!r}")


def _ablation_labels(ab: _Ablation) -> dict[str, Any]:
    cfg = ab.model.cfg
    return {
        "layers": list(range(cfg.n_layers)),
        "heads": list(range(cfg.n_heads)),
        "positions": ab.positions,
        "positions_per_prompt": ab.rows,
        "clean_metric": ab.clean_metric,
        "corrupted_metric": ab.corrupted_metric,
    }


@op("analysis.ablate_heads")
def ablate_heads(
    s: Session, model: Any, clean: Any, corrupted: Any, answers: Any = None, method: str = "zero",
    positions: list[int] | None = None, heads: list | None = None, seed: int | None = None,
    mean_over: str = "batch", metric: dict | None = None, normalize: bool = True,
    prepend_bos: bool | None = None, batch_size: int | None = None, positions_per_prompt: list | None = None,
) -> dict[str, Any]:
    """Seed 004: run ``corrupted`` with one head's z replaced at ``positions`` (default the
    last), for every head, and score it with the normalized logit difference
    ``(ablated - corrupted) / (clean - corrupted)``.

    Methods: "zero" (z = 0), "mean" (the clean batch's mean z at that position; ``mean_over=
    "d_head"`` reproduces the seed's literal ``.mean(dim=1)``, a mean over d_head), "resample"
    (each prompt gets the clean run's z, as the seed's ``patch_head_vector``; with ``seed`` the
    clean prompts are drawn by a seeded permutation). The ablated variants run stacked along
    the batch axis, ``batch_size`` rows per forward pass. The metric is the metrics area's
    ``{"type": "logit_diff", "answers": answers}`` (at each prompt's last token, averaged
    over prompts: the seed's logits_to_ave_logit_diff) unless ``metric`` gives another spec;
    a "normalized" spec is used as it is, any other is normalized here unless
    ``normalize=False``. Returns ``scores`` [layer, head] (NaN for heads not asked).
    """
    _check_method(method, mean_over)
    ab = _Ablation(s, model, clean, corrupted, answers, [-1] if positions is None else positions, heads, metric, prepend_bos, batch_size,
                   positions_per_prompt)
    grid = ab.sweep(method, seed, mean_over, (0, len(ab.heads)))
    scores = ab.normalize(grid) if normalize else grid
    return {"scores": scores, "method": method, "normalized": normalize or ab.prenormalized, **_ablation_labels(ab)}


@op("analysis.ablation_comparison")
def ablation_comparison(
    s: Session, model: Any, clean: Any, corrupted: Any, answers: Any = None,
    methods: list[str] | None = None, positions: list[int] | None = None, heads: list | None = None,
    seed: int | None = None, mean_over: str = "batch", metric: dict | None = None,
    categories: dict[str, list] | None = None, prepend_bos: bool | None = None, batch_size: int | None = None, positions_per_prompt: list | None = None,
) -> dict[str, Any]:
    """Seed 004's side-by-side comparison: ``ablate_heads`` under each method (default
    resample, zero, mean) sharing one clean and one corrupted run; ``scores`` is
    [method, layer, head]. With ``categories`` ({name: [[layer, head], ...]}) it adds the
    seed's ``count_procentage_difference`` of each method against resample per category."""
    methods = list(methods or ["resample", "zero", "mean"])  # the seed's order
    for m in methods:
        _check_method(m, mean_over)
    ab = _Ablation(s, model, clean, corrupted, answers, [-1] if positions is None else positions, heads, metric, prepend_bos, batch_size,
                   positions_per_prompt)
    total = len(ab.heads) * len(methods)
    grids = [ab.normalize(ab.sweep(m, seed, mean_over, (i * len(ab.heads), total))) for i, m in enumerate(methods)]
    scores = torch.stack(grids)
    result: dict[str, Any] = {"scores": scores, "methods": methods, **_ablation_labels(ab)}
    if categories is not None:
        require("resample" in methods, "categories compare each method with resample ablation: include 'resample' in methods")
        require(isinstance(categories, dict), "categories must map a name to a list of [layer, head] pairs")
        ref = scores[methods.index("resample")]
        table = {}
        for name, entries in categories.items():
            pairs = _heads(model, entries)
            r = [ref[l, h].item() for l, h in pairs]
            table[name] = {m: _percentage_difference(r, [scores[i][l, h].item() for l, h in pairs])
                           for i, m in enumerate(methods) if m != "resample"}
        result["category_difference"] = table
    return result


def _percentage_difference(a: Sequence[float], b: Sequence[float]) -> int:
    """Seed 004's count_procentage_difference: int(sum(|b/a| for a > 0.05) / len(a) * 100)."""
    c = torch.tensor([abs(bi / ai) for bi, ai in zip(b, a) if ai > 0.05])
    return int((c.sum() / len(a) * 100).item())
