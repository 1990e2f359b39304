"""One engine connection's state and the dispatch of an op call.

A Session owns the handle table and knows how to reach the Java side (callbacks and
progress). The worker makes one per connection; the GraalPy engine makes one per Lens.
"""

from __future__ import annotations

import functools
import inspect
import time
import traceback
from typing import Any, Callable

from . import memory, ops
from .errors import LensError, nearest, wire_details
from .handles import HandleTable
from .values import Blob, decode, encode

# callback(name, args, blobs) -> (value, blobs): runs Java code and returns its answer.
CallbackFn = Callable[[str, dict, list], tuple[Any, list]]
ProgressFn = Callable[[int, int, str], None]


class Session:
    def __init__(self, callback: CallbackFn | None = None, progress: ProgressFn | None = None) -> None:
        self.handles = HandleTable()
        self._callback = callback
        self._progress = progress
        self._depth = 0  # dispatches running now: more than one while a Java hook calls back in
        self._next_tidy = 0.0

    # -- the Java side, for ops ------------------------------------------------------
    def callback(self, name: str, args: dict[str, Any], blobs: list[Blob] | None = None) -> Any:
        """Run Java code (a hook lambda, a metric) while this op is running and return its answer."""
        if self._callback is None:
            raise LensError("this engine cannot call back into Java", "callback_failed")
        out_blobs: list[Blob] = list(blobs or [])
        value, in_blobs = self._callback(name, encode(args, self.handles, out_blobs), out_blobs)
        return decode(value, self.handles, in_blobs)

    def progress(self, done: int, total: int, message: str = "") -> None:
        if self._progress is not None:
            self._progress(done, total, message)

    # -- dispatch --------------------------------------------------------------------
    def dispatch(self, op_name: str, raw_args: dict[str, Any], blobs: list[Blob]) -> tuple[Any, list[Blob]]:
        """Run one op; returns the JSON-ready value and the blobs to send beside it."""
        fn = ops.lookup(op_name)
        if not isinstance(raw_args, dict):
            raise LensError(f"arguments of {op_name} must be a JSON object, got {type(raw_args).__name__}")
        args = decode(raw_args, self.handles, blobs)
        _check_arguments(op_name, fn, args)
        self._depth += 1
        try:
            value = fn(self, **args)
        finally:
            self._depth -= 1
        if self._depth == 0 and time.monotonic() >= self._next_tidy:  # no forward pass runs now
            self._next_tidy = time.monotonic() + memory.INTERVAL_S
            memory.forget_conversion_state(self.handles.objects())
        blobs_out: list[Blob] = []
        return encode(value, self.handles, blobs_out), blobs_out


@functools.lru_cache(maxsize=None)
def _parameters(fn: Callable[..., Any]) -> tuple[list[str], list[str]] | None:
    """An op's argument names and its required ones (None: it takes **kwargs). Cached: reading a
    signature costs tens of microseconds, more than the rest of a small call."""
    params = list(inspect.signature(fn).parameters.values())[1:]  # skip the session
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params], [p.name for p in params if p.default is p.empty]


def _check_arguments(op_name: str, fn: Callable[..., Any], args: dict[str, Any]) -> None:
    """Name unknown and missing arguments before the op runs, listing the valid ones."""
    found = _parameters(fn)
    if found is None:
        return
    names, required = found
    unknown = sorted(set(args) - set(names))
    missing = [n for n in required if n not in args]
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f"unknown argument(s) {unknown}")
        if missing:
            parts.append(f"missing argument(s) {missing}")
        at_fault = (unknown or missing)[0]
        raise LensError(f"{op_name}: {'; '.join(parts)}; valid arguments: {names}", argument=at_fault, valid=names,
                        nearest=nearest(unknown[0], names) if unknown else None, got=unknown or None)


def error_info(exc: BaseException) -> dict[str, Any]:
    """What Java needs to raise the right exception: kind, message, Python type, traceback and,
    for a LensError that has them, its details as JSON."""
    kind = exc.kind if isinstance(exc, LensError) else _kind_of(exc)
    info: dict[str, Any] = {
        "kind": kind,
        "message": str(exc) or type(exc).__name__,
        "type": type(exc).__name__,
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-8000:],
    }
    details = wire_details(exc.details) if isinstance(exc, LensError) else {}
    if details:
        info["details"] = details
    return info


def _kind_of(exc: BaseException) -> str:
    name = type(exc).__name__
    text = str(exc).lower()
    # CUDA says "out of memory"; torch's CPU allocator says "can't allocate memory"
    if name == "OutOfMemoryError" or isinstance(exc, MemoryError) or "out of memory" in text or "can't allocate memory" in text:
        return "out_of_memory"
    if isinstance(exc, ModuleNotFoundError):
        return "missing_module"
    return "python_error"
