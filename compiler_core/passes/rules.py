"""The rule tables, in priority order (earlier wins a tie in the greedy choice)."""

from __future__ import annotations

from compiler_core.passes import (
    rules_associative,
    rules_cleanup,
    rules_commutative,
    rules_conv_fold,
    rules_distributive,
    rules_layout,
    rules_recognize_act,
    rules_recognize_norm,
)
from compiler_core.passes.rule import Rule

# Paper §4.2, Table 4: applied greedily inside sub-graphs, largest FLOP reduction first.
ALGEBRAIC_RULES: list[Rule] = [
    *rules_associative.RULES,
    *rules_distributive.RULES,
    *rules_commutative.RULES,
]

# Run to a fixpoint before and after the algebraic rules.
CLEANUP_RULES: list[Rule] = [*rules_cleanup.RULES, *rules_layout.RULES, *rules_conv_fold.RULES]
RECOGNITION_RULES: list[Rule] = [*rules_recognize_norm.RULES, *rules_recognize_act.RULES]

ALL_RULES: list[Rule] = [*CLEANUP_RULES, *RECOGNITION_RULES, *ALGEBRAIC_RULES]
RULES_BY_NAME: dict[str, Rule] = {r.name: r for r in ALL_RULES}
assert len(RULES_BY_NAME) == len(ALL_RULES), "rule names must be unique"
