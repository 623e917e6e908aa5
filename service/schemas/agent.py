"""Request/response schemas of the device-agent endpoints (``/api/v1/agent``)."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from profiling.device import DeviceClassInfo
from service.schemas.common import json_int

# A sample is one timed run in microseconds: positive, finite, at most 100 s (anything longer
# is a broken clock or a hung device, not a kernel).
MAX_SAMPLE_US = 1e8
MAX_SAMPLES = 100_000
Sample = Annotated[float, Field(gt=0, le=MAX_SAMPLE_US, allow_inf_nan=False)]
Samples = Annotated[list[Sample], Field(min_length=1, max_length=MAX_SAMPLES)]
Serial = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Text = Annotated[str, StringConstraints(max_length=255)]
# Request bodies take JSON's types as the document states them: false is not a number, 1 is not
# true, "3" is not an integer (an integral 3.0 is one: json_int).
_STRICT = ConfigDict(extra="forbid", strict=True)


class AgentPingPublic(BaseModel):
    pong: bool
    user_id: uuid.UUID
    key_kind: str


class DeviceClassIn(BaseModel):
    """What identifies a device class (the key is derived from these; None when unknown)."""

    model_config = _STRICT

    cpu_model: Text | None = None  # SoC or CPU model: "sm8250", "AMD EPYC 7B13"
    isa: Annotated[str, StringConstraints(max_length=64)] | None = None
    cores: json_int(ge=1, le=4096) | None = None
    max_mhz: json_int(ge=1, le=100_000) | None = None
    os: Annotated[str, StringConstraints(max_length=64)] | None = None  # "android-14", "linux"
    arch: Annotated[str, StringConstraints(max_length=64)] | None = None  # "aarch64"

    def info(self) -> DeviceClassInfo:
        return DeviceClassInfo(self.cpu_model, self.isa, self.cores, self.max_mhz, self.os,
                               self.arch)


class DeviceIn(BaseModel):
    model_config = _STRICT

    serial: Serial  # adb serial, or the host name for the agent's own CPU
    device_class: DeviceClassIn


class RegisterIn(BaseModel):
    model_config = _STRICT

    devices: Annotated[list[DeviceIn], Field(min_length=1, max_length=256)]


class RegisteredDevice(BaseModel):
    serial: str
    device_class: str  # the class key leases and results refer to


class RegisterPublic(BaseModel):
    agent: str  # this agent's identity (its key's id)
    devices: list[RegisteredDevice]


class DeviceStatusIn(BaseModel):
    model_config = _STRICT

    serial: Serial
    online: bool = True
    temperature_c: Annotated[float, Field(ge=-50, le=200, allow_inf_nan=False)] | None = None
    battery_pct: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] | None = None


class HeartbeatIn(BaseModel):
    model_config = _STRICT

    devices: Annotated[list[DeviceStatusIn], Field(max_length=256)]


class HeartbeatPublic(BaseModel):
    online: int  # devices of this agent online now
    unknown: list[str]  # serials never registered (register them first)


class LeaseIn(BaseModel):
    model_config = _STRICT

    max_requests: json_int(ge=1, le=100) = 1
    lease_seconds: Annotated[float, Field(ge=10, le=3600)] = 600
    device_classes: list[Annotated[str, StringConstraints(max_length=128)]] | None = None


class LeasedRequest(BaseModel):
    """One leased request: rebuild the candidate (ONNX, base64) and fuse ``first`` with
    ``second`` (its node indices), ``threads`` OpenMP threads; post before ``lease_expires_at``."""

    id: int
    device_class: str
    signature: str
    codegen_version: int
    threads: int
    ops: str
    shapes: list
    candidate_onnx_b64: str
    first: list[int]
    second: list[int]
    lease_expires_at: datetime

    @staticmethod
    def encode(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")


class LeasePublic(BaseModel):
    requests: list[LeasedRequest]


class ResultIn(BaseModel):
    """Samples of one leased request, per run in µs; ``idempotency_key`` makes a retried post
    add nothing twice. The app's 1 MiB cap on JSON bodies (:mod:`service.bodylimit`) applies:
    about 60,000 samples of ``%.3f`` text in all, fewer than a benchmark of a very fast kernel
    can print (``MAX_RUNS`` 100,000 per side), so an agent caps what it posts."""

    model_config = _STRICT

    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    serial: Serial
    fused_us: Samples
    separate_us: Samples
    cpu: Text = ""
    max_abs_diff: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    temperature_c: Annotated[float, Field(ge=-50, le=200, allow_inf_nan=False)] | None = None
    battery_pct: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] | None = None


class ResultPublic(BaseModel):
    entry_id: int
    request_id: int
    created: bool  # False: a retried post, already stored


class ReleaseIn(BaseModel):
    model_config = _STRICT

    failed: bool = False  # True: the benchmark cannot run here (not retried)
    reason: Text = ""
