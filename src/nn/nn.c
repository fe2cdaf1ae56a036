/* nn: embeddings, linear, layernorm, activations, dropout, rope and the loss (attention lives in
 * attention.c). Row loops run in parallel; sums over rows run over column blocks, each block
 * adding its rows in a fixed order, so results never depend on the thread count. */
#include "nn/nn.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "core/core.h"
#include "nn/fastmath.h"

/* `omp simd` asks for vectorization of loops whose length is known only at run time (at -O2
 * the compiler leaves them scalar); where it cannot (sanitizer builds) clang would warn. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

/* Elementwise loops below this many elements stay on one thread: forking costs more. */
#define PAR_MIN_CHEAP ((size_t)1 << 15)
#define PAR_MIN_COSTLY ((size_t)1 << 12)
/* Columns per block in the column-parallel sums: 16 floats, one cache line. */
#define COL_BLOCK 16

/* dst[c] += scale * sum_n src[n][c], summing rows in order for every column. */
static void column_sums_add(float *dst, const float *src, int N, int C, float scale)
{
    const int nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static) if ((size_t)N * C > PAR_MIN_CHEAP)
    for (int cb = 0; cb < nblocks; cb++) {
        const int c0 = cb * COL_BLOCK, nc = C - c0 < COL_BLOCK ? C - c0 : COL_BLOCK;
        float acc[COL_BLOCK] = {0};
        for (int n = 0; n < N; n++) {
            const float *row = src + (size_t)n * C + c0;
#pragma omp simd
            for (int c = 0; c < nc; c++)
                acc[c] += row[c];
        }
        for (int c = 0; c < nc; c++)
            dst[c0 + c] += scale * acc[c];
    }
}

/* dst[rows[n]] += scale * src[n] for every n; parallel over column blocks so that two rows
 * scattering into the same destination row never race. */
static void rows_scatter_add(float *dst, const float *src, const int32_t *rows, int N, int C,
                             float scale)
{
    const int nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static) if ((size_t)N * C > PAR_MIN_CHEAP)
    for (int cb = 0; cb < nblocks; cb++) {
        const int c0 = cb * COL_BLOCK, nc = C - c0 < COL_BLOCK ? C - c0 : COL_BLOCK;
        for (int n = 0; n < N; n++) {
            float *d = dst + (size_t)rows[n] * C + c0;
            const float *s = src + (size_t)n * C + c0;
#pragma omp simd
            for (int c = 0; c < nc; c++)
                d[c] += scale * s[c];
        }
    }
}

/* ----------------------------------------------------------------------------- embeddings */

void embedding_forward(float *out, const int32_t *ids, const float *wte, int N, int C, float scale)
{
#pragma omp parallel for schedule(static) if ((size_t)N * C > PAR_MIN_CHEAP)
    for (int n = 0; n < N; n++) {
        const float *e = wte + (size_t)ids[n] * C;
        float *o = out + (size_t)n * C;
        for (int c = 0; c < C; c++)
            o[c] = scale * e[c];
    }
}

void onehot_forward(float *out, const int32_t *ids, int N, int V)
{
    memset(out, 0, (size_t)N * V * sizeof(float));
    for (int n = 0; n < N; n++)
        out[(size_t)n * V + ids[n]] = 1.0f;
}

void embedding_backward(float *dwte, const float *dout, const int32_t *ids, int N, int C,
                        float scale)
{
    if (dwte)
        rows_scatter_add(dwte, dout, ids, N, C, scale);
}

void sinusoidal_table(float *pe, int T, int C)
{
    for (int t = 0; t < T; t++) {
        for (int c = 0; c < C; c += 2) {
            /* angle = t * 10000^(-c/C), c = 2i */
            double angle = (double)t * exp(-(double)c * log(10000.0) / (double)C);
            pe[(size_t)t * C + c] = (float)sin(angle);
            if (c + 1 < C)
                pe[(size_t)t * C + c + 1] = (float)cos(angle);
        }
    }
}

void positional_add_forward(float *x, const float *table, const int32_t *pos, int N, int C)
{
#pragma omp parallel for schedule(static) if ((size_t)N * C > PAR_MIN_CHEAP)
    for (int n = 0; n < N; n++) {
        const float *p = table + (size_t)pos[n] * C;
        float *o = x + (size_t)n * C;
        for (int c = 0; c < C; c++)
            o[c] += p[c];
    }
}

void positional_add_backward(float *dtable, const float *dx, const int32_t *pos, int N, int C)
{
    if (dtable)
        rows_scatter_add(dtable, dx, pos, N, C, 1.0f);
}

/* --------------------------------------------------------------------------------- linear */

/* Both layouts of a dense layer: w is (O,I) for linear (torch's nn.Linear), (I,O) for conv1d
 * (GPT-2's Conv1D, out = inp @ w). */
static void dense_forward(float *out, const float *inp, const float *w, const float *b, int N,
                          int I, int O, bool w_in_out)
{
    if (N <= 0 || O <= 0)
        return;
    if (I <= 0)
        memset(out, 0, (size_t)N * O * sizeof(float));
    else /* out(N,O) = inp(N,I) @ op(w) */
        mat_mul(out, inp, w, N, O, I, false, !w_in_out, 1.0f, 0.0f);
    if (!b)
        return;
#pragma omp parallel for schedule(static) if ((size_t)N * O > PAR_MIN_CHEAP)
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * O;
        for (int j = 0; j < O; j++)
            o[j] += b[j];
    }
}

static void dense_backward(float *dinp, float *dw, float *db, const float *dout,
                           const float *inp, const float *w, int N, int I, int O, bool w_in_out)
{
    if (N <= 0 || O <= 0)
        return;
    if (dinp && I > 0) /* dinp(N,I) += dout(N,O) @ op(w)^T */
        mat_mul(dinp, dout, w, N, I, O, false, w_in_out, 1.0f, 1.0f);
    if (dw && I > 0) {
        if (w_in_out) /* dw(I,O) += inp^T(I,N) @ dout(N,O) */
            mat_mul(dw, inp, dout, I, O, N, true, false, 1.0f, 1.0f);
        else          /* dw(O,I) += dout^T(O,N) @ inp(N,I) */
            mat_mul(dw, dout, inp, O, I, N, true, false, 1.0f, 1.0f);
    }
    if (db)
        column_sums_add(db, dout, N, O, 1.0f);
}

void linear_forward(float *out, const float *inp, const float *w, const float *b, int N, int I,
                    int O)
{
    dense_forward(out, inp, w, b, N, I, O, false);
}

void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int N, int I, int O)
{
    dense_backward(dinp, dw, db, dout, inp, w, N, I, O, false);
}

void conv1d_forward(float *out, const float *inp, const float *w, const float *b, int N, int I,
                    int O)
{
    dense_forward(out, inp, w, b, N, I, O, true);
}

void conv1d_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int N, int I, int O)
{
    dense_backward(dinp, dw, db, dout, inp, w, N, I, O, true);
}

/* ------------------------------------------------------------------------------ layernorm */

/* Sums along a row use LANES interleaved partial sums, which vectorize where one running sum
 * would wait on every add; the partial sums are then added in a fixed order. */
#define LANES 8

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                       const float *b, int N, int C)
{
    const int Cv = C / LANES * LANES;
#pragma omp parallel for schedule(static) if ((size_t)N * C > PAR_MIN_CHEAP)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        float acc[LANES] = {0};
        for (int c = 0; c < Cv; c += LANES)
            for (int u = 0; u < LANES; u++)
                acc[u] += x[c + u];
        float sum = 0.0f;
        for (int u = 0; u < LANES; u++)
            sum += acc[u];
        for (int c = Cv; c < C; c++)
            sum += x[c];
        const float m = sum / (float)C;
        /* var = mean((x - m)^2), two passes for accuracy */
        for (int u = 0; u < LANES; u++)
            acc[u] = 0.0f;
        for (int c = 0; c < Cv; c += LANES)
            for (int u = 0; u < LANES; u++)
                acc[u] += (x[c + u] - m) * (x[c + u] - m);
        float var = 0.0f;
        for (int u = 0; u < LANES; u++)
            var += acc[u];
        for (int c = Cv; c < C; c++)
            var += (x[c] - m) * (x[c] - m);
        const float s = 1.0f / sqrtf(var / (float)C + LAYERNORM_EPS);
#pragma omp simd
        for (int c = 0; c < C; c++)
            o[c] = (x[c] - m) * s * w[c] + b[c];
        mean[n] = m;
        rstd[n] = s;
    }
}

void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, const float *mean, const float *rstd, int N, int C)
{
    const int Cv = C / LANES * LANES;
    if (dinp) {
#pragma omp parallel for schedule(static) if ((size_t)N * C > PAR_MIN_CHEAP)
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
            float *dx = dinp + (size_t)n * C;
            const float m = mean[n], s = rstd[n];
            /* sums of g = dy*w and of g*xhat */
            float acc_g[LANES] = {0}, acc_gx[LANES] = {0};
            for (int c = 0; c < Cv; c += LANES)
                for (int u = 0; u < LANES; u++) {
                    float g = dy[c + u] * w[c + u];
                    acc_g[u] += g;
                    acc_gx[u] += g * ((x[c + u] - m) * s);
                }
            float sum_g = 0.0f, sum_gx = 0.0f;
            for (int u = 0; u < LANES; u++) {
                sum_g += acc_g[u];
                sum_gx += acc_gx[u];
            }
            for (int c = Cv; c < C; c++) {
                float g = dy[c] * w[c];
                sum_g += g;
                sum_gx += g * ((x[c] - m) * s);
            }
            const float mean_g = sum_g / (float)C, mean_gx = sum_gx / (float)C;
            /* dx = rstd * (dy*w - mean(dy*w) - xhat*mean(dy*w*xhat)) */
#pragma omp simd
            for (int c = 0; c < C; c++) {
                float xhat = (x[c] - m) * s;
                dx[c] += s * (dy[c] * w[c] - mean_g - xhat * mean_gx);
            }
        }
    }
    if (!dw && !db)
        return;
    /* dw = sum_n dy*xhat, db = sum_n dy, per column block */
    const int nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static) if ((size_t)N * C > PAR_MIN_CHEAP)
    for (int cb = 0; cb < nblocks; cb++) {
        const int c0 = cb * COL_BLOCK, nc = C - c0 < COL_BLOCK ? C - c0 : COL_BLOCK;
        float acc_w[COL_BLOCK] = {0}, acc_b[COL_BLOCK] = {0};
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C + c0, *dy = dout + (size_t)n * C + c0;
            const float m = mean[n], s = rstd[n];
#pragma omp simd
            for (int c = 0; c < nc; c++) {
                acc_w[c] += dy[c] * ((x[c] - m) * s);
                acc_b[c] += dy[c];
            }
        }
        for (int c = 0; c < nc; c++) {
            if (dw)
                dw[c0 + c] += acc_w[c];
            if (db)
                db[c0 + c] += acc_b[c];
        }
    }
}

/* ---------------------------------------------------------------------------- activations */

void relu_forward(float *out, const float *inp, size_t n)
{
#pragma omp parallel for schedule(static) if (n > PAR_MIN_CHEAP)
    for (size_t i = 0; i < n; i++)
        out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void relu_backward(float *dinp, const float *dout, const float *inp, size_t n)
{
#pragma omp parallel for schedule(static) if (n > PAR_MIN_CHEAP)
    for (size_t i = 0; i < n; i++)
        dinp[i] += inp[i] > 0.0f ? dout[i] : 0.0f;
}

void relu_backward_inplace(float *d, const float *inp, size_t n)
{
#pragma omp parallel for schedule(static) if (n > PAR_MIN_CHEAP)
    for (size_t i = 0; i < n; i++)
        d[i] = inp[i] > 0.0f ? d[i] : 0.0f;
}

#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f
#define SQRT_2_OVER_PI 0.79788456080286536f
#define GELU_TANH_K 0.044715f

void gelu_forward(float *out, const float *inp, size_t n)
{
#pragma omp parallel for schedule(static) if (n > PAR_MIN_COSTLY)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + erff(x * INV_SQRT2));
    }
}

void gelu_backward(float *dinp, const float *dout, const float *inp, size_t n)
{
#pragma omp parallel for schedule(static) if (n > PAR_MIN_COSTLY)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        /* d/dx x*Phi(x) = Phi(x) + x*phi(x) */
        float cdf = 0.5f * (1.0f + erff(x * INV_SQRT2));
        float pdf = INV_SQRT_2PI * expf(-0.5f * x * x);
        dinp[i] += dout[i] * (cdf + x * pdf);
    }
}

/* GELU-tanh over a band of elements; tanh from fastmath.h so that the loops vectorize (GPT-2
 * spends a sizeable share of its step here with libm's tanhf). */
FAST_INLINE void gelu_tanh_forward_body(float *out, const float *inp, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = SQRT_2_OVER_PI * (x + GELU_TANH_K * x * x * x);
        out[i] = 0.5f * x * (1.0f + fast_tanh(u));
    }
}

FAST_INLINE void gelu_tanh_backward_body(float *dinp, const float *dout, const float *inp,
                                         size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = SQRT_2_OVER_PI * (x + GELU_TANH_K * x * x * x);
        float th = fast_tanh(u);
        /* dy/dx = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) du/dx */
        float du = SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_TANH_K * x * x);
        dinp[i] += dout[i] * (0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du);
    }
}

static void gelu_tanh_forward_generic(float *out, const float *inp, size_t n)
{
    gelu_tanh_forward_body(out, inp, n);
}
static void gelu_tanh_backward_generic(float *dinp, const float *dout, const float *inp, size_t n)
{
    gelu_tanh_backward_body(dinp, dout, inp, n);
}
#if FAST_X86_DISPATCH
FAST_AVX2 static void gelu_tanh_forward_avx2(float *out, const float *inp, size_t n)
{
    gelu_tanh_forward_body(out, inp, n);
}
FAST_AVX2 static void gelu_tanh_backward_avx2(float *dinp, const float *dout, const float *inp,
                                              size_t n)
{
    gelu_tanh_backward_body(dinp, dout, inp, n);
}
#endif

/* Bands of GELU_BAND elements per task, so that each thread runs a vectorized kernel. */
#define GELU_BAND 4096

void gelu_tanh_forward(float *out, const float *inp, size_t n)
{
    void (*kernel)(float *, const float *, size_t) = gelu_tanh_forward_generic;
#if FAST_X86_DISPATCH
    if (fast_has_avx2())
        kernel = gelu_tanh_forward_avx2;
#endif
    const long bands = (long)((n + GELU_BAND - 1) / GELU_BAND);
#pragma omp parallel for schedule(static) if (n > PAR_MIN_COSTLY)
    for (long k = 0; k < bands; k++) {
        size_t at = (size_t)k * GELU_BAND, len = n - at < GELU_BAND ? n - at : GELU_BAND;
        kernel(out + at, inp + at, len);
    }
}

void gelu_tanh_backward(float *dinp, const float *dout, const float *inp, size_t n)
{
    void (*kernel)(float *, const float *, const float *, size_t) = gelu_tanh_backward_generic;
#if FAST_X86_DISPATCH
    if (fast_has_avx2())
        kernel = gelu_tanh_backward_avx2;
#endif
    const long bands = (long)((n + GELU_BAND - 1) / GELU_BAND);
#pragma omp parallel for schedule(static) if (n > PAR_MIN_COSTLY)
    for (long k = 0; k < bands; k++) {
        size_t at = (size_t)k * GELU_BAND, len = n - at < GELU_BAND ? n - at : GELU_BAND;
        kernel(dinp + at, dout + at, inp + at, len);
    }
}

void add_forward(float *out, const float *a, const float *b, size_t n)
{
#pragma omp parallel for schedule(static) if (n > PAR_MIN_CHEAP)
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

/* -------------------------------------------------------------------------------- dropout */

/* Element i survives when its 16-bit draw, bits [16*(i%4), 16*(i%4)+16) of
 * rng_hash(seed, i/4), is >= ceil(p * 65536): one hash serves four elements. */
static inline uint32_t dropout_threshold(float p)
{
    return (uint32_t)ceil((double)p * 65536.0);
}

void dropout_forward(float *out, uint8_t *mask, const float *inp, size_t n, float p,
                     uint64_t seed)
{
    if (p <= 0.0f) {
        if (out != inp)
            memmove(out, inp, n * sizeof(float));
        if (mask)
            memset(mask, 1, n);
        return;
    }
    const float scale = 1.0f / (1.0f - p);
    const uint32_t threshold = dropout_threshold(p);
    const size_t groups = (n + 3) / 4;
#pragma omp parallel for schedule(static) if (n > PAR_MIN_COSTLY)
    for (size_t g = 0; g < groups; g++) {
        const uint64_t bits = rng_hash(seed, (uint64_t)g);
        const size_t end = 4 * g + 4 < n ? 4 * g + 4 : n;
        for (size_t i = 4 * g, k = 0; i < end; i++, k++) {
            const bool keep = ((bits >> (16 * k)) & 0xffffu) >= threshold;
            out[i] = keep ? inp[i] * scale : 0.0f;
            if (mask)
                mask[i] = keep;
        }
    }
}

void dropout_backward(float *dinp, const float *dout, const uint8_t *mask, size_t n, float p,
                      uint64_t seed)
{
    if (p <= 0.0f) {
        add_forward(dinp, dinp, dout, n);
        return;
    }
    const float scale = 1.0f / (1.0f - p);
    if (mask) {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN_CHEAP)
        for (size_t i = 0; i < n; i++)
            dinp[i] += mask[i] ? dout[i] * scale : 0.0f;
        return;
    }
    const uint32_t threshold = dropout_threshold(p);
    const size_t groups = (n + 3) / 4;
#pragma omp parallel for schedule(static) if (n > PAR_MIN_COSTLY)
    for (size_t g = 0; g < groups; g++) {
        const uint64_t bits = rng_hash(seed, (uint64_t)g);
        const size_t end = 4 * g + 4 < n ? 4 * g + 4 : n;
        for (size_t i = 4 * g, k = 0; i < end; i++, k++)
            if (((bits >> (16 * k)) & 0xffffu) >= threshold)
                dinp[i] += dout[i] * scale;
    }
}

/* ----------------------------------------------------------------------------------- rope */

void rope_tables(float *cos_tab, float *sin_tab, int Tmax, int hd, float base)
{
    const int half = hd / 2;
    for (int t = 0; t < Tmax; t++) {
        for (int i = 0; i < half; i++) {
            double angle = (double)t * pow((double)base, -2.0 * i / (double)hd);
            cos_tab[(size_t)t * half + i] = (float)cos(angle);
            sin_tab[(size_t)t * half + i] = (float)sin(angle);
        }
    }
}

/* Rotates the q and k parts of N rows of qkv by +angle (dir = 1) or -angle (dir = -1). */
static void rope_rotate(float *qkv, const int32_t *pos, const float *cos_tab,
                        const float *sin_tab, int N, int C, int H, float dir)
{
    const int hd = C / H, half = hd / 2;
#pragma omp parallel for schedule(static) if ((size_t)N * C > PAR_MIN_CHEAP)
    for (int n = 0; n < N; n++) {
        const float *cs = cos_tab + (size_t)pos[n] * half;
        const float *sn = sin_tab + (size_t)pos[n] * half;
        float *row = qkv + (size_t)n * 3 * C;
        /* q and k parts: 2H heads side by side */
        for (int h = 0; h < 2 * H; h++) {
            float *x = row + (size_t)h * hd;
            for (int i = 0; i < half; i++) {
                float a = x[i], b = x[i + half], c = cs[i], s = dir * sn[i];
                /* (a, b) -> (a cos - b sin, a sin + b cos) */
                x[i] = a * c - b * s;
                x[i + half] = a * s + b * c;
            }
        }
    }
}

void rope_forward(float *qkv, const int32_t *pos, const float *cos_tab, const float *sin_tab,
                  int N, int C, int H)
{
    rope_rotate(qkv, pos, cos_tab, sin_tab, N, C, H, 1.0f);
}

void rope_backward(float *dqkv, const int32_t *pos, const float *cos_tab, const float *sin_tab,
                   int N, int C, int H)
{
    /* The transpose of a rotation is the rotation by the opposite angle. */
    rope_rotate(dqkv, pos, cos_tab, sin_tab, N, C, H, -1.0f);
}

/* ----------------------------------------------------------------------------------- loss */

/* Rows are summed in a fixed number of chunks, then the chunks in order: the loss is the same
 * whatever the thread count. */
#define CE_CHUNKS 64

double crossentropy_forward(float *probs, const float *logits, const int32_t *targets, int N,
                            int V, int *count)
{
    double chunk_loss[CE_CHUNKS] = {0};
    int chunk_count[CE_CHUNKS] = {0};
    const int rows_per_chunk = (N + CE_CHUNKS - 1) / CE_CHUNKS;
#pragma omp parallel for schedule(static) if ((size_t)N * V > PAR_MIN_COSTLY)
    for (int ch = 0; ch < CE_CHUNKS; ch++) {
        const int n0 = ch * rows_per_chunk;
        const int n1 = n0 + rows_per_chunk < N ? n0 + rows_per_chunk : N;
        double loss = 0.0;
        int counted = 0;
        for (int n = n0; n < n1; n++) {
            if (targets[n] < 0)
                continue;
            const float *x = logits + (size_t)n * V;
            float *pr = probs + (size_t)n * V;
            float mx = x[0];
            for (int v = 1; v < V; v++)
                mx = x[v] > mx ? x[v] : mx;
            double sum = 0.0;
            for (int v = 0; v < V; v++) {
                float e = expf(x[v] - mx);
                pr[v] = e;
                sum += e;
            }
            const float inv = (float)(1.0 / sum);
            for (int v = 0; v < V; v++)
                pr[v] *= inv;
            /* -log softmax[target] = log(sum exp(x - max)) + max - x[target] */
            loss += log(sum) + (double)mx - (double)x[targets[n]];
            counted++;
        }
        chunk_loss[ch] = loss;
        chunk_count[ch] = counted;
    }
    double total = 0.0;
    int counted = 0;
    for (int ch = 0; ch < CE_CHUNKS; ch++) {
        total += chunk_loss[ch];
        counted += chunk_count[ch];
    }
    if (count)
        *count = counted;
    return total;
}

void crossentropy_backward(float *dlogits, const float *probs, const int32_t *targets, int N,
                           int V, float scale)
{
#pragma omp parallel for schedule(static) if ((size_t)N * V > PAR_MIN_CHEAP)
    for (int n = 0; n < N; n++) {
        if (targets[n] < 0)
            continue;
        const float *pr = probs + (size_t)n * V;
        float *d = dlogits + (size_t)n * V;
        /* dlogits = scale * (probs - onehot(target)) */
        for (int v = 0; v < V; v++)
            d[v] += scale * pr[v];
        d[targets[n]] -= scale;
    }
}
