"""The run loop of the device agent.

One :meth:`Agent.run_once` pass: post what the spool holds; discover the phones the adb server
lists (plus the agent's own CPU as the ``host`` device) and register any new one; heartbeat
(temperature and battery of each); then per device: wait (at most ``max_wait_s``) while it is
too hot or its battery too low, lease one request of its class, build and run the benchmark,
spool and post the result. A phone that goes away mid-run gets its lease released and is left
out of the next heartbeat (the service marks it offline); a run over ``run_timeout_s`` or a
benchmark that fails is released (failed when the benchmark itself is broken)."""

from __future__ import annotations

import socket
import time
import uuid
from dataclasses import dataclass, field

import adbutils

from compiler_core.bench.run import BenchmarkError
from compiler_core.errors import DnnFusionError
from device_agent import discovery
from device_agent.bench import Measured, run_on_host, run_on_phone
from device_agent.client import ServiceClient, ServiceError
from device_agent.discovery import PhoneIdentity, PhoneStatus
from device_agent.logs import log
from device_agent.samples import cap_samples
from device_agent.spool import Spool
from profiling.device import host_device_class, host_temperature_c


@dataclass
class AgentConfig:
    """Limits of the loop: °C, %, seconds, milliseconds."""

    max_temp_c: float = 45.0
    min_battery_pct: float = 20.0
    max_wait_s: float = 300.0  # how long to wait for a device to cool down or charge
    poll_s: float = 5.0  # how often to re-read a waiting device
    run_timeout_s: float = 600.0
    lease_s: float = 900.0
    min_ms: float = 100.0
    host: bool = True  # measure the agent's own CPU as a device too


@dataclass
class PassReport:
    """What one pass did: request ids posted, released, and devices lost."""

    posted: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    unplugged: list[str] = field(default_factory=list)
    waited_out: list[str] = field(default_factory=list)  # too hot / low for max_wait_s


class Agent:
    def __init__(self, client: ServiceClient, spool: Spool, config: AgentConfig,
                 adb: adbutils.AdbClient | None = None) -> None:
        self.client, self.spool, self.config, self.adb = client, spool, config, adb
        self.host_serial = f"host-{socket.gethostname()}"[:255]
        self.phones: dict[str, PhoneIdentity] = {}
        self.classes: dict[str, str] = {}  # serial -> device class key
        self.lost: set[str] = set()

    # -- devices ----------------------------------------------------------------------------
    def _adb_devices(self) -> dict[str, adbutils.AdbDevice]:
        if self.adb is None:
            return {}
        try:
            return {d.serial: self.adb.device(d.serial) for d in self.adb.list()
                    if d.state == "device"}
        except adbutils.AdbError as e:
            log("adb_unreachable", "warning", error=str(e))
            return {}

    def discover(self) -> dict[str, adbutils.AdbDevice | None]:
        """The devices usable now (serial -> adb device, None for the host); registers new
        ones."""
        devs = self._adb_devices()
        new = []
        for serial, dev in devs.items():
            if serial in self.phones and serial not in self.lost:
                continue
            try:
                ident = discovery.identify(dev)
            except (adbutils.AdbError, ValueError) as e:
                log("identify_failed", "warning", serial=serial, error=str(e))
                continue
            self.phones[serial] = ident
            new.append((serial, ident.info))
            log("phone_found", serial=serial, model=ident.model, abi=ident.abi,
                cores=ident.info.cores, big_cores=list(ident.big_cores))
        if self.config.host and self.host_serial not in self.classes:
            new.append((self.host_serial, host_device_class()))
        if new:
            ans = self.client.register([{"serial": s, "device_class": _info_dict(i)}
                                        for s, i in new])
            for d in ans["devices"]:
                self.classes[d["serial"]] = d["device_class"]
        self.lost -= set(devs)
        out: dict[str, adbutils.AdbDevice | None] = {
            s: d for s, d in devs.items() if s in self.classes}
        if self.config.host:
            out[self.host_serial] = None
        return out

    def _status(self, serial: str, dev) -> PhoneStatus | None:
        if dev is None:
            return PhoneStatus(host_temperature_c(), None)
        try:
            return discovery.status(dev)
        except adbutils.AdbError:
            return None

    def heartbeat(self, statuses: dict[str, PhoneStatus]) -> None:
        self.client.heartbeat([{"serial": s, "online": True, "temperature_c": st.temperature_c,
                                "battery_pct": st.battery_pct} for s, st in statuses.items()])

    def _ready(self, serial: str, dev) -> PhoneStatus | None:
        """Wait (bounded) until the device is cool and charged enough; its status, or None
        when it stayed too hot / low or went away."""
        deadline = time.monotonic() + self.config.max_wait_s
        while True:
            st = self._status(serial, dev)
            if st is None:
                return None
            hot = st.temperature_c is not None and st.temperature_c > self.config.max_temp_c
            low = st.battery_pct is not None and st.battery_pct < self.config.min_battery_pct
            if not (hot or low):
                return st
            if time.monotonic() >= deadline:
                log("device_not_ready", "warning", serial=serial, temperature_c=st.temperature_c,
                    battery_pct=st.battery_pct, waited_s=self.config.max_wait_s)
                return None
            log("device_waiting", serial=serial, temperature_c=st.temperature_c,
                battery_pct=st.battery_pct)
            time.sleep(self.config.poll_s)

    # -- results ----------------------------------------------------------------------------
    def flush_spool(self, report: PassReport) -> None:
        """Post every spooled result; one the service refuses (4xx) is renamed ``*.rejected``,
        one it cannot take now stays for the next pass."""
        for path, rid, body in self.spool.pending():
            try:
                ans = self.client.result(rid, body)
            except ServiceError as e:
                if e.status is None:
                    log("result_kept", "warning", request=rid, error=str(e))
                    return
                log("result_rejected", "error", request=rid, error=str(e))
                path.rename(path.with_suffix(".rejected"))
                continue
            self.spool.done(path)
            report.posted.append(rid)
            log("result_posted", request=rid, entry=ans["entry_id"], created=ans["created"])

    def _spool_result(self, req: dict, serial: str, m: Measured, st: PhoneStatus) -> None:
        body = {"idempotency_key": uuid.uuid4().hex, "serial": serial,
                "fused_us": cap_samples(m.fused_us), "separate_us": cap_samples(m.separate_us),
                "cpu": m.cpu[:255], "max_abs_diff": m.max_abs_diff,
                "temperature_c": st.temperature_c, "battery_pct": st.battery_pct}
        self.spool.put(req["id"], body)
        log("result_spooled", request=req["id"], serial=serial, battery_pct=st.battery_pct,
            temperature_c=st.temperature_c, fused_runs=len(m.fused_us),
            separate_runs=len(m.separate_us))

    # -- one pass ---------------------------------------------------------------------------
    def run_once(self) -> PassReport:
        report = PassReport()
        self.flush_spool(report)
        devices = self.discover()
        statuses = {s: st for s, d in devices.items() if (st := self._status(s, d)) is not None}
        self.heartbeat(statuses)
        for serial, dev in devices.items():
            if serial not in statuses:
                continue
            st = self._ready(serial, dev)
            if st is None:
                report.waited_out.append(serial)
                continue
            leased = self.client.lease([self.classes[serial]], n=1, lease_s=self.config.lease_s)
            for req in leased:
                self._run(serial, dev, req, st, report)
        self.flush_spool(report)
        if report.unplugged:
            live = {s: st for s, st in statuses.items() if s not in report.unplugged}
            self.heartbeat(live)
        return report

    def _run(self, serial, dev, req: dict, st: PhoneStatus, report: PassReport) -> None:
        rid = req["id"]
        log("run_start", request=rid, serial=serial, device_class=req["device_class"])
        try:
            if dev is None:
                m = run_on_host(req, min_ms=self.config.min_ms,
                                timeout_s=self.config.run_timeout_s)
            else:
                m = run_on_phone(dev, self.phones[serial], req, min_ms=self.config.min_ms,
                                 timeout_s=self.config.run_timeout_s)
        except adbutils.AdbTimeout:
            log("run_timeout", "warning", request=rid, serial=serial,
                timeout_s=self.config.run_timeout_s)
            self.client.release(rid, reason="run timed out")
            report.released.append(rid)
            return
        except adbutils.AdbError as e:
            log("device_unplugged", "warning", request=rid, serial=serial, error=str(e))
            self.lost.add(serial)
            report.unplugged.append(serial)
            self.client.release(rid, reason="device went away")
            report.released.append(rid)
            return
        except (BenchmarkError, DnnFusionError) as e:
            log("run_failed", "error", request=rid, serial=serial, error=str(e))
            self.client.release(rid, failed=True, reason=str(e))
            report.failed.append(rid)
            return
        self._spool_result(req, serial, m, st)


def _info_dict(info) -> dict:
    return {"cpu_model": info.cpu_model, "isa": info.isa, "cores": info.cores,
            "max_mhz": info.max_mhz, "os": info.os, "arch": info.arch}
