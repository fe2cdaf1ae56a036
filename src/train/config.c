/* The run configuration: train's option table, used by the command line (--flag value), by
 * config files (JSON objects whose keys are the flag names), by checkpoints (the config is
 * stored in their metadata) and by `arith train --help`; and the model config it gives. */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "train/train.h"

#define OPT_SPEC(name, type, field, def, choices, lo, hi, group, help, resumable)               \
    {name, type, offsetof(train_config, field), sizeof(((train_config *)0)->field), def, choices, \
     lo, hi, group, NULL, help, resumable, NULL, NULL}
#define OPT(name, type, field, def, choices, lo, hi, group, help)                              \
    OPT_SPEC(name, type, field, def, choices, lo, hi, group, help, false)
/* a choice whose names and one-line summaries come from a registry (--help lists them) */
#define OPT_LISTED(name, field, def, choices, summaries, group, help)                          \
    {name, OPT_CHOICE, offsetof(train_config, field), sizeof(((train_config *)0)->field), def,  \
     choices, 0, 0, group, NULL, help, false, summaries, NULL}
/* a text option whose value --help names by `placeholder` (FILE, DIR, ...) */
#define OPT_TEXT(name, field, placeholder, group, help)                                        \
    {name, OPT_STRING, offsetof(train_config, field), sizeof(((train_config *)0)->field), "",  \
     NULL, 0, 0, group, placeholder, help, false, NULL, NULL}
/* an option that may change when a run is resumed (how long, how often, how many threads) */
#define OPT_RESUMABLE(name, type, field, def, choices, lo, hi, group, help)                    \
    OPT_SPEC(name, type, field, def, choices, lo, hi, group, help, true)

/* The names of each choice, from the module that owns the enum. */
static const char *choice_task(int i) { return task_at(i) ? task_at(i)->name : NULL; }
static const char *choice_subtask(int i) { return sym_kind_name((sym_kind)i); }
static const char *choice_style(int i) { return task_style_name((task_style)i); }
static const char *choice_tokenizer(int i)
{
    return i == TOKENIZER_CHOICE_AUTO ? "auto"
                                      : tokenizer_name((tokenizer_kind)(i - TOKENIZER_CHOICE_CHAR));
}
static const char *choice_model(int i) { return model_kind_name((model_kind)i); }
static const char *choice_head(int i) { return head_kind_name((head_kind)i); }
static const char *choice_input(int i) { return input_kind_name((input_kind)i); }
static const char *choice_readout(int i) { return readout_kind_name((readout_kind)i); }
static const char *choice_norm(int i) { return norm_kind_name((norm_kind)i); }
static const char *choice_act(int i) { return act_kind_name((act_kind)i); }
static const char *choice_pos(int i) { return pos_kind_name((pos_kind)i); }
static const char *choice_optim(int i)
{
    static const char *const names[] = {"adam", "adamw"};
    return i >= 0 && i < 2 ? names[i] : NULL;
}
static const char *choice_schedule(int i)
{
    static const char *const names[] = {"constant", "cosine"};
    return i >= 0 && i < 2 ? names[i] : NULL;
}
static const char *choice_best_by(int i)
{
    static const char *const names[] = {"accuracy", "loss"};
    return i >= 0 && i < 2 ? names[i] : NULL;
}

static const option_spec train_options[] = {
    OPT("task", OPT_CHOICE, data.task, "add", choice_task, 0, 0, "data",
        "task to generate (`arith tasks` describes each)"),
    OPT("subtask", OPT_CHOICE, data.subtask, "derivative", choice_subtask, 0, 0, "data",
        "symbolic: derivative (f -> f') or integral (f' -> f, generated backwards)"),
    OPT("digits", OPT_RANGE, data.digits, "9", NULL, 1, 100000, "data",
        "operand length, in the task's unit (digits, bits: `arith tasks`); N or A..B"),
    OPT("test-digits", OPT_RANGE, data.test_digits, "0", NULL, 0, 100000, "data",
        "lengths of the generated test set, N or A..B (0: as --digits)"),
    OPT("digits-b", OPT_RANGE, data.digits_b, "0", NULL, 0, 100000, "data",
        "mul: the second operand's length, N or A..B, for n x k products (0: as --digits)"),
    OPT("style", OPT_CHOICE, data.style, "plain", choice_style, 0, 0, "data",
        "prompt format: plain \"12+34=\", spaced \"12 + 34\" (seed 002)"),
    OPT("n", OPT_INT, data.n, "64000", NULL, 2, 100000000, "data",
        "examples to generate (train + test)"),
    OPT("test-frac", OPT_REAL, data.test_frac, "0.1", NULL, 0.0001, 0.9999, "data",
        "share of the examples held out for testing"),
    OPT_TEXT("train-csv", data.train_csv, "FILE", "data",
        "train on this CSV (columns src,tgt) instead of generated data"),
    OPT_TEXT("test-csv", data.test_csv, "FILE", "data",
        "test on this CSV (without it, --test-frac of --train-csv is held out)"),
    OPT("tokenizer", OPT_CHOICE, data.tokenizer, "auto", choice_tokenizer, 0, 0, "data",
        "char: one token per character; pairs: seed 001's aligned digit pairs (add; xor's bit "
        "pairs); words: one "
        "token per space-separated word (symbolic); auto: the task's own (`arith tasks`)"),
    {"reverse-answer", OPT_BOOL, offsetof(train_config, data.reverse_answer), sizeof(int),
     "auto", NULL, 0, 0, "data", NULL,
     "emit answers least significant digit first; auto: with the pairs tokenizer on add "
     "(the main job), else not", false, NULL, "auto"},
    OPT("reverse", OPT_BOOL, data.reverse, "false", NULL, 0, 0, "data",
        "digit formats: operands and answer least significant digit first (decoded back for "
        "checking)"),
    {"zero-pad", OPT_BOOL, offsetof(train_config, data.zero_pad), sizeof(int), "auto", NULL, 0,
     0, "data", NULL,
     "digit formats: zero-pad the operands to equal length and the answer to its longest "
     "(leading zeros are stripped for checking, except xor's); the pairs tokenizer pads its "
     "answers; auto: with the pairs tokenizer on add (the main job), else not", false, NULL,
     "auto"},
    OPT("index-hints", OPT_BOOL, data.index_hints, "false", NULL, 0, 0, "data",
        "digit formats: a hint token before each digit naming its significance (stripped for "
        "checking)"),
    OPT("hint-offset", OPT_INT, data.hint_offset, "0", NULL, 0, 199, "data",
        "--index-hints: training adds a random offset 0..hint-offset to each example's hints "
        "(kept within the 200 there are), so that the hints of lengths past training are "
        "trained too"),
    OPT("scratchpad", OPT_BOOL, data.scratchpad, "false", NULL, 0, 0, "data",
        "digit formats: the answer follows its intermediate results, each written as the answer "
        "is (mul: a times b's units, then per next digit of b the partial product and the "
        "running sum); only the answer is checked, `predict --scratchpad` shows them"),
    OPT("carries", OPT_BOOL, data.carries, "false", NULL, 0, 0, "data",
        "digit formats, reversed answers (add, mul): each answer digit is followed by a token "
        "naming its column's carry out, which the next column adds in (a product's column "
        "sums several digit products, so its carry can reach 9 per digit of b); only the "
        "digits are checked, `predict --scratchpad` shows the carries"),
    OPT("answer-width", OPT_INT, data.answer_width, "0", NULL, 0, 1000, "data",
        "right-align answers with spaces to this many characters, as seed 002 (0: off)"),
    OPT("carry-mix", OPT_REAL, data.carry_mix, "0.25", NULL, 0, 1, "data",
        "add, sub: share of the generated training examples replaced by carry-heavy ones "
        "(longest carry chain, for sub borrow chain, uniform over 0..digits, lengths apart, "
        "zeros); random digits almost never carry far (0: seed 001's data as drawn)"),
    OPT("repeats", OPT_BOOL, data.repeats, "false", NULL, 0, 0, "data",
        "generated training examples are drawn independently, repeats allowed, so every "
        "operand length pair keeps its share even where it has few problems (100 1x1 products "
        "among 1..5-digit ones); the test sets stay distinct and apart from them"),
    OPT("carry-n", OPT_INT, data.carry_n, "100", NULL, 0, 100000, "data",
        "add, sub: the carry-aware test set (scored beside the test set, saved as carry.csv) "
        "has this many examples per longest carry (sub: borrow) chain 0..digits (0: none)"),
    OPT_LISTED("model", model.family, "transformer", choice_model, model_kind_summary, "model",
               "model family"),
    OPT_TEXT("init", model.init, "FILE", "model",
        "gpt2: start from these GPT-2 weights (Hugging Face model.safetensors; sizes read from "
        "it) with new input and output layers for the task's vocabulary"),
    OPT_TEXT("train", model.train, "PATTERNS", "model",
        "train only parameters whose names contain one of these comma-separated patterns "
        "(seed 003: ln,wpe or ln,wpe,attn; gpt2's new in_layer/out_layer always train; "
        "empty: all)"),
    OPT("layers", OPT_INT, model.layers, "8", NULL, 1, 1000, "model",
        "transformer blocks, or stacked LSTM layers"),
    OPT("d-model", OPT_INT, model.d_model, "128", NULL, 1, 65536, "model",
        "model width (recurrent models: the embedding width)"),
    OPT("hidden", OPT_INT, model.hidden, "0", NULL, 0, 65536, "model",
        "LSTM hidden size (0: --d-model)"),
    OPT("head", OPT_CHOICE, model.head, "lm", choice_head, 0, 0, "model",
        "lm: next-token prediction; regression: one number per prompt, squared error "
        "(--model lstm)"),
    OPT("input", OPT_CHOICE, model.input, "embed", choice_input, 0, 0, "model",
        "how recurrent models read tokens: learned embedding or one-hot vectors"),
    OPT("readout", OPT_CHOICE, model.readout, "hidden", choice_readout, 0, 0, "model",
        "what --head regression reads at the last prompt column: the top LSTM layer's output "
        "h = o tanh(c) (seed 004), or its cell state c, which a counter can grow without "
        "saturating (--model lstm)"),
    OPT("forget-bias", OPT_REAL, model.forget_bias, "0", NULL, -100, 100, "model",
        "initial bias of the LSTM's forget gates (b_ih's forget slice; b_hh's is 0), so that "
        "the cell starts by keeping what it holds; 0: PyTorch's init (--model lstm)"),
    OPT("heads", OPT_INT, model.heads, "16", NULL, 1, 4096, "model", "attention heads"),
    OPT("ffn", OPT_INT, model.ffn, "64", NULL, 1, 1048576, "model", "feed-forward width"),
    OPT("dropout", OPT_REAL, model.dropout, "0.1", NULL, 0, 0.99, "model", "dropout probability"),
    OPT("norm", OPT_CHOICE, model.norm, "post", choice_norm, 0, 0, "model",
        "layer norm after (post, seed 001) or before (pre) each sub-block"),
    OPT("act", OPT_CHOICE, model.act, "relu", choice_act, 0, 0, "model",
        "feed-forward activation (gpt2: always gelu_tanh)"),
    OPT_LISTED("pos", model.pos, "rope", choice_pos, pos_kind_summary, "model",
               "positional scheme (transformer)"),
    OPT("pos-max", OPT_INT, model.pos_max, "0", NULL, 0, 65536, "model",
        "position ids run from 0 to pos-max - 1 (0: the context; abacus, coupling, coupling-rel, "
        "--rand-pos: 256)"),
    OPT("pos-offset", OPT_INT, model.pos_offset, "-1", NULL, -1, 65536, "model",
        "abacus, coupling, coupling-rel: training adds a random offset 0..pos-offset to every digit's id "
        "(-1: as far as pos-max allows)"),
    OPT("rand-pos", OPT_BOOL, model.rand_pos, "false", NULL, 0, 0, "model",
        "sinusoidal, learned, rope: positions are a sorted random draw from 0..pos-max-1 "
        "instead of 0, 1, 2, ... (Ruoss et al.)"),
    OPT("context", OPT_INT, model.context, "0", NULL, 0, 65536, "model",
        "longest sequence in tokens (0: fit the data)"),
    OPT("optim", OPT_CHOICE, optim.optim, "adamw", choice_optim, 0, 0, "optimization", "optimizer"),
    OPT_RESUMABLE("lr", OPT_REAL, optim.lr, "8e-4", NULL, 0, 10, "optimization",
                  "peak learning rate"),
    OPT("beta1", OPT_REAL, optim.beta1, "0.9", NULL, 0, 0.999999, "optimization", "Adam beta1"),
    OPT("beta2", OPT_REAL, optim.beta2, "0.999", NULL, 0, 0.999999, "optimization", "Adam beta2"),
    OPT_RESUMABLE("eps", OPT_REAL, optim.eps, "1e-8", NULL, 0, 1, "optimization",
                  "Adam epsilon"),
    OPT_RESUMABLE("weight-decay", OPT_REAL, optim.weight_decay, "0.01", NULL, 0, 10,
                  "optimization", "weight decay (decoupled for adamw, L2 for adam)"),
    OPT("schedule", OPT_CHOICE, optim.schedule, "cosine", choice_schedule, 0, 0, "optimization",
        "learning-rate schedule (cosine: linear warmup, then cosine decay to --min-lr; "
        "constant: seed 001's)"),
    OPT("warmup", OPT_INT, optim.warmup, "0", NULL, 0, 100000000, "optimization",
        "warmup steps (cosine schedule)"),
    OPT_RESUMABLE("min-lr", OPT_REAL, optim.min_lr, "0", NULL, 0, 10, "optimization",
                  "final learning rate of the cosine schedule"),
    OPT_RESUMABLE("clip-value", OPT_REAL, optim.clip_value, "0", NULL, 0, 1e9, "optimization",
                  "clip each gradient to [-v, v] (seed 000 uses 1; 0: off)"),
    OPT_RESUMABLE("clip-norm", OPT_REAL, optim.clip_norm, "0", NULL, 0, 1e9, "optimization",
                  "clip the global gradient norm (0: off)"),
    OPT("batch", OPT_INT, optim.batch, "64", NULL, 1, 65536, "optimization", "batch size"),
    OPT_RESUMABLE("epochs", OPT_INT, optim.epochs, "2", NULL, 1, 1000000, "optimization",
                  "passes over the data"),
    OPT_RESUMABLE("steps", OPT_INT, optim.steps, "0", NULL, 0, 1000000000, "optimization",
        "optimizer steps (overrides --epochs when > 0)"),
    OPT("seed", OPT_INT, run.seed, "1", NULL, 0, 9007199254740991.0, "run",
        "seed of data, initialization, order and dropout"),
    OPT("seeds", OPT_INT, run.seeds, "1", NULL, 1, 1000, "run",
        "run the experiment under seeds seed, seed+1, ... and report mean, spread, best and "
        "worst"),
    {"threads", OPT_INT, offsetof(train_config, run.threads), sizeof(int), "auto", NULL, 0, 1024,
     "run", "N|auto", "threads; auto: the cores other programs leave free at the start (all if none is)", true,
     NULL, "auto"},
    OPT_RESUMABLE("eval-every", OPT_INT, run.eval_every, "0", NULL, 0, 1000000000, "run",
        "steps between evaluations (0: each epoch)"),
    OPT_RESUMABLE("eval-n", OPT_INT, run.eval_n, "0", NULL, 0, 100000000, "run",
        "test examples per evaluation during training (0: all); the final one uses all"),
    OPT_RESUMABLE("eval-batch", OPT_INT, run.eval_batch, "64", NULL, 1, 65536, "run",
        "batch size of generation"),
    OPT_RESUMABLE("samples", OPT_INT, run.samples, "5", NULL, 0, 1000, "run",
        "sample predictions shown at each evaluation"),
    OPT("best-by", OPT_CHOICE, run.best_by, "accuracy", choice_best_by, 0, 0, "run",
        "what picks best.safetensors: test exact match, or test loss (seed 002)"),
    OPT_RESUMABLE("log-every", OPT_INT, run.log_every, "50", NULL, 1, 1000000000, "run",
        "steps between metrics lines in metrics.jsonl"),
    OPT_RESUMABLE("save-every", OPT_INT, run.save_every, "0", NULL, 0, 1000000000, "run",
        "also save last.safetensors every N steps, without an evaluation, so that a crash "
        "loses at most N steps (0: at evaluations only)"),
    OPT_RESUMABLE("skip-nonfinite", OPT_INT, run.skip_nonfinite, "0", NULL, 0, 1000000000,
        "run", "skip up to N batches whose loss or gradient norm is NaN or infinite (no "
        "update; counted and reported) before stopping the run (0: stop at the first)"),
    OPT_TEXT("run", run.dir, "DIR", "run",
        "run directory (default: runs/<task><digits>-<time>)"),
};
const option_table train_option_table = {"train", train_options,
                                         (int)(sizeof train_options / sizeof train_options[0])};

void train_config_defaults(train_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    options_defaults(&train_option_table, cfg);
}

arith_status train_config_set(train_config *cfg, const char *name, const char *value)
{
    return options_set(&train_option_table, cfg, name, value);
}

arith_status train_config_from_json(train_config *cfg, const char *json, const char *source)
{
    return options_from_json(&train_option_table, cfg, json, source);
}

char *train_config_to_json(const train_config *cfg)
{
    return options_to_json(&train_option_table, cfg);
}

void train_config_format(const train_config *cfg, const char *name, char *out, size_t cap)
{
    const option_spec *o = options_find(&train_option_table, name);
    if (o)
        option_format(o, cfg, out, cap);
    else
        snprintf(out, cap, "?");
}

void train_config_default_dir(const train_config *cfg, const char *suffix, char *out, size_t cap)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    const char *task = task_at(cfg->data.task) ? task_at(cfg->data.task)->name : "task";
    if (cfg->data.digits.lo == cfg->data.digits.hi)
        snprintf(out, cap, "runs/%s%d%s-%s", task, cfg->data.digits.hi, suffix, stamp);
    else
        snprintf(out, cap, "runs/%s%d-%d%s-%s", task, cfg->data.digits.lo, cfg->data.digits.hi,
                 suffix, stamp);
}

tokenizer_kind train_config_tokenizer(const data_settings *data)
{
    if (data->tokenizer != TOKENIZER_CHOICE_AUTO)
        return (tokenizer_kind)(data->tokenizer - TOKENIZER_CHOICE_CHAR);
    const task_def *def = task_at(data->task);
    return def ? def->tokenizer : TOK_CHAR;
}

static bool has_regression_head(const model_family *f)
{
    return f->regression_head;
}

static bool loads_pretrained(const model_family *f)
{
    return f->loads_pretrained;
}

static bool has_cell_readout(const model_family *f)
{
    return f->cell_readout;
}

static bool takes_forget_bias(const model_family *f)
{
    return f->forget_bias;
}

arith_status train_model_config(model_config *mc, const model_settings *ms)
{
    memset(mc, 0, sizeof *mc);
    const model_family *family = model_family_at(ms->family);
    if (!family)
        return arith_error(ARITH_ERR_ARG, "--model: unknown family %d", (int)ms->family);
    mc->kind = ms->family;
    mc->norm = ms->norm;
    mc->act = ms->act;
    mc->pos = ms->pos;
    mc->head = ms->head;
    mc->input = ms->input;
    mc->readout = ms->readout;
    mc->forget_bias = (float)ms->forget_bias;
    arith_status st = ARITH_OK;
    char families[128];
    if (mc->head == HEAD_REGRESSION && !family->regression_head) {
        model_kinds_text(families, sizeof families, has_regression_head);
        st = arith_error(ARITH_ERR_ARG, "--head regression needs --model %s (got --model %s)",
                         families, family->name);
    }
    if (!st && mc->readout == READOUT_CELL && !family->cell_readout) {
        model_kinds_text(families, sizeof families, has_cell_readout);
        st = arith_error(ARITH_ERR_ARG, "--readout cell reads an LSTM's cell state; it needs "
                         "--model %s (got --model %s)", families, family->name);
    }
    if (!st && mc->readout == READOUT_CELL && mc->head != HEAD_REGRESSION)
        st = arith_error(ARITH_ERR_ARG, "--readout cell is what the regression head reads; it "
                         "needs --head regression (got --head %s)", head_kind_name(mc->head));
    if (!st && mc->forget_bias != 0.0f && !family->forget_bias) {
        model_kinds_text(families, sizeof families, takes_forget_bias);
        st = arith_error(ARITH_ERR_ARG, "--forget-bias initializes an LSTM's forget gates; it "
                         "needs --model %s (got --model %s)", families, family->name);
    }
    if (!st && ms->init[0] && !family->loads_pretrained) {
        model_kinds_text(families, sizeof families, loads_pretrained);
        st = arith_error(ARITH_ERR_ARG, "--init loads GPT-2 weights; it needs --model %s (got "
                         "--model %s)", families, family->name);
    }
    mc->hidden = ms->hidden > 0 ? ms->hidden : ms->d_model;
    mc->d_model = ms->d_model;
    mc->heads = ms->heads;
    mc->ffn = ms->ffn;
    mc->layers = ms->layers;
    mc->dropout = (float)ms->dropout;
    mc->context = ms->context;
    mc->pos_max = ms->pos_max;
    if (!st && family->fix_choices) /* gpt2: its own norm, activation and positions */
        family->fix_choices(mc);
    return st;
}
