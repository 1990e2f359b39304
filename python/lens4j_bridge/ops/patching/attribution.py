"""Attribution patching (``patching.attribution``): the sweep's grid to first order, from one
clean forward and one forward and backward of the corrupted run: (clean - corrupted
activation) . the metric's gradient.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import torch
from transformer_lens.utilities import get_act_name

from ...errors import require
from ...session import Session
from .. import op
from ..metrics import Metric, metric_from_spec
from .common import KINDS, _canonical_kind, _grid, _sweep_inputs, _value


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
