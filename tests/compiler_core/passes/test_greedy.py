"""The greedy choice of paper §4.2 and the sub-graph cut."""

from __future__ import annotations

import numpy as np

from compiler_core.passes import ALGEBRAIC_RULES
from compiler_core.passes.context import RewriteContext
from compiler_core.passes.manager import best_match, subgraphs

from .util import find, model, node, ops, rand, rewrite_and_check, to_ir

F = np.float32
M, N = 8, 16
AXES = {"axes": np.array([1], dtype=np.int64)}


def _sqrt_of_sum(nonnegative: bool):
    # A * sqrt(R) * sqrt(R) * C with R = ReduceSum(|B|) (or of B): two rules overlap at the root:
    #   assoc_sqrt_pair        -> A*R*C           saves 3 big Muls - 2 + the sqrt: mn + m
    #   assoc_square_reducesum -> A*Square(s)*C   saves one big Mul, adds a small one: mn - m
    first = [node("Abs", ["B"], "b")] if nonnegative else [node("Identity", ["B"], "b")]
    return model(
        [
            *first,
            node("ReduceSum", ["b", "axes"], "r", keepdims=1),
            node("Sqrt", ["r"], "s"),
            node("Mul", ["A", "s"], "as"),
            node("Mul", ["s", "C"], "sc"),
            node("Mul", ["as", "sc"], "y"),
        ],
        {"A": ((M, N), F), "B": ((M, N), F), "C": ((M, N), F)},
        ["y"],
        AXES,
    )


def test_larger_flop_reduction_wins() -> None:
    m = to_ir(_sqrt_of_sum(nonnegative=True))
    ctx = RewriteContext(m)
    (group,) = [g for g in subgraphs(m.graph) if any(n.op_type == "Mul" for n in g)]
    candidates = [r.try_match(g, ctx) for r in ALGEBRAIC_RULES for g in group]
    fired = {c.rule_name: c.flop_gain for c in candidates if not isinstance(c, str)}
    assert fired == {"assoc_sqrt_pair": M * N + M, "assoc_square_reducesum": M * N - M}
    assert best_match(ctx, ALGEBRAIC_RULES, group).rule_name == "assoc_sqrt_pair"

    feeds = {"A": rand(M, N), "B": rand(M, N, seed=1), "C": rand(M, N, seed=2)}
    m, report = rewrite_and_check(_sqrt_of_sum(nonnegative=True), feeds)
    assert report.counts == {"assoc_sqrt_pair": 1}  # the other match is gone with the sqrt
    assert sorted(ops(m)) == ["Abs", "Mul", "Mul", "ReduceSum"]


def test_smaller_match_fires_when_larger_is_refused() -> None:
    feeds = {"A": rand(M, N), "B": rand(M, N, lo=0, seed=1), "C": rand(M, N, seed=2)}
    m, report = rewrite_and_check(_sqrt_of_sum(nonnegative=False), feeds)
    assert report.counts == {"identity_remove": 1, "assoc_square_reducesum": 1}
    (sqrt,) = find(m, "Sqrt")
    (square,) = sqrt.outputs[0].consumers()
    assert square.inputs[0] is square.inputs[1] is sqrt.outputs[0]


def test_subgraphs_cut_at_operators_without_properties() -> None:
    # Mul -> Conv -> Mul: Conv has no algebraic property, so two sub-graphs
    proto = model(
        [
            node("Mul", ["X", "k"], "a"),
            node("Conv", ["a", "W"], "c"),
            node("Mul", ["c", "c"], "y"),
        ],
        {"X": ((1, 2, 4, 4), F)},
        ["y"],
        {"k": np.array(2.0, dtype=F), "W": rand(2, 2, 1, 1)},
    )
    groups = subgraphs(to_ir(proto).graph)
    assert sorted([n.op_type for n in g] for g in groups) == [["Mul"], ["Mul"]]


def test_match_that_adds_flops_never_fires() -> None:
    # Recip(A) * Recip(A*b), b a row vector, A*b also a graph output: A*b stays alive, so the
    # rewrite trades Recip(A*b) (mn) for Square(Recip(A)) (mn) plus Recip(b) (n): +n FLOPs
    proto = model(
        [
            node("Reciprocal", ["A"], "ra"),
            node("Mul", ["A", "b"], "ab"),
            node("Reciprocal", ["ab"], "rab"),
            node("Mul", ["ra", "rab"], "y"),
        ],
        {"A": ((M, N), F), "b": ((1, N), F)},
        ["y", "ab"],
    )
    feeds = {"A": rand(M, N, lo=0.5), "b": rand(1, N, lo=0.5)}
    m, report = rewrite_and_check(proto, feeds)
    assert report.counts == {}
    assert sorted(ops(m)) == ["Mul", "Mul", "Reciprocal", "Reciprocal"]
