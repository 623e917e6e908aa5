from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from dnfstore.models import Compilation
from service.schemas.common import json_int
from service.schemas.compile_options import CompileOptions

MAX_INPUTS = 1024  # input_shapes entries
MAX_RANK = 64
MAX_INPUT_NAME = 1024  # characters

Dim = json_int(ge=0, le=2**31 - 1)
InputName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_INPUT_NAME)]
Shape = Annotated[list[Dim], Field(max_length=MAX_RANK)]


class CompilationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_id: uuid.UUID
    input_shapes: dict[InputName, Shape] = Field(
        default_factory=dict,
        max_length=MAX_INPUTS,
        description="pin input shapes, e.g. {'x': [1, 3, 224, 224]}",
    )
    target: str = Field(
        default="host", max_length=64, description="device class, e.g. host or linux-arm64"
    )
    device_class: str | None = Field(
        default=None,
        max_length=128,
        pattern=r"^[a-z0-9][a-z0-9._-]*$",
        description="profiling-database device class whose measurements decide the "
        "\"profile\" fusions (default: the worker's own class for host, the stated arm64 "
        "default for linux-arm64)",
    )
    options: CompileOptions = Field(
        default_factory=CompileOptions, description="compiler options (unknown names: 422)"
    )
    cache: bool = Field(
        default=True,
        strict=True,
        description="answer with an earlier identical succeeded compilation when there is one "
        "(same model bytes, input shapes, target, options, device class, compiler version and "
        "profiling data; yours, or of a user who shares the cache): a new compilation, "
        "succeeded at once, with cache_hit true; false always compiles",
    )


class CompilationTimings(BaseModel):
    queued_ms: float | None
    run_ms: float | None
    stages_ms: dict[str, float]


class CompilationSummary(BaseModel):
    original_nodes: int | None
    fused_blocks: int | None
    max_abs_error: float | None
    latency_ms: float | None
    ort_latency_ms: float | None


class CompilationPublic(BaseModel):
    id: uuid.UUID
    model_id: uuid.UUID
    target: str
    device_class: str | None = None
    input_shapes: dict[str, list[int]]
    options: dict[str, Any]
    state: Literal["queued", "running", "succeeded", "failed"]
    stage: str | None
    error: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    timings: CompilationTimings
    summary: CompilationSummary
    artifact_bytes: int | None
    artifact_sha256: str | None
    cache_hit: bool = Field(
        default=False, description="true: answered from the compile cache, nothing was compiled"
    )
    cached_from: uuid.UUID | None = Field(
        default=None, description="the compilation whose results a cache hit reuses"
    )

    @classmethod
    def from_row(cls, job: Compilation) -> CompilationPublic:
        def ms(a: datetime | None, b: datetime | None) -> float | None:
            return round((b - a).total_seconds() * 1000, 3) if a and b else None

        return cls(
            id=job.id,
            model_id=job.model_id,
            target=job.target,
            device_class=job.device_class,
            input_shapes=job.input_shapes or {},
            options=job.options or {},
            state=job.state,
            stage=job.stage,
            error=job.error,
            attempts=job.attempts,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            timings=CompilationTimings(
                queued_ms=ms(job.created_at, job.started_at),
                run_ms=ms(job.started_at, job.finished_at),
                stages_ms=job.stage_ms or {},
            ),
            summary=CompilationSummary(
                original_nodes=job.original_nodes,
                fused_blocks=job.fused_blocks,
                max_abs_error=job.max_abs_error,
                latency_ms=job.latency_ms,
                ort_latency_ms=job.ort_latency_ms,
            ),
            artifact_bytes=job.artifact_bytes,
            artifact_sha256=job.artifact_sha256,
            cache_hit=job.cached_from_id is not None,
            cached_from=job.cached_from_id,
        )


class CompilationsPublic(BaseModel):
    data: list[CompilationPublic]
    count: int
