"""Profiling requests an agent can execute: the candidate stored with the request, and the
function that rebuilds and runs its benchmark.

When the planner meets a "profile" pair with no measurement, :func:`stored_candidate` copies
the candidate into a model of its own (:func:`compiler_core.bench.candidate.extract_candidate`:
only the candidate's nodes, constants kept, model names dropped) and serializes it as ONNX
bytes, with the sub-model's node indices of each side. :func:`run_stored` loads those bytes,
rebuilds the ECG, checks that the candidate still has the request's fusion signature (a
request made by another code-generator version, or bytes that do not match, are refused), and
builds and runs the benchmark with :mod:`compiler_core.bench.run`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import onnx
import onnx_ir as ir

from compiler_core.bench.candidate import extract_candidate
from compiler_core.bench.run import BenchmarkError, BenchResult, build_benchmark, run_benchmark
from compiler_core.bench.signature import fusion_signature
from compiler_core.errors import DnnFusionError
from compiler_core.ir.ecg import ECG, build_ecg

# A candidate whose serialized sub-model is larger is stored without it (not executable).
MAX_CANDIDATE_BYTES = 64 * 1024**2


@dataclass(frozen=True)
class StoredCandidate:
    """``model``: the candidate sub-model as serialized ONNX; ``first``/``second``: its node
    indices (in the order :func:`compiler_core.ir.ecg.build_ecg` gives) of each side."""

    model: bytes
    first: list[int]
    second: list[int]


def stored_candidate(ecg: ECG, first, second) -> StoredCandidate | None:
    """The candidate of fusing ``first`` and ``second`` (node indices of ``ecg``) as bytes, or
    None when it cannot be extracted or is over :data:`MAX_CANDIDATE_BYTES`."""
    try:
        c = extract_candidate(ecg, first, second)
        data = ir.serde.serialize_model(c.ecg.model).SerializeToString()
    except (DnnFusionError, ValueError, TypeError):
        return None
    if len(data) > MAX_CANDIDATE_BYTES:
        return None
    return StoredCandidate(data, list(c.first), list(c.second))


def load_candidate(stored: StoredCandidate) -> ECG:
    """The candidate's ECG. Raises :class:`BenchmarkError` when the bytes are not a model."""
    try:
        model = ir.serde.deserialize_model(onnx.load_from_string(stored.model))
        return build_ecg(model)
    except Exception as e:  # noqa: BLE001 - stored bytes are untrusted: any failure is one line
        raise BenchmarkError(f"stored candidate is not a usable model: {str(e)[:200]}") from None


def run_stored(
    stored: StoredCandidate,
    *,
    signature: str,
    threads: int,
    min_ms: float = 100.0,
    workdir: Path | None = None,
) -> BenchResult:
    """Rebuild and run the benchmark of a stored candidate on this machine (target ``host``,
    ``threads`` OpenMP threads, each side timed for at least ``min_ms`` ms); samples in µs.

    Raises :class:`BenchmarkError` when the candidate does not have ``signature`` (another
    code-generator version, or different bytes) and whatever
    :func:`~compiler_core.bench.run.build_benchmark` / :func:`~compiler_core.bench.run.run_benchmark`
    raise."""
    ecg = load_candidate(stored)
    n = len(ecg.nodes)
    if not stored.first or not stored.second or any(
            not 0 <= i < n for i in (*stored.first, *stored.second)):
        raise BenchmarkError("stored candidate's node indices are out of range")
    sig = fusion_signature(ecg, stored.first, stored.second, threads)
    if sig.key != signature:
        raise BenchmarkError("stored candidate does not have the request's signature "
                             "(another code-generator version?)")
    with tempfile.TemporaryDirectory(dir=workdir, prefix="dnf-request-") as tmp:
        built = build_benchmark(ecg, stored.first, stored.second, Path(tmp) / "bench.run",
                                target="host", threads=threads)
        return run_benchmark(built, threads=threads, min_ms=min_ms)
