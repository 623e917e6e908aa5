"""Resize mode="cubic" against ONNX Runtime: transforms, A, exclude_outside, up and down,
fused as index arithmetic between element-wise operators."""

from __future__ import annotations

import numpy as np
import pytest

from tests.compiler_core.codegen.util import const, model, node, vi
from tests.compiler_core.ops_coverage.util import check

RNG = np.random.default_rng(4)


@pytest.mark.parametrize("scales,ctm,a,exclude", [
    ([1, 1, 2, 2], "half_pixel", -0.75, 0),
    ([1, 1, 2, 3], "asymmetric", -0.5, 1),
    ([1, 1, 0.5, 0.8], "half_pixel", -0.5, 1),
    ([1, 1, 1.5, 1], "pytorch_half_pixel", -0.75, 0),
])
def test_resize_cubic(scales, ctm, a, exclude, tmp_path):
    shape = [1, 2, 6, 5]
    out = [int(np.floor(d * s)) for d, s in zip(shape, scales, strict=True)]
    proto = model([node("Relu", ["x"], ["r"]),
                   node("Resize", ["r", "", "s"], ["z"], mode="cubic",
                        coordinate_transformation_mode=ctm, cubic_coeff_a=a,
                        exclude_outside=exclude),
                   node("Neg", ["z"], ["y"])],
                  [vi("x", shape)], [vi("y", out)],
                  [const("s", np.array(scales, np.float32))])
    feeds = [{"x": RNG.standard_normal(shape).astype(np.float32)} for _ in range(2)]
    check(proto, tmp_path, feeds, blocks=[["Relu", "Resize", "Neg"]])
