"""Byte sizes of a statically shaped model, checked before any memory is spent on them.

:func:`tensor_bytes` computes one tensor's size with Python integers (no overflow) and refuses a
tensor no machine could hold; :func:`estimate_memory` gives the lower bound of what running the
model needs, which :mod:`compiler_core.limits` compares with the memory limit before rewriting
and planning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import onnx_ir as ir

from compiler_core.errors import ShapeError

# 128 TiB: the user address space of x86-64 (47 bits). A tensor larger than this cannot exist
# anywhere, and its element count no longer fits the C code's 64-bit index arithmetic safely.
MAX_TENSOR_BYTES = 2**47


@dataclass(frozen=True)
class TensorSize:
    """One tensor: ``name``, ``shape`` (ints), ``dtype`` (ONNX name, e.g. ``FLOAT``), ``nbytes``."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    nbytes: int


@dataclass(frozen=True)
class MemoryEstimate:
    """What one run of the model needs at least, in bytes.

    ``weights``: every initializer. ``inputs`` / ``outputs``: the graph inputs and outputs (the
    caller's buffers, all alive during a run). ``largest``: the largest intermediate (a node
    output that is not a graph output), None without one. ``total`` = weights + inputs +
    outputs + largest.nbytes.
    """

    weights: int
    inputs: int
    outputs: int
    largest: TensorSize | None

    @property
    def total(self) -> int:
        return self.weights + self.inputs + self.outputs + (self.largest.nbytes if self.largest
                                                            else 0)


def tensor_bytes(name: str, shape: Sequence[int], dtype: ir.DataType, source: str) -> int:
    """Bytes of a ``dtype`` tensor of ``shape`` (strings count 8 bytes, a pointer each).

    Raises :class:`ShapeError` naming the tensor and its shape when it exceeds
    :data:`MAX_TENSOR_BYTES` (e.g. dims whose product overflows int64)."""
    dims = [int(d) for d in shape]
    n = math.prod(dims)
    try:
        itemsize = dtype.itemsize
    except TypeError:  # STRING and other types without a bit width
        itemsize = 8
    nbytes = math.ceil(n * itemsize) if isinstance(itemsize, float) else n * itemsize
    if nbytes > MAX_TENSOR_BYTES or n > 2**63 - 1:
        raise ShapeError(
            f"{source}: tensor {name!r} of shape {dims} ({dtype.name}) would take {nbytes} "
            f"bytes, more than any machine's address space (2**47 bytes); check the input "
            "shapes"
        )
    return int(nbytes)


def estimate_memory(model: ir.Model, source: str) -> MemoryEstimate:
    """Sizes of a model whose every tensor has a static shape and dtype (after import).

    The rule: weights + graph inputs + graph outputs + the largest intermediate. A lower
    bound: inputs, outputs and weights all exist during a run, and the largest intermediate
    exists at least in ONNX Runtime's run of the comparison (our fused code may keep a
    One-to-One intermediate in registers; it is counted anyway, as the comparison needs it).
    Raises :class:`ShapeError` for a tensor over :data:`MAX_TENSOR_BYTES`.
    """
    graph = model.graph

    def size(value: ir.Value) -> TensorSize:
        if not all(isinstance(d, int) for d in value.shape):  # e.g. a weight declared dynamic
            raise ShapeError(f"{source}: tensor {value.name!r} has no static shape "
                             f"({[d if isinstance(d, int) else str(d) for d in value.shape]})")
        shape = tuple(int(d) for d in value.shape)
        dtype = value.dtype
        return TensorSize(value.name, shape, dtype.name,
                          tensor_bytes(value.name, shape, dtype, source))

    weights = 0
    for value in graph.initializers.values():
        # The data's own shape: a weight may also be declared as an input with dynamic dims.
        data = value.const_value
        shape = data.shape if data is not None else value.shape
        dtype = data.dtype if data is not None else value.dtype
        if shape is not None and dtype is not None and all(isinstance(d, int) for d in shape):
            weights += tensor_bytes(value.name, tuple(shape), dtype, source)
    inputs = sum(size(v).nbytes for v in graph.inputs)
    outputs = sum(size(v).nbytes for v in graph.outputs if not v.is_graph_input())
    largest: TensorSize | None = None
    for node in graph:
        for value in node.outputs:
            if not value.name or value.shape is None or value.dtype is None:
                continue
            t = size(value)
            if not value.is_graph_output() and (largest is None or t.nbytes > largest.nbytes):
                largest = t
    return MemoryEstimate(weights, inputs, outputs, largest)
