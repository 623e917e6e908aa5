"""Leasing profiling requests to device agents.

A request is *available* when it is ``pending``, or ``leased`` with its lease expired (the
agent died: the work returns to the queue), and it carries its candidate (the agent cannot run
it otherwise). :func:`lease_requests` takes up to ``n`` available requests of the given classes
in ONE statement::

    UPDATE profiling_requests SET state='leased', lease_owner=..., lease_expires_at=...
    WHERE id IN (SELECT id ... available ... ORDER BY times_wanted DESC, id LIMIT n
                 FOR UPDATE SKIP LOCKED)
      AND <available>            -- re-checked on the row the UPDATE locks
    RETURNING id

On PostgreSQL two concurrent leasers skip each other's locked rows, and the outer condition is
re-evaluated on the locked row (READ COMMITTED), so a row taken meanwhile is not taken twice.
On SQLite (no ``FOR UPDATE``) the statement is one write: SQLite runs writers one at a time,
and the second sees the first's rows as leased. Either way, two agents never hold one request.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from dnfstore.base import utcnow
from dnfstore.profiling_models import ProfilingRequest as R

MAX_LEASE_S = 3600.0


def available(now: datetime):
    """SQL condition: a request an agent may lease at ``now``."""
    return and_(
        R.candidate.is_not(None),
        or_(R.state == "pending", and_(R.state == "leased", R.lease_expires_at < now)),
    )


def lease_requests(
    session: Session,
    *,
    owner: str,
    class_ids: Sequence[int],
    n: int,
    seconds: float,
    now: datetime | None = None,
) -> list[R]:
    """Lease up to ``n`` requests of ``class_ids`` to ``owner`` for ``seconds`` (most wanted
    first). The caller commits. Returns the leased rows."""
    if not class_ids or n <= 0:
        return []
    now = now or utcnow()
    expires = now + timedelta(seconds=min(float(seconds), MAX_LEASE_S))
    sub = (select(R.id).where(R.device_class_id.in_(list(class_ids)), available(now))
           .order_by(R.times_wanted.desc(), R.id).limit(n)
           .with_for_update(skip_locked=True))
    ids = list(session.scalars(
        update(R).where(R.id.in_(sub.scalar_subquery()), available(now))
        .values(state="leased", lease_owner=owner, lease_expires_at=expires, updated_at=now)
        .returning(R.id)
        .execution_options(synchronize_session=False)))
    if not ids:
        return []
    return list(session.scalars(select(R).where(R.id.in_(ids)).order_by(R.id)
                                .execution_options(populate_existing=True)))


def release_request(session: Session, *, owner: str, request_id: int, failed: bool) -> bool:
    """Give a lease back (``pending`` again, or ``failed`` when the benchmark cannot run).
    Returns False when ``owner`` does not hold that lease."""
    res = session.execute(
        update(R).where(R.id == request_id, R.state == "leased", R.lease_owner == owner)
        .values(state="failed" if failed else "pending", lease_owner=None,
                lease_expires_at=None, updated_at=utcnow())
        .execution_options(synchronize_session=False))
    return res.rowcount == 1


def queue_lengths(session: Session, *, now: datetime | None = None) -> dict[int, int]:
    """Available requests per device class id."""
    now = now or utcnow()
    rows = session.execute(select(R.device_class_id, func.count(R.id))
                           .where(available(now)).group_by(R.device_class_id))
    return {cid: int(n) for cid, n in rows}
