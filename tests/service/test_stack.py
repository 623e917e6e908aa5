"""The deployment shape on real services: PostgreSQL, Redis, uvicorn and a Celery worker."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from tests.service import onnx_models as m
from tests.service.helpers import assert_compiler_outcome, upload, wait_final


def test_upload_compile_and_poll(stack):
    model, weights = m.with_external_data(500)
    archive = m.tar_gz_bytes({"net/model.onnx": model, "net/weights.bin": weights})
    with stack.client() as c:
        r = upload(c, stack.alice, archive, "net.tar.gz")
        assert r.status_code == 201, r.text
        mid = r.json()["id"]
        assert upload(c, stack.alice, archive).json()["id"] == mid  # same bytes, same model

        r = c.post(
            "/api/v1/compilations",
            headers={"X-API-Key": stack.alice},
            json={"model_id": mid, "input_shapes": {"x": [1, 4]}, "target": "linux-arm64"},
        )
        assert r.status_code == 202, r.text
        location = r.headers["location"]
        final = wait_final(c, stack.alice, location)
        assert_compiler_outcome(final)
        assert final["attempts"] == 1 and final["target"] == "linux-arm64"

        h_bob = {"X-API-Key": stack.bob}
        assert c.get(location, headers=h_bob).status_code == 404
        assert c.get(f"/api/v1/models/{mid}", headers=h_bob).status_code == 404
        assert c.get("/api/v1/models", headers={"X-API-Key": "dnf_wrong"}).status_code == 401
        assert c.get("/api/v1/agent/ping", headers={"X-API-Key": stack.agent}).status_code == 200
        assert c.get("/api/v1/models", headers={"X-API-Key": stack.agent}).status_code == 403

    # The worker really ran it (its hostname is on the row), against PostgreSQL.
    engine = create_engine(stack.settings.sqlalchemy_url)
    with engine.connect() as conn:
        worker = conn.execute(
            text("SELECT worker FROM compilations WHERE id = :id"), {"id": final["id"]}
        ).scalar_one()
    engine.dispose()
    assert worker and worker.startswith(tuple("abcdefghijklmnopqrstuvwxyz0123456789"))


def test_oversize_and_invalid_uploads_over_http(stack):
    with stack.client() as c:
        r = upload(c, stack.alice, b"\0" * (2 << 20))
        assert r.status_code == 413 and "limit" in r.json()["detail"]
        r = upload(c, stack.alice, m.invalid_graph_bytes())
        assert r.status_code == 422 and r.json()["detail"].startswith("invalid ONNX graph")
        r = upload(c, stack.alice, m.zip_bytes({"../x.onnx": m.tiny_bytes()}))
        assert r.status_code == 422 and "'..'" in r.json()["detail"]
