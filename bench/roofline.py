"""The roofline bound of a model on this machine: its work against the measured peak.

    python -m bench.roofline [--threads 2] [--models NAMES...]

Two machine numbers, measured here, with the same libraries the artifacts use:

- **GEMM GFLOP/s**: ``cblas_sgemm`` of the ``scipy-openblas32`` library (the BLAS compiled
  models call, loaded with the same kernel set, :func:`compiler_core.target.blas.loading_openblas`)
  on square float32 matrices, n = 1024 and 2048, best of several runs; ``threads`` OpenBLAS
  threads. A multiply-add counts 2 FLOPs.
- **copy GB/s**: ``memmove`` of a 256 MiB buffer split over ``threads`` threads (ctypes releases
  the GIL), counting the bytes read plus the bytes written (STREAM's "copy" convention).

Per model (:func:`model_bounds`): the FLOPs of the model as given (no rewriting:
:func:`compiler_core.ir.ecg.estimate_flops` per node, the same estimate the planner uses) and
the minimum bytes any implementation moves: every graph input and weight read once, every
output written once. The bound is ``max(FLOPs / GEMM GFLOP/s, bytes / copy GB/s)`` in ms: no
implementation on this machine can be faster, and a GEMM-bound model near it has little left
to gain from fusion.
"""

from __future__ import annotations

import argparse
import ctypes
import math
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np

SIZES = (1024, 2048)
COPY_BYTES = 256 << 20
_CBLAS_ROW_MAJOR, _CBLAS_NO_TRANS = 101, 111


@dataclass(frozen=True)
class Machine:
    """Peak rates measured on this machine: ``gemm_gflops`` (GFLOP/s, float32 SGEMM) and
    ``copy_gbs`` (GB/s, read + write bytes), at ``threads`` threads."""

    threads: int
    gemm_gflops: float
    copy_gbs: float

    def bound_ms(self, flops: int, min_bytes: int) -> float:
        """Lower bound in ms of a run doing ``flops`` FLOPs and moving ``min_bytes`` bytes."""
        return max(flops / (self.gemm_gflops * 1e9), min_bytes / (self.copy_gbs * 1e9)) * 1e3


@dataclass(frozen=True)
class ModelBound:
    """A model's work: ``flops`` (all nodes), ``gemm_flops`` (MatMul/Gemm/Conv and other
    operators with a FLOP estimate of their own) and ``min_bytes`` (inputs + weights read once,
    outputs written once)."""

    flops: int
    gemm_flops: int
    min_bytes: int


def _openblas():
    from compiler_core.target.blas import OPENBLAS_LIB, loading_openblas

    # importing the package loads OpenBLAS: inside the context, or OpenBLAS picks its own
    # kernel set for the whole process (Haswell's on a Zen 5: half the SGEMM rate, for the
    # models measured after this too)
    with loading_openblas():
        import scipy_openblas32

        lib = ctypes.CDLL(f"{scipy_openblas32.get_lib_dir()}/{OPENBLAS_LIB}")
    prefix = scipy_openblas32.get_library().removesuffix("openblas")  # "scipy_"
    return lib, prefix


def gemm_gflops(threads: int, repeats: int = 5) -> float:
    """Best SGEMM rate (GFLOP/s) over :data:`SIZES` with ``threads`` OpenBLAS threads."""
    lib, prefix = _openblas()
    getattr(lib, f"{prefix}openblas_set_num_threads")(ctypes.c_int(threads))
    sgemm = getattr(lib, f"{prefix}cblas_sgemm")
    best = 0.0
    rng = np.random.default_rng(0)
    for n in SIZES:
        a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
        c = np.empty((n, n), np.float32)
        ptr = ctypes.c_void_p
        args = (_CBLAS_ROW_MAJOR, _CBLAS_NO_TRANS, _CBLAS_NO_TRANS, n, n, n, ctypes.c_float(1.0),
                ptr(a.ctypes.data), n, ptr(b.ctypes.data), n, ctypes.c_float(0.0),
                ptr(c.ctypes.data), n)
        sgemm(*args)  # warm-up (thread pool, pages)
        for _ in range(repeats):
            t0 = time.perf_counter()
            sgemm(*args)
            best = max(best, 2.0 * n**3 / (time.perf_counter() - t0) / 1e9)
    return best


def copy_gbs(threads: int, repeats: int = 5) -> float:
    """Best copy bandwidth (GB/s, read + written bytes) of ``COPY_BYTES`` over ``threads``."""
    src = np.ones(COPY_BYTES, np.uint8)
    dst = np.zeros(COPY_BYTES, np.uint8)
    part = COPY_BYTES // threads

    def one(i: int) -> None:
        ctypes.memmove(dst.ctypes.data + i * part, src.ctypes.data + i * part, part)

    best = 0.0
    for _ in range(repeats + 1):
        workers = [threading.Thread(target=one, args=(i,)) for i in range(threads)]
        t0 = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        best = max(best, 2.0 * part * threads / (time.perf_counter() - t0) / 1e9)
    return best


def measure_machine(threads: int) -> Machine:
    """This machine's peaks at ``threads`` threads (about 2-5 s)."""
    return Machine(threads, gemm_gflops(threads), copy_gbs(threads))


def model_bounds(path, input_shapes) -> ModelBound:
    """FLOPs and minimum bytes of the model at ``path`` with static ``input_shapes``.

    Raises the :mod:`compiler_core.errors` types of import on a bad model."""
    from compiler_core.frontend import import_model
    from compiler_core.ir.ecg import build_ecg, is_constant
    from compiler_core.ir.ops import lookup

    ecg = build_ecg(import_model(path, input_shapes).model)
    flops = sum(inf.flops for inf in ecg.info)
    gemm = sum(inf.flops for node, inf in zip(ecg.nodes, ecg.info, strict=True)
               if (row := lookup(node.domain, node.op_type)) is not None
               and row.estimate is not None)
    seen, nbytes = set(), 0
    for node in ecg.nodes:
        for v in node.inputs:
            if v is not None and v not in seen and (is_constant(v) or v.producer() is None):
                seen.add(v)
                nbytes += ecg.value_bytes.get(v, 0)
    nbytes += sum(ecg.value_bytes.get(v, 0) for v in ecg.graph_outputs)
    return ModelBound(int(flops), int(gemm), int(nbytes))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.roofline", description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", nargs="*", default=[], help="zoo models to print bounds for")
    args = ap.parse_args(argv)
    m = measure_machine(args.threads)
    print(f"{args.threads} threads: SGEMM {m.gemm_gflops:.1f} GFLOP/s, copy {m.copy_gbs:.1f} GB/s")
    from bench.zoo import get

    for name in args.models:
        e = get(name)
        b = model_bounds(e.path(), e.input_shapes)
        print(f"{name:28s} {b.flops / 1e9:8.3f} GFLOP ({b.gemm_flops / max(b.flops, 1):.0%} GEMM)"
              f"  {b.min_bytes / 1e6:8.2f} MB  bound {m.bound_ms(b.flops, b.min_bytes):8.3f} ms"
              f"  ({'compute' if b.flops / m.gemm_gflops > b.min_bytes / m.copy_gbs else 'memory'})")
    return 0 if math.isfinite(m.gemm_gflops) else 1


if __name__ == "__main__":
    sys.exit(main())
