"""Attribute combinations the CNN anchors do not implement are refused up front, with an
error naming the node (never a wrong answer)."""

from __future__ import annotations

import numpy as np
import pytest

from compiler_core.compile import compile_model
from compiler_core.errors import UnsupportedOperatorError
from tests.compiler_core.codegen.util import const, model, node, plan, vi, weight

ROI = const("roi", np.zeros([0], np.float32))
SCALES = const("sc", np.asarray([1, 1, 2, 2], np.float32))


@pytest.mark.parametrize(
    ("nodes", "x_shape", "y_shape", "inits", "match"),
    [
        ([node("Conv", ["x", "w"], ["y"], name="c3d")], [1, 2, 4, 4, 4], [1, 2, 2, 2, 2],
         [weight("w", [2, 2, 3, 3, 3], 1)], "c3d.*spatial"),
        ([node("MaxPool", ["x"], ["y", "i"], kernel_shape=[2, 2], name="mp")],
         [1, 2, 4, 4], [1, 2, 3, 3], [], "mp.*Indices"),
        ([node("ConvTranspose", ["x", "w"], ["y"], auto_pad="SAME_UPPER", strides=[3, 2],
               output_shape=[10, 8], name="ct")], [1, 2, 3, 3], [1, 2, 10, 8],
         [weight("w", [2, 2, 3, 3], 1)], "ct.*output_shape"),
        ([node("Resize", ["x", "roi", "sc"], ["y"], mode="linear", antialias=1, name="rz")],
         [1, 2, 3, 3], [1, 2, 6, 6], [ROI, SCALES], "rz.*antialias"),
        ([node("Resize", ["x", "roi", "sc"], ["y"], mode="nearest", name="rt",
               coordinate_transformation_mode="tf_crop_and_resize")],
         [1, 2, 3, 3], [1, 2, 6, 6], [ROI, SCALES], "rt.*tf_crop_and_resize"),
        # ceil_mode: the last window along W would start in the end padding
        ([node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
               pads=[0, 0, 0, 2], ceil_mode=1, name="ap")], [1, 1, 6, 6], [1, 1, 3, 4], [],
         "ap.*padding"),
    ],
)
def test_refused_with_node_name(nodes, x_shape, y_shape, inits, match, tmp_path):
    outs = [vi(o, y_shape) for o in nodes[0].output if o == "y"]
    if len(nodes[0].output) > 1:
        outs.append(vi("i", y_shape, 7))
    p = model(nodes, [vi("x", x_shape)], outs, inits)
    with pytest.raises(UnsupportedOperatorError, match=match):
        compile_model(plan(p), output_dir=tmp_path / "a")
