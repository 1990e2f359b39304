"""Worker entry point: ``python -m lens4j_bridge --socket PATH`` with the token on stdin.

The token arrives as the first line of standard input, so it is never in a file or in the
process list. Standard input then stays open: when it closes, the parent JVM is gone
(even after kill -9), and the worker removes its socket and exits. As a second guard the
worker also leaves when it is re-parented (its parent process is gone).

No PR_SET_PDEATHSIG: Linux sends that signal when the *thread* that started the process
ends, so a Lens started (or restarted) on a pool thread would lose its worker with the thread.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import sys
import threading

from . import memory
from .server import Server


def _wait_for_parent_to_go(parent: int) -> None:
    """Return when stdin reaches EOF (the JVM closed it or died) or the parent process is gone."""
    fd = sys.stdin.fileno()
    while True:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready and not os.read(fd, 4096):
            return
        if os.getppid() != parent:
            return


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m lens4j_bridge")
    parser.add_argument("--socket", required=True, help="Unix socket path, in a 0700 directory")
    args = parser.parse_args()

    token = sys.stdin.readline().strip()
    if len(token) < 32:
        _remove_empty_private_dir(os.path.dirname(args.socket))  # a JVM that died before it wrote the token
        sys.exit("lens4j worker: expected a token of at least 32 characters on the first line of stdin")

    server = Server(args.socket, token)

    def shutdown(*_: object) -> None:
        server.cleanup()
        os._exit(0)

    signal.signal(signal.SIGTERM, shutdown)
    server.bind()
    memory.start_trimmer()

    def watch_parent(parent: int) -> None:
        _wait_for_parent_to_go(parent)
        shutdown()

    try:
        threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
        # The arena's fd goes with the ready line: Java maps /proc/<pid>/fd/<fd> and names it in its hello.
        arena = "-" if server.arena_fd is None else str(server.arena_fd)
        try:
            print(f"LENS4J_READY {os.getpid()} {arena}", flush=True)
        except BrokenPipeError:  # the JVM is already gone: nobody will connect
            return
        server.serve_forever()
    finally:
        server.cleanup()


def _remove_empty_private_dir(directory: str) -> None:
    """Remove the socket folder Java made for us, if it is ours, private and still empty."""
    try:
        st = os.stat(directory)
        if st.st_uid == os.getuid() and not st.st_mode & 0o077:
            os.rmdir(directory)  # fails, harmlessly, unless empty
    except OSError:
        pass


if __name__ == "__main__":
    main()
