"""Attribution patching against the same estimate computed directly in TransformerLens.

The reference is the recipe of Nanda's attribution-patching notebook: the clean cache, the
corrupted run's activations and their gradients from TransformerLens backward hooks, and
(clean - corrupted) * gradient summed cell by cell with plain indexing. The op reads its
gradients with torch.autograd.grad instead, so the two share no code. A second, independent
check confirms the gradients are the model's own: a central finite difference along
(clean - corrupted) for a few cells of each activation family.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from lens4j_bridge.errors import LensError
from lens4j_bridge.ops.patching import common, sweeps
from lens4j_bridge.ops.metrics import metric_from_spec
from lens4j_bridge.session import Session

from test_patching import CLEAN, CORRUPTED, SPEC, model, runs  # noqa: F401  (the fixtures: the strong tiny model)

TOL = 1e-5


def attribution(model, kind, **kwargs):
    """patching.attribution through the dispatch path, as Java calls it; returns (values, result)."""
    s = Session()
    args = dict(model={"$h": s.handles.put(model)}, kind=kind, metric=SPEC, clean=CLEAN, corrupted=CORRUPTED)
    args.update(kwargs)
    result, _ = s.dispatch("patching.attribution", args, [])
    return s.handles.get(result["values"]["$tensor"]), result


def corrupted_gradients(model, tokens, names, metric):
    """The corrupted run's activations and the metric's gradient at each, with TransformerLens hooks."""
    acts, grads = {}, {}

    def keep(store, name):  # by the name asked for: an aliased hook point reports its own name
        return lambda tensor, hook: store.__setitem__(name, tensor.detach())

    with torch.enable_grad():
        model.reset_hooks()
        for n in names:
            model.add_hook(n, keep(acts, n), "fwd")
            model.add_hook(n, keep(grads, n), "bwd")
        try:
            metric(model(tokens)).backward()
        finally:
            model.reset_hooks()
            model.zero_grad(set_to_none=True)
    return acts, grads


def cell_index(axes, cell):
    """The slice of an activation one cell patches, as TransformerLens' patch setters index it."""
    named = dict(zip(axes[1:], cell[1:]))
    if "head_index" in named:  # pattern [batch, head, dest, src]
        return (slice(None), named["head_index"], named.get("dest_pos", slice(None)), named.get("src_pos", slice(None)))
    if "head" in named:  # z / q / k / v [batch, pos, head, d_head]
        return (slice(None), named.get("pos", slice(None)), named["head"])
    return (slice(None), named["pos"])  # [batch, pos, d_model]


def reference(model, r, kind):
    act, axes = common.KINDS[kind]
    names = [f"blocks.{l}.attn.hook_{act}" if act in ("z", "q", "k", "v", "pattern") else f"blocks.{l}.hook_{act}"
             for l in range(model.cfg.n_layers)]
    acts, grads = corrupted_gradients(model, r["corrupted"], names, r["metric"])
    corrupted_value = r["metric"](model(r["corrupted"])).item()
    sizes = list(sweeps._axis_sizes(model, act, axes, r["corrupted"].shape[1]))
    out = torch.zeros(sizes)
    for cell in itertools.product(*[range(n) for n in sizes]):
        name = names[cell[0]]
        index = cell_index(axes, cell)
        diff = r["clean_cache"][name][index] - acts[name][index]
        out[cell] = corrupted_value + (diff * grads[name][index]).sum()
    return out


@pytest.mark.parametrize("kind", sorted(common.KINDS))
def test_attribution_matches_transformer_lens_hooks(model, runs, kind):
    got, result = attribution(model, kind)
    ref = reference(model, runs["full"], kind)
    assert got.shape == ref.shape and result["axes"] == list(common.KINDS[kind][1])
    assert (got - ref).abs().max().item() <= TOL
    # the estimates move away from the corrupted value: a wrong cell could not pass the tolerance
    assert (ref - result["corrupted_value"]).abs().max().item() > 1e-2
    assert result["method"] == "attribution" and result["kind"] == kind
    assert result["labels"]["tokens"][0] == model.to_str_tokens(CLEAN[0])


@pytest.mark.parametrize("kind", sorted(common.EVERY))
def test_every_kinds_stack_their_parts(model, runs, kind):
    got, result = attribution(model, kind)
    assert result["axes"] == ["patch_type", *common.EVERY[kind][1]]
    for i, part in enumerate(common.EVERY[kind][0]):
        expected, _ = attribution(model, part)
        if common.KINDS[part][1] == ("layer", "head_index", "dest_pos"):
            expected = expected.transpose(1, 2)
        assert torch.equal(got[i], expected), part


@pytest.mark.parametrize("kind, cells", [
    ("resid_pre", [(0, 7), (1, 11)]),
    ("mlp_out", [(0, 11)]),
    ("resid_mid", [(0, 7), (1, 11)]),
    ("attn_head_out_all_pos", [(0, 1), (1, 3)]),
    ("attn_head_k_by_pos", [(1, 7, 2)]),
    ("attn_head_pattern_all_pos", [(1, 0)]),
])
def test_gradients_are_the_models_own(model, runs, kind, cells):
    """Central difference of the metric along (clean - corrupted) at a cell = that cell's attribution."""
    r = runs["full"]
    act, axes = common.KINDS[kind]
    got, result = attribution(model, kind)
    base = result["corrupted_value"]
    eps = 1e-2
    for cell in cells:
        name = f"blocks.{cell[0]}.attn.hook_{act}" if act in ("z", "q", "k", "v", "pattern") else f"blocks.{cell[0]}.hook_{act}"
        index = cell_index(axes, cell)

        def nudged(step):
            def hook(a, hook):
                a = a.clone()
                a[index] += step * (r["clean_cache"][name][index] - a[index])
                return a
            return r["metric"](model.run_with_hooks(r["corrupted"], fwd_hooks=[(name, hook)])).item()

        slope = (nudged(eps) - nudged(-eps)) / (2 * eps)
        estimate = got[cell].item() - base
        assert abs(slope - estimate) <= 2e-3 + 1e-2 * abs(slope), (cell, slope, estimate)
        assert abs(slope) > 1e-2, "a cell with no effect checks nothing: choose another"


def test_per_prompt_metric_and_normalized(model, runs):
    per_prompt, result = attribution(model, "attn_head_out_all_pos", metric={**SPEC, "reduce": "none"})
    mean, _ = attribution(model, "attn_head_out_all_pos")
    assert per_prompt.shape == (*mean.shape, 2) and len(result["corrupted_value"]) == 2
    # the mean metric's estimate is the mean of the per-prompt estimates
    assert (per_prompt.mean(-1) - mean).abs().max().item() <= TOL
    normalized, result = attribution(model, "attn_head_out_all_pos", metric={"type": "normalized", "of": SPEC})
    r = runs["full"]
    clean_v, corrupt_v = r["metric"](model(r["clean"])).item(), r["metric"](model(r["corrupted"])).item()
    assert (normalized - (mean - corrupt_v) / (clean_v - corrupt_v)).abs().max().item() <= TOL
    assert abs(result["clean_value"] - 1) <= 1e-5 and abs(result["corrupted_value"]) <= 1e-5


def test_leaves_no_gradients_or_hooks(model, runs):
    attribution(model, "resid_pre")
    assert all(p.grad is None for p in model.parameters())
    assert not any(h.fwd_hooks or h.bwd_hooks for h in model.hook_dict.values())
    assert not torch.is_grad_enabled()


@pytest.mark.parametrize("metric, words", [
    ({"type": "rank", "token": " Mary"}, "'rank' metric has none"),
    ({"type": "java", "id": 1}, "'java' metric has none"),
    ({"type": "normalized", "of": {"type": "rank", "token": " Mary"}}, "'rank' metric has none"),
])
def test_metrics_without_a_gradient_are_refused(model, metric, words):
    with pytest.raises(LensError) as e:
        attribution(model, "resid_pre", metric=metric)
    assert words in str(e.value) and "logit_diff" in str(e.value)


def test_bad_attribution_input(model):
    with pytest.raises(LensError) as e:
        attribution(model, "resid_pre", clean=["When John and Mary went to the shops, John gave the bag to"] * 2)
    assert e.value.kind == "shape_mismatch"
    with pytest.raises(LensError) as e:
        attribution(model, "resid_pree")
    assert "unknown patching kind" in str(e.value)
    with pytest.raises(LensError) as e:
        attribution(model, "resid_pre", clean=None)
    assert "give the clean prompts" in str(e.value)
