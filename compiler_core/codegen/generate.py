"""Plan -> model.c: the kernels, the static memory plan and the entry points.

``dnf_create(weights_path)`` maps weights.bin and allocates the arena; ``dnf_run(handle,
inputs, outputs)`` runs the kernels in order; ``dnf_run_profiled(..., block_us)`` also times
each kernel (microseconds); ``dnf_destroy(handle)`` frees; ``dnf_set_num_threads(handle, n)``
sets the OpenMP thread count of that handle's runs (0: OpenMP's default). One handle owns one
arena, so concurrent runs need one handle each (the Python session serializes runs with a
lock). The same source is built as a shared library (host) or linked with a runner ``main``
(cross targets; see :mod:`compiler_core.target.targets`).

``dnf_run``/``dnf_run_profiled`` return 0, 1 for a bad argument, or the code of a run-time
error (an integer division by zero...; :mod:`compiler_core.codegen.checks`): the run stops
at that block and ``dnf_error_block(handle)`` gives its index (-1 after a successful run).
``dnf_set_trace(slot)`` (process-wide; NULL turns it off) makes every run store the index of
the block about to run into ``*slot``, and -1 after the last block (a run stopped by an error
leaves that block's index), so a process that watches a crashed child can name the block.

All C text comes from templates filled in one pass (:func:`~compiler_core.codegen.cnames.fill`);
model text enters only as sanitized comments (the operator names of a block).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

from compiler_core.codegen.cnames import Names, comment, ctype_of, fill
from compiler_core.codegen.kernel import BlockKernel, analyze_block
from compiler_core.codegen.memory import Interval, plan_arena
from compiler_core.codegen.weights import layout_weights
from compiler_core.errors import UnsupportedOperatorError
from compiler_core.ir.ecg import ECG, is_constant, value_bytes, value_shape
from compiler_core.planner.blocks import BlockGraph
from compiler_core.target.abi import FIRST_CODE

ABI_VERSION = 1


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str  # numpy dtype name
    shape: tuple[int, ...]


@dataclass
class GeneratedModel:
    source: str
    kernels: list[BlockKernel]
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    weights: list[ir.Value]
    weight_offsets: dict[ir.Value, int]
    weights_bytes: int
    arena_bytes: int
    intermediate_bytes: int  # bytes of all arena tensors if none were reused


def _spec(v: ir.Value) -> TensorSpec:
    return TensorSpec(v.name or "", np.dtype(ctype_of(v).np).name, value_shape(v))


def generate(ecg: ECG, blocks: BlockGraph) -> GeneratedModel:
    """C source for the whole model; raises :class:`UnsupportedOperatorError` up front."""
    names = Names()
    kernels = [
        analyze_block(ecg, b, blocks.sorted_members(g), names)
        for b, g in enumerate(blocks.groups_in_order())
    ]
    graph = ecg.graph
    in_values = [v for v in graph.inputs if not is_constant(v)]
    out_values = list(graph.outputs)
    for v in [*in_values, *out_values]:
        ctype_of(v)
        if v.name is None:
            raise UnsupportedOperatorError("a graph input or output has no name")
    in_index = {v: j for j, v in enumerate(in_values)}
    out_index: dict[ir.Value, int] = {}
    for j, v in enumerate(out_values):
        out_index.setdefault(v, j)

    # Storage: weights, graph inputs/outputs (caller's buffers), arena tensors by liveness.
    weights: list[ir.Value] = []
    first: dict[ir.Value, int] = {}
    last: dict[ir.Value, int] = {}
    for b, k in enumerate(kernels):
        for v in k.inputs:
            if is_constant(v):
                if v not in first:
                    weights.append(v)
                first.setdefault(v, b)
            last[v] = b
        for v in [*k.outputs, *k.scratch]:
            first[v] = b
            last.setdefault(v, b)
    produced = {v for k in kernels for v in k.outputs}
    for v in out_values:
        if v not in produced and v not in in_index and is_constant(v) and v not in first:
            weights.append(v)
            first[v] = last[v] = 0
    w_off, w_bytes = layout_weights(weights)
    arena_vals = [
        v for v in first if v not in w_off and v not in in_index and v not in out_index
    ]
    intervals = [Interval(v, value_bytes(v), first[v], last[v]) for v in arena_vals]
    a_off, a_bytes = plan_arena(intervals)

    def pointer(v: ir.Value) -> tuple[str, bool]:
        if v in w_off:
            return f"c->w + {w_off[v]}", False
        if v in in_index:
            return f"c->in[{in_index[v]}]", False
        if v in out_index:
            return f"c->out[{out_index[v]}]", True
        if v not in a_off:
            raise UnsupportedOperatorError(f"tensor {comment(v.name or '?')!r} has no producer")
        return f"c->arena + {a_off[v]}", True

    body: list[str] = []
    for k in kernels:
        ptrs = {v: pointer(v) for v in [*k.inputs, *k.outputs, *k.scratch]}
        body += k.emit(ptrs)
        body.append("")

    # Graph outputs no kernel writes: copies of inputs, weights or of an earlier output.
    copies: list[str] = []
    for j, v in enumerate(out_values):
        n = value_bytes(v)
        if out_index[v] != j:
            copies.append(f"    memcpy(out[{j}], out[{out_index[v]}], {n});")
        elif v not in produced:
            if v in in_index:
                copies.append(f"    memcpy(out[{j}], in[{in_index[v]}], {n});")
            elif is_constant(v):
                copies.append(f"    memcpy(out[{j}], m->map + {w_off[v]}, {n});")
            else:
                raise UnsupportedOperatorError(
                    f"graph output {comment(v.name or '?')!r} is not computed by any node"
                )
    source = _assemble(kernels, body, copies, w_bytes, a_bytes)
    return GeneratedModel(
        source=source,
        kernels=kernels,
        inputs=[_spec(v) for v in in_values],
        outputs=[_spec(v) for v in out_values],
        weights=weights,
        weight_offsets=w_off,
        weights_bytes=w_bytes,
        arena_bytes=a_bytes,
        intermediate_bytes=sum(i.size for i in intervals),
    )


_PRELUDE = """\
/* Generated by dnnfusion. Identifiers are the generator's own; model names appear only in
   sanitized comments. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <omp.h>
#include <cblas.h>

#define DNF_ABI_VERSION @ABI@
#define DNF_WEIGHTS_BYTES ((size_t)@WEIGHTS_BYTES@)
#define DNF_ARENA_BYTES ((size_t)@ARENA_BYTES@)
#define DNF_NUM_BLOCKS @NUM_BLOCKS@
#define DNF_FIRST_ERROR_CODE @FIRST_ERROR_CODE@

/* Kernels are compiled for three x86-64 ISA levels (AVX-512, AVX2+FMA, baseline SSE2) and the
   best one the CPU supports is chosen when the library loads (GCC function multiversioning,
   an ifunc per kernel); the OpenMP bodies of a kernel are cloned with it. Results are the
   same on every level: no FMA contraction, no reassociation. Other targets: one version. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__PIC__)
#define DNF_KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DNF_KERNEL
#endif

typedef struct {
    const unsigned char* w;
    unsigned char* arena;
    const void* const* in;
    void* const* out;
} dnf_ctx;

typedef struct {
    unsigned char* map;
    unsigned char* arena;
    int threads; /* OpenMP threads for this handle's runs; 0: OpenMP's default */
    int err_block; /* block of the last run's error, -1 when it succeeded */
} dnf_model;

/* dnf_set_trace's slot (process-wide; NULL: off). */
static volatile int32_t* dnf_trace_slot = NULL;

/* Rows per sgemm call: an even share per OpenMP thread, at least 16 (OpenBLAS runs
   single-threaded inside our parallel loops; one thread pool, no oversubscription). */
static int64_t dnf_row_tile(int64_t rows) {
    int64_t nt = omp_get_max_threads();
    int64_t t = (rows + nt - 1) / nt;
    return t < 16 ? 16 : t;
}

/* erf as a rational function of x on [-4, 4] (Eigen's / XLA's float erf; erf(+-4) rounds
   to +-1 in float32): max abs error 4.2e-7 over [-8, 8] measured against double erf, NaN
   stays NaN. Unlike libm's erff (a call per element) it vectorizes: GELU's erff was 6.5% of
   a one-thread BERT-base run. [ours] */
static inline float dnf_erff(float a) {
    const float x = a > 4.0f ? 4.0f : (a < -4.0f ? -4.0f : a);
    const float x2 = x * x;
    float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
    p = x2 * p + -2.10102402082508e-06f;
    p = x2 * p + -5.69250639462346e-05f;
    p = x2 * p + -7.34990630326855e-04f;
    p = x2 * p + -2.95459980854025e-03f;
    p = x2 * p + -1.60960333262415e-02f;
    float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
    q = x2 * q + -1.68282697438203e-03f;
    q = x2 * q + -7.37332916720468e-03f;
    q = x2 * q + -1.42647390514189e-02f;
    return x * p / q;
}

static double dnf_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec * 1e-3;
}
"""

_ENTRY = """\
int dnf_abi_version(void) { return DNF_ABI_VERSION; }
int dnf_num_blocks(void) { return DNF_NUM_BLOCKS; }
size_t dnf_arena_bytes(void) { return DNF_ARENA_BYTES; }
size_t dnf_weights_bytes(void) { return DNF_WEIGHTS_BYTES; }

/* Maps the weights file (it must have exactly DNF_WEIGHTS_BYTES bytes) and allocates the
   arena. Returns NULL on failure. */
void* dnf_create(const char* weights_path) {
    scipy_openblas_set_num_threads(1);
    dnf_model* m = (dnf_model*)calloc(1, sizeof(dnf_model));
    if (!m) return NULL;
    m->err_block = -1;
    int fd = open(weights_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { free(m); return NULL; }
    struct stat st;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size != DNF_WEIGHTS_BYTES) {
        close(fd); free(m); return NULL;
    }
    if (DNF_WEIGHTS_BYTES > 0) {
        void* p = mmap(NULL, DNF_WEIGHTS_BYTES, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) { close(fd); free(m); return NULL; }
        m->map = (unsigned char*)p;
    }
    close(fd);
    if (DNF_ARENA_BYTES > 0) {
        m->arena = (unsigned char*)aligned_alloc(64, DNF_ARENA_BYTES);
        if (!m->arena) {
            if (m->map) munmap(m->map, DNF_WEIGHTS_BYTES);
            free(m);
            return NULL;
        }
    }
    return m;
}

/* Threads used by this handle's runs (n >= 1), or 0 for OpenMP's default (OMP_NUM_THREADS,
   else one per CPU). Returns 0 on success. */
int dnf_set_num_threads(void* h, int n) {
    if (!h || n < 0) return 1;
    ((dnf_model*)h)->threads = n;
    return 0;
}

/* OpenMP's default thread count on the calling thread. */
int dnf_default_num_threads(void) { return omp_get_max_threads(); }

/* Stores the index of the block about to run into *slot before each block, and -1 after the
   last one (a run stopped by an error leaves that block's index). NULL: no trace.
   Process-wide: meant for a child process running one model, whose parent reads the slot
   (shared memory) when the child dies. */
void dnf_set_trace(volatile int32_t* slot) { dnf_trace_slot = slot; }

/* The block where this handle's last run stopped with an error, -1 if it succeeded. */
int dnf_error_block(void* h) { return h ? ((dnf_model*)h)->err_block : -1; }

/* Error flag bits of a checked kernel -> dnf_run's code: the lowest bit set wins. */
static int dnf_error_code(int bits) {
    int code = DNF_FIRST_ERROR_CODE;
    while (!(bits & 1)) { bits >>= 1; ++code; }
    return code;
}

static int dnf_exec(dnf_model* m, const void* const* in, void* const* out, double* us) {
    dnf_ctx ctx = {m->map, m->arena, in, out};
    const dnf_ctx* c = &ctx;
    volatile int32_t* const trace = dnf_trace_slot;
    int err = 0;
    m->err_block = -1;
    /* The OpenMP thread count is a per-calling-thread setting: apply this handle's count for
       the run and restore the caller's afterwards. */
    const int saved_threads = omp_get_max_threads();
    if (m->threads > 0) omp_set_num_threads(m->threads);
    double t0 = us ? dnf_now_us() : 0.0;
@CALLS@
@COPIES@
    if (trace) *trace = -1;
@DONE@    if (m->threads > 0) omp_set_num_threads(saved_threads);
    return err ? dnf_error_code(err) : 0;
}

int dnf_run(void* h, const void* const* in, void* const* out) {
    if (!h) return 1;
    return dnf_exec((dnf_model*)h, in, out, NULL);
}

/* Like dnf_run; block_us[i] receives the time of kernel i in microseconds. */
int dnf_run_profiled(void* h, const void* const* in, void* const* out, double* block_us) {
    if (!h || !block_us) return 1;
    return dnf_exec((dnf_model*)h, in, out, block_us);
}

void dnf_destroy(void* h) {
    dnf_model* m = (dnf_model*)h;
    if (!m) return;
    if (m->map) munmap(m->map, DNF_WEIGHTS_BYTES);
    free(m->arena);
    free(m);
}
"""


def _assemble(kernels, body, copies, w_bytes, a_bytes) -> str:
    calls = []
    for i, k in enumerate(kernels):
        calls.append(f"    if (trace) *trace = {i};")
        if k.checked:  # stop at the first block reporting an error
            calls.append(f"    if ((err = {k.name}(c)) != 0) {{ m->err_block = {i}; goto done; }}")
        else:
            calls.append(f"    {k.name}(c);")
        calls.append(f"    if (us) {{ double t1 = dnf_now_us(); us[{i}] = t1 - t0; t0 = t1; }}")
    checked = any(k.checked for k in kernels)
    head = fill(_PRELUDE, {"ABI": ABI_VERSION, "WEIGHTS_BYTES": w_bytes, "ARENA_BYTES": a_bytes,
                           "NUM_BLOCKS": len(kernels), "FIRST_ERROR_CODE": FIRST_CODE})
    tail = fill(_ENTRY, {
        "CALLS": "\n".join(calls),
        "COPIES": "\n".join(copies) or "    (void)out;",
        "DONE": "done:\n" if checked else "",  # where a run stopped by an error jumps
    })
    return head + "\n" + "\n".join(body) + "\n" + tail
