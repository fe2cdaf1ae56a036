/* train: option tables and their one parser (flags, config files, checkpoint metadata,
 * --help), the typed run config, sessions (data + tokenizer + model from a config), optimizers
 * and schedules, the training loop, evaluation and grids, checkpoints and plots.
 * Nothing here prints: progress, samples and results go to the caller through callbacks. */
#ifndef ARITH_TRAIN_H
#define ARITH_TRAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"
#include "data/data.h"
#include "models/model.h"

#define TRAIN_PATH_MAX 1024

/* -------------------------------------------------------------------------- option tables */
/* One table per command: every option's name (the flag without "--", and the key in JSON
 * config files and checkpoint metadata), type, place in the command's settings struct, default,
 * range or choices, and help. Flags, config files, checkpoints, `--help` and every error
 * message about an option come from these tables (options.c). */

typedef enum {
    OPT_INT,       /* int, or long long when the field is (size tells) */
    OPT_REAL,      /* double */
    OPT_STRING,    /* char[size] */
    OPT_BOOL,      /* bool; a flag may stand alone (--json) */
    OPT_RANGE,     /* int_range: N or A..B */
    OPT_CHOICE,    /* an enum (int-sized) whose values follow the names of `choices` */
} option_type;

/* A range of lengths, "N" (lo = hi = N) or "A..B"; {0, 0} when unset. */
typedef struct {
    int lo, hi;
} int_range;

/* The names of an OPT_CHOICE option's values: index 0, 1, ... until NULL. */
typedef const char *(*option_choice_fn)(int index);

typedef struct {
    const char *name;          /* flag without "--", and config key */
    option_type type;
    size_t offset;             /* into the command's settings struct */
    size_t size;               /* of the field */
    const char *default_value; /* NULL: the field stays zero ("none" in --help) */
    option_choice_fn choices;  /* OPT_CHOICE */
    double min, max;           /* numeric range */
    const char *group;         /* heading in --help */
    const char *placeholder;   /* what --help shows after the flag (NULL: from the type) */
    const char *help;
    bool resumable;            /* train: may change when a run is resumed */
    option_choice_fn summaries; /* OPT_CHOICE: each choice's one-line summary, listed under
                                   the option by --help (NULL: the names alone) */
    const char *auto_word;     /* OPT_INT: a word that stands for 0 and shows it ("auto");
                                  OPT_BOOL: a third value besides true and false ("auto"),
                                  stored as -1 in an int field (1 true, 0 false) */
} option_spec;

typedef struct {
    const char *command;       /* "train", "eval", ...: for messages */
    const option_spec *specs;
    int count;
} option_table;

/* Sets every option of the table to its default (the struct is zeroed first). */
void options_defaults(const option_table *t, void *settings);
/* The option with this name, or NULL. */
const option_spec *options_find(const option_table *t, const char *name);
/* Sets one option from text. Errors (ARITH_ERR_ARG) name the flag, the value and the valid
 * choices or range; an unknown name lists the table's options. */
arith_status options_set(const option_table *t, void *settings, const char *name,
                         const char *value);
arith_status option_set(const option_spec *o, void *settings, const char *value);
/* What a boolean's text means: 1 for true, yes, 1; 0 for false, no, 0 (any case); -1 for the
 * option's auto_word; OPTION_NOT_BOOL for anything else. */
enum { OPTION_NOT_BOOL = -2 };
int option_bool_word(const option_spec *o, const char *text);
/* Reads a JSON object whose keys are option names; `source` names the file in errors. */
arith_status options_from_json(const option_table *t, void *settings, const char *json,
                               const char *source);
/* Every option as a JSON object (malloc'd text). */
char *options_to_json(const option_table *t, const void *settings);
/* An option's value as text (choices by name, ranges as N or A..B). */
void option_format(const option_spec *o, const void *settings, char *out, size_t cap);
/* The flag list of `arith COMMAND --help`: a heading per group, per option its placeholder
 * (FILE, N, X, A..B, NAME, ...), help, choices (or the registry's summary of each) and one
 * default, broken into lines of at most `width` columns, continuations under the help's
 * column. */
void options_print_help(const option_table *t, FILE *out, int width);
/* Writes text (its newlines kept) in lines of at most `width` columns, broken at spaces (a
 * longer word after a comma): the first line goes on from column `col`, where the current line
 * stands, the next ones start at column `indent`; ends with a newline. OPTIONS_NBSP is a space
 * that never breaks ("(default: 0)"). */
#define OPTIONS_NBSP '\x1f'
void options_write_wrapped(FILE *out, const char *text, int col, int indent, int width);
/* Parses "N" or "A..B" with lo <= hi inside [min, max]; `flag` names the option in errors. */
arith_status int_range_parse(int_range *out, const char *text, const char *flag, int min,
                             int max);

/* ---------------------------------------------------------------------------- run config */

/* How the tokenizer is chosen: auto picks the task's own, the rest name a tokenizer_kind
 * (TOKENIZER_CHOICE_CHAR + k is tokenizer kind k). */
typedef enum { TOKENIZER_CHOICE_AUTO = 0, TOKENIZER_CHOICE_CHAR } tokenizer_choice;
typedef enum { OPTIM_ADAM = 0, OPTIM_ADAMW } optim_kind;
typedef enum { SCHEDULE_CONSTANT = 0, SCHEDULE_COSINE } schedule_kind;
typedef enum { BEST_BY_ACCURACY = 0, BEST_BY_LOSS } best_by_kind;

/* What data a run trains and tests on, and how it is written as tokens. */
typedef struct {
    int task;                  /* the task's index in the registry (task_at) */
    sym_kind subtask;          /* symbolic: derivative or integral */
    int_range digits;          /* operand (count: string) lengths of the training data */
    int_range test_digits;     /* of generated test data; {0,0}: as digits */
    int_range digits_b;        /* mul: the second operand's lengths; {0,0}: as digits */
    task_style style;          /* prompt format: plain "a+b=", spaced "a + b" (seed 002) */
    int n;                     /* examples generated (train + test) */
    double test_frac;          /* share of n held out for testing */
    char train_csv[TRAIN_PATH_MAX];
    char test_csv[TRAIN_PATH_MAX];
    int tokenizer;             /* tokenizer_choice */
    int reverse_answer;        /* 1, 0, or -1 (auto): on for the pairs tokenizer on a task
                                  with carries (train_data_format) */
    bool reverse;              /* digit formats (tasks with one): operands and answer least
                                  significant digit first */
    int zero_pad;              /* operands zero-padded to equal length, answers to the longest
                                  they can be: 1, 0, or -1 (auto, as reverse_answer) */
    bool index_hints;          /* a hint token naming each digit's significance */
    int hint_offset;           /* index hints: largest random offset added to a row's hints in
                                  training */
    bool scratchpad;           /* intermediate results before the answer (mul: running sums) */
    bool carries;              /* each answer digit followed by its column's carry out */
    int answer_width;          /* right-align answers with spaces to this width (0: off) */
    double carry_mix;          /* tasks with carries (add): share of the generated training
                                  examples replaced by carry-heavy ones */
    int carry_n;               /* tasks with carries: the carry-aware test set's examples per
                                  chain length (0: none) */
    bool repeats;              /* generated training examples drawn independently, repeats
                                  allowed (dataset_draw); false: distinct */
} data_settings;

/* The model's family and shape (train_model_config turns it into a model_config). */
typedef struct {
    model_kind family;
    int layers;
    int d_model;
    int heads;
    int ffn;
    double dropout;
    norm_kind norm;
    act_kind act;
    pos_kind pos;
    int pos_max;               /* position ids are < pos_max (0: context) */
    int pos_offset;            /* abacus, coupling(-rel): largest random offset in training */
    bool rand_pos;             /* absolute schemes: positions drawn sorted from [0, pos_max) */
    int context;               /* 0: longest prompt + answer of the data */
    int hidden;                /* LSTM hidden size (0: d_model) */
    head_kind head;
    input_kind input;
    readout_kind readout;      /* regression head: the top LSTM layer's h or c */
    double forget_bias;        /* LSTM forget gates' initial bias (0: PyTorch's init) */
    char init[TRAIN_PATH_MAX]; /* gpt2: Hugging Face GPT-2 weights to start from ("": none) */
    char train[256];           /* comma-separated name patterns of the trainable parameters
                                  ("": all) */
} model_settings;

/* The optimizer, its learning-rate schedule, clipping, and how long to train. */
typedef struct {
    optim_kind optim;
    double lr;
    double beta1, beta2, eps;
    double weight_decay;
    schedule_kind schedule;
    int warmup;
    double min_lr;
    double clip_value;         /* 0: off */
    double clip_norm;          /* 0: off */
    int batch;
    int epochs;
    int steps;                 /* > 0 overrides epochs */
} optim_settings;

/* Seeds, threads, evaluation during training, logging and where the run is written. */
typedef struct {
    long long seed;
    int seeds;                 /* train: run the experiment under this many seeds */
    int threads;               /* 0: all cores */
    int eval_every;            /* steps between evaluations; 0: once per epoch */
    int eval_n;                /* test examples used by evaluations during training; 0: all */
    int eval_batch;
    int samples;               /* sample predictions shown at each evaluation */
    best_by_kind best_by;      /* what chooses best.safetensors */
    int log_every;             /* steps between metrics lines */
    int save_every;            /* steps between saves of last.safetensors without an
                                  evaluation (0: only at evaluations) */
    int skip_nonfinite;        /* batches with a non-finite loss or gradient norm that may be
                                  skipped (no update) before the run stops */
    char dir[TRAIN_PATH_MAX];  /* the run directory ("": runs/<task><digits>-<time>) */
} run_settings;

typedef struct {
    data_settings data;
    model_settings model;
    optim_settings optim;
    run_settings run;
} train_config;

/* train's options: flags = config keys = checkpoint metadata (config.c). */
extern const option_table train_option_table;

void train_config_defaults(train_config *cfg);
/* Sets one option from text; errors name the flag, the value and the valid choices/range. */
arith_status train_config_set(train_config *cfg, const char *name, const char *value);
/* Reads a JSON object whose keys are flag names. `source` names the file in errors. */
arith_status train_config_from_json(train_config *cfg, const char *json, const char *source);
/* All options as a JSON object (malloc'd string). */
char *train_config_to_json(const train_config *cfg);
/* One option's value as text (choices by name: "transformer"), as config.json writes it. */
void train_config_format(const train_config *cfg, const char *name, char *out, size_t cap);
/* The default run directory, runs/<task><digits><suffix>-<date>-<time> (digits N or A-B). */
void train_config_default_dir(const train_config *cfg, const char *suffix, char *out,
                              size_t cap);
/* The tokenizer a config asks for, "auto" resolved for the task. */
tokenizer_kind train_config_tokenizer(const data_settings *data);
/* The task the data settings describe; `range` picks the lengths (training or test). */
arith_status train_task_config(task_config *task, const data_settings *data, int_range range);
/* Builds the model config (vocab, context and answer_len are filled by the caller). */
arith_status train_model_config(model_config *mc, const model_settings *ms);

/* ----------------------------------------------------------------------------- optimizer */

/* Moments exist for trainable parameters only: a frozen GPT-2 matrix costs no optimizer memory.
 * slot[i] is where view i's moments start in m and v (SIZE_MAX for a frozen view). */
typedef struct {
    float *m;                  /* first moments of the trainable views, one after another */
    float *v;                  /* second moments */
    size_t *slot;              /* (params.count) */
    size_t size;               /* floats in m (and in v) */
    long long t;               /* steps taken */
} optimizer_state;

/* Call after the parameters' trainable flags are final. */
arith_status optimizer_init(optimizer_state *opt, const param_table *params);
void optimizer_free(optimizer_state *opt);
/* One Adam or AdamW step over trainable parameters (AdamW: decoupled weight decay as torch's
 * AdamW; Adam: L2 added to the gradient as torch's Adam). */
void optimizer_step(optimizer_state *opt, param_table *params, const optim_settings *os,
                    double lr);
/* Learning rate at `step` (0-based) of `total`. */
double schedule_lr(const optim_settings *os, long long step, long long total);
/* Clips gradients by value and/or by global norm; returns the global norm before clipping. */
double clip_gradients(param_table *params, double clip_value, double clip_norm);

/* ---------------------------------------------------------------------------- evaluation */

typedef struct {
    int total;
    int correct;               /* exact match; regression: round(prediction) == answer; with
                                  beam K > 1: any of the K hypotheses right */
    int top_correct;           /* the best (beam-1, top) hypothesis right; = correct for K = 1 */
    int exact;                 /* the best hypothesis equal to the reference, character for
                                  character (symbolic: correct is up to equivalence) */
    int beam;                  /* hypotheses per prompt (1: greedy) */
    double loss;               /* mean test loss (teacher-forced cross-entropy, or squared
                                  error); NAN when not measured */
    double mae;                /* regression: mean absolute error; NAN otherwise */
    double seconds;
    int edge_total;            /* edge cases (edge_cases_build) scored beside the test set
                                  during training: 0 when none */
    int edge_correct;
    int carry_total;           /* the carry-aware test set (session.carry) scored beside it
                                  during training: 0 when none */
    int carry_correct;
} eval_result;

/* Called for the first examples of an evaluation (for showing samples) or for every example
 * (predict); `predicted` is the decoded answer (with no EOS, all that was generated:
 * it never counts as right). */
typedef void (*eval_example_fn)(void *ctx, int index, const example *ex, const char *predicted,
                                bool correct);

/* Greedy generation over n examples of `set` (all when n <= 0), batched, exact match against the
 * answers; for a task that judges answers up to equivalence (task_def.equivalent: symbolic,
 * numerically, an integral up to a constant; task may be NULL: exact match) an answer is right
 * when it is equivalent to the reference, and exact string matches are counted beside it. fn (may be NULL) is called for the first `report` examples (all when report < 0). */
arith_status evaluate(model *m, const tokenizer *tok, const task_config *task,
                      const example_set *set, int n, int batch_size, eval_example_fn fn,
                      void *ctx, int report, eval_result *result);

/* Whether the model can search `beam` answers per prompt: beam 1 always; beam > 1 needs a
 * model that decodes token by token (not seq2seq, not a regression head). Errors name --beam. */
arith_status beam_check(const model *m, int beam);

/* As evaluate, by beam search with `beam` hypotheses per prompt (1: greedy, as evaluate),
 * batch_size prompts of `beam` rows each per call. An example counts as right (correct) when
 * any of its hypotheses is, and in top_correct when its best one is; fn gets the best
 * hypothesis and `correct` for any. beam > 1 needs a model that decodes token by token (not
 * seq2seq, not a regression head): the error names --beam. */
arith_status evaluate_beam(model *m, const tokenizer *tok, const task_config *task,
                           const example_set *set, int n, int batch_size, int beam,
                           eval_example_fn fn, void *ctx, int report, eval_result *result);

/* Teacher-forced evaluation (lm heads): the model reads the reference answer, and an example
 * counts as right when the most likely token at every answer position (and EOS) is the
 * reference's. Also measures the mean test loss. Seed 000 measured accuracy this way. */
arith_status evaluate_teacher_forced(model *m, const tokenizer *tok, const example_set *set, int n,
                                     int batch_size, eval_result *result);

/* Answers prompts (no reference answers): answers[i] receives a malloc'd string, or NULL and
 * an error for a prompt that cannot be encoded. */
arith_status predict_answers(model *m, const tokenizer *tok, const char *const *prompts, int n,
                             int batch_size, char **answers);
/* The logits of a prompt's greedy answer read back (arith predict --logits; the reference
 * tools/arith_torch.py is checked against): the answer is generated as predict_answers does,
 * then the model reads the prompt and the generated tokens up to the EOS (which is only ever
 * predicted, never read) in one forward, at the position ids the decoding used. Rows are the
 * sequence's columns from the prompt's first token; seq2seq emits only its answer positions,
 * so its rows begin at the prompt's last token (first = prompt length - 1). A regression head
 * reads the prompt and gives value instead. */
typedef struct {
    int n;                     /* tokens read: prompt + answer without its EOS */
    int32_t *tokens, *pos;     /* (n) ids and the position ids the model used */
    int first;                 /* tokens[first] is the input of logits row 0 */
    int rows, vocab;           /* logits (rows, vocab); rows 0 for a regression head */
    float *logits;
    double value;              /* regression head: the prediction; NAN otherwise */
} forced_logits;
arith_status generation_logits(model *m, const tokenizer *tok, const char *prompt,
                               forced_logits *out);
void forced_logits_free(forced_logits *f);

/* The `beam` best answers of each prompt by beam search, best first: answers[i*beam + k]
 * (malloc'd), scores[i*beam + k] their summed log-probabilities (-inf: no such hypothesis;
 * NAN for greedy and regression), ended[i*beam + k] whether the answer reached EOS (scores and
 * ended may be NULL). beam 1 is predict_answers. */
arith_status predict_beam(model *m, const tokenizer *tok, const char *const *prompts, int n,
                          int batch_size, int beam, char **answers, float *scores, bool *ended);

/* The task's fixed edge cases (task_edge_cases, from the task's lengths) that the tokenizer
 * can encode and the model's context can hold; the others are skipped (the pairs tokenizer's
 * fixed width, say). Appends nothing for tasks without edge cases. */
arith_status edge_cases_build(const model *m, const tokenizer *tok, const task_config *task,
                              example_set *set);

/* The examples of `all` that the tokenizer can encode and the model's context can hold, with
 * room for the longest answer among them; the others are skipped. */
arith_status examples_fitting(const model *m, const tokenizer *tok, const task_config *task,
                              const example_set *all, example_set *set);

/* Exact match on the carry-aware test set, in total and per longest carry chain. */
typedef struct {
    int total, correct;
    int chains;                /* chain lengths tabulated: 0..chains-1 (digits + 1) */
    int *n, *right;            /* (chains) examples and right answers per chain length */
    double seconds;
} carry_result;

/* Scores `carry` (session.carry) as evaluate_beam does, the examples that fit the model
 * (examples_fitting), tallied by task_carry_chain; fn (may be NULL) sees every answer. A task
 * without carries or an empty set gives a zeroed result. */
arith_status evaluate_carries(model *m, const tokenizer *tok, const task_config *task,
                              const example_set *carry, int batch_size, int beam,
                              eval_example_fn fn, void *ctx, carry_result *out);
void carry_result_free(carry_result *r);

/* --------------------------------------------------------------------------- length grids */

/* Exact match per pair of operand lengths (la, lb), both in lo, lo+step, ..., <= hi: per_cell
 * examples per cell from task_sample_lengths, seeded by (seed, la, lb) alone, so a cell holds
 * the same prompts whatever the grid around it. A combined grid (runs > 0) holds the mean,
 * standard deviation, least and greatest accuracy of each cell over several runs' grids. */
typedef struct {
    int lo, hi, step;
    int count;                 /* lengths of la's axis */
    int lo_b, hi_b, step_b;    /* lb's axis: as la's, unless grid_set_b gave it its own range
                                  (mul's n x k products: --grid 1..30 --grid-b 1..3) */
    int count_b;               /* lengths of lb's axis */
    int per_cell;
    long long seed;
    int *n, *correct;          /* (count*count_b) cell i*count_b + j: la = length i, lb = length
                                  j of lb's axis; NULL in a combined grid */
    double *accuracy;          /* (count*count_b) exact match (combined: the mean over runs) */
    double *acc_std, *acc_min, *acc_max; /* combined grid only (else NULL) */
    int runs;                  /* 0: one run's grid; else the number of runs combined */
    double seconds;
} length_grid;

/* Sets up an empty square grid; errors (ARITH_ERR_ARG) name --grid or --grid-step. */
arith_status grid_init(length_grid *g, int lo, int hi, int step, int per_cell, long long seed);
/* Gives an empty grid's lb axis its own lengths lo_b..hi_b, every one (errors name --grid-b). */
arith_status grid_set_b(length_grid *g, int lo_b, int hi_b);
void grid_free(length_grid *g);
/* The first operand's length at column i (la's axis). */
static inline int grid_length(const length_grid *g, int i)
{
    return g->lo + i * g->step;
}
/* The second operand's length at row j (lb's axis). */
static inline int grid_length_b(const length_grid *g, int j)
{
    return g->lo_b + j * g->step_b;
}
/* Whether both axes have the same lengths (a square grid, with a diagonal). */
static inline bool grid_square(const length_grid *g)
{
    return g->lo_b == g->lo && g->step_b == g->step && g->count_b == g->count;
}

/* Progress of grid_evaluate, after each group of cells. */
typedef void (*grid_progress_fn)(void *ctx, int cells_done, int cells, long long examples_done,
                                 long long examples, double seconds);

/* Fills the grid by generating every cell's answers with the model (greedy, or beam search
 * as evaluate_beam counts it): cells of similar lengths are batched together. Before any work,
 * a cell whose prompts the tokenizer rejects or whose prompt + answer outgrow the model's
 * context is an error (ARITH_ERR_DATA) naming the lengths, the context and the largest grid
 * that fits. Tasks that draw operands of given lengths only (task_def.sample_lengths). */
arith_status grid_evaluate(model *m, const tokenizer *tok, const task_config *task,
                           int batch_size, int beam, length_grid *g, grid_progress_fn fn,
                           void *ctx);
/* out = the per-cell mean, standard deviation (n - 1), least and greatest accuracy of `count`
 * grids of one shape. */
arith_status grid_combine(length_grid *out, const length_grid *grids, int count);
/* The largest n such that every diagonal cell (n, n) from lo up to n is >= threshold
 * (*prefix, lo - 1 when the first is not), and the largest n whose own cell is (*any, lo - 1
 * when none is). A grid with its own lb axis reads a column instead of a diagonal cell: la = n
 * holds when every lb of it does. */
void grid_largest_at(const length_grid *g, double threshold, int *prefix, int *any);
/* CSV (atomically): la,lb,n,correct,accuracy; a combined grid:
 * la,lb,runs,accuracy,std,min,max (accuracy: the mean). One row per cell. */
arith_status grid_write_csv(const length_grid *g, const char *path);
/* The heat maps' colour of a value in 0..1 (clamped): viridis, "#bbbbbb" for NaN (out: "#rrggbb"
 * and its NUL). */
void heat_colour(double v, char out[8]);
/* An SVG heatmap (atomically): la across, lb up, a colour per accuracy with a 0..1 legend,
 * the accuracy written in cells large enough, the training lengths (la in train_lo..train_hi,
 * lb in train_lo_b..train_hi_b) outlined, and a title. */
arith_status grid_write_svg(const length_grid *g, const char *path, const char *title,
                            int train_lo, int train_hi, int train_lo_b, int train_hi_b);

/* ---------------------------------------------------------------------- several seeds */

/* Mean, standard deviation (n - 1 in the denominator; 0 for one value), least and greatest
 * of x[0..n), with the index of each extreme (the first on ties). */
typedef struct {
    int n;
    double mean, std, min, max;
    int argmin, argmax;
} stats_summary;
void stats_summarize(const double *x, int n, stats_summary *out);

/* The seed runs under a parent directory: subdirectories named seed-S (S a whole number)
 * that hold a config.json, sorted by S. *dirs (malloc'd paths "parent/seed-S", free each and
 * the array) and *seeds may be NULL when *count is 0. */
arith_status seed_runs_find(const char *parent, char ***dirs, long long **seeds, int *count);

/* --------------------------------------------------------------------------- checkpoints */

typedef struct {
    long long step;            /* steps taken (skipped batches included) */
    long long total_steps;
    double best_accuracy;      /* -1: none yet */
    long long best_step;
    double last_accuracy;
    int threads;               /* the thread count in effect when it was saved (0: unknown, a
                                  checkpoint from before it was recorded) */
    long long skipped;         /* batches skipped as non-finite (--skip-nonfinite) so far */
    long long schedule_start;  /* the learning-rate schedule in force: laid out over
                                  schedule_steps steps from step schedule_start (a resume that
                                  extends a run keeps it, or restarts it: --restart-schedule) */
    long long schedule_steps;
    double elapsed;            /* seconds of training so far, over every resume (not saved in
                                  checkpoints, whose bytes stay the same run to run: a resume
                                  reads it back from metrics.jsonl) */
} train_progress;

/* Writes parameters (and the optimizer's moments, when opt is given) with the config, tokenizer,
 * task and progress in __metadata__, atomically; with tok, also the resolved tokenizer
 * ("tokenizer_resolved") and the vocabulary ("vocab_tokens", a JSON array of every id's token).
 * A tensor holding a NaN or an infinity is refused (ARITH_ERR_DATA naming the file and the
 * tensor) and nothing is written. */
arith_status checkpoint_save(const char *path, const model *m, const optimizer_state *opt,
                             const train_config *cfg, const train_progress *progress,
                             const tokenizer *tok);
/* Reads a checkpoint's config and progress (no model needed). Its "model", "tokenizer" and
 * "task" metadata, copies of the config's values, must agree with the config (ARITH_ERR_FORMAT
 * naming the file, the key and both values). */
arith_status checkpoint_read_config(const char *path, train_config *cfg, train_progress *progress);
/* Loads parameters (and moments when opt is given) into a model built from the same config;
 * a missing tensor, a shape mismatch, a NaN or infinite value, or a "vocab" in the metadata
 * other than the model's is an error naming it. With verify, the tensor data is first checked
 * against the checksum in the metadata (st_verify_checksum; a file without one loads): a
 * mismatch is ARITH_ERR_DATA naming the file, with a hint of --no-verify (verify false), which
 * skips that check alone. */
arith_status checkpoint_load(const char *path, model *m, optimizer_state *opt, bool verify);
/* Checks the config a checkpoint holds (`saved`, from checkpoint_read_config) against the
 * config.json of its run directory, when that has one: every option a resume cannot change
 * must agree (the run directory's name may differ: runs are moved, and a resume records where
 * it ran). A difference is ARITH_ERR_FORMAT naming both files, the key and both values. */
arith_status checkpoint_check_run_config(const char *path, const train_config *saved,
                                         const char *run_dir);

/* --------------------------------------------------------------------------------- plots */

/* Draws the training loss (log scale) and the test exact match against the step, from a
 * run's metrics.jsonl, into one SVG file (written atomically). */
arith_status plot_training_curves(const char *metrics_path, const char *svg_path,
                                  const char *title);
/* The same for several runs in one figure: each run's curves in a colour of its own, named by
 * its label in a legend under the panels. */
arith_status plot_runs(const char *const *metrics_paths, const char *const *labels, int n,
                       const char *svg_path, const char *title);
/* plot_runs' figure as text in *svg (started empty here; the caller frees svg->text), for a
 * page that inlines it (arith report). One run's colours are plot_training_curves'. */
arith_status plot_runs_svg(const char *const *metrics_paths, const char *const *labels, int n,
                           const char *title, text_buffer *svg);

/* ------------------------------------------------------------------------------ sessions */

/* Everything a run needs, built from a config: data, tokenizer, model. */
typedef struct {
    train_config cfg;
    task_config task;
    tokenizer tok;
    example_set train, test;
    example_set carry;         /* the carry-aware test set (carry_set_generate; empty when the
                                  task has no carries or --carry-n is 0) */
    encoded_set train_enc, test_enc;
    int test_in_train;         /* test prompts that are also training prompts (CSV data) */
    model *model;
    bool locked;               /* lock_fd holds the run directory's lock (run_dir_lock), which
                                  session_close releases */
    int lock_fd;
    int rank, ranks;           /* data-parallel training over `ranks` processes (core/dist.h),
                                  this one `rank`; 0 (or 1) of them: alone */
    bool no_verify;            /* a resume loads last.safetensors without checking its checksum
                                  (--no-verify) */
    bool restart_schedule;     /* a resume that extends the run lays out a new schedule over
                                  the added steps (--restart-schedule) */
} session;

/* Builds the data (generated or loaded), the tokenizer and the model (initialized from the
 * seed). With `data_dir`, loads train.csv and test.csv from there instead (a saved run).
 * Validates everything before anything is written. */
arith_status session_open(session *s, const train_config *cfg, const char *data_dir);
void session_close(session *s);

/* Loads a saved run for eval/predict: config from the checkpoint (checked against the run's
 * config.json: checkpoint_check_run_config), test set from the run. `verify` checks the
 * checkpoint's checksum (checkpoint_load). */
arith_status session_load_run(session *s, const char *run_dir, const char *which, bool verify);

/* A run in words, the same in the training header, plot titles and grid titles. */
typedef struct {
    char lengths[64];          /* "9 digits", "1..64 bits", "operands 0..50",
                                  "integral, up to 6 operators" */
    char format[128];          /* " (reversed, zero-padded)", or "" */
    char model[TRAIN_PATH_MAX + 200]; /* "8 layers, d_model 128, 16 heads, ffn 64, pos rope,
                                         norm post" or the recurrent models' shape */
} session_description;
void session_describe(const session *s, session_description *d);
/* The one-line title of plots and grids: "add, 9 digits, tokenizer pairs | transformer:
 * 8 layers, d_model 128, ... | seed 1". */
void session_title(const session *s, char *out, size_t cap);

/* Callbacks of the training loop. */
typedef struct {
    void *ctx;
    /* after every step */
    void (*on_step)(void *ctx, long long step, long long total, int epoch, double loss, double lr,
                    double steps_per_sec);
    /* after every evaluation; `is_best` when it set a new best */
    void (*on_eval)(void *ctx, long long step, long long total, const eval_result *r,
                    bool is_best);
    /* samples shown at an evaluation */
    eval_example_fn on_sample;
    /* asked before every step: true stops the run there, after saving last.safetensors (the
       CLI's Ctrl-C and SIGTERM) */
    bool (*should_stop)(void *ctx);
    /* a batch skipped for its non-finite loss or gradient norm (--skip-nonfinite): `skipped`
       of `limit` so far */
    void (*on_skip)(void *ctx, long long step, double loss, double grad_norm, long long skipped,
                    long long limit);
    /* a resume to another length than the schedule was laid out for (before the first step):
       how the schedule goes on (progress's schedule_start and schedule_steps), and the
       learning rate of the next step before and after the change of length */
    void (*on_schedule)(void *ctx, const train_progress *p, long long was_total, long long total,
                        bool restarted, double lr_next, double lr_if_stretched);
} train_callbacks;

/* What train_run ended with. */
typedef struct {
    eval_result final;         /* the last evaluation, on the whole test set (zero when stopped
                                  early) */
    long long step;            /* steps taken */
    long long total;           /* steps the run was to take */
    long long skipped;         /* batches skipped as non-finite, resumed runs' included */
    bool stopped;              /* should_stop ended it: last.safetensors holds `step` */
    bool from_start;           /* resumed from a run that had no checkpoint yet: step 0 */
} train_result;

/* Trains s->model on s->train, evaluating on s->test; writes the run directory
 * (config.json, train.csv, test.csv, metrics.jsonl, last.safetensors, best.safetensors,
 * training.svg), holding its lock (run_dir_lock) unless the session holds it already, and
 * removing temporary files that dead processes left there. A directory whose run stopped
 * before its first checkpoint is used again; one with a checkpoint is refused.
 * With resume, continues from the run directory's last checkpoint as if never stopped (from
 * step 0, with the weights the seed gives, when it has none yet), after cutting metrics.jsonl
 * back to the checkpoint's step. A non-finite loss or gradient norm (after --skip-nonfinite
 * such batches) or an update that makes a weight non-finite stops the run with ARITH_ERR_DATA
 * naming the step, the value and the flags that help; last.safetensors then holds the last
 * finite state. `out` may be NULL.
 * Data-parallel (s->ranks > 1, every rank calling this with the same session): each rank
 * takes its share of every batch's rows, the gradients are summed over the ranks (each
 * weighted by its share of the batch's answer tokens, so the step is the one-process step of
 * the whole batch), and every rank takes the same update. Rank 0 alone writes the run
 * directory and evaluates; a stop request or an error on any rank ends every rank's loop at
 * the same step. */
arith_status train_run(session *s, const train_callbacks *cb, bool resume, train_result *out);

/* Locks a run directory for one writer (io_lock_dir on RUN/.lock), creating the directory
 * when it is missing. Another process's lock is ARITH_ERR_STATE naming its process id. The
 * directory must be arith's: one it created, an empty one, one that holds its .arith-run
 * marker, or an older arith's run (a config.json that loads); it is marked. Any other is
 * ARITH_ERR_STATE: a run would write over files arith did not write. */
arith_status run_dir_lock(const char *dir, int *fd);

/* The parent directory of a --seeds sweep, created or claimed as run_dir_lock claims a run's:
 * arith writes into a directory it created, an empty one, or one that holds its .arith-run
 * marker (or an older arith's sweep), and refuses any other. */
arith_status run_dir_claim_sweep(const char *dir);
/* Keeps the lines of a metrics.jsonl up to `step` (whole lines whose "step" is <= step),
 * rewriting the file atomically when anything goes; a missing file is fine. */
arith_status metrics_truncate(const char *path, long long step);

/* -------------------------------------------------------------------------------- probes */

/* A linear probe (probe.c): multinomial logistic regression, softmax over K classes, on
 * features standardized by the training rows (a constant feature becomes 0), minimizing mean
 * cross-entropy + l2/2 |W|^2 (the biases unpenalized) by L-BFGS from zero. Deterministic: the
 * same rows give the same weights, whatever the thread count. */
typedef struct {
    int d, K;
    float *w;                  /* (K, d + 1): weights on the standardized features, bias last */
    float *mean, *inv_std;     /* (d) the training rows' mean and 1 / standard deviation */
    int iterations;            /* L-BFGS iterations taken */
    double loss;               /* the objective at the end */
} probe_model;

/* Fits p to n rows x (n, d) with classes y (each 0..K-1), K >= 2, l2 >= 0; free with
 * probe_free. */
arith_status probe_fit(probe_model *p, const float *x, const int32_t *y, int n, int d, int K,
                       double l2);
/* The most probable class of one row of d features. */
int32_t probe_predict(const probe_model *p, const float *x);
/* How many of n rows (n, d) the probe classifies as y says. */
int probe_correct(const probe_model *p, const float *x, const int32_t *y, int n);
void probe_free(probe_model *p);

/* What arith probe fits to, for each answer digit i (0: the units): */
typedef enum {
    PROBE_CARRY = 0,           /* the carry into column i, 2 classes */
    PROBE_CARRY_OUT,           /* the carry out of column i (into i+1), 2 classes */
    PROBE_SUM_DIGIT,           /* the answer's digit i, 10 classes */
    PROBE_TARGETS
} probe_target;
/* --target's names and one-line summaries, NULL past the last. */
const char *probe_target_name(int k);
const char *probe_target_summary(int k);
int probe_target_classes(probe_target t);

typedef struct {
    probe_target target;
    int layer;                 /* -1: every layer 0..L; else that one */
    int n;                     /* fresh examples of the run's task, distinct */
    double test_frac;          /* the share held out to score the probes */
    long long seed;            /* draws the examples */
    double l2;
    int batch;                 /* rows per forward (0: 128) */
} probe_settings;

/* Held-out accuracy per (layer, answer digit). Layer 0 is the input of the first layer, layer
 * l the output of layer l (model_ops.hidden); answer digit i is the digit of 10^i, read at the
 * column whose output predicts it (teacher-forced), in whatever order the run writes answers.
 * An example counts at digit i when its answer, as the run writes it, has that digit. */
typedef struct {
    probe_target target;
    int classes;
    int nl, P;                 /* layers probed, answer digits (the widest answer's) */
    int *layer;                /* (nl) their indices */
    int *dim;                  /* (nl) the width of their hidden states */
    double *accuracy;          /* (nl, P) NaN: no probe (one class among the training rows,
                                  or no rows: the carry into the units is always 0) */
    double *baseline;          /* (P) the training rows' majority class, on the held-out rows */
    int *train_at, *test_at;   /* (P) examples with digit i, fit on and scored */
    int n_train, n_test;       /* examples */
} probe_result;

/* Draws ps->n distinct examples of the run's task from ps->seed (dataset_generate: the
 * first n(1 - test_frac) to fit, the rest to score), reads them teacher-forced through the
 * model, and fits and scores a probe per layer and answer digit. Errors name the flag: a task
 * without answer columns (task_has_columns), a regression head, a layer out of range, too
 * few examples or too many for memory. */
arith_status probe_run(session *s, const probe_settings *ps, probe_result *out);
void probe_result_free(probe_result *r);

#endif
