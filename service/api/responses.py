"""The error responses a route declares in the OpenAPI document, all with the one error body.

Every error the API sends is ``{"detail": "<one line>"}`` (:class:`ErrorPublic`, written by
:mod:`service.errors`). A route lists the statuses only it can send with ``responses=errors(404,
409)``; :mod:`service.api.openapi` adds the ones that follow from the route's shape: 401 and 403
where it needs a key, 400 and 413 where it reads a JSON body, the 422 of a route with parameters
or a body. A status a route sends must be declared (the contract test fails otherwise).
"""

from __future__ import annotations

from typing import Any

from service.schemas.common import ErrorPublic

# What each status means in this API (the document's response description).
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "malformed request body (not parseable as JSON or as multipart/form-data, or the "
    "client went away mid-upload)",
    401: "missing or unknown X-API-Key",
    403: "the key is of the wrong kind for this route (user keys for /api/v1, agent keys for "
    "/api/v1/agent), or a dashboard request without its CSRF token",
    404: "no such resource among yours",
    409: "the resource is not in a state that allows this request",
    413: "request body larger than the server accepts",
    415: "wrong Content-Type for this route",
    422: "a parameter or body field is invalid, or refers to something that does not fit; the "
    "detail names it",
    429: "a quota or rate limit was reached; retry later (Retry-After, when sent, says when)",
    503: "a service this request needs is unavailable; retry later",
}

WWW_AUTHENTICATE = {
    "WWW-Authenticate": {
        "description": "APIKey: send the key in the X-API-Key header",
        "schema": {"type": "string"},
    }
}


def error_response(status: int, description: str | None = None) -> dict[str, Any]:
    """One entry of a route's ``responses``: the error body with ``description`` (default: the
    API-wide meaning of ``status``). Raises ``KeyError`` for a status without one."""
    entry: dict[str, Any] = {
        "model": ErrorPublic,
        "description": description or ERROR_DESCRIPTIONS[status],
    }
    if status == 401:
        entry["headers"] = WWW_AUTHENTICATE
    return entry


def errors(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route decorator: ``errors(404, 409)`` with the API-wide
    descriptions, or ``errors(s409="the Idempotency-Key was used with another body")`` with
    route-specific ones (keys ``s<status>``)."""
    out: dict[int | str, dict[str, Any]] = {s: error_response(s) for s in statuses}
    for key, text in described.items():
        if not (key.startswith("s") and key[1:].isdigit()):
            raise ValueError(f"errors(): keyword {key!r} must be s<status>, e.g. s409")
        out[int(key[1:])] = error_response(int(key[1:]), text)
    return out
