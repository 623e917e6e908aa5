"""Fixtures of the dashboard tests: one app (SQLite, in-process worker) per module, a signed-in
browser-like client per user, and one compiled model whose names are hostile."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import onnx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from onnx import TensorProto, helper, numpy_helper

from dnfstore import migrate
from dnfstore.settings import Settings
from service.main import create_app
from tests.service.conftest import add_user, embedded_settings
from workers.embedded import EmbeddedWorker

HOSTILE = "<script>alert(1)</script>"
# Upload names lose everything up to the last "/", so the model's name carries no slash.
HOSTILE_FILE = "<img src=x onerror=alert(1)>&.onnx"
_META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]*)">')
_FORM_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def hostile_model() -> onnx.ModelProto:
    """y = Relu(MatMul(x, w)) + b, every node and the graph named with markup."""
    import numpy as np

    w = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    b = np.ones((1, 3), dtype=np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["m"], name=f"{HOSTILE}/MatMul"),
            helper.make_node("Relu", ["m"], ["r"], name=f"{HOSTILE}/Relu"),
            helper.make_node("Add", ["r", "b"], ["y"], name="<img src=x onerror=alert(2)>/Add"),
        ],
        HOSTILE,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def form_token(html: str) -> str:
    found = _FORM_CSRF.search(html)
    assert found, "no csrf_token field in the page"
    return found.group(1)


def page_token(html: str) -> str:
    found = _META_CSRF.search(html)
    assert found, "no csrf-token meta in the page"
    return found.group(1)


@dataclass
class Dash:
    app: FastAPI
    settings: Settings
    alice: str  # user keys
    bob: str
    agent: str  # alice's agent key
    client: TestClient  # runs the app's lifespan (the embedded worker); no cookies used

    def browser(self, base_url: str = "http://testserver") -> TestClient:
        """A fresh client with its own cookie jar (the lifespan already runs)."""
        return TestClient(self.app, base_url=base_url)

    def signed_in(self, key: str) -> tuple[TestClient, str]:
        """A browser signed in with ``key`` and the page's CSRF token."""
        b = self.browser()
        token = form_token(b.get("/signin").text)
        r = b.post("/signin", data={"api_key": key, "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303, r.text
        return b, page_token(b.get("/").text)

    def wait_final(self, compilation_id: str, key: str, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            body = self.client.get(f"/api/v1/compilations/{compilation_id}",
                                   headers={"X-API-Key": key}).json()
            if body["state"] in ("succeeded", "failed"):
                return body
            assert time.monotonic() < deadline, body
            time.sleep(0.1)


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dash]:
    data: Path = tmp_path_factory.mktemp("dash") / "data"
    settings = embedded_settings(data)
    migrate.upgrade(settings)
    alice, agent = add_user(settings, "alice")
    bob, _ = add_user(settings, "bob")
    app = create_app(settings, dispatcher=EmbeddedWorker(settings))
    with TestClient(app) as client:
        yield Dash(app=app, settings=settings, alice=alice, bob=bob, agent=agent, client=client)


@pytest.fixture(scope="module")
def hostile_job(dash: Dash) -> dict:
    """Alice's succeeded compilation of :func:`hostile_model`, uploaded as
    :data:`HOSTILE_FILE`."""
    key = {"X-API-Key": dash.alice}
    data = hostile_model().SerializeToString()
    r = dash.client.post("/api/v1/models", headers=key,
                         files={"file": (HOSTILE_FILE, data, "application/octet-stream")})
    assert r.status_code == 201, r.text
    r = dash.client.post("/api/v1/compilations", headers=key, json={"model_id": r.json()["id"]})
    assert r.status_code == 202, r.text
    body = dash.wait_final(r.json()["id"], dash.alice)
    assert body["state"] == "succeeded", body
    assert body["summary"]["max_abs_error"] < 1e-4, body
    return body
