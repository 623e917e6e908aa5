"""What a rule's match function returns: :class:`Match`, the replacement ready to apply."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import onnx_ir as ir

if TYPE_CHECKING:
    from compiler_core.passes.expr import Operand


@dataclass
class Match:
    """A successful match, ready to apply.

    ``root``: the node whose outputs are replaced. ``nodes``: every node the pattern covered
    (root included); those left without consumers after the replacement are removed.
    ``replacement``: one entry per output of the root (``None`` for an unused output); each an
    existing value, a :class:`~compiler_core.passes.expr.Const` or an
    :class:`~compiler_core.passes.expr.Expr` describing new nodes.
    ``require_dead``: refuse the match when a covered node must stay alive (recognition rules:
    replacing the root while keeping the decomposed interior would only add work).
    Filled in by the framework: ``rule_name`` (the :class:`~compiler_core.passes.rule.Rule`
    that matched), ``dead``, ``flops_before/after``, ``reads_before/after``.
    """

    root: ir.Node
    nodes: Sequence[ir.Node]
    replacement: Sequence[Operand | None]
    require_dead: bool = False
    rule_name: str = ""
    dead: list[ir.Node] = field(default_factory=list)
    flops_before: int = 0
    flops_after: int = 0
    reads_before: int = 0
    reads_after: int = 0

    @property
    def flop_gain(self) -> int:
        return self.flops_before - self.flops_after

    @property
    def read_gain(self) -> int:
        return self.reads_before - self.reads_after
