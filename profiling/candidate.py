"""The candidate a profiling request stores: serialized ONNX bytes and each side's nodes.

A plain record (standard library only), so the API process can read and write requests
without loading the compiler; building and running it is :mod:`profiling.executable`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StoredCandidate:
    """``model``: the candidate sub-model as serialized ONNX; ``first``/``second``: its node
    indices (in the order :func:`compiler_core.ir.ecg.build_ecg` gives) of each side."""

    model: bytes
    first: list[int]
    second: list[int]
