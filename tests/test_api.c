/* The public C API as a user sees it: this file includes only <arith.h> (and the test checks)
 * and links libarith.so. A tiny transformer learns 1-2 digit sums through arith_train, bit for
 * bit as `arith train` trains it; the run is then opened, asked and evaluated, and every error
 * path returns its status and names what is at fault. */
#define _POSIX_C_SOURCE 200809L
#include <arith.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

/* A failed API call prints the library's message. */
#define CHECK_API(expr)                                                                  \
    do {                                                                                 \
        check_count++;                                                                   \
        arith_status check_status_ = (expr);                                             \
        if (check_status_ != ARITH_OK) {                                                 \
            fprintf(stderr, "%s:%d: %s returned %s: %s\n", __FILE__, __LINE__, #expr,    \
                    arith_status_name(check_status_), arith_last_error());               \
            check_failures++;                                                            \
        }                                                                                \
    } while (0)

/* An API call fails with this status and exactly this message. */
#define CHECK_FAILS(expr, status, message)                                               \
    do {                                                                                 \
        CHECK_EQ_INT((expr), (status));                                                  \
        CHECK_STR(arith_last_error(), (message));                                        \
    } while (0)

/* The flags of the tiny run, as `arith train` takes them and as arith_config_set keys. */
static const char *const tiny_flags[][2] = {
    {"task", "add"}, {"digits", "1..2"}, {"n", "3000"}, {"layers", "1"}, {"d-model", "64"},
    {"heads", "4"}, {"ffn", "128"}, {"steps", "400"}, {"batch", "32"}, {"lr", "3e-3"},
    {"dropout", "0"}, {"schedule", "cosine"}, {"eval-every", "100"}, {"threads", "1"},
    {"samples", "2"},
};
enum { TINY_FLAGS = sizeof tiny_flags / sizeof tiny_flags[0] };

typedef struct {
    int64_t steps, last_step, total;
    int evals, bests, samples;
    double last_accuracy;
} progress;

static void on_step(void *ctx, int64_t step, int64_t total, int32_t epoch, double loss,
                    double lr, double steps_per_sec)
{
    progress *p = ctx;
    p->steps++;
    p->last_step = step;
    p->total = total;
    CHECK(epoch >= 1 && isfinite(loss) && lr > 0 && steps_per_sec >= 0);
}

static void on_eval(void *ctx, int64_t step, int64_t total, const arith_eval_result *r,
                    bool is_best)
{
    progress *p = ctx;
    p->evals++;
    p->bests += is_best;
    p->last_accuracy = r->accuracy;
    CHECK(r->total > 0 && r->correct <= r->total);
}

static void on_sample(void *ctx, const char *prompt, const char *answer, const char *predicted,
                      bool correct)
{
    progress *p = ctx;
    p->samples++;
    CHECK(prompt[0] && answer[0] && (strcmp(answer, predicted) == 0) == correct);
}

/* The whole contents of a file (NUL-terminated), or NULL. */
static char *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)n + 1);
    if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        data = NULL;
    }
    fclose(f);
    if (data) {
        data[n] = '\0';
        *size = (size_t)n;
    }
    return data;
}

/* Whether file `name` is the same in both runs; for a checkpoint, its tensors (everything after
 * the JSON header, whose metadata names the run directory). */
static bool same_file(const char *run_a, const char *run_b, const char *name, bool tensors)
{
    char path[1200];
    size_t na = 0, nb = 0;
    snprintf(path, sizeof path, "%s/%s", run_a, name);
    char *a = read_all(path, &na);
    snprintf(path, sizeof path, "%s/%s", run_b, name);
    char *b = read_all(path, &nb);
    size_t skip_a = 0, skip_b = 0;
    if (tensors && a && b && na >= 8 && nb >= 8) {
        uint64_t ha = 0, hb = 0;
        for (int i = 7; i >= 0; i--) {
            ha = ha << 8 | (unsigned char)a[i];
            hb = hb << 8 | (unsigned char)b[i];
        }
        skip_a = ha + 8 <= na ? ha + 8 : na;
        skip_b = hb + 8 <= nb ? hb + 8 : nb;
    }
    bool same = a && b && na - skip_a == nb - skip_b && na - skip_a > 0 &&
                memcmp(a + skip_a, b + skip_b, na - skip_a) == 0;
    CHECK_MSG(same, "%s differs between %s and %s", name, run_a, run_b);
    free(a);
    free(b);
    return same;
}

static void test_general(void)
{
    CHECK_STR(arith_version(), ARITH_VERSION);
    CHECK_STR(arith_status_name(ARITH_OK), "ok");
    CHECK_STR(arith_status_name(ARITH_ERR_IO), "i/o error");
    CHECK_EQ_INT(arith_set_threads(1), 1);
    arith_string_free(NULL);
    arith_run_close(NULL);
    arith_config_free(NULL);
}

static void test_config_errors(const char *base)
{
    arith_config *cfg = NULL;
    CHECK_API(arith_config_new(&cfg));
    if (!cfg)
        return;
    CHECK_FAILS(arith_config_set(cfg, "digitz", "3"), ARITH_ERR_ARG,
                "unknown option --digitz; did you mean --digits?\nhint: arith train --help lists "
                "every option");
    CHECK_FAILS(arith_config_set(cfg, "model", "rnn"), ARITH_ERR_ARG,
                "--model: unknown value 'rnn' (valid: transformer,lstm,seq2seq,gpt2)");
    CHECK_FAILS(arith_config_set(cfg, "layers", NULL), ARITH_ERR_ARG, "--layers needs a value");
    CHECK_FAILS(arith_config_load_json(cfg, "{\"lr\": 0.01, \"colour\": 1}", "mine.json"),
                ARITH_ERR_ARG, "mine.json: unknown option \"colour\"\nhint: the keys are the "
                "flag names of arith train --help, without --");
    /* a failed call changes nothing: lr stays at its default */
    char *json = NULL;
    CHECK_API(arith_config_to_json(cfg, &json));
    CHECK(json && strstr(json, "\"lr\":\t0.0008"));
    arith_string_free(json);
    char path[1100];
    snprintf(path, sizeof path, "%s/missing.json", base);
    CHECK_EQ_INT(arith_config_load_file(cfg, path), ARITH_ERR_IO);
    CHECK(strstr(arith_last_error(), path) != NULL);
    CHECK_API(arith_config_set(cfg, "seeds", "2"));
    CHECK_FAILS(arith_train(cfg, NULL, NULL), ARITH_ERR_ARG, "--seeds 2: arith_train trains one "
                "run\nhint: call it once per seed, with \"seed\" and \"run\" set");
    arith_config_free(cfg);
}

/* Trains the tiny run through the API into run_api and with the command line into run_cli;
 * *final is the training's last evaluation. */
static void test_train(const char *run_api, const char *run_cli, arith_eval_result *final)
{
    arith_config *cfg = NULL;
    CHECK_API(arith_config_new(&cfg));
    if (!cfg)
        return;
    for (int i = 0; i < TINY_FLAGS; i++)
        CHECK_API(arith_config_set(cfg, tiny_flags[i][0], tiny_flags[i][1]));
    CHECK_API(arith_config_set(cfg, "run", run_api));
    progress p = {0};
    arith_train_callbacks cb = {.ctx = &p, .on_step = on_step, .on_eval = on_eval,
                                .on_sample = on_sample};
    arith_train_result r;
    CHECK_API(arith_train(cfg, &cb, &r));
    CHECK_STR(r.run_dir, run_api);
    CHECK_EQ_INT(r.steps, 400);
    CHECK_EQ_INT(p.steps, 400);
    CHECK_EQ_INT(p.last_step, 400);
    CHECK_EQ_INT(p.total, 400);
    CHECK(p.evals >= 4 && p.bests >= 1 && p.samples >= 2 * p.evals);
    CHECK_EQ_INT(r.final.total, 300);
    CHECK_MSG(r.final.accuracy >= 0.9, "final exact match %.4f", r.final.accuracy);
    CHECK(r.final.accuracy == p.last_accuracy);
    CHECK(r.best >= r.final.accuracy && r.best_step > 0 && r.best_step <= 400);
    CHECK(r.final.edge_total > 0);
    CHECK(r.final.carry_total > 0 && r.final.carry_correct <= r.final.carry_total);
    *final = r.final;
    printf("arith_train: exact match %.4f (%d/%d), best %.4f at step %lld\n", r.final.accuracy,
           r.final.correct, r.final.total, r.best, (long long)r.best_step);

    /* a directory that holds a run is never overwritten */
    char message[1200];
    snprintf(message, sizeof message, "%s already holds a run\nhint: continue it with arith "
             "train --resume %s, or choose another --run", run_api, run_api);
    CHECK_FAILS(arith_train(cfg, NULL, NULL), ARITH_ERR_STATE, message);
    arith_config_free(cfg);

    /* the command line, same flags: the same data and the same weights, bit for bit */
    char command[4096];
    int at = snprintf(command, sizeof command, "%s train", ARITH_BINARY);
    for (int i = 0; i < TINY_FLAGS; i++)
        at += snprintf(command + at, sizeof command - at, " --%s %s", tiny_flags[i][0],
                       tiny_flags[i][1]);
    snprintf(command + at, sizeof command - at, " --run %s >/dev/null 2>&1", run_cli);
    CHECK_EQ_INT(system(command), 0);
    same_file(run_api, run_cli, "train.csv", false);
    same_file(run_api, run_cli, "test.csv", false);
    same_file(run_api, run_cli, "last.safetensors", true);
    same_file(run_api, run_cli, "best.safetensors", true);
}

static void test_run(const char *run_dir, const char *base, const arith_eval_result *final)
{
    arith_run *run = NULL;
    CHECK_API(arith_run_open(run_dir, "best", &run));
    if (!run)
        return;
    char answer[64];
    CHECK_API(arith_run_predict(run, "12+34=", answer, sizeof answer));
    CHECK_STR(answer, "46");
    CHECK_API(arith_run_predict(run, "12+34", answer, sizeof answer)); /* '=' added */
    CHECK_STR(answer, "46");
    CHECK_API(arith_run_predict(run, "12+34=", answer, 3)); /* "46" and its NUL just fit */
    CHECK_STR(answer, "46");

    /* many prompts at once: the same answers as one by one, and mostly right */
    enum { N = 24 };
    char text[N][16];
    const char *prompts[N];
    char *answers[N];
    int right = 0;
    for (int i = 0; i < N; i++) {
        int a = (i * 37 + 5) % 100, b = (i * 53 + 11) % 100;
        snprintf(text[i], sizeof text[i], "%d+%d=", a, b);
        prompts[i] = text[i];
    }
    CHECK_API(arith_run_predict_batch(run, prompts, N, answers));
    for (int i = 0; i < N; i++) {
        int a = 0, b = 0;
        sscanf(text[i], "%d+%d=", &a, &b);
        right += answers[i] && atoi(answers[i]) == a + b;
        CHECK_API(arith_run_predict(run, prompts[i], answer, sizeof answer));
        CHECK_STR(answers[i], answer);
        arith_string_free(answers[i]);
    }
    CHECK_MSG(right >= N - 2, "%d of %d batch answers right", right, N);

    arith_eval_result e;
    CHECK_API(arith_run_evaluate(run, 0, &e));
    CHECK_EQ_INT(e.total, 300);
    CHECK_MSG(e.accuracy >= 0.9, "best checkpoint's exact match %.4f", e.accuracy);
    CHECK(e.edge_total > 0 && e.edge_correct <= e.edge_total && isnan(e.loss));
    CHECK_API(arith_run_evaluate(run, 50, &e));
    CHECK_EQ_INT(e.total, 50);
    char *json = NULL;
    CHECK_API(arith_run_config_json(run, &json));
    CHECK(json && strstr(json, "\"digits\":\t\"1..2\"") && strstr(json, "\"d-model\":\t64"));
    arith_string_free(json);

    /* errors: a prompt the tokenizer cannot read, a buffer too small */
    CHECK_FAILS(arith_run_predict(run, "1x+2=", answer, sizeof answer), ARITH_ERR_DATA,
                "character 'x' at position 2 of \"1x+2=\" is not in the pairs tokenizer's "
                "vocabulary (0-9 + =)");
    CHECK_FAILS(arith_run_predict(run, "12+34=", answer, 2), ARITH_ERR_ARG,
                "the answer to \"12+34=\" needs 3 bytes, cap is 2");
    CHECK_STR(answer, "");
    CHECK_FAILS(arith_run_predict(run, "12+34=", answer, 0), ARITH_ERR_ARG,
                "arith_run_predict: no room for an answer (answer given, cap 0)");
    const char *bad[] = {"1+2=", "3+?=", "5+6="};
    char *got[3] = {(char *)"x", (char *)"y", (char *)"z"};
    CHECK_FAILS(arith_run_predict_batch(run, bad, 3, got), ARITH_ERR_DATA,
                "prompt 2: character '?' at position 3 of \"3+?=\" is not in the pairs "
                "tokenizer's vocabulary (0-9 + =)");
    CHECK(!got[0] && !got[1] && !got[2]);
    arith_run_close(run);

    /* the last checkpoint: its exact match is the training's final one */
    CHECK_API(arith_run_open(run_dir, "last", &run));
    if (run) {
        CHECK_API(arith_run_evaluate(run, 0, &e));
        CHECK_EQ_INT(e.correct, final->correct);
        CHECK_EQ_INT(e.edge_correct, final->edge_correct);
        CHECK_EQ_INT(e.carry_total, final->carry_total);
        CHECK_EQ_INT(e.carry_correct, final->carry_correct);
        arith_run_close(run);
    }

    /* errors: a missing directory, a checkpoint other than best or last */
    char path[1100], message[1200];
    snprintf(path, sizeof path, "%s/no-such-run", base);
    snprintf(message, sizeof message, "%s: no such run directory", path);
    run = (arith_run *)1;
    CHECK_FAILS(arith_run_open(path, "best", &run), ARITH_ERR_IO, message);
    CHECK(run == NULL);
    snprintf(message, sizeof message, "%s: unknown checkpoint 'middle' (valid: best, last)",
             run_dir);
    CHECK_FAILS(arith_run_open(run_dir, "middle", &run), ARITH_ERR_ARG, message);
    CHECK_FAILS(arith_run_open(run_dir, "best", NULL), ARITH_ERR_ARG,
                "arith_run_open: out is NULL");
}

int main(void)
{
    char base[] = "/tmp/arith_test_api_XXXXXX";
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    char run_api[64], run_cli[64];
    snprintf(run_api, sizeof run_api, "%s/api", base);
    snprintf(run_cli, sizeof run_cli, "%s/cli", base);
    test_general();
    test_config_errors(base);
    arith_eval_result final = {0};
    test_train(run_api, run_cli, &final);
    test_run(run_api, base, &final);
    char command[256];
    snprintf(command, sizeof command, "rm -rf '%s'", base);
    if (system(command) != 0)
        fprintf(stderr, "could not remove %s\n", base);
    return check_summary("test_api");
}
