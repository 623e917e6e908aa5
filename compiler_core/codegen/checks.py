"""Run-time checks in generated C: an integer operation that would trap is an error, not a crash.

An integer division by zero, or of the type's minimum by -1 (``INT32_MIN / -1``), raises
SIGFPE on x86-64 and is undefined behaviour in C. Such kernels compute with a safe divisor
instead and OR a bit into the kernel's flag ``dnf_err`` (an ``int`` local of the kernel): no
branch in the loop, and in OpenMP loops a ``reduction(|:dnf_err)`` clause (the ``flag`` of
the tree's parallel and simd statements, set by :func:`merge_flag`) merges the threads' flags. A kernel with checks returns its flag; the
entry point stops at the first block whose flag is set and returns the :class:`Check`'s
``code`` (``dnf_last_error`` gives the block). Float kernels have no checks and stay ``void``.

The checks themselves, their return codes and the one-line message are the error ABI shared
with the runtime (:mod:`compiler_core.target.abi`); this module writes them into C.
"""

from __future__ import annotations

import re
from dataclasses import replace

from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import (
    Assign,
    Block,
    For,
    Function,
    If,
    Omp,
    Raw,
    Region,
    Stmt,
    While,
)
from compiler_core.codegen.cnames import c_string
from compiler_core.target.abi import CHECKS, Check

FLAG = "dnf_err"


def flag(cond: str, check: Check) -> Assign:
    """The statement recording ``check`` when the C condition ``cond`` holds (branch-free):
    ``dnf_err |= (cond) ? bit : 0;``."""
    return Assign(FLAG, f"({cond}) ? {check.bit} : 0", "|=")


def flag_line(cond: str, check: Check) -> str:
    """:func:`flag` as one line of C."""
    return render([flag(cond, check)])[0]


# Constructs that need the clause: a parallel region (its threads get private flags) and a
# simd loop (its lanes do). A worksharing "omp for" inside a region must not repeat it (the
# flag is already private there).
_NEEDS_REDUCTION = re.compile(r"^\s*#pragma omp (parallel\b|simd\b)")


def merge_flag(stmts: list[Stmt]) -> list[Stmt]:
    """The statements of a kernel with checks, with every OpenMP parallel loop, parallel
    region and simd loop merging the flag (``flag=dnf_err``: the printer adds
    ``reduction(|:dnf_err)``), so it is merged whichever loop the check sits in (an epilogue
    in an anchor's tile loop, a reduction's prologue). :class:`Raw` lines (C not built as a
    tree: an anchor's printed loops) get the clause by :func:`add_reductions`."""
    return [_merge(s) for s in stmts]


def _merge(s: Stmt) -> Stmt:
    if isinstance(s, Raw):
        return Raw(add_reductions(s.lines))
    if isinstance(s, For):
        flag = FLAG if s.omp in (Omp.PARALLEL_FOR, Omp.SIMD) else s.flag
        return replace(s, body=merge_flag(s.body), flag=flag)
    if isinstance(s, Region):
        return replace(s, body=merge_flag(s.body), flag=FLAG)
    if isinstance(s, (Block, While, Function)):
        return replace(s, body=merge_flag(s.body))
    if isinstance(s, If):
        return replace(s, then=merge_flag(s.then),
                       orelse=None if s.orelse is None else merge_flag(s.orelse))
    return s


def add_reductions(lines: list[str]) -> list[str]:
    """Printed ``lines`` with ``reduction(|:dnf_err)`` added to every OpenMP parallel region
    and simd loop (what :func:`merge_flag` does on the tree, for lines already printed)."""
    return [
        f"{ln} reduction(|:{FLAG})" if _NEEDS_REDUCTION.match(ln) else ln for ln in lines
    ]


def c_check_table() -> str:
    """C initializers ``{code, "what", "op"}`` of :data:`CHECKS` (for the runner's messages)."""
    return ", ".join(f"{{{c.code}, {c_string(c.what)}, {c_string(c.op)}}}" for c in CHECKS)
