"""The bugs the fuzzers found, as small hand-written models (the saved inputs themselves are
replayed by test_regressions.py)."""

from __future__ import annotations

import shutil

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper

from compiler_core.compile import compile_model
from compiler_core.runtime import InferenceSession
from compiler_core.runtime.validate import ort_session
from fuzz.case import Case
from fuzz.checks import Uploader
from fuzz.child import Runner
from fuzz.seeds import SEEDS


def _model(nodes, inputs, outputs, opset=20) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "bug", inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                             ir_version=10)


def _same_as_ort(model: onnx.ModelProto, feeds: dict, tmp_path) -> None:
    out = compile_model(model, output_dir=tmp_path / "artifact", options={"validate": False})
    names = [o.name for o in model.graph.output]
    ours = InferenceSession(out, threads=1).run(names, feeds)
    ref = ort_session(model, optimize=False, threads=1).run(names, feeds)
    for got, want in zip(ours, ref, strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


def test_cast_float_to_bool_is_nonzero(tmp_path):
    """Cast(to=BOOL) of 0.5 is True (was a C cast through int: 0.5 -> False)."""
    model = _model([helper.make_node("Cast", ["x"], ["y"], to=T.BOOL)],
                   [helper.make_tensor_value_info("x", T.FLOAT, [6])],
                   [helper.make_tensor_value_info("y", T.BOOL, [6])])
    x = np.array([0.5, -0.25, 0.0, 2.0, -0.0, 1e-30], np.float32)
    _same_as_ort(model, {"x": x}, tmp_path)


@pytest.mark.parametrize("k,n", [(1, 1), (3, 4), (70, 130)])
def test_vector_times_matrix_with_an_epilogue(tmp_path, k, n):
    """MatMul of a 1-D A (rank-1 output) fused with Relu (was an AssertionError in codegen)."""
    model = _model([helper.make_node("MatMul", ["a", "b"], ["m"]),
                    helper.make_node("Relu", ["m"], ["y"])],
                   [helper.make_tensor_value_info("a", T.FLOAT, [k]),
                    helper.make_tensor_value_info("b", T.FLOAT, [k, n])],
                   [helper.make_tensor_value_info("y", T.FLOAT, [n])])
    rng = np.random.default_rng(0)
    feeds = {"a": rng.standard_normal(k).astype(np.float32),
             "b": rng.standard_normal((k, n)).astype(np.float32)}
    _same_as_ort(model, feeds, tmp_path)


@pytest.mark.parametrize("dtype", [T.FLOAT, T.INT32, T.INT64])
@pytest.mark.parametrize("rows", [(2, 3), (5, 3), (4, 5)])
def test_small_concat(tmp_path, dtype, rows):
    """Concat of [a,2] and [b,2]: GCC 12 at -O3 with AVX2/AVX-512 read zeros for the first rows
    of the second input (a wrongly folded mask of a vectorized conditional load)."""
    a, b = rows
    model = _model([helper.make_node("Concat", ["p", "q"], ["y"], axis=0)],
                   [helper.make_tensor_value_info("p", dtype, [a, 2]),
                    helper.make_tensor_value_info("q", dtype, [b, 2])],
                   [helper.make_tensor_value_info("y", dtype, [a + b, 2])])
    np_type = helper.tensor_dtype_to_np_dtype(dtype)
    feeds = {"p": np.arange(1, 2 * a + 1).reshape(a, 2).astype(np_type),
             "q": -np.arange(1, 2 * b + 1).reshape(b, 2).astype(np_type)}
    _same_as_ort(model, feeds, tmp_path)


def _plan(model: onnx.ModelProto, timeout: float = 60) -> dict:
    with Runner("plan", timeout) as run:  # a segfault or a hang must not take pytest with it
        return run(Case(main=model.SerializeToString()))


def _refused(out: dict, words: str) -> None:
    assert out["code"] == 2 and out["ok"], out
    assert words in out["detail"], out


@pytest.mark.parametrize("axis", [2**31, 2**63 - 1, -(2**40)])
def test_layernorm_axis_far_out_of_range_is_refused(axis):
    """onnx's shape inference and version converter segfaulted on such an axis."""
    model = _model([helper.make_node("LayerNormalization", ["x", "s"], ["y"], axis=axis)],
                   [helper.make_tensor_value_info("x", T.FLOAT, [2, 3]),
                    helper.make_tensor_value_info("s", T.FLOAT, [3])],
                   [helper.make_tensor_value_info("y", T.FLOAT, [2, 3])], opset=17)
    _refused(_plan(model), f"axis={axis}, out of range")


def test_huge_1d_input_into_concat_is_refused_by_size():
    """A 1-D input claiming 2**31-1 elements: onnx's data propagation took 20+ GiB first."""
    model = _model([helper.make_node("Concat", ["a", "b"], ["y"], axis=0)],
                   [helper.make_tensor_value_info("a", T.FLOAT, [2]),
                    helper.make_tensor_value_info("b", T.FLOAT, [2**31 - 1])],
                   [helper.make_tensor_value_info("y", T.FLOAT, [2**31 + 1])])
    _refused(_plan(model, timeout=30), "over the memory limit")


def test_weight_listed_as_input_with_a_symbolic_dim_is_refused():
    """IR version 3 lists weights among the graph inputs (the light_* graphs); one such input
    declared with a dim_param was a TypeError in the memory estimate."""
    model = onnx.load(str(SEEDS / "light_inception_v1.onnx"))
    name = "inception_4d/5x5_reduce_b_0"
    entry = next(v for v in model.graph.input if v.name == name)
    entry.type.tensor_type.shape.dim[0].dim_param = "x" * 100
    _refused(_plan(model), f"'{name}' has")  # a dynamic dimension / no static shape


def test_upload_with_an_undefined_element_type_is_422():
    """A graph input of elem_type 2**20 passes onnx.checker; listing the inputs was a 500."""
    model = _model([helper.make_node("Relu", ["x"], ["y"])],
                   [helper.make_tensor_value_info("x", T.FLOAT, [4])],
                   [helper.make_tensor_value_info("y", T.FLOAT, [4])])
    model.graph.input[0].type.tensor_type.elem_type = 2**20
    upload = Uploader()
    try:
        out = upload(Case(main=model.SerializeToString()))
    finally:
        upload.close()
    assert out["code"] == 422 and out["ok"], out
    assert "unknown element type 1048576" in out["detail"]


def test_recompiled_artifact_in_the_same_directory_runs_the_new_code(tmp_path):
    """The loader handed back the first model.so loaded from a path, even after the directory
    was replaced by a new artifact (found by the differential fuzzer reusing a directory)."""
    x = np.array([-1.0, 2.0, -3.0, 4.0], np.float32)
    results = []
    for op in ("Relu", "Neg"):
        model = _model([helper.make_node(op, ["x"], ["y"])],
                       [helper.make_tensor_value_info("x", T.FLOAT, [4])],
                       [helper.make_tensor_value_info("y", T.FLOAT, [4])])
        out = tmp_path / "artifact"
        if out.exists():
            shutil.rmtree(out)
        compile_model(model, output_dir=out, options={"validate": False})
        results.append(InferenceSession(out, threads=1).run(None, {"x": x})[0])
    np.testing.assert_array_equal(results[0], [0, 2, 0, 4])
    np.testing.assert_array_equal(results[1], [1, -2, 3, -4])


def test_string_tensor_is_refused():
    """A STRING graph input (Cast from string is valid ONNX) was a TypeError in the ECG's byte
    sizes."""
    model = _model([helper.make_node("Cast", ["s"], ["y"], to=T.FLOAT)],
                   [helper.make_tensor_value_info("s", T.STRING, [3])],
                   [helper.make_tensor_value_info("y", T.FLOAT, [3])])
    _refused(_plan(model), "element type STRING")


def test_non_utf8_string_attribute_is_one_line():
    """A Resize mode of invalid UTF-8: onnx_ir logged a warning line per attribute before the
    error, so stderr had more than the one error line."""
    model = _model([helper.make_node("Resize", ["x", "", "scales"], ["y"])],
                   [helper.make_tensor_value_info("x", T.FLOAT, [1, 1, 2, 2])],
                   [helper.make_tensor_value_info("y", T.FLOAT, [1, 1, 4, 4])])
    model.graph.initializer.append(
        helper.make_tensor("scales", T.FLOAT, [4], [1.0, 1.0, 2.0, 2.0]))
    model.graph.node[0].attribute.append(helper.make_attribute("mode", b"ne\xffrest"))
    _refused(_plan(model), "string attribute 'mode' that is not UTF-8")


@pytest.mark.parametrize("where", ["initializer", "value_info"])
def test_undefined_element_type_is_refused(where):
    """A weight of data_type 99 passed onnx.checker and was a ValueError in onnx_ir."""
    model = _model([helper.make_node("Add", ["x", "w"], ["y"])],
                   [helper.make_tensor_value_info("x", T.FLOAT, [4])],
                   [helper.make_tensor_value_info("y", T.FLOAT, [4])])
    model.graph.initializer.append(helper.make_tensor("w", T.FLOAT, [4], [1.0, 2.0, 3.0, 4.0]))
    if where == "initializer":
        model.graph.initializer[0].data_type = 99
    else:
        model.graph.value_info.append(helper.make_tensor_value_info("y", T.FLOAT, [4]))
        model.graph.value_info[0].type.tensor_type.elem_type = 99
    _refused(_plan(model), "element type 99, which ONNX does not define")


def test_negative_declared_dimension_is_refused():
    """GatherND indices declared [2, -2]: onnx's version converter segfaulted on it."""
    model = _model([helper.make_node("GatherND", ["data", "indices"], ["y"])],
                   [helper.make_tensor_value_info("data", T.INT32, [2, 2]),
                    helper.make_tensor_value_info("indices", T.INT64, [2, -2])],
                   [helper.make_tensor_value_info("y", T.INT32, [2])], opset=13)
    _refused(_plan(model), "'indices' declares a negative dimension (-2)")


def test_minus_one_dimension_is_dynamic_not_a_crash():
    """GatherND indices declared [2, -1] (-1: Paddle's dynamic dim) segfaulted in onnx's version
    converter; now it is an unpinned dynamic dim, and planning works once it is pinned."""
    model = _model([helper.make_node("GatherND", ["data", "indices"], ["y"])],
                   [helper.make_tensor_value_info("data", T.INT32, [2, 2]),
                    helper.make_tensor_value_info("indices", T.INT64, [2, -1])],
                   [helper.make_tensor_value_info("y", T.INT32, [2])], opset=13)
    _refused(_plan(model), "input 'indices' dim 1 (-1) is dynamic")
    pinned = Case(main=model.SerializeToString(), shapes={"indices": (2, 2)})
    with Runner("plan", 60) as run:
        out = run(pinned)
    assert out["code"] == 0 and out["ok"], out
