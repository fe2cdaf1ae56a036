/* Task sub: "a-b=" and the exact difference of two decimal operands of any length, drawn as task
 * add draws them (digit by digit, or lengths from --digits A..B); answers may be negative
 * ("12-345=" -> "-333"), and the digit formats write their sign as a token of its own. */
#include <stdlib.h>
#include <string.h>

#include "data/tasks/shared.h"

/* Compares the numbers a[0..la) and b[0..lb) (leading zeros allowed): <0, 0 or >0. */
static int compare_digits(const char *a, size_t la, const char *b, size_t lb)
{
    while (la > 1 && *a == '0')
        a++, la--;
    while (lb > 1 && *b == '0')
        b++, lb--;
    if (la != lb)
        return la < lb ? -1 : 1;
    return memcmp(a, b, la);
}

/* out = a - b: the smaller magnitude taken from the larger by column subtraction from the right
 * (the difference is written reversed, then flipped), a '-' when b > a. */
static void decimal_sub_digits(char *out, size_t out_cap, const char *a, size_t la, const char *b,
                               size_t lb)
{
    const bool negative = compare_digits(a, la, b, lb) < 0;
    const char *big = negative ? b : a, *small = negative ? a : b;
    const size_t lbig = negative ? lb : la, lsmall = negative ? la : lb;
    if (out_cap < 3) {
        if (out_cap > 0)
            out[0] = '\0';
        return;
    }
    size_t n = 0;
    int borrow = 0;
    for (size_t i = 0; i < lbig && n + 2 < out_cap; i++) {
        int d = big[lbig - 1 - i] - '0' - borrow;
        if (i < lsmall)
            d -= small[lsmall - 1 - i] - '0';
        borrow = d < 0;
        out[n++] = (char)('0' + (d + 10) % 10);
    }
    while (n > 1 && out[n - 1] == '0')
        n--;
    if (n == 0)
        out[n++] = '0';
    if (negative)
        out[n++] = '-';
    out[n] = '\0';
    for (size_t i = 0; i < n / 2; i++) {
        char t = out[i];
        out[i] = out[n - 1 - i];
        out[n - 1 - i] = t;
    }
}

static const binary_op minus = {'-', decimal_sub_digits};

/* |a - b| < 10^width: as many digits as the longer operand, after the sign token */
static int sub_answer_digits(int width)
{
    return width;
}

static const digit_format sub_format = {
    .op = '-', .answer_digits = sub_answer_digits, .signed_answers = true};

static int sub_max_answer_chars(const task_config *task)
{
    return task->digits + 1; /* '-' and the digits */
}

static arith_status sub_sample(const task_config *task, rng_state *rng, char *prompt,
                               size_t prompt_cap, char *answer, size_t answer_cap)
{
    operands_sample(task, &minus, rng, prompt, answer, answer_cap);
    return ARITH_OK;
}

static arith_status sub_sample_lengths(const task_config *task, rng_state *rng, int la, int lb,
                                       char *prompt, char *answer, size_t answer_cap)
{
    operands_sample_lengths(task, &minus, rng, la, lb, prompt, answer, answer_cap);
    return ARITH_OK;
}

/* 0-0, x-x, borrow chains (10..0-1), negative results (1-10..0, 0-x), 9..9-9..9, a borrow in
 * every column but one (5..5-4..45 and back), and the same at the shortest length */
static const edge_case sub_cases[] = {
    {EDGE_ZERO, EDGE_LEN_ONE, EDGE_ZERO, EDGE_LEN_ONE},
    {EDGE_X, EDGE_LEN_HI, EDGE_X, EDGE_LEN_HI},
    {EDGE_ONE_ZEROS, EDGE_LEN_HI, EDGE_ONE, EDGE_LEN_ONE},
    {EDGE_ONE, EDGE_LEN_ONE, EDGE_ONE_ZEROS, EDGE_LEN_HI},
    {EDGE_NINES, EDGE_LEN_HI, EDGE_NINES, EDGE_LEN_HI},
    {EDGE_ZERO, EDGE_LEN_ONE, EDGE_X, EDGE_LEN_HI},
    {EDGE_X, EDGE_LEN_HI, EDGE_ZERO, EDGE_LEN_ONE},
    {EDGE_NINES, EDGE_LEN_HI, EDGE_ONE, EDGE_LEN_ONE},
    {EDGE_EIGHT, EDGE_LEN_ONE, EDGE_NINES, EDGE_LEN_HI},
    {EDGE_ONE_ZEROS, EDGE_LEN_HI, EDGE_ONE_ZEROS, EDGE_LEN_HI},
    {EDGE_ONE_ZEROS, EDGE_LEN_HI, EDGE_ONE_NINES, EDGE_LEN_HI},
    {EDGE_FIVES, EDGE_LEN_HI, EDGE_FOURS_FIVE, EDGE_LEN_HI},
    {EDGE_FOURS_FIVE, EDGE_LEN_HI, EDGE_FIVES, EDGE_LEN_HI},
    {EDGE_ONE_ZEROS, EDGE_LEN_LO, EDGE_ONE, EDGE_LEN_ONE},
    {EDGE_ONE, EDGE_LEN_ONE, EDGE_ONE_ZEROS, EDGE_LEN_LO},
    {EDGE_NINES, EDGE_LEN_HI, EDGE_NINES, EDGE_LEN_LO},
    {EDGE_NINES, EDGE_LEN_LO, EDGE_NINES, EDGE_LEN_HI},
};

static arith_status sub_edge_cases(const task_config *task, example_set *out)
{
    return operands_edge_cases(task, &minus, sub_cases, sizeof sub_cases / sizeof sub_cases[0],
                               out);
}

static arith_status sub_example_at(const task_config *task, uint64_t index, char *prompt,
                                   char *answer, size_t answer_cap)
{
    operands_example_at(task, &minus, index, prompt, answer, answer_cap);
    return ARITH_OK;
}

static arith_status sub_check_row(const task_config *task, const char *src, const char *tgt)
{
    return operands_check_row(&minus, true, "difference", src, tgt);
}

static arith_status sub_check_prompt(const task_config *task, const char *prompt)
{
    return operands_check_prompt(task, &minus, prompt);
}

const task_def sub_task = {
    .name = "sub",
    .summary = "a-b=, the exact difference, negative when b > a (\"12-345=\" -> \"-333\"); "
               "operands drawn as add draws them, any length",
    .unit = "digits",
    .unit_one = "digit",
    .tokenizer = TOK_CHAR,
    .tokenizers = 1u << TOK_CHAR,
    .format = &sub_format,
    .equals = "=",
    .check = task_check_lengths,
    .max_prompt_chars = operands_max_prompt_chars,
    .max_answer_chars = sub_max_answer_chars,
    .check_prompt = sub_check_prompt,
    .sample = sub_sample,
    .sample_lengths = sub_sample_lengths,
    .edge_cases = sub_edge_cases,
    .space = operands_space,
    .example_at = sub_example_at,
    .check_row = sub_check_row,
    .prompt_length = operands_prompt_length,
};
