"""Errors carry their details as data (errors.LensError, one small vocabulary), on every path to
Java: the raise sites say what the message says, error_info puts it on the wire as JSON, and the
worker, the embedded entry and the GraalPy entry all send it. Java's side: ErrorDetailsTest."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lens4j_bridge.embedded_entry import EmbeddedEntry
from lens4j_bridge.errors import DETAIL_KEYS, LensError, int_range, require, wire_details
from lens4j_bridge.graalpy_entry import Entry
from lens4j_bridge.session import Session, error_info
from worker_client import Worker

PROMPT = "When John and Mary went to the shops, John gave the bag to"
BRIDGE = Path(__file__).resolve().parents[1] / "lens4j_bridge"


# -- the vocabulary ------------------------------------------------------------------------

def _raise_sites() -> list[tuple[str, int, str]]:
    """(file, line, detail key) for every keyword given to LensError / require / bad_argument."""
    found = []
    for path in sorted(BRIDGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
                if name in ("LensError", "require", "bad_argument"):
                    found += [(path.name, node.lineno, k.arg) for k in node.keywords if k.arg is not None]
    return found


def test_every_raise_site_uses_only_the_documented_detail_keys():
    sites = _raise_sites()
    assert len(sites) > 100, "the scan found too few raise sites with details to be looking at the bridge"
    assert [s for s in sites if s[2] not in DETAIL_KEYS] == []
    doc = LensError.__doc__ or ""
    assert [k for k in DETAIL_KEYS if f"``{k}``" not in doc] == [], "every key is documented on LensError"


def test_details_become_plain_json_and_a_none_says_nothing():
    class Odd:
        def __repr__(self) -> str:
            return "<odd>"

    details = wire_details({"shape": torch.Size([2, 3]), "got": np.int64(7), "valid": (1, 2.5),
                            "expected": [None, torch.tensor(4)], "argument": Odd(), "nearest": None})
    assert details == {"shape": [2, 3], "got": 7, "valid": [1, 2.5], "expected": [None, 4], "argument": "<odd>"}
    assert type(details["got"]) is int and type(details["expected"][1]) is int
    assert json.loads(json.dumps(details)) == details
    assert LensError("m", got=None, argument="x").details == {"argument": "x"}


def test_error_info_sends_details_that_json_holds_even_from_odd_values():
    info = error_info(LensError("bad", "shape_mismatch", shape=torch.Size([1, 2]), got=torch.zeros(3)))
    assert info["kind"] == "shape_mismatch" and info["message"] == "bad"
    assert info["details"]["shape"] == [1, 2] and info["details"]["got"].startswith("tensor(")
    json.dumps(info)  # must not raise: the error frame itself is built from this
    assert "details" not in error_info(LensError("no details"))
    assert "details" not in error_info(ValueError("a plain Python error"))


def test_require_passes_details_only_when_it_raises():
    require(True, "never raised", argument="x")
    with pytest.raises(LensError) as e:
        require(False, "layer 9 is out of range", argument="layer", got=9, valid=int_range(-2, 1))
    assert e.value.kind == "bad_argument" and str(e.value) == "layer 9 is out of range"
    assert e.value.details == {"argument": "layer", "got": 9, "valid": {"min": -2, "max": 1}}


# -- every path to Java --------------------------------------------------------------------

SENT = {"nearest": ["blocks.0.attn.hook_pattern"], "valid": {"min": 0, "max": 3}, "argument": "layer", "got": 7,
        "shape": [2, 3], "expected": [3, None], "tokens": [" John", " and"]}


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.stop()


def test_the_worker_sends_details_in_its_error_frame_and_answers_on(worker):
    c = worker.connect()
    r = c.call("bridge.fail", {"kind": "unknown_hook", "message": "asked for details", "details": SENT})
    assert r["kind"] == "error" and r["error"]["kind"] == "unknown_hook" and r["error"]["details"] == SENT
    op = c.call("bridge.ech")["error"]
    assert op["kind"] == "unknown_op" and op["details"]["nearest"][0] == "bridge.echo" and op["details"]["got"] == "bridge.ech"
    arg = c.call("bridge.make_blob", {"dtype": "float32", "shap": [2]})["error"]
    assert arg["details"] == {"argument": "shap", "got": ["shap"], "nearest": ["shape"], "valid": ["dtype", "shape", "fill"]}
    assert c.call("bridge.echo", {"value": 1})["value"]["value"] == 1
    c.close()


class _Java:
    """The Java side of the in-process entries, as far as an error needs it."""

    def arena(self, nbytes: int) -> bytearray:
        return bytearray(nbytes)

    def progress(self, done: int, total: int, message: str) -> None:
        pass


@pytest.mark.parametrize("embedded", [True, False], ids=["embedded_entry", "graalpy_entry"])
def test_the_in_process_entries_send_details_in_their_error_json(embedded):
    entry = EmbeddedEntry(_Java()) if embedded else Entry(_Java())
    try:
        args = json.dumps({"kind": "shape_mismatch", "message": "asked for details", "details": SENT})
        answer, _ = entry.call_seq(1, "bridge.fail", args, "[]", []) if embedded else entry.call("bridge.fail", args, "[]", [])
        error = json.loads(answer)["error"]
        assert error["kind"] == "shape_mismatch" and error["details"] == SENT
    finally:
        if embedded:
            entry.close()


# -- the raise sites -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def session() -> Session:
    return Session()


@pytest.fixture(scope="module")
def model(session, tiny_model_dir):
    loaded, _ = session.dispatch("model.load", {"name": str(tiny_model_dir), "device": "cpu"}, [])
    return {"$h": loaded["$h"]}


def _logits(session: Session, model: dict) -> dict:
    out, _ = session.dispatch("model.forward", {"model": model, "input": PROMPT}, [])
    return {"$h": out["logits"]["$tensor"]}


def _details(session: Session, op: str, **args) -> tuple[str, dict]:
    """The kind and wire details of the error that ``op`` raises."""
    with pytest.raises(LensError) as e:
        session.dispatch(op, args, [])
    info = error_info(e.value)
    json.dumps(info)
    return info["kind"], info.get("details", {})


def test_unknown_hook_names_and_cache_keys_give_the_nearest(session, model):
    kind, d = _details(session, "model.run_with_cache", model=model, input=PROMPT, names=["blocks.0.attn.hook_patern"])
    assert kind == "unknown_hook" and d["got"] == "blocks.0.attn.hook_patern"
    assert d["nearest"][0] == "blocks.0.attn.hook_pattern"
    kind, d = _details(session, "hooks.run_with_cache", model=model, input=PROMPT, glob="blocks.*.attn.hook_patern")
    assert kind == "unknown_hook" and d["argument"] == "glob" and "blocks.0.attn.hook_pattern" in d["nearest"]
    run, _ = session.dispatch("model.run_with_cache", {"model": model, "input": PROMPT,
                                                       "names": ["blocks.0.attn.hook_pattern"]}, [])
    cache = {"$h": run["cache"]["$h"]}
    kind, d = _details(session, "cache.get", cache=cache, name="blocks.0.attn.hook_patern")
    assert kind == "unknown_hook" and d == {"got": "blocks.0.attn.hook_patern", "nearest": ["blocks.0.attn.hook_pattern"]}
    kind, d = _details(session, "cache.get", cache=cache, name="pattern", layer=5)
    assert d == {"argument": "layer", "got": 5, "valid": {"min": -2, "max": 1}}


def test_a_text_that_is_not_one_token_gives_its_tokens(session, model):
    kind, d = _details(session, "model.to_single_token", model=model, text=" John and Mary")
    assert kind == "not_single_token" and d == {"got": " John and Mary", "tokens": [" John", " and", " Mary"]}
    # through a metric, which names the field in the message, the details stay
    logits = _logits(session, model)
    kind, d = _details(session, "metrics.evaluate", model=model, logits=logits,
                       spec={"type": "prob", "token": " John and Mary"}, input=PROMPT)
    assert kind == "not_single_token" and d["tokens"] == [" John", " and", " Mary"]


def test_unknown_metric_pattern_source_action_and_enum_strings_list_the_valid(session, model):
    logits = _logits(session, model)
    _, d = _details(session, "metrics.evaluate", model=model, logits=logits, spec={"type": "logit_dif"}, input=PROMPT)
    assert d["argument"] == "type" and d["got"] == "logit_dif" and d["nearest"][0] == "logit_diff"
    assert "logit_diff" in d["valid"] and "kl" in d["valid"]
    _, d = _details(session, "analysis.detect_head", model=model, input=PROMPT, pattern="induction")
    assert d["argument"] == "pattern" and d["nearest"][0] == "induction_head"
    assert d["valid"] == ["previous_token_head", "duplicate_token_head", "induction_head"]
    _, d = _details(session, "analysis.logit_lens", model=model, input=PROMPT, source="resid")
    assert d["argument"] == "source" and d["valid"] == ["ln2_normalized", "resid_post", "accumulated_resid"]
    _, d = _details(session, "hooks.resolve", model=model,
                    hooks=[{"names": ["blocks.0.hook_resid_pre"], "actions": [{"type": "zeros"}]}])
    assert d["argument"] == "type" and d["got"] == "zeros" and d["nearest"][0] == "zero" and "zero" in d["valid"]
    _, d = _details(session, "model.forward", model=model, input=PROMPT, return_type="logit")
    assert d == {"argument": "return_type", "got": "logit", "valid": ["logits", "loss", "both", "none"]}
    _, d = _details(session, "patching.sweep", model=model, corrupted=PROMPT, clean=PROMPT,
                    metric={"type": "logit_diff", "answers": [[" John", " Mary"]]}, kind="resid_pr")
    assert d["argument"] == "kind" and d["nearest"][0] == "resid_pre"


def test_out_of_range_layers_heads_and_positions_give_the_range(session, model):
    _, d = _details(session, "hooks.resolve", model=model,
                    hooks=[{"names": ["blocks.0.attn.hook_z"], "select": {"head": 9}, "actions": [{"type": "zero"}]}])
    assert d == {"argument": "head", "got": [9], "valid": {"min": -4, "max": 3}}
    _, d = _details(session, "analysis.logit_lens", model=model, input=PROMPT, layers=[2])
    assert d == {"argument": "layers", "got": 2, "valid": {"min": -2, "max": 1}}
    n_pos = session.handles.get(session.dispatch("model.to_tokens", {"model": model, "input": PROMPT}, [])[0]["$tensor"]).shape[1]
    _, d = _details(session, "analysis.logit_lens", model=model, input=PROMPT, positions=[n_pos])
    assert d == {"argument": "positions", "got": n_pos, "valid": {"min": -n_pos, "max": n_pos - 1}}
    _, d = _details(session, "hooks.run_with_hooks", model=model, input=PROMPT,
                    hooks=[{"names": ["blocks.0.hook_resid_pre"], "select": {"pos": [[n_pos]]}, "actions": [{"type": "zero"}]}])
    assert d == {"argument": "pos", "got": n_pos, "valid": {"min": -n_pos, "max": n_pos - 1}}
    _, d = _details(session, "tensor.softmax", tensor={"$h": session.handles.put(torch.zeros(2, 3))}, dim=2)
    assert d == {"argument": "dim", "got": 2, "valid": {"min": -2, "max": 1}, "shape": [2, 3]}
    _, d = _details(session, "model.weight", model=model, name="W_Q", layer=-3)
    assert d == {"argument": "layer", "got": -3, "valid": {"min": -2, "max": 1}}


def test_shape_mismatches_give_the_shape_and_what_was_expected(session):
    a = {"$h": session.handles.put(torch.zeros(2, 3))}
    kind, d = _details(session, "tensor.matmul", tensor=a, other=a)
    assert kind == "shape_mismatch" and d == {"argument": "other", "shape": [2, 3], "expected": [3, None]}
    kind, d = _details(session, "tensor.arith", tensor=a, fn="add", other={"$h": session.handles.put(torch.zeros(4))})
    assert kind == "shape_mismatch" and d == {"argument": "other", "shape": [[2, 3], [4]]}
    kind, d = _details(session, "tensor.copy_", tensor=a, source={"$h": session.handles.put(torch.zeros(3, 2))})
    assert kind == "shape_mismatch" and d == {"argument": "source", "shape": [3, 2], "expected": [2, 3]}
    kind, d = _details(session, "tensor.select", tensor=a, dim=0, index=5)
    assert kind == "bad_argument" and d == {"argument": "index", "got": 5, "valid": {"min": -2, "max": 1}, "shape": [2, 3]}
    _, d = _details(session, "tensor.arith", tensor=a, fn="pow", other=2)
    assert d == {"argument": "fn", "got": "pow", "valid": ["add", "div", "mul", "sub"]}
