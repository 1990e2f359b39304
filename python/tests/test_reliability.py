"""Reliability and security of the worker process itself (the Java side is in
src/test/java/org/lens4j/reliability): its life cycle, what an unauthenticated or careless
peer can make it do, and a scan of the bridge for unsafe deserialization of socket data.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from test_fuzz import drain_stderr
from worker_client import PREFIX, PYTHON_DIR, Worker

BRIDGE = PYTHON_DIR / "lens4j_bridge"


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    drain_stderr(w)
    yield w
    w.stop()


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS:")).split()[1])


def closed_without_answer(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


# -- life cycle --------------------------------------------------------------------------------

def test_the_worker_outlives_the_thread_that_started_it():
    # Linux's PR_SET_PDEATHSIG fires when the *thread* that forked the worker ends: a worker
    # started from a pool thread (as Java's Lens.start may be) must not die with that thread.
    box: dict[str, Worker] = {}
    t = threading.Thread(target=lambda: box.setdefault("w", Worker()))
    t.start()
    t.join()
    w = box["w"]
    try:
        time.sleep(1.5)
        assert w.proc.poll() is None, f"the worker exited with {w.proc.poll()} when its starting thread ended"
        c = w.connect()
        assert c.call("bridge.echo", {"value": 5})["value"]["value"] == 5
        c.close()
    finally:
        folder = w.dir
        assert w.stop() == 0
        assert not os.path.exists(folder)


def test_the_worker_refuses_a_socket_folder_others_can_enter(tmp_path):
    import subprocess
    import sys

    folder = tmp_path / "open"
    folder.mkdir()
    os.chmod(folder, 0o755)
    env = dict(os.environ, PYTHONPATH=str(PYTHON_DIR))
    p = subprocess.run([sys.executable, "-m", "lens4j_bridge", "--socket", str(folder / "worker.sock")],
                       input=("a" * 64 + "\n").encode(), capture_output=True, env=env, timeout=60)
    assert p.returncode != 0 and b"must be private" in p.stderr
    assert not (folder / "worker.sock").exists()
    short = subprocess.run([sys.executable, "-m", "lens4j_bridge", "--socket", str(tmp_path / "x.sock")],
                           input=b"short\n", capture_output=True, env=env, timeout=60)
    assert short.returncode != 0 and b"token of at least 32" in short.stderr


# -- what a peer can make the worker do ---------------------------------------------------------

def test_an_unauthenticated_peer_is_refused_at_the_prefix_without_allocating(worker):
    pid = worker.proc.pid
    before = rss_kb(pid)
    for header_len, payload_len in [(40, 8 << 30), (40, 1), (16 << 20, 0), (1 << 17, 0)]:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)  # far below the 10 s authentication timeout: the refusal must be immediate
        s.connect(worker.socket_path)
        start = time.monotonic()
        s.sendall(PREFIX.pack(header_len, payload_len))
        assert closed_without_answer(s), (header_len, payload_len)
        assert time.monotonic() - start < 3
        s.close()
    assert rss_kb(pid) < before + 20_000
    assert worker.proc.poll() is None


def _hello_bytes(token: str) -> bytes:
    raw = json.dumps({"kind": "hello", "token": token}).encode()
    return PREFIX.pack(len(raw), 0) + raw


def _dribble(sock: socket.socket, data: bytes, every_s: float, stop_after_s: float) -> float:
    """Send ``data`` one byte every ``every_s`` until the worker closes; returns when it closed (s after start)."""
    start = time.monotonic()
    for b in data:
        try:
            sock.sendall(bytes([b]))
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - start
        ready = time.monotonic() + every_s
        while time.monotonic() < ready:
            sock.settimeout(max(0.01, ready - time.monotonic()))
            try:
                if sock.recv(1) == b"":
                    return time.monotonic() - start
            except TimeoutError:
                pass
            except ConnectionResetError:
                return time.monotonic() - start
        if time.monotonic() - start > stop_after_s:
            break
    return float("inf")


def test_a_hello_sent_a_byte_every_2_s_is_cut_at_the_10_s_deadline(worker):
    # The default path, honestly: 10 s is a deadline for the whole hello, not per read (a peer
    # sending a byte every 4 s stayed connected past 32 s when it was per read).
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(worker.socket_path)
    closed_after = _dribble(s, _hello_bytes(worker.token), every_s=2.0, stop_after_s=16)
    s.close()
    assert 9.5 <= closed_after <= 12.5, f"closed after {closed_after:.1f} s, expected at 10 s"
    assert worker.proc.poll() is None


def test_the_hello_deadline_counts_the_whole_hello_and_a_timely_one_passes():
    w = Worker(env={"LENS4J_AUTH_TIMEOUT_S": "1.5"})
    drain_stderr(w)
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(w.socket_path)
        closed_after = _dribble(s, _hello_bytes(w.token), every_s=0.4, stop_after_s=6)  # each read well within 1.5 s
        s.close()
        assert 1.3 <= closed_after <= 3.0, f"closed after {closed_after:.1f} s, expected at 1.5 s"
        # The same hello in three pieces inside the deadline is accepted.
        hello = _hello_bytes(w.token)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(w.socket_path)
        for piece in (hello[:5], hello[5:40], hello[40:]):
            s.sendall(piece)
            time.sleep(0.3)
        answer_len = PREFIX.unpack(s.recv(PREFIX.size, socket.MSG_WAITALL))[0]
        assert json.loads(s.recv(answer_len, socket.MSG_WAITALL))["kind"] == "hello"
        s.close()
    finally:
        w.stop()


def test_unauthenticated_connections_are_capped():
    w = Worker()
    drain_stderr(w)
    try:
        def threads() -> int:
            return len(os.listdir(f"/proc/{w.proc.pid}/task"))

        base = threads()
        silent = []
        for _ in range(64):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(w.socket_path)
            silent.append(s)
        time.sleep(0.5)
        grown = threads() - base
        assert grown <= 16, f"64 silent peers made {grown} threads; the cap is 16"
        # Past the cap a peer is closed at once, without a thread.
        extra = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        extra.settimeout(5)
        extra.connect(w.socket_path)
        assert closed_without_answer(extra)
        extra.close()
        for s in silent:
            s.close()
        time.sleep(0.5)
        assert threads() <= base + 1
        c = w.connect()  # the slots are free again
        assert c.call("bridge.echo", {"value": 3})["value"]["value"] == 3
        c.close()
    finally:
        w.stop()


def test_an_authenticated_peer_makes_the_worker_hold_only_bytes_that_arrive(worker):
    pid = worker.proc.pid
    before = rss_kb(pid)
    c = worker.connect()
    header = json.dumps({"kind": "call", "id": 1, "op": "bridge.echo", "args": {}}).encode()
    c.send_raw(PREFIX.pack(len(header), 6 << 30) + header + b"\0" * (1 << 20))  # claims 6 GiB, sends 1 MiB
    time.sleep(0.5)
    assert rss_kb(pid) < before + 64_000, "the worker allocated a payload the peer only announced"
    c.close()
    good = worker.connect()
    assert good.call("bridge.echo", {"value": 1})["value"]["value"] == 1
    good.close()


def test_a_payload_above_the_chunk_size_still_arrives_whole(worker):
    c = worker.connect()
    data = bytes(range(256)) * ((20 << 20) // 256)  # 20 MiB inline: read in chunks, assembled exactly
    c.next_id += 1
    c.send({"kind": "call", "id": c.next_id, "op": "bridge.echo", "args": {"blobs": [{"$blob": 0}]},
            "blobs": [{"dtype": "uint8", "shape": [len(data)], "nbytes": len(data), "offset": 0}]}, data)
    header, payload = c.receive()
    assert header["kind"] == "result" and payload == data
    c.close()


def test_deeply_nested_json_is_an_error_frame_and_the_connection_lives(worker):
    c = worker.connect()
    raw = ("[" * 100_000).encode()
    c.send_raw(PREFIX.pack(len(raw), 0) + raw)
    header, _ = c.receive()
    assert header["kind"] == "error" and "nested too deeply" in header["error"]["message"]
    assert c.call("bridge.echo", {"value": 2})["value"]["value"] == 2
    c.close()


def test_a_callback_answer_that_answers_nothing_gets_an_error(worker):
    c = worker.connect()
    c.send({"kind": "callback_result", "id": 5, "value": 1})
    header, _ = c.receive()
    assert header["kind"] == "error" and "none is waiting" in header["error"]["message"]
    assert c.call("bridge.echo", {"value": 3})["value"]["value"] == 3
    c.close()


def test_a_malformed_callback_error_fails_the_op_cleanly(worker):
    c = worker.connect()
    c.next_id += 1
    c.send({"kind": "call", "id": c.next_id, "op": "bridge.callback", "args": {"name": "x"}})
    header, _ = c.receive()
    assert header["kind"] == "callback"
    c.send({"kind": "callback_error", "id": header["id"], "error": "not an object"})
    header, _ = c.receive()
    assert header["kind"] == "error" and header["error"]["kind"] == "callback_failed", header
    assert c.call("bridge.echo", {"value": 4})["value"]["value"] == 4
    c.close()


# -- memory the allocator keeps ---------------------------------------------------------------

_FRAGMENT = """
import sys, time
from lens4j_bridge import memory
def rss():
    with open("/proc/self/status") as f:
        return int(next(l for l in f if l.startswith("VmRSS:")).split()[1])
running = memory.start_trimmer()
big = bytearray(8 << 20); del big  # raises glibc's mmap threshold: what follows comes from the heap
r0 = rss()
chunks = [bytearray(256 << 10) for _ in range(400)]  # 100 MiB
keep = chunks[-1]; del chunks  # freed, but below a live chunk: free() cannot give it back
r1 = rss()
memory.note_activity()  # as the worker does after a call or a release
time.sleep(1.6)
print(running, r1 - r0, rss() - r0)
"""


def test_freed_heap_memory_goes_back_to_the_os_within_2_s():
    """The injected case behind the ~1.8 kB per run_with_cache that TransformerLens keeps
    (issue 20.5): memory freed below a live block stays resident with plain glibc; the
    worker's trimmer hands it back within a second or two."""
    import subprocess
    import sys

    def run(trim: str) -> tuple[str, int, int]:
        env = dict(os.environ, PYTHONPATH=str(PYTHON_DIR), LENS4J_MALLOC_TRIM=trim)
        out = subprocess.run([sys.executable, "-c", _FRAGMENT], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        running, held, after = out.stdout.split()
        return running, int(held), int(after)

    running, held, after = run("1")
    if running != "True":
        pytest.skip("no glibc malloc_trim on this system (musl, macOS): the worker does not trim here")
    assert held > 90_000, f"the injection held only {held} kB"
    assert after < 10_000, f"{after} kB of 100 MiB freed stayed resident with the trimmer"
    running, held, after = run("0")  # the control: without the trimmer it stays
    assert running == "False" and after > 90_000, (running, after)


def _heap_growth_per_call(run: Callable[[], None]) -> float:
    """Python heap growth per call of ``run`` (tracemalloc), measured between two tidy points."""
    import gc
    import tracemalloc

    from lens4j_bridge import memory

    for _ in range(20):
        run()
    tracemalloc.start()
    try:
        time.sleep(memory.INTERVAL_S + 0.1)
        run()  # tidies after itself
        gc.collect()  # objects in reference cycles are garbage, not growth
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(150):
            run()
        time.sleep(memory.INTERVAL_S + 0.1)
        run()
        gc.collect()
        return (tracemalloc.get_traced_memory()[0] - before) / 150
    finally:
        tracemalloc.stop()


def _python_heap_per_run_with_cache(tiny_model_dir: Path, folder: Path) -> float:
    """Python heap growth per run_with_cache through a real server (in this process, so that
    tracemalloc sees it)."""
    import secrets

    from lens4j_bridge.server import Server
    from worker_client import Client

    folder.mkdir(mode=0o700)
    token = secrets.token_hex(32)
    server = Server(str(folder / "worker.sock"), token)
    server.bind()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    c = Client(server.socket_path, token)
    c.sock.settimeout(300)
    model = c.call("model.load", {"name": str(tiny_model_dir), "device": "cpu"})["value"]

    def run() -> None:
        v = c.call("model.run_with_cache", {"model": {"$h": model["$h"]}, "input": "When John and Mary went"})["value"]
        c.send({"kind": "release", "handles": [v["cache"]["$h"], v["logits"]["$tensor"]]})

    try:
        return _heap_growth_per_call(run)
    finally:
        c.close()
        server.cleanup()


def test_run_with_cache_through_the_server_keeps_no_python_heap_per_call(tiny_model_dir, tmp_path, monkeypatch):
    """TransformerLens 4.3 records every attention tensor it converts and never forgets it
    (about 2.5 kB of Python heap per run_with_cache on toy-ioi, issue 20.5). Session.dispatch
    clears those records between outermost calls, at most once a second: under 500 B a call
    remain (about 200 measured on the tiny model, 1,300 without). The control, with the clearing
    switched off, shows the growth is real here."""
    from lens4j_bridge import memory

    per_call = _python_heap_per_run_with_cache(tiny_model_dir, tmp_path / "a")
    assert per_call < 500, f"the Python heap grew {per_call:.0f} B per run_with_cache"
    print(f"Python heap per run_with_cache through the server: {per_call:.0f} B")
    monkeypatch.setattr(memory, "forget_conversion_state", lambda objects: 0)
    without = _python_heap_per_run_with_cache(tiny_model_dir, tmp_path / "b")
    print(f"... and without the clearing: {without:.0f} B")
    assert without > 1000, f"without the clearing the heap grew only {without:.0f} B a call: has TransformerLens fixed it?"


def test_run_with_cache_through_a_bare_session_keeps_no_python_heap_per_call(tiny_model_dir):
    """The in-process engines (embedded, GraalPy) call Session.dispatch with no server around it:
    the clearing lives there, so they keep no heap per call either."""
    from lens4j_bridge.session import Session

    s = Session()
    model, _ = s.dispatch("model.load", {"name": str(tiny_model_dir), "device": "cpu"}, [])

    def run() -> None:
        v, _ = s.dispatch("model.run_with_cache", {"model": {"$h": model["$h"]}, "input": "When John and Mary went"}, [])
        s.handles.release([v["cache"]["$h"], v["logits"]["$tensor"]])

    per_call = _heap_growth_per_call(run)
    print(f"Python heap per run_with_cache through a bare Session: {per_call:.0f} B")
    assert per_call < 500, f"the Python heap grew {per_call:.0f} B per run_with_cache"


# -- the bridge never runs or unpickles what the socket brings ----------------------------------

FORBIDDEN_MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle", "joblib"}
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "execfile"}


def _bridge_sources() -> list[Path]:
    return sorted(p for p in BRIDGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_bridge_has_no_pickle_eval_or_exec():
    problems = []
    for path in _bridge_sources():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            where = f"{path.relative_to(PYTHON_DIR)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Import):
                problems += [f"{where} imports {a.name}" for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
                problems.append(f"{where} imports from {node.module}")
            elif isinstance(node, ast.Call):
                fn = node.func
                name = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else None
                constant_args = all(isinstance(a, ast.Constant) for a in node.args)
                if isinstance(fn, ast.Name) and name in FORBIDDEN_CALLS and not constant_args:
                    problems.append(f"{where} calls {name}() on a computed value")
                if name in ("load", "loads") and isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name):
                    module = fn.value.id
                    if module in ("pickle", "marshal", "dill", "yaml"):
                        problems.append(f"{where} calls {module}.{name}")
                    if module in ("np", "numpy") and any(k.arg == "allow_pickle" for k in node.keywords):
                        problems.append(f"{where} calls {module}.load with allow_pickle")
    assert problems == [], "\n".join(problems)


def test_every_torch_load_in_the_bridge_is_weights_only():
    found, problems = 0, []
    for path in _bridge_sources():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load" \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch":
                found += 1
                weights_only = [k for k in node.keywords if k.arg == "weights_only"]
                if not (weights_only and isinstance(weights_only[0].value, ast.Constant) and weights_only[0].value.value is True):
                    problems.append(f"{path.relative_to(PYTHON_DIR)}:{node.lineno} torch.load without weights_only=True")
    assert problems == [], "\n".join(problems)
    # (found may be 0: model files load through safetensors; the scan guards future code)


def _pickle_only_folder(tmp_path: Path, tiny_model_dir: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for f in tiny_model_dir.iterdir():
        if not f.name.endswith(".safetensors"):
            shutil.copy(f, folder / f.name)
    return folder


def _evil_pickle(path: Path, marker: Path) -> None:
    import pickle  # the test builds the malicious file; the bridge itself never imports pickle

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with open(path, "wb") as f:
        pickle.dump({"transformer.wte.weight": Payload()}, f, protocol=2)


def _load(folder: Path, **extra) -> tuple[object, object]:
    from lens4j_bridge.session import Session

    s = Session()
    value, _ = s.dispatch("model.load", {"name": str(folder), "device": "cpu", **extra}, [])
    return s, s.handles.get(value["$h"])


def _logits(model) -> "object":
    import torch

    return model(torch.tensor([[1, 2, 3, 4]]))


def test_pickle_weights_are_refused_by_default_and_the_error_names_the_option(tmp_path, tiny_model_dir, monkeypatch):
    """Safetensors only by default: a folder whose weights are only pytorch_model.bin (here a
    plain, harmless state dict) is refused with a message that names the option, never
    weights_only=False; with the option (LoadOptions or the env) it loads the same model."""
    import torch
    from safetensors.torch import load_file

    from lens4j_bridge.errors import LensError

    monkeypatch.delenv("LENS4J_TORCH_WEIGHTS_ONLY", raising=False)
    plain = _pickle_only_folder(tmp_path, tiny_model_dir, "bin-only")
    torch.save(load_file(str(tiny_model_dir / "model.safetensors")), plain / "pytorch_model.bin")
    with pytest.raises(LensError) as refused:
        _load(plain)
    message = str(refused.value)
    assert "pytorch_model.bin" in message and "withTorchWeightsOnly(true)" in message and "LENS4J_TORCH_WEIGHTS_ONLY=1" in message
    assert "weights_only=False" not in message
    assert refused.value.kind == "unknown_model"

    _, reference = _load(tiny_model_dir)
    _, by_option = _load(plain, torch_weights_only=True)
    monkeypatch.setenv("LENS4J_TORCH_WEIGHTS_ONLY", "1")
    _, by_env = _load(plain)
    assert torch.equal(_logits(reference), _logits(by_option)) and torch.equal(_logits(reference), _logits(by_env))
    assert torch.load.__name__ == "load", "the guard was left on torch.load"


def test_a_pickled_model_file_is_never_executed(tmp_path, tiny_model_dir, monkeypatch):
    """A pickle with an os.system payload: refused by default before torch reads it; with the
    option, refused by torch's weights-only unpickler, and the message still never suggests
    weights_only=False; next to a safetensors file it is ignored. The payload never runs."""
    import torch

    from lens4j_bridge.errors import LensError

    monkeypatch.delenv("LENS4J_TORCH_WEIGHTS_ONLY", raising=False)
    marker = tmp_path / "payload-ran"
    evil = _pickle_only_folder(tmp_path, tiny_model_dir, "evil-model")
    _evil_pickle(evil / "pytorch_model.bin", marker)

    with pytest.raises(LensError) as by_default:
        _load(evil)
    assert "withTorchWeightsOnly(true)" in str(by_default.value)
    with pytest.raises(LensError) as by_unpickler:
        _load(evil, torch_weights_only=True)
    message = str(by_unpickler.value)
    assert "weights-only unpickler refused pytorch_model.bin" in message, message
    assert "weights_only=False" not in message, message
    assert not marker.exists(), "loading a model folder ran code from a pickle"

    both = _pickle_only_folder(tmp_path, tiny_model_dir, "both")
    shutil.copy(tiny_model_dir / "model.safetensors", both / "model.safetensors")
    _evil_pickle(both / "pytorch_model.bin", marker)
    _, model = _load(both)
    _, reference = _load(tiny_model_dir)
    assert torch.equal(_logits(reference), _logits(model)), "a folder with both did not load the safetensors"
    assert not marker.exists(), "loading a model folder ran code from a pickle"
