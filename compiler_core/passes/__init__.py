"""Graph rewriting by algebraic properties (DNNFusion §4.2, Table 4), plus the clean-ups and
operator recognition that run around it.

``rewrite_model(model)`` rewrites an imported, statically shaped ``onnx_ir.Model`` in place and
returns a :class:`RewriteReport`. Rules are rows of tables (``rules_*.py``); ``explain(model)``
lists why each rule does or does not apply at each node.
"""

from compiler_core.passes.manager import RewriteReport, explain, rewrite_model
from compiler_core.passes.rule import Exactness, Kind, Rule
from compiler_core.passes.rules import (
    ALGEBRAIC_RULES,
    ALL_RULES,
    CLEANUP_RULES,
    RECOGNITION_RULES,
    RULES_BY_NAME,
)

__all__ = [
    "ALGEBRAIC_RULES",
    "ALL_RULES",
    "CLEANUP_RULES",
    "RECOGNITION_RULES",
    "RULES_BY_NAME",
    "Exactness",
    "Kind",
    "Rule",
    "RewriteReport",
    "explain",
    "rewrite_model",
]
