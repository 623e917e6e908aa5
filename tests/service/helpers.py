"""Small helpers shared by the service tests."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

FINAL = ("succeeded", "failed")


def upload(client: Any, key: str, data: bytes, filename: str = "model.onnx"):
    return client.post(
        "/api/v1/models",
        headers={"X-API-Key": key},
        files={"file": (filename, data, "application/octet-stream")},
    )


def wait_final(client: Any, key: str, location: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll a compilation until it is succeeded or failed (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(location, headers={"X-API-Key": key}).json()
        if body["state"] in FINAL:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"compilation not final after {timeout} s: {body}")
        time.sleep(0.1)


def assert_compiler_outcome(body: dict[str, Any]) -> None:
    """The test models are valid and supported: every job must succeed, checked against ONNX
    Runtime (max error in the summary)."""
    assert body["state"] == "succeeded", body
    error = body["summary"]["max_abs_error"]
    assert error is not None and error < 1e-4, body


def compile_traced(client: Any, key: str, model_id: str, request_id: str) -> str:
    """POST a host compilation of ``model_id`` (input ``x``: [1, 4]) sent with ``X-Request-ID:
    request_id``; checks the 202 and the echoed id, waits for the job and checks it succeeded
    (:func:`assert_compiler_outcome`). Returns the compilation id."""
    r = client.post(
        "/api/v1/compilations",
        headers={"X-API-Key": key, "X-Request-ID": request_id},
        json={"model_id": model_id, "input_shapes": {"x": [1, 4]}, "target": "host"},
    )
    assert r.status_code == 202, r.text
    assert r.headers["x-request-id"] == request_id
    assert_compiler_outcome(wait_final(client, key, r.headers["location"]))
    return r.json()["id"]


def stored_models(storage_root: Path) -> set[str]:
    models = storage_root / "models"
    return {p.name for p in models.iterdir()} if models.is_dir() else set()


def tmp_entries(storage_root: Path) -> list[str]:
    tmp = storage_root / "tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.is_dir() else []


class RecordingDispatcher:
    """A dispatcher that runs nothing (the jobs stay ``queued``): ``sent`` lists the ids of the
    compilations it was asked to enqueue."""

    def __init__(self) -> None:
        self.sent: list[uuid.UUID] = []

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def enqueue_compilation(self, compilation_id: uuid.UUID) -> bool:
        self.sent.append(compilation_id)
        return True
