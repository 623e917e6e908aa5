"""Tensor sizes checked and the memory need bounded right after import, before planning."""

from __future__ import annotations

import onnx_ir as ir
import pytest

from compiler_core.compile import compile_model
from compiler_core.errors import DnnFusionError, ResourceLimitError, ShapeError
from compiler_core.frontend import import_model
from compiler_core.frontend.memory import MAX_TENSOR_BYTES, estimate_memory, tensor_bytes
from compiler_core.limits import DEFAULT_MEMORY_LIMIT_BYTES, MEMORY_LIMIT_ENV, memory_limit
from compiler_core.pipeline import plan_planned
from tests.compiler_core.codegen.util import model, node, vi, weight


def mlp():
    """x[2,8] @ w[8,4] + b[4] -> Relu -> y[2,4]; m and a are the intermediates."""
    nodes = [node("MatMul", ["x", "w"], ["m"]), node("Add", ["m", "b"], ["a"]),
             node("Relu", ["a"], ["y"])]
    return model(nodes, [vi("x", [2, 8])], [vi("y", [2, 4])],
                 [weight("w", [8, 4]), weight("b", [4], seed=1)])


def test_tensor_bytes():
    assert tensor_bytes("t", [2, 3], ir.DataType.FLOAT, "m") == 24
    assert tensor_bytes("t", [5], ir.DataType.INT4, "m") == 3  # 2.5 bytes, rounded up
    assert tensor_bytes("t", [], ir.DataType.DOUBLE, "m") == 8
    assert tensor_bytes("t", [3], ir.DataType.STRING, "m") == 24  # a pointer each
    assert tensor_bytes("t", [MAX_TENSOR_BYTES], ir.DataType.UINT8, "m") == MAX_TENSOR_BYTES
    with pytest.raises(ShapeError, match=r"m: tensor 't' of shape \[2, 140737488355328\] "
                       r"\(UINT8\) would take 281474976710656 bytes"):
        tensor_bytes("t", [2, MAX_TENSOR_BYTES], ir.DataType.UINT8, "m")


def test_estimate_counts_weights_inputs_outputs_and_the_largest_intermediate():
    imported = import_model(mlp())
    est = estimate_memory(imported.model, imported.source)
    assert (est.weights, est.inputs, est.outputs) == (8 * 4 * 4 + 4 * 4, 2 * 8 * 4, 2 * 4 * 4)
    assert est.largest is not None and est.largest.name == "m"  # first of two 32-byte ones
    assert (est.largest.shape, est.largest.nbytes) == ((2, 4), 32)
    assert est.total == 144 + 64 + 32 + 32


def test_refused_before_rewriting_and_planning():
    stages: list[str] = []
    with pytest.raises(ResourceLimitError) as info:
        plan_planned(mlp(), memory_limit_bytes=271, progress=stages.append)
    assert stages == ["importing"]
    assert str(info.value) == (
        "<ModelProto>: at these input shapes the model needs about 272 B (weights 144 B + "
        "inputs 64 B + outputs 32 B + largest intermediate 'm' [2, 4] FLOAT 32 B), over the "
        "memory limit of 271 B; set memory_limit_bytes (or $DNNFUSION_MEMORY_LIMIT_BYTES)")
    assert plan_planned(mlp(), memory_limit_bytes=272).plan.fused_blocks >= 1


def test_compile_option_reaches_the_early_check(tmp_path):
    stages: list[str] = []
    with pytest.raises(ResourceLimitError, match="needs about 272 B"):
        compile_model(mlp(), output_dir=tmp_path / "a", options={"memory_limit_bytes": 100},
                      progress=stages.append)
    assert stages == ["importing"]


def test_exact_check_after_generation_uses_the_same_default(tmp_path, monkeypatch):
    planned = plan_planned(mlp())
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "100")  # under arena + weights (>= 144 B of weights)
    with pytest.raises(ResourceLimitError, match=r"over the memory limit of 100 bytes "
                       r"\(100 B\); set memory_limit_bytes"):
        compile_model(planned, output_dir=tmp_path / "a")


def test_memory_limit_resolution(monkeypatch):
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    assert memory_limit() == DEFAULT_MEMORY_LIMIT_BYTES == 8 * 1024**3
    monkeypatch.setenv(MEMORY_LIMIT_ENV, " 12345 ")
    assert memory_limit() == 12345
    assert memory_limit(99) == 99  # the option wins
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "lots")
    with pytest.raises(DnnFusionError, match="DNNFUSION_MEMORY_LIMIT_BYTES must be a positive"):
        memory_limit()
    for bad in (0, -5, "8G", True, 1.5):
        with pytest.raises(DnnFusionError, match="memory_limit_bytes must be a positive"):
            memory_limit(bad)


def test_pinned_dims_beyond_int64_are_a_shape_error():
    m = model([node("Relu", ["x"], ["y"])], [vi("x", ["n", 4])], [vi("y", ["n", 4])])
    with pytest.raises(ShapeError, match=r"tensor 'x' of shape \[99999999999999999999, 4\]"):
        import_model(m, {"x": (10**20 - 1, 4)})


def test_weight_declared_as_a_dynamic_input_counts_its_data():
    """IR < 4 style: the weight is also a graph input, declared [N, 4]; its data is [2, 4]."""
    from onnx import TensorProto, helper

    w = weight("w", [2, 4])
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])], "g",
        [vi("x", [2, 4]), helper.make_tensor_value_info("w", TensorProto.FLOAT, ["N", 4])],
        [vi("y", [2, 4])], [w])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    imported = import_model(m)
    est = estimate_memory(imported.model, imported.source)
    assert (est.weights, est.inputs, est.outputs, est.largest) == (32, 32, 32, None)
