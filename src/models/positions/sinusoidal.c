/* Sinusoidal positions (Vaswani et al., as seed 001 builds them): a constant table of sines
 * and cosines, (pos_max, d_model), added to the token embeddings. */
#include <stdlib.h>

#include "models/positions/positions.h"

typedef struct {
    int C;
    float *table;            /* (pos_max, C) */
} sinusoidal_state;

static arith_status sinusoidal_check(const model_config *cfg)
{
    if (cfg->d_model % 2 != 0)
        return arith_error(ARITH_ERR_ARG, "--pos sinusoidal needs an even --d-model (got %d)",
                           cfg->d_model);
    return ARITH_OK;
}

static void sinusoidal_destroy(void *state)
{
    sinusoidal_state *s = state;
    if (s)
        tensor_free(s->table);
    free(s);
}

static arith_status sinusoidal_create(void **state, const pos_dims *d)
{
    sinusoidal_state *s = calloc(1, sizeof *s);
    if (s)
        s->table = tensor_alloc((size_t)d->pos_max * d->d_model * sizeof(float));
    if (!s || !s->table) {
        sinusoidal_destroy(s);
        return arith_error(ARITH_ERR_MEMORY, "out of memory for a sinusoidal table of %d "
                           "positions", d->pos_max);
    }
    s->C = d->d_model;
    sinusoidal_table(s->table, d->pos_max, s->C);
    *state = s;
    return ARITH_OK;
}

static void sinusoidal_forward(const void *state, const param_table *pt, float *x,
                               const int32_t *pos, int N)
{
    const sinusoidal_state *s = state;
    positional_add_forward(x, s->table, pos, N, s->C);
}

static const pos_ops sinusoidal_ops = {
    .create = sinusoidal_create,
    .destroy = sinusoidal_destroy,
    .embed_forward = sinusoidal_forward,
};

const pos_scheme pos_sinusoidal = {
    .name = "sinusoidal",
    .summary = "fixed sines and cosines added to the token embeddings (Vaswani et al.)",
    .ids = POSIDS_COLUMNS,
    .data_pos_max = 256,
    .rand_pos = true,
    .ignorable = true,
    .check = sinusoidal_check,
    .ops = &sinusoidal_ops,
};
