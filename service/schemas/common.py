from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict


class ErrorPublic(BaseModel):
    """Every error response: a one-line reason (more fields may be added; ``detail`` stays)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"detail": "model not found"}]})

    detail: str


class HealthPublic(BaseModel):
    status: str


def _integral(value: object) -> object:
    """An integral JSON number written with a fraction (``3.0``) as the int it is."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def json_int(**bounds: int) -> Any:
    """A strict JSON integer as JSON Schema defines one, with ``bounds`` (``ge``, ``gt``, ``le``,
    ``lt``): 3 and 3.0 are integers; "3", true and 3.5 are not (pydantic's strict int alone
    refuses 3.0, which the OpenAPI document promises to accept). Keep bounds within 2**53: the
    document writes them as JSON numbers (doubles)."""
    # The bounds go before the validator, or pydantic leaves them out of the JSON schema.
    return Annotated[int, Strict(), Field(**bounds), BeforeValidator(_integral)]
