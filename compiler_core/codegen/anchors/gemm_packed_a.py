"""Conv GEMMs with the weights packed at compile time for ``dnf_gemm_pa``.

A conv's GEMM per group is ``Y_g[Mg, N] = W_g[Mg, K] x cols[K, N]`` (:mod:`.conv_gemm`); with
W a float32 constant it is stored in weights.bin as strips of :data:`MR` rows per group,
``[G][ceil(Mg / MR)][K][MR]`` with the last strip of each group zero-padded (:func:`pack`), in
place of W. The kernel ``dnf_gemm_pa`` (``c/dnf_gemm_pa.c``: AVX-512 12 x 32, AVX2 + FMA
6 x 16 or plain C, the same bits on each) broadcasts W from the strips and reads each row tile's
panel (the im2col panel; for a 1x1 conv a copy of X's rows, :func:`.conv_gemm._packed_tiling`)
as it is: W is never packed at run time (each ``cblas_sgemm`` call packed both operands, once
per output tile), and the bias starts the sums, so no pass over the tile adds it.

Used on x86-64 targets (``ctx.packed_gemm``); other targets keep the ``cblas_sgemm`` calls.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from compiler_core.codegen.c.stmt import Expr

MR = 12  # rows (output channels) per strip (dnf_gemm_pa.c DNF_PA_MR)
NC = 32  # columns per block of the AVX-512 kernel (the last block of a row masked)
DEPTH_BLOCK = 256  # terms of one partial sum (dnf_gemm_isa.c DNF_GEMM_KB)
ROLE = "conv_packed_a"  # role of the packed W in ctx.derived
CALL = "dnf_gemm_pa"
# Output positions from which the path is taken. Smaller images go the transposed way of
# :mod:`.conv_packed` (or keep sgemm under its channel count): there B's rows are short
# (49-196 floats), each depth step reads 128 bytes across two or three cache lines of a different row, and light
# ResNet-50 (random weights, one Zen 5 core, bench.ab_artifacts, median of 24 runs) took 1.00x
# the sgemm time with every conv on this path, 0.95x with it from 256 positions, 0.98x from
# 128 (its 14x14 layers on it too).
MIN_POSITIONS = 256


def applies(s) -> bool:
    """A conv (``ConvShape``) of :data:`MIN_POSITIONS`+ output positions whose output channels
    per group fill its strips at least two thirds (fewer, as in grouped convs of 1-7 channels
    per group, would store and compute up to 12x the weights)."""
    return s.ohw >= MIN_POSITIONS and 2 * strips(s.mg) * MR <= 3 * s.mg


def padded_columns(n: int) -> int:
    """Columns the kernel computes beyond ``n`` (the masked rest of the last block)."""
    return -(-n // NC) * NC - n


def strips(m: int) -> int:
    """Strips of :data:`MR` rows holding ``m`` rows."""
    return -(-m // MR)


def pack(w: np.ndarray) -> np.ndarray:
    """``W[G, M, K]`` -> ``[G, ceil(M / MR), K, MR]`` (float32, zero-padded last strips)."""
    g, m, k = w.shape
    padded = np.zeros((g, strips(m) * MR, k), dtype=np.float32)
    padded[:, :m] = w
    return np.ascontiguousarray(padded.reshape(g, strips(m), MR, k).transpose(0, 1, 3, 2))


def packed_value(name: str, w: np.ndarray) -> ir.Value:
    """A constant value holding :func:`pack` of ``w`` (``[G, M, K]``; a ``derived`` constant)."""
    p = pack(w)
    return ir.Value(name=name, shape=ir.Shape(list(p.shape)),
                    type=ir.TensorType(ir.DataType.FLOAT), const_value=ir.Tensor(p))


def constant_weights(v: ir.Value | None) -> np.ndarray | None:
    """A float32 constant's array, else None."""
    if v is None or v.const_value is None or v.const_value.dtype != ir.DataType.FLOAT:
        return None
    return np.asarray(v.const_value.numpy(), dtype=np.float32)


def row_offset(g: str, m0: str, mg: int, k: int) -> str:
    """C expression: floats from the packed W's start to group ``g``'s row ``m0`` (``m0`` a
    multiple of :data:`MR`)."""
    return f"({g}*{strips(mg) * MR} + {m0})*{k}"


def gemm_pa(m, n, k, ap, b, ldb, c, ldc, bias: str = "NULL", relu: bool = False,
            res: str = "NULL") -> Expr:
    """``C[:m, :n] = A[:m, :k] B[:k, :n] (+ bias[i] on row i)``, ``ap`` at a strip; with
    ``res`` (a C pointer read like C, ``res[i*ldc + j]``) each sum gets ``res[i][j]`` added
    last; with ``relu`` each element stored as ``max(t, 0)`` (``t > 0 ? t : 0``)."""
    return Expr(f"{CALL}({m}, {n}, {k}, {ap}, {b}, {ldb}, {c}, {ldc}, {bias}, {res}, "
                f"{int(relu)})")
