"""The memory limit a compilation is held to, and its two checks.

The limit: the ``memory_limit_bytes`` compile option, else ``$DNNFUSION_MEMORY_LIMIT_BYTES``
(also the compilation service's setting of that name), else :data:`DEFAULT_MEMORY_LIMIT_BYTES`.

1. Before rewriting and planning, :func:`check_estimate` compares the lower bound of
   :func:`compiler_core.frontend.memory.estimate_memory` with it, so huge input shapes are
   refused before any work or memory is spent on them.
2. After code generation, :func:`check_artifact_memory` compares the exact arena + weights.

Both raise :class:`~compiler_core.errors.ResourceLimitError` with the numbers, in one line.
"""

from __future__ import annotations

import os

from compiler_core.errors import DnnFusionError, ResourceLimitError
from compiler_core.frontend.memory import MemoryEstimate
from compiler_core.planner.report import human_bytes

GiB = 1024**3
DEFAULT_MEMORY_LIMIT_BYTES = 8 * GiB
MEMORY_LIMIT_ENV = "DNNFUSION_MEMORY_LIMIT_BYTES"
_HINT = f"set memory_limit_bytes (or ${MEMORY_LIMIT_ENV})"


def memory_limit(option: int | None = None) -> int:
    """The limit in bytes: ``option``, else ``$DNNFUSION_MEMORY_LIMIT_BYTES``, else 8 GiB.

    Raises :class:`DnnFusionError` for a value that is not a positive integer."""
    if option is not None:
        if isinstance(option, bool) or not isinstance(option, int) or option <= 0:
            raise DnnFusionError(f"memory_limit_bytes must be a positive integer, not {option!r}")
        return option
    text = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if not text:
        return DEFAULT_MEMORY_LIMIT_BYTES
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise DnnFusionError(f"${MEMORY_LIMIT_ENV} must be a positive integer, not {text[:40]!r}")
    return value


def check_estimate(estimate: MemoryEstimate, limit: int, source: str) -> None:
    """Refuse a model whose lower-bound need is over ``limit`` bytes."""
    need = estimate.total
    if need <= limit:
        return
    parts = [f"weights {human_bytes(estimate.weights)}",
             f"inputs {human_bytes(estimate.inputs)}",
             f"outputs {human_bytes(estimate.outputs)}"]
    if estimate.largest is not None:
        t = estimate.largest
        parts.append(f"largest intermediate {t.name!r} {list(t.shape)} {t.dtype} "
                     f"{human_bytes(t.nbytes)}")
    raise ResourceLimitError(
        f"{source}: at these input shapes the model needs about {human_bytes(need)} "
        f"({' + '.join(parts)}), over the memory limit of {human_bytes(limit)}; {_HINT}"
    )


def check_artifact_memory(arena_bytes: int, weights_bytes: int, limit: int) -> None:
    """Refuse generated code whose arena + weights exceed ``limit`` bytes."""
    need = arena_bytes + weights_bytes
    if need > limit:
        raise ResourceLimitError(
            f"model needs {need} bytes ({human_bytes(need)}: arena {arena_bytes} + weights "
            f"{weights_bytes}), over the memory limit of {limit} bytes "
            f"({human_bytes(limit)}); {_HINT}"
        )
