"""The compile cache's and ``Idempotency-Key``'s queries (the API looks up, the worker records).

- :func:`profile_fingerprint`: what a device class's profiling data looks like now, as
  ``"<entries>:<newest entry id>"``. The worker records it when planning begins; a cached
  result is reused only while its class's fingerprint is unchanged (an entry added or removed
  may change a "profile" decision, so it changes the fingerprint).
- :func:`cache_candidates`: succeeded compilations with a cache key that the requester may
  reuse (their own, or a user's who shares the cache), newest first.
- :func:`create_cache_hit`: a new row, succeeded at once, naming the same storage keys as
  the compilation it reuses (no file is copied).
- :func:`find_by_idempotency_key`, :func:`release_idempotency_key`: a user's earlier request
  with a key, and freeing that key once it is older than the replay window.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from dnfstore.base import utcnow
from dnfstore.models import Compilation, User
from dnfstore.profiling_models import DeviceClass, ProfileEntry

# The result columns a cache hit copies from the compilation it reuses.
RESULT_COLUMNS = (
    "artifact_path",
    "artifact_bytes",
    "artifact_sha256",
    "report_path",
    "original_nodes",
    "fused_blocks",
    "max_abs_error",
    "latency_ms",
    "ort_latency_ms",
    "profile_class",
    "profile_fingerprint",
)


def profile_fingerprint(session: Session, device_class: str) -> str:
    """``"<count>:<max id>"`` of the profile entries of ``device_class`` (a device-class key;
    ``"0:0"`` when the class is unknown or has none). At most 64 characters."""
    count, newest = session.execute(
        select(func.count(ProfileEntry.id), func.max(ProfileEntry.id))
        .join(DeviceClass, DeviceClass.id == ProfileEntry.device_class_id)
        .where(DeviceClass.key == device_class)
    ).one()
    return f"{int(count or 0)}:{int(newest or 0)}"


def cache_candidates(
    session: Session, *, cache_key: str, owner_id: uuid.UUID, limit: int = 20
) -> Sequence[Compilation]:
    """Succeeded compilations with ``cache_key`` and a recorded profile fingerprint, owned by
    ``owner_id`` or by a user with ``share_cache``; the requester's own first, then newest."""
    mine = Compilation.owner_id == owner_id
    return session.scalars(
        select(Compilation)
        .join(User, User.id == Compilation.owner_id)
        .where(
            Compilation.cache_key == cache_key,
            Compilation.state == "succeeded",
            Compilation.profile_fingerprint.is_not(None),
            Compilation.artifact_path.is_not(None),
            or_(mine, User.share_cache.is_(True)),
        )
        .order_by(mine.desc(), Compilation.finished_at.desc(), Compilation.id)
        .limit(limit)
    ).all()


def create_cache_hit(
    session: Session,
    *,
    source: Compilation,
    owner_id: uuid.UUID,
    model_id: uuid.UUID,
    request: dict[str, Any],
    cache_key: str,
    idempotency_key: str | None = None,
    idempotency_hash: str | None = None,
) -> Compilation:
    """Insert and commit a succeeded compilation answering ``request`` (target, device_class,
    input_shapes, options) with ``source``'s results. ``cached_from_id`` names the compilation
    that actually ran (``source``'s own origin when ``source`` is itself a hit). Raises
    ``IntegrityError`` when ``idempotency_key`` is already taken by this owner."""
    now = utcnow()
    job = Compilation(
        owner_id=owner_id,
        model_id=model_id,
        target=request["target"],
        device_class=request.get("device_class"),
        input_shapes=request.get("input_shapes") or {},
        options=request.get("options") or {},
        state="succeeded",
        attempts=0,
        created_at=now,
        started_at=now,
        finished_at=now,
        stage_ms={},
        cache_key=cache_key,
        cached_from_id=source.cached_from_id or source.id,
        idempotency_key=idempotency_key,
        idempotency_hash=idempotency_hash,
        **{name: getattr(source, name) for name in RESULT_COLUMNS},
    )
    session.add(job)
    session.commit()
    return job


def find_by_idempotency_key(
    session: Session, *, owner_id: uuid.UUID, key: str
) -> Compilation | None:
    return session.scalar(
        select(Compilation).where(
            Compilation.owner_id == owner_id, Compilation.idempotency_key == key
        )
    )


def release_idempotency_key(session: Session, *, compilation_id: uuid.UUID) -> None:
    """Forget the key of an expired request (the compilation itself stays)."""
    session.execute(
        update(Compilation)
        .where(Compilation.id == compilation_id)
        .values(idempotency_key=None, idempotency_hash=None)
    )
    session.commit()
