/* attention: causal multi-head self-attention over a packed qkv buffer (forward, backward, a
 * plain reference forward, and the one-query decoding step against a key/value cache). */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/fastmath.h"
#include "nn/nn.h"
#include "nn/backend/threads.h" /* PAR_RANGE */

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* `omp simd` asks for vectorization; where it cannot happen (sanitizer builds) clang would
 * warn, and the warning is no error of ours. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

#if defined(__GNUC__)
#define ATT_INLINE static inline __attribute__((always_inline))
#else
#define ATT_INLINE static inline
#endif

/* Unrolls the loops over a head's columns (constant in the specialised kernels) fully: at
 * -O2 GCC keeps most of them rolled, with their accumulators in memory. Clang unrolls them
 * by itself once the kernel is inlined with a constant head size; a pragma would have it
 * unroll the variable-length loops of the kernel compiled on its own first, and leave the
 * inlined copies' loops, by then marked done, rolled. */
#define ATT_PRAGMA(x) _Pragma(#x)
#if defined(__clang__)
#define ATT_UNROLL
#else
#define ATT_UNROLL ATT_PRAGMA(GCC unroll 64)
#endif

/* First key column of sequence b (left padding before it). */
static int key_start(const int32_t *start, int b)
{
    return start && start[b] > 0 ? start[b] : 0;
}

/* The score bias of one work item (attn_bias in nn.h): its first head's (P, P) table, the
 * next heads' PP floats apart, and the sequence's T position ids. The kernels take it as NULL
 * (a constant in the unbiased instances, so that their code is the unbiased code) or not;
 * each adds table[pos[t] * P + pos[j]] to the scaled score in a statement of its own, so
 * that every kernel, and the decoding step, rounds the same way. */
typedef struct {
    const float *table;
    size_t PP;
    int P;
    const int32_t *pos;
} att_bias_item;

/* Row pq of the bias table (an item's first head). */
static inline const float *bias_row(const att_bias_item *bi, int t)
{
    return bi->table + (size_t)bi->pos[t] * bi->P;
}

/* Key j's position id in a decoding row: kpos[j] when the caller gives the keys' ids, else its
 * column less the row's start (the batch's numbering of columns; 0 for padding). The one place
 * that decides it: when positions come from a per-row table, the caller passes it as kpos. */
ATT_INLINE int decode_key_pos(const int32_t *kpos, int kstart, int j)
{
    if (kpos)
        return kpos[j];
    const int p = j - kstart;
    return p > 0 ? p : 0;
}

/* e^x for x <= 0 (the softmax's x - max): fastmath.h's fast_exp (Cephes' expf in operations
 * that vectorize; within 1 ulp down to -87, e^-87 below, NaN stays NaN), whose clamp at +88
 * never acts here. exp_softmax4 below does the same operations on four lanes: every path gets
 * the same bits. */
ATT_INLINE float exp_softmax(float x)
{
    return fast_exp(x);
}

/* Dot product of two hd-vectors, summed in index order. */
ATT_INLINE float dot(const float *a, const float *b, int hd)
{
    float s = 0.0f;
    for (int i = 0; i < hd; i++)
        s += a[i] * b[i];
    return s;
}

/* ---------------------------------------------------------------- four floats at a time */

/* GCC/Clang vector extensions: SSE2 on x86-64, NEON on arm64, plain code elsewhere; SSE2's
 * max and shuffles where the generic spelling compiles badly. */
typedef float v4 __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef uint32_t v4u __attribute__((vector_size(16)));

ATT_INLINE v4 ld4(const float *p)
{
    v4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

ATT_INLINE void st4(float *p, v4 v)
{
    memcpy(p, &v, sizeof v);
}

ATT_INLINE v4 splat4(float x)
{
    return (v4){x, x, x, x};
}

/* x where m is set, else 0 */
ATT_INLINE v4 and4(v4i m, v4 x)
{
    return (v4)((v4i)x & m);
}

/* Per lane a > b ? a : b. */
ATT_INLINE v4 max4(v4 a, v4 b)
{
#if defined(__SSE2__)
    return (v4)_mm_max_ps((__m128)a, (__m128)b);
#else
    const v4i gt = a > b;
    return (v4)(((v4i)a & gt) | ((v4i)b & ~gt));
#endif
}

/* The largest lane, in every lane. */
ATT_INLINE v4 hmax4(v4 a)
{
#if defined(__SSE2__)
    const __m128 x = (__m128)a;
    const __m128 m = _mm_max_ps(x, _mm_shuffle_ps(x, x, _MM_SHUFFLE(2, 3, 0, 1)));
    return (v4)_mm_max_ps(m, _mm_shuffle_ps(m, m, _MM_SHUFFLE(1, 0, 3, 2)));
#else
    const float m01 = a[0] > a[1] ? a[0] : a[1], m23 = a[2] > a[3] ? a[2] : a[3];
    return splat4(m01 > m23 ? m01 : m23);
#endif
}

/* The sum of the lanes, (s0 + s1) + (s2 + s3), in every lane. */
ATT_INLINE v4 hsum4(v4 s)
{
#if defined(__SSE2__)
    const __m128 x = (__m128)s;
    const __m128 p = _mm_add_ps(x, _mm_shuffle_ps(x, x, _MM_SHUFFLE(2, 3, 0, 1)));
    return (v4)_mm_add_ps(p, _mm_shuffle_ps(p, p, _MM_SHUFFLE(1, 0, 3, 2)));
#else
    return splat4((s[0] + s[1]) + (s[2] + s[3]));
#endif
}

/* Lane l (a constant) of a, in every lane. */
#if defined(__SSE2__)
#define LANE4(a, l) ((v4)_mm_shuffle_epi32((__m128i)(a), (l) * 0x55)) /* copies, unlike shufps */
#else
#define LANE4(a, l) splat4((a)[l])
#endif

/* Transposes the 4x4 block of rows *a, *b, *c, *d in place. */
ATT_INLINE void transpose4(v4 *a, v4 *b, v4 *c, v4 *d)
{
#if defined(__SSE2__)
    __m128 w = (__m128)*a, x = (__m128)*b, y = (__m128)*c, z = (__m128)*d;
    _MM_TRANSPOSE4_PS(w, x, y, z);
    *a = (v4)w, *b = (v4)x, *c = (v4)y, *d = (v4)z;
#else
    const v4 w = *a, x = *b, y = *c, z = *d;
    *a = (v4){w[0], x[0], y[0], z[0]};
    *b = (v4){w[1], x[1], y[1], z[1]};
    *c = (v4){w[2], x[2], y[2], z[2]};
    *d = (v4){w[3], x[3], y[3], z[3]};
#endif
}

/* exp_softmax on four lanes: the same operations in the same order. */
ATT_INLINE v4 exp_softmax4(v4 x)
{
#if defined(__SSE2__)
    x = (v4)_mm_max_ps(_mm_set1_ps(-87.0f), (__m128)x); /* NaN: the second operand, x */
#else
    const v4i low = x < splat4(-87.0f); /* -inf included, NaN not */
    x = (v4)(((v4i)x & ~low) | ((v4i)splat4(-87.0f) & low));
#endif
    const v4 magic = splat4(0x1.8p23f);
    const v4 t = x * splat4(1.44269504088896341f) + magic;
    const v4 n = t - magic;
    const v4 r = (x - n * splat4(0.693359375f)) - n * splat4(-2.12194440e-4f);
    v4 p = splat4(1.9875691500e-4f);
    p = p * r + splat4(1.3981999507e-3f);
    p = p * r + splat4(8.3334519073e-3f);
    p = p * r + splat4(4.1665795894e-2f);
    p = p * r + splat4(1.6666665459e-1f);
    p = p * r + splat4(5.0000001201e-1f);
    const v4 y = p * (r * r) + r + splat4(1.0f);
    const v4u bits = ((v4u)t - 0x4B400000u + 127u) << 23;
    return y * (v4)bits;
}

/* ---------------------------------------------------------------------------- prefetch */

/* Software prefetch of the next sequence's rows, a part at a time, spread over the rows of
 * the current work (the hardware's prefetchers see little of these strided rows, and a
 * whole sequence's worth at once would stall). */
typedef struct {
    const char *p[4];
    size_t lines[4], per[4]; /* cache lines, and lines per part */
    bool write[4];
    int n;
} att_prefetch;

static void prefetch_add(att_prefetch *pf, const float *p, size_t floats, bool write)
{
    pf->p[pf->n] = (const char *)p;
    pf->lines[pf->n] = (floats * sizeof(float) + 63) / 64;
    pf->write[pf->n] = write;
    pf->n++;
}

static void prefetch_parts(att_prefetch *pf, size_t parts)
{
    for (int s = 0; s < pf->n; s++)
        pf->per[s] = (pf->lines[s] + parts - 1) / parts;
}

ATT_INLINE void prefetch_part(const att_prefetch *pf, size_t part)
{
    for (int s = 0; s < pf->n; s++) {
        const size_t l0 = part * pf->per[s];
        const size_t l1 = l0 + pf->per[s] < pf->lines[s] ? l0 + pf->per[s] : pf->lines[s];
        for (size_t l = l0; l < l1; l++) {
#if defined(__GNUC__)
            if (pf->write[s])
                __builtin_prefetch(pf->p[s] + l * 64, 1, 3);
            else
                __builtin_prefetch(pf->p[s] + l * 64, 0, 3);
#endif
        }
    }
}

/* The blocked kernels hold one (sequence, head) pair in local arrays and work on it a phase
 * at a time, each phase a loop over rows (or columns) that do not depend on each other (a
 * row at a time, the softmax's chain of dependent steps kept the core waiting). Keys (or
 * values) transposed to (hd, TS) make a query's scores over j 4-lane vectors: row t's
 * visible keys j0..t are covered by the blocks starting at j0, j0 + 4, .. < jend, and the last
 * block's lanes past t are masked (score -inf, probability 0, or 0). jend <= t + 4 <= T + 3,
 * so that TS = T + 3 rounded up to 4 columns hold every block, the ones past T zero. Rows of
 * length hd are vectors along i. They serve the head sizes and lengths that the four-heads
 * kernels below do not take (H not a multiple of 4, T past 32), up to T 128 (GPT-2's 4 x 128
 * steps: 3.7x faster than the per-row kernels there); past these sizes, or for other head
 * sizes, the per-row kernels run. The local arrays take up to about 210 KB of stack (per
 * thread). */
enum {
    ATT_MAX_T = 128,
    ATT_MAX_TS = (ATT_MAX_T + 6) & ~3,
    ATT_MAX_HD = 64,
    ATT_LOCAL = 8448 /* floats in a (hd, TS) or (TS, hd) array: T 128 at hd 64 */
};

ATT_INLINE int padded_len(int T)
{
    return (T + 6) & ~3;
}

static bool blocked_ok(int T, int hd)
{
    return (hd == 8 || hd == 16 || hd == 32 || hd == 64) && T >= 4 && T <= ATT_MAX_T &&
           padded_len(T) * hd <= ATT_LOCAL;
}

/* Lanes 0..r set. */
static const int32_t lanes_upto[4][4] = {
    {-1, 0, 0, 0}, {-1, -1, 0, 0}, {-1, -1, -1, 0}, {-1, -1, -1, -1}};

/* Row t's blocks j0..jend, and the mask of the visible lanes of its last block. */
typedef struct {
    int j0, jend;
    v4i last;
} row_keys;

ATT_INLINE void rows_keys(row_keys *rk, int T, int lo)
{
    for (int t = 0; t < T; t++) {
        const int j0 = t < lo ? t : lo; /* a padding query sees only itself */
        rk[t].j0 = j0;
        rk[t].jend = j0 + ((t - j0 + 4) & ~3);
        memcpy(&rk[t].last, lanes_upto[(t - j0) & 3], sizeof rk[t].last);
    }
}

/* m ? x : fill, per lane */
ATT_INLINE v4 select4(v4i m, v4 x, v4 fill)
{
    return (v4)(((v4i)x & m) | ((v4i)fill & ~m));
}

/* Gathers rows 0..T-1 (rs floats apart) of hd columns transposed into dst (hd, TS), columns
 * T..TS-1 zero. */
ATT_INLINE void gather_transposed(float *restrict dst, const float *restrict src, int T, int TS,
                                  size_t rs, int hd)
{
    int j = 0;
    for (; j + 4 <= T; j += 4) {
        const float *s = src + (size_t)j * rs;
        ATT_UNROLL
        for (int i = 0; i < hd; i += 4) {
            v4 r[4] = {ld4(s + i), ld4(s + rs + i), ld4(s + 2 * rs + i), ld4(s + 3 * rs + i)};
            transpose4(&r[0], &r[1], &r[2], &r[3]);
            for (int l = 0; l < 4; l++)
                st4(dst + (i + l) * TS + j, r[l]);
        }
    }
    for (; j < TS; j += 4) {
        ATT_UNROLL
        for (int i = 0; i < hd; i += 4) {
            v4 r[4];
            for (int l = 0; l < 4; l++)
                r[l] = j + l < T ? ld4(src + (size_t)(j + l) * rs + i) : splat4(0.0f);
            transpose4(&r[0], &r[1], &r[2], &r[3]);
            for (int l = 0; l < 4; l++)
                st4(dst + (i + l) * TS + j, r[l]);
        }
    }
}

/* Gathers rows 0..T-1 (rs floats apart) of hd columns into dst (TS, hd), rows T..TS-1
 * zero. */
ATT_INLINE void gather_rows(float *restrict dst, const float *restrict src, int T, int TS,
                            size_t rs, int hd)
{
    for (int j = 0; j < T; j++) {
        ATT_UNROLL
        for (int c = 0; c < hd; c += 4)
            st4(dst + j * hd + c, ld4(src + (size_t)j * rs + c));
    }
    for (int j = T; j < TS; j++) {
        ATT_UNROLL
        for (int c = 0; c < hd; c += 4)
            st4(dst + j * hd + c, splat4(0.0f));
    }
}

/* acc (hd/4 vectors) += w4[l] x_{j+l} for l = 0..3, x (TS, hd) contiguous, in increasing l. */
ATT_INLINE void combine4(v4 *restrict acc, v4 w4, const float *restrict xj, int hd)
{
    const v4 w0 = LANE4(w4, 0), w1 = LANE4(w4, 1), w2 = LANE4(w4, 2), w3 = LANE4(w4, 3);
    ATT_UNROLL
    for (int c = 0; c < hd / 4; c++) {
        v4 t = acc[c];
        t += w0 * ld4(xj + 4 * c);
        t += w1 * ld4(xj + hd + 4 * c);
        t += w2 * ld4(xj + 2 * hd + 4 * c);
        t += w3 * ld4(xj + 3 * hd + 4 * c);
        acc[c] = t;
    }
}

/* For each row t, its blocks of x (hd-vectors, rows xs floats apart) times yT (hd, TS):
 * out[t * TS + j] = (sum_i x_t[i] yT[i][j] in increasing i, as dot() sums) * scale; the last
 * block's lanes past t set to fill. */
ATT_INLINE void block_products(float *restrict out, const float *restrict x, size_t xs,
                               const float *restrict yT, const row_keys *rk, int T, int TS,
                               int hd, float scale, float fill, const att_prefetch *pf,
                               size_t part)
{
    for (int t = 0; t < T; t++) {
        prefetch_part(pf, part + t);
        const int j0 = rk[t].j0, jend = rk[t].jend;
        const float *xt = x + t * xs;
        float *ot = out + t * TS;
        v4 xb[ATT_MAX_HD];
        ATT_UNROLL
        for (int i = 0; i < hd; i += 4) {
            const v4 x4 = ld4(xt + i);
            xb[i] = LANE4(x4, 0), xb[i + 1] = LANE4(x4, 1);
            xb[i + 2] = LANE4(x4, 2), xb[i + 3] = LANE4(x4, 3);
        }
        for (int jb = j0; jb < jend; jb += 4) {
            v4 s = xb[0] * ld4(yT + jb);
            ATT_UNROLL
            for (int i = 1; i < hd; i++)
                s += xb[i] * ld4(yT + i * TS + jb);
            st4(ot + jb, s * splat4(scale));
        }
        st4(ot + jend - 4, select4(rk[t].last, ld4(ot + jend - 4), splat4(fill)));
    }
}

/* The bias on the visible keys of each row of the scores S (rows TS floats apart), the
 * blocked kernels' step between the products and the softmax. */
ATT_INLINE void add_score_bias(float *restrict S, int TS, int T, int lo, const att_bias_item *bi)
{
    for (int t = 0; t < T; t++) {
        const float *brow = bias_row(bi, t);
        float *St = S + t * TS;
        for (int j = t < lo ? t : lo; j <= t; j++)
            St[j] += brow[bi->pos[j]];
    }
}

/* One (sequence, head) pair, blocked; arguments as head_forward's, and the same arithmetic. */
ATT_INLINE void head_forward_blocked(float *restrict out, float *restrict att,
                                     const float *restrict q, const float *restrict k,
                                     const float *restrict v, int T, int lo, size_t rs,
                                     size_t os, int hd, float scale, const att_prefetch *pf,
                                     size_t part, const att_bias_item *bi)
{
    const int TS = padded_len(T);
    float kT[ATT_LOCAL], vl[ATT_LOCAL], S[ATT_MAX_T * ATT_MAX_TS];
    row_keys rk[ATT_MAX_T];
    v4 inv[ATT_MAX_T];
    rows_keys(rk, T, lo);
    gather_transposed(kT, k, T, TS, rs, hd);
    gather_rows(vl, v, T, TS, rs, hd);
    /* scores, -inf past t */
    block_products(S, q, rs, kT, rk, T, TS, hd, scale, -INFINITY, pf, part);
    if (bi)
        add_score_bias(S, TS, T, lo, bi);
    /* exponentials (0 past t) and 1 / their sum */
    for (int t = 0; t < T; t++) {
        const int j0 = rk[t].j0, jend = rk[t].jend;
        float *St = S + t * TS;
        v4 vm = ld4(St + j0);
        for (int jb = j0 + 4; jb < jend; jb += 4)
            vm = max4(vm, ld4(St + jb));
        const v4 mx = hmax4(vm);
        for (int jb = j0; jb < jend; jb += 4)
            st4(St + jb, exp_softmax4(ld4(St + jb) - mx));
        st4(St + jend - 4, and4(rk[t].last, ld4(St + jend - 4)));
        float sum = 0.0f; /* in increasing j, as the other kernels add */
        for (int j = j0; j <= t; j++)
            sum += St[j];
        inv[t] = splat4(1.0f / sum);
    }
    /* the probabilities into att (0 elsewhere), and out_t = sum_j a_tj v_j in increasing j
     * (the last block's lanes past t add 0) */
    memset(att, 0, (size_t)T * T * sizeof *att);
    for (int t = 0; t < T; t++) {
        const int j0 = rk[t].j0, jend = rk[t].jend;
        const float *St = S + t * TS;
        float *row = att + (size_t)t * T;
        v4 acc[ATT_MAX_HD / 4];
        ATT_UNROLL
        for (int c = 0; c < hd / 4; c++)
            acc[c] = splat4(0.0f);
        const int jfull = t + 1 < T ? jend : T - 3; /* blocks before it: stored whole */
        for (int jb = j0; jb < jend; jb += 4) {
            const v4 a = ld4(St + jb) * inv[t];
            if (jb < jfull) {
                st4(row + jb, a); /* past the row's end: zeros, into the next row */
            } else { /* the last row's last block: not past the end of att */
                for (int l = 0; l < 3; l++)
                    if (jb + l < T)
                        row[jb + l] = a[l];
            }
            combine4(acc, a, vl + jb * hd, hd);
        }
        float *ot = out + t * os;
        ATT_UNROLL
        for (int c = 0; c < hd / 4; c++)
            st4(ot + 4 * c, acc[c]);
    }
}

/* ------------------------------------------------------------ four or sixteen heads at a time */

/* When H is a multiple of 4, heads h0..h0+3 of a sequence go together, one head per lane
 * (attention_heads.h); with AVX-512 and H a multiple of 16, sixteen. The local arrays take up
 * to about 80 KB of stack (per thread) at four heads, 200 KB at sixteen. */
#define HW 4
#define HV v4
#define HN(x) x##4
#define HATTR
#define HMAX_T 32
#define HLOCAL 768 /* vectors in a (T, hd) array */
#define HDECODE_KEEP 512
#include "nn/attention_heads.h"
#undef HW
#undef HV
#undef HN
#undef HATTR
#undef HMAX_T
#undef HLOCAL
#undef HDECODE_KEEP

#if FAST_X86_DISPATCH
#include <immintrin.h>

typedef float v16 __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
typedef uint32_t v16u __attribute__((vector_size(64)));

FAST_AVX512 ATT_INLINE v16 splat16(float x)
{
    v16 v;
    for (int l = 0; l < 16; l++)
        v[l] = x;
    return v;
}

/* Per lane a > b ? a : b, as max4. */
FAST_AVX512 ATT_INLINE v16 max16(v16 a, v16 b)
{
    const v16i gt = a > b;
    return (v16)(((v16i)a & gt) | ((v16i)b & ~gt));
}

/* exp_softmax4's operations on sixteen lanes. */
FAST_AVX512 ATT_INLINE v16 exp_softmax16(v16 x)
{
    const v16i low = x < splat16(-87.0f); /* -inf included, NaN not */
    x = (v16)(((v16i)x & ~low) | ((v16i)splat16(-87.0f) & low));
    const v16 magic = splat16(0x1.8p23f);
    const v16 t = x * splat16(1.44269504088896341f) + magic;
    const v16 n = t - magic;
    const v16 r = (x - n * splat16(0.693359375f)) - n * splat16(-2.12194440e-4f);
    v16 p = splat16(1.9875691500e-4f);
    p = p * r + splat16(1.3981999507e-3f);
    p = p * r + splat16(8.3334519073e-3f);
    p = p * r + splat16(4.1665795894e-2f);
    p = p * r + splat16(1.6666665459e-1f);
    p = p * r + splat16(5.0000001201e-1f);
    const v16 y = p * (r * r) + r + splat16(1.0f);
    const v16u bits = ((v16u)t - 0x4B400000u + 127u) << 23;
    return y * (v16)bits;
}

#define HW 16
#define HV v16
#define HN(x) x##16
#define HATTR FAST_AVX512
#define HMAX_T 32
#define HLOCAL 256 /* vectors in a (T, hd) array: heads of 8 up to T 32, of 16 up to 16 */
#define HDECODE_KEEP 512
#include "nn/attention_heads.h"
#undef HW
#undef HV
#undef HN
#undef HATTR
#undef HMAX_T
#undef HLOCAL
#undef HDECODE_KEEP

#include "nn/attention_blocked16.h"
#endif

/* One (sequence, head) pair, one row at a time, for the sizes the blocked kernels do not
 * take. q, k, v: the head's columns of row 0, rows rs floats apart; out: the head's output
 * columns of row 0, rows os floats apart; att: (T, T). Every forward kernel, and
 * attention_decode, does this arithmetic in this order (scores as dot() sums them, the
 * running max, the exponentials summed in increasing j, out summed in increasing j), so
 * that all give the same bits. */
ATT_INLINE void head_forward(float *restrict out, float *restrict att, const float *restrict q,
                             const float *restrict k, const float *restrict v, int T, int lo,
                             size_t rs, size_t os, int hd, float scale, const att_prefetch *pf,
                             size_t part, const att_bias_item *bi)
{
    for (int t = 0; t < T; t++) {
        prefetch_part(pf, part + t);
        const float *qt = q + t * rs;
        float *row = att + (size_t)t * T;
        const int j0 = t < lo ? t : lo;
        const float *brow = bi ? bias_row(bi, t) : NULL;
        float mx = -INFINITY;
        for (int j = j0; j <= t; j++) {
            float s = dot(qt, k + j * rs, hd) * scale;
            if (bi)
                s += brow[bi->pos[j]];
            row[j] = s;
            mx = s > mx ? s : mx;
        }
#pragma omp simd
        for (int j = j0; j <= t; j++)
            row[j] = exp_softmax(row[j] - mx);
        float sum = 0.0f;
        for (int j = j0; j <= t; j++)
            sum += row[j];
        const float inv = 1.0f / sum;
        float *ot = out + t * os;
        for (int i = 0; i < hd; i++)
            ot[i] = 0.0f;
        for (int j = j0; j <= t; j++) {
            const float a = row[j] * inv;
            const float *vj = v + j * rs;
            row[j] = a;
            for (int i = 0; i < hd; i++)
                ot[i] += a * vj[i];
        }
        for (int j = 0; j < j0; j++)
            row[j] = 0.0f;
        for (int j = t + 1; j < T; j++)
            row[j] = 0.0f;
    }
}

/* Backward of one (sequence, head) pair, blocked. dq: the head's q-gradient columns of row 0
 * of dqkv (k and v at + C and + 2C), rows rs floats apart; q likewise in qkv; dout rows os
 * apart. With datt_tj = dout_t . v_j, s_t = sum_j att_tj datt_tj and
 * ds_tj = att_tj (datt_tj - s_t) scale: dq_t += sum_j ds_tj k_j, dk_j += sum_t ds_tj q_t,
 * dv_j += sum_t att_tj dout_t; the first by rows, the other two by columns, each with its
 * sums in registers. */
ATT_INLINE void head_backward_blocked(float *restrict dq, const float *restrict dout,
                                      const float *restrict q, const float *restrict att,
                                      int T, int lo, size_t rs, size_t os, int hd, float scale,
                                      int C, const att_prefetch *pf, size_t part)
{
    const int TS = padded_len(T);
    float vT[ATT_LOCAL], kl[ATT_LOCAL];
    float A[ATT_MAX_T * ATT_MAX_TS], dS[ATT_MAX_T * ATT_MAX_TS];
    row_keys rk[ATT_MAX_T];
    rows_keys(rk, T, lo);
    gather_transposed(vT, q + 2 * C, T, TS, rs, hd);
    gather_rows(kl, q + C, T, TS, rs, hd);
    /* datt, 0 past t */
    block_products(dS, dout, os, vT, rk, T, TS, hd, 1.0f, 0.0f, pf, part);
    /* att (0 past t), then ds from datt; dq_t = sum_j ds_tj k_j (lanes past t add 0) */
    for (int t = 0; t < T; t++) {
        const int j0 = rk[t].j0, jend = rk[t].jend;
        const float *arow = att + (size_t)t * T;
        float *At = A + t * TS, *dSt = dS + t * TS;
        const int jfull = t + 1 < T ? jend : T - 3; /* blocks before it: loaded whole */
        for (int jb = j0; jb < jend; jb += 4) {
            v4 a;
            if (jb < jfull) {
                a = ld4(arow + jb); /* past the row's end: the next row's, masked below */
            } else { /* the last row's last block: not past the end of att */
                a = splat4(0.0f);
                for (int l = 0; l < 3; l++)
                    if (jb + l < T)
                        a[l] = arow[jb + l];
            }
            st4(At + jb, a);
        }
        st4(At + jend - 4, and4(rk[t].last, ld4(At + jend - 4)));
        v4 vs = splat4(0.0f);
        for (int jb = j0; jb < jend; jb += 4)
            vs += ld4(At + jb) * ld4(dSt + jb);
        const v4 s = hsum4(vs);
        v4 acc[ATT_MAX_HD / 4];
        ATT_UNROLL
        for (int c = 0; c < hd / 4; c++)
            acc[c] = splat4(0.0f);
        for (int jb = j0; jb < jend; jb += 4) {
            const v4 d = ld4(At + jb) * (ld4(dSt + jb) - s) * splat4(scale);
            st4(dSt + jb, d);
            combine4(acc, d, kl + jb * hd, hd);
        }
        float *dqt = dq + t * rs;
        ATT_UNROLL
        for (int c = 0; c < hd / 4; c++)
            st4(dqt + 4 * c, ld4(dqt + 4 * c) + acc[c]);
    }
    /* dk_j = sum_t ds_tj q_t, dv_j = sum_t att_tj dout_t over the queries t that see j */
    for (int j = 0; j < T; j++) {
        const int t1 = j < lo ? j : T - 1; /* a padding key is seen by its own query only */
        v4 ak[ATT_MAX_HD / 4], av[ATT_MAX_HD / 4];
        ATT_UNROLL
        for (int c = 0; c < hd / 4; c++)
            ak[c] = av[c] = splat4(0.0f);
        for (int t = j; t <= t1; t++) {
            const v4 d = splat4(dS[t * TS + j]), a = splat4(A[t * TS + j]);
            const float *qt = q + t * rs, *dt = dout + t * os;
            ATT_UNROLL
            for (int c = 0; c < hd / 4; c++) {
                ak[c] += d * ld4(qt + 4 * c);
                av[c] += a * ld4(dt + 4 * c);
            }
        }
        float *dkj = dq + C + j * rs, *dvj = dq + 2 * C + j * rs;
        ATT_UNROLL
        for (int c = 0; c < hd / 4; c++) {
            st4(dkj + 4 * c, ld4(dkj + 4 * c) + ak[c]);
            st4(dvj + 4 * c, ld4(dvj + 4 * c) + av[c]);
        }
    }
}

/* Backward of one (sequence, head) pair, one row at a time; dq, dk, dv: the head's gradient
 * columns of row 0 of dqkv, rows rs floats apart; dout rows os apart. */
ATT_INLINE void head_backward(float *restrict dq, float *restrict dk, float *restrict dv,
                              const float *restrict dout, const float *restrict q,
                              const float *restrict k, const float *restrict v,
                              const float *restrict att, int T, int lo, size_t rs, size_t os,
                              int hd, float scale, const att_prefetch *pf, size_t part)
{
    for (int t = 0; t < T; t++) {
        prefetch_part(pf, part + t);
        const float *row = att + (size_t)t * T;
        const float *dot_ = dout + t * os, *qt = q + t * rs;
        float *dqt = dq + t * rs;
        const int j0 = t < lo ? t : lo;
        /* s = sum_j att_tj * datt_tj, datt_tj = dout_t . v_j */
        float s = 0.0f;
        for (int j = j0; j <= t; j++)
            s += row[j] * dot(dot_, v + j * rs, hd);
        for (int j = j0; j <= t; j++) {
            const float a = row[j];
            /* dscore_tj = att_tj * (datt_tj - s) * scale */
            const float ds = a * (dot(dot_, v + j * rs, hd) - s) * scale;
            const float *kj = k + j * rs;
            float *dkj = dk + j * rs, *dvj = dv + j * rs;
            for (int i = 0; i < hd; i++) {
                dqt[i] += ds * kj[i];
                dkj[i] += ds * qt[i];
                dvj[i] += a * dot_[i];
            }
        }
    }
}

/* ---------------------------------------------------------------------------- dispatch */

/* The kernels for one work item (four heads, or one, of sequence b) behind one signature,
 * each instance with its head size a constant. Calling them through a pointer also keeps
 * Clang from merging the calls of a switch into one call with a variable head size (and the
 * loops rolled). q: the item's first q column of row 0 of qkv (rows rs floats apart); o, d:
 * its first column of out (dout), rows C apart; a: its first head's (T, T) att. */
typedef void forward_kernel(float *o, float *a, const float *q, int T, int lo, size_t rs, int C,
                            int hd, float scale, const att_prefetch *pf, size_t part,
                            const att_bias_item *bi);
/* add: the heads' kernels add their gradients to dqkv, or write them (every column of their
 * heads on every row); the others always add. */
typedef void backward_kernel(float *dq, const float *d, const float *q, const float *a, int T,
                             int lo, size_t rs, int C, int hd, float scale,
                             const att_prefetch *pf, size_t part, bool add);

/* Each forward kernel twice, CALL the inlined kernel's call with bi_ for its bias: NAME passes
 * the constant NULL (its code is then the unbiased code), NAME##_b the item's bias. */
#define ATT_FORWARD_PAIR(NAME, CALL) ATT_FORWARD_PAIR_AT(, NAME, CALL)
#define ATT_FORWARD_PAIR_AT(ATTR, NAME, CALL)                                                      \
    ATTR static void NAME(float *o, float *a, const float *q, int T, int lo, size_t rs, int C, int hd,  \
                     float scale, const att_prefetch *pf, size_t part, const att_bias_item *bi)    \
    {                                                                                              \
        (void)hd;                                                                                  \
        (void)bi;                                                                                  \
        const att_bias_item *const bi_ = NULL;                                                     \
        CALL;                                                                                      \
    }                                                                                              \
    ATTR static void NAME##_b(float *o, float *a, const float *q, int T, int lo, size_t rs, int C,      \
                         int hd, float scale, const att_prefetch *pf, size_t part,                 \
                         const att_bias_item *bi)                                                  \
    {                                                                                              \
        (void)hd;                                                                                  \
        const att_bias_item *const bi_ = bi;                                                       \
        CALL;                                                                                      \
    }

#define ATT_BLOCK_KERNELS(HD)                                                                      \
    ATT_FORWARD_PAIR(heads4_forward_##HD,                                                          \
                     heads_forward4(o, a, q, T, lo, rs, C, C, HD, scale, pf, part, bi_))           \
    ATT_FORWARD_PAIR(blocked_forward_##HD,                                                         \
                     head_forward_blocked(o, a, q, q + C, q + 2 * C, T, lo, rs, C, HD, scale, pf,  \
                                          part, bi_))                                              \
    static void heads4_backward_##HD(float *dq, const float *d, const float *q, const float *a,    \
                                     int T, int lo, size_t rs, int C, int hd, float scale,         \
                                     const att_prefetch *pf, size_t part, bool add)                \
    {                                                                                              \
        (void)hd;                                                                                  \
        heads_backward4(dq, d, q, a, T, lo, rs, C, C, HD, scale, pf, part, add);                   \
    }                                                                                              \
    static void blocked_backward_##HD(float *dq, const float *d, const float *q,                   \
                                      const float *a, int T, int lo, size_t rs, int C, int hd,     \
                                      float scale, const att_prefetch *pf, size_t part, bool add)  \
    {                                                                                              \
        (void)hd;                                                                                  \
        (void)add;                                                                                 \
        head_backward_blocked(dq, d, q, a, T, lo, rs, C, HD, scale, C, pf, part);                  \
    }

#define ATT_ROW_KERNELS(HD)                                                                        \
    ATT_FORWARD_PAIR(rows_forward_##HD,                                                            \
                     head_forward(o, a, q, q + C, q + 2 * C, T, lo, rs, C, HD, scale, pf, part,    \
                                  bi_))                                                            \
    static void rows_backward_##HD(float *dq, const float *d, const float *q, const float *a,      \
                                   int T, int lo, size_t rs, int C, int hd, float scale,           \
                                   const att_prefetch *pf, size_t part, bool add)                  \
    {                                                                                              \
        (void)hd;                                                                                  \
        (void)add;                                                                                 \
        head_backward(dq, dq + C, dq + 2 * C, d, q, q + C, q + 2 * C, a, T, lo, rs, C, HD,         \
                      scale, pf, part);                                                            \
    }

ATT_BLOCK_KERNELS(8)
ATT_BLOCK_KERNELS(16)
ATT_BLOCK_KERNELS(32)
ATT_BLOCK_KERNELS(64)
ATT_ROW_KERNELS(8)
ATT_ROW_KERNELS(16)
ATT_ROW_KERNELS(32)
ATT_ROW_KERNELS(64)
ATT_ROW_KERNELS(hd) /* any other head size, as a variable */

#if FAST_X86_DISPATCH
#define ATT_HEADS16_KERNELS(HD)                                                                    \
    ATT_FORWARD_PAIR_AT(FAST_AVX512, heads16_forward_##HD,                                         \
                        heads_forward16(o, a, q, T, lo, rs, C, C, HD, scale, pf, part, bi_))       \
    FAST_AVX512 static void heads16_backward_##HD(float *dq, const float *d, const float *q,       \
                                                  const float *a, int T, int lo, size_t rs,        \
                                                  int C, int hd, float scale,                      \
                                                  const att_prefetch *pf, size_t part, bool add)   \
    {                                                                                              \
        (void)hd;                                                                                  \
        heads_backward16(dq, d, q, a, T, lo, rs, C, C, HD, scale, pf, part, add);                  \
    }

ATT_HEADS16_KERNELS(8)
ATT_HEADS16_KERNELS(16)
ATT_HEADS16_KERNELS(32)
ATT_HEADS16_KERNELS(64)
#define ATT_HEADS16_ROW(NAME, SUFFIX)                                                              \
    {NAME##_8##SUFFIX, NAME##_16##SUFFIX, NAME##_32##SUFFIX, NAME##_64##SUFFIX, NULL}

#define ATT_BLOCKED16_KERNELS(HD)                                                                  \
    ATT_FORWARD_PAIR_AT(FAST_AVX512, blocked16_forward_##HD,                                       \
                        head_forward_blocked16(o, a, q, q + C, q + 2 * C, T, lo, rs, C, HD, scale, \
                                               pf, part, bi_))                                     \
    FAST_AVX512 static void blocked16_backward_##HD(float *dq, const float *d, const float *q,     \
                                                    const float *a, int T, int lo, size_t rs,      \
                                                    int C, int hd, float scale,                    \
                                                    const att_prefetch *pf, size_t part, bool add) \
    {                                                                                              \
        (void)hd;                                                                                  \
        (void)add;                                                                                 \
        head_backward_blocked16(dq, d, q, a, T, lo, rs, C, HD, scale, C, pf, part);                \
    }

ATT_BLOCKED16_KERNELS(16)
ATT_BLOCKED16_KERNELS(32)
ATT_BLOCKED16_KERNELS(64)
#define ATT_BLOCKED16_ROW(NAME, SUFFIX)                                                            \
    {NULL, NAME##_16##SUFFIX, NAME##_32##SUFFIX, NAME##_64##SUFFIX, NULL}
#else
#define ATT_HEADS16_ROW(NAME, SUFFIX) {NULL, NULL, NULL, NULL, NULL}
#define ATT_BLOCKED16_ROW(NAME, SUFFIX) {NULL, NULL, NULL, NULL, NULL}
#endif

/* The kernels for head sizes 8, 16, 32, 64 and any other, in that order; [1]: with a bias. */
static forward_kernel *const forward_kernels[2][5][5] = {
    {{heads4_forward_8, heads4_forward_16, heads4_forward_32, heads4_forward_64, NULL},
     {blocked_forward_8, blocked_forward_16, blocked_forward_32, blocked_forward_64, NULL},
     {rows_forward_8, rows_forward_16, rows_forward_32, rows_forward_64, rows_forward_hd},
     ATT_HEADS16_ROW(heads16_forward, ),
     ATT_BLOCKED16_ROW(blocked16_forward, )},
    {{heads4_forward_8_b, heads4_forward_16_b, heads4_forward_32_b, heads4_forward_64_b, NULL},
     {blocked_forward_8_b, blocked_forward_16_b, blocked_forward_32_b, blocked_forward_64_b,
      NULL},
     {rows_forward_8_b, rows_forward_16_b, rows_forward_32_b, rows_forward_64_b,
      rows_forward_hd_b},
     ATT_HEADS16_ROW(heads16_forward, _b),
     ATT_BLOCKED16_ROW(blocked16_forward, _b)}};
static backward_kernel *const backward_kernels[5][5] = {
    {heads4_backward_8, heads4_backward_16, heads4_backward_32, heads4_backward_64, NULL},
    {blocked_backward_8, blocked_backward_16, blocked_backward_32, blocked_backward_64, NULL},
    {rows_backward_8, rows_backward_16, rows_backward_32, rows_backward_64, rows_backward_hd},
    ATT_HEADS16_ROW(heads16_backward, ),
    ATT_BLOCKED16_ROW(blocked16_backward, )};

/* How attention over (B, T, C, H) is split: kind 0 four heads at a time, 1 one head in
 * blocks, 2 one head by rows, 3 sixteen heads at a time (AVX-512), 4 one head in blocks of
 * sixteen keys (AVX-512; kind 1's bits); the head size's column in the kernel tables. */
typedef struct {
    int hd, kind, col, width, items; /* heads per work item, items per sequence */
    float scale;
} att_plan;

static att_plan plan_of(int T, int C, int H)
{
    att_plan p;
    p.hd = C / H;
    p.scale = 1.0f / sqrtf((float)p.hd);
#if FAST_X86_DISPATCH
    const bool wide = fast_has_avx512() && heads_ok16(T, H, p.hd);
#else
    const bool wide = false;
#endif
    p.kind = wide ? 3 : heads_ok4(T, H, p.hd) ? 0 : blocked_ok(T, p.hd) ? 1 : 2;
#if FAST_X86_DISPATCH
    if (p.kind == 1 && fast_has_avx512() && blocked16_ok(T, p.hd))
        p.kind = 4;
#endif
    p.col = p.hd == 8 ? 0 : p.hd == 16 ? 1 : p.hd == 32 ? 2 : p.hd == 64 ? 3 : 4;
    p.width = p.kind == 3 ? 16 : p.kind == 0 ? 4 : 1;
    p.items = H / p.width;
    return p;
}

/* Whether the plan's kernels take several heads at a time: each writes every q, k and v
 * gradient column of its heads once, and can recompute the probabilities. */
static bool plan_heads(att_plan p)
{
    return p.kind == 0 || p.kind == 3;
}

bool attention_recomputes(int T, int C, int H)
{
    return plan_heads(plan_of(T, C, H));
}

void attention_forward_biased(float *out, float *att, const float *qkv, const int32_t *start,
                              const attn_bias *bias, int B, int T, int C, int H)
{
    const att_plan p = plan_of(T, C, H);
    forward_kernel *const kernel = forward_kernels[bias != NULL][p.kind][p.col];
    const size_t rs = (size_t)3 * C;
    PAR_RANGE((size_t)B * p.items, 1, true, for (size_t it_ = lo; it_ < hi; it_++) {
        const int it = (int)it_, b = it / p.items, h = it % p.items * p.width;
        att_prefetch pf = {.n = 0};
        if (b + 1 < B) { /* the next sequence's rows, a part per item and row */
            prefetch_add(&pf, qkv + (size_t)(b + 1) * T * rs, (size_t)T * rs, false);
            prefetch_add(&pf, out + (size_t)(b + 1) * T * C, (size_t)T * C, true);
            if (att)
                prefetch_add(&pf, att + (size_t)(b + 1) * H * T * T, (size_t)H * T * T, true);
            prefetch_parts(&pf, (size_t)p.items * T);
        }
        att_bias_item bi = {NULL, 0, 0, NULL};
        if (bias) {
            bi.PP = (size_t)bias->P * bias->P;
            bi.P = bias->P;
            bi.table = bias->table + (size_t)h * bi.PP;
            bi.pos = bias->pos + (size_t)b * T;
        }
        kernel(out + (size_t)b * T * C + (size_t)h * p.hd,
               att ? att + ((size_t)b * H + h) * T * T : NULL,
               qkv + (size_t)b * T * rs + (size_t)h * p.hd, T, key_start(start, b), rs, C, p.hd,
               p.scale, &pf, (size_t)(it % p.items) * T, bias ? &bi : NULL);
    });
}

void attention_forward(float *out, float *att, const float *qkv, const int32_t *start,
                       int B, int T, int C, int H)
{
    attention_forward_biased(out, att, qkv, start, NULL, B, T, C, H);
}

static void attention_backward_at(float *dqkv, const float *dout, const float *qkv,
                                  const float *att, const int32_t *start, int B, int T, int C,
                                  int H, bool add)
{
    const att_plan p = plan_of(T, C, H);
    backward_kernel *const kernel = backward_kernels[p.kind][p.col];
    const size_t rs = (size_t)3 * C;
    /* the kernels of one head at a time add (each key's rows gather over the queries) */
    const bool heads = plan_heads(p);
    if (!add && !heads)
        tensor_zero(dqkv, (size_t)B * T * rs);
#pragma omp parallel for schedule(static)
    for (int it = 0; it < B * p.items; it++) {
        const int b = it / p.items, h = it % p.items * p.width;
        att_prefetch pf = {.n = 0};
        if (b + 1 < B) {
            prefetch_add(&pf, qkv + (size_t)(b + 1) * T * rs, (size_t)T * rs, false);
            prefetch_add(&pf, dqkv + (size_t)(b + 1) * T * rs, (size_t)T * rs, true);
            prefetch_add(&pf, dout + (size_t)(b + 1) * T * C, (size_t)T * C, false);
            if (att)
                prefetch_add(&pf, att + (size_t)(b + 1) * H * T * T, (size_t)H * T * T, false);
            prefetch_parts(&pf, (size_t)p.items * T);
        }
        const size_t at = (size_t)b * T * rs + (size_t)h * p.hd;
        kernel(dqkv + at, dout + (size_t)b * T * C + (size_t)h * p.hd, qkv + at,
               att ? att + ((size_t)b * H + h) * T * T : NULL, T, key_start(start, b), rs, C, p.hd,
               p.scale, &pf, (size_t)(it % p.items) * T, add || !heads);
    }
}

void attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                        const int32_t *start, int B, int T, int C, int H)
{
    attention_backward_at(dqkv, dout, qkv, att, start, B, T, C, H, true);
}

void attention_backward_to(float *dqkv, const float *dout, const float *qkv, const float *att,
                           const int32_t *start, int B, int T, int C, int H)
{
    attention_backward_at(dqkv, dout, qkv, att, start, B, T, C, H, false);
}

/* Whether query t may look at key j when the sequence's real tokens start at lo. */
static int key_visible(int t, int j, int lo)
{
    return t < lo ? j == t : (j >= lo && j <= t);
}

/* Scaled (and biased) score of query t and key j for head h of sequence b, in double. */
static double reference_score(const float *qkv, const attn_bias *bias, int b, int h, int t, int j,
                              int T, int C, int hd)
{
    const float *q = qkv + ((size_t)b * T + t) * 3 * C + (size_t)h * hd;
    const float *k = qkv + ((size_t)b * T + j) * 3 * C + C + (size_t)h * hd;
    double s = 0.0;
    for (int i = 0; i < hd; i++)
        s += (double)q[i] * (double)k[i];
    s /= sqrt((double)hd);
    if (bias) {
        const int32_t *pos = bias->pos + (size_t)b * T;
        s += bias->table[((size_t)h * bias->P + pos[t]) * bias->P + pos[j]];
    }
    return s;
}

void attention_forward_reference_biased(float *out, float *att, const float *qkv,
                                        const int32_t *start, const attn_bias *bias, int B,
                                        int T, int C, int H)
{
    const int hd = C / H;
    for (int b = 0; b < B; b++) {
        const int lo = key_start(start, b);
        for (int h = 0; h < H; h++) {
            for (int t = 0; t < T; t++) {
                float *row = att + (((size_t)b * H + h) * T + t) * T;
                float *o = out + ((size_t)b * T + t) * C + (size_t)h * hd;
                /* softmax over the visible keys, in double */
                double mx = -INFINITY, sum = 0.0;
                for (int j = 0; j < T; j++)
                    if (key_visible(t, j, lo))
                        mx = fmax(mx, reference_score(qkv, bias, b, h, t, j, T, C, hd));
                for (int j = 0; j < T; j++)
                    if (key_visible(t, j, lo))
                        sum += exp(reference_score(qkv, bias, b, h, t, j, T, C, hd) - mx);
                for (int j = 0; j < T; j++) {
                    double a = 0.0;
                    if (key_visible(t, j, lo))
                        a = exp(reference_score(qkv, bias, b, h, t, j, T, C, hd) - mx) / sum;
                    row[j] = (float)a;
                }
                for (int i = 0; i < hd; i++) {
                    double acc = 0.0;
                    for (int j = 0; j < T; j++) {
                        if (!key_visible(t, j, lo))
                            continue;
                        const double a =
                            exp(reference_score(qkv, bias, b, h, t, j, T, C, hd) - mx);
                        const float *v = qkv + ((size_t)b * T + j) * 3 * C + 2 * C;
                        acc += a / sum * (double)v[(size_t)h * hd + i];
                    }
                    o[i] = (float)acc;
                }
            }
        }
    }
}

void attention_forward_reference(float *out, float *att, const float *qkv, const int32_t *start,
                                 int B, int T, int C, int H)
{
    attention_forward_reference_biased(out, att, qkv, start, NULL, B, T, C, H);
}

/* ------------------------------------------------------------------- the bias's gradient */

/* The bias gradient of one sequence and head into its table dt: for each query t,
 * datt_tj = dout_t . v_j (summed in increasing i from 0, as dot() sums), s_t =
 * sum_j att_tj datt_tj in increasing j, then dt[pos_t][pos_j] += att_tj (datt_tj - s_t) in
 * increasing j. A row's datt are computed sixteen keys at a time, each lane its own sum in
 * dot()'s order (so every path gives the same bits), from vT: v transposed, (hd, TS) with
 * TS = T + 16 and the columns past T zero. d: TS floats of room. */
enum { BIAS_BLOCK = 16 };

FAST_INLINE void bias_backward_seq_body(float *restrict dt, const float *restrict dout,
                                        const float *restrict v, const float *restrict att,
                                        const int32_t *restrict pos, int T, int lo, size_t rs,
                                        int C, int hd, int P, float *restrict vT,
                                        float *restrict d)
{
    const int TS = T + BIAS_BLOCK;
    for (int i = 0; i < hd; i++) {
        float *vi = vT + (size_t)i * TS;
        for (int j = 0; j < T; j++)
            vi[j] = v[j * rs + i];
        for (int j = T; j < TS; j++)
            vi[j] = 0.0f;
    }
    for (int t = 0; t < T; t++) {
        const int j0 = t < lo ? t : lo, n = t - j0 + 1;
        const float *dot_ = dout + (size_t)t * C;
        for (int jb = 0; jb < n; jb += BIAS_BLOCK) {
            float acc[BIAS_BLOCK];
            for (int l = 0; l < BIAS_BLOCK; l++)
                acc[l] = 0.0f;
            for (int i = 0; i < hd; i++) {
                const float x = dot_[i];
                const float *vi = vT + (size_t)i * TS + j0 + jb;
                for (int l = 0; l < BIAS_BLOCK; l++)
                    acc[l] += x * vi[l];
            }
            memcpy(d + jb, acc, sizeof acc);
        }
        const float *row = att + (size_t)t * T + j0;
        float s = 0.0f;
        for (int j = 0; j < n; j++)
            s += row[j] * d[j];
        float *drow = dt + (size_t)pos[t] * P;
        const int32_t *pj = pos + j0;
        for (int j = 0; j < n; j++)
            drow[pj[j]] += row[j] * (d[j] - s);
    }
}

FAST_CLONES(bias_backward_seq,
            (float *dt, const float *dout, const float *v, const float *att, const int32_t *pos,
             int T, int lo, size_t rs, int C, int hd, int P, float *vT, float *d),
            (dt, dout, v, att, pos, T, lo, rs, C, hd, P, vT, d))

void attention_bias_backward(float *dtable, const float *dout, const float *qkv, const float *att,
                             const int32_t *start, const attn_bias *bias, int B, int T, int C,
                             int H)
{
    const int hd = C / H, P = bias->P;
    const size_t rs = (size_t)3 * C;
    void (*const seq)(float *, const float *, const float *, const float *, const int32_t *, int,
                      int, size_t, int, int, int, float *, float *) = FAST_PICK(bias_backward_seq);
    /* a head's table entries are written by its own thread only, in a fixed order */
#pragma omp parallel if (H > 1 && (size_t)B * T * T * C > 32768)
    {
        float *vT = malloc(((size_t)hd + 1) * (T + BIAS_BLOCK) * sizeof *vT);
#pragma omp for schedule(static)
        for (int h = 0; h < H; h++) {
            float *dt = dtable + (size_t)h * P * P;
            for (int b = 0; b < B; b++) {
                const int32_t *pos = bias->pos + (size_t)b * T;
                const float *v = qkv + (size_t)b * T * rs + 2 * C + (size_t)h * hd;
                const float *dout_b = dout + (size_t)b * T * C + (size_t)h * hd;
                const float *att_b = att + ((size_t)b * H + h) * T * T;
                const int lo = key_start(start, b);
                if (vT) {
                    seq(dt, dout_b, v, att_b, pos, T, lo, rs, C, hd, P, vT,
                        vT + (size_t)hd * (T + BIAS_BLOCK));
                    continue;
                }
                for (int t = 0; t < T; t++) { /* no room: the same sums, a key at a time */
                    const int j0 = t < lo ? t : lo;
                    const float *row = att_b + (size_t)t * T;
                    const float *dot_ = dout_b + (size_t)t * C;
                    float *drow = dt + (size_t)pos[t] * P;
                    float s = 0.0f;
                    for (int j = j0; j <= t; j++)
                        s += row[j] * dot(dot_, v + j * rs, hd);
                    for (int j = j0; j <= t; j++)
                        drow[pos[j]] += row[j] * (dot(dot_, v + j * rs, hd) - s);
                }
            }
        }
        free(vT);
    }
}

void attention_backward_biased(float *dqkv, float *dtable, const float *dout, const float *qkv,
                               const float *att, const int32_t *start, const attn_bias *bias,
                               int B, int T, int C, int H)
{
    attention_backward(dqkv, dout, qkv, att, start, B, T, C, H);
    if (dtable && bias)
        attention_bias_backward(dtable, dout, qkv, att, start, bias, B, T, C, H);
}

/* The scaled score of key j, plus its bias when brow (the bias table's row of the query's id,
 * for this head) is given: the forward kernels' arithmetic. */
ATT_INLINE float decode_score(const float *restrict q, const float *restrict k, int j, size_t rs,
                              int hd, float scale, const float *brow, const int32_t *kpos,
                              int kstart)
{
    float s = dot(q, k + j * rs, hd) * scale;
    if (brow)
        s += brow[decode_key_pos(kpos, kstart, j)];
    return s;
}

/* The decoding step for one (sequence, head) pair: the same arithmetic, in the same order, as
 * one row of attention_forward, with the scores recomputed instead of stored. brow, kpos,
 * kstart: the bias, as decode_score takes it (brow NULL: none). */
ATT_INLINE void head_decode(float *restrict out, const float *restrict q, const float *restrict k,
                            const float *restrict v, int t, int lo, size_t rs, int hd,
                            float scale, const float *brow, const int32_t *kpos, int kstart)
{
    /* the scores of up to DECODE_KEEP keys are kept; past that they are recomputed */
    enum { DECODE_KEEP = 512 };
    float kept[DECODE_KEEP];
    const int j0 = t < lo ? t : lo;
    const bool keep = t - j0 + 1 <= DECODE_KEEP;
    float mx = -INFINITY;
    for (int j = j0; j <= t; j++) {
        float s = decode_score(q, k, j, rs, hd, scale, brow, kpos, kstart);
        if (keep)
            kept[j - j0] = s;
        mx = s > mx ? s : mx;
    }
    float sum = 0.0f;
    for (int j = j0; j <= t; j++) {
        float s = keep ? kept[j - j0] : decode_score(q, k, j, rs, hd, scale, brow, kpos, kstart);
        float e = exp_softmax(s - mx);
        if (keep)
            kept[j - j0] = e;
        sum += e;
    }
    const float inv = 1.0f / sum;
    for (int i = 0; i < hd; i++)
        out[i] = 0.0f;
    for (int j = j0; j <= t; j++) {
        const float e =
            keep ? kept[j - j0]
                 : exp_softmax(decode_score(q, k, j, rs, hd, scale, brow, kpos, kstart) - mx);
        const float a = e * inv;
        const float *vj = v + j * rs;
        for (int i = 0; i < hd; i++)
            out[i] += a * vj[i];
    }
}

/* head_decode four keys at a time, for head sizes that are a multiple of 4 and up to
 * DECODE4_KEEP visible keys: four keys' columns transposed so that a score is summed over i in
 * head_decode's order four keys at once, the exponentials four at a time, and the values
 * weighted by the unnormalised exponentials, the sum divided once at the end (head_decode's
 * scores and exponentials; its output up to rounding). */
enum { DECODE4_KEEP = 512 };

/* The scores of keys kj .. kj + 3 (hd floats apart): dot(q, key) in dot's order, per lane. */
ATT_INLINE v4 key_scores4(const float *restrict q, const float *restrict kj, int hd)
{
    v4 s = splat4(0.0f);
    ATT_UNROLL
    for (int i = 0; i < hd; i += 4) {
        v4 r[4] = {ld4(kj + i), ld4(kj + hd + i), ld4(kj + 2 * hd + i), ld4(kj + 3 * hd + i)};
        transpose4(&r[0], &r[1], &r[2], &r[3]);
        const v4 qi = ld4(q + i);
        if (i == 0)
            s = LANE4(qi, 0) * r[0];
        else
            s += LANE4(qi, 0) * r[0];
        s += LANE4(qi, 1) * r[1];
        s += LANE4(qi, 2) * r[2];
        s += LANE4(qi, 3) * r[3];
    }
    return s;
}

ATT_INLINE void head_decode4(float *restrict out, const float *restrict q,
                             const float *restrict k, const float *restrict v, int t, int lo,
                             int hd, float scale, const float *brow, const int32_t *kpos,
                             int kstart)
{
    float sc[DECODE4_KEEP] __attribute__((aligned(16)));
    const int j0 = t < lo ? t : lo, n = t - j0 + 1;
    const float *kb = k + (size_t)j0 * hd, *vb = v + (size_t)j0 * hd;
    const v4 scale4 = splat4(scale);
    v4 mx4 = splat4(-INFINITY);
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        v4 s = key_scores4(q, kb + (size_t)j * hd, hd) * scale4;
        if (brow)
            s += (v4){brow[decode_key_pos(kpos, kstart, j0 + j)],
                      brow[decode_key_pos(kpos, kstart, j0 + j + 1)],
                      brow[decode_key_pos(kpos, kstart, j0 + j + 2)],
                      brow[decode_key_pos(kpos, kstart, j0 + j + 3)]};
        st4(sc + j, s);
        mx4 = max4(mx4, s);
    }
    float mx = hmax4(mx4)[0];
    for (; j < n; j++) {
        float s = dot(q, kb + (size_t)j * hd, hd) * scale;
        if (brow)
            s += brow[decode_key_pos(kpos, kstart, j0 + j)];
        sc[j] = s;
        mx = s > mx ? s : mx;
    }
    const v4 mxv = splat4(mx);
    v4 sum4 = splat4(0.0f);
    j = 0;
    for (; j + 4 <= n; j += 4) {
        const v4 e = exp_softmax4(ld4(sc + j) - mxv);
        st4(sc + j, e);
        sum4 += e;
    }
    float sum = hsum4(sum4)[0];
    for (; j < n; j++) {
        sc[j] = exp_softmax(sc[j] - mx);
        sum += sc[j];
    }
    v4 acc[ATT_MAX_HD / 4];
    ATT_UNROLL
    for (int i = 0; i < hd; i += 4)
        acc[i / 4] = splat4(0.0f);
    for (j = 0; j < n; j++) {
        const v4 e = splat4(sc[j]);
        const float *vj = vb + (size_t)j * hd;
        ATT_UNROLL
        for (int i = 0; i < hd; i += 4)
            acc[i / 4] += e * ld4(vj + i);
    }
    const v4 inv = splat4(1.0f / sum);
    ATT_UNROLL
    for (int i = 0; i < hd; i += 4)
        st4(out + i, acc[i / 4] * inv);
}

/* head_decode4 for the head sizes with a kernel of their own (hd a constant there), head_decode
 * for any other and for more visible keys than head_decode4 keeps. */
#define ATT_DECODE_SWITCH(BROW, KPOS, KSTART)                                                      \
    if (t - (t < lo ? t : lo) + 1 > DECODE4_KEEP)                                                \
        head_decode(o, qb, kc, vc, t, lo, hd, hd, scale, BROW, KPOS, KSTART);                      \
    else                                                                                           \
        switch (hd) {                                                                              \
        case 8: head_decode4(o, qb, kc, vc, t, lo, 8, scale, BROW, KPOS, KSTART); break;           \
        case 16: head_decode4(o, qb, kc, vc, t, lo, 16, scale, BROW, KPOS, KSTART); break;         \
        case 32: head_decode4(o, qb, kc, vc, t, lo, 32, scale, BROW, KPOS, KSTART); break;         \
        case 64: head_decode4(o, qb, kc, vc, t, lo, 64, scale, BROW, KPOS, KSTART); break;         \
        default: head_decode(o, qb, kc, vc, t, lo, hd, hd, scale, BROW, KPOS, KSTART); break;      \
        }

/* heads_decode for the head sizes with a kernel of their own: four heads a vector (SSE2, or
 * plain), and sixteen (AVX-512). */
typedef void decode_kernel(float *o, const float *q, const float *kc, const float *vc, int t,
                           int lo, size_t lw, float scale, const float *brow, size_t PP,
                           const int32_t *kpos, int kstart);
#define ATT_DECODE_KERNEL(ATTR, W, HD)                                                             \
    ATTR static void heads_decode##W##_##HD(float *o, const float *q, const float *kc,             \
                                            const float *vc, int t, int lo, size_t lw,             \
                                            float scale, const float *brow, size_t PP,             \
                                            const int32_t *kpos, int kstart)                       \
    {                                                                                              \
        heads_decode##W(o, q, kc, vc, t, lo, HD, lw, scale, brow, PP, kpos, kstart);               \
    }
ATT_DECODE_KERNEL(, 4, 8)
ATT_DECODE_KERNEL(, 4, 16)
ATT_DECODE_KERNEL(, 4, 32)
ATT_DECODE_KERNEL(, 4, 64)
static decode_kernel *const decode_kernels4[4] = {heads_decode4_8, heads_decode4_16,
                                                  heads_decode4_32, heads_decode4_64};
#if FAST_X86_DISPATCH
ATT_DECODE_KERNEL(FAST_AVX512, 16, 8)
ATT_DECODE_KERNEL(FAST_AVX512, 16, 16)
ATT_DECODE_KERNEL(FAST_AVX512, 16, 32)
ATT_DECODE_KERNEL(FAST_AVX512, 16, 64)
static decode_kernel *const decode_kernels16[4] = {heads_decode16_8, heads_decode16_16,
                                                   heads_decode16_32, heads_decode16_64};
#endif

/* The column of a head size in the tables above, or -1. */
static int decode_col(int hd)
{
    return hd == 8 ? 0 : hd == 16 ? 1 : hd == 32 ? 2 : hd == 64 ? 3 : -1;
}

int attention_cache_width(int C, int H)
{
    if (decode_col(C / H) < 0 || H % 4)
        return 1;
#if FAST_X86_DISPATCH
    if (fast_has_avx512() && H % 16 == 0)
        return 16;
#endif
    return 4;
}

/* W heads' hd columns (head l's at src + l * hd) to dst, column i's lanes at dst[i * W + l]:
 * the transposes of gather_heads, four heads at a time, stored whole. */
static void interleave_heads(float *restrict dst, const float *restrict src, int hd, int W)
{
    for (int g = 0; g < W / 4; g++)
        for (int c = 0; c < hd; c += 4) {
            const float *sc = src + 4 * g * hd + c;
            v4 m[4] = {ld4(sc), ld4(sc + hd), ld4(sc + 2 * hd), ld4(sc + 3 * hd)};
            transpose4(&m[0], &m[1], &m[2], &m[3]);
            for (int u = 0; u < 4; u++)
                st4(dst + (size_t)(c + u) * W + 4 * g, m[u]);
        }
}

void attention_cache_store(float *k_row, float *v_row, const float *qkv, size_t qkv_stride,
                           int n, int c0, int Tmax, int C, int H, int W)
{
    const int hd = C / H;
    for (int c = 0; c < n; c++) {
        const float *k = qkv + (size_t)c * qkv_stride + C, *v = k + C;
        const size_t col = (size_t)(c0 + c);
        if (W == 1) {
            for (int h = 0; h < H; h++) {
                float *kd = k_row + ((size_t)h * Tmax + col) * hd;
                float *vd = v_row + ((size_t)h * Tmax + col) * hd;
                for (int i = 0; i < hd; i++) {
                    kd[i] = k[h * hd + i];
                    vd[i] = v[h * hd + i];
                }
            }
            continue;
        }
        for (int g = 0; g < H / W; g++) {
            const size_t at = ((size_t)g * Tmax + col) * hd * W;
            interleave_heads(k_row + at, k + g * W * hd, hd, W);
            interleave_heads(v_row + at, v + g * W * hd, hd, W);
        }
    }
}

/* The decoding step on a cache of width W > 1: a work item per (sequence, W heads), each
 * heads_decode on its lanes, sixteen at a time with AVX-512, else four at a time. */
static void decode_interleaved(float *out, const float *q, int q_stride, const float *k_cache,
                               const float *v_cache, const int32_t *start,
                               const attn_bias *bias, int B, int t, int Tmax, int C, int H,
                               int W)
{
    const int hd = C / H, G = H / W, col = decode_col(hd);
    const float scale = 1.0f / sqrtf((float)hd);
    decode_kernel *wide = NULL;
#if FAST_X86_DISPATCH
    if (W == 16 && fast_has_avx512())
        wide = decode_kernels16[col];
#endif
    decode_kernel *const narrow = decode_kernels4[col];
    PAR_RANGE((size_t)B * G, 1, B * H * (t + 1) > 4096, for (size_t it_ = lo; it_ < hi; it_++) {
        const int it = (int)it_, b = it / G, h0 = it % G * W;
        const size_t at = ((size_t)b * H + h0) * Tmax * hd;
        const float *qb = q + (size_t)b * q_stride + (size_t)h0 * hd;
        const float *kc = k_cache + at, *vc = v_cache + at;
        float *o = out + (size_t)b * C + (size_t)h0 * hd;
        const int lo_b = key_start(start, b);
        const float *brow = NULL;
        const int32_t *kpos = NULL;
        size_t PP = 0;
        int kstart = 0;
        if (bias) {
            const int P = bias->P;
            PP = (size_t)P * P;
            brow = bias->table + ((size_t)h0 * P + bias->pos[b]) * P;
            kpos = bias->kpos ? bias->kpos + (size_t)b * bias->kpos_stride : NULL;
            kstart = start ? start[b] : 0;
        }
        if (wide) {
            wide(o, qb, kc, vc, t, lo_b, (size_t)W, scale, brow, PP, kpos, kstart);
            continue;
        }
        for (int s = 0; s < W; s += 4) /* four of the W lanes at a time */
            narrow(o + (size_t)s * hd, qb + (size_t)s * hd, kc + s, vc + s, t, lo_b, (size_t)W,
                   scale, brow ? brow + s * PP : NULL, PP, kpos, kstart);
    });
}

void attention_decode_biased(float *out, const float *q, int q_stride, const float *k_cache,
                             const float *v_cache, const int32_t *start, const attn_bias *bias,
                             int B, int t, int Tmax, int C, int H, int W)
{
    if (W > 1) {
        decode_interleaved(out, q, q_stride, k_cache, v_cache, start, bias, B, t, Tmax, C, H,
                           W);
        return;
    }
    const int hd = C / H;
    const float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(static) if (B * H * (t + 1) > 4096)
    for (int bh = 0; bh < B * H; bh++) {
        const int b = bh / H, h = bh % H;
        const size_t at = ((size_t)b * H + h) * Tmax * hd;
        const float *qb = q + (size_t)b * q_stride + (size_t)h * hd;
        const float *kc = k_cache + at, *vc = v_cache + at;
        float *o = out + (size_t)b * C + (size_t)h * hd;
        const int lo = key_start(start, b);
        if (bias) {
            const int P = bias->P;
            const float *brow = bias->table + ((size_t)h * P + bias->pos[b]) * P;
            const int32_t *kpos =
                bias->kpos ? bias->kpos + (size_t)b * bias->kpos_stride : NULL;
            const int kstart = start ? start[b] : 0;
            ATT_DECODE_SWITCH(brow, kpos, kstart)
        } else {
            ATT_DECODE_SWITCH(NULL, NULL, 0)
        }
    }
}

void attention_decode(float *out, const float *q, int q_stride, const float *k_cache,
                      const float *v_cache, const int32_t *start, int B, int t, int Tmax,
                      int C, int H)
{
    attention_decode_biased(out, q, q_stride, k_cache, v_cache, start, NULL, B, t, Tmax, C, H,
                            1);
}

/* ------------------------------------------------------------------------------- ALiBi */

void alibi_slopes(float *slopes, int H)
{
    int p2 = 1; /* the largest power of two <= H */
    while (p2 * 2 <= H)
        p2 *= 2;
    for (int h = 0; h < p2; h++) /* 2^(-8/p2), its square, its cube, ... */
        slopes[h] = (float)exp2(-8.0 * (h + 1) / p2);
    for (int h = p2; h < H; h++) /* every other slope of 2 p2 heads: 2^(-8(2i+1)/(2 p2)) */
        slopes[h] = (float)exp2(-8.0 * (2 * (h - p2) + 1) / (2 * p2));
}

void alibi_table(float *table, const float *slopes, int H, int P)
{
    for (int h = 0; h < H; h++)
        for (int i = 0; i < P; i++) {
            float *row = table + ((size_t)h * P + i) * P;
            for (int j = 0; j < P; j++)
                row[j] = -slopes[h] * (float)(i > j ? i - j : j - i);
        }
}
