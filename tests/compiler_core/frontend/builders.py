"""Tiny ONNX graphs for the frontend tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def tensor_info(name: str, shape: Sequence[int | str | None], dtype: int = TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, list(shape))


def make_model(
    nodes: Sequence[onnx.NodeProto],
    inputs: Sequence[onnx.ValueInfoProto],
    outputs: Sequence[onnx.ValueInfoProto],
    initializers: Sequence[onnx.TensorProto] = (),
    opset: int = 21,
    ir_version: int = 10,
) -> onnx.ModelProto:
    graph = helper.make_graph(list(nodes), "test", list(inputs), list(outputs), list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    return model


def const(name: str, array) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(array), name)


def relu_model(shape: Sequence[int | str | None] = (1, 4), opset: int = 21) -> onnx.ModelProto:
    """y = Relu(x + w) with a 4-element weight ``w``."""
    w = const("w", np.arange(4, dtype=np.float32))
    nodes = [
        helper.make_node("Add", ["x", "w"], ["s"], name="add"),
        helper.make_node("Relu", ["s"], ["y"], name="relu"),
    ]
    return make_model(nodes, [tensor_info("x", shape)], [tensor_info("y", shape)], [w], opset=opset)
