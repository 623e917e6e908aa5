"""Per-user limits over HTTP (service/quotas.py), on SQLite and PostgreSQL: 429 with the API's
error body naming the limit, ``Retry-After`` where waiting helps, nothing kept of a refused
upload, and two requests racing for the last compilation slot never both pass.

The jobs here are never run (a dispatcher that only records), so they stay ``queued``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from dnfstore import migrate
from dnfstore.base import utcnow
from dnfstore.db import make_engine, make_sessionmaker
from dnfstore.models import Compilation, Model
from dnfstore.settings import Settings
from service import quotas
from service.crud import limits as crud
from service.crud.users import get_user_by_name
from service.main import create_app
from tests.helpers.pg import scratch_database
from tests.service import onnx_models as m
from tests.service.conftest import add_user, embedded_settings, headers
from tests.service.helpers import RecordingDispatcher, stored_models, tmp_entries, upload


@dataclass
class App:
    client: TestClient
    settings: Settings
    sessions: sessionmaker[Session]
    alice: str
    bob: str

    def limit(self, name: str, **values: int | None) -> None:
        with self.sessions() as s:
            crud.set_limits(s, get_user_by_name(session=s, name=name).id, values)

    def compile(self, key: str, model_id: str):
        return self.client.post(
            "/api/v1/compilations", headers=headers(key), json={"model_id": model_id}
        )

    def models_of(self, name: str) -> int:
        with self.sessions() as s:
            user = get_user_by_name(session=s, name=name)
            return s.query(Model).filter(Model.owner_id == user.id).count()


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, tmp_path) -> Iterator[App]:
    if request.param == "postgresql":
        with scratch_database("dnnfusion_quota") as url:
            yield from _app(embedded_settings(tmp_path / "data", database_url=url))
    else:
        yield from _app(embedded_settings(tmp_path / "data"))


def _app(settings: Settings) -> Iterator[App]:
    migrate.upgrade(settings)
    alice, _ = add_user(settings, "alice")
    bob, _ = add_user(settings, "bob")
    engine = make_engine(settings)
    try:
        with TestClient(create_app(settings, dispatcher=RecordingDispatcher())) as client:
            yield App(client, settings, make_sessionmaker(engine), alice, bob)
    finally:
        engine.dispose()


def _model(app: App, key: str, seed: int) -> str:
    r = upload(app.client, key, m.tiny_bytes(seed))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _is_quota_body(r) -> None:
    assert r.status_code == 429, r.text
    assert set(r.json()) == {"detail"} and "\n" not in r.json()["detail"]


def test_concurrent_compilations_limit(app):
    app.limit("alice", max_concurrent_compilations=2)
    model = _model(app, app.alice, 1)
    assert [app.compile(app.alice, model).status_code for _ in range(2)] == [202, 202]

    r = app.compile(app.alice, model)
    _is_quota_body(r)
    assert "max_concurrent_compilations is 2" in r.json()["detail"]
    assert "you have 2" in r.json()["detail"]
    # No finished job yet: the 10 s default run time, nothing running for long.
    assert r.headers["retry-after"] == "10" and "(about 10 s)" in r.json()["detail"]
    assert app.client.get("/api/v1/compilations", headers=headers(app.alice)).json()["count"] == 2

    # Another user's slots are their own.
    assert app.compile(app.bob, _model(app, app.bob, 2)).status_code == 202

    # One job ends: a slot is free again.
    with app.sessions() as s:
        job = s.query(Compilation).filter(Compilation.state == "queued").first()
        s.execute(update(Compilation).where(Compilation.id == job.id).values(
            state="failed", finished_at=utcnow()))
        s.commit()
    assert app.compile(app.alice, model).status_code == 202
    _is_quota_body(app.compile(app.alice, model))


def test_retry_after_of_concurrent_limit_follows_run_times(app):
    app.limit("alice", max_concurrent_compilations=1)
    model = _model(app, app.alice, 1)
    assert app.compile(app.alice, model).status_code == 202
    now = utcnow()
    with app.sessions() as s:
        # A finished job that ran 40 s, and the queued one running for 12 s: about 28 s left.
        s.execute(update(Compilation).values(
            state="running", started_at=now - timedelta(seconds=12)))
        s.add(Compilation(owner_id=s.query(Model).one().owner_id, model_id=uuid.UUID(model),
                          target="host", state="succeeded",
                          started_at=now - timedelta(seconds=100),
                          finished_at=now - timedelta(seconds=60)))
        s.commit()
    r = app.compile(app.alice, model)
    _is_quota_body(r)
    assert 27 <= int(r.headers["retry-after"]) <= 29, r.headers["retry-after"]


def test_zero_concurrent_compilations_refuses_without_retry_after(app):
    app.limit("alice", max_concurrent_compilations=0)
    r = app.compile(app.alice, _model(app, app.alice, 1))
    _is_quota_body(r)
    assert "max_concurrent_compilations is 0" in r.json()["detail"]
    assert "retry-after" not in r.headers


def test_two_requests_racing_for_the_last_slot(app, monkeypatch):
    """The count is slowed down inside the check, so both requests are in it at once: the
    row lock must make the second one wait and count the first one's job."""
    app.limit("alice", max_concurrent_compilations=1)
    model = _model(app, app.alice, 1)
    _slow_count(monkeypatch)
    codes = _race(app, model)
    assert sorted(codes) == [202, 429], codes
    assert app.client.get("/api/v1/compilations", headers=headers(app.alice)).json()["count"] == 1


def test_without_the_lock_the_same_race_lets_both_in(app, monkeypatch):
    """The control of the test above: the race it stages is real."""
    app.limit("alice", max_concurrent_compilations=1)
    model = _model(app, app.alice, 1)
    _slow_count(monkeypatch)
    monkeypatch.setattr(quotas, "lock_user_limits", lambda session, user_id: None)
    assert _race(app, model) == [202, 202]


def _slow_count(monkeypatch) -> None:
    count = crud.active_compilations

    def slow(session, user_id):
        n = count(session, user_id)
        time.sleep(0.5)
        return n

    monkeypatch.setattr(crud, "active_compilations", slow)


def _race(app: App, model: str) -> list[int]:
    codes: list[int] = []
    start = threading.Barrier(2)

    def post() -> None:
        start.wait()
        codes.append(app.compile(app.alice, model).status_code)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return codes


def test_uploads_per_minute(app):
    app.limit("alice", max_uploads_per_minute=2)
    for seed in (1, 2):
        _model(app, app.alice, seed)
    before = stored_models(app.settings.storage_root)
    # The oldest upload is made 50 s old: one more fits in about 10 s.
    with app.sessions() as s:
        first = s.query(Model).order_by(Model.created_at).first()
        s.execute(update(Model).where(Model.id == first.id).values(
            created_at=utcnow() - timedelta(seconds=50)))
        s.commit()

    r = upload(app.client, app.alice, m.tiny_bytes(3))
    _is_quota_body(r)
    assert "max_uploads_per_minute is 2" in r.json()["detail"]
    assert 9 <= int(r.headers["retry-after"]) <= 11, r.headers["retry-after"]
    assert stored_models(app.settings.storage_root) == before
    assert tmp_entries(app.settings.storage_root) == []
    assert app.models_of("alice") == 2
    assert upload(app.client, app.bob, m.tiny_bytes(3)).status_code == 201

    with app.sessions() as s:  # the window moves on
        s.execute(update(Model).where(Model.id == first.id).values(
            created_at=utcnow() - timedelta(seconds=61)))
        s.commit()
    assert upload(app.client, app.alice, m.tiny_bytes(3)).status_code == 201


def test_stored_bytes(app):
    small = m.tiny_bytes(1)
    app.limit("alice", max_stored_bytes=len(small) + 10)
    _model(app, app.alice, 1)
    before = stored_models(app.settings.storage_root)

    r = upload(app.client, app.alice, m.tiny_bytes(2) + b"\0" * 20)  # over by its own size
    _is_quota_body(r)
    detail = r.json()["detail"]
    assert f"max_stored_bytes is {len(small) + 10}" in detail
    assert "administrator" in detail and "retry-after" not in r.headers
    assert stored_models(app.settings.storage_root) == before
    assert tmp_entries(app.settings.storage_root) == []

    # The same bytes again store nothing new: the existing model, 200.
    again = upload(app.client, app.alice, small)
    assert again.status_code == 200, again.text
    # Junk over the limit is refused for the limit, before anyone validates it.
    junk = upload(app.client, app.alice, b"x" * 300_000, filename="notes.txt")
    _is_quota_body(junk)
    assert "max_stored_bytes" in junk.json()["detail"]


def test_stored_bytes_count_artifacts_a_cache_hit_shares_once(app):
    """Models plus artifacts; a second row naming the same artifact (a compile-cache hit)
    adds nothing."""
    model = _model(app, app.alice, 1)
    size = app.client.get(f"/api/v1/models/{model}", headers=headers(app.alice)).json()
    with app.sessions() as s:
        user = get_user_by_name(session=s, name="alice")

        def job(path: str, nbytes: int) -> Compilation:
            return Compilation(owner_id=user.id, model_id=uuid.UUID(model), target="host",
                               state="succeeded", artifact_path=path, artifact_bytes=nbytes)

        first = job("artifacts/a.tar.gz", 1000)
        s.add(first)
        s.flush()
        hit = job("artifacts/a.tar.gz", 1000)
        hit.cached_from_id = first.id  # how the compile cache marks its hits
        s.add_all([hit, job("artifacts/b.tar.gz", 500)])
        s.commit()
        assert crud.stored_bytes(s, user.id) == size["size_bytes"] + 1000 + 500


def test_check_before_streaming_reads_content_length(app):
    app.limit("alice", max_stored_bytes=1 << 20)
    with app.sessions() as s:
        user = get_user_by_name(session=s, name="alice")
        fits = {"content-length": str((1 << 20) + quotas.MULTIPART_SLACK)}
        quotas.check_upload_start(s, app.settings, user, fits)
        over = {"content-length": str((1 << 20) + quotas.MULTIPART_SLACK + 1)}
        with pytest.raises(HTTPException) as err:
            quotas.check_upload_start(s, app.settings, user, over)
        assert err.value.status_code == 429 and "max_stored_bytes" in err.value.detail
        quotas.check_upload_start(s, app.settings, user, {})  # no length: the later check


def test_defaults_come_from_settings(app):
    with app.sessions() as s:
        user = get_user_by_name(session=s, name="alice")
        limits = crud.limits_for(s, app.settings, user.id)
        assert limits.max_concurrent_compilations == 64
        assert limits.max_stored_bytes == 1024**4
        assert limits.max_uploads_per_minute == 600
        assert limits.custom == frozenset()
        crud.set_limits(s, user.id, {"max_uploads_per_minute": 5})
        limits = crud.limits_for(s, app.settings, user.id)
        assert (limits.max_uploads_per_minute, limits.custom) == (
            5, frozenset({"max_uploads_per_minute"}))
        crud.set_limits(s, user.id, {}, reset=True)
        assert crud.limits_for(s, app.settings, user.id).max_uploads_per_minute == 600


def test_the_client_raises_quota_exceeded_with_retry_after_and_does_not_retry(app):
    """dnnfusion.client against the real app: the 429 becomes QuotaExceededError carrying the
    server's Retry-After, sent once (a 429 is never retried on its own)."""
    from dnnfusion.client import Client, QuotaExceededError

    app.limit("alice", max_concurrent_compilations=1)
    model = _model(app, app.alice, 1)
    assert app.compile(app.alice, model).status_code == 202
    sent: list[str] = []
    with Client("http://testserver", app.alice) as c:
        c._http = TestClient(app.client.app, headers={"X-API-Key": app.alice})
        c._http.event_hooks = {"request": [lambda r: sent.append(r.method)]}
        for key in (None, "k-1"):  # an Idempotency-Key makes it retried like a GET: not a 429
            sent.clear()
            with pytest.raises(QuotaExceededError) as err:
                c.compile(model, idempotency_key=key)
            assert err.value.status_code == 429 and err.value.retry_after == 10.0
            assert "max_concurrent_compilations is 1" in err.value.detail
            assert sent.count("POST") == 1, sent


@pytest.mark.slow  # 200 requests, 4-6 s here
def test_many_clients_at_once_get_exactly_the_limit(app):
    """200 POSTs from 20 threads, a limit of 7: exactly 7 jobs, each sent to a worker once."""
    app.limit("alice", max_concurrent_compilations=7)
    model = _model(app, app.alice, 1)
    codes: list[int] = []
    ids: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def client() -> None:
        start.wait()
        for _ in range(10):
            r = app.compile(app.alice, model)
            with lock:
                codes.append(r.status_code)
                if r.status_code == 202:
                    ids.append(r.json()["id"])

    threads = [threading.Thread(target=client) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert (codes.count(202), codes.count(429), len(codes)) == (7, 193, 200)
    assert len(set(ids)) == 7
    sent = app.client.app.state.dispatcher.sent
    assert sorted(map(str, sent)) == sorted(ids)
    listed = app.client.get("/api/v1/compilations", headers=headers(app.alice)).json()
    assert listed["count"] == 7 and {j["id"] for j in listed["data"]} == set(ids)


def _slow_uploads_count(monkeypatch) -> None:
    recent = crud.recent_uploads

    def slow(session, user_id, now):
        found = recent(session, user_id, now)
        time.sleep(0.5)
        return found

    monkeypatch.setattr(crud, "recent_uploads", slow)


def _upload_race(app: App) -> list[int]:
    codes: list[int] = []
    start = threading.Barrier(2)

    def post(seed: int) -> None:
        start.wait()
        codes.append(upload(app.client, app.alice, m.tiny_bytes(seed)).status_code)

    threads = [threading.Thread(target=post, args=(seed,)) for seed in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return codes


def test_two_uploads_racing_for_the_last_one_of_the_minute(app, monkeypatch):
    """Both pass the early checks; the locked check before the INSERT lets one in and deletes
    the other's stored files."""
    app.limit("alice", max_uploads_per_minute=1)
    _slow_uploads_count(monkeypatch)
    codes = _upload_race(app)
    assert sorted(codes) == [201, 429], codes
    assert app.models_of("alice") == 1
    assert len(stored_models(app.settings.storage_root)) == 1
    assert tmp_entries(app.settings.storage_root) == []


def test_without_the_lock_both_uploads_get_in(app, monkeypatch):
    """The control of the test above."""
    app.limit("alice", max_uploads_per_minute=1)
    _slow_uploads_count(monkeypatch)
    monkeypatch.setattr(quotas, "lock_user_limits", lambda session, user_id: None)
    assert _upload_race(app) == [201, 201]
