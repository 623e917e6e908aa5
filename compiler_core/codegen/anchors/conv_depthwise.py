"""Depthwise Conv (one input channel per group, any depth multiplier) as direct loops.

Per output plane ``(n, m)`` (parallel) the output reads input channel ``m / Mg`` only:
``Y[oh, ow] = B[m] + sum_{ki, kj} W[m, 0, ki, kj] * X[oh*sh - ph + ki*dh, ow*sw - pw + kj*dw]``.

- *interior* rows and columns (every tap inside the input; bounds computed here) get the whole
  sum in one expression per output — the taps stay in registers, one store per output, and the
  loop over ``ow`` is branch-free (contiguous for stride 1) so gcc vectorizes it;
- the few *border* columns of an interior row are straight-line sums of their valid taps;
- *border* rows start at the bias and add each valid tap over the outputs ``[lo, hi)`` whose
  input is inside the tensor.

The fused epilogue runs on the plane right after it is computed.
"""

from __future__ import annotations

import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.anchors.base import Epilogue
from compiler_core.codegen.anchors.conv_shape import ConvShape, bias_of
from compiler_core.codegen.anchors.tiles import tiles
from compiler_core.codegen.anchors.window import Axis
from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import Assign, Decl, Expr, For, If, Raw, Stmt
from compiler_core.codegen.context import KernelContext

MAX_TAPS_INLINE = 49  # taps summed in one expression (7x7); larger kernels use tap loops


def _interior(ax: Axis) -> tuple[int, int]:
    """Outputs ``[lo, hi)`` whose every tap is inside the input along ``ax``."""
    ranges = [ax.valid(t) for t in range(ax.kernel)]
    return max(r[0] for r in ranges), min(r[1] for r in ranges)


def emit_depthwise(ctx: KernelContext, node: ir.Node, s: ConvShape, epilogue: Epilogue | None):
    x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
    b = bias_of(node)
    px, pw, py = ctx.ptr(x), ctx.ptr(w), ctx.ptr(y)
    h, wa = s.win.h, s.win.w
    nm = ctx.names.fresh
    r0, r1 = _interior(h)
    c0, c1 = _interior(wa)
    inline = s.win.taps <= MAX_TAPS_INLINE and r0 < r1 and c0 < c1

    def body(plane: str, ws) -> list[Stmt]:
        n, m = ix.unravel(plane, (s.n, s.m))
        xc, yc, wk, oh, yr, bv = nm("p"), nm("p"), nm("p"), nm("i"), nm("p"), nm("a")
        chan = f"({n}*{s.c} + {m} / {s.mg})" if s.mg > 1 else plane
        out: list[Stmt] = [
            Decl("float* restrict", xc, f"{px} + {chan}*{s.hw}"),
            Decl("float* restrict", yc, f"{py} + {plane}*{s.ohw}", const=False),
            Decl("float* restrict", wk, f"{pw} + {m}*{s.win.taps}"),
            Decl("float", bv, ctx.ptr(b) + f"[{m}]" if b is not None else "0.0f"),
        ]
        wv = [nm("a") for _ in range(s.win.taps)]
        if inline:
            out += [Decl("float", v, f"{wk}[{k}]") for k, v in enumerate(wv)]
        row: list[Stmt] = [Decl("float* restrict", yr, f"{yc} + {oh}*{wa.out}", const=False)]
        if inline:
            interior = _interior_row(s, xc, yr, oh, bv, wv, c0, c1, nm)
            row.append(If(f"{oh} >= {r0} && {oh} < {r1}", interior,
                          _border_row(s, xc, yr, oh, bv, wk, nm)))
        else:
            row += _border_row(s, xc, yr, oh, bv, wk, nm)
        out.append(For(oh, 0, h.out, row))
        if epilogue is not None:
            out.append(Raw(epilogue(f"{plane}*{h.out}", f"({plane} + 1)*{h.out}", 0)))
        return out

    return render(tiles(ctx, s.n * s.m, s.macs, body), 1)


def _interior_row(s: ConvShape, xc, yr, oh, bv, wv, c0, c1, nm) -> list[Stmt]:
    h, wa = s.win.h, s.win.w
    rows = [nm("p") for _ in range(h.kernel)]
    out: list[Stmt] = [
        Decl("float* restrict", r,
             f"{xc} + {ix.mul(ix.add(ix.mul(oh, h.stride), h.offset(ki)), wa.size)}")
        for ki, r in enumerate(rows)
    ]

    def total(col: str, taps) -> str:
        terms = []
        for ki, kj in taps:
            src = ix.add(ix.mul(col, wa.stride), wa.offset(kj))
            terms.append(f"{wv[ki * wa.kernel + kj]} * {rows[ki]}[{src}]")
        return " + ".join([bv, *terms])

    everything = [(ki, kj) for ki in range(h.kernel) for kj in range(wa.kernel)]
    for col in [*range(0, c0), *range(c1, wa.out)]:  # border columns: their valid taps
        valid = [(ki, kj) for ki, kj in everything
                 if wa.valid(kj)[0] <= col < wa.valid(kj)[1]]
        out.append(Assign(f"{yr}[{col}]", total(str(col), valid)))
    j = nm("i")
    out.append(For(j, c0, c1, [Assign(f"{yr}[{j}]", total(j, everything))], inline=True))
    return out


def _border_row(s: ConvShape, xc, yr, oh, bv, wk, nm) -> list[Stmt]:
    h, wa = s.win.h, s.win.w
    ki, ih, xr, j = nm("i"), nm("i"), nm("p"), nm("i")
    taps: list[Stmt] = [
        Decl("int64_t", ih, f"{oh}*{h.stride} + {ki}*{h.dilation} - {h.pad_begin}"),
        If(f"{ih} < 0 || {ih} >= {h.size}", [Expr("continue")], inline=True),
        Decl("float* restrict", xr, f"{xc} + {ih}*{wa.size}"),
    ]
    for kj in range(wa.kernel):
        lo, hi = wa.valid(kj)
        if lo >= hi:
            continue
        v = nm("a")
        src = ix.add(ix.mul(j, wa.stride), wa.offset(kj))
        taps += [
            Decl("float", v, f"{wk}[{ki}*{wa.kernel} + {kj}]"),
            For(j, lo, hi, [Assign(f"{yr}[{j}]", f"{v} * {xr}[{src}]", "+=")], inline=True),
        ]
    return [
        For(j, 0, wa.out, [Assign(f"{yr}[{j}]", bv)], inline=True),
        For(ki, 0, h.kernel, taps),
    ]
