"""The shared-memory arena: memory that Java and the worker both map, for large tensors.

Calls on a connection are strictly nested and each side copies a frame's blobs out before
it sends anything else, so the arena is a bounce buffer: every frame writes its blobs
from offset 0. Whoever needs more room grows the file; the frame header carries the
arena size so that the reader remaps first. The worker creates it with ``memfd_create``,
so it never has a name in ``/dev/shm``: Java opens it through ``/proc/<worker pid>/fd/<fd>``
(which only our own user may do), and nothing can be left behind whoever dies when.
"""

from __future__ import annotations

import mmap
import os

from .errors import LensError

ALIGN = 64


def align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def create_fd() -> int | None:
    """An anonymous shared-memory file for the arena, or None where the OS has no memfd."""
    try:
        return os.memfd_create("lens4j-arena", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        return None


class Arena:
    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._size = os.fstat(self._fd).st_size
        self._map: mmap.mmap | None = mmap.mmap(self._fd, self._size) if self._size else None

    @property
    def size(self) -> int:
        return self._size

    def _remap(self, size: int) -> None:
        if self._map is not None:
            self._map.close()
        self._size = size
        self._map = mmap.mmap(self._fd, size) if size else None

    def ensure(self, size: int) -> None:
        """Grow the file (never shrink) so that ``size`` bytes fit."""
        if size > self._size:
            new_size = max(size, self._size * 2)
            os.ftruncate(self._fd, new_size)
            self._remap(new_size)

    def sync_to(self, size: int) -> None:
        """Remap after the other side grew the file to ``size``."""
        if size > self._size:
            actual = os.fstat(self._fd).st_size
            if actual < size:
                raise LensError(f"arena is {actual} bytes but a frame claims {size}", "bad_argument")
            self._remap(actual)

    def write(self, offset: int, data: memoryview) -> None:
        assert self._map is not None
        self._map[offset : offset + data.nbytes] = data

    def read(self, offset: int, nbytes: int) -> memoryview:
        """A copy of the bytes, so the caller keeps them after the arena is reused."""
        if offset < 0 or nbytes < 0 or offset + nbytes > self._size or self._map is None:
            raise LensError(f"arena range [{offset}, {offset + nbytes}) is outside the arena of {self._size} bytes")
        return memoryview(bytearray(self._map[offset : offset + nbytes]))

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        os.close(self._fd)
