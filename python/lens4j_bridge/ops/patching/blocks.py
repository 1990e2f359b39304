"""The block runner that the patching ops (sweeps, path patching) share.

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

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from transformer_lens.utilities import get_act_name

from ...errors import LensError, require
from ..metrics import Metric


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
    require(method in METHODS, f"method must be one of {list(METHODS)}, got {method!r}", argument="method", got=method,
            valid=list(METHODS))
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
