"""The compose-shaped stack on this machine, without Docker: PostgreSQL, Redis, an S3 server,
the API and N workers that share nothing else (each worker has its own scratch disk).

    python -m bench.stack [--workers 2] [--submit MODEL.onnx [--input-shape x=1x3x224x224]]

Uses the machine's PostgreSQL (a scratch database, dropped at the end) and Redis (its own
Celery queue), starts moto's S3 server on a loopback port (a bucket made for the run), runs
``alembic upgrade head``, then uvicorn (``service.main:create_app``) and the Celery workers with
``DNNFUSION_STORAGE_BACKEND=s3`` — the layout of ``docker-compose.yml`` with the object-store
profile, each process on its own directory as if on its own host. Without ``--submit`` it
prints the URL and an API key and waits for Ctrl-C; with it, it runs ``dnnfusion submit`` on the
model twice (the second should be a compile-cache hit) and prints both summaries and times.
:func:`local_stack` is the same stack for scripts (``bench.load_run``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("DNNFUSION_BENCH_PG_ADMIN",
                          "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
PG_URL = os.environ.get("DNNFUSION_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("DNNFUSION_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child in its own process group, its output in a log file."""

    def __init__(self, cmd: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=self._out,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, ready: Callable[[], bool], what: str, timeout: float = 40.0) -> None:
        """Poll ``ready()`` every 0.1 s; RuntimeError with the log's end if the child exits or
        ``timeout`` seconds pass first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{what} exited early:\n{self.output()[-4000:]}")
            if ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{what} not ready after {timeout} s:\n{self.output()[-4000:]}")

    def kill(self) -> None:
        """SIGKILL the whole group (a worker and its pool children)."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM the group; SIGKILL what still runs after 10 s."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        self._out.close()


@dataclass
class LocalStack:
    """A running stack: ``base_url`` of the API, ``env`` shared by its processes (the API's
    storage directory), ``database_url``, ``root`` (logs and each host's directory)."""

    base_url: str
    env: dict[str, str]
    database_url: str
    root: Path
    workers: list[Proc] = field(default_factory=list)

    def cli(self, *argv: str) -> str:
        """``dnnfusion ARGV`` against the stack's database (users, keys, limits); stdout."""
        done = subprocess.run([sys.executable, "-m", "dnnfusion", *argv], cwd=REPO, env=self.env,
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"dnnfusion {' '.join(argv)}: {done.stderr.strip()}")
        return done.stdout.strip()

    def add_user(self, name: str) -> str:
        """Create user ``name``; returns a new API key for it."""
        self.cli("users", "create", name)
        return self.cli("keys", "create", name).splitlines()[-1].strip()


@contextlib.contextmanager
def scratch_database(prefix: str = "dnnfusion_stack", admin_dsn: str = PG_ADMIN,
                     server_url: str = PG_URL) -> Iterator[str]:
    """Create ``<prefix>_<random>`` on the server of ``admin_dsn`` (libpq); yield its
    SQLAlchemy URL under ``server_url``; drop it at the end (open sessions too)."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server_url}/{name}"
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _http_up(url: str) -> Callable[[], bool]:
    import httpx

    def up() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    return up


@contextlib.contextmanager
def local_stack(root: Path, *, workers: int = 2, concurrency: int = 1, s3: bool = True,
                extra_env: dict[str, str] | None = None) -> Iterator[LocalStack]:
    """Start the stack under ``root``; stop every process and drop the database on exit.

    ``workers``: Celery worker processes, each with ``concurrency`` pool slots and its own
    ``DNNFUSION_STORAGE_DIR`` (``root/worker<i>``). ``s3=False``: no object store, every process
    shares one storage directory (the one-host layout). Raises RuntimeError naming the process
    that did not come up (with the end of its log)."""
    import boto3
    import redis

    root.mkdir(parents=True, exist_ok=True)
    procs: list[Proc] = []
    queue = f"dnnfusion-stack-{uuid.uuid4().hex[:8]}"
    with scratch_database() as db_url:
        try:
            s3_port = free_port()  # started even with s3=False: cheap, keeps one code path
            s3_url = f"http://127.0.0.1:{s3_port}"
            base = {k: v for k, v in os.environ.items() if not k.startswith("DNNFUSION_")}
            moto = Proc([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                         str(s3_port)], base, root / "s3.log")
            procs.append(moto)
            moto.wait_for(_http_up(s3_url), "moto S3 server", timeout=90)
            creds = {"AWS_ACCESS_KEY_ID": "stack", "AWS_SECRET_ACCESS_KEY": "stack",
                     "AWS_DEFAULT_REGION": "us-east-1"}
            bucket = "dnnfusion"
            boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1",
                         aws_access_key_id="stack",
                         aws_secret_access_key="stack").create_bucket(Bucket=bucket)
            env = {**base, **creds, "DATABASE_URL": db_url, "REDIS_URL": REDIS_URL,
                   "DNNFUSION_CELERY_QUEUE": queue, "DNNFUSION_STORAGE_BACKEND": "s3",
                   "DNNFUSION_S3_BUCKET": bucket, "DNNFUSION_S3_ENDPOINT_URL": s3_url,
                   "DNNFUSION_STORAGE_DIR": str(root / "api"), "PYTHONPATH": str(REPO),
                   **(extra_env or {})}
            if not s3:
                env.update(DNNFUSION_STORAGE_BACKEND="local",
                           DNNFUSION_STORAGE_DIR=str(root / "storage"))
            subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=REPO,
                           env=env, check=True, timeout=180, capture_output=True)
            port = free_port()
            api = Proc([sys.executable, "-m", "uvicorn", "--factory", "service.main:create_app",
                        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                       env, root / "api.log")
            procs.append(api)
            stack = LocalStack(f"http://127.0.0.1:{port}", env, db_url, root)
            for i in range(workers):
                wenv = {**env, "DNNFUSION_STORAGE_DIR": str(root / f"worker{i}")} if s3 else env
                w = Proc([sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker",
                          "--pool=prefork", f"--concurrency={concurrency}", "--without-gossip",
                          "--without-mingle", "--loglevel=INFO", "-n", f"w{i}@%h", "-Q", queue],
                         wenv, root / f"worker{i}.log")
                procs.append(w)
                stack.workers.append(w)
            api.wait_for(_http_up(f"{stack.base_url}/api/v1/health"), "the API", timeout=90)
            for i, w in enumerate(stack.workers):
                w.wait_for(lambda w=w: " ready." in w.output(), f"worker {i}", timeout=90)
            yield stack
        finally:
            for p in reversed(procs):
                p.stop()
            with contextlib.suppress(Exception):
                r = redis.Redis.from_url(REDIS_URL)
                r.delete(queue, f"_kombu.binding.{queue}")
                r.close()


def _submit(stack: LocalStack, key: str, model: str, shapes: list[str], out: Path) -> float:
    argv = [sys.executable, "-m", "dnnfusion", "submit", model, "--server", stack.base_url,
            "-o", str(out)]
    for s in shapes:
        argv += ["--input-shape", s]
    t0 = time.perf_counter()
    done = subprocess.run(argv, cwd=REPO, env={**os.environ, "DNNFUSION_API_KEY": key},
                          text=True, capture_output=True, timeout=1800)
    seconds = time.perf_counter() - t0
    print(done.stdout.rstrip())
    if done.returncode != 0:
        print(done.stderr.rstrip(), file=sys.stderr)
        raise SystemExit(done.returncode)
    return seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.stack", description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--submit", metavar="MODEL", help="submit this model twice, then stop")
    ap.add_argument("--input-shape", action="append", default=[], metavar="NAME=DIMS",
                    help="as dnnfusion submit, e.g. x=1x3x224x224")
    ap.add_argument("--root", help="directory for logs and each host's files (default: temp)")
    args = ap.parse_args(argv)
    root = Path(args.root or tempfile.mkdtemp(prefix="dnnfusion-stack-"))
    t0 = time.perf_counter()
    with local_stack(root, workers=args.workers) as stack:
        key = stack.add_user("stack-user")
        print(f"stack up in {time.perf_counter() - t0:.1f} s: API {stack.base_url}, "
              f"{args.workers} workers, S3 {stack.env['DNNFUSION_S3_ENDPOINT_URL']}, "
              f"logs under {root}", flush=True)
        if not args.submit:
            print(f"DNNFUSION_URL={stack.base_url} DNNFUSION_API_KEY={key} dnnfusion submit ...")
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
            return 0
        first = _submit(stack, key, args.submit, args.input_shape, root / "first")
        second = _submit(stack, key, args.submit, args.input_shape, root / "second")
        print(f"first submit {first:.1f} s, second (identical) submit {second:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
