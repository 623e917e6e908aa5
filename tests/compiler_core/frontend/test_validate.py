"""Structural validation: opsets, domains, operators, cycles, onnx.checker."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from compiler_core.errors import ModelValidationError, UnsupportedOperatorError
from compiler_core.frontend import import_model
from tests.compiler_core.frontend.builders import make_model, relu_model, tensor_info
from tests.helpers.ort import run_ort


def one_line(err: pytest.ExceptionInfo) -> str:
    assert "\n" not in str(err.value)
    return str(err.value)


@pytest.mark.parametrize("opset", [7, 8, 22, 23])
def test_opset_outside_9_to_21(opset, tmp_path):
    model = relu_model(opset=opset)
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ModelValidationError) as err:
        import_model(path)
    message = one_line(err)
    assert f"opset {opset}" in message and str(path) in message and "9..21" in message


@pytest.mark.parametrize("opset", [9, 11, 13, 17, 21])
def test_opsets_in_range_are_normalized_to_21(opset):
    assert import_model(relu_model(opset=opset)).opset == 21


@pytest.mark.parametrize("domain", ["com.microsoft", "my.custom", "ai.onnx.ml"])
def test_unknown_domain(domain):
    model = relu_model()
    model.graph.node[1].domain = domain
    model.graph.node[1].op_type = "FancyRelu"
    model.opset_import.append(helper.make_opsetid(domain, 1))
    with pytest.raises(UnsupportedOperatorError) as err:
        import_model(model)
    message = one_line(err)
    assert "'relu'" in message and repr(domain) in message


def test_unknown_default_domain_operator():
    model = relu_model()
    model.graph.node[1].op_type = "Frobnicate"
    with pytest.raises(UnsupportedOperatorError, match=r"'relu' \(Frobnicate\).*'Frobnicate'"):
        import_model(model)


def test_unknown_domain_inside_a_subgraph():
    then = helper.make_graph(
        [helper.make_node("Gelu", ["x"], ["t"], name="inner", domain="com.microsoft")],
        "then",
        [],
        [tensor_info("t", [1, 4])],
    )
    other = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["e"], name="inner2")],
        "else",
        [],
        [tensor_info("e", [1, 4])],
    )
    nodes = [
        helper.make_node("If", ["c"], ["y"], name="branch", then_branch=then, else_branch=other)
    ]
    model = make_model(
        nodes, [tensor_info("x", [1, 4]), tensor_info("c", [], 9)], [tensor_info("y", [1, 4])]
    )
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    with pytest.raises(UnsupportedOperatorError, match=r"'inner'.*'branch'.*'com\.microsoft'"):
        import_model(model)


def test_cycle_names_its_nodes():
    nodes = [
        helper.make_node("Add", ["x", "b"], ["a"], name="node_a"),
        helper.make_node("Relu", ["a"], ["b"], name="node_b"),
        helper.make_node("Neg", ["a"], ["y"], name="out"),
    ]
    model = make_model(nodes, [tensor_info("x", [1, 4])], [tensor_info("y", [1, 4])])
    with pytest.raises(ModelValidationError) as err:
        import_model(model)
    message = one_line(err)
    assert "cycle" in message and "'node_a'" in message and "'node_b'" in message
    assert "'out'" not in message


def test_self_loop_is_a_cycle():
    nodes = [
        helper.make_node("Add", ["x", "a"], ["a"], name="loop"),
        helper.make_node("Relu", ["a"], ["y"], name="r"),
    ]
    model = make_model(nodes, [tensor_info("x", [1, 4])], [tensor_info("y", [1, 4])])
    with pytest.raises(ModelValidationError, match=r"cycle.*'loop'"):
        import_model(model)


def test_unsorted_graph_is_sorted():
    model = relu_model()
    nodes = list(model.graph.node)
    model.graph.ClearField("node")
    model.graph.node.extend(reversed(nodes))
    result = import_model(model)
    assert [n.op_type for n in result.model.graph] == ["Add", "Relu"]
    x = np.ones((1, 4), np.float32)
    np.testing.assert_array_equal(run_ort(result.model, {"x": x})["y"], x + np.arange(4))


def test_checker_failure_is_wrapped():
    model = relu_model()
    model.graph.node[0].input.pop()  # Add with one input
    with pytest.raises(ModelValidationError) as err:
        import_model(model)
    message = one_line(err)
    assert "onnx.checker" in message and "Add" in message


def test_undefined_input_fails_checker():
    model = relu_model()
    model.graph.node[1].input[0] = "nowhere"
    with pytest.raises(ModelValidationError, match="nowhere"):
        import_model(model)
