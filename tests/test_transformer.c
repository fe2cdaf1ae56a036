/* The transformer against PyTorch: logits, loss and every parameter gradient match the
 * fixtures that tools/make_fixtures.py writes (each positional encoding, pre- and post-LN).
 * Also, for every registered positional scheme: cached generation equals generation by
 * re-running the whole model, and gradients match central differences; the same inputs give
 * the same bits; parameters start as their declared inits say. */
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
    arith_status st = model_kind_parse(&mc->kind, json_str(cfg, "model")[0] ? json_str(cfg, "model")
                                                                         : "transformer");
    mc->tie = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "tie"));
    mc->vocab = json_int(cfg, "vocab");
    mc->d_model = json_int(cfg, "d_model");
    mc->heads = json_int(cfg, "heads");
    mc->ffn = json_int(cfg, "ffn");
    mc->layers = json_int(cfg, "layers");
    mc->context = json_int(cfg, "context");
    if (!st)
        st = norm_kind_parse(&mc->norm, json_str(cfg, "norm"));
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
    if (st_find(&f, "input.pos")) /* the data's ids (coupling-rel/-local): repeating, jumping */
        read_i32(&f, "input.pos", b.pos, (size_t)B * T);

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

/* Tokens of `cached` (B x NEW, from model_generate on prompts) that differ from re-running the
 * whole model on prompt + tokens so far and taking the argmax (the notebook's way). The re-runs
 * number their columns as the prompts do: columns from start, or, when prompts carry gen_pos,
 * the prompts' ids and then gen_pos's. */
static int rerun_mismatches(model *m, const batch *prompts, int NEW, int32_t eos,
                            const int32_t *cached)
{
    const int B = prompts->B, P = prompts->T, V = m->cfg.vocab, W = P + NEW;
    const bool given = prompts->gen_n > 0;
    batch full;
    CHECK_OK(batch_alloc(&full, B, W));
    int32_t *seq = malloc((size_t)B * W * sizeof *seq);
    for (int r = 0; r < B; r++)
        for (int t = 0; t < P; t++)
            seq[r * W + t] = prompts->tokens[r * P + t];
    int mismatches = 0;
    for (int i = 0; i < NEW; i++) {
        int T = P + i;
        full.B = B;
        full.T = T;
        for (int r = 0; r < B; r++) {
            full.start[r] = prompts->start[r];
            for (int t = 0; t < T; t++) {
                full.tokens[r * T + t] = seq[r * W + t];
                full.targets[r * T + t] = -1;
            }
        }
        batch_positions(&full);
        for (int r = 0; r < B && given; r++)
            for (int t = 0; t < T; t++)
                full.pos[r * T + t] = t < P ? prompts->pos[r * P + t]
                                            : prompts->gen_pos[r * prompts->gen_n + t - P];
        CHECK_OK(model_forward(m, &full, false, 0, NULL, NULL));
        for (int r = 0; r < B; r++) {
            const float *row = m->logits + ((size_t)r * T + T - 1) * V;
            int32_t best = 0;
            for (int v = 1; v < V; v++)
                if (row[v] > row[best])
                    best = v;
            if (i > 0 && seq[r * W + T - 1] == eos)
                best = eos;
            seq[r * W + T] = best;
            mismatches += best != cached[r * NEW + i];
        }
    }
    free(seq);
    batch_free(&full);
    return mismatches;
}

/* Greedy generation through the cache must equal re-running the whole model on the growing
 * sequence (the notebook's way) token for token, for prompts of different lengths. */
/* A small model of the family (vocab 12, d 32, 4 heads, context 24) with weights larger than
 * the init's, so that the argmax changes from step to step; rng goes on to draw the prompts. */
static model *jittered_model(const char *family, const char *pos, norm_kind norm, int layers,
                             rng_state *rng)
{
    const bool gpt2 = strcmp(family, "gpt2") == 0;
    model_config mc = {.kind = family_named(family), .vocab = 12, .d_model = 32, .heads = 4,
                       .ffn = 48, .layers = layers, .context = 24, .norm = norm,
                       .act = gpt2 ? ACT_GELU_TANH : ACT_GELU, .pos = scheme_named(pos),
                       .tie = true};
    model *m = NULL;
    CHECK_OK(model_create(&m, &mc));
    model_init_weights(m, rng);
    for (size_t i = 0; i < m->params.total; i++)
        m->params.data[i] += 0.5f * rng_normal(rng);
    return m;
}

static void check_cached_generation(const char *family, const char *pos, norm_kind norm)
{
    rng_state rng;
    rng_seed(&rng, 99);
    model *m = jittered_model(family, pos, norm, 3, &rng);
    enum { B = 5, P = 7, NEW = 9 };
    const int32_t eos = 11; /* after it, a row repeats it */
    batch prompts;
    CHECK_OK(batch_alloc(&prompts, B, P));
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
    int mismatches = rerun_mismatches(m, &prompts, NEW, eos, cached);
    CHECK_MSG(mismatches == 0, "pos %s, norm %s: %d cached tokens differ from full re-runs",
              pos, norm_kind_name(norm), mismatches);
    batch_free(&prompts);
    model_free(m);
}

/* A decoding step runs its rows through the layers in one band per thread when the batch is
 * large enough (16 rows or more on 2 threads) and the scheme has no decoding bias. On 2 threads
 * the tokens must be 1 thread's and equal full re-runs; the last step's logits must be 1
 * thread's bit for bit when the bands are whole blocks of 8 rows (B = 48: 24 + 24), and within
 * rounding otherwise (B = 37: 24 + 13; oneDNN sums a band's last rows in another order). */
static void check_banded_generation(const char *family, const char *pos, int B)
{
    rng_state rng;
    rng_seed(&rng, 31);
    model *m = jittered_model(family, pos, NORM_PRE, 2, &rng);
    enum { P = 6, NEW = 8, V = 12 };
    const int32_t eos = 11;
    batch prompts;
    CHECK_OK(batch_alloc(&prompts, B, P));
    prompts.B = B;
    prompts.T = P;
    for (int r = 0; r < B; r++) {
        prompts.start[r] = r % 4;
        for (int t = 0; t < P; t++)
            prompts.tokens[r * P + t] = t < prompts.start[r] ? 10 : (int32_t)rng_below(&rng, 10);
    }
    batch_positions(&prompts);
    const int saved = core_threads();
    const size_t nt = (size_t)B * NEW, nl = (size_t)B * V;
    int32_t *one = malloc(nt * sizeof *one), *two = malloc(nt * sizeof *two);
    float *logits_one = malloc(nl * sizeof *logits_one);
    core_set_threads(1);
    CHECK_OK(model_generate(m, &prompts, NEW, eos, one));
    memcpy(logits_one, m->logits, nl * sizeof *logits_one);
    if (core_set_threads(2) == 2) {
        CHECK_OK(model_generate(m, &prompts, NEW, eos, two));
        CHECK_MSG(memcmp(one, two, nt * sizeof *one) == 0,
                  "%s, pos %s, B %d: 2 threads generate other tokens than 1", family, pos, B);
        char what[128];
        snprintf(what, sizeof what, "%s, pos %s, B %d: the last step's logits, 2 threads", family,
                 pos, B);
        if (B % 16 == 0)
            CHECK_MSG(memcmp(logits_one, m->logits, nl * sizeof *logits_one) == 0,
                      "%s differ from 1 thread's", what);
        else
            CHECK_CLOSE(what, m->logits, logits_one, nl, 1e-5, 1e-5);
        int mismatches = rerun_mismatches(m, &prompts, NEW, eos, two);
        CHECK_MSG(mismatches == 0, "%s, pos %s, B %d, 2 threads: %d cached tokens differ from "
                  "full re-runs", family, pos, B, mismatches);
    }
    core_set_threads(saved);
    free(one);
    free(two);
    free(logits_one);
    batch_free(&prompts);
    model_free(m);
}

/* The same with ids that the data gives (abacus, coupling, coupling-rel): the prompts' ids repeat
 * and jump as coupled significances do, and the generated tokens take gen_pos's ids; the cache
 * must give what full re-runs with those ids give. A bias on pairs of ids (coupling-rel) reads the
 * ids the transformer keeps for the cached columns. */
static void check_cached_generation_ids(const char *pos)
{
    model_config mc = {.kind = family_named("transformer"), .vocab = 12, .d_model = 32, .heads = 4,
                       .ffn = 48, .layers = 3, .context = 24, .norm = NORM_PRE, .act = ACT_GELU,
                       .pos = scheme_named(pos), .pos_max = 16, .tie = true};
    model *m = NULL;
    CHECK_OK(model_create(&m, &mc));
    rng_state rng;
    rng_seed(&rng, 7);
    model_init_weights(m, &rng);
    for (size_t i = 0; i < m->params.total; i++)
        m->params.data[i] += 0.5f * rng_normal(&rng);
    enum { B = 5, P = 7, NEW = 8 };
    const int32_t eos = 11;
    batch prompts;
    CHECK_OK(batch_alloc(&prompts, B, P));
    prompts.B = B;
    prompts.T = P;
    prompts.gen_pos = malloc((size_t)B * NEW * sizeof(int32_t));
    prompts.gen_n = prompts.gen_cap = NEW;
    for (int r = 0; r < B; r++) {
        prompts.start[r] = r % 3;
        for (int t = 0; t < P; t++) {
            prompts.tokens[r * P + t] = t < prompts.start[r] ? 10 : (int32_t)rng_below(&rng, 10);
            prompts.pos[r * P + t] = t < prompts.start[r] ? 0 : (int32_t)rng_below(&rng, 9);
        }
        for (int i = 0; i < NEW; i++) /* as coupling numbers a reversed answer: 1, 2, 3, ... */
            prompts.gen_pos[r * NEW + i] = 1 + (i + r) % 9;
    }
    int32_t cached[B * NEW];
    CHECK_OK(model_generate(m, &prompts, NEW, eos, cached));
    int mismatches = rerun_mismatches(m, &prompts, NEW, eos, cached);
    CHECK_MSG(mismatches == 0, "pos %s with data-given ids: %d cached tokens differ from full re-runs",
              pos, mismatches);
    batch_free(&prompts);
    model_free(m);
}

/* Same inputs, same bits: two forward+backward passes (with dropout) agree exactly. */
static void check_determinism(void)
{
    model_config mc = {.kind = family_named("transformer"), .vocab = 14, .d_model = 32, .heads = 8,
                       .ffn = 16, .layers = 2, .context = 16, .dropout = 0.1f,
                       .norm = NORM_POST, .act = ACT_RELU, .pos = scheme_named("rope")};
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

/* The loss's gradient with a positional scheme (written for ALiBi and FIRE, run for every one)
 * against central differences of the loss, for every FIRE parameter and a sample of the
 * others, on a small model with left-padded rows. thr:
 * FIRE's threshold in positions (below the ids used: rows past it take their own
 * normalizer). */
static double relative_loss(model *m, const batch *b)
{
    double loss = 0;
    int count = 0;
    CHECK_OK(model_forward(m, b, false, 0, &loss, &count));
    return loss / count;
}

static void check_relative_gradients(const char *pos, norm_kind norm, float thr)
{
    model_config mc = {.kind = family_named("transformer"), .vocab = 9, .d_model = 16, .heads = 4,
                       .ffn = 12, .layers = 2, .context = 10, .norm = norm, .act = ACT_GELU,
                       .pos = scheme_named(pos)};
    model *m = NULL;
    CHECK_OK(model_create(&m, &mc));
    if (!m)
        return;
    rng_state rng;
    rng_seed(&rng, 17);
    model_init_weights(m, &rng);
    for (int i = 0; i < m->params.count; i++) { /* FIRE's c and threshold, per layer */
        const param_view *v = &m->params.views[i];
        const size_t len = strlen(v->name);
        if (len > 2 && strcmp(v->name + len - 2, ".c") == 0)
            m->params.data[v->offset] = v->name[7] == '0' ? 0.4f : -0.2f;
        if (len > 2 && strcmp(v->name + len - 2, ".L") == 0)
            m->params.data[v->offset] = thr / 512.0f;
    }
    enum { B = 3, T = 8 };
    batch b;
    CHECK_OK(batch_alloc(&b, B, T));
    b.B = B;
    b.T = T;
    const int32_t start[B] = {0, 3, 1};
    for (int r = 0; r < B; r++) {
        b.start[r] = start[r];
        for (int t = 0; t < T; t++) {
            b.tokens[r * T + t] = (int32_t)rng_below(&rng, 9);
            b.targets[r * T + t] = t >= 4 ? (int32_t)rng_below(&rng, 9) : -1;
        }
    }
    batch_positions(&b);
    relative_loss(m, &b);
    params_zero_grad(&m->params);
    model_backward(m);
    float *grad = malloc(m->params.total * sizeof(float));
    memcpy(grad, m->params.grad, m->params.total * sizeof(float));
    int checked = 0;
    for (int i = 0; i < m->params.count; i++) {
        const param_view *v = &m->params.views[i];
        const bool fire = strstr(v->name, ".fire.") != NULL;
        const size_t len = strlen(v->name);
        const bool is_L = fire && strcmp(v->name + len - 2, ".L") == 0;
        /* FIRE's parameters whole; one entry in 7 of the others */
        for (size_t j = 0; j < v->size; j += fire ? 1 : 7) {
            float *x = m->params.data + v->offset + j;
            /* L moves the threshold by 0.01 positions (512 * 2e-5) */
            const float saved = *x, eps = is_L ? 0.01f / 512.0f : 1e-3f;
            *x = saved + eps;
            const double lp = relative_loss(m, &b);
            *x = saved - eps;
            const double lm = relative_loss(m, &b);
            *x = saved;
            const float num = (float)((lp - lm) / ((double)(saved + eps) - (double)(saved - eps)));
            char what[PARAM_NAME_MAX + 64];
            snprintf(what, sizeof what, "pos %s, thr %g: d %s[%zu]", pos, thr,
                     v->name, j);
            CHECK_CLOSE(what, grad + v->offset + j, &num, 1, 2e-3, 2e-2);
            checked++;
        }
    }
    CHECK(checked > 100);
    free(grad);
    batch_free(&b);
    model_free(m);
}

/* Seed 003's freezing: with only ln, wpe and the new layers trainable, their gradients still
 * match PyTorch and the frozen matrices get none (the backward skips their products). */
static void check_gpt2_frozen(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/fixtures/gpt2_untied.safetensors", ARITH_SOURCE_DIR);
    st_file f;
    CHECK_OK(st_read(&f, path));
    model_config mc;
    model *m = fixture_model(&f, config_from_fixture, &mc);
    if (!m) {
        st_free(&f);
        return;
    }
    size_t all = params_count_trainable(&m->params);
    CHECK(params_set_trainable(&m->params, "nothing_like_this", "--train") == ARITH_ERR_ARG);
    CHECK(params_count_trainable(&m->params) == all); /* unchanged on error */
    CHECK_OK(params_set_trainable(&m->params, "ln,wpe,in_layer,out_layer", "--train"));
    const st_tensor *tokens = st_find(&f, "input.tokens");
    int B = (int)tokens->shape[0], T = (int)tokens->shape[1];
    batch b;
    CHECK_OK(batch_alloc(&b, B, T));
    b.B = B;
    b.T = T;
    read_i32(&f, "input.tokens", b.tokens, (size_t)B * T);
    read_i32(&f, "input.targets", b.targets, (size_t)B * T);
    read_i32(&f, "input.start", b.start, (size_t)B);
    batch_positions(&b);
    CHECK_OK(model_forward(m, &b, false, 0, NULL, NULL));
    params_zero_grad(&m->params);
    model_backward(m);
    float *want = malloc(m->params.total * sizeof(float));
    int frozen = 0, trainable = 0;
    for (int i = 0; i < m->params.count; i++) {
        const param_view *v = &m->params.views[i];
        const float *g = m->params.grad + v->offset;
        bool expect = strstr(v->name, "ln_") || strstr(v->name, "wpe") ||
                      strstr(v->name, "_layer");
        CHECK_MSG(v->trainable == expect, "%s trainable = %d", v->name, v->trainable);
        if (!v->trainable && v->ndim == 2) {
            frozen++;
            bool zero = true;
            for (size_t j = 0; j < v->size; j++)
                zero = zero && g[j] == 0.0f;
            CHECK_MSG(zero, "frozen %s got a gradient", v->name);
        } else if (v->trainable) {
            trainable++;
            char gname[PARAM_NAME_MAX + 8];
            snprintf(gname, sizeof gname, "grad.%s", v->name);
            CHECK_OK(st_copy_f32(&f, gname, want, v->size));
            CHECK_CLOSE(gname, g, want, v->size, 2e-5, 2e-3);
        }
    }
    /* frozen: c_attn, c_proj, c_fc, mlp.c_proj of 2 layers; trainable: ln_1, ln_2 (weight and
     * bias) of 2 layers, ln_f, wpe, in_layer, out_layer (weight and bias) */
    CHECK_MSG(frozen == 8 && trainable == 8 + 2 + 1 + 1 + 2, "%d frozen, %d trainable", frozen,
              trainable);
    free(want);
    batch_free(&b);
    model_free(m);
    st_free(&f);
}

/* Writes the tiny Hugging Face GPT-2 again with every name passed through `rename` (NULL
 * drops the tensor), to dir/name.safetensors; returns the path in `out`. */
typedef const char *(*rename_fn)(const char *name, char *buf, size_t cap);
static void rewrite_hf(const st_file *f, const char *dir, const char *file, rename_fn rename,
                       char *out, size_t out_cap)
{
    st_entry *e = calloc((size_t)f->count, sizeof *e);
    char (*names)[PARAM_NAME_MAX * 2] = calloc((size_t)f->count, sizeof *names);
    float **data = calloc((size_t)f->count, sizeof *data);
    int n = 0;
    for (int i = 0; i < f->count; i++) {
        const st_tensor *t = &f->tensors[i];
        const char *name = rename(t->name, names[n], sizeof names[n]);
        if (!name)
            continue;
        data[n] = malloc(t->numel * sizeof(float));
        CHECK_OK(st_copy_f32(f, t->name, data[n], t->numel));
        e[n] = (st_entry){name, t->ndim, t->shape, data[n]};
        n++;
    }
    snprintf(out, out_cap, "%s/%s.safetensors", dir, file);
    CHECK_OK(st_write(out, e, n, NULL, NULL, 0));
    for (int i = 0; i < n; i++)
        free(data[i]);
    free(data);
    free(names);
    free(e);
}

static const char *prefixed(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "transformer.%s", name);
    return buf;
}
static const char *misspelled(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", strcmp(name, "h.1.mlp.c_fc.weight") == 0 ? "h.1.mlp.c_fc.weigth" : name);
    return buf;
}
static const char *without_ln_f_bias(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", name);
    return strcmp(name, "ln_f.bias") == 0 ? NULL : buf;
}

/* Hugging Face's GPT-2 file: sizes from the shapes (heads from the config beside it), every
 * weight copied bit for bit, seed 003's new layers left as initialized, and files whose names
 * or shapes do not fit rejected with the tensor named. */
static void check_gpt2_pretrained(void)
{
    char path[512], dir[] = "/tmp/arith_gpt2_XXXXXX", other[600];
    snprintf(path, sizeof path, "%s/tests/fixtures/gpt2_hf_tiny.safetensors", ARITH_SOURCE_DIR);
    gpt2_pretrained g;
    CHECK_OK(gpt2_pretrained_read(&g, path));
    CHECK(g.d_model == 32 && g.layers == 2 && g.ffn == 64 && g.context == 16 && g.heads == 4 &&
          g.vocab == 50);
    model_config mc = {.kind = family_named("gpt2"), .vocab = 19, .d_model = g.d_model,
                       .heads = g.heads, .ffn = g.ffn, .layers = g.layers, .context = g.context,
                       .norm = NORM_PRE, .act = ACT_GELU_TANH, .pos = scheme_named("learned"),
                       .tie = false};
    model *m = NULL;
    CHECK_OK(model_create(&m, &mc));
    rng_state rng;
    rng_seed(&rng, 5);
    model_init_weights(m, &rng);
    float in0 = params_data(&m->params, "in_layer.weight")[7];
    CHECK_OK(gpt2_pretrained_load(m, &g));
    CHECK(params_data(&m->params, "in_layer.weight")[7] == in0);
    const char *names[] = {"wpe.weight", "h.1.attn.c_attn.weight", "h.0.mlp.c_proj.bias",
                           "ln_f.weight"};
    for (int k = 0; k < 4; k++) {
        const param_view *v = params_find(&m->params, names[k]);
        float *want = malloc(v->size * sizeof(float));
        CHECK_OK(st_copy_f32(&g.file, names[k], want, v->size));
        CHECK_MSG(memcmp(want, m->params.data + v->offset, v->size * sizeof(float)) == 0,
                  "%s is not bit-identical to the file", names[k]);
        free(want);
    }
    /* a model of another width does not fit: the first tensor that differs is named */
    model *wide = NULL;
    model_config mw = mc;
    mw.ffn = 128;
    CHECK_OK(model_create(&wide, &mw));
    CHECK(gpt2_pretrained_load(wide, &g) == ARITH_ERR_FORMAT);
    CHECK_MSG(strstr(arith_error_message(), "h.0.mlp.c_fc.weight") &&
              strstr(arith_error_message(), "[32, 64]"), "%s", arith_error_message());
    model_free(wide);

    CHECK(mkdtemp(dir) != NULL);
    /* GPT2LMHeadModel's names ("transformer.h.0...") load the same; no config beside this
     * copy, so the heads come from GPT-2's head size 64 - and 32 is not a multiple of it */
    gpt2_pretrained g2;
    rewrite_hf(&g.file, dir, "prefixed", prefixed, other, sizeof other);
    CHECK(gpt2_pretrained_read(&g2, other) == ARITH_ERR_FORMAT);
    CHECK_MSG(strstr(arith_error_message(), "config.json"), "%s", arith_error_message());
    char cfg_path[600];
    snprintf(cfg_path, sizeof cfg_path, "%s/prefixed.json", dir);
    FILE *cf = fopen(cfg_path, "w");
    fputs("{\"n_head\": 4}", cf);
    fclose(cf);
    CHECK_OK(gpt2_pretrained_read(&g2, other));
    CHECK(g2.layers == 2 && g2.heads == 4 && strcmp(g2.prefix, "transformer.") == 0);
    model *m2 = NULL;
    CHECK_OK(model_create(&m2, &mc));
    CHECK_OK(gpt2_pretrained_load(m2, &g2));
    CHECK(memcmp(m2->params.data + params_find(&m2->params, "h.1.ln_2.bias")->offset,
                 m->params.data + params_find(&m->params, "h.1.ln_2.bias")->offset,
                 32 * sizeof(float)) == 0);
    model_free(m2);
    gpt2_pretrained_free(&g2);
    unlink(other);
    unlink(cfg_path);
    /* a name that is not GPT-2's */
    rewrite_hf(&g.file, dir, "misspelled", misspelled, other, sizeof other);
    CHECK(gpt2_pretrained_read(&g2, other) == ARITH_ERR_FORMAT);
    CHECK_MSG(strstr(arith_error_message(), "h.1.mlp.c_fc.weigth"), "%s", arith_error_message());
    unlink(other);
    /* a missing tensor */
    rewrite_hf(&g.file, dir, "no_bias", without_ln_f_bias, other, sizeof other);
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    cf = fopen(cfg_path, "w");
    fputs("{\"n_head\": 4}", cf);
    fclose(cf);
    CHECK_OK(gpt2_pretrained_read(&g2, other));
    CHECK(gpt2_pretrained_load(m, &g2) == ARITH_ERR_FORMAT);
    CHECK_MSG(strstr(arith_error_message(), "'ln_f.bias' is missing"), "%s",
              arith_error_message());
    gpt2_pretrained_free(&g2);
    unlink(other);
    unlink(cfg_path);
    rmdir(dir);
    model_free(m);
    gpt2_pretrained_free(&g);
}

/* Every parameter starts as it was declared: the fixed inits hold from creation (layer norms
 * as the identity, FIRE's c and L), every value after initialization lies where its init puts
 * it, and the same seed gives the same bits. */
static void check_init(const char *family, const char *pos)
{
    model_config mc = {.kind = family_named(family), .vocab = 11, .d_model = 16, .heads = 4,
                       .ffn = 24, .layers = 2, .context = 12, .norm = NORM_PRE,
                       .act = ACT_GELU, .pos = scheme_named(pos)};
    model *m = NULL, *again = NULL;
    CHECK_OK(model_create(&m, &mc));
    CHECK_OK(model_create(&again, &mc));
    if (!m || !again)
        return;
    const param_table *pt = &m->params;
    for (int i = 0; i < pt->count; i++) {
        const param_view *v = &pt->views[i];
        const float *x = pt->data + v->offset;
        const bool fixed = v->init.kind == PARAM_INIT_CONSTANT || v->init.kind == PARAM_INIT_ZEROS;
        for (size_t j = 0; j < v->size; j++)
            CHECK_MSG(x[j] == (fixed ? v->init.a : 0.0f), "%s %s: created %s[%zu] = %g", family,
                      pos, v->name, j, (double)x[j]);
    }
    rng_state rng;
    rng_seed(&rng, 5);
    model_init_weights(m, &rng);
    rng_seed(&rng, 5);
    model_init_weights(again, &rng);
    CHECK(memcmp(m->params.data, again->params.data, pt->total * sizeof(float)) == 0);
    for (int i = 0; i < pt->count; i++) {
        const param_view *v = &pt->views[i];
        const float *x = pt->data + v->offset, a = v->init.a;
        double sum2 = 0;
        for (size_t j = 0; j < v->size; j++) {
            sum2 += (double)x[j] * x[j];
            if (v->init.kind == PARAM_INIT_UNIFORM)
                CHECK_MSG(fabsf(x[j]) <= a, "%s: %g outside +-%g", v->name, (double)x[j],
                          (double)a);
            else if (v->init.kind != PARAM_INIT_NORMAL)
                CHECK_MSG(x[j] == (v->init.kind == PARAM_INIT_CONSTANT ? a : 0.0f), "%s", v->name);
        }
        if (v->init.kind == PARAM_INIT_NORMAL && v->size >= 100) /* the std within 25% */
            CHECK_MSG(fabs(sqrt(sum2 / (double)v->size) / a - 1.0) < 0.25, "%s: std %g, not %g",
                      v->name, sqrt(sum2 / (double)v->size), (double)a);
    }
    model_free(m);
    model_free(again);
}

int main(void)
{
    const char *fixtures[] = {"transformer_none_post",       "transformer_none_pre",
                              "transformer_sinusoidal_post", "transformer_sinusoidal_pre",
                              "transformer_learned_post",    "transformer_learned_pre",
                              "transformer_rope_post",       "transformer_rope_pre",
                              "transformer_alibi_post",      "transformer_fire_pre",
                              "transformer_coupling-rel_post", "transformer_coupling-local_pre",
                              "transformer_coupling-anchor_post",
                              "gpt2_tied",                   "gpt2_untied"};
    for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++)
        check_fixture(fixtures[i]);
    /* every registered scheme (abacus and coupling read column ids here) */
    for (pos_kind p = 0; pos_kind_name(p); p++) {
        check_cached_generation("transformer", pos_kind_name(p), NORM_POST);
        check_cached_generation("transformer", pos_kind_name(p), NORM_PRE);
    }
    check_cached_generation("gpt2", "learned", NORM_PRE);
    check_banded_generation("transformer", "sinusoidal", 48);
    check_banded_generation("transformer", "sinusoidal", 37);
    check_banded_generation("transformer", "rope", 48);
    check_banded_generation("transformer", "alibi", 48); /* a decoding bias: one band */
    check_banded_generation("gpt2", "learned", 48);
    check_banded_generation("gpt2", "learned", 37);
    check_cached_generation_ids("coupling");
    check_cached_generation_ids("coupling-rel");
    check_cached_generation_ids("coupling-local");
    check_cached_generation_ids("coupling-anchor");
    check_gpt2_frozen();
    check_gpt2_pretrained();
    check_determinism();
    check_relative_gradients("alibi", NORM_POST, 512.0f);
    check_relative_gradients("fire", NORM_PRE, 512.0f);
    check_relative_gradients("fire", NORM_POST, 2.5f);
    /* and every other registered scheme's gradients, by the same finite differences */
    for (pos_kind p = 0; pos_kind_name(p); p++)
        if (strcmp(pos_kind_name(p), "alibi") != 0 && strcmp(pos_kind_name(p), "fire") != 0)
            check_relative_gradients(pos_kind_name(p), p % 2 ? NORM_PRE : NORM_POST, 512.0f);
    check_init("transformer", "fire");
    check_init("transformer", "abacus");
    check_init("gpt2", "learned");
    return check_summary("test_transformer");
}
