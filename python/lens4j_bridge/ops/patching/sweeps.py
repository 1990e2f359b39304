"""Activation patching sweeps (``patching.sweep``, ``patching.kinds``): every cell of a kind's
grid as one patched variant, stacked along the batch axis and run by the block runner.
"""

from __future__ import annotations

import bisect
import itertools
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable

import torch
from transformer_lens.utilities import get_act_name

from ...errors import LensError
from ...session import Session
from .. import op
from ..metrics import Metric, metric_from_spec
from .blocks import (
    BaseRun, HookList, _Layout, _attn_output, _base_names, _choose_method, _chunk_size,
    _layout_check, _layout_names, _readout, _run_base, _run_blocks, _run_full,
)
from .common import EVERY, KINDS, _canonical_kind, _grid, _sweep_inputs, _value


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


@op("patching.kinds")
def kinds(s: Session) -> dict[str, Any]:
    """Every sweep kind with its axes (TransformerLens' ``get_act_patch_<kind>``)."""
    out: dict[str, Any] = {k: {"activation": a, "axes": list(ax)} for k, (a, ax) in KINDS.items()}
    for k, (_, ax, names) in EVERY.items():
        out[k] = {"activation": None, "axes": ["patch_type", *ax], "patch_types": names}
    return out


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
