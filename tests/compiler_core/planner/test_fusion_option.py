"""The ``fusion`` compile option: off, every operator is its own kernel (the ablation's
baseline, bench.ablation); the numbers still match ONNX Runtime either way."""

import json

import numpy as np
import onnx
from onnx import helper, numpy_helper

from compiler_core import compile_model
from compiler_core.runtime import InferenceSession
from tests.helpers.ort import run_ort


def _mlp() -> onnx.ModelProto:
    """MatMul (Many-to-Many) -> Add bias -> Relu -> Mul by 0.5: one block when fused."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((16, 8)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "b")
    half = numpy_helper.from_array(np.array(0.5, np.float32), "half")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["m"], name="mm"),
            helper.make_node("Add", ["m", "b"], ["a"], name="bias"),
            helper.make_node("Relu", ["a"], ["r"], name="relu"),
            helper.make_node("Mul", ["r", "half"], ["y"], name="scale"),
        ],
        "mlp",
        [helper.make_tensor_value_info("x", 1, [4, 16])],
        [helper.make_tensor_value_info("y", 1, [4, 8])],
        [w, b, half],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


def _blocks_and_output(tmp_path, options):
    model = _mlp()
    art = compile_model(model, output_dir=tmp_path, options=options)
    report = json.loads((art / "report.json").read_text())
    x = np.random.default_rng(1).standard_normal((4, 16)).astype(np.float32)
    with InferenceSession(art, threads=1) as sess:
        (y,) = sess.run(None, {"x": x})
    np.testing.assert_allclose(y, run_ort(model, {"x": x})["y"], rtol=1e-3, atol=1e-4)
    return [b["nodes"] for b in report["blocks"]], report


def test_fusion_off_gives_one_kernel_per_operator(tmp_path):
    blocks, report = _blocks_and_output(tmp_path / "off", {"fusion": False, "rewrite": False})
    assert blocks == [["mm"], ["bias"], ["relu"], ["scale"]]
    assert all(e["reason"] == "constraint" and "fusion off" in e["detail"]
               for e in report["unfused_edges"]), report["unfused_edges"]


def test_fusion_on_is_one_block(tmp_path):
    blocks, _ = _blocks_and_output(tmp_path / "on", {"rewrite": False})
    assert blocks == [["mm", "bias", "relu", "scale"]]
