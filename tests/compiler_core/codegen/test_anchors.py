"""Many-to-Many anchors (GEMM via OpenBLAS, reductions, Softmax, LayerNorm) with fused
prologues and epilogues."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from tests.compiler_core.codegen.util import (
    compile_and_check,
    const,
    gemm_calls,
    model,
    node,
    vi,
    weight,
)

pytestmark = pytest.mark.slow  # the anchor x epilogue matrix compiled and compared


def test_matmul_bias_gelu_one_block(tmp_path):
    nodes = [
        node("MatMul", ["x", "w"], ["m"]),
        node("Add", ["m", "b"], ["a"]),
        node("Gelu", ["a"], ["y"]),
    ]
    p = model(nodes, [vi("x", [1, 128, 64])], [vi("y", [1, 128, 96])],
              [weight("w", [64, 96], 1, 0.2), weight("b", [96], 2)])
    planned, out = compile_and_check(p, tmp_path, blocks=1)
    src = (out / "model.c").read_text()
    assert gemm_calls(src) == 1
    assert "erff(" in src


def test_matmul_large_rows_tiled_epilogue(tmp_path):
    nodes = [node("MatMul", ["x", "w"], ["m"]), node("Relu", ["m"], ["y"])]
    p = model(nodes, [vi("x", [4, 300, 32])], [vi("y", [4, 300, 48])],
              [weight("w", [32, 48], 3, 0.3)])
    compile_and_check(p, tmp_path, blocks=1)


@pytest.mark.parametrize("transposed", [False, True])
def test_matmul_column_split_with_epilogue(transposed, tmp_path):
    """Weights wider than the rows (BERT's projections): one column block per thread (200
    columns: blocks of 112 and 88 on 2 threads), bias + Gelu epilogue on row tiles after the
    barrier; transposed: B = Transpose(wt) of a graph input, read as transB."""
    nodes = [node("MatMul", ["x", "wt2" if transposed else "w"], ["m"]),
             node("Add", ["m", "b"], ["a"]), node("Gelu", ["a"], ["y"])]
    inputs = [vi("x", [2, 10, 64])]
    inits = [weight("b", [200], 6)]
    if transposed:
        nodes.insert(0, node("Transpose", ["wt"], ["wt2"], perm=[1, 0]))
        inputs.append(vi("wt", [200, 64]))
    else:
        inits.append(weight("w", [64, 200], 5, 0.2))
    p = model(nodes, inputs, [vi("y", [2, 10, 200])], inits)
    planned, out = compile_and_check(p, tmp_path, blocks=1)
    src = (out / "model.c").read_text()
    assert gemm_calls(src) == 1
    assert ("CblasTrans" in src) == transposed
    if "dnf_gemm_pb(" in src.split("\n/* block ", 1)[1]:  # constant B, packed (x86-64)
        assert not transposed
        assert "omp_get_num_threads() * 32" in src  # column blocks of whole 32-column strips
    else:
        assert "omp_get_num_threads() + 15) / 16 * 16" in src  # the column blocks


def test_batched_matmul_attention_shaped(tmp_path):
    nodes = [
        node("MatMul", ["q", "k"], ["s"]),
        node("Mul", ["s", "scale"], ["y"]),
    ]
    p = model(nodes, [vi("q", [1, 12, 128, 64]), vi("k", [1, 12, 64, 128])],
              [vi("y", [1, 12, 128, 128])], [const("scale", np.float32(0.125))])
    compile_and_check(p, tmp_path, blocks=1)


def test_batched_matmul_broadcast_and_transposed_operand(tmp_path):
    # B = Transpose(k) of its last two axes -> transB; A batch broadcast [3,1,...] x [1,2,...].
    nodes = [
        node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
        node("MatMul", ["q", "kt"], ["y"]),
    ]
    p = model(nodes, [vi("q", [3, 1, 5, 8]), vi("k", [1, 2, 6, 8])], [vi("y", [3, 2, 5, 6])])
    planned, out = compile_and_check(p, tmp_path, blocks=1)
    assert "CblasTrans" in (out / "model.c").read_text()


def test_matmul_prologue_is_packed(tmp_path):
    nodes = [node("Relu", ["x"], ["r"]), node("MatMul", ["r", "w"], ["y"])]
    p = model(nodes, [vi("x", [7, 9])], [vi("y", [7, 5])], [weight("w", [9, 5], 4)])
    compile_and_check(p, tmp_path, blocks=1)


def test_matmul_vector_operands(tmp_path):
    p = model([node("MatMul", ["x", "w"], ["y"])], [vi("x", [2, 3, 9])], [vi("y", [2, 3])],
              [weight("w", [9], 5)])
    compile_and_check(p, tmp_path, blocks=1)


@pytest.mark.parametrize("trans", [(0, 1), (1, 0)])
def test_gemm(trans, tmp_path):
    ta, tb = trans
    a_shape = [16, 10] if ta else [10, 16]
    b_shape = [12, 16] if tb else [16, 12]
    nodes = [node("Gemm", ["a", "b", "c"], ["g"], transA=ta, transB=tb, alpha=0.5, beta=2.0),
             node("Relu", ["g"], ["y"])]
    p = model(nodes, [vi("a", a_shape)], [vi("y", [10, 12])],
              [weight("b", b_shape, 1), weight("c", [12], 2)])
    compile_and_check(p, tmp_path, blocks=1)


@pytest.mark.parametrize("axis", [-1, 1])
def test_softmax(axis, tmp_path):
    nodes = [node("Mul", ["x", "k"], ["m"]), node("Softmax", ["m"], ["y"], axis=axis)]
    p = model(nodes, [vi("x", [2, 6, 33])], [vi("y", [2, 6, 33])],
              [const("k", np.float32(3.0))])
    compile_and_check(p, tmp_path, blocks=1)


def test_layernorm_with_residual_prologue(tmp_path):
    nodes = [
        node("Add", ["x", "r"], ["a"]),
        node("LayerNormalization", ["a", "g", "b"], ["y"], axis=-1, epsilon=1e-5),
    ]
    p = model(nodes, [vi("x", [2, 10, 48]), vi("r", [2, 10, 48])], [vi("y", [2, 10, 48])],
              [weight("g", [48], 1), weight("b", [48], 2)])
    compile_and_check(p, tmp_path, blocks=1)


@pytest.mark.parametrize(
    ("op", "axes", "keep"),
    [("ReduceMean", [-1], 1), ("ReduceSum", [0, 2], 0), ("ReduceMax", [1], 1),
     ("ReduceMean", None, 0), ("ReduceMin", [1, 2], 1)],
)
def test_reductions(op, axes, keep, tmp_path):
    x_shape = [3, 4, 5]
    inputs = ["x"] if axes is None else ["x", "axes"]
    inits = [] if axes is None else [const("axes", np.array(axes, np.int64))]
    red = set(range(3)) if axes is None else {a % 3 for a in axes}
    out_shape = [1 if a in red else d for a, d in enumerate(x_shape) if keep or a not in red]
    nodes = [node("Exp", ["x"], ["e"]), node(op, inputs[:1] and ["e", *inputs[1:]], ["y"],
                                             keepdims=keep)]
    p = model(nodes, [vi("x", x_shape)], [vi("y", out_shape)], inits)
    compile_and_check(p, tmp_path, blocks=1)


def test_bert_like_attention_layer(tmp_path):
    """Self-attention + output projection + residual + LayerNorm, end to end."""
    s, h, nh = 16, 32, 4
    dh = h // nh
    hs = np.array([1, s, nh, dh], np.int64)
    nodes = [
        node("MatMul", ["x", "wq"], ["q0"]), node("Add", ["q0", "bq"], ["q1"]),
        node("Reshape", ["q1", "hs"], ["q2"]), node("Transpose", ["q2"], ["q"], perm=[0, 2, 1, 3]),
        node("MatMul", ["x", "wk"], ["k0"]), node("Add", ["k0", "bk"], ["k1"]),
        node("Reshape", ["k1", "hs"], ["k2"]), node("Transpose", ["k2"], ["kt"], perm=[0, 2, 3, 1]),
        node("MatMul", ["x", "wv"], ["v0"]), node("Add", ["v0", "bv"], ["v1"]),
        node("Reshape", ["v1", "hs"], ["v2"]), node("Transpose", ["v2"], ["v"], perm=[0, 2, 1, 3]),
        node("MatMul", ["q", "kt"], ["sc0"]), node("Div", ["sc0", "sqrt_d"], ["sc1"]),
        node("Add", ["sc1", "mask"], ["sc2"]),
        node("Softmax", ["sc2"], ["p"], axis=-1),
        node("MatMul", ["p", "v"], ["ctx0"]),
        node("Transpose", ["ctx0"], ["ctx1"], perm=[0, 2, 1, 3]),
        node("Reshape", ["ctx1", "hs2"], ["ctx"]),
        node("MatMul", ["ctx", "wo"], ["o0"]), node("Add", ["o0", "bo"], ["o1"]),
        node("Add", ["o1", "x"], ["o2"]),
        node("LayerNormalization", ["o2", "ln_g", "ln_b"], ["y"], axis=-1),
    ]
    inits = [
        weight("wq", [h, h], 1, 0.2), weight("bq", [h], 2), weight("wk", [h, h], 3, 0.2),
        weight("bk", [h], 4), weight("wv", [h, h], 5, 0.2), weight("bv", [h], 6),
        weight("wo", [h, h], 7, 0.2), weight("bo", [h], 8), weight("ln_g", [h], 9),
        weight("ln_b", [h], 10), const("hs", hs), const("hs2", np.array([1, s, h], np.int64)),
        const("sqrt_d", np.float32(np.sqrt(dh))),
    ]
    p = model(nodes, [vi("x", [1, s, h]), vi("mask", [1, 1, 1, s])], [vi("y", [1, s, h])],
              inits)
    qkv = ["Reshape", "Transpose"] * 3
    planned, out = compile_and_check(p, tmp_path, blocks=[
        ["MatMul", "Add"] * 3,  # Q, K, V: one horizontal GEMM
        [*qkv, "MatMul", "Div", "Add", "Softmax", "MatMul", "Transpose", "Reshape"],
        ["MatMul", "Add", "Add"],
        ["LayerNormalization"]])
    report = json.loads((out / "report.json").read_text())
    # 6 GEMMs + Softmax + LayerNorm anchor 8 blocks at most; everything else fuses into them.
    assert report["fused_blocks"] <= 8, [b["ops"] for b in report["blocks"]]
    assert report["arena_bytes"] <= report["arena_bytes_without_reuse"]


@pytest.mark.parametrize(
    ("op", "axes", "loop", "x_shape"),
    [("ReduceMean", [1, 2, 3], 4 * 13 * 11, [2, 4, 13, 11]),
     ("ReduceMax", [2, 3], 13 * 11, [2, 4, 13, 11]),
     ("GlobalAveragePool", None, 13 * 11, [2, 4, 13, 11]),
     ("ReduceSum", [1, 2], None, [2, 4, 13, 11]),
     # last axes of one element (fuzz: GlobalMaxPool of [1, 2, 6, 1] read the first row 6
     # times when the loop ran on the width, an axis of one element read as a broadcast)
     ("GlobalMaxPool", None, None, [1, 2, 6, 1]),
     ("ReduceMean", [1, 2, 3], 4 * 13, [2, 4, 13, 1])],
)
def test_trailing_reductions_of_a_plain_buffer_are_one_loop(op, axes, loop, x_shape, tmp_path):
    """Reduced axes that end X (a graph input: no prologue) are one loop over their
    contiguous elements; others (and a single axis of more than one element) keep a loop per
    axis."""
    red = set(range(2, 4)) if axes is None else set(axes)
    out_shape = [1 if a in red else d for a, d in enumerate(x_shape)]
    inputs, inits = ["x"], []
    if axes is not None:
        inputs.append("axes")
        inits.append(const("axes", np.array(axes, np.int64)))
    p = model([node(op, inputs, ["y"])], [vi("x", x_shape)], [vi("y", out_shape)], inits)
    _, out = compile_and_check(p, tmp_path, blocks=1)
    body = (out / "model.c").read_text().split("/* block 0", 1)[1]
    bounds = {int(b) for b in re.findall(r"< (\d+); \+\+i\d+\)", body)}
    if loop is None:
        assert {x_shape[a] for a in red} - {1} <= bounds
    else:
        assert loop in bounds and 13 not in bounds and 11 not in bounds
