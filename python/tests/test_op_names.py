"""Every op name the Java side sends is registered on the Python side.

Java calls ops by string literal (``lens.call("model.run_with_cache", ...)``,
``op("tensor.select", ...)``, ``.render("viz.imshow")``, ``call("patching.sweep", ...)``): a
typo, or an op renamed or moved on one side only, shows up as an ``unknown_op`` error at run
time, in whichever test (if any) happens to call it. This test reads src/main/java and takes
every string literal in code that has the shape of an op name, ``<area>.<name>`` with an area
from ``lens4j_bridge.ops.AREAS``, plus the op names that Javadoc examples pass to ``call(``
(``engine.call("bridge.info", ...)``; other literals in comments are skipped, as they name
files such as "patching.html"). It resolves each one the way the worker does, through
``ops.lookup``, which imports the area's module on first use.
"""

from __future__ import annotations

import re
from pathlib import Path

from lens4j_bridge import ops
from lens4j_bridge.errors import LensError

JAVA_ROOT = Path(__file__).resolve().parents[2] / "src" / "main" / "java"

# 85 distinct op names today (82 in code, 3 more only in Javadoc examples); the bound keeps a
# broken scanner or regex from passing with few names or none
MIN_NAMES = 75

OP_NAME = re.compile(r"(?:%s)\.[a-z_][a-z0-9_]*" % "|".join(map(re.escape, sorted(ops.AREAS))))
# a Javadoc example's call: lens.ops().call("viz.bar", ...), engine.call("bridge.info", ...)
CALL_IN_COMMENT = re.compile(r'\bcall\(\s*"(%s)"' % OP_NAME.pattern)


def scan(source: str) -> tuple[list[str], list[str]]:
    """The string literals in Java code (as written, escapes left as they are) and the text of
    the comments, in order. Char literals and text blocks are skipped: no op name spans lines."""
    literals: list[str] = []
    comments: list[str] = []
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if source.startswith("//", i):
            end = source.find("\n", i)
            end = n if end < 0 else end
            comments.append(source[i:end])
            i = end
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            end = n if end < 0 else end + 2
            comments.append(source[i:end])
            i = end
        elif source.startswith('"""', i):
            end = source.find('"""', i + 3)
            while end > 0 and source[end - 1] == "\\":
                end = source.find('"""', end + 1)
            i = n if end < 0 else end + 3
        elif c in "\"'":
            j = i + 1
            while j < n and source[j] != c:
                j += 2 if source[j] == "\\" else 1
            if c == '"':
                literals.append(source[i + 1:j])
            i = j + 1
        else:
            i += 1
    return literals, comments


def op_names_in(source: str) -> set[str]:
    literals, comments = scan(source)
    names = {s for s in literals if OP_NAME.fullmatch(s)}
    for comment in comments:
        names.update(CALL_IN_COMMENT.findall(comment))
    return names


def java_op_names() -> dict[str, list[str]]:
    """op name -> the Java files (relative to src/main/java) that send it."""
    found: dict[str, list[str]] = {}
    for path in sorted(JAVA_ROOT.rglob("*.java")):
        for name in op_names_in(path.read_text(encoding="utf-8")):
            found.setdefault(name, []).append(str(path.relative_to(JAVA_ROOT)))
    return found


def unregistered(names: set[str]) -> dict[str, str]:
    """Each name that ops.lookup does not resolve, with its error."""
    missing: dict[str, str] = {}
    for name in sorted(names):
        try:
            ops.lookup(name)
        except LensError as e:
            missing[name] = str(e)
    return missing


def test_the_scanner_reads_code_literals_and_the_calls_in_javadoc_examples():
    source = r'''
        /** Javadoc: {@code lens.call("analysis.detect_head", args)}; page.save(Path.of("patching.html")); */
        class X {
            // the "model.in_a_line_comment" op is not called here
            String url = "http://example.org/*not a comment*/";
            char quote = '"';
            Object a = lens.call("model.run_with_cache", Map.of("names", "blocks.0.hook_resid_pre"));
            Object b = op("tensor.select", Args.of("dim", 0)); /* "tensor.in_a_block_comment" */
            String escaped = "a \"quoted\" word, \"tensor.in_an_escape\""; Object c = call(cache, "analysis.logit_attrs", args);
            String text = """
                "viz.in_a_text_block"
                """;
            Object d = render("viz.imshow") + "nomodule.thing" + "model.Upper" + "patching.sweep.extra";
        }
    '''
    assert op_names_in(source) == {"analysis.detect_head", "model.run_with_cache", "tensor.select", "analysis.logit_attrs",
                                   "viz.imshow"}


def test_an_unregistered_name_is_reported_with_what_is_valid():
    missing = unregistered({"patching.sweep", "patching.no_such_op", "nosucharea.op"})
    assert sorted(missing) == ["nosucharea.op", "patching.no_such_op"]
    assert "patching.sweep" in missing["patching.no_such_op"]  # the error lists the area's ops
    assert "areas" in missing["nosucharea.op"]


def test_every_op_name_java_sends_is_registered_in_python():
    found = java_op_names()
    assert JAVA_ROOT.is_dir(), f"no Java sources at {JAVA_ROOT}"
    assert len(found) >= MIN_NAMES, f"found only {len(found)} op names in {JAVA_ROOT}: {sorted(found)}"
    # names the Java side is known to send: a scanner that misses them is broken, not green
    assert {"model.run_with_cache", "patching.sweep", "analysis.logit_lens", "tensor.select", "viz.imshow"} <= set(found)
    missing = unregistered(set(found))
    assert not missing, "Java sends ops that Python does not register:\n" + "\n".join(
        f"  {name} (sent from {', '.join(found[name])}): {error}" for name, error in missing.items())

