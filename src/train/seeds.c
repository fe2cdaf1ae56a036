/* Several seeds of one experiment: summary statistics, and finding the seed runs (RUN/seed-S)
 * under a parent directory. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "train/train.h"

void stats_summarize(const double *x, int n, stats_summary *out)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    if (n <= 0) {
        out->mean = out->std = out->min = out->max = NAN;
        out->argmin = out->argmax = -1;
        return;
    }
    double sum = 0;
    out->min = out->max = x[0];
    for (int i = 0; i < n; i++) {
        sum += x[i];
        if (x[i] < out->min) {
            out->min = x[i];
            out->argmin = i;
        }
        if (x[i] > out->max) {
            out->max = x[i];
            out->argmax = i;
        }
    }
    out->mean = sum / n;
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (x[i] - out->mean) * (x[i] - out->mean);
    out->std = n > 1 ? sqrt(ss / (n - 1)) : 0.0;
}

typedef struct {
    long long seed;
    char *dir;
} seed_dir;

static int by_seed(const void *x, const void *y)
{
    const seed_dir *a = x, *b = y;
    return a->seed < b->seed ? -1 : a->seed > b->seed;
}

arith_status seed_runs_find(const char *parent, char ***dirs, long long **seeds, int *count)
{
    *dirs = NULL;
    *seeds = NULL;
    *count = 0;
    DIR *d = opendir(parent);
    if (!d)
        return arith_error(ARITH_ERR_IO, "%s: cannot open directory: %s", parent,
                           strerror(errno));
    seed_dir *found = NULL;
    int n = 0, cap = 0;
    arith_status st = ARITH_OK;
    struct dirent *e;
    while (!st && (e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        if (strncmp(name, "seed-", 5) != 0 || name[5] < '0' || name[5] > '9' ||
            strspn(name + 5, "0123456789") != strlen(name + 5) || strlen(name + 5) > 17)
            continue;
        size_t len = strlen(parent) + strlen(name) + 16;
        char *dir = malloc(len);
        if (!dir) {
            st = arith_error(ARITH_ERR_MEMORY, "out of memory listing %s", parent);
            break;
        }
        snprintf(dir, len, "%s/%s", parent, name);
        char config[TRAIN_PATH_MAX + 64];
        snprintf(config, sizeof config, "%s/config.json", dir);
        struct stat sb;
        if (stat(config, &sb) != 0) {
            free(dir);
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            seed_dir *grown = realloc(found, (size_t)cap * sizeof *grown);
            if (!grown) {
                free(dir);
                st = arith_error(ARITH_ERR_MEMORY, "out of memory listing %s", parent);
                break;
            }
            found = grown;
        }
        found[n].seed = strtoll(name + 5, NULL, 10);
        found[n].dir = dir;
        n++;
    }
    closedir(d);
    if (!st && n > 0) {
        qsort(found, (size_t)n, sizeof *found, by_seed);
        *dirs = malloc((size_t)n * sizeof **dirs);
        *seeds = malloc((size_t)n * sizeof **seeds);
        if (!*dirs || !*seeds)
            st = arith_error(ARITH_ERR_MEMORY, "out of memory listing %s", parent);
    }
    for (int i = 0; i < n; i++) {
        if (!st) {
            (*dirs)[i] = found[i].dir;
            (*seeds)[i] = found[i].seed;
        } else {
            free(found[i].dir);
        }
    }
    free(found);
    if (st) {
        free(*dirs);
        free(*seeds);
        *dirs = NULL;
        *seeds = NULL;
        return st;
    }
    *count = n;
    return ARITH_OK;
}
