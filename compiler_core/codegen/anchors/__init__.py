"""Anchor emitters, one row per Many-to-Many operator a block may hold (at most one per block).

An anchor says which of its operands must be materialized (``needs``) and emits the loop
nest or library call computing its outputs into their buffers (``emit``). Anchors that can run
an element-aligned epilogue per row tile (GEMM) accept an ``epilogue(lo, hi, indent)``
callback. Anchors needing per-thread scratch (im2col, col2im panels) also declare
``workspace(ctx, node)``, the floats of one slot (see :mod:`.tiles`).
"""

from __future__ import annotations

from compiler_core.codegen.anchors.base import Anchor, Epilogue
from compiler_core.codegen.anchors.conv import ConvAnchor
from compiler_core.codegen.anchors.conv_transpose import ConvTransposeAnchor
from compiler_core.codegen.anchors.gemm import GemmAnchor, MatMulAnchor
from compiler_core.codegen.anchors.layernorm import LayerNormAnchor
from compiler_core.codegen.anchors.lrn import LRNAnchor
from compiler_core.codegen.anchors.pool import GlobalPoolAnchor, PoolAnchor
from compiler_core.codegen.anchors.reduce import ReduceAnchor, SoftmaxAnchor

ANCHORS: dict[str, Anchor] = {
    "MatMul": MatMulAnchor(),  # batched, broadcasting: a loop of cblas_sgemm calls
    "Gemm": GemmAnchor(),  # alpha*op(A)op(B) + beta*C
    "ReduceSum": ReduceAnchor("sum"),
    "ReduceMean": ReduceAnchor("mean"),
    "ReduceMax": ReduceAnchor("max"),
    "ReduceMin": ReduceAnchor("min"),
    "ReduceSumSquare": ReduceAnchor("sumsquare"),
    "Softmax": SoftmaxAnchor(log=False),
    "LogSoftmax": SoftmaxAnchor(log=True),
    "LayerNormalization": LayerNormAnchor(),
    "ConvTranspose": ConvTransposeAnchor(),  # GEMM (W^T x X) per tile + col2im
    "Conv": ConvAnchor(),  # depthwise: direct loops; else GEMM (in place for 1x1, else im2col)
    "MaxPool": PoolAnchor("max"),  # direct window loops, padding excluded by loop bounds
    "AveragePool": PoolAnchor("avg"),
    "GlobalAveragePool": GlobalPoolAnchor("mean"),  # ReduceMean over the spatial axes
    "GlobalMaxPool": GlobalPoolAnchor("max"),
    "LRN": LRNAnchor(),  # sum of squares over the channel window, then x * s^-beta
}

__all__ = ["ANCHORS", "Anchor", "Epilogue"]
