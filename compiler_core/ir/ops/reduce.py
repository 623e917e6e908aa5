"""Reductions and the softmax family: Many-to-Many rows, most with a reduction anchor.

A reduction anchor is one loop over the kept elements around an inner reduction loop that
evaluates the fused prologue in place (``codegen/anchors/reduce.py``); the row's
:class:`Reduction` gives its C (start value, step, OpenMP clause, final value). The ``axes``
input (opset 13/18) is read at compile time. The rewriter counts a
reduction as one operation per input element (paper Table 4 counts ReduceSum of an m×n tensor
as mn), a softmax as four.
"""

from __future__ import annotations

from compiler_core.ir.mapping import MappingType
from compiler_core.ir.ops.spec import AnchorRef, Flops, OpSpec, Prop, Reduction, op

M2M = MappingType.MANY_TO_MANY
C = Prop.COMMUTATIVE
PER_INPUT = Flops("input", 1)


# The reductions (also used by the global pooling rows).
SUM = Reduction(0, "{acc} += {v};", "+")
MEAN = Reduction(0, "{acc} += {v};", "+", finish="{acc} / {n}")
MAX = Reduction("lowest", "{acc} = {v} > {acc} ? {v} : {acc};", "max", float_only=False)
MIN = Reduction("highest", "{acc} = {v} < {acc} ? {v} : {acc};", "min", float_only=False)
SUM_SQUARE = Reduction(0, "{acc} += {v} * {v};", "+")
PROD = Reduction(1, "{acc} *= {v};", "*")
L1 = Reduction(0, "{acc} += fabsf({v});", "+")
L2 = Reduction(0, "{acc} += {v} * {v};", "+", finish="sqrtf({acc})")
LOG_SUM = Reduction(0, "{acc} += {v};", "+", finish="logf({acc})")


def reduction(name: str, reduce: Reduction | None, **kw) -> OpSpec:
    """A Reduce* row over its ``axes`` input; ``reduce=None``: no code generator yet."""
    anchor = None if reduce is None else AnchorRef("reduce_extra:ReductionAnchor", (reduce,))
    return op(name, M2M, anchor=anchor, const_inputs=(1,), flops=PER_INPUT, **kw)


ROWS = [
    reduction("ReduceSum", SUM, props=C, nonneg="if_all"),  # ReduceSum(BitShift(A)) = BitShift(ReduceSum(A))
    reduction("ReduceMean", MEAN, props=C, nonneg="if_all"),
    reduction("ReduceMax", MAX, nonneg="if_all"),
    reduction("ReduceMin", MIN, nonneg="if_all"),
    reduction("ReduceSumSquare", SUM_SQUARE, nonneg="always"),
    reduction("ReduceProd", PROD, props=C, nonneg="if_all"),  # ReduceProd(Exp(A)) = Exp(ReduceSum(A))
    reduction("ReduceL1", L1, nonneg="always"),
    reduction("ReduceL2", L2, nonneg="always"),
    reduction("ReduceLogSum", LOG_SUM),
    op("ReduceLogSumExp", M2M, anchor=AnchorRef("reduce_extra:LogSumExpAnchor", (SUM,)),
       const_inputs=(1,), flops=PER_INPUT),  # max-shifted: codegen/anchors/reduce_extra.py
    op("Softmax", M2M, anchor=AnchorRef("reduce:SoftmaxAnchor", kwargs=(("log", False),)),
       flops=Flops("input", 4), nonneg="always"),
    op("LogSoftmax", M2M, anchor=AnchorRef("reduce:SoftmaxAnchor", kwargs=(("log", True),)),
       flops=Flops("input", 4)),
    # Hardmax, ArgMax, ArgMin, CumSum, TopK: selection.py
]
