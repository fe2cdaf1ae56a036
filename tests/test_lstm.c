/* test_lstm: the LSTM layer of nn.h. The forward against a plain double-precision reference
 * (torch.nn.LSTM's equations written as naive loops) on sizes that are and are not multiples
 * of the vector width, both directions, masked; every gradient against central differences
 * of that reference (in double, so that the tolerances can be tight), starting from gradients
 * that are not zero (so the backward must add); the masking property (a padded row gives what
 * the unpadded row gives); stepping one token at a time with T = 1 and the state aliased;
 * NULL arguments; and results that do not depend on the thread count. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/core.h"
#include "nn/nn.h"
#include "nn/fastmath.h" /* fast_force_level */
#include "nn/backend/threads.h" /* omp_*: OpenMP or, without it, one thread */

#define TEST_SEED 20240612u
/* Gradient buffers start at this value, so a backward that overwrote instead of adding fails. */
#define GRAD_PREFILL 0.5f
/* Central differences of the double reference: error ~ eps^2, far below float rounding. */
#define FD_EPS 1e-5
/* The float forward against the double reference. */
#define FWD_ATOL 2e-6
#define FWD_RTOL 2e-5
/* The float backward against the differences of the double reference. */
#define GRAD_ATOL 3e-6
#define GRAD_RTOL 3e-5

static rng_state rng;

static float *new_floats(size_t n)
{
    float *p = arith_alloc((n ? n : 1) * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

static float *new_normal(size_t n, float scale)
{
    float *p = new_floats(n);
    for (size_t i = 0; i < n; i++)
        p[i] = scale * rng_normal(&rng);
    return p;
}

static float *new_filled(size_t n, float value)
{
    float *p = new_floats(n);
    for (size_t i = 0; i < n; i++)
        p[i] = value;
    return p;
}

static float *new_copy(const float *src, size_t n)
{
    float *p = new_floats(n);
    memcpy(p, src, n * sizeof(float));
    return p;
}

static double *to_double(const float *src, size_t n)
{
    double *p = calloc(n ? n : 1, sizeof(double));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; src && i < n; i++)
        p[i] = src[i];
    return p;
}

static float *to_float(const double *src, size_t n)
{
    float *p = new_floats(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)src[i];
    return p;
}

/* Undoes GRAD_PREFILL so that what is left is the gradient the backward added. */
static void remove_prefill(float *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        g[i] -= GRAD_PREFILL;
}

static int bitwise_equal(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof(float)) == 0;
}

static int all_zero(const float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != 0.0f)
            return 0;
    return 1;
}

/* Masks: row b of every 5 is all valid, left-padded (2 steps), right-padded (1 step), padded
 * on both sides (1 and 1), or all padding. `kinds` limits how many of these are used. */
static uint8_t *new_mask(int T, int B, int kinds)
{
    uint8_t *valid = malloc((size_t)T * B);
    for (int b = 0; b < B; b++) {
        const int kind = b % kinds;
        for (int t = 0; t < T; t++) {
            int v = 1;
            if (kind == 1)
                v = t >= 2;
            else if (kind == 2)
                v = t < T - 1;
            else if (kind == 3)
                v = t >= 1 && t < T - 1;
            else if (kind == 4)
                v = 0;
            valid[(size_t)t * B + b] = (uint8_t)v;
        }
    }
    return valid;
}

/* ------------------------------------------------------------------- the double reference */

/* torch.nn.LSTM, one direction, in naive loops and double precision, with lstm_forward's
 * masking: an invalid step leaves the state alone and outputs 0. h0, c0 may be NULL. */
static void ref_forward(double *out, double *h_last, double *c_last, const double *x,
                        const uint8_t *valid, const double *h0, const double *c0,
                        const double *w_ih, const double *w_hh, const double *b_ih,
                        const double *b_hh, int T, int B, int I, int H, int reverse)
{
    double *h = calloc((size_t)B * H, sizeof(double)), *c = calloc((size_t)B * H, sizeof(double));
    double *z = calloc((size_t)4 * H, sizeof(double));
    for (int k = 0; k < B * H; k++) {
        h[k] = h0 ? h0[k] : 0.0;
        c[k] = c0 ? c0[k] : 0.0;
    }
    for (int s = 0; s < T; s++) {
        const int t = reverse ? T - 1 - s : s;
        for (int b = 0; b < B; b++) {
            const size_t row = (size_t)t * B + b;
            double *o = out + row * H, *hb = h + (size_t)b * H, *cb = c + (size_t)b * H;
            if (valid && !valid[row]) {
                for (int j = 0; j < H; j++)
                    o[j] = 0.0;
                continue;
            }
            for (int r = 0; r < 4 * H; r++) {
                double acc = b_ih[r] + b_hh[r];
                for (int k = 0; k < I; k++)
                    acc += x[row * I + k] * w_ih[(size_t)r * I + k];
                for (int k = 0; k < H; k++)
                    acc += hb[k] * w_hh[(size_t)r * H + k];
                z[r] = acc;
            }
            for (int j = 0; j < H; j++) {
                const double i = 1.0 / (1.0 + exp(-z[j]));
                const double f = 1.0 / (1.0 + exp(-z[H + j]));
                const double g = tanh(z[2 * H + j]);
                const double og = 1.0 / (1.0 + exp(-z[3 * H + j]));
                cb[j] = f * cb[j] + i * g;
                hb[j] = og * tanh(cb[j]);
                o[j] = hb[j];
            }
        }
    }
    memcpy(h_last, h, (size_t)B * H * sizeof(double));
    memcpy(c_last, c, (size_t)B * H * sizeof(double));
    free(h);
    free(c);
    free(z);
}

/* ------------------------------------------------------------------------------ problems */

/* One layer's inputs in float (what lstm_forward gets) and double (the reference's, with
 * zeros where h0, c0 are NULL so that their gradients can still be differenced). */
typedef struct {
    int T, B, I, H, reverse, has_h0;
    uint8_t *valid; /* may be NULL */
    float *x, *h0, *c0, *w_ih, *w_hh, *b_ih, *b_hh;
    float *R, *Rh, *Rc; /* the loss: sum(out R) + sum(h_last Rh) + sum(c_last Rc) */
    double *dx, *dh0, *dc0, *dw_ih, *dw_hh, *db_ih, *db_hh, *dR, *dRh, *dRc;
    double *dout, *dhl, *dcl; /* the reference's outputs */
} problem;

static problem problem_new(int T, int B, int I, int H, int reverse, int has_h0, int mask_kinds,
                           float scale)
{
    problem p;
    memset(&p, 0, sizeof p);
    p.T = T;
    p.B = B;
    p.I = I;
    p.H = H;
    p.reverse = reverse;
    p.has_h0 = has_h0;
    const size_t tb = (size_t)T * B, bh = (size_t)B * H, H4 = (size_t)4 * H;
    const float wscale = scale / sqrtf((float)H);
    p.valid = mask_kinds > 0 ? new_mask(T, B, mask_kinds) : NULL;
    p.x = new_normal(tb * I, 1.0f);
    p.h0 = has_h0 ? new_normal(bh, 0.5f) : NULL;
    p.c0 = has_h0 ? new_normal(bh, 1.0f) : NULL;
    p.w_ih = new_normal(H4 * I, wscale);
    p.w_hh = new_normal(H4 * H, wscale);
    p.b_ih = new_normal(H4, 0.3f * scale);
    p.b_hh = new_normal(H4, 0.3f * scale);
    p.R = new_normal(tb * H, 1.0f);
    p.Rh = new_normal(bh, 1.0f);
    p.Rc = new_normal(bh, 1.0f);
    p.dx = to_double(p.x, tb * I);
    p.dh0 = to_double(p.h0, bh);
    p.dc0 = to_double(p.c0, bh);
    p.dw_ih = to_double(p.w_ih, H4 * I);
    p.dw_hh = to_double(p.w_hh, H4 * H);
    p.db_ih = to_double(p.b_ih, H4);
    p.db_hh = to_double(p.b_hh, H4);
    p.dR = to_double(p.R, tb * H);
    p.dRh = to_double(p.Rh, bh);
    p.dRc = to_double(p.Rc, bh);
    p.dout = to_double(NULL, tb * H);
    p.dhl = to_double(NULL, bh);
    p.dcl = to_double(NULL, bh);
    return p;
}

static void problem_free(problem *p)
{
    free(p->valid);
    float *f[] = {p->x, p->h0, p->c0, p->w_ih, p->w_hh, p->b_ih, p->b_hh, p->R, p->Rh, p->Rc};
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++)
        arith_free(f[k]);
    double *d[] = {p->dx,  p->dh0, p->dc0, p->dw_ih, p->dw_hh, p->db_ih, p->db_hh,
                   p->dR,  p->dRh, p->dRc, p->dout,  p->dhl,   p->dcl};
    for (size_t k = 0; k < sizeof d / sizeof d[0]; k++)
        free(d[k]);
}

static void problem_ref(problem *p)
{
    ref_forward(p->dout, p->dhl, p->dcl, p->dx, p->valid, p->dh0, p->dc0, p->dw_ih, p->dw_hh,
                p->db_ih, p->db_hh, p->T, p->B, p->I, p->H, p->reverse);
}

static double problem_ref_loss(problem *p)
{
    problem_ref(p);
    const size_t tb = (size_t)p->T * p->B, bh = (size_t)p->B * p->H;
    double L = 0.0;
    for (size_t k = 0; k < tb * p->H; k++)
        L += p->dout[k] * p->dR[k];
    for (size_t k = 0; k < bh; k++)
        L += p->dhl[k] * p->dRh[k] + p->dcl[k] * p->dRc[k];
    return L;
}

/* The gradient of the reference loss with respect to param (n doubles), by central
 * differences, as floats. */
static float *ref_grad(problem *p, double *param, size_t n)
{
    float *g = new_floats(n);
    for (size_t i = 0; i < n; i++) {
        const double saved = param[i];
        param[i] = saved + FD_EPS;
        const double lp = problem_ref_loss(p);
        param[i] = saved - FD_EPS;
        const double lm = problem_ref_loss(p);
        param[i] = saved;
        g[i] = (float)((lp - lm) / (2.0 * FD_EPS));
    }
    return g;
}

static void run_forward(const problem *p, float *out, float *hl, float *cl, float *cache)
{
    lstm_forward(out, hl, cl, cache, p->x, p->valid, p->h0, p->c0, p->w_ih, p->w_hh, p->b_ih,
                 p->b_hh, p->T, p->B, p->I, p->H, p->reverse);
}

/* ------------------------------------------------------------------- forward vs reference */

static void check_forward(int T, int B, int I, int H, int reverse, int has_h0, int mask_kinds,
                          float scale)
{
    problem p = problem_new(T, B, I, H, reverse, has_h0, mask_kinds, scale);
    const size_t tb = (size_t)T * B, bh = (size_t)B * H;
    float *out = new_filled(tb * H, NAN), *hl = new_filled(bh, NAN), *cl = new_filled(bh, NAN);
    float *cache = new_floats(lstm_cache_floats(T, B, H));
    run_forward(&p, out, hl, cl, cache);
    problem_ref(&p);
    float *want_out = to_float(p.dout, tb * H), *want_hl = to_float(p.dhl, bh);
    float *want_cl = to_float(p.dcl, bh);
    char what[160];
    snprintf(what, sizeof what, "forward out T=%d B=%d I=%d H=%d rev=%d h0=%d mask=%d x%g", T, B,
             I, H, reverse, has_h0, mask_kinds, (double)scale);
    CHECK_CLOSE(what, out, want_out, tb * H, FWD_ATOL, FWD_RTOL);
    snprintf(what, sizeof what, "forward h_last T=%d B=%d I=%d H=%d rev=%d", T, B, I, H, reverse);
    CHECK_CLOSE(what, hl, want_hl, bh, FWD_ATOL, FWD_RTOL);
    snprintf(what, sizeof what, "forward c_last T=%d B=%d I=%d H=%d rev=%d", T, B, I, H, reverse);
    CHECK_CLOSE(what, cl, want_cl, bh, FWD_ATOL, FWD_RTOL);
    /* padding steps output exactly 0 */
    int zero_ok = 1;
    for (size_t r = 0; p.valid && r < tb; r++)
        if (!p.valid[r] && !all_zero(out + r * H, H))
            zero_ok = 0;
    CHECK_MSG(zero_ok, "padding rows of out are not 0 (T=%d B=%d H=%d)", T, B, H);
    arith_free(out);
    arith_free(hl);
    arith_free(cl);
    arith_free(cache);
    arith_free(want_out);
    arith_free(want_hl);
    arith_free(want_cl);
    problem_free(&p);
}

static void test_forward_reference(void)
{
    /* sizes that are and are not multiples of 4 and 8, B = 1, both directions */
    const int sizes[][4] = {{4, 1, 3, 3},  {5, 3, 7, 20}, {3, 2, 5, 37}, {6, 5, 8, 16},
                            {1, 4, 1, 1},  {2, 1, 9, 8},  {7, 6, 4, 13}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int reverse = 0; reverse < 2; reverse++) {
            const int *s = sizes[k];
            check_forward(s[0], s[1], s[2], s[3], reverse, (int)(k % 2), 0, 1.0f);
            check_forward(s[0], s[1], s[2], s[3], reverse, (int)(k % 2 == 0), 5, 1.0f);
        }
    /* large pre-activations: sigmoid and tanh saturate, exp is clamped */
    check_forward(4, 3, 6, 11, 0, 1, 5, 8.0f);
    check_forward(4, 3, 6, 11, 1, 1, 5, 8.0f);
    /* tiny pre-activations: tanh's small-argument branch must keep its relative accuracy */
    check_forward(4, 3, 6, 11, 0, 0, 0, 0.01f);
    /* rows split into bands across threads (B * 4H * H above the parallel threshold) */
    check_forward(4, 20, 11, 37, 0, 1, 5, 1.0f);
    check_forward(4, 20, 11, 37, 1, 0, 5, 1.0f);
}

/* ------------------------------------------------------------------------------ gradients */

static void check_backward(int T, int B, int I, int H, int reverse, int has_h0, int mask_kinds)
{
    problem p = problem_new(T, B, I, H, reverse, has_h0, mask_kinds, 1.0f);
    const size_t tb = (size_t)T * B, bh = (size_t)B * H, H4 = (size_t)4 * H;
    float *out = new_floats(tb * H), *hl = new_floats(bh), *cl = new_floats(bh);
    float *cache = new_floats(lstm_cache_floats(T, B, H));
    float *scratch = new_floats(lstm_scratch_floats(T, B, I, H));
    run_forward(&p, out, hl, cl, cache);

    float *gx = new_filled(tb * I, GRAD_PREFILL), *gh0 = new_filled(bh, GRAD_PREFILL);
    float *gc0 = new_filled(bh, GRAD_PREFILL), *gwih = new_filled(H4 * I, GRAD_PREFILL);
    float *gwhh = new_filled(H4 * H, GRAD_PREFILL), *gbih = new_filled(H4, GRAD_PREFILL);
    float *gbhh = new_filled(H4, GRAD_PREFILL);
    lstm_backward(gx, gh0, gc0, gwih, gwhh, gbih, gbhh, p.R, p.Rh, p.Rc, scratch, cache, p.x,
                  p.valid, p.h0, p.c0, p.w_ih, p.w_hh, T, B, I, H, reverse);
    remove_prefill(gx, tb * I);
    remove_prefill(gh0, bh);
    remove_prefill(gc0, bh);
    remove_prefill(gwih, H4 * I);
    remove_prefill(gwhh, H4 * H);
    remove_prefill(gbih, H4);
    remove_prefill(gbhh, H4);

    struct {
        const char *name;
        float *got;
        double *param;
        size_t n;
    } grads[] = {{"dx", gx, p.dx, tb * I},          {"dh0", gh0, p.dh0, bh},
                 {"dc0", gc0, p.dc0, bh},           {"dw_ih", gwih, p.dw_ih, H4 * I},
                 {"dw_hh", gwhh, p.dw_hh, H4 * H},  {"db_ih", gbih, p.db_ih, H4},
                 {"db_hh", gbhh, p.db_hh, H4}};
    for (size_t k = 0; k < sizeof grads / sizeof grads[0]; k++) {
        float *want = ref_grad(&p, grads[k].param, grads[k].n);
        char what[160];
        snprintf(what, sizeof what, "%s T=%d B=%d I=%d H=%d rev=%d h0=%d mask=%d",
                 grads[k].name, T, B, I, H, reverse, has_h0, mask_kinds);
        CHECK_CLOSE(what, grads[k].got, want, grads[k].n, GRAD_ATOL, GRAD_RTOL);
        arith_free(want);
    }
    /* nothing flows into x from padding steps: exactly 0 */
    int zero_ok = 1;
    for (size_t r = 0; p.valid && r < tb; r++)
        if (!p.valid[r] && !all_zero(gx + r * I, I))
            zero_ok = 0;
    CHECK_MSG(zero_ok, "dx rows of padding steps are not 0 (rev=%d)", reverse);

    /* NULL gradients are skipped, and the others do not change: dw_hh alone, dx alone */
    float *only = new_floats(H4 * H);
    lstm_backward(NULL, NULL, NULL, NULL, only, NULL, NULL, p.R, p.Rh, p.Rc, scratch, cache,
                  p.x, p.valid, p.h0, p.c0, p.w_ih, p.w_hh, T, B, I, H, reverse);
    CHECK_CLOSE("dw_hh alone", only, gwhh, H4 * H, 1e-6, 1e-5);
    float *only_x = new_floats(tb * I);
    lstm_backward(only_x, NULL, NULL, NULL, NULL, NULL, NULL, p.R, p.Rh, p.Rc, scratch, cache,
                  p.x, p.valid, p.h0, p.c0, p.w_ih, p.w_hh, T, B, I, H, reverse);
    CHECK_CLOSE("dx alone", only_x, gx, tb * I, 1e-6, 1e-5);
    /* NULL dout, dh_last, dc_last are zeros */
    float *zeros = new_filled(tb * H, 0.0f), *a = new_floats(H4 * I), *b = new_floats(H4 * I);
    lstm_backward(NULL, NULL, NULL, a, NULL, NULL, NULL, NULL, p.Rh, NULL, scratch, cache, p.x,
                  p.valid, p.h0, p.c0, p.w_ih, p.w_hh, T, B, I, H, reverse);
    lstm_backward(NULL, NULL, NULL, b, NULL, NULL, NULL, zeros, p.Rh, zeros, scratch, cache, p.x,
                  p.valid, p.h0, p.c0, p.w_ih, p.w_hh, T, B, I, H, reverse);
    CHECK(bitwise_equal(a, b, H4 * I));
    arith_free(zeros);
    arith_free(a);
    arith_free(b);
    arith_free(only);
    arith_free(only_x);

    float *f[] = {out, hl, cl, cache, scratch, gx, gh0, gc0, gwih, gwhh, gbih, gbhh};
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++)
        arith_free(f[k]);
    problem_free(&p);
}

static void test_gradients(void)
{
    for (int reverse = 0; reverse < 2; reverse++)
        for (int has_h0 = 0; has_h0 < 2; has_h0++) {
            /* every kind of row: full, left-padded, right-padded, both, all padding */
            check_backward(5, 5, 3, 4, reverse, has_h0, 5);
            /* no mask, odd sizes */
            check_backward(4, 2, 5, 3, reverse, has_h0, 0);
        }
    /* B = 1, H = 9 (the rows split into bands across threads are checked against one
     * thread in test_thread_invariance) */
    check_backward(3, 1, 4, 9, 0, 1, 0);
    check_backward(3, 1, 4, 9, 1, 0, 0);
}

/* -------------------------------------------------------------------------------- masking */

/* Row b of a padded batch against the same row run alone without its padding: outputs at the
 * valid steps, zeros at the padding ones, and the final state. */
static void check_row_unpadded(const problem *p, const float *out, const float *hl,
                               const float *cl, int b, int t0, int t1, const char *what)
{
    const int T = t1 - t0, I = p->I, H = p->H, B = p->B;
    float *x = new_floats((size_t)T * I), *o = new_floats((size_t)T * H);
    float *h = new_floats(H), *c = new_floats(H), *cache = new_floats(lstm_cache_floats(T, 1, H));
    for (int t = 0; t < T; t++)
        memcpy(x + (size_t)t * I, p->x + ((size_t)(t0 + t) * B + b) * I, I * sizeof(float));
    lstm_forward(o, h, c, cache, x, NULL, p->h0 ? p->h0 + (size_t)b * H : NULL,
                 p->c0 ? p->c0 + (size_t)b * H : NULL, p->w_ih, p->w_hh, p->b_ih, p->b_hh, T, 1,
                 I, H, p->reverse);
    int ok = 1;
    for (int t = 0; t < p->T; t++) {
        const float *row = out + ((size_t)t * B + b) * H;
        if (t < t0 || t >= t1)
            ok &= all_zero(row, H);
    }
    CHECK_MSG(ok, "%s: padding outputs are not 0", what);
    for (int t = 0; t < T; t++) {
        char w[160];
        snprintf(w, sizeof w, "%s: out at t=%d", what, t0 + t);
        CHECK_CLOSE(w, out + ((size_t)(t0 + t) * B + b) * H, o + (size_t)t * H, H, 1e-6, 1e-5);
    }
    char w[160];
    snprintf(w, sizeof w, "%s: h_last", what);
    CHECK_CLOSE(w, hl + (size_t)b * H, h, H, 1e-6, 1e-5);
    snprintf(w, sizeof w, "%s: c_last", what);
    CHECK_CLOSE(w, cl + (size_t)b * H, c, H, 1e-6, 1e-5);
    arith_free(x);
    arith_free(o);
    arith_free(h);
    arith_free(c);
    arith_free(cache);
}

static void test_masking(void)
{
    /* rows: 0 full, 1 left-padded by 2, 2 right-padded by 1, 3 padded 1 + 1 */
    enum { T = 6, B = 4, I = 5, H = 37 };
    for (int reverse = 0; reverse < 2; reverse++)
        for (int has_h0 = 0; has_h0 < 2; has_h0++) {
            problem p = problem_new(T, B, I, H, reverse, has_h0, 4, 1.0f);
            float *out = new_floats((size_t)T * B * H), *hl = new_floats(B * H);
            float *cl = new_floats(B * H), *cache = new_floats(lstm_cache_floats(T, B, H));
            run_forward(&p, out, hl, cl, cache);
            char what[80];
            snprintf(what, sizeof what, "full row (rev=%d h0=%d)", reverse, has_h0);
            check_row_unpadded(&p, out, hl, cl, 0, 0, T, what);
            snprintf(what, sizeof what, "left-padded row (rev=%d h0=%d)", reverse, has_h0);
            check_row_unpadded(&p, out, hl, cl, 1, 2, T, what);
            snprintf(what, sizeof what, "right-padded row (rev=%d h0=%d)", reverse, has_h0);
            check_row_unpadded(&p, out, hl, cl, 2, 0, T - 1, what);
            snprintf(what, sizeof what, "both-padded row (rev=%d h0=%d)", reverse, has_h0);
            check_row_unpadded(&p, out, hl, cl, 3, 1, T - 1, what);
            arith_free(out);
            arith_free(hl);
            arith_free(cl);
            arith_free(cache);
            problem_free(&p);
        }
}

/* ------------------------------------------------------------------------------- stepping */

/* Generation: lstm_forward with T = 1 and h_last, c_last aliasing h0, c0, step after step,
 * gives what one lstm_forward over all T steps gives. */
static void test_stepping(void)
{
    enum { T = 7, B = 5, I = 6, H = 20 };
    for (int has_h0 = 0; has_h0 < 2; has_h0++) {
        problem p = problem_new(T, B, I, H, 0, has_h0, 5, 1.0f);
        float *out = new_floats((size_t)T * B * H), *hl = new_floats(B * H);
        float *cl = new_floats(B * H), *cache = new_floats(lstm_cache_floats(T, B, H));
        run_forward(&p, out, hl, cl, cache);
        float *h = p.h0 ? new_copy(p.h0, B * H) : new_filled(B * H, 0.0f);
        float *c = p.c0 ? new_copy(p.c0, B * H) : new_filled(B * H, 0.0f);
        float *o = new_floats(B * H), *cache1 = new_floats(lstm_cache_floats(1, B, H));
        for (int t = 0; t < T; t++) {
            lstm_forward(o, h, c, cache1, p.x + (size_t)t * B * I, p.valid + (size_t)t * B, h, c,
                         p.w_ih, p.w_hh, p.b_ih, p.b_hh, 1, B, I, H, 0);
            char what[80];
            snprintf(what, sizeof what, "stepping out t=%d (h0=%d)", t, has_h0);
            CHECK_CLOSE(what, o, out + (size_t)t * B * H, B * H, 1e-6, 1e-5);
        }
        CHECK_CLOSE("stepping h_last", h, hl, B * H, 1e-6, 1e-5);
        CHECK_CLOSE("stepping c_last", c, cl, B * H, 1e-6, 1e-5);
        /* T = 0 leaves the state as it is */
        float *h2 = new_copy(h, B * H), *c2 = new_copy(c, B * H);
        lstm_forward(o, h2, c2, cache1, p.x, NULL, h2, c2, p.w_ih, p.w_hh, p.b_ih, p.b_hh, 0, B,
                     I, H, 0);
        CHECK(bitwise_equal(h2, h, B * H) && bitwise_equal(c2, c, B * H));
        arith_free(h2);
        arith_free(c2);
        arith_free(out);
        arith_free(hl);
        arith_free(cl);
        arith_free(cache);
        arith_free(h);
        arith_free(c);
        arith_free(o);
        arith_free(cache1);
        problem_free(&p);
    }
}

/* ----------------------------------------------------------------------------- odds, ends */

/* NULL biases are zero biases. */
static void test_null_biases(void)
{
    enum { T = 3, B = 2, I = 4, H = 6 };
    problem p = problem_new(T, B, I, H, 0, 1, 0, 1.0f);
    float *o1 = new_floats(T * B * H), *o2 = new_floats(T * B * H);
    float *cache = new_floats(lstm_cache_floats(T, B, H)), *zeros = new_filled(4 * H, 0.0f);
    lstm_forward(o1, NULL, NULL, cache, p.x, NULL, p.h0, p.c0, p.w_ih, p.w_hh, NULL, NULL, T, B,
                 I, H, 0);
    lstm_forward(o2, NULL, NULL, cache, p.x, NULL, p.h0, p.c0, p.w_ih, p.w_hh, zeros, zeros, T, B,
                 I, H, 0);
    CHECK(bitwise_equal(o1, o2, T * B * H));
    arith_free(o1);
    arith_free(o2);
    arith_free(cache);
    arith_free(zeros);
    problem_free(&p);
}

/* 1 and 2 threads: the same results, up to the summation order of the BLAS (the elementwise
 * parts are the same bits). Sizes above the threshold that turns the bands on. */
static void test_thread_invariance(void)
{
    enum { T = 5, B = 24, I = 16, H = 40 };
    const size_t tb = (size_t)T * B, bh = (size_t)B * H, H4 = (size_t)4 * H;
    problem p = problem_new(T, B, I, H, 1, 1, 5, 1.0f);
    float *cache = new_floats(lstm_cache_floats(T, B, H));
    float *scratch = new_floats(lstm_scratch_floats(T, B, I, H));
    float *out[2], *hl[2], *g[2][5];
    const int threads = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
        core_set_threads(k + 1);
        out[k] = new_floats(tb * H);
        hl[k] = new_floats(bh);
        g[k][0] = new_floats(tb * I);
        g[k][1] = new_floats(bh);
        g[k][2] = new_floats(H4 * I);
        g[k][3] = new_floats(H4 * H);
        g[k][4] = new_floats(H4);
        lstm_forward(out[k], hl[k], NULL, cache, p.x, p.valid, p.h0, p.c0, p.w_ih, p.w_hh,
                     p.b_ih, p.b_hh, T, B, I, H, 1);
        lstm_backward(g[k][0], g[k][1], NULL, g[k][2], g[k][3], g[k][4], NULL, p.R, p.Rh, p.Rc,
                      scratch, cache, p.x, p.valid, p.h0, p.c0, p.w_ih, p.w_hh, T, B, I, H, 1);
    }
    core_set_threads(threads);
    CHECK_CLOSE("threads: out", out[1], out[0], tb * H, 1e-6, 1e-5);
    CHECK_CLOSE("threads: h_last", hl[1], hl[0], bh, 1e-6, 1e-5);
    CHECK_CLOSE("threads: dx", g[1][0], g[0][0], tb * I, 1e-6, 1e-5);
    CHECK_CLOSE("threads: dh0", g[1][1], g[0][1], bh, 1e-6, 1e-5);
    CHECK_CLOSE("threads: dw_ih", g[1][2], g[0][2], H4 * I, 1e-6, 1e-5);
    CHECK_CLOSE("threads: dw_hh", g[1][3], g[0][3], H4 * H, 1e-6, 1e-5);
    CHECK_CLOSE("threads: db_ih", g[1][4], g[0][4], H4, 1e-6, 1e-5);
    for (int k = 0; k < 2; k++) {
        arith_free(out[k]);
        arith_free(hl[k]);
        for (int m = 0; m < 5; m++)
            arith_free(g[k][m]);
    }
    arith_free(cache);
    arith_free(scratch);
    problem_free(&p);
}

/* The gates' kernels on every dispatched path (plain, AVX2, AVX-512, as far as the CPU goes):
 * the same bits, at one thread (the products are then the same calls). H odd, so that no row
 * of gates is a whole number of vectors. */
static void test_dispatch_levels(void)
{
    enum { T = 4, B = 3, I = 5, H = 37 };
    const size_t tb = (size_t)T * B, bh = (size_t)B * H, H4 = (size_t)4 * H;
    problem p = problem_new(T, B, I, H, 0, 1, 5, 1.0f);
    float *cache = new_floats(lstm_cache_floats(T, B, H));
    float *scratch = new_floats(lstm_scratch_floats(T, B, I, H));
    float *out[3], *g[3][5];
    const int threads = omp_get_max_threads();
    core_set_threads(1);
    for (int k = 0; k < 3; k++) {
        fast_force_level(k);
        out[k] = new_floats(tb * H);
        g[k][0] = new_floats(tb * I);
        g[k][1] = new_floats(bh);
        g[k][2] = new_floats(H4 * I);
        g[k][3] = new_floats(H4 * H);
        g[k][4] = new_floats(H4);
        lstm_forward(out[k], NULL, NULL, cache, p.x, p.valid, p.h0, p.c0, p.w_ih, p.w_hh,
                     p.b_ih, p.b_hh, T, B, I, H, 0);
        lstm_backward(g[k][0], g[k][1], NULL, g[k][2], g[k][3], g[k][4], NULL, p.R, p.Rh, p.Rc,
                      scratch, cache, p.x, p.valid, p.h0, p.c0, p.w_ih, p.w_hh, T, B, I, H, 0);
    }
    fast_force_level(-1);
    core_set_threads(threads);
    const size_t len[5] = {tb * I, bh, H4 * I, H4 * H, H4};
    for (int k = 1; k < 3; k++) {
        CHECK_MSG(bitwise_equal(out[k], out[0], tb * H), "level %d: out", k);
        for (int m = 0; m < 5; m++)
            CHECK_MSG(bitwise_equal(g[k][m], g[0][m], len[m]), "level %d: gradient %d", k, m);
    }
    for (int k = 0; k < 3; k++) {
        arith_free(out[k]);
        for (int m = 0; m < 5; m++)
            arith_free(g[k][m]);
    }
    arith_free(cache);
    arith_free(scratch);
    problem_free(&p);
}

int main(void)
{
    printf("test_lstm: seed %u\n", TEST_SEED);
    rng_seed(&rng, TEST_SEED);
    core_set_threads(omp_get_max_threads());
    test_forward_reference();
    test_gradients();
    test_masking();
    test_stepping();
    test_null_biases();
    test_thread_invariance();
    test_dispatch_levels();
    return check_summary("test_lstm");
}
