/* positions: the transformer's positional schemes, one file each, listed in registry.c. A
 * scheme's entry (model.h's pos_scheme) gives its name, summary, what it asks of the data and
 * of the other flags, and its checks; its ops (below) are what the transformer calls, at fixed
 * places: declaring parameters, adding to the token embeddings, rotating queries and keys,
 * biasing attention scores, in training and in decoding alike. A scheme owns its state
 * (constant tables, its parameters' offsets, scratch); an op it has no use for is NULL, and
 * the transformer then skips that step.
 *
 * Adding a scheme: a file here that defines `const pos_scheme pos_NAME` and its ops, a line in
 * registry.c, and its tests (tests/test_transformer.c: gradients, cached decoding). */
#ifndef ARITH_POSITIONS_H
#define ARITH_POSITIONS_H

#include "models/model.h"
#include "nn/nn.h"

/* The model a scheme's state is made for. */
typedef struct {
    int layers, d_model, heads;
    int pos_max;             /* ids are < pos_max: the tables' rows */
    const char *table_name;  /* the model's name for a learned table of positions
                                ("pos_emb.weight"; gpt2: "wpe.weight") */
} pos_dims;

struct pos_ops {
    /* The state for a model of these sizes, with its constant tables computed (*state may
     * stay NULL); destroy frees it. */
    arith_status (*create)(void **state, const pos_dims *d);
    void (*destroy)(void *state);
    /* Declares parameters, each with its init: beside the token embedding (a learned table),
     * and every layer's parameters of attention after the model's own (FIRE's MLP). */
    arith_status (*declare_embedding)(void *state, param_table *pt);
    arith_status (*declare_attention)(void *state, param_table *pt);

    /* Absolute positions: x(N, C) += the vectors of ids pos(N); the backward adds the
     * gradient of those vectors, given dx(N, C), into pt->grad (trainable views only). */
    void (*embed_forward)(const void *state, const param_table *pt, float *x,
                          const int32_t *pos, int N);
    void (*embed_backward)(const void *state, const param_table *pt, const float *dx,
                           const int32_t *pos, int N);

    /* Rotary positions: q and k of qkv(N, 3C) rotated in place by the angles of ids pos(N);
     * the backward rotates their gradients in dqkv(N, 3C) back. */
    void (*rotate_forward)(const void *state, float *qkv, const int32_t *pos, int N);
    void (*rotate_backward)(const void *state, float *dqkv, const int32_t *pos, int N);

    /* Relative positions: layer l's bias on the attention scores of a batch with ids pos
     * (N = B*T), written to *bias; returns bias, or NULL for no bias. */
    const attn_bias *(*bias_forward)(void *state, const param_table *pt, int layer,
                                     attn_bias *bias, const int32_t *pos, int N);
    /* After attention_backward of layer l: the bias's gradient, given the attention's output
     * gradient dout(B, T, C), its qkv and probabilities att of the forward, into pt->grad
     * (trainable views only). */
    void (*bias_backward)(void *state, const param_table *pt, int layer, const float *dout,
                          const float *qkv, const float *att, const int32_t *start,
                          const int32_t *pos, int B, int T);
    /* A decoding step: row r's query, at column col, has id qpos[r]; its keys, the cached
     * columns j <= col, have ids kpos[r * kpos_stride + j], the data's (columns from start[r]
     * when the scheme's ids are columns: max(j - start[r], 0), which a scheme may keep as
     * attn_bias.kpos NULL). */
    const attn_bias *(*bias_decode)(void *state, const param_table *pt, int layer,
                                    attn_bias *bias, const int32_t *qpos, const int32_t *kpos,
                                    int kpos_stride, const int32_t *start, int B, int col);
};

/* A learned table of position vectors added to the token embeddings (table.c), read at the
 * data's ids: learned, abacus and coupling differ only in the ids and in the init's scale. */
arith_status pos_table_create(void **state, const pos_dims *d, float init_std);
void pos_table_destroy(void *state);
arith_status pos_table_declare(void *state, param_table *pt);
void pos_table_forward(const void *state, const param_table *pt, float *x, const int32_t *pos,
                       int N);
void pos_table_backward(const void *state, const param_table *pt, const float *dx,
                        const int32_t *pos, int N);

#endif
