"""Activation patching sweeps, attribution patching and path patching, as single batched ops.

One module per subject; the wire names stay ``patching.*``:

* ``blocks``: the block runner the ops share (the base run, blocks called one by one from
  the layer a variant patches, the "suffix" method and its check against the model's own
  forward; the module docstring says how and why).
* ``sweeps``: ``patching.sweep`` and ``patching.kinds`` (TransformerLens' ``get_act_patch_*``).
* ``attribution``: ``patching.attribution`` (the sweep to first order, from gradients).
* ``path_patching``: ``patching.path_patch``.
* ``common``: the sweep kinds and the input checks and result grids the ops share.

Importing the package registers every op (``ops.lookup`` imports it on first use of the area).
"""

from . import attribution, path_patching, sweeps  # noqa: F401  (each registers its ops)
