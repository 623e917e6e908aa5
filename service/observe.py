"""Request ids, access lines and HTTP metrics: ``install_observability(app, settings)``.

* Logging (:func:`configure_logging`, by the app that owns its process: ``uvicorn --factory``,
  ``dnnfusion serve``): every line in ``settings.log_format`` (``dnfstore.logs``); with ``json``
  uvicorn's own loggers write JSON too and its access log is off (the ``request`` line below
  replaces it).
* Request id: ``X-Request-ID`` from the client when it is 1-64 characters of ``[A-Za-z0-9._-]``,
  else a fresh uuid4 hex; echoed in the response's ``X-Request-ID`` and carried by every log line
  of the request (and, through the task message, by the worker's lines for the job it queued).
* One ``request`` line per request: method, route (the path template), path, status,
  duration_ms, request_id, user_id (when a key or session identified one).
* Metrics of this process (``GET /metrics`` exports them): requests by method, route template
  and status; request duration by method and route; bytes received by the model upload. Label
  values stay bounded: a method outside the standard seven is ``other``, a path no route
  matched is ``<unmatched>``.
* ``GET /metrics`` (``service.api.routes.metrics``).
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from fastapi import FastAPI
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dnfstore import logs
from dnfstore.settings import Settings

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
UNMATCHED = "<unmatched>"  # route label of a request no route matched (404s of any path)
UPLOAD_ROUTE = ("POST", "/api/v1/models")
_QUIET_ROUTES = {"/metrics", "/api/v1/health"}  # scraped and probed often: access line at DEBUG
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_PATH_SHOWN = 512  # characters of a request path in its access line

access_log = logging.getLogger("service.access")

HTTP_REQUESTS = Counter(
    "dnnfusion_http_requests",
    "HTTP requests answered by this API (route: the path template, <unmatched> when none).",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "dnnfusion_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, seconds.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
UPLOAD_BYTES = Counter(
    "dnnfusion_upload_bytes",
    "Request-body bytes received by POST /api/v1/models; outcome: stored (2xx) or refused.",
    ["outcome"],
)


def request_id_from(value: str | None) -> str:
    """``value`` if it is a valid request id (1-64 of ``[A-Za-z0-9._-]``), else a new uuid4 hex."""
    if value is not None and _VALID_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    """The matched route's path template with the prefixes of the routers it is included in
    (``/api/v1/compilations/{compilation_id}``), or ``<unmatched>``. FastAPI leaves the route
    of an included router in ``scope["route"]`` with its own path only; the prefix is the part
    of the request path before the route's pattern matches."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not template:
        return UNMATCHED
    regex = getattr(route, "path_regex", None)
    path = scope.get("path", "")
    if regex is not None:
        for i, char in enumerate(path):
            if char == "/" and regex.match(path[i:]):
                return path[:i] + template
    return template


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class RequestObserver:
    """Pure ASGI middleware (no response buffering: uploads and downloads keep streaming)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id_from(_header(scope, b"x-request-id"))
        started = time.perf_counter()
        status = 500  # unless the app starts a response
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.lower().encode(), rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with logs.log_context(request_id=rid):
            try:
                await self.app(scope, counting_receive, send_with_id)
            finally:
                self._observe(scope, status, time.perf_counter() - started, received)

    @staticmethod
    def _observe(scope: Scope, status: int, elapsed: float, received: int) -> None:
        route = route_template(scope)
        method = scope.get("method", "")
        method = method if method in _METHODS else "other"  # bounded label values
        HTTP_REQUESTS.labels(method, route, str(status)).inc()
        HTTP_DURATION.labels(method, route).observe(elapsed)
        if (method, route) == UPLOAD_ROUTE:
            UPLOAD_BYTES.labels("stored" if status < 300 else "refused").inc(received)
        level = logging.DEBUG if route in _QUIET_ROUTES and status < 400 else logging.INFO
        access_log.log(
            level,
            "request",
            extra={
                "method": method,
                "route": route,
                "path": scope.get("path", "")[:_PATH_SHOWN],
                "status": status,
                "duration_ms": round(elapsed * 1000, 3),
            },  # user_id: bound into ctx by the auth dependency, read by the record factory
        )


def configure_logging(settings: Settings) -> None:
    """Root logging in ``settings.log_format`` at INFO; uvicorn's loggers follow in json."""
    logs.configure(settings.log_format)
    if settings.log_format == "json":
        for name in ("uvicorn", "uvicorn.error"):
            logger = logging.getLogger(name)
            logger.handlers.clear()
            logger.propagate = True  # to the root logger's JSON handler
        access = logging.getLogger("uvicorn.access")
        access.handlers.clear()
        access.propagate = False
        access.disabled = True  # service.access's "request" line has more (and the request id)


def install_observability(app: FastAPI, settings: Settings, *, owns_process: bool) -> None:
    """The request-id/metrics middleware (outermost of those added so far), ``GET /metrics``,
    and, when the app ``owns_process``, the process's logging (:func:`configure_logging`: the
    root logger is process-wide, so not for apps built inside tests). The ids reach log
    records either way."""
    from service.api.routes import metrics

    logs.install_record_factory()
    if owns_process:
        configure_logging(settings)
    app.add_middleware(RequestObserver)
    metrics.install(app, settings)
