"""The client's exceptions: one class per kind of answer the API gives, all under
:class:`DnnfusionError`.

Every API error body is ``{"detail": "<one line>"}`` (``service/errors.py``); the exception's
message is that line, prefixed with the HTTP status. ``status_code`` is ``None`` for errors
raised on this side (a missing file, an unreachable server, a wait that timed out).
"""

from __future__ import annotations

import email.utils
import time

import httpx

_MAX_DETAIL = 1000  # the API cuts its details to 1,000 characters; a proxy's page may be longer


class DnnfusionError(Exception):
    """Base of every error the client raises.

    ``status_code``: the HTTP status of the answer (``None`` when no answer was involved);
    ``detail``: the API's one-line reason (or this side's).
    """

    def __init__(self, detail: str, status_code: int | None = None) -> None:
        self.detail = detail
        self.status_code = status_code
        super().__init__(f"{detail} (HTTP {status_code})" if status_code else detail)


class AuthenticationError(DnnfusionError):
    """401 (no key, unknown or revoked key) or 403 (a device-agent key on a user route), or no
    key configured at all."""


class NotFoundError(DnnfusionError):
    """404: no such model or compilation among this key's user's, or its files are gone."""


class InvalidModelError(DnnfusionError):
    """The model or the request about it was refused: 400 (malformed upload), 413 (over the
    upload cap), 415, 422 (not a valid ONNX model, bad archive, unknown input name, bad compile
    option) with the API's reason; also a local model path that cannot be packed."""


class ConflictError(DnnfusionError):
    """409: the compilation is not in a state that has what was asked (e.g. no artifact yet)."""


class QuotaExceededError(DnnfusionError):
    """429: a per-user limit was reached (the detail names it and its value). ``retry_after``:
    seconds the API asks to wait (from ``Retry-After``), or ``None`` when waiting does not help
    (the stored-bytes limit, or a limit of 0). The client never retries a 429 by itself: the
    caller decides whether to wait ``retry_after`` and send again."""

    def __init__(self, detail: str, status_code: int | None = 429,
                 retry_after: float | None = None) -> None:
        super().__init__(detail, status_code)
        self.retry_after = retry_after


class ServerError(DnnfusionError):
    """5xx: the service (or a proxy in front of it) failed; raised after the retries for
    502/503/504 ran out, at once for the others."""


class ServerUnreachableError(DnnfusionError):
    """No connection to the service (refused, DNS, TLS, timeout) after the retries ran out."""


class CompilationFailedError(DnnfusionError):
    """The compilation ended in state ``failed``; ``detail`` is the server's reason and
    ``compilation_id`` the job's id."""

    def __init__(self, detail: str, compilation_id: str) -> None:
        super().__init__(detail)
        self.compilation_id = compilation_id


class WaitTimeoutError(DnnfusionError, TimeoutError):
    """:meth:`CompileJob.wait` gave up; the compilation goes on on the server."""


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; ``None`` if absent or
    unreadable. Never negative."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        text = body["detail"]
    else:
        text = response.text.strip() or response.reason_phrase or "no reason given"
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."


def error_for(response: httpx.Response) -> DnnfusionError:
    """The exception for an error answer (status >= 400). The body must have been read."""
    status, detail = response.status_code, _detail(response)
    if status in (401, 403):
        return AuthenticationError(detail, status)
    if status == 404:
        return NotFoundError(detail, status)
    if status == 409:
        return ConflictError(detail, status)
    if status == 429:
        return QuotaExceededError(
            detail, status, retry_after_seconds(response.headers.get("retry-after"))
        )
    if status in (400, 413, 415, 422):
        return InvalidModelError(detail, status)
    if status >= 500:
        return ServerError(detail, status)
    return DnnfusionError(detail, status)
