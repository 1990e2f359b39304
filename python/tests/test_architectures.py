"""Fast patching on nine architectures: every sweep kind and path patching, on tiny random-init
Hugging Face models built here from configs (``tiny_archs``), equal TransformerLens' own
(``transformer_lens.patching``, a plain hook loop) to 1e-5, with the fast path asserted taken.

The models load as lens4j loads a local directory (``TransformerBridge.boot_transformers``
in compatibility mode). Each is 2 layers, d_model 32, 4 heads (2 key/value heads on the
LLaMA family); their logits are of order 1-10, so a patch that hit the wrong cell or a block
run with the wrong rotary positions, mask or final soft-cap would fail the tolerance.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from test_patching import plain_path_patching, reference
from tiny_archs import ARCHITECTURES, make_arch_model

from lens4j_bridge.errors import LensError
from lens4j_bridge.ops.patching import blocks, common
from lens4j_bridge.ops.metrics import metric_from_spec
from lens4j_bridge.session import Session

CLEAN = ["When John and Mary went, John gave it to", "When Tom and James went, James gave it to"]
CORRUPTED = ["When John and Mary went, Mary gave it to", "When Tom and James went, Tom gave it to"]
SPEC = {"type": "logit_diff", "answers": [[" Mary", " John"], [" Tom", " James"]]}
TOL = 1e-5
PARALLEL = {"gpt_neox", "phi"}  # attention and MLP read the same residual: no resid_mid
# why the head-output entry / frozen shortcut is off, where it is
NO_LAYOUT = {"opt": "containerless"}


@pytest.fixture(scope="module", params=ARCHITECTURES)
def arch(request, tmp_path_factory):
    from transformer_lens.model_bridge import TransformerBridge

    name = request.param
    out = make_arch_model(name, tmp_path_factory.mktemp(name) / name)
    torch.set_grad_enabled(False)
    model = TransformerBridge.boot_transformers(str(out), device="cpu", dtype=torch.float32)
    model.enable_compatibility_mode(disable_warnings=True)
    clean, corrupted = model.to_tokens(CLEAN), model.to_tokens(CORRUPTED)
    assert clean.shape == corrupted.shape
    runs = {}
    n = clean.shape[1]
    # the sweeps whose reference loop is quadratic in length run on the last 6 tokens
    for key, cut in (("full", slice(0, n)), ("short", slice(n - 6, n))):
        c, r = clean[:, cut], corrupted[:, cut]
        clean_logits, clean_cache = model.run_with_cache(c)
        runs[key] = dict(clean=c, corrupted=r, clean_cache=clean_cache, metric=metric_from_spec(None, model, SPEC, r),
                         clean_logits=clean_logits)
    return name, model, runs


def lens_sweep(model, runs, kind, short):
    r = runs["short" if short else "full"]
    events = []
    s = Session(progress=lambda done, total, msg: events.append(msg))
    args = dict(model={"$h": s.handles.put(model)}, kind=kind, metric=SPEC,
                clean={"$h": s.handles.put(r["clean"])}, corrupted={"$h": s.handles.put(r["corrupted"])})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # e.g. the bridge's "RoPE was NOT applied"
        result, _ = s.dispatch("patching.sweep", args, [])
    return s.handles.get(result["values"]["$tensor"]), result, events


QUADRATIC = {"attn_head_pattern_dest_src_pos"}
SWEEPS = sorted(common.KINDS)


def test_logits_are_of_order_one_to_ten(arch):
    name, model, runs = arch
    logits = runs["full"]["clean_logits"]
    assert 1.0 <= logits.abs().max().item() <= 30.0 and logits.std().item() >= 0.5, name


@pytest.mark.parametrize("kind", SWEEPS)
def test_sweep_takes_the_fast_path_and_equals_transformer_lens(arch, kind):
    name, model, runs = arch
    act = common.KINDS[kind][0]
    short = kind in QUADRATIC
    if kind == "resid_mid" and name in PARALLEL:
        with pytest.raises(LensError) as e:
            lens_sweep(model, runs, kind, short)
        assert "parallel" in str(e.value) and "resid_pre" in str(e.value)
        return
    r = runs["short" if short else "full"]
    ref = reference(kind)(model, r["corrupted"], r["clean_cache"], r["metric"])
    got, result, events = lens_sweep(model, runs, kind, short)
    assert result["method"] == "suffix" and result["fallback_reason"] is None, result["fallback_reason"]
    assert result["last_block_tail"]
    assert got.shape == ref.shape
    err = (got - ref).abs().max().item()
    assert err <= TOL, (name, kind, err)
    if not (name == "opt" and act == "pattern"):
        assert (ref - result["corrupted_value"]).abs().max().item() > 1e-3  # the patches moved the metric
    # (TransformerLens fires OPT's hook_pattern after the fact: a pattern patch changes nothing
    # there, and lens4j gives the same unchanged values)
    if act == "z":
        if name in NO_LAYOUT:
            assert not result["head_entry"] and NO_LAYOUT[name] in result["head_entry_reason"]
            assert any("head-output entry" in e for e in events)  # the reason reaches the progress listener
        else:
            assert result["head_entry"] and result["head_entry_reason"] is None
            assert result["parallel_blocks"] == (name in PARALLEL)
    else:
        assert not result["head_entry"]
    assert not any("method is off" in e for e in events)  # no fallback line on the progress listener


@pytest.mark.parametrize("every", sorted(common.EVERY))
def test_every_sweeps_stack_the_checked_kinds(arch, every):
    name, model, runs = arch
    subs, axes, _ = common.EVERY[every]
    short = every == "attn_head_by_pos_every"
    if "head" in every and model.cfg.n_key_value_heads not in (None, model.cfg.n_heads):
        with pytest.raises(LensError) as e:
            lens_sweep(model, runs, every, short)
        assert "n_key_value_heads" in str(e.value)
        return
    if every == "block_every" and name in PARALLEL:
        subs = subs  # block_every is resid_pre / attn_out / mlp_out: no resid_mid needed
    got, result, _ = lens_sweep(model, runs, every, short)
    assert result["method"] == "suffix"
    r = runs["short" if short else "full"]
    for i, kind in enumerate(subs):
        ref = reference(kind)(model, r["corrupted"], r["clean_cache"], r["metric"])
        if common.KINDS[kind][1] == ("layer", "head_index", "dest_pos"):
            ref = ref.transpose(1, 2)
        assert (got[i] - ref).abs().max().item() <= TOL, (name, every, kind)


@pytest.mark.parametrize("direction", ["denoise", "noise"])
def test_path_patching_takes_the_fast_path_and_equals_a_plain_loop(arch, direction):
    name, model, runs = arch
    r = runs["full"]
    n = model.cfg.n_layers
    tokens = {"clean": r["clean"], "corrupted": r["corrupted"]}
    base, source = ("corrupted", "clean") if direction == "denoise" else ("clean", "corrupted")
    _, base_cache = model.run_with_cache(tokens[base])
    _, source_cache = model.run_with_cache(tokens[source])
    metric = metric_from_spec(None, model, SPEC, tokens[base])
    s = Session(progress=lambda *a: None)
    h = {"$h": s.handles.put(model)}
    cases = [({"type": "final"}, [(f"blocks.{n - 1}.hook_resid_post", None)]),
             ({"type": "heads", "heads": [[n - 1, 3, "q"], [n - 1, 1, "v"]]},
              [(f"blocks.{n - 1}.attn.hook_q", [3]), (f"blocks.{n - 1}.attn.hook_v", [1])])]
    for receivers, hooks in cases:
        ref = plain_path_patching(model, tokens[base], base_cache, source_cache, metric, hooks)
        result, _ = s.dispatch("patching.path_patch", {"model": h, "clean": {"$h": s.handles.put(r["clean"])},
                                                       "corrupted": {"$h": s.handles.put(r["corrupted"])}, "metric": SPEC,
                                                       "receivers": receivers, "direction": direction}, [])
        got = s.handles.get(result["values"]["$tensor"])
        assert result["method"] == "suffix" and result["fallback_reason"] is None, result["fallback_reason"]
        if name in NO_LAYOUT:
            assert not result["frozen_shortcut"] and NO_LAYOUT[name] in result["frozen_shortcut_reason"]
        else:
            assert result["frozen_shortcut"] and result["frozen_shortcut_reason"] is None
        measured = ~torch.isnan(got)
        err = (got[measured] - ref[measured]).abs().max().item()
        assert err <= TOL, (name, receivers, err)
        assert (ref[measured] - result["base_value"]).abs().max().item() > 1e-3


# -- the analyses the same run found wanting on other architectures ------------------------------

def _dla(model, cache, **kwargs):
    s = Session()
    result, _ = s.dispatch("analysis.logit_diff_attribution", {"model": {"$h": s.handles.put(model)}, "cache": {"$h": s.handles.put(cache)},
                                                               "answers": SPEC["answers"], "by": "accumulated", **kwargs}, [])
    return result, s


def test_accumulated_dla_follows_the_architecture(arch):
    name, model, runs = arch
    r = runs["full"]
    _, cache = model.run_with_cache(r["corrupted"])
    result, s = _dla(model, cache)
    mid = name not in PARALLEL
    assert result["incl_mid"] == mid
    # TransformerLens' own accumulated stack, the same way
    stack = cache.accumulated_resid(layer=-1, incl_mid=mid, pos_slice=-1)
    scaled = cache.apply_ln_to_stack(stack, layer=-1, pos_slice=-1)
    pairs = torch.tensor([[model.to_single_token(a), model.to_single_token(b)] for a, b in SPEC["answers"]])
    dirs = model.tokens_to_residual_directions(pairs)
    want = torch.einsum("cbd,bd->c", scaled, dirs[:, 0] - dirs[:, 1]) / 2
    got = s.handles.get(result["attributions"]["$tensor"])
    assert got.shape == want.shape and (got - want).abs().max().item() <= TOL
    if not mid:
        with pytest.raises(LensError) as e:
            _dla(model, cache, incl_mid=True)
        assert "parallel" in str(e.value) and "incl_mid=False" in str(e.value)
    if name == "gemma2":  # DLA is linear: it cannot include the soft-cap, and says so
        assert "soft-cap 5" in result["output_transform"]
    else:
        assert result["output_transform"] is None


def _lens(model, tokens, **kwargs):
    s = Session()
    result, _ = s.dispatch("analysis.logit_lens", {"model": {"$h": s.handles.put(model)}, "input": {"$h": s.handles.put(tokens)},
                                                   **kwargs}, [])
    return result, s


def test_logit_lens_sources_on_each_architecture(arch):
    name, model, runs = arch
    tokens = runs["full"]["corrupted"]
    if name == "phi":  # no ln2: the error names the sources that exist
        with pytest.raises(LensError) as e:
            _lens(model, tokens)
        assert "'resid_post'" in str(e.value) and "'accumulated_resid'" in str(e.value) and "ln2" in str(e.value)
    else:
        result, s = _lens(model, tokens, positions=[-1])
        # each row is ln2.hook_normalized unembedded; OPT's bridge gives it flattened as [batch*pos, d]
        _, cache = model.run_with_cache(tokens)
        for layer in range(model.cfg.n_layers):
            act = cache[f"blocks.{layer}.ln2.hook_normalized"]
            if name == "opt":
                assert act.dim() == 2
            act = act.reshape(tokens.shape[0], tokens.shape[1], -1)
            want = model.unembed(act[:, -1:]).log_softmax(-1).topk(5, dim=-1)
            got = s.handles.get(result["top_probs"]["$tensor"])[layer]
            assert (got - want.values.exp()).abs().max().item() <= TOL
    # the last resid_post row is the model's output only through the model's own output transform
    for applied in (False, True):
        result, s = _lens(model, tokens, source="resid_post", positions=[-1], output_transform=applied)
        kl_last = s.handles.get(result["kl"]["$tensor"])[-1].abs().max().item()
        if name == "gemma2":
            assert "soft-cap" in result["output_transform"] and result["output_transform_applied"] == applied
            assert (kl_last <= 1e-5) == applied, kl_last
        else:
            assert result["output_transform"] is None and kl_last <= 1e-5


def test_an_argument_the_suffix_method_cannot_cut_turns_it_off_with_its_name(bridge):
    """A block argument that varies with position and is not one the suffix method knows
    (rotary embeddings, mask, position ids) falls back to the full forward, naming it."""
    tokens = bridge.to_tokens(CORRUPTED)
    base = blocks._run_base(bridge, tokens, blocks._base_names(bridge))
    assert blocks._suffix_check(bridge, base) == (None, True)
    odd = dict(base.block_args[1])
    odd["alibi_bias"] = torch.zeros(tokens.shape[0], 4, tokens.shape[1], tokens.shape[1])
    changed = blocks.BaseRun(base.tokens, base.logits, base.cache, [base.block_args[0], odd], base.kv)
    reason, tail = blocks._suffix_check(bridge, changed)
    assert "'alibi_bias'" in reason and "position" in reason and not tail
    no_kv = blocks.BaseRun(base.tokens, base.logits, base.cache, base.block_args, [None, None])
    reason, _ = blocks._suffix_check(bridge, no_kv)
    assert "keys and values" in reason
