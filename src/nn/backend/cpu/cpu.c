/* The cpu backend (backend.h): OpenMP threads, and products by oneDNN's sgemm (its JIT kernels
 * for the CPU it finds: AVX-512, AVX2 or SSE4.1). The only file in arith that calls oneDNN. Loops are written so that every element is computed
 * in one fixed order by one thread: the same bits for any thread count. */
#include <math.h>
#include <string.h>

#include "nn/backend/backend.h"
#include "nn/backend/threads.h"
#include "nn/fastmath.h"

#include <dnnl.h>

const char *backend_name(void)
{
    return "cpu";
}

/* ----------------------------------------------------------------------------------- memory */

void *tensor_alloc(size_t bytes)
{
    return arith_alloc(bytes); /* 64-byte aligned and zeroed, as TENSOR_ALIGN asks */
}

void tensor_free(void *p)
{
    arith_free(p);
}

/* Above this many floats a zeroing or a copy is split over the threads: the backward zeroes a
 * dozen activation-sized buffers per layer (seed 001: 690 KB each), 3% of a training step's
 * samples on one thread while the other waited. */
#define PAR_MIN_FILL ((size_t)1 << 16)

void tensor_zero(float *x, size_t n)
{
    PAR_RANGE(n, 16, n > PAR_MIN_FILL, memset(x + lo, 0, (hi - lo) * sizeof(float)));
}

void tensor_copy(float *dst, const float *src, size_t n)
{
    PAR_RANGE(n, 16, n > PAR_MIN_FILL, memcpy(dst + lo, src + lo, (hi - lo) * sizeof(float)));
}

void tensor_copy_rows(float *dst, size_t dst_stride, const float *src, size_t src_stride,
                      size_t rows, size_t len)
{
    for (size_t r = 0; r < rows; r++)
        memcpy(dst + r * dst_stride, src + r * src_stride, len * sizeof(float));
}

void tensor_add_rows(float *dst, size_t dst_stride, const float *src, size_t src_stride,
                     size_t rows, size_t len)
{
    for (size_t r = 0; r < rows; r++) {
        float *restrict d = dst + r * dst_stride;
        const float *restrict s = src + r * src_stride;
        for (size_t j = 0; j < len; j++)
            d[j] += s[j];
    }
}

void tensor_row_move(float *base, size_t row_stride, int nseg, size_t seg_stride, size_t len,
                     int dst, int from, bool swap)
{
    for (int s = 0; s < nseg; s++) {
        float *d = base + (size_t)dst * row_stride + (size_t)s * seg_stride;
        float *f = base + (size_t)from * row_stride + (size_t)s * seg_stride;
        if (!swap) {
            memcpy(d, f, len * sizeof(float));
            continue;
        }
        for (size_t i = 0; i < len; i++) {
            float tmp = d[i];
            d[i] = f[i];
            f[i] = tmp;
        }
    }
}

/* ------------------------------------------------------------------------------- arithmetic */

void tensor_scale(float *out, const float *x, float s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = s * x[i];
}

void tensor_axpy(float *y, float a, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

double tensor_dot(double acc, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        acc += (double)a[i] * b[i];
    return acc;
}

double tensor_sum_squares(double acc, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        acc += (double)x[i] * x[i];
    return acc;
}

bool tensor_all_finite(const float *x, size_t n)
{
    int bad = 0;
#pragma omp simd reduction(| : bad)
    for (size_t i = 0; i < n; i++)
        bad |= !isfinite(x[i]);
    return bad == 0;
}

void tensor_clip(float *x, size_t n, float scale, bool clamp, float limit)
{
    for (size_t i = 0; i < n; i++) {
        float y = x[i] * scale;
        if (clamp)
            y = y > limit ? limit : (y < -limit ? -limit : y);
        x[i] = y;
    }
}

int32_t argmax_row(const float *x, int n)
{
    int32_t best = 0;
    for (int v = 1; v < n; v++)
        if (x[v] > x[best])
            best = v;
    return best;
}

void log_softmax_row(double *out, const float *x, int n)
{
    float mx = x[0];
    for (int v = 1; v < n; v++)
        if (x[v] > mx)
            mx = x[v];
    double sum = 0;
    for (int v = 0; v < n; v++)
        sum += exp((double)x[v] - (double)mx);
    const double lse = (double)mx + log(sum);
    for (int v = 0; v < n; v++)
        out[v] = (double)x[v] - lse;
}

/* Adam on [lo, hi): the same float operations in the same order on every path
 * (fastmath.h's dispatch), so each parameter gets the same bits whichever path runs it. */
FAST_INLINE void adam_body(float *w, float *m, float *v, const float *g, float b1, float b2,
                           float eps_f, float wd, float lr_f, float step_size, float bc2_sqrt,
                           bool decoupled, size_t lo, size_t hi)
{
    if (decoupled) {
#pragma omp simd
        for (size_t j = lo; j < hi; j++) {
            const float grad = g[j];
            const float wj = w[j] - lr_f * wd * w[j]; /* AdamW: w *= 1 - lr*wd */
            const float mj = b1 * m[j] + (1.0f - b1) * grad;
            const float vj = b2 * v[j] + (1.0f - b2) * grad * grad;
            m[j] = mj;
            v[j] = vj;
            w[j] = wj - step_size * mj / (sqrtf(vj) / bc2_sqrt + eps_f);
        }
    } else {
#pragma omp simd
        for (size_t j = lo; j < hi; j++) {
            const float grad = g[j] + wd * w[j]; /* Adam: L2 in the gradient */
            const float mj = b1 * m[j] + (1.0f - b1) * grad;
            const float vj = b2 * v[j] + (1.0f - b2) * grad * grad;
            m[j] = mj;
            v[j] = vj;
            w[j] = w[j] - step_size * mj / (sqrtf(vj) / bc2_sqrt + eps_f);
        }
    }
}
FAST_CLONES(adam, (float *w, float *m, float *v, const float *g, float b1, float b2, float eps_f,
                   float wd, float lr_f, float step_size, float bc2_sqrt, bool decoupled,
                   size_t lo, size_t hi),
            (w, m, v, g, b1, b2, eps_f, wd, lr_f, step_size, bc2_sqrt, decoupled, lo, hi))

void adam_update(float *w, float *m, float *v, const float *g, size_t n, double lr, double beta1,
                 double beta2, double eps, double weight_decay, bool decoupled, long long t)
{
    const float b1 = (float)beta1, b2 = (float)beta2, eps_f = (float)eps;
    const float wd = (float)weight_decay;
    /* bias corrections as torch computes them: step size lr / (1 - b1^t), denominator
     * sqrt(v) / sqrt(1 - b2^t) + eps */
    const double bc1 = 1.0 - pow(beta1, (double)t);
    const double bc2 = 1.0 - pow(beta2, (double)t);
    const float step_size = (float)(lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float lr_f = (float)lr;
    void (*kernel)(float *, float *, float *, const float *, float, float, float, float, float,
                   float, float, bool, size_t, size_t) = FAST_PICK(adam);
#pragma omp parallel if (n > 16384)
    {
        /* one band per thread, cut at multiples of 64 parameters */
        const size_t nt = (size_t)omp_get_num_threads(), id = (size_t)omp_get_thread_num();
        const size_t per = ((n + nt - 1) / nt + 63) / 64 * 64;
        const size_t lo = id * per < n ? id * per : n, hi = lo + per < n ? lo + per : n;
        if (hi > lo)
            kernel(w, m, v, g, b1, b2, eps_f, wd, lr_f, step_size, bc2_sqrt, decoupled, lo, hi);
    }
}

/* --------------------------------------------------------------------------------- products */

/* Below this many multiply-adds a product stays on one thread. */
#define MAT_MUL_PAR_MIN (1L << 17)

const char *backend_isa(void)
{
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse4.1";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2";
    case dnnl_cpu_isa_avx512_core: return "avx512";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512";
    default: return "generic";
    }
}

/* Rows m0..m1 of a product oneDNN refuses (K == 0; it also checks the sizes and leading
 * dimensions, which we derive, so that is a guard, not a path we expect): plain loops, sums in
 * float in order. */
static void mat_mul_plain(float *out, const float *a, const float *b, int M, int N, int K,
                          bool trans_a, bool trans_b, float alpha, float beta, int m0, int m1)
{
    for (int i = m0; i < m1; i++)
        for (int j = 0; j < N; j++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++)
                acc += (trans_a ? a[(size_t)k * M + i] : a[(size_t)i * K + k]) *
                       (trans_b ? b[(size_t)j * K + k] : b[(size_t)k * N + j]);
            float *o = &out[(size_t)i * N + j];
            *o = alpha * acc + (beta == 0.0f ? 0.0f : beta * *o);
        }
}

/* Rows m0..m1 of the product on the calling thread. oneDNN's sgemm divides a product among
 * omp_get_max_threads() threads unless it is called inside a parallel region; outside one, the
 * count is set to 1 around the call (a per-thread setting, restored after). */
static void mat_mul_rows(float *out, const float *a, const float *b, int M, int N, int K,
                         bool trans_a, bool trans_b, float alpha, float beta, int m0, int m1)
{
    if (m1 <= m0 || N <= 0)
        return;
    const int lda = trans_a ? M : K, ldb = trans_b ? K : N;
    const float *a0 = trans_a ? a + m0 : a + (size_t)m0 * K;
    float *out0 = out + (size_t)m0 * N;
    const bool outside = !omp_in_parallel();
    const int saved = outside ? omp_get_max_threads() : 1;
    if (outside && saved != 1)
        omp_set_num_threads(1);
    dnnl_status_t st = K > 0 ? dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m1 - m0, N,
                                          K, alpha, a0, lda, b, ldb, beta, out0, N)
                             : dnnl_invalid_arguments;
    if (outside && saved != 1)
        omp_set_num_threads(saved);
    if (st != dnnl_success)
        mat_mul_plain(out, a, b, M, N, K, trans_a, trans_b, alpha, beta, m0, m1);
}

void mat_mul_serial(float *out, const float *a, const float *b, int M, int N, int K,
                    bool trans_a, bool trans_b, float alpha, float beta)
{
    mat_mul_rows(out, a, b, M, N, K, trans_a, trans_b, alpha, beta, 0, M);
}

typedef struct {
    float *out;
    const float *a, *b;
    int M, N, K;
    bool trans_a, trans_b;
    float alpha, beta;
} mat_mul_job;

static void mat_mul_band(void *ctx, int m0, int m1)
{
    const mat_mul_job *j = ctx;
    mat_mul_rows(j->out, j->a, j->b, j->M, j->N, j->K, j->trans_a, j->trans_b, j->alpha, j->beta,
                 m0, m1);
}

bool mat_mul_splits(int M, int N, int K)
{
    return (long)M * N * K >= MAT_MUL_PAR_MIN && core_threads() > 1 && M >= 16 * core_threads();
}

void mat_mul(float *out, const float *a, const float *b, int M, int N, int K, bool trans_a,
             bool trans_b, float alpha, float beta)
{
    if ((long)M * N * K < MAT_MUL_PAR_MIN) {
        mat_mul_rows(out, a, b, M, N, K, trans_a, trans_b, alpha, beta, 0, M);
        return;
    }
    /* Each thread takes a band of output rows (multiples of 8, at least 16 rows each) and runs
     * the single-threaded kernel on it. Our matrices are small (a few hundred rows and
     * columns), where a library's own threading splits poorly; and every output element is
     * computed by one thread in one fixed order, so the bits do not change from run to run. */
    mat_mul_job job = {out, a, b, M, N, K, trans_a, trans_b, alpha, beta};
    run_row_bands(M, 16, mat_mul_band, &job);
}

void run_row_bands(int n, int min_rows, void (*fn)(void *ctx, int r0, int r1), void *ctx)
{
    const int threads = core_threads();
    if (threads <= 1 || n < min_rows * threads || omp_in_parallel()) {
        fn(ctx, 0, n);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        const int id = omp_get_thread_num(), nt = omp_get_num_threads();
        const int rows = (n + nt - 1) / nt, band = (rows + 7) / 8 * 8;
        const int r0 = id * band < n ? id * band : n;
        const int r1 = r0 + band < n ? r0 + band : n;
        if (r1 > r0)
            fn(ctx, r0, r1);
    }
}
