"""Resize and Pad as index operators (no buffer of their own), against ONNX Runtime."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.compiler_core.codegen.util import compile_and_check, const, model, node, vi

pytestmark = pytest.mark.slow  # 20 Resize/Pad variants compiled and compared

EMPTY = np.zeros([0], np.float32)


def _resize_model(x_shape, y_shape, attrs, scales=None, sizes=None):
    ins = ["r", "roi", "sc"] if scales is not None else ["r", "roi", "", "sz"]
    nodes = [
        node("Relu", ["x"], ["r"]),
        node("Resize", ins, ["z"], **attrs),
        node("Add", ["z", "one"], ["y"]),
    ]
    inits = [const("roi", EMPTY), const("one", np.float32(1.0))]
    if scales is not None:
        inits.append(const("sc", np.asarray(scales, np.float32)))
    else:
        inits.append(const("sz", np.asarray(sizes, np.int64)))
    return model(nodes, [vi("x", x_shape)], [vi("y", y_shape)], inits)


NEAREST = [
    # PaddleOCR's export: nearest, asymmetric, floor, integer scales
    ({"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
      "nearest_mode": "floor"}, [1, 3, 5, 6], [1, 3, 10, 12], [1, 1, 2, 2], None),
    ({"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
      "nearest_mode": "floor"}, [1, 2, 4, 4], [1, 2, 32, 32], [1, 1, 8, 8], None),
    ({"mode": "nearest"}, [1, 2, 5, 7], [1, 2, 8, 11], None, [1, 2, 8, 11]),
    ({"mode": "nearest", "coordinate_transformation_mode": "align_corners",
      "nearest_mode": "round_prefer_ceil"}, [1, 2, 5, 7], [1, 2, 9, 3], None, [1, 2, 9, 3]),
    ({"mode": "nearest", "coordinate_transformation_mode": "half_pixel",
      "nearest_mode": "ceil"}, [2, 2, 6, 6], [2, 2, 3, 9], [1, 1, 0.5, 1.5], None),
]
LINEAR = [
    ({"mode": "linear"}, [1, 3, 5, 6], [1, 3, 10, 12], [1, 1, 2, 2], None),
    ({"mode": "linear", "coordinate_transformation_mode": "align_corners"},
     [1, 2, 5, 7], [1, 2, 9, 4], None, [1, 2, 9, 4]),
    ({"mode": "linear", "coordinate_transformation_mode": "asymmetric"},
     [1, 2, 4, 6], [1, 2, 12, 3], [1, 1, 3, 0.5], None),
    ({"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"},
     [1, 2, 6, 5], [1, 2, 1, 11], None, [1, 2, 1, 11]),
    ({"mode": "linear", "coordinate_transformation_mode": "half_pixel_symmetric"},
     [1, 2, 6, 5], [1, 2, 9, 7], None, [1, 2, 9, 7]),
    # 3-D input, only the last axis resized
    ({"mode": "linear"}, [2, 3, 7], [2, 3, 14], [1, 1, 2], None),
]


@pytest.mark.parametrize(("attrs", "x_shape", "y_shape", "scales", "sizes"), NEAREST + LINEAR)
def test_resize(attrs, x_shape, y_shape, scales, sizes, tmp_path):
    p = _resize_model(x_shape, y_shape, attrs, scales, sizes)
    compile_and_check(p, tmp_path, blocks=1)


@pytest.mark.parametrize(("policy", "y_shape"), [("not_larger", [1, 2, 5, 8]),
                                               ("not_smaller", [1, 2, 8, 12])])
def test_resize_keep_aspect_ratio(policy, y_shape, tmp_path):
    nodes = [node("Resize", ["x", "", "", "sz"], ["y"], mode="nearest", axes=[2, 3],
                  keep_aspect_ratio_policy=policy)]
    p = model(nodes, [vi("x", [1, 2, 4, 6])], [vi("y", y_shape)],
              [const("sz", np.asarray([8, 8], np.int64))])
    compile_and_check(p, tmp_path, blocks=1)


def test_resize_fused_between_convs_no_buffer(tmp_path):
    # FPN-style: Resize(nearest x2) of one branch added to another, then Relu: one block
    # with no arena buffer.
    nodes = [
        node("Resize", ["a", "roi", "sc"], ["u"], mode="nearest",
             coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
        node("Add", ["u", "b"], ["s"]),
        node("Relu", ["s"], ["y"]),
    ]
    p = model(nodes, [vi("a", [1, 4, 8, 8]), vi("b", [1, 4, 16, 16])],
              [vi("y", [1, 4, 16, 16])],
              [const("roi", EMPTY), const("sc", np.asarray([1, 1, 2, 2], np.float32))])
    planned, out = compile_and_check(p, tmp_path, blocks=1)
    assert json.loads((out / "report.json").read_text())["arena_bytes"] == 0
    assert "/ 2)" in (out / "model.c").read_text()  # closed form, no table


def test_resize_unsupported_mode_names_node(tmp_path):
    from compiler_core.errors import UnsupportedOperatorError

    # cubic is supported (codegen/ops_resize_cubic.py); antialiasing is not
    p = _resize_model([1, 1, 4, 4], [1, 1, 8, 8], {"mode": "cubic", "antialias": 1},
                      [1, 1, 2, 2])
    with pytest.raises(UnsupportedOperatorError, match="Resize.*antialias"):
        compile_and_check(p, tmp_path)


@pytest.mark.parametrize(
    ("mode", "pads", "y_shape"),
    [
        ("constant", [0, 0, 1, 2, 0, 0, 2, 1], [1, 3, 8, 8]),
        ("constant", [0, 1, -1, 0, 0, 0, 2, -2], [1, 4, 6, 3]),
        ("edge", [0, 0, 2, 1, 0, 0, 1, 3], [1, 3, 8, 9]),
        ("reflect", [0, 0, 2, 1, 0, 0, 1, 3], [1, 3, 8, 9]),
        ("wrap", [0, 0, 2, 1, 0, 0, 1, 3], [1, 3, 8, 9]),
    ],
)
def test_pad(mode, pads, y_shape, tmp_path):
    nodes = [node("Relu", ["x"], ["r"]), node("Pad", ["r", "p", "v"], ["z"], mode=mode),
             node("Neg", ["z"], ["y"])]
    inits = [const("p", np.asarray(pads, np.int64)), const("v", np.float32(0.5))]
    if mode != "constant":
        nodes[1] = node("Pad", ["r", "p"], ["z"], mode=mode)
        inits = inits[:1]
    p = model(nodes, [vi("x", [1, 3, 5, 5])], [vi("y", y_shape)], inits)
    compile_and_check(p, tmp_path, blocks=1)
