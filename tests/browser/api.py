"""The JSON API side of the browser tests: what the pages must agree with.

Uploads and compilations made here (not through the UI) are the fixtures the report tests
share; the expected values the tests compare the pages with come from these responses.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

FINAL = ("succeeded", "failed")
# The real model the tests upload (small, so compiling it stays quick): PP-OCR's classifier.
CLS_FILE = "ppocr_mobile_v2_cls.onnx"
CLS_SHAPES = {"x": [1, 3, 48, 192]}


def client(base_url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"X-API-Key": key}, timeout=60)


def upload(c: httpx.Client, data: bytes, filename: str) -> dict[str, Any]:
    """``POST /models``; the stored model (201 new, 200 the same bytes again)."""
    r = c.post("/api/v1/models", files={"file": (filename, data, "application/octet-stream")})
    assert r.status_code in (200, 201), r.text
    return r.json()


def compile_and_wait(
    c: httpx.Client,
    model_id: str,
    input_shapes: dict[str, list[int]],
    timeout: float = 300,
    *,
    options: dict[str, Any] | None = None,
    expect: str = "succeeded",
) -> dict[str, Any]:
    """``POST /compilations`` and poll it until final; the final compilation (its state must
    be ``expect``)."""
    body = {"model_id": model_id, "input_shapes": input_shapes, "options": options or {}}
    r = c.post("/api/v1/compilations", json=body)
    # 201: the dashboard test compiled the same request first, the compile cache answers.
    assert r.status_code in (201, 202), r.text
    job = wait_final(c, r.json()["id"], timeout)
    assert job["state"] == expect, job
    return job


def wait_final(c: httpx.Client, compilation_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = c.get(f"/api/v1/compilations/{compilation_id}").json()
        if body["state"] in FINAL:
            return body
        assert time.monotonic() < deadline, f"not final after {timeout} s: {body}"
        time.sleep(0.2)


def report(c: httpx.Client, compilation_id: str) -> dict[str, Any]:
    """The compiler's report.json of a succeeded compilation (blocks, ops, node names)."""
    r = c.get(f"/api/v1/compilations/{compilation_id}/report")
    assert r.status_code == 200, r.text
    return r.json()


def compilation_ids(c: httpx.Client) -> set[str]:
    """Ids of the user's compilations (the tests make far fewer than one page of 100)."""
    r = c.get("/api/v1/compilations", params={"limit": 100})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] <= 100, body["count"]
    return {j["id"] for j in body["data"]}


def upload_and_compile(
    c: httpx.Client, path: Path | bytes, filename: str, input_shapes: dict[str, list[int]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Upload a model, compile it, return (final compilation, its report)."""
    data = path if isinstance(path, bytes) else path.read_bytes()
    model = upload(c, data, filename)
    job = compile_and_wait(c, model["id"], input_shapes)
    return job, report(c, job["id"])
