"""When a loop is worth running on several OpenMP threads: one rule for every loop.

``work`` is counted in "operation units": a multiply-add of a convolution, a load of a pooling
window, one operation of a reduction or LRN is one unit; one multiply-add inside an sgemm call
is :data:`GEMM_MAC` units and one element written by an element-wise loop nest is
:data:`ELEMENT` units (times the operator's ``work_per_element``). A loop goes parallel from
:data:`PARALLEL_MIN_WORK` units: tile loops (convs, pools) from 2^18 operations, element-wise
nests from 2^15 elements, sgemm loops from 2^16 multiply-adds [ours]. Tile loops started at
2^20 before: at 2^18 (2 threads, ``bench.ab_artifacts`` median of 32-40 runs) ShuffleNet took
0.82-0.84x the time (its small pools, depthwise convs), Inception-v2 0.97x, SqueezeNet 0.98x,
TinyBERT 0.98-1.01x, one thread 1.00x. Lowering the other two thresholds 4x as well gained
nothing more (ResNet-50, DenseNet-121, TinyBERT, DistilBERT 0.99-1.02x) and put a 32x32
MatMul (2^14 multiply-adds) on two threads, which flipped a profiling test's measured
fused-vs-separate decision.
"""

from __future__ import annotations

PARALLEL_MIN_WORK = 1 << 18  # operation units below which a loop stays on one thread
ELEMENT = 8  # units per element written by an element-wise loop nest
GEMM_MAC = 4  # units per multiply-add done by an sgemm call


def parallel_policy(work: int, iterations: int = 2) -> bool:
    """True when a loop of ``iterations`` (> 1) shares ``work`` operation units among
    threads."""
    return iterations > 1 and work >= PARALLEL_MIN_WORK
