"""The implicit-GEMM path of stride-1 convs (anchors/conv_direct.py, c/dnf_dconv.c) against
ONNX Runtime: odd channel counts (not multiples of the kernel's 12 rows or 16 lanes), widths
whose last block of positions is under or over 16, asymmetric pads, dilation, groups, 1-D,
batch 2, a residual epilogue, tiles split over threads; and the same artifact with the path
turned off ($DNNFUSION_NO_DCONV: the im2col + sgemm branch)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from compiler_core.codegen.anchors import conv_direct
from compiler_core.codegen.anchors.conv_direct import direct_plan
from compiler_core.codegen.anchors.conv_shape import ConvShape
from compiler_core.codegen.anchors.window import Axis, Window
from compiler_core.compile import compile_model
from compiler_core.runtime import InferenceSession
from tests.compiler_core.codegen.util import (
    compile_and_check,
    conv_model,
    feeds_for,
    model,
    node,
    vi,
)
from tests.helpers.ort import run_ort

pytestmark = pytest.mark.slow  # each case compiles a model and compares it with ONNX Runtime


@pytest.fixture(autouse=True)
def any_shape(monkeypatch):
    """Small test images and deep convs would keep im2col + sgemm (the measured rules), 3x3
    stride-1 convs of 16+ channels take Winograd, and on x86-64 convs with constant weights
    take the packed-weight kernels (gemm_packed_a, conv_packed): these tests check the kernel
    and both ways of storing on every shape, so the rules are lifted."""
    monkeypatch.setattr(conv_direct, "MAX_EXTRA", 1.0)
    monkeypatch.setenv("DNNFUSION_NO_PACKED_GEMM", "1")
    monkeypatch.setattr(conv_direct, "MAX_K", 1 << 30)
    monkeypatch.setenv("DNNFUSION_NO_WINOGRAD", "1")  # 3x3 stride 1 would go the Winograd way


CASES = [
    # 3x3 pad 1, 5 input / 13 output channels, width 11 (one masked vector per tile)
    ([1, 5, 9, 11], [13, 5, 3, 3], [1, 13, 9, 11], {"pads": [1, 1, 1, 1]}),
    # width 19: a last block of 17-32 positions; batch 2
    ([2, 7, 6, 19], [25, 7, 3, 3], [2, 25, 6, 19], {"pads": [1, 1, 1, 1]}),
    # asymmetric pads, non-square kernel
    ([1, 6, 10, 13], [9, 6, 3, 5], [1, 9, 9, 10], {"pads": [1, 0, 0, 1]}),
    # no padding (valid conv), dilation 2
    ([1, 4, 12, 14], [6, 4, 3, 3], [1, 6, 8, 10], {"dilations": [2, 2]}),
    # grouped 3x3
    ([1, 12, 9, 9], [18, 4, 3, 3], [1, 18, 9, 9], {"group": 3, "pads": [1, 1, 1, 1]}),
    # 1-D; a long one (positions in several chunks of the kernel's mask table)
    ([2, 6, 40], [10, 6, 5], [2, 10, 36], {}),
    ([1, 3, 5000], [7, 3, 3], [1, 7, 5000], {"pads": [1, 1]}),
    # large enough to run on several threads, tiles split over channels and rows
    ([1, 32, 27, 27], [100, 32, 3, 3], [1, 100, 27, 27], {"pads": [1, 1, 1, 1]}),
    # SAME_UPPER padding of an even kernel (pads 0 before, 1 after)
    ([1, 3, 8, 8], [5, 3, 2, 2], [1, 5, 8, 8], {"auto_pad": "SAME_UPPER"}),
    # stride 2 (phase images): 3 channels, no padding (SqueezeNet's conv1), odd input size
    ([1, 3, 23, 21], [14, 3, 3, 3], [1, 14, 11, 10], {"strides": [2, 2]}),
    # 7x7 stride 2 pad 3 (ResNet stem), input width not a multiple of the stride
    ([1, 3, 33, 31], [16, 3, 7, 7], [1, 16, 17, 16], {"strides": [2, 2], "pads": [3, 3, 3, 3]}),
    # stride 2 with dilation 2 (every tap in one phase), stride (2, 1), SAME_UPPER stride 2
    ([1, 4, 15, 15], [6, 4, 3, 3], [1, 6, 6, 6], {"strides": [2, 2], "dilations": [2, 2]}),
    ([1, 5, 12, 10], [7, 5, 3, 3], [1, 7, 6, 10], {"strides": [2, 1], "pads": [1, 1, 1, 1]}),
    ([2, 4, 9, 9], [4, 4, 3, 3], [2, 4, 5, 5], {"strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    # stride 3, grouped
    ([1, 6, 16, 17], [9, 2, 4, 4], [1, 9, 5, 5], {"strides": [3, 3], "group": 3}),
]


@pytest.mark.parametrize(("x_shape", "w_shape", "y_shape", "attrs"), CASES)
def test_direct_conv_matches_ort(x_shape, w_shape, y_shape, attrs, tmp_path):
    _, out = compile_and_check(conv_model(x_shape, w_shape, y_shape, **attrs), tmp_path, blocks=1)
    assert "dnf_dconv(" in (out / "model.c").read_text()


def test_direct_conv_residual_epilogue(tmp_path):
    proto = conv_model([1, 16, 14, 14], [24, 16, 3, 3], [1, 24, 14, 14], residual=True,
                  act="Sigmoid", pads=[1, 1, 1, 1])
    _, out = compile_and_check(proto, tmp_path, blocks=1)
    assert "dnf_dconv(" in (out / "model.c").read_text()


def test_weights_from_a_graph_input_are_packed_at_run_time(tmp_path):
    """W not constant: no compile-time packing; the kernel packs it into the workspace."""
    proto = model([node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])],
                  [vi("x", [1, 5, 12, 20]), vi("w", [14, 5, 3, 3])], [vi("y", [1, 14, 12, 20])])
    _, out = compile_and_check(proto, tmp_path, blocks=1)
    kernels = (out / "model.c").read_text().split("static void dnf_dconv(", 1)[1]
    assert "dnf_dconv(" in kernels and "dnf_dconv_pack(" in kernels  # calls after the helper


def test_fallback_branch_gives_the_same_result(tmp_path, monkeypatch):
    """One artifact, both branches: the sgemm branch ($DNNFUSION_NO_DCONV, read when the
    library loads) agrees with the kernel to rounding."""
    proto = conv_model([1, 8, 15, 15], [20, 8, 3, 3], [1, 20, 15, 15], pads=[1, 1, 1, 1])
    _, out = compile_and_check(proto, tmp_path, blocks=1)
    feeds = feeds_for(proto, 0)
    fast = InferenceSession(out).run(None, feeds)[0]
    monkeypatch.setenv("DNNFUSION_NO_DCONV", "1")
    copy = tmp_path / "copy"  # another path: a second library instance reads the variable
    shutil.copytree(out, copy)
    slow = InferenceSession(copy).run(None, feeds)[0]
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-5)
    if _cpu_has("avx512f"):  # the kernel ran: different summation orders, the branches differ
        assert not np.array_equal(fast, slow)
    else:  # dnf_dconv_ok() is false on this CPU: both runs took the sgemm branch
        np.testing.assert_array_equal(fast, slow)


def _cpu_has(flag: str) -> bool:
    """True when /proc/cpuinfo lists ``flag`` (the test runs on x86-64 Linux or arm64)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in line.split() for line in text.splitlines() if line.startswith("flags"))


def _shape(c, m, h, w, k, stride=1, pad=1, group=1):
    out_h = (h + 2 * pad - k) // stride + 1
    out_w = (w + 2 * pad - k) // stride + 1
    win = Window(Axis(h, out_h, k, stride, 1, pad, pad), Axis(w, out_w, k, stride, 1, pad, pad))
    return ConvShape(1, c, m, group, win)


def test_direct_plan_applies_to_multi_tap_convs():
    assert direct_plan(_shape(16, 64, 55, 55, 3)) is not None
    assert direct_plan(_shape(16, 64, 55, 55, 3, stride=2)) is not None
    assert direct_plan(_shape(16, 64, 55, 55, 1, pad=0)) is None  # 1x1: GEMM on X in place
    assert direct_plan(_shape(16, 64, 56, 56, 1, pad=0, stride=2)) is None  # 1x1: im2col
    assert direct_plan(_shape(16, 16, 55, 55, 3, group=16)) is None  # depthwise loops


def test_direct_plan_keeps_small_images_and_deep_convs_on_im2col(monkeypatch):
    monkeypatch.setattr(conv_direct, "MAX_EXTRA", 0.05)
    monkeypatch.setattr(conv_direct, "MAX_K", 64)
    assert direct_plan(_shape(3, 64, 26, 26, 3)) is None  # 2 dropped columns of 26
    assert direct_plan(_shape(3, 64, 224, 224, 3, stride=2, pad=0)) is not None  # K = 27
    assert direct_plan(_shape(7, 64, 224, 224, 3)) is not None  # K = 63
    assert direct_plan(_shape(16, 64, 55, 55, 3)) is None  # K = 144


def test_direct_plan_workspace_holds_padded_input():
    d = direct_plan(_shape(64, 256, 13, 13, 3))
    assert (d.hq, d.wq, d.phases) == (15, 15, ((0, 0),))
    assert d.xp == 64 * 15 * 15
    assert d.n_hb * d.hb >= 13 and d.n_mb * d.mb >= 256
    assert d.packed == 264 * 64 * 9  # 256 rows padded to blocks of 12, K = 576
    assert d.slot == d.mb * d.hb * d.wq  # K = 576: through a slot
    assert d.ws >= d.xp + d.packed + d.slot
    assert direct_plan(_shape(3, 64, 224, 224, 3, stride=2, pad=0)).slot == 0  # K = 27


def test_phase_offsets_of_a_stride_twoconv_model():
    """3x3 stride 2 pad 1 on 9x9: 4 phase images of 6x6 (output 5x5, tap shift 0 or 1);
    tap (ki, kj) of channel c reads phase (ki % 2, kj % 2) at row ki // 2, column kj // 2."""
    s = _shape(2, 4, 9, 9, 3, stride=2)
    d = direct_plan(s)
    assert d.phases == ((0, 0), (0, 1), (1, 0), (1, 1))
    assert (d.hq, d.wq) == (6, 6)
    off = d.offsets(s).reshape(2, 3, 3)
    plane = 36
    for c in range(2):
        for ki in range(3):
            for kj in range(3):
                phase = (ki % 2) * 2 + kj % 2
                want = (phase * 2 + c) * plane + (ki // 2) * 6 + kj // 2
                assert off[c, ki, kj] == want


def test_arm64_target_takes_the_sgemm_branch(tmp_path):
    """linux-arm64 (cross-compiled, run under qemu): the helper builds as its portable loop,
    dnf_dconv_ok() is 0, and the im2col + sgemm branch matches ONNX Runtime."""
    from compiler_core.target.targets import TARGETS

    arm = TARGETS["linux-arm64"]
    assert shutil.which(arm.compiler()[0]) and arm.launcher() is not None, \
        "no aarch64 cross compiler or qemu: run scripts/setup-apt.sh"
    proto = conv_model([1, 5, 9, 11], [13, 5, 3, 3], [1, 13, 9, 11], pads=[1, 1, 1, 1])
    out = compile_model(proto, target="linux-arm64", output_dir=tmp_path / "arm")
    assert "dnf_dconv(" in (out / "model.c").read_text()
    feeds = feeds_for(proto, 0)
    got = InferenceSession(out, threads=2).run(None, feeds)[0]
    np.testing.assert_allclose(got, run_ort(proto, feeds)["y"], rtol=1e-3, atol=1e-4)
