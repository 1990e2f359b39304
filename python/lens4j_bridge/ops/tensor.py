"""Tensor handles: ops that run where the tensor lives, and the transfers to and from Java.

Only ``tensor.to_array`` moves data to Java and only ``tensor.from_blob`` moves data from
Java; every other op returns a new handle and leaves the data on its device.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..errors import LensError, int_range, require
from ..session import Session
from ..values import DTYPES, Blob
from . import op

TORCH_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "int64": torch.int64,
    "int32": torch.int32,
    "int16": torch.int16,
    "int8": torch.int8,
    "uint8": torch.uint8,
    "bool": torch.bool,
}


def dtype_name(t: torch.Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


def to_blob(t: torch.Tensor) -> Blob:
    """A tensor's data as a Blob (a CPU copy only where the tensor is not already dense on the CPU)."""
    name = dtype_name(t)
    require(name in DTYPES, f"tensors of dtype {name} cannot be sent to Java; valid: {sorted(DTYPES)}")
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)  # numpy has no bfloat16: send the raw 16-bit words
    array = t.numpy()
    return Blob(name, tuple(t.shape), memoryview(array).cast("B") if array.size else memoryview(b""))


def from_blob(blob: Blob) -> torch.Tensor:
    """A Blob as a new CPU tensor that owns its memory."""
    code = DTYPES[blob.dtype][1]
    array = np.frombuffer(blob.data, dtype=np.dtype(code).newbyteorder("<")).reshape(blob.shape)
    if blob.dtype == "bool":
        return torch.from_numpy(array.astype(np.bool_))
    if blob.dtype == "bfloat16":
        return torch.from_numpy(array.astype(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(array.copy())


def as_tensor(value: Any) -> torch.Tensor:
    """An op argument as a tensor: a tensor handle, a Blob from Java, or a number / nested list."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, Blob):
        return from_blob(value)
    if isinstance(value, (int, float, list)):
        return torch.tensor(value)
    raise LensError(f"expected a tensor, an array or a number, got {type(value).__name__}")


def check_dim(t: torch.Tensor, dim: int) -> int:
    n = t.dim()
    if not (-n <= dim < n if n else dim in (0, -1)):  # every tensor op passes here: build the error only when raised
        raise LensError(f"dim {dim} is out of range for a tensor of shape {list(t.shape)}", argument="dim", got=dim,
                        valid=int_range(-n, n - 1) if n else int_range(-1, 0), shape=list(t.shape))
    return dim


@op("tensor.to_array")
def to_array(s: Session, tensor: torch.Tensor) -> Blob:
    return to_blob(tensor)


@op("tensor.from_blob")
def from_java(s: Session, data: Blob, device: str | None = None) -> torch.Tensor:
    t = from_blob(data)
    return t.to(device) if device else t


@op("tensor.meta")
def meta(s: Session, tensor: torch.Tensor) -> dict[str, Any]:
    return {"shape": list(tensor.shape), "dtype": dtype_name(tensor), "device": str(tensor.device)}


@op("tensor.repr")
def tensor_repr(s: Session, tensor: torch.Tensor) -> str:
    with np.printoptions(threshold=60, edgeitems=3, precision=4):
        return repr(tensor.detach().cpu())


@op("tensor.item")
def item(s: Session, tensor: torch.Tensor) -> Any:
    require(tensor.numel() == 1, f"item() needs a tensor of one element, got shape {list(tensor.shape)}",
            shape=list(tensor.shape))
    return tensor.item()


@op("tensor.select")
def select(s: Session, tensor: torch.Tensor, dim: int, index: int) -> torch.Tensor:
    check_dim(tensor, dim)
    size = tensor.shape[dim]
    require(-size <= index < size, f"index {index} is out of range for dim {dim} of size {size} (shape {list(tensor.shape)})",
            argument="index", got=index, valid=int_range(-size, size - 1), shape=list(tensor.shape))
    return tensor.select(dim, index)


@op("tensor.slice")
def slice_(s: Session, tensor: torch.Tensor, dim: int, start: int | None = None, stop: int | None = None, step: int = 1) -> torch.Tensor:
    check_dim(tensor, dim)
    require(step > 0, f"step must be positive, got {step}")
    index = [slice(None)] * tensor.dim()
    index[dim] = slice(start, stop, step)
    return tensor[tuple(index)]


@op("tensor.index")
def index(s: Session, tensor: torch.Tensor, dim: int, indices: Any) -> torch.Tensor:
    check_dim(tensor, dim)
    idx = as_tensor(indices).to(torch.int64).to(tensor.device)
    size = tensor.shape[dim]
    require(idx.numel() == 0 or (int(idx.min()) >= -size and int(idx.max()) < size),
            f"indices out of range for dim {dim} of size {size}", argument="indices", valid=int_range(-size, size - 1))
    return tensor.index_select(dim, torch.where(idx < 0, idx + size, idx))


def _reduce(name: str, tensor: torch.Tensor, dim: int | list[int] | None, keepdim: bool) -> torch.Tensor:
    fn = getattr(torch, name)
    if dim is None:
        return fn(tensor.float() if name == "mean" and not tensor.is_floating_point() else tensor)
    for d in dim if isinstance(dim, list) else [dim]:
        check_dim(tensor, d)
    if name in ("max", "min"):
        require(isinstance(dim, int), f"{name} takes a single dim")
        return fn(tensor, dim=dim, keepdim=keepdim).values
    return fn(tensor, dim=dim, keepdim=keepdim)


for _name in ("mean", "sum", "max", "min"):
    def _make(name: str):
        def reduce_op(s: Session, tensor: torch.Tensor, dim: int | list[int] | None = None, keepdim: bool = False) -> torch.Tensor:
            return _reduce(name, tensor, dim, keepdim)
        reduce_op.__name__ = name
        return reduce_op
    op(f"tensor.{_name}")(_make(_name))


@op("tensor.argmax")
def argmax(s: Session, tensor: torch.Tensor, dim: int | None = None, keepdim: bool = False) -> torch.Tensor:
    if dim is not None:
        check_dim(tensor, dim)
    return tensor.argmax(dim=dim, keepdim=keepdim)


@op("tensor.softmax")
def softmax(s: Session, tensor: torch.Tensor, dim: int = -1) -> torch.Tensor:
    check_dim(tensor, dim)
    return tensor.softmax(dim=dim)


@op("tensor.log_softmax")
def log_softmax(s: Session, tensor: torch.Tensor, dim: int = -1) -> torch.Tensor:
    check_dim(tensor, dim)
    return tensor.log_softmax(dim=dim)


@op("tensor.topk")
def topk(s: Session, tensor: torch.Tensor, k: int, dim: int = -1, largest: bool = True) -> dict[str, torch.Tensor]:
    check_dim(tensor, dim)
    require(0 < k <= tensor.shape[dim], f"k must be in [1, {tensor.shape[dim]}], got {k}", argument="k", got=k,
            valid=int_range(1, tensor.shape[dim]))
    values, indices = tensor.topk(k, dim=dim, largest=largest)
    return {"values": values, "indices": indices}


@op("tensor.diagonal")
def diagonal(s: Session, tensor: torch.Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> torch.Tensor:
    require(tensor.dim() >= 2, f"diagonal needs at least 2 dims, got shape {list(tensor.shape)}", shape=list(tensor.shape))
    return tensor.diagonal(offset=offset, dim1=dim1, dim2=dim2)


def _check_broadcast(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    try:
        torch.broadcast_shapes(a.shape, b.shape)
    except RuntimeError:
        raise LensError(f"cannot {what} tensors of shapes {list(a.shape)} and {list(b.shape)}: they do not broadcast", "shape_mismatch",
                        argument="other", shape=[list(a.shape), list(b.shape)]) from None


@op("tensor.matmul")
def matmul(s: Session, tensor: torch.Tensor, other: Any) -> torch.Tensor:
    other = as_tensor(other).to(tensor.device)
    require(tensor.dim() >= 1 and other.dim() >= 1, "matmul needs tensors of at least 1 dim")
    inner_a = tensor.shape[-1]
    inner_b = other.shape[-2] if other.dim() >= 2 else other.shape[0]
    if inner_a != inner_b:
        raise LensError(f"cannot matmul shapes {list(tensor.shape)} and {list(other.shape)}: inner sizes {inner_a} and {inner_b} differ", "shape_mismatch",
                        argument="other", shape=list(other.shape),
                        expected=[None] * (other.dim() - 2) + [inner_a, None] if other.dim() >= 2 else [inner_a])
    return tensor @ other.to(tensor.dtype)


ARITHMETIC = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}


@op("tensor.arith")
def arith(s: Session, tensor: torch.Tensor, fn: str, other: Any) -> torch.Tensor:
    require(fn in ARITHMETIC, f"unknown arithmetic {fn!r}; valid: {sorted(ARITHMETIC)}", argument="fn", got=fn,
            valid=sorted(ARITHMETIC))
    other_t = as_tensor(other).to(tensor.device)
    _check_broadcast(tensor, other_t, fn)
    return ARITHMETIC[fn](tensor, other_t)


@op("tensor.to")
def to(s: Session, tensor: torch.Tensor, dtype: str | None = None, device: str | None = None) -> torch.Tensor:
    if dtype is not None:
        require(dtype in TORCH_DTYPES, f"unknown dtype {dtype!r}; valid: {sorted(TORCH_DTYPES)}", argument="dtype", got=dtype,
                valid=sorted(TORCH_DTYPES))
        tensor = tensor.to(TORCH_DTYPES[dtype])
    if device is not None:
        from .model import resolve_device

        tensor = tensor.to(resolve_device(device))
    return tensor


@op("tensor.reshape")
def reshape(s: Session, tensor: torch.Tensor, shape: list[int]) -> torch.Tensor:
    try:
        return tensor.reshape(shape)
    except RuntimeError as e:
        raise LensError(f"cannot reshape {list(tensor.shape)} to {shape}: {e}", "shape_mismatch", argument="shape", got=shape,
                        shape=list(tensor.shape)) from None


@op("tensor.clone")
def clone(s: Session, tensor: torch.Tensor) -> torch.Tensor:
    return tensor.clone()


@op("tensor.copy_")
def copy_(s: Session, tensor: torch.Tensor, source: Any) -> None:
    """Overwrite ``tensor`` in place (a Java hook modifying its activation)."""
    src = as_tensor(source)
    if list(src.shape) != list(tensor.shape):
        raise LensError(f"cannot copy shape {list(src.shape)} into shape {list(tensor.shape)}", "shape_mismatch",
                        argument="source", shape=list(src.shape), expected=list(tensor.shape))
    tensor.copy_(src.to(tensor.device, tensor.dtype))
