/* Incremental decoding and beam search: the decode ops against the full forward (transformer
 * with each positional encoding and norm, GPT-2, LSTM with embedded and one-hot input); row
 * reorders (swaps, repeats, cycles) against the forward on the reordered sequences; beam
 * search with K = 1 against greedy generation; every returned score against the
 * teacher-forced log-probability of its hypothesis; an exhaustive beam against brute force;
 * distinct, sorted hypotheses; models without decode ops refused. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "support.h"
#include "core/core.h"
#include "models/model.h"

enum { MAXB = 8, MAXT = 40 };

static model *random_model(const model_config *mc, uint64_t seed, float extra)
{
    model *m = NULL;
    CHECK_OK(model_create(&m, mc));
    if (!m)
        return NULL;
    rng_state rng;
    rng_seed(&rng, seed);
    model_init_weights(m, &rng);
    /* larger weights than the init, so that the likeliest token changes from step to step */
    for (size_t i = 0; i < m->params.total; i++)
        m->params.data[i] += extra * rng_normal(&rng);
    return m;
}

static model_config transformer_config(const char *family, const char *pos, norm_kind norm,
                                       int vocab)
{
    model_config mc = {.kind = family_named(family), .vocab = vocab, .d_model = 16, .heads = 4,
                       .ffn = 24, .layers = 2, .context = 32, .norm = norm, .act = ACT_GELU,
                       .pos = scheme_named(pos)};
    if (strcmp(family, "gpt2") == 0)
        mc.act = ACT_GELU_TANH;
    return mc;
}

static model_config lstm_config(input_kind input, int vocab)
{
    model_config mc = {.kind = family_named("lstm"), .vocab = vocab, .d_model = 8, .hidden = 12,
                       .layers = 2, .context = 32, .head = HEAD_LM, .input = input};
    return mc;
}

/* Row sequences: seq[r][0..len) with the first start[r] columns padding. */
typedef struct {
    int B, len;
    int32_t start[MAXB];
    int32_t seq[MAXB][MAXT];
} rows;

static void random_prompts(rows *rs, int B, int P, int V, rng_state *rng)
{
    rs->B = B;
    rs->len = P;
    for (int r = 0; r < B; r++) {
        rs->start[r] = r % 3; /* left padding of 0, 1, 2 columns */
        for (int t = 0; t < P; t++)
            rs->seq[r][t] = (int32_t)rng_below(rng, (uint64_t)V);
    }
}

static void fill_batch(batch *b, const rows *rs)
{
    b->B = rs->B;
    b->T = rs->len;
    b->prompt_T = rs->len;
    for (int r = 0; r < rs->B; r++) {
        b->start[r] = rs->start[r];
        for (int t = 0; t < rs->len; t++) {
            b->tokens[r * rs->len + t] = rs->seq[r][t];
            b->targets[r * rs->len + t] = -1;
        }
    }
    batch_positions(b);
}

/* The full forward of `ref` (a copy of the decoding model, so that the decoding's state is
 * left alone) over every row's sequence: its logits at the last column against `got` (B, V). */
static void check_against_forward(model *ref, const rows *rs, const float *got, const char *what)
{
    const int V = ref->cfg.vocab;
    float *want = malloc((size_t)rs->B * V * sizeof(float));
    batch b;
    CHECK_OK(batch_alloc(&b, rs->B, rs->len));
    fill_batch(&b, rs);
    double loss = 0;
    int count = 0;
    CHECK_OK(model_forward(ref, &b, false, 0, &loss, &count));
    for (int r = 0; r < rs->B; r++)
        memcpy(want + (size_t)r * V, ref->logits + ((size_t)r * rs->len + rs->len - 1) * V,
               (size_t)V * sizeof(float));
    CHECK_CLOSE(what, got, want, (size_t)rs->B * V, 2e-5, 2e-4);
    batch_free(&b);
    free(want);
}

/* decode_begin, then decode_next with random tokens, each step's logits against the full
 * forward; with `plans`, the rows are reordered before every other step (and the sequences
 * the forward reads with them). */
static void check_decoding(const model_config *mc, const char *name, uint64_t seed, int B,
                           const int32_t *plans, int nplans)
{
    model *m = random_model(mc, seed, 0.3f), *ref = random_model(mc, seed, 0.3f);
    if (!m || !ref) {
        model_free(m);
        model_free(ref);
        return;
    }
    const int V = mc->vocab, P = 6;
    rng_state rng;
    rng_seed(&rng, seed + 1);
    rows rs;
    random_prompts(&rs, B, P, V, &rng);
    batch prompts;
    CHECK_OK(batch_alloc(&prompts, B, P));
    fill_batch(&prompts, &rs);
    const float *logits = NULL;
    char what[200];
    CHECK_OK(model_decode_begin(m, &prompts, &logits));
    snprintf(what, sizeof what, "%s: logits after the prompt", name);
    if (logits)
        check_against_forward(ref, &rs, logits, what);
    for (int step = 0; logits && step < 8; step++) {
        if (nplans && step % 2 == 1) {
            const int32_t *src = plans + (size_t)((step / 2) % nplans) * B;
            model_decode_reorder(m, src);
            rows old = rs;
            for (int r = 0; r < B; r++) {
                rs.start[r] = old.start[src[r]];
                memcpy(rs.seq[r], old.seq[src[r]], sizeof rs.seq[r]);
            }
        }
        int32_t tokens[MAXB];
        for (int r = 0; r < B; r++) {
            tokens[r] = (int32_t)rng_below(&rng, (uint64_t)V);
            rs.seq[r][rs.len] = tokens[r];
        }
        rs.len++;
        CHECK_OK(model_decode_next(m, tokens, &logits));
        snprintf(what, sizeof what, "%s: logits after %d decoded tokens%s", name, step + 1,
                 nplans ? " and reorders" : "");
        check_against_forward(ref, &rs, logits, what);
    }
    batch_free(&prompts);
    model_free(m);
    model_free(ref);
}

static void check_decoding_everywhere(const model_config *mc, const char *name, uint64_t seed)
{
    char what[160];
    check_decoding(mc, name, seed, 5, NULL, 0);
    /* a swap, repeats, a 3-cycle with a tail, a reversal, the identity */
    static const int32_t plans5[] = {1, 0, 2, 3, 4, /**/ 1, 1, 0, 4, 3, /**/ 2, 0, 1, 1, 4,
                                     /**/ 4, 3, 2, 1, 0, /**/ 0, 1, 2, 3, 4};
    snprintf(what, sizeof what, "%s, reordered", name);
    check_decoding(mc, what, seed + 10, 5, plans5, 5);
    /* two rows: {1, 0} then {1, 1} then {0, 0} */
    static const int32_t plans2[] = {1, 0, /**/ 1, 1, /**/ 0, 0};
    snprintf(what, sizeof what, "%s, two rows reordered", name);
    check_decoding(mc, what, seed + 20, 2, plans2, 3);
}

/* The summed log-probability of each hypothesis (up to and including its EOS) when the model
 * reads prompt + hypothesis: the teacher-forced score, by the full forward. */
static void teacher_forced_scores(model *m, const batch *prompts, int K, const int32_t *out,
                                  int max_new, int32_t eos, double *score)
{
    const int B = prompts->B, P = prompts->T, V = m->cfg.vocab, R = B * K, T = P + max_new;
    batch b;
    CHECK_OK(batch_alloc(&b, R, T));
    b.B = R;
    b.T = T;
    b.prompt_T = P;
    for (int r = 0; r < R; r++) {
        b.start[r] = prompts->start[r / K];
        for (int t = 0; t < T; t++) {
            b.tokens[(size_t)r * T + t] = t < P ? prompts->tokens[(size_t)(r / K) * P + t]
                                                : out[(size_t)r * max_new + t - P];
            b.targets[(size_t)r * T + t] = -1;
        }
    }
    batch_positions(&b);
    double loss = 0;
    int count = 0;
    CHECK_OK(model_forward(m, &b, false, 0, &loss, &count));
    for (int r = 0; r < R; r++) {
        double sum = 0;
        for (int i = 0; i < max_new; i++) {
            const float *x = m->logits + ((size_t)r * T + P - 1 + i) * V;
            double mx = x[0], z = 0;
            for (int v = 1; v < V; v++)
                mx = x[v] > mx ? x[v] : mx;
            for (int v = 0; v < V; v++)
                z += exp((double)x[v] - mx);
            int32_t tok = out[(size_t)r * max_new + i];
            sum += (double)x[tok] - mx - log(z);
            if (tok == eos)
                break;
        }
        score[r] = sum;
    }
    batch_free(&b);
}

/* K = 1 is greedy generation, token for token; larger K: sorted, distinct hypotheses, each
 * score its teacher-forced log-probability, EOS after each end, and a best score no worse than
 * greedy's on these models (beam search usually finds at least the greedy answer's
 * probability; it is not a theorem, so the seeds here are fixed). */
static void check_beam(const model_config *mc, const char *name, uint64_t seed, int32_t eos)
{
    model *m = random_model(mc, seed, 0.5f);
    if (!m)
        return;
    /* make EOS likely enough that hypotheses end at different lengths */
    const char *bias = mc->kind == family_named("lstm") ? "head.out.bias" : "head.bias";
    for (int i = 0; i < m->params.count; i++)
        if (strcmp(m->params.views[i].name, bias) == 0)
            m->params.data[m->params.views[i].offset + eos] += 1.5f;
    enum { B = 4, P = 5, NEW = 7, K = 4 };
    const int V = mc->vocab;
    rng_state rng;
    rng_seed(&rng, seed + 3);
    rows rs;
    random_prompts(&rs, B, P, V, &rng);
    batch prompts;
    CHECK_OK(batch_alloc(&prompts, B, P));
    fill_batch(&prompts, &rs);
    int32_t greedy[B * NEW], one[B * NEW], beams[B * K * NEW];
    float one_score[B], scores[B * K];
    double greedy_lp[B], beam_lp[B * K];
    CHECK_OK(model_generate(m, &prompts, NEW, eos, greedy));
    CHECK_OK(model_beam_search(m, &prompts, 1, NEW, eos, one, one_score));
    CHECK_MSG(memcmp(greedy, one, sizeof greedy) == 0, "%s: beam 1 differs from greedy", name);
    teacher_forced_scores(m, &prompts, 1, greedy, NEW, eos, greedy_lp);
    for (int b = 0; b < B; b++)
        CHECK_MSG(fabs(one_score[b] - greedy_lp[b]) <= 1e-4 * (1 + fabs(greedy_lp[b])),
                  "%s: beam 1 score %.6f, greedy log-probability %.6f", name, one_score[b],
                  greedy_lp[b]);

    CHECK_OK(model_beam_search(m, &prompts, K, NEW, eos, beams, scores));
    teacher_forced_scores(m, &prompts, K, beams, NEW, eos, beam_lp);
    int ended_early = 0;
    for (int b = 0; b < B; b++) {
        CHECK_MSG(scores[b * K] >= greedy_lp[b] - 1e-4, "%s prompt %d: best beam %.5f < greedy "
                  "%.5f", name, b, scores[b * K], greedy_lp[b]);
        for (int k = 0; k < K; k++) {
            const int r = b * K + k;
            const int32_t *h = beams + (size_t)r * NEW;
            CHECK_MSG(fabs(scores[r] - beam_lp[r]) <= 1e-4 * (1 + fabs(beam_lp[r])),
                      "%s prompt %d beam %d: score %.6f, teacher-forced %.6f", name, b, k,
                      scores[r], beam_lp[r]);
            if (k > 0)
                CHECK_MSG(scores[r] <= scores[r - 1], "%s prompt %d: beams out of order", name,
                          b);
            int end = 0;
            while (end < NEW && h[end] != eos)
                end++;
            ended_early += end < NEW - 1;
            for (int i = end; i < NEW; i++)
                CHECK_MSG(h[i] == eos, "%s prompt %d beam %d: token %d after EOS", name, b, k,
                          h[i]);
            for (int j = 0; j < k; j++)
                CHECK_MSG(memcmp(h, beams + (size_t)(b * K + j) * NEW, NEW * sizeof *h) != 0,
                          "%s prompt %d: beams %d and %d are the same", name, b, j, k);
        }
    }
    CHECK_MSG(ended_early > 0, "%s: no hypothesis ended before the limit; the test needs some",
              name);
    batch_free(&prompts);
    model_free(m);
}

/* With K at least the number of possible hypotheses, beam search keeps them all: its list is
 * every sequence (ending at EOS, or running max_new tokens) sorted by log-probability, which
 * brute force computes by the full forward. V = 4, 3 new tokens: 1 + 3 + 9 + 27 = 40. */
static void check_exhaustive(const model_config *mc, const char *name, uint64_t seed)
{
    model *m = random_model(mc, seed, 0.5f);
    if (!m)
        return;
    enum { P = 4, NEW = 3, K = 40, N = 40 };
    const int32_t eos = 3;
    rng_state rng;
    rng_seed(&rng, seed + 5);
    rows rs;
    random_prompts(&rs, 1, P, mc->vocab, &rng);
    rs.start[0] = 1;
    batch prompts;
    CHECK_OK(batch_alloc(&prompts, 1, P));
    fill_batch(&prompts, &rs);
    int32_t beams[K * NEW], all[N * NEW];
    float scores[K];
    CHECK_OK(model_beam_search(m, &prompts, K, NEW, eos, beams, scores));
    /* every hypothesis: len - 1 tokens of 0..2 then EOS (len 1..3), or three tokens of 0..2 */
    int n = 0;
    for (int len = 1; len <= NEW; len++) {
        int count = 1;
        for (int i = 1; i < len; i++)
            count *= 3;
        for (int c = 0; c < count; c++) {
            int x = c;
            for (int i = 0; i < NEW; i++)
                all[n * NEW + i] = eos;
            for (int i = 0; i < len - 1; i++, x /= 3)
                all[n * NEW + i] = x % 3;
            n++;
        }
    }
    for (int c = 0; c < 27; c++, n++)
        for (int i = 0, x = c; i < NEW; i++, x /= 3)
            all[n * NEW + i] = x % 3;
    CHECK_EQ_INT(n, N);
    double lp[N];
    teacher_forced_scores(m, &prompts, N, all, NEW, eos, lp);
    /* every beam is one of them, with its score; the scores are the sorted brute force ones */
    double sorted[N];
    memcpy(sorted, lp, sizeof sorted);
    for (int i = 1; i < N; i++)
        for (int j = i; j > 0 && sorted[j] > sorted[j - 1]; j--) {
            double t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    int unmatched = 0;
    for (int k = 0; k < K; k++) {
        CHECK_MSG(fabs(scores[k] - sorted[k]) <= 1e-4 * (1 + fabs(sorted[k])),
                  "%s: beam %d score %.6f, brute force %.6f", name, k, scores[k], sorted[k]);
        int found = -1;
        for (int a = 0; a < N && found < 0; a++)
            if (memcmp(beams + k * NEW, all + a * NEW, NEW * sizeof(int32_t)) == 0)
                found = a;
        unmatched += found < 0 || fabs(lp[found] - scores[k]) > 1e-4 * (1 + fabs(lp[found]));
    }
    CHECK_MSG(unmatched == 0, "%s: %d beams are not hypotheses with their score", name,
              unmatched);
    batch_free(&prompts);
    model_free(m);
}

/* More beams than the vocabulary allows at first: the extra rows hold EOS with score -inf. */
static void check_few_hypotheses(void)
{
    model_config mc = transformer_config("transformer", "rope", NORM_PRE, 3);
    model *m = random_model(&mc, 77, 0.5f);
    if (!m)
        return;
    batch prompts;
    CHECK_OK(batch_alloc(&prompts, 2, 3));
    rows rs;
    rng_state rng;
    rng_seed(&rng, 78);
    random_prompts(&rs, 2, 3, 3, &rng);
    fill_batch(&prompts, &rs);
    int32_t out[2 * 5 * 1];
    float scores[2 * 5];
    /* one new token, vocabulary 3: three hypotheses per prompt */
    CHECK_OK(model_beam_search(m, &prompts, 5, 1, 2, out, scores));
    for (int b = 0; b < 2; b++) {
        for (int k = 0; k < 3; k++)
            CHECK(scores[b * 5 + k] > -INFINITY);
        for (int k = 3; k < 5; k++)
            CHECK(scores[b * 5 + k] == -INFINITY && out[b * 5 + k] == 2);
    }
    batch_free(&prompts);
    model_free(m);
}

/* Models without token-by-token decoding are refused with a message. */
static void check_refused(void)
{
    model_config s2s = {.kind = family_named("seq2seq"), .vocab = 6, .d_model = 4, .hidden = 4,
                        .layers = 1, .context = 8, .answer_len = 3, .input = INPUT_EMBED};
    model_config reg = lstm_config(INPUT_ONEHOT, 4);
    reg.head = HEAD_REGRESSION;
    const model_config *cfgs[] = {&s2s, &reg};
    for (int i = 0; i < 2; i++) {
        model *m = random_model(cfgs[i], 3, 0.0f);
        if (!m)
            continue;
        CHECK(!model_can_decode(m));
        batch prompts;
        CHECK_OK(batch_alloc(&prompts, 1, 2));
        prompts.B = 1;
        prompts.T = 2;
        prompts.tokens[0] = prompts.tokens[1] = 1;
        prompts.start[0] = 0;
        batch_positions(&prompts);
        int32_t out[2 * 3];
        float scores[2];
        arith_status st = model_beam_search(m, &prompts, 2, 3, 0, out, scores);
        CHECK_MSG(st == ARITH_ERR_ARG && strstr(arith_error_message(), "beam search"),
                  "model %d: %s", i, arith_error_message());
        const float *logits = NULL;
        CHECK(model_decode_begin(m, &prompts, &logits) != ARITH_OK);
        batch_free(&prompts);
        model_free(m);
    }
}

int main(void)
{
    char name[96];
    const char *const poss[] = {"none", "sinusoidal", "learned", "rope"};
    for (int p = 0; p < 4; p++)
        for (int n = 0; n < 2; n++) {
            model_config mc = transformer_config("transformer", poss[p], (norm_kind)n, 11);
            snprintf(name, sizeof name, "transformer pos %s norm %s", poss[p],
                     norm_kind_name((norm_kind)n));
            check_decoding_everywhere(&mc, name, 100 + (uint64_t)(p * 2 + n));
        }
    for (int tie = 0; tie < 2; tie++) {
        model_config mc = transformer_config("gpt2", "learned", NORM_PRE, 11);
        mc.tie = tie;
        snprintf(name, sizeof name, "gpt2%s", tie ? " tied" : "");
        check_decoding_everywhere(&mc, name, 200 + (uint64_t)tie);
    }
    for (int in = 0; in < 2; in++) {
        model_config mc = lstm_config((input_kind)in, 11);
        snprintf(name, sizeof name, "lstm input %s", input_kind_name((input_kind)in));
        check_decoding_everywhere(&mc, name, 300 + (uint64_t)in);
    }

    for (int seed = 0; seed < 3; seed++) {
        model_config mc = transformer_config("transformer", "rope", NORM_POST, 12);
        snprintf(name, sizeof name, "transformer beam, seed %d", seed);
        check_beam(&mc, name, 400 + (uint64_t)seed, 11);
        mc = transformer_config("transformer", "learned", NORM_PRE, 12);
        snprintf(name, sizeof name, "transformer (learned, pre) beam, seed %d", seed);
        check_beam(&mc, name, 410 + (uint64_t)seed, 11);
        /* a bias on pairs of ids, read from the ids kept for the cached (reordered) columns */
        mc = transformer_config("transformer", "coupling-rel", NORM_PRE, 12);
        snprintf(name, sizeof name, "transformer (coupling-rel) beam, seed %d", seed);
        check_beam(&mc, name, 430 + (uint64_t)seed, 11);
        mc = lstm_config(INPUT_EMBED, 12);
        snprintf(name, sizeof name, "lstm beam, seed %d", seed);
        check_beam(&mc, name, 420 + (uint64_t)seed, 11);
    }
    model_config mc = transformer_config("transformer", "rope", NORM_PRE, 4);
    check_exhaustive(&mc, "transformer exhaustive", 500);
    mc = lstm_config(INPUT_ONEHOT, 4);
    check_exhaustive(&mc, "lstm exhaustive", 501);
    check_few_hypotheses();
    check_refused();
    return check_summary("test_beam");
}
