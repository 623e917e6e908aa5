"""Table 3 of the paper, cell by cell, written out from shared/dnnfusion.md §2."""

import pytest

from compiler_core.ir.mapping import MappingType as T
from compiler_core.planner.table3 import Decision, fusion_cell

O2O, O2M, M2M, RE, SH = (T.ONE_TO_ONE, T.ONE_TO_MANY, T.MANY_TO_MANY, T.REORGANIZE, T.SHUFFLE)
F, P, N = "fuse", "profile", "never"

EXPECTED = [  # first, second, decision, result
    (O2O, O2O, F, O2O), (O2O, O2M, F, O2M), (O2O, M2M, F, M2M), (O2O, RE, F, RE), (O2O, SH, F, SH),
    (O2M, O2O, F, O2M), (O2M, O2M, P, O2M), (O2M, M2M, N, None), (O2M, RE, P, O2M),
    (O2M, SH, P, O2M),
    (M2M, O2O, F, M2M), (M2M, O2M, P, M2M), (M2M, M2M, N, None), (M2M, RE, P, M2M),
    (M2M, SH, P, M2M),
    (RE, O2O, F, RE), (RE, O2M, P, O2M), (RE, M2M, P, M2M), (RE, RE, F, RE), (RE, SH, F, RE),
    (SH, O2O, F, SH), (SH, O2M, P, O2M), (SH, M2M, P, M2M), (SH, RE, F, RE), (SH, SH, F, SH),
]  # fmt: skip


@pytest.mark.parametrize("first,second,decision,result", EXPECTED)
def test_cell(first, second, decision, result):
    cell = fusion_cell(first, second)
    assert cell.decision is Decision(decision)
    assert cell.result is result


@pytest.mark.parametrize("other", [O2O, O2M, M2M, RE, SH, T.OPAQUE])
def test_opaque_never_fuses(other):
    assert fusion_cell(T.OPAQUE, other).decision is Decision.NEVER
    assert fusion_cell(other, T.OPAQUE).decision is Decision.NEVER
