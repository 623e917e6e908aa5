"""MaxPool / AveragePool over three spatial axes against ONNX Runtime (pads, strides,
dilations, ceil_mode, count_include_pad), with their element-wise epilogue in the block."""

from __future__ import annotations

import numpy as np
import pytest

from tests.compiler_core.codegen.util import model, node, vi
from tests.compiler_core.ops_coverage.util import check

RNG = np.random.default_rng(5)


def _out(n, k, s, d, pb, pe, ceil):
    span = n + pb + pe - ((k - 1) * d + 1)
    return (int(np.ceil(span / s)) if ceil else span // s) + 1


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize("k,s,d,pads,ceil,include", [
    (2, 1, 1, [0, 0, 0, 0, 0, 0], 0, 0),
    (3, 2, 1, [1, 0, 1, 1, 1, 0], 0, 1),
    (3, 2, 1, [1, 1, 1, 1, 1, 1], 1, 0),
    (2, 3, 2, [0, 0, 0, 0, 0, 0], 1, 1),
])
def test_pool3d(op, k, s, d, pads, ceil, include, tmp_path):
    shape = [1, 2, 7, 6, 8]
    out = [1, 2] + [_out(n, k, s, d, pads[a], pads[3 + a], ceil)
                    for a, n in enumerate(shape[2:])]
    attrs = dict(kernel_shape=[k] * 3, strides=[s] * 3, pads=pads, ceil_mode=ceil)
    if op == "MaxPool":
        attrs["dilations"] = [d] * 3
    else:
        attrs["count_include_pad"] = include
        if d != 1:
            attrs["dilations"] = [d] * 3
    proto = model([node(op, ["x"], ["p"], **attrs), node("Relu", ["p"], ["y"])],
                  [vi("x", shape)], [vi("y", out)])
    feeds = [{"x": RNG.standard_normal(shape).astype(np.float32)} for _ in range(2)]
    check(proto, tmp_path, feeds, blocks=[[op, "Relu"]])
