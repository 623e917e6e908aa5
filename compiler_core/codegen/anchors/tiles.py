"""Parallel tile loops with a per-thread workspace slot.

An anchor that needs scratch memory (an im2col panel, a col2im panel) declares
``workspace(ctx, node)``, its floats; the block gets one arena buffer of that size (see
:func:`workspace_value`). A parallel tile loop with per-thread scratch reserves
``WORKSPACE_SLOTS`` slots, runs on at most that many threads and each thread uses the slot of
its OpenMP thread number, so the arena stays static whatever the thread count chosen at run
time. Loops are statements of :mod:`compiler_core.codegen.c.stmt` (:func:`tiles`,
:func:`region`); whether one runs in parallel is :func:`~compiler_core.codegen.c.policy.parallel_policy`'s
call; :func:`tile_loop` and :func:`parallel_region` print them for line-based callers.
"""

from __future__ import annotations

from collections.abc import Callable

import onnx_ir as ir

from compiler_core.codegen.c.policy import parallel_policy
from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import Block, Decl, For, Omp, Raw, Region, Stmt, extent
from compiler_core.codegen.context import KernelContext

WORKSPACE_SLOTS = 8  # threads that may run a tiled anchor with scratch at once (phones: 8 cores)
SLOT_ALIGN = 16  # floats (64 bytes, a cache line) a slot's stride is a multiple of


def padded(floats: int) -> int:
    """The stride of a per-thread slot of ``floats``: a whole number of cache lines, so two
    threads never write the same line (SqueezeNet's 3x3/2 MaxPool, 111-float row buffers
    444 bytes apart, took 225 us on 2 threads and 135 us on one)."""
    return -(-floats // SLOT_ALIGN) * SLOT_ALIGN

# body(tile_var, workspace_ptr_or_None, indent) -> lines
TileBody = Callable[[str, str | None, int], list[str]]
# body(tile_var, workspace_ptr_or_None) -> statements
TileStmts = Callable[[str, str | None], list[Stmt]]


def workspace_value(block_name: str, floats: int) -> ir.Value:
    """A synthetic arena value for the anchor's scratch (no node produces it)."""
    return ir.Value(
        name=f"{block_name}_workspace",
        shape=ir.Shape([floats]),
        type=ir.TensorType(ir.DataType.FLOAT),
    )


def max_threads(ctx: KernelContext) -> tuple[str, Decl]:
    """(name, declaration) of the thread count of a slot-using parallel loop."""
    nt = ctx.names.fresh("nt")
    return nt, Decl("int", nt, f"omp_get_max_threads() < {WORKSPACE_SLOTS}"
                               f" ? omp_get_max_threads() : {WORKSPACE_SLOTS}")


def region(ctx: KernelContext, body: list[Stmt]) -> list[Stmt]:
    """``{ nt = ...; #pragma omp parallel num_threads(nt) { body } }``: the body shares work
    with ``Omp.FOR`` loops on at most ``WORKSPACE_SLOTS`` threads."""
    nt, decl = max_threads(ctx)
    return [Block([decl, Region(body, num_threads=nt)])]


def parallel_region(ctx: KernelContext, body: Callable[[int], list[str]],
                    indent: int = 1) -> list[str]:
    """Lines of :func:`region` around ``body(indent)``'s lines."""
    nt, decl = max_threads(ctx)
    return render([Block([decl, Region([Raw(body(0))], num_threads=nt)])], indent)


def runs_parallel(n_tiles: int, work: int) -> bool:
    """Whether a tile loop runs ``n_tiles`` tiles of ``work`` total operations in
    parallel (an anchor sizing per-thread slots asks the same question)."""
    return parallel_policy(work, n_tiles)


def tiles(ctx: KernelContext, n_tiles: int, work: int, body: TileStmts, *,
          slot_floats: int = 0) -> list[Stmt]:
    """``for (t = 0; t < n_tiles; ++t) body`` in parallel when ``work`` (total operations)
    is worth it; ``body`` gets its slot pointer when ``slot_floats`` > 0 (the workspace then
    holds ``WORKSPACE_SLOTS`` slots of that size, each at a stride of :func:`padded`)."""
    t = ctx.names.fresh("t")
    parallel = runs_parallel(n_tiles, work)
    out: list[Stmt] = []
    nt = None
    if parallel and slot_floats:
        nt, decl = max_threads(ctx)
        out.append(decl)
    inner: list[Stmt] = []
    ws = None
    if slot_floats:
        ws = ctx.names.fresh("ws")
        slot = "(int64_t)omp_get_thread_num()" if parallel else "0"
        inner.append(Decl("float* restrict", ws,
                          f"{ctx.ptr(ctx.workspace)} + {slot}*{padded(slot_floats)}",
                          const=False))
    inner += body(t, ws)
    omp = Omp.PARALLEL_FOR if parallel else Omp.SERIAL
    return [*out, For(t, 0, n_tiles, inner, omp=omp, num_threads=nt)]


def tile_loop(ctx: KernelContext, n_tiles: int, work: int, body: TileBody, *,
              slot_floats: int = 0, indent: int = 1) -> list[str]:
    """Lines of :func:`tiles` at ``indent``; ``body(t, ws, indent)`` gives lines indented
    relative to the loop body (its ``indent`` is 0)."""
    return render(tiles(ctx, n_tiles, work, lambda t, ws: [Raw(body(t, ws, 0))],
                        slot_floats=slot_floats), indent)


def split(total: int, parts: int, align: int = 1) -> tuple[int, int]:
    """(block, count): ``total`` cut into about ``parts`` blocks, a multiple of ``align``."""
    parts = max(1, min(parts, total))
    block = -(-total // parts)
    block = min(total, -(-block // align) * align)
    return block, -(-total // block)


def bounded(var: str, block: int, total: int) -> str:
    """C expression of the length of block ``var`` (the last one may be shorter)."""
    if total % block == 0:
        return str(block)
    return f"({extent(f'{var}*{block}', block, total)})"
