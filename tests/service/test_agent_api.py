"""Device-agent endpoints on SQLite and the real PostgreSQL: register -> heartbeat -> lease ->
results -> an entry the planner uses; lease expiry; invalid samples; idempotent posts; keys."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from compiler_core.bench.signature import fusion_signature
from dnfstore import migrate
from dnfstore.base import utcnow
from dnfstore.db import make_engine, make_sessionmaker
from dnfstore.profiling_models import Device, ProfileEntry, ProfilingRequest
from profiling import queries
from profiling.candidate import StoredCandidate
from profiling.cost import ProfilingCostModel
from profiling.device import DeviceClassInfo
from profiling.farm import ONLINE_WINDOW_S
from service.main import create_app
from tests.helpers.pg import scratch_database
from tests.profiling.test_cost_model import FIRST, SECOND, _ecg
from tests.service import onnx_models as m
from tests.service.conftest import add_user, embedded_settings, headers
from tests.service.helpers import upload
from workers.embedded import EmbeddedWorker

PHONE = {"cpu_model": "sm8250", "isa": "armv8.2-a", "cores": 8, "max_mhz": 2841,
         "os": "android-13", "arch": "aarch64"}
PHONE_KEY = DeviceClassInfo(**PHONE).key
SERIAL = "127.0.0.1:5555"


@dataclass
class Farm:
    client: TestClient
    sessions: object
    alice: str
    agent: str
    bob: str
    agent2: str
    settings: object

    def plan(self):
        cost = ProfilingCostModel(self.sessions, PHONE_KEY, threads=1)
        from compiler_core.planner.run import plan_ecg

        _, fields = plan_ecg(_ecg(), cost_model=cost)
        cost.flush()
        return fields["profile_decisions"]

    def post(self, path: str, key: str, **kw):
        return self.client.post(f"/api/v1/agent/{path}", headers=headers(key), **kw)


@pytest.fixture(params=["sqlite", "postgresql"])
def farm(request, tmp_path) -> Iterator[Farm]:
    with scratch_database("dnnfusion_farm") if request.param == "postgresql" else (
            _nothing()) as pg:
        overrides = {"database_url": pg} if pg else {}
        settings = embedded_settings(tmp_path / "data", **overrides)
        migrate.upgrade(settings)
        alice, agent = add_user(settings, "alice")
        bob, agent2 = add_user(settings, "bob")
        engine = make_engine(settings)
        app = create_app(settings, dispatcher=EmbeddedWorker(settings))
        try:
            with TestClient(app) as client:
                yield Farm(client, make_sessionmaker(engine), alice, agent, bob, agent2,
                           settings)
        finally:
            engine.dispose()


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _register(farm: Farm, key: str, serial: str = SERIAL):
    r = farm.post("register", key, json={"devices": [{"serial": serial, "device_class": PHONE}]})
    assert r.status_code == 200, r.text
    return r.json()


def _devices(farm: Farm) -> dict:
    r = farm.client.get("/api/v1/devices", headers=headers(farm.alice))
    assert r.status_code == 200, r.text
    return {c["key"]: c for c in r.json()["device_classes"]}


def _entries(farm: Farm) -> int:
    with farm.sessions() as s:
        return s.scalar(select(func.count(ProfileEntry.id)))


def _samples(key: str = "k1", **over):
    return {"idempotency_key": key, "serial": SERIAL, "fused_us": [10.0, 11.0, 12.0],
            "separate_us": [20.0, 21.0, 22.0], "cpu": "sim", "temperature_c": 36.5, **over}


def test_register_lease_results_then_the_planner_measures(farm):
    (d,) = farm.plan()
    assert d.source == "analytic"  # -> a profiling request for the phone's class
    reg = _register(farm, farm.agent)
    assert reg["devices"] == [{"serial": SERIAL, "device_class": PHONE_KEY}]
    r = farm.post("heartbeat", farm.agent, json={"devices": [
        {"serial": SERIAL, "temperature_c": 35.0, "battery_pct": 80}, {"serial": "nope"}]})
    assert r.json() == {"online": 1, "unknown": ["nope"]}
    cls = _devices(farm)[PHONE_KEY]
    assert cls["queue_length"] == 1 and cls["cores"] == 8
    (dev,) = cls["devices"]
    assert (dev["serial"], dev["online"], dev["temperature_c"], dev["battery_pct"]) == (
        SERIAL, True, 35.0, 80.0)
    assert dev["last_seen_at"] is not None

    r = farm.post("lease", farm.agent, json={"max_requests": 5, "lease_seconds": 60})
    assert r.status_code == 200, r.text
    (req,) = r.json()["requests"]
    sig = fusion_signature(_ecg(), FIRST, SECOND, threads=1)
    assert (req["signature"], req["device_class"], req["threads"]) == (sig.key, PHONE_KEY, 1)
    assert (req["first"], req["second"]) == ([0], [1, 2])
    assert base64.b64decode(req["candidate_onnx_b64"])[:2]  # the ONNX bytes
    assert _devices(farm)[PHONE_KEY]["queue_length"] == 0
    assert farm.post("lease", farm.agent, json={}).json() == {"requests": []}

    r = farm.post(f"requests/{req['id']}/results", farm.agent, json=_samples())
    assert r.status_code == 201, r.text
    entry_id = r.json()["entry_id"]
    again = farm.post(f"requests/{req['id']}/results", farm.agent, json=_samples())
    assert again.status_code == 200 and again.json() == {
        "entry_id": entry_id, "request_id": req["id"], "created": False}
    assert _entries(farm) == 1
    with farm.sessions() as s:
        e = s.get(ProfileEntry, entry_id)
        assert (e.fused_median_us, e.separate_median_us, e.temperature_c) == (11.0, 21.0, 36.5)
        assert s.get(ProfilingRequest, req["id"]).state == "done"
    other = farm.post(f"requests/{req['id']}/results", farm.agent, json=_samples("k2"))
    assert other.status_code == 409  # done: a new key adds nothing either
    (d,) = farm.plan()
    assert (d.source, d.entry_id, d.fused) == ("measured", entry_id, True)


def test_an_expired_lease_returns_to_the_queue(farm):
    farm.plan()
    _register(farm, farm.agent)
    _register(farm, farm.agent2, serial="other-phone")
    (req,) = farm.post("lease", farm.agent, json={"lease_seconds": 60}).json()["requests"]
    assert farm.post("lease", farm.agent2, json={}).json() == {"requests": []}
    with farm.sessions() as s, s.begin():  # the agent died: its lease time passes
        s.execute(update(ProfilingRequest).values(
            lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert _devices(farm)[PHONE_KEY]["queue_length"] == 1
    (again,) = farm.post("lease", farm.agent2, json={}).json()["requests"]
    assert again["id"] == req["id"]
    late = farm.post(f"requests/{req['id']}/results", farm.agent, json=_samples())
    assert late.status_code == 409 and "not leased by this agent" in late.json()["detail"]
    ok = farm.post(f"requests/{req['id']}/results", farm.agent2,
                   json=_samples(serial="other-phone"))
    assert ok.status_code == 201, ok.text
    assert _entries(farm) == 1


def test_a_silent_agent_goes_offline_and_a_missing_device_too(farm):
    _register(farm, farm.agent)
    _register(farm, farm.agent, serial="second")
    farm.post("heartbeat", farm.agent, json={"devices": [{"serial": SERIAL}]})
    online = {d["serial"]: d["online"] for d in _devices(farm)[PHONE_KEY]["devices"]}
    assert online == {SERIAL: True, "second": False}  # not in the heartbeat: unplugged
    with farm.sessions() as s, s.begin():  # no heartbeat for longer than the window
        s.execute(update(Device).values(last_seen_at=utcnow() - timedelta(
            seconds=ONLINE_WINDOW_S + 1)))
    assert [d["online"] for d in _devices(farm)[PHONE_KEY]["devices"]] == [False, False]


def test_concurrent_agents_over_http_never_share_a_request(farm):
    keys = [farm.agent, farm.agent2] + [add_user(farm.settings, f"lab{k}")[1] for k in range(2)]
    for k, key in enumerate(keys):
        _register(farm, key, serial=f"phone-{k}")
    sigs = [fusion_signature(_ecg(rows=r), FIRST, SECOND, threads=1) for r in range(1, 25)]
    with farm.sessions() as s, s.begin():
        dc = queries.ensure_device_class(s, key=PHONE_KEY)
        queries.record_requests(s, device_class=dc, signatures=sigs, candidates={
            x.key: StoredCandidate(b"onnx", [0], [1]) for x in sigs})
    got: dict[str, list[int]] = {}
    start = threading.Barrier(len(keys))

    def leaser(key: str) -> None:
        mine = got.setdefault(key, [])
        start.wait()
        while True:
            r = farm.post("lease", key, json={"max_requests": 2})
            ids = [q["id"] for q in r.json()["requests"]] if r.status_code == 200 else [-1]
            if not ids:
                return
            mine.extend(ids)

    threads = [threading.Thread(target=leaser, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    every = [i for ids in got.values() for i in ids]
    assert -1 not in every and len(every) == len(set(every)) == len(sigs)


def test_release_puts_work_back(farm):
    farm.plan()
    _register(farm, farm.agent)
    (req,) = farm.post("lease", farm.agent, json={}).json()["requests"]
    assert farm.post(f"requests/{req['id']}/release", farm.agent2, json={}).status_code == 409
    assert farm.post(f"requests/{req['id']}/release", farm.agent, json={}).status_code == 204
    assert [r["id"] for r in farm.post("lease", farm.agent, json={}).json()["requests"]] == [
        req["id"]]


@pytest.mark.parametrize("bad", [
    {"fused_us": []},
    {"separate_us": [10.0, -1.0]},
    {"fused_us": [0.0]},
    {"fused_us": [1e12]},
    {"separate_us": ["ten"]},
    {"serial": ""},
    {"idempotency_key": ""},
])
@pytest.mark.slow  # one post per bad sample set, two databases
def test_invalid_samples_are_422_and_store_nothing(farm, bad):
    farm.plan()
    _register(farm, farm.agent)
    (req,) = farm.post("lease", farm.agent, json={}).json()["requests"]
    r = farm.post(f"requests/{req['id']}/results", farm.agent, json=_samples(**bad))
    assert r.status_code == 422, r.text
    assert _entries(farm) == 0


def test_nan_and_unknown_device_are_422(farm):
    farm.plan()
    _register(farm, farm.agent)
    (req,) = farm.post("lease", farm.agent, json={}).json()["requests"]
    path = f"requests/{req['id']}/results"
    body = (f'{{"idempotency_key": "k", "serial": "{SERIAL}", "fused_us": [NaN], '
            '"separate_us": [1.0]}')
    r = farm.client.post(f"/api/v1/agent/{path}", content=body, headers={
        "Content-Type": "application/json", **headers(farm.agent)})
    assert r.status_code == 422 and "finite" in r.text, r.text
    r = farm.post(path, farm.agent, json=_samples(serial="unregistered"))
    assert r.status_code == 422 and "not a registered device" in r.json()["detail"]
    assert farm.post("requests/999999/results", farm.agent, json=_samples()).status_code == 404
    assert _entries(farm) == 0


def test_keys_are_not_interchangeable(farm):
    for path in ("register", "heartbeat", "lease", "requests/1/results", "requests/1/release"):
        r = farm.post(path, farm.alice, json={})
        assert r.status_code == 403, (path, r.text)
    assert farm.post("lease", farm.agent, json={}).status_code == 409  # nothing registered
    bob_model = upload(farm.client, farm.bob, m.tiny_bytes(1)).json()["id"]
    created = farm.client.post("/api/v1/compilations", headers=headers(farm.bob), json={
        "model_id": bob_model, "input_shapes": {"x": [1, 4]}, "target": "host"})
    assert created.status_code == 202, created.text
    loc = created.headers["location"]
    assert farm.client.get(loc, headers=headers(farm.bob)).status_code == 200
    r = farm.client.get(loc, headers=headers(farm.agent))  # alice's agent key
    assert r.status_code == 403 and bob_model not in r.text
    assert farm.client.get("/api/v1/devices", headers=headers(farm.agent)).status_code == 403


def test_a_post_over_the_body_cap_is_413_and_stores_nothing(farm):
    farm.plan()
    _register(farm, farm.agent)
    (req,) = farm.post("lease", farm.agent, json={}).json()["requests"]
    many = [123.456] * 70_000  # 2 x 70,000 samples: over the 1 MiB JSON cap
    r = farm.post(f"requests/{req['id']}/results", farm.agent,
                  json=_samples(fused_us=many, separate_us=many))
    assert r.status_code == 413, r.text
    assert _entries(farm) == 0
