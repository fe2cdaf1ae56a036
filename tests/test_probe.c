/* Probes (arith probe): the logistic regression against a solution known in closed form,
 * separable classes reaching 1.0 on held-out rows and labels unrelated to the features staying
 * near chance, the same weights on every fit, bad arguments refused; and the models' hidden
 * states (model_ops.hidden) for every family: each layer's view of a batch row equals that
 * row's run alone (so the strides are right), layer 0 is the input the model reads (the
 * transformer's scaled embedding, the LSTM's one-hot vectors), and nothing is handed out
 * before a forward, past the last layer, or after a generation has run over the buffers. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "support.h"
#include "core/core.h"
#include "train/train.h"

/* Two classes on one feature, x = -1 (class 0) and x = +1 (class 1), half each: standardized,
 * x stays +-1, the biases stay 0 by symmetry, and w1 = -w0 = u/2 where u minimizes
 * log(1 + e^-u) + l2 u^2 / 4, i.e. l2 u (1 + e^u) = 2. */
static void test_known_solution(void)
{
    enum { N = 100 };
    float x[N];
    int32_t y[N];
    for (int i = 0; i < N; i++) {
        y[i] = i % 2;
        x[i] = y[i] ? 1.0f : -1.0f;
    }
    const double l2 = 0.1;
    double lo = 0, hi = 20;
    for (int k = 0; k < 200; k++) {
        double u = 0.5 * (lo + hi);
        if (l2 * u * (1 + exp(u)) < 2)
            lo = u;
        else
            hi = u;
    }
    const double u = 0.5 * (lo + hi);
    probe_model p;
    CHECK_OK(probe_fit(&p, x, y, N, 1, 2, l2));
    /* w: (2, 2), row k = [weight, bias] */
    CHECK_MSG(fabs((p.w[2] - p.w[0]) - u) < 1e-4, "u = %.6f, want %.6f", p.w[2] - p.w[0], u);
    CHECK_MSG(fabs(p.w[0] + p.w[2]) < 1e-5, "w0 = %g, w1 = %g", p.w[0], p.w[2]);
    CHECK_MSG(fabs(p.w[1]) < 1e-5 && fabs(p.w[3]) < 1e-5, "biases %g %g", p.w[1], p.w[3]);
    CHECK(fabs(p.mean[0]) < 1e-7 && fabs(p.inv_std[0] - 1.0f) < 1e-6);
    CHECK_EQ_INT(probe_correct(&p, x, y, N), N);
    CHECK(p.iterations > 0 && p.iterations < 400);
    const double want = log1p(exp(-u)) + l2 * u * u / 4;
    CHECK_MSG(fabs(p.loss - want) < 1e-6, "loss %.8f, want %.8f", p.loss, want);
    probe_free(&p);
}

/* Three Gaussian blobs far apart in 6 features (one of them constant, which standardizes to
 * 0 and must not turn into NaN): rows drawn apart from the fitted ones score 1.0. */
static void blobs(float *x, int32_t *y, int n, rng_state *rng)
{
    static const float centres[3][5] = {{4, 0, 0, 1, 0}, {0, 4, 0, 0, -1}, {0, 0, 4, -1, 1}};
    for (int i = 0; i < n; i++) {
        y[i] = (int32_t)rng_below(rng, 3);
        for (int j = 0; j < 5; j++)
            x[i * 6 + j] = centres[y[i]][j] + 0.5f * rng_normal(rng);
        x[i * 6 + 5] = 7.0f;
    }
}

static void test_separable(void)
{
    enum { N = 300, D = 6 };
    float *xtr = malloc(N * D * sizeof *xtr), *xte = malloc(N * D * sizeof *xte);
    int32_t ytr[N], yte[N];
    rng_state rng;
    rng_seed(&rng, 5);
    blobs(xtr, ytr, N, &rng);
    blobs(xte, yte, N, &rng);
    probe_model p, q;
    CHECK_OK(probe_fit(&p, xtr, ytr, N, D, 3, 1e-3));
    CHECK_EQ_INT(probe_correct(&p, xte, yte, N), N);
    CHECK(p.inv_std[5] == 0.0f);
    for (size_t k = 0; k < (size_t)3 * (D + 1); k++)
        CHECK_MSG(isfinite(p.w[k]), "weight %zu is %g", k, p.w[k]);
    /* the same rows, the same weights, bit for bit */
    CHECK_OK(probe_fit(&q, xtr, ytr, N, D, 3, 1e-3));
    CHECK(memcmp(p.w, q.w, (size_t)3 * (D + 1) * sizeof *p.w) == 0);
    CHECK_EQ_INT(p.iterations, q.iterations);
    probe_free(&q);
    probe_free(&p);
    free(xtr);
    free(xte);
}

/* Labels drawn apart from the features: the probe fits its training rows (20 features, 200
 * rows) but scores near chance on fresh ones. */
static void test_unrelated(void)
{
    enum { N = 200, M = 2000, D = 20 };
    float *x = malloc((size_t)(N + M) * D * sizeof *x);
    int32_t *y = malloc((size_t)(N + M) * sizeof *y);
    rng_state rng;
    rng_seed(&rng, 9);
    for (int i = 0; i < N + M; i++) {
        y[i] = (int32_t)rng_below(&rng, 2);
        for (int j = 0; j < D; j++)
            x[(size_t)i * D + j] = rng_normal(&rng);
    }
    probe_model p;
    CHECK_OK(probe_fit(&p, x, y, N, D, 2, 1e-3));
    const double fit = (double)probe_correct(&p, x, y, N) / N;
    const double held = (double)probe_correct(&p, x + (size_t)N * D, y + N, M) / M;
    printf("unrelated labels: %.3f on the fitted rows, %.3f held out\n", fit, held);
    CHECK_MSG(fit > 0.6, "fitted rows %.3f", fit);
    CHECK_MSG(held > 0.4 && held < 0.6, "held out %.3f", held);
    probe_free(&p);
    free(x);
    free(y);
}

static void test_bad_arguments(void)
{
    float x[4] = {0, 1, 2, 3};
    int32_t y[4] = {0, 1, 0, 2};
    probe_model p;
    CHECK(probe_fit(&p, x, y, 4, 1, 2, 0.0) == ARITH_ERR_ARG); /* class 2 of 2 */
    CHECK(p.w == NULL);
    CHECK(probe_fit(&p, x, y, 4, 1, 1, 0.0) == ARITH_ERR_ARG);
    CHECK(probe_fit(&p, x, y, 0, 1, 3, 0.0) == ARITH_ERR_ARG);
    CHECK(probe_fit(&p, x, y, 4, 1, 3, -1.0) == ARITH_ERR_ARG);
    CHECK_OK(probe_fit(&p, x, y, 4, 1, 3, 0.0));
    probe_free(&p);
    CHECK_STR(probe_target_name(PROBE_CARRY), "carry");
    CHECK_STR(probe_target_name(PROBE_SUM_DIGIT), "sum-digit");
    CHECK(probe_target_name(PROBE_TARGETS) == NULL);
    CHECK_EQ_INT(probe_target_classes(PROBE_SUM_DIGIT), 10);
}

/* ------------------------------------------------------------------------- hidden states */

enum { B = 3, T = 7, PROMPT = 4 };

static model *random_model(const model_config *mc)
{
    model *m = NULL;
    CHECK_OK(model_create(&m, mc));
    if (!m)
        return NULL;
    rng_state rng;
    rng_seed(&rng, 11);
    model_init_weights(m, &rng);
    return m;
}

/* Rows r = 0..n-1 of a fixed set of sequences (row k left-padded by k % 2 columns), from
 * `first` on, into b (n rows). */
static void fill(batch *b, int first, int n, int V)
{
    b->B = n;
    b->T = T;
    b->prompt_T = PROMPT;
    for (int r = 0; r < n; r++) {
        const int k = first + r;
        b->start[r] = k % 2;
        for (int t = 0; t < T; t++) {
            b->tokens[r * T + t] = t < b->start[r] ? 0 : (int32_t)((k * 7 + t * 3) % V);
            b->targets[r * T + t] = t >= PROMPT - 1 ? (int32_t)((k + t) % V) : -1;
        }
    }
    batch_positions(b);
}

/* Every layer's view of the 3-row batch against each row run alone. */
static void check_family(const model_config *mc, const char *name)
{
    model *m = random_model(mc), *one = random_model(mc);
    if (!m || !one) {
        model_free(m);
        model_free(one);
        return;
    }
    const int L = mc->layers, V = mc->vocab;
    hidden_view v, w;
    CHECK_MSG(!m->ops->hidden(m, 0, &v), "%s: hidden states before any forward", name);
    batch b, b1;
    CHECK_OK(batch_alloc(&b, B, T));
    CHECK_OK(batch_alloc(&b1, 1, T));
    fill(&b, 0, B, V);
    double loss;
    int count;
    CHECK_OK(model_forward(m, &b, false, 0, &loss, &count));
    CHECK_MSG(!m->ops->hidden(m, L + 1, &v) && !m->ops->hidden(m, -1, &v),
              "%s: a layer past the last", name);
    for (int r = 0; r < B; r++) {
        fill(&b1, r, 1, V);
        CHECK_OK(model_forward(one, &b1, false, 0, &loss, &count));
        for (int l = 0; l <= L; l++) {
            CHECK(m->ops->hidden(m, l, &v) && one->ops->hidden(one, l, &w));
            CHECK_EQ_INT(v.dim, w.dim);
            CHECK_EQ_INT(v.t_first, w.t_first);
            CHECK(v.t_count >= 1 && v.t_first + v.t_count <= T);
            for (int t = v.t_first > b.start[r] ? v.t_first : b.start[r];
                 t < v.t_first + v.t_count; t++) {
                const float *a = v.data + r * v.b_stride + (size_t)(t - v.t_first) * v.t_stride;
                const float *c = w.data + (size_t)(t - w.t_first) * w.t_stride;
                char what[128];
                snprintf(what, sizeof what, "%s layer %d row %d column %d", name, l, r, t);
                CHECK_CLOSE(what, a, c, (size_t)v.dim, 1e-5, 1e-4);
            }
        }
    }
    /* layer 0 is what the model reads: the transformer's embedding (RoPE adds nothing to it)
     * scaled by sqrt(d_model), the LSTM's one-hot vectors */
    CHECK(m->ops->hidden(m, 0, &v));
    const float *emb = params_data(&m->params, "tok_emb.weight");
    for (int r = 0; r < B; r++)
        for (int t = b.start[r]; t < T && v.t_first == 0; t++) {
            const float *h = v.data + r * v.b_stride + (size_t)t * v.t_stride;
            const int32_t tok = b.tokens[r * T + t];
            if (emb && mc->pos == scheme_named("rope")) {
                for (int j = 0; j < v.dim; j++)
                    CHECK_MSG(fabsf(h[j] - emb[(size_t)tok * v.dim + j] * sqrtf((float)v.dim)) <
                                  1e-5f, "%s embedding row %d column %d", name, r, t);
            } else if (mc->input == INPUT_ONEHOT) {
                CHECK_EQ_INT(v.dim, V);
                for (int j = 0; j < V; j++)
                    CHECK(h[j] == (j == tok ? 1.0f : 0.0f));
            }
        }
    /* a generation runs over the buffers: no view of them afterwards */
    batch prompts;
    CHECK_OK(batch_alloc(&prompts, B, PROMPT));
    fill(&b, 0, B, V);
    prompts.B = B;
    prompts.T = PROMPT;
    prompts.prompt_T = PROMPT;
    for (int r = 0; r < B; r++) {
        prompts.start[r] = b.start[r];
        for (int t = 0; t < PROMPT; t++) {
            prompts.tokens[r * PROMPT + t] = b.tokens[r * T + t];
            prompts.targets[r * PROMPT + t] = -1;
        }
    }
    batch_positions(&prompts);
    int32_t out[B * (T - PROMPT + 1)];
    CHECK_OK(model_generate(m, &prompts, T - PROMPT + 1, 1, out));
    CHECK_MSG(!m->ops->hidden(m, 0, &v), "%s: hidden states after a generation", name);
    batch_free(&prompts);
    batch_free(&b);
    batch_free(&b1);
    model_free(m);
    model_free(one);
}

static void test_hidden(void)
{
    const int V = 13;
    model_config tf = {.kind = family_named("transformer"), .vocab = V, .d_model = 16,
                       .heads = 4, .ffn = 24, .layers = 2, .context = 16, .norm = NORM_POST,
                       .act = ACT_RELU, .pos = scheme_named("rope")};
    check_family(&tf, "transformer");
    tf.norm = NORM_PRE;
    tf.pos = scheme_named("learned");
    check_family(&tf, "transformer pre-LN, learned positions");
    model_config g = tf;
    g.kind = family_named("gpt2");
    g.act = ACT_GELU_TANH;
    check_family(&g, "gpt2");
    model_config lstm = {.kind = family_named("lstm"), .vocab = V, .d_model = 8, .hidden = 12,
                         .layers = 2, .context = 16, .head = HEAD_LM, .input = INPUT_EMBED};
    check_family(&lstm, "lstm");
    lstm.input = INPUT_ONEHOT;
    check_family(&lstm, "lstm one-hot");
    model_config s2s = {.kind = family_named("seq2seq"), .vocab = V, .d_model = 8, .hidden = 6,
                        .layers = 2, .context = 16, .head = HEAD_LM, .input = INPUT_ONEHOT,
                        .answer_len = T - PROMPT + 1};
    check_family(&s2s, "seq2seq");
}

int main(void)
{
    core_set_threads(2);
    test_known_solution();
    test_separable();
    test_unrelated();
    test_bad_arguments();
    test_hidden();
    return check_summary("test_probe");
}
