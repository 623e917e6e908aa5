/* dst[j][i] = src[i][j] for i < rows, j < cols (row strides lds, ldd), then with res (not
   NULL, read like dst: res[j*ldd + i]) plus res[j][i] (a residual Add), then with relu != 0
   max(t, 0) (t > 0 ? t : 0, NaN and -0 included): a conv's epilogue applied as its result
   goes back into planes, not in passes over them. Blocks of 8 x 8 in
   AVX registers (unpack, shuffle, permute) when the CPU has AVX2 (dnf_gemm_isa), the edges
   and other CPUs in plain C. Used by the transposed conv path (anchors/conv_packed.py) to
   turn X or its im2col panel into rows of positions and the result back into planes. Its
   first version wrote the transposed panel element by element (one float per cache line
   per store) and transposed with plain loops: on light ResNet-50, one Zen 5 core, each
   14x14 / 7x7 conv kernel's own code then held 1.7-1.8% of a `perf record` (about 0.75 ms
   of 45 ms), and the convs took 1.3-1.9 ms instead of 1.1-1.2. */
/* one float of the result: t (+ res[o]) (then max(t, 0)) */
static inline float dnf_tr_ep(float t, const float* res, int64_t o, int relu) {
    if (res) t = t + res[o];
    return relu ? (t > 0.0f ? t : 0.0f) : t;
}

#ifdef DNF_GEMM_X86
/* one row of 8 of the result at dst + o: v (+ res + o) (then max(v, 0)) */
__attribute__((target("avx2"), always_inline))
static inline void dnf_tr_store(float* dst, int64_t o, __m256 v, const float* res, int relu) {
    if (res) v = _mm256_add_ps(v, _mm256_loadu_ps(res + o));
    if (relu) v = _mm256_max_ps(v, _mm256_setzero_ps());
    _mm256_storeu_ps(dst + o, v);
}

__attribute__((target("avx2")))
static void dnf_transpose_avx(const float* src, int64_t rows, int64_t cols, int64_t lds,
                              float* dst, int64_t ldd, const float* res, int relu) {
    int64_t i = 0;
    for (; i + 8 <= rows; i += 8) {
        int64_t j = 0;
        for (; j + 8 <= cols; j += 8) {
            const float* s = src + i * lds + j;
            const __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + lds);
            const __m256 r2 = _mm256_loadu_ps(s + 2 * lds), r3 = _mm256_loadu_ps(s + 3 * lds);
            const __m256 r4 = _mm256_loadu_ps(s + 4 * lds), r5 = _mm256_loadu_ps(s + 5 * lds);
            const __m256 r6 = _mm256_loadu_ps(s + 6 * lds), r7 = _mm256_loadu_ps(s + 7 * lds);
            const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
            const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
            const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
            const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
            const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
            const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
            const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
            const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
            const int64_t o = j * ldd + i;
            dnf_tr_store(dst, o, _mm256_permute2f128_ps(u0, u4, 0x20), res, relu);
            dnf_tr_store(dst, o + ldd, _mm256_permute2f128_ps(u1, u5, 0x20), res, relu);
            dnf_tr_store(dst, o + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20), res, relu);
            dnf_tr_store(dst, o + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20), res, relu);
            dnf_tr_store(dst, o + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31), res, relu);
            dnf_tr_store(dst, o + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31), res, relu);
            dnf_tr_store(dst, o + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31), res, relu);
            dnf_tr_store(dst, o + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31), res, relu);
        }
        for (; j < cols; ++j)
            for (int64_t q = i; q < i + 8; ++q)
                dst[j * ldd + q] = dnf_tr_ep(src[q * lds + j], res, j * ldd + q, relu);
    }
    for (; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j)
            dst[j * ldd + i] = dnf_tr_ep(src[i * lds + j], res, j * ldd + i, relu);
}
#endif

static void dnf_transpose(const float* src, int64_t rows, int64_t cols, int64_t lds,
                          float* dst, int64_t ldd, const float* res, int relu) {
#ifdef DNF_GEMM_X86
    if (dnf_gemm_isa() >= 1) {
        dnf_transpose_avx(src, rows, cols, lds, dst, ldd, res, relu);
        return;
    }
#endif
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j)
            dst[j * ldd + i] = dnf_tr_ep(src[i * lds + j], res, j * ldd + i, relu);
}
