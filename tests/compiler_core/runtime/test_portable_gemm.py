"""The portable SGEMM (linux-arm64 has no OpenBLAS) against numpy, built for the host."""

from __future__ import annotations

import ctypes
import itertools
import subprocess

import numpy as np
import pytest

from compiler_core.codegen.build import compiler
from compiler_core.codegen.portable_gemm import CBLAS_H, PORTABLE_GEMM_C

ROW, COL, NO, TR = 101, 102, 111, 112


@pytest.fixture(scope="module")
def gemm(tmp_path_factory):
    d = tmp_path_factory.mktemp("gemm")
    (d / "cblas.h").write_text(CBLAS_H)
    (d / "g.c").write_text(PORTABLE_GEMM_C)
    lib = d / "libg.so"
    subprocess.run([*compiler(), "-std=c11", "-O2", "-fPIC", "-shared", "-ffp-contract=off",
                    "g.c", "-o", str(lib)], cwd=d, check=True, capture_output=True)
    fn = ctypes.CDLL(str(lib)).scipy_cblas_sgemm
    f, i, p = ctypes.c_float, ctypes.c_int, ctypes.c_void_p
    fn.argtypes = [i, i, i, i, i, i, f, p, i, p, i, f, p, i]
    fn.restype = None
    return fn


def _ptr(a):
    return a.ctypes.data


@pytest.mark.parametrize(("order", "ta", "tb"), list(itertools.product((ROW, COL), (NO, TR),
                                                                        (NO, TR))))
@pytest.mark.parametrize(("m", "n", "k"), [(7, 530, 300), (1, 3, 1), (13, 17, 5)])
def test_against_numpy(gemm, order, ta, tb, m, n, k):
    rng = np.random.default_rng(m * n + k)
    alpha, beta = 0.5, 2.0
    op_a = rng.standard_normal((m, k)).astype(np.float32)
    op_b = rng.standard_normal((k, n)).astype(np.float32)
    c0 = rng.standard_normal((m, n)).astype(np.float32)
    want = alpha * (op_a.astype(np.float64) @ op_b) + beta * c0
    # Stored matrices (with a padded leading dimension, as for a sub-matrix).
    a = op_a.T if ta == TR else op_a
    b = op_b.T if tb == TR else op_b
    c = c0
    if order == COL:  # column-major storage = row-major storage of the transpose
        a, b, c = a.T, b.T, c.T
    pad = 3
    a_st = np.zeros((a.shape[0], a.shape[1] + pad), np.float32)
    a_st[:, : a.shape[1]] = a
    b_st = np.zeros((b.shape[0], b.shape[1] + pad), np.float32)
    b_st[:, : b.shape[1]] = b
    c_st = np.zeros((c.shape[0], c.shape[1] + pad), np.float32)
    c_st[:, : c.shape[1]] = c
    gemm(order, ta, tb, m, n, k, alpha, _ptr(a_st), a_st.shape[1], _ptr(b_st), b_st.shape[1],
         beta, _ptr(c_st), c_st.shape[1])
    got = c_st[:, : c.shape[1]]
    got = got.T if order == COL else got
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert not c_st[:, c.shape[1]:].any()  # the padding is untouched


def test_beta_zero_ignores_nan_in_c(gemm):
    a = np.ones((2, 3), np.float32)
    b = np.ones((3, 4), np.float32)
    c = np.full((2, 4), np.nan, np.float32)
    gemm(ROW, NO, NO, 2, 4, 3, 1.0, _ptr(a), 3, _ptr(b), 4, 0.0, _ptr(c), 4)
    np.testing.assert_array_equal(c, np.full((2, 4), 3.0, np.float32))
