"""Loop nests in "row form": the leading dimensions are flattened into one parallel row loop
(``#pragma omp parallel for``), the trailing ones stay simple nested loops gcc can vectorize.

The same nest can be restricted to a range of rows, which is how a GEMM epilogue runs on each
row tile of the anchor's output while it is still in cache.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from compiler_core.codegen import index as ix
from compiler_core.codegen.cnames import Names

PARALLEL_MIN_ELEMENTS = 1 << 15
INNER_MIN_ELEMENTS = 64

Body = Callable[[ix.Index, int], list[str]]  # (index, indent) -> lines


def inner_split(shape: Sequence[int]) -> int:
    """How many trailing dimensions stay nested loops: the fewest holding >= 64 elements."""
    k, acc = 0, 1
    while k < len(shape) and acc < INNER_MIN_ELEMENTS:
        k += 1
        acc *= shape[-k]
    return k


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
    """Lines of a loop nest over ``shape`` running ``body`` at each index.

    ``inner``: trailing dimensions kept as nested loops (default :func:`inner_split`);
    ``rows``: C expressions bounding the flattened row loop (default: all rows).
    """
    shape = tuple(shape)
    if not shape:
        return body((), indent)
    k = inner_split(shape) if inner is None else inner
    row_shape, inner_shape = shape[: len(shape) - k], shape[len(shape) - k :]
    n_rows = math.prod(row_shape)
    pad = "    "
    lines: list[str] = []
    idx: list[str] = []
    level = indent
    # A caller's row range applies even without row dimensions: a rank-1 GEMM output
    # (vector @ matrix) is one implicit row, bounded by the anchor's row tile.
    if row_shape or rows is not None:
        r = names.fresh("r")
        lo, hi = rows or ("0", str(n_rows))
        total = math.prod(shape) * work_per_element
        if parallel and n_rows > 1 and total >= PARALLEL_MIN_ELEMENTS:
            lines.append(pad * level + "#pragma omp parallel for schedule(static)")
        lines.append(pad * level + f"for (int64_t {r} = {lo}; {r} < {hi}; ++{r}) {{")
        level += 1
        for part in ix.unravel(r, row_shape):
            if part in ("0", r):
                idx.append(part)
                continue
            name = names.fresh("i")
            lines.append(pad * level + f"const int64_t {name} = {part};")
            idx.append(name)
    closers = 1 if row_shape or rows is not None else 0
    for d in inner_shape:
        if d == 1:
            idx.append("0")
            continue
        i = names.fresh("i")
        lines.append(pad * level + f"for (int64_t {i} = 0; {i} < {d}; ++{i}) {{")
        idx.append(i)
        level += 1
        closers += 1
    lines += body(tuple(idx), level)
    for _ in range(closers):
        level -= 1
        lines.append(pad * level + "}")
    return lines
