"""Sending one request with bounded retries: exponential backoff with full jitter, on
502/503/504 answers and connection errors only, never on any other status.

What may be retried depends on whether repeating the request is safe:

* a connection that was never made (refused, DNS, connect timeout, no pool slot): the request
  never reached the server, so every request is retried, a POST included;
* 502/503/504 and a connection broken after the request was sent (read/write error, read
  timeout, protocol error): the server may have acted on it, so only *idempotent* requests are
  retried (GETs, and the model upload, which the API deduplicates by content hash). For the
  others :class:`OutcomeUnknownError` is raised at once and the caller decides (see
  :meth:`dnnfusion.client.Client.compile`).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from dnnfusion.client.errors import (
    DnnfusionError,
    ServerError,
    ServerUnreachableError,
    error_for,
    retry_after_seconds,
)

log = logging.getLogger("dnnfusion.client")

RETRY_STATUSES = frozenset({502, 503, 504})
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
BROKEN = (
    httpx.ReadError,
    httpx.WriteError,
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.RemoteProtocolError,
)


class OutcomeUnknownError(ServerError):
    """A non-idempotent request got a 502/503/504 or lost its connection after it was sent:
    the server may or may not have acted on it. ``cause`` says what happened."""


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` tries in all (at least 1). Before retry ``n`` (1, 2, ...) the client
    sleeps a uniformly random time in ``[0, min(max_delay_s, base_delay_s * 2**(n-1))]`` seconds
    ("full jitter"), or the server's ``Retry-After`` when it asks for longer (capped at
    ``max_delay_s``)."""

    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 10.0

    def delay(self, retry: int, retry_after: float | None = None,
              rng: random.Random | None = None) -> float:
        """Seconds to sleep before retry number ``retry`` (1-based)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (retry - 1))
        wait = (rng or random).uniform(0.0, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay_s))
        return wait


def _describe(err: httpx.TransportError, request: httpx.Request) -> str:
    reason = str(err) or type(err).__name__
    return f"{request.method} {request.url}: {' '.join(reason.split())}"


def send(
    http: httpx.Client,
    build: Callable[[], httpx.Request],
    policy: RetryPolicy,
    *,
    idempotent: bool,
    stream: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> httpx.Response:
    """Send the request ``build()`` makes (called again for every attempt, so a streamed body
    starts over) and return the first answer below 400 (still open when ``stream``).

    Raises the typed error of an answer >= 400 (:func:`dnnfusion.client.errors.error_for`),
    :class:`ServerUnreachableError` when no connection could be made in ``max_attempts``,
    :class:`OutcomeUnknownError` for a non-idempotent request that may have been acted on.
    """
    attempts = max(1, policy.max_attempts)
    for attempt in range(1, attempts + 1):
        request = build()
        final = attempt == attempts
        try:
            response = http.send(request, stream=stream)
        except NOT_SENT as err:
            if final:
                raise ServerUnreachableError(
                    f"cannot reach the service ({_describe(err, request)}) after {attempts} "
                    f"attempts"
                ) from None
            pause(policy, attempt, None, f"no connection ({type(err).__name__})", sleep)
            continue
        except BROKEN as err:
            if not idempotent:
                raise OutcomeUnknownError(
                    f"the connection broke after the request was sent ({_describe(err, request)})"
                ) from None
            if final:
                raise ServerUnreachableError(
                    f"the connection broke ({_describe(err, request)}) in all {attempts} attempts"
                ) from None
            pause(policy, attempt, None, f"connection broken ({type(err).__name__})", sleep)
            continue
        except httpx.TransportError as err:  # e.g. an unsupported scheme, a bad proxy setting
            raise DnnfusionError(f"request failed: {_describe(err, request)}") from None
        if response.status_code < 400:
            return response
        response.read()
        response.close()
        if response.status_code in RETRY_STATUSES:
            if not idempotent:
                raise OutcomeUnknownError(str(error_for(response)), response.status_code)
            if not final:
                wait = retry_after_seconds(response.headers.get("retry-after"))
                pause(policy, attempt, wait, f"HTTP {response.status_code}", sleep)
                continue
        raise error_for(response)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def pause(policy: RetryPolicy, attempt: int, retry_after: float | None, why: str,
           sleep: Callable[[float], None]) -> None:
    wait = policy.delay(attempt, retry_after)
    log.info("%s; retry %d of %d in %.2f s", why, attempt, policy.max_attempts - 1, wait)
    sleep(wait)
