"""The real service for the client tests: ``dnnfusion serve`` as a subprocess.

Embedded defaults (SQLite file, in-process worker, local storage) in a temporary data folder,
no Redis, and two users (``alice``, ``bob``) with a user key each plus an agent key for alice,
made by the ``dnnfusion users`` / ``dnnfusion keys`` commands as an admin would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.service.procs import REPO, Proc, free_port, health_up

CLI = [sys.executable, "-c", "import sys; from dnnfusion.cli import main; sys.exit(main())"]


@dataclass
class Service:
    base_url: str
    data_dir: Path
    proc: Proc
    keys: dict[str, str]  # user name -> user API key
    agent_key: str  # a device-agent key of alice (refused on the user routes)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without the tester's DNNFUSION_*, database and client settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DNNFUSION_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env["DNNFUSION_STRICT_RULES"] = os.environ.get("DNNFUSION_STRICT_RULES", "1")
    env["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there: Redis is not needed
    env["DNNFUSION_WAIT_POLICY"] = "passive"  # a shared 2-core machine: no spinning threads
    env.update(extra)
    return env


def cli(env: dict[str, str], *argv: str, timeout: float = 120) -> str:
    done = subprocess.run(
        [*CLI, *argv], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"dnnfusion {' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def start_service(root: Path, **env_extra: str) -> Service:
    """Start ``dnnfusion serve`` under ``root`` (``env_extra``: settings such as
    ``DNNFUSION_MAX_UPLOAD_BYTES``); stop it with ``.proc.stop()``."""
    env = clean_env(**env_extra)
    data_dir = root / "data"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    proc = Proc(
        [*CLI, "serve", "--port", str(port), "--data-dir", str(data_dir)], env, root / "serve.log"
    )
    try:
        proc.wait_for(health_up(base_url), "dnnfusion serve", timeout=90)
        keys = {}
        for name in ("alice", "bob"):
            cli(env, "users", "create", name, "--data-dir", str(data_dir))
            keys[name] = cli(env, "keys", "create", name, "--data-dir", str(data_dir))
        agent = cli(env, "keys", "create", "alice", "--agent", "--data-dir", str(data_dir))
    except BaseException:
        proc.stop()
        raise
    return Service(base_url=base_url, data_dir=data_dir, proc=proc, keys=keys, agent_key=agent)
