"""Handing a compilation to a worker, by task name only (of the workers the service imports only
``workers/names.py``, the task names).

``CeleryDispatcher`` publishes ``dnnfusion.compile(<id>, request_id=<the current request's
id>)`` to Redis (the request id from ``dnfstore.logs``'s context). The embedded mode of
``dnnfusion serve`` passes its own dispatcher (``workers.embedded.EmbeddedWorker``) to
``create_app``. Callers enqueue only after the job row is committed; a publish that fails leaves
the job ``queued`` and the workers' reaper sends it again later.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Protocol

from dnfstore import logs
from dnfstore.settings import Settings
from workers.names import COMPILE_TASK

log = logging.getLogger(__name__)


class Dispatcher(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...

    def enqueue_compilation(self, compilation_id: uuid.UUID) -> bool:
        """Send the job to a worker; False if it could not be sent (the reaper retries)."""
        ...


class CeleryDispatcher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._app = None
        # Request threads enqueue concurrently, and Celery's lazy set-up (module, app, producer
        # pool) is not safe to run from several threads at once: the client is built once and
        # publishes are serialized under this lock (a publish takes about a millisecond).
        self._lock = threading.Lock()

    def _celery(self):
        if self._app is None:
            from celery import Celery

            app = Celery("dnnfusion-api", broker=self.settings.redis_url, set_as_current=False)
            app.conf.broker_connection_retry_on_startup = True
            app.conf.broker_transport_options = {
                "visibility_timeout": self.settings.visibility_timeout_s
            }
            self._app = app
        return self._app

    def start(self) -> None:
        with self._lock:
            self._celery()  # at start-up, before any request thread needs it

    def stop(self) -> None:
        if self._app is not None:
            self._app.close()

    def enqueue_compilation(self, compilation_id: uuid.UUID) -> bool:
        # The request that queues the job names it in the task (the worker logs it).
        request_id = logs.current("request_id")
        try:
            with self._lock:
                self._celery().send_task(
                    COMPILE_TASK,
                    args=[str(compilation_id)],
                    kwargs={"request_id": request_id} if request_id else {},
                    queue=self.settings.celery_queue,
                    retry=True,
                    retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
                )
        except Exception:  # broker down: the job stays queued and is re-sent by the reaper
            log.exception("could not publish compilation %s", compilation_id)
            return False
        with logs.log_context(job_id=compilation_id):
            log.info("compilation queued")
        return True
