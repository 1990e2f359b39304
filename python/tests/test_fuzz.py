"""A seeded fuzz test of the worker's frame reader, against a real worker process.

Every case opens its own connection and sends something broken: random bytes, truncated
frames, out-of-range lengths, headers of the wrong shape or with wrong-typed fields, bad blob
descriptors, wrong tokens, frames before the hello. Each must end in error frames or a closed
connection: never a result for a broken call, never an op run before authentication (the
probes ask for ``bridge.exit``, which would kill the worker), never a hang (every socket has
a timeout). Every ``CHECK_EVERY`` cases a well-formed client must still get right answers.

    LENS4J_FUZZ_SEED=7 LENS4J_FUZZ_CASES=20000 python -m pytest -q tests/test_fuzz.py
"""

from __future__ import annotations

import json
import os
import random
import socket
import struct
import threading
import time
from collections import Counter
from typing import Any, Callable

import pytest

from worker_client import PREFIX, Worker

SEED = int(os.environ.get("LENS4J_FUZZ_SEED", "20240611"))
CASES = int(os.environ.get("LENS4J_FUZZ_CASES", "10000"))
CHECK_EVERY = 100
TIMEOUT_S = 15.0
EXIT_CODE = 77  # what bridge.exit would return if a probe ever ran

MAX_HEADER = 16 << 20
MAX_PAYLOAD = 8 << 30


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    drain_stderr(w)
    yield w
    w.stop()


def drain_stderr(w: Worker) -> list[bytes]:
    """Read the worker's stderr as Java does: it logs a line per refused connection, and an
    unread pipe would fill up and block it."""
    lines: list[bytes] = []

    def pump() -> None:
        assert w.proc.stderr
        for line in w.proc.stderr:
            lines.append(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def frame(header: Any, payload: bytes = b"", *, raw_header: bytes | None = None) -> bytes:
    raw = raw_header if raw_header is not None else json.dumps(header).encode()
    return PREFIX.pack(len(raw), len(payload)) + raw + payload


def exit_probe(i: int = 1) -> bytes:
    return frame({"kind": "call", "id": i, "op": "bridge.exit", "args": {"code": EXIT_CODE}})


class Conn:
    """A raw connection: send bytes, half-close, and read every frame until the worker closes."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT_S)
        self.sock.connect(path)

    def hello(self, token: str) -> None:
        self.sock.sendall(frame({"kind": "hello", "token": token}))
        header = self.read_frames(limit=1)[0]
        assert header["kind"] == "hello", header

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the worker closed on us mid-send: a refusal, which the reader sees too

    def _exact(self, n: int) -> bytes | None:
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def read_frames(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Frames until the worker closes (or ``limit`` frames); socket.timeout means a hang."""
        out: list[dict[str, Any]] = []
        while limit is None or len(out) < limit:
            prefix = self._exact(PREFIX.size)
            if prefix is None:
                return out
            header_len, payload_len = PREFIX.unpack(prefix)
            raw = self._exact(header_len)
            if raw is None or (payload_len and self._exact(payload_len) is None):
                raise AssertionError("the worker sent a truncated frame")
            out.append(json.loads(raw))
        return out

    def finish(self) -> list[dict[str, Any]]:
        """Half-close (the worker sees EOF after our bytes) and collect its answers."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        try:
            return self.read_frames()
        finally:
            self.sock.close()


# -- case generators: each returns (bytes to send, authenticated?, expectation) -------------------
# Expectations: "closed" = no frame at all before the close; "errors" = only error frames;
# "sentinel" = only error frames, then the sentinel call's result (the stream stayed in sync).

SENTINEL_ID = "sentinel"


def sentinel(value: int) -> bytes:
    return frame({"kind": "call", "id": SENTINEL_ID, "op": "bridge.echo", "args": {"value": value}})


def wrong_tokens(rng: random.Random, token: str) -> list[Any]:
    flipped = list(token)
    i = rng.randrange(len(flipped))
    flipped[i] = "0" if flipped[i] != "0" else "1"
    return [
        "", "0" * 64, "".join(flipped), token[:-1], token + "0", token.upper(), " " + token, token + "\n",
        token[: rng.randrange(len(token))], rng.randbytes(32).hex(), None, 0, 1, True, [token], {"token": token},
        token.encode().hex(), "\u0000" * 64, "é" * 64,
    ]


def pre_auth_case(rng: random.Random, token: str) -> tuple[bytes, str]:
    kind = rng.randrange(7)
    if kind == 0:  # random bytes
        return rng.randbytes(rng.randrange(0, 300)), "random bytes"
    if kind == 1:  # a call (or anything else) before the hello
        first = rng.choice([
            {"kind": "call", "id": 1, "op": "bridge.exit", "args": {"code": EXIT_CODE}},
            {"kind": "release", "handles": [1, 2]}, {"kind": "callback_result", "id": 1, "value": 1},
            {"kind": "HELLO", "token": token}, {"kind": "hello ", "token": token}, {"kind": ["hello"], "token": token},
            {"token": token}, {"kind": "hello", "Token": token}, {"kind": "hello", "tok": token},
        ])
        return frame(first) + frame({"kind": "hello", "token": token}) + exit_probe(), "frame before the hello"
    if kind == 2:  # wrong token, then a probe
        bad = rng.choice(wrong_tokens(rng, token))
        return frame({"kind": "hello", "token": bad}) + exit_probe(), "wrong token"
    if kind == 3:  # the right hello, truncated
        data = frame({"kind": "hello", "token": token})
        return data[: rng.randrange(len(data))], "truncated hello"
    if kind == 4:  # lengths a hello never has
        header = json.dumps({"kind": "hello", "token": token}).encode()
        header_len, payload_len = rng.choice([
            (0, 0), (len(header), 1), (len(header), rng.randrange(1, MAX_PAYLOAD)), (len(header), (1 << 64) - 1),
            (64 << 10 + 1, 0), (MAX_HEADER, 0), ((1 << 32) - 1, 0), (len(header) + 1, 0), (len(header) - 1, 0),
        ])
        return PREFIX.pack(header_len, payload_len) + header, "hello with bad lengths"
    if kind == 5:  # the right token in a header that is not JSON / not an object
        body = rng.choice([
            b"\xff\xfe" + token.encode(), ("[" * 5000).encode(), json.dumps(["hello", token]).encode(),
            json.dumps(token).encode(), b"{\"kind\":\"hello\",\"token\":\"" + token.encode() + b"\"", b"\x00" * 40,
        ])
        return frame(None, raw_header=body) + exit_probe(), "malformed hello header"
    # a hello with the token in a nested or duplicated field
    raw = ('{"kind":"hello","token":"' + "0" * 64 + '","token2":"' + token + '"}').encode()
    return frame(None, raw_header=raw) + exit_probe(), "token in another field"


OPS = ["bridge.echo", "bridge.handles", "bridge.info", "bridge.fail", "bridge.make_blob", "bridge.release",
       "no.such_op", "bridge.nope", "bridge", "", ".", "bridge.", "..", "../../etc", "__import__", "os.system",
       "bridge.__init__", "lens4j_bridge.server", "x" * 10_000, "bridge.echo\u0000", "BRIDGE.ECHO"]

WEIRD = [None, True, False, 0, -1, 1 << 70, -(1 << 70), 1.5, float("nan"), float("inf"), "", "x", "\u0000", "é",
         [], [1, "a"], {}, {"$h": 1}, {"$h": "1"}, {"$h": None}, {"$h": 1 << 80}, {"$blob": 0}, {"$blob": -1},
         {"$blob": "0"}, {"$blob": 1 << 40}, {"$h": 1, "type": "tensor", "extra": 1}, {"$tensor": 5}]


def weird(rng: random.Random, depth: int = 0) -> Any:
    r = rng.random()
    if depth < 3 and r < 0.15:
        return [weird(rng, depth + 1) for _ in range(rng.randrange(4))]
    if depth < 3 and r < 0.3:
        return {rng.choice(["value", "dtype", "shape", "kind", "message", "handles", "seconds", "$h", "a"]): weird(rng, depth + 1)
                for _ in range(rng.randrange(4))}
    return rng.choice(WEIRD)


SAFE_SHAPES = [[], [0], [3], [2, 2], [-1], [1 << 50], [1.5], ["3"], [None], 3, "3", None, [[1]], [1 << 70]]


def args_for(rng: random.Random, op: str) -> Any:
    if rng.random() < 0.25:
        return weird(rng)  # args that are not even an object
    if op == "bridge.make_blob" and rng.random() < 0.7:
        return {"dtype": rng.choice(["uint8", "float32", "bool", "complex64", "", None, 1]), "shape": rng.choice(SAFE_SHAPES),
                **({"fill": weird(rng)} if rng.random() < 0.5 else {})}
    if op == "bridge.fail" and rng.random() < 0.7:
        return {"kind": weird(rng), "message": weird(rng)}
    if op == "bridge.release" and rng.random() < 0.7:
        return {"handles": weird(rng)}
    return {rng.choice(["value", "blobs", "kind", "message", "dtype", "shape", "handles", "code", "seconds", "name", "zzz"]): weird(rng)
            for _ in range(rng.randrange(4))}


def bad_blob_descriptors(rng: random.Random) -> tuple[list[Any] | Any, bytes]:
    payload = rng.randbytes(rng.randrange(0, 64))
    d: dict[str, Any] = {"dtype": "uint8", "shape": [len(payload)], "nbytes": len(payload), "offset": 0}
    mutation = rng.randrange(12)
    if mutation == 0:
        d["offset"] = -1
    elif mutation == 1:
        d["offset"] = len(payload) + rng.randrange(1, 100)
    elif mutation == 2:
        d["nbytes"] = len(payload) + rng.randrange(1, 100)
    elif mutation == 3:
        d["nbytes"] = rng.choice([-5, "8", None, 1.5, 1 << 70])
    elif mutation == 4:
        d["dtype"] = rng.choice(["object", "float128", "", None, 3, "pickle"])
    elif mutation == 5:
        d["shape"] = rng.choice([[-1], ["a"], None, "3", [1 << 62, 1 << 62], [len(payload) + 1], [1.0]])
    elif mutation == 6:
        d = {"dtype": "float32", "shape": [2], "nbytes": 8, "arena_offset": rng.choice([0, -1, 1 << 40, "0"]),
             "arena_size": rng.choice([0, 1 << 40, -1, "big", None])}
    elif mutation == 7:
        del d["offset"]
    elif mutation == 8:
        return rng.choice([{}, "blobs", 5, [None], [[1, 2]], [d, 7]]), payload
    elif mutation == 9:
        d["offset"] = rng.choice(["0", None, 0.0, [0]])
    elif mutation == 10:
        d["dtype"], d["shape"], d["nbytes"] = "float64", [len(payload)], len(payload)  # 8x too few bytes
    else:  # blobs whose bytes are not in the payload
        return [{"dtype": "uint8", "shape": [4], "nbytes": 4, "offset": 4 * k} for k in range(rng.randrange(1, 5))], b"\0\0"
    return [d], payload


def post_auth_case(rng: random.Random, i: int) -> tuple[bytes, str, str]:
    """(bytes, description, expectation) for an authenticated connection."""
    kind = rng.randrange(9)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 400)), "random bytes", "errors"
    if kind == 1:  # a well-formed call, truncated
        data = frame({"kind": "call", "id": i, "op": "bridge.echo", "args": {"value": i}}, rng.randbytes(rng.randrange(0, 50)))
        return data[: rng.randrange(len(data))], "truncated call", "errors"
    if kind == 2:  # out-of-range lengths: the stream cannot be trusted, the connection closes
        header_len, payload_len = rng.choice([(0, 0), (MAX_HEADER + 1, 0), ((1 << 32) - 1, 0), (10, MAX_PAYLOAD + 1),
                                              (10, (1 << 64) - 1), (MAX_HEADER + rng.randrange(1, 1 << 20), rng.randrange(1 << 40))])
        return PREFIX.pack(header_len, payload_len) + rng.randbytes(rng.randrange(0, 64)), \
            f"out-of-range lengths: {header_len}/{payload_len}", "errors"
    if kind == 3:  # big but legal claimed lengths with few bytes behind them: the worker must not allocate them up front
        header_len, payload_len = rng.choice([(MAX_HEADER, 0), (20, MAX_PAYLOAD), (20, rng.randrange(1 << 20, MAX_PAYLOAD))])
        return PREFIX.pack(header_len, payload_len) + rng.randbytes(rng.randrange(0, 200)), \
            f"large claimed lengths, few bytes: {header_len}/{payload_len}", "errors"
    if kind == 4:  # headers that are not JSON objects with a string kind
        raw = rng.choice([b"\xff\xfe\xfd", b"", b"null", b"[]", b"3", b'"call"', b"{", b"{\"kind\": 3}", b"{\"kind\": null}",
                          b"{\"kind\": [\"call\"]}", ("[" * rng.randrange(1000, 200_000)).encode(), b"{\"kind\":\"call\",}",
                          ('{"a":' * 50_000 + "1" + "}" * 50_000).encode(), b"NaN", b"{\"kind\":\"call\",\"id\":1e999}"])
        if raw == b"":
            return PREFIX.pack(0, 0) + sentinel(i), "header not a JSON object: empty", "errors"
        return frame(None, raw_header=raw) + sentinel(i), f"header not a JSON object: {raw[:30]!r}", "sentinel"
    if kind == 5:  # calls with wrong-typed fields
        header: dict[str, Any] = {"kind": "call", "id": weird(rng) if rng.random() < 0.3 else i}
        if rng.random() < 0.9:
            header["op"] = weird(rng) if rng.random() < 0.3 else rng.choice(OPS)
        if rng.random() < 0.9:
            header["args"] = args_for(rng, header.get("op") if isinstance(header.get("op"), str) else "")
        if rng.random() < 0.2:
            header["blobs"] = weird(rng)
        expectation = "sentinel-or-result"  # some of these are valid calls (bridge.info with no args)
        return frame(header) + sentinel(i), f"call with wrong-typed fields: {json.dumps(header)[:80]}", expectation
    if kind == 6:  # bad blob descriptors
        blobs, payload = bad_blob_descriptors(rng)
        header = {"kind": "call", "id": i, "op": "bridge.echo", "args": {"blobs": [{"$blob": 0}]}, "blobs": blobs}
        return frame(header, payload) + sentinel(i), f"bad blob descriptors: {json.dumps(blobs)[:80]}", "sentinel"
    if kind == 7:  # frames of other kinds, out of context
        header = rng.choice([
            {"kind": "callback_result", "id": weird(rng), "value": weird(rng)}, {"kind": "callback_error", "id": 1, "error": weird(rng)},
            {"kind": "hello", "token": "0" * 64}, {"kind": "result", "id": 1, "value": 1}, {"kind": "error", "id": 1},
            {"kind": "progress", "id": 1}, {"kind": "callback", "id": 1, "callback": "x"}, {"kind": "release", "handles": weird(rng)},
            {"kind": "release"}, {"kind": "", "id": 1}, {"kind": "call\u0000"},
        ])
        return frame(header) + sentinel(i), f"frame out of context: {json.dumps(header)[:80]}", "sentinel"
    # a callback answered wrongly: wrong id (protocol error, closed), garbage error, garbage blobs
    answer = rng.choice([
        {"kind": "callback_result", "id": 999, "value": 1}, {"kind": "callback_error", "id": 1, "error": weird(rng)},
        {"kind": "callback_result", "id": 1, "value": weird(rng), "blobs": [{"dtype": "uint8", "shape": [4], "nbytes": 4, "offset": 2}]},
        {"kind": "callback_result", "id": "1", "value": 1}, {"kind": "callback_error", "id": 1},
    ])
    call = frame({"kind": "call", "id": i, "op": "bridge.callback", "args": {"name": "x"}})
    return call + frame(answer) + sentinel(i), f"bad callback answer: {json.dumps(answer)[:80]}", "callback"


def check_answers(frames: list[dict[str, Any]], expectation: str, i: int, what: str) -> str:
    """Assert the worker's answers fit; returns what happened, for the tally."""
    context = f"case {i} ({what}): {frames!r:.300}"
    kinds = [f["kind"] for f in frames]
    if expectation == "closed":
        assert frames == [], context
        return "closed"
    if expectation == "callback":
        # The callback frame, then the op's error (or a result if the garbage value was acceptable), then the sentinel.
        assert kinds and kinds[0] == "callback", context
        rest = frames[1:]
        assert all(f["kind"] in ("error", "result") for f in rest), context
        results = [f for f in rest if f["kind"] == "result"]
        assert all(f["id"] in (i, SENTINEL_ID) for f in results), context
        in_sync = any(f.get("id") == SENTINEL_ID for f in rest)
        return "op failed, stream in sync" if in_sync else "protocol error, closed"
    non_errors = [f for f in frames if f["kind"] != "error"]
    if expectation == "errors":
        assert non_errors == [], context
        return "errors+closed" if frames else "closed"
    # "sentinel" / "sentinel-or-result": errors, maybe the call's own result, then the sentinel's echo
    assert frames and frames[-1]["kind"] == "result" and frames[-1]["id"] == SENTINEL_ID, context
    assert frames[-1]["value"]["value"] == i, context
    extra = non_errors[:-1]
    if expectation == "sentinel":
        assert extra == [], context
    else:
        assert all(f["kind"] == "result" and f["id"] != SENTINEL_ID for f in extra), context
    errors = [f for f in frames if f["kind"] == "error"]
    for e in errors:
        assert isinstance(e["error"]["message"], str) and "kind" in e["error"], context
    if errors:
        return "error frame, stream in sync"
    return "valid call answered, in sync" if extra else "no answer due (release), in sync"


def assert_well_formed_client_works(worker: Worker, rng: random.Random) -> None:
    assert worker.proc.poll() is None, f"the worker died: exit code {worker.proc.poll()}"
    c = worker.connect()
    value = {"n": rng.randrange(1 << 30), "s": "ok"}
    r = c.call("bridge.echo", {"value": value})
    assert r["kind"] == "result" and r["value"]["value"] == value
    r = c.call("bridge.callback", {"name": "twice", "repeat": 2}, {"twice": lambda a: a["call"] * 2})
    assert r["value"] == [0, 2]
    assert c.call("bridge.handles")["value"]["count"] == 0
    c.close()


def worker_threads(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("Threads:")).split()[1])


def test_fuzz_the_frame_reader(worker):
    rng = random.Random(SEED)
    tally: Counter[str] = Counter()
    start = time.monotonic()
    threads_before = worker_threads(worker.proc.pid)
    rss_before = rss_kb(worker.proc.pid)
    for i in range(1, CASES + 1):
        conn = Conn(worker.socket_path)
        if rng.random() < 0.35:
            data, what = pre_auth_case(rng, worker.token)
            conn.send(data)
            try:
                answers = conn.finish()
            except TimeoutError:
                raise AssertionError(f"case {i} ({what}): the worker neither answered nor closed in {TIMEOUT_S} s") from None
            outcome = check_answers(answers, "closed", i, what)
            tally[f"before auth, {what}: {outcome}"] += 1
        else:
            conn.hello(worker.token)
            data, what, expectation = post_auth_case(rng, i)
            conn.send(data)
            try:
                answers = conn.finish()
            except TimeoutError:
                raise AssertionError(f"case {i} ({what}): the worker neither answered nor closed in {TIMEOUT_S} s") from None
            outcome = check_answers(answers, expectation, i, what)
            tally[f"after auth, {what.split(':')[0]}: {outcome}"] += 1
        if i % CHECK_EVERY == 0:
            assert_well_formed_client_works(worker, rng)
    assert_well_formed_client_works(worker, rng)
    elapsed = time.monotonic() - start
    # Every connection's thread ended with its connection, and no case left memory behind.
    deadline = time.monotonic() + 10
    while worker_threads(worker.proc.pid) > threads_before + 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert worker_threads(worker.proc.pid) <= threads_before + 2
    assert rss_kb(worker.proc.pid) < rss_before + 100_000, "the worker's memory grew by more than 100 MB"
    print(f"\nfuzz: seed {SEED}, {CASES} cases in {elapsed:.1f} s; worker alive, well-formed client checked "
          f"{CASES // CHECK_EVERY + 1} times")
    for outcome, n in sorted(tally.items()):
        print(f"  {n:6d}  {outcome}")


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS:")).split()[1])
