"""The eight real models: structure after import and numerics against ONNX Runtime."""

from __future__ import annotations

import pytest

from compiler_core.frontend import import_model
from tests.helpers.models import LIGHT_MODELS, light_random_model
from tests.helpers.ort import assert_same_outputs, random_inputs, run_ort

PPOCR = {
    "ppocr_v4_det": {"x": (1, 3, 640, 640)},
    "ppocr_mobile_v2_cls": {"x": (1, 3, 48, 192)},
}

# Compute nodes after import. The light graphs lose only their ConstantOfShape weights (and
# the Unsqueeze/Reshape applied to them); the PP-OCR classifier loses 18 Reshape of constant
# SE biases and its Shape/Slice/Cast/Concat batch-size sub-graph.
ORIGINAL_NODES = {
    "resnet50": 176,
    "densenet121": 668,
    "inception_v1": 143,
    "inception_v2": 371,
    "shufflenet": 203,
    "squeezenet": 66,
    "ppocr_v4_det": 330,
    "ppocr_mobile_v2_cls": 234,
}
ALL_MODELS = list(LIGHT_MODELS) + list(PPOCR)


@pytest.fixture
def model_path(request, real_models_dir, light_model_path):
    name = request.param
    if name in PPOCR:
        return real_models_dir / f"{name}.onnx"
    return light_model_path(name)


def input_shapes(name: str):
    return PPOCR.get(name)


def assert_all_static(model) -> None:
    graph = model.graph
    values = [*graph.inputs, *graph.outputs, *graph.initializers.values()]
    values += [v for node in graph for v in node.outputs]
    for value in values:
        assert value.dtype is not None, value
        assert value.shape is not None and all(
            isinstance(d, int) and d >= 0 for d in value.shape
        ), value


def assert_topological(model) -> None:
    seen = {v for v in model.graph.inputs} | set(model.graph.initializers.values())
    for node in model.graph:
        for value in node.inputs:
            assert value is None or value in seen, (node.name, value)
        seen.update(node.outputs)


@pytest.mark.slow
@pytest.mark.parametrize("model_path", ALL_MODELS, indirect=True, ids=ALL_MODELS)
def test_imports_static_and_folded(model_path, request):
    name = request.node.callspec.id
    result = import_model(model_path, input_shapes(name))
    model = result.model
    assert result.source == str(model_path)
    assert result.opset == 21 and model.opset_imports[""] == 21
    assert result.original_nodes == ORIGINAL_NODES[name]
    assert len(model.graph) == result.original_nodes
    assert [v.name for v in model.graph.inputs] == ["x" if name in PPOCR else _first_input(name)]
    ops = {n.op_type for n in model.graph}
    assert not ops & {"Constant", "ConstantOfShape", "Shape", "Flatten"}, ops
    assert_all_static(model)
    assert_topological(model)


def _first_input(name: str) -> str:
    return "gpu_0/data_0" if name in ("resnet50", "shufflenet") else "data_0"


@pytest.mark.slow
@pytest.mark.parametrize("model_path", ALL_MODELS, indirect=True, ids=ALL_MODELS)
def test_numerics_match_onnxruntime(model_path, request):
    """Same random input through ORT on the original file and on the imported model."""
    name = request.node.callspec.id
    result = import_model(model_path, input_shapes(name))
    feeds = random_inputs(result.model)
    assert_same_outputs(run_ort(model_path, feeds), run_ort(result.model, feeds))


@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_numerics_with_random_weights(light_model_path, name):
    """The light graphs' constant weights hide indexing errors: random ones do not. The
    softmax inputs are compared too (random deep nets often saturate their softmax)."""
    original = light_random_model(name)
    result = import_model(original)
    assert result.original_nodes == ORIGINAL_NODES[name]
    feeds = random_inputs(result.model, seed=4)
    expected = run_ort(original, feeds)
    assert len(expected) == (1 if name == "densenet121" else 2)  # densenet ends before softmax
    assert_same_outputs(expected, run_ort(result.model, feeds))
