"""The error ABI of a compiled model: what its entry points return and its runner exits with.

The generated C writes these numbers (:mod:`compiler_core.codegen.checks` emits the checks,
:mod:`compiler_core.codegen.runner` the runner's ``main``); the runtime reads them
(:mod:`compiler_core.runtime.library` for a loaded library, :mod:`compiler_core.runtime.qemu`
for a runner binary). Both sides import them from here.

Return codes of ``dnf_run``/``dnf_run_profiled``: 0 success, 1 bad argument (NULL handle or
times array), and one code per row of :data:`CHECKS` (from :data:`FIRST_CODE` on). A runner
binary that the model stopped with such an error prints :func:`message` and exits with
:data:`MODEL_ERROR_EXIT`.
"""

from __future__ import annotations

from dataclasses import dataclass

FIRST_CODE = 2  # codes 0 and 1 are success and a bad argument
MODEL_ERROR_EXIT = 4  # the exit code of a runner binary the model stopped with an error


@dataclass(frozen=True)
class Check:
    """A run-time check of generated C: an integer operation that would trap."""

    code: int  # dnf_run's return value (the kernel's flag bit is 1 << (code - FIRST_CODE))
    op: str  # the ONNX operator that makes the check
    what: str  # "the compiled model <what> in block <i> (<op>)"

    @property
    def bit(self) -> int:
        return 1 << (self.code - FIRST_CODE)


DIV_BY_ZERO = Check(2, "Div", "divided by zero")
DIV_OVERFLOW = Check(3, "Div", "overflowed an integer division (the type's minimum divided by -1)")
MOD_BY_ZERO = Check(4, "Mod", "divided by zero")
INDEX_OUT_OF_RANGE = Check(5, "GatherElements, ScatterElements or ScatterND",
                           "met an index out of range")
CHECKS = (DIV_BY_ZERO, DIV_OVERFLOW, MOD_BY_ZERO, INDEX_OUT_OF_RANGE)
BY_CODE = {c.code: c for c in CHECKS}


def message(code: int, block: int) -> str:
    """The one-line error for ``dnf_run`` returning ``code`` with the failing ``block``."""
    c = BY_CODE.get(code)
    if c is None:
        return f"the compiled model failed in block {block} (error code {code})"
    return f"the compiled model {c.what} in block {block} ({c.op})"
