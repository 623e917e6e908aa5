"""The agent's HTTP client of the service's ``/api/v1/agent`` endpoints, with retries and
exponential backoff for connection errors and 5xx answers."""

from __future__ import annotations

import time

import httpx

from device_agent.logs import log


class ServiceError(Exception):
    """The service refused a call (4xx) or stayed unreachable after the retries."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ServiceClient:
    """Calls to ``base_url`` + ``/api/v1/agent/...`` with the ``X-API-Key: <key>`` header.

    A connection error, a timeout or a 5xx is retried up to ``retries`` times, waiting
    ``backoff_s`` then twice as long each time (capped at ``max_backoff_s``); a 4xx is a
    :class:`ServiceError` at once. ``http`` may be any ``httpx.Client`` (tests pass the app's
    TestClient)."""

    def __init__(self, base_url: str, key: str, *, retries: int = 5, backoff_s: float = 0.5,
                 max_backoff_s: float = 30.0, timeout_s: float = 30.0,
                 http: httpx.Client | None = None) -> None:
        self.base = base_url.rstrip("/") + "/api/v1/agent"
        self.retries, self.backoff_s, self.max_backoff_s = retries, backoff_s, max_backoff_s
        self.http = http or httpx.Client(timeout=timeout_s)
        self.headers = {"X-API-Key": key}

    def post(self, path: str, body: dict) -> tuple[int, dict | None]:
        """POST ``body`` as JSON; returns (status, JSON answer or None for 204)."""
        wait = self.backoff_s
        for attempt in range(self.retries + 1):
            try:
                r = self.http.post(self.base + path, json=body, headers=self.headers)
            except httpx.HTTPError as e:
                problem = f"{type(e).__name__}: {e}"
            else:
                if r.status_code < 500:
                    if r.status_code >= 400:
                        try:
                            detail = r.json().get("detail")
                        except ValueError:
                            detail = r.text[:200]
                        raise ServiceError(f"{path}: {r.status_code} {detail}", r.status_code)
                    return r.status_code, (r.json() if r.content else None)
                problem = f"HTTP {r.status_code}"
            if attempt == self.retries:
                raise ServiceError(f"{path}: service unreachable ({problem})")
            log("service_retry", "warning", path=path, problem=problem, wait_s=wait)
            time.sleep(wait)
            wait = min(wait * 2, self.max_backoff_s)
        raise AssertionError("unreachable")

    def register(self, devices: list[dict]) -> dict:
        return self.post("/register", {"devices": devices})[1]

    def heartbeat(self, statuses: list[dict]) -> dict:
        return self.post("/heartbeat", {"devices": statuses})[1]

    def lease(self, device_classes: list[str], *, n: int = 1, lease_s: float = 600) -> list[dict]:
        body = {"max_requests": n, "lease_seconds": lease_s, "device_classes": device_classes}
        return self.post("/lease", body)[1]["requests"]

    def result(self, request_id: int, body: dict) -> dict:
        return self.post(f"/requests/{int(request_id)}/results", body)[1]

    def release(self, request_id: int, *, failed: bool = False, reason: str = "") -> None:
        self.post(f"/requests/{int(request_id)}/release",
                  {"failed": failed, "reason": reason[:255]})
