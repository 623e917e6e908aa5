"""ConvTranspose (GEMM + col2im) with fused epilogues, against ONNX Runtime."""

from __future__ import annotations

import pytest

from tests.compiler_core.codegen.util import compile_and_check, model, node, vi, weight

pytestmark = pytest.mark.slow  # transposed convolutions compiled and compared


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "y_shape", "attrs"),
    [
        # kernel == stride (PP-OCR det head): one product per output, tiled over rows
        ([1, 24, 20, 20], [24, 6, 2, 2], [1, 6, 40, 40], {"strides": [2, 2]}),
        ([1, 8, 64, 64], [8, 1, 2, 2], [1, 1, 128, 128], {"strides": [2, 2]}),
        ([2, 4, 5, 5], [4, 3, 2, 2], [2, 6, 10, 10], {"strides": [2, 2], "group": 2}),
        # overlapping taps, padding, output padding
        ([1, 4, 7, 9], [4, 5, 3, 3], [1, 5, 14, 18],
         {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]}),
        ([2, 6, 5, 5], [6, 3, 4, 3], [2, 3, 7, 10], {"strides": [1, 2], "pads": [1, 0, 0, 1]}),
        # grouped, dilated
        ([1, 6, 6, 6], [6, 2, 3, 3], [1, 4, 10, 10], {"group": 2, "dilations": [2, 2]}),
        # 1-D
        ([1, 4, 10], [4, 3, 3], [1, 3, 21], {"strides": [2]}),
        # pads from auto_pad SAME_* (odd total padding) or from output_shape
        ([1, 3, 3, 3], [3, 2, 3, 3], [1, 2, 6, 6], {"strides": [2, 2], "auto_pad": "SAME_UPPER"}),
        ([1, 3, 3, 3], [3, 2, 3, 3], [1, 2, 6, 6], {"strides": [2, 2], "auto_pad": "SAME_LOWER"}),
        ([1, 3, 3, 3], [3, 2, 3, 3], [1, 2, 10, 8],
         {"strides": [3, 2], "output_shape": [10, 8]}),
    ],
)
def test_conv_transpose(x_shape, w_shape, y_shape, attrs, tmp_path):
    nodes = [node("ConvTranspose", ["x", "w", "b"], ["c"], **attrs), node("Relu", ["c"], ["y"])]
    p = model(nodes, [vi("x", x_shape)], [vi("y", y_shape)],
              [weight("w", w_shape, 1, 0.3), weight("b", [y_shape[1]], 2)])
    compile_and_check(p, tmp_path, blocks=1)


def test_conv_transpose_no_bias_sigmoid(tmp_path):
    nodes = [node("ConvTranspose", ["x", "w"], ["c"], strides=[2, 2]),
             node("Sigmoid", ["c"], ["y"])]
    p = model(nodes, [vi("x", [1, 3, 5, 5])], [vi("y", [1, 2, 10, 10])],
              [weight("w", [3, 2, 2, 2], 1)])
    compile_and_check(p, tmp_path, blocks=1)
