"""Bounded fuzzing in CI: 300 mutated inputs through ``dnnfusion plan``, 300 through
``POST /api/v1/models``, 60 random graphs (4 models) compiled and compared with ONNX Runtime,
and a hypothesis-driven run through plan. Zero crashes, hangs, tracebacks, 5xx or mismatches.
The big runs are ``python -m fuzz mutate|diff`` (see fuzz/README.md)."""

from __future__ import annotations

import atexit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.child import Runner
from fuzz.choose import DrawChooser
from fuzz.diff_run import run_diff
from fuzz.mutate import mutate
from fuzz.mutate_run import run_mutations
from fuzz.seeds import load_seeds

pytestmark = pytest.mark.slow  # hundreds of mutated models and random graphs through plan, upload and compile


def _assert_clean(summary: dict, target: str, allowed: set[str]) -> dict:
    counts = summary["targets"][target]["counts"]
    assert sum(counts.values()) == summary["count"]
    assert set(counts) <= allowed, (counts, summary["failures"][:3])
    assert summary["failures_total"] == 0, summary["failures"][:3]
    return counts


def test_300_mutations_through_plan(tmp_path):
    summary = run_mutations(300, 8001, targets=("plan",), save_dir=tmp_path, every=10**9)
    counts = _assert_clean(summary, "plan", {"exit 0", "exit 2"})
    assert counts["exit 0"] > 0 and counts["exit 2"] > 0  # both paths are reached


def test_300_mutations_through_upload(tmp_path):
    summary = run_mutations(300, 8002, targets=("upload",), save_dir=tmp_path, every=10**9)
    counts = _assert_clean(summary, "upload", {"2xx", "4xx"})
    assert counts["2xx"] > 0 and counts["4xx"] > 0


def test_60_random_graphs_match_onnxruntime(tmp_path):
    summary = run_diff(60, 8003, per_model=15, save_dir=tmp_path, every=10**9)
    counts = summary["counts"]
    assert sum(counts.values()) == 60 and summary["models"] == 4
    assert counts.get("crashed", 0) == 0 and counts.get("mismatched", 0) == 0, \
        summary["failures"][:3]
    assert counts.get("equal", 0) >= 45  # most random graphs are supported and compiled


_PLAN: list[Runner] = []


def _plan_runner() -> Runner:
    if not _PLAN:
        _PLAN.append(Runner("plan", 60))
        atexit.register(_PLAN[0].close)
    return _PLAN[0]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_hypothesis_mutations_through_plan(data):
    case = mutate(DrawChooser(data.draw), load_seeds(real=False))
    out = _plan_runner()(case)
    assert out["ok"], (case.origin, out)
