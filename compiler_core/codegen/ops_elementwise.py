"""Element-wise operators as rows of a table: C templates over operand expressions.

Operands are broadcast numpy-style to the output index. ``{0}``, ``{1}``… are the operands'
expressions (local variables), ``{a}`` an attribute literal. Float math uses the ``f``
functions of <math.h>; fast-math stays off, so results match ONNX Runtime to rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.attrs import attr, unsupported
from compiler_core.codegen.cnames import ctype_of, float_literal
from compiler_core.codegen.expr import ExprGen
from compiler_core.ir.ecg import value_shape

# Unary float operators: op -> template over {0}.
UNARY_FLOAT = {
    "Abs": "fabsf({0})",
    "Neg": "(-{0})",
    "Relu": "({0} > 0.0f ? {0} : 0.0f)",  # Relu: max(x, 0)
    "Sigmoid": "(1.0f / (1.0f + expf(-{0})))",
    "Tanh": "tanhf({0})",
    "Exp": "expf({0})",
    "Log": "logf({0})",
    "Sqrt": "sqrtf({0})",
    "Erf": "dnf_erff({0})",
    "Reciprocal": "(1.0f / {0})",
    "Floor": "floorf({0})",
    "Ceil": "ceilf({0})",
    "Round": "nearbyintf({0})",  # half to even under the default rounding mode
    "Sin": "sinf({0})",
    "Cos": "cosf({0})",
    "Tan": "tanf({0})",
    "Atan": "atanf({0})",
    "Sign": "(float)(({0} > 0.0f) - ({0} < 0.0f))",
    "Softsign": "({0} / (1.0f + fabsf({0})))",
    # Softplus: log(1+e^x) without overflow, as ONNX Runtime computes it
    "Softplus": "({0} > 0.0f ? {0} + log1pf(expf(-{0})) : log1pf(expf({0})))",
    "IsNaN": "isnan({0})",
}

# Unary integer-safe operators.
UNARY_ANY = {
    "Abs": "({0} < 0 ? -{0} : {0})",
    "Neg": "(-{0})",
    "Identity": "{0}",
    "Not": "(!{0})",
    "Sign": "(({0} > 0) - ({0} < 0))",
    "Relu": "({0} > 0 ? {0} : 0)",
}

# Binary operators (any numeric type unless the name says float).
BINARY = {
    "Add": "({0} + {1})",
    "Sub": "({0} - {1})",
    "Mul": "({0} * {1})",
    "Div": "({0} / {1})",
    "Equal": "({0} == {1})",
    "Less": "({0} < {1})",
    "LessOrEqual": "({0} <= {1})",
    "Greater": "({0} > {1})",
    "GreaterOrEqual": "({0} >= {1})",
    "And": "({0} && {1})",
    "Or": "({0} || {1})",
    "Xor": "(!{0} != !{1})",
}

# Variadic folds: op -> (float template, integer template) over {0}, {1}.
VARIADIC = {
    "Max": ("fmaxf({0}, {1})", "({0} > {1} ? {0} : {1})"),
    "Min": ("fminf({0}, {1})", "({0} < {1} ? {0} : {1})"),
    "Sum": ("({0} + {1})", "({0} + {1})"),
    "Mean": ("({0} + {1})", "({0} + {1})"),
}


def _operands(g: ExprGen, node: ir.Node, idx: ix.Index) -> list[str]:
    out_shape = value_shape(node.outputs[0])
    return [g.at_broadcast(v, idx, out_shape) for v in node.inputs if v is not None]


def _float_out(node: ir.Node) -> bool:
    return ctype_of(node.outputs[0]).is_float


def emit_unary(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    if pos != 0:
        raise unsupported(node, "only the first output is supported")
    x = g.at(node.inputs[0], idx)
    table = UNARY_FLOAT if ctype_of(node.inputs[0]).is_float else UNARY_ANY
    if node.op_type not in table:
        table = UNARY_ANY
    if node.op_type not in table:
        raise unsupported(node, "not supported for this dtype")
    return table[node.op_type].format(x)


def emit_binary(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    a, b = _operands(g, node, idx)
    return BINARY[node.op_type].format(a, b)


def emit_variadic(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    ops = _operands(g, node, idx)
    tmpl = VARIADIC[node.op_type][0 if _float_out(node) else 1]
    acc = ops[0]
    for x in ops[1:]:
        acc = tmpl.format(acc, x)
    if node.op_type == "Mean":
        acc = f"({acc} / {len(ops)})" if not _float_out(node) else f"({acc} / {len(ops)}.0f)"
    return acc


def emit_pow(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    a, b = _operands(g, node, idx)
    if not _float_out(node):
        raise unsupported(node, "integer Pow is not supported")
    if b == float_literal(2.0):
        return f"({a} * {a})"  # Pow(x, 2) -> x*x (exact)
    return f"powf({a}, (float){b})"


def emit_where(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    c, a, b = _operands(g, node, idx)
    return f"({c} ? {a} : {b})"


def emit_clip(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    # Clip(x, lo, hi): min(max(x, lo), hi) — hi wins when lo > hi (ONNX, ORT, numpy);
    # absent bounds are open.
    out_shape = value_shape(node.outputs[0])
    ins = list(node.inputs) + [None] * 3
    x = g.at(ins[0], idx)
    if ins[1] is not None:
        lo = g.at_broadcast(ins[1], idx, out_shape)
        x = g.temp(ctype_of(node.outputs[0]), f"({x} > {lo} ? {x} : {lo})")
    if ins[2] is not None:
        hi = g.at_broadcast(ins[2], idx, out_shape)
        x = f"({x} < {hi} ? {x} : {hi})"
    return x


def _param(node: ir.Node, name: str, default: float) -> str:
    return float_literal(float(attr(node, name, default)))


def emit_param_unary(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    if not _float_out(node):
        raise unsupported(node, "only float32 is supported")
    x = g.at(node.inputs[0], idx)
    op = node.op_type
    if op == "LeakyRelu":  # x >= 0 ? x : alpha*x
        return f"({x} >= 0.0f ? {x} : {_param(node, 'alpha', 0.01)} * {x})"
    if op == "Elu":  # x >= 0 ? x : alpha*(e^x - 1)
        return f"({x} >= 0.0f ? {x} : {_param(node, 'alpha', 1.0)} * expm1f({x}))"
    if op == "HardSigmoid":  # max(0, min(1, alpha*x + beta))
        t = f"({_param(node, 'alpha', 0.2)} * {x} + {_param(node, 'beta', 0.5)})"
        t = g.temp(ctype_of(node.outputs[0]), t)
        return f"({t} < 0.0f ? 0.0f : ({t} > 1.0f ? 1.0f : {t}))"
    if op == "HardSwish":  # x * max(0, min(1, x/6 + 1/2))
        t = g.temp(ctype_of(node.outputs[0]), f"({x} * {float_literal(1 / 6)} + 0.5f)")
        return f"({x} * ({t} < 0.0f ? 0.0f : ({t} > 1.0f ? 1.0f : {t})))"
    if op == "Gelu":
        if attr(node, "approximate", "none") == "tanh":
            # 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))
            k = float_literal((2 / 3.141592653589793) ** 0.5)
            return (
                f"(0.5f * {x} * (1.0f + tanhf({k} * ({x} + {float_literal(0.044715)}"
                f" * {x} * {x} * {x}))))"
            )
        if attr(node, "approximate", "none") != "none":
            raise unsupported(node, "unknown approximate mode")
        # 0.5x(1 + erf(x/sqrt 2))
        return f"(0.5f * {x} * (1.0f + dnf_erff({x} * {float_literal(0.5**0.5)})))"
    raise unsupported(node, "no emitter")  # pragma: no cover


def emit_prelu(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    # PRelu(x, slope): x < 0 ? slope*x : x, slope broadcast to x.
    x, slope = _operands(g, node, idx)
    zero = "0.0f" if _float_out(node) else "0"
    return f"({x} < {zero} ? {slope} * {x} : {x})"


def emit_batchnorm(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    # Inference BatchNormalization, per channel c = idx[1], as ONNX Runtime orders it:
    # s = scale[c] / sqrt(var[c] + eps); y = x*s + (B[c] - mean[c]*s).
    if pos != 0 or attr(node, "training_mode", 0):
        raise unsupported(node, "only inference mode (one output) is supported")
    if not _float_out(node):
        raise unsupported(node, "only float32 is supported")
    x_v, scale, bias, mean, var = list(node.inputs)[:5]
    rank = len(value_shape(x_v))
    c = (idx[1] if rank > 1 else "0",)
    ct = ctype_of(node.outputs[0])
    x = g.at(x_v, idx)
    eps = float_literal(float(attr(node, "epsilon", 1e-5)))
    inv = g.temp(ct, f"(1.0f / sqrtf({g.at(var, c)} + {eps}))")
    s = g.temp(ct, f"({inv} * {g.at(scale, c)})")
    return f"({x} * {s} + ({g.at(bias, c)} - {g.at(mean, c)} * {s}))"


def emit_dropout(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    # Inference Dropout (or ratio 0): output = x, mask = true. A training_mode that is not a
    # constant false with a ratio that may be non-zero is random: refused.
    ins = list(node.inputs) + [None] * 3

    def const(v, default):
        if v is None:
            return default
        return None if v.const_value is None else float(v.const_value.numpy().reshape(-1)[0])

    training, ratio = const(ins[2], 0.0), const(ins[1], 0.5)
    if training != 0.0 and ratio != 0.0:
        raise unsupported(node, "training_mode must be a constant false (random dropout)")
    if pos == 1:
        return "1"
    return g.at(ins[0], idx)


def emit_cast(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    x = g.at(node.inputs[0], idx)
    out = ctype_of(node.outputs[0])
    if out.np.__name__ == "bool_":
        return f"({x} != 0)"
    return f"({out.c}){x}"


Emitter = Callable[[ExprGen, ir.Node, int, ix.Index], str]

EMITTERS: dict[str, Emitter] = {}
for _op in set(UNARY_FLOAT) | set(UNARY_ANY):
    EMITTERS[_op] = emit_unary
for _op in BINARY:
    EMITTERS[_op] = emit_binary
for _op in VARIADIC:
    EMITTERS[_op] = emit_variadic
EMITTERS.update(
    {
        "Pow": emit_pow,
        "Where": emit_where,
        "Clip": emit_clip,
        "Cast": emit_cast,
        "CastLike": emit_cast,
        "LeakyRelu": emit_param_unary,
        "Elu": emit_param_unary,
        "HardSigmoid": emit_param_unary,
        "HardSwish": emit_param_unary,
        "Gelu": emit_param_unary,
        "PRelu": emit_prelu,
        "Dropout": emit_dropout,
        "BatchNormalization": emit_batchnorm,
    }
)
