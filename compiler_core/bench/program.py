"""The micro-benchmark program: the fused and the separate partition of one candidate in one C
executable that checks them against each other and times them.

Sources (see :func:`benchmark_sources`): ``fused.c`` and ``separate.c`` are the code
generator's ``model.c`` for each partition, their ``dnf_*`` identifiers renamed by a
``#define`` prefix (``fz_``, ``sp_``) so both link into one program; ``bench.c`` is the
``main`` below. Constants are embedded (exact bytes) when at most :data:`EMBED_LIMIT` bytes;
larger float constants are filled with the same pseudo-random values for both partitions (the
timing does not depend on weight values); a larger non-float constant is refused. The weights
file each ``dnf_create`` maps is written by the program itself (``memfd_create``, else a
temporary file it unlinks), so the binary needs nothing next to it.

Usage::

    bench.run [-t THREADS] [--min-ms MS] [--seed N] [--check]

Both partitions run on the same random inputs (float32 uniform in [-1, 1), integers in
[0, 3], booleans 0/1); every output is compared (float32: ``|f - s| <= 1e-4 + 1e-3 * |s|``
or both NaN; other dtypes: equal) before anything is timed, so a wrong kernel is never timed.
Then: warm-up (each partition at least 2 runs and ``min-ms / 5``), and turns that alternate
the partitions (a turn runs one partition for at least 2 ms) until each has run at least
``min-ms`` (default 100) and 10 times, at most 100,000 runs. ``--check`` stops after the
comparison (what runs under qemu: correctness only, never timing).

Output: one JSON line on stdout, ``{"format": "dnnfusion-bench", "ok": true, "signature":
..., "codegen_version": V, "threads": T, "cpu": "...", "max_abs_diff": D, "fused_us":
[...], "separate_us": [...]}`` (per-run samples in microseconds; no samples with
``--check``). Exit codes: 0 ok, 2 bad usage, 3 setup failure (memory, weights file), 4 a
partition reported a run-time error, 5 the partitions' outputs differ (``"ok": false``,
``"error": "mismatch"`` with the output index, element and both values).
"""

from __future__ import annotations

import math
import re

import numpy as np

from compiler_core.codegen.cnames import ctype_of
from compiler_core.codegen.generate import GeneratedModel
from compiler_core.errors import UnsupportedOperatorError
from compiler_core.ir.ecg import value_shape

BENCH_ABI = 1
EMBED_LIMIT = 256 * 1024  # bytes of a constant embedded exactly
MISMATCH_EXIT = 5
PREFIXES = {"fused": "fz_", "separate": "sp_"}
_KINDS = {"float32": 0, "int64": 1, "int32": 2, "bool": 3, "uint8": 4, "int8": 5}
_IDENT = re.compile(r"\bdnf_[a-z0-9_]+\b")


def _renamed(source: str, prefix: str) -> str:
    """``source`` with every ``dnf_*`` identifier given ``prefix`` (by ``#define``)."""
    idents = sorted(set(_IDENT.findall(source)))
    defines = "".join(f"#define {n} {prefix}{n}\n" for n in idents)
    return f"/* dnnfusion micro-benchmark partition ({prefix}) */\n{defines}{source}"


def _bytes_literal(data: bytes) -> str:
    if not data:
        return "0"
    return ",".join(str(b) for b in data)


def _constants(fused: GeneratedModel, separate: GeneratedModel) -> tuple[list, str]:
    """Constants of both partitions (the same ``ir.Value`` objects, different offsets)."""
    values = list(dict.fromkeys([*fused.weights, *separate.weights]))
    rows = []
    arrays = []
    for k, v in enumerate(values):
        ct = ctype_of(v)
        nbytes = int(np.dtype(ct.np).itemsize) * math.prod(value_shape(v))
        if nbytes <= EMBED_LIMIT:
            arr = np.ascontiguousarray(np.asarray(v.const_value.numpy()).astype(ct.np))
            arrays.append(f"static const unsigned char cdata{k}[] = {{{_bytes_literal(arr.tobytes())}}};")
            rows.append(f"{{cdata{k}, (size_t){nbytes}, 0}}")
        elif ct.np is np.float32:
            rows.append(f"{{NULL, (size_t){nbytes}, 1}}")
        else:
            raise UnsupportedOperatorError(
                f"a {nbytes}-byte non-float constant is too big for a micro-benchmark"
            )
    return values, "\n".join(arrays) + "\nstatic const bconst consts[] = {" + (
        ", ".join(rows) or "{NULL, 0, 0}") + "};\n"


def _layout(gen: GeneratedModel, values: list, name: str) -> str:
    idx = {v: k for k, v in enumerate(values)}
    rows = [f"{{{idx[v]}, (size_t){gen.weight_offsets[v]}}}" for v in gen.weights]
    return (f"static const bweight {name}_w[] = {{{', '.join(rows) or '{-1, 0}'}}};\n"
            f"#define {name.upper()}_NW {len(rows)}\n"
            f"#define {name.upper()}_WBYTES ((size_t){gen.weights_bytes})\n")


def _spec_rows(specs) -> tuple[str, str]:
    sizes, kinds = [], []
    for s in specs:
        dt = np.dtype(s.dtype)
        if dt.name not in _KINDS:
            raise UnsupportedOperatorError(f"dtype {dt.name} is not benchmarked")
        sizes.append(f"(size_t){math.prod(s.shape) * dt.itemsize}")
        kinds.append(str(_KINDS[dt.name]))
    return ", ".join(sizes) or "0", ", ".join(kinds) or "0"


def benchmark_sources(fused: GeneratedModel, separate: GeneratedModel, signature: str) -> dict:
    """``{file name: C text}`` of the benchmark program for two generated partitions of the
    same sub-model (same inputs and outputs, in the same order). ``signature``: the fusion
    signature key (hex) the program prints. Raises :class:`UnsupportedOperatorError` when the
    partitions' tensors differ or a constant cannot be embedded."""
    if [(s.dtype, s.shape) for s in fused.inputs] != [(s.dtype, s.shape) for s in separate.inputs] \
            or [(s.dtype, s.shape) for s in fused.outputs] != [
                (s.dtype, s.shape) for s in separate.outputs]:
        raise UnsupportedOperatorError("the two partitions have different inputs or outputs")
    if not re.fullmatch(r"[0-9a-f]{0,64}", signature):
        raise ValueError("signature must be a hex digest")
    values, const_table = _constants(fused, separate)
    in_sizes, in_kinds = _spec_rows(fused.inputs)
    out_sizes, out_kinds = _spec_rows(fused.outputs)
    head = "\n".join([
        f"#define NIN {len(fused.inputs)}",
        f"#define NOUT {len(fused.outputs)}",
        f"#define BENCH_ABI {BENCH_ABI}",
        f'#define SIGNATURE "{signature}"',
        f"#define MISMATCH_EXIT {MISMATCH_EXIT}",
        f"static const size_t in_bytes[] = {{{in_sizes}}};",
        f"static const int in_kind[] = {{{in_kinds}}};",
        f"static const size_t out_bytes[] = {{{out_sizes}}};",
        f"static const int out_kind[] = {{{out_kinds}}};",
    ])
    from compiler_core.bench.signature import CODEGEN_VERSION

    main = (_MAIN_HEAD + head + f"\n#define CODEGEN_VERSION {CODEGEN_VERSION}\n" + const_table
            + _layout(fused, values, "fz") + _layout(separate, values, "sp") + _MAIN_BODY)
    return {
        "fused.c": _renamed(fused.source, PREFIXES["fused"]),
        "separate.c": _renamed(separate.source, PREFIXES["separate"]),
        "bench.c": main,
    }


_MAIN_HEAD = r"""/* dnnfusion fusion micro-benchmark (compiler_core/bench/program.py). */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <omp.h>

typedef struct { const unsigned char* data; size_t n; int random_float; } bconst;
typedef struct { int c; size_t off; } bweight;

void* fz_dnf_create(const char* weights_path);
int fz_dnf_run(void* h, const void* const* in, void* const* out);
int fz_dnf_set_num_threads(void* h, int n);
void fz_dnf_destroy(void* h);
void* sp_dnf_create(const char* weights_path);
int sp_dnf_run(void* h, const void* const* in, void* const* out);
int sp_dnf_set_num_threads(void* h, int n);
void sp_dnf_destroy(void* h);

"""

_MAIN_BODY = r"""
static uint64_t rng_state;
static uint64_t rng_next(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static float rng_float(void) { return (float)((rng_next() >> 40) * (2.0 / 16777216.0) - 1.0); }

static void fill(void* p, size_t bytes, int kind) {
    switch (kind) {
    case 0: for (size_t i = 0; i < bytes / 4; ++i) ((float*)p)[i] = rng_float(); break;
    case 1: for (size_t i = 0; i < bytes / 8; ++i) ((int64_t*)p)[i] = (int64_t)(rng_next() % 4); break;
    case 2: for (size_t i = 0; i < bytes / 4; ++i) ((int32_t*)p)[i] = (int32_t)(rng_next() % 4); break;
    case 3: for (size_t i = 0; i < bytes; ++i) ((uint8_t*)p)[i] = (uint8_t)(rng_next() & 1); break;
    default: for (size_t i = 0; i < bytes; ++i) ((uint8_t*)p)[i] = (uint8_t)(rng_next() % 4); break;
    }
}

static void* alloc64(size_t n) {
    void* p = aligned_alloc(64, ((n + 63) / 64) * 64 + 64);
    if (p) memset(p, 0, n);
    return p;
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec * 1e-3;
}

/* The weights file one partition maps: its constants at its offsets, in an anonymous memory
   file (or an unlinked temporary file). Returns the path, or NULL. */
static char* weights_file(const bweight* w, int nw, size_t bytes, uint64_t seed, char* path) {
    unsigned char* buf = (unsigned char*)calloc(bytes ? bytes : 1, 1);
    if (!buf) return NULL;
    for (int i = 0; i < nw; ++i) {
        const bconst* c = &consts[w[i].c];
        if (c->random_float) { rng_state = seed * 7919u + (uint64_t)w[i].c; fill(buf + w[i].off, c->n, 0); }
        else if (c->n) memcpy(buf + w[i].off, c->data, c->n);
    }
    int fd = -1;
#ifdef SYS_memfd_create
    fd = (int)syscall(SYS_memfd_create, "dnnfusion-bench", 0);
#endif
    if (fd >= 0) snprintf(path, 64, "/proc/self/fd/%d", fd);
    else {
        const char* dir = getenv("TMPDIR");
        snprintf(path, 256, "%s/dnnfusion-bench-XXXXXX", dir && *dir ? dir : "/tmp");
        fd = mkstemp(path);
        if (fd < 0) { free(buf); return NULL; }
    }
    size_t done = 0;
    while (done < bytes) {
        ssize_t k = write(fd, buf + done, bytes - done);
        if (k <= 0) { free(buf); return NULL; }
        done += (size_t)k;
    }
    free(buf);
    return path;
}

static int same(const void* a, const void* b, int kind, size_t bytes, size_t* at, double* diff) {
    *diff = 0.0;
    if (kind == 0) {
        const float* x = (const float*)a; const float* y = (const float*)b;
        for (size_t i = 0; i < bytes / 4; ++i) {
            if (isnan(x[i]) && isnan(y[i])) continue;
            double d = fabs((double)x[i] - (double)y[i]);
            if (!(d <= 1e-4 + 1e-3 * fabs((double)y[i]))) { *at = i; *diff = d; return 0; }
            if (d > *diff) *diff = d;
        }
        return 1;
    }
    size_t size = kind == 1 ? 8 : (kind == 2 ? 4 : 1);
    for (size_t i = 0; i < bytes / size; ++i)
        if (memcmp((const char*)a + i * size, (const char*)b + i * size, size)) { *at = i; return 0; }
    return 1;
}

static void json_cpu(void) {
    char line[512], model[256] = "";
    FILE* f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10) || !strncmp(line, "Hardware", 8) ||
            (!model[0] && !strncmp(line, "CPU part", 8))) {
            char* v = strchr(line, ':');
            if (!v) continue;
            for (++v; *v == ' ' || *v == '\t'; ++v) {}
            size_t n = 0;
            for (; *v && *v != '\n' && n < sizeof model - 1; ++v)
                model[n++] = (*v >= 32 && *v < 127 && *v != '"' && *v != '\\') ? *v : '_';
            model[n] = 0;
            if (!strncmp(line, "model name", 10) || !strncmp(line, "Hardware", 8)) break;
        }
    }
    if (f) fclose(f);
    printf("\"cpu\": \"%s\"", model);
}

static void json_samples(const char* key, const double* v, int n) {
    printf(", \"%s\": [", key);
    for (int i = 0; i < n; ++i) printf(i ? ", %.3f" : "%.3f", v[i]);
    printf("]");
}

static int usage(void) {
    fprintf(stderr, "usage: bench.run [-t THREADS] [--min-ms MS] [--seed N] [--check]\n");
    return 2;
}

typedef int (*run_fn)(void*, const void* const*, void* const*);

#define MAX_RUNS 100000

/* Runs one partition for at least min_us (and min_runs times), appending samples. */
static int turn(run_fn run, void* h, void** in, void** out, double* s, int* n, double min_us,
                int min_runs) {
    double spent = 0.0;
    for (int r = 0; (spent < min_us || r < min_runs) && *n < MAX_RUNS; ++r) {
        double t0 = now_us();
        int rc = run(h, (const void* const*)in, out);
        double dt = now_us() - t0;
        if (rc) return rc;
        s[(*n)++] = dt;
        spent += dt;
    }
    return 0;
}

int main(int argc, char** argv) {
    int threads = 0, check = 0;
    double min_ms = 100.0;
    unsigned long long seed = 1;
    for (int a = 1; a < argc; ++a) {
        if (!strcmp(argv[a], "--check")) check = 1;
        else if (!strcmp(argv[a], "-t") && a + 1 < argc) threads = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--min-ms") && a + 1 < argc) min_ms = atof(argv[++a]);
        else if (!strcmp(argv[a], "--seed") && a + 1 < argc) seed = strtoull(argv[++a], NULL, 10);
        else return usage();
    }
    if (threads < 0 || !(min_ms >= 0.0) || min_ms > 600000.0) return usage();
    if (threads > 0) omp_set_num_threads(threads);
    threads = omp_get_max_threads();
    char fpath[256], spath[256];
    if (!weights_file(fz_w, FZ_NW, FZ_WBYTES, seed, fpath) ||
        !weights_file(sp_w, SP_NW, SP_WBYTES, seed, spath)) {
        fprintf(stderr, "error: cannot write the weights files\n");
        return 3;
    }
    void* hf = fz_dnf_create(fpath);
    void* hs = sp_dnf_create(spath);
    if (!hf || !hs) { fprintf(stderr, "error: cannot map the weights or allocate the arena\n"); return 3; }
    fz_dnf_set_num_threads(hf, threads);
    sp_dnf_set_num_threads(hs, threads);
    void* in[NIN + 1];
    void* of[NOUT + 1];
    void* os[NOUT + 1];
    rng_state = seed;
    for (int i = 0; i < NIN; ++i) {
        if (!(in[i] = alloc64(in_bytes[i]))) return 3;
        fill(in[i], in_bytes[i], in_kind[i]);
    }
    for (int i = 0; i < NOUT; ++i)
        if (!(of[i] = alloc64(out_bytes[i])) || !(os[i] = alloc64(out_bytes[i]))) return 3;
    int rc = fz_dnf_run(hf, (const void* const*)in, of);
    int rs = sp_dnf_run(hs, (const void* const*)in, os);
    if (rc || rs) {
        printf("{\"format\": \"dnnfusion-bench\", \"ok\": false, \"error\": \"run\", "
               "\"fused_rc\": %d, \"separate_rc\": %d}\n", rc, rs);
        return 4;
    }
    double max_diff = 0.0;
    for (int i = 0; i < NOUT; ++i) {
        size_t at = 0;
        double d = 0.0;
        if (!same(of[i], os[i], out_kind[i], out_bytes[i], &at, &d)) {
            printf("{\"format\": \"dnnfusion-bench\", \"ok\": false, \"error\": \"mismatch\", "
                   "\"signature\": \"%s\", \"output\": %d, \"element\": %zu", SIGNATURE, i, at);
            if (out_kind[i] == 0)
                printf(", \"fused\": %.9g, \"separate\": %.9g", ((float*)of[i])[at],
                       ((float*)os[i])[at]);
            printf("}\n");
            return MISMATCH_EXIT;
        }
        if (d > max_diff) max_diff = d;
    }
    double* sf = (double*)malloc(sizeof(double) * MAX_RUNS);
    double* ss = (double*)malloc(sizeof(double) * MAX_RUNS);
    int nf = 0, ns = 0;
    if (!sf || !ss) return 3;
    if (!check) {
        int warm_f = 0, warm_s = 0;
        double* junk = (double*)malloc(sizeof(double) * MAX_RUNS);
        if (!junk) return 3;
        rc = turn(fz_dnf_run, hf, in, of, junk, &warm_f, min_ms * 200.0, 2);
        if (!rc) rc = turn(sp_dnf_run, hs, in, os, junk, &warm_s, min_ms * 200.0, 2);
        free(junk);
        double tf = 0.0, ts = 0.0;
        while (!rc && (tf < min_ms * 1e3 || ts < min_ms * 1e3 || nf < 10 || ns < 10) &&
               nf < MAX_RUNS && ns < MAX_RUNS) {
            int k = nf;
            rc = turn(fz_dnf_run, hf, in, of, sf, &nf, 2000.0, 1);
            for (; k < nf; ++k) tf += sf[k];
            k = ns;
            if (!rc) rc = turn(sp_dnf_run, hs, in, os, ss, &ns, 2000.0, 1);
            for (; k < ns; ++k) ts += ss[k];
        }
        if (rc) {
            printf("{\"format\": \"dnnfusion-bench\", \"ok\": false, \"error\": \"run\", "
                   "\"rc\": %d}\n", rc);
            return 4;
        }
    }
    printf("{\"format\": \"dnnfusion-bench\", \"abi\": %d, \"ok\": true, \"signature\": \"%s\", "
           "\"codegen_version\": %d, \"threads\": %d, \"check_only\": %s, ", BENCH_ABI,
           SIGNATURE, CODEGEN_VERSION, threads, check ? "true" : "false");
    json_cpu();
    printf(", \"max_abs_diff\": %.9g", max_diff);
    json_samples("fused_us", sf, nf);
    json_samples("separate_us", ss, ns);
    printf("}\n");
    fz_dnf_destroy(hf);
    sp_dnf_destroy(hs);
    return 0;
}
"""
