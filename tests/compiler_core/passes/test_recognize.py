"""Recognition of decomposed LayerNormalization, GELU, Softmax, HardSigmoid and HardSwish."""

from __future__ import annotations

import math

import numpy as np
import pytest

from .util import find, model, node, ops, rand, rewrite_and_check

F = np.float32
S = (2, 5, 16)
X = {"X": (S, F)}
FEED = {"X": rand(*S, lo=-4, hi=4)}


def c(v: float) -> np.ndarray:
    return np.array(v, dtype=F)


def _layernorm(square: str, divide: str, affine: bool):
    nodes = [
        node("ReduceMean", ["X", "ax"], "mean", keepdims=1),
        node("Sub", ["X", "mean"], "d"),
        node("Pow", ["d", "two"], "sq") if square == "pow" else node("Mul", ["d", "d"], "sq"),
        node("ReduceMean", ["sq", "ax"], "var", keepdims=1),
        node("Add", ["var", "eps"], "ve"),
        node("Sqrt", ["ve"], "std"),
    ]
    if divide == "div":
        nodes.append(node("Div", ["d", "std"], "n"))
    else:
        nodes += [node("Reciprocal", ["std"], "rstd"), node("Mul", ["rstd", "d"], "n")]
    out = "n"
    if affine:
        nodes += [node("Mul", ["n", "gamma"], "g"), node("Add", ["beta", "g"], "y")]
        out = "y"
    consts = {
        "ax": np.array([-1], np.int64),
        "two": c(2.0),
        "eps": c(1e-5),
        "gamma": rand(16, seed=1),
        "beta": rand(16, seed=2),
    }
    return model(nodes, X, [out], consts)


@pytest.mark.parametrize(
    ("square", "divide", "affine"),
    [("pow", "div", True), ("mul", "recip", True), ("pow", "div", False)],
)
def test_layernorm(square: str, divide: str, affine: bool) -> None:
    m, report = rewrite_and_check(_layernorm(square, divide, affine), FEED)
    assert ops(m) == ["LayerNormalization"]
    expected = {"recognize_layernorm": 1}
    if affine:
        expected |= {"layernorm_scale": 1, "layernorm_bias": 1}
    assert report.counts == expected
    (ln,) = find(m, "LayerNormalization")
    assert ln.attributes["axis"].value == 2
    assert abs(ln.attributes["epsilon"].value - 1e-5) < 1e-12
    assert len(ln.inputs) == (3 if affine else 2)


def test_layernorm_mean_over_other_axis_is_not_recognized() -> None:
    proto = model(
        [
            node("ReduceMean", ["X", "ax"], "mean", keepdims=1),
            node("Sub", ["X", "mean"], "d"),
            node("Mul", ["d", "d"], "sq"),
            node("ReduceMean", ["sq", "ax"], "var", keepdims=1),
            node("Add", ["var", "eps"], "ve"),
            node("Sqrt", ["ve"], "std"),
            node("Div", ["d", "std"], "y"),
        ],
        X,
        ["y"],
        {"ax": np.array([1], np.int64), "eps": c(1e-5)},
    )
    m, report = rewrite_and_check(proto, FEED)
    assert "recognize_layernorm" not in report.counts and "LayerNormalization" not in ops(m)


def _gelu_torch(k: float = 1 / math.sqrt(2)):
    # torch: Div(x, 1.4142) -> Erf -> Add 1 -> Mul x -> Mul 0.5
    return model(
        [
            node("Div", ["X", "sqrt2"], "u"),
            node("Erf", ["u"], "e"),
            node("Add", ["e", "one"], "t"),
            node("Mul", ["X", "t"], "xt"),
            node("Mul", ["xt", "half"], "y"),
        ],
        X,
        ["y"],
        {"sqrt2": c(1 / k), "one": c(1.0), "half": c(0.5)},
    )


def test_gelu_torch_ordering() -> None:
    m, report = rewrite_and_check(_gelu_torch(), FEED)
    assert report.counts == {"recognize_gelu": 1}
    assert ops(m) == ["Gelu"] and find(m, "Gelu")[0].attributes["approximate"].value == "none"


def test_gelu_other_ordering() -> None:
    # 0.5 * x * (1 + erf(x * 0.70710678)), with the 0.5 applied to x first
    proto = model(
        [
            node("Mul", ["half", "X"], "hx"),
            node("Mul", ["X", "k"], "u"),
            node("Erf", ["u"], "e"),
            node("Add", ["one", "e"], "t"),
            node("Mul", ["t", "hx"], "y"),
        ],
        X,
        ["y"],
        {"k": c(0.70710678), "one": c(1.0), "half": c(0.5)},
    )
    m, report = rewrite_and_check(proto, FEED)
    assert report.counts == {"recognize_gelu": 1} and ops(m) == ["Gelu"]


def test_gelu_wrong_constant_is_not_recognized() -> None:
    m, report = rewrite_and_check(_gelu_torch(k=0.7), FEED)
    assert report.counts == {} and "Gelu" not in ops(m)


def test_gelu_tanh() -> None:
    proto = model(
        [
            node("Pow", ["X", "three"], "x3"),
            node("Mul", ["x3", "a"], "ax3"),
            node("Add", ["X", "ax3"], "inner"),
            node("Mul", ["inner", "k"], "u"),
            node("Tanh", ["u"], "th"),
            node("Add", ["th", "one"], "t"),
            node("Mul", ["half", "X"], "hx"),
            node("Mul", ["hx", "t"], "y"),
        ],
        X,
        ["y"],
        {
            "three": c(3.0),
            "a": c(0.044715),
            "k": c(math.sqrt(2 / math.pi)),
            "one": c(1.0),
            "half": c(0.5),
        },
    )
    m, report = rewrite_and_check(proto, FEED)
    assert report.counts == {"recognize_gelu_tanh": 1}
    assert ops(m) == ["Gelu"] and find(m, "Gelu")[0].attributes["approximate"].value == "tanh"


@pytest.mark.parametrize("subtract_max", [True, False])
def test_softmax(subtract_max: bool) -> None:
    nodes = (
        [
            node("ReduceMax", ["X", "ax"], "mx", keepdims=1),
            node("Sub", ["X", "mx"], "d"),
        ]
        if subtract_max
        else []
    )
    nodes += [
        node("Exp", ["d" if subtract_max else "X"], "e"),
        node("ReduceSum", ["e", "ax"], "s", keepdims=1),
        node("Div", ["e", "s"], "y"),
    ]
    proto = model(nodes, X, ["y"], {"ax": np.array([1], np.int64)})
    m, report = rewrite_and_check(proto, FEED)
    assert report.counts == {"recognize_softmax": 1}
    assert ops(m) == ["Softmax"] and find(m, "Softmax")[0].attributes["axis"].value == 1


def test_softmax_sum_used_elsewhere_is_not_recognized() -> None:
    proto = model(
        [
            node("Exp", ["X"], "e"),
            node("ReduceSum", ["e", "ax"], "s", keepdims=1),
            node("Div", ["e", "s"], "y"),
        ],
        X,
        ["y", "s"],
        {"ax": np.array([2], np.int64)},
    )
    m, report = rewrite_and_check(proto, FEED)
    assert report.counts == {} and "Softmax" not in ops(m)


def _hardswish_nodes(order: str):
    nodes = [node("Add", ["X", "three"], "x3"), node("Clip", ["x3", "zero", "six"], "cl")]
    if order == "mul_then_div":
        nodes += [node("Mul", ["X", "cl"], "m"), node("Div", ["m", "six"], "y")]
    else:  # x * (clip / 6): HardSigmoid first, then x * HardSigmoid(x)
        nodes += [node("Div", ["cl", "six"], "hs"), node("Mul", ["hs", "X"], "y")]
    return nodes


@pytest.mark.parametrize(
    ("order", "counts"),
    [
        ("mul_then_div", {"recognize_hardswish": 1}),
        ("div_then_mul", {"recognize_hardsigmoid": 1, "hardsigmoid_to_hardswish": 1}),
    ],
)
def test_hardswish(order: str, counts: dict[str, int]) -> None:
    consts = {"three": c(3.0), "zero": c(0.0), "six": c(6.0)}
    m, report = rewrite_and_check(model(_hardswish_nodes(order), X, ["y"], consts), FEED)
    assert report.counts == counts and ops(m) == ["HardSwish"]
    assert find(m, "HardSwish")[0].inputs[0].name == "X"


def test_hardsigmoid_from_clip_of_linear() -> None:
    proto = model(
        [
            node("Mul", ["X", "a"], "ax"),
            node("Add", ["ax", "b"], "u"),
            node("Clip", ["u", "zero", "one"], "y"),
        ],
        X,
        ["y"],
        {"a": c(0.2), "b": c(0.5), "zero": c(0.0), "one": c(1.0)},
    )
    m, report = rewrite_and_check(proto, FEED)
    assert report.counts == {"recognize_hardsigmoid": 1} and ops(m) == ["HardSigmoid"]
    (hs,) = find(m, "HardSigmoid")
    assert abs(hs.attributes["alpha"].value - 0.2) < 1e-6
    assert abs(hs.attributes["beta"].value - 0.5) < 1e-6


def test_relu6_is_not_hardsigmoid() -> None:
    proto = model(
        [node("Add", ["X", "three"], "u"), node("Clip", ["u", "zero", "six"], "y")],
        X,
        ["y"],
        {"three": c(3.0), "zero": c(0.0), "six": c(6.0)},
    )
    m, report = rewrite_and_check(proto, FEED)
    assert report.counts == {} and ops(m) == ["Add", "Clip"]


def test_hardsigmoid_after_bias_folded_into_conv() -> None:
    # Conv -> Add 3 -> Clip(0, 6) -> Div 6: the +3 goes into the Conv bias, then
    # Clip(conv, 0, 6) / 6 is HardSigmoid(conv, 1/6, 0)
    proto = model(
        [
            node("Conv", ["X", "W"], "cv"),
            node("Add", ["cv", "three"], "u"),
            node("Clip", ["u", "zero", "six"], "cl"),
            node("Div", ["cl", "six"], "y"),
        ],
        {"X": ((1, 3, 4, 4), F)},
        ["y"],
        {"W": rand(2, 3, 1, 1), "three": c(3.0), "zero": c(0.0), "six": c(6.0)},
    )
    m, report = rewrite_and_check(proto, {"X": rand(1, 3, 4, 4, lo=-6, hi=6)})
    assert report.counts == {"conv_add_fold": 1, "recognize_hardsigmoid": 1}
    assert ops(m) == ["Conv", "HardSigmoid"]
    (hs,) = find(m, "HardSigmoid")
    assert abs(hs.attributes["alpha"].value - 1 / 6) < 1e-6 and hs.attributes["beta"].value == 0


def test_hardsigmoid_from_relu6_over_6() -> None:
    proto = model(
        [
            node("Add", ["X", "three"], "u"),
            node("Clip", ["u", "zero", "six"], "cl"),
            node("Div", ["cl", "six"], "y"),
        ],
        X,
        ["y"],
        {"three": c(3.0), "zero": c(0.0), "six": c(6.0)},
    )
    m, report = rewrite_and_check(proto, FEED)
    assert report.counts == {"recognize_hardsigmoid": 1} and ops(m) == ["HardSigmoid"]
    (hs,) = find(m, "HardSigmoid")
    assert abs(hs.attributes["alpha"].value - 1 / 6) < 1e-6
    assert abs(hs.attributes["beta"].value - 0.5) < 1e-6
