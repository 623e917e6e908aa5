/* Rows per sgemm call: an even share per OpenMP thread, at least 16 (OpenBLAS runs
   single-threaded inside our parallel loops; one thread pool, no oversubscription). */
static int64_t dnf_row_tile(int64_t rows) {
    int64_t nt = omp_get_max_threads();
    int64_t t = (rows + nt - 1) / nt;
    return t < 16 ? 16 : t;
}
