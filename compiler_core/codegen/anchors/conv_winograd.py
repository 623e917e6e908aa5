"""Winograd convolution F(m x m, 3 x 3) for 3x3, stride-1, dilation-1, ungrouped convs.

Output tiles of ``m x m`` positions (``m`` 2 or 4) read input tiles of ``a x a`` (``a = m + 2``):
``Y_tile = A^T [ sum_c U_c (.) V_c ] A`` with ``U_c = G g_c G^T`` (the weights, transformed at
compile time: a ``derived`` constant of the anchor, ``[a*a][M][C]``, float32 from float64) and
``V_c = B^T d_c B`` (the input tile of channel c). The matrices come from the Cook-Toom
construction on the points :data:`POINTS` (and infinity), rows of ``B^T`` scaled to small
integers, ``G`` taking the inverse scale (:func:`matrices`).

Per tile group (``r`` rows of output tiles of one image, all ``tw`` tiles of each row), on one
thread, in its workspace slot:

1. the ``r*m + 2`` input rows the group reads, zero-padded and split by column phase
   (``xd[c][row][p][q] = X[c][row][q*m + p]``): the tile at column ``t`` reads ``xd[..][l % m]
   [t + l / m]``, so every later loop over tiles reads contiguous floats (gcc vectorizes it);
2. the input transform into ``v[a*a][C][tiles]``;
3. ``a*a`` OpenBLAS sgemm calls ``mb[xi] (M x tiles) = U[xi] (M x C) x v[xi] (C x tiles)``;
4. the output transform with the bias, per output channel, into a row buffer of ``m`` rows
   (``tw*m`` columns), copied to Y's rows (the ones inside OH x OW); then the fused epilogue
   on that channel's rows of the group.

Transforms are straight-line C written from the matrices (zero terms dropped), inside loops
over tiles: portable C (also the linux-arm64 target), no intrinsics.

The error of F(4,3) in float32 with the points ``0, 1, -1, 1/2, -2`` (numpy simulation, 64
channels, 3x3 weights ~N(0, 0.1), tiles ~N(0, 1)): max abs 1.6e-5 (``0, +-1, +-2``: 4.4e-5;
``0, +-1, +-1/2``: 6.1e-5); F(2,3): 2.9e-6. Against ONNX Runtime (3 random inputs, max abs /
max rel error, with the path and without): light ResNet-50 (random weights) 1.1e-6 / 1.3e-4
(7.7e-7 / 1.1e-4), Inception-v2 1.7e-7 / 4.9e-5 (1.5e-7 / 4.1e-5), DenseNet-121 1.4e-5 /
3.2e-3 (8.3e-6 / 2.5e-3; the largest |error| / (1e-4 + 1e-3 |ORT|) 0.07), SqueezeNet 1.1e-6 /
4.2e-6 (1.3e-6 / 4.1e-6): all within the project's rtol 1e-3, atol 1e-4. Where the path pays:
:func:`choose_m`.

Whole models (random weights), same code compiled with and without the path, interleaved
blocks of 3 runs, 24 runs each, min time without / with (shared machine, load 8-13 on 2
cores): 1 thread ResNet-50 1.17 (166.2 / 142.3 ms), Inception-v2 1.28 (97.0 / 75.9),
DenseNet-121 1.13 (200.8 / 178.4), SqueezeNet 0.93 (19.4 / 20.9; per block its four
Winograd convs sum to 0.85 of the time); a second run (36 runs each, load 6) 1.13, 1.17,
1.19, 1.05 (medians 1.13, 1.15, 1.16, 0.98). 2 threads: 1.04, 1.00, 1.04, 1.21, then 1.19,
0.95, 1.23, 1.66, but every 2-thread run took 1.7-5x its 1-thread time under that load, so
these say little.

``$DNNFUSION_NO_WINOGRAD`` (set when compiling) turns the path off: the A/B switch of the
measurements, not an option.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction
from functools import cache

import numpy as np
import onnx_ir as ir

from compiler_core.codegen.anchors import gemm_packed_a as pa
from compiler_core.codegen.anchors.base import Epilogue
from compiler_core.codegen.anchors.conv_shape import ConvShape, bias_of
from compiler_core.codegen.anchors.gemm import sgemm
from compiler_core.codegen.anchors.tiles import WORKSPACE_SLOTS, padded, runs_parallel, tiles
from compiler_core.codegen.c.stmt import Assign, Comment, Decl, Expr, For, If, Omp, Raw, Stmt
from compiler_core.codegen.cnames import float_literal
from compiler_core.codegen.context import KernelContext

# Interpolation points (infinity is the last one) of F(m, 3).
POINTS = {2: (0, 1, -1), 4: (0, 1, -1, Fraction(1, 2), -2)}
U_ROLE = "winograd_u"  # role of the transformed weights in ctx.derived
# Floats of v + mb per tile group, and the least groups per image of a parallel conv, by m.
# Single-conv A/B (min of 24-30 runs, 1 thread): F(4,3) on 56x56 C 64 M 64 took 0.50-0.54x
# the im2col + sgemm time with 512 KB groups, 0.78x with 2 MB; F(2,3) on 28x28 C 128 M 128
# 0.58x with 2 MB groups, 0.69x with 512 KB (bigger groups read U fewer times).
GROUP_FLOATS = {4: 1 << 17, 2: 1 << 19}
MIN_GROUPS = {4: 4, 2: 2}
MIN_SIDE = 8  # output rows / columns below which im2col + sgemm is kept
MIN_CHANNELS = 16  # input channels (the GEMM depth) below which im2col + sgemm is kept
# Output side below which a conv with C*M of DEEP_CM or more leaves Winograd (for the
# transposed packed-weight path of conv_packed.py on x86-64, im2col + sgemm elsewhere). One
# Zen 5 core, --profile, min of 3 x 10 runs, that path's time / F(2,3)'s on 14x14 convs:
# ResNet-50 C 256 M 256 0.71 (1.10 / 1.55 ms; im2col + sgemm 1.21 ms), Inception-v2 C 192
# M 256 0.75, C 192 M 192 0.95, C 160 M 192 1.03, C 128 M 192 1.02, C 128 M 160 1.03-1.05,
# C 128 M 128 1.11, C 96 M 128 1.16-1.20. DenseNet-121's 14x14 convs (C 128 M 32) stay.
# Without AVX-512 the same convs are faster through Winograd: the artifact holds both forms of
# W and a run-time branch (dnf_gemm_isa(), :mod:`.conv`) takes the transposed packed path on
# AVX-512 only. One AMD EPYC (Zen 3) core, per block, interleaved profiles, F(2,3) / that
# path: ResNet-50 C 256 M 256 0.85-0.90 (5 blocks), Inception-v2 C 192 M 192 0.62, C 192
# M 256 0.86; whole models 0.98 (both).
DEEP_SIDE, DEEP_CM = 16, 192 * 192
# Output side from which F(4,3) would be chosen; None: F(2,3) everywhere. F(4,3) on the 56x56
# layers (ResNet-50, Inception-v2, DenseNet-121) put light ResNet-50 (random weights) 1.2e-4
# off ONNX Runtime on one logit of 1000 (-0.01912 vs -0.01900: over atol 1e-4 + rtol 1e-3,
# tests/compiler_core/codegen/test_cnn_models.py, an AMD Zen 4 with OpenBLAS's SkylakeX
# kernels); F(2,3) everywhere passes. Same code both ways, 1 / 2 threads, median of 24 runs,
# F(2,3)-only time over with-F(4,3) time: ResNet-50 0.94 / 0.96, Inception-v2 1.10 / 1.04,
# DenseNet-121 1.02 / 1.06. Correct first: F(4,3) stays for tests and a more accurate
# transform.
F43_SIDE: int | None = None
# dnf_gemm_pa for the a*a GEMMs though M is not a multiple of 12 (its last strip short of
# rows): from PART_STRIP_M output channels on outputs of PART_STRIP_SIDE or less (few tiles per
# GEMM, where OpenBLAS's small-matrix kernel is slow). Inception-v2, one Intel Xeon, per block,
# interleaved profiles, with / without: its 14x14 convs of M 128 and 160 0.75-0.78 (2
# threads), 0.80-0.87 (1 thread); elsewhere it did not pay: M 64 on 56x56 (ResNet-50) 1.22-1.26
# and 55x55 (SqueezeNet) 1.10-1.16, M 128 on 27x27 / 28x28 0.95-1.05. Not for the deep convs
# (DEEP_CM), which run Winograd only without AVX-512, where it was not measured.
PART_STRIP_M, PART_STRIP_SIDE = 96, 16
MIN_GAIN = 2.0  # multiplications of im2col over those of the tiles (F(2,3) on 13x13: 1.94)
MAX_SLOT_FLOATS = 1 << 24  # a thread's workspace (64 MB): wider or deeper convs keep im2col


@cache
def matrices(m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(A^T [m, a], G [a, 3], B^T [a, a])`` in float64 for F(m, 3) (exact rationals)."""
    pts = [Fraction(p) for p in POINTS[m]]
    a = m + 2

    def ev(k: int) -> list[list[Fraction]]:  # evaluation of a degree k-1 polynomial
        return [[p ** i for i in range(k)] for p in pts] + [[Fraction(0)] * (k - 1) + [Fraction(1)]]

    at = [list(col) for col in zip(*ev(m), strict=True)]
    g = ev(3)
    # B = V^-1 (V: evaluation of a degree a-1 polynomial): Gauss-Jordan on rationals.
    rows = [r + [Fraction(int(i == j)) for j in range(a)] for i, r in enumerate(ev(a))]
    for c in range(a):
        piv = next(i for i in range(c, a) if rows[i][c] != 0)
        rows[c], rows[piv] = rows[piv], rows[c]
        rows[c] = [x / rows[c][c] for x in rows[c]]
        for i in range(a):
            if i != c and rows[i][c] != 0:
                f = rows[i][c]
                rows[i] = [x - f * y for x, y in zip(rows[i], rows[c], strict=True)]
    bt = [[rows[j][a + i] for j in range(a)] for i in range(a)]
    for i in range(a):  # B^T rows to integers, G rows take the inverse scale
        den = Fraction(math.lcm(*(x.denominator for x in bt[i])),
                       math.gcd(*(x.numerator for x in bt[i])))
        bt[i] = [x * den for x in bt[i]]
        g[i] = [x / den for x in g[i]]
    return tuple(np.array([[float(x) for x in r] for r in mat]) for mat in (at, g, bt))


@dataclass(frozen=True)
class WinoPlan:
    m: int  # output tile side
    th: int  # tile rows of the output
    tw: int  # tiles per row
    r: int  # tile rows per group, at most (group g: tile rows [g*th/n_groups, (g+1)*th/n_groups))
    n_groups: int  # groups per image
    c: int
    mo: int  # output channels
    parallel: bool

    @property
    def a(self) -> int:
        return self.m + 2

    @property
    def q(self) -> int:
        """Columns per phase of the split input rows (tile t reads t and t + 1)."""
        return self.tw + 1

    @property
    def rows(self) -> int:
        return self.r * self.m + 2

    @property
    def tiles(self) -> int:
        return self.r * self.tw

    @property
    def xd(self) -> int:
        return self.c * self.rows * self.m * self.q

    @property
    def v(self) -> int:
        return self.a * self.a * self.c * self.tiles

    @property
    def mb(self) -> int:
        return self.a * self.a * self.mo * self.tiles

    @property
    def slot(self) -> int:
        return self.xd + self.v + self.mb + self.m * self.tw * self.m

    @property
    def ws(self) -> int:
        return padded(self.slot) * (WORKSPACE_SLOTS if self.parallel else 1)


def applies(s: ConvShape) -> bool:
    """3x3, stride 1, dilation 1, one group, non-negative pads giving the output size."""
    h, w = s.win.h, s.win.w
    if s.g != 1 or h.kernel != 3 or w.kernel != 3:
        return False
    for ax in (h, w):
        if ax.stride != 1 or ax.dilation != 1 or min(ax.pad_begin, ax.pad_end) < 0:
            return False
        if ax.size + ax.pad_begin + ax.pad_end - 2 != ax.out:
            return False
    return True


def wino_plan(s: ConvShape, m: int | None = None, deep: bool = False) -> WinoPlan | None:
    """The tiling of the Winograd path for ``s``, or None when it does not apply or does not
    pay (``m``: force the tile size, for tests; ``deep``: also for the deep convs that
    :func:`choose_m` turns away for the transposed packed path, see :data:`DEEP_CM`)."""
    if not applies(s) or os.environ.get("DNNFUSION_NO_WINOGRAD"):
        return None
    if m is None:
        m = choose_m(s, deep)
        if m is None:
            return None
    oh, ow = s.win.h.out, s.win.w.out
    th, tw = -(-oh // m), -(-ow // m)
    a2 = (m + 2) ** 2
    r = max(1, min(th, GROUP_FLOATS[m] // (a2 * (s.c + s.m) * tw)))
    n_groups = -(-th // r)
    if runs_parallel(2, s.macs):
        if s.n * n_groups < MIN_GROUPS[m]:
            n_groups = min(th, -(-MIN_GROUPS[m] // s.n))
        if (s.n * n_groups) % 2 and n_groups < th:
            # an even count of balanced groups: 2 threads get the same rows (14 tile rows in
            # 7 groups of 2 left one thread 4 groups and the other 3; 8 groups of 1-2 do not)
            n_groups += 1
        r = -(-th // n_groups)
    parallel = runs_parallel(s.n * n_groups, s.macs)
    p = WinoPlan(m, th, tw, r, n_groups, s.c, s.m, parallel)
    return p if p.slot <= MAX_SLOT_FLOATS else None


def choose_m(s: ConvShape, deep: bool = False) -> int | None:
    """The tile size where the path pays, or None (keep im2col + sgemm): F(4,3) from an
    output side of :data:`F43_SIDE` (None: never, see there), F(2,3) below, when the output is at least
    :data:`MIN_SIDE` square, the input has :data:`MIN_CHANNELS` channels, and the
    multiplications saved, with the padding of the last tiles counted
    (``9*OH*OW / (a*a*tiles)``), reach :data:`MIN_GAIN`.

    Measured per block on an AMD EPYC (AVX2, 1 MB L2 per core), same model with and without
    the path, interleaved, min of 16-24 runs, Winograd time / im2col + sgemm time at 1
    thread: ResNet-50 56x56 C 64 M 64 F(4,3) 0.48-0.50, 28x28 C 128 M 128 F(2,3) 0.49-0.62,
    14x14 C 256 M 256 0.88-1.09 (median of the five 0.91); Inception-v2 56x56 C 64 M 192
    F(4,3) 0.66, 28x28 C 64-96 M 64-96 0.56-0.61, 14x14 C 64-192 M 96-256 0.73-0.85 (16
    blocks); DenseNet-121 (C 128 M 32) 56x56 F(4,3) 0.55-0.75, 28x28 0.40-0.72, 14x14
    0.31-0.95 (48 blocks, sum 0.65 with the others); SqueezeNet 55x55 C 16 M 64 F(4,3)
    0.75-0.85, 27x27 C 32 M 128 0.71-0.77, 13x13 C 48 M 192 and C 64 M 256 0.93-1.03 (gain
    1.94: now kept on im2col). Single convs (min of 24-30 runs): 7x7 C 128 M 32 1.04, C 512
    M 512 2.1-2.4 (F(2,3)), 3.9-6.7 (F(4,3)); F(4,3) on 14x14 C 256 M 256 1.04-1.10. At 2
    threads the machine (shared, load 8-12 on 2 cores) gave ratios from 0.1 to 9 for the
    same block: not used for the rule."""
    oh, ow = s.win.h.out, s.win.w.out
    if min(oh, ow) < MIN_SIDE or s.c < MIN_CHANNELS:
        return None
    if not deep and is_deep(s):
        return None
    m = 4 if F43_SIDE is not None and min(oh, ow) >= F43_SIDE else 2
    tiles = -(-oh // m) * -(-ow // m)
    return m if 9 * oh * ow >= MIN_GAIN * (m + 2) ** 2 * tiles else None


def is_deep(s: ConvShape) -> bool:
    """A conv that leaves Winograd for the transposed packed path (:data:`DEEP_CM`)."""
    return min(s.win.h.out, s.win.w.out) < DEEP_SIDE and s.c * s.m >= DEEP_CM


def packed_u(ctx: KernelContext, s: ConvShape, p: WinoPlan) -> bool:
    """The a*a GEMMs read U in ``dnf_gemm_pa``'s 12-row strips instead of calling
    ``cblas_sgemm`` (which packed U[xi] again on every call): x86-64 targets, output channels
    a multiple of 12 (full strips), a group's tiles (the GEMM's columns) at most 1/6 short of
    whole 32-column blocks. Alone, one Intel Xeon core, M 192 N 112 K 64 (Inception-v2's 56x56
    conv): 118-145 GFLOP/s vs OpenBLAS 94-108; M 64 (4 rows in the last strip) lost (107-112
    vs 120). In Inception-v2 (one thread, interleaved profiles) that conv took 4.74 -> 3.96 ms,
    its 28x28 convs of 98 tiles per group (30 padded columns) 70-150 us more each. On small
    images (:data:`PART_STRIP_SIDE`) a last strip short of rows is taken from
    :data:`PART_STRIP_M` channels (see there)."""
    cols = p.r * p.tw
    full = s.m % pa.MR == 0 or (s.m >= PART_STRIP_M and not is_deep(s)
                                and min(s.win.h.out, s.win.w.out) <= PART_STRIP_SIDE)
    return ctx.packed_gemm and full and 6 * pa.padded_columns(cols) <= cols


def transformed_weights(node: ir.Node, s: ConvShape, p: WinoPlan,
                        packed: bool = False) -> ir.Value | None:
    """``U[xi][M][C] = (G g[M, C] G^T)[xi]`` (xi = row*a + column), float32, or with
    ``packed`` each U[xi] in ``dnf_gemm_pa``'s strips (``[a*a][M/12][C][12]``,
    :func:`.gemm_packed_a.pack`); None when the weights are not a constant."""
    w = node.inputs[1]
    if w is None or w.const_value is None:
        return None
    _, g, _ = matrices(p.m)
    arr = np.asarray(w.const_value.numpy(), dtype=np.float64).reshape(s.m, s.c, 3, 3)
    u = np.einsum("ik,mckl,jl->ijmc", g, arr, g).reshape(p.a * p.a, s.m, s.c)
    u = u.astype(np.float32)
    if packed:
        u = pa.pack(u)
    u = np.ascontiguousarray(u).reshape(-1)
    return ir.Value(name=f"{w.name or 'w'}_winograd{p.m}", shape=ir.Shape([u.size]),
                    type=ir.TensorType(ir.DataType.FLOAT), const_value=ir.tensor(u))


def _combine(coefs, terms: list[str]) -> str:
    """C text of ``sum coefs[k] * terms[k]`` without the zero terms (``0.0f`` if none)."""
    out = ""
    for c, t in zip(coefs, terms, strict=True):
        if c == 0:
            continue
        mag = abs(float(c))
        term = t if mag == 1.0 else f"{float_literal(mag)}*{t}"
        if not out:
            out = term if c > 0 else f"-{term}"
        else:
            out += f" + {term}" if c > 0 else f" - {term}"
    return out or float_literal(0.0)


def transform(mat: np.ndarray, src, prefix: str) -> tuple[list[Stmt], list[list[str]]]:
    """``out = mat src mat^T`` for ``src(k, l)`` (C expressions, ``k, l < mat.shape[1]``):
    declarations of the partial and final values, and the names of ``out[i][j]``."""
    n, k = mat.shape
    stmts: list[Stmt] = []
    tmp = [[f"{prefix}_t{i}_{ll}" for ll in range(k)] for i in range(n)]
    for i in range(n):
        for ll in range(k):
            stmts.append(Decl("float", tmp[i][ll],
                              _combine(mat[i], [src(kk, ll) for kk in range(k)])))
    out = [[f"{prefix}_o{i}_{j}" for j in range(n)] for i in range(n)]
    for i in range(n):
        for j in range(n):
            stmts.append(Decl("float", out[i][j], _combine(mat[j], tmp[i])))
    return stmts, out


def _fill(s: ConvShape, p: WinoPlan, ctx: KernelContext, x: str, xd: str, n: str,
          h0: str) -> Stmt:
    """``xd[c][row][ph][q] = X[n, c, h0 - pad + row, q*m + ph - pad]`` (zero outside X) for the
    group's ``rows`` input rows starting at output row ``h0``."""
    nm = ctx.names.fresh
    h, w = s.win.h, s.win.w
    mm, q = p.m, p.q
    cr, c, rr, ih, src, dst, j = (nm(k) for k in ("i", "i", "i", "i", "p", "p", "i"))
    lo = [max(0, -(-(w.pad_begin - ph) // mm)) for ph in range(mm)]
    hi = [max(lo[ph], min(q, (w.size - 1 + w.pad_begin - ph) // mm + 1)) for ph in range(mm)]
    qlo, qhi = max(lo), max(max(lo), min(hi))

    def load(ph: int) -> str:
        return f"{src}[{j}*{mm} + {ph - w.pad_begin}]"

    inner = For(j, qlo, qhi, [Assign(f"{dst}[{ph * q} + {j}]", load(ph)) for ph in range(mm)],
                omp=Omp.SIMD)
    edge = [Assign(f"{dst}[{ph * q} + {j}]",
                   f"{j} >= {lo[ph]} && {j} < {hi[ph]} ? {load(ph)} : 0.0f")
            for ph in range(mm)]
    row: list[Stmt] = [Decl("float* restrict", src,
                            f"{x} + (({n}*{s.c} + {c})*{h.size} + {ih})*{w.size}")]
    if qlo > 0:
        row.append(For(j, 0, qlo, edge))
    row.append(inner)
    if qhi < q:
        row.append(For(j, qhi, q, edge))
    return For(cr, 0, s.c * p.rows, [
        Decl("int64_t", c, f"{cr} / {p.rows}"),
        Decl("int64_t", rr, f"{cr} % {p.rows}"),
        Decl("int64_t", ih, f"{h0} - {h.pad_begin} + {rr}"),
        Decl("float* restrict", dst, f"{xd} + {cr}*{mm * q}", const=False),
        If(f"{ih} < 0 || {ih} >= {h.size}", [Expr(f"memset({dst}, 0, {mm * q}*sizeof(float))")],
           row),
    ])


def _input_transform(p: WinoPlan, ctx: KernelContext, xd: str, v: str, rn: str) -> Stmt:
    nm = ctx.names.fresh
    _, _, bt = matrices(p.m)
    c, r, t, xb, vb = nm("i"), nm("i"), nm("i"), nm("p"), nm("p")
    mm, q = p.m, p.q
    stmts, out = transform(bt, lambda k, ll: f"{xb}[{(k * mm + ll % mm) * q + ll // mm} + {t}]",
                           nm("wd"))
    stores = [Assign(f"{vb}[{(i * p.a + j) * p.c * p.tiles} + {t}]", out[i][j])
              for i in range(p.a) for j in range(p.a)]
    return For(c, 0, p.c, [For(r, 0, rn, [
        Decl("float* restrict", xb, f"{xd} + ({c}*{p.rows} + {r}*{mm})*{mm * q}"),
        Decl("float* restrict", vb, f"{v} + {c}*{p.tiles} + {r}*{p.tw}", const=False),
        For(t, 0, p.tw, [*stmts, *stores], omp=Omp.SIMD),
    ])])


def _output_transform(s: ConvShape, p: WinoPlan, ctx: KernelContext, node: ir.Node,
                      epilogue: Epilogue | None, mb: str, ob: str, n: str, h0: str,
                      rn: str) -> Stmt:
    nm = ctx.names.fresh
    at, _, _ = matrices(p.m)
    oh, ow = s.win.h.out, s.win.w.out
    mo, r, t, bv, mbp, hn, r0 = (nm(k) for k in ("i", "i", "i", "a", "p", "i", "i"))
    b = bias_of(node)
    yv = ctx.ptr(node.outputs[0])
    width = p.tw * p.m
    stmts, out = transform(at, lambda k, ll: f"{mbp}[{(k * p.a + ll) * s.m * p.tiles} + {t}]",
                           nm("wo"))
    stores = [Assign(f"{ob}[{i * width} + {t}*{p.m} + {j}]", f"{out[i][j]} + {bv}")
              for i in range(p.m) for j in range(p.m)]
    rows: list[Stmt] = [
        Decl("float* restrict", mbp, f"{mb} + {mo}*{p.tiles} + {r}*{p.tw}"),
        For(t, 0, p.tw, [*stmts, *stores], omp=Omp.SIMD),
    ]
    for i in range(p.m):
        rows.append(If(f"{h0} + {r}*{p.m} + {i} < {oh}", [Expr(
            f"memcpy({yv} + (({n}*{s.m} + {mo})*{oh} + {h0} + {r}*{p.m} + {i})*{ow}, "
            f"{ob} + {i * width}, {ow}*sizeof(float))")]))
    body: list[Stmt] = [
        Decl("float", bv, f"{ctx.ptr(b)}[{mo}]" if b is not None else float_literal(0.0)),
        For(r, 0, rn, rows),
    ]
    if epilogue is not None:
        body += [
            Decl("int64_t", hn, f"{rn}*{p.m} < {oh} - {h0} ? {rn}*{p.m} : {oh} - {h0}"),
            Decl("int64_t", r0, f"({n}*{s.m} + {mo})*{oh} + {h0}"),
            Raw(epilogue(r0, f"{r0} + {hn}", 0)),
        ]
    return For(mo, 0, s.m, body)


def emit_winograd(ctx: KernelContext, node: ir.Node, s: ConvShape, p: WinoPlan,
                  epilogue: Epilogue | None) -> list[Stmt]:
    """Statements of the Winograd path (``ctx.derived[U_ROLE]``: the transformed weights)."""
    nm = ctx.names.fresh
    u = ctx.ptr(ctx.derived[U_ROLE])
    x = ctx.ptr(node.inputs[0])
    one, zero = float_literal(1.0), float_literal(0.0)

    def body(tv: str, ws: str | None) -> list[Stmt]:
        n, grp, h0, rn, xd, v, mb, ob, xi = (nm(k) for k in ("i", "i", "i", "i", "p", "p", "p",
                                                            "p", "i"))
        if packed_u(ctx, s, p):
            gemm = pa.gemm_pa(s.m, f"{rn}*{p.tw}", s.c,
                              f"{u} + {xi}*{pa.strips(s.m) * pa.MR * s.c}",
                              f"{v} + {xi}*{s.c * p.tiles}", p.tiles,
                              f"{mb} + {xi}*{s.m * p.tiles}", p.tiles)
        else:
            gemm = sgemm(s.m, f"{rn}*{p.tw}", s.c, one, f"{u} + {xi}*{s.m * s.c}", s.c, False,
                         f"{v} + {xi}*{s.c * p.tiles}", p.tiles, False, zero,
                         f"{mb} + {xi}*{s.m * p.tiles}", p.tiles)
        return [
            Decl("int64_t", n, f"{tv} / {p.n_groups}"),
            Decl("int64_t", grp, f"{tv} % {p.n_groups}"),
            Decl("int64_t", h0, f"{grp}*{p.th}/{p.n_groups}*{p.m}"),
            Decl("int64_t", rn, f"({grp} + 1)*{p.th}/{p.n_groups} - {grp}*{p.th}/{p.n_groups}"),
            Decl("float* restrict", xd, ws, const=False),
            Decl("float* restrict", v, f"{ws} + {p.xd}", const=False),
            Decl("float* restrict", mb, f"{ws} + {p.xd + p.v}", const=False),
            Decl("float* restrict", ob, f"{ws} + {p.xd + p.v + p.mb}", const=False),
            _fill(s, p, ctx, x, xd, n, h0),
            _input_transform(p, ctx, xd, v, rn),
            For(xi, 0, p.a * p.a, [gemm]),
            _output_transform(s, p, ctx, node, epilogue, mb, ob, n, h0, rn),
        ]

    head = Comment(f"Winograd F({p.m}x{p.m}, 3x3) C {s.c} M {s.m} {s.win.h.out}x{s.win.w.out}: "
                   f"{p.n_groups} groups of up to {p.r} tile rows x {p.tw} tiles per image")
    return [head, *tiles(ctx, s.n * p.n_groups, s.macs if p.parallel else 0, body,
                         slot_floats=p.slot)]
