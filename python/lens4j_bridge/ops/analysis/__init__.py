"""Analyses from the seeds, each one op, one module per subject; the wire names stay ``analysis.*``:

* ``prompts_and_lens``: test_prompt and the logit lens.
* ``attribution``: direct logit attribution (ActivationCache methods on a cache handle, seed 001's DLA).
* ``heads``: head detection, repeated random tokens, induction scores.
* ``representations``: activation datasets, steering vectors, PCA.
* ``ablation``: zero / mean / resample ablation of heads.
* ``common``: the input helpers they share.

Every op returns a dict whose grids are tensors (they become handles) and whose labels
are plain lists: layer labels as TransformerLens writes them ("0_pre", "L0H3"), token
strings, positions. Where a seed defines the computation, the op follows the seed's
formula (the docstring names the seed), so that the numbers are the notebook's numbers.

Importing the package registers every op (``ops.lookup`` imports it on first use of the area).
"""

from . import ablation, attribution, heads, prompts_and_lens, representations  # noqa: F401  (each registers its ops)
