/* Tokenizers: the one place where text meets ids. Character-level, and seed 001's aligned digit
 * pairs; both may emit the answer reversed (least significant digit first). */
#include <stdio.h>
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
    return (int)kind >= 0 && (int)kind < N_TOKENIZERS ? tokenizer_names[kind] : "?";
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

arith_status tok_encode_prompt(const tokenizer *tok, const char *prompt, int32_t *ids, int cap,
                               int *n)
{
    if (tok->kind == TOK_CHAR)
        return encode_chars(tok, prompt, ids, cap, n);
    if (tok->kind == TOK_WORDS)
        return encode_words(tok, prompt, ids, cap, n);

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

void tok_decode_answer(const tokenizer *tok, const int32_t *ids, int n, char *out, size_t cap)
{
    size_t len = 0;
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
