/* Tasks and data sets: generating examples, keeping them distinct, loading and saving CSV. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "io/io.h"

/* ----------------------------------------------------------------------------------- tasks */

static const char *const task_names[] = {"add", "expr", "count", "xor", "symbolic", "mul"};
#define N_TASKS ((int)(sizeof task_names / sizeof task_names[0]))
static const char *const style_names[] = {"plain", "spaced"};
#define N_STYLES ((int)(sizeof style_names / sizeof style_names[0]))

arith_status task_parse(task_kind *kind, const char *name)
{
    for (int i = 0; i < N_TASKS; i++) {
        if (strcmp(name, task_names[i]) == 0) {
            *kind = (task_kind)i;
            return ARITH_OK;
        }
    }
    return arith_error(ARITH_ERR_ARG, "unknown task '%s' (valid: add, expr, count, xor, symbolic, mul)", name);
}

const char *task_name(task_kind kind)
{
    return (int)kind >= 0 && (int)kind < N_TASKS ? task_names[kind] : NULL;
}

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

/* Task `expr` (seed 000): operands uniform in 0..EXPR_OPERAND_MAX, operators uniform in + - *.
 * Seed 000's ten sample rows all have three operands, four without parentheses and three each
 * with parentheses around the first two or the last two; its own test prompts have two. So:
 * 2 operands with probability 1/10 ("a+b=", never parenthesized), else 3 operands with
 * probability 1/3 each for no parentheses ("a+b*c="), "(a+b)*c=" and "a*(b+c)=". */
#define EXPR_OPERAND_MAX 50
#define EXPR_TWO_OPERANDS_IN 10   /* 1 in 10 draws has two operands */
static const char expr_ops[3] = {'+', '-', '*'};
enum { EXPR_FLAT = 0, EXPR_PAREN_LEFT, EXPR_PAREN_RIGHT };
/* Prompts: 2 operands 51*51*3 = 7,803; 3 operands 51^3 * 3^2 * 3 = 3,581,577. */
#define EXPR_SPACE_2 ((uint64_t)51 * 51 * 3)
#define EXPR_SPACE_3 ((uint64_t)51 * 51 * 51 * 9 * 3)
/* Longest prompt "(50*50)*50=" (11); largest magnitude answer 50*50*50 = 125000 (6; the most
 * negative, 0-50*50 = -2500, is shorter). */
#define EXPR_PROMPT_MAX 11
#define EXPR_ANSWER_MAX 6

/* Decimal characters needed for numbers up to n. */
static int decimal_width(long long n)
{
    int w = 1;
    for (; n >= 10; n /= 10)
        w++;
    return w;
}

int task_max_prompt_chars(const task_config *task)
{
    switch (task->kind) {
    case TASK_EXPR:
        return EXPR_PROMPT_MAX;
    case TASK_COUNT:
        return task->digits + 1; /* bits then = */
    case TASK_XOR:
        return 2 * task->digits + 2; /* a b= */
    case TASK_SYMBOLIC:
        return (int)SYM_TEXT_CAP(task->sym.max_tokens) + 1; /* f, then " =" */
    case TASK_ADD:
    case TASK_MUL:
        break;
    }
    if (task->style == STYLE_SPACED)
        return 2 * task->digits + 3; /* a + b */
    return 2 * task->digits + 2;     /* a + b = */
}

int task_max_answer_chars(const task_config *task)
{
    switch (task->kind) {
    case TASK_EXPR:
        return EXPR_ANSWER_MAX;
    case TASK_COUNT:
        return decimal_width(task->digits > 0 ? task->digits : 0);
    case TASK_XOR:
        return task->digits;
    case TASK_SYMBOLIC:
        return (int)SYM_TEXT_CAP(task->sym.max_tokens);
    case TASK_MUL:
        return 2 * task->digits;
    case TASK_ADD:
        break;
    }
    return task->digits + 1;
}

/* The configuration errors every task shares; task_sample and dataset_generate check first. */
static arith_status task_check(const task_config *task)
{
    if ((int)task->kind < 0 || (int)task->kind >= N_TASKS)
        return arith_error(ARITH_ERR_ARG, "unknown task %d", (int)task->kind);
    if ((int)task->style < 0 || (int)task->style >= N_STYLES)
        return arith_error(ARITH_ERR_ARG, "unknown style %d", (int)task->style);
    if (task->style != STYLE_PLAIN && task->kind != TASK_ADD)
        return arith_error(ARITH_ERR_ARG, "style %s is only for task add (task %s)",
                           task_style_name(task->style), task_name(task->kind));
    if (task->kind == TASK_EXPR)
        return ARITH_OK; /* digits are not used: operands are 0..50 by definition */
    if (task->kind == TASK_SYMBOLIC) {
        if ((int)task->subtask < 0 || (int)task->subtask > SYM_INTEGRAL)
            return arith_error(ARITH_ERR_ARG, "unknown symbolic subtask %d", (int)task->subtask);
        return sym_config_check(&task->sym);
    }
    if (task->digits < 1)
        return arith_error(ARITH_ERR_ARG, "--digits must be at least 1 (got %d)", task->digits);
    if (task->digits_min < 0 || task->digits_min > task->digits)
        return arith_error(ARITH_ERR_ARG,
                           "the digit range %d..%d is empty (the lower end must be 1..%d)",
                           task->digits_min, task->digits, task->digits);
    return ARITH_OK;
}

/* out = a + b for digit strings of explicit lengths (column addition from the right; the
 * sum is written reversed, then flipped). */
static void decimal_add_digits(char *out, size_t out_cap, const char *a, size_t la, const char *b,
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

/* A length uniform in [digits_min, digits], or exactly digits when digits_min is 0. */
static int random_length(const task_config *task, rng_state *rng)
{
    if (task->digits_min <= 0)
        return task->digits;
    return task->digits_min + (int)rng_below(rng, (uint64_t)(task->digits - task->digits_min + 1));
}

/* One operand of task add: digit by digit (digits_min == 0), or a length from the range and
 * then that many digits, the first nonzero unless the length is 1. */
static void random_operand(char *out, const task_config *task, rng_state *rng)
{
    if (task->digits_min <= 0) {
        random_number(out, task->digits, rng);
        return;
    }
    int len = random_length(task, rng);
    for (int i = 0; i < len; i++)
        out[i] = (char)(i == 0 && len > 1 ? '1' + rng_below(rng, 9) : '0' + rng_below(rng, 10));
    out[len] = '\0';
}

/* out = a * b for digit strings of explicit lengths: schoolbook multiplication into la + lb
 * columns, then carries, leading zeros dropped. */
static void decimal_mul_digits(char *out, size_t out_cap, const char *a, size_t la, const char *b,
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

/* Writes "a+b=" or "a + b" and the sum. a may be the prompt buffer itself and b may lie in it
 * after a (task_sample draws them there): b is moved first, then the separator written. */
static void format_add(const task_config *task, const char *a, const char *b, char *prompt,
                       char *answer, size_t answer_cap)
{
    size_t la = strlen(a), lb = strlen(b);
    const char *sep = task->kind == TASK_MUL ? "*" : task->style == STYLE_SPACED ? " + " : "+";
    size_t ls = strlen(sep);
    memmove(prompt + la + ls, b, lb + 1);
    memmove(prompt, a, la);
    memcpy(prompt + la, sep, ls);
    if (task->kind == TASK_MUL)
        decimal_mul_digits(answer, answer_cap, prompt, la, prompt + la + ls, lb);
    else
        decimal_add_digits(answer, answer_cap, prompt, la, prompt + la + ls, lb);
    size_t n = la + ls + lb;
    if (task->style != STYLE_SPACED)
        prompt[n++] = '=';
    prompt[n] = '\0';
}

static long long expr_apply(char op, long long x, long long y)
{
    return op == '+' ? x + y : op == '-' ? x - y : x * y;
}

/* Builds an expr prompt from its structure and computes its value from the same structure
 * (not from the text): n operands v[0..n), operators op[0..n-1), a parenthesis shape. */
static long long expr_build(int n, const int *v, const char *op, int shape, char *prompt)
{
    long long value;
    if (n == 2) {
        sprintf(prompt, "%d%c%d=", v[0], op[0], v[1]);
        return expr_apply(op[0], v[0], v[1]);
    }
    switch (shape) {
    case EXPR_PAREN_LEFT:
        sprintf(prompt, "(%d%c%d)%c%d=", v[0], op[0], v[1], op[1], v[2]);
        value = expr_apply(op[1], expr_apply(op[0], v[0], v[1]), v[2]);
        break;
    case EXPR_PAREN_RIGHT:
        sprintf(prompt, "%d%c(%d%c%d)=", v[0], op[0], v[1], op[1], v[2]);
        value = expr_apply(op[0], v[0], expr_apply(op[1], v[1], v[2]));
        break;
    default:
        sprintf(prompt, "%d%c%d%c%d=", v[0], op[0], v[1], op[1], v[2]);
        if (op[1] == '*' && op[0] != '*') /* a+b*c: the product first */
            value = expr_apply(op[0], v[0], expr_apply(op[1], v[1], v[2]));
        else                              /* left to right */
            value = expr_apply(op[1], expr_apply(op[0], v[0], v[1]), v[2]);
        break;
    }
    return value;
}

/* Writes the answer of an expr prompt after checking the structural value against an
 * independent parse of the text. */
static arith_status expr_finish(const char *prompt, long long value, char *answer,
                                size_t answer_cap)
{
    long long check;
    arith_status st = expr_evaluate(prompt, &check);
    if (st)
        return arith_error_wrap(ARITH_ERR_STATE, "internal error: task expr built ");
    if (check != value)
        return arith_error(ARITH_ERR_STATE,
                           "internal error: task expr built \"%s\" with value %lld, but the "
                           "expression evaluates to %lld", prompt, value, check);
    snprintf(answer, answer_cap, "%lld", value);
    return ARITH_OK;
}

/* Writes the count answer: the number of '1' characters in bits[0..len). */
static void count_finish(char *prompt, int len, char *answer, size_t answer_cap)
{
    int ones = 0;
    for (int i = 0; i < len; i++)
        ones += prompt[i] == '1';
    prompt[len] = '=';
    prompt[len + 1] = '\0';
    snprintf(answer, answer_cap, "%d", ones);
}

/* Writes "a b=" and a XOR b for two bit strings of equal length (leading zeros kept). */
static void xor_finish(const char *a, const char *b, int len, char *prompt, char *answer)
{
    for (int i = 0; i < len; i++)
        answer[i] = a[i] == b[i] ? '0' : '1';
    answer[len] = '\0';
    memmove(prompt + len + 1, b, (size_t)len);
    memmove(prompt, a, (size_t)len);
    prompt[len] = ' ';
    prompt[2 * len + 1] = '=';
    prompt[2 * len + 2] = '\0';
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
                           "digits", task_name(task->kind), task->digits);
    switch (task->kind) {
    case TASK_ADD:
    case TASK_MUL: {
        if (task->kind == TASK_ADD && task->style == STYLE_PLAIN && task->digits_min <= 0) {
            /* seed 001: prompt = "a+b=", built in place; the sum is read off the prompt's
             * operands. (Kept draw for draw: generated data sets depend on it.) */
            random_number(prompt, task->digits, rng);
            size_t la = strlen(prompt);
            prompt[la] = '+';
            random_number(prompt + la + 1, task->digits, rng);
            size_t lb = strlen(prompt + la + 1);
            prompt[la + 1 + lb] = '=';
            prompt[la + 2 + lb] = '\0';
            decimal_add_digits(answer, answer_cap, prompt, la, prompt + la + 1, lb);
            return ARITH_OK;
        }
        /* Both operands are drawn into the prompt buffer (a at the start, b after the widest
         * a), then moved into place. Spaced: a != b, as seed 002 draws ordered pairs of
         * distinct numbers. */
        char *a = prompt, *b = prompt + task->digits + 1;
        random_operand(a, task, rng);
        do
            random_operand(b, task, rng);
        while (task->style == STYLE_SPACED && strcmp(a, b) == 0);
        format_add(task, a, b, prompt, answer, answer_cap);
        return ARITH_OK;
    }
    case TASK_EXPR: {
        int v[3];
        char op[2];
        int n = rng_below(rng, EXPR_TWO_OPERANDS_IN) == 0 ? 2 : 3;
        for (int i = 0; i < n; i++)
            v[i] = (int)rng_below(rng, EXPR_OPERAND_MAX + 1);
        for (int i = 0; i < n - 1; i++)
            op[i] = expr_ops[rng_below(rng, 3)];
        int shape = n == 3 ? (int)rng_below(rng, 3) : EXPR_FLAT;
        long long value = expr_build(n, v, op, shape, prompt);
        return expr_finish(prompt, value, answer, answer_cap);
    }
    case TASK_COUNT: {
        int len = random_length(task, rng);
        uint64_t bits = 0;
        for (int i = 0; i < len; i++) {
            if (i % 64 == 0)
                bits = rng_u64(rng);
            prompt[i] = (char)('0' + (bits & 1));
            bits >>= 1;
        }
        count_finish(prompt, len, answer, answer_cap);
        return ARITH_OK;
    }
    case TASK_SYMBOLIC: {
        /* draws are rejected now and then (a constant f, an f' that is 0, too long, ...) */
        for (int tries = 0; tries < 100000; tries++) {
            if (!sym_generate(rng, &task->sym, task->subtask, prompt, prompt_cap - 2, answer,
                              answer_cap))
                continue;
            strcat(prompt, " =");
            return ARITH_OK;
        }
        return arith_error(ARITH_ERR_ARG, "task symbolic: 100000 draws in a row were rejected; "
                           "the expression limits (max_ops %d, max_tokens %d) are too tight",
                           task->sym.max_ops, task->sym.max_tokens);
    }
    case TASK_XOR: {
        /* both strings drawn into the answer buffer's room in the prompt: a, then b */
        int len = random_length(task, rng);
        char *a = prompt, *b = prompt + len + 1;
        uint64_t bits = 0;
        for (int i = 0; i < 2 * len; i++) {
            if (i % 64 == 0)
                bits = rng_u64(rng);
            (i < len ? a : b)[i < len ? i : i - len] = (char)('0' + (bits & 1));
            bits >>= 1;
        }
        xor_finish(a, b, len, prompt, answer);
        return ARITH_OK;
    }
    }
    return arith_error(ARITH_ERR_ARG, "task_sample: unknown task %d", (int)task->kind);
}

/* n digits, the first nonzero unless n is 1. */
static void random_digits_exact(char *out, int n, rng_state *rng)
{
    for (int i = 0; i < n; i++)
        out[i] = (char)(i == 0 && n > 1 ? '1' + rng_below(rng, 9) : '0' + rng_below(rng, 10));
    out[n] = '\0';
}

arith_status task_sample_lengths(const task_config *task, rng_state *rng, int la, int lb,
                                 char *prompt, size_t prompt_cap, char *answer,
                                 size_t answer_cap)
{
    if (task->kind != TASK_ADD && task->kind != TASK_MUL)
        return arith_error(ARITH_ERR_ARG, "operands of given lengths exist only for tasks add "
                           "and mul (task %s)", task_name(task->kind));
    if (la < 1 || lb < 1 || la > TASK_DIGITS_MAX || lb > TASK_DIGITS_MAX)
        return arith_error(ARITH_ERR_ARG, "operand lengths %d and %d: each must be 1..%d", la,
                           lb, TASK_DIGITS_MAX);
    if (prompt_cap < (size_t)la + lb + 5 || answer_cap < (size_t)la + lb + 2)
        return arith_error(ARITH_ERR_ARG, "task_sample_lengths: buffers too small for operands "
                           "of %d and %d digits", la, lb);
    /* a at the start, b after it; format_add moves b into place */
    char *a = prompt, *b = prompt + la + 1;
    random_digits_exact(a, la, rng);
    do
        random_digits_exact(b, lb, rng);
    while (task->style == STYLE_SPACED && strcmp(a, b) == 0);
    format_add(task, a, b, prompt, answer, answer_cap);
    return ARITH_OK;
}

/* Operand patterns of the edge cases. */
typedef enum {
    EDGE_ZERO, EDGE_ONE, EDGE_EIGHT, EDGE_NINES, EDGE_X, EDGE_ONE_NINES, EDGE_ONE_ZEROS,
    EDGE_FIVES, EDGE_FOURS_FIVE
} edge_pattern;

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

arith_status task_edge_cases(const task_config *task, example_set *out)
{
    if (task->kind != TASK_ADD && task->kind != TASK_MUL)
        return ARITH_OK;
    arith_status st = task_check(task);
    if (st)
        return st;
    const int hi = task->digits, lo = task->digits_min > 0 ? task->digits_min : 1;
    /* (pattern, length) of a, then of b */
    const struct {
        edge_pattern pa;
        int na;
        edge_pattern pb;
        int nb;
    } cases[] = {
        {EDGE_ZERO, 1, EDGE_ZERO, 1},           {EDGE_ZERO, 1, EDGE_X, hi},
        {EDGE_X, hi, EDGE_ZERO, 1},             {EDGE_NINES, hi, EDGE_ONE, 1},
        {EDGE_ONE, 1, EDGE_NINES, hi},          {EDGE_NINES, hi, EDGE_NINES, hi},
        {EDGE_EIGHT, 1, EDGE_X, hi},            {EDGE_X, hi, EDGE_EIGHT, 1},
        {EDGE_ONE, 1, EDGE_X, hi},              {EDGE_ONE_NINES, hi, EDGE_ONE, 1},
        {EDGE_ONE_ZEROS, hi, EDGE_ZERO, 1},     {EDGE_ONE_ZEROS, hi, EDGE_ONE_ZEROS, hi},
        {EDGE_FIVES, hi, EDGE_FIVES, hi},       {EDGE_FOURS_FIVE, hi, EDGE_FIVES, hi},
        {EDGE_NINES, hi, EDGE_ZERO, 1},         {EDGE_NINES, lo, EDGE_ONE, 1},
        {EDGE_NINES, hi, EDGE_NINES, lo},       {EDGE_ONE_ZEROS, lo, EDGE_NINES, hi},
    };
    const size_t n_cases = sizeof cases / sizeof cases[0];
    size_t prompt_cap = 2 * (size_t)hi + 8, answer_cap = 2 * (size_t)hi + 4;
    char *a = malloc((size_t)hi + 2), *b = malloc((size_t)hi + 2);
    char *prompt = malloc(prompt_cap), *answer = malloc(answer_cap);
    if (!a || !b || !prompt || !answer)
        st = arith_error(ARITH_ERR_MEMORY, "out of memory building edge cases");
    const int first = out->count;
    for (size_t i = 0; i < n_cases && !st; i++) {
        edge_operand(a, cases[i].pa, cases[i].na);
        edge_operand(b, cases[i].pb, cases[i].nb);
        format_add(task, a, b, prompt, answer, answer_cap);
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

/* ------------------------------------------------------------------- the space of prompts */

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat_pow(uint64_t base, int exp)
{
    uint64_t r = 1;
    for (int i = 0; i < exp && r != UINT64_MAX; i++)
        r = sat_mul(r, base);
    return r;
}

/* Task add's operands are exactly the integers lo..hi: 0..10^digits-1 digit by digit, and with
 * a length range 10^(digits_min-1)..10^digits-1 (from 0 when digits_min is 1). Saturates. */
static void add_operand_range(const task_config *task, uint64_t *lo, uint64_t *count)
{
    uint64_t top = sat_pow(10, task->digits);
    *lo = task->digits_min > 1 ? sat_pow(10, task->digits_min - 1) : 0;
    *count = top == UINT64_MAX ? UINT64_MAX : top - *lo;
}

/* How many distinct prompts the task can produce (saturating at UINT64_MAX). */
static uint64_t task_space(const task_config *task)
{
    switch (task->kind) {
    case TASK_EXPR:
        return EXPR_SPACE_2 + EXPR_SPACE_3;
    case TASK_SYMBOLIC: /* far more trees than any data set; never listed */
        return UINT64_MAX;
    case TASK_COUNT:
    case TASK_XOR: { /* 2^len strings, or 4^len pairs of them */
        uint64_t total = 0;
        int lo = task->digits_min > 0 ? task->digits_min : task->digits;
        int per = task->kind == TASK_XOR ? 2 : 1;
        for (int len = lo; len <= task->digits && total != UINT64_MAX; len++)
            total = sat_add(total, per * len >= 64 ? UINT64_MAX : (uint64_t)1 << (per * len));
        return total;
    }
    case TASK_ADD:
    case TASK_MUL: {
        uint64_t lo, n;
        add_operand_range(task, &lo, &n);
        if (n == UINT64_MAX)
            return UINT64_MAX;
        return sat_mul(n, task->style == STYLE_SPACED ? n - 1 : n);
    }
    }
    return 0;
}

/* Spaces up to this size can be listed in full when random draws stop finding new prompts. */
#define ENUMERATE_MAX ((uint64_t)1 << 25)

/* The index-th prompt of the task's space (index < task_space(task) <= ENUMERATE_MAX), written
 * exactly as task_sample writes it. */
static arith_status task_example_at(const task_config *task, uint64_t index, char *prompt,
                                    char *answer, size_t answer_cap)
{
    switch (task->kind) {
    case TASK_EXPR: {
        int v[3];
        char op[2];
        int n = index < EXPR_SPACE_2 ? 2 : 3, shape = EXPR_FLAT;
        if (n == 3) {
            index -= EXPR_SPACE_2;
            shape = (int)(index % 3);
            index /= 3;
        }
        for (int i = n - 1; i >= 0; i--) {
            v[i] = (int)(index % (EXPR_OPERAND_MAX + 1));
            index /= EXPR_OPERAND_MAX + 1;
        }
        for (int i = 0; i < n - 1; i++) {
            op[i] = expr_ops[index % 3];
            index /= 3;
        }
        long long value = expr_build(n, v, op, shape, prompt);
        return expr_finish(prompt, value, answer, answer_cap);
    }
    case TASK_COUNT: {
        int len = task->digits_min > 0 ? task->digits_min : task->digits;
        for (; index >= (uint64_t)1 << len; len++)
            index -= (uint64_t)1 << len;
        for (int i = 0; i < len; i++)
            prompt[i] = (char)('0' + ((index >> (len - 1 - i)) & 1));
        count_finish(prompt, len, answer, answer_cap);
        return ARITH_OK;
    }
    case TASK_SYMBOLIC:
        break;
    case TASK_XOR: {
        int len = task->digits_min > 0 ? task->digits_min : task->digits;
        for (; index >= (uint64_t)1 << (2 * len); len++)
            index -= (uint64_t)1 << (2 * len);
        char a[32], b[32]; /* enumerated spaces have len <= 12 */
        for (int i = 0; i < len; i++) {
            a[i] = (char)('0' + ((index >> (2 * len - 1 - i)) & 1));
            b[i] = (char)('0' + ((index >> (len - 1 - i)) & 1));
        }
        xor_finish(a, b, len, prompt, answer);
        return ARITH_OK;
    }
    case TASK_ADD:
    case TASK_MUL: {
        uint64_t lo, n, a, b;
        add_operand_range(task, &lo, &n);
        if (task->style == STYLE_SPACED) {
            a = index / (n - 1);
            b = index % (n - 1);
            b += b >= a; /* skip b == a */
        } else {
            a = index / n;
            b = index % n;
        }
        char sa[24], sb[24];
        snprintf(sa, sizeof sa, "%llu", (unsigned long long)(lo + a));
        snprintf(sb, sizeof sb, "%llu", (unsigned long long)(lo + b));
        format_add(task, sa, sb, prompt, answer, answer_cap);
        return ARITH_OK;
    }
    }
    return arith_error(ARITH_ERR_ARG, "unknown task %d", (int)task->kind);
}

/* "add with 3 digits", "count with lengths 1..64", "expr", for messages. */
static void task_describe(const task_config *task, char *out, size_t cap)
{
    const char *unit = task->kind == TASK_COUNT || task->kind == TASK_XOR ? "lengths" : "digits";
    if (task->kind == TASK_EXPR)
        snprintf(out, cap, "expr");
    else if (task->kind == TASK_SYMBOLIC)
        snprintf(out, cap, "symbolic %s (up to %d operators)", sym_kind_name(task->subtask),
                 task->sym.max_ops);
    else if (task->digits_min > 0 && task->digits_min != task->digits)
        snprintf(out, cap, "%s with %s %d..%d", task_name(task->kind), unit, task->digits_min,
                 task->digits);
    else
        snprintf(out, cap, "%s with %d %s%s", task_name(task->kind), task->digits,
                 task->kind == TASK_COUNT || task->kind == TASK_XOR ? "bit" : "digit",
                 task->digits == 1 ? "" : "s");
    if (task->style != STYLE_PLAIN) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, " (%s)", task_style_name(task->style));
    }
}

/* "100" or "more than 18446744073709551614" for a saturated count. */
static void format_space(uint64_t space, char *out, size_t cap)
{
    if (space == UINT64_MAX)
        snprintf(out, cap, "more than %llu", (unsigned long long)(UINT64_MAX - 1));
    else
        snprintf(out, cap, "%llu", (unsigned long long)space);
}

/* ------------------------------------------------------------------------------- data sets */

void examples_init(example_set *set)
{
    memset(set, 0, sizeof *set);
}

arith_status examples_push(example_set *set, const char *prompt, const char *answer)
{
    if (set->count == set->capacity) {
        int cap = set->capacity ? set->capacity * 2 : 1024;
        example *items = realloc(set->items, (size_t)cap * sizeof *items);
        if (!items)
            return arith_error(ARITH_ERR_MEMORY, "out of memory growing a data set");
        set->items = items;
        set->capacity = cap;
    }
    example *e = &set->items[set->count];
    e->prompt = strdup(prompt);
    e->answer = strdup(answer);
    if (!e->prompt || !e->answer) {
        free(e->prompt);
        free(e->answer);
        return arith_error(ARITH_ERR_MEMORY, "out of memory storing an example");
    }
    set->count++;
    return ARITH_OK;
}

void examples_free(example_set *set)
{
    for (int i = 0; i < set->count; i++) {
        free(set->items[i].prompt);
        free(set->items[i].answer);
    }
    free(set->items);
    memset(set, 0, sizeof *set);
}

/* A set of strings by open addressing (FNV-1a), only to keep prompts distinct. */
typedef struct {
    const char **slots;
    size_t capacity; /* power of two */
} string_set;

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static arith_status string_set_init(string_set *set, size_t expected)
{
    size_t cap = 16;
    while (cap < expected * 2)
        cap *= 2;
    set->slots = calloc(cap, sizeof *set->slots);
    set->capacity = cap;
    return set->slots ? ARITH_OK : arith_error(ARITH_ERR_MEMORY, "out of memory (prompt set)");
}

/* Inserts s (not copied: it must outlive the set); returns false when already present. */
static bool string_set_insert(string_set *set, const char *s)
{
    size_t mask = set->capacity - 1;
    for (size_t i = fnv1a(s) & mask;; i = (i + 1) & mask) {
        if (!set->slots[i]) {
            set->slots[i] = s;
            return true;
        }
        if (strcmp(set->slots[i], s) == 0)
            return false;
    }
}

static bool string_set_contains(const string_set *set, const char *s)
{
    size_t mask = set->capacity - 1;
    for (size_t i = fnv1a(s) & mask; set->slots[i]; i = (i + 1) & mask)
        if (strcmp(set->slots[i], s) == 0)
            return true;
    return false;
}

/* Pushes an example into train (the first n_train) or test and remembers its prompt. */
static arith_status push_distinct(example_set *train, example_set *test, int n_train, int made,
                                  string_set *seen, const char *prompt, const char *answer)
{
    example_set *dst = made < n_train ? train : test;
    arith_status st = examples_push(dst, prompt, answer);
    if (st == ARITH_OK)
        string_set_insert(seen, dst->items[dst->count - 1].prompt);
    return st;
}

/* Finishes a data set that random draws could not complete: lists every prompt of the task's
 * space not seen yet (drawn or excluded), shuffles them with the same generator and takes what
 * is still missing. Only for spaces of at most ENUMERATE_MAX prompts. */
static arith_status generate_by_enumeration(example_set *train, example_set *test,
                                            const task_config *task, int n_train, int total,
                                            int *made, string_set *seen, rng_state *rng,
                                            char *prompt, char *answer, size_t acap,
                                            int n_exclude, const char *what)
{
    uint64_t space = task_space(task);
    uint32_t *unseen = NULL;
    size_t n_unseen = 0, cap = 0;
    arith_status st = ARITH_OK;
    for (uint64_t i = 0; i < space && st == ARITH_OK; i++) {
        st = task_example_at(task, i, prompt, answer, acap);
        if (st || string_set_contains(seen, prompt))
            continue;
        if (n_unseen == cap) {
            cap = cap ? cap * 2 : 1024;
            uint32_t *grown = realloc(unseen, cap * sizeof *grown);
            if (!grown) {
                st = arith_error(ARITH_ERR_MEMORY, "out of memory listing %s's prompts", what);
                break;
            }
            unseen = grown;
        }
        unseen[n_unseen++] = (uint32_t)i;
    }
    int missing = total - *made;
    if (st == ARITH_OK && n_unseen < (size_t)missing) {
        uint64_t excluded = space - n_unseen - (uint64_t)*made;
        st = arith_error(ARITH_ERR_ARG,
                         "task %s has too few distinct prompts for %d examples: %llu possible, "
                         "%llu of them excluded (of %d excluded prompts given), so at most %llu "
                         "can be drawn\nhint: lower --n or widen the task (--digits)",
                         what, total, (unsigned long long)space, (unsigned long long)excluded,
                         n_exclude, (unsigned long long)(space - excluded));
    }
    /* a partial Fisher-Yates shuffle: position k gets a uniform pick of the rest */
    for (int k = 0; st == ARITH_OK && k < missing; k++) {
        size_t j = (size_t)k + (size_t)rng_below(rng, (uint64_t)(n_unseen - (size_t)k));
        uint32_t t = unseen[k];
        unseen[k] = unseen[j];
        unseen[j] = t;
        st = task_example_at(task, unseen[k], prompt, answer, acap);
        if (st == ARITH_OK)
            st = push_distinct(train, test, n_train, *made, seen, prompt, answer);
        if (st == ARITH_OK)
            ++*made;
    }
    free(unseen);
    return st;
}

arith_status dataset_generate(example_set *train, example_set *test, const task_config *task,
                              int n_train, int n_test, uint64_t seed, const example_set *exclude)
{
    if (n_train < 0 || n_test < 0)
        return arith_error(ARITH_ERR_ARG, "data set sizes must be non-negative");
    arith_status st = task_check(task);
    if (st)
        return st;
    int total = n_train + n_test;
    int n_exclude = exclude ? exclude->count : 0;
    char what[96];
    task_describe(task, what, sizeof what);
    uint64_t space = task_space(task);
    if ((uint64_t)total > space)
        return arith_error(ARITH_ERR_ARG,
                           "task %s has too few distinct prompts for %d examples: only %llu "
                           "possible\nhint: lower --n or widen the task (--digits)",
                           what, total, (unsigned long long)space);
    string_set seen;
    st = string_set_init(&seen, (size_t)total + (size_t)n_exclude);
    if (st)
        return st;
    for (int i = 0; i < n_exclude; i++)
        string_set_insert(&seen, exclude->items[i].prompt);

    rng_state rng;
    rng_seed(&rng, seed);
    size_t pcap = (size_t)task_max_prompt_chars(task) + 1;
    size_t acap = (size_t)task_max_answer_chars(task) + 1;
    char *prompt = malloc(pcap), *answer = malloc(acap);
    if (!prompt || !answer) {
        st = arith_error(ARITH_ERR_MEMORY, "out of memory generating data");
        goto done;
    }
    /* Draw until enough distinct prompts. When draws keep hitting prompts already taken (a
     * space nearly used up, or a small part of it drawn often, such as count's short strings),
     * a small space is listed in full and the rest taken from it; a large one gives up. */
    int made = 0;
    long misses = 0;
    while (made < total) {
        st = task_sample(task, &rng, prompt, pcap, answer, acap);
        if (st)
            break;
        if (string_set_contains(&seen, prompt)) {
            if (++misses <= 1000L + 20L * total)
                continue;
            if (space <= ENUMERATE_MAX) {
                st = generate_by_enumeration(train, test, task, n_train, total, &made, &seen,
                                             &rng, prompt, answer, acap, n_exclude, what);
                break;
            }
            char possible[48];
            format_space(space, possible, sizeof possible);
            st = arith_error(ARITH_ERR_ARG,
                             "task %s has too few distinct prompts for %d examples (found %d in "
                             "%ld draws; %s possible, %d excluded)\nhint: lower --n or widen "
                             "the task (--digits)",
                             what, total, made, (long)made + misses, possible, n_exclude);
            break;
        }
        st = push_distinct(train, test, n_train, made, &seen, prompt, answer);
        if (st)
            break;
        made++;
    }
done:
    free(prompt);
    free(answer);
    free(seen.slots);
    return st;
}

int dataset_count_overlap(const example_set *train, const example_set *test)
{
    string_set seen;
    if (string_set_init(&seen, (size_t)train->count) != ARITH_OK)
        return -1;
    for (int i = 0; i < train->count; i++)
        string_set_insert(&seen, train->items[i].prompt);
    int overlap = 0;
    for (int i = 0; i < test->count; i++)
        overlap += string_set_contains(&seen, test->items[i].prompt);
    free(seen.slots);
    return overlap;
}

/* True for an optional '-' followed by one or more digits and nothing else. */
static bool is_integer_text(const char *s)
{
    if (*s == '-')
        s++;
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Checks one row against the task's rules (NULL: the plain rules of dataset_load_csv). */
static arith_status check_row(const char *path, int line, const char *p, const char *a,
                              const task_config *task)
{
    size_t plen = strlen(p);
    bool needs_equals = !task || task->style != STYLE_SPACED || task->kind == TASK_COUNT;
    if (needs_equals && (plen == 0 || p[plen - 1] != '='))
        return arith_error(ARITH_ERR_FORMAT, "%s:%d: src \"%s\" must end with '='", path, line,
                           p);
    if (plen == 0)
        return arith_error(ARITH_ERR_FORMAT, "%s:%d: src is empty", path, line);
    if (a[0] == '\0')
        return arith_error(ARITH_ERR_FORMAT, "%s:%d: tgt is empty", path, line);
    if (!task)
        return ARITH_OK;
    switch (task->kind) {
    case TASK_EXPR: {
        long long value;
        if (!is_integer_text(a))
            return arith_error(ARITH_ERR_FORMAT,
                               "%s:%d: tgt \"%s\" is not an integer (an optional '-' and digits)",
                               path, line, a);
        /* a value that disagrees with tgt is the data's business; a src that does not parse
         * is not an expression at all */
        if (expr_evaluate(p, &value) != ARITH_OK)
            return arith_error_wrap(ARITH_ERR_FORMAT, "%s:%d: src: ", path, line);
        return ARITH_OK;
    }
    case TASK_COUNT:
        for (size_t i = 0; i + 1 < plen; i++)
            if (p[i] != '0' && p[i] != '1')
                return arith_error(ARITH_ERR_FORMAT,
                                   "%s:%d: src \"%s\" has '%c' at position %zu (task count "
                                   "reads bits: [01]*=)", path, line, p, p[i], i + 1);
        if (!is_integer_text(a))
            return arith_error(ARITH_ERR_FORMAT,
                               "%s:%d: tgt \"%s\" is not an integer (an optional '-' and digits)",
                               path, line, a);
        return ARITH_OK;
    case TASK_SYMBOLIC: {
        /* src: a prefix expression and " =" (added on reading when absent); tgt: one too */
        char expr[4096];
        snprintf(expr, sizeof expr, "%.*s", (int)(plen - 1), p);
        size_t n = strlen(expr);
        while (n > 0 && expr[n - 1] == ' ')
            expr[--n] = '\0';
        arith_status st = sym_check(expr);
        if (!st)
            st = sym_check(a);
        if (st)
            return arith_error_wrap(ARITH_ERR_FORMAT, "%s:%d: ", path, line);
        return ARITH_OK;
    }
    case TASK_XOR: {
        /* "a b=" with a, b bits of one length; tgt that many bits */
        const char *space = strchr(p, ' ');
        size_t la = space ? (size_t)(space - p) : 0;
        bool ok = space && la > 0 && plen == 2 * la + 2 && strlen(a) == la;
        for (size_t i = 0; ok && i < la; i++)
            ok = (p[i] == '0' || p[i] == '1') && (p[la + 1 + i] == '0' || p[la + 1 + i] == '1') &&
                 (a[i] == '0' || a[i] == '1');
        if (!ok)
            return arith_error(ARITH_ERR_FORMAT, "%s:%d: \"%s\" -> \"%s\" is not a bit-XOR row "
                               "(src: two bit strings of one length, a space between, then '='; "
                               "tgt: as many bits)", path, line, p, a);
        return ARITH_OK;
    }
    case TASK_MUL: {
        /* "a*b=" with decimal operands; tgt a decimal number */
        size_t la = strspn(p, "0123456789");
        size_t lb = p[la] == '*' ? strspn(p + la + 1, "0123456789") : 0;
        if (la == 0 || lb == 0 || la + 1 + lb + 1 != plen || !is_integer_text(a) || a[0] == '-')
            return arith_error(ARITH_ERR_FORMAT, "%s:%d: \"%s\" -> \"%s\" is not a product row "
                               "(src: digits, '*', digits, '='; tgt: digits)", path, line, p, a);
        return ARITH_OK;
    }
    case TASK_ADD:
        return ARITH_OK;
    }
    return arith_error(ARITH_ERR_ARG, "unknown task %d", (int)task->kind);
}

static arith_status load_csv(example_set *set, const char *path, const task_config *task)
{
    csv_table table;
    arith_status st = csv_read(&table, path);
    if (st)
        return st;
    int src = csv_column(&table, "src"), tgt = csv_column(&table, "tgt");
    if (src < 0 || tgt < 0) {
        st = arith_error(ARITH_ERR_FORMAT,
                         "%s:1: the header needs columns 'src' and 'tgt' (e.g. \"src,tgt\")",
                         path);
        csv_free(&table);
        return st;
    }
    for (int i = 0; i < table.nrows && st == ARITH_OK; i++) {
        const csv_row *row = &table.rows[i];
        const char *p = row->fields[src], *a = row->fields[tgt];
        char with_equals[4096];
        size_t plen = strlen(p);
        if (task && task->kind == TASK_SYMBOLIC && (plen == 0 || p[plen - 1] != '=')) {
            /* files of prefix pairs need not carry the separator */
            if (plen + 3 > sizeof with_equals) {
                st = arith_error(ARITH_ERR_FORMAT, "%s:%d: src is too long (%zu characters)",
                                 path, row->line, plen);
                break;
            }
            snprintf(with_equals, sizeof with_equals, "%s =", p);
            p = with_equals;
        }
        st = check_row(path, row->line, p, a, task);
        if (st == ARITH_OK)
            st = examples_push(set, p, a);
    }
    if (st == ARITH_OK && table.nrows == 0)
        st = arith_error(ARITH_ERR_FORMAT, "%s: no data rows", path);
    csv_free(&table);
    return st;
}

arith_status dataset_load_csv(example_set *set, const char *path)
{
    return load_csv(set, path, NULL);
}

arith_status dataset_load_csv_as(example_set *set, const char *path, const task_config *task)
{
    if ((int)task->kind < 0 || (int)task->kind >= N_TASKS || (int)task->style < 0 ||
        (int)task->style >= N_STYLES)
        return arith_error(ARITH_ERR_ARG, "dataset_load_csv_as: unknown task %d or style %d",
                           (int)task->kind, (int)task->style);
    return load_csv(set, path, task);
}

/* Appends raw text to a growing buffer. */
static arith_status append_text(char **buf, size_t *len, size_t *cap, const char *text)
{
    size_t n = strlen(text);
    if (*len + n + 1 > *cap) {
        size_t new_cap = (*len + n + 1) * 2;
        char *grown = realloc(*buf, new_cap);
        if (!grown)
            return arith_error(ARITH_ERR_MEMORY, "out of memory formatting CSV");
        *buf = grown;
        *cap = new_cap;
    }
    memcpy(*buf + *len, text, n + 1);
    *len += n;
    return ARITH_OK;
}

arith_status dataset_save_csv(const example_set *set, const char *path)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    if (!buf)
        return arith_error(ARITH_ERR_MEMORY, "out of memory writing %s", path);
    buf[0] = '\0';
    arith_status st = append_text(&buf, &len, &cap, "src,tgt\n");
    for (int i = 0; i < set->count && st == ARITH_OK; i++) {
        csv_format_field(&buf, &len, &cap, set->items[i].prompt);
        st = buf ? append_text(&buf, &len, &cap, ",") : ARITH_ERR_MEMORY;
        if (st)
            break;
        csv_format_field(&buf, &len, &cap, set->items[i].answer);
        st = buf ? append_text(&buf, &len, &cap, "\n") : ARITH_ERR_MEMORY;
    }
    if (st == ARITH_ERR_MEMORY && !buf)
        return arith_error(ARITH_ERR_MEMORY, "out of memory writing %s", path);
    if (st == ARITH_OK)
        st = io_write_file_atomic(path, buf, len);
    free(buf);
    return st;
}
