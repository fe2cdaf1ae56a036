/* fastmath: the run-time choice of instruction set for nn's dispatched kernels (fastmath.h). */
#include "nn/fastmath.h"

/* -1 until first asked; then the CPU's level. Read and written with relaxed atomics: every
 * thread that races computes the same value. */
static int detected = -1;
static int cap = -1;

static int detect(void)
{
#if FAST_X86_DISPATCH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return FAST_LEVEL_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return FAST_LEVEL_AVX2;
#endif
    return FAST_LEVEL_PLAIN;
}

int fast_level(void)
{
    int level = __atomic_load_n(&detected, __ATOMIC_RELAXED);
    if (level < 0) {
        level = detect();
        __atomic_store_n(&detected, level, __ATOMIC_RELAXED);
    }
    const int c = __atomic_load_n(&cap, __ATOMIC_RELAXED);
    return c >= 0 && c < level ? c : level;
}

void fast_force_level(int level)
{
    __atomic_store_n(&cap, level, __ATOMIC_RELAXED);
}
