"""A rule's refusal: :class:`NoMatch` carries the reason a rule does not apply at a node.

The bottom of ``passes/``: the matcher helpers, the expression builders, the rewrite context
and every rule raise it (usually through :func:`require`), and
:meth:`~compiler_core.passes.rule.Rule.try_match` turns it into the reason string a report
shows. It imports nothing of the package, so everything above it stays acyclic.
"""

from __future__ import annotations


class NoMatch(Exception):  # noqa: N818 - a control-flow signal carrying a reason, not an error
    """Raised by a match function: the rule does not apply here, and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def require(condition: object, reason: str) -> None:
    """Raise :class:`NoMatch` with ``reason`` unless ``condition`` holds."""
    if not condition:
        raise NoMatch(reason)
