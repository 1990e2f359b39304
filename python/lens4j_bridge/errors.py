"""Errors that travel to Java with a kind, so that Java can raise the matching exception."""

from __future__ import annotations

from typing import Any


class LensError(Exception):
    """An error that the caller caused or can act on; ``kind`` selects the Java exception.

    Kinds used across the bridge (Java maps them in ``org.lens4j.engine.ErrorKind``):
    ``bad_argument``, ``unknown_op``, ``closed_handle``, ``unknown_model``, ``unknown_hook``,
    ``not_single_token``, ``shape_mismatch``, ``out_of_memory``, ``callback_failed``,
    ``missing_module``, ``python_error``.
    """

    def __init__(self, message: str, kind: str = "bad_argument", **details: Any) -> None:
        super().__init__(message)
        self.kind = kind
        self.details = details


def bad_argument(message: str, **details: Any) -> LensError:
    return LensError(message, "bad_argument", **details)


def require(condition: bool, message: str, kind: str = "bad_argument") -> None:
    """Raise a LensError with ``message`` unless ``condition`` holds."""
    if not condition:
        raise LensError(message, kind)


def nearest(name: str, valid: list[str], n: int = 5) -> list[str]:
    """The valid names closest to ``name``, for error messages that say what is valid."""
    import difflib

    close = difflib.get_close_matches(name, valid, n=n, cutoff=0.4)
    if close:
        return close
    # No spelling is close: fall back to names sharing the last dotted part (e.g. hook_z).
    tail = name.rsplit(".", 1)[-1]
    return [v for v in valid if v.endswith(tail)][:n]


def warn(message: str) -> None:
    """Tell the user about a result that may be wrong without failing the call. The worker's stdout
    reaches the Java side's log (EngineOptions.log, stderr by default) line by line."""
    print(f"lens4j warning: {message}", flush=True)
