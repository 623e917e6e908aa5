"""API keys: missing or wrong -> 401; user keys and device-agent keys are not interchangeable."""

from __future__ import annotations

import pytest

from service.security import hash_key


@pytest.mark.parametrize("path", ["/api/v1/models", "/api/v1/compilations", "/api/v1/agent/ping"])
def test_missing_or_wrong_key_is_401(embedded, path):
    assert embedded.client.get(path).status_code == 401
    r = embedded.client.get(path, headers={"X-API-Key": "dnf_not-a-real-key"})
    assert r.status_code == 401 and r.json() == {"detail": "invalid API key"}


def test_upload_without_key_is_401(embedded):
    r = embedded.client.post("/api/v1/models", files={"file": ("m.onnx", b"123")})
    assert r.status_code == 401


def test_agent_key_only_for_agent_endpoints(embedded):
    agent = {"X-API-Key": embedded.agent}
    assert embedded.client.get("/api/v1/models", headers=agent).status_code == 403
    assert embedded.client.get("/api/v1/compilations", headers=agent).status_code == 403
    r = embedded.client.get("/api/v1/agent/ping", headers=agent)
    assert r.status_code == 200 and r.json()["pong"] is True and r.json()["key_kind"] == "agent"
    user = {"X-API-Key": embedded.alice}
    assert embedded.client.get("/api/v1/agent/ping", headers=user).status_code == 403


def test_keys_are_stored_hashed(embedded):
    from sqlalchemy import select

    from dnfstore.db import make_engine, make_sessionmaker
    from dnfstore.models import ApiKey

    engine = make_engine(embedded.settings)
    with make_sessionmaker(engine)() as session:
        hashes = set(session.scalars(select(ApiKey.key_hash)))
    engine.dispose()
    assert hash_key(embedded.alice) in hashes and embedded.alice not in hashes


def test_health_and_docs_need_no_key(embedded):
    assert embedded.client.get("/api/v1/health").json() == {"status": "ok"}
    assert embedded.client.get("/docs").status_code == 200
    spec = embedded.client.get("/api/v1/openapi.json").json()
    assert (
        "/api/v1/models" in spec["paths"]
        and "/api/v1/compilations/{compilation_id}/artifact" in spec["paths"]
    )
    upload_body = spec["paths"]["/api/v1/models"]["post"]["requestBody"]["content"]
    assert "file" in upload_body["multipart/form-data"]["schema"]["properties"]
    assert "APIKeyHeader" in spec["components"]["securitySchemes"]
