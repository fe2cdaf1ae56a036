/* What every model family shares: config names and checks, creation by kind, the parameter
 * declaration helper (each parameter with its init), initialization by those inits, and
 * freeing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"

/* ---------------------------------------------------------------------------- config names */

static arith_status parse_choice(int *out, const char *name, const char *flag,
                                 const char *const *names, int count)
{
    for (int i = 0; i < count; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = i;
            return ARITH_OK;
        }
    char valid[256] = "";
    for (int i = 0; i < count; i++) {
        strcat(valid, i ? ", " : "");
        strcat(valid, names[i]);
    }
    return arith_error(ARITH_ERR_ARG, "%s: unknown value '%s' (valid: %s)", flag, name, valid);
}

static const char *const model_names[] = {"transformer", "lstm", "seq2seq", "gpt2"};
static const char *const norm_names[] = {"post", "pre"};
static const char *const act_names[] = {"relu", "gelu", "gelu_tanh"};
static const char *const pos_names[] = {"none",  "sinusoidal", "learned", "rope",
                                         "alibi", "fire",       "abacus",  "coupling"};
static const char *const head_names[] = {"lm", "regression"};
static const char *const input_names[] = {"embed", "onehot"};

#define PARSE_ENUM(fn, type, names, flag)                                                     \
    arith_status fn(type *out, const char *name)                                              \
    {                                                                                         \
        int v = 0;                                                                            \
        arith_status st = parse_choice(&v, name, flag, names, (int)(sizeof names / sizeof *names)); \
        if (st == ARITH_OK)                                                                   \
            *out = (type)v;                                                                   \
        return st;                                                                            \
    }
PARSE_ENUM(model_kind_parse, model_kind, model_names, "--model")
PARSE_ENUM(norm_kind_parse, norm_kind, norm_names, "--norm")
PARSE_ENUM(act_kind_parse, act_kind, act_names, "--act")
PARSE_ENUM(pos_kind_parse, pos_kind, pos_names, "--pos")
PARSE_ENUM(head_kind_parse, head_kind, head_names, "--head")
PARSE_ENUM(input_kind_parse, input_kind, input_names, "--input")

/* The name of kind k, NULL past the last. */
#define NAME_AT(names, k)                                                                      \
    ((int)(k) >= 0 && (int)(k) < (int)(sizeof names / sizeof *names) ? names[k] : NULL)
const char *model_kind_name(model_kind k) { return NAME_AT(model_names, k); }
const char *norm_kind_name(norm_kind k) { return NAME_AT(norm_names, k); }
const char *act_kind_name(act_kind k) { return NAME_AT(act_names, k); }
const char *pos_kind_name(pos_kind k) { return NAME_AT(pos_names, k); }
const char *head_kind_name(head_kind k) { return NAME_AT(head_names, k); }
const char *input_kind_name(input_kind k) { return NAME_AT(input_names, k); }

static arith_status check_recurrent(const model_config *cfg)
{
    if (cfg->hidden < 1 || cfg->hidden > 65536)
        return arith_error(ARITH_ERR_ARG, "--hidden must be between 1 and 65536 (got %d)",
                           cfg->hidden);
    if (cfg->input == INPUT_EMBED && cfg->d_model < 1)
        return arith_error(ARITH_ERR_ARG, "--d-model (the embedding width) must be at least 1 "
                           "(got %d)", cfg->d_model);
    if (cfg->layers < 1 || cfg->layers > 64)
        return arith_error(ARITH_ERR_ARG, "--layers must be between 1 and 64 for recurrent "
                           "models (got %d)", cfg->layers);
    if (cfg->kind == MODEL_SEQ2SEQ && cfg->head != HEAD_LM)
        return arith_error(ARITH_ERR_ARG, "--model seq2seq has only the lm head (got --head %s)",
                           head_kind_name(cfg->head));
    if (cfg->kind == MODEL_SEQ2SEQ && cfg->answer_len < 1)
        return arith_error(ARITH_ERR_ARG, "seq2seq needs the answer length (got %d)",
                           cfg->answer_len);
    if (cfg->context < 1 || cfg->context > 65536)
        return arith_error(ARITH_ERR_ARG, "context of %d tokens is out of range (1..65536)",
                           cfg->context);
    return ARITH_OK;
}

arith_status model_config_check(const model_config *cfg)
{
    if (cfg->vocab < 2)
        return arith_error(ARITH_ERR_ARG, "vocabulary of %d tokens is too small", cfg->vocab);
    if (cfg->kind != MODEL_TRANSFORMER && cfg->kind != MODEL_GPT2)
        return check_recurrent(cfg);
    if (cfg->head != HEAD_LM)
        return arith_error(ARITH_ERR_ARG, "--model %s has only the lm head (got --head %s)",
                           model_kind_name(cfg->kind), head_kind_name(cfg->head));
    if (cfg->kind == MODEL_GPT2 && (cfg->norm != NORM_PRE || cfg->pos != POS_LEARNED))
        return arith_error(ARITH_ERR_ARG, "--model gpt2 is pre-LN with learned positions "
                           "(got --norm %s --pos %s)", norm_kind_name(cfg->norm),
                           pos_kind_name(cfg->pos));
    if (cfg->d_model < 2)
        return arith_error(ARITH_ERR_ARG, "--d-model must be at least 2 (got %d)", cfg->d_model);
    if (cfg->heads < 1 || cfg->d_model % cfg->heads != 0)
        return arith_error(ARITH_ERR_ARG, "--heads %d must divide --d-model %d", cfg->heads,
                           cfg->d_model);
    if (cfg->pos == POS_ROPE && (cfg->d_model / cfg->heads) % 2 != 0)
        return arith_error(ARITH_ERR_ARG,
                           "--pos rope needs an even head size (d_model/heads = %d)",
                           cfg->d_model / cfg->heads);
    if (cfg->pos == POS_SINUSOIDAL && cfg->d_model % 2 != 0)
        return arith_error(ARITH_ERR_ARG, "--pos sinusoidal needs an even --d-model (got %d)",
                           cfg->d_model);
    if (cfg->ffn < 1)
        return arith_error(ARITH_ERR_ARG, "--ffn must be at least 1 (got %d)", cfg->ffn);
    if (cfg->layers < 1 || cfg->layers > 1000)
        return arith_error(ARITH_ERR_ARG, "--layers must be between 1 and 1000 (got %d)",
                           cfg->layers);
    if (cfg->context < 2 || cfg->context > 65536)
        return arith_error(ARITH_ERR_ARG, "context of %d tokens is out of range (2..65536)",
                           cfg->context);
    if (!(cfg->dropout >= 0.0f && cfg->dropout < 1.0f))
        return arith_error(ARITH_ERR_ARG, "--dropout must be in [0, 1) (got %g)",
                           (double)cfg->dropout);
    return ARITH_OK;
}

arith_status model_declare(param_table *pt, size_t *off, const char *name, int ndim, int64_t d0,
                           int64_t d1, param_init init)
{
    int64_t shape[2] = {d0, d1};
    arith_status st = params_add(pt, name, ndim, shape);
    if (st == ARITH_OK) {
        pt->views[pt->count - 1].init = init;
        *off = pt->views[pt->count - 1].offset;
    }
    return st;
}

int32_t argmax_row(const float *x, int n)
{
    int32_t best = 0;
    for (int v = 1; v < n; v++)
        if (x[v] > x[best])
            best = v;
    return best;
}

void model_rows_reorder(int B, const int32_t *src, int32_t *work, row_move_fn move, void *ctx)
{
    /* indeg[j]: rows still to be written that read row j (-1 once row j is written); rows that
     * nobody still reads are written first, which frees their sources in turn. What is left
     * are disjoint cycles (every pending row is read by exactly one pending row), each done by
     * swaps along it: after swapping x with src[x], row x is right and src[x] holds x's old
     * content, which is what the cycle's last row wants. */
    int32_t *indeg = work, *queue = work + B;
    for (int r = 0; r < B; r++)
        indeg[r] = 0;
    for (int r = 0; r < B; r++)
        if (src[r] != r)
            indeg[src[r]]++;
    int head = 0, tail = 0;
    for (int r = 0; r < B; r++)
        if (src[r] != r && indeg[r] == 0)
            queue[tail++] = r;
    while (head < tail) {
        int r = queue[head++], s = src[r];
        move(ctx, r, s, false);
        indeg[r] = -1;
        if (--indeg[s] == 0 && src[s] != s)
            queue[tail++] = s;
    }
    for (int r = 0; r < B; r++) {
        if (src[r] == r || indeg[r] < 0)
            continue;
        int x = r;
        while (src[x] != r) {
            move(ctx, x, src[x], true);
            indeg[x] = -1;
            x = src[x];
        }
        indeg[x] = -1;
    }
}

void model_row_move(float *base, size_t row_stride, int nseg, size_t seg_stride, size_t len,
                    int dst, int from, bool swap)
{
    for (int s = 0; s < nseg; s++) {
        float *d = base + (size_t)dst * row_stride + (size_t)s * seg_stride;
        float *f = base + (size_t)from * row_stride + (size_t)s * seg_stride;
        if (!swap) {
            memcpy(d, f, len * sizeof(float));
            continue;
        }
        for (size_t i = 0; i < len; i++) {
            float tmp = d[i];
            d[i] = f[i];
            f[i] = tmp;
        }
    }
}

/* ------------------------------------------------------------------------ generic wrappers */

static arith_status create_by_kind(model **out, const model_config *cfg)
{
    switch (cfg->kind) {
    case MODEL_TRANSFORMER:
    case MODEL_GPT2:
        return transformer_create(out, cfg);
    case MODEL_LSTM:
        return lstm_model_create(out, cfg);
    case MODEL_SEQ2SEQ:
        return seq2seq_create(out, cfg);
    }
    return arith_error(ARITH_ERR_ARG, "unknown model kind %d", (int)cfg->kind);
}

arith_status model_create(model **out, const model_config *cfg)
{
    arith_status st = create_by_kind(out, cfg);
    if (st == ARITH_OK)
        params_init_fixed(&(*out)->params);
    return st;
}

void model_init_weights(model *m, rng_state *rng)
{
    params_init_values(&m->params, rng);
}

void model_free(model *m)
{
    if (!m)
        return;
    if (m->ops && m->ops->destroy)
        m->ops->destroy(m);
    params_free(&m->params);
    free(m);
}
