/* GEMM with B packed at compile time: C[m x n] = A[m x k] B[k x n] (+ bias[n]), row-major.

   B is a model constant (a MatMul's or Gemm's weights); the compiler stores it in weights.bin
   as strips of DNF_PB_NR = 32 columns, strip s at bp + s*k*32, row p of the strip at
   bp + (s*k + p)*32, the last strip zero-padded (compiler_core/codegen/anchors/gemm_packed.py).
   So nothing is packed at run time: the sgemm path packed all of B on every call, a pass over
   weights that do not fit in cache (BERT-base 128x768 @ 768x3072: OpenBLAS 81-92 GFLOP/s on
   one Zen 4 core, this kernel 99-111).

   dnf_gemm_pb(m, k, a, lda, at, bp, j0, j1, jn, c, ldc, bias) computes the columns [j0, j1)
   of C (j0 a multiple of 32; j1 <= jn <= n); A[i][p] is a[i*lda + p], or with at != 0
   a[p*lda + i] (A stored transposed: a conv's X planes, read in place instead of transposed
   first). Each strip brings its successor into L2 while it runs when that one starts before
   jn (the caller's next call computes it; jn = j1: none after the last strip). Per strip, per
   block of rows, blocks of DNF_GEMM_KB of the depth in registers, each added to the row's sum
   in C. Every level computes each element as
       tot = bias or 0; for each block of 256 p: part = 0; for p in the block:
       part = fma(a[i][p], b[p][j], part); tot = tot + part
   in that order (DNF_GEMM_KB, dnf_gemm_isa.c), so the AVX-512
   kernel (12 rows x 32 columns), the AVX2 + FMA kernel (6 rows x 16 columns) and the plain C
   loop give the same bits; the ISA is chosen once per loaded model (dnf_gemm_isa). */
#define DNF_PB_NR 32
#define DNF_PB_AT_AHEAD 8

static void dnf_pb_c(int64_t m, int64_t k, const float* a, int64_t lda, int at,
                     const float* b, int64_t cols, float* c, int64_t ldc, const float* bias) {
    for (int64_t i = 0; i < m; ++i)
        for (int64_t q = 0; q < cols; ++q) {
            float tot = bias ? bias[q] : 0.0f;
            for (int64_t p0 = 0; p0 < k; p0 += DNF_GEMM_KB) {
                const int64_t p1 = k - p0 < DNF_GEMM_KB ? k : p0 + DNF_GEMM_KB;
                float part = 0.0f;
                for (int64_t p = p0; p < p1; ++p)
                    part = fmaf(at ? a[p * lda + i] : a[i * lda + p], b[p * DNF_PB_NR + q], part);
                tot = tot + part;
            }
            c[i * ldc + q] = tot;
        }
}

#ifdef DNF_GEMM_X86
/* What row block blk of a strip prefetches of the next strip (`next`, NULL for the last
   strip): the second and third blocks half of it each, k lines of 64 bytes; the others
   nothing (see dnf_pb_avx512). */
static inline const float* dnf_pb_pf(const float* next, int64_t blk, int64_t k) {
    return next && blk >= 1 && blk <= 2 ? next + (blk - 1) * k * 16 : NULL;
}

/* mr (a constant where it is inlined) rows x 32 columns of one strip, the depth in blocks of
   DNF_GEMM_KB; masks m0, m1 keep the columns inside C. pf (or NULL): k lines of 64 bytes to
   bring into L2 meanwhile, one per depth step (half of the next strip). */
__attribute__((target("avx512f,fma"), always_inline))
static inline void dnf_pb512(const int at, const int mr, int64_t k, const float* a, int64_t lda,
                             const float* b, float* c, int64_t ldc, const float* bias,
                             __mmask16 m0, __mmask16 m1, const float* pf) {
    __m512 acc[12][2];
    for (int64_t p0 = 0; p0 < k; p0 += DNF_GEMM_KB) {
        const int64_t p1 = k - p0 < DNF_GEMM_KB ? k : p0 + DNF_GEMM_KB;
        #pragma GCC unroll 12
        for (int i = 0; i < mr; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
        for (int64_t p = p0; p < p1; ++p) {
            const __m512 v0 = _mm512_loadu_ps(b + p * DNF_PB_NR);
            const __m512 v1 = _mm512_loadu_ps(b + p * DNF_PB_NR + 16);
            if (pf) _mm_prefetch((const char*)(pf + p * 16), _MM_HINT_T1);
            if (at) {  /* A's rows of this block, DNF_PB_AT_AHEAD depth steps ahead */
                _mm_prefetch((const char*)(a + (p + DNF_PB_AT_AHEAD) * lda), _MM_HINT_T0);
                _mm_prefetch((const char*)(a + (p + DNF_PB_AT_AHEAD) * lda + mr - 1),
                             _MM_HINT_T0);
            }
            #pragma GCC unroll 12
            for (int i = 0; i < mr; ++i) {
                const __m512 av = _mm512_set1_ps(at ? a[p * lda + i] : a[i * lda + p]);
                acc[i][0] = _mm512_fmadd_ps(av, v0, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(av, v1, acc[i][1]);
            }
        }
        #pragma GCC unroll 12
        for (int i = 0; i < mr; ++i) {
            float* ci = c + i * ldc;
            __m512 t0, t1;
            if (p0 == 0) {
                t0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
                t1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
            } else {
                t0 = _mm512_maskz_loadu_ps(m0, ci);
                t1 = _mm512_maskz_loadu_ps(m1, ci + 16);
            }
            _mm512_mask_storeu_ps(ci, m0, _mm512_add_ps(t0, acc[i][0]));
            _mm512_mask_storeu_ps(ci + 16, m1, _mm512_add_ps(t1, acc[i][1]));
        }
    }
}

/* The strip's row blocks in order; the second and third also bring the next strip (`next`,
   NULL for the last one) into L2, half each, while the strip itself is read from L2: the
   weights come from memory once per run, and the first row block of each strip used to wait
   for them at memory speed (9.4 MB of W^T for a ResNet-50 7x7 3x3 conv, read by 49 rows).
   Min of 8 x 12 runs, one Intel Xeon core, B cold (M rows of A = positions, K, N): M 49 K 4608
   N 512 2718 -> 2281 us, M 49 K 2048 N 512 1141 -> 849, M 49 K 512 N 2048 1135 -> 809, M 196
   K 1024 N 256 755 -> 667, M 169 K 512 N 1000 1383 -> 1223, M 128 K 768 N 3072 5046 -> 4130;
   M 196 K 2304 N 256 the same. */
__attribute__((target("avx512f,fma"), always_inline))
static inline void dnf_pb_avx512_rows(const int at, int64_t m, int64_t k, const float* a,
                                      int64_t lda, const float* b, int64_t cols, float* c,
                                      int64_t ldc, const float* bias, const float* next) {
    const __mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1);
    const __mmask16 m1 = cols >= 32 ? 0xffff
                         : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);
    int64_t i = 0, blk = 0;
    for (; i + 12 <= m; i += 12, ++blk)
        dnf_pb512(at, 12, k, a + (at ? i : i * lda), lda, b, c + i * ldc, ldc, bias, m0, m1,
                  dnf_pb_pf(next, blk, k));
    for (; i + 4 <= m; i += 4, ++blk)
        dnf_pb512(at, 4, k, a + (at ? i : i * lda), lda, b, c + i * ldc, ldc, bias, m0, m1,
                  dnf_pb_pf(next, blk, k));
    for (; i < m; ++i, ++blk)
        dnf_pb512(at, 1, k, a + (at ? i : i * lda), lda, b, c + i * ldc, ldc, bias, m0, m1,
                  dnf_pb_pf(next, blk, k));
}

__attribute__((target("avx512f,fma")))
static void dnf_pb_avx512(int64_t m, int64_t k, const float* a, int64_t lda, int at,
                          const float* b, int64_t cols, float* c, int64_t ldc,
                          const float* bias, const float* next) {
    if (at) dnf_pb_avx512_rows(1, m, k, a, lda, b, cols, c, ldc, bias, next);
    else dnf_pb_avx512_rows(0, m, k, a, lda, b, cols, c, ldc, bias, next);
}

/* mr rows x 16 columns (half a strip; cols of them kept), the depth [q0, k) (q0 a multiple of
   DNF_GEMM_KB) in blocks of DNF_GEMM_KB; pf as for dnf_pb512. */
__attribute__((target("avx2,fma"), always_inline))
static inline void dnf_pb256(const int at, const int mr, int64_t q0, int64_t k, const float* a,
                             int64_t lda, const float* b, float* c, int64_t ldc,
                             const float* bias, int64_t cols, const float* pf) {
    __m256 acc[6][2];
    for (int64_t p0 = q0; p0 < k; p0 += DNF_GEMM_KB) {
        const int64_t p1 = k - p0 < DNF_GEMM_KB ? k : p0 + DNF_GEMM_KB;
        #pragma GCC unroll 6
        for (int i = 0; i < mr; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
        for (int64_t p = p0; p < p1; ++p) {
            const __m256 v0 = _mm256_loadu_ps(b + p * DNF_PB_NR);
            const __m256 v1 = _mm256_loadu_ps(b + p * DNF_PB_NR + 8);
            if (pf) _mm_prefetch((const char*)(pf + p * 16), _MM_HINT_T1);
            #pragma GCC unroll 6
            for (int i = 0; i < mr; ++i) {
                const __m256 av = _mm256_broadcast_ss(at ? a + p * lda + i : a + i * lda + p);
                acc[i][0] = _mm256_fmadd_ps(av, v0, acc[i][0]);
                acc[i][1] = _mm256_fmadd_ps(av, v1, acc[i][1]);
            }
        }
        #pragma GCC unroll 6
        for (int i = 0; i < mr; ++i) {
            float* ci = c + i * ldc;
            if (cols >= 16) {
                const float* t = p0 > 0 ? ci : bias;
                const __m256 t0 = t ? _mm256_loadu_ps(t) : _mm256_setzero_ps();
                const __m256 t1 = t ? _mm256_loadu_ps(t + 8) : _mm256_setzero_ps();
                _mm256_storeu_ps(ci, _mm256_add_ps(t0, acc[i][0]));
                _mm256_storeu_ps(ci + 8, _mm256_add_ps(t1, acc[i][1]));
                continue;
            }
            float s[16];
            _mm256_storeu_ps(s, acc[i][0]);
            _mm256_storeu_ps(s + 8, acc[i][1]);
            for (int q = 0; q < cols; ++q)
                ci[q] = (p0 > 0 ? ci[q] : bias ? bias[q] : 0.0f) + s[q];
        }
    }
}

/* Depth from which a strip goes one depth block at a time through all its row blocks (both
   halves of a row block in turn, dnf_pb_avx2_deep), so the block's 32 KB of the strip and the
   rows' part of A stay in cache: a strip of K >= 2048 is 256 KB or more, half of a Zen 3
   core's L2, and each row block used to stream all of it. Interleaved in one process, min of
   40 rounds, one AMD EPYC (Zen 3) core, B cold, this code / the one before: M 49 K 4608 N 512
   (ResNet-50's 7x7 3x3 convs) 0.86, M 128 K 3072 N 768 (the BERT FFN's second GEMM) 0.93,
   M 49 K 2048 N 512 0.92; shallower strips keep their order (M 128 K 768 N 3072 0.99, M 196
   K 256 N 1024 0.98, M 49 K 512 N 2048 0.95); in this order they lost (1.04-1.09). */
#define DNF_PB_DEEP 2048

__attribute__((target("avx2,fma"), always_inline))
static inline void dnf_pb_avx2_deep_t(const int at, int64_t m, int64_t k, const float* a,
                                      int64_t lda, const float* b, int64_t cols, float* c,
                                      int64_t ldc, const float* bias, const float* next) {
    const int halves = cols > 16 ? 2 : 1;
    for (int64_t q0 = 0; q0 < k; q0 += DNF_GEMM_KB) {
        const int64_t q1 = k - q0 < DNF_GEMM_KB ? k : q0 + DNF_GEMM_KB;
        for (int64_t i = 0, blk = 0; i < m; i += 6, ++blk) {
            const float* pf = dnf_pb_pf(next, blk, k);  /* its lines in [q0, q1) */
            for (int h = 0; h < halves; ++h) {
                const float* bh = bias ? bias + 16 * h : NULL;
                if (i + 6 <= m)
                    dnf_pb256(at, 6, q0, q1, a + (at ? i : i * lda), lda, b + 16 * h,
                              c + i * ldc + 16 * h, ldc, bh, cols - 16 * h, h == 0 ? pf : NULL);
                else for (int64_t r = i; r < m; ++r)
                    dnf_pb256(at, 1, q0, q1, a + (at ? r : r * lda), lda, b + 16 * h,
                              c + r * ldc + 16 * h, ldc, bh, cols - 16 * h, NULL);
            }
        }
    }
}

__attribute__((target("avx2,fma"), noinline))
static void dnf_pb_avx2_deep(int64_t m, int64_t k, const float* a, int64_t lda, int at,
                             const float* b, int64_t cols, float* c, int64_t ldc,
                             const float* bias, const float* next) {
    if (at) dnf_pb_avx2_deep_t(1, m, k, a, lda, b, cols, c, ldc, bias, next);
    else dnf_pb_avx2_deep_t(0, m, k, a, lda, b, cols, c, ldc, bias, next);
}

/* Strips of K >= DNF_PB_DEEP by dnf_pb_avx2_deep (a function of its own: inlined here, it
   made gcc lay out the shallow loops below so that they ran 8-11% slower, same instructions),
   shallower ones half by half, each row block over the whole depth. */
__attribute__((target("avx2,fma"), always_inline))
static inline void dnf_pb_avx2_t(const int at, int64_t m, int64_t k, const float* a,
                                 int64_t lda, const float* b, int64_t cols, float* c,
                                 int64_t ldc, const float* bias, const float* next) {
    for (int h = 0, blk = 0; h < 2 && 16 * h < cols; ++h) {
        const float* bh = b + 16 * h;
        float* ch = c + 16 * h;
        const float* biash = bias ? bias + 16 * h : NULL;
        const int64_t hc = cols - 16 * h;
        int64_t i = 0;
        /* the next strip as in dnf_pb_avx512, by the second and third row blocks (AVX2 +
           FMA capped, one Intel Xeon core, min of 5 x 12 runs: M 49 K 512 N 2048 1921 ->
           1532 us, M 169 K 512 N 1000 3221 -> 2861, M 128 K 768 N 3072 8994 -> 8085) */
        for (; i + 6 <= m; i += 6, ++blk)
            dnf_pb256(at, 6, 0, k, a + (at ? i : i * lda), lda, bh, ch + i * ldc, ldc, biash,
                      hc, dnf_pb_pf(next, blk, k));
        for (; i < m; ++i, ++blk)
            dnf_pb256(at, 1, 0, k, a + (at ? i : i * lda), lda, bh, ch + i * ldc, ldc, biash,
                      hc, dnf_pb_pf(next, blk, k));
    }
}

__attribute__((target("avx2,fma")))
static void dnf_pb_avx2(int64_t m, int64_t k, const float* a, int64_t lda, int at,
                        const float* b, int64_t cols, float* c, int64_t ldc, const float* bias,
                        const float* next) {
    if (k >= DNF_PB_DEEP) {
        dnf_pb_avx2_deep(m, k, a, lda, at, b, cols, c, ldc, bias, next);
        return;
    }
    if (at) dnf_pb_avx2_t(1, m, k, a, lda, b, cols, c, ldc, bias, next);
    else dnf_pb_avx2_t(0, m, k, a, lda, b, cols, c, ldc, bias, next);
}
#endif

static void dnf_gemm_pb(int64_t m, int64_t k, const float* a, int64_t lda, int at,
                        const float* bp, int64_t j0, int64_t j1, int64_t jn, float* c,
                        int64_t ldc, const float* bias) {
    const int isa = dnf_gemm_isa();
    for (int64_t j = j0; j < j1; j += DNF_PB_NR) {
        const float* b = bp + (j / DNF_PB_NR) * k * DNF_PB_NR;
        const int64_t cols = j1 - j < DNF_PB_NR ? j1 - j : DNF_PB_NR;
        const float* bj = bias ? bias + j : NULL;
#ifdef DNF_GEMM_X86
        const float* next = j + DNF_PB_NR < jn ? b + k * DNF_PB_NR : NULL;  /* next strip */
        if (isa == 2) {
            dnf_pb_avx512(m, k, a, lda, at, b, cols, c + j, ldc, bj, next);
            continue;
        }
        if (isa == 1) {
            dnf_pb_avx2(m, k, a, lda, at, b, cols, c + j, ldc, bj, next);
            continue;
        }
#endif
        (void)isa;
        dnf_pb_c(m, k, a, lda, at, b, cols, c + j, ldc, bj);
    }
}
