"""ArgMax/ArgMin, TopK, CumSum and Einsum against ONNX Runtime, with their block structure."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto

from tests.compiler_core.codegen.util import I64, const, model, node, vi
from tests.compiler_core.ops_coverage.util import check

I32 = TensorProto.INT32
RNG = np.random.default_rng(1)


def _floats(shape, ties=False):
    x = RNG.standard_normal(shape).astype(np.float32)
    return np.round(x) if ties else x


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("axis,keepdims,last", [(1, 1, 0), (-1, 0, 1), (0, 0, 0)])
def test_arg_max_min(op, axis, keepdims, last, tmp_path):
    shape = [3, 5, 4]
    out = list(shape)
    if keepdims:
        out[axis] = 1
    else:
        out.pop(axis)
    proto = model([node("Relu", ["x"], ["r"]),
                   node(op, ["r"], ["y"], axis=axis, keepdims=keepdims, select_last_index=last)],
                  [vi("x", shape)], [vi("y", out, I64)])
    feeds = [{"x": _floats(shape, ties=True)} for _ in range(3)]  # many ties
    check(proto, tmp_path, feeds, blocks=[["Relu", "ArgMax" if op == "ArgMax" else "ArgMin"]])


@pytest.mark.parametrize("largest", [1, 0])
@pytest.mark.parametrize("k,axis", [(3, -1), (1, 0), (7, 1)])
def test_topk(largest, k, axis, tmp_path):
    shape = [4, 7]
    out = list(shape)
    out[axis] = k
    proto = model([node("TopK", ["x", "k"], ["v", "i"], axis=axis, largest=largest),
                   node("Add", ["v", "v"], ["y"])],
                  [vi("x", shape)], [vi("y", out), vi("i", out, I64)],
                  [const("k", np.array([k], np.int64))])
    feeds = [{"x": _floats(shape, ties=t)} for t in (False, True, True)]
    check(proto, tmp_path, feeds, blocks=[["TopK", "Add"]])


def test_topk_k_larger_than_axis_is_refused(tmp_path):
    from compiler_core.compile import compile_model
    from compiler_core.errors import DnnFusionError

    proto = model([node("TopK", ["x", "k"], ["v", "i"])], [vi("x", [2, 3])],
                  [vi("v", [2, 3]), vi("i", [2, 3], I64)], [const("k", np.array([3]))])
    proto.graph.initializer[0].int64_data[:] = []
    proto.graph.initializer[0].raw_data = np.array([2**40], np.int64).tobytes()
    with pytest.raises(DnnFusionError):
        compile_model(proto, output_dir=tmp_path / "a")


@pytest.mark.parametrize("dtype", [TensorProto.FLOAT, I32, I64])
@pytest.mark.parametrize("exclusive,reverse", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_cumsum(dtype, exclusive, reverse, tmp_path):
    shape = [3, 8]
    proto = model([node("CumSum", ["x", "a"], ["y"], exclusive=exclusive, reverse=reverse)],
                  [vi("x", shape, dtype)], [vi("y", shape, dtype)],
                  [const("a", np.array(1, np.int64))])
    np_t = {TensorProto.FLOAT: np.float32, I32: np.int32, I64: np.int64}[dtype]
    big = np.iinfo(np_t).max // 3 if dtype != TensorProto.FLOAT else 10
    feeds = [{"x": RNG.integers(-big, big, shape).astype(np_t)} for _ in range(2)]
    check(proto, tmp_path, feeds, blocks=[["CumSum"]])


@pytest.mark.parametrize("eq,shapes,out", [
    ("ij,jk->ik", [[5, 6], [6, 4]], [5, 4]),           # matmul-like
    ("bij,bjk->bik", [[2, 5, 6], [2, 6, 4]], [2, 5, 4]),  # batched matmul
    ("ij->ji", [[3, 7]], [7, 3]),                      # transpose
    ("ij->i", [[3, 7]], [3]),                          # reduction
    ("i,j->ij", [[4], [5]], [4, 5]),                   # outer product
    ("i,i", [[6], [6]], []),                           # inner product (implicit output)
    ("...ii->...i", [[2, 3, 3]], [2, 3]),              # batched diagonal
    ("bhqd,bhkd->bhqk", [[1, 2, 3, 4], [1, 2, 5, 4]], [1, 2, 3, 5]),  # attention scores
])
def test_einsum(eq, shapes, out, tmp_path):
    names = [f"x{k}" for k in range(len(shapes))]
    proto = model([node("Einsum", names, ["y"], equation=eq)],
                  [vi(n, s) for n, s in zip(names, shapes, strict=True)], [vi("y", out)])
    feeds = [{n: _floats(s) for n, s in zip(names, shapes, strict=True)} for _ in range(2)]
    check(proto, tmp_path, feeds, blocks=[["Einsum"]])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_hardmax(axis, tmp_path):
    shape = [3, 4, 5]
    proto = model([node("Relu", ["x"], ["r"]), node("Hardmax", ["r"], ["y"], axis=axis)],
                  [vi("x", shape)], [vi("y", shape)])
    feeds = [{"x": _floats(shape, ties=t)} for t in (False, True)]
    check(proto, tmp_path, feeds, blocks=[["Relu", "Hardmax"]])
