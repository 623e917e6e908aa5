"""Per-user limits enforced by the API: ``429 Too Many Requests`` with the API's error body
``{"detail": "<one line>"}`` naming the limit and its value, and ``Retry-After`` (seconds) when
waiting helps.

* ``POST /api/v1/compilations``: at most ``max_concurrent_compilations`` jobs queued or running.
  :func:`reserve_compilation_slot` runs right before the job's INSERT, in the same transaction:
  it locks the user's ``user_limits`` row (created empty if missing; ``SELECT ... FOR UPDATE``
  on PostgreSQL; on SQLite the INSERT takes the database's write lock, which serializes
  writers), then counts. A second request waits for the first one's commit and counts its job,
  so two requests racing for the last slot never both pass. ``Retry-After``: the user's typical
  run time (median of their last 20 finished jobs, 10 s without any) less what their
  longest-running job has run already, kept within 5-60 s: an estimate, not a promise.
* ``POST /api/v1/models``: at most ``max_uploads_per_minute`` models created in any 60 s
  (``Retry-After``: until enough of the window's uploads are 60 s old for one more) and at most
  ``max_stored_bytes`` stored. Checked before the body is read (the ``Content-Length``, less
  :data:`MULTIPART_SLACK` for the form's own bytes) and again on the real file size after
  streaming, before anything is kept (the route discards the received file). After streaming,
  bytes the user already stored pass (they store nothing: the API answers with the existing
  model); before, the hash is not known yet, so such a re-upload is refused like any other.
  Both are early refusals that save the work; the check that holds is
  :func:`reserve_upload`, right before the model's row is inserted (after validation and after
  the files went to the store, which are deleted again when it refuses): it takes the same row
  lock as the compilations, so uploads racing for the last slot or the last bytes never both
  pass.
* Stored bytes count a job's artifact once the worker wrote it; a compilation itself is never
  refused for stored bytes (only the next upload is).
* Stored bytes over the limit: 429 without ``Retry-After``. Waiting frees nothing (no job
  shrinks storage), and a client that honours ``Retry-After`` should not loop on it; the message
  says an administrator must raise the limit (``dnnfusion users limits``). A limit of 0 allows
  nothing, also without ``Retry-After``.
"""

from __future__ import annotations

import math
import statistics
import uuid
from collections.abc import Mapping

from fastapi import HTTPException
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dnfstore.base import utcnow
from dnfstore.limits_models import UserLimits
from dnfstore.models import User
from dnfstore.settings import Settings
from service.crud import limits as crud
from service.crud.models import get_model_by_sha256
from service.sizes import format_bytes
from service.upload import ReceivedFile

MULTIPART_SLACK = 64 * 1024  # bytes of a form besides the file: boundaries, part headers
DEFAULT_RUN_S = 10.0
RETRY_MIN_S, RETRY_MAX_S = 5, 60


def too_many(detail: str, retry_after_s: float | None) -> HTTPException:
    """The 429 answer: ``detail`` as the error body, ``Retry-After`` in whole seconds (>= 1)."""
    headers = None
    if retry_after_s is not None:
        headers = {"Retry-After": str(max(1, math.ceil(retry_after_s)))}
    return HTTPException(429, detail, headers=headers)


def lock_user_limits(session: Session, user_id: uuid.UUID) -> None:
    """Hold the user's ``user_limits`` row (created if missing) until the transaction ends."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(UserLimits).values(user_id=user_id).on_conflict_do_nothing(
            index_elements=[UserLimits.user_id]
        )
    )
    if dialect == "postgresql":
        session.execute(
            select(UserLimits.user_id).where(UserLimits.user_id == user_id).with_for_update()
        )


def reserve_compilation_slot(session: Session, settings: Settings, user: User) -> None:
    """Raise a 429 if ``user`` has ``max_concurrent_compilations`` jobs queued or running.

    Call it right before inserting the job, in the same session; the lock it takes is released
    by that transaction's commit (or rollback), so do not commit in between.
    """
    lock_user_limits(session, user.id)
    limit = crud.limits_for(session, settings, user.id).max_concurrent_compilations
    active = crud.active_compilations(session, user.id)
    if active < limit:
        return
    if limit == 0:
        raise too_many("quota exceeded: max_concurrent_compilations is 0 for this user", None)
    wait = _run_estimate(session, user.id)
    raise too_many(
        f"quota exceeded: max_concurrent_compilations is {limit} (jobs queued or running at "
        f"once) and you have {active}; retry when one has finished (about {math.ceil(wait)} s)",
        wait,
    )


def _run_estimate(session: Session, user_id: uuid.UUID) -> float:
    """Seconds until one of the user's jobs likely finishes (see the module docstring)."""
    runs = crud.recent_run_seconds(session, user_id)
    typical = statistics.median(runs) if runs else DEFAULT_RUN_S
    started = crud.oldest_running_start(session, user_id)
    ran = (utcnow() - started).total_seconds() if started is not None else 0.0
    return min(RETRY_MAX_S, max(RETRY_MIN_S, typical - ran))


def check_upload_start(
    session: Session, settings: Settings, user: User, headers: Mapping[str, str]
) -> None:
    """Before the body is read: raise a 429 if the user may not upload now (uploads per minute,
    or stored bytes with the request's ``Content-Length`` less :data:`MULTIPART_SLACK`, when
    ``headers`` has one)."""
    length = headers.get("content-length") or ""
    declared = int(length) if length.isdigit() else 0
    try:
        _check_upload(session, settings, user, max(0, declared - MULTIPART_SLACK))
    finally:
        session.commit()  # end the read transaction: the upload streams for a while


def check_upload_received(
    session: Session, settings: Settings, user: User, received: ReceivedFile
) -> None:
    """After streaming: raise a 429 if storing ``received`` would exceed a limit (the caller
    discards the file). Bytes the user has already stored pass: they store nothing new."""
    try:
        if get_model_by_sha256(session=session, owner_id=user.id, sha256=received.sha256):
            return
        _check_upload(session, settings, user, received.size)
    finally:
        session.commit()


def reserve_upload(
    session: Session, settings: Settings, user: User, received: ReceivedFile
) -> None:
    """Right before the model's INSERT, in the same session: lock the user's limits row (see
    :func:`reserve_compilation_slot`), then raise a 429 if storing ``received`` would exceed
    uploads per minute or stored bytes. Do not commit in between; bytes the user already has
    pass (the caller's unique constraint answers with the existing model)."""
    lock_user_limits(session, user.id)
    if get_model_by_sha256(session=session, owner_id=user.id, sha256=received.sha256):
        return
    _check_upload(session, settings, user, received.size)


def _check_upload(session: Session, settings: Settings, user: User, size: int) -> None:
    limits = crud.limits_for(session, settings, user.id)
    per_minute = limits.max_uploads_per_minute
    now = utcnow()
    recent = crud.recent_uploads(session, user.id, now)
    if per_minute == 0:
        raise too_many("quota exceeded: max_uploads_per_minute is 0 for this user", None)
    if len(recent) >= per_minute:
        # One more fits once all but per_minute - 1 of the window's uploads are 60 s old.
        frees = recent[len(recent) - per_minute] + crud.UPLOAD_WINDOW
        wait = (frees - now).total_seconds()
        raise too_many(
            f"quota exceeded: max_uploads_per_minute is {per_minute} and you uploaded "
            f"{len(recent)} models in the last 60 s; retry in {max(1, math.ceil(wait))} s",
            wait,
        )
    cap = limits.max_stored_bytes
    stored = crud.stored_bytes(session, user.id)
    if stored + size > cap:
        raise too_many(
            f"quota exceeded: max_stored_bytes is {cap} ({format_bytes(cap)}); you store "
            f"{format_bytes(stored)} and this upload is {format_bytes(size)}; waiting will not "
            f"help: ask an administrator to raise the limit",
            None,
        )
