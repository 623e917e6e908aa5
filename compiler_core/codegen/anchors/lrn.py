"""LRN (local response normalization across channels) as direct loops.

``Y[n, c, i] = X[n, c, i] * (bias + alpha/size * sum_{c'} X[n, c', i]^2) ^ -beta`` with
``c'`` from ``max(0, c - floor((size-1)/2))`` to ``min(C-1, c + ceil((size-1)/2))``, ``i``
the flattened spatial index. Per plane ``(n, c)`` (parallel) the sum of squares is gathered
into the output row (contiguous inner loops over ``i``), then scaled in place. X is
materialized when computed in the block (each element is read ``size`` times).
"""

from __future__ import annotations

import math

import onnx_ir as ir

from compiler_core.codegen.anchors.base import Epilogue
from compiler_core.codegen.anchors.conv_shape import float_only
from compiler_core.codegen.anchors.tiles import tiles
from compiler_core.codegen.attrs import attr, unsupported
from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import Assign, Decl, For, Raw, Stmt
from compiler_core.codegen.cnames import float_literal
from compiler_core.codegen.context import KernelContext
from compiler_core.ir.ecg import value_shape


class LRNAnchor:
    tiled_epilogue = True

    def needs(self, ctx: KernelContext, node: ir.Node) -> set[ir.Value]:
        float_only(node)
        if len(value_shape(node.inputs[0])) < 3:
            raise unsupported(node, "input needs a spatial axis")
        x = node.inputs[0]
        return set() if x in ctx.materialized else {x}

    def emit(self, ctx: KernelContext, node: ir.Node, epilogue: Epilogue | None) -> list[str]:
        x, y = node.inputs[0], node.outputs[0]
        shape = value_shape(x)
        n_, c_ = shape[0], shape[1]
        rows = math.prod(shape[2:-1])  # the epilogue's rows (all axes but the last) per plane
        hw = math.prod(shape[2:])
        size = int(attr(node, "size"))
        below, above = (size - 1) // 2, -(-(size - 1) // 2)
        alpha = float_literal(float(attr(node, "alpha", 1e-4)) / size)
        beta = float_literal(-float(attr(node, "beta", 0.75)))
        bias = float_literal(float(attr(node, "bias", 1.0)))
        px, py = ctx.ptr(x), ctx.ptr(y)
        nm = ctx.names.fresh

        def body(plane: str, ws) -> list[Stmt]:
            c, k, j, yr, xr, xk = nm("i"), nm("i"), nm("i"), nm("p"), nm("p"), nm("p")
            # The channel window's loop runs to an inclusive bound: the one loop the tree's
            # For (an exclusive bound) does not spell, kept as raw C.
            window = Raw([
                f"for (int64_t {k} = ({c} < {below} ? 0 : {c} - {below}); "
                f"{k} <= ({c} + {above} < {c_} ? {c} + {above} : {c_ - 1}); ++{k}) {{",
                *render([
                    Decl("float* restrict", xk, f"{xr} + ({k} - {c})*{hw}"),
                    For(j, 0, hw, [Assign(f"{yr}[{j}]", f"{xk}[{j}] * {xk}[{j}]", "+=")],
                        inline=True),
                ], 1),
                "}",
            ])
            out: list[Stmt] = [
                Decl("int64_t", c, f"{plane} % {c_}"),
                Decl("float* restrict", yr, f"{py} + {plane}*{hw}", const=False),
                Decl("float* restrict", xr, f"{px} + {plane}*{hw}"),
                For(j, 0, hw, [Assign(f"{yr}[{j}]", "0.0f")], inline=True),
                window,
                For(j, 0, hw, [Assign(f"{yr}[{j}]",
                                      f"{xr}[{j}] * powf({bias} + {alpha} * {yr}[{j}], {beta})")],
                    inline=True),
            ]
            if epilogue:
                out.append(Raw(epilogue(f"{plane}*{rows}", f"({plane} + 1)*{rows}", 0)))
            return out

        return render(tiles(ctx, n_ * c_, n_ * c_ * hw * (size + 8), body), 1)
