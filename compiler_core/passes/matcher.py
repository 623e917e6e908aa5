"""A tiny matcher: the questions every rule asks about values and nodes.

All functions work on the static shapes the frontend guarantees. ``producer(v, "Mul")`` is the
building block: the node of that op type (default ONNX domain) producing ``v``, or ``None``.
``operands(node)`` yields a binary node's inputs in both orders, which is how ``A*B = B*A``
(paper Table 4, commutative) enables the other rules without ever firing on its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import onnx_ir as ir

from compiler_core.ir.ecg import value_shape
from compiler_core.ir.ops import ONNX_DOMAINS, REGISTRY
from compiler_core.passes.nomatch import require

FLOAT_TOL = 1e-6


def shape(v: ir.Value) -> tuple[int, ...]:
    """Static shape (raises ShapeError when missing)."""
    return value_shape(v)


def numel(v: ir.Value) -> int:
    return math.prod(shape(v))


def producer(v: ir.Value | None, *ops: str) -> ir.Node | None:
    """The producer of ``v`` when its op type is one of ``ops`` (any op if none given)."""
    if v is None:
        return None
    node = v.producer()
    if node is None or node.domain not in ONNX_DOMAINS:
        return None
    if ops and node.op_type not in ops:
        return None
    return node


def expect(v: ir.Value | None, *ops: str) -> ir.Node:
    """Like :func:`producer` but raises NoMatch naming what was expected."""
    node = producer(v, *ops)
    name = v.name if v is not None else "<missing>"
    require(node is not None, f"{name} is not produced by {'/'.join(ops)}")
    assert node is not None
    return node


def operands(node: ir.Node) -> Iterator[tuple[ir.Value, ir.Value]]:
    """The two inputs of a binary node, in both orders when the op is commutative."""
    a, b = node.inputs[0], node.inputs[1]
    yield a, b
    row = REGISTRY.get(node.op_type)
    if row is not None and row.symmetric:
        yield b, a


def is_constant(v: ir.Value | None) -> bool:
    """An initializer (not overridable as a graph input) or a Constant node's output."""
    if v is None or v.is_graph_input():
        return False
    return ir.convenience.get_const_tensor(v) is not None


def const_array(v: ir.Value | None) -> np.ndarray | None:
    """The constant's contents, or ``None`` when ``v`` is not constant."""
    if not is_constant(v):
        return None
    assert v is not None
    tensor = ir.convenience.get_const_tensor(v)
    assert tensor is not None
    return np.asarray(tensor.numpy())


def scalar(v: ir.Value | None) -> float | None:
    """The value of a one-element constant, else ``None``."""
    arr = const_array(v)
    if arr is None or arr.size != 1:
        return None
    return float(arr.reshape(()))


def close(a: float | None, b: float, tol: float = FLOAT_TOL) -> bool:
    """``a`` equals ``b`` within float tolerance (relative for large magnitudes)."""
    return a is not None and abs(a - b) <= tol * max(1.0, abs(b))


def all_equal(v: ir.Value | None, target: float) -> bool:
    """``v`` is a constant whose every element is exactly ``target``."""
    arr = const_array(v)
    return arr is not None and arr.size > 0 and bool(np.all(arr == target))


def int_list(v: ir.Value | None) -> list[int] | None:
    """A constant integer vector input (axes, shapes), else ``None``."""
    arr = const_array(v)
    if arr is None or arr.dtype.kind not in "iu":
        return None
    return [int(x) for x in arr.reshape(-1)]


def attr(node: ir.Node, name: str, default=None):
    a = node.attributes.get(name)
    return default if a is None else a.value


def reduce_axes(node: ir.Node) -> tuple[int, ...]:
    """Normalized, sorted axes of a Reduce* node (opset 18+: axes is an input).

    Empty axes mean all axes, unless noop_with_empty_axes=1 (then the node is an identity: ()).
    """
    rank = len(shape(node.inputs[0]))
    axes_in = node.inputs[1] if len(node.inputs) > 1 else None
    if axes_in is None:
        axes = attr(node, "axes")  # opset < 18
        axes = list(axes) if axes is not None else []
    else:
        got = int_list(axes_in)
        require(got is not None, f"{node.name}: axes are not constant")
        axes = got or []
    if not axes:
        return () if attr(node, "noop_with_empty_axes", 0) else tuple(range(rank))
    return tuple(sorted(a % rank for a in axes))


def keepdims(node: ir.Node) -> bool:
    return bool(attr(node, "keepdims", 1))


def single_use(v: ir.Value) -> bool:
    """``v`` feeds exactly one input slot and is not a graph output."""
    return len(v.uses()) == 1 and not v.is_graph_output()


def broadcast(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(np.broadcast_shapes(*shapes))


def same_value(a: ir.Value | None, b: ir.Value | None, depth: int = 4) -> bool:
    """``a`` and ``b`` hold the same tensor: the same value, equal constants, or outputs of
    structurally identical deterministic nodes (exporters duplicate sub-expressions)."""
    if a is b:
        return True
    if a is None or b is None:
        return False
    ca, cb = const_array(a), const_array(b)
    if ca is not None or cb is not None:
        return (
            ca is not None
            and cb is not None
            and ca.dtype == cb.dtype
            and ca.shape == cb.shape
            and ca.size <= 4096
            and bool(np.array_equal(ca, cb))
        )
    pa, pb = producer(a), producer(b)
    if pa is None or pb is None or depth == 0:
        return False
    if (
        pa.op_type != pb.op_type
        or (pa.op_type in REGISTRY and REGISTRY[pa.op_type].nondeterministic)
        or a.index() != b.index()
        or len(pa.inputs) != len(pb.inputs)
        or not _same_attributes(pa, pb)
    ):
        return False
    return all(same_value(x, y, depth - 1) for x, y in zip(pa.inputs, pb.inputs, strict=True))


def _same_attributes(a: ir.Node, b: ir.Node) -> bool:
    if set(a.attributes) != set(b.attributes):
        return False
    for name, av in a.attributes.items():
        bv = b.attributes[name]
        if av.type != bv.type or av.type in (ir.AttributeType.GRAPH, ir.AttributeType.TENSOR):
            return False
        if av.value != bv.value:
            return False
    return True


def dtype_np(v: ir.Value) -> np.dtype:
    require(v.dtype is not None, f"{v.name} has no dtype")
    assert v.dtype is not None
    return v.dtype.numpy()


def is_float(v: ir.Value) -> bool:
    return v.dtype is not None and v.dtype.is_floating_point()
