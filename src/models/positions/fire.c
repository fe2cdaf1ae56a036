/* FIRE (Li et al. 2023): a learned bias on the attention scores, a function of relative
 * position, f(log(|c| |i-j| + 1) / (log(|c| max(512 |L|, i) + 1) + 1e-6)) with f an MLP
 * 1 -> FIRE_WIDTH -> H, one module per layer (layers.N.attn.fire.*). Each layer's table over
 * the batch's pairs of ids is computed at every forward (nn.h's fire_table), its gradient
 * scattered back into one table and then through the MLP, c and L. */
#include <stdio.h>
#include <stdlib.h>

#include "models/positions/positions.h"

enum { FIRE_WIDTH = 32 };

/* Offsets of one layer's module: the MLP 1 -> W -> H and the two scalars. */
typedef struct {
    size_t w1, b1;           /* (W, 1), (W) */
    size_t w2, b2;           /* (H, W), (H) */
    size_t c, L;             /* (1), (1) */
} fire_params;

typedef struct {
    int L, C, H, pos_max;
    fire_params *layers;     /* (L) */
    float *tab, *dtab;       /* (H, pos_max, pos_max) scratch: a layer's table, its gradient */
} fire_state;

static arith_status fire_check(const model_config *cfg)
{
    if (cfg->heads > FIRE_MAX_WIDTH)
        return arith_error(ARITH_ERR_ARG, "--pos fire takes at most %d heads (got %d)",
                           FIRE_MAX_WIDTH, cfg->heads);
    return ARITH_OK;
}

static void fire_destroy(void *state)
{
    fire_state *s = state;
    if (s) {
        free(s->layers);
        tensor_free(s->tab);
        tensor_free(s->dtab);
    }
    free(s);
}

static arith_status fire_create(void **state, const pos_dims *d)
{
    const size_t n = (size_t)d->heads * d->pos_max * d->pos_max;
    fire_state *s = calloc(1, sizeof *s);
    if (s) {
        s->layers = calloc((size_t)d->layers, sizeof *s->layers);
        s->tab = tensor_alloc(n * sizeof(float));
        s->dtab = tensor_alloc(n * sizeof(float));
    }
    if (!s || !s->layers || !s->tab || !s->dtab) {
        fire_destroy(s);
        return arith_error(ARITH_ERR_MEMORY, "out of memory for FIRE's tables of %d positions",
                           d->pos_max);
    }
    s->L = d->layers;
    s->C = d->d_model;
    s->H = d->heads;
    s->pos_max = d->pos_max;
    *state = s;
    return ARITH_OK;
}

/* Every layer's module, initialized as the reference code does: the MLP's layers nn.Linear's
 * U(+-1/sqrt(fan_in)) (fan_in 1 for w1, b1; FIRE_WIDTH for w2, b2), c = 0.1, L = 1 (a
 * threshold of FIRE_L0 = 512 positions: below it the bias is a function of |i - j| alone). */
static arith_status fire_declare(void *state, param_table *pt)
{
    fire_state *s = state;
    arith_status st = ARITH_OK;
    char name[PARAM_NAME_MAX];
    for (int l = 0; !st && l < s->L; l++) {
        fire_params *f = &s->layers[l];
        const struct {
            size_t *off;
            const char *what;
            int ndim, d0, d1;
            param_init init;
        } decl[] = {
            {&f->w1, "w1", 2, FIRE_WIDTH, 1, param_init_fan_in(1)},
            {&f->b1, "b1", 1, FIRE_WIDTH, 0, param_init_fan_in(1)},
            {&f->w2, "w2", 2, s->H, FIRE_WIDTH, param_init_fan_in(FIRE_WIDTH)},
            {&f->b2, "b2", 1, s->H, 0, param_init_fan_in(FIRE_WIDTH)},
            {&f->c, "c", 1, 1, 0, param_init_constant(0.1f)},
            {&f->L, "L", 1, 1, 0, param_init_constant(1.0f)},
        };
        for (size_t k = 0; !st && k < sizeof decl / sizeof *decl; k++) {
            snprintf(name, sizeof name, "layers.%d.attn.fire.%s", l, decl[k].what);
            st = model_declare(pt, decl[k].off, name, decl[k].ndim, decl[k].d0, decl[k].d1,
                               decl[k].init);
        }
    }
    return st;
}

/* The side of the table that ids pos[0..n) need: 1 + the largest (at most pos_max). */
static int bias_side(const fire_state *s, const int32_t *pos, int n)
{
    int mx = 0;
    for (int i = 0; i < n; i++)
        mx = pos[i] > mx ? pos[i] : mx;
    return mx + 1 < s->pos_max ? mx + 1 : s->pos_max;
}

/* Layer l's table for ids below `side`, rows [i0, side) (fire_table), into s->tab. */
static void layer_table(const fire_state *s, const param_table *pt, int l, int side, int i0)
{
    const fire_params *f = &s->layers[l];
    const float *p = pt->data;
    fire_table(s->tab, p + f->w1, p + f->b1, p + f->w2, p + f->b2, p + f->c, p + f->L, s->H,
               FIRE_WIDTH, side, i0);
}

/* The layer's table, computed here once per layer and forward. */
static const attn_bias *fire_bias(void *state, const param_table *pt, int layer,
                                  attn_bias *bias, const int32_t *pos, int N)
{
    const fire_state *s = state;
    const int side = bias_side(s, pos, N);
    layer_table(s, pt, layer, side, 0);
    *bias = (attn_bias){s->tab, side, pos, NULL, 0};
    return bias;
}

/* Only the rows of the queries' ids; the side covers the keys' ids too. */
static const attn_bias *fire_decode(void *state, const param_table *pt, int layer,
                                    attn_bias *bias, const int32_t *qpos, const int32_t *kpos,
                                    int kpos_stride, const int32_t *start, int B, int col)
{
    const fire_state *s = state;
    int qmin = s->pos_max, side = 1;
    for (int r = 0; r < B; r++) {
        const int kmax = col - start[r] > 0 ? col - start[r] : 0; /* the largest key id */
        qmin = qpos[r] < qmin ? qpos[r] : qmin;
        side = qpos[r] + 1 > side ? qpos[r] + 1 : side;
        side = kmax + 1 > side ? kmax + 1 : side;
    }
    side = side < s->pos_max ? side : s->pos_max;
    layer_table(s, pt, layer, side, qmin);
    *bias = (attn_bias){s->tab, side, qpos, NULL, 0};
    return bias;
}

/* The scores' gradient scattered into a table over the batch's pairs of ids, then back through
 * the MLP, c and L; nothing when none of the layer's module trains. */
static void fire_bias_backward(void *state, const param_table *pt, int layer, const float *dout,
                               const float *qkv, const float *att, const int32_t *start,
                               const int32_t *pos, int B, int T)
{
    fire_state *s = state;
    const fire_params *f = &s->layers[layer];
    float *dw1 = model_grad_trainable(pt, f->w1), *db1 = model_grad_trainable(pt, f->b1),
          *dw2 = model_grad_trainable(pt, f->w2), *db2 = model_grad_trainable(pt, f->b2),
          *dc = model_grad_trainable(pt, f->c), *dL = model_grad_trainable(pt, f->L);
    if (!dw1 && !db1 && !dw2 && !db2 && !dc && !dL)
        return;
    const int H = s->H, side = bias_side(s, pos, B * T);
    const attn_bias bias = {s->tab, side, pos, NULL, 0};
    tensor_zero(s->dtab, (size_t)H * side * side);
    attention_bias_backward(s->dtab, dout, qkv, att, start, &bias, B, T, s->C, H);
    const float *p = pt->data;
    fire_backward(dw1, db1, dw2, db2, dc, dL, s->dtab, p + f->w1, p + f->b1, p + f->w2,
                  p + f->b2, p + f->c, p + f->L, H, FIRE_WIDTH, side);
}

static const pos_ops fire_ops = {
    .create = fire_create,
    .destroy = fire_destroy,
    .declare_attention = fire_declare,
    .bias_forward = fire_bias,
    .bias_backward = fire_bias_backward,
    .bias_decode = fire_decode,
};

const pos_scheme pos_fire = {
    .name = "fire",
    .summary = "a learned relative attention bias, an MLP of the log distance (Li et al.)",
    .ids = POSIDS_COLUMNS,
    .check = fire_check,
    .ops = &fire_ops,
};
