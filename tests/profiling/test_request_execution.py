"""A profiling request recorded by the planner carries its candidate: it can be rebuilt and run
on this machine, its samples stored as an entry, and the next plan uses it (``measured``);
on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from compiler_core.bench.run import BenchmarkError
from compiler_core.bench.signature import fusion_signature
from profiling import queries
from profiling.device import host_device_class
from profiling.executable import StoredCandidate, run_stored
from profiling.host_runner import run_host_requests
from profiling.models import ProfileEntry, ProfilingRequest
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
    (d,) = fields["profile_decisions"]
    assert (d.source, d.entry_id) == ("measured", entry.id)
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
