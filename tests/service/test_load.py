"""Bounded load on the real stack: 50 concurrent uploads, 20 concurrent compilations.

Every job must reach a final state exactly once (no lost job, no duplicate row, no re-run).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.service import onnx_models as m
from tests.service.conftest import add_user
from tests.service.helpers import FINAL, assert_compiler_outcome, upload

UPLOADS = 50
COMPILATIONS = 20


@pytest.mark.slow  # many compilations at once
def test_concurrent_uploads_and_compilations(stack):
    key, _ = add_user(stack.settings, f"load-{uuid.uuid4().hex[:8]}")
    h = {"X-API-Key": key}
    payloads = [m.tiny_bytes(1000 + i) for i in range(UPLOADS)]
    limits = httpx.Limits(max_connections=UPLOADS, max_keepalive_connections=UPLOADS)
    with (
        httpx.Client(base_url=stack.base_url, timeout=120, limits=limits) as c,
        ThreadPoolExecutor(max_workers=UPLOADS) as pool,
    ):
        t0 = time.monotonic()
        ups = list(pool.map(lambda d: upload(c, key, d), payloads))
        upload_s = time.monotonic() - t0
        assert [r.status_code for r in ups] == [201] * UPLOADS, [
            r.text for r in ups if r.status_code != 201
        ]
        assert [r.json()["sha256"] for r in ups] == [
            hashlib.sha256(d).hexdigest() for d in payloads
        ]
        model_ids = [r.json()["id"] for r in ups]
        assert len(set(model_ids)) == UPLOADS
        assert c.get("/api/v1/models?limit=100", headers=h).json()["count"] == UPLOADS

        t0 = time.monotonic()
        posts = list(
            pool.map(
                lambda mid: c.post("/api/v1/compilations", headers=h, json={"model_id": mid}),
                model_ids[:COMPILATIONS],
            )
        )
        assert [r.status_code for r in posts] == [202] * COMPILATIONS
        job_ids = {r.json()["id"] for r in posts}
        assert len(job_ids) == COMPILATIONS

        deadline = time.monotonic() + 90
        while True:
            page = c.get("/api/v1/compilations?limit=100", headers=h).json()
            done = [j for j in page["data"] if j["state"] in FINAL]
            if len(done) == COMPILATIONS or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        compile_s = time.monotonic() - t0
    print(
        f"\nload: {UPLOADS} uploads in {upload_s:.2f} s; "
        f"{COMPILATIONS} compilations final in {compile_s:.2f} s"
    )

    assert "could not publish" not in (stack.root / "api.log").read_text()
    assert page["count"] == COMPILATIONS
    assert {j["id"] for j in page["data"]} == job_ids
    assert len(done) == COMPILATIONS, [j["state"] for j in page["data"]]
    for job in page["data"]:
        assert_compiler_outcome(job)
        assert job["attempts"] == 1, job  # run exactly once
    engine = create_engine(stack.settings.sqlalchemy_url)
    with engine.connect() as conn:
        per_model = conn.execute(
            text(
                "SELECT model_id, count(*) FROM compilations WHERE id = ANY(:ids) GROUP BY model_id"
            ),
            {"ids": [uuid.UUID(i) for i in job_ids]},
        ).all()
    engine.dispose()
    assert len(per_model) == COMPILATIONS and {n for _, n in per_model} == {1}


def test_identical_concurrent_uploads_give_one_model(stack):
    key, _ = add_user(stack.settings, f"dup-{uuid.uuid4().hex[:8]}")
    data = m.tiny_bytes(4242)
    with (
        httpx.Client(base_url=stack.base_url, timeout=60) as c,
        ThreadPoolExecutor(max_workers=8) as pool,
    ):
        rs = list(pool.map(lambda _: upload(c, key, data), range(8)))
        listing = c.get("/api/v1/models", headers={"X-API-Key": key}).json()
    assert sorted(r.status_code for r in rs).count(201) == 1
    assert {r.status_code for r in rs} <= {200, 201}
    assert len({r.json()["id"] for r in rs}) == 1 and listing["count"] == 1
    stored = stack.settings.storage_root / "models" / rs[0].json()["id"] / "model.onnx"
    assert stored.read_bytes() == data
