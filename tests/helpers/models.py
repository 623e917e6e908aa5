"""Where the real test models live, and a numerically useful variant of the light graphs.

The ``onnx`` package's ``light_*`` graphs build every weight with ``ConstantOfShape`` (one value
repeated), so their outputs hardly depend on indexing: a wrong index can hide behind constant
weights. :func:`randomize_constant_of_shape` replaces those nodes by random initializers of the
same shape (He-scaled for rank >= 2; vectors near 1 where they scale, near 0 otherwise) so
numerical checks mean something.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

# ../shared/models relative to the project root, unless DNNFUSION_MODELS_DIR says otherwise.
SHARED_MODELS_DIR = Path(
    os.environ.get("DNNFUSION_MODELS_DIR")
    or Path(__file__).resolve().parents[3] / "shared" / "models"
)
LIGHT_MODELS = (
    "resnet50",
    "densenet121",
    "inception_v1",
    "inception_v2",
    "shufflenet",
    "squeezenet",
)
LIGHT_INPUT_SHAPE = (1, 3, 224, 224)


def light_model_path(name: str) -> str:
    """Path of ``light_<name>.onnx`` inside the installed ``onnx`` package."""
    base = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
    return os.path.join(base, f"light_{name}.onnx")


def randomize_constant_of_shape(
    model: onnx.ModelProto, seed: int = 0, *, expose_logits: bool = True
) -> onnx.ModelProto:
    """A copy of ``model`` whose ``ConstantOfShape`` nodes with a constant shape input are
    replaced by random initializers (listed among the graph inputs too when IR version < 4).

    With ``expose_logits``, the input of a Softmax that produces a graph output becomes a graph
    output too: random deep nets often saturate their softmax, the logits still tell.
    """
    rng = np.random.default_rng(seed)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    shapes = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    uses: dict[str, list[tuple[onnx.NodeProto, int]]] = {}
    for node in graph.node:
        for i, name in enumerate(node.input):
            uses.setdefault(name, []).append((node, i))
    keep = []
    for node in graph.node:
        if node.op_type != "ConstantOfShape" or node.input[0] not in shapes:
            keep.append(node)
            continue
        shape = tuple(int(d) for d in shapes[node.input[0]])
        if len(shape) >= 2:
            fan_in = int(np.prod(shape[1:]))
            array = rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
        elif _is_scale(node.output[0], uses):
            array = rng.uniform(0.8, 1.2, size=shape)
        else:
            array = rng.normal(0.0, 0.1, size=shape)
        tensor = numpy_helper.from_array(array.astype(np.float32), node.output[0])
        graph.initializer.append(tensor)
        if out.ir_version < 4:
            graph.input.append(
                onnx.helper.make_tensor_value_info(node.output[0], onnx.TensorProto.FLOAT, shape)
            )
    graph.ClearField("node")
    graph.node.extend(keep)
    if expose_logits:
        outputs = {o.name for o in graph.output}
        inferred = onnx.shape_inference.infer_shapes(out)
        types = {vi.name: vi for vi in inferred.graph.value_info}
        for node in keep:
            if node.op_type == "Softmax" and node.output[0] in outputs:
                graph.output.append(types[node.input[0]])
    return out


def _is_scale(name: str, uses: dict[str, list[tuple[onnx.NodeProto, int]]]) -> bool:
    """A vector used multiplicatively (BatchNormalization scale/var, Mul): near 1, else near 0."""
    for node, index in uses.get(name, []):
        if node.op_type == "Unsqueeze":
            return _is_scale(node.output[0], uses)
        if node.op_type == "BatchNormalization":
            return index in (1, 4)
        if node.op_type in ("Mul", "Div"):
            return True
    return False
