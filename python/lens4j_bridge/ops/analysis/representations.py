"""Steering and activation datasets (seed 003): activation datasets, steering vectors, PCA.
"""

from __future__ import annotations

from typing import Any

import torch
from transformer_lens.utilities import get_act_name

from ...errors import LensError, require
from ...session import Session
from .. import op
from ..model import check_hook_names, tokens_of
from ..tensor import as_tensor
from .common import _layer_list, _token_id


DATASET_HOOKS = ("ln2.hook_normalized", "resid_pre", "resid_mid", "resid_post")


def _demarcation_id(s: Session, model: Any, demarcation: Any) -> int:
    # The seed takes the last token of the encoded string: tokenizer.encode(" :")[-1].
    if isinstance(demarcation, str):
        require(demarcation != "", "demarcation must be a non-empty string or a token id")
        return int(model.to_tokens(demarcation, prepend_bos=False)[0, -1])
    return _token_id(s, model, demarcation, "demarcation")


@op("analysis.activation_dataset")
def activation_dataset(
    s: Session, model: Any, prompt_pairs: list[list[str]], demarcation: Any, layers: list[int] | None = None,
    offset: int = 1, hook: str = "ln2.hook_normalized",
) -> dict[str, Any]:
    """Seed 003's ``crate_activation_dataset``: for each prompt, the activation at every layer
    of the token ``offset`` after the first demarcation token (seed: ``tokens[:pos + 2]``,
    last position, ``blocks.L.ln2.hook_normalized``). ``hook`` may instead be resid_pre,
    resid_mid or resid_post. All prompts run in one right-padded batch: under causal
    attention the padding after the read position changes nothing there.
    Returns a, b: [pairs, layers, d_model]."""
    require(isinstance(prompt_pairs, list) and prompt_pairs, "prompt_pairs must be a non-empty list of [a, b] prompt pairs")
    for i, pair in enumerate(prompt_pairs):
        require(isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair),
                f"prompt_pairs[{i}] must be a pair of two prompt strings, got {pair!r}")
    require(hook in DATASET_HOOKS, f"unknown hook {hook!r}; valid: {list(DATASET_HOOKS)}", argument="hook", got=hook,
            valid=list(DATASET_HOOKS))
    require(isinstance(offset, int) and offset >= 0, f"offset must be an integer >= 0, got {offset!r}")
    dem = _demarcation_id(s, model, demarcation)
    layer_ids = _layer_list(layers, model.cfg.n_layers)
    names = [f"blocks.{l}.{hook}" if "." in hook else get_act_name(hook, l) for l in layer_ids]
    check_hook_names(model, names)
    prompts = [p for pair in prompt_pairs for p in pair]
    per_prompt = [model.to_tokens(p)[0] for p in prompts]
    read_at = []
    for i, toks in enumerate(per_prompt):
        ids = toks.tolist()
        if dem not in ids:
            raise LensError(f"the demarcation token {model.tokenizer.decode([dem])!r} (id {dem}) is not in prompt {prompts[i]!r}, "
                            f"whose tokens are {list(model.to_str_tokens(toks))}")
        p = ids.index(dem) + offset
        require(p < len(ids), f"prompt {prompts[i]!r} has no token {offset} after its demarcation token")
        read_at.append(p)
    tokens = tokens_of(model, prompts, padding_side="right")
    wanted = set(names)
    _, cache = model.run_with_cache(tokens, names_filter=lambda n: n in wanted, return_type=None)
    rows = torch.arange(len(prompts), device=tokens.device)
    cols = torch.tensor(read_at, device=tokens.device)
    acts = torch.stack([cache[n][rows, cols] for n in names], dim=1)  # [prompts, layers, d_model]
    return {
        "a": acts[0::2],
        "b": acts[1::2],
        "layers": layer_ids,
        "hook": hook,
        "demarcation_id": dem,
        "positions_a": read_at[0::2],
        "positions_b": read_at[1::2],
    }


@op("analysis.steering_vector")
def steering_vector(s: Session, a: Any, b: Any, layer: int | None = None) -> dict[str, Any]:
    """Mean difference of paired activations, ``(a - b).mean(0)``: [layers, d_model], or [d_model]
    at one row of the layer axis. Apply it with the hooks area's "add" action."""
    ta, tb = as_tensor(a), as_tensor(b)
    if ta.shape != tb.shape:
        raise LensError(f"a and b must have the same shape, got {list(ta.shape)} and {list(tb.shape)}", "shape_mismatch",
                        argument="b", shape=list(tb.shape), expected=list(ta.shape))
    require(ta.dim() >= 2, f"activations must be [pairs, ..., d_model], got shape {list(ta.shape)}")
    vec = (ta - tb).mean(0)
    if layer is not None:
        require(vec.dim() == 2, "layer selects a row of [pairs, layers, d_model] activations; these have no layer axis")
        (row,) = _layer_list(layer, vec.shape[0], "layer")
        vec = vec[row]
    return {"vector": vec, "norm": vec.norm(dim=-1)}


@op("analysis.pca2")
def pca2(s: Session, a: Any, b: Any, layers: list[int] | None = None) -> dict[str, Any]:
    """Seed 003's 2-component PCA of a and b ([n, layers, d_model]) per layer, fitted on both.

    Exact SVD of the centered data (torch.linalg.svd) rather than torch.pca_lowrank: the
    data is small (hundreds of rows), so the exact decomposition is cheap, deterministic and
    equal to sklearn's PCA up to sign; pca_lowrank is randomized and approximate. Each
    component's sign is fixed so that its largest-magnitude entry is positive.
    Separability (the seed only plots): the training accuracy of a mean-difference linear
    classifier (nearest class mean, boundary halfway between the means) in the 2-D PCA
    plane (``accuracy_pca``) and in the full space (``accuracy_full``).
    """
    ta, tb = as_tensor(a).float(), as_tensor(b).float()
    if ta.dim() == 2:
        ta, tb = ta[:, None], tb[:, None]
    require(ta.dim() == 3 and tb.dim() == 3, f"a and b must be [n, layers, d_model] (or [n, d_model]), got {list(ta.shape)} and {list(tb.shape)}")
    if ta.shape[1:] != tb.shape[1:]:
        raise LensError(f"a and b must agree in layers and d_model, got {list(ta.shape)} and {list(tb.shape)}", "shape_mismatch",
                        argument="b", shape=list(tb.shape), expected=[None, *ta.shape[1:]])
    require(ta.shape[0] + tb.shape[0] >= 2 and ta.shape[0] >= 1 and tb.shape[0] >= 1, "PCA needs at least one activation in a and one in b")
    rows = _layer_list(layers, ta.shape[1])
    n_a = ta.shape[0]
    comps, proj_a, proj_b, ratios, means, acc_pca, acc_full = [], [], [], [], [], [], []
    for l in rows:
        x = torch.cat([ta[:, l], tb[:, l]])
        mean = x.mean(0)
        centered = x - mean
        _, sv, vh = torch.linalg.svd(centered, full_matrices=False)
        k = min(2, vh.shape[0])
        c = vh[:k]
        flip = torch.sign(c.gather(1, c.abs().argmax(1, keepdim=True)))
        c = c * torch.where(flip == 0, torch.ones_like(flip), flip)
        if k < 2:  # one sample in all: pad the missing component with zeros
            c = torch.cat([c, torch.zeros(2 - k, c.shape[1])])
        p = centered @ c.T
        var = sv ** 2
        ratio = var[:2] / var.sum() if var.sum() > 0 else torch.zeros(min(2, var.numel()))
        comps.append(c)
        proj_a.append(p[:n_a])
        proj_b.append(p[n_a:])
        ratios.append(torch.nn.functional.pad(ratio, (0, 2 - ratio.numel())))
        means.append(mean)
        acc_pca.append(_mean_difference_accuracy(p[:n_a], p[n_a:]))
        acc_full.append(_mean_difference_accuracy(ta[:, l], tb[:, l]))
    return {
        "layers": rows,
        "components": torch.stack(comps),
        "projections_a": torch.stack(proj_a),
        "projections_b": torch.stack(proj_b),
        "explained_variance_ratio": torch.stack(ratios),
        "mean": torch.stack(means),
        "accuracy_pca": torch.tensor(acc_pca),
        "accuracy_full": torch.tensor(acc_full),
    }


def _mean_difference_accuracy(xa: torch.Tensor, xb: torch.Tensor) -> float:
    """Fraction classified right by sign((x - midpoint) . (mean_a - mean_b))."""
    ma, mb = xa.mean(0), xb.mean(0)
    w = ma - mb
    mid = (ma + mb) / 2
    right = ((xa - mid) @ w > 0).sum() + ((xb - mid) @ w < 0).sum()
    return right.item() / (xa.shape[0] + xb.shape[0])
