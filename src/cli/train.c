/* arith train: one run, or the same experiment under several seeds (--seeds N), from flags
 * and a JSON config (--config), or a stopped run continued (--resume). Ctrl-C and SIGTERM stop
 * a run after its current step with last.safetensors saved; a second one stops at once. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "cli/cli.h"
#include "core/dist.h"
#include "io/io.h"

/* ---------------------------------------------------------------------------------- signals */

/* The signal that asked the run to stop (0: none).
 *
 * No handler ever runs on a thread that computes. oneDNN's AVX-512 and AVX2 GEMM kernels (the
 * versions Debian ships) point rsp into the heap while they run, so a signal frame pushed there
 * overwrites heap memory: a Ctrl-C in the middle of a product aborted later in free() with
 * "corrupted size vs. prev_size" (oneDNN issue 4845, fixed upstream in 3.12). SIGINT and
 * SIGTERM are therefore blocked in every thread, which the threads OpenMP and oneDNN create
 * later inherit, and one thread of our own takes them with sigwait(): the first sets the flag
 * the loop reads between steps, the second removes the temporary file of a write in progress
 * and ends the process. */
static atomic_int stop_signal = 0;
static sigset_t stop_set;

static void say(const char *text, size_t len)
{
    if (write(STDERR_FILENO, text, len) < 0) {
        /* stderr is gone: nothing else can be said */
    }
}

static void *stop_signal_thread(void *arg)
{
    (void)arg;
#ifdef __linux__
    prctl(PR_SET_NAME, "arith-signals", 0, 0, 0); /* the name tests and ps show */
#endif
    for (;;) {
        int sig = 0;
        if (sigwait(&stop_set, &sig) != 0)
            continue;
        if (stop_signal) {
            io_discard_pending();
            static const char now[] = "\narith: second signal: stopping now; last.safetensors "
                                      "is whole, from its last save\n";
            say(now, sizeof now - 1);
            _exit(128 + sig);
        }
        stop_signal = sig;
        static const char first[] = "\narith: stopping after this step and saving "
                                    "last.safetensors (a second Ctrl-C stops at once)\n";
        say(first, sizeof first - 1);
    }
    return NULL;
}

/* Ctrl-C (unless the shell started us with it ignored, in the background) and SIGTERM, taken
 * by stop_signal_thread. Called before any other thread exists. */
void cli_install_stop_handlers(void)
{
    static bool installed = false;
    if (installed)
        return;
    installed = true;
    struct sigaction old;
    sigemptyset(&stop_set);
    if (sigaction(SIGINT, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
        sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    sigset_t before;
    if (pthread_sigmask(SIG_BLOCK, &stop_set, &before) != 0)
        return;
    pthread_attr_t attr;
    pthread_t thread;
    bool started = pthread_attr_init(&attr) == 0 &&
                   pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
                   pthread_create(&thread, &attr, stop_signal_thread, NULL) == 0;
    pthread_attr_destroy(&attr);
    if (!started) {
        /* no thread to take them: the signals keep their default action (end the process) */
        pthread_sigmask(SIG_SETMASK, &before, NULL);
        fprintf(stderr, "arith: warning: cannot start the signal thread; Ctrl-C will stop the "
                        "run without saving\n");
    }
}

int cli_stop_signal(void)
{
    return stop_signal;
}

static bool cli_should_stop(void *ctx)
{
    return stop_signal != 0;
}

static const char *stop_signal_name(void)
{
    return stop_signal == SIGTERM ? "SIGTERM" : "SIGINT";
}

/* A resume to another length than the run's schedule was laid out for: say what happens to
 * the learning rate, which a silent recomputation would have raised (#16). */
static void cli_on_schedule(void *ctx, const train_progress *p, long long was_total,
                            long long total, bool restarted, double lr_next,
                            double lr_if_stretched)
{
    (void)ctx;
    const long long end = p->schedule_start + p->schedule_steps;
    if (restarted)
        fprintf(stderr, "arith: note: the run was laid out for %lld steps and now takes %lld: "
                "--restart-schedule lays out a new warmup and cosine over steps %lld..%lld "
                "(next learning rate %.3g)\n", was_total, total, p->schedule_start + 1, end,
                lr_next);
    else if (lr_next != lr_if_stretched || total > end)
        fprintf(stderr, "arith: note: the run was laid out for %lld steps and now takes %lld: "
                "its learning-rate schedule is kept%s (next step's rate %.3g; a schedule "
                "stretched to %lld steps would jump to %.3g)\nhint: --restart-schedule lays out "
                "a new warmup and cosine over the added steps\n", was_total, total,
                total > end ? ", and its final rate held past its end" : "", lr_next, total,
                lr_if_stretched);
}

static void cli_on_skip(void *ctx, long long step, double loss, double grad_norm,
                        long long skipped, long long limit)
{
    cli_progress_end_line(ctx);
    fprintf(stderr, "arith: warning: step %lld: training loss %g, gradient norm %g: batch "
            "skipped, no update (%lld of --skip-nonfinite %lld)\n", step, loss, grad_norm,
            skipped, limit);
}

/* -------------------------------------------------------------------------------- one run */

/* Where a resumed run's checkpoint came from: its progress (thread count) and whether the
 * user chose --threads on this command line. */
typedef struct {
    bool have;                 /* a checkpoint (a run without one resumes from step 0) */
    train_progress progress;
    bool threads_given;
    bool no_verify;            /* --no-verify: its checksum is not checked */
    bool restart_schedule;     /* --restart-schedule */
} resume_source;

/* A data-parallel rank other than 0: the same steps on its share of each batch, silently. */
static int train_follower(session *s, bool resume)
{
    train_callbacks cb = {.should_stop = cli_should_stop};
    train_result done;
    arith_status st = train_run(s, &cb, resume, &done);
    session_close(s);
    if (st)
        return cli_fail(st);
    return done.stopped ? 128 + (stop_signal ? stop_signal : SIGINT) : 0;
}

/* Trains one run from a parsed config (or resumes one); prints its results. */
static int train_one(const train_config *cfg_in, const char *resume, const resume_source *from,
                     train_outcome *out, bool data_parallel)
{
    train_config cfg = *cfg_in;
    arith_status st;
    session s;
    /* one writer per run directory: an existing one is locked before the data is built, so a
     * second trainer fails at once (a new one is created and locked by train_run) */
    const char *dir = resume ? resume : cfg.run.dir;
    /* data-parallel (mpirun without --seeds): rank 0 writes the run and speaks for it; the
     * other ranks compute their share of each batch and say nothing unless they fail */
    const int rank = data_parallel ? dist_rank() : 0, ranks = data_parallel ? dist_size() : 1;
    int lock_fd = -1;
    st = ARITH_OK;
    if (rank == 0 && dir[0] && access(dir, F_OK) == 0)
        st = run_dir_lock(dir, &lock_fd);
    if (ranks > 1) { /* a refusal on rank 0 is every rank's */
        int refused = st != ARITH_OK;
        dist_max_ints(&refused, 1);
        if (refused)
            return st ? cli_fail(st) : EXIT_RUNTIME;
    } else if (st) {
        return cli_fail(st);
    }
    st = session_open(&s, &cfg, resume);
    if (lock_fd >= 0) {
        s.lock_fd = lock_fd; /* session_close releases it */
        s.locked = true;
    }
    s.rank = rank;
    s.ranks = ranks;
    if (ranks > 1) {
        int failed = st != ARITH_OK;
        dist_max_ints(&failed, 1);
        if (failed && !st)
            st = arith_error(ARITH_ERR_STATE, "another rank could not open the run");
    }
    if (st) {
        session_close(&s);
        return cli_fail(st);
    }
    if (resume)
        snprintf(s.cfg.run.dir, sizeof s.cfg.run.dir, "%s", resume);
    s.no_verify = from && from->no_verify;
    s.restart_schedule = from && from->restart_schedule;
    /* same seed and thread count, same bits: a resume on another count is refused unless the
     * user asked for it */
    if (resume && from && from->have && from->progress.threads > 0 &&
        from->progress.threads != core_threads()) {
        const int was = from->progress.threads, now = core_threads();
        if (!from->threads_given) {
            char why[96];
            if (strcmp(core_threads_reason(), "set") == 0)
                snprintf(why, sizeof why, "its config's --threads %d", s.cfg.run.threads);
            else
                snprintf(why, sizeof why, "--threads %s", core_threads_reason());
            fprintf(stderr, "arith: error: %s was trained on %d thread%s, and this resume would "
                    "run on %d (%s): its results would differ bitwise from an uninterrupted "
                    "run's\nhint: --threads %d continues as it ran; --threads %d accepts other "
                    "bits\n", resume, was, was == 1 ? "" : "s", now, why, was, now);
            session_close(&s);
            return EXIT_RUNTIME;
        }
        fprintf(stderr, "arith: warning: %s was trained on %d thread%s and resumes on %d "
                "(--threads %d): from here its results differ bitwise from an uninterrupted "
                "run's\n", resume, was, was == 1 ? "" : "s", now, now);
    }
    if (rank > 0)
        return train_follower(&s, resume != NULL);
    cli_progress pv = {.tty = isatty(STDERR_FILENO), .t_start = time_now()};
    session_description d;
    session_describe(&s, &d);
    char trained[sizeof s.cfg.model.train + 64] = "";
    size_t n_trainable = params_count_trainable(&s.model->params);
    if (s.cfg.model.train[0])
        snprintf(trained, sizeof trained, " (%zu of them trainable: --train %s)", n_trainable,
                 s.cfg.model.train);
    fprintf(stderr, "arith %s: %s on %s (%s), tokenizer %s%s | %d train / %d test | %s | "
            "%zu parameters%s | seed %lld | %d thread%s (%s)\n",
            ARITH_VERSION, model_kind_name(s.cfg.model.family), s.task.def->name,
            d.lengths, tokenizer_name(s.tok.kind), d.format, s.train.count, s.test.count,
            d.model, params_count(&s.model->params), trained, s.cfg.run.seed, core_threads(),
            core_threads() == 1 ? "" : "s", core_threads_reason());
    if (ranks > 1)
        fprintf(stderr, "data-parallel over %d ranks (MPI): each takes %d or %d of a batch's %d "
                "rows, and the gradients are summed\n", ranks, s.cfg.optim.batch / ranks,
                (s.cfg.optim.batch + ranks - 1) / ranks, s.cfg.optim.batch);
    /* threads that wait for each other slow down badly when other programs hold their cores;
     * --threads auto (the default) leaves those cores alone, a count the user set does not */
    if (s.cfg.run.threads > 1 && core_threads() > 1) {
        const double busy = core_busy_cores(0.05);
        const int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
        if (busy >= 0.5 && core_threads() > cores - (int)(busy + 0.5)) /* more than auto's */
            fprintf(stderr, "arith: note: other programs keep %.1f of the %d cores busy; %d "
                    "threads that wait for each other run slowly beside them\nhint: --threads "
                    "auto uses the cores left free\n", busy, cores, core_threads());
    }
    if (s.test_in_train > 0)
        fprintf(stderr, "arith: warning: %d of the %d test prompts are also in the training set, "
                "so test accuracy overstates generalization\n", s.test_in_train, s.test.count);
    train_callbacks cb = {.ctx = &pv, .on_step = cli_on_step, .on_eval = cli_on_eval,
                          .on_sample = cli_on_sample, .should_stop = cli_should_stop,
                          .on_skip = cli_on_skip, .on_schedule = cli_on_schedule};
    train_result done;
    st = train_run(&s, &cb, resume != NULL, &done);
    cli_progress_end_line(&pv);
    if (st) {
        session_close(&s);
        return cli_fail(st);
    }
    if (done.skipped > 0)
        fprintf(stderr, "arith: %lld batch%s skipped for a non-finite loss or gradient norm "
                "(--skip-nonfinite %d)\n", done.skipped, done.skipped == 1 ? " was" : "es were",
                s.cfg.run.skip_nonfinite);
    if (done.stopped) {
        fprintf(stderr, "arith: stopped by %s at step %lld of %lld; last.safetensors saved in "
                "%s\n  continue:  arith train --resume %s\n", stop_signal_name(), done.step,
                done.total, s.cfg.run.dir, s.cfg.run.dir);
        session_close(&s);
        return 128 + stop_signal;
    }
    const eval_result final = done.final;
    double acc = final.total ? (double)final.correct / final.total : 0.0;
    bool regression = s.model->cfg.head == HEAD_REGRESSION;
    printf("final test %s: %.4f (%d/%d)", regression ? "rounded exact match" : "exact match",
           acc, final.correct, final.total);
    if (!isnan(final.mae))
        printf(", mean absolute error %.4f", final.mae);
    if (!isnan(final.loss))
        printf(", test loss %.4f", final.loss);
    if (final.carry_total > 0)
        printf(", carry-heavy %.4f (%d/%d)", (double)final.carry_correct / final.carry_total,
               final.carry_correct, final.carry_total);
    if (final.edge_total > 0)
        printf(", edge cases %d/%d", final.edge_correct, final.edge_total);
    printf("\n");
    char best_path[TRAIN_PATH_MAX + 32];
    train_config best_cfg;
    train_progress best;
    snprintf(best_path, sizeof best_path, "%s/best.safetensors", s.cfg.run.dir);
    bool have_best = checkpoint_read_config(best_path, &best_cfg, &best) == ARITH_OK;
    if (have_best) {
        if (s.cfg.run.best_by == BEST_BY_LOSS)
            printf("best test loss: %.4f at step %lld (best.safetensors)\n", -best.best_accuracy,
                   best.best_step);
        else
            printf("best test exact match: %.4f at step %lld (best.safetensors)\n",
                   best.best_accuracy, best.best_step);
    }
    fprintf(stderr, "run saved in %s (config.json, best.safetensors, last.safetensors, "
            "metrics.jsonl, training.svg, train.csv, test.csv%s)\n"
            "  evaluate:  arith eval %s\n"
            "  ask it:    arith predict %s \"%s\"\n"
            "  continue:  arith train --resume %s %s %d\n",
            s.cfg.run.dir, s.carry.count > 0 ? ", carry.csv" : "", s.cfg.run.dir, s.cfg.run.dir,
            s.test.items[0].prompt, s.cfg.run.dir,
            s.cfg.optim.steps > 0 ? "--steps" : "--epochs",
            s.cfg.optim.steps > 0 ? 2 * s.cfg.optim.steps : s.cfg.optim.epochs + 1);
    if (out) {
        out->final = acc;
        out->correct = final.correct;
        out->total = final.total;
        out->edge_correct = final.edge_correct;
        out->edge_total = final.edge_total;
        out->carry_correct = final.carry_correct;
        out->carry_total = final.carry_total;
        out->by_loss = s.cfg.run.best_by == BEST_BY_LOSS;
        out->have_best = have_best;
        out->best = out->by_loss ? -best.best_accuracy : best.best_accuracy;
        out->best_step = best.best_step;
    }
    session_close(&s);
    return 0;
}
arith_status cli_seeds_json_write(const char *parent, const train_config *cfg,
                                  const train_outcome *o, const long long *seeds, int done,
                                  int planned)
{
    char *text = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&text, &size);
    if (!mem)
        return arith_error(ARITH_ERR_MEMORY, "out of memory writing seeds.json");
    double *fin = malloc(((size_t)done + 1) * sizeof *fin);
    double *best = malloc(((size_t)done + 1) * sizeof *best);
    int have_best = 0;
    fprintf(mem, "{\"run\": ");
    cli_json_string(mem, parent);
    fprintf(mem, ", \"seeds_planned\": %d, \"seeds_done\": %d, \"best_by\": ", planned, done);
    cli_json_string(mem, cfg->run.best_by == BEST_BY_LOSS ? "loss" : "accuracy");
    fprintf(mem, ",\n \"runs\": [");
    for (int k = 0; k < done; k++) {
        char dir[TRAIN_PATH_MAX + 32];
        snprintf(dir, sizeof dir, "%s/seed-%lld", parent, seeds[k]);
        fprintf(mem, "%s\n  {\"seed\": %lld, \"run\": ", k ? "," : "", seeds[k]);
        cli_json_string(mem, dir);
        fprintf(mem, ", \"final_accuracy\": %.6f, \"correct\": %d, \"total\": %d", o[k].final,
                o[k].correct, o[k].total);
        if (o[k].have_best)
            fprintf(mem, ", \"%s\": %.6f, \"best_step\": %lld",
                    o[k].by_loss ? "best_test_loss" : "best_accuracy", o[k].best, o[k].best_step);
        if (o[k].carry_total > 0)
            fprintf(mem, ", \"carry_accuracy\": %.6f, \"carry_correct\": %d, "
                    "\"carry_total\": %d", (double)o[k].carry_correct / o[k].carry_total,
                    o[k].carry_correct, o[k].carry_total);
        if (o[k].edge_total > 0)
            fprintf(mem, ", \"edge_correct\": %d, \"edge_total\": %d", o[k].edge_correct,
                    o[k].edge_total);
        fprintf(mem, "}");
        if (fin)
            fin[k] = o[k].final;
        if (best && o[k].have_best)
            best[have_best++] = o[k].best;
    }
    fprintf(mem, "]");
    if (fin && best && done > 0) {
        stats_summary sf;
        stats_summarize(fin, done, &sf);
        fprintf(mem, ",\n ");
        cli_json_stats(mem, "final_accuracy", &sf, seeds);
        /* the carry-aware set and the edge cases, final checkpoint, over the seeds */
        for (int which = 0; which < 2; which++) {
            bool have = which == 0 ? o[0].carry_total > 0 : o[0].edge_total > 0;
            for (int k = 0; have && k < done; k++) {
                int c = which == 0 ? o[k].carry_correct : o[k].edge_correct;
                int t = which == 0 ? o[k].carry_total : o[k].edge_total;
                fin[k] = t ? (double)c / t : 0.0;
            }
            if (have) {
                stats_summary sc;
                stats_summarize(fin, done, &sc);
                fprintf(mem, ",\n ");
                cli_json_stats(mem, which == 0 ? "final_carry_accuracy" : "final_edge_accuracy",
                               &sc, seeds);
            }
        }
        if (have_best == done) {
            stats_summary sb;
            stats_summarize(best, done, &sb);
            fprintf(mem, ",\n ");
            cli_json_stats(mem, o[0].by_loss ? "best_test_loss" : "best_accuracy", &sb, seeds);
        }
    }
    fprintf(mem, "}\n");
    fclose(mem);
    free(fin);
    free(best);
    char path[TRAIN_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/seeds.json", parent);
    arith_status st = text ? io_write_file_atomic(path, text, size)
                           : arith_error(ARITH_ERR_MEMORY, "out of memory writing seeds.json");
    free(text);
    return st;
}

void cli_seeds_summary_print(const char *parent, const train_outcome *out,
                             const long long *seeds, int done, int N)
{
    bool by_loss = out[0].by_loss;
    printf("\nseeds under %s (%d of %d finished):\n", parent, done, N);
    printf("  %8s  %-22s  %-17s  %s\n", "seed", by_loss ? "best test loss" : "best exact match",
           "final exact match", "run");
    double *fin = malloc((size_t)done * sizeof *fin);
    double *best = malloc((size_t)done * sizeof *best);
    bool all_best = true;
    for (int k = 0; k < done; k++) {
        char b[48] = "-";
        if (out[k].have_best)
            snprintf(b, sizeof b, "%.4f (step %lld)", out[k].best, out[k].best_step);
        printf("  %8lld  %-22s  %-17.4f  %s/seed-%lld\n", seeds[k], b, out[k].final, parent,
               seeds[k]);
        if (fin && best) {
            fin[k] = out[k].final;
            best[k] = out[k].best;
        }
        all_best = all_best && out[k].have_best;
    }
    if (fin && best && all_best)
        cli_print_seed_stats(by_loss ? "best test loss" : "best exact match", best, seeds, done,
                         by_loss);
    if (fin && best)
        cli_print_seed_stats("final exact match", fin, seeds, done, false);
    if (fin && out[0].carry_total > 0) {
        for (int k = 0; k < done; k++)
            fin[k] = out[k].carry_total ? (double)out[k].carry_correct / out[k].carry_total
                                        : 0.0;
        cli_print_seed_stats("final carry-heavy exact match", fin, seeds, done, false);
    }
    if (fin && out[0].edge_total > 0) {
        for (int k = 0; k < done; k++)
            fin[k] = out[k].edge_total ? (double)out[k].edge_correct / out[k].edge_total
                                       : 0.0;
        cli_print_seed_stats("final edge-case exact match", fin, seeds, done, false);
    }
    free(fin);
    free(best);
    fprintf(stderr, "seed runs in %s/seed-*, summary in %s/seeds.json\n"
            "  evaluate all:  arith eval %s\n", parent, parent, parent);
}

/* The config a stopped run continues from (--resume DIR): its last checkpoint's, or its
 * config.json's when it stopped before its first checkpoint (from step 0). */
static int resume_load(const char *resume, train_config *cfg, resume_source *from)
{
    char path[TRAIN_PATH_MAX + 32], config[TRAIN_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/last.safetensors", resume);
    snprintf(config, sizeof config, "%s/config.json", resume);
    if (access(path, F_OK) == 0) {
        arith_status st = checkpoint_read_config(path, cfg, &from->progress);
        from->have = st == ARITH_OK;
        return st ? cli_fail(st) : 0;
    }
    if (access(config, F_OK) == 0) {
        char *text = NULL;
        size_t size = 0;
        train_config_defaults(cfg);
        arith_status st = io_read_file(config, &text, &size);
        if (!st)
            st = train_config_from_json(cfg, text, config);
        free(text);
        if (st)
            return cli_fail(st);
        fprintf(stderr, "arith: note: %s has no checkpoint yet (it stopped before its first "
                "one): it trains again from step 0\n", resume);
        return 0;
    }
    fprintf(stderr, "arith: error: --resume %s: no checkpoint %s, and no config.json of a run "
            "there\n", resume, path);
    return EXIT_RUNTIME;
}

/* One job of cli_train_jobs: a new run, or a stopped one continued to the job's length. */
static int train_job(const cli_train_job *job, bool threads_given, train_outcome *out)
{
    if (!job->resume)
        return train_one(&job->cfg, NULL, NULL, out, false);
    train_config cfg;
    resume_source from = {.threads_given = threads_given};
    int rc = resume_load(job->cfg.run.dir, &cfg, &from);
    if (rc)
        return rc;
    /* what train --resume lets a command line change: the length and the thread count */
    cfg.optim.steps = job->cfg.optim.steps;
    cfg.optim.epochs = job->cfg.optim.epochs;
    cfg.run.threads = job->cfg.run.threads;
    return train_one(&cfg, job->cfg.run.dir, &from, out, false);
}

int cli_train_jobs(const cli_train_job *jobs, int n, bool threads_given, train_outcome *out,
                   int *status, void (*on_done)(void *ctx, int k), void *ctx)
{
    const int ranks = dist_size(), rank = dist_rank();
    for (int k = 0; k < n; k++)
        status[k] = -1;
    int rc = 0;
    if (ranks <= 1) {
        for (int k = 0; k < n && rc == 0 && !stop_signal; k++) {
            printf("== %s (%d of %d): %s\n", jobs[k].label, k + 1, n, jobs[k].cfg.run.dir);
            fflush(stdout);
            rc = status[k] = train_job(&jobs[k], threads_given, &out[k]);
            if (rc == 0 && on_done)
                on_done(ctx, k);
        }
        /* a signal stops the whole sweep, after the run it came during */
        if (rc == 0 && stop_signal && n > 0 && status[n - 1] < 0)
            rc = 128 + stop_signal;
        return rc;
    }
    int *all_status = NULL;
    train_outcome *all_out = NULL;
    if (rank == 0) {
        all_status = malloc((size_t)ranks * n * sizeof *all_status);
        all_out = malloc((size_t)ranks * n * sizeof *all_out);
        if (!all_status || !all_out) {
            cli_fail(arith_error(ARITH_ERR_MEMORY, "out of memory for a sweep of %d runs", n));
            dist_abort(EXIT_RUNTIME); /* the other ranks would wait for this one */
        }
    }
    for (int k = rank; k < n && !stop_signal; k += ranks) {
        printf("== %s (%d of %d) on rank %d of %d: %s\n", jobs[k].label, k + 1, n, rank, ranks,
               jobs[k].cfg.run.dir);
        fflush(stdout);
        status[k] = train_job(&jobs[k], threads_given, &out[k]);
        if (status[k] != 0 && rc == 0)
            rc = status[k];
    }
    /* every rank's results to rank 0 (all of them take part, whatever happened) */
    dist_gather(status, all_status, n * sizeof *status);
    dist_gather(out, all_out, n * sizeof *out);
    if (rank != 0)
        return rc;
    /* job k ran on rank k % ranks: its results are in that rank's arrays */
    for (int k = 0; k < n; k++) {
        const int from = k % ranks;
        status[k] = all_status[(size_t)from * n + k];
        if (status[k] == 0)
            out[k] = all_out[(size_t)from * n + k];
        else if (rc == 0)
            rc = status[k] < 0 ? 128 + (stop_signal ? stop_signal : SIGTERM) : status[k];
    }
    free(all_status);
    free(all_out);
    return rc;
}

/* --seeds N, one process: seeds.json rewritten after each seed that finished. */
typedef struct {
    const char *parent;
    const train_config *cfg;
    const train_outcome *out;
    const long long *seeds;
    int N;
    arith_status written;
} seeds_progress;

static void seeds_on_done(void *ctx, int k)
{
    seeds_progress *p = ctx;
    /* in one process the seeds run in order and stop at the first failure: 0..k all finished */
    arith_status st = cli_seeds_json_write(p->parent, p->cfg, p->out, p->seeds, k + 1, p->N);
    if (st && !p->written) {
        cli_fail(st);
        p->written = st;
    }
}

/* Before a sweep trains anything: nothing there already (a seed's run, or the parent as a
 * run), and the parent claimed as arith's. */
static int sweep_check(const train_config *cfg, const char *parent)
{
    const int N = cfg->run.seeds;
    if (strlen(parent) + 32 >= TRAIN_PATH_MAX)
        return fprintf(stderr, "arith: error: --run %s: path too long\n", parent), EXIT_USAGE;
    char path[TRAIN_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/config.json", parent);
    if (access(path, F_OK) == 0)
        return fprintf(stderr, "arith: error: %s already holds a run of its own; --seeds %d "
                       "writes seed runs into a directory of their own\nhint: choose another "
                       "--run\n", parent, N), EXIT_RUNTIME;
    for (int k = 0; k < N; k++) {
        snprintf(path, sizeof path, "%s/seed-%lld/config.json", parent, cfg->run.seed + k);
        if (access(path, F_OK) == 0)
            return fprintf(stderr, "arith: error: %s/seed-%lld already holds a run\nhint: choose "
                           "another --run\n", parent, cfg->run.seed + k), EXIT_RUNTIME;
    }
    if (N < 1 || N > 1000)
        return cli_fail(arith_error(ARITH_ERR_ARG, "--seeds %d is out of range (1..1000)", N));
    arith_status claimed = run_dir_claim_sweep(parent);
    return claimed ? cli_fail(claimed) : 0;
}

/* --seeds N: the experiment under seeds seed .. seed+N-1, each a run of its own in
 * RUN/seed-S; then a summary over them, also in RUN/seeds.json. Under mpirun rank r trains
 * seeds r, r + R, r + 2R, ... (each a plain run of its own, written as alone) and rank 0
 * gathers every rank's results, names the seeds that failed or were not run, and writes the
 * summary. */
static int train_seeds(const train_config *cfg_in)
{
    train_config cfg = *cfg_in;
    const int N = cfg.run.seeds; /* 2..1000: the option's range, and train_seeds' caller */
    char parent[TRAIN_PATH_MAX];
    if (cfg.run.dir[0])
        snprintf(parent, sizeof parent, "%s", cfg.run.dir);
    else
        train_config_default_dir(&cfg, "-seeds", parent, sizeof parent);
    /* under mpirun, rank 0 alone looks at the directory (the others could see its first seed
     * run already started), and every rank learns the answer */
    int rc = dist_rank() == 0 ? sweep_check(&cfg, parent) : 0;
    if (dist_size() > 1) {
        int refused = rc;
        dist_max_ints(&refused, 1);
        if (refused)
            return rc ? rc : refused;
    } else if (rc) {
        return rc;
    }
    train_outcome *out = calloc((size_t)N, sizeof *out);
    long long *seeds = calloc((size_t)N, sizeof *seeds);
    int *status = calloc((size_t)N, sizeof *status);
    cli_train_job *jobs = calloc((size_t)N, sizeof *jobs);
    if (!out || !seeds || !status || !jobs) {
        cli_fail(arith_error(ARITH_ERR_MEMORY, "out of memory for a sweep of %d seeds", N));
        if (dist_size() > 1)
            dist_abort(EXIT_RUNTIME); /* the other ranks would wait for this one */
        free(out);
        free(seeds);
        free(status);
        free(jobs);
        return EXIT_RUNTIME;
    }
    for (int k = 0; k < N; k++) {
        train_config *c = &jobs[k].cfg;
        *c = cfg;
        c->run.seeds = 1; /* each seed's run is a plain run: resumable and evaluable alone */
        c->run.seed = seeds[k] = cfg.run.seed + k;
        snprintf(c->run.dir, sizeof c->run.dir, "%s/seed-%lld", parent, c->run.seed);
        snprintf(jobs[k].label, sizeof jobs[k].label, "seed %lld", c->run.seed);
    }
    seeds_progress progress = {parent, &cfg, out, seeds, N, ARITH_OK};
    rc = cli_train_jobs(jobs, N, false, out, status, seeds_on_done, &progress);
    if (dist_rank() == 0) {
        const bool spread = dist_size() > 1;
        long long *done_seeds = malloc((size_t)N * sizeof *done_seeds);
        int done = 0, failed = 0, first_skipped = -1;
        for (int k = 0; k < N && done_seeds; k++) {
            if (status[k] == 0) {
                out[done] = out[k];
                done_seeds[done++] = seeds[k];
                continue;
            }
            failed++;
            if (spread && status[k] < 0)
                fprintf(stderr, "arith: seed %lld (rank %d) was not run: the sweep stopped "
                        "first\n", seeds[k], k % dist_size());
            else if (spread)
                fprintf(stderr, "arith: seed %lld (rank %d) failed with exit code %d; its "
                        "message is above\n", seeds[k], k % dist_size(), status[k]);
            else if (status[k] < 0 && first_skipped < 0)
                first_skipped = k;
        }
        if (first_skipped >= 0) { /* one process: the seeds after the one that stopped */
            const long long at = seeds[first_skipped > 0 ? first_skipped - 1 : 0];
            if (first_skipped == N - 1)
                fprintf(stderr, "arith: the sweep stopped at seed %lld; seed %lld was not "
                        "started\n", at, seeds[N - 1]);
            else
                fprintf(stderr, "arith: the sweep stopped at seed %lld; seeds %lld..%lld were "
                        "not started\n", at, seeds[first_skipped], seeds[N - 1]);
        }
        if (done > 0 && done_seeds) {
            arith_status st = cli_seeds_json_write(parent, &cfg, out, done_seeds, done, N);
            if (st && rc == 0)
                rc = cli_fail(st);
            cli_seeds_summary_print(parent, out, done_seeds, done, N);
        }
        if (spread && failed > 0)
            fprintf(stderr, "arith: %d of the %d seeds did not finish; the runs of the others "
                    "are whole\n", failed, N);
        if (rc == 0 && progress.written)
            rc = EXIT_RUNTIME;
        free(done_seeds);
    }
    free(out);
    free(seeds);
    free(status);
    free(jobs);
    return rc;
}

/* train's own options beside the run config's: where the base config comes from */
typedef struct {
    char config[TRAIN_PATH_MAX];
    char resume[TRAIN_PATH_MAX];
    bool no_verify;
    bool restart_schedule;
} train_command;

static const option_spec train_command_specs[] = {
    {"config", OPT_STRING, offsetof(train_command, config), TRAIN_PATH_MAX, NULL, NULL, 0, 0,
     "other", "FILE", "read options from a JSON object (flags win over it)", false, NULL, NULL},
    {"resume", OPT_STRING, offsetof(train_command, resume), TRAIN_PATH_MAX, NULL, NULL, 0, 0,
     "other", "RUN_DIR",
     "continue a run from its last checkpoint (add --steps/--epochs to extend it)", false, NULL, NULL},
    {"no-verify", OPT_BOOL, offsetof(train_command, no_verify), sizeof(bool), "false", NULL, 0, 0,
     "other", NULL, "--resume: load the checkpoint without checking its tensor data against "
     "the checksum in its metadata (non-finite weights are still refused)", false, NULL, NULL},
    {"restart-schedule", OPT_BOOL, offsetof(train_command, restart_schedule), sizeof(bool),
     "false", NULL, 0, 0, "other", NULL, "--resume with more --steps/--epochs: a new warmup "
     "and cosine over the added steps (default: the run's schedule is kept, and its final "
     "learning rate held past its end)", false, NULL, NULL},
};
static const option_table train_command_table = {
    "train", train_command_specs, (int)(sizeof train_command_specs / sizeof *train_command_specs)};

static const char train_usage[] =
    "usage: arith train [--config FILE] [--resume RUN_DIR] [--OPTION VALUE ...]\n\n"
    "Trains a model; every option can also be a key of the JSON --config file (command-line "
    "flags win over the file). Defaults are seed 001's setup, with carry-heavy sums mixed in, "
    "reversed zero-padded answers and a cosine schedule, which make it learn addition "
    "(recipes/seed001-exact.json is the notebook's own).\n";

static int train_main(int argc, char **argv);

int cli_train(int argc, char **argv)
{
    cli_install_stop_handlers(); /* first: before OpenMP, oneDNN or MPI starts a thread */
    dist_init(NULL, NULL);   /* one rank of several when mpirun started it */
    int rc = train_main(argc, argv);
    dist_finalize();
    return rc;
}

static int train_main(int argc, char **argv)
{
    const option_table *tables[] = {&train_option_table, &train_command_table};
    cli_args args;
    bool stop;
    int rc = cli_args_parse(&args, argc, argv, tables, 2, 0, train_usage, &stop);
    if (stop)
        return rc;
    train_command tc;
    options_defaults(&train_command_table, &tc);
    rc = cli_args_apply(&args, 1, &tc);
    /* the base the flags then change: defaults, a config file, or the resumed run's config */
    train_config cfg;
    train_config_defaults(&cfg);
    arith_status st = ARITH_OK;
    if (!rc && tc.config[0]) {
        char *text = NULL;
        size_t size = 0;
        st = io_read_file(tc.config, &text, &size);
        if (!st)
            st = train_config_from_json(&cfg, text, tc.config);
        free(text);
        if (st) {
            rc = cli_fail(st);
            if (st != ARITH_ERR_IO && st != ARITH_ERR_MEMORY)
                rc = EXIT_USAGE; /* the file's content is the user's input, as flags are */
        }
    }
    const char *resume = tc.resume[0] ? tc.resume : NULL;
    if (!rc && tc.no_verify && !resume)
        rc = cli_usage_error("--no-verify applies to the checkpoint --resume loads; this run "
                             "loads none");
    if (!rc && tc.restart_schedule && !resume)
        rc = cli_usage_error("--restart-schedule applies to a run --resume continues");
    resume_source from = {.no_verify = tc.no_verify, .restart_schedule = tc.restart_schedule};
    if (!rc && resume)
        rc = resume_load(resume, &cfg, &from);
    for (int i = 0; !rc && resume && i < args.count; i++) {
        if (args.items[i].table != 0)
            continue;
        if (strcmp(args.items[i].spec->name, "threads") == 0)
            from.threads_given = true;
        if (!args.items[i].spec->resumable) {
            char can[1024] = "";
            for (int k = 0; k < train_option_table.count; k++)
                if (train_option_table.specs[k].resumable)
                    snprintf(can + strlen(can), sizeof can - strlen(can), "%s--%s",
                             can[0] ? ", " : "", train_option_table.specs[k].name);
            rc = cli_usage_error("--%s cannot change when resuming a run (these can: %s)",
                                 args.items[i].spec->name, can);
        }
    }
    if (!rc)
        rc = cli_args_apply(&args, 0, &cfg);
    cli_args_free(&args);
    if (rc)
        return rc;
    if (cfg.run.seeds <= 1)
        return train_one(&cfg, resume, &from, NULL, dist_size() > 1);
    return train_seeds(&cfg);
}
