"""Shared fixtures: the project's own tiny model, booted through the real TransformerLens path."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from lens4j_bridge.toy.tiny import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-gpt2", n_layers=2, d_model=64, n_heads=4)


@pytest.fixture(scope="session")
def bridge(tiny_model_dir):
    """A TransformerBridge in compatibility mode (fold_ln, center_writing_weights, center_unembed)."""
    import torch
    from transformer_lens.model_bridge import TransformerBridge

    torch.set_grad_enabled(False)
    model = TransformerBridge.boot_transformers(str(tiny_model_dir), device="cpu", dtype=torch.float32)
    model.enable_compatibility_mode()
    return model
