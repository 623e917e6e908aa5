"""More element-wise emitters: parametrized activations, IsInf and integer Pow.

Float formulas as ONNX defines them (attributes are exact float literals):
Selu ``x > 0 ? gamma*x : gamma*(alpha*e^x - alpha)``; Celu ``max(0,x) + min(0, alpha*(e^(x/alpha) - 1))``
(``e^x - 1`` by ``dnf_expm1f``, the vectorizable helpers of ``codegen/c``);
Shrink ``x < -lambd ? x + bias : (x > lambd ? x - bias : 0)``; ThresholdedRelu
``x > alpha ? x : 0``; Mish ``x * tanh(softplus(x))`` (``dnf_mishf``, one e^x). IsInf honours ``detect_negative`` and
``detect_positive``. Integer Pow is exponentiation by squaring in the base's type (wrapping
like ONNX Runtime's integer arithmetic), a negative exponent giving 0 unless the base is
±1; a float exponent with an integer base is ``pow`` in double, truncated.
"""

from __future__ import annotations

import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.attrs import attr, unsupported
from compiler_core.codegen.cnames import ctype_of, float_literal
from compiler_core.codegen.expr import ExprGen
from compiler_core.codegen.ops_elementwise import emit_pow as emit_float_pow
from compiler_core.ir.ecg import value_shape


def _param(node: ir.Node, name: str, default: float) -> str:
    return float_literal(float(attr(node, name, default)))


def emit_activation(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    if not ctype_of(node.outputs[0]).is_float:
        raise unsupported(node, "only float32 is supported")
    x = g.at(node.inputs[0], idx)
    op = node.op_type
    if op == "Selu":
        a, gm = _param(node, "alpha", 1.67326319217681884765625), _param(
            node, "gamma", 1.05070102214813232421875)
        return f"({x} > 0.0f ? {gm} * {x} : {gm} * ({a} * dnf_expm1f({x})))"
    if op == "Celu":
        a = _param(node, "alpha", 1.0)
        # min(0, v) as a select (fminf is a libm call): a NaN v gives 0 as fminf did
        v = g.temp(ctype_of(node.outputs[0]), f"({a} * dnf_expm1f({x} / {a}))")
        return f"(({x} > 0.0f ? {x} : 0.0f) + ({v} < 0.0f ? {v} : 0.0f))"
    if op == "Shrink":
        lam, bias = _param(node, "lambd", 0.5), _param(node, "bias", 0.0)
        return (f"({x} < -{lam} ? {x} + {bias} : "
                f"({x} > {lam} ? {x} - {bias} : 0.0f))")
    if op == "ThresholdedRelu":
        return f"({x} > {_param(node, 'alpha', 1.0)} ? {x} : 0.0f)"
    if op == "Mish":
        return f"dnf_mishf({x})"
    raise unsupported(node, "no emitter")  # pragma: no cover


def emit_isinf(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    if not ctype_of(node.inputs[0]).is_float:
        raise unsupported(node, "only float32 input is supported")
    x = g.at(node.inputs[0], idx)
    neg, pos_ = int(attr(node, "detect_negative", 1)), int(attr(node, "detect_positive", 1))
    terms = ([f"({x} == (-INFINITY))"] if neg else []) + ([f"({x} == INFINITY)"] if pos_ else [])
    return "(" + " || ".join(terms) + ")" if terms else "0"


_UNSIGNED = {"int32_t": "uint32_t", "int64_t": "uint64_t"}


def emit_pow(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    """Pow of every dtype pair ONNX allows here: float bases as before, integer bases here."""
    out = ctype_of(node.outputs[0])
    if out.is_float:
        return emit_float_pow(g, node, pos, idx)
    shape = value_shape(node.outputs[0])
    a, b = (g.at_broadcast(v, idx, shape) for v in list(node.inputs)[:2])
    if ctype_of(node.inputs[1]).is_float:  # int base, float exponent: pow, then truncate
        return f"(({out.c})pow((double){a}, (double){b}))"
    u = _UNSIGNED.get(out.c)
    if u is None:
        raise unsupported(node, f"integer Pow of {out.c}")
    # Exponentiation by squaring in the unsigned type (wraps like ONNX Runtime).
    acc, base, e = g.names.fresh("t"), g.names.fresh("t"), g.names.fresh("t")
    g.line(f"{u} {acc} = 1, {base} = ({u}){a};")
    g.line(f"int64_t {e} = (int64_t){b};")
    g.line(f"if ({e} < 0) {{ {acc} = ({a} == 1) ? 1u : (({a} == -1) ? "
           f"(({e} & 1) ? ({u})-1 : 1u) : 0u); {e} = 0; }}")
    g.line(f"for (; {e} > 0; {e} >>= 1) {{ if ({e} & 1) {acc} *= {base}; {base} *= {base}; }}")
    return f"(({out.c}){acc})"
