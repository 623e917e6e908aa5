"""The code generator's version, standard library only (the API process reads it for the
compile cache's key without loading the compiler).

Bump :data:`CODEGEN_VERSION` when the code generator's kernels change in a way that can change
their speed or their output: profiling entries of other versions stop deciding plans
(``compiler_core.bench.signature``) and cached compilations stop being reused
(``service.compile_cache``).
"""

from __future__ import annotations

# 3: convs with several taps get an implicit-GEMM AVX-512 path (issue #13)
# 4: exp, expm1, log, tanh, sigmoid, softplus, mish as vectorizable dnf_*f helpers (issue #13)
# 5: Pow(x, 3) as x*x*x (GELU's tanh form when not rewritten spent 3x its GEMM in powf)
# 6: 3x3 stride-1 convs take a Winograd F(2,3) / F(4,3) path where it measured faster (issue #13)
# 7: Gemm: sgemm with beta 0, beta*C and the epilogue on its tiles (was 3 passes; GPT-2)
# 8: attention kernel: each row tile stops at its last live key column (causal, padding)
# 9: an anchor's tiles go straight into the block output its one epilogue rewrites in place
# 10: GEMMs with constant B read it packed at compile time (dnf_gemm_pb, x86-64), deep 1x1
#     convs through it; per-thread workspace slots a whole number of cache lines apart; the
#     linux-arm64 shim runs one OpenBLAS sgemm at a time
# 11: convs on 256+ output positions read packed weights (dnf_gemm_pa, x86-64); deep 14x14
#     convs leave Winograd
# 12: dnf_gemm_pa strips outermost, full 32-column blocks with plain loads
# 13: dnf_gemm_pa depth blocks outermost, a conv's lone Relu applied as it stores; dnf_gemm_pb
#     brings the next weight strip into L2; Concats in place (inputs written into the output)
# 14: dnf_gemm_pa AVX2 + FMA keeps its accumulators in registers (were stored to the stack on
#     every depth step) and prefetches the next 16 columns of B
# 15: deep convs on small images hold both W^T (conv_packed) and F(2,3)'s U; a run-time branch
#     takes Winograd without AVX-512
# 16: dnf_gemm_pb AVX2 + FMA takes strips of K >= 2048 one depth block at a time
# 17: a conv's residual Add (+ Relu) applied as dnf_gemm_pa stores its tile, and a Relu or
#     residual Add (+ Relu) as conv_packed transposes its result back (dnf_transpose's res,
#     relu); conv_packed finishes 128 channels at a time; convs on dnf_gemm_pa whose row tiles
#     leave columns empty take tiles of whole 32-column blocks; Winograd's GEMMs on small
#     images through dnf_gemm_pa from 96 channels; conv_packed's 1x1 and 1-D convs read X (the
#     panel) in place as dnf_gemm_pb's A transposed
# 18: 2-D pooling planes through dnf_pool_plane on AVX-512 CPUs; conv_packed from 48 output
#     channels (was 64); reductions over a plain buffer's last axes as one loop
# 19: dnf_gemm_pa reads a 1x1 conv's X in place (no panel copy); a conv + residual Add block
#     stores its output over the residual when the residual dies there
CODEGEN_VERSION = 19
