/* ALiBi (Press et al. 2022): fixed linear biases on the attention scores, -m_h |i - j| for
 * query id i and key id j, head h's slope m_h = 2^(-8(h+1)/H) (get_slopes for other H), as a
 * constant table over pairs of ids (nn.h's attn_bias). */
#include <stdlib.h>

#include "models/positions/positions.h"

typedef struct {
    int pos_max;
    float *table;            /* (H, pos_max, pos_max) */
} alibi_state;

static void alibi_destroy(void *state)
{
    alibi_state *s = state;
    if (s)
        tensor_free(s->table);
    free(s);
}

static arith_status alibi_create(void **state, const pos_dims *d)
{
    const int H = d->heads;
    alibi_state *s = calloc(1, sizeof *s);
    float *slopes = malloc((size_t)H * sizeof(float));
    if (s)
        s->table = tensor_alloc((size_t)H * d->pos_max * d->pos_max * sizeof(float));
    if (!s || !s->table || !slopes) {
        alibi_destroy(s);
        free(slopes);
        return arith_error(ARITH_ERR_MEMORY, "out of memory for ALiBi's table of %d positions",
                           d->pos_max);
    }
    s->pos_max = d->pos_max;
    alibi_slopes(slopes, H);
    alibi_table(s->table, slopes, H, s->pos_max);
    free(slopes);
    *state = s;
    return ARITH_OK;
}

static const attn_bias *alibi_bias(void *state, const param_table *pt, int layer,
                                   attn_bias *bias, const int32_t *pos, int N)
{
    const alibi_state *s = state;
    *bias = (attn_bias){s->table, s->pos_max, pos, NULL, 0};
    return bias;
}

static const attn_bias *alibi_decode(void *state, const param_table *pt, int layer,
                                     attn_bias *bias, const int32_t *qpos, const int32_t *kpos,
                                     int kpos_stride, const int32_t *start, int B, int col)
{
    const alibi_state *s = state;
    *bias = (attn_bias){s->table, s->pos_max, qpos, NULL, 0};
    return bias;
}

static const pos_ops alibi_ops = {
    .create = alibi_create,
    .destroy = alibi_destroy,
    .bias_forward = alibi_bias,
    .bias_decode = alibi_decode,
};

const pos_scheme pos_alibi = {
    .name = "alibi",
    .summary = "fixed attention biases linear in the distance, -m_h |i - j| (Press et al.)",
    .ids = POSIDS_COLUMNS,
    .ops = &alibi_ops,
};
