/* GEMM with A packed at compile time: C[m x n] = A[m x k] B[k x n] (+ bias[i] on row i),
   B and C row-major with row strides ldb, ldc.

   A is a conv's weights W[M][K] (or a Winograd-transformed U[xi]); the compiler stores it in
   weights.bin as strips of DNF_PA_MR = 12 rows, strip s at ap + s*k*12, column p of the strip
   at ap + (s*k + p)*12, the last strip zero-padded (compiler_core/codegen/anchors/
   conv_packed.py). B is the conv's input (1x1) or its im2col panel, read in place: no packing
   at run time. C's rows are output-channel planes, so the bias starts the sums and the fused
   epilogue runs on the tile right after.

   dnf_gemm_pa(m, n, k, ap, b, ldb, c, ldc, bias, res, relu) computes rows [0, m) (ap at a
   strip) and columns [0, n): AVX-512 per block of DNF_GEMM_KB of the depth, per strip, per
   block of 32 columns (12 rows x 32 columns in registers); AVX2 + FMA per depth block, per
   block of 16 columns, per 6 rows. Every level computes each element as
       tot = bias[i] or 0; for each block of 256 p: part = 0; for p in the block:
       part = fma(a[i][p], b[p][j], part); tot = tot + part
   in that order (dnf_gemm_isa.c); with res (not NULL, read like C: res[i*ldc + j]) then
   tot = tot + res[i][j] (a residual Add), and with relu != 0 it stores tot > 0 ? tot : 0 (a
   conv's fused Relu); both applied while the tile is in registers instead of in passes over
   it, so the three levels give the same bits. Measured alone, one
   Zen 5 core, min of 20 (vs OpenBLAS SkylakeX sgemm on the same operands): M 64 N 3136 K 256
   234 / 205 GFLOP/s, M 256 N 3136 K 64 247 / 225, M 512 N 784 K 128 252 / 240, M 256 N 196
   K 2304 218 / 229, M 512 N 49 K 2048 198 / 185. */
#define DNF_PA_MR 12

static void dnf_pa_c(int64_t m, int64_t n, int64_t k, const float* ap, const float* b,
                     int64_t ldb, float* c, int64_t ldc, const float* bias, const float* res,
                     int relu) {
    for (int64_t i = 0; i < m; ++i) {
        const float* a = ap + (i / DNF_PA_MR) * k * DNF_PA_MR + i % DNF_PA_MR;
        for (int64_t j = 0; j < n; ++j) {
            float tot = bias ? bias[i] : 0.0f;
            for (int64_t p0 = 0; p0 < k; p0 += DNF_GEMM_KB) {
                const int64_t p1 = k - p0 < DNF_GEMM_KB ? k : p0 + DNF_GEMM_KB;
                float part = 0.0f;
                for (int64_t p = p0; p < p1; ++p)
                    part = fmaf(a[p * DNF_PA_MR], b[p * ldb + j], part);
                tot = tot + part;
            }
            if (res) tot = tot + res[i * ldc + j];
            c[i * ldc + j] = relu ? (tot > 0.0f ? tot : 0.0f) : tot;
        }
    }
}

#ifdef DNF_GEMM_X86
/* mr rows (a constant where inlined; the first `rows` stored) x 32 columns (masks m0, m1) over
   the depth block [p0, p1), added to C (to the bias when p0 == 0);
   a: the strip at the block's first row. `full` (a constant where inlined): all 32 columns are
   inside, so B is read with plain loads: the masked loads' mask registers were reloaded from
   the stack on every depth step (gcc 12), and a 12-row strip ran at 121-129 GFLOP/s instead
   of 143-168 (one Intel Xeon core, 171 peak; M 64 N 224 K 256, a ResNet-50 1x1 tile). */
__attribute__((target("avx512f,fma"), always_inline))
static inline void dnf_pa512(const int full, const int mr, int64_t rows, int64_t p0, int64_t p1,
                             const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                             const float* bias, __mmask16 m0, __mmask16 m1, const float* res,
                             int relu) {
    __m512 acc[12][2];
    #pragma GCC unroll 12
    for (int i = 0; i < mr; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int64_t p = p0; p < p1; ++p) {
        const __m512 v0 = full ? _mm512_loadu_ps(b + p * ldb)
                               : _mm512_maskz_loadu_ps(m0, b + p * ldb);
        const __m512 v1 = full ? _mm512_loadu_ps(b + p * ldb + 16)
                               : _mm512_maskz_loadu_ps(m1, b + p * ldb + 16);
        #pragma GCC unroll 12
        for (int i = 0; i < mr; ++i) {
            const __m512 av = _mm512_set1_ps(a[p * DNF_PA_MR + i]);
            acc[i][0] = _mm512_fmadd_ps(av, v0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(av, v1, acc[i][1]);
        }
    }
    #pragma GCC unroll 12
    for (int i = 0; i < mr; ++i) {
        if (i >= rows) break;
        float* ci = c + i * ldc;
        __m512 t0, t1;
        if (p0 == 0) {
            t0 = t1 = bias ? _mm512_set1_ps(bias[i]) : _mm512_setzero_ps();
        } else {
            t0 = _mm512_maskz_loadu_ps(m0, ci);
            t1 = _mm512_maskz_loadu_ps(m1, ci + 16);
        }
        t0 = _mm512_add_ps(t0, acc[i][0]);
        t1 = _mm512_add_ps(t1, acc[i][1]);
        if (res) {
            t0 = _mm512_add_ps(t0, _mm512_maskz_loadu_ps(m0, res + i * ldc));
            t1 = _mm512_add_ps(t1, _mm512_maskz_loadu_ps(m1, res + i * ldc + 16));
        }
        if (relu) {  /* max(t, 0): 0 for NaN and -0, as t > 0 ? t : 0 */
            t0 = _mm512_max_ps(t0, _mm512_setzero_ps());
            t1 = _mm512_max_ps(t1, _mm512_setzero_ps());
        }
        _mm512_mask_storeu_ps(ci, m0, t0);
        _mm512_mask_storeu_ps(ci + 16, m1, t1);
    }
}

/* Per block of DNF_GEMM_KB of the depth, per block of 12 rows (8 or 4 for the last rows), per
   32 columns. The depth blocks go outermost so B is read from L2 as blocks of 256 of its rows:
   with each strip running the whole depth, every strip streamed all of a deep panel (an
   im2col panel of K = 9C rows: 1.8 MB for ResNet-50's 28x28 stride-2 3x3 conv) through a 2 MB
   L2, and M 128 K 1152 N 392 took 1408 us instead of 951 (min of 6 x 12 runs, one Intel Xeon
   core, A cold; M 64 K 576 N 896 848 -> 524, M 256 K 2304 N 196 3003 -> 2022; K <= 256 the
   same). Within a depth block the strips go outermost so C is written row by row, 12
   sequential streams: with the columns outermost every 32-column step wrote all m rows, a page
   apart each, and a tile whose output was not in cache took 1.3-1.8x as long (M 256 N 3136
   K 64 1263-1345 us -> 711-974, M 512 N 784 K 128 918-988 -> 712-776). */
__attribute__((target("avx512f,fma")))
static void dnf_pa_avx512(int64_t m, int64_t n, int64_t k, const float* ap, const float* b,
                          int64_t ldb, float* c, int64_t ldc, const float* bias,
                          const float* res, int relu) {
    for (int64_t p0 = 0; p0 < k; p0 += DNF_GEMM_KB) {
        const int64_t p1 = k - p0 < DNF_GEMM_KB ? k : p0 + DNF_GEMM_KB;
        const int r = relu && p1 == k;  /* on the last depth block */
        const float* rb = p1 == k ? res : NULL;
        for (int64_t i = 0; i < m; i += DNF_PA_MR) {
            const float* a = ap + i * k;
            const int64_t rows = m - i < DNF_PA_MR ? m - i : DNF_PA_MR;
            const float* bi = bias ? bias + i : NULL;
            for (int64_t j = 0; j < n; j += 32) {
                const int64_t cols = n - j < 32 ? n - j : 32;
                const __mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1);
                const __mmask16 m1 = cols >= 32 ? 0xffff
                                     : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);
                float* ci = c + i * ldc + j;
                const float* ri = rb ? rb + i * ldc + j : NULL;
                if (rows > 8 && cols == 32)
                    dnf_pa512(1, 12, rows, p0, p1, a, b + j, ldb, ci, ldc, bi, m0, m1, ri, r);
                else if (rows > 8)
                    dnf_pa512(0, 12, rows, p0, p1, a, b + j, ldb, ci, ldc, bi, m0, m1, ri, r);
                else if (rows > 4)
                    dnf_pa512(0, 8, rows, p0, p1, a, b + j, ldb, ci, ldc, bi, m0, m1, ri, r);
                else dnf_pa512(0, 4, rows, p0, p1, a, b + j, ldb, ci, ldc, bi, m0, m1, ri, r);
            }
        }
    }
}

/* 6 rows (the first `rows` stored) x 16 columns over the depth block [p0, p1), added to C (to
   the bias when p0 == 0). `full` (a constant where inlined): all 16 columns are inside, so B is
   read with plain loads and C with plain stores; otherwise masks k0, k1 keep `cols` columns.
   The accumulators must stay in registers: with a store loop over a run-time row count gcc
   kept acc[][] in memory and stored all 12 to the stack on every depth step (32 GFLOP/s on a
   Zen 3 core instead of 85-94); every loop over acc here runs a constant 6 times. pf (or
   NULL): a line to bring into L1 per depth step, at pf + p * ldb. */
__attribute__((target("avx2,fma"), always_inline))
static inline void dnf_pa256(const int full, int64_t rows, int64_t p0, int64_t p1,
                             const float* a, const float* b, int64_t ldb, float* c,
                             int64_t ldc, const float* bias, __m256i k0, __m256i k1,
                             const float* res, int relu, const float* pf) {
    __m256 acc[6][2];
    #pragma GCC unroll 6
    for (int i = 0; i < 6; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t p = p0; p < p1; ++p) {
        const __m256 v0 = full ? _mm256_loadu_ps(b + p * ldb)
                               : _mm256_maskload_ps(b + p * ldb, k0);
        const __m256 v1 = full ? _mm256_loadu_ps(b + p * ldb + 8)
                               : _mm256_maskload_ps(b + p * ldb + 8, k1);
        if (pf) _mm_prefetch((const char*)(pf + p * ldb), _MM_HINT_T0);
        #pragma GCC unroll 6
        for (int i = 0; i < 6; ++i) {
            const __m256 av = _mm256_broadcast_ss(a + p * DNF_PA_MR + i);
            acc[i][0] = _mm256_fmadd_ps(av, v0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(av, v1, acc[i][1]);
        }
    }
    #pragma GCC unroll 6
    for (int i = 0; i < 6; ++i) {
        if (i >= rows) break;
        float* ci = c + i * ldc;
        __m256 t0, t1;
        if (p0 == 0) {
            t0 = t1 = bias ? _mm256_set1_ps(bias[i]) : _mm256_setzero_ps();
        } else {
            t0 = full ? _mm256_loadu_ps(ci) : _mm256_maskload_ps(ci, k0);
            t1 = full ? _mm256_loadu_ps(ci + 8) : _mm256_maskload_ps(ci + 8, k1);
        }
        t0 = _mm256_add_ps(t0, acc[i][0]);
        t1 = _mm256_add_ps(t1, acc[i][1]);
        if (res) {
            const float* ri = res + i * ldc;
            t0 = _mm256_add_ps(t0, full ? _mm256_loadu_ps(ri) : _mm256_maskload_ps(ri, k0));
            t1 = _mm256_add_ps(t1, full ? _mm256_loadu_ps(ri + 8)
                                        : _mm256_maskload_ps(ri + 8, k1));
        }
        if (relu) {  /* max(t, 0): 0 for NaN and -0, as t > 0 ? t : 0 */
            t0 = _mm256_max_ps(t0, _mm256_setzero_ps());
            t1 = _mm256_max_ps(t1, _mm256_setzero_ps());
        }
        if (full) {
            _mm256_storeu_ps(ci, t0);
            _mm256_storeu_ps(ci + 8, t1);
        } else {
            _mm256_maskstore_ps(ci, k0, t0);
            _mm256_maskstore_ps(ci + 8, k1, t1);
        }
    }
}

/* Per depth block, per 16 columns, per 6 rows: the depth blocks outermost for the reason given
   at dnf_pa_avx512 (AVX2 + FMA capped, one Intel Xeon core, min of 5 x 12 runs: M 128 K 1152
   N 392 2644 -> 2345 us, M 256 K 2304 N 196 6076 -> 4822, M 64 K 576 N 896 1611 -> 1478;
   K <= 256 the same). The 16 columns' depth block of B (up to 256 lines, each in its own row
   of B) stays in L1 for all the row blocks; the second row block prefetches the next 16
   columns' lines, so the first row block of each column block no longer waits for them.
   Accumulators in registers + this prefetch, one AMD EPYC (Zen 3) core, min of 20 runs:
   M 64 N 3136 K 256 3142 -> 1205 us (32.7 -> 85.3 GFLOP/s), M 256 N 3136 K 64 3139 -> 1162,
   M 512 N 784 K 128 3110 -> 1097, M 128 N 784 K 1152 7195 -> 2492; registers alone gave
   1609, 1340, 1079, 3370 (OpenBLAS sgemm: 94 GFLOP/s on this core). */
__attribute__((target("avx2,fma")))
static void dnf_pa_avx2(int64_t m, int64_t n, int64_t k, const float* ap, const float* b,
                        int64_t ldb, float* c, int64_t ldc, const float* bias,
                        const float* res, int relu) {
    for (int64_t p0 = 0; p0 < k; p0 += DNF_GEMM_KB) {
        const int64_t p1 = k - p0 < DNF_GEMM_KB ? k : p0 + DNF_GEMM_KB;
        const int r = relu && p1 == k;
        const float* rb = p1 == k ? res : NULL;  /* on the last depth block */
        for (int64_t j = 0; j < n; j += 16) {
            const int64_t cols = n - j < 16 ? n - j : 16;
            const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            const __m256i k0 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)cols), lane);
            const __m256i k1 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)cols - 8), lane);
            for (int64_t i = 0; i < m; i += 6) {
                const float* a = ap + (i / DNF_PA_MR) * k * DNF_PA_MR + i % DNF_PA_MR;
                const int64_t rows = m - i < 6 ? m - i : 6;
                float* ci = c + i * ldc + j;
                const float* bi = bias ? bias + i : NULL;
                const float* ri = rb ? rb + i * ldc + j : NULL;
                /* the second row block brings the next 16 columns' depth block into L1 */
                const float* pf = i == 6 && j + 16 < n ? b + j + 16 : NULL;
                if (cols == 16)
                    dnf_pa256(1, rows, p0, p1, a, b + j, ldb, ci, ldc, bi, k0, k1, ri, r, pf);
                else dnf_pa256(0, rows, p0, p1, a, b + j, ldb, ci, ldc, bi, k0, k1, ri, r, pf);
            }
        }
    }
}
#endif

static void dnf_gemm_pa(int64_t m, int64_t n, int64_t k, const float* ap, const float* b,
                        int64_t ldb, float* c, int64_t ldc, const float* bias, const float* res,
                        int relu) {
    const int isa = dnf_gemm_isa();
#ifdef DNF_GEMM_X86
    if (isa == 2) { dnf_pa_avx512(m, n, k, ap, b, ldb, c, ldc, bias, res, relu); return; }
    if (isa == 1) { dnf_pa_avx2(m, n, k, ap, b, ldb, c, ldc, bias, res, relu); return; }
#endif
    (void)isa;
    dnf_pa_c(m, n, k, ap, b, ldb, c, ldc, bias, res, relu);
}
