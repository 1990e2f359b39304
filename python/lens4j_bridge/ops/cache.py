"""Activation caches: keys, entries by full or short name, summaries.

A cache is TransformerLens' ``ActivationCache`` in the handle table. Its entries share
storage with the cache, so ``cache.get`` hands out views, not copies.
"""

from __future__ import annotations

from typing import Any

import torch
from transformer_lens.ActivationCache import ActivationCache

from ..errors import LensError, int_range, nearest
from ..session import Session
from transformer_lens.utilities import get_act_name as act_name
from . import op


def entry(cache: ActivationCache, name: str) -> torch.Tensor:
    if name in cache.cache_dict:
        return cache.cache_dict[name]
    keys = sorted(cache.keys())
    close = nearest(name, keys)
    raise LensError(f"the cache holds no {name!r}; nearest keys: {close} ({len(keys)} keys in all)", "unknown_hook", nearest=close, got=name)


@op("cache.keys")
def keys(s: Session, cache: ActivationCache) -> list[str]:
    return list(cache.keys())


@op("cache.get")
def get(s: Session, cache: ActivationCache, name: str, layer: int | None = None, layer_type: str | None = None) -> torch.Tensor:
    """``cache[name]``, or ``cache[name, layer(, layer_type)]`` with get_act_name's short names."""
    if layer is None and layer_type is None:
        return entry(cache, name)
    if layer is not None:
        n = cache.model.cfg.n_layers
        if not -n <= layer < n:
            raise LensError(f"layer {layer} is out of range for a model with {n} layers", argument="layer", got=layer,
                            valid=int_range(-n, n - 1))
        if layer < 0:
            layer += n  # TransformerLens' negative-layer rule
    return entry(cache, act_name(name, layer, layer_type))


@op("cache.summary")
def summary(s: Session, cache: ActivationCache) -> list[dict[str, Any]]:
    return [
        {"name": k, "shape": list(v.shape), "dtype": str(v.dtype).removeprefix("torch."), "device": str(v.device)}
        for k, v in cache.items()
    ]


@op("cache.remove_batch_dim")
def remove_batch_dim(s: Session, cache: ActivationCache) -> dict[str, Any]:
    first = next(iter(cache.cache_dict.values()), None)
    if first is None or first.shape[0] != 1:
        raise LensError("remove_batch_dim needs a cache of a batch of 1")
    out = ActivationCache({k: v[0] for k, v in cache.cache_dict.items()}, cache.model, has_batch_dim=False)
    return {"$h": s.handles.put(out), "type": "cache", "keys": list(out.keys())}
