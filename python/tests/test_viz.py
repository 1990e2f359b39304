"""Views: each op's page checked for content, for what it embeds, and in headless Chromium.

The Chromium tests open every view kind with no network and check that it rendered, that it
fetched nothing, and that hostile token text is shown and not run. Screenshots of one heatmap
and one attention view go to target/screenshots/ for people to look at.
"""

from __future__ import annotations

import base64
import html
import json
import re
import socket
import struct
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch

from lens4j_bridge.errors import LensError
from lens4j_bridge.ops.viz import script_json
from lens4j_bridge.session import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))
import chromium_check  # noqa: E402

SCREENSHOTS = Path(__file__).resolve().parents[2] / "target" / "screenshots"

# The brief's string: closes circuitsvis' <script> unless its props are escaped.
HOSTILE = "</script><img src=x onerror=\"document.title='pwned'\">"
# No whitespace: survives circuitsvis' own ' ' -> '&nbsp;' and runs through its innerHTML sinks.
HOSTILE_INNER = "<img/src='x'/onerror=document.title='pwned'>"
TOKENS = ["<|endoftext|>", "When", HOSTILE, " Mary", HOSTILE_INNER, "<b>bold</b> &amp; co"]
N = len(TOKENS)


@pytest.fixture()
def session() -> Session:
    return Session()


def call(s: Session, op: str, **args: Any) -> Any:
    value, _ = s.dispatch(op, args, [])
    return value


def _seeded(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape)))


ATTENTION = _seeded(3, N, N).softmax(-1)

# op -> (arguments, where the tokens can be read in the DOM: True for text, False for a canvas)
VIEWS: dict[str, tuple[Callable[[], dict[str, Any]], bool]] = {
    "viz.attention_heads": (lambda: dict(attention=ATTENTION.unsqueeze(0), tokens=TOKENS, title="Layer 0 heads",
                                         attention_head_names=["L0H0", "L0H1", HOSTILE_INNER]), False),
    "viz.attention_patterns": (lambda: dict(attention=ATTENTION, tokens=TOKENS), True),
    "viz.attention_pattern": (lambda: dict(attention=ATTENTION[0], tokens=TOKENS, title=HOSTILE), False),
    "viz.colored_tokens": (lambda: dict(tokens=TOKENS, values=_seeded(N)), True),
    "viz.colored_tokens_multi": (lambda: dict(tokens=TOKENS, values=_seeded(N, 2), labels=["dla", HOSTILE]), True),
    "viz.text_neuron_activations": (lambda: dict(tokens=TOKENS, activations=_seeded(N, 2, 3)), True),
    "viz.topk_tokens": (lambda: dict(tokens=[TOKENS], activations=[_seeded(2, N, 3)], max_k=3), True),
    "viz.token_log_probs": (lambda: dict(token_indices=torch.arange(N), log_probs=_seeded(N, N).log_softmax(-1),
                                         vocab=TOKENS, top_k=3), True),
    "viz.imshow": (lambda: dict(values=_seeded(3, N), x=TOKENS, y=["0", "1", HOSTILE], xaxis="Position",
                                yaxis="Layer", caxis="logit diff", title="Patching " + HOSTILE), True),
    "viz.line": (lambda: dict(values=_seeded(2, N), x=TOKENS, names=["clean", HOSTILE], title="DLA"), True),
    "viz.scatter": (lambda: dict(x=_seeded(N), y=_seeded(N) * 2, hover_name=TOKENS, color=["a", "b"] * (N // 2),
                                 xaxis="Ablated", yaxis="Original", title=HOSTILE_INNER), False),
    "viz.bar": (lambda: dict(values=_seeded(N), x=TOKENS, title="bars"), True),
}


def _figure(page: str) -> tuple[list[dict], dict]:
    """(data, layout) of the figure a plotly page draws: Plotly.newPlot("id", data, layout, config)."""
    decoder = json.JSONDecoder()

    def value_after_comma(at: int) -> tuple[Any, int]:
        at = page.index(",", at) + 1
        while page[at].isspace():
            at += 1
        return decoder.raw_decode(page, at)

    data, end = value_after_comma(page.index("Plotly.newPlot("))
    layout, _ = value_after_comma(end)
    return data, layout


def _array(value: Any) -> np.ndarray:
    """A plotly data array: a list, or plotly's typed-array encoding {"dtype", "bdata", "shape"}."""
    if isinstance(value, dict):
        shape = [int(n) for n in str(value.get("shape", "-1")).split(",")]
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).reshape(shape)
    return np.asarray(value)


def _props(page: str) -> tuple[str, dict]:
    """(component name, props) of a circuitsvis page."""
    m = re.search(r'CircuitsVis\.render\(\n\s*"circuits-vis-[^"]+",\n\s*CircuitsVis\.(\w+),\n\s*(\{.*\})\n\s*\)\n\s*</script>', page)
    assert m, "no CircuitsVis.render call found"
    return m.group(1), json.loads(m.group(2))


# -- without a browser --------------------------------------------------------------------


def test_script_json_cannot_close_a_script() -> None:
    value = {"tokens": [HOSTILE, "<!--", "a & b", "\u2028"], "x": [1.5, float("nan")]}
    text = script_json(value)
    assert not set("<>&\u2028") & set(text)
    decoded = json.loads(text.replace("NaN", "null"))
    assert decoded["tokens"] == value["tokens"] and decoded["x"][0] == 1.5


@pytest.mark.parametrize("op", list(VIEWS))
def test_every_view_is_a_self_contained_page(session, op, monkeypatch) -> None:
    attempts: list[Any] = []

    def no_network(*args: Any) -> None:
        attempts.append(args[-1] if len(args) == 2 else args[0])  # recorded: circuitsvis' own probe swallows errors
        raise OSError("no network in this test")

    # circuitsvis' _repr_html_ (never used here) would look up and connect to google.com
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    view = call(session, op, **VIEWS[op][0]())
    assert attempts == []
    assert view["kind"] == op.split(".", 1)[1] and view["assets"] == []
    page = view["html"]
    assert page.startswith("<!DOCTYPE html>") or page.startswith("<!doctype html>")
    assert chromium_check.scan(page).urls == []
    assert not re.search(r"""<script[^>]*\ssrc=|<link[^>]*\shref=""", page, re.IGNORECASE)
    assert HOSTILE not in page and HOSTILE_INNER not in page  # never verbatim, anywhere
    assert f"<title>{html.escape(view['title'])}</title>" in page


def test_circuitsvis_props_are_what_circuitsvis_itself_embeds(session) -> None:
    import circuitsvis as cv

    tokens = ["<|endoftext|>", "The", " cat", " sat"]
    attention = _seeded(2, 4, 4).softmax(-1)
    view = call(session, "viz.attention_heads", attention=attention, tokens=tokens, attention_head_names=["a", "b"], mask_upper_tri=True)
    name, props = _props(view["html"])
    ref_name, ref_props = _props(cv.attention.attention_heads(attention=attention, tokens=tokens, attention_head_names=["a", "b"],
                                                              mask_upper_tri=True).local_src)
    assert (name, props) == (ref_name, ref_props) == ("AttentionHeads", ref_props)
    # The circuitsvis bundle itself is inlined, unchanged apart from circuitsvis' own edits.
    bundle = (Path(cv.__file__).parent / "dist" / "cdn" / "iife.js").read_text(encoding="utf-8").replace("</script>", "")
    assert bundle in view["html"]


def test_tokens_are_escaped_only_where_circuitsvis_reads_them_as_html(session) -> None:
    view = call(session, "viz.colored_tokens", tokens=["<|endoftext|>", HOSTILE_INNER, "&amp;", "1 < 2"], values=[0.1, 0.2, 0.3, 0.4])
    _, props = _props(view["html"])
    assert props["tokens"] == ["<|endoftext|>", "&lt;img/src='x'/onerror=document.title='pwned'>", "&amp;amp;", "1 < 2"]
    heads = call(session, "viz.attention_heads", attention=ATTENTION, tokens=TOKENS)  # drawn on a canvas: as given
    assert _props(heads["html"])[1]["tokens"] == TOKENS


def test_token_log_probs_matches_circuitsvis_with_the_model(session, tiny_model_dir, bridge) -> None:
    import circuitsvis as cv

    loaded = call(session, "model.load", name=str(tiny_model_dir), device="cpu")
    prompt = "When John and Mary went to the shops"
    tokens = bridge.to_tokens(prompt)[0]
    log_probs = bridge(prompt)[0].log_softmax(-1)
    view = call(session, "viz.token_log_probs", token_indices=tokens, log_probs=log_probs, model={"$h": loaded["$h"]}, top_k=5)
    _, props = _props(view["html"])
    _, ref = _props(cv.logits.token_log_probs(tokens, log_probs, bridge.to_single_str_token, top_k=5).local_src)
    assert props["prompt"] == ref["prompt"] and props["topKTokens"] == ref["topKTokens"]
    assert props["correctTokenRank"] == ref["correctTokenRank"]
    assert np.abs(np.array(props["correctTokenLogProb"]) - np.array(ref["correctTokenLogProb"])).max() <= 1e-5
    assert np.abs(np.array(props["topKLogProbs"]) - np.array(ref["topKLogProbs"])).max() <= 1e-5


def test_imshow_is_the_seeds_heatmap(session) -> None:
    import plotly.express as px

    values = _seeded(3, N)
    view = call(session, "viz.imshow", values=values, x=TOKENS, y=["L0", "L1", "L2"], xaxis="Position", yaxis="Layer", title="Patching")
    data, layout = _figure(view["html"])
    assert np.array_equal(_array(data[0]["z"]), values.numpy())
    scale = layout["coloraxis"]["colorscale"]
    assert [c for _, c in scale] == px.colors.sequential.RdBu and len(scale) == 11
    assert layout["coloraxis"]["cmid"] == 0
    assert layout["xaxis"]["ticktext"] == [t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for t in TOKENS]
    assert layout["xaxis"]["tickvals"] == list(range(N)) and layout["yaxis"]["ticktext"] == ["L0", "L1", "L2"]
    assert layout["xaxis"]["title"]["text"] == "Position" and layout["yaxis"]["title"]["text"] == "Layer"
    assert layout["title"]["text"] == "Patching" and view["title"] == "Patching"


def test_line_scatter_bar_carry_their_data(session) -> None:
    values = _seeded(2, 4)
    data, layout = _figure(call(session, "viz.line", values=values, names=["a", "b"], x=["0_pre", "0_mid", "1_pre", "1_mid"])["html"])
    assert [d["name"] for d in data] == ["a", "b"] and layout["xaxis"]["ticktext"] == ["0_pre", "0_mid", "1_pre", "1_mid"]
    assert np.allclose([_array(d["y"]) for d in data], values.numpy())
    x, y = _seeded(6), _seeded(6) * 3
    data, _ = _figure(call(session, "viz.scatter", x=x, y=y, hover_name=[f"L{i}H0" for i in range(6)], color=["a", "b"] * 3)["html"])
    assert sorted(d["name"] for d in data) == ["a", "b"]  # one trace per colour group
    got = sorted((px_, py_, h) for d in data for px_, py_, h in zip(_array(d["x"]), _array(d["y"]), d["hovertext"]))
    assert np.allclose([g[:2] for g in got], sorted(zip(x.tolist(), y.tolist()))) and {g[2] for g in got} == {f"L{i}H0" for i in range(6)}
    data, _ = _figure(call(session, "viz.bar", values=[1.0, -2.0, 3.0])["html"])
    assert data[0]["type"] == "bar" and np.allclose(_array(data[0]["y"]), [1, -2, 3])


def test_plotly_js_and_directory_pages(session, tmp_path) -> None:
    from plotly.offline import get_plotlyjs

    js = call(session, "viz.plotly_js")
    assert js["filename"] == "plotly.min.js" and js["js"] == get_plotlyjs() and js["version"]
    view = call(session, "viz.bar", values=[1.0, 2.0], include_plotlyjs="directory")
    assert view["assets"] == ["plotly.min.js"] and len(view["html"]) < 50_000
    assert '<script charset="utf-8" src="plotly.min.js"></script>' in view["html"]


def test_bad_arguments_say_what_is_valid(session) -> None:
    cases = [
        ("viz.attention_heads", dict(attention=_seeded(2, 3, 3), tokens=["a", "b"]), "shape_mismatch", "[dest_pos, src_pos] = [2, 2]"),
        ("viz.attention_heads", dict(attention=_seeded(2, 2, 2), tokens=["a", 1]), "bad_argument", "list of strings"),
        ("viz.attention_heads", dict(attention=_seeded(2, 2, 2), tokens=["a", "b"], attention_head_names=["x"]), "shape_mismatch", "head dim"),
        ("viz.colored_tokens", dict(tokens=["a", "b"], values=[1.0]), "shape_mismatch", "tokens has 2"),
        ("viz.token_log_probs", dict(token_indices=[0, 1], log_probs=_seeded(2, 3)), "bad_argument", "exactly one of model"),
        ("viz.imshow", dict(values=_seeded(2, 3), x=["a"]), "shape_mismatch", "values' columns has 3"),
        ("viz.imshow", dict(values=_seeded(2, 3), include_plotlyjs="cdn"), "bad_argument", "'directory'"),
        ("viz.line", dict(values=_seeded(2, 2, 2)), "shape_mismatch", "1 or 2 dims"),
        ("viz.scatter", dict(x=[1.0, 2.0], y=[1.0]), "shape_mismatch", "same length"),
        ("viz.scatter", dict(x=[1.0, 2.0], y=[1.0, 2.0], color=["a", 1]), "bad_argument", "all strings"),
    ]
    for op, args, kind, needle in cases:
        with pytest.raises(LensError) as e:
            call(session, op, **args)
        assert e.value.kind == kind and needle in str(e.value), (op, str(e.value))


# -- in headless Chromium -----------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = chromium_check.find_chromium()
    if binary is None:
        reason = "Chromium is not installed (apt-get install -y chromium, or set LENS4J_CHROMIUM): browser checks skipped"
        print(reason, file=sys.stderr)
        pytest.skip(reason)
    return binary


def _shown(token: str, text: str) -> bool:
    return " ".join(token.split()) in " ".join(text.split())


@pytest.mark.parametrize("op", list(VIEWS))
def test_view_renders_offline_in_chromium(session, chromium, tmp_path, op) -> None:
    args, tokens_in_text = VIEWS[op]
    view = call(session, op, **args())
    page = tmp_path / "view.html"
    page.write_text(view["html"], encoding="utf-8")
    shot = SCREENSHOTS / f"{op.split('.')[1]}.png" if op in ("viz.imshow", "viz.attention_heads") else None
    result = chromium_check.check(page, screenshot=shot, chromium=chromium)

    assert result.requests == [], f"the page fetched: {result.requests}"
    assert result.static_urls == [] and result.dom_urls == []
    assert result.title == view["title"]  # not 'pwned': no hostile handler ran
    assert "img" not in result.tags  # no element was made from token text
    if op in ("viz.imshow", "viz.line", "viz.scatter", "viz.bar"):
        assert result.main_svg >= 1 and result.tags.get("path", 0) > 0
    else:
        assert len(result.roots) == 1 and min(result.roots.values()) >= 3, result.roots
    if tokens_in_text:
        missing = [t for t in TOKENS[1:] if not _shown(t, result.text)]  # token_log_probs does not show BOS
        assert not missing, f"tokens not shown as text: {missing}"
    if shot is not None:
        png = shot.read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (1200, 900)
        assert len(png) > 10_000  # a blank page compresses to a few kB


def test_checker_catches_fetches_and_script_runs(chromium, tmp_path) -> None:
    """The checks above can fail: a page that fetches, and circuitsvis' raw output with a hostile token, are caught."""
    import circuitsvis as cv

    raw = cv.tokens.colored_tokens(tokens=["a", HOSTILE_INNER], values=[0.5, 1.0]).local_src
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>bad</title></head><body>"
        '<img src="http://img.example.invalid/x.png">'
        '<script>fetch("https://fetch.example.invalid/f").catch(() => {});</script>' + raw + "</body></html>",
        encoding="utf-8",
    )
    result = chromium_check.check(page, chromium=chromium)
    urls = {r["url"] for r in result.requests}
    assert {"http://img.example.invalid/x.png", "https://fetch.example.invalid/f"} <= urls
    assert result.static_urls == ["http://img.example.invalid/x.png"] and not result.ok
    assert result.title == "pwned"  # circuitsvis alone would run the token: the escaping in viz.py is needed


def test_directory_page_renders_with_its_shared_script(session, chromium, tmp_path) -> None:
    (tmp_path / "plotly.min.js").write_text(call(session, "viz.plotly_js")["js"], encoding="utf-8")
    page = tmp_path / "bar.html"
    page.write_text(call(session, "viz.bar", values=[1.0, -1.0, 2.0], include_plotlyjs="directory")["html"], encoding="utf-8")
    result = chromium_check.check(page, chromium=chromium)
    assert result.ok and result.main_svg >= 1 and result.tags.get("path", 0) > 0
