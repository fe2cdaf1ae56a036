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
    /* one example's ids, idx and sig; it grows for long examples (a 10,000-bit count), so no
     * length is too long to tokenize (a tokenizer's own limits still apply) */
    size_t max_tokens = 4096;
    int32_t *scratch = malloc(3 * max_tokens * sizeof *scratch);
    size_t cap = (size_t)set->count * 32 + 64, used = 0;
    enc->ids = malloc(cap * sizeof *enc->ids);
    enc->idx = malloc(cap * sizeof *enc->idx);
    enc->sig = malloc(cap * sizeof *enc->sig);
    enc->ans_width = malloc(((size_t)set->count + 1) * sizeof(int32_t));
    enc->ans_period = tok->hints || tok->carries ? 2 : 1;
    enc->ans_sign = tok_has_format(tok) && tok->format.signed_answers ? 1 : 0;
    enc->plan = tok->plan;
    enc->ans_reversed = tok->reverse_answer;
    enc->hint_base = tok->hints ? tok->hint_base : -1;
    enc->hint_offset = 0;
    enc->prompt_off = malloc(((size_t)set->count + 1) * sizeof(int32_t));
    enc->prompt_len = malloc(((size_t)set->count + 1) * sizeof(int32_t));
    enc->answer_off = malloc(((size_t)set->count + 1) * sizeof(int32_t));
    enc->answer_len = malloc(((size_t)set->count + 1) * sizeof(int32_t));
    enc->value = malloc(((size_t)set->count + 1) * sizeof(float));
    if (!enc->value || !scratch || !enc->ids || !enc->idx || !enc->sig || !enc->ans_width || !enc->prompt_off || !enc->prompt_len || !enc->answer_off ||
        !enc->answer_len) {
        free(scratch);
        encoded_free(enc);
        return arith_error(ARITH_ERR_MEMORY, "out of memory tokenizing %s", source);
    }
    arith_status st = ARITH_OK;
    for (int i = 0; i < set->count && st == ARITH_OK; i++) {
        int np = 0, na = 0, width = 0;
        /* room to spare: zero-padding widens an operand to the longest, index hints double
         * the digits, and there are a sign and EOS */
        size_t need = 8 * (strlen(set->items[i].prompt) + strlen(set->items[i].answer)) + 64;
        if (need > max_tokens) {
            int32_t *grown = realloc(scratch, 3 * need * sizeof *grown);
            if (!grown) {
                st = arith_error(ARITH_ERR_MEMORY, "out of memory tokenizing %s", source);
                break;
            }
            scratch = grown;
            max_tokens = need;
        }
        st = tok_encode_example(tok, set->items[i].prompt, set->items[i].answer, scratch,
                                scratch + max_tokens, scratch + 2 * max_tokens, (int)max_tokens,
                                &np, &na, &width);
        if (st) {
            arith_error_wrap(st, "%s, example %d: ", source, i + 1);
            break;
        }
        if (used + (size_t)(np + na) > cap) {
            cap = (used + (size_t)(np + na)) * 2;
            int32_t *grown = realloc(enc->ids, cap * sizeof *grown);
            int32_t *grown_idx = grown ? realloc(enc->idx, cap * sizeof *grown_idx) : NULL;
            if (grown)
                enc->ids = grown;
            if (grown_idx)
                enc->idx = grown_idx;
            int32_t *grown_sig = grown_idx ? realloc(enc->sig, cap * sizeof *grown_sig) : NULL;
            if (!grown_sig) {
                st = arith_error(ARITH_ERR_MEMORY, "out of memory tokenizing %s", source);
                break;
            }
            enc->sig = grown_sig;
        }
        memcpy(enc->ids + used, scratch, (size_t)(np + na) * sizeof(int32_t));
        memcpy(enc->idx + used, scratch + max_tokens, (size_t)(np + na) * sizeof(int32_t));
        memcpy(enc->sig + used, scratch + 2 * max_tokens, (size_t)(np + na) * sizeof(int32_t));
        enc->prompt_off[i] = (int32_t)used;
        enc->prompt_len[i] = np;
        enc->answer_off[i] = (int32_t)used + np;
        enc->answer_len[i] = na;
        enc->ans_width[i] = width;
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
    free(enc->idx);
    free(enc->sig);
    free(enc->ans_width);
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
    free(b->gen_pos);
    arith_free(b->tokens);
    arith_free(b->targets);
    arith_free(b->pos);
    arith_free(b->start);
    arith_free(b->values);
    memset(b, 0, sizeof *b);
}

void batch_positions(batch *b)
{
    b->gen_n = 0;
    for (int r = 0; r < b->B; r++)
        for (int t = 0; t < b->T; t++) {
            int p = t - b->start[r];
            b->pos[r * b->T + t] = p > 0 ? p : 0;
        }
}

arith_status tokenizer_set_positions(tokenizer *tok, posids_plan plan)
{
    if (plan.pos_max < 1)
        return arith_error(ARITH_ERR_ARG, "--pos-max must be at least 1 (got %d)", plan.pos_max);
    if (plan.kind == POSIDS_COUPLING && !tok->reverse_answer && !tok->zero_pad)
        return arith_error(ARITH_ERR_ARG, "--pos coupling (or coupling-rel) numbers the answer's digits by "
                           "significance, which must be known before they are generated: add "
                           "--reverse (or --reverse-answer) or --zero-pad");
    if ((plan.kind == POSIDS_COUPLING || plan.kind == POSIDS_ABACUS) && tok->scratchpad)
        return arith_error(ARITH_ERR_ARG, "--pos %s numbers the answer's digits from where the "
                           "answer starts, and a --scratchpad comes before it (choose another "
                           "--pos: rope, learned, fire, ...)",
                           plan.kind == POSIDS_ABACUS ? "abacus" : "coupling (or coupling-rel)");
    if ((plan.kind == POSIDS_COUPLING || plan.kind == POSIDS_ABACUS) &&
        tok->format.signed_answers && !tok_has_format(tok))
        return arith_error(ARITH_ERR_ARG, "--pos %s numbers the answer's digits, which must sit "
                           "at known places: answers that may be negative keep their sign at "
                           "one place only in a digit format (add --reverse, --zero-pad or "
                           "--index-hints)", plan.kind == POSIDS_ABACUS ? "abacus" : "coupling (or coupling-rel)");
    plan.train = false;
    tok->plan = plan;
    return ARITH_OK;
}

/* A sorted draw of n distinct ids from [0, range) into out (selection sampling: each id is
 * taken with probability (still needed) / (still left)). */
static void draw_sorted(int32_t *out, int n, int range, rng_state *rng)
{
    int taken = 0;
    for (int id = 0; id < range && taken < n; id++)
        if ((double)rng_uniform(rng) * (range - id) < n - taken)
            out[taken++] = id;
}

/* Significance of answer token k (0-based, sign and hints included) as generation will
 * produce it; a sign token has none (0). */
static int32_t answer_sig(const encoded_set *enc, int e, int k)
{
    if (k < enc->ans_sign)
        return 0;
    int digit = (k - enc->ans_sign) / enc->ans_period;
    if (enc->ans_reversed)
        return digit + 1;
    int s = enc->ans_width[e] - digit;
    return s > 0 ? s : 0;
}

/* The plan's positions for row r (example e) of a filled batch: prompt and answer columns of
 * a training batch, or (gen) a prompt batch's prompt and its gen_pos row. */
static arith_status row_positions(batch *b, const encoded_set *enc, int r, int e, bool gen)
{
    const posids_plan *plan = &enc->plan;
    const int T = b->T, s = b->start[r], max_p = b->prompt_T;
    const int np = enc->prompt_len[e], na = enc->answer_len[e];
    const int32_t *pidx = enc->idx + enc->prompt_off[e], *psig = enc->sig + enc->prompt_off[e];
    int32_t *pos = b->pos + (size_t)r * T;
    int32_t *g = gen ? b->gen_pos + (size_t)r * b->gen_n : NULL;
    const int n_ans = gen ? b->gen_n : na - 1; /* answer tokens fed back as inputs */
    rng_state rng;
    rng_seed(&rng, rng_hash(b->pos_seed, (uint64_t)e));
    for (int t = 0; t < T; t++)
        pos[t] = 0;
    if (plan->kind == POSIDS_RANDOM) {
        /* as many as a generation of the set's longest answer feeds back, in training too, so
         * that one seed gives an example the same positions in both */
        const int n = np + enc->max_answer + 1;
        if (n > plan->pos_max)
            return arith_error(ARITH_ERR_DATA, "example %d needs %d positions, more than the %d "
                               "that --pos-max allows", e + 1, n, plan->pos_max);
        int32_t *ids = malloc((size_t)n * sizeof *ids);
        if (!ids)
            return arith_error(ARITH_ERR_MEMORY, "out of memory drawing positions");
        draw_sorted(ids, n, plan->pos_max, &rng);
        for (int i = 0; i < np; i++)
            pos[s + i] = ids[i];
        for (int i = 0; i < n_ans; i++) {
            if (gen)
                g[i] = ids[np + i];
            else
                pos[max_p + i] = ids[np + i];
        }
        free(ids);
        return ARITH_OK;
    }
    const bool coupling = plan->kind == POSIDS_COUPLING;
    for (int i = 0; i < np; i++)
        pos[s + i] = coupling ? psig[i] : pidx[i];
    /* coupling: the '=' column and each answer column carry the significance of the token
     * they predict. Answer ids follow from the format alone (answer_sig; abacus: the index in
     * written order), as generation must number them before it knows the answer's length:
     * the column that predicts EOS gets the significance the next digit would have. */
    if (coupling)
        pos[max_p - 1] = answer_sig(enc, e, 0);
    for (int i = 0; i < n_ans; i++) {
        int32_t id = coupling           ? answer_sig(enc, e, i + 1)
                     : i < enc->ans_sign ? 0 /* abacus: a sign is not a digit */
                                         : (i - enc->ans_sign) / enc->ans_period + 1;
        if (gen)
            g[i] = id;
        else
            pos[max_p + i] = id;
    }
    /* training: one random offset for the row's nonzero ids, kept below pos_max */
    int top = 0;
    for (int t = 0; t < T; t++)
        top = pos[t] > top ? pos[t] : top;
    for (int i = 0; gen && i < n_ans; i++)
        top = g[i] > top ? g[i] : top;
    int offset = 0;
    if (plan->train && plan->offset_max > 0) {
        int most = plan->pos_max - 1 - top;
        if (most > plan->offset_max)
            most = plan->offset_max;
        if (most > 0)
            offset = (int)(rng_uniform(&rng) * (float)(most + 1));
        if (offset > most)
            offset = most;
    }
    if (!gen && top + offset >= plan->pos_max)
        return arith_error(ARITH_ERR_DATA, "example %d has a position id of %d, past the %d "
                           "that --pos-max allows", e + 1, top, plan->pos_max - 1);
    if (offset > 0) {
        for (int t = 0; t < T; t++)
            pos[t] += pos[t] > 0 ? offset : 0;
    }
    return ARITH_OK;
}

/* Training with --hint-offset: one random offset for the index hints of row r (example e),
 * in inputs and targets alike, kept within the TOK_MAX_HINTS hints. */
static void shift_hints(batch *b, const encoded_set *enc, int r, int e)
{
    const int32_t lo = enc->hint_base, hi = enc->hint_base + TOK_MAX_HINTS;
    int32_t *tok = b->tokens + (size_t)r * b->T, *tgt = b->targets + (size_t)r * b->T;
    int top = 0; /* the row's largest hint, 1-based */
    for (int t = 0; t < b->T; t++) {
        if (tok[t] >= lo && tok[t] < hi && tok[t] - lo + 1 > top)
            top = tok[t] - lo + 1;
        if (tgt[t] >= lo && tgt[t] < hi && tgt[t] - lo + 1 > top)
            top = tgt[t] - lo + 1;
    }
    int most = TOK_MAX_HINTS - top < enc->hint_offset ? TOK_MAX_HINTS - top : enc->hint_offset;
    if (most <= 0)
        return;
    /* its own stream beside the positions' (row_positions draws from the same seed and e) */
    rng_state rng;
    rng_seed(&rng, rng_hash(b->pos_seed ^ 0x41e7bd5aULL, (uint64_t)e));
    int offset = (int)(rng_uniform(&rng) * (float)(most + 1));
    if (offset > most)
        offset = most;
    for (int t = 0; t < b->T; t++) {
        if (tok[t] >= lo && tok[t] < hi)
            tok[t] += offset;
        if (tgt[t] >= lo && tgt[t] < hi)
            tgt[t] += offset;
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
    if (enc->plan.train && enc->hint_base >= 0 && enc->hint_offset > 0)
        for (int r = 0; r < n; r++)
            shift_hints(b, enc, r, idx[r]);
    batch_positions(b);
    for (int r = 0; r < n && enc->plan.kind != POSIDS_COLUMNS; r++) {
        arith_status st = row_positions(b, enc, r, idx[r], false);
        if (st)
            return st;
    }
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
    if (enc->plan.kind == POSIDS_COLUMNS)
        return ARITH_OK;
    /* the positions of the answer tokens generation will feed back: abacus and coupling
     * number them by formula, as far as ids go; random draws them with the prompt's */
    int G = enc->plan.kind == POSIDS_RANDOM ? enc->max_answer + 1 : enc->plan.pos_max;
    if ((size_t)n * G > (size_t)b->gen_cap) {
        int32_t *grown = realloc(b->gen_pos, (size_t)n * G * sizeof *grown);
        if (!grown)
            return arith_error(ARITH_ERR_MEMORY, "out of memory for answer positions");
        b->gen_pos = grown;
        b->gen_cap = n * G;
    }
    b->gen_n = G;
    for (int r = 0; r < n; r++) {
        arith_status st = row_positions(b, enc, r, idx[r], true);
        if (st)
            return st;
    }
    return ARITH_OK;
}

arith_status batch_copy_positions(batch *to, int dst, const batch *from, int src)
{
    memcpy(to->pos + (size_t)dst * to->T, from->pos + (size_t)src * from->T,
           (size_t)from->T * sizeof(int32_t));
    if (from->gen_n == 0) {
        to->gen_n = 0;
        return ARITH_OK;
    }
    size_t need = (size_t)(dst + 1) * from->gen_n;
    if (to->gen_n != from->gen_n || need > (size_t)to->gen_cap) {
        size_t cap = (size_t)to->max_B * from->gen_n;
        if (cap > (size_t)to->gen_cap) {
            int32_t *grown = realloc(to->gen_pos, cap * sizeof *grown);
            if (!grown)
                return arith_error(ARITH_ERR_MEMORY, "out of memory for answer positions");
            to->gen_pos = grown;
            to->gen_cap = (int)cap;
        }
        to->gen_n = from->gen_n;
    }
    memcpy(to->gen_pos + (size_t)dst * to->gen_n, from->gen_pos + (size_t)src * from->gen_n,
           (size_t)from->gen_n * sizeof(int32_t));
    return ARITH_OK;
}
