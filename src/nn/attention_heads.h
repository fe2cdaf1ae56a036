/* attention_heads.h: the kernels that take HW heads of a sequence at a time, one head per
 * lane; included by attention.c only, once per width. The includer defines:
 *   HW        heads per vector, a multiple of 4 (4: SSE2 or plain; 16: AVX-512)
 *   HV, HVI   the float and int32 vector types of HW lanes
 *   HN(x)     x with the width appended (heads4_forward, heads16_forward, ...)
 *   HATTR     the target attribute of every function here (empty, or FAST_AVX512)
 *   HMAX_T, HLOCAL   the longest sequence, and the most vectors in a (T, hd) array
 * and, for HV: HN(splat)(x), HN(max)(a, b) (per lane a > b ? a : b) and HN(exp_softmax)(x),
 * exp_softmax's operations in its order on every lane.
 *
 * Every step is head_forward's (or the backward's) scalar arithmetic on HW heads at once, in
 * the same order, with no masks, shuffles or horizontal sums, so every width gives the same
 * bits; only the loads and stores transpose, four heads at a time (transpose4), between rows
 * of the heads' hd columns and vectors over the heads. Scores and probabilities are kept in
 * (T, TP) arrays of such vectors, TP = T rounded up to 4. */

/* Lanes 4g..4g+3 of *x, and their store. */
HATTR ATT_INLINE v4 HN(group)(const HV *x, int g)
{
    v4 m;
    memcpy(&m, (const float *)x + 4 * g, sizeof m);
    return m;
}

HATTR ATT_INLINE void HN(set_group)(HV *x, int g, v4 m)
{
    memcpy((float *)x + 4 * g, &m, sizeof m);
}

static bool HN(heads_ok)(int T, int H, int hd)
{
    return H % HW == 0 && (hd == 8 || hd == 16 || hd == 32 || hd == 64) && T <= HMAX_T &&
           T * hd <= HLOCAL;
}

/* dst[r * hd + i] = column i of row r of the HW heads, head l at src + r * rs + l * hd. */
HATTR ATT_INLINE void HN(gather_heads)(HV *restrict dst, const float *restrict src, int T,
                                       size_t rs, int hd)
{
    for (int r = 0; r < T; r++) {
        const float *s = src + (size_t)r * rs;
        for (int g = 0; g < HW / 4; g++) {
            const float *sg = s + 4 * g * hd;
            ATT_UNROLL
            for (int c = 0; c < hd; c += 4) {
                v4 m0 = ld4(sg + c), m1 = ld4(sg + hd + c), m2 = ld4(sg + 2 * hd + c),
                   m3 = ld4(sg + 3 * hd + c);
                transpose4(&m0, &m1, &m2, &m3);
                HN(set_group)(&dst[r * hd + c], g, m0);
                HN(set_group)(&dst[r * hd + c + 1], g, m1);
                HN(set_group)(&dst[r * hd + c + 2], g, m2);
                HN(set_group)(&dst[r * hd + c + 3], g, m3);
            }
        }
    }
}

/* The inverse for one row: head l's hd columns at dst + l * hd get (add: += ) x[i] lane l. */
HATTR ATT_INLINE void HN(scatter_heads)(float *restrict dst, const HV *restrict x, int hd,
                                        bool add)
{
    for (int g = 0; g < HW / 4; g++) {
        ATT_UNROLL
        for (int c = 0; c < hd; c += 4) {
            v4 m[4] = {HN(group)(&x[c], g), HN(group)(&x[c + 1], g), HN(group)(&x[c + 2], g),
                       HN(group)(&x[c + 3], g)};
            transpose4(&m[0], &m[1], &m[2], &m[3]);
            for (int l = 0; l < 4; l++) {
                float *d = dst + (4 * g + l) * hd + c;
                st4(d, add ? ld4(d) + m[l] : m[l]);
            }
        }
    }
}

/* The heads' scores of the visible keys into S (T rows of TP vectors), then their
 * exponentials and 1 / each row's sum into inv: the forward's arithmetic, in its order, which
 * the backward repeats (heads_backward without att) for the same bits. */
HATTR ATT_INLINE void HN(heads_softmax)(HV *restrict S, HV *restrict inv, const HV *restrict Q,
                                        const HV *restrict K, int T, int lo, int hd,
                                        float scale, const att_prefetch *pf, size_t part,
                                        const att_bias_item *bi)
{
    const int TP = (T + 3) & ~3;
    /* scores (dot()'s order) */
    for (int t = 0; t < T; t++) {
        const int j0 = t < lo ? t : lo; /* a padding query sees only itself */
        prefetch_part(pf, part + t);
        HV qt[ATT_MAX_HD];
        ATT_UNROLL
        for (int i = 0; i < hd; i++)
            qt[i] = Q[t * hd + i];
        for (int j = j0; j <= t; j++) {
            const HV *kj = K + j * hd;
            HV s = qt[0] * kj[0];
            ATT_UNROLL
            for (int i = 1; i < hd; i++)
                s += qt[i] * kj[i];
            S[t * TP + j] = s * HN(splat)(scale);
        }
        if (bi) { /* the heads' biases, lane l from head h0 + l's table */
            const float *brow = bias_row(bi, t);
            const size_t PP = bi->PP;
            for (int j = j0; j <= t; j++) {
                const float *bj = brow + bi->pos[j];
                HV b = HN(splat)(0.0f);
                for (int l = 0; l < HW; l++)
                    b[l] = bj[l * PP];
                S[t * TP + j] += b;
            }
        }
    }
    /* exponentials and 1 / their sum, in increasing j */
    for (int t = 0; t < T; t++) {
        const int j0 = t < lo ? t : lo;
        HV *St = S + t * TP;
        HV mx = HN(splat)(-INFINITY);
        for (int j = j0; j <= t; j++)
            mx = HN(max)(St[j], mx);
        HV sum = HN(splat)(0.0f);
        for (int j = j0; j <= t; j++) {
            const HV e = HN(exp_softmax)(St[j] - mx);
            St[j] = e;
            sum += e;
        }
        inv[t] = HN(splat)(1.0f) / sum;
    }
}

/* Heads h0..h0+HW-1 of one sequence. q: head h0's q columns of row 0 (k, v at + C, + 2C),
 * rows rs floats apart; out: head h0's output columns of row 0, rows os apart; att: head
 * h0's (T, T) probabilities, the other heads' after it, or NULL: not stored (the backward
 * then recomputes them). */
HATTR ATT_INLINE void HN(heads_forward)(float *restrict out, float *restrict att,
                                        const float *restrict q, int T, int lo, size_t rs,
                                        size_t os, int C, int hd, float scale,
                                        const att_prefetch *pf, size_t part,
                                        const att_bias_item *bi)
{
    const int TP = (T + 3) & ~3;
    const size_t TT = (size_t)T * T;
    HV Q[HLOCAL], K[HLOCAL], V[HLOCAL], S[HMAX_T * HMAX_T];
    HV inv[HMAX_T], R[HMAX_T + 4];
    HN(gather_heads)(Q, q, T, rs, hd);
    HN(gather_heads)(K, q + C, T, rs, hd);
    HN(gather_heads)(V, q + 2 * C, T, rs, hd);
    HN(heads_softmax)(S, inv, Q, K, T, lo, hd, scale, pf, part, bi);
    /* probabilities into att (0 elsewhere); out_t = sum_j a_tj v_j in increasing j */
    if (att)
        memset(att, 0, HW * TT * sizeof *att);
    for (int t = 0; t < T; t++) {
        const int j0 = t < lo ? t : lo, jb0 = j0 & ~3;
        const HV *St = S + t * TP;
        R[jb0] = R[jb0 + 1] = R[jb0 + 2] = HN(splat)(0.0f);
        R[t + 1] = R[t + 2] = R[t + 3] = HN(splat)(0.0f);
        HV acc[ATT_MAX_HD];
        ATT_UNROLL
        for (int i = 0; i < hd; i++)
            acc[i] = HN(splat)(0.0f);
        for (int j = j0; j <= t; j++) {
            const HV a = St[j] * inv[t];
            const HV *vj = V + j * hd;
            R[j] = a;
            ATT_UNROLL
            for (int i = 0; i < hd; i++)
                acc[i] += a * vj[i];
        }
        HN(scatter_heads)(out + t * os, acc, hd, false);
        if (!att)
            continue;
        float *row = att + (size_t)t * T;
        for (int jc = jb0; jc <= t; jc += 4)
            for (int g = 0; g < HW / 4; g++) {
                v4 m[4] = {HN(group)(&R[jc], g), HN(group)(&R[jc + 1], g),
                           HN(group)(&R[jc + 2], g), HN(group)(&R[jc + 3], g)};
                transpose4(&m[0], &m[1], &m[2], &m[3]);
                float *rg = row + 4 * g * TT;
                if (jc + 4 <= T) {
                    for (int l = 0; l < 4; l++)
                        st4(rg + l * TT + jc, m[l]);
                } else { /* a row's last block, past its end */
                    for (int l = 0; l < 4; l++)
                        for (int u = 0; u < 3; u++)
                            if (jc + u < T)
                                rg[l * TT + jc + u] = m[l][u];
                }
            }
    }
}

/* Backward of heads h0..h0+HW-1 of one sequence; dq: head h0's q-gradient columns of row 0
 * of dqkv (k, v at + C, + 2C), rows rs apart; q likewise in qkv; dout rows os apart; att as
 * the forward stored it, or NULL: the probabilities are recomputed from q and k, with the
 * forward's arithmetic (no score bias), to the same bits. The formulas of head_backward_blocked. Each of the heads' q, k and v
 * gradient columns is stored once, on every row: added to dqkv (add), or written. */
HATTR ATT_INLINE void HN(heads_backward)(float *restrict dq, const float *restrict dout,
                                         const float *restrict q, const float *restrict att,
                                         int T, int lo, size_t rs, size_t os, int C, int hd,
                                         float scale, const att_prefetch *pf, size_t part,
                                         bool add)
{
    const int TP = (T + 3) & ~3;
    const size_t TT = (size_t)T * T;
    HV Q[HLOCAL], K[HLOCAL], V[HLOCAL], D[HLOCAL];
    HV A[HMAX_T * HMAX_T], dS[HMAX_T * HMAX_T];
    HN(gather_heads)(Q, q, T, rs, hd);
    HN(gather_heads)(K, q + C, T, rs, hd);
    HN(gather_heads)(V, q + 2 * C, T, rs, hd);
    HN(gather_heads)(D, dout, T, os, hd);
    if (!att) { /* the probabilities again: the forward's a = e * (1 / sum) */
        HV inv[HMAX_T];
        const att_prefetch none = {.n = 0}; /* the row loop below prefetches */
        HN(heads_softmax)(A, inv, Q, K, T, lo, hd, scale, &none, 0, NULL);
        for (int t = 0; t < T; t++) {
            const int j0 = t < lo ? t : lo;
            for (int j = j0; j <= t; j++)
                A[t * TP + j] = A[t * TP + j] * inv[t];
        }
    }
    /* att: the blocks of 4 columns around each row's visible keys */
    for (int t = 0; att && t < T; t++) {
        const int j0 = t < lo ? t : lo;
        const float *row = att + (size_t)t * T;
        for (int jc = j0 & ~3; jc <= t; jc += 4)
            for (int g = 0; g < HW / 4; g++) {
                const float *rg = row + 4 * g * TT;
                v4 m[4];
                if (jc + 4 <= T || t + 1 < T) { /* past the row's end: the next row's, unused */
                    for (int l = 0; l < 4; l++)
                        m[l] = ld4(rg + l * TT + jc);
                } else { /* the last row's last block: not past the end of att */
                    for (int l = 0; l < 4; l++) {
                        m[l] = splat4(0.0f);
                        for (int u = 0; u < 3; u++)
                            if (jc + u < T)
                                m[l][u] = rg[l * TT + jc + u];
                    }
                }
                transpose4(&m[0], &m[1], &m[2], &m[3]);
                for (int u = 0; u < 4; u++)
                    HN(set_group)(&A[t * TP + jc + u], g, m[u]);
            }
    }
    /* by rows: datt, s, ds; dq_t = sum_j ds_tj k_j */
    for (int t = 0; t < T; t++) {
        const int j0 = t < lo ? t : lo;
        prefetch_part(pf, part + t);
        const HV *At = A + t * TP;
        HV *dSt = dS + t * TP;
        HV dt[ATT_MAX_HD];
        ATT_UNROLL
        for (int i = 0; i < hd; i++)
            dt[i] = D[t * hd + i];
        HV s = HN(splat)(0.0f);
        for (int j = j0; j <= t; j++) {
            const HV *vj = V + j * hd;
            HV p = dt[0] * vj[0];
            ATT_UNROLL
            for (int i = 1; i < hd; i++)
                p += dt[i] * vj[i];
            dSt[j] = p;
            s += At[j] * p;
        }
        HV acc[ATT_MAX_HD];
        ATT_UNROLL
        for (int i = 0; i < hd; i++)
            acc[i] = HN(splat)(0.0f);
        for (int j = j0; j <= t; j++) {
            const HV d = At[j] * (dSt[j] - s) * HN(splat)(scale);
            const HV *kj = K + j * hd;
            dSt[j] = d;
            ATT_UNROLL
            for (int i = 0; i < hd; i++)
                acc[i] += d * kj[i];
        }
        HN(scatter_heads)(dq + t * rs, acc, hd, add);
    }
    /* by columns: dk_j = sum_t ds_tj q_t, dv_j = sum_t att_tj dout_t over the queries that
     * see j */
    for (int j = 0; j < T; j++) {
        const int t1 = j < lo ? j : T - 1; /* a padding key is seen by its own query only */
        HV acc[ATT_MAX_HD];
        ATT_UNROLL
        for (int i = 0; i < hd; i++)
            acc[i] = HN(splat)(0.0f);
        for (int t = j; t <= t1; t++) {
            const HV d = dS[t * TP + j], *qt = Q + t * hd;
            ATT_UNROLL
            for (int i = 0; i < hd; i++)
                acc[i] += d * qt[i];
        }
        HN(scatter_heads)(dq + C + j * rs, acc, hd, add);
        ATT_UNROLL
        for (int i = 0; i < hd; i++)
            acc[i] = HN(splat)(0.0f);
        for (int t = j; t <= t1; t++) {
            const HV a = A[t * TP + j], *dt = D + t * hd;
            ATT_UNROLL
            for (int i = 0; i < hd; i++)
                acc[i] += a * dt[i];
        }
        HN(scatter_heads)(dq + 2 * C + j * rs, acc, hd, add);
    }
}

/* One decoding step of heads h0..h0+HW-1 of one sequence, the query at column t: q, the
 * query's head h0 columns (the heads hd apart); kc, vc: the cache of the group, column j's
 * column i for head h0 + l at [(j * hd + i) * lw + l] (lw: the cache's width, HW or a multiple
 * of it); out: head h0's output columns. brow: head h0's bias row (head h0 + l's PP floats
 * further), or NULL; kpos, kstart as decode_score takes them. The forward's arithmetic on
 * every lane, in its order: the same bits as the row of heads_forward. Scores of up to
 * HDECODE_KEEP keys are kept, past that recomputed. */
HATTR ATT_INLINE HV HN(decode_score)(const HV *restrict Qv, const float *restrict kc, int j,
                                     size_t lw, int hd, float scale, const float *brow,
                                     size_t PP, const int32_t *kpos, int kstart)
{
    const float *kj = kc + (size_t)j * hd * lw;
    HV kv, s;
    memcpy(&kv, kj, sizeof kv);
    s = Qv[0] * kv;
    ATT_UNROLL
    for (int i = 1; i < hd; i++) {
        memcpy(&kv, kj + i * lw, sizeof kv);
        s += Qv[i] * kv;
    }
    s = s * HN(splat)(scale);
    if (brow) {
        const float *bj = brow + decode_key_pos(kpos, kstart, j);
        HV b = HN(splat)(0.0f);
        for (int l = 0; l < HW; l++)
            b[l] = bj[l * PP];
        s += b;
    }
    return s;
}

HATTR ATT_INLINE void HN(heads_decode)(float *restrict out, const float *restrict q,
                                       const float *restrict kc, const float *restrict vc,
                                       int t, int lo, int hd, size_t lw, float scale,
                                       const float *brow, size_t PP, const int32_t *kpos,
                                       int kstart)
{
    enum { KEEP = HDECODE_KEEP };
    HV Qv[ATT_MAX_HD], S[KEEP];
    HN(gather_heads)(Qv, q, 1, 0, hd);
    const int j0 = t < lo ? t : lo;
    const bool keep = t - j0 + 1 <= KEEP;
    HV mx = HN(splat)(-INFINITY);
    for (int j = j0; j <= t; j++) {
        const HV s = HN(decode_score)(Qv, kc, j, lw, hd, scale, brow, PP, kpos, kstart);
        if (keep)
            S[j - j0] = s;
        mx = HN(max)(s, mx);
    }
    HV sum = HN(splat)(0.0f);
    for (int j = j0; j <= t; j++) {
        const HV s = keep ? S[j - j0]
                          : HN(decode_score)(Qv, kc, j, lw, hd, scale, brow, PP, kpos, kstart);
        const HV e = HN(exp_softmax)(s - mx);
        if (keep)
            S[j - j0] = e;
        sum += e;
    }
    const HV inv = HN(splat)(1.0f) / sum;
    HV acc[ATT_MAX_HD];
    ATT_UNROLL
    for (int i = 0; i < hd; i++)
        acc[i] = HN(splat)(0.0f);
    for (int j = j0; j <= t; j++) {
        const HV e =
            keep ? S[j - j0]
                 : HN(exp_softmax)(
                       HN(decode_score)(Qv, kc, j, lw, hd, scale, brow, PP, kpos, kstart) - mx);
        const HV a = e * inv;
        const float *vj = vc + (size_t)j * hd * lw;
        ATT_UNROLL
        for (int i = 0; i < hd; i++) {
            HV vv;
            memcpy(&vv, vj + i * lw, sizeof vv);
            acc[i] += a * vv;
        }
    }
    HN(scatter_heads)(out, acc, hd, false);
}
