"""/compilations: the async-job pattern (202 + Location, status, artifact, report)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Request, Response
from fastapi.responses import FileResponse
from sqlalchemy.exc import IntegrityError

from dnfstore import compilations as crud
from dnfstore import compile_cache as cache_store
from dnfstore.base import utcnow
from dnfstore.models import Compilation
from service import compile_cache, quotas
from service.api.deps import (
    CurrentUser,
    DispatcherDep,
    Limit,
    SessionDep,
    SettingsDep,
    Skip,
    StorageDep,
)
from service.api.responses import errors
from service.api.stored import stored_response
from service.crud.models import get_model
from service.errors import safe_detail
from service.schemas.common import ErrorPublic
from service.schemas.compilations import (
    CompilationCreate,
    CompilationPublic,
    CompilationsPublic,
)
from service.text import short

router = APIRouter(prefix="/compilations", tags=["compilations"])

_NOT_FOUND = {404: {"model": ErrorPublic}}


def _public(request: Request, job: Compilation) -> CompilationPublic:
    """The job as the API shows it; its error text (written by a worker) passes the same
    guard as every error detail: one line, bounded, no server path."""
    public = CompilationPublic.from_row(job)
    if public.error:
        public.error = safe_detail(request, public.error)
    return public


def _names(names: list[str], shown: int = 5) -> str:
    """At most ``shown`` names, each cut short, and how many were left out."""
    text = ", ".join(short(repr(n)) for n in names[:shown])
    more = f", and {len(names) - shown} more" if len(names) > shown else ""
    return f"[{text}{more}]"


IDEMPOTENCY_WINDOW = timedelta(hours=24)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="any unique text (1-255 visible ASCII characters, e.g. a UUID): the same key "
        "with the same body within 24 h returns the compilation the first request made (200) "
        "instead of a new one; with a different body it is a 409",
    ),
]


def _replay(request: Request, response: Response, job: Compilation, body_hash: str,
            key: str) -> CompilationPublic:
    """The answer to a repeated ``Idempotency-Key``: the same compilation (200), or a 409 when
    the key came with another body."""
    if job.idempotency_hash != body_hash:
        raise HTTPException(
            409,
            f"Idempotency-Key {short(repr(key))} was already used with a different request "
            f"body (compilation {job.id}); send a new key for a new request",
        )
    response.status_code = 200
    return _located(request, response, job)


def _located(request: Request, response: Response, job: Compilation) -> CompilationPublic:
    response.headers["Location"] = request.app.url_path_for(
        "read_compilation", compilation_id=str(job.id)
    )
    return _public(request, job)


@router.post(
    "",
    status_code=202,
    response_model=CompilationPublic,
    responses={
        200: {"model": CompilationPublic,
              "description": "a repeated Idempotency-Key: the compilation the first request made"},
        201: {"model": CompilationPublic,
              "description": "a compile-cache hit: a new compilation, succeeded at once"},
        **_NOT_FOUND,
        409: {"model": ErrorPublic,
              "description": "the Idempotency-Key was used with a different body"},
        422: {"model": ErrorPublic},
        **errors(s429="too many of your compilations are queued or running; retry after "
                 "Retry-After seconds"),
    },
)
def create_compilation(
    body: CompilationCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
    idempotency_key: IdempotencyKey = None,
) -> CompilationPublic:
    """Queue a compilation of one of your models (202); poll the ``Location`` for its state.

    An identical earlier compilation (see ``cache`` in the body) answers at once: 201, a new
    compilation already succeeded, ``cache_hit`` true. With an ``Idempotency-Key`` a retried
    request returns the first one's compilation (200) instead of starting another."""
    body_hash = compile_cache.request_hash(body)
    if idempotency_key is not None:
        earlier = cache_store.find_by_idempotency_key(
            session, owner_id=user.id, key=idempotency_key
        )
        if earlier is not None:
            if earlier.created_at > utcnow() - IDEMPOTENCY_WINDOW:
                return _replay(request, response, earlier, body_hash, idempotency_key)
            cache_store.release_idempotency_key(session, compilation_id=earlier.id)
    model = get_model(session=session, owner_id=user.id, model_id=body.model_id)
    if model is None:
        raise HTTPException(404, "model not found")
    if body.target not in settings.targets:
        raise HTTPException(
            422,
            f"unknown target {short(repr(body.target))}; expected one of "
            f"{', '.join(settings.targets)}",
        )
    known = {i["name"] for i in model.inputs}
    unknown = sorted(set(body.input_shapes) - known)
    if unknown:
        raise HTTPException(
            422,
            f"input_shapes names {_names(unknown)} are not inputs of the model "
            f"{_names(sorted(known))}",
        )
    key = compile_cache.cache_key(model.sha256, body)
    reusable = (
        compile_cache.find_reusable(session, cache_key=key, owner_id=user.id)
        if body.cache else None
    )
    idem = {"idempotency_key": idempotency_key,
            "idempotency_hash": body_hash if idempotency_key is not None else None}
    try:
        if reusable is not None:
            job = cache_store.create_cache_hit(
                session,
                source=reusable,
                owner_id=user.id,
                model_id=model.id,
                request={"target": body.target, "device_class": body.device_class,
                         "input_shapes": body.input_shapes, "options": body.options.stored()},
                cache_key=key,
                **idem,
            )
        else:
            quotas.reserve_compilation_slot(session, settings, user)  # 429; locks until commit
            job = crud.create_compilation(
                session=session,
                owner_id=user.id,
                model_id=model.id,
                target=body.target,
                device_class=body.device_class,
                input_shapes=body.input_shapes,
                options=body.options.stored(),
                cache_key=key,
                **idem,
            )  # committed: only now may a worker see it
    except IntegrityError:  # a concurrent request with the same Idempotency-Key won
        session.rollback()
        earlier = cache_store.find_by_idempotency_key(
            session, owner_id=user.id, key=idempotency_key or ""
        )
        if idempotency_key is None or earlier is None:
            raise
        return _replay(request, response, earlier, body_hash, idempotency_key)
    if reusable is not None:
        compile_cache.record_cache_hit(job)
        response.status_code = 201
    else:
        dispatcher.enqueue_compilation(job.id)
    return _located(request, response, job)


@router.get("", response_model=CompilationsPublic)
def list_compilations(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    skip: Skip = 0,
    limit: Limit = 50,
    model_id: uuid.UUID | None = None,
    state: Literal["queued", "running", "succeeded", "failed"] | None = None,
) -> CompilationsPublic:
    rows, count = crud.list_compilations(
        session=session, owner_id=user.id, skip=skip, limit=limit, model_id=model_id, state=state
    )
    return CompilationsPublic(data=[_public(request, j) for j in rows], count=count)


def _own(session: SessionDep, user: CurrentUser, compilation_id: uuid.UUID) -> Compilation:
    job = crud.get_compilation(session=session, owner_id=user.id, compilation_id=compilation_id)
    if job is None:
        raise HTTPException(404, "compilation not found")
    return job


@router.get("/{compilation_id}", response_model=CompilationPublic, responses=_NOT_FOUND)
def read_compilation(
    compilation_id: uuid.UUID, request: Request, session: SessionDep, user: CurrentUser
) -> CompilationPublic:
    return _public(request, _own(session, user, compilation_id))


def _stored_file(job: Compilation, relative: str | None, what: str) -> str:
    """The object-store key of the job's ``what``; 409 before the job succeeded."""
    if job.state != "succeeded" or not relative:
        raise HTTPException(409, f"compilation is {job.state}; it has no {what}")
    return relative


@router.get(
    "/{compilation_id}/artifact",
    response_class=FileResponse,
    responses={
        **_NOT_FOUND,
        409: {"model": ErrorPublic},
        200: {"content": {"application/gzip": {}}},
        **errors(503),
        307: {
            "description": "the artifact is in object storage: GET the Location (a URL valid "
            "for a few minutes)",
            "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
        },
    },
)
def download_artifact(
    compilation_id: uuid.UUID, session: SessionDep, user: CurrentUser, storage: StorageDep
) -> Response:
    """The compiled artifact as a .tar.gz (streamed, or a 307 to the object store)."""
    job = _own(session, user, compilation_id)
    key = _stored_file(job, job.artifact_path, "artifact")
    return stored_response(storage, key, what="artifact", media_type="application/gzip",
                           filename=f"dnnfusion-{job.id}.tar.gz", redirect=True)


@router.get(
    "/{compilation_id}/report",
    response_class=FileResponse,
    responses={
        **_NOT_FOUND,
        409: {"model": ErrorPublic},
        200: {"content": {"application/json": {}}},
        **errors(503),
    },
)
def read_report(
    compilation_id: uuid.UUID, session: SessionDep, user: CurrentUser, storage: StorageDep
) -> Response:
    """The compiler's report.json."""
    job = _own(session, user, compilation_id)
    key = _stored_file(job, job.report_path, "report")
    return stored_response(storage, key, what="report", media_type="application/json")
