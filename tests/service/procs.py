"""Subprocesses the service tests start (uvicorn, celery, dnnfusion serve): ``Proc`` and
``free_port`` are bench.stack's (the compose-shaped stack starts the same processes)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bench.stack import Proc, free_port

__all__ = ["REPO", "Proc", "free_port", "health_up"]

REPO = Path(__file__).resolve().parents[2]


def health_up(base_url: str) -> Callable[[], bool]:
    """A readiness probe for :meth:`Proc.wait_for`: ``GET {base_url}/api/v1/health`` answers 2xx."""
    import httpx

    def up() -> bool:
        try:
            return httpx.get(f"{base_url}/api/v1/health", timeout=1).is_success
        except httpx.HTTPError:
            return False

    return up
