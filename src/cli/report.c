/* arith report: one self-contained HTML page of one or several runs: each run's settings,
 * model, training curves, last evaluation, an evaluation of its checkpoint with the accuracy
 * per answer digit and per carry chain and the prompts it got wrong, its grids, probes and
 * attention maps; with several runs, their curves overlaid and a table comparing them. The
 * page holds everything (CSS and SVG inline, no script, nothing fetched), so it can be mailed
 * or archived as one file. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "io/io.h"

typedef struct {
    char out[TRAIN_PATH_MAX];
    char title[256];
    int which;                 /* checkpoint_choice */
    bool no_eval, no_verify;
    int threads, batch, failures;
} report_command;

#define REPORT_OPT(name, type, field, def, choices, lo, hi, placeholder, help)                 \
    {name, type, offsetof(report_command, field), sizeof(((report_command *)0)->field), def,   \
     choices, lo, hi, "options", placeholder, help, false, NULL, NULL}

static const option_spec report_specs[] = {
    REPORT_OPT("out", OPT_STRING, out, NULL, NULL, 0, 0, "FILE",
               "write the page here (default: RUN/report.html for one run or one --seeds "
               "directory; several arguments need it)"),
    REPORT_OPT("title", OPT_STRING, title, NULL, NULL, 0, 0, "TITLE",
               "the page's title (default: the run's name, or the number of runs)"),
    REPORT_OPT("checkpoint", OPT_CHOICE, which, "best", cli_checkpoint_choice, 0, 0, NULL,
               "which checkpoint the page evaluates"),
    REPORT_OPT("no-eval", OPT_BOOL, no_eval, "false", NULL, 0, 0, NULL,
               "do not evaluate the checkpoint: the page shows what the run recorded "
               "(metrics.jsonl and the files in its directory) only"),
    REPORT_OPT("failures", OPT_INT, failures, "10", NULL, 0, 1000, NULL,
               "wrong answers listed per set (test set, carry-heavy sums, edge cases)"),
    REPORT_OPT("batch", OPT_INT, batch, "64", NULL, 1, 65536, NULL,
               "prompts generated at a time"),
    {"threads", OPT_INT, offsetof(report_command, threads), sizeof(int), "auto", NULL, 0, 1024,
     "options", "N|auto", "threads; auto: the cores other programs leave free at the start",
     false, NULL, "auto"},
    REPORT_OPT("no-verify", OPT_BOOL, no_verify, "false", NULL, 0, 0, NULL,
               "load the checkpoint without checking its data checksum"),
};
static const option_table report_table = {"report", report_specs,
                                          (int)(sizeof report_specs / sizeof *report_specs)};

static const char report_usage[] =
    "usage: arith report RUN [RUN ...] [--out FILE.html] [--title TITLE] [--checkpoint best|last] "
    "[--no-eval]\n\n"
    "Writes one self-contained HTML page (inline CSS and SVG, no script, nothing fetched) about "
    "the runs given: per run its settings (those that differ from the defaults, and the whole "
    "config.json), the model, the training curves (loss and test loss, exact match, learning "
    "rate, gradient norm), the last evaluation in metrics.jsonl (carry-heavy sums per chain "
    "length, edge cases), an evaluation of its checkpoint on the test set, the carry-heavy "
    "sums and the edge cases with the exact match per answer digit and per carry chain and "
    "the first wrong answers (skipped with --no-eval), and the grids (arith eval --grid), "
    "probes (arith probe) and attention maps (arith attention) found in its directory. With "
    "several runs, their curves overlaid and a table comparing them come first. A RUN is a run "
    "directory or a directory of --seeds runs (each of its seed-S runs).\n";

/* ------------------------------------------------------------------------------- the runs */

/* One run: its directory, its config.json and what its metrics.jsonl recorded. */
typedef struct {
    char *dir;
    cJSON *config;             /* config.json */
    cJSON *metrics;            /* every line of metrics.jsonl, as an array */
    const cJSON *last_eval;    /* the last evaluation line (NULL: none yet) */
    const cJSON *best_eval;    /* the one with the best exact match (the first on ties) */
    long long steps;           /* the largest step of any line */
    double elapsed;            /* the largest "elapsed" (NAN: none) */
    int evals, resumes;
} run_info;

static void run_info_free(run_info *r)
{
    free(r->dir);
    cJSON_Delete(r->config);
    cJSON_Delete(r->metrics);
    memset(r, 0, sizeof *r);
}

static double json_number(const cJSON *obj, const char *key, double fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

/* Reads a run's config.json and metrics.jsonl: every line of the latter must be a JSON object
 * with a numeric "step" (the error names file:line). */
static arith_status run_info_read(run_info *r, const char *dir)
{
    memset(r, 0, sizeof *r);
    r->elapsed = NAN;
    r->dir = strdup(dir);
    if (!r->dir)
        return arith_error(ARITH_ERR_MEMORY, "out of memory");
    char path[TRAIN_PATH_MAX + 32];
    char *text = NULL;
    size_t size = 0;
    arith_status st = io_join_path(path, sizeof path, dir, "config.json");
    if (!st && access(path, F_OK) != 0)
        return arith_error(ARITH_ERR_IO, "%s: no config.json: not a run directory", dir);
    if (!st)
        st = io_read_file(path, &text, &size);
    if (!st && !cJSON_IsObject(r->config = cJSON_Parse(text)))
        st = arith_error(ARITH_ERR_FORMAT, "%s: not a JSON object", path);
    free(text);
    text = NULL;
    if (!st)
        st = io_join_path(path, sizeof path, dir, "metrics.jsonl");
    if (!st)
        st = io_read_file(path, &text, &size);
    if (!st && !(r->metrics = cJSON_CreateArray()))
        st = arith_error(ARITH_ERR_MEMORY, "out of memory");
    int line_no = 0;
    double best = -1;
    for (char *line = text; !st && line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        line_no++;
        if (line[strspn(line, " \t\r")]) {
            cJSON *obj = cJSON_Parse(line);
            const cJSON *step = cJSON_GetObjectItemCaseSensitive(obj, "step");
            if (!cJSON_IsObject(obj) || !cJSON_IsNumber(step)) {
                cJSON_Delete(obj);
                st = arith_error(ARITH_ERR_FORMAT, "%s:%d: not a metrics line (a JSON object "
                                 "with a \"step\")", path, line_no);
                break;
            }
            cJSON_AddItemToArray(r->metrics, obj);
            const cJSON *kind = cJSON_GetObjectItemCaseSensitive(obj, "kind");
            const char *k = cJSON_IsString(kind) ? kind->valuestring : NULL;
            if ((long long)step->valuedouble > r->steps)
                r->steps = (long long)step->valuedouble;
            const double el = json_number(obj, "elapsed", NAN);
            if (!isnan(el) && (isnan(r->elapsed) || el > r->elapsed))
                r->elapsed = el;
            /* runs from before the "kind" field: an evaluation is the line with an accuracy */
            const bool eval = k ? strcmp(k, "eval") == 0
                                : cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(obj, "accuracy"));
            if (eval) {
                r->evals++;
                r->last_eval = obj;
                const double a = json_number(obj, "accuracy", -1);
                if (a > best) {
                    best = a;
                    r->best_eval = obj;
                }
            }
            r->resumes += k && strcmp(k, "resume") == 0;
        }
        line = next;
    }
    free(text);
    return st;
}

/* The runs a path names: itself, or its seed-S runs. */
static arith_status add_runs(const char *path, run_info **runs, int *n)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return arith_error(ARITH_ERR_IO, "%s: no such directory: not a run directory", path);
    char file[TRAIN_PATH_MAX + 32];
    char **dirs = NULL;
    long long *seeds = NULL;
    int count = 0;
    snprintf(file, sizeof file, "%s/metrics.jsonl", path);
    const bool single = access(file, F_OK) == 0;
    arith_status st = ARITH_OK;
    if (!single) {
        st = seed_runs_find(path, &dirs, &seeds, &count);
        if (!st && count == 0)
            st = arith_error(ARITH_ERR_IO, "%s: no metrics.jsonl and no seed-S runs in it: not "
                             "a run directory", path);
    }
    const int add = single ? 1 : count;
    run_info *grown = st ? NULL : realloc(*runs, (size_t)(*n + add) * sizeof *grown);
    if (!st && !grown)
        st = arith_error(ARITH_ERR_MEMORY, "out of memory");
    if (grown)
        *runs = grown;
    for (int k = 0; !st && k < add; k++) {
        st = run_info_read(&(*runs)[*n], single ? path : dirs[k]);
        if (st)
            run_info_free(&(*runs)[*n]);
        else
            (*n)++;
    }
    for (int k = 0; k < count; k++)
        free(dirs[k]);
    free(dirs);
    free(seeds);
    return st;
}

/* ------------------------------------------------------------------- the checkpoint's eval */

/* A wrong answer kept for the page. */
typedef struct {
    char *prompt, *answer, *predicted;
    int chain, wrong_digit;    /* -1: no chains; 0: no wrong digit (an answer that never ended) */
} failure;

/* The answers of one set: wrong ones counted, the first `keep` kept; tally (may be NULL)
 * counts every answer per digit and carry chain. */
typedef struct {
    failure *items;
    int kept, keep, wrong;
    cli_answer_tally *tally;
    const task_config *task;
    arith_status st;           /* an allocation that failed */
} answers;

static void on_answer(void *ctx, int index, const example *ex, const char *predicted,
                      bool correct)
{
    (void)index;
    answers *a = ctx;
    int chain = -1, wrong = 0;
    if (a->tally)
        cli_answer_tally_add(a->tally, ex, predicted, correct, &chain, &wrong);
    else if (task_has_carries(a->task))
        chain = task_carry_chain(a->task, ex->prompt);
    if (correct)
        return;
    a->wrong++;
    if (a->kept >= a->keep || a->st)
        return;
    failure *f = &a->items[a->kept];
    f->prompt = strdup(ex->prompt);
    f->answer = strdup(ex->answer);
    f->predicted = strdup(predicted);
    f->chain = chain;
    f->wrong_digit = a->tally ? wrong : cli_first_wrong_digit(ex->answer, predicted);
    if (!f->prompt || !f->answer || !f->predicted)
        a->st = arith_error(ARITH_ERR_MEMORY, "out of memory");
    a->kept++;
}

static void answers_free(answers *a)
{
    for (int i = 0; i < a->kept; i++) {
        free(a->items[i].prompt);
        free(a->items[i].answer);
        free(a->items[i].predicted);
    }
    free(a->items);
    memset(a, 0, sizeof *a);
}

/* What the page says of a run's model and its checkpoint's answers. */
typedef struct {
    bool described;
    char title[2 * TRAIN_PATH_MAX];  /* session_title */
    char model[TRAIN_PATH_MAX + 300];
    size_t params, trainable;
    char note[TRAIN_PATH_MAX + 512]; /* why it was not evaluated or described ("": it was) */
    bool evaluated;
    eval_result test, edge;
    carry_result carry;
    answers test_wrong, edge_wrong, carry_wrong;
    cli_answer_tally *tally;         /* over the test set */
    double seconds;
} run_eval;

static void run_eval_free(run_eval *e)
{
    answers_free(&e->test_wrong);
    answers_free(&e->edge_wrong);
    answers_free(&e->carry_wrong);
    carry_result_free(&e->carry);
    free(e->tally);
    memset(e, 0, sizeof *e);
}

static void describe(run_eval *e, const session *s)
{
    session_description d;
    session_describe(s, &d);
    session_title(s, e->title, sizeof e->title);
    snprintf(e->model, sizeof e->model, "%s: %s", model_kind_name(s->cfg.model.family),
             d.model);
    e->params = params_count(&s->model->params);
    e->trainable = params_count_trainable(&s->model->params);
    e->described = true;
}

static arith_status answers_init(answers *a, int keep, const task_config *task)
{
    memset(a, 0, sizeof *a);
    a->keep = keep;
    a->task = task;
    a->items = calloc((size_t)(keep > 0 ? keep : 1), sizeof *a->items);
    return a->items ? ARITH_OK : arith_error(ARITH_ERR_MEMORY, "out of memory");
}

/* Evaluates the run's checkpoint (test set, edge cases, carry-heavy sums) as arith eval does;
 * with no_eval, or without the checkpoint, only describes the model from config.json (a
 * failure then is a note on the page, not an error). */
static arith_status run_evaluate(run_eval *e, const run_info *r, const report_command *rc)
{
    memset(e, 0, sizeof *e);
    const char *which = cli_checkpoint_choice(rc->which);
    char path[TRAIN_PATH_MAX + 32], file[32];
    snprintf(file, sizeof file, "%s.safetensors", which);
    arith_status st = io_join_path(path, sizeof path, r->dir, file);
    if (st)
        return st;
    session s;
    memset(&s, 0, sizeof s);
    s.lock_fd = -1;
    if (rc->no_eval || access(path, F_OK) != 0) {
        snprintf(e->note, sizeof e->note, "%s", rc->no_eval ? "not evaluated (--no-eval)"
                 : "not evaluated: the run has no checkpoint yet");
        train_config cfg;
        train_config_defaults(&cfg);
        char *text = NULL;
        size_t size = 0;
        char cpath[TRAIN_PATH_MAX + 32];
        st = io_join_path(cpath, sizeof cpath, r->dir, "config.json");
        if (!st)
            st = io_read_file(cpath, &text, &size);
        if (!st)
            st = train_config_from_json(&cfg, text, cpath);
        free(text);
        if (!st)
            st = session_open(&s, &cfg, r->dir);
        if (!st)
            describe(e, &s);
        else
            snprintf(e->note + strlen(e->note), sizeof e->note - strlen(e->note),
                     "; the model could not be built from config.json: %s",
                     arith_error_message());
        arith_error_clear();
        session_close(&s);
        return ARITH_OK;
    }
    fprintf(stderr, "evaluating %s (%s checkpoint)\n", r->dir, which);
    core_set_threads(rc->threads);
    st = session_load_run(&s, r->dir, which, !rc->no_verify);
    core_set_threads(rc->threads);
    const bool loaded = !st; /* (its errors name the run's files already) */
    if (!st)
        describe(e, &s);
    if (!st)
        st = answers_init(&e->test_wrong, rc->failures, &s.task);
    if (!st)
        st = answers_init(&e->edge_wrong, rc->failures, &s.task);
    if (!st)
        st = answers_init(&e->carry_wrong, rc->failures, &s.task);
    if (!st && !(e->tally = malloc(sizeof *e->tally)))
        st = arith_error(ARITH_ERR_MEMORY, "out of memory");
    const double t0 = time_now();
    if (!st) {
        cli_answer_tally_init(e->tally, &s.task);
        e->test_wrong.tally = e->tally;
        st = evaluate_beam(s.model, &s.tok, &s.task, &s.test, 0, rc->batch, 1, on_answer,
                           &e->test_wrong, -1, &e->test);
    }
    example_set edges;
    examples_init(&edges);
    if (!st)
        st = edge_cases_build(s.model, &s.tok, &s.task, &edges);
    if (!st && edges.count > 0)
        st = evaluate_beam(s.model, &s.tok, &s.task, &edges, 0, rc->batch, 1, on_answer,
                           &e->edge_wrong, -1, &e->edge);
    if (!st)
        st = evaluate_carries(s.model, &s.tok, &s.task, &s.carry, rc->batch, 1, on_answer,
                              &e->carry_wrong, &e->carry);
    for (answers *a = &e->test_wrong; !st && a <= &e->carry_wrong; a++)
        st = a->st;
    e->seconds = time_now() - t0;
    e->evaluated = !st;
    examples_free(&edges);
    session_close(&s);
    if (st && loaded)
        arith_error_wrap(st, "%s: ", r->dir);
    return st;
}

/* ------------------------------------------------------------------------------- the page */

static void put(text_buffer *b, const char *s)
{
    text_put_xml(b, s);
}

/* A table cell holding an exact match, its background from red (0) through yellow to green
 * (1), so that a table reads at a glance. */
static void acc_cell(text_buffer *b, double x)
{
    if (isnan(x)) {
        text_printf(b, "<td class=\"num\">&ndash;</td>");
        return;
    }
    const double v = x < 0 ? 0 : x > 1 ? 1 : x;
    text_printf(b, "<td class=\"num\" style=\"background:hsl(%d,70%%,85%%)\">%.4f</td>",
                (int)lround(120 * v), x);
}

/* A cell "c/t (x.xxxx)" of a count and its share. */
static void count_cell(text_buffer *b, int correct, int total)
{
    if (total <= 0) {
        text_printf(b, "<td class=\"num\">&ndash;</td>");
        return;
    }
    const double v = (double)correct / total;
    text_printf(b, "<td class=\"num\" style=\"background:hsl(%d,70%%,85%%)\">%d/%d</td>",
                (int)lround(120 * v), correct, total);
}

static void duration_text(char *out, size_t cap, double seconds)
{
    if (isnan(seconds))
        snprintf(out, cap, "&ndash;");
    else if (seconds < 60)
        snprintf(out, cap, "%.1f s", seconds);
    else
        cli_format_duration(out, cap, seconds);
}

/* Whether an SVG file can go into the page as it is: it must be an SVG element, and hold no
 * script, no event handler, no link, no style sheet, no url() but to its own #ids and no
 * foreign HTML (what arith writes never does; a file from elsewhere could run in the reader's
 * browser, fetch from elsewhere, or restyle the page). */
static bool svg_inlinable(const char *text)
{
    if (strncmp(text, "<svg", 4) != 0)
        return false;
    static const char *const banned[] = {"<script", "foreignobject", "href", "javascript:",
                                         "<iframe", "<!entity", "<?xml-stylesheet", "<style",
                                         "@import"};
    for (const char *c = text; *c; c++) {
        for (size_t k = 0; k < sizeof banned / sizeof *banned; k++)
            if (strncasecmp(c, banned[k], strlen(banned[k])) == 0)
                return false;
        if (strncasecmp(c, "url(", 4) == 0 && c[4 + strspn(c + 4, " '\"")] != '#')
            return false;
        /* an attribute on...= (onload, onclick, ...) */
        if (isspace((unsigned char)c[0]) && tolower((unsigned char)c[1]) == 'o' &&
            tolower((unsigned char)c[2]) == 'n' && isalpha((unsigned char)c[3])) {
            const char *e = c + 3;
            while (isalpha((unsigned char)*e))
                e++;
            while (isspace((unsigned char)*e))
                e++;
            if (*e == '=')
                return false;
        }
    }
    return true;
}

/* The whole of DIR/NAME, NUL-terminated (io_read_file), into *text; its path into path. */
static arith_status read_run_file(const char *dir, const char *name, char *path, size_t cap,
                                  char **text)
{
    size_t size = 0;
    arith_status st = io_join_path(path, cap, dir, name);
    return st ? st : io_read_file(path, text, &size);
}

/* A figure of an SVG file in the run's directory: inlined, or a note saying why not. */
static arith_status put_svg_file(text_buffer *b, const char *dir, const char *name)
{
    char path[TRAIN_PATH_MAX + 300], *text = NULL;
    arith_status st = read_run_file(dir, name, path, sizeof path, &text);
    if (st)
        return st;
    const char *svg = text;
    if (strncmp(svg, "<?xml", 5) == 0 && strstr(svg, "?>")) /* a prolog has no place in HTML */
        svg = strstr(svg, "?>") + 2;
    svg += strspn(svg, " \t\r\n");
    text_printf(b, "<figure><div class=\"fig\">");
    const char *root_end = strchr(svg, '>');
    if (svg_inlinable(svg) && root_end) {
        /* without a viewBox, a figure wider than the page would be cut off rather than
         * scaled (the page's CSS caps its width): one is added from its width and height */
        const char *w = strstr(svg, " width=\""), *h = strstr(svg, " height=\"");
        const char *vb = strstr(svg, "viewBox");
        double width = w ? atof(w + 8) : 0, height = h ? atof(h + 9) : 0;
        if ((!vb || vb > root_end) && w && h && w < root_end && h < root_end && width > 0 &&
            height > 0)
            text_printf(b, "<svg viewBox=\"0 0 %g %g\"%s", width, height, svg + 4);
        else
            text_printf(b, "%s", svg);
    } else
        text_printf(b, "<p class=\"note\">not shown: it is not an SVG as arith writes it (it "
                    "holds a script, an event handler, a link or a style)</p>");
    text_printf(b, "</div><figcaption>");
    put(b, name);
    text_printf(b, "</figcaption></figure>\n");
    free(text);
    return ARITH_OK;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir that start with prefix and end with suffix, sorted (*names: malloc'd). */
static arith_status list_files(const char *dir, const char *prefix, const char *suffix,
                               char ***names, int *n)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return ARITH_OK; /* read already: a race with its removal shows no files */
    arith_status st = ARITH_OK;
    int cap = 0;
    struct dirent *e;
    while (!st && (e = readdir(d)) != NULL) {
        const size_t len = strlen(e->d_name), lp = strlen(prefix), ls = strlen(suffix);
        if (len < lp + ls || strncmp(e->d_name, prefix, lp) != 0 ||
            strcmp(e->d_name + len - ls, suffix) != 0 || strstr(e->d_name, ".tmp."))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            char **grown = realloc(*names, (size_t)cap * sizeof *grown);
            if (!grown) {
                st = arith_error(ARITH_ERR_MEMORY, "out of memory");
                break;
            }
            *names = grown;
        }
        if (!((*names)[*n] = strdup(e->d_name)))
            st = arith_error(ARITH_ERR_MEMORY, "out of memory");
        else
            (*n)++;
    }
    closedir(d);
    if (*n > 1)
        qsort(*names, (size_t)*n, sizeof **names, compare_names);
    return st;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The settings that matter: the task, its lengths, the model and the seed always, then every
 * option whose value differs from the default (the run directory and the thread count left
 * out), in the option table's order; and the whole config.json folded under them. */
static void put_settings(text_buffer *b, const run_info *r)
{
    train_config defaults, cfg;
    train_config_defaults(&defaults);
    train_config_defaults(&cfg);
    char *text = cJSON_Print(r->config);
    const bool read = text && train_config_from_json(&cfg, text, "config.json") == ARITH_OK;
    arith_error_clear();
    text_printf(b, "<h3>Settings</h3>\n");
    if (read) {
        text_printf(b, "<table class=\"settings\"><tr><th>setting</th><th>value</th>"
                    "<th>default</th></tr>\n");
        static const char *const always[] = {"task", "digits", "model", "seed"};
        const option_table *t = &train_option_table;
        for (int i = 0; i < t->count; i++) {
            const char *name = t->specs[i].name;
            char value[TRAIN_PATH_MAX + 64], def[TRAIN_PATH_MAX + 64];
            train_config_format(&cfg, name, value, sizeof value);
            train_config_format(&defaults, name, def, sizeof def);
            bool shown = strcmp(value, def) != 0;
            if (t->specs[i].type == OPT_REAL) { /* 0.003, not 0.0030000000000000001 */
                snprintf(value, sizeof value, "%.6g", strtod(value, NULL));
                snprintf(def, sizeof def, "%.6g", strtod(def, NULL));
            }
            for (size_t k = 0; k < sizeof always / sizeof *always; k++)
                shown = shown || strcmp(name, always[k]) == 0;
            if (!shown || strcmp(name, "run") == 0 || strcmp(name, "threads") == 0 ||
                strcmp(name, "seeds") == 0)
                continue;
            text_printf(b, "<tr><td><code>--");
            put(b, name);
            text_printf(b, "</code></td><td>");
            put(b, value[0] ? value : "\"\"");
            text_printf(b, "</td><td class=\"dim\">");
            put(b, strcmp(value, def) ? (def[0] ? def : "\"\"") : "(default)");
            text_printf(b, "</td></tr>\n");
        }
        text_printf(b, "</table>\n");
    } else {
        text_printf(b, "<p class=\"note\">config.json does not read as this arith's settings; "
                    "it is shown as it is.</p>\n");
    }
    text_printf(b, "<details><summary>config.json</summary><pre>");
    put(b, text ? text : "");
    text_printf(b, "</pre></details>\n");
    free(text);
}

/* What metrics.jsonl recorded of the last evaluation. */
static void put_last_eval(text_buffer *b, const run_info *r)
{
    const cJSON *ev = r->last_eval;
    char took[64];
    duration_text(took, sizeof took, r->elapsed);
    text_printf(b, "<h3>Last evaluation during training</h3>\n");
    if (!ev) {
        text_printf(b, "<p class=\"note\">metrics.jsonl holds no evaluation yet (%lld steps)."
                    "</p>\n", r->steps);
        return;
    }
    const long long step = (long long)json_number(ev, "step", 0);
    text_printf(b, "<p>From metrics.jsonl: step %lld of the run's %lld, %d evaluation%s, "
                "%s of training%s.</p>\n", step, r->steps, r->evals, r->evals == 1 ? "" : "s",
                took, r->resumes ? ", resumed" : "");
    text_printf(b, "<table><tr><th>measure</th><th>value</th><th>examples</th></tr>\n");
    const int n = (int)json_number(ev, "eval_n", 0);
    text_printf(b, "<tr><td>test exact match</td>");
    acc_cell(b, json_number(ev, "accuracy", NAN));
    text_printf(b, "<td class=\"num\">%d</td></tr>\n", n);
    if (r->best_eval && r->best_eval != ev) {
        text_printf(b, "<tr><td>best test exact match (step %lld)</td>",
                    (long long)json_number(r->best_eval, "step", 0));
        acc_cell(b, json_number(r->best_eval, "accuracy", NAN));
        text_printf(b, "<td class=\"num\">%d</td></tr>\n",
                    (int)json_number(r->best_eval, "eval_n", 0));
    }
    const double tl = json_number(ev, "test_loss", NAN);
    if (!isnan(tl))
        text_printf(b, "<tr><td>test loss</td><td class=\"num\">%.4f</td><td></td></tr>\n", tl);
    const double mae = json_number(ev, "mae", NAN);
    if (!isnan(mae))
        text_printf(b, "<tr><td>mean absolute error</td><td class=\"num\">%.4f</td><td></td>"
                    "</tr>\n", mae);
    const int ct = (int)json_number(ev, "carry_total", 0);
    if (ct > 0) {
        text_printf(b, "<tr><td>carry-heavy sums</td>");
        acc_cell(b, json_number(ev, "carry_accuracy", NAN));
        text_printf(b, "<td class=\"num\">%d/%d</td></tr>\n",
                    (int)json_number(ev, "carry_correct", 0), ct);
    }
    const int et = (int)json_number(ev, "edge_total", 0);
    if (et > 0) {
        text_printf(b, "<tr><td>edge cases</td>");
        count_cell(b, (int)json_number(ev, "edge_correct", 0), et);
        text_printf(b, "<td class=\"num\">%d</td></tr>\n", et);
    }
    text_printf(b, "</table>\n");
    const cJSON *chains = cJSON_GetObjectItemCaseSensitive(ev, "carry_by_chain");
    if (cJSON_IsArray(chains) && cJSON_GetArraySize(chains) > 0) {
        text_printf(b, "<p>Carry-heavy sums: exact match per longest carry chain (columns in a "
                    "row that carry).</p>\n<table class=\"wide\"><tr><th>chain</th>");
        for (int c = 0; c < cJSON_GetArraySize(chains); c++)
            text_printf(b, "<th class=\"num\">%d</th>", c);
        text_printf(b, "</tr>\n<tr><td>exact match</td>");
        const cJSON *v;
        cJSON_ArrayForEach(v, chains)
            acc_cell(b, cJSON_IsNumber(v) ? v->valuedouble : NAN);
        text_printf(b, "</tr></table>\n");
    }
}

static void put_failures(text_buffer *b, const answers *a, const char *what, bool chains)
{
    if (a->wrong == 0)
        return;
    text_printf(b, "<p>%s: %d wrong%s.</p>\n<table><tr><th>prompt</th><th>expected</th>"
                "<th>predicted</th>%s<th>first wrong digit</th></tr>\n", what, a->wrong,
                a->kept < a->wrong ? ", the first listed" : "",
                chains ? "<th>carry chain</th>" : "");
    for (int i = 0; i < a->kept; i++) {
        const failure *f = &a->items[i];
        text_printf(b, "<tr><td><code>");
        put(b, f->prompt);
        text_printf(b, "</code></td><td><code>");
        put(b, f->answer);
        text_printf(b, "</code></td><td><code class=\"wrong\">");
        if (f->predicted[0])
            put(b, f->predicted);
        else
            text_printf(b, "(nothing)");
        text_printf(b, "</code></td>");
        if (chains)
            text_printf(b, "<td class=\"num\">%d</td>", f->chain);
        if (f->wrong_digit > 0)
            text_printf(b, "<td class=\"num\">%d</td></tr>\n", f->wrong_digit);
        else
            text_printf(b, "<td class=\"num\">&ndash;</td></tr>\n");
    }
    text_printf(b, "</table>\n");
}

/* The checkpoint's evaluation: totals, the tables per digit and per chain, the wrong answers. */
static void put_evaluation(text_buffer *b, const run_eval *e, const report_command *rc)
{
    const char *which = cli_checkpoint_choice(rc->which);
    text_printf(b, "<h3>Evaluation of %s.safetensors</h3>\n", which);
    if (!e->evaluated) {
        text_printf(b, "<p class=\"note\">");
        put(b, e->note);
        text_printf(b, "</p>\n");
        return;
    }
    char took[64];
    duration_text(took, sizeof took, e->seconds);
    text_printf(b, "<p>Greedy generation, as <code>arith eval</code> answers, in %s.</p>\n"
                "<table><tr><th>set</th><th>exact match</th><th>right</th></tr>\n", took);
    const eval_result *t = &e->test;
    text_printf(b, "<tr><td>test set (test.csv)</td>");
    acc_cell(b, t->total ? (double)t->correct / t->total : NAN);
    text_printf(b, "<td class=\"num\">%d/%d</td></tr>\n", t->correct, t->total);
    if (e->carry.total > 0) {
        text_printf(b, "<tr><td>carry-heavy sums (carry.csv)</td>");
        acc_cell(b, (double)e->carry.correct / e->carry.total);
        text_printf(b, "<td class=\"num\">%d/%d</td></tr>\n", e->carry.correct, e->carry.total);
    }
    if (e->edge.total > 0) {
        text_printf(b, "<tr><td>edge cases</td>");
        acc_cell(b, (double)e->edge.correct / e->edge.total);
        text_printf(b, "<td class=\"num\">%d/%d</td></tr>\n", e->edge.correct, e->edge.total);
    }
    text_printf(b, "</table>\n");
    const cli_answer_tally *y = e->tally;
    if (y->pos_hi > 0) {
        text_printf(b, "<p>Test set: each answer digit right, counted from the right (1: "
                    "units), whatever order the model wrote them in.</p>\n<table class=\"wide\">"
                    "<tr><th>digit</th>");
        for (int i = 1; i <= y->pos_hi; i++)
            text_printf(b, "<th class=\"num\">%d</th>", i);
        text_printf(b, "</tr>\n<tr><td>answers</td>");
        for (int i = 1; i <= y->pos_hi; i++)
            text_printf(b, "<td class=\"num\">%d</td>", y->pos_n[i]);
        text_printf(b, "</tr>\n<tr><td>right</td>");
        for (int i = 1; i <= y->pos_hi; i++)
            acc_cell(b, y->pos_n[i] ? (double)y->pos_right[i] / y->pos_n[i] : NAN);
        text_printf(b, "</tr></table>\n");
    }
    if (y->chain_hi >= 0) {
        const carry_result *c = &e->carry;
        const int hi = c->chains - 1 > y->chain_hi ? c->chains - 1 : y->chain_hi;
        text_printf(b, "<p>Exact match per longest carry chain (columns in a row that carry): "
                    "the random test set rarely has long chains; the carry-heavy sums have "
                    "each length.</p>\n<table class=\"wide\"><tr><th>chain</th>");
        for (int k = 0; k <= hi; k++)
            text_printf(b, "<th class=\"num\">%d</th>", k);
        text_printf(b, "</tr>\n<tr><td>test set: sums</td>");
        for (int k = 0; k <= hi; k++)
            text_printf(b, "<td class=\"num\">%d</td>", k <= y->chain_hi ? y->chain_n[k] : 0);
        text_printf(b, "</tr>\n<tr><td>test set: exact</td>");
        for (int k = 0; k <= hi; k++)
            acc_cell(b, k <= y->chain_hi && y->chain_n[k]
                            ? (double)y->chain_right[k] / y->chain_n[k] : NAN);
        if (c->total > 0) {
            text_printf(b, "</tr>\n<tr><td>carry-heavy: sums</td>");
            for (int k = 0; k <= hi; k++)
                text_printf(b, "<td class=\"num\">%d</td>", k < c->chains ? c->n[k] : 0);
            text_printf(b, "</tr>\n<tr><td>carry-heavy: exact</td>");
            for (int k = 0; k <= hi; k++)
                acc_cell(b, k < c->chains && c->n[k] ? (double)c->right[k] / c->n[k] : NAN);
        }
        text_printf(b, "</tr></table>\n");
    }
    const bool chains = y->chain_hi >= 0;
    put_failures(b, &e->test_wrong, "Test set", chains);
    put_failures(b, &e->carry_wrong, "Carry-heavy sums", chains);
    put_failures(b, &e->edge_wrong, "Edge cases", chains);
    if (e->test_wrong.wrong + e->carry_wrong.wrong + e->edge_wrong.wrong == 0)
        text_printf(b, "<p>Every answer right.</p>\n");
}

/* A probe's JSON (arith probe): its held-out accuracy per layer and answer position, with the
 * baseline per position, as a table. A field it lacks leaves the table out; JSON that does
 * not parse is an error naming the file. */
static arith_status put_probe_table(text_buffer *b, const char *dir, const char *name)
{
    char path[TRAIN_PATH_MAX + 300], *text = NULL;
    arith_status st = read_run_file(dir, name, path, sizeof path, &text);
    if (st)
        return st;
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j)
        return arith_error(ARITH_ERR_FORMAT, "%s: not JSON", path);
    const cJSON *target = cJSON_GetObjectItemCaseSensitive(j, "target");
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(j, "accuracy");
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(j, "baseline");
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(j, "layers");
    const cJSON *positions = cJSON_GetObjectItemCaseSensitive(j, "positions");
    text_printf(b, "<p>Probe of <b>");
    put(b, cJSON_IsString(target) ? target->valuestring : name);
    text_printf(b, "</b> (");
    put(b, name);
    text_printf(b, "): held-out accuracy of a logistic regression on each layer's hidden state "
                "at each answer position, and the baseline of always guessing the most common "
                "value.</p>\n");
    const cJSON *row0 = cJSON_IsArray(acc) ? cJSON_GetArrayItem(acc, 0) : NULL;
    if (!cJSON_IsArray(row0)) {
        text_printf(b, "<p class=\"note\">no accuracy table in it.</p>\n");
        cJSON_Delete(j);
        return ARITH_OK;
    }
    const int P = cJSON_GetArraySize(row0);
    text_printf(b, "<table class=\"wide\"><tr><th>layer \\ position</th>");
    for (int p = 0; p < P; p++) {
        const cJSON *label = cJSON_IsArray(positions) ? cJSON_GetArrayItem(positions, p) : NULL;
        text_printf(b, "<th class=\"num\">");
        if (cJSON_IsString(label))
            put(b, label->valuestring);
        else if (cJSON_IsNumber(label))
            text_printf(b, "%g", label->valuedouble);
        else
            text_printf(b, "%d", p);
        text_printf(b, "</th>");
    }
    text_printf(b, "</tr>\n");
    if (cJSON_IsArray(base)) {
        text_printf(b, "<tr><td>baseline</td>");
        for (int p = 0; p < P; p++) {
            const cJSON *v = cJSON_GetArrayItem(base, p);
            acc_cell(b, cJSON_IsNumber(v) ? v->valuedouble : NAN);
        }
        text_printf(b, "</tr>\n");
    }
    int l = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, acc) {
        const cJSON *label = cJSON_IsArray(layers) ? cJSON_GetArrayItem(layers, l) : NULL;
        text_printf(b, "<tr><td>");
        if (cJSON_IsString(label))
            put(b, label->valuestring);
        else if (cJSON_IsNumber(label))
            text_printf(b, "%g", label->valuedouble);
        else
            text_printf(b, "%d", l);
        text_printf(b, "</td>");
        for (int p = 0; p < P; p++) {
            const cJSON *v = cJSON_IsArray(row) ? cJSON_GetArrayItem(row, p) : NULL;
            acc_cell(b, cJSON_IsNumber(v) ? v->valuedouble : NAN);
        }
        text_printf(b, "</tr>\n");
        l++;
    }
    text_printf(b, "</table>\n");
    cJSON_Delete(j);
    return ARITH_OK;
}

/* The files arith writes into a run's directory besides its training: grids, probes,
 * attention maps. */
static arith_status put_run_files(text_buffer *b, const run_info *r)
{
    char **names = NULL;
    int n = 0;
    arith_status st = list_files(r->dir, "grid-", ".svg", &names, &n);
    if (!st && n > 0) {
        text_printf(b, "<h3>Length generalisation</h3>\n<p>Exact match per pair of operand "
                    "lengths (<code>arith eval --grid</code>), the training lengths "
                    "outlined.</p>\n");
        for (int i = 0; !st && i < n; i++)
            st = put_svg_file(b, r->dir, names[i]);
    }
    free_names(names, n);
    char **svgs = NULL;
    int ns = 0;
    if (!st)
        st = list_files(r->dir, "probe-", ".json", &names, &n);
    if (!st)
        st = list_files(r->dir, "probe-", ".svg", &svgs, &ns);
    if (!st && n + ns > 0)
        text_printf(b, "<h3>Probes</h3>\n");
    for (int i = 0; !st && i < n; i++)
        st = put_probe_table(b, r->dir, names[i]);
    for (int i = 0; !st && i < ns; i++)
        st = put_svg_file(b, r->dir, svgs[i]);
    free_names(names, n);
    free_names(svgs, ns);
    char path[TRAIN_PATH_MAX + 32];
    if (!st)
        st = io_join_path(path, sizeof path, r->dir, "attention.svg");
    if (!st && access(path, F_OK) == 0) {
        text_printf(b, "<h3>Attention</h3>\n<p>Every layer's and head's attention while the "
                    "run answered a prompt (<code>arith attention</code>).</p>\n");
        st = put_svg_file(b, r->dir, "attention.svg");
    }
    return st;
}

static arith_status put_run(text_buffer *b, const run_info *r, const run_eval *e, int index,
                            const report_command *rc)
{
    text_printf(b, "<section id=\"run-%d\">\n<h2>", index + 1);
    put(b, r->dir);
    text_printf(b, "</h2>\n");
    if (e->described) {
        text_printf(b, "<p class=\"desc\">");
        put(b, e->title);
        text_printf(b, "</p>\n<p>Model: ");
        put(b, e->model);
        text_printf(b, "; %zu parameters", e->params);
        if (e->trainable != e->params)
            text_printf(b, " (%zu trained)", e->trainable);
        text_printf(b, ".</p>\n");
    } else if (e->note[0]) {
        text_printf(b, "<p class=\"note\">");
        put(b, e->note);
        text_printf(b, "</p>\n");
    }
    put_settings(b, r);
    text_printf(b, "<h3>Training</h3>\n");
    char metrics[TRAIN_PATH_MAX + 32];
    arith_status st = io_join_path(metrics, sizeof metrics, r->dir, "metrics.jsonl");
    const char *paths[1] = {metrics}, *labels[1] = {r->dir};
    text_buffer svg = {0};
    if (!st)
        st = plot_runs_svg(paths, labels, 1, r->dir, &svg);
    if (!st)
        text_printf(b, "<figure><div class=\"fig\">%s</div><figcaption>training loss (test "
                    "loss dashed where recorded), test exact match, learning rate and gradient "
                    "norm against the step, as training.svg</figcaption></figure>\n", svg.text);
    free(svg.text);
    if (!st)
        put_last_eval(b, r);
    if (!st)
        put_evaluation(b, e, rc);
    if (!st)
        st = put_run_files(b, r);
    text_printf(b, "</section>\n");
    return st;
}

/* Several runs: a table comparing them, and their curves overlaid. */
static arith_status put_comparison(text_buffer *b, const run_info *runs, const run_eval *ev,
                                   int n, const report_command *rc)
{
    text_printf(b, "<h2>The runs compared</h2>\n<table><tr><th>run</th><th>steps</th>"
                "<th>time</th><th>final exact match</th><th>best (step)</th>"
                "<th>carry-heavy</th><th>edge cases</th>");
    if (!rc->no_eval)
        text_printf(b, "<th>%s.safetensors: test set</th>", cli_checkpoint_choice(rc->which));
    text_printf(b, "</tr>\n");
    for (int k = 0; k < n; k++) {
        const run_info *r = &runs[k];
        const cJSON *ev2 = r->last_eval;
        char took[64];
        duration_text(took, sizeof took, r->elapsed);
        text_printf(b, "<tr><td><a href=\"#run-%d\">", k + 1);
        put(b, r->dir);
        text_printf(b, "</a></td><td class=\"num\">%lld</td><td class=\"num\">%s</td>", r->steps,
                    took);
        acc_cell(b, ev2 ? json_number(ev2, "accuracy", NAN) : NAN);
        if (r->best_eval) {
            text_printf(b, "<td class=\"num\">%.4f (%lld)</td>",
                        json_number(r->best_eval, "accuracy", NAN),
                        (long long)json_number(r->best_eval, "step", 0));
        } else {
            text_printf(b, "<td class=\"num\">&ndash;</td>");
        }
        acc_cell(b, ev2 ? json_number(ev2, "carry_accuracy", NAN) : NAN);
        count_cell(b, ev2 ? (int)json_number(ev2, "edge_correct", 0) : 0,
                   ev2 ? (int)json_number(ev2, "edge_total", 0) : 0);
        if (!rc->no_eval) {
            const eval_result *t = &ev[k].test;
            if (ev[k].evaluated)
                acc_cell(b, t->total ? (double)t->correct / t->total : NAN);
            else
                text_printf(b, "<td class=\"num\">&ndash;</td>");
        }
        text_printf(b, "</tr>\n");
    }
    text_printf(b, "</table>\n<p class=\"dim\">final and best: the last and the best test "
                "exact match that metrics.jsonl records; time: seconds of training.</p>\n");
    char **paths = calloc((size_t)n, sizeof *paths);
    const char **labels = calloc((size_t)n, sizeof *labels);
    arith_status st = paths && labels ? ARITH_OK : arith_error(ARITH_ERR_MEMORY, "out of memory");
    for (int k = 0; !st && k < n; k++) {
        const size_t len = strlen(runs[k].dir) + 32;
        if (!(paths[k] = malloc(len)))
            st = arith_error(ARITH_ERR_MEMORY, "out of memory");
        else
            snprintf(paths[k], len, "%s/metrics.jsonl", runs[k].dir);
        labels[k] = runs[k].dir;
    }
    text_buffer svg = {0};
    char title[64];
    snprintf(title, sizeof title, "%d runs", n);
    if (!st)
        st = plot_runs_svg((const char *const *)paths, labels, n, title, &svg);
    if (!st)
        text_printf(b, "<figure><div class=\"fig\">%s</div><figcaption>every run's curves, a "
                    "colour each (arith plot)</figcaption></figure>\n", svg.text);
    free(svg.text);
    for (int k = 0; paths && k < n; k++)
        free(paths[k]);
    free(paths);
    free(labels);
    return st;
}

static const char page_style[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:#222;max-width:1100px;"
    "margin:0 auto;padding:16px 24px;line-height:1.4;background:#fff}"
    "h1{font-size:1.6em;margin:.2em 0}h2{border-bottom:2px solid #ccd;padding-bottom:4px;"
    "margin-top:1.6em;word-break:break-all}h3{margin:1.2em 0 .4em}"
    "table{border-collapse:collapse;margin:.4em 0 1em;font-size:.92em}"
    "th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}"
    "th{background:#eef}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}"
    "table.wide{display:block;overflow-x:auto;max-width:100%}"
    "code{font-family:ui-monospace,Menlo,Consolas,monospace}code.wrong{color:#b00}"
    ".desc{font-weight:600}.note{color:#a60}.dim{color:#777}"
    "figure{margin:.5em 0 1.2em}.fig{overflow-x:auto}figcaption{color:#555;font-size:.9em}"
    ".fig svg{max-width:100%;height:auto}pre{background:#f6f6f6;padding:8px;overflow-x:auto;"
    "font-size:.85em}nav ul{margin:.2em 0}";

static arith_status build_page(text_buffer *b, const run_info *runs, const run_eval *ev, int n,
                               const char *title, const report_command *rc)
{
    char when[64] = "";
    const time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    text_printf(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                "<title>arith report: ");
    put(b, title);
    text_printf(b, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>arith report: ",
                page_style);
    put(b, title);
    text_printf(b, "</h1>\n<p class=\"dim\">%d run%s; written by arith %s on %s; %s.</p>\n", n,
                n == 1 ? "" : "s", ARITH_VERSION, when,
                rc->no_eval ? "checkpoints not evaluated (--no-eval)"
                            : rc->which == CHECKPOINT_LAST ? "last.safetensors evaluated"
                                                           : "best.safetensors evaluated");
    arith_status st = ARITH_OK;
    if (n > 1) {
        text_printf(b, "<nav><ul>");
        for (int k = 0; k < n; k++) {
            text_printf(b, "<li><a href=\"#run-%d\">", k + 1);
            put(b, runs[k].dir);
            text_printf(b, "</a></li>");
        }
        text_printf(b, "</ul></nav>\n");
        st = put_comparison(b, runs, ev, n, rc);
    }
    for (int k = 0; !st && k < n; k++)
        st = put_run(b, &runs[k], &ev[k], k, rc);
    text_printf(b, "</body>\n</html>\n");
    return st;
}

int cli_report(int argc, char **argv)
{
    const option_table *tables[] = {&report_table};
    cli_args args;
    bool stop;
    int rc = cli_args_parse(&args, argc, argv, tables, 1, 1000, report_usage, &stop);
    if (stop)
        return rc;
    report_command r;
    memset(&r, 0, sizeof r);
    options_defaults(&report_table, &r);
    rc = cli_args_apply(&args, 0, &r);
    int given = 0;
    const char *first = NULL;
    for (int i = 0; i < args.count; i++)
        if (!args.items[i].spec && given++ == 0)
            first = args.items[i].value;
    if (!rc && given == 0)
        rc = cli_usage_error("usage: arith report RUN [RUN ...] [--out FILE.html] (see arith "
                             "report --help)");
    char out[TRAIN_PATH_MAX + 32];
    if (!rc && r.out[0])
        snprintf(out, sizeof out, "%s", r.out);
    else if (!rc && given == 1)
        snprintf(out, sizeof out, "%s/report.html", first);
    else if (!rc)
        rc = cli_usage_error("--out FILE.html: where the report of %d runs goes", given);
    run_info *runs = NULL;
    int n = 0;
    arith_status st = ARITH_OK;
    for (int i = 0; !rc && !st && i < args.count; i++)
        if (!args.items[i].spec)
            st = add_runs(args.items[i].value, &runs, &n);
    run_eval *ev = st || rc ? NULL : calloc((size_t)n, sizeof *ev);
    if (!rc && !st && !ev)
        st = arith_error(ARITH_ERR_MEMORY, "out of memory");
    for (int k = 0; !rc && !st && k < n; k++)
        st = run_evaluate(&ev[k], &runs[k], &r);
    char title[TRAIN_PATH_MAX + 64];
    if (!rc && r.title[0])
        snprintf(title, sizeof title, "%s", r.title);
    else if (!rc && given == 1)
        snprintf(title, sizeof title, "%s%s", first, n > 1 ? " (seed runs)" : "");
    else if (!rc)
        snprintf(title, sizeof title, "%d runs", n);
    text_buffer page = {0};
    if (!rc && !st)
        st = build_page(&page, runs, ev, n, title, &r);
    /* the page is written only once all of it is there: a run that fails leaves nothing */
    if (!rc && !st)
        st = text_write_atomic(&page, out);
    free(page.text);
    if (!rc && !st)
        fprintf(stderr, "wrote %s (%d run%s)\n", out, n, n == 1 ? "" : "s");
    if (!rc && st)
        rc = cli_fail(st);
    for (int k = 0; k < n; k++) {
        if (ev)
            run_eval_free(&ev[k]);
        run_info_free(&runs[k]);
    }
    free(ev);
    free(runs);
    cli_args_free(&args);
    return rc;
}
