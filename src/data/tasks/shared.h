/* What the task files share (internal to data/tasks/): drawing lengths, saturating counts of a
 * task's prompts, and, for the tasks on two decimal operands "a OP b=" (add, mul, sub),
 * arithmetic on digit strings of any length, operand drawing, writing a problem, its space of
 * prompts, CSV rows, and the edge-case patterns. */
#ifndef ARITH_DATA_TASKS_SHARED_H
#define ARITH_DATA_TASKS_SHARED_H

#include <stddef.h>
#include <stdint.h>

#include "data/data.h"

/* ------------------------------------------------------------------------------- counting */

/* a + b, a * b and base^exp, saturating at UINT64_MAX. */
uint64_t sat_add(uint64_t a, uint64_t b);
uint64_t sat_mul(uint64_t a, uint64_t b);
uint64_t sat_pow(uint64_t base, int exp);

/* A length uniform in [digits_min, digits], or exactly digits when digits_min is 0. */
int task_random_length(const task_config *task, rng_state *rng);

/* ------------------------------------------------------------------ two decimal operands */

/* out = a OP b for the digit strings a[0..la) and b[0..lb) (no leading zeros), written in
 * decimal with no leading zeros and a '-' when negative; out_cap bytes incl. NUL. */
typedef void (*decimal_op)(char *out, size_t out_cap, const char *a, size_t la, const char *b,
                           size_t lb);
void decimal_add_digits(char *out, size_t out_cap, const char *a, size_t la, const char *b,
                        size_t lb);
void decimal_mul_digits(char *out, size_t out_cap, const char *a, size_t la, const char *b,
                        size_t lb);

/* What a task on two operands gives the helpers below: its operator and how to compute it. */
typedef struct {
    char symbol;               /* '+' for "a+b=" */
    decimal_op compute;
} binary_op;

/* One operand as add draws it: digit by digit (digits_min 0: leading zeros vanish, so it is
 * uniform in 0..10^digits-1), or a length from [digits_min, digits] and then that many digits,
 * the first nonzero unless the length is 1. */
void operand_draw(char *out, const task_config *task, rng_state *rng);
/* n digits, the first nonzero unless n is 1. */
void operand_draw_exact(char *out, int n, rng_state *rng);

/* How a chain sampler (add's carries, sub's borrows) draws one example's digits: with
 * probability `repeat` a column takes the previous column's digit pair again where it may (a
 * third of the examples 0, a third 0.5, a third 0.9), and with probability `zero` each digit
 * is a 0 where it may be (one example in three 0.4, else 0). */
typedef struct {
    double repeat, zero;
} chain_style;
chain_style chain_style_draw(rng_state *rng);
/* The chain each column i must end in, [*lo, *hi], for a longest chain of exactly `chain`
 * columns starting at column `start`: its columns 1, 2, ..., chain; 0 or 1 right after it (it
 * stops; a new one may start); elsewhere at most `chain`. */
void chain_window(int chain, int start, int i, int *lo, int *hi);
/* Writes "a OP b=" (spaced style: "a OP b" with spaces around OP) and the answer. a may be the
 * prompt buffer itself and b may lie in it after a: b is moved first. */
void operands_write(const task_config *task, const binary_op *op, const char *a, const char *b,
                    char *prompt, char *answer, size_t answer_cap);
/* task.sample for two operands drawn by operand_draw (spaced style: a != b). */
void operands_sample(const task_config *task, const binary_op *op, rng_state *rng, char *prompt,
                     char *answer, size_t answer_cap);
/* task.sample_lengths: operands of exactly la and lb digits (spaced style: a != b). */
void operands_sample_lengths(const task_config *task, const binary_op *op, rng_state *rng,
                             int la, int lb, char *prompt, char *answer, size_t answer_cap);
/* task.max_prompt_chars: two operands of `digits`, the operator and '=' (or the spaces). */
int operands_max_prompt_chars(const task_config *task);
/* task.space: ordered pairs of the operands operand_draw can give (spaced: a != b). */
uint64_t operands_space(const task_config *task);
/* task.example_at over operands_space, in the order a then b. */
void operands_example_at(const task_config *task, const binary_op *op, uint64_t index,
                         char *prompt, char *answer, size_t answer_cap);
/* task.check_row: src "digits OP digits=", tgt digits (with signed_answers an optional '-'
 * first); `what` names the row in the message ("product"). */
arith_status operands_check_row(const binary_op *op, bool signed_answers, const char *what,
                                const char *src, const char *tgt);
/* task.check_prompt: "digits OP digits=" (spaced style: "digits OP digits" with a space on
 * either side of OP), no operand with a leading zero. */
arith_status operands_check_prompt(const task_config *task, const binary_op *op,
                                   const char *prompt);
/* task.prompt_length: the longest run of digits (the longer operand). */
int operands_prompt_length(const char *prompt);

/* Operand patterns of the edge cases; the single-digit ones ignore the length. */
typedef enum {
    EDGE_ZERO, EDGE_ONE, EDGE_EIGHT,  /* 0, 1, 8 */
    EDGE_NINES,                       /* 9..9 */
    EDGE_X,                           /* 1234567890123... */
    EDGE_ONE_NINES,                   /* 19..9 */
    EDGE_ONE_ZEROS,                   /* 10..0 */
    EDGE_FIVES,                       /* 5..5 */
    EDGE_FOURS_FIVE,                  /* 4..45 */
} edge_pattern;
/* An operand's length in an edge case: one digit, the task's longest (digits) or shortest
 * (digits_min, or 1). */
typedef enum { EDGE_LEN_ONE, EDGE_LEN_HI, EDGE_LEN_LO } edge_length;
typedef struct {
    edge_pattern a;
    edge_length la;
    edge_pattern b;
    edge_length lb;
} edge_case;
/* The edge cases of add and mul (data.h, task_edge_cases). */
extern const edge_case operands_edge_cases_default[];
extern const size_t operands_edge_cases_default_count;
/* task.edge_cases: cases[0..n) written with the task's operator, each prompt once. */
arith_status operands_edge_cases(const task_config *task, const binary_op *op,
                                 const edge_case *cases, size_t n, example_set *out);

#endif
