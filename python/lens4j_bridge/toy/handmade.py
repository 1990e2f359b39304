"""toy-induction: a two-layer attention-only GPT-2 whose weights are set by hand to the canonical
induction circuit (Olsson et al., 2022), so that every analysis has a known answer to find.

    python -m lens4j_bridge.toy.handmade [--out DIR]

Why by hand: 2-layer attention-only models trained here on CPU (1500-2000 steps on repeated random
word tokens, whole or scattered repeats, lr 1e-3 to 3e-3) learned to continue repeats (loss 0.9 on
the second copy) through attention at other offsets, with induction scores near 0.01. A fixture
whose circuit is built, not hoped for, is what the head-detection and patching tests need.

The residual stream (d_model 256) is four orthogonal blocks of 64 dimensions:

    A  tokens      each token is a random unit vector in the zero-sum subspace of the block
    B  previous    layer 0 writes the previous token's A vector here
    P  positions   16 sinusoids, each written as (c, -c, s, -s) so that the block sums to zero
    E  flags       "this is BOS" / "this is not BOS" (tokens) and a constant (positions)

(BOS is only its flag: nothing else in A, so no query matches it by chance.)

Every written vector sums to zero and every position's residual has the same norm, so LayerNorm
is one known scale at each layer and the circuit survives it.

- L0H0, previous-token head: the query is the position rotated back by one step, the key the
  position, so the score peaks at ``k = q - 1``; the value copies block A and the output writes
  it into block B.
- L1H0, induction head: the query is the current token (A), the key the previous token (B), so it
  attends to the token after an earlier copy of the current one; with no copy it rests on BOS
  (a constant query dimension meets the BOS flag). The value copies the attended token into A,
  and the tied unembedding reads it out as the prediction.
- Heads 1-3 and the MLPs are zero.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import torch

from . import data

MODELS_DIR = Path(__file__).resolve().parent / "models"
NAME = "toy-induction"

D_MODEL, N_HEAD, D_HEAD, N_CTX = 256, 4, 64, 256
A, B, P, E = (slice(i * 64, (i + 1) * 64) for i in range(4))
BOS_FLAG, NOT_BOS_FLAG, CONSTANT = (192, 193), (196, 197), (194, 195)  # dims of block E, each a (+x, -x) pair
N_FREQ = 16
SEED = 0

# Attention logits after GPT-2's 1/sqrt(d_head): a match must beat ~250 other keys by a wide margin.
PREV_SHARPNESS = 2.0  # per unit of the sinusoid kernel, which drops by > 10 away from its peak
INDUCTION_SHARPNESS = 40.0  # per unit of cosine between token vectors
BOS_REST = 0.65  # the BOS key's score, in the same units: above chance cosines (< 0.45), below a match (1)
COPY_GAIN = 3.0  # the copied next token outweighs the current token in the unembedding
UNEMBED_SCALE = 3.0  # ln_f weight: logits sharp enough that the copied token is the clear top


def _zero_sum_basis(n: int) -> torch.Tensor:
    """[n, n - 1]: orthonormal columns spanning the vectors of R^n that sum to zero."""
    q, _ = torch.linalg.qr(torch.cat([torch.ones(n, 1), torch.eye(n)[:, : n - 1]], dim=1))
    return q[:, 1:]


# Found by a seeded random search over 16 frequencies in (0.05, pi): the kernel peaks at 16 and
# stays below 5.2 at every other offset from -1 to 255 (position_kernel checks it).
FREQUENCIES = (2.9827, 1.4815, 0.1447, 2.4854, 0.5887, 0.8226, 0.5639, 0.1601,
               0.5261, 1.6048, 1.8512, 0.6375, 0.3839, 2.2342, 3.0987, 2.999)


def _frequencies() -> torch.Tensor:
    return torch.tensor(FREQUENCIES)


def position_kernel(max_offset: int = N_CTX) -> torch.Tensor:
    """sum_j cos(w_j * m) for m = -1 .. max_offset - 1: the prev-token head's score before scaling."""
    m = torch.arange(-1, max_offset).double()
    return torch.cos(m[:, None] * _frequencies().double()[None, :]).sum(-1)


def _pair(x: torch.Tensor, dims: tuple[int, int], value: float) -> None:
    x[..., dims[0]], x[..., dims[1]] = value, -value


def build_state_dict(vocab_size: int, bos_id: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(SEED)
    U = _zero_sum_basis(64)  # block coordinates <- token coordinates (63 of them)
    flag = 1.0 / math.sqrt(2)  # each flag pair has norm 1

    # Tokens: A part is U @ unit vector, plus a "not BOS" flag pair of norm 1. BOS has no A part (no
    # token may match it by chance), only its flag pair, of norm sqrt(2): all tokens have norm sqrt(2).
    g63 = torch.randn(vocab_size, 63, generator=g)
    g63 = g63 / g63.norm(dim=1, keepdim=True)
    wte = torch.zeros(vocab_size, D_MODEL)
    wte[:, A] = g63 @ U.T
    _pair(wte, NOT_BOS_FLAG, flag)
    wte[bos_id] = 0.0
    _pair(wte[bos_id], BOS_FLAG, 1.0)

    # Positions: per frequency (c, -c, s, -s) / sqrt(2 * N_FREQ) (norm 1), plus the constant pair (norm 1).
    w = _frequencies()
    pos = torch.arange(N_CTX).float()[:, None] * w[None, :]
    wpe = torch.zeros(N_CTX, D_MODEL)
    r = 1.0 / math.sqrt(2 * N_FREQ)
    for j in range(N_FREQ):
        base = P.start + 4 * j
        wpe[:, base], wpe[:, base + 1] = torch.cos(pos[:, j]) * r, -torch.cos(pos[:, j]) * r
        wpe[:, base + 2], wpe[:, base + 3] = torch.sin(pos[:, j]) * r, -torch.sin(pos[:, j]) * r
    _pair(wpe, CONSTANT, flag)

    # LayerNorm divides by the residual's RMS, the same at every position: sqrt(|x|^2 / d_model).
    # One exception: position 1 follows BOS, which has no A part, so layer 1 sees no previous-token
    # vector there and its RMS is sqrt(5/4) smaller. Harmless: position 1 has nothing to match.
    ln0 = math.sqrt(D_MODEL / 4.0)  # |token|^2 2 + |position|^2 2
    ln1 = math.sqrt(D_MODEL / 5.0)  # + the previous token's A vector, norm 1
    inv_sqrt_dh = 1.0 / math.sqrt(D_HEAD)

    sd: dict[str, torch.Tensor] = {"transformer.wte.weight": wte, "transformer.wpe.weight": wpe}
    for layer in range(2):
        c_attn = torch.zeros(D_MODEL, 3 * D_MODEL)  # Conv1D: x @ W; columns [q | k | v], head 0 first
        c_proj = torch.zeros(D_MODEL, D_MODEL)
        q, k, v = (slice(i * D_MODEL, i * D_MODEL + D_HEAD) for i in range(3))
        if layer == 0:
            # score = sharpness * sum_j cos(w_j (q - 1 - k)): extract (cos, sin) of each frequency,
            # rotate the query's back by w_j.
            to_unit = 1.0 / (r * 2) / ln0  # (x[c] - x[-c]) = 2 r cos after LayerNorm's ln0
            scale = math.sqrt(PREV_SHARPNESS / inv_sqrt_dh)
            for j in range(N_FREQ):
                base = P.start + 4 * j
                cos_in = torch.zeros(D_MODEL)
                sin_in = torch.zeros(D_MODEL)
                cos_in[base], cos_in[base + 1] = to_unit, -to_unit
                sin_in[base + 2], sin_in[base + 3] = to_unit, -to_unit
                cw, sw = math.cos(w[j]), math.sin(w[j])
                c_attn[:, k.start + 2 * j] = cos_in * scale
                c_attn[:, k.start + 2 * j + 1] = sin_in * scale
                c_attn[:, q.start + 2 * j] = (cos_in * cw + sin_in * sw) * scale
                c_attn[:, q.start + 2 * j + 1] = (sin_in * cw - cos_in * sw) * scale
            # value: token coordinates of A; output: the same vector, in block B
            c_attn[A, v.start : v.start + 63] = U / ln0
            c_proj[0:63, B] = U.T
        else:
            scale = math.sqrt(INDUCTION_SHARPNESS / inv_sqrt_dh) / ln1
            c_attn[A, q.start : q.start + 63] = U * scale
            c_attn[B, k.start : k.start + 63] = U * scale
            const_q = torch.zeros(D_MODEL)
            bos_k = torch.zeros(D_MODEL)
            _pair(const_q, CONSTANT, 1.0 / (2 * flag))  # (x - (-x)) / (2 flag) = 1 before LayerNorm
            _pair(bos_k, BOS_FLAG, 1.0 / 2)
            c_attn[:, q.start + 63] = const_q * scale
            c_attn[:, k.start + 63] = bos_k * scale * BOS_REST
            c_attn[A, v.start : v.start + 63] = U / ln1
            c_proj[0:63, A] = U.T * COPY_GAIN
        prefix = f"transformer.h.{layer}."
        sd |= {
            prefix + "ln_1.weight": torch.ones(D_MODEL), prefix + "ln_1.bias": torch.zeros(D_MODEL),
            prefix + "attn.c_attn.weight": c_attn, prefix + "attn.c_attn.bias": torch.zeros(3 * D_MODEL),
            prefix + "attn.c_proj.weight": c_proj, prefix + "attn.c_proj.bias": torch.zeros(D_MODEL),
            prefix + "ln_2.weight": torch.ones(D_MODEL), prefix + "ln_2.bias": torch.zeros(D_MODEL),
            prefix + "mlp.c_fc.weight": torch.zeros(D_MODEL, 4), prefix + "mlp.c_fc.bias": torch.zeros(4),
            prefix + "mlp.c_proj.weight": torch.zeros(4, D_MODEL), prefix + "mlp.c_proj.bias": torch.zeros(D_MODEL),
        }
    sd["transformer.ln_f.weight"] = torch.full((D_MODEL,), UNEMBED_SCALE)
    sd["transformer.ln_f.bias"] = torch.zeros(D_MODEL)
    sd["lm_head.weight"] = wte  # tied, as in GPT-2
    return sd


def build(out: Path, evaluate: bool = True) -> dict[str, Any]:
    """Write the Hugging Face directory of toy-induction to ``out``; return its measured metrics."""
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = data.build_tokenizer()
    cfg = GPT2Config(
        vocab_size=len(tokenizer), n_positions=N_CTX, n_embd=D_MODEL, n_layer=2, n_head=N_HEAD, n_inner=4,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, layer_norm_epsilon=1e-5,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    model = GPT2LMHeadModel(cfg)
    missing, unexpected = model.load_state_dict(build_state_dict(len(tokenizer), tokenizer.bos_token_id), strict=False)
    assert not unexpected and all(name.endswith("attn.bias") or name.endswith("masked_bias") for name in missing), (missing, unexpected)
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    metrics: dict[str, Any] = {}
    if evaluate:
        from . import evaluate as ev

        metrics = ev.measure(NAME, out)
    info = {
        "model": NAME, "built_by": "lens4j_bridge.toy.handmade (weights set by hand, no training)",
        "bos_token_id": tokenizer.bos_token_id, "unk_token_id": tokenizer.unk_token_id, "vocab_size": len(tokenizer),
        "first_word_id": data.first_word_id(tokenizer), "random_token_range": [data.first_word_id(tokenizer), len(tokenizer)],
        "circuit": {"previous_token_head": [0, 0], "induction_head": [1, 0]}, "metrics": metrics,
    }
    (out / "toy_info.json").write_text(json.dumps(info, indent=1, ensure_ascii=False) + "\n")
    if evaluate:
        (out / "README.md").write_text(_card(metrics))
    return info


def _card(metrics: dict[str, Any]) -> str:
    from .card import induction_lines, tokenizer_section

    how = __doc__.split("[--out DIR]\n\n", 1)[1]
    return f"""# toy-induction

A two-layer, attention-only GPT-2 (d_model {D_MODEL}, {N_HEAD} heads of {D_HEAD}, n_ctx {N_CTX}) with the
toy-ioi tokenizer, **built by hand, not trained**: `python -m lens4j_bridge.toy.handmade` writes this
directory (the same weights every time) from the recipe in `lens4j_bridge/toy/handmade.py`. It is a known-answer
fixture: L0H0 is a previous-token head, L1H0 an induction head, everything else is zero.

## How it works

{how}
## Measured (TransformerLens, `python -m lens4j_bridge.toy.evaluate toy-induction`)

{induction_lines(metrics["induction"])}
With n = 100 (201 tokens, as in seeds 001 and 004):
{induction_lines(metrics["induction_n100"])}
{tokenizer_section(data.build_tokenizer())}
Load it with `TransformerBridge.boot_transformers(dir)` + `enable_compatibility_mode()`, or
`lens.load("toy-induction")` in lens4j.
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=MODELS_DIR / NAME)
    a = p.parse_args()
    info = build(a.out)
    print(json.dumps(info["metrics"], indent=1))


if __name__ == "__main__":
    main()
