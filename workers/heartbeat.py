"""A background thread that keeps ``heartbeat_at`` fresh while a job runs.

The reaper treats a running job whose heartbeat is older than ``heartbeat_timeout_s`` as lost:
its worker was killed, so the thread that beat for it died too.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import uuid

from sqlalchemy.orm import Session, sessionmaker

from dnfstore.compilations import beat

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        compilation_id: uuid.UUID,
        attempt: int,
        interval_s: float,
    ) -> None:
        self._sessions = sessions
        self._id = compilation_id
        self._attempt = attempt
        self._interval = interval_s
        self._stop = threading.Event()
        # In the job's log context (its ids in the thread's log lines).
        self._thread = threading.Thread(
            target=contextvars.copy_context().run, args=(self._run,),
            name=f"heartbeat-{compilation_id}", daemon=True,
        )

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                with self._sessions() as session:
                    if not beat(session=session, compilation_id=self._id, attempt=self._attempt):
                        return  # the job is no longer ours
            except Exception:  # a DB blip: try again next beat
                log.warning("heartbeat for %s failed", self._id, exc_info=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + 5)
