"""``dnnfusion serve``: the embedded mode as a user runs it (SQLite, in-process worker, no Redis).

Also the embedded worker's crash story: the process is SIGKILLed while a job runs (held up by
the test-only DNNFUSION_TEST_COMPILE_DELAY_S); on the next start the job is re-run.
"""

from __future__ import annotations

import os
import re
import sys
import time

import httpx
import pytest

from tests.service import onnx_models as m
from tests.service.helpers import assert_compiler_outcome, upload, wait_final
from tests.service.procs import Proc, free_port, health_up

pytestmark = pytest.mark.slow  # dnnfusion serve started, stopped, restarted

CLI = [sys.executable, "-c", "import sys; from dnnfusion.cli import main; sys.exit(main())"]


def _serve(tmp_path, port, log, **extra_env):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DNNFUSION_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there: Redis is not needed
    env.update(extra_env)
    proc = Proc(
        [*CLI, "serve", "--port", str(port), "--data-dir", str(tmp_path / "data")],
        env,
        tmp_path / log,
    )
    proc.wait_for(health_up(f"http://127.0.0.1:{port}"), "dnnfusion serve", timeout=60)
    return proc


def test_serve_first_start_restart_and_orphaned_job(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    first = _serve(tmp_path, port, "serve1.log", DNNFUSION_TEST_COMPILE_DELAY_S="60")
    try:
        found = re.search(r"X-API-Key: (\S+)", first.output())
        assert found, first.output()
        key = found.group(1)
        h = {"X-API-Key": key}
        with httpx.Client(base_url=base, timeout=30) as c:
            mid = upload(c, key, m.tiny_bytes(8)).json()["id"]
            r = c.post("/api/v1/compilations", headers=h, json={"model_id": mid})
            assert r.status_code == 202
            location = r.headers["location"]
            deadline = time.monotonic() + 20
            while c.get(location, headers=h).json()["state"] != "running":
                assert time.monotonic() < deadline
                time.sleep(0.1)
        first.kill()  # mid-compilation, no clean shutdown
    finally:
        first.stop()
    assert (tmp_path / "data" / "dnnfusion.db").is_file()

    second = _serve(tmp_path, port, "serve2.log")
    try:
        assert "X-API-Key" not in second.output()  # the first user exists already
        with httpx.Client(base_url=base, timeout=30) as c:
            final = wait_final(c, key, location, timeout=60)
            assert final["attempts"] == 2, final  # re-run after the restart
            assert_compiler_outcome(final)
            assert c.get("/api/v1/models", headers=h).json()["count"] == 1
            r = c.post("/api/v1/compilations", headers=h, json={"model_id": mid})
            assert_compiler_outcome(wait_final(c, key, r.headers["location"], timeout=60))
    finally:
        second.stop()
