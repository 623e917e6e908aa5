"""Index operators fused between element-wise operators: one block, no intermediate buffer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.compiler_core.codegen.util import I64, compile_and_check, const, model, node, vi


def _arena(out) -> int:
    return json.loads((out / "report.json").read_text())["arena_bytes"]


def test_transpose_reshape_relu_one_block_no_buffer(tmp_path):
    nodes = [
        node("Add", ["x", "b"], ["a"]),
        node("Transpose", ["a"], ["t"], perm=[0, 2, 1, 3]),
        node("Reshape", ["t", "shape"], ["r"]),
        node("Relu", ["r"], ["y"]),
    ]
    inits = [const("b", np.float32(0.25)), const("shape", np.array([1, 16, 96], np.int64))]
    p = model(nodes, [vi("x", [1, 12, 16, 8])], [vi("y", [1, 16, 96])], inits)
    planned, out = compile_and_check(p, tmp_path, blocks=1)
    assert _arena(out) == 0


@pytest.mark.parametrize(
    ("op", "extra", "attrs", "out_shape"),
    [
        ("Flatten", [], {"axis": 2}, [2, 60]),
        ("Squeeze", [("ax", np.array([1], np.int64))], {}, [2, 3, 4, 5]),
        ("Unsqueeze", [("ax", np.array([0, 3], np.int64))], {}, [1, 2, 1, 1, 3, 4, 5]),
        ("Transpose", [], {"perm": [3, 1, 0, 2, 4]}, [4, 1, 2, 3, 5]),
        ("Slice", [("st", np.array([1, 4], np.int64)), ("en", np.array([3, 0], np.int64)),
                   ("ax", np.array([2, 4], np.int64)), ("sp", np.array([1, -2], np.int64))],
         {}, [2, 1, 2, 4, 2]),
        ("Expand", [("sh", np.array([3, 2, 1, 3, 4, 5], np.int64))], {}, [3, 2, 1, 3, 4, 5]),
    ],
)
def test_index_op_between_elementwise(op, extra, attrs, out_shape, tmp_path):
    nodes = [
        node("Mul", ["x", "k"], ["a"]),
        node(op, ["a", *[n for n, _ in extra]], ["b"], **attrs),
        node("Sigmoid", ["b"], ["y"]),
    ]
    inits = [const("k", np.float32(1.5)), *[const(n, v) for n, v in extra]]
    p = model(nodes, [vi("x", [2, 1, 3, 4, 5])], [vi("y", out_shape)], inits)
    planned, out = compile_and_check(p, tmp_path, blocks=1)
    assert _arena(out) == 0


def test_concat_split(tmp_path):
    nodes = [
        node("Relu", ["x"], ["a"]),
        node("Exp", ["z"], ["e"]),
        node("Concat", ["a", "e", "a"], ["c"], axis=1),
        node("Neg", ["c"], ["n"]),
        node("Split", ["n", "sp"], ["s0", "s1"], axis=1),
        node("Abs", ["s0"], ["y0"]),
        node("Tanh", ["s1"], ["y1"]),
    ]
    p = model(
        nodes,
        [vi("x", [2, 3, 4]), vi("z", [2, 5, 4])],
        [vi("y0", [2, 4, 4]), vi("y1", [2, 7, 4])],
        [const("sp", np.array([4, 7], np.int64))],
    )
    planned, out = compile_and_check(p, tmp_path, blocks=1)
    assert _arena(out) == 0


def test_gather_embedding_and_constant_index(tmp_path):
    rng = np.random.default_rng(1)
    table = rng.standard_normal((50, 16)).astype(np.float32)
    nodes = [
        node("Gather", ["emb", "ids"], ["e"], axis=0),
        node("Mul", ["e", "k"], ["m"]),
        node("Gather", ["m", "one"], ["g"], axis=1),  # scalar index: drops the axis
        node("Relu", ["g"], ["y"]),
    ]
    inits = [const("emb", table), const("k", np.float32(2.0)),
             const("one", np.array(3, np.int64))]
    p = model(nodes, [vi("ids", [2, 7], I64)], [vi("y", [2, 16])], inits)

    def feeds(seed):
        ids = np.random.default_rng(seed).integers(-50, 50, (2, 7)).astype(np.int64)
        return {"ids": ids}

    compile_and_check(p, tmp_path, feeds=feeds, blocks=1)


@pytest.mark.parametrize("batch_dims", [0, 1])
def test_gather_nd(batch_dims, tmp_path):
    rng = np.random.default_rng(0)
    if batch_dims == 0:  # the attention-mask pattern of exported BERT models
        ind = np.stack(np.meshgrid(np.zeros(1), np.arange(6), indexing="ij"), -1)
        ind = ind.reshape(1, 1, 1, 6, 2).astype(np.int64)
        data_shape, out_shape = [2, 6], [1, 1, 1, 6]
    else:
        ind = rng.integers(-3, 3, (2, 4, 1)).astype(np.int64)
        data_shape, out_shape = [2, 3, 5], [2, 4, 5]
    nodes = [node("Exp", ["x"], ["e"]),
             node("GatherND", ["e", "ind"], ["g"], batch_dims=batch_dims),
             node("Neg", ["g"], ["y"])]
    p = model(nodes, [vi("x", data_shape)], [vi("y", out_shape)], [const("ind", ind)])
    compile_and_check(p, tmp_path, blocks=1)
