/* GPT-2 (seed 003): its registry entry (the transformer in GPT-2's layout, with GPT-2's fixed
 * choices), and its checkpoints as Hugging Face distributes them (model.safetensors): sizes
 * read from the tensors' shapes, every name and shape checked, weights copied into a gpt2
 * model as they are (both use Hugging Face's names and Conv1D layouts, so nothing is
 * transposed). */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "models/model.h"

/* This family's registry entry (at the end). */
extern const model_family model_family_gpt2;
/* Its positional scheme, always: wpe, a learned table over the context. */
static const char gpt2_pos[] = "learned";

/* A block's tensors, after "h.N.". */
static const char *const block_names[] = {
    "ln_1.weight",      "ln_1.bias",      "attn.c_attn.weight", "attn.c_attn.bias",
    "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight",      "ln_2.bias",
    "mlp.c_fc.weight",  "mlp.c_fc.bias",  "mlp.c_proj.weight",  "mlp.c_proj.bias",
};
#define N_BLOCK_NAMES ((int)(sizeof block_names / sizeof *block_names))

/* Tensor `name` under the file's prefix ("" or "transformer." as GPT2LMHeadModel saves). */
static const st_tensor *find(const gpt2_pretrained *g, const char *name)
{
    char full[PARAM_NAME_MAX * 2];
    snprintf(full, sizeof full, "%s%s", g->prefix, name);
    return st_find(&g->file, full);
}

/* The layer index of "h.N.rest" (rest written to *rest), or -1. */
static int layer_of(const char *name, const char **rest)
{
    if (strncmp(name, "h.", 2) != 0)
        return -1;
    char *end = NULL;
    long n = strtol(name + 2, &end, 10);
    if (end == name + 2 || *end != '.' || n < 0 || n > 100000)
        return -1;
    *rest = end + 1;
    return (int)n;
}

/* The head count: Hugging Face's config.json ("n_head") beside the file, or PATH's stem with
 * .json; 0 when neither exists. */
static arith_status read_head_count(const char *path, int *heads)
{
    *heads = 0;
    char cand[2][1024];
    const char *slash = strrchr(path, '/');
    int dir = slash ? (int)(slash - path) + 1 : 0;
    snprintf(cand[0], sizeof cand[0], "%.*sconfig.json", dir, path);
    size_t len = strlen(path);
    if (len > 12 && strcmp(path + len - 12, ".safetensors") == 0)
        snprintf(cand[1], sizeof cand[1], "%.*s.json", (int)(len - 12), path);
    else
        cand[1][0] = '\0';
    for (int i = 0; i < 2; i++) {
        if (!cand[i][0])
            continue;
        FILE *f = fopen(cand[i], "rb");
        if (!f)
            continue;
        fclose(f);
        char *text = NULL;
        size_t size = 0;
        arith_status st = io_read_file(cand[i], &text, &size);
        if (st)
            return st;
        cJSON *json = cJSON_Parse(text);
        free(text);
        const cJSON *n = json ? cJSON_GetObjectItemCaseSensitive(json, "n_head") : NULL;
        if (!cJSON_IsNumber(n) || n->valuedouble < 1) {
            cJSON_Delete(json);
            return arith_error(ARITH_ERR_FORMAT, "%s: no positive \"n_head\" in this GPT-2 "
                               "config", cand[i]);
        }
        *heads = (int)n->valuedouble;
        cJSON_Delete(json);
        return ARITH_OK;
    }
    return ARITH_OK;
}

arith_status gpt2_pretrained_read(gpt2_pretrained *g, const char *path)
{
    memset(g, 0, sizeof *g);
    arith_status st = st_read(&g->file, path);
    if (st)
        return st;
    g->prefix = st_find(&g->file, "transformer.wpe.weight") ? "transformer." : "";
    const st_tensor *wpe = find(g, "wpe.weight");
    if (!wpe || wpe->ndim != 2) {
        st = arith_error(ARITH_ERR_FORMAT, "%s: no 2-d tensor 'wpe.weight' (the position "
                         "embedding every GPT-2 checkpoint has); is this a GPT-2 model?", path);
        goto fail;
    }
    g->context = (int)wpe->shape[0];
    g->d_model = (int)wpe->shape[1];
    const st_tensor *wte = find(g, "wte.weight");
    g->vocab = wte && wte->ndim == 2 ? (int)wte->shape[0] : 0;
    /* every name must be GPT-2's; the layer count is one past the largest h.N */
    size_t plen = strlen(g->prefix);
    for (int i = 0; i < g->file.count; i++) {
        const char *name = g->file.tensors[i].name;
        if (strncmp(name, g->prefix, plen) == 0)
            name += plen;
        const char *rest = NULL;
        int layer = layer_of(name, &rest);
        bool known = strcmp(name, "wte.weight") == 0 || strcmp(name, "wpe.weight") == 0 ||
                     strcmp(name, "ln_f.weight") == 0 || strcmp(name, "ln_f.bias") == 0 ||
                     strcmp(g->file.tensors[i].name, "lm_head.weight") == 0;
        if (layer >= 0) {
            /* the causal-mask buffers older checkpoints carry are not parameters */
            known = strcmp(rest, "attn.bias") == 0 || strcmp(rest, "attn.masked_bias") == 0;
            for (int k = 0; !known && k < N_BLOCK_NAMES; k++)
                known = strcmp(rest, block_names[k]) == 0;
            if (known && layer + 1 > g->layers)
                g->layers = layer + 1;
        }
        if (!known) {
            st = arith_error(ARITH_ERR_FORMAT, "%s: tensor '%s' is not part of GPT-2 (names are "
                             "wte, wpe, h.N.ln_1, h.N.attn.c_attn, h.N.attn.c_proj, h.N.ln_2, "
                             "h.N.mlp.c_fc, h.N.mlp.c_proj, ln_f)", path,
                             g->file.tensors[i].name);
            goto fail;
        }
    }
    if (g->layers < 1) {
        st = arith_error(ARITH_ERR_FORMAT, "%s: no GPT-2 blocks (h.0.*)", path);
        goto fail;
    }
    const st_tensor *fc = find(g, "h.0.mlp.c_fc.weight");
    if (!fc || fc->ndim != 2) {
        st = arith_error(ARITH_ERR_FORMAT, "%s: tensor '%sh.0.mlp.c_fc.weight' is missing or not "
                         "2-d", path, g->prefix);
        goto fail;
    }
    g->ffn = (int)fc->shape[1];
    st = read_head_count(path, &g->heads);
    if (st)
        goto fail;
    if (g->heads == 0) {
        /* every released GPT-2 (124M, 355M, 774M, 1.5B) has heads of 64 */
        if (g->d_model % 64 != 0) {
            st = arith_error(ARITH_ERR_FORMAT, "%s: cannot tell the head count (d_model %d is "
                             "not a multiple of GPT-2's head size 64); put Hugging Face's "
                             "config.json beside the file", path, g->d_model);
            goto fail;
        }
        g->heads = g->d_model / 64;
    }
    if (g->d_model % g->heads != 0) {
        st = arith_error(ARITH_ERR_FORMAT, "%s: %d heads do not divide d_model %d", path,
                         g->heads, g->d_model);
        goto fail;
    }
    return ARITH_OK;
fail:
    gpt2_pretrained_free(g);
    return st;
}

void gpt2_pretrained_free(gpt2_pretrained *g)
{
    st_free(&g->file);
    memset(g, 0, sizeof *g);
}

arith_status gpt2_pretrained_load(model *m, const gpt2_pretrained *g)
{
    if (model_family_at(m->cfg.kind) != &model_family_gpt2)
        return arith_error(ARITH_ERR_ARG, "GPT-2 weights load only into --model gpt2");
    const char *path = g->file.path;
    const param_table *pt = &m->params;
    for (int i = 0; i < pt->count; i++) {
        const param_view *v = &pt->views[i];
        /* seed 003's new layers start fresh; so does wte when the model does not use it */
        if (strncmp(v->name, "in_layer.", 9) == 0 || strncmp(v->name, "out_layer.", 10) == 0)
            continue;
        const st_tensor *t = find(g, v->name);
        if (!t)
            return arith_error(ARITH_ERR_FORMAT, "%s: tensor '%s%s' is missing", path, g->prefix,
                               v->name);
        arith_status st = st_expect_shape(&g->file, t->name, v->ndim, v->shape);
        if (st)
            return arith_error_wrap(ARITH_ERR_FORMAT, "GPT-2 weights: ");
        st = st_copy_f32(&g->file, t->name, pt->data + v->offset, v->size);
        if (st)
            return st;
        size_t first = 0, bad = core_count_nonfinite(pt->data + v->offset, v->size, &first);
        if (bad)
            return arith_error(ARITH_ERR_DATA, "%s: tensor '%s%s' holds %zu non-finite value%s "
                               "(the first, at index %zu, is %g)", path, g->prefix, v->name, bad,
                               bad == 1 ? "" : "s", first, (double)pt->data[v->offset + first]);
    }
    return ARITH_OK;
}

/* ----------------------------------------------------------------------- the family entry */

static arith_status gpt2_check(const model_config *cfg)
{
    const char *pos = pos_kind_name(cfg->pos);
    if (pos && (cfg->norm != NORM_PRE || strcmp(pos, gpt2_pos) != 0))
        return arith_error(ARITH_ERR_ARG, "--model gpt2 is pre-LN with %s positions (got --norm "
                           "%s --pos %s)", gpt2_pos, norm_kind_name(cfg->norm), pos);
    return transformer_config_check(cfg);
}

/* GPT-2's fixed design. GPT-2 ties its head to wte for its own 50257-token vocabulary; arith's
 * tasks have vocabularies of their own, so a run reads and writes them through seed 003's new
 * input and output layers (tie stays for the library's callers). wpe has a row per context
 * position. */
static void gpt2_fix_choices(model_config *cfg)
{
    cfg->norm = NORM_PRE;
    cfg->act = ACT_GELU_TANH;
    for (pos_kind k = 0; pos_kind_name(k); k++)
        if (strcmp(pos_kind_name(k), gpt2_pos) == 0)
            cfg->pos = k;
    cfg->tie = false;
    cfg->pos_max = 0;
}

static arith_status gpt2_create(model **out, const model_config *cfg)
{
    return transformer_create(out, cfg, true);
}

/* Seed 003's new input and output layers always train. */
static const char *gpt2_always_trained(const model_config *cfg)
{
    return cfg->tie ? NULL : "in_layer,out_layer";
}

static void gpt2_describe(const model_config *cfg, char *out, size_t cap)
{
    snprintf(out, cap, "%d layer%s, d_model %d, %d heads, ffn %d, context %d, %s", cfg->layers,
             cfg->layers == 1 ? "" : "s", cfg->d_model, cfg->heads, cfg->ffn, cfg->context,
             cfg->tie ? "tied head" : "new in/out layers");
}

const model_family model_family_gpt2 = {
    .name = "gpt2",
    .summary = "GPT-2's design in Hugging Face's layout; --init loads its weights (seed 003)",
    .context_limited = true,
    .token_by_token = true,
    .loads_pretrained = true,
    .fix_choices = gpt2_fix_choices,
    .check = gpt2_check,
    .create = gpt2_create,
    .always_trained = gpt2_always_trained,
    .describe = gpt2_describe,
};
