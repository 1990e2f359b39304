"""Torch-free ops: engine health, handle table, errors, callbacks and raw data transfer.

These are what the engine-contract tests run on both engines, including GraalPy where
torch cannot be imported.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from importlib import metadata
from typing import Any

from ..errors import LensError
from ..session import Session
from ..values import DTYPES, Blob
from . import op


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


@op("bridge.info")
def info(s: Session) -> dict[str, Any]:
    cuda = None
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        cuda = torch.cuda.is_available()
    return {
        "pid": os.getpid(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "torch": _version("torch"),
        "transformer_lens": _version("transformer-lens"),
        "circuitsvis": _version("circuitsvis"),
        "plotly": _version("plotly"),
        "cuda_available": cuda,
        "handles": len(s.handles),
    }


@op("bridge.handles")
def handles(s: Session) -> dict[str, Any]:
    return {"count": len(s.handles), "by_type": s.handles.count_by_type()}


@op("bridge.release")
def release(s: Session, handles: list[int]) -> int:
    return s.handles.release(handles)


@op("bridge.hold")
def hold(s: Session, value: Any = None) -> dict[str, Any]:
    """Keep a JSON value in the handle table: the handle path (put, resolve, release) without torch.

    ``bridge.echo(value={"$h": id})`` gives the value back, as any op that takes a handle would.
    """
    return {"$h": s.handles.put(value), "type": type(value).__name__}


@op("bridge.echo")
def echo(s: Session, value: Any = None, blobs: list[Blob] | None = None) -> dict[str, Any]:
    """Return the value and blobs unchanged: the round trip that benchmarks and tests time."""
    return {"value": value, "blobs": list(blobs or [])}


@op("bridge.make_blob")
def make_blob(s: Session, dtype: str, shape: list[int], fill: int = 0) -> Blob:
    """A blob of the given dtype and shape whose every byte is ``fill``: transfer tests and benchmarks."""
    if dtype not in DTYPES:
        raise LensError(f"unknown dtype {dtype!r}; valid: {sorted(DTYPES)}", argument="dtype", got=dtype, valid=sorted(DTYPES))
    n = DTYPES[dtype][0]
    for d in shape:
        n *= d
    return Blob(dtype, tuple(shape), memoryview(bytes([fill & 0xFF]) * n))


@op("bridge.callback")
def callback(s: Session, name: str, args: dict[str, Any] | None = None, repeat: int = 1) -> list[Any]:
    """Call Java ``repeat`` times and return its answers: the nested-callback path, torch-free."""
    return [s.callback(name, dict(args or {}, call=i)) for i in range(repeat)]


@op("bridge.fail")
def fail(s: Session, kind: str = "python_error", message: str = "failure requested by bridge.fail",
         details: dict[str, Any] | None = None) -> None:
    """Raise an error of the given kind (with ``details``, for a LensError): how tests check that
    every error reaches Java intact."""
    if kind == "python_error":
        raise RuntimeError(message)
    if kind == "out_of_memory":
        raise MemoryError(message)
    raise LensError(message, kind, **dict(details or {}))


@op("bridge.sleep")
def sleep(s: Session, seconds: float) -> float:
    """Block for a while: how tests check per-call timeouts and interrupts.

    Sleeps in 10 ms slices: an in-process engine interrupts a call at its next bytecode, and
    one long time.sleep would hold that off to its end."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 0.01))
    return seconds


@op("bridge.exit")
def exit_worker(s: Session, code: int = 3) -> None:
    """End the process at once, as a crash would: how tests check crash handling."""
    sys.stderr.write(f"lens4j worker: exiting with code {code} as asked by bridge.exit\n")
    sys.stderr.flush()
    os._exit(code)
