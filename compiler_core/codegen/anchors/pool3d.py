"""MaxPool / AveragePool over three spatial axes (NCDHW); one and two spatial axes stay with
:class:`~.pool.PoolAnchor`, which this anchor delegates to.

A plain loop nest: one parallel row per output element group, the taps of each window
``o*stride - pad_begin + k*dilation`` that fall inside the input. Max ignores the taps outside;
average divides by the taps inside the input (``count_include_pad=0``) or inside the padded
input ``[-pad_begin, n + pad_end)`` (``count_include_pad=1``, ONNX Runtime's count). As for
two axes, a ``ceil_mode`` last window starting in the end padding is refused (ambiguous), as
are sizes shape inference and the attributes disagree on. The fused epilogue runs after the
nest over all rows.
"""

from __future__ import annotations

import math

import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.anchors.base import Epilogue
from compiler_core.codegen.anchors.pool import PoolAnchor
from compiler_core.codegen.anchors.window import _auto_pads, int_list
from compiler_core.codegen.attrs import attr, unsupported
from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import Assign, Decl, Expr, For, If, Raw, Stmt
from compiler_core.codegen.cnames import ctype_of
from compiler_core.codegen.context import KernelContext
from compiler_core.codegen.loops import row_nest
from compiler_core.ir.ecg import value_shape


def _is_3d(node: ir.Node) -> bool:
    return len(value_shape(node.inputs[0])) == 5


class Pool3dAnchor(PoolAnchor):
    """:class:`PoolAnchor` extended to three spatial axes."""

    def _axes(self, node: ir.Node):
        """Per spatial axis: (size, out, kernel, stride, dilation, pad_begin, pad_end)."""
        if len(node.outputs) > 1 and node.outputs[1] is not None and node.outputs[1].uses():
            raise unsupported(node, "the Indices output is not supported")
        if not ctype_of(node.inputs[0]).is_float:
            raise unsupported(node, "only float32 is supported")
        xs, ys = value_shape(node.inputs[0]), value_shape(node.outputs[0])
        kernels = int_list(node, "kernel_shape", 3, 0)
        strides = int_list(node, "strides", 3, 1)
        dilations = int_list(node, "dilations", 3, 1)
        if min(kernels) < 1 or min(strides + dilations) < 1:
            raise unsupported(node, "kernel_shape, strides and dilations must be positive")
        sizes, outs = list(xs[2:]), list(ys[2:])
        pads = _auto_pads(node, sizes, outs, kernels, strides, dilations)
        ceil = bool(attr(node, "ceil_mode", 0))
        axes = []
        for a in range(3):
            n, o, k, s, d, pb, pe = (sizes[a], outs[a], kernels[a], strides[a], dilations[a],
                                     pads[a], pads[3 + a])
            span = n + pb + pe - ((k - 1) * d + 1)
            want = (math.ceil if ceil else math.floor)(span / s) + 1
            if span < 0 or want != o:
                raise unsupported(node, f"output size {o} does not match the window "
                                        f"(expected {want})")
            if (o - 1) * s >= n + pb:
                raise unsupported(node, "ceil_mode with a last window starting in the padding")
            axes.append((n, o, k, s, d, pb, pe))
        return axes

    def needs(self, ctx: KernelContext, node: ir.Node) -> set[ir.Value]:
        if not _is_3d(node):
            return super().needs(ctx, node)
        self._axes(node)
        return {node.inputs[0]}

    def workspace(self, ctx: KernelContext, node: ir.Node) -> int:
        return 0 if _is_3d(node) else super().workspace(ctx, node)

    def emit(self, ctx: KernelContext, node: ir.Node, epilogue: Epilogue | None) -> list[str]:
        if not _is_3d(node):
            return super().emit(ctx, node, epilogue)
        axes = self._axes(node)
        x, y = node.inputs[0], node.outputs[0]
        xs, ys = value_shape(x), value_shape(y)
        is_max = self.kind == "max"
        include_pad = bool(attr(node, "count_include_pad", 0))
        taps = math.prod(k for _, _, k, _, _, _, _ in axes)

        def body(idx: ix.Index) -> list[Stmt]:
            acc, cnt = ctx.names.fresh("a"), ctx.names.fresh("a")
            loops = []
            conds = []
            for a, (n, _, k, s, d, pb, pe) in enumerate(axes):
                t, q = ctx.names.fresh("i"), ctx.names.fresh("t")
                loops.append((t, k, Decl("int64_t", q, f"({idx[2 + a]}) * {s} - {pb} + {t} * {d}")))
                conds.append((q, n, pb, pe))
            inside = " && ".join(f"{q} >= 0 && {q} < {n}" for q, n, _, _ in conds)
            padded = " && ".join(f"{q} >= {-pb} && {q} < {n + pe}" for q, n, pb, pe in conds)
            src = ix.linear((idx[0], idx[1], *(q for q, _, _, _ in conds)), xs)
            v = f"{ctx.ptr(x)}[{src}]"
            if is_max:
                nest: list[Stmt] = [If(inside, [Assign(acc, f"{v} > {acc} ? {v} : {acc}")],
                                       inline=True)]
            else:
                nest = [If(inside, [Assign(acc, v, "+=")], inline=True),
                        If(padded if include_pad else inside, [Expr(f"++{cnt}")], inline=True)]
            for t, k, q_decl in reversed(loops):
                nest = [For(t, 0, k, [q_decl, *nest])]
            val = acc if is_max else f"({cnt} > 0 ? {acc} / (float){cnt} : 0.0f)"
            return [
                Decl("float", acc, "(-INFINITY)" if is_max else "0.0f", const=False),
                Decl("int64_t", cnt, "0", const=False),
                *nest,
                Assign(f"{ctx.ptr(y)}[{ix.linear(idx, ys)}]", val),
            ]

        stmts = row_nest(ctx.names, ys, body, inner=0, work_per_element=taps)
        if epilogue is not None:
            rows = math.prod(ys[:-1])
            stmts.append(Raw(epilogue("0", str(rows), 0)))
        return render(stmts, 1)
