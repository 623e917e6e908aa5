"""The compile options: names, defaults and what each does. Standard library only.

One definition for both sides: :func:`compiler_core.compile.compile_model` resolves a job's
options with :func:`resolve`, and the service's request schema
(``service/schemas/compile_options.py``) takes its names, defaults and descriptions from
:data:`OPTION_LIST`, so the API process validates a request without importing the compiler
(this module imports nothing but :mod:`compiler_core.errors`, itself dependency-free).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from compiler_core.errors import DnnFusionError


@dataclass(frozen=True)
class Option:
    name: str
    default: bool | int | float | None
    description: str


OPTION_LIST: tuple[Option, ...] = (
    Option("rewrite", True, "algebraic rewriting (paper section 4.2)"),
    Option(
        "fusion",
        True,
        "operator fusion (paper section 4.3); off: every operator is its own kernel (the "
        "ablation's baseline, bench.ablation)",
    ),
    Option("fast_math", False, "allow rewrites that are not exact for every float32 input"),
    # compiler_core.planner.beyond: blocks of kind "attention" and "horizontal" (issue #13).
    Option(
        "beyond_floor",
        True,
        "go under the mapping-type floor where it pays: each attention chain (MatMul, scale, "
        "mask, Softmax, MatMul) as one kernel, sibling MatMuls on one input (Q, K, V) as one "
        "GEMM",
    ),
    # The estimate after import, then arena + weights exactly (compiler_core.limits).
    Option(
        "memory_limit_bytes",
        None,
        "refuse the model when arena + weights exceed this many bytes (default: "
        "$DNNFUSION_MEMORY_LIMIT_BYTES, else 8 GiB)",
    ),
    Option("build_timeout_s", 600.0, "C compiler time limit, seconds"),
    Option("validate", True, "load the artifact once before publishing"),
    # Host target only; max error and both latencies go into report.json (compiler_core.runtime.validate).
    Option(
        "compare_with_onnxruntime",
        False,
        "run the artifact against ONNX Runtime on random inputs (max error and both latencies "
        "in report.json)",
    ),
)

OPTIONS: dict[str, Any] = {o.name: o.default for o in OPTION_LIST}  # name -> default
DESCRIPTIONS: dict[str, str] = {o.name: o.description for o in OPTION_LIST}


def resolve(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every option: the defaults overridden by ``options``. An unknown name raises
    :class:`~compiler_core.errors.DnnFusionError` listing the known ones (values are not
    type-checked here: the service's schema does that for requests)."""
    opts = dict(OPTIONS)
    for k, v in (options or {}).items():
        if k not in OPTIONS:
            raise DnnFusionError(f"unknown compile option {k!r}; known: {sorted(OPTIONS)}")
        opts[k] = v
    return opts
