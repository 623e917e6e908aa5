"""A profiling request recorded by the planner carries its candidate: it can be rebuilt and run
on this machine, its samples stored as an entry, and the next plan uses it (``measured``);
on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from sqlalchemy import select

from compiler_core.bench.run import BenchmarkError, run_benchmark
from compiler_core.bench.signature import fusion_signature
from compiler_core.target.targets import TARGETS
from dnfstore.profiling_models import ProfileEntry, ProfilingRequest
from profiling import queries
from profiling.candidate import StoredCandidate
from profiling.device import host_device_class
from profiling.executable import (
    REGENERATED_KEY,
    build_stored,
    load_candidate,
    run_stored,
    stored_candidate,
)
from profiling.host_runner import run_host_requests
from tests.compiler_core.planner.graphs import make_ecg, node, tensor, weight
from tests.profiling.test_cost_model import FIRST, SECOND, _ecg, _plan


def test_a_recorded_request_runs_and_its_entry_decides_the_next_plan(db):
    ecg = _ecg()
    host = host_device_class()
    _, fields, cost = _plan(db, ecg, key=host.key)
    assert [d.source for d in fields["profile_decisions"]] == ["analytic"]
    sig = fusion_signature(ecg, FIRST, SECOND, threads=1)
    with db.sessions() as s:
        (req,) = s.scalars(select(ProfilingRequest)).all()
        assert (req.signature, req.state) == (sig.key, "pending")
        assert req.candidate and req.candidate_first == [0] and req.candidate_second == [1, 2]

    run = run_host_requests(db.sessions, owner="test-agent", serial="this-host", n=5,
                            min_ms=5.0, info=host)
    assert run.errors == [] and len(run.entries) == 1
    with db.sessions() as s:
        entry = s.get(ProfileEntry, run.entries[0])
        assert entry.signature == sig.key and entry.fused_count >= 1
        assert entry.agent == "test-agent" and entry.request_id == req.id
        assert s.get(ProfilingRequest, req.id).state == "done"

    _, fields, _ = _plan(db, ecg, key=host.key)
    # When this machine measured "separate", the planner weighs the pair again when it merges
    # blocks and weighs a second pair analytically.
    measured = [x for x in fields["profile_decisions"] if x.source == "measured"]
    assert measured and {(x.entry_id, x.fused) for x in measured} == {(entry.id, measured[0].fused)}
    assert len(fields["profile_decisions"]) == 1 or not measured[0].fused
    assert run_host_requests(db.sessions, owner="test-agent", serial="this-host",
                             info=host).entries == []  # nothing left to lease


def test_a_candidate_with_another_signature_is_refused(db):
    ecg = _ecg()
    _plan(db, ecg, key="some-class")
    with db.sessions() as s:
        stored = queries.request_candidate(s.scalars(select(ProfilingRequest)).one())
    other = fusion_signature(_ecg(rows=8), FIRST, SECOND, threads=1).key
    with pytest.raises(BenchmarkError, match="does not have the request's signature"):
        run_stored(stored, signature=other, threads=1)
    with pytest.raises(BenchmarkError, match="not a usable model"):
        run_stored(StoredCandidate(b"not onnx", [0], [1]), signature=other, threads=1)


def test_large_weights_are_not_stored_and_come_back_seeded(tmp_path):
    ecg = make_ecg(
        [node("MatMul", ["x", "w"], ["mm"]), node("Relu", ["mm"], ["r"]),
         node("Reshape", ["r", "shape"], ["out"])],
        [tensor("x", (4, 64))],
        [tensor("out", (256,))],
        [weight("w", (64, 64)),
         numpy_helper.from_array(np.array([256], np.int64), "shape")],
    )
    stored = stored_candidate(ecg, FIRST, SECOND)
    assert len(stored.model) < 64 * 64 * 4 // 4  # the 16 KiB weight is not in the bytes
    proto = onnx.load_from_string(stored.model)
    (meta,) = [p for p in proto.metadata_props if p.key == REGENERATED_KEY]
    sig = fusion_signature(ecg, FIRST, SECOND, threads=1)
    a, b = load_candidate(stored), load_candidate(stored)
    wa, wb = ([np.asarray(v.const_value) for v in e.model.graph.initializers.values()
               if v.const_value is not None and v.shape is not None and len(v.shape) == 2]
              for e in (a, b))
    assert wa[0].shape == (64, 64) and np.array_equal(wa[0], wb[0])  # seeded: reproducible
    assert np.abs(wa[0]).max() <= 1.0 and np.abs(wa[0]).std() > 0.1
    result = run_stored(stored, signature=sig.key, threads=1, min_ms=2.0, workdir=tmp_path)
    assert result.signature == sig.key and result.fused_us and result.separate_us


def test_a_stored_request_builds_the_static_arm64_benchmark(db, tmp_path):
    """What an agent pushes to a phone: built from the request's candidate, correct under
    qemu-aarch64 (timings there mean nothing)."""
    assert TARGETS["linux-arm64"].launcher() is not None, "run scripts/setup-apt.sh"
    _plan(db, _ecg(), key="phone-class")
    with db.sessions() as s:
        req = s.scalars(select(ProfilingRequest)).one()
        stored, sig = queries.request_candidate(req), req.signature
    built = build_stored(stored, tmp_path / "bench.run", signature=sig, threads=1,
                         target="linux-arm64")
    assert int.from_bytes(built.path.read_bytes()[18:20], "little") == 183  # EM_AARCH64
    res = run_benchmark(built, threads=1, check_only=True)
    assert res.signature == sig and res.max_abs_diff <= 1e-4
