"""Operators whose value depends on the output position: Trilu, Range, ConstantOfShape, EyeLike.

- Trilu keeps the elements on and above (``upper=1``) or on and below the ``k``-th diagonal of
  the last two axes and writes zero elsewhere; ``k`` is a constant or a run-time scalar.
- Range: ``start + i * delta`` (its output size needs ``start``, ``limit`` and ``delta``
  constant, so import usually folds it; the emitter serves a Range whose scalars are computed).
- ConstantOfShape: the ``value`` attribute everywhere (default float 0).
- EyeLike: one on the ``k``-th diagonal, zero elsewhere.
"""

from __future__ import annotations

import math

import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.attrs import attr, unsupported
from compiler_core.codegen.cnames import ctype_of, literal
from compiler_core.codegen.expr import ExprGen
from compiler_core.ir.ecg import value_shape


def _k(node: ir.Node, value) -> int:
    if value is None:
        return 0
    flat = value.reshape(-1)
    if flat.size != 1:
        raise unsupported(node, "k must hold one value")
    return int(flat[0])


def _diagonal_offset(i: str, j: str) -> str:
    """``j - i`` as a C expression."""
    return f"(({j}) - ({i}))"


# Trilu: out = keep(i, j) ? x : 0 with i, j the last two coordinates; k is a compile-time
# constant or a scalar read at run time.
def emit_trilu(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    shape = value_shape(node.inputs[0])
    if len(shape) < 2:
        raise unsupported(node, "the input needs rank 2 or more")
    ins = list(node.inputs)
    kv = ins[1] if len(ins) > 1 else None
    if kv is None:
        k = "0"
    elif kv.const_value is not None:
        span = shape[-2] + shape[-1]  # any |k| beyond this keeps all or nothing
        k = str(max(-span, min(span, _k(node, kv.const_value.numpy()))))
    else:
        if math.prod(value_shape(kv)) != 1:
            raise unsupported(node, "k must hold one value")
        k = g.at(kv, tuple("0" for _ in value_shape(kv)))
    x = g.at(node.inputs[0], idx)
    off = _diagonal_offset(idx[-2], idx[-1])
    keep = f"({off} >= {k})" if int(attr(node, "upper", 1)) else f"({off} <= {k})"
    return f"({keep} ? {x} : {literal(0, ctype_of(node.outputs[0]))})"


# Range: start + i*delta.
def emit_range(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    start, delta = g.at(node.inputs[0], ()), g.at(node.inputs[2], ())
    ct = ctype_of(node.outputs[0])
    if ct.is_float:
        return f"({start} + (float){idx[0]} * {delta})"
    return f"(({ct.c})({start} + ({ct.c}){idx[0]} * {delta}))"


# ConstantOfShape: the value attribute at every position.
def emit_constant_of_shape(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    value = attr(node, "value")
    x = 0 if value is None else value.numpy().reshape(-1)[0]
    return literal(x, ctype_of(node.outputs[0]))


# EyeLike: 1 where j - i == k.
def emit_eye_like(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    if len(idx) != 2:
        raise unsupported(node, "the input must have rank 2")
    span = sum(value_shape(node.outputs[0]))
    k = max(-span, min(span, int(attr(node, "k", 0))))
    ct = ctype_of(node.outputs[0])
    one, zero = literal(1, ct), literal(0, ct)
    return f"({_diagonal_offset(idx[0], idx[1])} == {k} ? {one} : {zero})"
