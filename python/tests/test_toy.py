"""The toy models: training lowers the loss, the hand-built toy-induction is what its recipe makes,
and the committed models hold their circuits.

Every number is recomputed here with TransformerLens, never read from a model card.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from lens4j_bridge.ops.model import TOY_MODELS_DIR, bundled_models
from lens4j_bridge.session import Session
from lens4j_bridge.toy import data, evaluate, handmade
from lens4j_bridge.toy.train import SPECS, train

IOI_DIR = TOY_MODELS_DIR / "toy-ioi"
INDUCTION_DIR = TOY_MODELS_DIR / "toy-induction"


@pytest.fixture(scope="module")
def toy_ioi():
    return evaluate.load(IOI_DIR)


@pytest.fixture(scope="module")
def toy_induction():
    return evaluate.load(INDUCTION_DIR)


def test_short_training_lowers_the_loss(tmp_path):
    spec = replace(
        SPECS["toy-ioi"], n_layer=1, n_embd=32, n_head=2, n_inner=64, steps=40, batch=16,
        induction_every=0, log_every=5, warmup=5, lr=3e-3,
    )
    grad_before, threads_before = torch.is_grad_enabled(), torch.get_num_threads()
    result = train(spec, tmp_path / "m", threads=1, evaluate=False, verbose=False)
    assert (torch.is_grad_enabled(), torch.get_num_threads()) == (grad_before, threads_before)
    losses = [e["loss"] for e in result["log"]]
    assert len(losses) == 8
    first, last = sum(losses[:2]) / 2, sum(losses[-2:]) / 2
    assert last < first - 1.0, losses
    assert (tmp_path / "m" / "model.safetensors").is_file() and (tmp_path / "m" / "tokenizer.json").is_file()


def _reference_logit_diffs(model, prompts: list[data.IoiPrompt]) -> torch.Tensor:
    """One prompt at a time, the plain TransformerLens way: logits at the last position."""
    diffs = []
    for p in prompts:
        with torch.no_grad():
            logits = model(p.prompt, return_type="logits")[0, -1]
        diffs.append(logits[model.to_single_token(p.io)] - logits[model.to_single_token(p.s)])
    return torch.stack(diffs)


def test_toy_ioi_logit_diff_on_held_out_names_and_templates(toy_ioi):
    prompts = data.ioi_eval_sets()["held_out"]
    assert all(n in data.HELD_OUT_NAMES for p in prompts for n in (p.io.strip(), p.s.strip()))
    reference = _reference_logit_diffs(toy_ioi, prompts)
    batched = evaluate.ioi_logit_diffs(toy_ioi, prompts)
    assert (batched - reference).abs().max().item() <= 1e-4
    assert reference.mean().item() >= 2.0, reference.mean().item()
    seed = [data.IoiPrompt(p, io, s) for p, io, s in data.SEED_IOI_PROMPTS]
    assert _reference_logit_diffs(toy_ioi, seed).mean().item() >= 2.0


def test_toy_induction_has_a_layer_1_induction_head(toy_induction):
    from transformer_lens.head_detector import detect_head

    n = 50
    tokens = evaluate.repeated_tokens(toy_induction, n=n, batch=4, seed=0)
    texts = [toy_induction.to_string(row[1:]) for row in tokens]
    assert torch.equal(toy_induction.to_tokens(texts), tokens), "random word tokens must round-trip through text"
    scores = detect_head(toy_induction, texts, "induction_head", exclude_bos=True)
    assert scores[1].max().item() >= 0.5, scores
    # The default score counts the first half's attention too, so n / (2n + 1) is its ceiling.
    default = detect_head(toy_induction, texts, "induction_head")
    assert default[1].max().item() >= 0.9 * n / (2 * n + 1), default
    # Seed 001's score, by hand: attention from each token to the one after its earlier occurrence.
    _, cache = toy_induction.run_with_cache(tokens)
    pattern = cache["pattern", 1]  # [batch, head, q, k]
    q = torch.arange(n + 1, 2 * n + 1)
    stripe = pattern[:, :, q, q - n + 1]
    assert stripe.mean((0, 2)).max().item() >= 0.5
    assert cache["blocks.0.hook_mlp_out"].abs().max().item() == 0.0  # attention only


def test_toy_induction_is_its_recipe_and_predicts_repeats(toy_induction, tmp_path):
    from safetensors.torch import load_file
    from transformer_lens.head_detector import detect_head

    handmade.build(tmp_path / "m", evaluate=False)
    rebuilt, committed = load_file(tmp_path / "m" / "model.safetensors"), load_file(INDUCTION_DIR / "model.safetensors")
    assert rebuilt.keys() == committed.keys()
    assert all(torch.equal(rebuilt[k], committed[k]) for k in committed)

    tokens = evaluate.repeated_tokens(toy_induction, n=60, batch=2, seed=1)
    texts = [toy_induction.to_string(row[1:]) for row in tokens]
    prev = detect_head(toy_induction, texts, "previous_token_head")
    assert prev[0, 0].item() >= 0.95 and prev[0, 1:].max().item() < 0.2, prev
    with torch.no_grad():
        logits = toy_induction(tokens, return_type="logits")
    # Each token of the second copy predicts the next one, where its earlier occurrence is unique
    # (a token drawn twice in the first copy has two candidate successors).
    predicted, target = logits[:, 61:-1].argmax(-1), tokens[:, 62:]
    first_copy = tokens[:, 1:61]
    unique = torch.stack([(first_copy[b] == tokens[b, 61:-1, None]).sum(-1) == 1 for b in range(2)])
    assert unique.sum().item() >= 100
    assert torch.equal(predicted[unique], target[unique]), "the induction circuit must continue the repeat"


def test_names_and_template_words_are_single_tokens(toy_ioi):
    for name in data.NAMES:
        assert toy_ioi.to_str_tokens(" " + name, prepend_bos=False) == [" " + name]
        toy_ioi.to_single_token(" " + name)
    assert toy_ioi.to_str_tokens("When John and Mary went to the shops, John gave the bag to") == [
        "<|endoftext|>", "When", " John", " and", " Mary", " went", " to", " the", " shops", ",", " John", " gave", " the", " bag", " to",
    ]
    assert toy_ioi.to_tokens("When")[0, 0].item() == toy_ioi.tokenizer.bos_token_id == 0


def test_bundled_models_load_through_a_session(toy_ioi):
    assert {"toy-ioi", "toy-induction"} <= set(bundled_models())
    s = Session()
    loaded, _ = s.dispatch("model.load", {"name": "toy-ioi", "device": "cpu"}, [])
    assert loaded["source"] == "bundled" and loaded["cfg"]["n_layers"] == SPECS["toy-ioi"].n_layer
    prompt = "When Kate and Paul went to the park, Kate gave the ball to"
    out, _ = s.dispatch("model.forward", {"model": {"$h": loaded["$h"]}, "input": prompt}, [])
    logits = s.handles.get(out["logits"]["$tensor"])
    with torch.no_grad():
        ref = toy_ioi(prompt, return_type="logits")
    assert (logits - ref).abs().max().item() <= 1e-5
