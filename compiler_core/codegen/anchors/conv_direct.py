"""Conv with more than one tap as an implicit GEMM on a zero-padded copy of X (no im2col).

For batch ``n`` and group ``g`` the ``Cg`` input channels are copied once into zero-bordered
phase images ``Xq[phase][Cg][Hq][Wq]`` in the block's workspace (stride 1: one phase, the
padded image; stride ``s``: the ``s x s`` phases the taps read, padded row ``q*s + p`` in row
``q`` of phase ``p``). Every output position ``j = oh*Wq + ow`` then reads tap ``k`` at
``Xq[off[k] + j]``: a GEMM whose B rows are shifted views of ``Xq``, run by ``dnf_dconv``
(``c/dnf_dconv.c``, an AVX-512 12 x 32 register-blocked kernel). The tap offsets ``off`` and
the weights packed as the kernel reads them (blocks of 12 output channels, ``[K][12]``) are
compile-time constants in weights.bin (``derived`` constants of the anchor). Bias is loaded
into the accumulators; the ``Wq - OW`` extra columns of each output row are computed and
dropped: the kernel stores the kept ones straight into Y (few taps), or the tile goes to a
per-thread slot whose rows are copied to Y (see :func:`direct_plan`); the fused epilogue then
runs on the tile's rows. Tiles: (output channels x output rows), shared among threads.

Against im2col + OpenBLAS sgemm (the other branch), per fused block, same artifact with and
without the path: faster only for shallow convs (the first conv of a network: 3 input
channels), as fast or slower for deep ones and for small images (dropped columns): the path
is taken for K <= :data:`MAX_K` and at most :data:`MAX_EXTRA` dropped columns. The kernel
needs AVX-512F, checked at run time (``dnf_dconv_ok()``); the caller keeps the im2col + sgemm
path as the other branch (other CPUs, the arm64 target), which reads W in its ONNX layout:
weights.bin holds both layouts (the unused one is never paged in: it is mmapped).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.anchors.base import Epilogue
from compiler_core.codegen.anchors.conv_shape import ConvShape, bias_of, is_depthwise
from compiler_core.codegen.anchors.tiles import WORKSPACE_SLOTS, bounded, region, split
from compiler_core.codegen.c.policy import parallel_policy
from compiler_core.codegen.c.stmt import Assign, Decl, Expr, For, If, Omp, Raw, Stmt
from compiler_core.codegen.context import KernelContext

MR = 12  # output channels of the kernel's register block (dnf_dconv.c DNF_DC_MR)
TILE_POSITIONS = 384  # output positions (Wq-wide rows) per tile: B stays in L2
B_TILE_FLOATS = 1 << 18  # at most 1 MB of B (K x positions) per tile
MIN_TILES = 8  # tiles of one image when the conv runs on several threads
STORE_MAX_K = 64  # GEMM depth up to which the kernel stores straight into Y
# Extra (dropped) columns per Wq-wide row the path accepts: measured per block on SqueezeNet
# (one thread, min of 60 runs, this path vs im2col + sgemm in one artifact): 55x55 (2 extra
# of 57) 0.93-0.98x the time, 27x27 (2 of 29) 1.04-1.12x, 13x13 (2 of 15) 1.06-1.13x.
MAX_EXTRA = 0.05
# GEMM depth (Cg*kh*kw) the path takes. Per block, same artifact with and without the path,
# min of 20-60 runs, 1 / 2 threads: K = 27 (SqueezeNet conv1, 3x3 stride 2) 0.84 / 0.93x the
# time; K = 144 (SqueezeNet 55x55 3x3) 0.97-0.98 / 1.01-1.07x; K = 147 (ResNet-50 7x7 stride
# 2 stem) 1.12 / 0.97x; K = 576 (ResNet-50, Inception-v2 56x56 3x3) 0.97-1.05 / 0.89-0.97x;
# K = 1152 (ResNet-50 3x3 stride 2) 1.09 / 1.34x. Only the shallow ones pay. Deeper convs go
# through a per-thread slot (``DirectPlan.slot``), kept for a faster kernel (tests lift this).
MAX_K = 64
MIN_WIDTH = 6  # Wq: a vector spans at most 4 rows (dnf_dconv.c DNF_DC_SEGS)
PACKED = "dconv_packed"  # role of the packed weights in ctx.derived
OFFSETS = "dconv_offsets"  # role of the tap offsets in ctx.derived


@dataclass(frozen=True)
class DirectPlan:
    sh: int  # strides
    sw: int
    phases: tuple[tuple[int, int], ...]  # (row, column) phases of the padded input the taps read
    hq: int  # rows of one phase image (also the output rows' stride: positions j = oh*wq + ow)
    wq: int  # columns of one phase image
    xp: int  # floats of the phase images (all phases, all channels of a group)
    hb: int  # output rows per tile
    n_hb: int
    mb: int  # output channels per tile
    n_mb: int
    packed: int  # floats of one group's weights when packed at run time (else unused)
    parallel: bool
    slot: int  # floats of one thread's output tile (0: the kernel stores straight into Y)

    @property
    def plane(self) -> int:
        return self.hq * self.wq

    @property
    def shared(self) -> int:
        """Floats before the slots: the phase images, the weights when packed at run time."""
        return self.xp + self.packed

    @property
    def ws(self) -> int:
        return self.shared + self.slot * (WORKSPACE_SLOTS if self.parallel else 1)

    def offsets(self, s: ConvShape) -> np.ndarray:
        """int32 ``off[k]`` of tap ``k = (c*kh + ki)*kw + kj``: where output position 0 reads
        it in the phase images ``[phase][c][hq][wq]``."""
        h, w = s.win.h, s.win.w
        ri = np.arange(h.kernel) * h.dilation
        ci = np.arange(w.kernel) * w.dilation
        phase = {p: i for i, p in enumerate(self.phases)}
        ph = np.array([[phase[(a % self.sh, b % self.sw)] for b in ci] for a in ri])
        tap = ph * s.cg * self.plane + (ri // self.sh)[:, None] * self.wq + (ci // self.sw)[None]
        off = np.arange(s.cg)[:, None, None] * self.plane + tap[None]
        return off.reshape(-1).astype(np.int32)


def direct_plan(s: ConvShape) -> DirectPlan | None:
    """The tiling of the implicit-GEMM path for ``s``, or None when it does not apply (one
    tap, depthwise, pads that do not give the output size, too narrow an output, or deeper
    than :data:`MAX_K`). A stride ``s`` splits the
    padded input into its ``s x s`` phases (rows ``r = q*s + p`` go to phase ``p``, row ``q``):
    each tap then reads one phase image at a fixed shift, as with stride 1."""
    h, w = s.win.h, s.win.w
    if s.win.taps == 1 or is_depthwise(s):
        return None
    if min(h.pad_begin, h.pad_end, w.pad_begin, w.pad_end) < 0:
        return None
    for ax in (h, w):
        span = ax.size + ax.pad_begin + ax.pad_end - ax.dilation * (ax.kernel - 1) - 1
        if span < 0 or span // ax.stride + 1 != ax.out:
            return None
    sh, sw = h.stride, w.stride
    phases = tuple(sorted({(ki * h.dilation % sh, kj * w.dilation % sw)
                           for ki in range(h.kernel) for kj in range(w.kernel)}))
    hq = h.out + (h.kernel - 1) * h.dilation // sh
    wq = w.out + (w.kernel - 1) * w.dilation // sw
    if wq < MIN_WIDTH:  # a vector of 16 positions would span too many output rows
        return None
    if (wq - w.out) > MAX_EXTRA * wq:  # small images: too many dropped columns
        return None
    if s.k > MAX_K:  # deep convs: OpenBLAS on the im2col panel is as fast or faster
        return None
    oh = h.out
    positions = max(wq, min(TILE_POSITIONS, B_TILE_FLOATS // s.k))
    hb = max(1, min(oh, positions // wq))
    n_hb = -(-oh // hb)
    mb, n_mb = s.mg, 1
    parallel = parallel_policy(s.macs)
    if parallel:  # mb stays a multiple of MR: a tile starts on a packed block
        images = s.n * s.g
        if images * n_hb < MIN_TILES:
            mb, n_mb = split(s.mg, -(-MIN_TILES // (images * n_hb)), align=MR)
        if images * n_hb * n_mb < MIN_TILES and hb > 1:
            hb, n_hb = split(oh, -(-MIN_TILES // (images * n_mb)))
        if (images * n_hb * n_mb) % 2 and n_mb > 1:
            mb, n_mb = split(s.mg, n_mb + 1, align=MR)
    xp = len(phases) * s.cg * hq * wq
    if xp >= 1 << 31:  # tap offsets are int32
        return None
    packed = -(-s.mg // MR) * MR * s.k
    # Deep taps: the tile goes to a per-thread slot (Wq-wide rows, in cache) and its rows are
    # copied to Y; a few taps (K <= STORE_MAX_K): the kernel's stores go straight to Y's rows.
    # Measured per block on SqueezeNet (one thread, min of 60 runs): straight stores 6-9%
    # slower on the 3x3 stride-1 layers (K 144-576), 25% faster on conv1 (K 27).
    slot = 0 if s.k <= STORE_MAX_K else mb * hb * wq
    return DirectPlan(sh, sw, phases, hq, wq, xp, hb, n_hb, mb, n_mb, packed, parallel, slot)


def tap_offsets(s: ConvShape, d: DirectPlan) -> ir.Value:
    """The kernel's tap offsets as a compile-time constant (int32, K entries)."""
    off = d.offsets(s)
    return ir.Value(name=f"dconv_offsets_{s.k}_{d.hq}x{d.wq}", shape=ir.Shape([off.size]),
                    type=ir.TensorType(ir.DataType.INT32), const_value=ir.tensor(off))


def packed_weights(node: ir.Node, s: ConvShape) -> ir.Value | None:
    """W packed for ``dnf_dconv``: per group, blocks of MR output channels, each ``[K][MR]``
    (``[G][ceil(Mg/MR)][K][MR]``; a short last block repeats its last row); None when the
    weights are not constant (then the kernel packs them at run time)."""
    w = node.inputs[1]
    if w is None or w.const_value is None:
        return None
    arr = np.asarray(w.const_value.numpy(), dtype=np.float32).reshape(s.g, s.mg, s.k)
    blocks = -(-s.mg // MR)
    rows = np.minimum(np.arange(blocks * MR), s.mg - 1)
    packed = arr[:, rows, :].reshape(s.g, blocks, MR, s.k).transpose(0, 1, 3, 2)
    packed = np.ascontiguousarray(packed).reshape(-1)
    return ir.Value(name=f"{w.name or 'w'}_dconv_packed", shape=ir.Shape([packed.size]),
                    type=ir.TensorType(ir.DataType.FLOAT), const_value=ir.tensor(packed))


def _fill(s: ConvShape, d: DirectPlan, ctx: KernelContext, x: str, xp: str, n: str, g: str,
          omp: Omp) -> Stmt:
    """Copy the channels of X[n, g*Cg:(g+1)*Cg] (``x``: X's pointer) into the zero-bordered
    phase images ``xp[phase][c][hq][wq]`` (stride 1: one image, row copies), one (channel,
    phase row) per iteration (``omp``: shared among the threads or not: conv1 of SqueezeNet
    has 3 channels but 336 such rows)."""
    nm = ctx.names.fresh
    h, w = s.win.h, s.win.w
    cq, c, q, src = nm("i"), nm("i"), nm("i"), nm("p")
    body: list[Stmt] = [
        Decl("int64_t", c, f"{cq} / {d.hq}"),
        Decl("int64_t", q, f"{cq} % {d.hq}"),
        Decl("const float* restrict", src, f"{x} + ({n}*{s.c} + {g}*{s.cg} + {c})*{s.hw}"),
    ]
    for i, (ph, pw) in enumerate(d.phases):
        dst, ih = nm("p"), nm("i")
        # columns u of the phase image read input column u*sw + pw - pad_begin when in [0, W)
        lo = max(0, -(-(w.pad_begin - pw) // d.sw))
        hi = min(d.wq, max(lo, (w.size - 1 + w.pad_begin - pw) // d.sw + 1))
        row: list[Stmt] = []
        if lo:
            row.append(Expr(f"memset({dst}, 0, {lo}*sizeof(float))"))
        first = lo * d.sw + pw - w.pad_begin  # input column of phase column lo
        if d.sw == 1:
            row.append(Expr(f"memcpy({dst} + {lo}, {src} + {ih}*{w.size} + {first}, "
                            f"{hi - lo}*sizeof(float))"))
        else:
            u = nm("i")
            row.append(For(u, lo, hi, [Assign(
                f"{dst}[{u}]", f"{src}[{ih}*{w.size} + {u}*{d.sw} + {pw - w.pad_begin}]")],
                inline=True))
        if hi < d.wq:
            row.append(Expr(f"memset({dst} + {hi}, 0, {d.wq - hi}*sizeof(float))"))
        body += [
            Decl("float* restrict", dst, f"{xp} + ({i * s.cg} + {c})*{d.plane} + {q}*{d.wq}",
                 const=False),
            Decl("int64_t", ih, f"{q}*{d.sh} + {ph - h.pad_begin}"),
            If(f"{ih} < 0 || {ih} >= {h.size}",
               [Expr(f"memset({dst}, 0, {d.wq}*sizeof(float))")], row),
        ]
    return For(cq, 0, s.cg * d.hq, body, omp=omp)


def _tile(s: ConvShape, d: DirectPlan, ctx: KernelContext, node, epilogue: Epilogue | None,
          xp: str, weights: str, offsets: str, slot: str | None, n: str, g: str,
          t: str) -> list[Stmt]:
    """Tile ``t`` of image (n, g): dnf_dconv into Y's rows (or into the thread's ``slot``,
    then each row's OW kept floats to Y), then the epilogue on them. ``weights``: group g's
    packed W."""
    nm = ctx.names.fresh
    oh, ow = s.win.h.out, s.win.w.out
    hblk, mblk, h0, hn, m0, mn, m, r, first = (nm("i") for _ in range(9))
    b = bias_of(node)
    bias = f"{ctx.ptr(b)} + {g}*{s.mg} + {m0}" if b is not None else "NULL"
    yv = ctx.ptr(node.outputs[0])
    out: list[Stmt] = []
    for name, part in zip((mblk, hblk), ix.unravel(t, (d.n_mb, d.n_hb)), strict=True):
        out.append(Decl("int64_t", name, part))
    out += [
        Decl("int64_t", h0, f"{hblk}*{d.hb}"),
        Decl("int64_t", hn, bounded(hblk, d.hb, oh)),
        Decl("int64_t", m0, f"{mblk}*{d.mb}"),
        Decl("int64_t", mn, bounded(mblk, d.mb, s.mg)),
        Decl("int64_t", first, f"{n}*{s.m} + {g}*{s.mg} + {m0}"),
    ]
    call = (f"dnf_dconv({mn}, ({hn} - 1)*{d.wq} + {ow}, {s.k}, {weights} + {m0}*{s.k}, "
            f"{offsets}, {xp} + {h0}*{d.wq}, {d.wq}")
    if slot is None:
        out.append(Expr(f"{call}, {ow}, {yv} + ({first}*{oh} + {h0})*{ow}, {oh * ow}, {bias})"))
    else:
        out += [
            Expr(f"{call}, {d.wq}, {slot}, {hn}*{d.wq}, {bias})"),
            For(m, 0, mn, [For(r, 0, hn, [Expr(
                f"memcpy({yv} + (({first} + {m})*{oh} + {h0} + {r})*{ow}, "
                f"{slot} + ({m}*{hn} + {r})*{d.wq}, {ow}*sizeof(float))")])]),
        ]
    if epilogue is not None:
        r0 = nm("i")
        out.append(For(m, 0, mn, [
            Decl("int64_t", r0, f"({first} + {m})*{oh} + {h0}"),
            Raw(epilogue(r0, f"{r0} + {hn}", 0)),
        ]))
    return out


def emit_direct(ctx: KernelContext, node, s: ConvShape, d: DirectPlan,
                epilogue: Epilogue | None) -> list[Stmt]:
    """Statements of the implicit-GEMM path (call only under ``dnf_dconv_ok()``)."""
    nm = ctx.names.fresh
    ng, n, g, t, p, slot = nm("i"), nm("i"), nm("i"), nm("t"), nm("i"), nm("ws")
    ws = ctx.ptr(ctx.workspace)
    x = ctx.ptr(node.inputs[0])
    omp = Omp.FOR if d.parallel else Omp.SERIAL
    thread = "(int64_t)omp_get_thread_num()" if d.parallel else "0"
    offsets = ctx.ptr(ctx.derived[OFFSETS])
    blocks = -(-s.mg // MR)
    packed = ctx.derived.get(PACKED)
    if packed is not None:  # packed at compile time
        prep: list[Stmt] = []
        weights = f"{ctx.ptr(packed)} + {g}*{blocks * MR * s.k}"
    else:
        prep = [For(p, 0, blocks, [Expr(
            f"dnf_dconv_pack({p} == {blocks - 1} ? {s.mg - (blocks - 1) * MR} : {MR}, {s.k}, "
            f"{ctx.ptr(node.inputs[1])} + ({g}*{s.mg} + {p}*{MR})*{s.k}, {s.k}, "
            f"{ws} + {d.xp} + {p}*{MR * s.k})")], omp=omp)]
        weights = f"{ws} + {d.xp}"
    images = For(ng, 0, s.n * s.g, [
        Decl("int64_t", n, f"{ng} / {s.g}"),
        Decl("int64_t", g, f"{ng} % {s.g}"),
        _fill(s, d, ctx, x, ws, n, g, omp),
        *prep,
        For(t, 0, d.n_mb * d.n_hb, [
            *([Decl("float* restrict", slot, f"{ws} + {d.shared} + {thread}*{d.slot}",
                    const=False)] if d.slot else []),
            *_tile(s, d, ctx, node, epilogue, ws, weights, offsets, slot if d.slot else None,
                   n, g, t),
        ], omp=omp),
    ])
    return region(ctx, [images]) if d.parallel else [images]
