/* What the task files share: drawing lengths, saturating counts, and the helpers of the tasks
 * on two decimal operands (add, mul, sub): digit-string arithmetic, operand drawing, writing
 * "a OP b=", its space of prompts, CSV rows and edge cases (shared.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/tasks/shared.h"

/* ------------------------------------------------------------------------------- counting */

uint64_t sat_mul(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

uint64_t sat_pow(uint64_t base, int exp)
{
    uint64_t r = 1;
    for (int i = 0; i < exp && r != UINT64_MAX; i++)
        r = sat_mul(r, base);
    return r;
}

int task_random_length(const task_config *task, rng_state *rng)
{
    if (task->digits_min <= 0)
        return task->digits;
    return task->digits_min + (int)rng_below(rng, (uint64_t)(task->digits - task->digits_min + 1));
}

/* -------------------------------------------------------------------- decimal arithmetic */

/* out = a + b by column addition from the right (the sum is written reversed, then flipped). */
void decimal_add_digits(char *out, size_t out_cap, const char *a, size_t la, const char *b,
                        size_t lb)
{
    size_t n = 0;
    int carry = 0;
    for (size_t i = 0; (i < la || i < lb || carry) && n + 1 < out_cap; i++) {
        int d = carry;
        if (i < la)
            d += a[la - 1 - i] - '0';
        if (i < lb)
            d += b[lb - 1 - i] - '0';
        out[n++] = (char)('0' + d % 10);
        carry = d / 10;
    }
    while (n > 1 && out[n - 1] == '0')
        n--;
    if (n == 0)
        out[n++] = '0';
    out[n] = '\0';
    for (size_t i = 0; i < n / 2; i++) {
        char t = out[i];
        out[i] = out[n - 1 - i];
        out[n - 1 - i] = t;
    }
}

void decimal_add(char *out, size_t out_cap, const char *a, const char *b)
{
    decimal_add_digits(out, out_cap, a, strlen(a), b, strlen(b));
}

/* out = a * b: schoolbook multiplication into la + lb columns, then carries, leading zeros
 * dropped. */
void decimal_mul_digits(char *out, size_t out_cap, const char *a, size_t la, const char *b,
                        size_t lb)
{
    size_t n = la + lb;
    uint32_t *col = calloc(n > 0 ? n : 1, sizeof *col); /* col[k]: 10^k, at most 9*9*min(la,lb) */
    if (!col || out_cap < 2) {
        free(col);
        if (out_cap > 0)
            out[0] = '\0';
        return;
    }
    for (size_t i = 0; i < la; i++)
        for (size_t j = 0; j < lb; j++)
            col[i + j] += (uint32_t)(a[la - 1 - i] - '0') * (uint32_t)(b[lb - 1 - j] - '0');
    uint64_t carry = 0;
    for (size_t k = 0; k < n; k++) {
        uint64_t d = col[k] + carry;
        col[k] = (uint32_t)(d % 10);
        carry = d / 10;
    }
    size_t top = n;
    while (top > 1 && col[top - 1] == 0)
        top--;
    size_t len = 0;
    for (size_t k = top; k-- > 0 && len + 1 < out_cap;)
        out[len++] = (char)('0' + col[k]);
    out[len] = '\0';
    free(col);
}

/* ------------------------------------------------------------------------------ operands */

/* N random digits as a number: leading zeros vanish, all zeros give "0". This is also a
 * uniform draw from 0..10^N-1. */
static void random_number(char *out, int digits, rng_state *rng)
{
    int n = 0;
    for (int i = 0; i < digits; i++) {
        char d = (char)('0' + rng_below(rng, 10));
        if (n == 0 && d == '0')
            continue;
        out[n++] = d;
    }
    if (n == 0)
        out[n++] = '0';
    out[n] = '\0';
}

chain_style chain_style_draw(rng_state *rng)
{
    static const double repeats[] = {0.0, 0.5, 0.9};
    chain_style s;
    s.repeat = repeats[rng_below(rng, 3)];
    s.zero = rng_below(rng, 3) == 0 ? 0.4 : 0.0;
    return s;
}

void chain_window(int chain, int start, int i, int *lo, int *hi)
{
    *lo = 0;
    *hi = chain;
    if (chain > 0 && i >= start && i < start + chain)
        *lo = *hi = i - start + 1;
    else if (chain > 0 && i == start + chain)
        *hi = 1;
}

void operand_draw_exact(char *out, int n, rng_state *rng)
{
    for (int i = 0; i < n; i++)
        out[i] = (char)(i == 0 && n > 1 ? '1' + rng_below(rng, 9) : '0' + rng_below(rng, 10));
    out[n] = '\0';
}

void operand_draw(char *out, const task_config *task, rng_state *rng)
{
    if (task->digits_min <= 0) {
        random_number(out, task->digits, rng);
        return;
    }
    operand_draw_exact(out, task_random_length(task, rng), rng);
}

/* The task as its second operand sees it: digits and digits_min from digits_b (mul's n x k
 * products), or the task itself. */
static task_config operand_b_view(const task_config *task)
{
    task_config t = *task;
    t.digits = task_digits_b(task);
    t.digits_min = task_digits_b_min(task);
    return t;
}

void operands_write(const task_config *task, const binary_op *op, const char *a, const char *b,
                    char *prompt, char *answer, size_t answer_cap)
{
    size_t la = strlen(a), lb = strlen(b);
    char sep[4] = {op->symbol, '\0'};
    if (task->style == STYLE_SPACED)
        snprintf(sep, sizeof sep, " %c ", op->symbol);
    size_t ls = strlen(sep);
    memmove(prompt + la + ls, b, lb + 1);
    memmove(prompt, a, la);
    memcpy(prompt + la, sep, ls);
    op->compute(answer, answer_cap, prompt, la, prompt + la + ls, lb);
    size_t n = la + ls + lb;
    if (task->style != STYLE_SPACED)
        prompt[n++] = '=';
    prompt[n] = '\0';
}

void operands_sample(const task_config *task, const binary_op *op, rng_state *rng, char *prompt,
                     char *answer, size_t answer_cap)
{
    /* Both operands are drawn into the prompt buffer (a at the start, b after the widest a),
     * then moved into place. Spaced: a != b, as seed 002 draws ordered pairs of distinct
     * numbers. (Seed 001's "a+b=" comes out draw for draw as it always has: generated data
     * sets depend on it.) */
    const task_config tb = operand_b_view(task);
    char *a = prompt, *b = prompt + task->digits + 1;
    operand_draw(a, task, rng);
    do
        operand_draw(b, &tb, rng);
    while (task->style == STYLE_SPACED && strcmp(a, b) == 0);
    operands_write(task, op, a, b, prompt, answer, answer_cap);
}

void operands_sample_lengths(const task_config *task, const binary_op *op, rng_state *rng,
                             int la, int lb, char *prompt, char *answer, size_t answer_cap)
{
    /* a at the start, b after it; operands_write moves b into place */
    char *a = prompt, *b = prompt + la + 1;
    operand_draw_exact(a, la, rng);
    do
        operand_draw_exact(b, lb, rng);
    while (task->style == STYLE_SPACED && strcmp(a, b) == 0);
    operands_write(task, op, a, b, prompt, answer, answer_cap);
}

int operands_max_prompt_chars(const task_config *task)
{
    const int both = task->digits + task_digits_b(task);
    if (task->style == STYLE_SPACED)
        return both + 3; /* a + b */
    return both + 2;     /* a+b= */
}

/* The operands operand_draw gives are exactly the integers lo..lo+count-1: 0..10^digits-1
 * digit by digit, and with a length range 10^(digits_min-1)..10^digits-1 (from 0 when
 * digits_min is 1). Saturates. */
static void operand_range(const task_config *task, uint64_t *lo, uint64_t *count)
{
    uint64_t top = sat_pow(10, task->digits);
    *lo = task->digits_min > 1 ? sat_pow(10, task->digits_min - 1) : 0;
    *count = top == UINT64_MAX ? UINT64_MAX : top - *lo;
}

uint64_t operands_space(const task_config *task)
{
    const task_config tb = operand_b_view(task);
    uint64_t lo, n, lo_b, n_b;
    operand_range(task, &lo, &n);
    operand_range(&tb, &lo_b, &n_b);
    if (n == UINT64_MAX || n_b == UINT64_MAX)
        return UINT64_MAX;
    return sat_mul(n, task->style == STYLE_SPACED ? n - 1 : n_b);
}

void operands_example_at(const task_config *task, const binary_op *op, uint64_t index,
                         char *prompt, char *answer, size_t answer_cap)
{
    const task_config tb = operand_b_view(task);
    uint64_t lo, n, lo_b, n_b, a, b;
    operand_range(task, &lo, &n);
    operand_range(&tb, &lo_b, &n_b);
    if (task->style == STYLE_SPACED) {
        a = index / (n - 1);
        b = index % (n - 1);
        b += b >= a; /* skip b == a */
    } else {
        a = index / n_b;
        b = index % n_b;
    }
    char sa[24], sb[24];
    snprintf(sa, sizeof sa, "%llu", (unsigned long long)(lo + a));
    snprintf(sb, sizeof sb, "%llu", (unsigned long long)(lo_b + b));
    operands_write(task, op, sa, sb, prompt, answer, answer_cap);
}

arith_status operands_check_row(const binary_op *op, bool signed_answers, const char *what,
                                const char *src, const char *tgt)
{
    size_t plen = strlen(src);
    size_t la = strspn(src, "0123456789");
    size_t lb = src[la] == op->symbol ? strspn(src + la + 1, "0123456789") : 0;
    const char *digits = tgt + (signed_answers && tgt[0] == '-');
    size_t lt = strspn(digits, "0123456789");
    if (la == 0 || lb == 0 || la + 1 + lb + 1 != plen || lt == 0 || digits[lt] != '\0')
        return arith_error(ARITH_ERR_FORMAT, "\"%s\" -> \"%s\" is not a %s row (src: digits, "
                           "'%c', digits, '='; tgt: %s)", src, tgt, what, op->symbol,
                           signed_answers ? "an optional '-' and digits" : "digits");
    return ARITH_OK;
}

arith_status operands_check_prompt(const task_config *task, const binary_op *op,
                                   const char *prompt)
{
    bool spaced = task->style == STYLE_SPACED;
    const char *p = prompt;
    size_t la = strspn(p, "0123456789");
    const char *b = p + la;
    /* the operator, with a space on either side when spaced */
    char sep[4];
    snprintf(sep, sizeof sep, spaced ? " %c " : "%c", op->symbol);
    size_t ls = strlen(sep);
    bool ok = la > 0 && strncmp(b, sep, ls) == 0;
    b += ok ? ls : 0;
    size_t lb = ok ? strspn(b, "0123456789") : 0;
    ok = ok && lb > 0 && strcmp(b + lb, spaced ? "" : "=") == 0;
    if (!ok)
        return arith_error(ARITH_ERR_DATA, "task %s%s reads two numbers with %s%c%s "
                           "between them%s", task->def->name,
                           spaced ? " in style spaced" : "", spaced ? "\" " : "'", op->symbol,
                           spaced ? " \"" : "'", spaced ? " and no '='" : " and '=' after");
    if ((la > 1 && p[0] == '0') || (lb > 1 && b[0] == '0'))
        return arith_error(ARITH_ERR_DATA, "operand \"%.*s\" has a leading zero; "
                           "write numbers without them (a run that zero-pads adds them itself)",
                           la > 1 && p[0] == '0' ? (int)la : (int)lb,
                           la > 1 && p[0] == '0' ? p : b);
    return ARITH_OK;
}

int operands_prompt_length(const char *prompt)
{
    int longest = 0, run = 0;
    for (const char *p = prompt; *p; p++) {
        run = *p >= '0' && *p <= '9' ? run + 1 : 0;
        if (run > longest)
            longest = run;
    }
    return longest;
}

/* ---------------------------------------------------------------------------- edge cases */

const edge_case operands_edge_cases_default[] = {
    {EDGE_ZERO, EDGE_LEN_ONE, EDGE_ZERO, EDGE_LEN_ONE},
    {EDGE_ZERO, EDGE_LEN_ONE, EDGE_X, EDGE_LEN_HI},
    {EDGE_X, EDGE_LEN_HI, EDGE_ZERO, EDGE_LEN_ONE},
    {EDGE_NINES, EDGE_LEN_HI, EDGE_ONE, EDGE_LEN_ONE},
    {EDGE_ONE, EDGE_LEN_ONE, EDGE_NINES, EDGE_LEN_HI},
    {EDGE_NINES, EDGE_LEN_HI, EDGE_NINES, EDGE_LEN_HI},
    {EDGE_EIGHT, EDGE_LEN_ONE, EDGE_X, EDGE_LEN_HI},
    {EDGE_X, EDGE_LEN_HI, EDGE_EIGHT, EDGE_LEN_ONE},
    {EDGE_ONE, EDGE_LEN_ONE, EDGE_X, EDGE_LEN_HI},
    {EDGE_ONE_NINES, EDGE_LEN_HI, EDGE_ONE, EDGE_LEN_ONE},
    {EDGE_ONE_ZEROS, EDGE_LEN_HI, EDGE_ZERO, EDGE_LEN_ONE},
    {EDGE_ONE_ZEROS, EDGE_LEN_HI, EDGE_ONE_ZEROS, EDGE_LEN_HI},
    {EDGE_FIVES, EDGE_LEN_HI, EDGE_FIVES, EDGE_LEN_HI},
    {EDGE_FOURS_FIVE, EDGE_LEN_HI, EDGE_FIVES, EDGE_LEN_HI},
    {EDGE_NINES, EDGE_LEN_HI, EDGE_ZERO, EDGE_LEN_ONE},
    {EDGE_NINES, EDGE_LEN_LO, EDGE_ONE, EDGE_LEN_ONE},
    {EDGE_NINES, EDGE_LEN_HI, EDGE_NINES, EDGE_LEN_LO},
    {EDGE_ONE_ZEROS, EDGE_LEN_LO, EDGE_NINES, EDGE_LEN_HI},
};
const size_t operands_edge_cases_default_count =
    sizeof operands_edge_cases_default / sizeof operands_edge_cases_default[0];

/* Writes pattern p with n digits (the single-digit patterns ignore n). */
static void edge_operand(char *out, edge_pattern p, int n)
{
    switch (p) {
    case EDGE_ZERO:
    case EDGE_ONE:
    case EDGE_EIGHT:
        out[0] = p == EDGE_ZERO ? '0' : p == EDGE_ONE ? '1' : '8';
        out[1] = '\0';
        return;
    default:
        break;
    }
    for (int i = 0; i < n; i++) {
        char d = '0';
        switch (p) {
        case EDGE_NINES: d = '9'; break;
        case EDGE_X: d = (char)('0' + (i + 1) % 10); break;
        case EDGE_ONE_NINES: d = i == 0 ? '1' : '9'; break;
        case EDGE_ONE_ZEROS: d = i == 0 ? '1' : '0'; break;
        case EDGE_FIVES: d = '5'; break;
        case EDGE_FOURS_FIVE: d = i == n - 1 ? '5' : '4'; break;
        default: break;
        }
        out[i] = d;
    }
    out[n] = '\0';
}

arith_status operands_edge_cases(const task_config *task, const binary_op *op,
                                 const edge_case *cases, size_t n, example_set *out)
{
    const int hi = task->digits, lo = task->digits_min > 0 ? task->digits_min : 1;
    const int hi_b = task_digits_b(task);
    const int lo_b = task_digits_b_min(task) > 0 ? task_digits_b_min(task) : 1;
    const int length[] = {[EDGE_LEN_ONE] = 1, [EDGE_LEN_HI] = hi, [EDGE_LEN_LO] = lo};
    const int length_b[] = {[EDGE_LEN_ONE] = 1, [EDGE_LEN_HI] = hi_b, [EDGE_LEN_LO] = lo_b};
    size_t prompt_cap = (size_t)hi + hi_b + 8, answer_cap = (size_t)hi + hi_b + 4;
    char *a = malloc((size_t)hi + 2), *b = malloc((size_t)hi_b + 2);
    char *prompt = malloc(prompt_cap), *answer = malloc(answer_cap);
    arith_status st = ARITH_OK;
    if (!a || !b || !prompt || !answer)
        st = arith_error(ARITH_ERR_MEMORY, "out of memory building edge cases");
    const int first = out->count;
    for (size_t i = 0; i < n && !st; i++) {
        edge_operand(a, cases[i].a, length[cases[i].la]);
        edge_operand(b, cases[i].b, length_b[cases[i].lb]);
        operands_write(task, op, a, b, prompt, answer, answer_cap);
        bool seen = false;
        for (int k = first; k < out->count && !seen; k++)
            seen = strcmp(out->items[k].prompt, prompt) == 0;
        if (!seen)
            st = examples_push(out, prompt, answer);
    }
    free(a);
    free(b);
    free(prompt);
    free(answer);
    return st;
}
