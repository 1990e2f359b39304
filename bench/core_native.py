"""Native TransformerLens timings for the core benchmark: the same work that CoreBench does
through lens4j, done directly in Python, in the same venv, on the same model.

    python bench/core_native.py MODEL_DIR BATCH SEQ REPEATS  -> one JSON line on stdout
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import torch
from transformer_lens.model_bridge import TransformerBridge


def main() -> None:
    model_dir, batch, seq, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_grad_enabled(False)
    model = TransformerBridge.boot_transformers(model_dir, device="cpu", dtype=torch.float32)
    model.enable_compatibility_mode(disable_warnings=True)
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(1, model.cfg.d_vocab, (batch, seq), generator=gen)
    for _ in range(2):
        model.run_with_cache(tokens)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        logits, cache = model.run_with_cache(tokens)
        times.append(time.perf_counter() - start)
        del logits, cache
    print(json.dumps({"run_with_cache_median_s": statistics.median(times), "times_s": times, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
