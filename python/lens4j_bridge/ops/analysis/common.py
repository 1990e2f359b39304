"""Input helpers that the analysis modules share: token ids and answer pairs, positions,
layers and heads from JSON, token strings, and the model's residual layout and output transform.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from transformer_lens.utilities import get_act_name

from ...errors import LensError, int_range, require
from ...session import Session
from ..model import to_single_token


def _token_id(s: Session, model: Any, token: Any, what: str = "token") -> int:
    """A single token given as text (must be one token) or as an id."""
    if isinstance(token, str):
        return to_single_token(s, model, token)
    if isinstance(token, torch.Tensor) and token.numel() == 1:
        token = int(token.item())
    require(isinstance(token, int) and not isinstance(token, bool),
            f"{what} must be a token text or a token id, got {type(token).__name__}")
    vocab = model.cfg.d_vocab
    require(0 <= token < vocab, f"{what} id {token} is out of range: valid ids are 0..{vocab - 1}", argument=what, got=token,
            valid=int_range(0, vocab - 1))
    return token


def _answer_pairs(s: Session, model: Any, answers: Any, batch: int) -> torch.Tensor:
    """[[correct, incorrect], ...] (texts or ids) as a [batch, 2] tensor; one pair serves every prompt."""
    if isinstance(answers, torch.Tensor):
        answers = answers.tolist()
    require(isinstance(answers, list) and len(answers) > 0,
            "answers must be a non-empty list of [correct, incorrect] pairs (token texts or ids)")
    if len(answers) == 2 and not isinstance(answers[0], list):
        answers = [answers]  # a single pair given flat
    pairs = []
    for i, pair in enumerate(answers):
        require(isinstance(pair, list) and len(pair) == 2,
                f"answers[{i}] must be a [correct, incorrect] pair, got {pair!r}")
        pairs.append([_token_id(s, model, t, f"answers[{i}]") for t in pair])
    if len(pairs) == 1 and batch > 1:
        pairs = pairs * batch
    if len(pairs) != batch:
        raise LensError(f"got {len(pairs)} answer pairs for a batch of {batch} prompts: give one pair per prompt (or one pair for all)",
                        "shape_mismatch", argument="answers", shape=[len(pairs), 2], expected=[batch, 2])
    return torch.tensor(pairs, dtype=torch.int64, device=_device(model))


def _device(model: Any) -> torch.device:
    return next(model.parameters()).device


def _positions(positions: Any, n_pos: int, what: str = "positions") -> list[int]:
    """Positions (negative ones count from the end) as non-negative indices; None = all."""
    if positions is None:
        return list(range(n_pos))
    if isinstance(positions, int):
        positions = [positions]
    require(isinstance(positions, list) and all(isinstance(p, int) and not isinstance(p, bool) for p in positions) and positions,
            f"{what} must be a non-empty list of integers, got {positions!r}")
    out = []
    for p in positions:
        require(-n_pos <= p < n_pos, f"position {p} is out of range for a sequence of {n_pos} tokens (valid: {-n_pos}..{n_pos - 1})",
                argument=what, got=p, valid=int_range(-n_pos, n_pos - 1))
        out.append(p % n_pos)
    return out


def _layer_list(layers: Any, n: int, what: str = "layers", argument: str | None = None) -> list[int]:
    """Layer indices (negative ones count from the end) as non-negative ones; None = all. ``what``
    names them in messages, ``argument`` (default ``what``) in the error's details."""
    if layers is None:
        return list(range(n))
    if isinstance(layers, int):
        layers = [layers]
    require(isinstance(layers, list) and layers and all(isinstance(l, int) and not isinstance(l, bool) for l in layers),
            f"{what} must be a non-empty list of integers, got {layers!r}")
    for l in layers:
        require(-n <= l < n, f"{what} index {l} is out of range: valid 0..{n - 1} (or -{n}..-1)", argument=argument or what, got=l,
                valid=int_range(-n, n - 1))
    return [l % n for l in layers]


def _heads(model: Any, heads: Any) -> list[tuple[int, int]]:
    """[[layer, head], ...] validated against the model; None = every head."""
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    if heads is None:
        return [(l, h) for l in range(n_layers) for h in range(n_heads)]
    require(isinstance(heads, list) and heads, "heads must be a non-empty list of [layer, head] pairs")
    out = []
    for pair in heads:
        ok = isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in pair)
        require(ok, f"each head must be a [layer, head] pair of integers, got {pair!r}")
        layer, head = pair
        require(0 <= layer < n_layers and 0 <= head < n_heads,
                f"unknown head L{layer}H{head}: the model has layers 0..{n_layers - 1} and heads 0..{n_heads - 1}",
                argument="heads", got=[layer, head])
        out.append((layer, head))
    return out


def _str_tokens(model: Any, tokens: torch.Tensor) -> list[list[str]]:
    return [list(model.to_str_tokens(row)) for row in tokens]


def _decode_ids(model: Any, ids: torch.Tensor) -> list:
    """Nested lists of token strings for an id tensor of any shape (decoding each id once)."""
    flat = ids.reshape(-1).tolist()
    table = {i: model.tokenizer.decode([i]) for i in set(flat)}
    strings = [table[i] for i in flat]
    for size in reversed(ids.shape[1:]):
        strings = [strings[i:i + size] for i in range(0, len(strings), size)]
    return strings


def _has_resid_mid(model: Any) -> bool:
    """Whether the blocks have a residual between attention and MLP (not so where they run in parallel)."""
    return get_act_name("resid_mid", 0) in model.hook_dict


def _output_transform(model: Any) -> tuple[Callable[[torch.Tensor], torch.Tensor] | None, str | None]:
    """The model's post-unembedding transform (Gemma 2's final logit soft-cap, Granite's scaling)
    as its adapter declares it, and a description; (None, None) where the unembedding is the output."""
    adapter = getattr(model, "adapter", None)
    transform = getattr(adapter, "apply_output_logits_transform", None)
    if transform is None:
        return None, None
    from transformer_lens.model_bridge.architecture_adapter import ArchitectureAdapter

    cap = getattr(model.cfg, "output_logits_soft_cap", None)
    overridden = type(adapter).apply_output_logits_transform is not ArchitectureAdapter.apply_output_logits_transform
    if overridden:
        return transform, f"{type(adapter).__name__}'s post-unembedding transform"
    if cap is not None and cap > 0:
        return transform, f"final logit soft-cap {cap:g} * tanh(logits / {cap:g})"
    return None, None
