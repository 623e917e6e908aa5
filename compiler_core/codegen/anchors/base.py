"""The anchor emitter protocol."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import onnx_ir as ir

from compiler_core.codegen.context import KernelContext

# epilogue(first_row, end_row, indent) -> lines applying the fused element-wise tail to the
# rows [first_row, end_row) of the anchor output viewed as [rows, last dim]; an anchor built
# on the statement tree passes indent 0 and wraps the lines in a ``c.stmt.Raw``.
Epilogue = Callable[[str, str, int], list[str]]


def stored_epilogue(epilogue: Epilogue | None) -> tuple[ir.Value | None, bool] | None:
    """``(r, relu)`` when ``epilogue`` is one an anchor may apply as it stores its tile, then
    skipping it (``BlockKernel`` sets ``epilogue.relu_in_place`` and ``epilogue.residual``):
    add the buffer ``r`` read like the output (None: no residual), then with ``relu`` store
    ``max(t, 0)``. None when there is no epilogue or it is another one."""
    if epilogue is None:
        return None
    residual = getattr(epilogue, "residual", None)
    if residual is not None:
        return residual
    return (None, True) if getattr(epilogue, "relu_in_place", False) else None


class Anchor(Protocol):
    tiled_epilogue: bool  # can run an aligned epilogue per row tile

    def needs(self, ctx: KernelContext, node: ir.Node) -> set[ir.Value]:
        """Operands that must be materialized before the anchor runs."""
        ...

    def emit(self, ctx: KernelContext, node: ir.Node, epilogue: Epilogue | None) -> list[str]:
        """Lines (at indent 1) computing the anchor's outputs into ``ctx.buffers``; anchors
        build them as statements (:mod:`compiler_core.codegen.c.stmt`) and print them with
        :func:`~compiler_core.codegen.c.printer.render`."""
        ...


# Optional: ``workspace(ctx, node) -> int``, floats of per-thread scratch the anchor needs
# (``ctx.workspace`` then holds WORKSPACE_SLOTS such slots, see anchors/tiles.py).
# Optional: ``derived(ctx, node) -> dict[str, ir.Value]``, constants computed at compile time
# from the anchor's weights (e.g. packed for a micro-kernel), by role; they become block inputs
# stored in weights.bin and are found again in ``ctx.derived`` when the anchor emits.
# Optional: ``replaces(ctx, node) -> set[ir.Value]``, the block inputs the anchor reads only in
# their derived form (a GEMM's B once packed): they leave the block's inputs (not stored for it)
# unless another node of the block reads them (kernel.analyze_block checks).
