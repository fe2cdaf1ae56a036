/* The transformer against PyTorch: logits, loss and every parameter gradient match the
 * fixtures that tools/make_fixtures.py writes (each positional encoding, pre- and post-LN).
 * Also: cached generation equals generation by re-running the whole model, and the same
 * inputs give the same bits. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "support.h"
#include "core/core.h"
#include "io/io.h"
#include "models/model.h"

static arith_status config_from_fixture(model_config *mc, const st_file *f)
{
    cJSON *cfg = cJSON_Parse(st_meta(f, "config"));
    if (!cfg)
        return arith_error(ARITH_ERR_FORMAT, "fixture has no config");
    memset(mc, 0, sizeof *mc);
    mc->kind = MODEL_TRANSFORMER;
    mc->vocab = json_int(cfg, "vocab");
    mc->d_model = json_int(cfg, "d_model");
    mc->heads = json_int(cfg, "heads");
    mc->ffn = json_int(cfg, "ffn");
    mc->layers = json_int(cfg, "layers");
    mc->context = json_int(cfg, "context");
    arith_status st = norm_kind_parse(&mc->norm, json_str(cfg, "norm"));
    if (!st)
        st = act_kind_parse(&mc->act, json_str(cfg, "act"));
    if (!st)
        st = pos_kind_parse(&mc->pos, json_str(cfg, "pos"));
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
    int B = (int)tokens->shape[0], T = (int)tokens->shape[1];
    batch b;
    CHECK_OK(batch_alloc(&b, B, T));
    b.B = B;
    b.T = T;
    read_i32(&f, "input.tokens", b.tokens, (size_t)B * T);
    read_i32(&f, "input.targets", b.targets, (size_t)B * T);
    read_i32(&f, "input.start", b.start, (size_t)B);
    batch_positions(&b);

    double loss_sum = 0;
    int count = 0;
    CHECK_OK(model_forward(m, &b, false, 0, &loss_sum, &count));
    size_t nlogits = (size_t)B * T * mc.vocab;
    float *want = malloc(nlogits * sizeof(float));
    char what[256];
    CHECK_OK(st_copy_f32(&f, "output.logits", want, nlogits));
    snprintf(what, sizeof what, "%s logits", name);
    CHECK_CLOSE(what, m->logits, want, nlogits, 1e-5, 1e-4);
    float loss = (float)(loss_sum / count), want_loss = 0;
    CHECK_OK(st_copy_f32(&f, "output.loss", &want_loss, 1));
    snprintf(what, sizeof what, "%s loss", name);
    CHECK_CLOSE(what, &loss, &want_loss, 1, 1e-6, 1e-5);

    params_zero_grad(&m->params);
    model_backward(m);
    check_fixture_grads(name, m, &f, 2e-5, 2e-3);
    free(want);
    batch_free(&b);
    model_free(m);
    st_free(&f);
}

/* Greedy generation through the cache must equal re-running the whole model on the growing
 * sequence (the notebook's way) token for token, for prompts of different lengths. */
static void check_cached_generation(pos_kind pos, norm_kind norm)
{
    model_config mc = {.kind = MODEL_TRANSFORMER, .vocab = 12, .d_model = 32, .heads = 4,
                       .ffn = 48, .layers = 3, .context = 24, .norm = norm, .act = ACT_GELU,
                       .pos = pos};
    model *m = NULL;
    CHECK_OK(model_create(&m, &mc));
    rng_state rng;
    rng_seed(&rng, 99);
    model_init_weights(m, &rng);
    /* larger weights than the init, so that the argmax changes from step to step */
    for (size_t i = 0; i < m->params.total; i++)
        m->params.data[i] += 0.5f * rng_normal(&rng);
    enum { B = 5, P = 7, NEW = 9 };
    const int32_t eos = 11; /* never produced below: no token id is reserved in this test */
    batch prompts, full;
    CHECK_OK(batch_alloc(&prompts, B, P));
    CHECK_OK(batch_alloc(&full, B, P + NEW));
    prompts.B = B;
    prompts.T = P;
    for (int r = 0; r < B; r++) {
        prompts.start[r] = r % 3; /* left padding of 0, 1, 2 columns */
        for (int t = 0; t < P; t++)
            prompts.tokens[r * P + t] = t < prompts.start[r] ? 10 : (int32_t)rng_below(&rng, 10);
    }
    batch_positions(&prompts);
    int32_t cached[B * NEW];
    CHECK_OK(model_generate(m, &prompts, NEW, eos, cached));
    /* reference: full forward over prompt + generated so far, take the argmax at the end */
    int32_t seq[B][P + NEW];
    for (int r = 0; r < B; r++)
        for (int t = 0; t < P; t++)
            seq[r][t] = prompts.tokens[r * P + t];
    int mismatches = 0;
    for (int i = 0; i < NEW; i++) {
        int T = P + i;
        full.B = B;
        full.T = T;
        for (int r = 0; r < B; r++) {
            full.start[r] = prompts.start[r];
            for (int t = 0; t < T; t++) {
                full.tokens[r * T + t] = seq[r][t];
                full.targets[r * T + t] = -1;
            }
        }
        batch_positions(&full);
        CHECK_OK(model_forward(m, &full, false, 0, NULL, NULL));
        for (int r = 0; r < B; r++) {
            const float *row = m->logits + ((size_t)r * T + T - 1) * mc.vocab;
            int32_t best = 0;
            for (int v = 1; v < mc.vocab; v++)
                if (row[v] > row[best])
                    best = v;
            seq[r][T] = best;
            mismatches += best != cached[r * NEW + i];
        }
    }
    CHECK_MSG(mismatches == 0, "pos %s, norm %s: %d cached tokens differ from full re-runs",
              pos_kind_name(pos), norm_kind_name(norm), mismatches);
    batch_free(&prompts);
    batch_free(&full);
    model_free(m);
}

/* Same inputs, same bits: two forward+backward passes (with dropout) agree exactly. */
static void check_determinism(void)
{
    model_config mc = {.kind = MODEL_TRANSFORMER, .vocab = 14, .d_model = 32, .heads = 8,
                       .ffn = 16, .layers = 2, .context = 16, .dropout = 0.1f,
                       .norm = NORM_POST, .act = ACT_RELU, .pos = POS_ROPE};
    model *m = NULL;
    CHECK_OK(model_create(&m, &mc));
    rng_state rng;
    rng_seed(&rng, 5);
    model_init_weights(m, &rng);
    batch b;
    CHECK_OK(batch_alloc(&b, 4, 12));
    b.B = 4;
    b.T = 12;
    for (int i = 0; i < 48; i++) {
        b.tokens[i] = (int32_t)rng_below(&rng, 14);
        b.targets[i] = i % 3 ? (int32_t)rng_below(&rng, 14) : -1;
    }
    batch_positions(&b);
    float *first = malloc(m->params.total * sizeof(float));
    double l1 = 0, l2 = 0;
    params_zero_grad(&m->params);
    CHECK_OK(model_forward(m, &b, true, 1234, &l1, NULL));
    model_backward(m);
    memcpy(first, m->params.grad, m->params.total * sizeof(float));
    params_zero_grad(&m->params);
    CHECK_OK(model_forward(m, &b, true, 1234, &l2, NULL));
    model_backward(m);
    CHECK(l1 == l2);
    CHECK(memcmp(first, m->params.grad, m->params.total * sizeof(float)) == 0);
    /* another dropout seed gives another loss: dropout is really on */
    CHECK_OK(model_forward(m, &b, true, 4321, &l2, NULL));
    CHECK(l1 != l2);
    free(first);
    batch_free(&b);
    model_free(m);
}

int main(void)
{
    const char *fixtures[] = {"transformer_none_post",       "transformer_none_pre",
                              "transformer_sinusoidal_post", "transformer_sinusoidal_pre",
                              "transformer_learned_post",    "transformer_learned_pre",
                              "transformer_rope_post",       "transformer_rope_pre"};
    for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++)
        check_fixture(fixtures[i]);
    const pos_kind poss[] = {POS_NONE, POS_SINUSOIDAL, POS_LEARNED, POS_ROPE};
    for (int p = 0; p < 4; p++) {
        check_cached_generation(poss[p], NORM_POST);
        check_cached_generation(poss[p], NORM_PRE);
    }
    check_determinism();
    return check_summary("test_transformer");
}
