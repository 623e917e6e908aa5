"""ProfilingCostModel: measured numbers decide "profile" cells, nearest shapes, version bumps,
profiling requests; on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
from onnx import numpy_helper
from sqlalchemy import select

from compiler_core.bench import signature as sigmod
from compiler_core.bench.run import BenchResult
from compiler_core.bench.signature import fusion_signature
from compiler_core.planner.run import plan_ecg
from dnfstore.profiling_models import ProfilingRequest
from profiling import queries
from profiling.cost import ProfilingCostModel
from tests.compiler_core.planner.graphs import make_ecg, node, tensor, weight

CLASS = "test-class-2c"
FIRST, SECOND = [0], [1, 2]  # MatMul | Relu+Reshape: M2M -> Reorganize, a "profile" cell


def _ecg(rows: int = 16):
    return make_ecg(
        [
            node("MatMul", ["x", "w"], ["mm"]),
            node("Relu", ["mm"], ["r"]),
            node("Reshape", ["r", "shape"], ["out"]),
        ],
        [tensor("x", (rows, 32))],
        [tensor("out", (rows * 32,))],
        [weight("w", (32, 32)), numpy_helper.from_array(np.array([rows * 32], np.int64), "shape")],
    )


def _store(db, ecg, fused_us: float, separate_us: float, key: str = CLASS) -> int:
    sig = fusion_signature(ecg, FIRST, SECOND, threads=1)
    res = BenchResult(sig.key, sig.version, 1, "test cpu", 0.0,
                      (fused_us,) * 5, (separate_us,) * 5, False)
    with db.sessions() as s, s.begin():
        dc = queries.ensure_device_class(s, key=key)
        return queries.add_entry(s, device_class=dc, signature=sig, result=res).id


def _plan(db, ecg, key: str = CLASS):
    cost = ProfilingCostModel(db.sessions, key, threads=1)
    planner, fields = plan_ecg(ecg, cost_model=cost)
    cost.flush()
    return [b.nodes for b in fields["blocks"]], fields, cost


def test_a_profile_pair_flips_when_the_database_says_so(db):
    ecg = _ecg()
    slower = _store(db, ecg, fused_us=30.0, separate_us=20.0)
    blocks, fields, _ = _plan(db, ecg)
    assert blocks == [["mm"], ["r", "out"]]
    (edge,) = fields["unfused_edges"]
    assert (edge.reason, edge.source, edge.entry_id) == ("unprofitable", "measured", slower)
    assert (edge.fused_us, edge.separate_us) == (30.0, 20.0)
    d = fields["profile_decisions"][-1]
    assert (d.ops, d.fused, d.source, d.entry_id) == ("MatMul | Relu+Reshape", False,
                                                      "measured", slower)

    faster = _store(db, ecg, fused_us=10.0, separate_us=20.0)  # newer entry wins
    blocks, fields, _ = _plan(db, ecg)
    assert blocks == [["mm", "r", "out"]]
    assert [(d.fused, d.source, d.entry_id, d.fused_us, d.separate_us)
            for d in fields["profile_decisions"]] == [(True, "measured", faster, 10.0, 20.0)]

    again = _store(db, ecg, fused_us=25.0, separate_us=20.0)
    blocks, fields, _ = _plan(db, ecg)
    assert blocks == [["mm"], ["r", "out"]]
    assert fields["unfused_edges"][0].entry_id == again


def test_a_tie_within_the_noise_keeps_the_fusion(db):
    ecg = _ecg()
    _store(db, ecg, fused_us=20.3, separate_us=20.0)  # 1.5% slower: noise
    blocks, _, _ = _plan(db, ecg)
    assert blocks == [["mm", "r", "out"]]


def test_other_device_classes_do_not_decide(db):
    ecg = _ecg()
    _store(db, ecg, fused_us=30.0, separate_us=20.0, key="another-class")
    blocks, fields, _ = _plan(db, ecg)
    assert blocks == [["mm", "r", "out"]]  # the analytic model fuses this pair
    assert {d.source for d in fields["profile_decisions"]} == {"analytic"}


def test_nearest_measured_shapes_decide_within_a_factor_of_two(db):
    measured = _store(db, _ecg(rows=16), fused_us=30.0, separate_us=20.0)
    blocks, fields, _ = _plan(db, _ecg(rows=24))  # 24/16 = 1.5x on one dimension
    assert blocks == [["mm"], ["r", "out"]]
    d = fields["profile_decisions"][0]
    assert (d.source, d.entry_id, d.fused) == ("nearest", measured, False)
    # Latencies scaled by the element counts of the candidate vs. the entry's (> 1).
    assert d.fused_us > 30.0 and d.separate_us > 20.0
    assert abs(d.fused_us / d.separate_us - 1.5) < 1e-3

    blocks, fields, cost = _plan(db, _ecg(rows=64))  # 4x: too far, analytic + a request
    assert blocks == [["mm", "r", "out"]]
    assert {d.source for d in fields["profile_decisions"]} == {"analytic"}
    want = fusion_signature(_ecg(rows=64), FIRST, SECOND, threads=1).key
    with db.sessions() as s:
        reqs = s.scalars(select(ProfilingRequest)).all()
    assert [(r.signature, r.state, r.ops) for r in reqs] == [
        (want, "pending", "MatMul | Relu+Reshape")]


def test_a_new_code_generator_version_invalidates_old_numbers(db, monkeypatch):
    ecg = _ecg()
    _store(db, ecg, fused_us=30.0, separate_us=20.0)
    assert _plan(db, ecg)[0] == [["mm"], ["r", "out"]]
    monkeypatch.setattr(sigmod, "CODEGEN_VERSION", sigmod.CODEGEN_VERSION + 1)
    blocks, fields, _ = _plan(db, ecg)
    assert blocks == [["mm", "r", "out"]]
    assert {d.source for d in fields["profile_decisions"]} == {"analytic"}
    # ...and a measurement under the new version decides again.
    newer = _store(db, ecg, fused_us=30.0, separate_us=20.0)
    blocks, fields, _ = _plan(db, ecg)
    assert blocks == [["mm"], ["r", "out"]] and fields["unfused_edges"][0].entry_id == newer


def test_requests_are_counted_and_answered(db):
    ecg = _ecg(rows=8)
    for _ in range(2):
        _plan(db, ecg)
    with db.sessions() as s:
        (req,) = s.scalars(select(ProfilingRequest)).all()
    assert (req.state, req.times_wanted) == ("pending", 2)
    with db.sessions() as s:
        (row,) = queries.summary(s)
    assert (row.key, row.entries, row.pending_requests) == (CLASS, 0, 1)
    _store(db, ecg, fused_us=10.0, separate_us=20.0)
    with db.sessions() as s:
        (req,) = s.scalars(select(ProfilingRequest)).all()
        (row,) = queries.summary(s)
    assert req.state == "done" and (row.entries, row.pending_requests) == (1, 0)


def test_a_database_failing_during_planning_leaves_the_analytic_model(db):
    ecg = _ecg()
    _store(db, ecg, fused_us=30.0, separate_us=20.0)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE profiling_requests")
        conn.exec_driver_sql("DROP TABLE profile_entries")
    blocks, fields, cost = _plan(db, ecg)
    assert blocks == [["mm", "r", "out"]]
    assert {d.source for d in fields["profile_decisions"]} == {"analytic"}
    assert len(cost.warnings) == 1 and "analytic model from here on" in cost.warnings[0]
