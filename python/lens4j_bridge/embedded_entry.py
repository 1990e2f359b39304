"""The embedded engine's door into the bridge: CPython inside the JVM through JEP.

Java (``org.lens4j.engine.embedded.EmbeddedEngine``) makes one ``EmbeddedEntry`` per engine on
the one Java thread that owns the interpreter, and calls ``call`` there. Everything else is
``graalpy_entry.Entry``'s: values cross as JSON text (``values.encode`` here, Jackson in Java),
a result blob goes back as a contiguous byte memoryview, which JEP turns into a Java ``byte[]``
with one copy, and an argument blob arrives as a Java direct ``ByteBuffer``, which JEP exposes
through the buffer protocol without a copy.

What this module adds is what only an in-process engine needs: the worker's environment
variables set in this process, and a call timeout that interrupts the running op (an
exception raised in the owning thread at its next bytecode) instead of killing a process.
"""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Any

from .graalpy_entry import Entry, _blob_meta, _byte_view, _dumps
from .session import error_info
from .values import Blob

#: What the worker's launcher sets in the worker's environment (WorkerEngine.workerEnvironment).
QUIET_ENV = {
    "TOKENIZERS_PARALLELISM": "false",
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TQDM_DISABLE": "1",
}


class CallInterrupted(BaseException):
    """Raised inside a running op when Java's deadline passed or its caller was interrupted.

    A BaseException, so that the ``except Exception`` of library code cannot swallow it.
    """


class _Interrupter:
    """A daemon thread that raises CallInterrupted in the owning thread when Java asks.

    Java (its watchdog at a call's deadline, or a waiting caller that was interrupted) writes
    the call's sequence number into a pipe; no Java thread but the owner ever enters Python.
    ``PyThreadState_SetAsyncExc`` delivers the exception when the owner next runs Python
    bytecode: a long native kernel finishes first, then the op unwinds through its ``finally``
    blocks (hooks come off the model) and the engine takes the next call. The lock makes a
    request for a call that has already ended a no-op, so it cannot land in the next one.
    """

    def __init__(self, owner: int) -> None:
        self._owner = owner
        self._lock = threading.Lock()
        self._running = 0
        self._fired = 0
        self.read_fd, self.write_fd = os.pipe()
        threading.Thread(target=self._run, name="lens4j-embedded-interrupter", daemon=True).start()

    def begin(self, seq: int) -> None:
        with self._lock:
            self._running = seq

    def end(self, seq: int) -> bool:
        """The call ended; True when it was interrupted (a raise still pending is withdrawn)."""
        with self._lock:
            self._running = 0
            if self._fired != seq:
                return False
            self._fired = 0
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._owner), None)
            return True

    def _run(self) -> None:
        while True:
            data = os.read(self.read_fd, 8)
            if len(data) < 8:  # every writer closed the pipe: the engine is gone
                os.close(self.read_fd)
                return
            seq = int.from_bytes(data, "little")
            with self._lock:
                if seq and seq == self._running and self._fired != seq:
                    self._fired = seq
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._owner),
                                                               ctypes.py_object(CallInterrupted))

    def close(self) -> None:
        os.close(self.write_fd)  # the thread ends once Java's end is closed too


class EmbeddedEntry(Entry):
    """One embedded engine's session. ``java`` has ``callback(name, args_json, metas_json, datas)``
    (datas arrive in Java as ``byte[]``) and ``progress(done, total, message)``."""

    def __init__(self, java: Any, env: dict[str, str] | None = None) -> None:
        for key, value in QUIET_ENV.items():
            os.environ.setdefault(key, value)
        for key, value in dict(env or {}).items():
            os.environ[str(key)] = str(value)
        super().__init__(java)
        self._interrupter = _Interrupter(threading.get_ident())

    def interrupt_fd(self) -> int:
        """The pipe Java writes a call's sequence number into (8 bytes, little-endian) to interrupt it."""
        return self._interrupter.write_fd

    def call_seq(self, seq: int, op: str, args_json: str, metas_json: str, buffers: Any) -> list[Any]:
        """``Entry.call`` as interruptible call ``seq`` (0: a nested call, interrupted with its
        outer one). An interrupted call answers ``{"error": {"kind": "interrupted", ...}}``,
        and the session stays usable."""
        if seq:
            self._interrupter.begin(seq)
        try:
            try:
                return self.call(op, args_json, metas_json, buffers)
            finally:
                if seq:
                    self._interrupter.end(seq)
        except CallInterrupted as e:
            if not seq:
                raise  # a nested call: unwind to the outer one, through the Java hook that made it
            info = error_info(e)
            info["kind"] = "interrupted"
            info["message"] = f"{op} was interrupted"
            return [_dumps({"error": info}), []]

    def _blobs_out(self, blobs: list[Blob]) -> tuple[list[dict[str, Any]], list[Any]]:
        """Result blobs written into Java's arena (a direct ByteBuffer it keeps and grows): one
        copy from the tensor's memory; each meta carries its ``offset`` there."""
        metas = [_blob_meta(b) for b in blobs]
        total = 0
        for m in metas:
            m["offset"] = total
            total += -(-m["nbytes"] // 64) * 64  # 64-byte aligned starts
        if total:
            arena = memoryview(self._java.arena(total)).cast("B")
            for b, m in zip(blobs, metas):
                n = m["nbytes"]
                if n:
                    arena[m["offset"]:m["offset"] + n] = _byte_view(b.data)
        return metas, []

    def handle_count(self) -> int:
        return len(self.session.handles)

    def close(self) -> None:
        """Drop every object the session holds, here on the owning thread, so that tensors are
        freed where the interpreter runs (JEP issue #522)."""
        import gc

        handles = self.session.handles
        handles.release(list(handles._objects))
        gc.collect()
        self._interrupter.close()
