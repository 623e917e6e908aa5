"""The OpenAPI document describes what the API does (issue #14).

Schemathesis, bounded, against the app in-process (ASGI) with real keys: every operation with
every check (declared status codes, response schemas, content types, headers, schema-violating
requests refused, schema-valid ones accepted, auth not ignored, ``Allow`` of a 405...) over its
examples, coverage and fuzzing phases, then the stateful phase following the document's links
(upload -> compile -> read the compilation). The configuration, shared with a manual CLI run
against a served API, is ``openapi_contract.toml``; the upload's file part gets real ONNX files
from ``openapi_hooks``. Jobs are queued, never run (no compiler here): a compilation's files
answer 409, which the document declares. Measured on this 2-core machine while other work ran:
13-26 s for the operations (about 950 requests), 2-10 s for the stateful run.

Plus plain tests of what the contract rests on: every keyed route declares 401 and 403, there is
one error schema, a malformed JSON body gets the documented status and shape.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.config import SchemathesisConfig

import tests.service.openapi_hooks  # noqa: F401  (registers the upload's file strategies)
from dnfstore import migrate
from service.main import create_app
from tests.service.conftest import add_user, embedded_settings, headers
from tests.service.helpers import upload
from tests.service.onnx_models import tiny_bytes

CONFIG = Path(__file__).with_name("openapi_contract.toml")
EXAMPLES = 6  # fuzzed cases per operation (the coverage phase adds its boundary cases)
API = "/api/v1"


class IdleDispatcher:
    """Queues nothing: a compilation stays ``queued`` (no compiler runs in this test)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def enqueue_compilation(self, compilation_id: uuid.UUID, **_: object) -> bool:
        return True


@pytest.fixture(scope="module")
def contract_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str, str]]:
    """The app on its own SQLite database, a user key and an agent key of one user."""
    settings_ = embedded_settings(tmp_path_factory.mktemp("contract") / "data")
    migrate.upgrade(settings_)
    key, agent = add_user(settings_, "alice")
    app = create_app(settings_, dispatcher=IdleDispatcher())
    with TestClient(app):  # runs the lifespan
        yield app, key, agent


@pytest.fixture(scope="module")
def contract_schema(contract_app: tuple[FastAPI, str, str]) -> schemathesis.BaseSchema:
    app, key, agent = contract_app
    with pytest.MonkeyPatch.context() as env:  # the config reads the keys from the environment
        env.setenv("DNNFUSION_CONTRACT_KEY", key)
        env.setenv("DNNFUSION_CONTRACT_AGENT_KEY", agent)
        config = SchemathesisConfig.from_path(CONFIG)
    config.projects.get_default().generation.update(deterministic=True)
    return schemathesis.openapi.from_asgi(f"{API}/openapi.json", app, config=config)


@pytest.fixture(scope="module")
def document(contract_app: tuple[FastAPI, str, str]) -> dict[str, Any]:
    app, _, _ = contract_app
    return TestClient(app).get(f"{API}/openapi.json").json()


schema = schemathesis.pytest.from_fixture("contract_schema")


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_operation_keeps_the_contract(case: schemathesis.Case) -> None:
    case.call_and_validate()


@pytest.mark.slow
def test_stateful_links_keep_the_contract(
    contract_app: tuple[FastAPI, str, str], contract_schema: schemathesis.BaseSchema
) -> None:
    """Chains of calls along the document's links, with real keys; the chain upload -> compile
    -> read the compilation is walked at least once. Each scenario runs as a new user (and
    agent) so it starts from an empty account: the same scenario gets the same answers, as
    Hypothesis needs to replay it."""
    app, _, _ = contract_app
    seen: set[tuple[str, int]] = set()
    users = iter(range(1_000_000))

    class Recorded(contract_schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            self.key, self.agent = add_user(app.state.settings, f"stateful-{next(users)}")

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            agent_route = case.operation.path.startswith(f"{API}/agent/")
            return {"headers": headers(self.agent if agent_route else self.key)}

        def after_call(self, response: Any, case: schemathesis.Case) -> None:
            seen.add((case.operation.label, response.status_code))

    run_state_machine_as_test(
        Recorded,
        settings=settings(
            max_examples=12,
            stateful_step_count=10,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        ),
    )
    chain = {
        (f"POST {API}/models", 201),
        (f"POST {API}/compilations", 202),
        (f"GET {API}/compilations/{{compilation_id}}", 200),
    }
    assert chain <= seen, sorted(seen)


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, op in item.items():
            yield f"{method.upper()} {path}", op


def test_every_keyed_route_declares_401_and_403(document: dict[str, Any]) -> None:
    keyed = {name: op for name, op in _operations(document) if op.get("security")}
    assert len(keyed) >= 19  # every route but /health
    missing = {name: sorted({"401", "403"} - set(op["responses"])) for name, op in keyed.items()}
    assert {name: codes for name, codes in missing.items() if codes} == {}
    unkeyed = [name for name, op in _operations(document) if not op.get("security")]
    assert unkeyed == [f"GET {API}/health"]


def test_one_error_schema_for_every_error(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["ErrorPublic"]["required"] == ["detail"]
    assert schemas["ErrorPublic"]["properties"]["detail"]["type"] == "string"
    for name, op in _operations(document):
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")):
                body = response["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/ErrorPublic"}, (name, status)


def test_only_the_api_is_in_the_document(document: dict[str, Any]) -> None:
    """The dashboard's pages, /docs, /static and /metrics are not part of the API schema."""
    assert all(path.startswith(f"{API}/") for path in document["paths"])


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"model_id": ', 422),  # not JSON: FastAPI's decode error, one line
        (b'{"model_id": "\xff"}', 400),  # not UTF-8: not even text
    ],
)
def test_malformed_json_gets_the_documented_status_and_shape(
    contract_app: tuple[FastAPI, str, str], document: dict[str, Any], body: bytes, status: int
) -> None:
    app, key, agent = contract_app
    client = TestClient(app)
    error_schema = document["components"]["schemas"]["ErrorPublic"]
    for path, token in ((f"{API}/compilations", key), (f"{API}/agent/lease", agent)):
        r = client.post(
            path, content=body, headers={**headers(token), "Content-Type": "application/json"}
        )
        assert r.status_code == status, (path, r.text)
        assert str(status) in document["paths"][path]["post"]["responses"]
        jsonschema.validate(r.json(), error_schema)
        assert "\n" not in r.json()["detail"]


def test_integral_json_numbers_are_integers(contract_app: tuple[FastAPI, str, str]) -> None:
    """JSON Schema's integer includes 4.0: the document says integer, so the server takes it;
    a string or a boolean is still refused."""
    app, key, _ = contract_app
    client = TestClient(app)
    model = upload(client, key, tiny_bytes(101)).json()
    ok = client.post(f"{API}/compilations", headers=headers(key),
                     json={"model_id": model["id"], "input_shapes": {"x": [1.0, 4.0]}})
    assert ok.status_code == 202, ok.text
    assert ok.json()["input_shapes"] == {"x": [1, 4]}
    for bad in ("4", True, 4.5):
        r = client.post(f"{API}/compilations", headers=headers(key),
                        json={"model_id": model["id"], "input_shapes": {"x": [1, bad]}})
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["detail"].startswith("body.input_shapes.x.1:")


def test_a_request_id_beyond_the_column_is_a_422(contract_app: tuple[FastAPI, str, str]) -> None:
    """Was a 500: the id reached the database, whose INTEGER column cannot hold it."""
    app, _, agent = contract_app
    client = TestClient(app)
    r = client.post(f"{API}/agent/requests/{2**63}/release", headers=headers(agent), json={})
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("path.request_id:")


def test_a_405_lists_every_method_of_the_path(contract_app: tuple[FastAPI, str, str]) -> None:
    app, key, _ = contract_app
    r = TestClient(app).request("DELETE", f"{API}/models", headers=headers(key))
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET, POST"
    assert r.json() == {"detail": "Method Not Allowed"}
