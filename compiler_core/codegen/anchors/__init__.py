"""Anchor emitters, one row per Many-to-Many operator a block may hold (at most one per block).

An anchor says which of its operands must be materialized (``needs``) and emits the loop
nest or library call computing its outputs into their buffers (``emit``). Anchors that can run
an element-aligned epilogue per row tile (GEMM) accept an ``epilogue(lo, hi, indent)``
callback. Phase 2 adds Conv, pooling, Resize, ConvTranspose here.
"""

from __future__ import annotations

from compiler_core.codegen.anchors.base import Anchor, Epilogue
from compiler_core.codegen.anchors.gemm import GemmAnchor, MatMulAnchor
from compiler_core.codegen.anchors.layernorm import LayerNormAnchor
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
}

__all__ = ["ANCHORS", "Anchor", "Epilogue"]
