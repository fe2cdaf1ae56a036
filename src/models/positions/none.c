/* No positions (NoPE): the causal mask alone tells the transformer about order. */
#include "models/positions/positions.h"

static const pos_ops none_ops = {0};

const pos_scheme pos_none = {
    .name = "none",
    .summary = "no positions (NoPE): the causal mask alone gives the order",
    .ids = POSIDS_COLUMNS,
    .ignorable = true,
    .ops = &none_ops,
};
