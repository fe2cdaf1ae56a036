/* models: sequence models behind one interface. A model is created from a config, owns its
 * parameter table (one buffer for parameters, one for gradients), computes forward + loss on a
 * batch, backward into the gradient buffer, and generates answers greedily with a cache (or,
 * through the incremental decode ops, by beam search). Models know nothing of tasks; they see ids, positions and targets.
 *
 * Families: the decoder-only transformer (seed 001), the LSTM language model (seed 000; with a
 * regression head it is seed 004's counter) and the bidirectional LSTM encoder-decoder
 * (seed 002), and GPT-2 (seed 003), which is the transformer with Hugging Face's layout. */
#ifndef ARITH_MODEL_H
#define ARITH_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "data/data.h"
#include "io/io.h"
#include "nn/nn.h" /* the layers and the backend's ops (argmax_row, tensor_*) */

/* Model families and positional schemes are registries: a kind is an index into one (the
 * order of --model's and --pos's choices), and what differs between kinds is in the entry
 * (model_family_at, pos_scheme_at), never in a switch. Adding one is a file and a line in the
 * registry (models/families.c, models/positions/registry.c). Index 0 is the transformer, and
 * the positional scheme none, so a zeroed config names them. */
typedef int model_kind;
typedef int pos_kind;
/* lm: next-token logits and cross-entropy; regression: one number per row, read at the last
 * prompt column, squared error (seed 004). */
typedef enum { HEAD_LM = 0, HEAD_REGRESSION } head_kind;
/* What the regression head reads at the last prompt column: the top LSTM layer's output h, or
 * its cell state c (linear in what the cell adds up: a counter's count, unsaturated). */
typedef enum { READOUT_HIDDEN = 0, READOUT_CELL } readout_kind;
/* How recurrent models read tokens: a learned embedding of d_model, or one-hot vectors. */
typedef enum { INPUT_EMBED = 0, INPUT_ONEHOT } input_kind;
typedef enum { NORM_POST = 0, NORM_PRE } norm_kind;
typedef enum { ACT_RELU = 0, ACT_GELU, ACT_GELU_TANH } act_kind;

typedef struct {
    model_kind kind;  /* the family */
    int vocab;        /* set from the tokenizer */
    int d_model;
    int heads;
    int ffn;          /* feed-forward width */
    int layers;
    int context;      /* longest sequence (prompt + answer) the model accepts */
    float dropout;
    norm_kind norm;   /* post: x = LN(x + f(x)) as seed 001 (torch's default); pre: x + f(LN(x)) */
    act_kind act;
    pos_kind pos;     /* the positional scheme */
    int pos_max;      /* rows of the position tables: position ids are < pos_max (0: context) */
    /* gpt2: true = one token matrix wte.weight for input and output (GPT-2's tied head);
     * false = seed 003's new layers, in_layer.weight (embedding) and out_layer (linear) */
    bool tie;
    /* recurrent models */
    int hidden;       /* LSTM hidden size */
    head_kind head;
    input_kind input;
    int answer_len;   /* seq2seq: answer positions the decoder emits (answer + EOS) */
    readout_kind readout; /* regression head: h or c of the top layer */
    /* LSTM: the forget gates' bias at initialization (b_ih's forget slice, b_hh's 0), so that
     * f = sigmoid(forget_bias) starts near 1; 0: PyTorch's init like every other bias */
    float forget_bias;
} model_config;

typedef struct model model;

/* ------------------------------------------------------------------------ model families */

/* One family (transformer, lstm, seq2seq, gpt2): its name, what it is, and what the rest of
 * arith asks of it. Entries live in the families' own files. */
typedef struct {
    const char *name;        /* --model NAME */
    const char *summary;     /* one line for --help */
    bool context_limited;    /* sequences are bounded by cfg.context (positions, key/value
                                cache); false: any length */
    bool token_by_token;     /* generates one token at a time (the decode ops); false: every
                                answer position at once, so answers have one fixed width */
    bool takes_positions;    /* --pos chooses its positional scheme */
    bool regression_head;    /* takes --head regression */
    bool loads_pretrained;   /* --init starts it from GPT-2 weights */
    bool cell_readout;       /* its regression head may read the cell state (--readout cell) */
    bool forget_bias;        /* takes --forget-bias (its LSTM forget gates' initial bias) */
    /* Sets what the family decides itself in a run built from flags (gpt2: pre-LN, GELU-tanh,
     * its own learned positions over the context, new input and output layers); NULL: none. */
    void (*fix_choices)(model_config *cfg);
    /* Sizes and choices (heads divide d_model, the scheme's own checks, ...); errors name the
     * flags. */
    arith_status (*check)(const model_config *cfg);
    /* A model with its parameters declared (each with its init) and allocated. */
    arith_status (*create)(model **out, const model_config *cfg);
    /* Comma-separated name patterns of parameters that train whatever --train says (gpt2's new
     * in_layer and out_layer), or NULL; NULL op: none. */
    const char *(*always_trained)(const model_config *cfg);
    /* The model's shape in words, for run headers ("2 layers, d_model 32, 4 heads, ..."). */
    void (*describe)(const model_config *cfg, char *out, size_t cap);
} model_family;

/* The family of kind k, NULL past the last (families.c). */
const model_family *model_family_at(model_kind k);
/* "a", "a or b", "a, b or c": the names of the families with a property (for messages). */
void model_kinds_text(char *out, size_t cap, bool (*has)(const model_family *f));

/* --------------------------------------------------------------------- positional schemes */

/* The transformer's calls into a scheme (models/positions/positions.h). */
typedef struct pos_ops pos_ops;

/* One positional scheme (none, sinusoidal, learned, rope, alibi, fire, abacus, coupling,
 * coupling-rel): its name, what it asks of the data and of the other flags, and the ops the
 * transformer calls. Entries live in models/positions/, one file each. */
typedef struct {
    const char *name;        /* --pos NAME */
    const char *summary;     /* one line for --help */
    /* The position ids the data gives each token (batch.pos): columns (0, 1, 2, ... from each
     * row's start), or the tokenizer's digit indices (abacus) or significances (coupling). */
    posids_kind ids;
    /* --pos-max's default when the data gives the ids (ids other than columns, or --rand-pos) */
    int data_pos_max;
    bool rand_pos;           /* --rand-pos may draw its ids (Ruoss et al.) */
    /* The ids mean what they are (coupling-anchor: ids 1..3 are the operands' lowest digits),
     * so training never offsets them: --pos-offset is 0 and anything else is refused. */
    bool fixed_ids;
    /* A family that takes no positional scheme (recurrent models; gpt2, whose own is learned)
     * ignores --pos (whose default is rope) when this is true; false when the scheme changes
     * what the run is (the data's ids, attention biases), so that such a family refuses it. */
    bool ignorable;
    /* The sizes it needs (RoPE: an even head size); errors name the flags. NULL: none. */
    arith_status (*check)(const model_config *cfg);
    const pos_ops *ops;
} pos_scheme;

/* The scheme of kind k, NULL past the last (positions/registry.c). */
const pos_scheme *pos_scheme_at(pos_kind k);
/* "a", "a and b", "a, b and c" (conj "and") or with "or": the names of the schemes with a
 * property (for messages). */
void pos_kinds_text(char *out, size_t cap, bool (*has)(const pos_scheme *s), const char *conj);

/* ------------------------------------------------------------------ names of the choices */

arith_status model_kind_parse(model_kind *out, const char *name);
arith_status norm_kind_parse(norm_kind *out, const char *name);
arith_status act_kind_parse(act_kind *out, const char *name);
arith_status pos_kind_parse(pos_kind *out, const char *name);
arith_status head_kind_parse(head_kind *out, const char *name);
arith_status input_kind_parse(input_kind *out, const char *name);
arith_status readout_kind_parse(readout_kind *out, const char *name);
/* The name of a kind, NULL past the last (so they list an option's choices). */
const char *model_kind_name(model_kind k);
const char *norm_kind_name(norm_kind k);
const char *act_kind_name(act_kind k);
const char *pos_kind_name(pos_kind k);
const char *head_kind_name(head_kind k);
const char *input_kind_name(input_kind k);
const char *readout_kind_name(readout_kind k);
/* The registries' one-line summaries, NULL past the last. */
const char *model_kind_summary(model_kind k);
const char *pos_kind_summary(pos_kind k);
/* Checks sizes and choices (the family's check, with its scheme's); errors name the flag. */
arith_status model_config_check(const model_config *cfg);


/* One layer's hidden states from the last forward (model_ops.hidden): the vector of row b at
 * column t is data + b * b_stride + (t - t_first) * t_stride, dim floats, for the columns
 * t_first <= t < t_first + t_count of the batch (every column for the transformers and the
 * LSTM; seq2seq's decoder only at the answer's columns). Strides let a family hand out its
 * buffers as it keeps them (the LSTM's are time-major) instead of copying them. */
typedef struct {
    const float *data;
    int dim;
    int t_first, t_count;
    size_t b_stride, t_stride;
} hidden_view;

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

    /* Incremental decoding, for models that generate one token at a time (NULL in seq2seq,
     * which emits every answer position at once). A decoding holds B rows, each with its own
     * state (the transformer's key/value cache, the LSTM's (h, c) of every layer).
     * decode_begin runs the left-padded prompt batch (prefill) and points *logits at the (B, V)
     * logits of each row's next token; decode_next feeds one token per row (tokens: B ids) and
     * points *logits at the next (B, V) logits; decode_reorder makes row r's state a copy of
     * row src[r]'s as it was before the call (src: B indices in [0, B), repeats and
     * permutations allowed). The logits stay valid until the next call on the model; a
     * forward, backward or generate in between ends the decoding. Errors: a regression head
     * (no tokens), a sequence that outgrows the transformer's context. */
    arith_status (*decode_begin)(model *m, const batch *prompts, const float **logits);
    arith_status (*decode_next)(model *m, const int32_t *tokens, const float **logits);
    void (*decode_reorder)(model *m, const int32_t *src);
    /* Sets, after the random draws, what a family initializes otherwise (the LSTM's
     * --forget-bias on a slice of a bias); NULL: nothing. */
    void (*init_after_draws)(model *m);
    /* The attention probabilities of the last forward's layer `layer`, (B, H, T, T) for its
     * batch (row b, head h, query t, key j at ((b * H + h) * T + t) * T + j), with *heads = H;
     * NULL: no attention in the family (LSTMs), or no such layer. */
    const float *(*attention)(const model *m, int layer, int *heads);
    /* The hidden states of the last forward (eval or train) at `layer`, 0..cfg.layers: 0 is the
     * input of the first layer (the transformers: token embeddings with their positions; the
     * LSTM: embeddings or one-hot vectors; seq2seq: the encoder's summary z repeated at every
     * answer position), l the output of layer l (the transformers: the residual stream after
     * block l, the last one before the final layer norm; the LSTMs: that layer's h, seq2seq's
     * decoder layers [forward | backward]). They point into the buffers the forward keeps
     * (nothing is copied) and stay valid until the next call on the model. Returns false when
     * there is no such layer or no forward yet; NULL op: the family exposes none. */
    bool (*hidden)(const model *m, int layer, hidden_view *out);
} model_ops;

struct model {
    const model_ops *ops;
    model_config cfg;
    param_table params;
    const float *logits;   /* (B*T, vocab) of the last forward, row b*T + t (lm heads) */
    const float *values;   /* (B) predictions of the last forward (regression head) */
    void *impl;
};

/* Creates a model of cfg's family, its parameters declared in the table and allocated: zero,
 * but for those with a fixed init (layer norms as the identity, FIRE's c and L). */
arith_status model_create(model **out, const model_config *cfg);
/* Initializes every parameter by the init it was declared with, drawing from the RNG in the
 * table's order, then what the family sets after the draws (init_after_draws). */
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

/* Whether m's sequences are bounded by cfg.context (the transformers: their positions and
 * cache); recurrent models read any length. */
static inline bool model_has_context_limit(const model *m)
{
    const model_family *f = model_family_at(m->cfg.kind);
    return f && f->context_limited;
}

/* Whether m can decode incrementally (and so run beam search): an lm head and decode ops. */
static inline bool model_can_decode(const model *m)
{
    return m->ops->decode_begin && m->cfg.head == HEAD_LM;
}
/* The decode ops with a clear error for a model that has none (beam.c). */
arith_status model_decode_begin(model *m, const batch *prompts, const float **logits);
arith_status model_decode_next(model *m, const int32_t *tokens, const float **logits);
void model_decode_reorder(model *m, const int32_t *src);

/* Greedy generation over the decode ops (beam.c), as model_generate specifies it: the argmax
 * token of every row at each step, a row stopping at eos (later columns eos). The families'
 * generate is this, after their own checks. */
arith_status model_decode_greedy(model *m, const batch *prompts, int max_new, int32_t eos,
                                 int32_t *out);

/* Beam search over the decode ops (beam.c). prompts: a prompt-only batch of B rows
 * (left-padded); K >= 1 beams per prompt. Writes K hypotheses per prompt, best first: those of
 * prompt b in rows b*K .. b*K+K-1 of out (B*K, max_new), each up to and including its EOS and
 * EOS-filled after it (a hypothesis that never reached EOS fills its row), and their summed
 * log-probabilities (EOS included) in scores (B*K). Each step keeps, per prompt, the K best of
 * (live beams x vocabulary) by summed log-softmax (double precision); a beam that emitted EOS
 * keeps its score and stays one candidate; the search stops when every beam has ended or after
 * max_new tokens. The first step starts from one beam per prompt, so hypotheses are distinct;
 * when fewer than K exist (a vocabulary smaller than K), the rest hold EOS with score -inf.
 * K = 1 gives exactly the greedy answer of model_generate. Needs decode ops (an error names
 * the model otherwise); reserves the workspace for B*K rows. */
arith_status model_beam_search(model *m, const batch *prompts, int K, int max_new, int32_t eos,
                               int32_t *out, float *scores);

/* For the families' decode_reorder (model.c): carries out "row r becomes a copy of row
 * src[r]" (r < B) on state kept in rows, in place, by copies move(ctx, dst, from, false) and
 * swaps move(ctx, a, b, true) of whole rows, in an order in which every copy reads its source
 * before the source changes (repeats, permutations and cycles of src included). Rows with
 * src[r] == r are left alone. work: 2B int32. */
typedef void (*row_move_fn)(void *ctx, int dst, int from, bool swap);
void model_rows_reorder(int B, const int32_t *src, int32_t *work, row_move_fn move, void *ctx);

/* The transformer (transformer.c); gpt2 lays it out as GPT-2 does (Hugging Face's names,
 * Conv1D (in, out) block weights, unscaled token embeddings, GPT-2's initialization). */
arith_status transformer_create(model **out, const model_config *cfg, bool gpt2);
/* The bytes of attention probabilities a transformer's prefill may hold at once (0: the
 * default, 256 MB); longer prompts are prefilled a chunk of rows at a time, with the same
 * results. Returns the budget before. For tests: it applies to every transformer. */
size_t transformer_prefill_budget(size_t bytes);
/* The checks every transformer's config passes (sizes, the lm head, the positional scheme's
 * own checks). */
arith_status transformer_config_check(const model_config *cfg);
/* GPT-2 weights as Hugging Face distributes them (gpt2.c). */
typedef struct {
    st_file file;           /* the whole checkpoint */
    const char *prefix;     /* "" or "transformer." (GPT2LMHeadModel's names) */
    int d_model, layers, ffn, context, heads;
    int vocab;              /* rows of wte (50257 for the released models), 0 if absent */
} gpt2_pretrained;
/* Reads a GPT-2 model.safetensors: sizes from the shapes (d_model and context from wpe, layers
 * from h.N, ffn from c_fc), heads from Hugging Face's config.json beside the file (or
 * PATH-stem.json), else d_model / 64 as in every released GPT-2. A tensor whose name is not
 * GPT-2's is an error naming it; causal-mask buffers (h.N.attn.bias) are skipped. */
arith_status gpt2_pretrained_read(gpt2_pretrained *g, const char *path);
/* Copies every parameter of a gpt2 model built with those sizes from the file, except seed
 * 003's new in_layer / out_layer; a missing tensor or another shape is an error naming it. */
arith_status gpt2_pretrained_load(model *m, const gpt2_pretrained *g);
void gpt2_pretrained_free(gpt2_pretrained *g);

/* The LSTM language model and regressor (lstm.c). */
arith_status lstm_model_create(model **out, const model_config *cfg);
/* The bidirectional LSTM encoder-decoder (seq2seq.c). */
arith_status seq2seq_create(model **out, const model_config *cfg);
/* Shared by the families (model.c): declares a parameter of shape (d0) or (d0, d1) with its
 * init, and returns its offset in the table. */
arith_status model_declare(param_table *pt, size_t *off, const char *name, int ndim, int64_t d0,
                           int64_t d1, param_init init);
/* The gradient of the parameter at offset off, or NULL when it is frozen (so that a frozen
 * weight costs no weight-gradient product). */
float *model_grad_trainable(const param_table *pt, size_t off);

#endif
