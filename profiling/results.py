"""Storing an agent's measurement of a leased profiling request, idempotently.

An agent posts the samples of one request with an idempotency key of its choosing. The key is
stored with the entry (scoped to the agent: ``<owner>:<key>``, unique), so a post retried after
a lost answer finds its entry and adds nothing. Concurrent posts for one request are ordered by
a write to the request's row first (its row lock on PostgreSQL, the database write lock on
SQLite): the second finds the first's entry; the unique key is the last guard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dnfstore.base import utcnow
from dnfstore.profiling_models import Device, ProfileEntry, ProfilingRequest
from profiling.queries import _stats


class ResultRefused(Exception):
    """The post does not fit the request (``status``: the HTTP status it deserves)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Samples:
    """Per-run samples in µs of each side, and what the run saw."""

    fused_us: Sequence[float]
    separate_us: Sequence[float]
    cpu: str = ""
    max_abs_diff: float | None = None
    temperature_c: float | None = None
    battery_pct: float | None = None


def scoped_key(owner: str, key: str) -> str:
    return f"{owner}:{key}"[:128]


def find_posted(session: Session, *, owner: str, key: str) -> ProfileEntry | None:
    return session.scalar(select(ProfileEntry).where(
        ProfileEntry.idempotency_key == scoped_key(owner, key)))


def store_result(
    session: Session,
    *,
    owner: str,
    request_id: int,
    serial: str,
    key: str,
    samples: Samples,
) -> tuple[ProfileEntry, bool]:
    """Store ``samples`` for request ``request_id`` leased by ``owner``, measured on its
    device ``serial``; returns (entry, created). A key already used for this request returns
    its entry with ``created`` False. Raises :class:`ResultRefused` (404 unknown request,
    409 not leased by ``owner`` or key reused for another request, 422 unknown device).
    The caller commits."""
    # Write first: the request's row lock (PostgreSQL) or the write lock (SQLite) orders
    # concurrent posts, and each then sees what the one before it committed.
    touched = session.execute(
        update(ProfilingRequest).where(ProfilingRequest.id == request_id)
        .values(updated_at=utcnow()).execution_options(synchronize_session=False))
    done = find_posted(session, owner=owner, key=key)
    if done is not None:
        if done.request_id != request_id:
            raise ResultRefused(409, "idempotency key already used for another request")
        return done, False
    if touched.rowcount != 1:
        raise ResultRefused(404, f"no profiling request {request_id}")
    req = session.get(ProfilingRequest, request_id, populate_existing=True)
    if req.state != "leased" or req.lease_owner != owner:
        raise ResultRefused(409, f"profiling request {request_id} is not leased by this agent")
    dev = session.scalar(select(Device).where(Device.device_class_id == req.device_class_id,
                                              Device.serial == serial, Device.agent == owner))
    if dev is None:
        raise ResultRefused(422, f"device {serial[:80]!r} is not a registered device of this "
                            "agent in the request's device class")
    fm, f10, f90, fn = _stats(samples.fused_us)
    sm, s10, s90, sn = _stats(samples.separate_us)
    entry = ProfileEntry(
        device_class_id=req.device_class_id, device_id=dev.id, agent=owner,
        signature=req.signature, structure_key=req.structure_key,
        codegen_version=req.codegen_version, threads=req.threads, ops=req.ops,
        mapping=req.mapping, dtype=req.dtype, shapes=req.shapes,
        fused_us=[float(x) for x in samples.fused_us],
        separate_us=[float(x) for x in samples.separate_us],
        fused_median_us=fm, fused_p10_us=f10, fused_p90_us=f90, fused_count=fn,
        separate_median_us=sm, separate_p10_us=s10, separate_p90_us=s90, separate_count=sn,
        spread=max((f90 - f10) / fm if fm > 0 else 0.0, (s90 - s10) / sm if sm > 0 else 0.0),
        max_abs_diff=samples.max_abs_diff, cpu=samples.cpu[:255] or None,
        temperature_c=samples.temperature_c, battery_pct=samples.battery_pct, request_id=req.id,
        idempotency_key=scoped_key(owner, key),
    )
    session.add(entry)
    req.state, req.lease_owner, req.lease_expires_at, req.updated_at = "done", None, None, utcnow()
    session.flush()
    return entry, True
