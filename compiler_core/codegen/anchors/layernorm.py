"""LayerNormalization: per row of the normalized axes, mean, variance (two passes), then
(x - mean) * invstd * scale + bias; the optional Mean and InvStdDev outputs are written too."""

from __future__ import annotations

import math

import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.anchors.base import Epilogue
from compiler_core.codegen.anchors.reduce import reduce_nest
from compiler_core.codegen.attrs import attr, norm_axis, unsupported
from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import Assign, Decl, Stmt
from compiler_core.codegen.cnames import ctype_of, float_literal
from compiler_core.codegen.context import KernelContext
from compiler_core.codegen.loops import row_nest
from compiler_core.ir.ecg import value_shape


class LayerNormAnchor:
    tiled_epilogue = False

    def needs(self, ctx: KernelContext, node: ir.Node) -> set[ir.Value]:
        if not ctype_of(node.inputs[0]).is_float:
            raise unsupported(node, "only float32 is supported")
        return set()

    def emit(self, ctx: KernelContext, node: ir.Node, epilogue: Epilogue | None) -> list[str]:
        x, scale = node.inputs[0], node.inputs[1]
        bias = node.inputs[2] if len(node.inputs) > 2 else None
        outs = list(node.outputs) + [None, None]
        y, mean_v, inv_v = outs[0], outs[1], outs[2]
        shape = value_shape(x)
        axis = norm_axis(node, int(attr(node, "axis", -1)), len(shape))
        eps = float(attr(node, "epsilon", 1e-5))
        axes = list(range(axis, len(shape)))
        n = math.prod(shape[axis:])
        outer_shape = shape[:axis]
        fn = float_literal(n)

        def outer(idx: ix.Index) -> list[Stmt]:
            s, q = ctx.names.fresh("a"), ctx.names.fresh("a")
            mean, inv = ctx.names.fresh("a"), ctx.names.fresh("a")

            def total(full, g):
                g.line(f"{s} += {g.at(x, full)};")

            def sq(full, g):
                d = g.temp(ctype_of(x), f"{g.at(x, full)} - {mean}")
                g.line(f"{q} += {d} * {d};")

            def write(full, g):
                d = g.temp(ctype_of(x), f"{g.at(x, full)} - {mean}")
                val = f"{d} * {inv} * {g.at_broadcast(scale, full, shape)}"
                if bias is not None:
                    val += f" + {g.at_broadcast(bias, full, shape)}"
                g.line(f"{ctx.ptr(y)}[{ix.linear(full, shape)}] = {val};")

            out: list[Stmt] = [
                Decl("float", s, "0.0f", const=False),
                *reduce_nest(ctx, shape, axes, idx, total, f"reduction(+:{s})"),
                Decl("float", mean, f"{s} / {fn}"),
                Decl("float", q, "0.0f", const=False),
                *reduce_nest(ctx, shape, axes, idx, sq, f"reduction(+:{q})"),
                Decl("float", inv, f"1.0f / sqrtf({q} / {fn} + {float_literal(eps)})"),
                *reduce_nest(ctx, shape, axes, idx, write, ""),
            ]
            stat_idx = (*idx, *(ix.ZERO,) * len(axes))
            for v, val in ((mean_v, mean), (inv_v, inv)):
                if v is not None and v in ctx.buffers:
                    out.append(Assign(f"{ctx.ptr(v)}[{ix.linear(stat_idx, value_shape(v))}]",
                                      val))
            return out

        return render(row_nest(ctx.names, outer_shape, outer, inner=0, work_per_element=3 * n),
                      1)
