"""Gemm (alpha * op(A) op(B) + beta * C) with its bias and epilogue on the sgemm's tiles.

Each graph is one block {Gemm, epilogue...}, checked against ONNX Runtime (rtol 1e-3,
atol 1e-4) on random inputs; the shapes pick each path of anchors/gemm.py's GemmAnchor: row
tiles over the threads (M >= N), column blocks (N > M, GPT-2's 128 x 768 @ 768 x 2304 in
small), one serial call (little work), a one-row GEMV head, transposed A and B, every
broadcast of C.
"""

from __future__ import annotations

import pytest

from tests.compiler_core.codegen.util import compile_and_check, model, node, vi, weight


def gemm_model(m, k, n, *, c_shape=(None,), ta=0, tb=0, alpha=1.0, beta=1.0, residual=True,
               relu=False):
    """``y = [Relu](Gemm(a, b, c) [+ r])`` with ``a`` [m, k] (stored [k, m] when ``ta``)."""
    c_shape = (n,) if c_shape == (None,) else c_shape
    a_shape = [k, m] if ta else [m, k]
    b_shape = [n, k] if tb else [k, n]
    ins = ["a", "b"] + (["c"] if c_shape is not None else [])
    nodes = [node("Gemm", ins, ["g"], transA=ta, transB=tb, alpha=alpha, beta=beta)]
    inputs = [vi("a", a_shape)]
    if residual:
        nodes.append(node("Add", [nodes[-1].output[0], "r"], ["s"]))
        inputs.append(vi("r", [m, n]))
    if relu:
        nodes.append(node("Relu", [nodes[-1].output[0]], ["z"]))
    nodes[-1].output[0] = "y"
    inits = [weight("b", b_shape, 1, scale=0.1)]
    if c_shape is not None:
        inits.append(weight("c", list(c_shape), 2))
    return model(nodes, inputs, [vi("y", [m, n])], inits)


def check(proto, tmp_path, *, residual=True, relu=False):
    """Compile and compare with ORT; the plan must be one block {Gemm, [Add], [Relu]}."""
    planned, _ = compile_and_check(proto, tmp_path)
    want = [["Gemm", *(["Add"] if residual else []), *(["Relu"] if relu else [])]]
    assert [b.ops for b in planned.plan.blocks] == want


def sgemm_betas(out_dir) -> list[str]:
    """The beta argument of every sgemm call in the artifact's C, or ``["packed"]`` when the
    GEMM reads its B packed at compile time (x86-64: one ``dnf_gemm_pb`` call writes Y, the
    bias, if any, starting its sums; anchors/gemm_packed.py)."""
    (art,) = [p for p in out_dir.iterdir() if p.name.startswith("art")]
    kernels = (art / "model.c").read_text().split("/* block 0", 1)[1]
    calls = kernels.split("scipy_cblas_sgemm(")[1:]
    if not calls and "dnf_gemm_pb(" in kernels:
        return ["packed"]
    return [c.split(";")[0].split(", ")[11] for c in calls]


ONE_CALL = (["0.0f"], ["packed"])  # one GEMM writes Y: no pass writing C into Y first


@pytest.mark.parametrize(
    ("m", "k", "n"),
    [
        (128, 64, 96),  # row tiles in parallel (N <= M)
        (32, 64, 384),  # column blocks (N > M), bias and residual on row tiles after
        (1, 256, 320),  # one row: a classifier head, column blocks
        (7, 5, 3),  # one serial call
    ],
)
def test_gemm_bias_and_residual_match_ort(m, k, n, tmp_path):
    p = gemm_model(m, k, n)
    check(p, tmp_path)
    # one GEMM writing Y (sgemm with beta 0, the bias added on its tiles; or the packed-B
    # kernel starting from the bias): no pass writing C into Y for a GEMM to accumulate into
    assert sgemm_betas(tmp_path) in ONE_CALL


@pytest.mark.parametrize("c_shape", [(1,), (96,), (128, 1), (128, 96), None, ()])
def test_gemm_bias_broadcasts(c_shape, tmp_path):
    p = gemm_model(128, 64, 96, c_shape=c_shape, alpha=0.5, beta=2.0, residual=False,
                   relu=True)
    check(p, tmp_path, residual=False, relu=True)


@pytest.mark.parametrize(("m", "n"), [(128, 96), (32, 384)])
@pytest.mark.parametrize("trans", [(1, 0), (0, 1), (1, 1)])
def test_gemm_transposed_operands_on_tiles(trans, m, n, tmp_path):
    ta, tb = trans
    p = gemm_model(m, 64, n, ta=ta, tb=tb, alpha=0.75, beta=-1.5)
    check(p, tmp_path)


def test_gemm_without_epilogue_or_bias(tmp_path):
    p = gemm_model(64, 128, 256, c_shape=None, residual=False)
    check(p, tmp_path, residual=False)
    assert sgemm_betas(tmp_path) in ONE_CALL
