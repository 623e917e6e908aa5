"""Conv as GEMM per batch and group.

For batch ``n`` and group ``g``: ``Y_ng[Mg, OH*OW] = W_g[Mg, K] x cols[K, OH*OW]`` with
``cols[(c*kh + ki)*kw + kj, oh*OW + ow] = X[n, g*Cg + c, oh*sh - ph + ki*dh, ow*sw - pw + kj*dw]``
(zero in the padding). Three layouts of the work:

- *direct*: 1x1, stride 1, no padding, X in a buffer: ``cols`` *is* X_ng, read in place
  (``ldb = H*W``); tiles over (n, g, output rows, output channels);
- *panel per tile*: tiles over (n, g, output rows); each thread fills the ``K x rows*OW``
  im2col panel of its tile in its workspace slot (sized to stay in cache), then one ``sgemm``;
- *shared panel* (few row tiles: small images, deep layers): the threads fill the whole
  ``K x OH*OW`` panel of (n, g) together, then each computes one block of output channels
  (one ``sgemm``), so no panel element is built twice.

On x86-64, with W a constant and 256+ output positions, ``dnf_gemm_pa`` (W packed at compile
time, :mod:`.gemm_packed_a`) replaces ``sgemm`` and the tiles are rows of the output
(:func:`_packed_tiling`): X read in place for a 1x1 conv (:func:`pa_reads_x_in_place`), else
a panel each.

A fused prologue on X (an element-wise chain the planner put before the conv) is evaluated
while filling the panel when each element is read once (1x1 kernels); otherwise the anchor asks
for X to be materialized first (see :mod:`.conv`). After the ``sgemm`` each tile gets its bias
and the fused element-wise epilogue while in cache.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.anchors import gemm_packed_a as pa
from compiler_core.codegen.anchors.base import Epilogue, stored_epilogue
from compiler_core.codegen.anchors.conv_direct import OFFSETS, direct_plan, emit_direct
from compiler_core.codegen.anchors.conv_shape import ConvShape, bias_of
from compiler_core.codegen.anchors.conv_winograd import U_ROLE, emit_winograd, wino_plan
from compiler_core.codegen.anchors.gemm import sgemm
from compiler_core.codegen.anchors.tiles import (
    WORKSPACE_SLOTS,
    bounded,
    padded,
    region,
    split,
    tiles,
)
from compiler_core.codegen.c.policy import parallel_policy
from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import Assign, Decl, Expr, For, If, Omp, Raw, Stmt, extent
from compiler_core.codegen.cnames import float_literal
from compiler_core.codegen.context import KernelContext
from compiler_core.ir.ecg import value_shape

TILE_FLOATS = 1 << 16  # an im2col panel or output tile of 256 KB stays in L2
MIN_COLS = 128  # narrower panels make sgemm repack the weights too often
MIN_TILES = 4  # enough tiles to keep a few threads busy
MIN_CHANNELS = 16  # output channels per tile when channels are split (a SIMD multiple)
SHARED_PANEL_MAX = 1 << 21  # floats (8 MB) of a shared whole-image panel
PA_COLS = (256, 1024)  # least and most columns of a dnf_gemm_pa tile


@dataclass(frozen=True)
class Tiling:
    mode: str  # "direct", "tile" (panel per tile) or "shared" (one panel per image)
    hb: int  # output rows per tile
    n_hb: int
    mb: int  # output channels per tile
    n_mb: int
    ws: int  # workspace floats (all slots)
    parallel: bool


def _even_rows(oh: int, hb: int, other_tiles: int) -> int:
    """Rows per tile so the row tiles have (nearly) equal sizes and, with ``other_tiles``
    tiles per row block, the tile count is even: a static schedule then gives 2 (or 4)
    threads the same work. 13 rows in blocks of 10 (10 + 3: one thread did 77% of SqueezeNet's
    conv10) become 7 + 6; 55 rows in blocks of 9 (7 tiles) become 8 tiles of 7."""
    n_hb = -(-oh // hb)
    if n_hb > 1 and (n_hb * other_tiles) % 2 == 1 and n_hb < oh:
        n_hb += 1
    return -(-oh // n_hb)


def tiling(s: ConvShape, x_buffer: bool = True, packed: bool = False) -> Tiling:
    """``x_buffer``: X is materialized (else a fused prologue fills the panel); ``packed``: W
    is packed for ``dnf_gemm_pa`` (:func:`_packed_tiling`)."""
    oh, ow = s.win.h.out, s.win.w.out
    direct = s.win.h.simple and s.win.w.simple and x_buffer
    parallel = parallel_policy(s.macs)
    if packed:
        t = _packed_tiling(s, parallel)
        return replace(t, mode="direct", ws=0) if pa_reads_x_in_place(s, x_buffer) else t
    hb, mb = oh, s.mg
    if parallel and direct and s.mg > s.ohw and s.mg >= 2 * MIN_CHANNELS:
        # More weights than activations (deep 1x1 layers): every sgemm call repacks its part
        # of both operands, so tiles split the output channels and keep all columns: W is
        # packed once in all, X once per tile. SqueezeNet's conv10 (M 1000, N 169, K 512),
        # one thread: 1238 us as 4 row x channel tiles, 940 us as 4 channel tiles.
        mb, n_mb = split(s.mg, MIN_TILES, align=MIN_CHANNELS)
        if n_mb % 2 and n_mb > 1:
            mb, n_mb = split(s.mg, n_mb + 1, align=MIN_CHANNELS)
        return Tiling("direct", oh, 1, mb, n_mb, 0, True)
    if parallel:
        per_col = s.mg if direct else s.k
        cols = max(min(s.ohw, MIN_COLS), TILE_FLOATS // per_col)
        hb = min(oh, -(-cols // ow))
        tiles = s.n * s.g * -(-oh // hb)
        if tiles < MIN_TILES and s.mg >= 32:
            if not direct and s.k * s.ohw <= SHARED_PANEL_MAX:  # channels split at run time
                return Tiling("shared", oh, 1, s.mg, 1, s.k * s.ohw, True)
            mb, _ = split(s.mg, -(-MIN_TILES // tiles), align=16)
        tiles *= -(-s.mg // mb)
        if tiles < MIN_TILES:
            hb, _ = split(hb, -(-MIN_TILES // tiles))
        hb = _even_rows(oh, hb, s.n * s.g * -(-s.mg // mb))
    n_hb, n_mb = -(-oh // hb), -(-s.mg // mb)
    ws = 0 if direct else padded(s.k * hb * ow) * (WORKSPACE_SLOTS if parallel else 1)
    return Tiling("direct" if direct else "tile", hb, n_hb, mb, n_mb, ws, parallel)


def pa_reads_x_in_place(s: ConvShape, x_buffer: bool) -> bool:
    """A 1x1 stride-1 conv with X in a buffer: ``dnf_gemm_pa`` reads X's rows in place
    (``ldb = H*W``, the *direct* layout) instead of a copy of its tile's columns in a panel.
    02c207b copied them because rows a whole image apart cost a TLB miss per depth step; the
    arena has been on 2 MB pages since (095ce8f), and the copy, a pass over all of X, no
    longer pays. Alone, one AMD EPYC (Zen 4) core, min of 100 interleaved runs, copy -> in
    place: M 16 K 128 N 3025 (SqueezeNet's squeezes) 152 -> 120 us, M 32 K 256 N 729
    134 -> 109, M 64 K 256 N 3136 971 -> 914, M 128 K 256 N 784 470 -> 454, M 256 K 64
    N 3136 947 -> 933 (on 4 KB pages too: M 64 K 256 971 -> 914). Light ResNet-50 per block,
    interleaved: its 1x1 Conv+Relu 0.91-0.96 of the time at 1 thread, 0.82-0.90 at 2."""
    return s.win.h.simple and s.win.w.simple and x_buffer


def _packed_tiling(s: ConvShape, parallel: bool) -> Tiling:
    """Row tiles with a panel each, for ``dnf_gemm_pa`` (:func:`tiling` turns them into
    *direct* tiles without panels when X is read in place, :func:`pa_reads_x_in_place`). The
    tile has :data:`PA_COLS` columns, as many rows as give the fewest padded columns in the
    kernel's 32-column blocks."""
    oh, ow = s.win.h.out, s.win.w.out
    lo, hi = PA_COLS
    cols = min(max(TILE_FLOATS // s.k, lo), hi)
    top = max(1, min(oh, cols // ow))

    def waste(hb: int) -> float:
        return pa.padded_columns(hb * ow) / (hb * ow)

    hb = min(range(max(1, top // 2), top + 1), key=lambda r: (waste(r), -r))
    if parallel:
        tiles = s.n * s.g * -(-oh // hb)
        if tiles < MIN_TILES:
            hb, _ = split(hb, -(-MIN_TILES // tiles))
        hb = _even_rows(oh, hb, s.n * s.g)
    ws = padded(s.k * hb * ow) * (WORKSPACE_SLOTS if parallel else 1)
    return Tiling("tile", hb, -(-oh // hb), s.mg, 1, ws, parallel)


def im2col(s: ConvShape, x: ir.Value, n: str, g: str, ws: str, h0: str, hn: str, cols: str,
            ctx: KernelContext, shared: bool = False) -> list[Stmt]:
    """Fill ``ws[K][cols]`` with the im2col panel of output rows ``[h0, h0 + hn)``; X is read
    from its buffer, or evaluated from the fused prologue once per panel element. ``shared``:
    the rows (c, ki) are an ``omp for`` inside the enclosing parallel region."""
    nm = ctx.names.fresh
    h, w = s.win.h, s.win.w
    c, ki, r, j = nm("i"), nm("i"), nm("i"), nm("i")
    d0, ih, xr = nm("p"), nm("i"), nm("p")
    buffered = x in ctx.buffers
    q = nm("i") if shared else None
    row: list[Stmt] = []
    if buffered:
        row.append(Decl("float* restrict", xr,
                        f"{ctx.ptr(x)} + ({n}*{s.c} + {g}*{s.cg} + {c})*{s.hw}"))
    row += [
        Decl("float* restrict", d0,
             f"{ws} + (({c}*{h.kernel} + {ki})*{w.kernel})*{cols} + {r}*{w.out}", const=False),
        Decl("int64_t", ih, f"({h0} + {r})*{h.stride} + {ki}*{h.dilation} - {h.pad_begin}"),
    ]
    if h.pad_begin or h.pad_end or h.dilation * (h.kernel - 1) + 1 > h.size:
        row.append(If(f"{ih} < 0 || {ih} >= {h.size}", [
            *(Expr(f"memset({d0} + {kj}*{cols}, 0, {w.out}*sizeof(float))")
              for kj in range(w.kernel)),
            Expr("continue"),
        ]))
    channel = ix.add(ix.mul(g, s.cg), c)
    for kj in range(w.kernel):
        lo, hi = w.valid(kj)
        d = f"({d0} + {kj}*{cols})"
        if lo > 0:
            row.append(Expr(f"memset({d}, 0, {lo}*sizeof(float))"))
        src = ix.add(ix.mul(j, w.stride), w.offset(kj))
        if buffered:
            row.append(For(j, lo, hi, [Assign(f"{d}[{j}]", f"{xr}[{ih}*{w.size} + {src}]")],
                           inline=True))
        else:
            gen = ctx.gen(0)
            rank = len(value_shape(x))
            idx = (n, channel, ih, src) if rank == 4 else (n, channel, src)
            v = gen.at(x, idx)
            row.append(For(j, lo, hi, [Raw(gen.lines), Assign(f"{d}[{j}]", v)]))
        if hi < w.out:
            row.append(Expr(f"memset({d} + {hi}, 0, {w.out - hi}*sizeof(float))"))
    rows = For(r, 0, hn, row)
    if shared:
        return [For(q, 0, s.cg * h.kernel, [
            Decl("int64_t", c, f"{q} / {h.kernel}"),
            Decl("int64_t", ki, f"{q} % {h.kernel}"),
            rows,
        ], omp=Omp.FOR)]
    return [For(c, 0, s.cg, [For(ki, 0, h.kernel, [rows])])]


def _gemm_tile(s: ConvShape, node: ir.Node, ctx: KernelContext, epilogue: Epilogue | None,
               n: str, g: str, m0: str, mn: str, h0: str, hn: str, src: str, ldb: str,
               full_planes: bool, flat: tuple[str, str] | None = None) -> list[Stmt]:
    """sgemm of output channels ``[m0, m0 + mn)`` x rows ``[h0, h0 + hn)``, bias, epilogue;
    ``flat = (j0, cols)``: of the output positions ``[j0, j0 + cols)`` instead (whole rows
    or not: the epilogue must be one ``dnf_gemm_pa`` applies, see :func:`_flat_applies`)."""
    nm = ctx.names.fresh
    oh, ow = s.win.h.out, s.win.w.out
    b = bias_of(node)
    yt, cols = nm("p"), nm("i")
    first = f"({n}*{s.m} + {g}*{s.mg} + {m0})"  # first output plane of the tile
    at = f"{h0}*{ow}" if flat is None else flat[0]  # the tile's first position
    out: list[Stmt] = [
        Decl("int64_t", cols, f"{hn}*{ow}" if flat is None else flat[1]),
        Decl("float* restrict", yt,
             f"{ctx.ptr(node.outputs[0])} + {first}*{s.ohw} + {at}", const=False),
    ]
    if pa.ROLE in ctx.derived:  # the bias starts the sums
        wp = f"{ctx.ptr(ctx.derived[pa.ROLE])} + {pa.row_offset(g, m0, s.mg, s.k)}"
        bias = f"{ctx.ptr(b)} + {g}*{s.mg} + {m0}" if b is not None else "NULL"
        # a lone Relu over the output, or a residual Add (+ Relu), is applied as the kernel
        # stores the tile
        stored = stored_epilogue(epilogue)
        r, relu = stored if stored is not None else (None, False)
        res = f"{ctx.ptr(r)} + {first}*{s.ohw} + {at}" if r is not None else "NULL"
        out.append(pa.gemm_pa(mn, cols, s.k, wp, src, ldb, yt, s.ohw, bias, relu, res))
        if stored is not None:
            epilogue = None
    else:
        wt = f"{ctx.ptr(node.inputs[1])} + ({g}*{s.mg} + {m0})*{s.k}"
        one, zero = float_literal(1.0), float_literal(0.0)
        out.append(sgemm(mn, cols, s.k, one, wt, s.k, False, src, ldb, False, zero, yt, s.ohw))
    if b is not None and pa.ROLE not in ctx.derived:
        m, j, bv = nm("i"), nm("i"), nm("a")
        out.append(For(m, 0, mn, [
            Decl("float", bv, f"{ctx.ptr(b)}[{g}*{s.mg} + {m0} + {m}]"),
            For(j, 0, cols, [Assign(f"{yt}[{m}*{s.ohw} + {j}]", bv, "+=")], inline=True),
        ]))
    if epilogue is not None:
        assert flat is None, "a flat tile's epilogue must be applied by dnf_gemm_pa"
        if full_planes:
            out.append(Raw(epilogue(f"{first}*{oh}", f"({first} + {mn})*{oh}", 0)))
        else:
            m, r0 = nm("i"), nm("i")
            out.append(For(m, 0, mn, [
                Decl("int64_t", r0, f"({first} + {m})*{oh} + {h0}"),
                Raw(epilogue(r0, f"{r0} + {hn}", 0)),
            ]))
    return out


def workspace(s: ConvShape, x_buffer: bool, packed: bool = False) -> int:
    """Floats of scratch the conv needs: the im2col panels, or the implicit-GEMM path's
    padded input and output slots (both paths are in the code, see :func:`emit_gemm`; not
    when W is packed for ``dnf_gemm_pa``)."""
    t = tiling(s, x_buffer, packed)
    ws = t.ws
    if packed and x_buffer and s.n == 1 and not pa_reads_x_in_place(s, x_buffer):
        # the tiles of _emit_flat, when the epilogue lets it run (not known here)
        width = _flat_width(s, t.parallel)
        ws = max(ws, padded(s.k * width) * (WORKSPACE_SLOTS if t.parallel else 1))
    d = direct_plan(s) if x_buffer and not packed else None
    return ws if d is None else max(ws, d.ws)


def emit_gemm(ctx: KernelContext, node: ir.Node, s: ConvShape, epilogue: Epilogue | None):
    """Lines of the conv: im2col/direct + sgemm; a conv with several taps also gets the
    implicit-GEMM path (:mod:`.conv_direct`), taken when the CPU runs its kernel; a 3x3
    stride-1 conv whose weights were transformed goes the Winograd way (:mod:`.conv_winograd`);
    with W packed (:mod:`.gemm_packed_a`) ``dnf_gemm_pa`` replaces ``sgemm``."""
    if U_ROLE in ctx.derived:
        return render(emit_winograd(ctx, node, s, wino_plan(s), epilogue), 1)
    d = direct_plan(s) if OFFSETS in ctx.derived else None
    if d is None:
        return render(_emit_sgemm(ctx, node, s, epilogue), 1)
    fast = emit_direct(ctx, node, s, d, epilogue)
    return render([If("dnf_dconv_ok()", fast, _emit_sgemm(ctx, node, s, epilogue))], 1)


def _flat_applies(ctx: KernelContext, s: ConvShape, x: ir.Value, t: Tiling,
                  epilogue: Epilogue | None) -> bool:
    """A 2-D conv on ``dnf_gemm_pa`` whose row tiles leave part of a 32-column block empty
    (28x28: tiles of 7 rows, 196 columns, computed as 224), X in a buffer and nothing after the
    GEMM but what the kernel applies as it stores (a Relu, a residual Add): its tiles are then
    runs of whole 32-column blocks that need not start on a row (:func:`_emit_flat`)."""
    if not (pa.ROLE in ctx.derived and x in ctx.buffers and s.n == 1
            and len(value_shape(x)) == 4):
        return False
    if epilogue is not None and stored_epilogue(epilogue) is None:
        return False
    ow = s.win.w.out
    rows = [min(t.hb, s.win.h.out - h0) for h0 in range(0, s.win.h.out, t.hb)]
    return sum(pa.padded_columns(r * ow) for r in rows) >= pa.NC


def _flat_tiles(s: ConvShape, parallel: bool) -> int:
    """Tiles of :func:`_emit_flat`: about :data:`PA_COLS` columns each, at least
    :data:`MIN_TILES` (an even count) when parallel, at most one per 32-column block."""
    lo, hi = PA_COLS
    cols = min(max(TILE_FLOATS // s.k, lo), hi)
    n_t = -(-s.ohw // cols)
    if parallel:
        n_t = max(n_t, MIN_TILES)
        n_t += n_t % 2
    return max(1, min(n_t, -(-s.ohw // pa.NC)))


def _flat_width(s: ConvShape, parallel: bool) -> int:
    """Panel columns of :func:`_emit_flat`'s widest tile: its 32-column blocks, and for a conv
    with several taps (or a stride, padding) the output rows they touch (two more at most)."""
    blocks = -(-s.ohw // pa.NC)
    width = -(-blocks // _flat_tiles(s, parallel)) * pa.NC
    one = s.win.h.simple and s.win.w.simple
    return width if one else width + 2 * s.win.w.out


def _emit_flat(ctx: KernelContext, node: ir.Node, s: ConvShape, t: Tiling,
               epilogue: Epilogue | None) -> list[Stmt]:
    """The tiles of a :func:`_flat_applies` conv: the ``nb`` 32-column blocks of the
    ``OH*OW`` positions shared out evenly, tile ``T`` taking blocks ``[T*nb/n_t,
    (T+1)*nb/n_t)``; each reads X in place (a 1x1 stride-1 conv, see
    :func:`pa_reads_x_in_place`) or fills the im2col panel of the output rows they touch, then runs
    ``dnf_gemm_pa`` over all output channels from the tile's first column. On 28x28 (784
    positions, 25 blocks), one thread computes 25 blocks instead of 28, two 13 and 12 instead
    of 14 each. Alone, one Intel Xeon core: M 512 K 128 N 196 146 GFLOP/s, N 192 176."""
    nm = ctx.names.fresh
    x = node.inputs[0]
    ow = s.win.w.out
    nb = -(-s.ohw // pa.NC)
    n_t = _flat_tiles(s, t.parallel)
    in_place = pa_reads_x_in_place(s, True)

    def body(tv: str, ws: str | None) -> list[Stmt]:
        g, tt, j0, j1, cols, r0, rn = (nm("i") for _ in range(7))
        if ws is None and not in_place:
            ws = ctx.ptr(ctx.workspace)
        out: list[Stmt] = [
            Decl("int64_t", g, f"{tv} / {n_t}"),
            Decl("int64_t", tt, f"{tv} % {n_t}"),
            Decl("int64_t", j0, f"{tt}*{nb}/{n_t}*{pa.NC}"),
            Decl("int64_t", j1, f"({tt} + 1)*{nb}/{n_t}*{pa.NC}"),
            Decl("int64_t", cols, f"({j1} < {s.ohw} ? {j1} : {s.ohw}) - {j0}"),
        ]
        if in_place:
            b, ldb = f"{ctx.ptr(x)} + {g}*{s.cg}*{s.hw} + {j0}", str(s.hw)
        else:  # the panel of rows [r0, r0 + rn): the tile starts j0 - r0*OW columns in
            out += [Decl("int64_t", r0, f"{j0} / {ow}"),
                    Decl("int64_t", rn, f"({j0} + {cols} + {ow - 1}) / {ow} - {r0}")]
            out += im2col(s, x, "0", g, ws, r0, rn, f"({rn}*{ow})", ctx)
            b, ldb = f"{ws} + ({j0} - {r0}*{ow})", f"{rn}*{ow}"
        return out + _gemm_tile(s, node, ctx, epilogue, "0", g, "0", str(s.mg), "0", "0", b,
                                ldb, False, flat=(j0, cols))

    slot = s.k * _flat_width(s, t.parallel) if t.parallel and not in_place else 0
    return tiles(ctx, s.g * n_t, s.macs if t.parallel else 0, body, slot_floats=slot)


def _emit_sgemm(ctx: KernelContext, node: ir.Node, s: ConvShape,
                epilogue: Epilogue | None) -> list[Stmt]:
    x = node.inputs[0]
    t = tiling(s, x in ctx.buffers, pa.ROLE in ctx.derived)
    if t.mode == "shared":
        return _emit_shared(ctx, node, s, t, epilogue)
    if _flat_applies(ctx, s, x, t, epilogue):
        return _emit_flat(ctx, node, s, t, epilogue)
    nm = ctx.names.fresh
    slot = s.k * t.hb * s.win.w.out if t.parallel and t.mode == "tile" else 0

    def body(tv: str, ws: str | None) -> list[Stmt]:
        out: list[Stmt] = []
        names = {}
        for key, part in zip("ngHM", ix.unravel(tv, (s.n, s.g, t.n_hb, t.n_mb)), strict=True):
            names[key] = nm("i")
            out.append(Decl("int64_t", names[key], part))
        n, g, hblk, mblk = names["n"], names["g"], names["H"], names["M"]
        h0, hn, m0, mn = nm("i"), nm("i"), nm("i"), nm("i")
        out += [
            Decl("int64_t", h0, f"{hblk}*{t.hb}"),
            Decl("int64_t", hn, bounded(hblk, t.hb, s.win.h.out)),
            Decl("int64_t", m0, f"{mblk}*{t.mb}"),
            Decl("int64_t", mn, bounded(mblk, t.mb, s.mg)),
        ]
        if t.mode == "direct":
            src = f"{ctx.ptr(x)} + ({n}*{s.c} + {g}*{s.cg})*{s.hw} + {h0}*{s.win.w.out}"
            ldb = str(s.hw)
        else:
            if ws is None:
                ws = ctx.ptr(ctx.workspace)
            cols = f"{hn}*{s.win.w.out}"
            out += im2col(s, x, n, g, ws, h0, hn, f"({cols})", ctx)
            src, ldb = ws, cols
        return out + _gemm_tile(s, node, ctx, epilogue, n, g, m0, mn, h0, hn, src, ldb,
                                t.n_hb == 1)

    n_tiles = s.n * s.g * t.n_hb * t.n_mb
    return tiles(ctx, n_tiles, s.macs if t.parallel else 0, body, slot_floats=slot)


def _emit_shared(ctx: KernelContext, node: ir.Node, s: ConvShape, t: Tiling,
                 epilogue: Epilogue | None) -> list[Stmt]:
    nm = ctx.names.fresh
    ng, n, g, mt, m0, mn, mb, nb = (nm("i") for _ in range(8))
    panel = ctx.ptr(ctx.workspace)
    oh = s.win.h.out
    # One block of output channels per thread (a multiple of 16): one sgemm call each.
    images = For(ng, 0, s.n * s.g, [
        Decl("int64_t", n, f"{ng} / {s.g}"),
        Decl("int64_t", g, f"{ng} % {s.g}"),
        *im2col(s, node.inputs[0], n, g, panel, "0", str(oh), str(s.ohw), ctx, shared=True),
        For(mt, 0, nb, [
            Decl("int64_t", m0, f"{mt}*{mb}"),
            Decl("int64_t", mn, extent(m0, mb, s.mg)),
            *_gemm_tile(s, node, ctx, epilogue, n, g, m0, mn, "0", str(oh), panel,
                        str(s.ohw), True),
        ], omp=Omp.FOR),
    ])
    return region(ctx, [
        Decl("int64_t", mb, f"({s.mg} + 16*omp_get_num_threads() - 1) / "
                            "(16*omp_get_num_threads())*16"),
        Decl("int64_t", nb, f"({s.mg} + {mb} - 1) / {mb}"),
        images,
    ])
