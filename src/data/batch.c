/* Encoded data sets and batches: tokenize once, then lay examples out in left-padded rows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"

/* The answer as a number when it is one (optional sign, digits, optional fraction). */
static float answer_value(const char *text)
{
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || *end != '\0')
        return NAN;
    return (float)v;
}

arith_status encoded_build(encoded_set *enc, const example_set *set, const tokenizer *tok,
                           const char *source)
{
    memset(enc, 0, sizeof *enc);
    enum { MAX_TOKENS = 4096 };
    int32_t *scratch = malloc(MAX_TOKENS * sizeof *scratch);
    size_t cap = (size_t)set->count * 32 + 64, used = 0;
    enc->ids = malloc(cap * sizeof *enc->ids);
    enc->prompt_off = malloc(((size_t)set->count + 1) * sizeof(int32_t));
    enc->prompt_len = malloc(((size_t)set->count + 1) * sizeof(int32_t));
    enc->answer_off = malloc(((size_t)set->count + 1) * sizeof(int32_t));
    enc->answer_len = malloc(((size_t)set->count + 1) * sizeof(int32_t));
    enc->value = malloc(((size_t)set->count + 1) * sizeof(float));
    if (!enc->value || !scratch || !enc->ids || !enc->prompt_off || !enc->prompt_len || !enc->answer_off ||
        !enc->answer_len) {
        free(scratch);
        encoded_free(enc);
        return arith_error(ARITH_ERR_MEMORY, "out of memory tokenizing %s", source);
    }
    arith_status st = ARITH_OK;
    for (int i = 0; i < set->count && st == ARITH_OK; i++) {
        int np = 0, na = 0;
        st = tok_encode_prompt(tok, set->items[i].prompt, scratch, MAX_TOKENS, &np);
        if (st == ARITH_OK)
            st = tok_encode_answer(tok, set->items[i].answer, scratch + np, MAX_TOKENS - np, &na);
        if (st) {
            arith_error_wrap(st, "%s, example %d: ", source, i + 1);
            break;
        }
        if (used + (size_t)(np + na) > cap) {
            cap = (used + (size_t)(np + na)) * 2;
            int32_t *grown = realloc(enc->ids, cap * sizeof *grown);
            if (!grown) {
                st = arith_error(ARITH_ERR_MEMORY, "out of memory tokenizing %s", source);
                break;
            }
            enc->ids = grown;
        }
        memcpy(enc->ids + used, scratch, (size_t)(np + na) * sizeof(int32_t));
        enc->prompt_off[i] = (int32_t)used;
        enc->prompt_len[i] = np;
        enc->answer_off[i] = (int32_t)used + np;
        enc->answer_len[i] = na;
        enc->value[i] = answer_value(set->items[i].answer);
        used += (size_t)(np + na);
        if (np > enc->max_prompt)
            enc->max_prompt = np;
        if (na > enc->max_answer)
            enc->max_answer = na;
        enc->count = i + 1;
    }
    free(scratch);
    if (st)
        encoded_free(enc);
    return st;
}

void encoded_free(encoded_set *enc)
{
    free(enc->ids);
    free(enc->prompt_off);
    free(enc->prompt_len);
    free(enc->answer_off);
    free(enc->answer_len);
    free(enc->value);
    memset(enc, 0, sizeof *enc);
}

arith_status batch_alloc(batch *b, int max_B, int max_T)
{
    memset(b, 0, sizeof *b);
    size_t n = (size_t)max_B * (size_t)max_T;
    b->tokens = arith_alloc(n * sizeof(int32_t));
    b->targets = arith_alloc(n * sizeof(int32_t));
    b->pos = arith_alloc(n * sizeof(int32_t));
    b->start = arith_alloc((size_t)max_B * sizeof(int32_t));
    b->values = arith_alloc((size_t)max_B * sizeof(float));
    if (!b->tokens || !b->targets || !b->pos || !b->start || !b->values) {
        batch_free(b);
        return ARITH_ERR_MEMORY;
    }
    b->max_B = max_B;
    b->max_T = max_T;
    return ARITH_OK;
}

void batch_free(batch *b)
{
    arith_free(b->tokens);
    arith_free(b->targets);
    arith_free(b->pos);
    arith_free(b->start);
    arith_free(b->values);
    memset(b, 0, sizeof *b);
}

void batch_positions(batch *b)
{
    for (int r = 0; r < b->B; r++)
        for (int t = 0; t < b->T; t++) {
            int p = t - b->start[r];
            b->pos[r * b->T + t] = p > 0 ? p : 0;
        }
}

/* Longest prompt and longest answer among idx[0..n). */
static void batch_extent(const encoded_set *enc, const int32_t *idx, int n, int *max_p, int *max_a)
{
    *max_p = *max_a = 0;
    for (int i = 0; i < n; i++) {
        if (enc->prompt_len[idx[i]] > *max_p)
            *max_p = enc->prompt_len[idx[i]];
        if (enc->answer_len[idx[i]] > *max_a)
            *max_a = enc->answer_len[idx[i]];
    }
}

arith_status batch_fill_train(batch *b, const encoded_set *enc, const int32_t *idx, int n,
                              int32_t pad_id)
{
    int max_p, max_a;
    batch_extent(enc, idx, n, &max_p, &max_a);
    /* The last answer token (EOS) is only ever a target, never an input. */
    int T = max_p + max_a - 1;
    if (n > b->max_B || T > b->max_T)
        return arith_error(ARITH_ERR_DATA, "batch of %d x %d does not fit the %d x %d reserved",
                           n, T, b->max_B, b->max_T);
    b->B = n;
    b->T = T;
    b->prompt_T = max_p;
    for (int r = 0; r < n; r++) {
        b->values[r] = enc->value[idx[r]];
        int e = idx[r];
        int np = enc->prompt_len[e], na = enc->answer_len[e];
        const int32_t *p = enc->ids + enc->prompt_off[e];
        const int32_t *a = enc->ids + enc->answer_off[e];
        int32_t *tok = b->tokens + (size_t)r * T, *tgt = b->targets + (size_t)r * T;
        int s = max_p - np;
        b->start[r] = s;
        for (int t = 0; t < T; t++) {
            tok[t] = pad_id;
            tgt[t] = -1;
        }
        for (int i = 0; i < np; i++)
            tok[s + i] = p[i];
        for (int i = 0; i < na - 1; i++)
            tok[max_p + i] = a[i];
        /* column max_p-1 (the '=') predicts the first answer token, and so on to EOS */
        for (int i = 0; i < na; i++)
            tgt[max_p - 1 + i] = a[i];
    }
    batch_positions(b);
    return ARITH_OK;
}

arith_status batch_fill_prompts(batch *b, const encoded_set *enc, const int32_t *idx, int n,
                                int32_t pad_id)
{
    int max_p, max_a;
    batch_extent(enc, idx, n, &max_p, &max_a);
    if (n > b->max_B || max_p > b->max_T)
        return arith_error(ARITH_ERR_DATA, "batch of %d x %d does not fit the %d x %d reserved",
                           n, max_p, b->max_B, b->max_T);
    b->B = n;
    b->T = max_p;
    b->prompt_T = max_p;
    for (int r = 0; r < n; r++) {
        b->values[r] = enc->value[idx[r]];
        int e = idx[r];
        int np = enc->prompt_len[e];
        const int32_t *p = enc->ids + enc->prompt_off[e];
        int32_t *tok = b->tokens + (size_t)r * max_p, *tgt = b->targets + (size_t)r * max_p;
        int s = max_p - np;
        b->start[r] = s;
        for (int t = 0; t < max_p; t++) {
            tok[t] = t < s ? pad_id : p[t - s];
            tgt[t] = -1;
        }
    }
    batch_positions(b);
    return ARITH_OK;
}
