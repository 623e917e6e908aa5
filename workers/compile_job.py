"""One compilation job, start to finish; the same function for Celery and the embedded worker.

Idempotent: the job is claimed with a conditional UPDATE (queued -> running), so a duplicate or
redelivered message for a job that is running or finished does nothing. Every write after the
claim is conditional on this attempt still owning the job, so a worker the reaper gave up on
cannot overwrite the outcome of the re-run.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from compiler_core.errors import DnnFusionError
from dnfstore import compilations as crud
from dnfstore import logs
from dnfstore.compile_cache import profile_fingerprint
from dnfstore.db import process_sessionmaker
from dnfstore.models import Compilation, Model
from dnfstore.objectstore import StoreError
from dnfstore.settings import Settings
from dnfstore.storage import Storage, open_storage
from workers.artifacts import read_summary, store_artifact
from workers.compile_step import ProfileUse, run_compiler
from workers.heartbeat import Heartbeat
from workers.model_cache import fetch_model, model_dir

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_compilation(
    compilation_id: uuid.UUID, *, settings: Settings, request_id: str | None = None
) -> str:
    """Run the job if it is queued; returns its final state, or ``skipped``. Every log line of
    the run carries ``job_id``, ``request_id`` (of the request that queued it, when the message
    named one) and ``user_id`` (``dnfstore.logs``)."""
    with logs.log_context(job_id=compilation_id, request_id=request_id):
        return _run_compilation(compilation_id, settings=settings)


def _run_compilation(compilation_id: uuid.UUID, *, settings: Settings) -> str:
    sessions = process_sessionmaker(settings)
    storage = open_storage(settings)
    with sessions() as session:
        attempt = crud.claim_compilation(
            session=session,
            compilation_id=compilation_id,
            worker=worker_name(),
            max_attempts=settings.max_attempts,
        )
        if attempt is None:
            log.info("compilation %s is not queued; skipping", compilation_id)
            return "skipped"
        job = session.get(Compilation, compilation_id)
        model = session.get(Model, job.model_id) if job else None
        if job is None or model is None:  # pragma: no cover - FKs make this impossible
            return "skipped"
        logs.bind(user_id=job.owner_id)
        log.info("compilation started", extra={"attempt": attempt, "target": job.target})
        model_key = model.storage_path
        model_path = model_dir(storage, model_key) / model.model_file
        model_name = model.name
        request = dict(input_shapes=job.input_shapes, target=job.target, options=job.options,
                       device_class=job.device_class)

    def progress(stage: str) -> None:
        with sessions() as s:
            crud.set_stage(
                session=s, compilation_id=compilation_id, attempt=attempt, stage=str(stage)[:32]
            )

    work = storage.work_dir(compilation_id, attempt)

    def fingerprint(device_class: str) -> str:
        with sessions() as s:
            return profile_fingerprint(s, device_class)

    outcome: dict[str, Any]
    try:
        with Heartbeat(sessions, compilation_id, attempt, settings.heartbeat_interval_s):
            outcome = _compile(model_path, model_key, work, compilation_id, storage, settings,
                               progress,
                               {**request, "profile_use": ProfileUse(fingerprint)})
    finally:
        storage.discard(work)
    if outcome.get("error"):
        outcome["error"] = public_error(outcome["error"], model_path=model_path,
                                        model_name=model_name, storage_root=storage.root)
    with sessions() as session:
        written = crud.finish_compilation(
            session=session, compilation_id=compilation_id, attempt=attempt, **outcome
        )
    if not written:
        log.warning(
            "compilation %s attempt %d lost ownership; outcome dropped", compilation_id, attempt
        )
    else:
        log.info("compilation finished", extra={"state": outcome["state"], "attempt": attempt})
    return outcome["state"]


def public_error(text: str, *, model_path: Path, model_name: str, storage_root: Path) -> str:
    """A job's error as it is stored and shown: the stored model's path becomes the name it was
    uploaded under, any other path under the storage root becomes ``<storage>`` (the compiler
    names files in its messages; users must not learn the server's layout)."""
    for path in {model_path, model_path.resolve()}:
        text = text.replace(str(path), model_name)
    for root in {storage_root, storage_root.resolve()}:
        text = text.replace(str(root), "<storage>")
    return text


def _compile(
    model_path: Path,
    model_key: str,
    work: Path,
    compilation_id: uuid.UUID,
    storage: Storage,
    settings: Settings,
    progress,
    request: dict[str, Any],
) -> dict[str, Any]:
    step = "fetching the model"
    try:
        # With S3 the model's objects come to this host's cache first (workers.model_cache).
        fetch_model(storage, model_key, max_bytes=settings.model_cache_max_bytes,
                    in_use_s=settings.compile_time_limit_s)
        step = "compiling"
        artifact_dir = run_compiler(
            model_path,
            output_dir=work / "artifact",
            progress=progress,
            memory_limit_bytes=settings.memory_limit_bytes,
            test_delay_s=settings.test_compile_delay_s,
            database_url=settings.sqlalchemy_url,
            **request,
        )
        progress("storing")
        step = "storing the artifact"
        tarball, report_path, report, size, sha = store_artifact(
            storage, artifact_dir, compilation_id
        )
    except DnnFusionError as err:
        return {"state": "failed", "error": str(err)}
    except StoreError as err:  # the object store failed (S3 unreachable, model gone)
        log.warning("compilation failed: object store: %s", err)
        return {"state": "failed", "error": f"{step} failed: {err}"}
    except SoftTimeLimitExceeded:
        return {
            "state": "failed",
            "error": f"compilation exceeded the time limit of {settings.compile_soft_time_limit_s} s",
        }
    except Exception as err:
        log.exception("compilation failed with an internal error")
        text = " ".join(str(err).split())[:500]
        return {"state": "failed", "error": f"internal error: {type(err).__name__}: {text}"}
    use = request["profile_use"]
    return {
        "state": "succeeded",
        # The compile cache reuses this result while the class's profiling data is unchanged.
        "profile_class": use.device_class,
        "profile_fingerprint": use.profile_fingerprint,
        "artifact_path": tarball,  # keys in the object store
        "report_path": report_path,
        "artifact_bytes": size,
        "artifact_sha256": sha,
        **read_summary(report),
    }
