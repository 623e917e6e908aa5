"""Fixes for cases the ONNX backend node tests found (tests/compiler_core/test_node_backend.py)."""

from __future__ import annotations

import numpy as np
import pytest

from compiler_core.compile import compile_model
from compiler_core.errors import UnsupportedOperatorError
from tests.compiler_core.codegen.util import (
    BOOL,
    compile_and_check,
    const,
    model,
    node,
    plan,
    vi,
)


def test_clip_min_greater_than_max_gives_max(tmp_path):
    nodes = [node("Clip", ["x", "lo", "hi"], ["y"])]
    p = model(nodes, [vi("x", [3, 5])], [vi("y", [3, 5])],
              [const("lo", np.float32(2.0)), const("hi", np.float32(1.0))])
    compile_and_check(p, tmp_path, blocks=1)


def test_reshape_of_empty_tensor(tmp_path):
    nodes = [node("Reshape", ["x", "s"], ["y"], allowzero=1)]
    p = model(nodes, [vi("x", [0, 3, 4])], [vi("y", [3, 4, 0])],
              [const("s", np.array([3, 4, 0], np.int64))])
    compile_and_check(p, tmp_path, blocks=1)


def test_dropout_inference_mask_is_true(tmp_path):
    nodes = [node("Dropout", ["x", "r", "t"], ["y", "m"])]
    p = model(nodes, [vi("x", [2, 3])], [vi("y", [2, 3]), vi("m", [2, 3], BOOL)],
              [const("r", np.float32(0.3)), const("t", np.bool_(False))])
    compile_and_check(p, tmp_path, blocks=1)


def test_training_dropout_refused(tmp_path):
    nodes = [node("Dropout", ["x", "r", "t"], ["y"], name="drop")]
    p = model(nodes, [vi("x", [2, 3])], [vi("y", [2, 3])],
              [const("r", np.float32(0.3)), const("t", np.bool_(True))])
    with pytest.raises(UnsupportedOperatorError, match="drop.*training_mode"):
        compile_model(plan(p), output_dir=tmp_path / "a")


def test_resize_align_corners_with_inexact_scale_refused(tmp_path):
    # input*scale = 2.4 but the output has 2 columns: ORT and the ONNX reference disagree.
    nodes = [node("Resize", ["x", "roi", "sc"], ["y"], mode="linear", name="rs",
                  coordinate_transformation_mode="align_corners")]
    p = model(nodes, [vi("x", [1, 1, 2, 4])], [vi("y", [1, 1, 1, 2])],
              [const("roi", np.zeros([0], np.float32)),
               const("sc", np.asarray([1, 1, 0.6, 0.6], np.float32))])
    with pytest.raises(UnsupportedOperatorError, match="rs.*disagree"):
        compile_model(plan(p), output_dir=tmp_path / "a")
