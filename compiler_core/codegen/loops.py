"""Loop nests in "row form": the leading dimensions are flattened into one parallel row loop
(``#pragma omp parallel for``), the trailing ones stay simple nested loops gcc can vectorize.

The same nest can be restricted to a range of rows, which is how a GEMM epilogue runs on each
row tile of the anchor's output while it is still in cache. :func:`row_nest` builds the nest
as statements (:mod:`compiler_core.codegen.c.stmt`); :func:`row_loops` prints it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from compiler_core.codegen import index as ix
from compiler_core.codegen.c.affine import Affine
from compiler_core.codegen.c.policy import ELEMENT, parallel_policy
from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import Decl, For, Omp, Raw, Stmt
from compiler_core.codegen.cnames import Names

INNER_MIN_ELEMENTS = 64

Body = Callable[[ix.Index, int], list[str]]  # (index, indent) -> lines
NestBody = Callable[[ix.Index], list[Stmt]]  # index -> statements


def inner_split(shape: Sequence[int]) -> int:
    """How many trailing dimensions stay nested loops: the fewest holding >= 64 elements."""
    k, acc = 0, 1
    while k < len(shape) and acc < INNER_MIN_ELEMENTS:
        k += 1
        acc *= shape[-k]
    return k


def row_nest(
    names: Names,
    shape: Sequence[int],
    body: NestBody,
    *,
    inner: int | None = None,
    rows: tuple[str, str] | None = None,
    work_per_element: int = 1,
    parallel: bool = True,
) -> list[Stmt]:
    """Statements of a loop nest over ``shape`` running ``body`` at each index.

    ``inner``: trailing dimensions kept as nested loops (default :func:`inner_split`);
    ``rows``: C expressions bounding the flattened row loop (default: all rows);
    ``work_per_element``: operations per element, for :func:`parallel_policy`;
    ``parallel``: False inside a loop that is already parallel.
    """
    shape = tuple(shape)
    if not shape:
        return body(())
    k = inner_split(shape) if inner is None else inner
    row_shape, inner_shape = shape[: len(shape) - k], shape[len(shape) - k :]
    n_rows = math.prod(row_shape)
    # A caller's row range applies even without row dimensions: a rank-1 GEMM output
    # (vector @ matrix) is one implicit row, bounded by the anchor's row tile.
    has_rows = bool(row_shape) or rows is not None
    idx: list[Affine] = []
    head: list[Stmt] = []
    r = ""
    if has_rows:
        r = names.fresh("r")
        for part in ix.unravel(r, row_shape):
            if part.is_const or part.var == r:
                idx.append(part)
                continue
            name = names.fresh("i")
            head.append(Decl("int64_t", name, part))
            idx.append(Affine.of(name))
    loops: list[tuple[str, int]] = []
    for d in inner_shape:
        if d == 1:
            idx.append(ix.ZERO)
            continue
        i = names.fresh("i")
        loops.append((i, d))
        idx.append(Affine.of(i))
    stmts = body(tuple(idx))
    for i, d in reversed(loops):
        stmts = [For(i, 0, d, stmts)]
    if not has_rows:
        return stmts
    lo, hi = rows or ("0", str(n_rows))
    work = math.prod(shape) * work_per_element * ELEMENT
    omp = Omp.PARALLEL_FOR if parallel and parallel_policy(work, n_rows) else Omp.SERIAL
    return [For(r, lo, hi, head + stmts, omp=omp)]


def row_loops(
    names: Names,
    shape: Sequence[int],
    body: Body,
    *,
    inner: int | None = None,
    rows: tuple[str, str] | None = None,
    indent: int = 1,
    work_per_element: int = 1,
    parallel: bool = True,
) -> list[str]:
    """Lines of :func:`row_nest` at ``indent``; ``body(idx, indent)`` gives the lines of one
    element with indentation relative to the loop body (its ``indent`` is 0)."""
    nest = row_nest(names, shape, lambda idx: [Raw(body(idx, 0))], inner=inner, rows=rows,
                    work_per_element=work_per_element, parallel=parallel)
    return render(nest, indent)
