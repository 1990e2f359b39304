"""The op registry: every op that Java can call, one module per area (a package of modules
by subject for the larger areas, analysis and patching).

An op is a function ``fn(session, **args) -> value`` registered with ``@op("area.name")``.
Modules load on first use of their area, so that the worker starts before torch is
imported and the torch-free ops (area ``bridge``) also run where torch is missing.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from ..errors import LensError, nearest

OpFn = Callable[..., Any]

# area (the part before the first dot of an op name) -> module or package under lens4j_bridge.ops
AREAS: dict[str, str] = {
    "bridge": "core",
    "tensor": "tensor",
    "model": "model",
    "cache": "cache",
    "hooks": "hooks",
    "metrics": "metrics",
    "patching": "patching",
    "analysis": "analysis",
    "viz": "viz",
}

_REGISTRY: dict[str, OpFn] = {}


def op(name: str) -> Callable[[OpFn], OpFn]:
    def register(fn: OpFn) -> OpFn:
        if name in _REGISTRY:
            raise RuntimeError(f"op {name} registered twice")
        _REGISTRY[name] = fn
        return fn

    return register


def lookup(name: str) -> OpFn:
    if not isinstance(name, str):
        raise LensError(f"op name must be a string, got {type(name).__name__}", "unknown_op")
    if name not in _REGISTRY:
        area = name.split(".", 1)[0]
        module = AREAS.get(area)
        if module is None:
            raise LensError(f"unknown op {name!r}: no area {area!r}; areas: {sorted(AREAS)}", "unknown_op",
                            got=name, nearest=nearest(area, sorted(AREAS)), valid=sorted(AREAS))
        importlib.import_module(f"{__name__}.{module}")
    try:
        return _REGISTRY[name]
    except KeyError:
        area = name.split(".", 1)[0]
        known = sorted(n for n in _REGISTRY if n.startswith(area + "."))
        raise LensError(f"unknown op {name!r}; ops in area {area!r}: {known}", "unknown_op",
                        got=name, nearest=nearest(name, known), valid=known) from None


def registered() -> list[str]:
    for module in set(AREAS.values()):
        try:
            importlib.import_module(f"{__name__}.{module}")
        except ModuleNotFoundError:
            pass
    return sorted(_REGISTRY)
