"""Worker entry point: ``python -m lens4j_bridge --socket PATH`` with the token on stdin.

The token arrives as the first line of standard input, so it is never in a file or in the
process list. Standard input then stays open: when it closes, the parent JVM is gone
(even after kill -9), and the worker removes its socket and exits.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
import threading

from .server import Server


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM us when the parent dies: a second guard beside stdin's EOF."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m lens4j_bridge")
    parser.add_argument("--socket", required=True, help="Unix socket path, in a 0700 directory")
    args = parser.parse_args()

    token = sys.stdin.readline().strip()
    if len(token) < 32:
        sys.exit("lens4j worker: expected a token of at least 32 characters on the first line of stdin")

    server = Server(args.socket, token)

    def shutdown(*_: object) -> None:
        server.cleanup()
        os._exit(0)

    _die_with_parent()
    signal.signal(signal.SIGTERM, shutdown)
    server.bind()

    def watch_parent() -> None:
        while sys.stdin.buffer.read(4096):
            pass
        shutdown()

    threading.Thread(target=watch_parent, daemon=True).start()
    print(f"LENS4J_READY {os.getpid()}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
