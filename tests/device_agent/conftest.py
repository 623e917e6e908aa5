"""Fixtures for the device agent tests: the real adb server on a private port, simulated phones
attached to it with ``adb connect``, and a static arm64 binary to run on them."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import adbutils
import pytest

from device_agent.simphone import DEFAULT_PROFILE, Faults, SimPhone, load_profile

HERE = Path(__file__).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def adb_client() -> Iterator[adbutils.AdbClient]:
    """An adbutils client of a real adb server started on a free port, killed at the end."""
    adb = shutil.which("adb")
    assert adb, "adb is not installed: run scripts/setup-apt.sh"
    port = _free_port()
    subprocess.run([adb, "-P", str(port), "start-server"], check=True, timeout=30,
                   capture_output=True)
    try:
        yield adbutils.AdbClient(host="127.0.0.1", port=port, socket_timeout=10)
    finally:
        subprocess.run([adb, "-P", str(port), "kill-server"], timeout=30, capture_output=True)


@pytest.fixture(scope="session")
def profile_json() -> dict:
    """The default profile file's raw JSON (expected values come from here, not the loader)."""
    return json.loads(Path(DEFAULT_PROFILE).read_text())


def wait_state(client: adbutils.AdbClient, serial: str, want: str | None,
               timeout: float = 10) -> None:
    """Wait until ``serial`` is listed in state ``want`` (None: gone or not 'device')."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = {d.serial: d.state for d in client.list()}
        if (want is None and states.get(serial) != "device") or states.get(serial) == want:
            return
        time.sleep(0.1)
    raise AssertionError(f"{serial} not {want or 'offline'} after {timeout} s: {states}")


@pytest.fixture
def phone(adb_client, tmp_path) -> Iterator[Callable[..., tuple[SimPhone, adbutils.AdbDevice]]]:
    """``phone(faults=...)`` starts a simulated phone, connects the adb server to it and returns
    (phone, adbutils device); every phone is disconnected and stopped at teardown."""
    started: list[SimPhone] = []

    def make(faults: Faults | None = None) -> tuple[SimPhone, adbutils.AdbDevice]:
        ph = SimPhone(load_profile(DEFAULT_PROFILE), tmp_path / f"sandbox{len(started)}", faults)
        ph.start()
        started.append(ph)
        out = adb_client.connect(ph.serial, timeout=10)
        assert "connected" in out, out
        wait_state(adb_client, ph.serial, "device")
        return ph, adb_client.device(ph.serial)

    yield make
    for ph in started:
        ph.stop()
        with contextlib.suppress(adbutils.AdbError):
            adb_client.disconnect(ph.serial)


@pytest.fixture(scope="session")
def arm64_hello(tmp_path_factory) -> Path:
    """tests/device_agent/hello_arm64.c built static for aarch64."""
    cc = shutil.which("aarch64-linux-gnu-gcc")
    assert cc, "aarch64-linux-gnu-gcc is not installed: run scripts/setup-apt.sh"
    out = tmp_path_factory.mktemp("arm64") / "hello"
    subprocess.run([cc, "-static", "-O1", "-o", str(out), str(HERE / "hello_arm64.c")],
                   check=True, timeout=60)
    return out
