/* Task expr (seed 000): arithmetic expressions of 2-3 operands 0..50 with + - * and at most one
 * pair of parentheses, "14*(43+20)=" -> "882", negative answers included. Every answer is
 * computed from the expression's structure and re-checked against an independent parse of
 * its text (expr_evaluate). */
#include <stdio.h>
#include <string.h>

#include "data/tasks/shared.h"

/* Operands uniform in 0..EXPR_OPERAND_MAX, operators uniform in + - *. Seed 000's ten sample
 * rows all have three operands, four without parentheses and three each with parentheses
 * around the first two or the last two; its own test prompts have two. So: 2 operands with
 * probability 1/10 ("a+b=", never parenthesized), else 3 operands with probability 1/3 each for
 * no parentheses ("a+b*c="), "(a+b)*c=" and "a*(b+c)=". */
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

static int expr_max_prompt_chars(const task_config *task)
{
    return EXPR_PROMPT_MAX;
}

static int expr_max_answer_chars(const task_config *task)
{
    return EXPR_ANSWER_MAX;
}

static arith_status expr_check(const task_config *task)
{
    return ARITH_OK; /* digits are not used: operands are 0..50 by definition */
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

static arith_status expr_sample(const task_config *task, rng_state *rng, char *prompt,
                                size_t prompt_cap, char *answer, size_t answer_cap)
{
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

static uint64_t expr_space(const task_config *task)
{
    return EXPR_SPACE_2 + EXPR_SPACE_3;
}

static arith_status expr_example_at(const task_config *task, uint64_t index, char *prompt,
                                    char *answer, size_t answer_cap)
{
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

/* an expression expr_evaluate parses */
static arith_status expr_check_prompt(const task_config *task, const char *prompt)
{
    long long value;
    if (expr_evaluate(prompt, &value) != ARITH_OK)
        return arith_error_wrap(ARITH_ERR_DATA, "task expr reads an expression of "
                                "numbers, + - * and parentheses, and '=' after: ");
    return ARITH_OK;
}

static arith_status expr_check_row(const task_config *task, const char *src, const char *tgt)
{
    long long value;
    if (!is_integer_text(tgt))
        return arith_error(ARITH_ERR_FORMAT,
                           "tgt \"%s\" is not an integer (an optional '-' and digits)", tgt);
    /* a value that disagrees with tgt is the data's business; a src that does not parse is
     * not an expression at all */
    if (expr_evaluate(src, &value) != ARITH_OK)
        return arith_error_wrap(ARITH_ERR_FORMAT, "src: ");
    return ARITH_OK;
}

static void expr_describe(const task_config *task, char *out, size_t cap)
{
    snprintf(out, cap, "operands 0..%d", EXPR_OPERAND_MAX);
}

const task_def expr_task = {
    .name = "expr",
    .summary = "seed 000's expressions: 2-3 operands 0..50, + - *, at most one pair of "
               "parentheses, negative answers; every answer re-checked by an independent "
               "evaluator",
    .tokenizer = TOK_CHAR,
    .tokenizers = 1u << TOK_CHAR,
    .equals = "=",
    .check = expr_check,
    .max_prompt_chars = expr_max_prompt_chars,
    .max_answer_chars = expr_max_answer_chars,
    .sample = expr_sample,
    .space = expr_space,
    .example_at = expr_example_at,
    .check_prompt = expr_check_prompt,
    .check_row = expr_check_row,
    .describe = expr_describe,
};
