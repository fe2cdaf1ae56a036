/* Evaluation: batched greedy generation and exact-match scoring, and answering raw prompts. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/train.h"

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

/* Called with each decoded answer, in order. */
typedef void (*answer_fn)(void *ctx, int index, const char *text, bool ended);

/* Greedy generation for all n encoded prompts, batch by batch; each answer (up to max_new
 * tokens) is decoded and handed to fn. */
static arith_status generate_all(model *m, const tokenizer *tok, const encoded_set *enc, int n,
                                 int batch_size, int max_new, answer_fn fn, void *ctx)
{
    if (batch_size > n)
        batch_size = n;
    batch b;
    int32_t *idx = malloc((size_t)batch_size * sizeof *idx);
    int32_t *out = malloc((size_t)batch_size * max_new * sizeof *out);
    size_t text_cap = (size_t)max_new * 4 + 8;
    char *text = malloc(text_cap);
    arith_status st = batch_alloc(&b, batch_size, enc->max_prompt);
    if (!st && (!idx || !out || !text))
        st = arith_error(ARITH_ERR_MEMORY, "out of memory generating answers");
    for (int first = 0; first < n && st == ARITH_OK; first += batch_size) {
        int count = n - first < batch_size ? n - first : batch_size;
        for (int i = 0; i < count; i++)
            idx[i] = first + i;
        st = batch_fill_prompts(&b, enc, idx, count, tok->pad_id);
        if (st == ARITH_OK)
            st = model_generate(m, &b, max_new, tok->eos_id, out);
        for (int r = 0; r < count && st == ARITH_OK; r++) {
            bool ended = decode_row(tok, out + (size_t)r * max_new, max_new, text, text_cap);
            fn(ctx, first + r, text, ended);
        }
    }
    batch_free(&b);
    free(idx);
    free(out);
    free(text);
    return st;
}

typedef struct {
    const example_set *set;
    eval_result *result;
    eval_example_fn fn;
    void *ctx;
    int report;
} scoring;

static void score_answer(void *ctx, int index, const char *text, bool ended)
{
    scoring *sc = ctx;
    const example *ex = &sc->set->items[index];
    bool ok = ended && strcmp(text, ex->answer) == 0;
    sc->result->correct += ok;
    if (sc->fn && (sc->report < 0 || index < sc->report))
        sc->fn(sc->ctx, index, ex, text, ok);
}

/* Runs teacher-forced batches over the first n examples of enc; calls fn after each forward. */
typedef void (*batch_fn)(void *ctx, model *m, const batch *b, int first, double loss_sum,
                         int count);

static arith_status forward_all(model *m, const encoded_set *enc, int n, int batch_size,
                                int32_t pad_id, batch_fn fn, void *ctx)
{
    if (batch_size > n)
        batch_size = n;
    batch b;
    int32_t *idx = malloc((size_t)batch_size * sizeof *idx);
    arith_status st = batch_alloc(&b, batch_size, enc->max_prompt + enc->max_answer);
    if (!st && !idx)
        st = arith_error(ARITH_ERR_MEMORY, "out of memory evaluating");
    for (int first = 0; first < n && st == ARITH_OK; first += batch_size) {
        int count = n - first < batch_size ? n - first : batch_size;
        for (int i = 0; i < count; i++)
            idx[i] = first + i;
        st = batch_fill_train(&b, enc, idx, count, pad_id);
        double loss_sum = 0;
        int c = 0;
        if (!st)
            st = model_forward(m, &b, false, 0, &loss_sum, &c);
        if (!st)
            fn(ctx, m, &b, first, loss_sum, c);
    }
    batch_free(&b);
    free(idx);
    return st;
}

typedef struct {
    const example_set *set;
    eval_result *result;
    double loss_sum, abs_sum;
    long long counted;
    eval_example_fn fn;
    void *ctx;
    int report;
} tally;

/* Regression: prediction vs answer per row. */
static void tally_regression(void *ctx, model *m, const batch *b, int first, double loss_sum,
                             int count)
{
    tally *t = ctx;
    t->loss_sum += loss_sum;
    t->counted += count;
    for (int r = 0; r < b->B; r++) {
        double y = m->values[r], v = b->values[r];
        t->abs_sum += fabs(y - v);
        bool ok = nearbyint(y) == v;
        t->result->correct += ok;
        int index = first + r;
        if (t->fn && (t->report < 0 || index < t->report)) {
            char text[64];
            snprintf(text, sizeof text, "%.3f", y);
            t->fn(t->ctx, index, &t->set->items[index], text, ok);
        }
    }
}

/* Teacher forcing: every target position's argmax must be its target. */
static void tally_forced(void *ctx, model *m, const batch *b, int first, double loss_sum,
                         int count)
{
    (void)first;
    tally *t = ctx;
    t->loss_sum += loss_sum;
    t->counted += count;
    const int V = m->cfg.vocab;
    for (int r = 0; r < b->B; r++) {
        bool ok = true;
        for (int c = 0; c < b->T && ok; c++) {
            int32_t want = b->targets[(size_t)r * b->T + c];
            if (want >= 0)
                ok = argmax_row(m->logits + ((size_t)r * b->T + c) * V, V) == want;
        }
        t->result->correct += ok;
    }
}

static arith_status evaluate_forward(model *m, const tokenizer *tok, const example_set *set,
                                     int n, int batch_size, batch_fn per_batch,
                                     eval_example_fn fn, void *ctx, int report,
                                     eval_result *result)
{
    memset(result, 0, sizeof *result);
    result->mae = NAN;
    double t0 = time_now();
    if (n <= 0 || n > set->count)
        n = set->count;
    example_set part = *set;
    part.count = n;
    encoded_set enc;
    arith_status st = encoded_build(&enc, &part, tok, "test set");
    if (st)
        return st;
    tally t = {.set = set, .result = result, .fn = fn, .ctx = ctx, .report = report};
    st = forward_all(m, &enc, n, batch_size, tok->pad_id, per_batch, &t);
    result->total = n;
    result->loss = t.counted ? t.loss_sum / (double)t.counted : NAN;
    if (m->cfg.head == HEAD_REGRESSION)
        result->mae = t.abs_sum / n;
    result->seconds = time_now() - t0;
    encoded_free(&enc);
    return st;
}

arith_status evaluate_teacher_forced(model *m, const tokenizer *tok, const example_set *set, int n,
                                     int batch_size, eval_result *result)
{
    if (m->cfg.head == HEAD_REGRESSION)
        return evaluate_forward(m, tok, set, n, batch_size, tally_regression, NULL, NULL, 0,
                                result);
    return evaluate_forward(m, tok, set, n, batch_size, tally_forced, NULL, NULL, 0, result);
}

arith_status evaluate(model *m, const tokenizer *tok, const example_set *set, int n,
                      int batch_size, eval_example_fn fn, void *ctx, int report,
                      eval_result *result)
{
    if (m->cfg.head == HEAD_REGRESSION)
        return evaluate_forward(m, tok, set, n, batch_size, tally_regression, fn, ctx, report,
                                result);
    memset(result, 0, sizeof *result);
    result->loss = result->mae = NAN;
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
    /* only the transformer has a context limit; recurrent models run any length */
    if (m->cfg.kind == MODEL_TRANSFORMER && enc.max_prompt + max_new - 1 > m->cfg.context)
        max_new = m->cfg.context - enc.max_prompt + 1;
    if (max_new < enc.max_answer) {
        st = arith_error(ARITH_ERR_DATA,
                         "prompts of %d tokens with answers of %d do not fit the model's "
                         "context of %d tokens", enc.max_prompt, enc.max_answer,
                         m->cfg.context);
    } else {
        scoring sc = {set, result, fn, ctx, report};
        st = generate_all(m, tok, &enc, n, batch_size, max_new, score_answer, &sc);
    }
    result->total = n;
    result->seconds = time_now() - t0;
    encoded_free(&enc);
    return st;
}

static void keep_answer(void *ctx, int index, const char *text, bool ended)
{
    char **answers = ctx;
    (void)ended; /* without EOS the answer is all that was generated */
    answers[index] = strdup(text);
}

static void keep_value(void *ctx, int index, const example *ex, const char *predicted,
                       bool correct)
{
    (void)ex;
    (void)correct;
    char **answers = ctx;
    answers[index] = strdup(predicted);
}

arith_status predict_answers(model *m, const tokenizer *tok, const char *const *prompts, int n,
                             int batch_size, char **answers)
{
    if (m->cfg.head == HEAD_REGRESSION) {
        /* the number the head gives, as text; the placeholder answers are never read */
        example_set set;
        examples_init(&set);
        arith_status st = ARITH_OK;
        for (int i = 0; i < n && st == ARITH_OK; i++)
            st = examples_push(&set, prompts[i], "0");
        eval_result r;
        if (st == ARITH_OK)
            st = evaluate_forward(m, tok, &set, n, batch_size, tally_regression, keep_value,
                                  answers, -1, &r);
        examples_free(&set);
        return st;
    }
    /* answers are generated to the limit of the context */
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
    /* recurrent models: answers as long as the longest sequence trained on */
    int max_new = m->cfg.kind == MODEL_TRANSFORMER ? m->cfg.context - enc.max_prompt + 1
                                                    : m->cfg.context;
    if (max_new < 1)
        st = arith_error(ARITH_ERR_DATA,
                         "a prompt of %d tokens leaves no room in the model's context of %d",
                         enc.max_prompt, m->cfg.context);
    else
        st = generate_all(m, tok, &enc, n, batch_size, max_new, keep_answer, answers);
    encoded_free(&enc);
    examples_free(&set);
    return st;
}
