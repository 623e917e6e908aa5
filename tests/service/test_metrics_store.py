"""The stage-duration histogram read incrementally from the database: each finished job counted
once, also when its commit lands after a later job's; queued jobs and cache hits not at all."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from dnfstore import migrate
from dnfstore.base import utcnow
from dnfstore.db import make_engine, make_sessionmaker
from dnfstore.models import Compilation, Model
from service.crud.users import create_user
from service.metrics_store import StageHistogram
from tests.service.conftest import embedded_settings


@pytest.fixture
def session(tmp_path: Path):
    settings = embedded_settings(tmp_path / "data")
    migrate.upgrade(settings)
    engine = make_engine(settings)
    with make_sessionmaker(engine)() as s:
        yield s
    engine.dispose()


def _job(session, **values) -> Compilation:
    model = session.query(Model).first()
    if model is None:
        owner = create_user(session=session, name="alice")
        model = Model(owner_id=owner.id, name="m.onnx", sha256="0" * 64, size_bytes=1,
                      upload_format="onnx", storage_path="models/x", model_file="model.onnx")
        session.add(model)
        session.commit()
    job = Compilation(id=uuid.uuid4(), owner_id=model.owner_id, model_id=model.id,
                      target="host", **values)
    session.add(job)
    session.commit()
    return job


def _stage(hist: StageHistogram, stage: str) -> dict[str, float]:
    """``{"count": n, "sum": s, "<le>": cumulative count...}`` of ``stage``."""
    out: dict[str, float] = {}
    for sample in hist.family().samples:
        if sample.labels.get("stage") != stage:
            continue
        if sample.name.endswith("_bucket"):
            out[sample.labels["le"]] = sample.value
        else:
            out[sample.name.rsplit("_", 1)[-1]] = sample.value
    return out


def test_each_finished_job_is_counted_once(session):
    hist = StageHistogram(late_commit_s=3600)
    t0 = utcnow() - timedelta(hours=3)
    _job(session, state="succeeded", finished_at=t0, stage_ms={"import": 100.0, "plan": 2500.0})
    _job(session, state="queued", stage_ms={"import": 7.0})  # not finished: not counted
    hist.refresh(session)
    imp = _stage(hist, "import")
    assert (imp["count"], imp["sum"]) == (1, pytest.approx(0.1))
    assert imp["0.05"] == 0 and imp["0.1"] == 1 and imp["+Inf"] == 1  # le is inclusive
    plan = _stage(hist, "plan")
    assert plan["2.5"] == 1 and plan["1"] == 0 and plan["count"] == 1

    _job(session, state="failed", finished_at=t0 + timedelta(minutes=10),
         stage_ms={"import": 30.0})
    hist.refresh(session)
    hist.refresh(session)  # nothing new: nothing counted twice
    assert _stage(hist, "import")["count"] == 2

    # A job that finished before the newest one seen, committed only now (within the overlap).
    _job(session, state="succeeded", finished_at=t0 + timedelta(minutes=5),
         stage_ms={"import": 2000.0})
    hist.refresh(session)
    imp = _stage(hist, "import")
    assert imp["count"] == 3 and imp["sum"] == pytest.approx(0.1 + 0.03 + 2.0)
    assert imp["0.05"] == 1 and imp["0.1"] == 2 and imp["2.5"] == 3


def test_cache_hits_are_not_stage_times(session):
    original = _job(session, state="succeeded", finished_at=utcnow(), stage_ms={"plan": 500.0})
    _job(session, state="succeeded", finished_at=utcnow(), stage_ms={"plan": 500.0},
         cached_from_id=original.id)
    hist = StageHistogram()
    hist.refresh(session)
    assert _stage(hist, "plan")["count"] == 1
