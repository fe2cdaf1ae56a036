/* Learned absolute positions: a table row per column, added to the token embeddings
 * (GPT-2's wpe). Its rows start N(0, 0.02), as GPT-2's do. */
#include "models/positions/positions.h"

static arith_status learned_create(void **state, const pos_dims *d)
{
    return pos_table_create(state, d, 0.02f);
}

static const pos_ops learned_ops = {
    .create = learned_create,
    .destroy = pos_table_destroy,
    .declare_embedding = pos_table_declare,
    .embed_forward = pos_table_forward,
    .embed_backward = pos_table_backward,
};

const pos_scheme pos_learned = {
    .name = "learned",
    .summary = "a learned vector per position added to the token embeddings",
    .ids = POSIDS_COLUMNS,
    .data_pos_max = 256,
    .rand_pos = true,
    .ignorable = true,
    .ops = &learned_ops,
};
