"""How values cross the engine boundary, the same for the worker and GraalPy engines.

Arguments arrive as JSON; two markers refer to things that JSON cannot hold:
``{"$h": id}`` is a handle (a model, tensor, cache, ...) and ``{"$blob": i}`` is the i-th
raw array sent beside the header. Results go back the same way: a torch tensor in a
result becomes a new handle ``{"$tensor": id, "shape", "dtype", "device"}``, a ``Blob``
becomes raw bytes beside the header, and any other registered object is returned by
the op itself as ``{"$h": id, "type": ...}``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any

from .errors import LensError
from .handles import HandleTable

# dtype name -> (bytes per element, struct/numpy code); bfloat16 travels as raw 16-bit words.
DTYPES: dict[str, tuple[int, str]] = {
    "float32": (4, "f4"),
    "float64": (8, "f8"),
    "float16": (2, "f2"),
    "bfloat16": (2, "u2"),
    "int64": (8, "i8"),
    "int32": (4, "i4"),
    "int16": (2, "i2"),
    "int8": (1, "i1"),
    "uint8": (1, "u1"),
    "bool": (1, "u1"),
}


@dataclass(frozen=True)
class Blob:
    """A dense array as raw little-endian bytes in C order: what moves between Java and Python."""

    dtype: str
    shape: tuple[int, ...]
    data: memoryview  # exactly numel * itemsize bytes

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise LensError(f"unknown dtype {self.dtype!r}; valid: {sorted(DTYPES)}")
        if any((not isinstance(d, int)) or d < 0 for d in self.shape):
            raise LensError(f"bad shape {list(self.shape)}: dimensions must be integers >= 0")
        expected = math.prod(self.shape) * DTYPES[self.dtype][0]
        if self.data.nbytes != expected:
            raise LensError(
                f"blob of dtype {self.dtype} and shape {list(self.shape)} needs {expected} bytes, got {self.data.nbytes}"
            )

    @property
    def nbytes(self) -> int:
        return self.data.nbytes


def decode(value: Any, handles: HandleTable, blobs: list[Blob]) -> Any:
    """Replace ``$h`` and ``$blob`` markers in decoded JSON with the objects they name."""
    if isinstance(value, dict):
        if "$h" in value and len(value) <= 2:
            return handles.get(value["$h"])
        if "$blob" in value and len(value) == 1:
            index = value["$blob"]
            if not isinstance(index, int) or not 0 <= index < len(blobs):
                raise LensError(f"blob reference {index!r} is out of range: the frame carries {len(blobs)} blobs")
            return blobs[index]
        return {k: decode(v, handles, blobs) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v, handles, blobs) for v in value]
    return value


def _is_torch_tensor(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def tensor_meta(handle: int, tensor: Any) -> dict[str, Any]:
    return {
        "$tensor": handle,
        "shape": list(tensor.shape),
        "dtype": str(tensor.dtype).removeprefix("torch."),
        "device": str(tensor.device),
    }


def encode(value: Any, handles: HandleTable, blobs_out: list[Blob]) -> Any:
    """Make an op's result JSON-ready: tensors become handles, Blobs go out beside the header."""
    if isinstance(value, Blob):
        blobs_out.append(value)
        return {"$blob": len(blobs_out) - 1, "dtype": value.dtype, "shape": list(value.shape)}
    if _is_torch_tensor(value):
        return tensor_meta(handles.put(value), value)
    if isinstance(value, dict):
        return {str(k): encode(v, handles, blobs_out) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v, handles, blobs_out) for v in value]
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return value.item()
    raise LensError(f"internal: an op returned a {type(value).__name__}, which cannot be sent", "python_error")
