"""The compiler options a client may set on a compilation, typed.

The names and defaults are those of ``compiler_core.compile.OPTIONS`` (a test keeps them equal),
written out here so the API process validates a request without importing the compiler.
Types are strict (``"no"`` is not a boolean, ``1`` is not ``true``), unknown names are refused,
and every bound is explicit; a bad option is a 422 naming the field, before any job exists.
The job stores only the options the client set (:meth:`CompileOptions.stored`), as a plain dict
the worker passes to the compiler unchanged.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

DAY_S = 86400.0


class CompileOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=False)

    rewrite: bool = Field(default=True, description="algebraic rewriting (paper section 4.2)")
    fast_math: bool = Field(
        default=False, description="allow rewrites that are not exact for every float32 input"
    )
    memory_limit_bytes: int | None = Field(
        default=None,
        gt=0,
        le=2**63 - 1,
        description="refuse the model when arena + weights exceed this many bytes",
    )
    build_timeout_s: float = Field(
        default=600.0, gt=0, le=DAY_S, allow_inf_nan=False, description="C compiler time limit"
    )
    # Named validate_artifact in Python: a field called "validate" would shadow BaseModel's.
    validate_artifact: bool = Field(
        default=True, alias="validate", description="load the artifact once before publishing"
    )
    compare_with_onnxruntime: bool = Field(
        default=False,
        description="run the artifact against ONNX Runtime on random inputs (max error and "
        "both latencies in report.json); the service turns it on unless set to false",
    )

    def stored(self) -> dict[str, Any]:
        """The options the client set, under the compiler's names (what the job keeps)."""
        return self.model_dump(by_alias=True, exclude_unset=True)
