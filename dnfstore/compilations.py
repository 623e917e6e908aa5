"""Compilation jobs. State changes made by workers are single conditional UPDATEs, so two
workers (or a worker and the reaper) racing on one job cannot both win."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from dnfstore.base import utcnow
from dnfstore.models import Compilation

FINAL_STATES = ("succeeded", "failed")


def create_compilation(
    *,
    session: Session,
    owner_id: uuid.UUID,
    model_id: uuid.UUID,
    target: str,
    input_shapes: dict[str, list[int]],
    options: dict[str, Any],
    device_class: str | None = None,
    cache_key: str | None = None,
    idempotency_key: str | None = None,
    idempotency_hash: str | None = None,
) -> Compilation:
    """Insert and commit a queued job. Raises ``IntegrityError`` when ``idempotency_key`` is
    already taken by this owner (``dnfstore.compile_cache``)."""
    now = utcnow()
    job = Compilation(
        owner_id=owner_id,
        model_id=model_id,
        target=target,
        device_class=device_class,
        input_shapes=input_shapes,
        options=options,
        state="queued",
        created_at=now,
        enqueued_at=now,
        cache_key=cache_key,
        idempotency_key=idempotency_key,
        idempotency_hash=idempotency_hash,
    )
    session.add(job)
    session.commit()
    return job


def get_compilation(
    *, session: Session, owner_id: uuid.UUID, compilation_id: uuid.UUID
) -> Compilation | None:
    return session.scalar(
        select(Compilation).where(
            Compilation.id == compilation_id, Compilation.owner_id == owner_id
        )
    )


def list_compilations(
    *,
    session: Session,
    owner_id: uuid.UUID,
    skip: int,
    limit: int,
    model_id: uuid.UUID | None = None,
    state: str | None = None,
) -> tuple[Sequence[Compilation], int]:
    where = [Compilation.owner_id == owner_id]
    if model_id is not None:
        where.append(Compilation.model_id == model_id)
    if state is not None:
        where.append(Compilation.state == state)
    count = session.scalar(select(func.count()).select_from(Compilation).where(*where)) or 0
    rows = session.scalars(
        select(Compilation)
        .where(*where)
        .order_by(Compilation.created_at.desc(), Compilation.id)
        .offset(skip)
        .limit(limit)
    ).all()
    return rows, count


# ---- worker side -------------------------------------------------------------------------


def claim_compilation(
    *, session: Session, compilation_id: uuid.UUID, worker: str, max_attempts: int
) -> int | None:
    """Move a queued job to running; returns this run's attempt number, or None when the job is
    not queued (already running elsewhere, finished, or unknown) or has used its attempts."""
    now = utcnow()
    result = session.execute(
        update(Compilation)
        .where(
            Compilation.id == compilation_id,
            Compilation.state == "queued",
            Compilation.attempts < max_attempts,
        )
        .values(
            state="running",
            stage=None,
            error=None,
            attempts=Compilation.attempts + 1,
            worker=worker,
            started_at=now,
            heartbeat_at=now,
            stage_started_at=now,
            stage_ms={},
        )
    )
    session.commit()
    if result.rowcount != 1:
        return None
    return session.scalar(select(Compilation.attempts).where(Compilation.id == compilation_id))


def _mine(compilation_id: uuid.UUID, attempt: int) -> list[Any]:
    """The job is still running as this attempt (the reaper has not taken it away)."""
    return [
        Compilation.id == compilation_id,
        Compilation.state == "running",
        Compilation.attempts == attempt,
    ]


def _close_stage(job: Compilation, now) -> dict[str, float]:
    """The job's per-stage times (ms) with the running stage ended at ``now``."""
    stage_ms = dict(job.stage_ms or {})
    if job.stage and job.stage_started_at:
        stage_ms[job.stage] = round((now - job.stage_started_at).total_seconds() * 1000, 3)
    return stage_ms


def _update_closing_stage(
    session: Session,
    compilation_id: uuid.UUID,
    attempt: int,
    stamp: str,
    **values: Any,
) -> bool:
    """End the running stage, set the timestamp column ``stamp`` to now and ``values``, if this
    attempt still owns the job; False otherwise."""
    job = session.scalar(select(Compilation).where(*_mine(compilation_id, attempt)))
    if job is None:
        session.rollback()
        return False
    now = utcnow()
    result = session.execute(
        update(Compilation)
        .where(*_mine(compilation_id, attempt))
        .values(heartbeat_at=now, stage_ms=_close_stage(job, now), **{stamp: now}, **values)
    )
    session.commit()
    return result.rowcount == 1


def set_stage(*, session: Session, compilation_id: uuid.UUID, attempt: int, stage: str) -> bool:
    """Record a new stage and how long the previous one took."""
    return _update_closing_stage(
        session, compilation_id, attempt, "stage_started_at", stage=stage
    )


def beat(*, session: Session, compilation_id: uuid.UUID, attempt: int) -> bool:
    result = session.execute(
        update(Compilation).where(*_mine(compilation_id, attempt)).values(heartbeat_at=utcnow())
    )
    session.commit()
    return result.rowcount == 1


def finish_compilation(
    *, session: Session, compilation_id: uuid.UUID, attempt: int, state: str, **values: Any
) -> bool:
    """Set the final state (and summary/artifact columns) if this attempt still owns the job."""
    if state not in FINAL_STATES:
        raise ValueError(f"not a final state: {state!r}")
    return _update_closing_stage(session, compilation_id, attempt, "finished_at", state=state,
                                 **values)


# ---- reaper side -------------------------------------------------------------------------


def stale_running_ids(*, session: Session, heartbeat_before: datetime, started_before: datetime):
    """Running jobs whose worker stopped beating, or that outlived the hard time limit."""
    return session.scalars(
        select(Compilation.id).where(
            Compilation.state == "running",
            or_(
                Compilation.heartbeat_at < heartbeat_before,
                Compilation.started_at < started_before,
            ),
        )
    ).all()


def requeue_lost(
    *, session: Session, compilation_id: uuid.UUID, heartbeat_before: datetime
) -> bool:
    """Put a running job whose worker is gone back in the queue."""
    now = utcnow()
    result = session.execute(
        update(Compilation)
        .where(
            Compilation.id == compilation_id,
            Compilation.state == "running",
            Compilation.heartbeat_at < heartbeat_before,
        )
        .values(state="queued", stage=None, worker=None, enqueued_at=now)
    )
    session.commit()
    return result.rowcount == 1


def fail_lost(
    *,
    session: Session,
    compilation_id: uuid.UUID,
    expected_attempts: int,
    reason: str,
    state: str = "running",
) -> bool:
    """Mark a ``state`` job (running, or queued with its attempts used up) failed with
    ``reason`` (unless it changed since it was looked at)."""
    result = session.execute(
        update(Compilation)
        .where(
            Compilation.id == compilation_id,
            Compilation.state == state,
            Compilation.attempts == expected_attempts,
        )
        .values(state="failed", error=reason, finished_at=utcnow())
    )
    session.commit()
    return result.rowcount == 1


def unsent_queued_ids(*, session: Session, enqueued_before: datetime):
    """Queued jobs no worker took in time (the broker lost the message, or it was never sent)."""
    return session.scalars(
        select(Compilation.id).where(
            Compilation.state == "queued", Compilation.enqueued_at < enqueued_before
        )
    ).all()


def mark_enqueued(
    *, session: Session, compilation_id: uuid.UUID, enqueued_before: datetime | None = None
) -> bool:
    where = [Compilation.id == compilation_id, Compilation.state == "queued"]
    if enqueued_before is not None:
        where.append(Compilation.enqueued_at < enqueued_before)
    result = session.execute(update(Compilation).where(*where).values(enqueued_at=utcnow()))
    session.commit()
    return result.rowcount == 1
