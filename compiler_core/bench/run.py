"""Build and run the micro-benchmark of one "profile" candidate.

:func:`build_benchmark` generates both partitions of the candidate with the code generator
(:func:`compiler_core.codegen.generate.generate`), assembles the program
(:mod:`compiler_core.bench.program`) and builds it with the artifact build path
(:func:`compiler_core.codegen.build.build_target`, same compiler, flags and cache): for
``host`` an executable with the host library's flags (``-fPIC -pie`` instead of ``-shared``,
so the kernels keep their per-ISA clones) linked with OpenBLAS; for ``linux-arm64`` the static
aarch64 executable the device agent pushes to phones.

:func:`run_benchmark` runs a built program in a child process with a wall-clock limit and
parses its JSON line into a :class:`BenchResult`. A program built for another architecture
runs under the target's emulator and only with ``check_only`` (qemu timings mean nothing).

Limits: a candidate whose two partitions need more than :data:`MEMORY_LIMIT_BYTES` (arenas,
weights, inputs and outputs; ``$DNNFUSION_BENCH_MEMORY_LIMIT_BYTES``) is refused before
anything is built; a native run gets ``RLIMIT_AS`` (that need twice, plus 1 GiB and 64 MiB per
CPU for libraries and thread stacks), ``RLIMIT_CPU`` (the timeout times the threads) and no
core dumps, in its own session, killed on timeout.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import resource
import subprocess
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compiler_core.bench.candidate import Candidate, extract_candidate
from compiler_core.bench.program import MISMATCH_EXIT, benchmark_sources
from compiler_core.bench.signature import FusionSignature, fusion_signature
from compiler_core.codegen.anchors.gemm_packed import used_on
from compiler_core.codegen.build import BuildInfo, build_target
from compiler_core.codegen.generate import GeneratedModel, generate
from compiler_core.errors import DnnFusionError, ResourceLimitError
from compiler_core.ir.ecg import ECG
from compiler_core.target.targets import TARGETS, Target, get_target

DEFAULT_TIMEOUT_S = 300.0
GiB = 1024**3
MEMORY_LIMIT_BYTES = 4 * GiB


class BenchmarkError(DnnFusionError):
    """The benchmark could not run, a partition reported a run-time error, or its output was
    not the expected JSON line."""


class BenchmarkMismatchError(BenchmarkError):
    """The fused and the separate partitions computed different outputs (a wrong kernel)."""


@dataclass(frozen=True)
class BenchResult:
    """One benchmark run: per-run samples in microseconds (empty when ``check_only``)."""

    signature: str
    codegen_version: int
    threads: int
    cpu: str
    max_abs_diff: float
    fused_us: tuple[float, ...]
    separate_us: tuple[float, ...]
    check_only: bool

    @property
    def fused_median_us(self) -> float:
        return float(np.median(self.fused_us))

    @property
    def separate_median_us(self) -> float:
        return float(np.median(self.separate_us))


@dataclass
class BuiltBenchmark:
    path: Path
    target: str
    signature: FusionSignature
    build: BuildInfo
    memory_bytes: int = 0  # arenas + weights + inputs/outputs of both partitions


def memory_need(fused: GeneratedModel, separate: GeneratedModel) -> int:
    """Bytes both partitions allocate: arenas, weights (each its own file) and tensors."""
    io = sum(math.prod(t.shape) * np.dtype(t.dtype).itemsize
             for t in [*fused.inputs, *fused.outputs, *separate.outputs])
    return (fused.arena_bytes + separate.arena_bytes + fused.weights_bytes
            + separate.weights_bytes + io)


def memory_limit() -> int:
    text = os.environ.get("DNNFUSION_BENCH_MEMORY_LIMIT_BYTES")
    try:
        return int(text) if text else MEMORY_LIMIT_BYTES
    except ValueError:
        raise DnnFusionError("DNNFUSION_BENCH_MEMORY_LIMIT_BYTES must be an integer") from None


def _bench_target(target: str) -> Target:
    t = get_target(target)
    if t.kind == "library":  # an executable with the library's code generation flags
        flags = tuple(f for f in t.cflags if f != "-shared") + ("-pie",)
        return dataclasses.replace(t, name=f"{t.name}-bench", kind="runner", cflags=flags,
                                   output="bench.run")
    return dataclasses.replace(t, name=f"{t.name}-bench", output="bench.run")


def generate_partitions(candidate: Candidate,
                        packed_gemm: bool | None = None) -> tuple[GeneratedModel, GeneratedModel]:
    """The code generator's output for the fused and the separate partition
    (``packed_gemm``: as :func:`~compiler_core.codegen.generate.generate`)."""
    return (generate(candidate.ecg, candidate.partition(fused=True), packed_gemm),
            generate(candidate.ecg, candidate.partition(fused=False), packed_gemm))


def build_benchmark(
    ecg: ECG,
    first: Collection[int],
    second: Collection[int],
    out_path: Path,
    *,
    target: str = "host",
    threads: int = 1,
    timeout: float = 600.0,
) -> BuiltBenchmark:
    """Build the benchmark of fusing ``first`` and ``second`` (node indices of ``ecg``) for
    ``target`` into the executable ``out_path``. ``threads`` enters the signature (the
    program is run with the same count). Raises
    :class:`~compiler_core.errors.UnsupportedOperatorError` when code generation cannot
    handle the candidate and :class:`~compiler_core.codegen.build.BuildError` when the
    compiler fails."""
    if target not in TARGETS:
        raise DnnFusionError(f"unknown target {target!r}; supported: {', '.join(TARGETS)}")
    sig = fusion_signature(ecg, first, second, threads)
    fused, separate = generate_partitions(extract_candidate(ecg, first, second),
                                          used_on(get_target(target).machine))
    need = memory_need(fused, separate)
    if need > memory_limit():
        raise ResourceLimitError(
            f"the benchmark of {sig.ops[:200]} needs {need} bytes, over the limit of "
            f"{memory_limit()} (DNNFUSION_BENCH_MEMORY_LIMIT_BYTES)")
    built = build_sources(benchmark_sources(fused, separate, sig.key), out_path, target=target,
                          signature=sig, timeout=timeout)
    built.memory_bytes = need
    return built


def build_sources(files: dict, out_path: Path, *, target: str, signature: FusionSignature,
                  timeout: float = 600.0) -> BuiltBenchmark:
    """Build :func:`~compiler_core.bench.program.benchmark_sources` output for ``target``."""
    t = _bench_target(target)
    extra = {k: v for k, v in files.items() if k != "bench.c"}
    info = build_target(t, files["bench.c"], out_path, extra_sources=extra, timeout=timeout)
    return BuiltBenchmark(out_path, target, signature, info)


def run_benchmark(
    built: BuiltBenchmark | Path,
    *,
    target: str = "host",
    threads: int = 1,
    min_ms: float = 100.0,
    check_only: bool = False,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> BenchResult:
    """Run a benchmark program (``threads`` OpenMP threads, each partition timed for at least
    ``min_ms`` milliseconds). A program that needs an emulator runs only with ``check_only``.

    Raises :class:`BenchmarkMismatchError` when the partitions disagree and
    :class:`BenchmarkError` on any other failure (one line each)."""
    path = built.path if isinstance(built, BuiltBenchmark) else Path(built)
    target = built.target if isinstance(built, BuiltBenchmark) else target
    t = get_target(target)
    launcher = t.launcher()
    if launcher is None:
        raise BenchmarkError(f"no way to run a {target} benchmark on this machine")
    if launcher and not check_only:
        raise BenchmarkError(f"a {target} benchmark runs emulated here: correctness only "
                             "(check_only=True), never timed")
    cmd = [*launcher, str(path), "-t", str(int(threads)), "--min-ms", f"{min_ms:g}"]
    if check_only:
        cmd.append("--check")
    need = built.memory_bytes if isinstance(built, BuiltBenchmark) else 0
    limits = None if launcher else _limits(need, timeout, threads)
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                             env=_child_env(threads), preexec_fn=limits,
                             start_new_session=True)
    except subprocess.TimeoutExpired as e:
        raise BenchmarkError(f"benchmark ran over {timeout:g} s") from e
    except OSError as e:
        raise BenchmarkError(f"benchmark could not start: {e}") from e
    line = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""
    try:
        doc = json.loads(line) if line else {}
    except json.JSONDecodeError:
        doc = {}
    if res.returncode == MISMATCH_EXIT:
        raise BenchmarkMismatchError(
            f"fused and separate kernels differ at output {doc.get('output')} element "
            f"{doc.get('element')}: {doc.get('fused')} vs {doc.get('separate')}"
        )
    if res.returncode != 0 or not doc.get("ok"):
        err = (res.stderr.strip().splitlines() or [""])[-1][:300]
        raise BenchmarkError(
            f"benchmark failed (exit {res.returncode}): {err or doc.get('error', 'no output')}")
    return BenchResult(
        signature=doc["signature"],
        codegen_version=int(doc["codegen_version"]),
        threads=int(doc["threads"]),
        cpu=str(doc.get("cpu", "")),
        max_abs_diff=float(doc["max_abs_diff"]),
        fused_us=tuple(float(x) for x in doc["fused_us"]),
        separate_us=tuple(float(x) for x in doc["separate_us"]),
        check_only=bool(doc.get("check_only")),
    )


def _limits(need: int, timeout: float, threads: int):
    """preexec_fn of a native benchmark run: address space, CPU time, no core dumps."""
    address = 2 * need + GiB + (os.cpu_count() or 1) * 64 * 1024**2
    cpu = int(math.ceil(timeout * max(1, threads))) + 1

    def apply() -> None:  # runs in the child between fork and exec: setrlimit only
        resource.setrlimit(resource.RLIMIT_AS, (address, address))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _child_env(threads: int) -> dict:
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(max(1, int(threads)))
    return env
