"""Deep 1x1 convolutions on small images as a packed-B GEMM of the transposes.

When a 1x1, stride-1, unpadded, ungrouped conv has more output channels than output positions
(SqueezeNet's conv10: 1000 channels of 13x13; ResNet-50's 14x14 and 7x7 stages) its weights
are the big operand, and every ``cblas_sgemm`` call packed them again. Here they are packed at
compile time as the B of ``Y^T[N, M] = X^T[N, K] W^T[K, M]`` (``N = H*W`` positions,
``K = C`` input channels, ``M`` output channels; :mod:`.gemm_packed`, the weights stored only
in that form), and per image:

1. the threads transpose ``X_n[K, N]`` into ``XT[N, K]`` (workspace);
2. each thread computes its block of output channels (whole 32-channel strips) with
   ``dnf_gemm_pb`` into ``YT[N, M]`` (workspace), the bias starting the sums;
3. then transposes its channels back into Y's planes and runs the fused epilogue on them.

Used on x86-64 targets (``ctx.packed_gemm``) when W is a constant; other convs keep
:mod:`.conv_gemm`.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from compiler_core.codegen.anchors import gemm_packed as pk
from compiler_core.codegen.anchors.base import Epilogue
from compiler_core.codegen.anchors.conv_shape import ConvShape, bias_of
from compiler_core.codegen.anchors.tiles import region
from compiler_core.codegen.c.stmt import Assign, Decl, For, Omp, Raw, Stmt, extent
from compiler_core.codegen.context import KernelContext

ROLE = "conv_packed_wt"  # role of the packed W^T in ctx.derived
MIN_CHANNELS = 64  # output channels from which the path is taken (two strips at least)
TRANSPOSE_BLOCK = 16  # channels per block of the transposes


def applies(ctx: KernelContext, node: ir.Node, s: ConvShape) -> bool:
    """A deep 1x1 conv on a small image, X in a buffer, W a constant, x86-64 target."""
    w = node.inputs[1]
    return (ctx.packed_gemm and s.win.taps == 1 and s.win.h.simple and s.win.w.simple
            and s.g == 1 and s.m > s.ohw and s.m >= MIN_CHANNELS
            and node.inputs[0] in ctx.materialized
            and w is not None and w.const_value is not None
            and w.const_value.dtype == ir.DataType.FLOAT)


def packed_weights(node: ir.Node, s: ConvShape) -> ir.Value:
    """``W^T[K, M]`` packed in 32-channel strips (:func:`.gemm_packed.pack`)."""
    w = node.inputs[1]
    arr = np.asarray(w.const_value.numpy(), dtype=np.float32).reshape(s.m, s.k)
    return pk.packed_value(f"{w.name or 'w'}_packed_t", arr.T)


def workspace(s: ConvShape) -> int:
    """Floats of XT and YT (one image at a time)."""
    return s.ohw * (s.k + s.m)


def emit(ctx: KernelContext, node: ir.Node, s: ConvShape,
         epilogue: Epilogue | None) -> list[Stmt]:
    nm = ctx.names.fresh
    n_pos, k, m = s.ohw, s.k, s.m
    px, py = ctx.ptr(node.inputs[0]), ctx.ptr(node.outputs[0])
    ws = ctx.ptr(ctx.workspace)
    pw = ctx.ptr(ctx.derived[ROLE])
    b = bias_of(node)
    bias = ctx.ptr(b) if b is not None else "NULL"
    img, c0, cn, c, j, cb, m0, mw, mb, qn, q = (nm("i") for _ in range(11))
    xt, yt, xi, yi = (nm("p") for _ in range(4))
    tb = TRANSPOSE_BLOCK
    oh = s.win.h.out
    # 1. XT[j][c] = X[c][j], blocks of 16 channels: 16 rows of X read along j together
    to_xt = For(c0, 0, k, [
        Decl("int64_t", cn, extent(c0, tb, k)),
        For(j, 0, n_pos, [
            For(c, c0, f"{c0} + {cn}", [Assign(f"{xt}[{j}*{k} + {c}]", f"{xi}[{c}*{n_pos} + {j}]")],
                inline=True),
        ]),
    ], step=tb, omp=Omp.FOR)
    # 3. Y[q][j] = YT[j][q] for this thread's channels, 16 at a time
    back = For(mb, m0, f"{m0} + {mw}", [
        Decl("int64_t", qn, extent(mb, tb, f"({m0} + {mw})")),
        For(j, 0, n_pos, [
            For(q, mb, f"{mb} + {qn}", [Assign(f"{yi}[{q}*{n_pos} + {j}]", f"{yt}[{j}*{m} + {q}]")],
                inline=True),
        ]),
    ], step=tb)
    first = f"({img}*{m} + {m0})"
    per_thread: list[Stmt] = [
        Decl("int64_t", mw, extent(m0, cb, m)),
        pk.gemm_pb(n_pos, k, xt, k, pw, m0, f"{m0} + {mw}", yt, m, bias),
        back,
    ]
    if epilogue is not None:
        per_thread.append(Raw(epilogue(f"{first}*{oh}", f"({first} + {mw})*{oh}", 0)))
    body: list[Stmt] = [
        Decl("int64_t", cb, pk.column_block(m)),
        Decl("float* restrict", xt, ws, const=False),
        Decl("float* restrict", yt, f"{ws} + {n_pos * k}", const=False),
        For(img, 0, s.n, [
            Decl("const float* restrict", xi, f"{px} + {img}*{k * n_pos}"),
            Decl("float* restrict", yi, f"{py} + {img}*{m * n_pos}", const=False),
            to_xt,
            For(m0, 0, m, per_thread, step=cb, omp=Omp.FOR),
        ]),
    ]
    return region(ctx, body)
