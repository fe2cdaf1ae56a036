/* Position coupling (Cho et al. 2024): a learned table read at each digit's significance (the
 * tokenizer's; answer columns that of the digit they predict; 0 for other tokens), so that
 * digits of equal significance share a position. */
#include "models/positions/positions.h"

/* N(0, 1) rows, as abacus.c explains. */
static arith_status coupling_create(void **state, const pos_dims *d)
{
    return pos_table_create(state, d, 1.0f);
}

static const pos_ops coupling_ops = {
    .create = coupling_create,
    .destroy = pos_table_destroy,
    .declare_embedding = pos_table_declare,
    .embed_forward = pos_table_forward,
    .embed_backward = pos_table_backward,
};

const pos_scheme pos_coupling = {
    .name = "coupling",
    .summary = "a learned vector per digit's significance, shared by equal ones (Cho et al.)",
    .ids = POSIDS_COUPLING,
    .data_pos_max = 256,
    .ops = &coupling_ops,
};
