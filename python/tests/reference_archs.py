"""Build tiny random-init models of other architectures for the Java tests (run in its own process).

    python reference_archs.py OUT_DIR ARCH [ARCH ...]

Writes OUT_DIR/ARCH, a Hugging Face model directory with a tokenizer, for each ARCH of
tiny_archs.ARCHITECTURES (gpt2, gpt_neox, llama, gemma2, gemma3, mistral, qwen2, opt, phi).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tiny_archs import make_arch_model  # noqa: E402

if __name__ == "__main__":
    out = Path(sys.argv[1])
    for arch in sys.argv[2:]:
        make_arch_model(arch, out / arch)
