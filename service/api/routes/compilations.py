"""/compilations: the async-job pattern (202 + Location, status, artifact, report)."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse

from dnfstore import compilations as crud
from dnfstore.models import Compilation
from service.api.deps import (
    CurrentUser,
    DispatcherDep,
    Limit,
    SessionDep,
    SettingsDep,
    Skip,
    StorageDep,
)
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


@router.post(
    "",
    status_code=202,
    response_model=CompilationPublic,
    responses={**_NOT_FOUND, 422: {"model": ErrorPublic}},
)
def create_compilation(
    body: CompilationCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
) -> CompilationPublic:
    """Queue a compilation of one of your models; poll the ``Location`` for its state."""
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
    job = crud.create_compilation(
        session=session,
        owner_id=user.id,
        model_id=model.id,
        target=body.target,
        device_class=body.device_class,
        input_shapes=body.input_shapes,
        options=body.options.stored(),
    )  # committed: only now may a worker see it
    dispatcher.enqueue_compilation(job.id)
    response.headers["Location"] = request.app.url_path_for(
        "read_compilation", compilation_id=str(job.id)
    )
    return _public(request, job)


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


def _stored_file(job: Compilation, relative: str | None, what: str, storage: StorageDep):
    if job.state != "succeeded" or not relative:
        raise HTTPException(409, f"compilation is {job.state}; it has no {what}")
    path = storage.resolve(relative)
    if not path.is_file():
        raise HTTPException(404, f"the {what} of this compilation is no longer stored")
    return path


@router.get(
    "/{compilation_id}/artifact",
    response_class=FileResponse,
    responses={
        **_NOT_FOUND,
        409: {"model": ErrorPublic},
        200: {"content": {"application/gzip": {}}},
    },
)
def download_artifact(
    compilation_id: uuid.UUID, session: SessionDep, user: CurrentUser, storage: StorageDep
) -> FileResponse:
    """The compiled artifact as a .tar.gz (streamed)."""
    job = _own(session, user, compilation_id)
    path = _stored_file(job, job.artifact_path, "artifact", storage)
    return FileResponse(path, media_type="application/gzip", filename=f"dnnfusion-{job.id}.tar.gz")


@router.get(
    "/{compilation_id}/report",
    response_class=FileResponse,
    responses={
        **_NOT_FOUND,
        409: {"model": ErrorPublic},
        200: {"content": {"application/json": {}}},
    },
)
def read_report(
    compilation_id: uuid.UUID, session: SessionDep, user: CurrentUser, storage: StorageDep
) -> FileResponse:
    """The compiler's report.json."""
    job = _own(session, user, compilation_id)
    return FileResponse(
        _stored_file(job, job.report_path, "report", storage), media_type="application/json"
    )
