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
from compiler_core.codegen.anchors.tiles import PAD, tile_loop
from compiler_core.codegen.anchors.window import Axis
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

    def body(plane: str, ws, ind: int) -> list[str]:
        n, m = ix.unravel(plane, (s.n, s.m))
        xc, yc, wk, oh, yr, bv = nm("p"), nm("p"), nm("p"), nm("i"), nm("p"), nm("a")
        p = PAD * ind
        chan = f"({n}*{s.c} + {m} / {s.mg})" if s.mg > 1 else plane
        lines = [
            p + f"const float* restrict {xc} = {px} + {chan}*{s.hw};",
            p + f"float* restrict {yc} = {py} + {plane}*{s.ohw};",
            p + f"const float* restrict {wk} = {pw} + {m}*{s.win.taps};",
            p + f"const float {bv} = {ctx.ptr(b) + f'[{m}]' if b is not None else '0.0f'};",
        ]
        wv = [nm("a") for _ in range(s.win.taps)]
        if inline:
            lines += [p + f"const float {v} = {wk}[{k}];" for k, v in enumerate(wv)]
        lines.append(p + f"for (int64_t {oh} = 0; {oh} < {h.out}; ++{oh}) {{")
        lines.append(p + PAD + f"float* restrict {yr} = {yc} + {oh}*{wa.out};")
        if inline:
            lines.append(p + PAD + f"if ({oh} >= {r0} && {oh} < {r1}) {{")
            lines += _interior_row(s, xc, yr, oh, bv, wv, c0, c1, nm, ind + 2)
            lines.append(p + PAD + "} else {")
            lines += _border_row(s, xc, yr, oh, bv, wk, nm, ind + 2)
            lines.append(p + PAD + "}")
        else:
            lines += _border_row(s, xc, yr, oh, bv, wk, nm, ind + 1)
        lines.append(p + "}")
        if epilogue is not None:
            lines += epilogue(f"{plane}*{h.out}", f"({plane} + 1)*{h.out}", ind)
        return lines

    return tile_loop(ctx, s.n * s.m, s.macs, body)


def _interior_row(s: ConvShape, xc, yr, oh, bv, wv, c0, c1, nm, ind) -> list[str]:
    h, wa = s.win.h, s.win.w
    rows = [nm("p") for _ in range(h.kernel)]
    lines = [
        PAD * ind + f"const float* restrict {r} = {xc} + "
        f"{ix.mul(ix.add(ix.mul(oh, h.stride), h.offset(ki)), wa.size)};"
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
        lines.append(PAD * ind + f"{yr}[{col}] = {total(str(col), valid)};")
    j = nm("i")
    lines.append(PAD * ind + f"for (int64_t {j} = {c0}; {j} < {c1}; ++{j})")
    lines.append(PAD * (ind + 1) + f"{yr}[{j}] = {total(j, everything)};")
    return lines


def _border_row(s: ConvShape, xc, yr, oh, bv, wk, nm, ind) -> list[str]:
    h, wa = s.win.h, s.win.w
    ki, ih, xr, j = nm("i"), nm("i"), nm("p"), nm("i")
    lines = [
        PAD * ind + f"for (int64_t {j} = 0; {j} < {wa.out}; ++{j}) {yr}[{j}] = {bv};",
        PAD * ind + f"for (int64_t {ki} = 0; {ki} < {h.kernel}; ++{ki}) {{",
        PAD * (ind + 1) + f"const int64_t {ih} = {oh}*{h.stride} + {ki}*{h.dilation}"
        f" - {h.pad_begin};",
        PAD * (ind + 1) + f"if ({ih} < 0 || {ih} >= {h.size}) continue;",
        PAD * (ind + 1) + f"const float* restrict {xr} = {xc} + {ih}*{wa.size};",
    ]
    for kj in range(wa.kernel):
        lo, hi = wa.valid(kj)
        if lo >= hi:
            continue
        v = nm("a")
        src = ix.add(ix.mul(j, wa.stride), wa.offset(kj))
        lines += [
            PAD * (ind + 1) + f"const float {v} = {wk}[{ki}*{wa.kernel} + {kj}];",
            PAD * (ind + 1) + f"for (int64_t {j} = {lo}; {j} < {hi}; ++{j}) "
            f"{yr}[{j}] += {v} * {xr}[{src}];",
        ]
    lines.append(PAD * ind + "}")
    return lines
