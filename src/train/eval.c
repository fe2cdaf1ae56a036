/* Evaluation: batched greedy generation (or beam search) and exact-match scoring, and
 * answering raw prompts. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/backend/backend.h"
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

/* Whether a generated answer is right: the one place that decides it, for greedy and beam
 * evaluation alike. The text up to EOS must equal the reference exactly, or be equivalent to it
 * for a task that judges so (task_def.equivalent; symbolic, as Lample & Charton check answers:
 * numerically at many points, an integral up to its constant); an answer that never reached
 * EOS (ended false) is never right. */
static bool answer_correct(const task_config *task, const char *prompt, const char *reference,
                           const char *hypothesis, bool ended)
{
    if (!ended)
        return false;
    if (strcmp(hypothesis, reference) == 0)
        return true;
    if (!task || !task->def->equivalent)
        return false;
    return task->def->equivalent(task, prompt, reference, hypothesis);
}

/* Called with each prompt's decoded answers, in order: K hypotheses, best first (K = 1 for
 * greedy), with their log-probabilities (NULL for greedy; -inf: no hypothesis, text empty). */
typedef void (*answer_fn)(void *ctx, int index, int K, char *const *texts, const bool *ended,
                          const float *scores);

/* Greedy generation (beam 1) or beam search for all n encoded prompts, batch_size prompts (of
 * `beam` rows each) at a time; each answer (up to max_new tokens) is decoded and handed to fn. */
static arith_status generate_all(model *m, const tokenizer *tok, const encoded_set *enc, int n,
                                 int batch_size, int beam, int max_new, answer_fn fn, void *ctx)
{
    if (batch_size > n)
        batch_size = n;
    const int K = beam;
    batch b;
    int32_t *idx = malloc((size_t)batch_size * sizeof *idx);
    int32_t *out = malloc((size_t)batch_size * K * max_new * sizeof *out);
    float *scores = malloc((size_t)batch_size * K * sizeof *scores);
    /* a token decodes to at most a word of the words tokenizer and a space */
    size_t text_cap = (size_t)max_new * TOK_NAME_MAX + 8;
    char **texts = calloc((size_t)K, sizeof *texts);
    bool *ended = malloc((size_t)K * sizeof *ended);
    bool have_texts = texts != NULL;
    for (int k = 0; k < K && have_texts; k++)
        have_texts = (texts[k] = malloc(text_cap)) != NULL;
    arith_status st = batch_alloc(&b, batch_size, enc->max_prompt);
    if (!st && (!idx || !out || !scores || !have_texts || !ended))
        st = arith_error(ARITH_ERR_MEMORY, "out of memory generating answers");
    for (int first = 0; first < n && st == ARITH_OK; first += batch_size) {
        int count = n - first < batch_size ? n - first : batch_size;
        for (int i = 0; i < count; i++)
            idx[i] = first + i;
        st = batch_fill_prompts(&b, enc, idx, count, tok->pad_id);
        if (st == ARITH_OK && K == 1)
            st = model_generate(m, &b, max_new, tok->eos_id, out);
        else if (st == ARITH_OK)
            st = model_beam_search(m, &b, K, max_new, tok->eos_id, out, scores);
        for (int r = 0; r < count && st == ARITH_OK; r++) {
            for (int k = 0; k < K; k++)
                ended[k] = decode_row(tok, out + ((size_t)r * K + k) * max_new, max_new,
                                      texts[k], text_cap);
            fn(ctx, first + r, K, texts, ended, K == 1 ? NULL : scores + (size_t)r * K);
        }
    }
    batch_free(&b);
    free(idx);
    free(out);
    free(scores);
    for (int k = 0; k < K && texts; k++)
        free(texts[k]);
    free(texts);
    free(ended);
    return st;
}

typedef struct {
    const task_config *task;
    const example_set *set;
    eval_result *result;
    eval_example_fn fn;
    void *ctx;
    int report;
} scoring;

/* Right when any hypothesis is; top_correct counts the best hypothesis alone. */
static void score_answer(void *ctx, int index, int K, char *const *texts, const bool *ended,
                         const float *scores)
{
    scoring *sc = ctx;
    const example *ex = &sc->set->items[index];
    bool any = false, top = false;
    for (int k = 0; k < K; k++) {
        if (scores && !(scores[k] > -INFINITY))
            continue; /* no hypothesis in this row */
        bool ok = answer_correct(sc->task, ex->prompt, ex->answer, texts[k], ended[k]);
        if (k == 0)
            sc->result->exact += ended[k] && strcmp(texts[k], ex->answer) == 0;
        top = top || (k == 0 && ok);
        any = any || ok;
    }
    sc->result->correct += any;
    sc->result->top_correct += top;
    if (sc->fn && (sc->report < 0 || index < sc->report))
        sc->fn(sc->ctx, index, ex, texts[0], any);
}

/* Only the transformers have a context limit; recurrent models run any length. */
arith_status beam_check(const model *m, int beam)
{
    if (beam < 1)
        return arith_error(ARITH_ERR_ARG, "--beam must be at least 1 (got %d)", beam);
    if (beam == 1)
        return ARITH_OK;
    if (m->cfg.head == HEAD_REGRESSION)
        return arith_error(ARITH_ERR_ARG, "--beam %d: a regression head predicts one number, "
                           "not tokens, so there is nothing to search (use --beam 1)", beam);
    if (!model_can_decode(m))
        return arith_error(ARITH_ERR_ARG, "--beam %d: %s emits every answer position at once "
                           "instead of one token at a time, so it has no beam search (use "
                           "--beam 1)", beam, model_kind_name(m->cfg.kind));
    return ARITH_OK;
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

arith_status evaluate(model *m, const tokenizer *tok, const task_config *task,
                      const example_set *set, int n, int batch_size, eval_example_fn fn,
                      void *ctx, int report, eval_result *result)
{
    return evaluate_beam(m, tok, task, set, n, batch_size, 1, fn, ctx, report, result);
}

arith_status evaluate_beam(model *m, const tokenizer *tok, const task_config *task,
                           const example_set *set, int n, int batch_size, int beam,
                           eval_example_fn fn, void *ctx, int report, eval_result *result)
{
    memset(result, 0, sizeof *result);
    result->loss = result->mae = NAN;
    result->beam = beam;
    arith_status st = beam_check(m, beam);
    if (st)
        return st;
    if (m->cfg.head == HEAD_REGRESSION) {
        st = evaluate_forward(m, tok, set, n, batch_size, tally_regression, fn, ctx, report,
                              result);
        result->beam = 1;
        result->top_correct = result->correct;
        return st;
    }
    double t0 = time_now();
    if (n <= 0 || n > set->count)
        n = set->count;
    example_set part = *set;
    part.count = n;
    encoded_set enc;
    st = encoded_build(&enc, &part, tok, "test set");
    if (st)
        return st;
    /* one token more than the longest answer, so an answer that runs on is caught */
    int max_new = enc.max_answer + 1;
    if (model_has_context_limit(m) && enc.max_prompt + max_new - 1 > m->cfg.context)
        max_new = m->cfg.context - enc.max_prompt + 1;
    if (max_new < enc.max_answer) {
        st = arith_error(ARITH_ERR_DATA,
                         "prompts of %d tokens with answers of %d do not fit the model's "
                         "context of %d tokens", enc.max_prompt, enc.max_answer,
                         m->cfg.context);
    } else {
        scoring sc = {task, set, result, fn, ctx, report};
        st = generate_all(m, tok, &enc, n, batch_size, beam, max_new, score_answer, &sc);
    }
    result->total = n;
    result->seconds = time_now() - t0;
    encoded_free(&enc);
    return st;
}

typedef struct {
    char **answers;            /* (n*K) */
    float *scores;             /* (n*K) or NULL */
    bool *ended;               /* (n*K) or NULL */
} kept;

static void keep_answer(void *ctx, int index, int K, char *const *texts, const bool *ended,
                        const float *scores)
{
    kept *kp = ctx;
    for (int k = 0; k < K; k++) {
        size_t at = (size_t)index * K + k;
        /* without EOS the answer is all that was generated */
        kp->answers[at] = strdup(texts[k]);
        if (kp->scores)
            kp->scores[at] = scores ? scores[k] : NAN;
        if (kp->ended)
            kp->ended[at] = ended[k];
    }
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
    return predict_beam(m, tok, prompts, n, batch_size, 1, answers, NULL, NULL);
}

arith_status predict_beam(model *m, const tokenizer *tok, const char *const *prompts, int n,
                          int batch_size, int beam, char **answers, float *scores, bool *ended)
{
    arith_status st = beam_check(m, beam);
    if (st)
        return st;
    if (m->cfg.head == HEAD_REGRESSION) {
        /* the number the head gives, as text; the placeholder answers are never read */
        example_set set;
        examples_init(&set);
        for (int i = 0; i < n && st == ARITH_OK; i++)
            st = examples_push(&set, prompts[i], "0");
        eval_result r;
        if (st == ARITH_OK)
            st = evaluate_forward(m, tok, &set, n, batch_size, tally_regression, keep_value,
                                  answers, -1, &r);
        for (int i = 0; i < n; i++) {
            if (scores)
                scores[i] = NAN;
            if (ended)
                ended[i] = true;
        }
        examples_free(&set);
        return st;
    }
    /* answers are generated to the limit of the context */
    example_set set;
    examples_init(&set);
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
    int max_new = model_has_context_limit(m) ? m->cfg.context - enc.max_prompt + 1 : m->cfg.context;
    if (max_new < 1) {
        st = arith_error(ARITH_ERR_DATA,
                         "a prompt of %d tokens leaves no room in the model's context of %d",
                         enc.max_prompt, m->cfg.context);
    } else {
        bool *own_ended = ended ? NULL : malloc((size_t)n * beam * sizeof *own_ended);
        kept kp = {answers, scores, ended ? ended : own_ended};
        if (!kp.ended)
            st = arith_error(ARITH_ERR_MEMORY, "out of memory generating answers");
        if (!st)
            st = generate_all(m, tok, &enc, n, batch_size, beam, max_new, keep_answer, &kp);
        /* An answer that never ends stops at the limit of the batch's longest prompt; a
         * shorter prompt is answered again alone, to the limit of its own length, so that
         * no answer depends on the prompts asked beside it. */
        for (int i = 0; i < n && !st && model_has_context_limit(m); i++) {
            bool open = false;
            for (int k = 0; k < beam; k++)
                open |= !kp.ended[(size_t)i * beam + k];
            if (!open || enc.prompt_len[i] == enc.max_prompt)
                continue;
            for (int k = 0; k < beam; k++) {
                free(answers[(size_t)i * beam + k]);
                answers[(size_t)i * beam + k] = NULL;
            }
            st = predict_beam(m, tok, prompts + i, 1, 1, beam, answers + (size_t)i * beam,
                              scores ? scores + (size_t)i * beam : NULL,
                              kp.ended + (size_t)i * beam);
        }
        free(own_ended);
    }
    encoded_free(&enc);
    examples_free(&set);
    return st;
}

arith_status generation_logits(model *m, const tokenizer *tok, const char *prompt,
                               forced_logits *out)
{
    memset(out, 0, sizeof *out);
    out->value = NAN;
    example_set set;
    examples_init(&set);
    encoded_set enc;
    batch pb, b;
    bool built = false, prompts = false, seq = false;
    int32_t *gen = NULL;
    /* the answer is a placeholder, as predict_answers uses: only the prompt is read */
    arith_status st = examples_push(&set, prompt, "0");
    if (!st) {
        st = encoded_build(&enc, &set, tok, "input");
        built = st == ARITH_OK;
    }
    if (!st && m->cfg.head == HEAD_REGRESSION) {
        /* no tokens to generate: the prompt alone, as evaluation reads it */
        st = batch_alloc(&b, 1, enc.max_prompt + enc.max_answer);
        seq = st == ARITH_OK;
        if (!st)
            st = batch_fill_train(&b, &enc, (const int32_t[]){0}, 1, tok->pad_id);
        if (!st)
            b.T = b.prompt_T;
    } else if (!st) {
        /* greedy generation exactly as predict_answers runs it, then its tokens read back */
        const int np = enc.max_prompt;
        const int max_new = model_has_context_limit(m) ? m->cfg.context - np + 1
                                                       : m->cfg.context;
        if (max_new < 1)
            st = arith_error(ARITH_ERR_DATA, "a prompt of %d tokens leaves no room in the "
                             "model's context of %d", np, m->cfg.context);
        if (!st) {
            st = batch_alloc(&pb, 1, np);
            prompts = st == ARITH_OK;
        }
        if (!st)
            st = batch_fill_prompts(&pb, &enc, (const int32_t[]){0}, 1, tok->pad_id);
        if (!st && !(gen = malloc((size_t)max_new * sizeof *gen)))
            st = arith_error(ARITH_ERR_MEMORY, "out of memory generating");
        if (!st)
            st = model_generate(m, &pb, max_new, tok->eos_id, gen);
        /* the tokens read: the answer up to its EOS, which is only predicted (an answer that
         * never ended: all but its last token); seq2seq reads none of them, but its logits
         * are placed after the prompt as if it did */
        int k = 0;
        while (!st && k < max_new && gen[k] != tok->eos_id)
            k++;
        if (k == max_new)
            k = max_new - 1;
        const model_family *fam = model_family_at(m->cfg.kind);
        if (fam && !fam->token_by_token) /* all of its answer positions, EOS or not */
            k = m->cfg.answer_len - 1;
        if (!st) {
            st = batch_alloc(&b, 1, np + k);
            seq = st == ARITH_OK;
        }
        if (!st) {
            b.B = 1;
            b.T = np + k;
            b.prompt_T = np;
            b.start[0] = pb.start[0];
            b.values[0] = 0;
            for (int t = 0; t < b.T; t++) {
                b.tokens[t] = t < np ? pb.tokens[t] : gen[t - np];
                b.targets[t] = -1;
            }
            batch_positions(&b);
            /* ids from the data (abacus, coupling, random): the prompt's, then those the
             * decoding gave the answer (transformer.c's decode_step) */
            if (pb.gen_n > 0) {
                for (int t = 0; t < np; t++)
                    b.pos[t] = pb.pos[t];
                for (int i = 0; i < k; i++) {
                    int p = i < pb.gen_n ? pb.gen_pos[i]
                                         : pb.gen_pos[pb.gen_n - 1] + i - pb.gen_n + 1;
                    int top = m->cfg.pos_max > 0 ? m->cfg.pos_max : m->cfg.context;
                    b.pos[np + i] = p < top ? p : top - 1;
                }
            }
        }
    }
    double loss_sum = 0;
    int count = 0;
    if (!st)
        st = model_forward(m, &b, false, 0, &loss_sum, &count);
    if (!st) {
        const int s = b.start[0], V = m->cfg.vocab;
        const model_family *fam = model_family_at(m->cfg.kind);
        out->n = b.T - s;
        out->vocab = V;
        out->tokens = malloc((size_t)out->n * sizeof *out->tokens + 1);
        out->pos = malloc((size_t)out->n * sizeof *out->pos + 1);
        if (m->cfg.head == HEAD_REGRESSION) {
            out->value = m->values[0];
        } else {
            /* seq2seq's logits exist only where its answer positions were placed */
            out->first = fam && !fam->token_by_token ? b.prompt_T - 1 - s : 0;
            out->rows = out->n - out->first;
            out->logits = malloc((size_t)out->rows * V * sizeof *out->logits + 1);
        }
        if (!out->tokens || !out->pos || (out->rows && !out->logits)) {
            st = arith_error(ARITH_ERR_MEMORY, "out of memory keeping logits");
        } else {
            memcpy(out->tokens, b.tokens + s, (size_t)out->n * sizeof *out->tokens);
            memcpy(out->pos, b.pos + s, (size_t)out->n * sizeof *out->pos);
            if (out->rows)
                memcpy(out->logits, m->logits + (size_t)(s + out->first) * V,
                       (size_t)out->rows * V * sizeof *out->logits);
        }
    }
    free(gen);
    if (seq)
        batch_free(&b);
    if (prompts)
        batch_free(&pb);
    if (built)
        encoded_free(&enc);
    examples_free(&set);
    if (st)
        forced_logits_free(out);
    return st;
}

void forced_logits_free(forced_logits *f)
{
    free(f->tokens);
    free(f->pos);
    free(f->logits);
    f->tokens = f->pos = NULL;
    f->logits = NULL;
    f->n = f->rows = 0;
}

arith_status edge_cases_build(const model *m, const tokenizer *tok, const task_config *task,
                              example_set *set)
{
    example_set all;
    examples_init(&all);
    arith_status st = task_edge_cases(task, &all);
    if (!st)
        st = examples_fitting(m, tok, task, &all, set);
    examples_free(&all);
    return st;
}

arith_status examples_fitting(const model *m, const tokenizer *tok, const task_config *task,
                              const example_set *all, example_set *set)
{
    arith_status st = ARITH_OK;
    int32_t *ids = NULL, *prompt_len = NULL, *answer_len = NULL;
    int cap = 4 * task_max_prompt_chars(task) + 64;
    if (!st && all->count > 0) {
        ids = malloc((size_t)cap * sizeof *ids);
        prompt_len = malloc((size_t)all->count * sizeof *prompt_len);
        answer_len = malloc((size_t)all->count * sizeof *answer_len);
        if (!ids || !prompt_len || !answer_len)
            st = arith_error(ARITH_ERR_MEMORY, "out of memory building edge cases");
    }
    /* what the tokenizer rejects (and its message) is skipped */
    bool *ok = calloc((size_t)all->count + 1, sizeof *ok);
    if (!st && !ok)
        st = arith_error(ARITH_ERR_MEMORY, "out of memory building edge cases");
    int max_answer = 0;
    for (int i = 0; i < all->count && !st; i++) {
        int np = 0, na = 0, width = 0;
        if (tok_encode_example(tok, all->items[i].prompt, all->items[i].answer, ids, NULL, NULL,
                               cap, &np, &na, &width) != ARITH_OK)
            continue;
        /* a sequence of prompt + answer (EOS not read back) within the context */
        if (model_has_context_limit(m) && np + na - 1 > m->cfg.context)
            continue;
        ok[i] = true;
        prompt_len[i] = np;
        answer_len[i] = na;
        if (na > max_answer)
            max_answer = na;
    }
    /* generation runs to the longest answer for every prompt: drop prompts that leave too
     * little room for it (dropping them only shortens the longest answer) */
    for (int i = 0; i < all->count && !st; i++)
        if (ok[i] && (!model_has_context_limit(m) || prompt_len[i] + max_answer - 1 <= m->cfg.context))
            st = examples_push(set, all->items[i].prompt, all->items[i].answer);
    if (!st)
        arith_error_clear(); /* the tokenizer's messages for the cases skipped */
    free(ok);
    free(ids);
    free(prompt_len);
    free(answer_len);
    return st;
}

/* Tallies each answer by its prompt's longest carry chain, then passes it on. */
typedef struct {
    const task_config *task;
    carry_result *r;
    eval_example_fn inner;
    void *inner_ctx;
} carry_tally;

static void on_carry_example(void *ctx, int index, const example *ex, const char *predicted,
                             bool correct)
{
    carry_tally *t = ctx;
    int c = task_carry_chain(t->task, ex->prompt);
    if (c >= 0 && c < t->r->chains) {
        t->r->n[c]++;
        t->r->right[c] += correct;
    }
    if (t->inner)
        t->inner(t->inner_ctx, index, ex, predicted, correct);
}

arith_status evaluate_carries(model *m, const tokenizer *tok, const task_config *task,
                              const example_set *carry, int batch_size, int beam,
                              eval_example_fn fn, void *ctx, carry_result *out)
{
    memset(out, 0, sizeof *out);
    if (!task_has_carries(task) || carry->count == 0)
        return ARITH_OK;
    example_set fit;
    examples_init(&fit);
    arith_status st = examples_fitting(m, tok, task, carry, &fit);
    out->chains = task->digits + 1;
    out->n = calloc((size_t)out->chains, sizeof *out->n);
    out->right = calloc((size_t)out->chains, sizeof *out->right);
    if (!st && (!out->n || !out->right))
        st = arith_error(ARITH_ERR_MEMORY, "out of memory scoring carry chains");
    carry_tally t = {task, out, fn, ctx};
    eval_result r = {0};
    if (!st && fit.count > 0)
        st = evaluate_beam(m, tok, task, &fit, 0, batch_size, beam, on_carry_example, &t, -1, &r);
    examples_free(&fit);
    if (st) {
        carry_result_free(out);
        return st;
    }
    out->total = r.total;
    out->correct = r.correct;
    out->seconds = r.seconds;
    return ARITH_OK;
}

void carry_result_free(carry_result *r)
{
    free(r->n);
    free(r->right);
    memset(r, 0, sizeof *r);
}
