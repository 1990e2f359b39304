"""Native TransformerLens timings for BatchBench: the per-prompt IOI logit difference that
PromptMeasures.logitDiff computes, done directly in Python on the same prompts and model.

    python bench/batch_native.py MODEL_DIR PROMPTS_JSON CHUNK  -> one JSON line on stdout
"""

from __future__ import annotations

import json
import sys
import time

import torch
from transformer_lens.model_bridge import TransformerBridge


def logit_diffs(model, prompts: list[str], correct: list[str], incorrect: list[str]) -> list[float]:
    tokens = model.to_tokens(prompts, padding_side="right")
    last = torch.tensor([model.to_tokens(p).shape[1] - 1 for p in prompts])
    logits = model(tokens)[torch.arange(len(prompts)), last]
    good = torch.tensor([model.to_single_token(t) for t in correct])
    bad = torch.tensor([model.to_single_token(t) for t in incorrect])
    rows = torch.arange(len(prompts))
    return (logits[rows, good] - logits[rows, bad]).tolist()


def main() -> None:
    model_dir, prompts_json, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.set_grad_enabled(False)
    records = json.load(open(prompts_json))
    model = TransformerBridge.boot_transformers(model_dir, device="cpu", dtype=torch.float32)
    model.enable_compatibility_mode(disable_warnings=True)
    logit_diffs(model, [r["clean"] for r in records[:chunk]], [r["correct"] for r in records[:chunk]],
                [r["incorrect"] for r in records[:chunk]])  # warm-up
    start = time.perf_counter()
    values: dict[str, list[float]] = {}
    for i in range(0, len(records), chunk):
        part = records[i:i + chunk]
        correct, incorrect = [r["correct"] for r in part], [r["incorrect"] for r in part]
        clean = logit_diffs(model, [r["clean"] for r in part], correct, incorrect)
        corrupted = logit_diffs(model, [r["corrupted"] for r in part], correct, incorrect)
        for r, c, k in zip(part, clean, corrupted):
            values[r["id"]] = [c, k]
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "values": values, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
