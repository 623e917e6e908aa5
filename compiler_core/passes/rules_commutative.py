"""Commutative rules (paper Table 4): an element-wise op and a reduction change places, so the
element-wise op runs on the reduced (smaller) tensor. ``A*B -> B*A`` is not a row: operand order
is tried inside matching (``matcher.operands``) and never fires on its own.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from compiler_core.passes import matcher as mt
from compiler_core.passes.expr import Const, E
from compiler_core.passes.match import Match
from compiler_core.passes.nomatch import require
from compiler_core.passes.rule import Exactness, Kind, rule

C = Kind.COMMUTATIVE


def _reduce_like(red: ir.Node, data: ir.Value, op: str) -> object:
    """A reduction ``op`` over ``data`` with ``red``'s axes and attributes."""
    require("axes" not in red.attributes, "axes given as an attribute (opset < 18)")
    axes = red.inputs[1] if len(red.inputs) > 1 else None
    attrs = {k: a for k, a in red.attributes.items() if k in ("keepdims", "noop_with_empty_axes")}
    inputs = (data,) if axes is None else (data, axes)
    return E(op, *inputs, shape=mt.shape(red.outputs[0]), **attrs)


# ReduceSum(BitShift(A, s)) -> BitShift(ReduceSum(A), s)     [2mn -> mn + m]
# Exact for LEFT shifts of unsigned integers (both sides are multiplication by 2^s modulo 2^n)
# when s is one constant along the reduced axes and does not broadcast A. Right shifts floor,
# and floor does not distribute over a sum: never rewritten.
@rule(
    "comm_reducesum_bitshift",
    "ReduceSum(BitShift(A, s, LEFT)) -> BitShift(ReduceSum(A), s, LEFT)",
    C,
    Exactness.EXACT,
    "ReduceSum",
)
def comm_reducesum_bitshift(node: ir.Node, ctx) -> Match:
    shift = mt.expect(node.inputs[0], "BitShift")
    require(mt.attr(shift, "direction") == "LEFT", "not a LEFT shift")
    a, s = shift.inputs[0], shift.inputs[1]
    require(a.dtype is not None and a.dtype.is_integer(), "not an integer tensor")
    require(mt.shape(shift.outputs[0]) == mt.shape(a), "BitShift broadcasts A over the shift")
    s_arr = mt.const_array(s)
    require(s_arr is not None, "shift amount is not constant")
    assert s_arr is not None
    require(bool(np.all(s_arr < 8 * s_arr.dtype.itemsize)), "shift amount >= bit width")
    rank = len(mt.shape(a))
    full = s_arr.reshape((1,) * (rank - s_arr.ndim) + s_arr.shape)
    axes = mt.reduce_axes(node)
    require(all(full.shape[ax] == 1 for ax in axes), "shift amount varies along the reduced axes")
    if not mt.keepdims(node):
        full = np.squeeze(full, axis=axes) if axes else full
    new_s: object = s if full.shape == s_arr.shape else Const(np.ascontiguousarray(full))
    summed = _reduce_like(node, a, "ReduceSum")
    return Match(node, [node, shift], [E("BitShift", summed, new_s, direction="LEFT")])


# ReduceProd(Exp(A)) -> Exp(ReduceSum(A))     [2mn -> mn + m]
# fast-math only: the product of exponentials over/underflows where the exponential of the sum
# does not (exp(100)*exp(-100) is inf*0 in float32; exp(0) is 1).
@rule(
    "comm_reduceprod_exp",
    "ReduceProd(Exp(A)) -> Exp(ReduceSum(A))",
    C,
    Exactness.FAST_MATH,
    "ReduceProd",
)
def comm_reduceprod_exp(node: ir.Node, ctx) -> Match:
    exp = mt.expect(node.inputs[0], "Exp")
    a = exp.inputs[0]
    require(mt.is_float(a), "not floating-point")
    summed = _reduce_like(node, a, "ReduceSum")
    return Match(node, [node, exp], [E("Exp", summed)])


RULES = [comm_reducesum_bitshift, comm_reduceprod_exp]
