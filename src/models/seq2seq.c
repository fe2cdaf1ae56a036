/* Seed 002's encoder-decoder, PyTorch-style: characters (embedded or one-hot) -> a stack of
 * bidirectional LSTM layers over the prompt -> z = [forward final state | backward final
 * state] -> z repeated at each of the W answer positions (Keras' RepeatVector) -> a stack of
 * bidirectional LSTM layers over those W positions -> a linear layer and softmax per position.
 *
 * All W answer characters come out at once, so answers have a fixed width: the tokenizer
 * right-aligns them with spaces as seed 002 does (" 494" then EOS). Left padding of the prompt
 * is skipped by both encoder directions, so the backward direction's final state is its state
 * after the prompt's first real character. The logits of answer position i are handed out at
 * batch row b*T + prompt_T - 1 + i, where an autoregressive model's would be, so loss, teacher
 * forcing and evaluation treat every family alike. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"
#include "nn/nn.h"

typedef struct {
    size_t w_ih, w_hh, b_ih, b_hh;
} dir_params;

typedef struct {
    dir_params d[2]; /* forward, reverse */
} bi_params;

/* One bidirectional layer's activations: per direction outputs and caches, and the concatenated
 * output (N, 2H) that the next layer reads. */
typedef struct {
    float *out[2];
    float *cache[2];
    float *cat;
} bi_acts;

typedef struct {
    int L, E, H, V, W, in0;
    bool onehot;
    size_t embed;
    bi_params *enc, *dec;
    size_t head_w, head_b;     /* (V, 2H), (V) */

    int cap_B, cap_T;
    void *work;                /* one block holding every buffer below */
    int32_t *ids;              /* (Tp*B) time-major prompt tokens */
    uint8_t *valid;            /* (Tp*B) */
    float *x0;                 /* (Tp*B, in0) */
    bi_acts *ea, *da;          /* L each */
    float *hl[2];              /* (B, H) top encoder's final states */
    float *z;                  /* (B, 2H) */
    float *xdec;               /* (W*B, 2H) z repeated */
    float *logits_tm, *probs;  /* (W*B, V) */
    int32_t *targets_tm;       /* (W*B) */
    float *logits;             /* (B*T, V) batch-major, for the caller */
    float *scratch;            /* lstm_scratch_floats */
    float *dlogits;            /* (W*B, V) */
    float *dcat, *dx;          /* (max(Tp, W)*B, max(2H, in0)) */
    float *dsplit[2];          /* (max(Tp, W)*B, H) */
    float *dhl[2];             /* (B, H) */

    const batch *last;
    const batch *kept;         /* the batch whose activations the decoder's buffers hold
                                  (hidden); NULL once a generation has run over them */
    int last_Tp, last_count;
} seq2seq;

#define P(m, off) ((m)->params.data + (off))
#define G(m, off) ((m)->params.grad + (off))

static int enc_in(const seq2seq *s, int l)
{
    return l == 0 ? s->in0 : 2 * s->H;
}

/* ------------------------------------------------------------------------------ workspace */

static void workspace_release(seq2seq *s)
{
    tensor_free(s->work);
    free(s->ea);
    free(s->da);
    s->work = NULL;
    s->ea = s->da = NULL;
    s->cap_B = s->cap_T = 0;
    s->kept = NULL;
}

static arith_status s2s_reserve(model *m, int B, int T)
{
    seq2seq *s = m->impl;
    if (B <= s->cap_B && T <= s->cap_T)
        return ARITH_OK;
    if (B < s->cap_B)
        B = s->cap_B;
    if (T < s->cap_T)
        T = s->cap_T;
    workspace_release(s);
    const size_t H = (size_t)s->H, V = (size_t)s->V, L = (size_t)s->L, W = (size_t)s->W;
    const size_t Tm = (size_t)T > W ? (size_t)T : W; /* longest sequence either side runs */
    const size_t NT = Tm * B;
    size_t wide = 2 * H > (size_t)s->in0 ? 2 * H : (size_t)s->in0;
    size_t cache = lstm_cache_floats((int)Tm, B, s->H), scratch = 0;
    for (int l = 0; l < s->L; l++) {
        size_t a = lstm_scratch_floats((int)Tm, B, enc_in(s, l), s->H);
        if (a > scratch)
            scratch = a;
    }
    char what[96];
    snprintf(what, sizeof what, "a seq2seq workspace for %d x %d", B, T);
    s->ea = calloc(L, sizeof *s->ea);
    s->da = calloc(L, sizeof *s->da);
    arith_status st = ARITH_OK;
    if (!s->ea || !s->da) {
        st = arith_error(ARITH_ERR_MEMORY, "out of memory for %s", what);
    } else {
        workspace_plan plan;
        workspace_plan_init(&plan);
        workspace_add_ints(&plan, "ids", &s->ids, NT);
        workspace_add_bytes(&plan, "valid", &s->valid, NT);
        workspace_add_floats(&plan, "x0", &s->x0, NT * s->in0);
        for (int l = 0; l < s->L; l++)
            for (int k = 0; k < 2; k++) {
                bi_acts *a = k ? &s->da[l] : &s->ea[l];
                for (int d = 0; d < 2; d++) {
                    workspace_add_floats(&plan, "out", &a->out[d], NT * H);
                    workspace_add_floats(&plan, "cache", &a->cache[d], cache);
                }
                workspace_add_floats(&plan, "cat", &a->cat, NT * 2 * H);
            }
        for (int d = 0; d < 2; d++)
            workspace_add_floats(&plan, "hl", &s->hl[d], (size_t)B * H);
        workspace_add_floats(&plan, "z", &s->z, (size_t)B * 2 * H);
        workspace_add_floats(&plan, "xdec", &s->xdec, W * B * 2 * H);
        workspace_add_floats(&plan, "logits_tm", &s->logits_tm, W * B * V);
        workspace_add_floats(&plan, "probs", &s->probs, W * B * V);
        workspace_add_floats(&plan, "dlogits", &s->dlogits, W * B * V);
        workspace_add_ints(&plan, "targets_tm", &s->targets_tm, W * B);
        workspace_add_floats(&plan, "logits", &s->logits, (size_t)B * T * V);
        workspace_add_floats(&plan, "scratch", &s->scratch, scratch);
        workspace_add_floats(&plan, "dcat", &s->dcat, NT * wide);
        workspace_add_floats(&plan, "dx", &s->dx, NT * wide);
        for (int d = 0; d < 2; d++)
            workspace_add_floats(&plan, "dsplit", &s->dsplit[d], NT * H);
        for (int d = 0; d < 2; d++)
            workspace_add_floats(&plan, "dhl", &s->dhl[d], (size_t)B * H);
        st = workspace_plan_alloc(&plan, &s->work, what);
    }
    if (st) {
        workspace_release(s);
        return st;
    }
    s->cap_B = B;
    s->cap_T = T;
    return ARITH_OK;
}

/* ------------------------------------------------------------------- bidirectional layers */

/* Both directions over in (T*B, I); outputs concatenated into a->cat (T*B, 2H); final states
 * into hl[0], hl[1] when given. */
static void bi_forward(model *m, const bi_params *w, bi_acts *a, const float *in,
                       const uint8_t *valid, int T, int B, int I, float *const *hl)
{
    seq2seq *s = m->impl;
    const int H = s->H;
    for (int d = 0; d < 2; d++) {
        const dir_params *p = &w->d[d];
        lstm_forward(a->out[d], hl ? hl[d] : NULL, NULL, a->cache[d], in, valid, NULL, NULL,
                     P(m, p->w_ih), P(m, p->w_hh), P(m, p->b_ih), P(m, p->b_hh), T, B, I, H, d);
    }
    for (int d = 0; d < 2; d++) /* cat row r = [forward row r | reverse row r] */
        tensor_copy_rows(a->cat + (size_t)d * H, 2 * (size_t)H, a->out[d], H, (size_t)T * B, H);
}

/* Backward of bi_forward: dcat (T*B, 2H) (or NULL) and dhl (final-state gradients, or NULL);
 * adds into dx (T*B, I) when given and into the parameter gradients. */
static void bi_backward(model *m, const bi_params *w, const bi_acts *a, float *dx,
                        const float *dcat, float *const *dhl, const float *in,
                        const uint8_t *valid, int T, int B, int I)
{
    seq2seq *s = m->impl;
    const int H = s->H;
    for (int d = 0; d < 2; d++) {
        const dir_params *p = &w->d[d];
        float *dout = NULL;
        if (dcat) {
            dout = s->dsplit[d];
            tensor_copy_rows(dout, H, dcat + (size_t)d * H, 2 * (size_t)H, (size_t)T * B, H);
        }
        lstm_backward(dx, NULL, NULL, G(m, p->w_ih), G(m, p->w_hh), G(m, p->b_ih),
                      G(m, p->b_hh), dout, dhl ? dhl[d] : NULL, NULL, s->scratch, a->cache[d],
                      in, valid, NULL, NULL, P(m, p->w_ih), P(m, p->w_hh), T, B, I, H, d);
    }
}

/* --------------------------------------------------------------------------------- forward */

/* Encoder over prompt columns [0, Tp) and decoder over the W answer positions; leaves the
 * logits of answer position i, row r at s->logits_tm[(i*B + r) * V]. */
static void encode_decode(model *m, const batch *b, int Tp)
{
    seq2seq *s = m->impl;
    const int B = b->B, H = s->H, W = s->W;
    for (int t = 0; t < Tp; t++)
        for (int r = 0; r < B; r++) {
            s->ids[t * B + r] = b->tokens[(size_t)r * b->T + t];
            s->valid[t * B + r] = t >= b->start[r];
        }
    if (s->onehot)
        onehot_forward(s->x0, s->ids, Tp * B, s->V);
    else
        embedding_forward(s->x0, s->ids, P(m, s->embed), Tp * B, s->E, 1.0f);
    const float *in = s->x0;
    for (int l = 0; l < s->L; l++) {
        bi_forward(m, &s->enc[l], &s->ea[l], in, s->valid, Tp, B, enc_in(s, l),
                   l == s->L - 1 ? s->hl : NULL);
        in = s->ea[l].cat;
    }
    /* z row r = [h_fwd row r | h_bwd row r], then repeated at each of the W positions */
    for (int d = 0; d < 2; d++)
        tensor_copy_rows(s->z + (size_t)d * H, 2 * (size_t)H, s->hl[d], H, B, H);
    tensor_copy_rows(s->xdec, (size_t)B * 2 * H, s->z, 0, W, (size_t)B * 2 * H);
    in = s->xdec;
    for (int l = 0; l < s->L; l++) {
        bi_forward(m, &s->dec[l], &s->da[l], in, NULL, W, B, 2 * H, NULL);
        in = s->da[l].cat;
    }
    linear_forward(s->logits_tm, in, P(m, s->head_w), P(m, s->head_b), W * B, 2 * H, s->V);
}

static arith_status s2s_forward(model *m, const batch *b, bool train, uint64_t seed,
                                double *loss_sum, int *count)
{
    (void)train;
    (void)seed;
    seq2seq *s = m->impl;
    const int B = b->B, T = b->T, V = s->V, W = s->W, Tp = b->prompt_T;
    if (T - Tp + 1 != W)
        return arith_error(ARITH_ERR_DATA, "the seq2seq model emits answers of exactly %d tokens "
                           "(answer + EOS), this batch has %d\nhint: give every answer the same "
                           "width with --answer-width", W, T - Tp + 1);
    arith_status st = s2s_reserve(m, B, T);
    if (st)
        return st;
    encode_decode(m, b, Tp);
    for (int i = 0; i < W; i++)
        for (int r = 0; r < B; r++)
            s->targets_tm[i * B + r] = b->targets[(size_t)r * T + Tp - 1 + i];
    int c = 0;
    *loss_sum = crossentropy_forward(s->probs, s->logits_tm, s->targets_tm, W * B, V, &c);
    *count = c;
    /* answer position i of row r (time-major i*B + r) to batch-major r*T + Tp - 1 + i */
    tensor_zero(s->logits, (size_t)B * T * V);
    for (int r = 0; r < B; r++)
        tensor_copy_rows(s->logits + ((size_t)r * T + Tp - 1) * V, V,
                         s->logits_tm + (size_t)r * V, (size_t)B * V, W, V);
    m->logits = s->logits;
    s->last = s->kept = b;
    s->last_Tp = Tp;
    s->last_count = c;
    return ARITH_OK;
}

static void s2s_backward(model *m)
{
    seq2seq *s = m->impl;
    const batch *b = s->last;
    const int B = b->B, H = s->H, V = s->V, W = s->W, Tp = s->last_Tp;
    if (s->last_count == 0)
        return;
    tensor_zero(s->dlogits, (size_t)W * B * V);
    crossentropy_backward(s->dlogits, s->probs, s->targets_tm, W * B, V,
                          1.0f / (float)s->last_count);
    /* decoder, top down; dcat holds the gradient of the current layer's output */
    tensor_zero(s->dcat, (size_t)W * B * 2 * H);
    linear_backward(s->dcat, G(m, s->head_w), G(m, s->head_b), s->dlogits,
                    s->da[s->L - 1].cat, P(m, s->head_w), W * B, 2 * H, V);
    for (int l = s->L - 1; l >= 0; l--) {
        const float *in = l == 0 ? s->xdec : s->da[l - 1].cat;
        tensor_zero(s->dx, (size_t)W * B * 2 * H);
        bi_backward(m, &s->dec[l], &s->da[l], s->dx, s->dcat, NULL, in, NULL, W, B, 2 * H);
        float *tmp = s->dcat;
        s->dcat = s->dx;
        s->dx = tmp;
    }
    /* z was repeated W times: its gradient is the sum, split into the two final states */
    for (int d = 0; d < 2; d++) {
        tensor_zero(s->dhl[d], (size_t)B * H);
        for (int i = 0; i < W; i++)
            tensor_add_rows(s->dhl[d], H, s->dcat + (size_t)i * B * 2 * H + (size_t)d * H,
                            2 * (size_t)H, B, H);
    }
    /* encoder, top down: the top layer gets only final-state gradients */
    bool have_dcat = false;
    for (int l = s->L - 1; l >= 0; l--) {
        const int I = enc_in(s, l);
        const float *in = l == 0 ? s->x0 : s->ea[l - 1].cat;
        bool want_dx = l > 0 || !s->onehot;
        if (want_dx)
            tensor_zero(s->dx, (size_t)Tp * B * I);
        bi_backward(m, &s->enc[l], &s->ea[l], want_dx ? s->dx : NULL,
                    have_dcat ? s->dcat : NULL, l == s->L - 1 ? s->dhl : NULL, in, s->valid, Tp,
                    B, I);
        float *tmp = s->dcat;
        s->dcat = s->dx;
        s->dx = tmp;
        have_dcat = true;
    }
    if (!s->onehot)
        embedding_backward(G(m, s->embed), s->dcat, s->ids, Tp * B, s->E, 1.0f);
}

/* ------------------------------------------------------------------------------ generation */

static arith_status s2s_generate(model *m, const batch *prompts, int max_new, int32_t eos,
                                 int32_t *out)
{
    seq2seq *s = m->impl;
    const int B = prompts->B, Tp = prompts->T, V = s->V, W = s->W;
    arith_status st = s2s_reserve(m, B, Tp);
    if (st)
        return st;
    s->kept = NULL;
    encode_decode(m, prompts, Tp);
    for (int r = 0; r < B; r++) {
        bool ended = false;
        for (int i = 0; i < max_new; i++) {
            int32_t next = eos;
            if (!ended && i < W)
                next = argmax_row(s->logits_tm + ((size_t)i * B + r) * V, V);
            ended = ended || next == eos;
            out[(size_t)r * max_new + i] = next;
        }
    }
    return ARITH_OK;
}

/* --------------------------------------------------------------------------- create, free */

/* The decoder's side, at the W answer columns (answer position i at column Tp - 1 + i, where
 * its logits are handed out): z repeated (layer 0), then each decoder layer's [forward |
 * backward] output, time-major (row i*B + b). The encoder's states lie over the prompt, which
 * the decoder never sees column by column, so they are not layers of this view. */
static bool s2s_hidden(const model *m, int layer, hidden_view *out)
{
    const seq2seq *s = m->impl;
    if (layer < 0 || layer > s->L || !s->kept)
        return false;
    const size_t wide = 2 * (size_t)s->H;
    *out = (hidden_view){layer == 0 ? s->xdec : s->da[layer - 1].cat, 2 * s->H, s->last_Tp - 1,
                         s->W, wide, (size_t)s->kept->B * wide};
    return true;
}

static void s2s_destroy(model *m)
{
    seq2seq *s = m->impl;
    if (s) {
        workspace_release(s);
        free(s->enc);
        free(s->dec);
        free(s);
    }
}

static const model_ops s2s_ops = {
    .name = "seq2seq",
    .forward = s2s_forward,
    .backward = s2s_backward,
    .generate = s2s_generate,
    .reserve = s2s_reserve,
    .destroy = s2s_destroy,
    .hidden = s2s_hidden,
};

static arith_status declare_bi(param_table *pt, bi_params *w, const char *part, int l, int I,
                               int H)
{
    static const char *const suffix[2] = {"", "_reverse"};
    const param_init init = param_init_fan_in(H); /* nn.LSTM: U(+-1/sqrt(hidden)) */
    char name[PARAM_NAME_MAX];
    arith_status st = ARITH_OK;
    for (int d = 0; d < 2 && !st; d++) {
        dir_params *p = &w->d[d];
        snprintf(name, sizeof name, "%s.%d.weight_ih%s", part, l, suffix[d]);
        st = model_declare(pt, &p->w_ih, name, 2, 4 * (int64_t)H, I, init);
        snprintf(name, sizeof name, "%s.%d.weight_hh%s", part, l, suffix[d]);
        if (!st)
            st = model_declare(pt, &p->w_hh, name, 2, 4 * (int64_t)H, H, init);
        snprintf(name, sizeof name, "%s.%d.bias_ih%s", part, l, suffix[d]);
        if (!st)
            st = model_declare(pt, &p->b_ih, name, 1, 4 * (int64_t)H, 0, init);
        snprintf(name, sizeof name, "%s.%d.bias_hh%s", part, l, suffix[d]);
        if (!st)
            st = model_declare(pt, &p->b_hh, name, 1, 4 * (int64_t)H, 0, init);
    }
    return st;
}

arith_status seq2seq_create(model **out, const model_config *cfg)
{
    *out = NULL;
    arith_status st = model_config_check(cfg);
    if (st)
        return st;
    model *m = calloc(1, sizeof *m);
    seq2seq *s = calloc(1, sizeof *s);
    if (s) {
        s->enc = calloc((size_t)cfg->layers, sizeof *s->enc);
        s->dec = calloc((size_t)cfg->layers, sizeof *s->dec);
    }
    if (!m || !s || !s->enc || !s->dec) {
        free(m);
        if (s) {
            free(s->enc);
            free(s->dec);
        }
        free(s);
        return arith_error(ARITH_ERR_MEMORY, "out of memory creating a seq2seq model");
    }
    m->ops = &s2s_ops;
    m->cfg = *cfg;
    m->impl = s;
    params_init(&m->params);
    s->L = cfg->layers;
    s->H = cfg->hidden;
    s->V = cfg->vocab;
    s->W = cfg->answer_len;
    s->onehot = cfg->input == INPUT_ONEHOT;
    s->E = s->onehot ? 0 : cfg->d_model;
    s->in0 = s->onehot ? s->V : s->E;
    param_table *pt = &m->params;
    if (!s->onehot)
        st = model_declare(pt, &s->embed, "embed.weight", 2, s->V, s->E,
                           param_init_normal(1.0f)); /* nn.Embedding: N(0, 1) */
    for (int l = 0; l < s->L && !st; l++)
        st = declare_bi(pt, &s->enc[l], "encoder", l, enc_in(s, l), s->H);
    for (int l = 0; l < s->L && !st; l++)
        st = declare_bi(pt, &s->dec[l], "decoder", l, 2 * s->H, s->H);
    if (!st)
        st = model_declare(pt, &s->head_w, "head.weight", 2, s->V, 2 * (int64_t)s->H,
                           param_init_fan_in(2 * (int64_t)s->H)); /* nn.Linear */
    if (!st)
        st = model_declare(pt, &s->head_b, "head.bias", 1, s->V, 0,
                           param_init_fan_in(2 * (int64_t)s->H));
    if (!st)
        st = params_alloc(pt);
    if (st) {
        model_free(m);
        return st;
    }
    *out = m;
    return ARITH_OK;
}
