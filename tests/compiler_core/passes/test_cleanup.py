"""Clean-ups of exporter leftovers: no-ops, layout chains, neutral elements, constants."""

from __future__ import annotations

import numpy as np

from compiler_core.passes import explain

from .util import find, model, node, ops, rand, rewrite_and_check, to_ir

F = np.float32
I64 = np.int64
X4 = {"X": ((2, 3, 4, 5), F)}
FEED4 = {"X": rand(2, 3, 4, 5)}


def test_identity_and_dropout_removed_graph_output_keeps_its_name() -> None:
    proto = model(
        [
            node("Relu", ["X"], "r"),
            node("Identity", ["r"], "i"),
            node("Dropout", ["i"], "d"),
            node("Identity", ["d"], "y"),
        ],
        X4,
        ["y"],
    )
    m, report = rewrite_and_check(proto, FEED4)
    assert report.counts == {"identity_remove": 2, "dropout_remove": 1}
    assert ops(m) == ["Relu"]
    assert m.graph.outputs[0].name == "y" and m.graph.outputs[0].producer().op_type == "Relu"


def test_identity_from_graph_input_to_output_is_kept() -> None:
    proto = model([node("Identity", ["X"], "y")], X4, ["y"])
    m, report = rewrite_and_check(proto, FEED4)
    assert report.counts == {} and ops(m) == ["Identity"]
    reasons = [r for (_, rule, r) in explain(to_ir(proto)) if rule == "identity_remove"]
    assert "alias" in reasons[0]


def test_dropout_in_training_mode_is_kept() -> None:
    proto = model(
        [node("Dropout", ["X", "ratio", "train"], "d"), node("Relu", ["d"], "y")],
        X4,
        ["y"],
        {"ratio": np.array(0.0, dtype=F), "train": np.array(True)},
    )
    m = to_ir(proto)
    reasons = [r for (_, rule, r) in explain(m) if rule == "dropout_remove"]
    assert reasons == ["training_mode may be true"]


def test_transpose_pairs() -> None:
    proto = model(
        [
            node("Transpose", ["X"], "t1", perm=[0, 2, 3, 1]),
            node("Transpose", ["t1"], "t2", perm=[0, 3, 1, 2]),  # back to X
            node("Relu", ["t2"], "r"),
            node("Transpose", ["r"], "t3", perm=[1, 0, 2, 3]),
            node("Transpose", ["t3"], "y", perm=[0, 1, 3, 2]),
        ],
        X4,
        ["y"],
    )
    m, report = rewrite_and_check(proto, FEED4)
    assert report.counts == {"transpose_transpose": 2}
    assert ops(m) == ["Relu", "Transpose"]
    (t,) = find(m, "Transpose")
    assert list(t.attributes["perm"].value) == [1, 0, 3, 2]


def test_reshape_chains_and_squeeze_pairs() -> None:
    proto = model(
        [
            node("Reshape", ["X", "s1"], "a"),
            node("Reshape", ["a", "s2"], "b"),  # -> one Reshape to [6, 20]
            node("Relu", ["b"], "r"),
            node("Unsqueeze", ["r", "ax"], "u"),
            node("Squeeze", ["u", "ax"], "q"),  # cancels
            node("Reshape", ["q", "same"], "y"),  # same shape: removed
        ],
        X4,
        ["y"],
        {
            "s1": np.array([6, 4, 5], dtype=I64),
            "s2": np.array([6, -1], dtype=I64),
            "ax": np.array([0], dtype=I64),
            "same": np.array([6, 20], dtype=I64),
        },
    )
    m, report = rewrite_and_check(proto, FEED4)
    assert ops(m) == ["Reshape", "Relu"]
    assert report.counts == {"reorganize_chain": 2, "reshape_noop": 1}
    (r,) = find(m, "Reshape")
    assert r.inputs[0].name == "X" and list(r.outputs[0].shape) == [6, 20]


def test_neutral_elements_removed() -> None:
    proto = model(
        [
            node("Mul", ["X", "one"], "a"),
            node("Add", ["zero", "a"], "b"),
            node("Div", ["b", "one"], "c"),
            node("Sub", ["c", "zero"], "d"),
            node("Relu", ["d"], "y"),
        ],
        X4,
        ["y"],
        {"one": np.ones((4, 5), dtype=F), "zero": np.array(0.0, dtype=F)},
    )
    m, report = rewrite_and_check(proto, FEED4)
    assert ops(m) == ["Relu"] and find(m, "Relu")[0].inputs[0].name == "X"
    assert report.counts == {"mul_neutral": 1, "add_neutral": 1, "div_neutral": 1, "sub_neutral": 1}


def test_neutral_element_that_broadcasts_is_kept() -> None:
    # X is [5]; X * ones([2, 5]) is [2, 5]: removing the Mul would change the shape
    proto = model(
        [node("Mul", ["X", "one"], "y")], {"X": ((5,), F)}, ["y"], {"one": np.ones((2, 5), F)}
    )
    m, report = rewrite_and_check(proto, {"X": rand(5)})
    assert report.counts == {} and ops(m) == ["Mul"]
    reasons = [r for (_, rule, r) in explain(to_ir(proto)) if rule == "mul_neutral"]
    assert "broadcasts" in reasons[0]


def test_constant_multiplications_merged() -> None:
    proto = model(
        [
            node("Mul", ["X", "a"], "p"),
            node("Mul", ["b", "p"], "q"),
            node("Add", ["q", "c"], "r"),
            node("Add", ["r", "d"], "y"),
        ],
        X4,
        ["y"],
        {
            "a": rand(3, 1, 1),
            "b": np.array(3.0, F),
            "c": rand(3, 1, 1, seed=7),
            "d": rand(1, seed=8),
        },
    )
    m, report = rewrite_and_check(proto, FEED4)
    assert report.counts == {"mul_const_merge": 1, "add_const_merge": 1}
    assert ops(m) == ["Mul", "Add"]
    (mul,) = find(m, "Mul")
    assert mul.inputs[0].name == "X" and list(mul.inputs[1].shape) == [3, 1, 1]


def test_constant_merge_refused_when_constant_grows() -> None:
    # a is per-channel, b per-column: a*b would be a [3, 4, 5] constant
    proto = model(
        [node("Mul", ["X", "a"], "p"), node("Mul", ["p", "b"], "y")],
        X4,
        ["y"],
        {"a": rand(3, 1, 1), "b": rand(4, 5)},
    )
    m, report = rewrite_and_check(proto, FEED4)
    assert report.counts == {} and ops(m) == ["Mul", "Mul"]


def test_constant_chain_folded() -> None:
    # constant element-wise chains left by rewriting are folded (onnxscript)
    proto = model(
        [
            node("Sqrt", ["c"], "s"),
            node("Neg", ["s"], "n"),
            node("Add", ["X", "n"], "y"),
        ],
        X4,
        ["y"],
        {"c": np.array([1.0, 4.0, 9.0, 16.0, 25.0], F)},
    )
    m, _ = rewrite_and_check(proto, FEED4)
    assert ops(m) == ["Add"]
