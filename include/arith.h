/* arith.h: the public C API of libarith. Train small networks on arithmetic the way
 * `arith train` does, open a saved run, ask it questions and measure its exact match.
 *
 *   arith_run *run;
 *   char answer[64];
 *   if (arith_run_open("runs/add9", "best", &run) != ARITH_OK ||
 *       arith_run_predict(run, "12+34=", answer, sizeof answer) != ARITH_OK)
 *       fprintf(stderr, "%s\n", arith_last_error());      // answer: "46"
 *   arith_run_close(run);
 *
 * Every call that can fail returns an arith_status and leaves a message naming the file, key
 * or value at fault, read with arith_last_error(); the library never prints and never exits.
 * Link with `pkg-config --cflags --libs arith` (add --static for libarith.a).
 *
 * Threads: one arith_run or arith_config is used by one thread at a time; error messages are
 * per thread. The thread count of the math kernels (OpenMP, oneDNN) is process-wide. A program
 * that shares the machine may want OMP_WAIT_POLICY=passive or GOMP_SPINCOUNT=1000 in its
 * environment (the CLI sets the latter itself): libgomp's threads otherwise spin for
 * milliseconds at every barrier, which costs 3-10x beside other busy processes. */
#ifndef ARITH_H
#define ARITH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ARITH_API __attribute__((visibility("default")))
#else
#define ARITH_API
#endif

#define ARITH_VERSION_MAJOR 0
#define ARITH_VERSION_MINOR 1
#define ARITH_VERSION_PATCH 0
#define ARITH_VERSION "0.1.0"

/* Longest path the library keeps (run directories), terminating NUL included. */
#define ARITH_PATH_MAX 1024

typedef enum {
    ARITH_OK = 0,
    ARITH_ERR_ARG,      /* a bad argument, flag or config value */
    ARITH_ERR_IO,       /* a file could not be opened, read or written */
    ARITH_ERR_FORMAT,   /* a file's contents do not parse */
    ARITH_ERR_DATA,     /* data that parses but cannot be used (unknown character, too long) */
    ARITH_ERR_MEMORY,   /* an allocation failed */
    ARITH_ERR_STATE,    /* an operation out of order (e.g. resume without a checkpoint) */
} arith_status;

/* ------------------------------------------------------------------------------- general */

/* The library's version, "MAJOR.MINOR.PATCH" (compare with ARITH_VERSION from this header). */
ARITH_API const char *arith_version(void);
/* A short name for a status ("ok", "bad argument", "i/o error", ...); never NULL. */
ARITH_API const char *arith_status_name(arith_status code);
/* The message of the last failed call on this thread (may hold a second line "hint: ...");
 * valid until the next failing call on this thread. Never NULL. */
ARITH_API const char *arith_last_error(void);
/* Sets the threads of the math kernels for predictions and evaluations (n <= 0: auto, the
 * CLI's default: the cores other processes leave free now, measured over 50 ms); training uses
 * its config's "threads". Returns the count. */
ARITH_API int32_t arith_set_threads(int32_t n);
/* Frees a string the library returned (arith_config_to_json, arith_run_config_json,
 * arith_run_predict_batch); NULL is fine. */
ARITH_API void arith_string_free(char *s);

/* Exact match on a set of examples. */
typedef struct {
    int32_t total;          /* examples answered */
    int32_t correct;        /* answered right: exact match (task symbolic: up to equivalence;
                               a regression head: the rounded number) */
    double accuracy;        /* correct / total (0 when total is 0) */
    double loss;            /* mean test loss, NAN when not measured */
    double seconds;         /* time spent answering */
    int32_t edge_total;     /* fixed edge cases of add and mul (9..9+1, 0+0, ...), 0 if none */
    int32_t edge_correct;
    int32_t carry_total;    /* add: the carry-aware test set (long carry chains, lengths apart,
                               zeros; the run's carry.csv), 0 if none */
    int32_t carry_correct;
} arith_eval_result;

/* ---------------------------------------------------------------------------------- runs */

/* A trained run, loaded for predictions: its config, tokenizer, test set and model. */
typedef struct arith_run arith_run;

/* Loads run_dir's checkpoint `which` ("best" or "last"; NULL: "best") with its config and test
 * set, as `arith predict` does. *out is NULL on failure. Close with arith_run_close. Errors:
 * ARITH_ERR_ARG (bad which), ARITH_ERR_IO (no such directory or checkpoint), ARITH_ERR_FORMAT
 * (also metadata or a config.json that contradicts the checkpoint's config), ARITH_ERR_DATA
 * (tensor data that does not match the checkpoint's checksum, always verified here, or a
 * non-finite weight). */
ARITH_API arith_status arith_run_open(const char *run_dir, const char *which, arith_run **out);
/* Frees everything the run holds; NULL is fine. */
ARITH_API void arith_run_close(arith_run *run);
/* The model's answer to one prompt ("12+34=" -> "46"; as `arith predict`, a missing final '='
 * is added) into answer[0..cap), NUL-terminated. ARITH_ERR_DATA names a prompt the tokenizer
 * cannot read; ARITH_ERR_ARG a cap too small for the answer (answer is then ""). */
ARITH_API arith_status arith_run_predict(arith_run *run, const char *prompt, char *answer,
                                         size_t cap);
/* Answers n prompts in batches (faster than one at a time): answers[i] receives a string that
 * the caller frees with arith_string_free. On failure every answers[i] is NULL and the message
 * names the prompt at fault ("prompt 3: ..."). */
ARITH_API arith_status arith_run_predict_batch(arith_run *run, const char *const *prompts,
                                               int32_t n, char **answers);
/* Greedy exact match on the first n examples of the run's test set (n <= 0: all), on the
 * edge cases and on the carry-aware test set, as `arith eval RUN_DIR` measures it. */
ARITH_API arith_status arith_run_evaluate(arith_run *run, int32_t n, arith_eval_result *out);
/* The run's whole config (task, data, model, optimization) as a JSON object whose keys are
 * arith_config_set's keys; *json is freed with arith_string_free. */
ARITH_API arith_status arith_run_config_json(const arith_run *run, char **json);

/* ------------------------------------------------------------------------------ training */

/* The options of `arith train`: every flag is a key ("digits", "d-model", "lr", "run", ...). */
typedef struct arith_config arith_config;

/* A config holding the defaults of `arith train` (seed 001's 9-digit addition). Free with
 * arith_config_free. */
ARITH_API arith_status arith_config_new(arith_config **out);
/* NULL is fine. */
ARITH_API void arith_config_free(arith_config *cfg);
/* Sets one option from text as the flag would: arith_config_set(cfg, "digits", "1..3").
 * ARITH_ERR_ARG names the key, the value and the valid choices or range; cfg is unchanged. */
ARITH_API arith_status arith_config_set(arith_config *cfg, const char *key, const char *value);
/* Sets the options of a JSON object as `arith train --config` reads it; `source` names it in
 * error messages (NULL: "config"). */
ARITH_API arith_status arith_config_load_json(arith_config *cfg, const char *json,
                                              const char *source);
/* arith_config_load_json of a file's contents (a recipe, say); errors name the path. */
ARITH_API arith_status arith_config_load_file(arith_config *cfg, const char *path);
/* Every option as a JSON object; *json is freed with arith_string_free. */
ARITH_API arith_status arith_config_to_json(const arith_config *cfg, char **json);

/* Progress of arith_train. Any member may be NULL. */
typedef struct {
    void *ctx;
    /* after every optimizer step (step counts from 1 to total) */
    void (*on_step)(void *ctx, int64_t step, int64_t total, int32_t epoch, double loss,
                    double lr, double steps_per_sec);
    /* after every evaluation on the test set; is_best when it saved a new best.safetensors */
    void (*on_eval)(void *ctx, int64_t step, int64_t total, const arith_eval_result *r,
                    bool is_best);
    /* the config's "samples" first test examples of each evaluation */
    void (*on_sample)(void *ctx, const char *prompt, const char *answer, const char *predicted,
                      bool correct);
} arith_train_callbacks;

typedef struct {
    char run_dir[ARITH_PATH_MAX]; /* where the run was saved (the "run" key, or runs/TASK-STAMP) */
    int64_t steps;                /* optimizer steps taken */
    arith_eval_result final;      /* the last evaluation, on the whole test set */
    double best;                  /* best.safetensors' test exact match (with best-by loss: its
                                     test loss); NAN when there is none */
    int64_t best_step;
} arith_train_result;

/* Trains one run exactly as `arith train` with these options does, and writes its directory
 * (config.json, train.csv, test.csv, metrics.jsonl, best/last.safetensors, training.svg).
 * cb and result may be NULL. Refuses "seeds" above 1 (ARITH_ERR_ARG: one call per seed) and a
 * directory that already holds a run (ARITH_ERR_STATE). */
ARITH_API arith_status arith_train(const arith_config *cfg, const arith_train_callbacks *cb,
                                   arith_train_result *result);

#ifdef __cplusplus
}
#endif

#endif
