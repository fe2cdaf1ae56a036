/* core: errors, seeded RNG, the named-parameter table, threads and timing. Everything else in
 * arith builds on this header; it depends on nothing but libc (and OpenMP, when built with it).
 * Matrix products and the other tensor ops live in nn's backend (nn/backend/backend.h). */
#ifndef ARITH_CORE_H
#define ARITH_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* arith_status, ARITH_VERSION and the other public names: one definition, in the public header. */
#include "arith.h"

/* ------------------------------------------------------------------------------------------ */
/* Errors. Library calls return an arith_status and leave a message (thread-local) that names
 * the file, line, flag or value at fault; only the CLI prints it and exits. */

#if defined(__GNUC__)
#define ARITH_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ARITH_PRINTF(a, b)
#endif

/* Sets the current error message (printf-style) and returns `code`, so callers can write
 * `return arith_error(ARITH_ERR_IO, "%s: cannot open: %s", path, strerror(errno));`.
 * A message may hold a second line starting with "hint: ". */
arith_status arith_error(arith_status code, const char *fmt, ...) ARITH_PRINTF(2, 3);
/* Prepends context ("while loading X: ") to the current message; returns `code`. */
arith_status arith_error_wrap(arith_status code, const char *fmt, ...) ARITH_PRINTF(2, 3);
const char *arith_error_message(void);
void arith_error_clear(void);
/* arith_status_name is public: declared in arith.h. */

/* Allocation helpers that set an error message on failure. Memory from arith_alloc is
 * 64-byte aligned and zeroed; free it with arith_free. */
void *arith_alloc(size_t bytes);
void arith_free(void *p);

/* ------------------------------------------------------------------------------------------ */
/* Random numbers: xoshiro256** seeded through splitmix64. Explicit state, passed by pointer;
 * saved in checkpoints as four u64 words. */

typedef struct {
    uint64_t s[4];
} rng_state;

void rng_seed(rng_state *rng, uint64_t seed);
uint64_t rng_u64(rng_state *rng);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t rng_below(rng_state *rng, uint64_t n);
/* Uniform float in [0, 1). */
float rng_uniform(rng_state *rng);
/* Standard normal (Box-Muller). */
float rng_normal(rng_state *rng);
/* Fisher-Yates shuffle of n int32 values. */
void rng_shuffle_i32(rng_state *rng, int32_t *values, size_t n);
/* A stateless, counter-based hash: the same (key, counter) always gives the same 64 bits.
 * Used for dropout masks so that they are identical whatever the number of threads. */
static inline uint64_t rng_hash(uint64_t key, uint64_t counter)
{
    /* splitmix64's finalizer over key ^ counter * (an odd constant) */
    uint64_t z = key ^ (counter * 0xd1342543de82ef95ULL);
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ------------------------------------------------------------------------------------------ */
/* The named-parameter table: one buffer of parameters, one of gradients, with named views.
 * Optimizers, clipping, freezing and checkpoints all walk this table. */

#define PARAM_NAME_MAX 96
#define PARAM_MAX_DIMS 4

/* How a parameter starts, recorded when it is declared: initialization walks the table in
 * declaration order (params_init_values), so the draws come in that order, one per element. */
typedef enum {
    PARAM_INIT_ZEROS = 0,  /* 0 */
    PARAM_INIT_CONSTANT,   /* a (layer-norm weights: 1) */
    PARAM_INIT_UNIFORM,    /* U(-a, a) as (2u - 1) a, u = rng_uniform */
    PARAM_INIT_NORMAL,     /* N(0, a^2) as a n, n = rng_normal */
} param_init_kind;

typedef struct {
    param_init_kind kind;
    float a;               /* the constant, the bound or the standard deviation */
} param_init;

param_init param_init_zeros(void);
param_init param_init_constant(float value);
param_init param_init_uniform(float bound);
param_init param_init_normal(float std);
/* Xavier (Glorot) uniform for a (fan_out, fan_in) matrix: U(+-sqrt(6 / (fan_in + fan_out))). */
param_init param_init_xavier(int64_t fan_out, int64_t fan_in);
/* nn.Linear's and nn.LSTM's default: U(+-1/sqrt(fan_in)). */
param_init param_init_fan_in(int64_t fan_in);

typedef struct {
    char name[PARAM_NAME_MAX];
    int ndim;
    int64_t shape[PARAM_MAX_DIMS];
    size_t offset;   /* in floats, into data and grad */
    size_t size;     /* number of floats */
    bool trainable;
    param_init init; /* how it starts (zeros unless declared otherwise) */
} param_view;

typedef struct {
    param_view *views;
    int count;
    int capacity;
    size_t total;    /* floats in all views */
    float *data;     /* (total) */
    float *grad;     /* (total) */
} param_table;

void params_init(param_table *table);
/* Declares a parameter; call before params_alloc. */
arith_status params_add(param_table *table, const char *name, int ndim, const int64_t *shape);
/* Allocates data and grad for every declared view (zeroed). */
arith_status params_alloc(param_table *table);
void params_free(param_table *table);
/* Fills every view by its declared init, in table order (the RNG's draws follow that order). */
void params_init_values(param_table *table, rng_state *rng);
/* Fills the views whose init draws nothing (zeros, constants), so that a created model holds
 * its fixed values (layer norms as the identity) before any initialization. */
void params_init_fixed(param_table *table);
/* The view with this exact name, or NULL. */
param_view *params_find(const param_table *table, const char *name);
/* Pointer into data (or grad) for the named view; NULL when absent. */
float *params_data(const param_table *table, const char *name);
float *params_grad(const param_table *table, const char *name);
/* Zeroes the gradients of the trainable views (a frozen view's gradient is never read). */
void params_zero_grad(param_table *table);
/* Number of floats in all views (total also counts alignment padding), and in trainable ones. */
size_t params_count(const param_table *table);
size_t params_count_trainable(const param_table *table);
/* Freezing by name: makes trainable exactly the views whose name contains one of the
 * comma-separated patterns (seed 003's `'ln' in name or 'wpe' in name` is "ln,wpe"); every other
 * view is frozen. A pattern that matches no view is an error naming it (and `flag`), with
 * nothing changed. */
arith_status params_set_trainable(param_table *table, const char *patterns, const char *flag);
/* How many of x[0..n) are NaN or infinite; *first (may be NULL) gets the index of the first of
 * them, or n when there is none. Checkpoints refuse such weights: a diverged run's tensors are
 * never saved or loaded. */
size_t core_count_nonfinite(const float *x, size_t n, size_t *first);

/* ------------------------------------------------------------------------------------------ */
/* Suggestions for mistyped names (suggest.c): commands, flags, config keys, choices. */

/* The edit distance of a and b: insertions, deletions, substitutions and swaps of neighbours
 * ("trian" is 1 from "train"), case-insensitive, '_' alike '-'; 64 past 63 characters. */
int suggest_distance(const char *a, const char *b);
/* The names[0..n-1] that `typed` most likely meant, into out (at most max_out indices, in
 * names' order); returns how many. The first rule that finds any decides: the same name but
 * for case and '_'; the names 1 edit away; the names that start with `typed` (2 characters
 * or more); the names 2 edits away (fewer edits than `typed` has characters); the longest
 * names that are a '-'/'_'-separated word of `typed` ("batch" in "batch-size"). */
int suggest_names(const char *typed, const char *const *names, int n, int *out, int max_out);

/* ------------------------------------------------------------------------------------------ */
/* Threads and time. */

/* Sets the thread count for OpenMP loops, which the backend's products follow. n <= 0 means
 * "auto": the cores that other programs leave free now (core_busy_cores, measured over 50 ms),
 * or all of them when none is free (then every core is shared, and more threads get more of it). Threads that wait for each other lose far more than their share when another
 * program holds one of their cores, so a busy machine is better served by fewer of them.
 * Returns the count in effect: always 1 in a build without OpenMP (the scalar backend). */
int core_set_threads(int n);
int core_threads(void);
/* Bounds how long OpenMP's waiting threads spin before they sleep (GOMP_SPINCOUNT), so that a
 * busy machine does not take 3-10x from every parallel loop. libgomp reads the setting only
 * when it loads, so this sets it and executes the program again (/proc/self/exe, with argv);
 * it returns at once where OMP_WAIT_POLICY or GOMP_SPINCOUNT is set (the user's choice, or the
 * second start), under valgrind, and in builds without OpenMP. Call it first thing in main. */
void core_bound_spinning(char **argv);
/* How the last core_set_threads chose: "auto: 2 cores, 0.0 busy" or "set" (text for a run's
 * header). */
const char *core_threads_reason(void);
/* Cores kept busy by other processes over the next `seconds` (from /proc/stat, less this
 * process's own CPU time); -1 where that cannot be read. Sleeps `seconds`. */
double core_busy_cores(double seconds);
/* Monotonic seconds. */
double time_now(void);
/* Peak resident set size of this process in bytes (0 when unknown). */
size_t core_peak_rss(void);

#endif
