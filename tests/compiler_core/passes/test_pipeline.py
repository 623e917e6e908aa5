"""The pipeline as a whole: contract, invariants, refusals, real models."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir
import pytest
from onnx import TensorProto, helper

from bench.real_models import real_model_path
from compiler_core.errors import ShapeError
from compiler_core.passes import ALL_RULES, Exactness, Kind, RewriteReport, explain, rewrite_model

from .util import model, node, ops, rand, rewrite_and_check, run, to_ir

F = np.float32


def test_every_rule_documents_itself() -> None:
    for r in ALL_RULES:
        assert r.name and "->" in r.algebra and r.root_ops, r.name
        assert isinstance(r.kind, Kind) and isinstance(r.exactness, Exactness)
        if r.exactness is Exactness.CONDITIONAL:
            assert r.condition, r.name
    assert {r.kind for r in ALL_RULES} == set(Kind)


def test_report_and_idempotence() -> None:
    proto = model(
        [
            node("Identity", ["X"], "i"),
            node("Mul", ["i", "c1"], "a"),
            node("Mul", ["i", "c2"], "b"),
            node("Add", ["a", "b"], "y"),
        ],
        {"X": ((4, 8), F)},
        ["y"],
        {"c1": rand(8, seed=1), "c2": rand(8, seed=2)},
    )
    m, report = rewrite_and_check(proto, {"X": rand(4, 8)})
    assert isinstance(report, RewriteReport)
    assert report == RewriteReport({"identity_remove": 1, "dist_mul_add": 1}, 4, 1)
    again = rewrite_model(m)
    assert again.counts == {} and again.nodes_before == again.nodes_after == 1


def test_rewritten_root_that_is_a_graph_output_keeps_its_name_and_other_outputs() -> None:
    # y (rewritten) and z (consumes an interior node) are both outputs
    proto = model(
        [
            node("Mul", ["X", "C"], "xc"),
            node("Mul", ["X", "B"], "xb"),
            node("Add", ["xc", "xb"], "y"),
            node("Relu", ["xc"], "z"),
        ],
        {"X": ((4, 8), F), "B": ((4, 8), F), "C": ((4, 8), F)},
        ["y", "z", "xb"],
    )
    feeds = {"X": rand(4, 8), "B": rand(4, 8, seed=1), "C": rand(4, 8, seed=2)}
    m, report = rewrite_and_check(proto, feeds)
    # xc and xb stay alive (z and a graph output need them): the rewrite would add FLOPs
    assert report.counts == {} and sorted(ops(m)) == ["Add", "Mul", "Mul", "Relu"]


def test_explain_gives_reasons() -> None:
    proto = model(
        [node("Relu", ["X"], "r"), node("Mul", ["r", "r"], "y")], {"X": ((2, 3), F)}, ["y"]
    )
    outcomes = {rule: why for (_, rule, why) in explain(to_ir(proto))}
    assert "factor" in outcomes["assoc_square_reducesum"]  # r*r: as large as the product
    assert outcomes["assoc_abs_merge"] == "fewer than two Abs factors"
    assert "dist_mul_add" not in outcomes  # its root is an Add


def test_dynamic_shape_is_refused() -> None:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["X"], ["i"]), helper.make_node("Relu", ["i"], ["y"])],
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["n", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])],
    )
    proto = onnx.shape_inference.infer_shapes(helper.make_model(graph))
    with pytest.raises(ShapeError, match="dynamic"):
        rewrite_model(ir.serde.deserialize_model(proto))


def _real(name: str, shape: tuple[int, ...], extra_output: str | None = None):
    from compiler_core import frontend

    path = real_model_path(name)  # raises, naming the folders searched, when missing
    m = frontend.import_model(str(path), input_shapes={"x": shape}).model
    if extra_output:  # the logits before the final activation, for a meaningful comparison
        (last,) = [n for n in m.graph if n.op_type == extra_output]
        m.graph.outputs.append(last.inputs[0])
    feeds = {"x": np.random.default_rng(0).uniform(-2, 2, shape).astype(F)}
    expected = run(ir.serde.serialize_model(m), feeds)
    report = rewrite_model(m)
    got = run(ir.serde.serialize_model(m), feeds)
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-3, atol=1e-4)
    return m, report


@pytest.mark.slow
def test_ppocr_cls() -> None:
    m, report = _real("ppocr_mobile_v2_cls.onnx", (1, 3, 48, 192))
    assert report.counts["batchnorm_into_conv"] == 35
    assert report.counts["recognize_hardswish"] == 18
    assert not {"BatchNormalization", "Clip", "Div", "Identity"} & set(ops(m))
    assert report.nodes_after < report.nodes_before * 0.6


@pytest.mark.slow
def test_ppocr_det() -> None:
    m, report = _real("ppocr_v4_det.onnx", (1, 3, 640, 640), extra_output="Sigmoid")
    assert report.counts["recognize_hardswish"] == 24
    assert report.counts["conv_mul_fold"] >= 28 and report.counts["conv_add_fold"] >= 28
    assert not {"BatchNormalization", "Clip", "Div"} & set(ops(m))
    assert report.nodes_after < report.nodes_before * 0.65
