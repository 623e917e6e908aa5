"""Fusion analysis table (DNNFusion Table 3) keyed on mapping types.

Rows: the producer (first) operator or block; columns: the consumer (second). Each cell gives the
decision and the mapping type of the fused result. Cells marked [ours] are the project's choices
where the paper's table is blank (shared/dnnfusion.md §2).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from compiler_core.ir.mapping import MappingType


class Decision(enum.Enum):
    FUSE = "fuse"  # green: legal and profitable, no further analysis
    PROFILE = "profile"  # yellow: legal, fuse only if the cost model says it is faster
    NEVER = "never"  # red: illegal or never profitable


@dataclass(frozen=True)
class Cell:
    decision: Decision
    result: MappingType | None  # mapping type of the fused block (None for NEVER)


O2O, O2M, M2M = MappingType.ONE_TO_ONE, MappingType.ONE_TO_MANY, MappingType.MANY_TO_MANY
REORG, SHUF, OPAQUE = MappingType.REORGANIZE, MappingType.SHUFFLE, MappingType.OPAQUE
F, P, N = Decision.FUSE, Decision.PROFILE, Decision.NEVER

_ROWS = (O2O, O2M, M2M, REORG, SHUF)
# fmt: off
_TABLE = {
    #          One-to-One      One-to-Many     Many-to-Many   Reorganize       Shuffle
    O2O:   ((F, O2O),      (F, O2M),       (F, M2M),      (F, REORG),      (F, SHUF)),
    O2M:   ((F, O2M),      (P, O2M),       (N, None),     (P, O2M),        (P, O2M)),   # O2M,O2M [ours]
    M2M:   ((F, M2M),      (P, M2M),       (N, None),     (P, M2M),        (P, M2M)),
    REORG: ((F, REORG),    (P, O2M),       (P, M2M),      (F, REORG),      (F, REORG)),  # last two [ours]
    SHUF:  ((F, SHUF),     (P, O2M),       (P, M2M),      (F, REORG),      (F, SHUF)),   # last two [ours]
}
# fmt: on

_NEVER = Cell(N, None)


def fusion_cell(first: MappingType, second: MappingType) -> Cell:
    """Table 3 cell for fusing ``first`` (producer) with ``second`` (consumer).

    Opaque on either side is never fused.
    """
    if first is OPAQUE or second is OPAQUE:
        return _NEVER
    decision, result = _TABLE[first][_ROWS.index(second)]
    return Cell(decision, result)
