"""Per-channel affine maps folded into the Conv / ConvTranspose / Gemm before them.

``BN(y) = y*s + (bias - mean*s)`` with ``s = scale / sqrt(var + eps)`` per channel (axis 1).
After a Conv / ConvTranspose / Gemm whose output feeds only the BN, ``s`` scales the weights and
the shift becomes the bias; otherwise BN becomes an element-wise Mul+Add. A ``Mul`` / ``Add`` by
a per-channel constant after such a producer is folded the same way [ours] (PaddleOCR's
"learnable affine" blocks, a bias Add after a bias-less ConvTranspose). New constants are
computed in float64 and cast to the weights' dtype.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from compiler_core.passes import matcher as mt
from compiler_core.passes.expr import Const, E
from compiler_core.passes.match import Match
from compiler_core.passes.nomatch import NoMatch, require
from compiler_core.passes.rule import Exactness, Kind, rule

K = Kind.CLEANUP


def _bn_params(bn: ir.Node) -> tuple[np.ndarray, np.ndarray]:
    """(s, t) per channel, float64: BN(y) = y*s + t."""
    require(not mt.attr(bn, "training_mode", 0), "training mode")
    require(all(not o.uses() and not o.is_graph_output() for o in bn.outputs[1:]), "stats used")
    arrays = [mt.const_array(v) for v in bn.inputs[1:5]]
    require(all(a is not None for a in arrays), "parameters are not constant")
    scale, bias, mean, var = (np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays)  # type: ignore[arg-type]
    eps = float(mt.attr(bn, "epsilon", 1e-5))
    s = scale / np.sqrt(var + eps)
    return s, bias - mean * s


def _const(arr: np.ndarray, like: ir.Value) -> Const:
    return Const(np.ascontiguousarray(arr.astype(mt.dtype_np(like))))


def _fold_conv(prod: ir.Node, s: np.ndarray, t: np.ndarray, out_shape) -> E:
    x, w = prod.inputs[0], prod.inputs[1]
    b = prod.inputs[2] if len(prod.inputs) > 2 else None
    w_arr = mt.const_array(w)
    b_arr = np.zeros(len(s)) if b is None else mt.const_array(b)
    require(w_arr is not None and b_arr is not None, "weights are not constant")
    assert w_arr is not None and b_arr is not None
    w64 = w_arr.astype(np.float64)
    b_new = (b_arr.astype(np.float64) * s) + t
    attrs = dict(prod.attributes)
    if np.all(s == 1.0):  # a bias-only fold keeps the weights
        return E(prod.op_type, x, w, _const(b_new, w), shape=out_shape, **attrs)
    if prod.op_type == "Conv":
        w_new = w64 * s.reshape((-1,) + (1,) * (w64.ndim - 1))
    else:  # ConvTranspose: W is [C_in, M/group, k...]
        g = int(mt.attr(prod, "group", 1))
        parts = w64.reshape((g, w64.shape[0] // g) + w64.shape[1:])
        scale = s.reshape((g, 1, w64.shape[1]) + (1,) * (w64.ndim - 2))
        w_new = (parts * scale).reshape(w64.shape)
    return E(prod.op_type, x, _const(w_new, w), _const(b_new, w), shape=out_shape, **attrs)


def _fold_gemm(prod: ir.Node, s: np.ndarray, t: np.ndarray, out_shape) -> E:
    a, w = prod.inputs[0], prod.inputs[1]
    c = prod.inputs[2] if len(prod.inputs) > 2 else None
    w_arr = mt.const_array(w)
    c_arr = np.zeros(1) if c is None else mt.const_array(c)
    require(w_arr is not None and c_arr is not None, "weights are not constant")
    assert w_arr is not None and c_arr is not None
    alpha = float(mt.attr(prod, "alpha", 1.0))
    beta = float(mt.attr(prod, "beta", 1.0)) if c is not None else 0.0
    trans_b = int(mt.attr(prod, "transB", 0))
    c_new = (beta * c_arr.astype(np.float64)) * s + t  # broadcasts over [.., M]
    attrs = {k: v for k, v in prod.attributes.items() if k in ("transA", "transB")}
    if alpha == 1.0 and np.all(s == 1.0):  # a bias-only fold keeps the weights
        return E("Gemm", a, w, _const(c_new, w), shape=out_shape, **attrs)
    w64 = w_arr.astype(np.float64) * alpha
    w_new = w64 * (s[:, None] if trans_b else s[None, :])
    return E("Gemm", a, _const(w_new, w), _const(c_new, w), shape=out_shape, **attrs)


# BN(Conv(x, W, b)) -> Conv(x, W*s, b*s + t)    (also ConvTranspose, Gemm)
@rule(
    "batchnorm_into_conv",
    "BN(Conv(x, W, b)) -> Conv(x, W*s, (b-mean)*s + bias), s = scale/sqrt(var+eps)",
    K,
    Exactness.ROUNDING,
    "BatchNormalization",
)
def batchnorm_into_conv(node: ir.Node, ctx) -> Match:
    prod = mt.expect(node.inputs[0], "Conv", "ConvTranspose", "Gemm")
    require(mt.single_use(node.inputs[0]), f"{prod.name}'s output has other consumers")
    s, t = _bn_params(node)
    out_shape = mt.shape(node.outputs[0])
    require(len(s) == out_shape[1], "channel count mismatch")
    fold = _fold_gemm if prod.op_type == "Gemm" else _fold_conv
    replacement = [fold(prod, s, t, out_shape)] + [None] * (len(node.outputs) - 1)
    return Match(node, [node, prod], replacement)


# BN(x) -> x*s + t    (per-channel constants, stays element-wise)
@rule(
    "batchnorm_to_mul_add",
    "BN(x) -> x*s + t, s = scale/sqrt(var+eps), t = bias - mean*s",
    K,
    Exactness.ROUNDING,
    "BatchNormalization",
)
def batchnorm_to_mul_add(node: ir.Node, ctx) -> Match:
    x = node.inputs[0]
    s, t = _bn_params(node)
    rank = len(mt.shape(x))
    require(rank >= 2, "input rank < 2")
    per_channel = (-1,) + (1,) * (rank - 2)
    mul = E("Mul", x, _const(s.reshape(per_channel), x))
    replacement = [E("Add", mul, _const(t.reshape(per_channel), x))]
    return Match(node, [node], replacement + [None] * (len(node.outputs) - 1))


def _channel_vector(c: ir.Value, out: ir.Value) -> np.ndarray:
    """A constant that varies only along axis 1 of ``out``, as a float64 vector of channels."""
    arr = mt.const_array(c)
    require(arr is not None, "not a constant")
    assert arr is not None
    shape = mt.shape(out)
    require(arr.ndim <= len(shape) and len(shape) >= 2, "constant of higher rank")
    full = arr.reshape((1,) * (len(shape) - arr.ndim) + arr.shape)
    require(all(d == 1 for i, d in enumerate(full.shape) if i != 1), "not per-channel")
    return np.broadcast_to(full.reshape(-1).astype(np.float64), (shape[1],))


def _affine_fold(node: ir.Node, op: str) -> Match:
    for y, c in mt.operands(node):
        prod = mt.producer(y, "Conv", "ConvTranspose", "Gemm")
        if prod is None or not mt.is_constant(c):
            continue
        require(mt.single_use(y), f"{prod.name}'s output has other consumers")
        out_shape = mt.shape(node.outputs[0])
        require(out_shape == mt.shape(y), "the constant broadcasts the output")
        v = _channel_vector(c, y)
        s, t = (v, np.zeros_like(v)) if op == "Mul" else (np.ones_like(v), v)
        fold = _fold_gemm if prod.op_type == "Gemm" else _fold_conv
        return Match(node, [node, prod], [fold(prod, s, t, out_shape)])
    raise NoMatch(f"not Conv/ConvTranspose/Gemm {op} a constant")


# Conv(x, W, b) * s -> Conv(x, W*s, b*s), s per output channel
@rule(
    "conv_mul_fold",
    "Conv(x, W, b) * s -> Conv(x, W*s, b*s), s per output channel",
    K,
    Exactness.ROUNDING,
    "Mul",
)
def conv_mul_fold(node: ir.Node, ctx) -> Match:
    return _affine_fold(node, "Mul")


# Conv(x, W, b) + t -> Conv(x, W, b+t), t per output channel
@rule(
    "conv_add_fold",
    "Conv(x, W, b) + t -> Conv(x, W, b+t), t per output channel",
    K,
    Exactness.ROUNDING,
    "Add",
)
def conv_add_fold(node: ir.Node, ctx) -> Match:
    return _affine_fold(node, "Add")


RULES = [batchnorm_into_conv, batchnorm_to_mul_add, conv_mul_fold, conv_add_fold]
