"""validate_artifact: the artifact against ONNX Runtime on the same random inputs."""

import numpy as np
import onnx
from onnx import helper, numpy_helper

from compiler_core import compile_model
from compiler_core.runtime.validate import validate_artifact


def _mlp() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((16, 8)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "b")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["m"]),
            helper.make_node("Add", ["m", "b"], ["a"]),
            helper.make_node("Relu", ["a"], ["y"]),
        ],
        "mlp",
        [helper.make_tensor_value_info("x", 1, [4, 16])],
        [helper.make_tensor_value_info("y", 1, [4, 8])],
        [w, b],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


def test_validate_reports_errors_and_latencies(tmp_path):
    model = _mlp()
    artifact = compile_model(model, output_dir=tmp_path / "mlp")
    v = validate_artifact(artifact, model, runs=5, threads=1)
    assert v.within_tolerance
    assert 0.0 <= v.max_abs_error < 1e-4
    assert v.latency_ms > 0 and v.ort_latency_ms > 0 and v.runs == 5


def test_validate_detects_a_wrong_artifact(tmp_path):
    model = _mlp()
    artifact = compile_model(model, output_dir=tmp_path / "mlp")
    other = _mlp()
    other.graph.node[2].op_type = "Sigmoid"  # the reference now computes something else
    v = validate_artifact(artifact, other, runs=1, threads=1)
    assert not v.within_tolerance and v.max_abs_error > 0.1


def test_compile_option_puts_the_comparison_in_the_report(tmp_path):
    import json

    from compiler_core.runtime import InferenceSession

    model = _mlp()
    artifact = compile_model(model, output_dir=tmp_path / "mlp",
                             options={"compare_with_onnxruntime": True})
    report = json.loads((artifact / "report.json").read_text())
    assert report["within_tolerance"] is True and report["max_abs_error"] < 1e-4
    assert report["latency_ms"] > 0 and report["ort_latency_ms"] > 0
    assert report["validation"]["runs"] == 10
    v = report["validation"]  # the spread the dashboard's latency chart draws
    assert v["latency_p10_ms"] <= v["latency_ms"] <= v["latency_p90_ms"]
    assert v["ort_latency_p10_ms"] <= v["ort_latency_ms"] <= v["ort_latency_p90_ms"]
    # every fused block's kernel timed, in the plan's blocks (the dashboard's time-per-block chart)
    plan_blocks = {b["id"] for b in json.loads((artifact / "plan.json").read_text())["blocks"]}
    times = v["block_us"]
    assert {t["block"] for t in times} == plan_blocks and len(times) == len(plan_blocks)
    assert all(t["us"] >= 0 and t["kernel"] for t in times)
    assert sum(t["us"] for t in times) / 1e3 <= 2 * v["latency_p90_ms"] + 1.0
    InferenceSession(artifact).close()  # the manifest's hash of report.json still verifies
