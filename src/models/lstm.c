/* The LSTM language model of seed 000: characters -> embedding (or one-hot vectors) -> stacked
 * LSTM layers -> MLP head (linear, ReLU, linear) -> next-character logits. With the regression
 * head it is seed 004's counter: the top layer's state at the last prompt column (its output h,
 * or with --readout cell its cell state c) -> one number, squared error.
 *
 * Inside, activations are time-major (row t*B + b), as the recurrence wants; the logits are
 * handed out batch-major (row b*T + t) like every model's. Prompts are left-padded: a column
 * before a row's start is not a step of that row at all (its state passes through unchanged),
 * so padding never reaches a state, an output or the loss. Generation runs the prompt once,
 * keeps each layer's (h, c), and then costs one step per new token. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"
#include "nn/nn.h"

typedef struct {
    size_t w_ih, w_hh, b_ih, b_hh;
} lstm_params;

typedef struct {
    int L, E, H, V, in0;      /* in0: width of layer 0's input (E, or V for one-hot) */
    bool onehot, regression;
    bool read_cell;           /* the regression head reads c_T instead of h_T */
    size_t embed;
    lstm_params *layers;
    size_t fc_w, fc_b, out_w, out_b; /* lm head: (H,H), (H), (V,H), (V) */
    size_t head_w, head_b;           /* regression head: (1,H), (1) */

    /* workspace for batches of up to cap_B x cap_T */
    int cap_B, cap_T;
    void *work;               /* one block holding every buffer below */
    int32_t *ids;             /* (T*B) time-major tokens */
    uint8_t *valid;           /* (T*B) */
    float *x0;                /* (T*B, in0) */
    float **out;              /* L x (T*B, H) */
    float **cache;            /* L x lstm_cache_floats */
    float *scratch;           /* lstm_scratch_floats for the widest layer */
    float *hid;               /* (B*T, H) top outputs, batch-major */
    float *fc, *act;          /* (B*T, H) */
    float *logits, *probs;    /* (B*T, V) */
    float *values;            /* (B) */
    float *dlogits;           /* (B*T, V) */
    float *dact, *dhid;       /* (B*T, H) */
    float *dc_last;           /* (B, H) --readout cell: the loss's gradient on the top c_T */
    float *dtop, *dbuf;       /* (T*B, max(H, in0)) */
    /* generation state */
    float *h, *c;             /* L x (B, H) */
    int dec_B;                /* rows of the decoding under way */
    int32_t *dec_work;        /* (2B) decode_reorder's work */

    const batch *last;        /* the last forward's batch, for the backward */
    const batch *kept;        /* the batch whose activations x0 and out hold (hidden); NULL once
                                 a decoding has run over them */
    int last_T;               /* columns the recurrence ran over */
    int last_count;
} lstm_lm;

#define P(m, off) ((m)->params.data + (off))
#define G(m, off) ((m)->params.grad + (off))

static int in_width(const lstm_lm *n, int l)
{
    return l == 0 ? n->in0 : n->H;
}

/* ------------------------------------------------------------------------------ workspace */

static void workspace_release(lstm_lm *n)
{
    tensor_free(n->work);
    free(n->out);
    free(n->cache);
    n->work = NULL;
    n->out = n->cache = NULL;
    n->cap_B = n->cap_T = 0;
    n->kept = NULL;
}

static arith_status lstm_reserve(model *m, int B, int T)
{
    lstm_lm *n = m->impl;
    if (B <= n->cap_B && T <= n->cap_T)
        return ARITH_OK;
    if (B < n->cap_B)
        B = n->cap_B;
    if (T < n->cap_T)
        T = n->cap_T;
    workspace_release(n);
    const size_t NT = (size_t)B * T, H = (size_t)n->H, V = (size_t)n->V, L = (size_t)n->L;
    size_t wide = H > (size_t)n->in0 ? H : (size_t)n->in0;
    size_t cache = lstm_cache_floats(T, B, n->H);
    size_t scratch = 0;
    for (int l = 0; l < n->L; l++) {
        size_t s = lstm_scratch_floats(T, B, in_width(n, l), n->H);
        if (s > scratch)
            scratch = s;
    }
    char what[96];
    snprintf(what, sizeof what, "an LSTM workspace for %d x %d", B, T);
    n->out = calloc(L, sizeof *n->out);
    n->cache = calloc(L, sizeof *n->cache);
    arith_status st = ARITH_OK;
    if (!n->out || !n->cache) {
        st = arith_error(ARITH_ERR_MEMORY, "out of memory for %s", what);
    } else {
        workspace_plan plan;
        workspace_plan_init(&plan);
        workspace_add_ints(&plan, "ids", &n->ids, NT);
        workspace_add_bytes(&plan, "valid", &n->valid, NT);
        workspace_add_floats(&plan, "x0", &n->x0, NT * n->in0);
        for (int l = 0; l < n->L; l++)
            workspace_add_floats(&plan, "out", &n->out[l], NT * H);
        for (int l = 0; l < n->L; l++)
            workspace_add_floats(&plan, "cache", &n->cache[l], cache);
        workspace_add_floats(&plan, "scratch", &n->scratch, scratch);
        workspace_add_floats(&plan, "hid", &n->hid, NT * H);
        workspace_add_floats(&plan, "fc", &n->fc, NT * H);
        workspace_add_floats(&plan, "act", &n->act, NT * H);
        workspace_add_floats(&plan, "logits", &n->logits, NT * V);
        workspace_add_floats(&plan, "probs", &n->probs, NT * V);
        workspace_add_floats(&plan, "dlogits", &n->dlogits, NT * V);
        workspace_add_floats(&plan, "values", &n->values, (size_t)B);
        workspace_add_floats(&plan, "dact", &n->dact, NT * H);
        workspace_add_floats(&plan, "dhid", &n->dhid, NT * H);
        workspace_add_floats(&plan, "dc_last", &n->dc_last, (size_t)B * H);
        workspace_add_floats(&plan, "dtop", &n->dtop, NT * wide);
        workspace_add_floats(&plan, "dbuf", &n->dbuf, NT * wide);
        workspace_add_floats(&plan, "h", &n->h, L * B * H);
        workspace_add_floats(&plan, "c", &n->c, L * B * H);
        workspace_add_ints(&plan, "dec_work", &n->dec_work, 2 * (size_t)B);
        st = workspace_plan_alloc(&plan, &n->work, what);
    }
    if (st) {
        workspace_release(n);
        return st;
    }
    n->cap_B = B;
    n->cap_T = T;
    return ARITH_OK;
}

/* --------------------------------------------------------------------------------- forward */

/* Layer 0's input for ids (N rows): embedding rows, or one-hot vectors. */
static void input_rows(model *m, float *x, const int32_t *ids, int N)
{
    lstm_lm *n = m->impl;
    if (n->onehot)
        onehot_forward(x, ids, N, n->V);
    else
        embedding_forward(x, ids, P(m, n->embed), N, n->E, 1.0f);
}

/* Runs the stack over columns [0, Tr) of b; leaves the outputs in n->out and, when h_last is
 * given, each layer's final state in (h_last, c_last) (L x (B, H)). */
static void run_stack(model *m, const batch *b, int Tr, float *h_last, float *c_last)
{
    lstm_lm *n = m->impl;
    const int B = b->B, H = n->H;
    for (int t = 0; t < Tr; t++)
        for (int r = 0; r < B; r++) {
            n->ids[t * B + r] = b->tokens[(size_t)r * b->T + t];
            n->valid[t * B + r] = t >= b->start[r];
        }
    input_rows(m, n->x0, n->ids, Tr * B);
    const float *in = n->x0;
    for (int l = 0; l < n->L; l++) {
        const lstm_params *w = &n->layers[l];
        lstm_forward(n->out[l], h_last ? h_last + (size_t)l * B * H : NULL,
                     c_last ? c_last + (size_t)l * B * H : NULL, n->cache[l], in, n->valid, NULL,
                     NULL, P(m, w->w_ih), P(m, w->w_hh), P(m, w->b_ih), P(m, w->b_hh), Tr, B,
                     in_width(n, l), H, 0);
        in = n->out[l];
    }
}

/* The MLP head on N rows of hid: logits (N, V). */
static void head_forward(model *m, const float *hid, int N)
{
    lstm_lm *n = m->impl;
    linear_forward(n->fc, hid, P(m, n->fc_w), P(m, n->fc_b), N, n->H, n->H);
    relu_forward(n->act, n->fc, (size_t)N * n->H);
    linear_forward(n->logits, n->act, P(m, n->out_w), P(m, n->out_b), N, n->H, n->V);
}

static arith_status lstm_forward_batch(model *m, const batch *b, bool train, uint64_t seed,
                                       double *loss_sum, int *count)
{
    (void)train;
    (void)seed; /* no dropout in these models */
    lstm_lm *n = m->impl;
    const int B = b->B, T = b->T, H = n->H;
    /* a recurrent model has no context limit: any length runs */
    arith_status st = lstm_reserve(m, B, T);
    if (st)
        return st;
    n->last = n->kept = b;
    if (n->regression) {
        /* the state after the last prompt column is all the counter looks at: the top layer's
         * output there, or its final cell state (n->c, free while nothing decodes) */
        const int Tr = b->prompt_T;
        run_stack(m, b, Tr, NULL, n->read_cell ? n->c : NULL);
        const float *top = n->read_cell ? n->c + (size_t)(n->L - 1) * B * H
                                        : n->out[n->L - 1] + (size_t)(Tr - 1) * B * H;
        double sum = 0;
        for (int r = 0; r < B; r++) {
            /* y = b + w . s in double (s: h, or c with --readout cell) */
            double y = tensor_dot(P(m, n->head_b)[0], P(m, n->head_w), top + (size_t)r * H, H);
            n->values[r] = (float)y;
            double e = y - (double)b->values[r];
            sum += e * e;
        }
        for (int r = 0; r < B; r++)
            if (isnan(b->values[r]))
                return arith_error(ARITH_ERR_DATA, "the regression head needs numeric answers");
        n->last_T = Tr;
        n->last_count = B;
        m->values = n->values;
        *loss_sum = sum;
        *count = B;
        return ARITH_OK;
    }
    run_stack(m, b, T, NULL, NULL);
    /* the top layer's outputs, time-major, into hid batch-major: row t*B + r -> r*T + t */
    const float *top = n->out[n->L - 1];
    for (int r = 0; r < B; r++)
        tensor_copy_rows(n->hid + (size_t)r * T * H, H, top + (size_t)r * H, (size_t)B * H, T, H);
    head_forward(m, n->hid, B * T);
    int c = 0;
    *loss_sum = crossentropy_forward(n->probs, n->logits, b->targets, B * T, n->V, &c);
    *count = c;
    n->last_T = T;
    n->last_count = c;
    m->logits = n->logits;
    return ARITH_OK;
}

/* -------------------------------------------------------------------------------- backward */

static void lstm_backward_batch(model *m)
{
    lstm_lm *n = m->impl;
    const batch *b = n->last;
    const int B = b->B, Tr = n->last_T, H = n->H;
    const size_t NT = (size_t)B * Tr;
    if (n->last_count == 0)
        return;
    tensor_zero(n->dtop, NT * H);
    const float *dc_last = NULL; /* the top layer's final cell state's gradient */
    if (n->regression) {
        const float *top = n->read_cell ? n->c + (size_t)(n->L - 1) * B * H
                                        : n->out[n->L - 1] + (size_t)(Tr - 1) * B * H;
        float *dtop = n->read_cell ? n->dc_last : n->dtop + (size_t)(Tr - 1) * B * H;
        if (n->read_cell)
            dc_last = n->dc_last;
        for (int r = 0; r < B; r++) {
            /* d/dy of mean (y - v)^2; dw += dy s, ds = dy w (s: h, or c with --readout
             * cell, whose gradient enters the top layer's backward as dc_last) */
            float dy = 2.0f * (n->values[r] - b->values[r]) / (float)B;
            G(m, n->head_b)[0] += dy;
            tensor_axpy(G(m, n->head_w), dy, top + (size_t)r * H, H);
            tensor_scale(dtop + (size_t)r * H, P(m, n->head_w), dy, H);
        }
    } else {
        const int T = b->T, N = B * T;
        tensor_zero(n->dlogits, (size_t)N * n->V);
        crossentropy_backward(n->dlogits, n->probs, b->targets, N, n->V,
                              1.0f / (float)n->last_count);
        tensor_zero(n->dact, (size_t)N * H);
        tensor_zero(n->dhid, (size_t)N * H);
        linear_backward(n->dact, G(m, n->out_w), G(m, n->out_b), n->dlogits, n->act,
                        P(m, n->out_w), N, H, n->V);
        float *dfc = n->dact; /* dfc = dact * (fc > 0) */
        relu_backward_inplace(dfc, n->fc, (size_t)N * H);
        linear_backward(n->dhid, G(m, n->fc_w), G(m, n->fc_b), dfc, n->hid, P(m, n->fc_w), N,
                        H, H);
        /* batch-major dhid back to time-major dtop: row r*T + t -> t*B + r */
        for (int r = 0; r < B; r++)
            tensor_copy_rows(n->dtop + (size_t)r * H, (size_t)B * H, n->dhid + (size_t)r * T * H,
                             H, T, H);
    }
    float *dout = n->dtop, *dx = n->dbuf;
    for (int l = n->L - 1; l >= 0; l--) {
        const lstm_params *w = &n->layers[l];
        const int I = in_width(n, l);
        const float *in = l == 0 ? n->x0 : n->out[l - 1];
        bool want_dx = l > 0 || !n->onehot;
        if (want_dx)
            tensor_zero(dx, NT * I);
        lstm_backward(want_dx ? dx : NULL, NULL, NULL, G(m, w->w_ih), G(m, w->w_hh),
                      G(m, w->b_ih), G(m, w->b_hh), dout, NULL,
                      l == n->L - 1 ? dc_last : NULL, n->scratch, n->cache[l],
                      in, n->valid, NULL, NULL, P(m, w->w_ih), P(m, w->w_hh), Tr, B, I, H, 0);
        float *tmp = dout;
        dout = dx;
        dx = tmp;
    }
    if (!n->onehot)
        embedding_backward(G(m, n->embed), dout, n->ids, (int)NT, n->E, 1.0f);
}

/* ------------------------------------------------------------------------------ generation */

/* Prefill: the stack over the prompts, each layer's final (h, c) kept; the next token's logits
 * (B, V) from the top layer's last column. */
static arith_status lstm_decode_begin(model *m, const batch *prompts, const float **logits)
{
    lstm_lm *n = m->impl;
    const int B = prompts->B, T = prompts->T, H = n->H;
    if (n->regression)
        return arith_error(ARITH_ERR_ARG, "a regression model does not generate text");
    if (B < 1 || T < 1)
        return arith_error(ARITH_ERR_ARG, "decoding needs at least one prompt token per row");
    arith_status st = lstm_reserve(m, B, T);
    if (st)
        return st;
    n->kept = NULL;
    run_stack(m, prompts, T, n->h, n->c);
    const float *top = n->out[n->L - 1] + (size_t)(T - 1) * B * H;
    head_forward(m, top, B);
    n->dec_B = B;
    *logits = n->logits;
    return ARITH_OK;
}

/* One step of every layer from the carried (h, c). */
static arith_status lstm_decode_next(model *m, const int32_t *tokens, const float **logits)
{
    lstm_lm *n = m->impl;
    const int B = n->dec_B, H = n->H;
    input_rows(m, n->x0, tokens, B);
    const float *in = n->x0;
    for (int l = 0; l < n->L; l++) {
        const lstm_params *w = &n->layers[l];
        float *h = n->h + (size_t)l * B * H, *c = n->c + (size_t)l * B * H;
        lstm_forward(n->out[l], h, c, n->cache[l], in, NULL, h, c, P(m, w->w_ih), P(m, w->w_hh),
                     P(m, w->b_ih), P(m, w->b_hh), 1, B, in_width(n, l), H, 0);
        in = n->out[l];
    }
    head_forward(m, in, B);
    *logits = n->logits;
    return ARITH_OK;
}

/* Row dst's (h, c) in every layer become row from's, or the two trade places. */
static void state_row_move(void *ctx, int dst, int from, bool swap)
{
    lstm_lm *n = ctx;
    const size_t H = (size_t)n->H;
    for (int l = 0; l < n->L; l++) {
        tensor_row_move(n->h + (size_t)l * n->dec_B * H, H, 1, 0, H, dst, from, swap);
        tensor_row_move(n->c + (size_t)l * n->dec_B * H, H, 1, 0, H, dst, from, swap);
    }
}

static void lstm_decode_reorder(model *m, const int32_t *src)
{
    lstm_lm *n = m->impl;
    model_rows_reorder(n->dec_B, src, n->dec_work, state_row_move, n);
}

/* Greedy generation on the decode ops. */
static arith_status lstm_generate(model *m, const batch *prompts, int max_new, int32_t eos,
                                  int32_t *out)
{
    lstm_lm *n = m->impl;
    if (n->regression)
        return arith_error(ARITH_ERR_ARG, "a regression model does not generate text");
    if (max_new < 1)
        return ARITH_OK;
    return model_decode_greedy(m, prompts, max_new, eos, out);
}

/* --------------------------------------------------------------------------- create, free */

/* --forget-bias: every layer's forget gates start at f = sigmoid(forget_bias), the bias all in
 * b_ih's forget slice (rows H..2H in torch's gate order i, f, g, o) and none in b_hh's. */
static void lstm_init_after_draws(model *m)
{
    lstm_lm *n = m->impl;
    if (m->cfg.forget_bias == 0.0f)
        return;
    for (int l = 0; l < n->L; l++) {
        /* initialization is not on the backend's seam (ARCHITECTURE.md): plain loops */
        float *bi = P(m, n->layers[l].b_ih) + n->H, *bh = P(m, n->layers[l].b_hh) + n->H;
        for (int j = 0; j < n->H; j++) {
            bi[j] = m->cfg.forget_bias;
            bh[j] = 0.0f;
        }
    }
}

static void lstm_destroy(model *m)
{
    lstm_lm *n = m->impl;
    if (n) {
        workspace_release(n);
        free(n->layers);
        free(n);
    }
}

/* Layer 0's input and every layer's h as the forward keeps them, time-major (row t*B + b):
 * every column, or the prompt's alone under a regression head. */
static bool lstm_hidden(const model *m, int layer, hidden_view *out)
{
    const lstm_lm *n = m->impl;
    if (layer < 0 || layer > n->L || !n->kept)
        return false;
    const int B = n->kept->B, dim = layer == 0 ? n->in0 : n->H;
    *out = (hidden_view){layer == 0 ? n->x0 : n->out[layer - 1], dim, 0, n->last_T, (size_t)dim,
                         (size_t)B * dim};
    return true;
}

static const model_ops lstm_ops = {
    .name = "lstm",
    .forward = lstm_forward_batch,
    .backward = lstm_backward_batch,
    .generate = lstm_generate,
    .reserve = lstm_reserve,
    .destroy = lstm_destroy,
    .decode_begin = lstm_decode_begin,
    .decode_next = lstm_decode_next,
    .decode_reorder = lstm_decode_reorder,
    .init_after_draws = lstm_init_after_draws,
    .hidden = lstm_hidden,
};

arith_status lstm_model_create(model **out, const model_config *cfg)
{
    *out = NULL;
    arith_status st = model_config_check(cfg);
    if (st)
        return st;
    model *m = calloc(1, sizeof *m);
    lstm_lm *n = calloc(1, sizeof *n);
    if (n)
        n->layers = calloc((size_t)cfg->layers, sizeof *n->layers);
    if (!m || !n || !n->layers) {
        free(m);
        if (n)
            free(n->layers);
        free(n);
        return arith_error(ARITH_ERR_MEMORY, "out of memory creating an LSTM");
    }
    m->ops = &lstm_ops;
    m->cfg = *cfg;
    m->impl = n;
    params_init(&m->params);
    n->L = cfg->layers;
    n->H = cfg->hidden;
    n->V = cfg->vocab;
    n->onehot = cfg->input == INPUT_ONEHOT;
    n->E = n->onehot ? 0 : cfg->d_model;
    n->in0 = n->onehot ? n->V : n->E;
    n->regression = cfg->head == HEAD_REGRESSION;
    n->read_cell = n->regression && cfg->readout == READOUT_CELL;
    param_table *pt = &m->params;
    /* PyTorch's: nn.Embedding N(0, 1); nn.LSTM U(+-1/sqrt(hidden)); the heads' nn.Linear
     * U(+-1/sqrt(fan_in)), whose fan_in is the hidden size too */
    const param_init embed_init = param_init_normal(1.0f), init = param_init_fan_in(n->H);
    if (!n->onehot)
        st = model_declare(pt, &n->embed, "embed.weight", 2, n->V, n->E, embed_init);
    char name[PARAM_NAME_MAX];
    for (int l = 0; l < n->L && !st; l++) {
        lstm_params *w = &n->layers[l];
        snprintf(name, sizeof name, "lstm.%d.weight_ih", l);
        st = model_declare(pt, &w->w_ih, name, 2, 4 * (int64_t)n->H, in_width(n, l), init);
        snprintf(name, sizeof name, "lstm.%d.weight_hh", l);
        if (!st)
            st = model_declare(pt, &w->w_hh, name, 2, 4 * (int64_t)n->H, n->H, init);
        snprintf(name, sizeof name, "lstm.%d.bias_ih", l);
        if (!st)
            st = model_declare(pt, &w->b_ih, name, 1, 4 * (int64_t)n->H, 0, init);
        snprintf(name, sizeof name, "lstm.%d.bias_hh", l);
        if (!st)
            st = model_declare(pt, &w->b_hh, name, 1, 4 * (int64_t)n->H, 0, init);
    }
    if (n->regression) {
        if (!st)
            st = model_declare(pt, &n->head_w, "head.weight", 2, 1, n->H, init);
        if (!st)
            st = model_declare(pt, &n->head_b, "head.bias", 1, 1, 0, init);
    } else {
        if (!st)
            st = model_declare(pt, &n->fc_w, "head.fc.weight", 2, n->H, n->H, init);
        if (!st)
            st = model_declare(pt, &n->fc_b, "head.fc.bias", 1, n->H, 0, init);
        if (!st)
            st = model_declare(pt, &n->out_w, "head.out.weight", 2, n->V, n->H, init);
        if (!st)
            st = model_declare(pt, &n->out_b, "head.out.bias", 1, n->V, 0, init);
    }
    if (!st)
        st = params_alloc(pt);
    if (st) {
        model_free(m);
        return st;
    }
    *out = m;
    return ARITH_OK;
}
