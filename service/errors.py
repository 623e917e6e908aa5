"""Every error leaves the API as JSON ``{"detail": "<one line>"}``, never as a traceback.

Each detail passes one last guard before it is sent: collapsed to one line, cut to 1,000
characters, and stripped of this server's directories (storage, data, the code and its libraries),
whatever raised it. Validation errors name at most five fields, each cut short.
"""

from __future__ import annotations

import logging
import sysconfig
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.utils import is_body_allowed_for_status_code
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from compiler_core.errors import DnnFusionError
from dnfstore.objectstore import StoreUnavailable
from service.text import one_line, scrub_paths, short
from service.upload import UploadError

log = logging.getLogger(__name__)

_CODE_ROOT = Path(__file__).resolve().parents[1]
_SHOWN_ERRORS = 5
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _server_dirs(request: Request) -> list[str]:
    paths = sysconfig.get_paths()
    dirs = {str(_CODE_ROOT), paths["purelib"], paths["platlib"], paths["stdlib"]}
    settings = getattr(request.app.state, "settings", None)
    if settings is not None:
        for d in (settings.storage_root, settings.data_dir.absolute()):
            dirs.update((str(d), str(d.resolve())))
    return sorted(dirs)


def safe_detail(request: Request, text: str) -> str:
    """``text`` as it may leave the API: one line, bounded, no server path."""
    return one_line(scrub_paths(text, _server_dirs(request)))


def _one_line(err: RequestValidationError) -> str:
    errors = err.errors()
    parts = []
    for e in errors[:_SHOWN_ERRORS]:
        where = ".".join(short(str(p), 40) for p in e.get("loc", ()))
        parts.append(f"{where}: {short(str(e.get('msg', 'invalid')), 200)}")
    if len(errors) > _SHOWN_ERRORS:
        parts.append(f"and {len(errors) - _SHOWN_ERRORS} more errors")
    return "; ".join(parts) or "invalid request"


def _reply(request: Request, text: str, status_code: int, headers=None) -> JSONResponse:
    return JSONResponse(
        {"detail": safe_detail(request, text)}, status_code=status_code, headers=headers
    )


def allowed_methods(request: Request) -> str:
    """The ``Allow`` of a 405: every method some route serves at this path (Starlette names only
    the first route whose path matched, e.g. ``POST`` for a path that also has a ``GET``)."""
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(r.matches(scope)[0] == Match.FULL for r in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(UploadError)
    async def _upload(request: Request, err: UploadError) -> JSONResponse:
        return _reply(request, err.detail, err.status_code)

    @app.exception_handler(DnnFusionError)
    async def _compiler(request: Request, err: DnnFusionError) -> JSONResponse:
        return _reply(request, str(err), 422)

    @app.exception_handler(StoreUnavailable)
    async def _store(request: Request, err: StoreUnavailable) -> JSONResponse:
        log.warning("object store unavailable on %s %s: %s", request.method, request.url.path, err)
        return _reply(request, f"{err}; try again later", 503, {"Retry-After": "30"})

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, err: RequestValidationError) -> JSONResponse:
        return _reply(request, _one_line(err), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, err: StarletteHTTPException) -> Response:
        headers = getattr(err, "headers", None)
        if err.status_code == 405:
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        if not is_body_allowed_for_status_code(err.status_code):
            return Response(status_code=err.status_code, headers=headers)
        return _reply(request, str(err.detail), err.status_code, headers)

    @app.exception_handler(Exception)
    async def _internal(request: Request, err: Exception) -> JSONResponse:
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=err)
        return _reply(request, "internal server error", 500)
