/* support: what several test executables need beside the checks: reading PyTorch fixtures
 * (their JSON config and int32 inputs) and removing a run directory a test trained into.
 * Include after check.h. */
#ifndef ARITH_TEST_SUPPORT_H
#define ARITH_TEST_SUPPORT_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io/io.h"

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

/* Removes the files a training run writes, then the directory. */
static inline void remove_run(const char *dir)
{
    const char *files[] = {"config.json", "train.csv", "test.csv", "metrics.jsonl",
                           "last.safetensors", "best.safetensors", "training.svg"};
    char path[512];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

#endif
