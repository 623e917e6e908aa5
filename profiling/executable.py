"""Profiling requests an agent can execute: the candidate stored with the request, and the
function that rebuilds and runs its benchmark.

When the planner meets a "profile" pair with no measurement, :func:`stored_candidate` copies
the candidate into a model of its own (:func:`compiler_core.bench.candidate.extract_candidate`:
only the candidate's nodes, constants kept, model names dropped) and serializes it as ONNX
bytes, with the sub-model's node indices of each side. :func:`run_stored` loads those bytes,
rebuilds the ECG, checks that the candidate still has the request's fusion signature (a
request made by another code-generator version, or bytes that do not match, are refused), and
builds and runs the benchmark with :mod:`compiler_core.bench.run`.

Weights are not stored: a float constant of more than :data:`STORED_VALUES_LIMIT` elements is
kept as its dtype and shape only (its name listed in the model's ``metadata_props`` under
:data:`REGENERATED_KEY`) and filled with seeded uniform values in [-1, 1) when loaded. Its
values change neither the kernels nor the fusion signature (only constants of at most 16
elements enter it), and BERT-base's 78 candidates shrink from 137 MB to a few kB each.
Integer constants are always kept (indices must stay in range).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnx_ir as ir

from compiler_core.bench.candidate import extract_candidate
from compiler_core.bench.run import (
    BenchmarkError,
    BenchResult,
    BuiltBenchmark,
    build_benchmark,
    run_benchmark,
)
from compiler_core.bench.signature import fusion_signature
from compiler_core.errors import DnnFusionError
from compiler_core.ir.ecg import ECG, build_ecg
from profiling.candidate import StoredCandidate

# A candidate whose serialized sub-model is larger is stored without it (not executable).
MAX_CANDIDATE_BYTES = 64 * 1024**2
STORED_VALUES_LIMIT = 1024  # elements of a float constant whose values are stored
REGENERATED_KEY = "dnnfusion.regenerated_constants"
MAX_REGENERATED_BYTES = 1024**3  # what a stored candidate may ask to be filled on load
_FLOATS = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.DOUBLE: np.float64,
           onnx.TensorProto.FLOAT16: np.float16}


def stored_candidate(ecg: ECG, first, second) -> StoredCandidate | None:
    """The candidate of fusing ``first`` and ``second`` (node indices of ``ecg``) as bytes, or
    None when it cannot be extracted or is over :data:`MAX_CANDIDATE_BYTES`."""
    try:
        c = extract_candidate(ecg, first, second)
        data = _strip_weights(ir.serde.serialize_model(c.ecg.model)).SerializeToString()
    except (DnnFusionError, ValueError, TypeError):
        return None
    if len(data) > MAX_CANDIDATE_BYTES:
        return None
    return StoredCandidate(data, list(c.first), list(c.second))


def load_candidate(stored: StoredCandidate) -> ECG:
    """The candidate's ECG. Raises :class:`BenchmarkError` when the bytes are not a model."""
    try:
        proto = onnx.load_from_string(stored.model)
    except Exception as e:  # noqa: BLE001 - stored bytes are untrusted: any failure is one line
        raise BenchmarkError(f"stored candidate is not a usable model: {str(e)[:200]}") from None
    _regenerate_weights(proto)
    try:
        return build_ecg(ir.serde.deserialize_model(proto))
    except Exception as e:  # noqa: BLE001 - stored bytes are untrusted: any failure is one line
        raise BenchmarkError(f"stored candidate is not a usable model: {str(e)[:200]}") from None


def build_stored(
    stored: StoredCandidate,
    out_path: Path,
    *,
    signature: str,
    threads: int,
    target: str = "host",
) -> BuiltBenchmark:
    """Build the benchmark of a stored candidate for ``target`` (``host``, or the static
    ``linux-arm64`` executable an agent pushes to a phone) into ``out_path``.

    Raises :class:`BenchmarkError` when the candidate does not have ``signature`` (another
    code-generator version, or different bytes) and whatever
    :func:`~compiler_core.bench.run.build_benchmark` raises."""
    ecg = load_candidate(stored)
    n = len(ecg.nodes)
    if not stored.first or not stored.second or any(
            not 0 <= i < n for i in (*stored.first, *stored.second)):
        raise BenchmarkError("stored candidate's node indices are out of range")
    sig = fusion_signature(ecg, stored.first, stored.second, threads)
    if sig.key != signature:
        raise BenchmarkError("stored candidate does not have the request's signature "
                             "(another code-generator version?)")
    return build_benchmark(ecg, stored.first, stored.second, out_path, target=target,
                           threads=threads)


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
    Raises what :func:`build_stored` and :func:`~compiler_core.bench.run.run_benchmark`
    raise."""
    with tempfile.TemporaryDirectory(dir=workdir, prefix="dnf-request-") as tmp:
        built = build_stored(stored, Path(tmp) / "bench.run", signature=signature,
                             threads=threads)
        return run_benchmark(built, threads=threads, min_ms=min_ms)


def _strip_weights(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Drop the values of large float initializers (see the module docstring)."""
    names = []
    for t in proto.graph.initializer:
        if (t.data_type in _FLOATS and int(np.prod(t.dims)) > STORED_VALUES_LIMIT
                and t.data_location != onnx.TensorProto.EXTERNAL):
            t.ClearField("raw_data")
            t.ClearField("float_data")
            t.ClearField("double_data")
            t.ClearField("int32_data")  # float16 values live here when not raw
            names.append(t.name)
    if names:
        proto.metadata_props.add(key=REGENERATED_KEY, value=json.dumps(names))
    return proto


def _regenerate_weights(proto: onnx.ModelProto) -> None:
    """Fill the initializers :func:`_strip_weights` emptied with seeded values, after
    checking what they claim. Raises :class:`BenchmarkError`."""
    listed = [p.value for p in proto.metadata_props if p.key == REGENERATED_KEY]
    try:
        names = set(json.loads(listed[0])) if listed else set()
    except (ValueError, TypeError):
        raise BenchmarkError("stored candidate's regenerated constants are malformed") from None
    todo = [t for t in proto.graph.initializer if t.name in names]
    total = 0
    for t in todo:
        if t.data_type not in _FLOATS or any(d < 0 for d in t.dims):
            raise BenchmarkError(f"stored candidate's constant {t.name[:40]!r} cannot be filled")
        total += int(np.prod(t.dims, dtype=object)) * np.dtype(_FLOATS[t.data_type]).itemsize
    if total > MAX_REGENERATED_BYTES:
        raise BenchmarkError(f"stored candidate claims {total} bytes of constants, over the "
                             f"limit of {MAX_REGENERATED_BYTES}")
    for t in todo:
        seed = int.from_bytes(hashlib.sha256(t.name.encode()).digest()[:8], "little")
        values = np.random.default_rng(seed).uniform(-1.0, 1.0, size=tuple(t.dims))
        t.raw_data = values.astype(_FLOATS[t.data_type]).tobytes()
