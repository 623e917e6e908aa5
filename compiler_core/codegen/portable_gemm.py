"""A portable SGEMM for targets without OpenBLAS (``linux-arm64``): C sources as strings.

``CBLAS_H`` stands in for OpenBLAS's ``cblas.h`` with exactly what the generated kernels use
(the ``scipy_``-prefixed ``cblas_sgemm`` and ``openblas_set_num_threads`` of the
``scipy-openblas32`` wheel), so ``model.c`` compiles unchanged. ``PORTABLE_GEMM_C`` implements
them: B is packed in ``KC x NC`` panels (transposed as needed), and a 4-row micro-kernel
accumulates into rows of C that stay in L1, with an inner loop over columns gcc vectorizes
(NEON on aarch64). Single-threaded: the kernels call it from inside their OpenMP row tiles,
as they call OpenBLAS with one thread on the host. Row-major and column-major, both transposes,
any alpha/beta, as the CBLAS reference.
"""

from __future__ import annotations

CBLAS_H = """\
/* dnnfusion portable cblas.h: the subset the generated kernels call. */
#ifndef DNF_PORTABLE_CBLAS_H
#define DNF_PORTABLE_CBLAS_H
typedef int blasint;
enum CBLAS_ORDER {CblasRowMajor = 101, CblasColMajor = 102};
enum CBLAS_TRANSPOSE {CblasNoTrans = 111, CblasTrans = 112, CblasConjTrans = 113};
typedef enum CBLAS_ORDER CBLAS_ORDER;
typedef enum CBLAS_TRANSPOSE CBLAS_TRANSPOSE;
void scipy_cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta,
                       enum CBLAS_TRANSPOSE tb, blasint m, blasint n, blasint k, float alpha,
                       const float* a, blasint lda, const float* b, blasint ldb, float beta,
                       float* c, blasint ldc);
void scipy_openblas_set_num_threads(int n);
#endif
"""

PORTABLE_GEMM_C = """\
/* dnnfusion portable SGEMM (see compiler_core/codegen/portable_gemm.py). */
#include <stdlib.h>
#include <string.h>
#include "cblas.h"

#define DNF_KC 256
#define DNF_NC 512

void scipy_openblas_set_num_threads(int n) { (void)n; }

/* C[i, 0:nc] += sum_p a(i, p) * bp[p, 0:nc] for 4 rows at once (bp packed kc x nc). */
static void dnf_rows4(int kc, int nc, float alpha, const float* a, long as_i, long as_p,
                      const float* bp, float* c, long ldc) {
    float* c0 = c;
    float* c1 = c + ldc;
    float* c2 = c + 2 * ldc;
    float* c3 = c + 3 * ldc;
    for (int p = 0; p < kc; ++p) {
        const float a0 = alpha * a[p * as_p];
        const float a1 = alpha * a[as_i + p * as_p];
        const float a2 = alpha * a[2 * as_i + p * as_p];
        const float a3 = alpha * a[3 * as_i + p * as_p];
        const float* restrict b = bp + (long)p * nc;
        for (int j = 0; j < nc; ++j) {
            const float bj = b[j];
            c0[j] += a0 * bj;
            c1[j] += a1 * bj;
            c2[j] += a2 * bj;
            c3[j] += a3 * bj;
        }
    }
}

static void dnf_rows1(int kc, int nc, float alpha, const float* a, long as_p,
                      const float* bp, float* c) {
    for (int p = 0; p < kc; ++p) {
        const float a0 = alpha * a[p * as_p];
        const float* restrict b = bp + (long)p * nc;
        for (int j = 0; j < nc; ++j) c[j] += a0 * b[j];
    }
}

/* Row-major: C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C. */
static void dnf_sgemm_rm(int ta, int tb, int m, int n, int k, float alpha, const float* a,
                         int lda, const float* b, int ldb, float beta, float* c, int ldc) {
    for (int i = 0; i < m; ++i) {
        float* ci = c + (long)i * ldc;
        if (beta == 0.0f) memset(ci, 0, sizeof(float) * (size_t)n);
        else if (beta != 1.0f) for (int j = 0; j < n; ++j) ci[j] *= beta;
    }
    if (alpha == 0.0f || k == 0 || m == 0 || n == 0) return;
    /* op(A)(i, p) = a[i*as_i + p*as_p] */
    const long as_i = ta ? 1 : lda;
    const long as_p = ta ? lda : 1;
    float* bp = (float*)malloc(sizeof(float) * DNF_KC * DNF_NC);
    if (!bp) { /* no memory for a panel: the plain triple loop */
        for (int i = 0; i < m; ++i)
            for (int p = 0; p < k; ++p) {
                const float ap = alpha * a[i * as_i + p * as_p];
                for (int j = 0; j < n; ++j)
                    c[(long)i * ldc + j] += ap * (tb ? b[(long)j * ldb + p] : b[(long)p * ldb + j]);
            }
        return;
    }
    for (int jc = 0; jc < n; jc += DNF_NC) {
        const int nc = n - jc < DNF_NC ? n - jc : DNF_NC;
        for (int pc = 0; pc < k; pc += DNF_KC) {
            const int kc = k - pc < DNF_KC ? k - pc : DNF_KC;
            for (int p = 0; p < kc; ++p) {
                float* dst = bp + (long)p * nc;
                if (tb) for (int j = 0; j < nc; ++j) dst[j] = b[(long)(jc + j) * ldb + pc + p];
                else memcpy(dst, b + (long)(pc + p) * ldb + jc, sizeof(float) * (size_t)nc);
            }
            int i = 0;
            for (; i + 4 <= m; i += 4)
                dnf_rows4(kc, nc, alpha, a + i * as_i + pc * as_p, as_i, as_p, bp,
                          c + (long)i * ldc + jc, ldc);
            for (; i < m; ++i)
                dnf_rows1(kc, nc, alpha, a + i * as_i + pc * as_p, as_p, bp,
                          c + (long)i * ldc + jc);
        }
    }
    free(bp);
}

void scipy_cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta,
                       enum CBLAS_TRANSPOSE tb, blasint m, blasint n, blasint k, float alpha,
                       const float* a, blasint lda, const float* b, blasint ldb, float beta,
                       float* c, blasint ldc) {
    const int tA = ta != CblasNoTrans, tB = tb != CblasNoTrans;
    if (order == CblasRowMajor)
        dnf_sgemm_rm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else /* column-major C = op(A) op(B) is row-major C^T = op(B)^T op(A)^T */
        dnf_sgemm_rm(tB, tA, n, m, k, alpha, b, ldb, a, lda, beta, c, ldc);
}
"""
