"""Small statically shaped graphs for planner tests, built with onnx.helper (no frontend)."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir
from onnx import TensorProto, helper, numpy_helper

from compiler_core.ir.ecg import ECG, build_ecg

F32 = TensorProto.FLOAT


def tensor(name: str, shape) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, F32, list(shape))


def weight(name: str, shape, seed: int = 0) -> onnx.TensorProto:
    rng = np.random.default_rng(seed)
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def make_model(nodes, inputs, outputs, initializers=(), value_info=(), infer=True):
    graph = helper.make_graph(
        nodes, "g", inputs, outputs, initializer=list(initializers), value_info=list(value_info)
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    if infer:
        model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    return model


def make_ecg(*args, **kwargs) -> ECG:
    return build_ecg(ir.from_proto(make_model(*args, **kwargs)))


def node(op: str, inputs, outputs, name: str | None = None, **attrs) -> onnx.NodeProto:
    return helper.make_node(op, list(inputs), list(outputs), name=name or outputs[0], **attrs)
