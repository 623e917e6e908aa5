"""Run-time checks in generated C: an integer operation that would trap is an error, not a crash.

An integer division by zero, or of the type's minimum by -1 (``INT32_MIN / -1``), raises
SIGFPE on x86-64 and is undefined behaviour in C. Such kernels compute with a safe divisor
instead and OR a bit into the kernel's flag ``dnf_err`` (an ``int`` local of the kernel): no
branch in the loop, and in OpenMP loops a ``reduction(|:dnf_err)`` clause (added by
:func:`add_reductions`) merges the threads' flags. A kernel with checks returns its flag; the
entry point stops at the first block whose flag is set and returns the :class:`Check`'s
``code`` (``dnf_last_error`` gives the block). Float kernels have no checks and stay ``void``.

Return codes of ``dnf_run``/``dnf_run_profiled``: 0 success, 1 bad argument (NULL handle or
times array), and one code per row of :data:`CHECKS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from compiler_core.codegen.cnames import c_string

FLAG = "dnf_err"
FIRST_CODE = 2  # codes 0 and 1 are success and a bad argument


@dataclass(frozen=True)
class Check:
    code: int  # dnf_run's return value (the kernel's flag bit is 1 << (code - FIRST_CODE))
    op: str  # the ONNX operator that makes the check
    what: str  # "the compiled model <what> in block <i> (<op>)"

    @property
    def bit(self) -> int:
        return 1 << (self.code - FIRST_CODE)


DIV_BY_ZERO = Check(2, "Div", "divided by zero")
DIV_OVERFLOW = Check(3, "Div", "overflowed an integer division (the type's minimum divided by -1)")
MOD_BY_ZERO = Check(4, "Mod", "divided by zero")
CHECKS = (DIV_BY_ZERO, DIV_OVERFLOW, MOD_BY_ZERO)
BY_CODE = {c.code: c for c in CHECKS}


def message(code: int, block: int) -> str:
    """The one-line error for ``dnf_run`` returning ``code`` with the failing ``block``."""
    c = BY_CODE.get(code)
    if c is None:
        return f"the compiled model failed in block {block} (error code {code})"
    return f"the compiled model {c.what} in block {block} ({c.op})"


def flag_line(cond: str, check: Check) -> str:
    """C statement recording ``check`` when the C condition ``cond`` holds (branch-free)."""
    return f"{FLAG} |= ({cond}) ? {check.bit} : 0;"


# Constructs that need the clause: a parallel region (its threads get private flags) and a
# simd loop (its lanes do). A worksharing "omp for" inside a region must not repeat it (the
# flag is already private there).
_NEEDS_REDUCTION = re.compile(r"^\s*#pragma omp (parallel\b|simd\b)")


def add_reductions(lines: list[str]) -> list[str]:
    """``lines`` of a kernel with checks, with ``reduction(|:dnf_err)`` added to every OpenMP
    parallel region and simd loop, so the flag is merged whichever loop the check sits in
    (an epilogue in an anchor's tile loop, a reduction's prologue)."""
    return [
        f"{ln} reduction(|:{FLAG})" if _NEEDS_REDUCTION.match(ln) else ln for ln in lines
    ]


def c_check_table() -> str:
    """C initializers ``{code, "what", "op"}`` of :data:`CHECKS` (for the runner's messages)."""
    return ", ".join(f"{{{c.code}, {c_string(c.what)}, {c_string(c.op)}}}" for c in CHECKS)
