/* core: errors, RNG, the parameter table, threads and timing. */
#define _POSIX_C_SOURCE 200809L
#include "core/core.h"
#include "core/dist.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* ---------------------------------------------------------------------------------- errors */

static _Thread_local char error_message[2048];

arith_status arith_error(arith_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    return code;
}

arith_status arith_error_wrap(arith_status code, const char *fmt, ...)
{
    char prefix[1024];
    char old[sizeof error_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, error_message, sizeof old);
    size_t lp = strlen(prefix), lo = strlen(old);
    if (lp > sizeof error_message - 1)
        lp = sizeof error_message - 1;
    if (lo > sizeof error_message - 1 - lp)
        lo = sizeof error_message - 1 - lp;
    memcpy(error_message, prefix, lp);
    memcpy(error_message + lp, old, lo);
    error_message[lp + lo] = '\0';
    return code;
}

const char *arith_error_message(void)
{
    return error_message[0] ? error_message : "no error message";
}

void arith_error_clear(void)
{
    error_message[0] = '\0';
}

const char *arith_status_name(arith_status code)
{
    switch (code) {
    case ARITH_OK: return "ok";
    case ARITH_ERR_ARG: return "bad argument";
    case ARITH_ERR_IO: return "i/o error";
    case ARITH_ERR_FORMAT: return "format error";
    case ARITH_ERR_DATA: return "data error";
    case ARITH_ERR_MEMORY: return "out of memory";
    case ARITH_ERR_STATE: return "state error";
    }
    return "unknown error";
}

/* calloc, not aligned_alloc and memset: a large block comes from fresh pages the kernel has
 * zeroed, which glibc does not clear again, so a workspace planned for a training step costs
 * nothing for the buffers a generation never touches (clearing them faulted in every page:
 * 2 s of a 6,400-answer evaluation at batch 256). The block starts 64 bytes early, with the
 * calloc'd address stored just before the aligned one, for arith_free. */
void *arith_alloc(size_t bytes)
{
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded == 0)
        rounded = 64;
    if (rounded > SIZE_MAX - 64) {
        arith_error(ARITH_ERR_MEMORY, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    unsigned char *raw = calloc(1, rounded + 64);
    if (!raw) {
        arith_error(ARITH_ERR_MEMORY, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    unsigned char *p = raw + 64 - (uintptr_t)raw % 64;
    memcpy(p - sizeof raw, &raw, sizeof raw);
    return p;
}

void arith_free(void *p)
{
    if (!p)
        return;
    void *raw;
    memcpy(&raw, (unsigned char *)p - sizeof raw, sizeof raw);
    free(raw);
}

/* ------------------------------------------------------------------------------------- rng */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void rng_seed(rng_state *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
}

uint64_t rng_u64(rng_state *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t rng_below(rng_state *rng, uint64_t n)
{
    /* Rejection sampling: draw until the value falls below the largest multiple of n. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = rng_u64(rng);
    } while (x >= limit);
    return x % n;
}

float rng_uniform(rng_state *rng)
{
    return (float)(rng_u64(rng) >> 40) * (1.0f / 16777216.0f);
}

float rng_normal(rng_state *rng)
{
    double u1 = ((double)(rng_u64(rng) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double u2 = (double)(rng_u64(rng) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void rng_shuffle_i32(rng_state *rng, int32_t *values, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(rng, i);
        int32_t t = values[i - 1];
        values[i - 1] = values[j];
        values[j] = t;
    }
}


/* ------------------------------------------------------------------------- parameter table */

void params_init(param_table *table)
{
    memset(table, 0, sizeof *table);
}

arith_status params_add(param_table *table, const char *name, int ndim, const int64_t *shape)
{
    if (table->data)
        return arith_error(ARITH_ERR_STATE, "params_add(%s): table already allocated", name);
    if (ndim < 1 || ndim > PARAM_MAX_DIMS)
        return arith_error(ARITH_ERR_ARG, "params_add(%s): %d dimensions", name, ndim);
    if (strlen(name) >= PARAM_NAME_MAX)
        return arith_error(ARITH_ERR_ARG, "parameter name too long: %s", name);
    if (params_find(table, name))
        return arith_error(ARITH_ERR_ARG, "duplicate parameter name: %s", name);
    if (table->count == table->capacity) {
        int cap = table->capacity ? table->capacity * 2 : 64;
        param_view *v = realloc(table->views, (size_t)cap * sizeof *v);
        if (!v)
            return arith_error(ARITH_ERR_MEMORY, "out of memory growing the parameter table");
        table->views = v;
        table->capacity = cap;
    }
    param_view *v = &table->views[table->count++];
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name);
    v->ndim = ndim;
    v->size = 1;
    for (int i = 0; i < ndim; i++) {
        v->shape[i] = shape[i];
        v->size *= (size_t)shape[i];
    }
    v->offset = table->total;
    /* Keep every view 16-float (64-byte) aligned. */
    table->total += (v->size + 15) / 16 * 16;
    v->trainable = true;
    return ARITH_OK;
}

arith_status params_alloc(param_table *table)
{
    table->data = arith_alloc(table->total * sizeof(float));
    table->grad = arith_alloc(table->total * sizeof(float));
    if (!table->data || !table->grad) {
        arith_free(table->data);
        arith_free(table->grad);
        table->data = table->grad = NULL;
        return ARITH_ERR_MEMORY;
    }
    return ARITH_OK;
}

void params_free(param_table *table)
{
    free(table->views);
    arith_free(table->data);
    arith_free(table->grad);
    memset(table, 0, sizeof *table);
}

param_init param_init_zeros(void)
{
    return (param_init){PARAM_INIT_ZEROS, 0.0f};
}

param_init param_init_constant(float value)
{
    return (param_init){PARAM_INIT_CONSTANT, value};
}

param_init param_init_uniform(float bound)
{
    return (param_init){PARAM_INIT_UNIFORM, bound};
}

param_init param_init_normal(float std)
{
    return (param_init){PARAM_INIT_NORMAL, std};
}

param_init param_init_xavier(int64_t fan_out, int64_t fan_in)
{
    return param_init_uniform(sqrtf(6.0f / (float)(fan_out + fan_in)));
}

param_init param_init_fan_in(int64_t fan_in)
{
    return param_init_uniform(1.0f / sqrtf((float)fan_in));
}

/* One view's values; draws only when `draw` (else random inits are left alone). */
static void view_init(const param_view *v, float *x, rng_state *rng, bool draw)
{
    const float a = v->init.a;
    switch (v->init.kind) {
    case PARAM_INIT_ZEROS:
        memset(x, 0, v->size * sizeof(float));
        return;
    case PARAM_INIT_CONSTANT:
        for (size_t j = 0; j < v->size; j++)
            x[j] = a;
        return;
    case PARAM_INIT_UNIFORM:
        for (size_t j = 0; draw && j < v->size; j++)
            x[j] = (2.0f * rng_uniform(rng) - 1.0f) * a;
        return;
    case PARAM_INIT_NORMAL:
        for (size_t j = 0; draw && j < v->size; j++)
            x[j] = a * rng_normal(rng);
        return;
    }
}

void params_init_values(param_table *table, rng_state *rng)
{
    for (int i = 0; i < table->count; i++)
        view_init(&table->views[i], table->data + table->views[i].offset, rng, true);
}

void params_init_fixed(param_table *table)
{
    for (int i = 0; i < table->count; i++)
        view_init(&table->views[i], table->data + table->views[i].offset, NULL, false);
}

param_view *params_find(const param_table *table, const char *name)
{
    for (int i = 0; i < table->count; i++)
        if (strcmp(table->views[i].name, name) == 0)
            return &table->views[i];
    return NULL;
}

float *params_data(const param_table *table, const char *name)
{
    param_view *v = params_find(table, name);
    return v && table->data ? table->data + v->offset : NULL;
}

float *params_grad(const param_table *table, const char *name)
{
    param_view *v = params_find(table, name);
    return v && table->grad ? table->grad + v->offset : NULL;
}

void params_zero_grad(param_table *table)
{
    /* only trainable views: nothing reads a frozen view's gradient, and a frozen GPT-2's
     * matrices would cost a memset of hundreds of megabytes per step */
    for (int i = 0; i < table->count; i++) {
        const param_view *v = &table->views[i];
        if (v->trainable)
            memset(table->grad + v->offset, 0, v->size * sizeof(float));
    }
}

size_t core_count_nonfinite(const float *x, size_t n, size_t *first)
{
    size_t count = 0, at = n;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            if (count++ == 0)
                at = i;
        }
    if (first)
        *first = at;
    return count;
}

arith_status params_set_trainable(param_table *table, const char *patterns, const char *flag)
{
    char buf[512];
    if (strlen(patterns) >= sizeof buf)
        return arith_error(ARITH_ERR_ARG, "%s: pattern list too long", flag);
    /* first pass: every pattern must match something */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            for (int i = 0; i < table->count; i++)
                table->views[i].trainable = false;
        strcpy(buf, patterns);
        int n = 0;
        for (char *save = NULL, *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
            while (*p == ' ')
                p++;
            if (!*p)
                continue;
            n++;
            int hits = 0;
            for (int i = 0; i < table->count; i++)
                if (strstr(table->views[i].name, p)) {
                    hits++;
                    if (pass == 1)
                        table->views[i].trainable = true;
                }
            if (hits == 0)
                return arith_error(ARITH_ERR_ARG, "%s: '%s' matches no parameter name (names "
                                   "look like '%s')", flag, p,
                                   table->count ? table->views[table->count / 2].name : "");
        }
        if (n == 0)
            return arith_error(ARITH_ERR_ARG, "%s: no pattern given", flag);
    }
    return ARITH_OK;
}

size_t params_count(const param_table *table)
{
    size_t n = 0;
    for (int i = 0; i < table->count; i++)
        n += table->views[i].size;
    return n;
}

size_t params_count_trainable(const param_table *table)
{
    size_t n = 0;
    for (int i = 0; i < table->count; i++)
        if (table->views[i].trainable)
            n += table->views[i].size;
    return n;
}

/* ------------------------------------------------------------------------- threads, timing */

static int thread_count = 1; /* set by core_set_threads */
/* libgomp's rounds of spinning before a waiting thread sleeps (core_bound_spinning). Seed 001's
 * step on 2 threads, medians of runs in a row (ms; default 300,000 / 1,000 / 300 / 0 rounds):
 * idle machine 27.4 / 27.8 / 30.1 / 33.7; beside 3 busy loops 233 / 108 / 98 / 96; beside one,
 * 60 / 69 / - / 53, while 10,000-30,000 rounds took 140-260 there (--threads auto leaves that
 * core alone anyway: 48). */
#define CORE_SPIN_COUNT "1000"
static char thread_reason[64] = "set";

/* Jiffies of all CPUs from /proc/stat's first line: *busy = all but idle and iowait. */
static bool cpu_jiffies(unsigned long long *total, unsigned long long *busy)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return false;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 4)
        return false;
    *total = 0;
    for (int i = 0; i < 8; i++)
        *total += v[i];
    *busy = *total - v[3] - v[4];
    return true;
}

static double process_cpu_seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double core_busy_cores(double seconds)
{
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned long long t0, b0, t1, b1;
    if (online < 1 || !cpu_jiffies(&t0, &b0))
        return -1;
    const double self0 = process_cpu_seconds(), wall0 = time_now();
    struct timespec nap = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&nap, &nap) != 0)
        ;
    if (!cpu_jiffies(&t1, &b1) || t1 <= t0)
        return -1;
    /* the jiffies cover every online CPU: their share busy, times the CPUs, less our own part */
    const double busy = (double)(b1 - b0) / (double)(t1 - t0) * (double)online;
    const double wall = time_now() - wall0;
    const double self = wall > 0 ? (process_cpu_seconds() - self0) / wall : 0;
    const double others = busy - self;
    return others > 0 ? others : 0;
}

int core_set_threads(int n)
{
#ifdef _OPENMP
    snprintf(thread_reason, sizeof thread_reason, "set");
    /* one reading serves the calls of the next second (a command sets its threads, then opens
     * a run, which sets them again) */
    static double auto_at = -10.0;
    static int auto_n = 1;
    static char auto_reason[sizeof thread_reason];
    if (n <= 0 && time_now() - auto_at < 1.0) {
        n = auto_n;
        snprintf(thread_reason, sizeof thread_reason, "%s", auto_reason);
    } else if (n <= 0) {
        /* ranks of one MPI job on this machine share its cores (mpirun's binding may already
         * have given each rank its own) */
        const int local = dist_local_size(), procs = omp_get_num_procs();
        const int cores = local > 1 && procs >= local ? procs / local : procs;
        n = cores;
        if (cores > 1) {
            const double busy = core_busy_cores(0.05);
            if (busy >= 0) {
                /* A core counts as taken when others keep it over half busy; the free ones
                 * are ours. When none is free, the scheduler shares every core anyway, and a
                 * thread per core gets the larger share: beside 3 busy loops on 2 cores,
                 * seed 000's step took 80 ms on 2 threads, 119 on 1 (seed 001: 107, 115). */
                const int taken = (int)(busy + 0.5);
                n = taken >= cores ? cores : cores - taken;
                snprintf(thread_reason, sizeof thread_reason, "auto: %d cores, %.1f busy", cores,
                         busy);
            } else {
                snprintf(thread_reason, sizeof thread_reason, "auto: %d cores", cores);
            }
        } else {
            snprintf(thread_reason, sizeof thread_reason, "auto: 1 core");
        }
        auto_at = time_now();
        auto_n = n;
        snprintf(auto_reason, sizeof auto_reason, "%s", thread_reason);
    }
    omp_set_num_threads(n);
#else
    n = 1; /* built without OpenMP: everything runs on the calling thread */
    snprintf(thread_reason, sizeof thread_reason, "no OpenMP in this build");
#endif
    thread_count = n;
    return n;
}

/* OpenMP's threads wait for each other at the end of every parallel loop. libgomp spins there
 * for 300,000 rounds (milliseconds) before it sleeps: fine on idle cores, ruinous when another
 * program wants the core, since the spinning thread burns the time slice that the thread it
 * waits for needs (seed 001's step ran 3x slower beside one busy process, 10x beside three).
 * libgomp reads its spin count from the environment once, when it loads, before main: so the
 * count is set and the program executed again. 1,000 rounds cost nothing on an idle machine and
 * halve the step beside three busy processes (CORE_SPIN_COUNT). */
void core_bound_spinning(char **argv)
{
#if defined(_OPENMP) && defined(__linux__)
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT"))
        return; /* the user's choice, or our own second start */
    const char *preload = getenv("LD_PRELOAD");
    if (preload && strstr(preload, "vgpreload"))
        return; /* under valgrind, which a new exec would leave */
    if (setenv("GOMP_SPINCOUNT", CORE_SPIN_COUNT, 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    /* exec failed: run on with libgomp's default */
#else
    (void)argv;
#endif
}

const char *core_threads_reason(void)
{
    return thread_reason;
}

int core_threads(void)
{
    return thread_count;
}

double time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

size_t core_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (size_t)ru.ru_maxrss * 1024;
}
