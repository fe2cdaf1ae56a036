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
    fprintf(stderr, "arith %s: %s on %s (%s), tokenizer %s%s | %d train / %d test | %s | "
            "%zu parameters%s | seed %lld | %d threads\n",
            ARITH_VERSION, s.cfg.model, s.cfg.task, lengths, tokenizer_name(s.tok.kind),
            s.cfg.reverse_answer ? " (reversed answers)" : "", s.train.count, s.test.count, shape,
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
    printf("\n");
    char best_path[TRAIN_PATH_MAX + 32];
    train_config best_cfg;
    train_progress best;
    snprintf(best_path, sizeof best_path, "%s/best.safetensors", s.cfg.run);
    if (checkpoint_read_config(best_path, &best_cfg, &best) == ARITH_OK) {
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
    session_close(&s);
    return 0;
}

/* ----------------------------------------------------------------------------------- eval */

typedef struct {
    int_range digits;
    int n, batch, threads, samples, beam;
    long long seed;
    const char *checkpoint;
    const char *csv;
    bool json, teacher_forced;
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
        } else {
            return usage_error(for_eval ? "unknown option --%s (valid: --checkpoint, --digits, "
                                          "--n, --seed, --csv, --batch, --threads, --beam, "
                                          "--samples, --teacher-forced, --json)"
                                        : "unknown option --%s (valid: --checkpoint, --batch, "
                                          "--threads, --beam)", name);
        }
        i += used - 1;
    }
    return 0;
}

static int cmd_eval(int argc, char **argv)
{
    if (argc > 0 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        printf("usage: arith eval RUN_DIR [--checkpoint best|last] [--csv FILE | --digits N|A..B "
               "[--n N] [--seed S]] [--batch N] [--threads N] [--beam K] [--samples K] "
               "[--teacher-forced] [--json]\n\n"
               "Exact-match accuracy by batched greedy generation (with a key/value cache, or the\n"
               "LSTM's carried state) on the run's test set, on a CSV file, or on N new examples\n"
               "with operands (count: strings) of the given lengths that are not in the run's\n"
               "training set. When the lengths vary, a table gives accuracy per length (and the\n"
               "mean absolute error for a regression head). --teacher-forced also prints the\n"
               "accuracy when the model reads the reference answer while predicting it (seed\n"
               "000's measure). --beam K searches K answers per prompt (beam search, K > 1;\n"
               "transformers and LSTM language models): a prompt counts as right when any of\n"
               "its K answers is, and the top answer's exact match is printed beside it;\n"
               "--batch prompts of K rows each run at a time.\n");
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
    core_set_threads(f.threads);
    session s;
    arith_status st = session_load_run(&s, pos[0], f.checkpoint);
    if (st) {
        session_close(&s);
        return fail(st);
    }
    core_set_threads(f.threads);
    const example_set *set = &s.test;
    example_set fresh, none;
    examples_init(&fresh);
    examples_init(&none);
    char source[TRAIN_PATH_MAX + 64];
    snprintf(source, sizeof source, "%s/test.csv", pos[0]);
    if (f.csv) {
        st = dataset_load_csv_as(&fresh, f.csv, &s.task);
        set = &fresh;
        snprintf(source, sizeof source, "%s", f.csv);
    } else if (f.digits.hi || f.n) {
        task_config task = s.task;
        if (f.digits.hi) {
            task.digits = f.digits.hi;
            task.digits_min = f.digits.lo < f.digits.hi ? f.digits.lo : 0;
        }
        int n = f.n ? f.n : s.test.count;
        st = dataset_generate(&none, &fresh, &task, 0, n, (uint64_t)f.seed, &s.train);
        const bool bits = task.kind == TASK_COUNT || task.kind == TASK_XOR;
        set = &fresh;
        if (task.digits_min)
            snprintf(source, sizeof source, "%d new examples of %d..%d %s (seed %lld)", n,
                     task.digits_min, task.digits, bits ? "bits" : "digits", f.seed);
        else
            snprintf(source, sizeof source, "%d new %d-%s examples (seed %lld)", n, task.digits,
                     bits ? "bit" : "digit", f.seed);
    }
    bool regression = s.model->cfg.head == HEAD_REGRESSION;
    eval_result r = {0};
    progress_view pv = {.tty = false};
    by_length bl = {.task = s.task.kind, .lo = -1, .hi = -1, .samples = f.samples,
                    .inner = f.samples ? on_sample : NULL, .inner_ctx = &pv};
    bl.n = calloc(MAX_TRACKED_LENGTH + 1, sizeof *bl.n);
    bl.correct = calloc(MAX_TRACKED_LENGTH + 1, sizeof *bl.correct);
    bl.abs_err = calloc(MAX_TRACKED_LENGTH + 1, sizeof *bl.abs_err);
    if (!st && (!bl.n || !bl.correct || !bl.abs_err))
        st = arith_error(ARITH_ERR_MEMORY, "out of memory");
    if (!st)
        st = evaluate_beam(s.model, &s.tok, &s.task, set, 0, f.batch, f.beam, on_example_length,
                           &bl, -1, &r);
    eval_result forced = {0};
    if (!st && f.teacher_forced)
        st = evaluate_teacher_forced(s.model, &s.tok, set, 0, f.batch, &forced);
    /* a table per length when lengths vary (not for expr or symbolic, whose "length" means
     * little) */
    bool table = !st && s.task.kind != TASK_EXPR && s.task.kind != TASK_SYMBOLIC && bl.hi > bl.lo;
    if (!st) {
        double acc = r.total ? (double)r.correct / r.total : 0.0;
        const bool symbolic = s.task.kind == TASK_SYMBOLIC;
        const char *what = regression ? "rounded exact match"
                           : symbolic ? "accuracy up to equivalence"
                                      : "exact match";
        if (f.json) {
            printf("{\"run\": \"%s\", \"checkpoint\": \"%s\", \"accuracy\": %.6f, "
                   "\"correct\": %d, \"total\": %d, \"seconds\": %.3f, \"beam\": %d, "
                   "\"top_accuracy\": %.6f, \"top_correct\": %d", pos[0], f.checkpoint, acc,
                   r.correct, r.total, r.seconds, f.beam,
                   r.total ? (double)r.top_correct / r.total : 0.0, r.top_correct);
            if (symbolic)
                printf(", \"exact_match\": %.6f, \"exact\": %d",
                       r.total ? (double)r.exact / r.total : 0.0, r.exact);
            if (!isnan(r.mae))
                printf(", \"mae\": %.6f", r.mae);
            if (f.teacher_forced)
                printf(", \"teacher_forced_accuracy\": %.6f, \"test_loss\": %.6f",
                       forced.total ? (double)forced.correct / forced.total : 0.0, forced.loss);
            if (table) {
                printf(", ");
                print_by_length(&bl, regression, true);
            }
            printf("}\n");
        } else {
            if (table)
                print_by_length(&bl, regression, false);
            printf("%s %.4f (%d/%d)", what, acc, r.correct, r.total);
            if (f.beam > 1)
                printf(" with any of %d beam answers, %.4f (%d/%d) with the top answer", f.beam,
                       r.total ? (double)r.top_correct / r.total : 0.0, r.top_correct, r.total);
            if (symbolic)
                printf(" (exact string match of the top answer %.4f, %d/%d)",
                       r.total ? (double)r.exact / r.total : 0.0, r.exact, r.total);
            if (!isnan(r.mae))
                printf(", mean absolute error %.4f", r.mae);
            printf(" on %s, %s checkpoint, %.2f s (%.0f answers/s)\n", source, f.checkpoint,
                   r.seconds, r.seconds > 0 ? r.total / r.seconds : 0.0);
            if (f.teacher_forced)
                printf("teacher-forced exact match %.4f (%d/%d): the model reads the reference "
                       "answer while predicting each next token; test loss %.4f\n",
                       forced.total ? (double)forced.correct / forced.total : 0.0,
                       forced.correct, forced.total, forced.loss);
        }
    }
    free(bl.n);
    free(bl.correct);
    free(bl.abs_err);
    examples_free(&fresh);
    session_close(&s);
    return st ? fail(st) : 0;
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
