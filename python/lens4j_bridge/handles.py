"""The handle table: the only state the bridge keeps between calls.

Java holds integer handles; the objects (models, tensors, caches, hook sets) stay here.
Ids are never reused, so a stale handle can only miss, never point at a newer object.
"""

from __future__ import annotations

import itertools
from typing import Any, TypeVar

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
        """Drop the given handles; unknown ones are ignored (a release may race a restart)."""
        released = 0
        for h in handles:
            if self._objects.pop(h, None) is not None:
                released += 1
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
