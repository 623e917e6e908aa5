"""BatchNormalization folded into Conv / ConvTranspose / Gemm, or turned into Mul+Add."""

from __future__ import annotations

import numpy as np

from .util import find, model, node, ops, rand, rewrite_and_check

F = np.float32
C = 4


def _bn_params(prefix: str = "") -> dict[str, np.ndarray]:
    return {
        "scale": rand(C, lo=0.5, hi=1.5, seed=11),
        "bias": rand(C, seed=12),
        "mean": rand(C, seed=13),
        "var": rand(C, lo=0.1, hi=2.0, seed=14),
    }


BN = ["scale", "bias", "mean", "var"]


def test_bn_folded_into_conv() -> None:
    proto = model(
        [
            node("Conv", ["X", "W", "B"], "c", pads=[1, 1, 1, 1]),
            node("BatchNormalization", ["c", *BN], "y", epsilon=1e-3),
        ],
        {"X": ((1, 3, 6, 6), F)},
        ["y"],
        {"W": rand(C, 3, 3, 3), "B": rand(C, seed=3), **_bn_params()},
    )
    m, report = rewrite_and_check(proto, {"X": rand(1, 3, 6, 6)})
    assert report.counts == {"batchnorm_into_conv": 1}
    assert ops(m) == ["Conv"]
    (conv,) = find(m, "Conv")
    assert list(conv.attributes["pads"].value) == [1, 1, 1, 1]
    assert conv.inputs[1].const_value is not None and conv.inputs[2].const_value is not None


def test_bn_folded_into_grouped_conv_transpose_without_bias() -> None:
    proto = model(
        [
            node("ConvTranspose", ["X", "W"], "c", group=2, strides=[2, 2]),
            node("BatchNormalization", ["c", *BN], "y"),
        ],
        {"X": ((1, 4, 3, 3), F)},
        ["y"],
        {"W": rand(4, 2, 2, 2), **_bn_params()},
    )
    m, report = rewrite_and_check(proto, {"X": rand(1, 4, 3, 3)})
    assert report.counts == {"batchnorm_into_conv": 1}
    assert ops(m) == ["ConvTranspose"]


def test_bn_folded_into_gemm() -> None:
    proto = model(
        [
            node("Gemm", ["X", "W", "B"], "g", transB=1, alpha=0.5, beta=2.0),
            node("BatchNormalization", ["g", *BN], "y"),
        ],
        {"X": ((2, 6), F)},
        ["y"],
        {"W": rand(C, 6), "B": rand(C, seed=3), **_bn_params()},
    )
    m, report = rewrite_and_check(proto, {"X": rand(2, 6)})
    assert report.counts == {"batchnorm_into_conv": 1}
    assert ops(m) == ["Gemm"]


def test_bn_after_shared_conv_becomes_mul_add() -> None:
    # the Conv output has another consumer: folding would change it, so BN -> Mul + Add
    proto = model(
        [
            node("Conv", ["X", "W"], "c"),
            node("BatchNormalization", ["c", *BN], "y"),
            node("Relu", ["c"], "z"),
        ],
        {"X": ((1, 3, 5, 5), F)},
        ["y", "z"],
        {"W": rand(C, 3, 1, 1), **_bn_params()},
    )
    m, report = rewrite_and_check(proto, {"X": rand(1, 3, 5, 5)})
    assert report.counts == {"batchnorm_to_mul_add": 1}
    assert sorted(ops(m)) == ["Add", "Conv", "Mul", "Relu"]
    (mul,) = find(m, "Mul")
    assert list(mul.inputs[1].shape) == [C, 1, 1]  # per-channel, stays element-wise


def test_bn_without_conv_becomes_mul_add() -> None:
    proto = model(
        [node("Relu", ["X"], "r"), node("BatchNormalization", ["r", *BN], "y")],
        {"X": ((2, C, 3), F)},
        ["y"],
        _bn_params(),
    )
    m, report = rewrite_and_check(proto, {"X": rand(2, C, 3)})
    assert report.counts == {"batchnorm_to_mul_add": 1}
    assert ops(m) == ["Relu", "Mul", "Add"]


def test_scalar_affine_after_conv_folded() -> None:
    # PaddleOCR's learnable affine block: Conv -> Mul(scalar) -> Add(scalar)
    proto = model(
        [
            node("Conv", ["X", "W", "B"], "c", pads=[1, 1, 1, 1]),
            node("Mul", ["s", "c"], "m"),
            node("Add", ["m", "t"], "y"),
        ],
        {"X": ((1, 3, 6, 6), F)},
        ["y"],
        {"W": rand(C, 3, 3, 3), "B": rand(C, seed=3), "s": rand(1, seed=4), "t": rand(1, seed=5)},
    )
    m, report = rewrite_and_check(proto, {"X": rand(1, 3, 6, 6)})
    assert report.counts == {"conv_mul_fold": 1, "conv_add_fold": 1}
    assert ops(m) == ["Conv"]


def test_bias_add_after_conv_transpose_keeps_weights() -> None:
    proto = model(
        [node("ConvTranspose", ["X", "W"], "c", strides=[2, 2]), node("Add", ["c", "t"], "y")],
        {"X": ((1, 4, 3, 3), F)},
        ["y"],
        {"W": rand(4, C, 2, 2), "t": rand(1, C, 1, 1, seed=5)},
    )
    m, report = rewrite_and_check(proto, {"X": rand(1, 4, 3, 3)})
    assert report.counts == {"conv_add_fold": 1}
    (ct,) = find(m, "ConvTranspose")
    assert ct.inputs[1].name == "W" and len(ct.inputs) == 3


def test_non_channel_constant_is_not_folded() -> None:
    # a per-column constant varies inside each channel: not a weight scale
    proto = model(
        [node("Conv", ["X", "W"], "c"), node("Mul", ["c", "s"], "y")],
        {"X": ((1, 3, 5, 5), F)},
        ["y"],
        {"W": rand(C, 3, 1, 1), "s": rand(5, seed=4)},
    )
    m, report = rewrite_and_check(proto, {"X": rand(1, 3, 5, 5)})
    assert report.counts == {} and ops(m) == ["Conv", "Mul"]
