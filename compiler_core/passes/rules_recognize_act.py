"""Recognition of decomposed activations: GELU (erf and tanh forms), HardSigmoid, HardSwish.

The arithmetic around the non-polynomial atom (``Erf``, ``Tanh``, ``Clip``) is read as a
polynomial (``poly.polynomial``), so every ordering exporters produce is one rule; constants are
checked within float tolerance 1e-6 before firing.
"""

from __future__ import annotations

import math

import onnx_ir as ir

from compiler_core.passes import matcher as mt
from compiler_core.passes import poly
from compiler_core.passes.expr import E
from compiler_core.passes.match import Match
from compiler_core.passes.nomatch import NoMatch, require
from compiler_core.passes.rule import Exactness, Kind, rule

R = Kind.RECOGNIZE
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
GELU_OUTER = {(1, 0): 0.5, (1, 1): 0.5}  # 0.5*x + 0.5*x*t  ==  x * 0.5 * (1 + t)


def _gelu(node: ir.Node, ctx, atom_op: str, inner: poly.Poly, approximate: str) -> Match:
    require(ctx.opset >= 20, "opset < 20 has no Gelu")
    out = node.outputs[0]
    require(mt.is_float(out), "not floating-point")
    atoms = poly.find_below(node, {atom_op})
    require(len(atoms) == 1, f"not exactly one {atom_op} under the product")
    t = atoms[0]
    for x in poly.leaf_candidates(t.inputs[0]):
        visited: list[ir.Node] = []
        u = poly.attempt(poly.polynomial, t.inputs[0], [x], visited)
        if u is None or not poly.equals(u, inner):
            continue
        outer = poly.attempt(poly.polynomial, out, [x, t.outputs[0]], visited)
        if outer is None or not poly.equals(outer, GELU_OUTER):
            continue
        require(mt.shape(x) == mt.shape(out), "a constant broadcasts x")
        gelu = E("Gelu", x, approximate=approximate, shape=mt.shape(out))
        return Match(node, [node, *visited, t], [gelu], require_dead=True)
    raise NoMatch(f"not x*0.5*(1+{atom_op}(...)) with the GELU constants")


# x * 0.5 * (1 + Erf(x / sqrt(2)))  (any ordering) -> Gelu(x)
@rule(
    "recognize_gelu",
    "x*0.5*(1+Erf(x/sqrt(2))) -> Gelu(x)",
    R,
    Exactness.ROUNDING,
    "Mul",
)
def recognize_gelu(node: ir.Node, ctx) -> Match:
    return _gelu(node, ctx, "Erf", {(1,): 1 / math.sqrt(2.0)}, "none")


# 0.5 * x * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 x^3))) -> Gelu(x, approximate="tanh")
@rule(
    "recognize_gelu_tanh",
    "x*0.5*(1+Tanh(sqrt(2/pi)*(x+0.044715*x^3))) -> Gelu(x, approximate='tanh')",
    R,
    Exactness.ROUNDING,
    "Mul",
)
def recognize_gelu_tanh(node: ir.Node, ctx) -> Match:
    inner = {(1,): SQRT_2_OVER_PI, (3,): SQRT_2_OVER_PI * 0.044715}
    return _gelu(node, ctx, "Tanh", inner, "tanh")


def _clip_bounds(clip: ir.Node) -> tuple[float, float]:
    lo = mt.scalar(clip.inputs[1]) if len(clip.inputs) > 1 and clip.inputs[1] else None
    hi = mt.scalar(clip.inputs[2]) if len(clip.inputs) > 2 and clip.inputs[2] else None
    require(lo is not None and hi is not None, "Clip bounds are not constant scalars")
    return lo, hi  # type: ignore[return-value]


def _linear_forms(clip: ir.Node):
    """Every (x, a, b, nodes) with Clip's input = a*x + b computed by ``nodes`` used only
    there, deepest x first (``Clip(x*a + b)`` is linear in both ``x`` and ``x*a``; the deepest
    variable covers the most nodes)."""
    u = clip.inputs[0]
    for x in reversed(poly.leaf_candidates(u)):
        nodes: list[ir.Node] = []
        p = poly.attempt(poly.polynomial, u, [x], nodes)
        if p is None or not set(p) <= {(0,), (1,)} or (1,) not in p:
            continue
        inside = {*nodes, clip}
        outs = [v for n in nodes for v in n.outputs]
        if all(use.node in inside for v in outs for use in v.uses()) and not any(
            v.is_graph_output() for v in outs
        ):
            yield x, p[(1,)], p.get((0,), 0.0), nodes
    yield u, 1.0, 0.0, []  # u itself (a bias folded into a Conv leaves Clip(conv, 0, 6) / 6)


def _single_clip(node: ir.Node) -> ir.Node:
    if node.op_type == "Clip":
        return node
    clips = poly.find_below(node, {"Clip"})
    require(len(clips) == 1, "not exactly one Clip under the product")
    return clips[0]


# Clip(a*x + b, 0, 1) -> HardSigmoid(x, a, b);  k * Clip(a*x + b, 0, 1/k) -> HardSigmoid(x, ka, kb)
# (so Clip(x + 3, 0, 6) / 6 -> HardSigmoid(x, 1/6, 1/2))
@rule(
    "recognize_hardsigmoid",
    "Clip(a*x+b, 0, 1) -> HardSigmoid(x, a, b); Clip(x+3, 0, 6)/6 -> HardSigmoid(x, 1/6, 1/2)",
    R,
    Exactness.ROUNDING,
    "Clip Mul Div",
)
def recognize_hardsigmoid(node: ir.Node, ctx) -> Match:
    out = node.outputs[0]
    require(mt.is_float(out), "not floating-point")
    clip = _single_clip(node)
    visited: list[ir.Node] = [node, clip]
    k = 1.0
    if node is not clip:
        p = poly.polynomial(out, [clip.outputs[0]], visited)
        require(set(p) == {(1,)} and p[(1,)] > 0, "not a positive multiple of the Clip")
        k = p[(1,)]
    lo, hi = _clip_bounds(clip)
    require(mt.close(lo, 0.0) and mt.close(k * hi, 1.0), "Clip range is not [0, 1/k]")
    for x, a, b, nodes in _linear_forms(clip):
        if mt.shape(x) != mt.shape(out) or (node is clip and not nodes):
            continue  # HardSigmoid(x, 1, 0) would just be Clip(x, 0, 1) again
        hs = E("HardSigmoid", x, alpha=float(k * a), beta=float(k * b), shape=mt.shape(out))
        return Match(node, visited + nodes, [hs], require_dead=True)
    raise NoMatch("Clip input is not a*x + b")


def _is_hardswish_params(alpha: float, beta: float) -> bool:
    return mt.close(alpha, 1 / 6) and mt.close(beta, 0.5)


# x * Clip(x + 3, 0, 6) / 6 -> HardSwish(x)    (any ordering of the product)
@rule(
    "recognize_hardswish",
    "x * Clip(x+3, 0, 6) / 6 -> HardSwish(x)",
    R,
    Exactness.ROUNDING,
    "Mul Div",
)
def recognize_hardswish(node: ir.Node, ctx) -> Match:
    require(ctx.opset >= 14, "opset < 14 has no HardSwish")
    out = node.outputs[0]
    require(mt.is_float(out), "not floating-point")
    clip = _single_clip(node)
    lo, hi = _clip_bounds(clip)
    require(mt.close(lo, 0.0), "Clip minimum is not 0")
    for x, a, b, nodes in _linear_forms(clip):
        visited: list[ir.Node] = [node, clip, *nodes]
        p = poly.attempt(poly.polynomial, out, [x, clip.outputs[0]], visited)
        if p is None or set(p) != {(1, 1)} or p[(1, 1)] <= 0:
            continue
        k = p[(1, 1)]
        require(mt.close(k * hi, 1.0), "Clip range is not [0, 1/k]")
        require(_is_hardswish_params(k * a, k * b), "not the HardSwish constants (1/6, 1/2)")
        require(mt.shape(x) == mt.shape(out), "a constant broadcasts x")
        return Match(node, visited, [E("HardSwish", x, shape=mt.shape(out))], require_dead=True)
    raise NoMatch("not k * x * Clip(a*x + b, 0, 1/k)")


# x * HardSigmoid(x, 1/6, 1/2) -> HardSwish(x)
@rule(
    "hardsigmoid_to_hardswish",
    "x * HardSigmoid(x, 1/6, 1/2) -> HardSwish(x)",
    R,
    Exactness.ROUNDING,
    "Mul",
)
def hardsigmoid_to_hardswish(node: ir.Node, ctx) -> Match:
    require(ctx.opset >= 14, "opset < 14 has no HardSwish")
    for x, h in mt.operands(node):
        hs = mt.producer(h, "HardSigmoid")
        if hs is None or not mt.same_value(hs.inputs[0], x):
            continue
        alpha, beta = mt.attr(hs, "alpha", 0.2), mt.attr(hs, "beta", 0.5)
        require(_is_hardswish_params(alpha, beta), "HardSigmoid constants are not (1/6, 1/2)")
        require(mt.shape(x) == mt.shape(node.outputs[0]), "broadcast")
        return Match(node, [node, hs], [E("HardSwish", x, shape=mt.shape(x))], require_dead=True)
    raise NoMatch("not x * HardSigmoid(x)")


RULES = [
    recognize_gelu,
    recognize_gelu_tanh,
    recognize_hardswish,
    recognize_hardsigmoid,
    hardsigmoid_to_hardswish,
]
