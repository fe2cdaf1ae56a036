/* threads: OpenMP's run-time calls for code that must also build without OpenMP (the scalar
 * backend). With OpenMP this is <omp.h>; without it, one thread: `#pragma omp` lines are then
 * ignored (the scalar build passes -Wno-unknown-pragmas) and these stand in for the calls. */
#ifndef ARITH_NN_BACKEND_THREADS_H
#define ARITH_NN_BACKEND_THREADS_H

#ifdef _OPENMP
#include <omp.h>
#else
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
static inline int omp_get_max_threads(void) { return 1; }
static inline int omp_get_num_procs(void) { return 1; }
static inline int omp_in_parallel(void) { return 0; }
static inline void omp_set_num_threads(int n) { (void)n; }
#endif

#include <stddef.h>

/* This thread's share [*lo, *hi) of [0, n) in the current team: contiguous pieces, each a
 * multiple of align long (the last excepted). */
static inline void par_split(size_t n, size_t align, size_t *lo, size_t *hi)
{
    const size_t nt = (size_t)omp_get_num_threads(), id = (size_t)omp_get_thread_num();
    size_t per = (n + nt - 1) / nt;
    per = (per + align - 1) / align * align;
    *lo = id * per < n ? id * per : n;
    *hi = *lo + per < n ? *lo + per : n;
}

/* PAR_RANGE(n, align, worth, statements): runs the statements, which read the size_t range
 * [lo, hi), over [0, n). When `worth` holds and no parallel region is active, in one: a
 * non-empty par_split range per thread. Otherwise once, here, over all of [0, n) (when it is
 * not empty). A region inside a region (run_row_bands' bands, where the band is this thread's
 * share already) would run on one thread and still cost libgomp two futex system calls per
 * thread: kernels that opened one per call cost each decoding step of seed 001 some fifty. */
#define PAR_RANGE(n, align, worth, ...)                                                            \
    do {                                                                                           \
        const size_t par_n_ = (n);                                                                 \
        if ((worth) && !omp_in_parallel()) {                                                       \
            _Pragma("omp parallel")                                                                \
            {                                                                                      \
                size_t lo, hi;                                                                     \
                par_split(par_n_, (align), &lo, &hi);                                              \
                if (hi > lo) {                                                                     \
                    __VA_ARGS__;                                                                   \
                }                                                                                  \
            }                                                                                      \
        } else if (par_n_ > 0) {                                                                   \
            const size_t lo = 0, hi = par_n_;                                                      \
            __VA_ARGS__;                                                                           \
        }                                                                                          \
    } while (0)

#endif
