"""The device agent against the service (its app on SQLite, in-process through TestClient) and
a simulated phone under the real adb server: a planned "profile" pair -> a request -> the agent
runs it on the phone (arm64 binary under qemu) -> an entry -> the planner measures. Plus an
unplugged phone, a hot phone, a dead agent's lease and results spooled while the service is
down."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from device_agent.agent import Agent, AgentConfig, PassReport
from device_agent.client import ServiceClient
from device_agent.discovery import status
from device_agent.simphone import Faults
from device_agent.spool import Spool
from dnfstore import migrate
from dnfstore.base import utcnow
from dnfstore.db import make_engine, make_sessionmaker
from dnfstore.profiling_models import Device, ProfileEntry, ProfilingRequest
from profiling.cost import ProfilingCostModel, measured_fuse
from profiling.device import DeviceClassInfo, host_device_class
from service.main import create_app
from tests.profiling.test_cost_model import _ecg
from tests.service.conftest import add_user, embedded_settings, headers
from workers.embedded import EmbeddedWorker

ASKED_PAIR = "MatMul | Relu+Reshape"  # the "profile" pair of tests.profiling's _ecg()
pytestmark = pytest.mark.slow  # the agent against a simulated phone through adb, waits and leases


def phone_class(profile: dict) -> str:
    """The class key the agent must derive, from the profile file's raw values."""
    khz = max(c["max_freq_khz"] for c in profile["clusters"])
    cores = sum(len(c["cores"]) for c in profile["clusters"])
    return DeviceClassInfo(profile["soc_model"], "armv8-a", cores, khz // 1000,
                           f"android-{profile['android_release']}", "aarch64").key


@dataclass
class Service:
    client: TestClient
    sessions: object
    user: str
    agent_key: str
    tmp: Path

    def plan(self, device_class: str):
        from compiler_core.planner.run import plan_ecg

        cost = ProfilingCostModel(self.sessions, device_class, threads=1)
        _, fields = plan_ecg(_ecg(), cost_model=cost)
        cost.flush()
        return fields["profile_decisions"]

    def measured_decision(self, device_class: str):
        """The plan's decision on the pair the farm was asked to measure. When the measurement
        says "separate" (it depends on the machine), the planner weighs the pair again when it
        merges blocks and weighs a second pair analytically; when it says "fuse", there is
        only this one decision."""
        decisions = self.plan(device_class)
        asked = [x for x in decisions if x.ops == ASKED_PAIR]
        assert asked and len({(x.source, x.entry_id, x.fused) for x in asked}) == 1, decisions
        d = asked[-1]
        assert len(decisions) == 1 or not d.fused, decisions
        assert d.fused == measured_fuse(d.fused_us, d.separate_us)
        return d

    def agent(self, adb, *, http=None, **config) -> Agent:
        cfg = AgentConfig(**{"host": False, "min_ms": 2.0, "poll_s": 0.2, "max_wait_s": 1.0,
                             "run_timeout_s": 60.0, "lease_s": 60.0, **config})
        client = ServiceClient("http://testserver", self.agent_key, retries=1, backoff_s=0.01,
                               http=http or self.client)
        return Agent(client, Spool(self.tmp / "spool"), cfg, adb)

    def count(self, model, **where) -> int:
        with self.sessions() as s:
            q = select(func.count(model.id))
            for k, v in where.items():
                q = q.where(getattr(model, k) == v)
            return s.scalar(q)

    def devices(self) -> dict:
        r = self.client.get("/api/v1/devices", headers=headers(self.user))
        assert r.status_code == 200, r.text
        return {c["key"]: c for c in r.json()["device_classes"]}


@pytest.fixture
def service(tmp_path) -> Iterator[Service]:
    settings = embedded_settings(tmp_path / "data")
    migrate.upgrade(settings)
    user, agent_key = add_user(settings, "lab")
    engine = make_engine(settings)
    app = create_app(settings, dispatcher=EmbeddedWorker(settings))
    try:
        with TestClient(app) as client:
            yield Service(client, make_sessionmaker(engine), user, agent_key, tmp_path)
    finally:
        engine.dispose()


def test_a_profile_pair_is_measured_on_the_phone_then_planned_measured(
        service, phone, adb_client, profile_json):
    key = phone_class(profile_json)
    (d,) = service.plan(key)
    assert d.source == "analytic"
    assert service.count(ProfilingRequest, state="pending") == 1
    ph, _ = phone()
    report = service.agent(adb_client).run_once()
    assert report.posted and not report.failed and not report.released, report
    cls = service.devices()[key]
    (dev,) = cls["devices"]
    assert (dev["serial"], dev["online"]) == (ph.serial, True)
    assert dev["battery_pct"] == profile_json["battery_level"]
    assert cls["queue_length"] == 0
    with service.sessions() as s:
        (e,) = s.scalars(select(ProfileEntry)).all()
        hottest = max(z["temp_c"] for z in profile_json["thermal_zones"])
        assert e.temperature_c == pytest.approx(hottest)
        assert e.battery_pct == profile_json["battery_level"]
        assert e.fused_median_us > 0 and e.separate_median_us > 0
    d = service.measured_decision(key)
    assert (d.source, d.entry_id) == ("measured", e.id)


def test_an_unplugged_phone_releases_its_lease_and_goes_offline(service, phone, adb_client,
                                                                profile_json):
    key = phone_class(profile_json)
    service.plan(key)
    ph, _ = phone(Faults(unplug_after_s=0.2, slow_factor=50))
    report = service.agent(adb_client).run_once()
    assert report.unplugged == [ph.serial] and report.released and not report.posted
    assert service.count(ProfilingRequest, state="pending") == 1  # back in the queue
    assert service.count(ProfileEntry) == 0
    (dev,) = service.devices()[key]["devices"]
    assert dev["online"] is False


def test_a_hot_phone_is_left_alone_after_the_wait_bound(service, phone, adb_client,
                                                      profile_json):
    key = phone_class(profile_json)
    service.plan(key)
    ph, _ = phone()
    hottest = max(z["temp_c"] for z in profile_json["thermal_zones"])
    report = service.agent(adb_client, max_temp_c=hottest - 1).run_once()
    assert report.waited_out == [ph.serial] and not report.posted
    assert service.count(ProfilingRequest, state="pending") == 1  # never leased
    report = service.agent(adb_client, max_temp_c=hottest + 1).run_once()  # cool enough
    assert report.posted and service.count(ProfileEntry) == 1


def test_a_hot_phone_waits_until_it_cools_then_runs(service, phone, adb_client, profile_json):
    key = phone_class(profile_json)
    service.plan(key)
    ph, _ = phone()
    hottest = max(z["temp_c"] for z in profile_json["thermal_zones"])
    threading.Timer(1.0, ph.state.cool, args=(5.0,)).start()
    t0 = time.monotonic()
    report = service.agent(adb_client, max_temp_c=hottest - 2, max_wait_s=20).run_once()
    assert time.monotonic() - t0 >= 1.0  # it waited for the phone to cool
    assert report.posted and not report.waited_out and service.count(ProfileEntry) == 1
    with service.sessions() as s:
        (e,) = s.scalars(select(ProfileEntry)).all()
        assert e.temperature_c == pytest.approx(hottest - 5)  # what it ran at


def test_a_killed_agents_lease_returns_to_the_queue(service, phone, adb_client, profile_json):
    key = phone_class(profile_json)
    service.plan(key)
    phone()
    dead = service.agent(adb_client)
    dead.discover()
    (req,) = dead.client.lease([key], lease_s=60)  # then the agent dies
    assert service.count(ProfilingRequest, state="pending") == 0
    with service.sessions() as s, s.begin():  # its lease time passes
        s.execute(update(ProfilingRequest).values(
            lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert service.devices()[key]["queue_length"] == 1
    report = service.agent(adb_client).run_once()  # the restarted agent
    assert report.posted == [req["id"]] and service.count(ProfileEntry) == 1


class _Down(httpx.BaseTransport):
    def handle_request(self, request):
        raise httpx.ConnectError("connection refused", request=request)


def test_results_spooled_while_the_service_is_down_are_posted_once(
        service, phone, adb_client, profile_json):
    key = phone_class(profile_json)
    service.plan(key)
    phone()
    agent = service.agent(adb_client)
    agent.discover()
    (req,) = agent.client.lease([key], lease_s=60)
    dev = next(iter(agent._adb_devices().values()))
    report = PassReport()
    agent._run(dev.serial, dev, req, status(dev), report)  # measured, spooled, not posted
    spooled = list((service.tmp / "spool").glob("*.json"))
    assert len(spooled) == 1 and json.loads(spooled[0].read_text())["request_id"] == req["id"]
    agent.client.http = httpx.Client(transport=_Down())  # the service restarts
    agent.flush_spool(report)
    assert not report.posted and len(list((service.tmp / "spool").glob("*.json"))) == 1
    agent.client.http = service.client  # back
    body = json.loads(spooled[0].read_text())["body"]
    agent.flush_spool(report)
    assert report.posted == [req["id"]] and not list((service.tmp / "spool").glob("*.json"))
    # the agent restarted after posting but before removing the file: re-posted, not re-counted
    r = service.client.post(f"/api/v1/agent/requests/{req['id']}/results", json=body,
                            headers=headers(service.agent_key))
    assert r.status_code == 200 and r.json()["created"] is False
    assert service.count(ProfileEntry) == 1
    assert service.count(Device) == 1


def test_with_no_phone_the_agents_own_cpu_is_the_host_device(service):
    key = host_device_class().key
    (d,) = service.plan(key)
    assert d.source == "analytic"
    report = service.agent(None, host=True).run_once()
    assert report.posted and not report.failed, report
    (dev,) = service.devices()[key]["devices"]
    assert dev["serial"].startswith("host-") and dev["online"] is True
    d = service.measured_decision(key)
    assert d.source == "measured" and d.entry_id is not None
