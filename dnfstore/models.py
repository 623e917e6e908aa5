"""Database tables (SQLAlchemy 2). The schema itself is created by the Alembic migrations in
``migrations/``; ``Base.metadata`` is what those migrations are checked against."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from dnfstore.base import Base, UTCDateTime, utcnow


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Other users' identical compilations may be answered with this user's results (0005).
    share_cache: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ApiKey(Base):
    """An API key, stored as the sha256 of the token. ``kind`` is ``user`` (the REST API) or
    ``agent`` (device agents: the /agent endpoints only)."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, to tell keys apart
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Model(Base):
    """An uploaded ONNX model; its files live under ``storage_path`` in the storage directory."""

    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("owner_id", "sha256", name="uq_models_owner_sha256"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    upload_format: Mapped[str] = mapped_column(String(16))  # onnx | zip | tar.gz
    storage_path: Mapped[str] = mapped_column(String(1024))  # dir, relative to storage root
    model_file: Mapped[str] = mapped_column(String(1024))  # the .onnx, relative to that dir
    opset: Mapped[int | None] = mapped_column(Integer)
    inputs: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Compilation(Base):
    """A compilation job: queued -> running (with its stage) -> succeeded | failed.

    The compile cache (0005): ``cache_key`` identifies what decides the result (model bytes,
    input shapes, target, options, device class, compiler versions; ``service.compile_cache``);
    ``profile_class``/``profile_fingerprint`` name the profiling data the plan was decided by,
    as it stood when planning began (None: the result may not be reused). A cache hit is a row
    born succeeded with ``cached_from_id`` set: it shares the original's artifact and report
    storage keys (it never owns them; whoever deletes files must first check that no other row
    names the same ``artifact_path``). ``idempotency_key``/``idempotency_hash``: the client's
    ``Idempotency-Key`` header and the sha256 of the request it came with.
    """

    __tablename__ = "compilations"
    __table_args__ = (
        UniqueConstraint("owner_id", "idempotency_key", name="uq_compilations_idempotency"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    model_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("models.id", ondelete="CASCADE"), index=True
    )
    target: Mapped[str] = mapped_column(String(64))
    # Profiling-database class whose measurements decide "profile" fusions (None: the
    # target's default, profiling.device.default_device_class).
    device_class: Mapped[str | None] = mapped_column(String(128))
    input_shapes: Mapped[dict[str, list[int]]] = mapped_column(JSON, default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    stage: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(255))

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stage_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stage_ms: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)

    artifact_path: Mapped[str | None] = mapped_column(String(1024))  # relative to storage root
    artifact_bytes: Mapped[int | None] = mapped_column(BigInteger)
    artifact_sha256: Mapped[str | None] = mapped_column(String(64))
    report_path: Mapped[str | None] = mapped_column(String(1024))

    # Summary numbers from the compiler's report.json.
    original_nodes: Mapped[int | None] = mapped_column(Integer)
    fused_blocks: Mapped[int | None] = mapped_column(Integer)
    max_abs_error: Mapped[float | None] = mapped_column(Float)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    ort_latency_ms: Mapped[float | None] = mapped_column(Float)

    cache_key: Mapped[str | None] = mapped_column(String(64), index=True)
    # No foreign key: the pointer outlives the original row, so a row with it set is never
    # taken for the owner of the files it shares.
    cached_from_id: Mapped[uuid.UUID | None] = mapped_column()
    profile_class: Mapped[str | None] = mapped_column(String(128))
    profile_fingerprint: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    idempotency_hash: Mapped[str | None] = mapped_column(String(64))


# The profiling tables share this metadata (one Alembic history): importing this module
# registers every table, so ``Base.metadata`` here is the whole schema.
import dnfstore.limits_models  # noqa: E402, F401
import dnfstore.profiling_models  # noqa: E402, F401
