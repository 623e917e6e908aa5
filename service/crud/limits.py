"""Per-user limits and what counts against them (``dnfstore.limits_models.UserLimits``).

What counts, per user:

* concurrent compilations: their jobs in state ``queued`` or ``running``;
* stored bytes: ``size_bytes`` of their models plus ``artifact_bytes`` of the jobs that own their
  artifact. A compile-cache hit (a row with ``cached_from_id`` set) shares an earlier job's
  artifact (maybe another user's) and never owns it, so it costs nothing;
* uploads per minute: their models created in the last 60 s.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dnfstore.base import utcnow
from dnfstore.limits_models import UserLimits
from dnfstore.models import Compilation, Model
from dnfstore.settings import Settings

ACTIVE_STATES = ("queued", "running")
UPLOAD_WINDOW = timedelta(seconds=60)
FIELDS = ("max_concurrent_compilations", "max_stored_bytes", "max_uploads_per_minute")


@dataclass(frozen=True)
class Limits:
    """A user's limits in force: each the user's own value or the server default.
    ``custom``: the names of the fields the user has an own value for."""

    max_concurrent_compilations: int
    max_stored_bytes: int  # bytes
    max_uploads_per_minute: int
    custom: frozenset[str]


@dataclass(frozen=True)
class Usage:
    """What counts against the limits now: jobs queued or running, stored bytes, uploads in
    the last 60 s."""

    concurrent_compilations: int
    stored_bytes: int
    uploads_last_minute: int


def own_limits(session: Session, user_id: uuid.UUID) -> UserLimits | None:
    """The user's ``user_limits`` row as the database has it now (no cached copy)."""
    return session.scalar(
        select(UserLimits).where(UserLimits.user_id == user_id).execution_options(
            populate_existing=True
        )
    )


def limits_for(session: Session, settings: Settings, user_id: uuid.UUID) -> Limits:
    row = own_limits(session, user_id)
    values = {f: getattr(row, f) if row is not None else None for f in FIELDS}
    return Limits(
        **{f: v if v is not None else getattr(settings, f"default_{f}") for f, v in values.items()},
        custom=frozenset(f for f, v in values.items() if v is not None),
    )


def set_limits(
    session: Session, user_id: uuid.UUID, values: dict[str, int | None], *, reset: bool = False
) -> None:
    """Store the user's own values (``None``: back to the server default; a field not in
    ``values`` is kept unless ``reset``) and commit. Raises ``KeyError`` for an unknown field."""
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise KeyError(f"unknown limit {sorted(unknown)[0]!r}")
    row = own_limits(session, user_id)
    if row is None:
        row = UserLimits(user_id=user_id)
        session.add(row)
    for name in FIELDS:
        if name in values:
            setattr(row, name, values[name])
        elif reset:
            setattr(row, name, None)
    session.commit()


def active_compilations(session: Session, user_id: uuid.UUID) -> int:
    return session.scalar(
        select(func.count())
        .select_from(Compilation)
        .where(Compilation.owner_id == user_id, Compilation.state.in_(ACTIVE_STATES))
    ) or 0


def stored_bytes(session: Session, user_id: uuid.UUID) -> int:
    """Model bytes plus owned artifact bytes (see the module docstring)."""
    models = session.scalar(
        select(func.coalesce(func.sum(Model.size_bytes), 0)).where(Model.owner_id == user_id)
    ) or 0
    artifacts = session.scalar(
        select(func.coalesce(func.sum(Compilation.artifact_bytes), 0)).where(
            Compilation.owner_id == user_id,
            Compilation.artifact_bytes.is_not(None),
            Compilation.cached_from_id.is_(None),  # a cache hit shares, never owns, its files
        )
    )
    return int(models) + int(artifacts or 0)


def recent_uploads(session: Session, user_id: uuid.UUID, now: datetime) -> list[datetime]:
    """Creation times of the user's models in the 60 s before ``now``, oldest first."""
    return list(
        session.scalars(
            select(Model.created_at)
            .where(Model.owner_id == user_id, Model.created_at > now - UPLOAD_WINDOW)
            .order_by(Model.created_at)
        )
    )


def usage_of(session: Session, user_id: uuid.UUID) -> Usage:
    return Usage(
        concurrent_compilations=active_compilations(session, user_id),
        stored_bytes=stored_bytes(session, user_id),
        uploads_last_minute=len(recent_uploads(session, user_id, utcnow())),
    )


def recent_run_seconds(session: Session, user_id: uuid.UUID, last: int = 20) -> list[float]:
    """How long the user's last ``last`` finished jobs ran (started to finished), in seconds."""
    rows = session.execute(
        select(Compilation.started_at, Compilation.finished_at)
        .where(
            Compilation.owner_id == user_id,
            Compilation.started_at.is_not(None),
            Compilation.finished_at.is_not(None),
        )
        .order_by(Compilation.finished_at.desc())
        .limit(last)
    ).all()
    return [(done - start).total_seconds() for start, done in rows]


def oldest_running_start(session: Session, user_id: uuid.UUID) -> datetime | None:
    return session.scalar(
        select(func.min(Compilation.started_at)).where(
            Compilation.owner_id == user_id, Compilation.state == "running"
        )
    )
