/* RoPE (Su et al.): every head's queries and keys rotated by their position's angles
 * (rotate-half pairing, base 10000), so that scores depend on relative positions. */
#include <stdlib.h>

#include "models/positions/positions.h"

typedef struct {
    int C, H;
    float *cos_tab, *sin_tab; /* (pos_max, hd/2) */
} rope_state;

static arith_status rope_check(const model_config *cfg)
{
    if ((cfg->d_model / cfg->heads) % 2 != 0)
        return arith_error(ARITH_ERR_ARG,
                           "--pos rope needs an even head size (d_model/heads = %d)",
                           cfg->d_model / cfg->heads);
    return ARITH_OK;
}

static void rope_destroy(void *state)
{
    rope_state *s = state;
    if (s) {
        tensor_free(s->cos_tab);
        tensor_free(s->sin_tab);
    }
    free(s);
}

static arith_status rope_create(void **state, const pos_dims *d)
{
    const int hd = d->d_model / d->heads;
    const size_t n = (size_t)d->pos_max * (hd / 2);
    rope_state *s = calloc(1, sizeof *s);
    if (s) {
        s->cos_tab = tensor_alloc(n * sizeof(float));
        s->sin_tab = tensor_alloc(n * sizeof(float));
    }
    if (!s || !s->cos_tab || !s->sin_tab) {
        rope_destroy(s);
        return arith_error(ARITH_ERR_MEMORY, "out of memory for RoPE's tables of %d positions",
                           d->pos_max);
    }
    s->C = d->d_model;
    s->H = d->heads;
    rope_tables(s->cos_tab, s->sin_tab, d->pos_max, hd, 10000.0f);
    *state = s;
    return ARITH_OK;
}

static void rope_rotate_forward(const void *state, float *qkv, const int32_t *pos, int N)
{
    const rope_state *s = state;
    rope_forward(qkv, pos, s->cos_tab, s->sin_tab, N, s->C, s->H);
}

static void rope_rotate_backward(const void *state, float *dqkv, const int32_t *pos, int N)
{
    const rope_state *s = state;
    rope_backward(dqkv, pos, s->cos_tab, s->sin_tab, N, s->C, s->H);
}

static const pos_ops rope_ops = {
    .create = rope_create,
    .destroy = rope_destroy,
    .rotate_forward = rope_rotate_forward,
    .rotate_backward = rope_rotate_backward,
};

const pos_scheme pos_rope = {
    .name = "rope",
    .summary = "rotary: queries and keys rotated by their positions' angles (Su et al.)",
    .ids = POSIDS_COLUMNS,
    .data_pos_max = 256,
    .rand_pos = true,
    .ignorable = true,
    .check = rope_check,
    .ops = &rope_ops,
};
