"""``GET /api/v1/devices``: the device farm as users see it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class DevicePublic(BaseModel):
    serial: str
    agent: str | None
    online: bool
    last_seen_at: datetime | None
    temperature_c: float | None  # °C
    battery_pct: float | None  # percent


class DeviceClassPublic(BaseModel):
    key: str
    cpu_model: str | None
    isa: str | None
    cores: int | None
    max_mhz: int | None
    os: str | None
    queue_length: int  # profiling requests waiting for a device of this class
    devices: list[DevicePublic]


class DevicesPublic(BaseModel):
    device_classes: list[DeviceClassPublic]
