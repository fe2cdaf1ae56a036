/* The recurrent models against PyTorch: seed 000's LSTM language model, seed 002's
 * bidirectional encoder-decoder and seed 004's counter (regression head) give the logits or
 * predictions, the loss and every parameter gradient of the fixtures that
 * tools/make_lstm_fixtures.py writes (embedded and one-hot inputs, left and right padding).
 * Also: generation with the carried LSTM state equals re-running the model on the growing
 * sequence; the counter's cell-state readout (--readout cell) has every gradient right by
 * central finite differences, --forget-bias sets only the forget gates' biases. That they learn
 * their tasks is test_recurrent_learn's (labelled slow). */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "support.h"
#include "core/core.h"
#include "io/io.h"
#include "models/model.h"
#include "train/train.h"

static arith_status config_from_fixture(model_config *mc, const st_file *f)
{
    cJSON *cfg = cJSON_Parse(st_meta(f, "config"));
    if (!cfg)
        return arith_error(ARITH_ERR_FORMAT, "fixture has no config");
    memset(mc, 0, sizeof *mc);
    arith_status st = model_kind_parse(&mc->kind, json_str(cfg, "model"));
    if (!st)
        st = head_kind_parse(&mc->head, json_str(cfg, "head"));
    if (!st)
        st = input_kind_parse(&mc->input, json_str(cfg, "input"));
    mc->vocab = json_int(cfg, "vocab");
    mc->d_model = json_int(cfg, "d_model");
    mc->hidden = json_int(cfg, "hidden");
    mc->layers = json_int(cfg, "layers");
    mc->answer_len = json_int(cfg, "answer_len");
    mc->context = 64;
    cJSON_Delete(cfg);
    return st;
}

static void check_fixture(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/fixtures/%s.safetensors", ARITH_SOURCE_DIR, name);
    st_file f;
    arith_status st = st_read(&f, path);
    CHECK_OK(st);
    if (st)
        return;
    model_config mc;
    model *m = fixture_model(&f, config_from_fixture, &mc);
    if (!m) {
        st_free(&f);
        return;
    }
    const st_tensor *tokens = st_find(&f, "input.tokens");
    CHECK(tokens && tokens->ndim == 2);
    const int B = (int)tokens->shape[0], T = (int)tokens->shape[1], V = mc.vocab;
    batch b;
    CHECK_OK(batch_alloc(&b, B, T));
    b.B = B;
    b.T = T;
    read_i32(&f, "input.tokens", b.tokens, (size_t)B * T);
    read_i32(&f, "input.targets", b.targets, (size_t)B * T);
    read_i32(&f, "input.start", b.start, (size_t)B);
    int32_t prompt_T = 0;
    read_i32(&f, "input.prompt_T", &prompt_T, 1);
    b.prompt_T = prompt_T;
    batch_positions(&b);
    const bool regression = mc.head == HEAD_REGRESSION;
    if (regression)
        CHECK_OK(st_copy_f32(&f, "input.values", b.values, (size_t)B));

    double loss_sum = 0;
    int count = 0;
    CHECK_OK(model_forward(m, &b, false, 0, &loss_sum, &count));
    char what[256];
    if (regression) {
        float want[64];
        CHECK_OK(st_copy_f32(&f, "output.pred", want, (size_t)B));
        snprintf(what, sizeof what, "%s predictions", name);
        CHECK_CLOSE(what, m->values, want, (size_t)B, 1e-6, 1e-5);
    } else if (mc.kind == family_named("seq2seq")) {
        /* answer position i of row r sits at batch row r*T + prompt_T - 1 + i */
        const int W = mc.answer_len;
        float *want = malloc((size_t)B * W * V * sizeof(float));
        float *got = malloc((size_t)B * W * V * sizeof(float));
        CHECK_OK(st_copy_f32(&f, "output.logits", want, (size_t)B * W * V));
        for (int r = 0; r < B; r++)
            for (int i = 0; i < W; i++)
                memcpy(got + ((size_t)r * W + i) * V,
                       m->logits + ((size_t)r * T + prompt_T - 1 + i) * V, V * sizeof(float));
        snprintf(what, sizeof what, "%s logits", name);
        CHECK_CLOSE(what, got, want, (size_t)B * W * V, 1e-6, 1e-5);
        free(want);
        free(got);
    } else {
        /* columns before a row's start are not steps of that row: nothing to compare */
        float *want = malloc((size_t)B * T * V * sizeof(float));
        CHECK_OK(st_copy_f32(&f, "output.logits", want, (size_t)B * T * V));
        for (int r = 0; r < B; r++)
            for (int t = b.start[r]; t < T; t++) {
                snprintf(what, sizeof what, "%s logits row %d column %d", name, r, t);
                CHECK_CLOSE(what, m->logits + ((size_t)r * T + t) * V,
                            want + ((size_t)r * T + t) * V, (size_t)V, 1e-6, 1e-5);
            }
        free(want);
    }
    float loss = (float)(loss_sum / count), want_loss = 0;
    CHECK_OK(st_copy_f32(&f, "output.loss", &want_loss, 1));
    snprintf(what, sizeof what, "%s loss", name);
    CHECK_CLOSE(what, &loss, &want_loss, 1, 1e-6, 1e-5);

    params_zero_grad(&m->params);
    model_backward(m);
    /* the largest gradients here are ~1e-3: an absolute floor of 1e-6 still catches 0.1% */
    check_fixture_grads(name, m, &f, 1e-6, 1e-4);
    batch_free(&b);
    model_free(m);
    st_free(&f);
}

/* Generation that carries each layer's state must equal re-running the whole model on the
 * growing, left-padded sequences, token for token. */
static void check_carried_generation(void)
{
    model_config mc = {.kind = family_named("lstm"), .vocab = 12, .d_model = 8, .hidden = 16,
                       .layers = 2, .context = 24, .head = HEAD_LM, .input = INPUT_EMBED};
    model *m = NULL;
    CHECK_OK(model_create(&m, &mc));
    if (!m)
        return;
    rng_state rng;
    rng_seed(&rng, 7);
    model_init_weights(m, &rng);
    for (size_t i = 0; i < m->params.total; i++)
        m->params.data[i] *= 3.0f; /* so that the argmax changes from step to step */
    enum { B = 4, P = 6, NEW = 8 };
    const int32_t eos = 11;
    const int plen[B] = {6, 3, 1, 4};
    batch b;
    CHECK_OK(batch_alloc(&b, B, P + NEW));
    b.B = B;
    b.T = P;
    b.prompt_T = P;
    for (int r = 0; r < B; r++) {
        b.start[r] = P - plen[r];
        for (int t = 0; t < P; t++)
            b.tokens[r * P + t] = t < b.start[r] ? 10 : (int32_t)rng_below(&rng, 10);
        for (int t = 0; t < P; t++)
            b.targets[r * P + t] = -1;
    }
    batch_positions(&b);
    int32_t out[B * NEW];
    CHECK_OK(model_generate(m, &b, NEW, eos, out));
    /* the slow way: the whole sequence again for every new token */
    int32_t seq[B][P + NEW];
    for (int r = 0; r < B; r++)
        for (int t = 0; t < P; t++)
            seq[r][t] = b.tokens[r * P + t];
    batch full;
    CHECK_OK(batch_alloc(&full, B, P + NEW));
    int mismatches = 0;
    for (int i = 0; i < NEW; i++) {
        const int T = P + i;
        full.B = B;
        full.T = T;
        full.prompt_T = T;
        for (int r = 0; r < B; r++) {
            full.start[r] = b.start[r];
            for (int t = 0; t < T; t++) {
                full.tokens[r * T + t] = seq[r][t];
                full.targets[r * T + t] = -1;
            }
        }
        batch_positions(&full);
        double loss = 0;
        int count = 0;
        CHECK_OK(model_forward(m, &full, false, 0, &loss, &count));
        for (int r = 0; r < B; r++) {
            int32_t next = argmax_row(m->logits + ((size_t)r * T + T - 1) * mc.vocab, mc.vocab);
            seq[r][T] = next;
            bool done = false;
            for (int j = 0; j < i; j++)
                done = done || out[r * NEW + j] == eos;
            if (!done && out[r * NEW + i] != next)
                mismatches++;
        }
    }
    CHECK_EQ_INT(mismatches, 0);
    batch_free(&full);
    batch_free(&b);
    model_free(m);
}

/* The regression loss (mean squared error) of m on b, in double. */
static double regression_loss(model *m, const batch *b)
{
    double sum = 0;
    int count = 0;
    CHECK_OK(model_forward(m, b, true, 0, &sum, &count));
    return count ? sum / count : 0;
}

/* The counter with --readout cell (and with the default h readout, the same code's other
 * branch): every parameter's gradient against central differences of the loss, on a stack of
 * two layers (the cell readout's gradient enters the top layer as dc_last, and reaches the
 * layer below through its outputs) over left-padded rows. */
static void check_regression_gradients(readout_kind readout, input_kind input)
{
    model_config mc = {.kind = family_named("lstm"), .vocab = 5, .d_model = 4, .hidden = 3,
                       .layers = 2, .context = 16, .head = HEAD_REGRESSION, .input = input,
                       .readout = readout};
    model *m = NULL;
    CHECK_OK(model_create(&m, &mc));
    if (!m)
        return;
    rng_state rng;
    rng_seed(&rng, 11);
    model_init_weights(m, &rng);
    for (size_t i = 0; i < m->params.total; i++)
        m->params.data[i] *= 2.0f; /* gates away from 1/2, so that every path matters */
    enum { B = 3, T = 7 };
    const int plen[B] = {7, 4, 1};
    batch b;
    CHECK_OK(batch_alloc(&b, B, T));
    b.B = B;
    b.T = T;
    b.prompt_T = T;
    for (int r = 0; r < B; r++) {
        b.start[r] = T - plen[r];
        for (int t = 0; t < T; t++) {
            b.tokens[r * T + t] = t < b.start[r] ? 4 : (int32_t)rng_below(&rng, 4);
            b.targets[r * T + t] = -1;
        }
        b.values[r] = (float)(r + 1);
    }
    batch_positions(&b);
    const size_t n = m->params.total;
    float *grad = malloc(n * sizeof *grad), *numeric = malloc(n * sizeof *numeric);
    if (!grad || !numeric) {
        CHECK(false);
        free(grad);
        free(numeric);
        batch_free(&b);
        model_free(m);
        return;
    }
    params_zero_grad(&m->params);
    regression_loss(m, &b);
    model_backward(m);
    memcpy(grad, m->params.grad, n * sizeof *grad);
    const float eps = 1e-2f;
    for (size_t i = 0; i < n; i++) {
        const float keep = m->params.data[i];
        m->params.data[i] = keep + eps;
        double up = regression_loss(m, &b);
        m->params.data[i] = keep - eps;
        double down = regression_loss(m, &b);
        m->params.data[i] = keep;
        numeric[i] = (float)((up - down) / (2.0 * eps));
    }
    char what[96];
    snprintf(what, sizeof what, "counter gradients, readout %s, input %s",
             readout_kind_name(readout), input_kind_name(input));
    CHECK_CLOSE(what, grad, numeric, n, 2e-3, 2e-2);
    free(grad);
    free(numeric);
    batch_free(&b);
    model_free(m);
}

/* --forget-bias: b_ih's forget slice (rows H..2H, torch's order i, f, g, o) holds the bias and
 * b_hh's is 0, in every layer; every other parameter is what the same seed draws without it. */
static void check_forget_bias(void)
{
    model_config mc = {.kind = family_named("lstm"), .vocab = 5, .d_model = 4, .hidden = 3,
                       .layers = 2, .context = 16, .head = HEAD_REGRESSION,
                       .input = INPUT_ONEHOT, .readout = READOUT_CELL};
    model *plain = NULL, *biased = NULL;
    CHECK_OK(model_create(&plain, &mc));
    mc.forget_bias = 20.0f;
    CHECK_OK(model_create(&biased, &mc));
    if (!plain || !biased) {
        model_free(plain);
        model_free(biased);
        return;
    }
    rng_state rng;
    rng_seed(&rng, 5);
    model_init_weights(plain, &rng);
    rng_seed(&rng, 5);
    model_init_weights(biased, &rng);
    int changed = 0, wrong = 0;
    const int H = mc.hidden;
    for (size_t i = 0; i < plain->params.total; i++)
        changed += plain->params.data[i] != biased->params.data[i];
    char name[PARAM_NAME_MAX];
    for (int l = 0; l < mc.layers; l++) {
        snprintf(name, sizeof name, "lstm.%d.bias_ih", l);
        const float *bi = params_data(&biased->params, name);
        snprintf(name, sizeof name, "lstm.%d.bias_hh", l);
        const float *bh = params_data(&biased->params, name);
        CHECK(bi && bh);
        if (!bi || !bh)
            break;
        for (int j = 0; j < H; j++)
            wrong += bi[H + j] != 20.0f || bh[H + j] != 0.0f;
    }
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_INT(changed, 2 * mc.layers * H); /* the forget slices of both biases, no more */
    model_free(plain);
    model_free(biased);
}

/* A config without the new keys (a checkpoint or config.json from before --readout and
 * --forget-bias) reads as seed 004's counter: the h readout, PyTorch's forget-gate init. */
static void check_old_config(void)
{
    train_config cfg;
    train_config_defaults(&cfg);
    CHECK_OK(train_config_from_json(&cfg, "{\"task\": \"count\", \"model\": \"lstm\", "
                                    "\"head\": \"regression\", \"hidden\": 2}", "old config"));
    CHECK_EQ_INT((int)cfg.model.readout, READOUT_HIDDEN);
    CHECK(cfg.model.forget_bias == 0.0);
    model_config mc;
    CHECK_OK(train_model_config(&mc, &cfg.model));
    CHECK_EQ_INT((int)mc.readout, READOUT_HIDDEN);
    CHECK(mc.forget_bias == 0.0f);
}

int main(void)
{
    const char *fixtures[] = {"lstm_embed", "lstm_onehot", "seq2seq_onehot", "seq2seq_embed",
                              "counter_onehot", "counter_embed"};
    for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++)
        check_fixture(fixtures[i]);
    check_carried_generation();
    check_regression_gradients(READOUT_CELL, INPUT_ONEHOT);
    check_regression_gradients(READOUT_CELL, INPUT_EMBED);
    check_regression_gradients(READOUT_HIDDEN, INPUT_EMBED);
    check_forget_bias();
    check_old_config();
    return check_summary("test_recurrent");
}
