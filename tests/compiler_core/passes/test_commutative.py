"""Commutative rules of Table 4, and their refusals."""

from __future__ import annotations

import numpy as np

from compiler_core.passes import explain

from .util import find, model, node, ops, rand, rewrite_and_check, run_reference, to_ir

U = np.uint32
F = np.float32
AXES = {"axes": np.array([1], dtype=np.int64)}


def _bitshift(shape_a, s, direction="LEFT", keepdims=1):
    return model(
        [
            node("BitShift", ["A", "s"], "b", direction=direction),
            node("ReduceSum", ["b", "axes"], "y", keepdims=keepdims),
        ],
        {"A": (shape_a, U)},
        ["y"],
        {"s": s, **AXES},
    )


def test_reducesum_bitshift_left() -> None:
    # ReduceSum(BitShift(A, s)) -> BitShift(ReduceSum(A), s); ORT has no uint ReduceSum, so
    # numerics use onnx's reference evaluator
    proto = _bitshift((4, 8), np.array([[3]], dtype=U), keepdims=0)
    feeds = {"A": np.arange(32, dtype=U).reshape(4, 8) * U(100_000_000)}  # wraps around
    m, report = rewrite_and_check(proto, feeds, runner=run_reference)
    assert report.counts == {"comm_reducesum_bitshift": 1}
    assert ops(m) == ["ReduceSum", "BitShift"]
    (shift,) = find(m, "BitShift")
    assert list(shift.outputs[0].shape) == [4]


def test_reducesum_bitshift_per_row_shift() -> None:
    proto = _bitshift((4, 8), np.array([[1], [2], [3], [4]], dtype=U))
    feeds = {"A": np.arange(32, dtype=U).reshape(4, 8)}
    m, report = rewrite_and_check(proto, feeds, runner=run_reference)
    assert report.counts == {"comm_reducesum_bitshift": 1}


def test_reducesum_bitshift_refusals() -> None:
    def reason(proto) -> str:
        (r,) = [r for (_, name, r) in explain(to_ir(proto)) if name == "comm_reducesum_bitshift"]
        return r

    assert "LEFT" in reason(_bitshift((4, 8), np.array(1, dtype=U), direction="RIGHT"))
    # broadcast makes the rule invalid: A is [4, 1] and the shift spreads it along the axis
    assert "broadcasts" in reason(_bitshift((4, 1), np.arange(8, dtype=U).reshape(1, 8)))
    assert "varies" in reason(_bitshift((4, 8), np.arange(8, dtype=U).reshape(1, 8)))
    proto = _bitshift((4, 8), np.arange(8, dtype=U).reshape(1, 8))
    feeds = {"A": np.arange(32, dtype=U).reshape(4, 8)}
    m, report = rewrite_and_check(proto, feeds, runner=run_reference)
    assert report.counts == {} and ops(m) == ["BitShift", "ReduceSum"]


def _reduceprod_exp():
    return model(
        [node("Exp", ["A"], "e"), node("ReduceProd", ["e", "axes"], "y", keepdims=1)],
        {"A": ((4, 8), F)},
        ["y"],
        AXES,
    )


def test_reduceprod_exp_only_under_fast_math() -> None:
    feeds = {"A": rand(4, 8, lo=-1, hi=1)}
    m, report = rewrite_and_check(_reduceprod_exp(), feeds)
    assert report.counts == {} and ops(m) == ["Exp", "ReduceProd"]
    m, report = rewrite_and_check(_reduceprod_exp(), feeds, fast_math=True)
    assert report.counts == {"comm_reduceprod_exp": 1}
    assert ops(m) == ["ReduceSum", "Exp"]
    assert list(find(m, "Exp")[0].outputs[0].shape) == [4, 1]
