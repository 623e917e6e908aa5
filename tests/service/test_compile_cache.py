"""The compile cache and ``Idempotency-Key`` on POST /compilations, on SQLite and PostgreSQL.

The API runs in-process with a dispatcher that only records what it was asked to run, so a
test decides when a compilation "ran": it finishes the job the way a worker does (claim, then
the final conditional UPDATE with the artifact's storage keys and the profiling fingerprint
read from the database). ``test_cache_hit_after_a_real_compile`` runs the real worker.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

import compiler_core.version
import service.api.routes.compilations as route
from dnfstore import compilations as crud
from dnfstore import migrate
from dnfstore.base import utcnow
from dnfstore.compile_cache import profile_fingerprint
from dnfstore.db import make_engine, make_sessionmaker
from dnfstore.models import Compilation, User
from dnfstore.profiling_models import DeviceClass, ProfileEntry
from profiling.device import host_device_class
from service.crud.users import create_api_key, create_user
from service.main import create_app
from tests.helpers.pg import scratch_database
from tests.service import onnx_models as m
from tests.service.conftest import embedded_settings
from tests.service.helpers import (
    RecordingDispatcher,
    assert_compiler_outcome,
    upload,
    wait_final,
)

CLASS = "cache-test-class"


@dataclass
class Api:
    client: TestClient
    sessions: object
    storage: Path
    recorder: RecordingDispatcher

    def user(self, *, share_cache: bool = False) -> tuple[uuid.UUID, str]:
        with self.sessions() as s:
            user = create_user(session=s, name=f"u-{uuid.uuid4().hex[:10]}")
            user.share_cache = share_cache
            s.commit()
            _, key = create_api_key(session=s, user=user)
            return user.id, key

    def model(self, key: str, seed: int = 1) -> str:
        r = upload(self.client, key, m.tiny_bytes(seed))
        assert r.status_code in (200, 201), r.text
        return r.json()["id"]

    def post(self, key: str, *, idempotency_key: str | None = None, **body):
        headers = {"X-API-Key": key}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return self.client.post("/api/v1/compilations", headers=headers, json=body)

    def run(self, compilation_id: str, *, state: str = "succeeded",
            profile_class: str | None = CLASS) -> bytes:
        """Finish a queued job as a worker does; returns its artifact's bytes."""
        cid = uuid.UUID(compilation_id)
        artifact = f"compilations/{cid}/artifact.tar.gz"
        data = b"\x1f\x8b artifact of " + str(cid).encode()
        (self.storage / artifact).parent.mkdir(parents=True, exist_ok=True)
        (self.storage / artifact).write_bytes(data)
        with self.sessions() as s:
            attempt = crud.claim_compilation(session=s, compilation_id=cid, worker="test",
                                             max_attempts=3)
            assert attempt == 1
            fp = profile_fingerprint(s, profile_class) if profile_class else None
            values = dict(error="it broke") if state == "failed" else dict(
                artifact_path=artifact, artifact_bytes=len(data), report_path=artifact,
                original_nodes=2, fused_blocks=1, latency_ms=0.5,
                profile_class=profile_class, profile_fingerprint=fp)
            assert crud.finish_compilation(session=s, compilation_id=cid, attempt=attempt,
                                           state=state, **values)
        return data

    def count(self, **where) -> int:
        with self.sessions() as s:
            q = select(func.count(Compilation.id))
            for k, v in where.items():
                q = q.where(getattr(Compilation, k) == v)
            return s.scalar(q)

    def add_entry(self, device_class: str) -> None:
        add_profile_entry(self.sessions, device_class)


def add_profile_entry(sessions, device_class: str, **columns) -> None:
    """Commit one profile entry of ``device_class`` (a DeviceClass row is made when missing);
    ``columns`` replace the entry's defaults."""
    entry = dict(
        signature="a" * 64, structure_key="b" * 64, codegen_version=1, threads=1,
        ops="Add | Relu", mapping="O2O | O2O", dtype="float32", shapes=[[1, 4]],
        fused_median_us=1.0, fused_p10_us=1.0, fused_p90_us=1.0, fused_count=3,
        separate_median_us=2.0, separate_p10_us=2.0, separate_p90_us=2.0, separate_count=3,
        spread=0.0,
    ) | columns
    with sessions() as s, s.begin():
        dc = s.scalar(select(DeviceClass).where(DeviceClass.key == device_class))
        if dc is None:
            dc = DeviceClass(key=device_class)
            s.add(dc)
            s.flush()
        s.add(ProfileEntry(device_class_id=dc.id, **entry))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request, tmp_path_factory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('cache') / 'db.sqlite'}"
    else:
        with scratch_database("dnnfusion_cache") as url:
            yield url


@pytest.fixture(scope="module")
def module_api(backend, tmp_path_factory) -> Iterator[Api]:
    settings = embedded_settings(tmp_path_factory.mktemp("data"), database_url=backend)
    migrate.upgrade(settings)
    engine = make_engine(settings)
    recorder = RecordingDispatcher()
    app = create_app(settings, dispatcher=recorder)
    try:
        with TestClient(app) as client:
            yield Api(client, make_sessionmaker(engine), settings.storage_root, recorder)
    finally:
        engine.dispose()


@pytest.fixture
def api(module_api: Api) -> Api:
    module_api.recorder.sent.clear()
    return module_api


def _first(api: Api, key: str, model_id: str, **body) -> tuple[str, bytes]:
    r = api.post(key, model_id=model_id, **body)
    assert r.status_code == 202, r.text
    return r.json()["id"], api.run(r.json()["id"])


def test_identical_request_is_answered_from_the_cache(api):
    _, key = api.user()
    model_id = api.model(key)
    body = dict(model_id=model_id, input_shapes={"x": [1, 4]}, options={"fast_math": False},
                device_class=CLASS)
    first, data = _first(api, key, **body)

    r = api.post(key, **body)
    assert r.status_code == 201, r.text
    hit = r.json()
    assert hit["cache_hit"] is True and hit["cached_from"] == first
    assert hit["id"] != first and hit["state"] == "succeeded" and hit["attempts"] == 0
    assert r.headers["location"] == f"/api/v1/compilations/{hit['id']}"
    assert hit["summary"]["fused_blocks"] == 1 and hit["artifact_bytes"] == len(data)
    assert api.recorder.sent == [uuid.UUID(first)]  # nothing new was queued
    # The hit's artifact is the original's stored file (no copy was made).
    got = api.client.get(f"/api/v1/compilations/{hit['id']}/artifact",
                         headers={"X-API-Key": key})
    assert got.status_code == 200 and got.content == data
    assert not (api.storage / "compilations" / hit["id"]).exists()
    original = api.client.get(f"/api/v1/compilations/{first}", headers={"X-API-Key": key})
    assert original.json()["cache_hit"] is False and original.json()["cached_from"] is None

    # A hit of a hit names the compilation that actually ran.
    again = api.post(key, **body)
    assert again.status_code == 201 and again.json()["cached_from"] == first


@pytest.mark.parametrize(
    "change",
    [
        {"input_shapes": {"x": [1, 4]}},
        {"options": {"fast_math": True}},
        {"options": {"compare_with_onnxruntime": False}},
        {"target": "linux-arm64"},
        {"device_class": "another-class"},
        {"device_class": None},
    ],
    ids=["shapes", "fast_math", "compare", "target", "device_class", "no_device_class"],
)
def test_a_different_request_is_compiled(api, change):
    _, key = api.user()
    model_id = api.model(key)
    base = dict(model_id=model_id, device_class=CLASS)
    _first(api, key, **base)
    r = api.post(key, **{**base, **change})
    assert r.status_code == 202 and r.json()["cache_hit"] is False, r.text
    assert r.json()["state"] == "queued" and len(api.recorder.sent) == 2


def test_an_option_set_to_its_default_is_the_same_request(api):
    _, key = api.user()
    model_id = api.model(key)
    first, _ = _first(api, key, model_id=model_id)
    r = api.post(key, model_id=model_id, options={"compare_with_onnxruntime": True,
                                                  "fast_math": False})
    assert r.status_code == 201 and r.json()["cached_from"] == first, r.text


def test_other_model_bytes_are_compiled(api):
    _, key = api.user()
    _first(api, key, model_id=api.model(key, seed=1))
    r = api.post(key, model_id=api.model(key, seed=2))
    assert r.status_code == 202, r.text


def test_another_users_result_is_reused_only_when_they_share(api):
    alice, alice_key = api.user()
    _, bob_key = api.user()
    first, data = _first(api, alice_key, model_id=api.model(alice_key, seed=5))
    bob_model = api.model(bob_key, seed=5)  # the same bytes, bob's own model

    r = api.post(bob_key, model_id=bob_model)
    assert r.status_code == 202 and r.json()["cache_hit"] is False, r.text

    with api.sessions() as s:
        s.execute(update(User).where(User.id == alice).values(share_cache=True))
        s.commit()
    r = api.post(bob_key, model_id=bob_model, cache=True)
    assert r.status_code == 201 and r.json()["cached_from"] == first, r.text
    hit = r.json()["id"]
    assert r.json()["model_id"] == bob_model
    h = {"X-API-Key": bob_key}
    assert api.client.get(f"/api/v1/compilations/{hit}/artifact", headers=h).content == data
    assert api.client.get(f"/api/v1/compilations/{first}", headers=h).status_code == 404


def test_a_new_codegen_version_is_compiled(api, monkeypatch):
    _, key = api.user()
    model_id = api.model(key)
    _first(api, key, model_id=model_id)
    monkeypatch.setattr(compiler_core.version, "CODEGEN_VERSION",
                        compiler_core.version.CODEGEN_VERSION + 1)
    r = api.post(key, model_id=model_id)
    assert r.status_code == 202, r.text


def test_a_new_profile_entry_of_the_class_is_compiled(api):
    _, key = api.user()
    model_id = api.model(key)
    cls = f"cls-{uuid.uuid4().hex[:8]}"
    r = api.post(key, model_id=model_id, device_class=cls)
    first = r.json()["id"]
    api.run(first, profile_class=cls)

    api.add_entry("some-other-class")  # another class's numbers do not decide this plan
    r = api.post(key, model_id=model_id, device_class=cls)
    assert r.status_code == 201 and r.json()["cached_from"] == first, r.text

    api.add_entry(cls)
    r = api.post(key, model_id=model_id, device_class=cls)
    assert r.status_code == 202 and r.json()["cache_hit"] is False, r.text
    api.run(r.json()["id"], profile_class=cls)
    r = api.post(key, model_id=model_id, device_class=cls)  # cached again, the new result
    assert r.status_code == 201 and r.json()["cached_from"] not in (None, first)


def test_unrecorded_profiles_failures_and_cache_false_are_not_reused(api):
    _, key = api.user()
    model_id = api.model(key)
    r = api.post(key, model_id=model_id)
    api.run(r.json()["id"], profile_class=None)  # decided without the database: not reusable
    assert api.post(key, model_id=model_id).status_code == 202

    _, key2 = api.user()
    model2 = api.model(key2, seed=9)
    api.run(api.post(key2, model_id=model2).json()["id"], state="failed")
    assert api.post(key2, model_id=model2).status_code == 202

    _, key3 = api.user()
    model3 = api.model(key3, seed=10)
    _first(api, key3, model_id=model3)
    r = api.post(key3, model_id=model3, cache=False)
    assert r.status_code == 202 and r.json()["cache_hit"] is False


def test_cache_must_be_a_boolean(api):
    _, key = api.user()
    r = api.post(key, model_id=api.model(key), cache="no")
    assert r.status_code == 422 and "cache" in r.json()["detail"], r.text


# ---- Idempotency-Key ---------------------------------------------------------------------


def test_same_key_same_body_returns_the_same_compilation(api):
    user, key = api.user()
    model_id = api.model(key)
    first = api.post(key, idempotency_key="retry-1", model_id=model_id, target="host")
    assert first.status_code == 202, first.text
    # The same body in another key order and spelling out a default.
    again = api.post(key, idempotency_key="retry-1", target="host", model_id=model_id)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["location"] == first.headers["location"]
    assert api.count(owner_id=user) == 1 and len(api.recorder.sent) == 1

    api.run(first.json()["id"])  # still the same compilation once it finished
    done = api.post(key, idempotency_key="retry-1", model_id=model_id, target="host")
    assert done.status_code == 200 and done.json()["state"] == "succeeded"
    assert api.count(owner_id=user) == 1


def test_same_key_other_body_is_409(api):
    user, key = api.user()
    model_id = api.model(key)
    first = api.post(key, idempotency_key="k-409", model_id=model_id)
    r = api.post(key, idempotency_key="k-409", model_id=model_id, input_shapes={"x": [1, 4]})
    assert r.status_code == 409, r.text
    detail = r.json()["detail"]
    assert "Idempotency-Key 'k-409'" in detail and "different request body" in detail
    assert first.json()["id"] in detail
    assert api.count(owner_id=user) == 1


def test_keys_are_per_user_and_expire_after_24_hours(api):
    alice, alice_key = api.user()
    _, bob_key = api.user()
    a = api.post(alice_key, idempotency_key="shared-key", model_id=api.model(alice_key))
    b = api.post(bob_key, idempotency_key="shared-key", model_id=api.model(bob_key),
                 cache=False)
    assert a.status_code == 202 and b.status_code == 202 and a.json()["id"] != b.json()["id"]

    with api.sessions() as s:
        s.execute(update(Compilation).where(Compilation.id == uuid.UUID(a.json()["id"]))
                  .values(created_at=utcnow() - timedelta(hours=24, minutes=1)))
        s.commit()
    later = api.post(alice_key, idempotency_key="shared-key", model_id=api.model(alice_key),
                     input_shapes={"x": [1, 4]})
    assert later.status_code == 202 and later.json()["id"] != a.json()["id"], later.text
    assert api.count(owner_id=alice) == 2


def test_a_cache_hit_is_replayed_too(api):
    _, key = api.user()
    model_id = api.model(key)
    first, _ = _first(api, key, model_id=model_id)
    hit = api.post(key, idempotency_key="hit-key", model_id=model_id)
    assert hit.status_code == 201 and hit.json()["cached_from"] == first
    again = api.post(key, idempotency_key="hit-key", model_id=model_id)
    assert again.status_code == 200 and again.json()["id"] == hit.json()["id"]


@pytest.mark.parametrize("bad", [b"", b"x" * 256, b"tab\there", "caf\u00e9".encode()])
def test_malformed_idempotency_key_is_422(api, bad):
    _, key = api.user()
    r = api.client.post("/api/v1/compilations",
                        headers={"X-API-Key": key, "Idempotency-Key": bad},
                        json={"model_id": str(uuid.uuid4())})
    assert r.status_code == 422 and "Idempotency-Key" in r.json()["detail"], r.text


# ---- with the real worker ----------------------------------------------------------------


def test_cache_hit_after_a_real_compile(embedded):
    """The embedded worker compiles once and records whose profiling data decided the plan;
    the identical request is then a hit with the same artifact and report; a new profile
    entry of that class (the host's: no device class was asked for) makes it compile again."""
    c, h = embedded.client, {"X-API-Key": embedded.alice}
    model_id = upload(c, embedded.alice, m.tiny_bytes(77)).json()["id"]
    body = {"model_id": model_id, "input_shapes": {"x": [1, 4]}}
    r = c.post("/api/v1/compilations", headers=h, json=body)
    assert r.status_code == 202, r.text
    first = wait_final(c, embedded.alice, r.headers["location"], timeout=180)
    assert_compiler_outcome(first)
    engine = make_engine(embedded.settings)
    sessions = make_sessionmaker(engine)
    host = host_device_class().key
    with sessions() as s:
        row = s.get(Compilation, uuid.UUID(first["id"]))
        assert (row.profile_class, row.profile_fingerprint) == (host, profile_fingerprint(s, host))

    r = c.post("/api/v1/compilations", headers=h, json=body)
    assert r.status_code == 201, r.text
    hit = r.json()
    assert hit["cache_hit"] and hit["cached_from"] == first["id"]
    assert hit["summary"] == first["summary"] and hit["artifact_sha256"] == first["artifact_sha256"]
    for what in ("artifact", "report"):
        a = c.get(f"/api/v1/compilations/{first['id']}/{what}", headers=h)
        b = c.get(f"/api/v1/compilations/{hit['id']}/{what}", headers=h)
        assert a.status_code == b.status_code == 200 and a.content == b.content

    add_profile_entry(
        sessions, host, signature="c" * 64, structure_key="d" * 64,
        codegen_version=compiler_core.version.CODEGEN_VERSION, ops="X | Y", shapes=[],
        separate_median_us=1.0, separate_p10_us=1.0, separate_p90_us=1.0)
    engine.dispose()
    r = c.post("/api/v1/compilations", headers=h, json=body)
    assert r.status_code == 202 and not r.json()["cache_hit"], r.text
    assert_compiler_outcome(wait_final(c, embedded.alice, r.headers["location"], timeout=180))


def test_a_concurrent_request_with_the_same_key_gets_the_winners_compilation(api, monkeypatch):
    """Both requests looked the key up before either inserted: the unique (owner, key)
    constraint refuses the second INSERT, which then answers with the first's compilation."""
    user, key = api.user()
    model_id = api.model(key)
    first = api.post(key, idempotency_key="race", model_id=model_id)
    assert first.status_code == 202
    real = route.cache_store.find_by_idempotency_key
    calls: list[str] = []

    def late(session, **kw):  # the first lookup misses, as if the winner had not committed yet
        calls.append(kw["key"])
        return None if len(calls) == 1 else real(session, **kw)

    monkeypatch.setattr(route.cache_store, "find_by_idempotency_key", late)
    again = api.post(key, idempotency_key="race", model_id=model_id)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"], again.text
    other = api.post(key, idempotency_key="race", model_id=model_id, cache=False)
    assert len(calls) == 3 and other.status_code == 409, other.text
    assert api.count(owner_id=user) == 1 and len(api.recorder.sent) == 1
