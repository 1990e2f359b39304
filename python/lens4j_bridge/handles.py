"""The handle table: the only state the bridge keeps between calls.

Java holds integer handles; the objects (models, tensors, caches, hook sets) stay here.
Ids are never reused, so a stale handle can only miss, never point at a newer object.
"""

from __future__ import annotations

import itertools
from typing import Any, TypeVar

from . import memory
from .errors import LensError

T = TypeVar("T")


class HandleTable:
    def __init__(self) -> None:
        self._objects: dict[int, Any] = {}
        self._ids = itertools.count(1)

    def put(self, obj: Any) -> int:
        handle = next(self._ids)
        self._objects[handle] = obj
        return handle

    def get(self, handle: int, expected: type[T] | tuple[type, ...] | None = None) -> T:
        try:
            obj = self._objects[handle]
        except (KeyError, TypeError):
            raise LensError(
                f"handle {handle!r} is closed or was never issued by this worker", "closed_handle"
            ) from None
        if expected is not None and not isinstance(obj, expected):
            names = expected.__name__ if isinstance(expected, type) else "/".join(t.__name__ for t in expected)
            raise LensError(f"handle {handle} is a {type(obj).__name__}, expected {names}", "bad_argument")
        return obj

    def release(self, handles: list[int]) -> int:
        """Drop the given handles; unknown ones are ignored (a release may race a restart). When
        they held a lot of tensor memory, hand what the allocator freed back to the system."""
        released, freed = 0, 0
        for h in handles:
            obj = self._objects.pop(h, None)
            if obj is not None:
                released += 1
                freed += _tensor_bytes(obj)
                del obj
        if freed >= TRIM_AFTER_BYTES:
            return_freed_memory()
        return released

    def objects(self) -> list[Any]:
        """The live objects (a copy of the list: safe to walk while ops add handles)."""
        return list(self._objects.values())

    def __len__(self) -> int:
        return len(self._objects)

    def count_by_type(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for obj in self._objects.values():
            name = type(obj).__name__
            counts[name] = counts.get(name, 0) + 1
        return counts


TRIM_AFTER_BYTES = 64 * 2**20  # below this a trim costs more than it gives back


def _tensor_bytes(obj: Any) -> int:
    """Bytes of the tensors an object holds: a tensor, or a cache's entries (its values)."""
    try:
        import torch
    except ImportError:  # the torch-free engines hold no tensors
        return 0
    if isinstance(obj, torch.Tensor):
        return obj.untyped_storage().nbytes()
    values = getattr(obj, "values", None)
    if callable(values) and type(obj).__name__ == "ActivationCache":
        return sum(t.untyped_storage().nbytes() for t in values() if isinstance(t, torch.Tensor))
    return 0


def return_freed_memory() -> None:
    """glibc keeps freed small and medium blocks (a cache is hundreds of them) in its heap, so the
    process's RSS stays at its peak after the cache is closed; malloc_trim returns the free pages to
    the system. CUDA's caching allocator likewise keeps freed blocks until empty_cache."""
    import sys

    memory.trim_heap()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
