"""Per-operator facts the ECG needs: the mapping-type rule and the algebraic properties.

Sources: DNNFusion Table 2 (§3.1) and the project's decisions in ``shared/dnnfusion.md`` §1.
Only the default ONNX domain (``""`` / ``ai.onnx``) is known; anything else is Opaque.

``ELEMENTWISE`` operators follow the per-node broadcast rule [ours]: One-to-One when every data
input has the output's shape, One-to-Many when one is broadcast.
"""

from __future__ import annotations

import enum

from compiler_core.ir.mapping import MappingType

M = MappingType


class Rule(enum.Enum):
    """How a node's mapping type is decided."""

    FIXED = "fixed"  # the operator's type does not depend on shapes
    ELEMENTWISE = "elementwise"  # O2O, or O2M when a data input is broadcast


class Prop(enum.Flag):
    """Algebraic properties used by graph rewriting (paper §4.2)."""

    NONE = 0
    ASSOCIATIVE = enum.auto()
    COMMUTATIVE = enum.auto()
    DISTRIBUTIVE = enum.auto()


A, C, D = Prop.ASSOCIATIVE, Prop.COMMUTATIVE, Prop.DISTRIBUTIVE

_ELEMENTWISE_UNARY = """
Abs Acos Acosh Asin Asinh Atan Atanh Ceil Cos Cosh Elu Erf Exp Floor Gelu HardSigmoid HardSwish
IsInf IsNaN LeakyRelu Log Mish Neg Not Reciprocal Relu Round Selu Shrink Sigmoid Sign Sin Sinh
Softplus Softsign Sqrt Tan Tanh ThresholdedRelu Celu Identity Dropout Cast CastLike
QuantizeLinear DequantizeLinear Trilu
""".split()

_ELEMENTWISE_NARY = """
Add Sub Mul Div Pow Mod Max Min Sum Mean And Or Xor Equal Less LessOrEqual Greater
GreaterOrEqual Where BitShift BitwiseAnd BitwiseOr BitwiseXor BitwiseNot
""".split()

# Listed by the paper as One-to-One whatever their parameter shapes (per-channel parameters).
_FIXED_O2O = "BatchNormalization PRelu Clip Concat Split Slice".split()

_O2M = "Expand Gather Resize Upsample Tile GatherElements GatherND Pad".split()

_M2M = """
AveragePool Conv ConvTranspose CumSum Einsum Gemm InstanceNormalization MaxPool MatMul
GlobalAveragePool GlobalMaxPool LpPool ArgMax ArgMin Softmax LogSoftmax Hardmax
LayerNormalization GroupNormalization LRN LpNormalization TopK ReduceSum ReduceMean ReduceMax
ReduceMin ReduceProd ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceSumSquare
""".split()

_REORGANIZE = "Flatten Reshape Squeeze Unsqueeze".split()
_SHUFFLE = "DepthToSpace SpaceToDepth Transpose".split()

# Named Opaque by shared/dnnfusion.md; any operator not in this table is Opaque as well.
_OPAQUE = """
Shape Size NonZero NonMaxSuppression Scatter ScatterND ScatterElements Loop If Scan Range
RandomNormal RandomNormalLike RandomUniform RandomUniformLike Multinomial Bernoulli
ConstantOfShape Constant
""".split()

_PROPERTIES: dict[str, Prop] = {
    "Add": A | C | D,  # (a+b)+c = a+(b+c); a+b = b+a; outer op of x*b + x*c
    "Sum": A | C | D,
    "Mul": A | C | D,  # x*(b+c) = x*b + x*c
    "Sub": D,  # (a-b)*c = a*c - b*c
    "Div": D,  # (a+b)/c = a/c + b/c
    "Max": A | C,
    "Min": A | C,
    "Mean": C,
    "Neg": C,  # commutes with reductions and products up to sign
    "Reciprocal": A,  # Recip(A)*Recip(A*B) = Square(Recip(A))*Recip(B)
    "Sqrt": A,  # (A*sqrt(B))*(sqrt(B)*C) = A*B*C for B >= 0
    "Abs": A,  # Abs(A)*B*Abs(C) = Abs(A*C)*B
    "Pow": A,
    "Exp": C,  # ReduceProd(Exp(A)) = Exp(ReduceSum(A))
    "Log": C,
    "BitShift": C,  # ReduceSum(BitShift(A)) = BitShift(ReduceSum(A)) for left shifts
    "ReduceSum": C,
    "ReduceProd": C,
    "ReduceMean": C,
    "MatMul": A | D,  # (AB)C = A(BC); AB + AC = A(B+C)
}


def _table() -> dict[str, tuple[Rule, MappingType]]:
    table: dict[str, tuple[Rule, MappingType]] = {}
    for op in _ELEMENTWISE_UNARY + _ELEMENTWISE_NARY:
        table[op] = (Rule.ELEMENTWISE, M.ONE_TO_ONE)
    for ops, mtype in (
        (_FIXED_O2O, M.ONE_TO_ONE),
        (_O2M, M.ONE_TO_MANY),
        (_M2M, M.MANY_TO_MANY),
        (_REORGANIZE, M.REORGANIZE),
        (_SHUFFLE, M.SHUFFLE),
        (_OPAQUE, M.OPAQUE),
    ):
        for op in ops:
            table[op] = (Rule.FIXED, mtype)
    return table


OP_TABLE: dict[str, tuple[Rule, MappingType]] = _table()

ONNX_DOMAINS = ("", "ai.onnx")


def op_rule(domain: str, op_type: str) -> tuple[Rule, MappingType]:
    """The mapping-type rule of an operator; unknown domains and operators are Opaque."""
    if domain not in ONNX_DOMAINS:
        return Rule.FIXED, M.OPAQUE
    return OP_TABLE.get(op_type, (Rule.FIXED, M.OPAQUE))


def op_properties(domain: str, op_type: str) -> Prop:
    """Algebraic properties of an operator (paper §4.2); ``Prop.NONE`` cuts rewrite sub-graphs."""
    if domain not in ONNX_DOMAINS:
        return Prop.NONE
    return _PROPERTIES.get(op_type, Prop.NONE)


def is_elementwise(op_type: str) -> bool:
    """True for operators whose output element i depends only on input elements at index i
    (after broadcasting)."""
    rule = OP_TABLE.get(op_type)
    return rule is not None and rule[0] is Rule.ELEMENTWISE
