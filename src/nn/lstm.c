/* lstm: one LSTM layer, one direction, with PyTorch's equations and gate layout (torch.nn.LSTM).
 *
 * The way fast CPU RNN code does it: the input projection of all time steps is one GEMM before
 * the recurrence; each step then costs one GEMM of the state (B x H times H x 4H, accumulated
 * onto the projection) and one fused elementwise kernel. Nothing couples the rows of a batch
 * within the recurrence, so the whole time loop runs in one parallel region, each thread
 * carrying its own band of batch rows through all the steps with single-threaded GEMMs: no
 * barrier per step. The backward mirrors it (per step the elementwise part and
 * dh_prev = dz W_hh on the same bands) and then does the weight, input and bias gradients
 * over all the steps at once: one GEMM each.
 *
 * sigmoid and tanh are computed from a range-reduced polynomial exp that vectorizes (libm's
 * expf and tanhf are a call per element); on x86 the elementwise kernels are compiled again
 * for AVX2 and AVX-512 and chosen at run time by what the CPU has (fastmath.h). */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "core/core.h"
#include "nn/backend/threads.h"
#include "nn/nn.h"

/* `omp simd` asks for vectorization; where it cannot happen (sanitizer builds) clang would
 * warn, and the warning is no error of ours. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

#include "nn/fastmath.h"

#define LSTM_INLINE FAST_INLINE

/* Sections of the cache and the scratch start on 16-float (64-byte) boundaries. */
static size_t round16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

/* The recurrence runs on one thread below this many multiply-adds per step (B * 4H * H). */
#define LSTM_PAR_MIN ((size_t)1 << 16)

/* ----------------------------------------------------------------- elementwise kernels */

/* One step of the cell for `rows` rows: z (rows, 4H) holds x W_ih^T + h_prev W_hh^T without
 * the biases and receives the gates i, f, g, o; cp/hp (rows, H) are the previous state and
 * cn/hn the new one, tc receives tanh(c_new), out the output rows (ld = H each). Rows whose
 * valid byte is 0 pass the state through and output zeros (their z and tc rows are left as
 * they are; the backward never reads them). */
LSTM_INLINE void cell_forward_body(float *z, float *cn, float *hn, float *tc, float *out,
                                   const float *cp, const float *hp, const float *bias,
                                   const uint8_t *valid, int rows, int H)
{
    for (int r = 0; r < rows; r++) {
        const size_t o4 = (size_t)r * 4 * H, o1 = (size_t)r * H;
        if (valid && !valid[r]) {
            memcpy(cn + o1, cp + o1, (size_t)H * sizeof(float));
            memcpy(hn + o1, hp + o1, (size_t)H * sizeof(float));
            memset(out + o1, 0, (size_t)H * sizeof(float));
            continue;
        }
        float *restrict zi = z + o4, *restrict zf = zi + H, *restrict zg = zf + H,
                        *restrict zo = zg + H;
        float *restrict c = cn + o1, *restrict h = hn + o1, *restrict th = tc + o1,
                        *restrict y = out + o1;
        const float *restrict c0 = cp + o1;
        const float *restrict bi = bias, *restrict bf = bias + H, *restrict bg = bias + 2 * H,
                              *restrict bo = bias + 3 * H;
#pragma omp simd
        for (int j = 0; j < H; j++) {
            const float gi = fast_sigmoid(zi[j] + bi[j]);
            const float gf = fast_sigmoid(zf[j] + bf[j]);
            const float gg = fast_tanh(zg[j] + bg[j]);
            const float go = fast_sigmoid(zo[j] + bo[j]);
            const float cj = gf * c0[j] + gi * gg;
            const float tj = fast_tanh(cj);
            const float hj = go * tj;
            zi[j] = gi;
            zf[j] = gf;
            zg[j] = gg;
            zo[j] = go;
            c[j] = cj;
            th[j] = tj;
            h[j] = hj;
            y[j] = hj;
        }
    }
}

/* The backward of one step for `rows` rows: dh, dc (rows, H) hold the gradients reaching the
 * new state from later steps (and the final-state loss); dout (may be NULL) the output's.
 * Writes dz (rows, 4H), the gradient of the gates' pre-activations; leaves in dc the gradient
 * of c_prev and in dh zeros (the caller adds dz W_hh to it). Invalid rows get dz = 0 and keep
 * dh, dc as they are. */
LSTM_INLINE void cell_backward_body(float *dz, float *dh, float *dc, const float *dout,
                                    const float *gates, const float *tc, const float *cp,
                                    const uint8_t *valid, int rows, int H)
{
    for (int r = 0; r < rows; r++) {
        const size_t o4 = (size_t)r * 4 * H, o1 = (size_t)r * H;
        if (valid && !valid[r]) {
            memset(dz + o4, 0, (size_t)4 * H * sizeof(float));
            continue;
        }
        float *restrict di = dz + o4, *restrict df = di + H, *restrict dg = df + H,
                        *restrict dd = dg + H;
        float *restrict dhr = dh + o1, *restrict dcr = dc + o1;
        const float *restrict gi = gates + o4, *restrict gf = gi + H, *restrict gg = gf + H,
                              *restrict go = gg + H;
        const float *restrict th = tc + o1, *restrict c0 = cp + o1;
        if (dout) { /* the output's gradient joins the state's */
            const float *restrict dy = dout + o1;
#pragma omp simd
            for (int j = 0; j < H; j++)
                dhr[j] += dy[j];
        }
#pragma omp simd
        for (int j = 0; j < H; j++) {
            const float dhj = dhr[j];
            const float i = gi[j], f = gf[j], g = gg[j], o = go[j], t = th[j];
            const float dcj = dcr[j] + dhj * o * (1.0f - t * t);
            di[j] = dcj * g * i * (1.0f - i);
            df[j] = dcj * c0[j] * f * (1.0f - f);
            dg[j] = dcj * i * (1.0f - g * g);
            dd[j] = dhj * t * o * (1.0f - o);
            dcr[j] = dcj * f;
            dhr[j] = 0.0f;
        }
    }
}

FAST_CLONES(cell_forward,
            (float *z, float *cn, float *hn, float *tc, float *out, const float *cp,
             const float *hp, const float *bias, const uint8_t *valid, int rows, int H),
            (z, cn, hn, tc, out, cp, hp, bias, valid, rows, H))
FAST_CLONES(cell_backward,
            (float *dz, float *dh, float *dc, const float *dout, const float *gates,
             const float *tc, const float *cp, const uint8_t *valid, int rows, int H),
            (dz, dh, dc, dout, gates, tc, cp, valid, rows, H))

typedef void (*cell_forward_fn)(float *, float *, float *, float *, float *, const float *,
                                const float *, const float *, const uint8_t *, int, int);
typedef void (*cell_backward_fn)(float *, float *, float *, const float *, const float *,
                                 const float *, const float *, const uint8_t *, int, int);

static cell_forward_fn pick_cell_forward(void)
{
    return FAST_PICK(cell_forward);
}

static cell_backward_fn pick_cell_backward(void)
{
    return FAST_PICK(cell_backward);
}

/* ------------------------------------------------------------------------------ layout */

/* The cache, in floats (each section 16-float aligned):
 *   bias  4H            b_ih + b_hh
 *   gates (T*B, 4H)     i, f, g, o of every step (time-major, as x)
 *   hs    (T+1, B, H)   the hidden states: slot prev_slot(t) is the state step t starts from,
 *   cs    (T+1, B, H)   slot next_slot(t) the one it leaves (t, t+1 forward; t+1, t reverse),
 *                       so that hs + (reverse ? B*H : 0) is h_prev of every step in x's order
 *   tc    (T*B, H)      tanh(c) after every step */
typedef struct {
    float *bias, *gates, *hs, *cs, *tc;
} lstm_cache_layout;

static lstm_cache_layout cache_layout(float *cache, int T, int B, int H)
{
    const size_t tb = (size_t)T * B, state = ((size_t)T + 1) * B * H;
    lstm_cache_layout l;
    l.bias = cache;
    l.gates = l.bias + round16((size_t)4 * H);
    l.hs = l.gates + round16(tb * 4 * H);
    l.cs = l.hs + round16(state);
    l.tc = l.cs + round16(state);
    return l;
}

size_t lstm_cache_floats(int T, int B, int H)
{
    const size_t tb = (size_t)T * B, state = ((size_t)T + 1) * B * H;
    return round16((size_t)4 * H) + round16(tb * 4 * H) + 2 * round16(state) +
           round16(tb * H);
}

size_t lstm_scratch_floats(int T, int B, int I, int H)
{
    (void)I;
    /* dz (T*B, 4H), dh (B, H), dc (B, H) */
    return round16((size_t)T * B * 4 * H) + 2 * round16((size_t)B * H);
}

static int prev_slot(int t, int reverse)
{
    return reverse ? t + 1 : t;
}

static int next_slot(int t, int reverse)
{
    return reverse ? t : t + 1;
}

/* How many threads carry bands of batch rows through the recurrence, and the band size
 * (a multiple of 4 rows, unless one band holds them all). */
static int row_bands(int B, int H, int *band)
{
    int nt = omp_get_max_threads();
    if (nt < 1)
        nt = 1;
    if ((size_t)B * 4 * H * H < LSTM_PAR_MIN)
        nt = 1;
    int rows = (B + nt - 1) / nt;
    rows = (rows + 3) / 4 * 4;
    if (rows > B)
        rows = B;
    *band = rows;
    return (B + rows - 1) / rows;
}

/* ----------------------------------------------------------------------------- forward */

void lstm_forward(float *out, float *h_last, float *c_last, float *cache, const float *x,
                  const uint8_t *valid, const float *h0, const float *c0, const float *w_ih,
                  const float *w_hh, const float *b_ih, const float *b_hh, int T, int B, int I,
                  int H, int reverse)
{
    if (B <= 0 || H <= 0)
        return;
    const size_t bh = (size_t)B * H, H4 = (size_t)4 * H;
    if (T <= 0) {
        /* nothing to run: the final state is the initial one (h_last may alias h0) */
        if (h_last && h_last != h0) {
            if (h0)
                memmove(h_last, h0, bh * sizeof(float));
            else
                memset(h_last, 0, bh * sizeof(float));
        }
        if (c_last && c_last != c0) {
            if (c0)
                memmove(c_last, c0, bh * sizeof(float));
            else
                memset(c_last, 0, bh * sizeof(float));
        }
        return;
    }
    const lstm_cache_layout L = cache_layout(cache, T, B, H);
    for (size_t j = 0; j < H4; j++)
        L.bias[j] = (b_ih ? b_ih[j] : 0.0f) + (b_hh ? b_hh[j] : 0.0f);

    /* gates(T*B, 4H) = x(T*B, I) @ w_ih(4H, I)^T; the biases are added in the cell kernel */
    if (I > 0)
        mat_mul(L.gates, x, w_ih, T * B, 4 * H, I, false, true, 1.0f, 0.0f);
    else
        memset(L.gates, 0, (size_t)T * B * H4 * sizeof(float));

    /* the initial state, read in full before anything is written to h_last/c_last */
    const int first = reverse ? T : 0, last = reverse ? 0 : T;
    float *hinit = L.hs + (size_t)first * bh, *cinit = L.cs + (size_t)first * bh;
    if (h0)
        memcpy(hinit, h0, bh * sizeof(float));
    else
        memset(hinit, 0, bh * sizeof(float));
    if (c0)
        memcpy(cinit, c0, bh * sizeof(float));
    else
        memset(cinit, 0, bh * sizeof(float));

    const cell_forward_fn cell = pick_cell_forward();
    int band;
    const int nbands = row_bands(B, H, &band);
#pragma omp parallel for num_threads(nbands) schedule(static, 1) if (nbands > 1)
    for (int k = 0; k < nbands; k++) {
        const int b0 = k * band, nb = b0 + band < B ? band : B - b0;
        for (int s = 0; s < T; s++) {
            const int t = reverse ? T - 1 - s : s;
            const size_t row = (size_t)t * B + b0;
            float *z = L.gates + row * H4;
            const size_t ps = (size_t)prev_slot(t, reverse) * bh + (size_t)b0 * H;
            const size_t ns = (size_t)next_slot(t, reverse) * bh + (size_t)b0 * H;
            /* z += h_prev(nb, H) @ w_hh(4H, H)^T; h_prev is 0 at the first step without h0 */
            if (s > 0 || h0)
                mat_mul_serial(z, L.hs + ps, w_hh, nb, 4 * H, H, false, true, 1.0f, 1.0f);
            cell(z, L.cs + ns, L.hs + ns, L.tc + row * H, out + row * H, L.cs + ps, L.hs + ps,
                 L.bias, valid ? valid + row : NULL, nb, H);
        }
    }

    if (h_last)
        memcpy(h_last, L.hs + (size_t)last * bh, bh * sizeof(float));
    if (c_last)
        memcpy(c_last, L.cs + (size_t)last * bh, bh * sizeof(float));
}

/* ---------------------------------------------------------------------------- backward */

/* d1[c] += sum_n src[n][c] and d2[c] += the same sum (either may be NULL). Each column is
 * summed over the rows in order, so the sums do not depend on the thread count; threads take
 * chunks of columns and walk the rows one after the other (contiguous reads). */
static void bias_grads_add(float *d1, float *d2, const float *src, int N, int C)
{
    enum { CHUNK = 256 };
    const int nchunks = (C + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static) if ((size_t)N * C > ((size_t)1 << 16) && nchunks > 1)
    for (int k = 0; k < nchunks; k++) {
        const int c0 = k * CHUNK, nc = C - c0 < CHUNK ? C - c0 : CHUNK;
        float acc[CHUNK];
        memset(acc, 0, sizeof acc);
        for (int n = 0; n < N; n++) {
            const float *restrict row = src + (size_t)n * C + c0;
#pragma omp simd
            for (int c = 0; c < nc; c++)
                acc[c] += row[c];
        }
        for (int c = 0; c < nc; c++) {
            if (d1)
                d1[c0 + c] += acc[c];
            if (d2)
                d2[c0 + c] += acc[c];
        }
    }
}

void lstm_backward(float *dx, float *dh0, float *dc0, float *dw_ih, float *dw_hh, float *db_ih,
                   float *db_hh, const float *dout, const float *dh_last, const float *dc_last,
                   float *scratch, const float *cache, const float *x, const uint8_t *valid,
                   const float *h0, const float *c0, const float *w_ih, const float *w_hh, int T,
                   int B, int I, int H, int reverse)
{
    if (B <= 0 || H <= 0)
        return;
    const size_t bh = (size_t)B * H, H4 = (size_t)4 * H;
    if (T <= 0) {
        for (size_t k = 0; k < bh; k++) {
            if (dh0 && dh_last)
                dh0[k] += dh_last[k];
            if (dc0 && dc_last)
                dc0[k] += dc_last[k];
        }
        return;
    }
    const lstm_cache_layout L = cache_layout((float *)cache, T, B, H);
    float *dz = scratch;
    float *dh = dz + round16((size_t)T * B * H4);
    float *dc = dh + round16(bh);
    if (dh_last)
        memcpy(dh, dh_last, bh * sizeof(float));
    else
        memset(dh, 0, bh * sizeof(float));
    if (dc_last)
        memcpy(dc, dc_last, bh * sizeof(float));
    else
        memset(dc, 0, bh * sizeof(float));

    const cell_backward_fn cell = pick_cell_backward();
    int band;
    const int nbands = row_bands(B, H, &band);
#pragma omp parallel for num_threads(nbands) schedule(static, 1) if (nbands > 1)
    for (int k = 0; k < nbands; k++) {
        const int b0 = k * band, nb = b0 + band < B ? band : B - b0;
        for (int s = 0; s < T; s++) {
            const int t = reverse ? s : T - 1 - s;
            const size_t row = (size_t)t * B + b0;
            const size_t ps = (size_t)prev_slot(t, reverse) * bh + (size_t)b0 * H;
            float *dzt = dz + row * H4;
            cell(dzt, dh + (size_t)b0 * H, dc + (size_t)b0 * H, dout ? dout + row * H : NULL,
                 L.gates + row * H4, L.tc + row * H, L.cs + ps, valid ? valid + row : NULL, nb,
                 H);
            /* dh_prev(nb, H) += dz(nb, 4H) @ w_hh(4H, H); not needed after the last step
             * unless dh0 is */
            if (s < T - 1 || dh0)
                mat_mul_serial(dh + (size_t)b0 * H, dzt, w_hh, nb, H, 4 * H, false, false, 1.0f,
                               1.0f);
        }
    }
    if (dh0)
        for (size_t k = 0; k < bh; k++)
            dh0[k] += dh[k];
    if (dc0)
        for (size_t k = 0; k < bh; k++)
            dc0[k] += dc[k];

    const int TB = T * B;
    if (dw_hh) {
        /* dw_hh(4H, H) += dz^T(4H, T*B) @ h_prev(T*B, H); without h0 the first step's h_prev
         * is 0 and its B rows are left out */
        const float *hprev = L.hs + (reverse ? bh : 0);
        const float *dzk = dz;
        int K = TB;
        if (!h0) {
            K -= B;
            if (!reverse) {
                hprev += bh;
                dzk += (size_t)B * H4;
            }
        }
        if (K > 0) {
            /* mat_mul's transposed a has leading dimension M = 4H, as dz has */
            mat_mul(dw_hh, dzk, hprev, 4 * H, H, K, true, false, 1.0f, 1.0f);
        }
    }
    if (dw_ih && I > 0) /* dw_ih(4H, I) += dz^T(4H, T*B) @ x(T*B, I) */
        mat_mul(dw_ih, dz, x, 4 * H, I, TB, true, false, 1.0f, 1.0f);
    if (dx && I > 0) /* dx(T*B, I) += dz(T*B, 4H) @ w_ih(4H, I) */
        mat_mul(dx, dz, w_ih, TB, I, 4 * H, false, false, 1.0f, 1.0f);
    if (db_ih || db_hh)
        bias_grads_add(db_ih, db_hh, dz, TB, 4 * H);
}
