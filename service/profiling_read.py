"""Read-only views of the profiling database for the dashboard and scripts: fusion signatures
(grouped by their shape-free structure), their entries across shapes and device classes, and
entry counts per device class. Keyword-only functions taking a session; nothing is written."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dnfstore.profiling_models import DeviceClass, ProfileEntry

MAX_ENTRIES = 1000  # entries of one structure returned at most (newest first)


def list_structures(*, session: Session) -> Sequence[Any]:
    """One row per structure key: ``structure_key, ops, mapping, dtype, entries,
    device_classes, shapes`` (distinct signatures), most entries first."""
    return session.execute(
        select(
            ProfileEntry.structure_key,
            func.min(ProfileEntry.ops).label("ops"),
            func.min(ProfileEntry.mapping).label("mapping"),
            func.min(ProfileEntry.dtype).label("dtype"),
            func.count().label("entries"),
            func.count(func.distinct(ProfileEntry.device_class_id)).label("device_classes"),
            func.count(func.distinct(ProfileEntry.signature)).label("signatures"),
        )
        .group_by(ProfileEntry.structure_key)
        .order_by(func.count().desc(), ProfileEntry.structure_key)
    ).all()


def entries_per_class(*, session: Session) -> Sequence[Any]:
    """``key, entries`` for every device class (0 for a class with none), by key."""
    return session.execute(
        select(DeviceClass.key, func.count(ProfileEntry.id).label("entries"))
        .outerjoin(ProfileEntry, ProfileEntry.device_class_id == DeviceClass.id)
        .group_by(DeviceClass.key)
        .order_by(DeviceClass.key)
    ).all()


def structure_entries(
    *, session: Session, structure_key: str
) -> Sequence[Any]:
    """The entries of one structure with their device class key, newest first (at most
    :data:`MAX_ENTRIES`)."""
    return session.execute(
        select(ProfileEntry, DeviceClass.key)
        .join(DeviceClass, DeviceClass.id == ProfileEntry.device_class_id)
        .where(ProfileEntry.structure_key == structure_key)
        .order_by(ProfileEntry.measured_at.desc(), ProfileEntry.id.desc())
        .limit(MAX_ENTRIES)
    ).all()
