"""Sizes an operator derives from the values of constant operands, checked before shape
inference or constant folding spends memory on them.

Range's element count ``max(ceil((limit - start) / delta), 0)`` comes from three scalars: ONNX
shape inference with data propagation materializes the sequence, so ``Range(0, 1e12, 1)``
would exhaust memory before any size check. :func:`check_derived_sizes` refuses a constant
Range whose output would exceed the folding limit, and a zero ``delta``. (TopK's ``k`` and
Tile's repeats only set a dimension that inference computes without materializing it; the
memory estimate and the folder's size check bound those.)
"""

from __future__ import annotations

import math

import numpy as np
import onnx_ir as ir

from compiler_core.errors import ResourceLimitError, ShapeError
from compiler_core.frontend.fold import MAX_FOLDED_BYTES
from compiler_core.ir.ops import ONNX_DOMAINS


def _scalar(value: ir.Value | None) -> float | None:
    """The one value of a constant operand (initializer or Constant node), else ``None``."""
    if value is None:
        return None
    tensor = value.const_value
    if tensor is None:
        node = value.producer()
        if node is None or node.op_type != "Constant" or "value" not in node.attributes:
            return None
        tensor = node.attributes["value"].value
    arr = np.asarray(tensor.numpy()).reshape(-1)
    return float(arr[0]) if arr.size == 1 else None


def range_count(start: float, limit: float, delta: float) -> int:
    """Elements of ``Range(start, limit, delta)`` (ONNX: ``max(ceil((limit-start)/delta), 0)``)."""
    n = (limit - start) / delta
    if not math.isfinite(n):
        return 2**63
    return max(math.ceil(n), 0)


def check_derived_sizes(model: ir.Model, source: str) -> None:
    """Raise :class:`ResourceLimitError` / :class:`ShapeError` (one line naming the node) for
    a derived size that cannot be honoured (see the module docstring)."""
    for node in model.graph:
        if node.op_type != "Range" or node.domain not in ONNX_DOMAINS:
            continue
        args = [_scalar(v) for v in list(node.inputs)[:3]]
        if len(args) < 3 or any(a is None for a in args):
            continue
        start, limit, delta = args
        name = node.name or "?"
        if delta == 0:
            raise ShapeError(f"{source}: node {name!r} (Range): delta is 0")
        count = range_count(start, limit, delta)
        dtype = node.inputs[0].dtype
        itemsize = dtype.itemsize if dtype is not None else 8
        if count * itemsize > MAX_FOLDED_BYTES:
            raise ResourceLimitError(
                f"{source}: node {name!r} (Range) would make {count} elements "
                f"(limit {MAX_FOLDED_BYTES // max(1, int(itemsize))})")
