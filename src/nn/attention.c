/* attention: causal multi-head self-attention over a packed qkv buffer (forward, backward, a
 * plain reference forward, and the one-query decoding step against a key/value cache). */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "nn/nn.h"

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

/* First key column of sequence b (left padding before it). */
static int key_start(const int32_t *start, int b)
{
    return start && start[b] > 0 ? start[b] : 0;
}

/* e^x for x <= 0 (the softmax's x - max), in plain float and integer operations that
 * vectorize (libm's expf is a call per element, a large part of the forward's time).
 * Cephes' expf: x = n ln2 + r with |r| <= ln2/2, e^r by a polynomial, 2^n written into the
 * exponent bits. Within 1 ulp of e^x down to -87; below that it gives e^-87 instead of a
 * denormal or 0, which is nothing next to the row's largest term (1). NaN stays NaN. */
ATT_INLINE float exp_softmax(float x)
{
    /* x < -87 (down to -inf, not NaN) -> -87, with a mask rather than a branch so that the
     * loop vectorizes; 0xC2AE0000 is -87.0f and negative floats order by their bits */
    uint32_t xb;
    memcpy(&xb, &x, sizeof xb);
    const uint32_t low = 0u - (uint32_t)(xb - 0xC2AE0001u < 0xFF800000u - 0xC2AE0000u);
    xb = (xb & ~low) | (0xC2AE0000u & low);
    memcpy(&x, &xb, sizeof x);
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
    uint32_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits - 0x4B400000u + 127u) << 23;
    float pow2n;
    memcpy(&pow2n, &bits, sizeof pow2n);
    return y * pow2n;
}

/* Dot product of two hd-vectors, summed in index order. */
ATT_INLINE float dot(const float *a, const float *b, int hd)
{
    float s = 0.0f;
    for (int i = 0; i < hd; i++)
        s += a[i] * b[i];
    return s;
}

/* One (sequence, head) pair. q, k, v: the head's columns of row 0, rows rs floats apart;
 * out: the head's output columns of row 0, rows os floats apart; att: (T, T). */
ATT_INLINE void head_forward(float *restrict out, float *restrict att, const float *restrict q,
                             const float *restrict k, const float *restrict v, int T, int lo,
                             size_t rs, size_t os, int hd, float scale)
{
    for (int t = 0; t < T; t++) {
        const float *qt = q + t * rs;
        float *row = att + (size_t)t * T;
        const int j0 = t < lo ? t : lo; /* a padding query sees only itself */
        float mx = -INFINITY;
        for (int j = j0; j <= t; j++) {
            float s = dot(qt, k + j * rs, hd) * scale;
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

void attention_forward(float *out, float *att, const float *qkv, const int32_t *start,
                       int B, int T, int C, int H)
{
    const int hd = C / H;
    const float scale = 1.0f / sqrtf((float)hd);
    const size_t rs = (size_t)3 * C;
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * H; bh++) {
        const int b = bh / H, h = bh % H;
        const float *q = qkv + (size_t)b * T * rs + (size_t)h * hd;
        float *o = out + (size_t)b * T * C + (size_t)h * hd;
        float *a = att + (size_t)bh * T * T;
        const int lo = key_start(start, b);
        /* constant head sizes let the compiler unroll the inner loops */
        switch (hd) {
        case 8: head_forward(o, a, q, q + C, q + 2 * C, T, lo, rs, C, 8, scale); break;
        case 16: head_forward(o, a, q, q + C, q + 2 * C, T, lo, rs, C, 16, scale); break;
        case 32: head_forward(o, a, q, q + C, q + 2 * C, T, lo, rs, C, 32, scale); break;
        case 64: head_forward(o, a, q, q + C, q + 2 * C, T, lo, rs, C, 64, scale); break;
        default: head_forward(o, a, q, q + C, q + 2 * C, T, lo, rs, C, hd, scale); break;
        }
    }
}

/* Backward of one (sequence, head) pair; dq, dk, dv: the head's gradient columns of row 0 of
 * dqkv, rows rs floats apart; dout rows os apart. */
ATT_INLINE void head_backward(float *restrict dq, float *restrict dk, float *restrict dv,
                              const float *restrict dout, const float *restrict q,
                              const float *restrict k, const float *restrict v,
                              const float *restrict att, int T, int lo, size_t rs, size_t os,
                              int hd, float scale)
{
    for (int t = 0; t < T; t++) {
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

void attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                        const int32_t *start, int B, int T, int C, int H)
{
    const int hd = C / H;
    const float scale = 1.0f / sqrtf((float)hd);
    const size_t rs = (size_t)3 * C;
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * H; bh++) {
        const int b = bh / H, h = bh % H;
        const size_t at = (size_t)b * T * rs + (size_t)h * hd;
        const float *q = qkv + at, *d = dout + (size_t)b * T * C + (size_t)h * hd;
        float *dq = dqkv + at;
        const float *a = att + (size_t)bh * T * T;
        const int lo = key_start(start, b);
        switch (hd) {
        case 8:
            head_backward(dq, dq + C, dq + 2 * C, d, q, q + C, q + 2 * C, a, T, lo, rs, C, 8,
                          scale);
            break;
        case 16:
            head_backward(dq, dq + C, dq + 2 * C, d, q, q + C, q + 2 * C, a, T, lo, rs, C, 16,
                          scale);
            break;
        case 32:
            head_backward(dq, dq + C, dq + 2 * C, d, q, q + C, q + 2 * C, a, T, lo, rs, C, 32,
                          scale);
            break;
        case 64:
            head_backward(dq, dq + C, dq + 2 * C, d, q, q + C, q + 2 * C, a, T, lo, rs, C, 64,
                          scale);
            break;
        default:
            head_backward(dq, dq + C, dq + 2 * C, d, q, q + C, q + 2 * C, a, T, lo, rs, C, hd,
                          scale);
            break;
        }
    }
}

/* Whether query t may look at key j when the sequence's real tokens start at lo. */
static int key_visible(int t, int j, int lo)
{
    return t < lo ? j == t : (j >= lo && j <= t);
}

/* Scaled score of query t and key j for head h of sequence b, in double. */
static double reference_score(const float *qkv, int b, int h, int t, int j, int T, int C, int hd)
{
    const float *q = qkv + ((size_t)b * T + t) * 3 * C + (size_t)h * hd;
    const float *k = qkv + ((size_t)b * T + j) * 3 * C + C + (size_t)h * hd;
    double s = 0.0;
    for (int i = 0; i < hd; i++)
        s += (double)q[i] * (double)k[i];
    return s / sqrt((double)hd);
}

void attention_forward_reference(float *out, float *att, const float *qkv, const int32_t *start,
                                 int B, int T, int C, int H)
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
                        mx = fmax(mx, reference_score(qkv, b, h, t, j, T, C, hd));
                for (int j = 0; j < T; j++)
                    if (key_visible(t, j, lo))
                        sum += exp(reference_score(qkv, b, h, t, j, T, C, hd) - mx);
                for (int j = 0; j < T; j++) {
                    double a = 0.0;
                    if (key_visible(t, j, lo))
                        a = exp(reference_score(qkv, b, h, t, j, T, C, hd) - mx) / sum;
                    row[j] = (float)a;
                }
                for (int i = 0; i < hd; i++) {
                    double acc = 0.0;
                    for (int j = 0; j < T; j++) {
                        if (!key_visible(t, j, lo))
                            continue;
                        const double a = exp(reference_score(qkv, b, h, t, j, T, C, hd) - mx);
                        const float *v = qkv + ((size_t)b * T + j) * 3 * C + 2 * C;
                        acc += a / sum * (double)v[(size_t)h * hd + i];
                    }
                    o[i] = (float)acc;
                }
            }
        }
    }
}

/* The decoding step for one (sequence, head) pair: the same arithmetic, in the same order, as
 * one row of head_forward, with the scores recomputed instead of stored. */
ATT_INLINE void head_decode(float *restrict out, const float *restrict q, const float *restrict k,
                            const float *restrict v, int t, int lo, size_t rs, int hd,
                            float scale)
{
    /* the scores of up to DECODE_KEEP keys are kept; past that they are recomputed */
    enum { DECODE_KEEP = 512 };
    float kept[DECODE_KEEP];
    const int j0 = t < lo ? t : lo;
    const bool keep = t - j0 + 1 <= DECODE_KEEP;
    float mx = -INFINITY;
    for (int j = j0; j <= t; j++) {
        float s = dot(q, k + j * rs, hd) * scale;
        if (keep)
            kept[j - j0] = s;
        mx = s > mx ? s : mx;
    }
    float sum = 0.0f;
    for (int j = j0; j <= t; j++) {
        float s = keep ? kept[j - j0] : dot(q, k + j * rs, hd) * scale;
        float e = exp_softmax(s - mx);
        if (keep)
            kept[j - j0] = e;
        sum += e;
    }
    const float inv = 1.0f / sum;
    for (int i = 0; i < hd; i++)
        out[i] = 0.0f;
    for (int j = j0; j <= t; j++) {
        const float e = keep ? kept[j - j0] : exp_softmax(dot(q, k + j * rs, hd) * scale - mx);
        const float a = e * inv;
        const float *vj = v + j * rs;
        for (int i = 0; i < hd; i++)
            out[i] += a * vj[i];
    }
}

void attention_decode(float *out, const float *q, int q_stride, const float *k_cache,
                      const float *v_cache, const int32_t *start, int B, int t, int Tmax,
                      int C, int H)
{
    const int hd = C / H;
    const float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(static) if (B * H * (t + 1) > 4096)
    for (int bh = 0; bh < B * H; bh++) {
        const int b = bh / H, h = bh % H;
        const size_t at = ((size_t)b * H + h) * Tmax * hd;
        const float *qb = q + (size_t)b * q_stride + (size_t)h * hd;
        float *o = out + (size_t)b * C + (size_t)h * hd;
        const int lo = key_start(start, b);
        switch (hd) {
        case 8: head_decode(o, qb, k_cache + at, v_cache + at, t, lo, 8, 8, scale); break;
        case 16: head_decode(o, qb, k_cache + at, v_cache + at, t, lo, 16, 16, scale); break;
        case 32: head_decode(o, qb, k_cache + at, v_cache + at, t, lo, 32, 32, scale); break;
        case 64: head_decode(o, qb, k_cache + at, v_cache + at, t, lo, 64, 64, scale); break;
        default: head_decode(o, qb, k_cache + at, v_cache + at, t, lo, hd, hd, scale); break;
        }
    }
}
