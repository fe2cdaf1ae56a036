/* Checkpoints: safetensors holding every parameter under its table name (and, for resuming,
 * the optimizer's moments as optim.m.<name> / optim.v.<name>), with the run's config, tokenizer,
 * task, progress and a checksum of the tensor data as strings in __metadata__. Written to a
 * temporary file and renamed. A NaN or an infinity is never written into one, nor loaded from
 * one; a checksum that does not match, or metadata that contradicts the config, is refused. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/io.h"
#include "train/train.h"

#define CHECKPOINT_FORMAT "arith.checkpoint.v1"

/* ARITH_ERR_DATA naming the file and the tensor when x holds a NaN or an infinity; `saving`
 * says whether it was to be written or was read. */
static arith_status check_finite(const char *path, bool saving, const char *name, const float *x,
                                 size_t n)
{
    size_t first = 0;
    size_t bad = core_count_nonfinite(x, n, &first);
    if (bad == 0)
        return ARITH_OK;
    return arith_error(ARITH_ERR_DATA, "%s: %s: tensor \"%s\" holds %zu non-finite value%s of "
                       "%zu (the first, at index %zu, is %g)%s", path,
                       saving ? "not saved" : "refused", name, bad, bad == 1 ? "" : "s", n,
                       first, (double)x[first],
                       saving ? "" : "\nhint: the run diverged before this checkpoint was "
                       "written; use one written before that");
}

/* The vocabulary, id by id, as a JSON array of the tokens' printable names (malloc'd), so that
 * a reader of the file (tools/, Python) can decode ids without arith. */
static char *vocab_json(const tokenizer *tok)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < tok->vocab_size; i++) {
        cJSON *name = cJSON_CreateString(tok->names[i]);
        if (!name || !cJSON_AddItemToArray(arr, name)) {
            cJSON_Delete(name);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    char *text = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return text;
}

arith_status checkpoint_save(const char *path, const model *m, const optimizer_state *opt,
                             const train_config *cfg, const train_progress *progress,
                             const tokenizer *tok)
{
    const param_table *pt = &m->params;
    int n = pt->count * (opt ? 3 : 1);
    st_entry *entries = calloc((size_t)n, sizeof *entries);
    char (*names)[PARAM_NAME_MAX + 16] = calloc((size_t)n, sizeof *names);
    char *config = train_config_to_json(cfg);
    if (!entries || !names || !config) {
        free(entries);
        free(names);
        free(config);
        return arith_error(ARITH_ERR_MEMORY, "out of memory saving %s", path);
    }
    int k = 0;
    for (int i = 0; i < pt->count; i++) {
        const param_view *v = &pt->views[i];
        entries[k++] = (st_entry){v->name, v->ndim, v->shape, pt->data + v->offset};
    }
    if (opt) {
        for (int i = 0; i < pt->count; i++) {
            const param_view *v = &pt->views[i];
            if (opt->slot[i] == SIZE_MAX) /* frozen: no moments */
                continue;
            snprintf(names[k], sizeof names[k], "optim.m.%s", v->name);
            entries[k] = (st_entry){names[k], v->ndim, v->shape, opt->m + opt->slot[i]};
            k++;
            snprintf(names[k], sizeof names[k], "optim.v.%s", v->name);
            entries[k] = (st_entry){names[k], v->ndim, v->shape, opt->v + opt->slot[i]};
            k++;
        }
    }
    /* a diverged state is no checkpoint: nothing is written */
    arith_status st = ARITH_OK;
    for (int i = 0; i < k && !st; i++) {
        size_t numel = 1;
        for (int d = 0; d < entries[i].ndim; d++)
            numel *= (size_t)entries[i].shape[d];
        st = check_finite(path, true, entries[i].name, entries[i].data, numel);
    }
    if (st) {
        free(entries);
        free(names);
        free(config);
        return st;
    }
    char step[32], total[32], best[32], best_step[32], last[32], opt_t[32], vocab[16];
    char threads[16], skipped[32], sched_start[32], sched_steps[32];
    snprintf(step, sizeof step, "%lld", progress->step);
    snprintf(total, sizeof total, "%lld", progress->total_steps);
    snprintf(best, sizeof best, "%.17g", progress->best_accuracy);
    snprintf(best_step, sizeof best_step, "%lld", progress->best_step);
    snprintf(last, sizeof last, "%.17g", progress->last_accuracy);
    snprintf(opt_t, sizeof opt_t, "%lld", opt ? opt->t : 0LL);
    snprintf(vocab, sizeof vocab, "%d", m->cfg.vocab);
    /* the count in effect: same seed and thread count, same bits */
    snprintf(threads, sizeof threads, "%d", core_threads());
    snprintf(skipped, sizeof skipped, "%lld", progress->skipped);
    snprintf(sched_start, sizeof sched_start, "%lld", progress->schedule_start);
    snprintf(sched_steps, sizeof sched_steps, "%lld", progress->schedule_steps > 0
                                                          ? progress->schedule_steps
                                                          : progress->total_steps);
    char model_name[32], tokenizer_text[32], task[32];
    train_config_format(cfg, "model", model_name, sizeof model_name);
    train_config_format(cfg, "tokenizer", tokenizer_text, sizeof tokenizer_text);
    train_config_format(cfg, "task", task, sizeof task);
    const char *keys[] = {"format", "arith_version", "config", "model", "tokenizer", "task",
                          "vocab", "step", "total_steps", "best_accuracy", "best_step",
                          "last_accuracy", "optim_t", "threads", "skipped_nonfinite",
                          "schedule_start", "schedule_steps", "tokenizer_resolved",
                          "vocab_tokens"};
    char *tokens = tok ? vocab_json(tok) : NULL;
    if (tok && !tokens) {
        free(entries);
        free(names);
        free(config);
        return arith_error(ARITH_ERR_MEMORY, "%s: out of memory writing the vocabulary", path);
    }
    const char *values[] = {CHECKPOINT_FORMAT, ARITH_VERSION, config, model_name,
                            tokenizer_text, task, vocab, step, total, best, best_step, last, opt_t,
                            threads, skipped, sched_start, sched_steps,
                            tok ? tokenizer_name(tok->kind) : "", tokens ? tokens : "[]"};
    int n_keys = (int)(sizeof keys / sizeof *keys) - (tok ? 0 : 2); /* the last two need tok */
    st = st_write_checksummed(path, entries, k, keys, values, n_keys);
    free(tokens);
    free(entries);
    free(names);
    free(config);
    return st;
}

static arith_status meta_ll(const st_file *f, const char *path, const char *key, long long *out)
{
    const char *v = st_meta(f, key);
    char *end = NULL;
    if (!v)
        return arith_error(ARITH_ERR_FORMAT, "%s: metadata \"%s\" is missing", path, key);
    *out = strtoll(v, &end, 10);
    if (end == v || *end)
        return arith_error(ARITH_ERR_FORMAT, "%s: metadata \"%s\" = \"%s\" is not an integer",
                           path, key, v);
    return ARITH_OK;
}

static arith_status read_meta(const st_file *f, const char *path, train_config *cfg,
                              train_progress *progress)
{
    const char *format = st_meta(f, "format");
    if (!format || strcmp(format, CHECKPOINT_FORMAT) != 0)
        return arith_error(ARITH_ERR_FORMAT, "%s: not an arith checkpoint (metadata \"format\" "
                           "is %s%s%s, expected \"%s\")", path, format ? "\"" : "",
                           format ? format : "missing", format ? "\"" : "", CHECKPOINT_FORMAT);
    const char *config = st_meta(f, "config");
    if (!config)
        return arith_error(ARITH_ERR_FORMAT, "%s: metadata \"config\" is missing", path);
    train_config_defaults(cfg);
    arith_status st = train_config_from_json(cfg, config, path);
    if (st)
        return st;
    /* the names written beside the config are copies of its values: one that differs means
     * the file was edited or mixed up, and which to believe is unknowable */
    static const char *const copies[] = {"model", "tokenizer", "task"};
    for (size_t i = 0; i < sizeof copies / sizeof *copies; i++) {
        const char *v = st_meta(f, copies[i]);
        char want[64];
        train_config_format(cfg, copies[i], want, sizeof want);
        if (v && strcmp(v, want) != 0)
            return arith_error(ARITH_ERR_FORMAT, "%s: metadata \"%s\" is \"%.60s\" but the config "
                               "in its metadata says \"%s\"", path, copies[i], v, want);
    }
    if (progress) {
        memset(progress, 0, sizeof *progress);
        st = meta_ll(f, path, "step", &progress->step);
        if (!st)
            st = meta_ll(f, path, "total_steps", &progress->total_steps);
        if (!st)
            st = meta_ll(f, path, "best_step", &progress->best_step);
        const char *best = st_meta(f, "best_accuracy"), *last = st_meta(f, "last_accuracy");
        progress->best_accuracy = best ? strtod(best, NULL) : -1.0;
        progress->last_accuracy = last ? strtod(last, NULL) : -1.0;
        /* checkpoints from before these were recorded have neither */
        long long threads = 0;
        if (!st && st_meta(f, "threads"))
            st = meta_ll(f, path, "threads", &threads);
        progress->threads = threads > 0 && threads < 1 << 20 ? (int)threads : 0;
        if (!st && st_meta(f, "skipped_nonfinite"))
            st = meta_ll(f, path, "skipped_nonfinite", &progress->skipped);
        /* older checkpoints: the schedule laid out over their total from step 0 */
        progress->schedule_steps = progress->total_steps;
        if (!st && st_meta(f, "schedule_start"))
            st = meta_ll(f, path, "schedule_start", &progress->schedule_start);
        if (!st && st_meta(f, "schedule_steps"))
            st = meta_ll(f, path, "schedule_steps", &progress->schedule_steps);
        if (!st && (progress->schedule_start < 0 || progress->schedule_steps < 1))
            st = arith_error(ARITH_ERR_FORMAT, "%s: metadata schedule_start %lld, schedule_steps "
                             "%lld: not a schedule", path, progress->schedule_start,
                             progress->schedule_steps);
    }
    return st;
}

arith_status checkpoint_read_config(const char *path, train_config *cfg, train_progress *progress)
{
    st_file f;
    arith_status st = st_read(&f, path);
    if (st)
        return st;
    st = read_meta(&f, path, cfg, progress);
    st_free(&f);
    return st;
}

arith_status checkpoint_load(const char *path, model *m, optimizer_state *opt, bool verify)
{
    st_file f;
    arith_status st = st_read(&f, path);
    if (st)
        return st;
    if (verify && (st = st_verify_checksum(&f, NULL)) != ARITH_OK) {
        char why[1024]; /* the message is rewritten with the hint: copied out of its buffer */
        snprintf(why, sizeof why, "%s", arith_error_message());
        st_free(&f);
        return arith_error(st, "%s\nhint: --no-verify loads it anyway", why);
    }
    const char *vocab = st_meta(&f, "vocab");
    char built[16];
    snprintf(built, sizeof built, "%d", m->cfg.vocab);
    if (vocab && strcmp(vocab, built) != 0) {
        st = arith_error(ARITH_ERR_FORMAT, "%s: metadata \"vocab\" is \"%.30s\" but its config "
                         "gives a vocabulary of %s tokens", path, vocab, built);
        st_free(&f);
        return st;
    }
    const param_table *pt = &m->params;
    char name[PARAM_NAME_MAX + 16];
    for (int i = 0; i < pt->count && st == ARITH_OK; i++) {
        const param_view *v = &pt->views[i];
        const st_tensor *t = st_find(&f, v->name);
        if (!t) {
            st = arith_error(ARITH_ERR_FORMAT, "%s: tensor \"%s\" is missing", path, v->name);
            break;
        }
        bool same = t->ndim == v->ndim;
        for (int d = 0; same && d < v->ndim; d++)
            same = t->shape[d] == v->shape[d];
        if (!same) {
            st = arith_error(ARITH_ERR_FORMAT, "%s: tensor \"%s\" has a shape that does not "
                             "match the model's config", path, v->name);
            break;
        }
        st = st_copy_f32(&f, v->name, pt->data + v->offset, v->size);
        if (st == ARITH_OK)
            st = check_finite(path, false, v->name, pt->data + v->offset, v->size);
        if (st == ARITH_OK && opt && opt->slot[i] != SIZE_MAX) {
            snprintf(name, sizeof name, "optim.m.%s", v->name);
            st = st_copy_f32(&f, name, opt->m + opt->slot[i], v->size);
            if (st == ARITH_OK)
                st = check_finite(path, false, name, opt->m + opt->slot[i], v->size);
            if (st == ARITH_OK) {
                snprintf(name, sizeof name, "optim.v.%s", v->name);
                st = st_copy_f32(&f, name, opt->v + opt->slot[i], v->size);
            }
            if (st == ARITH_OK)
                st = check_finite(path, false, name, opt->v + opt->slot[i], v->size);
        }
    }
    if (st == ARITH_OK && opt) {
        long long t = 0;
        st = meta_ll(&f, path, "optim_t", &t);
        opt->t = t;
    }
    st_free(&f);
    return st;
}

arith_status checkpoint_check_run_config(const char *path, const train_config *saved,
                                         const char *run_dir)
{
    char config_path[TRAIN_PATH_MAX + 32];
    arith_status st = io_join_path(config_path, sizeof config_path, run_dir, "config.json");
    if (st)
        return st;
    if (access(config_path, F_OK) != 0)
        return ARITH_OK; /* a directory assembled by hand: nothing to contradict */
    char *text = NULL;
    size_t size = 0;
    train_config cfg;
    train_config_defaults(&cfg);
    st = io_read_file(config_path, &text, &size);
    if (!st)
        st = train_config_from_json(&cfg, text, config_path);
    free(text);
    for (int i = 0; !st && i < train_option_table.count; i++) {
        const option_spec *o = &train_option_table.specs[i];
        if (o->resumable || strcmp(o->name, "run") == 0)
            continue;
        char a[TRAIN_PATH_MAX + 32], b[TRAIN_PATH_MAX + 32];
        option_format(o, saved, a, sizeof a);
        option_format(o, &cfg, b, sizeof b);
        if (strcmp(a, b) != 0)
            st = arith_error(ARITH_ERR_FORMAT, "%s: its config says \"%s\": \"%.200s\", but %s "
                             "says \"%.200s\": the checkpoint is not this run's, or one of them "
                             "was edited", path, o->name, a, config_path, b);
    }
    return st;
}
