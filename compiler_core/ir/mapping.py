"""Mapping types (DNNFusion paper §3.1, Table 2) and transformation impedance (§3.2).

A mapping type classifies how the elements of an operator's output depend on the elements of
its inputs. ``OPAQUE`` is this project's extra type for operators that never fuse.
"""

from __future__ import annotations

import enum


class MappingType(enum.Enum):
    """The five mapping types of Table 2, plus ``OPAQUE`` [ours]."""

    ONE_TO_ONE = "One-to-One"
    ONE_TO_MANY = "One-to-Many"
    MANY_TO_MANY = "Many-to-Many"
    REORGANIZE = "Reorganize"
    SHUFFLE = "Shuffle"
    OPAQUE = "Opaque"

    @property
    def short(self) -> str:
        """Abbreviation used in reports: O2O, O2M, M2M, Reorg, Shuffle, Opaque."""
        return _SHORT[self]

    @property
    def complexity(self) -> int:
        """Order of complexity (paper §3.1): O2O < Reorganize = Shuffle < O2M = M2M < Opaque.

        Also the transformation impedance of §3.2 (how strongly the type decides the type of a
        fused result).
        """
        return _COMPLEXITY[self]


_SHORT = {
    MappingType.ONE_TO_ONE: "O2O",
    MappingType.ONE_TO_MANY: "O2M",
    MappingType.MANY_TO_MANY: "M2M",
    MappingType.REORGANIZE: "Reorg",
    MappingType.SHUFFLE: "Shuffle",
    MappingType.OPAQUE: "Opaque",
}

_COMPLEXITY = {
    MappingType.ONE_TO_ONE: 0,
    MappingType.REORGANIZE: 1,
    MappingType.SHUFFLE: 1,
    MappingType.ONE_TO_MANY: 2,
    MappingType.MANY_TO_MANY: 2,
    MappingType.OPAQUE: 3,
}


def most_complex(types: list[MappingType]) -> MappingType:
    """The type of a multi-input operator: its most complex input→output relation (§3.1).

    Ties between Reorganize/Shuffle or One-to-Many/Many-to-Many keep the first listed.
    """
    best = MappingType.ONE_TO_ONE
    for t in types:
        if t.complexity > best.complexity:
            best = t
    return best
