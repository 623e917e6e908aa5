"""Profiling tables, declared on ``dnfstore.base.Base`` so the service's Alembic history
(``migrations/versions/0002_profiling.py``) creates them.

- ``device_classes``: devices that give the same numbers: a stable ``key`` derived from the
  CPU (or SoC) model, ISA level, core count, maximum frequency and OS
  (:func:`profiling.device.host_device_class`), and those parts.
- ``devices``: one machine or phone of a class (``serial``), and the agent that runs it.
- ``profile_entries``: one fused-vs-separate micro-benchmark on one device: the fusion
  signature (hash, structure hash, readable parts), per-run samples in microseconds and their
  median, p10, p90, count and spread ((p90 - p10) / median, the larger of the two sides).
- ``profiling_requests``: a signature the planner wanted on a class and did not find, for the
  device farm: state ``pending`` -> ``leased`` (``lease_owner`` until ``lease_expires_at``)
  -> ``done`` | ``failed``.

Indexes follow the planner's lookups: (class, signature, codegen version) for exact hits,
(class, structure key, codegen version) for the nearest shapes, (class, state) for the farm.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from dnfstore.base import Base, UTCDateTime, utcnow


class DeviceClass(Base):
    __tablename__ = "device_classes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    cpu_model: Mapped[str | None] = mapped_column(String(255))
    isa: Mapped[str | None] = mapped_column(String(64))  # x86-64-v4, armv8.2-a+dotprod...
    cores: Mapped[int | None] = mapped_column(Integer)
    max_mhz: Mapped[int | None] = mapped_column(Integer)
    os: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("device_class_id", "serial", name="uq_devices_serial"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_class_id: Mapped[int] = mapped_column(
        ForeignKey("device_classes.id", ondelete="CASCADE"), index=True
    )
    serial: Mapped[str] = mapped_column(String(255))  # host name, adb serial...
    agent: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # From the agent's heartbeats (0003): online now, °C and battery percent when known.
    online: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    temperature_c: Mapped[float | None] = mapped_column(Float)
    battery_pct: Mapped[float | None] = mapped_column(Float)


class FusionSignatureColumns:
    """The columns an entry and a request share: the device class and the fusion signature
    (``compiler_core.bench.signature``: hash, shape-free structure hash, code-generator version,
    threads, and the readable parts: ops, mapping types, dtype, shapes)."""

    device_class_id: Mapped[int] = mapped_column(
        ForeignKey("device_classes.id", ondelete="CASCADE")
    )
    signature: Mapped[str] = mapped_column(String(64))
    structure_key: Mapped[str] = mapped_column(String(64))
    codegen_version: Mapped[int] = mapped_column(Integer)
    threads: Mapped[int] = mapped_column(Integer)
    ops: Mapped[str] = mapped_column(String(2048))
    mapping: Mapped[str] = mapped_column(String(1024))
    dtype: Mapped[str] = mapped_column(String(16))
    shapes: Mapped[list[Any]] = mapped_column(JSON, default=list)


class ProfileEntry(FusionSignatureColumns, Base):
    __tablename__ = "profile_entries"
    __table_args__ = (
        Index("ix_profile_entries_exact", "device_class_id", "signature", "codegen_version"),
        Index("ix_profile_entries_nearest", "device_class_id", "structure_key",
              "codegen_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    agent: Mapped[str | None] = mapped_column(String(255))
    fused_us: Mapped[list[float]] = mapped_column(JSON, default=list)  # per-run samples
    separate_us: Mapped[list[float]] = mapped_column(JSON, default=list)
    fused_median_us: Mapped[float] = mapped_column(Float)
    fused_p10_us: Mapped[float] = mapped_column(Float)
    fused_p90_us: Mapped[float] = mapped_column(Float)
    fused_count: Mapped[int] = mapped_column(Integer)
    separate_median_us: Mapped[float] = mapped_column(Float)
    separate_p10_us: Mapped[float] = mapped_column(Float)
    separate_p90_us: Mapped[float] = mapped_column(Float)
    separate_count: Mapped[int] = mapped_column(Integer)
    spread: Mapped[float] = mapped_column(Float)
    max_abs_diff: Mapped[float | None] = mapped_column(Float)
    cpu: Mapped[str | None] = mapped_column(String(255))  # what the benchmark itself read
    temperature_c: Mapped[float | None] = mapped_column(Float)
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Posted by a device agent (0003): the request it answers, and the post's idempotency
    # key (a retried post finds its entry instead of adding a second one).
    request_id: Mapped[int | None] = mapped_column(Integer)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    # The device's battery level (percent) when the agent started the run (0004).
    battery_pct: Mapped[float | None] = mapped_column(Float)


class ProfilingRequest(FusionSignatureColumns, Base):
    __tablename__ = "profiling_requests"
    __table_args__ = (
        UniqueConstraint("device_class_id", "signature", name="uq_profiling_requests_signature"),
        Index("ix_profiling_requests_state", "device_class_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    times_wanted: Mapped[int] = mapped_column(Integer, default=1)
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What an agent needs to rebuild the benchmark (0003): the candidate sub-model
    # (compiler_core.bench.candidate, serialized ONNX) and its node indices of each side.
    # None when the candidate could not be extracted (the request is then not executable).
    candidate: Mapped[bytes | None] = mapped_column(LargeBinary)
    candidate_first: Mapped[list[int] | None] = mapped_column(JSON)
    candidate_second: Mapped[list[int] | None] = mapped_column(JSON)
