"""Reductions and the softmax family: Many-to-Many rows, most with a reduction anchor.

A reduction anchor is one loop over the kept elements around an inner reduction loop that
evaluates the fused prologue in place (``codegen/anchors/reduce.py``); the row gives the
anchor's kind. The ``axes`` input (opset 13/18) is read at compile time. The rewriter counts a
reduction as one operation per input element (paper Table 4 counts ReduceSum of an m×n tensor
as mn), a softmax as four.
"""

from __future__ import annotations

from compiler_core.ir.mapping import MappingType
from compiler_core.ir.ops.spec import AnchorRef, Flops, OpSpec, Prop, op

M2M = MappingType.MANY_TO_MANY
C = Prop.COMMUTATIVE
PER_INPUT = Flops("input", 1)


def reduction(name: str, kind: str | None, **kw) -> OpSpec:
    """A Reduce* row; ``kind`` is the reduction anchor's kind (``None``: no code generator)."""
    anchor = None if kind is None else AnchorRef("reduce:ReduceAnchor", (kind,))
    return op(name, M2M, anchor=anchor, const_inputs=(1,), flops=PER_INPUT, **kw)


ROWS = [
    reduction("ReduceSum", "sum", props=C, nonneg="if_all"),  # ReduceSum(BitShift(A)) = BitShift(ReduceSum(A))
    reduction("ReduceMean", "mean", props=C, nonneg="if_all"),
    reduction("ReduceMax", "max", nonneg="if_all"),
    reduction("ReduceMin", "min", nonneg="if_all"),
    reduction("ReduceSumSquare", "sumsquare", nonneg="always"),
    reduction("ReduceProd", None, props=C, nonneg="if_all"),  # ReduceProd(Exp(A)) = Exp(ReduceSum(A))
    reduction("ReduceL1", None, nonneg="always"),
    reduction("ReduceL2", None, nonneg="always"),
    *(reduction(name, None) for name in "ReduceLogSum ReduceLogSumExp".split()),
    op("Softmax", M2M, anchor=AnchorRef("reduce:SoftmaxAnchor", kwargs=(("log", False),)),
       flops=Flops("input", 4), nonneg="always"),
    op("LogSoftmax", M2M, anchor=AnchorRef("reduce:SoftmaxAnchor", kwargs=(("log", True),)),
       flops=Flops("input", 4)),
    *(op(name, M2M) for name in "Hardmax ArgMax ArgMin CumSum TopK".split()),
]
