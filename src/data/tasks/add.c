/* Task add: "a+b=" and the exact sum of two decimal operands of any length. Seed 001 draws each
 * operand digit by digit (so leading zeros vanish); --digits A..B draws each operand's length
 * first; --style spaced is seed 002's "a + b" with distinct operands. */
#include <string.h>

#include "data/tasks/shared.h"

static const binary_op plus = {'+', decimal_add_digits};

static int add_answer_digits(int width)
{
    return width + 1;
}

/* Column s's digits, a_s + b_s (--carries). */
static int add_column_sum(const char *a, int la, const char *b, int lb, int s)
{
    return (s < la ? a[la - 1 - s] - '0' : 0) + (s < lb ? b[lb - 1 - s] - '0' : 0);
}

static const digit_format add_format = {
    .op = '+', .answer_digits = add_answer_digits, .column_sum = add_column_sum};

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

/* ------------------------------------------------------------------------ carry chains */

/* How far a carry ripples: a column whose digits sum to 10 or more starts a chain of 1; a
 * column whose digits sum to exactly 9 passes an incoming carry on and makes the chain one
 * longer; any other column ends it. The answer's digit in a column depends on every column of
 * the chain that reaches it, so long chains are what addition asks of a model. Uniformly
 * random digits sum to 9 one time in ten, so their chains are short. */
static int chain_step(int sum, int carry_in, int run)
{
    return sum >= 10 ? 1 : sum == 9 && carry_in ? run + 1 : 0;
}

/* The longest carry chain of a + b given as digit strings (most significant first): 0 for
 * 12+34, 1 for 15+5 and for 99+99, 9 for 1+999999999 and 4445+5555's 4. */
static int longest_carry(const char *a, int la, const char *b, int lb)
{
    int w = la > lb ? la : lb, run = 0, longest = 0, carry = 0;
    for (int i = 0; i < w; i++) {
        int s = (i < la ? a[la - 1 - i] - '0' : 0) + (i < lb ? b[lb - 1 - i] - '0' : 0);
        run = chain_step(s, carry, run);
        carry = s + carry >= 10;
        if (run > longest)
            longest = run;
    }
    return longest;
}

/* The operands of a prompt, plain ("12+34=") or spaced ("12 + 34"): false if it has none. */
static bool read_operands(const char *prompt, const char **a, int *la, const char **b, int *lb)
{
    *a = prompt + strspn(prompt, " ");
    *la = (int)strspn(*a, "0123456789");
    *b = *a + *la;
    *b += strspn(*b, " +");
    *lb = (int)strspn(*b, "0123456789");
    return *la > 0 && *lb > 0;
}

static int add_carry_chain(const task_config *task, const char *prompt)
{
    (void)task;
    const char *a, *b;
    int la, lb;
    if (!read_operands(prompt, &a, &la, &b, &lb))
        return -1;
    return longest_carry(a, la, b, lb);
}

/* Column by column as written on paper: digit i = (a_i + b_i + carry) mod 10. */
static int add_answer_columns(const task_config *task, const char *prompt, int cap,
                              int8_t *digit, int8_t *carry_in)
{
    (void)task;
    const char *a, *b;
    int la, lb;
    if (!read_operands(prompt, &a, &la, &b, &lb))
        return -1;
    const int w = la > lb ? la : lb;
    int carry = 0, n = 0;
    for (int i = 0; i <= w && n < cap; i++, n++) {
        int s = (i < la ? a[la - 1 - i] - '0' : 0) + (i < lb ? b[lb - 1 - i] - '0' : 0) + carry;
        digit[n] = (int8_t)(s % 10);
        carry_in[n] = (int8_t)carry;
        carry = s >= 10;
    }
    return n;
}

/* One digit pair for a column, uniform over the pairs that keep the chain through it
 * (chain_step) in [lo, hi]: a digit of an operand the column lies beyond is 0, and the leading
 * digit of an operand longer than 1 is not. With probability `repeat` the previous column's
 * pair (*da, *db on entry) is taken again where it is one of them, which makes the runs of
 * equal digits random digits lack (100000000+0, 999999999+999999999, 4444+5555). Updates
 * *carry and *run. The sampler asks only for what some pair gives (a chain's start where both
 * operands have digits). */
static void carry_column(rng_state *rng, bool has_a, bool lead_a, bool has_b, bool lead_b,
                         int lo, int hi, double repeat, double zero, int *carry, int *run,
                         int *da, int *db)
{
    int pa[100], pb[100], n = 0, again = -1;
    /* with probability `zero` each digit is a 0 where one can be (zeros inside a number are
     * what seed 001's zero-padding makes look like padding: 0+80680, 2+301) */
    bool za = rng_uniform(rng) < zero, zb = rng_uniform(rng) < zero;
    for (int pass = 0; pass < 2 && n == 0; pass++, za = zb = false)
        for (int x = lead_a ? 1 : 0; x <= (has_a ? 9 : 0); x++)
            for (int y = lead_b ? 1 : 0; y <= (has_b ? 9 : 0); y++) {
                int r = chain_step(x + y, *carry, *run);
                if (r < lo || r > hi || (za && x != 0) || (zb && y != 0))
                    continue;
                if (x == *da && y == *db)
                    again = n;
                pa[n] = x;
                pb[n] = y;
                n++;
            }
    int k = n > 0 ? (int)rng_below(rng, (uint64_t)n) : 0;
    if (again >= 0 && rng_uniform(rng) < repeat)
        k = again;
    *da = n > 0 ? pa[k] : 0;
    *db = n > 0 ? pb[k] : 0;
    *run = chain_step(*da + *db, *carry, *run);
    *carry = *da + *db + *carry >= 10;
}

/* A sum whose longest carry chain is exactly `chain` columns: half with both operands of the
 * task's longest length (or one length from the range), half with lengths drawn apart (half
 * of those short, 1..3 digits; one of them always long enough for the chain); for chain 0
 * one in four has a zero operand. The chain starts at a random column where both operands have a digit, ripples
 * through digit sums of 9 (a lone operand's 9s, as in 1+999999999) and stops; the other
 * columns are random digits that make no chain as long. Two sums in three repeat a column's
 * digit pair in the next, and one in three has many zero digits (carry_column). */
static arith_status add_sample_carry(const task_config *task, rng_state *rng, int chain,
                                     char *prompt, char *answer, size_t answer_cap)
{
    const int hi = task->digits, lo = task->digits_min > 0 ? task->digits_min : 1;
    for (int attempt = 0;; attempt++) {
        int la, lb, mode = (int)rng_below(rng, 4);
        if (mode < 2) {
            la = lb = task->digits_min > 0 ? lo + (int)rng_below(rng, (uint64_t)(hi - lo + 1)) : hi;
        } else {
            /* lengths apart; one time in two both short (1..3 above the shortest) */
            int top = mode == 3 && hi - lo > 3 ? lo + 2 : hi;
            la = lo + (int)rng_below(rng, (uint64_t)(top - lo + 1));
            lb = lo + (int)rng_below(rng, (uint64_t)(top - lo + 1));
        }
        int *longer = la >= lb ? &la : &lb;
        if (*longer < chain) {
            int from = chain > lo ? chain : lo;
            *longer = from + (int)rng_below(rng, (uint64_t)(hi - from + 1));
        }
        char *a = prompt, *b = prompt + hi + 2;
        if (chain == 0 && lo == 1 && rng_below(rng, 4) == 0) {
            /* a zero operand: 0+x, x+0 or (one time in eight) 0+0 */
            int which = (int)rng_below(rng, 8);
            operand_draw_exact(a, la, rng);
            operand_draw_exact(b, lb, rng);
            if (which == 0 || which % 2 == 1)
                strcpy(a, "0");
            if (which == 0 || which % 2 == 0)
                strcpy(b, "0");
        } else {
            int w = la > lb ? la : lb, shorter = la < lb ? la : lb;
            int start = -1;
            if (chain > 0) {
                int last = w - chain < shorter - 1 ? w - chain : shorter - 1;
                start = (int)rng_below(rng, (uint64_t)last + 1);
            }
            const chain_style style = chain_style_draw(rng);
            int carry = 0, run = 0, da = -1, db = -1;
            for (int i = 0; i < w; i++) {
                int rlo, rhi; /* the chain: its start, then sums of 9 */
                chain_window(chain, start, i, &rlo, &rhi);
                carry_column(rng, i < la, i == la - 1 && la > 1, i < lb, i == lb - 1 && lb > 1,
                             rlo, rhi, style.repeat, style.zero, &carry, &run, &da, &db);
                if (i < la)
                    a[la - 1 - i] = (char)('0' + da);
                if (i < lb)
                    b[lb - 1 - i] = (char)('0' + db);
            }
            a[la] = '\0';
            b[lb] = '\0';
        }
        /* seed 002's spaced style draws distinct operands */
        if (task->style == STYLE_SPACED && strcmp(a, b) == 0 && attempt < 100)
            continue;
        operands_write(task, &plus, a, b, prompt, answer, answer_cap);
        return ARITH_OK;
    }
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

static arith_status add_check_prompt(const task_config *task, const char *prompt)
{
    return operands_check_prompt(task, &plus, prompt);
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
    .check_prompt = add_check_prompt,
    .sample = add_sample,
    .sample_lengths = add_sample_lengths,
    .edge_cases = add_edge_cases,
    .sample_carry = add_sample_carry,
    .carry_chain = add_carry_chain,
    .answer_columns = add_answer_columns,
    .space = operands_space,
    .example_at = add_example_at,
    .prompt_length = operands_prompt_length,
};
