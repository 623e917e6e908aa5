"""``runner.c``: the ``main`` of a runner-target artifact (``linux-arm64``).

Usage on the device (e.g. ``adb push model.run weights.bin x.bin /data/local/tmp`` and then
``adb shell``)::

    ./model.run [-t THREADS] [-r RUNS] [-p] WEIGHTS IN_0 ... IN_n-1 OUT_0 ... OUT_m-1
    ./model.run --check WEIGHTS       # maps the weights, prints the tensor table, runs nothing
    ./model.run --info                # the tensor table only

Tensors are raw little-endian row-major files (``numpy.ndarray.tofile``), in the order of the
manifest's ``inputs`` and ``outputs``; each input's size is checked against the model. With
``-r RUNS`` the model runs once to warm up and then RUNS times (outputs from the last run); it
prints ``run_ms <median> <min>`` on stdout. ``-p`` also prints ``block <i> <median us>`` per
fused block. Exit codes: 0 ok, 2 bad usage or bad input file, 3 weights/arena failure,
4 the model stopped with a run-time error (one line on stderr,
``error: the compiled model divided by zero in block 3 (Div)``, the message of
:func:`compiler_core.target.abi.message`; 4 is :data:`~compiler_core.target.abi.MODEL_ERROR_EXIT`).

Tensor names (model text) enter ``runner.c`` only as literals made by
:func:`~compiler_core.codegen.cnames.c_string`, each cut to :data:`NAME_LIMIT` bytes (plus
``...``); ``--info`` prints them as they are.
"""

from __future__ import annotations

import math

import numpy as np

from compiler_core.codegen.checks import c_check_table
from compiler_core.codegen.cnames import c_string, fill
from compiler_core.target.abi import MODEL_ERROR_EXIT

RUNNER_ABI = 1
NAME_LIMIT = 1024  # bytes of a tensor name kept in runner.c


def _sizes(specs) -> str:
    vals = [math.prod(s.shape) * np.dtype(s.dtype).itemsize for s in specs]
    return ", ".join(f"(size_t){v}" for v in vals) or "0"


def _names(specs) -> str:
    return ", ".join(c_string(s.name, NAME_LIMIT) for s in specs) or '""'


def runner_source(inputs, outputs) -> str:
    """C source of the runner for a model with these input and output TensorSpecs."""
    return fill(_TEMPLATE, {
        "NIN": len(inputs),
        "NOUT": len(outputs),
        "IN_BYTES": _sizes(inputs),
        "OUT_BYTES": _sizes(outputs),
        "IN_NAMES": _names(inputs),
        "OUT_NAMES": _names(outputs),
        "ABI": RUNNER_ABI,
        "CHECKS": c_check_table(),
        "MODEL_ERROR_EXIT": MODEL_ERROR_EXIT,
    })


_TEMPLATE = r"""/* dnnfusion runner (see compiler_core/codegen/runner.py). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void* dnf_create(const char* weights_path);
int dnf_run(void* h, const void* const* in, void* const* out);
int dnf_run_profiled(void* h, const void* const* in, void* const* out, double* block_us);
int dnf_set_num_threads(void* h, int n);
int dnf_num_blocks(void);
int dnf_error_block(void* h);
void dnf_destroy(void* h);

#define NIN @NIN@
#define NOUT @NOUT@
static const size_t in_bytes[] = {@IN_BYTES@};
static const size_t out_bytes[] = {@OUT_BYTES@};
static const char* in_names[] = {@IN_NAMES@};
static const char* out_names[] = {@OUT_NAMES@};
static const struct { int code; const char* what; const char* op; } checks[] = {@CHECKS@};

/* One line for a run the model stopped with an error (compiler_core.codegen.checks.message). */
static int model_error(void* h, int rc) {
    const int block = dnf_error_block(h);
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); ++i)
        if (checks[i].code == rc) {
            fprintf(stderr, "error: the compiled model %s in block %d (%s)\n", checks[i].what,
                    block, checks[i].op);
            return @MODEL_ERROR_EXIT@;
        }
    fprintf(stderr, "error: the compiled model failed in block %d (error code %d)\n", block, rc);
    return @MODEL_ERROR_EXIT@;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_double(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

static double median(double* v, int n) {
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void* alloc64(size_t n) { return aligned_alloc(64, ((n + 63) / 64) * 64 + 64); }

static int read_file(const char* path, void* dst, size_t n) {
    FILE* f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "error: cannot open %s\n", path); return 2; }
    size_t got = n ? fread(dst, 1, n, f) : 0;
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (got != n || extra) {
        fprintf(stderr, "error: %s: expected exactly %zu bytes\n", path, n);
        return 2;
    }
    return 0;
}

static int write_file(const char* path, const void* src, size_t n) {
    FILE* f = fopen(path, "wb");
    if (!f) { fprintf(stderr, "error: cannot create %s\n", path); return 2; }
    size_t put = n ? fwrite(src, 1, n, f) : 0;
    int bad = fclose(f) != 0 || put != n;
    if (bad) { fprintf(stderr, "error: cannot write %s\n", path); return 2; }
    return 0;
}

static void info(void) {
    printf("runner_abi @ABI@\nblocks %d\n", dnf_num_blocks());
    for (int i = 0; i < NIN; ++i) printf("input %d %zu %s\n", i, in_bytes[i], in_names[i]);
    for (int i = 0; i < NOUT; ++i) printf("output %d %zu %s\n", i, out_bytes[i], out_names[i]);
}

static int usage(void) {
    fprintf(stderr, "usage: model.run [-t THREADS] [-r RUNS] [-p] WEIGHTS IN(%d)... "
                    "OUT(%d)...\n       model.run --check WEIGHTS | --info\n", NIN, NOUT);
    return 2;
}

int main(int argc, char** argv) {
    int threads = 0, runs = 0, profile = 0, check = 0, a = 1;
    for (; a < argc && argv[a][0] == '-'; ++a) {
        if (!strcmp(argv[a], "--info")) { info(); return 0; }
        else if (!strcmp(argv[a], "--check")) check = 1;
        else if (!strcmp(argv[a], "-p")) profile = 1;
        else if (!strcmp(argv[a], "-t") && a + 1 < argc) threads = atoi(argv[++a]);
        else if (!strcmp(argv[a], "-r") && a + 1 < argc) runs = atoi(argv[++a]);
        else return usage();
    }
    if (threads < 0 || runs < 0) return usage();
    if (check ? argc - a != 1 : argc - a != 1 + NIN + NOUT) return usage();
    void* h = dnf_create(argv[a]);
    if (!h) { fprintf(stderr, "error: cannot map %s or allocate the arena\n", argv[a]); return 3; }
    if (check) { info(); dnf_destroy(h); return 0; }
    if (threads > 0) dnf_set_num_threads(h, threads);
    void* in[NIN + 1];
    void* out[NOUT + 1];
    for (int i = 0; i < NIN; ++i) {
        in[i] = alloc64(in_bytes[i]);
        if (!in[i] || read_file(argv[a + 1 + i], in[i], in_bytes[i])) return 2;
    }
    for (int i = 0; i < NOUT; ++i) {
        out[i] = alloc64(out_bytes[i]);
        if (!out[i]) return 3;
    }
    const int nb = dnf_num_blocks();
    const int total = runs > 0 ? runs + 1 : 1;
    double* run_ms = (double*)calloc((size_t)total, sizeof(double));
    double* us = (double*)calloc((size_t)total * (size_t)(nb + 1), sizeof(double));
    if (!run_ms || !us) return 3;
    for (int r = 0; r < total; ++r) {
        double t0 = now_ms();
        int rc = profile ? dnf_run_profiled(h, (const void* const*)in, out, us + (size_t)r * nb)
                         : dnf_run(h, (const void* const*)in, out);
        run_ms[r] = now_ms() - t0;
        if (rc == 1) { fprintf(stderr, "error: model run failed (%d)\n", rc); return 3; }
        if (rc) return model_error(h, rc);
    }
    for (int i = 0; i < NOUT; ++i)
        if (write_file(argv[a + 1 + NIN + i], out[i], out_bytes[i])) return 2;
    const int first = total > 1 ? 1 : 0;  /* skip the warm-up run */
    const int n = total - first;
    if (profile) {
        double* col = (double*)calloc((size_t)n, sizeof(double));
        for (int b = 0; b < nb && col; ++b) {
            for (int r = 0; r < n; ++r) col[r] = us[(size_t)(first + r) * nb + b];
            printf("block %d %.3f\n", b, median(col, n));
        }
        free(col);
    }
    if (runs > 0) {
        double mn = run_ms[first];
        for (int r = first; r < total; ++r) mn = run_ms[r] < mn ? run_ms[r] : mn;
        printf("run_ms %.4f %.4f\n", median(run_ms + first, n), mn);
    }
    dnf_destroy(h);
    return 0;
}
"""
