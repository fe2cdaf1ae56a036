/* arith plot: the training loss and test exact match of several runs overlaid in one SVG, a
 * --seeds sweep's runs among them. */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

typedef struct {
    char out[TRAIN_PATH_MAX];
    char title[256];
} plot_command;

static const option_spec plot_specs[] = {
    {"out", OPT_STRING, offsetof(plot_command, out), TRAIN_PATH_MAX, NULL, NULL, 0, 0, "options",
     "FILE", "write the SVG here (default: RUN/training.svg for one run, RUN/seeds.svg for one "
     "--seeds directory; several arguments need it)", false, NULL, NULL},
    {"title", OPT_STRING, offsetof(plot_command, title), 256, NULL, NULL, 0, 0, "options", "TEXT",
     "the figure's title (default: the runs' names)", false, NULL, NULL},
};
static const option_table plot_table = {"plot", plot_specs,
                                        (int)(sizeof plot_specs / sizeof *plot_specs)};

static const char plot_usage[] =
    "usage: arith plot RUN [RUN ...] [--out FILE.svg] [--title TEXT]\n\n"
    "Draws the training loss (log scale) and the test exact match against the step of every "
    "run given, one colour per run with a legend, in one SVG. A RUN is a run directory (its "
    "metrics.jsonl) or a directory of --seeds runs (each of its seed-S runs).\n";

/* The runs a path names: itself, or its seed-S runs. Appends malloc'd metrics paths and labels. */
static int add_runs(const char *path, char ***metrics, char ***labels, int *n)
{
    char file[TRAIN_PATH_MAX + 32];
    char **dirs = NULL;
    long long *seeds = NULL;
    int count = 0;
    snprintf(file, sizeof file, "%s/metrics.jsonl", path);
    bool single = access(file, R_OK) == 0;
    if (!single) {
        arith_status st = seed_runs_find(path, &dirs, &seeds, &count);
        if (st)
            return cli_fail(st);
        if (count == 0) {
            free(dirs);
            free(seeds);
            return cli_fail(arith_error(ARITH_ERR_ARG, "%s: no metrics.jsonl and no seed-S runs "
                                        "in it: not a run directory", path));
        }
    }
    const int add = single ? 1 : count;
    char **m = realloc(*metrics, (size_t)(*n + add) * sizeof *m);
    if (m)
        *metrics = m;
    char **l = m ? realloc(*labels, (size_t)(*n + add) * sizeof *l) : NULL;
    if (l)
        *labels = l;
    int rc = m && l ? 0 : cli_fail(arith_error(ARITH_ERR_MEMORY, "out of memory"));
    for (int k = 0; !rc && k < add; k++) {
        const char *dir = single ? path : dirs[k];
        snprintf(file, sizeof file, "%s/metrics.jsonl", dir);
        (*metrics)[*n] = strdup(file);
        (*labels)[*n] = strdup(dir);
        if (!(*metrics)[*n] || !(*labels)[*n]) {
            free((*metrics)[*n]);
            free((*labels)[*n]);
            rc = cli_fail(arith_error(ARITH_ERR_MEMORY, "out of memory"));
            break;
        }
        (*n)++;
    }
    for (int k = 0; k < count; k++)
        free(dirs[k]);
    free(dirs);
    free(seeds);
    return rc;
}

int cli_plot(int argc, char **argv)
{
    const option_table *tables[] = {&plot_table};
    cli_args args;
    bool stop;
    int rc = cli_args_parse(&args, argc, argv, tables, 1, 1000, plot_usage, &stop);
    if (stop)
        return rc;
    plot_command pc;
    memset(&pc, 0, sizeof pc);
    options_defaults(&plot_table, &pc);
    rc = cli_args_apply(&args, 0, &pc);
    char **metrics = NULL, **labels = NULL;
    int n = 0, given = 0;
    const char *first = NULL;
    for (int i = 0; !rc && i < args.count; i++) {
        if (args.items[i].spec)
            continue;
        if (!first)
            first = args.items[i].value;
        given++;
        rc = add_runs(args.items[i].value, &metrics, &labels, &n);
    }
    if (!rc && given == 0)
        rc = cli_usage_error("usage: arith plot RUN [RUN ...] [--out FILE.svg] (see arith plot "
                             "--help)");
    char out[TRAIN_PATH_MAX + 32];
    if (!rc && pc.out[0])
        snprintf(out, sizeof out, "%s", pc.out);
    else if (!rc && given == 1)
        snprintf(out, sizeof out, "%s/%s", first, n == 1 ? "training.svg" : "seeds.svg");
    else if (!rc)
        rc = cli_usage_error("--out FILE.svg: where the figure of %d runs goes", given);
    char title[300];
    if (!rc && pc.title[0])
        snprintf(title, sizeof title, "%s", pc.title);
    else if (!rc)
        snprintf(title, sizeof title, "%d run%s%s%s", n, n == 1 ? "" : "s",
                 given == 1 ? " in " : "", given == 1 ? first : "");
    if (!rc) {
        arith_status st = plot_runs((const char *const *)metrics, (const char *const *)labels, n,
                                    out, title);
        if (st)
            rc = cli_fail(st);
        else
            fprintf(stderr, "wrote %s (%d run%s)\n", out, n, n == 1 ? "" : "s");
    }
    for (int k = 0; k < n; k++) {
        free(metrics[k]);
        free(labels[k]);
    }
    free(metrics);
    free(labels);
    cli_args_free(&args);
    return rc;
}
