"""Associative rules (paper Table 4). Each works on a *product tree*: the root ``Mul`` and the
single-use ``Mul`` nodes under it, read as one list of factors. Reading the tree as a list is
how ``A*B = B*A`` and ``(A*B)*C = A*(B*C)`` enable these rules: a pattern may sit anywhere in
the product, in any order. The rebuilt product multiplies constants and small factors first.
"""

from __future__ import annotations

import math

import onnx_ir as ir

from compiler_core.passes import matcher as mt
from compiler_core.passes.expr import E, Operand, is_const, shape_of
from compiler_core.passes.facts import nonnegative
from compiler_core.passes.match import Match
from compiler_core.passes.nomatch import NoMatch, require
from compiler_core.passes.rule import Exactness, Kind, rule

A = Kind.ASSOCIATIVE


def product_tree(root: ir.Node) -> tuple[list[ir.Value], list[ir.Node]]:
    """Factors and Mul nodes of the product rooted at ``root`` (which must be its top)."""
    out = root.outputs[0]
    users = out.uses()
    require(
        not (len(users) == 1 and users[0].node.op_type == "Mul" and not out.is_graph_output()),
        "not the top of a product (its only consumer is a Mul)",
    )
    require(mt.is_float(out), "product is not floating-point")
    factors: list[ir.Value] = []
    nodes: list[ir.Node] = [root]

    def go(v: ir.Value) -> None:
        p = mt.producer(v, "Mul")
        if p is not None and mt.single_use(v) and len(nodes) < 64:
            nodes.append(p)
            go(p.inputs[0])
            go(p.inputs[1])
        else:
            factors.append(v)

    go(root.inputs[0])
    go(root.inputs[1])
    return factors, nodes


def product(factors: list[Operand]) -> Operand:
    """Multiply ``factors``: constants first, then by increasing size (fewest FLOPs)."""
    items = sorted(factors, key=lambda f: (not is_const(f), math.prod(shape_of(f))))
    acc = items[0]
    for f in items[1:]:
        acc = E("Mul", acc, f)
    return acc


def _without(factors: list[ir.Value], *drop: int) -> list[Operand]:
    return [f for k, f in enumerate(factors) if k not in drop]


def _pairs(factors: list[ir.Value], op: str):
    """(i, j, node_i, node_j) for factors i < j both produced by ``op``."""
    for i, fi in enumerate(factors):
        pi = mt.producer(fi, op)
        if pi is None:
            continue
        for j in range(i + 1, len(factors)):
            pj = mt.producer(factors[j], op)
            if pj is not None:
                yield i, j, pi, pj


# Recip(A) * Recip(A*B) -> Square(Recip(A)) * Recip(B)     [4mn -> 4mn, A loaded once]
@rule(
    "assoc_recip_square",
    "Recip(A) * Recip(A*B) -> Square(Recip(A)) * Recip(B)",
    A,
    Exactness.ROUNDING,
    "Mul",
)
def assoc_recip_square(node: ir.Node, ctx) -> Match:
    factors, nodes = product_tree(node)
    for i, j, pi, pj in _pairs(factors, "Reciprocal"):
        for r, other in ((pi, pj), (pj, pi)):
            prod = mt.producer(other.inputs[0], "Mul")
            if prod is None:
                continue
            for a, b in mt.operands(prod):
                if mt.same_value(a, r.inputs[0]):
                    ra = r.outputs[0]
                    new = [*_without(factors, i, j), E("Mul", ra, ra), E("Reciprocal", b)]
                    return Match(node, [*nodes, other, prod], [product(new)])
    raise NoMatch("no Recip(A) * Recip(A*B) pair among the factors")


# (A * sqrt(B)) * (sqrt(B) * C) -> A * B * C     [5mn -> 2mn], needs B >= 0
@rule(
    "assoc_sqrt_pair",
    "(A*sqrt(B)) * (sqrt(B)*C) -> A*B*C",
    A,
    Exactness.CONDITIONAL,
    "Mul",
    condition="B >= 0 (sqrt of a negative is NaN, B is not)",
)
def assoc_sqrt_pair(node: ir.Node, ctx) -> Match:
    factors, nodes = product_tree(node)
    for i, j, pi, pj in _pairs(factors, "Sqrt"):
        b = pi.inputs[0]
        if mt.same_value(b, pj.inputs[0]):
            ctx.condition(nonnegative(b), f"{b.name} may be negative")
            return Match(node, [*nodes, pi, pj], [product([*_without(factors, i, j), b])])
    raise NoMatch("no two sqrt(B) factors of the same B")


# Abs(A) * B * Abs(C) -> Abs(A*C) * B     [4mn -> 3mn]
@rule("assoc_abs_merge", "Abs(A) * B * Abs(C) -> Abs(A*C) * B", A, Exactness.ROUNDING, "Mul")
def assoc_abs_merge(node: ir.Node, ctx) -> Match:
    factors, nodes = product_tree(node)
    for i, j, pi, pj in _pairs(factors, "Abs"):
        merged = E("Abs", E("Mul", pi.inputs[0], pj.inputs[0]))
        return Match(node, [*nodes, pi, pj], [product([*_without(factors, i, j), merged])])
    raise NoMatch("fewer than two Abs factors")


# (A * R) * (R * C) -> A * Square(R) * C, R = ReduceSum(B)     [5mn -> 3mn + m]
# [ours] any repeated factor R smaller than the product qualifies; squaring it before the
# broadcast is what saves the work.
@rule(
    "assoc_square_reducesum",
    "(A*ReduceSum(B)) * (ReduceSum(B)*C) -> A * Square(ReduceSum(B)) * C",
    A,
    Exactness.ROUNDING,
    "Mul",
)
def assoc_square_reducesum(node: ir.Node, ctx) -> Match:
    factors, nodes = product_tree(node)
    size = mt.numel(node.outputs[0])
    for i, fi in enumerate(factors):
        if mt.is_constant(fi) or mt.numel(fi) >= size:
            continue
        for j in range(i + 1, len(factors)):
            if mt.same_value(fi, factors[j]):
                covered = [*nodes]
                twin = mt.producer(factors[j])
                if twin is not None and factors[j] is not fi:
                    covered.append(twin)
                new = [*_without(factors, i, j), E("Mul", fi, fi)]
                return Match(node, covered, [product(new)])
    raise NoMatch("no repeated factor smaller than the product")


RULES = [assoc_sqrt_pair, assoc_square_reducesum, assoc_abs_merge, assoc_recip_square]
