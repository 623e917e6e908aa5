"""bench.roofline: a model's FLOPs and minimum bytes, and the bound they give."""

import numpy as np
from onnx import helper, numpy_helper, save

from bench.ablation import VARIANTS, variant_options
from bench.roofline import Machine, gemm_gflops, model_bounds


def test_bounds_of_a_matmul_and_bias_count_the_work_and_the_bytes(tmp_path):
    # x[8,64] @ w[64,32] + b[32] -> y[8,32]: 2*8*32*64 FLOPs of GEMM, 8*32 adds.
    w = numpy_helper.from_array(np.ones((64, 32), np.float32), "w")
    b = numpy_helper.from_array(np.ones(32, np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["y"])],
        "mm", [helper.make_tensor_value_info("x", 1, [8, 64])],
        [helper.make_tensor_value_info("y", 1, [8, 32])], [w, b])
    path = tmp_path / "mm.onnx"
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]), path)
    got = model_bounds(path, {})
    assert got.gemm_flops == 2 * 8 * 32 * 64
    assert got.flops == 2 * 8 * 32 * 64 + 8 * 32
    assert got.min_bytes == 4 * (8 * 64 + 64 * 32 + 32 + 8 * 32)  # x, w, b read; y written


def test_the_bound_is_the_slower_of_compute_and_memory():
    m = Machine(threads=1, gemm_gflops=100.0, copy_gbs=10.0)
    assert m.bound_ms(10**9, 10**6) == 10.0  # 1 GFLOP at 100 GFLOP/s; 1 MB would take 0.1 ms
    assert m.bound_ms(10**6, 10**9) == 100.0  # 1 GB at 10 GB/s


def test_the_measured_sgemm_rate_is_plausible():
    rate = gemm_gflops(threads=1, repeats=1)
    assert 1.0 < rate < 10_000.0


def test_ablation_variants_use_only_options_the_compiler_has():
    from compiler_core.options import OPTIONS

    assert variant_options("no fusion") == {k: v for k, v in VARIANTS["no fusion"].items()
                                            if k in OPTIONS}
    assert variant_options("no fusion")["fusion"] is False
    expect_beyond = {} if "beyond_floor" in OPTIONS else None
    assert variant_options("full + beyond floor") == expect_beyond


def test_roofline_loads_openblas_with_the_chosen_kernel_set():
    """Importing scipy_openblas32 loads OpenBLAS: bench.roofline must do it inside
    loading_openblas, or every model measured after it runs OpenBLAS's own pick."""
    import subprocess
    import sys

    code = ("from bench.roofline import _openblas; _openblas(); "
            "from compiler_core.target.blas import blas_status; print(blas_status()['how'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "already loaded" not in out.stdout, out.stdout
