"""CNN classifier heads: GlobalAveragePool -> Flatten -> Gemm (column tiles over threads)."""

from __future__ import annotations

import pytest

from tests.compiler_core.codegen.util import compile_and_check, model, node, vi, weight


@pytest.mark.parametrize("trans_b", [0, 1])
def test_gap_flatten_gemm_head(trans_b, tmp_path):
    b_shape = [300, 256] if trans_b else [256, 300]
    nodes = [
        node("GlobalAveragePool", ["x"], ["g"]),
        node("Flatten", ["g"], ["f"], axis=1),
        node("Gemm", ["f", "w", "b"], ["z"], transB=trans_b, beta=0.5),
        node("Softmax", ["z"], ["y"], axis=1),
    ]
    p = model(nodes, [vi("x", [2, 256, 3, 3])], [vi("y", [2, 300])],
              [weight("w", b_shape, 1, 0.1), weight("b", [300], 2)])
    planned, out = compile_and_check(
        p, tmp_path, blocks=[["GlobalAveragePool", "Flatten"], ["Gemm"], ["Softmax"]])
    src = (out / "model.c").read_text()
    # the Gemm's column blocks shared by the threads of one parallel region
    assert "#pragma omp parallel\n" in src and "#pragma omp for" in src
