/* What the C sides of the benchmarks share: percentiles of step times. */
#ifndef ARITH_BENCH_UTIL_H
#define ARITH_BENCH_UTIL_H

/* qsort comparator for doubles, ascending. */
static inline int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (0..1) of n sorted values, linearly interpolated. */
static inline double percentile(const double *sorted, int n, double q)
{
    double at = q * (n - 1);
    int lo = (int)at;
    int hi = lo + 1 < n ? lo + 1 : lo;
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

#endif
