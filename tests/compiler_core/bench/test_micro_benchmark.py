"""Fusion micro-benchmarks: signature, one program with both partitions, host and arm64."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from onnx import numpy_helper

from compiler_core.bench import signature as sigmod
from compiler_core.bench.candidate import extract_candidate
from compiler_core.bench.program import benchmark_sources
from compiler_core.bench.run import (
    BenchmarkMismatchError,
    build_benchmark,
    build_sources,
    generate_partitions,
    run_benchmark,
)
from compiler_core.bench.signature import fusion_signature
from compiler_core.target.targets import TARGETS
from tests.compiler_core.planner.graphs import make_ecg, node, tensor, weight


def _ecg(rows=16, act="Relu"):
    # MatMul -> act -> Reshape: Many-to-Many then Reorganize, a "profile" cell of Table 3.
    return make_ecg(
        [
            node("MatMul", ["x", "w"], ["mm"]),
            node(act, ["mm"], ["r"]),
            node("Reshape", ["r", "shape"], ["out"]),
        ],
        [tensor("x", (rows, 32))],
        [tensor("out", (rows * 32,))],
        [weight("w", (32, 32)), numpy_helper.from_array(np.array([rows * 32], np.int64), "shape")],
    )


def test_signature_names_ops_mapping_and_changes_with_shape_threads_version(monkeypatch):
    a = fusion_signature(_ecg(16), [0], [1, 2], threads=1)
    assert (a.ops, a.mapping, a.dtype, a.threads) == ("MatMul | Relu+Reshape",
                                                       "M2M | O2O+Reorg", "float32", 1)
    assert a.key == fusion_signature(_ecg(16), [0], [1, 2], threads=1).key  # stable
    b = fusion_signature(_ecg(32), [0], [1, 2], threads=1)
    assert b.key != a.key and b.structure_key == a.structure_key  # shapes only
    assert (16, 32) in a.shapes and (32, 32) in b.shapes
    assert fusion_signature(_ecg(16), [0], [1, 2], threads=2).key != a.key
    assert fusion_signature(_ecg(16, "Sigmoid"), [0], [1, 2], 1).structure_key != a.structure_key
    monkeypatch.setattr(sigmod, "CODEGEN_VERSION", sigmod.CODEGEN_VERSION + 1)
    assert fusion_signature(_ecg(16), [0], [1, 2], threads=1).key != a.key


def test_candidate_is_a_model_of_its_own_without_model_names():
    cand = extract_candidate(_ecg(), [0], [1, 2])
    assert [n.op_type for n in cand.ecg.nodes] == ["MatMul", "Relu", "Reshape"]
    assert (cand.first, cand.second) == ([0], [1, 2])
    names = {v.name for n in cand.ecg.nodes for v in [*n.inputs, *n.outputs]}
    assert names <= {f"t{i}" for i in range(10)}
    assert len(cand.partition(fused=True).members) == 1
    assert len(cand.partition(fused=False).members) == 2


def test_host_benchmark_times_both_partitions(tmp_path):
    built = build_benchmark(_ecg(), [0], [1, 2], tmp_path / "bench.run", threads=1)
    res = run_benchmark(built, threads=1, min_ms=5)
    assert res.signature == built.signature.key
    assert res.threads == 1 and not res.check_only
    assert len(res.fused_us) >= 10 and len(res.separate_us) >= 10
    assert min(res.fused_us) > 0 and min(res.separate_us) > 0
    assert sum(res.fused_us) >= 5000 and sum(res.separate_us) >= 5000  # min measuring time
    assert res.max_abs_diff <= 1e-4


def test_a_wrong_fused_kernel_is_caught_before_timing(tmp_path):
    # The "fused" side computes Sigmoid where the separate side computes Relu: same inputs,
    # outputs and shapes, different values. The program must refuse to time it.
    good = extract_candidate(_ecg(act="Relu"), [0], [1, 2])
    wrong = extract_candidate(_ecg(act="Sigmoid"), [0], [1, 2])
    _, separate = generate_partitions(good)
    fused, _ = generate_partitions(wrong)
    sig = fusion_signature(_ecg(), [0], [1, 2], threads=1)
    built = build_sources(benchmark_sources(fused, separate, sig.key), tmp_path / "bad.run",
                          target="host", signature=sig)
    with pytest.raises(BenchmarkMismatchError, match="differ at output 0"):
        run_benchmark(built, threads=1, min_ms=5)


ARM = TARGETS["linux-arm64"]


def test_arm64_benchmark_is_static_and_correct_under_qemu(tmp_path):
    assert ARM.launcher() is not None, "no qemu-aarch64: run scripts/setup-apt.sh"
    built = build_benchmark(_ecg(), [0], [1, 2], tmp_path / "bench.run",
                            target="linux-arm64", threads=1)
    data = built.path.read_bytes()
    assert data[:4] == b"\x7fELF" and int.from_bytes(data[18:20], "little") == 183  # aarch64
    assert int.from_bytes(data[16:18], "little") == 2  # ET_EXEC: static, not a PIE
    res = run_benchmark(built, threads=1, check_only=True)
    assert res.check_only and res.fused_us == () and res.max_abs_diff <= 1e-4
    if ARM.launcher():  # emulated here: timing is refused
        with pytest.raises(Exception, match="correctness only"):
            run_benchmark(built, threads=1)
    assert dataclasses.asdict(res)["signature"] == built.signature.key


def test_a_candidate_over_the_memory_limit_is_refused_before_building(tmp_path, monkeypatch):
    from compiler_core.errors import ResourceLimitError

    monkeypatch.setenv("DNNFUSION_BENCH_MEMORY_LIMIT_BYTES", "4096")  # the weights alone: 4 KiB
    with pytest.raises(ResourceLimitError, match="over the limit of 4096"):
        build_benchmark(_ecg(), [0], [1, 2], tmp_path / "bench.run", threads=1)
    assert not (tmp_path / "bench.run").exists()
