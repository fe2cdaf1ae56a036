/* Tokenizers: the one place where text meets ids. Character-level, and seed 001's aligned digit
 * pairs; both may emit the answer reversed (least significant digit first). */
#include <stdio.h>
#include <string.h>

#include "data/data.h"

/* Ids 0..13 are seed 001's vocabulary (0-9 + = [PAD] [EOS]); the character tokenizer adds
 * - * ( ) after them, the pairs tokenizer adds the 55 unordered digit pairs. */
enum { ID_PLUS = 10, ID_EQUALS = 11, ID_PAD = 12, ID_EOS = 13, BASE_VOCAB = 14 };

static const char *const tokenizer_names[] = {"char", "pairs"};

arith_status tokenizer_parse(tokenizer_kind *kind, const char *name)
{
    for (int i = 0; i < 2; i++) {
        if (strcmp(name, tokenizer_names[i]) == 0) {
            *kind = (tokenizer_kind)i;
            return ARITH_OK;
        }
    }
    return arith_error(ARITH_ERR_ARG, "unknown tokenizer '%s' (valid: char, pairs)", name);
}

const char *tokenizer_name(tokenizer_kind kind)
{
    return (int)kind < 2 ? tokenizer_names[kind] : "?";
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
        const char extra[] = "-*()";
        for (int i = 0; extra[i]; i++) {
            tok->char_to_id[(int)extra[i]] = BASE_VOCAB + i;
            snprintf(tok->names[BASE_VOCAB + i], TOK_NAME_MAX, "%c", extra[i]);
        }
        tok->vocab_size = BASE_VOCAB + 4;
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
    }
    return arith_error(ARITH_ERR_ARG, "unknown tokenizer kind %d", (int)kind);
}

static arith_status unknown_char(const char *text, int i)
{
    unsigned char c = (unsigned char)text[i];
    if (c >= 32 && c < 127)
        return arith_error(ARITH_ERR_DATA,
                           "character '%c' at position %d of \"%s\" is not in the vocabulary "
                           "(0-9 + - * ( ) =)", c, i + 1, text);
    return arith_error(ARITH_ERR_DATA,
                       "byte 0x%02x at position %d of \"%s\" is not in the vocabulary "
                       "(0-9 + - * ( ) =)", c, i + 1, text);
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
            return unknown_char(text, i);
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

arith_status tok_encode_prompt(const tokenizer *tok, const char *prompt, int32_t *ids, int cap,
                               int *n)
{
    if (tok->kind == TOK_CHAR)
        return encode_chars(tok, prompt, ids, cap, n);

    /* pairs: exactly "a+b=" with digit operands */
    int la = digit_run(prompt);
    int lb = prompt[la] == '+' ? digit_run(prompt + la + 1) : 0;
    if (la == 0 || prompt[la] != '+' || lb == 0 || strcmp(prompt + la + 1 + lb, "=") != 0) {
        for (int i = 0; prompt[i]; i++) {
            unsigned char c = (unsigned char)prompt[i];
            if (!(c >= '0' && c <= '9') && c != '+' && c != '=')
                return arith_error(ARITH_ERR_DATA,
                                   "character '%c' at position %d of \"%s\" is not in the pairs "
                                   "tokenizer's vocabulary (0-9 + =)", c, i + 1, prompt);
        }
        return arith_error(ARITH_ERR_DATA,
                           "\"%s\" is not of the form a+b= that the pairs tokenizer reads",
                           prompt);
    }
    if (la > tok->digits || lb > tok->digits)
        return arith_error(ARITH_ERR_DATA,
                           "\"%s\": an operand has %d digits, more than the tokenizer's %d "
                           "(--digits)", prompt, la > lb ? la : lb, tok->digits);
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
    int len;
    arith_status st = encode_chars(tok, answer, ids, cap - 1, &len);
    if (st)
        return st;
    if (tok->kind == TOK_PAIRS) {
        for (int i = 0; i < len; i++)
            if (ids[i] >= 10) /* answers are digits only */
                return unknown_char(answer, i);
    }
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

void tok_decode_answer(const tokenizer *tok, const int32_t *ids, int n, char *out, size_t cap)
{
    size_t len = 0;
    for (int i = 0; i < n && len + 1 < cap; i++) {
        int32_t id = ids[i];
        if (id == tok->eos_id)
            break;
        char c = '?';
        if (id >= 0 && id < 10)
            c = (char)('0' + id);
        else if (tok->kind == TOK_CHAR && id >= BASE_VOCAB && id < tok->vocab_size)
            c = tok->names[id][0];
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
