"""The element-wise rows added for coverage (trigonometry, activations, IsInf, integer Pow)
and the position operators (Trilu, Tile, EyeLike) against ONNX Runtime, fused as one block;
Range's derived size checked before memory is spent."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from compiler_core.compile import compile_model
from compiler_core.errors import ResourceLimitError, ShapeError
from tests.compiler_core.codegen.util import I64, const, model, node, vi
from tests.compiler_core.ops_coverage.util import check

I32 = TensorProto.INT32
RNG = np.random.default_rng(2)


@pytest.mark.parametrize("op,attrs,lo,hi", [
    ("Acos", {}, -1, 1), ("Asin", {}, -1, 1), ("Atanh", {}, -0.99, 0.99),
    ("Acosh", {}, 1, 5), ("Asinh", {}, -5, 5), ("Cosh", {}, -5, 5), ("Sinh", {}, -5, 5),
    ("Selu", {"alpha": 2.0, "gamma": 3.0}, -3, 3), ("Celu", {"alpha": 0.5}, -3, 3),
    ("Shrink", {"lambd": 0.7, "bias": 0.2}, -2, 2), ("ThresholdedRelu", {"alpha": 0.4}, -2, 2),
    ("Mish", {}, -20, 20),
])
def test_unary_fused_with_relu_and_add(op, attrs, lo, hi, tmp_path):
    shape = [4, 33]
    proto = model([node(op, ["x"], ["a"], **attrs), node("Add", ["a", "x"], ["y"])],
                  [vi("x", shape)], [vi("y", shape)])
    feeds = [{"x": RNG.uniform(lo, hi, shape).astype(np.float32)} for _ in range(2)]
    check(proto, tmp_path, feeds, blocks=[[op, "Add"]])


@pytest.mark.parametrize("neg,pos", [(1, 1), (0, 1), (1, 0)])
def test_isinf(neg, pos, tmp_path):
    proto = model([node("IsInf", ["x"], ["y"], detect_negative=neg, detect_positive=pos)],
                  [vi("x", [6])], [vi("y", [6], TensorProto.BOOL)])
    x = np.array([np.inf, -np.inf, np.nan, 0.0, 1e38, -1.0], np.float32)
    check(proto, tmp_path, [{"x": x}], blocks=[["IsInf"]])


@pytest.mark.parametrize("base_t,exp_t", [(I32, I32), (I64, I64), (I32, TensorProto.FLOAT),
                                          (I64, TensorProto.FLOAT)])
def test_integer_pow(base_t, exp_t, tmp_path):
    shape = [3, 10]
    proto = model([node("Pow", ["a", "b"], ["y"])], [vi("a", shape, base_t), vi("b", shape, exp_t)],
                  [vi("y", shape, base_t)])
    np_b = {I32: np.int32, I64: np.int64}[base_t]
    np_e = {I32: np.int32, I64: np.int64, TensorProto.FLOAT: np.float32}[exp_t]
    feeds = [{"a": RNG.integers(-6, 7, shape).astype(np_b),
              "b": RNG.integers(0, 9, shape).astype(np_e)} for _ in range(2)]
    check(proto, tmp_path, feeds, blocks=[["Pow"]])


@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [-2, 0, 3, 10**12])
def test_trilu_constant_k(upper, k, tmp_path):
    proto = model([node("Relu", ["x"], ["r"]), node("Trilu", ["r", "k"], ["y"], upper=upper)],
                  [vi("x", [2, 4, 5])], [vi("y", [2, 4, 5])], [const("k", np.array(k, np.int64))])
    check(proto, tmp_path, [{"x": RNG.standard_normal([2, 4, 5]).astype(np.float32)}],
          blocks=[["Relu", "Trilu"]])


def test_trilu_runtime_k(tmp_path):
    proto = model([node("Trilu", ["x", "k"], ["y"], upper=0)],
                  [vi("x", [5, 4], I64), vi("k", [], I64)], [vi("y", [5, 4], I64)])
    feeds = [{"x": RNG.integers(-9, 9, [5, 4]).astype(np.int64), "k": np.array(k, np.int64)}
             for k in (-3, 0, 2, -(2**62))]
    check(proto, tmp_path, feeds, blocks=[["Trilu"]])


def test_tile_and_eyelike(tmp_path):
    proto = model([node("Tile", ["x", "r"], ["t"]), node("EyeLike", ["t"], ["e"], k=1),
                   node("Add", ["t", "e"], ["y"])],
                  [vi("x", [2, 3])], [vi("y", [6, 6])], [const("r", np.array([3, 2], np.int64))])
    check(proto, tmp_path, [{"x": RNG.standard_normal([2, 3]).astype(np.float32)}],
          blocks=[["Tile", "EyeLike", "Add"]])


def _range_model(limit: float, delta: float = 1.0):
    inits = [onnx.numpy_helper.from_array(np.array(v, np.float32), n)
             for n, v in (("s", 0.0), ("l", limit), ("d", delta))]
    g = helper.make_graph([node("Range", ["s", "l", "d"], ["r"]), node("Add", ["r", "x"], ["y"])],
                          "g", [vi("x", [1])], [vi("y", ["n"])], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    m.ir_version = 10
    return m


def test_range_count_checked_before_inference(tmp_path):
    with pytest.raises(ResourceLimitError, match="Range.*999999995904 elements"):
        compile_model(_range_model(1e12), output_dir=tmp_path / "a")
    with pytest.raises(ShapeError, match="delta is 0"):
        compile_model(_range_model(5.0, 0.0), output_dir=tmp_path / "b")


def test_constant_range_folds_and_runs(tmp_path):
    out = compile_model(_range_model(7.0, 2.0), output_dir=tmp_path / "c")
    from compiler_core.runtime import InferenceSession

    with InferenceSession(out) as sess:
        got = sess.run(None, {"x": np.array([1.5], np.float32)})[0]
    np.testing.assert_array_equal(got, np.array([1.5, 3.5, 5.5, 7.5], np.float32))


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_to_space_and_back_fuse_as_index_arithmetic(mode, tmp_path):
    proto = model([node("Relu", ["x"], ["r"]),
                   node("DepthToSpace", ["r"], ["d"], blocksize=2, mode=mode),
                   node("SpaceToDepth", ["d"], ["s"], blocksize=2),
                   node("Add", ["s", "x"], ["y"])],
                  [vi("x", [2, 8, 3, 5])], [vi("y", [2, 8, 3, 5])])
    feeds = [{"x": RNG.standard_normal([2, 8, 3, 5]).astype(np.float32)} for _ in range(2)]
    check(proto, tmp_path, feeds, blocks=[["Relu", "DepthToSpace", "SpaceToDepth", "Add"]])


@pytest.mark.parametrize("dtype", [TensorProto.FLOAT, I64, I32])  # ORT has no bool Where
def test_where_broadcasts_every_operand(dtype, tmp_path):
    proto = model([node("Where", ["c", "a", "b"], ["w"]), node("Equal", ["w", "b"], ["y"])],
                  [vi("c", [3, 1], TensorProto.BOOL), vi("a", [1, 4], dtype),
                   vi("b", [2, 3, 4], dtype)],
                  [vi("y", [2, 3, 4], TensorProto.BOOL), vi("w", [2, 3, 4], dtype)])
    np_t = {TensorProto.FLOAT: np.float32, I64: np.int64, I32: np.int32}[dtype]
    feeds = [{"c": RNG.random([3, 1]) < 0.5,
              "a": RNG.integers(0, 2, [1, 4]).astype(np_t),
              "b": RNG.integers(0, 2, [2, 3, 4]).astype(np_t)} for _ in range(3)]
    check(proto, tmp_path, feeds, blocks=[["Where", "Equal"]])
