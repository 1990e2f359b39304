"""Patching ops (being split by subject; this commit only moves the module)."""

from . import blocks  # noqa: F401  (registers the patching.* ops)
