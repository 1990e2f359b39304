"""Metric specs against the same quantities computed by hand from the logits."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lens4j_bridge.errors import LensError
from lens4j_bridge.ops.metrics import last_positions_of, metric_from_spec
from lens4j_bridge.session import Session

PROMPTS = [
    "When John and Mary went to the shops, John gave the bag to",
    "When Tom and James went to the park, James gave the ball to",
]
UNEVEN = ["When John and Mary went to the shops, John gave the bag to", "The cat sat on the mat"]


@pytest.fixture(scope="module")
def run(bridge):
    tokens = bridge.to_tokens(PROMPTS)
    return tokens, bridge(tokens)


def tok(bridge, text: str) -> int:
    return bridge.to_single_token(text)


def call(s: Session, op: str, **args):
    return s.dispatch(op, args, [])[0]


def test_logit_diff_by_hand(bridge, run):
    tokens, logits = run
    pairs = [[" Mary", " John"], [" Tom", " James"]]
    ids = [[tok(bridge, a), tok(bridge, b)] for a, b in pairs]
    hand = torch.stack([logits[b, -1, ids[b][0]] - logits[b, -1, ids[b][1]] for b in range(2)])
    per_prompt = metric_from_spec(None, bridge, {"type": "logit_diff", "answers": pairs, "reduce": "none"}, tokens)
    assert (per_prompt(logits) - hand).abs().max() <= 1e-6
    mean = metric_from_spec(None, bridge, {"type": "logit_diff", "answers": ids}, tokens)  # ids work like strings
    assert abs(mean(logits).item() - hand.mean().item()) <= 1e-6
    # one pair for every prompt, at given (also negative) positions
    one = metric_from_spec(None, bridge, {"type": "logit_diff", "answers": [" Mary", " John"], "positions": [3, -2], "reduce": "none"}, tokens)
    m, j = tok(bridge, " Mary"), tok(bridge, " John")
    n = tokens.shape[1]
    expected = torch.stack([logits[0, 3, m] - logits[0, 3, j], logits[1, n - 2, m] - logits[1, n - 2, j]])
    assert (one(logits) - expected).abs().max() <= 1e-6


def test_last_position_follows_padding(bridge):
    right = bridge.to_tokens(UNEVEN, padding_side="right")
    last = last_positions_of(bridge, UNEVEN, right, padding_side="right")
    assert last == [bridge.to_tokens(p).shape[1] - 1 for p in UNEVEN] and last[1] < right.shape[1] - 1
    logits = bridge(right)
    metric = metric_from_spec(None, bridge, {"type": "logit", "token": " mat", "reduce": "none"}, right, last_positions=last)
    t = tok(bridge, " mat")
    assert (metric(logits) - torch.stack([logits[0, last[0], t], logits[1, last[1], t]])).abs().max() <= 1e-6
    left = bridge.to_tokens(UNEVEN, padding_side="left")
    assert last_positions_of(bridge, UNEVEN, left, padding_side="left") == [left.shape[1] - 1] * 2
    # through the op, with the prompts as input: the right-padded prompt is read at its own end
    s = Session()
    value = call(s, "metrics.evaluate", model={"$h": s.handles.put(bridge)}, logits={"$h": s.handles.put(logits)},
                 spec={"type": "logit", "token": " mat", "reduce": "none"}, input=UNEVEN, padding_side="right")
    got = s.handles.get(value["$tensor"])
    assert (got - metric(logits)).abs().max() == 0


def test_normalized_loss_kl_prob_rank(bridge, run):
    tokens, logits = run
    other = bridge(bridge.to_tokens(["When John and Mary went to the shops, Mary gave the bag to",
                                     "When Tom and James went to the park, Tom gave the ball to"]))
    ld = {"type": "logit_diff", "answers": [[" Mary", " John"], [" Tom", " James"]]}
    inner = metric_from_spec(None, bridge, ld, tokens)
    clean_v, corrupt_v = inner(logits).item(), inner(other).item()
    norm = metric_from_spec(None, bridge, {"type": "normalized", "of": ld, "clean": clean_v, "corrupted": corrupt_v}, tokens)
    assert abs(norm(logits).item() - 1.0) <= 1e-5 and abs(norm(other).item()) <= 1e-5
    filled = metric_from_spec(None, bridge, {"type": "normalized", "of": ld}, tokens, clean_logits=logits, corrupted_logits=other)
    mid = (logits + other) / 2
    assert abs(filled(mid).item() - (inner(mid).item() - corrupt_v) / (clean_v - corrupt_v)) <= 1e-5

    loss = metric_from_spec(None, bridge, {"type": "loss"}, tokens)
    assert abs(loss(logits).item() - bridge(tokens, return_type="loss").item()) <= 1e-5
    per = metric_from_spec(None, bridge, {"type": "loss", "reduce": "none"}, tokens)(logits)
    hand = torch.stack([F.cross_entropy(logits[b, :-1], tokens[b, 1:]) for b in range(2)])
    assert (per - hand).abs().max() <= 1e-5

    kl = metric_from_spec(None, bridge, {"type": "kl", "reference": other, "positions": "all"}, tokens)
    hand_kl = F.kl_div(logits.log_softmax(-1), other.log_softmax(-1), log_target=True, reduction="none").sum(-1).mean()
    assert abs(kl(logits).item() - hand_kl.item()) <= 1e-5
    kl_last = metric_from_spec(None, bridge, {"type": "kl", "reference": other[:, -1], "reduce": "none"}, tokens)(logits)
    hand_last = F.kl_div(logits[:, -1].log_softmax(-1), other[:, -1].log_softmax(-1), log_target=True, reduction="none").sum(-1)
    assert (kl_last - hand_last).abs().max() <= 1e-5

    t = tok(bridge, " Mary")
    prob = metric_from_spec(None, bridge, {"type": "prob", "token": " Mary", "reduce": "none"}, tokens)(logits)
    assert (prob - logits[:, -1].softmax(-1)[:, t]).abs().max() <= 1e-6
    rank = metric_from_spec(None, bridge, {"type": "rank", "token": [" Mary", t], "position": -1, "reduce": "none"}, tokens)(logits)
    hand_rank = torch.tensor([float((logits[b, -1] > logits[b, -1, t]).sum()) for b in range(2)])
    assert torch.equal(rank, hand_rank)
    top = logits[0, -1].argmax().item()
    assert metric_from_spec(None, bridge, {"type": "rank", "token": top, "reduce": "none"}, tokens)(logits)[0].item() == 0


def test_selected_positions_give_the_same_value(bridge, run):
    """Sweeps evaluate metrics on the logits at ``positions`` only: that must not change the value."""
    tokens, logits = run
    specs = [
        {"type": "logit_diff", "answers": [" Mary", " John"], "positions": [[2, 5], [4, -1]]},
        {"type": "prob", "token": " bag"},
        {"type": "kl", "reference": logits.flip(0), "positions": [1, 7]},
        {"type": "loss", "reduce": "none"},
    ]
    for spec in specs:
        metric = metric_from_spec(None, bridge, spec, tokens)
        assert torch.equal(metric.from_selected(metric.select(logits)), metric(logits))
    assert metric_from_spec(None, bridge, specs[0], tokens).positions.tolist() == [[2, 5], [4, tokens.shape[1] - 1]]


def test_java_metric_and_ops(bridge, run):
    tokens, logits = run
    seen = []

    def callback(name, args, blobs):
        seen.append(name)
        got = s.handles.get(args["logits"]["$tensor"])
        return {"$h": s.handles.put(got[:, -1, 7] - got[:, -1, 9])}, []

    s = Session(callback=callback)
    java = metric_from_spec(s, bridge, {"type": "java", "id": 3}, tokens)
    assert (java(logits) - (logits[:, -1, 7] - logits[:, -1, 9])).abs().max() == 0 and seen == ["metric"]
    s2 = Session(callback=lambda name, args, blobs: (2.5, []))
    assert metric_from_spec(s2, bridge, {"type": "java", "id": 1}, tokens)(logits).item() == 2.5

    model, lg = {"$h": s.handles.put(bridge)}, {"$h": s.handles.put(logits)}
    value = call(s, "metrics.logit_diff", model=model, logits=lg, answers=[[" Mary", " John"], [" Tom", " James"]])
    ids = [[tok(bridge, " Mary"), tok(bridge, " John")], [tok(bridge, " Tom"), tok(bridge, " James")]]
    assert abs(value - sum(logits[b, -1, ids[b][0]] - logits[b, -1, ids[b][1]] for b in range(2)).item() / 2) <= 1e-6
    loss = call(s, "metrics.evaluate", model=model, logits=lg, spec={"type": "loss"}, input={"$h": s.handles.put(tokens)})
    assert abs(loss - bridge(tokens, return_type="loss").item()) <= 1e-5


@pytest.mark.parametrize("spec, kind, words", [
    ({"type": "logit_diff", "answers": [[" Mary and", " John"]]}, "not_single_token", "not a single token"),
    ({"type": "logit_diff", "answers": [[" Mary", " John"]] * 3}, "shape_mismatch", "one per prompt (2)"),
    ({"type": "logit_diff", "answers": [[" Mary", " John"]], "positions": [40, 1]}, "bad_argument", "out of range"),
    ({"type": "prob", "token": 10**6}, "bad_argument", "out of range"),
    ({"type": "logit_diff", "answers": [" Mary"]}, "bad_argument", "[correct, incorrect]"),
    ({"type": "normalized", "of": {"type": "prob", "token": " Mary"}}, "bad_argument", "give 'clean'"),
    ({"type": "prob", "token": " Mary", "reduce": "sum"}, "bad_argument", "reduce must be one of"),
    ({"type": "prob", "tokens": " Mary"}, "bad_argument", "unknown field(s) ['tokens']"),
    ({"type": "logits_diff"}, "bad_argument", "valid types"),
    ({"type": "java", "id": 1}, "callback_failed", "call back"),
])
def test_bad_specs_say_what_is_wrong(bridge, run, spec, kind, words):
    tokens, logits = run
    with pytest.raises(LensError) as e:
        metric_from_spec(None, bridge, spec, tokens)(logits)
    assert e.value.kind == kind and words in str(e.value), str(e.value)


def test_evaluate_op_rejects_mismatched_input(bridge, run):
    tokens, logits = run
    s = Session()
    with pytest.raises(LensError) as e:
        call(s, "metrics.evaluate", model={"$h": s.handles.put(bridge)}, logits={"$h": s.handles.put(logits)},
             spec={"type": "loss"}, input=["a short prompt", "another"])
    assert e.value.kind == "shape_mismatch" and "logits are for" in str(e.value)
