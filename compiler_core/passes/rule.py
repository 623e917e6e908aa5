"""What a rewrite rule is: a named row of a table (paper §4.2, Table 4).

A rule has a name, the algebra it implements, a kind (the property it relies on, or clean-up /
recognition), an exactness class and a ``match`` function. ``match(node, ctx)`` looks at the
node as the *root* of the pattern and either returns a :class:`Match` (what to put in place of
the root's outputs) or raises :class:`~compiler_core.passes.nomatch.NoMatch` with the reason it
does not apply. :meth:`Rule.try_match` turns the exception into a reason string, so every
refusal explains itself.

Any other exception inside a rule is a bug of the rule (a node shaped in a way it did not
foresee). By default it is logged and reported as ``"rule error: ..."`` (the rule does not fire
there and compilation goes on); in **strict mode** (``RewriteContext(strict_rules=True)``, or
``$DNNFUSION_STRICT_RULES=1``, on for the whole test suite) it propagates as
:class:`RuleCrashError` naming the rule and the node, so a crashing rule cannot silently stop
firing.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import onnx_ir as ir

from compiler_core.errors import DnnFusionError
from compiler_core.ir.ops import ONNX_DOMAINS
from compiler_core.passes.match import Match
from compiler_core.passes.nomatch import NoMatch

if TYPE_CHECKING:
    from compiler_core.passes.context import RewriteContext


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


class RuleCrashError(Exception):
    """Strict mode: an exception other than NoMatch inside a rule (a bug of the rule)."""

    def __init__(self, rule: str, node: ir.Node, error: BaseException) -> None:
        super().__init__(
            f"rule {rule} crashed at node {node.name!r} ({node.op_type}): {error!r}"
        )
        self.rule = rule
        self.node = node.name


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
        """The match, or the reason the rule does not apply at ``node``. Raises
        :class:`RuleCrashError` when the rule crashes and ``ctx.strict_rules`` is set."""
        if node.domain not in ONNX_DOMAINS or node.op_type not in self.root_ops:
            return f"root is {node.op_type}, not {'/'.join(self.root_ops)}"
        if self.exactness is Exactness.FAST_MATH and not ctx.fast_math:
            return "fast-math only"
        try:
            m = self.match(node, ctx)
            m.rule_name = self.name
            ctx.finish(m)  # dead nodes, costs, graph-output checks; may raise NoMatch
        except NoMatch as e:
            return e.reason
        except DnnFusionError:
            raise
        except Exception as e:  # a node shaped in a way the rule did not foresee
            if ctx.strict_rules:
                raise RuleCrashError(self.name, node, e) from e
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
