"""Hooks and interventions: runs with hooks, added (persistent / permanent) hooks, caches with
gradients, and generation with hooks on.

Hooks arrive as JSON specs (docs/hooks-spec.md) and are compiled by ``hook_actions`` into
plain TransformerLens hook functions, checked before the model runs. Temporary hooks go
through TransformerBridge's own ``run_with_hooks`` / ``hooks()`` context, which removes
them on every exit path, so a failing hook (a Java exception included) leaves none behind.
"""

from __future__ import annotations

import fnmatch
from typing import Any, Callable

import torch

from ..errors import LensError, nearest, require
from ..session import Session
from ..values import tensor_meta
from . import op
from .hook_actions import CompiledHooks, compile_hooks
from .model import check_hook_names, check_return_type, check_stop_at_layer, pack_output, resolve_device, tokens_of


class HookSet:
    """Hooks added by ``hooks.add``: what to remove, and what their capture actions stored."""

    def __init__(self, compiled: CompiledHooks, added: list[tuple[Any, str, Any]], permanent: bool) -> None:
        self.compiled = compiled
        self.added = added  # (HookPoint, direction, LensHandle)
        self.permanent = permanent

    def remove(self) -> int:
        removed = 0
        for point, direction, handle in self.added:
            handles = point.fwd_hooks if direction == "fwd" else point.bwd_hooks
            if any(h is handle for h in handles):
                handle.hook.remove()
                handles[:] = [h for h in handles if h is not handle]
                removed += 1
        self.added = []
        return removed


def _describe(compiled: CompiledHooks) -> list[dict[str, Any]]:
    return [{"name": h.target.name, "key": h.target.key, "dir": h.direction, "layer": h.target.layer} for h in compiled.hooks]


def _forward_only(compiled: CompiledHooks, op_name: str) -> None:
    if compiled.has("bwd"):
        raise LensError(f"{op_name} runs no backward pass, so 'bwd' hooks would never fire; "
                        "use hooks.run_with_cache with incl_bwd=True, or hooks.add for hooks that stay on")


def _count_hooks(model: Any) -> int:
    points = {id(p): p for p in model.hook_dict.values()}.values()  # aliases share one point
    return sum(len(p.fwd_hooks) + len(p.bwd_hooks) for p in points)


@op("hooks.resolve")
def resolve(s: Session, model: Any, hooks: Any) -> list[dict[str, Any]]:
    """Check hook specs without running anything; lists the hook points each one reaches."""
    return _describe(compile_hooks(s, model, hooks))


@op("hooks.run_with_hooks")
def run_with_hooks(
    s: Session, model: Any, input: Any, hooks: Any, return_type: str = "logits", stop_at_layer: int | None = None,
    prepend_bos: bool | None = None, padding_side: str | None = None, loss_per_token: bool = False,
) -> dict[str, Any]:
    rt = check_return_type(return_type)
    check_stop_at_layer(model, stop_at_layer)
    compiled = compile_hooks(s, model, hooks)
    _forward_only(compiled, "hooks.run_with_hooks")
    tokens = tokens_of(model, input, prepend_bos, padding_side)
    output = model.run_with_hooks(tokens, fwd_hooks=compiled.pairs("fwd"), return_type=rt,
                                  stop_at_layer=stop_at_layer, loss_per_token=loss_per_token)
    result = pack_output(output, return_type)
    result["captures"] = compiled.captures.take()
    return result


# -- hooks that stay on -----------------------------------------------------------------------

@op("hooks.add")
def add(s: Session, model: Any, hooks: Any, permanent: bool = False) -> dict[str, Any]:
    """Attach hooks until removed: ``permanent=False`` hooks go at the next ``hooks.reset``,
    permanent ones only with ``including_permanent`` (TransformerLens' add_hook / add_perma_hook)."""
    compiled = compile_hooks(s, model, hooks)
    added: list[tuple[Any, str, Any]] = []
    hook_set = HookSet(compiled, added, permanent)
    try:
        for h in compiled.hooks:
            model.check_hooks_to_add(h.target.point, h.target.key, h.fn, dir=h.direction, is_permanent=permanent)
            added.append((h.target.point, h.direction, h.target.point.add_hook(h.fn, dir=h.direction, is_permanent=permanent)))
    except Exception:
        hook_set.remove()
        raise
    return {"$h": s.handles.put(hook_set), "type": "hook_set", "hooks": _describe(compiled), "permanent": permanent}


@op("hooks.remove")
def remove(s: Session, hook_set: HookSet) -> int:
    """Detach the hooks of one ``hooks.add``; returns how many were still attached."""
    require(isinstance(hook_set, HookSet), f"expected a hook set handle (from hooks.add), got {type(hook_set).__name__}")
    return hook_set.remove()


@op("hooks.captures")
def captures(s: Session, hook_set: HookSet, clear: bool = True) -> dict[str, Any]:
    """What the capture actions of added hooks stored since the last read."""
    require(isinstance(hook_set, HookSet), f"expected a hook set handle (from hooks.add), got {type(hook_set).__name__}")
    return hook_set.compiled.captures.take() if clear else dict(hook_set.compiled.captures.values)


@op("hooks.reset")
def reset(s: Session, model: Any, including_permanent: bool = False, direction: str = "both") -> dict[str, int]:
    require(direction in ("fwd", "bwd", "both"), f"direction must be 'fwd', 'bwd' or 'both', got {direction!r}",
            argument="direction", got=direction, valid=["fwd", "bwd", "both"])
    before = _count_hooks(model)
    model.reset_hooks(direction=direction, including_permanent=including_permanent)
    return {"removed": before - _count_hooks(model)}


@op("hooks.list")
def list_hooks(s: Session, model: Any) -> dict[str, dict[str, int]]:
    """The hook points that have hooks attached: {name: {fwd, bwd, permanent}}."""
    out: dict[str, dict[str, int]] = {}
    seen: set[int] = set()
    for name, point in model.hook_dict.items():
        handles = point.fwd_hooks + point.bwd_hooks
        if handles and id(point) not in seen:
            seen.add(id(point))
            out[point.name or name] = {"fwd": len(point.fwd_hooks), "bwd": len(point.bwd_hooks),
                                       "permanent": sum(1 for h in handles if h.is_permanent)}
    return out


# -- caches, gradients ----------------------------------------------------------------------

def _names_filter(model: Any, names: list[str] | None, glob: str | None) -> Any:
    """What to cache: None (everything), the names list, or a predicate for names plus a glob."""
    gated = getattr(model, "_gated_hook_reason", lambda _n: None)
    if names is not None:
        require(isinstance(names, list) and all(isinstance(n, str) for n in names), "'names' must be a list of hook names")
        check_hook_names(model, names)
        for n in names:
            reason = gated(model.hook_dict[n].name or n)
            if reason is not None:
                raise LensError(f"{n!r} is never cached while cfg.{reason} is False; enable it on the model first (set_{reason}(True))", "unknown_hook",
                                got=n)
    if glob is None:
        return names  # TransformerLens resolves a list's aliases itself
    require(isinstance(glob, str), "'glob' must be a string such as 'blocks.*.attn.hook_pattern'")
    # Gated points are left out here, as a glob is a sweep, not a request for each one.
    matched = {n for n, p in model.hook_dict.items() if fnmatch.fnmatchcase(n, glob) and gated(p.name or n) is None}
    if not matched:
        raise LensError(f"glob {glob!r} matches no hook name that fires", "unknown_hook", argument="glob", got=glob,
                        nearest=nearest(glob.replace("*", "0"), sorted(model.hook_dict)))
    wanted = matched | set(names or [])
    return lambda n: n in wanted


def _per_prompt_ids(value: Any, n: int, what: str) -> torch.Tensor:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value] * n
    require(isinstance(value, list) and len(value) == n and all(isinstance(v, int) for v in value),
            f"'{what}' must be a token id or a list of {n} token ids (one per prompt), got {value!r}")
    return torch.tensor(value, dtype=torch.int64)


def _metric(s: Session, spec: Any, n_batch: int) -> tuple[bool, Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]]:
    """(needs the loss, metric(logits, loss) -> scalar) for ``backward_of``."""
    if spec == "loss":
        return True, lambda logits, loss: loss
    require(isinstance(spec, dict) and spec.get("type") in ("logit_diff", "logit", "java"),
            "backward_of must be 'loss', {type: logit_diff, good, bad, pos}, {type: logit, tokens, pos} or {type: java, id}")
    kind = spec["type"]
    if kind == "java":
        metric_id = spec.get("id")
        require(isinstance(metric_id, int), "backward_of {type: java} needs an int 'id'")

        def java_metric(logits: torch.Tensor, loss: Any) -> torch.Tensor:
            handle = s.handles.put(logits)
            try:
                answer = s.callback("metric", {"id": metric_id, "logits": tensor_meta(handle, logits)})
            finally:
                s.handles.release([handle])
            if not isinstance(answer, torch.Tensor) or answer.numel() != 1 or not answer.requires_grad:
                raise LensError(f"the Java metric {metric_id} must return a one-element tensor computed from the logits "
                                f"handle with tensor ops (so that it carries a gradient), got {answer!r:.200}")
            return answer.reshape(())

        return False, java_metric
    pos = spec.get("pos", -1)
    require(isinstance(pos, int), f"backward_of 'pos' must be an int, got {pos!r}", argument="pos", got=pos)
    rows = torch.arange(n_batch)
    if kind == "logit":
        tokens = _per_prompt_ids(spec.get("tokens"), n_batch, "tokens")
        return False, lambda logits, loss: logits[rows, pos, tokens.to(logits.device)].mean()
    good = _per_prompt_ids(spec.get("good"), n_batch, "good")
    bad = _per_prompt_ids(spec.get("bad"), n_batch, "bad")
    return False, lambda logits, loss: (logits[rows, pos, good.to(logits.device)] - logits[rows, pos, bad.to(logits.device)]).mean()


def _grad_points(model: Any, names_filter: Any) -> list[tuple[str, Any]]:
    """(key, HookPoint) for each distinct point the cache covers, to hook its gradient."""
    if names_filter is None:
        match: Callable[[str], bool] = lambda n: True
    elif callable(names_filter):
        match = names_filter
    else:
        wanted = set(names_filter)
        match = lambda n: n in wanted
    gated = getattr(model, "_gated_hook_reason", lambda _n: None)
    seen: set[int] = set()
    out = []
    for name, point in model.hook_dict.items():
        if match(name) and id(point) not in seen and gated(point.name or name) is None:
            seen.add(id(point))
            out.append((point.name if point.name in model.hook_dict else name, point))
    return out


@op("hooks.run_with_cache")
def run_with_cache(
    s: Session, model: Any, input: Any, hooks: Any = None, names: list[str] | None = None, glob: str | None = None,
    incl_bwd: bool = False, backward_of: Any = "loss", return_type: str = "logits", prepend_bos: bool | None = None,
    padding_side: str | None = None, stop_at_layer: int | None = None, remove_batch_dim: bool = False, device: str | None = None,
) -> dict[str, Any]:
    """A cache taken while hooks are on (these and any added ones); with ``incl_bwd`` also the
    gradient of ``backward_of`` at every cached point, as ``<name>_grad`` keys."""
    rt = check_return_type(return_type)
    check_stop_at_layer(model, stop_at_layer)
    compiled = compile_hooks(s, model, hooks)
    names_filter = _names_filter(model, names, glob)
    tokens = tokens_of(model, input, prepend_bos, padding_side)
    require(not remove_batch_dim or tokens.shape[0] == 1, f"remove_batch_dim needs a batch of 1, got {tokens.shape[0]}")
    kwargs: dict[str, Any] = {"names_filter": names_filter}
    if device is not None:
        kwargs["device"] = resolve_device(device)

    if not incl_bwd:
        _forward_only(compiled, "hooks.run_with_cache without incl_bwd")
        with model.hooks(fwd_hooks=compiled.pairs("fwd")):
            output, cache = model.run_with_cache(tokens, return_type=rt, stop_at_layer=stop_at_layer,
                                                 remove_batch_dim=remove_batch_dim, **kwargs)
        result = pack_output(output, return_type)
    else:
        require(stop_at_layer is None, "incl_bwd needs the whole forward pass: leave stop_at_layer unset")
        needs_loss, metric_fn = _metric(s, backward_of, tokens.shape[0])
        grads: dict[int, torch.Tensor] = {}

        def grad_hook(point_id: int) -> Callable[..., None]:
            def store(grad: torch.Tensor, hook: Any = None) -> None:
                grads[point_id] = grad.detach().to(kwargs.get("device"))  # offloaded like the activations
            return store

        grad_hooks = [(key, grad_hook(id(point))) for key, point in _grad_points(model, names_filter)]
        params = [p for p in model.parameters() if p.requires_grad]
        saved = [p.grad for p in params]
        try:
            with torch.set_grad_enabled(True), model.hooks(fwd_hooks=compiled.pairs("fwd"), bwd_hooks=compiled.pairs("bwd") + grad_hooks):
                output, cache = model.run_with_cache(tokens, return_type="both" if needs_loss else "logits", **kwargs)
                logits, loss = output if needs_loss else (output, None)
                metric = metric_fn(logits, loss)
                metric.backward()
        finally:
            for p, g in zip(params, saved):  # the backward pass is for activations: leave no parameter grads
                p.grad = g
        for key, value in list(cache.cache_dict.items()):
            point = model.hook_dict.get(key)
            if point is not None and id(point) in grads:
                cache.cache_dict[key + "_grad"] = grads[id(point)]
        if remove_batch_dim:
            cache.remove_batch_dim(batch_size=1)
        if return_type in ("loss", "both") and loss is None:
            loss = model.loss_fn(logits.detach(), tokens)
        values = {"logits": logits.detach(), "loss": None if loss is None else loss.detach()}
        result = {k: values[k] for k in ("logits", "loss") if return_type in (k, "both")}
        result["metric"] = float(metric.detach())
    result["cache"] = {"$h": s.handles.put(cache), "type": "cache", "keys": list(cache.keys())}
    result["captures"] = compiled.captures.take()
    return result


# -- generation -------------------------------------------------------------------------------

@op("hooks.generate")
def generate(
    s: Session, model: Any, input: Any, max_new_tokens: int = 10, do_sample: bool = False, top_k: int | None = None,
    top_p: float | None = None, temperature: float = 1.0, seed: int | None = None, stop_at_eos: bool = True,
    hooks: Any = None, return_logits: bool = False, prepend_bos: bool | None = None, use_past_kv_cache: bool = True,
) -> dict[str, Any]:
    """Generate with hooks on every forward of the loop (prompt first, then one token per step
    with the KV cache). Returns the text (a string for a string input), the tokens (prompt +
    generated) and, with ``return_logits``, the logits of each step [batch, steps, vocab]."""
    require(isinstance(max_new_tokens, int) and max_new_tokens >= 1, f"max_new_tokens must be an int >= 1, got {max_new_tokens!r}")
    require(temperature >= 0, f"temperature must be >= 0 (0 means greedy, as in TransformerLens), got {temperature}")
    if temperature == 0:
        do_sample, temperature = False, 1.0  # TransformerLens' sample_logits: temperature 0 is the argmax
    require(top_k is None or (isinstance(top_k, int) and top_k >= 1), f"top_k must be an int >= 1, got {top_k!r}")
    require(top_p is None or 0 < top_p <= 1, f"top_p must be in (0, 1], got {top_p!r}")
    compiled = compile_hooks(s, model, hooks)
    _forward_only(compiled, "hooks.generate")
    if isinstance(input, torch.Tensor):
        input = tokens_of(model, input)
    else:
        require(isinstance(input, str) or (isinstance(input, list) and input and all(isinstance(t, str) for t in input)),
                "input must be a string, a non-empty list of strings or a token tensor")
    device = next(model.parameters()).device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        if seed is not None:
            torch.manual_seed(seed)
        with model.hooks(fwd_hooks=compiled.pairs("fwd")):
            output = model.generate(input, max_new_tokens=max_new_tokens, stop_at_eos=stop_at_eos, do_sample=do_sample,
                                    top_k=top_k, top_p=top_p, temperature=temperature, prepend_bos=prepend_bos,
                                    use_past_kv_cache=use_past_kv_cache, return_type="tokens", verbose=False,
                                    output_logits=return_logits)
    tokens = output.sequences if return_logits else output
    texts = [model.tokenizer.decode(row, skip_special_tokens=True) for row in tokens]
    result: dict[str, Any] = {"text": texts[0] if isinstance(input, str) else texts, "tokens": tokens}
    if return_logits:
        result["logits"] = torch.stack(list(output.logits), dim=1)
    result["captures"] = compiled.captures.take()
    return result
