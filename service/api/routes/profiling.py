"""``/profiling``: the profiling database, read-only (user keys or a dashboard session)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path

from service import profiling_read as read
from service.api.deps import CurrentUser, SessionDep
from service.schemas.common import ErrorPublic
from service.schemas.profiling import (
    ClassEntriesPublic,
    EntryPublic,
    ProfilingSummaryPublic,
    StructureEntriesPublic,
    StructurePublic,
)

router = APIRouter(prefix="/profiling", tags=["profiling"])

StructureKey = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-zA-Z_-]+$")]


@router.get("/signatures", response_model=ProfilingSummaryPublic)
def list_signatures(_: CurrentUser, session: SessionDep) -> ProfilingSummaryPublic:
    """Every measured fusion structure (signature without shapes) with its entry, class and
    shape counts, and the entries per device class."""
    return ProfilingSummaryPublic(
        structures=[StructurePublic(**row._mapping) for row in read.list_structures(
            session=session)],
        device_classes=[ClassEntriesPublic(**row._mapping) for row in read.entries_per_class(
            session=session)],
    )


@router.get("/signatures/{structure_key}", response_model=StructureEntriesPublic,
            responses={404: {"model": ErrorPublic}})
def read_signature(
    structure_key: StructureKey, _: CurrentUser, session: SessionDep
) -> StructureEntriesPublic:
    """The entries of one structure across shapes and device classes: fused vs. separate
    latency (µs), newest first."""
    rows = read.structure_entries(session=session, structure_key=structure_key)
    if not rows:
        raise HTTPException(404, "no profiling entries for this signature")
    first = rows[0][0]
    return StructureEntriesPublic(
        structure_key=structure_key,
        ops=first.ops,
        mapping=first.mapping,
        entries=[
            EntryPublic(
                id=e.id, device_class=key, signature=e.signature, shapes=e.shapes or [],
                threads=e.threads, codegen_version=e.codegen_version,
                fused_median_us=e.fused_median_us, fused_p10_us=e.fused_p10_us,
                fused_p90_us=e.fused_p90_us, fused_count=e.fused_count,
                separate_median_us=e.separate_median_us, separate_p10_us=e.separate_p10_us,
                separate_p90_us=e.separate_p90_us, separate_count=e.separate_count,
                spread=e.spread, measured_at=e.measured_at,
            )
            for e, key in rows
        ],
    )
