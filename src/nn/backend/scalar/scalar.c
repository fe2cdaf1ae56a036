/* The scalar backend (backend.h): plain loops, no OpenMP, no BLAS. Portable and slow; the
 * oracle the other backends are checked against. Every op but the products is the cpu
 * backend's arithmetic in the same order, so the two builds differ only in the products'
 * rounding (and in nn's threads, which change no bits). */
#include <math.h>

#include "nn/backend/backend.h"

const char *backend_name(void)
{
    return "scalar";
}

const char *backend_isa(void)
{
    return "generic";
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

void tensor_zero(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = 0.0f;
}

void tensor_copy(float *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i];
}

void tensor_copy_rows(float *dst, size_t dst_stride, const float *src, size_t src_stride,
                      size_t rows, size_t len)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < len; j++)
            dst[r * dst_stride + j] = src[r * src_stride + j];
}

void tensor_add_rows(float *dst, size_t dst_stride, const float *src, size_t src_stride,
                     size_t rows, size_t len)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < len; j++)
            dst[r * dst_stride + j] += src[r * src_stride + j];
}

void tensor_row_move(float *base, size_t row_stride, int nseg, size_t seg_stride, size_t len,
                     int dst, int from, bool swap)
{
    for (int s = 0; s < nseg; s++) {
        float *d = base + (size_t)dst * row_stride + (size_t)s * seg_stride;
        float *f = base + (size_t)from * row_stride + (size_t)s * seg_stride;
        for (size_t i = 0; i < len; i++) {
            float tmp = d[i];
            d[i] = f[i];
            if (swap)
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
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return false;
    return true;
}

void tensor_clip(float *x, size_t n, float scale, bool clamp, float limit)
{
    for (size_t i = 0; i < n; i++) {
        float y = x[i] * scale;
        if (clamp && y > limit)
            y = limit;
        else if (clamp && y < -limit)
            y = -limit;
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

void adam_update(float *w, float *m, float *v, const float *g, size_t n, double lr, double beta1,
                 double beta2, double eps, double weight_decay, bool decoupled, long long t)
{
    const float b1 = (float)beta1, b2 = (float)beta2, eps_f = (float)eps;
    const float wd = (float)weight_decay, lr_f = (float)lr;
    const float step_size = (float)(lr / (1.0 - pow(beta1, (double)t)));
    const float bc2_sqrt = (float)sqrt(1.0 - pow(beta2, (double)t));
    for (size_t j = 0; j < n; j++) {
        float grad = g[j];
        if (decoupled)
            w[j] -= lr_f * wd * w[j];
        else
            grad += wd * w[j];
        m[j] = b1 * m[j] + (1.0f - b1) * grad;
        v[j] = b2 * v[j] + (1.0f - b2) * grad * grad;
        w[j] -= step_size * m[j] / (sqrtf(v[j]) / bc2_sqrt + eps_f);
    }
}

/* --------------------------------------------------------------------------------- products */

void mat_mul_serial(float *out, const float *a, const float *b, int M, int N, int K,
                    bool trans_a, bool trans_b, float alpha, float beta)
{
    /* a(i,k) = a[i*ai + k*ak], b(k,j) = b[k*bk + j*bj], whichever is transposed */
    const size_t ai = trans_a ? 1 : (size_t)K, ak = trans_a ? (size_t)M : 1;
    const size_t bk = trans_b ? 1 : (size_t)N, bj = trans_b ? (size_t)K : 1;
    for (int i = 0; i < M; i++) {
        float *o = out + (size_t)i * N;
        for (int j = 0; j < N; j++) /* beta == 0 never reads out, as BLAS */
            o[j] = beta == 0.0f ? 0.0f : beta * o[j];
        /* row i of out += alpha a(i,k) times row k of b, k in order: no sum is carried from
         * one iteration to the next, so the loops run at the machine's throughput */
        for (int k = 0; k < K; k++) {
            const float x = alpha * a[(size_t)i * ai + (size_t)k * ak];
            const float *bk_row = b + (size_t)k * bk;
            for (int j = 0; j < N; j++)
                o[j] += x * bk_row[(size_t)j * bj];
        }
    }
}

void mat_mul(float *out, const float *a, const float *b, int M, int N, int K, bool trans_a,
             bool trans_b, float alpha, float beta)
{
    mat_mul_serial(out, a, b, M, N, K, trans_a, trans_b, alpha, beta);
}

void run_row_bands(int n, int min_rows, void (*fn)(void *ctx, int r0, int r1), void *ctx)
{
    (void)min_rows;
    fn(ctx, 0, n);
}

bool mat_mul_splits(int M, int N, int K)
{
    (void)M, (void)N, (void)K;
    return false; /* one thread */
}
