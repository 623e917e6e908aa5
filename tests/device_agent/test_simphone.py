"""The simulated phone under the real adb server and the real adbutils: what the device agent
will see of a phone (identity, /sys, thermal, battery), push/pull/stat, running a pushed arm64
binary, and the faults (unplug mid-run, heat, slowness)."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time

import adbutils
import pytest

from device_agent.simphone import Faults
from tests.device_agent.conftest import _free_port, wait_state

pytestmark = pytest.mark.timeout(60)

TMP = "/data/local/tmp"


def test_device_listed_with_serial_and_identity(adb_client, phone, profile_json):
    ph, d = phone()
    listed = {i.serial: i.state for i in adb_client.list()}
    assert listed[ph.serial] == "device"
    assert d.shell("getprop ro.product.model") == profile_json["model"]
    assert d.shell("getprop ro.board.platform") == profile_json["board_platform"]
    assert d.shell("getprop ro.soc.model") == profile_json["soc_model"]
    assert d.shell("getprop ro.product.cpu.abi") == "arm64-v8a"
    assert d.shell("getprop ro.build.version.release") == profile_json["android_release"]
    props = dict(re.findall(r"^\[(.+?)\]: \[(.*)\]$", d.shell("getprop"), re.M))
    assert props["ro.product.model"] == profile_json["model"]
    assert props["ro.serialno"] == profile_json["serialno"]
    assert d.shell("getprop no.such.prop") == ""


def test_cpu_cores_and_frequencies(phone, profile_json):
    _, d = phone()
    want = {core: c["max_freq_khz"] for c in profile_json["clusters"] for core in c["cores"]}
    assert len(want) == 8
    assert d.shell("cat /sys/devices/system/cpu/online") == "0-7"
    assert d.shell("nproc") == "8"
    got = {i: int(d.shell(f"cat /sys/devices/system/cpu/cpu{i}/cpufreq/cpuinfo_max_freq"))
           for i in range(8)}
    assert got == want
    assert set(got.values()) == {1804800, 2419200, 2841600}  # little, big, prime


def test_thermal_zones_and_battery(phone, profile_json):
    _, d = phone()
    temps = [int(t) for t in d.shell("cat /sys/class/thermal/thermal_zone*/temp").split()]
    assert temps == [round(z["temp_c"] * 1000) for z in profile_json["thermal_zones"]]
    assert d.shell("cat /sys/class/thermal/thermal_zone2/type") == "battery"
    battery = dict(re.findall(r"^\s+([\w ]+): (\S+)$", d.shell("dumpsys battery"), re.M))
    assert int(battery["level"]) == profile_json["battery_level"] == 87
    assert int(battery["temperature"]) == 310  # tenths of a degree, 31.0 C


@pytest.mark.parametrize("size", [0, 1, 64 * 1024 + 1])
def test_push_pull_stat_roundtrip(phone, tmp_path, size):
    ph, d = phone()
    data = bytes((i * 7 + 3) % 256 for i in range(size))
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    remote = f"{TMP}/blob{size}.bin"
    assert d.sync.push(src, remote, mode=0o644) == size
    info = d.sync.stat(remote)
    assert info.size == size and info.mode & 0o170000 == 0o100000 and info.mode & 0o777 == 0o644
    dst = tmp_path / "back.bin"
    d.sync.pull(remote, dst)
    assert dst.read_bytes() == data
    assert (ph.fs.sandbox / f"blob{size}.bin").read_bytes() == data  # it landed in the sandbox
    assert f"blob{size}.bin" in d.shell(f"ls {TMP}").split()


def test_paths_outside_the_sandbox_are_refused(phone, tmp_path):
    ph, d = phone()
    with pytest.raises(adbutils.AdbError):
        d.sync.push(b"x", "/system/bin/evil")
    with pytest.raises(adbutils.AdbError):
        d.sync.push(b"x", f"{TMP}/../../../etc/evil")
    with pytest.raises(adbutils.AdbError):
        d.sync.read_bytes("/etc/passwd")  # the host's file is never read
    assert d.sync.stat("/etc/passwd").size == 0
    r = d.shell2("cat /etc/hostname")
    assert r.returncode == 1 and "No such file" in r.output
    assert d.shell2(f"rm -rf {TMP}/../../../tmp").returncode == 1
    assert sorted(p.name for p in ph.fs.sandbox.iterdir()) == []


def test_shell_file_commands_on_the_sandbox(phone):
    ph, d = phone()
    assert d.shell2(f"mkdir -p {TMP}/a/b && echo hi > {TMP}/a/b/f").returncode == 0
    assert d.shell(f"cat {TMP}/a/b/f") == "hi"
    assert d.shell2(f"chmod 755 {TMP}/a/b/f").returncode == 0
    assert (ph.fs.sandbox / "a/b/f").stat().st_mode & 0o777 == 0o755
    assert d.shell2(f"rm -r {TMP}/a").returncode == 0
    assert not (ph.fs.sandbox / "a").exists()
    r = d.shell2("no_such_tool --x")
    assert r.returncode == 127 and "not found" in r.output
    assert d.shell2("false || echo fallback").output.strip() == "fallback"
    # pipes are refused for the whole line (like a syntax error), never half-run
    assert "unsupported shell syntax '|'" in d.shell(f"ls | rm -r {TMP}; echo ran")


def test_pushed_arm64_binary_runs_with_output_and_status(phone, arm64_hello):
    ph, d = phone()
    d.sync.push(arm64_hello, f"{TMP}/hello", mode=0o755)
    r = d.shell2(f"{TMP}/hello 7 x", timeout=30)
    assert r.returncode == 7
    assert r.output.strip() == "hello from arm64 argc=3"
    r = d.shell2(f"taskset f0 {TMP}/hello", timeout=30)  # pinned to the big cores 4..7
    assert (r.returncode, r.output.strip()) == (0, "hello from arm64 argc=1")
    r = d.shell2(f"taskset 100 {TMP}/hello")  # core 8 does not exist
    assert r.returncode == 1 and "Invalid argument" in r.output
    d.sync.push(arm64_hello, f"{TMP}/noexec", mode=0o644)
    assert d.shell2(f"{TMP}/noexec").returncode == 126
    assert ph.state.runs == 2


def test_unplug_mid_run_raises_and_device_goes_offline(adb_client, phone, arm64_hello):
    ph, d = phone(Faults(unplug_after_s=1.0))
    d.sync.push(arm64_hello, f"{TMP}/hello", mode=0o755)
    t0 = time.monotonic()
    with pytest.raises(adbutils.AdbError):
        # the run would last 20 s; the phone vanishes 1 s in: no exit status ever comes
        d.shell2(f"{TMP}/hello sleep 20", timeout=15)
    assert time.monotonic() - t0 < 10
    assert ph.unplugged.is_set()
    wait_state(adb_client, ph.serial, None, timeout=10)
    with pytest.raises(adbutils.AdbError):
        d.shell("getprop ro.product.model", timeout=5)


def test_heat_raises_temperature_per_run(phone, arm64_hello):
    _, d = phone(Faults(heat_c_per_run=4.5))
    d.sync.push(arm64_hello, f"{TMP}/hello", mode=0o755)

    def temps() -> list[int]:
        return [int(t) for t in d.shell("cat /sys/class/thermal/thermal_zone*/temp").split()]

    def battery_temp() -> int:
        return int(re.search(r"temperature: (\d+)", d.shell("dumpsys battery")).group(1))

    before, bat_before = temps(), battery_temp()
    for _ in range(2):
        assert d.shell2(f"{TMP}/hello", timeout=30).returncode == 0
    assert [a - b for a, b in zip(temps(), before, strict=True)] == [9000, 9000, 9000]
    assert battery_temp() - bat_before == 90


def test_slow_phone_makes_the_run_time_out(phone, arm64_hello):
    _, d = phone(Faults(slow_factor=6))
    d.sync.push(arm64_hello, f"{TMP}/hello", mode=0o755)
    t0 = time.monotonic()
    with pytest.raises(adbutils.AdbTimeout):
        d.shell2(f"{TMP}/hello", timeout=1.5)  # at least 5 s more than the real run
    assert time.monotonic() - t0 < 5
    assert d.shell("getprop ro.product.model")  # still attached after the timeout


def test_cli_refuses_a_bad_profile_in_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"model": "x"}')
    r = subprocess.run([sys.executable, "-m", "device_agent.simphone", "--profile", str(bad)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "missing field" in r.stderr


def test_replug_after_unplug_comes_back_on_the_same_serial(adb_client, phone):
    ph, _ = phone()
    serial = ph.serial
    ph.unplug()
    wait_state(adb_client, serial, None, timeout=10)
    assert ph.replug() and ph.serial == serial
    with contextlib.suppress(adbutils.AdbError):
        adb_client.disconnect(serial)  # the server may still hold the dead transport
    assert "connected" in adb_client.connect(serial, timeout=10)
    wait_state(adb_client, serial, "device")
    assert adb_client.device(serial).shell("nproc") == "8"


def test_cli_serves_a_yaml_profile_on_the_given_port(adb_client, tmp_path, profile_json):
    yaml = pytest.importorskip("yaml")  # pyyaml comes with the service extra
    prof = dict(profile_json, model="Yaml Phone", clusters=[{"cores": [0, 1], "max_freq_khz": 1000}])
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(prof))
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "device_agent.simphone", "--profile",
                             str(tmp_path / "p.yaml"), "--port", str(port), "--sandbox",
                             str(tmp_path / "sb")], stdout=subprocess.PIPE, text=True)
    serial = f"127.0.0.1:{port}"
    try:
        assert f"on {serial}" in proc.stdout.readline()
        assert "connected" in adb_client.connect(serial, timeout=10)
        wait_state(adb_client, serial, "device")
        d = adb_client.device(serial)
        assert (d.shell("getprop ro.product.model"), d.shell("nproc")) == ("Yaml Phone", "2")
        d.sync.push(b"abc", f"{TMP}/f")
        assert (tmp_path / "sb" / "f").read_bytes() == b"abc"
    finally:
        with contextlib.suppress(adbutils.AdbError):
            adb_client.disconnect(serial)
        proc.terminate()
        proc.wait(timeout=10)
