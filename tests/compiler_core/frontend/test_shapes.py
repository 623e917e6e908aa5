"""Pinning dynamic dimensions and the all-static guarantee (compiler_core/frontend/shapes.py)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from compiler_core.errors import ModelValidationError, ShapeError
from compiler_core.frontend import import_model
from tests.compiler_core.frontend.builders import make_model, relu_model, tensor_info
from tests.helpers.ort import run_ort


def one_line(err: pytest.ExceptionInfo) -> str:
    assert "\n" not in str(err.value)
    return str(err.value)


def test_pinning_dynamic_dims():
    result = import_model(relu_model(("batch", 4)), {"x": (3, 4)})
    graph = result.model.graph
    assert graph.inputs[0].shape.dims == (3, 4)
    assert all(v.shape.dims == (3, 4) for n in graph for v in n.outputs)
    assert graph.outputs[0].shape.dims == (3, 4)


def test_pin_accepts_any_int_sequence():
    result = import_model(relu_model(("batch", 4)), {"x": [np.int64(2), 4]})
    assert result.model.graph.inputs[0].shape.dims == (2, 4)


def test_pin_equal_to_static_declaration_is_fine():
    assert import_model(relu_model((1, 4)), {"x": (1, 4)}).model.graph.inputs[0].shape.dims == (
        1,
        4,
    )


def test_unpinned_dynamic_dim_names_input_and_dim():
    with pytest.raises(ShapeError) as err:
        import_model(relu_model(("batch", 4)))
    message = one_line(err)
    assert "'x'" in message and "dim 0" in message and "'batch'" in message


def test_unpinned_dim_value_minus_one(real_models_dir):
    """The PP-OCR classifier declares its batch dim as dim_value -1: dynamic too."""
    with pytest.raises(ShapeError, match=r"input 'x' dim 0 \(-1\) is dynamic"):
        import_model(real_models_dir / "ppocr_mobile_v2_cls.onnx")


def test_unpinned_real_model_names_dim(real_models_dir):
    with pytest.raises(ShapeError, match=r"input 'x' dim 0 \('p2o\.DynamicDimension\.0'\)"):
        import_model(real_models_dir / "ppocr_v4_det.onnx")


def test_input_without_declared_shape_is_invalid():
    """ONNX requires a shape (a rank, at least) on main-graph inputs; the message names it."""
    model = relu_model()
    model.graph.input[0].type.tensor_type.ClearField("shape")
    with pytest.raises(ModelValidationError, match=r"graph input 'x' declares no shape"):
        import_model(model, {"x": (1, 4)})


def test_rank_mismatch():
    with pytest.raises(ShapeError) as err:
        import_model(relu_model(("batch", 4)), {"x": (1, 4, 1)})
    message = one_line(err)
    assert "'x'" in message and "rank 3" in message and "rank 2" in message


def test_static_dim_mismatch():
    with pytest.raises(ShapeError) as err:
        import_model(relu_model(("batch", 4)), {"x": (1, 5)})
    message = one_line(err)
    assert "'x'" in message and "dim 1" in message and "5" in message and "4" in message


def test_unknown_input_name():
    with pytest.raises(ShapeError, match=r"'y'.*no such input.*'x'"):
        import_model(relu_model(("batch", 4)), {"x": (1, 4), "y": (1, 4)})


def test_pinning_an_initializer(light_model_path):
    with pytest.raises(ShapeError, match=r"'conv1_b_0'.*initializer"):
        import_model(light_model_path("squeezenet"), {"conv1_b_0": (64,)})


@pytest.mark.parametrize("dims", [(0, 4), (-1, 4), (1.5, 4), ("1", 4), (True, 4), 7])
def test_pin_must_be_positive_ints(dims):
    with pytest.raises(ShapeError, match=r"'x'.*positive integers"):
        import_model(relu_model(("batch", 4)), {"x": dims})


def test_pin_contradicting_the_model_names_the_node(real_models_dir):
    """H, W must be multiples of 32 for the detector: an Add cannot broadcast otherwise."""
    with pytest.raises(ShapeError) as err:
        import_model(real_models_dir / "ppocr_v4_det.onnx", {"x": (1, 3, 100, 100)})
    message = one_line(err)
    assert "node 'p2o." in message and "[1,96," in message


def test_initializers_listed_as_inputs_are_not_user_inputs(light_model_path):
    result = import_model(light_model_path("squeezenet"))
    graph = result.model.graph
    assert [v.name for v in graph.inputs] == ["data_0"]
    assert "conv1_b_0" in graph.initializers


def test_data_dependent_shape_is_reported_with_its_node():
    nodes = [helper.make_node("NonZero", ["x"], ["y"], name="nz")]
    model = make_model(
        nodes, [tensor_info("x", [1, 4])], [tensor_info("y", [2, "n"], TensorProto.INT64)]
    )
    with pytest.raises(ShapeError) as err:
        import_model(model)
    message = one_line(err)
    assert "'y'" in message and "'nz'" in message and "NonZero" in message


def test_every_tensor_is_static_after_shape_subgraph():
    """Shape -> Gather -> Concat -> Reshape on a dynamic batch is folded once the batch is pinned."""
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["n"], name="gather", axis=0),
        helper.make_node("Unsqueeze", ["n", "zero1"], ["n1"], name="unsq"),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], name="concat", axis=0),
        helper.make_node("Reshape", ["x", "target"], ["flat"], name="reshape"),
        helper.make_node("Relu", ["flat"], ["y"], name="relu"),
    ]
    inits = [
        helper.make_tensor("zero", TensorProto.INT64, [], [0]),
        helper.make_tensor("zero1", TensorProto.INT64, [1], [0]),
        helper.make_tensor("minus1", TensorProto.INT64, [1], [-1]),
    ]
    model = make_model(
        nodes, [tensor_info("x", ["N", 2, 3])], [tensor_info("y", ["N", "M"])], inits
    )
    result = import_model(model, {"x": (2, 2, 3)})
    graph = result.model.graph
    assert [n.op_type for n in graph] == ["Reshape", "Relu"]
    assert result.original_nodes == 2
    assert graph.outputs[0].shape.dims == (2, 6)
    x = np.random.default_rng(0).standard_normal((2, 2, 3)).astype(np.float32)
    np.testing.assert_array_equal(
        run_ort(result.model, {"x": x})["y"], np.maximum(x.reshape(2, 6), 0)
    )
