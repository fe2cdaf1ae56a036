/* The machine's FP32 FMA peak (bench_peak.h): 512-bit and 256-bit FMAs in registers on 1 and
 * 2 threads, best of 15 runs each, "n/a" where the CPU lacks the width. bench/run_*.sh print it
 * before their workloads and give each workload's GFLOP/s as a share of the 2-thread peak of
 * the widest width. Prints one line of text and, last, one JSON line:
 *   {"peak512_t1": ..., "peak512_t2": ..., "peak256_t1": ..., "peak256_t2": ...,
 *    "ref_bits": 512, "ref_gflops": ...}   (GFLOP/s; 0 = not supported)
 * A warning is printed when 2 threads reach less than 1.6x one thread's peak (another program
 * holds a core). Usage: bench_peak */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>

#include "bench_peak.h"

int main(int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "bench_peak: takes no options (got %s)\n", argv[1]);
        return 2;
    }
    double p[2][2];
    const int widths[2] = {512, 256};
    for (int w = 0; w < 2; w++)
        for (int t = 0; t < 2; t++)
            p[w][t] = peak_measure(widths[w], t + 1);
    int ref_bits = peak_supported(512) ? 512 : peak_supported(256) ? 256 : 0;
    double ref = ref_bits == 512 ? p[0][1] : ref_bits == 256 ? p[1][1] : 0;
    char a[32], b[32], c[32], d[32];
    printf("FP32 FMA peak, GFLOP/s (best of %d): 512-bit %s (1 thread), %s (2 threads); "
           "256-bit %s (1 thread), %s (2 threads)\n", PEAK_REPS, peak_text(a, sizeof a, p[0][0]),
           peak_text(b, sizeof b, p[0][1]), peak_text(c, sizeof c, p[1][0]),
           peak_text(d, sizeof d, p[1][1]));
    double one = ref_bits == 512 ? p[0][0] : p[1][0];
    if (ref > 0 && ref < 1.6 * one)
        printf("WARNING: 2 threads reach only %.2fx one thread's peak: another program holds a "
               "core (uptime's load), so the %% of peak figures below are against a low "
               "reference\n", ref / one);
    printf("{\"peak512_t1\": %.1f, \"peak512_t2\": %.1f, \"peak256_t1\": %.1f, "
           "\"peak256_t2\": %.1f, \"ref_bits\": %d, \"ref_gflops\": %.1f}\n", p[0][0], p[0][1],
           p[1][0], p[1][1], ref_bits, ref);
    return 0;
}
