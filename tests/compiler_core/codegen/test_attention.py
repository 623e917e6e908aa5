"""Blocks of kind "attention" (issue #13): MatMul -> scale -> (Where) -> (Add mask) -> Softmax
-> MatMul as one kernel, compared with ONNX Runtime, and the plan that states it."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from onnx import TensorProto

from compiler_core.compile import compile_model
from compiler_core.pipeline import plan_planned
from compiler_core.planner.report import summary_text
from compiler_core.runtime import InferenceSession
from tests.compiler_core.codegen.util import compile_and_check, const, model, node, vi, weight
from tests.helpers.ort import run_ort

pytestmark = pytest.mark.slow  # each case compiles a model and runs it against ORT


def attention_graph(b, s, nh, dh, *, mask=None, scale="Div", causal=None, proj=True):
    """BERT/GPT-2-style self-attention on ``x [b, s, nh*dh]``: Q, K, V projections with bias,
    Reshape/Transpose to heads, scores scaled, optionally a causal mask (``causal``: "where",
    GPT-2's Where(tril, scores, min), or "add", an additive 0/-1e9 constant), optionally a
    padding mask input ``mask [b, 1, 1, s]`` added, Softmax, P·V, heads merged back, an output
    projection when ``proj``."""
    h = nh * dh
    nodes = []
    for t, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
        nodes += [
            node("MatMul", ["x", f"w{t}"], [f"{t}0"]), node("Add", [f"{t}0", f"b{t}"], [f"{t}1"]),
            node("Reshape", [f"{t}1", "hs"], [f"{t}2"]),
            node("Transpose", [f"{t}2"], [f"{t}3"], perm=perm),
        ]
    nodes.append(node("MatMul", ["q3", "k3"], ["sc0"]))
    if scale == "Div":
        nodes.append(node("Div", ["sc0", "sqrt_d"], ["sc1"]))
    else:
        nodes.append(node("Mul", ["sc0", "inv_sqrt_d"], ["sc1"]))
    last = "sc1"
    tri = np.tril(np.ones((s, s), bool)).reshape(1, 1, s, s)
    inits = [const("hs", np.array([b, s, nh, dh], np.int64)),
             const("hs2", np.array([b, s, h], np.int64)),
             const("sqrt_d", np.float32(np.sqrt(dh))),
             const("inv_sqrt_d", np.float32(1 / np.sqrt(dh)))]
    if causal == "where":
        nodes.append(node("Where", ["tri", last, "neg"], ["sc2"]))
        inits += [const("tri", tri), const("neg", np.float32(np.finfo(np.float32).min))]
        last = "sc2"
    elif causal == "add":
        nodes.append(node("Add", [last, "causal"], ["sc2"]))
        inits.append(const("causal", np.where(tri, 0.0, -1e9).astype(np.float32)))
        last = "sc2"
    if mask is not None:
        nodes.append(node("Add", [last, "mask"], ["sc3"]))
        last = "sc3"
    nodes += [
        node("Softmax", [last], ["p"], axis=-1),
        node("MatMul", ["p", "v3"], ["c0"]),
        node("Transpose", ["c0"], ["c1"], perm=[0, 2, 1, 3]),
        node("Reshape", ["c1", "hs2"], ["ctx" if proj else "y"]),
    ]
    if proj:
        nodes += [node("MatMul", ["ctx", "wo"], ["o0"]), node("Add", ["o0", "bo"], ["y"])]
        inits += [weight("wo", [h, h], 7, 0.2), weight("bo", [h], 8)]
    for seed, t in enumerate("qkv"):
        inits += [weight(f"w{t}", [h, h], 2 * seed + 1, 0.3), weight(f"b{t}", [h], 2 * seed + 2)]
    inputs = [vi("x", [b, s, h])]
    if mask is not None:
        inputs.append(vi("mask", mask))
    return model(nodes, inputs, [vi("y", [b, s, h])], inits)


def _padding_feeds(proto, b, s):
    """x random, the padding mask 0 on the first positions and -10000 on the last two."""
    def feeds(seed):
        rng = np.random.default_rng(seed)
        h = proto.graph.input[0].type.tensor_type.shape.dim[2].dim_value
        f = {"x": rng.standard_normal((b, s, h)).astype(np.float32)}
        if len(proto.graph.input) > 1:
            m = np.zeros((b, 1, 1, s), np.float32)
            m[..., -2:] = -10000.0
            f["mask"] = m
        return f
    return feeds


def _attention_blocks(planned):
    return [b for b in planned.plan.blocks if b.kind == "attention"]


@pytest.mark.parametrize(
    ("b", "s", "nh", "dh", "mask", "scale", "causal"),
    [
        (1, 16, 4, 8, [1, 1, 1, 16], "Div", None),  # BERT: padding mask
        (2, 7, 3, 12, None, "Mul", None),  # odd sizes, no mask, batch 2
        (2, 40, 2, 12, [2, 1, 1, 40], "Div", None),  # two row blocks, the last one short
        (1, 7, 2, 12, None, "Div", "where"),  # GPT-2: Where(tril, scores, min)
        (2, 9, 2, 12, [2, 1, 1, 9], "Mul", "add"),  # additive causal mask + padding mask
        (1, 1100, 1, 8, None, "Div", "where"),  # long rows: 59-row blocks (256 KiB slots)
    ],
)
def test_attention_matches_ort(b, s, nh, dh, mask, scale, causal, tmp_path):
    proto = attention_graph(b, s, nh, dh, mask=mask, scale=scale, causal=causal)
    planned, out = compile_and_check(proto, tmp_path, feeds=_padding_feeds(proto, b, s))
    (att,) = _attention_blocks(planned)
    assert att.floor_blocks == 3
    assert att.ops.count("MatMul") == 2 and att.ops.count("Softmax") == 1
    report = json.loads((out / "report.json").read_text())
    kinds = [blk["kind"] for blk in report["blocks"]]
    assert kinds.count("attention") == 1
    # every kernel keeps the "/* block N:" mark the report page finds its C by
    marks = re.findall(r"^/\* block (\d+):", (out / "model.c").read_text(), re.MULTILINE)
    assert [int(m) for m in marks] == list(range(len(kinds)))


def test_attention_block_contents_and_option(tmp_path):
    """The block takes the chain and the head Reshape/Transposes (views), reads the bias-added
    projections and the mask, writes the merged-heads context; with ``beyond_floor`` off the
    plan has the floor's three kernels instead of one."""
    proto = attention_graph(1, 16, 4, 8, mask=[1, 1, 1, 16])
    on = plan_planned(proto, rewrite=False)
    off = plan_planned(proto, rewrite=False, beyond_floor=False)
    (att,) = _attention_blocks(on)
    assert att.ops == ["Reshape", "Transpose", "Reshape", "Transpose", "Reshape", "Transpose",
                       "MatMul", "Div", "Add", "Softmax", "MatMul", "Transpose", "Reshape"]
    assert sorted(att.inputs) == ["k1", "mask", "q1", "v1"]
    assert att.outputs == ["ctx"]
    assert att.removed_bytes > 4 * 16 * 16 * 4  # the score matrix (4 heads x 16 x 16) at least
    assert not _attention_blocks(off)
    assert all(blk.kind == "fused" for blk in off.plan.blocks)
    # Q, K, V projections (1 horizontal block), attention (1), output projection (1); the
    # floor plan: 3 + 3 + 1.
    assert [blk.kind for blk in on.plan.blocks] == ["horizontal", "attention", "fused"]
    assert len(off.plan.blocks) == 7, [blk.ops for blk in off.plan.blocks]
    assert on.plan.options["beyond_floor"] is True
    assert ("beyond the floor              attention 1, horizontal 1 (blocks replacing 6 floor "
            "kernels)") in summary_text(on.plan).splitlines()
    assert "beyond the floor" not in summary_text(off.plan)
    # Both compile to the same numbers (ORT as the reference).
    feeds = _padding_feeds(proto, 1, 16)(0)
    want = run_ort(proto, feeds)["y"]
    for name, opt in (("on", True), ("off", False)):
        art = compile_model(proto, output_dir=tmp_path / name,
                            options={"beyond_floor": opt, "rewrite": False})
        with InferenceSession(art) as sess:
            (got,) = sess.run(None, feeds)
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


def test_attention_output_is_graph_output(tmp_path):
    """No projection after the heads merge: the kernel writes the graph output itself."""
    proto = attention_graph(1, 12, 2, 12, proj=False)
    planned, _ = compile_and_check(proto, tmp_path)
    (att,) = _attention_blocks(planned)
    assert att.outputs == ["y"]


def test_chain_with_a_second_reader_stays_on_the_floor():
    """Probabilities that are also a graph output, or a Softmax over another axis, are not
    the pattern: the plan keeps the floor's kernels (no block of kind "attention")."""
    proto = attention_graph(1, 8, 2, 4)
    proto.graph.output.append(vi("p", [1, 2, 8, 8]))
    assert not _attention_blocks(plan_planned(proto, rewrite=False))
    proto = attention_graph(1, 8, 2, 4)
    for n in proto.graph.node:
        if n.op_type == "Softmax":
            n.attribute[0].i = 2
    assert not _attention_blocks(plan_planned(proto, rewrite=False))


def test_a_computed_mask_leaves_the_projections_whole(tmp_path):
    """BERT's first layer: the mask is computed in the graph (Cast, Sub, Mul of an int
    input) and the planner fused it with the bias additions into the scores' prologue; with
    the scores in the attention block, the bias additions go back to their projections, which
    then form one horizontal block."""
    b, s, nh, dh = 1, 16, 4, 8
    proto = attention_graph(b, s, nh, dh, mask=[b, 1, 1, s])
    g = proto.graph
    g.input.pop()  # "mask" becomes computed from an int64 0/1 input
    g.input.append(vi("ids_mask", [b, 1, 1, s], TensorProto.INT64))
    g.node.insert(0, node("Cast", ["ids_mask"], ["mf"], to=TensorProto.FLOAT))
    g.node.insert(1, node("Sub", ["one", "mf"], ["inv"]))
    g.node.insert(2, node("Mul", ["inv", "big"], ["mask"]))
    g.initializer.extend([const("one", np.float32(1.0)), const("big", np.float32(-10000.0))])

    def feeds(seed):
        rng = np.random.default_rng(seed)
        m = np.ones((b, 1, 1, s), np.int64)
        m[..., -3:] = 0
        return {"x": rng.standard_normal((b, s, nh * dh)).astype(np.float32), "ids_mask": m}

    planned, _ = compile_and_check(proto, tmp_path, feeds=feeds)
    kinds = [blk.kind for blk in planned.plan.blocks]
    assert kinds.count("attention") == 1 and kinds.count("horizontal") == 1, [
        (blk.kind, blk.ops) for blk in planned.plan.blocks]
