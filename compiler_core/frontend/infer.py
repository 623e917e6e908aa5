"""ONNX shape inference on an ``onnx_ir`` model.

:func:`infer_shapes` runs ``onnx.shape_inference.infer_shapes`` in strict mode with data
propagation and writes the inferred shapes and dtypes back onto the values. Large initializers
are passed as external-data references that inference never reads, so the weights are not
copied. A failure is one :class:`ShapeError` line naming the first failing node, its message and
the shapes of its inputs.
"""

from __future__ import annotations

import itertools
import re

import onnx
import onnx_ir as ir

from compiler_core.errors import ShapeError
from compiler_core.frontend.shapes import shape_text

# Initializers above this many bytes are hidden from shape inference.
_INFERENCE_INLINE_BYTES = 1024


def clear_intermediate_shapes(model: ir.Model) -> None:
    """Forget the shapes the file declared for node outputs (they may hold dynamic dims or be
    stale); graph outputs keep their declared dtype. Inference recomputes them."""
    for node in model.graph:
        for value in node.outputs:
            value.shape = None
            if not value.is_graph_output():
                value.type = None


def infer_shapes(model: ir.Model, source: str) -> None:
    """ONNX shape inference on ``model``, in place; a failure is a :class:`ShapeError`."""
    hidden: dict[ir.Value, ir.TensorProtocol] = {}
    for value in model.graph.initializers.values():
        tensor = value.const_value
        if tensor is not None and tensor.nbytes > _INFERENCE_INLINE_BYTES:
            hidden[value] = tensor
            value.const_value = ir.ExternalTensor(
                "__not_read__", 0, tensor.nbytes, tensor.dtype, shape=tensor.shape, name=value.name
            )
    try:
        proto = ir.to_proto(model)
    finally:
        for value, tensor in hidden.items():
            value.const_value = tensor
    try:
        inferred = onnx.shape_inference.infer_shapes(
            proto, check_type=True, strict_mode=True, data_prop=_data_prop_safe(model)
        )
    except Exception as e:  # noqa: BLE001 - InferenceError, ValueError, RuntimeError
        raise ShapeError(f"{source}: {_inference_failure(proto, str(e))}") from e
    types = {
        vi.name: vi.type
        for vi in itertools.chain(inferred.graph.value_info, inferred.graph.output)
        if vi.type.HasField("tensor_type")
    }
    for node in model.graph:
        for value in node.outputs:
            type_proto = types.get(value.name or "")
            if type_proto is None:
                continue
            shape = ir.serde.deserialize_type_proto_for_shape(type_proto)
            if shape is not None:
                value.shape = shape
            if type_proto.tensor_type.elem_type:
                value.dtype = ir.DataType(type_proto.tensor_type.elem_type)


# Data propagation treats small 1-D tensors as shapes; onnx materializes one dimension per
# element, so a 1-D graph input or weight claiming 2**31 elements (Concat of it) exhausts memory
# before any size check runs. Such models are inferred without data propagation.
_DATA_PROP_MAX_ELEMENTS = 1 << 20


def _data_prop_safe(model: ir.Model) -> bool:
    values = itertools.chain(model.graph.inputs, model.graph.initializers.values())
    for value in values:
        shape = value.shape
        if shape is None or len(shape) > 1:
            continue
        if any(isinstance(d, int) and d > _DATA_PROP_MAX_ELEMENTS for d in shape):
            return False
    return True


_FIRST_ERROR = re.compile(r"\(op_type:(\w+), node name: ([^)]*)\): (.*?)(?= \(op_type:|$)")


def _inference_failure(proto: onnx.ModelProto, error: str) -> str:
    """One line for a strict shape-inference failure: the first failing node, its message and
    the shapes its inputs have (from a non-strict inference run)."""
    text = " ".join(error.split())
    match = _FIRST_ERROR.search(text)
    if match is None:
        return f"shape inference failed: {text}"
    op_type, name, message = match.groups()
    node = next((n for n in proto.graph.node if n.name == name), None)
    shapes_text = ""
    if node is not None:
        try:
            partial = onnx.shape_inference.infer_shapes(proto, strict_mode=False, data_prop=True)
        except Exception:  # noqa: BLE001 - best effort, for the message only
            partial = None
        if partial is not None:
            known = {
                vi.name: ir.serde.deserialize_type_proto_for_shape(vi.type)
                for vi in itertools.chain(
                    partial.graph.value_info, partial.graph.input, partial.graph.output
                )
            }
            known.update({t.name: ir.Shape(list(t.dims)) for t in partial.graph.initializer})
            shapes_text = "; its inputs have shapes " + ", ".join(
                f"{x!r} {shape_text(known.get(x))}" for x in node.input if x
            )
    message = message.strip().rstrip(".")
    return (
        f"shape inference failed at node {name!r} ({op_type}): {message}{shapes_text} "
        "(do the pinned input shapes fit the model?)"
    )
