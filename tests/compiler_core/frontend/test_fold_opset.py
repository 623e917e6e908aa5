"""Constant folding without rewriting (fold.py) and opset normalization (opset.py)."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir
import pytest
from onnx import TensorProto, helper

from compiler_core.frontend import import_model
from tests.compiler_core.frontend.builders import const, make_model, tensor_info
from tests.helpers.ort import assert_same_outputs, random_inputs, run_ort


def op_types(result) -> list[str]:
    return [n.op_type for n in result.model.graph]


def check_against_ort(original: onnx.ModelProto, result) -> None:
    feeds = random_inputs(result.model, seed=1)
    assert_same_outputs(run_ort(original, feeds), run_ort(result.model, feeds))


def test_identity_dropout_and_no_op_nodes_are_kept():
    """Removing these is the rewriter's job; original_nodes counts them."""
    nodes = [
        helper.make_node("Identity", ["x"], ["a"], name="identity"),
        helper.make_node("Dropout", ["a"], ["b"], name="dropout"),
        helper.make_node("Reshape", ["b", "same_shape"], ["c"], name="noop_reshape"),
        helper.make_node("Cast", ["c"], ["d"], name="noop_cast", to=TensorProto.FLOAT),
        helper.make_node("Expand", ["d", "same_shape"], ["e"], name="noop_expand"),
        helper.make_node("Concat", ["e"], ["y"], name="single_concat", axis=0),
    ]
    model = make_model(
        nodes,
        [tensor_info("x", [2, 3])],
        [tensor_info("y", [2, 3])],
        [const("same_shape", np.array([2, 3], np.int64))],
    )
    result = import_model(model)
    assert op_types(result) == ["Identity", "Dropout", "Reshape", "Cast", "Expand", "Concat"]
    assert result.original_nodes == 6
    check_against_ort(model, result)


def test_constant_only_chain_is_folded_even_through_no_op_nodes():
    nodes = [
        helper.make_node("Reshape", ["w", "same_shape"], ["w1"], name="const_reshape"),
        helper.make_node("Identity", ["w1"], ["w2"], name="const_identity"),
        helper.make_node("Mul", ["w2", "two"], ["w3"], name="const_mul"),
        helper.make_node("Add", ["x", "w3"], ["y"], name="add"),
    ]
    inits = [
        const("w", np.arange(6, dtype=np.float32).reshape(2, 3)),
        const("same_shape", np.array([2, 3], np.int64)),
        const("two", np.array(2.0, np.float32)),
    ]
    model = make_model(nodes, [tensor_info("x", [2, 3])], [tensor_info("y", [2, 3])], inits)
    result = import_model(model)
    assert op_types(result) == ["Add"] and result.original_nodes == 1
    (weight,) = [v for v in result.model.graph.node(0).inputs if v.is_initializer()]
    np.testing.assert_array_equal(weight.const_value.numpy(), 2 * np.arange(6).reshape(2, 3))
    assert set(result.model.graph.initializers) == {weight.name}
    check_against_ort(model, result)


def test_large_constant_of_shape_is_folded_into_an_initializer():
    """Above onnxscript's default size limits (input 8192, output 512*512 elements)."""
    shape = [1, 3, 400, 400]
    nodes = [
        helper.make_node(
            "ConstantOfShape",
            ["shape"],
            ["w"],
            name="weights",
            value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.5]),
        ),
        helper.make_node(
            "Transpose", ["big"], ["big_t"], name="const_transpose", perm=[0, 1, 3, 2]
        ),
        helper.make_node("Mul", ["x", "w"], ["m"], name="mul"),
        helper.make_node("Add", ["m", "big_t"], ["y"], name="add"),
    ]
    big = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    inits = [const("shape", np.array(shape, np.int64)), const("big", big)]
    model = make_model(nodes, [tensor_info("x", shape)], [tensor_info("y", shape)], inits)
    result = import_model(model)
    assert op_types(result) == ["Mul", "Add"]
    graph = result.model.graph
    w = graph.node(0).inputs[1]
    assert w.is_initializer() and w.shape.dims == tuple(shape)
    assert np.all(w.const_value.numpy() == 0.5)
    np.testing.assert_array_equal(
        graph.node(1).inputs[1].const_value.numpy(), big.transpose(0, 1, 3, 2)
    )
    check_against_ort(model, result)


def test_constant_nodes_become_initializers_and_dequantize_is_kept():
    nodes = [
        helper.make_node(
            "Constant", [], ["q"], name="c", value=const("", np.arange(4, dtype=np.int8))
        ),
        helper.make_node("DequantizeLinear", ["q", "scale"], ["w"], name="dq"),
        helper.make_node("Add", ["x", "w"], ["y"], name="add"),
    ]
    model = make_model(
        nodes, [tensor_info("x", [4])], [tensor_info("y", [4])], [const("scale", np.float32(0.5))]
    )
    result = import_model(model)
    assert op_types(result) == ["DequantizeLinear", "Add"]
    assert result.model.graph.node(0).inputs[0].is_initializer()
    check_against_ort(model, result)


def test_multi_output_constant_node_is_folded():
    nodes = [
        helper.make_node("Split", ["w"], ["a", "b"], name="split", axis=0, num_outputs=2),
        helper.make_node("Add", ["x", "a"], ["s"], name="add"),
        helper.make_node("Mul", ["s", "b"], ["y"], name="mul"),
    ]
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    model = make_model(
        nodes, [tensor_info("x", [2, 3])], [tensor_info("y", [2, 3])], [const("w", w)]
    )
    result = import_model(model)
    assert op_types(result) == ["Add", "Mul"]
    np.testing.assert_array_equal(result.model.graph.node(1).inputs[1].const_value.numpy(), w[2:])
    check_against_ort(model, result)


def test_random_nodes_are_not_folded():
    nodes = [
        helper.make_node("Bernoulli", ["p"], ["mask"], name="coin", seed=1.0),
        helper.make_node("Mul", ["x", "mask"], ["y"], name="mul"),
    ]
    inits = [const("p", np.full((2, 3), 0.5, np.float32))]
    model = make_model(nodes, [tensor_info("x", [2, 3])], [tensor_info("y", [2, 3])], inits)
    assert op_types(import_model(model)) == ["Bernoulli", "Mul"]


def test_absent_optional_outputs_stay_absent():
    hidden = 4
    nodes = [helper.make_node("GRU", ["x", "W", "R"], ["", "yh"], name="gru", hidden_size=hidden)]
    rng = np.random.default_rng(0)
    inits = [
        const("W", rng.standard_normal((1, 3 * hidden, 3)).astype(np.float32)),
        const("R", rng.standard_normal((1, 3 * hidden, hidden)).astype(np.float32)),
    ]
    model = make_model(
        nodes, [tensor_info("x", [5, 1, 3])], [tensor_info("yh", [1, 1, hidden])], inits
    )
    result = import_model(model)
    (gru,) = result.model.graph
    assert [v.name for v in gru.outputs] == ["", "yh"]
    assert list(ir.to_proto(result.model).graph.node[0].output) == ["", "yh"]
    check_against_ort(model, result)


def test_names_are_unique_and_present():
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Neg", ["a"], ["y"])]
    result = import_model(make_model(nodes, [tensor_info("x", [2])], [tensor_info("y", [2])]))
    names = [n.name for n in result.model.graph]
    assert all(names) and len(set(names)) == len(names)


# ---------------------------------------------------------------- opset normalization


def test_opset9_upsample_becomes_resize():
    nodes = [helper.make_node("Upsample", ["x", "scales"], ["y"], name="up", mode="nearest")]
    model = make_model(
        nodes,
        [tensor_info("x", [1, 2, 3, 3])],
        [tensor_info("y", [1, 2, 6, 6])],
        [const("scales", np.array([1, 1, 2, 2], np.float32))],
        opset=9,
        ir_version=4,
    )
    result = import_model(model)
    assert result.opset == 21 and op_types(result) == ["Resize"]
    assert result.model.opset_imports[""] == 21
    check_against_ort(model, result)


def test_opset11_attributes_become_inputs():
    nodes = [
        helper.make_node("Unsqueeze", ["x"], ["u"], name="unsq", axes=[0]),
        helper.make_node("Squeeze", ["u"], ["s"], name="sq", axes=[0]),
        helper.make_node("ReduceSum", ["s"], ["r"], name="sum", axes=[1], keepdims=1),
        helper.make_node("Split", ["r"], ["a", "b"], name="split", axis=0, split=[1, 1]),
        helper.make_node("Add", ["a", "b"], ["y"], name="add"),
    ]
    model = make_model(nodes, [tensor_info("x", [2, 3])], [tensor_info("y", [1, 1])], opset=11)
    result = import_model(model)
    graph = result.model.graph
    assert op_types(result) == ["Unsqueeze", "Squeeze", "ReduceSum", "Split", "Add"]
    for node in list(graph)[:4]:
        assert "axes" not in node.attributes and "split" not in node.attributes
        assert len(node.inputs) == 2 and node.inputs[1].is_initializer()
    check_against_ort(model, result)


def test_opset9_clip_min_max_become_inputs():
    nodes = [helper.make_node("Clip", ["x"], ["y"], name="clip", min=-0.5, max=0.5)]
    model = make_model(
        nodes, [tensor_info("x", [2, 3])], [tensor_info("y", [2, 3])], opset=9, ir_version=4
    )
    result = import_model(model)
    (clip,) = result.model.graph
    assert not clip.attributes and [v.const_value.numpy().item() for v in clip.inputs[1:]] == [
        -0.5,
        0.5,
    ]
    check_against_ort(model, result)


@pytest.mark.parametrize(
    ("shape", "ops"),
    [
        ([2, 5], ["Softmax"]),
        ([2, 5, 1, 1], ["Softmax"]),
        ([2, 3, 4], ["Flatten", "Softmax", "Reshape"]),  # legacy 2-D coercion really matters
    ],
)
@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_legacy_softmax_keeps_one_node_where_it_can(shape, ops, op):
    nodes = [helper.make_node(op, ["x"], ["y"], name="sm", axis=1)]
    model = make_model(nodes, [tensor_info("x", shape)], [tensor_info("y", shape)], opset=11)
    result = import_model(model)
    assert op_types(result) == [o if o != "Softmax" else op for o in ops]
    if len(ops) == 1:
        assert result.model.graph.node(0).attributes["axis"].value % len(shape) == 1
    assert result.model.graph.outputs[0].name == "y"
    check_against_ort(model, result)
