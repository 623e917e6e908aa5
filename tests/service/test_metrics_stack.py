"""Request ids and /metrics on the deployment shape: uvicorn, a Celery worker (prefork),
PostgreSQL and Redis (the ``stack`` fixture; its processes log in the text format)."""

from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from tests.service import onnx_models as m
from tests.service.helpers import assert_compiler_outcome, upload, wait_final


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
        r = c.post(
            "/api/v1/compilations",
            headers={"X-API-Key": stack.alice, "X-Request-ID": rid},
            json={"model_id": up.json()["id"], "input_shapes": {"x": [1, 4]}, "target": "host"},
        )
        assert r.status_code == 202, r.text
        assert r.headers["x-request-id"] == rid
        job_id = r.json()["id"]
        assert_compiler_outcome(wait_final(c, stack.alice, r.headers["location"]))

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
