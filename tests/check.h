/* check: the assertions every test executable shares. Each test is its own executable under
 * CTest; a failed check prints file:line and the values, and the executable exits non-zero.
 * CHECK_CLOSE reports the largest difference it saw, so a near miss is visible. */
#ifndef ARITH_CHECK_H
#define ARITH_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures = 0;
static int check_count = 0;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        check_count++;                                                                   \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);     \
            check_failures++;                                                            \
        }                                                                                \
    } while (0)

#define CHECK_MSG(cond, ...)                                                             \
    do {                                                                                 \
        check_count++;                                                                   \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                                \
            fputc('\n', stderr);                                                         \
            check_failures++;                                                            \
        }                                                                                \
    } while (0)

/* Status calls: print the library's message when one fails. */
#define CHECK_OK(expr)                                                                   \
    do {                                                                                 \
        check_count++;                                                                   \
        arith_status check_status_ = (expr);                                             \
        if (check_status_ != ARITH_OK) {                                                 \
            fprintf(stderr, "%s:%d: %s returned %s: %s\n", __FILE__, __LINE__, #expr,    \
                    arith_status_name(check_status_), arith_error_message());            \
            check_failures++;                                                            \
        }                                                                                \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                               \
    do {                                                                                 \
        check_count++;                                                                   \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                  \
        if (check_a_ != check_b_) {                                                      \
            fprintf(stderr, "%s:%d: CHECK_EQ_INT failed: %s = %lld, %s = %lld\n",        \
                    __FILE__, __LINE__, #a, check_a_, #b, check_b_);                     \
            check_failures++;                                                            \
        }                                                                                \
    } while (0)

#define CHECK_STR(a, b)                                                                  \
    do {                                                                                 \
        check_count++;                                                                   \
        const char *check_a_ = (a), *check_b_ = (b);                                     \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {                 \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s = \"%s\", %s = \"%s\"\n",       \
                    __FILE__, __LINE__, #a, check_a_ ? check_a_ : "(null)", #b,          \
                    check_b_ ? check_b_ : "(null)");                                     \
            check_failures++;                                                            \
        }                                                                                \
    } while (0)

/* Largest |a-b| / (atol + rtol*|b|) over n floats must be <= 1. Prints the worst index. */
static inline int check_close_impl(const char *file, int line, const char *what, const float *a,
                                   const float *b, size_t n, double atol, double rtol)
{
    double worst = 0, worst_diff = 0;
    size_t worst_i = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double r = d / (atol + rtol * fabs((double)b[i]));
        if (!(r <= worst) || isnan(d)) {
            worst = isnan(d) ? INFINITY : r;
            worst_diff = d;
            worst_i = i;
        }
    }
    check_count++;
    if (!(worst <= 1.0)) {
        fprintf(stderr, "%s:%d: %s: mismatch at [%zu]: got %.8g, want %.8g (|diff| %.3g, "
                "atol %.1g, rtol %.1g)\n", file, line, what, worst_i, (double)a[worst_i],
                (double)b[worst_i], worst_diff, atol, rtol);
        check_failures++;
        return 0;
    }
    if (getenv("CHECK_VERBOSE"))
        fprintf(stderr, "  %s: max |diff| %.3g over %zu values\n", what, worst_diff, n);
    return 1;
}

#define CHECK_CLOSE(what, a, b, n, atol, rtol)                                           \
    check_close_impl(__FILE__, __LINE__, (what), (a), (b), (n), (atol), (rtol))

/* The last line of every test executable. */
static inline int check_summary(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
