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

/* ----------------------------------------------------------------------- borrow chains */

/* The carries of subtraction: the larger magnitude less the smaller, column by column from the
 * right. A column whose digit is below the other's borrows on its own and starts a chain of 1;
 * a column of equal digits passes an incoming borrow on and makes the chain one longer (as a
 * digit sum of 9 passes a carry on in add); any other column ends it. 1000-1 has a chain of 3;
 * the larger operand's top column never borrows, so a chain is at most digits - 1 long. */
static int borrow_step(int d, int borrow_in, int run)
{
    return d < 0 ? 1 : d == 0 && borrow_in ? run + 1 : 0;
}

/* The longest borrow chain of big - small (digit strings, big >= small). */
static int longest_borrow(const char *big, int lbig, const char *small, int lsmall)
{
    int run = 0, longest = 0, borrow = 0;
    for (int i = 0; i < lbig; i++) {
        int d = big[lbig - 1 - i] - '0' - (i < lsmall ? small[lsmall - 1 - i] - '0' : 0);
        run = borrow_step(d, borrow, run);
        borrow = d - borrow < 0;
        if (run > longest)
            longest = run;
    }
    return longest;
}

static int sub_carry_chain(const task_config *task, const char *prompt)
{
    (void)task;
    const char *a = prompt, *b;
    int la = (int)strspn(a, "0123456789");
    if (la == 0 || a[la] != '-')
        return -1;
    b = a + la + 1;
    int lb = (int)strspn(b, "0123456789");
    if (lb == 0)
        return -1;
    return compare_digits(a, (size_t)la, b, (size_t)lb) >= 0 ? longest_borrow(a, la, b, lb)
                                                              : longest_borrow(b, lb, a, la);
}

static int sub_chain_max(const task_config *task)
{
    return task->digits - 1;
}

/* A difference whose longest borrow chain is exactly `chain`: lengths as add's carry sums draw
 * them (half both of one length, half apart, half of those short); the larger operand, `big`,
 * is built column by column from the right, each column's digit pair uniform over those that
 * keep the chain where it must be (its start, where the smaller operand has a digit, then equal
 * digits; elsewhere no chain as long) and the top column borrowing nothing, so that big is the
 * larger; with add's repeats of a column's pair and runs of zeros. Half the prompts are
 * written the other way round, small - big, with a negative answer. */
static arith_status sub_sample_carry(const task_config *task, rng_state *rng, int chain,
                                     char *prompt, char *answer, size_t answer_cap)
{
    const int hi = task->digits, lo = task->digits_min > 0 ? task->digits_min : 1;
    int lbig, lsmall, mode = (int)rng_below(rng, 4);
    if (mode < 2) {
        lbig = lsmall = task->digits_min > 0 ? lo + (int)rng_below(rng, (uint64_t)(hi - lo + 1))
                                             : hi;
    } else {
        int top = mode == 3 && hi - lo > 3 ? lo + 2 : hi;
        int x = lo + (int)rng_below(rng, (uint64_t)(top - lo + 1));
        int y = lo + (int)rng_below(rng, (uint64_t)(top - lo + 1));
        lbig = x > y ? x : y;
        lsmall = x > y ? y : x;
    }
    if (lbig <= chain) { /* room for the chain below the top column */
        lbig = chain + 1 + (int)rng_below(rng, (uint64_t)(hi - chain));
        if (lsmall > lbig)
            lsmall = lbig;
    }
    /* the prompt buffer holds the operands in the order written (operands_write's rule) */
    const bool swap = rng_below(rng, 2);
    char *big = swap ? prompt + hi + 2 : prompt, *small = swap ? prompt : prompt + hi + 2;
    int start = -1;
    if (chain > 0) {
        int last = lbig - 1 - chain < lsmall - 1 ? lbig - 1 - chain : lsmall - 1;
        start = (int)rng_below(rng, (uint64_t)last + 1);
    }
    const chain_style style = chain_style_draw(rng);
    int borrow = 0, run = 0, px = -1, py = -1;
    for (int i = 0; i < lbig; i++) {
        int rlo, rhi; /* the chain: its start, then equal digits */
        chain_window(chain, start, i, &rlo, &rhi);
        const bool top = i == lbig - 1, has_y = i < lsmall;
        const bool lead_x = top && lbig > 1, lead_y = i == lsmall - 1 && lsmall > 1;
        /* the pairs allowed here; with probability `zero` each digit a 0 where one can be */
        int pairs[100], n = 0, again = -1;
        bool zx = rng_uniform(rng) < style.zero, zy = rng_uniform(rng) < style.zero;
        for (int pass = 0; pass < 2 && n == 0; pass++, zx = zy = false)
            for (int x = lead_x ? 1 : 0; x <= 9; x++)
                for (int y = lead_y ? 1 : 0; y <= (has_y ? 9 : 0); y++) {
                    int r = borrow_step(x - y, borrow, run);
                    if (r < rlo || r > rhi || (top && x - y - borrow < 0) || (zx && x) ||
                        (zy && y))
                        continue;
                    if (x == px && y == py)
                        again = n;
                    pairs[n++] = 10 * x + y;
                }
        int k = n > 0 ? (int)rng_below(rng, (uint64_t)n) : 0;
        if (again >= 0 && rng_uniform(rng) < style.repeat)
            k = again;
        px = n > 0 ? pairs[k] / 10 : 0;
        py = n > 0 ? pairs[k] % 10 : 0;
        run = borrow_step(px - py, borrow, run);
        borrow = px - py - borrow < 0;
        big[lbig - 1 - i] = (char)('0' + px);
        if (has_y)
            small[lsmall - 1 - i] = (char)('0' + py);
    }
    big[lbig] = small[lsmall] = '\0';
    if (swap)
        operands_write(task, &minus, small, big, prompt, answer, answer_cap);
    else
        operands_write(task, &minus, big, small, prompt, answer, answer_cap);
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
               "operands drawn as add draws them, any length; its carries are borrow chains",
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
    .sample_carry = sub_sample_carry,
    .carry_chain = sub_carry_chain,
    .chain_max = sub_chain_max,
    .space = operands_space,
    .example_at = sub_example_at,
    .check_row = sub_check_row,
    .prompt_length = operands_prompt_length,
};
