/* arith: the command line. Subcommands train, eval, predict and data; argument parsing,
 * progress on stderr, results on stdout. Only this file prints and exits: 2 for usage errors,
 * 1 for runtime errors, each with a message naming the flag, file or value at fault. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/io.h"
#include "train/train.h"

enum { EXIT_USAGE = 2, EXIT_RUNTIME = 1 };

static int fail(arith_status st)
{
    fprintf(stderr, "arith: error: %s\n", arith_error_message());
    return st == ARITH_ERR_ARG ? EXIT_USAGE : EXIT_RUNTIME;
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "arith: error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    return EXIT_USAGE;
}

static void print_usage(FILE *out)
{
    fprintf(out,
            "arith %s: teach neural networks arithmetic, and measure how well they learned it\n\n"
            "usage: arith COMMAND [OPTIONS]\n\n"
            "commands:\n"
            "  train [--OPTION VALUE ...]      train a model (arith train --help lists options)\n"
            "  eval RUN_DIR [OPTIONS]          exact-match accuracy by greedy generation (or --beam K)\n"
            "  predict RUN_DIR [PROMPT ...]    answer prompts (or one per line from stdin)\n"
            "  data --task add --digits N --n N [--out FILE]   write a data set as CSV\n"
            "  version                         print the version\n\n"
            "Run `arith COMMAND --help` for a command's options.\n",
            ARITH_VERSION);
}

/* ------------------------------------------------------------------------------- progress */

typedef struct {
    bool tty;
    double t_start;
    long long last_line_step;
    double last_draw;
    bool line_open;
    int samples_shown;
} progress_view;

static void format_duration(char *out, size_t cap, double seconds)
{
    if (!(seconds >= 0) || seconds > 1e7)
        snprintf(out, cap, "--");
    else if (seconds < 60)
        snprintf(out, cap, "%.0fs", seconds);
    else if (seconds < 3600)
        snprintf(out, cap, "%dm%02ds", (int)seconds / 60, (int)seconds % 60);
    else
        snprintf(out, cap, "%dh%02dm", (int)seconds / 3600, ((int)seconds % 3600) / 60);
}

static void end_line(progress_view *pv)
{
    if (pv->line_open) {
        fputc('\n', stderr);
        pv->line_open = false;
    }
}

static void on_step(void *ctx, long long step, long long total, int epoch, double loss, double lr,
                    double steps_per_sec)
{
    progress_view *pv = ctx;
    /* on a terminal: redraw one line a few times a second; in a log: a line per 5% */
    double now = time_now();
    if (step != total) {
        if (pv->tty && now - pv->last_draw < 0.1)
            return;
        if (!pv->tty && step - pv->last_line_step < (total / 20 > 0 ? total / 20 : 1))
            return;
    }
    pv->last_line_step = step;
    pv->last_draw = now;
    char eta[32], elapsed[32], bar[32];
    format_duration(eta, sizeof eta, (double)(total - step) / steps_per_sec);
    format_duration(elapsed, sizeof elapsed, now - pv->t_start);
    int width = 20, filled = (int)((double)step / (double)total * width);
    for (int i = 0; i < width; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "%sstep %lld/%lld [%s] %3d%% | epoch %d | loss %.4f | lr %.2e | "
            "%.1f steps/s | %s elapsed | ETA %s%s", pv->tty ? "\r\033[K" : "", step, total, bar,
            (int)(100 * step / total), epoch, loss, lr, steps_per_sec, elapsed, eta,
            pv->tty ? "" : "\n");
    pv->line_open = pv->tty;
    fflush(stderr);
}

static void on_sample(void *ctx, int index, const example *ex, const char *predicted,
                      bool correct)
{
    progress_view *pv = ctx;
    end_line(pv);
    fprintf(stderr, "  prompt: %-24s expected: %-14s predicted: %-14s %s\n", ex->prompt,
            ex->answer, predicted, correct ? "ok" : "WRONG");
    (void)index;
}

static void on_eval(void *ctx, long long step, long long total, const eval_result *r,
                    bool is_best)
{
    progress_view *pv = ctx;
    end_line(pv);
    char extra[160] = "";
    if (r->exact != r->correct) /* symbolic: right up to equivalence */
        snprintf(extra, sizeof extra, " up to equivalence, exact string match %.4f",
                 r->total ? (double)r->exact / r->total : 0.0);
    if (!isnan(r->mae))
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", mean abs error %.4f",
                 r->mae);
    if (!isnan(r->loss))
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", test loss %.4f",
                 r->loss);
    if (r->edge_total > 0)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", edge cases %d/%d",
                 r->edge_correct, r->edge_total);
    fprintf(stderr, "eval at step %lld/%lld: exact match %.4f (%d/%d)%s in %.1f s%s\n", step,
            total, r->total ? (double)r->correct / r->total : 0.0, r->correct, r->total, extra,
            r->seconds, is_best ? " (best so far, saved)" : "");
}

/* -------------------------------------------------------------------------------- parsing */

/* Splits "--name=value" or "--name value"; returns the number of argv entries used, 0 when
 * argv[i] is not an option, -1 when a value is missing. Boolean options may stand alone. */
static int take_option(int argc, char **argv, int i, char *name, size_t cap, const char **value,
                       bool allow_bare)
{
    const char *a = argv[i];
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
        return 0;
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
    if (len >= cap)
        len = cap - 1;
    memcpy(name, a + 2, len);
    name[len] = '\0';
    if (eq) {
        *value = eq + 1;
        return 1;
    }
    if (allow_bare && (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)) {
        *value = "true";
        return 1;
    }
    if (i + 1 >= argc)
        return -1;
    *value = argv[i + 1];
    return 2;
}

static bool is_bool_option(const char *name)
{
    const option_spec *o = train_option_find(name);
    return o && o->type == OPT_BOOL;
}

/* Options that may change when a run is resumed. */
static bool resumable_option(const char *name)
{
    static const char *const ok[] = {"steps", "epochs", "threads", "eval-every", "eval-n",
                                     "eval-batch", "samples", "log-every"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (strcmp(name, ok[i]) == 0)
            return true;
    return false;
}

/* ---------------------------------------------------------------------------------- train */

/* What one training run ended with (for the summary over seeds). */
typedef struct {
    double final;              /* final test exact match */
    int correct, total;
    int edge_correct, edge_total;
    bool by_loss;              /* best is the lowest test loss, not the best exact match */
    bool have_best;
    double best;
    long long best_step;
} train_outcome;

/* Trains one run from a parsed config (or resumes one); prints its results. */
static int train_one(const train_config *cfg_in, const char *resume, train_outcome *out)
{
    train_config cfg = *cfg_in;
    arith_status st;
    session s;
    st = session_open(&s, &cfg, resume);
    if (st) {
        session_close(&s);
        return fail(st);
    }
    if (resume)
        snprintf(s.cfg.run, sizeof s.cfg.run, "%s", resume);
    progress_view pv = {.tty = isatty(STDERR_FILENO), .t_start = time_now()};
    char lengths[48], shape[TRAIN_PATH_MAX + 200];
    if (s.task.kind == TASK_EXPR)
        snprintf(lengths, sizeof lengths, "operands 0..50");
    else if (s.task.kind == TASK_SYMBOLIC)
        snprintf(lengths, sizeof lengths, "%s, up to %d operators",
                 sym_kind_name(s.task.subtask), s.task.sym.max_ops);
    else if (s.cfg.digits.lo == s.cfg.digits.hi)
        snprintf(lengths, sizeof lengths, "%d %s", s.cfg.digits.hi,
                 s.task.kind == TASK_COUNT || s.task.kind == TASK_XOR ? "bits" : "digits");
    else
        snprintf(lengths, sizeof lengths, "%d..%d %s", s.cfg.digits.lo, s.cfg.digits.hi,
                 s.task.kind == TASK_COUNT || s.task.kind == TASK_XOR ? "bits" : "digits");
    const bool attention = s.model->cfg.kind == MODEL_TRANSFORMER || s.model->cfg.kind == MODEL_GPT2;
    if (s.model->cfg.kind == MODEL_TRANSFORMER)
        snprintf(shape, sizeof shape, "%d layers, d_model %d, %d heads, ffn %d, pos %s, norm %s",
                 s.cfg.layers, s.cfg.d_model, s.cfg.heads, s.cfg.ffn, s.cfg.pos, s.cfg.norm);
    else if (s.model->cfg.kind == MODEL_GPT2)
        snprintf(shape, sizeof shape,
                 "%d layers, d_model %d, %d heads, ffn %d, context %d, %s%s%s",
                 s.cfg.layers, s.cfg.d_model, s.cfg.heads, s.cfg.ffn, s.cfg.context,
                 s.model->cfg.tie ? "tied head" : "new in/out layers",
                 s.cfg.init[0] ? ", from " : "", s.cfg.init[0] ? s.cfg.init : "");
    else
        snprintf(shape, sizeof shape, "%d %slayers, hidden %d, input %s, head %s",
                 s.cfg.layers, s.model->cfg.kind == MODEL_SEQ2SEQ ? "bidirectional " : "",
                 s.model->cfg.hidden, s.cfg.input, s.cfg.head);
    if (!attention && s.model->cfg.input == INPUT_EMBED)
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), ", embedding %d",
                 s.cfg.d_model);
    char trained[sizeof s.cfg.train + 64] = "";
    size_t n_trainable = params_count_trainable(&s.model->params);
    if (s.cfg.train[0])
        snprintf(trained, sizeof trained, " (%zu of them trainable: --train %s)", n_trainable,
                 s.cfg.train);
    size_t n_params = params_count(&s.model->params);
    char format[96];
    snprintf(format, sizeof format, "%s%s%s%s", s.cfg.reverse ? ", reversed" :
             s.cfg.reverse_answer ? ", reversed answers" : "",
             s.cfg.zero_pad ? ", zero-padded" : "", s.cfg.index_hints ? ", index hints" : "",
             s.cfg.rand_pos ? ", random positions" : "");
    if (format[0])
        format[0] = ' ', format[1] = '(', strcat(format, ")");
    fprintf(stderr, "arith %s: %s on %s (%s), tokenizer %s%s | %d train / %d test | %s | "
            "%zu parameters%s | seed %lld | %d threads\n",
            ARITH_VERSION, s.cfg.model, s.cfg.task, lengths, tokenizer_name(s.tok.kind),
            format, s.train.count, s.test.count, shape,
            n_params, trained, s.cfg.seed, core_threads());
    double load = 0;
    FILE *loadavg = fopen("/proc/loadavg", "r");
    if (loadavg) {
        if (fscanf(loadavg, "%lf", &load) != 1)
            load = 0;
        fclose(loadavg);
    }
    /* spinning OpenMP threads slow down badly when other programs hold the cores */
    double cores = (double)sysconf(_SC_NPROCESSORS_ONLN);
    if (load > 0.75 && core_threads() > 1 && load + core_threads() > cores + 0.75)
        fprintf(stderr, "arith: note: the machine is busy (load %.1f); %d threads that wait for "
                "each other run slowly beside other programs\nhint: --threads 1, or "
                "OMP_WAIT_POLICY=passive\n", load, core_threads());
    if (s.test_in_train > 0)
        fprintf(stderr, "arith: warning: %d of the %d test prompts are also in the training set, "
                "so test accuracy overstates generalization\n", s.test_in_train, s.test.count);
    train_callbacks cb = {.ctx = &pv, .on_step = on_step, .on_eval = on_eval,
                          .on_sample = on_sample};
    eval_result final;
    st = train_run(&s, &cb, resume != NULL, &final);
    end_line(&pv);
    if (st) {
        session_close(&s);
        return fail(st);
    }
    double acc = final.total ? (double)final.correct / final.total : 0.0;
    bool regression = s.model->cfg.head == HEAD_REGRESSION;
    printf("final test %s: %.4f (%d/%d)", regression ? "rounded exact match" : "exact match",
           acc, final.correct, final.total);
    if (!isnan(final.mae))
        printf(", mean absolute error %.4f", final.mae);
    if (!isnan(final.loss))
        printf(", test loss %.4f", final.loss);
    if (final.edge_total > 0)
        printf(", edge cases %d/%d", final.edge_correct, final.edge_total);
    printf("\n");
    char best_path[TRAIN_PATH_MAX + 32];
    train_config best_cfg;
    train_progress best;
    snprintf(best_path, sizeof best_path, "%s/best.safetensors", s.cfg.run);
    bool have_best = checkpoint_read_config(best_path, &best_cfg, &best) == ARITH_OK;
    if (have_best) {
        if (strcmp(s.cfg.best_by, "loss") == 0)
            printf("best test loss: %.4f at step %lld (best.safetensors)\n", -best.best_accuracy,
                   best.best_step);
        else
            printf("best test exact match: %.4f at step %lld (best.safetensors)\n",
                   best.best_accuracy, best.best_step);
    }
    fprintf(stderr, "run saved in %s (config.json, best.safetensors, last.safetensors, "
            "metrics.jsonl, training.svg, train.csv, test.csv)\n"
            "  evaluate:  arith eval %s\n"
            "  ask it:    arith predict %s \"%s\"\n"
            "  continue:  arith train --resume %s %s %d\n",
            s.cfg.run, s.cfg.run, s.cfg.run, s.test.items[0].prompt, s.cfg.run,
            s.cfg.steps > 0 ? "--steps" : "--epochs",
            s.cfg.steps > 0 ? 2 * s.cfg.steps : s.cfg.epochs + 1);
    if (out) {
        out->final = acc;
        out->correct = final.correct;
        out->total = final.total;
        out->edge_correct = final.edge_correct;
        out->edge_total = final.edge_total;
        out->by_loss = strcmp(s.cfg.best_by, "loss") == 0;
        out->have_best = have_best;
        out->best = out->by_loss ? -best.best_accuracy : best.best_accuracy;
        out->best_step = best.best_step;
    }
    session_close(&s);
    return 0;
}
/* Writes s as a JSON string (quotes, backslashes and control characters escaped). */
static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void json_stats(FILE *out, const char *key, const stats_summary *st, const long long *seeds)
{
    fprintf(out, "\"%s\": {\"mean\": %.6f, \"std\": %.6f, \"max\": %.6f, \"max_seed\": %lld, "
            "\"min\": %.6f, \"min_seed\": %lld}", key, st->mean, st->std, st->max,
            seeds[st->argmax], st->min, seeds[st->argmin]);
}

/* RUN/seeds.json, atomically: every finished seed and the summary over them. */
static arith_status write_seeds_json(const char *parent, const train_config *cfg,
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
    json_string(mem, parent);
    fprintf(mem, ", \"seeds_planned\": %d, \"seeds_done\": %d, \"best_by\": ", planned, done);
    json_string(mem, cfg->best_by);
    fprintf(mem, ",\n \"runs\": [");
    for (int k = 0; k < done; k++) {
        char dir[TRAIN_PATH_MAX + 32];
        snprintf(dir, sizeof dir, "%s/seed-%lld", parent, seeds[k]);
        fprintf(mem, "%s\n  {\"seed\": %lld, \"run\": ", k ? "," : "", seeds[k]);
        json_string(mem, dir);
        fprintf(mem, ", \"final_accuracy\": %.6f, \"correct\": %d, \"total\": %d", o[k].final,
                o[k].correct, o[k].total);
        if (o[k].have_best)
            fprintf(mem, ", \"%s\": %.6f, \"best_step\": %lld",
                    o[k].by_loss ? "best_test_loss" : "best_accuracy", o[k].best, o[k].best_step);
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
        json_stats(mem, "final_accuracy", &sf, seeds);
        if (have_best == done) {
            stats_summary sb;
            stats_summarize(best, done, &sb);
            fprintf(mem, ",\n ");
            json_stats(mem, o[0].by_loss ? "best_test_loss" : "best_accuracy", &sb, seeds);
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

/* Prints mean, std, best and worst of one column of the seeds' results; higher is better
 * unless lower_better. */
static void print_seed_stats(const char *what, const double *x, const long long *seeds, int n,
                             bool lower_better)
{
    stats_summary st;
    stats_summarize(x, n, &st);
    int best = lower_better ? st.argmin : st.argmax, worst = lower_better ? st.argmax : st.argmin;
    printf("%s over %d seeds: mean %.4f, std %.4f, best %.4f (seed %lld), worst %.4f (seed "
           "%lld)\n", what, n, st.mean, st.std, x[best], seeds[best], x[worst], seeds[worst]);
}

/* --seeds N: the experiment under seeds seed .. seed+N-1, each a run of its own in
 * RUN/seed-S; then a summary over them, also in RUN/seeds.json. */
static int train_seeds(const train_config *cfg_in)
{
    train_config cfg = *cfg_in;
    const int N = cfg.seeds;
    char parent[TRAIN_PATH_MAX];
    if (cfg.run[0]) {
        snprintf(parent, sizeof parent, "%s", cfg.run);
    } else {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
        if (cfg.digits.lo == cfg.digits.hi)
            snprintf(parent, sizeof parent, "runs/%s%d-seeds-%s", cfg.task, cfg.digits.hi, stamp);
        else
            snprintf(parent, sizeof parent, "runs/%s%d-%d-seeds-%s", cfg.task, cfg.digits.lo,
                     cfg.digits.hi, stamp);
    }
    if (strlen(parent) + 32 >= TRAIN_PATH_MAX)
        return fprintf(stderr, "arith: error: --run %s: path too long\n", parent), EXIT_USAGE;
    /* nothing is trained when any seed's run (or the parent as a run) is already there */
    char path[TRAIN_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/config.json", parent);
    if (access(path, F_OK) == 0)
        return fprintf(stderr, "arith: error: %s already holds a run of its own; --seeds %d "
                       "writes seed runs into a directory of their own\nhint: choose another "
                       "--run\n", parent, N), EXIT_RUNTIME;
    for (int k = 0; k < N; k++) {
        snprintf(path, sizeof path, "%s/seed-%lld/config.json", parent, cfg.seed + k);
        if (access(path, F_OK) == 0)
            return fprintf(stderr, "arith: error: %s/seed-%lld already holds a run\nhint: choose "
                           "another --run\n", parent, cfg.seed + k), EXIT_RUNTIME;
    }
    train_outcome *out = calloc((size_t)N, sizeof *out);
    long long *seeds = calloc((size_t)N, sizeof *seeds);
    if (!out || !seeds) {
        free(out);
        free(seeds);
        return fail(arith_error(ARITH_ERR_MEMORY, "out of memory"));
    }
    int rc = 0, done = 0;
    for (int k = 0; k < N && rc == 0; k++) {
        train_config c = cfg;
        c.seeds = 1; /* each seed's run is a plain run: resumable and evaluable alone */
        c.seed = cfg.seed + k;
        snprintf(c.run, sizeof c.run, "%s/seed-%lld", parent, c.seed);
        seeds[k] = c.seed;
        printf("== seed %lld (%d of %d): %s\n", c.seed, k + 1, N, c.run);
        fflush(stdout);
        rc = train_one(&c, NULL, &out[k]);
        if (rc == 0) {
            done++;
            arith_status st = write_seeds_json(parent, &cfg, out, seeds, done, N);
            if (st)
                rc = fail(st);
        }
    }
    if (done > 0) {
        bool by_loss = out[0].by_loss;
        printf("\nseeds under %s (%d of %d finished):\n", parent, done, N);
        printf("  %8s  %-22s  %-17s  %s\n", "seed", by_loss ? "best test loss" : "best exact match",
               "final exact match", "run");
        double *fin = malloc((size_t)done * sizeof *fin), *best = malloc((size_t)done * sizeof *best);
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
            print_seed_stats(by_loss ? "best test loss" : "best exact match", best, seeds, done,
                             by_loss);
        if (fin && best)
            print_seed_stats("final exact match", fin, seeds, done, false);
        free(fin);
        free(best);
        fprintf(stderr, "seed runs in %s/seed-*, summary in %s/seeds.json\n"
                "  evaluate all:  arith eval %s\n", parent, parent, parent);
    }
    free(out);
    free(seeds);
    return rc;
}

static int cmd_train(int argc, char **argv)
{
    train_config cfg;
    train_config_defaults(&cfg);
    const char *resume = NULL;
    arith_status st;
    char name[64];
    const char *value;
    /* first pass: --help, --config and --resume, which set the base the flags then change */
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            train_config_print_help(stdout);
            return 0;
        }
        int used = take_option(argc, argv, i, name, sizeof name, &value, is_bool_option(argv[i] + 2));
        if (used < 0)
            return usage_error("%s needs a value", argv[i]);
        if (used == 0)
            return usage_error("unexpected argument '%s' (options start with --)", argv[i]);
        if (strcmp(name, "config") == 0) {
            char *text = NULL;
            size_t size = 0;
            st = io_read_file(value, &text, &size);
            if (!st)
                st = train_config_from_json(&cfg, text, value);
            free(text);
            if (st)
                return fail(st);
        } else if (strcmp(name, "resume") == 0) {
            resume = value;
        }
        i += used - 1;
    }
    if (resume) {
        char path[TRAIN_PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/last.safetensors", resume);
        if (access(path, R_OK) != 0)
            return fprintf(stderr, "arith: error: --resume %s: no checkpoint %s\n", resume, path),
                   EXIT_RUNTIME;
        train_progress progress;
        st = checkpoint_read_config(path, &cfg, &progress);
        if (st)
            return fail(st);
    }
    for (int i = 0; i < argc; i++) {
        int used = take_option(argc, argv, i, name, sizeof name, &value, is_bool_option(argv[i] + 2));
        if (strcmp(name, "config") != 0 && strcmp(name, "resume") != 0) {
            if (resume && !resumable_option(name) && train_option_find(name))
                return usage_error("--%s cannot change when resuming a run (only --steps, "
                                   "--epochs, --threads, --eval-* and --samples can)", name);
            st = train_config_set(&cfg, name, value);
            if (st)
                return fail(st);
        }
        i += used - 1;
    }

    if (cfg.seeds <= 1)
        return train_one(&cfg, resume, NULL);
    return train_seeds(&cfg);
}

/* ----------------------------------------------------------------------------------- eval */

typedef struct {
    int_range digits;
    int n, batch, threads, samples, beam;
    long long seed;
    const char *checkpoint;
    const char *csv;
    bool json, teacher_forced;
    int_range grid;            /* --grid A..B; {0, 0}: no grid */
    int grid_step, grid_n;
    bool nested;               /* one seed run of several: JSON without its newline, the grid's
                                  summary in one line */
} eval_flags;

/* Exact match (and, for regression, mean absolute error) per example length: the string length
 * for count, the longer operand for add. */
enum { MAX_TRACKED_LENGTH = 100000 };
typedef struct {
    task_kind task;
    int *n, *correct;
    double *abs_err;
    int lo, hi;               /* lengths seen */
    eval_example_fn inner;    /* samples, when shown */
    void *inner_ctx;
    int samples;
} by_length;

static int example_length(task_kind task, const char *prompt)
{
    if (task == TASK_COUNT)
        return (int)strspn(prompt, "01");
    int longest = 0, run = 0;
    for (const char *p = prompt; *p; p++) {
        run = isdigit((unsigned char)*p) ? run + 1 : 0;
        if (run > longest)
            longest = run;
    }
    return longest;
}

static void on_example_length(void *ctx, int index, const example *ex, const char *predicted,
                              bool correct)
{
    by_length *bl = ctx;
    int len = example_length(bl->task, ex->prompt);
    if (len > MAX_TRACKED_LENGTH)
        len = MAX_TRACKED_LENGTH;
    bl->n[len]++;
    bl->correct[len] += correct;
    char *end = NULL;
    double y = strtod(predicted, &end), v = strtod(ex->answer, NULL);
    bl->abs_err[len] += end != predicted ? fabs(y - v) : NAN;
    if (bl->lo < 0 || len < bl->lo)
        bl->lo = len;
    if (len > bl->hi)
        bl->hi = len;
    if (bl->inner && index < bl->samples)
        bl->inner(bl->inner_ctx, index, ex, predicted, correct);
}

static void print_by_length(const by_length *bl, bool regression, bool json)
{
    if (json) {
        printf("\"by_length\": [");
        bool first = true;
        for (int len = bl->lo; len <= bl->hi; len++) {
            if (!bl->n[len])
                continue;
            printf("%s{\"length\": %d, \"n\": %d, \"accuracy\": %.6f", first ? "" : ", ", len,
                   bl->n[len], (double)bl->correct[len] / bl->n[len]);
            if (regression)
                printf(", \"mae\": %.6f", bl->abs_err[len] / bl->n[len]);
            printf("}");
            first = false;
        }
        printf("]");
        return;
    }
    printf("%8s %8s %12s%s\n", "length", "n", regression ? "rounded ok" : "exact match",
           regression ? "   mean abs error" : "");
    for (int len = bl->lo; len <= bl->hi; len++) {
        if (!bl->n[len])
            continue;
        printf("%8d %8d %12.4f", len, bl->n[len], (double)bl->correct[len] / bl->n[len]);
        if (regression)
            printf("   %15.4f", bl->abs_err[len] / bl->n[len]);
        printf("\n");
    }
}

static int parse_int_flag(const char *flag, const char *value, long long lo, long long hi,
                          long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno || end == value || *end || v < lo || v > hi) {
        fprintf(stderr, "arith: error: --%s: '%s' is not an integer in %lld..%lld\n", flag, value,
                lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* Parses the options shared by eval and predict; positional arguments are left in pos[]. */
static int parse_eval_flags(int argc, char **argv, eval_flags *f, const char **pos, int *npos,
                            bool for_eval)
{
    *npos = 0;
    for (int i = 0; i < argc; i++) {
        char name[64];
        const char *value;
        bool bare = strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "--teacher-forced") == 0;
        int used = take_option(argc, argv, i, name, sizeof name, &value, bare);
        if (used == 0) {
            pos[(*npos)++] = argv[i];
            continue;
        }
        if (used < 0)
            return usage_error("%s needs a value", argv[i]);
        long long v = 0;
        if (strcmp(name, "checkpoint") == 0) {
            if (strcmp(value, "best") != 0 && strcmp(value, "last") != 0)
                return usage_error("--checkpoint: unknown value '%s' (valid: best, last)", value);
            f->checkpoint = value;
        } else if (strcmp(name, "batch") == 0) {
            if (parse_int_flag(name, value, 1, 65536, &v))
                return EXIT_USAGE;
            f->batch = (int)v;
        } else if (strcmp(name, "threads") == 0) {
            if (parse_int_flag(name, value, 0, 1024, &v))
                return EXIT_USAGE;
            f->threads = (int)v;
        } else if (strcmp(name, "beam") == 0) {
            if (parse_int_flag(name, value, 1, 256, &v))
                return EXIT_USAGE;
            f->beam = (int)v;
        } else if (for_eval && strcmp(name, "digits") == 0) {
            arith_status st = int_range_parse(&f->digits, value, "digits", 1, 100000);
            if (st)
                return fail(st);
        } else if (for_eval && strcmp(name, "n") == 0) {
            if (parse_int_flag(name, value, 1, 100000000, &v))
                return EXIT_USAGE;
            f->n = (int)v;
        } else if (for_eval && strcmp(name, "seed") == 0) {
            if (parse_int_flag(name, value, 0, 9007199254740991LL, &v))
                return EXIT_USAGE;
            f->seed = v;
        } else if (for_eval && strcmp(name, "samples") == 0) {
            if (parse_int_flag(name, value, 0, 100000, &v))
                return EXIT_USAGE;
            f->samples = (int)v;
        } else if (for_eval && strcmp(name, "csv") == 0) {
            f->csv = value;
        } else if (for_eval && strcmp(name, "json") == 0) {
            f->json = true;
        } else if (for_eval && strcmp(name, "teacher-forced") == 0) {
            f->teacher_forced = true;
        } else if (for_eval && strcmp(name, "grid") == 0) {
            arith_status st = int_range_parse(&f->grid, value, "grid", 1, TASK_DIGITS_MAX);
            if (st)
                return fail(st);
        } else if (for_eval && strcmp(name, "grid-step") == 0) {
            if (parse_int_flag(name, value, 1, TASK_DIGITS_MAX, &v))
                return EXIT_USAGE;
            f->grid_step = (int)v;
        } else if (for_eval && strcmp(name, "grid-n") == 0) {
            if (parse_int_flag(name, value, 1, 1000000, &v))
                return EXIT_USAGE;
            f->grid_n = (int)v;
        } else {
            return usage_error(for_eval ? "unknown option --%s (valid: --checkpoint, --digits, "
                                          "--n, --seed, --csv, --batch, --threads, --beam, "
                                          "--samples, --teacher-forced, --grid, --grid-step, "
                                          "--grid-n, --json)"
                                        : "unknown option --%s (valid: --checkpoint, --batch, "
                                          "--threads, --beam)", name);
        }
        i += used - 1;
    }
    return 0;
}

/* What one run's evaluation gave, for the summary over seed runs. */
typedef struct {
    double accuracy;
    int correct, total;
    int edge_correct, edge_total;
    bool have_grid;
    length_grid grid;          /* with --grid (owned) */
    int train_lo, train_hi;    /* the run's training lengths */
    char scheme[400];          /* task, lengths, model and tokenizer, for titles */
} eval_outcome;

/* The edge cases a model got wrong: the first few kept for showing. */
enum { EDGE_SHOWN = 5 };
typedef struct {
    char *prompt[EDGE_SHOWN], *answer[EDGE_SHOWN], *predicted[EDGE_SHOWN];
    int shown, wrong;
} edge_failures;

static void on_edge_case(void *ctx, int index, const example *ex, const char *predicted,
                         bool correct)
{
    (void)index;
    edge_failures *ef = ctx;
    if (correct)
        return;
    if (ef->shown < EDGE_SHOWN) {
        ef->prompt[ef->shown] = strdup(ex->prompt);
        ef->answer[ef->shown] = strdup(ex->answer);
        ef->predicted[ef->shown] = strdup(predicted);
        ef->shown++;
    }
    ef->wrong++;
}

static void edge_failures_free(edge_failures *ef)
{
    for (int i = 0; i < ef->shown; i++) {
        free(ef->prompt[i]);
        free(ef->answer[i]);
        free(ef->predicted[i]);
    }
    memset(ef, 0, sizeof *ef);
}

static void print_edge_cases(const eval_result *er, const edge_failures *ef, bool json)
{
    if (json) {
        printf(", \"edge_cases\": {\"correct\": %d, \"total\": %d, \"failures\": [", er->correct,
               er->total);
        for (int i = 0; i < ef->shown; i++) {
            printf("%s{\"prompt\": ", i ? ", " : "");
            json_string(stdout, ef->prompt[i] ? ef->prompt[i] : "");
            printf(", \"answer\": ");
            json_string(stdout, ef->answer[i] ? ef->answer[i] : "");
            printf(", \"predicted\": ");
            json_string(stdout, ef->predicted[i] ? ef->predicted[i] : "");
            printf("}");
        }
        printf("]}");
        return;
    }
    printf("edge cases: %d/%d exact%s\n", er->correct, er->total,
           er->beam > 1 ? " (any of the beam answers)" : "");
    for (int i = 0; i < ef->shown; i++)
        printf("  wrong: %s expected %s, got %s\n", ef->prompt[i] ? ef->prompt[i] : "?",
               ef->answer[i] ? ef->answer[i] : "?",
               ef->predicted[i] && ef->predicted[i][0] ? ef->predicted[i] : "(nothing)");
    if (ef->wrong > ef->shown)
        printf("  ... and %d more\n", ef->wrong - ef->shown);
}

/* ---------------------------------------------------------------------------- eval --grid */

typedef struct {
    bool tty, open;
    double last;
} grid_view;

/* Progress of a grid on stderr, once it has run for a second: a line redrawn on a terminal,
 * a line every 10 s in a log. */
static void on_grid_progress(void *ctx, int cells_done, int cells, long long done,
                             long long total, double seconds)
{
    grid_view *gv = ctx;
    const bool last = cells_done == cells;
    if (seconds < 1.0 || (!last && seconds - gv->last < (gv->tty ? 0.2 : 10.0)))
        return;
    gv->last = seconds;
    double rate = done / seconds;
    char eta[32];
    format_duration(eta, sizeof eta, (double)(total - done) / rate);
    fprintf(stderr, "%sgrid: %d/%d cells, %lld/%lld examples, %.0f examples/s, ETA %s%s",
            gv->tty ? "\r\033[K" : "", cells_done, cells, done, total, rate, eta,
            gv->tty ? "" : "\n");
    gv->open = gv->tty;
    fflush(stderr);
}

static void grid_file_paths(const char *dir, const length_grid *g, char *csv, char *svg,
                            size_t cap)
{
    snprintf(csv, cap, "%s/grid-%d-%d.csv", dir, g->lo, g->hi);
    snprintf(svg, cap, "%s/grid-%d-%d.svg", dir, g->lo, g->hi);
}

static double grid_diag(const length_grid *g, int i)
{
    return g->accuracy[(size_t)i * g->count + i];
}

/* The mean accuracy of the cells inside (inside = true) or outside the training lengths;
 * NAN when there are none. */
static double grid_region_mean(const length_grid *g, int lo, int hi, bool inside)
{
    double sum = 0;
    int n = 0;
    for (int i = 0; i < g->count; i++)
        for (int j = 0; j < g->count; j++) {
            int la = grid_length(g, i), lb = grid_length(g, j);
            bool in = la >= lo && la <= hi && lb >= lo && lb <= hi;
            double a = g->accuracy[(size_t)i * g->count + j];
            if (in == inside && !isnan(a)) {
                sum += a;
                n++;
            }
        }
    return n ? sum / n : NAN;
}

static void print_largest(const length_grid *g)
{
    int prefix, any;
    grid_largest_at(g, 0.99, &prefix, &any);
    if (prefix < g->lo)
        printf("largest length at >= 0.99: none (length %d is at %.4f)", g->lo, grid_diag(g, 0));
    else
        printf("largest length at >= 0.99: %d", prefix);
    if (any != prefix && any >= g->lo)
        printf(" (every length from %d up to it; the largest length whose own cell is >= 0.99: "
               "%d)", g->lo, any);
    printf("\n");
}

static void print_grid_json(const length_grid *g, const char *csv, const char *svg)
{
    int prefix, any;
    grid_largest_at(g, 0.99, &prefix, &any);
    printf("\"grid\": {\"lo\": %d, \"hi\": %d, \"step\": %d, \"per_cell\": %d, \"seed\": %lld, "
           "\"runs\": %d, \"seconds\": %.3f, \"csv\": ", g->lo, g->hi, g->step, g->per_cell,
           g->seed, g->runs, g->seconds);
    json_string(stdout, csv);
    printf(", \"svg\": ");
    json_string(stdout, svg);
    printf(", \"largest_prefix_at_0_99\": %d, \"largest_at_0_99\": %d, \"diagonal\": [", prefix,
           any);
    for (int i = 0; i < g->count; i++) {
        printf("%s{\"length\": %d, \"accuracy\": %.6f", i ? ", " : "", grid_length(g, i),
               grid_diag(g, i));
        size_t c = (size_t)i * g->count + i;
        if (g->runs)
            printf(", \"std\": %.6f, \"min\": %.6f, \"max\": %.6f}", g->acc_std[c], g->acc_min[c],
                   g->acc_max[c]);
        else
            printf(", \"n\": %d, \"correct\": %d}", g->n[c], g->correct[c]);
    }
    printf("]");
    if (!g->runs) {
        printf(", \"cells\": [");
        for (int i = 0; i < g->count; i++)
            for (int j = 0; j < g->count; j++) {
                size_t c = (size_t)i * g->count + j;
                printf("%s[%d, %d, %d, %d]", i || j ? ", " : "", grid_length(g, i),
                       grid_length(g, j), g->n[c], g->correct[c]);
            }
        printf("]");
    }
    printf("}");
}

/* One run's grid in text: the diagonal as a compact table, the means inside and outside the
 * training lengths, the largest length at >= 0.99. */
static void print_grid_text(const length_grid *g, const char *csv, const char *svg,
                            const char *checkpoint, int train_lo, int train_hi)
{
    long long answers = (long long)g->count * g->count * g->per_cell;
    printf("grid %d..%d", g->lo, g->hi);
    if (g->step > 1)
        printf(" step %d", g->step);
    printf(" (%d x %d cells), %d examples per cell (seed %lld), %s checkpoint: %lld answers in "
           "%.1f s\n", g->count, g->count, g->per_cell, g->seed, checkpoint, answers, g->seconds);
    printf("exact match per length n (la = lb = n):\n");
    enum { PER_ROW = 12 };
    for (int first = 0; first < g->count; first += PER_ROW) {
        int last = first + PER_ROW < g->count ? first + PER_ROW : g->count;
        printf("  %6s", "n");
        for (int i = first; i < last; i++)
            printf(" %6d", grid_length(g, i));
        printf("\n  %6s", "exact");
        for (int i = first; i < last; i++)
            printf(" %6.3f", grid_diag(g, i));
        printf("\n");
    }
    double in = grid_region_mean(g, train_lo, train_hi, true);
    double out = grid_region_mean(g, train_lo, train_hi, false);
    printf("mean over cells: inside the training lengths %d..%d ", train_lo, train_hi);
    printf(isnan(in) ? "-" : "%.4f", in);
    printf(", outside ");
    printf(isnan(out) ? "-" : "%.4f", out);
    printf("\n");
    print_largest(g);
    printf("wrote %s and %s\n", csv, svg);
}

/* "add, trained on 1..20 digits, transformer pos rope, tokenizer char": for titles. */
static void describe_scheme(const session *s, const char *checkpoint, char *out, size_t cap)
{
    char lengths[48];
    if (s->cfg.digits.lo == s->cfg.digits.hi)
        snprintf(lengths, sizeof lengths, "%d", s->cfg.digits.hi);
    else
        snprintf(lengths, sizeof lengths, "%d..%d", s->cfg.digits.lo, s->cfg.digits.hi);
    const bool attention = s->model->cfg.kind == MODEL_TRANSFORMER ||
                           s->model->cfg.kind == MODEL_GPT2;
    snprintf(out, cap, "%s, trained on %s digits, %s%s%s, tokenizer %s%s, %s checkpoint",
             s->cfg.task, lengths, s->cfg.model, attention ? " pos " : "",
             attention ? s->cfg.pos : "", tokenizer_name(s->tok.kind),
             s->cfg.reverse || s->cfg.reverse_answer ? " (reversed)" : "", checkpoint);
}

static int eval_grid(session *s, const char *dir, const eval_flags *f, eval_outcome *out)
{
    length_grid g;
    arith_status st = grid_init(&g, f->grid.lo, f->grid.hi, f->grid_step ? f->grid_step : 1,
                                f->grid_n ? f->grid_n : 20, f->seed);
    if (st)
        return fail(st);
    grid_view gv = {.tty = isatty(STDERR_FILENO)};
    st = grid_evaluate(s->model, &s->tok, &s->task, f->batch, f->beam, &g, on_grid_progress, &gv);
    if (gv.open)
        fputc('\n', stderr);
    char csv[TRAIN_PATH_MAX + 64], svg[TRAIN_PATH_MAX + 64], scheme[400], title[TRAIN_PATH_MAX + 500];
    grid_file_paths(dir, &g, csv, svg, sizeof csv);
    describe_scheme(s, f->checkpoint, scheme, sizeof scheme);
    snprintf(title, sizeof title, "%s: %s", dir, scheme);
    const int lo = s->cfg.digits.lo, hi = s->cfg.digits.hi;
    if (!st)
        st = grid_write_csv(&g, csv);
    if (!st)
        st = grid_write_svg(&g, svg, title, lo, hi);
    if (!st && f->json) {
        printf("{\"run\": ");
        json_string(stdout, dir);
        printf(", \"checkpoint\": \"%s\", ", f->checkpoint);
        print_grid_json(&g, csv, svg);
        printf(f->nested ? "}" : "}\n");
    } else if (!st && f->nested) {
        int prefix, any;
        grid_largest_at(&g, 0.99, &prefix, &any);
        printf("%s: ", dir);
        if (prefix < g.lo)
            printf("largest length at >= 0.99: none");
        else
            printf("largest length at >= 0.99: %d", prefix);
        printf(", mean inside the training lengths %.4f; wrote %s and %s\n",
               grid_region_mean(&g, lo, hi, true), csv, svg);
    } else if (!st) {
        print_grid_text(&g, csv, svg, f->checkpoint, lo, hi);
    }
    if (!st && out) {
        out->grid = g;
        out->have_grid = true;
        out->train_lo = lo;
        out->train_hi = hi;
        snprintf(out->scheme, sizeof out->scheme, "%s", scheme);
    } else {
        grid_free(&g);
    }
    return st ? fail(st) : 0;
}

/* Evaluates one run (test set, CSV or new examples, with its edge cases; or its grid) and
 * prints the results. */
static int eval_run(const char *dir, const eval_flags *f, eval_outcome *out)
{
    core_set_threads(f->threads);
    session s;
    arith_status st = session_load_run(&s, dir, f->checkpoint);
    if (st) {
        session_close(&s);
        return fail(st);
    }
    core_set_threads(f->threads);
    if (f->grid.hi) {
        int rc = eval_grid(&s, dir, f, out);
        session_close(&s);
        return rc;
    }
    const example_set *set = &s.test;
    example_set fresh, none;
    examples_init(&fresh);
    examples_init(&none);
    char source[TRAIN_PATH_MAX + 64];
    snprintf(source, sizeof source, "%s/test.csv", dir);
    if (f->csv) {
        st = dataset_load_csv_as(&fresh, f->csv, &s.task);
        set = &fresh;
        snprintf(source, sizeof source, "%s", f->csv);
    } else if (f->digits.hi || f->n) {
        task_config task = s.task;
        if (f->digits.hi) {
            task.digits = f->digits.hi;
            task.digits_min = f->digits.lo < f->digits.hi ? f->digits.lo : 0;
        }
        int n = f->n ? f->n : s.test.count;
        st = dataset_generate(&none, &fresh, &task, 0, n, (uint64_t)f->seed, &s.train);
        const bool bits = task.kind == TASK_COUNT || task.kind == TASK_XOR;
        set = &fresh;
        if (task.digits_min)
            snprintf(source, sizeof source, "%d new examples of %d..%d %s (seed %lld)", n,
                     task.digits_min, task.digits, bits ? "bits" : "digits", f->seed);
        else
            snprintf(source, sizeof source, "%d new %d-%s examples (seed %lld)", n, task.digits,
                     bits ? "bit" : "digit", f->seed);
    }
    bool regression = s.model->cfg.head == HEAD_REGRESSION;
    eval_result r = {0};
    progress_view pv = {.tty = false};
    by_length bl = {.task = s.task.kind, .lo = -1, .hi = -1, .samples = f->samples,
                    .inner = f->samples ? on_sample : NULL, .inner_ctx = &pv};
    bl.n = calloc(MAX_TRACKED_LENGTH + 1, sizeof *bl.n);
    bl.correct = calloc(MAX_TRACKED_LENGTH + 1, sizeof *bl.correct);
    bl.abs_err = calloc(MAX_TRACKED_LENGTH + 1, sizeof *bl.abs_err);
    if (!st && (!bl.n || !bl.correct || !bl.abs_err))
        st = arith_error(ARITH_ERR_MEMORY, "out of memory");
    if (!st)
        st = evaluate_beam(s.model, &s.tok, &s.task, set, 0, f->batch, f->beam, on_example_length,
                           &bl, -1, &r);
    eval_result forced = {0};
    if (!st && f->teacher_forced)
        st = evaluate_teacher_forced(s.model, &s.tok, set, 0, f->batch, &forced);
    /* add and mul: the fixed edge cases, beside the test set */
    example_set edges;
    examples_init(&edges);
    edge_failures ef = {0};
    eval_result er = {0};
    if (!st)
        st = edge_cases_build(s.model, &s.tok, &s.task, &edges);
    if (!st && edges.count > 0)
        st = evaluate_beam(s.model, &s.tok, &s.task, &edges, 0, f->batch, f->beam, on_edge_case,
                           &ef, -1, &er);
    /* a table per length when lengths vary (not for expr or symbolic, whose "length" means
     * little) */
    bool table = !st && s.task.kind != TASK_EXPR && s.task.kind != TASK_SYMBOLIC && bl.hi > bl.lo;
    if (!st) {
        double acc = r.total ? (double)r.correct / r.total : 0.0;
        const bool symbolic = s.task.kind == TASK_SYMBOLIC;
        const char *what = regression ? "rounded exact match"
                           : symbolic ? "accuracy up to equivalence"
                                      : "exact match";
        if (f->json) {
            printf("{\"run\": \"%s\", \"checkpoint\": \"%s\", \"accuracy\": %.6f, "
                   "\"correct\": %d, \"total\": %d, \"seconds\": %.3f, \"beam\": %d, "
                   "\"top_accuracy\": %.6f, \"top_correct\": %d", dir, f->checkpoint, acc,
                   r.correct, r.total, r.seconds, f->beam,
                   r.total ? (double)r.top_correct / r.total : 0.0, r.top_correct);
            if (symbolic)
                printf(", \"exact_match\": %.6f, \"exact\": %d",
                       r.total ? (double)r.exact / r.total : 0.0, r.exact);
            if (!isnan(r.mae))
                printf(", \"mae\": %.6f", r.mae);
            if (f->teacher_forced)
                printf(", \"teacher_forced_accuracy\": %.6f, \"test_loss\": %.6f",
                       forced.total ? (double)forced.correct / forced.total : 0.0, forced.loss);
            if (table) {
                printf(", ");
                print_by_length(&bl, regression, true);
            }
            if (edges.count > 0)
                print_edge_cases(&er, &ef, true);
            printf(f->nested ? "}" : "}\n");
        } else {
            if (table)
                print_by_length(&bl, regression, false);
            printf("%s %.4f (%d/%d)", what, acc, r.correct, r.total);
            if (f->beam > 1)
                printf(" with any of %d beam answers, %.4f (%d/%d) with the top answer", f->beam,
                       r.total ? (double)r.top_correct / r.total : 0.0, r.top_correct, r.total);
            if (symbolic)
                printf(" (exact string match of the top answer %.4f, %d/%d)",
                       r.total ? (double)r.exact / r.total : 0.0, r.exact, r.total);
            if (!isnan(r.mae))
                printf(", mean absolute error %.4f", r.mae);
            printf(" on %s, %s checkpoint, %.2f s (%.0f answers/s)\n", source, f->checkpoint,
                   r.seconds, r.seconds > 0 ? r.total / r.seconds : 0.0);
            if (f->teacher_forced)
                printf("teacher-forced exact match %.4f (%d/%d): the model reads the reference "
                       "answer while predicting each next token; test loss %.4f\n",
                       forced.total ? (double)forced.correct / forced.total : 0.0,
                       forced.correct, forced.total, forced.loss);
            if (edges.count > 0)
                print_edge_cases(&er, &ef, false);
        }
        if (out) {
            out->accuracy = acc;
            out->correct = r.correct;
            out->total = r.total;
            out->edge_correct = er.correct;
            out->edge_total = er.total;
        }
    }
    edge_failures_free(&ef);
    examples_free(&edges);
    free(bl.n);
    free(bl.correct);
    free(bl.abs_err);
    examples_free(&fresh);
    session_close(&s);
    return st ? fail(st) : 0;
}

/* A parent of seed runs (RUN/seed-S, from arith train --seeds N): every seed run evaluated,
 * then mean, std, best and worst over them; with --grid, the grids combined per cell. */
static int eval_seeds(const char *parent, const eval_flags *f, char **dirs,
                      const long long *seeds, int count)
{
    eval_flags sf = *f;
    sf.nested = true;
    eval_outcome *o = calloc((size_t)count, sizeof *o);
    double *x = malloc((size_t)count * sizeof *x);
    if (!o || !x) {
        free(o);
        free(x);
        return fail(arith_error(ARITH_ERR_MEMORY, "out of memory"));
    }
    if (f->json) {
        printf("{\"run\": ");
        json_string(stdout, parent);
        printf(", \"checkpoint\": \"%s\", \"seeds\": [", f->checkpoint);
    } else {
        fprintf(stderr, "%s holds %d seed runs\n", parent, count);
    }
    int rc = 0, done = 0;
    for (int k = 0; k < count && rc == 0; k++) {
        if (f->json && k)
            printf(", ");
        else if (!f->json && !f->grid.hi)
            printf("== %s\n", dirs[k]);
        fflush(stdout);
        rc = eval_run(dirs[k], &sf, &o[k]);
        done += rc == 0;
    }
    length_grid combined = {0};
    char csv[TRAIN_PATH_MAX + 64], svg[TRAIN_PATH_MAX + 64];
    arith_status st = ARITH_OK;
    if (rc == 0 && f->grid.hi) {
        length_grid *grids = malloc((size_t)count * sizeof *grids);
        if (!grids)
            st = arith_error(ARITH_ERR_MEMORY, "out of memory");
        for (int k = 0; grids && k < count; k++)
            grids[k] = o[k].grid;
        if (!st)
            st = grid_combine(&combined, grids, count);
        free(grids);
        char title[TRAIN_PATH_MAX + 500];
        snprintf(title, sizeof title, "%s, mean of %d seeds: %s", parent, count, o[0].scheme);
        grid_file_paths(parent, &combined, csv, svg, sizeof csv);
        if (!st)
            st = grid_write_csv(&combined, csv);
        if (!st)
            st = grid_write_svg(&combined, svg, title, o[0].train_lo, o[0].train_hi);
        if (st)
            rc = fail(st);
    }
    if (rc == 0 && f->json) {
        printf("]");
        for (int k = 0; k < count; k++)
            x[k] = o[k].accuracy;
        stats_summary sa;
        if (!f->grid.hi) {
            stats_summarize(x, count, &sa);
            printf(", ");
            json_stats(stdout, "accuracy", &sa, seeds);
            if (o[0].edge_total > 0) {
                for (int k = 0; k < count; k++)
                    x[k] = o[k].edge_total ? (double)o[k].edge_correct / o[k].edge_total : 0.0;
                stats_summarize(x, count, &sa);
                printf(", ");
                json_stats(stdout, "edge_accuracy", &sa, seeds);
            }
        } else {
            for (int k = 0; k < count; k++) {
                int prefix, any;
                grid_largest_at(&o[k].grid, 0.99, &prefix, &any);
                x[k] = prefix;
            }
            stats_summarize(x, count, &sa);
            printf(", ");
            json_stats(stdout, "largest_prefix_at_0_99", &sa, seeds);
            printf(", ");
            print_grid_json(&combined, csv, svg);
        }
        printf("}\n");
    } else if (rc == 0 && !f->grid.hi) {
        printf("== summary over %d seed runs of %s\n", count, parent);
        for (int k = 0; k < count; k++) {
            x[k] = o[k].accuracy;
            printf("  seed %-6lld exact match %.4f (%d/%d)", seeds[k], o[k].accuracy,
                   o[k].correct, o[k].total);
            if (o[k].edge_total > 0)
                printf(", edge cases %d/%d", o[k].edge_correct, o[k].edge_total);
            printf("\n");
        }
        print_seed_stats("exact match", x, seeds, count, false);
        if (o[0].edge_total > 0) {
            for (int k = 0; k < count; k++)
                x[k] = o[k].edge_total ? (double)o[k].edge_correct / o[k].edge_total : 0.0;
            print_seed_stats("edge-case exact match", x, seeds, count, false);
        }
    } else if (rc == 0) {
        const length_grid *g = &combined;
        printf("grid %d..%d over %d seeds, %d examples per cell (seed %lld): exact match per "
               "length n (la = lb = n), mean ± std (min..max)\n", g->lo, g->hi, count,
               g->per_cell, g->seed);
        for (int i = 0; i < g->count; i++) {
            size_t c = (size_t)i * g->count + i;
            printf("  n=%-5d %.4f ± %.4f (%.4f..%.4f)\n", grid_length(g, i), g->accuracy[c],
                   g->acc_std[c], g->acc_min[c], g->acc_max[c]);
        }
        /* per seed, "none" where not even the grid's first length reaches 0.99 (a mean over
         * seeds would have to give "none" a number) */
        printf("largest length at >= 0.99 per seed:");
        int reached = 0;
        for (int k = 0; k < count; k++) {
            int prefix, any;
            grid_largest_at(&o[k].grid, 0.99, &prefix, &any);
            if (prefix >= g->lo)
                x[reached++] = prefix;
            prefix >= g->lo ? printf(" %d", prefix) : printf(" none");
        }
        if (reached == count) {
            stats_summary sa;
            stats_summarize(x, count, &sa);
            printf(" (mean %.1f ± %.1f)", sa.mean, sa.std);
        }
        int prefix, any;
        grid_largest_at(g, 0.99, &prefix, &any);
        printf("; of the mean grid: ");
        if (prefix < g->lo)
            printf("none\n");
        else
            printf("%d\n", prefix);
        printf("wrote %s and %s (mean per cell over %d seeds)\n", csv, svg, count);
    }
    for (int k = 0; k < count; k++)
        if (o[k].have_grid)
            grid_free(&o[k].grid);
    grid_free(&combined);
    free(o);
    free(x);
    (void)done;
    return rc;
}

/* eval on a run directory, or on a parent of seed runs (no checkpoint of its own, seed-S
 * directories inside). */
static int eval_dispatch(const char *dir, const eval_flags *f)
{
    char path[TRAIN_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, f->checkpoint);
    if (access(path, F_OK) == 0)
        return eval_run(dir, f, NULL);
    char **dirs = NULL;
    long long *seeds = NULL;
    int count = 0;
    if (seed_runs_find(dir, &dirs, &seeds, &count) != ARITH_OK || count == 0) {
        arith_error_clear();
        return eval_run(dir, f, NULL); /* its own error names what is missing */
    }
    int rc = eval_seeds(dir, f, dirs, seeds, count);
    for (int k = 0; k < count; k++)
        free(dirs[k]);
    free(dirs);
    free(seeds);
    return rc;
}

static int cmd_eval(int argc, char **argv)
{
    if (argc > 0 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        printf("usage: arith eval RUN_DIR [--checkpoint best|last] [--csv FILE | --digits N|A..B "
               "[--n N] [--seed S]] [--batch N] [--threads N] [--beam K] [--samples K] "
               "[--teacher-forced] [--json]\n"
               "       arith eval RUN_DIR --grid A..B [--grid-step K] [--grid-n N] [--seed S] "
               "[--json]\n\n"
               "Exact-match accuracy by batched greedy generation (with a key/value cache, or the\n"
               "LSTM's carried state) on the run's test set, on a CSV file, or on N new examples\n"
               "with operands (count: strings) of the given lengths that are not in the run's\n"
               "training set. When the lengths vary, a table gives accuracy per length (and the\n"
               "mean absolute error for a regression head). --teacher-forced also prints the\n"
               "accuracy when the model reads the reference answer while predicting it (seed\n"
               "000's measure). --beam K searches K answers per prompt (beam search, K > 1;\n"
               "transformers and LSTM language models): a prompt counts as right when any of\n"
               "its K answers is, and the top answer's exact match is printed beside it;\n"
               "--batch prompts of K rows each run at a time.\n\n"
               "Tasks add and mul also score a fixed list of edge cases built from the run's\n"
               "lengths (9..9+1, 1+9..9, 0+0, carry chains, zeros inside, ...; those the\n"
               "tokenizer or the context cannot take are skipped) and show the first failures.\n\n"
               "--grid A..B (add, mul): exact match for every pair of operand lengths la, lb in\n"
               "A..B (every K-th with --grid-step K), N examples per cell (--grid-n, default\n"
               "20; drawn from --seed), written to RUN_DIR/grid-A-B.csv and a heatmap\n"
               "RUN_DIR/grid-A-B.svg with the training lengths outlined; prints the accuracy\n"
               "per length n (cell n, n) and the largest length at >= 0.99.\n\n"
               "RUN_DIR may also be the parent of seed runs (arith train --seeds N): each\n"
               "seed-S run is evaluated, then mean, std, best and worst are printed; with\n"
               "--grid, the per-seed grids go into each seed's directory and their per-cell\n"
               "mean into RUN_DIR/grid-A-B.csv and .svg.\n");
        return 0;
    }
    eval_flags f = {.batch = 64, .threads = 0, .samples = 0, .seed = 12345, .beam = 1,
                    .checkpoint = "best"};
    const char *pos[64];
    int npos = 0;
    if (argc > 64)
        return usage_error("%s", "too many arguments");
    int rc = parse_eval_flags(argc, argv, &f, pos, &npos, true);
    if (rc)
        return rc;
    if (npos != 1)
        return usage_error("%s", "usage: arith eval RUN_DIR [OPTIONS] (see arith eval --help)");
    if (!f.grid.hi && (f.grid_step || f.grid_n))
        return usage_error("%s", f.grid_step ? "--grid-step needs --grid A..B"
                                             : "--grid-n needs --grid A..B");
    if (f.grid.hi && (f.csv || f.digits.hi || f.n || f.teacher_forced || f.samples))
        return usage_error("%s", "--grid draws its own examples per pair of lengths; it does "
                           "not combine with --csv, --digits, --n, --samples or "
                           "--teacher-forced");
    return eval_dispatch(pos[0], &f);
}

/* -------------------------------------------------------------------------------- predict */

static int cmd_predict(int argc, char **argv)
{
    if (argc > 0 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        printf("usage: arith predict RUN_DIR [PROMPT ...] [--checkpoint best|last] [--batch N] "
               "[--threads N] [--beam K]\n\nPrints the model's answer to each prompt (e.g. "
               "\"12+34=\"), one per line. With no prompt,\nreads one prompt per line from stdin. "
               "--beam K (K > 1) prints each prompt's K best answers\nby beam search, best "
               "first, one per line as ANSWER<tab>LOG-PROBABILITY (then <tab>no-eos\nwhen the "
               "answer ran to the length limit without ending), a blank line after each\n"
               "prompt's answers.\n");
        return 0;
    }
    eval_flags f = {.batch = 64, .beam = 1, .checkpoint = "best"};
    const char **pos = malloc(((size_t)argc + 1) * sizeof *pos);
    int npos = 0;
    int rc = parse_eval_flags(argc, argv, &f, pos, &npos, false);
    if (rc || npos < 1) {
        free(pos);
        return rc ? rc : usage_error("%s", "usage: arith predict RUN_DIR [PROMPT ...]");
    }
    session s;
    arith_status st = session_load_run(&s, pos[0], f.checkpoint);
    if (st) {
        free(pos);
        session_close(&s);
        return fail(st);
    }
    core_set_threads(f.threads);
    st = beam_check(s.model, f.beam);
    if (st) {
        free(pos);
        session_close(&s);
        return fail(st);
    }
    /* prompts from the arguments, or from stdin */
    int n = npos - 1, cap = n > 0 ? n : 64;
    char **prompts = malloc((size_t)cap * sizeof *prompts);
    const char *source = "argument";
    if (n > 0) {
        for (int i = 0; i < n; i++)
            prompts[i] = strdup(pos[i + 1]);
    } else {
        source = "stdin";
        char *line = NULL;
        size_t len = 0;
        ssize_t got;
        while ((got = getline(&line, &len, stdin)) > 0) {
            while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
                line[--got] = '\0';
            if (n == cap) {
                cap *= 2;
                prompts = realloc(prompts, (size_t)cap * sizeof *prompts);
            }
            prompts[n++] = strdup(line);
        }
        free(line);
    }
    /* a prompt may leave out the final '=' (seed 002's spaced prompts have none); prefix
     * expressions take it as a word of its own */
    const char *equals = s.task.kind == TASK_SYMBOLIC ? " =" : "=";
    for (int i = 0; i < n && s.task.style == STYLE_PLAIN; i++) {
        size_t len = strlen(prompts[i]);
        if (len == 0 || prompts[i][len - 1] != '=') {
            char *with = malloc(len + 3);
            memcpy(with, prompts[i], len);
            memcpy(with + len, equals, strlen(equals) + 1);
            free(prompts[i]);
            prompts[i] = with;
        }
    }
    /* check every prompt first, so that an error names the one at fault */
    int32_t ids[4096];
    for (int i = 0; i < n && !st; i++) {
        int count = 0;
        st = tok_encode_prompt(&s.tok, prompts[i], ids, 4096, &count);
        if (st)
            arith_error_wrap(st, "%s %d: ", source, i + 1);
    }
    const int K = f.beam;
    char **answers = calloc((size_t)n * K + 1, sizeof *answers);
    float *scores = calloc((size_t)n * K + 1, sizeof *scores);
    bool *ended = calloc((size_t)n * K + 1, sizeof *ended);
    if (!st && (!answers || !scores || !ended))
        st = arith_error(ARITH_ERR_MEMORY, "out of memory");
    if (!st && n > 0)
        st = predict_beam(s.model, &s.tok, (const char *const *)prompts, n, f.batch, K, answers,
                          scores, ended);
    for (int i = 0; !st && i < n; i++) {
        if (K == 1) {
            printf("%s\n", answers[i]);
            continue;
        }
        for (int k = 0; k < K; k++) {
            size_t at = (size_t)i * K + k;
            if (!(scores[at] > -INFINITY))
                continue; /* fewer hypotheses than beams */
            printf("%s\t%.4f%s\n", answers[at], scores[at], ended[at] ? "" : "\tno-eos");
        }
        printf("\n");
    }
    for (int i = 0; i < n; i++)
        free(prompts[i]);
    for (size_t i = 0; answers && i < (size_t)n * K; i++)
        free(answers[i]);
    free(prompts);
    free(answers);
    free(scores);
    free(ended);
    free(pos);
    session_close(&s);
    return st ? fail(st) : 0;
}

/* ----------------------------------------------------------------------------------- data */

static int cmd_data(int argc, char **argv)
{
    task_config task = {.kind = TASK_ADD, .digits = 9};
    sym_config_default(&task.sym);
    long long n = 1000, seed = 1;
    const char *out = NULL;
    for (int i = 0; i < argc; i++) {
        char name[64];
        const char *value;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: arith data --task add|expr|count|xor|symbolic|mul [--digits N|A..B] "
                   "[--style plain|spaced] [--subtask derivative|integral] --n N [--seed S] "
                   "[--out FILE]\n\n"
                   "Writes N distinct examples as CSV with columns src,tgt (to stdout without "
                   "--out).\n");
            return 0;
        }
        int used = take_option(argc, argv, i, name, sizeof name, &value, false);
        if (used == 0)
            return usage_error("unexpected argument '%s'", argv[i]);
        if (used < 0)
            return usage_error("%s needs a value", argv[i]);
        if (strcmp(name, "task") == 0) {
            arith_status st = task_parse(&task.kind, value);
            if (st)
                return fail(st);
        } else if (strcmp(name, "digits") == 0) {
            int_range r;
            arith_status st = int_range_parse(&r, value, "digits", 1, 100000);
            if (st)
                return fail(st);
            task.digits = r.hi;
            task.digits_min = r.lo < r.hi ? r.lo : 0;
        } else if (strcmp(name, "style") == 0) {
            arith_status st = task_style_parse(&task.style, value);
            if (st)
                return fail(st);
        } else if (strcmp(name, "subtask") == 0) {
            arith_status st = sym_kind_parse(&task.subtask, value);
            if (st)
                return fail(st);
        } else if (strcmp(name, "n") == 0) {
            if (parse_int_flag(name, value, 1, 100000000, &n))
                return EXIT_USAGE;
        } else if (strcmp(name, "seed") == 0) {
            if (parse_int_flag(name, value, 0, 9007199254740991LL, &seed))
                return EXIT_USAGE;
        } else if (strcmp(name, "out") == 0) {
            out = value;
        } else {
            return usage_error("unknown option --%s (valid: --task, --digits, --style, "
                               "--subtask, --n, --seed, --out)", name);
        }
        i += used - 1;
    }
    example_set set, none;
    examples_init(&set);
    examples_init(&none);
    arith_status st = dataset_generate(&set, &none, &task, (int)n, 0, (uint64_t)seed, NULL);
    if (!st && out) {
        st = dataset_save_csv(&set, out);
        if (!st)
            fprintf(stderr, "wrote %d examples to %s\n", set.count, out);
    } else if (!st) {
        printf("src,tgt\n");
        for (int i = 0; i < set.count; i++)
            printf("%s,%s\n", set.items[i].prompt, set.items[i].answer);
    }
    examples_free(&set);
    examples_free(&none);
    return st ? fail(st) : 0;
}

/* ----------------------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "train") == 0)
        return cmd_train(argc - 2, argv + 2);
    if (strcmp(cmd, "eval") == 0)
        return cmd_eval(argc - 2, argv + 2);
    if (strcmp(cmd, "predict") == 0)
        return cmd_predict(argc - 2, argv + 2);
    if (strcmp(cmd, "data") == 0)
        return cmd_data(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("arith %s\n", ARITH_VERSION);
        return 0;
    }
    fprintf(stderr, "arith: error: unknown command '%s' (valid: train, eval, predict, data, "
            "version)\n", cmd);
    return EXIT_USAGE;
}
