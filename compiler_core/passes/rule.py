"""What a rewrite rule is: a named row of a table (paper §4.2, Table 4).

A rule has a name, the algebra it implements, a kind (the property it relies on, or clean-up /
recognition), an exactness class and a ``match`` function. ``match(node, ctx)`` looks at the
node as the *root* of the pattern and either returns a :class:`Match` (what to put in place of
the root's outputs) or raises :class:`NoMatch` with the reason it does not apply.
:meth:`Rule.try_match` turns the exception into a reason string, so every refusal explains
itself.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import onnx_ir as ir

from compiler_core.errors import DnnFusionError

if TYPE_CHECKING:
    from compiler_core.passes.context import RewriteContext
    from compiler_core.passes.expr import Operand


log = logging.getLogger(__name__)


class Kind(enum.Enum):
    """Which family a rule belongs to; the first three are the paper's algebraic properties."""

    ASSOCIATIVE = "associative"
    DISTRIBUTIVE = "distributive"
    COMMUTATIVE = "commutative"
    CLEANUP = "cleanup"
    RECOGNIZE = "recognize"

    @property
    def algebraic(self) -> bool:
        return self in (Kind.ASSOCIATIVE, Kind.DISTRIBUTIVE, Kind.COMMUTATIVE)


class Exactness(enum.Enum):
    """How far a rule's result may differ from the original in float32 [ours]."""

    EXACT = "exact"  # bit-identical for every input (up to the sign of a zero)
    ROUNDING = "rounding"  # equal in real arithmetic: re-association changes rounding (and where
    # an intermediate over/underflows); allowed by default and reported
    CONDITIONAL = "conditional"  # exact only when a condition on the inputs holds: applied when
    # the condition is proven, or under fast_math
    FAST_MATH = "fast-math"  # can differ beyond rounding: applied only under fast_math


class NoMatch(Exception):  # noqa: N818 - a control-flow signal carrying a reason, not an error
    """Raised by a match function: the rule does not apply here, and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def require(condition: object, reason: str) -> None:
    """Raise :class:`NoMatch` with ``reason`` unless ``condition`` holds."""
    if not condition:
        raise NoMatch(reason)


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
    Filled in by the framework: ``rule``, ``dead``, ``flops_before/after``, ``reads_before/after``.
    """

    root: ir.Node
    nodes: Sequence[ir.Node]
    replacement: Sequence[Operand | None]
    require_dead: bool = False
    rule: Rule | None = None
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


MatchFn = Callable[[ir.Node, "RewriteContext"], Match]


@dataclass(frozen=True)
class Rule:
    """One row of a rule table."""

    name: str
    algebra: str  # e.g. "X*C + X*B -> X*(B+C)"
    kind: Kind
    exactness: Exactness
    root_ops: tuple[str, ...]  # op types (default ONNX domain) the root may have
    match: MatchFn
    condition: str = ""  # for CONDITIONAL rules: what must be proven

    def try_match(self, node: ir.Node, ctx: RewriteContext) -> Match | str:
        """The match, or the reason the rule does not apply at ``node``."""
        if node.domain not in ("", "ai.onnx") or node.op_type not in self.root_ops:
            return f"root is {node.op_type}, not {'/'.join(self.root_ops)}"
        if self.exactness is Exactness.FAST_MATH and not ctx.fast_math:
            return "fast-math only"
        try:
            m = self.match(node, ctx)
            m.rule = self
            ctx.finish(m)  # dead nodes, costs, graph-output checks; may raise NoMatch
        except NoMatch as e:
            return e.reason
        except DnnFusionError:
            raise
        except Exception as e:  # a node shaped in a way the rule did not foresee: refuse
            log.warning("rule %s failed at %s: %r", self.name, node.name, e)
            return f"rule error: {e!r}"
        return m


def rule(
    name: str,
    algebra: str,
    kind: Kind,
    exactness: Exactness,
    root_ops: str,
    *,
    condition: str = "",
) -> Callable[[MatchFn], Rule]:
    """Decorator turning a match function into a :class:`Rule` row."""

    def wrap(fn: MatchFn) -> Rule:
        return Rule(name, algebra, kind, exactness, tuple(root_ops.split()), fn, condition)

    return wrap
