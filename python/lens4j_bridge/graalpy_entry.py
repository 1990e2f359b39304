"""The GraalPy engine's door into the bridge: the same Session.dispatch the worker runs, in-process.

Java (``org.lens4j.engine.graalpy.GraalPyEngine``) makes one ``Entry`` per engine and calls
``Entry.call``. Values cross as JSON text, exactly as in the worker's frames, so that one code
path (``values.encode`` here, Jackson on the Java side) serves both engines. Raw arrays cross
as buffers: Java reads a result blob through the buffer protocol (a contiguous byte
memoryview) and writes an argument blob into the Java byte[] behind a fresh bytearray.

Runs on any Python, so that pytest can check it on CPython; on CPython there is no
``polyglot`` module and ``storage`` is simply None.
"""

from __future__ import annotations

import json
from typing import Any

from .session import Session, error_info
from .values import Blob


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=True)


def _storage(obj: Any) -> Any:
    """The Java byte[] behind a GraalPy bytes/bytearray, or None where there is none.

    Java then copies with System.arraycopy instead of one interop call per element: the
    polyglot API has bulk buffer reads but no bulk writes.
    """
    try:
        import polyglot  # GraalPy only
    except ImportError:
        return None
    try:
        return polyglot.storage(obj)
    except Exception:  # native storage (a C extension's buffer) has no Java array behind it
        return None


def _byte_view(data: memoryview) -> Any:
    """What Java reads a blob from: immutable bytes' own byte[] when it is exactly the blob, else
    a contiguous 1-byte memoryview (GraalPy checks every bulk read against its bounds)."""
    view = data if data.contiguous else memoryview(data.tobytes())
    view = view.cast("B") if view.format != "B" or view.ndim != 1 else view
    owner = view.obj
    if isinstance(owner, bytes) and len(owner) == view.nbytes:
        array = _storage(owner)
        if array is not None and len(array) == view.nbytes:
            return array
    return view


def _foreign_extensions(spec: Any) -> str | None:
    """The first native module in a package that this Python cannot load (built for another ABI)."""
    import importlib.machinery
    import os

    locations = list(spec.submodule_search_locations or [])
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for folder in locations[:1]:
        try:
            entries = sorted(os.listdir(folder))
        except OSError:
            return None
        native = [e for e in entries if e.endswith((".so", ".pyd"))]
        if native and not any(e.endswith(suffixes) for e in native):
            return native[0]
    return None


def _blob_meta(blob: Blob) -> dict[str, Any]:
    return {"dtype": blob.dtype, "shape": list(blob.shape), "nbytes": blob.nbytes}


class Entry:
    """One engine's session, reached from Java.

    ``java`` is a Java object with ``callback(name, args_json, metas_json, datas) -> str`` and
    ``progress(done, total, message)``. Its methods are wrapped in Python lambdas: GraalPy
    passes no keyword arguments to Java methods, and the session calls its callbacks
    positionally only through these wrappers.
    """

    def __init__(self, java: Any) -> None:
        self._java = java
        self.session = Session(
            callback=lambda name, args, blobs: self._callback(name, args, blobs),
            progress=lambda done, total, message: java.progress(int(done), int(total), str(message)),
        )

    # -- Java -> Python ------------------------------------------------------------------
    @staticmethod
    def allocate(nbytes: int) -> list[Any]:
        """A zeroed bytearray for an argument blob and the Java byte[] behind it (or None)."""
        buffer = bytearray(nbytes)
        return [buffer, _storage(buffer)]

    def call(self, op: str, args_json: str, metas_json: str, buffers: Any) -> list[Any]:
        """Run one op. Returns ``[json, views]``: json is ``{"value": v, "blobs": [meta, ...]}``
        or ``{"error": error_info}``; views holds each result blob's bytes for Java to read."""
        try:
            blobs = self._blobs_in(metas_json, buffers)
            value, blobs_out = self.session.dispatch(op, json.loads(args_json), blobs)
            metas, views = self._blobs_out(blobs_out)
            return [_dumps({"value": value, "blobs": metas}), views]
        except Exception as e:  # every op failure goes back to Java; the context lives on
            return [_dumps({"error": error_info(e)}), []]

    def release(self, handles: Any) -> int:
        return self.session.handles.release([int(h) for h in handles])

    def probe(self, modules: Any) -> str:
        """Which of the modules this Python cannot import, and why, without raising (engine choice).

        Each is first looked up without importing it, so that a CPython build found on the path
        (ABI-incompatible with GraalPy) is named as such and never loaded; only when every module
        is present are they imported, in order.
        """
        import importlib
        import importlib.util
        import sys

        names = [str(m) for m in modules]
        failed: dict[str, str] = {}
        for name in names:
            try:
                spec = importlib.util.find_spec(name)
            except (ImportError, ValueError) as e:
                spec, failed[name] = None, f"{type(e).__name__}: {e}"
            if spec is None:
                failed.setdefault(name, f"ModuleNotFoundError: No module named {name!r}")
                continue
            foreign = _foreign_extensions(spec)
            if foreign:
                failed[name] = (f"{name} at {spec.origin} holds native code built for another Python ({foreign}), "
                                f"and this one loads only {importlib.machinery.EXTENSION_SUFFIXES}")
        if not failed:
            for name in names:
                try:
                    importlib.import_module(name)
                except Exception as e:  # a broken native build may raise anything
                    failed[name] = f"{type(e).__name__}: {e}"
                    break
        return _dumps({"python": sys.version.split()[0], "implementation": sys.implementation.name,
                       "executable": sys.executable, "prefix": sys.prefix, "failed": failed})

    @staticmethod
    def _blobs_in(metas_json: str, buffers: Any) -> list[Blob]:
        metas = json.loads(metas_json)
        return [Blob(m["dtype"], tuple(m["shape"]), memoryview(buffers[i])) for i, m in enumerate(metas)]

    def _blobs_out(self, blobs: list[Blob]) -> tuple[list[dict[str, Any]], list[Any]]:
        """Each result blob's meta and what Java reads its bytes from (one view each here)."""
        return [_blob_meta(b) for b in blobs], [_byte_view(b.data) for b in blobs]

    # -- Python -> Java ------------------------------------------------------------------
    def _callback(self, name: str, args: Any, blobs: list[Blob]) -> tuple[Any, list[Blob]]:
        answer = json.loads(self._java.callback(
            name, _dumps(args), _dumps([_blob_meta(b) for b in blobs]), [_byte_view(b.data) for b in blobs]))
        if "error" in answer:
            from .errors import LensError

            err = answer["error"]
            raise LensError(f"Java {name} callback failed: {err.get('message', 'no message')}", "callback_failed",
                            java_type=err.get("type"))
        return answer.get("value"), []
