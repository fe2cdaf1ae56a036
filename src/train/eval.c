/* Evaluation: batched greedy generation and exact-match scoring, and answering raw prompts. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "train/train.h"

/* Generates answers for examples [first, first+n) of enc into out (n, max_new). */
static arith_status generate_range(model *m, const encoded_set *enc, batch *b, int32_t *idx,
                                   int first, int n, int max_new, int32_t eos, int32_t pad,
                                   int32_t *out)
{
    for (int i = 0; i < n; i++)
        idx[i] = first + i;
    arith_status st = batch_fill_prompts(b, enc, idx, n, pad);
    if (st == ARITH_OK)
        st = model_generate(m, b, max_new, eos, out);
    return st;
}

/* Decodes a generated row up to its EOS; returns false when it holds none (the text is then
 * everything generated, which never counts as right). */
static bool decode_row(const tokenizer *tok, const int32_t *row, int max_new, char *text,
                       size_t cap)
{
    tok_decode_answer(tok, row, max_new, text, cap);
    for (int i = 0; i < max_new; i++)
        if (row[i] == tok->eos_id)
            return true;
    return false;
}

arith_status evaluate(model *m, const tokenizer *tok, const example_set *set, int n,
                      int batch_size, eval_example_fn fn, void *ctx, int report,
                      eval_result *result)
{
    memset(result, 0, sizeof *result);
    double t0 = time_now();
    if (n <= 0 || n > set->count)
        n = set->count;
    example_set part = *set;
    part.count = n;
    encoded_set enc;
    arith_status st = encoded_build(&enc, &part, tok, "test set");
    if (st)
        return st;
    /* one token more than the longest answer, so an answer that runs on is caught */
    int max_new = enc.max_answer + 1;
    if (enc.max_prompt + max_new - 1 > m->cfg.context)
        max_new = m->cfg.context - enc.max_prompt + 1;
    if (max_new < enc.max_answer) {
        encoded_free(&enc);
        return arith_error(ARITH_ERR_DATA,
                           "prompts of %d tokens with answers of %d do not fit the model's "
                           "context of %d tokens", enc.max_prompt, enc.max_answer,
                           m->cfg.context);
    }
    if (batch_size > n)
        batch_size = n;
    batch b;
    int32_t *idx = malloc((size_t)batch_size * sizeof *idx);
    int32_t *out = malloc((size_t)batch_size * max_new * sizeof *out);
    size_t text_cap = (size_t)max_new * 4 + 8;
    char *text = malloc(text_cap);
    st = batch_alloc(&b, batch_size, enc.max_prompt);
    if (!idx || !out || !text)
        st = arith_error(ARITH_ERR_MEMORY, "out of memory evaluating");
    for (int first = 0; first < n && st == ARITH_OK; first += batch_size) {
        int count = n - first < batch_size ? n - first : batch_size;
        st = generate_range(m, &enc, &b, idx, first, count, max_new, tok->eos_id, tok->pad_id,
                            out);
        for (int r = 0; r < count && st == ARITH_OK; r++) {
            const example *ex = &set->items[first + r];
            bool ended = decode_row(tok, out + (size_t)r * max_new, max_new, text, text_cap);
            bool ok = ended && strcmp(text, ex->answer) == 0;
            result->correct += ok;
            if (fn && (report < 0 || first + r < report))
                fn(ctx, first + r, ex, text, ok);
        }
    }
    result->total = n;
    result->seconds = time_now() - t0;
    batch_free(&b);
    free(idx);
    free(out);
    free(text);
    encoded_free(&enc);
    return st;
}

arith_status predict_answers(model *m, const tokenizer *tok, const char *const *prompts, int n,
                             int batch_size, char **answers)
{
    /* Encode prompts one by one so a bad one is named; answers are generated to the limit of
     * the context. */
    example_set set;
    examples_init(&set);
    arith_status st = ARITH_OK;
    for (int i = 0; i < n && st == ARITH_OK; i++)
        st = examples_push(&set, prompts[i], "0");
    encoded_set enc;
    if (st == ARITH_OK)
        st = encoded_build(&enc, &set, tok, "input");
    if (st) {
        examples_free(&set);
        return st;
    }
    int max_new = m->cfg.context - enc.max_prompt + 1;
    if (max_new < 1) {
        st = arith_error(ARITH_ERR_DATA,
                         "a prompt of %d tokens leaves no room in the model's context of %d",
                         enc.max_prompt, m->cfg.context);
        encoded_free(&enc);
        examples_free(&set);
        return st;
    }
    if (batch_size > n)
        batch_size = n;
    batch b;
    int32_t *idx = malloc((size_t)batch_size * sizeof *idx);
    int32_t *out = malloc((size_t)batch_size * max_new * sizeof *out);
    size_t text_cap = (size_t)max_new * 4 + 8;
    char *text = malloc(text_cap);
    st = batch_alloc(&b, batch_size, enc.max_prompt);
    if (!idx || !out || !text)
        st = arith_error(ARITH_ERR_MEMORY, "out of memory predicting");
    for (int first = 0; first < n && st == ARITH_OK; first += batch_size) {
        int count = n - first < batch_size ? n - first : batch_size;
        st = generate_range(m, &enc, &b, idx, first, count, max_new, tok->eos_id, tok->pad_id,
                            out);
        for (int r = 0; r < count && st == ARITH_OK; r++) {
            const int32_t *row = out + (size_t)r * max_new;
            decode_row(tok, row, max_new, text, text_cap); /* without EOS: all of it */
            answers[first + r] = strdup(text);
        }
    }
    batch_free(&b);
    free(idx);
    free(out);
    free(text);
    encoded_free(&enc);
    examples_free(&set);
    return st;
}
