/* The task interface's front (data.h): the checks every task shares before its own ops run,
 * buffer checks around sampling, and the words that describe a task's lengths. What a task
 * does is in its own file under data/tasks/; which tasks exist is data/tasks/registry.c. */
#include <stdio.h>
#include <string.h>

#include "data/data.h"

static const char *const style_names[] = {"plain", "spaced"};
#define N_STYLES ((int)(sizeof style_names / sizeof style_names[0]))

arith_status task_style_parse(task_style *out, const char *name)
{
    for (int i = 0; i < N_STYLES; i++) {
        if (strcmp(name, style_names[i]) == 0) {
            *out = (task_style)i;
            return ARITH_OK;
        }
    }
    return arith_error(ARITH_ERR_ARG, "unknown style '%s' (valid: plain, spaced)", name);
}

const char *task_style_name(task_style style)
{
    return (int)style >= 0 && (int)style < N_STYLES ? style_names[style] : NULL;
}

/* Parses a whole decimal number in [1, TASK_DIGITS_MAX] from s[0..n); false otherwise. */
static bool parse_digit_count(const char *s, size_t n, int *out)
{
    if (n == 0 || n > 6)
        return false;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > TASK_DIGITS_MAX)
        return false;
    *out = v;
    return true;
}

arith_status digits_range_parse(int *lo, int *hi, const char *text)
{
    const char *dots = strstr(text, "..");
    int a = 0, b = 0;
    bool ok;
    if (!dots) {
        ok = parse_digit_count(text, strlen(text), &a);
        b = a;
    } else {
        ok = parse_digit_count(text, (size_t)(dots - text), &a) &&
             parse_digit_count(dots + 2, strlen(dots + 2), &b) && a <= b;
    }
    if (!ok)
        return arith_error(ARITH_ERR_ARG,
                           "bad digit range '%s' (valid: N or A..B with 1 <= A <= B <= %d, "
                           "e.g. 3 or 1..64)", text, TASK_DIGITS_MAX);
    *lo = a;
    *hi = b;
    return ARITH_OK;
}

arith_status task_check_lengths(const task_config *task)
{
    if (task->digits < 1)
        return arith_error(ARITH_ERR_ARG, "--digits must be at least 1 (got %d)", task->digits);
    if (task->digits_min < 0 || task->digits_min > task->digits)
        return arith_error(ARITH_ERR_ARG,
                           "the digit range %d..%d is empty (the lower end must be 1..%d)",
                           task->digits_min, task->digits, task->digits);
    if (task->digits_b < 0 || task->digits_b > TASK_DIGITS_MAX)
        return arith_error(ARITH_ERR_ARG, "--digits-b must be 1..%d (got %d)", TASK_DIGITS_MAX,
                           task->digits_b);
    if (task->digits_b > 0 && (task->digits_b_min < 0 || task->digits_b_min > task->digits_b))
        return arith_error(ARITH_ERR_ARG,
                           "the --digits-b range %d..%d is empty (the lower end must be 1..%d)",
                           task->digits_b_min, task->digits_b, task->digits_b);
    if (task->digits_b > 0 && (!task->def || strcmp(task->def->name, "mul") != 0))
        return arith_error(ARITH_ERR_ARG, "--digits-b sets the second operand's length of task "
                           "mul (n x k products); task %s draws both operands alike",
                           task->def ? task->def->name : "(none)");
    return ARITH_OK;
}

int task_digits_b(const task_config *task)
{
    return task->digits_b > 0 ? task->digits_b : task->digits;
}

int task_digits_b_min(const task_config *task)
{
    return task->digits_b > 0 ? task->digits_b_min : task->digits_min;
}

static bool takes_spaced(const task_def *def)
{
    return def->spaced;
}

arith_status task_check(const task_config *task)
{
    if (!task->def)
        return arith_error(ARITH_ERR_ARG, "no task given");
    if ((int)task->style < 0 || (int)task->style >= N_STYLES)
        return arith_error(ARITH_ERR_ARG, "unknown style %d", (int)task->style);
    if (task->style == STYLE_SPACED && !task->def->spaced) {
        char names[256];
        task_names(names, sizeof names, takes_spaced);
        return arith_error(ARITH_ERR_ARG, "style %s is only for task %s (task %s)",
                           task_style_name(task->style), names, task->def->name);
    }
    return task->def->check(task);
}

int task_max_prompt_chars(const task_config *task)
{
    return task->def->max_prompt_chars(task);
}

int task_max_answer_chars(const task_config *task)
{
    return task->def->max_answer_chars(task);
}

arith_status task_sample(const task_config *task, rng_state *rng, char *prompt, size_t prompt_cap,
                         char *answer, size_t answer_cap)
{
    arith_status st = task_check(task);
    if (st)
        return st;
    if (prompt_cap < (size_t)task_max_prompt_chars(task) + 1 ||
        answer_cap < (size_t)task_max_answer_chars(task) + 1)
        return arith_error(ARITH_ERR_ARG, "task_sample: buffers too small for task %s with %d "
                           "digits", task->def->name, task->digits);
    return task->def->sample(task, rng, prompt, prompt_cap, answer, answer_cap);
}

static bool has_lengths(const task_def *def)
{
    return def->sample_lengths != NULL;
}

arith_status task_sample_lengths(const task_config *task, rng_state *rng, int la, int lb,
                                 char *prompt, size_t prompt_cap, char *answer,
                                 size_t answer_cap)
{
    if (!task->def || !task->def->sample_lengths) {
        char names[256];
        task_names(names, sizeof names, has_lengths);
        return arith_error(ARITH_ERR_ARG, "operands of given lengths exist only for tasks %s "
                           "(task %s)", names, task->def ? task->def->name : "none");
    }
    if (la < 1 || lb < 1 || la > TASK_DIGITS_MAX || lb > TASK_DIGITS_MAX)
        return arith_error(ARITH_ERR_ARG, "operand lengths %d and %d: each must be 1..%d", la,
                           lb, TASK_DIGITS_MAX);
    if (prompt_cap < (size_t)la + lb + 5 || answer_cap < (size_t)la + lb + 2)
        return arith_error(ARITH_ERR_ARG, "task_sample_lengths: buffers too small for operands "
                           "of %d and %d digits", la, lb);
    return task->def->sample_lengths(task, rng, la, lb, prompt, answer, answer_cap);
}

bool task_has_carries(const task_config *task)
{
    return task->def && task->def->sample_carry && task->def->carry_chain;
}

int task_chain_max(const task_config *task)
{
    if (!task_has_carries(task))
        return -1;
    return task->def->chain_max ? task->def->chain_max(task) : task->digits;
}

arith_status task_sample_carry(const task_config *task, rng_state *rng, int chain, char *prompt,
                               size_t prompt_cap, char *answer, size_t answer_cap)
{
    if (!task_has_carries(task))
        return arith_error(ARITH_ERR_ARG, "task %s has no carry chains to draw",
                           task->def ? task->def->name : "none");
    if (chain < 0 || chain > task_chain_max(task))
        return arith_error(ARITH_ERR_ARG, "a carry chain of %d columns: must be 0..%d", chain,
                           task_chain_max(task));
    if (prompt_cap < (size_t)task_max_prompt_chars(task) + 1 ||
        answer_cap < (size_t)task_max_answer_chars(task) + 1)
        return arith_error(ARITH_ERR_ARG, "task_sample_carry: buffers too small");
    return task->def->sample_carry(task, rng, chain, prompt, answer, answer_cap);
}

int task_carry_chain(const task_config *task, const char *prompt)
{
    return task_has_carries(task) ? task->def->carry_chain(task, prompt) : -1;
}

bool task_has_columns(const task_config *task)
{
    return task->def && task->def->answer_columns;
}

int task_answer_columns(const task_config *task, const char *prompt, int cap, int8_t *digit,
                        int8_t *carry_in)
{
    return task_has_columns(task) ? task->def->answer_columns(task, prompt, cap, digit, carry_in)
                                  : -1;
}

arith_status task_check_prompt(const task_config *task, const char *prompt)
{
    arith_status st = task_check(task);
    if (st)
        return st;
    const task_def *def = task->def;
    size_t len = strlen(prompt), le = strlen(def->equals);
    if (len == 0)
        return arith_error(ARITH_ERR_DATA, "empty prompt");
    bool ends = len >= le && strcmp(prompt + len - le, def->equals) == 0;
    if (task->style == STYLE_SPACED && strchr(prompt, '='))
        return arith_error(ARITH_ERR_DATA, "task %s in style %s reads prompts without "
                           "'='", def->name, task_style_name(task->style));
    if (task->style != STYLE_SPACED && !ends)
        return arith_error(ARITH_ERR_DATA, "task %s reads prompts that end with "
                           "\"%s\"", def->name, def->equals);
    return def->check_prompt ? def->check_prompt(task, prompt) : ARITH_OK;
}

arith_status task_edge_cases(const task_config *task, example_set *out)
{
    if (!task->def || !task->def->edge_cases)
        return ARITH_OK;
    arith_status st = task_check(task);
    if (st)
        return st;
    return task->def->edge_cases(task, out);
}

void task_describe(const task_config *task, char *out, size_t cap)
{
    const task_def *def = task->def;
    const char *unit = def->unit ? def->unit : "digits";
    if (def->describe)
        def->describe(task, out, cap);
    else if (task->digits_min > 0 && task->digits_min != task->digits)
        snprintf(out, cap, "%d..%d %s", task->digits_min, task->digits, unit);
    else
        snprintf(out, cap, "%d %s", task->digits, unit);
    if (task->digits_b > 0) {
        size_t used = strlen(out);
        if (task->digits_b_min > 0 && task->digits_b_min != task->digits_b)
            snprintf(out + used, cap - used, " x %d..%d", task->digits_b_min, task->digits_b);
        else
            snprintf(out + used, cap - used, " x %d", task->digits_b);
    }
}
