/* arith eval: exact match of a saved run (test set, CSV, new lengths, or a grid of operand
 * lengths), its edge cases, and summaries over seed runs. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#define EVAL_OPT(name, type, field, def, choices, lo, hi, placeholder, help)                   \
    {name, type, offsetof(eval_settings, field), sizeof(((eval_settings *)0)->field), def,     \
     choices, lo, hi, "options", placeholder, help, false, NULL, NULL}

/* The options eval and predict share. */
#define RUN_OPTIONS                                                                            \
    EVAL_OPT("checkpoint", OPT_CHOICE, which, "best", cli_checkpoint_choice, 0, 0, NULL,      \
             "which checkpoint answers"),                                                      \
    EVAL_OPT("batch", OPT_INT, batch, "64", NULL, 1, 65536, NULL,                              \
             "prompts generated at a time (with --beam K: K rows each)"),                     \
    {"threads", OPT_INT, offsetof(eval_settings, threads), sizeof(int), "auto", NULL, 0, 1024, \
     "options", "N|auto",                                                                      \
     "threads; auto: the cores other programs leave free at the start (all if none is)",      \
     false, NULL, "auto"},                                                                     \
    EVAL_OPT("beam", OPT_INT, beam, "1", NULL, 1, 256, "K",                                    \
             "beam search with K answers per prompt (1: greedy)"),                            \
    EVAL_OPT("no-verify", OPT_BOOL, no_verify, "false", NULL, 0, 0, NULL,                      \
             "load the checkpoint without checking its tensor data against the checksum in "  \
             "its metadata (a damaged file then loads; non-finite weights are still refused)")

static const option_spec eval_specs[] = {
    RUN_OPTIONS,
    EVAL_OPT("digits", OPT_RANGE, digits, NULL, NULL, 1, 100000, NULL,
             "evaluate on new examples of these lengths instead of the test set"),
    EVAL_OPT("digits-b", OPT_RANGE, digits_b, NULL, NULL, 1, 100000, NULL,
             "with --digits: the second operand's lengths (task mul; default: the run's)"),
    EVAL_OPT("n", OPT_INT, n, NULL, NULL, 1, 100000000, NULL,
             "new examples to draw (default: as many as the test set)"),
    EVAL_OPT("seed", OPT_INT, seed, "12345", NULL, 0, 9007199254740991.0, NULL,
             "seed of new examples and of grid cells"),
    EVAL_OPT("csv", OPT_STRING, csv, NULL, NULL, 0, 0, "FILE",
             "evaluate on this CSV (columns src,tgt)"),
    EVAL_OPT("samples", OPT_INT, samples, "0", NULL, 0, 100000, NULL,
             "sample predictions shown (stderr)"),
    EVAL_OPT("teacher-forced", OPT_BOOL, teacher_forced, "false", NULL, 0, 0, NULL,
             "also the accuracy when the model reads the reference answer"),
    EVAL_OPT("grid", OPT_RANGE, grid, NULL, NULL, 1, TASK_DIGITS_MAX, "A..B",
             "exact match per pair of operand lengths in A..B (tasks with grids: arith tasks)"),
    EVAL_OPT("grid-b", OPT_RANGE, grid_b, NULL, NULL, 1, TASK_DIGITS_MAX, "A..B",
             "the grid's second-operand lengths, every one from A to B (default: as --grid; "
             "n x k products: --grid 1..30 --grid-b 1..3)"),
    EVAL_OPT("grid-step", OPT_INT, grid_step, NULL, NULL, 1, TASK_DIGITS_MAX, "K",
             "every K-th length of the grid (default 1)"),
    EVAL_OPT("grid-n", OPT_INT, grid_n, NULL, NULL, 1, 1000000, NULL,
             "examples per grid cell (default 20)"),
    EVAL_OPT("predictions", OPT_STRING, predictions, NULL, NULL, 0, 0, "FILE",
             "write every example's prompt, expected and predicted answer, whether it is right, "
             "its longest carry chain and its first wrong digit to this CSV, and print the "
             "accuracy per answer digit and per carry chain"),
    EVAL_OPT("json", OPT_BOOL, json, "false", NULL, 0, 0, NULL, "print one JSON object"),
};
const option_table cli_eval_table = {"eval", eval_specs,
                                     (int)(sizeof eval_specs / sizeof *eval_specs)};

static const option_spec predict_specs[] = {
    RUN_OPTIONS,
    EVAL_OPT("json", OPT_BOOL, json, "false", NULL, 0, 0, NULL,
             "one JSON object per prompt: {\"prompt\": ..., \"answer\": ...} (with --beam: "
             "\"answers\"), or {\"prompt\": ..., \"error\": ...}"),
    EVAL_OPT("tsv", OPT_BOOL, tsv, "false", NULL, 0, 0, NULL,
             "PROMPT<tab>ANSWER per prompt (with --beam: per answer, its log-probability after)"),
    EVAL_OPT("scratchpad", OPT_BOOL, scratchpad, "false", NULL, 0, 0, NULL,
             "a --scratchpad run's steps before each answer, space-separated (\"60 480 540 "
             "3600 4140\" for 12*345); a --carries run's column carries after it (\"56088 "
             "carries 1,2,3,1,0\" for 123*456)"),
    EVAL_OPT("logits", OPT_BOOL, logits, "false", NULL, 0, 0, NULL,
             "one JSON object per prompt with its answer and the logits of the model reading "
             "prompt and answer: \"tokens\", \"positions\", \"logits\" (a row of vocab "
             "values per token from \"logits_from\"), or \"value\" (regression head)"),
};
const option_table cli_predict_table = {"predict", predict_specs,
                                        (int)(sizeof predict_specs / sizeof *predict_specs)};

int cli_eval_settings(eval_settings *f, const cli_args *args)
{
    memset(f, 0, sizeof *f);
    options_defaults(&cli_eval_table, f);
    int rc = cli_args_apply(args, 0, f);
    f->checkpoint = cli_checkpoint_choice(f->which);
    return rc;
}

/* Exact match (and, for regression, mean absolute error) per example length, as the task
 * measures it (task_def.prompt_length: the string length for count, the longer operand for
 * add). */
enum { MAX_TRACKED_LENGTH = 100000 };
typedef struct {
    int (*length)(const char *prompt); /* NULL: no table */
    int *n, *correct;
    double *abs_err;
    int lo, hi;               /* lengths seen */
    eval_example_fn inner;    /* samples, when shown */
    void *inner_ctx;
    int samples;
    struct predictions *pred; /* --predictions: every example recorded (NULL: off) */
} by_length;

/* --predictions: every example as a CSV row, and the tables of its tally. */
typedef struct predictions {
    cli_answer_tally tally;
    text_buffer csv;
} predictions;

void cli_answer_tally_init(cli_answer_tally *t, const task_config *task)
{
    memset(t, 0, sizeof *t);
    t->task = task;
    t->chain_hi = task_has_carries(task) ? 0 : -1;
}

int cli_first_wrong_digit(const char *want, const char *got)
{
    size_t a = strlen(want), b = strlen(got);
    for (size_t i = 1; i <= a || i <= b; i++) {
        char x = i <= a ? want[a - i] : '\0', y = i <= b ? got[b - i] : '\0';
        if (x != y)
            return (int)i;
    }
    return 0;
}

/* One CSV field (quoted when it must be) and what follows it. */
static void csv_cell(text_buffer *b, const char *field, const char *after)
{
    char *q = NULL;
    size_t len = 0, cap = 0;
    csv_format_field(&q, &len, &cap, field);
    if (!q)
        b->failed = true;
    text_printf(b, "%s%s", q ? q : "", after);
    free(q);
}

void cli_answer_tally_add(cli_answer_tally *t, const example *ex, const char *predicted,
                          bool correct, int *chain_out, int *wrong_out)
{
    const int chain = t->chain_hi >= 0 ? task_carry_chain(t->task, ex->prompt) : -1;
    /* each digit of the expected answer, right or not */
    const size_t a = strlen(ex->answer), g = strlen(predicted);
    for (size_t i = 1; i <= a && i <= CLI_TALLY_MAX; i++) {
        t->pos_n[i]++;
        t->pos_right[i] += correct || (i <= g && predicted[g - i] == ex->answer[a - i]);
        if ((int)i > t->pos_hi)
            t->pos_hi = (int)i;
    }
    if (chain >= 0 && chain <= CLI_TALLY_MAX) {
        t->chain_n[chain]++;
        t->chain_right[chain] += correct;
        if (chain > t->chain_hi)
            t->chain_hi = chain;
    }
    if (chain_out)
        *chain_out = chain;
    if (wrong_out)
        *wrong_out = correct ? 0 : cli_first_wrong_digit(ex->answer, predicted);
}

static void predictions_add(predictions *p, const example *ex, const char *predicted,
                            bool correct)
{
    int chain, wrong;
    cli_answer_tally_add(&p->tally, ex, predicted, correct, &chain, &wrong);
    csv_cell(&p->csv, ex->prompt, ",");
    csv_cell(&p->csv, ex->answer, ",");
    csv_cell(&p->csv, predicted, "");
    text_printf(&p->csv, ",%d,%d,%d\n", correct ? 1 : 0, chain, wrong);
}

/* The tables of --predictions, and the file. */
static arith_status predictions_finish(predictions *pr, const char *path, bool json)
{
    const cli_answer_tally *p = &pr->tally;
    if (pr->csv.failed)
        return arith_error(ARITH_ERR_MEMORY, "out of memory writing %s", path);
    arith_status st = text_write_atomic(&pr->csv, path);
    if (st)
        return st;
    FILE *out = json ? stderr : stdout; /* --json keeps stdout one object */
    fprintf(out, "exact match per answer digit (from the right: 1 = units), in %s:\n%8s %8s %12s\n",
            path, "digit", "n", "right");
    for (int i = 1; i <= p->pos_hi; i++)
        fprintf(out, "%8d %8d %12.4f\n", i, p->pos_n[i], (double)p->pos_right[i] / p->pos_n[i]);
    if (p->chain_hi >= 0) {
        fprintf(out, "exact match per longest carry chain (columns in a row that carry):\n"
                "%8s %8s %12s\n", "chain", "n", "exact match");
        for (int c = 0; c <= p->chain_hi; c++)
            if (p->chain_n[c])
                fprintf(out, "%8d %8d %12.4f\n", c, p->chain_n[c],
                        (double)p->chain_right[c] / p->chain_n[c]);
    }
    return ARITH_OK;
}

static void on_example_length(void *ctx, int index, const example *ex, const char *predicted,
                              bool correct)
{
    by_length *bl = ctx;
    int len = bl->length ? bl->length(ex->prompt) : 0;
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
    if (bl->pred)
        predictions_add(bl->pred, ex, predicted, correct);
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

/* What one run's evaluation gave, for the summary over seed runs. */
typedef struct {
    double accuracy;
    int correct, total;
    int edge_correct, edge_total;
    int carry_correct, carry_total;
    bool have_grid;
    length_grid grid;          /* with --grid (owned) */
    int train_lo, train_hi;    /* the run's training lengths */
    int train_lo_b, train_hi_b; /* of its second operand (--digits-b, or as the first) */
    char scheme[2 * TRAIN_PATH_MAX]; /* session_title, for the combined grid's title */
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

/* The wrong answers kept: a JSON array, or lines "  wrong: ..." and how many more. */
static void print_failures(const edge_failures *ef, bool json)
{
    if (json) {
        printf("[");
        for (int i = 0; i < ef->shown; i++) {
            printf("%s{\"prompt\": ", i ? ", " : "");
            cli_json_string(stdout, ef->prompt[i] ? ef->prompt[i] : "");
            printf(", \"answer\": ");
            cli_json_string(stdout, ef->answer[i] ? ef->answer[i] : "");
            printf(", \"predicted\": ");
            cli_json_string(stdout, ef->predicted[i] ? ef->predicted[i] : "");
            printf("}");
        }
        printf("]");
        return;
    }
    for (int i = 0; i < ef->shown; i++)
        printf("  wrong: %s expected %s, got %s\n", ef->prompt[i] ? ef->prompt[i] : "?",
               ef->answer[i] ? ef->answer[i] : "?",
               ef->predicted[i] && ef->predicted[i][0] ? ef->predicted[i] : "(nothing)");
    if (ef->wrong > ef->shown)
        printf("  ... and %d more\n", ef->wrong - ef->shown);
}

static void print_edge_cases(const eval_result *er, const edge_failures *ef, bool json)
{
    if (json) {
        printf(", \"edge_cases\": {\"correct\": %d, \"total\": %d, \"failures\": ", er->correct,
               er->total);
        print_failures(ef, true);
        printf("}");
        return;
    }
    printf("edge cases: %d/%d exact%s\n", er->correct, er->total,
           er->beam > 1 ? " (any of the beam answers)" : "");
    print_failures(ef, false);
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
    cli_format_duration(eta, sizeof eta, (double)(total - done) / rate);
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

/* Length n's accuracy: the diagonal cell (n, n), or, in a grid with an lb axis of its own, the
 * worst cell of la = n (NaN when a cell has no examples). */
static double grid_diag(const length_grid *g, int i)
{
    if (grid_square(g))
        return g->accuracy[(size_t)i * g->count_b + i];
    double worst = INFINITY;
    for (int j = 0; j < g->count_b; j++) {
        double a = g->accuracy[(size_t)i * g->count_b + j];
        if (isnan(a))
            return a;
        worst = a < worst ? a : worst;
    }
    return worst;
}

/* The mean accuracy of the cells inside (inside = true) or outside the training lengths (la
 * in lo..hi, lb in lo_b..hi_b); NAN when there are none. */
static double grid_region_mean(const length_grid *g, int lo, int hi, int lo_b, int hi_b,
                               bool inside)
{
    double sum = 0;
    int n = 0;
    for (int i = 0; i < g->count; i++)
        for (int j = 0; j < g->count_b; j++) {
            int la = grid_length(g, i), lb = grid_length_b(g, j);
            bool in = la >= lo && la <= hi && lb >= lo_b && lb <= hi_b;
            double a = g->accuracy[(size_t)i * g->count_b + j];
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
    printf("\"grid\": {\"lo\": %d, \"hi\": %d, \"step\": %d, \"lo_b\": %d, \"hi_b\": %d, "
           "\"step_b\": %d, \"per_cell\": %d, \"seed\": %lld, \"runs\": %d, \"seconds\": %.3f, "
           "\"csv\": ", g->lo, g->hi, g->step, g->lo_b, g->hi_b, g->step_b, g->per_cell, g->seed,
           g->runs, g->seconds);
    cli_json_string(stdout, csv);
    printf(", \"svg\": ");
    cli_json_string(stdout, svg);
    printf(", \"largest_prefix_at_0_99\": %d, \"largest_at_0_99\": %d, \"diagonal\": [", prefix,
           any);
    for (int i = 0; i < g->count; i++) {
        printf("%s{\"length\": %d, \"accuracy\": %.6f", i ? ", " : "", grid_length(g, i),
               grid_diag(g, i));
        if (!grid_square(g)) { /* the worst lb of la = n; the cells have the rest */
            printf("}");
            continue;
        }
        size_t c = (size_t)i * g->count_b + i;
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
            for (int j = 0; j < g->count_b; j++) {
                size_t c = (size_t)i * g->count_b + j;
                printf("%s[%d, %d, %d, %d]", i || j ? ", " : "", grid_length(g, i),
                       grid_length_b(g, j), g->n[c], g->correct[c]);
            }
        printf("]");
    }
    printf("}");
}

/* One run's grid in text: the diagonal as a compact table, the means inside and outside the
 * training lengths, the largest length at >= 0.99. */
static void print_grid_text(const length_grid *g, const char *csv, const char *svg,
                            const char *checkpoint, int train_lo, int train_hi, int train_lo_b,
                            int train_hi_b)
{
    long long answers = (long long)g->count * g->count_b * g->per_cell;
    printf("grid %d..%d", g->lo, g->hi);
    if (g->step > 1)
        printf(" step %d", g->step);
    if (!grid_square(g))
        printf(" x lb %d..%d", g->lo_b, g->hi_b);
    printf(" (%d x %d cells), %d examples per cell (seed %lld), %s checkpoint: %lld answers in "
           "%.1f s\n", g->count, g->count_b, g->per_cell, g->seed, checkpoint, answers,
           g->seconds);
    const bool square = grid_square(g);
    printf(square ? "exact match per length n (la = lb = n):\n"
                  : "exact match per length n of the first operand (la = n), one row per lb:\n");
    enum { PER_ROW = 12 };
    for (int first = 0; first < g->count; first += PER_ROW) {
        int last = first + PER_ROW < g->count ? first + PER_ROW : g->count;
        printf("  %6s", "n");
        for (int i = first; i < last; i++)
            printf(" %6d", grid_length(g, i));
        for (int j = 0; j < (square ? 1 : g->count_b); j++) {
            char row[32] = "exact";
            if (!square)
                snprintf(row, sizeof row, "lb=%d", grid_length_b(g, j));
            printf("\n  %6s", row);
            for (int i = first; i < last; i++)
                printf(" %6.3f", square ? grid_diag(g, i) : g->accuracy[(size_t)i * g->count_b + j]);
        }
        printf("\n");
    }
    double in = grid_region_mean(g, train_lo, train_hi, train_lo_b, train_hi_b, true);
    double out = grid_region_mean(g, train_lo, train_hi, train_lo_b, train_hi_b, false);
    printf("mean over cells: inside the training lengths %d..%d ", train_lo, train_hi);
    printf(isnan(in) ? "-" : "%.4f", in);
    printf(", outside ");
    printf(isnan(out) ? "-" : "%.4f", out);
    printf("\n");
    print_largest(g);
    printf("wrote %s and %s\n", csv, svg);
}

static int eval_grid(session *s, const char *dir, const eval_settings *f, eval_outcome *out)
{
    length_grid g;
    arith_status st = grid_init(&g, f->grid.lo, f->grid.hi, f->grid_step ? f->grid_step : 1,
                                f->grid_n ? f->grid_n : 20, f->seed);
    if (!st && f->grid_b.hi)
        st = grid_set_b(&g, f->grid_b.lo, f->grid_b.hi);
    if (st)
        return cli_fail(st);
    grid_view gv = {.tty = isatty(STDERR_FILENO)};
    st = grid_evaluate(s->model, &s->tok, &s->task, f->batch, f->beam, &g, on_grid_progress, &gv);
    if (gv.open)
        fputc('\n', stderr);
    char csv[TRAIN_PATH_MAX + 64], svg[TRAIN_PATH_MAX + 64], scheme[2 * TRAIN_PATH_MAX],
        title[4 * TRAIN_PATH_MAX];
    grid_file_paths(dir, &g, csv, svg, sizeof csv);
    session_title(s, scheme, sizeof scheme);
    snprintf(title, sizeof title, "%s: %s, %s checkpoint", dir, scheme, f->checkpoint);
    const int lo = s->cfg.data.digits.lo, hi = s->cfg.data.digits.hi;
    const int_range db = s->cfg.data.digits_b;
    const int lo_b = db.hi ? db.lo : lo, hi_b = db.hi ? db.hi : hi;
    if (!st)
        st = grid_write_csv(&g, csv);
    if (!st)
        st = grid_write_svg(&g, svg, title, lo, hi, lo_b, hi_b);
    if (!st && f->json) {
        printf("{\"run\": ");
        cli_json_string(stdout, dir);
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
               grid_region_mean(&g, lo, hi, lo_b, hi_b, true), csv, svg);
    } else if (!st) {
        print_grid_text(&g, csv, svg, f->checkpoint, lo, hi, lo_b, hi_b);
    }
    if (!st && out) {
        out->grid = g;
        out->have_grid = true;
        out->train_lo = lo;
        out->train_hi = hi;
        out->train_lo_b = lo_b;
        out->train_hi_b = hi_b;
        snprintf(out->scheme, sizeof out->scheme, "%s", scheme);
    } else {
        grid_free(&g);
    }
    return st ? cli_fail(st) : 0;
}

/* The carry-aware test set's score, per longest carry chain, and its first wrong answers. */
static void print_carries(const carry_result *cr, const edge_failures *cf, bool json)
{
    double acc = cr->total ? (double)cr->correct / cr->total : 0.0;
    if (json) {
        printf(", \"carry\": {\"accuracy\": %.6f, \"correct\": %d, \"total\": %d, "
               "\"by_chain\": [", acc, cr->correct, cr->total);
        bool first = true;
        for (int c = 0; c < cr->chains; c++) {
            if (!cr->n[c])
                continue;
            printf("%s{\"chain\": %d, \"n\": %d, \"correct\": %d, \"accuracy\": %.6f}",
                   first ? "" : ", ", c, cr->n[c], cr->right[c], (double)cr->right[c] / cr->n[c]);
            first = false;
        }
        printf("], \"failures\": ");
        print_failures(cf, true);
        printf("}");
        return;
    }
    printf("carry-heavy sums: %.4f (%d/%d) exact, by longest carry chain (columns in a row "
           "that carry):\n%8s %8s %12s\n", acc, cr->correct, cr->total, "chain", "n",
           "exact match");
    for (int c = 0; c < cr->chains; c++)
        if (cr->n[c])
            printf("%8d %8d %12.4f\n", c, cr->n[c], (double)cr->right[c] / cr->n[c]);
    print_failures(cf, false);
}

/* Evaluates one run (test set, CSV or new examples, with its edge cases; or its grid) and
 * prints the results. */
static int eval_run(const char *dir, const eval_settings *f, eval_outcome *out)
{
    core_set_threads(f->threads);
    session s;
    arith_status st = session_load_run(&s, dir, f->checkpoint, !f->no_verify);
    if (st) {
        session_close(&s);
        return cli_fail(st);
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
    if (f->csv[0]) {
        st = dataset_load_csv_as(&fresh, f->csv, &s.task);
        set = &fresh;
        snprintf(source, sizeof source, "%s", f->csv);
    } else if (f->digits.hi || f->digits_b.hi || f->n) {
        task_config task = s.task;
        if (f->digits.hi) {
            task.digits = f->digits.hi;
            task.digits_min = f->digits.lo < f->digits.hi ? f->digits.lo : 0;
        }
        if (f->digits_b.hi) {
            task.digits_b = f->digits_b.hi;
            task.digits_b_min = f->digits_b.lo < f->digits_b.hi ? f->digits_b.lo : 0;
        }
        int n = f->n ? f->n : s.test.count;
        st = dataset_generate(&none, &fresh, &task, 0, n, (uint64_t)f->seed, &s.train);
        set = &fresh;
        if (task.digits_b) {
            char what[128];
            task_describe(&task, what, sizeof what);
            snprintf(source, sizeof source, "%d new examples of %s (seed %lld)", n, what, f->seed);
        } else if (task.digits_min)
            snprintf(source, sizeof source, "%d new examples of %d..%d %s (seed %lld)", n,
                     task.digits_min, task.digits, task.def->unit ? task.def->unit : "digits",
                     f->seed);
        else
            snprintf(source, sizeof source, "%d new %d-%s examples (seed %lld)", n, task.digits,
                     task.def->unit_one ? task.def->unit_one : "digit", f->seed);
    }
    bool regression = s.model->cfg.head == HEAD_REGRESSION;
    eval_result r = {0};
    cli_progress pv = {.tty = false};
    by_length bl = {.length = s.task.def->prompt_length, .lo = -1, .hi = -1, .samples = f->samples,
                    .inner = f->samples ? cli_on_sample : NULL, .inner_ctx = &pv};
    if (!st && f->predictions[0]) {
        bl.pred = calloc(1, sizeof *bl.pred);
        if (!bl.pred) {
            st = arith_error(ARITH_ERR_MEMORY, "out of memory");
        } else {
            cli_answer_tally_init(&bl.pred->tally, &s.task);
            text_printf(&bl.pred->csv, "prompt,expected,predicted,correct,carry_chain,"
                        "first_wrong_digit\n");
        }
    }
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
    /* the task's fixed edge cases (add, mul, ...), beside the test set */
    example_set edges;
    examples_init(&edges);
    edge_failures ef = {0};
    eval_result er = {0};
    if (!st)
        st = edge_cases_build(s.model, &s.tok, &s.task, &edges);
    if (!st && edges.count > 0)
        st = evaluate_beam(s.model, &s.tok, &s.task, &edges, 0, f->batch, f->beam, on_edge_case,
                           &ef, -1, &er);
    /* add: the run's carry-aware test set (carry.csv), per longest carry chain */
    edge_failures cf = {0};
    carry_result cr = {0};
    if (!st)
        st = evaluate_carries(s.model, &s.tok, &s.task, &s.carry, f->batch, f->beam,
                              on_edge_case, &cf, &cr);
    /* a table per length when lengths vary (not for tasks without a prompt length, such as
     * expr or symbolic, whose "length" means little) */
    bool table = !st && bl.length && bl.hi > bl.lo;
    if (!st) {
        double acc = r.total ? (double)r.correct / r.total : 0.0;
        const bool by_equivalence = s.task.def->equivalent != NULL;
        const char *what = regression ? "rounded exact match"
                           : by_equivalence ? "accuracy up to equivalence"
                                      : "exact match";
        if (f->json) {
            printf("{\"run\": \"%s\", \"checkpoint\": \"%s\", \"accuracy\": %.6f, "
                   "\"correct\": %d, \"total\": %d, \"seconds\": %.3f, \"beam\": %d, "
                   "\"top_accuracy\": %.6f, \"top_correct\": %d", dir, f->checkpoint, acc,
                   r.correct, r.total, r.seconds, f->beam,
                   r.total ? (double)r.top_correct / r.total : 0.0, r.top_correct);
            if (by_equivalence)
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
            if (cr.total > 0)
                print_carries(&cr, &cf, true);
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
            if (by_equivalence)
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
            if (cr.total > 0)
                print_carries(&cr, &cf, false);
            if (edges.count > 0)
                print_edge_cases(&er, &ef, false);
        }
        if (out) {
            out->accuracy = acc;
            out->correct = r.correct;
            out->total = r.total;
            out->edge_correct = er.correct;
            out->edge_total = er.total;
            out->carry_correct = cr.correct;
            out->carry_total = cr.total;
        }
    }
    if (!st && bl.pred)
        st = predictions_finish(bl.pred, f->predictions, f->json);
    if (bl.pred)
        free(bl.pred->csv.text);
    free(bl.pred);
    edge_failures_free(&ef);
    edge_failures_free(&cf);
    carry_result_free(&cr);
    examples_free(&edges);
    free(bl.n);
    free(bl.correct);
    free(bl.abs_err);
    examples_free(&fresh);
    session_close(&s);
    return st ? cli_fail(st) : 0;
}

/* What the seed runs of one parent gave, for the table over a sweep's points. */
typedef struct {
    int count;
    double mean, sd, worst;    /* exact match over the seeds */
    long long worst_seed;
    bool have_carry, have_edge;
    double carry, edge;        /* means over the seeds */
    int grid_lo, grid_prefix;  /* --grid: the mean grid's largest length at >= 0.99 (grid_lo - 1:
                                  none) */
} seeds_stats;

/* A parent of seed runs (RUN/seed-S, from arith train --seeds N): every seed run evaluated,
 * then mean, std, best and worst over them; with --grid, the grids combined per cell. With
 * json_nested the JSON object ends without its newline (one point of a sweep); ps (may be
 * NULL) receives the summary. */
static int eval_seeds(const char *parent, const eval_settings *f, char **dirs,
                      const long long *seeds, int count, bool json_nested, seeds_stats *ps)
{
    eval_settings sf = *f;
    sf.nested = true;
    eval_outcome *o = calloc((size_t)count, sizeof *o);
    double *x = malloc((size_t)count * sizeof *x);
    if (!o || !x) {
        free(o);
        free(x);
        return cli_fail(arith_error(ARITH_ERR_MEMORY, "out of memory"));
    }
    if (f->json) {
        printf("{\"run\": ");
        cli_json_string(stdout, parent);
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
        char title[4 * TRAIN_PATH_MAX];
        snprintf(title, sizeof title, "%s, mean of %d seeds: %s, %s checkpoint", parent, count,
                 o[0].scheme, f->checkpoint);
        grid_file_paths(parent, &combined, csv, svg, sizeof csv);
        if (!st)
            st = grid_write_csv(&combined, csv);
        if (!st)
            st = grid_write_svg(&combined, svg, title, o[0].train_lo, o[0].train_hi,
                                o[0].train_lo_b, o[0].train_hi_b);
        if (st)
            rc = cli_fail(st);
    }
    if (rc == 0 && f->json) {
        printf("]");
        for (int k = 0; k < count; k++)
            x[k] = o[k].accuracy;
        stats_summary sa;
        if (!f->grid.hi) {
            stats_summarize(x, count, &sa);
            printf(", ");
            cli_json_stats(stdout, "accuracy", &sa, seeds);
            if (o[0].carry_total > 0) {
                for (int k = 0; k < count; k++)
                    x[k] = o[k].carry_total ? (double)o[k].carry_correct / o[k].carry_total : 0.0;
                stats_summarize(x, count, &sa);
                printf(", ");
                cli_json_stats(stdout, "carry_accuracy", &sa, seeds);
            }
            if (o[0].edge_total > 0) {
                for (int k = 0; k < count; k++)
                    x[k] = o[k].edge_total ? (double)o[k].edge_correct / o[k].edge_total : 0.0;
                stats_summarize(x, count, &sa);
                printf(", ");
                cli_json_stats(stdout, "edge_accuracy", &sa, seeds);
            }
        } else {
            for (int k = 0; k < count; k++) {
                int prefix, any;
                grid_largest_at(&o[k].grid, 0.99, &prefix, &any);
                x[k] = prefix;
            }
            stats_summarize(x, count, &sa);
            printf(", ");
            cli_json_stats(stdout, "largest_prefix_at_0_99", &sa, seeds);
            printf(", ");
            print_grid_json(&combined, csv, svg);
        }
        printf(json_nested ? "}" : "}\n");
    } else if (rc == 0 && !f->grid.hi) {
        printf("== summary over %d seed runs of %s\n", count, parent);
        for (int k = 0; k < count; k++) {
            x[k] = o[k].accuracy;
            printf("  seed %-6lld exact match %.4f (%d/%d)", seeds[k], o[k].accuracy,
                   o[k].correct, o[k].total);
            if (o[k].carry_total > 0)
                printf(", carry-heavy %.4f (%d/%d)",
                       (double)o[k].carry_correct / o[k].carry_total, o[k].carry_correct,
                       o[k].carry_total);
            if (o[k].edge_total > 0)
                printf(", edge cases %d/%d", o[k].edge_correct, o[k].edge_total);
            printf("\n");
        }
        cli_print_seed_stats("exact match", x, seeds, count, false);
        if (o[0].carry_total > 0) {
            for (int k = 0; k < count; k++)
                x[k] = o[k].carry_total ? (double)o[k].carry_correct / o[k].carry_total : 0.0;
            cli_print_seed_stats("carry-heavy exact match", x, seeds, count, false);
        }
        if (o[0].edge_total > 0) {
            for (int k = 0; k < count; k++)
                x[k] = o[k].edge_total ? (double)o[k].edge_correct / o[k].edge_total : 0.0;
            cli_print_seed_stats("edge-case exact match", x, seeds, count, false);
        }
    } else if (rc == 0) {
        const length_grid *g = &combined;
        const bool square = grid_square(g);
        printf("grid %d..%d over %d seeds, %d examples per cell (seed %lld): exact match per "
               "length n (%s), mean ± std (min..max)\n", g->lo, g->hi, count, g->per_cell,
               g->seed, square ? "la = lb = n" : "la = n, each lb");
        for (int i = 0; i < g->count; i++) {
            for (int j = square ? i : 0; j < (square ? i + 1 : g->count_b); j++) {
                size_t c = (size_t)i * g->count_b + j;
                char lb[32] = "";
                if (!square)
                    snprintf(lb, sizeof lb, " lb=%d", grid_length_b(g, j));
                printf("  n=%-5d%s %.4f ± %.4f (%.4f..%.4f)\n", grid_length(g, i), lb,
                       g->accuracy[c], g->acc_std[c], g->acc_min[c], g->acc_max[c]);
            }
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
    if (rc == 0 && ps) {
        memset(ps, 0, sizeof *ps);
        ps->count = count;
        for (int k = 0; k < count; k++) {
            x[k] = o[k].accuracy;
            if (o[k].carry_total > 0) {
                ps->have_carry = true;
                ps->carry += (double)o[k].carry_correct / o[k].carry_total / count;
            }
            if (o[k].edge_total > 0) {
                ps->have_edge = true;
                ps->edge += (double)o[k].edge_correct / o[k].edge_total / count;
            }
        }
        stats_summary sa;
        stats_summarize(x, count, &sa);
        ps->mean = sa.mean;
        ps->sd = sa.std;
        ps->worst = sa.min;
        ps->worst_seed = seeds[sa.argmin];
        if (f->grid.hi) {
            int any;
            ps->grid_lo = combined.lo;
            grid_largest_at(&combined, 0.99, &ps->grid_prefix, &any);
        }
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

/* A sweep's directory (arith sweep: RUN/sweep.json, a parent of seed runs per point): every
 * point evaluated as a parent of seed runs, then a table over the points. */
static int eval_sweep(const char *dir, const char *sweep_path, const eval_settings *f)
{
    char *text = NULL;
    size_t size = 0;
    arith_status st = io_read_file(sweep_path, &text, &size);
    if (st)
        return cli_fail(st);
    cJSON *sw = cJSON_Parse(text);
    free(text);
    const cJSON *points = cJSON_GetObjectItemCaseSensitive(sw, "points");
    const cJSON *vary = cJSON_GetObjectItemCaseSensitive(sw, "vary");
    if (!cJSON_IsArray(points) || !cJSON_IsArray(vary)) {
        cJSON_Delete(sw);
        fprintf(stderr, "arith: error: %s: not a sweep description (no \"points\" and "
                "\"vary\" lists)\n", sweep_path);
        return EXIT_RUNTIME;
    }
    const int npoints = cJSON_GetArraySize(points);
    seeds_stats *ps = calloc((size_t)npoints + 1, sizeof *ps);
    if (!ps) {
        cJSON_Delete(sw);
        return cli_fail(arith_error(ARITH_ERR_MEMORY, "out of memory"));
    }
    if (f->json) {
        printf("{\"run\": ");
        cli_json_string(stdout, dir);
        printf(", \"checkpoint\": \"%s\", \"points\": [", f->checkpoint);
    } else {
        fprintf(stderr, "%s holds a sweep of %d points\n", dir, npoints);
    }
    int rc = 0, shown = 0;
    const cJSON *pt = NULL;
    int p = 0;
    cJSON_ArrayForEach(pt, points) {
        if (rc)
            break;
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(pt, "name");
        char pdir[TRAIN_PATH_MAX + 256];
        if (!cJSON_IsString(name) || snprintf(pdir, sizeof pdir, "%s/%s", dir,
                                              name->valuestring) >= (int)sizeof pdir) {
            fprintf(stderr, "arith: error: %s: point %d has no name arith can use\n",
                    sweep_path, p + 1);
            rc = EXIT_RUNTIME;
            break;
        }
        char **dirs = NULL;
        long long *seeds = NULL;
        int count = 0;
        if (seed_runs_find(pdir, &dirs, &seeds, &count) != ARITH_OK || count == 0) {
            arith_error_clear();
            fprintf(stderr, "arith: note: %s has no seed runs yet (arith sweep trains them)\n",
                    pdir);
        } else {
            if (f->json) {
                printf("%s{\"point\": ", shown ? ", " : "");
                cli_json_string(stdout, name->valuestring);
                char *values = cJSON_PrintUnformatted(
                    cJSON_GetObjectItemCaseSensitive(pt, "values"));
                printf(", \"values\": %s, \"eval\": ", values ? values : "{}");
                cJSON_free(values);
            } else {
                printf("== point %s\n", pdir);
            }
            rc = eval_seeds(pdir, f, dirs, seeds, count, true, &ps[p]);
            if (f->json && rc == 0)
                printf("}");
            shown++;
        }
        for (int k = 0; k < count; k++)
            free(dirs[k]);
        free(dirs);
        free(seeds);
        p++;
    }
    if (rc == 0 && f->json) {
        printf("]}\n");
    } else if (rc == 0) {
        /* the table over the points, in Markdown as arith sweep writes its summary */
        printf("\nsweep %s: %s per point (%s checkpoint), over its seeds\n| point ", dir,
               f->grid.hi ? "largest length at >= 0.99 of the mean grid" : "exact match",
               f->checkpoint);
        const cJSON *v = NULL;
        int columns = 0;
        cJSON_ArrayForEach(v, vary) {
            const cJSON *key = cJSON_GetObjectItemCaseSensitive(v, "key");
            printf("| %s ", cJSON_IsString(key) ? key->valuestring : "?");
            columns++;
        }
        if (f->grid.hi)
            printf("| seeds | largest length at >= 0.99 |\n");
        else
            printf("| seeds | exact match | worst (seed) | carry-heavy | edge cases |\n");
        for (int c = 0; c < columns + (f->grid.hi ? 3 : 6); c++)
            printf("|---");
        printf("|\n");
        p = 0;
        cJSON_ArrayForEach(pt, points) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(pt, "name");
            const cJSON *values = cJSON_GetObjectItemCaseSensitive(pt, "values");
            printf("| %s ", name->valuestring);
            cJSON_ArrayForEach(v, vary) {
                const cJSON *key = cJSON_GetObjectItemCaseSensitive(v, "key");
                const cJSON *val = cJSON_IsString(key)
                                       ? cJSON_GetObjectItemCaseSensitive(values, key->valuestring)
                                       : NULL;
                printf("| %s ", cJSON_IsString(val) ? val->valuestring : "?");
            }
            const seeds_stats *s = &ps[p++];
            printf("| %d ", s->count);
            if (s->count == 0)
                printf(f->grid.hi ? "| - |\n" : "| - | - | - | - |\n");
            else if (f->grid.hi && s->grid_prefix < s->grid_lo)
                printf("| none |\n");
            else if (f->grid.hi)
                printf("| %d |\n", s->grid_prefix);
            else {
                printf("| %.4f ± %.4f | %.4f (%lld) ", s->mean, s->sd, s->worst, s->worst_seed);
                s->have_carry ? printf("| %.4f ", s->carry) : printf("| - ");
                s->have_edge ? printf("| %.4f |\n", s->edge) : printf("| - |\n");
            }
        }
    }
    cJSON_Delete(sw);
    free(ps);
    return rc;
}

/* eval on a run directory, on a sweep's (sweep.json), or on a parent of seed runs (no
 * checkpoint of its own, seed-S directories inside). */
static int eval_dispatch(const char *dir, const eval_settings *f)
{
    char path[TRAIN_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, f->checkpoint);
    if (access(path, F_OK) == 0)
        return eval_run(dir, f, NULL);
    snprintf(path, sizeof path, "%s/sweep.json", dir);
    if (access(path, F_OK) == 0)
        return eval_sweep(dir, path, f);
    char **dirs = NULL;
    long long *seeds = NULL;
    int count = 0;
    if (seed_runs_find(dir, &dirs, &seeds, &count) != ARITH_OK || count == 0) {
        arith_error_clear();
        return eval_run(dir, f, NULL); /* its own error names what is missing */
    }
    int rc = eval_seeds(dir, f, dirs, seeds, count, false, NULL);
    for (int k = 0; k < count; k++)
        free(dirs[k]);
    free(dirs);
    free(seeds);
    return rc;
}

static const char eval_usage[] =
    "usage: arith eval RUN_DIR [--checkpoint best|last] [--csv FILE | --digits N|A..B [--n N] "
    "[--seed S]] [--batch N] [--threads N] [--beam K] [--samples K] [--teacher-forced] "
    "[--json]\n"
    "       arith eval RUN_DIR --grid A..B [--grid-step K] [--grid-n N] [--seed S] [--json]\n\n"
    "Exact-match accuracy by batched greedy generation (with a key/value cache, or the "
    "LSTM's carried state) on the run's test set, on a CSV file, or on N new examples with "
    "operands (count: strings) of the given lengths that are not in the run's training set. "
    "When the lengths vary, a table gives accuracy per length (and the mean absolute error for "
    "a regression head). --teacher-forced also prints the accuracy when the model reads the "
    "reference answer while predicting it (seed 000's measure). --beam K searches K answers "
    "per prompt (beam search, K > 1; transformers and LSTM language models): a prompt counts "
    "as right when any of its K answers is, and the top answer's exact match is printed beside "
    "it; --batch prompts of K rows each run at a time.\n\n"
    "Tasks with edge cases (`arith tasks` says which) also score a fixed list of them built "
    "from the run's lengths (9..9+1, 1+9..9, 0+0, carry chains, zeros inside, ...; those the "
    "tokenizer or the context cannot take are skipped) and show the first failures.\n\n"
    "--grid A..B (tasks on two operands): exact match for every pair of operand lengths la, lb "
    "in A..B (every K-th with --grid-step K), N examples per cell (--grid-n, default 20; drawn "
    "from --seed), written to RUN_DIR/grid-A-B.csv and a heatmap RUN_DIR/grid-A-B.svg with the "
    "training lengths outlined; prints the accuracy per length n (cell n, n) and the largest "
    "length at >= 0.99.\n\n"
    "RUN_DIR may also be the parent of seed runs (arith train --seeds N): each seed-S run is "
    "evaluated, then mean, std, best and worst are printed; with --grid, the per-seed grids go "
    "into each seed's directory and their per-cell mean into RUN_DIR/grid-A-B.csv and .svg.\n\n"
    "RUN_DIR may also be a sweep's (arith sweep: RUN_DIR/sweep.json): each point is evaluated "
    "as a parent of seed runs, then a table gives every point's exact match (mean ± sd, worst "
    "seed, carry-heavy and edge-case means), or with --grid its mean grid's largest length at "
    ">= 0.99.\n";

int cli_eval(int argc, char **argv)
{
    const option_table *tables[] = {&cli_eval_table};
    cli_args args;
    bool stop;
    int rc = cli_args_parse(&args, argc, argv, tables, 1, 1, eval_usage, &stop);
    if (stop)
        return rc;
    eval_settings f;
    rc = cli_eval_settings(&f, &args);
    const char *dir = NULL;
    for (int i = 0; i < args.count; i++)
        if (!args.items[i].spec)
            dir = args.items[i].value;
    if (!rc && !dir)
        rc = cli_usage_error("usage: arith eval RUN_DIR [OPTIONS] (see arith eval --help)");
    if (!rc && !f.grid.hi && (f.grid_step || f.grid_n || f.grid_b.hi))
        rc = cli_usage_error("%s", f.grid_step ? "--grid-step needs --grid A..B"
                                   : f.grid_n  ? "--grid-n needs --grid A..B"
                                               : "--grid-b needs --grid A..B");
    if (!rc && f.grid.hi &&
        (f.csv[0] || f.digits.hi || f.digits_b.hi || f.n || f.teacher_forced || f.samples ||
         f.predictions[0]))
        rc = cli_usage_error("--grid draws its own examples per pair of lengths; it does not "
                             "combine with --csv, --digits, --digits-b, --n, --samples, "
                             "--teacher-forced or --predictions");
    if (!rc && f.csv[0] && f.digits_b.hi)
        rc = cli_usage_error("--digits-b draws new examples; it does not combine with --csv");
    cli_args_free(&args);
    return rc ? rc : eval_dispatch(dir, &f);
}
