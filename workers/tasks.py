"""Celery tasks. Explicit names (the service publishes by name), ids as arguments, idempotent."""

from __future__ import annotations

import uuid

from workers.celery_app import celery_app, send_compile, settings
from workers.compile_job import run_compilation
from workers.names import COMPILE_TASK, REAP_TASK
from workers.reaper import reap


@celery_app.task(
    name=COMPILE_TASK,
    acks_late=True,
    soft_time_limit=settings.compile_soft_time_limit_s,
    time_limit=settings.compile_time_limit_s,
)
def compile_task(compilation_id: str, request_id: str | None = None) -> str:
    """Compile one queued job (a job that is not queued is skipped); ``request_id``: of the API
    request that queued it, for the log lines (absent from re-sends by the reaper)."""
    return run_compilation(uuid.UUID(compilation_id), settings=settings, request_id=request_id)


@celery_app.task(name=REAP_TASK, acks_late=True)
def reap_task() -> dict[str, int]:
    """One reaper pass (also run by every worker on its own; this is for beat or by hand)."""
    return reap(settings=settings, enqueue=send_compile)
