"""End to end on the real stack: the API (uvicorn) and a Celery worker on the real PostgreSQL
and Redis (tests/service/conftest.py ``stack``), the agent as a subprocess
(``python -m device_agent --once``), the real adb server and one simulated arm64 phone.

A ``linux-arm64`` compilation for the phone's device class meets a "profile" pair with no
measurement -> a profiling request -> the agent runs it on the phone (the static arm64
benchmark under qemu: the numbers are qemu's, the test checks the flow) -> an entry in the
database -> the same compilation again plans it ``measured``, and its report names the class.
Also on the real stack: a SIGKILLed agent's lease returns to the queue, and a result spooled
while an API process is down is stored once when it is back."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from onnx import numpy_helper
from sqlalchemy import create_engine, func, select

from device_agent.agent import Agent, AgentConfig, PassReport
from device_agent.client import ServiceClient
from device_agent.discovery import status
from device_agent.simphone import Faults
from device_agent.spool import Spool
from dnfstore.profiling_models import ProfileEntry, ProfilingRequest
from tests.compiler_core.planner.graphs import make_model, node, tensor, weight
from tests.device_agent.test_agent import phone_class
from tests.service.conftest import pg_database, stack  # noqa: F401 - fixtures
from tests.service.helpers import upload, wait_final
from tests.service.procs import REPO, Proc, free_port, health_up

pytestmark = pytest.mark.slow  # the agent subprocess against uvicorn + Celery on PostgreSQL/Redis


def _model(rows: int = 16):
    """MatMul -> Relu -> Reshape: the MatMul | Relu+Reshape pair is a "profile" cell."""
    return make_model(
        [node("MatMul", ["x", "w"], ["mm"]), node("Relu", ["mm"], ["r"]),
         node("Reshape", ["r", "shape"], ["out"])],
        [tensor("x", (rows, 32))], [tensor("out", (rows * 32,))],
        [weight("w", (32, 32)),
         numpy_helper.from_array(np.array([rows * 32], np.int64), "shape")])


def _compile(client, key: str, model_id: str, device_class: str) -> dict:
    r = client.post("/api/v1/compilations", headers={"X-API-Key": key}, json={
        "model_id": model_id, "target": "linux-arm64", "device_class": device_class,
        "options": {"compare_with_onnxruntime": False}})
    assert r.status_code == 202, r.text
    final = wait_final(client, key, r.headers["location"], timeout=80)
    assert final["state"] == "succeeded", final["error"]
    report = client.get(f"{r.headers['location']}/report", headers={"X-API-Key": key})
    assert report.status_code == 200, report.text
    return report.json()


def _count(url: str, model, **where) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            q = select(func.count(model.id))
            for k, v in where.items():
                q = q.where(getattr(model, k) == v)
            return c.scalar(q)
    finally:
        engine.dispose()


def test_phone_measurements_decide_the_next_compilation(stack, phone, adb_client,  # noqa: F811
                                                        profile_json, tmp_path):
    key = phone_class(profile_json)
    url = stack.settings.sqlalchemy_url
    before = _count(url, ProfileEntry)
    with stack.client() as client:
        model_id = upload(client, stack.alice, _model().SerializeToString()).json()["id"]
        report = _compile(client, stack.alice, model_id, key)
        assert report["device_class"] == key
        (d,) = report["profile_decisions"]
        assert d["source"] == "analytic"
        assert _count(url, ProfilingRequest, state="pending") >= 1

        ph, _ = phone()
        done = subprocess.run(
            [sys.executable, "-m", "device_agent", "--service", stack.base_url, "--key",
             stack.agent, "--adb-host", adb_client.host, "--adb-port", str(adb_client.port),
             "--once", "--no-host", "--spool", str(tmp_path / "spool"), "--min-ms", "2",
             "--max-temp-c", "90", "--run-timeout-s", "60", "--lease-s", "60"],
            cwd=REPO, env=stack.env, capture_output=True, text=True, timeout=80)
        assert done.returncode == 0, done.stderr
        logs = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
        posted = [e for e in logs if e["event"] == "result_posted"]
        assert posted and all(e["created"] for e in posted), done.stderr
        assert any(e["event"] == "phone_found" and e["serial"] == ph.serial for e in logs)
        assert _count(url, ProfileEntry) == before + len(posted)
        assert not list((tmp_path / "spool").glob("*.json"))

        report = _compile(client, stack.alice, model_id, key)
        assert report["device_class"] == key
        # The measured pair decides; when qemu timed the fusion slower, the pairs planned
        # next (MatMul kept apart) may be new "profile" decisions of their own.
        measured = [d for d in report["profile_decisions"] if d["source"] == "measured"]
        assert measured and {d["entry_id"] for d in measured} <= {e["entry"] for e in posted}


def _agent_cmd(stack, adb_client, spool, *extra: str) -> list[str]:  # noqa: F811
    return [sys.executable, "-m", "device_agent", "--service", stack.base_url, "--key",
            stack.agent, "--adb-host", adb_client.host, "--adb-port", str(adb_client.port),
            "--no-host", "--spool", str(spool), "--min-ms", "2", "--max-temp-c", "90",
            "--run-timeout-s", "120", *extra]


def _queue(client, key: str, device_class: str) -> int:
    r = client.get("/api/v1/devices", headers={"X-API-Key": key})
    assert r.status_code == 200, r.text
    return {c["key"]: c for c in r.json()["device_classes"]}[device_class]["queue_length"]


def test_a_killed_agents_lease_returns_to_the_queue_within_the_lease_time(
        stack, phone, adb_client, profile_json, tmp_path):  # noqa: F811
    key = phone_class(profile_json)
    with stack.client() as client:
        model_id = upload(client, stack.alice, _model(rows=64).SerializeToString()).json()["id"]
        (d,) = _compile(client, stack.alice, model_id, key)["profile_decisions"]
        assert d["source"] == "analytic"  # 4x the other test's rows: not even nearest
        assert _queue(client, stack.alice, key) == 1

        slow, _ = phone(Faults(slow_factor=1000))  # the run lasts long enough to be killed in
        agent = subprocess.Popen(_agent_cmd(stack, adb_client, tmp_path / "s1", "--once",
                                            "--lease-s", "10"),
                                 cwd=REPO, env=stack.env, stderr=subprocess.PIPE, text=True)
        try:
            for line in agent.stderr:
                if line.startswith("{") and json.loads(line)["event"] == "run_start":
                    rid = json.loads(line)["request"]
                    break
            else:
                raise AssertionError("the agent never started a run")
        finally:
            agent.kill()  # SIGKILL: no release, no goodbye
            agent.wait(timeout=30)
            agent.stderr.close()
        killed_at = time.monotonic()
        assert _queue(client, stack.alice, key) == 0  # still leased by the dead agent
        while _queue(client, stack.alice, key) == 0:
            assert time.monotonic() - killed_at < 10 + 5, "lease never returned"
            time.sleep(0.5)
        slow.stop()
        adb_client.disconnect(slow.serial)

        phone()  # a healthy phone; the restarted agent takes the request back
        done = subprocess.run(_agent_cmd(stack, adb_client, tmp_path / "s2", "--once"),
                              cwd=REPO, env=stack.env, capture_output=True, text=True,
                              timeout=80)
        assert done.returncode == 0, done.stderr
        posted = [e["request"] for e in map(json.loads, (
            ln for ln in done.stderr.splitlines() if ln.startswith("{")))
            if e["event"] == "result_posted"]
        assert posted == [rid]
        decisions = _compile(client, stack.alice, model_id, key)["profile_decisions"]
        assert any(d["source"] == "measured" for d in decisions)


def _api(stack, port: int, log: Path) -> Proc:  # noqa: F811
    api = Proc([sys.executable, "-m", "uvicorn", "--factory", "service.main:create_app",
                "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
               stack.env, log)
    api.wait_for(health_up(f"http://127.0.0.1:{port}"), "uvicorn", timeout=60)
    return api


def test_results_spooled_across_a_real_service_restart_are_stored_once(
        stack, phone, adb_client, profile_json, tmp_path):  # noqa: F811
    """A second API process on the stack's PostgreSQL is stopped after the run and started
    again: the spooled result waits, then is posted once; a re-post adds nothing."""
    key = phone_class(profile_json)
    url = stack.settings.sqlalchemy_url
    with stack.client() as client:
        model_id = upload(client, stack.alice, _model(rows=256).SerializeToString()).json()["id"]
        _compile(client, stack.alice, model_id, key)
        assert _queue(client, stack.alice, key) == 1
    port = free_port()
    api = _api(stack, port, tmp_path / "api1.log")
    try:
        phone()
        agent = Agent(ServiceClient(f"http://127.0.0.1:{port}", stack.agent, retries=1,
                                    backoff_s=0.05),
                      Spool(tmp_path / "spool"),
                      AgentConfig(host=False, min_ms=2, max_temp_c=90, lease_s=60), adb_client)
        devices = agent.discover()
        (req,) = agent.client.lease([key], lease_s=60)
        serial, dev = next((s, d) for s, d in devices.items() if d is not None)
        report = PassReport()
        agent._run(serial, dev, req, status(dev), report)  # measured and spooled
        before = _count(url, ProfileEntry)
        api.stop()  # the service goes down before the post
        agent.flush_spool(report)
        assert report.posted == [] and len(agent.spool.pending()) == 1
        (_, _, body), = agent.spool.pending()
        api = _api(stack, port, tmp_path / "api2.log")  # and comes back
        agent.flush_spool(report)
        assert report.posted == [req["id"]] and agent.spool.pending() == []
        assert _count(url, ProfileEntry) == before + 1
        again = httpx.post(f"http://127.0.0.1:{port}/api/v1/agent/requests/{req['id']}/results",
                           json=body, headers={"X-API-Key": stack.agent}, timeout=30)
        assert again.status_code == 200 and again.json()["created"] is False
        assert _count(url, ProfileEntry) == before + 1
    finally:
        api.stop()
