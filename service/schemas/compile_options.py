"""The compiler options a client may set on a compilation, typed.

The names, defaults and descriptions come from ``compiler_core.options`` (standard library only,
the definition the compiler resolves a job's options with), so the API process validates a
request without importing the compiler; a test keeps the fields equal to its list.
Types are strict (``"no"`` is not a boolean, ``1`` is not ``true``), unknown names are refused,
and every bound is explicit; a bad option is a 422 naming the field, before any job exists.
The job stores only the options the client set (:meth:`CompileOptions.stored`), as a plain dict
the worker passes to the compiler unchanged.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from compiler_core.options import DESCRIPTIONS as D
from compiler_core.options import OPTIONS
from service.schemas.common import json_int

DAY_S = 86400.0


class CompileOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=False)

    rewrite: bool = Field(default=OPTIONS["rewrite"], description=D["rewrite"])
    fast_math: bool = Field(default=OPTIONS["fast_math"], description=D["fast_math"])
    fusion: bool = Field(default=OPTIONS["fusion"], description=D["fusion"])
    beyond_floor: bool = Field(default=OPTIONS["beyond_floor"], description=D["beyond_floor"])
    # At most 8 PiB: the largest bound the OpenAPI document (JSON numbers) states exactly.
    memory_limit_bytes: json_int(gt=0, le=2**53) | None = Field(
        default=OPTIONS["memory_limit_bytes"],
        description=D["memory_limit_bytes"],
    )
    build_timeout_s: float = Field(
        default=OPTIONS["build_timeout_s"],
        gt=0,
        le=DAY_S,
        allow_inf_nan=False,
        description=D["build_timeout_s"],
    )
    # Named validate_artifact in Python: a field called "validate" would shadow BaseModel's.
    validate_artifact: bool = Field(
        default=OPTIONS["validate"], alias="validate", description=D["validate"]
    )
    compare_with_onnxruntime: bool = Field(
        default=OPTIONS["compare_with_onnxruntime"],
        description=D["compare_with_onnxruntime"] + "; the service turns it on unless set to false",
    )

    def stored(self) -> dict[str, Any]:
        """The options the client set, under the compiler's names (what the job keeps)."""
        return self.model_dump(by_alias=True, exclude_unset=True)
