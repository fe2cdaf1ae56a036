/* Optimizers (Adam, AdamW), learning-rate schedules and gradient clipping, all walking the
 * parameter table. Moments live in two buffers shaped like the parameter buffer. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "train/train.h"

#define M_PI_VALUE 3.14159265358979323846

arith_status optimizer_init(optimizer_state *opt, const param_table *params)
{
    memset(opt, 0, sizeof *opt);
    opt->slot = malloc((size_t)(params->count > 0 ? params->count : 1) * sizeof *opt->slot);
    if (!opt->slot)
        return ARITH_ERR_MEMORY;
    for (int i = 0; i < params->count; i++) {
        opt->slot[i] = params->views[i].trainable ? opt->size : SIZE_MAX;
        if (params->views[i].trainable)
            opt->size += params->views[i].size;
    }
    opt->m = arith_alloc((opt->size ? opt->size : 1) * sizeof(float));
    opt->v = arith_alloc((opt->size ? opt->size : 1) * sizeof(float));
    if (!opt->m || !opt->v) {
        optimizer_free(opt);
        return ARITH_ERR_MEMORY;
    }
    return ARITH_OK;
}

void optimizer_free(optimizer_state *opt)
{
    arith_free(opt->m);
    arith_free(opt->v);
    free(opt->slot);
    memset(opt, 0, sizeof *opt);
}

void optimizer_step(optimizer_state *opt, param_table *params, const optim_settings *cfg,
                    double lr)
{
    opt->t++;
    const bool decoupled = cfg->optim == OPTIM_ADAMW;
    const float b1 = (float)cfg->beta1, b2 = (float)cfg->beta2, eps = (float)cfg->eps;
    const float wd = (float)cfg->weight_decay;
    /* bias corrections as torch computes them: step size lr / (1 - b1^t), denominator
     * sqrt(v) / sqrt(1 - b2^t) + eps */
    const double bc1 = 1.0 - pow(cfg->beta1, (double)opt->t);
    const double bc2 = 1.0 - pow(cfg->beta2, (double)opt->t);
    const float step_size = (float)(lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float lr_f = (float)lr;
    for (int i = 0; i < params->count; i++) {
        const param_view *view = &params->views[i];
        if (!view->trainable || opt->slot[i] == SIZE_MAX)
            continue;
        float *w = params->data + view->offset, *g = params->grad + view->offset;
        float *m = opt->m + opt->slot[i], *v = opt->v + opt->slot[i];
        const long n = (long)view->size;
#pragma omp parallel for schedule(static) if (n > 16384)
        for (long j = 0; j < n; j++) {
            float grad = g[j];
            if (decoupled)
                w[j] -= lr_f * wd * w[j]; /* AdamW: w *= 1 - lr*wd */
            else
                grad += wd * w[j];        /* Adam: L2 in the gradient */
            m[j] = b1 * m[j] + (1.0f - b1) * grad;
            v[j] = b2 * v[j] + (1.0f - b2) * grad * grad;
            w[j] -= step_size * m[j] / (sqrtf(v[j]) / bc2_sqrt + eps);
        }
    }
}

double schedule_lr(const optim_settings *cfg, long long step, long long total)
{
    if (cfg->schedule != SCHEDULE_COSINE)
        return cfg->lr;
    if (step < cfg->warmup)
        return cfg->lr * (double)(step + 1) / (double)cfg->warmup;
    long long span = total - cfg->warmup;
    double progress = span > 0 ? (double)(step - cfg->warmup) / (double)span : 1.0;
    if (progress > 1.0)
        progress = 1.0;
    return cfg->min_lr + 0.5 * (cfg->lr - cfg->min_lr) * (1.0 + cos(M_PI_VALUE * progress));
}

double clip_gradients(param_table *params, double clip_value, double clip_norm)
{
    /* the norm is summed in one fixed order, so the result never depends on threads */
    double sum = 0.0;
    for (int i = 0; i < params->count; i++) {
        const param_view *view = &params->views[i];
        if (!view->trainable)
            continue;
        const float *g = params->grad + view->offset;
        for (size_t j = 0; j < view->size; j++)
            sum += (double)g[j] * g[j];
    }
    double norm = sqrt(sum);
    float scale = 1.0f;
    if (clip_norm > 0 && norm > clip_norm)
        scale = (float)(clip_norm / (norm + 1e-6)); /* as torch.nn.utils.clip_grad_norm_ */
    const float limit = (float)clip_value;
    if (scale == 1.0f && clip_value <= 0)
        return norm;
    for (int i = 0; i < params->count; i++) {
        const param_view *view = &params->views[i];
        if (!view->trainable)
            continue;
        float *g = params->grad + view->offset;
        for (size_t j = 0; j < view->size; j++) {
            float x = g[j] * scale;
            if (clip_value > 0)
                x = x > limit ? limit : (x < -limit ? -limit : x);
            g[j] = x;
        }
    }
    return norm;
}
