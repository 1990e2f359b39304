"""TransformerLens' own patching sweeps, for the Java parity test (run in its own process).

    python reference_patching.py MODEL_DIR OUT_DIR CLEAN CORRUPTED CORRECT INCORRECT

Writes resid_pre.json and attn_head_out_all_pos.json: the grids of
transformer_lens.patching with the logit difference (correct - incorrect) at the last position.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    import torch
    from transformer_lens import patching
    from transformer_lens.model_bridge import TransformerBridge

    model_dir, out, clean, corrupted, correct, incorrect = sys.argv[1:7]
    out_dir = Path(out)
    torch.set_grad_enabled(False)
    model = TransformerBridge.boot_transformers(model_dir, device="cpu", dtype=torch.float32)
    model.enable_compatibility_mode(disable_warnings=True)
    clean_tokens, corrupted_tokens = model.to_tokens(clean), model.to_tokens(corrupted)
    c, i = model.to_single_token(correct), model.to_single_token(incorrect)
    _, clean_cache = model.run_with_cache(clean_tokens)

    def metric(logits: torch.Tensor) -> torch.Tensor:
        return logits[0, -1, c] - logits[0, -1, i]

    for name, fn in [("resid_pre", patching.get_act_patch_resid_pre),
                     ("attn_head_out_all_pos", patching.get_act_patch_attn_head_out_all_pos)]:
        grid = fn(model, corrupted_tokens, clean_cache, metric)
        (out_dir / f"{name}.json").write_text(json.dumps(grid.tolist()))


if __name__ == "__main__":
    main()
