int dnf_abi_version(void) { return DNF_ABI_VERSION; }
int dnf_num_blocks(void) { return DNF_NUM_BLOCKS; }
size_t dnf_arena_bytes(void) { return DNF_ARENA_BYTES; }

/* The arena's mapping: whole 2 MB pages. */
#define DNF_ARENA_MAP_BYTES (((size_t)DNF_ARENA_BYTES + ((size_t)1 << 21) - 1) & ~(((size_t)1 << 21) - 1))
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
        void* a = mmap(NULL, DNF_ARENA_MAP_BYTES, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        m->arena = a == MAP_FAILED ? NULL : (unsigned char*)a;
#ifdef MADV_HUGEPAGE
        /* 2 MB pages where the kernel has them (THP "madvise" mode): conv tiles write output
           channel planes a whole image apart, one 4 KB page per row otherwise. */
        if (m->arena) madvise(m->arena, DNF_ARENA_MAP_BYTES, MADV_HUGEPAGE);
#endif
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
    if (m->arena) munmap(m->arena, DNF_ARENA_MAP_BYTES);
    free(m);
}
