/* What the commands share: errors and exit codes, flags parsed against option tables,
 * progress lines, JSON and seed summaries. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli/cli.h"

int cli_fail(arith_status st)
{
    fprintf(stderr, "arith: error: %s\n", arith_error_message());
    return st == ARITH_ERR_ARG ? EXIT_USAGE : EXIT_RUNTIME;
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "arith: error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return EXIT_USAGE;
}

/* ------------------------------------------------------------------------------ arguments */

int cli_width(FILE *f)
{
    int width = 100;
    const char *env = getenv("COLUMNS");
    struct winsize ws;
    if (env && atoi(env) > 0)
        width = atoi(env);
    else if (isatty(fileno(f)) && ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        width = ws.ws_col;
    return width < 60 ? 60 : width > 100 ? 100 : width;
}

void cli_print_text(FILE *out, const char *text, int width)
{
    while (*text) {
        size_t n = strcspn(text, "\n");
        char line[2048];
        if (n >= sizeof line)
            n = sizeof line - 1;
        memcpy(line, text, n);
        line[n] = '\0';
        text += n;
        if (*text == '\n')
            text++;
        /* a synopsis breaks between its [groups], under the command */
        bool synopsis = strncmp(line, "usage: ", 7) == 0 || strncmp(line, "       arith", 12) == 0;
        int depth = 0;
        for (char *c = line; synopsis && *c; c++) {
            depth += (*c == '[') - (*c == ']');
            if (*c == ' ' && depth > 0)
                *c = OPTIONS_NBSP;
        }
        if (line[0])
            options_write_wrapped(out, line, 0, synopsis ? 7 : 0, width);
        else
            fputc('\n', out);
    }
}

/* How other tools (PyTorch, Hugging Face, nanoGPT, Keras, ...) spell arith's flags. */
const cli_alias cli_flag_aliases[] = {
    {"learning-rate", "lr"}, {"lr-scheduler", "schedule"}, {"lr-scheduler-type", "schedule"},
    {"lr-schedule", "schedule"}, {"scheduler", "schedule"}, {"warmup-steps", "warmup"},
    {"num-warmup-steps", "warmup"}, {"max-steps", "steps"}, {"num-steps", "steps"},
    {"train-steps", "steps"}, {"total-steps", "steps"}, {"num-train-steps", "steps"},
    {"max-iters", "steps"}, {"iters", "steps"}, {"iterations", "steps"},
    {"num-epochs", "epochs"}, {"num-train-epochs", "epochs"}, {"n-epochs", "epochs"},
    {"batch-size", "batch"}, {"bs", "batch"}, {"train-batch-size", "batch"},
    {"per-device-train-batch-size", "batch"}, {"eval-batch-size", "eval-batch"},
    {"per-device-eval-batch-size", "eval-batch"}, {"num-layers", "layers"},
    {"n-layer", "layers"}, {"n-layers", "layers"}, {"num-hidden-layers", "layers"},
    {"depth", "layers"}, {"num-heads", "heads"}, {"n-head", "heads"}, {"n-heads", "heads"},
    {"num-attention-heads", "heads"}, {"nhead", "heads"}, {"n-embd", "d-model"},
    {"d-embed", "d-model"}, {"embed-dim", "d-model"}, {"emb-dim", "d-model"},
    {"embedding-dim", "d-model"}, {"dim", "d-model"}, {"width", "d-model"},
    {"hidden-size", "d-model"}, {"hidden-size", "hidden"}, {"intermediate-size", "ffn"},
    {"dim-feedforward", "ffn"}, {"ffn-dim", "ffn"}, {"d-ff", "ffn"}, {"n-inner", "ffn"},
    {"mlp-dim", "ffn"}, {"hidden-dropout-prob", "dropout"}, {"attn-pdrop", "dropout"},
    {"resid-pdrop", "dropout"}, {"adam-epsilon", "eps"}, {"epsilon", "eps"},
    {"wd", "weight-decay"}, {"max-grad-norm", "clip-norm"}, {"grad-clip", "clip-norm"},
    {"clip-grad-norm", "clip-norm"}, {"gradient-clip-val", "clip-value"},
    {"clip-grad-value", "clip-value"}, {"num-threads", "threads"}, {"nthreads", "threads"},
    {"output-dir", "run"}, {"out-dir", "run"}, {"run-dir", "run"}, {"save-dir", "run"},
    {"output", "out"}, {"output", "run"}, {"logging-steps", "log-every"},
    {"log-interval", "log-every"}, {"eval-steps", "eval-every"},
    {"eval-interval", "eval-every"}, {"eval-iters", "eval-n"}, {"block-size", "context"},
    {"max-len", "context"}, {"max-length", "context"}, {"seq-len", "context"},
    {"max-seq-len", "context"}, {"n-positions", "context"}, {"n-ctx", "context"},
    {"max-position-embeddings", "context"}, {"position-embedding-type", "pos"},
    {"pos-emb", "pos"}, {"positional-encoding", "pos"}, {"optimizer", "optim"},
    {"activation", "act"}, {"activation-function", "act"}, {"hidden-act", "act"},
    {"norm-first", "norm"}, {"pre-norm", "norm"}, {"prenorm", "norm"},
    {"resume-from-checkpoint", "resume"}, {"resume-from", "resume"}, {"ckpt", "checkpoint"},
    {"num-beams", "beam"}, {"beam-size", "beam"}, {"beam-width", "beam"},
    {"train-file", "train-csv"}, {"train-data", "train-csv"}, {"test-file", "test-csv"},
    {"test-file", "csv"}, {"eval-file", "test-csv"}, {"eval-file", "csv"},
    {"validation-file", "test-csv"}, {"validation-file", "csv"}, {"val-split", "test-frac"},
    {"validation-split", "test-frac"}, {"test-size", "test-frac"}, {"test-split", "test-frac"},
    {"num-examples", "n"}, {"num-samples", "n"}, {"n-samples", "n"}, {"dataset-size", "n"},
    {"model-type", "model"}, {"arch", "model"}, {"architecture", "model"},
    {"pretrained", "init"}, {"from-pretrained", "init"}, {"model-name-or-path", "init"},
    {"init-from", "init"},
    {NULL, NULL},
};

void cli_print_suggestion(FILE *out, const char *typed, const char *const *names, int n,
                          const char *before, const cli_alias *aliases)
{
    enum { MAX = 4 };
    int near[MAX], k = 0;
    /* another tool's spelling first: every name it may mean that this command has */
    for (int a = 0; aliases && aliases[a].typed; a++) {
        if (suggest_distance(typed, aliases[a].typed) != 0)
            continue;
        for (int i = 0; i < n && k < MAX; i++)
            if (strcmp(names[i], aliases[a].meant) == 0)
                near[k++] = i;
    }
    if (k == 0)
        k = suggest_names(typed, names, n, near, MAX);
    for (int i = 0; i < k; i++)
        fprintf(out, "%s%s%s", i == 0 ? "; did you mean " : i == k - 1 ? " or " : ", ", before,
                names[near[i]]);
    if (k)
        fprintf(out, "?");
}

/* The option names of tables, into names (cap); returns how many. */
static int option_names(const option_table *const *tables, int ntables, const char **names,
                        int cap)
{
    int n = 0;
    for (int t = 0; t < ntables; t++)
        for (int i = 0; i < tables[t]->count && n < cap; i++)
            names[n++] = tables[t]->specs[i].name;
    return n;
}

static int unknown_option(const option_table *const *tables, int ntables, const char *name)
{
    /* the command's own table comes last (sweep's follows train's options it borrows) */
    const char *command = tables[ntables - 1]->command;
    const char *names[512];
    int n = option_names(tables, ntables, names, 512);
    fprintf(stderr, "arith: error: unknown option --%s", name);
    cli_print_suggestion(stderr, name, names, n, "--", cli_flag_aliases);
    fprintf(stderr, "\n");
    /* a flag of another command: say whose it is */
    const option_spec *train_flag = options_find(&train_option_table, name);
    const option_spec *eval_flag = options_find(&cli_eval_table, name);
    if (train_flag && strcmp(command, "train") != 0) {
        bool run = strcmp(command, "eval") == 0 || strcmp(command, "predict") == 0;
        bool format = strcmp(command, "data") == 0 && train_flag->group &&
                      strcmp(train_flag->group, "data") == 0;
        fprintf(stderr, "hint: --%s is an option of arith train%s\n", name,
                run ? "; a run keeps the value it was trained with (in its config.json)"
                : format ? "; arith data writes plain prompts (12+34=), and a run writes them "
                           "in its format as it reads them" : "");
    } else if (eval_flag && strcmp(command, "eval") != 0) {
        fprintf(stderr, "hint: --%s is an option of arith eval\n", name);
    }
    /* the command's flags, in a compact list */
    char list[8192] = "";
    size_t len = 0;
    for (int i = 0; i < n && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s--%s", i ? ", " : "",
                                names[i]);
    if (n == 0)
        snprintf(list, sizeof list, "none but --help");
    fprintf(stderr, "valid options of arith %s (arith %s --help explains each):\n  ", command,
            command);
    options_write_wrapped(stderr, list, 2, 2, cli_width(stderr));
    return EXIT_USAGE;
}

/* Splits argv into arguments; *help when --help or -h stands anywhere. */
static int split_args(cli_args *a, int argc, char **argv, const option_table *const *tables,
                      int ntables, int max_positional, bool *help)
{
    int positional = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            *help = true;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (positional++ >= max_positional)
                return cli_usage_error("unexpected argument '%s' (options start with --)", arg);
            a->items[a->count++] = (cli_arg){NULL, -1, arg};
            continue;
        }
        char name[64];
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (len >= sizeof name)
            len = sizeof name - 1;
        memcpy(name, arg + 2, len);
        name[len] = '\0';
        const option_spec *spec = NULL;
        int table = -1;
        for (int t = 0; t < ntables && !spec; t++)
            if ((spec = options_find(tables[t], name)) != NULL)
                table = t;
        if (!spec)
            return unknown_option(tables, ntables, name);
        const char *value;
        if (eq) {
            value = eq + 1;
        } else if (spec->type == OPT_BOOL) {
            /* a boolean takes the next argument only when it is a boolean's word: alone it
             * means true, before a run directory or a prompt too */
            value = i + 1 < argc && option_bool_word(spec, argv[i + 1]) != OPTION_NOT_BOOL
                        ? argv[++i] : "true";
        } else if (i + 1 >= argc) {
            return cli_usage_error("%s needs a value", arg);
        } else {
            value = argv[++i];
        }
        a->items[a->count++] = (cli_arg){spec, table, value};
    }
    return 0;
}

int cli_args_parse(cli_args *a, int argc, char **argv, const option_table *const *tables,
                   int ntables, int max_positional, const char *usage, bool *stop)
{
    *stop = false;
    a->count = 0;
    a->items = calloc((size_t)argc + 1, sizeof *a->items);
    if (!a->items)
        return cli_fail(arith_error(ARITH_ERR_MEMORY, "out of memory"));
    bool help = false;
    int rc = split_args(a, argc, argv, tables, ntables, max_positional, &help);
    if (!rc && help) {
        int width = cli_width(stdout);
        cli_print_text(stdout, usage, width);
        bool booleans = false;
        for (int t = 0; t < ntables; t++) {
            options_print_help(tables[t], stdout, width);
            for (int i = 0; i < tables[t]->count; i++)
                booleans |= tables[t]->specs[i].type == OPT_BOOL;
        }
        printf("  %-24s %s\n", "--help", "this text");
        if (booleans) {
            printf("\n");
            options_write_wrapped(stdout, "[BOOL]: a boolean flag alone means true; it also "
                                  "takes true, false, yes, no, 1 or 0, as --flag VALUE or "
                                  "--flag=VALUE.", 0, 0, width);
        }
    }
    if (rc || help) {
        cli_args_free(a);
        *stop = true;
    }
    return rc;
}

void cli_args_free(cli_args *a)
{
    free(a->items);
    a->items = NULL;
    a->count = 0;
}

int cli_args_apply(const cli_args *a, int table, void *settings)
{
    for (int i = 0; i < a->count; i++) {
        const cli_arg *arg = &a->items[i];
        if (!arg->spec || arg->table != table)
            continue;
        arith_status st = option_set(arg->spec, settings, arg->value);
        if (st)
            return cli_fail(st);
    }
    return 0;
}

/* ------------------------------------------------------------------------------ printing */

void cli_format_duration(char *out, size_t cap, double seconds)
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

void cli_json_string(FILE *out, const char *s)
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

void cli_json_stats(FILE *out, const char *key, const stats_summary *st, const long long *seeds)
{
    fprintf(out, "\"%s\": {\"mean\": %.6f, \"std\": %.6f, \"max\": %.6f, \"max_seed\": %lld, "
            "\"min\": %.6f, \"min_seed\": %lld}", key, st->mean, st->std, st->max,
            seeds[st->argmax], st->min, seeds[st->argmin]);
}

void cli_print_seed_stats(const char *what, const double *x, const long long *seeds, int n,
                          bool lower_better)
{
    stats_summary st;
    stats_summarize(x, n, &st);
    int best = lower_better ? st.argmin : st.argmax, worst = lower_better ? st.argmax : st.argmin;
    printf("%s over %d seeds: mean %.4f, std %.4f, best %.4f (seed %lld), worst %.4f (seed "
           "%lld)\n", what, n, st.mean, st.std, x[best], seeds[best], x[worst], seeds[worst]);
}

void cli_progress_end_line(cli_progress *pv)
{
    if (pv->line_open) {
        fputc('\n', stderr);
        pv->line_open = false;
    }
}

void cli_on_step(void *ctx, long long step, long long total, int epoch, double loss, double lr,
                 double steps_per_sec)
{
    cli_progress *pv = ctx;
    /* on a terminal: redraw one line a few times a second; in a log: a line per 5%, and at
     * least one a minute (5% of a long run can take many minutes), the first step's included */
    double now = time_now();
    if (step != total) {
        if (pv->tty && now - pv->last_draw < 0.1)
            return;
        if (!pv->tty && step - pv->last_line_step < (total / 20 > 0 ? total / 20 : 1) &&
            now - (pv->last_draw > 0 ? pv->last_draw : pv->t_start) < 60.0)
            return;
    }
    pv->last_line_step = step;
    pv->last_draw = now;
    char eta[32], elapsed[32], bar[32];
    cli_format_duration(eta, sizeof eta, (double)(total - step) / steps_per_sec);
    cli_format_duration(elapsed, sizeof elapsed, now - pv->t_start);
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

void cli_on_sample(void *ctx, int index, const example *ex, const char *predicted, bool correct)
{
    cli_progress *pv = ctx;
    cli_progress_end_line(pv);
    fprintf(stderr, "  prompt: %-24s expected: %-14s predicted: %-14s %s\n", ex->prompt,
            ex->answer, predicted, correct ? "ok" : "WRONG");
    (void)index;
}

void cli_on_eval(void *ctx, long long step, long long total, const eval_result *r, bool is_best)
{
    cli_progress *pv = ctx;
    cli_progress_end_line(pv);
    char extra[240] = "";
    if (r->exact != r->correct && isnan(r->mae)) /* symbolic: right up to equivalence (a
                                                    regression head counts no exact strings) */
        snprintf(extra, sizeof extra, " up to equivalence, exact string match %.4f",
                 r->total ? (double)r->exact / r->total : 0.0);
    if (!isnan(r->mae))
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", mean abs error %.4f",
                 r->mae);
    if (!isnan(r->loss))
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", test loss %.4f",
                 r->loss);
    if (r->carry_total > 0)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", carry-heavy %.4f (%d/%d)",
                 (double)r->carry_correct / r->carry_total, r->carry_correct, r->carry_total);
    if (r->edge_total > 0)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", edge cases %d/%d",
                 r->edge_correct, r->edge_total);
    fprintf(stderr, "eval at step %lld/%lld: exact match %.4f (%d/%d)%s in %.1f s%s\n", step,
            total, r->total ? (double)r->correct / r->total : 0.0, r->correct, r->total, extra,
            r->seconds, is_best ? " (best so far, saved)" : "");
}

const char *cli_checkpoint_choice(int i)
{
    static const char *const names[] = {"best", "last"};
    return i >= 0 && i < 2 ? names[i] : NULL;
}
