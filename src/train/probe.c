/* Linear probes of a model's hidden states (arith probe): where in the network a fact about
 * the answer, the carry into a column or the column's digit, can be read off by a linear
 * classifier. Fresh examples of the run's task are read teacher-forced through the model; at
 * the column whose output predicts answer digit i, every layer's hidden state is kept; a
 * multinomial logistic regression per (layer, digit) is fit on one part of the examples and
 * scored on the other, beside the majority class's score (what a probe reaches by knowing
 * nothing: carries are far from balanced).
 *
 * The regression is plain and deterministic: features standardized by the training rows'
 * mean and standard deviation, softmax cross-entropy plus an L2 penalty on the weights (not
 * the biases), minimized by L-BFGS with a backtracking line search. The two products per
 * evaluation are the backend's, on one thread (mat_mul_serial), so the result is the same
 * whatever --threads says. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/train.h"

/* ------------------------------------------------------------------------------ regression */

enum { LBFGS_MEMORY = 10, LBFGS_MAX_ITER = 400, LINE_SEARCH_MAX = 40 };

/* The objective on standardized rows xs (n, d+1), the last column 1 (the bias): mean
 * cross-entropy + l2/2 |w|^2 over the weights, its gradient into g (K*(d+1)). */
typedef struct {
    const float *xs;
    const int32_t *y;
    int n, d1, K;
    double l2;
    float *wf, *gf;   /* (K, d1) */
    float *z;         /* (n, K) logits, then the residuals p - onehot(y), over n */
    double *lsm;      /* (K) */
} objective;

static double objective_eval(objective *o, const double *w, double *g)
{
    const int n = o->n, d1 = o->d1, K = o->K;
    const size_t P = (size_t)K * d1;
    for (size_t k = 0; k < P; k++)
        o->wf[k] = (float)w[k];
    mat_mul_serial(o->z, o->xs, o->wf, n, K, d1, false, true, 1.0f, 0.0f);
    double loss = 0;
    for (int i = 0; i < n; i++) {
        float *z = o->z + (size_t)i * K;
        log_softmax_row(o->lsm, z, K);
        loss -= o->lsm[o->y[i]];
        for (int k = 0; k < K; k++)
            z[k] = (float)((exp(o->lsm[k]) - (k == o->y[i])) / n);
    }
    mat_mul_serial(o->gf, o->z, o->xs, K, d1, n, true, false, 1.0f, 0.0f);
    double penalty = 0;
    for (int k = 0; k < K; k++)
        for (int j = 0; j < d1; j++) {
            const size_t at = (size_t)k * d1 + j;
            const double reg = j < d1 - 1 ? o->l2 : 0.0; /* the bias is not penalized */
            g[at] = o->gf[at] + reg * w[at];
            penalty += reg * w[at] * w[at];
        }
    return loss / n + 0.5 * penalty;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* L-BFGS (Nocedal and Wright, algorithm 7.4) from w = 0. Stops when the largest gradient entry
 * is below 1e-6, when an iteration lowers the objective by less than 1e-12 relative, when no
 * step along the direction lowers it (the float products' resolution), or after
 * LBFGS_MAX_ITER iterations. */
static arith_status lbfgs(objective *o, double *w, int *iterations, double *final)
{
    const size_t P = (size_t)o->K * o->d1, M = LBFGS_MEMORY;
    double *buf = calloc(P * (4 + 2 * M) + M * 2, sizeof(double));
    if (!buf)
        return arith_error(ARITH_ERR_MEMORY, "out of memory fitting a probe");
    double *g = buf, *dir = g + P, *wn = dir + P, *gn = wn + P, *S = gn + P, *Y = S + P * M,
           *rho = Y + P * M, *alpha = rho + M;
    memset(w, 0, P * sizeof *w);
    double f = objective_eval(o, w, g);
    int stored = 0, newest = -1, it = 0;
    for (; it < LBFGS_MAX_ITER; it++) {
        double gmax = 0;
        for (size_t k = 0; k < P; k++)
            gmax = fmax(gmax, fabs(g[k]));
        if (gmax < 1e-6)
            break;
        /* two-loop recursion: dir = -H g */
        for (size_t k = 0; k < P; k++)
            dir[k] = -g[k];
        for (int m = 0; m < stored; m++) {
            const int j = (newest - m + (int)M) % (int)M;
            alpha[j] = rho[j] * dot(S + j * P, dir, P);
            for (size_t k = 0; k < P; k++)
                dir[k] -= alpha[j] * Y[j * P + k];
        }
        if (stored > 0) {
            const double *sn = S + newest * P, *yn = Y + newest * P;
            const double gamma = dot(sn, yn, P) / dot(yn, yn, P);
            for (size_t k = 0; k < P; k++)
                dir[k] *= gamma;
        }
        for (int m = stored - 1; m >= 0; m--) {
            const int j = (newest - m + (int)M) % (int)M;
            const double beta = rho[j] * dot(Y + j * P, dir, P);
            for (size_t k = 0; k < P; k++)
                dir[k] += (alpha[j] - beta) * S[j * P + k];
        }
        double slope = dot(g, dir, P);
        if (!(slope < 0)) { /* not a descent direction: start again from the gradient */
            stored = 0;
            for (size_t k = 0; k < P; k++)
                dir[k] = -g[k];
            slope = -dot(g, g, P);
        }
        /* the first step is scaled to the gradient; later ones try the full quasi-Newton step */
        double t = stored == 0 ? fmin(1.0, 1.0 / sqrt(-slope)) : 1.0, fn = f;
        bool moved = false;
        for (int ls = 0; ls < LINE_SEARCH_MAX; ls++, t *= 0.5) {
            for (size_t k = 0; k < P; k++)
                wn[k] = w[k] + t * dir[k];
            fn = objective_eval(o, wn, gn);
            if (fn <= f + 1e-4 * t * slope) {
                moved = true;
                break;
            }
        }
        if (!moved)
            break;
        newest = (newest + 1) % (int)M;
        double *s = S + newest * P, *y = Y + newest * P;
        for (size_t k = 0; k < P; k++) {
            s[k] = wn[k] - w[k];
            y[k] = gn[k] - g[k];
        }
        const double sy = dot(s, y, P);
        if (sy > 1e-12) {
            rho[newest] = 1.0 / sy;
            if (stored < (int)M)
                stored++;
        } else { /* curvature too small to keep: forget this pair */
            newest = (newest - 1 + (int)M) % (int)M;
        }
        const double drop = f - fn;
        memcpy(w, wn, P * sizeof *w);
        memcpy(g, gn, P * sizeof *g);
        f = fn;
        if (drop <= 1e-12 * fmax(1.0, fabs(f))) {
            it++;
            break;
        }
    }
    *iterations = it;
    *final = f;
    free(buf);
    return ARITH_OK;
}

void probe_free(probe_model *p)
{
    free(p->w);
    free(p->mean);
    free(p->inv_std);
    memset(p, 0, sizeof *p);
}

arith_status probe_fit(probe_model *p, const float *x, const int32_t *y, int n, int d, int K,
                       double l2)
{
    memset(p, 0, sizeof *p);
    if (n < 1 || d < 1 || K < 2 || !(l2 >= 0))
        return arith_error(ARITH_ERR_ARG, "probe_fit: %d rows of %d features, %d classes, l2 %g",
                           n, d, K, l2);
    for (int i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= K)
            return arith_error(ARITH_ERR_ARG, "probe_fit: row %d has class %d of %d", i, y[i], K);
    const int d1 = d + 1;
    const size_t P = (size_t)K * d1;
    p->d = d;
    p->K = K;
    p->w = malloc(P * sizeof *p->w);
    p->mean = malloc((size_t)d * sizeof *p->mean);
    p->inv_std = malloc((size_t)d * sizeof *p->inv_std);
    float *xs = malloc((size_t)n * d1 * sizeof *xs);
    float *wf = malloc(P * sizeof *wf), *gf = malloc(P * sizeof *gf);
    float *z = malloc((size_t)n * K * sizeof *z);
    double *lsm = malloc((size_t)K * sizeof *lsm), *w = malloc(P * sizeof *w);
    arith_status st = ARITH_OK;
    if (!p->w || !p->mean || !p->inv_std || !xs || !wf || !gf || !z || !lsm || !w)
        st = arith_error(ARITH_ERR_MEMORY, "out of memory fitting a probe of %d rows x %d", n, d);
    if (!st) {
        /* each feature standardized by the training rows; a constant one becomes 0 */
        for (int j = 0; j < d; j++) {
            double s = 0, ss = 0;
            for (int i = 0; i < n; i++)
                s += x[(size_t)i * d + j];
            const double mean = s / n;
            for (int i = 0; i < n; i++) {
                const double v = x[(size_t)i * d + j] - mean;
                ss += v * v;
            }
            const double sd = sqrt(ss / n);
            p->mean[j] = (float)mean;
            p->inv_std[j] = sd > 1e-6 * (1.0 + fabs(mean)) ? (float)(1.0 / sd) : 0.0f;
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++)
                xs[(size_t)i * d1 + j] = (x[(size_t)i * d + j] - p->mean[j]) * p->inv_std[j];
            xs[(size_t)i * d1 + d] = 1.0f;
        }
        objective o = {xs, y, n, d1, K, l2, wf, gf, z, lsm};
        st = lbfgs(&o, w, &p->iterations, &p->loss);
    }
    if (!st)
        for (size_t k = 0; k < P; k++)
            p->w[k] = (float)w[k];
    free(xs);
    free(wf);
    free(gf);
    free(z);
    free(lsm);
    free(w);
    if (st)
        probe_free(p);
    return st;
}

int32_t probe_predict(const probe_model *p, const float *x)
{
    const int d = p->d, d1 = d + 1;
    int32_t best = 0;
    double best_z = -INFINITY;
    for (int k = 0; k < p->K; k++) {
        const float *w = p->w + (size_t)k * d1;
        double z = w[d];
        for (int j = 0; j < d; j++)
            z += (double)w[j] * ((x[j] - p->mean[j]) * p->inv_std[j]);
        if (z > best_z) {
            best_z = z;
            best = k;
        }
    }
    return best;
}

int probe_correct(const probe_model *p, const float *x, const int32_t *y, int n)
{
    int right = 0;
    for (int i = 0; i < n; i++)
        right += probe_predict(p, x + (size_t)i * p->d) == y[i];
    return right;
}

/* --------------------------------------------------------------------------------- targets */

static const char *const target_names[] = {"carry", "carry-out", "sum-digit"};
static const char *const target_summaries[] = {
    ("the carry into answer digit i (column i-1's digits and carry summed to 10 or more), 2 "
     "classes"),
    "the carry out of answer digit i's column (into digit i+1), 2 classes",
    "answer digit i itself, 10 classes",
};

const char *probe_target_name(int k)
{
    return k >= 0 && k < PROBE_TARGETS ? target_names[k] : NULL;
}

const char *probe_target_summary(int k)
{
    return k >= 0 && k < PROBE_TARGETS ? target_summaries[k] : NULL;
}

int probe_target_classes(probe_target t)
{
    return t == PROBE_SUM_DIGIT ? 10 : 2;
}

static bool has_columns(const task_def *def)
{
    return def->answer_columns != NULL;
}

/* ------------------------------------------------------------------------------ collection */

/* What the collection fills: for every probed layer and answer column, a row of features per
 * example (its hidden state at the column that predicts that digit), a label, and whether the
 * example has that digit in its answer at all. */
typedef struct {
    int nl, P, total;
    const int *layer;
    int *dim;                  /* (nl) */
    float **feat;              /* nl x (P, total, dim[l]) */
    int32_t *label;            /* (total, P) */
    uint8_t *have;             /* (total, P) */
} probe_data;

/* The label of column i for a target, from the task's columns (beyond them: a leading zero's
 * column, digit 0 and no carry). */
static int32_t label_of(probe_target t, const int8_t *digit, const int8_t *carry, int ncol, int i)
{
    switch (t) {
    case PROBE_CARRY:
        return i < ncol ? carry[i] : 0;
    case PROBE_CARRY_OUT:
        return i + 1 < ncol ? carry[i + 1] : 0;
    default:
        return i < ncol ? digit[i] : 0;
    }
}

/* Reads examples [0, enc->count) of `set` through the model in batches, into rows row0.. of
 * data. */
static arith_status collect(session *s, const example_set *set, const encoded_set *enc,
                            int row0, probe_target target, int batch_rows, probe_data *data)
{
    model *m = s->model;
    const int P = data->P, T = enc->max_prompt + enc->max_answer;
    batch b = {0};
    int32_t *idx = malloc((size_t)batch_rows * sizeof *idx);
    int *col = malloc((size_t)batch_rows * P * sizeof *col); /* answer token per column */
    int8_t *digit = malloc((size_t)P), *carry = malloc((size_t)P);
    arith_status st = ARITH_OK;
    if (!idx || !col || !digit || !carry)
        st = arith_error(ARITH_ERR_MEMORY, "out of memory for the probe's batches");
    if (!st)
        st = batch_alloc(&b, batch_rows, T);
    if (!st)
        st = model_reserve(m, batch_rows, T);
    for (int first = 0; !st && first < enc->count; first += batch_rows) {
        const int n = enc->count - first < batch_rows ? enc->count - first : batch_rows;
        for (int r = 0; r < n; r++)
            idx[r] = first + r;
        /* each column's answer token: the digit tokens of the answer (hints, signs, spaces and
         * EOS are not digits: ids 0-9 are the digits in every tokenizer), least significant
         * first when the answer is written reversed */
        for (int r = 0; r < n && !st; r++) {
            const int e = first + r, row = row0 + e;
            const int ncol = task_answer_columns(&s->task, set->items[e].prompt, P, digit, carry);
            if (ncol < 0) {
                st = arith_error(ARITH_ERR_STATE, "\"%s\": the task cannot read its own prompt",
                                 set->items[e].prompt);
                break;
            }
            const int32_t *ans = enc->ids + enc->answer_off[e];
            int ndig = 0;
            for (int j = 0; j < enc->answer_len[e]; j++)
                ndig += ans[j] >= 0 && ans[j] < 10;
            for (int i = 0; i < P; i++)
                col[r * P + i] = -1;
            for (int j = 0, k = 0; j < enc->answer_len[e]; j++) {
                if (ans[j] < 0 || ans[j] >= 10)
                    continue;
                const int sig = enc->ans_reversed ? k : ndig - 1 - k;
                k++;
                if (sig >= P)
                    continue;
                col[r * P + sig] = j;
                const int32_t want = label_of(PROBE_SUM_DIGIT, digit, carry, ncol, sig);
                if (ans[j] != want)
                    st = arith_error(ARITH_ERR_STATE, "\"%s\": answer digit %d is %d as "
                                     "tokenized, %d by the task's columns", set->items[e].prompt,
                                     sig, ans[j], want);
            }
            for (int i = 0; i < P; i++)
                data->label[(size_t)row * P + i] = label_of(target, digit, carry, ncol, i);
        }
        if (!st)
            st = batch_fill_train(&b, enc, idx, n, s->tok.pad_id);
        double loss = 0;
        int count = 0;
        if (!st)
            st = model_forward(m, &b, false, 0, &loss, &count);
        for (int l = 0; !st && l < data->nl; l++) {
            hidden_view v;
            if (!m->ops->hidden(m, data->layer[l], &v)) {
                st = arith_error(ARITH_ERR_STATE, "no hidden states of layer %d after a forward",
                                 data->layer[l]);
                break;
            }
            if (v.dim != data->dim[l]) {
                st = arith_error(ARITH_ERR_STATE, "layer %d's hidden states are %d wide, then %d",
                                 data->layer[l], data->dim[l], v.dim);
                break;
            }
            for (int r = 0; r < n; r++)
                for (int i = 0; i < P; i++) {
                    const size_t row = (size_t)row0 + first + r;
                    const int j = col[r * P + i];
                    /* answer token j is predicted at the column before it */
                    const int t = b.prompt_T - 1 + j;
                    const bool in = j >= 0 && t >= v.t_first && t < v.t_first + v.t_count;
                    data->have[row * P + i] = in;
                    if (!in)
                        continue;
                    const float *h = v.data + (size_t)r * v.b_stride +
                                     (size_t)(t - v.t_first) * v.t_stride;
                    float *dst = data->feat[l] + ((size_t)i * data->total + row) * v.dim;
                    memcpy(dst, h, (size_t)v.dim * sizeof *dst);
                }
        }
    }
    batch_free(&b);
    free(idx);
    free(col);
    free(digit);
    free(carry);
    return st;
}

/* ------------------------------------------------------------------------------------ run */

void probe_result_free(probe_result *r)
{
    free(r->layer);
    free(r->dim);
    free(r->accuracy);
    free(r->baseline);
    free(r->train_at);
    free(r->test_at);
    memset(r, 0, sizeof *r);
}

/* The rows of examples [lo, hi) that have answer column i, as features x (n, dim[l]) and
 * labels y; returns n. */
static int gather(const probe_data *data, int l, int i, int lo, int hi, float *x, int32_t *y)
{
    const int P = data->P, d = data->dim[l];
    const float *feat = data->feat[l] + (size_t)i * data->total * d;
    int n = 0;
    for (int e = lo; e < hi; e++)
        if (data->have[(size_t)e * P + i]) {
            memcpy(x + (size_t)n * d, feat + (size_t)e * d, (size_t)d * sizeof *x);
            y[n++] = data->label[(size_t)e * P + i];
        }
    return n;
}

/* Fits the probe of layer l (of those probed), answer column i, on the first n_train
 * examples and scores it on the rest; with l == 0 also the column's counts and majority
 * baseline. */
static arith_status fit_one(const probe_data *data, int l, int i, int n_train, int classes,
                            double l2, probe_result *out)
{
    const int P = data->P, d = data->dim[l];
    float *x = malloc((size_t)data->total * d * sizeof *x);
    int32_t *y = malloc((size_t)data->total * sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        return arith_error(ARITH_ERR_MEMORY, "out of memory fitting a probe");
    }
    /* the held-out rows after the training rows, in one buffer */
    const int ntr = gather(data, l, i, 0, n_train, x, y);
    const int nte = gather(data, l, i, n_train, data->total, x + (size_t)ntr * d, y + ntr);
    int counts[10] = {0}, majority = 0, present = 0;
    for (int r = 0; r < ntr; r++)
        counts[y[r]]++;
    for (int k = 0; k < classes; k++) {
        present += counts[k] > 0;
        if (counts[k] > counts[majority])
            majority = k;
    }
    if (l == 0) {
        int right = 0;
        for (int r = ntr; r < ntr + nte; r++)
            right += y[r] == majority;
        out->train_at[i] = ntr;
        out->test_at[i] = nte;
        out->baseline[i] = ntr && nte ? (double)right / nte : NAN;
    }
    /* NaN where nothing can be decoded: one class among the training rows (the carry into the
     * units is always 0), or no rows */
    double *acc = &out->accuracy[(size_t)l * P + i];
    *acc = NAN;
    arith_status st = ARITH_OK;
    if (present >= 2 && nte > 0) {
        probe_model fit;
        st = probe_fit(&fit, x, y, ntr, d, classes, l2);
        if (!st)
            *acc = (double)probe_correct(&fit, x + (size_t)ntr * d, y + ntr, nte) / nte;
        probe_free(&fit);
    }
    free(x);
    free(y);
    return st;
}

arith_status probe_run(session *s, const probe_settings *ps, probe_result *out)
{
    memset(out, 0, sizeof *out);
    model *m = s->model;
    const int L = m->cfg.layers;
    char names[128];
    if (!task_has_columns(&s->task)) {
        task_names(names, sizeof names, has_columns);
        return arith_error(ARITH_ERR_ARG, "--target %s probes the answer's columns of task %s; "
                           "this run's task is %s", probe_target_name((int)ps->target), names,
                           s->task.def->name);
    }
    if (!m->ops->hidden)
        return arith_error(ARITH_ERR_ARG, "a %s model does not expose its hidden states",
                           model_kind_name(m->cfg.kind));
    if (m->cfg.head != HEAD_LM)
        return arith_error(ARITH_ERR_ARG, "a model with a regression head writes no answer "
                           "digits, so there is no column to probe (--head lm has them)");
    if (ps->layer < -1 || ps->layer > L)
        return arith_error(ARITH_ERR_ARG, "--layer %d: this model's layers are 0..%d (0: the "
                           "input of the first layer, %d: the output of the last)", ps->layer, L,
                           L);
    if (ps->n < 10 || !(ps->test_frac > 0 && ps->test_frac < 1))
        return arith_error(ARITH_ERR_ARG, "--n %d with --test-frac %g: a probe needs at least "
                           "10 examples and a held-out share between 0 and 1", ps->n,
                           ps->test_frac);
    const int n_test = (int)lround(ps->n * ps->test_frac), n_train = ps->n - n_test;
    if (n_test < 1 || n_train < 1)
        return arith_error(ARITH_ERR_ARG, "--n %d with --test-frac %g leaves %d examples to fit "
                           "and %d to score; both need at least one", ps->n, ps->test_frac,
                           n_train, n_test);
    const uint64_t space = s->task.def->space(&s->task);
    if ((uint64_t)ps->n > space)
        return arith_error(ARITH_ERR_ARG, "--n %d: this run's task has only %llu distinct "
                           "prompts; --n %llu at most", ps->n, (unsigned long long)space,
                           (unsigned long long)space);
    const int P = task_max_answer_chars(&s->task);
    out->target = ps->target;
    out->classes = probe_target_classes(ps->target);
    out->nl = ps->layer < 0 ? L + 1 : 1;
    out->P = P;
    out->n_train = n_train;
    out->n_test = n_test;
    out->layer = malloc((size_t)out->nl * sizeof *out->layer);
    out->dim = calloc((size_t)out->nl, sizeof *out->dim);
    out->accuracy = malloc((size_t)out->nl * P * sizeof *out->accuracy);
    out->baseline = malloc((size_t)P * sizeof *out->baseline);
    out->train_at = calloc((size_t)P, sizeof *out->train_at);
    out->test_at = calloc((size_t)P, sizeof *out->test_at);
    example_set train, test;
    examples_init(&train);
    examples_init(&test);
    encoded_set enc_train, enc_test;
    memset(&enc_train, 0, sizeof enc_train);
    memset(&enc_test, 0, sizeof enc_test);
    probe_data data = {out->nl, P, ps->n, out->layer, out->dim, NULL, NULL, NULL};
    arith_status st = ARITH_OK;
    if (!out->layer || !out->dim || !out->accuracy || !out->baseline || !out->train_at ||
        !out->test_at)
        st = arith_error(ARITH_ERR_MEMORY, "out of memory for the probe's results");
    for (int l = 0; !st && l < out->nl; l++)
        out->layer[l] = ps->layer < 0 ? l : ps->layer;
    /* fresh examples, distinct, the first n_train to fit and the rest to score */
    if (!st && (st = dataset_generate(&train, &test, &s->task, n_train, n_test,
                                      (uint64_t)ps->seed, NULL)) != ARITH_OK)
        arith_error_wrap(st, "--n %d: ", ps->n);
    if (!st)
        st = encoded_build(&enc_train, &train, &s->tok, "the probe's examples");
    if (!st)
        st = encoded_build(&enc_test, &test, &s->tok, "the probe's held-out examples");
    /* every layer's width, from one forward of a single example */
    if (!st) {
        int32_t one = 0;
        batch b = {0};
        double loss;
        int count;
        st = batch_alloc(&b, 1, enc_train.max_prompt + enc_train.max_answer);
        if (!st)
            st = batch_fill_train(&b, &enc_train, &one, 1, s->tok.pad_id);
        if (!st)
            st = model_forward(m, &b, false, 0, &loss, &count);
        for (int l = 0; !st && l < out->nl; l++) {
            hidden_view v;
            if (!m->ops->hidden(m, out->layer[l], &v))
                st = arith_error(ARITH_ERR_STATE, "no hidden states of layer %d", out->layer[l]);
            else
                out->dim[l] = v.dim;
        }
        batch_free(&b);
    }
    double bytes = 0;
    for (int l = 0; !st && l < out->nl; l++)
        bytes += (double)P * ps->n * out->dim[l] * sizeof(float);
    if (!st && bytes > 4.0 * (1 << 30))
        st = arith_error(ARITH_ERR_ARG, "--n %d: the hidden states of %d layer%s at %d answer "
                         "digits would take %.1f GiB; at most 4\nhint: fewer examples (--n) or "
                         "one layer (--layer L)", ps->n, out->nl, out->nl == 1 ? "" : "s", P,
                         bytes / (1 << 30));
    if (!st) {
        data.feat = calloc((size_t)out->nl, sizeof *data.feat);
        data.label = calloc((size_t)ps->n * P, sizeof *data.label);
        data.have = calloc((size_t)ps->n * P, sizeof *data.have);
        if (!data.feat || !data.label || !data.have)
            st = arith_error(ARITH_ERR_MEMORY, "out of memory for the probe's examples");
        for (int l = 0; !st && l < out->nl; l++)
            if (!(data.feat[l] = malloc((size_t)P * ps->n * out->dim[l] * sizeof(float))))
                st = arith_error(ARITH_ERR_MEMORY, "out of memory for %.1f GiB of hidden "
                                 "states\nhint: fewer examples (--n) or one layer (--layer L)",
                                 bytes / (1 << 30));
    }
    const int rows = ps->batch > 0 ? ps->batch : 128;
    if (!st)
        st = collect(s, &train, &enc_train, 0, ps->target, rows, &data);
    if (!st)
        st = collect(s, &test, &enc_test, n_train, ps->target, rows, &data);
    for (int l = 0; !st && l < out->nl; l++)
        for (int i = 0; !st && i < P; i++)
            st = fit_one(&data, l, i, n_train, out->classes, ps->l2, out);
    for (int l = 0; data.feat && l < out->nl; l++)
        free(data.feat[l]);
    free(data.feat);
    free(data.label);
    free(data.have);
    encoded_free(&enc_train);
    encoded_free(&enc_test);
    examples_free(&train);
    examples_free(&test);
    if (st)
        probe_result_free(out);
    return st;
}
