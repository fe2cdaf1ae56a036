/* The workspace planner (backend.h): named buffers carved from one aligned block. Shared by
 * every backend; the block itself comes from the backend's tensor_alloc. */
#include <stdint.h>
#include <stdlib.h>

#include "nn/backend/backend.h"

enum { WS_FLOATS, WS_INTS, WS_BYTES };

static size_t round_up(size_t bytes)
{
    return (bytes + TENSOR_ALIGN - 1) / TENSOR_ALIGN * TENSOR_ALIGN;
}

void workspace_plan_init(workspace_plan *plan)
{
    plan->entries = NULL;
    plan->count = plan->capacity = 0;
    plan->failed = false;
}

static void plan_add(workspace_plan *plan, const char *name, void *at, int kind, size_t n,
                     size_t elem)
{
    if (plan->failed)
        return;
    if (n > (SIZE_MAX - TENSOR_ALIGN) / elem / 2) { /* a size no block could hold */
        plan->failed = true;
        return;
    }
    if (plan->count == plan->capacity) {
        int cap = plan->capacity ? 2 * plan->capacity : 32;
        workspace_entry *e = realloc(plan->entries, (size_t)cap * sizeof *e);
        if (!e) {
            plan->failed = true;
            return;
        }
        plan->entries = e;
        plan->capacity = cap;
    }
    plan->entries[plan->count++] = (workspace_entry){name, at, kind, n * elem};
}

void workspace_add_floats(workspace_plan *plan, const char *name, float **at, size_t n)
{
    plan_add(plan, name, at, WS_FLOATS, n, sizeof(float));
}

void workspace_add_ints(workspace_plan *plan, const char *name, int32_t **at, size_t n)
{
    plan_add(plan, name, at, WS_INTS, n, sizeof(int32_t));
}

void workspace_add_bytes(workspace_plan *plan, const char *name, uint8_t **at, size_t n)
{
    plan_add(plan, name, at, WS_BYTES, n, 1);
}

size_t workspace_plan_bytes(const workspace_plan *plan)
{
    size_t total = 0;
    for (int i = 0; i < plan->count; i++) {
        size_t b = round_up(plan->entries[i].bytes);
        total = total > SIZE_MAX - b ? SIZE_MAX : total + b;
    }
    return total;
}

arith_status workspace_plan_alloc(workspace_plan *plan, void **block, const char *what)
{
    const size_t total = workspace_plan_bytes(plan);
    const workspace_entry *largest = NULL;
    for (int i = 0; i < plan->count; i++)
        if (!largest || plan->entries[i].bytes > largest->bytes)
            largest = &plan->entries[i];
    unsigned char *base = plan->failed || total == SIZE_MAX ? NULL : tensor_alloc(total);
    arith_status st = ARITH_OK;
    if (!base) {
        st = arith_error(ARITH_ERR_MEMORY, "out of memory for %s of %.1f MB (largest buffer: "
                         "%s, %.1f MB)", what, (double)total / 1e6,
                         largest ? largest->name : "none",
                         largest ? (double)largest->bytes / 1e6 : 0.0);
    } else {
        size_t off = 0;
        for (int i = 0; i < plan->count; i++) {
            const workspace_entry *e = &plan->entries[i];
            void *p = base + off;
            if (e->kind == WS_FLOATS)
                *(float **)e->at = p;
            else if (e->kind == WS_INTS)
                *(int32_t **)e->at = p;
            else
                *(uint8_t **)e->at = p;
            off += round_up(e->bytes);
        }
        *block = base;
    }
    free(plan->entries);
    workspace_plan_init(plan);
    return st;
}
