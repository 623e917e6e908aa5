"""Small helpers shared by the service tests."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import compiler_core
from workers.compile_step import NOT_AVAILABLE

COMPILER_PRESENT = hasattr(compiler_core, "compile_model")
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
    """Without the compiler every job must end failed with exactly that reason."""
    assert body["state"] in FINAL, body
    if not COMPILER_PRESENT:
        assert body["state"] == "failed", body
        assert body["error"] == NOT_AVAILABLE, body


def stored_models(storage_root: Path) -> set[str]:
    models = storage_root / "models"
    return {p.name for p in models.iterdir()} if models.is_dir() else set()


def tmp_entries(storage_root: Path) -> list[str]:
    tmp = storage_root / "tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.is_dir() else []
