"""/models: upload (multipart, streamed to storage), list, read."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from service import quotas
from service.api.deps import CurrentUser, Limit, SessionDep, SettingsDep, Skip, StorageDep
from service.api.responses import errors
from service.crud import models as crud
from service.ingest import store_model
from service.schemas.models import ModelPublic, ModelsPublic
from service.upload import UploadError, receive_upload

router = APIRouter(prefix="/models", tags=["models"])

# The server reads the file's bytes, whatever the part's Content-Type says: an ONNX protobuf, or
# a .zip / .tar.gz holding one .onnx and its external-data files (service.archive sniffs which).
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "contentMediaType": "application/octet-stream",
                            "description": ".onnx, or .zip / .tar.gz with an .onnx and its "
                            "external-data files; anything else is a 422",
                        }
                    },
                },
                "encoding": {
                    "file": {
                        "contentType": "application/octet-stream, application/zip, "
                        "application/gzip"
                    }
                },
            }
        },
    }
}
_LOCATION = {
    "Location": {
        "description": "the model's URL",
        "required": True,
        "schema": {"type": "string"},
    }
}


@router.post(
    "",
    status_code=201,
    response_model=ModelPublic,
    openapi_extra=_UPLOAD_BODY,
    responses={
        200: {
            "model": ModelPublic,
            "description": "the same bytes were already uploaded",
            "headers": _LOCATION,
        },
        201: {"description": "stored", "headers": _LOCATION},
        **errors(
            400,
            413,
            415,
            429,
            503,
            s422="no 'file' field, or the file is not an ONNX model (or an archive holding "
            "one) the service accepts",
        ),
    },
)
async def upload_model(
    request: Request,
    response: Response,
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    storage: StorageDep,
) -> ModelPublic:
    """Upload an ONNX model (form field ``file``); 201 new, 200 if these bytes exist already."""
    await run_in_threadpool(quotas.check_upload_start, session, settings, user, request.headers)
    tmp = await run_in_threadpool(storage.new_tmp_file, ".upload")
    try:
        try:
            received = await receive_upload(request, dest=tmp, max_bytes=settings.max_upload_bytes)
        except ClientDisconnect:
            raise UploadError(400, "client disconnected during the upload") from None
        await run_in_threadpool(quotas.check_upload_received, session, settings, user, received)
        model, created = await run_in_threadpool(
            store_model,
            session=session,
            storage=storage,
            settings=settings,
            owner=user,
            received=received,
        )
    finally:
        await run_in_threadpool(storage.discard, tmp)
    response.status_code = 201 if created else 200
    response.headers["Location"] = request.app.url_path_for("read_model", model_id=str(model.id))
    return ModelPublic.model_validate(model)


@router.get("", response_model=ModelsPublic)
def list_models(
    session: SessionDep,
    user: CurrentUser,
    skip: Skip = 0,
    limit: Limit = 50,
) -> ModelsPublic:
    rows, count = crud.list_models(session=session, owner_id=user.id, skip=skip, limit=limit)
    return ModelsPublic(data=[ModelPublic.model_validate(m) for m in rows], count=count)


@router.get("/{model_id}", response_model=ModelPublic, responses=errors(404))
def read_model(model_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> ModelPublic:
    model = crud.get_model(session=session, owner_id=user.id, model_id=model_id)
    if model is None:
        raise HTTPException(404, "model not found")
    return ModelPublic.model_validate(model)
