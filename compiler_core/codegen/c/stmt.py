"""The statement tree of a kernel: what C a block runs, before any text is laid out.

Nodes are plain dataclasses; :func:`compiler_core.codegen.c.printer.render` turns a list of
them into lines and owns indentation and OpenMP pragmas. Expressions inside nodes are C text
the generator made (identifiers from :class:`~compiler_core.codegen.cnames.Names`, literals,
:class:`~compiler_core.codegen.c.affine.Affine` indices); model text enters only through
:class:`Comment` after :func:`~compiler_core.codegen.cnames.comment`.

:class:`Raw` is the escape hatch for code not (yet) built as a tree: lines indented relative
to the enclosing block, which the printer shifts to the current depth.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from compiler_core.codegen.c.affine import Affine


class Omp(Enum):
    """How a ``for`` loop is shared among OpenMP threads."""

    SERIAL = ""
    PARALLEL_FOR = "parallel for"  # its own parallel region
    FOR = "for"  # a worksharing loop inside an enclosing :class:`Region`
    SIMD = "simd"  # lanes of one thread (``clause``: e.g. ``reduction(+:t3)``)


@dataclass
class Comment:
    text: str  # already safe for a C comment


@dataclass
class Decl:
    """``[const ]ctype name[ = init];``"""

    ctype: str
    name: str
    init: str | Affine | None = None
    const: bool = True


@dataclass
class Assign:
    """``target op value;`` with ``op`` one of ``=``, ``+=``, ``|=``..."""

    target: str
    value: str | Affine
    op: str = "="


@dataclass
class Expr:
    """An expression statement (a call): ``text;``"""

    text: str


@dataclass
class Raw:
    """C lines as they are, indented relative to the enclosing block."""

    lines: list[str]


@dataclass
class If:
    """``if (cond) { then } else { orelse }``; ``inline``: ``then`` on the ``if`` line when
    all its statements are simple: ``if (cond) stmt;`` for one, ``if (cond) { s1; s2; }``
    for several, followed by `` else {`` and the ``orelse`` block when there is one."""

    cond: str
    then: list[Stmt]
    orelse: list[Stmt] | None = None
    inline: bool = False


@dataclass
class While:
    """``while (cond) { body }``."""

    cond: str
    body: list[Stmt]


@dataclass
class Block:
    """``{ body }``: a scope of its own."""

    body: list[Stmt]


@dataclass
class For:
    """``for (int64_t var = lo; var < hi; ++var | var += step) { body }``.

    ``omp``: worksharing or simd (the pragma line is printed above the loop); ``num_threads``:
    a C expression capping the threads of a parallel loop; ``clause``: more OpenMP clauses;
    ``inline``: ``for (...) stmt;`` on one line when the body is one simple statement;
    ``flag``: an ``int`` error flag the threads (or simd lanes) OR together,
    ``reduction(|:flag)`` (see :func:`compiler_core.codegen.checks.merge_flag`)."""

    var: str
    lo: str | int | Affine
    hi: str | int | Affine
    body: list[Stmt]
    step: str | int = 1
    omp: Omp = Omp.SERIAL
    num_threads: str | None = None
    clause: str = ""
    inline: bool = False
    flag: str | None = None


@dataclass
class Region:
    """``#pragma omp parallel [num_threads(n)] { body }``: threads sharing the ``Omp.FOR``
    loops of ``body``; ``flag`` as for :class:`For` (the worksharing loops inside share the
    region's private copy, so they carry none)."""

    body: list[Stmt]
    num_threads: str | None = None
    flag: str | None = None


@dataclass
class Function:
    """``[attrs ]static ret name(params) { body }``."""

    ret: str
    name: str
    params: str
    body: list[Stmt]
    attrs: str = ""
    comment: str | None = None


Stmt = Comment | Decl | Assign | Expr | Raw | If | While | Block | For | Region | Function


def extent(start: str | Affine, tile: str | int, total: str | int) -> str:
    """The length of the tile starting at ``start``: ``tile``, or what is left of ``total``
    for the last one (the one last-tile clamp every tiled loop uses)."""
    return f"{start} + {tile} <= {total} ? {tile} : {total} - {start}"


def tile_for(var: str, size: str, total: str | int, tile: str | int, body: list[Stmt], *,
             omp: Omp = Omp.SERIAL) -> For:
    """``for (var = 0; var < total; var += tile) { const int64_t size = <clamp>; body }``:
    tiles of ``tile`` iterations, the last one clamped to ``total``."""
    clamp = Decl("int64_t", size, extent(var, tile, total))
    return For(var, 0, total, [clamp, *body], step=tile, omp=omp)
