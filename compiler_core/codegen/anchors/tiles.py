"""Parallel tile loops with a per-thread workspace slot.

An anchor that needs scratch memory (an im2col panel, a col2im panel) declares
``workspace(ctx, node)``, its floats; the block gets one arena buffer of that size (see
:func:`workspace_value`). A parallel tile loop with per-thread scratch reserves
``WORKSPACE_SLOTS`` slots, runs on at most that many threads and each thread uses the slot of
its OpenMP thread number, so the arena stays static whatever the thread count chosen at run
time.
"""

from __future__ import annotations

from collections.abc import Callable

import onnx_ir as ir

from compiler_core.codegen.context import KernelContext

PAD = "    "
WORKSPACE_SLOTS = 8  # threads that may run a tiled anchor with scratch at once (phones: 8 cores)
PARALLEL_MIN_WORK = 1 << 20  # multiply-adds (or loads) below which a loop stays serial

# body(tile_var, workspace_ptr_or_None, indent) -> lines
TileBody = Callable[[str, str | None, int], list[str]]


def workspace_value(block_name: str, floats: int) -> ir.Value:
    """A synthetic arena value for the anchor's scratch (no node produces it)."""
    return ir.Value(
        name=f"{block_name}_workspace",
        shape=ir.Shape([floats]),
        type=ir.TensorType(ir.DataType.FLOAT),
    )


def max_threads(ctx: KernelContext, indent: int) -> tuple[str, str]:
    """(name, declaration line) of the thread count of a slot-using parallel loop."""
    nt = ctx.names.fresh("nt")
    return nt, PAD * indent + (f"const int {nt} = omp_get_max_threads() < {WORKSPACE_SLOTS}"
                               f" ? omp_get_max_threads() : {WORKSPACE_SLOTS};")


def parallel_region(ctx: KernelContext, body: Callable[[int], list[str]],
                    indent: int = 1) -> list[str]:
    """``#pragma omp parallel { body }``; the body shares work with ``omp for`` loops."""
    nt, decl = max_threads(ctx, indent)
    return [
        PAD * indent + "{",
        decl,
        PAD * indent + f"#pragma omp parallel num_threads({nt})",
        PAD * indent + "{",
        *body(indent + 1),
        PAD * indent + "}",
        PAD * indent + "}",
    ]


def runs_parallel(n_tiles: int, work: int) -> bool:
    """Whether :func:`tile_loop` runs ``n_tiles`` tiles of ``work`` total operations in
    parallel (an anchor sizing per-thread slots asks the same question)."""
    return n_tiles > 1 and work >= PARALLEL_MIN_WORK


def tile_loop(
    ctx: KernelContext,
    n_tiles: int,
    work: int,
    body: TileBody,
    *,
    slot_floats: int = 0,
    indent: int = 1,
) -> list[str]:
    """``for (t = 0; t < n_tiles; ++t) body`` in parallel when ``work`` (total operations)
    is worth it; ``body`` gets its slot pointer when ``slot_floats`` > 0 (the workspace then
    holds ``WORKSPACE_SLOTS`` slots of that size)."""
    t = ctx.names.fresh("t")
    lines: list[str] = []
    parallel = runs_parallel(n_tiles, work)
    if parallel and slot_floats:
        nt, decl = max_threads(ctx, indent)
        lines.append(decl)
        lines.append(PAD * indent + f"#pragma omp parallel for num_threads({nt}) "
                                    "schedule(static)")
    elif parallel:
        lines.append(PAD * indent + "#pragma omp parallel for schedule(static)")
    lines.append(PAD * indent + f"for (int64_t {t} = 0; {t} < {n_tiles}; ++{t}) {{")
    ws = None
    if slot_floats:
        ws = ctx.names.fresh("ws")
        base = ctx.ptr(ctx.workspace)
        slot = "(int64_t)omp_get_thread_num()" if parallel else "0"
        lines.append(PAD * (indent + 1)
                     + f"float* restrict {ws} = {base} + {slot}*{slot_floats};")
    lines += body(t, ws, indent + 1)
    lines.append(PAD * indent + "}")
    return lines


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
    return f"({var}*{block} + {block} <= {total} ? {block} : {total} - {var}*{block})"
