"""Blocks of kind "horizontal" (issue #13): sibling MatMuls on one input as one sgemm on
concatenated weights, each epilogue on its columns, compared with ONNX Runtime."""

from __future__ import annotations

import json

import pytest

from compiler_core.pipeline import plan_planned
from tests.compiler_core.codegen.util import compile_and_check, model, node, vi, weight

pytestmark = pytest.mark.slow  # each case compiles a model and runs it against ORT


def siblings(rows_shape, k, widths, *, relu_on=(), extra_reader=False):
    """``x [*rows_shape, k]`` read by one ``MatMul -> Add(bias)`` per width (a Relu after the
    ones in ``relu_on``); ``extra_reader``: the first MatMul's raw output is a graph output."""
    nodes, outputs, inits = [], [], []
    for j, n in enumerate(widths):
        nodes += [node("MatMul", ["x", f"w{j}"], [f"m{j}"]), node("Add", [f"m{j}", f"b{j}"],
                                                                  [f"a{j}"])]
        last = f"a{j}"
        if j in relu_on:
            nodes.append(node("Relu", [last], [f"r{j}"]))
            last = f"r{j}"
        outputs.append(vi(last, [*rows_shape, n]))
        inits += [weight(f"w{j}", [k, n], 2 * j + 1, 0.3), weight(f"b{j}", [n], 2 * j + 2)]
    if extra_reader:
        outputs.append(vi("m0", [*rows_shape, widths[0]]))
    return model(nodes, [vi("x", [*rows_shape, k])], outputs, inits)


@pytest.mark.parametrize(
    ("rows_shape", "k", "widths", "relu_on"),
    [
        ((1, 16), 32, (32, 32, 32), ()),  # Q, K, V
        ((2, 7), 12, (5, 7, 12), (1,)),  # odd widths, batch 2, a Relu epilogue
        ((70,), 40, (24, 40), (0, 1)),  # 2-D input, several row tiles
        ((1, 16), 64, (64, 64, 72), (2,)),  # more columns than rows: column blocks per thread
    ],
)
def test_horizontal_matches_ort(rows_shape, k, widths, relu_on, tmp_path):
    proto = siblings(rows_shape, k, widths, relu_on=relu_on)
    planned, out = compile_and_check(proto, tmp_path, blocks=1)
    (blk,) = planned.plan.blocks
    assert blk.kind == "horizontal"
    assert blk.floor_blocks == len(widths)
    assert blk.ops.count("MatMul") == len(widths)
    report = json.loads((out / "report.json").read_text())
    assert [b["kind"] for b in report["blocks"]] == ["horizontal"]
    column_split = "omp_get_num_threads()" in (out / "model.c").read_text()
    assert (out / "model.c").read_text().count("/* block 0: MatMul Add") == 1  # page's mark
    assert column_split == (sum(widths) == 200)


def test_horizontal_block_contents_and_option():
    proto = siblings((1, 16), 32, (32, 32, 32))
    (blk,) = plan_planned(proto, rewrite=False).plan.blocks
    assert blk.ops == ["MatMul", "Add"] * 3
    assert blk.inputs[0] == "x"
    assert sorted(blk.outputs) == ["a0", "a1", "a2"]
    off = plan_planned(proto, rewrite=False, beyond_floor=False).plan.blocks
    assert [b.ops for b in off] == [["MatMul", "Add"]] * 3
    assert all(b.kind == "fused" for b in off)


def test_a_sibling_whose_product_is_read_elsewhere_stays_apart(tmp_path):
    """The first MatMul's raw product is also a graph output: that sibling keeps its own
    block, the other two still share one."""
    proto = siblings((1, 8), 16, (8, 8, 8), extra_reader=True)
    planned, _ = compile_and_check(
        proto, tmp_path, blocks=[["MatMul", "Add"], ["MatMul", "Add", "MatMul", "Add"]])
    assert [b.kind for b in planned.plan.blocks] == ["fused", "horizontal"]
    assert planned.plan.blocks[0].outputs == ["m0", "a0"]


def test_a_sibling_reading_another_siblings_result_is_left_out(tmp_path):
    """``a1 = x w1 + b1 + a0`` reads sibling 0's result: it cannot run beside it in one
    GEMM's epilogue, so at most the independent siblings share a block; numbers match ORT.
    Sibling 0 keeps its bias Add as its epilogue and takes the final Add (reading the other
    block's a1b): the planner leaves ``a0 = m0 + b0`` to its MatMul rather than making it a
    prologue of the sibling block (greedy ``_escaping_prologue``)."""
    proto = siblings((1, 8), 16, (8, 8, 8))
    g = proto.graph
    for n in g.node:
        if n.op_type == "Add" and n.output[0] == "a1":
            n.output[0] = "a1b"
    g.node.append(node("Add", ["a1b", "a0"], ["a1"]))
    planned, _ = compile_and_check(
        proto, tmp_path, blocks=[["MatMul", "Add", "MatMul", "Add"], ["MatMul", "Add", "Add"]])
    for blk in planned.plan.blocks:
        if blk.kind == "horizontal":
            assert "a0" not in blk.inputs and blk.ops.count("MatMul") == 2
