"""Train the project's toy models on CPU, with fixed seeds, on data generated in ``toy.data``.

    python -m lens4j_bridge.toy.train toy-ioi [--steps N] [--out DIR] [--seed S] [--threads T]

The result is a Hugging Face directory (config.json, model.safetensors, tokenizer files) that
``TransformerBridge.boot_transformers(dir)`` loads offline, plus training_log.json (loss every
``log_every`` steps and the measured metrics), toy_info.json (tokenizer layout, held-out names
and templates, metrics, for programs that are not Python) and a model card README.md.
Without ``--out`` the model replaces the committed one under ``toy/models/<name>``.
toy-induction is not trained: ``toy.handmade`` sets its weights (its doc says why).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from . import data

MODELS_DIR = Path(__file__).resolve().parent / "models"


@dataclass(frozen=True)
class Spec:
    name: str
    n_layer: int
    n_embd: int
    n_head: int
    n_inner: int
    n_positions: int = 256
    attn_only: bool = False  # MLP weights and biases zeroed and frozen: the MLP output is exactly 0
    steps: int = 3000
    batch: int = 32  # examples in a short (mixed) batch
    induction_batch: int = 8  # examples in a long induction batch
    induction_every: int = 0  # every k-th step is an induction batch (0: never; 1: always)
    induction_min: int = 4
    induction_max: int = 100  # repeated half length: 1 + 2 * 100 tokens fits n_positions 256
    # For this fraction of the steps, induction batches are ``batch`` short sequences (n up to
    # ``short_max``): cheaper steps, more examples, and the induction circuit forms sooner.
    short_phase: float = 0.0
    short_max: int = 30
    lr: float = 2e-3
    warmup: int = 100
    weight_decay: float = 0.01
    log_every: int = 25
    seed: int = 0


SPECS = {
    # the settings of the committed toy-ioi (its training_log.json records them)
    "toy-ioi": Spec(
        "toy-ioi", n_layer=4, n_embd=128, n_head=4, n_inner=256, steps=2000, lr=2e-3,
        induction_every=5, induction_min=4,
    ),
}


def build_model(spec: Spec, tokenizer) -> "torch.nn.Module":
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(
        vocab_size=len(tokenizer), n_positions=spec.n_positions, n_embd=spec.n_embd, n_layer=spec.n_layer,
        n_head=spec.n_head, n_inner=spec.n_inner, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(spec.seed)
    model = GPT2LMHeadModel(cfg)
    if spec.attn_only:
        # GPT-2 in transformers always has MLPs; with zero weights and biases each one adds 0.
        for block in model.transformer.h:
            for p in block.mlp.parameters():
                p.data.zero_()
                p.requires_grad_(False)
    return model


def make_batch(examples: list[data.Example], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids and per-target loss weights (0 on padding); causal attention needs no mask."""
    length = max(len(e.ids) for e in examples)
    ids = torch.full((len(examples), length), pad_id, dtype=torch.long)
    weights = torch.zeros((len(examples), length - 1))
    for i, e in enumerate(examples):
        ids[i, : len(e.ids)] = torch.tensor(e.ids)
        weights[i, : len(e.ids) - 1] = torch.tensor(e.weights[1:])
    return ids, weights


class Batches:
    """The batch for each step: long induction batches every ``induction_every`` steps, else mixed
    short examples, made four batches at a time and sorted by length so that little is padding."""

    def __init__(self, spec: Spec, gen: data.DataGenerator) -> None:
        self.spec, self.gen = spec, gen
        self.queue: list[list[data.Example]] = []

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        spec, gen = self.spec, self.gen
        if spec.induction_every and step % spec.induction_every == 0:
            if step < spec.short_phase * spec.steps:
                examples = [gen.induction(spec.induction_min, spec.short_max) for _ in range(spec.batch)]
            else:
                examples = [gen.induction(spec.induction_min, spec.induction_max) for _ in range(spec.induction_batch)]
            return make_batch(examples, gen.bos)
        if not self.queue:
            pool = sorted((data.sample_mix(gen, data.IOI_MIX) for _ in range(4 * spec.batch)), key=lambda e: len(e.ids))
            self.queue = [pool[i : i + spec.batch] for i in range(0, len(pool), spec.batch)]
            gen.rng.shuffle(self.queue)
        return make_batch(self.queue.pop(), gen.bos)


def hf_logit_diff(model, tokenizer, prompts: list[data.IoiPrompt]) -> float:
    """Mean logit(IO) - logit(S) at each prompt's last token, on the training model (a progress probe)."""
    bos = tokenizer.bos_token_id
    rows = [[bos] + tokenizer(p.prompt, add_special_tokens=False)["input_ids"] for p in prompts]
    ids = torch.full((len(rows), max(map(len, rows))), bos, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
    with torch.no_grad():
        logits = model(ids).logits
    last = logits[torch.arange(len(rows)), torch.tensor([len(r) - 1 for r in rows])]
    io = torch.tensor([tokenizer.convert_tokens_to_ids("Ġ" + p.io[1:]) for p in prompts])
    s = torch.tensor([tokenizer.convert_tokens_to_ids("Ġ" + p.s[1:]) for p in prompts])
    return float((last.gather(1, io[:, None]) - last.gather(1, s[:, None])).mean())


def lr_at(spec: Spec, step: int) -> float:
    if step < spec.warmup:
        return spec.lr * (step + 1) / spec.warmup
    progress = (step - spec.warmup) / max(1, spec.steps - spec.warmup)
    return spec.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train(spec: Spec, out: Path, threads: int = 2, evaluate: bool = True, verbose: bool = True) -> dict[str, Any]:
    """Train ``spec``, save it to ``out`` and return the training log (also written to ``out``)."""
    threads_before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        # lens4j_bridge.ops.model turns gradients off process-wide; training needs them
        with torch.enable_grad():
            return _train(spec, out, threads, evaluate, verbose)
    finally:
        torch.set_num_threads(threads_before)


def _train(spec: Spec, out: Path, threads: int, evaluate: bool, verbose: bool) -> dict[str, Any]:
    tokenizer = data.build_tokenizer()
    gen = data.DataGenerator(tokenizer, seed=spec.seed)
    batches = Batches(spec, gen)
    model = build_model(spec, tokenizer)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=spec.lr, betas=(0.9, 0.98), weight_decay=spec.weight_decay)

    probe = data.ioi_eval_sets(n=40)["held_out"] if not spec.attn_only else None
    log: list[dict[str, float]] = []
    window: list[float] = []
    start = time.time()
    for step in range(spec.steps):
        ids, weights = batches(step)
        logits = model(ids).logits[:, :-1]
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="none")
        loss = (ce * weights.reshape(-1)).sum() / weights.sum()
        for group in opt.param_groups:
            group["lr"] = lr_at(spec, step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        window.append(loss.item())
        if (step + 1) % spec.log_every == 0 or step + 1 == spec.steps:
            entry = {"step": step + 1, "loss": sum(window) / len(window), "seconds": round(time.time() - start, 1)}
            if probe and ((step + 1) % (spec.log_every * 10) == 0 or step + 1 == spec.steps):
                model.eval()
                entry["ioi_logit_diff_held_out"] = round(hf_logit_diff(model, tokenizer, probe), 3)
                model.train()
            log.append(entry)
            window = []
            if verbose:
                print(spec.name, json.dumps(entry), flush=True)
    seconds = time.time() - start

    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    if spec.attn_only:
        assert all(float(p.abs().max()) == 0.0 for b in model.transformer.h for p in b.mlp.parameters())
    result: dict[str, Any] = {
        "model": spec.name, "spec": asdict(spec), "train_seconds": round(seconds, 1), "threads": threads,
        "final_loss": log[-1]["loss"], "log": log,
    }
    if evaluate:
        from . import evaluate as ev

        result["metrics"] = ev.measure(spec.name, out)
    (out / "training_log.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "toy_info.json").write_text(json.dumps(toy_info(spec, tokenizer, result), indent=1, ensure_ascii=False) + "\n")
    if evaluate:
        from .card import model_card

        (out / "README.md").write_text(model_card(spec, tokenizer, result))
    return result


def toy_info(spec: Spec, tokenizer, result: dict[str, Any]) -> dict[str, Any]:
    """What programs in other languages need to use the model: token layout, held-out sets, metrics."""
    return {
        "model": spec.name,
        "bos_token_id": tokenizer.bos_token_id,
        "unk_token_id": tokenizer.unk_token_id,
        "vocab_size": len(tokenizer),
        "first_word_id": data.first_word_id(tokenizer),
        "random_token_range": [data.first_word_id(tokenizer), len(tokenizer)],
        "ioi_train_names": data.IOI_TRAIN_NAMES,
        "held_out_names": data.HELD_OUT_NAMES,
        "held_out_templates": [data.ioi_sentence(t, "{A}", "{B}", "{S}", "{PLACE}", "{OBJECT}") for t in data.HELD_OUT_TEMPLATES],
        "metrics": result.get("metrics", {}),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", choices=sorted(SPECS))
    p.add_argument("--steps", type=int, help="training steps (default: the model's spec)")
    p.add_argument("--out", type=Path, help="output directory (default: the committed toy/models/<name>)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    spec = SPECS[a.name]
    spec = replace(spec, seed=a.seed, **({"steps": a.steps} if a.steps else {}))
    result = train(spec, a.out or MODELS_DIR / a.name, threads=a.threads)
    print(json.dumps({k: result[k] for k in ("model", "train_seconds", "final_loss")} | {"metrics": result.get("metrics")}, indent=1))


if __name__ == "__main__":
    main()
