"""ConvTranspose as GEMM + col2im.

``Y[n, g*Mg + m, ih*sh - ph + ki*dh, iw*sw - pw + kj*dw] += X[n, g*Cg + c, ih, iw] *
W[g*Cg + c, m, ki, kj]``, plus the bias. Per batch and group the products are one GEMM,
``cols[(m, ki, kj), (ih, iw)] = W_g^T[Mg*kh*kw, Cg] x X_ng[Cg, H*W]`` (``W_g`` read transposed
in place), computed for a block of channels and input rows into the thread's workspace slot,
then scattered (col2im) into Y.

- kernel == stride, no dilation, padding or output padding (the usual 2x upsampling): every
  output gets exactly one product, so tiles over (batch, group, channels, input rows) are
  independent and write Y directly (bias + product);
- otherwise a tile owns whole output planes (channels): it starts them at the bias and adds
  the products of each chunk of input rows.

The fused element-wise epilogue runs on a tile's output rows once they are final.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.anchors.base import Epilogue
from compiler_core.codegen.anchors.conv_shape import bias_of, float_only
from compiler_core.codegen.anchors.gemm import sgemm
from compiler_core.codegen.anchors.tiles import WORKSPACE_SLOTS, bounded, padded, split, tiles
from compiler_core.codegen.anchors.window import Axis, int_list
from compiler_core.codegen.attrs import attr, unsupported
from compiler_core.codegen.c.policy import parallel_policy
from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import (
    Assign,
    Decl,
    Expr,
    For,
    If,
    Raw,
    Stmt,
    extent,
    tile_for,
)
from compiler_core.codegen.cnames import float_literal
from compiler_core.codegen.context import KernelContext
from compiler_core.ir.ecg import value_shape

TILE_FLOATS = 1 << 16
MIN_TILES = 4


@dataclass(frozen=True)
class TShape:
    n: int
    c: int
    m: int
    g: int
    h: Axis  # size = input rows, out = output rows (the roles of Conv's Axis reversed)
    w: Axis
    exact: bool  # kernel == stride, no dilation/padding: one product per output
    mb: int  # channels per tile
    hb: int  # input rows per chunk
    tiles_h: bool  # tiles split input rows (exact case only)

    @property
    def cg(self) -> int:
        return self.c // self.g

    @property
    def mg(self) -> int:
        return self.m // self.g

    @property
    def kk(self) -> int:
        return self.h.kernel * self.w.kernel

    @property
    def ws(self) -> int:
        return self.mb * self.kk * self.hb * self.w.size


def tshape(node: ir.Node) -> TShape:
    float_only(node)
    xs, ws, ys = (value_shape(v) for v in (node.inputs[0], node.inputs[1], node.outputs[0]))
    sp = len(xs) - 2
    if sp not in (1, 2):
        raise unsupported(node, f"{sp} spatial dimensions (only 1 and 2 are supported)")
    auto_pad = attr(node, "auto_pad", "NOTSET") or "NOTSET"
    if auto_pad not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
        raise unsupported(node, f"auto_pad={auto_pad!r}")
    g = int(attr(node, "group", 1))
    n, c, m = xs[0], xs[1], ws[1] * g
    if g < 1 or c % g or ws[0] != c or ys[:2] != (n, m):
        raise unsupported(node, f"inconsistent shapes X{xs} W{ws} Y{ys} group={g}")
    kernel = list(ws[2:])
    strides = int_list(node, "strides", sp, 1)
    dil = int_list(node, "dilations", sp, 1)
    pads = int_list(node, "pads", 2 * sp, 0)
    opad = int_list(node, "output_padding", sp, 0)
    target = attr(node, "output_shape")
    if target is not None and auto_pad.startswith("SAME"):
        raise unsupported(node, "output_shape with auto_pad SAME_* (ONNX Runtime and the ONNX "
                                "reference disagree)")
    if auto_pad == "VALID":
        pads = [0] * (2 * sp)
    elif target is not None or auto_pad.startswith("SAME"):
        # Pads from the wanted output size (ONNX ConvTranspose): total = s*(in-1) + opad +
        # (k-1)*d + 1 - out, split begin/end by auto_pad (the larger half at the end for
        # SAME_UPPER, at the beginning otherwise).
        target = list(target)[-sp:] if target is not None else [
            xs[2 + a] * strides[a] for a in range(sp)]
        for a in range(sp):
            total = strides[a] * (xs[2 + a] - 1) + opad[a] + (kernel[a] - 1) * dil[a] + 1 \
                - int(target[a])
            small, big = total // 2, total - total // 2
            pads[a], pads[sp + a] = (small, big) if auto_pad == "SAME_UPPER" else (big, small)
    axes = []
    for a in range(sp):
        out = strides[a] * (xs[2 + a] - 1) + opad[a] + (kernel[a] - 1) * dil[a] + 1 \
            - pads[a] - pads[sp + a]
        if out != ys[2 + a]:
            raise unsupported(node, f"output size {ys[2 + a]} does not match the attributes "
                                    f"(expected {out})")
        axes.append(Axis(xs[2 + a], ys[2 + a], kernel[a], strides[a], dil[a], pads[a],
                         pads[sp + a]))
    if sp == 1:
        axes.insert(0, Axis(1, 1, 1))
        opad = [0, *opad]
    h, w = axes
    b = bias_of(node)
    if b is not None and value_shape(b) != (m,):
        raise unsupported(node, f"bias shape {value_shape(b)} (expected ({m},))")
    exact = all(
        ax.kernel == ax.stride and ax.dilation == 1 and ax.pad_begin == ax.pad_end == 0
        for ax in (h, w)
    ) and not any(opad)
    mg = m // g
    kk = h.kernel * w.kernel
    mb = min(mg, max(1, TILE_FLOATS // (kk * h.size * w.size)))
    hb = min(h.size, max(1, TILE_FLOATS // (mb * kk * w.size)))
    work = n * m * kk * h.size * w.size * (c // g)
    if parallel_policy(work):
        want = -(-MIN_TILES // (n * g))  # channel blocks per (batch, group)
        if -(-mg // mb) < want:
            mb = min(mb, split(mg, want)[0])
        tiles = n * g * -(-mg // mb)
        if tiles < MIN_TILES and exact:
            hb = min(hb, split(h.size, -(-MIN_TILES // tiles))[0])
    tiles_h = exact
    return TShape(n, c, m, g, h, w, exact, mb, hb, tiles_h)


def _valid_in(ax: Axis, tap: int) -> tuple[int, int]:
    """Input positions ``[lo, hi)`` whose output ``i*stride + tap*dilation - pad_begin`` is
    inside ``[0, out)``."""
    off = tap * ax.dilation - ax.pad_begin
    lo = -(off // ax.stride) if off < 0 else 0
    hi = (ax.out - 1 - off) // ax.stride + 1 if ax.out > off else 0
    lo, hi = min(lo, ax.size), min(hi, ax.size)
    return lo, max(lo, hi)


class ConvTransposeAnchor:
    tiled_epilogue = True

    def needs(self, ctx: KernelContext, node: ir.Node) -> set[ir.Value]:
        tshape(node)
        return {v for v in node.inputs if v is not None and v not in ctx.materialized}

    def workspace(self, ctx: KernelContext, node: ir.Node) -> int:
        return padded(tshape(node).ws) * WORKSPACE_SLOTS

    def emit(self, ctx: KernelContext, node: ir.Node, epilogue: Epilogue | None) -> list[str]:
        s = tshape(node)
        x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
        b = bias_of(node)
        px, pw, py = ctx.ptr(x), ctx.ptr(w), ctx.ptr(y)
        h, wa = s.h, s.w
        hw, ohw = h.size * wa.size, h.out * wa.out
        n_mb = -(-s.mg // s.mb)
        n_hb = -(-h.size // s.hb) if s.tiles_h else 1
        nm = ctx.names.fresh

        def body(tv: str, ws: str | None) -> list[Stmt]:
            out: list[Stmt] = []
            vs = {}
            for key, part in zip("ngMH", ix.unravel(tv, (s.n, s.g, n_mb, n_hb)), strict=True):
                vs[key] = nm("i")
                out.append(Decl("int64_t", vs[key], part))
            n, g, mblk, hblk = vs["n"], vs["g"], vs["M"], vs["H"]
            m0, mn, xg, yg, wg = nm("i"), nm("i"), nm("p"), nm("p"), nm("p")
            plane0 = f"({n}*{s.m} + {g}*{s.mg} + {m0})"
            out += [
                Decl("int64_t", m0, f"{mblk}*{s.mb}"),
                Decl("int64_t", mn, bounded(mblk, s.mb, s.mg)),
                Decl("float* restrict", xg, f"{px} + ({n}*{s.c} + {g}*{s.cg})*{hw}"),
                Decl("float* restrict", yg, f"{py} + {plane0}*{ohw}", const=False),
                Decl("float* restrict", wg, f"{pw} + {g}*{s.cg * s.mg * s.kk} + {m0}*{s.kk}"),
            ]
            mm, j = nm("i"), nm("i")
            bias = (lambda m: f"{ctx.ptr(b)}[{g}*{s.mg} + {m0} + {m}]") if b is not None \
                else (lambda m: "0.0f")
            if not s.exact:  # start the tile's planes at the bias
                out.append(For(mm, 0, mn, [For(j, 0, ohw, [
                    Assign(f"{yg}[{mm}*{ohw} + {j}]", bias(mm))], inline=True)], inline=True))
            h0, hn, cols = nm("i"), nm("i"), nm("i")
            chunk: list[Stmt] = [
                Decl("int64_t", cols, f"{hn}*{wa.size}"),
                sgemm(f"{mn}*{s.kk}", cols, s.cg, float_literal(1.0), wg, s.mg * s.kk, True,
                      f"{xg} + {h0}*{wa.size}", hw, False, float_literal(0.0), ws, cols),
                *_col2im(s, ctx, ws, yg, h0, hn, cols, mn, bias),
            ]
            if s.tiles_h:
                out += [Decl("int64_t", h0, f"{hblk}*{s.hb}"),
                        Decl("int64_t", hn, extent(h0, s.hb, h.size)), *chunk]
            else:  # chunks of input rows, one after the other
                out.append(tile_for(h0, hn, h.size, s.hb, chunk))
            if epilogue is not None:
                if s.tiles_h:  # rows [h0*sh, (h0 + hn)*sh) of each plane
                    r0 = nm("i")
                    out.append(For(mm, 0, mn, [
                        Decl("int64_t", r0, f"({plane0} + {mm})*{h.out} + {h0}*{h.stride}"),
                        Raw(epilogue(r0, f"{r0} + {hn}*{h.stride}", 0)),
                    ]))
                else:
                    out.append(Raw(epilogue(f"{plane0}*{h.out}", f"({plane0} + {mn})*{h.out}",
                                            0)))
            return out

        n_tiles = s.n * s.g * n_mb * n_hb
        work = s.n * s.m * s.kk * hw * s.cg
        return render(tiles(ctx, n_tiles, work, body, slot_floats=s.ws), 1)


def _col2im(s: TShape, ctx, ws, yg, h0, hn, cols, mn, bias) -> list[Stmt]:
    """Scatter ``ws[(m, ki, kj)][rows hn x W]`` into the planes ``yg`` (add, or write the
    single product plus the bias when ``s.exact``)."""
    nm = ctx.names.fresh
    h, wa = s.h, s.w
    mm, ki, r, j, oh, src, dst = nm("i"), nm("i"), nm("i"), nm("i"), nm("i"), nm("p"), nm("p")
    row: list[Stmt] = [
        Decl("int64_t", oh, f"({h0} + {r})*{h.stride} + {ki}*{h.dilation} - {h.pad_begin}"),
    ]
    if not s.exact:
        row.append(If(f"{oh} < 0 || {oh} >= {h.out}", [Expr("continue")], inline=True))
    row += [
        Decl("float* restrict", src,
             f"{ws} + (({mm}*{h.kernel} + {ki})*{wa.kernel})*{cols} + {r}*{wa.size}"),
        Decl("float* restrict", dst, f"{yg} + {mm}*{h.out * wa.out} + {oh}*{wa.out}",
             const=False),
    ]
    bv = None
    if s.exact:
        bv = nm("a")
        row.append(Decl("float", bv, bias(mm)))
    for kj in range(wa.kernel):
        lo, hi = _valid_in(wa, kj)
        if lo >= hi:
            continue
        o = ix.add(ix.mul(j, wa.stride), kj * wa.dilation - wa.pad_begin)
        val = f"{src}[{kj}*{cols} + {j}]"
        stmt = Assign(f"{dst}[{o}]", f"{bv} + {val}") if s.exact \
            else Assign(f"{dst}[{o}]", val, "+=")
        row.append(For(j, lo, hi, [stmt], inline=True))
    return [For(mm, 0, mn, [For(ki, 0, h.kernel, [For(r, 0, hn, row)])])]
