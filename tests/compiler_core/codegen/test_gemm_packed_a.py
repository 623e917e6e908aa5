"""Convs whose weights are packed at compile time for dnf_gemm_pa (anchors/gemm_packed_a.py,
c/dnf_gemm_pa.c): images of 256+ output positions on x86-64.

Each model is compared with ONNX Runtime (compile_and_check: 3 random input sets), its plan's
blocks stated; the shapes cover the kernel's edges: output channels not a multiple of its
register blocks (12, then 8 or 4 rows on AVX-512; 6 on AVX2), positions not a multiple of a
32-column block or of 16, depths over one partial sum (256 terms), groups, batch 2, a stride
and padding (the im2col panel), a fused prologue read while the panel is filled, and the
threads splitting the output channels of a shared panel. The ISA levels must give the same
bits ($DNNFUSION_GEMM_ISA caps the level, read when the library loads)."""

from __future__ import annotations

import platform
import re

import numpy as np
import pytest

from compiler_core.codegen.anchors.gemm_packed import used_on
from compiler_core.codegen.anchors.gemm_packed_a import MR, pack
from tests.compiler_core.codegen.util import (
    assert_isa_levels_agree,
    compile_and_check,
    conv_model,
    model,
    node,
    vi,
    weight,
)

pytestmark = pytest.mark.skipif(
    not used_on(platform.machine()),
    reason="the packed-A path is taken on x86-64 targets only (others keep cblas_sgemm)",
)


@pytest.fixture(autouse=True)
def no_winograd(monkeypatch):
    """3x3 stride-1 convs of 16+ channels would go the Winograd way."""
    monkeypatch.setenv("DNNFUSION_NO_WINOGRAD", "1")


def _body(out) -> str:
    return (out / "model.c").read_text().split("/* block 0", 1)[1]


def test_pack_layout():
    w = np.arange(2 * 14 * 3, dtype=np.float32).reshape(2, 14, 3)  # 2 groups of 14 rows
    p = pack(w)
    assert p.shape == (2, 2, 3, MR)
    np.testing.assert_array_equal(p[1, 0], w[1, :12].T)  # strip 0 of group 1: [depth][row]
    np.testing.assert_array_equal(p[1, 1, :, :2], w[1, 12:].T)
    assert not p[:, 1, :, 2:].any()  # the last strip of each group is zero-padded


CASES = [
    # 1x1 stride 1 (X read in place): 25 channels (12 + 12 + 1 rows), 272 positions
    # (8 blocks of 32 + 16 columns)
    ([1, 20, 16, 17], [25, 20, 1, 1], [1, 25, 16, 17], {}, True),
    # 3x3 pad 1: depth 360 (two partial sums), 20 channels (12 + 8), no bias
    ([1, 40, 16, 16], [20, 40, 3, 3], [1, 20, 16, 16], {"pads": [1, 1, 1, 1]}, False),
    # two groups of 10 channels (a block of 12 rows, 10 stored), 400 positions
    ([1, 16, 20, 20], [20, 8, 3, 3], [1, 20, 20, 20], {"pads": [1, 1, 1, 1], "group": 2},
     True),
    # batch 2, stride 2, pad 1: 17x17 = 289 positions, 30 channels (12 + 12 + 6)
    ([2, 5, 33, 33], [30, 5, 3, 3], [2, 30, 17, 17], {"pads": [1, 1, 1, 1], "strides": [2, 2]},
     True),
    # 64 -> 64 channels, 16x16: few row tiles, the threads split the channels of one shared
    # im2col panel (blocks of 12)
    ([1, 64, 16, 16], [64, 64, 3, 3], [1, 64, 16, 16], {"pads": [1, 1, 1, 1]}, True),
]


@pytest.mark.parametrize(("x_shape", "w_shape", "y_shape", "attrs", "bias"), CASES)
def test_conv_packed_a_matches_ort(tmp_path, x_shape, w_shape, y_shape, attrs, bias):
    proto = conv_model(x_shape, w_shape, y_shape, bias=bias, residual=not bias, **attrs)
    ops = ["Conv", *([] if bias else ["Add"]), "Relu"]
    _, out = compile_and_check(proto, tmp_path, blocks=[ops])
    body = _body(out)
    assert "dnf_gemm_pa(" in body and "scipy_cblas_sgemm(" not in body
    # a lone Relu, or a residual Add then the Relu, is applied by the kernel as it stores
    # (relu argument 1; the residual as the res pointer before it), with no pass of its own
    calls = [ln for ln in body.splitlines() if "dnf_gemm_pa(" in ln]
    assert all(ln.rstrip().endswith(", 1);") for ln in calls), calls
    assert all(ln.rstrip().endswith(", NULL, 1);") == bias for ln in calls), calls
    assert "> 0.0f ?" not in body
    # W is stored once, packed (strips of 12 rows per group), plus the bias
    m, cg, kh, kw = w_shape
    g = attrs.get("group", 1)
    packed = g * -(-(m // g) // MR) * MR * cg * kh * kw
    assert (out / "weights.bin").stat().st_size < 4 * (packed + m) + 8192


def test_prologue_read_while_filling_the_panel(tmp_path):
    """Add + Relu before a 1x1 conv: the panel is filled from the prologue, then dnf_gemm_pa."""
    shape = [1, 24, 18, 18]
    nodes = [node("Add", ["x", "r"], ["s"]), node("Relu", ["s"], ["a"]),
             node("Conv", ["a", "w", "b"], ["c"]), node("Relu", ["c"], ["y"])]
    proto = model(nodes, [vi("x", shape), vi("r", shape)], [vi("y", [1, 40, 18, 18])],
                  [weight("w", [40, 24, 1, 1], 1, 0.3), weight("b", [40], 2)])
    _, out = compile_and_check(proto, tmp_path, blocks=[["Add", "Relu", "Conv", "Relu"]])
    assert "dnf_gemm_pa(" in _body(out)


def test_strips_mostly_empty_keep_sgemm(tmp_path):
    """Groups of 3 output channels would fill a quarter of each 12-row strip: sgemm."""
    proto = conv_model([1, 8, 20, 20], [6, 4, 3, 3], [1, 6, 20, 20], pads=[1, 1, 1, 1], group=2)
    _, out = compile_and_check(proto, tmp_path, blocks=[["Conv", "Relu"]])
    body = _body(out)
    assert "scipy_cblas_sgemm(" in body and "dnf_gemm_pa(" not in body


def test_small_image_keeps_sgemm(tmp_path):
    """Under 256 positions (14x14): the sgemm path."""
    proto = conv_model([1, 16, 14, 14], [32, 16, 3, 3], [1, 32, 14, 14], pads=[1, 1, 1, 1])
    _, out = compile_and_check(proto, tmp_path, blocks=[["Conv", "Relu"]])
    body = _body(out)
    assert "scipy_cblas_sgemm(" in body and "dnf_gemm_pa(" not in body


@pytest.mark.parametrize("residual", [False, True])
def test_isa_levels_give_the_same_bits(tmp_path, monkeypatch, residual):
    """AVX-512, AVX2 + FMA and plain C sum each element in the same order with FMA; with a
    residual Add (depth 270: two partial sums, the residual added after the last) too."""
    proto = conv_model([1, 30, 17, 19], [29, 30, 3, 3], [1, 29, 17, 19], pads=[1, 1, 1, 1],
                       residual=residual, bias=not residual)
    ops = ["Conv", "Add", "Relu"] if residual else ["Conv", "Relu"]
    _, out = compile_and_check(proto, tmp_path, blocks=[ops])
    calls = [ln for ln in _body(out).splitlines() if "dnf_gemm_pa(" in ln]
    assert calls and all(ln.rstrip().endswith("NULL, 1);") != residual for ln in calls), calls
    assert_isa_levels_agree(proto, out, tmp_path, monkeypatch)


FLAT_CASES = [
    # residual Add + Relu applied by the kernel: depth 300 (two partial sums, the residual
    # added after the last), 30 channels (12 + 12 + 6)
    ([1, 300, 28, 28], [30, 300, 1, 1], "Relu", True, True),
    # a lone Relu with a bias
    ([1, 40, 28, 28], [30, 40, 1, 1], "Relu", False, True),
    # a Sigmoid stays an epilogue pass over row tiles: no flat tiles
    ([1, 40, 28, 28], [30, 40, 1, 1], "Sigmoid", False, False),
    # 3x3 stride 2 pad 1 from 56x56: each tile fills the im2col panel of the output rows it
    # touches (depth 288: two partial sums)
    ([1, 32, 56, 56], [30, 32, 3, 3], "Relu", False, True),
    # 3x3 pad 1 with a residual Add
    ([1, 20, 28, 28], [30, 20, 3, 3], "Relu", True, True),
]


@pytest.mark.parametrize(("x_shape", "w_shape", "act", "residual", "flat"), FLAT_CASES)
def test_flat_tiles_on_28x28(tmp_path, monkeypatch, x_shape, w_shape, act, residual, flat):
    """A conv with a 28x28 output (784 positions: 25 blocks of 32 columns, the last 16 wide)
    whose epilogue the kernel applies takes tiles of whole 32-column blocks that do not start
    on an output row (conv_gemm._emit_flat): each tile reads its columns of X in place (1x1)
    or fills the im2col panel of the rows they touch, then one dnf_gemm_pa call; any other epilogue
    keeps row tiles (7 rows: 196 columns)."""
    y_shape = [1, w_shape[0], 28, 28]
    k = w_shape[2]
    attrs = {} if k == 1 else {"pads": [1, 1, 1, 1], "strides": [x_shape[2] // 28] * 2}
    proto = conv_model(x_shape, w_shape, y_shape, act=act, residual=residual,
                       bias=not residual, **attrs)
    ops = ["Conv", *(["Add"] if residual else []), act]
    _, out = compile_and_check(proto, tmp_path, blocks=[ops])
    body = _body(out)
    calls = [ln for ln in body.splitlines() if "dnf_gemm_pa(" in ln]
    assert len(calls) == 1
    # the flat tile's columns: blocks [T*25/n, (T+1)*25/n) of 32, the last cut at 784
    assert ("*25/" in body and "< 784 ? " in body) == flat, body
    if act == "Relu":  # the kernel's (its last argument 1), not a pass over the tile
        assert calls[0].rstrip().endswith(", 1);") and "> 0.0f ?" not in body
    if residual or k == 3:
        assert_isa_levels_agree(proto, out, tmp_path, monkeypatch)


@pytest.mark.parametrize(("x_shape", "m", "residual"), [
    # SqueezeNet's 55x55 squeeze (3025 positions: the last 32-column block 17 wide), 16
    # channels (12 + 4 rows), a bias and Relu
    ([1, 96, 55, 55], 16, False),
    # 28x28 (flat tiles), depth 300 (two partial sums), 40 channels (12 x 3 + 4), a residual
    ([1, 300, 28, 28], 40, True),
    # 20x20 with a residual: row tiles
    ([1, 24, 20, 20], 29, True),
])
def test_1x1_reads_x_in_place(tmp_path, monkeypatch, x_shape, m, residual):
    """A 1x1 stride-1 conv on dnf_gemm_pa reads X where it is (B = X's rows, ldb = H*W): no
    copy into a panel, no workspace (conv_gemm.pa_reads_x_in_place); the ISA levels agree."""
    n, c, h, w = x_shape
    proto = conv_model(x_shape, [m, c, 1, 1], [n, m, h, w], residual=residual, bias=not residual)
    ops = ["Conv", *(["Add"] if residual else []), "Relu"]
    _, out = compile_and_check(proto, tmp_path, blocks=[ops])
    body = _body(out)
    calls = [ln.strip() for ln in body.splitlines() if "dnf_gemm_pa(" in ln]
    assert calls, body
    x_ptr = re.search(r"(\w+) = \(const float\*\)\(c->in\[0\]\)", body)
    assert x_ptr, body
    for call in calls:
        args = call[call.index("(") + 1:call.rindex(")")].split(", ")
        assert args[4].startswith(x_ptr[1] + " + "), call  # B points into X itself
        assert args[5] == str(h * w), call  # ldb: X's row stride
    assert "memcpy(" not in body and "workspace" not in body
    assert_isa_levels_agree(proto, out, tmp_path, monkeypatch)
