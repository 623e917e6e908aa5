"""weights.bin: the constant tensors the kernels read, each at a 64-byte aligned offset."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx_ir as ir

from compiler_core.codegen.cnames import ctype_of
from compiler_core.codegen.memory import align
from compiler_core.ir.ecg import value_shape


def layout_weights(values: list[ir.Value]) -> tuple[dict[ir.Value, int], int]:
    """Offsets of each constant value and the file size."""
    offsets: dict[ir.Value, int] = {}
    size = 0
    for v in values:
        offsets[v] = size
        size = align(size + _nbytes(v))
    return offsets, size


def _array(v: ir.Value) -> np.ndarray:
    arr = np.asarray(v.const_value.numpy())
    return np.ascontiguousarray(arr.astype(ctype_of(v).np, copy=False))


def _nbytes(v: ir.Value) -> int:
    return int(np.dtype(ctype_of(v).np).itemsize) * math.prod(value_shape(v))


def write_weights(path: Path, values: list[ir.Value], offsets: dict[ir.Value, int], size: int):
    with open(path, "wb") as f:
        for v in values:
            f.seek(offsets[v])
            f.write(_array(v).tobytes())
        f.truncate(size)
