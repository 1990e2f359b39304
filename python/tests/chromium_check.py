"""Open an HTML file in headless Chromium with no network, and report what it rendered and fetched.

Used by test_viz.py and, through the CLI, by Java tests:

    python chromium_check.py page.html [--screenshot out.png] [--dom out.html] [--window-size 1200,900]

prints one JSON object (see ``PageCheck``) and exits 0 when the page fetched nothing and
names no network URL, 1 when it did, 2 when Chromium is missing or failed.

How "fetched nothing" is shown, three ways:
1. Chromium's net log (``--log-net-log``) records every request its network stack starts.
   A request that a document made carries the document's origin as ``initiator`` (``null``
   for a file:// page); the browser's own background calls (update and sign-in checks
   that some builds make despite ``--disable-background-networking``) carry
   ``not an origin``. ``requests`` lists the first kind and must be empty; ``background``
   lists the second, for information.
2. ``--host-resolver-rules='MAP * ~NOTFOUND'``: no host name resolves, so nothing could
   leave the machine even if a request started.
3. The saved HTML and the DOM after scripts ran (``--dump-dom`` with a virtual time budget)
   are scanned for network URLs in src/href-like attributes, ``url(...)`` in styles, and
   ``@import`` (``static_urls``, ``dom_urls``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

CANDIDATES = ("/usr/bin/chromium", "/usr/lib/chromium/chromium", "chromium", "chromium-browser", "google-chrome")

FLAGS = [
    "--headless",
    "--no-sandbox",  # we run as root in containers
    "--disable-gpu",
    "--disable-dev-shm-usage",  # small /dev/shm in containers
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-features=NetworkTimeServiceQuerying",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--hide-scrollbars",
]

NETWORK_URL = re.compile(r"^\s*(?:https?|wss?|ftp)://|^\s*//", re.IGNORECASE)
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""", re.IGNORECASE)
URL_ATTRIBUTES = {"src", "href", "srcset", "action", "formaction", "poster", "data", "xlink:href", "background", "manifest", "ping"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclasses.dataclass
class PageCheck:
    title: str  # document.title after scripts ran
    dom_length: int
    requests: list[dict[str, str]]  # network requests the page made: must be empty
    background: list[str]  # the browser's own requests (not the page's), for information
    static_urls: list[str]  # network URLs in attributes/styles of the saved file
    dom_urls: list[str]  # network URLs in attributes/styles of the DOM after scripts ran
    tags: dict[str, int]  # element counts in the final DOM, by tag name
    main_svg: int  # plotly's rendered plots (svg.main-svg)
    roots: dict[str, int]  # circuitsvis roots (div#circuits-vis-...) -> descendant elements
    text: str  # the text a reader sees in the final DOM (outside script/style; no-break spaces as spaces)
    screenshot: str | None
    dom: str = dataclasses.field(repr=False, default="")

    @property
    def ok(self) -> bool:
        return not (self.requests or self.static_urls or self.dom_urls)

    def summary(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        del out["dom"]
        out["ok"] = self.ok
        return out


class _Scan(HTMLParser):
    """Tags, network URLs in attributes and styles, and circuitsvis root sizes of one document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.tags: Counter[str] = Counter()
        self.main_svg = 0
        self.roots: dict[str, int] = {}
        self.title = ""
        self.text: list[str] = []
        self._open: list[tuple[str, str | None]] = []  # (tag, circuitsvis root id or None)
        self._in_style = False
        self._in_title = False
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        for root in {r for _, r in self._open if r}:
            self.roots[root] += 1
        values = dict(attrs)
        refresh = tag == "meta" and (values.get("http-equiv") or "").lower() == "refresh"
        for name, value in attrs:
            if value is None:
                continue
            if name == "style":
                self._css(value)
                continue
            if name == "srcset":
                candidates = [part.split()[0] for part in value.split(",") if part.split()]
            elif name == "content" and refresh:
                candidates = [re.split(r"url\s*=", value, flags=re.IGNORECASE)[-1]]
            elif name in URL_ATTRIBUTES:
                candidates = [value]
            else:
                continue
            self.urls += [c.strip() for c in candidates if NETWORK_URL.search(c)]
        if "main-svg" in (values.get("class") or "").split():
            self.main_svg += 1
        root = values.get("id") if (values.get("id") or "").startswith("circuits-vis-") else None
        if root:
            self.roots[root] = 0
        if tag not in VOID:
            self._open.append((tag, root))
        self._in_style = tag == "style"
        self._in_title = tag == "title"
        self._in_script = tag == "script"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self._open and self._open[-1][0] == tag:
            self._open.pop()

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0] == tag:
                del self._open[i:]
                break
        self._in_style = self._in_title = self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self._css(data)
        if self._in_title:
            self.title += data
        elif not (self._in_style or self._in_script):
            self.text.append(data.replace("\xa0", " "))

    def _css(self, text: str) -> None:
        for match in CSS_URL.finditer(text):
            url = match.group(1) or match.group(2)
            if NETWORK_URL.search(url):
                self.urls.append(url)


def scan(document: str) -> _Scan:
    parser = _Scan()
    parser.feed(document)
    parser.close()
    return parser


def find_chromium() -> str | None:
    """The Chromium binary: $LENS4J_CHROMIUM, else the Debian package's, else one on the PATH."""
    explicit = os.environ.get("LENS4J_CHROMIUM")
    if explicit:
        return explicit
    for candidate in CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def _net_log_requests(path: Path) -> tuple[list[dict[str, str]], list[str]]:
    """(requests a document made, the browser's own requests) from a Chromium net log."""
    if not path.exists():
        raise RuntimeError(f"Chromium wrote no net log at {path}")
    text = path.read_text(encoding="utf-8", errors="replace").rstrip()
    if not text.endswith("}"):  # a log cut short by a killed browser lacks the closing brackets
        text = text.rstrip(",") + "]}"
    log = json.loads(text)
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    page: list[dict[str, str]] = []
    background: list[str] = []
    for event in log.get("events", []):
        params = event.get("params") or {}
        kind = names.get(event.get("type"))
        url = params.get("url", "")
        if kind == "URL_REQUEST_START_JOB" and NETWORK_URL.search(url):
            initiator = params.get("initiator", "")
            if initiator == "not an origin":
                background.append(url.split("?", 1)[0])
            else:
                page.append({"url": url, "initiator": initiator, "method": params.get("method", "")})
        elif kind == "HTTP_STREAM_JOB_CONTROLLER" and params.get("is_preconnect") and NETWORK_URL.search(url):
            page.append({"url": url, "initiator": "preconnect", "method": ""})  # <link rel=preconnect>
    return page, sorted(set(background))


def check(html_file: str | os.PathLike[str], screenshot: str | os.PathLike[str] | None = None,
          window_size: str = "1200,900", budget_ms: int = 5000, timeout_s: float = 90.0,
          chromium: str | None = None) -> PageCheck:
    """Open ``html_file`` in headless Chromium, let its scripts run, and report (see module doc)."""
    binary = chromium or find_chromium()
    if binary is None:
        raise FileNotFoundError("no Chromium found (apt-get install -y chromium, or set LENS4J_CHROMIUM)")
    page = Path(html_file).resolve()
    with tempfile.TemporaryDirectory(prefix="lens4j-chromium-") as tmp:
        net_log = Path(tmp) / "net-log.json"
        args = [binary, *FLAGS, f"--user-data-dir={tmp}/profile", f"--log-net-log={net_log}",
                "--net-log-capture-mode=Default", f"--virtual-time-budget={budget_ms}", f"--window-size={window_size}"]
        if screenshot is not None:
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            args.append(f"--screenshot={Path(screenshot).resolve()}")
        args += ["--dump-dom", page.as_uri()]
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s)
        if done.returncode != 0 or not done.stdout.strip():
            raise RuntimeError(f"Chromium failed (exit {done.returncode}): {done.stderr[-2000:]}")
        requests, background = _net_log_requests(net_log)
    dom = done.stdout
    final = scan(dom)
    return PageCheck(
        title=final.title.strip(),
        dom_length=len(dom),
        requests=requests,
        background=background,
        static_urls=scan(page.read_text(encoding="utf-8")).urls,
        dom_urls=final.urls,
        tags=dict(final.tags),
        main_svg=final.main_svg,
        roots=final.roots,
        text="".join(final.text),
        screenshot=str(Path(screenshot).resolve()) if screenshot is not None else None,
        dom=dom,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", help="the HTML file to open")
    parser.add_argument("--screenshot", help="write a PNG of the page here")
    parser.add_argument("--dom", help="write the DOM after scripts ran here")
    parser.add_argument("--window-size", default="1200,900")
    parser.add_argument("--budget-ms", type=int, default=5000, help="virtual time for scripts to run")
    parser.add_argument("--chromium", help="the Chromium binary (default: $LENS4J_CHROMIUM or /usr/bin/chromium)")
    args = parser.parse_args(argv)
    try:
        result = check(args.html, args.screenshot, args.window_size, args.budget_ms, chromium=args.chromium)
    except (FileNotFoundError, RuntimeError, subprocess.TimeoutExpired) as e:
        print(json.dumps({"ok": False, "error": str(e)}))
        return 2
    if args.dom:
        Path(args.dom).write_text(result.dom, encoding="utf-8")
    print(json.dumps(result.summary(), indent=1))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
