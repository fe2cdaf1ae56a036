/* Beam search on any model that decodes one token at a time (the decode ops of model_ops):
 * each prompt's K rows carry K hypotheses; every step scores (live beams x vocabulary) by
 * summed log-softmax in double precision, keeps the K best per prompt, and reorders the
 * model's per-row state (key/value cache, LSTM state) to follow them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"

arith_status model_decode_begin(model *m, const batch *prompts, const float **logits)
{
    if (!m->ops->decode_begin)
        return arith_error(ARITH_ERR_ARG, "the %s model does not generate one token at a time "
                           "(it emits every answer position at once), so it cannot decode "
                           "incrementally", m->ops->name);
    return m->ops->decode_begin(m, prompts, logits);
}

arith_status model_decode_next(model *m, const int32_t *tokens, const float **logits)
{
    if (!m->ops->decode_next)
        return arith_error(ARITH_ERR_ARG, "the %s model cannot decode incrementally",
                           m->ops->name);
    return m->ops->decode_next(m, tokens, logits);
}

void model_decode_reorder(model *m, const int32_t *src)
{
    if (m->ops->decode_reorder)
        m->ops->decode_reorder(m, src);
}

/* A continuation: beam `parent` (0..K-1) extended by `token`; `ended` when the beam had
 * already ended (its one candidate, token EOS, score unchanged). */
typedef struct {
    double score;
    int parent;
    int32_t token;
    bool ended;
} candidate;

/* Inserts c into the best-first list (n of at most K); on equal scores the earlier stays
 * ahead, so that K = 1 takes the first largest logit as argmax_row does. */
static void candidate_insert(candidate *list, int *n, int K, candidate c)
{
    if (*n == K && !(c.score > list[K - 1].score))
        return;
    int at = *n < K ? (*n)++ : K - 1;
    while (at > 0 && list[at - 1].score < c.score) {
        list[at] = list[at - 1];
        at--;
    }
    list[at] = c;
}

enum { BEAM_DEAD = 0, BEAM_LIVE, BEAM_ENDED };

arith_status model_beam_search(model *m, const batch *prompts, int K, int max_new, int32_t eos,
                               int32_t *out, float *scores)
{
    if (K < 1)
        return arith_error(ARITH_ERR_ARG, "--beam must be at least 1 (got %d)", K);
    if (!model_can_decode(m))
        return arith_error(ARITH_ERR_ARG, "beam search needs a model that generates one token "
                           "at a time, not %s%s", m->ops->name,
                           m->cfg.head == HEAD_REGRESSION ? " with a regression head" : "");
    const int B = prompts->B, T = prompts->T, V = m->cfg.vocab;
    const int R = B * K;
    if (max_new < 1) { /* empty hypotheses, the first of each prompt the only one */
        for (int r = 0; r < R; r++)
            scores[r] = r % K == 0 ? 0.0f : -INFINITY;
        return ARITH_OK;
    }
    arith_status st = model_reserve(m, R, T);
    if (st)
        return st;
    batch rep;
    bool have_rep = batch_alloc(&rep, R, T) == ARITH_OK;
    /* two halves of each: this step's beams and the next step's */
    double *score_buf = malloc(2 * (size_t)R * sizeof *score_buf);
    uint8_t *state_buf = malloc(2 * (size_t)R);
    int32_t *hist_buf = malloc(2 * (size_t)R * max_new * sizeof *hist_buf);
    int32_t *ints = malloc(3 * (size_t)R * sizeof *ints);
    candidate *cand = malloc((size_t)K * sizeof *cand);
    int *slot_of = malloc((size_t)K * sizeof *slot_of);
    uint8_t *taken = malloc((size_t)K);
    double *logp = malloc((size_t)V * sizeof *logp); /* (V) one beam's log-softmax */
    if (!have_rep || !score_buf || !state_buf || !hist_buf || !ints || !cand || !slot_of ||
        !taken || !logp) {
        st = arith_error(ARITH_ERR_MEMORY, "out of memory for a beam search of %d x %d rows", B,
                         K);
        goto done;
    }
    double *score = score_buf, *next_score = score_buf + R;
    uint8_t *state = state_buf, *next_state = state_buf + R;
    int32_t *hist = hist_buf, *next_hist = hist_buf + (size_t)R * max_new;
    int32_t *src = ints, *tokens = ints + R, *rank = ints + 2 * R;

    /* each prompt K times: rows b*K .. b*K+K-1; only the first is a beam at the start */
    rep.B = R;
    rep.T = T;
    rep.prompt_T = T;
    for (int r = 0; r < R; r++) {
        const int b = r / K;
        memcpy(rep.tokens + (size_t)r * T, prompts->tokens + (size_t)b * T,
               (size_t)T * sizeof(int32_t));
        for (int c = 0; c < T; c++)
            rep.targets[(size_t)r * T + c] = -1;
        rep.start[r] = prompts->start[b];
        rep.values[r] = 0.0f;
        score[r] = r % K == 0 ? 0.0 : -INFINITY;
        state[r] = r % K == 0 ? BEAM_LIVE : BEAM_DEAD;
        rank[r] = r % K;
    }
    batch_positions(&rep);
    for (int r = 0; r < R && st == ARITH_OK; r++) /* the prompts' own positions, if any */
        st = batch_copy_positions(&rep, r, prompts, r / K);

    const float *logits = NULL;
    if (st == ARITH_OK)
        st = model_decode_begin(m, &rep, &logits);
    int steps = 0;
    for (int step = 0; step < max_new && st == ARITH_OK; step++) {
        bool any_live = false, moved = false;
        for (int b = 0; b < B; b++) {
            int nc = 0;
            for (int k = 0; k < K; k++) {
                const int r = b * K + k;
                if (state[r] == BEAM_DEAD)
                    continue;
                if (state[r] == BEAM_ENDED) {
                    candidate_insert(cand, &nc, K, (candidate){score[r], k, eos, true});
                    continue;
                }
                log_softmax_row(logp, logits + (size_t)r * V, V);
                for (int v = 0; v < V; v++)
                    candidate_insert(cand, &nc, K, (candidate){score[r] + logp[v], k, v, false});
            }
            /* a beam stays in its parent's row when it can, so that little state moves */
            memset(taken, 0, (size_t)K);
            for (int i = 0; i < nc; i++) {
                slot_of[i] = -1;
                if (!taken[cand[i].parent]) {
                    slot_of[i] = cand[i].parent;
                    taken[cand[i].parent] = 1;
                }
            }
            int free_slot = 0;
            for (int i = 0; i < K; i++) {
                if (i < nc && slot_of[i] >= 0)
                    continue;
                while (taken[free_slot])
                    free_slot++;
                taken[free_slot] = 1;
                if (i < nc)
                    slot_of[i] = free_slot;
                const int r = b * K + free_slot;
                if (i >= nc) { /* fewer candidates than beams: this row holds none */
                    src[r] = r;
                    next_score[r] = -INFINITY;
                    next_state[r] = BEAM_DEAD;
                    tokens[r] = eos;
                    rank[b * K + i] = free_slot;
                }
            }
            for (int i = 0; i < nc; i++) {
                const int r = b * K + slot_of[i], p = b * K + cand[i].parent;
                src[r] = p;
                moved = moved || p != r;
                next_score[r] = cand[i].score;
                next_state[r] = cand[i].ended || cand[i].token == eos ? BEAM_ENDED : BEAM_LIVE;
                memcpy(next_hist + (size_t)r * max_new, hist + (size_t)p * max_new,
                       (size_t)step * sizeof(int32_t));
                next_hist[(size_t)r * max_new + step] = cand[i].token;
                tokens[r] = cand[i].token;
                rank[b * K + i] = slot_of[i];
                any_live = any_live || next_state[r] == BEAM_LIVE;
            }
        }
        double *sw = score;
        score = next_score;
        next_score = sw;
        uint8_t *ss = state;
        state = next_state;
        next_state = ss;
        int32_t *sh = hist;
        hist = next_hist;
        next_hist = sh;
        steps = step + 1;
        if (!any_live || steps == max_new)
            break;
        if (moved)
            model_decode_reorder(m, src);
        st = model_decode_next(m, tokens, &logits);
    }
    /* best first; EOS after the end, and in rows that hold no hypothesis */
    for (int i = 0; st == ARITH_OK && i < R; i++) {
        const int r = (i / K) * K + rank[i];
        int32_t *row = out + (size_t)i * max_new;
        const bool dead = state[r] == BEAM_DEAD;
        for (int c = 0; c < max_new; c++)
            row[c] = !dead && c < steps ? hist[(size_t)r * max_new + c] : eos;
        scores[i] = dead ? -INFINITY : (float)score[r];
    }
done:
    free(score_buf);
    free(state_buf);
    free(hist_buf);
    free(ints);
    free(cand);
    free(slot_of);
    free(taken);
    free(logp);
    if (have_rep)
        batch_free(&rep);
    return st;
}

arith_status model_decode_greedy(model *m, const batch *prompts, int max_new, int32_t eos,
                                 int32_t *out)
{
    const int B = prompts->B, V = m->cfg.vocab;
    if (max_new < 1)
        return ARITH_OK;
    /* the tokens fed back, one per row (decode_begin may reallocate a model's workspace, so
     * this is not kept there) */
    int32_t *tokens = malloc((size_t)(B > 0 ? B : 1) * sizeof *tokens);
    if (!tokens)
        return arith_error(ARITH_ERR_MEMORY, "out of memory generating %d rows", B);
    const float *logits = NULL;
    arith_status st = model_decode_begin(m, prompts, &logits);
    if (st) {
        free(tokens);
        return st;
    }
    int live = 0;
    for (int r = 0; r < B; r++) {
        int32_t next = argmax_row(logits + (size_t)r * V, V);
        out[(size_t)r * max_new] = next;
        tokens[r] = next;
        live += next != eos;
    }
    for (int i = 1; i < max_new; i++) {
        if (live == 0) {
            for (int r = 0; r < B; r++)
                out[(size_t)r * max_new + i] = eos;
            continue;
        }
        /* rows that are done keep stepping on EOS, unread */
        st = model_decode_next(m, tokens, &logits);
        if (st)
            break;
        live = 0;
        for (int r = 0; r < B; r++) {
            int32_t prev = out[(size_t)r * max_new + i - 1];
            int32_t next = prev == eos ? eos : argmax_row(logits + (size_t)r * V, V);
            out[(size_t)r * max_new + i] = next;
            tokens[r] = next;
            live += next != eos;
        }
    }
    free(tokens);
    return st;
}
