/* The decoder-only transformer: token embedding (scaled by sqrt(d_model), as seed 001),
 * positions (a scheme from models/positions/: none; sinusoidal, learned, Abacus or coupling
 * tables added at the batch's ids; RoPE on queries and keys; ALiBi or FIRE biases on the
 * attention scores), L blocks of causal multi-head attention and a feed-forward network with
 * pre- or post-layer-norm, a final layer norm and an untied output layer. Forward and backward
 * are explicit, layer by layer, and touch tensor memory only through nn's layers and the
 * backend's ops; all activations live in one workspace that reserve() lists once to the
 * backend's planner, so the training step never allocates. Generation keeps a key/value cache,
 * so each new token costs one token's work.
 *
 * The model is held in parts with one role each: the parameters' views (offsets into the
 * table, each declared with its init), the forward's activations, the backward's scratch (both
 * carved from one workspace, with the decoding's rows), the key/value cache, the incremental
 * decoding's state, and the positional scheme's state (its tables, ALiBi's and FIRE's), which
 * the scheme owns. The transformer calls the scheme's ops and never asks which scheme it is.
 *
 * The same code is GPT-2 (model gpt2, seed 003): pre-LN, GELU with the tanh approximation,
 * learned positions, unscaled embeddings, Hugging Face's parameter names with Conv1D (in, out)
 * block weights, and either GPT-2's tied head (wte) or seed 003's new input and output layers.
 * Frozen parameters (param_view.trainable false) get no weight-gradient products. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"
#include "models/positions/positions.h"
#include "nn/nn.h"

/* ------------------------------------------------------------------------------- the parts */

/* Offsets (in floats) of one block's parameters in the parameter table. */
typedef struct {
    size_t ln1_w, ln1_b;   /* (C) */
    size_t qkv_w, qkv_b;   /* (3C, C), (3C) */
    size_t out_w, out_b;   /* (C, C), (C) */
    size_t ln2_w, ln2_b;   /* (C) */
    size_t up_w, up_b;     /* (F, C), (F) */
    size_t down_w, down_b; /* (C, F), (C) */
} block_params;

/* The parameters' views: offsets into the table (gpt2: the 2-d block weights (in, out)). */
typedef struct {
    size_t tok_emb;            /* (V, C) */
    size_t lnf_w, lnf_b;       /* (C) */
    size_t head_w, head_b;     /* (V, C), (V); head_w is tok_emb when the head is tied */
    block_params *blocks;      /* (L) */
} transformer_params;

/* One block's saved activations; N = B*T rows. */
typedef struct {
    float *x_in;               /* (N, C) block input (the residual stream) */
    float *ln1;                /* (N, C) pre: LN1(x_in); post: LN1(x_in + attn) */
    float *ln1_mean, *ln1_rstd; /* (N) */
    float *qkv;                /* (N, 3C) after RoPE */
    float *att;                /* (B, H, T, T) */
    float *atty;               /* (N, C) attention output before the projection */
    float *attproj;            /* (N, C) projected (and dropped out) */
    float *mid;                /* (N, C) x_in + attproj */
    float *ln2;                /* (N, C) pre: LN2(mid); post: unused (LN2 writes the next x_in) */
    float *ln2_mean, *ln2_rstd; /* (N) */
    float *up;                 /* (N, F) before the activation */
    float *hid;                /* (N, F) after the activation (and dropout) */
    float *down;               /* (N, C) (dropped out) */
    float *res2;               /* (N, C) post: ln1 + down, the input of LN2 */
    uint8_t *mask_attn, *mask_ffn; /* (N, C) dropout masks, kept for the backward */
    uint8_t *mask_hid;         /* (N, F) */
} block_acts;

/* The forward's activations, saved for the backward (N = B*T rows). Block 0's double as the
 * scratch of a decoding step. */
typedef struct {
    block_acts *blocks;        /* (L) */
    uint8_t *mask_embed;       /* (N, C) */
    float *x_final;            /* (N, C) output of the last block */
    float *lnf;                /* (N, C) */
    float *lnf_mean, *lnf_rstd; /* (N) */
    float *logits, *probs;     /* (N, V) */
} transformer_acts;

/* The backward's scratch: gradients of activations, reused block after block. */
typedef struct {
    float *dlogits;            /* (N, V) */
    float *dx, *dx2, *dtmp, *datty, *dln; /* (N, C) */
    float *dqkv;               /* (N, 3C) */
    float *df1, *df2;          /* (N, F) */
} transformer_scratch;

/* The generation cache: (L, B, H/W, T, hd, W) for keys and values, W heads interleaved
 * (attention_cache_width's choice for this CPU, fixed while the cache lives). It holds T
 * columns, not the whole context, so that GPT-2's 1024 positions cost nothing when answers are
 * short; decode_step grows it (keeping its contents) when a column falls outside. */
typedef struct {
    float *k, *v;
    int B, T, W;
} kv_cache;

/* Incremental decoding: rows, the next column (those before it are in the cache), each row's
 * start; a forward or backward in between ends it. */
typedef struct {
    int B, col;
    int32_t *start;            /* (B) */
    int32_t *work;             /* (2B) the reorder's */
    int32_t *pos;              /* (B) the ids of a step's tokens */
    /* the positions of the answer tokens fed back (a prompt batch's gen_pos: row r's token at
     * column prompt_T + i has gen[r * gen_n + i]); NULL: columns continue */
    int32_t *gen;
    int gen_n, gen_cap, prompt_T;
    /* every cached column's id, row r's at kids[r * ctx + j]: the prompt's from the batch,
     * then each step's; the keys' ids of a bias on pairs of ids (coupling-rel, -local) */
    int32_t *kids;
    size_t kids_cap;
} decode_state;

/* The positional scheme (models/positions/) and the state it owns. */
typedef struct {
    const pos_scheme *scheme;
    const pos_ops *ops;
    void *state;
} transformer_positions;

/* The last forward, for the backward. */
typedef struct {
    const batch *b;
    bool train;
    uint64_t seed;
    int count;
    bool att_kept; /* the attention probabilities are in each block's att (keeps_att) */
} last_forward;

typedef struct transformer_impl {
    int L, C, H, F, V, ctx;
    int pos_max;               /* rows of the position tables: ids are < pos_max */
    bool gpt2;                 /* Hugging Face names, Conv1D (in, out) block weights, no scaling */
    bool head_bias;            /* false when the head is the tied token matrix */
    transformer_params w;
    /* the workspace, for batches up to cap_B x cap_T: activations (dropout masks included),
     * backward scratch and the decoding's rows, carved by the planner from one block */
    int cap_B, cap_T;
    void *work;
    transformer_acts acts;
    transformer_scratch scratch;
    kv_cache cache;
    decode_state dec;
    transformer_positions pos;
    last_forward last;
    /* the batch whose activations the workspace holds (attention, hidden); NULL once a
     * decoding has used block 0's as its scratch */
    const batch *kept;
} transformer;

#define P(m, off) ((m)->params.data + (off))
#define G(m, off) ((m)->params.grad + (off))

/* The gradient of the parameter at this offset, or NULL when it is frozen. */
static float *G_trainable(const model *m, size_t off)
{
    return model_grad_trainable(&m->params, off);
}

/* A block's dense layer in the model's layout: (out, in) for arith's own transformer, (in, out)
 * (GPT-2's Conv1D) for gpt2. */
static void lin_forward(const model *m, float *out, const float *inp, size_t w, size_t b, int N,
                        int I, int O)
{
    const bool hf = ((const struct transformer_impl *)m->impl)->gpt2;
    if (hf)
        conv1d_forward(out, inp, P(m, w), P(m, b), N, I, O);
    else
        linear_forward(out, inp, P(m, w), P(m, b), N, I, O);
}

/* add: dinp += the input gradient, else dinp = it (nn.h's ..._to). */
static void lin_backward(model *m, float *dinp, size_t w, size_t b, const float *dout,
                         const float *inp, int N, int I, int O, bool add)
{
    const bool hf = ((const struct transformer_impl *)m->impl)->gpt2;
    float *dw = G_trainable(m, w), *db = G_trainable(m, b);
    if (hf)
        (add ? conv1d_backward : conv1d_backward_to)(dinp, dw, db, dout, inp, P(m, w), N, I, O);
    else
        (add ? linear_backward : linear_backward_to)(dinp, dw, db, dout, inp, P(m, w), N, I, O);
}

/* The output layer: logits(N,V) = x @ head^T (+ bias unless tied). */
static void head_forward(const model *m, float *logits, const float *x, int N);

/* Dropout sites, so that each gets its own mask. */
enum { SITE_EMBED, SITE_ATTN, SITE_HIDDEN, SITE_FFN };

static uint64_t site_seed(uint64_t seed, int layer, int site)
{
    return rng_hash(seed, (uint64_t)layer * 8 + (uint64_t)site + 1);
}


/* ------------------------------------------------------------------------------- workspace */

static void cache_release(kv_cache *c)
{
    tensor_free(c->k);
    tensor_free(c->v);
    c->k = c->v = NULL;
    c->B = c->T = 0;
}

/* Makes the cache hold B rows of at least T columns (at most the context), keeping what the
 * old one held when only the column count grows. */
static arith_status cache_reserve(transformer *t, int B, int T)
{
    kv_cache *c = &t->cache;
    if (T > t->ctx)
        T = t->ctx;
    if (B <= c->B && T <= c->T)
        return ARITH_OK;
    int nB = B > c->B ? B : c->B;
    int nT = T > c->T ? T : c->T;
    if (nT < t->ctx && nT < 2 * c->T) /* grow columns by doubling */
        nT = 2 * c->T < t->ctx ? 2 * c->T : t->ctx;
    const int H = t->H, hd = t->C / t->H;
    const bool keep = c->k && nB == c->B;
    const int W = keep ? c->W : attention_cache_width(t->C, H);
    size_t n = (size_t)t->L * nB * t->C * nT;
    float *k = tensor_alloc(n * sizeof(float)), *v = tensor_alloc(n * sizeof(float));
    if (!k || !v) {
        tensor_free(k);
        tensor_free(v);
        return arith_error(ARITH_ERR_MEMORY, "out of memory for a key/value cache of %d x %d", nB,
                           nT);
    }
    if (keep) { /* same rows, more columns: keep the contents */
        /* each (layer, row, group of W heads) segment of T columns moves to the start of one
         * of nT */
        size_t rows = (size_t)t->L * nB * (H / W), old = (size_t)c->T * hd * W;
        tensor_copy_rows(k, (size_t)nT * hd * W, c->k, old, rows, old);
        tensor_copy_rows(v, (size_t)nT * hd * W, c->v, old, rows, old);
    }
    cache_release(c);
    c->k = k;
    c->v = v;
    c->B = nB;
    c->T = nT;
    c->W = W;
    return ARITH_OK;
}

static void workspace_release(transformer *t)
{
    tensor_free(t->work);
    free(t->acts.blocks);
    t->work = NULL;
    t->acts.blocks = NULL;
    t->cap_B = t->cap_T = 0;
    t->kept = NULL;
}

/* Every buffer of the activations, the backward's scratch and the decoding's rows, listed
 * once: the planner sizes the block and carves it. */
static void workspace_list(workspace_plan *plan, transformer *t, size_t B, size_t T)
{
    const size_t N = B * T, C = t->C, F = t->F, V = t->V, H = t->H;
    transformer_acts *acts = &t->acts;
    for (int l = 0; l < t->L; l++) {
        block_acts *a = &acts->blocks[l];
        workspace_add_floats(plan, "x_in", &a->x_in, N * C);
        workspace_add_floats(plan, "ln1", &a->ln1, N * C);
        workspace_add_floats(plan, "ln1_mean", &a->ln1_mean, N);
        workspace_add_floats(plan, "ln1_rstd", &a->ln1_rstd, N);
        workspace_add_floats(plan, "qkv", &a->qkv, N * 3 * C);
        workspace_add_floats(plan, "att", &a->att, B * H * T * T);
        workspace_add_floats(plan, "atty", &a->atty, N * C);
        workspace_add_floats(plan, "attproj", &a->attproj, N * C);
        workspace_add_floats(plan, "mid", &a->mid, N * C);
        workspace_add_floats(plan, "ln2", &a->ln2, N * C);
        workspace_add_floats(plan, "ln2_mean", &a->ln2_mean, N);
        workspace_add_floats(plan, "ln2_rstd", &a->ln2_rstd, N);
        workspace_add_floats(plan, "up", &a->up, N * F);
        workspace_add_floats(plan, "hid", &a->hid, N * F);
        workspace_add_floats(plan, "down", &a->down, N * C);
        workspace_add_floats(plan, "res2", &a->res2, N * C);
    }
    workspace_add_floats(plan, "x_final", &acts->x_final, N * C);
    workspace_add_floats(plan, "lnf", &acts->lnf, N * C);
    workspace_add_floats(plan, "lnf_mean", &acts->lnf_mean, N);
    workspace_add_floats(plan, "lnf_rstd", &acts->lnf_rstd, N);
    workspace_add_floats(plan, "logits", &acts->logits, N * V);
    workspace_add_floats(plan, "probs", &acts->probs, N * V);
    transformer_scratch *s = &t->scratch;
    workspace_add_floats(plan, "dlogits", &s->dlogits, N * V);
    workspace_add_floats(plan, "dx", &s->dx, N * C);
    workspace_add_floats(plan, "dx2", &s->dx2, N * C);
    workspace_add_floats(plan, "dtmp", &s->dtmp, N * C);
    workspace_add_floats(plan, "datty", &s->datty, N * C);
    workspace_add_floats(plan, "dln", &s->dln, N * C);
    workspace_add_floats(plan, "dqkv", &s->dqkv, N * 3 * C);
    workspace_add_floats(plan, "df1", &s->df1, N * F);
    workspace_add_floats(plan, "df2", &s->df2, N * F);
    decode_state *dec = &t->dec;
    workspace_add_ints(plan, "dec_pos", &dec->pos, B);
    workspace_add_ints(plan, "dec_start", &dec->start, B);
    workspace_add_ints(plan, "dec_work", &dec->work, 2 * B);
    for (int l = 0; l < t->L; l++) {
        block_acts *a = &acts->blocks[l];
        workspace_add_bytes(plan, "mask_attn", &a->mask_attn, N * C);
        workspace_add_bytes(plan, "mask_ffn", &a->mask_ffn, N * C);
        workspace_add_bytes(plan, "mask_hid", &a->mask_hid, N * F);
    }
    workspace_add_bytes(plan, "mask_embed", &acts->mask_embed, N * C);
}

static arith_status transformer_reserve(model *m, int B, int T)
{
    transformer *t = m->impl;
    if (T > t->ctx)
        return arith_error(ARITH_ERR_DATA,
                           "sequences of %d tokens do not fit the model's context of %d", T,
                           t->ctx);
    if (B <= t->cap_B && T <= t->cap_T)
        return ARITH_OK;
    if (B < t->cap_B)
        B = t->cap_B;
    if (T < t->cap_T)
        T = t->cap_T;
    workspace_release(t);
    char what[96];
    snprintf(what, sizeof what, "a transformer workspace for %d x %d", B, T);
    t->acts.blocks = calloc((size_t)t->L, sizeof *t->acts.blocks);
    arith_status st = ARITH_OK;
    if (!t->acts.blocks) {
        st = arith_error(ARITH_ERR_MEMORY, "out of memory for %s", what);
    } else {
        workspace_plan plan;
        workspace_plan_init(&plan);
        workspace_list(&plan, t, (size_t)B, (size_t)T);
        st = workspace_plan_alloc(&plan, &t->work, what);
    }
    if (st) {
        workspace_release(t);
        return st;
    }
    t->cap_B = B;
    t->cap_T = T;
    return ARITH_OK;
}

/* --------------------------------------------------------------------------------- forward */

static void activation_forward(act_kind act, float *out, const float *inp, size_t n)
{
    if (act == ACT_GELU)
        gelu_forward(out, inp, n);
    else if (act == ACT_GELU_TANH)
        gelu_tanh_forward(out, inp, n);
    else
        relu_forward(out, inp, n);
}

/* Seed 001 scales token embeddings by sqrt(d_model); GPT-2 does not. */
static float embed_scale(const transformer *t)
{
    return t->gpt2 ? 1.0f : sqrtf((float)t->C);
}

static void head_forward(const model *m, float *logits, const float *x, int N)
{
    const transformer *t = m->impl;
    linear_forward(logits, x, P(m, t->w.head_w), t->head_bias ? P(m, t->w.head_b) : NULL, N,
                   t->C, t->V);
}

/* Embeds tokens and adds the scheme's absolute positions: x(N,C). */
static void embed(const model *m, float *x, const int32_t *tokens, const int32_t *pos, int N)
{
    const transformer *t = m->impl;
    embedding_forward(x, tokens, P(m, t->w.tok_emb), N, t->C, embed_scale(t));
    if (t->pos.ops->embed_forward)
        t->pos.ops->embed_forward(t->pos.state, &m->params, x, pos, N);
}

/* Position ids must index the tables: a batch's come from batch.c (checked there for
 * training data); this guards the rest (hand-made batches, generation past --pos-max). */
static arith_status check_positions(const transformer *t, const int32_t *pos, int N)
{
    for (int i = 0; i < N; i++)
        if (pos[i] < 0 || pos[i] >= t->pos_max)
            return arith_error(ARITH_ERR_DATA, "position id %d is outside the model's 0..%d "
                               "(--pos-max)", pos[i], t->pos_max - 1);
    return ARITH_OK;
}

/* Copies the keys and values of n qkv rows (n, 3C), columns c0 .. c0+n-1 of sequence r, into
 * a layer's cache, laid out as attention_decode_biased reads it. */
static void cache_store(const transformer *t, float *cache_k, float *cache_v, const float *qkv,
                        int r, int c0, int n)
{
    const size_t row = (size_t)t->C * t->cache.T;
    attention_cache_store(cache_k + r * row, cache_v + r * row, qkv, 3 * (size_t)t->C, n, c0,
                          t->cache.T, t->C, t->H, t->cache.W);
}

/* Layer l's score bias from the scheme (ALiBi, FIRE), or NULL. */
static const attn_bias *layer_bias(const model *m, int l, attn_bias *bias, const int32_t *pos,
                                   int N)
{
    const transformer *t = m->impl;
    if (!t->pos.ops->bias_forward)
        return NULL;
    return t->pos.ops->bias_forward(t->pos.state, &m->params, l, bias, pos, N);
}

/* What block_forward's row-wise steps read: the block, its activations and its rows' sizes. */
typedef struct {
    const model *m;
    const block_params *w;
    block_acts *a;
    float *x_out;
    int C, F;
    float p; /* dropout */
    uint64_t seed;
    int l;
    bool pre;
} block_rows;

/* A layer norm of rows [r0, r1) of x (N, C) into out, saving their mean and rstd. */
static void layernorm_rows(const model *m, float *out, float *mean, float *rstd, const float *x,
                           size_t w, size_t b, int C, int r0, int r1)
{
    const size_t at = (size_t)r0 * C;
    layernorm_forward(out + at, mean + r0, rstd + r0, x + at, P(m, w), P(m, b), r1 - r0, C);
}

/* After the attention's output projection, rows [r0, r1): dropout, the residual, and the
 * norm before the feed-forward sub-block (ln1 post-LN, ln2 pre-LN). */
static void attn_out_rows(void *ctx, int r0, int r1)
{
    const block_rows *k = ctx;
    block_acts *a = k->a;
    const size_t at = (size_t)r0 * k->C, end = (size_t)r1 * k->C;
    dropout_forward_range(a->attproj, k->p > 0 ? a->mask_attn : NULL, a->attproj, at, end, k->p,
                          site_seed(k->seed, k->l, SITE_ATTN));
    add_forward(a->mid + at, a->x_in + at, a->attproj + at, end - at);
    if (k->pre)
        layernorm_rows(k->m, a->ln2, a->ln2_mean, a->ln2_rstd, a->mid, k->w->ln2_w, k->w->ln2_b,
                       k->C, r0, r1);
    else
        layernorm_rows(k->m, a->ln1, a->ln1_mean, a->ln1_rstd, a->mid, k->w->ln1_w, k->w->ln1_b,
                       k->C, r0, r1);
}

/* After the feed-forward's first product, rows [r0, r1): the activation and its dropout. */
static void ffn_up_rows(void *ctx, int r0, int r1)
{
    const block_rows *k = ctx;
    block_acts *a = k->a;
    const size_t at = (size_t)r0 * k->F, end = (size_t)r1 * k->F;
    activation_forward(k->m->cfg.act, a->hid + at, a->up + at, end - at);
    dropout_forward_range(a->hid, k->p > 0 ? a->mask_hid : NULL, a->hid, at, end, k->p,
                          site_seed(k->seed, k->l, SITE_HIDDEN));
}

/* After the feed-forward's second product, rows [r0, r1): dropout and the residual, then
 * (post-LN) the block's last norm. */
static void ffn_down_rows(void *ctx, int r0, int r1)
{
    const block_rows *k = ctx;
    block_acts *a = k->a;
    const size_t at = (size_t)r0 * k->C, end = (size_t)r1 * k->C;
    dropout_forward_range(a->down, k->p > 0 ? a->mask_ffn : NULL, a->down, at, end, k->p,
                          site_seed(k->seed, k->l, SITE_FFN));
    if (k->pre) {
        add_forward(k->x_out + at, a->mid + at, a->down + at, end - at);
    } else {
        add_forward(a->res2 + at, a->ln1 + at, a->down + at, end - at);
        layernorm_rows(k->m, k->x_out, a->ln2_mean, a->ln2_rstd, a->res2, k->w->ln2_w,
                       k->w->ln2_b, k->C, r0, r1);
    }
}

/* A block's dense layer, then its row-wise steps in the same parallel region (nn.h's
 * linear_forward_then). */
static void lin_forward_then(const model *m, float *out, const float *inp, size_t w, size_t b,
                             int N, int I, int O, dense_rows_fn *then, void *ctx)
{
    const bool hf = ((const struct transformer_impl *)m->impl)->gpt2;
    if (hf)
        conv1d_forward_then(out, inp, P(m, w), P(m, b), N, I, O, then, ctx);
    else
        linear_forward_then(out, inp, P(m, w), P(m, b), N, I, O, then, ctx);
}

/* Whether a forward keeps the attention probabilities in each block's att: always but in
 * training without a score bias on the kernels that recompute them in the backward (nn.h's
 * attention_recomputes; seed 001: 14 MB less to write and read back per step). */
static bool keeps_att(const model *m, const batch *b, bool train)
{
    const transformer *t = m->impl;
    return !train || t->pos.ops->bias_forward || !attention_recomputes(b->T, t->C, t->H);
}

/* x_out = block(x_in) over a B x T batch, saving activations in a. Every step after a product
 * up to the next product or the attention is row-wise, and runs with the product, each
 * thread on its own rows (lin_forward_then). */
static void block_forward(const model *m, int l, float *x_out, const batch *b, bool train,
                          uint64_t seed)
{
    const transformer *t = m->impl;
    const block_params *w = &t->w.blocks[l];
    block_acts *a = &t->acts.blocks[l];
    const int B = b->B, T = b->T, N = B * T, C = t->C, F = t->F, H = t->H;
    const bool pre = m->cfg.norm == NORM_PRE;
    const block_rows rows = {m, w, a, x_out, C, F, train ? m->cfg.dropout : 0.0f, seed, l, pre};

    /* attention sub-block */
    const float *attn_in = a->x_in;
    if (pre) {
        layernorm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, a->x_in, P(m, w->ln1_w),
                          P(m, w->ln1_b), N, C);
        attn_in = a->ln1;
    }
    lin_forward(m, a->qkv, attn_in, w->qkv_w, w->qkv_b, N, C, 3 * C);
    if (t->pos.ops->rotate_forward)
        t->pos.ops->rotate_forward(t->pos.state, a->qkv, b->pos, N);
    attn_bias bias;
    attention_forward_biased(a->atty, keeps_att(m, b, train) ? a->att : NULL, a->qkv, b->start,
                             layer_bias(m, l, &bias, b->pos, N), B, T, C, H);
    lin_forward_then(m, a->attproj, a->atty, w->out_w, w->out_b, N, C, C, attn_out_rows,
                     (void *)&rows);

    /* feed-forward sub-block */
    const float *ffn_in = pre ? a->ln2 : a->ln1;
    lin_forward_then(m, a->up, ffn_in, w->up_w, w->up_b, N, C, F, ffn_up_rows, (void *)&rows);
    lin_forward_then(m, a->down, a->hid, w->down_w, w->down_b, N, F, C, ffn_down_rows,
                     (void *)&rows);
}

/* Runs embedding, blocks, final norm and head over the batch; fills the logits. */
static void forward_logits(model *m, const batch *b, bool train, uint64_t seed)
{
    transformer *t = m->impl;
    transformer_acts *acts = &t->acts;
    const int N = b->B * b->T, C = t->C;
    float *x0 = acts->blocks[0].x_in;
    embed(m, x0, b->tokens, b->pos, N);
    const float p = train ? m->cfg.dropout : 0.0f;
    dropout_forward(x0, p > 0 ? acts->mask_embed : NULL, x0, (size_t)N * C, p,
                    site_seed(seed, 0, SITE_EMBED));
    for (int l = 0; l < t->L; l++) {
        float *x_out = l + 1 < t->L ? acts->blocks[l + 1].x_in : acts->x_final;
        block_forward(m, l, x_out, b, train, seed);
    }
    layernorm_forward(acts->lnf, acts->lnf_mean, acts->lnf_rstd, acts->x_final, P(m, t->w.lnf_w),
                      P(m, t->w.lnf_b), N, C);
    head_forward(m, acts->logits, acts->lnf, N);
    m->logits = acts->logits;
}

static arith_status transformer_forward(model *m, const batch *b, bool train,
                                        uint64_t dropout_seed, double *loss_sum, int *count)
{
    transformer *t = m->impl;
    if (b->B > t->cap_B || b->T > t->cap_T) {
        arith_status st = transformer_reserve(m, b->B, b->T);
        if (st)
            return st;
    }
    arith_status pst = check_positions(t, b->pos, b->B * b->T);
    if (pst)
        return pst;
    forward_logits(m, b, train, dropout_seed);
    int n = 0;
    double loss = crossentropy_forward(t->acts.probs, t->acts.logits, b->targets, b->B * b->T,
                                       t->V, &n);
    t->last = (last_forward){b, train, dropout_seed, n, keeps_att(m, b, train)};
    t->kept = b;
    if (loss_sum)
        *loss_sum = loss;
    if (count)
        *count = n;
    return ARITH_OK;
}

/* -------------------------------------------------------------------------------- backward */

/* dinp = the activation's input gradient (written, not added) */
static void activation_backward_to(act_kind act, float *dinp, const float *dout, const float *inp,
                                   size_t n)
{
    if (act == ACT_GELU)
        gelu_backward_to(dinp, dout, inp, n);
    else if (act == ACT_GELU_TANH)
        gelu_tanh_backward_to(dinp, dout, inp, n);
    else
        relu_backward_to(dinp, dout, inp, n);
}

/* Given dx_out (gradient w.r.t. the block's output), writes dx_in (overwritten) and adds the
 * block's parameter gradients. */
/* Dropout's backward of src into dst, or, without dropout (p 0, the identity), src itself:
 * the models trained without dropout copy no gradient. */
static const float *dropout_grad(float *dst, const float *src, const uint8_t *mask, size_t n,
                                 float p, uint64_t seed)
{
    if (p <= 0.0f)
        return src;
    dropout_backward_to(dst, src, mask, n, p, seed);
    return dst;
}

static void block_backward(model *m, int l, float *dx_in, const float *dx_out, const batch *b)
{
    transformer *t = m->impl;
    const block_params *w = &t->w.blocks[l];
    const block_acts *a = &t->acts.blocks[l];
    const transformer_scratch *s = &t->scratch;
    const int B = b->B, T = b->T, N = B * T, C = t->C, F = t->F, H = t->H;
    const size_t NC = (size_t)N * C, NF = (size_t)N * F;
    const float p = t->last.train ? m->cfg.dropout : 0.0f;
    const uint64_t seed = t->last.seed;
    const bool pre = m->cfg.norm == NORM_PRE;

    /* dmid: gradient w.r.t. mid = x_in + attproj, built from the feed-forward sub-block. */
    float *dmid = dx_in;                 /* reuse: dx_in is overwritten at the end anyway */
    const float *dffn_out;               /* gradient w.r.t. the (dropped) down output */
    const float *ffn_in = pre ? a->ln2 : a->ln1;
    /* gradient w.r.t. the ffn input; post-LN accumulates it onto the residual's part in dtmp */
    float *dffn_in = pre ? s->dln : s->dtmp;
    if (pre) {
        tensor_copy(dmid, dx_out, NC); /* residual */
        dffn_out = dx_out;
    } else {
        /* x_out = LN2(res2), res2 = ln1 + down */
        layernorm_backward_to(s->dtmp, G(m, w->ln2_w), G(m, w->ln2_b), dx_out, a->res2,
                              P(m, w->ln2_w), a->ln2_mean, a->ln2_rstd, N, C);
        dffn_out = s->dtmp;
    }
    /* through dropout, down, dropout, activation, up (each writing its gradient: no buffer
     * zeroed first; without dropout the activation's backward works in place) */
    const float *ddown =
        dropout_grad(s->datty, dffn_out, a->mask_ffn, NC, p, site_seed(seed, l, SITE_FFN));
    lin_backward(m, s->df1, w->down_w, w->down_b, ddown, a->hid, N, F, C, false);
    const float *dhid =
        dropout_grad(s->df2, s->df1, a->mask_hid, NF, p, site_seed(seed, l, SITE_HIDDEN));
    activation_backward_to(m->cfg.act, s->df1, dhid, a->up, NF);
    /* post-LN adds onto dtmp, the residual's part (res2 = ln1 + down) */
    lin_backward(m, dffn_in, w->up_w, w->up_b, s->df1, ffn_in, N, C, F, !pre);
    if (pre) {
        layernorm_backward(dmid, G(m, w->ln2_w), G(m, w->ln2_b), dffn_in, a->mid,
                           P(m, w->ln2_w), a->ln2_mean, a->ln2_rstd, N, C);
    } else {
        layernorm_backward_to(dmid, G(m, w->ln1_w), G(m, w->ln1_b), dffn_in, a->mid,
                              P(m, w->ln1_w), a->ln1_mean, a->ln1_rstd, N, C);
    }

    /* attention sub-block: mid = x_in + dropout(proj(attention(qkv(attn_in)))) */
    const float *dproj =
        dropout_grad(s->dtmp, dmid, a->mask_attn, NC, p, site_seed(seed, l, SITE_ATTN));
    lin_backward(m, s->datty, w->out_w, w->out_b, dproj, a->atty, N, C, C, false);
    /* given the probabilities, a score bias changes nothing in dqkv; the scheme takes the
     * bias's own gradient (FIRE's parameters) */
    attention_backward_to(s->dqkv, s->datty, a->qkv, t->last.att_kept ? a->att : NULL, b->start,
                          B, T, C, H);
    const pos_ops *po = t->pos.ops;
    if (po->bias_backward)
        po->bias_backward(t->pos.state, &m->params, l, s->datty, a->qkv, a->att, b->start,
                          b->pos, B, T);
    if (po->rotate_backward)
        po->rotate_backward(t->pos.state, s->dqkv, b->pos, N);
    /* dx_in = dmid (residual) + gradient through the attention input */
    if (pre) {
        lin_backward(m, s->dln, w->qkv_w, w->qkv_b, s->dqkv, a->ln1, N, C, 3 * C, false);
        layernorm_backward(dx_in, G(m, w->ln1_w), G(m, w->ln1_b), s->dln, a->x_in,
                           P(m, w->ln1_w), a->ln1_mean, a->ln1_rstd, N, C);
    } else {
        lin_backward(m, dx_in, w->qkv_w, w->qkv_b, s->dqkv, a->x_in, N, C, 3 * C, true);
    }
}

static void transformer_backward(model *m)
{
    transformer *t = m->impl;
    const batch *b = t->last.b;
    if (!b || t->last.count == 0)
        return;
    const transformer_acts *acts = &t->acts;
    const transformer_scratch *s = &t->scratch;
    const int N = b->B * b->T, C = t->C, V = t->V;
    const size_t NC = (size_t)N * C;
    tensor_zero(s->dlogits, (size_t)N * V);
    crossentropy_backward(s->dlogits, acts->probs, b->targets, N, V, 1.0f / (float)t->last.count);
    linear_backward_to(s->dln, G_trainable(m, t->w.head_w),
                       t->head_bias ? G_trainable(m, t->w.head_b) : NULL, s->dlogits, acts->lnf,
                       P(m, t->w.head_w), N, C, V);
    layernorm_backward_to(s->dx, G(m, t->w.lnf_w), G(m, t->w.lnf_b), s->dln, acts->x_final,
                          P(m, t->w.lnf_w), acts->lnf_mean, acts->lnf_rstd, N, C);
    float *dout = s->dx, *din = s->dx2;
    for (int l = t->L - 1; l >= 0; l--) {
        block_backward(m, l, din, dout, b);
        float *swap = dout;
        dout = din;
        din = swap;
    }
    /* dout: gradient w.r.t. the (dropped out) embedding sum */
    const float *demb = dropout_grad(s->dtmp, dout, acts->mask_embed, NC,
                                     t->last.train ? m->cfg.dropout : 0.0f,
                                     site_seed(t->last.seed, 0, SITE_EMBED));
    if (t->pos.ops->embed_backward)
        t->pos.ops->embed_backward(t->pos.state, &m->params, demb, b->pos, N);
    embedding_backward(G_trainable(m, t->w.tok_emb), demb, b->tokens, N, C, embed_scale(t));
}

/* ------------------------------------------------------------------------------ generation */

/* The decoding step's bias for layer l from the scheme: row r's query has id qpos[r] and its
 * keys, the cached columns j <= col, ids max(j - start[r], 0), the batch's numbering of
 * columns. */
static const attn_bias *decode_bias(const model *m, int l, attn_bias *bias, const int32_t *qpos,
                                    const int32_t *start, int B, int col)
{
    const transformer *t = m->impl;
    if (!t->pos.ops->bias_decode)
        return NULL;
    return t->pos.ops->bias_decode(t->pos.state, &m->params, l, bias, qpos, t->dec.kids, t->ctx,
                                   start, B, col);
}

/* Rows (sequences) r0..r1-1 of a decoding step or of the prefill through every layer, logits
 * included: each row is T columns (the prefill's prompt; 1 in a decoding step) starting at
 * column col, whose keys and values go into the cache. Rows do not meet on the way: each reads
 * only its own columns and cache. tokens, pos: (B, T); logits: each row's last column's, packed
 * (B, V). */
typedef struct {
    model *m;
    const int32_t *tokens, *pos, *start;
    int B, T, col;
    bool step; /* a decoding step (T 1), not the prefill */
    int row0;  /* the rows handed to decode_rows count from this row of the batch */
} decode_rows_job;

/* The prefill's attention probabilities, (rows, H, T, T), are scratch that nothing reads
 * later: the prefill runs in chunks of rows whose probabilities fit in this many bytes, at
 * the start of block 0's buffer (a 1,000-digit sum's prompt of ~2,000 tokens needs 64 MB a
 * row with 4 heads; a whole batch of 50 would touch 3.2 GB). */
#define PREFILL_ATT_BYTES ((size_t)256 << 20)
static size_t prefill_att_bytes = PREFILL_ATT_BYTES;

size_t transformer_prefill_budget(size_t bytes)
{
    const size_t was = prefill_att_bytes;
    prefill_att_bytes = bytes ? bytes : PREFILL_ATT_BYTES;
    return was;
}

static void decode_rows(void *ctx, int r0, int r1)
{
    const decode_rows_job *job = ctx;
    const size_t att_row = (size_t)r0; /* the row's place in the chunk's probabilities */
    r0 += job->row0;
    r1 += job->row0;
    model *m = job->m;
    transformer *t = m->impl;
    const int C = t->C, F = t->F, H = t->H, V = t->V, T = job->T, col = job->col;
    const int n = r1 - r0, N = n * T; /* rows, and their token rows */
    const bool pre = m->cfg.norm == NORM_PRE;
    const int32_t *start = job->start ? job->start + r0 : NULL;
    const int32_t *pos = job->pos + (size_t)r0 * T;
    transformer_acts *acts = &t->acts;
    const block_acts *s0 = &acts->blocks[0];
    /* block 0's buffers as scratch, each at token row r0 * T */
    const size_t rt = (size_t)r0 * T, rc = rt * C, rf = rt * F;
    float *ln1 = s0->ln1 + rc, *ln1_mean = s0->ln1_mean + rt, *ln1_rstd = s0->ln1_rstd + rt;
    float *ln2 = s0->ln2 + rc, *ln2_mean = s0->ln2_mean + rt, *ln2_rstd = s0->ln2_rstd + rt;
    float *qkv = s0->qkv + 3 * rc, *atty = s0->atty + rc, *attproj = s0->attproj + rc;
    float *mid = s0->mid + rc, *up = s0->up + rf, *hid = s0->hid + rf, *down = s0->down + rc;
    float *res2 = s0->res2 + rc, *att = s0->att + att_row * T * H * T;
    float *x = acts->x_final + rc; /* (N, C) residual stream */
    const size_t row_cache = (size_t)H * t->cache.T * (C / H); /* one row of a layer's cache */
    embed(m, x, job->tokens + rt, pos, N);
    for (int l = 0; l < t->L; l++) {
        const block_params *w = &t->w.blocks[l];
        size_t layer_cache = (size_t)l * t->cache.B * t->cache.T * C;
        float *kc = t->cache.k + layer_cache, *vc = t->cache.v + layer_cache;
        const float *attn_in = x;
        if (pre) {
            layernorm_forward(ln1, ln1_mean, ln1_rstd, x, P(m, w->ln1_w), P(m, w->ln1_b), N, C);
            attn_in = ln1;
        }
        lin_forward(m, qkv, attn_in, w->qkv_w, w->qkv_b, N, C, 3 * C);
        if (t->pos.ops->rotate_forward)
            t->pos.ops->rotate_forward(t->pos.state, qkv, pos, N);
        for (int r = 0; r < n; r++)
            cache_store(t, kc, vc, qkv + (size_t)r * T * 3 * C, r0 + r, col, T);
        attn_bias bias;
        /* a scheme's bias covers the whole batch (such schemes run in one band) */
        if (job->step)
            attention_decode_biased(atty, qkv, 3 * C, kc + r0 * row_cache, vc + r0 * row_cache,
                                    start, decode_bias(m, l, &bias, pos, job->start, job->B, col),
                                    n, col, t->cache.T, C, H, t->cache.W);
        else
            attention_forward_biased(atty, att, qkv, start, layer_bias(m, l, &bias, pos, N), n,
                                     T, C, H);
        lin_forward(m, attproj, atty, w->out_w, w->out_b, N, C, C);
        add_forward(mid, x, attproj, (size_t)N * C);
        const float *ffn_in;
        if (pre) {
            layernorm_forward(ln2, ln2_mean, ln2_rstd, mid, P(m, w->ln2_w), P(m, w->ln2_b), N, C);
            ffn_in = ln2;
        } else {
            layernorm_forward(ln1, ln1_mean, ln1_rstd, mid, P(m, w->ln1_w), P(m, w->ln1_b), N, C);
            ffn_in = ln1;
        }
        lin_forward(m, up, ffn_in, w->up_w, w->up_b, N, C, F);
        activation_forward(m->cfg.act, hid, up, (size_t)N * F);
        lin_forward(m, down, hid, w->down_w, w->down_b, N, F, C);
        if (pre) {
            add_forward(x, mid, down, (size_t)N * C);
        } else {
            add_forward(res2, ln1, down, (size_t)N * C);
            layernorm_forward(x, ln2_mean, ln2_rstd, res2, P(m, w->ln2_w), P(m, w->ln2_b), N, C);
        }
    }
    /* the logits of each row's last column only: they are all that decoding reads */
    const float *last = x;
    if (T > 1) {
        for (int r = 0; r < n; r++)
            tensor_copy(down + (size_t)r * C, x + ((size_t)r * T + T - 1) * C, (size_t)C);
        last = down;
    }
    layernorm_forward(acts->lnf + (size_t)r0 * C, acts->lnf_mean + r0, acts->lnf_rstd + r0, last,
                      P(m, t->w.lnf_w), P(m, t->w.lnf_b), n, C);
    head_forward(m, acts->logits + (size_t)r0 * V, acts->lnf + (size_t)r0 * C, n);
}

/* One decoding step for B rows: the new token of row r sits at column `col`. Writes the
 * logits of the new tokens into the logits (B, V). Uses block 0's buffers as scratch. The
 * rows go through the layers in one band per thread (one parallel region a step, not one per
 * kernel), except under a scheme with a decoding bias, whose bias covers the whole batch. */
static arith_status decode_step(model *m, const int32_t *tokens, const int32_t *start, int B,
                                int col)
{
    transformer *t = m->impl;
    if (col >= t->ctx)
        return arith_error(ARITH_ERR_DATA, "column %d is past the model's context of %d tokens",
                           col, t->ctx);
    if (col >= t->cache.T) {
        arith_status st = cache_reserve(t, t->cache.B, col + 1);
        if (st)
            return st;
    }
    const decode_state *dec = &t->dec;
    int32_t *pos = dec->pos;
    for (int r = 0; r < B; r++) {
        int p = col - start[r], i = col - dec->prompt_T;
        if (dec->gen && i >= 0 && i < dec->gen_n) /* the batch's own answer positions */
            p = dec->gen[(size_t)r * dec->gen_n + i];
        else if (dec->gen && i >= dec->gen_n) /* past them: one more per token */
            p = dec->gen[(size_t)r * dec->gen_n + dec->gen_n - 1] + i - dec->gen_n + 1;
        /* an answer that runs past the ids the table has is wrong already: keep it in range */
        if (dec->gen && p >= t->pos_max)
            p = t->pos_max - 1;
        pos[r] = p > 0 ? p : 0;
    }
    arith_status pst = check_positions(t, pos, B);
    if (pst)
        return pst;
    for (int r = 0; r < B; r++)
        t->dec.kids[(size_t)r * t->ctx + col] = pos[r];
    decode_rows_job job = {m, tokens, pos, start, B, 1, col, true, 0};
    if (t->pos.ops->bias_decode)
        decode_rows(&job, 0, B);
    else
        run_row_bands(B, 8, decode_rows, &job);
    return ARITH_OK;
}

static arith_status transformer_decode_begin(model *m, const batch *prompts, const float **logits)
{
    transformer *t = m->impl;
    decode_state *dec = &t->dec;
    const int B = prompts->B, T = prompts->T;
    if (B < 1 || T < 1)
        return arith_error(ARITH_ERR_ARG, "decoding needs at least one prompt token per row");
    arith_status st = transformer_reserve(m, B, T);
    if (!st)
        st = cache_reserve(t, B, T);
    if (st)
        return st;
    st = check_positions(t, prompts->pos, B * T);
    if (st)
        return st;
    dec->gen_n = 0;
    dec->prompt_T = T;
    if (prompts->gen_pos && prompts->gen_n > 0) {
        size_t need = (size_t)B * prompts->gen_n;
        if (need > (size_t)dec->gen_cap) {
            int32_t *grown = realloc(dec->gen, need * sizeof *grown);
            if (!grown)
                return arith_error(ARITH_ERR_MEMORY, "out of memory for answer positions");
            dec->gen = grown;
            dec->gen_cap = (int)need;
        }
        memcpy(dec->gen, prompts->gen_pos, need * sizeof(int32_t));
        dec->gen_n = prompts->gen_n;
    }
    const size_t kids_need = (size_t)B * t->ctx;
    if (kids_need > dec->kids_cap) {
        int32_t *grown = realloc(dec->kids, kids_need * sizeof *grown);
        if (!grown)
            return arith_error(ARITH_ERR_MEMORY, "out of memory for the cached columns' ids");
        dec->kids = grown;
        dec->kids_cap = kids_need;
    }
    for (int r = 0; r < B; r++)
        memcpy(dec->kids + (size_t)r * t->ctx, prompts->pos + (size_t)r * T,
               (size_t)T * sizeof(int32_t));
    /* prefill: the whole prompt at once, keys and values into the cache, each row's last
     * column's logits packed to (B, V); in one band per thread, as a decoding step, and in
     * chunks of rows when the prompts are long (prefill_att_bytes) */
    t->kept = NULL;
    decode_rows_job job = {m, prompts->tokens, prompts->pos, prompts->start, B, T, 0, false, 0};
    const size_t row_att = (size_t)t->H * T * T * sizeof(float);
    const size_t fit = prefill_att_bytes / row_att; /* rows whose probabilities fit */
    const int chunk = fit < 1 ? 1 : fit > (size_t)B ? B : (int)fit;
    for (job.row0 = 0; job.row0 < B; job.row0 += chunk) {
        const int n = B - job.row0 < chunk ? B - job.row0 : chunk;
        if (t->pos.ops->bias_forward)
            decode_rows(&job, 0, n);
        else
            run_row_bands(n, 8, decode_rows, &job);
    }
    float *out = t->acts.logits;
    m->logits = out;
    dec->B = B;
    dec->col = T;
    memcpy(dec->start, prompts->start, (size_t)B * sizeof(int32_t));
    *logits = out;
    return ARITH_OK;
}

static arith_status transformer_decode_next(model *m, const int32_t *tokens, const float **logits)
{
    transformer *t = m->impl;
    arith_status st = decode_step(m, tokens, t->dec.start, t->dec.B, t->dec.col);
    if (st)
        return st;
    t->dec.col++;
    m->logits = t->acts.logits;
    *logits = t->acts.logits;
    return ARITH_OK;
}

typedef struct {
    transformer *t;
    int32_t *start;
    int cols;
} cache_reorder;

/* Row dst of every layer's keys and values (the filled columns) and its start become row
 * from's, or the two rows trade places. */
static void cache_row_move(void *ctx, int dst, int from, bool swap)
{
    const cache_reorder *c = ctx;
    const transformer *t = c->t;
    const kv_cache *kv = &t->cache;
    const int G = t->H / kv->W, hd = t->C / t->H; /* G segments of W heads per row */
    const size_t seg = (size_t)kv->T * hd * kv->W, row = (size_t)G * seg,
                 layer = (size_t)kv->B * row, len = (size_t)c->cols * hd * kv->W;
    for (int l = 0; l < t->L; l++) {
        tensor_row_move(kv->k + l * layer, row, G, seg, len, dst, from, swap);
        tensor_row_move(kv->v + l * layer, row, G, seg, len, dst, from, swap);
    }
    int32_t s = c->start[dst];
    c->start[dst] = c->start[from];
    if (swap)
        c->start[from] = s;
    int32_t *kd = t->dec.kids + (size_t)dst * t->ctx, *kf = t->dec.kids + (size_t)from * t->ctx;
    for (int j = 0; j < c->cols; j++) { /* and their columns' ids */
        int32_t v = kd[j];
        kd[j] = kf[j];
        if (swap)
            kf[j] = v;
    }
    if (t->dec.gen_n > 0) { /* the rows' answer positions go with them */
        int32_t *g = t->dec.gen;
        const size_t n = (size_t)t->dec.gen_n;
        for (size_t i = 0; i < n; i++) {
            int32_t v = g[(size_t)dst * n + i];
            g[(size_t)dst * n + i] = g[(size_t)from * n + i];
            if (swap)
                g[(size_t)from * n + i] = v;
        }
    }
}

static void transformer_decode_reorder(model *m, const int32_t *src)
{
    transformer *t = m->impl;
    cache_reorder c = {t, t->dec.start, t->dec.col};
    model_rows_reorder(t->dec.B, src, t->dec.work, cache_row_move, &c);
}

/* Greedy generation on the decode ops. */
static arith_status transformer_generate(model *m, const batch *prompts, int max_new, int32_t eos,
                                         int32_t *out)
{
    transformer *t = m->impl;
    const int B = prompts->B, T = prompts->T;
    if (max_new < 1)
        return ARITH_OK;
    if (T + max_new - 1 > t->ctx)
        return arith_error(ARITH_ERR_DATA,
                           "a prompt of %d tokens plus an answer of up to %d does not fit the "
                           "model's context of %d tokens", T, max_new, t->ctx);
    /* the cache for the whole answer at once, so that decoding never grows it */
    arith_status st = transformer_reserve(m, B, T);
    if (!st)
        st = cache_reserve(t, B, T + max_new - 1);
    if (!st)
        st = model_decode_greedy(m, prompts, max_new, eos, out);
    m->logits = t->acts.logits;
    return st;
}

/* --------------------------------------------------------------------------- create, free */

static void transformer_destroy(model *m)
{
    transformer *t = m->impl;
    if (t) {
        workspace_release(t);
        cache_release(&t->cache);
        free(t->w.blocks);
        free(t->dec.gen);
        free(t->dec.kids);
        if (t->pos.ops && t->pos.ops->destroy)
            t->pos.ops->destroy(t->pos.state);
        free(t);
    }
}

static const float *transformer_attention(const model *m, int layer, int *heads)
{
    const transformer *t = m->impl;
    if (layer < 0 || layer >= t->L || !t->kept || !t->last.att_kept)
        return NULL; /* (a training forward may leave them to the backward) */
    *heads = t->H;
    return t->acts.blocks[layer].att;
}

/* The residual stream as the forward keeps it: each block's input x_in (block 0's is the
 * embedding, after its dropout when training), and the last block's output x_final, before
 * the final layer norm (post-LN: after that block's own norm). */
static bool transformer_hidden(const model *m, int layer, hidden_view *out)
{
    const transformer *t = m->impl;
    if (layer < 0 || layer > t->L || !t->kept)
        return false;
    const int T = t->kept->T;
    *out = (hidden_view){layer < t->L ? t->acts.blocks[layer].x_in : t->acts.x_final, t->C, 0,
                         T, (size_t)T * t->C, (size_t)t->C};
    return true;
}

static const model_ops transformer_ops = {
    .name = "transformer",
    .forward = transformer_forward,
    .backward = transformer_backward,
    .generate = transformer_generate,
    .reserve = transformer_reserve,
    .destroy = transformer_destroy,
    .decode_begin = transformer_decode_begin,
    .decode_next = transformer_decode_next,
    .decode_reorder = transformer_decode_reorder,
    .attention = transformer_attention,
    .hidden = transformer_hidden,
};

/* Declares every parameter with its init, the scheme's in their places: its tables beside the
 * token embedding, its attention modules after the rest (so that the table's order, and the
 * checkpoints', stay as they were).
 *
 * arith's own follows seed 001's torch model: embedding and head U(-0.1, 0.1), head bias 0;
 * every block matrix Xavier-uniform (nn.Transformer resets them so); attention biases 0,
 * feed-forward biases U(+-1/sqrt(fan_in)) (nn.Linear's default); layer norms 1 and 0.
 * GPT-2's (Hugging Face's _init_weights): every weight N(0, 0.02), the two residual
 * projections (c_proj) N(0, 0.02 / sqrt(2 L)), biases 0, layer norms 1 and 0; seed 003's new
 * input and output layers get the same N(0, 0.02), so a fresh model starts as GPT-2 would.
 * GPT-2 uses Hugging Face's names and Conv1D (in, out) shapes, so that its checkpoints load as
 * they are. */
static arith_status declare_params(model *m)
{
    transformer *t = m->impl;
    const model_config *cfg = &m->cfg;
    param_table *pt = &m->params;
    const pos_ops *po = t->pos.ops;
    const int C = t->C, F = t->F;
    const bool hf = t->gpt2;
    const param_init ones = param_init_constant(1.0f), zeros = param_init_zeros();
    const param_init gpt2_std = param_init_normal(0.02f);
    const param_init gpt2_proj = param_init_normal(0.02f / sqrtf(2.0f * (float)t->L));
    const char *tok_name = !hf ? "tok_emb.weight" : cfg->tie ? "wte.weight" : "in_layer.weight";
    arith_status st = model_declare(pt, &t->w.tok_emb, tok_name, 2, t->V, C,
                                    hf ? gpt2_std : param_init_uniform(0.1f));
    if (!st && po->declare_embedding)
        st = po->declare_embedding(t->pos.state, pt);
    char name[PARAM_NAME_MAX];
    /* `d` flips a 2-d shape to GPT-2's layout */
#define BLOCK(field, ours, theirs, ndim, d0, d1, init_ours, init_theirs)                      \
    if (!st) {                                                                               \
        snprintf(name, sizeof name, hf ? "h.%d.%s" : "layers.%d.%s", l, hf ? theirs : ours);   \
        st = model_declare(pt, &t->w.blocks[l].field, name, ndim,                            \
                           hf && (ndim) == 2 ? (d1) : (d0), hf && (ndim) == 2 ? (d0) : (d1),  \
                           hf ? (init_theirs) : (init_ours));                                \
    }
    for (int l = 0; l < t->L; l++) {
        BLOCK(ln1_w, "ln1.weight", "ln_1.weight", 1, C, 0, ones, ones)
        BLOCK(ln1_b, "ln1.bias", "ln_1.bias", 1, C, 0, zeros, zeros)
        BLOCK(qkv_w, "attn.qkv.weight", "attn.c_attn.weight", 2, 3 * C, C,
              param_init_xavier(3 * C, C), gpt2_std)
        BLOCK(qkv_b, "attn.qkv.bias", "attn.c_attn.bias", 1, 3 * C, 0, zeros, zeros)
        BLOCK(out_w, "attn.out.weight", "attn.c_proj.weight", 2, C, C, param_init_xavier(C, C),
              gpt2_proj)
        BLOCK(out_b, "attn.out.bias", "attn.c_proj.bias", 1, C, 0, zeros, zeros)
        BLOCK(ln2_w, "ln2.weight", "ln_2.weight", 1, C, 0, ones, ones)
        BLOCK(ln2_b, "ln2.bias", "ln_2.bias", 1, C, 0, zeros, zeros)
        BLOCK(up_w, "ffn.up.weight", "mlp.c_fc.weight", 2, F, C, param_init_xavier(F, C),
              gpt2_std)
        BLOCK(up_b, "ffn.up.bias", "mlp.c_fc.bias", 1, F, 0, param_init_fan_in(C), zeros)
        BLOCK(down_w, "ffn.down.weight", "mlp.c_proj.weight", 2, C, F, param_init_xavier(C, F),
              gpt2_proj)
        BLOCK(down_b, "ffn.down.bias", "mlp.c_proj.bias", 1, C, 0, param_init_fan_in(F), zeros)
    }
#undef BLOCK
    if (!st)
        st = model_declare(pt, &t->w.lnf_w, "ln_f.weight", 1, C, 0, ones);
    if (!st)
        st = model_declare(pt, &t->w.lnf_b, "ln_f.bias", 1, C, 0, zeros);
    if (!st && t->head_bias) {
        st = model_declare(pt, &t->w.head_w, hf ? "out_layer.weight" : "head.weight", 2, t->V, C,
                           hf ? gpt2_std : param_init_uniform(0.1f));
        if (!st)
            st = model_declare(pt, &t->w.head_b, hf ? "out_layer.bias" : "head.bias", 1, t->V, 0,
                               zeros);
    } else {
        t->w.head_w = t->w.tok_emb; /* tied: logits = x @ wte^T */
    }
    if (!st && po->declare_attention) /* every layer's module, after the rest */
        st = po->declare_attention(t->pos.state, pt);
    return st;
}

arith_status transformer_create(model **out, const model_config *cfg, bool gpt2)
{
    *out = NULL;
    arith_status st = model_config_check(cfg);
    if (st)
        return st;
    model *m = calloc(1, sizeof *m);
    transformer *t = calloc(1, sizeof *t);
    if (!m || !t) {
        free(m);
        free(t);
        return arith_error(ARITH_ERR_MEMORY, "out of memory creating a transformer");
    }
    m->ops = &transformer_ops;
    m->cfg = *cfg;
    m->impl = t;
    params_init(&m->params);
    t->L = cfg->layers;
    t->C = cfg->d_model;
    t->H = cfg->heads;
    t->F = cfg->ffn;
    t->V = cfg->vocab;
    t->ctx = cfg->context;
    t->pos_max = cfg->pos_max > 0 ? cfg->pos_max : cfg->context;
    t->gpt2 = gpt2;
    t->head_bias = !(gpt2 && cfg->tie);
    t->pos.scheme = pos_scheme_at(cfg->pos);
    t->pos.ops = t->pos.scheme->ops;
    t->w.blocks = calloc((size_t)t->L, sizeof *t->w.blocks);
    if (!t->w.blocks) {
        model_free(m);
        return arith_error(ARITH_ERR_MEMORY, "out of memory creating a transformer");
    }
    const pos_dims dims = {t->L, t->C, t->H, t->pos_max, gpt2 ? "wpe.weight" : "pos_emb.weight"};
    if (t->pos.ops->create)
        st = t->pos.ops->create(&t->pos.state, &dims);
    if (!st)
        st = declare_params(m);
    if (!st)
        st = params_alloc(&m->params);
    if (st) {
        model_free(m);
        return st;
    }
    *out = m;
    return ARITH_OK;
}

/* ----------------------------------------------------------------------- the family entry */

arith_status transformer_config_check(const model_config *cfg)
{
    const pos_scheme *scheme = pos_scheme_at(cfg->pos);
    if (!scheme)
        return arith_error(ARITH_ERR_ARG, "unknown positional scheme %d", (int)cfg->pos);
    if (cfg->head != HEAD_LM)
        return arith_error(ARITH_ERR_ARG, "--model %s has only the lm head (got --head %s)",
                           model_kind_name(cfg->kind), head_kind_name(cfg->head));
    if (cfg->d_model < 2)
        return arith_error(ARITH_ERR_ARG, "--d-model must be at least 2 (got %d)", cfg->d_model);
    if (cfg->heads < 1 || cfg->d_model % cfg->heads != 0)
        return arith_error(ARITH_ERR_ARG, "--heads %d must divide --d-model %d", cfg->heads,
                           cfg->d_model);
    arith_status st = scheme->check ? scheme->check(cfg) : ARITH_OK;
    if (st)
        return st;
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

static arith_status create_own(model **out, const model_config *cfg)
{
    return transformer_create(out, cfg, false);
}

static void describe(const model_config *cfg, char *out, size_t cap)
{
    snprintf(out, cap, "%d layer%s, d_model %d, %d heads, ffn %d, pos %s, norm %s",
             cfg->layers, cfg->layers == 1 ? "" : "s", cfg->d_model, cfg->heads, cfg->ffn,
             pos_kind_name(cfg->pos), norm_kind_name(cfg->norm));
}

const model_family model_family_transformer = {
    .name = "transformer",
    .summary = "decoder-only transformer, any positional scheme (seed 001)",
    .context_limited = true,
    .token_by_token = true,
    .takes_positions = true,
    .check = transformer_config_check,
    .create = create_own,
    .describe = describe,
};
