"""Direct logit attribution: ActivationCache methods on a cache handle, and seed 001's DLA.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from transformer_lens.ActivationCache import ActivationCache
from transformer_lens.utilities import Slice

from ...errors import LensError, int_range, require
from ...session import Session
from .. import op
from ..tensor import as_tensor
from .common import _answer_pairs, _has_resid_mid, _output_transform, _token_id


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
            require(-n_pos <= i < n_pos, f"position {i} is out of range for a sequence of {n_pos} tokens (valid: {-n_pos}..{n_pos - 1})",
                    argument="pos_slice", got=i, valid=int_range(-n_pos, n_pos - 1))
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
            f"layer {layer} is out of range: valid 0..{top}, or -1 / null for the unembed (all layers)", argument="layer",
            got=layer, valid=int_range(0, top))
    return layer


def _tl_call(what: str, fn: Callable[[], Any]) -> Any:
    """Call TransformerLens; its assertion and lookup failures become LensErrors naming the call."""
    try:
        return fn()
    except LensError:
        raise
    except (AssertionError, KeyError, ValueError, IndexError, RuntimeError) as e:
        raise LensError(f"{what} failed: {type(e).__name__}: {e}") from e


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
    require(mode in ("all", "mlp", "attn"), f"mode must be 'all', 'mlp' or 'attn', got {mode!r}", argument="mode", got=mode,
            valid=["all", "mlp", "attn"])
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
    require(by in DLA_BY, f"by must be one of {list(DLA_BY)}, got {by!r}", argument="by", got=by, valid=list(DLA_BY))
    n_pos = _cache_n_pos(c)
    require(c.has_batch_dim, "logit_diff_attribution needs a cache with a batch dimension")
    require(isinstance(position, int) and n_pos is not None and -n_pos <= position < n_pos,
            f"position {position} is out of range for a sequence of {n_pos} tokens", argument="position", got=position,
            valid=int_range(-n_pos, n_pos - 1) if n_pos is not None else None)
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
