"""Anchor emitters, one per Many-to-Many operator a block may hold (at most one per block),
named by the operator's registry row.

An anchor says which of its operands must be materialized (``needs``) and emits the loop
nest or library call computing its outputs into their buffers (``emit``). Anchors that can run
an element-aligned epilogue per row tile (GEMM) accept an ``epilogue(lo, hi, indent)``
callback. Anchors needing per-thread scratch (im2col, col2im panels) also declare
``workspace(ctx, node)``, the floats of one slot (see :mod:`.tiles`).
"""

from __future__ import annotations

from compiler_core.codegen.anchors.base import Anchor, Epilogue
from compiler_core.codegen.ops import resolve
from compiler_core.ir.ops import AnchorRef, specs


def build(ref: AnchorRef) -> Anchor:
    """The anchor a registry row names: ``"module:Class"`` of this package, built with the
    row's arguments."""
    cls = resolve(ref.target, __name__)
    return cls(*ref.args, **dict(ref.kwargs))


# One anchor per Many-to-Many operator with a row naming one (compiler_core/ir/ops/).
ANCHORS: dict[str, Anchor] = {r.name: build(r.anchor) for r in specs() if r.anchor}

__all__ = ["ANCHORS", "Anchor", "Epilogue"]
