"""No job stays ``running`` or ``queued`` forever.

* A ``running`` job whose heartbeat is older than ``heartbeat_timeout_s`` lost its worker (killed,
  OOM, machine gone): it is queued again and re-sent while it has attempts left
  (``max_attempts``, counting the first run), otherwise marked ``failed`` with the reason. A
  model whose code crashes does not take its worker with it (the compiler runs artifacts in a
  sandboxed child process, and that job simply fails), so this is for what kills the worker
  itself, e.g. the OOM killer; such a job runs at most ``max_attempts`` times.
* A ``running`` job older than the hard time limit is marked ``failed`` (time limit).
* A ``queued`` job that no worker took for ``requeue_queued_after_s`` (a publish that failed, a
  broker that lost the message) is sent again; the task is idempotent, so a duplicate is harmless.
  One whose attempts are used up (``max_attempts`` lowered meanwhile) is failed instead: no
  worker would claim it.

Every worker runs ``reap`` once at start-up and then every ``reaper_interval_s``; the updates are
conditional, so any number of reapers can run at once.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from dnfstore import compilations as crud
from dnfstore import logs
from dnfstore.base import utcnow
from dnfstore.db import process_sessionmaker
from dnfstore.models import Compilation
from dnfstore.settings import Settings

log = logging.getLogger(__name__)


def reap(
    *,
    settings: Settings,
    enqueue: Callable[[uuid.UUID], bool],
    lost_before: datetime | None = None,
    resend_before: datetime | None = None,
) -> dict[str, int]:
    """One pass; returns how many jobs were requeued, failed and re-sent.

    ``lost_before`` / ``resend_before`` override the heartbeat and queue cut-offs (the embedded
    worker, the only worker of its database, passes "now": whatever was running or queued when
    the process started is an orphan).
    """
    sessions = process_sessionmaker(settings)
    now = utcnow()
    heartbeat_before = lost_before or now - timedelta(seconds=settings.heartbeat_timeout_s)
    limit_s = settings.compile_time_limit_s
    started_before = now - timedelta(seconds=limit_s + settings.heartbeat_timeout_s)
    queued_before = resend_before or now - timedelta(seconds=settings.requeue_queued_after_s)
    counts = {"requeued": 0, "failed": 0, "resent": 0}

    with sessions() as session:
        stale = crud.stale_running_ids(
            session=session, heartbeat_before=heartbeat_before, started_before=started_before
        )
    near_limit = timedelta(seconds=limit_s - 2 * settings.heartbeat_interval_s)
    for cid in stale:
        with sessions() as session:
            job = session.get(Compilation, cid)
            if job is None or job.state != "running":
                continue
            last_beat = job.heartbeat_at or job.started_at
            # Beating until (nearly) the hard limit, then silent: the limit killed it.
            hit_limit = job.started_at is not None and (
                job.started_at < started_before
                or (last_beat is not None and last_beat - job.started_at >= near_limit)
            )
            if hit_limit:
                reason = f"compilation exceeded the hard time limit of {limit_s} s"
            elif job.attempts < settings.max_attempts:
                if crud.requeue_lost(
                    session=session, compilation_id=cid, heartbeat_before=heartbeat_before
                ):
                    with logs.log_context(job_id=cid):
                        log.warning("compilation %s lost its worker; re-running it", cid)
                    counts["requeued"] += 1
                    enqueue(cid)
                continue
            else:
                # Each attempt's worker died (killed, out of memory, crashed): no more re-runs.
                reason = (
                    f"worker lost during stage '{job.stage or 'start'}' (no heartbeat: the "
                    f"worker was killed, ran out of memory or crashed); gave up after "
                    f"{job.attempts} attempt(s)"
                )
            if crud.fail_lost(
                session=session, compilation_id=cid, expected_attempts=job.attempts, reason=reason
            ):
                with logs.log_context(job_id=cid):
                    log.warning("compilation %s failed: %s", cid, reason)
                counts["failed"] += 1

    with sessions() as session:
        unsent = crud.unsent_queued_ids(session=session, enqueued_before=queued_before)
    for cid in unsent:
        with sessions() as session:
            job = session.get(Compilation, cid)
            if job is not None and job.attempts >= settings.max_attempts:
                # No worker may claim it (max_attempts was lowered since it was queued):
                # re-sending it would go on forever.
                reason = (f"gave up after {job.attempts} attempt(s) "
                          f"(max_attempts is {settings.max_attempts})")
                if crud.fail_lost(session=session, compilation_id=cid,
                                  expected_attempts=job.attempts, reason=reason, state="queued"):
                    counts["failed"] += 1
                continue
            if crud.mark_enqueued(
                session=session, compilation_id=cid, enqueued_before=queued_before
            ):
                counts["resent"] += 1
                enqueue(cid)
    if any(counts.values()):
        log.info("reaper: %s", counts)
    return counts


class ReaperThread:
    """Runs :func:`reap` every ``settings.reaper_interval_s`` in a daemon thread."""

    def __init__(self, settings: Settings, enqueue: Callable[[uuid.UUID], bool]) -> None:
        self.settings = settings
        self.enqueue = enqueue
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dnnfusion-reaper", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.settings.reaper_interval_s):
            try:
                reap(settings=self.settings, enqueue=self.enqueue)
            except Exception:
                log.exception("reaper pass failed")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
