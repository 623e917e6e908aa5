"""Concats in place (issue #13): the producers of a Concat's inputs write straight into its
output; the Concat's block computes nothing. Compared with ONNX Runtime."""

from __future__ import annotations

import json

import pytest

from bench.ablation import kernels
from compiler_core.codegen.concat_view import ConcatViewKernel
from compiler_core.pipeline import plan_planned
from tests.compiler_core.codegen.util import compile_and_check, model, node, plan, vi, weight

pytestmark = pytest.mark.slow  # each case compiles a model and runs it against ORT


def fire(h: int = 9):
    """SqueezeNet's fire module: ``s = Relu(Conv1x1(x))``, two expands ``e1 = Relu(Conv1x1(s))``
    (8 channels) and ``e3 = Relu(Conv3x3(s))`` (8 channels), ``y = Concat(e1, e3)`` on the
    channels, then ``out = Conv1x1(y)`` (6 channels)."""
    nodes = [
        node("Conv", ["x", "ws", "bs"], ["s0"]), node("Relu", ["s0"], ["s"]),
        node("Conv", ["s", "w1", "b1"], ["e10"]), node("Relu", ["e10"], ["e1"]),
        node("Conv", ["s", "w3", "b3"], ["e30"], pads=[1, 1, 1, 1]), node("Relu", ["e30"], ["e3"]),
        node("Concat", ["e1", "e3"], ["y"], axis=1),
        node("Conv", ["y", "wo", "bo"], ["out"]),
    ]
    inits = [weight("ws", [4, 5, 1, 1], 1, 0.4), weight("bs", [4], 2),
             weight("w1", [8, 4, 1, 1], 3, 0.4), weight("b1", [8], 4),
             weight("w3", [8, 4, 3, 3], 5, 0.2), weight("b3", [8], 6),
             weight("wo", [6, 16, 1, 1], 7, 0.3), weight("bo", [6], 8)]
    return model(nodes, [vi("x", [1, 5, h, h])], [vi("out", [1, 6, h, h])], inits)


def _block(src: str, b: int) -> str:
    return src.split(f"/* block {b}:")[1].split("/* block")[0]


def written(src: str, b: int) -> int:
    """Arena offset of block ``b``'s output (its first writable arena pointer: outputs are
    declared before scratch)."""
    for line in _block(src, b).splitlines():
        if "= (float*)(c->arena + " in line:
            return int(line.split("c->arena + ")[1].split(")")[0])
    raise AssertionError(f"block {b} writes no arena tensor")


def read(src: str, b: int) -> set[int]:
    return {int(line.split("c->arena + ")[1].split(")")[0])
            for line in _block(src, b).splitlines() if "(const float*)(c->arena + " in line}


@pytest.mark.parametrize("h", [9, 7])
def test_fire_module_concat_in_place(h, tmp_path):
    planned, out = compile_and_check(fire(h), tmp_path, blocks=[
        ["Conv", "Relu"], ["Conv", "Relu"], ["Conv", "Relu"], ["Concat"], ["Conv"]])
    kinds = [b.kind for b in planned.plan.blocks]
    assert kinds == ["fused", "fused", "fused", "concat_in_place", "fused"]
    view = planned.plan.blocks[3]
    assert view.output_bytes == 0 and view.floor_blocks == 0
    assert planned.plan.fused_blocks == 4  # the Concat runs no kernel
    report = json.loads((out / "report.json").read_text())
    assert [b["kind"] for b in report["blocks"]][3] == "concat_in_place"
    src = (out / "model.c").read_text()
    assert "block 3: Concat in place" in src
    # e1 and e3 are written as the two slices of y, which the last conv reads
    assert written(src, 2) - written(src, 1) == 8 * h * h * 4
    assert written(src, 1) in read(src, 4)
    assert "c->arena" not in _block(src, 3)
    assert kernels(out) == 4  # bench.ablation's count: the empty function is no kernel


def dense_chain():
    """DenseNet's growth: ``x0 = Conv(x)``, ``y1 = Relu(Conv3x3(x0))``, ``c1 = Concat(x0, y1)``,
    ``y2 = Relu(Conv3x3(c1))``, ``c2 = Concat(c1, y2)``, ``out = Conv1x1(c2)``: c1 and x0 both
    end up inside c2's storage."""
    nodes = [
        node("Conv", ["x", "w0", "b0"], ["x0"]),
        node("Conv", ["x0", "w1", "b1"], ["y10"], pads=[1, 1, 1, 1]), node("Relu", ["y10"], ["y1"]),
        node("Concat", ["x0", "y1"], ["c1"], axis=1),
        node("Conv", ["c1", "w2", "b2"], ["y20"], pads=[1, 1, 1, 1]), node("Relu", ["y20"], ["y2"]),
        node("Concat", ["c1", "y2"], ["c2"], axis=-3),
        node("Conv", ["c2", "wo", "bo"], ["out"]),
    ]
    inits = [weight("w0", [6, 3, 1, 1], 1, 0.5), weight("b0", [6], 2),
             weight("w1", [4, 6, 3, 3], 3, 0.2), weight("b1", [4], 4),
             weight("w2", [4, 10, 3, 3], 5, 0.2), weight("b2", [4], 6),
             weight("wo", [5, 14, 1, 1], 7, 0.3), weight("bo", [5], 8)]
    return model(nodes, [vi("x", [1, 3, 8, 8])], [vi("out", [1, 5, 8, 8])], inits)


def test_dense_chain_in_one_buffer(tmp_path):
    planned, out = compile_and_check(dense_chain(), tmp_path, blocks=[
        ["Conv"], ["Conv", "Relu"], ["Concat"], ["Conv", "Relu"], ["Concat"], ["Conv"]])
    assert [b.kind for b in planned.plan.blocks].count("concat_in_place") == 2
    src = (out / "model.c").read_text()
    c2 = written(src, 0)  # x0 is c1's first slice, c1 is c2's first slice
    assert written(src, 1) == c2 + 6 * 64 * 4  # y1 after x0's 6 channels
    assert written(src, 3) == c2 + 10 * 64 * 4  # y2 after c1's 10 channels
    assert c2 in read(src, 3) and c2 in read(src, 5)


def dense_layer():
    """DenseNet's layer as planned: ``x0 = Relu(Conv(x))``, ``y1 = Conv3x3(x0)``, ``c1 =
    Concat(x0, y1)``, then the next layer's batch norm (``Mul``, ``Add``) and ``Relu`` on c1
    and its 1x1 conv. The planner fuses the norm and Relu after y1's conv, with the Concat
    in between; in place, they become the next conv's prologue instead."""
    nodes = [
        node("Conv", ["x", "w0", "b0"], ["x00"]), node("Relu", ["x00"], ["x0"]),
        node("Conv", ["x0", "w1", "b1"], ["y1"], pads=[1, 1, 1, 1]),
        node("Concat", ["x0", "y1"], ["c1"], axis=1),
        node("Mul", ["c1", "scale"], ["m"]), node("Add", ["m", "shift"], ["a"]),
        node("Relu", ["a"], ["r"]),
        node("Conv", ["r", "wo", "bo"], ["out"]),
    ]
    inits = [weight("w0", [6, 3, 1, 1], 1, 0.5), weight("b0", [6], 2),
             weight("w1", [4, 6, 3, 3], 3, 0.2), weight("b1", [4], 4),
             weight("scale", [1, 10, 1, 1], 5), weight("shift", [1, 10, 1, 1], 6),
             weight("wo", [5, 10, 1, 1], 7, 0.3), weight("bo", [5], 8)]
    return model(nodes, [vi("x", [1, 3, 8, 8])], [vi("out", [1, 5, 8, 8])], inits)


def test_concat_inside_a_block_moves_its_readers_to_the_next_conv(tmp_path):
    planned = plan_planned(dense_layer(), rewrite=False, beyond_floor=False)
    assert [b.ops for b in planned.plan.blocks] == [
        ["Conv", "Relu"], ["Conv", "Concat", "Mul", "Add", "Relu"], ["Conv"]]
    planned, out = compile_and_check(dense_layer(), tmp_path, blocks=[
        ["Conv", "Relu"], ["Conv"], ["Concat"], ["Mul", "Add", "Relu", "Conv"]])
    assert planned.plan.fused_blocks == 3  # as many kernels as planned without it
    src = (out / "model.c").read_text()
    assert written(src, 1) == written(src, 0) + 6 * 64 * 4
    assert written(src, 0) in read(src, 3)


def test_graph_output_and_strided_concats_stay_copies(tmp_path):
    """A Concat that is a graph output, or along an axis whose slices are strided (H of an
    NCHW image with 2 channels), is fused as before: no block of kind concat_in_place."""
    nodes = [
        node("Relu", ["x"], ["a"]), node("Sigmoid", ["x"], ["b"]),
        node("Concat", ["a", "b"], ["y"], axis=1),  # a graph output
        node("Tanh", ["x"], ["t"]), node("Abs", ["x"], ["u"]),
        node("Concat", ["t", "u"], ["z"], axis=2),  # slices strided across channels
        node("Neg", ["z"], ["out"]),
    ]
    proto = model(nodes, [vi("x", [1, 2, 3, 4])],
                  [vi("y", [1, 4, 3, 4]), vi("out", [1, 2, 6, 4])])
    planned, _ = compile_and_check(proto, tmp_path)
    assert all(b.kind != "concat_in_place" for b in planned.plan.blocks)


def test_kernel_emits_an_empty_function():
    planned = plan(fire())
    assert [b.kind for b in planned.plan.blocks].count("concat_in_place") == 1
    k = ConcatViewKernel(block_id=3, name="k3", node_ids=[6], inputs=[], outputs=[],
                         offsets=())
    text = "\n".join(k.emit({}))
    assert "static void k3(" in text and "(void)c;" in text and "for (" not in text
