"""Patching sweeps against transformer_lens.patching, path patching against a plain hook loop.

The tests use the tiny model with its block and embedding weights scaled up, so that patches
move the metric by 1e-2 and more: a sweep that patched the wrong cell would fail the 1e-4
tolerance, not hide under it.
"""

from __future__ import annotations

from functools import partial

import pytest
import torch
from transformer_lens import patching as tl_patching

from lens4j_bridge.errors import LensError
from lens4j_bridge.ops.patching import blocks, common, sweeps
from lens4j_bridge.ops.metrics import metric_from_spec
from lens4j_bridge.session import Session

CLEAN = ["When John and Mary went, John gave it to", "When Tom and James went, James gave it to"]
CORRUPTED = ["When John and Mary went, Mary gave it to", "When Tom and James went, Tom gave it to"]
SPEC = {"type": "logit_diff", "answers": [[" Mary", " John"], [" Tom", " James"]]}
TOL = 1e-4
SHORT = slice(6, 12)  # 6 tokens, from "," on, for the sweeps whose TransformerLens loop is quadratic in length


@pytest.fixture(scope="module")
def model(tiny_model_dir, tmp_path_factory):
    from transformer_lens.model_bridge import TransformerBridge
    from transformers import AutoTokenizer, GPT2LMHeadModel

    out = tmp_path_factory.mktemp("strong") / "tiny-strong"
    hf = GPT2LMHeadModel.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if (name.startswith("transformer.h.") and p.dim() == 2) or name in ("transformer.wte.weight", "transformer.wpe.weight"):
                p.mul_(6.0)
    hf.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(out)
    torch.set_grad_enabled(False)
    bridge = TransformerBridge.boot_transformers(str(out), device="cpu", dtype=torch.float32)
    bridge.enable_compatibility_mode(disable_warnings=True)
    return bridge


@pytest.fixture(scope="module")
def runs(model):
    clean, corrupted = model.to_tokens(CLEAN), model.to_tokens(CORRUPTED)
    out = {}
    for name, (c, r) in {"full": (clean, corrupted), "short": (clean[:, SHORT], corrupted[:, SHORT])}.items():
        clean_logits, clean_cache = model.run_with_cache(c)
        corrupted_logits, corrupted_cache = model.run_with_cache(r)
        out[name] = dict(clean=c, corrupted=r, clean_cache=clean_cache, corrupted_cache=corrupted_cache,
                         metric=metric_from_spec(None, model, SPEC, r))
    return out


def sweep(model, kind, short=False, **kwargs):
    """patching.sweep through the dispatch path, as Java calls it; returns (values, result)."""
    s = Session()
    h = {"$h": s.handles.put(model)}
    args = dict(model=h, kind=kind, metric=SPEC, clean=CLEAN, corrupted=CORRUPTED)
    if short:
        clean, corrupted = model.to_tokens(CLEAN)[:, SHORT], model.to_tokens(CORRUPTED)[:, SHORT]
        args.update(clean={"$h": s.handles.put(clean)}, corrupted={"$h": s.handles.put(corrupted)})
    args.update(kwargs)
    result, _ = s.dispatch("patching.sweep", args, [])
    return s.handles.get(result["values"]["$tensor"]), result


def reference(kind):
    if kind == "resid_post":  # TransformerLens has no partial for it; the generic patch is the same thing
        return partial(tl_patching.generic_activation_patch, patch_setter=tl_patching.layer_pos_patch_setter,
                       activation_name="resid_post", index_axis_names=("layer", "pos"))
    return getattr(tl_patching, "get_act_patch_" + kind)


_REFERENCE: dict[str, torch.Tensor] = {}


def reference_values(model, runs, kind, short):
    key = f"{kind}:{short}"
    if key not in _REFERENCE:
        r = runs["short" if short else "full"]
        _REFERENCE[key] = reference(kind)(model, r["corrupted"], r["clean_cache"], r["metric"])
    return _REFERENCE[key]


QUADRATIC = {"attn_head_pattern_dest_src_pos", "attn_head_by_pos_every"}
ALL_KINDS = sorted(common.KINDS) + sorted(common.EVERY)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_sweep_matches_transformer_lens(model, runs, kind):
    short = kind in QUADRATIC
    ref = reference_values(model, runs, kind, short)
    got, result = sweep(model, kind, short=short)
    assert result["method"] == "suffix" and result["fallback_reason"] is None and result["last_block_tail"]
    assert got.shape == ref.shape, (got.shape, ref.shape)
    assert (got - ref).abs().max().item() <= TOL
    # the sweep moved the metric: a mislabelled cell could not pass the tolerance above
    assert (ref - result["corrupted_value"]).abs().max().item() > 100 * TOL
    assert result["axes"][-len(ref.shape):][0] in ("layer", "patch_type")
    # head-output patches enter their layer after its attention, as resid_mid + (z_clean - z) W_O
    assert result["head_entry"] == (kind in ("attn_head_out_all_pos", "attn_head_out_by_pos") or kind.endswith("_every") and "head" in kind)
    if kind == "resid_pre":
        # patches that write what is already there are not run: the prompts' first 7 tokens (both
        # layers) and, in layer 0 (embeddings), the 4 equal tokens after the names
        assert result["patches"] == 24 and result["skipped_unchanged"] == 2 * 7 + 4


@pytest.mark.parametrize("kind", ["resid_pre", "attn_head_out_by_pos", "attn_head_k_all_pos", "attn_head_pattern_by_pos"])
def test_batched_method_matches_too(model, runs, kind):
    got, result = sweep(model, kind, method="batched", chunk_size=5)
    assert result["method"] == "batched"
    assert (got - reference_values(model, runs, kind, False)).abs().max().item() <= TOL


def test_chunks_metrics_and_labels(model, runs):
    ref = reference_values(model, runs, "attn_head_v_by_pos", False)
    for chunk in (1, 3):
        got, _ = sweep(model, "attn_head_v_by_pos", chunk_size=chunk)
        assert (got - ref).abs().max().item() <= TOL
    # a metric that reads a middle position: later patches cannot reach it and are skipped
    r = runs["full"]
    mid = {"type": "logit_diff", "answers": [[" Mary", " John"], [" Tom", " James"]], "positions": [7, 8], "reduce": "none"}
    tl = tl_patching.get_act_patch_resid_pre(model, r["corrupted"], r["clean_cache"],
                                             metric_from_spec(None, model, mid, r["corrupted"]), reduce="none")
    got, result = sweep(model, "resid_pre", metric=mid)
    assert got.shape == tl.values.shape == (2, 12, 2)
    assert (got - tl.values).abs().max().item() <= TOL
    # a metric over every position (loss) takes the full-logits path
    loss = {"type": "loss"}
    tl = tl_patching.get_act_patch_attn_out(model, r["corrupted"], r["clean_cache"], metric_from_spec(None, model, loss, r["corrupted"]))
    got, result = sweep(model, "get_act_patch_attn_out", metric=loss)
    assert (got - tl).abs().max().item() <= TOL
    assert result["labels"]["layer"] == [0, 1] and result["labels"]["pos"] == list(range(12))
    assert result["labels"]["tokens"][0] == model.to_str_tokens(CLEAN[0]) and result["kind"] == "attn_out"
    assert result["metric"] == "loss(mean)" and isinstance(result["corrupted_value"], float)


def test_clean_cache_handle_progress_and_normalized(model, runs):
    events = []
    s = Session(progress=lambda done, total, msg: events.append((done, total)))
    h = {"$h": s.handles.put(model)}
    cached, _ = s.dispatch("model.run_with_cache", {"model": h, "input": CLEAN}, [])
    spec = {"type": "normalized", "of": SPEC}
    result, _ = s.dispatch("patching.sweep", {"model": h, "corrupted": CORRUPTED, "clean": CLEAN, "metric": spec,
                                              "kind": "attn_head_out_all_pos"}, [])
    got = s.handles.get(result["values"]["$tensor"])
    r = runs["full"]
    clean_v = r["metric"](model(r["clean"])).item()
    corrupt_v = r["metric"](model(r["corrupted"])).item()
    ref = (reference_values(model, runs, "attn_head_out_all_pos", False) - corrupt_v) / (clean_v - corrupt_v)
    assert (got - ref).abs().max().item() <= TOL
    assert abs(result["clean_value"] - 1.0) <= 1e-5 and abs(result["corrupted_value"]) <= 1e-5
    assert events[-1] == (8, 8) and all(d <= t for d, t in events)
    # the clean activations may come from a cache handle instead of the prompts
    result, _ = s.dispatch("patching.sweep", {"model": h, "corrupted": CORRUPTED, "clean_cache": {"$h": cached["cache"]["$h"]},
                                              "metric": SPEC, "kind": "attn_head_out_all_pos"}, [])
    got = s.handles.get(result["values"]["$tensor"])
    assert (got - reference_values(model, runs, "attn_head_out_all_pos", False)).abs().max().item() <= TOL
    assert result["clean_value"] is None


def test_java_metric_in_a_sweep(model, runs):
    calls = []

    def callback(name, args, blobs):
        logits = s.handles.get(args["logits"]["$tensor"])
        calls.append(tuple(logits.shape))
        return float((logits[:, -1, 5] - logits[:, -1, 9]).mean()), []

    s = Session(callback=callback)
    result, _ = s.dispatch("patching.sweep", {"model": {"$h": s.handles.put(model)}, "corrupted": CORRUPTED, "clean": CLEAN,
                                              "metric": {"type": "java", "id": 1}, "kind": "mlp_out"}, [])
    got = s.handles.get(result["values"]["$tensor"])
    r = runs["full"]
    tl = tl_patching.get_act_patch_mlp_out(model, r["corrupted"], r["clean_cache"], lambda lg: (lg[:, -1, 5] - lg[:, -1, 9]).mean())
    assert (got - tl).abs().max().item() <= TOL
    assert all(shape == (2, 12, model.cfg.d_vocab) for shape in calls)


def test_fallback_when_the_blocks_cannot_be_run_alone(model, runs, monkeypatch):
    monkeypatch.setattr(blocks, "_suffix_check", lambda m, base: ("pretend the blocks need rotary embeddings", False))
    got, result = sweep(model, "resid_mid")
    assert result["method"] == "batched" and "rotary" in result["fallback_reason"]
    assert (got - reference_values(model, runs, "resid_mid", False)).abs().max().item() <= TOL
    with pytest.raises(LensError) as e:
        sweep(model, "resid_mid", method="suffix")
    assert "not exact on this model" in str(e.value)


@pytest.mark.parametrize("kind", ["attn_head_out_all_pos", "attn_head_out_by_pos"])
def test_head_outputs_through_hooks_where_the_entry_check_fails(model, runs, kind, monkeypatch):
    monkeypatch.setattr(sweeps, "_layout_check", lambda m, base: (None, "pretend the block has no output projection"))
    got, result = sweep(model, kind)
    assert result["method"] == "suffix" and not result["head_entry"] and "pretend" in result["head_entry_reason"]
    assert (got - reference_values(model, runs, kind, False)).abs().max().item() <= TOL


def test_layout_check_refuses_blocks_that_do_not_recompose(model, runs):
    """A block whose halves do not add up to its output (here: a resid_mid that is not
    resid_pre + attn_out) fails the check, with the reason."""
    base = blocks._run_base(model, runs["full"]["corrupted"], blocks._base_names(model, blocks._layout_names(model)))
    layout, reason = blocks._layout_check(model, base)
    assert layout == blocks._Layout(parallel=False, mlp_norm="ln2") and reason is None
    broken = blocks.BaseRun(base.tokens, base.logits, dict(base.cache.cache_dict), base.block_args, base.kv)
    broken.cache["blocks.0.hook_resid_mid"] = base.act("blocks.0.hook_resid_pre")
    layout, reason = blocks._layout_check(model, broken)
    assert layout is None and "does not recompose" in reason


def test_bad_sweep_input(model):
    with pytest.raises(LensError) as e:
        sweep(model, "resid_pre", clean=["When John and Mary went to the shops, John gave the bag to"] * 2)
    assert e.value.kind == "shape_mismatch" and "same [batch, pos] token shape" in str(e.value)
    with pytest.raises(LensError) as e:
        sweep(model, "resid_pree")
    assert "unknown patching kind" in str(e.value) and "resid_pre" in str(e.value)
    with pytest.raises(LensError) as e:
        sweep(model, "resid_pre", metric={"type": "logit_diff", "answers": [[" Mary and", " John"]]})
    assert e.value.kind == "not_single_token"
    with pytest.raises(LensError) as e:
        sweep(model, "resid_pre", metric={"type": "logit_diff", "answers": [[" Mary", " John"]], "positions": [12, 3]})
    assert "out of range" in str(e.value)
    with pytest.raises(LensError) as e:
        sweep(model, "resid_pre", chunk_size=0)
    assert "chunk_size" in str(e.value)
    with pytest.raises(LensError) as e:
        sweep(model, "resid_pre", method="fast")
    assert "method must be one of" in str(e.value)


# -- path patching -----------------------------------------------------------------------------

def plain_path_patching(model, base_tokens, base_cache, source_cache, metric, receivers):
    """Seed 002's two runs per sender head, written out with hooks: the reference.

    receivers: (hook name, heads or None for the whole activation)."""
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    out = torch.zeros(n_layers, n_heads)
    names = {n for n, _ in receivers}
    for layer in range(n_layers):
        for head in range(n_heads):
            def freeze(z, hook, layer=layer, head=head):
                z = base_cache[hook.name].clone()
                if hook.layer() == layer:
                    z[:, :, head] = source_cache[hook.name][:, :, head]
                return z

            with model.hooks(fwd_hooks=[(f"blocks.{l}.attn.hook_z", freeze) for l in range(n_layers)]):
                _, recorded = model.run_with_cache(base_tokens, names_filter=lambda n: n in names)
            hooks = []
            for name, heads in receivers:
                if heads is None:
                    hooks.append((name, lambda act, hook, name=name: recorded[name]))
                else:
                    def replace(act, hook, name=name, heads=heads):
                        act = act.clone()
                        act[:, :, heads] = recorded[name][:, :, heads]
                        return act
                    hooks.append((name, replace))
            out[layer, head] = metric(model.run_with_hooks(base_tokens, fwd_hooks=hooks))
    return out


PATH_CASES = [
    ({"type": "final"}, [("blocks.1.hook_resid_post", None)]),
    ({"type": "resid", "hook": "resid_pre", "layers": [1]}, [("blocks.1.hook_resid_pre", None)]),
    ({"type": "resid", "hook": "resid_mid", "layer": -2}, [("blocks.0.hook_resid_mid", None)]),
    ({"type": "heads", "heads": [[1, 1], [1, 3, "q"], [1, 0, "k"]], "input": "v"},
     [("blocks.1.attn.hook_v", [1]), ("blocks.1.attn.hook_q", [3]), ("blocks.1.attn.hook_k", [0])]),
]


@pytest.mark.parametrize("case", range(len(PATH_CASES)))
@pytest.mark.parametrize("direction", ["denoise", "noise"])
def test_path_patching_matches_a_plain_loop(model, runs, case, direction):
    receivers, hooks = PATH_CASES[case]
    r = runs["full"]
    base, source = ("corrupted", "clean") if direction == "denoise" else ("clean", "corrupted")
    metric = metric_from_spec(None, model, SPEC, r[base])
    ref = plain_path_patching(model, r[base], r[base + "_cache"], r[source + "_cache"], metric, hooks)
    s = Session()
    for method, shortcut in (("auto", True), ("auto", False), ("batched", False)):
        result, _ = s.dispatch("patching.path_patch", {"model": {"$h": s.handles.put(model)}, "clean": CLEAN, "corrupted": CORRUPTED,
                                                       "metric": SPEC, "receivers": receivers, "direction": direction,
                                                       "method": method, "chunk_size": 3, "frozen_shortcut": shortcut}, [])
        got = s.handles.get(result["values"]["$tensor"])
        assert result["method"] == ("suffix" if method == "auto" else "batched") and result["frozen_shortcut"] == shortcut
        assert (got - ref).abs().max().item() <= TOL, (method, shortcut, got, ref)
    assert (ref - result["base_value"]).abs().max().item() > 100 * TOL
    assert result["first_difference"] == 7  # positions before it are not recomputed
    assert result["base_value"] == result["corrupted_value" if direction == "denoise" else "clean_value"]


def test_path_patching_options_and_receiver_inputs(model, runs):
    s = Session()
    h = {"$h": s.handles.put(model)}
    args = {"model": h, "clean": CLEAN, "corrupted": CORRUPTED, "metric": SPEC}
    result, _ = s.dispatch("patching.path_patch", {**args, "receivers": {"type": "heads", "heads": [[1, 2]], "input": "v"},
                                                   "sender_layers": [1]}, [])
    got = s.handles.get(result["values"]["$tensor"])
    assert torch.isnan(got[0]).all() and result["measured_senders"] == []  # layer 1 heads cannot reach layer 1's v
    assert (got[1] == result["base_value"]).all()
    result, _ = s.dispatch("patching.path_patch", {**args, "receivers": {"type": "heads", "heads": [[1, 2]], "input": "v"}}, [])
    got = s.handles.get(result["values"]["$tensor"])
    # patching a head's hook_v equals patching its own copy of the residual, hook_v_input
    r = runs["full"]
    model.set_use_split_qkv_input(True)
    try:
        for sender in (0, 3):
            def freeze(z, hook):
                z = r["corrupted_cache"][hook.name].clone()
                if hook.layer() == 0:
                    z[:, :, sender] = r["clean_cache"][hook.name][:, :, sender]
                return z

            with model.hooks(fwd_hooks=[(f"blocks.{l}.attn.hook_z", freeze) for l in range(2)]):
                _, rec = model.run_with_cache(r["corrupted"], names_filter=lambda n: n == "blocks.1.hook_v_input")

            def replace(act, hook):
                act = act.clone()
                act[:, :, 2] = rec["blocks.1.hook_v_input"][:, :, 2]
                return act

            value = r["metric"](model.run_with_hooks(r["corrupted"], fwd_hooks=[("blocks.1.hook_v_input", replace)]))
            assert abs(value.item() - got[0, sender].item()) <= TOL
    finally:
        model.set_use_split_qkv_input(False)


@pytest.mark.parametrize("receivers, words", [
    ({"type": "heads", "heads": [[1, 4]], "input": "v"}, "unknown receiver head [1, 4]"),
    ({"type": "heads", "heads": [[2, 0]], "input": "q"}, "out of range for a model with 2 layers"),
    ({"type": "heads", "heads": [[1, 0]]}, "say which input"),
    ({"type": "resid", "hook": "resid_out", "layers": [1]}, "receiver hook must be one of"),
    ({"type": "logits"}, "receivers must be"),
])
def test_bad_receivers(model, receivers, words):
    s = Session()
    with pytest.raises(LensError) as e:
        s.dispatch("patching.path_patch", {"model": {"$h": s.handles.put(model)}, "clean": CLEAN, "corrupted": CORRUPTED,
                                           "metric": SPEC, "receivers": receivers}, [])
    assert words in str(e.value), str(e.value)
