import collections
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from bench.modelutil import pin_input_shapes, runtime_inputs
from bench.real_models import real_models_dir
from bench.zoo import ZOO

EXPECTED = {
    "ppocr_v4_det",
    "ppocr_mobile_v2_cls",
    "bert_base",
    "distilbert",
    "tinybert",
    "bert_tiny_test",
    "distilbert_tiny_test",
}
LIGHT = ["resnet50", "densenet121", "inception_v1", "inception_v2", "shufflenet", "squeezenet"]


def _session(path):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def test_zoo_has_every_entry():
    names = set(ZOO)
    assert names >= EXPECTED
    for light in LIGHT:
        assert {f"light_{light}", f"light_{light}_random"} <= names
    for entry in ZOO.values():
        assert entry.kind in ("cnn", "transformer")
        assert entry.input_shapes


@pytest.mark.parametrize("name", [f"light_{n}" for n in LIGHT])
def test_light_entries_point_into_the_onnx_package(name):
    entry = ZOO[name]
    path = entry.path()
    assert path.startswith(os.path.dirname(onnx.__file__))
    graph = onnx.load(path).graph
    assert {
        i.name: tuple(d.dim_value for d in i.type.tensor_type.shape.dim)
        for i in runtime_inputs(graph)
    } == entry.input_shapes


@pytest.mark.slow  # exports transformers with torch, compiles them
@pytest.mark.parametrize("name", ["bert_tiny_test", "distilbert_tiny_test"])
def test_tiny_transformer_builds_and_runs(fresh_zoo, name):
    entry = fresh_zoo[name]
    path = entry.path()
    assert os.path.dirname(path) == os.environ["DNNFUSION_ZOO_DIR"]
    assert entry.build_info()["recipe"] == entry.recipe
    model = onnx.load(path)
    assert model.ir_version <= 10
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    ops = collections.Counter(n.op_type for n in model.graph.node)
    assert ops["MatMul"] >= 8 and ops["Softmax"] == 2  # 2 layers of attention
    session = _session(path)
    assert {i.name: tuple(i.shape) for i in session.get_inputs()} == entry.input_shapes
    for seed in (0, 1):
        feeds = entry.random_inputs(seed)
        (hidden, *_) = session.run(None, feeds)
        assert hidden.shape == (1, 16, 64)
        assert np.isfinite(hidden).all()
    assert entry.path() == path  # cached: no rebuild


def test_transformer_random_inputs_are_valid():
    entry = ZOO["bert_base"]
    for seed in range(5):
        feeds = entry.random_inputs(seed)
        assert set(feeds) == {"input_ids", "attention_mask", "token_type_ids"}
        for value in feeds.values():
            assert value.dtype == np.int64 and value.shape == (1, 128)
        assert feeds["input_ids"].min() >= 0 and feeds["input_ids"].max() < entry.vocab_size
        mask = feeds["attention_mask"][0]
        valid = int(mask.sum())
        assert valid >= 1 and (mask[:valid] == 1).all() and (mask[valid:] == 0).all()
        assert set(np.unique(feeds["token_type_ids"])) <= {0, 1}
        assert (feeds["token_type_ids"][0][valid:] == 0).all()
    assert set(ZOO["distilbert"].random_inputs(0)) == {"input_ids", "attention_mask"}


@pytest.mark.parametrize("light", ["squeezenet", "shufflenet"])
def test_light_random_variant_differs_only_in_weights(fresh_zoo, light):
    original = onnx.load(fresh_zoo[f"light_{light}"].path())
    entry = fresh_zoo[f"light_{light}_random"]
    randomized = onnx.load(entry.path())
    onnx.checker.check_model(randomized)

    def compute(graph):
        return [
            (n.op_type, list(n.input), list(n.output), list(n.attribute))
            for n in graph.node
            if n.op_type != "ConstantOfShape"
        ]

    constant_of_shape = sum(n.op_type == "ConstantOfShape" for n in original.graph.node)
    assert constant_of_shape > 0
    assert not any(n.op_type == "ConstantOfShape" for n in randomized.graph.node)
    assert len(randomized.graph.node) == len(original.graph.node) - constant_of_shape
    assert compute(randomized.graph) == compute(original.graph)
    assert [i.name for i in runtime_inputs(randomized.graph)] == list(entry.input_shapes)

    # The weights are random (not one constant) and BN variances are positive.
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in randomized.graph.initializer}
    conv_weights = [inits[n.input[1]] for n in randomized.graph.node if n.op_type == "Conv"]
    assert all(np.unique(w).size > 1 for w in conv_weights)
    for n in randomized.graph.node:
        if n.op_type == "BatchNormalization":
            assert (inits[n.input[4]] > 0).all()

    session = _session(entry.path())
    outs = [session.run(None, entry.random_inputs(seed))[0] for seed in (0, 1)]
    assert all(np.isfinite(o).all() for o in outs)
    assert outs[0].max() < 0.99  # softmax not saturated: activations stay at a sane scale
    assert not np.allclose(outs[0], outs[1])  # the output depends on the input


def test_ppocr_entries_pin_to_static_shapes():
    entry = ZOO["ppocr_mobile_v2_cls"]
    assert os.path.exists(entry.cached_path()), f"real models not in {real_models_dir()}"
    model = pin_input_shapes(onnx.load(entry.path()), entry.input_shapes)
    (x,) = model.graph.input
    assert tuple(d.dim_value for d in x.type.tensor_type.shape.dim) == (1, 3, 48, 192)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, entry.random_inputs(0))
    assert y.shape == (1, 2) and np.isfinite(y).all()


def test_unknown_name_is_a_clean_error(capsys):
    from bench.zoo import main

    assert main(["build", "no_such_model"]) == 2
    assert "unknown zoo model" in capsys.readouterr().err


@pytest.mark.slow  # exports GPT-2 with torch, compiles it
def test_tiny_gpt2_is_causal_and_compiles_to_the_same_numbers(fresh_zoo, tmp_path):
    from compiler_core.compile import compile_model
    from compiler_core.runtime import InferenceSession

    entry = fresh_zoo["gpt2_tiny_test"]
    model = onnx.load(entry.path())
    ops = collections.Counter(n.op_type for n in model.graph.node)
    assert ops["Softmax"] == 2 and ops["Tanh"] == 2  # 2 layers: attention, GELU (tanh form)
    session = _session(entry.path())
    feeds = entry.random_inputs(0)
    feeds["attention_mask"][:] = 1
    (hidden,) = session.run(None, feeds)
    changed = {k: v.copy() for k, v in feeds.items()}
    changed["input_ids"][0, -1] = (changed["input_ids"][0, -1] + 1) % entry.vocab_size
    (hidden2,) = session.run(None, changed)
    # Causal: a later token never changes the states before it; it changes its own.
    np.testing.assert_array_equal(hidden[0, :-1], hidden2[0, :-1])
    assert not np.allclose(hidden[0, -1], hidden2[0, -1])
    art = compile_model(entry.path(), entry.input_shapes, output_dir=tmp_path / "gpt2")
    with InferenceSession(art, threads=2) as ours:
        for seed in (0, 1):
            f = entry.random_inputs(seed)
            (got,) = ours.run(None, f)
            (want,) = session.run(None, f)
            np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)
