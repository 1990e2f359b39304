"""Ablation (seed 004): zero / mean / resample ablation of each head's z, batched.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from transformer_lens.utilities import get_act_name

from ...errors import LensError, int_range, require
from ...session import Session
from .. import op
from ..model import tokens_of
from .common import _heads, _positions


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
                            f"and {list(self.corrupted_tokens.shape)}; pad or choose prompts of equal token length", "shape_mismatch",
                            argument="corrupted", shape=list(self.corrupted_tokens.shape), expected=list(self.clean_tokens.shape))
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
                                          f"(valid: {-length}..{length - 1}; padded length {n_pos})",
                    argument="positions", got=p, valid=int_range(-length, n_pos - 1))
            row.append(p + length if p < 0 else p)
        rows.append(row)
    require(len({len(r) for r in rows}) == 1, "every prompt needs the same number of positions; got " + str([len(r) for r in rows]),
            "shape_mismatch")
    return rows


def _check_method(method: str, mean_over: str) -> None:
    require(method in ABLATIONS, f"unknown ablation method {method!r}; valid: {list(ABLATIONS)}", argument="method", got=method,
            valid=list(ABLATIONS))
    require(mean_over in MEAN_OVER, f"mean_over must be one of {list(MEAN_OVER)}, got {mean_over!r}", argument="mean_over",
            got=mean_over, valid=list(MEAN_OVER))


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
