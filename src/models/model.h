/* models: sequence models behind one interface. A model is created from a config, owns its
 * parameter table (one buffer for parameters, one for gradients), computes forward + loss on a
 * batch, backward into the gradient buffer, and generates answers greedily with a cache.
 * Models know nothing of tasks; they see ids, positions and targets.
 *
 * Families: the decoder-only transformer (seed 001), the LSTM language model (seed 000; with a
 * regression head it is seed 004's counter) and the bidirectional LSTM encoder-decoder
 * (seed 002). */
#ifndef ARITH_MODEL_H
#define ARITH_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "data/data.h"

typedef enum { MODEL_TRANSFORMER = 0, MODEL_LSTM, MODEL_SEQ2SEQ } model_kind;
/* lm: next-token logits and cross-entropy; regression: one number per row, read at the last
 * prompt column, squared error (seed 004). */
typedef enum { HEAD_LM = 0, HEAD_REGRESSION } head_kind;
/* How recurrent models read tokens: a learned embedding of d_model, or one-hot vectors. */
typedef enum { INPUT_EMBED = 0, INPUT_ONEHOT } input_kind;
typedef enum { NORM_POST = 0, NORM_PRE } norm_kind;
typedef enum { ACT_RELU = 0, ACT_GELU } act_kind;
typedef enum { POS_NONE = 0, POS_SINUSOIDAL, POS_LEARNED, POS_ROPE } pos_kind;

typedef struct {
    model_kind kind;
    int vocab;        /* set from the tokenizer */
    int d_model;
    int heads;
    int ffn;          /* feed-forward width */
    int layers;
    int context;      /* longest sequence (prompt + answer) the model accepts */
    float dropout;
    norm_kind norm;   /* post: x = LN(x + f(x)) as seed 001 (torch's default); pre: x + f(LN(x)) */
    act_kind act;
    pos_kind pos;
    /* recurrent models */
    int hidden;       /* LSTM hidden size */
    head_kind head;
    input_kind input;
    int answer_len;   /* seq2seq: answer positions the decoder emits (answer + EOS) */
} model_config;

arith_status model_kind_parse(model_kind *out, const char *name);
arith_status norm_kind_parse(norm_kind *out, const char *name);
arith_status act_kind_parse(act_kind *out, const char *name);
arith_status pos_kind_parse(pos_kind *out, const char *name);
arith_status head_kind_parse(head_kind *out, const char *name);
arith_status input_kind_parse(input_kind *out, const char *name);
const char *model_kind_name(model_kind k);
const char *norm_kind_name(norm_kind k);
const char *act_kind_name(act_kind k);
const char *pos_kind_name(pos_kind k);
const char *head_kind_name(head_kind k);
const char *input_kind_name(input_kind k);
/* Checks sizes (heads divide d_model, even head size for RoPE, ...); errors name the flag. */
arith_status model_config_check(const model_config *cfg);

typedef struct model model;

typedef struct {
    const char *name;
    /* Forward pass and summed cross-entropy over targets >= 0 (regression head: summed squared
     * error over rows, count = rows); train = dropout on, with masks from dropout_seed. Saves
     * what the backward needs. */
    arith_status (*forward)(model *m, const batch *b, bool train, uint64_t dropout_seed,
                            double *loss_sum, int *count);
    /* Backward of the last forward (mean loss over its counted targets); adds into
     * m->params.grad. */
    void (*backward)(model *m);
    /* Greedy generation: prompts is a prompt-only batch (left-padded); writes up to max_new
     * ids per row into out (B, max_new), stopping a row at eos (later columns get eos). */
    arith_status (*generate)(model *m, const batch *prompts, int max_new, int32_t eos,
                             int32_t *out);
    /* Makes the workspace fit batches of B x T (forward/backward) and generation of B rows;
     * call outside hot loops. */
    arith_status (*reserve)(model *m, int B, int T);
    void (*destroy)(model *m);
} model_ops;

struct model {
    const model_ops *ops;
    model_config cfg;
    param_table params;
    const float *logits;   /* (B*T, vocab) of the last forward, row b*T + t (lm heads) */
    const float *values;   /* (B) predictions of the last forward (regression head) */
    void *impl;
};

/* Creates a model with zeroed parameters (declared in the table, allocated). */
arith_status model_create(model **out, const model_config *cfg);
/* Initializes parameters from the RNG (each model's own scheme). */
void model_init_weights(model *m, rng_state *rng);
void model_free(model *m);

static inline arith_status model_forward(model *m, const batch *b, bool train, uint64_t seed,
                                         double *loss_sum, int *count)
{
    return m->ops->forward(m, b, train, seed, loss_sum, count);
}
static inline void model_backward(model *m)
{
    m->ops->backward(m);
}
static inline arith_status model_generate(model *m, const batch *prompts, int max_new, int32_t eos,
                                          int32_t *out)
{
    return m->ops->generate(m, prompts, max_new, eos, out);
}
static inline arith_status model_reserve(model *m, int B, int T)
{
    return m->ops->reserve(m, B, T);
}

/* The transformer (transformer.c). */
arith_status transformer_create(model **out, const model_config *cfg);
void transformer_init_weights(model *m, rng_state *rng);
/* The LSTM language model and regressor (lstm.c). */
arith_status lstm_model_create(model **out, const model_config *cfg);
/* The bidirectional LSTM encoder-decoder (seq2seq.c). */
arith_status seq2seq_create(model **out, const model_config *cfg);
/* PyTorch's LSTM initialization, U(-1/sqrt(hidden), 1/sqrt(hidden)) for every parameter, and
 * N(0, 1) for embeddings (nn.Embedding's default); used by both recurrent families. */
void recurrent_init_weights(model *m, rng_state *rng);

/* Shared by the families (model.c): declares a parameter of shape (d0) or (d0, d1) and
 * returns its offset in the table. */
arith_status model_declare(param_table *pt, size_t *off, const char *name, int ndim, int64_t d0,
                           int64_t d1);
/* Index of the largest of n values (the first on ties). */
int32_t argmax_row(const float *x, int n);

#endif
