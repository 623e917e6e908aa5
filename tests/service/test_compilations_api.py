"""Compilation jobs through the embedded app (SQLite + in-process worker)."""

from __future__ import annotations

import hashlib
import io
import tarfile
import uuid

import pytest

from tests.service import onnx_models as m
from tests.service.helpers import assert_compiler_outcome, upload, wait_final


@pytest.fixture
def model_id(embedded):
    return upload(embedded.client, embedded.alice, m.tiny_bytes(1)).json()["id"]


def _create(embedded, key, **body):
    return embedded.client.post("/api/v1/compilations", headers={"X-API-Key": key}, json=body)


def test_compilation_is_accepted_and_reaches_a_final_state(embedded, model_id):
    r = _create(
        embedded,
        embedded.alice,
        model_id=model_id,
        input_shapes={"x": [1, 4]},
        target="host",
        options={"fast_math": False},
    )
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["id"] and r.headers["location"] == f"/api/v1/compilations/{job['id']}"
    assert job["state"] in ("queued", "running", "failed", "succeeded")
    assert job["input_shapes"] == {"x": [1, 4]} and job["options"] == {"fast_math": False}

    final = wait_final(embedded.client, embedded.alice, r.headers["location"])
    assert_compiler_outcome(final)
    assert final["attempts"] == 1
    assert final["started_at"] and final["finished_at"]
    assert final["timings"]["run_ms"] >= 0 and final["timings"]["queued_ms"] >= 0
    assert set(final["summary"]) == {
        "original_nodes",
        "fused_blocks",
        "max_abs_error",
        "latency_ms",
        "ort_latency_ms",
    }
    if final["state"] == "failed":
        for what in ("artifact", "report"):
            got = embedded.client.get(
                f"{r.headers['location']}/{what}", headers={"X-API-Key": embedded.alice}
            )
            assert got.status_code == 409 and "failed" in got.json()["detail"]


def test_succeeded_compilation_has_artifact_report_and_numbers(embedded, model_id):
    r = _create(embedded, embedded.alice, model_id=model_id, target="host")
    final = wait_final(embedded.client, embedded.alice, r.headers["location"], timeout=180)
    assert final["state"] == "succeeded", final
    h = {"X-API-Key": embedded.alice}
    report = embedded.client.get(f"{r.headers['location']}/report", headers=h)
    assert report.status_code == 200
    for name in (
        "original_nodes",
        "fused_blocks",
        "max_abs_error",
        "latency_ms",
        "ort_latency_ms",
    ):  # what the report gives (None where it gives nothing)
        assert final["summary"][name] == report.json().get(name)
    assert final["summary"]["original_nodes"] == 2
    assert final["summary"]["max_abs_error"] < 1e-4  # checked against ONNX Runtime
    assert final["summary"]["latency_ms"] > 0 and final["summary"]["ort_latency_ms"] > 0
    assert {"building", "storing"} <= set(final["timings"]["stages_ms"])
    art = embedded.client.get(f"{r.headers['location']}/artifact", headers=h)
    assert art.status_code == 200 and art.content[:2] == b"\x1f\x8b"
    assert len(art.content) == final["artifact_bytes"]
    assert hashlib.sha256(art.content).hexdigest() == final["artifact_sha256"]
    with tarfile.open(fileobj=io.BytesIO(art.content)) as tf:
        assert {"artifact/manifest.json", "artifact/report.json"} <= set(tf.getnames())


def test_list_compilations_paginates(embedded, model_id):
    ids = {_create(embedded, embedded.alice, model_id=model_id).json()["id"] for _ in range(3)}
    h = {"X-API-Key": embedded.alice}
    for cid in ids:
        wait_final(embedded.client, embedded.alice, f"/api/v1/compilations/{cid}")
    page = embedded.client.get("/api/v1/compilations?skip=1&limit=1", headers=h).json()
    assert page["count"] == 3 and len(page["data"]) == 1
    by_model = embedded.client.get(f"/api/v1/compilations?model_id={model_id}", headers=h).json()
    assert {d["id"] for d in by_model["data"]} == ids
    done = embedded.client.get("/api/v1/compilations?state=succeeded", headers=h).json()
    assert done["count"] == 3
    other = embedded.client.get("/api/v1/compilations", headers={"X-API-Key": embedded.bob})
    assert other.json() == {"data": [], "count": 0}


def test_other_users_compilation_is_404(embedded, model_id):
    cid = _create(embedded, embedded.alice, model_id=model_id).json()["id"]
    h = {"X-API-Key": embedded.bob}
    for suffix in ("", "/artifact", "/report"):
        r = embedded.client.get(f"/api/v1/compilations/{cid}{suffix}", headers=h)
        assert r.status_code == 404, suffix
    r = _create(embedded, embedded.bob, model_id=model_id)
    assert r.status_code == 404 and r.json()["detail"] == "model not found"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"target": "vax-11"}, "unknown target"),
        ({"input_shapes": {"nope": [1, 4]}}, "are not inputs of the model"),
        ({"input_shapes": {"x": [1, -4]}}, "greater than or equal to 0"),
        ({"input_shapes": {"x": "1x4"}}, "input_shapes"),
        ({"options": []}, "options"),
    ],
)
def test_bad_compilation_requests_are_422(embedded, model_id, body, reason):
    r = _create(embedded, embedded.alice, model_id=model_id, **body)
    assert r.status_code == 422 and reason in r.json()["detail"], r.text


def test_unknown_ids(embedded):
    h = {"X-API-Key": embedded.alice}
    assert _create(embedded, embedded.alice, model_id=str(uuid.uuid4())).status_code == 404
    assert embedded.client.get(f"/api/v1/compilations/{uuid.uuid4()}", headers=h).status_code == 404
    assert embedded.client.get("/api/v1/compilations/not-a-uuid", headers=h).status_code == 422


def test_unknown_compile_option_is_422(embedded, model_id):
    r = _create(embedded, embedded.alice, model_id=model_id, options={"opt": 1})
    assert r.status_code == 422
    assert r.json()["detail"] == "body.options.opt: Extra inputs are not permitted"
