"""``uvicorn --workers 2`` with PROMETHEUS_MULTIPROC_DIR: a scrape, whichever process answers it,
counts the requests every process served (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dnfstore import migrate
from dnfstore.settings import Settings
from tests.service.conftest import REDIS_URL
from tests.service.procs import REPO, Proc, free_port, health_up

pytestmark = pytest.mark.slow  # two uvicorn worker processes

TOKEN = "multiprocess-metrics-token"
REQUESTS = 30


def _refused_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "dnnfusion_http_requests_total" and s.labels == {
                "method": "GET", "route": "/api/v1/models", "status": "401"
            }:
                return s.value
    return 0.0


def test_counters_are_summed_over_uvicorn_workers(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db_url = f"sqlite:///{data / 'dnnfusion.db'}"
    migrate.upgrade(Settings(data_dir=data, database_url=db_url))
    prom = tmp_path / "prom"
    prom.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNNFUSION_")}
    env.update(
        DATABASE_URL=db_url,
        REDIS_URL=REDIS_URL,
        DNNFUSION_DATA_DIR=str(data),
        DNNFUSION_METRICS_TOKEN=TOKEN,
        DNNFUSION_LOG_FORMAT="json",
        PROMETHEUS_MULTIPROC_DIR=str(prom),
        PYTHONPATH=str(REPO),
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    api = Proc([sys.executable, "-m", "uvicorn", "--factory", "service.main:create_app",
                "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
               env, tmp_path / "api.log")
    try:
        api.wait_for(health_up(base), "uvicorn --workers 2", timeout=90)
        for _ in range(REQUESTS):  # a new connection each: the kernel spreads them
            assert httpx.get(f"{base}/api/v1/models", timeout=10).status_code == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        counts = []
        for _ in range(6):
            r = httpx.get(f"{base}/metrics", headers=auth, timeout=10)
            assert r.status_code == 200, r.text
            counts.append(_refused_count(r.text))
    finally:
        api.stop()
    assert counts == [REQUESTS] * 6
    # Both processes wrote their counters (the sum above was over more than one process).
    pids = {p.name.rsplit("_", 1)[-1] for p in prom.glob("counter_*.db")}
    assert len(pids) >= 2, sorted(p.name for p in prom.iterdir())
    # The request lines are JSON objects with the request id.
    lines = [json.loads(line) for line in api.output().splitlines() if line.startswith("{")]
    refused = [d for d in lines if d.get("route") == "/api/v1/models" and d.get("status") == 401]
    assert len(refused) == REQUESTS and all(len(d["request_id"]) == 32 for d in refused)
