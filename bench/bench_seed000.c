/* The arith side of bench/run_seed000.sh: seed 000's CharRNN (char tokenizer, embedding 256,
 * two LSTM layers of hidden 256, MLP head; Adam lr 1e-3 without weight decay, gradients clipped
 * to [-1, 1], batch 64) on task expr: full training steps as train_run takes them (batch fill,
 * zero grad, forward, backward, clip, Adam step), then greedy generation of test answers in
 * batches of --gen-batch, a fixed number of tokens per prompt (EOS ignored, as the PyTorch side
 * does, so that equal work is timed). Prints one JSON line with the median, p10 and p90 ms per
 * step, the mean batch width T, answers per second, the peak RSS and the mean FLOP of a
 * training step (flops_step, from the shapes: see step_flops).
 * Training batches are rows (step * 64 + i) mod n_train of the training set, in file order, so
 * that the PyTorch side (bench/seed000_torch.py) can take exactly the same rows.
 * Usage: bench_seed000 [--threads N] [--steps S] [--warmup W] [--gen-n G] [--gen-batch B]
 *                      [--csv FILE | --n N]
 *   --csv FILE  train on FILE (src,tgt; the last 10% are the test set), e.g. written by
 *               `arith data --task expr --n 20000 --out FILE`; without it, --n examples of task
 *               expr are generated (default 20000, 10% held out). */
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

/* FLOP of one training step of the LSTM LM (every matrix trainable) on B rows of T columns,
 * R = B*T, from the shapes. Forward, per layer of hidden H on inputs of width in (the embedding
 * E for the first, H above): the input projection of all steps 2*R*in*4H and the recurrent
 * products, 2*B*H*4H per step, 2*R*H*4H in all; the head: 2*R*H*H (fc) + 2*R*H*V (out). The
 * backward does two products of each one's size (input and weight gradients), so a step is 3x
 * the forward. Gate nonlinearities, clipping and Adam (O(R*H)) are left out. Seed 000 (E = H =
 * 256, 2 layers, V ~20, B 64, T ~16): ~6.9 GFLOP. Padded columns are counted: arith runs the
 * left-padded batch whole. */
static double step_flops(const model_config *c, int in0, int B, int T)
{
    double R = (double)B * T, H = c->hidden, f = 0;
    for (int l = 0; l < c->layers; l++)
        f += 2 * R * (l ? H : in0) * 4 * H + 2 * R * H * 4 * H;
    return 3 * (f + 2 * R * H * H + 2 * R * H * c->vocab);
}

int main(int argc, char **argv)
{
    core_bound_spinning(argv); /* as the CLI does: no environment needed */
    int threads = 2, steps = 30, warmup = 5, gen_n = 2000, gen_batch = 64;
    const char *csv = NULL, *n_text = "20000";
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) {
            fprintf(stderr, "bench_seed000: %s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--threads") == 0)
            threads = strcmp(argv[i + 1], "auto") == 0 ? 0 : atoi(argv[i + 1]); /* 0: auto */
        else if (strcmp(argv[i], "--steps") == 0)
            steps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--warmup") == 0)
            warmup = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--gen-n") == 0)
            gen_n = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--gen-batch") == 0)
            gen_batch = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--csv") == 0)
            csv = argv[i + 1];
        else if (strcmp(argv[i], "--n") == 0)
            n_text = argv[i + 1];
        else {
            fprintf(stderr, "bench_seed000: unknown option %s (valid: --threads, --steps, "
                    "--warmup, --gen-n, --gen-batch, --csv, --n)\n", argv[i]);
            return 2;
        }
    }
    if (threads < 0 || steps < 1 || warmup < 0 || gen_n < 1 || gen_batch < 1) {
        fprintf(stderr, "bench_seed000: --threads, --steps, --gen-n and --gen-batch must be "
                "positive, --warmup not negative\n");
        return 2;
    }
    double cpu_before[3];
    cpu_snapshot(cpu_before);
    train_config cfg;
    train_config_defaults(&cfg);
    char text[32];
    snprintf(text, sizeof text, "%d", threads);
    /* seed 000: --model lstm --task expr --tokenizer char --d-model 256 --hidden 256
     * --layers 2 --optim adam --lr 1e-3 --weight-decay 0 --clip-value 1 --batch 64 */
    const char *settings[][2] = {
        {"model", "lstm"},       {"task", "expr"},        {"tokenizer", "char"},
        {"d-model", "256"},      {"hidden", "256"},       {"layers", "2"},
        {"optim", "adam"},       {"lr", "1e-3"},          {"weight-decay", "0"},
        {"clip-value", "1"},     {"batch", "64"},         {"threads", text},
        {"n", n_text},
    };
    arith_status st = ARITH_OK;
    for (size_t i = 0; !st && i < sizeof settings / sizeof settings[0]; i++)
        st = train_config_set(&cfg, settings[i][0], settings[i][1]);
    if (!st && csv)
        st = train_config_set(&cfg, "train-csv", csv);
    session s;
    if (!st)
        st = session_open(&s, &cfg, NULL);
    if (st) {
        fprintf(stderr, "bench_seed000: %s\n", arith_error_message());
        return 1;
    }
    if (gen_n > s.test.count) {
        fprintf(stderr, "bench_seed000: --gen-n %d is more than the %d test examples\nhint: "
                "give more data (--n, or a larger --csv; the test set is its last 10%%)\n",
                gen_n, s.test.count);
        session_close(&s);
        return 2;
    }
    optimizer_state opt;
    batch b;
    int max_T = s.train_enc.max_prompt + s.train_enc.max_answer - 1;
    int32_t *idx = malloc((size_t)cfg.optim.batch * sizeof *idx);
    double *times = malloc((size_t)steps * sizeof *times);
    if (!idx || !times) {
        fprintf(stderr, "bench_seed000: out of memory\n");
        session_close(&s);
        return 1;
    }
    double T_sum = 0, last_loss = 0, flops_sum = 0;
    int T_min = max_T, T_max = 0;
    st = optimizer_init(&opt, &s.model->params);
    if (!st)
        st = batch_alloc(&b, cfg.optim.batch, max_T);
    if (!st)
        st = model_reserve(s.model, cfg.optim.batch, max_T);
    for (int step = 0; !st && step < warmup + steps; step++) {
        for (int i = 0; i < cfg.optim.batch; i++)
            idx[i] = (int32_t)(((long long)step * cfg.optim.batch + i) % s.train.count);
        double t0 = time_now();
        st = batch_fill_train(&b, &s.train_enc, idx, cfg.optim.batch, s.tok.pad_id);
        params_zero_grad(&s.model->params);
        double loss = 0;
        int count = 0;
        if (!st)
            st = model_forward(s.model, &b, true, (uint64_t)step, &loss, &count);
        if (st)
            break;
        model_backward(s.model);
        clip_gradients(&s.model->params, cfg.optim.clip_value, cfg.optim.clip_norm);
        optimizer_step(&opt, &s.model->params, &cfg.optim, cfg.optim.lr);
        if (step >= warmup) {
            times[step - warmup] = (time_now() - t0) * 1e3;
            T_sum += b.T;
            flops_sum += step_flops(&s.model->cfg, s.model->cfg.d_model, b.B, b.T);
            T_min = b.T < T_min ? b.T : T_min;
            T_max = b.T > T_max ? b.T : T_max;
        }
        last_loss = count ? loss / count : 0;
    }
    /* what evaluate() will use as its token limit: longest answer (with EOS) + 1 */
    int max_new = 0, max_prompt = 0;
    for (int i = 0; i < gen_n; i++) {
        if (s.test_enc.answer_len[i] + 1 > max_new)
            max_new = s.test_enc.answer_len[i] + 1;
        if (s.test_enc.prompt_len[i] > max_prompt)
            max_prompt = s.test_enc.prompt_len[i];
    }
    if (max_prompt + max_new - 1 > s.model->cfg.context)
        max_new = s.model->cfg.context - max_prompt + 1;
    /* generation at a fixed number of tokens per prompt (EOS ignored, as on the PyTorch side),
     * so that an untrained model's early EOS cannot make either side look fast */
    eval_result r = {0};
    batch pb;
    int32_t *out = malloc((size_t)gen_batch * max_new * sizeof *out);
    int32_t *pidx = malloc((size_t)gen_batch * sizeof *pidx);
    if (!st)
        st = batch_alloc(&pb, gen_batch, max_prompt);
    if (!st && (!out || !pidx))
        st = arith_error(ARITH_ERR_MEMORY, "out of memory");
    long long tokens = 0, batch_steps = 0;
    int n_batches = 0;
    double g0 = time_now();
    for (int first = 0; !st && first < gen_n; first += gen_batch, n_batches++) {
        int count = gen_n - first < gen_batch ? gen_n - first : gen_batch;
        for (int i = 0; i < count; i++)
            pidx[i] = first + i;
        st = batch_fill_prompts(&pb, &s.test_enc, pidx, count, s.tok.pad_id);
        if (!st)
            st = model_generate(s.model, &pb, max_new, -1, out);
        tokens += (long long)count * max_new;
        batch_steps += max_new;
    }
    r.seconds = time_now() - g0;
    r.total = gen_n;
    if (st) {
        fprintf(stderr, "bench_seed000: %s\n", arith_error_message());
        return 1;
    }
    free(out);
    free(pidx);
    batch_free(&pb);
    qsort(times, (size_t)steps, sizeof *times, compare_double);
    printf("{\"impl\": \"arith\", \"threads\": %d, \"vocab\": %d, \"params\": %lld, "
           "\"train_rows\": %d, \"test_rows\": %d, \"steps\": %d, \"warmup\": %d, \"batch\": %d, "
           "\"train_ms_step_median\": %.3f, \"train_ms_step_p10\": %.3f, "
           "\"train_ms_step_p90\": %.3f, \"batch_T_mean\": %.3f, \"batch_T_min\": %d, "
           "\"batch_T_max\": %d, \"last_loss\": %.4f, \"gen_n\": %d, \"gen_batch\": %d, "
           "\"gen_max_new\": %d, \"gen_tokens_per_answer\": %.3f, "
           "\"gen_steps_per_batch\": %.3f, \"gen_correct\": %d, \"gen_seconds\": %.4f, "
           "\"answers_per_sec\": %.1f, \"peak_rss_mb\": %.1f, \"cpu_other_share\": %.3f, "
           "\"flops_step\": %.0f}\n",
           core_threads(), s.tok.vocab_size, (long long)s.model->params.total, s.train.count,
           s.test.count, steps, warmup, cfg.optim.batch, percentile(times, steps, 0.5),
           percentile(times, steps, 0.1), percentile(times, steps, 0.9), T_sum / steps, T_min,
           T_max, last_loss, r.total, gen_batch, max_new, (double)tokens / gen_n,
           (double)batch_steps / n_batches, r.correct, r.seconds,
           r.seconds > 0 ? r.total / r.seconds : 0.0, (double)core_peak_rss() / 1048576.0,
           cpu_other_share(cpu_before), flops_sum / steps);
    free(idx);
    free(times);
    batch_free(&b);
    optimizer_free(&opt);
    session_close(&s);
    return 0;
}
