"""GatherElements, ScatterElements, ScatterND against ONNX Runtime, their block structure,
and out-of-range indices: a clean run-time error, never a read or write outside a tensor."""

from __future__ import annotations

import numpy as np
import pytest

from compiler_core.errors import ModelRuntimeError
from compiler_core.runtime import InferenceSession
from tests.compiler_core.codegen.util import I64, model, node, vi
from tests.compiler_core.ops_coverage.util import check
from tests.helpers.ort import run_ort

RNG = np.random.default_rng(0)


def _gather_elements(axis):
    return model([node("Relu", ["x"], ["r"]),
                  node("GatherElements", ["r", "i"], ["g"], axis=axis),
                  node("Neg", ["g"], ["y"])],
                 [vi("x", [4, 5, 6]), vi("i", [4, 3, 6] if axis == 1 else [4, 5, 2], I64)],
                 [vi("y", [4, 3, 6] if axis == 1 else [4, 5, 2])])


@pytest.mark.parametrize("axis", [1, -1])
def test_gather_elements_fuses_with_elementwise(axis, tmp_path):
    proto = _gather_elements(axis)
    n = 5 if axis == 1 else 6
    shape = [4, 3, 6] if axis == 1 else [4, 5, 2]
    feeds = [{"x": RNG.standard_normal([4, 5, 6]).astype(np.float32),
              "i": RNG.integers(-n, n, shape).astype(np.int64)} for _ in range(3)]
    # One-to-Many index operator between One-to-One ones: one block, no buffer between
    check(proto, tmp_path, feeds, blocks=[["Relu", "GatherElements", "Neg"]])


def test_gather_elements_out_of_range_is_an_error(tmp_path):
    proto = _gather_elements(1)
    out = check(proto, tmp_path, [])
    x = RNG.standard_normal([4, 5, 6]).astype(np.float32)
    i = np.zeros([4, 3, 6], np.int64)
    i[3, 2, 5] = 5
    with InferenceSession(out) as sess:
        with pytest.raises(ModelRuntimeError, match="met an index out of range in block 0"):
            sess.run(None, {"x": x, "i": i})
        i[3, 2, 5] = -5  # in range again: the session still works
        got = sess.run(None, {"x": x, "i": i})[0]
    want = -np.take_along_axis(np.maximum(x, 0), i, axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def _scatter_elements(reduction, axis=1):
    return model([node("Relu", ["x"], ["r"]),
                  node("ScatterElements", ["r", "i", "u"], ["s"], axis=axis,
                       reduction=reduction),
                  node("Mul", ["s", "s"], ["y"])],
                 [vi("x", [3, 6]), vi("i", [3, 4], I64), vi("u", [3, 4])],
                 [vi("y", [3, 6])])


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
def test_scatter_elements_reductions(reduction, tmp_path):
    proto = _scatter_elements(reduction)
    feeds = []
    for _ in range(3):
        i = np.stack([RNG.permutation(6)[:4] - 6 * (k % 2) for k in range(3)]).astype(np.int64)
        if reduction != "none":
            i[:, 1] = i[:, 0]  # duplicates fold in order
        feeds.append({"x": RNG.standard_normal([3, 6]).astype(np.float32), "i": i,
                      "u": RNG.standard_normal([3, 4]).astype(np.float32)})
    # Many-to-Many anchor with its One-to-One prologue and epilogue: one block
    check(proto, tmp_path, feeds, blocks=[["Relu", "ScatterElements", "Mul"]])


@pytest.mark.parametrize("reduction", ["none", "add", "max"])
def test_scatter_nd(reduction, tmp_path):
    proto = model([node("ScatterND", ["x", "i", "u"], ["y"], reduction=reduction)],
                  [vi("x", [4, 4, 4]), vi("i", [3, 1], I64), vi("u", [3, 4, 4])],
                  [vi("y", [4, 4, 4])])
    rows = [[0], [2], [-1]] if reduction == "none" else [[0], [2], [0]]
    feeds = [{"x": RNG.standard_normal([4, 4, 4]).astype(np.float32),
              "i": np.array(rows, np.int64),
              "u": RNG.standard_normal([3, 4, 4]).astype(np.float32)}]
    check(proto, tmp_path, feeds, blocks=[["ScatterND"]])


@pytest.mark.parametrize("op", ["ScatterElements", "ScatterND"])
@pytest.mark.parametrize("bad", [4, -5, 2**40, -(2**62)])
def test_scatter_out_of_range_writes_nothing(op, bad, tmp_path):
    """An index outside [-n, n) (even one whose byte offset would wrap) fails the run with the
    index error, as ONNX Runtime fails it; its update is skipped (never written outside the
    output), and the session computes the next, valid run correctly."""
    if op == "ScatterElements":
        proto = model([node(op, ["x", "i", "u"], ["y"], axis=0), node("Neg", ["x"], ["z"])],
                      [vi("x", [4, 3]), vi("i", [1, 3], I64), vi("u", [1, 3])],
                      [vi("y", [4, 3]), vi("z", [4, 3])])
        i = np.array([[0, bad, 1]], np.int64)
    else:
        proto = model([node(op, ["x", "i", "u"], ["y"]), node("Neg", ["x"], ["z"])],
                      [vi("x", [4, 3]), vi("i", [2, 1], I64), vi("u", [2, 3])],
                      [vi("y", [4, 3]), vi("z", [4, 3])])
        i = np.array([[1], [bad]], np.int64)
    out = check(proto, tmp_path, [])
    x = RNG.standard_normal([4, 3]).astype(np.float32)
    u = np.full([1, 3] if op == "ScatterElements" else [2, 3], 7.0, np.float32)
    err = (r"met an index out of range in block \d \(GatherElements, ScatterElements or "
           r"ScatterND\)")
    with InferenceSession(out) as sess:
        with pytest.raises(ModelRuntimeError, match=err):
            sess.run(None, {"x": x, "i": i, "u": u})
        i[i == bad] = 2
        got = sess.run(None, {"x": x, "i": i, "u": u})
    want = run_ort(proto, {"x": x, "i": i, "u": u})
    np.testing.assert_array_equal(got[0], want["y"])
    np.testing.assert_array_equal(got[1], want["z"])


def test_scatter_nd_bad_updates_shape_is_refused(tmp_path):
    from compiler_core.compile import compile_model
    from compiler_core.errors import DnnFusionError

    proto = model([node("ScatterND", ["x", "i", "u"], ["y"])],
                  [vi("x", [4, 4]), vi("i", [2, 1], I64), vi("u", [2, 4])],
                  [vi("y", [4, 4])])
    proto.graph.input[2].type.tensor_type.shape.dim[1].dim_value = 9
    with pytest.raises(DnnFusionError):
        compile_model(proto, output_dir=tmp_path / "a")

