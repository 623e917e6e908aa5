"""Strict rule mode: an exception inside a rule is an error, not a silent refusal.

The test suite runs strict (tests/conftest.py sets ``$DNNFUSION_STRICT_RULES=1``); production
code reports a crashing rule as a ``"rule error"`` refusal and goes on compiling.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from compiler_core.passes import rewrite_model
from compiler_core.passes.context import STRICT_ENV, RewriteContext
from compiler_core.passes.match import Match
from compiler_core.passes.nomatch import require
from compiler_core.passes.rule import Exactness, Kind, RuleCrashError, rule

from .util import find, model, node, to_ir

F = np.float32


@rule("test_crashing", "X + Y -> boom", Kind.CLEANUP, Exactness.EXACT, "Add")
def crashing(n, ctx) -> Match:
    return {}["missing"]  # a KeyError: a rule that did not foresee some node


@rule("test_refusing", "X + Y -> never", Kind.CLEANUP, Exactness.EXACT, "Add")
def refusing(n, ctx) -> Match:
    require(False, "never applies")
    raise AssertionError("unreachable")


def _add_model():
    return to_ir(model([node("Add", ["A", "B"], "y")], {"A": ((2, 3), F), "B": ((2, 3), F)}, ["y"]))


def test_strict_mode_raises_naming_rule_and_node() -> None:
    m = _add_model()
    (add,) = find(m, "Add")
    with pytest.raises(RuleCrashError) as info:
        crashing.try_match(add, RewriteContext(m, strict_rules=True))
    assert str(info.value) == "rule test_crashing crashed at node 'Add_y' (Add): KeyError('missing')"
    assert (info.value.rule, info.value.node) == ("test_crashing", "Add_y")
    assert isinstance(info.value.__cause__, KeyError)


def test_non_strict_mode_reports_the_crash(caplog: pytest.LogCaptureFixture) -> None:
    m = _add_model()
    (add,) = find(m, "Add")
    with caplog.at_level(logging.WARNING, logger="compiler_core.passes.rule"):
        outcome = crashing.try_match(add, RewriteContext(m, strict_rules=False))
    assert outcome == "rule error: KeyError('missing')"
    assert "rule test_crashing failed at Add_y: KeyError('missing')" in caplog.messages


def test_a_refusal_is_a_reason_in_both_modes() -> None:
    m = _add_model()
    (add,) = find(m, "Add")
    for strict in (True, False):
        assert refusing.try_match(add, RewriteContext(m, strict_rules=strict)) == "never applies"


@pytest.mark.parametrize(
    ("value", "strict"), [("1", True), ("true", True), ("yes", True), ("0", False), ("", False)]
)
def test_strict_mode_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, strict: bool
) -> None:
    monkeypatch.setenv(STRICT_ENV, value)
    assert RewriteContext(_add_model()).strict_rules is strict


def test_the_suite_runs_strict() -> None:
    """tests/conftest.py turns strict mode on for every test (and the processes they start)."""
    assert RewriteContext(_add_model()).strict_rules is True


def test_rewrite_model_is_strict_under_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pass manager's contexts follow the environment: with a crashing rule in the
    clean-up table, rewriting raises instead of skipping the rule."""
    from compiler_core.passes import manager

    monkeypatch.setattr(manager, "CLEANUP_RULES", [crashing])
    with pytest.raises(RuleCrashError, match="test_crashing"):
        rewrite_model(_add_model())
    monkeypatch.setenv(STRICT_ENV, "0")
    report = rewrite_model(_add_model())
    assert report.counts == {}
