/* Task add: "a+b=" and the exact sum of two decimal operands of any length. Seed 001 draws each
 * operand digit by digit (so leading zeros vanish); --digits A..B draws each operand's length
 * first; --style spaced is seed 002's "a + b" with distinct operands. */
#include "data/tasks/shared.h"

static const binary_op plus = {'+', decimal_add_digits};

static int add_answer_digits(int width)
{
    return width + 1;
}

static const digit_format add_format = {.op = '+', .answer_digits = add_answer_digits};

static int add_max_answer_chars(const task_config *task)
{
    return task->digits + 1;
}

static arith_status add_sample(const task_config *task, rng_state *rng, char *prompt,
                               size_t prompt_cap, char *answer, size_t answer_cap)
{
    operands_sample(task, &plus, rng, prompt, answer, answer_cap);
    return ARITH_OK;
}

static arith_status add_sample_lengths(const task_config *task, rng_state *rng, int la, int lb,
                                       char *prompt, char *answer, size_t answer_cap)
{
    operands_sample_lengths(task, &plus, rng, la, lb, prompt, answer, answer_cap);
    return ARITH_OK;
}

static arith_status add_edge_cases(const task_config *task, example_set *out)
{
    return operands_edge_cases(task, &plus, operands_edge_cases_default,
                               operands_edge_cases_default_count, out);
}

static arith_status add_example_at(const task_config *task, uint64_t index, char *prompt,
                                   char *answer, size_t answer_cap)
{
    operands_example_at(task, &plus, index, prompt, answer, answer_cap);
    return ARITH_OK;
}

const task_def add_task = {
    .name = "add",
    .summary = "a+b=, the exact sum; operands digit by digit (seed 001) or with lengths drawn "
               "from --digits A..B, any length; --style spaced is seed 002's \"a + b\"",
    .unit = "digits",
    .unit_one = "digit",
    .tokenizer = TOK_PAIRS,
    .tokenizers = 1u << TOK_CHAR | 1u << TOK_PAIRS,
    .spaced = true,
    .format = &add_format,
    .equals = "=",
    .check = task_check_lengths,
    .max_prompt_chars = operands_max_prompt_chars,
    .max_answer_chars = add_max_answer_chars,
    .sample = add_sample,
    .sample_lengths = add_sample_lengths,
    .edge_cases = add_edge_cases,
    .space = operands_space,
    .example_at = add_example_at,
    .prompt_length = operands_prompt_length,
};
