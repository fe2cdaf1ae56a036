/* The arith side of bench/run_gpt2.sh: training steps of GPT-2 124M (context 1024, d_model 768,
 * 12 heads, FFN 3072, 12 layers, pre-LN, tanh GELU, learned positions) on a batch of --batch x
 * --seq tokens (default 4 x 128). Two settings:
 *   full:   tied token matrix wte (vocabulary 50257) for input and output, all parameters
 *           trainable;
 *   frozen: seed 003's setting: new in_layer / out_layer for a 91-token vocabulary, only the
 *           LayerNorms, wpe, in_layer and out_layer trainable (params_set_trainable), so the
 *           backward computes no weight gradients for the frozen matrices.
 * Each step: params_zero_grad, model_forward (mean cross-entropy over targets >= 0),
 * model_backward (fb_ms); with --adam also an Adam step (lr 1e-4, no weight decay) over the
 * trainable parameters (step_ms = fb + Adam). The batch is the one bench/gpt2_torch.py builds:
 * start[b] = (3 b) mod 8 left-padding columns, tokens[b][t] = (1 + 7919 b + 104729 t + 31 step)
 * mod V, targets[b][t] = tokens[b][t+1] for start[b] <= t < T-1, else -1.
 * Prints one JSON line with the median, p10 and p90 ms per step, the peak RSS and the FLOP of
 * one forward+backward (flops_step, from the shapes: see fb_flops).
 * Usage: bench_gpt2 [--threads N] [--steps S] [--warmup W] [--config full|frozen] [--batch B]
 *                   [--seq T] [--adam 0|1] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "train/train.h"

/* Machine busy and total jiffies (/proc/stat) and this process's (utime + stime), to report
 * the share of the CPU other processes took while the benchmark ran; zeros if unreadable. */
static void cpu_snapshot(double v[3])
{
    v[0] = v[1] = v[2] = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (f) {
        unsigned long long x[8] = {0};
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &x[0], &x[1], &x[2], &x[3],
                   &x[4], &x[5], &x[6], &x[7]) == 8) {
            for (int i = 0; i < 8; i++)
                v[1] += (double)x[i];
            v[0] = v[1] - (double)x[3] - (double)x[4];
        }
        fclose(f);
    }
    f = fopen("/proc/self/stat", "r");
    if (f) {
        char line[1024];
        if (fgets(line, sizeof line, f)) {
            const char *p = strrchr(line, ')');
            unsigned long long ut = 0, stime = 0;
            if (p && sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                            &ut, &stime) == 2)
                v[2] = (double)(ut + stime);
        }
        fclose(f);
    }
}

static double cpu_other_share(const double before[3])
{
    double now[3];
    cpu_snapshot(now);
    double total = now[1] - before[1];
    if (total <= 0)
        return 0;
    double other = (now[0] - before[0]) - (now[2] - before[2]);
    return other > 0 ? other / total : 0;
}

/* The batch of step `step` (see the header comment). */
static void fill_batch(batch *b, int B, int T, int V, int step)
{
    b->B = B;
    b->T = T;
    int max_start = 0;
    for (int r = 0; r < B; r++) {
        int s = (3 * r) % 8;
        b->start[r] = s;
        max_start = s > max_start ? s : max_start;
        for (int t = 0; t < T; t++)
            b->tokens[r * T + t] = (int32_t)((1 + 7919LL * r + 104729LL * t + 31LL * step) % V);
        for (int t = 0; t < T; t++)
            b->targets[r * T + t] = t >= s && t < T - 1 ? b->tokens[r * T + t + 1] : -1;
        b->values[r] = 0;
    }
    b->prompt_T = max_start + 1;
    batch_positions(b);
}

/* FLOP of one forward+backward of GPT-2 on B rows of T tokens, R = B*T, from the shapes.
 * Forward, per layer: c_attn 2*R*d*3d, c_proj 2*R*d*d, the MLP 2*R*d*ffn twice, attention's
 * QK^T and AV 2*B*T*T*d each (all heads; the causal mask does not skip the upper triangle);
 * then the vocabulary projection 2*R*d*V. The backward does two products of each one's size
 * (input and weight gradients, or both factors in attention): 3x the forward when every
 * matrix trains (full: ~387 GFLOP at 4 x 128, of which the 50257-token head is ~119). Frozen
 * (seed 003): the blocks' matrices get no weight gradient, so their products count 2x (input
 * gradients still flow down to wpe), attention's and the trainable out_layer's 3x. Layer
 * norms, GELU, softmax and Adam are left out. */
static double fb_flops(const model_config *c, int B, int T, bool frozen)
{
    double R = (double)B * T, d = c->d_model;
    double linear = 2 * R * d * 3 * d + 2 * R * d * d + 2 * 2 * R * d * c->ffn;
    double attn = 2 * 2 * (double)B * T * T * d;
    return c->layers * ((frozen ? 2 : 3) * linear + 3 * attn) + 3 * 2 * R * d * c->vocab;
}

int main(int argc, char **argv)
{
    core_bound_spinning(argv); /* as the CLI does: no environment needed */
    int threads = 2, steps = 5, warmup = 1, B = 4, T = 128, adam = 0;
    const char *config = "full";
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) {
            fprintf(stderr, "bench_gpt2: %s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--threads") == 0)
            threads = strcmp(argv[i + 1], "auto") == 0 ? 0 : atoi(argv[i + 1]); /* 0: auto */
        else if (strcmp(argv[i], "--steps") == 0)
            steps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--warmup") == 0)
            warmup = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--config") == 0)
            config = argv[i + 1];
        else if (strcmp(argv[i], "--batch") == 0)
            B = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--seq") == 0)
            T = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--adam") == 0)
            adam = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "bench_gpt2: unknown option %s (valid: --threads, --steps, --warmup, "
                    "--config, --batch, --seq, --adam)\n", argv[i]);
            return 2;
        }
    }
    bool frozen = strcmp(config, "frozen") == 0;
    if (!frozen && strcmp(config, "full") != 0) {
        fprintf(stderr, "bench_gpt2: --config must be full or frozen (got '%s')\n", config);
        return 2;
    }
    if (threads < 0 || steps < 1 || warmup < 0 || B < 1 || T < 2 || T > 1024) {
        fprintf(stderr, "bench_gpt2: --steps, --batch must be >= 1, --threads >= 0 (0: auto), --warmup >= 0, "
                "2 <= --seq <= 1024\n");
        return 2;
    }
    double cpu_before[3];
    cpu_snapshot(cpu_before);
    core_set_threads(threads);

    model_config mc = {0};
    arith_status kind_st = model_kind_parse(&mc.kind, "gpt2");
    mc.vocab = frozen ? 91 : 50257;
    mc.d_model = 768;
    mc.heads = 12;
    mc.ffn = 3072;
    mc.layers = 12;
    mc.context = 1024;
    mc.tie = !frozen;
    mc.norm = NORM_PRE;
    mc.act = ACT_GELU_TANH;
    if (!kind_st)
        kind_st = pos_kind_parse(&mc.pos, "learned");
    mc.dropout = 0;

    model *m = NULL;
    batch b = {0};
    optimizer_state opt = {0};
    bool have_opt = false, have_batch = false;
    train_config tc;
    train_config_defaults(&tc);
    rng_state rng;
    rng_seed(&rng, 1);
    double *fb_times = malloc((size_t)steps * sizeof *fb_times);
    double *step_times = malloc((size_t)steps * sizeof *step_times);
    double last_loss = 0;
    arith_status st = kind_st                  ? kind_st
                      : fb_times && step_times ? ARITH_OK
                                               : arith_error(ARITH_ERR_MEMORY, "out of memory");
    if (!st)
        st = model_create(&m, &mc);
    if (!st) {
        model_init_weights(m, &rng);
        if (frozen)
            st = params_set_trainable(&m->params, "ln,wpe,in_layer,out_layer", "--trainable");
    }
    if (!st)
        st = model_reserve(m, B, T);
    if (!st) {
        st = batch_alloc(&b, B, T);
        have_batch = !st;
    }
    if (!st && adam) {
        st = train_config_set(&tc, "optim", "adam");
        if (!st)
            st = train_config_set(&tc, "weight-decay", "0");
        if (!st)
            st = optimizer_init(&opt, &m->params);
        have_opt = !st;
    }
    for (int step = 0; !st && step < warmup + steps; step++) {
        fill_batch(&b, B, T, mc.vocab, step);
        double t0 = time_now();
        params_zero_grad(&m->params);
        double loss = 0;
        int count = 0;
        st = model_forward(m, &b, true, (uint64_t)step, &loss, &count);
        if (st)
            break;
        model_backward(m);
        double t1 = time_now();
        if (adam)
            optimizer_step(&opt, &m->params, &tc.optim, 1e-4);
        double t2 = time_now();
        last_loss = count > 0 ? loss / count : 0;
        if (step >= warmup) {
            fb_times[step - warmup] = (t1 - t0) * 1e3;
            step_times[step - warmup] = (t2 - t0) * 1e3;
        }
    }
    if (st) {
        fprintf(stderr, "bench_gpt2: %s\n", arith_error_message());
        return 1;
    }
    size_t nparams = params_count(&m->params), ntrain = params_count_trainable(&m->params);
    qsort(fb_times, (size_t)steps, sizeof *fb_times, compare_double);
    qsort(step_times, (size_t)steps, sizeof *step_times, compare_double);
    printf("{\"impl\": \"arith\", \"config\": \"%s\", \"threads\": %d, \"batch\": %d, "
           "\"seq\": %d, \"vocab\": %d, \"tie\": %s, \"steps\": %d, \"warmup\": %d, "
           "\"fb_ms_median\": %.3f, \"fb_ms_p10\": %.3f, \"fb_ms_p90\": %.3f, \"adam\": %s, ",
           config, core_threads(), B, T, mc.vocab, mc.tie ? "true" : "false", steps, warmup,
           percentile(fb_times, steps, 0.5), percentile(fb_times, steps, 0.1),
           percentile(fb_times, steps, 0.9), adam ? "true" : "false");
    if (adam)
        printf("\"step_ms_median\": %.3f, \"step_ms_p10\": %.3f, \"step_ms_p90\": %.3f, ",
               percentile(step_times, steps, 0.5), percentile(step_times, steps, 0.1),
               percentile(step_times, steps, 0.9));
    printf("\"params\": %zu, \"trainable_params\": %zu, \"last_loss\": %.4f, "
           "\"peak_rss_mb\": %.1f, \"cpu_other_share\": %.3f, \"flops_step\": %.0f}\n",
           nparams, ntrain, last_loss, (double)core_peak_rss() / 1048576.0,
           cpu_other_share(cpu_before), fb_flops(&mc, B, T, frozen));
    free(fb_times);
    free(step_times);
    if (have_batch)
        batch_free(&b);
    if (have_opt)
        optimizer_free(&opt);
    model_free(m);
    return 0;
}
