"""Conv anchors (GEMM in place, GEMM over im2col tiles, depthwise loops) with fused prologues
and epilogues, against ONNX Runtime."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.compiler_core.codegen.util import compile_and_check, const, model, node, vi, weight

pytestmark = pytest.mark.slow  # 28 convolutions, each compiled for three ISAs and compared with ONNX Runtime


def _conv(x_shape, w_shape, y_shape, *, bias=True, act=None, seed=0, **attrs):
    nodes = [node("Conv", ["x", "w", "b"] if bias else ["x", "w"], ["c" if act else "y"],
                  **attrs)]
    if act:
        nodes.append(node(act, ["c"], ["y"]))
    inits = [weight("w", w_shape, seed, 0.3)]
    if bias:
        inits.append(weight("b", [w_shape[0]], seed + 1))
    return model(nodes, [vi("x", x_shape)], [vi("y", y_shape)], inits)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "y_shape", "attrs"),
    [
        # 1x1 stride 1: GEMM straight on X
        ([1, 16, 9, 11], [24, 16, 1, 1], [1, 24, 9, 11], {}),
        # 3x3 pad 1 (im2col), batch 2
        ([2, 8, 10, 12], [16, 8, 3, 3], [2, 16, 10, 12], {"pads": [1, 1, 1, 1]}),
        # strided, asymmetric pads, non-square kernel
        ([1, 3, 17, 15], [8, 3, 3, 5], [1, 8, 8, 7],
         {"strides": [2, 2], "pads": [1, 2, 0, 1]}),
        # dilated
        ([1, 4, 12, 12], [6, 4, 3, 3], [1, 6, 8, 8], {"dilations": [2, 2]}),
        # grouped 1x1 (ShuffleNet) and grouped 3x3
        ([1, 16, 7, 7], [12, 4, 1, 1], [1, 12, 7, 7], {"group": 4}),
        ([1, 8, 9, 9], [8, 4, 3, 3], [1, 8, 9, 9], {"group": 2, "pads": [1, 1, 1, 1]}),
        # strided 1x1 (ResNet downsample): im2col
        ([1, 16, 14, 14], [32, 16, 1, 1], [1, 32, 7, 7], {"strides": [2, 2]}),
        # 7x7 stride 2 pad 3 (ResNet stem)
        ([1, 3, 32, 32], [16, 3, 7, 7], [1, 16, 16, 16],
         {"strides": [2, 2], "pads": [3, 3, 3, 3]}),
        # auto_pad SAME_UPPER with stride
        ([1, 4, 9, 9], [4, 4, 3, 3], [1, 4, 5, 5], {"strides": [2, 2], "auto_pad": "SAME_UPPER"}),
        # 1-D conv
        ([2, 6, 20], [5, 6, 3], [2, 5, 18], {}),
        # GEMV-shaped (SE block)
        ([1, 96, 1, 1], [24, 96, 1, 1], [1, 24, 1, 1], {}),
    ],
)
def test_conv_gemm(x_shape, w_shape, y_shape, attrs, tmp_path):
    compile_and_check(_conv(x_shape, w_shape, y_shape, act="Relu", **attrs), tmp_path, blocks=1)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "y_shape", "attrs"),
    [
        ([1, 8, 10, 10], [8, 1, 3, 3], [1, 8, 10, 10], {"group": 8, "pads": [1, 1, 1, 1]}),
        ([2, 6, 11, 13], [6, 1, 5, 5], [2, 6, 6, 7],
         {"group": 6, "pads": [2, 2, 2, 2], "strides": [2, 2]}),
        ([1, 4, 9, 9], [8, 1, 3, 3], [1, 8, 5, 5], {"group": 4, "dilations": [2, 2]}),
        ([1, 1, 8, 8], [5, 1, 3, 3], [1, 5, 6, 6], {}),
    ],
)
def test_conv_depthwise(x_shape, w_shape, y_shape, attrs, tmp_path):
    compile_and_check(_conv(x_shape, w_shape, y_shape, act="HardSwish", **attrs), tmp_path,
                      blocks=1)


def test_conv_no_bias(tmp_path):
    compile_and_check(_conv([1, 4, 6, 6], [4, 4, 3, 3], [1, 4, 4, 4], bias=False), tmp_path,
                      blocks=1)
    compile_and_check(_conv([1, 4, 6, 6], [4, 1, 3, 3], [1, 4, 4, 4], bias=False, group=4),
                      tmp_path, blocks=1)


def test_conv_large_tiles_residual_one_block(tmp_path):
    # Conv + Relu + residual Add: one block, epilogue per tile (several row tiles here).
    nodes = [
        node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        node("Relu", ["c"], ["r"]),
        node("Add", ["r", "x"], ["y"]),
    ]
    p = model(nodes, [vi("x", [1, 32, 40, 40])], [vi("y", [1, 32, 40, 40])],
              [weight("w", [32, 32, 3, 3], 1, 0.1), weight("b", [32], 2)])
    planned, out = compile_and_check(p, tmp_path, blocks=1)
    src = (out / "model.c").read_text()
    assert src.count("scipy_cblas_sgemm(") == 1


@pytest.mark.parametrize(
    ("kernel", "in_panel"),
    [
        (1, True),  # 1x1: each element read once, any prologue goes into the packed panel
        (3, False),  # 3x3 with a 3-op prologue: materialized first
    ],
)
def test_conv_bn_relu_prologue(kernel, in_panel, tmp_path):
    # DenseNet's Concat -> BN (per-channel Mul/Add) -> Relu -> Conv.
    nodes = [
        node("Concat", ["x", "z"], ["cat"], axis=1),
        node("Mul", ["cat", "s"], ["m"]),
        node("Add", ["m", "t"], ["a"]),
        node("Relu", ["a"], ["r"]),
        node("Conv", ["r", "w"], ["y"], pads=[kernel // 2] * 4),
    ]
    p = model(nodes, [vi("x", [1, 4, 8, 8]), vi("z", [1, 2, 8, 8])], [vi("y", [1, 5, 8, 8])],
              [weight("s", [6, 1, 1], 1), weight("t", [6, 1, 1], 2),
               weight("w", [5, 6, kernel, kernel], 3, 0.3)])
    planned, out = compile_and_check(p, tmp_path, blocks=1)
    (block,) = json.loads((out / "report.json").read_text())["blocks"]
    assert block["buffers"] == (2 if in_panel else 3)  # y, workspace (+ the prologue)


@pytest.mark.parametrize("x_shape", [[2, 4, 9, 7], [1, 4, 12]])
def test_conv_prologue_in_strided_1x1_panel(x_shape, tmp_path):
    # A strided 1x1 conv (ResNet downsample) packs a panel; the Relu runs while packing.
    rank = len(x_shape) - 2
    y_shape = [x_shape[0], 6, *[(d - 1) // 2 + 1 for d in x_shape[2:]]]
    nodes = [node("Relu", ["x"], ["r"]),
             node("Conv", ["r", "w", "b"], ["y"], strides=[2] * rank)]
    p = model(nodes, [vi("x", x_shape)], [vi("y", y_shape)],
              [weight("w", [6, 4, *[1] * rank], 1, 0.3), weight("b", [6], 2)])
    planned, out = compile_and_check(p, tmp_path, blocks=1)
    (block,) = json.loads((out / "report.json").read_text())["blocks"]
    assert block["buffers"] == 2


def test_conv_shared_panel_deep_layer(tmp_path):
    # Small image, many channels: one im2col panel shared by the threads, channels split.
    nodes = [node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]), node("Relu", ["c"], ["y"])]
    p = model(nodes, [vi("x", [2, 64, 7, 7])], [vi("y", [2, 96, 7, 7])],
              [weight("w", [96, 64, 3, 3], 1, 0.05), weight("b", [96], 2)])
    planned, out = compile_and_check(p, tmp_path, blocks=1)
    assert "#pragma omp parallel num_threads" in (out / "model.c").read_text()


def test_se_block_broadcast_epilogue(tmp_path):
    # Conv on [1,C,1,1] -> HardSigmoid -> Mul with the feature map (a broadcast epilogue).
    nodes = [
        node("Relu", ["s"], ["r"]),
        node("Conv", ["r", "w", "b"], ["c"]),
        node("HardSigmoid", ["c"], ["h"], alpha=0.2, beta=0.5),
        node("Mul", ["x", "h"], ["y"]),
    ]
    p = model(nodes, [vi("s", [1, 4, 1, 1]), vi("x", [1, 16, 6, 6])], [vi("y", [1, 16, 6, 6])],
              [weight("w", [16, 4, 1, 1], 1), weight("b", [16], 2)])
    compile_and_check(p, tmp_path, blocks=1)


def test_conv_two_outputs_kept(tmp_path):
    # The conv output is both a graph output and read by the epilogue.
    nodes = [node("Conv", ["x", "w"], ["c"]), node("Sigmoid", ["c"], ["y"])]
    p = model(nodes, [vi("x", [1, 3, 5, 5])], [vi("c", [1, 2, 5, 5]), vi("y", [1, 2, 5, 5])],
              [const("w", np.ones([2, 3, 1, 1], np.float32))])
    compile_and_check(p, tmp_path, blocks=1)


def test_channel_shuffle_then_depthwise(tmp_path):
    # ShuffleNet: Relu -> Reshape [1,g,C/g,H,W] -> Transpose -> Reshape -> depthwise conv; the
    # shuffled index is a compound expression that must keep its parentheses.
    nodes = [
        node("Relu", ["x"], ["r"]),
        node("Reshape", ["r", "s5"], ["a"]),
        node("Transpose", ["a"], ["t"], perm=[0, 2, 1, 3, 4]),
        node("Reshape", ["t", "s4"], ["b"]),
        node("Conv", ["b", "w"], ["y"], group=12, pads=[1, 1, 1, 1], strides=[2, 2]),
    ]
    p = model(nodes, [vi("x", [1, 12, 8, 8])], [vi("y", [1, 12, 4, 4])],
              [const("s5", np.array([1, 3, 4, 8, 8], np.int64)),
               const("s4", np.array([1, 12, 8, 8], np.int64)), weight("w", [12, 1, 3, 3], 1)])
    compile_and_check(p, tmp_path, blocks=1)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "y_shape", "attrs"),
    [
        # input smaller than the kernel span: no interior row or column
        ([1, 3, 2, 2], [3, 1, 3, 3], [1, 3, 2, 2], {"group": 3, "pads": [1, 1, 1, 1]}),
        # 7x7 depthwise with wide asymmetric padding, 1-D depthwise
        ([1, 2, 12, 10], [2, 1, 7, 7], [1, 2, 10, 6], {"group": 2, "pads": [3, 2, 1, 0]}),
        ([2, 3, 15], [3, 1, 5], [2, 3, 8], {"group": 3, "pads": [2, 2], "strides": [2]}),
    ],
)
def test_conv_depthwise_borders(x_shape, w_shape, y_shape, attrs, tmp_path):
    compile_and_check(_conv(x_shape, w_shape, y_shape, act="Relu", **attrs), tmp_path, blocks=1)
