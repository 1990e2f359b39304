"""The worker: a framed protocol over a private Unix socket, dispatching to the ops.

Frame: ``[u32 header length][u64 payload length][header: UTF-8 JSON][payload]``, big-endian
lengths. The header's ``kind`` is one of hello, call, result, error, callback,
callback_result, callback_error, progress, release. Blobs (raw arrays) travel in the
payload when small and through the shared-memory arena when large. docs/PROTOCOL.md has
the whole story.
"""

from __future__ import annotations

import hmac
import itertools
import json
import os
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from . import PROTOCOL_VERSION, memory
from .arena import Arena, align, create_fd
from .errors import LensError
from .session import Session, error_info
from .values import Blob

PREFIX = struct.Struct(">IQ")
MAX_HEADER = 16 << 20  # a header is JSON arguments, never data: 16 MiB is generous
MAX_PAYLOAD = 8 << 30
INLINE_LIMIT = 1 << 20  # blobs from 1 MiB up go through the arena
AUTH_TIMEOUT_S = 10.0  # a deadline for the whole hello, not per read (LENS4J_AUTH_TIMEOUT_S, for tests)
# Connections that have not sent their hello yet; more are closed at once, so a flood of
# peers costs neither threads nor memory (lens4j itself connects once).
MAX_UNAUTHENTICATED = 16
# Before the token is checked a peer gets nothing: a hello is a few hundred bytes, with no payload.
AUTH_MAX_HEADER = 64 << 10
RECV_CHUNK = 16 << 20  # larger payloads grow as their bytes arrive, not up front on a peer's word


class ProtocolError(Exception):
    """The peer broke the framing: the connection cannot be trusted any more and is closed."""


class Connection:
    """One authenticated client: reads frames, runs calls, and runs nested callbacks."""

    def __init__(self, sock: socket.socket, exec_lock: threading.RLock,
                 claim_arena: Callable[[int], int | None] | None = None) -> None:
        self.sock = sock
        self.exec_lock = exec_lock
        self.arena: Arena | None = None
        self._claim_arena = claim_arena  # fd named in the hello -> the arena's fd, if it is that one and still free
        self._deadline: float | None = None
        self.session = Session(callback=self._callback, progress=self._progress)
        self._callback_ids = itertools.count(1)
        self._current_call: Any = None

    # -- framing -----------------------------------------------------------------------
    def _recv_exact(self, n: int) -> bytearray:
        if n > RECV_CHUNK:
            buf = bytearray()
            while len(buf) < n:
                buf += self._recv_exact(min(RECV_CHUNK, n - len(buf)))
            return buf
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            if self._deadline is not None:
                left = self._deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("the peer did not finish its hello in time")
                self.sock.settimeout(left)
            k = self.sock.recv_into(view[got:], n - got)
            if k == 0:
                raise EOFError("peer closed the connection")
            got += k
        return buf

    def read_frame(self, max_header: int = MAX_HEADER, max_payload: int = MAX_PAYLOAD) -> tuple[dict[str, Any], bytearray]:
        header_len, payload_len = PREFIX.unpack(self._recv_exact(PREFIX.size))
        if header_len == 0 or header_len > max_header:
            raise ProtocolError(f"header length {header_len} is outside 1..{max_header}")
        if payload_len > max_payload:
            raise ProtocolError(f"payload length {payload_len} is over {max_payload}")
        raw = self._recv_exact(header_len)
        payload = self._recv_exact(payload_len) if payload_len else bytearray()
        try:
            header = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"header is not UTF-8 JSON: {e}") from None
        except RecursionError:  # nesting deeper than the parser's stack: the frame was read whole, so go on
            raise ValueError("header JSON is nested too deeply") from None
        if not isinstance(header, dict) or not isinstance(header.get("kind"), str):
            raise ValueError("header must be a JSON object with a string 'kind'")
        return header, payload

    def send(self, header: dict[str, Any], blobs: list[Blob] | None = None) -> None:
        parts: list[Any] = []
        if blobs:
            header["blobs"] = self._place_blobs(blobs, parts)
        raw = json.dumps(header, separators=(",", ":"), allow_nan=True).encode("utf-8")
        payload_len = sum(p.nbytes if isinstance(p, memoryview) else len(p) for p in parts)
        self.sock.sendall(PREFIX.pack(len(raw), payload_len) + raw)
        for part in parts:
            self.sock.sendall(part)

    def _place_blobs(self, blobs: list[Blob], parts: list[Any]) -> list[dict[str, Any]]:
        """Inline small blobs in the payload; put large ones in the arena from offset 0."""
        descriptors: list[dict[str, Any]] = []
        big = sum(align(b.nbytes) for b in blobs if b.nbytes >= INLINE_LIMIT)
        if big and self.arena is not None:
            self.arena.ensure(big)
        inline_offset = arena_offset = 0
        for blob in blobs:
            d: dict[str, Any] = {"dtype": blob.dtype, "shape": list(blob.shape), "nbytes": blob.nbytes}
            if blob.nbytes >= INLINE_LIMIT and self.arena is not None:
                self.arena.write(arena_offset, blob.data)
                d["arena_offset"] = arena_offset
                d["arena_size"] = self.arena.size
                arena_offset += align(blob.nbytes)
            else:
                d["offset"] = inline_offset
                parts.append(blob.data)
                inline_offset += blob.nbytes
            descriptors.append(d)
        return descriptors

    def _blobs_in(self, header: dict[str, Any], payload: bytearray) -> list[Blob]:
        descriptors = header.get("blobs") or []
        if not isinstance(descriptors, list):
            raise LensError("'blobs' must be a list of blob descriptors")
        view = memoryview(payload)
        blobs = []
        for d in descriptors:
            if not isinstance(d, dict):
                raise LensError("a blob descriptor must be a JSON object")
            nbytes = d.get("nbytes")
            if not isinstance(nbytes, int) or nbytes < 0:
                raise LensError(f"blob descriptor has a bad nbytes: {nbytes!r}")
            if "arena_offset" in d:
                if self.arena is None:
                    raise LensError("blob refers to the arena, but this connection has none")
                self.arena.sync_to(int(d.get("arena_size", 0)))
                data = self.arena.read(int(d["arena_offset"]), nbytes)
            else:
                offset = d.get("offset")
                if not isinstance(offset, int) or offset < 0 or offset + nbytes > len(payload):
                    raise LensError(f"inline blob [{offset}, +{nbytes}) is outside the payload of {len(payload)} bytes")
                data = view[offset : offset + nbytes]
            shape = d.get("shape")
            if not isinstance(shape, list):
                raise LensError("blob descriptor needs a 'shape' list")
            blobs.append(Blob(str(d.get("dtype")), tuple(shape), data))
        return blobs

    # -- the conversation --------------------------------------------------------------
    def authenticate(self, token: str, timeout_s: float = AUTH_TIMEOUT_S) -> bool:
        """The first frame must be a hello with the token, whole within ``timeout_s``; anything
        else ends the connection."""
        self._deadline = time.monotonic() + timeout_s
        try:
            header, _ = self.read_frame(AUTH_MAX_HEADER, 0)
        except (ProtocolError, ValueError, EOFError, OSError):
            return False
        finally:
            self._deadline = None
        given = header.get("token")
        if header.get("kind") != "hello" or not isinstance(given, str) or not hmac.compare_digest(given.encode(), token.encode()):
            return False
        self.sock.settimeout(None)
        # The client names the arena it mapped (the fd from the READY line); anything else means none.
        wanted = header.get("arena_fd")
        if isinstance(wanted, int) and self._claim_arena is not None:
            fd = self._claim_arena(wanted)
            if fd is not None:
                self.arena = Arena(fd)
        self.send({"kind": "hello", "protocol": PROTOCOL_VERSION, "pid": os.getpid(), "python": sys.version.split()[0],
                   "arena": self.arena is not None})
        return True

    def serve(self) -> None:
        """Answer frames until the peer leaves; a bad frame gets an error frame, not a crash."""
        while True:
            try:
                header, payload = self.read_frame()
            except EOFError:
                return
            except ValueError as e:
                self.send({"kind": "error", "id": None, "error": {"kind": "bad_argument", "message": f"bad frame: {e}"}})
                continue
            if self.handle(header, payload) is not None:
                self.send({"kind": "error", "id": header.get("id"), "error": {
                    "kind": "bad_argument", "message": f"{header['kind']} {header.get('id')!r} answers no callback: none is waiting"}})

    def handle(self, header: dict[str, Any], payload: bytearray) -> Any:
        """Handle one frame that arrives between calls or while a callback waits; returns a
        callback's answer when the frame is one."""
        kind = header["kind"]
        if kind == "call":
            self._run_call(header, payload)
        elif kind == "release":
            handles = header.get("handles")
            if isinstance(handles, list):
                self.session.handles.release([h for h in handles if isinstance(h, int)])
                memory.note_activity()
        elif kind in ("callback_result", "callback_error"):
            return header, payload
        else:
            self.send({"kind": "error", "id": header.get("id"), "error": {
                "kind": "bad_argument",
                "message": f"unexpected frame kind {kind!r}; valid here: call, release, callback_result, callback_error"}})
        return None

    def _run_call(self, header: dict[str, Any], payload: bytearray) -> None:
        call_id = header.get("id")
        outer = self._current_call
        self._current_call = call_id
        try:
            with self.exec_lock:
                blobs = self._blobs_in(header, payload)
                args = header.get("args") or {}
                value, blobs_out = self.session.dispatch(header.get("op"), args, blobs)
            self.send({"kind": "result", "id": call_id, "value": value}, blobs_out)
        except (EOFError, ProtocolError, BrokenPipeError, ConnectionResetError):
            raise
        except Exception as e:  # every op failure goes back to Java; the worker lives on
            self.send({"kind": "error", "id": call_id, "error": error_info(e)})
        finally:
            self._current_call = outer
            if outer is None:
                memory.note_activity()

    def _callback(self, name: str, args: Any, blobs: list[Blob]) -> tuple[Any, list[Blob]]:
        cb_id = next(self._callback_ids)
        self.send({"kind": "callback", "id": cb_id, "call": self._current_call, "callback": name, "args": args}, blobs)
        while True:
            header, payload = self.read_frame()
            answer = self.handle(header, payload)
            if answer is None:
                continue
            reply, reply_payload = answer
            if reply.get("id") != cb_id:
                raise ProtocolError(f"callback answer for {reply.get('id')} while waiting for {cb_id}")
            if reply["kind"] == "callback_error":
                err = reply.get("error")
                err = err if isinstance(err, dict) else {}
                raise LensError(f"Java {name} callback failed: {err.get('message', 'no message')}", "callback_failed",
                                java_type=err.get("type"))
            return reply.get("value"), self._blobs_in(reply, reply_payload)

    def _progress(self, done: int, total: int, message: str) -> None:
        self.send({"kind": "progress", "id": self._current_call, "done": done, "total": total, "message": message})

    def close(self) -> None:
        try:
            self.sock.close()
        finally:
            if self.arena is not None:
                self.arena.close()


class Server:
    def __init__(self, socket_path: str, token: str) -> None:
        self.socket_path = socket_path
        self.token = token
        self.exec_lock = threading.RLock()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.auth_timeout_s = float(os.environ.get("LENS4J_AUTH_TIMEOUT_S", AUTH_TIMEOUT_S))
        self._unauthenticated = threading.BoundedSemaphore(MAX_UNAUTHENTICATED)
        self._arena_lock = threading.Lock()
        self.arena_fd = create_fd()  # claimed by the first connection that names it in its hello

    def bind(self) -> None:
        directory = os.path.dirname(self.socket_path)
        st = os.stat(directory)
        if st.st_mode & 0o077 or st.st_uid != os.getuid():
            raise SystemExit(f"lens4j worker: socket directory {directory} must be private (0700, owned by us)")
        old = os.umask(0o177)  # the socket file is born 0600
        try:
            self.listener.bind(self.socket_path)
        finally:
            os.umask(old)
        os.chmod(self.socket_path, 0o600)
        self.listener.listen(4)

    def serve_forever(self) -> None:
        while True:
            sock, _ = self.listener.accept()
            if not self._unauthenticated.acquire(blocking=False):
                sock.close()  # too many peers still owe their hello
                continue
            try:
                threading.Thread(target=self._serve_one, args=(sock,), daemon=True).start()
            except RuntimeError:  # no thread to be had: drop the peer, keep the worker
                self._unauthenticated.release()
                sock.close()

    def _serve_one(self, sock: socket.socket) -> None:
        conn = Connection(sock, self.exec_lock, self._claim_arena)
        try:
            try:
                ok = conn.authenticate(self.token, self.auth_timeout_s)
            finally:
                self._unauthenticated.release()
            if ok:
                conn.serve()
        except (EOFError, ProtocolError, OSError) as e:
            sys.stderr.write(f"lens4j worker: connection closed: {e}\n")
        finally:
            conn.close()

    def _claim_arena(self, fd: int) -> int | None:
        """The arena goes to the first authenticated connection that names its fd; one arena, one connection."""
        with self._arena_lock:
            if self.arena_fd is None or fd != self.arena_fd:
                return None
            self.arena_fd = None
            return fd

    def cleanup(self) -> None:
        for remove in (lambda: os.unlink(self.socket_path), lambda: os.rmdir(os.path.dirname(self.socket_path))):
            try:
                remove()
            except OSError:
                pass
