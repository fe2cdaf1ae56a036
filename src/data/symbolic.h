/* symbolic: symbolic mathematics in prefix notation, after Lample & Charton, "Deep Learning for
 * Symbolic Mathematics" (2019). Random expressions, exact simplification, symbolic derivatives,
 * derivative and integral problems (the integral ones by the backward method: draw f, ask for
 * the antiderivative of f'), and a numeric up-to-equivalence check of a model's answer.
 *
 * Expressions are strings of space-separated tokens in prefix (Polish) order:
 *   binary operators  add sub mul div pow
 *   functions         exp log sqrt sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh
 *   the variable      x
 *   integers          a sign token and decimal digit tokens: 12 -> "INT+ 1 2", -3 -> "INT- 3"
 * Rationals are written "div INT+ 1 INT+ 2". Nothing else is a token.
 * Example: 3x + sin(x) is "add mul INT+ 3 x sin x".
 *
 * Numbers are exact (64-bit rationals) in the simplifier and doubles (long doubles in
 * sym_equivalent) in evaluation, where a point outside the domain gives NaN or an infinity. */
#ifndef ARITH_SYMBOLIC_H
#define ARITH_SYMBOLIC_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"

typedef enum {
    SYM_DERIVATIVE = 0, /* prompt f, answer simplify(f') */
    SYM_INTEGRAL,       /* prompt simplify(f'), answer f: the backward method (BWD) */
} sym_kind;

/* Parses "derivative" or "integral"; other names give ARITH_ERR_ARG listing the valid ones. */
arith_status sym_kind_parse(sym_kind *out, const char *name);
const char *sym_kind_name(sym_kind k);

/* Bounds of the limits below (sym_config_check). */
#define SYM_MAX_OPS 32
#define SYM_MAX_INT 1000000
#define SYM_MAX_TOKENS 4096
/* Parsed strings may hold at most this many tokens and nest at most this deep. */
#define SYM_PARSE_MAX_TOKENS 8192
#define SYM_PARSE_MAX_DEPTH 256
/* Bytes that always hold an expression of n tokens: the longest token has 5 characters, then a
 * space (or the final NUL). */
#define SYM_TEXT_CAP(n) ((size_t)(n) * 6 + 1)

typedef struct {
    int max_ops;    /* internal nodes (operators+functions) of the random tree, drawn 1..max_ops;
                       default 6; at most SYM_MAX_OPS */
    int max_int;    /* leaf integers drawn from 1..max_int (a quarter of them negative);
                       default 5 */
    int max_tokens; /* reject problems whose prompt or answer has more tokens than this;
                       default 48 */
} sym_config;

void sym_config_default(sym_config *cfg);
/* ARITH_ERR_ARG, naming the field and its valid range, when a limit is out of range. */
arith_status sym_config_check(const sym_config *cfg);

/* Draws one problem into prompt and answer as space-separated prefix strings (no separator, no
 * EOS). Returns true with a problem, or false when the draw was rejected: draw again (the rng has
 * moved on, so the next call draws something else). Rejected: f without x (constant), f' that
 * simplifies to 0 or is numerically 0, f or f' undefined or infinite at all but a few of
 * sym_equivalent's points (e.g. log of a negative constant), a prompt or answer with a subtree
 * that is nowhere defined (sym_defined: x - tanh(1/0) is finite, yet undefined), one of more than
 * cfg->max_tokens tokens, or one that does not fit its buffer. Buffers of
 * SYM_TEXT_CAP(cfg->max_tokens) bytes always suffice. An invalid cfg (sym_config_check) or a NULL
 * argument rejects every draw.
 *   derivative: prompt simplify(f), answer simplify(f').
 *   integral:   prompt simplify(f'), answer simplify(f) without its additive constant terms.
 * The answer always passes sym_equivalent(kind, prompt, answer, answer). The same rng state and
 * cfg give the same problem. */
bool sym_generate(rng_state *rng, const sym_config *cfg, sym_kind kind, char *prompt,
                  size_t prompt_cap, char *answer, size_t answer_cap);

/* Checks a prefix string: every token in the vocabulary, each integer a sign token and at least
 * one digit, arities consistent, exactly one tree; and within the limits every other function
 * here relies on: at most SYM_PARSE_MAX_TOKENS tokens, nesting at most SYM_PARSE_MAX_DEPTH deep,
 * integers below 10^18. Tokens are separated by spaces (tabs and newlines are accepted too). On
 * error returns ARITH_ERR_DATA with a message naming the bad token and its position (tokens
 * counted from 1). */
arith_status sym_check(const char *prefix);

/* Whether hypothesis is a right answer up to equivalence, numerically.
 *   derivative: hypothesis(x) = reference(x).
 *   integral:   d/dx hypothesis(x) = prompt(x), so any constant of integration is accepted
 *               (reference is not used and may be NULL).
 * Both sides are evaluated in long double at 32 fixed points (24 spread over [-10, 10] with
 * |x| >= 0.1, 8 in (0, 1)). A point is skipped where either side is not finite or is too
 * sensitive to be compared (its value moves by more than 1e-7 relative when x moves by 1e-15
 * relative, as cos(exp(1/x^2)) near 0 does); the others must all agree within
 * |a - b| <= 1e-6 * max(1, |a|, |b|). Fewer than 8 usable points or a string that fails sym_check
 * give false (a malformed string leaves sym_check's message in arith_error_message(), which is
 * cleared otherwise). */
bool sym_equivalent(sym_kind kind, const char *prompt, const char *reference,
                    const char *hypothesis);

/* Whether the expression is defined: every subtree of it has a finite value at one of
 * sym_equivalent's 32 points at least (in long double, so a subtree beyond its range there, like
 * cosh(x + e^64), counts as undefined too). False for "sub x tanh div INT+ 1 INT+ 0"
 * (x - tanh(1/0)), though its value is finite, for "log INT- 2" and for
 * "sqrt sub INT- 1 mul x x"; every problem sym_generate makes is defined. A string that fails sym_check gives false and leaves its message
 * in arith_error_message(). */
bool sym_defined(const char *prefix);

/* The 33 vocabulary tokens in a fixed order: binary operators, functions, x, INT+, INT-, 0..9. */
const char *const *sym_vocabulary(int *count);

/* ------------------------------------------------------------------------------------------ */
/* Lower-level operations on prefix strings (for tests, tools and data inspection). Each parses
 * its input (errors as sym_check) and writes a NUL-terminated prefix string into out; an output
 * that does not fit out_cap bytes gives ARITH_ERR_ARG and an empty out (when out_cap > 0). */

/* Parses and prints back: normalizes spacing and integers ("INT- 0" -> "INT+ 0", "INT+ 0 7" ->
 * "INT+ 7"); otherwise the same tree. */
arith_status sym_format(const char *prefix, char *out, size_t out_cap);
/* The simplifier (see symbolic.c): exact constant folding, neutral and absorbing elements, like
 * terms and like factors collected. Never changes the value where the input is defined. */
arith_status sym_simplify(const char *prefix, char *out, size_t out_cap);
/* d/dx of the expression; simplified when `simplify`, else the raw result of the rules. */
arith_status sym_derivative(const char *prefix, bool simplify, char *out, size_t out_cap);
/* The value at x in double (NaN or an infinity outside the domain). */
arith_status sym_eval(const char *prefix, double x, double *value);
/* Number of tokens of a well-formed prefix string (sym_check), else -1. */
int sym_token_count(const char *prefix);
/* One random expression f as sym_generate draws it, before simplification. False when it does not
 * fit out_cap (SYM_TEXT_CAP(9 * (cfg->max_ops + 1)) bytes always suffice) or cfg is
 * invalid. */
bool sym_random_expr(rng_state *rng, const sym_config *cfg, char *out, size_t out_cap);

#endif
