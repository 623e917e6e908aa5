"""The device farm's devices: what agents register and report by heartbeat, and the listing
users see (``GET /api/v1/devices``). ``owner`` is the agent's identity (its API key's id).

A device is listed online when its last heartbeat said so and came less than
:data:`ONLINE_WINDOW_S` ago (an agent that died stops counting as online by itself)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dnfstore.base import utcnow
from dnfstore.profiling_models import Device, DeviceClass
from profiling import queries
from profiling.device import DeviceClassInfo
from profiling.lease import queue_lengths

ONLINE_WINDOW_S = 120.0


@dataclass(frozen=True)
class DeviceStatus:
    """One heartbeat line: ``temperature_c`` in °C, ``battery_pct`` in percent (None when the
    device has no sensor)."""

    serial: str
    online: bool = True
    temperature_c: float | None = None
    battery_pct: float | None = None


def register_device(
    session: Session, *, owner: str, serial: str, info: DeviceClassInfo
) -> tuple[DeviceClass, Device]:
    """The class of ``info`` (created if new) and the device ``serial`` in it, now run by
    ``owner`` and online. The caller commits."""
    dc = queries.ensure_device_class(session, key=info.key, info=info)
    # A class first named by a plan (a --device-class key) has no parts yet: fill them in.
    for part in ("cpu_model", "isa", "cores", "max_mhz", "os"):
        if getattr(dc, part) is None:
            setattr(dc, part, getattr(info, part))
    dev = queries.ensure_device(session, device_class=dc, serial=serial, agent=owner)
    dev.agent, dev.online = owner, True
    session.flush()
    return dc, dev


def agent_devices(session: Session, *, owner: str) -> list[Device]:
    return list(session.scalars(select(Device).where(Device.agent == owner).order_by(Device.id)))


def heartbeat(session: Session, *, owner: str, statuses: Iterable[DeviceStatus]) -> list[str]:
    """Record the status of ``owner``'s devices; its devices not listed go offline. Returns
    the serials that are not registered devices of ``owner``. The caller commits."""
    now = utcnow()
    by_serial = {s.serial: s for s in statuses}
    seen = set()
    for dev in agent_devices(session, owner=owner):
        st = by_serial.get(dev.serial)
        if st is None:
            dev.online = False
            continue
        seen.add(dev.serial)
        dev.online, dev.temperature_c, dev.battery_pct = st.online, st.temperature_c, st.battery_pct
        dev.last_seen_at = now
    session.flush()
    return sorted(set(by_serial) - seen)


def set_offline(session: Session, *, owner: str) -> None:
    session.execute(update(Device).where(Device.agent == owner).values(online=False)
                    .execution_options(synchronize_session=False))


@dataclass(frozen=True)
class DeviceRow:
    serial: str
    agent: str | None
    online: bool
    last_seen_at: datetime | None
    temperature_c: float | None
    battery_pct: float | None


@dataclass(frozen=True)
class ClassRow:
    key: str
    cpu_model: str | None
    isa: str | None
    cores: int | None
    max_mhz: int | None
    os: str | None
    queue_length: int
    devices: list[DeviceRow]


def listing(session: Session) -> list[ClassRow]:
    """Every device class with its devices and the number of requests waiting for it."""
    now = utcnow()
    queues = queue_lengths(session, now=now)
    recent = now - timedelta(seconds=ONLINE_WINDOW_S)
    devices: dict[int, list[DeviceRow]] = {}
    for d in session.scalars(select(Device).order_by(Device.serial)):
        online = bool(d.online) and d.last_seen_at is not None and d.last_seen_at >= recent
        devices.setdefault(d.device_class_id, []).append(DeviceRow(
            d.serial, d.agent, online, d.last_seen_at, d.temperature_c, d.battery_pct))
    return [ClassRow(dc.key, dc.cpu_model, dc.isa, dc.cores, dc.max_mhz, dc.os,
                     queues.get(dc.id, 0), devices.get(dc.id, []))
            for dc in session.scalars(select(DeviceClass).order_by(DeviceClass.key))]
