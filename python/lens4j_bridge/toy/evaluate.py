"""The toy models' metrics, measured through TransformerLens as a user would load them.

    python -m lens4j_bridge.toy.evaluate toy-ioi|toy-induction [DIR]

Models load with ``TransformerBridge.boot_transformers(dir)`` + ``enable_compatibility_mode()``.
IOI: mean logit(indirect object) - logit(subject) at each prompt's last token. Induction, on
BOS + n random " word" tokens + the same n again: the seed-001 score (mean attention from each
token to the token after its earlier occurrence, the diagonal at offset n - 1) and
``transformer_lens.head_detector.detect_head(model, texts, "induction_head")``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import torch

from . import data

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def load(model_dir: str | Path) -> Any:
    from transformer_lens.model_bridge import TransformerBridge

    model = TransformerBridge.boot_transformers(str(model_dir), device="cpu", dtype=torch.float32)
    model.enable_compatibility_mode(disable_warnings=True)
    model.eval()
    return model


def ioi_logit_diffs(model: Any, prompts: list[data.IoiPrompt]) -> torch.Tensor:
    """Per prompt: logit of the indirect object minus logit of the subject, at the last prompt token."""
    tokens = model.to_tokens([p.prompt for p in prompts], padding_side="right")
    lengths = torch.tensor([model.to_tokens(p.prompt).shape[-1] for p in prompts])
    with torch.no_grad():
        logits = model(tokens, return_type="logits")
    last = logits[torch.arange(len(prompts)), lengths - 1]
    io = torch.tensor([model.to_single_token(p.io) for p in prompts])
    s = torch.tensor([model.to_single_token(p.s) for p in prompts])
    return last.gather(1, io[:, None])[:, 0] - last.gather(1, s[:, None])[:, 0]


def repeated_tokens(model: Any, n: int, batch: int, seed: int = 0) -> torch.Tensor:
    """[batch, 1 + 2n]: BOS, n random " word" tokens, the same n again (they round-trip through text)."""
    first = data.first_word_id(model.tokenizer)
    g = torch.Generator().manual_seed(seed)
    half = torch.randint(first, model.cfg.d_vocab, (batch, n), generator=g)
    bos = torch.full((batch, 1), model.tokenizer.bos_token_id)
    return torch.cat([bos, half, half], dim=1)


def seed_induction_scores(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """[layer, head]: seed 001's score, the mean of each pattern's diagonal at offset n - 1."""
    n = (tokens.shape[1] - 1) // 2
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=lambda name: name.endswith("hook_pattern"))
    return torch.stack([cache["pattern", layer].diagonal(offset=n - 1, dim1=-1, dim2=-2).mean((0, 2)) for layer in range(model.cfg.n_layers)])


def detector_scores(model: Any, tokens: torch.Tensor, head: str = "induction_head", **kwargs: Any) -> torch.Tensor:
    """[layer, head]: ``detect_head`` on the texts of ``tokens`` (without their BOS, which it prepends)."""
    from transformer_lens.head_detector import detect_head

    texts = [model.to_string(row[1:]) for row in tokens]
    with torch.no_grad():
        return detect_head(model, texts, head, **kwargs)


def _best(scores: torch.Tensor, layer: int | None = None) -> dict[str, Any]:
    s = scores if layer is None else scores[layer : layer + 1]
    flat = int(s.flatten().argmax())
    l, h = divmod(flat, s.shape[1])
    return {"layer": l + (layer or 0), "head": h, "score": round(float(s.flatten()[flat]), 4)}


def induction_metrics(model: Any, n: int = 50, batch: int = 4, seed: int = 0, layer: int | None = None) -> dict[str, Any]:
    tokens = repeated_tokens(model, n, batch, seed)
    seed_scores = seed_induction_scores(model, tokens)
    detect = detector_scores(model, tokens)
    detect_nobos = detector_scores(model, tokens, exclude_bos=True)
    return {
        "tokens": f"BOS + {n} random word tokens repeated twice, batch {batch}, torch seed {seed}",
        # detect_head's default score divides by the whole pattern: at most n / (2n + 1) here.
        "detect_head_bound": round(n / (2 * n + 1), 4),
        "detect_head": _best(detect, layer),
        "detect_head_exclude_bos": _best(detect_nobos, layer),
        "seed_001_score": _best(seed_scores, layer),
        "detect_head_all": [[round(float(x), 3) for x in row] for row in detect],
        "detect_head_exclude_bos_all": [[round(float(x), 3) for x in row] for row in detect_nobos],
        "seed_001_score_all": [[round(float(x), 3) for x in row] for row in seed_scores],
    }


def ioi_metrics(model: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, prompts in data.ioi_eval_sets().items():
        diffs = ioi_logit_diffs(model, prompts)
        out[name] = {"n": len(prompts), "mean_logit_diff": round(float(diffs.mean()), 4), "accuracy": round(float((diffs > 0).float().mean()), 4)}
    return out


def measure(name: str, model_dir: str | Path) -> dict[str, Any]:
    model = load(model_dir)
    if name == "toy-induction":
        return {"induction": induction_metrics(model, layer=1), "induction_n100": induction_metrics(model, n=100, batch=2, layer=1)}
    return {"ioi": ioi_metrics(model), "induction": induction_metrics(model), "patterns": pattern_metrics(model)}


def _answer_rank(model: Any, prompt: str, answer: str) -> tuple[int, float]:
    with torch.no_grad():
        logits = model(prompt, return_type="logits")[0, -1]
    probs = logits.softmax(-1)
    tok = model.to_single_token(answer)
    return int((logits > logits[tok]).sum()), round(float(probs[tok]), 4)


def pattern_metrics(model: Any) -> dict[str, Any]:
    """The other seeds' prompts: rank (0 = top) and probability of the expected next token."""
    checks = [
        ("What is the capital of France?", " Paris"),
        ("What is the capital of England?", " London"),
        ("When you drop a ball, it falls to the ground because of", " gravity"),
        ("When you throw a ball, it falls to the ground because of", " air"),
        ("James Potter went to school. James", " Potter"),
        ("Alice and Bob went to the store. Alice gave the milk to", " Bob"),
        ("fast : slow\ncold : warm\nbig :", " small"),
        ("fast : schnell\ncold : kalt\nbig :", " groß"),
        ("3+4=7\n2+2=4\n5+1=", "6"),
        ("3+4=8\n2+2=5\n1+6=8\n5+1=", "7"),
    ]
    return {f"{p!r} -> {a!r}": dict(zip(("rank", "prob"), _answer_rank(model, p, a))) for p, a in checks}


def main() -> None:
    name = sys.argv[1]
    model_dir = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).resolve().parent / "models" / name
    torch.set_num_threads(2)
    print(json.dumps(measure(name, model_dir), indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
