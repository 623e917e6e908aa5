"""The agent's parts on their own: sample capping under the 1 MiB body cap, the spool, the
HTTP client's retries, the command line's bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from device_agent.client import ServiceClient, ServiceError
from device_agent.samples import MAX_POSTED_PER_SIDE, cap_samples
from device_agent.spool import Spool
from dnfstore.profiling_models import ProfileEntry
from tests.device_agent.test_agent import phone_class, service  # noqa: F401 - fixture
from tests.service.procs import REPO


def test_cap_keeps_evenly_spaced_samples_first_and_last():
    xs = [float(i) for i in range(1, 100_001)]
    got = cap_samples(xs, limit=5)
    # indices 0, 24999.75, 49999.5, 74999.25, 99999 rounded (to even): 0, 25000, 50000, 74999
    assert got == [1.0, 25001.0, 50001.0, 75000.0, 100_000.0]
    assert cap_samples([1.23456, 2.0]) == [1.235, 2.0]  # fewer than the limit: all of them
    assert len(cap_samples(xs)) == MAX_POSTED_PER_SIDE


def test_a_capped_post_of_a_very_fast_kernel_fits_under_the_body_cap(service,  # noqa: F811
                                                                      profile_json):
    key = phone_class(profile_json)
    service.plan(key)
    agent = service.agent(None)
    agent.client.register([{"serial": "p1", "device_class": {
        "cpu_model": profile_json["soc_model"], "isa": "armv8-a", "cores": 8,
        "max_mhz": 2841, "os": "android-13", "arch": "aarch64"}}])
    (req,) = agent.client.lease([key], lease_s=60)
    many = [123456.789 + i / 1000 for i in range(100_000)]  # the benchmark's MAX_RUNS per side
    raw = {"idempotency_key": "k", "serial": "p1", "fused_us": many, "separate_us": many}
    assert len(json.dumps(raw)) > 1024**2  # uncapped, the service would refuse it (413)
    body = {**raw, "fused_us": cap_samples(many), "separate_us": cap_samples(many)}
    ans = agent.client.result(req["id"], body)
    assert ans["created"] and service.count(ProfileEntry) == 1


def test_spool_keeps_results_until_done(tmp_path):
    spool = Spool(tmp_path / "s")
    path = spool.put(7, {"idempotency_key": "abc", "fused_us": [1.0]})
    (tmp_path / "s" / "broken.json").write_text("{not json")
    again = Spool(tmp_path / "s")  # an agent restart
    assert [(p, rid, b["idempotency_key"]) for p, rid, b in again.pending()] == [
        (path, 7, "abc")]
    assert (tmp_path / "s" / "broken.bad").exists()
    again.done(path)
    assert again.pending() == []


def test_client_retries_5xx_and_connection_errors_then_gives_up():
    calls = []

    def flaky(request):
        calls.append(request.url.path)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        if len(calls) == 2:
            return httpx.Response(503)
        return httpx.Response(200, json={"online": 1, "unknown": []})

    c = ServiceClient("http://svc", "k", retries=2, backoff_s=0.01,
                      http=httpx.Client(transport=httpx.MockTransport(flaky)))
    assert c.heartbeat([]) == {"online": 1, "unknown": []}
    assert calls == ["/api/v1/agent/heartbeat"] * 3

    down = ServiceClient("http://svc", "k", retries=1, backoff_s=0.01,
                         http=httpx.Client(transport=httpx.MockTransport(
                             lambda r: httpx.Response(502))))
    with pytest.raises(ServiceError, match="unreachable") as e:
        down.heartbeat([])
    assert e.value.status is None

    refused = ServiceClient("http://svc", "k", retries=3, backoff_s=0.01,
                            http=httpx.Client(transport=httpx.MockTransport(
                                lambda r: httpx.Response(409, json={"detail": "not yours"}))))
    with pytest.raises(ServiceError, match="409 not yours") as e:
        refused.release(1)
    assert e.value.status == 409


@pytest.mark.parametrize("argv, message", [
    ([], "--service"),
    (["--service", "ftp://x", "--key", "k"], "--service"),
    (["--service", "http://x"], "--key"),
    (["--service", "http://x", "--key", "k", "--lease-s", "5"], "--lease-s"),
    (["--service", "http://x", "--key", "k", "--min-ms", "0"], "--min-ms"),
])
def test_cli_bad_input_is_one_line_and_exit_2(argv, message):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "device_agent", *argv], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
