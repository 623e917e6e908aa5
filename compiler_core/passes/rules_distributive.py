"""Distributive rules (paper Table 4). Operands of ``Add``/``Mul`` are tried in both orders
(``mt.operands``), so ``C*X + B*X`` matches the same row as ``X*C + X*B``. Broadcasting keeps
these rules valid for any shapes: the result has the broadcast shape of all operands either way.
"""

from __future__ import annotations

import onnx_ir as ir

from compiler_core.passes import matcher as mt
from compiler_core.passes.expr import E, const_like
from compiler_core.passes.match import Match
from compiler_core.passes.nomatch import NoMatch, require
from compiler_core.passes.rule import Exactness, Kind, rule

D = Kind.DISTRIBUTIVE


def _numeric(node: ir.Node) -> None:
    out = node.outputs[0]
    require(out.dtype is not None and out.dtype != ir.DataType.BOOL, "not a numeric tensor")


def _common_factor(p: ir.Node, q: ir.Node):
    """(X, C, B) with p = X*C and q = X*B, in any operand order."""
    for x1, c in mt.operands(p):
        for x2, b in mt.operands(q):
            if mt.same_value(x1, x2):
                return x1, c, b
    raise NoMatch("the two products share no factor")


# X*C + X*B -> X*(B+C)     [3mn -> 2mn]
@rule("dist_mul_add", "X*C + X*B -> X*(B+C)", D, Exactness.ROUNDING, "Add")
def dist_mul_add(node: ir.Node, ctx) -> Match:
    _numeric(node)
    p, q = mt.expect(node.inputs[0], "Mul"), mt.expect(node.inputs[1], "Mul")
    x, c, b = _common_factor(p, q)
    return Match(node, [node, p, q], [E("Mul", x, E("Add", b, c))])


# X*C - X*B -> X*(C-B)     [3mn -> 2mn] (the Sub twin of the row above) [ours]
@rule("dist_mul_sub", "X*C - X*B -> X*(C-B)", D, Exactness.ROUNDING, "Sub")
def dist_mul_sub(node: ir.Node, ctx) -> Match:
    _numeric(node)
    p, q = mt.expect(node.inputs[0], "Mul"), mt.expect(node.inputs[1], "Mul")
    x, c, b = _common_factor(p, q)
    return Match(node, [node, p, q], [E("Mul", x, E("Sub", c, b))])


# A + A*B -> A*(B+1)     [2mn -> 2mn, A loaded once; mn when B is constant]
@rule("dist_add_self", "A + A*B -> A*(B+1)", D, Exactness.ROUNDING, "Add")
def dist_add_self(node: ir.Node, ctx) -> Match:
    _numeric(node)
    for a, m in mt.operands(node):
        prod = mt.producer(m, "Mul")
        if prod is None:
            continue
        for a2, b in mt.operands(prod):
            if mt.same_value(a, a2):
                return Match(node, [node, prod], [E("Mul", a, E("Add", b, const_like(1, b)))])
    raise NoMatch("no operand A with the other operand A*B")


# Square(S) - S*C -> S*(S-C), S = A+B     [5mn -> 3mn]
@rule(
    "dist_square_sub",
    "Square(A+B) - (A+B)*C -> (A+B)*(A+B-C)",
    D,
    Exactness.ROUNDING,
    "Sub",
)
def dist_square_sub(node: ir.Node, ctx) -> Match:
    _numeric(node)
    sq = mt.expect(node.inputs[0], "Mul", "Pow")
    if sq.op_type == "Mul":
        s = sq.inputs[0]
        require(mt.same_value(s, sq.inputs[1]), "first operand is not a square")
    else:
        require(mt.scalar(sq.inputs[1]) == 2.0, "first operand is not a square")
        s = sq.inputs[0]
    prod = mt.expect(node.inputs[1], "Mul")
    for s2, c in mt.operands(prod):
        if mt.same_value(s, s2):
            return Match(node, [node, sq, prod], [E("Mul", s, E("Sub", s, c))])
    raise NoMatch("second operand is not S*C for the squared S")


RULES = [dist_mul_add, dist_square_sub, dist_mul_sub, dist_add_self]  # table order breaks ties
