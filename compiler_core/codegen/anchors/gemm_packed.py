"""GEMMs whose B is a model constant, with B packed at compile time for ``dnf_gemm_pb``.

A MatMul's or Gemm's weights ``B[k, n]`` (float32, 2-D, a constant) are stored in weights.bin
as strips of :data:`NR` columns, ``[ceil(n / NR)][k][NR]`` with the last strip zero-padded
(:func:`pack`), in place of B (nothing else reads B then: it is no longer stored). The kernel
``dnf_gemm_pb`` (``c/dnf_gemm_pb.c``: AVX-512 12 x 32, AVX2 + FMA 6 x 16 or plain C, the same
bits on each) reads the strips as they are: no packing of B at run time, the whole depth ``k``
in registers, one store per output element, an optional bias as the sums' start.

Used on x86-64 targets (``generate(..., packed_gemm=True)``); other targets keep the
``cblas_sgemm`` calls of :mod:`.gemm` (their BLAS is an optimized static one, the plain C
loop is not). Measured alone, one Zen 4 core, min of 15: BERT-base's ``128 x 768 @ 768 x
3072`` OpenBLAS 81-92 GFLOP/s, this kernel 99-111; ``128 x 3072 @ 3072 x 768`` 89 / 99;
``1 x 768 @ 768 x 3072`` (a GEMV) 4.4 / 17.8.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from compiler_core.codegen.c.stmt import Expr
from compiler_core.ir.ecg import value_shape

NR = 32  # columns per strip (dnf_gemm_pb.c DNF_PB_NR)
ROLE = "gemm_packed_b"  # role of the packed B in ctx.derived
CALL = "dnf_gemm_pb"
X86_64 = ("x86_64", "amd64")  # platform.machine() names of the targets that take the path


def used_on(machine: str) -> bool:
    """Whether code for a ``machine`` (``platform.machine()`` spelling) packs constant B."""
    return machine.lower() in X86_64


def constant_matrix(v: ir.Value | None, transposed: bool = False) -> np.ndarray | None:
    """``B[k, n]`` as float32 when ``v`` is a 2-D float32 constant (``transposed``: v holds
    ``B^T``, a Gemm's ``transB``); else None."""
    if v is None or v.const_value is None or len(value_shape(v)) != 2:
        return None
    if v.const_value.dtype != ir.DataType.FLOAT:
        return None
    b = np.asarray(v.const_value.numpy(), dtype=np.float32)
    return b.T if transposed else b


def pack(b: np.ndarray) -> np.ndarray:
    """``B[k, n]`` -> strips ``[ceil(n / NR), k, NR]`` (float32, zero-padded last strip)."""
    k, n = b.shape
    strips = -(-n // NR)
    padded = np.zeros((k, strips * NR), dtype=np.float32)
    padded[:, :n] = b
    return np.ascontiguousarray(padded.reshape(k, strips, NR).transpose(1, 0, 2))


def packed_value(name: str, b: np.ndarray) -> ir.Value:
    """A constant value holding :func:`pack` of ``b`` (a ``derived`` constant)."""
    p = pack(b)
    return ir.Value(name=name, shape=ir.Shape(list(p.shape)),
                    type=ir.TensorType(ir.DataType.FLOAT), const_value=ir.Tensor(p))


def gemm_pb(m, k, a, lda, bp, j0, j1, c, ldc, bias: str = "NULL", jn=None,
            a_t: bool = False) -> Expr:
    """``C[:m, j0:j1] = A[:m, :k] B[:, j0:j1] (+ bias[j0:j1])`` (``j0`` a multiple of NR);
    ``A[i][p]`` at ``a[i*lda + p]``, with ``a_t`` at ``a[p*lda + i]``. ``jn`` (default
    ``j1``): the strips before it are read next (by the caller's next call), so the last strip
    of this one brings the next into L2 too."""
    jn = j1 if jn is None else jn
    return Expr(f"{CALL}({m}, {k}, {a}, {lda}, {int(a_t)}, {bp}, {j0}, {j1}, {jn}, {c}, {ldc}, "
                f"{bias})")


def column_block(n: int) -> str:
    """C expression: columns per thread when threads split ``n`` columns (whole strips)."""
    return f"(({n} + {NR} - 1) / {NR} + omp_get_num_threads() - 1) / omp_get_num_threads() * {NR}"
