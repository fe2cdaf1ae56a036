/* The machine's FP32 FMA peak, measured: a loop of independent fused multiply-adds in registers
 * (no memory traffic), 512-bit (AVX-512F) and 256-bit (AVX2 + FMA), on 1 and 2 threads. It is
 * the ceiling the benchmarks' GFLOP/s are compared with: "% of peak" = GFLOP/s / the 2-thread
 * peak of the widest unit the CPU has.
 *
 * Each thread keeps PEAK_ACC accumulators, acc = acc * m + c (m just below 1, so nothing
 * overflows or goes subnormal), so that PEAK_ACC FMAs are in flight: enough to cover an FMA
 * latency of 4 cycles on 2 pipes (8 needed) with room to spare. One 512-bit FMA is 32 FLOP
 * (16 lanes x multiply + add), one 256-bit FMA 16. Threads are pthreads, not OpenMP, so that
 * this also builds for the scalar backend; each run takes ~7-15 ms and the best of PEAK_REPS is
 * kept (other programs on the machine only ever make a run slower).
 *
 * peak_measure(bits, threads) returns GFLOP/s, or 0 where the CPU (or the compiler) cannot run
 * that width: callers print "n/a". Checked at run time with __builtin_cpu_supports. */
#ifndef ARITH_BENCH_PEAK_H
#define ARITH_BENCH_PEAK_H

#include <pthread.h>
#include <stdio.h>
#include <time.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define PEAK_X86 1
#else
#define PEAK_X86 0
#endif

#define PEAK_ACC 12
#define PEAK_REPS 15
#define PEAK_ITERS 4000000L /* x 12 FMAs: ~48 M instructions, ~7 ms on a 3.4 GHz Zen 5 core */

static inline double peak_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#if PEAK_X86
/* PEAK_ACC named accumulators (not an array, which compilers keep in memory), one FMA each per
 * iteration; the empty asm statements keep them in registers and stop the loop being folded. */
#define PEAK_FMA12(fma, m, c)                                                                  \
    do {                                                                                       \
        a0 = fma(a0, m, c), a1 = fma(a1, m, c), a2 = fma(a2, m, c), a3 = fma(a3, m, c);         \
        a4 = fma(a4, m, c), a5 = fma(a5, m, c), a6 = fma(a6, m, c), a7 = fma(a7, m, c);         \
        a8 = fma(a8, m, c), a9 = fma(a9, m, c), a10 = fma(a10, m, c), a11 = fma(a11, m, c);     \
    } while (0)
#define PEAK_KEEP(r)                                                                           \
    __asm__ volatile("" : "+" r(a0), "+" r(a1), "+" r(a2), "+" r(a3), "+" r(a4), "+" r(a5));  \
    __asm__ volatile("" : "+" r(a6), "+" r(a7), "+" r(a8), "+" r(a9), "+" r(a10), "+" r(a11))

/* FLOP done (returned), iters x PEAK_ACC x 32. *sink keeps the result alive. */
__attribute__((target("avx512f"))) static double peak_loop_512(long iters, float *sink)
{
    const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
    __m512 a0 = _mm512_set1_ps(0), a1 = _mm512_set1_ps(1), a2 = _mm512_set1_ps(2),
           a3 = _mm512_set1_ps(3), a4 = _mm512_set1_ps(4), a5 = _mm512_set1_ps(5),
           a6 = _mm512_set1_ps(6), a7 = _mm512_set1_ps(7), a8 = _mm512_set1_ps(8),
           a9 = _mm512_set1_ps(9), a10 = _mm512_set1_ps(10), a11 = _mm512_set1_ps(11);
    for (long it = 0; it < iters; it++) {
        PEAK_KEEP("v");
        PEAK_FMA12(_mm512_fmadd_ps, m, c);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    *sink = _mm512_reduce_add_ps(s);
    return (double)iters * PEAK_ACC * 32.0;
}

__attribute__((target("avx2,fma"))) static double peak_loop_256(long iters, float *sink)
{
    const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
    __m256 a0 = _mm256_set1_ps(0), a1 = _mm256_set1_ps(1), a2 = _mm256_set1_ps(2),
           a3 = _mm256_set1_ps(3), a4 = _mm256_set1_ps(4), a5 = _mm256_set1_ps(5),
           a6 = _mm256_set1_ps(6), a7 = _mm256_set1_ps(7), a8 = _mm256_set1_ps(8),
           a9 = _mm256_set1_ps(9), a10 = _mm256_set1_ps(10), a11 = _mm256_set1_ps(11);
    for (long it = 0; it < iters; it++) {
        PEAK_KEEP("x");
        PEAK_FMA12(_mm256_fmadd_ps, m, c);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    *sink = lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
    return (double)iters * PEAK_ACC * 16.0;
}
#endif

typedef struct {
    int bits;
    long iters;
    float sink;
} peak_job;

static inline void *peak_thread(void *arg)
{
    peak_job *j = arg;
#if PEAK_X86
    if (j->bits == 512)
        peak_loop_512(j->iters, &j->sink);
    else
        peak_loop_256(j->iters, &j->sink);
#endif
    return NULL;
}

/* Whether this CPU runs `bits`-wide FMAs (512: avx512f; 256: avx2 and fma). */
static inline int peak_supported(int bits)
{
#if PEAK_X86
    __builtin_cpu_init();
    if (bits == 512)
        return __builtin_cpu_supports("avx512f");
    if (bits == 256)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    (void)bits;
    return 0;
}

/* Best-of-PEAK_REPS FP32 FMA throughput in GFLOP/s of `threads` threads (1..8) at width `bits`
 * (512 or 256); 0 when unsupported or a thread cannot start. */
static inline double peak_measure(int bits, int threads)
{
    if (!peak_supported(bits) || threads < 1 || threads > 8)
        return 0;
    double best = 0;
    for (int rep = 0; rep < PEAK_REPS; rep++) {
        pthread_t tid[8];
        peak_job jobs[8];
        int started = 0;
        double t0 = peak_now();
        for (int t = 0; t < threads; t++) {
            jobs[t] = (peak_job){bits, PEAK_ITERS, 0};
            if (t == 0)
                continue;
            if (pthread_create(&tid[t], NULL, peak_thread, &jobs[t]) != 0)
                break;
            started++;
        }
        peak_thread(&jobs[0]);
        for (int t = 1; t <= started; t++)
            pthread_join(tid[t], NULL);
        double dt = peak_now() - t0;
        if (started != threads - 1)
            return 0;
        double flop = (double)threads * PEAK_ITERS * PEAK_ACC * (bits == 512 ? 32.0 : 16.0);
        if (dt > 0 && flop / dt / 1e9 > best)
            best = flop / dt / 1e9;
    }
    return best;
}

/* The figure "% of peak" is taken against: the 2-thread peak of the widest width supported
 * (0 when none is). */
static inline double peak_reference(int *bits)
{
    int w = peak_supported(512) ? 512 : peak_supported(256) ? 256 : 0;
    if (bits)
        *bits = w;
    return w ? peak_measure(w, 2) : 0;
}

/* "123.4" or "n/a" into buf. */
static inline const char *peak_text(char *buf, size_t size, double gflops)
{
    if (gflops > 0)
        snprintf(buf, size, "%.1f", gflops);
    else
        snprintf(buf, size, "n/a");
    return buf;
}

#endif
