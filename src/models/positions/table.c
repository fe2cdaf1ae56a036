/* A learned table of position vectors, (pos_max, d_model), added to the token embeddings at
 * the data's ids: the ops shared by learned (ids are columns), abacus and coupling (ids are
 * the tokenizer's), which differ only in the ids and in the init's scale. */
#include <stdlib.h>

#include "models/positions/positions.h"

typedef struct {
    int C, rows;
    float init_std;          /* N(0, init_std^2) */
    const char *name;
    size_t table;            /* offset of the (rows, C) table */
} table_state;

arith_status pos_table_create(void **state, const pos_dims *d, float init_std)
{
    table_state *s = calloc(1, sizeof *s);
    if (!s)
        return arith_error(ARITH_ERR_MEMORY, "out of memory creating a position table");
    *s = (table_state){d->d_model, d->pos_max, init_std, d->table_name, 0};
    *state = s;
    return ARITH_OK;
}

void pos_table_destroy(void *state)
{
    free(state);
}

arith_status pos_table_declare(void *state, param_table *pt)
{
    table_state *s = state;
    return model_declare(pt, &s->table, s->name, 2, s->rows, s->C,
                         param_init_normal(s->init_std));
}

void pos_table_forward(const void *state, const param_table *pt, float *x, const int32_t *pos,
                       int N)
{
    const table_state *s = state;
    positional_add_forward(x, pt->data + s->table, pos, N, s->C);
}

void pos_table_backward(const void *state, const param_table *pt, const float *dx,
                        const int32_t *pos, int N)
{
    const table_state *s = state;
    positional_add_backward(model_grad_trainable(pt, s->table), dx, pos, N, s->C);
}
