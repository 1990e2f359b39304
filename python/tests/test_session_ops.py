"""The dispatch path that both engines use, checked against TransformerLens called directly."""

from __future__ import annotations

import sys

import pytest
import torch

from lens4j_bridge.errors import LensError
from lens4j_bridge.session import Session
from lens4j_bridge.values import Blob

PROMPT = "When John and Mary went to the shops, John gave the bag to"


@pytest.fixture()
def session() -> Session:
    return Session()


def call(s: Session, op: str, **args):
    value, blobs = s.dispatch(op, args, [])
    return value, blobs


def test_load_run_with_cache_matches_transformer_lens(session, tiny_model_dir, bridge):
    loaded, _ = call(session, "model.load", name=str(tiny_model_dir), device="cpu")
    assert loaded["cfg"]["n_layers"] == 2 and loaded["cfg"]["d_model"] == 64
    model = {"$h": loaded["$h"]}
    out, _ = call(session, "model.run_with_cache", model=model, input=PROMPT, names=["blocks.0.attn.hook_pattern", "blocks.1.hook_resid_pre"])
    logits = session.handles.get(out["logits"]["$tensor"])
    ref_logits, ref_cache = bridge.run_with_cache(PROMPT)
    assert (logits - ref_logits).abs().max().item() <= 1e-5
    assert sorted(out["cache"]["keys"]) == ["blocks.0.attn.hook_pattern", "blocks.1.hook_resid_pre"]
    pattern, _ = call(session, "cache.get", cache={"$h": out["cache"]["$h"]}, name="pattern", layer=-2)
    got = session.handles.get(pattern["$tensor"])
    assert (got - ref_cache["pattern", 0]).abs().max().item() <= 1e-6


def test_to_array_round_trips_every_dtype(session):
    for dtype in ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"]:
        raw = bytes(range(6)) * (8 if dtype in ("float64", "int64") else 4)
        itemsize = {"float64": 8, "int64": 8, "float32": 4, "int32": 4, "float16": 2, "bfloat16": 2, "int16": 2}.get(dtype, 1)
        n = len(raw) // itemsize
        if dtype == "bool":
            raw = bytes([0, 1] * (n // 2))
            n = len(raw)
        blob = Blob(dtype, (n,), memoryview(raw))
        handle, _ = session.dispatch("tensor.from_blob", {"data": {"$blob": 0}}, [blob])
        _, blobs = session.dispatch("tensor.to_array", {"tensor": {"$h": handle["$tensor"]}}, [])
        assert bytes(blobs[0].data) == raw, dtype
        assert handle["dtype"] == dtype


def test_errors_name_what_is_valid(session, tiny_model_dir):
    loaded, _ = call(session, "model.load", name=str(tiny_model_dir), device="cpu")
    model = {"$h": loaded["$h"]}
    with pytest.raises(LensError) as e:
        call(session, "model.run_with_cache", model=model, input=PROMPT, names=["blocks.0.attn.hook_patern"])
    assert e.value.kind == "unknown_hook" and "blocks.0.attn.hook_pattern" in str(e.value)
    with pytest.raises(LensError) as e:
        call(session, "model.to_single_token", model=model, text=" John and Mary")
    assert e.value.kind == "not_single_token"
    with pytest.raises(LensError) as e:
        call(session, "model.forward", model=model, input=[])
    assert "empty" in str(e.value)
    with pytest.raises(LensError) as e:
        call(session, "model.load", name="no-such-model-anywhere")
    assert e.value.kind == "unknown_model"
    with pytest.raises(LensError) as e:
        call(session, "model.forward", model=model, inputs=PROMPT)
    assert "unknown argument(s) ['inputs']" in str(e.value) and "valid arguments" in str(e.value)
    with pytest.raises(LensError) as e:
        call(session, "tensor.meta", tensor={"$h": 10_000})
    assert e.value.kind == "closed_handle"


def test_hub_name_offline_says_lens4j_is_offline_and_how_to_go_online(session, monkeypatch):
    monkeypatch.setenv("LENS4J_OFFLINE", "1")
    with pytest.raises(LensError) as e:
        call(session, "model.load", name="google/gemma-2-9b")
    assert e.value.kind == "unknown_model"
    assert "lens4j runs offline by default" in str(e.value)
    assert "LENS4J_OFFLINE=0" in str(e.value) and "withOffline(false)" in str(e.value)


def _rss() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status and trims glibc's heap: Linux only")
def test_releasing_large_tensors_returns_their_memory_to_the_system():
    from lens4j_bridge.handles import HandleTable

    table = HandleTable()
    # Many 1 MiB tensors, as a cache's entries are: glibc keeps such blocks in its heap once freed.
    torch.manual_seed(0)
    grow = [table.put(torch.rand(256 * 1024)) for _ in range(300)]
    before = _rss()
    assert table.release(grow) == 300
    after = _rss()
    print(f"RSS {before / 2**20:.0f} MiB -> {after / 2**20:.0f} MiB after releasing 300 MiB")
    assert before - after >= 200 * 2**20


def test_a_cache_that_will_not_fit_is_refused_before_it_runs(session, tiny_model_dir, monkeypatch):
    loaded, _ = call(session, "model.load", name=str(tiny_model_dir), device="cpu")
    model = {"$h": loaded["$h"]}
    prompts = ["When John and Mary went to the shops, John gave the bag to"] * 64
    monkeypatch.setenv("LENS4J_CACHE_LIMIT_MB", "1")
    with pytest.raises(LensError) as e:
        call(session, "model.run_with_cache", model=model, input=prompts)
    assert e.value.kind == "out_of_memory"
    message = str(e.value)
    assert "64 prompts" in message and "Names.only(" in message and "PromptBatch" in message, message
    # What fits runs: one hook point under the same limit.
    fine, _ = call(session, "model.run_with_cache", model=model, input=prompts,
                   names=["blocks.0.hook_resid_pre"])
    assert "cache" in fine


def test_unknown_word_warning_spares_tokenizers_whose_unk_is_the_bos(bridge, capsys):
    from lens4j_bridge.ops.model import tokens_of, unknown_token_id

    # The tiny model's byte-level BPE has unk == bos == eos (as GPT-2): every BOS would look unknown.
    assert bridge.tokenizer.unk_token_id == bridge.tokenizer.bos_token_id
    assert unknown_token_id(bridge) is None
    tokens = tokens_of(bridge, ["When Johnathan and Mary went", "zzqx"])
    assert int(tokens[0, 0]) == bridge.tokenizer.unk_token_id  # the BOS
    assert "lens4j warning" not in capsys.readouterr().out


def test_unknown_word_in_a_prompt_warns_and_as_an_answer_fails(session, capsys):
    loaded, _ = call(session, "model.load", name="toy-ioi", device="cpu")
    model = {"$h": loaded["$h"]}
    capsys.readouterr()
    call(session, "model.to_tokens", model=model, input=["When John and Mary went", "When Johnathan and Mary went"])
    out = capsys.readouterr().out
    assert "lens4j warning: 1 of 2 prompt(s)" in out and "prompt 1 'When Johnathan" in out and "<|unk|>" in out, out
    with pytest.raises(LensError) as e:
        call(session, "model.to_single_token", model=model, text=" Johnathan")
    assert e.value.kind == "not_single_token" and "not in the tokenizer's vocabulary" in str(e.value)
    assert call(session, "model.to_single_token", model=model, text=" John")[0] > 1
