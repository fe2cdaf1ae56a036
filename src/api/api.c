/* api: the public C API (include/arith.h) over the library's own modules. Thin by design:
 * every call is the session, training, prediction or evaluation call that the CLI makes, with
 * the public types converted at the edge. Only the ARITH_API functions are exported from
 * libarith.so and libarith.a; everything else is compiled with hidden visibility. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arith.h"
#include "io/io.h"
#include "train/train.h"

_Static_assert(TRAIN_PATH_MAX <= ARITH_PATH_MAX, "a run directory must fit arith_train_result");

/* the batch size of `arith predict` and `arith eval` */
enum { API_BATCH = 64 };

struct arith_run {
    session s;
};

struct arith_config {
    train_config cfg;
};

/* arith_set_threads' choice, applied to every run opened (session_open sets the threads of the
 * run's own config, as `arith predict` does before setting its --threads, default auto). */
static int api_threads = 0;

static arith_status null_argument(const char *call, const char *name)
{
    return arith_error(ARITH_ERR_ARG, "%s: %s is NULL", call, name);
}

/* ------------------------------------------------------------------------------- general */

ARITH_API const char *arith_version(void)
{
    return ARITH_VERSION;
}

ARITH_API const char *arith_last_error(void)
{
    return arith_error_message();
}

ARITH_API int32_t arith_set_threads(int32_t n)
{
    api_threads = n;
    return core_set_threads(n);
}

ARITH_API void arith_string_free(char *s)
{
    free(s);
}

static void eval_result_public(arith_eval_result *out, const eval_result *r)
{
    out->total = r->total;
    out->correct = r->correct;
    out->accuracy = r->total ? (double)r->correct / r->total : 0.0;
    out->loss = r->loss;
    out->seconds = r->seconds;
    out->edge_total = r->edge_total;
    out->edge_correct = r->edge_correct;
    out->carry_total = r->carry_total;
    out->carry_correct = r->carry_correct;
}

/* ---------------------------------------------------------------------------------- runs */

ARITH_API arith_status arith_run_open(const char *run_dir, const char *which, arith_run **out)
{
    if (!out)
        return null_argument("arith_run_open", "out");
    *out = NULL;
    if (!run_dir)
        return null_argument("arith_run_open", "run_dir");
    if (!which)
        which = "best";
    if (strcmp(which, "best") != 0 && strcmp(which, "last") != 0)
        return arith_error(ARITH_ERR_ARG, "%s: unknown checkpoint '%s' (valid: best, last)",
                           run_dir, which);
    arith_run *run = calloc(1, sizeof *run);
    if (!run)
        return arith_error(ARITH_ERR_MEMORY, "%s: out of memory opening the run", run_dir);
    arith_status st = session_load_run(&run->s, run_dir, which, true);
    if (st) {
        arith_run_close(run);
        return st;
    }
    core_set_threads(api_threads);
    *out = run;
    return ARITH_OK;
}

ARITH_API void arith_run_close(arith_run *run)
{
    if (!run)
        return;
    session_close(&run->s);
    free(run);
}

/* Answers n prompts as `arith predict` does: a prompt of a plain-style task may leave out the
 * final '=' (a prefix expression takes it as a word of its own, " ="); every prompt is checked
 * before any work, so that an error names the one at fault ("prompt i: ", when numbered). */
static arith_status answer_prompts(arith_run *run, const char *const *prompts, int n,
                                   char **answers, bool numbered)
{
    session *s = &run->s;
    const char *equals = s->task.def->equals;
    char **own = calloc((size_t)n + 1, sizeof *own);
    arith_status st = own ? ARITH_OK : arith_error(ARITH_ERR_MEMORY, "out of memory");
    for (int i = 0; !st && i < n; i++) {
        if (!prompts[i]) {
            st = arith_error(ARITH_ERR_ARG, "prompt %d is NULL", i + 1);
            break;
        }
        size_t len = strlen(prompts[i]);
        bool add = s->task.style == STYLE_PLAIN && (len == 0 || prompts[i][len - 1] != '=');
        own[i] = malloc(len + 3);
        if (!own[i]) {
            st = arith_error(ARITH_ERR_MEMORY, "out of memory");
            break;
        }
        memcpy(own[i], prompts[i], len + 1);
        if (add)
            memcpy(own[i] + len, equals, strlen(equals) + 1);
        /* any length (room to spare: zero-padding and index hints make more tokens than
         * characters) */
        int count = 0, cap = 8 * (int)strlen(own[i]) + 64;
        if (cap < 4096)
            cap = 4096;
        int32_t *ids = malloc((size_t)cap * sizeof *ids);
        st = ids ? tok_encode_prompt(&s->tok, own[i], ids, cap, &count)
                 : arith_error(ARITH_ERR_MEMORY, "out of memory");
        free(ids);
        if (st && numbered)
            arith_error_wrap(st, "prompt %d: ", i + 1);
    }
    if (!st && n > 0)
        st = predict_answers(s->model, &s->tok, (const char *const *)own, n, API_BATCH, answers);
    for (int i = 0; own && i < n; i++)
        free(own[i]);
    free(own);
    if (st) {
        for (int i = 0; i < n; i++) {
            free(answers[i]);
            answers[i] = NULL;
        }
    }
    return st;
}

ARITH_API arith_status arith_run_predict(arith_run *run, const char *prompt, char *answer,
                                         size_t cap)
{
    if (!answer || cap == 0)
        return arith_error(ARITH_ERR_ARG, "arith_run_predict: no room for an answer (answer %s, "
                           "cap %zu)", answer ? "given" : "NULL", cap);
    answer[0] = '\0';
    if (!run)
        return null_argument("arith_run_predict", "run");
    if (!prompt)
        return null_argument("arith_run_predict", "prompt");
    char *got = NULL;
    arith_status st = answer_prompts(run, &prompt, 1, &got, false);
    if (st)
        return st;
    size_t need = strlen(got) + 1;
    if (need > cap)
        st = arith_error(ARITH_ERR_ARG, "the answer to \"%s\" needs %zu bytes, cap is %zu",
                         prompt, need, cap);
    else
        memcpy(answer, got, need);
    free(got);
    return st;
}

ARITH_API arith_status arith_run_predict_batch(arith_run *run, const char *const *prompts,
                                               int32_t n, char **answers)
{
    if (!run)
        return null_argument("arith_run_predict_batch", "run");
    if (n < 0)
        return arith_error(ARITH_ERR_ARG, "arith_run_predict_batch: n is %d", (int)n);
    if (n > 0 && (!prompts || !answers))
        return null_argument("arith_run_predict_batch", !prompts ? "prompts" : "answers");
    for (int32_t i = 0; i < n; i++)
        answers[i] = NULL;
    return answer_prompts(run, prompts, n, answers, true);
}

ARITH_API arith_status arith_run_evaluate(arith_run *run, int32_t n, arith_eval_result *out)
{
    if (!run)
        return null_argument("arith_run_evaluate", "run");
    if (!out)
        return null_argument("arith_run_evaluate", "out");
    memset(out, 0, sizeof *out);
    session *s = &run->s;
    eval_result r, edge = {0};
    arith_status st = evaluate(s->model, &s->tok, &s->task, &s->test, n > 0 ? n : 0, API_BATCH,
                               NULL, NULL, 0, &r);
    /* add and mul: the fixed edge cases, beside the test set, as arith eval scores them */
    example_set edges;
    examples_init(&edges);
    if (!st)
        st = edge_cases_build(s->model, &s->tok, &s->task, &edges);
    if (!st && edges.count > 0)
        st = evaluate(s->model, &s->tok, &s->task, &edges, 0, API_BATCH, NULL, NULL, 0, &edge);
    examples_free(&edges);
    /* add: the carry-aware test set */
    carry_result cr = {0};
    if (!st)
        st = evaluate_carries(s->model, &s->tok, &s->task, &s->carry, API_BATCH, 1, NULL, NULL,
                              &cr);
    r.carry_total = cr.total;
    r.carry_correct = cr.correct;
    carry_result_free(&cr);
    if (st)
        return st;
    r.edge_total = edge.total;
    r.edge_correct = edge.correct;
    eval_result_public(out, &r);
    return ARITH_OK;
}

ARITH_API arith_status arith_run_config_json(const arith_run *run, char **json)
{
    if (!run || !json)
        return null_argument("arith_run_config_json", !run ? "run" : "json");
    *json = train_config_to_json(&run->s.cfg);
    return *json ? ARITH_OK : arith_error(ARITH_ERR_MEMORY, "out of memory writing the config");
}

/* ------------------------------------------------------------------------------ training */

ARITH_API arith_status arith_config_new(arith_config **out)
{
    if (!out)
        return null_argument("arith_config_new", "out");
    *out = calloc(1, sizeof **out);
    if (!*out)
        return arith_error(ARITH_ERR_MEMORY, "out of memory for a config");
    train_config_defaults(&(*out)->cfg);
    return ARITH_OK;
}

ARITH_API void arith_config_free(arith_config *cfg)
{
    free(cfg);
}

ARITH_API arith_status arith_config_set(arith_config *cfg, const char *key, const char *value)
{
    if (!cfg || !key)
        return null_argument("arith_config_set", !cfg ? "cfg" : "key");
    if (!value)
        return arith_error(ARITH_ERR_ARG, "--%s needs a value", key);
    /* on an error, cfg keeps every old value */
    train_config c = cfg->cfg;
    arith_status st = train_config_set(&c, key, value);
    if (!st)
        cfg->cfg = c;
    return st;
}

ARITH_API arith_status arith_config_load_json(arith_config *cfg, const char *json,
                                              const char *source)
{
    if (!cfg || !json)
        return null_argument("arith_config_load_json", !cfg ? "cfg" : "json");
    train_config c = cfg->cfg;
    arith_status st = train_config_from_json(&c, json, source ? source : "config");
    if (!st)
        cfg->cfg = c;
    return st;
}

ARITH_API arith_status arith_config_load_file(arith_config *cfg, const char *path)
{
    if (!cfg || !path)
        return null_argument("arith_config_load_file", !cfg ? "cfg" : "path");
    char *text = NULL;
    size_t size = 0;
    arith_status st = io_read_file(path, &text, &size);
    if (!st)
        st = arith_config_load_json(cfg, text, path);
    free(text);
    return st;
}

ARITH_API arith_status arith_config_to_json(const arith_config *cfg, char **json)
{
    if (!cfg || !json)
        return null_argument("arith_config_to_json", !cfg ? "cfg" : "json");
    *json = train_config_to_json(&cfg->cfg);
    return *json ? ARITH_OK : arith_error(ARITH_ERR_MEMORY, "out of memory writing the config");
}

/* The training loop's callbacks, forwarded to the caller's in public types. */
static void forward_step(void *ctx, long long step, long long total, int epoch, double loss,
                         double lr, double steps_per_sec)
{
    const arith_train_callbacks *cb = ctx;
    cb->on_step(cb->ctx, step, total, epoch, loss, lr, steps_per_sec);
}

static void forward_eval(void *ctx, long long step, long long total, const eval_result *r,
                         bool is_best)
{
    const arith_train_callbacks *cb = ctx;
    arith_eval_result pub;
    eval_result_public(&pub, r);
    cb->on_eval(cb->ctx, step, total, &pub, is_best);
}

static void forward_sample(void *ctx, int index, const example *ex, const char *predicted,
                           bool correct)
{
    const arith_train_callbacks *cb = ctx;
    cb->on_sample(cb->ctx, ex->prompt, ex->answer, predicted, correct);
}

ARITH_API arith_status arith_train(const arith_config *cfg, const arith_train_callbacks *cb,
                                   arith_train_result *result)
{
    if (!cfg)
        return null_argument("arith_train", "cfg");
    if (result) {
        memset(result, 0, sizeof *result);
        result->best = NAN;
    }
    if (cfg->cfg.run.seeds > 1)
        return arith_error(ARITH_ERR_ARG, "--seeds %d: arith_train trains one run\nhint: call it "
                           "once per seed, with \"seed\" and \"run\" set", cfg->cfg.run.seeds);
    session s;
    arith_status st = session_open(&s, &cfg->cfg, NULL);
    train_callbacks tcb = {0};
    if (cb) {
        tcb.ctx = (void *)cb;
        tcb.on_step = cb->on_step ? forward_step : NULL;
        tcb.on_eval = cb->on_eval ? forward_eval : NULL;
        tcb.on_sample = cb->on_sample ? forward_sample : NULL;
    }
    train_result done;
    if (!st)
        st = train_run(&s, &tcb, false, &done);
    if (!st && result) {
        snprintf(result->run_dir, sizeof result->run_dir, "%s", s.cfg.run.dir);
        eval_result_public(&result->final, &done.final);
        /* steps and the best evaluation, as the checkpoints record them */
        char path[TRAIN_PATH_MAX + 32];
        train_config saved;
        train_progress progress;
        snprintf(path, sizeof path, "%s/last.safetensors", s.cfg.run.dir);
        if (checkpoint_read_config(path, &saved, &progress) == ARITH_OK)
            result->steps = progress.step;
        snprintf(path, sizeof path, "%s/best.safetensors", s.cfg.run.dir);
        if (checkpoint_read_config(path, &saved, &progress) == ARITH_OK) {
            bool by_loss = s.cfg.run.best_by == BEST_BY_LOSS;
            result->best = by_loss ? -progress.best_accuracy : progress.best_accuracy;
            result->best_step = progress.best_step;
        }
    }
    session_close(&s);
    return st;
}
