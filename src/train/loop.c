/* The training loop: batches in a seeded order, forward, backward, clipping, optimizer step;
 * evaluation, metrics and checkpoints at intervals; resuming continues exactly where the last
 * checkpoint stopped. The run directory is prepared here before the first step. */
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
    if (!cfg->run.dir[0])
        train_config_default_dir(cfg, "", cfg->run.dir, sizeof cfg->run.dir);
    char path[TRAIN_PATH_MAX + 32];
    arith_status st = io_join_path(path, sizeof path, cfg->run.dir, "config.json");
    if (st)
        return st;
    if (path_exists(path)) {
        char last[TRAIN_PATH_MAX + 32];
        io_join_path(last, sizeof last, cfg->run.dir, "last.safetensors");
        if (!path_exists(last))
            return arith_error(ARITH_ERR_STATE, "%s already holds a run that stopped before its "
                               "first checkpoint\nhint: remove it, or choose another --run",
                               cfg->run.dir);
        return arith_error(ARITH_ERR_STATE, "%s already holds a run\nhint: continue it with "
                           "arith train --resume %s, or choose another --run", cfg->run.dir,
                           cfg->run.dir);
    }
    st = make_dirs(cfg->run.dir);
    if (st)
        return st;
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
    if (!st)
        st = io_join_path(path, sizeof path, cfg->run.dir, "config.json");
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
    /* best_accuracy holds the best score: accuracy, or minus the loss */
    double score = by_loss ? -r->loss : acc;
    bool best = score > tr->progress.best_accuracy;
    tr->progress.last_accuracy = acc;
    if (best) {
        tr->progress.best_accuracy = score;
        tr->progress.best_step = tr->progress.step;
    }
    char path[TRAIN_PATH_MAX + 32];
    io_join_path(path, sizeof path, cfg->run.dir, "last.safetensors");
    st = checkpoint_save(path, s->model, &tr->opt, cfg, &tr->progress);
    if (!st && best) {
        io_join_path(path, sizeof path, cfg->run.dir, "best.safetensors");
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
        fprintf(tr->metrics, "{\"step\": %lld, \"accuracy\": %.6f%s, \"eval_n\": %d, ",
                tr->progress.step, acc, extra, r->total);
        if (cr.total > 0) {
            /* per chain length: exact match, null where the set has no such sums */
            fprintf(tr->metrics, "\"carry_accuracy\": %.6f, \"carry_correct\": %d, "
                    "\"carry_total\": %d, \"carry_by_chain\": [",
                    (double)cr.correct / cr.total, cr.correct, cr.total);
            for (int c = 0; c < cr.chains; c++) {
                if (cr.n[c])
                    fprintf(tr->metrics, "%s%.4f", c ? ", " : "", (double)cr.right[c] / cr.n[c]);
                else
                    fprintf(tr->metrics, "%snull", c ? ", " : "");
            }
            fprintf(tr->metrics, "], ");
        }
        fprintf(tr->metrics, "\"eval_seconds\": %.3f, \"best\": %s, \"elapsed\": %.3f}\n",
                r->seconds, best ? "true" : "false", time_now() - tr->t_start);
        fflush(tr->metrics);
    }
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

arith_status train_run(session *s, const train_callbacks *cb, bool resume, eval_result *final)
{
    trainer tr = {.s = s, .cb = cb};
    train_config *cfg = &s->cfg;
    const int n_train = s->train.count;
    const long long per_epoch = (n_train + cfg->optim.batch - 1) / cfg->optim.batch;
    const long long total = cfg->optim.steps > 0 ? cfg->optim.steps : per_epoch * cfg->optim.epochs;
    char path[TRAIN_PATH_MAX + 32];
    arith_status st = optimizer_init(&tr.opt, &s->model->params);
    if (st)
        return st;
    tr.progress.best_accuracy = -INFINITY;
    tr.progress.last_accuracy = -1.0;
    if (resume) {
        io_join_path(path, sizeof path, cfg->run.dir, "last.safetensors");
        train_config saved;
        st = checkpoint_read_config(path, &saved, &tr.progress);
        if (!st)
            st = checkpoint_load(path, s->model, &tr.opt);
        if (!st && tr.progress.step >= total)
            st = arith_error(ARITH_ERR_ARG, "%s has already taken %lld of %lld steps\nhint: "
                             "extend it with --steps N or --epochs N", cfg->run.dir,
                             tr.progress.step, total);
    } else {
        st = prepare_run_dir(s);
    }
    if (st) {
        optimizer_free(&tr.opt);
        return st;
    }
    tr.progress.total_steps = total;
    io_join_path(path, sizeof path, cfg->run.dir, "metrics.jsonl");
    tr.metrics = fopen(path, "a");
    if (!tr.metrics) {
        optimizer_free(&tr.opt);
        return arith_error(ARITH_ERR_IO, "%s: cannot open for appending: %s", path,
                           strerror(errno));
    }

    batch b;
    int32_t *perm = malloc((size_t)n_train * sizeof *perm);
    int max_T = s->train_enc.max_prompt + s->train_enc.max_answer - 1;
    st = batch_alloc(&b, cfg->optim.batch, max_T);
    if (!st)
        st = model_reserve(s->model, cfg->optim.batch, max_T);
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
            epoch_order(perm, n_train, cfg->run.seed, epoch);
            epoch_loaded = epoch;
        }
        int first = (int)(i * cfg->optim.batch);
        int count = n_train - first < cfg->optim.batch ? n_train - first : cfg->optim.batch;
        b.pos_seed = rng_hash((uint64_t)cfg->run.seed ^ 0x9051710aULL, (uint64_t)step);
        st = batch_fill_train(&b, &s->train_enc, perm + first, count, s->tok.pad_id);
        if (st)
            break;
        params_zero_grad(&s->model->params);
        double loss_sum = 0;
        int n_tok = 0;
        st = model_forward(s->model, &b, true, rng_hash((uint64_t)cfg->run.seed, (uint64_t)step),
                           &loss_sum, &n_tok);
        if (st)
            break;
        model_backward(s->model);
        double norm = clip_gradients(&s->model->params, cfg->optim.clip_value,
                                     cfg->optim.clip_norm);
        double lr = schedule_lr(&cfg->optim, step, total);
        optimizer_step(&tr.opt, &s->model->params, &cfg->optim, lr);
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
        if (tr.progress.step % cfg->run.log_every == 0 || tr.progress.step == total) {
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
        bool at_interval = cfg->run.eval_every > 0 && tr.progress.step % cfg->run.eval_every == 0;
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
