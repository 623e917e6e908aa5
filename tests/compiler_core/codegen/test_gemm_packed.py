"""GEMMs with B packed at compile time (anchors/gemm_packed.py, c/dnf_gemm_pb.c), and the convs
computed through it as Y^T = X^T W^T (anchors/conv_packed.py: deep 1x1 convs, convs on small
images).

Each model is compared with ONNX Runtime (compile_and_check: 3 random input sets), the plan's
blocks stated; the shapes cover the kernel's edges: rows not a multiple of its register
blocks (12, 4, 1 on AVX-512; 6, 1 on AVX2), columns not a multiple of a 32-column strip or of
16, one column, one row, and the column split over threads. The ISA levels must give the
same bits ($DNNFUSION_GEMM_ISA caps the level, read when the library loads)."""

from __future__ import annotations

import platform

import numpy as np
import pytest

from compiler_core.codegen.anchors.gemm_packed import NR, pack, used_on
from tests.compiler_core.codegen.util import (
    assert_isa_levels_agree,
    compile_and_check,
    conv_model,
    feeds_for,
    model,
    node,
    run_ort,
    vi,
    weight,
)

pytestmark = pytest.mark.skipif(
    not used_on(platform.machine()),
    reason="the packed-B path is taken on x86-64 targets only (others keep cblas_sgemm)",
)


def _matmul(m, k, n, *, bias=False, act=None, seed=0):
    """``X[1, m, k] @ W[k, n]`` (+ b) (-> act) with W, b constants."""
    nodes = [node("MatMul", ["x", "w"], ["mm"])]
    inits = [weight("w", [k, n], seed, 0.2)]
    last = "mm"
    if bias:
        nodes.append(node("Add", [last, "b"], ["ab"]))
        inits.append(weight("b", [n], seed + 1))
        last = "ab"
    if act:
        nodes.append(node(act, [last], ["ac"]))
        last = "ac"
    nodes[-1].output[0] = "y"
    return model(nodes, [vi("x", [1, m, k])], [vi("y", [1, m, n])], inits)


def _source(out) -> str:
    return (out / "model.c").read_text()


def test_pack_layout():
    b = np.arange(5 * 40, dtype=np.float32).reshape(5, 40)
    p = pack(b)
    assert p.shape == (2, 5, NR)
    np.testing.assert_array_equal(p[0], b[:, :32])
    np.testing.assert_array_equal(p[1, :, :8], b[:, 32:])
    assert not p[1, :, 8:].any()  # the last strip is zero-padded


@pytest.mark.parametrize(
    "m,k,n",
    [
        (128, 64, 96),  # rows: 10 blocks of 12 + 2 of 4; whole strips
        (29, 33, 70),  # 2x12 + 4 + 1 rows; a strip of 6 columns; odd depth
        (7, 16, 13),  # fewer than 16 columns (one masked half)
        (1, 48, 200),  # one row (a GEMV), split over threads by columns
        (5, 8, 1),  # one column
        (50, 300, 17),  # 17 columns: a full half and one column
    ],
)
def test_matmul_packed_matches_ort(tmp_path, m, k, n):
    proto = _matmul(m, k, n)
    _, out = compile_and_check(proto, tmp_path, blocks=[["MatMul"]])
    src = _source(out)
    assert "dnf_gemm_pb(" in src.split("/* block 0", 1)[1]
    assert "scipy_cblas_sgemm(" not in src.split("/* block 0", 1)[1]


def test_packed_with_epilogue_and_weights_not_stored_twice(tmp_path):
    proto = _matmul(40, 64, 160, bias=True, act="Relu")
    _, out = compile_and_check(proto, tmp_path, blocks=[["MatMul", "Add", "Relu"]])
    # W (64 x 160) is stored once, packed (160 columns = 5 whole strips), plus the bias
    # (alignment padding aside)
    assert (out / "weights.bin").stat().st_size < 4 * (2 * 64 * 160)


@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_packed_bias_and_trans_b(tmp_path, trans_b):
    """Gemm: a [n] C with beta 1 starts the sums; transB packs B^T."""
    m, k, n = 19, 40, 50
    w_shape = [n, k] if trans_b else [k, n]
    proto = model([node("Gemm", ["x", "w", "c"], ["y"], transB=trans_b)],
                  [vi("x", [m, k])], [vi("y", [m, n])],
                  [weight("w", w_shape, 3, 0.2), weight("c", [n], 4)])
    _, out = compile_and_check(proto, tmp_path, blocks=[["Gemm"]])
    assert "dnf_gemm_pb(" in _source(out).split("/* block 0", 1)[1]


def test_gemm_with_beta_keeps_the_added_c(tmp_path):
    m, k, n = 9, 24, 40
    proto = model([node("Gemm", ["x", "w", "c"], ["y"], beta=0.5)],
                  [vi("x", [m, k])], [vi("y", [m, n])],
                  [weight("w", [k, n], 5, 0.2), weight("c", [m, n], 6)])
    compile_and_check(proto, tmp_path, blocks=[["Gemm"]])


def test_activation_b_keeps_sgemm(tmp_path):
    """B computed at run time (an input) is not packed."""
    proto = model([node("MatMul", ["x", "w"], ["y"])], [vi("x", [6, 10]), vi("w", [10, 12])],
                  [vi("y", [6, 12])])
    _, out = compile_and_check(proto, tmp_path, blocks=[["MatMul"]])
    body = _source(out).split("/* block 0", 1)[1]
    assert "scipy_cblas_sgemm(" in body and "dnf_gemm_pb(" not in body


def test_isa_levels_give_the_same_bits(tmp_path, monkeypatch):
    """AVX-512, AVX2 + FMA and plain C sum each element in the same order with FMA."""
    proto = _matmul(29, 70, 45, bias=True)
    _, out = compile_and_check(proto, tmp_path, blocks=[["MatMul", "Add"]])
    assert_isa_levels_agree(proto, out, tmp_path, monkeypatch)


def test_deep_strips_give_the_same_bits(tmp_path, monkeypatch):
    """K >= 2048 (DNF_PB_DEEP): the AVX2 kernel takes each strip one depth block at a time
    (9 blocks, the last of 52), rows 6 + 6 + 1, a full strip and one of 13 columns (one half):
    the same bits as the other levels, and ORT's result."""
    proto = _matmul(13, 2100, 45, bias=True)
    _, out = compile_and_check(proto, tmp_path, blocks=[["MatMul", "Add"]])
    assert_isa_levels_agree(proto, out, tmp_path, monkeypatch)


# Deep 1x1 convs on small images: Y^T = X^T W^T with W^T packed (anchors/conv_packed.py).


@pytest.mark.parametrize(
    "n,c,m,hw,bias,act,residual",
    [
        (1, 64, 100, 7, True, "Relu", False),  # 100 channels: a strip of 4; 49 positions
        (2, 40, 96, 5, False, "Relu", True),  # batch 2, no bias, residual Add
        (1, 512, 1000, 13, True, "Relu", False),  # SqueezeNet's conv10
    ],
)
def test_deep_1x1_conv_packed_matches_ort(tmp_path, n, c, m, hw, bias, act, residual):
    proto = conv_model([n, c, hw, hw], [m, c, 1, 1], [n, m, hw, hw], act=act, bias=bias,
                       residual=residual)
    ops = ["Conv", *(["Add"] if residual else []), act]
    _, out = compile_and_check(proto, tmp_path, blocks=[ops])
    body = _source(out).split("/* block 0", 1)[1]
    assert "dnf_gemm_pb(" in body and "scipy_cblas_sgemm(" not in body
    # W is stored once, as its packed transpose (strips of 32 channels)
    strips = -(-m // NR)
    assert (out / "weights.bin").stat().st_size < 4 * (strips * NR * c + m) + 8192


@pytest.mark.parametrize(
    "x_shape,w_shape,y_shape,attrs,residual",
    [
        # 3x3 pad 1 on 7x7: depth 576 (three partial sums), 100 channels (a strip of 4)
        ([1, 64, 7, 7], [100, 64, 3, 3], [1, 100, 7, 7], {"pads": [1, 1, 1, 1]}, False),
        # batch 2, stride 2, pad 1, residual Add: 8x8 positions
        ([2, 24, 15, 15], [64, 24, 3, 3], [2, 64, 8, 8],
         {"pads": [1, 1, 1, 1], "strides": [2, 2]}, True),
        # 1x1 of 1024 channels (XT rows padded to 1040 floats), 256 outputs (YT rows 272)
        ([1, 1024, 5, 5], [256, 1024, 1, 1], [1, 256, 5, 5], {}, False),
        # dilation 2, 5x3 kernel, uneven pads
        ([1, 16, 12, 11], [70, 16, 5, 3], [1, 70, 8, 11],
         {"pads": [2, 1, 2, 1], "dilations": [2, 1]}, False),
        # a 1-D conv (kernel 3, stride 2) on 200 positions: 100 outputs
        ([1, 32, 200], [64, 32, 3], [1, 64, 100], {"pads": [1, 1], "strides": [2]}, False),
        # 48 output channels (SqueezeNet's 13x13 squeezes): a full strip and a half one
        ([1, 384, 13, 13], [48, 384, 1, 1], [1, 48, 13, 13], {}, False),
    ],
)
def test_small_image_conv_transposed_matches_ort(tmp_path, x_shape, w_shape, y_shape, attrs,
                                                 residual):
    """Under 256 positions with 48+ output channels: Y^T = XT W^T, W^T packed; XT gathered
    from X's transpose, one copy per position and tap, for a 2-D conv with several taps (the
    transposed im2col panel for a 1-D one)."""
    proto = conv_model(x_shape, w_shape, y_shape, residual=residual, **attrs)
    ops = ["Conv", *(["Add"] if residual else []), "Relu"]
    _, out = compile_and_check(proto, tmp_path, blocks=[ops])
    body = _source(out).split("/* block 0", 1)[1]
    assert "dnf_gemm_pb(" in body and "dnf_transpose(" in body
    assert "scipy_cblas_sgemm(" not in body
    tap_major = len(x_shape) == 4 and w_shape[2:] != [1, 1]
    assert ("memcpy(" in body) == tap_major
    # the Relu (after the residual Add) is applied by the transpose back into planes (its
    # last argument 1; the residual its res pointer), not by a pass over them
    back = [ln for ln in body.splitlines() if "dnf_transpose(" in ln and ln.rstrip().endswith(
        ", 1);")]
    assert back and all(ln.rstrip().endswith("NULL, 1);") != residual for ln in back), back
    assert "> 0.0f ?" not in body


@pytest.mark.parametrize(("residual", "kernel"), [(False, 3), (True, 3), (True, 1)])
def test_transposed_conv_isa_levels_give_the_same_bits(tmp_path, monkeypatch, residual, kernel):
    """The transposes (AVX 8x8 blocks or plain C) move values and apply the residual Add and
    the Relu alike; the GEMM levels sum alike. 81 positions: 8x8 blocks and plain edges; the
    1x1 conv's GEMM reads X in place as A transposed (depth 300: two partial sums)."""
    c = 40 if kernel == 3 else 300
    proto = conv_model([1, c, 9, 9], [72, c, kernel, kernel], [1, 72, 9, 9],
                       pads=[kernel // 2] * 4, residual=residual)
    ops = ["Conv", "Add", "Relu"] if residual else ["Conv", "Relu"]
    _, out = compile_and_check(proto, tmp_path, blocks=[ops])
    calls = [ln for ln in _source(out).split("/* block 0", 1)[1].splitlines()
             if "dnf_gemm_pb(" in ln]
    assert calls and all((", 81, 1, " in ln) == (kernel == 1) for ln in calls), calls
    assert_isa_levels_agree(proto, out, tmp_path, monkeypatch)


def test_few_channels_on_a_small_image_keep_sgemm(tmp_path):
    """Fewer than 48 output channels, fewer than positions: the sgemm path."""
    proto = conv_model([1, 32, 14, 14], [32, 32, 1, 1], [1, 32, 14, 14])
    _, out = compile_and_check(proto, tmp_path, blocks=[["Conv", "Relu"]])
    body = _source(out).split("/* block 0", 1)[1]
    assert "scipy_cblas_sgemm(" in body and "dnf_gemm_pb(" not in body


def test_strips_that_do_not_divide_among_threads_split_positions(tmp_path):
    """96 output channels are 3 strips: 2 threads split the 196 positions (all channels each)
    and then the epilogue (residual Add, Relu) by channel; 1 and 3 threads split the strips.
    Every thread count matches ORT with the same bits (each element is summed in one order)."""
    from compiler_core.runtime import InferenceSession

    proto = conv_model([1, 48, 27, 27], [96, 48, 3, 3], [1, 96, 14, 14], residual=True,
                       pads=[1, 1, 1, 1], strides=[2, 2])
    _, out = compile_and_check(proto, tmp_path, blocks=[["Conv", "Add", "Relu"]])
    body = _source(out).split("/* block 0", 1)[1]
    assert "dnf_gemm_pb(" in body and "3 % omp_get_num_threads() == 0" in body
    small = conv_model([1, 48, 13, 13], [96, 48, 3, 3], [1, 96, 7, 7], pads=[1, 1, 1, 1],
                       strides=[2, 2])  # 49 positions: the threads always split the strips
    _, out_small = compile_and_check(small, tmp_path, blocks=[["Conv", "Relu"]])
    assert "omp_get_num_threads() == 0" not in _source(out_small).split("/* block 0", 1)[1]
    feeds = feeds_for(proto, 1)
    want = run_ort(proto, feeds)
    got = {}
    for threads in (1, 2, 3):
        with InferenceSession(out, threads=threads) as sess:
            got[threads] = sess.run(None, feeds)[0]
        np.testing.assert_allclose(got[threads], next(iter(want.values())), rtol=1e-3, atol=1e-4)
    np.testing.assert_array_equal(got[1], got[2])
    np.testing.assert_array_equal(got[1], got[3])


def test_workspace_holds_the_panel_of_a_1d_conv_and_x_transposed_of_a_2d_one():
    """A 1-D conv with taps fills the im2col panel P[K, N] (K = 32*3, N = 100) beside YT (the
    panel is read in place as A transposed: no XT); a 2-D one X's transpose XN[HW, C] (C = 24
    padded to 32 floats per row) beside XT and YT."""
    import onnx_ir as ir

    from compiler_core.codegen.anchors import conv_packed
    from compiler_core.codegen.anchors.conv_shape import conv_shape

    def conv_node(proto):
        m = ir.serde.deserialize_model(proto)
        (n,) = [n for n in m.graph if n.op_type == "Conv"]
        return n

    one_d = conv_node(conv_model([1, 32, 200], [64, 32, 3], [1, 64, 100], pads=[1, 1],
                                 strides=[2]))
    s = conv_shape(one_d)
    assert conv_packed.workspace(one_d, s) == 100 * conv_packed.row_stride(64) + 96 * 100
    two_d = conv_node(conv_model([2, 24, 15, 15], [64, 24, 3, 3], [2, 64, 8, 8],
                                 pads=[1, 1, 1, 1], strides=[2, 2]))
    s = conv_shape(two_d)
    xt_yt = 64 * (conv_packed.row_stride(216) + conv_packed.row_stride(64))
    assert conv_packed.workspace(two_d, s) == xt_yt + 225 * 32
