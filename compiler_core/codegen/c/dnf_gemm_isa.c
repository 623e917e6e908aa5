/* The SIMD level of the packed-operand GEMM kernels (dnf_gemm_pb, dnf_gemm_pa), decided once
   per loaded model: 2 AVX-512F, 1 AVX2 + FMA, 0 plain C. $DNNFUSION_GEMM_ISA = avx512 | avx2
   | c caps it (the A/B switch of the tests: every level gives the same bits). DNF_GEMM_KB is
   the depth of one partial sum, shared by both kernels: a sum of k terms is ceil(k / 256)
   partial sums added in order (one sum over all 2048 terms of ResNet-50's classifier missed
   ONNX Runtime by 1.2e-4). */
#ifndef DNF_GEMM_KB
#define DNF_GEMM_KB 256
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define DNF_GEMM_X86 1
#endif

static int dnf_gemm_isa(void) {
    static int isa = -1;  /* decided once; a race writes the same value */
    if (isa < 0) {
        int best = 0;
#ifdef DNF_GEMM_X86
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = 1;
        if (best && __builtin_cpu_supports("avx512f")) best = 2;
#endif
        const char* cap = getenv("DNNFUSION_GEMM_ISA");
        if (cap && strcmp(cap, "c") == 0) best = 0;
        if (cap && strcmp(cap, "avx2") == 0 && best > 1) best = 1;
        isa = best;
    }
    return isa;
}
