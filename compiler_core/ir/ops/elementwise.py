"""Element-wise operators: one row each (mapping rule, properties, C template, cost, fold).

Element-wise rows follow the per-node broadcast rule [ours]: One-to-One when every data input
has the output's shape, One-to-Many when one is broadcast. C templates: ``{0}``, ``{1}`` are
the operands' expressions; ``c`` serves every dtype, ``c_float`` float operands (float math
uses the ``f`` functions of <math.h>, or for exp, log, tanh and what is built on them the
vectorizable ``dnf_*f`` helpers of ``codegen/c/`` with stated max errors; see ``codegen/ops_elementwise.py`` for the integer rules:
wrapping Add/Sub/Mul/Neg/Abs, checked Div/Mod). ``cost=4`` marks an expensive operation (a
division or a transcendental function). Properties (paper §4.2): A associative, C commutative,
D distributive, with the identity each one enables.
"""

from __future__ import annotations

import numpy as np

from compiler_core.ir.mapping import MappingType
from compiler_core.ir.ops.spec import FREE, OpSpec, Prop, Rule, op

O2O = MappingType.ONE_TO_ONE
A, C, D = Prop.ASSOCIATIVE, Prop.COMMUTATIVE, Prop.DISTRIBUTIVE
_EW = "ops_elementwise:"


def unary(name: str, c_float: str | None = None, c: str | None = None, **kw) -> OpSpec:
    """A unary row emitted from its templates (``c_float`` for float input, else ``c``)."""
    return op(name, O2O, rule=Rule.ELEMENTWISE, emitter=_EW + "emit_unary", c=c,
              c_float=c_float, **kw)


def binary(name: str, c: str, **kw) -> OpSpec:
    """A binary row, one template for every dtype."""
    return op(name, O2O, rule=Rule.ELEMENTWISE, emitter=_EW + "emit_binary", c=c, **kw)


def variadic(name: str, c_float: str, c: str, **kw) -> OpSpec:
    """A variadic fold (Max, Sum…): the template combines two operands at a time."""
    return op(name, O2O, rule=Rule.ELEMENTWISE, emitter=_EW + "emit_variadic", c=c,
              c_float=c_float, **kw)


def special(name: str, emitter: str | None, **kw) -> OpSpec:
    """An element-wise row with its own emitter function (``None``: no code generator)."""
    return op(name, O2O, rule=Rule.ELEMENTWISE,
              emitter=None if emitter is None else _EW + emitter, **kw)


def fixed(name: str, emitter: str, **kw) -> OpSpec:
    """One-to-One whatever its parameter shapes (per-channel parameters; the paper lists
    these as One-to-One)."""
    return op(name, O2O, emitter=_EW + emitter, **kw)


ROWS = [
    # -- unary, float template and integer template ---------------------------------------
    unary("Abs", "fabsf({0})", "({0} < 0 ? -{0} : {0})", props=A,  # Abs(A)*B*Abs(C) = Abs(A*C)*B
          numpy=np.abs, nonneg="always"),
    unary("Neg", "(-{0})", "(-{0})", props=C, numpy=np.negative),  # commutes with sums
    unary("Relu", "({0} > 0.0f ? {0} : 0.0f)", "({0} > 0 ? {0} : 0)", nonneg="always"),  # max(x, 0)
    unary("Sign", "(float)(({0} > 0.0f) - ({0} < 0.0f))", "(({0} > 0) - ({0} < 0))"),
    unary("Sigmoid", "dnf_sigmoidf({0})", cost=4, nonneg="always"),
    unary("Tanh", "dnf_tanhf({0})", cost=4),
    unary("Exp", "dnf_expf({0})", cost=4, props=C, nonneg="always"),  # ReduceProd(Exp(A)) = Exp(ReduceSum(A))
    unary("Log", "dnf_logf({0})", cost=4, props=C),
    unary("Sqrt", "sqrtf({0})", cost=4, props=A,  # (A*sqrt(B))*(sqrt(B)*C) = A*B*C, B >= 0
          numpy=np.sqrt, nonneg="always"),
    unary("Erf", "dnf_erff({0})", cost=4),
    unary("Reciprocal", "(1.0f / {0})", cost=4, props=A,  # Recip(A)Recip(AB) = Recip(A)^2 Recip(B)
          numpy=np.reciprocal),
    unary("Floor", "floorf({0})"),
    unary("Ceil", "ceilf({0})"),
    unary("Round", "nearbyintf({0})"),  # half to even under the default rounding mode
    unary("Sin", "sinf({0})", cost=4),
    unary("Cos", "cosf({0})", cost=4),
    unary("Tan", "tanf({0})", cost=4),
    unary("Atan", "atanf({0})", cost=4),
    unary("Softsign", "({0} / (1.0f + fabsf({0})))"),
    # log(1+e^x) without overflow: max(x, 0) + log1p(e^-|x|)
    unary("Softplus", "dnf_softplusf({0})", cost=4,
          nonneg="always"),
    unary("IsNaN", "isnan({0})"),
    unary("Not", c="(!{0})"),
    unary("Identity", c="{0}", index=True, cost=0, flops=FREE, nonneg="if_all"),
    # -- binary, one template for every dtype ------------------------------------------------
    binary("Add", "({0} + {1})", props=A | C | D, numpy=np.add, symmetric=True,
           nonneg="if_all"),  # x*b + x*c = x*(b+c)
    binary("Sub", "({0} - {1})", props=D, numpy=np.subtract),  # (a-b)*c = a*c - b*c
    binary("Mul", "({0} * {1})", props=A | C | D, numpy=np.multiply, symmetric=True,
           nonneg="if_all"),
    binary("Div", "({0} / {1})", props=D, cost=4, numpy=np.divide, nonneg="if_all"),  # (a+b)/c = a/c + b/c
    binary("Equal", "({0} == {1})", symmetric=True),
    binary("Less", "({0} < {1})"),
    binary("LessOrEqual", "({0} <= {1})"),
    binary("Greater", "({0} > {1})"),
    binary("GreaterOrEqual", "({0} >= {1})"),
    binary("And", "({0} && {1})", symmetric=True),
    binary("Or", "({0} || {1})", symmetric=True),
    binary("Xor", "(!{0} != !{1})", symmetric=True),
    # -- variadic folds: float template, integer template -------------------------------------
    variadic("Max", "fmaxf({0}, {1})", "({0} > {1} ? {0} : {1})", props=A | C,
             symmetric=True),
    variadic("Min", "fminf({0}, {1})", "({0} < {1} ? {0} : {1})", props=A | C,
             symmetric=True, nonneg="if_all"),
    variadic("Sum", "({0} + {1})", "({0} + {1})", props=A | C | D, symmetric=True,
             nonneg="if_all"),
    variadic("Mean", "({0} + {1})", "({0} + {1})", props=C, nonneg="if_all"),
    # -- their own emitters ----------------------------------------------------------------
    op("Pow", O2O, rule=Rule.ELEMENTWISE, emitter="ops_activation:emit_pow", cost=4, props=A),
    special("Mod", "emit_mod"),
    special("Where", "emit_where"),
    special("Cast", "emit_cast", flops=FREE),
    special("CastLike", "emit_cast", flops=FREE),
    special("LeakyRelu", "emit_param_unary"),
    special("Elu", "emit_param_unary", cost=4),
    special("HardSigmoid", "emit_param_unary", cost=4, nonneg="always"),
    special("HardSwish", "emit_param_unary", cost=4),
    special("Gelu", "emit_param_unary", cost=4),
    # inference Dropout is the identity; ratio and training_mode are read at compile time
    special("Dropout", "emit_dropout", const_inputs=(1, 2), index=True, cost=0, flops=FREE,
            training_random=True, nonneg="if_all"),
    fixed("Clip", "emit_clip"),
    fixed("PRelu", "emit_prelu"),
    fixed("BatchNormalization", "emit_batchnorm", cost=4),
    # -- element-wise, no code generator yet ------------------------------------------------
    *(special(name, None) for name in """
        BitwiseAnd BitwiseOr BitwiseXor BitwiseNot
    """.split()),
    # kept as written at import, to keep quantization information
    special("QuantizeLinear", None, keep=True),
    special("DequantizeLinear", None, keep=True),
    special("BitShift", None, props=C),  # ReduceSum(BitShift(A)) = BitShift(ReduceSum(A)), left
]
