"""Element-wise emitters: C expressions over operand expressions, most from the C templates
of the operators' registry rows (``compiler_core/ir/ops/elementwise.py``).

Operands are broadcast numpy-style to the output index. ``{0}``, ``{1}``… are the operands'
expressions (local variables), ``{a}`` an attribute literal. Float math uses the ``f``
functions of <math.h>, except exp, expm1, log, tanh, sigmoid, softplus, mish and erf: the
``dnf_*f`` helpers of ``codegen/c`` (branch-free C, so the loops vectorize; max errors of 1-5
ulp stated in :mod:`compiler_core.codegen.c.accuracy`); fast-math stays off.

Integer code is defined for every input, as ONNX Runtime computes it on x86-64: int32/int64
Add, Sub, Mul, Neg and Abs wrap around (computed in the unsigned type); a float cast to an
integer type that is NaN or out of range gives the type's minimum (the x86 "integer
indefinite"; int8/uint8 go through int32 like a C cast there). Div and Mod by zero, and Div of
the minimum by -1, compute with a safe divisor and report an error through the entry point
(:mod:`compiler_core.codegen.checks`): they never trap.
"""

from __future__ import annotations

import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.attrs import attr, unsupported
from compiler_core.codegen.cnames import CType, ctype_of, float_literal
from compiler_core.codegen.expr import ExprGen
from compiler_core.ir.ecg import value_shape
from compiler_core.ir.ops import OpSpec, specs
from compiler_core.target.abi import DIV_BY_ZERO, DIV_OVERFLOW, MOD_BY_ZERO

# The templates of the table-driven emitters come from the operators' registry rows
# (compiler_core/ir/ops/elementwise.py): op -> template over {0} (and {1}).


def _rows(emitter: str) -> list[OpSpec]:
    return [r for r in specs() if r.emitter == f"ops_elementwise:{emitter}"]


UNARY_FLOAT = {r.name: r.c_float for r in _rows("emit_unary") if r.c_float}  # float input
UNARY_ANY = {r.name: r.c for r in _rows("emit_unary") if r.c}  # any dtype (integer-safe)
BINARY = {r.name: r.c for r in _rows("emit_binary")}  # any numeric type
VARIADIC = {r.name: (r.c_float, r.c) for r in _rows("emit_variadic")}  # (float, integer) folds


# Integer types whose arithmetic can overflow a C int (narrower ones are promoted to int and
# cannot): operations wrap by computing in the unsigned type of the same width.
_UNSIGNED = {"int32_t": "uint32_t", "int64_t": "uint64_t"}
_SIGNED_MIN = {"int8_t": "INT8_MIN", "int32_t": "INT32_MIN", "int64_t": "INT64_MIN"}
WRAPPING = {"Add": "+", "Sub": "-", "Mul": "*"}


def _wrap(ct: CType, op: str, a: str, b: str) -> str:
    """``a op b`` in ``ct``, wrapping around on overflow (C: undefined for signed types)."""
    u = _UNSIGNED.get(ct.c)
    if u is None:
        return f"({a} {op} {b})"
    return f"(({ct.c})(({u}){a} {op} ({u}){b}))"


def _wrap_neg(ct: CType, a: str) -> str:
    u = _UNSIGNED.get(ct.c)
    return f"(-{a})" if u is None else f"(({ct.c})-({u}){a})"


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
    ct = ctype_of(node.inputs[0])
    if table is UNARY_ANY and ct.c in _UNSIGNED and node.op_type in ("Neg", "Abs"):
        neg = _wrap_neg(ct, x)  # -INT_MIN wraps to INT_MIN, as in ONNX Runtime
        return neg if node.op_type == "Neg" else f"({x} < 0 ? {neg} : {x})"
    return table[node.op_type].format(x)


def emit_binary(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    a, b = _operands(g, node, idx)
    ct = ctype_of(node.inputs[0])
    if not ct.is_float:
        if node.op_type == "Div":
            return _int_division(g, node, a, b, "/")
        if node.op_type in WRAPPING:
            return _wrap(ct, WRAPPING[node.op_type], a, b)
    return BINARY[node.op_type].format(a, b)


def _known_divisor(node: ir.Node) -> int | None:
    """The divisor when it is a one-element constant, else None."""
    v = node.inputs[1]
    if v.const_value is None or v.const_value.numpy().size != 1:
        return None
    return int(v.const_value.numpy().reshape(-1)[0])


def _int_division(g: ExprGen, node: ir.Node, a: str, b: str, op: str) -> str:
    """``a / b`` or ``a % b`` (C, truncating) that never traps: a zero divisor (and for Div
    the minimum divided by -1) sets the error flag and divides by 1 instead. For ``%`` a
    divisor of -1 is replaced by 1 (same remainder, 0) so ``INT_MIN % -1`` cannot trap."""
    ct = ctype_of(node.inputs[0])
    known = _known_divisor(node)
    if known is not None and known not in (0, -1):
        return f"({a} {op} {b})"  # a constant divisor that can neither be zero nor -1
    zero = g.names.fresh("t")
    g.line(f"const int {zero} = ({b} == 0);")
    g.check(zero, DIV_BY_ZERO if op == "/" else MOD_BY_ZERO)
    bad = zero
    low = _SIGNED_MIN.get(ct.c)
    if low is not None:
        minus_one = g.names.fresh("t")
        if op == "/":
            g.line(f"const int {minus_one} = ({a} == {low}) & ({b} == -1);")
            g.check(minus_one, DIV_OVERFLOW)
        else:
            g.line(f"const int {minus_one} = ({b} == -1);")
        bad = f"({zero} | {minus_one})"
    safe = g.temp(ct, f"({bad} ? 1 : {b})")
    return f"({a} {op} {safe})"


def emit_variadic(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    ops = _operands(g, node, idx)
    tmpl = VARIADIC[node.op_type][0 if _float_out(node) else 1]
    ct = ctype_of(node.outputs[0])
    acc = ops[0]
    for x in ops[1:]:
        if node.op_type in ("Sum", "Mean") and not ct.is_float:
            acc = _wrap(ct, "+", acc, x)
        else:
            acc = tmpl.format(acc, x)
    if node.op_type == "Mean":
        acc = f"({acc} / {len(ops)})" if not _float_out(node) else f"({acc} / {len(ops)}.0f)"
    return acc


def emit_mod(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    # fmod=1: C fmod/% (the remainder has the dividend's sign); fmod=0 (integers only): the
    # remainder has the divisor's sign, r = a % b, plus b when r and b differ in sign.
    a, b = _operands(g, node, idx)
    ct = ctype_of(node.inputs[0])
    fmod = int(attr(node, "fmod", 0))
    if ct.is_float:
        if not fmod:
            raise unsupported(node, "float Mod needs fmod=1 (ONNX)")
        return f"fmodf({a}, {b})"
    r = g.temp(ct, _int_division(g, node, a, b, "%"))
    if fmod or ct.c not in _SIGNED_MIN:
        return r
    return f"(({r} != 0 && (({r} < 0) != ({b} < 0))) ? ({ct.c})({r} + {b}) : {r})"


def emit_pow(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    a, b = _operands(g, node, idx)
    if not _float_out(node):
        raise unsupported(node, "integer Pow is not supported")
    if b == float_literal(2.0):
        return f"({a} * {a})"  # Pow(x, 2) -> x*x (exact)
    if b == float_literal(3.0):  # GELU's tanh form: x*x*x, as ONNX Runtime computes it
        return f"({a} * {a} * {a})"  # (two roundings; powf is a scalar libm call per element)
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
        return f"({x} >= 0.0f ? {x} : {_param(node, 'alpha', 1.0)} * dnf_expm1f({x}))"
    if op == "HardSigmoid":  # max(0, min(1, alpha*x + beta))
        t = f"({_param(node, 'alpha', 0.2)} * {x} + {_param(node, 'beta', 0.5)})"
        t = g.temp(ctype_of(node.outputs[0]), t)
        return f"({t} < 0.0f ? 0.0f : ({t} > 1.0f ? 1.0f : {t}))"
    if op == "HardSwish":  # x * max(0, min(1, x/6 + 1/2))
        t = g.temp(ctype_of(node.outputs[0]), f"({x} * {float_literal(1 / 6)} + 0.5f)")
        return f"({x} * ({t} < 0.0f ? 0.0f : ({t} > 1.0f ? 1.0f : {t})))"
    if op == "Gelu":
        if attr(node, "approximate", "none") == "tanh":
            # 0.5x(1 + tanh(u)) with u = sqrt(2/pi)(x + 0.044715x^3), computed as
            # x / (1 + e^(-2u)) (1 + tanh(u) = 2 / (1 + e^(-2u))): one dnf_expf, no
            # cancellation for negative x; x = -inf gives NaN as the ONNX formula does.
            k2 = float_literal(-2 * (2 / 3.141592653589793) ** 0.5)
            return (
                f"({x} / (1.0f + dnf_expf({k2} * ({x} + {float_literal(0.044715)}"
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
    ct = ctype_of(node.outputs[0])
    if ct.is_float:
        return f"({x} < 0.0f ? {slope} * {x} : {x})"
    return f"({x} < 0 ? {_wrap(ct, '*', slope, x)} : {x})"


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


# float -> integer: the range a C cast is defined on (else the x86 result: the minimum).
_FLOAT_TO_INT = {
    "int64_t": ("-9223372036854775808.0f", "9223372036854775808.0f", "INT64_MIN"),
    "int32_t": ("-2147483648.0f", "2147483648.0f", "INT32_MIN"),
}


def emit_cast(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    x = g.at(node.inputs[0], idx)
    out = ctype_of(node.outputs[0])
    if out.np.__name__ in ("bool", "bool_"):  # numpy 2 names np.bool_ "bool"
        return f"({x} != 0)"
    if ctype_of(node.inputs[0]).is_float and not out.is_float:
        # NaN fails both comparisons; int8/uint8 take int32's value modulo 256.
        lo, hi, low = _FLOAT_TO_INT.get(out.c, _FLOAT_TO_INT["int32_t"])
        wide = "int64_t" if out.c == "int64_t" else "int32_t"
        safe = f"(({x} >= {lo} && {x} < {hi}) ? ({wide}){x} : {low})"
        return safe if wide == out.c else f"({out.c}){safe}"
    return f"({out.c}){x}"
