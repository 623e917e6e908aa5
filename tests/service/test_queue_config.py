"""The Celery configuration the issue asks for, and a broker that is down."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from dnfstore import migrate
from service.main import create_app
from tests.service import onnx_models as m
from tests.service.conftest import add_user, embedded_settings
from tests.service.helpers import upload
from workers.names import COMPILE_TASK, REAP_TASK


def test_celery_app_settings():
    from workers.celery_app import celery_app
    from workers.tasks import compile_task

    conf = celery_app.conf
    assert conf.task_acks_late and conf.worker_prefetch_multiplier == 1
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
    assert {COMPILE_TASK, REAP_TASK} <= set(celery_app.tasks)
    assert compile_task.name == COMPILE_TASK and compile_task.acks_late


def test_broker_down_keeps_the_job_queued(tmp_path):
    """Publishing fails after the commit: 202 anyway, the job stays queued for the reaper."""
    settings = embedded_settings(
        tmp_path / "data", worker_mode="celery", redis_url="redis://127.0.0.1:1/0"
    )
    migrate.upgrade(settings)
    key, _ = add_user(settings, "alice")
    with TestClient(create_app(settings)) as c:
        mid = upload(c, key, m.tiny_bytes(3)).json()["id"]
        t0 = time.monotonic()
        r = c.post("/api/v1/compilations", headers={"X-API-Key": key}, json={"model_id": mid})
        assert r.status_code == 202 and time.monotonic() - t0 < 20
        assert c.get(r.headers["location"], headers={"X-API-Key": key}).json()["state"] == "queued"
