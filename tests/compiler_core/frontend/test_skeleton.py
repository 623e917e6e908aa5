"""The weight-free skeleton the checker and the version converter see."""

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper, version_converter

from compiler_core.errors import ModelValidationError
from compiler_core.frontend import import_model
from compiler_core.frontend.skeleton import MIN_STRIPPED_BYTES, skeleton, with_weights
from tests.helpers.ort import run_ort


def _model(opset=11, broken=False):
    big = numpy_helper.from_array(
        np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32), "w"
    )
    small = numpy_helper.from_array(np.array([1, 64], np.int64), "shape")
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["m"]),
        helper.make_node("Reshape", ["m", "shape"], ["r"]),
        helper.make_node("Relu", [] if broken else ["r"], ["y"]),  # broken: Relu of nothing
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", 1, [1, 64])],
        [helper.make_tensor_value_info("y", 1, [1, 64])], [big, small],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_large_initializers_become_inputs_and_come_back():
    model = _model()
    skel, large, nbytes = skeleton(model)
    assert large == {"w"} and nbytes >= 64 * 64 * 4 > MIN_STRIPPED_BYTES
    assert [t.name for t in skel.graph.initializer] == ["shape"]
    assert [i.name for i in skel.graph.input] == ["x", "w"]
    assert len(model.graph.initializer) == 2  # the original is untouched
    converted = with_weights(version_converter.convert_version(skel, 21), model, large)
    assert [i.name for i in converted.graph.input] == ["x"]
    assert {t.name for t in converted.graph.initializer} == {"shape", "w"}
    (w,) = [t for t in converted.graph.initializer if t.name == "w"]
    np.testing.assert_array_equal(numpy_helper.to_array(w), numpy_helper.to_array(
        model.graph.initializer[0]))


def test_import_with_stripped_weights_keeps_numerics():
    model = _model()
    imported = import_model(model)
    assert imported.opset == 21
    x = np.random.default_rng(1).standard_normal((1, 64)).astype(np.float32)
    (want,) = run_ort(model, {"x": x}).values()
    (got,) = run_ort(imported.model, {"x": x}).values()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_checker_still_sees_a_broken_node_in_a_model_with_large_weights():
    model = _model(broken=True)
    with pytest.raises(ModelValidationError, match="onnx.checker"):
        import_model(model)


def test_skeleton_of_model_without_large_weights_is_equal_in_structure():
    model = _model()
    del model.graph.initializer[0]
    model.graph.input.append(helper.make_tensor_value_info("w", 1, [64, 64]))
    skel, large, nbytes = skeleton(model)
    assert not large and nbytes == 0
    assert skel == model
    onnx.checker.check_model(skel)
