"""The Celery application: ``celery -A workers.celery_app worker``.

Reliability settings, and why:

* ``task_acks_late`` + ``worker_prefetch_multiplier=1``: a message is acknowledged only after its
  task returns, so a worker killed mid-task leaves the message in Redis; it is delivered again
  once the broker visibility timeout passes. The task is idempotent (see compile_job).
* soft/hard time limits from the settings; the broker visibility timeout is validated to be
  longer than the hard limit, so a running task is never handed to a second worker.
* logs: Celery's handlers get the DNNFUSION_LOG_FORMAT formatter (``dnfstore.logs``): one JSON
  object a line, a compile job's lines with its job_id, user_id and the request_id of the API
  request that queued it.
* the reaper (workers/reaper.py) runs in every worker's main process: at start-up and then every
  ``reaper_interval_s``; it re-runs or fails jobs whose worker stopped beating.
"""

from __future__ import annotations

import logging
import uuid

from celery import Celery
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    worker_ready,
    worker_shutdown,
)

from dnfstore import logs
from dnfstore.settings import get_settings
from workers.names import COMPILE_TASK
from workers.reaper import ReaperThread, reap

log = logging.getLogger(__name__)
settings = get_settings()

celery_app = Celery("dnnfusion", broker=settings.redis_url, include=["workers.tasks"])
celery_app.conf.update(
    task_acks_late=True,
    # A child killed by the hard limit or the OOM killer: ack, and let the reaper decide on a
    # re-run (bounded by max_attempts) instead of redelivering forever.
    task_reject_on_worker_lost=False,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    task_soft_time_limit=settings.compile_soft_time_limit_s,
    task_time_limit=settings.compile_time_limit_s,
    task_default_queue=settings.celery_queue,
    broker_transport_options={"visibility_timeout": settings.visibility_timeout_s},
    broker_connection_retry_on_startup=True,
    worker_send_task_events=False,
)
app = celery_app


def send_compile(compilation_id: uuid.UUID) -> bool:
    try:
        celery_app.send_task(COMPILE_TASK, args=[str(compilation_id)], queue=settings.celery_queue)
    except Exception:
        log.exception("could not re-send compilation %s", compilation_id)
        return False
    return True


@after_setup_logger.connect
@after_setup_task_logger.connect
def _log_format(logger: logging.Logger, **_: object) -> None:
    """Celery's handlers write DNNFUSION_LOG_FORMAT (json or text) lines, with the job's ids."""
    logs.install_record_factory()
    for handler in logger.handlers:
        handler.setFormatter(logs.formatter(settings.log_format))


_reaper: ReaperThread | None = None


@worker_ready.connect
def _start_reaper(**_: object) -> None:
    global _reaper
    try:
        reap(settings=settings, enqueue=send_compile)
    except Exception:
        log.exception("start-up reaper pass failed")
    _reaper = ReaperThread(settings, send_compile)
    _reaper.start()


@worker_shutdown.connect
def _stop_reaper(**_: object) -> None:
    if _reaper is not None:
        _reaper.stop()
