"""Recognition of decomposed normalizations: Softmax and LayerNormalization.

Each is one Many-to-Many operator instead of five to nine nodes, and the fused op is the
numerically careful form (Softmax always subtracts the max). LayerNormalization is recognized
in its core form with scale 1, then a following ``Mul`` by gamma / ``Add`` of beta is absorbed by
two small rules; that covers torch's exports with and without the affine part.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from compiler_core.passes import matcher as mt
from compiler_core.passes.expr import Const, E
from compiler_core.passes.match import Match
from compiler_core.passes.nomatch import NoMatch, require
from compiler_core.passes.rule import Exactness, Kind, rule

R = Kind.RECOGNIZE


# Exp(x - ReduceMax(x, a)) / ReduceSum(Exp(..), a) -> Softmax(x, axis=a)
@rule(
    "recognize_softmax",
    "Exp(x - ReduceMax(x, a)) / ReduceSum(Exp(..), a) -> Softmax(x, axis=a)",
    R,
    Exactness.ROUNDING,
    "Div",
)
def recognize_softmax(node: ir.Node, ctx) -> Match:
    require(ctx.opset >= 13, "opset < 13")
    e = node.inputs[0]
    exp = mt.expect(e, "Exp")
    red = mt.expect(node.inputs[1], "ReduceSum")
    require(red.inputs[0] is e, "the sum is not over the same Exp")
    axes = mt.reduce_axes(red)
    require(len(axes) == 1 and mt.keepdims(red), "the sum is not over one kept axis")
    covered = [node, exp, red]
    x = exp.inputs[0]
    sub = mt.producer(x, "Sub")
    mx = mt.producer(sub.inputs[1], "ReduceMax") if sub is not None else None
    if sub is not None and mx is not None and mt.same_value(mx.inputs[0], sub.inputs[0]):
        require(mt.reduce_axes(mx) == axes and mt.keepdims(mx), "max over another axis")
        x = sub.inputs[0]
        covered += [sub, mx]
    require(mt.is_float(x) and mt.shape(x) == mt.shape(node.outputs[0]), "shape or dtype")
    return Match(
        node, covered, [E("Softmax", x, axis=axes[0], shape=mt.shape(x))], require_dead=True
    )


def _square_of(v: ir.Value) -> ir.Value:
    """d when v = d*d or d**2."""
    sq = mt.expect(v, "Pow", "Mul")
    d = sq.inputs[0]
    if sq.op_type == "Pow":
        require(mt.scalar(sq.inputs[1]) == 2.0, "Pow exponent is not 2")
    else:
        require(mt.same_value(d, sq.inputs[1]), "Mul is not a square")
    return d


# (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) -> LayerNormalization(x, 1, eps)
@rule(
    "recognize_layernorm",
    "(x-mean(x)) / sqrt(mean((x-mean(x))^2) + eps) -> LayerNormalization(x, scale=1, eps)",
    R,
    Exactness.ROUNDING,
    "Div Mul",
)
def recognize_layernorm(node: ir.Node, ctx) -> Match:
    require(ctx.opset >= 17, "opset < 17")
    covered = [node]
    if node.op_type == "Div":
        d, std = node.inputs[0], node.inputs[1]
    else:  # d * Reciprocal(Sqrt(..))
        pairs = [(d, rec) for d, r in mt.operands(node) if (rec := mt.producer(r, "Reciprocal"))]
        require(pairs, "no Reciprocal operand")
        d, rec = pairs[0]
        covered.append(rec)
        std = rec.inputs[0]
    sqrt = mt.expect(std, "Sqrt")
    add = mt.expect(sqrt.inputs[0], "Add")
    var = eps = None
    for v, c in mt.operands(add):
        if mt.scalar(c) is not None:
            var, eps = v, mt.scalar(c)
    require(var is not None and eps is not None and eps >= 0, "no Add of a scalar epsilon")
    var_n = mt.expect(var, "ReduceMean")
    d2 = _square_of(var_n.inputs[0])
    require(mt.same_value(d, d2), "variance of another tensor")
    sub = mt.expect(d, "Sub")
    x = sub.inputs[0]
    mean = mt.expect(sub.inputs[1], "ReduceMean")
    require(mt.same_value(mean.inputs[0], x), "mean of another tensor")
    shape = mt.shape(x)
    rank = len(shape)
    axes = mt.reduce_axes(mean)
    require(axes == mt.reduce_axes(var_n) and axes, "mean and variance over different axes")
    require(axes == tuple(range(rank - len(axes), rank)), "not over the trailing axes")
    require(mt.keepdims(mean) and mt.keepdims(var_n), "keepdims=0")
    require(mt.is_float(x) and shape == mt.shape(node.outputs[0]), "shape or dtype")
    covered += [sqrt, add, var_n, mt.expect(var_n.inputs[0], "Pow", "Mul"), sub, mean]
    if mt.producer(d2) is not None and d2 is not d:
        covered.append(mt.producer(d2))  # type: ignore[arg-type]
    axis = rank - len(axes)
    scale = Const(np.ones(shape[axis:], dtype=mt.dtype_np(x)))
    ln = E("LayerNormalization", x, scale, axis=axis, epsilon=float(eps), shape=shape)
    return Match(node, covered, [ln], require_dead=True)


def _affine_param(ln: ir.Node, c: ir.Value, out: ir.Value) -> np.ndarray:
    """``c`` as an array of the normalized shape; refuses a ``c`` that varies elsewhere."""
    arr = mt.const_array(c)
    require(arr is not None, "not a constant")
    assert arr is not None
    shape = mt.shape(ln.inputs[0])
    axis = int(mt.attr(ln, "axis", -1)) % len(shape)
    require(mt.shape(out) == shape and arr.ndim <= len(shape), "broadcasts the output")
    full = arr.reshape((1,) * (len(shape) - arr.ndim) + arr.shape)
    require(all(full.shape[i] == 1 for i in range(axis)), "varies along un-normalized axes")
    return np.broadcast_to(full.reshape(full.shape[axis:]), shape[axis:])


def _ln_operand(node: ir.Node) -> tuple[ir.Node, ir.Value]:
    for v, c in mt.operands(node):
        ln = mt.producer(v, "LayerNormalization")
        if ln is not None and mt.single_use(v) and len(ln.outputs) == 1 and mt.is_constant(c):
            return ln, c
    raise NoMatch("not LayerNormalization (single use) with a constant")


def _ln_params(ln: ir.Node) -> tuple[np.ndarray, np.ndarray | None]:
    scale = mt.const_array(ln.inputs[1])
    bias = mt.const_array(ln.inputs[2]) if len(ln.inputs) > 2 and ln.inputs[2] else None
    require(scale is not None, "scale is not constant")
    require(len(ln.inputs) < 3 or ln.inputs[2] is None or bias is not None, "bias not constant")
    return scale, bias  # type: ignore[return-value]


def _relayer(ln: ir.Node, scale: np.ndarray, bias: np.ndarray | None, shape) -> E:
    dt = mt.dtype_np(ln.inputs[0])
    ins = [ln.inputs[0], Const(np.ascontiguousarray(scale, dtype=dt))]
    if bias is not None:
        ins.append(Const(np.ascontiguousarray(bias, dtype=dt)))
    return E("LayerNormalization", *ins, shape=shape, **dict(ln.attributes))


# LayerNormalization(x, s, b) * g -> LayerNormalization(x, s*g, b*g)
@rule(
    "layernorm_scale",
    "LayerNormalization(x, s, b) * g -> LayerNormalization(x, s*g, b*g)",
    R,
    Exactness.ROUNDING,
    "Mul",
)
def layernorm_scale(node: ir.Node, ctx) -> Match:
    ln, c = _ln_operand(node)
    g = _affine_param(ln, c, node.outputs[0])
    scale, bias = _ln_params(ln)
    new = _relayer(ln, scale * g, None if bias is None else bias * g, mt.shape(node.outputs[0]))
    return Match(node, [node, ln], [new])


# LayerNormalization(x, s, b) + beta -> LayerNormalization(x, s, b + beta)
@rule(
    "layernorm_bias",
    "LayerNormalization(x, s, b) + beta -> LayerNormalization(x, s, b+beta)",
    R,
    Exactness.ROUNDING,
    "Add",
)
def layernorm_bias(node: ir.Node, ctx) -> Match:
    ln, c = _ln_operand(node)
    beta = _affine_param(ln, c, node.outputs[0])
    scale, bias = _ln_params(ln)
    new = _relayer(ln, scale, beta if bias is None else bias + beta, mt.shape(node.outputs[0]))
    return Match(node, [node, ln], [new])


RULES = [recognize_softmax, recognize_layernorm, layernorm_scale, layernorm_bias]
