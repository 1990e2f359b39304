"""Hook specs (JSON from Java) compiled into TransformerLens hook functions.

A spec names hook points and lists actions (zero, mean, patch, resample, add, scale, set,
capture, java) restricted by selectors (batch, pos, head). Everything is checked when the
spec is compiled, before any forward runs; the compiled hook then only indexes and writes,
so a declarative action costs what the same hand-written Python hook costs.
The format is documented in docs/hooks-spec.md.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from transformer_lens.ActivationCache import ActivationCache

from ..errors import LensError, int_range, nearest, require
from ..session import Session
from ..values import tensor_meta
from .model import check_hook_names
from .tensor import as_tensor

SPEC_KEYS = ("names", "glob", "matched", "dir", "select", "actions")
SELECT_KEYS = ("batch", "pos", "head")
ACTION_KEYS: dict[str, tuple[str, ...]] = {
    "zero": (),
    "mean": ("dim", "source", "cache", "name"),
    "patch": ("cache", "name"),
    "resample": ("cache", "name", "perm", "seed"),
    "add": ("vector", "coeff"),
    "scale": ("factor",),
    "set": ("value",),
    "capture": ("key", "append"),
    "java": ("id",),
}
# Activations with a head axis: [batch, pos, head, d] and [batch, head, q_pos, k_pos].
HEAD_POS_HOOKS = ("attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_z", "attn.hook_result")
PATTERN_HOOKS = ("attn.hook_pattern", "attn.hook_attn_scores")
_LAYER = re.compile(r"^blocks\.(\d+)\.")


# -- where a hook goes --------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """One hook point: the name the caller used, the key TransformerLens resolves, its layout."""

    name: str  # as the caller wrote it (or as the glob matched it)
    key: str  # canonical name in model.hook_dict, what run_with_hooks / hooks() resolve
    point: Any  # the HookPoint
    layer: int | None
    pos_axis: int
    head_axis: int | None


def _target(hook_dict: dict[str, Any], name: str) -> Target:
    point = hook_dict[name]
    key = point.name if point.name in hook_dict else name
    m = _LAYER.match(key)
    if key.endswith(PATTERN_HOOKS):
        pos_axis, head_axis = 2, 1
    elif key.endswith(HEAD_POS_HOOKS):
        pos_axis, head_axis = 1, 2
    else:
        pos_dim = getattr(point, "pos_dim", None)
        pos_axis, head_axis = (pos_dim if isinstance(pos_dim, int) and pos_dim >= 0 else 1), None
    return Target(name, key, point, int(m.group(1)) if m else None, pos_axis, head_axis)


def heads_of(model: Any, target: Target) -> int:
    """The size of a hook point's head axis: key/value heads for k and v under grouped-query attention."""
    kv = getattr(model.cfg, "n_key_value_heads", None)
    if kv and target.key.endswith(("attn.hook_k", "attn.hook_v")):
        return kv
    return model.cfg.n_heads


def _check_names(model: Any, hook_dict: dict[str, Any], names: list[str]) -> None:
    if any(n not in hook_dict for n in names):
        check_hook_names(model, names)  # raises, naming the nearest valid names


def resolve_targets(model: Any, spec: dict[str, Any], hook_dict: dict[str, Any]) -> list[Target]:
    """The hook points a spec names (explicit names and/or a glob), each point once."""
    names = spec.get("names")
    glob = spec.get("glob")
    from_filter = spec.get("matched")  # names a Java filter chose: checked like names, swept like a glob
    require(names is not None or glob is not None or from_filter is not None,
            "a hook needs 'names' (a list of hook names), 'glob' (e.g. 'blocks.*.attn.hook_z') or 'matched'")
    wanted: list[str] = []
    for key, value in (("names", names), ("matched", from_filter)):
        if value is None:
            continue
        if isinstance(value, str):
            value = [value]
        require(isinstance(value, list) and all(isinstance(n, str) for n in value), f"'{key}' must be a list of hook names, got {value!r}")
        _check_names(model, hook_dict, value)
        wanted += value
        if key == "names":
            names = value
    if glob is not None:
        require(isinstance(glob, str), f"'glob' must be a string, got {glob!r}")
        matched = [n for n in hook_dict if fnmatch.fnmatchcase(n, glob)]
        if not matched:
            close = nearest(glob.replace("*", "0"), sorted(hook_dict))
            raise LensError(f"glob {glob!r} matches no hook name; nearest valid names: {close}", "unknown_hook", nearest=close,
                            argument="glob", got=glob)
        wanted += matched
    targets: list[Target] = []
    seen: set[int] = set()
    gated = getattr(model, "_gated_hook_reason", lambda _n: None)
    for name in wanted:
        point = hook_dict[name]
        if id(point) in seen:
            continue  # aliases of one point: hooking it twice would apply the actions twice
        seen.add(id(point))
        reason = gated(point.name or name)
        if reason is not None:
            if names is not None and name in names:
                raise LensError(f"hook {name!r} never fires while cfg.{reason} is False; enable it on the model first (set_{reason}(True))", "unknown_hook",
                                got=name)
            continue  # a glob sweeps past gated-off points, as TransformerLens' filters do
        targets.append(_target(hook_dict, name))
    require(len(targets) > 0, f"the hook spec matches no hook point that fires: {names or from_filter or glob!r}")
    return targets


# -- selectors ----------------------------------------------------------------------------

def _axis(value: Any, what: str) -> slice | list[int] | None:
    """A selector for one axis: None (all), an int, a list of ints, or {start, stop, step}."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise LensError(f"'{what}' must be an int, a list of ints or {{start, stop}}, got {value!r}")
    if isinstance(value, int):
        return [value]
    if isinstance(value, dict):
        unknown = set(value) - {"start", "stop", "step"}
        require(not unknown, f"'{what}' range has unknown key(s) {sorted(unknown)}; valid: start, stop, step")
        step = value.get("step", 1)
        require(all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in value.values()), f"'{what}' range bounds must be ints")
        require(step is None or step > 0, f"'{what}' range step must be positive, got {step}")
        return slice(value.get("start"), value.get("stop"), step)
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return list(value)
    raise LensError(f"'{what}' must be an int, a non-empty list of ints or {{start, stop}}, got {value!r}")


def _as_slice(indices: list[int]) -> slice | None:
    """A run of consecutive indices of one sign as a slice (a view, no copy), else None."""
    first, n = indices[0], len(indices)
    if indices != list(range(first, first + n)) or (first < 0 <= first + n - 1):
        return None
    stop = first + n
    return slice(first, None if stop == 0 else stop)


class Selection:
    """Turns the batch / pos / head selectors into an index for one hook point's activation.

    Single indices and runs become slices, so the common case (one position, one head) is
    a view written in place, like ``z[:, -1, h, :] = 0``. Lists become index tensors
    combined as an outer product. Per-prompt positions ([[...], ...]) pair each prompt
    with its own positions.
    """

    def __init__(self, select: dict[str, Any] | None, target: Target, n_heads: int) -> None:
        select = select or {}
        require(isinstance(select, dict), f"'select' must be an object with keys {list(SELECT_KEYS)}, got {select!r}")
        unknown = set(select) - set(SELECT_KEYS)
        require(not unknown, f"unknown selector(s) {sorted(unknown)}; valid: {list(SELECT_KEYS)}", argument="select",
                got=sorted(unknown), valid=list(SELECT_KEYS))
        self.target = target
        pos = select.get("pos")
        self.per_prompt: list[list[int]] | None = None
        if isinstance(pos, list) and pos and all(isinstance(p, list) for p in pos):
            require(all(all(isinstance(i, int) and not isinstance(i, bool) for i in p) for p in pos), "per-prompt positions must be lists of ints")
            self.per_prompt = pos
            pos = None
        self.batch = _axis(select.get("batch"), "batch")
        self.pos = _axis(pos, "pos")
        self.head = _axis(select.get("head"), "head")
        if self.head is not None:
            if target.head_axis is None:
                raise LensError(
                    f"'head' selects heads, but {target.name} has no head axis; hooks with heads: "
                    f"{list(HEAD_POS_HOOKS + PATTERN_HOOKS)} (by name ending)")
            if isinstance(self.head, list):
                bad = [h for h in self.head if not -n_heads <= h < n_heads]
                require(not bad, f"head(s) {bad} out of range: {target.name} has {n_heads} heads", argument="head", got=bad,
                        valid=int_range(-n_heads, n_heads - 1))
        if self.per_prompt is not None:
            require(self.batch is None or isinstance(self.batch, list),
                    "with per-prompt positions, 'batch' must be a list of prompt indices (one per list of positions)")
            if isinstance(self.batch, list):
                require(len(self.batch) == len(self.per_prompt),
                        f"per-prompt positions give {len(self.per_prompt)} lists for {len(self.batch)} selected prompts")
        # Explicit indices that a slice would silently clip: checked against each activation.
        self.bounds: list[tuple[int, int, int, str]] = []  # (axis, lowest, highest, what)
        # Heads were checked above against the model's config; batch and pos depend on the input.
        for axis, sel, what in ((0, self.batch, "batch"), (target.pos_axis, self.pos, "pos")):
            if isinstance(sel, list) and (min(sel) < -1 or max(sel) > 0):  # 0 and -1 exist on any non-empty axis
                self.bounds.append((axis, min(sel), max(sel), what))
        self.everything = self.batch is None and self.pos is None and self.head is None and self.per_prompt is None
        self.basic = True
        self.static: tuple | None = None
        self._dynamic: dict[tuple, tuple] = {}
        if self.per_prompt is None:
            self.static = self._build(self.pos)
            if not self.bounds:
                self.index = self._static_index  # type: ignore[method-assign]  # the hot path: no checks left

    def _static_index(self, x: torch.Tensor) -> tuple:
        return self.static  # type: ignore[return-value]

    def _build(self, pos: Any, pairs: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple:
        t = self.target
        axes = {0: self.batch, t.pos_axis: pos}
        if t.head_axis is not None:
            axes[t.head_axis] = self.head
        index: list[Any] = [slice(None)] * (max(axes) + 1)
        advanced: list[tuple[int, torch.Tensor]] = []
        for axis, sel in axes.items():
            if sel is None or isinstance(sel, slice):
                index[axis] = slice(None) if sel is None else sel
                continue
            as_slice = _as_slice(sel)
            if as_slice is not None:
                index[axis] = as_slice
            else:
                advanced.append((axis, torch.tensor(sel, dtype=torch.int64)))
        if pairs is not None:
            # (prompt, position) pairs: one advanced dimension shared by batch and pos.
            b, p = pairs
            extra = [a for a in advanced if a[0] not in (0, t.pos_axis)]
            k = 1 + len(extra)
            index[0] = b.view([-1] + [1] * (k - 1))
            index[t.pos_axis] = p.view([-1] + [1] * (k - 1))
            for j, (axis, idx) in enumerate(extra, start=1):
                index[axis] = idx.view([1] * j + [-1] + [1] * (k - j - 1))
            self.basic = False
        elif advanced:
            # Several index lists select their outer product, not zipped pairs.
            k = len(advanced)
            for j, (axis, idx) in enumerate(advanced):
                index[axis] = idx.view([1] * j + [-1] + [1] * (k - j - 1))
            self.basic = False
        while len(index) > 1 and index[-1] == slice(None):
            index.pop()
        return tuple(index)

    def index(self, x: torch.Tensor) -> tuple:
        for axis, lo, hi, what in self.bounds:
            size = x.shape[axis]
            if lo < -size or hi >= size:
                raise LensError(
                    f"{what} index {hi if hi >= size else lo} is out of range for {self.target.name}, "
                    f"whose {what} axis has size {size} (activation shape {list(x.shape)})", "bad_argument",
                    argument=what, got=hi if hi >= size else lo, valid=int_range(-size, size - 1), shape=list(x.shape))
        if self.static is not None:
            return self.static
        key = (x.shape[0], x.shape[self.target.pos_axis], x.device)
        cached = self._dynamic.get(key)
        if cached is None:
            cached = self._dynamic[key] = self._pairs_index(x)
        return cached

    def _pairs_index(self, x: torch.Tensor) -> tuple:
        n_batch, n_pos = x.shape[0], x.shape[self.target.pos_axis]
        prompts = self.batch if isinstance(self.batch, list) else list(range(len(self.per_prompt)))
        if self.batch is None:
            require(len(self.per_prompt) == n_batch,
                    f"per-prompt positions give {len(self.per_prompt)} lists for a batch of {n_batch} prompts")
        bs, ps = [], []
        for b, positions in zip(prompts, self.per_prompt):
            if not -n_batch <= b < n_batch:
                raise LensError(f"prompt index {b} is out of range for a batch of {n_batch}", argument="batch", got=b,
                                valid=int_range(-n_batch, n_batch - 1))
            for p in positions:  # one check per position: the error is built only when raised
                if not -n_pos <= p < n_pos:
                    raise LensError(f"position {p} is out of range for {self.target.name}, whose pos axis has size {n_pos}",
                                    argument="pos", got=p, valid=int_range(-n_pos, n_pos - 1))
                bs.append(b % n_batch)
                ps.append(p % n_pos)
        pairs = (torch.tensor(bs, dtype=torch.int64, device=x.device), torch.tensor(ps, dtype=torch.int64, device=x.device))
        return self._build(None, pairs)


# -- actions ------------------------------------------------------------------------------

def fit(src: torch.Tensor, x: torch.Tensor, index: tuple, what: str, target: Target) -> torch.Tensor:
    """A source tensor indexed like the activation: full shape, broadcastable to it, or region-shaped."""
    if src.device != x.device or src.dtype != x.dtype:
        src = src.to(x.device, x.dtype)
    if src.shape == x.shape:
        return src[index]
    try:
        return src.expand(x.shape)[index]
    except RuntimeError:
        pass
    region = x[index].shape
    try:
        if torch.broadcast_shapes(src.shape, region) == region:
            return src
    except RuntimeError:
        pass
    raise LensError(
        f"{what} of shape {list(src.shape)} fits neither the activation of {target.name} "
        f"(shape {list(x.shape)}) nor its selected region (shape {list(region)})", "shape_mismatch",
        argument=what, shape=list(src.shape), expected=list(x.shape))


class Captures:
    """What capture actions stored during one run (or, for added hooks, since the last read)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def store(self, key: str, value: torch.Tensor, append: bool) -> None:
        if append:
            self.values.setdefault(key, []).append(value)
        else:
            self.values[key] = value

    def take(self) -> dict[str, Any]:
        out, self.values = self.values, {}
        return out


@dataclass
class Action:
    kind: str
    apply: Callable[[torch.Tensor, tuple], torch.Tensor]
    selection: Selection
    writes: bool = True
    raw_errors: bool = False  # a java action's errors pass through untouched


def _tensor_arg(action: dict[str, Any], key: str, kind: str) -> torch.Tensor:
    require(key in action, f"action '{kind}' needs '{key}'")
    t = as_tensor(action[key]).detach()
    if not t.is_floating_point():
        t = t.float()
    return t


def _cache_entry(model: Any, hook_dict: dict[str, Any], cache: Any, target: Target, name: str | None, kind: str) -> torch.Tensor:
    """The cache's tensor for this hook point (any alias of it), or for an explicitly named one."""
    require(isinstance(cache, ActivationCache), f"action '{kind}' needs 'cache' to be an activation cache handle, got {type(cache).__name__}")
    if name is not None:
        require(isinstance(name, str), f"action '{kind}': 'name' must be a hook name")
        _check_names(model, hook_dict, [name])
        point = hook_dict[name]
        candidates = [name]
    else:
        point = target.point
        candidates = [target.name, target.key]
    candidates += [n for n, p in hook_dict.items() if p is point]
    for c in candidates:
        if c in cache.cache_dict:
            return cache.cache_dict[c]
    close = nearest(candidates[0], sorted(cache.keys()))
    raise LensError(f"action '{kind}': the cache holds no {candidates[0]!r}; nearest keys: {close}", "unknown_hook", nearest=close,
                    got=candidates[0])


def compile_action(s: Session, model: Any, hook_dict: dict[str, Any], action: Any, target: Target,
                   selection: Selection, direction: str, captures: Captures) -> Action:
    require(isinstance(action, dict) and isinstance(action.get("type"), str),
            f"an action must be an object with a 'type'; types: {list(ACTION_KEYS)}")
    kind = action["type"]
    if kind not in ACTION_KEYS:
        raise LensError(f"unknown action type {kind!r}; valid: {list(ACTION_KEYS)}", argument="type", got=kind,
                        nearest=nearest(kind, list(ACTION_KEYS)), valid=list(ACTION_KEYS))
    unknown = set(action) - {"type", "select"} - set(ACTION_KEYS[kind])
    require(not unknown, f"action '{kind}' has unknown key(s) {sorted(unknown)}; valid: {['select', *ACTION_KEYS[kind]]}",
            got=sorted(unknown), valid=["select", *ACTION_KEYS[kind]])
    if "select" in action:
        selection = Selection(action["select"], target, heads_of(model, target))
    sel = selection
    device = next(model.parameters()).device  # sources move once here, not on every call

    if kind == "zero":
        def apply(x: torch.Tensor, idx: tuple) -> torch.Tensor:
            x[idx] = 0
            return x

    elif kind == "scale":
        factor = action.get("factor")
        require(isinstance(factor, (int, float)) and not isinstance(factor, bool), f"action 'scale' needs a number 'factor', got {factor!r}")

        def apply(x: torch.Tensor, idx: tuple) -> torch.Tensor:
            x[idx] *= factor
            return x

    elif kind in ("add", "set") or (kind == "mean" and "source" in action):
        key = {"add": "vector", "set": "value", "mean": "source"}[kind]
        clash = sorted({"dim", "cache", "name"} & set(action)) if kind == "mean" else []
        require(not clash, f"action 'mean' takes either 'source' or 'dim' (with an optional 'cache'), not both: drop {clash}")
        src = _tensor_arg(action, key, kind).to(device)
        if kind == "add":
            coeff = action.get("coeff", 1.0)
            require(isinstance(coeff, (int, float)) and not isinstance(coeff, bool), f"'coeff' must be a number, got {coeff!r}")
            src = src * coeff
        what = f"{kind} {key}"

        if kind == "add":
            def apply(x: torch.Tensor, idx: tuple) -> torch.Tensor:
                x[idx] += fit(src, x, idx, what, target)
                return x
        else:
            def apply(x: torch.Tensor, idx: tuple) -> torch.Tensor:
                x[idx] = fit(src, x, idx, what, target)
                return x

    elif kind == "mean":
        dim = action.get("dim", 0)
        require(isinstance(dim, int) and not isinstance(dim, bool), f"action 'mean' needs an int 'dim' (0 = batch) or a 'source' tensor, got {dim!r}")
        if "cache" in action:
            entry = _cache_entry(model, hook_dict, action["cache"], target, action.get("name"), kind)
            require(-entry.dim() <= dim < entry.dim(), f"mean dim {dim} is out of range for the cached activation of shape {list(entry.shape)}")
            mean = entry.mean(dim, keepdim=True).to(device)

            def apply(x: torch.Tensor, idx: tuple) -> torch.Tensor:
                x[idx] = fit(mean, x, idx, f"mean over dim {dim} of the cache", target)
                return x
        else:
            require(action.get("name") is None, "action 'mean': 'name' needs 'cache'")

            def apply(x: torch.Tensor, idx: tuple) -> torch.Tensor:
                x[idx] = x.mean(dim, keepdim=True).expand(x.shape)[idx]
                return x

    elif kind in ("patch", "resample"):
        require("cache" in action, f"action '{kind}' needs 'cache' (an activation cache handle)")
        src = _cache_entry(model, hook_dict, action["cache"], target, action.get("name"), kind).to(device)
        if kind == "resample":
            perm = action.get("perm")
            n = src.shape[0]
            if perm is None:
                seed = action.get("seed")
                require(isinstance(seed, int) and not isinstance(seed, bool), "action 'resample' needs 'perm' (a list of prompt indices) or an int 'seed'")
                perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
            require(isinstance(perm, list) and perm and all(isinstance(i, int) and -n <= i < n for i in perm),
                    f"'perm' must be a list of prompt indices in [0, {n}) of the cache's batch, got {perm!r}")
            src = src[torch.tensor(perm, dtype=torch.int64, device=src.device)]
        what = f"{kind} source"

        def apply(x: torch.Tensor, idx: tuple) -> torch.Tensor:
            x[idx] = fit(src, x, idx, what, target)
            return x

    elif kind == "capture":
        template = action.get("key") or (target.name + ("_grad" if direction == "bwd" else ""))
        require(isinstance(template, str), f"capture 'key' must be a string, got {template!r}")
        key = template.replace("{name}", target.name).replace("{layer}", str(target.layer))
        append = bool(action.get("append", False))

        def apply(x: torch.Tensor, idx: tuple) -> torch.Tensor:
            captures.store(key, (x if sel.everything else x[idx]).detach().clone(), append)
            return x

        return Action(kind, apply, sel, writes=False)

    else:  # java
        hook_id = action.get("id")
        require(isinstance(hook_id, int) and not isinstance(hook_id, bool), f"action 'java' needs an int 'id', got {hook_id!r}")
        return Action(kind, _java_apply(s, hook_id, target, sel, direction), sel, raw_errors=True)

    return Action(kind, apply, sel)


def _java_apply(s: Session, hook_id: int, target: Target, sel: Selection, direction: str) -> Callable:
    def apply(x: torch.Tensor, idx: tuple) -> torch.Tensor:
        region = x if sel.everything else x[idx]
        # The activation lives in the handle table only while Java runs; Java must not keep it.
        handle = s.handles.put(region)
        try:
            answer = s.callback("hook", {"id": hook_id, "activation": tensor_meta(handle, region), "name": target.name,
                                         "layer": target.layer, "dir": direction})
        finally:
            s.handles.release([handle])
        if answer is None:
            if not sel.basic:
                x[idx] = region  # an index-list region is a copy: write Java's in-place edits back
            return x
        new = as_tensor(answer)
        if list(new.shape) != list(region.shape):
            raise LensError(f"the Java hook {hook_id} on {target.name} returned shape {list(new.shape)}; "
                            f"the activation it was given has shape {list(region.shape)}", "shape_mismatch",
                            shape=list(new.shape), expected=list(region.shape))
        if sel.everything:
            x.copy_(new)  # in place, like every other write (see docs/hooks-spec.md)
        else:
            x[idx] = new.to(x.device, x.dtype)
        return x

    return apply


# -- whole hooks ----------------------------------------------------------------------------

@dataclass
class CompiledHook:
    target: Target
    direction: str
    fn: Callable[..., Any]


@dataclass
class CompiledHooks:
    hooks: list[CompiledHook] = field(default_factory=list)
    captures: Captures = field(default_factory=Captures)

    def pairs(self, direction: str) -> list[tuple[str, Callable]]:
        return [(h.target.key, h.fn) for h in self.hooks if h.direction == direction]

    def has(self, direction: str) -> bool:
        return any(h.direction == direction for h in self.hooks)


def _hook_fn(target: Target, direction: str, actions: list[Action]) -> Callable[..., Any]:
    writes = any(a.writes for a in actions)
    backward = direction == "bwd"

    steps = [(a.apply, a.selection.index, a.raw_errors) for a in actions]

    def hook_fn(x: torch.Tensor, hook: Any = None) -> torch.Tensor | None:
        if writes and (backward or (x.requires_grad and torch.is_grad_enabled())):
            # In-place writes on a tensor autograd still needs (or on a gradient other
            # branches share) would corrupt backward: write on a copy and return it.
            x = x.clone()
        for i, (apply, index, raw_errors) in enumerate(steps):
            try:
                x = apply(x, index(x))
            except LensError:
                raise
            except (RuntimeError, IndexError) as e:
                if raw_errors:
                    raise
                raise LensError(f"hook {target.name}, action {i} ({actions[i].kind}) failed on an activation of shape "
                                f"{list(x.shape)}: {e}", "shape_mismatch") from e
        return x if writes else None

    return hook_fn


def compile_hooks(s: Session, model: Any, specs: Any) -> CompiledHooks:
    """Check every spec against the model and build its hook functions; nothing is attached yet."""
    if specs is None:
        specs = []
    if isinstance(specs, dict):
        specs = [specs]
    require(isinstance(specs, list), f"'hooks' must be a list of hook specs, got {type(specs).__name__}")
    out = CompiledHooks()
    if not specs:
        return out  # no spec: skip hook_dict, which the bridge rebuilds on every read
    hook_dict = model.hook_dict  # a property that rebuilds the dict (~0.3 ms): read it once
    for n, spec in enumerate(specs):
        require(isinstance(spec, dict), f"hook {n} must be an object with keys {list(SPEC_KEYS)}, got {type(spec).__name__}")
        unknown = set(spec) - set(SPEC_KEYS)
        require(not unknown, f"hook {n} has unknown key(s) {sorted(unknown)}; valid: {list(SPEC_KEYS)}", got=sorted(unknown),
                valid=list(SPEC_KEYS))
        direction = spec.get("dir", "fwd")
        require(direction in ("fwd", "bwd"), f"hook {n}: 'dir' must be 'fwd' or 'bwd', got {direction!r}", argument="dir",
                got=direction, valid=["fwd", "bwd"])
        actions = spec.get("actions")
        require(isinstance(actions, list) and len(actions) > 0, f"hook {n} needs a non-empty 'actions' list; types: {list(ACTION_KEYS)}")
        for target in resolve_targets(model, spec, hook_dict):
            selection = Selection(spec.get("select"), target, heads_of(model, target))
            compiled = [compile_action(s, model, hook_dict, a, target, selection, direction, out.captures) for a in actions]
            out.hooks.append(CompiledHook(target, direction, _hook_fn(target, direction, compiled)))
    return out
