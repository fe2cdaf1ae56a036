/* What every model family shares: the names of the config's choices, checks and creation
 * through the family registry, the parameter declaration helper (each parameter with its
 * init), initialization by those inits, row moves for the decode ops, and freeing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"

/* ---------------------------------------------------------------------------- config names */

/* The name of kind k, NULL past the last. */
#define NAME_AT(names, k)                                                                      \
    ((int)(k) >= 0 && (int)(k) < (int)(sizeof names / sizeof *names) ? names[k] : NULL)

static const char *const norm_names[] = {"post", "pre"};
static const char *const act_names[] = {"relu", "gelu", "gelu_tanh"};
static const char *const head_names[] = {"lm", "regression"};
static const char *const input_names[] = {"embed", "onehot"};
static const char *const readout_names[] = {"hidden", "cell"};

const char *model_kind_name(model_kind k)
{
    const model_family *f = model_family_at(k);
    return f ? f->name : NULL;
}
const char *pos_kind_name(pos_kind k)
{
    const pos_scheme *s = pos_scheme_at(k);
    return s ? s->name : NULL;
}
const char *model_kind_summary(model_kind k)
{
    const model_family *f = model_family_at(k);
    return f ? f->summary : NULL;
}
const char *pos_kind_summary(pos_kind k)
{
    const pos_scheme *s = pos_scheme_at(k);
    return s ? s->summary : NULL;
}
const char *norm_kind_name(norm_kind k) { return NAME_AT(norm_names, k); }
const char *act_kind_name(act_kind k) { return NAME_AT(act_names, k); }
const char *head_kind_name(head_kind k) { return NAME_AT(head_names, k); }
const char *input_kind_name(input_kind k) { return NAME_AT(input_names, k); }
const char *readout_kind_name(readout_kind k) { return NAME_AT(readout_names, k); }

/* The index of `name` among name_at(0), name_at(1), ... (NULL ends them); an unknown name is
 * an error naming the flag and the valid choices. */
static arith_status parse_choice(int *out, const char *name, const char *flag,
                                 const char *(*name_at)(int))
{
    for (int i = 0; name_at(i); i++)
        if (strcmp(name, name_at(i)) == 0) {
            *out = i;
            return ARITH_OK;
        }
    char valid[256] = "";
    size_t len = 0;
    for (int i = 0; name_at(i) && len < sizeof valid; i++)
        len += (size_t)snprintf(valid + len, sizeof valid - len, "%s%s", i ? ", " : "",
                                name_at(i));
    return arith_error(ARITH_ERR_ARG, "%s: unknown value '%s' (valid: %s)", flag, name, valid);
}

#define PARSE_ENUM(fn, type, name_at, flag)                                                   \
    static const char *fn##_at(int i) { return name_at((type)i); }                            \
    arith_status fn(type *out, const char *name)                                              \
    {                                                                                         \
        int v = 0;                                                                            \
        arith_status st = parse_choice(&v, name, flag, fn##_at);                              \
        if (st == ARITH_OK)                                                                   \
            *out = (type)v;                                                                   \
        return st;                                                                            \
    }
PARSE_ENUM(model_kind_parse, model_kind, model_kind_name, "--model")
PARSE_ENUM(norm_kind_parse, norm_kind, norm_kind_name, "--norm")
PARSE_ENUM(act_kind_parse, act_kind, act_kind_name, "--act")
PARSE_ENUM(pos_kind_parse, pos_kind, pos_kind_name, "--pos")
PARSE_ENUM(head_kind_parse, head_kind, head_kind_name, "--head")
PARSE_ENUM(input_kind_parse, input_kind, input_kind_name, "--input")
PARSE_ENUM(readout_kind_parse, readout_kind, readout_kind_name, "--readout")

/* names[0..n) as "a", "a CONJ b", "a, b CONJ c". */
static void join_names(char *out, size_t cap, const char *const *names, int n, const char *conj)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s",
                                i == 0 ? "" : i == n - 1 ? conj : ", ", names[i]);
}

void model_kinds_text(char *out, size_t cap, bool (*has)(const model_family *f))
{
    const char *names[64];
    int n = 0;
    for (int k = 0; model_family_at(k) && n < 64; k++)
        if (has(model_family_at(k)))
            names[n++] = model_family_at(k)->name;
    join_names(out, cap, names, n, " or ");
}

void pos_kinds_text(char *out, size_t cap, bool (*has)(const pos_scheme *s), const char *conj)
{
    const char *names[64];
    char sep[16];
    snprintf(sep, sizeof sep, " %s ", conj);
    int n = 0;
    for (int k = 0; pos_scheme_at(k) && n < 64; k++)
        if (has(pos_scheme_at(k)))
            names[n++] = pos_scheme_at(k)->name;
    join_names(out, cap, names, n, sep);
}

arith_status model_config_check(const model_config *cfg)
{
    const model_family *f = model_family_at(cfg->kind);
    if (!f)
        return arith_error(ARITH_ERR_ARG, "unknown model kind %d", (int)cfg->kind);
    if (cfg->vocab < 2)
        return arith_error(ARITH_ERR_ARG, "vocabulary of %d tokens is too small", cfg->vocab);
    return f->check(cfg);
}

arith_status model_declare(param_table *pt, size_t *off, const char *name, int ndim, int64_t d0,
                           int64_t d1, param_init init)
{
    int64_t shape[2] = {d0, d1};
    arith_status st = params_add(pt, name, ndim, shape);
    if (st == ARITH_OK) {
        pt->views[pt->count - 1].init = init;
        *off = pt->views[pt->count - 1].offset;
    }
    return st;
}

float *model_grad_trainable(const param_table *pt, size_t off)
{
    /* views are laid out in declaration order, so their offsets ascend: a binary search */
    int lo = 0, hi = pt->count - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (pt->views[mid].offset == off)
            return pt->views[mid].trainable ? pt->grad + off : NULL;
        if (pt->views[mid].offset < off)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

void model_rows_reorder(int B, const int32_t *src, int32_t *work, row_move_fn move, void *ctx)
{
    /* indeg[j]: rows still to be written that read row j (-1 once row j is written); rows that
     * nobody still reads are written first, which frees their sources in turn. What is left
     * are disjoint cycles (every pending row is read by exactly one pending row), each done by
     * swaps along it: after swapping x with src[x], row x is right and src[x] holds x's old
     * content, which is what the cycle's last row wants. */
    int32_t *indeg = work, *queue = work + B;
    for (int r = 0; r < B; r++)
        indeg[r] = 0;
    for (int r = 0; r < B; r++)
        if (src[r] != r)
            indeg[src[r]]++;
    int head = 0, tail = 0;
    for (int r = 0; r < B; r++)
        if (src[r] != r && indeg[r] == 0)
            queue[tail++] = r;
    while (head < tail) {
        int r = queue[head++], s = src[r];
        move(ctx, r, s, false);
        indeg[r] = -1;
        if (--indeg[s] == 0 && src[s] != s)
            queue[tail++] = s;
    }
    for (int r = 0; r < B; r++) {
        if (src[r] == r || indeg[r] < 0)
            continue;
        int x = r;
        while (src[x] != r) {
            move(ctx, x, src[x], true);
            indeg[x] = -1;
            x = src[x];
        }
        indeg[x] = -1;
    }
}

/* ------------------------------------------------------------------------ generic wrappers */

arith_status model_create(model **out, const model_config *cfg)
{
    *out = NULL;
    const model_family *f = model_family_at(cfg->kind);
    if (!f)
        return arith_error(ARITH_ERR_ARG, "unknown model kind %d", (int)cfg->kind);
    arith_status st = f->create(out, cfg);
    if (st == ARITH_OK)
        params_init_fixed(&(*out)->params);
    return st;
}

void model_init_weights(model *m, rng_state *rng)
{
    params_init_values(&m->params, rng);
    if (m->ops && m->ops->init_after_draws)
        m->ops->init_after_draws(m);
}

void model_free(model *m)
{
    if (!m)
        return;
    if (m->ops && m->ops->destroy)
        m->ops->destroy(m);
    params_free(&m->params);
    free(m);
}
