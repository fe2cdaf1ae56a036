/* Sessions (data + tokenizer + model built from a config) and the training loop: batches in a
 * seeded order, forward, backward, clipping, optimizer step; evaluation, metrics and
 * checkpoints at intervals; resuming continues exactly where the last checkpoint stopped. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "io/io.h"
#include "train/train.h"

/* ------------------------------------------------------------------------------- sessions */

static arith_status load_split_csv(session *s)
{
    const train_config *cfg = &s->cfg;
    arith_status st = dataset_load_csv_as(&s->train, cfg->train_csv, &s->task);
    if (st)
        return st;
    if (cfg->test_csv[0])
        return dataset_load_csv_as(&s->test, cfg->test_csv, &s->task);
    /* hold out the last test_frac of the training file, as seed 001 splits its data */
    int n_test = (int)(s->train.count * cfg->test_frac + 0.5);
    if (n_test < 1 || n_test >= s->train.count)
        return arith_error(ARITH_ERR_DATA, "%s: %d rows are too few to split off a test set "
                           "(--test-frac %g)\nhint: give --test-csv", cfg->train_csv,
                           s->train.count, cfg->test_frac);
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

/* seq2seq emits a fixed number of answer tokens: every answer must have that length. */
static arith_status check_fixed_answers(const session *s)
{
    const encoded_set *sets[2] = {&s->train_enc, &s->test_enc};
    const int W = s->train_enc.max_answer;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < sets[k]->count; i++)
            if (sets[k]->answer_len[i] != W)
                return arith_error(ARITH_ERR_DATA, "--model seq2seq emits answers of one fixed "
                                   "width, but %s example %d (\"%s\") has %d characters where "
                                   "others have %d\nhint: --answer-width N right-aligns every "
                                   "answer to N characters, as seed 002 does", k ? "test" : "training",
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

static arith_status join_path(char *out, size_t cap, const char *dir, const char *file)
{
    int n = snprintf(out, cap, "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= cap)
        return arith_error(ARITH_ERR_ARG, "path too long: %s/%s", dir, file);
    return ARITH_OK;
}

/* The task a config describes; `range` picks the lengths (training or test). */
static arith_status task_from_config(task_config *task, const train_config *cfg, int_range range)
{
    memset(task, 0, sizeof *task);
    arith_status st = task_parse(&task->kind, cfg->task);
    if (!st)
        st = task_style_parse(&task->style, cfg->style);
    if (!st)
        st = sym_kind_parse(&task->subtask, cfg->subtask);
    sym_config_default(&task->sym);
    task->digits = range.hi;
    /* a single length keeps seed 001's digit-by-digit draw; a range draws each length */
    task->digits_min = range.lo < range.hi ? range.lo : 0;
    if (!st && task->style == STYLE_SPACED && task->kind != TASK_ADD)
        st = arith_error(ARITH_ERR_ARG, "--style spaced is seed 002's addition format; it needs "
                         "--task add (got --task %s)", cfg->task);
    return st;
}

/* Generates the training and test sets; with --test-digits the test set has lengths of its
 * own (and never repeats a training prompt). */
static arith_status generate_split(session *s)
{
    const train_config *cfg = &s->cfg;
    int n_test = (int)(cfg->n * cfg->test_frac + 0.5);
    if (n_test < 1)
        n_test = 1;
    if (cfg->test_digits.hi == 0)
        return dataset_generate(&s->train, &s->test, &s->task, cfg->n - n_test, n_test,
                                (uint64_t)cfg->seed, NULL);
    task_config test_task;
    arith_status st = task_from_config(&test_task, cfg, cfg->test_digits);
    example_set none;
    examples_init(&none);
    if (!st)
        st = dataset_generate(&s->train, &none, &s->task, cfg->n - n_test, 0,
                              (uint64_t)cfg->seed, NULL);
    if (!st)
        st = dataset_generate(&none, &s->test, &test_task, 0, n_test,
                              rng_hash((uint64_t)cfg->seed, 0x7e57ULL), &s->train);
    examples_free(&none);
    return st;
}

/* How positions are numbered (tokenizer_set_positions), from --pos, --pos-max, --pos-offset
 * and --rand-pos; fills in the default --pos-max. */
static arith_status session_positions(session *s)
{
    train_config *cfg = &s->cfg;
    pos_kind pk = POS_NONE;
    arith_status st = pos_kind_parse(&pk, cfg->pos);
    if (st)
        return st;
    const bool by_data = pk == POS_ABACUS || pk == POS_COUPLING;
    bool transformer = strcmp(cfg->model, "transformer") == 0;
    if ((by_data || cfg->rand_pos || pk == POS_ALIBI || pk == POS_FIRE) && !transformer)
        return arith_error(ARITH_ERR_ARG, "--pos %s%s is a scheme of --model transformer (got "
                           "--model %s)", cfg->pos, cfg->rand_pos ? " --rand-pos" : "",
                           cfg->model);
    if (by_data && s->task.kind != TASK_ADD && s->task.kind != TASK_MUL)
        return arith_error(ARITH_ERR_ARG, "--pos %s numbers the digits of add and mul (got "
                           "--task %s)", cfg->pos, cfg->task);
    if (cfg->rand_pos && pk != POS_SINUSOIDAL && pk != POS_LEARNED && pk != POS_ROPE)
        return arith_error(ARITH_ERR_ARG, "--rand-pos draws positions for sinusoidal, learned "
                           "and rope (got --pos %s)", cfg->pos);
    if (cfg->pos_max == 0 && (by_data || cfg->rand_pos))
        cfg->pos_max = 256;
    if (!by_data && !cfg->rand_pos)
        return ARITH_OK; /* positions are columns; pos_max (0: the context) sizes the tables */
    posids_plan plan = {by_data ? (pk == POS_ABACUS ? POSIDS_ABACUS : POSIDS_COUPLING)
                                : POSIDS_RANDOM,
                        cfg->pos_max, cfg->pos_offset < 0 ? cfg->pos_max : cfg->pos_offset,
                        false};
    return tokenizer_set_positions(&s->tok, plan);
}

arith_status session_open(session *s, const train_config *cfg, const char *data_dir)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    examples_init(&s->train);
    examples_init(&s->test);
    core_set_threads(cfg->threads);
    arith_status st = task_from_config(&s->task, cfg, cfg->digits);
    tokenizer_kind tk = TOK_CHAR;
    if (!st && strcmp(cfg->tokenizer, "auto") == 0)
        tk = s->task.kind == TASK_ADD        ? TOK_PAIRS
             : s->task.kind == TASK_SYMBOLIC ? TOK_WORDS
                                             : TOK_CHAR;
    else if (!st)
        st = tokenizer_parse(&tk, cfg->tokenizer);
    if (!st && tk == TOK_PAIRS && s->task.kind != TASK_ADD)
        st = arith_error(ARITH_ERR_ARG, "--tokenizer pairs reads only sums a+b=; --task %s "
                         "needs --tokenizer %s", cfg->task,
                         s->task.kind == TASK_SYMBOLIC ? "words" : "char");
    if (!st && (tk == TOK_WORDS) != (s->task.kind == TASK_SYMBOLIC))
        st = arith_error(ARITH_ERR_ARG, "--tokenizer words reads symbolic's prefix expressions, "
                         "and symbolic needs it (got --task %s --tokenizer %s)", cfg->task,
                         cfg->tokenizer);
    if (!st)
        st = tokenizer_init(&s->tok, tk, cfg->digits.hi, cfg->reverse_answer);
    if (st)
        return st;
    tokenizer_set_answer_width(&s->tok, cfg->answer_width);
    st = tokenizer_set_format(&s->tok, cfg->reverse, cfg->zero_pad, cfg->index_hints);
    if (!st && (cfg->reverse || cfg->zero_pad || cfg->index_hints) &&
        s->task.kind != TASK_ADD && s->task.kind != TASK_MUL)
        st = arith_error(ARITH_ERR_ARG, "--reverse, --zero-pad and --index-hints format the "
                         "operands of add and mul (got --task %s)", cfg->task);
    if (!st)
        st = session_positions(s);
    if (st)
        return st;

    if (data_dir) {
        char path[TRAIN_PATH_MAX + 32];
        st = join_path(path, sizeof path, data_dir, "train.csv");
        if (!st)
            st = dataset_load_csv_as(&s->train, path, &s->task);
        if (!st)
            st = join_path(path, sizeof path, data_dir, "test.csv");
        if (!st)
            st = dataset_load_csv_as(&s->test, path, &s->task);
    } else if (cfg->train_csv[0]) {
        st = load_split_csv(s);
    } else {
        if (cfg->test_csv[0])
            return arith_error(ARITH_ERR_ARG, "--test-csv needs --train-csv");
        st = generate_split(s);
    }
    if (st)
        return st;
    if (s->train.count < 1 || s->test.count < 1)
        return arith_error(ARITH_ERR_DATA, "need at least one training and one test example "
                           "(have %d and %d)", s->train.count, s->test.count);

    s->test_in_train = dataset_count_overlap(&s->train, &s->test);
    st = encoded_build(&s->train_enc, &s->train, &s->tok,
                       cfg->train_csv[0] && !data_dir ? cfg->train_csv : "training set");
    s->train_enc.plan.train = true; /* random offsets and fresh draws in training only */
    if (!st)
        st = encoded_build(&s->test_enc, &s->test, &s->tok,
                           cfg->test_csv[0] && !data_dir ? cfg->test_csv : "test set");
    if (st)
        return st;
    int need = s->train_enc.max_prompt + s->train_enc.max_answer;
    int need_test = s->test_enc.max_prompt + s->test_enc.max_answer;
    if (need_test > need)
        need = need_test;
    if (s->cfg.context == 0)
        s->cfg.context = need;
    else if (s->cfg.context < need)
        return arith_error(ARITH_ERR_DATA, "--context %d is too short: the data needs %d tokens "
                           "(longest prompt + answer)", s->cfg.context, need);

    /* GPT-2 weights to start from (a new run; a saved run has its sizes in its config and its
     * weights in its checkpoint) */
    gpt2_pretrained pre;
    bool have_pre = false;
    if (cfg->init[0] && !data_dir) {
        st = gpt2_pretrained_read(&pre, cfg->init);
        if (st)
            return st;
        have_pre = true;
        s->cfg.d_model = pre.d_model;
        s->cfg.layers = pre.layers;
        s->cfg.ffn = pre.ffn;
        s->cfg.heads = pre.heads;
        if (pre.context < need) {
            gpt2_pretrained_free(&pre);
            return arith_error(ARITH_ERR_DATA, "%s: GPT-2's %d positions are too few for the "
                               "data's %d tokens (longest prompt + answer)", cfg->init,
                               pre.context, need);
        }
        s->cfg.context = pre.context;
    }
    model_config mc;
    st = train_model_config(&mc, &s->cfg);
    mc.vocab = s->tok.vocab_size;
    mc.context = s->cfg.context;
    mc.answer_len = s->train_enc.max_answer;
    if (!st && mc.kind == MODEL_SEQ2SEQ)
        st = check_fixed_answers(s);
    if (!st && mc.head == HEAD_REGRESSION)
        st = check_numeric_answers(s);
    if (!st)
        st = model_create(&s->model, &mc);
    if (!st) {
        rng_state rng;
        rng_seed(&rng, (uint64_t)cfg->seed ^ 0x5eed1417ULL);
        model_init_weights(s->model, &rng);
        if (have_pre)
            st = gpt2_pretrained_load(s->model, &pre);
    }
    if (have_pre)
        gpt2_pretrained_free(&pre);
    if (!st && cfg->train[0]) {
        /* seed 003's new input and output layers always train */
        char patterns[sizeof cfg->train + 32];
        snprintf(patterns, sizeof patterns, "%s%s", cfg->train,
                 mc.kind == MODEL_GPT2 && !mc.tie ? ",in_layer,out_layer" : "");
        st = params_set_trainable(&s->model->params, patterns, "--train");
    }
    return st;
}

void session_close(session *s)
{
    examples_free(&s->train);
    examples_free(&s->test);
    encoded_free(&s->train_enc);
    encoded_free(&s->test_enc);
    model_free(s->model);
    memset(s, 0, sizeof *s);
}

arith_status session_load_run(session *s, const char *run_dir, const char *which)
{
    memset(s, 0, sizeof *s); /* so that session_close is safe whatever fails below */
    char path[TRAIN_PATH_MAX + 32], file[64];
    snprintf(file, sizeof file, "%s.safetensors", which);
    arith_status st = join_path(path, sizeof path, run_dir, file);
    if (st)
        return st;
    struct stat sb;
    if (stat(run_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return arith_error(ARITH_ERR_IO, "%s: no such run directory", run_dir);
    train_config cfg;
    st = checkpoint_read_config(path, &cfg, NULL);
    if (st)
        return st;
    st = session_open(s, &cfg, run_dir);
    if (st)
        return st;
    return checkpoint_load(path, s->model, NULL);
}

/* --------------------------------------------------------------------------- run directory */

static arith_status make_dirs(const char *path)
{
    char buf[TRAIN_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return arith_error(ARITH_ERR_IO, "%s: cannot create directory: %s", buf,
                               strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return arith_error(ARITH_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
    return ARITH_OK;
}

static bool path_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static arith_status prepare_run_dir(session *s)
{
    train_config *cfg = &s->cfg;
    if (!cfg->run[0]) {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
        if (cfg->digits.lo == cfg->digits.hi)
            snprintf(cfg->run, sizeof cfg->run, "runs/%s%d-%s", cfg->task, cfg->digits.hi,
                     stamp);
        else
            snprintf(cfg->run, sizeof cfg->run, "runs/%s%d-%d-%s", cfg->task, cfg->digits.lo,
                     cfg->digits.hi, stamp);
    }
    char path[TRAIN_PATH_MAX + 32];
    arith_status st = join_path(path, sizeof path, cfg->run, "config.json");
    if (st)
        return st;
    if (path_exists(path)) {
        char last[TRAIN_PATH_MAX + 32];
        join_path(last, sizeof last, cfg->run, "last.safetensors");
        if (!path_exists(last))
            return arith_error(ARITH_ERR_STATE, "%s already holds a run that stopped before its "
                               "first checkpoint\nhint: remove it, or choose another --run",
                               cfg->run);
        return arith_error(ARITH_ERR_STATE, "%s already holds a run\nhint: continue it with "
                           "arith train --resume %s, or choose another --run", cfg->run,
                           cfg->run);
    }
    st = make_dirs(cfg->run);
    if (st)
        return st;
    st = join_path(path, sizeof path, cfg->run, "train.csv");
    if (!st)
        st = dataset_save_csv(&s->train, path);
    if (!st)
        st = join_path(path, sizeof path, cfg->run, "test.csv");
    if (!st)
        st = dataset_save_csv(&s->test, path);
    /* config.json last: its presence marks a complete run directory */
    char *json = train_config_to_json(cfg);
    if (!st)
        st = join_path(path, sizeof path, cfg->run, "config.json");
    if (!st)
        st = io_write_file_atomic(path, json, strlen(json));
    free(json);
    return st;
}

/* ---------------------------------------------------------------------------------- loop */

typedef struct {
    session *s;
    const train_callbacks *cb;
    optimizer_state opt;
    train_progress progress;
    FILE *metrics;
    double t_start;
} trainer;

static arith_status run_eval(trainer *tr, bool final, eval_result *r)
{
    session *s = tr->s;
    const train_config *cfg = &s->cfg;
    int n = final ? 0 : cfg->eval_n;
    arith_status st = evaluate(s->model, &s->tok, &s->task, &s->test, n, cfg->eval_batch,
                               tr->cb ? tr->cb->on_sample : NULL, tr->cb ? tr->cb->ctx : NULL,
                               cfg->samples, r);
    bool by_loss = strcmp(cfg->best_by, "loss") == 0;
    if (!st && by_loss && isnan(r->loss)) {
        /* the test loss, teacher-forced, beside the generated answers' exact match */
        eval_result forced;
        st = evaluate_teacher_forced(s->model, &s->tok, &s->test, n, cfg->eval_batch, &forced);
        r->loss = forced.loss;
        r->seconds += forced.seconds;
    }
    if (!st) {
        /* add and mul: the fixed edge cases, scored beside the test set */
        example_set edges;
        examples_init(&edges);
        st = edge_cases_build(s->model, &s->tok, &s->task, &edges);
        eval_result e;
        if (!st && edges.count > 0)
            st = evaluate(s->model, &s->tok, &s->task, &edges, 0, cfg->eval_batch, NULL, NULL,
                          0, &e);
        if (!st && edges.count > 0) {
            r->edge_total = e.total;
            r->edge_correct = e.correct;
            r->seconds += e.seconds;
        }
        examples_free(&edges);
    }
    if (st)
        return st;
    double acc = r->total ? (double)r->correct / r->total : 0.0;
    /* best_accuracy holds the best score: accuracy, or minus the loss */
    double score = by_loss ? -r->loss : acc;
    bool best = score > tr->progress.best_accuracy;
    tr->progress.last_accuracy = acc;
    if (best) {
        tr->progress.best_accuracy = score;
        tr->progress.best_step = tr->progress.step;
    }
    char path[TRAIN_PATH_MAX + 32];
    join_path(path, sizeof path, cfg->run, "last.safetensors");
    st = checkpoint_save(path, s->model, &tr->opt, cfg, &tr->progress);
    if (!st && best) {
        join_path(path, sizeof path, cfg->run, "best.safetensors");
        st = checkpoint_save(path, s->model, NULL, cfg, &tr->progress);
    }
    if (tr->metrics) {
        char extra[160] = "";
        if (!isnan(r->loss))
            snprintf(extra, sizeof extra, ", \"test_loss\": %.6f", r->loss);
        if (!isnan(r->mae))
            snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", \"mae\": %.6f",
                     r->mae);
        if (r->edge_total > 0)
            snprintf(extra + strlen(extra), sizeof extra - strlen(extra),
                     ", \"edge_correct\": %d, \"edge_total\": %d", r->edge_correct,
                     r->edge_total);
        fprintf(tr->metrics, "{\"step\": %lld, \"accuracy\": %.6f%s, \"eval_n\": %d, "
                "\"eval_seconds\": %.3f, \"best\": %s, \"elapsed\": %.3f}\n",
                tr->progress.step, acc, extra, r->total, r->seconds, best ? "true" : "false",
                time_now() - tr->t_start);
        fflush(tr->metrics);
    }
    if (!st && tr->cb && tr->cb->on_eval)
        tr->cb->on_eval(tr->cb->ctx, tr->progress.step, tr->progress.total_steps, r, best);
    return st;
}

/* The order of epoch e: a permutation of the training set from (seed, e) alone, so a resumed
 * run sees the same batches. */
static void epoch_order(int32_t *perm, int n, long long seed, long long epoch)
{
    for (int i = 0; i < n; i++)
        perm[i] = i;
    rng_state rng;
    rng_seed(&rng, rng_hash((uint64_t)seed, 0x0e90c400ULL + (uint64_t)epoch));
    rng_shuffle_i32(&rng, perm, (size_t)n);
}

arith_status train_run(session *s, const train_callbacks *cb, bool resume, eval_result *final)
{
    trainer tr = {.s = s, .cb = cb};
    train_config *cfg = &s->cfg;
    const int n_train = s->train.count;
    const long long per_epoch = (n_train + cfg->batch - 1) / cfg->batch;
    const long long total = cfg->steps > 0 ? cfg->steps : per_epoch * cfg->epochs;
    char path[TRAIN_PATH_MAX + 32];
    arith_status st = optimizer_init(&tr.opt, &s->model->params);
    if (st)
        return st;
    tr.progress.best_accuracy = -INFINITY;
    tr.progress.last_accuracy = -1.0;
    if (resume) {
        join_path(path, sizeof path, cfg->run, "last.safetensors");
        train_config saved;
        st = checkpoint_read_config(path, &saved, &tr.progress);
        if (!st)
            st = checkpoint_load(path, s->model, &tr.opt);
        if (!st && tr.progress.step >= total)
            st = arith_error(ARITH_ERR_ARG, "%s has already taken %lld of %lld steps\nhint: "
                             "extend it with --steps N or --epochs N", cfg->run,
                             tr.progress.step, total);
    } else {
        st = prepare_run_dir(s);
    }
    if (st) {
        optimizer_free(&tr.opt);
        return st;
    }
    tr.progress.total_steps = total;
    join_path(path, sizeof path, cfg->run, "metrics.jsonl");
    tr.metrics = fopen(path, "a");
    if (!tr.metrics) {
        optimizer_free(&tr.opt);
        return arith_error(ARITH_ERR_IO, "%s: cannot open for appending: %s", path,
                           strerror(errno));
    }

    batch b;
    int32_t *perm = malloc((size_t)n_train * sizeof *perm);
    int max_T = s->train_enc.max_prompt + s->train_enc.max_answer - 1;
    st = batch_alloc(&b, cfg->batch, max_T);
    if (!st)
        st = model_reserve(s->model, cfg->batch, max_T);
    if (!st && !perm)
        st = arith_error(ARITH_ERR_MEMORY, "out of memory");
    tr.t_start = time_now();
    double window_loss = 0, rate = 0, t_last = tr.t_start;
    int window = 0;
    long long epoch_loaded = -1;
    eval_result r = {0};
    bool evaluated_last = false;
    while (st == ARITH_OK && tr.progress.step < total) {
        long long step = tr.progress.step;
        long long epoch = step / per_epoch, i = step % per_epoch;
        if (epoch != epoch_loaded) {
            epoch_order(perm, n_train, cfg->seed, epoch);
            epoch_loaded = epoch;
        }
        int first = (int)(i * cfg->batch);
        int count = n_train - first < cfg->batch ? n_train - first : cfg->batch;
        b.pos_seed = rng_hash((uint64_t)cfg->seed ^ 0x9051710aULL, (uint64_t)step);
        st = batch_fill_train(&b, &s->train_enc, perm + first, count, s->tok.pad_id);
        if (st)
            break;
        params_zero_grad(&s->model->params);
        double loss_sum = 0;
        int n_tok = 0;
        st = model_forward(s->model, &b, true, rng_hash((uint64_t)cfg->seed, (uint64_t)step),
                           &loss_sum, &n_tok);
        if (st)
            break;
        model_backward(s->model);
        double norm = clip_gradients(&s->model->params, cfg->clip_value, cfg->clip_norm);
        double lr = schedule_lr(cfg, step, total);
        optimizer_step(&tr.opt, &s->model->params, cfg, lr);
        tr.progress.step = step + 1;
        double loss = n_tok ? loss_sum / n_tok : 0.0;
        window_loss += loss;
        window++;
        double now = time_now();
        double dt = now - t_last;
        t_last = now;
        rate = rate == 0 ? 1.0 / dt : 0.9 * rate + 0.1 / dt;
        if (cb && cb->on_step)
            cb->on_step(cb->ctx, tr.progress.step, total, (int)epoch + 1, loss, lr, rate);
        if (tr.progress.step % cfg->log_every == 0 || tr.progress.step == total) {
            fprintf(tr.metrics, "{\"step\": %lld, \"epoch\": %lld, \"loss\": %.6f, \"lr\": %.6g, "
                    "\"grad_norm\": %.6g, \"steps_per_sec\": %.3f, \"elapsed\": %.3f}\n",
                    tr.progress.step, epoch + 1, window_loss / window, lr, norm, rate,
                    now - tr.t_start);
            fflush(tr.metrics);
            window_loss = 0;
            window = 0;
        }
        bool at_end = tr.progress.step == total;
        bool at_epoch = tr.progress.step % per_epoch == 0;
        bool at_interval = cfg->eval_every > 0 && tr.progress.step % cfg->eval_every == 0;
        evaluated_last = false;
        if (at_end || at_epoch || at_interval) {
            st = run_eval(&tr, at_end, &r);
            evaluated_last = at_end;
        }
    }
    if (st == ARITH_OK && !evaluated_last)
        st = run_eval(&tr, true, &r);
    if (final)
        *final = r;
    fclose(tr.metrics);
    if (st == ARITH_OK) {
        char svg[TRAIN_PATH_MAX + 32], title[256];
        join_path(svg, sizeof svg, cfg->run, "training.svg");
        char lengths[32];
        if (cfg->digits.lo == cfg->digits.hi)
            snprintf(lengths, sizeof lengths, "%d", cfg->digits.hi);
        else
            snprintf(lengths, sizeof lengths, "%d..%d", cfg->digits.lo, cfg->digits.hi);
        if (s->model->cfg.kind == MODEL_TRANSFORMER)
            snprintf(title, sizeof title, "%s %s, tokenizer %s, %d layers x d_model %d, pos %s, "
                     "norm %s, seed %lld", cfg->task, lengths, cfg->tokenizer, cfg->layers,
                     cfg->d_model, cfg->pos, cfg->norm, cfg->seed);
        else
            snprintf(title, sizeof title, "%s %s, %s, %d layers x hidden %d, input %s, head %s, "
                     "seed %lld", cfg->task, lengths, cfg->model, cfg->layers,
                     s->model->cfg.hidden, cfg->input, cfg->head, cfg->seed);
        st = plot_training_curves(path, svg, title);
    }
    batch_free(&b);
    free(perm);
    optimizer_free(&tr.opt);
    return st;
}
