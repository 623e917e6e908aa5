"""Every error leaves the API as JSON ``{"detail": "<one line>"}``, never as a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from compiler_core.errors import DnnFusionError
from service.upload import UploadError

log = logging.getLogger(__name__)


def _one_line(err: RequestValidationError) -> str:
    parts = []
    for e in err.errors():
        where = ".".join(str(p) for p in e.get("loc", ()))
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(UploadError)
    async def _upload(_: Request, err: UploadError) -> JSONResponse:
        return JSONResponse({"detail": err.detail}, status_code=err.status_code)

    @app.exception_handler(DnnFusionError)
    async def _compiler(_: Request, err: DnnFusionError) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, err: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _one_line(err)}, status_code=422)

    @app.exception_handler(Exception)
    async def _internal(request: Request, err: Exception) -> JSONResponse:
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=err)
        return JSONResponse({"detail": "internal server error"}, status_code=500)
