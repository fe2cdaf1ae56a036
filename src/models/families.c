/* The model families, one line each: --model's choices in this order (a kind is an index
 * here, and 0, the transformer, is what a zeroed config names). Each entry lives in its
 * family's own file; adding a family is that file and a line here. */
#include "models/model.h"

#define MODEL_FAMILIES(X)                                                                      \
    X(model_family_transformer) /* transformer.c */                                            \
    X(model_family_lstm)        /* recurrent.c */                                              \
    X(model_family_seq2seq)     /* recurrent.c */                                              \
    X(model_family_gpt2)        /* gpt2.c */

#define DECLARE(entry) extern const model_family entry;
#define ADDRESS(entry) &entry,
MODEL_FAMILIES(DECLARE)
static const model_family *const families[] = {MODEL_FAMILIES(ADDRESS)};

const model_family *model_family_at(model_kind k)
{
    return k >= 0 && k < (model_kind)(sizeof families / sizeof *families) ? families[k] : NULL;
}
