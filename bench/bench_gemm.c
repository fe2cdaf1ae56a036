/* GEMM candidates for arith's mat_mul (issue #12), timed on arith's own shapes with the calls
 * arith makes: row-major, out(M,N) = op(a) @ op(b) + beta * out, lda = trans_a ? M : K,
 * ldb = trans_b ? K : N, ldc = N; beta 0 for a forward, 1 for the backward's products (they
 * accumulate). For a linear layer y = x W^T with W stored (out, in) (nn.c's dense_forward /
 * dense_backward) on R rows:
 *   fwd    y(R,out)  = x(R,in) @ W^T        M R,   N out, K in,  a N, b T, beta 0
 *   dgrad  dx(R,in) += dy(R,out) @ W        M R,   N in,  K out, a N, b N, beta 1
 *   wgrad  dW(out,in) += dy^T @ x           M out, N in,  K R,   a T, b N, beta 1
 * GPT-2's Conv1D stores W (in, out): fwd b N, dgrad b T, wgrad dW(in,out) += x^T @ dy.
 *
 * Candidates, each loaded with dlopen(RTLD_NOW | RTLD_LOCAL) so that libraries exporting the
 * same names (OpenBLAS and BLIS both export cblas_sgemm) never meet in one symbol scope; a
 * missing library is skipped with a message:
 *   openblas     cblas_sgemm, Debian's OpenMP build (what arith links), OPENBLAS_CORETYPE as set
 *   blis         cblas_sgemm of BLIS's OpenMP build
 *   onednn       dnnl_sgemm (row-major, char transposes)
 *   libxsmm      libxsmm_sgemm, column-major: row-major C = op(A) op(B) is computed as
 *                column-major C^T = op(B)^T op(A)^T (swap the operands, M and N, keep the
 *                transpose flags); above 64^3 it hands the product to its BLAS (OpenBLAS)
 *   libxsmm_omp  libxsmm_sgemm_omp: tiles of JIT kernels, OpenMP over the tiles
 * (libxsmm comes through bench/xsmm_shim.c, a module CMake links from Debian's static
 * archives; its path is compiled in as BENCH_XSMM_MODULE.)
 *
 * Three ways to run each product:
 *   1t    one thread: the library set to 1 thread, one call (mat_mul_serial);
 *   2t-band  cpu.c's mat_mul: an OpenMP region of 2 threads, each a band of output rows
 *         (ceil(M/2) rounded up to 8) and one single-threaded library call; products under
 *         cpu.c's thresholds (M < 32 or M*N*K < 2^17) run as one call, as there;
 *   2t-lib   one call, the library threading itself on 2 threads.
 * Each is timed after the checks' two calls for at least --min-time seconds and 3 calls (at
 * most 200; once for products over 10 GFLOP: GPT-2's head), and reported as median/best GFLOP/s (2*M*N*K per call). Determinism: the product is
 * computed twice from the same inputs in each way and compared bit for bit (memcmp), and the
 * 1-thread result is compared with both 2-thread ones; it is also checked at 256 sampled entries
 * against a sum in double (worst relative error; over 1e-4 is marked WRONG).
 *
 * Usage: bench_gemm [--min-time S] [--groups LIST] [--candidates LIST] [--no-head]
 *   --groups      comma-separated: seed001, seed000, gpt2, lengthgen (default: all)
 *   --candidates  comma-separated names from the list above (default: all)
 *   --no-head     leave out GPT-2's 50257-token head (40 GFLOP a call)
 * Prints markdown tables: GFLOP/s per way of running, then the determinism checks. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_peak.h"

/* ------------------------------------------------------------------------------ candidates */

enum { K_CBLAS, K_DNNL, K_XSMM, K_XSMM_OMP };
enum { CBLAS_ROW = 101, CBLAS_N = 111, CBLAS_T = 112 };

typedef void (*cblas_sgemm_fn)(int, int, int, int, int, int, float, const float *, int,
                               const float *, int, float, float *, int);
typedef int (*dnnl_sgemm_fn)(char, char, int64_t, int64_t, int64_t, float, const float *,
                             int64_t, const float *, int64_t, float, float *, int64_t);
typedef void (*xsmm_fn)(char, char, int, int, int, float, const float *, int, const float *,
                        int, float, float *, int);
typedef void (*set_int_fn)(int);
typedef void (*set_i64_fn)(int64_t);
typedef int (*get_int_fn)(void);
typedef void (*void_fn)(void);

#ifndef BENCH_XSMM_MODULE
#define BENCH_XSMM_MODULE ""
#endif

typedef struct {
    const char *name, *path, *symbol;
    int kind;
    void *handle;
    union {
        cblas_sgemm_fn cblas;
        dnnl_sgemm_fn dnnl;
        xsmm_fn xsmm;
    } fn;
    set_int_fn openblas_threads; /* openblas_set_num_threads */
    set_i64_fn blis_threads;     /* bli_thread_set_num_threads */
    set_int_fn omp_threads;      /* omp_set_num_threads of the runtime the library uses */
    bool ok;
} candidate;

static candidate candidates[] = {
    {"openblas", "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0", "cblas_sgemm",
     K_CBLAS, NULL, {NULL}, NULL, NULL, NULL, false},
    {"blis", "/usr/lib/x86_64-linux-gnu/blis-openmp/libblis.so.4", "cblas_sgemm", K_CBLAS, NULL,
     {NULL}, NULL, NULL, NULL, false},
    {"onednn", "libdnnl.so.2", "dnnl_sgemm", K_DNNL, NULL, {NULL}, NULL, NULL, NULL, false},
    {"libxsmm", BENCH_XSMM_MODULE, "bench_xsmm_sgemm", K_XSMM, NULL, {NULL}, NULL, NULL, NULL,
     false},
    {"libxsmm_omp", BENCH_XSMM_MODULE, "bench_xsmm_sgemm_omp", K_XSMM_OMP, NULL, {NULL}, NULL,
     NULL, NULL, false},
};
#define N_CAND ((int)(sizeof candidates / sizeof candidates[0]))

/* dlsym into a function pointer without ISO C's object-to-function cast warning. */
static void *sym(void *handle, const char *name)
{
    dlerror();
    return dlsym(handle, name);
}
#define SYM(dst, handle, name)                                                                  \
    do {                                                                                        \
        void *p_ = sym(handle, name);                                                           \
        memcpy(&(dst), &p_, sizeof(dst));                                                       \
    } while (0)

static void candidate_load(candidate *c)
{
    if (!c->path[0]) {
        printf("- %s: skipped (bench_xsmm module not built: libxsmm-dev's static archives were "
               "not found at configure time)\n", c->name);
        return;
    }
    c->handle = dlopen(c->path, RTLD_NOW | RTLD_LOCAL);
    if (!c->handle) {
        printf("- %s: skipped (%s)\n", c->name, dlerror());
        return;
    }
    void *f = sym(c->handle, c->symbol);
    if (!f) {
        printf("- %s: skipped (no %s in %s)\n", c->name, c->symbol, c->path);
        return;
    }
    memcpy(&c->fn, &f, sizeof f);
    SYM(c->openblas_threads, c->handle, "openblas_set_num_threads");
    SYM(c->blis_threads, c->handle, "bli_thread_set_num_threads");
    if (c->kind == K_DNNL || c->kind == K_XSMM_OMP || c->kind == K_XSMM)
        SYM(c->omp_threads, c->handle, "omp_set_num_threads");
    if (c->blis_threads) {
        get_int_fn size = NULL;
        SYM(size, c->handle, "bli_info_get_blas_int_type_size");
        if (size && size() != 32) {
            printf("- %s: skipped (its BLAS interface takes %d-bit integers)\n", c->name, size());
            return;
        }
    }
    if (c->kind == K_XSMM || c->kind == K_XSMM_OMP) {
        void_fn init = NULL;
        SYM(init, c->handle, "bench_xsmm_init");
        if (init)
            init();
    }
    char detail[256] = "";
    if (c->openblas_threads) {
        typedef char *(*str_fn)(void);
        str_fn config = NULL, core = NULL;
        SYM(config, c->handle, "openblas_get_config");
        SYM(core, c->handle, "openblas_get_corename");
        if (config && core)
            snprintf(detail, sizeof detail, ": %s%s, core %s",
                     c->kind == K_CBLAS ? "" : "BLAS fallback ", config(), core());
    }
    if (c->blis_threads) {
        typedef int (*arch_fn)(void);
        typedef const char *(*arch_str_fn)(int);
        arch_fn arch = NULL;
        arch_str_fn arch_str = NULL;
        SYM(arch, c->handle, "bli_arch_query_id");
        SYM(arch_str, c->handle, "bli_arch_string");
        if (arch && arch_str) /* BLIS 0.9 does not know Zen 5: 'generic' = reference kernels */
            snprintf(detail, sizeof detail, ": sub-configuration %s", arch_str(arch()));
    }
    printf("- %s: %s from %s%s\n", c->name, c->symbol, c->path, detail);
    c->ok = true;
}

/* The library's own thread count (for 1t and 2t-lib; the bands set 1 per thread). */
static void candidate_threads(const candidate *c, int n)
{
    if (c->openblas_threads)
        c->openblas_threads(n);
    if (c->blis_threads)
        c->blis_threads(n);
    if (c->omp_threads) {
        /* the library's calls to omp_* bind to the first OpenMP runtime in the process: ours
         * (libomp under clang) or the one it names (libgomp); set both */
        omp_set_num_threads(n);
        c->omp_threads(n);
    }
}

/* out(M,N) = op(a) @ op(b) + beta * out, row-major, as mat_mul_serial calls it. */
static void candidate_call(const candidate *c, bool ta, bool tb, int M, int N, int K,
                           const float *a, const float *b, float beta, float *out)
{
    const int lda = ta ? M : K, ldb = tb ? K : N;
    switch (c->kind) {
    case K_CBLAS:
        c->fn.cblas(CBLAS_ROW, ta ? CBLAS_T : CBLAS_N, tb ? CBLAS_T : CBLAS_N, M, N, K, 1.0f, a,
                    lda, b, ldb, beta, out, N);
        break;
    case K_DNNL:
        c->fn.dnnl(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, 1.0f, a, lda, b, ldb, beta, out, N);
        break;
    default: /* column-major: out^T(N,M) = op(b)^T(N,K) @ op(a)^T(K,M) */
        c->fn.xsmm(tb ? 'T' : 'N', ta ? 'T' : 'N', N, M, K, 1.0f, b, ldb, a, lda, beta, out, N);
        break;
    }
}

/* ---------------------------------------------------------------------------------- shapes */

typedef struct {
    const char *group, *name;
    int M, N, K;
    bool ta, tb;
    float beta;
} shape;

/* The three products of a dense layer on R rows, in -> out; conv: W stored (in, out). */
#define DENSE(g, n, R, in, out, conv)                                                           \
    {g, n " fwd", R, out, in, false, !(conv), 0.0f},                                            \
    {g, n " dgrad", R, in, out, false, (conv), 1.0f},                                           \
    {g, n " wgrad", (conv) ? (in) : (out), (conv) ? (out) : (in), R, true, false, 1.0f}

static const shape shapes[] = {
    /* seed 001: 8 post-LN blocks, d 128, 16 heads, ffn 64, vocab 69; batch 64 x 21 positions
     * (22-token sequences) = 1344 rows */
    DENSE("seed001", "qkv 128>384", 1344, 128, 384, false),
    DENSE("seed001", "attn out 128>128", 1344, 128, 128, false),
    DENSE("seed001", "ffn up 128>64", 1344, 128, 64, false),
    DENSE("seed001", "ffn down 64>128", 1344, 64, 128, false),
    DENSE("seed001", "vocab 128>69", 1344, 128, 69, false),
    /* seed 000: embedding 256, 2 LSTM layers of 256 (gates 4 x 256), MLP head 256 > 256 > 19;
     * batch 64 x ~16 columns = 1024 rows (lstm.c: the input projection of all steps, then one
     * recurrent product of the 64 rows per step) */
    DENSE("seed000", "lstm x>gates 256>1024", 1024, 256, 1024, false),
    {"seed000", "lstm h>gates (1 step)", 64, 1024, 256, false, true, 1.0f},
    {"seed000", "lstm dh (1 step)", 64, 256, 1024, false, false, 1.0f},
    {"seed000", "lstm dW_hh", 1024, 256, 960, true, false, 1.0f},
    DENSE("seed000", "head fc 256>256", 1024, 256, 256, false),
    DENSE("seed000", "head out 256>19", 1024, 256, 19, false),
    /* GPT-2 124M at 4 x 128 = 512 rows: d 768, Conv1D weights (in, out); tied 50257 head */
    DENSE("gpt2", "c_attn 768>2304", 512, 768, 2304, true),
    DENSE("gpt2", "attn c_proj 768>768", 512, 768, 768, true),
    DENSE("gpt2", "mlp c_fc 768>3072", 512, 768, 3072, true),
    DENSE("gpt2", "mlp c_proj 3072>768", 512, 3072, 768, true),
    {"gpt2", "head 768>50257 fwd", 512, 50257, 768, false, true, 0.0f},
    /* length generalization (recipes/lengthgen-*): 2 layers, d 64, 4 heads, ffn 256, char
     * vocabulary ~16; batch 64 x ~60 tokens = 3840 rows */
    DENSE("lengthgen", "qkv 64>192", 3840, 64, 192, false),
    DENSE("lengthgen", "attn out 64>64", 3840, 64, 64, false),
    DENSE("lengthgen", "ffn up 64>256", 3840, 64, 256, false),
    DENSE("lengthgen", "ffn down 256>64", 3840, 256, 64, false),
    DENSE("lengthgen", "vocab 64>16", 3840, 64, 16, false),
};
#define N_SHAPE ((int)(sizeof shapes / sizeof shapes[0]))

/* ------------------------------------------------------------------------------------ runs */

enum { MODE_1T, MODE_BAND, MODE_LIB, N_MODE };
static const char *mode_names[N_MODE] = {"1 thread", "2 threads, cpu.c's row bands",
                                         "2 threads, the library's own threading"};

#define MAT_MUL_PAR_MIN (1L << 17) /* cpu.c's */

static void run_once(const candidate *c, int mode, const shape *s, const float *a,
                     const float *b, float *out)
{
    const int M = s->M, N = s->N, K = s->K, threads = 2;
    if (mode != MODE_BAND || M < 16 * threads || (long)M * N * K < MAT_MUL_PAR_MIN) {
        candidate_call(c, s->ta, s->tb, M, N, K, a, b, s->beta, out);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        const int id = omp_get_thread_num(), nt = omp_get_num_threads();
        if (c->omp_threads) { /* the library's OpenMP may not be ours: tell each thread */
            omp_set_num_threads(1);
            c->omp_threads(1);
        }
        const int rows = (M + nt - 1) / nt, band = (rows + 7) / 8 * 8;
        const int m0 = id * band < M ? id * band : M;
        const int m1 = m0 + band < M ? m0 + band : M;
        if (m1 > m0) {
            const float *a0 = s->ta ? a + m0 : a + (size_t)m0 * K;
            /* a band is an M = m1 - m0 product with a's leading dimension unchanged */
            const int lda = s->ta ? M : K, ldb = s->tb ? K : N;
            switch (c->kind) {
            case K_CBLAS:
                c->fn.cblas(CBLAS_ROW, s->ta ? CBLAS_T : CBLAS_N, s->tb ? CBLAS_T : CBLAS_N,
                            m1 - m0, N, K, 1.0f, a0, lda, b, ldb, s->beta,
                            out + (size_t)m0 * N, N);
                break;
            case K_DNNL:
                c->fn.dnnl(s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', m1 - m0, N, K, 1.0f, a0, lda, b,
                           ldb, s->beta, out + (size_t)m0 * N, N);
                break;
            default:
                c->fn.xsmm(s->tb ? 'T' : 'N', s->ta ? 'T' : 'N', N, m1 - m0, K, 1.0f, b, ldb, a0,
                           lda, s->beta, out + (size_t)m0 * N, N);
                break;
            }
        }
    }
}

static void set_mode_threads(const candidate *c, int mode)
{
    candidate_threads(c, mode == MODE_LIB ? 2 : 1);
}

typedef struct {
    double med, best;      /* GFLOP/s */
    double med_s;          /* seconds per call, median */
    bool rerun_same;       /* two calls from the same inputs give the same bits */
    bool done;
} result;

static result results[N_CAND][N_SHAPE][N_MODE];
/* worst error of the 1-thread result at 256 sampled entries against a double-precision sum,
 * relative to sum |terms| (a few 1e-7 is float rounding; a wrong call gives ~1) */
static double max_err[N_CAND][N_SHAPE];

static double sampled_error(const shape *s, const float *a, const float *b, const float *c0,
                            const float *out)
{
    double worst = 0;
    uint32_t r = 12345;
    for (int i = 0; i < 256; i++) {
        r = r * 1664525u + 1013904223u;
        int m = (int)((r >> 8) % (uint32_t)s->M);
        r = r * 1664525u + 1013904223u;
        int n = (int)((r >> 8) % (uint32_t)s->N);
        double sum = s->beta * c0[(size_t)m * s->N + n], mag = fabs(sum);
        for (int k = 0; k < s->K; k++) {
            double x = s->ta ? a[(size_t)k * s->M + m] : a[(size_t)m * s->K + k];
            double y = s->tb ? b[(size_t)n * s->K + k] : b[(size_t)k * s->N + n];
            sum += x * y;
            mag += fabs(x * y);
        }
        double e = fabs(out[(size_t)m * s->N + n] - sum) / (mag > 0 ? mag : 1);
        worst = e > worst ? e : worst;
    }
    return worst;
}
static int same_as_1t[N_CAND][N_SHAPE][N_MODE]; /* 1 yes, 0 no, -1 not checked */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static bool in_list(const char *list, const char *name)
{
    if (!list)
        return true;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p += len + (e ? 1 : 0);
    }
    return false;
}

static float *fill(size_t n, unsigned seed)
{
    float *x = malloc(n * sizeof *x);
    if (!x)
        return NULL;
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((double)(s >> 8) / 16777216.0 * 2.0 - 1.0);
    }
    return x;
}

static void measure(int ci, int si, double min_time)
{
    const candidate *c = &candidates[ci];
    const shape *s = &shapes[si];
    const size_t na = (size_t)s->M * s->K, nb = (size_t)s->K * s->N, nc = (size_t)s->M * s->N;
    float *a = fill(na, 1), *b = fill(nb, 2), *c0 = fill(nc, 3), *out = malloc(nc * 4),
          *ref1 = malloc(nc * 4), *ref = malloc(nc * 4);
    if (!a || !b || !c0 || !out || !ref1 || !ref) {
        fprintf(stderr, "bench_gemm: out of memory for %s\n", s->name);
        exit(1);
    }
    const double flop = 2.0 * s->M * s->N * s->K;
    for (int mode = 0; mode < N_MODE; mode++) {
        result *r = &results[ci][si][mode];
        set_mode_threads(c, mode);
        /* determinism: twice from the same out, bit for bit; and against 1 thread */
        memcpy(ref, c0, nc * 4);
        run_once(c, mode, s, a, b, ref);
        memcpy(out, c0, nc * 4);
        run_once(c, mode, s, a, b, out);
        r->rerun_same = memcmp(ref, out, nc * 4) == 0;
        if (mode == MODE_1T) {
            memcpy(ref1, ref, nc * 4);
            max_err[ci][si] = sampled_error(s, a, b, c0, ref);
        }
        same_as_1t[ci][si][mode] = memcmp(ref1, ref, nc * 4) == 0;
        /* timing (out keeps accumulating where beta is 1: the values only grow) */
        double times[200];
        int n = 0;
        double t_start = now_s();
        /* products over 10 GFLOP (GPT-2's head) are timed once: the checks above warmed up */
        const int min_n = flop > 1e10 ? 1 : 3, max_n = flop > 1e10 ? 1 : 200;
        while (n < max_n && (n < min_n || now_s() - t_start < min_time)) {
            double t0 = now_s();
            run_once(c, mode, s, a, b, out);
            times[n++] = now_s() - t0;
        }
        qsort(times, (size_t)n, sizeof times[0], cmp_double);
        double med = n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
        r->med_s = med;
        r->med = flop / med / 1e9;
        r->best = flop / times[0] / 1e9;
        r->done = true;
    }
    free(a);
    free(b);
    free(c0);
    free(out);
    free(ref1);
    free(ref);
}

static const char *shape_text(char *buf, size_t n, const shape *s)
{
    snprintf(buf, n, "%d×%d×%d %c%c β%d", s->M, s->N, s->K, s->ta ? 'T' : 'N',
             s->tb ? 'T' : 'N', (int)s->beta);
    return buf;
}

int main(int argc, char **argv)
{
    double min_time = 0.15;
    const char *groups = NULL, *cands = NULL;
    bool head = true;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--min-time") == 0 && i + 1 < argc)
            min_time = atof(argv[++i]);
        else if (strcmp(argv[i], "--groups") == 0 && i + 1 < argc)
            groups = argv[++i];
        else if (strcmp(argv[i], "--candidates") == 0 && i + 1 < argc)
            cands = argv[++i];
        else if (strcmp(argv[i], "--no-head") == 0)
            head = false;
        else {
            fprintf(stderr, "bench_gemm: unknown option or missing value: %s (valid: --min-time "
                    "S, --groups LIST, --candidates LIST, --no-head)\n", argv[i]);
            return 2;
        }
    }
    char p1[32], p2[32];
    int ref_bits = 0;
    double peak1 = peak_measure(peak_supported(512) ? 512 : 256, 1);
    double peak2 = peak_reference(&ref_bits);
    double load[3] = {0, 0, 0};
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
            load[0] = load[1] = load[2] = 0;
        fclose(f);
    }
    printf("load average at start: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
    printf("FP32 FMA peak (%d-bit, bench_peak.h): %s GFLOP/s on 1 thread, %s on 2\n\n",
           ref_bits, peak_text(p1, sizeof p1, peak1), peak_text(p2, sizeof p2, peak2));
    printf("Candidates:\n");
    for (int ci = 0; ci < N_CAND; ci++)
        if (in_list(cands, candidates[ci].name))
            candidate_load(&candidates[ci]);
    printf("\n");
    bool shape_on[N_SHAPE];
    for (int si = 0; si < N_SHAPE; si++) {
        shape_on[si] = in_list(groups, shapes[si].group) &&
                       (head || strcmp(shapes[si].name, "head 768>50257 fwd") != 0);
        if (!shape_on[si])
            continue;
        for (int ci = 0; ci < N_CAND; ci++)
            if (candidates[ci].ok)
                measure(ci, si, min_time);
        fprintf(stderr, "bench_gemm: %s %s done\n", shapes[si].group, shapes[si].name);
    }

    char buf[64];
    for (int mode = 0; mode < N_MODE; mode++) {
        double peak = mode == MODE_1T ? peak1 : peak2;
        printf("### %s: GFLOP/s, median/best (%% of the %s-thread peak %s in the group rows)\n\n",
               mode_names[mode], mode == MODE_1T ? "1" : "2", peak_text(p1, sizeof p1, peak));
        printf("| group | product | M×N×K op β |");
        for (int ci = 0; ci < N_CAND; ci++)
            if (candidates[ci].ok)
                printf(" %s |", candidates[ci].name);
        printf("\n|---|---|---|");
        for (int ci = 0; ci < N_CAND; ci++)
            if (candidates[ci].ok)
                printf("---:|");
        printf("\n");
        const char *group = NULL;
        for (int si = 0; si <= N_SHAPE; si++) {
            bool end_group = group && (si == N_SHAPE || strcmp(shapes[si].group, group) != 0);
            if (end_group) {
                /* the group: its products' FLOP over the sum of their median times */
                printf("| %s | **all above, once each** | |", group);
                for (int ci = 0; ci < N_CAND; ci++) {
                    if (!candidates[ci].ok)
                        continue;
                    double flop = 0, t = 0;
                    for (int sj = 0; sj < N_SHAPE; sj++)
                        if (shape_on[sj] && strcmp(shapes[sj].group, group) == 0 &&
                            results[ci][sj][mode].done) {
                            flop += 2.0 * shapes[sj].M * shapes[sj].N * shapes[sj].K;
                            t += results[ci][sj][mode].med_s;
                        }
                    if (t > 0 && peak > 0)
                        printf(" **%.0f** (%.0f%%) |", flop / t / 1e9, 100 * flop / t / 1e9 / peak);
                    else if (t > 0)
                        printf(" **%.0f** |", flop / t / 1e9);
                    else
                        printf(" - |");
                }
                printf("\n");
                group = NULL;
            }
            if (si == N_SHAPE || !shape_on[si])
                continue;
            group = shapes[si].group;
            printf("| %s | %s | %s |", shapes[si].group, shapes[si].name,
                   shape_text(buf, sizeof buf, &shapes[si]));
            for (int ci = 0; ci < N_CAND; ci++) {
                if (!candidates[ci].ok)
                    continue;
                const result *r = &results[ci][si][mode];
                printf(" %.0f/%.0f |", r->med, r->best);
            }
            printf("\n");
        }
        printf("\n");
    }

    /* determinism */
    printf("### Same bits? rerun = the same call twice (1t, 2t-band, 2t-lib); vs 1t = the "
           "2-thread results against the 1-thread one\n\n| candidate | rerun 1t | rerun "
           "2t-band | rerun 2t-lib | 2t-band = 1t | 2t-lib = 1t | worst error |\n"
           "|---|---|---|---|---|---|---|\n");
    for (int ci = 0; ci < N_CAND; ci++) {
        if (!candidates[ci].ok)
            continue;
        int total = 0, rerun[N_MODE] = {0}, same[N_MODE] = {0};
        double err = 0;
        for (int si = 0; si < N_SHAPE; si++) {
            if (!shape_on[si])
                continue;
            total++;
            err = max_err[ci][si] > err ? max_err[ci][si] : err;
            for (int mode = 0; mode < N_MODE; mode++) {
                rerun[mode] += results[ci][si][mode].rerun_same;
                same[mode] += same_as_1t[ci][si][mode] == 1;
            }
        }
        printf("| %s | %d/%d | %d/%d | %d/%d | %d/%d | %d/%d | %.1e%s |\n", candidates[ci].name,
               rerun[0], total, rerun[1], total, rerun[2], total, same[1], total, same[2], total,
               err, err > 1e-4 ? " WRONG" : "");
    }
    printf("\n(counts of products whose bits matched, out of the products run; worst error: "
           "the 1-thread result at 256 sampled entries against a sum in double, relative to "
           "the sum of |terms|, over all products)\n");
    f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) == 3)
            printf("load average at the end: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
        fclose(f);
    }
    return 0;
}
