/* The training loop: batches in a seeded order, forward, backward, clipping, optimizer step;
 * evaluation, metrics and checkpoints at intervals; resuming continues exactly where the last
 * checkpoint stopped. The run directory is prepared and locked here before the first step.
 * Nothing is lost and nothing silently wrong: a non-finite loss, gradient or weight stops the
 * run with the last finite state saved, a stop request (Ctrl-C) saves before it returns, and
 * every write is checked. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/dist.h"
#include "io/io.h"
#include "nn/backend/backend.h"
#include "train/train.h"

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

/* Whether dir holds `file`. */
static bool run_has(const char *dir, const char *file)
{
    char path[TRAIN_PATH_MAX + 32];
    return io_join_path(path, sizeof path, dir, file) == ARITH_OK && path_exists(path);
}

/* The marker that says arith made a directory its own: run files go only into a directory that
 * arith created, that was empty, or that holds it. */
#define RUN_MARKER ".arith-run"

/* Whether dir holds anything but arith's lock and marker (-1: cannot be read). */
static int dir_has_foreign_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(d)) != NULL;)
        found = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
                strcmp(e->d_name, ".lock") != 0 && strcmp(e->d_name, RUN_MARKER) != 0;
    closedir(d);
    return found;
}

/* A run directory an arith older than the marker wrote: its config.json loads as a training
 * config (a config.json of the user's own does not: unknown keys are refused). */
static bool legacy_run_dir(const char *dir)
{
    char path[TRAIN_PATH_MAX + 32];
    char *text = NULL;
    size_t size = 0;
    if (io_join_path(path, sizeof path, dir, "config.json") || !path_exists(path) ||
        io_read_file(path, &text, &size))
        return false;
    train_config cfg;
    train_config_defaults(&cfg);
    arith_status st = train_config_from_json(&cfg, text, path);
    free(text);
    arith_error_clear();
    return st == ARITH_OK;
}

/* The parent of an older arith's --seeds sweep: seed-S runs and seeds.json, nothing else. */
static bool legacy_sweep_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool ours = true;
    for (struct dirent *e; ours && (e = readdir(d)) != NULL;)
        ours = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
               strcmp(e->d_name, "seeds.json") == 0 || strncmp(e->d_name, "seed-", 5) == 0;
    closedir(d);
    return ours;
}

/* Claims dir for arith's run files (with its lock held): a directory arith created, an empty
 * one, one that holds the marker or an older arith's run is marked; any other is refused, since
 * a run would write train.csv, config.json and the rest over files arith did not write. */
static arith_status run_dir_claim(const char *dir, bool sweep)
{
    char marker[TRAIN_PATH_MAX + 32];
    arith_status st = io_join_path(marker, sizeof marker, dir, RUN_MARKER);
    if (st || path_exists(marker))
        return st;
    int foreign = dir_has_foreign_entries(dir);
    if (foreign < 0)
        return arith_error(ARITH_ERR_IO, "%s: cannot read the directory: %s", dir,
                           strerror(errno));
    if (foreign && !(sweep ? legacy_sweep_dir(dir) : legacy_run_dir(dir)))
        return arith_error(ARITH_ERR_STATE, "%s holds files arith did not write (it has no %s "
                           "marker), and a run would write its files over them\nhint: choose "
                           "another --run, a new or empty directory", dir, RUN_MARKER);
    static const char text[] = "This directory holds an arith run: arith writes and replaces "
                               "the files in it.\n";
    return io_write_file_atomic(marker, text, sizeof text - 1);
}

arith_status run_dir_claim_sweep(const char *dir)
{
    arith_status st = make_dirs(dir);
    return st ? st : run_dir_claim(dir, true);
}

arith_status run_dir_lock(const char *dir, int *fd)
{
    *fd = -1;
    char lock_path[TRAIN_PATH_MAX + 32];
    bool had_lock = io_join_path(lock_path, sizeof lock_path, dir, ".lock") == ARITH_OK &&
                    path_exists(lock_path);
    arith_status st = make_dirs(dir);
    if (st)
        return st;
    long holder = 0;
    st = io_lock_dir(dir, fd, &holder);
    if (st == ARITH_OK) {
        st = run_dir_claim(dir, false);
        if (st) {
            close(*fd);
            *fd = -1;
            if (!had_lock) /* leave the user's directory as it was */
                unlink(lock_path);
        }
        return st;
    }
    if (st != ARITH_ERR_STATE)
        return st;
    if (holder > 0)
        return arith_error(ARITH_ERR_STATE, "%s is in use: process %ld is training it (it holds "
                           "%s/.lock)\nhint: wait for it to finish, or stop it with kill -INT "
                           "%ld (it saves last.safetensors first) and continue with arith train "
                           "--resume %s", dir, holder, dir, holder, dir);
    return arith_error(ARITH_ERR_STATE, "%s is in use: another process is training it (it holds "
                       "%s/.lock)\nhint: wait for it to finish", dir, dir);
}

/* A new run's directory: its data, then config.json. A directory whose run stopped before its
 * first checkpoint holds nothing a resume needs beyond its config, so it is used again. */
static arith_status prepare_run_dir(session *s)
{
    train_config *cfg = &s->cfg;
    char path[TRAIN_PATH_MAX + 32];
    arith_status st = io_join_path(path, sizeof path, cfg->run.dir, "config.json");
    if (st)
        return st;
    if (!path_exists(path)) {
        /* a run whose config.json is gone: its checkpoints are not trained over */
        static const char *const kept[] = {"last.safetensors", "best.safetensors",
                                           "metrics.jsonl"};
        for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
            if (run_has(cfg->run.dir, kept[i]))
                return arith_error(ARITH_ERR_STATE, "%s holds %s but no config.json: a run "
                                   "whose config was removed, which a new run would write "
                                   "over\nhint: choose another --run, or move its files away",
                                   cfg->run.dir, kept[i]);
    }
    /* the data files this run writes must not be the user's own input */
    static const char *const written[] = {"train.csv", "test.csv", "carry.csv"};
    const char *inputs[] = {cfg->data.train_csv, cfg->data.test_csv};
    const char *flags[] = {"--train-csv", "--test-csv"};
    for (size_t i = 0; i < 2; i++) {
        struct stat in;
        if (!inputs[i][0] || stat(inputs[i], &in) != 0)
            continue;
        for (size_t k = 0; k < sizeof written / sizeof written[0]; k++) {
            char out[TRAIN_PATH_MAX + 32];
            struct stat o;
            if (io_join_path(out, sizeof out, cfg->run.dir, written[k]) == ARITH_OK &&
                stat(out, &o) == 0 && o.st_dev == in.st_dev && o.st_ino == in.st_ino)
                return arith_error(ARITH_ERR_ARG, "%s %s is the file this run writes its %s "
                                   "to (%s), and would be replaced\nhint: choose another "
                                   "--run, or keep the data outside it", flags[i], inputs[i],
                                   k == 0 ? "training split" : k == 1 ? "test set"
                                                             : "carry-heavy set", out);
        }
    }
    st = io_join_path(path, sizeof path, cfg->run.dir, "config.json");
    if (st)
        return st;
    if (path_exists(path)) {
        if (run_has(cfg->run.dir, "last.safetensors"))
            return arith_error(ARITH_ERR_STATE, "%s already holds a run\nhint: continue it with "
                               "arith train --resume %s, or choose another --run", cfg->run.dir,
                               cfg->run.dir);
        /* an evaluation may have written best.safetensors before it died: not this run's */
        st = io_join_path(path, sizeof path, cfg->run.dir, "best.safetensors");
        if (!st && unlink(path) != 0 && errno != ENOENT)
            st = arith_error(ARITH_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
        if (st)
            return st;
    }
    st = io_join_path(path, sizeof path, cfg->run.dir, "train.csv");
    if (!st)
        st = dataset_save_csv(&s->train, path);
    if (!st)
        st = io_join_path(path, sizeof path, cfg->run.dir, "test.csv");
    if (!st)
        st = dataset_save_csv(&s->test, path);
    if (!st && s->carry.count > 0)
        st = io_join_path(path, sizeof path, cfg->run.dir, "carry.csv");
    if (!st && s->carry.count > 0)
        st = dataset_save_csv(&s->carry, path);
    /* config.json last: its presence marks a complete run directory */
    char *json = train_config_to_json(cfg);
    if (!json && !st)
        st = arith_error(ARITH_ERR_MEMORY, "out of memory writing %s/config.json", cfg->run.dir);
    if (!st)
        st = io_join_path(path, sizeof path, cfg->run.dir, "config.json");
    if (!st)
        st = io_write_file_atomic(path, json, strlen(json));
    free(json);
    return st;
}

/* The step a metrics line is about ({"step": N, ...}); false for anything else. */
static bool metrics_line_step(const char *line, long long *step)
{
    static const char key[] = "{\"step\": ";
    if (strncmp(line, key, sizeof key - 1) != 0)
        return false;
    char *end = NULL;
    *step = strtoll(line + sizeof key - 1, &end, 10);
    return end != line + sizeof key - 1 && (*end == ',' || *end == '}');
}

/* The largest "elapsed" in a metrics file (0 when none): where a resumed run's clock goes on. */
static double metrics_elapsed(const char *path)
{
    char *text = NULL;
    size_t size = 0;
    if (!path_exists(path) || io_read_file(path, &text, &size) != ARITH_OK) {
        arith_error_clear();
        return 0.0;
    }
    static const char key[] = "\"elapsed\": ";
    double most = 0.0;
    for (const char *at = strstr(text, key); at; at = strstr(at + 1, key)) {
        double v = strtod(at + sizeof key - 1, NULL);
        if (isfinite(v) && v > most)
            most = v;
    }
    free(text);
    return most;
}

arith_status metrics_truncate(const char *path, long long step)
{
    if (!path_exists(path))
        return ARITH_OK;
    char *text = NULL;
    size_t size = 0;
    arith_status st = io_read_file(path, &text, &size);
    if (st)
        return st;
    /* whole lines about steps up to `step` stay, in place; the rest (later steps, and a line
     * cut short) goes */
    size_t kept = 0;
    bool changed = false;
    for (size_t at = 0; at < size;) {
        char *nl = memchr(text + at, '\n', size - at);
        if (!nl) {
            changed = true;
            break;
        }
        size_t len = (size_t)(nl - (text + at)) + 1;
        *nl = '\0';
        long long line_step = 0;
        bool keep = metrics_line_step(text + at, &line_step) && line_step <= step;
        *nl = '\n';
        if (keep) {
            memmove(text + kept, text + at, len);
            kept += len;
        } else {
            changed = true;
        }
        at += len;
    }
    if (changed)
        st = io_write_file_atomic(path, text, kept);
    free(text);
    return st;
}

/* ---------------------------------------------------------------------------------- loop */

typedef struct {
    session *s;
    const train_callbacks *cb;
    bool lead;                 /* writes the run directory (data-parallel: rank 0 alone) */
    optimizer_state opt;
    train_progress progress;
    io_append metrics;
    double t_start;
    long long saved_step;      /* the step last.safetensors holds (-1: none written yet) */
    double window_loss;        /* losses since the last metrics line */
    int window;
    long long epoch;           /* the last update's epoch (from 1), learning rate and gradient */
    double lr, norm;           /* norm, and the steps per second */
    double rate;
} trainer;

/* ", "key": x" with `digits` decimals (%.*f, or %.*g when general), or null: JSON has no NaN
 * and no infinity, and a line that does not parse is worse than a missing number. */
static void json_real(text_buffer *b, const char *key, int digits, bool general, double x)
{
    text_printf(b, ", \"%s\": ", key);
    if (!isfinite(x))
        text_printf(b, "null");
    else if (general)
        text_printf(b, "%.*g", digits, x);
    else
        text_printf(b, "%.*f", digits, x);
}

/* One line of metrics.jsonl, written whole or not at all. */
static arith_status metrics_write(trainer *tr, text_buffer *b)
{
    if (!tr->lead) {
        free(b->text);
        return ARITH_OK;
    }
    arith_status st = b->failed ? arith_error(ARITH_ERR_MEMORY, "%s: out of memory",
                                              tr->metrics.path)
                                : io_append_write(&tr->metrics, b->text, b->len);
    free(b->text);
    *b = (text_buffer){0};
    return st;
}

/* The loss line: the mean training loss of the updates since the last one, at the last (a
 * batch that made no update writes its own line after this one). */
static arith_status metrics_window(trainer *tr)
{
    if (tr->window == 0)
        return ARITH_OK;
    text_buffer b = {0};
    text_printf(&b, "{\"step\": %lld, \"kind\": \"train\", \"epoch\": %lld",
                tr->progress.step, tr->epoch);
    json_real(&b, "loss", 6, false, tr->window_loss / tr->window);
    json_real(&b, "lr", 6, true, tr->lr);
    json_real(&b, "grad_norm", 6, true, tr->norm);
    json_real(&b, "steps_per_sec", 3, false, tr->rate);
    json_real(&b, "elapsed", 3, false, time_now() - tr->t_start);
    text_printf(&b, "}\n");
    tr->window_loss = 0;
    tr->window = 0;
    return metrics_write(tr, &b);
}

/* last.safetensors: weights, moments and progress at the current step. */
static arith_status save_last(trainer *tr)
{
    if (!tr->lead)
        return ARITH_OK;
    char path[TRAIN_PATH_MAX + 32];
    arith_status st = io_join_path(path, sizeof path, tr->s->cfg.run.dir, "last.safetensors");
    if (!st)
        st = checkpoint_save(path, tr->s->model, &tr->opt, &tr->s->cfg, &tr->progress,
                             &tr->s->tok);
    if (!st)
        tr->saved_step = tr->progress.step;
    return st;
}

static arith_status run_eval(trainer *tr, bool final, eval_result *r)
{
    session *s = tr->s;
    const train_config *cfg = &s->cfg;
    int n = final ? 0 : cfg->run.eval_n;
    arith_status st = evaluate(s->model, &s->tok, &s->task, &s->test, n, cfg->run.eval_batch,
                               tr->cb ? tr->cb->on_sample : NULL, tr->cb ? tr->cb->ctx : NULL,
                               cfg->run.samples, r);
    bool by_loss = cfg->run.best_by == BEST_BY_LOSS;
    if (!st && by_loss && isnan(r->loss)) {
        /* the test loss, teacher-forced, beside the generated answers' exact match */
        eval_result forced;
        st = evaluate_teacher_forced(s->model, &s->tok, &s->test, n, cfg->run.eval_batch, &forced);
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
            st = evaluate(s->model, &s->tok, &s->task, &edges, 0, cfg->run.eval_batch, NULL, NULL,
                          0, &e);
        if (!st && edges.count > 0) {
            r->edge_total = e.total;
            r->edge_correct = e.correct;
            r->seconds += e.seconds;
        }
        examples_free(&edges);
    }
    /* add: the carry-aware test set, per longest carry chain */
    carry_result cr = {0};
    if (!st)
        st = evaluate_carries(s->model, &s->tok, &s->task, &s->carry, cfg->run.eval_batch, 1,
                              NULL, NULL, &cr);
    if (!st) {
        r->carry_total = cr.total;
        r->carry_correct = cr.correct;
        r->seconds += cr.seconds;
    }
    if (st) {
        carry_result_free(&cr);
        return st;
    }
    double acc = r->total ? (double)r->correct / r->total : 0.0;
    /* best_accuracy holds the best score: accuracy, or minus the loss (a NaN loss is never
     * best) */
    double score = by_loss ? -r->loss : acc;
    bool best = score > tr->progress.best_accuracy;
    tr->progress.last_accuracy = acc;
    if (best) {
        tr->progress.best_accuracy = score;
        tr->progress.best_step = tr->progress.step;
    }
    /* the metrics line first, then best, then last: a run stopped anywhere in between resumes
     * from an earlier last.safetensors, drops this line and writes it (and best) again */
    text_buffer b = {0};
    text_printf(&b, "{\"step\": %lld, \"kind\": \"eval\"", tr->progress.step);
    json_real(&b, "accuracy", 6, false, acc);
    if (!isnan(r->loss))
        json_real(&b, "test_loss", 6, false, r->loss);
    if (!isnan(r->mae))
        json_real(&b, "mae", 6, false, r->mae);
    if (r->edge_total > 0)
        text_printf(&b, ", \"edge_correct\": %d, \"edge_total\": %d", r->edge_correct,
                    r->edge_total);
    text_printf(&b, ", \"eval_n\": %d", r->total);
    if (cr.total > 0) {
        /* per chain length: exact match, null where the set has no such sums */
        text_printf(&b, ", \"carry_accuracy\": %.6f, \"carry_correct\": %d, \"carry_total\": "
                    "%d, \"carry_by_chain\": [", (double)cr.correct / cr.total, cr.correct,
                    cr.total);
        for (int c = 0; c < cr.chains; c++) {
            if (cr.n[c])
                text_printf(&b, "%s%.4f", c ? ", " : "", (double)cr.right[c] / cr.n[c]);
            else
                text_printf(&b, "%snull", c ? ", " : "");
        }
        text_printf(&b, "]");
    }
    json_real(&b, "eval_seconds", 3, false, r->seconds);
    text_printf(&b, ", \"best\": %s", best ? "true" : "false");
    json_real(&b, "elapsed", 3, false, time_now() - tr->t_start);
    text_printf(&b, "}\n");
    st = metrics_write(tr, &b);
    char path[TRAIN_PATH_MAX + 32];
    if (!st && best) {
        io_join_path(path, sizeof path, cfg->run.dir, "best.safetensors");
        st = checkpoint_save(path, s->model, NULL, cfg, &tr->progress, &s->tok);
    }
    if (!st)
        st = save_last(tr);
    if (!st && tr->cb && tr->cb->on_eval)
        tr->cb->on_eval(tr->cb->ctx, tr->progress.step, tr->progress.total_steps, r, best);
    carry_result_free(&cr);
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

/* --------------------------------------------------------------------- non-finite values */

/* What last.safetensors holds now, for the messages of a stopped run. */
static void saved_state_text(const trainer *tr, char *out, size_t cap)
{
    const char *dir = tr->s->cfg.run.dir;
    if (tr->saved_step >= 0)
        snprintf(out, cap, "last.safetensors holds step %lld, the last finite state: arith train "
                 "--resume %s continues from it, with other flags if given", tr->saved_step, dir);
    else
        snprintf(out, cap, "no checkpoint was written yet: arith train --resume %s starts again "
                 "from step 0, with other flags if given", dir);
}

/* The flags that keep a run finite, with their values now. */
static void divergence_hint(const train_config *cfg, char *out, size_t cap)
{
    char clip[64];
    if (cfg->optim.clip_norm > 0)
        snprintf(clip, sizeof clip, "a smaller --clip-norm (now %g)", cfg->optim.clip_norm);
    else
        snprintf(clip, sizeof clip, "clipping (--clip-norm 1; now off)");
    /* an example: Adam without epsilon divides 0 by 0 where a gradient is 0; else a smaller
     * step, and weight decay that no longer flips the weights' sign (AdamW scales them by
     * 1 - lr * decay) */
    char flags[96];
    const double lr = cfg->optim.lr / 10;
    if (cfg->optim.eps <= 0)
        snprintf(flags, sizeof flags, "--eps 1e-8");
    else if (lr * cfg->optim.weight_decay >= 0.1)
        snprintf(flags, sizeof flags, "--lr %g --weight-decay 0.01", lr);
    else
        snprintf(flags, sizeof flags, "--lr %g", lr);
    snprintf(out, cap, "hint: lower --lr (now %g), raise --eps (now %g), lower --weight-decay "
             "(now %g) or add %s, e.g. arith train --resume %s %s", cfg->optim.lr,
             cfg->optim.eps, cfg->optim.weight_decay, clip, cfg->run.dir, flags);
}

/* A step whose loss or gradient norm is not finite, and no skip left: the weights are still
 * the finite ones from before it, and become last.safetensors; the run stops. */
static arith_status stop_nonfinite(trainer *tr, long long step1, long long epoch, double loss,
                                   double norm, double lr)
{
    const train_config *cfg = &tr->s->cfg;
    arith_status st = metrics_window(tr);
    text_buffer b = {0};
    text_printf(&b, "{\"step\": %lld, \"kind\": \"train\", \"epoch\": %lld", step1, epoch);
    json_real(&b, "loss", 6, false, loss);
    json_real(&b, "lr", 6, true, lr);
    json_real(&b, "grad_norm", 6, true, norm);
    text_printf(&b, ", \"nonfinite\": true, \"skipped_nonfinite\": %lld", tr->progress.skipped);
    json_real(&b, "elapsed", 3, false, time_now() - tr->t_start);
    text_printf(&b, "}\n");
    if (!st)
        st = metrics_write(tr, &b);
    else
        free(b.text);
    if (!st && tr->saved_step != tr->progress.step)
        st = save_last(tr);
    if (st)
        return st;
    char saved[TRAIN_PATH_MAX + 160], hint[TRAIN_PATH_MAX + 512], skips[160];
    saved_state_text(tr, saved, sizeof saved);
    divergence_hint(cfg, hint, sizeof hint);
    if (cfg->run.skip_nonfinite > 0)
        snprintf(skips, sizeof skips, ", after %lld skipped batch%s (--skip-nonfinite %d)",
                 tr->progress.skipped, tr->progress.skipped == 1 ? "" : "es",
                 cfg->run.skip_nonfinite);
    else
        snprintf(skips, sizeof skips, " (--skip-nonfinite N skips up to N such batches)");
    return arith_error(ARITH_ERR_DATA, "step %lld of %lld: the training loss is %g and the "
                       "gradient norm %g; the run stopped before this step's update%s\n%s\n%s",
                       step1, tr->progress.total_steps, loss, norm, skips, saved, hint);
}

/* After an update: every trainable weight finite, or the run stops naming the first tensor
 * that is not (an update cannot be skipped once made; last.safetensors keeps what it holds). */
static arith_status check_weights(trainer *tr, long long step1)
{
    const param_table *pt = &tr->s->model->params;
    bool finite = true;
    for (int i = 0; i < pt->count && finite; i++)
        if (pt->views[i].trainable)
            finite = tensor_all_finite(pt->data + pt->views[i].offset, pt->views[i].size);
    if (finite)
        return ARITH_OK;
    for (int i = 0; i < pt->count; i++) {
        const param_view *v = &pt->views[i];
        size_t first = 0, bad = v->trainable ? core_count_nonfinite(pt->data + v->offset,
                                                                     v->size, &first) : 0;
        if (bad == 0)
            continue;
        char saved[TRAIN_PATH_MAX + 160], hint[TRAIN_PATH_MAX + 512];
        saved_state_text(tr, saved, sizeof saved);
        divergence_hint(&tr->s->cfg, hint, sizeof hint);
        return arith_error(ARITH_ERR_DATA, "step %lld of %lld: the update made tensor \"%s\" "
                           "non-finite (%zu of its %zu values; the first, at index %zu, is %g); "
                           "the run stopped\n%s\n%s", step1, tr->progress.total_steps, v->name,
                           bad, v->size, first, (double)pt->data[v->offset + first], saved,
                           hint);
    }
    return ARITH_OK;
}

/* ------------------------------------------------------------------------------ the run */

static bool should_stop(const train_callbacks *cb)
{
    return cb && cb->should_stop && cb->should_stop(cb->ctx);
}

/* A run resumed before its first checkpoint starts from the weights the seed gives, as the
 * session built them, and from GPT-2's file when it started from one (a session opened on a
 * saved run leaves that to the checkpoint). */
static arith_status start_weights(session *s)
{
    if (!s->cfg.model.init[0])
        return ARITH_OK;
    gpt2_pretrained pre;
    arith_status st = gpt2_pretrained_read(&pre, s->cfg.model.init);
    if (st)
        return st;
    st = gpt2_pretrained_load(s->model, &pre);
    gpt2_pretrained_free(&pre);
    return st;
}

/* The state last.safetensors (at path) holds: the weights, the moments and the progress,
 * checked against the run's config.json; refused when it has already taken `total` steps. */
static arith_status load_last(trainer *tr, const char *path, long long total)
{
    session *s = tr->s;
    train_config saved;
    arith_status st = checkpoint_read_config(path, &saved, &tr->progress);
    if (!st)
        st = checkpoint_check_run_config(path, &saved, s->cfg.run.dir);
    if (!st)
        st = checkpoint_load(path, s->model, &tr->opt, !s->no_verify);
    if (!st && tr->progress.step >= total)
        st = arith_error(ARITH_ERR_ARG, "%s has already taken %lld of %lld steps\nhint: "
                         "extend it with --steps N or --epochs N", s->cfg.run.dir,
                         tr->progress.step, total);
    if (!st)
        tr->saved_step = tr->progress.step;
    return st;
}

/* A data-parallel follower's state to start from: rank 0's, read from the same checkpoint
 * (or the seed's weights), without touching the directory rank 0 prepares. */
static arith_status follower_start(trainer *tr, bool resume, long long total)
{
    char path[TRAIN_PATH_MAX + 32];
    arith_status st = io_join_path(path, sizeof path, tr->s->cfg.run.dir, "last.safetensors");
    if (st || !resume)
        return st;
    return path_exists(path) ? load_last(tr, path, total) : start_weights(tr->s);
}

/* The run directory locked and cleaned, and the state to start from: a new run's directory
 * prepared, or a checkpoint loaded (none yet: step 0). */
static arith_status open_run(trainer *tr, bool resume, long long total, train_result *out)
{
    session *s = tr->s;
    train_config *cfg = &s->cfg;
    arith_status st = ARITH_OK;
    if (s->rank > 0) /* a data-parallel follower: rank 0 holds the directory */
        return follower_start(tr, resume, total);
    if (!s->locked) {
        st = run_dir_lock(cfg->run.dir, &s->lock_fd);
        if (st)
            return st;
        s->locked = true;
    }
    /* what dead processes left half-written (their files under the final names are whole) */
    st = io_remove_stale_temps(cfg->run.dir, NULL);
    if (st)
        return st;
    if (!resume)
        return prepare_run_dir(s);
    char path[TRAIN_PATH_MAX + 32];
    st = io_join_path(path, sizeof path, cfg->run.dir, "last.safetensors");
    if (st)
        return st;
    if (!path_exists(path)) {
        if (!run_has(cfg->run.dir, "config.json"))
            return arith_error(ARITH_ERR_STATE, "%s holds no run to resume (no config.json, no "
                               "last.safetensors)", cfg->run.dir);
        if (out)
            out->from_start = true;
        return start_weights(s);
    }
    return load_last(tr, path, total);
}

/* The learning rate of `step` under the run's schedule: laid out over schedule_steps steps
 * from schedule_start, and its final rate held past their end (a run extended by a resume
 * keeps its schedule unless --restart-schedule lays out a new one over the added steps). */
static double run_lr(const trainer *tr, long long step)
{
    const optim_settings *o = &tr->s->cfg.optim;
    const long long len = tr->progress.schedule_steps > 0 ? tr->progress.schedule_steps : 1;
    long long k = step - tr->progress.schedule_start;
    if (k >= len)
        k = len - 1;
    return schedule_lr(o, k < 0 ? 0 : k, len);
}

/* A resume: how the schedule goes on (said through on_schedule when the length changed), and
 * a line in metrics.jsonl that marks the point (the plot draws it). */
static arith_status mark_resume(trainer *tr, long long was_total, long long total,
                                bool from_start)
{
    train_progress *p = &tr->progress;
    const long long step = p->step;
    bool restarted = false;
    if (from_start || was_total <= 0) {
        p->schedule_start = 0; /* nothing trained yet: the schedule of the run as it is now */
        p->schedule_steps = total;
    } else if (total != was_total && tr->s->restart_schedule && total > step) {
        p->schedule_start = step;
        p->schedule_steps = total - step;
        restarted = true;
    }
    if (total != was_total && !from_start && was_total > 0 && tr->cb && tr->cb->on_schedule)
        tr->cb->on_schedule(tr->cb->ctx, p, was_total, total, restarted, run_lr(tr, step),
                            schedule_lr(&tr->s->cfg.optim, step, total));
    text_buffer line = {0};
    text_printf(&line, "{\"step\": %lld, \"kind\": \"resume\", \"total_steps\": %lld, "
                "\"schedule\": \"%s\", \"schedule_start\": %lld, \"schedule_steps\": %lld",
                step, total, restarted ? "restarted" : total != was_total ? "kept" : "same",
                p->schedule_start, p->schedule_steps);
    json_real(&line, "lr", 6, true, run_lr(tr, step));
    json_real(&line, "elapsed", 3, false, p->elapsed);
    text_printf(&line, "}\n");
    return metrics_write(tr, &line);
}

/* Data-parallel: whether any rank has failed (an error here, if this rank had none, says so)
 * and, given stop, whether any rank was asked to stop. Every rank gets the same answers. */
static bool agree(arith_status *st, bool *stop)
{
    int flags[2] = {*st != ARITH_OK, stop && *stop};
    dist_max_ints(flags, 2);
    if (stop)
        *stop = flags[1] != 0;
    if (flags[0] && *st == ARITH_OK)
        *st = arith_error(ARITH_ERR_STATE, "another rank of this data-parallel run failed (its "
                          "message comes from that rank)");
    return flags[0] != 0;
}

/* Data-parallel: the whole batch's loss, answer tokens and gradient on every rank. Each rank's
 * gradient is the mean over its own tokens; weighted by its share of the batch's tokens, their
 * sum is the mean over all of them, as one process would take it. */
static void sum_over_ranks(session *s, double *loss_sum, int *n_tok)
{
    double whole[2] = {*loss_sum, (double)*n_tok};
    dist_sum_doubles(whole, 2);
    const float w = whole[1] > 0 ? (float)(*n_tok / whole[1]) : 0.0f;
    param_table *p = &s->model->params;
    const bool all = params_count_trainable(p) == params_count(p);
    for (int i = 0; i < p->count; i++) {
        const param_view *v = &p->views[i];
        float *g = p->grad + v->offset;
        for (size_t k = 0; v->trainable && k < v->size; k++)
            g[k] *= w;
        if (v->trainable && !all)
            dist_sum_floats(p->grad + v->offset, v->size);
    }
    if (all) /* one call for the whole buffer (its alignment gaps are zeros) */
        dist_sum_floats(p->grad, p->total);
    *loss_sum = whole[0];
    *n_tok = (int)whole[1];
}

arith_status train_run(session *s, const train_callbacks *cb, bool resume, train_result *out)
{
    trainer tr = {.s = s, .cb = cb, .lead = s->ranks <= 1 || s->rank == 0,
                  .metrics = {.fd = -1}, .saved_step = -1, .norm = NAN};
    train_config *cfg = &s->cfg;
    if (out)
        memset(out, 0, sizeof *out);
    if (!cfg->run.dir[0])
        train_config_default_dir(cfg, "", cfg->run.dir, sizeof cfg->run.dir);
    const int n_train = s->train.count;
    const long long per_epoch = (n_train + cfg->optim.batch - 1) / cfg->optim.batch;
    const long long total = cfg->optim.steps > 0 ? cfg->optim.steps : per_epoch * cfg->optim.epochs;
    char path[TRAIN_PATH_MAX + 32];
    arith_status st = optimizer_init(&tr.opt, &s->model->params);
    if (st)
        return arith_error(st, "out of memory for the optimizer's moments");
    tr.progress.best_accuracy = -INFINITY;
    tr.progress.last_accuracy = -1.0;
    const int ranks = s->ranks > 1 ? s->ranks : 1, rank = ranks > 1 ? s->rank : 0;
    const bool lead = tr.lead;
    st = open_run(&tr, resume, total, out);
    const long long saved_total = tr.progress.total_steps; /* the checkpoint's (0: none) */
    tr.progress.total_steps = total;
    /* lines about steps past the checkpoint would come twice: they go (all of them for a run
     * that starts at step 0) */
    if (!st)
        st = io_join_path(path, sizeof path, cfg->run.dir, "metrics.jsonl");
    if (!st && lead)
        st = metrics_truncate(path, tr.progress.step);
    if (!st && resume)
        tr.progress.elapsed = metrics_elapsed(path); /* the clock goes on from there */
    if (!st && lead)
        st = io_append_open(&tr.metrics, path);
    if (!resume) {
        tr.progress.schedule_start = 0;
        tr.progress.schedule_steps = total;
    } else if (!st) {
        st = mark_resume(&tr, saved_total, total, tr.saved_step < 0);
    }
    if (ranks > 1 && agree(&st, NULL)) {
        io_append_close(&tr.metrics);
        optimizer_free(&tr.opt);
        return st;
    }
    if (st) {
        optimizer_free(&tr.opt);
        return st;
    }

    batch b = {0};
    int32_t *perm = malloc((size_t)n_train * sizeof *perm);
    int max_T = s->train_enc.max_prompt + s->train_enc.max_answer - 1;
    st = batch_alloc(&b, cfg->optim.batch, max_T);
    if (!st)
        st = model_reserve(s->model, cfg->optim.batch, max_T);
    if (!st && !perm)
        st = arith_error(ARITH_ERR_MEMORY, "out of memory");
    tr.t_start = time_now() - tr.progress.elapsed; /* elapsed goes on over resumes */
    double t_last = time_now(), lr = 0;
    long long epoch_loaded = -1;
    eval_result r = {0};
    bool evaluated_last = false, stopped = false;
    while (tr.progress.step < total) {
        bool stop = should_stop(cb);
        if (ranks > 1 ? agree(&st, &stop) : st != ARITH_OK)
            break; /* an error here or (data-parallel) on another rank */
        if (stop) {
            stopped = true;
            break;
        }
        long long step = tr.progress.step;
        long long epoch = step / per_epoch;
        long long i = step % per_epoch;
        if (epoch != epoch_loaded) {
            epoch_order(perm, n_train, cfg->run.seed, epoch);
            epoch_loaded = epoch;
        }
        int first = (int)(i * cfg->optim.batch);
        int count = n_train - first < cfg->optim.batch ? n_train - first : cfg->optim.batch;
        /* data-parallel: this rank's share of the batch's rows */
        const int r0 = (int)((long long)count * rank / ranks);
        const int r1 = (int)((long long)count * (rank + 1) / ranks);
        b.pos_seed = rng_hash((uint64_t)cfg->run.seed ^ 0x9051710aULL, (uint64_t)step);
        params_zero_grad(&s->model->params);
        double loss_sum = 0;
        int n_tok = 0;
        if (r1 > r0) {
            st = batch_fill_train(&b, &s->train_enc, perm + first + r0, r1 - r0,
                                  s->tok.pad_id);
            /* dropout's masks follow the rows' places in this rank's batch: each rank draws
             * its own (data-parallel runs with dropout repeat at a fixed rank count, but are
             * not the one-process run) */
            const uint64_t drop_seed = rng_hash((uint64_t)cfg->run.seed, (uint64_t)step) ^
                                       (rank ? rng_hash(0xd7a9e11ULL, (uint64_t)rank) : 0);
            if (!st)
                st = model_forward(s->model, &b, true, drop_seed, &loss_sum, &n_tok);
            if (!st)
                model_backward(s->model);
        }
        if (ranks > 1 && !agree(&st, NULL))
            sum_over_ranks(s, &loss_sum, &n_tok);
        if (st)
            continue; /* to the top, where every rank learns of it */
        double norm = clip_gradients(&s->model->params, cfg->optim.clip_value,
                                     cfg->optim.clip_norm);
        lr = run_lr(&tr, step);
        double loss = n_tok ? loss_sum / n_tok : 0.0;
        if (!isfinite(loss) || !isfinite(norm)) {
            if (tr.progress.skipped >= cfg->run.skip_nonfinite) {
                st = stop_nonfinite(&tr, step + 1, epoch + 1, loss, norm, lr);
                continue;
            }
            /* --skip-nonfinite: this batch makes no update */
            st = metrics_window(&tr);
            tr.progress.skipped++;
            tr.progress.step = step + 1;
            text_buffer line = {0};
            text_printf(&line, "{\"step\": %lld, \"kind\": \"train\", \"epoch\": %lld",
                        step + 1, epoch + 1);
            json_real(&line, "loss", 6, false, loss);
            json_real(&line, "lr", 6, true, lr);
            json_real(&line, "grad_norm", 6, true, norm);
            text_printf(&line, ", \"skipped_nonfinite\": %lld", tr.progress.skipped);
            json_real(&line, "elapsed", 3, false, time_now() - tr.t_start);
            text_printf(&line, "}\n");
            if (!st)
                st = metrics_write(&tr, &line);
            else
                free(line.text);
            if (cb && cb->on_skip)
                cb->on_skip(cb->ctx, step + 1, loss, norm, tr.progress.skipped,
                            cfg->run.skip_nonfinite);
        } else {
            optimizer_step(&tr.opt, &s->model->params, &cfg->optim, lr);
            tr.progress.step = step + 1;
            st = check_weights(&tr, step + 1);
            tr.window_loss += loss;
            tr.window++;
            tr.epoch = epoch + 1;
            tr.lr = lr;
            tr.norm = norm;
            double now = time_now();
            double dt = now - t_last;
            t_last = now;
            tr.rate = tr.rate == 0 ? 1.0 / dt : 0.9 * tr.rate + 0.1 / dt;
            if (!st && cb && cb->on_step)
                cb->on_step(cb->ctx, tr.progress.step, total, (int)epoch + 1, loss, lr, tr.rate);
            if (!st && (tr.progress.step % cfg->run.log_every == 0 || tr.progress.step == total))
                st = metrics_window(&tr);
        }
        if (st)
            continue;
        bool at_end = tr.progress.step == total;
        bool at_epoch = tr.progress.step % per_epoch == 0;
        bool at_interval = cfg->run.eval_every > 0 && tr.progress.step % cfg->run.eval_every == 0;
        evaluated_last = false;
        if (at_end || at_epoch || at_interval) {
            if (lead) /* (data-parallel followers wait at the next step) */
                st = run_eval(&tr, at_end, &r);
            evaluated_last = at_end;
        } else if (cfg->run.save_every > 0 && tr.progress.step % cfg->run.save_every == 0) {
            st = save_last(&tr); /* a crash loses at most --save-every steps */
        }
    }
    if (st == ARITH_OK && stopped) {
        /* asked to stop: what the steps since the last line taught, and the state, saved */
        st = metrics_window(&tr);
        if (!st && tr.saved_step != tr.progress.step)
            st = save_last(&tr);
    } else if (st == ARITH_OK && !evaluated_last && lead) {
        st = run_eval(&tr, true, &r);
    }
    if (out) {
        out->final = stopped ? (eval_result){0} : r;
        out->step = tr.progress.step;
        out->total = total;
        out->skipped = tr.progress.skipped;
        out->stopped = stopped;
    }
    arith_status closed = io_append_close(&tr.metrics);
    if (!st)
        st = closed;
    if (st == ARITH_OK && lead) {
        char svg[TRAIN_PATH_MAX + 32], title[2 * TRAIN_PATH_MAX];
        io_join_path(svg, sizeof svg, cfg->run.dir, "training.svg");
        session_title(s, title, sizeof title);
        st = plot_training_curves(path, svg, title);
    }
    batch_free(&b);
    free(perm);
    optimizer_free(&tr.opt);
    return st;
}
