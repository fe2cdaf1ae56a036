/* support: what several test executables need beside the checks: families and positional
 * schemes by name, reading PyTorch fixtures
 * (their JSON config, parameters, int32 inputs and gradients) and removing a run directory a
 * test trained into.
 * Include after check.h. */
#ifndef ARITH_TEST_SUPPORT_H
#define ARITH_TEST_SUPPORT_H

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/io.h"
#include "models/model.h"

/* A model family and a positional scheme by name (their registries' index); an unknown name
 * fails a check and gives index 0. */
static inline model_kind family_named(const char *name)
{
    model_kind k = 0;
    CHECK_OK(model_kind_parse(&k, name));
    return k;
}

static inline pos_kind scheme_named(const char *name)
{
    pos_kind k = 0;
    CHECK_OK(pos_kind_parse(&k, name));
    return k;
}

static inline int json_int(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? (int)v->valuedouble : -1;
}

static inline const char *json_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* Copies fixture tensor `name` (n int32 values) into out; a missing or mis-shaped tensor fails
 * a check. */
static inline void read_i32(const st_file *f, const char *name, int32_t *out, size_t n)
{
    const st_tensor *t = st_find(f, name);
    CHECK_MSG(t && t->dtype == ST_I32 && t->numel == n, "%s: missing or not %zu int32", name, n);
    if (t && t->numel == n)
        memcpy(out, t->data, n * sizeof(int32_t));
}

/* Builds a model from a fixture's config (read by `config`) and loads every parameter by its
 * name, as PyTorch saved it. Returns NULL, after a failed check, when a step fails. */
typedef arith_status (*fixture_config_fn)(model_config *mc, const st_file *f);
static inline model *fixture_model(const st_file *f, fixture_config_fn config, model_config *mc)
{
    model *m = NULL;
    arith_status st = config(mc, f);
    CHECK_OK(st);
    if (!st)
        CHECK_OK(model_create(&m, mc));
    for (int i = 0; m && i < m->params.count; i++) {
        const param_view *v = &m->params.views[i];
        CHECK_OK(st_copy_f32(f, v->name, m->params.data + v->offset, v->size));
    }
    return m;
}

/* Every parameter gradient of m (after its backward) against the fixture's grad.<name>. */
static inline void check_fixture_grads(const char *name, const model *m, const st_file *f,
                                       double atol, double rtol)
{
    float *grad = malloc(m->params.total * sizeof(float));
    for (int i = 0; grad && i < m->params.count; i++) {
        const param_view *v = &m->params.views[i];
        char gname[PARAM_NAME_MAX + 8], what[PARAM_NAME_MAX + 128];
        snprintf(gname, sizeof gname, "grad.%s", v->name);
        CHECK_OK(st_copy_f32(f, gname, grad, v->size));
        snprintf(what, sizeof what, "%s %s", name, gname);
        CHECK_CLOSE(what, m->params.grad + v->offset, grad, v->size, atol, rtol);
    }
    free(grad);
}

/* Removes a directory and everything under it (a run directory a test trained into, with its
 * .arith-run marker, or a test's scratch directory), or a file. */
static inline void remove_tree(const char *path)
{
    DIR *dir = opendir(path);
    if (!dir) {
        unlink(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char child[4096];
        int n = snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        if (n > 0 && (size_t)n < sizeof child)
            remove_tree(child);
    }
    closedir(dir);
    rmdir(path);
}

static inline void remove_run(const char *dir)
{
    remove_tree(dir);
}

#endif
