"""Fixtures of the service tests.

* ``embedded``: the app in-process (TestClient) on SQLite with the in-process worker.
* ``stack``: the deployment shape on real services: a fresh PostgreSQL database (created here,
  dropped at the end), Redis, ``alembic upgrade head``, uvicorn and a Celery worker (prefork,
  2 processes) as subprocesses on loopback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis
from fastapi.testclient import TestClient

from dnfstore import migrate
from dnfstore.db import make_engine, make_sessionmaker
from dnfstore.settings import Settings
from service.crud.users import create_api_key, create_user
from service.main import create_app
from tests.helpers.pg import scratch_database
from tests.service.procs import REPO, Proc, free_port, health_up
from workers.embedded import EmbeddedWorker

REDIS_URL = os.environ.get("DNNFUSION_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")

# Fast reaper timings for tests: a job whose worker stopped beating is noticed within ~4 s.
FAST = {
    "heartbeat_interval_s": 0.5,
    "heartbeat_timeout_s": 3,
    "reaper_interval_s": 1,
    "compile_soft_time_limit_s": 60,
    "compile_time_limit_s": 90,
    "broker_visibility_timeout_s": 120,
}


def headers(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def add_user(settings: Settings, name: str) -> tuple[str, str]:
    """Create ``name`` with a user key and an agent key; returns both tokens."""
    engine = make_engine(settings)
    with make_sessionmaker(engine)() as session:
        user = create_user(session=session, name=name)
        _, key = create_api_key(session=session, user=user, kind="user")
        _, agent = create_api_key(session=session, user=user, kind="agent")
    engine.dispose()
    return key, agent


@dataclass
class Embedded:
    client: TestClient
    settings: Settings
    alice: str
    bob: str
    agent: str


def embedded_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": f"sqlite:///{data_dir / 'dnnfusion.db'}",
        "storage_dir": data_dir / "storage",
        "worker_mode": "embedded",
        "max_upload_bytes": 1 << 20,
        "max_extracted_bytes": 2 << 20,
        "max_compression_ratio": 100,
        **FAST,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Embedded]:
    settings = embedded_settings(tmp_path / "data")
    migrate.upgrade(settings)
    alice, agent = add_user(settings, "alice")
    bob, _ = add_user(settings, "bob")
    app = create_app(settings, dispatcher=EmbeddedWorker(settings))
    with TestClient(app) as client:
        yield Embedded(client=client, settings=settings, alice=alice, bob=bob, agent=agent)


# ---- the real-services stack -------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    with scratch_database("dnnfusion_test") as url:
        yield url


@dataclass
class Stack:
    base_url: str
    env: dict[str, str]
    settings: Settings
    alice: str
    agent: str
    bob: str
    root: Path
    queues: list[str] = field(default_factory=list)
    worker: Proc | None = None

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=60)

    def start_worker(self, name: str, *, wait: bool = True, **env: str) -> Proc:
        proc = Proc(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers.celery_app",
                "worker",
                "--pool=prefork",
                "--concurrency=2",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
                "-n",
                f"{name}@%h",
                "-Q",
                env.get("DNNFUSION_CELERY_QUEUE", self.env["DNNFUSION_CELERY_QUEUE"]),
            ],
            {**self.env, **env},
            self.root / f"{name}.log",
        )
        if wait:
            wait_worker(proc, name)
        return proc


def wait_worker(proc: Proc, name: str) -> None:
    proc.wait_for(lambda: " ready." in proc.output(), f"celery worker {name}", timeout=60)


def stack_env(db_url: str, root: Path, queue: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNNFUSION_")}
    env.update(
        DATABASE_URL=db_url,
        REDIS_URL=REDIS_URL,
        DNNFUSION_STORAGE_DIR=str(root / "storage"),
        DNNFUSION_CELERY_QUEUE=queue,
        DNNFUSION_MAX_UPLOAD_BYTES=str(1 << 20),
        PYTHONPATH=str(REPO),
    )
    env.update({f"DNNFUSION_{k.upper()}": str(v) for k, v in FAST.items()})
    return env


def _cli(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from dnnfusion.cli import main; sys.exit(main())",
            *argv,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="session")
def stack(pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("stack")
    queue = f"dnnfusion-test-{uuid.uuid4().hex[:8]}"
    env = stack_env(pg_database, root, queue)
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=REPO,
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
    )
    settings = Settings(
        database_url=pg_database,
        redis_url=REDIS_URL,
        storage_dir=root / "storage",
        celery_queue=queue,
        **FAST,
    )
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    queues = [queue]
    st = Stack(
        base_url=base_url,
        env=env,
        settings=settings,
        alice="",
        agent="",
        bob="",
        root=root,
        queues=queues,
    )
    # Start the API and the worker first (they take seconds to import), then make the users.
    api = Proc(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "service.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env,
        root / "api.log",
    )
    procs: list[Proc] = [api]
    try:
        st.worker = st.start_worker("w1", wait=False)
        procs.append(st.worker)
        # Users and keys the way an operator makes them: the command line.
        _cli(env, "users", "create", "alice")
        st.alice = _cli(env, "keys", "create", "alice")
        st.agent = _cli(env, "keys", "create", "alice", "--agent")
        st.bob, _ = add_user(settings, "bob")
        api.wait_for(health_up(base_url), "uvicorn", timeout=60)
        wait_worker(st.worker, "w1")
        yield st
    finally:
        for proc in procs:
            proc.stop()
        r = redis.Redis.from_url(REDIS_URL)
        for q in queues:
            r.delete(q, f"_kombu.binding.{q}")
        # Messages of a worker the tests killed stay "unacked"; this Redis db is test-only.
        r.delete("unacked", "unacked_index", "unacked_mutex")
        r.close()
