/* Sessions: everything a run needs (data, tokenizer, model) built from a config, or loaded
 * from a saved run, and the one description of a run that headers and titles print. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io.h"
#include "train/train.h"

static arith_status load_split_csv(session *s)
{
    const train_config *cfg = &s->cfg;
    arith_status st = dataset_load_csv_as(&s->train, cfg->data.train_csv, &s->task);
    if (st)
        return st;
    if (cfg->data.test_csv[0])
        return dataset_load_csv_as(&s->test, cfg->data.test_csv, &s->task);
    /* hold out the last test_frac of the training file, as seed 001 splits its data */
    int n_test = (int)(s->train.count * cfg->data.test_frac + 0.5);
    if (n_test < 1 || n_test >= s->train.count)
        return arith_error(ARITH_ERR_DATA, "%s: %d rows are too few to split off a test set "
                           "(--test-frac %g)\nhint: give --test-csv", cfg->data.train_csv,
                           s->train.count, cfg->data.test_frac);
    for (int i = s->train.count - n_test; i < s->train.count; i++) {
        st = examples_push(&s->test, s->train.items[i].prompt, s->train.items[i].answer);
        if (st)
            return st;
        free(s->train.items[i].prompt);
        free(s->train.items[i].answer);
    }
    s->train.count -= n_test;
    return ARITH_OK;
}

/* A family that emits every answer position at once (seq2seq) emits a fixed number of answer
 * tokens: every answer must have that length. */
static arith_status check_fixed_answers(const session *s)
{
    const encoded_set *sets[2] = {&s->train_enc, &s->test_enc};
    const int W = s->train_enc.max_answer;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < sets[k]->count; i++)
            if (sets[k]->answer_len[i] != W)
                return arith_error(ARITH_ERR_DATA, "--model %s emits answers of one fixed "
                                   "width, but %s example %d (\"%s\") has %d characters where "
                                   "others have %d\nhint: --answer-width N right-aligns every "
                                   "answer to N characters, as seed 002 does",
                                   model_kind_name(s->cfg.model.family), k ? "test" : "training",
                                   i + 1, (k ? &s->test : &s->train)->items[i].answer,
                                   sets[k]->answer_len[i] - 1, W - 1);
    return ARITH_OK;
}

/* The regression head learns numbers: every answer must be one. */
static arith_status check_numeric_answers(const session *s)
{
    const encoded_set *sets[2] = {&s->train_enc, &s->test_enc};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < sets[k]->count; i++)
            if (isnan(sets[k]->value[i]))
                return arith_error(ARITH_ERR_DATA, "--head regression needs numeric answers, "
                                   "but %s example %d has \"%s\"", k ? "test" : "training",
                                   i + 1, (k ? &s->test : &s->train)->items[i].answer);
    return ARITH_OK;
}

/* Which tasks take a setting, for the messages that name them. */
static bool takes_spaced(const task_def *def)
{
    return def->spaced;
}

static bool has_format(const task_def *def)
{
    return def->format != NULL;
}

static bool has_scratchpad(const task_def *def)
{
    return def->format != NULL && def->format->scratch_steps != NULL;
}

static bool has_carries(const task_def *def)
{
    return def->format != NULL && def->format->column_sum != NULL;
}

arith_status train_task_config(task_config *task, const data_settings *data,
                                     int_range range)
{
    memset(task, 0, sizeof *task);
    arith_status st = ARITH_OK;
    task->def = task_at(data->task);
    if (!task->def)
        return arith_error(ARITH_ERR_ARG, "--task: no task %d", data->task);
    task->style = data->style;
    task->subtask = data->subtask;
    sym_config_default(&task->sym);
    task->digits = range.hi;
    /* a single length keeps seed 001's digit-by-digit draw; a range draws each length */
    task->digits_min = range.lo < range.hi ? range.lo : 0;
    task->digits_b = data->digits_b.hi;
    task->digits_b_min = data->digits_b.lo < data->digits_b.hi ? data->digits_b.lo : 0;
    if (!st && task->style == STYLE_SPACED && !task->def->spaced) {
        char names[256];
        task_names(names, sizeof names, takes_spaced);
        st = arith_error(ARITH_ERR_ARG, "--style spaced is seed 002's addition format; it needs "
                         "--task %s (got --task %s)", names, task->def->name);
    }
    return st;
}

/* Generates the training and test sets; with --test-digits the test set has lengths of its
 * own, and with --repeats the training set is drawn with repeats and then the test set apart
 * from it. A test prompt is never a training prompt. */
static arith_status generate_split(session *s)
{
    const train_config *cfg = &s->cfg;
    int n_test = (int)(cfg->data.n * cfg->data.test_frac + 0.5);
    if (n_test < 1)
        n_test = 1;
    if (cfg->data.repeats) {
        task_config test_task = s->task;
        arith_status st = ARITH_OK;
        if (cfg->data.test_digits.hi > 0)
            st = train_task_config(&test_task, &cfg->data, cfg->data.test_digits);
        example_set none;
        examples_init(&none);
        if (!st)
            st = dataset_draw(&s->train, &s->task, cfg->data.n - n_test, (uint64_t)cfg->run.seed);
        if (!st)
            st = dataset_generate(&none, &s->test, &test_task, 0, n_test,
                                  rng_hash((uint64_t)cfg->run.seed, 0x7e57ULL), &s->train);
        examples_free(&none);
        return st;
    }
    if (cfg->data.test_digits.hi == 0)
        return dataset_generate(&s->train, &s->test, &s->task, cfg->data.n - n_test, n_test,
                                (uint64_t)cfg->run.seed, NULL);
    task_config test_task;
    arith_status st = train_task_config(&test_task, &cfg->data, cfg->data.test_digits);
    example_set none;
    examples_init(&none);
    if (!st)
        st = dataset_generate(&s->train, &none, &s->task, cfg->data.n - n_test, 0,
                              (uint64_t)cfg->run.seed, NULL);
    if (!st)
        st = dataset_generate(&none, &s->test, &test_task, 0, n_test,
                              rng_hash((uint64_t)cfg->run.seed, 0x7e57ULL), &s->train);
    examples_free(&none);
    return st;
}

/* The carry-aware test set, drawn from a fixed seed so that runs on the same task share it
 * (less any prompt of the run's training set), then, for generated training data, --carry-mix
 * of the training sums replaced by carry-heavy ones that are in neither test set nor among the
 * edge cases. Tasks without carries have neither. */
static arith_status carry_data(session *s, bool generated)
{
    const train_config *cfg = &s->cfg;
    if (!task_has_carries(&s->task))
        return ARITH_OK;
    arith_status st = ARITH_OK;
    if (cfg->data.carry_n > 0)
        st = carry_set_generate(&s->carry, &s->task, cfg->data.carry_n,
                                carry_set_seed(&s->task), &s->train);
    if (st || cfg->data.carry_mix <= 0 || !generated)
        return st;
    /* kept out of the training data: the carry-aware set and the edge cases */
    example_set held;
    examples_init(&held);
    st = task_edge_cases(&s->task, &held);
    for (int i = 0; i < s->carry.count && !st; i++)
        st = examples_push(&held, s->carry.items[i].prompt, s->carry.items[i].answer);
    if (!st)
        st = dataset_mix_carries(&s->train, &s->task, cfg->data.carry_mix,
                                 (uint64_t)cfg->run.seed, &s->test, &held);
    examples_free(&held);
    return st;
}

static bool takes_positions(const model_family *f)
{
    return f->takes_positions;
}

static bool draws_random(const pos_scheme *p)
{
    return p->rand_pos;
}

/* How positions are numbered (tokenizer_set_positions), from --pos, --pos-max, --pos-offset
 * and --rand-pos, as the scheme asks; fills in the default --pos-max. */
static arith_status session_positions(session *s)
{
    model_settings *ms = &s->cfg.model;
    const pos_kind pk = ms->pos;
    const pos_scheme *scheme = pos_scheme_at(pk);
    const model_family *family = model_family_at(ms->family);
    if (!scheme || !family)
        return arith_error(ARITH_ERR_ARG, "unknown --pos %d or --model %d", (int)pk,
                           (int)ms->family);
    const bool by_data = scheme->ids != POSIDS_COLUMNS;
    if ((!scheme->ignorable || ms->rand_pos) && !family->takes_positions) {
        char families[128];
        model_kinds_text(families, sizeof families, takes_positions);
        return arith_error(ARITH_ERR_ARG, "--pos %s%s is a scheme of --model %s (got "
                           "--model %s)", pos_kind_name(pk), ms->rand_pos ? " --rand-pos" : "",
                           families, model_kind_name(ms->family));
    }
    if (by_data && !s->task.def->format) {
        char names[256];
        task_names(names, sizeof names, has_format);
        return arith_error(ARITH_ERR_ARG, "--pos %s numbers the digits of %s (got --task %s)",
                           pos_kind_name(pk), names, s->task.def->name);
    }
    if (ms->rand_pos && !scheme->rand_pos) {
        char schemes[128];
        pos_kinds_text(schemes, sizeof schemes, draws_random, "and");
        return arith_error(ARITH_ERR_ARG, "--rand-pos draws positions for %s (got --pos %s)",
                           schemes, pos_kind_name(pk));
    }
    if (ms->pos_max == 0 && (by_data || ms->rand_pos))
        ms->pos_max = scheme->data_pos_max;
    if (!by_data && !ms->rand_pos)
        return ARITH_OK; /* positions are columns; pos_max (0: the context) sizes the tables */
    if (scheme->fixed_ids && ms->pos_offset > 0)
        return arith_error(ARITH_ERR_ARG, "--pos %s reads ids 1..3 as the operands' lowest "
                           "digits, so training must not offset them: --pos-offset 0 (got %d)",
                           pos_kind_name(pk), ms->pos_offset);
    const int offset = scheme->fixed_ids ? 0 : ms->pos_offset < 0 ? ms->pos_max : ms->pos_offset;
    posids_plan plan = {ms->rand_pos ? POSIDS_RANDOM : scheme->ids, ms->pos_max, offset, false};
    return tokenizer_set_positions(&s->tok, plan);
}

arith_status session_open(session *s, const train_config *cfg, const char *data_dir)
{
    memset(s, 0, sizeof *s);
    s->lock_fd = -1;
    s->cfg = *cfg;
    examples_init(&s->train);
    examples_init(&s->test);
    core_set_threads(cfg->run.threads);
    const data_settings *data = &cfg->data;
    arith_status st = train_task_config(&s->task, data, data->digits);
    const tokenizer_kind tk = train_config_tokenizer(data);
    if (!st && !(s->task.def->tokenizers & 1u << tk)) {
        char valid[64] = "";
        for (int k = 0; tokenizer_name((tokenizer_kind)k); k++)
            if (s->task.def->tokenizers & 1u << k)
                snprintf(valid + strlen(valid), sizeof valid - strlen(valid), "%s%s",
                         valid[0] ? " or " : "", tokenizer_name((tokenizer_kind)k));
        st = arith_error(ARITH_ERR_ARG, "--task %s needs --tokenizer %s (got --tokenizer %s)",
                         s->task.def->name, valid, tokenizer_name(tk));
    }
    /* --reverse-answer and --zero-pad auto: on for seed 001's pairs on a task with carries
     * (add), where every answer as long as the longest and least significant digit first is
     * what lets a model learn 0+0 and long carry chains; off otherwise. The run's config
     * records what they came to. */
    const bool pairs_sums = !st && tk == TOK_PAIRS && task_has_carries(&s->task);
    if (s->cfg.data.reverse_answer < 0)
        s->cfg.data.reverse_answer = pairs_sums;
    if (s->cfg.data.zero_pad < 0)
        s->cfg.data.zero_pad = pairs_sums;
    cfg = &s->cfg;
    data = &cfg->data;
    if (!st)
        st = tokenizer_init(&s->tok, tk, cfg->data.digits.hi, cfg->data.reverse_answer);
    if (st)
        return st;
    tokenizer_set_answer_width(&s->tok, cfg->data.answer_width);
    if ((cfg->data.reverse || cfg->data.zero_pad || cfg->data.index_hints) &&
        !s->task.def->format) {
        char names[256];
        task_names(names, sizeof names, has_format);
        return arith_error(ARITH_ERR_ARG, "--reverse, --zero-pad and --index-hints format the "
                           "operands of %s (got --task %s)", names, s->task.def->name);
    }
    if (cfg->data.hint_offset > 0 && !cfg->data.index_hints)
        return arith_error(ARITH_ERR_ARG, "--hint-offset %d offsets index hints: add "
                           "--index-hints", cfg->data.hint_offset);
    st = tokenizer_set_format(&s->tok, s->task.def->format, cfg->data.reverse,
                              cfg->data.zero_pad, cfg->data.index_hints);
    if (!st && cfg->data.scratchpad && !has_scratchpad(s->task.def)) {
        char names[256];
        task_names(names, sizeof names, has_scratchpad);
        return arith_error(ARITH_ERR_ARG, "--scratchpad writes the intermediate results of %s "
                           "(got --task %s)", names, s->task.def->name);
    }
    if (!st)
        st = tokenizer_set_scratchpad(&s->tok, cfg->data.scratchpad);
    if (!st && cfg->data.carries && !has_carries(s->task.def)) {
        char names[256];
        task_names(names, sizeof names, has_carries);
        return arith_error(ARITH_ERR_ARG, "--carries writes the column carries of %s (got "
                           "--task %s)", names, s->task.def->name);
    }
    if (!st)
        st = tokenizer_set_carries(&s->tok, cfg->data.carries);
    if (!st)
        st = session_positions(s);
    if (st)
        return st;

    bool have_carry = false;
    if (data_dir) {
        char path[TRAIN_PATH_MAX + 32];
        st = io_join_path(path, sizeof path, data_dir, "train.csv");
        if (!st)
            st = dataset_load_csv_as(&s->train, path, &s->task);
        if (!st)
            st = io_join_path(path, sizeof path, data_dir, "test.csv");
        if (!st)
            st = dataset_load_csv_as(&s->test, path, &s->task);
        /* the carry-aware test set the run was scored on (runs from before it have none:
         * it is drawn below) */
        if (!st)
            st = io_join_path(path, sizeof path, data_dir, "carry.csv");
        if (!st && access(path, F_OK) == 0) {
            st = dataset_load_csv_as(&s->carry, path, &s->task);
            have_carry = true;
        }
    } else if (cfg->data.train_csv[0]) {
        st = load_split_csv(s);
    } else {
        if (cfg->data.test_csv[0])
            return arith_error(ARITH_ERR_ARG, "--test-csv needs --train-csv");
        st = generate_split(s);
    }
    if (!st && !have_carry)
        st = carry_data(s, !data_dir && !cfg->data.train_csv[0]);
    if (st)
        return st;
    if (s->train.count < 1 || s->test.count < 1)
        return arith_error(ARITH_ERR_DATA, "need at least one training and one test example "
                           "(have %d and %d)", s->train.count, s->test.count);

    s->test_in_train = dataset_count_overlap(&s->train, &s->test);
    st = encoded_build(&s->train_enc, &s->train, &s->tok,
                       cfg->data.train_csv[0] && !data_dir ? cfg->data.train_csv : "training set");
    s->train_enc.plan.train = true; /* random offsets and fresh draws in training only */
    s->train_enc.hint_offset = cfg->data.hint_offset;
    if (!st)
        st = encoded_build(&s->test_enc, &s->test, &s->tok,
                           cfg->data.test_csv[0] && !data_dir ? cfg->data.test_csv : "test set");
    if (st)
        return st;
    int need = s->train_enc.max_prompt + s->train_enc.max_answer;
    int need_test = s->test_enc.max_prompt + s->test_enc.max_answer;
    if (need_test > need)
        need = need_test;
    if (s->cfg.model.context == 0)
        s->cfg.model.context = need;
    else if (s->cfg.model.context < need)
        return arith_error(ARITH_ERR_DATA, "--context %d is too short: the data needs %d tokens "
                           "(longest prompt + answer)", s->cfg.model.context, need);

    /* GPT-2 weights to start from (a new run; a saved run has its sizes in its config and its
     * weights in its checkpoint) */
    gpt2_pretrained pre;
    bool have_pre = false;
    if (cfg->model.init[0] && !data_dir) {
        st = gpt2_pretrained_read(&pre, cfg->model.init);
        if (st)
            return st;
        have_pre = true;
        s->cfg.model.d_model = pre.d_model;
        s->cfg.model.layers = pre.layers;
        s->cfg.model.ffn = pre.ffn;
        s->cfg.model.heads = pre.heads;
        if (pre.context < need) {
            gpt2_pretrained_free(&pre);
            return arith_error(ARITH_ERR_DATA, "%s: GPT-2's %d positions are too few for the "
                               "data's %d tokens (longest prompt + answer)", cfg->model.init,
                               pre.context, need);
        }
        s->cfg.model.context = pre.context;
    }
    model_config mc;
    st = train_model_config(&mc, &s->cfg.model);
    mc.vocab = s->tok.vocab_size;
    mc.context = s->cfg.model.context;
    mc.answer_len = s->train_enc.max_answer;
    if (!st && !model_family_at(mc.kind)->token_by_token)
        st = check_fixed_answers(s);
    if (!st && mc.head == HEAD_REGRESSION)
        st = check_numeric_answers(s);
    if (!st)
        st = model_create(&s->model, &mc);
    if (!st) {
        rng_state rng;
        rng_seed(&rng, (uint64_t)cfg->run.seed ^ 0x5eed1417ULL);
        model_init_weights(s->model, &rng);
        if (have_pre)
            st = gpt2_pretrained_load(s->model, &pre);
    }
    if (have_pre)
        gpt2_pretrained_free(&pre);
    if (!st && cfg->model.train[0]) {
        /* what the family always trains (gpt2: seed 003's new input and output layers) */
        const model_family *family = model_family_at(mc.kind);
        const char *always = family->always_trained ? family->always_trained(&mc) : NULL;
        char patterns[sizeof cfg->model.train + 64];
        snprintf(patterns, sizeof patterns, "%s%s%s", cfg->model.train, always ? "," : "",
                 always ? always : "");
        st = params_set_trainable(&s->model->params, patterns, "--train");
    }
    return st;
}

void session_close(session *s)
{
    examples_free(&s->train);
    examples_free(&s->test);
    examples_free(&s->carry);
    encoded_free(&s->train_enc);
    encoded_free(&s->test_enc);
    model_free(s->model);
    if (s->locked)
        io_unlock_dir(s->lock_fd);
    memset(s, 0, sizeof *s);
    s->lock_fd = -1;
}

arith_status session_load_run(session *s, const char *run_dir, const char *which, bool verify)
{
    memset(s, 0, sizeof *s); /* so that session_close is safe whatever fails below */
    s->lock_fd = -1;
    char path[TRAIN_PATH_MAX + 32], file[64];
    snprintf(file, sizeof file, "%s.safetensors", which);
    arith_status st = io_join_path(path, sizeof path, run_dir, file);
    if (st)
        return st;
    struct stat sb;
    if (stat(run_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return arith_error(ARITH_ERR_IO, "%s: no such run directory", run_dir);
    train_config cfg;
    st = checkpoint_read_config(path, &cfg, NULL);
    if (!st)
        st = checkpoint_check_run_config(path, &cfg, run_dir);
    if (st)
        return st;
    st = session_open(s, &cfg, run_dir);
    if (st)
        return st;
    return checkpoint_load(path, s->model, NULL, verify);
}

void session_describe(const session *s, session_description *d)
{
    const train_config *cfg = &s->cfg;
    const model_config *mc = &s->model->cfg;
    task_describe(&s->task, d->lengths, sizeof d->lengths);
    const data_settings *data = &cfg->data;
    snprintf(d->format, sizeof d->format, "%s%s%s%s%s%s%s",
             data->reverse ? ", reversed" : data->reverse_answer ? ", reversed answers" : "",
             data->zero_pad ? ", zero-padded" : "", data->index_hints ? ", index hints" : "",
             data->hint_offset > 0 ? " offset in training" : "",
             data->scratchpad ? ", scratchpad" : "", data->carries ? ", carries" : "",
             cfg->model.rand_pos ? ", random positions" : "");
    if (d->format[0]) { /* ", a, b" -> " (a, b)" */
        d->format[0] = ' ';
        d->format[1] = '(';
        strncat(d->format, ")", sizeof d->format - strlen(d->format) - 1);
    }
    model_family_at(mc->kind)->describe(mc, d->model, sizeof d->model);
    if (cfg->model.init[0])
        snprintf(d->model + strlen(d->model), sizeof d->model - strlen(d->model), ", from %s",
                 cfg->model.init);
}

void session_title(const session *s, char *out, size_t cap)
{
    session_description d;
    session_describe(s, &d);
    snprintf(out, cap, "%s, %s, tokenizer %s%s | %s: %s | seed %lld", s->task.def->name,
             d.lengths, tokenizer_name(s->tok.kind), d.format,
             model_kind_name(s->cfg.model.family), d.model, s->cfg.run.seed);
}
