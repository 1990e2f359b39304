"""Errors that travel to Java with a kind, so that Java can raise the matching exception."""

from __future__ import annotations

from typing import Any


#: The keys a LensError's details may have (see LensError); tests hold every raise site to them.
DETAIL_KEYS = ("nearest", "valid", "argument", "got", "shape", "expected", "tokens", "java_type")


class LensError(Exception):
    """An error that the caller caused or can act on; ``kind`` selects the Java exception.

    Kinds used across the bridge (Java maps them in ``org.lens4j.engine.ErrorKind``):
    ``bad_argument``, ``unknown_op``, ``closed_handle``, ``unknown_model``, ``unknown_hook``,
    ``not_single_token``, ``shape_mismatch``, ``out_of_memory``, ``callback_failed``,
    ``missing_module``, ``python_error``.

    ``details`` say as data what the message says in words, so that Java callers (and tests)
    never parse message text (``LensException.details()`` in Java). One small vocabulary, the
    same at every raise site; a site gives the keys that fit and no others:

    - ``nearest``: the valid names closest to an unknown one (a list of strings).
    - ``valid``: what is accepted: a list of the valid values when it is short, or, for an
      integer range, ``{"min": lo, "max": hi}`` (both inclusive).
    - ``argument``: the name of the argument (or spec field) at fault.
    - ``got``: the value received (JSON as sent; anything else as its ``repr``).
    - ``shape``: the shape received; where two tensors disagree and neither is the one at fault,
      the list of both shapes.
    - ``expected``: the shape that was needed, ``None`` (JSON null) for a size that may be anything.
    - ``tokens``: the tokens a text that should be one token split into (strings).
    - ``java_type``: for ``callback_failed``, the class of the exception the Java hook or metric threw.
    """

    def __init__(self, message: str, kind: str = "bad_argument", **details: Any) -> None:
        super().__init__(message)
        self.kind = kind
        self.details = {k: v for k, v in details.items() if v is not None}  # None says nothing


def bad_argument(message: str, **details: Any) -> LensError:
    return LensError(message, "bad_argument", **details)


def require(condition: bool, message: str, kind: str = "bad_argument", **details: Any) -> None:
    """Raise a LensError with ``message`` (and ``details``, see LensError) unless ``condition`` holds."""
    if not condition:
        raise LensError(message, kind, **details)


def int_range(lo: int, hi: int) -> dict[str, int]:
    """The ``valid`` detail of an integer range, both ends inclusive."""
    return {"min": int(lo), "max": int(hi)}


def wire_details(details: dict[str, Any]) -> dict[str, Any]:
    """``details`` as plain JSON values: tuples and torch.Size become lists, numpy and torch
    scalars numbers, anything else its ``repr``, and a None value is dropped (it says nothing).
    An error must always reach Java: a detail that JSON cannot hold must not turn the error
    reply itself into a failure."""
    return {str(k): _json_value(v) for k, v in details.items() if v is not None}


def _json_value(value: Any, depth: int = 0) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if depth < 8 and isinstance(value, dict):
        return {str(k): _json_value(v, depth + 1) for k, v in value.items()}
    if depth < 8 and isinstance(value, (list, tuple)):  # torch.Size is a tuple
        return [_json_value(v, depth + 1) for v in value]
    item = getattr(value, "item", None)  # a numpy or torch scalar
    if callable(item) and getattr(value, "ndim", None) == 0:
        try:
            return _json_value(item(), depth + 1)
        except Exception:  # an odd scalar still reaches Java, as its repr
            pass
    return repr(value)


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
