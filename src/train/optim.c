/* Optimizers (Adam, AdamW), learning-rate schedules and gradient clipping, all walking the
 * parameter table; the arithmetic on each view is the backend's (adam_update, tensor_clip).
 * Moments live in two buffers, one slot per trainable view. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/backend/backend.h"
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
    opt->m = tensor_alloc((opt->size ? opt->size : 1) * sizeof(float));
    opt->v = tensor_alloc((opt->size ? opt->size : 1) * sizeof(float));
    if (!opt->m || !opt->v) {
        optimizer_free(opt);
        return ARITH_ERR_MEMORY;
    }
    return ARITH_OK;
}

void optimizer_free(optimizer_state *opt)
{
    tensor_free(opt->m);
    tensor_free(opt->v);
    free(opt->slot);
    memset(opt, 0, sizeof *opt);
}

void optimizer_step(optimizer_state *opt, param_table *params, const optim_settings *cfg,
                    double lr)
{
    opt->t++;
    const bool decoupled = cfg->optim == OPTIM_ADAMW;
    for (int i = 0; i < params->count; i++) {
        const param_view *view = &params->views[i];
        if (!view->trainable || opt->slot[i] == SIZE_MAX)
            continue;
        adam_update(params->data + view->offset, opt->m + opt->slot[i], opt->v + opt->slot[i],
                    params->grad + view->offset, view->size, lr, cfg->beta1, cfg->beta2, cfg->eps,
                    cfg->weight_decay, decoupled, opt->t);
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
    for (int i = 0; i < params->count; i++)
        if (params->views[i].trainable)
            sum = tensor_sum_squares(sum, params->grad + params->views[i].offset,
                                     params->views[i].size);
    double norm = sqrt(sum);
    float scale = 1.0f;
    if (clip_norm > 0 && norm > clip_norm)
        scale = (float)(clip_norm / (norm + 1e-6)); /* as torch.nn.utils.clip_grad_norm_ */
    if (scale == 1.0f && clip_value <= 0)
        return norm;
    for (int i = 0; i < params->count; i++)
        if (params->views[i].trainable)
            tensor_clip(params->grad + params->views[i].offset, params->views[i].size, scale,
                        clip_value > 0, (float)clip_value);
    return norm;
}
