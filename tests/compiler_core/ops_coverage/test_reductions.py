"""The reductions added for coverage (ReduceProd, L1, L2, LogSum, LogSumExp) and
``noop_with_empty_axes`` against ONNX Runtime, fused with their element-wise prologue."""

from __future__ import annotations

import numpy as np
import pytest

from tests.compiler_core.codegen.util import const, model, node, vi
from tests.compiler_core.ops_coverage.util import check

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("op", ["ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
                                "ReduceLogSumExp", "ReduceSum"])
@pytest.mark.parametrize("axes,keepdims", [([1], 1), ([0, 2], 0), ([-1], 0)])
def test_reduction(op, axes, keepdims, tmp_path):
    shape = [3, 4, 5]
    out = [1 if a in [x % 3 for x in axes] else d for a, d in enumerate(shape)]
    if not keepdims:
        out = [d for a, d in enumerate(shape) if a not in [x % 3 for x in axes]]
    pre = "Abs" if op == "ReduceLogSum" else "Neg"  # LogSum of a positive sum
    proto = model([node(pre, ["x"], ["a"]), node(op, ["a", "axes"], ["y"], keepdims=keepdims)],
                  [vi("x", shape)], [vi("y", out)], [const("axes", np.array(axes, np.int64))])
    feeds = [{"x": RNG.uniform(0.5, 1.5, shape).astype(np.float32)} for _ in range(2)]
    check(proto, tmp_path, feeds, blocks=[[pre, op]])


def test_logsumexp_large_inputs_do_not_overflow(tmp_path):
    proto = model([node("ReduceLogSumExp", ["x", "axes"], ["y"], keepdims=0)],
                  [vi("x", [4, 9])], [vi("y", [4])], [const("axes", np.array([1], np.int64))])
    x = (RNG.standard_normal([4, 9]) * 200).astype(np.float32)
    x[3] = -np.inf
    check(proto, tmp_path, [{"x": x}], blocks=[["ReduceLogSumExp"]])


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMax", "ReduceL2", "ReduceSumSquare",
                                "ReduceLogSumExp"])
def test_noop_with_empty_axes_reduces_nothing(op, tmp_path):
    proto = model([node(op, ["x"], ["r"], noop_with_empty_axes=1), node("Neg", ["r"], ["y"])],
                  [vi("x", [3, 4])], [vi("y", [3, 4])])
    check(proto, tmp_path, [{"x": RNG.standard_normal([3, 4]).astype(np.float32)}],
          blocks=[[op, "Neg"]])
