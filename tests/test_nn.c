/* test_nn: every layer of nn.h. Each backward is checked against central finite differences of
 * L = sum(out * R) for a fixed random R, starting from gradients that are not zero (so the
 * backward must add); the fast attention against the reference and the decoding step; known
 * values; dropout's mask statistics; and results that must not depend on the thread count. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/core.h"
#include "nn/nn.h"
#include "nn/fastmath.h" /* fast_force_level: every dispatched path against the plain one */
#include "nn/backend/threads.h" /* omp_*: OpenMP or, without it, one thread */

#define TEST_SEED 20240611u
/* Gradient buffers start at this value, so a backward that overwrote instead of adding fails. */
#define GRAD_PREFILL 0.5f
#define FD_EPS 1e-3f
#define FD_ATOL 1e-3
#define FD_RTOL 1e-2

static rng_state rng;

static float *new_floats(size_t n)
{
    float *p = arith_alloc(n * sizeof(float));
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

/* Undoes GRAD_PREFILL so that what is left is the gradient the backward added. */
static void remove_prefill(float *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        g[i] -= GRAD_PREFILL;
}

static double dot_d(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

static int bitwise_equal(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof(float)) == 0;
}

typedef double (*loss_fn)(void *ctx);

/* Checks grad (n floats) against the central differences of loss() with respect to x. */
static void check_grad(const char *what, float *x, const float *grad, size_t n, loss_fn loss,
                       void *ctx, double atol, double rtol)
{
    float *num = new_floats(n);
    for (size_t i = 0; i < n; i++) {
        const float saved = x[i];
        const float up = saved + FD_EPS, down = saved - FD_EPS;
        x[i] = up;
        double lp = loss(ctx);
        x[i] = down;
        double lm = loss(ctx);
        x[i] = saved;
        num[i] = (float)((lp - lm) / ((double)up - (double)down));
    }
    CHECK_CLOSE(what, grad, num, n, atol, rtol);
    arith_free(num);
}

/* ----------------------------------------------------------------------------- embeddings */

typedef struct {
    float *out, *wte, *R;
    const int32_t *ids;
    int N, C;
    float scale;
} embedding_ctx;

static double embedding_loss(void *p)
{
    embedding_ctx *c = p;
    embedding_forward(c->out, c->ids, c->wte, c->N, c->C, c->scale);
    return dot_d(c->out, c->R, (size_t)c->N * c->C);
}

static void test_embedding(void)
{
    enum { V = 5, C = 6, N = 7 };
    const int32_t ids[N] = {3, 0, 3, 4, 1, 3, 0}; /* repeats: the backward must add them all */
    embedding_ctx c = {new_floats(N * C), new_normal(V * C, 1.0f), new_normal(N * C, 1.0f), ids,
                       N, C, 1.7f};
    embedding_forward(c.out, ids, c.wte, N, C, c.scale);
    CHECK(c.out[2 * C + 4] == 1.7f * c.wte[3 * C + 4]);
    float *dwte = new_filled(V * C, GRAD_PREFILL);
    embedding_backward(dwte, c.R, ids, N, C, c.scale);
    remove_prefill(dwte, V * C);
    /* row 2 is never looked up: its gradient stays exactly 0 */
    for (int k = 0; k < C; k++)
        CHECK(dwte[2 * C + k] == 0.0f);
    check_grad("embedding dwte", c.wte, dwte, V * C, embedding_loss, &c, FD_ATOL, FD_RTOL);
    embedding_backward(NULL, c.R, ids, N, C, c.scale);
    arith_free(c.out);
    arith_free(c.wte);
    arith_free(c.R);
    arith_free(dwte);
}

typedef struct {
    float *x, *x0, *table, *R;
    const int32_t *pos;
    int N, C;
} positional_ctx;

static double positional_loss(void *p)
{
    positional_ctx *c = p;
    memcpy(c->x, c->x0, (size_t)c->N * c->C * sizeof(float));
    positional_add_forward(c->x, c->table, c->pos, c->N, c->C);
    return dot_d(c->x, c->R, (size_t)c->N * c->C);
}

static void test_positional(void)
{
    enum { TMAX = 4, C = 6, N = 7 };
    const int32_t pos[N] = {0, 1, 2, 0, 1, 2, 3};
    positional_ctx c = {new_floats(N * C), new_normal(N * C, 1.0f), new_normal(TMAX * C, 1.0f),
                        new_normal(N * C, 1.0f), pos, N, C};
    positional_loss(&c);
    CHECK(c.x[4 * C + 2] == c.x0[4 * C + 2] + c.table[1 * C + 2]);
    float *dtable = new_filled(TMAX * C, GRAD_PREFILL);
    positional_add_backward(dtable, c.R, pos, N, C);
    remove_prefill(dtable, TMAX * C);
    check_grad("positional_add dtable", c.table, dtable, TMAX * C, positional_loss, &c, FD_ATOL,
               FD_RTOL);
    arith_free(c.x);
    arith_free(c.x0);
    arith_free(c.table);
    arith_free(c.R);
    arith_free(dtable);

    /* Sinusoidal table: pe[t][2i] = sin(t * 10000^(-2i/C)), pe[t][2i+1] = the cosine. */
    enum { T = 5, CS = 8 };
    float pe[T * CS];
    sinusoidal_table(pe, T, CS);
    CHECK_MSG(fabsf(pe[1 * CS + 0] - (float)sin(1.0)) < 1e-7f, "pe[1][0] = %.9g", pe[CS]);
    CHECK_MSG(fabsf(pe[1 * CS + 1] - (float)cos(1.0)) < 1e-7f, "pe[1][1] = %.9g", pe[CS + 1]);
    CHECK(pe[0] == 0.0f && pe[1] == 1.0f);
    /* t = 3, 2i = 4: angle 3 * 10000^(-1/2) = 0.03 */
    CHECK_MSG(fabsf(pe[3 * CS + 4] - (float)sin(0.03)) < 1e-7f, "pe[3][4] = %.9g", pe[3 * CS + 4]);
    CHECK_MSG(fabsf(pe[3 * CS + 5] - (float)cos(0.03)) < 1e-7f, "pe[3][5] = %.9g", pe[3 * CS + 5]);
}

/* --------------------------------------------------------------------------------- linear */

typedef struct {
    float *out, *inp, *w, *b, *R;
    int N, I, O;
    bool conv1d; /* w is (I,O), GPT-2's layout */
} linear_ctx;

static double linear_loss(void *p)
{
    linear_ctx *c = p;
    if (c->conv1d)
        conv1d_forward(c->out, c->inp, c->w, c->b, c->N, c->I, c->O);
    else
        linear_forward(c->out, c->inp, c->w, c->b, c->N, c->I, c->O);
    return dot_d(c->out, c->R, (size_t)c->N * c->O);
}

static void test_linear(void)
{
    enum { N = 5, I = 4, O = 3 };
    linear_ctx c = {new_floats(N * O), new_normal(N * I, 1.0f), new_normal(O * I, 1.0f),
                    new_normal(O, 1.0f), new_normal(N * O, 1.0f), N, I, O, false};
    /* out[1][2] by hand */
    linear_forward(c.out, c.inp, c.w, c.b, N, I, O);
    double want = c.b[2];
    for (int i = 0; i < I; i++)
        want += (double)c.inp[1 * I + i] * c.w[2 * I + i];
    CHECK_MSG(fabs(c.out[1 * O + 2] - want) < 1e-5, "out[1][2] = %.8g, want %.8g", c.out[5], want);
    linear_forward(c.out, c.inp, c.w, NULL, N, I, O);
    CHECK_MSG(fabs(c.out[1 * O + 2] - (want - c.b[2])) < 1e-5, "no bias: %.8g", c.out[5]);

    float *dinp = new_filled(N * I, GRAD_PREFILL), *dw = new_filled(O * I, GRAD_PREFILL);
    float *db = new_filled(O, GRAD_PREFILL);
    linear_backward(dinp, dw, db, c.R, c.inp, c.w, N, I, O);
    remove_prefill(dinp, N * I);
    remove_prefill(dw, O * I);
    remove_prefill(db, O);
    check_grad("linear dinp", c.inp, dinp, N * I, linear_loss, &c, FD_ATOL, FD_RTOL);
    check_grad("linear dw", c.w, dw, O * I, linear_loss, &c, FD_ATOL, FD_RTOL);
    check_grad("linear db", c.b, db, O, linear_loss, &c, FD_ATOL, FD_RTOL);
    /* NULL gradients are skipped, the others still computed */
    float *db2 = new_floats(O);
    linear_backward(NULL, NULL, db2, c.R, c.inp, c.w, N, I, O);
    CHECK_CLOSE("linear db alone", db2, db, O, 1e-6, 1e-5);
    arith_free(db2);
    arith_free(c.out);
    arith_free(c.inp);
    arith_free(c.w);
    arith_free(c.b);
    arith_free(c.R);
    arith_free(dinp);
    arith_free(dw);
    arith_free(db);
}

/* Conv1D (w stored (I,O)) must be linear with the transposed weight, gradients included. */
static void test_conv1d(void)
{
    enum { N = 5, I = 4, O = 3 };
    linear_ctx c = {new_floats(N * O), new_normal(N * I, 1.0f), new_normal(I * O, 1.0f),
                    new_normal(O, 1.0f), new_normal(N * O, 1.0f), N, I, O, true};
    float *wt = new_floats(O * I), *ref = new_floats(N * O);
    for (int i = 0; i < I; i++)
        for (int o = 0; o < O; o++)
            wt[o * I + i] = c.w[i * O + o];
    conv1d_forward(c.out, c.inp, c.w, c.b, N, I, O);
    linear_forward(ref, c.inp, wt, c.b, N, I, O);
    CHECK_CLOSE("conv1d = linear with w^T", c.out, ref, N * O, 1e-6, 1e-6);
    double want = c.b[1];
    for (int i = 0; i < I; i++)
        want += (double)c.inp[3 * I + i] * c.w[i * O + 1];
    CHECK_MSG(fabs(c.out[3 * O + 1] - want) < 1e-5, "out[3][1] = %.8g, want %.8g", c.out[10],
              want);

    float *dinp = new_filled(N * I, GRAD_PREFILL), *dw = new_filled(I * O, GRAD_PREFILL);
    float *db = new_filled(O, GRAD_PREFILL);
    conv1d_backward(dinp, dw, db, c.R, c.inp, c.w, N, I, O);
    remove_prefill(dinp, N * I);
    remove_prefill(dw, I * O);
    remove_prefill(db, O);
    check_grad("conv1d dinp", c.inp, dinp, N * I, linear_loss, &c, FD_ATOL, FD_RTOL);
    check_grad("conv1d dw", c.w, dw, I * O, linear_loss, &c, FD_ATOL, FD_RTOL);
    check_grad("conv1d db", c.b, db, O, linear_loss, &c, FD_ATOL, FD_RTOL);
    /* a frozen weight: no dw, dinp still computed */
    float *dinp2 = new_floats(N * I);
    conv1d_backward(dinp2, NULL, NULL, c.R, c.inp, c.w, N, I, O);
    CHECK_CLOSE("conv1d dinp without dw", dinp2, dinp, N * I, 1e-6, 1e-5);
    arith_free(dinp2);
    arith_free(wt);
    arith_free(ref);
    arith_free(c.out);
    arith_free(c.inp);
    arith_free(c.w);
    arith_free(c.b);
    arith_free(c.R);
    arith_free(dinp);
    arith_free(dw);
    arith_free(db);
}

/* ------------------------------------------------------------------------------ layernorm */

typedef struct {
    float *out, *mean, *rstd, *inp, *w, *b, *R;
    int N, C;
} layernorm_ctx;

static double layernorm_loss(void *p)
{
    layernorm_ctx *c = p;
    layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->C);
    return dot_d(c->out, c->R, (size_t)c->N * c->C);
}

static void test_layernorm(void)
{
    /* known values: [1, 2, 3] -> [-1.2247, 0, 1.2247] */
    {
        const float x[3] = {1, 2, 3}, w[3] = {1, 1, 1}, b[3] = {0, 0, 0};
        const float want[3] = {-1.2247357f, 0.0f, 1.2247357f};
        float out[3], mean, rstd;
        layernorm_forward(out, &mean, &rstd, x, w, b, 1, 3);
        CHECK_CLOSE("layernorm [1,2,3]", out, want, 3, 1e-6, 1e-6);
        CHECK(mean == 2.0f);
    }
    enum { N = 3, C = 7 };
    layernorm_ctx c = {new_floats(N * C), new_floats(N), new_floats(N), new_normal(N * C, 1.0f),
                       new_normal(C, 1.0f), new_normal(C, 1.0f), new_normal(N * C, 1.0f), N, C};
    for (int k = 0; k < C; k++)
        c.w[k] += 1.0f;
    layernorm_loss(&c);
    float *dinp = new_filled(N * C, GRAD_PREFILL), *dw = new_filled(C, GRAD_PREFILL);
    float *db = new_filled(C, GRAD_PREFILL);
    layernorm_backward(dinp, dw, db, c.R, c.inp, c.w, c.mean, c.rstd, N, C);
    remove_prefill(dinp, N * C);
    remove_prefill(dw, C);
    remove_prefill(db, C);
    check_grad("layernorm dinp", c.inp, dinp, N * C, layernorm_loss, &c, FD_ATOL, FD_RTOL);
    check_grad("layernorm dw", c.w, dw, C, layernorm_loss, &c, FD_ATOL, FD_RTOL);
    check_grad("layernorm db", c.b, db, C, layernorm_loss, &c, FD_ATOL, FD_RTOL);
    /* NULL gradients skipped */
    float *dw2 = new_floats(C);
    layernorm_backward(NULL, dw2, NULL, c.R, c.inp, c.w, c.mean, c.rstd, N, C);
    CHECK_CLOSE("layernorm dw alone", dw2, dw, C, 1e-6, 1e-5);
    arith_free(dw2);
    arith_free(c.out);
    arith_free(c.mean);
    arith_free(c.rstd);
    arith_free(c.inp);
    arith_free(c.w);
    arith_free(c.b);
    arith_free(c.R);
    arith_free(dinp);
    arith_free(dw);
    arith_free(db);
}

/* ---------------------------------------------------------------------------- activations */

enum { ACT_RELU, ACT_GELU, ACT_GELU_TANH };

typedef struct {
    int kind;
    float *out, *inp, *R;
    size_t n;
} act_ctx;

static void act_forward(int kind, float *out, const float *inp, size_t n)
{
    if (kind == ACT_RELU)
        relu_forward(out, inp, n);
    else if (kind == ACT_GELU)
        gelu_forward(out, inp, n);
    else
        gelu_tanh_forward(out, inp, n);
}

static void act_backward(int kind, float *dinp, const float *dout, const float *inp, size_t n)
{
    if (kind == ACT_RELU)
        relu_backward(dinp, dout, inp, n);
    else if (kind == ACT_GELU)
        gelu_backward(dinp, dout, inp, n);
    else
        gelu_tanh_backward(dinp, dout, inp, n);
}

static double act_loss(void *p)
{
    act_ctx *c = p;
    act_forward(c->kind, c->out, c->inp, c->n);
    return dot_d(c->out, c->R, c->n);
}

static void test_activations(void)
{
    float x = 1.0f, y;
    gelu_forward(&y, &x, 1);
    CHECK_MSG(fabsf(y - 0.8413447f) < 1e-6f, "gelu(1) = %.8g", y);
    gelu_tanh_forward(&y, &x, 1);
    CHECK_MSG(fabsf(y - 0.8411920f) < 1e-6f, "gelu_tanh(1) = %.8g", y);
    x = -2.0f;
    relu_forward(&y, &x, 1);
    CHECK(y == 0.0f);

    const char *names[3] = {"relu dinp", "gelu dinp", "gelu_tanh dinp"};
    enum { N = 64 };
    for (int kind = ACT_RELU; kind <= ACT_GELU_TANH; kind++) {
        act_ctx c = {kind, new_floats(N), new_normal(N, 2.0f), new_normal(N, 1.0f), N};
        /* keep relu inputs off its kink */
        for (int i = 0; i < N; i++)
            if (fabsf(c.inp[i]) < 0.05f)
                c.inp[i] = c.inp[i] < 0 ? -0.05f : 0.05f;
        float *dinp = new_filled(N, GRAD_PREFILL);
        act_backward(kind, dinp, c.R, c.inp, N);
        remove_prefill(dinp, N);
        check_grad(names[kind], c.inp, dinp, N, act_loss, &c, FD_ATOL, FD_RTOL);
        arith_free(c.out);
        arith_free(c.inp);
        arith_free(c.R);
        arith_free(dinp);
    }

    /* large arrays take the threaded path; the result must match element by element */
    enum { BIG = 100000 };
    float *in = new_normal(BIG, 2.0f), *out = new_floats(BIG);
    gelu_forward(out, in, BIG);
    int bad = 0;
    for (int i = 0; i < BIG; i += 997) {
        float one;
        gelu_forward(&one, &in[i], 1);
        bad += one != out[i];
    }
    CHECK_EQ_INT(bad, 0);
    /* add_forward with out aliasing a */
    float a[3] = {1, 2, 3}, b[3] = {10, 20, 30};
    add_forward(a, a, b, 3);
    CHECK(a[0] == 11 && a[1] == 22 && a[2] == 33);
    arith_free(in);
    arith_free(out);
}

/* -------------------------------------------------------------------------------- dropout */

typedef struct {
    float *out, *inp, *R;
    size_t n;
    float p;
    uint64_t seed;
} dropout_ctx;

static double dropout_loss(void *q)
{
    dropout_ctx *c = q;
    dropout_forward(c->out, NULL, c->inp, c->n, c->p, c->seed);
    return dot_d(c->out, c->R, c->n);
}

static void test_dropout(void)
{
    enum { N = 50 };
    dropout_ctx c = {new_floats(N), new_normal(N, 1.0f), new_normal(N, 1.0f), N, 0.3f, 77};
    float *dinp = new_filled(N, GRAD_PREFILL);
    dropout_backward(dinp, c.R, NULL, N, c.p, c.seed);
    remove_prefill(dinp, N);
    check_grad("dropout dinp", c.inp, dinp, N, dropout_loss, &c, FD_ATOL, FD_RTOL);
    /* p = 0: a copy forward, a plain add backward */
    float *copy = new_floats(N), *acc = new_filled(N, 1.0f);
    dropout_forward(copy, NULL, c.inp, N, 0.0f, 77);
    CHECK(bitwise_equal(copy, c.inp, N));
    dropout_backward(acc, c.R, NULL, N, 0.0f, 77);
    int bad = 0;
    for (int i = 0; i < N; i++)
        bad += acc[i] != 1.0f + c.R[i];
    CHECK_EQ_INT(bad, 0);
    arith_free(copy);
    arith_free(acc);
    arith_free(c.out);
    arith_free(c.inp);
    arith_free(c.R);
    arith_free(dinp);

    /* the kept fraction is about 1 - p, kept values are scaled by 1/(1-p) */
    enum { BIG = 100000 };
    const float p = 0.3f;
    float *ones = new_filled(BIG, 1.0f), *a = new_floats(BIG), *b = new_floats(BIG);
    dropout_forward(a, NULL, ones, BIG, p, 12345);
    int kept = 0, wrong_value = 0;
    for (int i = 0; i < BIG; i++) {
        kept += a[i] != 0.0f;
        wrong_value += a[i] != 0.0f && a[i] != 1.0f / (1.0f - p);
    }
    /* binomial sd = sqrt(1e5 * 0.21) = 145: 6 sd is 870 */
    CHECK_MSG(abs(kept - 70000) < 870, "kept %d of %d with p = %.2f", kept, BIG, p);
    CHECK_EQ_INT(wrong_value, 0);
    /* same seed, same mask; another seed, another mask; in place equals out of place */
    dropout_forward(b, NULL, ones, BIG, p, 12345);
    CHECK(bitwise_equal(a, b, BIG));
    dropout_forward(b, NULL, ones, BIG, p, 12346);
    CHECK(!bitwise_equal(a, b, BIG));
    memcpy(b, ones, BIG * sizeof(float));
    dropout_forward(b, NULL, b, BIG, p, 12345);
    CHECK(bitwise_equal(a, b, BIG));
    /* the thread count does not change the mask */
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    dropout_forward(a, NULL, ones, BIG, p, 999);
    omp_set_num_threads(2);
    dropout_forward(b, NULL, ones, BIG, p, 999);
    CHECK(bitwise_equal(a, b, BIG));
    memset(a, 0, BIG * sizeof(float));
    memset(b, 0, BIG * sizeof(float));
    omp_set_num_threads(1);
    dropout_backward(a, ones, NULL, BIG, p, 999);
    omp_set_num_threads(2);
    dropout_backward(b, ones, NULL, BIG, p, 999);
    CHECK(bitwise_equal(a, b, BIG));
    omp_set_num_threads(threads);
    /* a saved mask gives the same backward as drawing again, and marks the kept elements */
    uint8_t *mask = malloc(BIG);
    dropout_forward(b, mask, ones, BIG, p, 4242);
    int mask_wrong = 0;
    for (int i = 0; i < BIG; i++)
        mask_wrong += mask[i] != (b[i] != 0.0f);
    CHECK_EQ_INT(mask_wrong, 0);
    memset(a, 0, BIG * sizeof(float));
    memset(b, 0, BIG * sizeof(float));
    dropout_backward(a, ones, NULL, BIG, p, 4242);
    dropout_backward(b, ones, mask, BIG, p, 4242);
    CHECK(bitwise_equal(a, b, BIG));
    free(mask);
    arith_free(ones);
    arith_free(a);
    arith_free(b);
}

/* ----------------------------------------------------------------------------------- rope */

typedef struct {
    float *qkv, *x, *R, *cos_tab, *sin_tab;
    const int32_t *pos;
    int N, C, H;
} rope_ctx;

static double rope_loss(void *p)
{
    rope_ctx *c = p;
    memcpy(c->qkv, c->x, (size_t)c->N * 3 * c->C * sizeof(float));
    rope_forward(c->qkv, c->pos, c->cos_tab, c->sin_tab, c->N, c->C, c->H);
    return dot_d(c->qkv, c->R, (size_t)c->N * 3 * c->C);
}

static void test_rope(void)
{
    enum { TMAX = 6, N = 5, C = 8, H = 2, HD = C / H, HALF = HD / 2 };
    const float base = 10000.0f;
    const int32_t pos[N] = {0, 1, 2, 5, 3};
    rope_ctx c = {new_floats(N * 3 * C), new_normal(N * 3 * C, 1.0f), new_normal(N * 3 * C, 1.0f),
                  new_floats(TMAX * HALF), new_floats(TMAX * HALF), pos, N, C, H};
    rope_tables(c.cos_tab, c.sin_tab, TMAX, HD, base);
    /* angle(t, i) = t * base^(-2i/hd): t = 3, i = 1 gives 3 / 100 */
    CHECK_MSG(fabsf(c.cos_tab[3 * HALF + 1] - (float)cos(0.03)) < 1e-7f, "cos %.9g",
              c.cos_tab[3 * HALF + 1]);
    CHECK_MSG(fabsf(c.sin_tab[5 * HALF + 0] - (float)sin(5.0)) < 1e-7f, "sin %.9g",
              c.sin_tab[5 * HALF]);

    rope_loss(&c);
    /* position 0 is the identity; v is never touched */
    CHECK(bitwise_equal(c.qkv, c.x, 2 * C));
    CHECK(bitwise_equal(c.qkv + 2 * C, c.x + 2 * C, C));
    /* row 1 (position 1), head 1 of k, pair i = 0:
     * (a, b) -> (a cos 1 - b sin 1, a sin 1 + b cos 1) */
    {
        const float *x = c.x + 1 * 3 * C + C + HD, *y = c.qkv + 1 * 3 * C + C + HD;
        double a = x[0], b = x[HALF];
        double want0 = a * cos(1.0) - b * sin(1.0), want1 = a * sin(1.0) + b * cos(1.0);
        CHECK_MSG(fabs(y[0] - want0) < 1e-5 && fabs(y[HALF] - want1) < 1e-5, "%g %g vs %g %g",
                  y[0], y[HALF], want0, want1);
    }
    /* the backward is the transpose: <rope(x), g> == <x, rope_backward(g)> */
    float *g = new_floats(N * 3 * C);
    memcpy(g, c.R, N * 3 * C * sizeof(float));
    rope_backward(g, pos, c.cos_tab, c.sin_tab, N, C, H);
    double lhs = dot_d(c.qkv, c.R, N * 3 * C), rhs = dot_d(c.x, g, N * 3 * C);
    CHECK_MSG(fabs(lhs - rhs) < 1e-5 * (1.0 + fabs(lhs)),
              "<rope x, g> = %.9g, <x, rope^T g> = %.9g", lhs, rhs);
    check_grad("rope dqkv", c.x, g, N * 3 * C, rope_loss, &c, FD_ATOL, FD_RTOL);
    arith_free(g);
    arith_free(c.qkv);
    arith_free(c.x);
    arith_free(c.R);
    arith_free(c.cos_tab);
    arith_free(c.sin_tab);
}

/* ------------------------------------------------------------------------------ attention */

typedef struct {
    float *out, *att, *qkv, *R;
    const int32_t *start;
    int B, T, C, H;
} attention_ctx;

static double attention_loss(void *p)
{
    attention_ctx *c = p;
    attention_forward(c->out, c->att, c->qkv, c->start, c->B, c->T, c->C, c->H);
    return dot_d(c->out, c->R, (size_t)c->B * c->T * c->C);
}

/* B = 2 sequences of T columns, C channels in H heads. */
static void test_attention_grad_shape(const char *what, const int32_t *start, int T, int C, int H)
{
    enum { B = 2 };
    attention_ctx c = {new_floats(B * T * C), new_floats(B * H * T * T),
                       new_normal(B * T * 3 * C, 1.0f), new_normal(B * T * C, 1.0f), start, B, T,
                       C, H};
    attention_loss(&c);
    float *dqkv = new_filled(B * T * 3 * C, GRAD_PREFILL);
    attention_backward(dqkv, c.R, c.qkv, c.att, start, B, T, C, H);
    remove_prefill(dqkv, B * T * 3 * C);
    check_grad(what, c.qkv, dqkv, B * T * 3 * C, attention_loss, &c, FD_ATOL, FD_RTOL);
    arith_free(c.out);
    arith_free(c.att);
    arith_free(c.qkv);
    arith_free(c.R);
    arith_free(dqkv);
}

static void test_attention_grad(const char *what, const int32_t *start)
{
    test_attention_grad_shape(what, start, 5, 8, 2);
}

/* Decoding every column from caches of width 4 and 16 (the heads interleaved, written by
 * attention_cache_store: even rows a whole sequence at once, odd rows a column at a time, as
 * prefill and decoding steps write them) gives out, the forward's (B, T, C), bit for bit.
 * table: the bias (P, and the (B, T) ids pos; columns: keys' ids from the columns), or NULL. */
static void check_decode_widths(const float *qkv, const float *out, const int32_t *start,
                                const float *table, int P, const int32_t *pos, bool columns,
                                int B, int T, int C, int H)
{
    const int hd = C / H, Tmax = T + 3;
    if (hd != 8 && hd != 16 && hd != 32 && hd != 64)
        return;
    for (int W = 4; W <= 16; W *= 4) {
        if (H % W)
            continue;
        float *k_cache = new_filled((size_t)B * Tmax * C, 1e30f); /* past t: never read */
        float *v_cache = new_filled((size_t)B * Tmax * C, 1e30f);
        float *dec = new_floats((size_t)B * C);
        int32_t *qpos = malloc((size_t)B * sizeof *qpos);
        const size_t row = (size_t)Tmax * C;
        for (int b = 0; b < B; b++) {
            const float *q0 = qkv + (size_t)b * T * 3 * C;
            if (b % 2 == 0)
                attention_cache_store(k_cache + b * row, v_cache + b * row, q0, 3 * (size_t)C,
                                      T, 0, Tmax, C, H, W);
            else
                for (int t = 0; t < T; t++)
                    attention_cache_store(k_cache + b * row, v_cache + b * row,
                                          q0 + (size_t)t * 3 * C, 0, 1, t, Tmax, C, H, W);
        }
        int bad = 0;
        /* width 16 also with the four-lanes kernels, as a CPU without AVX-512 would run it */
        for (int narrow = 0; narrow < (W == 16 ? 2 : 1); narrow++) {
            fast_force_level(narrow ? FAST_LEVEL_AVX2 : -1);
            for (int t = 0; t < T; t++) {
                for (int b = 0; b < B; b++)
                    qpos[b] = pos ? pos[b * T + t] : 0;
                const attn_bias dbias = {table, P, qpos, columns ? NULL : pos, T};
                attention_decode_biased(dec, qkv + (size_t)t * 3 * C, T * 3 * C, k_cache,
                                        v_cache, start, table ? &dbias : NULL, B, t, Tmax, C,
                                        H, W);
                for (int b = 0; b < B; b++)
                    bad += !bitwise_equal(dec + (size_t)b * C, out + ((size_t)b * T + t) * C,
                                          C);
            }
        }
        fast_force_level(-1);
        CHECK_MSG(bad == 0, "decoding from a cache of width %d differs from the forward in %d "
                  "(row, column) pairs: B=%d T=%d C=%d H=%d bias=%s", W, bad, B, T, C, H,
                  table ? (columns ? "columns" : "random") : "none");
        free(qpos);
        arith_free(k_cache);
        arith_free(v_cache);
        arith_free(dec);
    }
}

/* The fast forward against the reference on one shape; scale > 1 makes peaked softmaxes, and
 * scores so large that their float rounding needs a looser tolerance tol. */
static void test_attention_shape(int B, int T, int C, int H, const int32_t *start, float scale,
                                 double tol)
{
    const size_t n_qkv = (size_t)B * T * 3 * C, n_out = (size_t)B * T * C;
    const size_t n_att = (size_t)B * H * T * T;
    float *qkv = new_normal(n_qkv, scale);
    float *out = new_filled(n_out, 7.0f), *att = new_filled(n_att, 7.0f);
    float *ref_out = new_floats(n_out), *ref_att = new_floats(n_att);
    attention_forward(out, att, qkv, start, B, T, C, H);
    attention_forward_reference(ref_out, ref_att, qkv, start, B, T, C, H);
    char what[160];
    snprintf(what, sizeof what, "attention out B=%d T=%d C=%d H=%d start=%s scale=%g", B, T, C, H,
             start ? "yes" : "no", scale);
    CHECK_CLOSE(what, out, ref_out, n_out, tol, tol);
    snprintf(what, sizeof what, "attention att B=%d T=%d C=%d H=%d start=%s scale=%g", B, T, C, H,
             start ? "yes" : "no", scale);
    CHECK_CLOSE(what, att, ref_att, n_att, tol / 10, tol);
    /* masked entries are exactly 0, every row sums to 1 */
    int bad_mask = 0, bad_sum = 0;
    for (int b = 0; b < B; b++) {
        const int lo = start && start[b] > 0 ? start[b] : 0;
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++) {
                const float *row = att + (((size_t)b * H + h) * T + t) * T;
                double sum = 0.0;
                for (int j = 0; j < T; j++) {
                    const int seen = t < lo ? j == t : (j >= lo && j <= t);
                    bad_mask += !seen && row[j] != 0.0f;
                    sum += row[j];
                }
                bad_sum += fabs(sum - 1.0) > 1e-5;
            }
    }
    CHECK_EQ_INT(bad_mask, 0);
    CHECK_EQ_INT(bad_sum, 0);

    /* decoding one column at a time from a cache gives the forward's rows: dec and want are
     * (T, B, C) */
    const int Tmax = T + 3;
    float *k_cache = new_filled((size_t)B * Tmax * C, 1e30f); /* columns past t: never read */
    float *v_cache = new_filled((size_t)B * Tmax * C, 1e30f);
    float *dec = new_floats(n_out), *want = new_floats(n_out);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *row = qkv + ((size_t)b * T + t) * 3 * C;
            const int hd = C / H;
            for (int h = 0; h < H; h++) { /* cache layout (B, H, Tmax, hd) */
                size_t at = (((size_t)b * H + h) * Tmax + t) * hd;
                memcpy(k_cache + at, row + C + h * hd, hd * sizeof(float));
                memcpy(v_cache + at, row + 2 * C + h * hd, hd * sizeof(float));
            }
            memcpy(want + ((size_t)t * B + b) * C, out + ((size_t)b * T + t) * C,
                   C * sizeof(float));
        }
    for (int t = 0; t < T; t++)
        attention_decode(dec + (size_t)t * B * C, qkv + (size_t)t * 3 * C, T * 3 * C, k_cache,
                         v_cache, start, B, t, Tmax, C, H);
    snprintf(what, sizeof what, "attention_decode B=%d T=%d C=%d H=%d start=%s scale=%g", B, T,
             C, H, start ? "yes" : "no", scale);
    CHECK_CLOSE(what, dec, want, n_out, 1e-6, 1e-6);
    check_decode_widths(qkv, out, start, NULL, 0, NULL, false, B, T, C, H);
    arith_free(k_cache);
    arith_free(v_cache);
    arith_free(dec);
    arith_free(want);
    arith_free(qkv);
    arith_free(out);
    arith_free(att);
    arith_free(ref_out);
    arith_free(ref_att);
}

static void test_attention(void)
{
    const int32_t start_a[2] = {0, 2}, start_b[2] = {4, 1}, start_c[3] = {0, 3, 9};
    test_attention_grad("attention dqkv", NULL);
    test_attention_grad("attention dqkv start {0,2}", start_a);
    test_attention_grad("attention dqkv start {4,1}", start_b);
    /* the kernels for head sizes 8 to 64: four heads at a time (H a multiple of 4, T <= 32),
     * one head at a time in blocks (the other H, longer T) */
    test_attention_grad_shape("attention dqkv 4 heads of 8", start_a, 6, 32, 4);
    test_attention_grad_shape("attention dqkv 4 heads of 16 start {4,1}", start_b, 7, 64, 4);
    test_attention_grad_shape("attention dqkv 2 heads of 8", start_b, 6, 16, 2);
    test_attention_grad_shape("attention dqkv T 35, heads of 8 in blocks", start_a, 35, 32, 4);

    test_attention_shape(2, 5, 8, 2, NULL, 1.0f, 1e-5);
    test_attention_shape(2, 5, 8, 2, start_a, 1.0f, 1e-5);
    test_attention_shape(1, 1, 8, 2, NULL, 1.0f, 1e-5);
    test_attention_shape(3, 1, 8, 2, start_c, 1.0f, 1e-5);
    test_attention_shape(3, 7, 12, 3, start_c, 1.0f, 1e-5);   /* hd = 4: the generic path */
    test_attention_shape(3, 9, 32, 4, start_c, 1.0f, 1e-5);   /* hd = 8 */
    test_attention_shape(2, 6, 32, 2, start_a, 1.0f, 1e-5);   /* hd = 16 */
    test_attention_shape(2, 6, 64, 2, NULL, 1.0f, 1e-5);      /* hd = 32 */
    test_attention_shape(2, 4, 64, 1, start_b, 1.0f, 1e-5);   /* hd = 64 */
    test_attention_shape(2, 23, 48, 2, start_a, 1.0f, 1e-5);  /* hd = 24: generic */
    test_attention_shape(2, 22, 128, 16, start_b, 1.0f, 1e-5); /* the target model's shape */
    test_attention_shape(2, 21, 128, 16, start_a, 1.0f, 1e-5);
    test_attention_shape(2, 7, 64, 4, start_b, 1.0f, 1e-5);    /* 4 heads of 16 */
    test_attention_shape(1, 9, 128, 4, NULL, 1.0f, 1e-5);      /* 4 heads of 32 */
    test_attention_shape(2, 5, 256, 4, start_a, 1.0f, 1e-5);   /* 4 heads of 64 */
    test_attention_shape(2, 40, 64, 8, start_b, 1.0f, 1e-5);   /* T past 32: blocks */
    test_attention_shape(2, 22, 128, 2, start_a, 1.0f, 1e-5);  /* 2 heads of 64: blocks */
    /* scores ~100 apart: exp underflows; float scores are off by ~1e-5 of their size */
    test_attention_shape(2, 12, 32, 4, start_a, 6.0f, 1e-4);

    /* results do not depend on the thread count */
    enum { B = 4, T = 9, C = 32, H = 4 };
    const int32_t start[B] = {0, 2, 5, 1};
    float *qkv = new_normal(B * T * 3 * C, 1.0f), *dout = new_normal(B * T * C, 1.0f);
    float *out1 = new_floats(B * T * C), *out2 = new_floats(B * T * C);
    float *att1 = new_floats(B * H * T * T), *att2 = new_floats(B * H * T * T);
    float *d1 = new_floats(B * T * 3 * C), *d2 = new_floats(B * T * 3 * C);
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    attention_forward(out1, att1, qkv, start, B, T, C, H);
    attention_backward(d1, dout, qkv, att1, start, B, T, C, H);
    omp_set_num_threads(2);
    attention_forward(out2, att2, qkv, start, B, T, C, H);
    attention_backward(d2, dout, qkv, att2, start, B, T, C, H);
    omp_set_num_threads(threads);
    CHECK(bitwise_equal(out1, out2, B * T * C));
    CHECK(bitwise_equal(att1, att2, B * H * T * T));
    CHECK(bitwise_equal(d1, d2, B * T * 3 * C));
    arith_free(qkv);
    arith_free(dout);
    arith_free(out1);
    arith_free(out2);
    arith_free(att1);
    arith_free(att2);
    arith_free(d1);
    arith_free(d2);
}

/* Sixteen heads at a time (AVX-512, H a multiple of 16) against four at a time, or one head in
 * blocks of sixteen keys (AVX-512) against blocks of four, and against the reference: the
 * same arithmetic on every lane, so the forward's out and att and the backward's dqkv (bias
 * gradient included) are the same bits. On a CPU without AVX-512 both runs take the same
 * kernels, and the comparison holds trivially. */
static void test_attention_widths_shape(int B, int T, int C, int H, const int32_t *start,
                                        bool biased)
{
    enum { P = 12 };
    const size_t n_qkv = (size_t)B * T * 3 * C, n_out = (size_t)B * T * C;
    const size_t n_att = (size_t)B * H * T * T, n_tab = (size_t)H * P * P;
    float *qkv = new_normal(n_qkv, 1.0f), *dout = new_normal(n_out, 1.0f);
    float *table = new_normal(n_tab, 0.5f);
    int32_t *pos = arith_alloc((size_t)B * T * sizeof *pos);
    for (int i = 0; i < B * T; i++)
        pos[i] = (int32_t)rng_below(&rng, P);
    const attn_bias bias = {table, P, pos, NULL, 0};
    float *out[2], *att[2], *dqkv[2], *dtab[2];
    for (int k = 0; k < 2; k++) {
        fast_force_level(k == 0 ? FAST_LEVEL_AVX2 : -1);
        out[k] = new_floats(n_out), att[k] = new_filled(n_att, 7.0f);
        dqkv[k] = new_filled(n_qkv, GRAD_PREFILL), dtab[k] = new_filled(n_tab, GRAD_PREFILL);
        if (biased) {
            attention_forward_biased(out[k], att[k], qkv, start, &bias, B, T, C, H);
            attention_backward_biased(dqkv[k], dtab[k], dout, qkv, att[k], start, &bias, B, T,
                                      C, H);
        } else {
            attention_forward(out[k], att[k], qkv, start, B, T, C, H);
            attention_backward(dqkv[k], dout, qkv, att[k], start, B, T, C, H);
        }
    }
    fast_force_level(-1);
    char what[160];
    snprintf(what, sizeof what, "attention widths B=%d T=%d C=%d H=%d start=%s bias=%d", B, T,
             C, H, start ? "yes" : "no", biased);
    CHECK_MSG(bitwise_equal(out[0], out[1], n_out), "%s", what);
    CHECK_MSG(bitwise_equal(att[0], att[1], n_att), "%s", what);
    CHECK_MSG(bitwise_equal(dqkv[0], dqkv[1], n_qkv), "%s", what);
    CHECK_MSG(bitwise_equal(dtab[0], dtab[1], n_tab), "%s", what);
    /* and the wide forward is the reference's */
    float *ref_out = new_floats(n_out), *ref_att = new_floats(n_att);
    if (biased)
        attention_forward_reference_biased(ref_out, ref_att, qkv, start, &bias, B, T, C, H);
    else
        attention_forward_reference(ref_out, ref_att, qkv, start, B, T, C, H);
    CHECK_CLOSE(what, out[1], ref_out, n_out, 1e-5, 1e-5);
    CHECK_CLOSE(what, att[1], ref_att, n_att, 1e-6, 1e-5);
    for (int k = 0; k < 2; k++) {
        arith_free(out[k]);
        arith_free(att[k]);
        arith_free(dqkv[k]);
        arith_free(dtab[k]);
    }
    arith_free(ref_out);
    arith_free(ref_att);
    arith_free(qkv);
    arith_free(dout);
    arith_free(table);
    arith_free(pos);
}

static void test_attention_widths(void)
{
    const int32_t start_a[3] = {0, 2, 7}, start_b[2] = {5, 1};
    test_attention_widths_shape(3, 22, 128, 16, start_a, false); /* seed 001's shape */
    test_attention_widths_shape(3, 22, 128, 16, start_a, true);
    test_attention_widths_shape(2, 32, 128, 16, start_b, true);  /* the longest it takes */
    test_attention_widths_shape(2, 13, 256, 16, NULL, false);    /* heads of 16 */
    test_attention_widths_shape(2, 3, 1024, 16, start_b, true);  /* heads of 64 */
    test_attention_widths_shape(2, 9, 256, 32, start_b, true);   /* two items per sequence */
    test_attention_widths_shape(1, 1, 128, 16, NULL, true);
    /* one head in blocks of sixteen keys (AVX-512) against blocks of four */
    const int32_t start_c[2] = {20, 0};
    test_attention_widths_shape(3, 45, 128, 4, start_a, false); /* mul-nx3's shape: heads of 32 */
    test_attention_widths_shape(3, 45, 128, 4, start_a, true);
    test_attention_widths_shape(2, 63, 64, 4, start_c, true);   /* lengthgen's: heads of 16 */
    test_attention_widths_shape(2, 128, 256, 4, start_b, false); /* heads of 64, the longest */
    test_attention_widths_shape(2, 128, 256, 4, start_c, true);
    test_attention_widths_shape(1, 4, 32, 2, NULL, true);        /* the shortest */
    test_attention_widths_shape(2, 17, 64, 2, start_b, false);   /* a row of 17 keys */
    test_attention_widths_shape(2, 70, 96, 3, start_c, true);    /* H not a multiple of 4 */
}

/* ----------------------------------------------------------- attention with a score bias */

typedef struct {
    float *out, *att, *qkv, *R, *table;
    const int32_t *start, *pos;
    int B, T, C, H, P;
} bias_ctx;

static double bias_loss(void *p)
{
    bias_ctx *c = p;
    const attn_bias bias = {c->table, c->P, c->pos, NULL, 0};
    attention_forward_biased(c->out, c->att, c->qkv, c->start, &bias, c->B, c->T, c->C, c->H);
    return dot_d(c->out, c->R, (size_t)c->B * c->T * c->C);
}

/* The batch's ids: pos[b*T + t] = max(t - start[b], 0). */
static int32_t *column_ids(const int32_t *start, int B, int T)
{
    int32_t *pos = malloc((size_t)B * T * sizeof *pos);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const int p = t - (start ? start[b] : 0);
            pos[b * T + t] = p > 0 ? p : 0;
        }
    return pos;
}

/* Ids drawn from [0, P), in no order (the functions take any ids). */
static int32_t *random_ids(int B, int T, int P)
{
    int32_t *pos = malloc((size_t)B * T * sizeof *pos);
    for (int i = 0; i < B * T; i++)
        pos[i] = (int32_t)rng_below(&rng, (uint64_t)P);
    return pos;
}

/* dqkv and dtable of biased attention (B = 2) against finite differences. */
static void test_attention_bias_grad_shape(const char *what, const int32_t *start,
                                           const int32_t *pos, int T, int C, int H, int P)
{
    enum { B = 2 };
    const size_t n_qkv = (size_t)B * T * 3 * C, n_tab = (size_t)H * P * P;
    bias_ctx c = {new_floats(B * T * C), new_floats(B * H * T * T), new_normal(n_qkv, 1.0f),
                  new_normal(B * T * C, 1.0f), new_normal(n_tab, 1.0f), start, pos, B, T, C, H,
                  P};
    bias_loss(&c);
    float *dqkv = new_filled(n_qkv, GRAD_PREFILL), *dtab = new_filled(n_tab, GRAD_PREFILL);
    const attn_bias bias = {c.table, P, pos, NULL, 0};
    attention_backward_biased(dqkv, dtab, c.R, c.qkv, c.att, start, &bias, B, T, C, H);
    remove_prefill(dqkv, n_qkv);
    remove_prefill(dtab, n_tab);
    char name[200];
    snprintf(name, sizeof name, "%s dqkv", what);
    check_grad(name, c.qkv, dqkv, n_qkv, bias_loss, &c, FD_ATOL, FD_RTOL);
    snprintf(name, sizeof name, "%s dtable", what);
    check_grad(name, c.table, dtab, n_tab, bias_loss, &c, FD_ATOL, FD_RTOL);
    /* the bias's gradient does not depend on the thread count */
    float *d1 = new_filled(n_tab, 0.0f), *d2 = new_filled(n_tab, 0.0f);
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    attention_bias_backward(d1, c.R, c.qkv, c.att, start, &bias, B, T, C, H);
    omp_set_num_threads(2);
    attention_bias_backward(d2, c.R, c.qkv, c.att, start, &bias, B, T, C, H);
    omp_set_num_threads(threads);
    CHECK(bitwise_equal(d1, d2, n_tab));
    arith_free(d1);
    arith_free(d2);
    arith_free(c.out);
    arith_free(c.att);
    arith_free(c.qkv);
    arith_free(c.R);
    arith_free(c.table);
    arith_free(dqkv);
    arith_free(dtab);
}

/* The biased forward against the reference; a zero bias gives the unbiased bits; decoding
 * with the bias gives the forward's rows, with the keys' ids as columns (kpos NULL, when the
 * ids are the batch's columns) or given (kpos, any ids). */
static void test_attention_bias_shape(int B, int T, int C, int H, const int32_t *start,
                                      bool columns)
{
    const int P = T + 3;
    const size_t n_qkv = (size_t)B * T * 3 * C, n_out = (size_t)B * T * C;
    const size_t n_att = (size_t)B * H * T * T, n_tab = (size_t)H * P * P;
    int32_t *pos = columns ? column_ids(start, B, T) : random_ids(B, T, P);
    float *qkv = new_normal(n_qkv, 1.0f), *table = new_normal(n_tab, 1.0f);
    float *out = new_filled(n_out, 7.0f), *att = new_filled(n_att, 7.0f);
    float *ref_out = new_floats(n_out), *ref_att = new_floats(n_att);
    attn_bias bias = {table, P, pos, NULL, 0};
    attention_forward_biased(out, att, qkv, start, &bias, B, T, C, H);
    attention_forward_reference_biased(ref_out, ref_att, qkv, start, &bias, B, T, C, H);
    char what[200];
    snprintf(what, sizeof what, "biased attention out B=%d T=%d C=%d H=%d ids=%s", B, T, C, H,
             columns ? "columns" : "random");
    CHECK_CLOSE(what, out, ref_out, n_out, 1e-5, 1e-5);
    snprintf(what, sizeof what, "biased attention att B=%d T=%d C=%d H=%d ids=%s", B, T, C, H,
             columns ? "columns" : "random");
    CHECK_CLOSE(what, att, ref_att, n_att, 1e-6, 1e-5);
    /* a zero table: the unbiased kernels' bits */
    float *zeros = new_filled(n_tab, 0.0f), *out0 = new_floats(n_out), *att0 = new_floats(n_att);
    const attn_bias zero = {zeros, P, pos, NULL, 0};
    attention_forward_biased(ref_out, ref_att, qkv, start, &zero, B, T, C, H);
    attention_forward(out0, att0, qkv, start, B, T, C, H);
    CHECK_MSG(bitwise_equal(ref_out, out0, n_out) && bitwise_equal(ref_att, att0, n_att),
              "a zero bias changes attention B=%d T=%d C=%d H=%d", B, T, C, H);
    /* decoding: column t of every row from a (B, H, Tmax, hd) cache */
    const int Tmax = T + 3, hd = C / H;
    float *k_cache = new_filled((size_t)B * Tmax * C, 1e30f);
    float *v_cache = new_filled((size_t)B * Tmax * C, 1e30f);
    float *dec = new_floats(n_out), *want = new_floats(n_out);
    int32_t *qpos = malloc((size_t)B * sizeof *qpos);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *row = qkv + ((size_t)b * T + t) * 3 * C;
            for (int h = 0; h < H; h++) {
                size_t at = (((size_t)b * H + h) * Tmax + t) * hd;
                memcpy(k_cache + at, row + C + h * hd, hd * sizeof(float));
                memcpy(v_cache + at, row + 2 * C + h * hd, hd * sizeof(float));
            }
            memcpy(want + ((size_t)t * B + b) * C, out + ((size_t)b * T + t) * C,
                   C * sizeof(float));
        }
    for (int t = 0; t < T; t++) {
        for (int b = 0; b < B; b++)
            qpos[b] = pos[b * T + t];
        const attn_bias dbias = {table, P, qpos, columns ? NULL : pos, T};
        attention_decode_biased(dec + (size_t)t * B * C, qkv + (size_t)t * 3 * C, T * 3 * C,
                                k_cache, v_cache, start, &dbias, B, t, Tmax, C, H, 1);
    }
    snprintf(what, sizeof what, "biased attention_decode B=%d T=%d C=%d H=%d ids=%s", B, T, C, H,
             columns ? "columns" : "random");
    CHECK_CLOSE(what, dec, want, n_out, 1e-6, 1e-6);
    check_decode_widths(qkv, out, start, table, P, pos, columns, B, T, C, H);
    free(qpos);
    free(pos);
    arith_free(k_cache);
    arith_free(v_cache);
    arith_free(dec);
    arith_free(want);
    arith_free(zeros);
    arith_free(out0);
    arith_free(att0);
    arith_free(qkv);
    arith_free(table);
    arith_free(out);
    arith_free(att);
    arith_free(ref_out);
    arith_free(ref_att);
}

static void test_attention_bias(void)
{
    const int32_t start_a[2] = {0, 2}, start_b[2] = {4, 1}, start_c[3] = {0, 3, 9};
    /* every kernel: by rows (hd 4), four heads at a time, one head in blocks (H = 2; T past
     * 32); ids as the batch's columns, and random ids (repeats: entries that add up) */
    struct {
        const char *what;
        const int32_t *start;
        int T, C, H;
    } shapes[] = {{"rows hd 4", start_a, 5, 8, 2},
                  {"4 heads of 8", start_b, 6, 32, 4},
                  {"blocks, 2 heads of 8", start_a, 7, 16, 2},
                  {"blocks, T 35", start_b, 35, 32, 4}};
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        const int T = shapes[k].T, P = T + 2;
        int32_t *cols = column_ids(shapes[k].start, 2, T), *ids = random_ids(2, T, P);
        char what[160];
        snprintf(what, sizeof what, "biased attention %s, column ids", shapes[k].what);
        test_attention_bias_grad_shape(what, shapes[k].start, cols, T, shapes[k].C, shapes[k].H,
                                       P);
        snprintf(what, sizeof what, "biased attention %s, random ids", shapes[k].what);
        test_attention_bias_grad_shape(what, shapes[k].start, ids, T, shapes[k].C, shapes[k].H,
                                       P);
        free(cols);
        free(ids);
    }
    for (int columns = 1; columns >= 0; columns--) {
        test_attention_bias_shape(2, 5, 8, 2, start_a, columns);
        test_attention_bias_shape(3, 7, 12, 3, start_c, columns);   /* hd 4: generic */
        test_attention_bias_shape(3, 9, 32, 4, start_c, columns);   /* four heads of 8 */
        test_attention_bias_shape(2, 7, 64, 4, start_b, columns);   /* four heads of 16 */
        test_attention_bias_shape(2, 5, 256, 4, start_a, columns);  /* four heads of 64 */
        test_attention_bias_shape(2, 22, 128, 2, start_a, columns); /* blocks, hd 64 */
        test_attention_bias_shape(2, 40, 64, 8, start_b, columns);  /* blocks, T past 32 */
        test_attention_bias_shape(1, 70, 64, 4, NULL, columns);     /* blocks, T past 64 */
        test_attention_bias_shape(2, 23, 48, 2, start_a, columns);  /* rows, hd 24 */
        test_attention_bias_shape(2, 22, 128, 16, start_b, columns); /* sixteen heads of 8 */
    }
}

/* Long sequences: the blocked kernels up to T 128 (GPT-2's 4 x 128 steps), the per-row ones
 * past it. After the other attention tests, so that their random draws stay as they were. */
static void test_attention_long(void)
{
    const int32_t start[2] = {5, 1};
    test_attention_shape(2, 128, 768, 12, start, 1.0f, 1e-5); /* GPT-2: blocks */
    test_attention_shape(1, 130, 128, 2, NULL, 1.0f, 1e-5);   /* T past 128: rows */
    for (int columns = 0; columns < 2; columns++)
        test_attention_bias_shape(1, 131, 64, 4, NULL, columns); /* rows */
}

/* ALiBi's slopes (the reference's get_slopes) and table. */
static void test_alibi(void)
{
    float s[8];
    alibi_slopes(s, 4);
    CHECK(s[0] == 0.25f && s[1] == 0.0625f && s[2] == 0.015625f && s[3] == 0.00390625f);
    alibi_slopes(s, 8);
    int bad = 0;
    for (int h = 0; h < 8; h++)
        bad += s[h] != ldexpf(1.0f, -(h + 1));
    CHECK_EQ_INT(bad, 0);
    alibi_slopes(s, 6); /* 4 heads' slopes, then 2^-1, 2^-3 from 8 heads' */
    CHECK(s[0] == 0.25f && s[3] == 0.00390625f && s[4] == 0.5f && s[5] == 0.125f);
    alibi_slopes(s, 3);
    CHECK(s[0] == 0.0625f && s[1] == 0.00390625f && s[2] == 0.25f);
    alibi_slopes(s, 1);
    CHECK(s[0] == 0.00390625f);
    float table[2 * 4 * 4];
    const float slopes[2] = {0.5f, 0.25f};
    alibi_table(table, slopes, 2, 4);
    CHECK(table[(0 * 4 + 3) * 4 + 1] == -1.0f && table[(1 * 4 + 3) * 4 + 0] == -0.75f);
    CHECK(table[(1 * 4 + 2) * 4 + 2] == 0.0f && table[(0 * 4 + 1) * 4 + 3] == -1.0f);
}

typedef struct {
    float *table, *R, *w1, *b1, *w2, *b2, *c, *L;
    int H, W, P;
} fire_ctx;

static double fire_loss(void *p)
{
    fire_ctx *f = p;
    fire_table(f->table, f->w1, f->b1, f->w2, f->b2, f->c, f->L, f->H, f->W, f->P, 0);
    return dot_d(f->table, f->R, (size_t)f->H * f->P * f->P);
}

/* FIRE's input for distance d in row i, in double, straight from the formula. */
static double fire_x(double c, double L, int i, int d)
{
    const double ac = fabs(c), thr = fabs(L) * FIRE_L0, n = i > thr ? i : thr;
    return log(ac * d + 1.0) / (log(ac * n + 1.0) + FIRE_EPS);
}

/* One FIRE module: the table against the formula in double (every entry), rows from i0 on
 * equal to the whole table's, and every gradient (MLP, c, L) against finite differences; the
 * step for L moves the threshold by thr_step positions (within its interval between
 * integers, where the loss is smooth). */
static void test_fire_case(const char *what, float c, float thr, float thr_step, int P)
{
    enum { H = 3, W = 8 };
    const size_t n = (size_t)H * P * P;
    fire_ctx f = {new_floats(n), new_normal(n, 1.0f), new_normal(W, 1.0f), new_normal(W, 1.0f),
                  new_normal(H * W, 0.5f), new_normal(H, 0.1f), new_filled(1, c),
                  new_filled(1, thr / FIRE_L0), H, W, P};
    /* keep each hidden unit's input off the relu's kink for every x the table uses, so that
     * finite differences see a smooth function */
    for (int k = 0; k < W; k++)
        for (int tries = 0; tries < 100; tries++) {
            double gap = INFINITY;
            for (int i = 0; i < P; i++)
                for (int d = 0; d < P; d++)
                    gap = fmin(gap, fabs(f.w1[k] * fire_x(c, *f.L, i, d) + f.b1[k]));
            if (gap > 0.05)
                break;
            f.b1[k] += 0.1f;
        }
    fire_loss(&f);
    int bad = 0;
    for (int h = 0; h < H; h++)
        for (int i = 0; i < P; i++)
            for (int j = 0; j < P; j++) {
                const double x = fire_x(c, *f.L, i, i > j ? i - j : j - i);
                double y = f.b2[h];
                for (int k = 0; k < W; k++)
                    y += f.w2[h * W + k] * fmax(0.0, f.w1[k] * x + f.b1[k]);
                bad += fabs(f.table[((size_t)h * P + i) * P + j] - y) > 1e-5 * (1 + fabs(y));
            }
    CHECK_MSG(bad == 0, "%s: %d table entries differ from the formula", what, bad);
    float *part = new_filled(n, 0.0f);
    const int i0 = P / 2;
    fire_table(part, f.w1, f.b1, f.w2, f.b2, f.c, f.L, H, W, P, i0);
    bad = 0;
    for (int h = 0; h < H; h++)
        bad += !bitwise_equal(part + ((size_t)h * P + i0) * P, f.table + ((size_t)h * P + i0) * P,
                              (size_t)(P - i0) * P);
    CHECK_MSG(bad == 0, "%s: rows from %d differ from the whole table's", what, i0);

    float *dw1 = new_filled(W, GRAD_PREFILL), *db1 = new_filled(W, GRAD_PREFILL);
    float *dw2 = new_filled(H * W, GRAD_PREFILL), *db2 = new_filled(H, GRAD_PREFILL);
    float *dc = new_filled(1, GRAD_PREFILL), *dL = new_filled(1, GRAD_PREFILL);
    memcpy(part, f.R, n * sizeof(float)); /* the backward uses dtable as scratch */
    fire_backward(dw1, db1, dw2, db2, dc, dL, part, f.w1, f.b1, f.w2, f.b2, f.c, f.L, H, W, P);
    remove_prefill(dw1, W);
    remove_prefill(db1, W);
    remove_prefill(dw2, H * W);
    remove_prefill(db2, H);
    remove_prefill(dc, 1);
    remove_prefill(dL, 1);
    char name[160];
    snprintf(name, sizeof name, "%s dw1", what);
    check_grad(name, f.w1, dw1, W, fire_loss, &f, FD_ATOL, FD_RTOL);
    snprintf(name, sizeof name, "%s db1", what);
    check_grad(name, f.b1, db1, W, fire_loss, &f, FD_ATOL, FD_RTOL);
    snprintf(name, sizeof name, "%s dw2", what);
    check_grad(name, f.w2, dw2, H * W, fire_loss, &f, FD_ATOL, FD_RTOL);
    snprintf(name, sizeof name, "%s db2", what);
    check_grad(name, f.b2, db2, H, fire_loss, &f, FD_ATOL, FD_RTOL);
    snprintf(name, sizeof name, "%s dc", what);
    check_grad(name, f.c, dc, 1, fire_loss, &f, FD_ATOL, FD_RTOL);
    {
        const float saved = *f.L, eps = thr_step / FIRE_L0;
        *f.L = saved + eps;
        const double lp = fire_loss(&f);
        *f.L = saved - eps;
        const double lm = fire_loss(&f);
        *f.L = saved;
        const float num = (float)((lp - lm) / ((double)(saved + eps) - (double)(saved - eps)));
        snprintf(name, sizeof name, "%s dL", what);
        CHECK_CLOSE(name, dL, &num, 1, FD_ATOL, FD_RTOL);
    }
    arith_free(part);
    arith_free(dw1);
    arith_free(db1);
    arith_free(dw2);
    arith_free(db2);
    arith_free(dc);
    arith_free(dL);
    arith_free(f.table);
    arith_free(f.R);
    arith_free(f.w1);
    arith_free(f.b1);
    arith_free(f.w2);
    arith_free(f.b2);
    arith_free(f.c);
    arith_free(f.L);
}

static void test_fire(void)
{
    /* rows 0..3 share the threshold's normalizer, rows 4..8 have their own */
    test_fire_case("fire thr 3.5", 0.3f, 3.5f, 0.01f, 9);
    /* every row under the threshold (the default's regime); c negative (|c| is used) */
    test_fire_case("fire thr 512, c < 0", -0.2f, 512.0f, 16.0f, 7);
    /* L negative (|L| is used), a threshold of 0.4: only row 0 shares it */
    test_fire_case("fire thr 0.4", 0.7f, -0.4f, 0.01f, 6);
}

/* ----------------------------------------------------------------------------------- loss */

typedef struct {
    float *probs, *logits;
    const int32_t *targets;
    int N, V;
} ce_ctx;

static double ce_loss(void *p)
{
    ce_ctx *c = p;
    int count;
    return crossentropy_forward(c->probs, c->logits, c->targets, c->N, c->V, &count);
}

static void test_crossentropy(void)
{
    /* logits [0, ln 3], target 1: softmax [1/4, 3/4], loss ln(4/3) */
    {
        const float logits[2] = {0.0f, logf(3.0f)};
        const int32_t target = 1;
        float probs[2];
        int count = -1;
        double loss = crossentropy_forward(probs, logits, &target, 1, 2, &count);
        CHECK_MSG(fabs(loss - log(4.0 / 3.0)) < 1e-6, "loss %.9g, want %.9g", loss,
                  log(4.0 / 3.0));
        CHECK_EQ_INT(count, 1);
        CHECK(fabsf(probs[0] - 0.25f) < 1e-6f && fabsf(probs[1] - 0.75f) < 1e-6f);
        /* large logits stay finite */
        const float big[2] = {1000.0f, 0.0f};
        loss = crossentropy_forward(probs, big, &target, 1, 2, &count);
        CHECK_MSG(fabs(loss - 1000.0) < 1e-3, "loss %.9g, want 1000", loss);
    }
    enum { N = 6, V = 5 };
    const int32_t targets[N] = {2, -1, 0, 4, -1, 1};
    ce_ctx c = {new_floats(N * V), new_normal(N * V, 2.0f), targets, N, V};
    int count = 0;
    crossentropy_forward(c.probs, c.logits, targets, N, V, &count);
    CHECK_EQ_INT(count, 4);
    float *dlogits = new_filled(N * V, GRAD_PREFILL);
    crossentropy_backward(dlogits, c.probs, targets, N, V, 1.0f);
    remove_prefill(dlogits, N * V);
    int bad = 0; /* skipped rows get no gradient */
    for (int v = 0; v < V; v++)
        bad += dlogits[1 * V + v] != 0.0f || dlogits[4 * V + v] != 0.0f;
    CHECK_EQ_INT(bad, 0);
    check_grad("crossentropy dlogits", c.logits, dlogits, N * V, ce_loss, &c, FD_ATOL, FD_RTOL);
    /* the scale multiplies the gradient (probs again: the differences changed them) */
    crossentropy_forward(c.probs, c.logits, targets, N, V, &count);
    float *half = new_floats(N * V);
    crossentropy_backward(half, c.probs, targets, N, V, 0.5f);
    for (int i = 0; i < N * V; i++)
        half[i] *= 2.0f;
    CHECK_CLOSE("crossentropy scale", half, dlogits, N * V, 1e-6, 1e-5);
    arith_free(half);
    arith_free(c.probs);
    arith_free(c.logits);
    arith_free(dlogits);
}

/* ------------------------------------------------------------------- thread-count invariance */

/* The sums over rows (bias, layernorm and embedding gradients, the loss) must give the same
 * bits with 1 and 2 threads; sizes are above the threshold that turns threads on. */
/* ----------------------------------------------------------------- dispatched kernels */

/* The same bits, or both NaN: which NaN an operation with two NaN (or inf - inf and a NaN)
 * operands returns follows the operands' order in the instruction, which a compiler may swap. */
static int same_bits_or_nan(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i]) != 0 && !(isnan(a[i]) && isnan(b[i])))
            return 0;
    return 1;
}

/* Dropout by its definition (nn.h), one element at a time. */
static bool dropout_kept(uint64_t seed, size_t i, float p)
{
    const uint64_t bits = rng_hash(seed, (uint64_t)(i / 4));
    return ((bits >> (16 * (i % 4))) & 0xffffu) >= (uint32_t)ceil((double)p * 65536.0);
}

/* Everything the dispatched element-wise kernels compute, for sizes that are no multiple of a
 * vector (n, C odd), at the level fast_force_level allows; out[k] receives result k. */
enum { DISPATCH_RESULTS = 17 };

static void dispatch_run(float **res, uint8_t *mask, const float *x, const float *y,
                         const float *dy, const float *w, const float *b, const float *lw,
                         size_t n, int N, int C, int I)
{
    relu_forward(res[0], x, n);
    tensor_copy(res[1], y, n);
    relu_backward(res[1], dy, x, n);
    tensor_copy(res[2], dy, n);
    relu_backward_inplace(res[2], x, n);
    add_forward(res[3], x, y, n);
    dropout_forward(res[4], mask, x, n, 0.3f, 99);
    tensor_copy(res[5], y, n);
    dropout_backward(res[5], dy, mask, n, 0.3f, 99);
    tensor_copy(res[6], y, n);
    dropout_backward(res[6], dy, NULL, n, 0.3f, 99);
    gelu_tanh_forward(res[7], x, n);
    tensor_copy(res[8], y, n);
    gelu_tanh_backward(res[8], dy, x, n);
    /* (N, C) rows: layernorm, a linear layer's bias and bias gradient */
    layernorm_forward(res[9], res[10], res[11], x, w, b, N, C);
    tensor_copy(res[12], y, (size_t)N * C);
    tensor_copy(res[13], b, (size_t)C);
    tensor_copy(res[14], w, (size_t)C);
    layernorm_backward(res[12], res[14], res[13], dy, x, w, res[10], res[11], N, C);
    linear_forward(res[15], x, lw, b, N, I, C); /* the bias add: after the product */
    tensor_copy(res[16], w, (size_t)C);
    linear_backward(NULL, NULL, res[16], dy, x, lw, N, I, C);
}

static void test_dispatch(void)
{
    enum { N = 37, C = 131, I = 5 };
    const size_t sizes[] = {1, 3, 13, 1001, 50003};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        const size_t n = sizes[si] > (size_t)N * C ? sizes[si] : (size_t)N * C;
        const size_t m = sizes[si]; /* the element-wise ops' length */
        float *x = new_normal(n, 1.0f), *y = new_normal(n, 1.0f), *dy = new_normal(n, 1.0f);
        float *w = new_normal(C, 1.0f), *b = new_normal(C, 1.0f), *lw = new_normal(C * I, 1.0f);
        /* signed zeros, infinities and NaN where relu and dropout select */
        x[0] = -0.0f;
        if (m > 3) {
            x[1] = INFINITY, x[2] = -INFINITY, x[3] = NAN;
            y[1] = -0.0f, y[2] = -0.0f;
        }
        float *res[3][DISPATCH_RESULTS];
        uint8_t *mask[3];
        for (int level = 0; level < 3; level++) {
            for (int k = 0; k < DISPATCH_RESULTS; k++)
                res[level][k] = new_floats(n);
            mask[level] = malloc(n);
            fast_force_level(level);
            for (int threads = 1; threads <= 2; threads++) {
                omp_set_num_threads(threads);
                dispatch_run(res[level], mask[level], x, y, dy, w, b, lw, m, N, C, I);
            }
            omp_set_num_threads(1);
        }
        fast_force_level(-1);
        for (int level = 1; level < 3; level++) {
            for (int k = 0; k < DISPATCH_RESULTS; k++) {
                const size_t len = k < 9 ? m : k == 10 || k == 11 ? (size_t)N
                                 : k >= 13 && k != 15 ? (size_t)C : (size_t)N * C;
                CHECK_MSG(same_bits_or_nan(res[level][k], res[0][k], len),
                          "dispatch level %d result %d, n %zu", level, k, m);
            }
            CHECK(memcmp(mask[level], mask[0], m) == 0);
        }
        /* dropout's survivors and values by the definition */
        int wrong = 0;
        for (size_t i = 0; i < m; i++) {
            const bool keep = dropout_kept(99, i, 0.3f);
            const float want = keep ? x[i] * (1.0f / 0.7f) : 0.0f;
            wrong += mask[0][i] != keep;
            wrong += memcmp(&res[0][4][i], &want, sizeof want) != 0 && !(isnan(want) &&
                                                                        isnan(res[0][4][i]));
            /* the backward without a mask leaves dropped elements untouched, -0 included */
            const float back = keep ? y[i] + dy[i] * (1.0f / 0.7f) : y[i];
            wrong += memcmp(&res[0][6][i], &back, sizeof back) != 0;
        }
        CHECK_MSG(wrong == 0, "dropout by its definition: %d wrong of %zu", wrong, m);
        for (int level = 0; level < 3; level++) {
            for (int k = 0; k < DISPATCH_RESULTS; k++)
                arith_free(res[level][k]);
            free(mask[level]);
        }
        arith_free(x);
        arith_free(y);
        arith_free(dy);
        arith_free(w);
        arith_free(b);
        arith_free(lw);
    }
}

static void test_thread_invariance(void)
{
    enum { N = 700, C = 128, V = 69, I = 16 };
    int32_t *ids = malloc(N * sizeof *ids), *targets = malloc(N * sizeof *targets);
    for (int n = 0; n < N; n++) {
        ids[n] = (int32_t)rng_below(&rng, V);
        targets[n] = n % 5 == 0 ? -1 : (int32_t)rng_below(&rng, V);
    }
    float *x = new_normal(N * C, 1.0f), *dout = new_normal(N * C, 1.0f), *w = new_normal(C, 1.0f);
    float *b = new_normal(C, 1.0f), *out = new_floats(N * C), *mean = new_floats(N);
    float *rstd = new_floats(N), *logits = new_normal(N * V, 3.0f), *probs = new_floats(N * V);
    float *lw = new_normal(C * I, 1.0f), *lin = new_normal(N * I, 1.0f);
    float *g[2][6];
    double loss[2];
    const int threads = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k + 1);
        for (int m = 0; m < 6; m++)
            g[k][m] = new_floats(m == 0 ? N * C : m < 4 ? C : m == 4 ? V * C : N * V);
        layernorm_forward(out, mean, rstd, x, w, b, N, C);
        layernorm_backward(g[k][0], g[k][2], g[k][3], dout, x, w, mean, rstd, N, C);
        /* (linear's dinp and dw come from the products, whose sums may follow the thread count) */
        linear_backward(NULL, NULL, g[k][1], dout, lin, lw, N, I, C);
        embedding_backward(g[k][4], dout, ids, N, C, 0.3f);
        int count;
        loss[k] = crossentropy_forward(probs, logits, targets, N, V, &count);
        crossentropy_backward(g[k][5], probs, targets, N, V, 1.0f / (float)count);
    }
    omp_set_num_threads(threads);
    CHECK(bitwise_equal(g[0][0], g[1][0], N * C));
    CHECK(bitwise_equal(g[0][1], g[1][1], C));
    CHECK(bitwise_equal(g[0][2], g[1][2], C));
    CHECK(bitwise_equal(g[0][3], g[1][3], C));
    CHECK(bitwise_equal(g[0][4], g[1][4], V * C));
    CHECK(bitwise_equal(g[0][5], g[1][5], N * V));
    CHECK(loss[0] == loss[1]);
    for (int k = 0; k < 2; k++)
        for (int m = 0; m < 6; m++)
            arith_free(g[k][m]);
    free(ids);
    free(targets);
    arith_free(x);
    arith_free(dout);
    arith_free(w);
    arith_free(b);
    arith_free(out);
    arith_free(mean);
    arith_free(rstd);
    arith_free(logits);
    arith_free(probs);
    arith_free(lw);
    arith_free(lin);
}

/* ------------------------------------------------- the backwards that write (nn.h's ..._to) */

/* a == b at every element (+0 and -0 equal, NaN equal to nothing), and how many differ */
static size_t count_unequal(const float *a, const float *b, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += !(a[i] == b[i]);
    return bad;
}

/* The plain backward into a zeroed buffer (ref) against the ..._to one into a buffer of NaN
 * (got), which it must overwrite everywhere. */
typedef struct {
    float *ref, *got;
    size_t n;
} to_pair;

static to_pair to_pair_new(size_t n)
{
    to_pair p = {new_floats(n), new_filled(n, NAN), n};
    return p;
}

static void to_pair_check(to_pair *p, const char *what, size_t shape)
{
    const size_t bad = count_unequal(p->ref, p->got, p->n);
    CHECK_MSG(bad == 0, "%s (%zu): %zu of %zu elements differ", what, shape, bad, p->n);
    arith_free(p->ref);
    arith_free(p->got);
}

static void test_backward_to(void)
{
    /* element-wise ops: one short length, one past every parallel threshold */
    const size_t sizes[] = {13, 200003};
    for (size_t si = 0; si < 2; si++) {
        const size_t n = sizes[si];
        float *x = new_normal(n, 1.0f), *dy = new_normal(n, 1.0f);
        x[0] = 0.0f, x[1] = -0.0f; /* relu's edge */
        uint8_t *mask = malloc(n);
        float *fwd = new_floats(n);
        dropout_forward(fwd, mask, x, n, 0.25f, 42);
        to_pair p;
        p = to_pair_new(n);
        relu_backward(p.ref, dy, x, n);
        relu_backward_to(p.got, dy, x, n);
        to_pair_check(&p, "relu_backward_to", n);
        p = to_pair_new(n);
        gelu_backward(p.ref, dy, x, n);
        gelu_backward_to(p.got, dy, x, n);
        to_pair_check(&p, "gelu_backward_to", n);
        p = to_pair_new(n);
        gelu_tanh_backward(p.ref, dy, x, n);
        gelu_tanh_backward_to(p.got, dy, x, n);
        to_pair_check(&p, "gelu_tanh_backward_to", n);
        p = to_pair_new(n); /* the forward's mask */
        dropout_backward(p.ref, dy, mask, n, 0.25f, 42);
        dropout_backward_to(p.got, dy, mask, n, 0.25f, 42);
        to_pair_check(&p, "dropout_backward_to, mask", n);
        p = to_pair_new(n); /* drawn again */
        dropout_backward(p.ref, dy, NULL, n, 0.25f, 42);
        dropout_backward_to(p.got, dy, NULL, n, 0.25f, 42);
        to_pair_check(&p, "dropout_backward_to, drawn", n);
        p = to_pair_new(n); /* p = 0: the gradient itself */
        dropout_backward(p.ref, dy, NULL, n, 0.0f, 42);
        dropout_backward_to(p.got, dy, NULL, n, 0.0f, 42);
        to_pair_check(&p, "dropout_backward_to, p 0", n);
        CHECK(count_unequal(p.ref, dy, 0) == 0);
        free(mask);
        arith_free(fwd);
        arith_free(x);
        arith_free(dy);
    }
    /* layer norm and the dense layers: a small shape and seed 001's (banded products);
     * the parameter gradients still add */
    const int shapes[][3] = {{37, 131, 5}, {1344, 128, 384}};
    for (int si = 0; si < 2; si++) {
        const int N = shapes[si][0], C = shapes[si][1], O = shapes[si][2];
        const size_t NC = (size_t)N * C;
        float *x = new_normal(NC, 1.0f), *dy = new_normal(NC, 1.0f), *w = new_normal(C, 1.0f);
        float *b = new_normal(C, 1.0f), *y = new_floats(NC), *mean = new_floats(N);
        float *rstd = new_floats(N);
        layernorm_forward(y, mean, rstd, x, w, b, N, C);
        float *dw[2] = {new_filled(C, GRAD_PREFILL), new_filled(C, GRAD_PREFILL)};
        float *db[2] = {new_filled(C, GRAD_PREFILL), new_filled(C, GRAD_PREFILL)};
        to_pair p = to_pair_new(NC);
        layernorm_backward(p.ref, dw[0], db[0], dy, x, w, mean, rstd, N, C);
        layernorm_backward_to(p.got, dw[1], db[1], dy, x, w, mean, rstd, N, C);
        to_pair_check(&p, "layernorm_backward_to", NC);
        CHECK(bitwise_equal(dw[0], dw[1], C) && bitwise_equal(db[0], db[1], C));
        CHECK(dw[1][0] != GRAD_PREFILL); /* added to, not overwritten */
        float *dout = new_normal((size_t)N * O, 1.0f), *lw = new_normal((size_t)O * C, 0.3f);
        for (int conv = 0; conv < 2; conv++) {
            float *dlw[2] = {new_filled((size_t)O * C, GRAD_PREFILL),
                             new_filled((size_t)O * C, GRAD_PREFILL)};
            float *dlb[2] = {new_filled(O, GRAD_PREFILL), new_filled(O, GRAD_PREFILL)};
            p = to_pair_new(NC);
            if (conv) {
                conv1d_backward(p.ref, dlw[0], dlb[0], dout, x, lw, N, C, O);
                conv1d_backward_to(p.got, dlw[1], dlb[1], dout, x, lw, N, C, O);
            } else {
                linear_backward(p.ref, dlw[0], dlb[0], dout, x, lw, N, C, O);
                linear_backward_to(p.got, dlw[1], dlb[1], dout, x, lw, N, C, O);
            }
            to_pair_check(&p, conv ? "conv1d_backward_to" : "linear_backward_to", NC);
            CHECK(bitwise_equal(dlw[0], dlw[1], (size_t)O * C));
            CHECK(bitwise_equal(dlb[0], dlb[1], O));
            for (int k = 0; k < 2; k++) {
                arith_free(dlw[k]);
                arith_free(dlb[k]);
            }
        }
        for (int k = 0; k < 2; k++) {
            arith_free(dw[k]);
            arith_free(db[k]);
        }
        arith_free(dout);
        arith_free(lw);
        arith_free(x);
        arith_free(dy);
        arith_free(w);
        arith_free(b);
        arith_free(y);
        arith_free(mean);
        arith_free(rstd);
    }
    /* attention, one shape for each of its kernels: 16 heads of 8 (AVX-512), 4 heads of 16,
     * one head at a time in blocks (T past the heads' 32), by rows (heads of 12) */
    const int att_shapes[][4] = {{3, 22, 128, 16}, {2, 13, 64, 4}, {2, 40, 64, 2}, {2, 9, 48, 4}};
    const int32_t start[3] = {0, 2, 7};
    for (int si = 0; si < 4; si++) {
        const int B = att_shapes[si][0], T = att_shapes[si][1], C = att_shapes[si][2];
        const int H = att_shapes[si][3];
        const size_t n_qkv = (size_t)B * T * 3 * C, n_out = (size_t)B * T * C;
        float *qkv = new_normal(n_qkv, 1.0f), *dout = new_normal(n_out, 1.0f);
        float *out = new_floats(n_out), *att = new_floats((size_t)B * H * T * T);
        attention_forward(out, att, qkv, start, B, T, C, H);
        to_pair p = to_pair_new(n_qkv);
        attention_backward(p.ref, dout, qkv, att, start, B, T, C, H);
        attention_backward_to(p.got, dout, qkv, att, start, B, T, C, H);
        /* without att where the kernels recompute it (the heads' kernels: shapes 0 and 1):
         * the forward's output and the gradient, bit for bit */
        CHECK_MSG(attention_recomputes(T, C, H) == (si < 2), "attention_recomputes, shape %d",
                  si);
        if (attention_recomputes(T, C, H)) {
            float *out2 = new_filled(n_out, NAN), *dq2 = new_filled(n_qkv, NAN);
            attention_forward(out2, NULL, qkv, start, B, T, C, H);
            attention_backward_to(dq2, dout, qkv, NULL, start, B, T, C, H);
            CHECK_MSG(bitwise_equal(out, out2, n_out), "attention without att, shape %d", si);
            CHECK_MSG(bitwise_equal(p.got, dq2, n_qkv), "attention recomputed, shape %d", si);
            arith_free(out2);
            arith_free(dq2);
        }
        to_pair_check(&p, "attention_backward_to", (size_t)T * 1000 + (size_t)H);
        arith_free(qkv);
        arith_free(dout);
        arith_free(out);
        arith_free(att);
    }
}

/* The dense backward's weight gradient in chunks of rows (nn.c's wgrad_chunks: 2 chunks at
 * 1,344 rows, 4 at 2,100): the same bits on 1 and 2 threads, and the sums of a double
 * reference. */
static void test_dense_chunks(void)
{
    const int shapes[][3] = {{1344, 128, 384}, {2100, 64, 48}, {300, 24, 40}};
    const int threads = core_threads();
    for (int si = 0; si < 3; si++) {
        const int N = shapes[si][0], I = shapes[si][1], O = shapes[si][2];
        float *x = new_normal((size_t)N * I, 1.0f), *dout = new_normal((size_t)N * O, 1.0f);
        float *w = new_normal((size_t)O * I, 0.2f);
        for (int conv = 0; conv < 2; conv++) {
            float *g[2][3];
            for (int k = 0; k < 2; k++) {
                core_set_threads(k + 1);
                g[k][0] = new_filled((size_t)N * I, GRAD_PREFILL);
                g[k][1] = new_filled((size_t)O * I, GRAD_PREFILL);
                g[k][2] = new_filled(O, GRAD_PREFILL);
                (conv ? conv1d_backward : linear_backward)(g[k][0], g[k][1], g[k][2], dout, x,
                                                           w, N, I, O);
            }
            core_set_threads(threads);
            char what[96];
            snprintf(what, sizeof what, "dense backward N=%d I=%d O=%d conv1d=%d", N, I, O, conv);
            CHECK_MSG(bitwise_equal(g[0][0], g[1][0], (size_t)N * I), "%s: dinp", what);
            CHECK_MSG(bitwise_equal(g[0][1], g[1][1], (size_t)O * I), "%s: dw", what);
            CHECK_MSG(bitwise_equal(g[0][2], g[1][2], O), "%s: db", what);
            /* dw against sums in double at a spread of entries (layout (O,I), or (I,O)) */
            double worst = 0;
            for (int e = 0; e < O * I; e += 97) {
                const int o = conv ? e % O : e / I, i = conv ? e / O : e % I;
                double ref = GRAD_PREFILL, mag = 0;
                for (int n = 0; n < N; n++) {
                    const double t = (double)dout[(size_t)n * O + o] * x[(size_t)n * I + i];
                    ref += t;
                    mag += fabs(t);
                }
                const double err = fabs(g[1][1][e] - ref) / (mag + 1e-30);
                worst = err > worst ? err : worst;
            }
            CHECK_MSG(worst < 1e-5, "%s: dw off by %g of the sum of |terms|", what, worst);
            worst = 0;
            for (int o = 0; o < O; o++) {
                double ref = GRAD_PREFILL, mag = 0;
                for (int n = 0; n < N; n++) {
                    ref += dout[(size_t)n * O + o];
                    mag += fabs(dout[(size_t)n * O + o]);
                }
                const double err = fabs(g[1][2][o] - ref) / (mag + 1e-30);
                worst = err > worst ? err : worst;
            }
            CHECK_MSG(worst < 1e-5, "%s: db off by %g of the sum of |terms|", what, worst);
            for (int k = 0; k < 2; k++)
                for (int m = 0; m < 3; m++)
                    arith_free(g[k][m]);
        }
        arith_free(x);
        arith_free(dout);
        arith_free(w);
    }
}

int main(void)
{
    printf("test_nn: seed %u\n", TEST_SEED);
    rng_seed(&rng, TEST_SEED);
    test_embedding();
    test_positional();
    test_linear();
    test_conv1d();
    test_layernorm();
    test_activations();
    test_dropout();
    test_rope();
    test_attention();
    test_attention_bias();
    test_attention_widths();
    test_attention_long();
    test_alibi();
    test_fire();
    test_crossentropy();
    test_thread_invariance();
    test_dispatch();
    test_backward_to();
    test_dense_chunks();
    return check_summary("test_nn");
}
