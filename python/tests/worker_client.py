"""A minimal Python client of the worker protocol, for the server tests (and fuzzing)."""

from __future__ import annotations

import json
import os
import secrets
import socket
import stat
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

PREFIX = struct.Struct(">IQ")
PYTHON_DIR = Path(__file__).resolve().parents[1]


class Worker:
    """A real worker process in a private folder, as the Java engine starts it."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.dir = tempfile.mkdtemp(prefix="lens4j-test-")
        os.chmod(self.dir, 0o700)
        self.socket_path = os.path.join(self.dir, "worker.sock")
        self.token = secrets.token_hex(32)
        env = dict(os.environ, PYTHONPATH=str(PYTHON_DIR), HF_HUB_OFFLINE="1", **(env or {}))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lens4j_bridge", "--socket", self.socket_path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write((self.token + "\n").encode())
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().decode()
        assert line.startswith("LENS4J_READY"), line + self.proc.stderr.read().decode()

    def socket_mode(self) -> int:
        return stat.S_IMODE(os.stat(self.socket_path).st_mode)

    def dir_mode(self) -> int:
        return stat.S_IMODE(os.stat(self.dir).st_mode)

    def connect(self, hello: bool = True) -> "Client":
        """A client that has said hello with the right token, or (hello=False) has said nothing yet."""
        return Client(self.socket_path, self.token if hello else None)

    def stop(self) -> int:
        assert self.proc.stdin
        self.proc.stdin.close()  # as when the JVM dies: the worker sees EOF and leaves
        return self.proc.wait(timeout=20)


class Client:
    def __init__(self, path: str, token: str | None) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(path)
        self.next_id = 0
        self.hello: dict[str, Any] | None = None
        if token is not None:
            self.send({"kind": "hello", "token": token})
            self.hello = self.receive()[0]

    def send(self, header: dict[str, Any], payload: bytes = b"") -> None:
        raw = json.dumps(header).encode()
        self.sock.sendall(PREFIX.pack(len(raw), len(payload)) + raw + payload)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("closed")
            buf += chunk
        return buf

    def receive(self) -> tuple[dict[str, Any], bytes]:
        header_len, payload_len = PREFIX.unpack(self._exact(PREFIX.size))
        header = json.loads(self._exact(header_len))
        return header, self._exact(payload_len) if payload_len else b""

    def call(self, op: str, args: dict[str, Any] | None = None, callbacks: dict[str, Any] | None = None) -> dict[str, Any]:
        """Make a call, answering callbacks with the given functions; returns the result or error frame."""
        self.next_id += 1
        self.send({"kind": "call", "id": self.next_id, "op": op, "args": args or {}})
        while True:
            header, payload = self.receive()
            if header["kind"] == "callback":
                fn = (callbacks or {})[header["callback"]]
                try:
                    value = fn(header["args"])
                    self.send({"kind": "callback_result", "id": header["id"], "value": value})
                except Exception as e:  # noqa: BLE001  (a client-side failure is what we test)
                    self.send({"kind": "callback_error", "id": header["id"], "error": {"message": str(e), "type": type(e).__name__}})
                continue
            if header["kind"] == "progress":
                continue
            header["payload"] = payload
            return header

    def close(self) -> None:
        self.sock.close()
