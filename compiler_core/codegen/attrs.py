"""Reading node attributes and constant operands, with errors that name the node."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from compiler_core.codegen.cnames import comment
from compiler_core.errors import UnsupportedOperatorError


def where(node: ir.Node) -> str:
    return f"node {comment(node.name or '?')!r} ({comment(node.op_type)})"


def unsupported(node: ir.Node, why: str) -> UnsupportedOperatorError:
    return UnsupportedOperatorError(f"{where(node)}: {why}")


def attr(node: ir.Node, name: str, default=None):
    """The value of attribute ``name`` (strings decoded; a string that is not UTF-8 raises
    :class:`UnsupportedOperatorError`), ``default`` when absent."""
    a = node.attributes.get(name)
    if a is None:
        return default
    v = a.value
    if isinstance(v, bytes):
        try:
            v = v.decode()
        except UnicodeDecodeError:
            raise unsupported(node, f"attribute {name!r} is not UTF-8 text") from None
    if isinstance(v, (list, tuple)):
        return list(v)
    return v


def const_input(node: ir.Node, pos: int, *, required: bool = False) -> np.ndarray | None:
    """The constant value of input ``pos`` (``None`` when absent); a computed value raises."""
    inputs = list(node.inputs)
    if pos >= len(inputs) or inputs[pos] is None:
        if required:
            raise unsupported(node, f"input {pos} is required")
        return None
    tensor = inputs[pos].const_value
    if tensor is None:
        raise unsupported(node, f"input {pos} must be a constant for code generation")
    return tensor.numpy()


def norm_axis(node: ir.Node, axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise unsupported(node, f"axis {axis} out of range for rank {rank}")
    return axis + rank if axis < 0 else axis
