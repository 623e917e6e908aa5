"""Many-to-Many rows added for operator coverage: Hardmax, ArgMax/ArgMin, TopK, CumSum, Einsum.

Each is the anchor of its block (``codegen/anchors/select.py``, ``cumsum.py``,
``einsum.py``): an output element depends on a whole row of its input (paper Table 2,
Many-to-Many). TopK's ``k`` and CumSum's ``axis`` are read at compile time.
"""

from __future__ import annotations

from compiler_core.ir.mapping import MappingType
from compiler_core.ir.ops.spec import AnchorRef, Flops, op

M2M = MappingType.MANY_TO_MANY
PER_INPUT = Flops("input", 1)

ROWS = [
    op("Hardmax", M2M, anchor=AnchorRef("select:HardmaxAnchor"), flops=Flops("input", 2)),
    op("ArgMax", M2M, anchor=AnchorRef("select:ArgAnchor", (True,)), flops=PER_INPUT),
    op("ArgMin", M2M, anchor=AnchorRef("select:ArgAnchor", (False,)), flops=PER_INPUT),
    op("TopK", M2M, anchor=AnchorRef("select:TopKAnchor"), const_inputs=(1,), flops=PER_INPUT),
    op("CumSum", M2M, anchor=AnchorRef("cumsum:CumSumAnchor"), const_inputs=(1,),
       flops=PER_INPUT),
    op("Einsum", M2M, anchor=AnchorRef("einsum:EinsumAnchor")),
]
