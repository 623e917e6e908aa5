"""A valid model whose node names are HTML: the pages must show them as text."""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper

SCRIPT_NAME = "<script>alert(1)</script>"
IMG_NAME = '<img src=x onerror="alert(2)">'


def html_named_model() -> bytes:
    """x float32[1, 8] -> Relu (named SCRIPT_NAME) -> Sigmoid (named IMG_NAME) -> y."""
    graph = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["r"], name=SCRIPT_NAME),
            helper.make_node("Sigmoid", ["r"], ["y"], name=IMG_NAME),
        ],
        "html_names",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    onnx.checker.check_model(model)
    return model.SerializeToString()
