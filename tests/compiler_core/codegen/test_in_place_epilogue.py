"""In-place epilogues: an anchor whose only reader is the element-wise epilogue computing one
block output writes its tiles into that output, and the epilogue rewrites them in place
(codegen/kernel.py ``BlockKernel.find_in_place``). Checked against ONNX Runtime, with the
blocks' operators, and by where the anchor writes in the generated C."""

from __future__ import annotations

import re

import numpy as np

from tests.compiler_core.codegen.util import compile_and_check, const, model, node, vi, weight


def _kernel(out, k: int = 0) -> str:
    text = (out / "model.c").read_text()
    return text.split(f"static void k{k}(", 1)[1].split("\n}\n", 1)[0]


def _arena_pointers(kernel: str) -> int:
    return len(re.findall(r"c->arena \+", kernel))


def _conv_relu(extra_outputs=(), residual=False):
    nodes = [node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1])]
    y_in = "c"
    if residual:
        nodes.append(node("Add", ["c", "r"], ["s"]))
        y_in = "s"
    nodes.append(node("Relu", [y_in], ["y"]))
    inputs = [vi("x", [1, 16, 14, 14])] + ([vi("r", [1, 24, 14, 14])] if residual else [])
    outputs = [vi("y", [1, 24, 14, 14])] + [vi(n, [1, 24, 14, 14]) for n in extra_outputs]
    return model(nodes, inputs, outputs,
                 [weight("w", [24, 16, 3, 3], seed=1, scale=0.2), weight("b", [24], seed=2)])


def test_conv_relu_writes_into_the_block_output(tmp_path):
    _, out = compile_and_check(_conv_relu(), tmp_path, blocks=[["Conv", "Relu"]])
    k = _kernel(out)
    # only the conv's workspace lives in the arena: the conv tile goes to the output buffer
    assert _arena_pointers(k) == 1 and "ws0" in k


def test_conv_residual_relu_in_place(tmp_path):
    proto = _conv_relu(residual=True)
    _, out = compile_and_check(proto, tmp_path, blocks=[["Conv", "Add", "Relu"]])
    assert _arena_pointers(_kernel(out)) == 1


def test_gemm_bias_relu_in_place(tmp_path):
    proto = model(
        [node("MatMul", ["x", "w"], ["m"]), node("Add", ["m", "b"], ["a"]),
         node("Relu", ["a"], ["y"])],
        [vi("x", [64, 96])], [vi("y", [64, 80])],
        [weight("w", [96, 80], seed=3, scale=0.1), weight("b", [80], seed=4)],
    )
    _, out = compile_and_check(proto, tmp_path, blocks=[["MatMul", "Add", "Relu"]])
    assert _arena_pointers(_kernel(out)) == 0


def test_anchor_output_also_a_graph_output_keeps_its_own_buffer(tmp_path):
    """``c`` is read after the block: the conv must not be overwritten by the epilogue."""
    _, out = compile_and_check(_conv_relu(extra_outputs=("c",)), tmp_path,
                               blocks=[["Conv", "Relu"]])
    k = _kernel(out)
    assert k.count("c->out[") == 2


def test_two_epilogue_outputs_are_not_in_place(tmp_path):
    """Two values computed from the conv in one epilogue stage: writing the first in place
    would change what the second reads, so neither takes the conv's storage."""
    proto = model(
        [node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
         node("Relu", ["c"], ["y"]), node("Sigmoid", ["c"], ["z"])],
        [vi("x", [1, 16, 14, 14])], [vi("y", [1, 24, 14, 14]), vi("z", [1, 24, 14, 14])],
        [weight("w", [24, 16, 3, 3], seed=1, scale=0.2), weight("b", [24], seed=2)],
    )
    _, out = compile_and_check(proto, tmp_path, blocks=[["Conv", "Relu", "Sigmoid"]])
    assert _arena_pointers(_kernel(out)) == 2  # the conv output and the im2col workspace


def test_gemm_reshaped_residual_runs_on_the_tiles_in_place(tmp_path):
    """GPT-2's ``Gemm [S, H] -> Reshape [1, S, H] -> Add residual``: the epilogue's shape is the
    anchor's with a leading 1, same rows, so it runs on the GEMM's tiles and in place."""
    proto = model(
        [node("Gemm", ["x", "w", "b"], ["g"]), node("Reshape", ["g", "shape"], ["r"]),
         node("Add", ["r", "res"], ["y"])],
        [vi("x", [48, 64]), vi("res", [1, 48, 80])], [vi("y", [1, 48, 80])],
        [weight("w", [64, 80], seed=5, scale=0.1), weight("b", [80], seed=6),
         const("shape", np.array([1, 48, 80], dtype=np.int64))],
    )
    _, out = compile_and_check(proto, tmp_path, blocks=[["Gemm", "Reshape", "Add"]])
    k = _kernel(out)
    assert _arena_pointers(k) == 0
    assert k.count("#pragma omp") <= 1  # no second parallel pass for the residual add


def test_squeezed_epilogue_of_a_batched_matmul(tmp_path):
    """The other way round: MatMul ``[1, S, H]`` -> Reshape ``[S, H]`` -> Relu."""
    proto = model(
        [node("MatMul", ["x", "w"], ["m"]), node("Reshape", ["m", "shape"], ["r"]),
         node("Relu", ["r"], ["y"])],
        [vi("x", [1, 40, 64])], [vi("y", [40, 72])],
        [weight("w", [64, 72], seed=7, scale=0.1),
         const("shape", np.array([40, 72], dtype=np.int64))],
    )
    _, out = compile_and_check(proto, tmp_path, blocks=[["MatMul", "Reshape", "Relu"]])
    assert _arena_pointers(_kernel(out)) == 0


def _shortcut(hw: int, c: int, k3: int, later_reader: bool = False, x_is_residual=False):
    """A ResNet shortcut between arena tensors: ``r = Relu(Conv1x1(x))``, ``t =
    Relu(Conv1x1(r))``, ``s = Relu(Conv1x1(t, depth k3) + r)``, ``y = Conv1x1(s)`` (or, with
    ``later_reader``, ``y = Conv1x1(s) + r``: r still read after the shortcut's block;
    with ``x_is_residual``, the third conv reads r itself: ``s = Relu(Conv1x1(r) + r)``)."""
    shape = [1, c, hw, hw]
    third_in = "r" if x_is_residual else "t"
    nodes = [node("Conv", ["x", "w0"], ["c0"]), node("Relu", ["c0"], ["r"]),
             node("Conv", ["r", "w1"], ["c1"]), node("Relu", ["c1"], ["t"]),
             node("Conv", [third_in, "w2"], ["c2"]), node("Add", ["c2", "r"], ["a"]),
             node("Relu", ["a"], ["s"]), node("Conv", ["s", "w3"], ["y" if not later_reader
                                                                   else "c3"])]
    if later_reader:
        nodes.append(node("Add", ["c3", "r"], ["y"]))
    w2_in = c if x_is_residual else k3
    return model(nodes, [vi("x", shape)], [vi("y", shape)],
                 [weight("w0", [c, c, 1, 1], 1, 0.2), weight("w1", [k3, c, 1, 1], 2, 0.2),
                  weight("w2", [c, w2_in, 1, 1], 3, 0.2), weight("w3", [c, c, 1, 1], 4, 0.2)])


def _stored_over_residual(kernel: str) -> bool:
    """The block output is stored at the residual's arena offset."""
    reads = set(re.findall(r"\(const float\*\)\(c->arena \+ (\d+)\)", kernel))
    writes = set(re.findall(r"= \(float\*\)\(c->arena \+ (\d+)\)", kernel))
    return bool(reads & writes)


def _shortcut_blocks(proto, tmp_path, last=("Conv",)):
    blocks = [["Conv", "Relu"], ["Conv", "Relu"], ["Conv", "Add", "Relu"], list(last)]
    return compile_and_check(proto, tmp_path, blocks=blocks)[1]


def test_conv_output_stored_over_a_residual_that_dies(tmp_path):
    """The shortcut ``r`` dies at the Add: the conv + Add + Relu block stores its output over
    it (``BlockKernel.find_residual_storage``, ``generate._stored_over_residuals``) on the
    dnf_gemm_pa path (20x20, depth 64: one partial sum) and on the transposed packed path
    (14x14, 64 channels); no other block shares storage so."""
    for hw in (20, 14):
        out = _shortcut_blocks(_shortcut(hw, 64, 64), tmp_path)
        assert _stored_over_residual(_kernel(out, 2)), hw
        assert not any(_stored_over_residual(_kernel(out, k)) for k in (0, 1, 3))


def test_conv_output_not_stored_over_a_residual_read_later_or_too_deep(tmp_path):
    """No sharing when ``r`` is read after the block, when dnf_gemm_pa stores partial sums
    first (depth 300 > 256), or when the conv reads ``r`` itself."""
    out = _shortcut_blocks(_shortcut(20, 64, 64, later_reader=True), tmp_path, ["Conv", "Add"])
    assert not _stored_over_residual(_kernel(out, 2))
    out = _shortcut_blocks(_shortcut(20, 64, 300), tmp_path)
    assert not _stored_over_residual(_kernel(out, 2))
    proto = _shortcut(20, 64, 64, x_is_residual=True)  # t is dead: no second block
    blocks = [["Conv", "Relu"], ["Conv", "Add", "Relu"], ["Conv"]]
    out = compile_and_check(proto, tmp_path, blocks=blocks)[1]
    assert not _stored_over_residual(_kernel(out, 1))
