/* Task symbolic (seed 003): Lample & Charton's calculus in prefix notation (data/symbolic.h):
 * --subtask derivative asks f' for f, integral asks f for an f' generated backwards from a
 * random f. Answers are right up to equivalence, as Lample & Charton judge them. */
#include <stdio.h>
#include <string.h>

#include "data/tasks/shared.h"

static int symbolic_max_prompt_chars(const task_config *task)
{
    return (int)SYM_TEXT_CAP(task->sym.max_tokens) + 1; /* f, then " =" */
}

static int symbolic_max_answer_chars(const task_config *task)
{
    return (int)SYM_TEXT_CAP(task->sym.max_tokens);
}

static arith_status symbolic_check(const task_config *task)
{
    if ((int)task->subtask < 0 || (int)task->subtask > SYM_INTEGRAL)
        return arith_error(ARITH_ERR_ARG, "unknown symbolic subtask %d", (int)task->subtask);
    return sym_config_check(&task->sym);
}

static arith_status symbolic_sample(const task_config *task, rng_state *rng, char *prompt,
                                    size_t prompt_cap, char *answer, size_t answer_cap)
{
    /* draws are rejected now and then (a constant f, an f' that is 0, too long, ...) */
    for (int tries = 0; tries < 100000; tries++) {
        if (!sym_generate(rng, &task->sym, task->subtask, prompt, prompt_cap - 2, answer,
                          answer_cap))
            continue;
        strcat(prompt, " =");
        return ARITH_OK;
    }
    return arith_error(ARITH_ERR_ARG, "task symbolic: 100000 draws in a row were rejected; the "
                       "expression limits (max_ops %d, max_tokens %d) are too tight",
                       task->sym.max_ops, task->sym.max_tokens);
}

/* far more trees than any data set; never listed */
static uint64_t symbolic_space(const task_config *task)
{
    return UINT64_MAX;
}

/* The prompt without its " =": f. */
static void strip_equals(char *out, size_t cap, const char *prompt)
{
    snprintf(out, cap, "%s", prompt);
    size_t n = strlen(out);
    if (n > 0 && out[n - 1] == '=')
        out[--n] = '\0';
    while (n > 0 && out[n - 1] == ' ')
        out[--n] = '\0';
}

/* a prefix expression and " =" */
static arith_status symbolic_check_prompt(const task_config *task, const char *prompt)
{
    char expr[4096];
    strip_equals(expr, sizeof expr, prompt);
    if (sym_check(expr) != ARITH_OK)
        return arith_error_wrap(ARITH_ERR_DATA, "task symbolic reads a function in "
                                "prefix notation (\"add x INT+ 2\") and \" =\" after: ");
    return ARITH_OK;
}

/* src: a prefix expression and " =" (added on reading when absent); tgt: one too */
static arith_status symbolic_check_row(const task_config *task, const char *src, const char *tgt)
{
    char expr[4096];
    strip_equals(expr, sizeof expr, src);
    arith_status st = sym_check(expr);
    if (!st)
        st = sym_check(tgt);
    return st ? ARITH_ERR_FORMAT : ARITH_OK; /* sym_check's message names the word */
}

static void symbolic_describe(const task_config *task, char *out, size_t cap)
{
    snprintf(out, cap, "%s, up to %d operators", sym_kind_name(task->subtask), task->sym.max_ops);
}

static bool symbolic_equivalent(const task_config *task, const char *prompt,
                                const char *reference, const char *hypothesis)
{
    char f[4096];
    strip_equals(f, sizeof f, prompt);
    return sym_equivalent(task->subtask, f, reference, hypothesis);
}

const task_def symbolic_task = {
    .name = "symbolic",
    .summary = "seed 003's symbolic mathematics in Lample & Charton's prefix notation: "
               "--subtask derivative (f -> f') or integral (f' -> f, generated backwards); "
               "answers right up to equivalence",
    .tokenizer = TOK_WORDS,
    .tokenizers = 1u << TOK_WORDS,
    .equals = " =",
    .csv_equals_optional = true,
    .check = symbolic_check,
    .max_prompt_chars = symbolic_max_prompt_chars,
    .max_answer_chars = symbolic_max_answer_chars,
    .sample = symbolic_sample,
    .space = symbolic_space,
    .check_prompt = symbolic_check_prompt,
    .check_row = symbolic_check_row,
    .describe = symbolic_describe,
    .equivalent = symbolic_equivalent,
};
