/* Convolution as an implicit GEMM on a zero-padded input (no im2col panel).

   Xp holds one image's channels zero-padded (with stride s: split into its s x s phase
   images, each Hq x Wq). The output position j = oh*Wq + ow of the Wq-wide output reads
   Xp[off[k] + j] for tap k = (c*kh + ki)*kw + kj (off[k]: the tap's phase image, channel and
   shift, computed at compile time): a contiguous run of j, so
       Y[m][j] = bias[m] + sum_k W[m][k] * Xp[off[k] + j]
   is a GEMM whose B rows are shifted views of Xp. Columns ow >= OW of each output row are
   computed and dropped: the kernel stores position j at y[(j / Wq)*OW + j % Wq].

   dnf_dconv_pack(mn, kk, w, ldw, ap): rows [0, mn) of W (kk taps, ldw floats apart)
   into blocks of DNF_DC_MR rows, ap[(r / MR)*kk*MR + k*MR + r % MR] (a short last block
   repeats its last row). dnf_dconv(mn, n, kk, ap, off, xp, wq, ow, y, ldy, bias): rows
   [0, mn) (ap: the packed block of the first row) times positions [0, n) of xp, into the
   compact rows of y (ldy floats apart per output channel); bias may be NULL.

   On an x86-64 CPU with AVX-512F: a 12 x 32 register-blocked kernel (FMA; results differ from
   the sgemm path by rounding only). dnf_dconv_ok() says whether that kernel runs (not when
   $DNNFUSION_NO_DCONV is set, read once per loaded model); callers use their im2col + sgemm
   path otherwise (other CPUs, other targets); the plain C loop below keeps the function
   defined everywhere. */
#define DNF_DC_MR 12
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define DNF_DCONV_X86 1
#endif

static int dnf_dconv_ok(void) {
#ifdef DNF_DCONV_X86
    static int ok = -1;  /* decided once; a race writes the same value */
    if (ok < 0) ok = __builtin_cpu_supports("avx512f") && !getenv("DNNFUSION_NO_DCONV");
    return ok;
#else
    return 0;
#endif
}

static void dnf_dconv_pack(int64_t mn, int64_t kk, const float* w, int64_t ldw, float* ap) {
    for (int64_t mb = 0; mb < mn; mb += DNF_DC_MR) {
        float* p = ap + mb * kk;
        for (int i = 0; i < DNF_DC_MR; ++i) {
            const float* wr = w + (mb + i < mn ? mb + i : mn - 1) * ldw;
            for (int64_t k = 0; k < kk; ++k) p[k * DNF_DC_MR + i] = wr[k];
        }
    }
}

#ifdef DNF_DCONV_X86
/* Where the 16 positions of one vector go: n masked stores (a vector spans up to
   DNF_DC_SEGS rows; position j of row r = j / wq is kept when j % wq < ow and goes to
   y[j - r*(wq - ow)], so each row's lanes are one masked store at a shifted base). */
#define DNF_DC_SEGS 4
#define DNF_DC_CHUNK 2048  /* positions per table of masks and stores (a multiple of 32) */
struct dnf_dc_seg {
    int n;
    __mmask16 mask[DNF_DC_SEGS];
    int64_t at[DNF_DC_SEGS];  /* y index of the vector's lane 0 for that row */
};
/* One register block: DNF_DC_MR rows x NV vectors of 16 positions from nb; load masks lm. */
#define DNF_DC_BLOCK(NV)                                                                    \
    do {                                                                                    \
        __m512 acc[DNF_DC_MR][NV];                                                          \
        _Pragma("GCC unroll 16") for (int i = 0; i < DNF_DC_MR; ++i) {                     \
            __m512 b0 = _mm512_set1_ps(bi[i]);                                              \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) acc[i][v] = b0;           \
        }                                                                                   \
        const float* x0 = xp + nb;                                                          \
        const float* a = ap;                                                                \
        for (int64_t k = 0; k < kk; ++k, a += DNF_DC_MR) {                                  \
            const float* bp = x0 + off[k];                                                  \
            __m512 bv[NV];                                                                  \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v)                            \
                bv[v] = _mm512_maskz_loadu_ps(lm[v], bp + 16 * v);                          \
            _Pragma("GCC unroll 16") for (int i = 0; i < DNF_DC_MR; ++i) {                 \
                __m512 av = _mm512_set1_ps(a[i]);                                           \
                _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v)                        \
                    acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);                      \
            }                                                                               \
        }                                                                                   \
        _Pragma("GCC unroll 16") for (int i = 0; i < DNF_DC_MR; ++i) {                     \
            if (mb + i >= mn) break;                                                        \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) {                          \
                float* yr = y + (mb + i) * ldy;                                             \
                const struct dnf_dc_seg* sg = seg + vb + v;                                 \
                _mm512_mask_storeu_ps(yr + sg->at[0], sg->mask[0], acc[i][v]);              \
                for (int q = 1; q < sg->n; ++q)                                             \
                    _mm512_mask_storeu_ps(yr + sg->at[q], sg->mask[q], acc[i][v]);          \
            }                                                                               \
        }                                                                                   \
    } while (0)

__attribute__((target("avx512f,fma")))
static void dnf_dconv_avx512(int64_t mn, int64_t n, int64_t kk, const float* ap0,
                             const int32_t* off, const float* xp, int64_t wq, int64_t ow,
                             float* y, int64_t ldy, const float* bias) {
    /* positions in chunks of DNF_DC_CHUNK: the masks and stores of a chunk's vectors are
       tabled once for every row block (the table stays small on the stack) */
    __mmask16 lms[DNF_DC_CHUNK / 16 + 1];
    struct dnf_dc_seg segs[DNF_DC_CHUNK / 16 + 1];
    for (int64_t c0 = 0; c0 < n; c0 += DNF_DC_CHUNK) {
        const int64_t cn = n - c0 < DNF_DC_CHUNK ? n - c0 : DNF_DC_CHUNK;
        const int64_t nv = (cn + 15) / 16;  /* vectors of 16 positions */
        for (int64_t v = 0; v < nv; ++v) {
            int64_t j0 = c0 + 16 * v, col = j0 % wq, row = j0 / wq;
            unsigned lmask = 0;
            struct dnf_dc_seg* sg = &segs[v];
            sg->n = 0;
            sg->mask[0] = 0;
            sg->at[0] = 0;
            int64_t cur = -1;  /* row of the open segment */
            for (int l = 0; l < 16 && j0 + l < n; ++l) {
                lmask |= 1u << l;
                if (col < ow) {
                    if (row != cur) {
                        cur = row;
                        sg->mask[sg->n] = 0;
                        sg->at[sg->n] = j0 - row * (wq - ow);
                        ++sg->n;
                    }
                    sg->mask[sg->n - 1] |= (__mmask16)(1u << l);
                }
                if (++col == wq) { col = 0; ++row; }
            }
            if (sg->n == 0) sg->n = 1;  /* nothing kept: one empty store */
            lms[v] = (__mmask16)lmask;
        }
        lms[nv] = 0;
        segs[nv].n = 1;
        segs[nv].mask[0] = 0;
        segs[nv].at[0] = 0;
        const struct dnf_dc_seg* seg = segs;
        for (int64_t mb = 0; mb < mn; mb += DNF_DC_MR) {
            const float* ap = ap0 + mb * kk;
            float bi[DNF_DC_MR];
            for (int i = 0; i < DNF_DC_MR; ++i)
                bi[i] = bias ? bias[mb + i < mn ? mb + i : mn - 1] : 0.0f;
            /* blocks of 32 positions; a last block of at most 16 uses one vector */
            for (int64_t nb = c0; nb < c0 + cn; nb += 32) {
                const int64_t vb = (nb - c0) / 16;
                const __mmask16* lm = lms + vb;
                if (c0 + cn - nb > 16) DNF_DC_BLOCK(2);
                else DNF_DC_BLOCK(1);
            }
        }
    }
}
#endif

static void dnf_dconv(int64_t mn, int64_t n, int64_t kk, const float* ap, const int32_t* off,
                      const float* xp, int64_t wq, int64_t ow, float* y, int64_t ldy,
                      const float* bias) {
#ifdef DNF_DCONV_X86
    if (__builtin_cpu_supports("avx512f")) {
        dnf_dconv_avx512(mn, n, kk, ap, off, xp, wq, ow, y, ldy, bias);
        return;
    }
#endif
    for (int64_t m = 0; m < mn; ++m) {
        float* yr = y + m * ldy;
        const float* wr = ap + (m / DNF_DC_MR) * kk * DNF_DC_MR + m % DNF_DC_MR;
        for (int64_t j = 0; j < n; ++j) {
            if (j % wq >= ow) continue;
            float acc = bias ? bias[m] : 0.0f;
            for (int64_t k = 0; k < kk; ++k) acc += wr[k * DNF_DC_MR] * xp[off[k] + j];
            yr[(j / wq) * ow + j % wq] = acc;
        }
    }
}
