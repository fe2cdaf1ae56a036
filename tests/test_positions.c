/* Tests of the digit formats (reversed operands and answers, zero padding, index hints) and of
 * the positions batches give the model (abacus, coupling, random draws), in training and in
 * generation. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "support.h"
#include "core/core.h"
#include "data/data.h"
#include "models/model.h"

/* The example's tokens as names, e.g. "3 2 1 + 5 4 = 8 6 1 [EOS]". */
static void describe(const tokenizer *tok, const char *prompt, const char *answer, char *out,
                     size_t cap, int32_t *idx, int32_t *sig, int *n)
{
    int32_t ids[256];
    int np = 0, na = 0, w = 0;
    CHECK_OK(tok_encode_example(tok, prompt, answer, ids, idx, sig, 256, &np, &na, &w));
    tok_describe(tok, ids, np + na, out, cap);
    *n = np + na;
}

/* n random sums with operands of 1..digits digits, drawn from seed, into a fresh set. */
static void sample_sums(example_set *set, int digits, int n, uint64_t seed)
{
    examples_init(set);
    task_config task = {.def = task_find("add"), .digits = digits, .digits_min = 1};
    rng_state rng;
    rng_seed(&rng, seed);
    for (int i = 0; i < n; i++) {
        char prompt[64], answer[64];
        CHECK_OK(task_sample(&task, &rng, prompt, sizeof prompt, answer, sizeof answer));
        CHECK_OK(examples_push(set, prompt, answer));
    }
}

/* A signed format of the kind a subtraction task gives: "a-b=", answers as wide as the longer
 * operand, negative ones allowed. The tokenizer is tested on it before any task has it. */
static int signed_width(int width)
{
    return width;
}
static const digit_format minus_format = {
    .op = '-', .answer_digits = signed_width, .signed_answers = true, .fixed_width = false};

/* n random differences a-b with operands of 1..digits digits (digits <= 18), drawn from seed,
 * the answers by 64-bit arithmetic, into a fresh set. */
static void sample_differences(example_set *set, int digits, int n, uint64_t seed)
{
    examples_init(set);
    rng_state rng;
    rng_seed(&rng, seed);
    for (int i = 0; i < n; i++) {
        long long v[2];
        for (int k = 0; k < 2; k++) {
            int len = 1 + (int)rng_below(&rng, (uint64_t)digits);
            v[k] = 0;
            for (int d = 0; d < len; d++)
                v[k] = v[k] * 10 + (long long)rng_below(&rng, 10);
        }
        char prompt[64], answer[64];
        snprintf(prompt, sizeof prompt, "%lld-%lld=", v[0], v[1]);
        snprintf(answer, sizeof answer, "%lld", v[0] - v[1]);
        CHECK_OK(examples_push(set, prompt, answer));
    }
}

/* n problems of the format: sums from task add, or differences for the signed format. */
static void sample_problems(example_set *set, const digit_format *format, int digits, int n,
                            uint64_t seed)
{
    if (format->signed_answers)
        sample_differences(set, digits, n, seed);
    else
        sample_sums(set, digits, n, seed);
}

static const digit_format *format_of(const char *task)
{
    const task_def *def = task_find(task);
    CHECK(def && def->format);
    return def ? def->format : NULL;
}

/* Set around calls of the checks below: their tokenizers write the answer's carries too. */
static bool with_carries;

static void make_format(tokenizer *tok, const digit_format *format, bool reverse, bool pad,
                        bool hints)
{
    CHECK_OK(tokenizer_init(tok, TOK_CHAR, 0, false));
    CHECK_OK(tokenizer_set_format(tok, format, reverse, pad, hints));
    if (with_carries)
        CHECK_OK(tokenizer_set_carries(tok, true));
}

/* The formats of task add. */
static void make(tokenizer *tok, bool reverse, bool pad, bool hints)
{
    make_format(tok, format_of("add"), reverse, pad, hints);
}

static void test_formats(void)
{
    tokenizer tok;
    char text[512];
    int32_t idx[256], sig[256];
    int n;
    make(&tok, true, false, false);
    describe(&tok, "123+45=", "168", text, sizeof text, idx, sig, &n);
    CHECK_STR(text, "3 2 1 + 5 4 = 8 6 1 [EOS]");
    /* reversed: the index in the number is the significance */
    const int32_t want_rev[] = {1, 2, 3, 0, 1, 2, 0, 1, 2, 3, 0};
    for (int i = 0; i < n; i++) {
        CHECK_EQ_INT(idx[i], want_rev[i]);
        CHECK_EQ_INT(sig[i], want_rev[i]);
    }
    make(&tok, false, true, false);
    describe(&tok, "123+45=", "168", text, sizeof text, idx, sig, &n);
    CHECK_STR(text, "1 2 3 + 0 4 5 = 0 1 6 8 [EOS]");
    const int32_t want_idx[] = {1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 4, 0};
    const int32_t want_sig[] = {3, 2, 1, 0, 3, 2, 1, 0, 4, 3, 2, 1, 0};
    for (int i = 0; i < n; i++) {
        CHECK_EQ_INT(idx[i], want_idx[i]);
        CHECK_EQ_INT(sig[i], want_sig[i]);
    }
    make(&tok, true, true, false);
    describe(&tok, "123+45=", "168", text, sizeof text, idx, sig, &n);
    CHECK_STR(text, "3 2 1 + 5 4 0 = 8 6 1 0 [EOS]");
    /* products pad to twice the operand width */
    make_format(&tok, format_of("mul"), true, true, false);
    describe(&tok, "12*3=", "36", text, sizeof text, idx, sig, &n);
    CHECK_STR(text, "2 1 * 3 0 = 6 3 0 0 [EOS]");
    make(&tok, false, false, true);
    describe(&tok, "12+345=", "357", text, sizeof text, idx, sig, &n);
    CHECK_STR(text, "h2 1 h1 2 + h3 3 h2 4 h1 5 = h3 3 h2 5 h1 7 [EOS]");
    CHECK_EQ_INT(sig[0], 2);
    CHECK_EQ_INT(sig[1], 2);
    CHECK_EQ_INT(idx[2], 2);
    make(&tok, true, false, true);
    describe(&tok, "12+345=", "357", text, sizeof text, idx, sig, &n);
    CHECK_STR(text, "h1 2 h2 1 + h1 5 h2 4 h3 3 = h1 7 h2 5 h3 3 [EOS]");

    /* signed answers: a sign token first in every format, where no digit ever is; it has no
     * index or significance */
    make_format(&tok, &minus_format, true, false, false);
    describe(&tok, "12-345=", "-333", text, sizeof text, idx, sig, &n);
    CHECK_STR(text, "2 1 - 5 4 3 = - 3 3 3 [EOS]");
    const int32_t want_signed[] = {1, 2, 0, 1, 2, 3, 0, 0, 1, 2, 3, 0};
    for (int i = 0; i < n; i++) {
        CHECK_EQ_INT(idx[i], want_signed[i]);
        CHECK_EQ_INT(sig[i], want_signed[i]);
    }
    describe(&tok, "345-12=", "333", text, sizeof text, idx, sig, &n);
    CHECK_STR(text, "5 4 3 - 2 1 = + 3 3 3 [EOS]");
    make_format(&tok, &minus_format, false, true, false);
    describe(&tok, "12-345=", "-333", text, sizeof text, idx, sig, &n);
    CHECK_STR(text, "0 1 2 - 3 4 5 = - 3 3 3 [EOS]");
    describe(&tok, "123-45=", "78", text, sizeof text, idx, sig, &n);
    CHECK_STR(text, "1 2 3 - 0 4 5 = + 0 7 8 [EOS]");
    const int32_t want_pad_sig[] = {3, 2, 1, 0, 3, 2, 1, 0, 0, 3, 2, 1, 0};
    for (int i = 0; i < n; i++)
        CHECK_EQ_INT(sig[i], want_pad_sig[i]);
    make_format(&tok, &minus_format, true, true, false);
    describe(&tok, "123-45=", "78", text, sizeof text, idx, sig, &n);
    CHECK_STR(text, "3 2 1 - 5 4 0 = + 8 7 0 [EOS]");
    make_format(&tok, &minus_format, false, false, true);
    describe(&tok, "12-345=", "-333", text, sizeof text, idx, sig, &n);
    CHECK_STR(text, "h2 1 h1 2 - h3 3 h2 4 h1 5 = - h3 3 h2 3 h1 3 [EOS]");

    /* errors: not a+b=, a non-number answer, too long for the padding, other tokenizers, too
     * many digits for the hints, a negative answer in an unsigned format */
    int32_t ids[256];
    int np, na, w;
    make(&tok, true, false, false);
    CHECK_EQ_INT(tok_encode_example(&tok, "12+3+4=", "19", ids, NULL, NULL, 256, &np, &na, &w),
                 ARITH_ERR_DATA);
    CHECK(strstr(arith_error_message(), "of the form a+b=") != NULL);
    CHECK_EQ_INT(tok_encode_example(&tok, "12+3=", "-9", ids, NULL, NULL, 256, &np, &na, &w),
                 ARITH_ERR_DATA);
    CHECK(strstr(arith_error_message(), "digits only") != NULL);
    make_format(&tok, &minus_format, true, false, false);
    CHECK_EQ_INT(tok_encode_example(&tok, "12-3=", "--9", ids, NULL, NULL, 256, &np, &na, &w),
                 ARITH_ERR_DATA);
    CHECK(strstr(arith_error_message(), "an optional '-' and digits") != NULL);
    CHECK_EQ_INT(tok_encode_example(&tok, "12+3=", "15", ids, NULL, NULL, 256, &np, &na, &w),
                 ARITH_ERR_DATA);
    CHECK(strstr(arith_error_message(), "character '+' at position 3") != NULL);
    make(&tok, true, false, false);
    CHECK_EQ_INT(tok_encode_example(&tok, "12-3=", "9", ids, NULL, NULL, 256, &np, &na, &w),
                 ARITH_ERR_DATA);
    CHECK(strstr(arith_error_message(), "character '-' at position 3") != NULL);
    CHECK_EQ_INT(tok_encode_example(&tok, "12+3=", "1x", ids, NULL, NULL, 256, &np, &na, &w),
                 ARITH_ERR_DATA);
    make(&tok, false, true, false);
    CHECK_EQ_INT(tok_encode_example(&tok, "12+3=", "1234", ids, NULL, NULL, 256, &np, &na, &w),
                 ARITH_ERR_DATA);
    CHECK(strstr(arith_error_message(), "longer than the 3 digits") != NULL);
    tokenizer pairs;
    CHECK_OK(tokenizer_init(&pairs, TOK_PAIRS, 5, false));
    CHECK_EQ_INT(tokenizer_set_format(&pairs, format_of("add"), true, false, false),
                 ARITH_ERR_ARG);
    CHECK(strstr(arith_error_message(), "--tokenizer pairs") != NULL);
    tokenizer plain;
    CHECK_OK(tokenizer_init(&plain, TOK_CHAR, 0, false));
    CHECK_EQ_INT(tokenizer_set_format(&plain, NULL, false, true, false), ARITH_ERR_ARG);
    CHECK(strstr(arith_error_message(), "digit formats") != NULL);
    make(&tok, false, false, true);
    char big[512];
    memset(big, '7', TOK_MAX_HINTS + 1);
    strcpy(big + TOK_MAX_HINTS + 1, "+1=");
    CHECK_EQ_INT(tok_encode_example(&tok, big, "1", ids, NULL, NULL, 256, &np, &na, &w),
                 ARITH_ERR_DATA);
    CHECK(strstr(arith_error_message(), "index hints name at most") != NULL);
}

/* Seed 003's bit-XOR in the digit formats and the pairs tokenizer: the plain prompt "a b="
 * goes in, bit i of a, bit i of b and answer bit i share a significance (coupling's id) or a
 * pair token, and the answer decodes back to the plain XOR with its leading zeros. */
static void test_xor_formats(void)
{
    const digit_format *xf = format_of("xor");
    tokenizer tok;
    char text[512], back[128];
    int32_t ids[256], idx[256], sig[256];
    int n, np, na, w;
    make_format(&tok, xf, false, true, false);
    describe(&tok, "0110 0011=", "0101", text, sizeof text, idx, sig, &n);
    CHECK_STR(text, "0 1 1 0 \xe2\x90\xa3 0 0 1 1 = 0 1 0 1 [EOS]");
    const int32_t want_sig[] = {4, 3, 2, 1, 0, 4, 3, 2, 1, 0, 4, 3, 2, 1, 0};
    for (int i = 0; i < n; i++)
        CHECK_EQ_INT(sig[i], want_sig[i]);
    make_format(&tok, xf, true, false, false);
    describe(&tok, "0110 0011=", "0101", text, sizeof text, idx, sig, &n);
    CHECK_STR(text, "0 1 1 0 \xe2\x90\xa3 1 1 0 0 = 1 0 1 0 [EOS]");

    /* every format and the pairs tokenizer (reversed answers or not): round trips of 10-bit
     * problems, leading zeros kept */
    task_config task = {.def = task_find("xor"), .digits = 10};
    rng_state rng;
    rng_seed(&rng, 13);
    for (int f = 0; f < 10; f++) {
        if (f < 8) {
            make_format(&tok, xf, f & 1, f & 2, f & 4);
        } else {
            CHECK_OK(tokenizer_init(&tok, TOK_PAIRS, 10, f == 9));
            CHECK_OK(tokenizer_set_format(&tok, xf, false, false, false));
        }
        int zeros = 0;
        for (int i = 0; i < 200; i++) {
            char prompt[64], answer[64];
            CHECK_OK(task_sample(&task, &rng, prompt, sizeof prompt, answer, sizeof answer));
            CHECK_OK(tok_encode_example(&tok, prompt, answer, ids, idx, sig, 256, &np, &na, &w));
            tok_decode_answer(&tok, ids + np, na, back, sizeof back);
            CHECK_MSG(strcmp(back, answer) == 0, "format %d: %s%s decoded as %s", f, prompt,
                      answer, back);
            zeros += answer[0] == '0';
        }
        CHECK_MSG(zeros > 50, "format %d: only %d answers with a leading zero", f, zeros);
    }

    /* the pairs tokenizer: bit i of a and bit i of b in one token, least significant first;
     * reversed answers put answer bit i at pair i's significance */
    CHECK_OK(tokenizer_init(&tok, TOK_PAIRS, 4, true));
    CHECK_OK(tokenizer_set_format(&tok, xf, false, false, false));
    describe(&tok, "0110 0011=", "0101", text, sizeof text, idx, sig, &n);
    CHECK_STR(text, "(0,1) (1,1) (0,1) (0,0) + = 1 0 1 0 [EOS]");
    const int32_t want_pair_sig[] = {1, 2, 3, 4, 0, 0, 1, 2, 3, 4, 0};
    for (int i = 0; i < n; i++)
        CHECK_EQ_INT(sig[i], want_pair_sig[i]);
    /* strings of another length would be zero-padded, and the answer's width lost: refused */
    CHECK_EQ_INT(tok_encode_prompt(&tok, "011 001=", ids, 256, &n), ARITH_ERR_DATA);
    CHECK(strstr(arith_error_message(), "exactly the 4 digits") != NULL);
    CHECK(strstr(arith_error_message(), "--digits 4") != NULL);
    CHECK_EQ_INT(tok_encode_prompt(&tok, "0110+0011=", ids, 256, &n), ARITH_ERR_DATA);
    CHECK(strstr(arith_error_message(), "character '+' at position 5") != NULL);
    CHECK_EQ_INT(tok_encode_prompt(&tok, "0110 0011", ids, 256, &n), ARITH_ERR_DATA);
    CHECK(strstr(arith_error_message(), "of the form a b=") != NULL);
}

/* Every format, add and mul: answers decode back to themselves; a wrong hint, a missing
 * digit or a stray token makes the decoded answer wrong. */
static void test_round_trip(void)
{
    rng_state rng;
    rng_seed(&rng, 11);
    for (int f = 0; f < 8; f++) {
        for (int kind = 0; kind < 2; kind++) {
            tokenizer tok;
            make_format(&tok, format_of(kind ? "mul" : "add"), f & 1, f & 2, f & 4);
            task_config task = {.def = task_find(kind ? "mul" : "add"), .digits = 12,
                                .digits_min = 1};
            for (int i = 0; i < 300; i++) {
                char prompt[64], answer[64], back[128];
                CHECK_OK(task_sample(&task, &rng, prompt, sizeof prompt, answer, sizeof answer));
                int32_t ids[256];
                int np, na, w;
                CHECK_OK(tok_encode_example(&tok, prompt, answer, ids, NULL, NULL, 256, &np, &na,
                                            &w));
                tok_decode_answer(&tok, ids + np, na, back, sizeof back);
                CHECK_MSG(strcmp(back, answer) == 0, "format %d: %s%s decoded as %s", f, prompt,
                          answer, back);
                if (i == 0 && (f & 4) && na > 3) { /* swap two hints: wrong */
                    int32_t t = ids[np];
                    ids[np] = ids[np + 2];
                    ids[np + 2] = t;
                    tok_decode_answer(&tok, ids + np, na, back, sizeof back);
                    CHECK(strcmp(back, answer) != 0);
                }
            }
        }
    }
    /* zero padding is dropped, but without it a leading zero is a wrong answer */
    tokenizer tok;
    make(&tok, true, false, false);
    int32_t ids[4] = {8, 6, 0, 13};
    char back[16];
    tok_decode_answer(&tok, ids, 4, back, sizeof back);
    CHECK_STR(back, "068");
    make(&tok, true, true, false);
    tok_decode_answer(&tok, ids, 4, back, sizeof back);
    CHECK_STR(back, "68");
    int32_t eos[1] = {13};
    tok_decode_answer(&tok, eos, 1, back, sizeof back);
    CHECK_STR(back, "?");

    /* signed answers, every format: differences of up to 18 digits (answers checked by 64-bit
     * arithmetic) decode back to themselves, "-333" included; without its sign, with the
     * wrong one, or with a stray sign among the digits an answer is wrong */
    example_set diffs;
    sample_differences(&diffs, 18, 300, 12);
    int negatives = 0;
    for (int f = 0; f < 8; f++) {
        make_format(&tok, &minus_format, f & 1, f & 2, f & 4);
        const int32_t minus = tok.char_to_id['-'], plus = tok.plus_id;
        for (int i = 0; i < diffs.count; i++) {
            const example *e = &diffs.items[i];
            int32_t row[256];
            int np, na, w;
            char text[128];
            CHECK_OK(tok_encode_example(&tok, e->prompt, e->answer, row, NULL, NULL, 256, &np,
                                        &na, &w));
            const bool negative = e->answer[0] == '-';
            negatives += negative && f == 0;
            tok_decode_answer(&tok, row + np, na, text, sizeof text);
            CHECK_MSG(strcmp(text, e->answer) == 0, "format %d: %s%s decoded as %s", f,
                      e->prompt, e->answer, text);
            if (f == 0) /* no format on: plain characters, "-333" and "333" */
                continue;
            CHECK(row[np] == (negative ? minus : plus));
            row[np] = negative ? plus : minus; /* the other sign: wrong */
            tok_decode_answer(&tok, row + np, na, text, sizeof text);
            CHECK(strcmp(text, e->answer) != 0);
            tok_decode_answer(&tok, row + np + 1, na - 1, text, sizeof text); /* no sign */
            CHECK(strcmp(text, e->answer) != 0);
            row[np] = negative ? minus : plus;
            if (na > 3) { /* a sign where a digit belongs */
                row[np + 2] = minus;
                tok_decode_answer(&tok, row + np, na, text, sizeof text);
                CHECK(strcmp(text, e->answer) != 0);
            }
        }
    }
    CHECK(negatives > 100 && negatives < 200); /* about half */
    examples_free(&diffs);
    /* "-0" is not 0, and a lone sign is no answer */
    make_format(&tok, &minus_format, true, true, false);
    int32_t minus_zero[3] = {tok.char_to_id['-'], 0, 13};
    tok_decode_answer(&tok, minus_zero, 3, back, sizeof back);
    CHECK_STR(back, "-0");
    int32_t lone[2] = {tok.char_to_id['-'], 13};
    tok_decode_answer(&tok, lone, 2, back, sizeof back);
    CHECK(strcmp(back, "-") != 0 && strchr(back, '?') != NULL);
}

/* The positions a training batch gives the answer's columns are those generation gives the
 * tokens it feeds back, so what is trained is what is asked. */
static void check_train_matches_generation(const digit_format *format, bool reverse, bool pad,
                                           bool hints, posids_kind kind)
{
    tokenizer tok;
    make_format(&tok, format, reverse, pad, hints);
    posids_plan plan = {kind, 256, 0, false};
    CHECK_OK(tokenizer_set_positions(&tok, plan));
    example_set set;
    sample_problems(&set, format, 9, 40, 5);
    encoded_set enc;
    CHECK_OK(encoded_build(&enc, &set, &tok, "test"));
    batch tb, pb;
    CHECK_OK(batch_alloc(&tb, 40, enc.max_prompt + enc.max_answer));
    CHECK_OK(batch_alloc(&pb, 40, enc.max_prompt));
    int32_t idx[40];
    for (int i = 0; i < 40; i++)
        idx[i] = i;
    CHECK_OK(batch_fill_train(&tb, &enc, idx, 40, tok.pad_id));
    CHECK_OK(batch_fill_prompts(&pb, &enc, idx, 40, tok.pad_id));
    CHECK(pb.gen_n > 0);
    int bad = 0;
    for (int r = 0; r < 40; r++) {
        for (int t = 0; t < pb.T; t++)
            bad += tb.pos[r * tb.T + t] != pb.pos[r * pb.T + t];
        for (int i = 0; pb.T + i < tb.T && tb.targets[r * tb.T + pb.T + i] >= 0; i++)
            bad += tb.pos[r * tb.T + pb.T + i] != pb.gen_pos[r * pb.gen_n + i];
    }
    CHECK_MSG(bad == 0, "format %c%d%d%d%s kind %d: %d positions differ", format->op, reverse,
              pad, hints, with_carries ? " carries" : "", (int)kind, bad);
    /* the ids follow the tokenizer's: abacus the digit's index, coupling the significance of
     * the digit each column predicts (the next token's) */
    for (int r = 0; r < 40; r++) {
        int e = idx[r], np = enc.prompt_len[e], na = enc.answer_len[e];
        const int32_t *row = tb.pos + r * tb.T;
        const int32_t *pi = enc.idx + enc.prompt_off[e], *ps = enc.sig + enc.prompt_off[e];
        const int32_t *ai = enc.idx + enc.answer_off[e], *as = enc.sig + enc.answer_off[e];
        for (int i = 0; i < np - 1; i++)
            bad += row[tb.start[r] + i] != (kind == POSIDS_ABACUS ? pi[i] : ps[i]);
        for (int i = 0; i + 1 < na; i++) { /* answer inputs a[0..na-2] */
            int col = tb.prompt_T + i;
            if (kind == POSIDS_ABACUS)
                bad += row[col] != ai[i];
            else if (i + 1 < na - 1)
                bad += row[col] != as[i + 1];
        }
    }
    CHECK_MSG(bad == 0, "format %c%d%d%d%s kind %d: %d ids differ from the tokenizer's",
              format->op, reverse, pad, hints, with_carries ? " carries" : "", (int)kind, bad);
    batch_free(&tb);
    batch_free(&pb);
    encoded_free(&enc);
    examples_free(&set);
}

static void test_positions(void)
{
    const digit_format *formats[] = {format_of("add"), &minus_format};
    for (int k = 0; k < 2; k++)
        for (int f = 0; f < 8; f++) {
            bool reverse = f & 1, pad = f & 2, hints = f & 4;
            if (f || !formats[k]->signed_answers)
                check_train_matches_generation(formats[k], reverse, pad, hints, POSIDS_ABACUS);
            if (reverse || pad)
                check_train_matches_generation(formats[k], reverse, pad, hints, POSIDS_COUPLING);
        }
    /* carries: two answer tokens per column, both of the column's significance */
    with_carries = true;
    for (int pad = 0; pad < 2; pad++) {
        check_train_matches_generation(formats[0], true, pad, false, POSIDS_ABACUS);
        check_train_matches_generation(formats[0], true, pad, false, POSIDS_COUPLING);
    }
    with_carries = false;
    /* signed answers without a format have no fixed place for their digits */
    tokenizer plain_signed;
    make_format(&plain_signed, &minus_format, false, false, false);
    posids_plan abacus = {POSIDS_ABACUS, 256, 0, false};
    CHECK_EQ_INT(tokenizer_set_positions(&plain_signed, abacus), ARITH_ERR_ARG);
    CHECK(strstr(arith_error_message(), "digit format") != NULL);
    /* coupling on most-significant-first answers of unknown length is refused */
    tokenizer tok;
    make(&tok, false, false, true);
    posids_plan plan = {POSIDS_COUPLING, 256, 0, false};
    CHECK_EQ_INT(tokenizer_set_positions(&tok, plan), ARITH_ERR_ARG);
    CHECK(strstr(arith_error_message(), "--reverse") != NULL);

    /* a concrete coupling row: 12+345= reversed, answer 753 */
    make(&tok, true, false, false);
    CHECK_OK(tokenizer_set_positions(&tok, plan));
    example_set set;
    examples_init(&set);
    CHECK_OK(examples_push(&set, "12+345=", "357"));
    encoded_set enc;
    CHECK_OK(encoded_build(&enc, &set, &tok, "test"));
    batch b;
    CHECK_OK(batch_alloc(&b, 1, 16));
    int32_t zero = 0;
    CHECK_OK(batch_fill_train(&b, &enc, &zero, 1, tok.pad_id));
    /* 2 1 + 5 4 3 = 7 5 3: units, tens, 0, units, tens, hundreds, then '=' predicts the units
     * (1), 7 the tens (2), 5 the hundreds (3), 3 the EOS where a thousands digit would be */
    const int32_t want[] = {1, 2, 0, 1, 2, 3, 1, 2, 3, 4};
    CHECK_EQ_INT(b.T, 10);
    for (int t = 0; t < 10; t++)
        CHECK_EQ_INT(b.pos[t], want[t]);
    /* training offsets: one per row, on the nonzero ids only, inside pos_max */
    enc.plan.train = true;
    enc.plan.offset_max = 100;
    enc.plan.pos_max = 64;
    int seen_offset = 0;
    for (uint64_t seed = 1; seed <= 50; seed++) {
        b.pos_seed = seed;
        CHECK_OK(batch_fill_train(&b, &enc, &zero, 1, tok.pad_id));
        int off = b.pos[0] - 1;
        CHECK(off >= 0 && off <= 63 - 4);
        seen_offset |= off > 30;
        for (int t = 0; t < 10; t++)
            CHECK_EQ_INT(b.pos[t], want[t] ? want[t] + off : 0);
    }
    CHECK(seen_offset);
    batch_free(&b);
    encoded_free(&enc);
    examples_free(&set);

    /* a signed row: 12-345= reversed, answer -333: '=' predicts the sign (no significance), the
     * sign the units (1), then tens, hundreds, and the EOS where a thousands digit would be */
    make_format(&tok, &minus_format, true, false, false);
    CHECK_OK(tokenizer_set_positions(&tok, plan));
    examples_init(&set);
    CHECK_OK(examples_push(&set, "12-345=", "-333"));
    CHECK_OK(encoded_build(&enc, &set, &tok, "test"));
    CHECK_OK(batch_alloc(&b, 1, 16));
    CHECK_OK(batch_fill_train(&b, &enc, &zero, 1, tok.pad_id));
    const int32_t want_signed[] = {1, 2, 0, 1, 2, 3, 0, 1, 2, 3, 4};
    CHECK_EQ_INT(b.T, 11);
    for (int t = 0; t < 11; t++)
        CHECK_EQ_INT(b.pos[t], want_signed[t]);
    batch_free(&b);
    encoded_free(&enc);
    examples_free(&set);
    examples_init(&set);
    CHECK_OK(examples_push(&set, "12+345=", "357"));

    /* random positions: sorted, distinct, inside pos_max; fresh per training batch, fixed
     * per example in evaluation */
    tokenizer plain;
    CHECK_OK(tokenizer_init(&plain, TOK_CHAR, 0, false));
    posids_plan rnd = {POSIDS_RANDOM, 40, 0, false};
    CHECK_OK(tokenizer_set_positions(&plain, rnd));
    CHECK_OK(encoded_build(&enc, &set, &plain, "test"));
    CHECK_OK(batch_alloc(&b, 1, 16));
    CHECK_OK(batch_fill_train(&b, &enc, &zero, 1, plain.pad_id));
    int32_t first[16];
    memcpy(first, b.pos, sizeof first);
    for (int t = 1; t < b.T; t++)
        CHECK(b.pos[t] > b.pos[t - 1]);
    CHECK(b.pos[b.T - 1] < 40);
    CHECK_OK(batch_fill_train(&b, &enc, &zero, 1, plain.pad_id));
    CHECK(memcmp(first, b.pos, (size_t)b.T * sizeof(int32_t)) == 0); /* same seed, same draw */
    b.pos_seed = 99;
    CHECK_OK(batch_fill_train(&b, &enc, &zero, 1, plain.pad_id));
    CHECK(memcmp(first, b.pos, (size_t)b.T * sizeof(int32_t)) != 0);
    /* too long for the range: an error naming --pos-max */
    enc.plan.pos_max = 5;
    CHECK_EQ_INT(batch_fill_train(&b, &enc, &zero, 1, plain.pad_id), ARITH_ERR_DATA);
    CHECK(strstr(arith_error_message(), "--pos-max") != NULL);
    batch_free(&b);
    encoded_free(&enc);
    examples_free(&set);
}

/* --hint-offset: training adds one random offset to every index hint of a row, inputs and
 * targets alike, kept within the TOK_MAX_HINTS hints; evaluation and other tokens keep theirs. */
static void test_hint_offset(void)
{
    tokenizer tok;
    make(&tok, true, false, true); /* reversed, hinted: h1 2 h2 1 + h1 5 h2 4 h3 3 = h1 7 ... */
    example_set set;
    examples_init(&set);
    CHECK_OK(examples_push(&set, "12+345=", "357"));
    CHECK_OK(examples_push(&set, "8+9=", "17"));
    encoded_set enc;
    CHECK_OK(encoded_build(&enc, &set, &tok, "test"));
    const int32_t lo = tok.hint_base, hi = tok.hint_base + TOK_MAX_HINTS;
    batch b, plain;
    CHECK_OK(batch_alloc(&b, 2, 32));
    CHECK_OK(batch_alloc(&plain, 2, 32));
    const int32_t rows[] = {0, 1};
    CHECK_OK(batch_fill_train(&plain, &enc, rows, 2, tok.pad_id));
    /* the row's hints as written: 12+345 reversed is h1 2 h2 1 + h1 5 h2 4 h3 3 =, its answer
     * h1 7 h2 5 h3 3 EOS */
    CHECK_EQ_INT(plain.tokens[plain.prompt_T - 12], lo);
    CHECK_EQ_INT(plain.tokens[plain.prompt_T - 3], lo + 2);
    CHECK_EQ_INT(plain.targets[plain.prompt_T - 1], lo);
    /* off (or not training): the batch is the plain one */
    enc.hint_offset = 150;
    b.pos_seed = 7;
    CHECK_OK(batch_fill_train(&b, &enc, rows, 2, tok.pad_id));
    CHECK(memcmp(b.tokens, plain.tokens, (size_t)b.B * b.T * sizeof(int32_t)) == 0);
    enc.plan.train = true;
    int most_seen = 0, rows_differ = 0;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        b.pos_seed = seed;
        CHECK_OK(batch_fill_train(&b, &enc, rows, 2, tok.pad_id));
        int off[2];
        for (int r = 0; r < 2; r++) {
            off[r] = -1;
            for (int t = 0; t < b.T; t++) {
                size_t i = (size_t)r * b.T + t;
                int32_t p = plain.tokens[i], q = b.tokens[i];
                bool hint = p >= lo && p < hi;
                CHECK_EQ_INT(q >= lo && q < hi, hint);
                if (!hint) {
                    CHECK_EQ_INT(q, p);
                } else {
                    if (off[r] < 0)
                        off[r] = q - p;
                    CHECK_EQ_INT(q - p, off[r]); /* one offset per row */
                }
                int32_t pt = plain.targets[i], qt = b.targets[i];
                if (pt >= lo && pt < hi)
                    CHECK_EQ_INT(qt - pt, off[r]); /* the targets' hints move with the inputs' */
                else
                    CHECK_EQ_INT(qt, pt);
            }
            CHECK(off[r] >= 0 && off[r] <= 150);
            most_seen = off[r] > most_seen ? off[r] : most_seen;
        }
        rows_differ |= off[0] != off[1];
        /* the positions are those of the plain batch */
        CHECK(memcmp(b.pos, plain.pos, (size_t)b.B * b.T * sizeof(int32_t)) == 0);
    }
    CHECK(most_seen > 120);
    CHECK(rows_differ);
    /* kept within the hints: the first row's largest is h3, so at most TOK_MAX_HINTS - 3 */
    enc.hint_offset = TOK_MAX_HINTS - 1;
    int top_seen = 0;
    for (uint64_t seed = 1; seed <= 300; seed++) {
        b.pos_seed = seed;
        CHECK_OK(batch_fill_train(&b, &enc, rows, 2, tok.pad_id));
        for (int t = 0; t < b.B * b.T; t++) {
            if (b.tokens[t] >= lo)
                CHECK(b.tokens[t] < hi);
            if (b.targets[t] >= lo && b.targets[t] - lo + 1 > top_seen)
                top_seen = b.targets[t] - lo + 1;
        }
    }
    CHECK(top_seen > TOK_MAX_HINTS - 20 && top_seen <= TOK_MAX_HINTS);
    batch_free(&b);
    batch_free(&plain);
    encoded_free(&enc);
    examples_free(&set);
}

static model *make_model(const char *pos, int vocab, int pos_max, uint64_t seed)
{
    model_config mc = {.kind = family_named("transformer"), .vocab = vocab, .d_model = 16,
                       .heads = 4, .ffn = 24, .layers = 2, .context = 64, .norm = NORM_PRE,
                       .act = ACT_GELU, .pos = scheme_named(pos), .pos_max = pos_max};
    model *m = NULL;
    CHECK_OK(model_create(&m, &mc));
    if (!m)
        return NULL;
    rng_state rng;
    rng_seed(&rng, seed);
    model_init_weights(m, &rng);
    for (size_t i = 0; i < m->params.total; i++) /* larger weights: answers change per step */
        m->params.data[i] += 0.3f * rng_normal(&rng);
    return m;
}

/* Abacus and coupling are the learned table read at the data's ids: with the same weights and
 * ids, the same logits, loss and gradients as --pos learned (which is checked against PyTorch
 * in test_transformer). Ids past pos_max are an error, not a read out of bounds. */
static void test_tables(void)
{
    tokenizer tok;
    make(&tok, true, false, false);
    posids_plan plan = {POSIDS_COUPLING, 40, 30, false};
    CHECK_OK(tokenizer_set_positions(&tok, plan));
    example_set set;
    sample_sums(&set, 6, 6, 3);
    encoded_set enc;
    CHECK_OK(encoded_build(&enc, &set, &tok, "test"));
    enc.plan.train = true;
    batch b;
    CHECK_OK(batch_alloc(&b, 6, enc.max_prompt + enc.max_answer));
    int32_t idx[6] = {0, 1, 2, 3, 4, 5};
    b.pos_seed = 17;
    CHECK_OK(batch_fill_train(&b, &enc, idx, 6, tok.pad_id));
    model *learned = make_model("learned", tok.vocab_size, 40, 9);
    model *coupled = make_model("coupling", tok.vocab_size, 40, 9);
    model *abacus = make_model("abacus", tok.vocab_size, 40, 9);
    if (!learned || !coupled || !abacus)
        return;
    CHECK_EQ_INT(learned->params.total, coupled->params.total);
    /* the same weights (the tables start at different scales) */
    memcpy(coupled->params.data, learned->params.data, learned->params.total * sizeof(float));
    memcpy(abacus->params.data, learned->params.data, learned->params.total * sizeof(float));
    double l1 = 0, l2 = 0, l3 = 0;
    int c1 = 0, c2 = 0, c3 = 0;
    CHECK_OK(model_forward(learned, &b, false, 0, &l1, &c1));
    CHECK_OK(model_forward(coupled, &b, false, 0, &l2, &c2));
    CHECK_OK(model_forward(abacus, &b, false, 0, &l3, &c3));
    CHECK(l1 == l2 && l2 == l3 && c1 == c2);
    params_zero_grad(&learned->params);
    params_zero_grad(&coupled->params);
    model_backward(learned);
    model_backward(coupled);
    CHECK(memcmp(learned->params.grad, coupled->params.grad,
                 learned->params.total * sizeof(float)) == 0);
    b.pos[3] = 40; /* past the table */
    CHECK_EQ_INT(model_forward(coupled, &b, false, 0, &l2, &c2), ARITH_ERR_DATA);
    CHECK(strstr(arith_error_message(), "--pos-max") != NULL);
    model_free(learned);
    model_free(coupled);
    model_free(abacus);
    batch_free(&b);
    encoded_free(&enc);
    examples_free(&set);
}

static int prefill_rows; /* check_decode's prefill chunk, in rows (0: the default budget) */

/* Generation numbers the tokens it feeds back as training does: the decode ops, fed the
 * reference answers, give the logits of the teacher-forced forward at every answer column,
 * for each format and plan; and greedy generation equals beam search with K = 1. */
static void check_decode(const digit_format *format, bool reverse, bool pad, bool hints,
                         posids_kind kind, const char *pos)
{
    tokenizer tok;
    make_format(&tok, format, reverse, pad, hints);
    posids_plan plan = {kind, 48, 0, false};
    CHECK_OK(tokenizer_set_positions(&tok, plan));
    enum { N = 5 };
    example_set set;
    sample_problems(&set, format, 5, N, 21);
    encoded_set enc;
    CHECK_OK(encoded_build(&enc, &set, &tok, "test"));
    model *m = make_model(pos, tok.vocab_size, 48, 4);
    if (m && prefill_rows) /* the prefill a chunk of prefill_rows rows at a time */
        transformer_prefill_budget((size_t)m->cfg.heads * enc.max_prompt * enc.max_prompt *
                                   sizeof(float) * prefill_rows);
    batch tb, pb;
    CHECK_OK(batch_alloc(&tb, N, enc.max_prompt + enc.max_answer));
    CHECK_OK(batch_alloc(&pb, N, enc.max_prompt));
    int32_t idx[N];
    for (int i = 0; i < N; i++)
        idx[i] = i;
    CHECK_OK(batch_fill_train(&tb, &enc, idx, N, tok.pad_id));
    CHECK_OK(batch_fill_prompts(&pb, &enc, idx, N, tok.pad_id));
    if (!m)
        return;
    const int V = tok.vocab_size, T = tb.T, P = pb.T;
    CHECK_OK(model_forward(m, &tb, false, 0, NULL, NULL));
    float *full = malloc((size_t)N * T * V * sizeof *full);
    memcpy(full, m->logits, (size_t)N * T * V * sizeof *full);
    const float *logits = NULL;
    CHECK_OK(model_decode_begin(m, &pb, &logits));
    double worst = 0;
    int32_t next[N];
    for (int step = 0; P - 1 + step < T; step++) {
        for (int r = 0; r < N; r++)
            for (int v = 0; v < V && tb.targets[r * T + P - 1 + step] >= 0; v++) {
                double d = fabs(logits[r * V + v] - full[((size_t)r * T + P - 1 + step) * V + v]);
                worst = d > worst ? d : worst;
            }
        if (P + step >= T)
            break;
        for (int r = 0; r < N; r++)
            next[r] = tb.tokens[r * T + P + step];
        CHECK_OK(model_decode_next(m, next, &logits));
    }
    CHECK_MSG(worst < 1e-4, "format %c%d%d%d plan %d pos %s: decode differs by %g", format->op,
              reverse, pad, hints, (int)kind, pos, worst);
    int32_t greedy[N * 24], beam[N * 24];
    float scores[N];
    CHECK_OK(model_generate(m, &pb, 24, tok.eos_id, greedy));
    CHECK_OK(model_beam_search(m, &pb, 1, 24, tok.eos_id, beam, scores));
    CHECK(memcmp(greedy, beam, sizeof greedy) == 0);
    free(full);
    model_free(m);
    batch_free(&tb);
    batch_free(&pb);
    encoded_free(&enc);
    examples_free(&set);
}

static void test_decode(void)
{
    const digit_format *formats[] = {format_of("add"), &minus_format};
    for (int k = 0; k < 2; k++)
        for (int f = 0; f < 8; f++) {
            bool reverse = f & 1, pad = f & 2, hints = f & 4;
            if (f || !formats[k]->signed_answers)
                check_decode(formats[k], reverse, pad, hints, POSIDS_ABACUS, "abacus");
            if (reverse || pad) {
                check_decode(formats[k], reverse, pad, hints, POSIDS_COUPLING, "coupling");
                /* a bias on pairs of coupled ids: the decode's kept ids of the cached columns */
                check_decode(formats[k], reverse, pad, hints, POSIDS_COUPLING, "coupling-rel");
                check_decode(formats[k], reverse, pad, hints, POSIDS_COUPLING, "coupling-local");
                check_decode(formats[k], reverse, pad, hints, POSIDS_COUPLING, "coupling-anchor");
            }
            check_decode(formats[k], reverse, pad, hints, POSIDS_RANDOM, "sinusoidal");
            check_decode(formats[k], reverse, pad, hints, POSIDS_RANDOM, "rope");
        }
    with_carries = true;
    for (int pad = 0; pad < 2; pad++) {
        check_decode(formats[0], true, pad, false, POSIDS_ABACUS, "abacus");
        check_decode(formats[0], true, pad, false, POSIDS_COUPLING, "coupling-anchor");
        check_decode(formats[0], true, pad, false, POSIDS_RANDOM, "rope");
    }
    with_carries = false;
    /* long prompts are prefilled in chunks of rows: 1, and 2 of the 5 (2, 2, 1), with and
     * without a scheme's bias */
    for (prefill_rows = 1; prefill_rows <= 2; prefill_rows++) {
        check_decode(formats[0], true, true, false, POSIDS_COUPLING, "coupling-local");
        check_decode(formats[0], true, true, true, POSIDS_COUPLING, "coupling-anchor");
        check_decode(formats[0], true, false, false, POSIDS_RANDOM, "rope");
    }
    prefill_rows = 0;
    transformer_prefill_budget(0);
}

int main(void)
{
    test_tables();
    test_decode();
    test_formats();
    test_round_trip();
    test_xor_formats();
    test_positions();
    test_hint_offset();
    return check_summary("test_positions");
}
