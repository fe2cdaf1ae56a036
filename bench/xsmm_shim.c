/* libxsmm for bench_gemm, as a module it can dlopen. Debian ships libxsmm only as static
 * archives (libxsmm-dev: /usr/lib/libxsmm.a, libxsmmext.a), so bench/CMakeLists.txt links them
 * into this small shared module; bench_gemm loads it with dlopen(RTLD_LOCAL) like the other
 * candidates. libxsmm is column-major (Fortran BLAS convention). Two entry points:
 *   bench_xsmm_sgemm      libxsmm_sgemm: a JIT kernel when M*N*K <= 64^3 (LIBXSMM_MAX_MNK),
 *                         else libxsmm's BLAS fallback (sgemm_, linked here to OpenBLAS);
 *   bench_xsmm_sgemm_omp  libxsmm_sgemm_omp (libxsmmext): large products tiled into JIT
 *                         kernels, OpenMP-threaded over the tiles (omp_get_max_threads()). */
#include <libxsmm.h>

void bench_xsmm_init(void);
void bench_xsmm_sgemm(char ta, char tb, int m, int n, int k, float alpha, const float *a,
                      int lda, const float *b, int ldb, float beta, float *c, int ldc);
void bench_xsmm_sgemm_omp(char ta, char tb, int m, int n, int k, float alpha, const float *a,
                          int lda, const float *b, int ldb, float beta, float *c, int ldc);

void bench_xsmm_init(void)
{
    libxsmm_init();
}

void bench_xsmm_sgemm(char ta, char tb, int m, int n, int k, float alpha, const float *a,
                      int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    const libxsmm_blasint M = m, N = n, K = k, LDA = lda, LDB = ldb, LDC = ldc;
    libxsmm_sgemm(&ta, &tb, &M, &N, &K, &alpha, a, &LDA, b, &LDB, &beta, c, &LDC);
}

void bench_xsmm_sgemm_omp(char ta, char tb, int m, int n, int k, float alpha, const float *a,
                          int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    const libxsmm_blasint M = m, N = n, K = k, LDA = lda, LDB = ldb, LDC = ldc;
    libxsmm_sgemm_omp(&ta, &tb, &M, &N, &K, &alpha, a, &LDA, b, &LDB, &beta, c, &LDC);
}
