"""Replacement expressions: what a rule puts in place of the matched root.

A rule describes its right-hand side as a small tree: ``E("Mul", x, E("Add", b, c))``. Leaves
are existing values or :class:`Const` arrays. The framework prices the tree (FLOPs, reads)
before deciding, and only then materializes it as nodes, so a match costs nothing to propose.
Element-wise expressions infer their shape by broadcasting and their dtype from their first
input; other operators state ``shape=`` (and ``dtype=`` when it differs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np
import onnx_ir as ir

from compiler_core.ir.ops import REGISTRY
from compiler_core.passes import matcher as mt
from compiler_core.passes.cost import op_flops


@dataclass(frozen=True, eq=False)
class Const:
    """A new constant tensor (becomes an initializer)."""

    array: np.ndarray


@dataclass(frozen=True, eq=False)
class Expr:
    """A new node: ``op`` over ``inputs`` (single output)."""

    op: str
    inputs: tuple[Operand | None, ...]
    attrs: dict[str, Any] = field(default_factory=dict)
    shape: tuple[int, ...] | None = None
    dtype: ir.DataType | None = None


Operand = Union[ir.Value, Const, Expr]  # noqa: UP007 - a runtime alias used in isinstance


def E(op: str, *inputs: Operand | None, shape=None, dtype=None, **attrs: Any) -> Expr:  # noqa: N802
    """Shorthand for :class:`Expr`."""
    return Expr(op, tuple(inputs), attrs, None if shape is None else tuple(shape), dtype)


def const_like(value: float | np.ndarray, like: ir.Value) -> Const:
    """A constant with ``like``'s dtype."""
    return Const(np.asarray(value, dtype=mt.dtype_np(like)))


def shape_of(x: Operand) -> tuple[int, ...]:
    if isinstance(x, Const):
        return tuple(x.array.shape)
    if isinstance(x, Expr):
        if x.shape is not None:
            return x.shape
        return mt.broadcast(*(shape_of(i) for i in x.inputs if i is not None))
    return mt.shape(x)


def dtype_of(x: Operand) -> ir.DataType:
    if isinstance(x, Const):
        return ir.DataType.from_numpy(x.array.dtype)
    if isinstance(x, Expr):
        if x.dtype is not None:
            return x.dtype
        first = next(i for i in x.inputs if i is not None)
        return dtype_of(first)
    assert x.dtype is not None, f"{x.name} has no dtype"
    return x.dtype


def is_const(x: Operand | None) -> bool:
    """Constant after folding: a Const, a constant value, or an Expr over constants only."""
    if x is None or isinstance(x, Const):
        return True
    if isinstance(x, Expr):
        return foldable(x.op) and all(is_const(i) for i in x.inputs)
    return mt.is_constant(x)


def walk(x: Operand, seen: dict[int, Expr] | None = None) -> dict[int, Expr]:
    """Every distinct Expr under ``x`` (by identity), children before parents."""
    seen = {} if seen is None else seen
    if isinstance(x, Expr) and id(x) not in seen:
        for i in x.inputs:
            if i is not None:
                walk(i, seen)
        seen[id(x)] = x
    return seen


def values_in(x: Operand | None) -> list[ir.Value]:
    """Existing values an operand refers to (they must stay alive)."""
    if x is None or isinstance(x, Const):
        return []
    if isinstance(x, Expr):
        out: list[ir.Value] = []
        for e in walk(x).values():
            out += [i for i in e.inputs if isinstance(i, ir.Value)]
        return out
    return [x]


def expr_cost(roots: list[Operand | None]) -> tuple[int, int]:
    """(FLOPs, reads) of the new nodes a replacement creates."""
    seen: dict[int, Expr] = {}
    for r in roots:
        if r is not None:
            walk(r, seen)
    flops = reads = 0
    for e in seen.values():
        if is_const(e):
            continue
        ins = [i for i in e.inputs if i is not None]
        got = op_flops(e.op, [shape_of(i) for i in ins], shape_of(e), False)
        flops += got if got is not None else 2 * math.prod(shape_of(e))
        distinct: list[Operand] = []
        for i in ins:
            if not is_const(i) and all(i is not d for d in distinct):
                distinct.append(i)
        reads += sum(math.prod(shape_of(i)) for i in distinct)
    return flops, reads


def foldable(op: str) -> bool:
    """True when a constant ``op`` node is folded with numpy (its registry row's ``numpy``;
    float semantics match IEEE float32)."""
    row = REGISTRY.get(op)
    return row is not None and row.numpy is not None


def evaluate(op: str, arrays: list[np.ndarray], dtype: np.dtype) -> np.ndarray:
    """Fold a constant element-wise op in its own dtype."""
    if op == "Div" and dtype.kind in "iu":
        a, b = arrays
        return np.asarray(np.trunc(a / b), dtype=dtype)
    with np.errstate(all="ignore"):
        out = REGISTRY[op].numpy(*[a.astype(dtype) for a in arrays])
    return np.asarray(out, dtype=dtype)
