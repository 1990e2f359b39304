"""Analysis ops (being split by subject; this commit only moves the module)."""

from . import ablation  # noqa: F401  (registers the analysis.* ops)
