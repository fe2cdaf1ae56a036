/* The task registry: every task arith knows, in the order that --task's choices, help, messages
 * and `arith tasks` list them. A task is one file of this folder defining
 * `const task_def NAME_task` (data.h's interface); its line below makes it a choice
 * everywhere. */
#include <stdio.h>
#include <string.h>

#include "data/data.h"

/* One line per task. */
#define TASKS(X)                                                                               \
    X(add)                                                                                     \
    X(expr)                                                                                    \
    X(count)                                                                                   \
    X(xor)                                                                                     \
    X(symbolic)                                                                                \
    X(mul)                                                                                     \
    X(sub)                                                                                     \
    /* end of the list */

#define TASK_DECLARE(name) extern const task_def name##_task;
TASKS(TASK_DECLARE)
#define TASK_ENTRY(name) &name##_task,
static const task_def *const registry[] = {TASKS(TASK_ENTRY)};
enum { N_TASKS = sizeof registry / sizeof registry[0] };

int task_count(void)
{
    return N_TASKS;
}

const task_def *task_at(int index)
{
    return index >= 0 && index < N_TASKS ? registry[index] : NULL;
}

const task_def *task_find(const char *name)
{
    for (int i = 0; i < N_TASKS; i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

void task_names(char *out, size_t cap, bool (*keep)(const task_def *def))
{
    int total = 0, written = 0;
    for (int i = 0; i < N_TASKS; i++)
        total += !keep || keep(registry[i]);
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < N_TASKS; i++) {
        if (keep && !keep(registry[i]))
            continue;
        const char *sep = written == 0 ? "" : written == total - 1 ? " and " : ", ";
        int w = snprintf(out + len, cap - len, "%s%s", sep, registry[i]->name);
        if (w < 0 || (size_t)w >= cap - len)
            return;
        len += (size_t)w;
        written++;
    }
    if (total == 0)
        snprintf(out, cap, "none");
}

arith_status task_parse(const task_def **out, const char *name)
{
    const task_def *def = task_find(name);
    if (def) {
        *out = def;
        return ARITH_OK;
    }
    char valid[512];
    size_t len = 0;
    valid[0] = '\0';
    for (int i = 0; i < N_TASKS && len < sizeof valid; i++)
        len += (size_t)snprintf(valid + len, sizeof valid - len, "%s%s", i ? ", " : "",
                                registry[i]->name);
    return arith_error(ARITH_ERR_ARG, "unknown task '%s' (valid: %s)", name, valid);
}
