"""Leases under concurrency: threads leasing at once never get the same request, on the real
PostgreSQL (FOR UPDATE SKIP LOCKED + conditional UPDATE) and on SQLite (one write at a time);
concurrent duplicate result posts store one entry."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from compiler_core.bench.signature import fusion_signature
from dnfstore.base import utcnow
from dnfstore.profiling_models import ProfileEntry, ProfilingRequest
from profiling import farm, queries
from profiling.candidate import StoredCandidate
from profiling.device import DeviceClassInfo
from profiling.lease import lease_requests
from profiling.results import Samples, store_result
from tests.profiling.test_cost_model import FIRST, SECOND, _ecg

INFO = DeviceClassInfo("sim-soc", "armv8.2-a", 8, 2000, "android-13", "aarch64")
N_REQUESTS, N_THREADS = 60, 6


def _seed(db, n: int) -> int:
    sigs = [fusion_signature(_ecg(rows=r), FIRST, SECOND, threads=1) for r in range(1, n + 1)]
    fake = StoredCandidate(b"onnx", [0], [1])
    with db.sessions() as s, s.begin():
        dc = queries.ensure_device_class(s, key=INFO.key, info=INFO)
        assert queries.record_requests(s, device_class=dc, signatures=sigs,
                                       candidates={x.key: fake for x in sigs}) == n
        return dc.id


def test_concurrent_leasers_never_share_a_request(db):
    cid = _seed(db, N_REQUESTS)
    got: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(N_THREADS)

    def leaser(name: str) -> None:
        mine = got.setdefault(name, [])
        try:
            start.wait()
            while True:
                with db.sessions() as s, s.begin():
                    rows = lease_requests(s, owner=name, class_ids=[cid], n=2, seconds=60)
                    ids = [r.id for r in rows]
                if not ids:
                    return
                mine.extend(ids)
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=leaser, args=(f"agent-{k}",)) for k in range(N_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    counts = Counter(i for ids in got.values() for i in ids)
    assert len(counts) == N_REQUESTS and max(counts.values()) == 1
    with db.sessions() as s:
        owners = dict(s.execute(select(ProfilingRequest.id, ProfilingRequest.lease_owner)).all())
    for name, ids in got.items():
        assert all(owners[i] == name for i in ids)


def test_an_expired_lease_is_leased_again_and_a_live_one_is_not(db):
    cid = _seed(db, 1)
    now = utcnow()
    with db.sessions() as s, s.begin():
        (first,) = lease_requests(s, owner="a", class_ids=[cid], n=5, seconds=30, now=now)
    with db.sessions() as s, s.begin():
        assert lease_requests(s, owner="b", class_ids=[cid], n=5, seconds=30,
                              now=now + timedelta(seconds=29)) == []
    with db.sessions() as s, s.begin():
        (again,) = lease_requests(s, owner="b", class_ids=[cid], n=5, seconds=30,
                                  now=now + timedelta(seconds=31))
        assert (again.id, again.lease_owner) == (first.id, "b")


def test_concurrent_duplicate_posts_store_one_entry(db):
    cid = _seed(db, 1)
    with db.sessions() as s, s.begin():
        farm.register_device(s, owner="a", serial="phone", info=INFO)
        (req,) = lease_requests(s, owner="a", class_ids=[cid], n=1, seconds=60)
    results: list[object] = []
    start = threading.Barrier(4)

    def post() -> None:
        start.wait()
        try:
            with db.sessions() as s, s.begin():
                entry, created = store_result(s, owner="a", request_id=req.id, serial="phone",
                                              key="same", samples=Samples([5.0, 6.0], [7.0]))
                results.append((entry.id, created))
        except Exception as e:  # noqa: BLE001 - reported below
            results.append(repr(e))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with db.sessions() as s:
        assert s.scalar(select(func.count(ProfileEntry.id))) == 1
    # Every post got the one entry (a retry is not an error); exactly one created it.
    assert all(isinstance(r, tuple) for r in results) and len(results) == 4, results
    assert len({r[0] for r in results}) == 1 and sum(r[1] for r in results) == 1, results
