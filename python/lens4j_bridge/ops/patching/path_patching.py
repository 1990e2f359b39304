"""Path patching (``patching.path_patch``): the effect of each sender head through the chosen
receivers only, every other head frozen (Wang et al.; seed 002).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from transformer_lens.utilities import get_act_name

from ...errors import int_range, require
from ...session import Session
from .. import op
from ..metrics import Metric, last_positions_of, metric_from_spec
from .blocks import (
    BaseRun, HookList, _Layout, _attn_output, _base_names, _block, _choose_method, _chunk_size,
    _layout_check, _layout_names, _mlp_branch, _readout, _run_base, _run_blocks, _run_full,
)
from .common import _inputs, _labels, _value


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
        require(-n_layers <= value < n_layers, f"receiver layer {value} is out of range for a model with {n_layers} layers",
                argument="receivers", got=value, valid=int_range(-n_layers, n_layers - 1))
        return value % n_layers

    out = _Receivers()
    if spec["type"] == "final":
        out.resid.append((n_layers - 1, "resid_post"))
    elif spec["type"] == "resid":
        hook = spec.get("hook", "resid_post")
        require(hook in RESID_HOOKS, f"receiver hook must be one of {list(RESID_HOOKS)}, got {hook!r}", argument="receivers",
                got=hook, valid=list(RESID_HOOKS))
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
                                         f"(as a third element or 'input'), got {comp!r}",
                    argument="receivers", got=comp, valid=list(HEAD_INPUTS))
            limit = n_heads if comp == "q" else kv_heads
            head = item[1]
            require(isinstance(head, int) and not isinstance(head, bool) and 0 <= head < limit,
                    f"unknown receiver head {item}: layer {layer} has heads 0..{limit - 1} for input {comp!r}",
                    argument="receivers", got=head, valid=int_range(0, limit - 1))
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
    require(direction in DIRECTIONS, f"direction must be one of {list(DIRECTIONS)}, got {direction!r}", argument="direction",
            got=direction, valid=list(DIRECTIONS))
    recv = _parse_receivers(model, receivers)
    clean_tokens, corrupted_tokens, last = _inputs(model, clean, corrupted, prepend_bos, padding_side)
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    if sender_layers is None:
        sender_layers = list(range(n_layers))
    require(isinstance(sender_layers, list) and all(isinstance(l, int) and not isinstance(l, bool) and -n_layers <= l < n_layers for l in sender_layers),
            f"sender_layers must be a list of layers in [{-n_layers}, {n_layers - 1}], got {sender_layers!r}",
            argument="sender_layers", got=sender_layers, valid=int_range(-n_layers, n_layers - 1))
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
