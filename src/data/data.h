/* data: tasks that generate examples, data sets (generate, load CSV, split, dedup), tokenizers
 * (the only place where text meets ids), and batches for training and generation. */
#ifndef ARITH_DATA_H
#define ARITH_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "data/symbolic.h"

/* ----------------------------------------------------------------------------------- tasks */

/* One example: the prompt the model reads and the answer it must produce, as text:
 * prompt "123+45=", answer "168". */
typedef struct {
    char *prompt;
    char *answer;
} example;

typedef struct {
    example *items;
    int count;
    int capacity;
} example_set;

/* How prompts are written (tasks whose `spaced` is set: add). */
typedef enum {
    STYLE_PLAIN = 0,  /* "123+45=" */
    STYLE_SPACED,     /* seed 002: "123 + 45", no '=', operands uniform in 0..10^digits-1, a != b */
} task_style;

/* Digit counts and lengths are bounded by this (digits_range_parse). */
#define TASK_DIGITS_MAX 100000

/* A task: what `--task NAME` generates, checks and reads (struct task_def below). */
typedef struct task_def task_def;

typedef struct {
    const task_def *def; /* the task (task_find, task_at) */
    int digits;     /* operand length in digits (count: string length; expr: ignored) */
    int digits_min; /* 0: every operand/string has exactly `digits`; else its length is drawn
                       uniformly from [digits_min, digits] (add: no leading zero unless 1 digit) */
    int digits_b;     /* mul: the second operand's length (0: as the first, digits/digits_min) */
    int digits_b_min; /* mul: as digits_min, for the second operand */
    task_style style;
    sym_kind subtask; /* symbolic: derivative or integral */
    sym_config sym;   /* symbolic: expression sizes (sym_config_default) */
} task_config;

/* How a task on two decimal operands writes its problems, "a OP b=", for the digit formats
 * (tokenizer_set_format: --reverse, --zero-pad, --index-hints) and the positions they number
 * (--pos abacus, coupling). The tokenizer reads prompts and writes answers from this alone. */
typedef struct {
    char op;                          /* the operator between the operands: '+' in "a+b=" */
    int (*answer_digits)(int width);  /* the most digits an answer has when the longer operand
                                         has `width` (add: width + 1; mul: 2 * width) */
    bool signed_answers;              /* answers may be negative ("-333"): a formatted answer
                                         then starts with a sign token, '+' or '-' */
    bool fixed_width;                 /* answers are bit strings with their leading zeros kept
                                         (xor: "0101"), so decoding a zero-padded answer keeps
                                         them too */
    /* Optional: the scratchpad (--scratchpad), the intermediate results written before the
     * answer. scratch_steps(la, lb) counts them, the answer included (mul: 2 lb - 1, partial
     * products and running sums, the last running sum the product); scratch_value writes the
     * j-th (0-based, j < steps - 1) as digits, most significant first. */
    int (*scratch_steps)(int la, int lb);
    void (*scratch_value)(char *out, size_t cap, const char *a, int la, const char *b, int lb,
                          int j);
    /* Optional: the carries (--carries). column_sum(a, la, b, lb, s) is what column s (0 =
     * units) adds up before the carry from the column below: add a_s + b_s, mul the sum of
     * a_(s-j) b_j over b's digits j. Column s's digit is (sum + carry in) mod 10, and its carry
     * out (sum + carry in) / 10. */
    int (*column_sum)(const char *a, int la, const char *b, int lb, int s);
} digit_format;

typedef enum {
    TOK_CHAR = 0,   /* one token per character: 0-9 + = PAD EOS - * ( ) space */
    TOK_PAIRS,      /* seed 001's aligned pairs: "a OP b=" (OP the task's operator, '+' for
                       add, ' ' for xor), operands reversed, zero-padded to `digits` (a
                       fixed-width format's strings must have exactly `digits`), one token per
                       unordered digit pair (a_i, b_i), then + and = */
    TOK_WORDS,      /* one token per space-separated word: Lample & Charton's prefix
                       vocabulary (symbolic.h) with = PAD EOS */
} tokenizer_kind;

/* The task interface. Each task is one file under data/tasks/ that fills one of these, and one
 * line of data/tasks/registry.c that lists it; flags, help, messages and `arith tasks` come
 * from the list. The rest of arith asks the task through these properties and ops and never
 * tests which task it is. Ops marked optional are NULL when the task does not do that. */
struct task_def {
    const char *name;            /* --task's value: "add" */
    const char *summary;         /* one line for `arith tasks`: what a problem is and how it is
                                    drawn */
    const char *unit, *unit_one; /* what --digits counts: "digits", "digit" (or "bits", "bit");
                                    NULL: --digits means nothing to the task (expr, symbolic) */
    tokenizer_kind tokenizer;    /* what --tokenizer auto picks */
    unsigned tokenizers;         /* the tokenizers that read it: bit k for tokenizer_kind k */
    bool spaced;                 /* takes --style spaced (seed 002's "a + b") */
    const digit_format *format;  /* optional: the digit formats and positions by digit */
    const char *equals;          /* how a plain prompt ends: "=" ("sin x =": " =");
                                    `arith predict` adds it to a prompt that leaves it out */
    bool csv_equals_optional;    /* a CSV's src may leave `equals` out (files of prefix pairs):
                                    reading adds it */

    /* The configuration errors of this task (after task_check's shared ones): digits out of
     * range, a bad subtask. */
    arith_status (*check)(const task_config *task);
    /* Longest prompt and answer, in characters, that sample and example_at write. */
    int (*max_prompt_chars)(const task_config *task);
    int (*max_answer_chars)(const task_config *task);
    /* Draws one example (buffers checked by task_sample). The draws are the data: a change
     * here changes every data set generated from a seed. */
    arith_status (*sample)(const task_config *task, rng_state *rng, char *prompt,
                           size_t prompt_cap, char *answer, size_t answer_cap);
    /* Optional: one example whose operands have exactly la and lb digits (length grids;
     * buffers of la + lb + 5 and la + lb + 2 bytes, checked by task_sample_lengths). */
    arith_status (*sample_lengths)(const task_config *task, rng_state *rng, int la, int lb,
                                   char *prompt, char *answer, size_t answer_cap);
    /* Optional: appends a fixed list of edge cases built from the task's lengths, each prompt
     * once (scored beside the test set). */
    arith_status (*edge_cases)(const task_config *task, example_set *out);
    /* Optional, with carry_chain: one example whose longest carry chain (the most consecutive
     * columns that carry into the next) is exactly `chain`, 0..digits, with operand lengths
     * of the task's range and sometimes apart, and zeros (buffers as sample's). The carry-aware
     * test set and --carry-mix draw these. */
    arith_status (*sample_carry)(const task_config *task, rng_state *rng, int chain,
                                 char *prompt, char *answer, size_t answer_cap);
    /* Optional: the longest carry chain of a prompt (-1: not a prompt of the task). */
    int (*carry_chain)(const task_config *task, const char *prompt);
    /* Optional, with sample_carry: the longest chain a prompt of the task can have (NULL:
     * digits; sub: digits - 1, since the larger operand's top column never borrows). */
    int (*chain_max)(const task_config *task);
    /* Optional: what each column of a prompt's answer holds, least significant first (column i
     * is the digit of 10^i): the answer's digit there and the carry into the column (column
     * i-1's digits and carry summed to 10 or more). Writes the columns of the widest answer
     * the operands can have (add: the longer operand's length + 1, the last one the final
     * carry), at most cap, and returns how many; -1: not a prompt of the task. What probes
     * of hidden states are fit to (arith probe). */
    int (*answer_columns)(const task_config *task, const char *prompt, int cap, int8_t *digit,
                          int8_t *carry_in);
    /* How many distinct prompts sample can draw, saturating at UINT64_MAX. */
    uint64_t (*space)(const task_config *task);
    /* Optional: the index-th prompt of that space (index < space <= 2^25), written exactly as
     * sample writes it; small spaces are listed in full when draws stop finding new prompts. */
    arith_status (*example_at)(const task_config *task, uint64_t index, char *prompt,
                               char *answer, size_t answer_cap);
    /* Optional: checks a prompt as a user writes it for a run (arith predict), beyond the
     * shared rules of task_check_prompt: the grammar of the task's problems, in its style;
     * errors (ARITH_ERR_DATA) say what the task reads, without naming the prompt. */
    arith_status (*check_prompt)(const task_config *task, const char *prompt);
    /* Optional: checks a CSV row beyond the shared rules (src ends with `equals`, neither field
     * empty); errors are ARITH_ERR_FORMAT naming the field, without the file and line. */
    arith_status (*check_row)(const task_config *task, const char *src, const char *tgt);
    /* Optional: the task's lengths in words when they are not "9 digits" or "1..64 bits"
     * ("operands 0..50"); task_describe. */
    void (*describe)(const task_config *task, char *out, size_t cap);
    /* Optional: the length of an example as `arith eval` tabulates it (the longer operand);
     * NULL: no table per length. */
    int (*prompt_length)(const char *prompt);
    /* Optional: whether a hypothesis that differs from the reference is right all the same
     * (symbolic: numerically equivalent). NULL: only the exact answer is. */
    bool (*equivalent)(const task_config *task, const char *prompt, const char *reference,
                       const char *hypothesis);
};

/* The registry (data/tasks/registry.c): tasks 0..task_count()-1 in the order flags, help and
 * `arith tasks` list them; task_at is NULL past the end, task_find NULL for an unknown name. */
int task_count(void);
const task_def *task_at(int index);
const task_def *task_find(const char *name);
/* task_find with an error (ARITH_ERR_ARG) that lists the valid names. */
arith_status task_parse(const task_def **out, const char *name);
/* "add, mul and sub": the names of the tasks for which keep is true (every task when keep is
 * NULL), for messages; "none" when there is none. */
void task_names(char *out, size_t cap, bool (*keep)(const task_def *def));
/* Parses a style name ("plain", "spaced"); errors list the valid names. */
arith_status task_style_parse(task_style *out, const char *name);
const char *task_style_name(task_style style);
/* Parses a digit range: "N" (lo = hi = N) or "A..B" (lo = A, hi = B), 1 <= A <= B <= 100000.
 * Errors (ARITH_ERR_ARG) name the text and the valid form. */
arith_status digits_range_parse(int *lo, int *hi, const char *text);
/* The configuration errors every task shares (no task, an unknown style, a style the task does
 * not take), then the task's own check. */
arith_status task_check(const task_config *task);
/* The check of tasks whose operands or strings have lengths: digits >= 1, and digits_min 0 or
 * in 1..digits; digits_b the same way when set, and only for tasks that take it (mul). */
arith_status task_check_lengths(const task_config *task);
/* The second operand's lengths: digits_b/digits_b_min, or the first's when digits_b is 0. */
int task_digits_b(const task_config *task);
int task_digits_b_min(const task_config *task);
/* Longest prompt and answer (in characters) the task can produce. */
int task_max_prompt_chars(const task_config *task);
int task_max_answer_chars(const task_config *task);
/* Draws one example into caller buffers (prompt_cap/answer_cap bytes incl. NUL). Task `add`
 * draws each operand digit by digit as seed 001 does, so leading zeros vanish (with
 * digits_min > 0: a length, then a nonzero leading digit). Task `expr` re-checks every
 * example it draws with expr_evaluate (a mismatch is ARITH_ERR_STATE, an internal error). */
arith_status task_sample(const task_config *task, rng_state *rng, char *prompt, size_t prompt_cap,
                         char *answer, size_t answer_cap);
/* Tasks with sample_lengths (add, mul): draws one example whose operands have exactly la and
 * lb digits (the first nonzero unless the operand has 1 digit), in the task's style (spaced:
 * a != b). prompt_cap must be at least la + lb + 5, answer_cap at least la + lb + 2; other
 * tasks, lengths outside 1..TASK_DIGITS_MAX or small buffers are ARITH_ERR_ARG. */
arith_status task_sample_lengths(const task_config *task, rng_state *rng, int la, int lb,
                                 char *prompt, size_t prompt_cap, char *answer,
                                 size_t answer_cap);
/* Tasks with edge_cases: appends a fixed, deterministic list of edge cases built from the
 * task's lengths (hi = digits, lo = digits_min or 1) to `out`, each prompt once. For add and
 * mul: 0+0, 0+x, x+0, 9..9+1, 1+9..9, 9..9+9..9, a 1-digit operand with a hi-digit one either
 * way round, a carry chain in the middle (19..9+1), zeros inside (10..0+0, 10..0+10..0), a
 * carry in every column (5..5+5..5), a ripple through nines (4..45+5..5), and lo-digit cases
 * when lo < hi (x: 1234567890... of hi digits). Other tasks append nothing. */
arith_status task_edge_cases(const task_config *task, example_set *out);
/* Tasks with sample_carry (add, and sub's borrow chains): whether the task has carry chains
 * to draw and count. */
bool task_has_carries(const task_config *task);
/* The longest carry chain the task's prompts can have (its chain_max, else digits); -1 for
 * tasks without carries. */
int task_chain_max(const task_config *task);
/* Draws one example whose longest carry chain is exactly `chain` (0..task_chain_max); other
 * tasks or chains out of range are ARITH_ERR_ARG. Buffers as task_sample's. */
arith_status task_sample_carry(const task_config *task, rng_state *rng, int chain, char *prompt,
                               size_t prompt_cap, char *answer, size_t answer_cap);
/* The longest carry chain of a prompt of the task; -1 for other tasks or a prompt it cannot
 * read. */
int task_carry_chain(const task_config *task, const char *prompt);
/* Tasks with answer_columns (add): whether the task says what each answer column holds. */
bool task_has_columns(const task_config *task);
/* The task's answer_columns (digit and carry_in: cap entries each); -1 for other tasks or a
 * prompt it cannot read. */
int task_answer_columns(const task_config *task, const char *prompt, int cap, int8_t *digit,
                        int8_t *carry_in);
/* Whether `prompt` is a problem of the task as its generator writes it, in the task's style,
 * with its final `equals` (plain style) or without it (spaced): "12+34=" for add, "12 + 34"
 * for add in style spaced, "0110=" for count. Prompts are always written plain: the digit
 * formats (reversed, zero-padded, hints) are the tokenizer's to apply, so a prompt that looks
 * formatted (a leading zero, spaces) is refused. Errors (ARITH_ERR_DATA) say what the task
 * reads; the caller names the prompt. */
arith_status task_check_prompt(const task_config *task, const char *prompt);
/* The task's lengths in words, as run headers and messages print them: "9 digits",
 * "1..64 bits", or the task's own ("operands 0..50", "integral, up to 6 operators"). */
void task_describe(const task_config *task, char *out, size_t cap);
/* Evaluates an arithmetic expression: non-negative decimal integers, binary + - *, unary -,
 * parentheses, usual precedence (* before + -, left to right), an optional trailing '='.
 * Errors (ARITH_ERR_DATA) name the 1-based position of the bad character, an unbalanced
 * parenthesis, or an overflow of 64-bit integers. */
arith_status expr_evaluate(const char *text, long long *value);
/* Adds two non-negative decimal strings of any length: out = a + b (no leading zeros). */
void decimal_add(char *out, size_t out_cap, const char *a, const char *b);

/* ------------------------------------------------------------------------------- data sets */

void examples_init(example_set *set);
arith_status examples_push(example_set *set, const char *prompt, const char *answer);
void examples_free(example_set *set);

/* Generates n_train + n_test distinct examples (no prompt twice in the whole set, so no test
 * prompt is ever in the training set): the first n_train go to train, the rest to test.
 * `exclude` (may be NULL) holds prompts that must not be drawn (e.g. a run's training set). */
arith_status dataset_generate(example_set *train, example_set *test, const task_config *task,
                              int n_train, int n_test, uint64_t seed, const example_set *exclude);
/* Draws n examples independently from the task (--repeats): a prompt may come more than once,
 * so every part of the task keeps its share of the draws however few prompts it has (a
 * distinct set of 1..5-digit products holds the 100 1x1 ones once among 300,000; here 1 in 25
 * draws is one). Draws the same stream as dataset_generate, so the first examples are the
 * same until dataset_generate would skip a repeat. */
arith_status dataset_draw(example_set *out, const task_config *task, int n, uint64_t seed);
/* The carry-aware test set of a task with carries (add, sub): per_chain distinct examples for
 * each longest carry chain 0..task_chain_max (fewer where the task has fewer such prompts),
 * drawn by task_sample_carry from `seed`, none of them a prompt of `exclude` (may be NULL), in
 * order of chain length. */
arith_status carry_set_generate(example_set *out, const task_config *task, int per_chain,
                                uint64_t seed, const example_set *exclude);
/* The seed of the carry-aware set a run of `task` draws (its lengths alone), so that runs
 * and `arith data --carry-n` share it. */
uint64_t carry_set_seed(const task_config *task);
/* --carry-mix: replaces the last round(fraction * train->count) examples of `train` with
 * distinct carry-heavy ones (chain lengths uniform over 0..digits), none of them a prompt of
 * `train`, `test` or `exclude` (each may be NULL but train). The replaced examples were drawn
 * at random, so which are replaced does not matter. */
arith_status dataset_mix_carries(example_set *train, const task_config *task, double fraction,
                                 uint64_t seed, const example_set *test,
                                 const example_set *exclude);
/* Number of examples of `test` whose prompt is also a prompt of `train`. */
int dataset_count_overlap(const example_set *train, const example_set *test);
/* Loads a CSV with columns `src` (the prompt) and `tgt` (the answer); other columns (such as
 * seed 000's unnamed index) are ignored. Errors name path:line. */
arith_status dataset_load_csv(example_set *set, const char *path);
/* Like dataset_load_csv, but every row is checked against the task: STYLE_PLAIN needs a src
 * ending in '=' (STYLE_SPACED allows none), then the task's check_row (expr: an integer tgt
 * and a src that expr_evaluate parses, a value that differs from tgt allowed; count: a src
 * [01]*= and an integer tgt; ...). Errors (ARITH_ERR_FORMAT) name path:line and the field. */
arith_status dataset_load_csv_as(example_set *set, const char *path, const task_config *task);
/* Writes `src,tgt` CSV atomically. */
arith_status dataset_save_csv(const example_set *set, const char *path);

/* ------------------------------------------------------------------------------ tokenizers */

/* How a batch numbers the positions the model sees (batch.pos):
 * columns: 0, 1, 2, ... from each row's first token;
 * random: a sorted draw of distinct ids from [0, pos_max) for each row (Ruoss et al. 2023),
 *   fresh at every training batch, fixed per example at evaluation;
 * abacus: a digit's index inside its number (McLeish et al. 2024), 0 for other tokens;
 * coupling: a digit's significance, the answer's columns that of the digit they predict, so
 *   that digits of equal significance share an id (Cho et al. 2024); 0 for other tokens.
 * In training (train true) abacus and coupling add a random offset 0..offset_max to the
 * nonzero ids of each row, kept below pos_max. */
typedef enum { POSIDS_COLUMNS = 0, POSIDS_RANDOM, POSIDS_ABACUS, POSIDS_COUPLING } posids_kind;
typedef struct {
    posids_kind kind;
    int pos_max;
    int offset_max;
    bool train;
} posids_plan;

#define TOK_MAX_VOCAB 256
/* Index hints name significances 1..TOK_MAX_HINTS (one token each). */
#define TOK_MAX_HINTS 200
/* Carry tokens name carries 0..TOK_MAX_CARRY - 1 (one token each; n x k products carry at
 * most 9k). */
#define TOK_MAX_CARRY 100
#define TOK_NAME_MAX 8

typedef struct {
    tokenizer_kind kind;
    int digits;            /* pairs: operand width in digits; char with --zero-pad and
                              --scratchpad: the longest operands, whose longest answer sets
                              every step's width */
    bool reverse_answer;   /* answer emitted least significant digit first */
    int vocab_size;
    int32_t pad_id, eos_id, plus_id, equals_id;
    int32_t char_to_id[128];                 /* -1 when not in the vocabulary */
    posids_plan plan;      /* how batches of its encoded sets number positions (evaluation;
                              encoded_build copies it; the training set turns on plan.train) */
    char names[TOK_MAX_VOCAB][TOK_NAME_MAX]; /* printable name of every id */
    int answer_width;      /* > 0: answers right-aligned with spaces to this many characters */
    int pad_answer;        /* pairs with --zero-pad: answers zero-padded to this many digits
                              (format.answer_digits(digits)), so that every answer has the
                              same length and no answer ends early; 0: off */
    /* Digit formats of a task's "a OP b=" (char tokenizer, tokenizer_set_format): */
    digit_format format;   /* the task's operator, answer width and sign */
    bool reverse_operands; /* operands least significant digit first */
    bool zero_pad;         /* operands zero-padded to the longer one's length w, answers to
                              their longest (format.answer_digits(w)) */
    bool hints;            /* a hint token before each digit naming its significance */
    int32_t hint_base;     /* id of the hint for significance 1 */
    bool scratchpad;       /* the format's intermediate results before the answer, each written
                              as the answer is (reversed, zero-padded to the answer's width,
                              hinted), a space after each (tokenizer_set_scratchpad) */
    bool show_steps;       /* with a scratchpad or carries, tok_decode_answer keeps the steps
                              (as tok_decode_scratchpad): for showing, never for checking */
    bool carries;          /* each answer digit followed by a token c<k>, its column's carry
                              out (tokenizer_set_carries) */
    int32_t carry_base;    /* id of c0 */
} tokenizer;

arith_status tokenizer_parse(tokenizer_kind *kind, const char *name);
const char *tokenizer_name(tokenizer_kind kind);
arith_status tokenizer_init(tokenizer *tok, tokenizer_kind kind, int digits, bool reverse_answer);
/* Turns on the digit formats for a task's prompts "a OP b=" as `format` describes them (the
 * char tokenizer only, and a task with a format; otherwise ARITH_ERR_ARG naming the flags):
 * reverse writes operands and answer least significant digit first, zero_pad pads operands to
 * equal length and answers to their longest, hints puts a token h<k> before every digit of
 * significance k (the vocabulary grows by TOK_MAX_HINTS). A signed format writes a sign token
 * ('+' or '-') before the answer's digits, in every format, so that each digit keeps its
 * place. Answers are decoded back (sign read, hints checked and stripped, digits un-reversed,
 * leading zeros dropped unless the format's answers are fixed-width), so they compare with
 * plain answers ("-333", xor's "0101"). The format is recorded even when no flag is on
 * (tokenizer_set_positions asks whether answers are signed). The pairs tokenizer takes
 * zero_pad alone: its operands are always zero-padded, and zero_pad pads its answers to their
 * longest (pad_answer). */
arith_status tokenizer_set_format(tokenizer *tok, const digit_format *format, bool reverse,
                                  bool zero_pad, bool hints);
/* Turns on the scratchpad format (char tokenizer, a task whose format has scratch_steps, no
 * --answer-width; otherwise ARITH_ERR_ARG naming the flags): before its answer, an example's
 * target holds the format's intermediate results, each followed by a space, written as the
 * answer is written (zero-padded: every step and the answer as wide as the longest answer of
 * operands of tok->digits digits, or of the prompt's when longer). Decoding keeps the answer, the last number, alone, so answers still
 * compare with plain ones; tok_decode_scratchpad shows the whole target. */
arith_status tokenizer_set_scratchpad(tokenizer *tok, bool on);
/* Turns on the carries (char tokenizer, reversed answers, a task whose format has column_sum,
 * no hints, scratchpad or --answer-width; otherwise ARITH_ERR_ARG naming the flags): every
 * digit of the answer is followed by a token c<k> (the vocabulary grows by TOK_MAX_CARRY)
 * naming the carry out of its column, which the next column adds in; that token gets its
 * digit's significance and index. Decoding checks that a carry token follows every digit and
 * keeps the digits alone; tok_decode_scratchpad shows the carries too. */
arith_status tokenizer_set_carries(tokenizer *tok, bool on);
/* Decodes generated ids up to EOS like tok_decode_answer, but keeps the scratchpad: every
 * number is put back most significant first, separated by spaces ("4 44 444" for 4*111=).
 * With carries, the answer is followed by " carries " and each column's carry, from the units
 * up, separated by commas ("56088 carries 1,2,3,1,0" for 123*456=). */
void tok_decode_scratchpad(const tokenizer *tok, const int32_t *ids, int n, char *out,
                           size_t cap);
/* Whether any digit format is on. */
bool tok_has_format(const tokenizer *tok);
/* Encodes a whole example, prompt then answer (as tok_encode_prompt and tok_encode_answer;
 * the digit formats need both, since a zero-padded answer's width comes from the prompt).
 * idx and sig (may be NULL) receive, for every token, the digit's 1-based index in its number
 * as written (Abacus) and its significance (1 = units; position coupling); 0 for tokens that
 * are not digits (a hint gets its digit's). *ans_width receives the answer's width in digits
 * when it is zero-padded and written most significant digit first, else 0. */
arith_status tok_encode_example(const tokenizer *tok, const char *prompt, const char *answer,
                                int32_t *ids, int32_t *idx, int32_t *sig, int cap, int *np,
                                int *na, int *ans_width);
/* Encodes a prompt into ids (at most cap); unknown characters, malformed prompts for the
 * pairs tokenizer, or operands longer than `digits` give ARITH_ERR_DATA naming the character
 * and its position. */
arith_status tok_encode_prompt(const tokenizer *tok, const char *prompt, int32_t *ids, int cap,
                               int *n);
/* Seed 002's fixed-width answers: when width > 0, tok_encode_answer right-aligns every answer
 * with spaces to exactly `width` characters (" 494" for width 4) before EOS, and
 * tok_decode_answer strips the leading spaces again; 0 (the default) turns it off. Needs the
 * char tokenizer (the only one with a space token). */
void tokenizer_set_answer_width(tokenizer *tok, int width);
/* Encodes an answer (padded to answer_width, then reversed when reverse_answer) followed by
 * EOS. An answer longer than answer_width is ARITH_ERR_DATA. */
arith_status tok_encode_answer(const tokenizer *tok, const char *answer, int32_t *ids, int cap,
                               int *n);
/* Decodes generated answer ids up to EOS (or n) back to the answer text, un-reversed. Ids that
 * are not answer characters decode as '?', so a wrong answer never equals a right one. */
void tok_decode_answer(const tokenizer *tok, const int32_t *ids, int n, char *out, size_t cap);
/* Space-separated token names, for showing what the model sees. */
void tok_describe(const tokenizer *tok, const int32_t *ids, int n, char *out, size_t cap);

/* -------------------------------------------------------------------------- encoded sets */

/* A data set tokenized once: prompt and answer ids of every example, flat. */
typedef struct {
    int count;
    int32_t *ids;           /* all prompt and answer ids back to back */
    int32_t *prompt_off;    /* (count) offset of the prompt in ids */
    int32_t *prompt_len;    /* (count) */
    int32_t *answer_off;    /* (count) */
    int32_t *answer_len;    /* (count) answer tokens incl. EOS */
    float *value;           /* (count) the answer as a number (regression), NaN if not one */
    int32_t *idx, *sig;     /* beside ids: each token's index in its number and significance
                               (tok_encode_example) */
    int32_t *ans_width;     /* (count) see tok_encode_example */
    int max_prompt;
    int max_answer;
    /* how batches number positions (encoded_set_positions; default: columns) */
    posids_plan plan;
    int ans_period;         /* answer tokens per digit: 2 with index hints or carries, else 1 */
    int ans_sign;           /* tokens before an answer's digits: 1 (the sign) in a signed
                               digit format, else 0 */
    bool ans_reversed;      /* answers least significant digit first */
    /* index hints (ids hint_base .. hint_base + TOK_MAX_HINTS - 1; hint_base < 0: none):
     * training batches (plan.train) add one random offset 0..hint_offset to the hints of each
     * row, kept within the hints there are, so that hints past the trained lengths are
     * trained too (as --pos-offset does for coupled ids) */
    int32_t hint_base;
    int hint_offset;
} encoded_set;

/* Sets how batches of the tokenizer's encoded sets number their positions (plan.train
 * false; encoded_build copies the plan), and checks that they can: coupling needs answers
 * whose significances are known before they are generated (reversed or zero-padded); abacus
 * and coupling on answers that may be negative need a digit format (the sign's one place). */
arith_status tokenizer_set_positions(tokenizer *tok, posids_plan plan);

/* Tokenizes every example; errors name the example (and `source`, a file name or "train"). */
arith_status encoded_build(encoded_set *enc, const example_set *set, const tokenizer *tok,
                           const char *source);
void encoded_free(encoded_set *enc);

/* ---------------------------------------------------------------------------------- batch */

/* A training batch. Prompts are left-padded so they all end at the same column (start[b] pad
 * columns first), answers follow, then right padding. tokens[b][t] is the input at column t and
 * targets[b][t] the token to predict there (-1: no loss). pos[b][t] = max(t - start[b], 0). */
typedef struct {
    int B, T;               /* rows and columns in use */
    int max_B, max_T;       /* capacity */
    int32_t *tokens;        /* (max_B * max_T) */
    int32_t *targets;       /* (max_B * max_T) */
    int32_t *pos;           /* (max_B * max_T) */
    int32_t *start;         /* (max_B) */
    int prompt_T;           /* columns [0, prompt_T) hold the prompts, which all end at
                               column prompt_T - 1 */
    float *values;          /* (max_B) the answers as numbers (regression targets) */
    /* Prompt batches whose positions are not plain columns: the positions of the answer
     * tokens a generation feeds back, gen_pos[r * gen_n + i] for the token at column
     * prompt_T + i of row r (i < gen_n); NULL: columns continue (pos = column - start). */
    int32_t *gen_pos;
    int gen_n, gen_cap;
    uint64_t pos_seed;      /* training: draws of random positions and offsets (set per batch) */
} batch;

arith_status batch_alloc(batch *b, int max_B, int max_T);
void batch_free(batch *b);
/* Fills a teacher-forced training batch from examples idx[0..n) of enc. */
arith_status batch_fill_train(batch *b, const encoded_set *enc, const int32_t *idx, int n,
                              int32_t pad_id);
/* Fills a prompt-only batch (for generation): T = longest prompt, targets all -1. */
arith_status batch_fill_prompts(batch *b, const encoded_set *enc, const int32_t *idx, int n,
                                int32_t pad_id);
/* Recomputes pos from start for columns 0..T-1 (and drops gen_pos). */
void batch_positions(batch *b);
/* Gives row dst of `to` the positions (pos and gen_pos) of row src of `from` (same T). */
arith_status batch_copy_positions(batch *to, int dst, const batch *from, int src);

#endif
