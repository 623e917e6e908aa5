"""Convs whose weights are the big operand, as a packed-B GEMM of the transposes.

A conv on a small image (under :data:`.gemm_packed_a.MIN_POSITIONS` output positions: ResNet-50's
14x14 and 7x7 stages, Inception-v2's 14x14 and 7x7 modules, SqueezeNet's 13x13 fires), or a 1x1
one with more output channels than positions (SqueezeNet's conv10: 1000 channels of 13x13),
has far more weights than activations, and every ``cblas_sgemm`` call packed them again. Here
they are packed at compile time as the B of ``Y^T[N, M] = X^T[N, K] W^T[K, M]`` (``N``
output positions, ``K = C*kh*kw``, ``M`` output channels; :mod:`.gemm_packed`, the weights
stored only in that form), and per image:

1. a 1x1 conv's ``XT[N, K]`` is X itself, read in place as A transposed (``dnf_gemm_pb``'s
   ``at``: ``A[j][c] = X[c][j]``, the kernel prefetching A's lines a few depth steps ahead);
   a 1-D conv with several taps (or a stride, padding) reads its im2col panel ``P[K, N]`` the
   same way. Transposing X first cost Inception-v2's 14x14 1x1 convs (576 channels in, 64-224
   out) a third of their time: without it they took 0.52-0.74 of it at 2 threads (Intel Xeon,
   interleaved per-block profiles), ResNet-50's 1x1 1024 -> 256 convs 0.88-0.94 at 1 thread.
   For a 2-D conv with several taps the threads transpose ``X_n[C, HW]`` (``dnf_transpose``:
   8 x 8 blocks in AVX registers) into ``XN[HW, C]``, from which each output position's XT
   row is gathered, one copy of C floats per tap, K ordered (tap row, tap column, channel) as
   W^T is packed (:func:`_gather_xt`). ResNet-50's 14x14 3x3 convs took 340-580 us less each
   (one Intel Xeon core, interleaved profiles) than with the im2col panel transposed;
2. each thread computes its block of output channels (whole 32-channel strips) with
   ``dnf_gemm_pb`` into ``YT[N, M]``, the bias starting the sums;
3. then transposes its channels back into Y's planes and runs the fused epilogue on them,
   :data:`SUB_BLOCK` channels at a time (steps 2 and 3 alternate, so YT's part and Y's planes
   are still in cache); a Relu, or a residual Add (+ Relu), is applied by the transpose as it
   stores (``dnf_transpose``'s ``res``, ``relu``) instead of a pass over the planes. Light
   ResNet-50, one Intel Xeon core, interleaved per-block profiles: its 14x14 Conv + Add + Relu
   blocks 1.09-1.30 -> 0.86-1.05 ms, the 14x14 / 7x7 Conv + Relu ones 3-14% less.
   When the strips do not divide evenly among the threads (3, 5, 7 strips on 2 threads) and
   the image has :data:`ROW_SPLIT_MIN`+ positions, each thread takes a block of positions instead, all channels (GEMM and transpose), and the
   epilogue runs per channel after them.

XT's and YT's rows are padded off multiples of 1 KB (:func:`row_stride`). Measured on one
Zen 5 core (``dnnfusion run --profile``, min of 3 x 10 runs, this path vs im2col + OpenBLAS
sgemm): ResNet-50's 7x7 convs C 512 M 512 1.18-1.21 ms vs 1.79-1.83, its 14x14 C 256 M 256
1.10-1.13 vs 1.22-1.24; the whole model 0.85x the time, Inception-v2 0.87-0.95x, SqueezeNet
0.90-0.93x, DenseNet-121 0.94-0.95x (1 and 2 threads, ``bench.ab_artifacts``). With the plain
transpose loops it replaced, and XT rows 4 KB apart, ResNet-50's 14x14 convs took 1.3-1.7 ms.

Used on x86-64 targets (``ctx.packed_gemm``) when W is a constant; other convs keep
:mod:`.conv_gemm`.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from compiler_core.codegen.anchors import gemm_packed as pk
from compiler_core.codegen.anchors import gemm_packed_a as pa
from compiler_core.codegen.anchors.base import Epilogue, stored_epilogue
from compiler_core.codegen.anchors.conv_gemm import im2col
from compiler_core.codegen.anchors.conv_shape import ConvShape, bias_of
from compiler_core.codegen.anchors.tiles import region
from compiler_core.codegen.c.stmt import Decl, Expr, For, If, Omp, Raw, Stmt, extent
from compiler_core.codegen.context import KernelContext
from compiler_core.ir.ecg import value_shape

ROLE = "conv_packed_wt"  # role of the packed W^T in ctx.derived
# Output channels from which the path is taken: two strips, the second at least half full.
# 48 (SqueezeNet's 13x13 squeezes, Inception-v1's 48-channel 13x13 conv; sgemm below 64
# before): 0.76-0.84 of the time, one Zen 5 core, interleaved per-block profiles.
MIN_CHANNELS = 48
TRANSPOSE_BLOCK = 16  # channels per block of the transposes
# Positions from which threads that cannot share the strips evenly split the positions instead
# (each then reads all of W^T). Inception-v2, 2 threads, per block (interleaved profiles): its
# 14x14 convs of 3, 5, 7 strips 40-64 us less each (211-539 us); 7x7 ones 31-91 us more.
ROW_SPLIT_MIN = 128
# Output channels a thread computes, transposes back and finishes in turn: all its channels
# at once made the 14x14 epilogues read 800 KB of YT and Y back from L2 or memory.
SUB_BLOCK = 128


def _one_by_one(s: ConvShape) -> bool:
    return s.win.h.simple and s.win.w.simple


def applies(ctx: KernelContext, node: ir.Node, s: ConvShape) -> bool:
    """An ungrouped conv of :data:`MIN_CHANNELS`+ output channels on a small image (under
    :data:`.gemm_packed_a.MIN_POSITIONS` positions; a 1x1 one also with more output channels
    than positions), X in a buffer, W a constant, x86-64 target."""
    w = node.inputs[1]
    small = s.ohw < pa.MIN_POSITIONS or (_one_by_one(s) and s.m > s.ohw)
    return (ctx.packed_gemm and small and s.g == 1 and s.cg > 1 and s.m >= MIN_CHANNELS
            and node.inputs[0] in ctx.materialized
            and w is not None and w.const_value is not None
            and w.const_value.dtype == ir.DataType.FLOAT)


def _tap_major(node: ir.Node, s: ConvShape) -> bool:
    """A 2-D conv with several taps (or a stride, padding): XT's rows are gathered from X's
    transpose and K is ordered (tap row, tap column, channel) (:func:`_gather_xt`)."""
    return not _one_by_one(s) and len(value_shape(node.inputs[0])) == 4


def packed_weights(node: ir.Node, s: ConvShape) -> ir.Value:
    """``W^T[K, M]`` packed in 32-channel strips (:func:`.gemm_packed.pack`); K in X's order
    (channel, tap row, tap column), or (tap row, tap column, channel) for :func:`_tap_major`
    convs."""
    w = node.inputs[1]
    arr = np.asarray(w.const_value.numpy(), dtype=np.float32)
    if _tap_major(node, s):
        arr = arr.reshape(s.m, s.c, s.win.h.kernel, s.win.w.kernel).transpose(0, 2, 3, 1)
    return pk.packed_value(f"{w.name or 'w'}_packed_t", arr.reshape(s.m, s.k).T)


def row_stride(n: int) -> int:
    """Floats between rows of XT or YT holding ``n``: a multiple of 16 (64 bytes) that is not
    one of 256 (1 KB): the 12 rows the GEMM kernel reads together, and the 8 rows a transpose
    block writes, then fall in different L1 sets (XT rows of 1024 floats, 4 KB apart, put
    ResNet-50's 1024-channel 1x1 convs at 1.2x the time)."""
    ld = -(-n // 16) * 16
    return ld + 16 if ld % 256 == 0 else ld


def workspace(node: ir.Node, s: ConvShape) -> int:
    """Floats of YT (one image at a time), and for :func:`_tap_major` convs of XT and X's
    transpose ``XN[HW, C]``, for 1-D convs with several taps (a stride or padding) of the
    im2col panel ``P[K, N]`` (read in place as A transposed, as a 1x1 conv's X is)."""
    if _one_by_one(s):
        extra = 0
    elif _tap_major(node, s):
        extra = s.hw * row_stride(s.c) + s.ohw * row_stride(s.k)
    else:
        extra = s.k * s.ohw
    return s.ohw * row_stride(s.m) + extra


def _gather_xt(ctx: KernelContext, s: ConvShape, xn: str, ldn: int, xt: str,
               ldx: int) -> list[Stmt]:
    """``XT[j][(ki*kw + kj)*C + c] = XN[ih*W + iw][c]`` (zero outside X) for output position
    ``j = oy*ow + ox``, ``ih = oy*sh + ki*dh - ph``, ``iw = ox*sw + kj*dw - pw``: one copy of C
    contiguous floats per position and tap, the threads splitting the output rows. It replaces
    the im2col panel and its transpose (two passes over K x N floats)."""
    nm = ctx.names.fresh
    h, w = s.win.h, s.win.w
    c, ow = s.c, w.out
    oy, ki, ox, ih, row, src = nm("i"), nm("i"), nm("i"), nm("i"), nm("p"), nm("p")
    size = f"{c}*sizeof(float)"
    taps: list[Stmt] = []
    for kj in range(w.kernel):
        lo, hi = w.valid(kj)
        at = f"{row} + {ox}*{ldx} + {kj * c}"
        if lo > 0:
            taps.append(For(ox, 0, lo, [Expr(f"memset({at}, 0, {size})")]))
        read = f"{src} + ({ox}*{w.stride} + {w.offset(kj)})*{ldn}"
        taps.append(For(ox, lo, hi, [Expr(f"memcpy({at}, {read}, {size})")]))
        if hi < ow:
            taps.append(For(ox, hi, ow, [Expr(f"memset({at}, 0, {size})")]))
    per_tap: list[Stmt] = [
        Decl("float* restrict", row, f"{xt} + {oy}*{ow * ldx} + {ki}*{w.kernel * c}",
             const=False),
        Decl("int64_t", ih, f"{oy}*{h.stride} + {ki}*{h.dilation} - {h.pad_begin}"),
    ]
    if h.pad_begin or h.pad_end or h.dilation * (h.kernel - 1) + 1 > h.size:
        per_tap.append(If(f"{ih} < 0 || {ih} >= {h.size}", [
            For(ox, 0, ow, [Expr(f"memset({row} + {ox}*{ldx}, 0, {w.kernel * c}*sizeof(float))")]),
            Expr("continue"),
        ]))
    per_tap.append(Decl("const float* restrict", src, f"{xn} + {ih}*{w.size * ldn}"))
    per_tap += taps
    return [For(oy, 0, h.out, [For(ki, 0, h.kernel, per_tap)], omp=Omp.FOR)]


def emit(ctx: KernelContext, node: ir.Node, s: ConvShape,
         epilogue: Epilogue | None) -> list[Stmt]:
    nm = ctx.names.fresh
    n_pos, k, m = s.ohw, s.k, s.m
    ldx, ldy = row_stride(k), row_stride(m)
    x = node.inputs[0]
    px, py = ctx.ptr(x), ctx.ptr(node.outputs[0])
    ws = ctx.ptr(ctx.workspace)
    pw = ctx.ptr(ctx.derived[ROLE])
    b = bias_of(node)
    bias = ctx.ptr(b) if b is not None else "NULL"
    img, c0, cb, m0, mw = (nm("i") for _ in range(5))
    xt, yt, xi, yi, panel = (nm("p") for _ in range(5))
    tb = TRANSPOSE_BLOCK
    oh = s.win.h.out
    # 1. A = XT[N, K]: for a tap-major conv gathered from X's transpose (the threads split
    #    the rows of X in blocks of 16); otherwise X itself (1x1) or the im2col panel (filled
    #    first), read as A transposed (``a_t``): A[j][c] = X[c][j], no transpose
    to_xt: list[Stmt]
    tap_major = _tap_major(node, s)
    if tap_major:
        ldn = row_stride(s.c)
        to_xt = [For(c0, 0, s.c, [
            Expr(f"dnf_transpose({xi} + {c0}*{s.hw}, {extent(c0, tb, s.c)}, {s.hw}, {s.hw}, "
                 f"{panel} + {c0}, {ldn}, NULL, 0)"),
        ], step=tb, omp=Omp.FOR), *_gather_xt(ctx, s, panel, ldn, xt, ldx)]
        a_src, a_ld = xt, ldx
    else:
        to_xt = []
        a_src, a_ld = xi, n_pos
        if not _one_by_one(s):
            to_xt = im2col(s, x, img, "0", panel, "0", str(oh), str(n_pos), ctx, shared=True)
            a_src = panel

    def a_rows(r0: str) -> str:
        """A from its row (output position) ``r0``."""
        return f"{a_src} + {r0}" if not tap_major else f"{a_src} + {r0}*{a_ld}"

    # 2. this thread's output channels; 3. back into Y's planes: Y[q][j] = YT[j][q], with
    #    the epilogue when it is a Relu or a residual Add (+ Relu) (see kernel.py), which the
    #    transpose applies as it stores (`res` read like Y)
    stored = stored_epilogue(epilogue)
    r, relu = stored if stored is not None else (None, False)
    res = f"{ctx.ptr(r)} + {img}*{m * n_pos}" if r is not None else None
    if stored is not None:
        epilogue = None

    def back(src: str, rows: str, cols: str, at: str) -> Expr:
        """YT's ``rows x cols`` at ``src`` into Y's planes at ``yi + at``."""
        ep = f"{res} + {at}, {int(relu)}" if res else f"NULL, {int(relu)}"
        return Expr(f"dnf_transpose({src}, {rows}, {cols}, {ldy}, {yi} + {at}, {n_pos}, {ep})")

    s0, sw, end = nm("i"), nm("i"), nm("i")
    first = f"({img}*{m} + {s0})"
    sub: list[Stmt] = [
        Decl("int64_t", sw, extent(s0, SUB_BLOCK, end)),
        pk.gemm_pb(n_pos, k, a_src, a_ld, pw, s0, f"{s0} + {sw}", yt, ldy, bias, jn=end,
                   a_t=not tap_major),
        back(f"{yt} + {s0}", str(n_pos), sw, f"{s0}*{n_pos}"),
    ]
    if epilogue is not None:
        sub.append(Raw(epilogue(f"{first}*{oh}", f"({first} + {sw})*{oh}", 0)))
    per_thread: list[Stmt] = [
        Decl("int64_t", mw, extent(m0, cb, m)),
        Decl("int64_t", end, f"{m0} + {mw}"),
        For(s0, m0, end, sub, step=SUB_BLOCK),
    ]
    # 2'. when the threads cannot share the strips evenly (Inception-v2's 96, 160, 224
    #     channels: 3, 5, 7 strips) on an image of ROW_SPLIT_MIN+ positions, they split the
    #     positions (blocks of 4 rows of XT) instead, each computing all channels, then share
    #     the epilogue by channel
    r0, rb, rn, q = nm("i"), nm("i"), nm("i"), nm("i")
    by_rows: list[Stmt] = [
        Decl("int64_t", rb,
             f"({n_pos} + 4*omp_get_num_threads() - 1) / (4*omp_get_num_threads()) * 4"),
        For(r0, 0, n_pos, [
            Decl("int64_t", rn, extent(r0, rb, n_pos)),
            pk.gemm_pb(rn, k, a_rows(r0), a_ld, pw, 0, m, f"{yt} + {r0}*{ldy}", ldy, bias,
                       a_t=not tap_major),
            back(f"{yt} + {r0}*{ldy}", rn, str(m), r0),
        ], step=rb, omp=Omp.FOR),
    ]
    if epilogue is not None:
        chan = f"({img}*{m} + {q})"
        by_rows.append(For(q, 0, m, [Raw(epilogue(f"{chan}*{oh}", f"({chan} + 1)*{oh}", 0))],
                           omp=Omp.FOR))
    strips = -(-m // pk.NR)
    xt_floats = n_pos * ldx if tap_major else 0
    by_strips = For(m0, 0, m, per_thread, step=cb, omp=Omp.FOR)
    share = (If(f"{strips} % omp_get_num_threads() == 0", [by_strips], orelse=by_rows)
             if n_pos >= ROW_SPLIT_MIN else by_strips)
    body: list[Stmt] = [
        Decl("int64_t", cb, pk.column_block(m)),
        *([Decl("float* restrict", xt, ws, const=False)] if tap_major else []),
        Decl("float* restrict", yt, f"{ws} + {xt_floats}", const=False),
        Decl("float* restrict", panel, f"{ws} + {xt_floats + n_pos * ldy}", const=False),
        For(img, 0, s.n, [
            Decl("const float* restrict", xi, f"{px} + {img}*{s.c * s.hw}"),
            Decl("float* restrict", yi, f"{py} + {img}*{m * n_pos}", const=False),
            *to_xt,
            share,
        ]),
    ]
    return region(ctx, body)
