"""Request ids and /metrics on the deployment shape: uvicorn, a Celery worker (prefork),
PostgreSQL and Redis (the ``stack`` fixture; its processes log in the text format)."""

from __future__ import annotations

import json
import time
import uuid

from celery import Celery
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from tests.service import onnx_models as m
from tests.service.helpers import compile_traced, upload
from workers.names import COMPILE_TASK


def _samples(text: str) -> dict[str, dict[tuple, float]]:
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_request_id_reaches_the_celery_worker_log(stack):
    rid = "stack-trace.77"
    with stack.client() as c:
        up = upload(c, stack.alice, m.tiny_bytes(77))
        assert up.status_code in (200, 201), up.text
        job_id = compile_traced(c, stack.alice, up.json()["id"], rid)

    def finished_line() -> list[str]:
        return [line for line in stack.worker.output().splitlines()
                if "compilation finished" in line and f"job_id={job_id}" in line]

    deadline = time.monotonic() + 10  # the line is written just after the row is final
    while not finished_line() and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = finished_line()
    assert len(lines) == 1, stack.worker.output()[-3000:]
    assert f"request_id={rid}" in lines[0] and "user_id=" in lines[0]


def test_metrics_on_loopback_without_a_token(stack):
    with stack.client() as c:
        r = c.get("/metrics")  # the stack sets no DNNFUSION_METRICS_TOKEN; we are on 127.0.0.1
        assert r.status_code == 200, r.text
        samples = _samples(r.text)
    # Every state is listed, and together they are every row of PostgreSQL's table (no test
    # creates jobs meanwhile: pytest runs one test at a time).
    states = {dict(k)["state"] for k in samples["dnnfusion_compilations"]}
    assert states == {"queued", "running", "succeeded", "failed"}
    engine = create_engine(stack.settings.sqlalchemy_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM compilations")).scalar_one()
    engine.dispose()
    assert sum(samples["dnnfusion_compilations"].values()) == rows
    # The broker answered; its queue is a count of waiting messages.
    assert samples["dnnfusion_broker_up"][()] == 1
    (queue_len,) = samples["dnnfusion_broker_queue_length"].values()
    assert queue_len >= 0


def test_celery_worker_writes_json_lines_with_the_task_request_id(stack):
    """A worker with DNNFUSION_LOG_FORMAT=json on its own queue, sent a task for a job that does
    not exist: its 'not queued; skipping' line is JSON with that job id and request id."""
    queue = f"{stack.queues[0]}-json"
    stack.queues.append(queue)  # the fixture deletes it at the end
    worker = stack.start_worker("wjson", DNNFUSION_CELERY_QUEUE=queue, DNNFUSION_LOG_FORMAT="json")
    try:
        app = Celery("test-sender", broker=stack.settings.redis_url, set_as_current=False)
        job_id, rid = str(uuid.uuid4()), "celery-json.1"
        app.send_task(COMPILE_TASK, args=[job_id], kwargs={"request_id": rid}, queue=queue)
        app.close()

        def lines() -> list[dict]:
            return [json.loads(line) for line in worker.output().splitlines()
                    if line.startswith("{")]

        deadline = time.monotonic() + 30
        while not any(d.get("job_id") == job_id for d in lines()):
            assert time.monotonic() < deadline, worker.output()[-3000:]
            time.sleep(0.2)
    finally:
        worker.stop()
    skipped = [d for d in lines() if d.get("job_id") == job_id]
    assert skipped[0]["request_id"] == rid and skipped[0]["logger"] == "workers.compile_job"
    assert "is not queued; skipping" in skipped[0]["event"] and skipped[0]["level"] == "info"
    assert any(d["event"].endswith(" ready.") for d in lines())  # Celery's own lines too
