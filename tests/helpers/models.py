"""Where the real test models live, and a numerically useful variant of the light graphs.

The ``onnx`` package's ``light_*`` graphs build every weight with ``ConstantOfShape`` (one value
repeated), so their outputs hardly depend on indexing: a wrong index can hide behind constant
weights. :func:`light_random_model` loads the model zoo's variant with random weights (and
BatchNormalization statistics calibrated so activations stay at scale; built once, cached) and
can expose the softmax inputs as outputs.
"""

from __future__ import annotations

from pathlib import Path

import onnx

from bench.real_models import real_models_dir
from bench.zoo import ZOO
from bench.zoo_light import LIGHT_NAMES as LIGHT_MODELS
from bench.zoo_light import light_path as light_model_path

REAL_MODELS_DIR = Path(real_models_dir())
LIGHT_INPUT_SHAPE = (1, 3, 224, 224)

__all__ = [
    "LIGHT_INPUT_SHAPE",
    "LIGHT_MODELS",
    "REAL_MODELS_DIR",
    "light_model_path",
    "light_random_model",
]


def light_random_model(name: str, *, expose_logits: bool = True) -> onnx.ModelProto:
    """``light_<name>`` with random weights (the zoo's ``light_<name>_random``).

    With ``expose_logits``, the input of a Softmax that produces a graph output becomes a graph
    output too: random deep nets often saturate their softmax, the logits still tell.
    """
    out = onnx.load(ZOO[f"light_{name}_random"].path())
    if expose_logits:
        graph = out.graph
        outputs = {o.name for o in graph.output}
        inferred = onnx.shape_inference.infer_shapes(out)
        types = {vi.name: vi for vi in inferred.graph.value_info}
        for node in graph.node:
            if node.op_type == "Softmax" and node.output[0] in outputs:
                graph.output.append(types[node.input[0]])
    return out
