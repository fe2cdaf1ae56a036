/* The decoder-only transformer: token embedding (scaled by sqrt(d_model), as seed 001),
 * positions (none; sinusoidal, learned, Abacus or coupling tables added at the batch's ids; RoPE
 * on queries and keys; ALiBi or FIRE biases on the attention scores), L blocks of causal
 * multi-head attention and a feed-forward network with pre- or post-layer-norm, a final layer
 * norm and an untied output layer. Forward and backward are explicit, layer by layer; all
 * activations live in one workspace sized by reserve(), so the training step never allocates.
 * Generation keeps a key/value cache, so each new token costs one token's work.
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
#include "nn/nn.h"

/* Offsets (in floats) of one block's parameters in the parameter table. */
typedef struct {
    size_t ln1_w, ln1_b;   /* (C) */
    size_t qkv_w, qkv_b;   /* (3C, C), (3C) */
    size_t out_w, out_b;   /* (C, C), (C) */
    size_t ln2_w, ln2_b;   /* (C) */
    size_t up_w, up_b;     /* (F, C), (F) */
    size_t down_w, down_b; /* (C, F), (C) */
} block_params;

/* Offsets of one layer's FIRE module (--pos fire): the MLP 1 -> FIRE_WIDTH -> H and the two
 * scalars (nn.h's fire_table). */
typedef struct {
    size_t w1, b1;         /* (W, 1), (W) */
    size_t w2, b2;         /* (H, W), (H) */
    size_t c, L;           /* (1), (1) */
} fire_params;
enum { FIRE_WIDTH = 32 };

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

typedef struct transformer_impl {
    int L, C, H, F, V, ctx;
    int pos_max;               /* rows of the position tables: ids are < pos_max */
    bool gpt2;                 /* Hugging Face names, Conv1D (in, out) block weights, no scaling */
    bool head_bias;            /* false when the head is the tied token matrix */
    size_t tok_emb, pos_emb, lnf_w, lnf_b, head_w, head_b;
    block_params *blocks;

    /* workspace capacity */
    int cap_B, cap_T;
    float *work;
    uint8_t *masks;            /* every dropout mask */
    uint8_t *mask_embed;       /* (N, C) */
    block_acts *acts;
    float *x_final;            /* (N, C) output of the last block */
    float *lnf, *lnf_mean, *lnf_rstd;
    float *logits, *probs;     /* (N, V) */
    /* backward scratch */
    float *dx, *dx2, *dtmp, *datty, *dln; /* (N, C) */
    float *dqkv;               /* (N, 3C) */
    float *df1, *df2;          /* (N, F) */
    float *dlogits;            /* (N, V) */
    /* generation cache: (L, cache_B, H, cache_T, hd) for keys and values. It holds cache_T
     * columns, not the whole context, so that GPT-2's 1024 positions cost nothing when answers
     * are short; decode_step grows it (keeping its contents) when a column falls outside. */
    float *k_cache, *v_cache;
    int cache_B, cache_T;
    int32_t *gen_pos;          /* (B) */
    /* incremental decoding: rows, the next column (those before it are in the cache), each
     * row's start (B), the reorder's work (2B); a forward or backward in between ends it */
    int dec_B, dec_col;
    int32_t *dec_start, *dec_work;
    /* the positions of the answer tokens fed back (a prompt batch's gen_pos: row r's token at
     * column dec_prompt_T + i has dec_gen[r * dec_gen_n + i]); NULL: columns continue */
    int32_t *dec_gen;
    int dec_gen_n, dec_gen_cap, dec_prompt_T;
    /* constant tables */
    float *pe;                 /* (ctx, C) sinusoidal */
    float *rope_cos, *rope_sin; /* (ctx, hd/2) */

    /* the last forward, for the backward */
    const batch *last;
    bool last_train;
    uint64_t last_seed;
    int last_count;

    /* relative positions: ALiBi's and FIRE's score biases, tables over pairs of position ids
     * (nn.h's attn_bias), pos_max x pos_max per head */
    fire_params *fire;         /* (L) --pos fire */
    float *alibi;              /* (H, pos_max, pos_max) --pos alibi, constant */
    float *fire_tab, *fire_dtab; /* (H, pos_max, pos_max) scratch: a layer's table, gradient */
} transformer;

#define P(m, off) ((m)->params.data + (off))
#define G(m, off) ((m)->params.grad + (off))

/* The gradient of the parameter at this offset, or NULL when it is frozen, so that a frozen
 * weight costs no weight-gradient product. */
static float *G_trainable(const model *m, size_t off)
{
    /* views are laid out in declaration order, so their offsets ascend: a binary search */
    const param_table *pt = &m->params;
    int lo = 0, hi = pt->count - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (pt->views[mid].offset == off)
            return pt->views[mid].trainable ? pt->grad + off : NULL;
        if (pt->views[mid].offset < off)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
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

static void lin_backward(model *m, float *dinp, size_t w, size_t b, const float *dout,
                         const float *inp, int N, int I, int O)
{
    const bool hf = ((const struct transformer_impl *)m->impl)->gpt2;
    float *dw = G_trainable(m, w), *db = G_trainable(m, b);
    if (hf)
        conv1d_backward(dinp, dw, db, dout, inp, P(m, w), N, I, O);
    else
        linear_backward(dinp, dw, db, dout, inp, P(m, w), N, I, O);
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

static void cache_release(transformer *t)
{
    arith_free(t->k_cache);
    arith_free(t->v_cache);
    t->k_cache = t->v_cache = NULL;
    t->cache_B = t->cache_T = 0;
}

/* Makes the cache hold B rows of at least T columns (at most the context), keeping what the
 * old one held when only the column count grows. */
static arith_status cache_reserve(transformer *t, int B, int T)
{
    if (T > t->ctx)
        T = t->ctx;
    if (B <= t->cache_B && T <= t->cache_T)
        return ARITH_OK;
    int nB = B > t->cache_B ? B : t->cache_B;
    int nT = T > t->cache_T ? T : t->cache_T;
    if (nT < t->ctx && nT < 2 * t->cache_T) /* grow columns by doubling */
        nT = 2 * t->cache_T < t->ctx ? 2 * t->cache_T : t->ctx;
    const int H = t->H, hd = t->C / t->H;
    size_t n = (size_t)t->L * nB * t->C * nT;
    float *k = arith_alloc(n * sizeof(float)), *v = arith_alloc(n * sizeof(float));
    if (!k || !v) {
        arith_free(k);
        arith_free(v);
        return arith_error(ARITH_ERR_MEMORY, "out of memory for a key/value cache of %d x %d", nB,
                           nT);
    }
    if (t->k_cache && nB == t->cache_B) { /* same rows, more columns: keep the contents */
        size_t rows = (size_t)t->L * nB * H, old = (size_t)t->cache_T * hd;
        for (size_t r = 0; r < rows; r++) {
            memcpy(k + r * nT * hd, t->k_cache + r * old, old * sizeof(float));
            memcpy(v + r * nT * hd, t->v_cache + r * old, old * sizeof(float));
        }
    }
    cache_release(t);
    t->k_cache = k;
    t->v_cache = v;
    t->cache_B = nB;
    t->cache_T = nT;
    return ARITH_OK;
}

static void workspace_release(transformer *t)
{
    arith_free(t->work);
    arith_free(t->masks);
    t->masks = NULL;
    free(t->acts);
    t->work = NULL;
    t->acts = NULL;
    t->cap_B = t->cap_T = 0;
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
    size_t N = (size_t)B * T, C = t->C, F = t->F, V = t->V, H = t->H, L = t->L;
    size_t per_block = N * C * 8 + N * 3 * C + B * H * (size_t)T * T + N * F * 2 + N * 4;
    size_t total = per_block * L + N * C * 2 + N * 2 + N * V * 3 + N * C * 5 + N * 3 * C +
                   N * F * 2 + 4 * (size_t)B;
    /* every piece is rounded up to 16 floats below */
    total += (L * 20 + 40) * 16;
    t->work = arith_alloc(total * sizeof(float));
    t->masks = arith_alloc(N * (L * (2 * C + F) + C));
    t->acts = calloc(L, sizeof *t->acts);
    if (!t->work || !t->masks || !t->acts) {
        workspace_release(t);
        return arith_error(ARITH_ERR_MEMORY, "out of memory reserving a %d x %d workspace", B, T);
    }
    float *p = t->work;
#define TAKE(n) (p += ((n) + 15) / 16 * 16, p - ((n) + 15) / 16 * 16)
    for (size_t l = 0; l < L; l++) {
        block_acts *a = &t->acts[l];
        a->x_in = TAKE(N * C);
        a->ln1 = TAKE(N * C);
        a->ln1_mean = TAKE(N);
        a->ln1_rstd = TAKE(N);
        a->qkv = TAKE(N * 3 * C);
        a->att = TAKE(B * H * (size_t)T * T);
        a->atty = TAKE(N * C);
        a->attproj = TAKE(N * C);
        a->mid = TAKE(N * C);
        a->ln2 = TAKE(N * C);
        a->ln2_mean = TAKE(N);
        a->ln2_rstd = TAKE(N);
        a->up = TAKE(N * F);
        a->hid = TAKE(N * F);
        a->down = TAKE(N * C);
        a->res2 = TAKE(N * C);
    }
    t->x_final = TAKE(N * C);
    t->lnf = TAKE(N * C);
    t->lnf_mean = TAKE(N);
    t->lnf_rstd = TAKE(N);
    t->logits = TAKE(N * V);
    t->probs = TAKE(N * V);
    t->dlogits = TAKE(N * V);
    t->dx = TAKE(N * C);
    t->dx2 = TAKE(N * C);
    t->dtmp = TAKE(N * C);
    t->datty = TAKE(N * C);
    t->dln = TAKE(N * C);
    t->dqkv = TAKE(N * 3 * C);
    t->df1 = TAKE(N * F);
    t->df2 = TAKE(N * F);
    t->gen_pos = (int32_t *)TAKE((size_t)B);
    t->dec_start = (int32_t *)TAKE((size_t)B);
    t->dec_work = (int32_t *)TAKE(2 * (size_t)B);
#undef TAKE
    uint8_t *mp = t->masks;
    for (size_t l = 0; l < L; l++) {
        t->acts[l].mask_attn = mp;
        t->acts[l].mask_ffn = mp + N * C;
        t->acts[l].mask_hid = mp + 2 * N * C;
        mp += N * (2 * C + F);
    }
    t->mask_embed = mp;
    if ((size_t)(p - t->work) > total) /* the sizes above and the takes must agree */
        abort();
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
    linear_forward(logits, x, P(m, t->head_w), t->head_bias ? P(m, t->head_b) : NULL, N, t->C,
                   t->V);
}

/* Whether the scheme adds a learned table row to each token (learned positions, and the
 * learned tables of Abacus and position coupling, which differ only in the ids). */
static bool learned_table(pos_kind k)
{
    return k == POS_LEARNED || k == POS_ABACUS || k == POS_COUPLING;
}

/* Embeds tokens and adds absolute positions: x(N,C). */
static void embed(const model *m, float *x, const int32_t *tokens, const int32_t *pos, int N)
{
    const transformer *t = m->impl;
    embedding_forward(x, tokens, P(m, t->tok_emb), N, t->C, embed_scale(t));
    if (m->cfg.pos == POS_SINUSOIDAL)
        positional_add_forward(x, t->pe, pos, N, t->C);
    else if (learned_table(m->cfg.pos))
        positional_add_forward(x, P(m, t->pos_emb), pos, N, t->C);
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

/* Copies the keys and values of one qkv row (sequence r, column c) into a layer's cache,
 * laid out (B, H, cap_T, hd) so that each head's keys are contiguous for attention_decode. */
static void cache_store(const transformer *t, float *cache_k, float *cache_v, const float *qkv_row,
                        int r, int c)
{
    const int C = t->C, H = t->H, hd = C / H;
    for (int h = 0; h < H; h++) {
        size_t at = (((size_t)r * H + h) * t->cache_T + c) * hd;
        memcpy(cache_k + at, qkv_row + C + h * hd, hd * sizeof(float));
        memcpy(cache_v + at, qkv_row + 2 * C + h * hd, hd * sizeof(float));
    }
}

/* ------------------------------------------------------ relative positions (ALiBi, FIRE) */

/* The side of the bias table that ids pos[0..n) need: 1 + the largest (at most pos_max). */
static int bias_side(const transformer *t, const int32_t *pos, int n)
{
    int mx = 0;
    for (int i = 0; i < n; i++)
        mx = pos[i] > mx ? pos[i] : mx;
    return mx + 1 < t->pos_max ? mx + 1 : t->pos_max;
}

/* Layer l's FIRE table for ids below `side`, rows [i0, side) (fire_table), into t->fire_tab. */
static void fire_layer_table(const model *m, int l, int side, int i0)
{
    const transformer *t = m->impl;
    const fire_params *f = &t->fire[l];
    fire_table(t->fire_tab, P(m, f->w1), P(m, f->b1), P(m, f->w2), P(m, f->b2), P(m, f->c),
               P(m, f->L), t->H, FIRE_WIDTH, side, i0);
}

/* Layer l's score bias for a batch with ids pos (N of them), or NULL when the positions are
 * not relative. FIRE computes the layer's table here, once per layer and forward. */
static const attn_bias *layer_bias(const model *m, int l, attn_bias *bias, const int32_t *pos,
                                   int N)
{
    const transformer *t = m->impl;
    if (m->cfg.pos == POS_ALIBI) {
        *bias = (attn_bias){t->alibi, t->pos_max, pos, NULL, 0};
        return bias;
    }
    if (m->cfg.pos == POS_FIRE) {
        const int side = bias_side(t, pos, N);
        fire_layer_table(m, l, side, 0);
        *bias = (attn_bias){t->fire_tab, side, pos, NULL, 0};
        return bias;
    }
    return NULL;
}

/* The decoding step's bias for layer l: row r's query has id qpos[r] (decode_step's pos), and
 * its keys, the cached columns j <= col, have ids max(j - start[r], 0), the batch's numbering
 * of columns (attn_bias.kpos NULL). To give keys other ids (a per-row table of the ids of the
 * cached columns), set kpos and kpos_stride here and widen `side` to cover them. FIRE computes
 * only the rows of the queries' ids. */
static const attn_bias *decode_bias(const model *m, int l, attn_bias *bias, const int32_t *qpos,
                                    const int32_t *start, int B, int col)
{
    const transformer *t = m->impl;
    if (m->cfg.pos == POS_ALIBI) {
        *bias = (attn_bias){t->alibi, t->pos_max, qpos, NULL, 0};
        return bias;
    }
    if (m->cfg.pos == POS_FIRE) {
        int qmin = t->pos_max, side = 1;
        for (int r = 0; r < B; r++) {
            const int kmax = col - start[r] > 0 ? col - start[r] : 0; /* the largest key id */
            qmin = qpos[r] < qmin ? qpos[r] : qmin;
            side = qpos[r] + 1 > side ? qpos[r] + 1 : side;
            side = kmax + 1 > side ? kmax + 1 : side;
        }
        side = side < t->pos_max ? side : t->pos_max;
        fire_layer_table(m, l, side, qmin);
        *bias = (attn_bias){t->fire_tab, side, qpos, NULL, 0};
        return bias;
    }
    return NULL;
}

/* Whether any of layer l's FIRE parameters trains (else its gradient is not computed). */
static bool fire_trainable(const model *m, int l)
{
    const fire_params *f = &((const transformer *)m->impl)->fire[l];
    return G_trainable(m, f->w1) || G_trainable(m, f->b1) || G_trainable(m, f->w2) ||
           G_trainable(m, f->b2) || G_trainable(m, f->c) || G_trainable(m, f->L);
}

/* attention_backward for layer l, and with FIRE the module's gradient: the scores' gradient
 * scattered into a table over the batch's pairs of ids, then back through the MLP, c and L. */
static void attention_backward_layer(model *m, int l, const batch *b, const block_acts *a)
{
    transformer *t = m->impl;
    const int B = b->B, T = b->T, C = t->C, H = t->H;
    if (m->cfg.pos != POS_FIRE || !fire_trainable(m, l)) {
        attention_backward(t->dqkv, t->datty, a->qkv, a->att, b->start, B, T, C, H);
        return;
    }
    const int side = bias_side(t, b->pos, B * T);
    const attn_bias bias = {t->fire_tab, side, b->pos, NULL, 0};
    memset(t->fire_dtab, 0, (size_t)H * side * side * sizeof(float));
    attention_backward_biased(t->dqkv, t->fire_dtab, t->datty, a->qkv, a->att, b->start, &bias,
                              B, T, C, H);
    const fire_params *f = &t->fire[l];
    fire_backward(G_trainable(m, f->w1), G_trainable(m, f->b1), G_trainable(m, f->w2),
                  G_trainable(m, f->b2), G_trainable(m, f->c), G_trainable(m, f->L), t->fire_dtab,
                  P(m, f->w1), P(m, f->b1), P(m, f->w2), P(m, f->b2), P(m, f->c), P(m, f->L), H,
                  FIRE_WIDTH, side);
}

/* x_out = block(x_in) over a B x T batch, saving activations in a. When cache_k is given,
 * the block's keys and values of every column are copied into it ((B, H, cap_T, hd)). */
static void block_forward(const model *m, int l, float *x_out, const batch *b, bool train,
                          uint64_t seed, float *cache_k, float *cache_v)
{
    const transformer *t = m->impl;
    const block_params *w = &t->blocks[l];
    block_acts *a = &t->acts[l];
    const int B = b->B, T = b->T, N = B * T, C = t->C, F = t->F, H = t->H;
    const float p = train ? m->cfg.dropout : 0.0f;
    const bool pre = m->cfg.norm == NORM_PRE;

    /* attention sub-block */
    const float *attn_in = a->x_in;
    if (pre) {
        layernorm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, a->x_in, P(m, w->ln1_w),
                          P(m, w->ln1_b), N, C);
        attn_in = a->ln1;
    }
    lin_forward(m, a->qkv, attn_in, w->qkv_w, w->qkv_b, N, C, 3 * C);
    if (m->cfg.pos == POS_ROPE)
        rope_forward(a->qkv, b->pos, t->rope_cos, t->rope_sin, N, C, H);
    if (cache_k) {
        for (int r = 0; r < B; r++)
            for (int c = 0; c < T; c++)
                cache_store(t, cache_k, cache_v, a->qkv + ((size_t)r * T + c) * 3 * C, r, c);
    }
    attn_bias bias;
    attention_forward_biased(a->atty, a->att, a->qkv, b->start, layer_bias(m, l, &bias, b->pos, N),
                             B, T, C, H);
    lin_forward(m, a->attproj, a->atty, w->out_w, w->out_b, N, C, C);
    dropout_forward(a->attproj, p > 0 ? a->mask_attn : NULL, a->attproj, (size_t)N * C, p,
                    site_seed(seed, l, SITE_ATTN));
    add_forward(a->mid, a->x_in, a->attproj, (size_t)N * C);

    /* feed-forward sub-block */
    const float *ffn_in;
    if (pre) {
        layernorm_forward(a->ln2, a->ln2_mean, a->ln2_rstd, a->mid, P(m, w->ln2_w),
                          P(m, w->ln2_b), N, C);
        ffn_in = a->ln2;
    } else {
        layernorm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, a->mid, P(m, w->ln1_w),
                          P(m, w->ln1_b), N, C);
        ffn_in = a->ln1;
    }
    lin_forward(m, a->up, ffn_in, w->up_w, w->up_b, N, C, F);
    activation_forward(m->cfg.act, a->hid, a->up, (size_t)N * F);
    dropout_forward(a->hid, p > 0 ? a->mask_hid : NULL, a->hid, (size_t)N * F, p,
                    site_seed(seed, l, SITE_HIDDEN));
    lin_forward(m, a->down, a->hid, w->down_w, w->down_b, N, F, C);
    dropout_forward(a->down, p > 0 ? a->mask_ffn : NULL, a->down, (size_t)N * C, p,
                    site_seed(seed, l, SITE_FFN));
    if (pre) {
        add_forward(x_out, a->mid, a->down, (size_t)N * C);
    } else {
        add_forward(a->res2, a->ln1, a->down, (size_t)N * C);
        layernorm_forward(x_out, a->ln2_mean, a->ln2_rstd, a->res2, P(m, w->ln2_w),
                          P(m, w->ln2_b), N, C);
    }
}

/* Runs embedding, blocks, final norm and head over the batch; fills t->logits. */
static void forward_logits(model *m, const batch *b, bool train, uint64_t seed, bool fill_cache)
{
    transformer *t = m->impl;
    const int N = b->B * b->T, C = t->C;
    float *x0 = t->acts[0].x_in;
    embed(m, x0, b->tokens, b->pos, N);
    const float p = train ? m->cfg.dropout : 0.0f;
    dropout_forward(x0, p > 0 ? t->mask_embed : NULL, x0, (size_t)N * C, p,
                    site_seed(seed, 0, SITE_EMBED));
    for (int l = 0; l < t->L; l++) {
        float *x_out = l + 1 < t->L ? t->acts[l + 1].x_in : t->x_final;
        size_t layer_cache = (size_t)l * t->cache_B * t->cache_T * C;
        block_forward(m, l, x_out, b, train, seed, fill_cache ? t->k_cache + layer_cache : NULL,
                      fill_cache ? t->v_cache + layer_cache : NULL);
    }
    layernorm_forward(t->lnf, t->lnf_mean, t->lnf_rstd, t->x_final, P(m, t->lnf_w),
                      P(m, t->lnf_b), N, C);
    head_forward(m, t->logits, t->lnf, N);
    m->logits = t->logits;
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
    forward_logits(m, b, train, dropout_seed, false);
    int n = 0;
    double loss = crossentropy_forward(t->probs, t->logits, b->targets, b->B * b->T, t->V, &n);
    t->last = b;
    t->last_train = train;
    t->last_seed = dropout_seed;
    t->last_count = n;
    if (loss_sum)
        *loss_sum = loss;
    if (count)
        *count = n;
    return ARITH_OK;
}

/* -------------------------------------------------------------------------------- backward */

static void activation_backward(act_kind act, float *dinp, const float *dout, const float *inp,
                                size_t n)
{
    if (act == ACT_GELU)
        gelu_backward(dinp, dout, inp, n);
    else if (act == ACT_GELU_TANH)
        gelu_tanh_backward(dinp, dout, inp, n);
    else
        relu_backward(dinp, dout, inp, n);
}

/* Given dx_out (gradient w.r.t. the block's output), writes dx_in (overwritten) and adds the
 * block's parameter gradients. */
static void block_backward(model *m, int l, float *dx_in, const float *dx_out, const batch *b)
{
    transformer *t = m->impl;
    const block_params *w = &t->blocks[l];
    const block_acts *a = &t->acts[l];
    const int B = b->B, T = b->T, N = B * T, C = t->C, F = t->F, H = t->H;
    const size_t NC = (size_t)N * C, NF = (size_t)N * F;
    const float p = t->last_train ? m->cfg.dropout : 0.0f;
    const uint64_t seed = t->last_seed;
    const bool pre = m->cfg.norm == NORM_PRE;

    /* dmid: gradient w.r.t. mid = x_in + attproj, built from the feed-forward sub-block. */
    float *dmid = dx_in;                 /* reuse: dx_in is overwritten at the end anyway */
    const float *dffn_out;               /* gradient w.r.t. the (dropped) down output */
    const float *ffn_in = pre ? a->ln2 : a->ln1;
    float *dffn_in = t->dln;             /* gradient w.r.t. the ffn input */
    if (pre) {
        memcpy(dmid, dx_out, NC * sizeof(float)); /* residual */
        dffn_out = dx_out;
    } else {
        /* x_out = LN2(res2), res2 = ln1 + down */
        memset(t->dtmp, 0, NC * sizeof(float));
        layernorm_backward(t->dtmp, G(m, w->ln2_w), G(m, w->ln2_b), dx_out, a->res2,
                           P(m, w->ln2_w), a->ln2_mean, a->ln2_rstd, N, C);
        dffn_out = t->dtmp;
    }
    /* through dropout, down, dropout, activation, up */
    memset(t->datty, 0, NC * sizeof(float));
    dropout_backward(t->datty, dffn_out, a->mask_ffn, NC, p, site_seed(seed, l, SITE_FFN));
    memset(t->df1, 0, NF * sizeof(float));
    lin_backward(m, t->df1, w->down_w, w->down_b, t->datty, a->hid,
                    N, F, C);
    memset(t->df2, 0, NF * sizeof(float));
    dropout_backward(t->df2, t->df1, a->mask_hid, NF, p, site_seed(seed, l, SITE_HIDDEN));
    memset(t->df1, 0, NF * sizeof(float));
    activation_backward(m->cfg.act, t->df1, t->df2, a->up, NF);
    if (pre) {
        memset(dffn_in, 0, NC * sizeof(float));
    } else {
        memcpy(dffn_in, t->dtmp, NC * sizeof(float)); /* residual res2 = ln1 + down */
    }
    lin_backward(m, dffn_in, w->up_w, w->up_b, t->df1, ffn_in, N, C,
                    F);
    if (pre) {
        layernorm_backward(dmid, G(m, w->ln2_w), G(m, w->ln2_b), dffn_in, a->mid,
                           P(m, w->ln2_w), a->ln2_mean, a->ln2_rstd, N, C);
    } else {
        memset(dmid, 0, NC * sizeof(float));
        layernorm_backward(dmid, G(m, w->ln1_w), G(m, w->ln1_b), dffn_in, a->mid,
                           P(m, w->ln1_w), a->ln1_mean, a->ln1_rstd, N, C);
    }

    /* attention sub-block: mid = x_in + dropout(proj(attention(qkv(attn_in)))) */
    memset(t->dtmp, 0, NC * sizeof(float));
    dropout_backward(t->dtmp, dmid, a->mask_attn, NC, p, site_seed(seed, l, SITE_ATTN));
    memset(t->datty, 0, NC * sizeof(float));
    lin_backward(m, t->datty, w->out_w, w->out_b, t->dtmp, a->atty,
                    N, C, C);
    memset(t->dqkv, 0, NC * 3 * sizeof(float));
    attention_backward_layer(m, l, b, a);
    if (m->cfg.pos == POS_ROPE)
        rope_backward(t->dqkv, b->pos, t->rope_cos, t->rope_sin, N, C, H);
    /* dx_in = dmid (residual) + gradient through the attention input */
    if (pre) {
        memset(t->dln, 0, NC * sizeof(float));
        lin_backward(m, t->dln, w->qkv_w, w->qkv_b, t->dqkv, a->ln1,
                        N, C, 3 * C);
        layernorm_backward(dx_in, G(m, w->ln1_w), G(m, w->ln1_b), t->dln, a->x_in,
                           P(m, w->ln1_w), a->ln1_mean, a->ln1_rstd, N, C);
    } else {
        lin_backward(m, dx_in, w->qkv_w, w->qkv_b, t->dqkv, a->x_in,
                        N, C, 3 * C);
    }
}

static void transformer_backward(model *m)
{
    transformer *t = m->impl;
    const batch *b = t->last;
    if (!b || t->last_count == 0)
        return;
    const int N = b->B * b->T, C = t->C, V = t->V;
    const size_t NC = (size_t)N * C;
    memset(t->dlogits, 0, (size_t)N * V * sizeof(float));
    crossentropy_backward(t->dlogits, t->probs, b->targets, N, V, 1.0f / (float)t->last_count);
    memset(t->dln, 0, NC * sizeof(float));
    linear_backward(t->dln, G_trainable(m, t->head_w),
                    t->head_bias ? G_trainable(m, t->head_b) : NULL, t->dlogits, t->lnf,
                    P(m, t->head_w), N, C, V);
    memset(t->dx, 0, NC * sizeof(float));
    layernorm_backward(t->dx, G(m, t->lnf_w), G(m, t->lnf_b), t->dln, t->x_final, P(m, t->lnf_w),
                       t->lnf_mean, t->lnf_rstd, N, C);
    float *dout = t->dx, *din = t->dx2;
    for (int l = t->L - 1; l >= 0; l--) {
        block_backward(m, l, din, dout, b);
        float *swap = dout;
        dout = din;
        din = swap;
    }
    /* dout: gradient w.r.t. the (dropped out) embedding sum */
    memset(t->dtmp, 0, NC * sizeof(float));
    dropout_backward(t->dtmp, dout, t->mask_embed, NC, t->last_train ? m->cfg.dropout : 0.0f,
                     site_seed(t->last_seed, 0, SITE_EMBED));
    if (learned_table(m->cfg.pos))
        positional_add_backward(G_trainable(m, t->pos_emb), t->dtmp, b->pos, N, C);
    embedding_backward(G_trainable(m, t->tok_emb), t->dtmp, b->tokens, N, C, embed_scale(t));
}

/* ------------------------------------------------------------------------------ generation */

/* One decoding step for B rows: the new token of row r sits at column `col`. Writes the
 * logits of the new tokens into t->logits (B, V). Uses block 0's buffers as scratch. */
static arith_status decode_step(model *m, const int32_t *tokens, const int32_t *start, int B,
                                int col)
{
    transformer *t = m->impl;
    if (col >= t->ctx)
        return arith_error(ARITH_ERR_DATA, "column %d is past the model's context of %d tokens",
                           col, t->ctx);
    if (col >= t->cache_T) {
        arith_status st = cache_reserve(t, t->cache_B, col + 1);
        if (st)
            return st;
    }
    const int C = t->C, F = t->F, H = t->H;
    const bool pre = m->cfg.norm == NORM_PRE;
    block_acts *s = &t->acts[0];
    int32_t *pos = t->gen_pos;
    for (int r = 0; r < B; r++) {
        int p = col - start[r], i = col - t->dec_prompt_T;
        if (t->dec_gen && i >= 0 && i < t->dec_gen_n) /* the batch's own answer positions */
            p = t->dec_gen[(size_t)r * t->dec_gen_n + i];
        else if (t->dec_gen && i >= t->dec_gen_n) /* past them: one more per token */
            p = t->dec_gen[(size_t)r * t->dec_gen_n + t->dec_gen_n - 1] + i - t->dec_gen_n + 1;
        /* an answer that runs past the ids the table has is wrong already: keep it in range */
        if (t->dec_gen && p >= t->pos_max)
            p = t->pos_max - 1;
        pos[r] = p > 0 ? p : 0;
    }
    arith_status pst = check_positions(t, pos, B);
    if (pst)
        return pst;
    float *x = t->x_final; /* (B, C) residual stream */
    embed(m, x, tokens, pos, B);
    for (int l = 0; l < t->L; l++) {
        const block_params *w = &t->blocks[l];
        size_t layer_cache = (size_t)l * t->cache_B * t->cache_T * C;
        float *kc = t->k_cache + layer_cache, *vc = t->v_cache + layer_cache;
        const float *attn_in = x;
        if (pre) {
            layernorm_forward(s->ln1, s->ln1_mean, s->ln1_rstd, x, P(m, w->ln1_w),
                              P(m, w->ln1_b), B, C);
            attn_in = s->ln1;
        }
        lin_forward(m, s->qkv, attn_in, w->qkv_w, w->qkv_b, B, C, 3 * C);
        if (m->cfg.pos == POS_ROPE)
            rope_forward(s->qkv, pos, t->rope_cos, t->rope_sin, B, C, H);
        for (int r = 0; r < B; r++)
            cache_store(t, kc, vc, s->qkv + (size_t)r * 3 * C, r, col);
        attn_bias bias;
        attention_decode_biased(s->atty, s->qkv, 3 * C, kc, vc, start,
                                decode_bias(m, l, &bias, pos, start, B, col), B, col, t->cache_T,
                                C, H);
        lin_forward(m, s->attproj, s->atty, w->out_w, w->out_b, B, C, C);
        add_forward(s->mid, x, s->attproj, (size_t)B * C);
        const float *ffn_in;
        if (pre) {
            layernorm_forward(s->ln2, s->ln2_mean, s->ln2_rstd, s->mid, P(m, w->ln2_w),
                              P(m, w->ln2_b), B, C);
            ffn_in = s->ln2;
        } else {
            layernorm_forward(s->ln1, s->ln1_mean, s->ln1_rstd, s->mid, P(m, w->ln1_w),
                              P(m, w->ln1_b), B, C);
            ffn_in = s->ln1;
        }
        lin_forward(m, s->up, ffn_in, w->up_w, w->up_b, B, C, F);
        activation_forward(m->cfg.act, s->hid, s->up, (size_t)B * F);
        lin_forward(m, s->down, s->hid, w->down_w, w->down_b, B, F, C);
        if (pre) {
            add_forward(x, s->mid, s->down, (size_t)B * C);
        } else {
            add_forward(s->res2, s->ln1, s->down, (size_t)B * C);
            layernorm_forward(x, s->ln2_mean, s->ln2_rstd, s->res2, P(m, w->ln2_w),
                              P(m, w->ln2_b), B, C);
        }
    }
    layernorm_forward(t->lnf, t->lnf_mean, t->lnf_rstd, x, P(m, t->lnf_w), P(m, t->lnf_b), B, C);
    head_forward(m, t->logits, t->lnf, B);
    return ARITH_OK;
}

static arith_status transformer_decode_begin(model *m, const batch *prompts, const float **logits)
{
    transformer *t = m->impl;
    const int B = prompts->B, T = prompts->T, V = t->V;
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
    t->dec_gen_n = 0;
    t->dec_prompt_T = T;
    if (prompts->gen_pos && prompts->gen_n > 0) {
        size_t need = (size_t)B * prompts->gen_n;
        if (need > (size_t)t->dec_gen_cap) {
            int32_t *grown = realloc(t->dec_gen, need * sizeof *grown);
            if (!grown)
                return arith_error(ARITH_ERR_MEMORY, "out of memory for answer positions");
            t->dec_gen = grown;
            t->dec_gen_cap = (int)need;
        }
        memcpy(t->dec_gen, prompts->gen_pos, need * sizeof(int32_t));
        t->dec_gen_n = prompts->gen_n;
    }
    /* prefill: the whole prompt at once, keys and values into the cache */
    forward_logits(m, prompts, false, 0, true);
    /* each row's last column, packed to (B, V); row r moves down from row r*T + T-1 >= r */
    for (int r = 0; r < B; r++)
        memmove(t->logits + (size_t)r * V, t->logits + ((size_t)r * T + T - 1) * V,
                (size_t)V * sizeof(float));
    t->dec_B = B;
    t->dec_col = T;
    memcpy(t->dec_start, prompts->start, (size_t)B * sizeof(int32_t));
    *logits = t->logits;
    return ARITH_OK;
}

static arith_status transformer_decode_next(model *m, const int32_t *tokens, const float **logits)
{
    transformer *t = m->impl;
    arith_status st = decode_step(m, tokens, t->dec_start, t->dec_B, t->dec_col);
    if (st)
        return st;
    t->dec_col++;
    m->logits = t->logits;
    *logits = t->logits;
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
    const int H = t->H, hd = t->C / t->H;
    const size_t seg = (size_t)t->cache_T * hd, row = (size_t)H * seg,
                 layer = (size_t)t->cache_B * row, len = (size_t)c->cols * hd;
    for (int l = 0; l < t->L; l++) {
        model_row_move(t->k_cache + l * layer, row, H, seg, len, dst, from, swap);
        model_row_move(t->v_cache + l * layer, row, H, seg, len, dst, from, swap);
    }
    int32_t s = c->start[dst];
    c->start[dst] = c->start[from];
    if (swap)
        c->start[from] = s;
    if (t->dec_gen_n > 0) { /* the rows' answer positions go with them */
        int32_t *g = t->dec_gen;
        const size_t n = (size_t)t->dec_gen_n;
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
    cache_reorder c = {t, t->dec_start, t->dec_col};
    model_rows_reorder(t->dec_B, src, t->dec_work, cache_row_move, &c);
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
    m->logits = t->logits;
    return st;
}

/* --------------------------------------------------------------------------- create, free */

static void transformer_destroy(model *m)
{
    transformer *t = m->impl;
    if (t) {
        workspace_release(t);
        cache_release(t);
        free(t->blocks);
        free(t->dec_gen);
        arith_free(t->pe);
        arith_free(t->rope_cos);
        arith_free(t->rope_sin);
        free(t->fire);
        arith_free(t->alibi);
        arith_free(t->fire_tab);
        arith_free(t->fire_dtab);
        free(t);
    }
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
};


arith_status transformer_create(model **out, const model_config *cfg)
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
    t->blocks = calloc((size_t)t->L, sizeof *t->blocks);
    if (!t->blocks) {
        model_free(m);
        return arith_error(ARITH_ERR_MEMORY, "out of memory creating a transformer");
    }
    const int C = t->C, F = t->F;
    param_table *pt = &m->params;
    t->gpt2 = cfg->kind == MODEL_GPT2;
    t->head_bias = !(t->gpt2 && cfg->tie);
    /* GPT-2 uses Hugging Face's names and Conv1D (in, out) shapes, so that its checkpoints load
     * as they are; `d` flips a 2-d shape to that layout. */
    const bool hf = t->gpt2;
    /* Every parameter with its init. arith's own follows seed 001's torch model: embedding
     * and head U(-0.1, 0.1), head bias 0; every block matrix Xavier-uniform (nn.Transformer
     * resets them so); attention biases 0, feed-forward biases U(+-1/sqrt(fan_in))
     * (nn.Linear's default); layer norms 1 and 0; learned positions N(0, 0.02). GPT-2's
     * (Hugging Face's _init_weights): every weight N(0, 0.02), the two residual projections
     * (c_proj) N(0, 0.02 / sqrt(2 L)), biases 0, layer norms 1 and 0; seed 003's new input and
     * output layers get the same N(0, 0.02), so a fresh model starts as GPT-2 would. */
    const param_init ones = param_init_constant(1.0f), zeros = param_init_zeros();
    const param_init gpt2_std = param_init_normal(0.02f);
    const param_init gpt2_proj = param_init_normal(0.02f / sqrtf(2.0f * (float)t->L));
    const char *tok_name = !hf ? "tok_emb.weight" : cfg->tie ? "wte.weight" : "in_layer.weight";
    st = model_declare(pt, &t->tok_emb, tok_name, 2, t->V, C,
                       hf ? gpt2_std : param_init_uniform(0.1f));
    /* Abacus and coupling ids carry what the model must align on: their rows start N(0, 1)
     * (nn.Embedding's default, which the papers' code uses), as large as the scaled token
     * embeddings. At N(0, 0.02) a 2-layer model with training offsets stayed at 0.013 on
     * 1..5-digit sums after 2,500 steps; at N(0, 1) it reached 1.0. Learned positions keep
     * N(0, 0.02). */
    if (!st && learned_table(cfg->pos))
        st = model_declare(pt, &t->pos_emb, hf ? "wpe.weight" : "pos_emb.weight", 2, t->pos_max,
                           C, param_init_normal(cfg->pos == POS_LEARNED ? 0.02f : 1.0f));
    char name[PARAM_NAME_MAX];
#define BLOCK(field, ours, theirs, ndim, d0, d1, init_ours, init_theirs)                      \
    if (!st) {                                                                               \
        snprintf(name, sizeof name, hf ? "h.%d.%s" : "layers.%d.%s", l, hf ? theirs : ours);   \
        st = model_declare(pt, &t->blocks[l].field, name, ndim, hf && (ndim) == 2 ? (d1) : (d0), \
                           hf && (ndim) == 2 ? (d0) : (d1), hf ? (init_theirs) : (init_ours)); \
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
        st = model_declare(pt, &t->lnf_w, "ln_f.weight", 1, C, 0, ones);
    if (!st)
        st = model_declare(pt, &t->lnf_b, "ln_f.bias", 1, C, 0, zeros);
    if (!st && t->head_bias) {
        st = model_declare(pt, &t->head_w, hf ? "out_layer.weight" : "head.weight", 2, t->V, C,
                           hf ? gpt2_std : param_init_uniform(0.1f));
        if (!st)
            st = model_declare(pt, &t->head_b, hf ? "out_layer.bias" : "head.bias", 1, t->V, 0,
                               zeros);
    } else {
        t->head_w = t->tok_emb; /* tied: logits = x @ wte^T */
    }
    if (!st && cfg->pos == POS_FIRE) { /* every layer's FIRE module, after the rest */
        t->fire = calloc((size_t)t->L, sizeof *t->fire);
        if (!t->fire)
            st = arith_error(ARITH_ERR_MEMORY, "out of memory creating a transformer");
        else if (t->H > FIRE_MAX_WIDTH)
            st = arith_error(ARITH_ERR_ARG, "--pos fire takes at most %d heads (got %d)",
                             FIRE_MAX_WIDTH, t->H);
        for (int l = 0; !st && l < t->L; l++) {
            fire_params *f = &t->fire[l];
            /* as FIRE's reference code: the MLP's layers nn.Linear's U(+-1/sqrt(fan_in))
             * (fan_in 1 for w1, b1; FIRE_WIDTH for w2, b2), c = 0.1, L = 1 (a threshold of
             * FIRE_L0 = 512 positions: below it the bias is a function of |i - j| alone) */
            const struct {
                size_t *off;
                const char *what;
                int ndim, d0, d1;
                param_init init;
            } decl[] = {
                {&f->w1, "w1", 2, FIRE_WIDTH, 1, param_init_fan_in(1)},
                {&f->b1, "b1", 1, FIRE_WIDTH, 0, param_init_fan_in(1)},
                {&f->w2, "w2", 2, t->H, FIRE_WIDTH, param_init_fan_in(FIRE_WIDTH)},
                {&f->b2, "b2", 1, t->H, 0, param_init_fan_in(FIRE_WIDTH)},
                {&f->c, "c", 1, 1, 0, param_init_constant(0.1f)},
                {&f->L, "L", 1, 1, 0, param_init_constant(1.0f)},
            };
            for (size_t k = 0; !st && k < sizeof decl / sizeof *decl; k++) {
                snprintf(name, sizeof name, "layers.%d.attn.fire.%s", l, decl[k].what);
                st = model_declare(pt, decl[k].off, name, decl[k].ndim, decl[k].d0, decl[k].d1,
                                   decl[k].init);
            }
        }
    }
    if (!st)
        st = params_alloc(pt);
    if (!st && cfg->pos == POS_SINUSOIDAL) {
        t->pe = arith_alloc((size_t)t->pos_max * C * sizeof(float));
        if (!t->pe)
            st = ARITH_ERR_MEMORY;
        else
            sinusoidal_table(t->pe, t->pos_max, C);
    }
    if (!st && cfg->pos == POS_ROPE) {
        int hd = C / t->H;
        t->rope_cos = arith_alloc((size_t)t->pos_max * (hd / 2) * sizeof(float));
        t->rope_sin = arith_alloc((size_t)t->pos_max * (hd / 2) * sizeof(float));
        if (!t->rope_cos || !t->rope_sin)
            st = ARITH_ERR_MEMORY;
        else
            rope_tables(t->rope_cos, t->rope_sin, t->pos_max, hd, 10000.0f);
    }
    if (!st && (cfg->pos == POS_ALIBI || cfg->pos == POS_FIRE)) {
        /* the bias tables over pairs of ids (H x pos_max^2 floats each) */
        const size_t n = (size_t)t->H * t->pos_max * t->pos_max;
        if (cfg->pos == POS_ALIBI) {
            t->alibi = arith_alloc(n * sizeof(float));
            float *slopes = malloc((size_t)t->H * sizeof(float));
            if (!t->alibi || !slopes) {
                st = arith_error(ARITH_ERR_MEMORY, "out of memory for ALiBi's table of %d "
                                 "positions", t->pos_max);
            } else {
                alibi_slopes(slopes, t->H);
                alibi_table(t->alibi, slopes, t->H, t->pos_max);
            }
            free(slopes);
        } else {
            t->fire_tab = arith_alloc(n * sizeof(float));
            t->fire_dtab = arith_alloc(n * sizeof(float));
            if (!t->fire_tab || !t->fire_dtab)
                st = arith_error(ARITH_ERR_MEMORY, "out of memory for FIRE's tables of %d "
                                 "positions", t->pos_max);
        }
    }
    if (st) {
        model_free(m);
        return st;
    }
    *out = m;
    return ARITH_OK;
}
