"""GEMM, convolution, pooling and normalization: Many-to-Many rows with their anchors.

Each anchor is the loop nest or library call of one block (at most one per block, see
``codegen/anchors/``). ``estimate`` gives the planner's FLOP count where the generic one
(2 × the larger of input and output elements) is wrong: a multiply-add counts 2.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import onnx_ir as ir

from compiler_core.ir.mapping import MappingType
from compiler_core.ir.ops.reduce import MAX, MEAN
from compiler_core.ir.ops.spec import AnchorRef, Flops, Prop, op

M2M = MappingType.MANY_TO_MANY
A, D = Prop.ASSOCIATIVE, Prop.DISTRIBUTIVE


Shape = Callable[[ir.Value], tuple[int, ...]]


def _out_elems(node: ir.Node, shape: Shape) -> int:
    return sum(math.prod(shape(v)) for v in node.outputs if v.shape is not None)


def gemm_flops(node: ir.Node, shape: Shape) -> int | None:
    """2·M·N·K of MatMul/Gemm (``transA`` read); ``None`` with fewer than two inputs.
    ``shape``: value -> static shape."""
    ins = [v for v in node.inputs if v is not None]
    if len(ins) < 2:
        return None
    a = shape(ins[0])
    k = a[-1] if a else 1
    if node.op_type == "Gemm" and node.attributes.get("transA") and node.attributes["transA"].value:
        k = a[0]
    return 2 * _out_elems(node, shape) * k


def conv_flops(node: ir.Node, shape: Shape) -> int | None:
    """2 × output elements × weights per output of Conv/ConvTranspose."""
    ins = [v for v in node.inputs if v is not None]
    if len(ins) < 2:
        return None
    w = shape(ins[1])
    if node.op_type == "Conv":
        per_out = math.prod(w[1:])
    else:
        per_out = math.prod(w[2:]) * w[0] // max(1, shape(node.outputs[0])[1])
    return 2 * _out_elems(node, shape) * max(1, per_out)


def _anchor(target: str, *args, **kwargs) -> AnchorRef:
    return AnchorRef(target, args, tuple(kwargs.items()))


ROWS = [
    # batched, broadcasting: a loop of cblas_sgemm calls; (AB)C = A(BC), AB + AC = A(B+C)
    op("MatMul", M2M, anchor=_anchor("gemm:MatMulAnchor"), estimate=gemm_flops, props=A | D),
    op("Gemm", M2M, anchor=_anchor("gemm:GemmAnchor"), estimate=gemm_flops),  # αAB + βC
    # depthwise: direct loops; else GEMM (in place for 1x1, else im2col)
    op("Conv", M2M, anchor=_anchor("conv:ConvAnchor"), estimate=conv_flops),
    # GEMM (W^T x X) per tile + col2im
    op("ConvTranspose", M2M, anchor=_anchor("conv_transpose:ConvTransposeAnchor"),
       estimate=conv_flops),
    # direct window loops, padding excluded by loop bounds
    op("MaxPool", M2M, anchor=_anchor("pool3d:Pool3dAnchor", "max"), nonneg="if_all"),
    op("AveragePool", M2M, anchor=_anchor("pool3d:Pool3dAnchor", "avg"), nonneg="if_all"),
    # ReduceMean / ReduceMax over the spatial axes
    op("GlobalAveragePool", M2M, anchor=_anchor("pool:GlobalPoolAnchor", MEAN),
       nonneg="if_all"),
    op("GlobalMaxPool", M2M, anchor=_anchor("pool:GlobalPoolAnchor", MAX),
       nonneg="if_all"),
    op("LayerNormalization", M2M, anchor=_anchor("layernorm:LayerNormAnchor"),
       flops=Flops("input", 5)),
    # sum of squares over the channel window, then x * s^-beta
    op("LRN", M2M, anchor=_anchor("lrn:LRNAnchor"), cost=4),
    *(op(name, M2M) for name in """
        InstanceNormalization GroupNormalization LpNormalization LpPool
    """.split()),
]
