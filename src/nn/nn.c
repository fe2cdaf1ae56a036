/* nn: embeddings, linear, layernorm, activations, dropout, rope and the loss (attention lives in
 * attention.c). Row loops run in parallel; sums over rows run over column blocks, each block
 * adding its rows in a fixed order, so results never depend on the thread count. */
#include "nn/nn.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "core/core.h"
#include "nn/backend/threads.h"
#include "nn/fastmath.h"

/* `omp simd` asks for vectorization of loops whose length is known only at run time (at -O2
 * the compiler leaves them scalar); where it cannot (sanitizer builds) clang would warn. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

/* Elementwise loops below this many elements stay on one thread: forking costs more. */
#define PAR_MIN_CHEAP ((size_t)1 << 15)
#define PAR_MIN_COSTLY ((size_t)1 << 12)
/* A region's if clause: worth it, and not inside a region already (where a nested one would
 * run on this thread alone, at the cost of a team of one). */
#define PAR_IF(worth) ((worth) && !omp_in_parallel())
/* Columns per block in the column-parallel sums: 16 floats, one cache line. */
#define COL_BLOCK 16

/* Element-wise kernels run on bands: each thread of a region takes one contiguous band of
 * [0, n), cut at multiples of BAND_ALIGN elements, and runs the dispatched kernel on it. Every
 * element is computed the same way whichever thread takes it. */
#define BAND_ALIGN ((size_t)64)

/* This thread's share [*lo, *hi) of [0, n), cut at multiples of `align`. */
static void split_of(size_t n, size_t align, size_t *lo, size_t *hi)
{
    par_split(n, align, lo, hi);
}

static void band_of(size_t n, size_t *lo, size_t *hi)
{
    split_of(n, BAND_ALIGN, lo, hi);
}

/* dst[c] += scale * sum_n src[n][c] for the columns of blocks [cb0, cb1), summing rows in
 * order for every column (so every path, and every thread count, gives the same bits). */
FAST_INLINE void column_sums_add_body(float *dst, const float *src, int N, int C, float scale,
                                      int cb0, int cb1)
{
    for (int cb = cb0; cb < cb1; cb++) {
        const int c0 = cb * COL_BLOCK, nc = C - c0 < COL_BLOCK ? C - c0 : COL_BLOCK;
        float acc[COL_BLOCK] = {0};
        if (nc == COL_BLOCK) { /* a whole block: one 512-bit register of sums */
            for (int n = 0; n < N; n++) {
                const float *row = src + (size_t)n * C + c0;
#pragma omp simd
                for (int c = 0; c < COL_BLOCK; c++)
                    acc[c] += row[c];
            }
        } else {
            for (int n = 0; n < N; n++) {
                const float *row = src + (size_t)n * C + c0;
#pragma omp simd
                for (int c = 0; c < nc; c++)
                    acc[c] += row[c];
            }
        }
        for (int c = 0; c < nc; c++)
            dst[c0 + c] += scale * acc[c];
    }
}
FAST_CLONES(column_sums_add,
            (float *dst, const float *src, int N, int C, float scale, int cb0, int cb1),
            (dst, src, N, C, scale, cb0, cb1))

/* dst[c] += scale * sum_n src[n][c], summing rows in order for every column. */
static void column_sums_add(float *dst, const float *src, int N, int C, float scale)
{
    void (*kernel)(float *, const float *, int, int, float, int, int) =
        FAST_PICK(column_sums_add);
    const int nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel if (PAR_IF((size_t)N * C > PAR_MIN_CHEAP && nblocks > 1))
    {
        size_t lo, hi;
        split_of((size_t)nblocks, 1, &lo, &hi);
        if (hi > lo)
            kernel(dst, src, N, C, scale, (int)lo, (int)hi);
    }
}

/* dst[rows[n]] += scale * src[n] for every n; parallel over column blocks so that two rows
 * scattering into the same destination row never race. */
static void rows_scatter_add(float *dst, const float *src, const int32_t *rows, int N, int C,
                             float scale)
{
    const int nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static) if (PAR_IF((size_t)N * C > PAR_MIN_CHEAP))
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
    PAR_RANGE((size_t)N, 1, (size_t)N * C > PAR_MIN_CHEAP, for (size_t n = lo; n < hi; n++) {
        const float *e = wte + (size_t)ids[n] * C;
        float *o = out + n * C;
        for (int c = 0; c < C; c++)
            o[c] = scale * e[c];
    });
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
    PAR_RANGE((size_t)N, 1, (size_t)N * C > PAR_MIN_CHEAP, for (size_t n = lo; n < hi; n++) {
        const float *p = table + (size_t)pos[n] * C;
        float *o = x + n * C;
        for (int c = 0; c < C; c++)
            o[c] += p[c];
    });
}

void positional_add_backward(float *dtable, const float *dx, const int32_t *pos, int N, int C)
{
    if (dtable)
        rows_scatter_add(dtable, dx, pos, N, C, 1.0f);
}

/* --------------------------------------------------------------------------------- linear */

/* out[n][j] += b[j] for rows [n0, n1) of (N, O). */
FAST_INLINE void bias_add_body(float *out, const float *b, int O, size_t n0, size_t n1)
{
    for (size_t n = n0; n < n1; n++) {
        float *o = out + n * (size_t)O;
#pragma omp simd
        for (int j = 0; j < O; j++)
            o[j] += b[j];
    }
}
FAST_CLONES(bias_add, (float *out, const float *b, int O, size_t n0, size_t n1),
            (out, b, O, n0, n1))

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
    void (*kernel)(float *, const float *, int, size_t, size_t) = FAST_PICK(bias_add);
    PAR_RANGE((size_t)N, 1, (size_t)N * O > PAR_MIN_CHEAP, kernel(out, b, O, lo, hi));
}

typedef struct {
    float *out;
    const float *inp, *w, *b;
    int I, O;
    bool w_in_out;
    dense_rows_fn *then;
    void *ctx;
} dense_then_job;

/* Rows [r0, r1): the product, the bias, then the caller's row-wise step, on this thread. */
static void dense_then_band(void *p, int r0, int r1)
{
    const dense_then_job *j = p;
    mat_mul_serial(j->out + (size_t)r0 * j->O, j->inp + (size_t)r0 * j->I, j->w, r1 - r0, j->O,
                   j->I, false, !j->w_in_out, 1.0f, 0.0f);
    if (j->b) {
        void (*kernel)(float *, const float *, int, size_t, size_t) = FAST_PICK(bias_add);
        kernel(j->out, j->b, j->O, (size_t)r0, (size_t)r1);
    }
    if (j->then)
        j->then(j->ctx, r0, r1);
}

static void dense_forward_then(float *out, const float *inp, const float *w, const float *b,
                               int N, int I, int O, bool w_in_out, dense_rows_fn *then,
                               void *ctx)
{
    if (N <= 0)
        return;
    if (O <= 0 || I <= 0 || !mat_mul_splits(N, O, I) || omp_in_parallel()) {
        dense_forward(out, inp, w, b, N, I, O, w_in_out); /* one thread's product */
        if (then)
            then(ctx, 0, N);
        return;
    }
    const dense_then_job job = {out, inp, w, b, I, O, w_in_out, then, ctx};
    run_row_bands(N, 16, dense_then_band, (void *)&job);
}

void linear_forward_then(float *out, const float *inp, const float *w, const float *b, int N,
                         int I, int O, dense_rows_fn *then, void *ctx)
{
    dense_forward_then(out, inp, w, b, N, I, O, false, then, ctx);
}

void conv1d_forward_then(float *out, const float *inp, const float *w, const float *b, int N,
                         int I, int O, dense_rows_fn *then, void *ctx)
{
    dense_forward_then(out, inp, w, b, N, I, O, true, then, ctx);
}

/* The weight gradient dw (+)= X^T(out_rows, N) @ Y(N, cols) sums over the N rows of the batch.
 * A product that reads every row, split by output rows over the threads, leaves each thread
 * reading the rows the other one wrote (the dgrad and the layer before wrote them in row
 * bands): on seed 001 that cost about 1 ms of its 34-ms step. Instead the rows are cut into a
 * fixed number of chunks, each thread takes whole chunks (rows it mostly wrote itself), and the
 * chunks' partial products are added in chunk order: dw = (dw + chunk 0) + chunk 1 + ... The
 * chunks depend on N alone, never on the thread count, so the bits do not either. */
#define WGRAD_CHUNK_ROWS 512          /* rows per chunk at least */
#define WGRAD_MAX_CHUNKS 8
#define WGRAD_MAX_PARTS ((size_t)1 << 20) /* floats of partial products held at most */

static int wgrad_chunks(int N, size_t dw_n)
{
    int p = 1;
    while (p * 2 <= WGRAD_MAX_CHUNKS && (long)p * 2 * WGRAD_CHUNK_ROWS <= N &&
           (size_t)(p * 2 - 1) * dw_n <= WGRAD_MAX_PARTS)
        p *= 2;
    return p;
}

/* The calling thread's buffer for the chunks' partial products, kept for its next calls (at
 * most WGRAD_MAX_PARTS floats); NULL when it cannot be had. */
static float *wgrad_parts(size_t n)
{
    static _Thread_local float *buf;
    static _Thread_local size_t cap;
    if (n > cap) {
        float *grown = arith_alloc(n * sizeof(float));
        if (!grown)
            return NULL;
        arith_free(buf);
        buf = grown;
        cap = n;
    }
    return buf;
}

/* Rows [*r0, *r1) of chunk k of P over N rows (multiples of 8). */
static void chunk_rows(int N, int P, int k, int *r0, int *r1)
{
    const int per = ((N + P - 1) / P + 7) / 8 * 8;
    *r0 = k * per < N ? k * per : N;
    *r1 = *r0 + per < N ? *r0 + per : N;
}

/* add: dinp += its gradient, else dinp = it (beta 0: no pass that zeroes dinp first). The
 * input gradient by bands of rows, the weight gradient by chunks (above) and the bias
 * gradient by column blocks run in one parallel region; the chunks' sum after its barrier. */
static void dense_backward(float *dinp, float *dw, float *db, const float *dout,
                           const float *inp, const float *w, int N, int I, int O, bool w_in_out,
                           bool add)
{
    if (N <= 0 || O <= 0) {
        if (dinp && !add && N > 0 && I > 0)
            tensor_zero(dinp, (size_t)N * I); /* no output units: a zero gradient */
        return;
    }
    if (I <= 0) {
        if (db)
            column_sums_add(db, dout, N, O, 1.0f);
        return;
    }
    const size_t dw_n = (size_t)O * I;
    int P = dw ? wgrad_chunks(N, dw_n) : 1;
    /* the chunks' partial dw, then their partial db */
    float *parts = P > 1 ? wgrad_parts((size_t)(P - 1) * (dw_n + (size_t)O)) : NULL;
    if (!parts)
        P = 1;
    const bool region = (mat_mul_splits(N, I, O) || P > 1) && !omp_in_parallel();
    if (P == 1 && !region) { /* one thread, or a product too small to split */
        if (dinp) /* dinp(N,I) (+)= dout(N,O) @ op(w)^T */
            mat_mul(dinp, dout, w, N, I, O, false, w_in_out, 1.0f, add ? 1.0f : 0.0f);
        if (dw && w_in_out) /* dw(I,O) += inp^T(I,N) @ dout(N,O) */
            mat_mul(dw, inp, dout, I, O, N, true, false, 1.0f, 1.0f);
        else if (dw) /* dw(O,I) += dout^T(O,N) @ inp(N,I) */
            mat_mul(dw, dout, inp, O, I, N, true, false, 1.0f, 1.0f);
        if (db)
            column_sums_add(db, dout, N, O, 1.0f);
        return;
    }
    void (*sums)(float *, const float *, int, int, float, int, int) = FAST_PICK(column_sums_add);
    const int nblocks = (O + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel if (region)
    {
        const int nt = omp_get_num_threads(), id = omp_get_thread_num();
        if (dinp) { /* this thread's band of rows, as mat_mul's (multiples of 8) */
            const int per = ((N + nt - 1) / nt + 7) / 8 * 8;
            const int r0 = id * per < N ? id * per : N, r1 = r0 + per < N ? r0 + per : N;
            if (r1 > r0)
                mat_mul_serial(dinp + (size_t)r0 * I, dout + (size_t)r0 * O, w, r1 - r0, I, O,
                               false, w_in_out, 1.0f, add ? 1.0f : 0.0f);
        }
        if (dw && P > 1) {
            for (int k = id; k < P; k += nt) {
                int r0, r1;
                chunk_rows(N, P, k, &r0, &r1);
                float *dst = k == 0 ? dw : parts + (size_t)(k - 1) * dw_n;
                const float beta = k == 0 ? 1.0f : 0.0f;
                if (r1 <= r0) {
                    if (k > 0)
                        memset(dst, 0, dw_n * sizeof(float));
                } else if (w_in_out) {
                    mat_mul_serial(dst, inp + (size_t)r0 * I, dout + (size_t)r0 * O, I, O,
                                   r1 - r0, true, false, 1.0f, beta);
                } else {
                    mat_mul_serial(dst, dout + (size_t)r0 * O, inp + (size_t)r0 * I, O, I,
                                   r1 - r0, true, false, 1.0f, beta);
                }
                if (db) { /* the chunk's column sums: into db, or a zeroed part */
                    float *bdst = k == 0 ? db : parts + (P - 1) * dw_n + (size_t)(k - 1) * O;
                    if (k > 0)
                        memset(bdst, 0, (size_t)O * sizeof(float));
                    if (r1 > r0)
                        sums(bdst, dout + (size_t)r0 * O, r1 - r0, O, 1.0f, 0, nblocks);
                }
            }
        } else if (db) { /* column blocks over every row */
            size_t lo, hi;
            split_of((size_t)nblocks, 1, &lo, &hi);
            if (hi > lo)
                sums(db, dout, N, O, 1.0f, (int)lo, (int)hi);
        }
        if (dw && P > 1) {
#pragma omp barrier
            size_t lo, hi;
            split_of(dw_n, BAND_ALIGN, &lo, &hi);
            for (int k = 1; k < P; k++) {
                const float *part = parts + (size_t)(k - 1) * dw_n;
#pragma omp simd
                for (size_t e = lo; e < hi; e++)
                    dw[e] += part[e];
            }
            split_of((size_t)O, BAND_ALIGN, &lo, &hi);
            for (int k = 1; db && k < P; k++) {
                const float *part = parts + (size_t)(P - 1) * dw_n + (size_t)(k - 1) * O;
                for (size_t c = lo; c < hi; c++)
                    db[c] += part[c];
            }
        }
    }
    if (dw && P == 1) { /* split by the product's own bands of output rows */
        if (w_in_out)
            mat_mul(dw, inp, dout, I, O, N, true, false, 1.0f, 1.0f);
        else
            mat_mul(dw, dout, inp, O, I, N, true, false, 1.0f, 1.0f);
    }
}

void linear_forward(float *out, const float *inp, const float *w, const float *b, int N, int I,
                    int O)
{
    dense_forward_then(out, inp, w, b, N, I, O, false, NULL, NULL); /* the bias with its rows */
}

void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int N, int I, int O)
{
    dense_backward(dinp, dw, db, dout, inp, w, N, I, O, false, true);
}

void linear_backward_to(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, int N, int I, int O)
{
    dense_backward(dinp, dw, db, dout, inp, w, N, I, O, false, false);
}

void conv1d_forward(float *out, const float *inp, const float *w, const float *b, int N, int I,
                    int O)
{
    dense_forward_then(out, inp, w, b, N, I, O, true, NULL, NULL);
}

void conv1d_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int N, int I, int O)
{
    dense_backward(dinp, dw, db, dout, inp, w, N, I, O, true, true);
}

void conv1d_backward_to(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, int N, int I, int O)
{
    dense_backward(dinp, dw, db, dout, inp, w, N, I, O, true, false);
}

/* ------------------------------------------------------------------------------ layernorm */

/* Sums along a row use LANES interleaved partial sums, which vectorize where one running sum
 * would wait on every add; the partial sums are then added in a fixed order. */
#define LANES 8

/* Rows [n0, n1). */
FAST_INLINE void layernorm_forward_body(float *out, float *mean, float *rstd, const float *inp,
                                        const float *w, const float *b, int C, size_t n0,
                                        size_t n1)
{
    const int Cv = C / LANES * LANES;
    for (size_t n = n0; n < n1; n++) {
        const float *x = inp + n * (size_t)C;
        float *o = out + n * (size_t)C;
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
FAST_CLONES(layernorm_forward,
            (float *out, float *mean, float *rstd, const float *inp, const float *w,
             const float *b, int C, size_t n0, size_t n1),
            (out, mean, rstd, inp, w, b, C, n0, n1))

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                       const float *b, int N, int C)
{
    void (*kernel)(float *, float *, float *, const float *, const float *, const float *, int,
                   size_t, size_t) = FAST_PICK(layernorm_forward);
    PAR_RANGE((size_t)N, 1, (size_t)N * C > PAR_MIN_CHEAP,
              kernel(out, mean, rstd, inp, w, b, C, lo, hi));
}

/* dinp for rows [n0, n1). */
FAST_INLINE void layernorm_backward_dx_body(float *dinp, const float *dout, const float *inp,
                                            const float *w, const float *mean,
                                            const float *rstd, int C, size_t n0, size_t n1,
                                            bool add)
{
    const int Cv = C / LANES * LANES;
    for (size_t n = n0; n < n1; n++) {
        const float *x = inp + n * (size_t)C, *dy = dout + n * (size_t)C;
        float *dx = dinp + n * (size_t)C;
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
            const float base = add ? dx[c] : 0.0f; /* 0 +: the bits of a zeroed dinp */
            dx[c] = base + s * (dy[c] * w[c] - mean_g - xhat * mean_gx);
        }
    }
}
FAST_CLONES_ADD_TO(layernorm_backward_dx,
                   (float *dinp, const float *dout, const float *inp, const float *w,
                    const float *mean, const float *rstd, int C, size_t n0, size_t n1),
                   (dinp, dout, inp, w, mean, rstd, C, n0, n1))

/* dw = sum_n dy*xhat, db = sum_n dy over the columns of blocks [cb0, cb1), rows in order. */
FAST_INLINE void layernorm_backward_dwb_body(float *dw, float *db, const float *dout,
                                             const float *inp, const float *mean,
                                             const float *rstd, int N, int C, int cb0, int cb1)
{
    for (int cb = cb0; cb < cb1; cb++) {
        const int c0 = cb * COL_BLOCK, nc = C - c0 < COL_BLOCK ? C - c0 : COL_BLOCK;
        float acc_w[COL_BLOCK] = {0}, acc_b[COL_BLOCK] = {0};
        if (nc == COL_BLOCK) {
            for (int n = 0; n < N; n++) {
                const float *x = inp + (size_t)n * C + c0, *dy = dout + (size_t)n * C + c0;
                const float m = mean[n], s = rstd[n];
#pragma omp simd
                for (int c = 0; c < COL_BLOCK; c++) {
                    acc_w[c] += dy[c] * ((x[c] - m) * s);
                    acc_b[c] += dy[c];
                }
            }
        } else {
            for (int n = 0; n < N; n++) {
                const float *x = inp + (size_t)n * C + c0, *dy = dout + (size_t)n * C + c0;
                const float m = mean[n], s = rstd[n];
#pragma omp simd
                for (int c = 0; c < nc; c++) {
                    acc_w[c] += dy[c] * ((x[c] - m) * s);
                    acc_b[c] += dy[c];
                }
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
FAST_CLONES(layernorm_backward_dwb,
            (float *dw, float *db, const float *dout, const float *inp, const float *mean,
             const float *rstd, int N, int C, int cb0, int cb1),
            (dw, db, dout, inp, mean, rstd, N, C, cb0, cb1))

static void layernorm_backward_at(float *dinp, float *dw, float *db, const float *dout,
                                  const float *inp, const float *w, const float *mean,
                                  const float *rstd, int N, int C, bool add)
{
    void (*dx_kernel)(float *, const float *, const float *, const float *, const float *,
                      const float *, int, size_t, size_t) =
        add ? FAST_PICK(layernorm_backward_dx) : FAST_PICK(layernorm_backward_dx_to);
    void (*dwb_kernel)(float *, float *, const float *, const float *, const float *,
                       const float *, int, int, int, int) = FAST_PICK(layernorm_backward_dwb);
    const int nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
    const bool sums = dw || db;
    /* One region for both parts: the rows' dinp, then (after the loop's barrier-free end, the
     * parts touch different outputs) the column blocks' dw and db. */
#pragma omp parallel if (PAR_IF((size_t)N * C > PAR_MIN_CHEAP))
    {
        size_t lo, hi;
        if (dinp) {
            split_of((size_t)N, 1, &lo, &hi);
            if (hi > lo)
                dx_kernel(dinp, dout, inp, w, mean, rstd, C, lo, hi);
        }
        if (sums) {
            split_of((size_t)nblocks, 1, &lo, &hi);
            if (hi > lo)
                dwb_kernel(dw, db, dout, inp, mean, rstd, N, C, (int)lo, (int)hi);
        }
    }
}

void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, const float *mean, const float *rstd, int N, int C)
{
    layernorm_backward_at(dinp, dw, db, dout, inp, w, mean, rstd, N, C, true);
}

void layernorm_backward_to(float *dinp, float *dw, float *db, const float *dout,
                           const float *inp, const float *w, const float *mean,
                           const float *rstd, int N, int C)
{
    layernorm_backward_at(dinp, dw, db, dout, inp, w, mean, rstd, N, C, false);
}

/* ---------------------------------------------------------------------------- activations */

/* All ones where x > 0 (not NaN), else 0: on the bits, so that the loops vectorize
 * (fastmath.h); the positive floats above +0 up to +inf are the bit patterns 1..0x7F800000. */
FAST_INLINE uint32_t positive_mask(float x)
{
    return mask_if(f2u(x) - 1u < 0x7F800000u);
}

/* The element-wise kernels, over [lo, hi); out may be an input (the same element). */
FAST_INLINE void relu_forward_body(float *out, const float *inp, size_t lo, size_t hi)
{
#pragma omp simd
    for (size_t i = lo; i < hi; i++) /* inp > 0 ? inp : 0 */
        out[i] = u2f(f2u(inp[i]) & positive_mask(inp[i]));
}
FAST_INLINE void relu_backward_body(float *dinp, const float *dout, const float *inp, size_t lo,
                                    size_t hi, bool add)
{
#pragma omp simd
    for (size_t i = lo; i < hi; i++) { /* dinp (+)= inp > 0 ? dout : 0 */
        const float base = add ? dinp[i] : 0.0f;
        dinp[i] = base + u2f(f2u(dout[i]) & positive_mask(inp[i]));
    }
}
FAST_INLINE void add_forward_body(float *out, const float *a, const float *b, size_t lo,
                                  size_t hi)
{
#pragma omp simd
    for (size_t i = lo; i < hi; i++)
        out[i] = a[i] + b[i];
}
FAST_INLINE void relu_mask_body(float *d, const float *inp, size_t lo, size_t hi)
{
#pragma omp simd
    for (size_t i = lo; i < hi; i++)
        d[i] = u2f(f2u(d[i]) & positive_mask(inp[i]));
}
FAST_CLONES(relu_mask, (float *d, const float *inp, size_t lo, size_t hi), (d, inp, lo, hi))
FAST_CLONES(relu_forward, (float *out, const float *inp, size_t lo, size_t hi),
            (out, inp, lo, hi))
FAST_CLONES_ADD_TO(relu_backward,
                   (float *dinp, const float *dout, const float *inp, size_t lo, size_t hi),
                   (dinp, dout, inp, lo, hi))
FAST_CLONES(add_forward, (float *out, const float *a, const float *b, size_t lo, size_t hi),
            (out, a, b, lo, hi))

void relu_forward(float *out, const float *inp, size_t n)
{
    void (*kernel)(float *, const float *, size_t, size_t) = FAST_PICK(relu_forward);
    PAR_RANGE(n, BAND_ALIGN, n > PAR_MIN_CHEAP, kernel(out, inp, lo, hi));
}

static void relu_backward_at(float *dinp, const float *dout, const float *inp, size_t n,
                             bool add)
{
    void (*kernel)(float *, const float *, const float *, size_t, size_t) =
        add ? FAST_PICK(relu_backward) : FAST_PICK(relu_backward_to);
#pragma omp parallel if (PAR_IF(n > PAR_MIN_CHEAP))
    {
        size_t lo, hi;
        band_of(n, &lo, &hi);
        kernel(dinp, dout, inp, lo, hi);
    }
}

void relu_backward(float *dinp, const float *dout, const float *inp, size_t n)
{
    relu_backward_at(dinp, dout, inp, n, true);
}

void relu_backward_to(float *dinp, const float *dout, const float *inp, size_t n)
{
    relu_backward_at(dinp, dout, inp, n, false);
}

void relu_backward_inplace(float *d, const float *inp, size_t n)
{
    /* d = inp > 0 ? d : 0, relu's forward mask applied to d itself */
    void (*kernel)(float *, const float *, size_t, size_t) = FAST_PICK(relu_mask);
#pragma omp parallel if (PAR_IF(n > PAR_MIN_CHEAP))
    {
        size_t lo, hi;
        band_of(n, &lo, &hi);
        kernel(d, inp, lo, hi);
    }
}

#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f
#define SQRT_2_OVER_PI 0.79788456080286536f
#define GELU_TANH_K 0.044715f

void gelu_forward(float *out, const float *inp, size_t n)
{
    PAR_RANGE(n, 1, n > PAR_MIN_COSTLY, for (size_t i = lo; i < hi; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + erff(x * INV_SQRT2));
    });
}

static void gelu_backward_at(float *dinp, const float *dout, const float *inp, size_t n,
                             bool add)
{
#pragma omp parallel for schedule(static) if (PAR_IF(n > PAR_MIN_COSTLY))
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        /* d/dx x*Phi(x) = Phi(x) + x*phi(x) */
        float cdf = 0.5f * (1.0f + erff(x * INV_SQRT2));
        float pdf = INV_SQRT_2PI * expf(-0.5f * x * x);
        const float base = add ? dinp[i] : 0.0f;
        dinp[i] = base + dout[i] * (cdf + x * pdf);
    }
}

void gelu_backward(float *dinp, const float *dout, const float *inp, size_t n)
{
    gelu_backward_at(dinp, dout, inp, n, true);
}

void gelu_backward_to(float *dinp, const float *dout, const float *inp, size_t n)
{
    gelu_backward_at(dinp, dout, inp, n, false);
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
                                         size_t n, bool add)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = SQRT_2_OVER_PI * (x + GELU_TANH_K * x * x * x);
        float th = fast_tanh(u);
        /* dy/dx = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) du/dx */
        float du = SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_TANH_K * x * x);
        const float base = add ? dinp[i] : 0.0f;
        dinp[i] = base + dout[i] * (0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du);
    }
}

FAST_CLONES(gelu_tanh_forward, (float *out, const float *inp, size_t n), (out, inp, n))
FAST_CLONES_ADD_TO(gelu_tanh_backward,
                   (float *dinp, const float *dout, const float *inp, size_t n),
                   (dinp, dout, inp, n))

/* Bands of GELU_BAND elements per task, so that each thread runs a vectorized kernel. */
#define GELU_BAND 4096

void gelu_tanh_forward(float *out, const float *inp, size_t n)
{
    void (*kernel)(float *, const float *, size_t) = FAST_PICK(gelu_tanh_forward);
    const size_t bands = (n + GELU_BAND - 1) / GELU_BAND;
    PAR_RANGE(bands, 1, n > PAR_MIN_COSTLY, for (size_t k = lo; k < hi; k++) {
        size_t at = k * GELU_BAND, len = n - at < GELU_BAND ? n - at : GELU_BAND;
        kernel(out + at, inp + at, len);
    });
}

static void gelu_tanh_backward_at(float *dinp, const float *dout, const float *inp, size_t n,
                                  bool add)
{
    void (*kernel)(float *, const float *, const float *, size_t) =
        add ? FAST_PICK(gelu_tanh_backward) : FAST_PICK(gelu_tanh_backward_to);
    const long bands = (long)((n + GELU_BAND - 1) / GELU_BAND);
#pragma omp parallel for schedule(static) if (PAR_IF(n > PAR_MIN_COSTLY))
    for (long k = 0; k < bands; k++) {
        size_t at = (size_t)k * GELU_BAND, len = n - at < GELU_BAND ? n - at : GELU_BAND;
        kernel(dinp + at, dout + at, inp + at, len);
    }
}

void gelu_tanh_backward(float *dinp, const float *dout, const float *inp, size_t n)
{
    gelu_tanh_backward_at(dinp, dout, inp, n, true);
}

void gelu_tanh_backward_to(float *dinp, const float *dout, const float *inp, size_t n)
{
    gelu_tanh_backward_at(dinp, dout, inp, n, false);
}

void add_forward(float *out, const float *a, const float *b, size_t n)
{
    void (*kernel)(float *, const float *, const float *, size_t, size_t) =
        FAST_PICK(add_forward);
    PAR_RANGE(n, BAND_ALIGN, n > PAR_MIN_CHEAP, kernel(out, a, b, lo, hi));
}

/* -------------------------------------------------------------------------------- dropout */

/* Element i survives when its 16-bit draw, bits [16*(i%4), 16*(i%4)+16) of
 * rng_hash(seed, i/4), is >= ceil(p * 65536): one hash serves four elements. */
static inline uint32_t dropout_threshold(float p)
{
    return (uint32_t)ceil((double)p * 65536.0);
}

/* The draws are made DROP_BLOCK groups (4 * DROP_BLOCK elements) at a time: first the block's
 * hashes into an array (a loop of 64-bit multiplies that vectorizes), then the mask and scale
 * over its elements (a loop of 16-bit compares and selects that vectorizes). Element i's draw
 * is the 16-bit word i % 4 of hash i / 4, as before: the same stream, the same survivors. */
#define DROP_BLOCK 64

/* The 16-bit draws of elements [4 * g0, 4 * g0 + 4 * ng), ng <= DROP_BLOCK. */
FAST_INLINE void dropout_draws(uint16_t *draw, uint64_t seed, size_t g0, size_t ng)
{
    uint64_t h[DROP_BLOCK];
#pragma omp simd
    for (size_t g = 0; g < ng; g++)
        h[g] = rng_hash(seed, (uint64_t)(g0 + g));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(draw, h, ng * sizeof h[0]); /* word k of h[g] is bits [16k, 16k + 16) */
#else
    for (size_t g = 0; g < ng; g++)
        for (int k = 0; k < 4; k++)
            draw[4 * g + (size_t)k] = (uint16_t)(h[g] >> (16 * k));
#endif
}

/* Elements [lo, hi), lo a multiple of 4. */
FAST_INLINE void dropout_forward_body(float *out, uint8_t *mask, const float *inp, float scale,
                                      uint32_t threshold, uint64_t seed, size_t lo, size_t hi)
{
    uint16_t draw[4 * DROP_BLOCK];
    for (size_t at = lo; at < hi; at += 4 * DROP_BLOCK) {
        const size_t len = hi - at < 4 * DROP_BLOCK ? hi - at : 4 * DROP_BLOCK;
        dropout_draws(draw, seed, at / 4, (len + 3) / 4);
        float *o = out + at;
        const float *x = inp + at;
        if (mask) {
            uint8_t *mk = mask + at;
#pragma omp simd
            for (size_t i = 0; i < len; i++) {
                const uint32_t keep = mask_if(draw[i] >= threshold);
                o[i] = u2f(f2u(x[i] * scale) & keep); /* kept: x * scale, else +0 */
                mk[i] = (uint8_t)(keep & 1u);
            }
        } else {
#pragma omp simd
            for (size_t i = 0; i < len; i++) {
                const uint32_t keep = mask_if(draw[i] >= threshold);
                o[i] = u2f(f2u(x[i] * scale) & keep);
            }
        }
    }
}

/* dinp += dout * scale where kept (dinp untouched elsewhere), drawing again. */
FAST_INLINE void dropout_backward_body(float *dinp, const float *dout, float scale,
                                       uint32_t threshold, uint64_t seed, size_t lo, size_t hi,
                                       bool add)
{
    uint16_t draw[4 * DROP_BLOCK];
    for (size_t at = lo; at < hi; at += 4 * DROP_BLOCK) {
        const size_t len = hi - at < 4 * DROP_BLOCK ? hi - at : 4 * DROP_BLOCK;
        dropout_draws(draw, seed, at / 4, (len + 3) / 4);
        float *d = dinp + at;
        const float *dy = dout + at;
#pragma omp simd
        for (size_t i = 0; i < len; i++) {
            const uint32_t keep = mask_if(draw[i] >= threshold);
            const float base = add ? d[i] : 0.0f;
            d[i] = u2f((f2u(base + dy[i] * scale) & keep) | (f2u(base) & ~keep));
        }
    }
}

/* dinp += mask ? dout * scale : 0 (a +0 added where dropped, as before). */
FAST_INLINE void dropout_backward_mask_body(float *dinp, const float *dout, const uint8_t *mask,
                                            float scale, size_t lo, size_t hi, bool add)
{
#pragma omp simd
    for (size_t i = lo; i < hi; i++) {
        const float base = add ? dinp[i] : 0.0f;
        dinp[i] = base + u2f(f2u(dout[i] * scale) & mask_if(mask[i] != 0));
    }
}

/* dinp (+)= dout: dropout's backward at p = 0 */
FAST_INLINE void dropout_backward_none_body(float *dinp, const float *dout, size_t lo, size_t hi,
                                            bool add)
{
#pragma omp simd
    for (size_t i = lo; i < hi; i++) {
        const float base = add ? dinp[i] : 0.0f;
        dinp[i] = base + dout[i];
    }
}

FAST_CLONES(dropout_forward,
            (float *out, uint8_t *mask, const float *inp, float scale, uint32_t threshold,
             uint64_t seed, size_t lo, size_t hi),
            (out, mask, inp, scale, threshold, seed, lo, hi))
FAST_CLONES_ADD_TO(dropout_backward,
                   (float *dinp, const float *dout, float scale, uint32_t threshold,
                    uint64_t seed, size_t lo, size_t hi),
                   (dinp, dout, scale, threshold, seed, lo, hi))
FAST_CLONES_ADD_TO(dropout_backward_mask,
                   (float *dinp, const float *dout, const uint8_t *mask, float scale, size_t lo,
                    size_t hi),
                   (dinp, dout, mask, scale, lo, hi))
FAST_CLONES_OF(dropout_backward_none_to, dropout_backward_none_body,
               (float *dinp, const float *dout, size_t lo, size_t hi), (dinp, dout, lo, hi, false))

void dropout_forward_range(float *out, uint8_t *mask, const float *inp, size_t first,
                           size_t end, float p, uint64_t seed)
{
    if (end <= first)
        return;
    if (p <= 0.0f) {
        if (out != inp)
            memmove(out + first, inp + first, (end - first) * sizeof(float));
        if (mask)
            memset(mask + first, 1, end - first);
        return;
    }
    const float scale = 1.0f / (1.0f - p);
    const uint32_t threshold = dropout_threshold(p);
    void (*kernel)(float *, uint8_t *, const float *, float, uint32_t, uint64_t, size_t,
                   size_t) = FAST_PICK(dropout_forward);
    /* bands start at multiples of 4 (lo's, and BAND_ALIGN's): whole groups */
    PAR_RANGE(end - first, BAND_ALIGN, end - first > PAR_MIN_COSTLY,
              kernel(out, mask, inp, scale, threshold, seed, first + lo, first + hi));
}

void dropout_forward(float *out, uint8_t *mask, const float *inp, size_t n, float p,
                     uint64_t seed)
{
    dropout_forward_range(out, mask, inp, 0, n, p, seed);
}

static void dropout_backward_at(float *dinp, const float *dout, const uint8_t *mask, size_t n,
                                float p, uint64_t seed, bool add)
{
    if (p <= 0.0f) {
        if (add) {
            add_forward(dinp, dinp, dout, n);
        } else {
            void (*kernel)(float *, const float *, size_t, size_t) =
                FAST_PICK(dropout_backward_none_to);
            PAR_RANGE(n, BAND_ALIGN, n > PAR_MIN_CHEAP, kernel(dinp, dout, lo, hi));
        }
        return;
    }
    const float scale = 1.0f / (1.0f - p);
    if (mask) {
        void (*kernel)(float *, const float *, const uint8_t *, float, size_t, size_t) =
            add ? FAST_PICK(dropout_backward_mask) : FAST_PICK(dropout_backward_mask_to);
#pragma omp parallel if (PAR_IF(n > PAR_MIN_CHEAP))
        {
            size_t lo, hi;
            band_of(n, &lo, &hi);
            kernel(dinp, dout, mask, scale, lo, hi);
        }
        return;
    }
    const uint32_t threshold = dropout_threshold(p);
    void (*kernel)(float *, const float *, float, uint32_t, uint64_t, size_t, size_t) =
        add ? FAST_PICK(dropout_backward) : FAST_PICK(dropout_backward_to);
#pragma omp parallel if (PAR_IF(n > PAR_MIN_COSTLY))
    {
        size_t lo, hi;
        band_of(n, &lo, &hi);
        if (hi > lo)
            kernel(dinp, dout, scale, threshold, seed, lo, hi);
    }
}

void dropout_backward(float *dinp, const float *dout, const uint8_t *mask, size_t n, float p,
                      uint64_t seed)
{
    dropout_backward_at(dinp, dout, mask, n, p, seed, true);
}

void dropout_backward_to(float *dinp, const float *dout, const uint8_t *mask, size_t n, float p,
                         uint64_t seed)
{
    dropout_backward_at(dinp, dout, mask, n, p, seed, false);
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
    PAR_RANGE((size_t)N, 1, (size_t)N * C > PAR_MIN_CHEAP, for (size_t n = lo; n < hi; n++) {
        const float *cs = cos_tab + (size_t)pos[n] * half;
        const float *sn = sin_tab + (size_t)pos[n] * half;
        float *row = qkv + n * 3 * C;
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
    });
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
#pragma omp parallel for schedule(static) if (PAR_IF((size_t)N * V > PAR_MIN_COSTLY))
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
#pragma omp parallel for schedule(static) if (PAR_IF((size_t)N * V > PAR_MIN_CHEAP))
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
