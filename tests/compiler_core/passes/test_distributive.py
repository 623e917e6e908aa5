"""Distributive rules of Table 4."""

from __future__ import annotations

import numpy as np

from .util import find, model, node, ops, rand, rewrite_and_check

F = np.float32
M, N = 8, 16
FEEDS = {"X": rand(M, N), "A": rand(M, N, seed=3), "B": rand(M, N, seed=1), "C": rand(M, N, seed=2)}


def test_mul_add_shared_factor() -> None:
    # X*C + B*X -> X*(B+C)   (operand order swapped in the second product)
    proto = model(
        [
            node("Mul", ["X", "C"], "xc"),
            node("Mul", ["B", "X"], "xb"),
            node("Add", ["xc", "xb"], "y"),
        ],
        {"X": ((M, N), F), "B": ((M, N), F), "C": ((M, N), F)},
        ["y"],
    )
    m, report = rewrite_and_check(proto, FEEDS)
    assert report.counts == {"dist_mul_add": 1}
    assert sorted(ops(m)) == ["Add", "Mul"]
    (add,) = find(m, "Add")
    assert {v.name for v in add.inputs} == {"B", "C"}
    (mul,) = find(m, "Mul")
    assert mul.inputs[0].name == "X" and mul.inputs[1] is add.outputs[0]


def test_mul_add_per_channel_constants_fold() -> None:
    # X*c1 + X*c2 with per-channel constants: c1+c2 is folded, one Mul remains
    proto = model(
        [
            node("Mul", ["X", "c1"], "xc"),
            node("Mul", ["X", "c2"], "xb"),
            node("Add", ["xc", "xb"], "y"),
        ],
        {"X": ((M, N), F)},
        ["y"],
        {"c1": rand(N, seed=5), "c2": rand(N, seed=6)},
    )
    m, report = rewrite_and_check(proto, {"X": FEEDS["X"]})
    assert report.counts == {"dist_mul_add": 1}
    assert ops(m) == ["Mul"]


def test_mul_sub_shared_factor() -> None:
    proto = model(
        [
            node("Mul", ["X", "C"], "xc"),
            node("Mul", ["X", "B"], "xb"),
            node("Sub", ["xc", "xb"], "y"),
        ],
        {"X": ((M, N), F), "B": ((M, N), F), "C": ((M, N), F)},
        ["y"],
    )
    m, report = rewrite_and_check(proto, FEEDS)
    assert report.counts == {"dist_mul_sub": 1}
    (sub,) = find(m, "Sub")
    assert [v.name for v in sub.inputs] == ["C", "B"]


def test_add_self() -> None:
    # A + A*B -> A*(B+1)
    proto = model(
        [node("Mul", ["A", "B"], "ab"), node("Add", ["ab", "A"], "y")],
        {"A": ((M, N), F), "B": ((M, N), F)},
        ["y"],
    )
    m, report = rewrite_and_check(proto, FEEDS)
    assert report.counts == {"dist_add_self": 1}
    (add,) = find(m, "Add")
    assert add.inputs[0].name == "B" and add.inputs[1].const_value is not None
    assert float(add.inputs[1].const_value.numpy()) == 1.0
    (mul,) = find(m, "Mul")
    assert mul.inputs[0].name == "A" and mul.inputs[1] is add.outputs[0]


def test_square_sub() -> None:
    # Square(A+B) - (A+B)*C -> (A+B)*(A+B-C)
    proto = model(
        [
            node("Add", ["A", "B"], "s"),
            node("Mul", ["s", "s"], "sq"),
            node("Mul", ["C", "s"], "sc"),
            node("Sub", ["sq", "sc"], "y"),
        ],
        {"A": ((M, N), F), "B": ((M, N), F), "C": ((M, N), F)},
        ["y"],
    )
    m, report = rewrite_and_check(proto, FEEDS)
    # dist_mul_sub (S*S - S*C, X = S) matches the same tree with the same gain: the tie goes
    # to the earlier row of the table
    assert report.counts == {"dist_square_sub": 1}
    assert sorted(ops(m)) == ["Add", "Mul", "Sub"]
    (sub,) = find(m, "Sub")
    assert sub.inputs[0].name == "s" and sub.inputs[1].name == "C"


def test_square_sub_with_pow() -> None:
    proto = model(
        [
            node("Add", ["A", "B"], "s"),
            node("Pow", ["s", "two"], "sq"),
            node("Mul", ["s", "C"], "sc"),
            node("Sub", ["sq", "sc"], "y"),
        ],
        {"A": ((M, N), F), "B": ((M, N), F), "C": ((M, N), F)},
        ["y"],
        {"two": np.array(2.0, dtype=F)},
    )
    m, report = rewrite_and_check(proto, FEEDS)
    assert report.counts == {"dist_square_sub": 1}
    assert sorted(ops(m)) == ["Add", "Mul", "Sub"]
