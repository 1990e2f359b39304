"""The embedded engine's Python door (embedded_entry), on plain CPython with a Python stand-in
for the Java side: the JEP-specific part (Java buffers, byte[] conversion) is covered by the
Java tests that run it inside a JVM (EmbeddedEngineContractTest, EmbeddedEngineTest)."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

from lens4j_bridge.embedded_entry import EmbeddedEntry


class FakeJava:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def arena(self, nbytes: int) -> bytearray:
        self.buffer = bytearray(max(nbytes, len(getattr(self, "buffer", b""))))
        return self.buffer

    def callback(self, name: str, args_json: str, metas_json: str, datas: list[Any]) -> str:
        args = json.loads(args_json)
        self.calls.append((name, args))
        if name == "boom":
            return json.dumps({"error": {"message": "boom from Java", "type": "java.lang.IllegalStateException"}})
        return json.dumps({"value": args.get("call", 0) * 10})

    def progress(self, done: int, total: int, message: str) -> None:
        pass


def _call(entry: EmbeddedEntry, seq: int, op: str, args: dict[str, Any]) -> dict[str, Any]:
    answer, _views = entry.call_seq(seq, op, json.dumps(args), "[]", [])
    return json.loads(answer)


def _interrupt(entry: EmbeddedEntry, seq: int) -> None:
    os.write(entry.interrupt_fd(), seq.to_bytes(8, "little"))


def test_calls_and_callbacks_go_through_the_shared_entry() -> None:
    java = FakeJava()
    entry = EmbeddedEntry(java, {"LENS4J_TEST_ENV": "set"})
    try:
        assert os.environ["LENS4J_TEST_ENV"] == "set"
        assert _call(entry, 1, "bridge.echo", {"value": [1, "two"]})["value"]["value"] == [1, "two"]
        assert _call(entry, 2, "bridge.callback", {"name": "j", "repeat": 3})["value"] == [0, 10, 20]
        err = _call(entry, 3, "bridge.callback", {"name": "boom"})["error"]
        assert err["kind"] == "callback_failed" and "boom from Java" in err["message"]
    finally:
        entry.close()


def test_an_interrupt_stops_the_running_call_and_the_entry_runs_on() -> None:
    entry = EmbeddedEntry(FakeJava())
    try:
        timer = threading.Timer(0.2, _interrupt, (entry, 7))
        timer.start()
        start = time.monotonic()
        err = _call(entry, 7, "bridge.sleep", {"seconds": 10})["error"]
        elapsed = time.monotonic() - start
        assert err["kind"] == "interrupted", err
        assert elapsed < 2.0, f"the interrupt took {elapsed:.2f} s to land"
        assert _call(entry, 8, "bridge.echo", {"value": 1})["value"]["value"] == 1
    finally:
        entry.close()


def test_an_interrupt_for_a_call_that_has_ended_does_not_reach_the_next() -> None:
    entry = EmbeddedEntry(FakeJava())
    try:
        assert _call(entry, 11, "bridge.echo", {"value": 1})["value"]["value"] == 1
        _interrupt(entry, 11)  # late: call 11 is over
        time.sleep(0.1)
        assert _call(entry, 12, "bridge.sleep", {"seconds": 0.2})["value"] == 0.2
    finally:
        entry.close()


def test_result_blobs_go_into_the_java_arena_at_aligned_offsets() -> None:
    java = FakeJava()
    entry = EmbeddedEntry(java)
    try:
        answer, views = entry.call_seq(21, "bridge.echo", json.dumps({"blobs": [{"$blob": 0}, {"$blob": 1}]}),
                                       json.dumps([{"dtype": "uint8", "shape": [3]}, {"dtype": "int32", "shape": [2]}]),
                                       [b"\x01\x02\x03", (7).to_bytes(4, "little") + (9).to_bytes(4, "little")])
        metas = json.loads(answer)["value"]
        blobs = json.loads(answer)
        assert views == []
        got = blobs["blobs"]
        assert [m["offset"] for m in got] == [0, 64]
        assert bytes(java.buffer[0:3]) == b"\x01\x02\x03"
        assert int.from_bytes(java.buffer[64:68], "little") == 7 and int.from_bytes(java.buffer[68:72], "little") == 9
        assert metas["blobs"] == [{"$blob": 0, "dtype": "uint8", "shape": [3]}, {"$blob": 1, "dtype": "int32", "shape": [2]}]
    finally:
        entry.close()
