"""GET /metrics (Prometheus text) through the embedded app: the families and their values after
an upload and a compilation, and who may scrape."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from dnfstore.db import make_engine, make_sessionmaker
from dnfstore.models import Compilation
from service.main import create_app
from tests.service import onnx_models as m
from tests.service.conftest import Embedded, embedded_settings
from tests.service.helpers import assert_compiler_outcome, upload, wait_final
from tests.service.observed_app import AUTH, TOKEN, observed  # noqa: F401  (fixture)


def scrape(client: TestClient) -> dict[str, dict[tuple, float]]:
    """``{sample name: {sorted label items: value}}`` of one scrape (parsed by prometheus_client)."""
    r = client.get("/metrics", headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def test_metrics_after_an_upload_and_a_compilation(observed: Embedded) -> None:  # noqa: F811
    c = observed.client
    before = scrape(c)
    assert value(before, "dnnfusion_compilations", state="succeeded") == 0
    assert value(before, "dnnfusion_models") == 0

    data = m.tiny_bytes(3)
    up = upload(c, observed.alice, data)
    assert up.status_code == 201, up.text
    sent = int(up.request.headers["content-length"])  # the multipart body the API received
    job = c.post(
        "/api/v1/compilations",
        headers={"X-API-Key": observed.alice},
        json={"model_id": up.json()["id"], "input_shapes": {"x": [1, 4]}, "target": "host"},
    )
    assert job.status_code == 202, job.text
    final = wait_final(c, observed.alice, job.headers["location"])
    assert_compiler_outcome(final)

    after = scrape(c)
    scrape(c)  # a second scrape must not count the finished job twice
    again = scrape(c)

    # Jobs by state and the queue, from the database.
    assert value(after, "dnnfusion_compilations", state="succeeded") == 1
    for state in ("queued", "running", "failed"):
        assert value(after, "dnnfusion_compilations", state=state) == 0
    assert value(after, "dnnfusion_compilation_queue_length") == 0
    # Uploads: the stored model, and the request bytes counted by the middleware (this process
    # may have counted other tests' uploads before: compare with the first scrape).
    assert value(after, "dnnfusion_models") == 1
    assert value(after, "dnnfusion_model_bytes") == len(data)
    assert (value(after, "dnnfusion_upload_bytes_total", outcome="stored")
            - value(before, "dnnfusion_upload_bytes_total", outcome="stored")) == sent
    # Requests by route template and status.
    created = dict(method="POST", route="/api/v1/compilations", status="202")
    assert (value(after, "dnnfusion_http_requests_total", **created)
            - value(before, "dnnfusion_http_requests_total", **created)) == 1
    polled = dict(method="GET", route="/api/v1/compilations/{compilation_id}", status="200")
    assert value(after, "dnnfusion_http_requests_total", **polled) >= 1
    assert value(after, "dnnfusion_http_request_duration_seconds_count", method="POST",
                 route="/api/v1/compilations") >= 1
    # Stage durations: one observation per stage the database recorded for the job.
    with make_sessionmaker(make_engine(observed.settings))() as session:
        stage_ms = session.get(Compilation, uuid.UUID(final["id"])).stage_ms
    assert stage_ms and final["timings"]["stages_ms"] == stage_ms
    for samples in (after, again):
        for stage, ms in stage_ms.items():
            assert value(samples, "dnnfusion_compilation_stage_seconds_count", stage=stage) == 1
            assert value(samples, "dnnfusion_compilation_stage_seconds_sum",
                         stage=stage) == pytest.approx(ms / 1000)
            assert value(samples, "dnnfusion_compilation_stage_seconds_bucket", stage=stage,
                         le="+Inf") == 1
    # The device farm: no device yet; alice and bob each have an agent key.
    assert value(after, "dnnfusion_devices", state="online") == 0
    assert value(after, "dnnfusion_agents_online") == 0
    assert value(after, "dnnfusion_agent_keys") == 2
    # No broker in embedded mode.
    assert "dnnfusion_broker_up" not in after
    if hasattr(Compilation, "cached_from_id"):
        assert value(after, "dnnfusion_compilation_cache_hits_total") == 0


def test_devices_online_are_counted(observed: Embedded) -> None:  # noqa: F811
    c = observed.client
    agent = {"X-API-Key": observed.agent}
    dc = {"cpu_model": "Test CPU", "isa": "x86-64-v3", "cores": 4, "max_mhz": 3000,
          "os": "linux"}
    r = c.post("/api/v1/agent/register", headers=agent, json={"devices": [
        {"serial": "dev-a", "device_class": dc}, {"serial": "dev-b", "device_class": dc}]})
    assert r.status_code == 200, r.text
    r = c.post("/api/v1/agent/heartbeat", headers=agent, json={"devices": [
        {"serial": "dev-a", "online": True}, {"serial": "dev-b", "online": False}]})
    assert r.status_code == 200, r.text
    samples = scrape(c)
    assert value(samples, "dnnfusion_devices", state="online") == 1
    assert value(samples, "dnnfusion_devices", state="offline") == 1
    assert value(samples, "dnnfusion_agents_online") == 1


def test_metrics_token_is_required_when_set(observed: Embedded) -> None:  # noqa: F811
    c = observed.client
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        r = c.get("/metrics", headers=headers)
        assert r.status_code == 401, r.text
        assert "DNNFUSION_METRICS_TOKEN" in r.json()["detail"]
        assert r.headers["www-authenticate"] == "Bearer"
    assert c.get("/metrics", headers=AUTH).status_code == 200


def test_without_a_token_metrics_answer_loopback_only(embedded: Embedded) -> None:
    r = embedded.client.get("/metrics")  # TestClient's client address is "testclient"
    assert r.status_code == 403
    assert "loopback" in r.json()["detail"]
    local = TestClient(embedded.client.app, client=("127.0.0.1", 40000))
    r = local.get("/metrics")
    assert r.status_code == 200 and "dnnfusion_compilations" in r.text
    r = TestClient(embedded.client.app, client=("::1", 40000)).get("/metrics")
    assert r.status_code == 200


def test_metrics_without_a_database_is_503(tmp_path) -> None:
    missing = tmp_path / "no-such-dir" / "dnnfusion.db"  # SQLite cannot open it
    settings = embedded_settings(tmp_path / "data", database_url=f"sqlite:///{missing}",
                                 metrics_token=TOKEN)
    client = TestClient(create_app(settings))  # no lifespan: nothing else touches the database
    r = client.get("/metrics", headers=AUTH)
    assert r.status_code == 503
    assert r.json() == {"detail": "metrics unavailable: the database did not answer"}


def test_refused_uploads_are_counted_apart(observed: Embedded) -> None:  # noqa: F811
    c = observed.client
    before = scrape(c)
    r = upload(c, observed.alice, b"not an onnx model at all", "notes.txt")
    assert 400 <= r.status_code < 500, r.text
    sent = int(r.request.headers["content-length"])
    after = scrape(c)
    delta = {o: value(after, "dnnfusion_upload_bytes_total", outcome=o)
             - value(before, "dnnfusion_upload_bytes_total", outcome=o)
             for o in ("stored", "refused")}
    assert delta == {"stored": 0, "refused": sent}
    assert value(after, "dnnfusion_models") == 0
