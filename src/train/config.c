/* The run configuration: one table of options, used by the command line (--flag value), by
 * config files (JSON objects whose keys are the flag names), by checkpoints (the config is
 * stored in their metadata) and by `arith train --help`. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "train/train.h"

#define OPT(name, type, field, def, choices, lo, hi, group, help)                              \
    {name, type, offsetof(train_config, field), sizeof(((train_config *)0)->field), def, choices, \
     lo, hi, group, help}

const option_spec train_options[] = {
    OPT("task", OPT_STRING, task, "add", "add,expr,count,xor,symbolic,mul", 0, 0, "data",
        "task to generate: add (a+b), expr (seed 000's expressions), count (ones in a binary "
        "string), xor (bitwise XOR of two bit strings, seed 003), symbolic (prefix-notation "
        "calculus, seed 003), mul (a*b)"),
    OPT("subtask", OPT_STRING, subtask, "derivative", "derivative,integral", 0, 0, "data",
        "symbolic: derivative (f -> f') or integral (f' -> f, generated backwards)"),
    OPT("digits", OPT_RANGE, digits, "9", NULL, 1, 100000, "data",
        "operand length in digits (count, xor: bits); N or A..B"),
    OPT("test-digits", OPT_RANGE, test_digits, "0", NULL, 0, 100000, "data",
        "lengths of the generated test set, N or A..B (0: as --digits)"),
    OPT("style", OPT_STRING, style, "plain", "plain,spaced", 0, 0, "data",
        "prompt format: plain \"12+34=\", spaced \"12 + 34\" (seed 002)"),
    OPT("n", OPT_INT, n, "64000", NULL, 2, 100000000, "data",
        "examples to generate (train + test)"),
    OPT("test-frac", OPT_REAL, test_frac, "0.1", NULL, 0.0001, 0.9999, "data",
        "share of the examples held out for testing"),
    OPT("train-csv", OPT_STRING, train_csv, "", NULL, 0, 0, "data",
        "train on this CSV (columns src,tgt) instead of generated data"),
    OPT("test-csv", OPT_STRING, test_csv, "", NULL, 0, 0, "data",
        "test on this CSV (without it, --test-frac of --train-csv is held out)"),
    OPT("tokenizer", OPT_STRING, tokenizer, "auto", "auto,char,pairs,words", 0, 0, "data",
        "char: one token per character; pairs: seed 001's aligned digit pairs; words: one "
        "token per space-separated word (symbolic); auto: pairs for add, words for symbolic, "
        "char otherwise"),
    OPT("reverse-answer", OPT_BOOL, reverse_answer, "false", NULL, 0, 0, "data",
        "emit answers least significant digit first"),
    OPT("reverse", OPT_BOOL, reverse, "false", NULL, 0, 0, "data",
        "add, mul: operands and answer least significant digit first (decoded back for "
        "checking)"),
    OPT("zero-pad", OPT_BOOL, zero_pad, "false", NULL, 0, 0, "data",
        "add, mul: zero-pad the operands to equal length and the answer to its longest "
        "(leading zeros are stripped for checking)"),
    OPT("index-hints", OPT_BOOL, index_hints, "false", NULL, 0, 0, "data",
        "add, mul: a hint token before each digit naming its significance (stripped for "
        "checking)"),
    OPT("answer-width", OPT_INT, answer_width, "0", NULL, 0, 1000, "data",
        "right-align answers with spaces to this many characters, as seed 002 (0: off)"),
    OPT("model", OPT_STRING, model, "transformer", "transformer,lstm,seq2seq,gpt2", 0, 0,
        "model", "model family: transformer (seed 001), lstm (seed 000, 004), seq2seq (seed "
        "002), gpt2 (seed 003: pre-LN, GELU-tanh, learned positions, Hugging Face's layout)"),
    OPT("init", OPT_STRING, init, "", NULL, 0, 0, "model",
        "gpt2: start from these GPT-2 weights (Hugging Face model.safetensors; sizes read from "
        "it) with new input and output layers for the task's vocabulary"),
    OPT("train", OPT_STRING, train, "", NULL, 0, 0, "model",
        "train only parameters whose names contain one of these comma-separated patterns "
        "(seed 003: ln,wpe or ln,wpe,attn; gpt2's new in_layer/out_layer always train; "
        "empty: all)"),
    OPT("layers", OPT_INT, layers, "8", NULL, 1, 1000, "model",
        "transformer blocks, or stacked LSTM layers"),
    OPT("d-model", OPT_INT, d_model, "128", NULL, 1, 65536, "model",
        "model width (recurrent models: the embedding width)"),
    OPT("hidden", OPT_INT, hidden, "0", NULL, 0, 65536, "model",
        "LSTM hidden size (0: --d-model)"),
    OPT("head", OPT_STRING, head, "lm", "lm,regression", 0, 0, "model",
        "lm: next-token prediction; regression: one number per prompt, squared error "
        "(--model lstm)"),
    OPT("input", OPT_STRING, input, "embed", "embed,onehot", 0, 0, "model",
        "how recurrent models read tokens: learned embedding or one-hot vectors"),
    OPT("heads", OPT_INT, heads, "16", NULL, 1, 4096, "model", "attention heads"),
    OPT("ffn", OPT_INT, ffn, "64", NULL, 1, 1048576, "model", "feed-forward width"),
    OPT("dropout", OPT_REAL, dropout, "0.1", NULL, 0, 0.99, "model", "dropout probability"),
    OPT("norm", OPT_STRING, norm, "post", "post,pre", 0, 0, "model",
        "layer norm after (post, seed 001) or before (pre) each sub-block"),
    OPT("act", OPT_STRING, act, "relu", "relu,gelu,gelu_tanh", 0, 0, "model",
        "feed-forward activation (gpt2: always gelu_tanh)"),
    OPT("pos", OPT_STRING, pos, "rope",
        "none,sinusoidal,learned,rope,alibi,fire,abacus,coupling", 0, 0, "model",
        "positional scheme: none (NoPE), sinusoidal, learned, rope, alibi, fire (learned "
        "relative bias), abacus (a digit's index in its number), coupling (digits of equal "
        "significance share a position)"),
    OPT("pos-max", OPT_INT, pos_max, "0", NULL, 0, 65536, "model",
        "position ids run from 0 to pos-max - 1 (0: the context; abacus, coupling, --rand-pos: 256)"),
    OPT("pos-offset", OPT_INT, pos_offset, "-1", NULL, -1, 65536, "model",
        "abacus, coupling: training adds a random offset 0..pos-offset to every digit's id "
        "(-1: as far as pos-max allows)"),
    OPT("rand-pos", OPT_BOOL, rand_pos, "false", NULL, 0, 0, "model",
        "sinusoidal, learned: positions are a sorted random draw from 0..pos-max-1 instead of "
        "0, 1, 2, ... (Ruoss et al.)"),
    OPT("context", OPT_INT, context, "0", NULL, 0, 65536, "model",
        "longest sequence in tokens (0: fit the data)"),
    OPT("optim", OPT_STRING, optim, "adamw", "adam,adamw", 0, 0, "optimization", "optimizer"),
    OPT("lr", OPT_REAL, lr, "8e-4", NULL, 0, 10, "optimization", "peak learning rate"),
    OPT("beta1", OPT_REAL, beta1, "0.9", NULL, 0, 0.999999, "optimization", "Adam beta1"),
    OPT("beta2", OPT_REAL, beta2, "0.999", NULL, 0, 0.999999, "optimization", "Adam beta2"),
    OPT("eps", OPT_REAL, eps, "1e-8", NULL, 0, 1, "optimization", "Adam epsilon"),
    OPT("weight-decay", OPT_REAL, weight_decay, "0.01", NULL, 0, 10, "optimization",
        "weight decay (decoupled for adamw, L2 for adam)"),
    OPT("schedule", OPT_STRING, schedule, "constant", "constant,cosine", 0, 0, "optimization",
        "learning-rate schedule (cosine: linear warmup, then cosine decay to --min-lr)"),
    OPT("warmup", OPT_INT, warmup, "0", NULL, 0, 100000000, "optimization",
        "warmup steps (cosine schedule)"),
    OPT("min-lr", OPT_REAL, min_lr, "0", NULL, 0, 10, "optimization",
        "final learning rate of the cosine schedule"),
    OPT("clip-value", OPT_REAL, clip_value, "0", NULL, 0, 1e9, "optimization",
        "clip each gradient to [-v, v] (seed 000 uses 1; 0: off)"),
    OPT("clip-norm", OPT_REAL, clip_norm, "0", NULL, 0, 1e9, "optimization",
        "clip the global gradient norm (0: off)"),
    OPT("batch", OPT_INT, batch, "64", NULL, 1, 65536, "optimization", "batch size"),
    OPT("epochs", OPT_INT, epochs, "2", NULL, 1, 1000000, "optimization", "passes over the data"),
    OPT("steps", OPT_INT, steps, "0", NULL, 0, 1000000000, "optimization",
        "optimizer steps (overrides --epochs when > 0)"),
    OPT("seed", OPT_INT, seed, "1", NULL, 0, 9007199254740991.0, "run",
        "seed of data, initialization, order and dropout"),
    OPT("seeds", OPT_INT, seeds, "1", NULL, 1, 1000, "run",
        "run the experiment under seeds seed, seed+1, ... and report mean, spread, best and "
        "worst"),
    OPT("threads", OPT_INT, threads, "0", NULL, 0, 1024, "run", "threads (0: all cores)"),
    OPT("eval-every", OPT_INT, eval_every, "0", NULL, 0, 1000000000, "run",
        "steps between evaluations (0: each epoch)"),
    OPT("eval-n", OPT_INT, eval_n, "0", NULL, 0, 100000000, "run",
        "test examples per evaluation during training (0: all); the final one uses all"),
    OPT("eval-batch", OPT_INT, eval_batch, "64", NULL, 1, 65536, "run",
        "batch size of generation"),
    OPT("samples", OPT_INT, samples, "5", NULL, 0, 1000, "run",
        "sample predictions shown at each evaluation"),
    OPT("best-by", OPT_STRING, best_by, "accuracy", "accuracy,loss", 0, 0, "run",
        "what picks best.safetensors: test exact match, or test loss (seed 002)"),
    OPT("log-every", OPT_INT, log_every, "50", NULL, 1, 1000000000, "run",
        "steps between metrics lines in metrics.jsonl"),
    OPT("run", OPT_STRING, run, "", NULL, 0, 0, "run",
        "run directory (default: runs/<task><digits>-<time>)"),
};
const int train_option_count = (int)(sizeof train_options / sizeof train_options[0]);

arith_status int_range_parse(int_range *out, const char *text, const char *flag, int min,
                             int max)
{
    long long lo = 0, hi = 0;
    char *end = NULL;
    errno = 0;
    lo = strtoll(text, &end, 10);
    bool ok = errno == 0 && end != text;
    if (ok && strncmp(end, "..", 2) == 0) {
        const char *rest = end + 2;
        hi = strtoll(rest, &end, 10);
        ok = errno == 0 && end != rest;
    } else {
        hi = lo;
    }
    if (!ok || *end != '\0' || lo > hi || lo < 0)
        return arith_error(ARITH_ERR_ARG, "--%s: '%s' is not a length or a range (valid: N or "
                           "A..B with A <= B)", flag, text);
    if (lo < min || hi > max)
        return arith_error(ARITH_ERR_ARG, "--%s: %s is out of range (%d..%d)", flag, text, min,
                           max);
    out->lo = (int)lo;
    out->hi = (int)hi;
    return ARITH_OK;
}

const option_spec *train_option_find(const char *name)
{
    for (int i = 0; i < train_option_count; i++)
        if (strcmp(train_options[i].name, name) == 0)
            return &train_options[i];
    return NULL;
}

static bool in_choices(const char *choices, const char *value)
{
    size_t n = strlen(value);
    for (const char *p = choices; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, value, n) == 0)
            return true;
        p += len + (end ? 1 : 0);
    }
    return false;
}

static arith_status set_option(train_config *cfg, const option_spec *o, const char *value)
{
    char *field = (char *)cfg + o->offset;
    char *end = NULL;
    switch (o->type) {
    case OPT_STRING:
        if (o->choices && !in_choices(o->choices, value))
            return arith_error(ARITH_ERR_ARG, "--%s: unknown value '%s' (valid: %s)", o->name,
                               value, o->choices);
        if (strlen(value) >= o->size)
            return arith_error(ARITH_ERR_ARG, "--%s: value too long (at most %zu characters)",
                               o->name, o->size - 1);
        memcpy(field, value, strlen(value) + 1);
        return ARITH_OK;
    case OPT_BOOL:
        if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0 || strcmp(value, "yes") == 0)
            *(bool *)field = true;
        else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0 ||
                 strcmp(value, "no") == 0)
            *(bool *)field = false;
        else
            return arith_error(ARITH_ERR_ARG, "--%s: '%s' is not a boolean (valid: true, false)",
                               o->name, value);
        return ARITH_OK;
    case OPT_INT: {
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end != '\0')
            return arith_error(ARITH_ERR_ARG, "--%s: '%s' is not an integer", o->name, value);
        if ((double)v < o->min || (double)v > o->max)
            return arith_error(ARITH_ERR_ARG, "--%s: %lld is out of range (%.0f..%.0f)", o->name,
                               v, o->min, o->max);
        if (o->size == sizeof(long long))
            *(long long *)field = v;
        else
            *(int *)field = (int)v;
        return ARITH_OK;
    }
    case OPT_RANGE:
        return int_range_parse((int_range *)field, value, o->name, (int)o->min, (int)o->max);
    case OPT_REAL: {
        errno = 0;
        double v = strtod(value, &end);
        if (errno || end == value || *end != '\0' || !isfinite(v))
            return arith_error(ARITH_ERR_ARG, "--%s: '%s' is not a number", o->name, value);
        if (v < o->min || v > o->max)
            return arith_error(ARITH_ERR_ARG, "--%s: %g is out of range (%g..%g)", o->name, v,
                               o->min, o->max);
        *(double *)field = v;
        return ARITH_OK;
    }
    }
    return arith_error(ARITH_ERR_ARG, "--%s: bad option type", o->name);
}

arith_status train_config_set(train_config *cfg, const char *name, const char *value)
{
    const option_spec *o = train_option_find(name);
    if (!o)
        return arith_error(ARITH_ERR_ARG, "unknown option --%s\nhint: arith train --help lists "
                           "every option", name);
    return set_option(cfg, o, value);
}

void train_config_defaults(train_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (int i = 0; i < train_option_count; i++)
        if (set_option(cfg, &train_options[i], train_options[i].default_value) != ARITH_OK)
            abort(); /* a default that does not parse is a bug in the table */
}

arith_status train_config_from_json(train_config *cfg, const char *json, const char *source)
{
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return arith_error(ARITH_ERR_FORMAT, "%s: not a JSON object of options", source);
    }
    arith_status st = ARITH_OK;
    for (cJSON *item = root->child; item && st == ARITH_OK; item = item->next) {
        const option_spec *o = train_option_find(item->string);
        if (!o) {
            st = arith_error(ARITH_ERR_ARG, "%s: unknown option \"%s\"\nhint: the keys are the "
                             "flag names of arith train --help, without --", source,
                             item->string);
            break;
        }
        char text[64];
        const char *value = text;
        if (cJSON_IsString(item))
            value = item->valuestring;
        else if (cJSON_IsBool(item))
            value = cJSON_IsTrue(item) ? "true" : "false";
        else if (cJSON_IsNumber(item)) {
            if (o->type == OPT_INT || o->type == OPT_RANGE)
                snprintf(text, sizeof text, "%.0f", item->valuedouble);
            else
                snprintf(text, sizeof text, "%.17g", item->valuedouble);
            if ((o->type == OPT_INT || o->type == OPT_RANGE) &&
                item->valuedouble != floor(item->valuedouble)) {
                st = arith_error(ARITH_ERR_ARG, "%s: \"%s\" must be an integer (got %g)", source,
                                 item->string, item->valuedouble);
                break;
            }
        } else {
            st = arith_error(ARITH_ERR_ARG, "%s: \"%s\" must be a string, number or boolean",
                             source, item->string);
            break;
        }
        st = set_option(cfg, o, value);
        if (st)
            arith_error_wrap(st, "%s: ", source);
    }
    cJSON_Delete(root);
    return st;
}

char *train_config_to_json(const train_config *cfg)
{
    cJSON *root = cJSON_CreateObject();
    for (int i = 0; i < train_option_count; i++) {
        const option_spec *o = &train_options[i];
        const char *field = (const char *)cfg + o->offset;
        switch (o->type) {
        case OPT_STRING:
            cJSON_AddStringToObject(root, o->name, field);
            break;
        case OPT_BOOL:
            cJSON_AddBoolToObject(root, o->name, *(const bool *)field);
            break;
        case OPT_INT:
            cJSON_AddNumberToObject(root, o->name,
                                    o->size == sizeof(long long) ? (double)*(const long long *)field
                                                                 : (double)*(const int *)field);
            break;
        case OPT_REAL:
            cJSON_AddNumberToObject(root, o->name, *(const double *)field);
            break;
        case OPT_RANGE: {
            /* a single length stays a number, as configs have always written it */
            const int_range *r = (const int_range *)field;
            if (r->lo == r->hi) {
                cJSON_AddNumberToObject(root, o->name, r->lo);
            } else {
                char text[32];
                snprintf(text, sizeof text, "%d..%d", r->lo, r->hi);
                cJSON_AddStringToObject(root, o->name, text);
            }
            break;
        }
        }
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

void train_config_print_help(FILE *out)
{
    fprintf(out, "usage: arith train [--config FILE] [--resume RUN_DIR] [--OPTION VALUE ...]\n\n"
                 "Trains a model; every option can also be a key of the JSON --config file\n"
                 "(command-line flags win over the file). Defaults reproduce seed 001's setup.\n");
    const char *group = "";
    for (int i = 0; i < train_option_count; i++) {
        const option_spec *o = &train_options[i];
        if (strcmp(group, o->group) != 0) {
            group = o->group;
            fprintf(out, "\n%s:\n", group);
        }
        char flag[64];
        snprintf(flag, sizeof flag, "--%s %s", o->name,
                 o->type == OPT_BOOL     ? "[BOOL]"
                 : o->type == OPT_INT    ? "N"
                 : o->type == OPT_RANGE  ? "N|A..B"
                 : o->type == OPT_REAL   ? "X"
                 : o->choices            ? "NAME"
                                         : "TEXT");
        fprintf(out, "  %-24s %s", flag, o->help);
        if (o->choices)
            fprintf(out, " {%s}", o->choices);
        fprintf(out, " (default: %s)\n", o->default_value[0] ? o->default_value : "none");
    }
    fprintf(out, "\nother:\n  %-24s %s\n  %-24s %s\n  %-24s %s\n", "--config FILE",
            "read options from a JSON object", "--resume RUN_DIR",
            "continue a run from its last checkpoint (add --steps/--epochs to extend it)",
            "--help", "this text");
}

arith_status train_model_config(model_config *mc, const train_config *cfg)
{
    memset(mc, 0, sizeof *mc);
    arith_status st = model_kind_parse(&mc->kind, cfg->model);
    if (!st)
        st = norm_kind_parse(&mc->norm, cfg->norm);
    if (!st)
        st = act_kind_parse(&mc->act, cfg->act);
    if (!st)
        st = pos_kind_parse(&mc->pos, cfg->pos);
    if (!st)
        st = head_kind_parse(&mc->head, cfg->head);
    if (!st)
        st = input_kind_parse(&mc->input, cfg->input);
    if (!st && mc->head == HEAD_REGRESSION && mc->kind != MODEL_LSTM)
        st = arith_error(ARITH_ERR_ARG, "--head regression needs --model lstm (got --model %s)",
                         cfg->model);
    if (!st && mc->kind == MODEL_GPT2) {
        /* GPT-2's fixed design. GPT-2 ties its head to wte for its own 50257-token vocabulary;
         * arith's tasks have vocabularies of their own, so the model reads and writes them
         * through seed 003's new input and output layers (tie stays for the library's callers) */
        mc->norm = NORM_PRE;
        mc->act = ACT_GELU_TANH;
        mc->pos = POS_LEARNED;
        mc->tie = false;
    }
    if (!st && cfg->init[0] && mc->kind != MODEL_GPT2)
        st = arith_error(ARITH_ERR_ARG, "--init loads GPT-2 weights; it needs --model gpt2 (got "
                         "--model %s)", cfg->model);
    mc->hidden = cfg->hidden > 0 ? cfg->hidden : cfg->d_model;
    mc->d_model = cfg->d_model;
    mc->heads = cfg->heads;
    mc->ffn = cfg->ffn;
    mc->layers = cfg->layers;
    mc->dropout = (float)cfg->dropout;
    mc->context = cfg->context;
    mc->pos_max = cfg->pos_max;
    if (!st && mc->kind == MODEL_GPT2)
        mc->pos_max = 0; /* wpe has a row per context position */
    return st;
}
