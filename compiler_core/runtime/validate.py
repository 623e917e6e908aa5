"""Check a compiled artifact against ONNX Runtime: numerics and latency.

The same random inputs go to the artifact and to ONNX Runtime on the original model (graph
optimizations off, the reference); latency is the median of ``runs`` alternating runs of the
artifact and of ONNX Runtime with all its optimizations, both with ``threads`` threads.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import onnx

from compiler_core.errors import ReferenceRuntimeError

if TYPE_CHECKING:
    from compiler_core.runtime.session import InferenceSession

ORT_MAX_IR_VERSION = 10  # onnxruntime 1.31 refuses IR versions above 13; 10 is what it writes
# What validate_artifact runs next: loading the artifact, ONNX Runtime, or the artifact.
PHASES = ("loading", "reference", "artifact")
BLOCK = 5  # consecutive runs of one runtime per turn when timing; the first is not timed
PROFILE_RUNS = 3  # profiled runs after timing, for the per-block times (block_us)
_ONNX_TYPE_NAMES = {"float": "float32", "double": "float64"}  # others match numpy's names


@dataclass(frozen=True)
class Validation:
    """Result of :func:`validate_artifact`. Errors are absolute (max over all outputs and
    elements); ``max_rel_error`` is ``|ours - ref| / max(|ref|, 1e-6)``; latencies in ms
    (medians of ``runs`` timed runs each, with their 10th and 90th percentiles)."""

    max_abs_error: float
    max_rel_error: float
    within_tolerance: bool
    latency_ms: float | None  # None when not timed (runs=0, e.g. an emulated runner)
    ort_latency_ms: float | None
    runs: int
    threads: int
    latency_p10_ms: float | None = None
    latency_p90_ms: float | None = None
    ort_latency_p10_ms: float | None = None
    ort_latency_p90_ms: float | None = None
    # Each fused block's kernel time: [{"block": id, "kernel": name, "us": median µs}] over
    # PROFILE_RUNS profiled runs, in the order the kernels run; None when not timed.
    block_us: list[dict] | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def random_feeds(inputs, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs for NodeArg-like ``inputs`` (name, shape, type ``tensor(<dtype>)``).

    Floats: standard normal. Integers: 0 or 1 (valid token ids, masks and segment ids).
    Booleans: random.
    """
    rng = np.random.default_rng(seed)
    feeds = {}
    for arg in inputs:
        name = arg.type.removeprefix("tensor(").removesuffix(")")
        dtype = np.dtype(_ONNX_TYPE_NAMES.get(name, name))
        shape = tuple(int(d) for d in arg.shape)
        if dtype.kind == "f":
            feeds[arg.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind == "b":
            feeds[arg.name] = rng.integers(0, 2, shape).astype(bool)
        else:
            feeds[arg.name] = rng.integers(0, 2, shape).astype(dtype)
    return feeds


@contextlib.contextmanager
def onnxruntime_errors() -> Iterator[None]:
    """Turn an exception of ONNX Runtime (its pybind11 types share no base class; they live in
    ``onnxruntime.*``) into a one-line :class:`~compiler_core.errors.ReferenceRuntimeError`."""
    try:
        yield
    except Exception as err:
        if not type(err).__module__.startswith("onnxruntime"):
            raise
        text = " ".join(str(err).split())[:400] or type(err).__name__
        raise ReferenceRuntimeError(
            f"ONNX Runtime failed on the original model while computing the reference: {text}"
        ) from None


def ort_session(model: str | os.PathLike | onnx.ModelProto, *, optimize: bool, threads: int):
    """An onnxruntime session on ``model`` (its IR version lowered to what ORT accepts)."""
    import onnxruntime as ort

    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(os.fspath(model))
    if proto.ir_version > ORT_MAX_IR_VERSION:
        copy = onnx.ModelProto()
        copy.CopyFrom(proto)
        copy.ir_version = ORT_MAX_IR_VERSION
        proto = copy
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # errors only: no warnings about unused initializers
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if optimize
        else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    with onnxruntime_errors():
        return ort.InferenceSession(
            proto.SerializeToString(), opts, providers=["CPUExecutionProvider"]
        )


def validate_artifact(
    artifact: str | os.PathLike | InferenceSession,
    model: str | os.PathLike | onnx.ModelProto,
    *,
    seed: int = 0,
    runs: int = 10,
    warmup: int = 2,
    threads: int = 2,
    rtol: float = 1e-3,
    atol: float = 1e-4,
    input_feed: Mapping[str, np.ndarray] | None = None,
    output_names: Sequence[str] | None = None,
    phase: Callable[[str], None] | None = None,
) -> Validation:
    """Run ``artifact`` (a path, or an open :class:`InferenceSession`, which stays open) and
    ONNX Runtime on ``model`` with the same random inputs.

    Latency: at least ``runs`` timed runs each, alternating in blocks of ``BLOCK`` consecutive
    runs; medians in ms.

    ``within_tolerance``: every output element satisfies ``|ours - ref| <= atol + rtol*|ref|``.
    ``runs=0``: numerics only, no timing.
    ``phase`` is called with what runs next (:data:`PHASES`), so a caller watching from outside
    can tell which runtime a crash came from.
    Raises the runtime's errors for a broken artifact.

    This runs compiled code in the calling process: :mod:`compiler_core.runtime.sandbox` runs
    it in a child process under limits instead (what :func:`compiler_core.compile_model` does).
    """
    from compiler_core.runtime.session import InferenceSession

    mark = phase or (lambda _name: None)
    mark("loading")
    if isinstance(artifact, InferenceSession):
        session = artifact
    else:
        session = InferenceSession(artifact, threads=threads)
    feeds = dict(input_feed) if input_feed is not None else random_feeds(
        session.get_inputs(), seed)
    names = list(output_names or [o.name for o in session.get_outputs()])
    with onnxruntime_errors():  # ORT's own exceptions (e.g. integer division by zero)
        mark("reference")
        reference = ort_session(model, optimize=False, threads=threads).run(names, feeds)
        mark("artifact")
        ours = session.run(names, feeds)
        max_abs = max_rel = 0.0
        ok = True
        for got, want in zip(ours, reference, strict=True):
            got64, want64 = np.asarray(got, np.float64), np.asarray(want, np.float64)
            diff = np.abs(got64 - want64)
            if diff.size:
                max_abs = max(max_abs, float(diff.max()))
                max_rel = max(max_rel, float((diff / np.maximum(np.abs(want64), 1e-6)).max()))
                ok = ok and bool(np.all(diff <= atol + rtol * np.abs(want64)))
        if runs <= 0:
            return Validation(max_abs, max_rel, ok, None, None, 0, threads)
        mark("reference")
        fast = ort_session(model, optimize=True, threads=threads)

        def timed(run) -> float:
            t0 = time.perf_counter()
            run(names, feeds)
            return (time.perf_counter() - t0) * 1e3

        for _ in range(warmup):
            mark("artifact")
            timed(session.run)
            mark("reference")
            timed(fast.run)
        # Alternate in blocks; the first run of a block is not timed (the other runtime's thread
        # pool spins for a while after its run and would take this run's cores).
        ours_ms: list[float] = []
        ort_ms: list[float] = []
        turns = [("artifact", session.run, ours_ms), ("reference", fast.run, ort_ms)]
        for i in range(-(-runs // (BLOCK - 1))):
            for name, run, times in turns if i % 2 == 0 else turns[::-1]:
                mark(name)
                timed(run)
                times.extend(timed(run) for _ in range(BLOCK - 1))
        mark("artifact")
        block_us = block_times(session, names, feeds, PROFILE_RUNS)
    return Validation(
        max_abs_error=max_abs,
        max_rel_error=max_rel,
        within_tolerance=ok,
        latency_ms=statistics.median(ours_ms),
        ort_latency_ms=statistics.median(ort_ms),
        runs=runs,
        threads=threads,
        latency_p10_ms=float(np.percentile(ours_ms, 10)),
        latency_p90_ms=float(np.percentile(ours_ms, 90)),
        ort_latency_p10_ms=float(np.percentile(ort_ms, 10)),
        ort_latency_p90_ms=float(np.percentile(ort_ms, 90)),
        block_us=block_us,
    )


def block_times(session: InferenceSession, names: Sequence[str],
                feeds: Mapping[str, np.ndarray], runs: int) -> list[dict]:
    """Median time of each fused block's kernel over ``runs`` profiled runs (per-kernel timers
    compiled into the artifact, as ``dnnfusion run --profile``), in µs:
    ``[{"block": id, "kernel": name, "us": t}]`` in the order the kernels run."""
    per_kernel: list[list[float]] = []
    for _ in range(runs):
        _, times = session.run_profiled(names, feeds)
        per_kernel = per_kernel or [[] for _ in times]
        for i, t in enumerate(times):
            per_kernel[i].append(float(t))
    blocks = session.blocks
    out = []
    for i, ts in enumerate(per_kernel):
        b = blocks[i] if i < len(blocks) else {}
        out.append({"block": b.get("id", i), "kernel": b.get("kernel"), "us": statistics.median(ts)})
    return out
