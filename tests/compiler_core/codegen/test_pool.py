"""Pooling and LRN anchors (direct loops) with fused prologues and epilogues, against ONNX
Runtime."""

from __future__ import annotations

import platform

import numpy as np
import pytest

from compiler_core.codegen.anchors.gemm_packed import used_on
from tests.compiler_core.codegen.util import (
    assert_isa_levels_agree,
    compile_and_check,
    const,
    model,
    node,
    vi,
    weight,
)

pytestmark = pytest.mark.slow  # 38 pooling variants compiled and compared


@pytest.mark.parametrize(
    ("x_shape", "y_shape", "attrs"),
    [
        ([1, 3, 10, 10], [1, 3, 5, 5], {"kernel_shape": [2, 2], "strides": [2, 2]}),
        ([2, 4, 11, 13], [2, 4, 6, 7],
         {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
        # inception: 3x3 stride 2 with ceil_mode, and stride 1 pad 1
        ([1, 2, 14, 14], [1, 2, 7, 7],
         {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
        ([1, 2, 7, 7], [1, 2, 7, 7], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),
        # asymmetric pads, dilation, 1-D
        ([1, 2, 9, 9], [1, 2, 4, 4],
         {"kernel_shape": [3, 2], "strides": [2, 2], "pads": [0, 1, 1, 0],
          "dilations": [1, 2]}),
        ([2, 3, 17], [2, 3, 8], {"kernel_shape": [3], "strides": [2]}),
        # a wide 1-D row (the per-thread row buffer is 400 KB of arena, not stack), parallel
        ([1, 8, 100002], [1, 8, 50001],
         {"kernel_shape": [3], "strides": [2], "pads": [1, 1]}),
    ],
)
@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_pool(op, x_shape, y_shape, attrs, tmp_path):
    attrs = dict(attrs)
    if op == "AveragePool" and "dilations" in attrs:
        attrs["count_include_pad"] = 1
    nodes = [node("Relu", ["x"], ["r"]), node(op, ["r"], ["p"], **attrs),
             node("Sigmoid", ["p"], ["y"])]
    p = model(nodes, [vi("x", x_shape)], [vi("y", y_shape)])
    compile_and_check(p, tmp_path, blocks=1)


@pytest.mark.parametrize("include", [0, 1])
@pytest.mark.parametrize("ceil", [0, 1])
def test_average_pool_counts(include, ceil, tmp_path):
    attrs = {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1],
             "count_include_pad": include, "ceil_mode": ceil}
    out = [1, 3, 6, 5] if ceil else [1, 3, 5, 5]  # H 10 -> 5 or 6 (ceil), W 9 -> 5
    p = model([node("AveragePool", ["x"], ["y"], **attrs)], [vi("x", [1, 3, 10, 9])],
              [vi("y", out)])
    compile_and_check(p, tmp_path, blocks=1)


def test_pool_costly_prologue_materialized(tmp_path):
    nodes = [node("Exp", ["x"], ["e"]), node("Tanh", ["e"], ["t"]),
             node("MaxPool", ["t"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
    p = model(nodes, [vi("x", [1, 3, 8, 8])], [vi("y", [1, 3, 8, 8])])
    compile_and_check(p, tmp_path, blocks=1)


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
def test_global_pool_prologue(op, tmp_path):
    nodes = [node("HardSwish", ["x"], ["h"]), node(op, ["h"], ["y"])]
    p = model(nodes, [vi("x", [2, 5, 7, 9])], [vi("y", [2, 5, 1, 1])])
    compile_and_check(p, tmp_path, blocks=1)


@pytest.mark.parametrize("size", [5, 3])  # ONNX Runtime only accepts odd sizes
def test_lrn(size, tmp_path):
    nodes = [node("Relu", ["x"], ["r"]),
             node("LRN", ["r"], ["y"], size=size, alpha=1e-2, beta=0.75, bias=1.5)]
    p = model(nodes, [vi("x", [1, 7, 6, 5])], [vi("y", [1, 7, 6, 5])])
    compile_and_check(p, tmp_path, blocks=1)


def test_batchnorm_elementwise(tmp_path):
    nodes = [node("BatchNormalization", ["x", "s", "b", "m", "v"], ["n"], epsilon=1e-3),
             node("Relu", ["n"], ["y"])]
    var = np.abs(np.random.default_rng(4).standard_normal(6)).astype(np.float32)
    inits = [weight("s", [6], 1), weight("b", [6], 2), weight("m", [6], 3), const("v", var)]
    p = model(nodes, [vi("x", [2, 6, 5, 5])], [vi("y", [2, 6, 5, 5])], inits)
    compile_and_check(p, tmp_path, blocks=1)


@pytest.mark.parametrize(
    ("x_shape", "y_shape", "attrs"),
    [
        # SqueezeNet's 3x3/2 on 27x27: one group of 13 outputs per row
        ([1, 3, 27, 27], [1, 3, 13, 13], {"kernel_shape": [3, 3], "strides": [2, 2]}),
        # padding on the left and top, two groups of 16 outputs (the second of 3)
        ([1, 2, 40, 37], [1, 2, 20, 19],
         {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
        # Inception's 3x3/1 pad 1; a ceil_mode overhang; dilation; stride 3 (one at a time)
        ([1, 2, 14, 14], [1, 2, 14, 14], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),
        ([1, 2, 16, 36], [1, 2, 8, 18],
         {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
        ([1, 2, 12, 20], [1, 2, 8, 16], {"kernel_shape": [3, 3], "dilations": [2, 2]}),
        ([1, 2, 17, 17], [1, 2, 5, 5], {"kernel_shape": [3, 3], "strides": [3, 3]}),
        # more rows than the 8 folded at a time, a window taller than the padding
        ([2, 2, 33, 9], [2, 2, 17, 5],
         {"kernel_shape": [5, 3], "strides": [2, 2], "pads": [2, 1, 2, 1],
          "count_include_pad": 1}),
    ],
)
@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_pool_plane_kernel(op, x_shape, y_shape, attrs, tmp_path, monkeypatch):
    """X a plain buffer (a graph input): x86-64 planes go to dnf_pool_plane (c/dnf_pool.c),
    which gives ONNX Runtime's result and, on an AVX-512 CPU, the same bits as the generated
    loops other CPUs run (the ISA levels capped by $DNNFUSION_GEMM_ISA); the Sigmoid epilogue
    runs on its planes."""
    attrs = dict(attrs)
    if op == "MaxPool":
        attrs.pop("count_include_pad", None)
    elif "dilations" in attrs:
        attrs["count_include_pad"] = 1
    nodes = [node(op, ["x"], ["p"], **attrs), node("Sigmoid", ["p"], ["y"])]
    p = model(nodes, [vi("x", x_shape)], [vi("y", y_shape)])
    _, out = compile_and_check(p, tmp_path, blocks=1)
    if used_on(platform.machine()):
        assert "dnf_pool_plane(" in (out / "model.c").read_text().split("/* block 0", 1)[1]
    assert_isa_levels_agree(p, out, tmp_path, monkeypatch)


_PLANE_HARNESS = r"""
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
@HELPERS@
int main(int argc, char** argv) {
    int64_t a[13];
    for (int i = 0; i < 13; ++i) a[i] = atoll(argv[i + 1]);
    const int64_t h = a[0], w = a[1], oh = a[2], kh = a[3], sh = a[4], ph = a[5], dh = a[6],
                  ow = a[7], kw = a[8], sw = a[9], pw = a[10], dw = a[11], is_max = a[12];
    int64_t span = pw + w + pw, need = (ow - 1) * sw + (kw - 1) * dw + 1;
    span = need > span ? need : span;
    const int64_t ldb = (span + 15) / 16 * 16;
    float* x = malloc(h * w * sizeof(float));
    float* y = malloc(oh * ow * sizeof(float));
    float* buf = malloc(8 * ldb * sizeof(float));
    uint32_t s = 12345;
    for (int64_t i = 0; i < h * w; ++i) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((int32_t)(s >> 8) % 2001 - 1000) / 7.0f;
    }
    dnf_pool_plane(x, h, w, oh, kh, sh, ph, dh, ow, kw, sw, pw, dw, span, (int)is_max, buf,
                   ldb, y);
    fwrite(x, sizeof(float), h * w, stdout);
    fwrite(y, sizeof(float), oh * ow, stdout);
    return 0;
}
"""


def _avx512f() -> bool:
    try:
        return " avx512f" in open("/proc/cpuinfo").read()
    except OSError:
        return False


@pytest.mark.skipif(not used_on(platform.machine()), reason="dnf_pool_plane is x86-64 code")
def test_pool_plane_portable_and_avx512_agree(tmp_path):
    """c/dnf_pool.c alone: its plain C version (DNF_POOL_PORTABLE, what another compiler
    builds) and, on an AVX-512 CPU, the AVX-512 one give the same bits, and the max pool is
    numpy's max over each window (padding never wins), the sum numpy's sum within 1e-5."""
    import subprocess

    from compiler_core.codegen.c import source

    src = tmp_path / "plane.c"
    src.write_text(_PLANE_HARNESS.replace(
        "@HELPERS@", source.text("dnf_gemm_isa.c") + source.text("dnf_pool.c")))
    exes = {}
    for name, flags in (("c", ["-DDNF_POOL_PORTABLE"]), ("avx512", [])):
        exe = tmp_path / name
        subprocess.run(["cc", "-std=c11", "-O2", "-ffp-contract=off", *flags, str(src), "-o",
                        str(exe), "-lm"], check=True)
        exes[name] = exe
    # (h, w, kh, sh, ph, dh, kw, sw, pw, dw): SqueezeNet's 27x27 3x3/2, ResNet's 112 pad 1,
    # stride 1 pad 1 on 14, dilation 2, stride 3, a 5x3 window over 8+ rows, ceil overhang
    cases = [(27, 27, 3, 2, 0, 1, 3, 2, 0, 1), (112, 112, 3, 2, 1, 1, 3, 2, 1, 1),
             (14, 14, 3, 1, 1, 1, 3, 1, 1, 1), (12, 20, 3, 1, 0, 2, 3, 1, 0, 2),
             (17, 17, 3, 3, 0, 1, 3, 3, 0, 1), (33, 9, 5, 2, 2, 1, 3, 2, 1, 1),
             (16, 36, 3, 2, 0, 1, 3, 2, 0, 1)]
    for h, w, kh, sh, ph, dh, kw, sw, pw, dw in cases:
        oh = (h + 2 * ph - dh * (kh - 1) - 1 + sh - 1) // sh + 1  # ceil: may overhang
        ow = (w + 2 * pw - dw * (kw - 1) - 1 + sw - 1) // sw + 1
        for is_max in (1, 0):
            args = [str(v) for v in (h, w, oh, kh, sh, ph, dh, ow, kw, sw, pw, dw, is_max)]
            outs = {}
            for name, exe in exes.items():
                if name == "avx512" and not _avx512f():
                    continue
                raw = subprocess.run([str(exe), *args], check=True, capture_output=True).stdout
                outs[name] = np.frombuffer(raw, np.float32)
            x = outs["c"][: h * w].reshape(h, w)
            got = outs["c"][h * w:].reshape(oh, ow)
            if "avx512" in outs:
                np.testing.assert_array_equal(outs["avx512"], outs["c"], err_msg=str(args))
            fill = -np.inf if is_max else 0.0
            padded_x = np.full((h + 2 * ph + sh * oh + dh * kh, w + 2 * pw + sw * ow + dw * kw),
                               fill, np.float64)
            padded_x[ph:ph + h, pw:pw + w] = x
            want = np.empty((oh, ow))
            for i in range(oh):
                for j in range(ow):
                    win = padded_x[i * sh:i * sh + dh * (kh - 1) + 1:dh,
                                   j * sw:j * sw + dw * (kw - 1) + 1:dw]
                    want[i, j] = win.max() if is_max else win.sum()
            if is_max:
                np.testing.assert_array_equal(got, want.astype(np.float32), err_msg=str(args))
            else:
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4, err_msg=str(args))
