"""Tiny random-init Hugging Face models of several architectures, saved as local directories.

Each loads through ``TransformerBridge.boot_transformers(dir)`` exactly as lens4j loads a
local model (``model.load``). Weights are random; the init scale (``initializer_range``) is
chosen so that logits are of order 1-10 and patches move a logit difference visibly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

D_MODEL, N_HEADS, N_LAYERS = 32, 4, 2


def _common(tok: Any) -> dict[str, Any]:
    return dict(vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.bos_token_id)


def _rotary(tok: Any, **extra: Any) -> dict[str, Any]:
    """The LLaMA-family fields: GQA 4:2, SwiGLU, rotary."""
    return dict(hidden_size=D_MODEL, intermediate_size=64, num_hidden_layers=N_LAYERS, num_attention_heads=N_HEADS,
                num_key_value_heads=2, max_position_embeddings=64, initializer_range=0.3, **_common(tok), **extra)


def _configs() -> dict[str, Callable[[Any], Any]]:
    import transformers as t

    return {
        "gpt2": lambda tok: t.GPT2Config(n_embd=D_MODEL, n_layer=N_LAYERS, n_head=N_HEADS, n_positions=64,
                                          initializer_range=0.3, **_common(tok)),
        "gpt_neox": lambda tok: t.GPTNeoXConfig(hidden_size=D_MODEL, num_hidden_layers=N_LAYERS, num_attention_heads=N_HEADS,
                                                intermediate_size=64, rotary_pct=0.5, max_position_embeddings=64,
                                                use_parallel_residual=True, initializer_range=0.3, **_common(tok)),
        "llama": lambda tok: t.LlamaConfig(**_rotary(tok)),
        "gemma2": lambda tok: t.Gemma2Config(**_rotary(tok, head_dim=8, sliding_window=4, final_logit_softcapping=5.0,
                                                         attn_logit_softcapping=10.0, query_pre_attn_scalar=8,
                                                         layer_types=["sliding_attention", "full_attention"])),
        "gemma3": lambda tok: t.Gemma3TextConfig(**_rotary(tok, head_dim=8, sliding_window=4, query_pre_attn_scalar=8,
                                                             layer_types=["sliding_attention", "full_attention"])),
        "mistral": lambda tok: t.MistralConfig(**_rotary(tok, sliding_window=6)),
        "qwen2": lambda tok: t.Qwen2Config(**_rotary(tok)),
        "opt": lambda tok: t.OPTConfig(hidden_size=D_MODEL, num_hidden_layers=N_LAYERS, num_attention_heads=N_HEADS, ffn_dim=64,
                                       word_embed_proj_dim=D_MODEL, max_position_embeddings=64, init_std=0.3,
                                       do_layer_norm_before=True, **_common(tok)),
        "phi": lambda tok: t.PhiConfig(hidden_size=D_MODEL, intermediate_size=64, num_hidden_layers=N_LAYERS,
                                       num_attention_heads=N_HEADS, partial_rotary_factor=0.5, max_position_embeddings=64,
                                       initializer_range=0.3, **_common(tok)),
    }


ARCHITECTURES = list(_configs())


def make_arch_model(arch: str, out_dir: str | Path, seed: int = 0) -> Path:
    """Save a random-init ``arch`` model (``ARCHITECTURES``) and a small offline tokenizer to ``out_dir``."""
    import torch
    from transformers import AutoModelForCausalLM

    from lens4j_bridge.toy.tiny import build_tokenizer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer(512)
    cfg = _configs()[arch](tok)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out
