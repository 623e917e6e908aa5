"""Data access for the profiling tables: keyword-only functions taking a session.

Writers commit nothing themselves except where noted; callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

if TYPE_CHECKING:  # the API process reads and writes requests without loading the compiler
    from compiler_core.bench.run import BenchResult
    from compiler_core.bench.signature import FusionSignature

from dnfstore.base import utcnow
from dnfstore.profiling_models import Device, DeviceClass, ProfileEntry, ProfilingRequest
from profiling.candidate import StoredCandidate
from profiling.device import DeviceClassInfo


def get_device_class(session: Session, *, key: str) -> DeviceClass | None:
    return session.scalar(select(DeviceClass).where(DeviceClass.key == key))


def ensure_device_class(
    session: Session, *, key: str, info: DeviceClassInfo | None = None
) -> DeviceClass:
    """The class ``key``, created (with ``info``'s parts when given) if it is new."""
    dc = get_device_class(session, key=key)
    if dc is None:
        dc = DeviceClass(key=key)
        if info is not None:
            dc.cpu_model, dc.isa, dc.cores = info.cpu_model, info.isa, info.cores
            dc.max_mhz, dc.os = info.max_mhz, info.os
        session.add(dc)
        session.flush()
    return dc


def ensure_device(
    session: Session, *, device_class: DeviceClass, serial: str, agent: str | None = None
) -> Device:
    dev = session.scalar(select(Device).where(Device.device_class_id == device_class.id,
                                              Device.serial == serial[:255]))
    if dev is None:
        dev = Device(device_class_id=device_class.id, serial=serial[:255], agent=agent)
        session.add(dev)
    dev.last_seen_at = utcnow()
    session.flush()
    return dev


def _stats(samples: Sequence[float]) -> tuple[float, float, float, int]:
    a = np.asarray(samples, dtype=float)
    p10, med, p90 = np.percentile(a, [10, 50, 90])
    return float(med), float(p10), float(p90), len(a)


def add_entry(
    session: Session,
    *,
    device_class: DeviceClass,
    signature: FusionSignature,
    result: BenchResult,
    device: Device | None = None,
    agent: str | None = None,
    temperature_c: float | None = None,
) -> ProfileEntry:
    """Store one timed benchmark (``result`` must have samples on both sides)."""
    if result.check_only or not result.fused_us or not result.separate_us:
        raise ValueError("a profile entry needs timed samples on both sides")
    if result.signature != signature.key:
        raise ValueError("the benchmark ran a different signature")
    fm, f10, f90, fn = _stats(result.fused_us)
    sm, s10, s90, sn = _stats(result.separate_us)
    entry = ProfileEntry(
        device_class_id=device_class.id,
        device_id=device.id if device is not None else None,
        agent=agent,
        signature=signature.key,
        structure_key=signature.structure_key,
        codegen_version=signature.version,
        threads=signature.threads,
        ops=signature.ops[:2048],
        mapping=signature.mapping[:1024],
        dtype=signature.dtype[:16],
        shapes=[list(s) for s in signature.shapes],
        fused_us=list(result.fused_us),
        separate_us=list(result.separate_us),
        fused_median_us=fm, fused_p10_us=f10, fused_p90_us=f90, fused_count=fn,
        separate_median_us=sm, separate_p10_us=s10, separate_p90_us=s90, separate_count=sn,
        spread=max((f90 - f10) / fm if fm > 0 else 0.0, (s90 - s10) / sm if sm > 0 else 0.0),
        max_abs_diff=result.max_abs_diff,
        cpu=result.cpu[:255] or None,
        temperature_c=temperature_c,
    )
    session.add(entry)
    session.flush()
    # A request for this signature on this class is now answered.
    for req in session.scalars(select(ProfilingRequest).where(
            ProfilingRequest.device_class_id == device_class.id,
            ProfilingRequest.signature == signature.key,
            ProfilingRequest.state != "done")):
        req.state, req.updated_at = "done", utcnow()
    return entry


@dataclass(frozen=True)
class EntrySummary:
    """The columns the planner needs from one entry."""

    id: int
    signature: str
    shapes: list
    fused_median_us: float
    separate_median_us: float


_SUMMARY_COLS = (ProfileEntry.id, ProfileEntry.signature, ProfileEntry.shapes,
                 ProfileEntry.fused_median_us, ProfileEntry.separate_median_us)


def latest_entries(
    session: Session, *, device_class_id: int, signatures: Iterable[str], version: int
) -> dict[str, EntrySummary]:
    """The newest entry of each signature (one query per 500 signatures)."""
    sigs = list(dict.fromkeys(signatures))
    out: dict[str, EntrySummary] = {}
    for k in range(0, len(sigs), 500):
        rows = session.execute(
            select(*_SUMMARY_COLS).where(
                ProfileEntry.device_class_id == device_class_id,
                ProfileEntry.codegen_version == version,
                ProfileEntry.signature.in_(sigs[k:k + 500]),
            ).order_by(ProfileEntry.id)
        )
        for row in rows:
            out[row.signature] = EntrySummary(*row)  # later ids win
    return out


def entries_of_structure(
    session: Session, *, device_class_id: int, structure_key: str, version: int
) -> list[EntrySummary]:
    """Every entry with this structure (any shapes), newest last."""
    rows = session.execute(
        select(*_SUMMARY_COLS).where(
            ProfileEntry.device_class_id == device_class_id,
            ProfileEntry.codegen_version == version,
            ProfileEntry.structure_key == structure_key,
        ).order_by(ProfileEntry.id)
    )
    return [EntrySummary(*row) for row in rows]


def record_requests(
    session: Session,
    *,
    device_class: DeviceClass,
    signatures: Iterable[FusionSignature],
    candidates: Mapping[str, StoredCandidate | None] | None = None,
) -> int:
    """Add a pending request per signature (or count one more wish on an open one); returns
    how many requests were new. ``candidates`` (by signature key) makes a request executable
    by an agent (:mod:`profiling.executable`); an open request without one gets it."""
    candidates = candidates or {}
    sigs = {s.key: s for s in signatures}
    if not sigs:
        return 0
    existing = {
        r.signature: r for r in session.scalars(select(ProfilingRequest).where(
            ProfilingRequest.device_class_id == device_class.id,
            ProfilingRequest.signature.in_(list(sigs))))
    }
    new = 0
    now = utcnow()
    for key, s in sigs.items():
        req = existing.get(key)
        if req is not None:
            req.times_wanted += 1
            req.updated_at = now
            if req.state == "failed":
                req.state = "pending"
            if req.candidate is None and candidates.get(key) is not None:
                _set_candidate(req, candidates[key])
            continue
        req = ProfilingRequest(
            device_class_id=device_class.id, signature=key, structure_key=s.structure_key,
            codegen_version=s.version, threads=s.threads, ops=s.ops[:2048],
            mapping=s.mapping[:1024], dtype=s.dtype[:16], shapes=[list(x) for x in s.shapes],
            state="pending", times_wanted=1, created_at=now, updated_at=now)
        if candidates.get(key) is not None:
            _set_candidate(req, candidates[key])
        session.add(req)
        new += 1
    session.flush()
    return new


def _set_candidate(req: ProfilingRequest, c: StoredCandidate) -> None:
    req.candidate, req.candidate_first, req.candidate_second = c.model, c.first, c.second


def request_candidate(req: ProfilingRequest) -> StoredCandidate | None:
    """The stored candidate of a request, None when it has none."""
    if req.candidate is None or req.candidate_first is None or req.candidate_second is None:
        return None
    return StoredCandidate(bytes(req.candidate), list(req.candidate_first),
                           list(req.candidate_second))


@dataclass(frozen=True)
class ClassSummary:
    key: str
    cpu_model: str | None
    entries: int
    signatures: int
    versions: list[int]
    pending_requests: int
    last_measured: str | None


def summary(session: Session) -> list[ClassSummary]:
    """Per device class: entries, distinct signatures, codegen versions, open requests."""
    out = []
    for dc in session.scalars(select(DeviceClass).order_by(DeviceClass.key)):
        n, sigs, last = session.execute(
            select(func.count(ProfileEntry.id), func.count(ProfileEntry.signature.distinct()),
                   func.max(ProfileEntry.measured_at))
            .where(ProfileEntry.device_class_id == dc.id)).one()
        versions = sorted(session.scalars(
            select(ProfileEntry.codegen_version).distinct()
            .where(ProfileEntry.device_class_id == dc.id)))
        pending = session.scalar(select(func.count(ProfilingRequest.id)).where(
            ProfilingRequest.device_class_id == dc.id,
            ProfilingRequest.state.in_(("pending", "leased")))) or 0
        out.append(ClassSummary(dc.key, dc.cpu_model, int(n), int(sigs), versions, int(pending),
                                last.isoformat(timespec="seconds") if last else None))
    return out
