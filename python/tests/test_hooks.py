"""Hooks area: every declarative action, selector, Java-style callback hook, added hooks,
gradients and generation, each checked against the same hook written directly in Python
against TransformerLens (fp32, max abs diff <= 1e-5)."""

from __future__ import annotations

import pytest
import torch

from lens4j_bridge.errors import LensError
from lens4j_bridge.session import Session
from lens4j_bridge.values import Blob

TOL = 1e-5
PROMPTS = ["When John and Mary went to the shops, John gave the bag to",
           "When Tom and James went to the park, James gave the ball to"]
CLEAN = "When John and Mary went to the shops, John gave the bag to"
CORRUPT = "When John and Mary went to the shops, Mary gave the bag to"


def call(s: Session, op: str, **args):
    value, _ = s.dispatch(op, args, [])
    return value


def tensor(s: Session, value) -> torch.Tensor:
    return s.handles.get(value["$tensor"])


def ref(s: Session, obj) -> dict:
    return {"$h": s.handles.put(obj)}


def diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a - b).abs().max().item()


def no_hooks_left(model) -> bool:
    return all(not p.fwd_hooks and not p.bwd_hooks for p in model.hook_dict.values())


@pytest.fixture()
def s() -> Session:
    return Session()


@pytest.fixture()
def model(s, bridge):
    yield ref(s, bridge)
    bridge.reset_hooks(including_permanent=True)  # a failed test must not leak hooks into the next


@pytest.fixture(scope="module")
def tokens(bridge) -> torch.Tensor:
    toks = bridge.to_tokens(PROMPTS)
    assert toks.shape[0] == 2
    return toks


@pytest.fixture(scope="module")
def clean_cache(bridge, tokens):
    return bridge.run_with_cache(tokens.flip(0))[1]  # prompts swapped: a batch-aligned "clean" run


def run_spec(s, model, tokens, spec, **kw) -> dict:
    return call(s, "hooks.run_with_hooks", model=model, input=tokens, hooks=[spec] if isinstance(spec, dict) else spec, **kw)


# -- every action and selector vs a hand-written hook -----------------------------------------

def _cases(s: Session, bridge, tokens, clean_cache):
    d = bridge.cfg.d_model
    g = torch.Generator().manual_seed(1)
    vec = torch.randn(d, generator=g)
    src_full = torch.randn(*tokens.shape, bridge.cfg.n_heads, bridge.cfg.d_head, generator=g)  # hook_q's full shape for the test batch
    C = ref(s, clean_cache)

    def mean_pos(x, hook):
        x[:, [0, 2], :] = x.mean(0, keepdim=True).expand_as(x)[:, [0, 2], :]
        return x

    def per_prompt(x, hook):
        x[0, [1, 3], :] = 0
        x[1, [2], :] = 0
        return x

    def per_prompt_head(x, hook):
        x[0, 1, 1, :] *= 3.0
        x[1, -1, 1, :] *= 3.0
        return x

    def scale_scores(x, hook):
        heads, queries = torch.tensor([1, 3]).view(-1, 1), torch.tensor([1, 5]).view(1, -1)
        x[:, heads, queries] = x[:, heads, queries] * 3.0
        return x

    def composed(x, hook):
        x[:, -2:, :] = x[:, -2:, :] * 0.5
        x += 2.0 * vec  # in place: hook_resid_mid is ln2's input hook, a returned copy would reach ln2 only
        return x

    return [
        ("zero head/pos", {"names": ["blocks.1.attn.hook_z"], "select": {"pos": -1, "head": 1}, "actions": [{"type": "zero"}]},
         "blocks.1.attn.hook_z", lambda x, hook: x.__setitem__((slice(None), -1, 1), 0) or x),
        ("zero range+batch", {"names": ["blocks.0.hook_resid_pre"], "select": {"batch": [1], "pos": {"start": 1, "stop": 4}}, "actions": [{"type": "zero"}]},
         "blocks.0.hook_resid_pre", lambda x, hook: x.__setitem__((1, slice(1, 4)), 0) or x),
        ("mean dim 0, pos list", {"names": ["blocks.0.hook_resid_mid"], "select": {"pos": [0, 2]}, "actions": [{"type": "mean", "dim": 0}]},
         "blocks.0.hook_resid_mid", mean_pos),
        ("mean source", {"names": ["blocks.1.hook_resid_pre"], "select": {"pos": -1}, "actions": [{"type": "mean", "source": ref(s, vec)}]},
         "blocks.1.hook_resid_pre", lambda x, hook: x.__setitem__((slice(None), -1), vec) or x),
        ("mean from cache", {"names": ["blocks.1.hook_mlp_out"], "actions": [{"type": "mean", "dim": 0, "cache": C}]},
         "blocks.1.hook_mlp_out", lambda x, hook: clean_cache["blocks.1.hook_mlp_out"].mean(0, keepdim=True).expand_as(x).clone()),
        ("patch heads list", {"names": ["blocks.0.attn.hook_v"], "select": {"pos": -2, "head": [0, 2]}, "actions": [{"type": "patch", "cache": C}]},
         "blocks.0.attn.hook_v", lambda x, hook: x.__setitem__((slice(None), -2, [0, 2]), clean_cache["blocks.0.attn.hook_v"][:, -2, [0, 2]]) or x),
        ("patch other name", {"names": ["blocks.1.hook_resid_pre"], "select": {"pos": {"start": 2}}, "actions": [{"type": "patch", "cache": C, "name": "blocks.0.hook_resid_pre"}]},
         "blocks.1.hook_resid_pre", lambda x, hook: x.__setitem__((slice(None), slice(2, None)), clean_cache["blocks.0.hook_resid_pre"][:, 2:]) or x),
        ("resample", {"names": ["blocks.0.mlp.hook_post"], "actions": [{"type": "resample", "cache": C, "perm": [0, 0]}]},
         "blocks.0.mlp.hook_post", lambda x, hook: clean_cache["blocks.0.mlp.hook_post"][[0, 0]].clone()),
        ("resample with a seed", {"names": ["blocks.0.mlp.hook_post"], "actions": [{"type": "resample", "cache": C, "seed": 2}]},
         "blocks.0.mlp.hook_post", lambda x, hook: clean_cache["blocks.0.mlp.hook_post"][torch.randperm(2, generator=torch.Generator().manual_seed(2))].clone()),
        ("per-prompt positions of selected prompts", {"names": ["blocks.1.hook_resid_pre"], "select": {"batch": [1], "pos": [[2, -4]]}, "actions": [{"type": "zero"}]},
         "blocks.1.hook_resid_pre", lambda x, hook: x.__setitem__((1, [2, -4]), 0) or x),
        ("add vector", {"names": ["blocks.0.hook_resid_post"], "select": {"batch": 0}, "actions": [{"type": "add", "vector": ref(s, vec), "coeff": 2.0}]},
         "blocks.0.hook_resid_post", lambda x, hook: x.__setitem__(0, x[0] + 2.0 * vec) or x),
        ("add from a Java array", {"names": ["blocks.0.hook_resid_post"], "actions": [{"type": "add", "vector": Blob("float32", (d,), memoryview(vec.numpy().tobytes()))}]},
         "blocks.0.hook_resid_post", lambda x, hook: x + vec),
        ("scale pattern query", {"names": ["blocks.1.attn.hook_pattern"], "select": {"pos": -1, "head": 3}, "actions": [{"type": "scale", "factor": 0.5}]},
         "blocks.1.attn.hook_pattern", lambda x, hook: x.__setitem__((slice(None), 3, -1), x[:, 3, -1] * 0.5) or x),
        ("scale attn_scores", {"names": ["blocks.0.attn.hook_attn_scores"], "select": {"head": [1, 3], "pos": [1, 5]}, "actions": [{"type": "scale", "factor": 3.0}]},
         "blocks.0.attn.hook_attn_scores", scale_scores),
        ("set full-shaped value", {"names": ["blocks.1.attn.hook_q"], "select": {"batch": [0], "head": [1, 2]}, "actions": [{"type": "set", "value": ref(s, src_full)}]},
         "blocks.1.attn.hook_q", lambda x, hook: x.__setitem__((slice(0, 1), slice(None), slice(1, 3)), src_full[0:1, :, 1:3]) or x),
        ("per-prompt positions", {"names": ["blocks.0.hook_resid_pre"], "select": {"pos": [[1, 3], [2]]}, "actions": [{"type": "zero"}]},
         "blocks.0.hook_resid_pre", per_prompt),
        ("per-prompt positions + head", {"names": ["blocks.0.attn.hook_z"], "select": {"pos": [[1], [-1]], "head": 1}, "actions": [{"type": "scale", "factor": 3.0}]},
         "blocks.0.attn.hook_z", per_prompt_head),
        ("composed actions", {"names": ["blocks.1.hook_resid_mid"], "actions": [
            {"type": "scale", "factor": 0.5, "select": {"pos": {"start": -2}}}, {"type": "add", "vector": ref(s, vec), "coeff": 2.0}]},
         "blocks.1.hook_resid_mid", composed),
        ("glob", {"glob": "blocks.*.attn.hook_z", "select": {"head": 0}, "actions": [{"type": "zero"}]},
         lambda n: n.endswith("attn.hook_z"), lambda x, hook: x.__setitem__((slice(None), slice(None), 0), 0) or x),
    ]


def test_every_action_and_selector_matches_a_python_hook(s, model, bridge, tokens, clean_cache):
    cases = _cases(s, bridge, tokens, clean_cache)
    for label, spec, name, python_hook in cases:
        got = tensor(s, run_spec(s, model, tokens, spec)["logits"])
        want = bridge.run_with_hooks(tokens, fwd_hooks=[(name, python_hook)])
        assert diff(got, want) <= TOL, label
        plain = bridge(tokens)
        assert diff(want, plain) > 1e-4, f"{label}: the hook changed nothing, so the test could not fail"
    assert no_hooks_left(bridge)


def test_capture_stores_the_selected_region_after_earlier_actions(s, model, bridge, tokens):
    out = run_spec(s, model, tokens, [
        {"names": ["blocks.1.attn.hook_z"], "select": {"pos": -1, "head": 2},
         "actions": [{"type": "capture", "key": "before"}, {"type": "scale", "factor": 2.0}, {"type": "capture", "key": "after"}]},
        {"names": ["blocks.0.hook_resid_pre"], "select": {"pos": [[0, 2], [1]]}, "actions": [{"type": "capture"}]},
    ], return_type="none")
    assert "logits" not in out
    _, cache = bridge.run_with_cache(tokens)
    z = cache["blocks.1.attn.hook_z"][:, -1:, 2:3]
    caps = {k: tensor(s, v) for k, v in out["captures"].items()}
    assert diff(caps["before"], z) <= TOL and diff(caps["after"], 2 * z) <= TOL
    r = cache["blocks.0.hook_resid_pre"]
    assert diff(caps["blocks.0.hook_resid_pre"], torch.stack([r[0, 0], r[0, 2], r[1, 1]])) <= TOL


def test_resolve_hooks_each_point_once_and_sweeps_past_gated_points(s, model):
    got = call(s, "hooks.resolve", model=model, hooks=[{"names": ["blocks.0.hook_resid_pre", "blocks.0.hook_in"], "actions": [{"type": "zero"}]}])
    assert got == [{"name": "blocks.0.hook_resid_pre", "key": "blocks.0.hook_in", "dir": "fwd", "layer": 0}]
    got = call(s, "hooks.resolve", model=model, hooks={"glob": "blocks.*.attn.hook_*", "actions": [{"type": "capture"}]})
    keys = [g["key"] for g in got]
    assert "blocks.1.attn.hook_z" in keys and "blocks.0.attn.hook_pattern" in keys
    assert not any(k.endswith("hook_result") for k in keys) and len(keys) == len(set(keys))


def test_stop_at_layer_skips_later_hooks_like_transformer_lens(s, model, bridge, tokens):
    spec = [{"names": ["blocks.0.hook_resid_mid"], "actions": [{"type": "scale", "factor": 2.0}]},
            {"names": ["blocks.1.hook_resid_pre"], "actions": [{"type": "capture"}]}]
    out = run_spec(s, model, tokens, spec, stop_at_layer=1)
    want = bridge.run_with_hooks(tokens, stop_at_layer=1, fwd_hooks=[("blocks.0.hook_resid_mid", lambda x, hook: x.mul_(2.0))])
    assert diff(tensor(s, out["logits"]), want) <= TOL and out["captures"] == {}


# -- the seeds' hooks -----------------------------------------------------------------------

def test_seed_000_resid_pre_patching_at_each_position(s, model, bridge):
    clean_tokens, corrupt_tokens = bridge.to_tokens(CLEAN), bridge.to_tokens(CORRUPT)
    assert clean_tokens.shape == corrupt_tokens.shape
    _, clean_cache = bridge.run_with_cache(clean_tokens)
    C = ref(s, clean_cache)

    def activation_patching_hook(resid_pre, hook, position):
        resid_pre[:, position, :] = clean_cache[hook.name][:, position, :]
        return resid_pre

    from functools import partial
    from transformer_lens.utilities import get_act_name

    for layer in range(bridge.cfg.n_layers):
        name = get_act_name("resid_pre", layer)
        for position in range(clean_tokens.shape[1]):
            want = bridge.run_with_hooks(corrupt_tokens, fwd_hooks=[(name, partial(activation_patching_hook, position=position))])
            got = run_spec(s, model, corrupt_tokens, {"names": [name], "select": {"pos": position}, "actions": [{"type": "patch", "cache": C}]})
            assert diff(tensor(s, got["logits"]), want) <= TOL, (layer, position)
    assert no_hooks_left(bridge)


def test_seed_004_zero_mean_patch_of_one_heads_z_at_the_last_position(s, model, bridge):
    corrupt_tokens = bridge.to_tokens(CORRUPT)
    _, cache = bridge.run_with_cache(bridge.to_tokens(CLEAN))
    C = ref(s, cache)

    def patch_head_vector(z, hook, head_index):
        z[:, -1, head_index, :] = cache[hook.name][:, -1, head_index, :]
        return z

    def zero_ablation(z, hook, head_index):
        z[:, -1, head_index, :] = 0
        return z

    def mean_ablation(z, hook, head_index):
        z[:, -1, head_index, :] = cache[hook.name][:, -1, head_index, :].mean(dim=1, keepdim=True)
        return z

    from functools import partial
    from transformer_lens.utilities import get_act_name

    actions = [(patch_head_vector, {"type": "patch", "cache": C}), (zero_ablation, {"type": "zero"}),
               (mean_ablation, {"type": "mean", "dim": 3, "cache": C})]  # the seed averages over d_head
    for layer in range(bridge.cfg.n_layers):
        name = get_act_name("z", layer, "attn")
        for head in range(bridge.cfg.n_heads):
            for fn, action in actions:
                want = bridge.run_with_hooks(corrupt_tokens, fwd_hooks=[(name, partial(fn, head_index=head))], return_type="logits")
                got = run_spec(s, model, corrupt_tokens, {"names": [name], "select": {"pos": -1, "head": head}, "actions": [action]})
                assert diff(tensor(s, got["logits"]), want) <= TOL, (layer, head, fn.__name__)


def test_seed_001_pattern_scores_from_a_glob_capture(s, model, bridge):
    seq_len, n_layers, n_heads = 12, bridge.cfg.n_layers, bridge.cfg.n_heads
    g = torch.Generator().manual_seed(0)
    original = torch.randint(5, bridge.cfg.d_vocab, (2, seq_len), generator=g)
    repeated = torch.cat([original, original], dim=1)
    scores = {k: torch.zeros(n_layers, n_heads) for k in ("prev", "dup", "induction")}

    def score_hook(key, offset):
        def hook_fn(pattern, hook):
            scores[key][hook.layer()] = pattern.diagonal(offset=offset, dim1=-1, dim2=-2).mean(dim=(0, 2))
        return hook_fn

    pattern_filter = lambda name: name.endswith("hook_pattern")
    want_loss = bridge.run_with_hooks(repeated, return_type="loss", fwd_hooks=[
        (pattern_filter, score_hook("prev", 1)), (pattern_filter, score_hook("dup", seq_len)), (pattern_filter, score_hook("induction", seq_len - 1))])

    out = run_spec(s, model, repeated, {"glob": "blocks.*.attn.hook_pattern", "actions": [{"type": "capture", "key": "{layer}"}]}, return_type="loss")
    assert abs(tensor(s, out["loss"]).item() - want_loss.item()) <= TOL
    assert sorted(out["captures"]) == [str(layer) for layer in range(n_layers)]
    for key, offset in (("prev", 1), ("dup", seq_len), ("induction", seq_len - 1)):
        got = torch.stack([tensor(s, out["captures"][str(layer)]).diagonal(offset=offset, dim1=-1, dim2=-2).mean(dim=(0, 2))
                           for layer in range(n_layers)])
        assert diff(got, scores[key]) <= TOL, key
        assert scores[key].abs().sum() > 0


def test_seed_001_ablate_then_cache_with_an_added_hook(s, model, bridge, tokens):
    layer, head = 1, 2

    def ablate_top_head_hook(z, hook):
        z[:, -1, head, :] = 0
        return z

    bridge.blocks[layer].attn.hook_z.add_hook(ablate_top_head_hook)
    try:
        want_logits, want_cache = bridge.run_with_cache(tokens)
    finally:
        bridge.reset_hooks()
    hs = call(s, "hooks.add", model=model, hooks=[{"names": [f"blocks.{layer}.attn.hook_z"], "select": {"pos": -1, "head": head}, "actions": [{"type": "zero"}]}])
    out = call(s, "hooks.run_with_cache", model=model, input=tokens, names=["ln_final.hook_scale", f"blocks.{layer}.attn.hook_z"])
    got_cache = s.handles.get(out["cache"]["$h"])
    assert diff(tensor(s, out["logits"]), want_logits) <= TOL
    for key in ("ln_final.hook_scale", f"blocks.{layer}.attn.hook_z"):
        assert diff(got_cache[key], want_cache[key]) <= TOL
    assert got_cache[f"blocks.{layer}.attn.hook_z"][:, -1, head].abs().max() == 0
    assert call(s, "hooks.remove", hook_set={"$h": hs["$h"]}) == 1
    assert no_hooks_left(bridge)


# -- added hooks, reset -------------------------------------------------------------------------

def test_added_hooks_persist_until_reset_and_permanent_ones_until_reset_including_permanent(s, model, bridge, tokens):
    plain = bridge(tokens)
    zero = {"names": ["blocks.0.attn.hook_z"], "select": {"head": 0}, "actions": [{"type": "zero"}, {"type": "capture", "key": "z0", "append": True}]}
    want = bridge.run_with_hooks(tokens, fwd_hooks=[("blocks.0.attn.hook_z", lambda z, hook: z.__setitem__((slice(None), slice(None), 0), 0) or z)])
    temp = call(s, "hooks.add", model=model, hooks=[zero])
    assert temp["hooks"] == [{"name": "blocks.0.attn.hook_z", "key": "blocks.0.attn.hook_z", "dir": "fwd", "layer": 0}]
    for _ in range(2):
        assert diff(tensor(s, call(s, "model.forward", model=model, input=tokens)["logits"]), want) <= TOL
    caps = call(s, "hooks.captures", hook_set={"$h": temp["$h"]})
    assert len(caps["z0"]) == 2 and call(s, "hooks.captures", hook_set={"$h": temp["$h"]}) == {}
    assert call(s, "hooks.list", model=model) == {"blocks.0.attn.hook_z": {"fwd": 1, "bwd": 0, "permanent": 0}}
    assert call(s, "hooks.reset", model=model) == {"removed": 1}
    assert diff(tensor(s, call(s, "model.forward", model=model, input=tokens)["logits"]), plain) <= TOL

    perm = call(s, "hooks.add", model=model, hooks=[zero], permanent=True)
    assert call(s, "hooks.reset", model=model) == {"removed": 0}
    assert call(s, "hooks.reset", model=model, direction="bwd", including_permanent=True) == {"removed": 0}
    assert diff(tensor(s, call(s, "model.forward", model=model, input=tokens)["logits"]), want) <= TOL
    assert call(s, "hooks.reset", model=model, including_permanent=True) == {"removed": 1}
    assert call(s, "hooks.remove", hook_set={"$h": perm["$h"]}) == 0  # already gone
    assert no_hooks_left(bridge)
    assert diff(tensor(s, call(s, "model.forward", model=model, input=tokens)["logits"]), plain) <= TOL


# -- Java hooks through the callback path ----------------------------------------------------------

def test_java_hooks_read_modify_in_place_and_replace(bridge, tokens):
    seen: list[dict] = []
    box: dict = {}

    def java(name, args, blobs):
        assert name == "hook"
        sess = box["s"]
        act = sess.handles.get(args["activation"]["$tensor"])
        seen.append({"id": args["id"], "name": args["name"], "layer": args["layer"], "shape": list(act.shape)})
        if args["id"] == 1:  # read only
            return None, []
        if args["id"] == 2:  # modify in place through an op, as Java's tensor.copy_ would
            value, _ = sess.dispatch("tensor.arith", {"tensor": {"$h": args["activation"]["$tensor"]}, "fn": "mul", "other": 0.0}, [])
            sess.dispatch("tensor.copy_", {"tensor": {"$h": args["activation"]["$tensor"]}, "source": {"$h": value["$tensor"]}}, [])
            return None, []
        value, _ = sess.dispatch("tensor.arith", {"tensor": {"$h": args["activation"]["$tensor"]}, "fn": "mul", "other": 2.0}, [])  # nested call
        return {"$h": value["$tensor"]}, []

    s = Session(callback=java)
    box["s"] = s
    model = ref(s, bridge)
    handles_before = len(s.handles)
    out = run_spec(s, model, tokens, [
        {"names": ["blocks.0.hook_resid_pre"], "actions": [{"type": "java", "id": 1}]},
        {"names": ["blocks.1.attn.hook_z"], "select": {"pos": -1, "head": 1}, "actions": [{"type": "java", "id": 2}]},
        {"names": ["blocks.1.hook_resid_mid"], "select": {"pos": [0, 3]}, "actions": [{"type": "java", "id": 2}]},
        {"names": ["blocks.1.hook_mlp_out"], "actions": [{"type": "java", "id": 3}]},
    ])

    def zero_z(z, hook):
        z[:, -1, 1, :] = 0
        return z

    def zero_mid(x, hook):
        x[:, [0, 3], :] = 0
        return x

    want = bridge.run_with_hooks(tokens, fwd_hooks=[("blocks.1.attn.hook_z", zero_z), ("blocks.1.hook_resid_mid", zero_mid),
                                                    ("blocks.1.hook_mlp_out", lambda x, hook: x * 2.0)])
    assert diff(tensor(s, out["logits"]), want) <= TOL
    assert [x["id"] for x in seen] == [1, 2, 2, 3]
    assert seen[0] == {"id": 1, "name": "blocks.0.hook_resid_pre", "layer": 0, "shape": list(tokens.shape) + [bridge.cfg.d_model]}
    assert seen[1]["shape"] == [2, 1, 1, bridge.cfg.d_head] and seen[2]["shape"] == [2, 2, bridge.cfg.d_model]
    # Activations were lent only for the callback; the handles left are the ones "Java" made, and the result.
    assert len(s.handles) == handles_before + 2 + 1 + 1
    assert no_hooks_left(bridge)


def test_a_failing_java_hook_aborts_the_run_and_leaves_no_hooks(bridge, tokens):
    def java(name, args, blobs):
        if args["id"] == 9:
            raise LensError("Java hook failed: IllegalStateException: boom", "callback_failed")
        raise RuntimeError("boom from python")

    s = Session(callback=java)
    model = ref(s, bridge)
    added = call(s, "hooks.add", model=model, hooks=[{"names": ["blocks.0.hook_resid_pre"], "actions": [{"type": "zero"}]}], permanent=True)
    spec = [{"names": ["blocks.0.attn.hook_z"], "actions": [{"type": "capture"}]},
            {"names": ["blocks.1.attn.hook_pattern"], "actions": [{"type": "java", "id": 9}]}]
    with pytest.raises(LensError) as e:
        run_spec(s, model, tokens, spec)
    assert e.value.kind == "callback_failed" and "boom" in str(e.value)
    with pytest.raises(RuntimeError, match="boom from python"):
        call(s, "hooks.run_with_cache", model=model, input=tokens, hooks=[{"names": ["hook_embed"], "actions": [{"type": "java", "id": 1}]}])
    with pytest.raises(LensError):
        call(s, "hooks.generate", model=model, input="When John", hooks=[{"names": ["blocks.1.hook_resid_pre"], "actions": [{"type": "java", "id": 9}]}])
    with pytest.raises(LensError):
        call(s, "hooks.run_with_cache", model=model, input=tokens, incl_bwd=True,
             hooks=[{"dir": "bwd", "names": ["blocks.1.hook_resid_pre"], "actions": [{"type": "java", "id": 9}]}])
    # Only the hook added on purpose is left, and no activation handle leaked.
    assert call(s, "hooks.list", model=model) == {"blocks.0.hook_in": {"fwd": 1, "bwd": 0, "permanent": 1}}
    assert s.handles.count_by_type() == {"TransformerBridge": 1, "HookSet": 1}
    call(s, "hooks.remove", hook_set={"$h": added["$h"]})
    assert no_hooks_left(bridge)


def test_bad_specs_fail_before_the_run_and_name_what_is_valid(s, model, bridge, tokens):
    def fails(spec, kind="bad_argument", text=""):
        with pytest.raises(LensError) as e:
            run_spec(s, model, tokens, spec)
        assert e.value.kind == kind and text in str(e.value), str(e.value)

    fails({"names": ["blocks.0.attn.hook_zz"], "actions": [{"type": "zero"}]}, "unknown_hook", "blocks.0.attn.hook_z")
    fails({"glob": "blocks.*.attn.hook_patern", "actions": [{"type": "zero"}]}, "unknown_hook", "matches no hook name")
    fails({"names": ["blocks.0.hook_resid_pre"], "select": {"head": 1}, "actions": [{"type": "zero"}]}, text="no head axis")
    fails({"names": ["blocks.0.attn.hook_z"], "select": {"head": 7}, "actions": [{"type": "zero"}]}, text="out of range")
    fails({"names": ["blocks.0.attn.hook_z"], "actions": [{"type": "ablate"}]}, text="valid: ['zero'")
    fails({"names": ["blocks.0.attn.hook_z"], "actions": [{"type": "scale", "factr": 2}]}, text="unknown key(s) ['factr']")
    fails({"names": ["blocks.0.attn.hook_z"], "dir": "bwd", "actions": [{"type": "zero"}]}, text="incl_bwd=True")
    fails({"names": ["blocks.0.attn.hook_result"], "actions": [{"type": "zero"}]}, "unknown_hook", "use_attn_result")
    fails({"names": ["blocks.0.hook_resid_pre"], "actions": [{"type": "patch", "cache": ref(s, bridge.run_with_cache(tokens, names_filter=["hook_embed"])[1])}]},
          "unknown_hook", "cache holds no")
    # Errors that only the activation can reveal abort the run and leave no hooks.
    fails({"names": ["blocks.0.hook_resid_pre"], "select": {"pos": 40}, "actions": [{"type": "zero"}]}, text="pos index 40 is out of range")
    fails({"names": ["blocks.0.hook_resid_pre"], "actions": [{"type": "set", "value": ref(s, torch.zeros(3, 5))}]}, "shape_mismatch", "fits neither")
    assert no_hooks_left(bridge)


# -- gradients --------------------------------------------------------------------------------

def test_gradients_in_the_cache_match_transformer_lens_and_a_hand_written_backward(s, model, bridge, tokens):
    names = ["blocks.0.hook_resid_pre", "blocks.1.attn.hook_z", "blocks.1.attn.hook_pattern", "blocks.1.hook_mlp_out"]
    out = call(s, "hooks.run_with_cache", model=model, input=tokens, names=names, incl_bwd=True, return_type="both")
    cache = s.handles.get(out["cache"]["$h"])
    assert all(p.grad is None for p in bridge.parameters())  # the op leaves no parameter gradients behind
    with torch.set_grad_enabled(True):
        want_loss, want = bridge.run_with_cache(tokens, names_filter=names, incl_bwd=True, return_type="loss")
    assert abs(out["metric"] - want_loss.item()) <= TOL and abs(tensor(s, out["loss"]).item() - want_loss.item()) <= TOL
    for n in names:
        assert diff(cache[n + "_grad"], want[n + "_grad"]) <= TOL, n
        assert cache[n + "_grad"].abs().max() > 0
    bridge.zero_grad(set_to_none=True)  # TransformerLens' own incl_bwd leaves them

    # A logit difference, against a plain backward pass with retain_grad.
    good, bad = [5, 7], [9, 11]
    spec = {"type": "logit_diff", "good": good, "bad": bad, "pos": -1}
    out = call(s, "hooks.run_with_cache", model=model, input=tokens, names=names, incl_bwd=True, backward_of=spec)
    cache = s.handles.get(out["cache"]["$h"])
    kept = {}

    def keep(x, hook):
        x = x.clone()
        x.retain_grad()
        kept[hook.name] = x
        return x

    with torch.set_grad_enabled(True):
        logits = bridge.run_with_hooks(tokens, fwd_hooks=[(n, keep) for n in names])
        metric = (logits[[0, 1], -1, good] - logits[[0, 1], -1, bad]).mean()
        metric.backward()
    bridge.zero_grad(set_to_none=True)
    assert abs(out["metric"] - metric.item()) <= TOL
    by_glob = call(s, "hooks.run_with_cache", model=model, input=tokens[:1], glob="blocks.1.attn.hook_*", incl_bwd=True,
                   backward_of={"type": "logit", "tokens": 5}, remove_batch_dim=True)
    glob_cache = s.handles.get(by_glob["cache"]["$h"])
    assert glob_cache["blocks.1.attn.hook_z_grad"].shape == kept["blocks.1.attn.hook_z"].shape[1:]
    assert "blocks.0.attn.hook_z_grad" not in glob_cache.cache_dict
    for n in names:
        canonical = bridge.hook_dict[n].name
        assert diff(cache[n + "_grad"], kept[canonical].grad) <= TOL, n


def test_backward_hooks_capture_and_edit_gradients(s, model, bridge, tokens):
    name = "blocks.1.hook_resid_pre"
    out = call(s, "hooks.run_with_cache", model=model, input=tokens, names=["blocks.0.hook_resid_mid", name], incl_bwd=True, hooks=[
        {"dir": "bwd", "names": [name], "actions": [{"type": "capture"}, {"type": "zero", "select": {"pos": {"start": 0, "stop": 3}}}]}])
    cache = s.handles.get(out["cache"]["$h"])
    assert all(p.grad is None for p in bridge.parameters())

    def zero_grad(g, hook):
        g = g.clone()
        g[:, 0:3] = 0
        return g

    with torch.set_grad_enabled(True), bridge.hooks(bwd_hooks=[(name, zero_grad)]):
        _, want = bridge.run_with_cache(tokens, names_filter=["blocks.0.hook_resid_mid", name], incl_bwd=True, return_type="loss")
    assert diff(tensor(s, out["captures"][name + "_grad"]), want[name + "_grad"]) <= TOL
    assert diff(cache["blocks.0.hook_resid_mid_grad"], want["blocks.0.hook_resid_mid_grad"]) <= TOL
    assert cache["blocks.0.hook_resid_mid_grad"][:, 0:3].abs().max() == 0
    bridge.zero_grad(set_to_none=True)
    assert no_hooks_left(bridge)


def test_a_java_metric_gets_gradients_through_nested_tensor_ops(bridge, tokens):
    good, bad = [5, 7], [9, 11]

    def java(name, args, blobs):
        assert name == "metric"
        sess = box["s"]
        last, _ = sess.dispatch("tensor.select", {"tensor": {"$h": args["logits"]["$tensor"]}, "dim": 1, "index": -1}, [])
        g, _ = sess.dispatch("tensor.index", {"tensor": {"$h": last["$tensor"]}, "dim": 1, "indices": good}, [])
        b, _ = sess.dispatch("tensor.index", {"tensor": {"$h": last["$tensor"]}, "dim": 1, "indices": bad}, [])
        d, _ = sess.dispatch("tensor.arith", {"tensor": {"$h": g["$tensor"]}, "fn": "sub", "other": {"$h": b["$tensor"]}}, [])
        dg, _ = sess.dispatch("tensor.diagonal", {"tensor": {"$h": d["$tensor"]}}, [])
        m, _ = sess.dispatch("tensor.mean", {"tensor": {"$h": dg["$tensor"]}}, [])
        return {"$h": m["$tensor"]}, []

    box: dict = {}
    s = Session(callback=java)
    box["s"] = s
    model = ref(s, bridge)
    names = ["blocks.1.attn.hook_z"]
    got = call(s, "hooks.run_with_cache", model=model, input=tokens, names=names, incl_bwd=True, backward_of={"type": "java", "id": 4})
    want = call(s, "hooks.run_with_cache", model=model, input=tokens, names=names, incl_bwd=True,
                backward_of={"type": "logit_diff", "good": good, "bad": bad})
    assert abs(got["metric"] - want["metric"]) <= TOL
    assert diff(s.handles.get(got["cache"]["$h"])[names[0] + "_grad"], s.handles.get(want["cache"]["$h"])[names[0] + "_grad"]) <= TOL


# -- generation -----------------------------------------------------------------------------------

def test_generation_with_a_steering_vector(s, model, bridge):
    prompt, name = "When John and Mary went", "blocks.1.hook_resid_pre"
    g = torch.Generator().manual_seed(3)
    steer = torch.randn(bridge.cfg.d_model, generator=g) * 4.0
    spec = {"names": [name], "actions": [{"type": "add", "vector": ref(s, steer), "coeff": 2.0}]}
    fired = []

    def python_hook(x, hook):
        fired.append(x.shape[1])
        return x + 2.0 * steer

    with bridge.hooks(fwd_hooks=[(name, python_hook)]):
        want = bridge.generate(prompt, max_new_tokens=8, do_sample=False, stop_at_eos=False, return_type="tokens", verbose=False)
    plain = bridge.generate(prompt, max_new_tokens=8, do_sample=False, stop_at_eos=False, return_type="tokens", verbose=False)
    assert len(fired) == 8  # the prompt, then one forward per new token
    out = call(s, "hooks.generate", model=model, input=prompt, max_new_tokens=8, stop_at_eos=False, hooks=[spec], return_logits=True)
    steered = tensor(s, out["tokens"])
    assert torch.equal(steered, want) and not torch.equal(steered, plain)
    assert out["text"] == bridge.tokenizer.decode(want[0], skip_special_tokens=True)
    assert out["text"] != bridge.tokenizer.decode(plain[0], skip_special_tokens=True)
    assert list(tensor(s, out["logits"]).shape) == [1, 8, bridge.cfg.d_vocab_out]

    # Sampling with a seed is repeatable and is TransformerLens' own sampling under that seed.
    sample = dict(max_new_tokens=6, do_sample=True, top_k=20, temperature=0.8, stop_at_eos=False)
    a = call(s, "hooks.generate", model=model, input=[prompt, prompt], seed=11, hooks=[spec], **sample)
    b = call(s, "hooks.generate", model=model, input=[prompt, prompt], seed=11, hooks=[spec], **sample)
    torch.manual_seed(11)
    with bridge.hooks(fwd_hooks=[(name, lambda x, hook: x + 2.0 * steer)]):
        ref_tokens = bridge.generate([prompt, prompt], return_type="tokens", verbose=False, **sample)
    assert torch.equal(tensor(s, a["tokens"]), tensor(s, b["tokens"])) and torch.equal(tensor(s, a["tokens"]), ref_tokens)
    assert isinstance(a["text"], list) and len(a["text"]) == 2
    assert no_hooks_left(bridge)


def test_matched_names_from_a_java_filter_are_checked_and_swept_like_a_glob(s, model, bridge, tokens):
    """``matched``: names a Java filter chose. Unknown ones fail with the nearest names; gated
    points are skipped (as a glob skips them); aliases of one point are hooked once."""
    got = call(s, "hooks.resolve", model=model, hooks=[{"matched": ["blocks.0.attn.hook_result", "blocks.0.attn.hook_z",
                                                                    "blocks.0.hook_in", "blocks.0.hook_resid_pre"],
                                                        "actions": [{"type": "zero"}]}])
    assert [g["key"] for g in got] == ["blocks.0.attn.hook_z", "blocks.0.hook_in"]
    with pytest.raises(LensError) as e:
        call(s, "hooks.resolve", model=model, hooks=[{"matched": ["blocks.0.attn.hook_zz"], "actions": [{"type": "zero"}]}])
    assert e.value.kind == "unknown_hook" and "blocks.0.attn.hook_z" in str(e.value)
    with pytest.raises(LensError, match="matches no hook point that fires"):
        call(s, "hooks.resolve", model=model, hooks=[{"matched": ["blocks.0.attn.hook_result"], "actions": [{"type": "zero"}]}])
    out = run_spec(s, model, tokens, {"matched": ["blocks.0.attn.hook_z", "blocks.1.attn.hook_z"], "select": {"head": 0}, "actions": [{"type": "zero"}]})
    want = bridge.run_with_hooks(tokens, fwd_hooks=[(lambda n: n.endswith("attn.hook_z"), lambda x, hook: x.__setitem__((slice(None), slice(None), 0), 0) or x)])
    assert diff(tensor(s, out["logits"]), want) <= TOL
    assert no_hooks_left(bridge)
