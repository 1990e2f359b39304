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
