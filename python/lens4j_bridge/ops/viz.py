"""Views: circuitsvis components and plotly figures as self-contained HTML pages.

Every op returns ``{"html", "title", "kind", "assets"}``: a complete page that loads nothing
from the network (all scripts and styles inlined). ``assets`` names the files Java must write
beside the page; it is empty except for plotly figures asked for with
``include_plotlyjs="directory"``, which reference one shared ``plotly.min.js`` (its source
comes from ``viz.plotly_js``).

Text from the caller (tokens, labels, titles) is always shown as text, never run:

- circuitsvis embeds its props as a JavaScript object literal inside an inline
  ``<script>``; its own ``json.dumps`` leaves ``</script>`` intact, so a token could close the
  tag and inject markup. We re-encode the props with ``<``, ``>`` and ``&`` as ``\\u003c``
  ``\\u003e`` ``\\u0026`` (the same JS string, but no HTML parser can see a tag in it).
- Several circuitsvis components then put each token into the page with React's
  ``dangerouslySetInnerHTML`` (attention_patterns, colored_tokens(_multi),
  text_neuron_activations, topk_tokens, token_log_probs), so ``<img/src='x'/onerror=…>`` as a
  token would run. For those we escape exactly what HTML would read as markup: ``<`` before a
  letter, ``/``, ``!`` or ``?``, and ``&`` before a letter, digit or ``#`` (``_inert``). Other
  text, such as ``<|endoftext|>``, is passed as is, because the same strings also appear as
  plain React text in hover tooltips, where an escape would be shown literally.
- plotly already escapes ``<`` in its JSON, but renders labels as its own small HTML
  subset (``<b>``, ``<br>``, ``<a href>``); we HTML-escape every caller string so that plotly
  shows ``<b>`` literally (it decodes ``&lt;`` back to ``<`` when it draws the text).
"""

from __future__ import annotations

import html
import json
import re
from typing import Any, Callable

import numpy as np
import torch

from ..errors import LensError, require
from ..session import Session
from . import op
from .tensor import as_tensor

PLOTLY_JS_FILENAME = "plotly.min.js"

_PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>{title}</title>
</head>
<body>
{heading}{body}
</body>
</html>
"""


# ---------------------------------------------------------------------------------------
# shared helpers


def _view(page: str, title: str, kind: str, assets: list[str] | None = None) -> dict[str, Any]:
    return {"html": page, "title": title, "kind": kind, "assets": assets or []}


def script_json(value: Any) -> str:
    """JSON that is safe inside an inline <script>: no '<', '>' or '&' survives outside a \\u escape.

    Those characters can only occur inside JSON strings, where the escape means the same
    character to JavaScript. ``ensure_ascii`` also escapes U+2028/U+2029. NaN and Infinity
    stay as the bare words json.dumps writes, which are valid JavaScript (as circuitsvis has them).
    """
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _floats(value: Any, name: str, dims: tuple[int, ...]) -> torch.Tensor:
    """An argument as a float32 CPU tensor with one of the allowed numbers of dims."""
    try:
        t = as_tensor(value)
    except LensError as e:
        raise LensError(f"{name}: {e}", **e.details) from None
    require(t.dim() in dims, f"{name} must have {' or '.join(map(str, dims))} dims, got shape {list(t.shape)}", "shape_mismatch",
            argument=name, shape=list(t.shape))
    require(t.numel() > 0, f"{name} is empty (shape {list(t.shape)})", "shape_mismatch", argument=name, shape=list(t.shape))
    return t.detach().to("cpu", torch.float32)


def _strings(value: Any, name: str, length: int | None = None, what: str = "") -> list[str]:
    require(isinstance(value, list) and all(isinstance(v, str) for v in value),
            f"{name} must be a list of strings, got {_describe(value)}")
    if length is not None:
        require(len(value) == length, f"{name} has {len(value)} entries but {what} has {length}", "shape_mismatch",
                argument=name, shape=[len(value)], expected=[length])
    return value


def _labels(value: Any, name: str, length: int, what: str) -> list[str] | None:
    """Tick labels may be strings or numbers (layer indices); numbers are shown as written."""
    if value is None:
        return None
    require(isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value),
            f"{name} must be a list of strings or numbers, got {_describe(value)}")
    require(len(value) == length, f"{name} has {len(value)} entries but {what} has {length}", "shape_mismatch",
            argument=name, shape=[len(value)], expected=[length])
    return [str(v) for v in value]


def _describe(value: Any) -> str:
    if isinstance(value, list):
        kinds = sorted({type(v).__name__ for v in value})
        return f"a list of {', '.join(kinds) or 'nothing'}"
    return type(value).__name__


def _title(title: str | None, default: str) -> str:
    require(title is None or isinstance(title, str), f"title must be a string, got {type(title).__name__}")
    return title if title else default


# ---------------------------------------------------------------------------------------
# circuitsvis


_MARKUP = re.compile(r"<(?=[A-Za-z/!?])|&(?=[A-Za-z0-9#])")


def _inert(text: str) -> str:
    """A token for a circuitsvis innerHTML sink: the few characters HTML would parse as markup, escaped."""
    return _MARKUP.sub(lambda m: "&lt;" if m.group() == "<" else "&amp;", text)


def _inert_all(tokens: list[Any]) -> list[Any]:
    return [_inert_all(t) if isinstance(t, list) else _inert(t) for t in tokens]


def _circuitsvis_page(rendered: Any, title: str, heading: bool) -> str:
    """A full page around circuitsvis' ``local_src`` (the iife bundle inlined), props re-escaped.

    circuitsvis 1.43 writes ``<div id="circuits-vis-…" …/>`` then a module script holding the
    inlined bundle and ``CircuitsVis.render("<id>", CircuitsVis.<Name>, <props>)``. The
    random id marks where the props start, and a real newline cannot occur inside JSON, so
    the props are the text between that call's opening and the final ``\\n    )``.
    Rendering ``local_src`` never touches the network (only ``_repr_html_`` probes it).
    """
    src: str = rendered.local_src
    div_end = src.find("/>")
    prefix = '<div id="'
    require(src.startswith(prefix) and 0 < div_end < src.find("\n"), "circuitsvis produced HTML of an unknown layout", "python_error")
    element_id = src[len(prefix):src.index('"', len(prefix))]
    call = f'CircuitsVis.render(\n      "{element_id}",\n      CircuitsVis.'
    start = src.find(call)
    end = src.rfind("\n    )\n    </script>")
    require(start > 0 and end > start, "circuitsvis produced HTML of an unknown layout", "python_error")
    start = src.index(",\n      ", start + len(call)) + len(",\n      ")
    props = json.loads(src[start:end])
    # Close the div explicitly: '<div …/>' is not self-closing in HTML.
    body = src[:div_end] + "></div>" + src[div_end + 2:start] + script_json(props) + src[end:]
    escaped = html.escape(title)
    return _PAGE.format(title=escaped, heading=f"<h2>{escaped}</h2>\n" if heading else "", body=body)


def _circuitsvis(kind: str, default_title: str, title: str | None, render: Callable[[], Any]) -> dict[str, Any]:
    page_title = _title(title, default_title)
    try:
        rendered = render()
    except AssertionError as e:  # circuitsvis checks shapes with assert
        raise LensError(f"{kind}: {e}", "shape_mismatch") from None
    return _view(_circuitsvis_page(rendered, page_title, heading=bool(title)), page_title, kind)


def _attention(value: Any, n_tokens: int, dims: tuple[int, ...]) -> torch.Tensor:
    """An attention pattern; a leading batch dim of size 1 (as in cache['pattern', L]) is dropped."""
    t = as_tensor(value)
    if t.dim() == max(dims) + 1 and t.shape[0] == 1:
        t = t[0]
    t = _floats(t, "attention", dims)
    require(t.shape[-1] == n_tokens and t.shape[-2] == n_tokens,
            f"attention must end in [dest_pos, src_pos] = [{n_tokens}, {n_tokens}] (one per token), got shape {list(t.shape)}; "
            "for a batch, select one prompt (tensor.select) or average over it (tensor.mean dim=0)", "shape_mismatch",
            argument="attention", shape=list(t.shape), expected=[None] * (t.dim() - 2) + [n_tokens, n_tokens])
    return t


@op("viz.attention_heads")
def attention_heads(s: Session, attention: Any, tokens: list[str], attention_head_names: list[str] | None = None,
                    max_value: float | None = None, min_value: float | None = None, negative_color: str | None = None,
                    positive_color: str | None = None, mask_upper_tri: bool | None = None, title: str | None = None) -> dict[str, Any]:
    """circuitsvis attention_heads: attention [heads, dest, src] (or [1, heads, dest, src])."""
    import circuitsvis as cv

    _strings(tokens, "tokens")
    att = _attention(attention, len(tokens), (3,))
    if attention_head_names is not None:
        _strings(attention_head_names, "attention_head_names", att.shape[0], "attention's head dim")
    return _circuitsvis("attention_heads", "Attention heads", title, lambda: cv.attention.attention_heads(
        attention=att, tokens=tokens, attention_head_names=attention_head_names, max_value=max_value,
        min_value=min_value, negative_color=negative_color, positive_color=positive_color, mask_upper_tri=mask_upper_tri))


@op("viz.attention_patterns")
def attention_patterns(s: Session, tokens: list[str], attention: Any, title: str | None = None) -> dict[str, Any]:
    """circuitsvis attention_patterns (deprecated there, kept for the seeds): attention [heads, dest, src]."""
    import circuitsvis as cv

    _strings(tokens, "tokens")
    att = _attention(attention, len(tokens), (3,))
    return _circuitsvis("attention_patterns", "Attention patterns", title,
                        lambda: cv.attention.attention_patterns(tokens=_inert_all(tokens), attention=att))


@op("viz.attention_pattern")
def attention_pattern(s: Session, tokens: list[str], attention: Any, max_value: float | None = None,
                      min_value: float | None = None, negative_color: str | None = None, show_axis_labels: bool | None = None,
                      positive_color: str | None = None, mask_upper_tri: bool | None = None, title: str | None = None) -> dict[str, Any]:
    """circuitsvis attention_pattern: one head, attention [dest, src]."""
    import circuitsvis as cv

    _strings(tokens, "tokens")
    att = _attention(attention, len(tokens), (2,))
    return _circuitsvis("attention_pattern", "Attention pattern", title, lambda: cv.attention.attention_pattern(
        tokens=tokens, attention=att, max_value=max_value, min_value=min_value, negative_color=negative_color,
        show_axis_labels=show_axis_labels, positive_color=positive_color, mask_upper_tri=mask_upper_tri))


@op("viz.colored_tokens")
def colored_tokens(s: Session, tokens: list[str], values: Any, min_value: float | None = None, max_value: float | None = None,
                   negative_color: str | None = None, positive_color: str | None = None, title: str | None = None) -> dict[str, Any]:
    """circuitsvis colored_tokens: one value per token."""
    import circuitsvis as cv

    _strings(tokens, "tokens")
    vals = _floats(values, "values", (1,))
    require(vals.shape[0] == len(tokens), f"values has {vals.shape[0]} entries but tokens has {len(tokens)}", "shape_mismatch")
    return _circuitsvis("colored_tokens", "Colored tokens", title, lambda: cv.tokens.colored_tokens(
        tokens=_inert_all(tokens), values=vals, min_value=min_value, max_value=max_value,
        negative_color=negative_color, positive_color=positive_color))


@op("viz.colored_tokens_multi")
def colored_tokens_multi(s: Session, tokens: list[str], values: Any, labels: list[str] | None = None,
                         title: str | None = None) -> dict[str, Any]:
    """circuitsvis colored_tokens_multi: values [tokens, K], one button per label."""
    import circuitsvis as cv

    _strings(tokens, "tokens")
    vals = _floats(values, "values", (2,))
    require(vals.shape[0] == len(tokens), f"values must have shape [tokens={len(tokens)}, K], got {list(vals.shape)}", "shape_mismatch")
    if labels is not None:
        _strings(labels, "labels", vals.shape[1], "values' second dim")
    return _circuitsvis("colored_tokens_multi", "Colored tokens", title,
                        lambda: cv.tokens.colored_tokens_multi(tokens=_inert_all(tokens), values=vals, labels=labels))


@op("viz.text_neuron_activations")
def text_neuron_activations(s: Session, tokens: list[Any], activations: Any, first_dimension_name: str = "Layer",
                            second_dimension_name: str = "Neuron", first_dimension_labels: list[str] | None = None,
                            second_dimension_labels: list[str] | None = None, title: str | None = None) -> dict[str, Any]:
    """circuitsvis text_neuron_activations.

    One sample: tokens [str], activations [tokens, layers, neurons]. Several samples: tokens
    [[str]], activations a list of [tokens_i, layers, neurons] (or one 4-d tensor when all
    samples have the same length).
    """
    import circuitsvis as cv

    if tokens and isinstance(tokens[0], list):
        samples = [_strings(t, f"tokens[{i}]") for i, t in enumerate(tokens)]
        acts = list(activations) if isinstance(activations, list) else list(_floats(activations, "activations", (4,)))
        require(len(acts) == len(samples), f"activations has {len(acts)} samples but tokens has {len(samples)}", "shape_mismatch")
        arrays = [_floats(a, f"activations[{i}]", (3,)) for i, a in enumerate(acts)]
    else:
        samples = [_strings(tokens, "tokens")]
        arrays = [_floats(activations, "activations", (3,))]
    for i, (toks, a) in enumerate(zip(samples, arrays)):
        require(a.shape[0] == len(toks), f"activations of sample {i} must have shape [tokens={len(toks)}, layers, neurons], got {list(a.shape)}", "shape_mismatch")
        require(a.shape[1:] == arrays[0].shape[1:], f"all samples need the same [layers, neurons]; sample {i} has {list(a.shape[1:])}", "shape_mismatch")
    if first_dimension_labels is not None:
        _strings(first_dimension_labels, "first_dimension_labels", arrays[0].shape[1], "activations' layer dim")
    if second_dimension_labels is not None:
        _strings(second_dimension_labels, "second_dimension_labels", arrays[0].shape[2], "activations' neuron dim")
    one = len(samples) == 1 and not (tokens and isinstance(tokens[0], list))
    return _circuitsvis("text_neuron_activations", "Text neuron activations", title, lambda: cv.activations.text_neuron_activations(
        tokens=_inert_all(samples[0] if one else samples), activations=arrays[0] if one else arrays,
        first_dimension_name=first_dimension_name, second_dimension_name=second_dimension_name,
        first_dimension_labels=first_dimension_labels, second_dimension_labels=second_dimension_labels))


@op("viz.topk_tokens")
def topk_tokens(s: Session, tokens: list[list[str]], activations: Any, max_k: int = 10, first_dimension_name: str = "Layer",
                third_dimension_name: str = "Neuron", sample_labels: list[str] | None = None,
                first_dimension_labels: list[str] | None = None, title: str | None = None) -> dict[str, Any]:
    """circuitsvis topk_tokens: per sample, activations [layers, tokens, neurons]; the top and bottom k tokens per neuron."""
    import circuitsvis as cv

    require(isinstance(tokens, list) and len(tokens) > 0 and all(isinstance(t, list) for t in tokens),
            f"tokens must be a list of samples, each a list of strings, got {_describe(tokens)}")
    samples = [_strings(t, f"tokens[{i}]") for i, t in enumerate(tokens)]
    acts = list(activations) if isinstance(activations, list) else list(_floats(activations, "activations", (4,)))
    require(len(acts) == len(samples), f"activations has {len(acts)} samples but tokens has {len(samples)}", "shape_mismatch")
    arrays = [_floats(a, f"activations[{i}]", (3,)).numpy() for i, a in enumerate(acts)]
    for i, (toks, a) in enumerate(zip(samples, arrays)):
        require(a.shape[1] == len(toks), f"activations of sample {i} must have shape [layers, tokens={len(toks)}, neurons], got {list(a.shape)}", "shape_mismatch")
    require(isinstance(max_k, int) and max_k > 0, f"max_k must be a positive integer, got {max_k!r}")
    if sample_labels is not None:
        _strings(sample_labels, "sample_labels", len(samples), "tokens")
    if first_dimension_labels is not None:
        _strings(first_dimension_labels, "first_dimension_labels", arrays[0].shape[0], "activations' first dim")
    return _circuitsvis("topk_tokens", "Top-k tokens", title, lambda: cv.topk_tokens.topk_tokens(
        tokens=_inert_all(samples), activations=arrays, max_k=max_k, first_dimension_name=first_dimension_name,
        third_dimension_name=third_dimension_name, sample_labels=sample_labels, first_dimension_labels=first_dimension_labels))


@op("viz.token_log_probs")
def token_log_probs(s: Session, token_indices: Any, log_probs: Any, model: Any = None, vocab: list[str] | None = None,
                    top_k: int = 10, title: str | None = None) -> dict[str, Any]:
    """circuitsvis token_log_probs: token_indices [pos] (BOS first), log_probs [pos, d_vocab].

    circuitsvis wants a Python function from token id to string; from Java give either
    ``model`` (its tokenizer decodes, as ``model.to_single_str_token``) or ``vocab`` (id -> string).
    """
    import circuitsvis as cv

    tokens = as_tensor(token_indices)
    require(not tokens.is_floating_point(), f"token_indices must be integer token ids, got {tokens.dtype}")
    tokens = tokens.to("cpu", torch.int64)
    if tokens.dim() == 2 and tokens.shape[0] == 1:
        tokens = tokens[0]
    require(tokens.dim() == 1, f"token_indices must have shape [pos] or [1, pos], got {list(tokens.shape)}", "shape_mismatch")
    lp = as_tensor(log_probs)
    if lp.dim() == 3 and lp.shape[0] == 1:
        lp = lp[0]
    lp = _floats(lp, "log_probs", (2,))
    require(lp.shape[0] == tokens.shape[0], f"log_probs must have shape [pos={tokens.shape[0]}, d_vocab], got {list(lp.shape)}", "shape_mismatch")
    require(tokens.shape[0] >= 2, "token_log_probs needs at least 2 tokens (the first is taken as BOS)", "shape_mismatch")
    d_vocab = lp.shape[1]
    require(int(tokens.min()) >= 0 and int(tokens.max()) < d_vocab, f"token ids must be in [0, {d_vocab}) (log_probs' last dim)")
    require((model is None) != (vocab is None), "give exactly one of model (a model handle) or vocab (a list of token strings)")
    require(isinstance(top_k, int) and 0 < top_k <= d_vocab, f"top_k must be in [1, {d_vocab}], got {top_k!r}")
    if vocab is not None:
        _strings(vocab, "vocab", d_vocab, "log_probs' last dim")
        decode: Callable[[int], str] = vocab.__getitem__
    else:
        require(hasattr(model, "to_single_str_token"), f"model must be a model handle, got {type(model).__name__}")
        decode = model.to_single_str_token
    return _circuitsvis("token_log_probs", "Token log probs", title,
                        lambda: cv.logits.token_log_probs(tokens, lp, lambda i: _inert(decode(i)), top_k=top_k))


# ---------------------------------------------------------------------------------------
# plotly


def _check_include(include_plotlyjs: Any) -> bool | str:
    if include_plotlyjs in (True, "inline"):
        return True
    if include_plotlyjs == "directory":
        return "directory"
    raise LensError(f"include_plotlyjs must be true (or 'inline': the script inside the page) or 'directory' "
                    f"(one {PLOTLY_JS_FILENAME} beside the pages, from viz.plotly_js); got {include_plotlyjs!r}",
                    argument="include_plotlyjs", got=include_plotlyjs, valid=[True, "inline", "directory"])


def _esc(text: str) -> str:
    """Plotly draws strings as a small HTML subset; escaped, it shows them as written."""
    return html.escape(text, quote=False)


def _plotly_page(fig: Any, title: str, kind: str, include_plotlyjs: Any, width: int | None, height: int | None) -> dict[str, Any]:
    include = _check_include(include_plotlyjs)
    for name, v in (("width", width), ("height", height)):
        require(v is None or (isinstance(v, int) and v > 0), f"{name} must be a positive number of pixels, got {v!r}")
    fig.update_layout(width=width, height=height)
    # displaylogo off: the modebar logo is a link to plotly.com, and the page must name no URL.
    page = fig.to_html(include_plotlyjs=include, full_html=True, include_mathjax=False,
                       config={"displaylogo": False, "responsive": True})
    page = page.replace("<head>", f"<head>\n    <title>{html.escape(title)}</title>", 1)
    return _view(page, title, kind, [PLOTLY_JS_FILENAME] if include == "directory" else [])


def _tick_axis(fig: Any, axis: str, labels: list[str] | None, n: int) -> None:
    """Label positions 0..n-1 with ``labels`` (tokens repeat, so they cannot be categories)."""
    if labels is not None:
        update = fig.update_xaxes if axis == "x" else fig.update_yaxes
        update(tickmode="array", tickvals=list(range(n)), ticktext=[_esc(t) for t in labels])


@op("viz.plotly_js")
def plotly_js(s: Session) -> dict[str, Any]:
    """The plotly.js source, for pages made with include_plotlyjs='directory' (write it once beside them)."""
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    return {"js": get_plotlyjs(), "filename": PLOTLY_JS_FILENAME, "version": get_plotlyjs_version()}


@op("viz.imshow")
def imshow(s: Session, values: Any, x: list[Any] | None = None, y: list[Any] | None = None, xaxis: str = "", yaxis: str = "",
           caxis: str = "", title: str | None = None, midpoint: float | None = 0.0, zmin: float | None = None,
           zmax: float | None = None, aspect: str | None = None, include_plotlyjs: Any = True,
           width: int | None = None, height: int | None = None) -> dict[str, Any]:
    """A heatmap as the seeds draw it: px.imshow, RdBu (11 stops), colour midpoint 0.

    values [rows, cols]; x / y label the columns / rows (tokens, positions, heads); xaxis,
    yaxis, caxis title the axes and the colour bar.
    """
    import plotly.express as px

    z = _floats(values, "values", (2,)).numpy()
    rows, cols = z.shape
    x_labels = _labels(x, "x", cols, "values' columns")
    y_labels = _labels(y, "y", rows, "values' rows")
    require(aspect in (None, "equal", "auto"), f"aspect must be 'equal' or 'auto', got {aspect!r}", argument="aspect", got=aspect,
            valid=["equal", "auto"])
    page_title = _title(title, "Heatmap")
    fig = px.imshow(z, color_continuous_scale="RdBu", color_continuous_midpoint=midpoint, zmin=zmin, zmax=zmax,
                    labels={"x": _esc(xaxis), "y": _esc(yaxis), "color": _esc(caxis)}, aspect=aspect,
                    title=_esc(title) if title else None)
    _tick_axis(fig, "x", x_labels, cols)
    _tick_axis(fig, "y", y_labels, rows)
    if x_labels is not None or y_labels is not None:
        xs = [_esc(t) for t in x_labels] if x_labels else [str(i) for i in range(cols)]
        ys = [_esc(t) for t in y_labels] if y_labels else [str(i) for i in range(rows)]
        fig.update_traces(customdata=[[[xs[c], ys[r]] for c in range(cols)] for r in range(rows)],
                          hovertemplate=f"{_esc(xaxis) or 'x'}: %{{customdata[0]}}<br>{_esc(yaxis) or 'y'}: %{{customdata[1]}}"
                                        f"<br>{_esc(caxis) or 'color'}: %{{z}}<extra></extra>")
    return _plotly_page(fig, page_title, "imshow", include_plotlyjs, width, height)


def _series(values: Any, names: list[str] | None) -> tuple[np.ndarray, list[str]]:
    """values [points] or [series, points] as a 2-d array, with a name per series."""
    v = _floats(values, "values", (1, 2)).numpy()
    if v.ndim == 1:
        v = v[None, :]
    if names is None:
        names = [str(i) for i in range(v.shape[0])]
    _strings(names, "names", v.shape[0], "values' series (first) dim")
    return v, names


@op("viz.line")
def line(s: Session, values: Any, names: list[str] | None = None, x: list[Any] | None = None, xaxis: str = "",
         yaxis: str = "", title: str | None = None, include_plotlyjs: Any = True, width: int | None = None,
         height: int | None = None) -> dict[str, Any]:
    """Lines: values [points] or [lines, points]; names per line (legend); x labels the points (e.g. layer labels)."""
    import plotly.graph_objects as go

    v, names = _series(values, names)
    n = v.shape[1]
    x_labels = _labels(x, "x", n, "values' points (last dim)")
    points = [_esc(t) for t in x_labels] if x_labels else [str(i) for i in range(n)]
    fig = go.Figure([go.Scatter(x=list(range(n)), y=row, mode="lines", name=_esc(name), customdata=points,
                                hovertemplate=f"{_esc(name)}<br>{_esc(xaxis) or 'x'}: %{{customdata}}<br>{_esc(yaxis) or 'y'}: %{{y}}<extra></extra>")
                     for row, name in zip(v, names)])
    fig.update_layout(title=_esc(title) if title else None, xaxis_title=_esc(xaxis), yaxis_title=_esc(yaxis),
                      showlegend=v.shape[0] > 1)
    _tick_axis(fig, "x", x_labels, n)
    return _plotly_page(fig, _title(title, "Line plot"), "line", include_plotlyjs, width, height)


@op("viz.scatter")
def scatter(s: Session, x: Any, y: Any, hover_name: list[str] | None = None, color: list[Any] | None = None,
            xaxis: str = "", yaxis: str = "", caxis: str = "", title: str | None = None, include_plotlyjs: Any = True,
            width: int | None = None, height: int | None = None) -> dict[str, Any]:
    """px.scatter of y against x (1-d, same length); hover_name labels each point; color groups
    points (strings: one legend entry per group; numbers: a colour scale)."""
    import plotly.express as px

    xs = _floats(x, "x", (1,)).numpy()
    ys = _floats(y, "y", (1,)).numpy()
    require(xs.shape == ys.shape, f"x and y must have the same length, got {xs.shape[0]} and {ys.shape[0]}", "shape_mismatch")
    hover = [_esc(t) for t in _strings(hover_name, "hover_name", len(xs), "x")] if hover_name is not None else None
    colors: list[Any] | None = None
    if color is not None:
        require(isinstance(color, list) and len(color) == len(xs), f"color must be a list with one entry per point ({len(xs)})", "shape_mismatch")
        if all(isinstance(c, str) for c in color):
            colors = [_esc(c) for c in color]
        else:
            require(all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in color),
                    f"color must be all strings (groups) or all numbers (a scale), got {_describe(color)}")
            colors = color
    fig = px.scatter(x=xs, y=ys, hover_name=hover, color=colors,
                     labels={"x": _esc(xaxis) or "x", "y": _esc(yaxis) or "y", "color": _esc(caxis) or "color"},
                     title=_esc(title) if title else None)
    return _plotly_page(fig, _title(title, "Scatter plot"), "scatter", include_plotlyjs, width, height)


@op("viz.bar")
def bar(s: Session, values: Any, names: list[str] | None = None, x: list[Any] | None = None, xaxis: str = "",
        yaxis: str = "", title: str | None = None, barmode: str = "group", include_plotlyjs: Any = True,
        width: int | None = None, height: int | None = None) -> dict[str, Any]:
    """Bars: values [bars] or [series, bars]; names per series (legend); x labels the bars."""
    import plotly.graph_objects as go

    require(barmode in ("group", "stack", "relative", "overlay"), f"barmode must be group, stack, relative or overlay, got {barmode!r}",
            argument="barmode", got=barmode, valid=["group", "stack", "relative", "overlay"])
    v, names = _series(values, names)
    n = v.shape[1]
    x_labels = _labels(x, "x", n, "values' bars (last dim)")
    points = [_esc(t) for t in x_labels] if x_labels else [str(i) for i in range(n)]
    fig = go.Figure([go.Bar(x=list(range(n)), y=row, name=_esc(name), customdata=points,
                            hovertemplate=f"{_esc(name)}<br>{_esc(xaxis) or 'x'}: %{{customdata}}<br>{_esc(yaxis) or 'y'}: %{{y}}<extra></extra>")
                     for row, name in zip(v, names)])
    fig.update_layout(title=_esc(title) if title else None, xaxis_title=_esc(xaxis), yaxis_title=_esc(yaxis),
                      barmode=barmode, showlegend=v.shape[0] > 1)
    _tick_axis(fig, "x", x_labels, n)
    return _plotly_page(fig, _title(title, "Bar chart"), "bar", include_plotlyjs, width, height)
