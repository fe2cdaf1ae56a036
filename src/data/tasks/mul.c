/* Task mul: "a*b=" and the exact product of two decimal operands of any length, drawn as task
 * add draws them (digit by digit, or lengths from --digits A..B). */
#include <string.h>

#include "data/tasks/shared.h"

static const binary_op times = {'*', decimal_mul_digits};

static int mul_answer_digits(int width)
{
    return 2 * width;
}

/* The scratchpad (--scratchpad), one digit of b at a time from its units up: the running sum
 * s_0 = a * b_0, then for each next digit b_i the partial product p_i = a * b_i * 10^i and the
 * running sum s_i = s_(i-1) + p_i; the last running sum is the product. Each step is then one
 * thing a small model does well: a number times one digit (p_i, written with its i zeros, so
 * that its digits line up with those of s_(i-1)), or the sum of two aligned numbers (s_i). */
static int mul_scratch_steps(int la, int lb)
{
    (void)la;
    return 2 * lb - 1;
}

static void mul_scratch_value(char *out, size_t cap, const char *a, int la, const char *b, int lb,
                              int j)
{
    const int i = (j + 1) / 2; /* the digit of b: 0 units, 1 tens, ... */
    if (j % 2 == 0) {          /* s_i = a * (b mod 10^(i+1)) */
        decimal_mul_digits(out, cap, a, (size_t)la, b + lb - (i + 1), (size_t)i + 1);
        return;
    }
    decimal_mul_digits(out, cap, a, (size_t)la, b + lb - (i + 1), 1); /* p_i = a * b_i 10^i */
    size_t len = strlen(out);
    if (strcmp(out, "0") == 0)
        return;
    for (int z = 0; z < i && len + 1 < cap; z++)
        out[len++] = '0';
    out[len] = '\0';
}

/* Column s's products, the sum of a_(s-j) b_j over b's digits j (--carries). */
static int mul_column_sum(const char *a, int la, const char *b, int lb, int s)
{
    int sum = 0;
    for (int j = 0; j < lb && j <= s; j++)
        if (s - j < la)
            sum += (a[la - 1 - (s - j)] - '0') * (b[lb - 1 - j] - '0');
    return sum;
}

static const digit_format mul_format = {.op = '*',
                                        .answer_digits = mul_answer_digits,
                                        .scratch_steps = mul_scratch_steps,
                                        .scratch_value = mul_scratch_value,
                                        .column_sum = mul_column_sum};

static int mul_max_answer_chars(const task_config *task)
{
    return task->digits + task_digits_b(task);
}

static arith_status mul_sample(const task_config *task, rng_state *rng, char *prompt,
                               size_t prompt_cap, char *answer, size_t answer_cap)
{
    operands_sample(task, &times, rng, prompt, answer, answer_cap);
    return ARITH_OK;
}

static arith_status mul_sample_lengths(const task_config *task, rng_state *rng, int la, int lb,
                                       char *prompt, char *answer, size_t answer_cap)
{
    operands_sample_lengths(task, &times, rng, la, lb, prompt, answer, answer_cap);
    return ARITH_OK;
}

static arith_status mul_edge_cases(const task_config *task, example_set *out)
{
    return operands_edge_cases(task, &times, operands_edge_cases_default,
                               operands_edge_cases_default_count, out);
}

static arith_status mul_example_at(const task_config *task, uint64_t index, char *prompt,
                                   char *answer, size_t answer_cap)
{
    operands_example_at(task, &times, index, prompt, answer, answer_cap);
    return ARITH_OK;
}

static arith_status mul_check_row(const task_config *task, const char *src, const char *tgt)
{
    return operands_check_row(&times, false, "product", src, tgt);
}

static arith_status mul_check_prompt(const task_config *task, const char *prompt)
{
    return operands_check_prompt(task, &times, prompt);
}

const task_def mul_task = {
    .name = "mul",
    .summary = "a*b=, the exact product; operands drawn as add draws them, any length; "
               "--digits-b gives b lengths of its own (n x k products)",
    .unit = "digits",
    .unit_one = "digit",
    .tokenizer = TOK_CHAR,
    .tokenizers = 1u << TOK_CHAR,
    .format = &mul_format,
    .equals = "=",
    .check = task_check_lengths,
    .max_prompt_chars = operands_max_prompt_chars,
    .max_answer_chars = mul_max_answer_chars,
    .check_prompt = mul_check_prompt,
    .sample = mul_sample,
    .sample_lengths = mul_sample_lengths,
    .edge_cases = mul_edge_cases,
    .space = operands_space,
    .example_at = mul_example_at,
    .check_row = mul_check_row,
    .prompt_length = operands_prompt_length,
};
