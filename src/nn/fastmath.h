/* fastmath: exp, sigmoid and tanh in float operations that vectorize (libm's expf and tanhf
 * are a call per element), within a few ulp; for the LSTM's gates and GPT-2's GELU. Internal
 * to nn/: include only from the nn module's sources.
 *
 * Run-time dispatch (x86 with GCC or Clang, FAST_X86_DISPATCH 1): a kernel's body is written
 * once as a FAST_INLINE function and compiled up to three times, plain (the build's flags,
 * SSE2 on x86-64), FAST_AVX2 (AVX2 + FMA) and FAST_AVX512 (AVX-512 F/DQ/BW/VL), one chosen per
 * call from fast_level(). FAST_CLONES and FAST_PICK spell this. The paths do the same
 * arithmetic in the same order (the build does not contract a * b + c into an FMA:
 * -ffp-contract=off), so an element-wise kernel gives the same bits on every path; a kernel
 * that sums keeps its order of additions on every path too. */
#ifndef ARITH_NN_FASTMATH_H
#define ARITH_NN_FASTMATH_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define FAST_INLINE static inline __attribute__((always_inline))
#else
#define FAST_INLINE static inline
#endif

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define FAST_X86_DISPATCH 1
#define FAST_AVX2 __attribute__((target("avx2,fma")))
#define FAST_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))
#else
#define FAST_X86_DISPATCH 0
#endif

/* The instruction sets a dispatched kernel may use. */
enum { FAST_LEVEL_PLAIN = 0, FAST_LEVEL_AVX2 = 1, FAST_LEVEL_AVX512 = 2 };

/* The level this CPU supports (CPUID, asked once and cached), or lower where fast_force_level
 * asked for it. */
int fast_level(void);
/* Tests only: cap fast_level at `level` (FAST_LEVEL_*; it never rises above what the CPU
 * has), so that a dispatched kernel can be checked against its plain path; -1 lifts the cap. */
void fast_force_level(int level);

static inline int fast_has_avx2(void)
{
    return fast_level() >= FAST_LEVEL_AVX2;
}

static inline int fast_has_avx512(void)
{
    return fast_level() >= FAST_LEVEL_AVX512;
}

/* FAST_CLONES(name, (params), (args)) defines name_plain, name_avx2 and name_avx512, static
 * functions with the given parameters that call name_body(args) (a FAST_INLINE function), each
 * compiled for its level; FAST_PICK(name) is the one fast_level() asks for. FAST_CLONES_OF
 * names the body. FAST_CLONES_ADD_TO(name, (params), (args)) makes two sets from one body whose
 * last parameter is `bool add`: name (add true: the backward adds to its output) and name_to
 * (false: it writes it), each with the constant folded in. */
#if FAST_X86_DISPATCH
#define FAST_CLONES_OF(name, body, params, args)                                                   \
    static void name##_plain params                                                                \
    {                                                                                              \
        body args;                                                                                 \
    }                                                                                              \
    FAST_AVX2 static void name##_avx2 params                                                       \
    {                                                                                              \
        body args;                                                                                 \
    }                                                                                              \
    FAST_AVX512 static void name##_avx512 params                                                   \
    {                                                                                              \
        body args;                                                                                 \
    }
#define FAST_PICK(name)                                                                            \
    (fast_level() >= FAST_LEVEL_AVX512 ? name##_avx512                                             \
     : fast_level() >= FAST_LEVEL_AVX2 ? name##_avx2                                               \
                                       : name##_plain)
#else
#define FAST_CLONES_OF(name, body, params, args)                                                   \
    static void name##_plain params                                                                \
    {                                                                                              \
        body args;                                                                                 \
    }
#define FAST_PICK(name) (name##_plain)
#endif
#define FAST_CLONES(name, params, args) FAST_CLONES_OF(name, name##_body, params, args)
#define FAST_UNPACK_(...) __VA_ARGS__
#define FAST_WITH_(v, args) (FAST_UNPACK_ args, v)
#define FAST_CLONES_ADD_TO(name, params, args)                                                     \
    FAST_CLONES_OF(name, name##_body, params, FAST_WITH_(true, args))                              \
    FAST_CLONES_OF(name##_to, name##_body, params, FAST_WITH_(false, args))

/* ------------------------------------------------------------------- sigmoid and tanh */

/* The loops below must not branch on floats: without -fno-trapping-math GCC will not turn a
 * float comparison into a select, and leaves the loop scalar. Selects are done on the bits. */
FAST_INLINE uint32_t f2u(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

FAST_INLINE float u2f(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* all ones when c, else 0 */
FAST_INLINE uint32_t mask_if(int c)
{
    return 0u - (uint32_t)c;
}

#define FAST_BITS_M87 0xC2AE0000u  /* -87.0f */
#define FAST_BITS_88 0x42B00000u   /* 88.0f */
#define FAST_BITS_INF 0x7F800000u  /* +inf */
#define FAST_BITS_0625 0x3F200000u /* 0.625f */

/* e^x, Cephes' expf in float and integer operations that vectorize: x = n ln2 + r with
 * |r| <= ln2/2, e^r by a polynomial, 2^n written into the exponent bits. Within 1-2 ulp;
 * x is clamped to [-87, 88] first (e^-87 for anything below, so that 1/(1 + e^x) stays
 * finite; e^88 for anything above), NaN stays NaN. */
FAST_INLINE float fast_exp(float x)
{
    uint32_t xb = f2u(x);
    /* x < -87 (down to -inf, not NaN): negative floats order by their bits, reversed */
    const uint32_t low = mask_if(xb - (FAST_BITS_M87 + 1u) < 0xFF800000u - FAST_BITS_M87);
    /* x > 88 (up to +inf, not NaN) */
    const uint32_t high = mask_if(xb - (FAST_BITS_88 + 1u) < FAST_BITS_INF - FAST_BITS_88);
    xb = (xb & ~(low | high)) | (FAST_BITS_M87 & low) | (FAST_BITS_88 & high);
    x = u2f(xb);
    /* n = round(x / ln2): adding 1.5 * 2^23 leaves the rounded integer in the low bits */
    const float magic = 0x1.8p23f;
    const float t = x * 1.44269504088896341f + magic;
    const float n = t - magic;
    /* r = x - n ln2, ln2 split in two so that n * ln2_hi is exact */
    const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float y = p * (r * r) + r + 1.0f;
    /* 2^n: the low bits of t hold n + 2^22; n + 127 goes into the exponent field */
    const float pow2n = u2f((f2u(t) - 0x4B400000u + 127u) << 23);
    return y * pow2n;
}

/* 1 / (1 + e^-x), as PyTorch computes it: within a few ulp everywhere. */
FAST_INLINE float fast_sigmoid(float x)
{
    return 1.0f / (1.0f + fast_exp(-x));
}

/* tanh, Cephes' tanhf: an odd polynomial for |x| < 0.625 (where 1 - 2/(e^2x + 1) would lose
 * the relative accuracy of small results), 1 - 2/(e^2|x| + 1) with the sign of x above.
 * Both are computed and one selected, so that the loop vectorizes. Within a few ulp;
 * NaN stays NaN. */
FAST_INLINE float fast_tanh(float x)
{
    const uint32_t xb = f2u(x), sign = xb & 0x80000000u, ab = xb & 0x7FFFFFFFu;
    const float ax = u2f(ab);
    const float z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    const float small = p * z * x + x;
    const float e = fast_exp(2.0f * ax);
    const uint32_t big = f2u(1.0f - 2.0f / (e + 1.0f)) | sign;
    const uint32_t m = mask_if(ab < FAST_BITS_0625);
    return u2f((f2u(small) & m) | (big & ~m));
}

#endif
