/* arith sweep: one experiment over a grid of configs. Each --vary KEY=V1,V2,... is an axis (a
 * train option and its values); the points are their cross product, each a seed sweep of its
 * own (RUN/<point>/seed-S, --seeds N), and a table over the points goes into RUN/summary.csv
 * and RUN/summary.md. RUN/sweep.json describes the grid: a re-run of the same sweep skips the
 * runs that finished and continues the ones that stopped, and a different sweep is refused.
 * Under mpirun the (point, seed) runs are spread over the ranks, one run per rank at a time. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/dist.h"
#include "io/io.h"

enum { SWEEP_MAX_AXES = 16, SWEEP_MAX_RUNS = 100000, SWEEP_NAME_MAX = 160 };

/* One axis of the grid: a train option and the values it takes, as typed. */
typedef struct {
    const option_spec *spec;
    char *text;                /* KEY=V1,V2,... cut at its commas: values point into it */
    const char **values;
    int count;
} sweep_axis;

/* One point of the grid: its values (an index per axis), its name and its config. */
typedef struct {
    int pick[SWEEP_MAX_AXES];
    char name[SWEEP_NAME_MAX];
    train_config cfg;          /* the base with the point's values; run.dir RUN/<name> */
} sweep_point;

typedef struct {
    char run[TRAIN_PATH_MAX];
    train_config base;         /* CONFIG and the flags after it */
    sweep_axis axes[SWEEP_MAX_AXES];
    int naxes;
    sweep_point *points;
    int npoints;
    int seeds;                 /* per point: run.seed .. run.seed + seeds - 1 */
} sweep;

/* What becomes of run (point p, seed k), index p * seeds + k. */
enum { RUN_NEW = 0, RUN_RESUME = 1, RUN_DONE = 2 };

static void sweep_free(sweep *sw)
{
    for (int a = 0; a < sw->naxes; a++) {
        free(sw->axes[a].text);
        free(sw->axes[a].values);
    }
    free(sw->points);
}

/* ------------------------------------------------------------------------------- the grid */

/* "--vary KEY=V1,V2,...": the key a train option the points may differ in, every value one it
 * takes (train_config_set on the base), no value twice. Usage errors name the flag and value. */
static int sweep_axis_parse(sweep *sw, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1])
        return cli_usage_error("--vary %s: expected KEY=V1,V2,... (as in --vary lr=1e-3,3e-3)",
                               arg);
    char key[64];
    snprintf(key, sizeof key, "%.*s", (int)(eq - arg < 63 ? eq - arg : 63), arg);
    const option_spec *spec = options_find(&train_option_table, key);
    if (!spec) {
        const char *names[256];
        int n = 0;
        for (int i = 0; i < train_option_table.count && n < 256; i++)
            names[n++] = train_option_table.specs[i].name;
        fprintf(stderr, "arith: error: --vary %s: '%s' is not an option of arith train", arg, key);
        cli_print_suggestion(stderr, key, names, n, "", cli_flag_aliases);
        fprintf(stderr, "\nhint: arith train --help lists the options a sweep can vary\n");
        return EXIT_USAGE;
    }
    if (strcmp(key, "run") == 0 || strcmp(key, "seeds") == 0 || strcmp(key, "seed") == 0)
        return cli_usage_error("--vary %s: a sweep sets --%s itself (its points go under --run "
                               "RUN/<point>, its seeds are --seed S .. S + --seeds N - 1)",
                               arg, key);
    for (int a = 0; a < sw->naxes; a++)
        if (sw->axes[a].spec == spec)
            return cli_usage_error("--vary %s: %s is varied twice; give its values in one "
                                   "--vary %s=V1,V2,...", arg, key, key);
    if (sw->naxes == SWEEP_MAX_AXES)
        return cli_usage_error("--vary %s: at most %d options can vary", arg, SWEEP_MAX_AXES);
    sweep_axis *ax = &sw->axes[sw->naxes];
    ax->spec = spec;
    ax->text = strdup(eq + 1);
    size_t commas = 1;
    for (const char *c = eq + 1; *c; c++)
        commas += *c == ',';
    ax->values = malloc(commas * sizeof *ax->values);
    if (!ax->text || !ax->values)
        return cli_fail(arith_error(ARITH_ERR_MEMORY, "out of memory"));
    sw->naxes++;
    char *cursor = ax->text;
    char formatted[256], earlier[256];
    for (size_t i = 0; i < commas; i++) {
        char *end = strchr(cursor, ',');
        if (end)
            *end = '\0';
        if (!cursor[0])
            return cli_usage_error("--vary %s: an empty value (values are separated by single "
                                   "commas)", arg);
        train_config tmp = sw->base;
        if (train_config_set(&tmp, key, cursor) != ARITH_OK) {
            fprintf(stderr, "arith: error: --vary %s: %s\n", arg, arith_error_message());
            return EXIT_USAGE;
        }
        /* the same value twice (1e-3 and 0.001) would train the same point twice */
        train_config_format(&tmp, key, formatted, sizeof formatted);
        for (int j = 0; j < ax->count; j++) {
            train_config other = sw->base;
            train_config_set(&other, key, ax->values[j]);
            train_config_format(&other, key, earlier, sizeof earlier);
            if (strcmp(formatted, earlier) == 0)
                return cli_usage_error("--vary %s: '%s' and '%s' are the same value of --%s",
                                       arg, ax->values[j], cursor, key);
        }
        ax->values[ax->count++] = cursor;
        cursor = end ? end + 1 : cursor + strlen(cursor);
    }
    return 0;
}

/* A value as part of a directory name: letters, digits, '.', '+' and '-' kept, anything else
 * ('/', spaces, '=', ',') as '-'. */
static void name_append(char *out, size_t cap, const char *text)
{
    size_t at = strlen(out);
    for (const char *c = text; *c && at + 1 < cap; c++) {
        const bool keep = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                          (*c >= '0' && *c <= '9') || *c == '.' || *c == '+' || *c == '-';
        out[at++] = keep ? *c : '-';
    }
    out[at] = '\0';
}

/* The cross product of the axes, the first axis varying slowest: pos=coupling,abacus and
 * lr=1e-3,3e-3 give pos-coupling_lr-1e-3, pos-coupling_lr-3e-3, pos-abacus_lr-1e-3, ... */
static int sweep_points_build(sweep *sw)
{
    long long n = 1;
    for (int a = 0; a < sw->naxes; a++)
        n *= sw->axes[a].count;
    if (n * sw->seeds > SWEEP_MAX_RUNS)
        return cli_usage_error("--vary: %lld points of %d seeds each are %lld runs; a sweep takes "
                               "at most %d", n, sw->seeds, n * sw->seeds, SWEEP_MAX_RUNS);
    sw->npoints = (int)n;
    sw->points = calloc((size_t)n, sizeof *sw->points);
    if (!sw->points)
        return cli_fail(arith_error(ARITH_ERR_MEMORY, "out of memory for %lld points", n));
    for (int p = 0; p < sw->npoints; p++) {
        sweep_point *pt = &sw->points[p];
        pt->cfg = sw->base;
        int rest = p;
        for (int a = sw->naxes - 1; a >= 0; a--) {
            pt->pick[a] = rest % sw->axes[a].count;
            rest /= sw->axes[a].count;
        }
        char name[4 * SWEEP_NAME_MAX] = "";
        for (int a = 0; a < sw->naxes; a++) {
            const sweep_axis *ax = &sw->axes[a];
            if (a)
                strcat(name, "_");
            name_append(name, sizeof name, ax->spec->name);
            name_append(name, sizeof name, "-");
            name_append(name, sizeof name, ax->values[pt->pick[a]]);
            arith_status st = train_config_set(&pt->cfg, ax->spec->name, ax->values[pt->pick[a]]);
            if (st) /* (each value was set on the base alone already) */
                return cli_fail(st);
        }
        if (strlen(name) >= SWEEP_NAME_MAX)
            return cli_usage_error("--vary: the point %s has a name longer than %d characters; "
                                   "vary fewer options or use shorter values", name,
                                   SWEEP_NAME_MAX - 1);
        for (int q = 0; q < p; q++)
            if (strcmp(sw->points[q].name, name) == 0)
                return cli_usage_error("--vary: two points would share the directory %s/%s; "
                                       "give values that differ in letters, digits, '.', '+' "
                                       "or '-'", sw->run, name);
        snprintf(pt->name, sizeof pt->name, "%s", name);
        pt->cfg.run.seeds = sw->seeds;
        snprintf(pt->cfg.run.dir, sizeof pt->cfg.run.dir, "%s/%s", sw->run, name);
    }
    return 0;
}

/* RUN/sweep.json's text: the grid, the seeds and the base config (its run directory and thread
 * count left out: neither changes what a point trains, and a re-run may use others). */
static char *sweep_json(const sweep *sw)
{
    train_config base = sw->base;
    base.run.dir[0] = '\0';
    base.run.threads = 0;
    base.run.seeds = sw->seeds;
    char *config = train_config_to_json(&base);
    char *text = NULL;
    size_t size = 0;
    FILE *mem = config ? open_memstream(&text, &size) : NULL;
    if (!mem) {
        free(config);
        return NULL;
    }
    fprintf(mem, "{\"seeds\": %d, \"seed\": %lld,\n \"vary\": [", sw->seeds, sw->base.run.seed);
    for (int a = 0; a < sw->naxes; a++) {
        fprintf(mem, "%s{\"key\": ", a ? ", " : "");
        cli_json_string(mem, sw->axes[a].spec->name);
        fprintf(mem, ", \"values\": [");
        for (int v = 0; v < sw->axes[a].count; v++) {
            fprintf(mem, v ? ", " : "");
            cli_json_string(mem, sw->axes[a].values[v]);
        }
        fprintf(mem, "]}");
    }
    fprintf(mem, "],\n \"points\": [");
    for (int p = 0; p < sw->npoints; p++) {
        fprintf(mem, "%s\n  {\"name\": ", p ? "," : "");
        cli_json_string(mem, sw->points[p].name);
        fprintf(mem, ", \"values\": {");
        for (int a = 0; a < sw->naxes; a++) {
            fprintf(mem, a ? ", " : "");
            cli_json_string(mem, sw->axes[a].spec->name);
            fprintf(mem, ": ");
            cli_json_string(mem, sw->axes[a].values[sw->points[p].pick[a]]);
        }
        fprintf(mem, "}}");
    }
    fprintf(mem, "],\n \"config\": %s}\n", config);
    fclose(mem);
    free(config);
    return text;
}

/* An existing RUN/sweep.json against this sweep's: 0 when they describe the same sweep, else
 * the error printed, naming what differs. A sweep that only asks for more seeds than the one
 * there is the same sweep grown: *grown is set, and its runs so far are kept. */
static int sweep_json_compare(const char *path, const char *was_text, const char *now_text,
                              bool *grown)
{
    cJSON *was = cJSON_Parse(was_text), *now = cJSON_Parse(now_text);
    int rc = 0;
    *grown = false;
    const cJSON *was_seeds = cJSON_GetObjectItemCaseSensitive(was, "seeds");
    const cJSON *now_seeds = cJSON_GetObjectItemCaseSensitive(now, "seeds");
    if (was && cJSON_IsObject(was) && cJSON_IsNumber(was_seeds) && cJSON_IsNumber(now_seeds) &&
        was_seeds->valuedouble != now_seeds->valuedouble) {
        /* the same but for the seeds (the count, and the config's copy of it)? */
        cJSON *as_now = cJSON_Duplicate(was, true);
        cJSON *config = cJSON_GetObjectItemCaseSensitive(as_now, "config");
        if (cJSON_GetObjectItemCaseSensitive(config, "seeds"))
            cJSON_ReplaceItemInObjectCaseSensitive(config, "seeds",
                                                   cJSON_CreateNumber(now_seeds->valuedouble));
        if (as_now &&
            cJSON_ReplaceItemInObjectCaseSensitive(as_now, "seeds",
                                                   cJSON_CreateNumber(now_seeds->valuedouble)) &&
            cJSON_Compare(as_now, now, true)) {
            if (now_seeds->valuedouble > was_seeds->valuedouble) {
                *grown = true;
            } else {
                fprintf(stderr, "arith: error: %s is a sweep of %d seeds, not %d: a sweep can "
                        "be given more seeds, not fewer\nhint: repeat it with --seeds %d, or "
                        "choose another --run\n", path, (int)was_seeds->valuedouble,
                        (int)now_seeds->valuedouble, (int)was_seeds->valuedouble);
                rc = EXIT_RUNTIME;
            }
            cJSON_Delete(as_now);
            cJSON_Delete(was);
            cJSON_Delete(now);
            return rc;
        }
        cJSON_Delete(as_now);
    }
    if (!was || !cJSON_IsObject(was)) {
        fprintf(stderr, "arith: error: %s is not a sweep description arith can read\nhint: "
                "choose another --run\n", path);
        rc = EXIT_RUNTIME;
    } else if (!cJSON_Compare(was, now, true)) {
        char what[512] = "";
        /* the seed count alone is a grown (or shrunk) sweep, above: name what else differs */
        const char *parts[] = {"seed", "vary", "points"};
        for (int i = 0; i < 3 && !what[0]; i++)
            if (!cJSON_Compare(cJSON_GetObjectItemCaseSensitive(was, parts[i]),
                               cJSON_GetObjectItemCaseSensitive(now, parts[i]), true))
                snprintf(what, sizeof what, "its \"%s\" differs", parts[i]);
        const cJSON *cw = cJSON_GetObjectItemCaseSensitive(was, "config");
        const cJSON *cn = cJSON_GetObjectItemCaseSensitive(now, "config");
        const cJSON *item = NULL;
        cJSON_ArrayForEach(item, cn) {
            if (what[0])
                break;
            const cJSON *old = cJSON_GetObjectItemCaseSensitive(cw, item->string);
            if (strcmp(item->string, "seeds") != 0 && !cJSON_Compare(old, item, true)) {
                char *a = old ? cJSON_PrintUnformatted(old) : NULL;
                char *b = cJSON_PrintUnformatted(item);
                snprintf(what, sizeof what, "its config's --%s was %s, now %s", item->string,
                         a ? a : "unset", b ? b : "?");
                cJSON_free(a);
                cJSON_free(b);
            }
        }
        fprintf(stderr, "arith: error: %s describes another sweep (%s)\nhint: repeat that "
                "sweep's own command to continue it, or choose another --run\n", path,
                what[0] ? what : "its text differs");
        rc = EXIT_RUNTIME;
    }
    cJSON_Delete(was);
    cJSON_Delete(now);
    return rc;
}

/* ------------------------------------------------------------------------ runs on disk */

/* A finished run's outcome from its files: the final evaluation (the last metrics.jsonl line
 * at its last checkpoint's step) and best.safetensors. */
static arith_status outcome_read(const char *dir, const train_config *cfg,
                                 const train_progress *progress, train_outcome *o)
{
    char path[2 * TRAIN_PATH_MAX];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    char *text = NULL;
    size_t size = 0;
    arith_status st = io_read_file(path, &text, &size);
    if (st)
        return st;
    memset(o, 0, sizeof *o);
    bool found = false;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(j, "step");
        const cJSON *acc = cJSON_GetObjectItemCaseSensitive(j, "accuracy");
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "eval_n");
        if (cJSON_IsNumber(step) && (long long)step->valuedouble == progress->step &&
            cJSON_IsNumber(acc) && cJSON_IsNumber(n)) {
            found = true;
            o->final = acc->valuedouble;
            o->total = (int)n->valuedouble;
            o->correct = (int)lround(acc->valuedouble * n->valuedouble);
            const char *keys[] = {"edge_correct", "edge_total", "carry_correct", "carry_total"};
            int *fields[] = {&o->edge_correct, &o->edge_total, &o->carry_correct, &o->carry_total};
            for (int i = 0; i < 4; i++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[i]);
                *fields[i] = cJSON_IsNumber(v) ? (int)v->valuedouble : 0;
            }
        }
        cJSON_Delete(j);
    }
    free(text);
    if (!found)
        return arith_error(ARITH_ERR_STATE, "%s: no evaluation at step %lld, where the run "
                           "finished", path, progress->step);
    o->by_loss = cfg->run.best_by == BEST_BY_LOSS;
    snprintf(path, sizeof path, "%s/best.safetensors", dir);
    train_config best_cfg;
    train_progress best;
    o->have_best = checkpoint_read_config(path, &best_cfg, &best) == ARITH_OK;
    arith_error_clear();
    if (o->have_best) {
        o->best = o->by_loss ? -best.best_accuracy : best.best_accuracy;
        o->best_step = best.best_step;
    }
    return ARITH_OK;
}

/* What becomes of one seed's run directory: a new run (nothing there), a run to continue (a
 * config.json, and a last checkpoint short of its steps, of other steps, or none), or a
 * finished one (its outcome read). A run of another seed or values there is an error. */
static int seed_run_plan(const sweep *sw, const train_config *want, const char *dir, int *mode,
                         train_outcome *o)
{
    char path[2 * TRAIN_PATH_MAX], last[2 * TRAIN_PATH_MAX];
    snprintf(path, sizeof path, "%s/config.json", dir);
    snprintf(last, sizeof last, "%s/last.safetensors", dir);
    *mode = RUN_NEW;
    if (access(path, F_OK) != 0)
        return 0;
    train_config have;
    train_progress progress = {0};
    bool checkpoint = access(last, F_OK) == 0;
    arith_status st;
    if (checkpoint) {
        st = checkpoint_read_config(last, &have, &progress);
    } else {
        char *text = NULL;
        size_t size = 0;
        train_config_defaults(&have);
        st = io_read_file(path, &text, &size);
        if (!st)
            st = train_config_from_json(&have, text, path);
        free(text);
    }
    if (st)
        return cli_fail(st);
    /* the run there must be this point's: its seed and the sweep's values */
    char a[256], b[256];
    if (have.run.seed != want->run.seed) {
        fprintf(stderr, "arith: error: %s holds the run of seed %lld, not %lld\nhint: choose "
                "another --run\n", dir, have.run.seed, want->run.seed);
        return EXIT_RUNTIME;
    }
    for (int i = 0; i < sw->naxes; i++) {
        const char *key = sw->axes[i].spec->name;
        train_config_format(&have, key, a, sizeof a);
        train_config_format(want, key, b, sizeof b);
        if (strcmp(a, b) != 0) {
            fprintf(stderr, "arith: error: %s holds a run with --%s %s, not this point's %s\n"
                    "hint: choose another --run\n", dir, key, a, b);
            return EXIT_RUNTIME;
        }
    }
    /* finished: at the end of its own steps, and those the sweep's (a run given another
     * length, as train --resume --steps can, continues to the sweep's) */
    const bool same_length = have.optim.steps == want->optim.steps &&
                             have.optim.epochs == want->optim.epochs;
    if (!checkpoint || progress.step < progress.total_steps || !same_length) {
        *mode = RUN_RESUME;
        return 0;
    }
    *mode = RUN_DONE;
    st = outcome_read(dir, &have, &progress, o);
    return st ? cli_fail(st) : 0;
}

/* Rank 0, before anything trains: RUN neither a run nor a seed sweep of its own, its
 * sweep.json this sweep's (written when new), RUN and the points' directories claimed as
 * arith's, and what becomes of every run. */
static int sweep_prepare(const sweep *sw, int *mode, train_outcome *out)
{
    char path[TRAIN_PATH_MAX + 64];
    if (strlen(sw->run) + SWEEP_NAME_MAX + 32 >= TRAIN_PATH_MAX)
        return cli_usage_error("--run %s: path too long", sw->run);
    snprintf(path, sizeof path, "%s/config.json", sw->run);
    if (access(path, F_OK) == 0) {
        fprintf(stderr, "arith: error: %s already holds a run of its own; a sweep writes its "
                "points into a directory of their own\nhint: choose another --run\n", sw->run);
        return EXIT_RUNTIME;
    }
    char *now = sweep_json(sw);
    if (!now)
        return cli_fail(arith_error(ARITH_ERR_MEMORY, "out of memory writing sweep.json"));
    snprintf(path, sizeof path, "%s/sweep.json", sw->run);
    char seeds_json[TRAIN_PATH_MAX + 64];
    snprintf(seeds_json, sizeof seeds_json, "%s/seeds.json", sw->run);
    int rc = 0;
    if (access(path, F_OK) == 0) {
        char *was = NULL;
        size_t size = 0;
        arith_status st = io_read_file(path, &was, &size);
        bool grown = false;
        rc = st ? cli_fail(st) : sweep_json_compare(path, was, now, &grown);
        free(was);
        if (!rc && grown) { /* the new seed count, before any new seed's run starts */
            st = io_write_file_atomic(path, now, strlen(now));
            rc = st ? cli_fail(st) : 0;
        }
    } else if (access(seeds_json, F_OK) == 0) {
        fprintf(stderr, "arith: error: %s holds a seed sweep (arith train --seeds), not the "
                "points of a config sweep\nhint: choose another --run\n", sw->run);
        rc = EXIT_RUNTIME;
    } else {
        arith_status st = run_dir_claim_sweep(sw->run);
        if (!st)
            st = io_write_file_atomic(path, now, strlen(now));
        rc = st ? cli_fail(st) : 0;
    }
    free(now);
    if (rc)
        return rc;
    arith_status st = run_dir_claim_sweep(sw->run);
    if (st)
        return cli_fail(st);
    for (int p = 0; p < sw->npoints; p++) {
        const sweep_point *pt = &sw->points[p];
        st = run_dir_claim_sweep(pt->cfg.run.dir);
        if (st)
            return cli_fail(st);
        for (int k = 0; k < sw->seeds; k++) {
            train_config want = pt->cfg;
            want.run.seed = sw->base.run.seed + k;
            char dir[TRAIN_PATH_MAX + 64];
            snprintf(dir, sizeof dir, "%s/seed-%lld", pt->cfg.run.dir, want.run.seed);
            const int i = p * sw->seeds + k;
            rc = seed_run_plan(sw, &want, dir, &mode[i], &out[i]);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* ----------------------------------------------------------------------------- summaries */

/* One point's row: the seeds that finished, and the mean, sd and worst of their final exact
 * match; the carry-heavy and edge-case means where the task has them. */
typedef struct {
    int done;
    double mean, sd, worst;
    long long worst_seed;
    bool have_carry, have_edge;
    double carry, edge;
} point_row;

static void point_row_make(const sweep *sw, int p, const int *status, const train_outcome *out,
                           point_row *r)
{
    memset(r, 0, sizeof *r);
    double x[1000], carry = 0, edge = 0; /* --seeds is at most 1000 */
    long long seeds[1000];
    for (int k = 0; k < sw->seeds; k++) {
        const int i = p * sw->seeds + k;
        if (status[i] != 0)
            continue;
        const train_outcome *o = &out[i];
        seeds[r->done] = sw->base.run.seed + k;
        x[r->done++] = o->final;
        if (o->carry_total > 0) {
            r->have_carry = true;
            carry += (double)o->carry_correct / o->carry_total;
        }
        if (o->edge_total > 0) {
            r->have_edge = true;
            edge += (double)o->edge_correct / o->edge_total;
        }
    }
    if (r->done == 0)
        return;
    stats_summary st;
    stats_summarize(x, r->done, &st);
    r->mean = st.mean;
    r->sd = st.std;
    r->worst = st.min;
    r->worst_seed = seeds[st.argmin];
    r->carry = carry / r->done;
    r->edge = edge / r->done;
}

/* A CSV field, quoted when it holds a comma, a quote or a line break. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* A Markdown table cell: '|' escaped. */
static void md_cell(FILE *f, const char *s)
{
    fputs("| ", f);
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc(' ', f);
}

/* summary.csv and summary.md text for every point (status < 0: not finished). */
static void summary_text(const sweep *sw, const int *status, const train_outcome *out, FILE *csv,
                         FILE *md)
{
    fprintf(csv, "point");
    md_cell(md, "point");
    for (int a = 0; a < sw->naxes; a++) {
        fputc(',', csv);
        csv_field(csv, sw->axes[a].spec->name);
        md_cell(md, sw->axes[a].spec->name);
    }
    fprintf(csv, ",seeds_done,seeds_planned,final_mean,final_sd,worst,worst_seed,carry_mean,"
            "edge_mean\n");
    fprintf(md, "| seeds | final exact match | worst (seed) | carry-heavy | edge cases |\n");
    for (int a = 0; a < sw->naxes + 6; a++)
        fprintf(md, "|---");
    fprintf(md, "|\n");
    for (int p = 0; p < sw->npoints; p++) {
        const sweep_point *pt = &sw->points[p];
        point_row r;
        point_row_make(sw, p, status, out, &r);
        csv_field(csv, pt->name);
        md_cell(md, pt->name);
        for (int a = 0; a < sw->naxes; a++) {
            fputc(',', csv);
            csv_field(csv, sw->axes[a].values[pt->pick[a]]);
            md_cell(md, sw->axes[a].values[pt->pick[a]]);
        }
        fprintf(csv, ",%d,%d", r.done, sw->seeds);
        fprintf(md, "| %d/%d ", r.done, sw->seeds);
        if (r.done == 0) {
            fprintf(csv, ",,,,,,\n");
            fprintf(md, "| - | - | - | - |\n");
            continue;
        }
        fprintf(csv, ",%.4f,%.4f,%.4f,%lld,", r.mean, r.sd, r.worst, r.worst_seed);
        fprintf(md, "| %.4f ± %.4f | %.4f (%lld) ", r.mean, r.sd, r.worst, r.worst_seed);
        if (r.have_carry) {
            fprintf(csv, "%.4f", r.carry);
            fprintf(md, "| %.4f ", r.carry);
        } else {
            fprintf(md, "| - ");
        }
        fputc(',', csv);
        if (r.have_edge) {
            fprintf(csv, "%.4f", r.edge);
            fprintf(md, "| %.4f |\n", r.edge);
        } else {
            fprintf(md, "| - |\n");
        }
        fputc('\n', csv);
    }
}

/* Every point's seeds.json (where one of its seeds finished), RUN/summary.csv and
 * RUN/summary.md, atomically; the Markdown table on stdout when print. */
static arith_status sweep_write_summaries(const sweep *sw, const int *status,
                                          const train_outcome *out, bool print)
{
    arith_status st = ARITH_OK;
    train_outcome done_out[1000];
    long long done_seeds[1000];
    for (int p = 0; p < sw->npoints && !st; p++) {
        int done = 0;
        for (int k = 0; k < sw->seeds; k++) {
            const int i = p * sw->seeds + k;
            if (status[i] == 0) {
                done_out[done] = out[i];
                done_seeds[done++] = sw->base.run.seed + k;
            }
        }
        if (done > 0)
            st = cli_seeds_json_write(sw->points[p].cfg.run.dir, &sw->points[p].cfg, done_out,
                                      done_seeds, done, sw->seeds);
    }
    char *csv_text = NULL, *md_text = NULL;
    size_t csv_size = 0, md_size = 0;
    FILE *csv = open_memstream(&csv_text, &csv_size), *md = open_memstream(&md_text, &md_size);
    if (csv && md)
        summary_text(sw, status, out, csv, md);
    if (csv)
        fclose(csv);
    if (md)
        fclose(md);
    if (!st && (!csv_text || !md_text))
        st = arith_error(ARITH_ERR_MEMORY, "out of memory writing the sweep's summary");
    char path[TRAIN_PATH_MAX + 32];
    if (!st) {
        snprintf(path, sizeof path, "%s/summary.csv", sw->run);
        st = io_write_file_atomic(path, csv_text, csv_size);
    }
    if (!st) {
        snprintf(path, sizeof path, "%s/summary.md", sw->run);
        st = io_write_file_atomic(path, md_text, md_size);
    }
    if (print && md_text)
        printf("\nsweep %s: final test exact match per point, mean ± sd over its seeds\n%s",
               sw->run, md_text);
    free(csv_text);
    free(md_text);
    return st;
}

/* ------------------------------------------------------------------------------- running */

/* The runs left to train, and where their results go. */
typedef struct {
    const sweep *sw;
    const int *index;          /* job k is run index[k] (p * seeds + seed) */
    const train_outcome *job_out;
    int *status;               /* per run: 0 finished, else not (yet) */
    train_outcome *out;
    arith_status written;
} sweep_progress;

/* One process: the summaries rewritten after each run, so a stopped sweep leaves them true. */
static void sweep_on_done(void *ctx, int k)
{
    sweep_progress *p = ctx;
    p->status[p->index[k]] = 0;
    p->out[p->index[k]] = p->job_out[k];
    arith_status st = sweep_write_summaries(p->sw, p->status, p->out, false);
    if (st && !p->written) {
        cli_fail(st);
        p->written = st;
    }
}

static int sweep_run(sweep *sw)
{
    const int total = sw->npoints * sw->seeds, rank = dist_rank();
    int *mode = calloc((size_t)total, sizeof *mode);
    int *status = calloc((size_t)total, sizeof *status);
    int *index = calloc((size_t)total, sizeof *index);
    train_outcome *out = calloc((size_t)total, sizeof *out);
    train_outcome *job_out = calloc((size_t)total, sizeof *job_out);
    int *job_status = calloc((size_t)total, sizeof *job_status);
    cli_train_job *jobs = calloc((size_t)total, sizeof *jobs);
    int rc = 0;
    if (!mode || !status || !index || !out || !job_out || !job_status || !jobs)
        rc = cli_fail(arith_error(ARITH_ERR_MEMORY, "out of memory for a sweep of %d runs",
                                  total));
    /* rank 0 alone looks at the directories (the others could see its first runs already
     * started); every rank learns the answer and the plan */
    if (!rc && rank == 0)
        rc = sweep_prepare(sw, mode, out);
    if (dist_size() > 1) {
        int refused = rc;
        dist_max_ints(&refused, 1);
        if (refused && !rc)
            rc = refused;
        if (!rc)
            dist_broadcast(mode, (size_t)total * sizeof *mode, 0);
    }
    int pending = 0, skipped = 0, resumed = 0;
    for (int i = 0; !rc && i < total; i++) {
        const sweep_point *pt = &sw->points[i / sw->seeds];
        const long long seed = sw->base.run.seed + i % sw->seeds;
        status[i] = mode[i] == RUN_DONE ? 0 : -1;
        if (mode[i] == RUN_DONE) {
            skipped++;
            if (rank == 0)
                printf("== %s seed %lld: finished, skipped (%s/seed-%lld)\n", pt->name, seed,
                       pt->cfg.run.dir, seed);
            continue;
        }
        resumed += mode[i] == RUN_RESUME;
        cli_train_job *job = &jobs[pending];
        job->cfg = pt->cfg;
        job->cfg.run.seeds = 1; /* each run is a plain run: resumable and evaluable alone */
        job->cfg.run.seed = seed;
        if (snprintf(job->cfg.run.dir, sizeof job->cfg.run.dir, "%s/seed-%lld", pt->cfg.run.dir,
                     seed) >= (int)sizeof job->cfg.run.dir)
            rc = cli_usage_error("--run %s: path too long", sw->run); /* (checked before) */
        job->resume = mode[i] == RUN_RESUME;
        snprintf(job->label, sizeof job->label, "%s seed %lld%s", pt->name, seed,
                 job->resume ? ", resumed" : "");
        index[pending++] = i;
    }
    if (!rc && rank == 0)
        fprintf(stderr, "sweep %s: %d points × %d seeds: %d runs finished (skipped), %d to "
                "resume, %d to train%s\n", sw->run, sw->npoints, sw->seeds, skipped, resumed,
                pending - resumed, dist_size() > 1 ? ", spread over the ranks" : "");
    const bool ran = rc == 0;
    if (ran) {
        sweep_progress progress = {sw, index, job_out, status, out, ARITH_OK};
        rc = cli_train_jobs(jobs, pending, sw->base.run.threads != 0, job_out, job_status,
                            sweep_on_done, &progress);
        if (rc == 0 && progress.written)
            rc = EXIT_RUNTIME;
    }
    if (ran && rank == 0) {
        for (int k = 0; k < pending; k++) {
            const int i = index[k];
            status[i] = job_status[k];
            if (job_status[k] == 0)
                out[i] = job_out[k];
            else if (job_status[k] < 0)
                fprintf(stderr, "arith: %s was not run: the sweep stopped first\n",
                        jobs[k].cfg.run.dir);
            else
                fprintf(stderr, "arith: %s failed with exit code %d; its message is above\n",
                        jobs[k].cfg.run.dir, job_status[k]);
        }
        {
            arith_status st = sweep_write_summaries(sw, status, out, true);
            if (st && rc == 0)
                rc = cli_fail(st);
            fprintf(stderr, "sweep in %s (sweep.json, summary.csv, summary.md, a seed sweep "
                    "per point)\n  evaluate all:  arith eval %s\n", sw->run, sw->run);
        }
    }
    free(mode);
    free(status);
    free(index);
    free(out);
    free(job_out);
    free(job_status);
    free(jobs);
    return rc;
}

/* ---------------------------------------------------------------------------- the command */

typedef struct {
    char vary[TRAIN_PATH_MAX];
} sweep_command;

static const option_spec sweep_command_specs[] = {
    {"vary", OPT_STRING, offsetof(sweep_command, vary), TRAIN_PATH_MAX, NULL, NULL, 0, 0,
     "sweep", "KEY=V1,V2,...", "an axis of the grid: train's option KEY takes each value in "
     "turn (repeat --vary for more axes; the points are their cross product)", false, NULL,
     NULL},
};
static const option_table sweep_command_table = {
    "sweep", sweep_command_specs, (int)(sizeof sweep_command_specs / sizeof *sweep_command_specs)};

static const char sweep_usage[] =
    "usage: arith sweep CONFIG --vary KEY=V1,V2,... [--vary KEY=V1,V2,...] --run RUN "
    "[--seeds N] [--OPTION VALUE ...]\n\n"
    "Trains every point of a grid of configs, each under --seeds N seeds (1 by default), and "
    "summarizes them. CONFIG is a JSON config as arith train --config reads; the flags after it "
    "change it as they change train's. Each --vary is an axis: a train option (a flag name "
    "without its dashes, as in a config file) and its values, separated by commas; the points "
    "are the cross product of the axes, the first varying slowest.\n\n"
    "Point KEY=A, KEY2=B is the seed sweep RUN/KEY-A_KEY2-B (characters other than letters, "
    "digits, '.', '+' and '-' written as '-'), its runs RUN/<point>/seed-S and its seeds.json "
    "as arith train --seeds writes them. RUN/sweep.json describes the grid; RUN/summary.csv and "
    "RUN/summary.md hold a row per point: its values, the seeds that finished, the final test "
    "exact match's mean ± sd and worst seed, and the carry-heavy and edge-case means where the "
    "task has them.\n\n"
    "Running the same command again skips the runs that finished and continues those that "
    "stopped (from their last.safetensors); with a larger --seeds it also trains the new seeds, "
    "keeping the runs there. A different sweep in RUN is refused. Under mpirun "
    "the runs are spread over the ranks (rank r trains the r-th, r+N-th, ... of those left), "
    "and rank 0 writes the summaries. arith eval RUN evaluates every point.\n";

static int sweep_main(int argc, char **argv)
{
    const option_table *tables[] = {&train_option_table, &sweep_command_table};
    cli_args args;
    bool stop;
    int rc = cli_args_parse(&args, argc, argv, tables, 2, 1, sweep_usage, &stop);
    if (stop)
        return rc;
    sweep sw;
    memset(&sw, 0, sizeof sw);
    train_config_defaults(&sw.base);
    const char *config = NULL;
    for (int i = 0; i < args.count; i++)
        if (!args.items[i].spec)
            config = args.items[i].value;
    if (!config)
        rc = cli_usage_error("arith sweep needs a CONFIG file (a JSON config as arith train "
                             "--config reads)\nhint: arith sweep CONFIG --vary KEY=V1,V2 --run "
                             "RUN; arith sweep --help says more");
    if (!rc) {
        char *text = NULL;
        size_t size = 0;
        arith_status st = io_read_file(config, &text, &size);
        if (!st)
            st = train_config_from_json(&sw.base, text, config);
        free(text);
        if (st) {
            rc = cli_fail(st);
            if (st != ARITH_ERR_IO && st != ARITH_ERR_MEMORY)
                rc = EXIT_USAGE; /* the file's content is the user's input, as flags are */
        }
    }
    if (!rc)
        rc = cli_args_apply(&args, 0, &sw.base);
    for (int i = 0; !rc && i < args.count; i++)
        if (args.items[i].table == 1)
            rc = sweep_axis_parse(&sw, args.items[i].value);
    /* a flag the points vary would be overwritten at every point */
    for (int i = 0; !rc && i < args.count; i++)
        for (int a = 0; !rc && args.items[i].table == 0 && a < sw.naxes; a++)
            if (args.items[i].spec == sw.axes[a].spec)
                rc = cli_usage_error("--%s %s: --vary %s sets it at every point; give its "
                                     "values to --vary alone", args.items[i].spec->name,
                                     args.items[i].value, args.items[i].spec->name);
    if (!rc && sw.naxes == 0)
        rc = cli_usage_error("arith sweep needs at least one --vary KEY=V1,V2,... (as in "
                             "--vary lr=1e-3,3e-3)");
    if (!rc && !sw.base.run.dir[0])
        rc = cli_usage_error("arith sweep needs --run RUN: a re-run of the same sweep continues "
                             "it there");
    cli_args_free(&args);
    if (!rc) {
        snprintf(sw.run, sizeof sw.run, "%s", sw.base.run.dir);
        size_t len = strlen(sw.run);
        while (len > 1 && sw.run[len - 1] == '/')
            sw.run[--len] = '\0';
        sw.seeds = sw.base.run.seeds;
        rc = sweep_points_build(&sw);
    }
    if (!rc)
        rc = sweep_run(&sw);
    sweep_free(&sw);
    return rc;
}

int cli_sweep(int argc, char **argv)
{
    cli_install_stop_handlers(); /* first: before OpenMP, oneDNN or MPI starts a thread */
    dist_init(NULL, NULL);       /* one rank of several when mpirun started it */
    int rc = sweep_main(argc, argv);
    dist_finalize();
    return rc;
}
