"""Claiming, ownership and the reaper, on SQLite without any worker process."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from dnfstore import compilations as crud
from dnfstore import migrate
from dnfstore.base import utcnow
from dnfstore.db import process_sessionmaker
from dnfstore.models import Compilation
from service.crud.models import create_model
from service.crud.users import create_user
from tests.service.conftest import embedded_settings
from workers.compile_job import run_compilation


@pytest.fixture
def db(tmp_path):
    settings = embedded_settings(tmp_path / "data", max_attempts=2)
    migrate.upgrade(settings)
    sessions = process_sessionmaker(settings)
    with sessions() as s:
        user = create_user(session=s, name="u")
        model = create_model(
            session=s,
            model_id=uuid.uuid4(),
            owner_id=user.id,
            name="m",
            sha256="0" * 64,
            size_bytes=1,
            upload_format="onnx",
            storage_path="models/x",
            model_file="m.onnx",
            opset=17,
            inputs=[],
        )
        ids = (user.id, model.id)
    return settings, sessions, ids


def _job(sessions, ids, **values):
    with sessions() as s:
        job = crud.create_compilation(
            session=s, owner_id=ids[0], model_id=ids[1], target="host", input_shapes={}, options={}
        )
        if values:
            s.execute(update(Compilation).where(Compilation.id == job.id).values(**values))
            s.commit()
        return job.id


def _get(sessions, cid):
    with sessions() as s:
        return s.get(Compilation, cid)


def test_claim_is_exclusive_and_writes_are_owned(db):
    settings, sessions, ids = db
    cid = _job(sessions, ids)
    with sessions() as s:
        assert (
            crud.claim_compilation(session=s, compilation_id=cid, worker="a", max_attempts=2) == 1
        )
        assert (
            crud.claim_compilation(session=s, compilation_id=cid, worker="b", max_attempts=2)
            is None
        )
        assert not crud.beat(session=s, compilation_id=cid, attempt=2)
        assert crud.set_stage(session=s, compilation_id=cid, attempt=1, stage="importing")
        assert not crud.finish_compilation(session=s, compilation_id=cid, attempt=2, state="failed")
        assert crud.finish_compilation(
            session=s, compilation_id=cid, attempt=1, state="failed", error="x"
        )
    job = _get(sessions, cid)
    assert (job.state, job.worker, job.attempts) == ("failed", "a", 1)
    assert "importing" in job.stage_ms


def test_duplicate_delivery_of_a_finished_job_is_a_no_op(db):
    settings, sessions, ids = db
    cid = _job(sessions, ids, state="failed", error="done before", attempts=1)
    assert run_compilation(cid, settings=settings) == "skipped"
    assert _get(sessions, cid).error == "done before"


def test_reaper_requeues_a_lost_job_then_fails_it(db):
    settings, sessions, ids = db
    old = utcnow() - timedelta(seconds=60)
    cid = _job(
        sessions,
        ids,
        state="running",
        stage="building",
        attempts=1,
        started_at=old,
        heartbeat_at=old,
    )
    sent: list[uuid.UUID] = []
    counts = crud_reap(settings, sent)
    assert counts["requeued"] == 1 and sent == [cid]
    job = _get(sessions, cid)
    assert (job.state, job.stage, job.worker) == ("queued", None, None)

    # The re-run is lost too: attempts are used up, so it fails with the reason.
    with sessions() as s:
        s.execute(
            update(Compilation)
            .where(Compilation.id == cid)
            .values(
                state="running", attempts=2, stage="generating", heartbeat_at=old, started_at=old
            )
        )
        s.commit()
    sent.clear()
    assert crud_reap(settings, sent)["failed"] == 1 and sent == []
    job = _get(sessions, cid)
    assert job.state == "failed" and job.finished_at is not None
    assert job.error == (
        "worker lost during stage 'generating' (no heartbeat: the worker was killed, ran out "
        "of memory or crashed); gave up after 2 attempt(s)"
    )


def test_reaper_leaves_live_jobs_and_fails_overtime_ones(db):
    settings, sessions, ids = db
    now = utcnow()
    live = _job(sessions, ids, state="running", attempts=1, started_at=now, heartbeat_at=now)
    ancient = now - timedelta(seconds=settings.compile_time_limit_s + 60)
    over = _job(sessions, ids, state="running", attempts=1, started_at=ancient, heartbeat_at=now)
    sent: list[uuid.UUID] = []
    counts = crud_reap(settings, sent)
    assert counts == {"requeued": 0, "failed": 1, "resent": 0}
    assert _get(sessions, live).state == "running"
    assert "hard time limit" in _get(sessions, over).error


def test_reaper_resends_queued_jobs_nobody_took(db):
    settings, sessions, ids = db
    stale = _job(sessions, ids, enqueued_at=utcnow() - timedelta(hours=1))
    fresh = _job(sessions, ids)
    sent: list[uuid.UUID] = []
    assert crud_reap(settings, sent)["resent"] == 1
    assert sent == [stale] and fresh not in sent
    assert _get(sessions, stale).state == "queued"


def test_reaper_fails_a_queued_job_whose_attempts_are_used_up(db):
    """max_attempts lowered after a job was requeued: no worker can claim it, so re-sending
    it would never end; it fails with the reason instead."""
    settings, sessions, ids = db
    cid = _job(sessions, ids, attempts=2, enqueued_at=utcnow() - timedelta(hours=1))
    assert run_compilation(cid, settings=settings) == "skipped"  # the claim refuses it
    sent: list[uuid.UUID] = []
    assert crud_reap(settings, sent) == {"requeued": 0, "failed": 1, "resent": 0}
    assert sent == []
    job = _get(sessions, cid)
    assert (job.state, job.error) == ("failed", "gave up after 2 attempt(s) (max_attempts is 2)")


def crud_reap(settings, sent):
    from workers.reaper import reap

    def enqueue(cid):
        sent.append(cid)
        return True

    return reap(settings=settings, enqueue=enqueue)


def test_reaper_fails_a_job_killed_by_the_hard_limit_instead_of_rerunning(db):
    settings, sessions, ids = db
    limit = settings.compile_time_limit_s
    started = utcnow() - timedelta(seconds=limit + 5)
    last_beat = started + timedelta(seconds=limit - 0.2)  # beat until the child was killed
    cid = _job(
        sessions, ids, state="running", attempts=1, started_at=started, heartbeat_at=last_beat
    )
    sent: list[uuid.UUID] = []
    assert crud_reap(settings, sent)["failed"] == 1 and sent == []
    assert _get(sessions, cid).error == f"compilation exceeded the hard time limit of {limit} s"
