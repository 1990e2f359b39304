"""What lens4j does so that memory per call stays bounded.

1. TransformerLens 4.3's ``AttentionAutoConversion`` (the attention hooks' shape
   conversion) records every tensor it converts in ``_conversion_state``, keyed by
   ``id(tensor)``, and never drops the entries: about 2.5 kB of Python heap per
   ``run_with_cache`` on toy-ioi (measured with tracemalloc through the worker). The state
   is only read inside the forward pass that wrote it, so ``Session.dispatch`` clears it
   between outermost calls, at most once a second, on every engine
   (:func:`forget_conversion_state`).
2. Handing freed memory back to the OS: glibc's ``malloc_trim``, at most once a second.

   Freed memory below a live block stays resident with glibc (its dynamic mmap threshold
   moves mid-sized tensors onto the heap, where freed space is kept); ``malloc_trim(0)``
   returns it. A daemon thread trims once a second when calls have run since the last trim, so a busy
   loop pays about 0.3 ms a second and an idle worker nothing; a cache closed from Java is
   handed back within a second. ``LENS4J_MALLOC_TRIM=0`` turns it off; without glibc it
   does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import threading
import time
from typing import Any, Callable, Iterable

INTERVAL_S = 1.0

_activity = threading.Event()


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[], None] | None:
    """glibc's malloc_trim(0), bound once; None where it is off or there is no glibc."""
    if os.environ.get("LENS4J_MALLOC_TRIM", "1") == "0":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None  # not glibc (musl, macOS): nothing to do
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


def trim_heap() -> None:
    """Hand the heap's free pages back to the system now (a no-op where trimming is off)."""
    trim = _malloc_trim()
    if trim is not None:
        trim()


def note_activity() -> None:
    """A call or a release ended: memory may have been freed."""
    _activity.set()


def start_trimmer() -> bool:
    """Start the trimming thread; returns whether there is one."""
    trim = _malloc_trim()
    if trim is None:
        return False

    def loop() -> None:
        while True:
            _activity.wait()
            _activity.clear()
            trim()
            time.sleep(INTERVAL_S)  # calls that end meanwhile set the event again: trimmed after the pause

    threading.Thread(target=loop, name="lens4j-malloc-trim", daemon=True).start()
    return True


def forget_conversion_state(objects: Iterable[Any]) -> int:
    """Clear TransformerLens' per-tensor attention conversion records on every model among
    ``objects``; returns how many records went. Call only while no forward pass runs."""
    dropped = 0
    for obj in objects:
        hook_dict = getattr(obj, "hook_dict", None)
        if not isinstance(hook_dict, dict) or not hasattr(obj, "cfg"):
            continue
        for hook in hook_dict.values():
            conversion = getattr(hook, "hook_conversion", None)
            state = getattr(conversion, "_conversion_state", None)
            if isinstance(state, dict) and state and callable(getattr(conversion, "clear_state", None)):
                dropped += len(state)
                conversion.clear_state()
    return dropped
