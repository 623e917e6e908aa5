"""Associative rules of Table 4."""

from __future__ import annotations

import numpy as np

from compiler_core.passes import explain

from .util import find, model, node, ops, rand, rewrite_and_check, to_ir

F = np.float32
M, N = 8, 16


def test_recip_square() -> None:
    # Recip(A) * Recip(A*B) -> Square(Recip(A)) * Recip(B)
    proto = model(
        [
            node("Reciprocal", ["A"], "ra"),
            node("Mul", ["A", "B"], "ab"),
            node("Reciprocal", ["ab"], "rab"),
            node("Mul", ["ra", "rab"], "y"),
        ],
        {"A": ((M, N), F), "B": ((M, N), F)},
        ["y"],
    )
    feeds = {"A": rand(M, N, lo=0.5, hi=2), "B": rand(M, N, lo=0.5, hi=2, seed=1)}
    m, report = rewrite_and_check(proto, feeds)
    assert report.counts == {"assoc_recip_square": 1}
    assert sorted(ops(m)) == ["Mul", "Mul", "Reciprocal", "Reciprocal"]
    (ra,) = [n for n in find(m, "Reciprocal") if n.inputs[0].name == "A"]
    (rb,) = [n for n in find(m, "Reciprocal") if n.inputs[0].name == "B"]
    square = ra.outputs[0].consumers()[0]
    assert square.op_type == "Mul" and square.inputs[0] is square.inputs[1]  # Square(Recip(A))
    assert m.graph.outputs[0].producer().inputs[1] is rb.outputs[0] or (
        m.graph.outputs[0].producer().inputs[0] is rb.outputs[0]
    )


def test_sqrt_pair_with_nonnegative_input() -> None:
    # (A * sqrt(B)) * (sqrt(B) * C) -> A*B*C, B = Abs(X) is provably >= 0
    proto = model(
        [
            node("Abs", ["X"], "B"),
            node("Sqrt", ["B"], "s1"),
            node("Sqrt", ["B"], "s2"),  # exporters duplicate the sqrt
            node("Mul", ["A", "s1"], "as"),
            node("Mul", ["s2", "C"], "sc"),
            node("Mul", ["as", "sc"], "y"),
        ],
        {"A": ((M, N), F), "X": ((M, N), F), "C": ((M, N), F)},
        ["y"],
    )
    feeds = {"A": rand(M, N), "X": rand(M, N, seed=1), "C": rand(M, N, seed=2)}
    m, report = rewrite_and_check(proto, feeds)
    assert report.counts == {"assoc_sqrt_pair": 1}
    assert sorted(ops(m)) == ["Abs", "Mul", "Mul"]
    assert report.nodes_before == 6 and report.nodes_after == 3


def test_sqrt_pair_refused_when_input_may_be_negative() -> None:
    proto = model(
        [
            node("Sqrt", ["B"], "s1"),
            node("Mul", ["A", "s1"], "as"),
            node("Mul", ["s1", "C"], "sc"),
            node("Mul", ["as", "sc"], "y"),
        ],
        {"A": ((M, N), F), "B": ((M, N), F), "C": ((M, N), F)},
        ["y"],
    )
    reasons = [r for (_, rule, r) in explain(to_ir(proto)) if rule == "assoc_sqrt_pair"]
    assert any("may be negative" in r and "fast_math" in r for r in reasons)
    feeds = {"A": rand(M, N), "B": rand(M, N, lo=0.1, seed=1), "C": rand(M, N, seed=2)}
    m, report = rewrite_and_check(proto, feeds)
    assert "assoc_sqrt_pair" not in report.counts
    assert "Sqrt" in ops(m)
    # fast_math allows it
    m, report = rewrite_and_check(proto, feeds, fast_math=True)
    assert report.counts == {"assoc_sqrt_pair": 1}
    assert "Sqrt" not in ops(m)


def test_sqrt_pair_with_nonnegative_constant() -> None:
    proto = model(
        [
            node("Sqrt", ["B"], "s1"),
            node("Mul", ["A", "s1"], "as"),
            node("Mul", ["C", "s1"], "sc"),
            node("Mul", ["sc", "as"], "y"),
        ],
        {"A": ((M, N), F), "C": ((M, N), F)},
        ["y"],
        {"B": np.linspace(0, 3, N, dtype=F)},
    )
    # the frontend folds constant sub-graphs; here Sqrt(const) is folded by the rewriter itself
    feeds = {"A": rand(M, N), "C": rand(M, N, seed=2)}
    m, _ = rewrite_and_check(proto, feeds)
    assert "Sqrt" not in ops(m)


def test_abs_merge() -> None:
    # Abs(A) * B * Abs(C) -> Abs(A*C) * B
    proto = model(
        [
            node("Abs", ["A"], "aa"),
            node("Abs", ["C"], "ac"),
            node("Mul", ["aa", "B"], "ab"),
            node("Mul", ["ab", "ac"], "y"),
        ],
        {"A": ((M, N), F), "B": ((M, N), F), "C": ((M, N), F)},
        ["y"],
    )
    feeds = {"A": rand(M, N), "B": rand(M, N, seed=1), "C": rand(M, N, seed=2)}
    m, report = rewrite_and_check(proto, feeds)
    assert report.counts == {"assoc_abs_merge": 1}
    assert sorted(ops(m)) == ["Abs", "Mul", "Mul"]
    (a,) = find(m, "Abs")
    inner = a.inputs[0].producer()
    assert inner.op_type == "Mul" and {v.name for v in inner.inputs} == {"A", "C"}


def test_square_reducesum() -> None:
    # (A * ReduceSum(B)) * (ReduceSum(B) * C) -> A * Square(ReduceSum(B)) * C
    proto = model(
        [
            node("ReduceSum", ["B", "axes"], "r", keepdims=1),
            node("Mul", ["A", "r"], "ar"),
            node("Mul", ["r", "C"], "rc"),
            node("Mul", ["ar", "rc"], "y"),
        ],
        {"A": ((M, N), F), "B": ((M, N), F), "C": ((M, N), F)},
        ["y"],
        {"axes": np.array([1], dtype=np.int64)},
    )
    feeds = {"A": rand(M, N), "B": rand(M, N, seed=1), "C": rand(M, N, seed=2)}
    m, report = rewrite_and_check(proto, feeds)
    assert report.counts == {"assoc_square_reducesum": 1}
    assert sorted(ops(m)) == ["Mul", "Mul", "Mul", "ReduceSum"]
    (red,) = find(m, "ReduceSum")
    (square,) = red.outputs[0].consumers()
    assert square.inputs[0] is square.inputs[1] is red.outputs[0]
    assert list(square.outputs[0].shape) == [M, 1]  # squared before the broadcast
