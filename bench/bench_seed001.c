/* The arith side of bench/run_seed001.sh: seed 001's training step (9-digit sums, aligned-pairs
 * tokenizer, 8 post-LN blocks of d_model 128, 16 heads, ffn 64, sinusoidal positions, dropout
 * 0.1, AdamW, batch 64) and greedy generation of test answers in batches of 64. Prints one
 * JSON line with the median, p10 and p90 ms per step, the generation time and the FLOP of one
 * training step (flops_step, from the model's shapes: see step_flops).
 * Usage: bench_seed001 [--threads N] [--steps S] [--gen-n G] [--gen-batch B] [--pos P] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "train/train.h"

/* FLOP of one training step of a transformer (every matrix trainable) on B rows of T tokens,
 * R = B*T, from the shapes. Forward, per layer: the q/k/v projection 2*R*d*3d, the output
 * projection 2*R*d*d, the FFN 2*R*d*ffn twice, and attention's two products QK^T and AV,
 * 2*B*T*T*d each (all heads together; the causal mask does not skip the upper triangle); then
 * the vocabulary projection 2*R*d*V. The backward does two products of the forward's size for
 * each (the gradient of the input and of the weight, or of both factors in attention), so a
 * step is 3x the forward. Layer norms, softmax, dropout, GELU/ReLU and AdamW (O(R*d) each)
 * are left out. Seed 001 (d 128, ffn 64, 8 layers, V 69, B 64): its 22-token sequences give
 * T = 21 input positions, R = 1344, and 5.70 GFLOP; counted over 22 positions (R = 1408) the
 * same formula gives issue #12's 5.99. */
static double step_flops(const model_config *c, int B, int T)
{
    double R = (double)B * T, d = c->d_model;
    double layer = 2 * R * d * 3 * d + 2 * R * d * d + 2 * 2 * R * d * c->ffn +
                   2 * 2 * (double)B * T * T * d;
    return 3 * (c->layers * layer + 2 * R * d * c->vocab);
}

int main(int argc, char **argv)
{
    core_bound_spinning(argv); /* as the CLI does: no environment needed */
    int threads = 2, steps = 30, gen_n = 6400, gen_batch = 64, warmup = 5;
    const char *pos = "sinusoidal";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--threads") == 0)
            threads = strcmp(argv[i + 1], "auto") == 0 ? 0 : atoi(argv[i + 1]); /* 0: auto */
        else if (strcmp(argv[i], "--steps") == 0)
            steps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--gen-n") == 0)
            gen_n = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--gen-batch") == 0)
            gen_batch = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--pos") == 0)
            pos = argv[i + 1];
        else {
            fprintf(stderr, "bench_seed001: unknown option %s (valid: --threads, --steps, "
                    "--gen-n, --gen-batch, --pos)\n", argv[i]);
            return 2;
        }
    }
    if (steps < 1 || gen_n < 1 || gen_batch < 1) {
        fprintf(stderr, "bench_seed001: --steps, --gen-n and --gen-batch must be positive\n");
        return 2;
    }
    train_config cfg;
    train_config_defaults(&cfg);
    char text[32];
    snprintf(text, sizeof text, "%d", threads);
    arith_status st = train_config_set(&cfg, "threads", text);
    if (!st)
        st = train_config_set(&cfg, "pos", pos);
    session s;
    if (!st)
        st = session_open(&s, &cfg, NULL);
    if (st) {
        fprintf(stderr, "bench_seed001: %s\n", arith_error_message());
        return 1;
    }
    optimizer_state opt;
    batch b;
    int max_T = s.train_enc.max_prompt + s.train_enc.max_answer - 1;
    int32_t *idx = malloc((size_t)cfg.optim.batch * sizeof *idx);
    double *times = malloc((size_t)steps * sizeof *times);
    double flops_sum = 0;
    int batch_T = 0;
    st = optimizer_init(&opt, &s.model->params);
    if (!st)
        st = batch_alloc(&b, cfg.optim.batch, max_T);
    if (!st)
        st = model_reserve(s.model, cfg.optim.batch, max_T);
    for (int step = 0; !st && step < warmup + steps; step++) {
        for (int i = 0; i < cfg.optim.batch; i++)
            idx[i] = (step * cfg.optim.batch + i) % s.train.count;
        double t0 = time_now();
        st = batch_fill_train(&b, &s.train_enc, idx, cfg.optim.batch, s.tok.pad_id);
        params_zero_grad(&s.model->params);
        double loss = 0;
        int count = 0;
        if (!st)
            st = model_forward(s.model, &b, true, (uint64_t)step, &loss, &count);
        model_backward(s.model);
        optimizer_step(&opt, &s.model->params, &cfg.optim, cfg.optim.lr);
        if (step >= warmup) {
            times[step - warmup] = (time_now() - t0) * 1e3;
            flops_sum += step_flops(&s.model->cfg, b.B, b.T);
            batch_T = b.T;
        }
    }
    eval_result r = {0};
    if (!st)
        st = evaluate(s.model, &s.tok, &s.task, &s.test, gen_n, gen_batch, NULL, NULL, 0, &r);
    if (st) {
        fprintf(stderr, "bench_seed001: %s\n", arith_error_message());
        return 1;
    }
    qsort(times, (size_t)steps, sizeof *times, compare_double);
    printf("{\"impl\": \"arith\", \"threads\": %d, \"pos\": \"%s\", \"train_ms_step_median\": %.3f, "
           "\"train_ms_step_p10\": %.3f, \"train_ms_step_p90\": %.3f, \"gen_n\": %d, "
           "\"gen_batch\": %d, \"gen_seconds\": %.3f, \"peak_rss_mb\": %.1f, \"flops_step\": %.0f, "
           "\"batch_T\": %d, \"vocab\": %d}\n",
           core_threads(), pos, percentile(times, steps, 0.5), percentile(times, steps, 0.1),
           percentile(times, steps, 0.9), r.total, gen_batch, r.seconds,
           (double)core_peak_rss() / 1048576.0, flops_sum / steps, batch_T,
           s.model->cfg.vocab);
    free(idx);
    free(times);
    batch_free(&b);
    optimizer_free(&opt);
    session_close(&s);
    return 0;
}
