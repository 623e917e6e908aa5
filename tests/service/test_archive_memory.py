"""Archives whose headers claim huge metadata are refused before memory is spent on them.

Regression of issue #8: a 519 KB .tar.gz whose GNU long-name header claims 512 MiB raised the
server's RSS by 1.07 GB before its 422, and a 266 KB one with a 256 MiB PAX header took 7.8 s,
~680 MB and was accepted. Here both are sent to a real ``dnnfusion serve`` process and its peak
RSS (``VmHWM`` in /proc/<pid>/status) is read before and after.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.service import hostile
from tests.service import onnx_models as m
from tests.service.helpers import upload
from tests.service.procs import Proc, free_port, health_up
from tests.service.test_serve import CLI

pytestmark = pytest.mark.slow  # crafted archives in a memory-capped process

MiB = 1 << 20
BOUND = 100 * MiB


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    model = m.tiny_bytes(5)
    return {
        "GNU long name claiming 512 MiB": hostile.tar_gz_extension_bomb(b"L", 512 * MiB, model),
        "PAX header of 256 MiB": hostile.tar_gz_extension_bomb(b"x", 256 * MiB, model),
    }


def test_crafted_headers_are_refused_with_bounded_memory(tmp_path, bombs):
    assert all(len(data) < 600_000 for data in bombs.values())  # small on the wire
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DNNFUSION_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env["REDIS_URL"] = "redis://127.0.0.1:1/0"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = Proc(
        [*CLI, "serve", "--port", str(port), "--data-dir", str(tmp_path / "data")],
        env,
        tmp_path / "serve.log",
    )

    try:
        proc.wait_for(health_up(base), "dnnfusion serve", timeout=60)
        key = next(
            line.split("X-API-Key: ", 1)[1].split()[0]
            for line in proc.output().splitlines()
            if "X-API-Key: " in line
        )
        with httpx.Client(base_url=base, timeout=60) as c:
            # Warm up the same code paths (an accepted archive, a refused one).
            ok = upload(c, key, m.tar_gz_bytes({"model.onnx": m.tiny_bytes(6)}), "ok.tar.gz")
            assert ok.status_code == 201, ok.text
            small = hostile.tar_gz_extension_bomb(b"L", 128 * 1024, m.tiny_bytes(7))
            assert upload(c, key, small, "small.tar.gz").status_code == 422
            before = _peak_rss(proc.pid)
            for what, data in bombs.items():
                r = upload(c, key, data, "bomb.tar.gz")
                assert r.status_code == 422, (what, r.text)
                detail = r.json()["detail"]
                assert "exceeds the limit of 65536 bytes" in detail, (what, detail)
                assert "\n" not in detail and len(detail) < 200, detail
            growth = _peak_rss(proc.pid) - before
            assert growth < BOUND, f"peak RSS grew {growth / MiB:.0f} MiB"
            assert c.get("/api/v1/models", headers={"X-API-Key": key}).json()["count"] == 1
    finally:
        proc.stop()
