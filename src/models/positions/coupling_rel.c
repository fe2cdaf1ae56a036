/* Coupled relative bias (the relative form in Cho et al. 2024's position-coupling repository): no
 * absolute positions at all; each layer learns a bias per head on the difference of the coupled
 * ids of key and query, clipped to -COUPLING_REL_CLIP..COUPLING_REL_CLIP:
 *     bias_h(q, k) = w[h][clip(id_k - id_q) + COUPLING_REL_CLIP]
 * The ids are coupling's (the tokenizer's digit significances, answer columns that of the digit
 * they predict, 0 for other tokens), so that a query can find the digits of its own significance
 * and its neighbours' in every operand whatever the length: only differences of ids count, and
 * the same 7 numbers per head serve 5 digits and 1,000. Parameters layers.N.attn.rel_bias
 * (H, 7), initialized N(0, 1/d_model) as T5's relative bias.
 *
 * coupling-local is the same bias with the clip replaced by a window: keys whose ids differ
 * from the query's by more than COUPLING_REL_CLIP get no attention at all (-inf). With the clip,
 * every far key shares one bucket, and a 100-digit sum has five times the far keys of a
 * 20-digit one, so their share of the attention grows with the length; inside the window a
 * digit's query sees the same keys whatever the length.
 *
 * coupling-anchor is coupling-local that also sees, from anywhere, the keys of ids 1..ANCHORS
 * (the operands' lowest COUPLING_ANCHORS digits), each id with a bucket of its own: an n x k
 * product's answer digit needs every digit of its k-digit operand, which the window loses once
 * the answer is longer than the window. A query still sees a fixed number of keys whatever
 * the length. Its buckets are (H, 7 + COUPLING_ANCHORS); the ids are never offset in training
 * (pos_scheme.fixed_ids). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "models/positions/positions.h"

enum {
    COUPLING_REL_CLIP = 3,
    COUPLING_REL_BUCKETS = 2 * COUPLING_REL_CLIP + 1,
    COUPLING_ANCHORS = 3
};

typedef struct {
    int L, C, H, pos_max;
    bool window;             /* coupling-local: -inf past the clip instead of its bucket */
    int anchors;             /* coupling-anchor: ids 1..anchors seen from anywhere (else 0) */
    int buckets;             /* per head: COUPLING_REL_BUCKETS + anchors */
    size_t *w;               /* (L) offsets of each layer's (H, COUPLING_REL_BUCKETS) */
    float *tab, *dtab;       /* (H, pos_max, pos_max) scratch: a layer's table, its gradient */
} crel_state;

static void crel_destroy(void *state)
{
    crel_state *s = state;
    if (s) {
        free(s->w);
        tensor_free(s->tab);
        tensor_free(s->dtab);
    }
    free(s);
}

static arith_status crel_make(void **state, const pos_dims *d, bool window, int anchors)
{
    const size_t n = (size_t)d->heads * d->pos_max * d->pos_max;
    crel_state *s = calloc(1, sizeof *s);
    if (s) {
        s->w = calloc((size_t)d->layers, sizeof *s->w);
        s->tab = tensor_alloc(n * sizeof(float));
        s->dtab = tensor_alloc(n * sizeof(float));
    }
    if (!s || !s->w || !s->tab || !s->dtab) {
        crel_destroy(s);
        return arith_error(ARITH_ERR_MEMORY,
                           "out of memory for the coupled relative bias's tables of %d positions",
                           d->pos_max);
    }
    s->L = d->layers;
    s->C = d->d_model;
    s->H = d->heads;
    s->pos_max = d->pos_max;
    s->window = window;
    s->anchors = anchors;
    s->buckets = COUPLING_REL_BUCKETS + anchors;
    *state = s;
    return ARITH_OK;
}

static arith_status crel_create(void **state, const pos_dims *d)
{
    return crel_make(state, d, false, 0);
}

static arith_status clocal_create(void **state, const pos_dims *d)
{
    return crel_make(state, d, true, 0);
}

static arith_status canchor_create(void **state, const pos_dims *d)
{
    return crel_make(state, d, true, COUPLING_ANCHORS);
}

static arith_status crel_declare(void *state, param_table *pt)
{
    crel_state *s = state;
    char name[PARAM_NAME_MAX];
    arith_status st = ARITH_OK;
    for (int l = 0; !st && l < s->L; l++) {
        snprintf(name, sizeof name, "layers.%d.attn.rel_bias", l);
        st = model_declare(pt, &s->w[l], name, 2, s->H, s->buckets,
                           param_init_normal(1.0f / sqrtf((float)s->C)));
    }
    return st;
}

/* The bucket of query id q and key id k; -1 past the window (coupling-local), unless the key
 * is an anchor (coupling-anchor: ids 1..anchors, a bucket each). */
static int bucket(const crel_state *s, int q, int k)
{
    int d = k - q;
    if (s->window && (d < -COUPLING_REL_CLIP || d > COUPLING_REL_CLIP))
        return k >= 1 && k <= s->anchors ? COUPLING_REL_BUCKETS + k - 1 : -1;
    d = d < -COUPLING_REL_CLIP ? -COUPLING_REL_CLIP : d > COUPLING_REL_CLIP ? COUPLING_REL_CLIP : d;
    return d + COUPLING_REL_CLIP;
}

/* Layer l's table for ids below `side`, rows [i0, side), into s->tab ((H, side, side)). */
static void layer_table(const crel_state *s, const param_table *pt, int l, int side, int i0)
{
    const float *w = pt->data + s->w[l];
    for (int h = 0; h < s->H; h++)
        for (int i = i0; i < side; i++) {
            float *row = s->tab + ((size_t)h * side + i) * side;
            for (int j = 0; j < side; j++) {
                const int k = bucket(s, i, j);
                row[j] = k >= 0 ? w[h * s->buckets + k] : -INFINITY;
            }
        }
}

/* The side of the table that ids pos[0..n) need: 1 + the largest (at most pos_max). */
static int ids_side(const crel_state *s, const int32_t *pos, int n, int side)
{
    for (int i = 0; i < n; i++)
        side = pos[i] + 1 > side ? pos[i] + 1 : side;
    return side < s->pos_max ? side : s->pos_max;
}

static const attn_bias *crel_bias(void *state, const param_table *pt, int layer, attn_bias *bias,
                                  const int32_t *pos, int N)
{
    const crel_state *s = state;
    const int side = ids_side(s, pos, N, 1);
    layer_table(s, pt, layer, side, 0);
    *bias = (attn_bias){s->tab, side, pos, NULL, 0};
    return bias;
}

/* The queries' rows of the table; the keys' ids are the coupled ids the transformer kept for
 * the cached columns (kpos, a row of kpos_stride per sequence). */
static const attn_bias *crel_decode(void *state, const param_table *pt, int layer,
                                    attn_bias *bias, const int32_t *qpos, const int32_t *kpos,
                                    int kpos_stride, const int32_t *start, int B, int col)
{
    const crel_state *s = state;
    int qmin = s->pos_max, side = ids_side(s, qpos, B, 1);
    for (int r = 0; r < B; r++) {
        const int lo = start[r] > 0 ? start[r] : 0;
        side = ids_side(s, kpos + (size_t)r * kpos_stride + lo, col + 1 - lo, side);
        qmin = qpos[r] < qmin ? qpos[r] : qmin;
    }
    layer_table(s, pt, layer, side, qmin);
    *bias = (attn_bias){s->tab, side, qpos, kpos, kpos_stride};
    return bias;
}

/* The scores' gradient gathered into a table over the batch's pairs of ids, then summed per
 * bucket (in a fixed order: the same bits for any thread count). */
static void crel_bias_backward(void *state, const param_table *pt, int layer, const float *dout,
                               const float *qkv, const float *att, const int32_t *start,
                               const int32_t *pos, int B, int T)
{
    crel_state *s = state;
    float *dw = model_grad_trainable(pt, s->w[layer]);
    if (!dw)
        return;
    const int H = s->H, side = ids_side(s, pos, B * T, 1);
    const attn_bias bias = {s->tab, side, pos, NULL, 0};
    tensor_zero(s->dtab, (size_t)H * side * side);
    attention_bias_backward(s->dtab, dout, qkv, att, start, &bias, B, T, s->C, H);
    for (int h = 0; h < H; h++)
        for (int i = 0; i < side; i++) {
            const float *row = s->dtab + ((size_t)h * side + i) * side;
            for (int j = 0; j < side; j++) {
                const int k = bucket(s, i, j);
                if (k >= 0)
                    dw[h * s->buckets + k] += row[j];
            }
        }
}

static const pos_ops crel_ops = {
    .create = crel_create,
    .destroy = crel_destroy,
    .declare_attention = crel_declare,
    .bias_forward = crel_bias,
    .bias_backward = crel_bias_backward,
    .bias_decode = crel_decode,
};

const pos_scheme pos_coupling_rel = {
    .name = "coupling-rel",
    .summary = "a learned bias per head on the clipped difference of coupled ids, no absolute "
               "positions (Cho et al.)",
    .ids = POSIDS_COUPLING,
    .data_pos_max = 256,
    .ops = &crel_ops,
};

static const pos_ops clocal_ops = {
    .create = clocal_create,
    .destroy = crel_destroy,
    .declare_attention = crel_declare,
    .bias_forward = crel_bias,
    .bias_backward = crel_bias_backward,
    .bias_decode = crel_decode,
};

const pos_scheme pos_coupling_local = {
    .name = "coupling-local",
    .summary = "coupling-rel inside a window: no attention between ids more than 3 apart",
    .ids = POSIDS_COUPLING,
    .data_pos_max = 256,
    .ops = &clocal_ops,
};

static const pos_ops canchor_ops = {
    .create = canchor_create,
    .destroy = crel_destroy,
    .declare_attention = crel_declare,
    .bias_forward = crel_bias,
    .bias_backward = crel_bias_backward,
    .bias_decode = crel_decode,
};

const pos_scheme pos_coupling_anchor = {
    .name = "coupling-anchor",
    .summary = "coupling-local that also sees the operands' lowest 3 digits from anywhere (n x k "
               "products); ids never offset",
    .ids = POSIDS_COUPLING,
    .data_pos_max = 256,
    .fixed_ids = true,
    .ops = &canchor_ops,
};
