"""The Winograd path of 3x3 stride-1 convs (anchors/conv_winograd.py) against ONNX Runtime:
F(2,3) and F(4,3) (forced, whatever the measured rule says), padding 0 / 1 / asymmetric, odd
sizes (tile remainders in rows and columns), input narrower than a tile, bias and no bias, a
fused Relu / residual Add epilogue, batch 2, several tile groups over threads; random convs with
C, M in {16, 64, 256} and H x W in {7, 14, 28, 56}; the rule that picks the path; the matrices."""

from __future__ import annotations

import itertools
import platform
import shutil

import numpy as np
import pytest

from compiler_core.codegen.anchors import conv_winograd
from compiler_core.codegen.anchors.conv_shape import ConvShape
from compiler_core.codegen.anchors.conv_winograd import choose_m, matrices, wino_plan
from compiler_core.codegen.anchors.gemm_packed import used_on
from compiler_core.codegen.anchors.window import Axis, Window
from compiler_core.compile import compile_model
from compiler_core.runtime import InferenceSession
from tests.compiler_core.codegen.util import (
    assert_isa_levels_agree,
    compile_and_check,
    conv_model,
    feeds_for,
    model,
    node,
    vi,
    weight,
)
from tests.helpers.ort import run_ort


def _force(monkeypatch, m):
    monkeypatch.setattr(conv_winograd, "choose_m", lambda s, deep=False: m)


CASES = [
    # pad 1, sizes not multiples of 2 or 4 (remainder tiles in both directions)
    ([1, 5, 9, 11], [13, 5, 3, 3], [1, 13, 9, 11], {"pads": [1, 1, 1, 1]}, {}),
    # no padding, batch 2, no bias
    ([2, 16, 10, 13], [24, 16, 3, 3], [2, 24, 8, 11], {}, {"bias": False}),
    # asymmetric pads, an input narrower than a tile, a wide one
    ([1, 8, 6, 3], [7, 8, 3, 3], [1, 7, 5, 3], {"pads": [0, 1, 1, 1]}, {}),
    ([1, 6, 5, 40], [9, 6, 3, 3], [1, 9, 6, 40], {"pads": [2, 1, 1, 1]}, {}),
    # SAME_UPPER, residual Add + Sigmoid epilogue
    ([1, 12, 14, 14], [20, 12, 3, 3], [1, 20, 14, 14], {"auto_pad": "SAME_UPPER"},
     {"residual": True, "act": "Sigmoid"}),
    # big enough for several tile groups on several threads, batch 2
    ([2, 32, 30, 29], [48, 32, 3, 3], [2, 48, 30, 29], {"pads": [1, 1, 1, 1]},
     {"residual": True}),
]


@pytest.mark.slow
@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize(("x_shape", "w_shape", "y_shape", "attrs", "kw"), CASES)
def test_winograd_conv_matches_ort(x_shape, w_shape, y_shape, attrs, kw, m, tmp_path,
                                   monkeypatch):
    _force(monkeypatch, m)
    proto = conv_model(x_shape, w_shape, y_shape, **kw, **attrs)
    _, out = compile_and_check(proto, tmp_path, blocks=1)
    text = (out / "model.c").read_text()
    assert f"Winograd F({m}x{m}, 3x3)" in text
    if "dnf_gemm_pa(" in text:  # U in dnf_gemm_pa's strips: when M fills them, or on a
        # small image from 96 channels (conv_winograd.PART_STRIP_M)
        assert w_shape[0] % 12 == 0 or (w_shape[0] >= 96 and min(y_shape[2:]) <= 16)


@pytest.mark.skipif(not used_on(platform.machine()), reason="dnf_gemm_pa is x86-64's")
@pytest.mark.parametrize(("side", "packed"), [(56, True), (28, False)])
def test_u_is_packed_where_strips_and_column_blocks_fill(side, packed, tmp_path, monkeypatch):
    """48 output channels (4 strips of 12). 56x56: 28 tiles per row, 112 or 196 tile columns
    per group (whole 32-column blocks but for 16 or 28): dnf_gemm_pa. 28x28: 98 (30 short of
    4 blocks): cblas_sgemm. Both match ORT."""
    _force(monkeypatch, 2)
    proto = conv_model([1, 16, side, side], [48, 16, 3, 3], [1, 48, side, side],
                       pads=[1, 1, 1, 1])
    _, out = compile_and_check(proto, tmp_path, blocks=1)
    text = (out / "model.c").read_text()
    assert ("dnf_gemm_pa(" in text) == packed
    assert ("scipy_cblas_sgemm(" in text) == (not packed)


@pytest.mark.skipif(not used_on(platform.machine()), reason="dnf_gemm_pa is x86-64's")
@pytest.mark.parametrize(("m_out", "packed"), [(100, True), (64, False)])
def test_u_in_part_strips_on_small_images(m_out, packed, tmp_path, monkeypatch):
    """16x16 outputs (64 tiles: whole 32-column blocks per group). 100 output channels (8
    strips of 12 and one of 4 rows) take dnf_gemm_pa, its last strip short of rows
    (conv_winograd.PART_STRIP_M); 64 keep cblas_sgemm. Both match ORT; the ISA levels of
    the part strip give the same bits."""
    _force(monkeypatch, 2)
    proto = conv_model([1, 40, 16, 16], [m_out, 40, 3, 3], [1, m_out, 16, 16],
                       pads=[1, 1, 1, 1])
    _, out = compile_and_check(proto, tmp_path, blocks=1)
    text = (out / "model.c").read_text()
    assert "Winograd F(2x2, 3x3)" in text
    assert ("dnf_gemm_pa(" in text) == packed
    assert ("scipy_cblas_sgemm(" in text) == (not packed)
    if packed:
        assert_isa_levels_agree(proto, out, tmp_path, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("m", [2, 4])
def test_random_convs_of_many_sizes_match_ort(m, tmp_path, monkeypatch):
    """C, M in {16, 64, 256}, H x W in {7, 14, 28, 56}: one model of 36 independent convs."""
    _force(monkeypatch, m)
    nodes, inputs, outputs, inits = [], [], [], []
    for i, (c, mo, h) in enumerate(itertools.product((16, 64, 256), (16, 64, 256),
                                                     (7, 14, 28, 56))):
        nodes.append(node("Conv", [f"x{i}", f"w{i}", f"b{i}"], [f"y{i}"], pads=[1, 1, 1, 1]))
        inputs.append(vi(f"x{i}", [1, c, h, h]))
        outputs.append(vi(f"y{i}", [1, mo, h, h]))
        inits += [weight(f"w{i}", [mo, c, 3, 3], i, (2 / (9 * c)) ** 0.5),
                  weight(f"b{i}", [mo], 100 + i, 0.1)]
    proto = model(nodes, inputs, outputs, inits)
    _, out = compile_and_check(proto, tmp_path)
    assert (out / "model.c").read_text().count(f"Winograd F({m}x{m}, 3x3)") == 36


def _shape(c, m, h, w=None, k=3, stride=1, pad=1, group=1, n=1):
    w = h if w is None else w
    out_h, out_w = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    win = Window(Axis(h, out_h, k, stride, 1, pad, pad), Axis(w, out_w, k, stride, 1, pad, pad))
    return ConvShape(n, c, m, group, win)


def test_the_measured_rule_picks_the_tile_size():
    # large images: F(2,3) too (F(4,3) missed ORT's output on ResNet-50: F43_SIDE)
    assert choose_m(_shape(64, 64, 56)) == 2
    assert choose_m(_shape(16, 64, 55)) == 2
    assert choose_m(_shape(128, 128, 28)) == 2
    # deep 14x14 convs leave Winograd (DEEP_CM: the transposed packed path on x86-64)
    assert choose_m(_shape(256, 256, 14)) is None
    assert choose_m(_shape(192, 192, 14)) is None
    assert choose_m(_shape(160, 192, 14)) == 2
    assert choose_m(_shape(128, 32, 14)) == 2  # DenseNet-121's
    assert choose_m(_shape(256, 256, 16)) == 2
    # ... but keep an F(2,3) plan for CPUs without AVX-512 (a run-time branch in conv.py)
    assert choose_m(_shape(256, 256, 14), deep=True) == 2
    assert choose_m(_shape(192, 192, 14), deep=True) == 2
    assert choose_m(_shape(512, 512, 7), deep=True) is None  # under MIN_SIDE either way
    assert choose_m(_shape(512, 512, 7)) is None  # 7x7: im2col + sgemm measured faster
    assert choose_m(_shape(48, 192, 13)) is None  # 13x13: 14x14 of tiles, gain 1.94 < 2
    assert choose_m(_shape(32, 128, 27)) == 2  # 27x27: gain 2.09
    assert choose_m(_shape(8, 64, 56)) is None  # shallow: GEMM depth too small


def test_only_3x3_stride_1_ungrouped_convs_apply():
    assert wino_plan(_shape(64, 64, 56)) is not None
    assert wino_plan(_shape(64, 64, 56, stride=2)) is None
    assert wino_plan(_shape(64, 64, 56, k=5, pad=2)) is None
    assert wino_plan(_shape(64, 64, 56, k=1, pad=0)) is None
    assert wino_plan(_shape(64, 64, 56, group=2)) is None


def test_switch_turns_the_path_off(monkeypatch):
    monkeypatch.setenv("DNNFUSION_NO_WINOGRAD", "1")
    assert wino_plan(_shape(64, 64, 56)) is None


def test_plan_splits_an_image_for_two_threads():
    p = wino_plan(_shape(128, 128, 28))
    assert (p.m, p.th, p.tw) == (2, 14, 14)
    assert p.n_groups >= 2 and p.r * p.n_groups >= p.th and p.parallel
    assert p.ws >= p.slot * 8  # WORKSPACE_SLOTS slots
    p = wino_plan(_shape(64, 64, 56), m=4)  # 14 tile rows: 7 groups of 2 would leave 4 + 3
    assert (p.m, p.th, p.n_groups, p.r) == (4, 14, 8, 2)


@pytest.mark.parametrize("m", [2, 4])
def test_matrices_compute_a_correlation(m):
    """``A^T [(G g G^T) (.) (B^T d B)] A`` is the 3x3 correlation of the tile, in float64."""
    at, g, bt = matrices(m)
    a = m + 2
    rng = np.random.default_rng(m)
    w, d = rng.standard_normal((3, 3)), rng.standard_normal((a, a))
    got = at @ ((g @ w @ g.T) * (bt @ d @ bt.T)) @ at.T
    want = np.array([[np.sum(w * d[i:i + 3, j:j + 3]) for j in range(m)] for i in range(m)])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert np.array_equal(bt, np.round(bt))  # the input transform has integer coefficients


@pytest.mark.slow
def test_weights_from_a_graph_input_keep_im2col(tmp_path, monkeypatch):
    """W not constant: no compile-time transform, so the im2col + sgemm path."""
    _force(monkeypatch, 2)
    proto = model([node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])],
                  [vi("x", [1, 16, 12, 12]), vi("w", [8, 16, 3, 3])], [vi("y", [1, 8, 12, 12])])
    _, out = compile_and_check(proto, tmp_path, blocks=1)
    assert "Winograd" not in (out / "model.c").read_text()


@pytest.mark.slow
def test_arm64_target_builds_and_matches(tmp_path, monkeypatch):
    """linux-arm64 (cross-compiled, run under qemu): the portable transforms build and the
    result matches ONNX Runtime."""
    from compiler_core.target.targets import TARGETS

    arm = TARGETS["linux-arm64"]
    assert shutil.which(arm.compiler()[0]) and arm.launcher() is not None, \
        "no aarch64 cross compiler or qemu: run scripts/setup-apt.sh"
    _force(monkeypatch, 4)
    proto = conv_model([1, 16, 13, 11], [24, 16, 3, 3], [1, 24, 13, 11], pads=[1, 1, 1, 1])
    out = compile_model(proto, target="linux-arm64", output_dir=tmp_path / "arm")
    assert "Winograd F(4x4, 3x3)" in (out / "model.c").read_text()
    feeds = feeds_for(proto, 0)
    got = InferenceSession(out, threads=2).run(None, feeds)[0]
    np.testing.assert_allclose(got, run_ort(proto, feeds)["y"], rtol=1e-3, atol=1e-4)


def test_huge_workspace_keeps_im2col():
    """One tile row of a 4000-wide image with 2048 + 2048 channels would need a 512 MB slot."""
    assert wino_plan(_shape(2048, 2048, 16, w=4000), m=2) is None
    assert wino_plan(_shape(64, 64, 16, w=4000), m=2) is not None


@pytest.mark.skipif(not used_on(platform.machine()), reason="the packed GEMMs are x86-64 only")
@pytest.mark.parametrize("isa", ["avx512", "avx2", "c"])
def test_deep_small_conv_holds_both_paths(isa, tmp_path, monkeypatch):
    # C 192 M 192 on 14x14: the transposed packed path (conv_packed) with AVX-512, F(2,3) below
    # it, chosen at run time by dnf_gemm_isa(); each capped level must match ORT
    proto = conv_model([1, 192, 14, 14], [192, 192, 3, 3], [1, 192, 14, 14],
                       pads=[1, 1, 1, 1], residual=True)
    monkeypatch.setenv("DNNFUSION_GEMM_ISA", isa)
    _, out = compile_and_check(proto, tmp_path, blocks=[["Conv", "Add", "Relu"]])
    src = (out / "model.c").read_text()
    assert src.count("if (dnf_gemm_isa() == 2) {") == 1
    assert src.count("Winograd F(2x2, 3x3)") == 1
    assert "dnf_gemm_pb(" in src
