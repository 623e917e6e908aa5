"""A worker SIGKILLed in the middle of a task: the job still reaches a final state.

A second worker on its own queue runs with DNNFUSION_TEST_COMPILE_DELAY_S (test only: the
compile adapter sleeps before calling the compiler), so the job is surely ``running`` when the
whole worker process group is killed. The session worker's reaper then finds the job's heartbeat
stale and re-runs it (attempt 2 of 2), on its own queue.
"""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from service.main import create_app
from tests.service import onnx_models as m
from tests.service.helpers import assert_compiler_outcome, upload, wait_final

pytestmark = pytest.mark.slow  # a Celery worker killed mid-job


def test_killed_worker_job_is_rerun_to_a_final_state(stack):
    slow_queue = f"{stack.env['DNNFUSION_CELERY_QUEUE']}-slow"
    stack.queues.append(slow_queue)
    slow = stack.start_worker(
        "slow", DNNFUSION_CELERY_QUEUE=slow_queue, DNNFUSION_TEST_COMPILE_DELAY_S="120"
    )
    h = {"X-API-Key": stack.alice}
    try:
        with stack.client() as c:
            mid = upload(c, stack.alice, m.tiny_bytes(31337)).json()["id"]
        # An API that publishes to the slow worker's queue (same database and storage).
        slow_api = create_app(stack.settings.model_copy(update={"celery_queue": slow_queue}))
        with TestClient(slow_api) as api:
            r = api.post("/api/v1/compilations", headers=h, json={"model_id": mid})
            assert r.status_code == 202
            location = r.headers["location"]
            deadline = time.monotonic() + 30
            while (job := api.get(location, headers=h).json())["state"] != "running":
                assert time.monotonic() < deadline, job
                time.sleep(0.1)
        assert job["attempts"] == 1
        time.sleep(1.0)  # a couple of heartbeats
        slow.kill()
        killed_at = time.monotonic()
    finally:
        slow.stop()

    with stack.client() as c:
        final = wait_final(c, stack.alice, location, timeout=60)
    recovered_s = time.monotonic() - killed_at
    print(f"\nkilled worker: job final ({final['state']}) {recovered_s:.1f} s after SIGKILL")
    assert final["attempts"] == 2, final  # re-run once by the reaper
    assert_compiler_outcome(final)
