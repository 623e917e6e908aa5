"""The real service for the browser tests: ``dnnfusion serve`` as a subprocess.

Embedded defaults (SQLite file, in-process worker, local storage) in a temporary data
directory, a small upload cap so the "too large" path is reachable with a real model, and two
users (``alice``, ``bob``) with one user API key each (and an agent key for alice, for a
simulated device agent), made by the ``dnnfusion users`` / ``dnnfusion keys`` commands.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.service.procs import REPO, Proc, free_port, health_up

CLI = [sys.executable, "-c", "import sys; from dnnfusion.cli import main; sys.exit(main())"]
MAX_UPLOAD_BYTES = 1 << 20  # 1 MiB: the PP-OCR classifier (572 kB) fits, the detector does not


@dataclass
class Service:
    base_url: str
    data_dir: Path
    proc: Proc
    keys: dict[str, str]  # user name -> API key
    agent_key: str  # alice's device-agent key (good only for /api/v1/agent)


def _env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DNNFUSION_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there: Redis is not needed
    env["DNNFUSION_MAX_UPLOAD_BYTES"] = str(MAX_UPLOAD_BYTES)
    env["DNNFUSION_WAIT_POLICY"] = "passive"  # a shared 2-core machine: no spinning threads
    return env


def _cli(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run(
        [*CLI, *argv], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"dnnfusion {' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def start_service(root: Path, users: tuple[str, ...] = ("alice", "bob")) -> Service:
    """Start ``dnnfusion serve`` under ``root`` and create ``users``; stop it with ``.proc.stop()``."""
    env = _env()
    data_dir = root / "data"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    proc = Proc(
        [*CLI, "serve", "--port", str(port), "--data-dir", str(data_dir)],
        env,
        root / "serve.log",
    )
    try:
        proc.wait_for(health_up(base_url), "dnnfusion serve", timeout=90)
        keys = {}
        for name in users:
            _cli(env, "users", "create", name, "--data-dir", str(data_dir))
            keys[name] = _cli(env, "keys", "create", name, "--data-dir", str(data_dir))
        agent = _cli(env, "keys", "create", users[0], "--agent", "--data-dir", str(data_dir))
    except BaseException:
        proc.stop()
        raise
    return Service(base_url=base_url, data_dir=data_dir, proc=proc, keys=keys, agent_key=agent)
