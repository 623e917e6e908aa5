"""The in-process worker of ``dnnfusion serve`` (no Redis, no separate process).

A thread pool runs the very function the Celery task runs (``run_compilation``), so the job
states, stages, heartbeats and artifacts are the same in both modes. Celery's
``task_always_eager`` was not used: it runs the task inside the request that enqueues it, so
``POST /compilations`` would block until the compilation ended instead of answering 202.

As the only worker of its database, it treats every job found ``running`` or ``queued`` at
start-up as orphaned by the previous process: re-run (within ``max_attempts``) or failed.
Time limits are not enforced on threads; the reaper still fails a job that outlives the hard
limit, and the thread's late result is then ignored.
"""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor

from dnfstore import logs
from dnfstore.base import utcnow
from dnfstore.settings import Settings
from workers.compile_job import run_compilation
from workers.reaper import ReaperThread, reap

log = logging.getLogger(__name__)


class EmbeddedWorker:
    """A ``service.dispatch.Dispatcher`` that runs jobs in this process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool: ThreadPoolExecutor | None = None
        self._reaper: ReaperThread | None = None

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=self.settings.embedded_workers, thread_name_prefix="dnnfusion-compile"
        )
        now = utcnow()
        reap(
            settings=self.settings,
            enqueue=self.enqueue_compilation,
            lost_before=now,
            resend_before=now,
        )
        self._reaper = ReaperThread(self.settings, self.enqueue_compilation)
        self._reaper.start()

    def stop(self) -> None:
        if self._reaper is not None:
            self._reaper.stop()
        if self._pool is not None:
            # Jobs not started stay queued in the database and are resubmitted on next start;
            # running ones finish (the interpreter would wait for their threads anyway).
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def enqueue_compilation(self, compilation_id: uuid.UUID) -> bool:
        if self._pool is None:
            return False
        # The pool's threads do not inherit the caller's context: pass the request id along.
        self._pool.submit(self._run, compilation_id, logs.current("request_id"))
        return True

    def _run(self, compilation_id: uuid.UUID, request_id: str | None = None) -> None:
        try:
            run_compilation(compilation_id, settings=self.settings, request_id=request_id)
        except Exception:
            log.exception("embedded compilation %s crashed", compilation_id)
