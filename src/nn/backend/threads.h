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

#endif
