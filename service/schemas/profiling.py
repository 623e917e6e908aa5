"""``GET /api/v1/profiling/...``: the profiling database, read-only. Latencies in
microseconds (median, p10, p90 of the per-run samples); ``spread`` is (p90 - p10) / median,
the larger of the two sides."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class StructurePublic(BaseModel):
    """A fusion signature without its shapes: the same operators and mapping types."""

    structure_key: str
    ops: str  # e.g. "Conv | Relu"
    mapping: str
    dtype: str
    entries: int
    device_classes: int
    signatures: int  # distinct shape sets


class ClassEntriesPublic(BaseModel):
    key: str
    entries: int


class ProfilingSummaryPublic(BaseModel):
    structures: list[StructurePublic]
    device_classes: list[ClassEntriesPublic]


class EntryPublic(BaseModel):
    id: int
    device_class: str
    signature: str
    shapes: list[Any]
    threads: int
    codegen_version: int
    fused_median_us: float
    fused_p10_us: float
    fused_p90_us: float
    fused_count: int
    separate_median_us: float
    separate_p10_us: float
    separate_p90_us: float
    separate_count: int
    spread: float
    measured_at: datetime


class StructureEntriesPublic(BaseModel):
    structure_key: str
    ops: str
    mapping: str
    entries: list[EntryPublic]  # newest first, at most 1,000
