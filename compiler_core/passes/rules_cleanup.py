"""Clean-ups of what exporters leave behind: no-op nodes, neutral elements, constant chains.

These run to a fixpoint before and after the algebraic rules; they never add work.
"""

from __future__ import annotations

import math

import numpy as np
import onnx_ir as ir

from compiler_core.passes import matcher as mt
from compiler_core.passes.expr import E
from compiler_core.passes.match import Match
from compiler_core.passes.nomatch import NoMatch, require
from compiler_core.passes.rule import Exactness, Kind, rule

K = Kind.CLEANUP


# Identity(x) -> x
@rule("identity_remove", "Identity(x) -> x", K, Exactness.EXACT, "Identity")
def identity_remove(node: ir.Node, ctx) -> Match:
    return Match(node, [node], [node.inputs[0]])


# Dropout(x) -> x at inference (no training_mode, or training_mode constant false)
@rule("dropout_remove", "Dropout(x) -> x (inference)", K, Exactness.EXACT, "Dropout")
def dropout_remove(node: ir.Node, ctx) -> Match:
    training = node.inputs[2] if len(node.inputs) > 2 else None
    if training is not None:
        arr = mt.const_array(training)
        require(arr is not None and not bool(arr.reshape(-1)[0]), "training_mode may be true")
    replacement = [node.inputs[0]] + [None] * (len(node.outputs) - 1)
    return Match(node, [node], replacement)


def _neutral(op: str, value: float, algebra: str, right_only: bool):
    # x op e -> x when e is the neutral element and broadcasting does not grow x
    @rule(f"{op.lower()}_neutral", algebra, K, Exactness.EXACT, op)
    def match(node: ir.Node, ctx) -> Match:
        pairs = [(node.inputs[0], node.inputs[1])] if right_only else mt.operands(node)
        out = node.outputs[0]
        for x, e in pairs:
            if mt.all_equal(e, value):
                require(mt.shape(x) == mt.shape(out), "the constant broadcasts x to a new shape")
                require(x.dtype == out.dtype, "dtype differs")
                return Match(node, [node], [x])
        raise NoMatch(f"no operand is all {value:g}")

    return match


mul_neutral = _neutral("Mul", 1.0, "x*1 -> x", right_only=False)
add_neutral = _neutral("Add", 0.0, "x+0 -> x", right_only=False)
sub_neutral = _neutral("Sub", 0.0, "x-0 -> x", right_only=True)
div_neutral = _neutral("Div", 1.0, "x/1 -> x", right_only=True)


def _merge_constants(op: str):
    # (x op a) op b -> x op (a op b), a and b constant, when the merged constant is no larger
    o = "*" if op == "Mul" else "+"

    @rule(
        f"{op.lower()}_const_merge",
        f"(x{o}a){o}b -> x{o}(a{o}b), a and b constant",
        K,
        Exactness.ROUNDING,
        op,
    )
    def match(node: ir.Node, ctx) -> Match:
        for inner_v, b in mt.operands(node):
            inner = mt.producer(inner_v, op)
            b_arr = mt.const_array(b)
            if inner is None or b_arr is None or not mt.single_use(inner_v):
                continue
            for x, a in mt.operands(inner):
                a_arr = mt.const_array(a)
                if a_arr is None or mt.is_constant(x):
                    continue
                merged_shape = np.broadcast_shapes(a_arr.shape, b_arr.shape)
                require(
                    math.prod(merged_shape) <= max(a_arr.size, b_arr.size),
                    "merging the constants would make a larger constant",
                )
                require(a_arr.dtype == b_arr.dtype, "constant dtypes differ")
                ab = E(op, a, b)
                return Match(node, [node, inner], [E(op, x, ab)])
        raise NoMatch(f"not ({op} by constant) {op} by constant")

    return match


mul_const_merge = _merge_constants("Mul")
add_const_merge = _merge_constants("Add")

RULES = [
    identity_remove,
    dropout_remove,
    mul_neutral,
    add_neutral,
    sub_neutral,
    div_neutral,
    mul_const_merge,
    add_const_merge,
]
