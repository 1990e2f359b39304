"""Head detector (transformer_lens.head_detector; seeds 000, 001, 004), and the
repeated-random-token and induction scores.
"""

from __future__ import annotations

from typing import Any

import torch
from transformer_lens.utilities import get_act_name

from ...errors import LensError, nearest, require
from ...session import Session
from .. import op
from ..model import tokens_of
from ..tensor import as_tensor
from .common import _device, _heads


HEAD_PATTERNS = ("previous_token_head", "duplicate_token_head", "induction_head")


def _pattern_names(model: Any) -> list[str]:
    return [get_act_name("pattern", l) for l in range(model.cfg.n_layers)]


def _patterns(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """Attention patterns of every layer, [layer, batch, head, q, k], from one forward pass."""
    names = _pattern_names(model)
    wanted = set(names)
    _, cache = model.run_with_cache(tokens, names_filter=lambda n: n in wanted, return_type=None)
    return torch.stack([cache[n] for n in names])


def _sequences(model: Any, input: Any, prepend_bos: bool | None) -> list[torch.Tensor]:
    """Each sequence's own tokens, [pos]: a string or each string of a list, or each row of a token tensor."""
    if isinstance(input, str):
        input = [input]
    if isinstance(input, list) and input and all(isinstance(x, str) for x in input):
        return [model.to_tokens(x, prepend_bos=prepend_bos)[0] for x in input]
    require(not (isinstance(input, list) and not input), "the input is empty: give a prompt, prompts or tokens")
    return list(tokens_of(model, as_tensor(input), prepend_bos))


@op("analysis.detect_head")
def detect_head(
    s: Session, model: Any, input: Any, pattern: Any, heads: list | None = None, exclude_bos: bool = False,
    exclude_current_token: bool = False, error_measure: str = "mul", prepend_bos: bool | None = None,
) -> dict[str, Any]:
    """transformer_lens.head_detector.detect_head, all heads from one forward pass per sequence length.

    ``pattern``: "previous_token_head", "duplicate_token_head", "induction_head", or a custom
    [pos, pos] lower-triangular tensor (every sequence must then have that length). Several
    sequences: the mean of the per-sequence score grids (as TransformerLens does for a list).
    Heads outside ``heads`` score -1, as in TransformerLens.
    """
    require(error_measure in ("mul", "abs"), f"error_measure must be 'mul' or 'abs', got {error_measure!r}",
            argument="error_measure", got=error_measure, valid=["mul", "abs"])
    from transformer_lens import head_detector as hd

    custom = None
    if isinstance(pattern, str):
        if pattern not in HEAD_PATTERNS:
            raise LensError(f"unknown head pattern {pattern!r}; valid: {list(HEAD_PATTERNS)} or a [pos, pos] tensor",
                            argument="pattern", got=pattern, nearest=nearest(pattern, list(HEAD_PATTERNS)),
                            valid=list(HEAD_PATTERNS))
    else:
        custom = as_tensor(pattern).float()
        require(custom.dim() == 2 and custom.shape[0] == custom.shape[1],
                f"a custom detection pattern must be a square [pos, pos] matrix, got shape {list(custom.shape)}",
                argument="pattern", shape=list(custom.shape))
        require(bool(torch.equal(custom, torch.tril(custom))), "a custom detection pattern must be lower triangular (no attention to later tokens)")
    seqs = _sequences(model, input, prepend_bos)
    n_ctx = model.cfg.n_ctx
    for seq in seqs:
        require(1 < seq.shape[0] < n_ctx, f"each sequence must have 2..{n_ctx - 1} tokens, got {seq.shape[0]}")
        if custom is not None:
            require(seq.shape[0] == custom.shape[0],
                    f"the detection pattern is {custom.shape[0]}x{custom.shape[0]} but a sequence has {seq.shape[0]} tokens", "shape_mismatch",
                    argument="pattern", shape=list(custom.shape), expected=[seq.shape[0], seq.shape[0]])
    selected = _heads(model, heads)
    mask = torch.zeros(model.cfg.n_layers, model.cfg.n_heads, dtype=torch.bool)
    for l, h in selected:
        mask[l, h] = True

    # Sequences of one length share a forward pass; scores are per sequence, then averaged.
    scores: list[torch.Tensor | None] = [None] * len(seqs)
    by_len: dict[int, list[int]] = {}
    for i, seq in enumerate(seqs):
        by_len.setdefault(seq.shape[0], []).append(i)
    for idx in by_len.values():
        patterns = _patterns(model, torch.stack([seqs[i] for i in idx]))  # [layer, b, head, q, k]
        for j, i in enumerate(idx):
            det = custom if custom is not None else getattr(hd, f"get_{pattern}_detection_pattern")(seqs[i].cpu())
            scores[i] = _head_scores(patterns[:, j], det.to(patterns.device), exclude_bos, exclude_current_token, error_measure)
    grid = torch.stack(scores).mean(0) if len(scores) > 1 else scores[0]
    grid = torch.where(mask.to(grid.device), grid, torch.full_like(grid, -1.0))
    return {
        "scores": grid.to(model.cfg.dtype),
        "layers": list(range(model.cfg.n_layers)),
        "heads": list(range(model.cfg.n_heads)),
        "pattern": pattern if isinstance(pattern, str) else "custom",
        "n_sequences": len(seqs),
    }


def _head_scores(patterns: torch.Tensor, det: torch.Tensor, exclude_bos: bool, exclude_current: bool, measure: str) -> torch.Tensor:
    """compute_head_attention_similarity_score for every head at once: [layer, head, q, k] -> [layer, head]."""
    if measure == "mul":
        if exclude_bos or exclude_current:
            patterns = patterns.clone()
        if exclude_bos:
            patterns[..., :, 0] = 0
        if exclude_current:
            patterns.diagonal(dim1=-2, dim2=-1).zero_()
        return (patterns * det).sum((-2, -1)) / patterns.sum((-2, -1))
    abs_diff = (patterns - det).abs()
    size = abs_diff.shape[-1]
    if exclude_bos:
        abs_diff[..., :, 0] = 0
    if exclude_current:
        abs_diff.diagonal(dim1=-2, dim2=-1).zero_()
    # TransformerLens rounds each head's score to 3 decimals with Python's round.
    means = abs_diff.flatten(-2).mean(-1) * size
    return torch.tensor([[1 - round(v, 3) for v in row] for row in means.tolist()], dtype=patterns.dtype, device=patterns.device)


@op("analysis.repeated_random_tokens")
def repeated_random_tokens(
    s: Session, model: Any, seq_len: int, batch: int = 1, seed: int = 0, low: int = 100, high: int = 20000,
    prepend_bos: bool = True,
) -> dict[str, Any]:
    """Seeds 001/004: ``randint(low, high, (batch, seq_len))`` repeated twice, here with a seeded
    torch.Generator and BOS in front (``prepend_bos``). ``high`` is capped at the vocabulary size."""
    require(isinstance(seq_len, int) and seq_len >= 1, f"seq_len must be a positive integer, got {seq_len!r}")
    require(isinstance(batch, int) and batch >= 1, f"batch must be a positive integer, got {batch!r}")
    high = min(high, model.cfg.d_vocab)
    require(0 <= low < high, f"token range [{low}, {high}) is empty (vocabulary size {model.cfg.d_vocab})")
    total = 2 * seq_len + (1 if prepend_bos else 0)
    require(total <= model.cfg.n_ctx, f"2 * seq_len{' + 1 (BOS)' if prepend_bos else ''} = {total} exceeds the model's context of {model.cfg.n_ctx}")
    gen = torch.Generator().manual_seed(seed)
    original = torch.randint(low, high, (batch, seq_len), generator=gen)
    tokens = torch.cat([original, original], dim=1)
    if prepend_bos:
        bos = model.tokenizer.bos_token_id
        require(bos is not None, "the tokenizer has no BOS token; use prepend_bos=false")
        tokens = torch.cat([torch.full((batch, 1), bos, dtype=tokens.dtype), tokens], dim=1)
    return {"tokens": tokens.to(_device(model)), "seq_len": seq_len, "prepend_bos": prepend_bos}


@op("analysis.repeated_token_scores")
def repeated_token_scores(s: Session, model: Any, tokens: Any, seq_len: int) -> dict[str, Any]:
    """Seed 001's previous-token, duplicate-token and induction scores on repeated tokens:
    the mean over batch and diagonal of ``pattern.diagonal(offset=k, dim1=-1, dim2=-2)`` with
    k = 1, seq_len and seq_len - 1, from one forward pass."""
    t = tokens_of(model, tokens)
    require(isinstance(seq_len, int) and 1 <= seq_len < t.shape[1], f"seq_len must be in [1, {t.shape[1] - 1}], got {seq_len!r}")
    patterns = _patterns(model, t)  # [layer, batch, head, q, k]
    out = {}
    for name, offset in (("previous_token", 1), ("duplicate_token", seq_len), ("induction", seq_len - 1)):
        out[name] = patterns.diagonal(offset=offset, dim1=-1, dim2=-2).mean(dim=(1, 3))
    out.update(layers=list(range(model.cfg.n_layers)), heads=list(range(model.cfg.n_heads)))
    return out


@op("analysis.induction_scores")
def induction_scores(s: Session, model: Any, prompts: Any, prepend_bos: bool | None = None) -> dict[str, Any]:
    """Seed 000's per-question induction score: the prompts are tokenized together (right
    padding, as ``model.to_tokens(questions)``), ``length`` is that padded length, and each
    prompt's score per head is the mean of ``pattern.diagonal(dim1=-2, dim2=-1, offset=1 - length // 2)``.
    One forward pass for the batch (right padding does not change the earlier positions)."""
    tokens = tokens_of(model, prompts, prepend_bos)
    length = tokens.shape[1]
    require(length >= 2, "induction scores need prompts of at least 2 tokens")
    offset = 1 - length // 2
    patterns = _patterns(model, tokens)  # [layer, batch, head, q, k]
    scores = patterns.diagonal(dim1=-2, dim2=-1, offset=offset).mean(-1).permute(1, 0, 2)  # [batch, layer, head]
    flat = scores.flatten(1).argmax(-1)
    n_heads = model.cfg.n_heads
    return {
        "scores": scores,
        "max_layer": (flat // n_heads).tolist(),
        "max_head": (flat % n_heads).tolist(),
        "max_score": scores.flatten(1).max(-1).values.tolist(),
        "offset": offset,
        "length": length,
        "layers": list(range(model.cfg.n_layers)),
        "heads": list(range(n_heads)),
    }
