"""A compilation on the server: its status, waiting for it, its artifact and report."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dnnfusion.client.errors import CompilationFailedError, WaitTimeoutError

if TYPE_CHECKING:
    from dnnfusion.client.client import Client

FINAL_STATES = ("succeeded", "failed")


@dataclass(frozen=True)
class CompilationStatus:
    """One reading of ``GET /api/v1/compilations/{id}``.

    ``state``: queued | running | succeeded | failed; ``stage``: the compiler's current (or
    last) stage name, e.g. ``import``, ``plan``, ``codegen``, ``build``, ``validate``,
    ``storing``; ``stages_ms``: milliseconds each finished stage took; ``summary``: original
    node count, fused blocks, max abs error, our and ONNX Runtime's latency (ms) once
    succeeded; ``cache_hit``: True when the compile cache answered (nothing was compiled;
    ``cached_from`` is the compilation whose results it reuses); ``raw``: the whole JSON body.
    """

    id: str
    state: str
    stage: str | None
    error: str | None
    attempts: int
    stages_ms: dict[str, float]
    summary: dict[str, Any]
    artifact_bytes: int | None
    artifact_sha256: str | None
    raw: dict[str, Any] = field(repr=False)
    cache_hit: bool = False
    cached_from: str | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> CompilationStatus:
        timings = body.get("timings") or {}
        return cls(
            id=str(body["id"]),
            state=str(body["state"]),
            stage=body.get("stage"),
            error=body.get("error"),
            attempts=int(body.get("attempts") or 0),
            stages_ms=dict(timings.get("stages_ms") or {}),
            summary=dict(body.get("summary") or {}),
            artifact_bytes=body.get("artifact_bytes"),
            artifact_sha256=body.get("artifact_sha256"),
            raw=body,
            cache_hit=bool(body.get("cache_hit")),
            cached_from=str(body["cached_from"]) if body.get("cached_from") else None,
        )

    @property
    def done(self) -> bool:
        return self.state in FINAL_STATES


class CompileJob:
    """Handle on one compilation (``id``: its UUID as text). Made by
    :meth:`Client.compile` or :meth:`Client.compilation`; cheap, holds no connection."""

    def __init__(self, client: Client, compilation_id: str) -> None:
        self._client = client
        self.id = str(compilation_id)
        self.path = f"/api/v1/compilations/{self.id}"
        self.last_status: CompilationStatus | None = None

    def __repr__(self) -> str:
        return f"CompileJob({self.id!r})"

    def status(self) -> CompilationStatus:
        """The current status. Raises :class:`NotFoundError` (not this key's user's, or no such
        id), :class:`AuthenticationError`, :class:`ServerError`, :class:`ServerUnreachableError`."""
        self.last_status = CompilationStatus.from_json(self._client._get_json(self.path))
        return self.last_status

    def wait(
        self,
        timeout: float | None = None,
        on_progress: Callable[[CompilationStatus], None] | None = None,
        *,
        poll_interval_s: float = 0.25,
        max_poll_interval_s: float = 1.0,
    ) -> CompilationStatus:
        """Poll until the compilation succeeded; returns its final status.

        ``timeout``: seconds to wait in all (``None``: no limit). ``on_progress(status)`` is
        called after every poll (first every ``poll_interval_s`` seconds, growing to
        ``max_poll_interval_s``); compare ``status.stage`` with the previous one to see a stage
        change. Raises :class:`CompilationFailedError` with the server's reason when the job
        failed, :class:`WaitTimeoutError` when ``timeout`` passed first (the job goes on on the
        server), and the errors of :meth:`status`.
        """
        start = time.monotonic()
        interval = poll_interval_s
        while True:
            status = self.status()
            if on_progress is not None:
                on_progress(status)
            if status.state == "failed":
                raise CompilationFailedError(
                    f"compilation {self.id} failed: {status.error or 'no reason given'}", self.id
                )
            if status.state == "succeeded":
                return status
            elapsed = time.monotonic() - start
            if timeout is not None and elapsed >= timeout:
                raise WaitTimeoutError(
                    f"compilation {self.id} is still {status.state}"
                    f"{f' ({status.stage})' if status.stage else ''} after {timeout:g} s; it goes "
                    "on on the server"
                )
            pause = interval if timeout is None else min(interval, max(0.0, timeout - elapsed))
            time.sleep(pause)
            interval = min(interval * 1.5, max_poll_interval_s)

    def download(self, dest: str | Path) -> Path:
        """Download the artifact (a ``.tar.gz``: manifest, library, weights, plan, report) to
        ``dest``; a folder ``dest`` gets ``dnnfusion-<id>.tar.gz`` inside it. Streamed to a
        temporary file beside it, checked against the size and sha256 the status announces
        (read first unless a final status is at hand), then renamed
        (never a partial file at ``dest``). Returns the file's path. Raises
        :class:`ConflictError` (409) when the compilation has not succeeded,
        :class:`NotFoundError`, :class:`DnnfusionError` on a size/sha256 mismatch, and the
        transport errors after retries."""
        target = Path(dest)
        if target.is_dir():
            target = target / f"dnnfusion-{self.id}.tar.gz"
        status = self.last_status
        if status is None or not status.done:
            status = self.status()  # the size and sha256 the download is checked against
        return self._client._download(
            f"{self.path}/artifact",
            target,
            expected_bytes=status.artifact_bytes,
            expected_sha256=status.artifact_sha256,
        )

    def report(self) -> dict[str, Any]:
        """The compiler's ``report.json`` as a dict (fusion plan, blocks, latencies in ms,
        unfused-edge reasons). Raises :class:`ConflictError` before success,
        :class:`NotFoundError`, and the transport errors."""
        return self._client._get_json(f"{self.path}/report")
