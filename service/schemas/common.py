from __future__ import annotations

from pydantic import BaseModel


class ErrorPublic(BaseModel):
    """Every error response: a one-line reason."""

    detail: str


class HealthPublic(BaseModel):
    status: str
