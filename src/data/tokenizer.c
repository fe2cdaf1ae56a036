/* Tokenizers: the one place where text meets ids. Character-level, and seed 001's aligned digit
 * pairs; both may emit the answer reversed (least significant digit first). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"

/* Ids 0..13 are seed 001's vocabulary (0-9 + = [PAD] [EOS]); the character tokenizer adds
 * - * ( ) and the space (seed 002's "a + b" and right-aligned answers) after them, the pairs
 * tokenizer adds the 55 unordered digit pairs. */
enum { ID_PLUS = 10, ID_EQUALS = 11, ID_PAD = 12, ID_EOS = 13, BASE_VOCAB = 14 };
/* The character tokenizer's characters after BASE_VOCAB, in id order. */
static const char char_extra[] = "-*() ";
#define CHAR_EXTRA ((int)sizeof char_extra - 1)

static const char *const tokenizer_names[] = {"char", "pairs", "words"};
#define N_TOKENIZERS 3

arith_status tokenizer_parse(tokenizer_kind *kind, const char *name)
{
    for (int i = 0; i < N_TOKENIZERS; i++) {
        if (strcmp(name, tokenizer_names[i]) == 0) {
            *kind = (tokenizer_kind)i;
            return ARITH_OK;
        }
    }
    return arith_error(ARITH_ERR_ARG, "unknown tokenizer '%s' (valid: char, pairs, words)",
                       name);
}

const char *tokenizer_name(tokenizer_kind kind)
{
    return (int)kind >= 0 && (int)kind < N_TOKENIZERS ? tokenizer_names[kind] : NULL;
}

/* Id of the unordered pair {x, y} of digits: pairs (i, j) with i <= j, enumerated row by row. */
static int32_t pair_id(int x, int y)
{
    int i = x < y ? x : y, j = x < y ? y : x;
    /* rows 0..i-1 hold 10, 9, ..., 10-i+1 pairs */
    return BASE_VOCAB + i * 10 - i * (i - 1) / 2 + (j - i);
}

arith_status tokenizer_init(tokenizer *tok, tokenizer_kind kind, int digits, bool reverse_answer)
{
    memset(tok, 0, sizeof *tok);
    tok->kind = kind;
    tok->digits = digits;
    tok->reverse_answer = reverse_answer;
    for (int c = 0; c < 128; c++)
        tok->char_to_id[c] = -1;
    for (int d = 0; d < 10; d++) {
        tok->char_to_id['0' + d] = d;
        tok->names[d][0] = (char)('0' + d);
    }
    tok->char_to_id['+'] = ID_PLUS;
    tok->char_to_id['='] = ID_EQUALS;
    snprintf(tok->names[ID_PLUS], TOK_NAME_MAX, "+");
    snprintf(tok->names[ID_EQUALS], TOK_NAME_MAX, "=");
    snprintf(tok->names[ID_PAD], TOK_NAME_MAX, "[PAD]");
    snprintf(tok->names[ID_EOS], TOK_NAME_MAX, "[EOS]");
    tok->plus_id = ID_PLUS;
    tok->equals_id = ID_EQUALS;
    tok->pad_id = ID_PAD;
    tok->eos_id = ID_EOS;
    switch (kind) {
    case TOK_CHAR: {
        for (int i = 0; i < CHAR_EXTRA; i++) {
            tok->char_to_id[(int)char_extra[i]] = BASE_VOCAB + i;
            if (char_extra[i] == ' ') /* shown as U+2423 OPEN BOX in UTF-8 */
                snprintf(tok->names[BASE_VOCAB + i], TOK_NAME_MAX, "\xe2\x90\xa3");
            else
                snprintf(tok->names[BASE_VOCAB + i], TOK_NAME_MAX, "%c", char_extra[i]);
        }
        tok->vocab_size = BASE_VOCAB + CHAR_EXTRA;
        return ARITH_OK;
    }
    case TOK_PAIRS:
        if (digits < 1 || digits > 1000)
            return arith_error(ARITH_ERR_ARG,
                               "the pairs tokenizer needs --digits between 1 and 1000 (got %d)",
                               digits);
        for (int i = 0; i < 10; i++)
            for (int j = i; j < 10; j++)
                memcpy(tok->names[pair_id(i, j)],
                       (char[]){'(', (char)('0' + i), ',', (char)('0' + j), ')', '\0'}, 6);
        tok->vocab_size = BASE_VOCAB + 55;
        return ARITH_OK;
    case TOK_WORDS: {
        /* the digits keep ids 0-9; every other word of the prefix vocabulary follows */
        if (reverse_answer)
            return arith_error(ARITH_ERR_ARG, "--reverse-answer reverses digits; the words "
                               "tokenizer's answers are expressions");
        int count = 0;
        const char *const *words = sym_vocabulary(&count);
        int id = BASE_VOCAB;
        for (int i = 0; i < count; i++) {
            if (words[i][0] >= '0' && words[i][0] <= '9' && words[i][1] == '\0')
                continue;
            if (id >= TOK_MAX_VOCAB || strlen(words[i]) >= TOK_NAME_MAX)
                return arith_error(ARITH_ERR_STATE, "the words vocabulary does not fit");
            snprintf(tok->names[id++], TOK_NAME_MAX, "%s", words[i]);
        }
        tok->vocab_size = id;
        return ARITH_OK;
    }
    }
    return arith_error(ARITH_ERR_ARG, "unknown tokenizer kind %d", (int)kind);
}

void tokenizer_set_answer_width(tokenizer *tok, int width)
{
    tok->answer_width = width > 0 ? width : 0;
}

arith_status tokenizer_set_format(tokenizer *tok, const digit_format *format, bool reverse,
                                  bool zero_pad, bool hints)
{
    if (format)
        tok->format = *format; /* known even when no format is on (tokenizer_set_positions) */
    if (!reverse && !zero_pad && !hints)
        return ARITH_OK;
    if (tok->kind == TOK_PAIRS && !reverse && !hints) {
        /* seed 001's operands are zero-padded already: --zero-pad pads its answers too */
        if (tok->answer_width > 0)
            return arith_error(ARITH_ERR_ARG, "--answer-width does not combine with --zero-pad");
        if (!format || !format->answer_digits || format->signed_answers)
            return arith_error(ARITH_ERR_ARG, "--zero-pad needs a task with digit formats "
                               "(`arith tasks` lists them)");
        /* fixed-width answers (xor) are as long as they can be already */
        tok->pad_answer = format->fixed_width ? 0 : format->answer_digits(tok->digits);
        return ARITH_OK;
    }
    if (tok->kind != TOK_CHAR)
        return arith_error(ARITH_ERR_ARG, "--reverse, --zero-pad and --index-hints are formats of "
                           "the char tokenizer (got --tokenizer %s)", tokenizer_name(tok->kind));
    if (tok->answer_width > 0)
        return arith_error(ARITH_ERR_ARG, "--answer-width does not combine with --reverse, "
                           "--zero-pad or --index-hints");
    if (!format || !format->answer_digits)
        return arith_error(ARITH_ERR_ARG, "--reverse, --zero-pad and --index-hints need a task "
                           "with digit formats (`arith tasks` lists them)");
    unsigned char op = (unsigned char)format->op;
    if (op >= 128 || tok->char_to_id[op] < 0 || (op >= '0' && op <= '9') || op == '=')
        return arith_error(ARITH_ERR_ARG, "the digit formats' operator '%c' is not a symbol of "
                           "the char tokenizer", format->op);
    tok->reverse_operands = reverse;
    if (reverse)
        tok->reverse_answer = true;
    tok->zero_pad = zero_pad;
    tok->hints = hints;
    if (hints) {
        tok->hint_base = tok->vocab_size;
        if (tok->hint_base + TOK_MAX_HINTS > TOK_MAX_VOCAB)
            return arith_error(ARITH_ERR_STATE, "index hints do not fit the vocabulary");
        for (int k = 1; k <= TOK_MAX_HINTS; k++)
            snprintf(tok->names[tok->hint_base + k - 1], TOK_NAME_MAX, "h%d", k);
        tok->vocab_size += TOK_MAX_HINTS;
    }
    return ARITH_OK;
}

arith_status tokenizer_set_scratchpad(tokenizer *tok, bool on)
{
    if (!on) {
        tok->scratchpad = false;
        return ARITH_OK;
    }
    if (tok->kind != TOK_CHAR)
        return arith_error(ARITH_ERR_ARG, "--scratchpad is a format of the char tokenizer (got "
                           "--tokenizer %s)", tokenizer_name(tok->kind));
    if (!tok->format.scratch_steps || !tok->format.scratch_value || !tok->format.answer_digits)
        return arith_error(ARITH_ERR_ARG, "--scratchpad needs a task whose format has a "
                           "scratchpad (`arith tasks` lists them)");
    if (tok->answer_width > 0)
        return arith_error(ARITH_ERR_ARG, "--answer-width does not combine with --scratchpad");
    if (tok->char_to_id[' '] < 0)
        return arith_error(ARITH_ERR_STATE, "the char tokenizer has no space to end a step with");
    tok->scratchpad = true;
    return ARITH_OK;
}

arith_status tokenizer_set_carries(tokenizer *tok, bool on)
{
    if (!on) {
        tok->carries = false;
        return ARITH_OK;
    }
    if (tok->kind != TOK_CHAR)
        return arith_error(ARITH_ERR_ARG, "--carries is a format of the char tokenizer (got "
                           "--tokenizer %s)", tokenizer_name(tok->kind));
    if (!tok->format.column_sum || !tok->format.answer_digits)
        return arith_error(ARITH_ERR_ARG, "--carries needs a task whose format has carries "
                           "(`arith tasks` lists them)");
    if (!tok->reverse_answer)
        return arith_error(ARITH_ERR_ARG, "--carries writes each column's carry after its digit, "
                           "for the next column to add in, so the answer must come least "
                           "significant digit first: add --reverse (or --reverse-answer)");
    if (tok->hints || tok->scratchpad || tok->answer_width > 0)
        return arith_error(ARITH_ERR_ARG, "--carries does not combine with %s",
                           tok->hints ? "--index-hints" : tok->scratchpad ? "--scratchpad"
                                                                          : "--answer-width");
    if (tok->vocab_size + TOK_MAX_CARRY > TOK_MAX_VOCAB)
        return arith_error(ARITH_ERR_STATE, "carry tokens do not fit the vocabulary");
    tok->carry_base = tok->vocab_size;
    for (int k = 0; k < TOK_MAX_CARRY; k++)
        snprintf(tok->names[tok->carry_base + k], TOK_NAME_MAX, "c%d", k);
    tok->vocab_size += TOK_MAX_CARRY;
    tok->carries = true;
    return ARITH_OK;
}

bool tok_has_format(const tokenizer *tok)
{
    return tok->reverse_operands || tok->zero_pad || tok->hints || tok->scratchpad ||
           tok->carries;
}

/* The characters a tokenizer reads, for messages. */
static const char *vocabulary_text(const tokenizer *tok)
{
    return tok->kind == TOK_CHAR ? "0-9 + - * ( ) = and space" : "0-9 + =";
}

/* The id of a word (words tokenizer), or -1. */
static int32_t word_id(const tokenizer *tok, const char *word, size_t len)
{
    for (int32_t id = 0; id < tok->vocab_size; id++)
        if (id != ID_PAD && id != ID_EOS && id != ID_PLUS && strlen(tok->names[id]) == len &&
            strncmp(tok->names[id], word, len) == 0)
            return id;
    return -1;
}

/* Space-separated words to ids; an unknown word is ARITH_ERR_DATA naming it and its place. */
static arith_status encode_words(const tokenizer *tok, const char *text, int32_t *ids, int cap,
                                 int *n)
{
    int count = 0;
    for (const char *p = text; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        size_t len = strcspn(p, " ");
        int32_t id = word_id(tok, p, len);
        if (id < 0)
            return arith_error(ARITH_ERR_DATA, "word '%.*s' (word %d of \"%s\") is not in the "
                               "prefix vocabulary (add sub mul div pow, exp log sqrt, sin cos "
                               "tan and their inverses and hyperbolic forms, x, INT+ INT- 0-9, "
                               "=)", (int)len, p, count + 1, text);
        if (count >= cap)
            return arith_error(ARITH_ERR_DATA, "\"%s\" is more than the %d tokens that fit",
                               text, cap);
        ids[count++] = id;
        p += len;
    }
    *n = count;
    return ARITH_OK;
}

static arith_status unknown_char(const tokenizer *tok, const char *text, int i)
{
    unsigned char c = (unsigned char)text[i];
    if (c >= 32 && c < 127)
        return arith_error(ARITH_ERR_DATA,
                           "character '%c' at position %d of \"%s\" is not in the vocabulary "
                           "(%s)", c, i + 1, text, vocabulary_text(tok));
    return arith_error(ARITH_ERR_DATA,
                       "byte 0x%02x at position %d of \"%s\" is not in the vocabulary "
                       "(%s)", c, i + 1, text, vocabulary_text(tok));
}

static arith_status encode_chars(const tokenizer *tok, const char *text, int32_t *ids, int cap,
                                 int *n)
{
    int len = (int)strlen(text);
    if (len > cap)
        return arith_error(ARITH_ERR_DATA, "\"%s\" is %d tokens, more than the %d that fit", text,
                           len, cap);
    for (int i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        int32_t id = c < 128 ? tok->char_to_id[c] : -1;
        if (id < 0)
            return unknown_char(tok, text, i);
        ids[i] = id;
    }
    *n = len;
    return ARITH_OK;
}

/* Length of a run of digits starting at s. */
static int digit_run(const char *s)
{
    int n = 0;
    while (s[n] >= '0' && s[n] <= '9')
        n++;
    return n;
}

static arith_status encode_formatted(const tokenizer *tok, const char *prompt,
                                     const char *answer, int32_t *ids, int32_t *idx, int32_t *sig,
                                     int cap, int *np, int *na, int *ans_width);

arith_status tok_encode_prompt(const tokenizer *tok, const char *prompt, int32_t *ids, int cap,
                               int *n)
{
    if (tok_has_format(tok)) {
        int na = 0, w = 0;
        return encode_formatted(tok, prompt, NULL, ids, NULL, NULL, cap, n, &na, &w);
    }
    if (tok->kind == TOK_CHAR)
        return encode_chars(tok, prompt, ids, cap, n);
    if (tok->kind == TOK_WORDS)
        return encode_words(tok, prompt, ids, cap, n);

    /* pairs: exactly "a OP b=" with digit operands, OP the task's operator ('+' for add, ' '
     * for xor's "a b="); the pair columns are followed by the + and = tokens whatever OP is */
    const char op = tok->format.op ? tok->format.op : '+';
    int la = digit_run(prompt);
    int lb = prompt[la] == op ? digit_run(prompt + la + 1) : 0;
    if (la == 0 || prompt[la] != op || lb == 0 || strcmp(prompt + la + 1 + lb, "=") != 0) {
        const char op_text[] = {op, '\0'};
        for (int i = 0; prompt[i]; i++) {
            unsigned char c = (unsigned char)prompt[i];
            if (!(c >= '0' && c <= '9') && c != (unsigned char)op && c != '=')
                return arith_error(ARITH_ERR_DATA,
                                   "character '%c' at position %d of \"%s\" is not in the pairs "
                                   "tokenizer's vocabulary (0-9 %s =)", c, i + 1, prompt,
                                   op == ' ' ? "space" : op_text);
        }
        return arith_error(ARITH_ERR_DATA,
                           "\"%s\" is not of the form a%cb= that the pairs tokenizer reads",
                           prompt, op);
    }
    if (la > tok->digits || lb > tok->digits)
        return arith_error(ARITH_ERR_DATA,
                           "\"%s\": an operand has %d digits, more than the tokenizer's %d "
                           "(--digits)", prompt, la > lb ? la : lb, tok->digits);
    /* a fixed-width answer (xor) is as long as its strings, which zero padding would hide */
    if (tok->format.fixed_width && (la != tok->digits || lb != tok->digits))
        return arith_error(ARITH_ERR_DATA,
                           "\"%s\": the pairs tokenizer reads strings of exactly the %d digits "
                           "it was made for (--digits %d), got %d and %d", prompt, tok->digits,
                           tok->digits, la, lb);
    if (tok->digits + 2 > cap)
        return arith_error(ARITH_ERR_DATA, "\"%s\" is %d tokens, more than the %d that fit",
                           prompt, tok->digits + 2, cap);
    const char *a = prompt, *b = prompt + la + 1;
    /* column i holds the i-th least significant digits of a and b (0 past their ends) */
    for (int i = 0; i < tok->digits; i++) {
        int da = i < la ? a[la - 1 - i] - '0' : 0;
        int db = i < lb ? b[lb - 1 - i] - '0' : 0;
        ids[i] = pair_id(da, db);
    }
    ids[tok->digits] = tok->plus_id;
    ids[tok->digits + 1] = tok->equals_id;
    *n = tok->digits + 2;
    return ARITH_OK;
}

arith_status tok_encode_answer(const tokenizer *tok, const char *answer, int32_t *ids, int cap,
                               int *n)
{
    if (tok_has_format(tok))
        return arith_error(ARITH_ERR_STATE, "answers in a digit format are encoded with their "
                           "prompt (tok_encode_example)");
    int len, pad = 0;
    if (tok->answer_width > 0) {
        int alen = (int)strlen(answer);
        int32_t space = tok->char_to_id[' '];
        if (space < 0)
            return arith_error(ARITH_ERR_DATA,
                               "answers right-aligned to %d characters need a space token, which "
                               "the %s tokenizer does not have (use --tokenizer char)",
                               tok->answer_width, tokenizer_name(tok->kind));
        if (alen > tok->answer_width)
            return arith_error(ARITH_ERR_DATA,
                               "answer \"%s\" is %d characters, longer than the answer width %d",
                               answer, alen, tok->answer_width);
        pad = tok->answer_width - alen;
        if (pad > cap - 1)
            return arith_error(ARITH_ERR_DATA, "\"%s\" padded to %d is more tokens than the %d "
                               "that fit", answer, tok->answer_width, cap);
        for (int i = 0; i < pad; i++)
            ids[i] = space;
    } else if (tok->pad_answer > 0) {
        /* pairs --zero-pad: leading zeros up to the longest answer */
        int alen = (int)strlen(answer);
        if (alen > tok->pad_answer)
            return arith_error(ARITH_ERR_DATA, "answer \"%s\" is %d digits, more than the %d "
                               "that %d-digit operands give", answer, alen, tok->pad_answer,
                               tok->digits);
        pad = tok->pad_answer - alen;
        if (pad > cap - 1)
            return arith_error(ARITH_ERR_DATA, "\"%s\" padded to %d is more tokens than the %d "
                               "that fit", answer, tok->pad_answer, cap);
        for (int i = 0; i < pad; i++)
            ids[i] = 0; /* the digit 0 */
    }
    arith_status st = tok->kind == TOK_WORDS
                          ? encode_words(tok, answer, ids + pad, cap - 1 - pad, &len)
                          : encode_chars(tok, answer, ids + pad, cap - 1 - pad, &len);
    if (st)
        return st;
    if (tok->kind == TOK_PAIRS) {
        for (int i = 0; i < len; i++)
            if (ids[i] >= 10) /* answers are digits only */
                return unknown_char(tok, answer, i);
    }
    len += pad;
    if (tok->reverse_answer) {
        for (int i = 0; i < len / 2; i++) {
            int32_t t = ids[i];
            ids[i] = ids[len - 1 - i];
            ids[len - 1 - i] = t;
        }
    }
    ids[len] = tok->eos_id;
    *n = len + 1;
    return ARITH_OK;
}

static void decode_formatted(const tokenizer *tok, const int32_t *ids, int n, char *out,
                             size_t cap);

void tok_decode_answer(const tokenizer *tok, const int32_t *ids, int n, char *out, size_t cap)
{
    size_t len = 0;
    if (tok_has_format(tok)) {
        decode_formatted(tok, ids, n, out, cap);
        return;
    }
    if (tok->kind == TOK_WORDS) { /* words joined by spaces; '?' for a non-word id */
        out[0] = '\0';
        for (int i = 0; i < n; i++) {
            int32_t id = ids[i];
            if (id == tok->eos_id)
                break;
            bool word = id >= 0 && id < tok->vocab_size && id != ID_PAD && id != ID_PLUS &&
                        id != ID_EQUALS;
            int w = snprintf(out + len, cap - len, "%s%s", len ? " " : "",
                             word ? tok->names[id] : "?");
            if (w < 0 || (size_t)w >= cap - len) {
                out[len] = '\0';
                break;
            }
            len += (size_t)w;
        }
        return;
    }
    for (int i = 0; i < n && len + 1 < cap; i++) {
        int32_t id = ids[i];
        if (id == tok->eos_id)
            break;
        char c = '?';
        if (id >= 0 && id < 10)
            c = (char)('0' + id);
        else if (tok->kind == TOK_CHAR && id >= BASE_VOCAB && id < BASE_VOCAB + CHAR_EXTRA &&
                 id < tok->vocab_size)
            c = char_extra[id - BASE_VOCAB];
        out[len++] = c;
    }
    out[len] = '\0';
    if (tok->reverse_answer) {
        for (size_t i = 0; i < len / 2; i++) {
            char t = out[i];
            out[i] = out[len - 1 - i];
            out[len - 1 - i] = t;
        }
    }
    if (tok->pad_answer > 0) { /* zero-padded: drop the leading zeros, keep one digit */
        size_t skip = 0;
        while (skip + 1 < len && out[skip] == '0')
            skip++;
        memmove(out, out + skip, len - skip + 1);
    }
    if (tok->answer_width > 0) { /* right-aligned: drop the padding */
        size_t skip = 0;
        while (skip < len && out[skip] == ' ')
            skip++;
        memmove(out, out + skip, len - skip + 1);
    }
}

void tok_describe(const tokenizer *tok, const int32_t *ids, int n, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n && len + 1 < cap; i++) {
        const char *name = ids[i] >= 0 && ids[i] < tok->vocab_size ? tok->names[ids[i]] : "?";
        int w = snprintf(out + len, cap - len, "%s%s", i ? " " : "", name);
        if (w < 0 || (size_t)w >= cap - len)
            break;
        len += (size_t)w;
    }
}

/* ---------------------------------------------------------------------------- digit formats */

/* Appends token id with position index idxv and significance sigv (where they are kept). */
static arith_status put_token(int32_t *ids, int32_t *idx, int32_t *sig, int cap, int *n,
                              int32_t id, int32_t idxv, int32_t sigv, const char *text)
{
    if (*n >= cap)
        return arith_error(ARITH_ERR_DATA, "\"%s\" is more than the %d tokens that fit", text,
                           cap);
    ids[*n] = id;
    if (idx)
        idx[*n] = idxv;
    if (sig)
        sig[*n] = sigv;
    (*n)++;
    return ARITH_OK;
}

/* Appends one digit of significance s (and its hint) at written index k (0-based). */
static arith_status put_digit(const tokenizer *tok, int32_t *ids, int32_t *idx, int32_t *sig,
                              int cap, int *n, int digit, int k, int s, const char *text)
{
    if (tok->hints) {
        if (s > TOK_MAX_HINTS)
            return arith_error(ARITH_ERR_DATA, "\"%s\": index hints name at most %d digits", text,
                               TOK_MAX_HINTS);
        arith_status st = put_token(ids, idx, sig, cap, n, tok->hint_base + s - 1, k + 1, s, text);
        if (st)
            return st;
    }
    return put_token(ids, idx, sig, cap, n, digit, k + 1, s, text);
}

/* Writes the number `digits` (len characters, most significant first) as `width` digits in
 * the tokenizer's order: least significant first when reversed, zero-padded on the high side. */
static arith_status put_number(const tokenizer *tok, int32_t *ids, int32_t *idx, int32_t *sig,
                               int cap, int *n, const char *digits, int len, int width,
                               bool reversed, const char *text)
{
    for (int k = 0; k < width; k++) {
        int s = reversed ? k + 1 : width - k;
        int d = s <= len ? digits[len - s] - '0' : 0;
        arith_status st = put_digit(tok, ids, idx, sig, cap, n, d, k, s, text);
        if (st)
            return st;
    }
    return ARITH_OK;
}

static arith_status put_symbol(int32_t *ids, int32_t *idx, int32_t *sig, int cap, int *n,
                               int32_t id, const char *text)
{
    return put_token(ids, idx, sig, cap, n, id, 0, 0, text);
}

/* The answer `digits` (len characters, most significant first) of the prompt whose operands
 * are prompt[0..la) and prompt[la + 1..la + 1 + lb), as `width` columns from the units up,
 * each digit followed by its column's carry out, which the columns' sums (format.column_sum)
 * give. The digits are not checked against them: a placeholder answer ("0", for a prompt
 * alone) must encode too; the tasks check every answer they read or write. */
static arith_status put_carried(const tokenizer *tok, int32_t *ids, int32_t *idx, int32_t *sig,
                                int cap, int *n, const char *prompt, int la, int lb,
                                const char *digits, int len, int width, const char *text)
{
    const char *b = prompt + la + 1;
    int carry = 0;
    for (int k = 0; k < width; k++) {
        const int d = k < len ? digits[len - 1 - k] - '0' : 0;
        carry = (tok->format.column_sum(prompt, la, b, lb, k) + carry) / 10;
        if (carry >= TOK_MAX_CARRY)
            return arith_error(ARITH_ERR_DATA, "\"%s\": column %d carries %d, more than the %d "
                               "carry tokens name", prompt, k + 1, carry, TOK_MAX_CARRY - 1);
        arith_status st = put_digit(tok, ids, idx, sig, cap, n, d, k, k + 1, text);
        if (!st)
            st = put_token(ids, idx, sig, cap, n, tok->carry_base + carry, k + 1, k + 1, text);
        if (st)
            return st;
    }
    return ARITH_OK;
}

static arith_status encode_formatted(const tokenizer *tok, const char *prompt,
                                     const char *answer, int32_t *ids, int32_t *idx, int32_t *sig,
                                     int cap, int *np, int *na, int *ans_width)
{
    const digit_format *f = &tok->format;
    const char op = f->op;
    int la = digit_run(prompt);
    int lb = prompt[la] == op ? digit_run(prompt + la + 1) : 0;
    if (la == 0 || lb == 0 || strcmp(prompt + la + 1 + lb, "=") != 0) {
        for (int i = 0; prompt[i]; i++) {
            unsigned char c = (unsigned char)prompt[i];
            if (!(c >= '0' && c <= '9') && c != (unsigned char)op && c != '=')
                return arith_error(ARITH_ERR_DATA, "character '%c' at position %d of \"%s\" is "
                                   "not in the digit formats' vocabulary (0-9 %c =)", c, i + 1,
                                   prompt, op);
        }
        return arith_error(ARITH_ERR_DATA, "\"%s\" is not of the form a%cb= that --reverse, "
                           "--zero-pad and --index-hints read", prompt, op);
    }
    const int w = la > lb ? la : lb;
    int n = 0;
    arith_status st = put_number(tok, ids, idx, sig, cap, &n, prompt, la, tok->zero_pad ? w : la,
                                 tok->reverse_operands, prompt);
    if (!st)
        st = put_symbol(ids, idx, sig, cap, &n, tok->char_to_id[(unsigned char)op], prompt);
    if (!st)
        st = put_number(tok, ids, idx, sig, cap, &n, prompt + la + 1, lb,
                        tok->zero_pad ? w : lb, tok->reverse_operands, prompt);
    if (!st)
        st = put_symbol(ids, idx, sig, cap, &n, tok->equals_id, prompt);
    if (st)
        return st;
    *np = n;
    *na = 0;
    /* the longest answer, in digits; with a scratchpad, zero-padded steps are as wide as the
     * longest answer of the task's longest operands, so that a digit sits the same distance
     * from its column in the step before in every problem, whatever its lengths */
    int width = f->answer_digits(w);
    if (tok->scratchpad && tok->zero_pad && tok->digits > w)
        width = f->answer_digits(tok->digits);
    *ans_width = tok->zero_pad && !tok->reverse_answer ? width : 0;
    if (!answer)
        return ARITH_OK;
    /* a signed answer: its sign, then its digits */
    const bool negative = f->signed_answers && answer[0] == '-';
    const char *digits = answer + negative;
    int len = (int)strlen(digits);
    if (len == 0 || digit_run(digits) != len)
        return arith_error(ARITH_ERR_DATA, "answer \"%s\" of \"%s\" is not a number (the digit "
                           "formats read %s)", answer, prompt,
                           f->signed_answers ? "an optional '-' and digits" : "digits only");
    if (tok->zero_pad && len > width)
        return arith_error(ARITH_ERR_DATA, "answer \"%s\" of \"%s\" is longer than the %d digits "
                           "such a problem can have", answer, prompt, width);
    int m = 0;
    int32_t *aidx = idx ? idx + n : NULL, *asig = sig ? sig + n : NULL;
    if (tok->scratchpad) {
        /* the steps before the answer, each as the answer is written, then a space */
        const int steps = f->scratch_steps(la, lb);
        const size_t step_cap = (size_t)width + 2;
        char *step = malloc(step_cap);
        if (!step)
            return arith_error(ARITH_ERR_MEMORY, "out of memory writing a scratchpad");
        for (int j = 0; j + 1 < steps && !st; j++) {
            f->scratch_value(step, step_cap, prompt, la, prompt + la + 1, lb, j);
            int sl = (int)strlen(step);
            if (sl == 0 || digit_run(step) != sl || sl > width)
                st = arith_error(ARITH_ERR_STATE, "step %d of the scratchpad of \"%s\" is "
                                 "\"%s\", not a number of at most %d digits", j + 1, prompt,
                                 step, width);
            if (!st)
                st = put_number(tok, ids + n, aidx, asig, cap - n, &m, step, sl,
                                tok->zero_pad ? width : sl, tok->reverse_answer, answer);
            if (!st)
                st = put_symbol(ids + n, aidx, asig, cap - n, &m, tok->char_to_id[' '], answer);
        }
        free(step);
    }
    if (f->signed_answers && !st)
        st = put_symbol(ids + n, aidx, asig, cap - n, &m,
                        negative ? tok->char_to_id['-'] : tok->plus_id, answer);
    if (!st && tok->carries)
        st = put_carried(tok, ids + n, aidx, asig, cap - n, &m, prompt, la, lb, digits, len,
                         tok->zero_pad ? width : len, answer);
    else if (!st)
        st = put_number(tok, ids + n, aidx, asig, cap - n, &m, digits, len,
                        tok->zero_pad ? width : len, tok->reverse_answer, answer);
    if (!st)
        st = put_symbol(ids + n, aidx, asig, cap - n, &m, tok->eos_id, answer);
    if (st)
        return st;
    *na = m;
    return ARITH_OK;
}

/* Index in its number and significance of every token, for tokenizations without a digit
 * format: runs of digit ids in the prompt are numbers written most significant digit first
 * (the pairs tokenizer's first `digits` tokens are pairs, least significant first); the
 * answer's digits are one number, in the answer's order. */
static void plain_positions(const tokenizer *tok, const int32_t *ids, int np, int na,
                            int32_t *idx, int32_t *sig)
{
    for (int i = 0; i < np + na; i++)
        idx[i] = sig[i] = 0;
    if (tok->kind == TOK_PAIRS) {
        for (int i = 0; i < tok->digits && i < np; i++)
            idx[i] = sig[i] = i + 1;
    } else {
        for (int i = 0; i < np;) {
            int run = 0;
            while (i + run < np && ids[i + run] >= 0 && ids[i + run] < 10)
                run++;
            for (int k = 0; k < run; k++) {
                idx[i + k] = k + 1;
                sig[i + k] = run - k;
            }
            i += run ? run : 1;
        }
    }
    int len = 0;
    while (len < na && ids[np + len] >= 0 && ids[np + len] < 10)
        len++;
    for (int k = 0; k < len; k++) {
        idx[np + k] = k + 1;
        sig[np + k] = tok->reverse_answer ? k + 1 : len - k;
    }
}

arith_status tok_encode_example(const tokenizer *tok, const char *prompt, const char *answer,
                                int32_t *ids, int32_t *idx, int32_t *sig, int cap, int *np,
                                int *na, int *ans_width)
{
    *ans_width = 0;
    if (tok_has_format(tok))
        return encode_formatted(tok, prompt, answer, ids, idx, sig, cap, np, na, ans_width);
    arith_status st = tok_encode_prompt(tok, prompt, ids, cap, np);
    if (!st)
        st = tok_encode_answer(tok, answer, ids + *np, cap - *np, na);
    if (!st && idx && sig)
        plain_positions(tok, ids, *np, *na, idx, sig);
    return st;
}

/* Decodes a digit-format answer: a signed format's sign must come first, and hints before
 * every digit naming its significance, else the answer gets a '?' (so that it is wrong);
 * digits are put back most significant first, zero padding is dropped (kept in a fixed-width
 * format), and a '-' goes before them. */
static void decode_number(const tokenizer *tok, const int32_t *ids, int n, char *out,
                          size_t cap);

/* The answer alone: with a scratchpad, the last number, after the last space before EOS. */
static void decode_formatted(const tokenizer *tok, const int32_t *ids, int n, char *out,
                             size_t cap)
{
    if ((tok->scratchpad || tok->carries) && tok->show_steps) {
        tok_decode_scratchpad(tok, ids, n, out, cap);
        return;
    }
    int first = 0;
    for (int i = 0; tok->scratchpad && i < n && ids[i] != tok->eos_id; i++)
        if (ids[i] == tok->char_to_id[' '])
            first = i + 1;
    decode_number(tok, ids + first, n - first, out, cap);
}

/* The answer, then " carries " and each column's carry from the units up. */
static void decode_carries(const tokenizer *tok, const int32_t *ids, int n, char *out, size_t cap)
{
    decode_number(tok, ids, n, out, cap);
    size_t len = strlen(out);
    const char *sep = " carries ";
    for (int i = 1; i < n && ids[i] != tok->eos_id && ids[i - 1] != tok->eos_id; i += 2) {
        const int32_t c = ids[i] - tok->carry_base;
        char item[16];
        snprintf(item, sizeof item, "%s%d", sep, c >= 0 && c < TOK_MAX_CARRY ? (int)c : -1);
        size_t il = strlen(item);
        if (len + il + 1 > cap)
            break;
        memcpy(out + len, item, il + 1);
        len += il;
        sep = ",";
    }
}

void tok_decode_scratchpad(const tokenizer *tok, const int32_t *ids, int n, char *out,
                           size_t cap)
{
    if (tok->carries) {
        decode_carries(tok, ids, n, out, cap);
        return;
    }
    if (!tok->scratchpad) {
        tok_decode_answer(tok, ids, n, out, cap);
        return;
    }
    if (cap == 0)
        return;
    size_t len = 0;
    out[0] = '\0';
    int first = 0;
    for (int i = 0; i <= n && len + 4 < cap; i++) {
        const bool end = i == n || ids[i] == tok->eos_id;
        if (!end && ids[i] != tok->char_to_id[' '])
            continue;
        if (len > 0)
            out[len++] = ' ';
        decode_number(tok, ids + first, i - first, out + len, cap - len);
        len += strlen(out + len);
        first = i + 1;
        if (end)
            break;
    }
}

/* One number of a digit-format answer, up to EOS or n. */
static void decode_number(const tokenizer *tok, const int32_t *ids, int n, char *out,
                          size_t cap)
{
    size_t len = 0;
    bool bad = false, negative = false;
    int32_t hint_sig[TOK_MAX_HINTS + 1];
    int hints = 0;
    int first = 0;
    if (tok->format.signed_answers) {
        negative = n > 0 && ids[0] == tok->char_to_id['-'];
        bad = !(n > 0 && (negative || ids[0] == tok->plus_id));
        first = 1;
        if (cap > 2)
            cap--; /* room for the '-' */
    }
    for (int i = first; i < n && len + 2 < cap && !bad; i++) {
        int32_t id = ids[i];
        if (id == tok->eos_id)
            break;
        if (tok->hints) {
            bool is_hint = id >= tok->hint_base && id < tok->hint_base + TOK_MAX_HINTS;
            if (!is_hint || i + 1 >= n || ids[i + 1] < 0 || ids[i + 1] >= 10) {
                bad = true;
                break;
            }
            if (hints <= TOK_MAX_HINTS)
                hint_sig[hints++] = id - tok->hint_base + 1;
            id = ids[++i];
        }
        if (id < 0 || id >= 10) {
            bad = true;
            break;
        }
        out[len++] = (char)('0' + id);
        if (tok->carries) { /* its column's carry must follow; it is not part of the answer */
            bad = i + 1 >= n || ids[i + 1] < tok->carry_base ||
                  ids[i + 1] >= tok->carry_base + TOK_MAX_CARRY;
            i++;
        }
    }
    if (tok->hints) /* significances: 1, 2, ... reversed, else len, len - 1, ..., 1 */
        for (int k = 0; k < hints && !bad; k++)
            bad = hint_sig[k] != (tok->reverse_answer ? k + 1 : (int)len - k);
    if (tok->reverse_answer)
        for (size_t i = 0; i < len / 2; i++) {
            char t = out[i];
            out[i] = out[len - 1 - i];
            out[len - 1 - i] = t;
        }
    size_t skip = 0;
    if (tok->zero_pad && !tok->format.fixed_width)
        while (skip + 1 < len && out[skip] == '0')
            skip++;
    memmove(out + negative, out + skip, len - skip);
    len = len - skip + negative;
    if (negative)
        out[0] = '-';
    if (bad || len == (size_t)negative)
        out[len++] = '?';
    out[len] = '\0';
}
