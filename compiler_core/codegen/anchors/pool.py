"""Pooling anchors: MaxPool / AveragePool as direct window loops, GlobalAveragePool /
GlobalMaxPool as reductions over the spatial axes.

Windowed pooling, per plane ``(n, c)`` (parallel), per output row, in two passes: the
vertical taps ``ki`` fold the input rows ``oh*sh - ph + ki*dh`` inside the tensor into one
row buffer (contiguous, vectorized; the buffer holds the padding too, at -inf for max, 0 for a
sum, so padding never wins), then each output takes its horizontal taps ``ow*sw + kj*dw``
from that buffer in registers (one store per output); the row buffer is a per-thread slot of
the block's workspace. The first version folded each tap into the output row (9
read-modify-write passes for 3x3, strided loads, branchy remainders): SqueezeNet's 3x3/2
MaxPool on 64x111x111 took 213 us on one thread, now 96 us (ONNX Runtime: 44 us). An
average divides by the count of taps ``cnt_h(oh) * cnt_w(ow)`` — inside the input, or inside input + pads with
``count_include_pad`` (with ``ceil_mode`` a window may overhang the end padding; the overhang
is not counted, as in ONNX Runtime). A cheap fused prologue on X is evaluated per tap in
place; a costly one is materialized first. The epilogue runs on each plane when it is done.
"""

from __future__ import annotations

import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.anchors.base import Epilogue
from compiler_core.codegen.anchors.conv_shape import float_only
from compiler_core.codegen.anchors.reduce import ReduceAnchor
from compiler_core.codegen.anchors.tiles import WORKSPACE_SLOTS, padded, runs_parallel, tiles
from compiler_core.codegen.anchors.window import Axis, Window, check_out, window
from compiler_core.codegen.attrs import attr, unsupported
from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import Assign, Decl, Expr, For, If, Raw, Stmt
from compiler_core.codegen.cnames import ctype_of, float_literal
from compiler_core.codegen.context import KernelContext
from compiler_core.ir.ecg import value_shape

IN_PLACE_LIMIT = 2  # prologue operations per element evaluated per tap rather than stored
POOL_ROWS = 8  # rows of vertical folds per thread for dnf_pool_plane (c/dnf_pool.c DNF_POOL_ROWS)


def _counts(ax: Axis, include_pad: bool) -> list[int]:
    """Taps of each output window counted by the average along one axis."""
    out = []
    for o in range(ax.out):
        starts = [o * ax.stride - ax.pad_begin + t * ax.dilation for t in range(ax.kernel)]
        limit = ax.size + ax.pad_end if include_pad else ax.size
        floor = -ax.pad_begin if include_pad else 0
        out.append(sum(1 for i in starts if floor <= i < limit))
    return out


class PoolAnchor:
    tiled_epilogue = True

    def __init__(self, kind: str) -> None:
        self.kind = kind  # "max" or "avg"

    def _window(self, node: ir.Node) -> Window:
        if len(node.outputs) > 1 and node.outputs[1] is not None and node.outputs[1].uses():
            raise unsupported(node, "the Indices output is not supported")
        if not ctype_of(node.inputs[0]).is_float:
            raise unsupported(node, "only float32 is supported")
        win = window(node)
        check_out(node, win, bool(attr(node, "ceil_mode", 0)))
        return win

    def needs(self, ctx: KernelContext, node: ir.Node) -> set[ir.Value]:
        self._window(node)
        if len(node.outputs) > 1 and node.outputs[1] in ctx.materialized:
            raise unsupported(node, "the Indices output is not supported")  # a graph output
        x = node.inputs[0]
        if ctx.in_buffer(x):
            return set()
        return {x} if ctx.cost(x) > IN_PLACE_LIMIT else set()

    def _layout(self, node: ir.Node) -> tuple[Window, int, int, int]:
        """(window, planes, row-buffer floats, work). The row buffer spans what a window row
        reads, padding included: ``[-pad_begin, span - pad_begin)``; work is taps read."""
        win = self._window(node)
        xs = value_shape(node.inputs[0])
        w = win.w
        span = max(w.pad_begin + w.size + w.pad_end,
                   (w.out - 1) * w.stride + (w.kernel - 1) * w.dilation + 1)
        planes = xs[0] * xs[1]
        return win, planes, span, planes * win.h.out * w.out * win.taps

    def workspace(self, ctx: KernelContext, node: ir.Node) -> int:
        """One row buffer per thread, from the arena (a stack array could be too big for an
        OpenMP worker's stack on a wide 1-D pooling)."""
        _, planes, span, work = self._layout(node)
        slot = padded(self._slot(ctx, node, span))
        return slot * (WORKSPACE_SLOTS if runs_parallel(planes, work) else 1)

    def emit(self, ctx: KernelContext, node: ir.Node, epilogue: Epilogue | None) -> list[str]:
        win, planes, span, work = self._layout(node)
        x, y = node.inputs[0], node.outputs[0]
        xs = value_shape(x)
        n_, c_ = xs[0], xs[1]
        h, w = win.h, win.w
        py = ctx.ptr(y)
        nm = ctx.names.fresh
        is_max = self.kind == "max"
        init = "(-INFINITY)" if is_max else "0.0f"
        scale = self._scale(node, win, nm)

        def body(plane: str, row: str) -> list[Stmt]:
            n, c = ix.unravel(plane, (n_, c_))
            oh, yr, ki, ih, j, m = nm("i"), nm("p"), nm("i"), nm("i"), nm("i"), nm("a")
            g = ctx.gen(0)
            idx = (n, c, ih, j) if len(xs) == 4 else (n, c, j)
            v = g.at(x, idx)
            dst = f"{row}[{w.pad_begin} + {j}]"
            g.line(f"{dst} = {v} > {dst} ? {v} : {dst};" if is_max else f"{dst} += {v};")
            reduce_w: list[Stmt] = [Decl("float", m, f"{row}[{j}*{w.stride}]", const=False)]
            for kj in range(1, w.kernel):
                t = f"{row}[{j}*{w.stride} + {kj * w.dilation}]"
                reduce_w.append(Assign(m, f"{t} > {m} ? {t} : {m}") if is_max
                                else Assign(m, t, "+="))
            reduce_w.append(Assign(f"{yr}[{j}]", m))
            fold = [
                For(j, 0, span, [Assign(f"{row}[{j}]", init)], inline=True),
                For(ki, 0, h.kernel, [
                    Decl("int64_t", ih, f"{oh}*{h.stride} + {ki}*{h.dilation} - {h.pad_begin}"),
                    If(f"{ih} < 0 || {ih} >= {h.size}", [Expr("continue")], inline=True),
                    For(j, 0, w.size, [Raw(g.lines)]),
                ]),
            ]
            yr_decl = Decl("float* restrict", yr, f"{py} + ({plane}*{h.out} + {oh})*{w.out}",
                           const=False)
            rows: list[Stmt] = [
                yr_decl,
                *self._fold_inside(ctx, x, xs, n, c, oh, h, w, row, span, init, fold),
                For(j, 0, w.out, reduce_w),
            ]
            if scale is not None:
                rows += scale(oh, yr)
            out: list[Stmt] = [For(oh, 0, h.out, rows)]
            if self._fast(ctx, node):
                fast: list[Stmt] = [Expr(
                    f"dnf_pool_plane({ctx.ptr(x)} + {plane}*{h.size * w.size}, {h.size}, "
                    f"{w.size}, {h.out}, {h.kernel}, {h.stride}, {h.pad_begin}, {h.dilation}, "
                    f"{w.out}, {w.kernel}, {w.stride}, {w.pad_begin}, {w.dilation}, {span}, "
                    f"{int(is_max)}, {row}, {padded(span)}, {py} + {plane}*{h.out * w.out})")]
                if scale is not None:
                    fast.append(For(oh, 0, h.out, [yr_decl, *scale(oh, yr)]))
                out = [If("dnf_gemm_isa() == 2", fast, out)]
            if epilogue is not None:
                out.append(Raw(epilogue(f"{plane}*{h.out}", f"({plane} + 1)*{h.out}", 0)))
            return out

        return render(tiles(ctx, planes, work, body, slot_floats=self._slot(ctx, node, span)), 1)

    def _fold_inside(self, ctx: KernelContext, x: ir.Value, xs, n, c, oh: str, h: Axis,
                     w: Axis, row: str, span: int, init: str, fold: list[Stmt]) -> list[Stmt]:
        """The vertical fold of output row ``oh``: when all its ``kh`` input rows are inside
        the tensor, one pass computing each buffer element from the ``kh`` rows (the padding
        columns set once), else ``fold`` (one read-modify-write pass per row inside).
        SqueezeNet's 3x3/2 MaxPool on 64x111x111 alone, one Zen 5 core: 68 -> 49 us."""
        if h.kernel == 1:
            return fold
        nm = ctx.names.fresh
        j, ih0 = nm("i"), nm("i")
        gens, vals = [], []
        for ki in range(h.kernel):
            g = ctx.gen(0)
            ih = f"({ih0} + {ki * h.dilation})"
            vals.append(g.at(x, (n, c, ih, j) if len(xs) == 4 else (n, c, j)))
            gens.append(g)
        lines: list[Stmt] = [Raw(g.lines) for g in gens]
        a = nm("a")
        lines.append(Decl("float", a, init, const=False))  # the same steps as ``fold``
        for v in vals:
            lines.append(Assign(a, f"{v} > {a} ? {v} : {a}") if self.kind == "max"
                         else Assign(a, v, "+="))
        lines.append(Assign(f"{row}[{w.pad_begin} + {j}]", a))
        pads = []
        if w.pad_begin:
            pads.append(For(j, 0, w.pad_begin, [Assign(f"{row}[{j}]", init)], inline=True))
        if span > w.pad_begin + w.size:
            pads.append(For(j, w.pad_begin + w.size, span, [Assign(f"{row}[{j}]", init)],
                            inline=True))
        last = f"{ih0} + {(h.kernel - 1) * h.dilation}"
        return [
            Decl("int64_t", ih0, f"{oh}*{h.stride} - {h.pad_begin}"),
            If(f"{ih0} >= 0 && {last} < {h.size}", [*pads, For(j, 0, w.size, lines)], fold),
        ]

    def _fast(self, ctx: KernelContext, node: ir.Node) -> bool:
        """Planes go to ``dnf_pool_plane`` (``c/dnf_pool.c``, AVX-512, the same bits as the
        generated loops) when the CPU has AVX-512: x86-64 target, 2-D pooling, X a plain
        buffer (not a fused prologue, which is evaluated per tap), more than one output per
        plane (a whole-plane window, as ResNet-50's 7x7 AveragePool, took 3.3x the time of
        the generated loops, fully unrolled there)."""
        x = node.inputs[0]
        if not ctx.packed_gemm or len(value_shape(x)) != 4 or not ctx.in_buffer(x):
            return False
        win = self._window(node)
        return win.h.out * win.w.out > 1

    def _slot(self, ctx: KernelContext, node: ir.Node, span: int) -> int:
        """Floats of a thread's row buffer: :data:`POOL_ROWS` rows for ``dnf_pool_plane``."""
        return POOL_ROWS * padded(span) if self._fast(ctx, node) else span

    def _scale(self, node: ir.Node, win: Window, nm):
        """statements(oh, row) dividing a row of sums by the tap counts (None for max)."""
        if self.kind == "max":
            return None
        include = bool(attr(node, "count_include_pad", 0))
        ch, cw = _counts(win.h, include), _counts(win.w, include)
        if min(ch) < 1 or min(cw) < 1:
            raise unsupported(node, "a window holds no input element")
        w_out = win.w.out

        def stmts(oh: str, row: str) -> list[Stmt]:
            j = nm("i")
            if len(set(ch)) == 1 and len(set(cw)) == 1:
                inv = float_literal(1.0 / (ch[0] * cw[0]))
                return [For(j, 0, w_out, [Assign(f"{row}[{j}]", inv, "*=")], inline=True)]
            th, tw = nm("tab"), nm("tab")
            return [
                Decl("static const int", f"{th}[{len(ch)}]", f"{{{', '.join(map(str, ch))}}}",
                     const=False),
                Decl("static const int", f"{tw}[{len(cw)}]", f"{{{', '.join(map(str, cw))}}}",
                     const=False),
                For(j, 0, w_out, [Assign(f"{row}[{j}]", f"(float)({th}[{oh}] * {tw}[{j}])",
                                         "/=")], inline=True),
            ]

        return stmts


class GlobalPoolAnchor(ReduceAnchor):
    """GlobalAveragePool / GlobalMaxPool: ReduceMean / ReduceMax over the spatial axes (keep
    dims); the prologue is evaluated in place (each element is read once)."""

    def _axes(self, node: ir.Node) -> tuple[list[int], bool]:
        float_only(node)
        rank = len(value_shape(node.inputs[0]))
        if rank < 3:
            raise unsupported(node, "input needs a spatial axis")
        return list(range(2, rank)), True
