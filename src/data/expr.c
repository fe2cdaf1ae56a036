/* expr_evaluate: a small recursive-descent evaluator of arithmetic prompts such as
 * "14*(43+20)=". It knows nothing of how task `expr` builds its examples, so it can check them
 * independently, and it validates expressions read from CSV files.
 *
 *   input  := expr ['='] end
 *   expr   := term (('+' | '-') term)*
 *   term   := factor ('*' factor)*
 *   factor := digits | '(' expr ')' | '-' factor
 */
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "data/data.h"

/* Deeper nesting than this is refused rather than risking the C stack. */
#define EXPR_MAX_DEPTH 200

typedef struct {
    const char *text;
    size_t pos;
    int depth;
} expr_parser;

static arith_status expr_expr(expr_parser *p, long long *value);

/* An error at the current position: the character found there, or the end of the text. */
static arith_status expr_fail(const expr_parser *p, const char *expected)
{
    unsigned char c = (unsigned char)p->text[p->pos];
    if (c == '\0')
        return arith_error(ARITH_ERR_DATA, "\"%s\": unexpected end at position %zu (expected %s)",
                           p->text, p->pos + 1, expected);
    if (c >= 32 && c < 127)
        return arith_error(ARITH_ERR_DATA,
                           "\"%s\": unexpected '%c' at position %zu (expected %s)", p->text, c,
                           p->pos + 1, expected);
    return arith_error(ARITH_ERR_DATA,
                       "\"%s\": unexpected byte 0x%02x at position %zu (expected %s)", p->text, c,
                       p->pos + 1, expected);
}

static arith_status expr_overflow(const expr_parser *p, size_t at)
{
    return arith_error(ARITH_ERR_DATA,
                       "\"%s\": the value overflows 64-bit integers at position %zu", p->text,
                       at + 1);
}

static arith_status expr_factor(expr_parser *p, long long *value)
{
    char c = p->text[p->pos];
    if (c >= '0' && c <= '9') {
        size_t start = p->pos;
        long long v = 0;
        while (p->text[p->pos] >= '0' && p->text[p->pos] <= '9') {
            int d = p->text[p->pos] - '0';
            if (v > (LLONG_MAX - d) / 10)
                return expr_overflow(p, start);
            v = v * 10 + d;
            p->pos++;
        }
        *value = v;
        return ARITH_OK;
    }
    if (c == '(' || c == '-') {
        if (++p->depth > EXPR_MAX_DEPTH)
            return arith_error(ARITH_ERR_DATA, "\"%s\": nested more than %d deep at position %zu",
                               p->text, EXPR_MAX_DEPTH, p->pos + 1);
        size_t open = p->pos++;
        arith_status st;
        if (c == '-') {
            long long v;
            st = expr_factor(p, &v);
            if (st)
                return st;
            if (v == LLONG_MIN)
                return expr_overflow(p, open);
            *value = -v;
        } else {
            st = expr_expr(p, value);
            if (st)
                return st;
            if (p->text[p->pos] != ')') {
                if (p->text[p->pos] == '\0' || p->text[p->pos] == '=')
                    return arith_error(ARITH_ERR_DATA,
                                       "\"%s\": the '(' at position %zu is never closed "
                                       "(expected ')' at position %zu)",
                                       p->text, open + 1, p->pos + 1);
                return expr_fail(p, "an operator or ')'");
            }
            p->pos++;
        }
        p->depth--;
        return ARITH_OK;
    }
    return expr_fail(p, "a number, '(' or '-'");
}

static arith_status expr_term(expr_parser *p, long long *value)
{
    arith_status st = expr_factor(p, value);
    while (st == ARITH_OK && p->text[p->pos] == '*') {
        size_t at = p->pos++;
        long long rhs;
        st = expr_factor(p, &rhs);
        if (st == ARITH_OK && __builtin_mul_overflow(*value, rhs, value))
            st = expr_overflow(p, at);
    }
    return st;
}

static arith_status expr_expr(expr_parser *p, long long *value)
{
    arith_status st = expr_term(p, value);
    while (st == ARITH_OK && (p->text[p->pos] == '+' || p->text[p->pos] == '-')) {
        char op = p->text[p->pos];
        size_t at = p->pos++;
        long long rhs;
        st = expr_term(p, &rhs);
        if (st)
            break;
        bool overflow = op == '+' ? __builtin_add_overflow(*value, rhs, value)
                                  : __builtin_sub_overflow(*value, rhs, value);
        if (overflow)
            st = expr_overflow(p, at);
    }
    return st;
}

arith_status expr_evaluate(const char *text, long long *value)
{
    expr_parser p = {.text = text, .pos = 0, .depth = 0};
    long long v = 0;
    arith_status st = expr_expr(&p, &v);
    if (st)
        return st;
    bool after_equals = text[p.pos] == '=';
    if (after_equals)
        p.pos++;
    if (text[p.pos] != '\0') {
        if (text[p.pos] == ')')
            return arith_error(ARITH_ERR_DATA, "\"%s\": unbalanced ')' at position %zu", text,
                               p.pos + 1);
        return expr_fail(&p, after_equals ? "nothing after '='" : "an operator, '=' or the end");
    }
    *value = v;
    return ARITH_OK;
}
