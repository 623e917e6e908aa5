"""Real CNN graphs compiled end to end and compared with ONNX Runtime (no graph optimizations)
on three random input sets: the onnx package's light_* graphs with random weights and the two
PP-OCR models (the detector pinned small to keep the suite fast)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from compiler_core.compile import compile_model
from compiler_core.runtime import InferenceSession
from tests.helpers.models import REAL_MODELS_DIR, light_random_model
from tests.helpers.ort import to_ort_proto

pytestmark = pytest.mark.slow


def _reference(proto: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 2
    options.log_severity_level = 3
    return ort.InferenceSession(to_ort_proto(proto).SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def _check(proto: onnx.ModelProto, shapes: dict, tmp_path) -> dict:
    out = compile_model(proto, shapes, output_dir=tmp_path / "artifact")
    report = json.loads((out / "report.json").read_text())
    assert report["fused_blocks"] < report["rewritten_nodes"]
    ref = _reference(proto)
    ref_names = [o.name for o in ref.get_outputs()]
    with InferenceSession(out, threads=2) as sess:
        names = [o.name for o in sess.get_outputs()]
        assert sorted(names) == sorted(ref_names)
        for seed in range(3):
            rng = np.random.default_rng(seed)
            feeds = {k: rng.standard_normal(v).astype(np.float32) for k, v in shapes.items()}
            got = dict(zip(names, sess.run(None, feeds), strict=True))
            want = dict(zip(ref_names, ref.run(None, feeds), strict=True))
            for k, w in want.items():
                assert got[k].shape == w.shape
                np.testing.assert_allclose(got[k], w, rtol=1e-3, atol=1e-4, err_msg=k)
    return report


def _expose(proto: onnx.ModelProto, name: str, shape: list[int]) -> onnx.ModelProto:
    """``name`` becomes a graph output too: on random inputs PP-OCR's probability map is ~0
    everywhere (within atol), the logits before it are not."""
    proto.graph.output.append(
        onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, shape))
    return proto


def _input_shapes(proto: onnx.ModelProto) -> dict:
    inits = {i.name for i in proto.graph.initializer}
    return {
        i.name: [d.dim_value for d in i.type.tensor_type.shape.dim]
        for i in proto.graph.input
        if i.name not in inits
    }


@pytest.mark.parametrize(
    "name", ["resnet50", "densenet121", "inception_v1", "inception_v2", "shufflenet",
             "squeezenet"],
)
def test_light_random(name, tmp_path):
    proto = light_random_model(name)
    report = _check(proto, _input_shapes(proto), tmp_path)
    anchors = [b["anchor"] for b in report["blocks"]]
    assert anchors.count("Conv") == sum(n.op_type == "Conv" for n in proto.graph.node)


def test_ppocr_cls(tmp_path):
    proto = _expose(onnx.load(REAL_MODELS_DIR / "ppocr_mobile_v2_cls.onnx"), "linear_1.tmp_1",
                    [1, 2])
    _check(proto, {"x": [1, 3, 48, 192]}, tmp_path)


def test_ppocr_det_small(tmp_path):
    proto = _expose(onnx.load(REAL_MODELS_DIR / "ppocr_v4_det.onnx"), "p2o.Add.281",
                    [1, 1, 160, 160])
    report = _check(proto, {"x": [1, 3, 160, 160]}, tmp_path)
    ops = [op for b in report["blocks"] for op in b["ops"]]
    assert ops.count("Resize") == 6 and "ConvTranspose" in ops
