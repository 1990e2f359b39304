"""The worker over its real socket: authentication, framing, errors, callbacks, clean exit."""

from __future__ import annotations

import os

import pytest

from worker_client import Worker


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.stop()


def test_socket_and_folder_are_private(worker):
    assert worker.dir_mode() == 0o700
    assert worker.socket_mode() == 0o600


def test_hello_then_calls(worker):
    c = worker.connect()
    assert c.hello["kind"] == "hello" and c.hello["protocol"] == 1
    r = c.call("bridge.echo", {"value": {"a": [1, 2.5, None]}})
    assert r["kind"] == "result" and r["value"]["value"] == {"a": [1, 2.5, None]}
    c.close()


def test_wrong_token_is_closed_before_any_op(worker):
    c = worker.connect(hello=False)
    c.send({"kind": "hello", "token": "0" * 64})
    with pytest.raises((EOFError, ConnectionResetError)):
        c.receive()
    c2 = worker.connect(hello=False)
    c2.send({"kind": "call", "id": 1, "op": "bridge.exit", "args": {}})  # no hello: must not run
    with pytest.raises((EOFError, ConnectionResetError)):
        c2.receive()
    assert worker.proc.poll() is None
    good = worker.connect()
    assert good.call("bridge.echo", {"value": 1})["value"]["value"] == 1


def test_errors_are_frames_and_the_connection_survives(worker):
    c = worker.connect()
    r = c.call("no.such_op")
    assert r["kind"] == "error" and r["error"]["kind"] == "unknown_op"
    r = c.call("bridge.fail", {"message": "boom"})
    assert r["error"]["type"] == "RuntimeError" and "boom" in r["error"]["message"]
    c.send({"kind": "what"})
    header, _ = c.receive()
    assert header["kind"] == "error" and "unexpected frame kind" in header["error"]["message"]
    assert c.call("bridge.echo", {"value": 2})["value"]["value"] == 2


def test_callbacks_nest_and_java_failures_come_back(worker):
    c = worker.connect()
    r = c.call("bridge.callback", {"name": "twice", "repeat": 3}, {"twice": lambda a: a["call"] * 2})
    assert r["value"] == [0, 2, 4]
    r = c.call("bridge.callback", {"name": "bad"}, {"bad": lambda a: 1 / 0})
    assert r["kind"] == "error" and r["error"]["kind"] == "callback_failed"


def test_blobs_inline_round_trip(worker):
    c = worker.connect()
    data = bytes(range(256)) * 4
    c.next_id += 1
    c.send({"kind": "call", "id": c.next_id, "op": "bridge.echo",
            "args": {"blobs": [{"$blob": 0}]},
            "blobs": [{"dtype": "uint8", "shape": [1024], "nbytes": 1024, "offset": 0}]}, data)
    header, payload = c.receive()
    assert header["kind"] == "result" and payload == data


def test_worker_leaves_and_cleans_up_when_its_parent_goes():
    w = Worker()
    folder, sock = w.dir, w.socket_path
    assert w.stop() == 0
    assert not os.path.exists(sock) and not os.path.exists(folder)
