/* One plane of a windowed 2-D pooling (anchors/pool.py) with AVX-512, called when
   dnf_gemm_isa() == 2 (other CPUs keep the generated loops). Output row i, column j:
       y[i][j] = m_kw, m_1 = v_i(j*sw), m_k = op(v_i(j*sw + (k-1)*dw), m_{k-1}),
       v_i(c) = a_kn, a_0 = init, a_r = op(x[ih_r][c - pw], a_{r-1}) over the kn rows
       ih_r = i*sh - ph + k*dh of the window inside X (columns c - pw outside X: init),
   init = -inf and op(v, a) = (v > a ? v : a) for a max (vmaxps(v, a): NaN and -0 alike),
   init = 0 and op(v, a) = a + v for a sum. These are the values and the order of the
   generated loops (a row buffer of vertical folds, padding included, then the horizontal
   taps), so the bits are the same.

   There each output row folded its input rows into the buffer and read it back at once at
   other offsets: the loads waited for the masked stores (store forwarding fails; a third of
   the MaxPools' samples in `perf annotate`), and gcc vectorized whole vectors of 16 only, the
   end of each row one float at a time (rows of 7-27 floats in SqueezeNet and Inception).
   Here DNF_POOL_ROWS output rows at a time: their vertical folds into `buf` (16 columns a
   step, masked), then their horizontal taps (16 outputs a step; stride 2: the even lanes of
   two loads by one vpermt2ps; other strides one output at a time). Recomputing the fold per
   tap in registers instead took 2.6x the time (three folds per column). Without the x86
   intrinsics (another compiler or CPU; DNF_POOL_PORTABLE for the tests) it is the same
   computation in plain C, one output at a time (never called there: dnf_gemm_isa() is 0). */
#if defined(DNF_GEMM_X86) && !defined(DNF_POOL_PORTABLE)
#define DNF_POOL_ROWS 8

/* the first n (<= 16; none when n <= 0) lanes */
static inline __mmask16 dnf_pool_first(int64_t n) {
    return n >= 16 ? 0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1u);
}

__attribute__((target("avx512f"), always_inline))
static inline __m512 dnf_pool_op(__m512 v, __m512 a, int is_max) {
    return is_max ? _mm512_max_ps(v, a) : _mm512_add_ps(a, v);
}

/* buf[c] = v(c) for c < span: the kn rows x (ld floats apart) folded at c - pw inside
   [0, w), init elsewhere (the padding). The loads start at X's columns 0, 16, ... (rows of
   X are often 64-byte aligned; starting at the buffer's columns instead, a padding of 1 made
   every load straddle two cache lines: ResNet-50's stem MaxPool took 1.6x the time). */
__attribute__((target("avx512f"), always_inline))
static inline void dnf_pool_vfold(const float* x, int64_t ld, int64_t kn, int64_t w,
                                  int64_t pw, int64_t span, __m512 init, int is_max,
                                  float* buf) {
    for (int64_t c = 0; c < pw; ++c) buf[c] = init[0];
    for (int64_t c = pw + w; c < span; ++c) buf[c] = init[0];
    for (int64_t c = 0; c < w; c += 16) {
        const __mmask16 in = dnf_pool_first(w - c);
        __m512 a = init;
        if (in == 0xffff) {
            for (int64_t r = 0; r < kn; ++r)
                a = dnf_pool_op(_mm512_loadu_ps(x + r * ld + c), a, is_max);
            _mm512_storeu_ps(buf + pw + c, a);
        } else {
            for (int64_t r = 0; r < kn; ++r)
                a = dnf_pool_op(_mm512_maskz_loadu_ps(in, x + r * ld + c), a, is_max);
            _mm512_mask_storeu_ps(buf + pw + c, in, a);
        }
    }
}

/* y[j] for j < ow from one row of folds r */
__attribute__((target("avx512f"), always_inline))
static inline void dnf_pool_hfold(const float* r, int64_t ow, int64_t kw, int64_t sw,
                                  int64_t dw, int is_max, __m512i even, float* y) {
    if (sw > 2) {
        for (int64_t j = 0; j < ow; ++j) {
            float a = r[j * sw];
            for (int64_t k = 1; k < kw; ++k) {
                const float v = r[j * sw + k * dw];
                a = is_max ? (v > a ? v : a) : a + v;
            }
            y[j] = a;
        }
        return;
    }
    for (int64_t j = 0; j < ow; j += 16) {
        const int64_t n = ow - j < 16 ? ow - j : 16;
        const int64_t used = sw * n - (sw - 1);  /* floats one tap reads */
        __m512 a = _mm512_setzero_ps();
        for (int64_t k = 0; k < kw; ++k) {
            const float* p = r + j * sw + k * dw;
            __m512 v = _mm512_maskz_loadu_ps(dnf_pool_first(used), p);
            if (sw == 2)
                v = _mm512_permutex2var_ps(
                    v, even, _mm512_maskz_loadu_ps(dnf_pool_first(used - 16), p + 16));
            a = k == 0 ? v : dnf_pool_op(v, a, is_max);
        }
        _mm512_mask_storeu_ps(y + j, dnf_pool_first(n), a);
    }
}

/* The plane x[h][w] into y[oh][ow]; buf holds DNF_POOL_ROWS rows of ldb >= span floats
   (span: the columns a window row covers, padding included). */
__attribute__((target("avx512f")))
static void dnf_pool_plane(const float* x, int64_t h, int64_t w, int64_t oh, int64_t kh,
                           int64_t sh, int64_t ph, int64_t dh, int64_t ow, int64_t kw,
                           int64_t sw, int64_t pw, int64_t dw, int64_t span, int is_max,
                           float* buf, int64_t ldb, float* y) {
    const __m512 init = _mm512_set1_ps(is_max ? -INFINITY : 0.0f);
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6,
                                          4, 2, 0);
    for (int64_t i0 = 0; i0 < oh; i0 += DNF_POOL_ROWS) {
        const int64_t i1 = oh - i0 < DNF_POOL_ROWS ? oh : i0 + DNF_POOL_ROWS;
        for (int64_t i = i0; i < i1; ++i) {
            const int64_t ih0 = i * sh - ph;  /* taps [k0, k1) inside X */
            const int64_t k0 = ih0 >= 0 ? 0 : (-ih0 + dh - 1) / dh;
            int64_t k1 = ih0 >= h ? 0 : (h - ih0 + dh - 1) / dh;
            k1 = k1 < kh ? k1 : kh;
            const int64_t kn = k1 > k0 ? k1 - k0 : 0;
            dnf_pool_vfold(x + (kn ? (ih0 + k0 * dh) * w : 0), dh * w, kn, w, pw, span, init,
                           is_max, buf + (i - i0) * ldb);
        }
        for (int64_t i = i0; i < i1; ++i)
            dnf_pool_hfold(buf + (i - i0) * ldb, ow, kw, sw, dw, is_max, even, y + i * ow);
    }
}
#else
static void dnf_pool_plane(const float* x, int64_t h, int64_t w, int64_t oh, int64_t kh,
                           int64_t sh, int64_t ph, int64_t dh, int64_t ow, int64_t kw,
                           int64_t sw, int64_t pw, int64_t dw, int64_t span, int is_max,
                           float* buf, int64_t ldb, float* y) {
    (void)span, (void)buf, (void)ldb;
    for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
            float m = 0.0f;
            for (int64_t k = 0; k < kw; ++k) {
                const int64_t c = j * sw + k * dw - pw;  /* X's column: v(c + pw) */
                float a = is_max ? -INFINITY : 0.0f;
                for (int64_t r = 0; c >= 0 && c < w && r < kh; ++r) {
                    const int64_t ih = i * sh - ph + r * dh;
                    if (ih < 0 || ih >= h) continue;
                    const float v = x[ih * w + c];
                    a = is_max ? (v > a ? v : a) : a + v;
                }
                m = k == 0 ? a : is_max ? (a > m ? a : m) : m + a;
            }
            y[i * ow + j] = m;
        }
}
#endif
