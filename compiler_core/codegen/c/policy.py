"""When a loop is worth running on several OpenMP threads: one rule for every loop.

``work`` is counted in "operation units": a multiply-add of a convolution, a load of a pooling
window, one operation of a reduction or LRN is one unit; one multiply-add inside an sgemm call
is :data:`GEMM_MAC` units and one element written by an element-wise loop nest is
:data:`ELEMENT` units (times the operator's ``work_per_element``). The weights are the ratios
of the three thresholds the generator used before they became one (element-wise loops 2^15
elements, sgemm loops 2^16 multiply-adds, tile loops 2^20 operations); they said that starting a parallel region pays off around 2^20 simple operations
(about 0.3 ms on one core) [ours]. The threshold is now 2^18 (the same weights): 2 threads,
``bench.ab_artifacts`` median of 24-48 runs against 2^20, ShuffleNet 0.84x the time (its
small pools, depthwise convs and shuffles went parallel), Inception-v2 0.98x, ResNet-50,
DenseNet-121, SqueezeNet, TinyBERT, DistilBERT 0.99-1.02x (noise); one thread 0.98-1.02x.
"""

from __future__ import annotations

PARALLEL_MIN_WORK = 1 << 18  # operation units below which a loop stays on one thread
ELEMENT = 32  # units per element written by an element-wise loop nest
GEMM_MAC = 16  # units per multiply-add done by an sgemm call


def parallel_policy(work: int, iterations: int = 2) -> bool:
    """True when a loop of ``iterations`` (> 1) shares ``work`` operation units among
    threads."""
    return iterations > 1 and work >= PARALLEL_MIN_WORK
