import onnx

from bench.ort_baseline import (
    Row,
    ort_latency_ms,
    ort_optimized_graph_stats,
    ort_optimized_node_count,
    render_markdown,
)
from bench.synthetic import INPUT_SHAPES, random_inputs, synthetic_graph
from bench.zoo import ZOO


def test_ort_extended_folds_light_squeezenet():
    entry = ZOO["light_squeezenet"]
    count = ort_optimized_node_count(entry.path(), entry.input_shapes)
    file_nodes = len(onnx.load(entry.path()).graph.node)
    # ConstantOfShape weights fold away and Conv+Relu become FusedConv.
    assert 0 < count < file_nodes - 39
    stats = ort_optimized_graph_stats(entry.path(), entry.input_shapes)
    assert stats.nodes == count
    assert stats.ops["com.microsoft.FusedConv"] == 26
    assert stats.constants == stats.ops.get("Constant", 0)


def test_latency_and_report(tmp_path):
    path = tmp_path / "synthetic.onnx"
    onnx.save(synthetic_graph(200), path)
    ms = ort_latency_ms(str(path), random_inputs(0), threads=1, runs=3, warmup=1)
    assert ms > 0
    stats = ort_optimized_graph_stats(str(path), INPUT_SHAPES)
    text = render_markdown([Row("light_squeezenet", "cnn", 200, stats, ms)], threads=1)
    assert "| light_squeezenet | cnn | 200 |" in text and "nproc" in text
