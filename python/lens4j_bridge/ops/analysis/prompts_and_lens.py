"""test_prompt and the logit lens: what the model predicts for a prompt, and what each layer
would predict if the residual stream stopped there.
"""

from __future__ import annotations

from typing import Any

import torch
from transformer_lens.utilities import get_act_name

from ...errors import LensError, int_range, nearest, require
from ...session import Session
from .. import op
from ..model import check_hook_names, tokens_of
from .common import (
    _decode_ids, _has_resid_mid, _layer_list, _output_transform, _positions, _str_tokens,
    _token_id,
)


# ---------------------------------------------------------------------------------------
# test_prompt (seed 001's first call; transformer_lens.utilities.test_prompt's numbers)
# ---------------------------------------------------------------------------------------


@op("analysis.test_prompt")
def test_prompt(
    s: Session, model: Any, prompt: str, answer: str | list[str], top_k: int = 10,
    prepend_space_to_answer: bool = True, prepend_bos: bool | None = None,
) -> dict[str, Any]:
    """What transformer_lens.utilities.test_prompt prints, as a record.

    One answer string may be several tokens (one step per answer token); a list of answers
    compares their first tokens as alternative next tokens (one step). Per step: each answer
    token's rank, logit and probability, and the top-k tokens with logits and probabilities.
    Numbers are plain JSON (a record for a pretty printer), not tensor handles.
    """
    require(isinstance(prompt, str), "prompt must be a string")
    answers = [answer] if isinstance(answer, str) else answer
    require(isinstance(answers, list) and answers and all(isinstance(a, str) and a for a in answers),
            "answer must be a non-empty string or a non-empty list of non-empty strings")
    vocab = model.cfg.d_vocab
    require(isinstance(top_k, int) and 0 <= top_k <= vocab, f"top_k must be in [0, {vocab}], got {top_k!r}", argument="top_k",
            got=top_k, valid=int_range(0, vocab))
    n_answers = len(answers)
    multiple = n_answers > 1
    if prepend_space_to_answer:
        answers = [a if a.startswith(" ") else " " + a for a in answers]
    # The same steps as TransformerLens' test_prompt, so that ranks (ties included) agree.
    prompt_tokens = model.to_tokens(prompt, prepend_bos=prepend_bos)
    if multiple:
        answer_tokens = torch.cat([model.to_tokens(a, prepend_bos=False)[:, :1] for a in answers])
    else:
        answer_tokens = model.to_tokens(answers, prepend_bos=False)
    prompt_tokens = prompt_tokens.repeat(answer_tokens.shape[0], 1)
    tokens = torch.cat((prompt_tokens, answer_tokens), dim=1)
    prompt_str_tokens = list(model.to_str_tokens(prompt, prepend_bos=prepend_bos))
    answer_str_tokens_list = [list(model.to_str_tokens(a, prepend_bos=False)) for a in answers]
    prompt_length = len(prompt_str_tokens)
    answer_length = 1 if multiple else len(answer_str_tokens_list[0])
    logits = model(tokens)
    probs = logits.softmax(dim=-1)
    steps = []
    for index in range(prompt_length, prompt_length + answer_length):
        ids = tokens[:, index]
        token_probs = probs[:, index - 1]
        sorted_probs, sorted_positions = token_probs.sort(descending=True)
        ranks = sorted_positions.argsort(-1)[range(n_answers), ids.cpu()].tolist()
        top_ids = sorted_positions[0, :top_k]
        steps.append({
            "position": index - 1,
            "answer_token_ids": ids.tolist(),
            "answer_tokens": [a[index - prompt_length] for a in answer_str_tokens_list],
            "ranks": ranks,
            "logits": [logits[i, index - 1, ids[i]].item() for i in range(n_answers)],
            "probs": [token_probs[i, ids[i]].item() for i in range(n_answers)],
            "top_token_ids": top_ids.tolist(),
            "top_tokens": [model.to_string(t) for t in top_ids],
            "top_logits": logits[0, index - 1, top_ids].tolist(),
            "top_probs": sorted_probs[0, :top_k].tolist(),
        })
    return {
        "prompt_tokens": prompt_str_tokens,
        "answers": answers,
        "answer_tokens": answer_str_tokens_list,
        "steps": steps,
    }


# ---------------------------------------------------------------------------------------
# Logit lens (seed 003: ln2.hook_normalized per layer; seed 001: accumulated_resid)
# ---------------------------------------------------------------------------------------

LENS_SOURCES = ("ln2_normalized", "resid_post", "accumulated_resid")


def _as_batch_pos(act: torch.Tensor, batch: int, n_pos: int) -> torch.Tensor:
    """An activation the bridge gives flattened over tokens ([batch*pos, d]: OPT's MLP half) as [batch, pos, d]."""
    if act.dim() == 2 and act.shape[0] == batch * n_pos:
        return act.view(batch, n_pos, act.shape[-1])
    return act


@op("analysis.logit_lens")
def logit_lens(
    s: Session, model: Any, input: Any, layers: list[int] | None = None, positions: list[int] | None = None,
    top_k: int = 5, target: Any = None, source: str = "ln2_normalized", incl_mid: bool = False,
    recompute_ln: bool = False, prepend_bos: bool | None = None, output_transform: bool = False,
) -> dict[str, Any]:
    """Per row (a layer) and position: top-k tokens, target probability and rank, KL(final || row).

    Rows by ``source``:
    - "ln2_normalized" (seed 003): ``blocks.L.ln2.hook_normalized`` unembedded, one row per layer.
    - "resid_post": ``ln_final(blocks.L.hook_resid_post)`` unembedded (the last row is the model's logits).
    - "accumulated_resid" (seed 001): ``cache.accumulated_resid(incl_mid=...)`` rows, through
      ``cache.apply_ln_to_stack(layer=-1)`` (the final cached LN scale, the seed's formula; or
      statistics recomputed per row with ``recompute_ln``), then the unembed.
    ``layers`` picks rows by index (negative from the end). KL is the seed's
    ``kl_div(log_softmax(row), softmax(final_logits), reduction="none").sum(-1)``.
    Grids are [row, batch, position(, k)]; the seed's [pos, layer] grid is ``kl[:, 0].T``.

    A model whose output passes through a transform after the unembedding (Gemma 2's final
    logit soft-cap) has rows of uncapped logits, as in TransformerLens, so even the last
    "resid_post" row is not the model's output there; the result says so
    (``output_transform``). With ``output_transform=True`` every row goes through the model's
    own transform, and the last "resid_post" row is the model's output.
    """
    if source not in LENS_SOURCES:
        raise LensError(f"unknown logit lens source {source!r}; valid: {list(LENS_SOURCES)}", argument="source", got=source,
                        nearest=nearest(source, list(LENS_SOURCES)) if isinstance(source, str) else None,
                        valid=list(LENS_SOURCES))
    vocab = model.cfg.d_vocab
    require(isinstance(top_k, int) and 1 <= top_k <= vocab, f"top_k must be in [1, {vocab}], got {top_k!r}", argument="top_k",
            got=top_k, valid=int_range(1, vocab))
    tokens = tokens_of(model, input, prepend_bos)
    n_layers = model.cfg.n_layers
    pos = _positions(positions, tokens.shape[1])
    target_id = None if target is None else _token_id(s, model, target, "target")

    if source == "ln2_normalized":
        names = [f"blocks.{l}.ln2.hook_normalized" for l in range(n_layers)]
        if names[0] not in model.hook_dict:
            raise LensError(
                f"logit lens source 'ln2_normalized' reads {names[0]}, which this model does not have (its blocks have no "
                f"ln2{': attention and MLP share the input norm' if not _has_resid_mid(model) else ''}); sources that exist "
                "here: 'resid_post' (ln_final of each block's output) and 'accumulated_resid'"
                + ("" if _has_resid_mid(model) else " (without incl_mid: there is no resid_mid)"), "unknown_hook")
    elif source == "resid_post":
        names = [get_act_name("resid_post", l) for l in range(n_layers)]
    else:
        names = [get_act_name("resid_pre", l) for l in range(n_layers)] + [get_act_name("resid_post", n_layers - 1), "ln_final.hook_scale"]
        if incl_mid:
            require(_has_resid_mid(model), "incl_mid=True needs resid_mid, which this model's blocks do not have "
                                           "(attention and MLP run in parallel); use incl_mid=False", "unknown_hook")
            names += [get_act_name("resid_mid", l) for l in range(n_layers)]
    check_hook_names(model, names)
    transform, transform_text = _output_transform(model)
    wanted = set(names)
    final_logits, cache = model.run_with_cache(tokens, names_filter=lambda n: n in wanted)

    if source == "accumulated_resid":
        # The stack without LN: it is applied per row below, on the chosen positions only.
        acts, labels = cache.accumulated_resid(layer=-1, incl_mid=incl_mid, return_labels=True)
    else:
        acts = [_as_batch_pos(cache[n], tokens.shape[0], tokens.shape[1]) for n in names]
        labels = [f"{l}_{'ln2' if source == 'ln2_normalized' else 'post'}" for l in range(n_layers)]
    rows = _layer_list(layers, len(labels), "layers (rows)", "layers")

    final_probs = final_logits[:, pos].softmax(dim=-1)
    tops, top_probs, kls, target_probs, target_ranks = [], [], [], [], []
    for i in rows:
        x = acts[i][:, pos]
        if source == "accumulated_resid":
            x = cache.apply_ln_to_stack(x[None], layer=-1, pos_slice=pos, recompute_ln=recompute_ln)[0]
        elif source == "resid_post":
            x = model.ln_final(x)
        row_logits = model.unembed(x)
        if output_transform and transform is not None:
            row_logits = transform(row_logits)
        log_probs = row_logits.log_softmax(dim=-1)
        values, ids = log_probs.topk(top_k, dim=-1)
        tops.append(ids)
        top_probs.append(values.exp())
        kls.append(torch.nn.functional.kl_div(log_probs, final_probs, reduction="none").sum(-1))
        if target_id is not None:
            target_probs.append(log_probs[..., target_id].exp())
            target_ranks.append((row_logits > row_logits[..., target_id:target_id + 1]).sum(-1))
    top_ids = torch.stack(tops)
    result: dict[str, Any] = {
        "source": source,
        "labels": [labels[i] for i in rows],
        "rows": rows,
        "positions": pos,
        "str_tokens": _str_tokens(model, tokens),
        "top_token_ids": top_ids,
        "top_tokens": _decode_ids(model, top_ids),
        "top_probs": torch.stack(top_probs),
        "kl": torch.stack(kls),
        # the model's post-unembedding transform, and whether the rows went through it (None: it has none)
        "output_transform": transform_text,
        "output_transform_applied": bool(output_transform and transform is not None),
    }
    if target_id is not None:
        result.update(target_id=target_id, target_probs=torch.stack(target_probs), target_ranks=torch.stack(target_ranks))
    return result
