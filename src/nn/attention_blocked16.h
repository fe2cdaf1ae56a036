/* attention_blocked16.h: the blocked kernels (one sequence and head at a time; attention.c)
 * with AVX-512, for head sizes 16, 32 and 64; included by attention.c only, inside its
 * FAST_X86_DISPATCH part, after v16 and its helpers.
 *
 * They do head_forward_blocked's and head_backward_blocked's arithmetic, lane for lane and in
 * the same order, sixteen keys to a block instead of four and a head's columns sixteen to a
 * vector instead of four, so that they give the same bits:
 *   - a score is sum_i q_i k_i in increasing i, then times the scale, on every width;
 *   - the row's max is exact whatever the grouping, and the exponentials are summed in
 *     increasing j, one at a time, as before;
 *   - out_t, dq_t, dk_j and dv_j are per-column sums in increasing j (or t). Keys past t
 *     carry a probability of 0 and would add 0; they are skipped, which leaves every sum
 *     as it was (a sum that starts at +0 is never -0, and x + 0 == x);
 *   - the backward's s_t = sum_j att_tj datt_tj keeps the four-key kernel's four partial
 *     sums: each block of sixteen products is added to them a quarter at a time, in
 *     increasing j, and they are combined as hsum4 combines them.
 * Blocks start at the row's first visible key j0, and the last one's lanes past t are
 * masked, as in the four-key kernels; rows are TS16 = T + 15 rounded up to 4 floats long. The
 * local arrays take up to about 230 KB of stack (per thread) at T 128, hd 64. Head size 8
 * stays with the four-key kernels: its rows are a quarter of a vector. */

enum {
    ATT16_MAX_TS = (ATT_MAX_T + 18) & ~3,
    ATT16_LOCAL = ATT_MAX_HD * ATT16_MAX_TS /* floats in a (hd, TS16) or (TS16, hd) array */
};

ATT_INLINE int padded_len16(int T)
{
    return (T + 18) & ~3;
}

static bool blocked16_ok(int T, int hd)
{
    return (hd == 16 || hd == 32 || hd == 64) && T >= 4 && T <= ATT_MAX_T;
}

/* Row t's blocks j0, j0 + 16, .. < jend, and how many lanes of the last one it sees. */
typedef struct {
    int j0, jend, n_last;
} row_keys16;

ATT_INLINE void rows_keys16(row_keys16 *rk, int T, int lo)
{
    for (int t = 0; t < T; t++) {
        const int j0 = t < lo ? t : lo; /* a padding query sees only itself */
        rk[t].j0 = j0;
        rk[t].jend = j0 + ((t - j0 + 16) & ~15);
        rk[t].n_last = (t - j0) % 16 + 1;
    }
}

FAST_AVX512 ATT_INLINE v16 ld16(const float *p)
{
    v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

FAST_AVX512 ATT_INLINE void st16(float *p, v16 v)
{
    memcpy(p, &v, sizeof v);
}

/* Lanes 0..n-1 of a mask, n in 0..16. */
ATT_INLINE __mmask16 lanes16(int n)
{
    return (__mmask16)((1u << n) - 1u);
}

/* Lanes n..15 of the block at p set to fill. */
FAST_AVX512 ATT_INLINE void fill_past16(float *p, int n, float fill)
{
    st16(p, (v16)_mm512_mask_blend_ps(lanes16(n), _mm512_set1_ps(fill), (__m512)ld16(p)));
}

/* Blocks jb, jb + 16, .. (K of them, a constant once inlined) of one row of block_products16:
 * each lane's sum in increasing i, the K sums side by side so that the adds do not wait on
 * one another. */
FAST_AVX512 ATT_INLINE void products16_k(float *restrict ot, const float *restrict xt,
                                         const float *restrict yT, int TS, int hd, float scale,
                                         int jb, int K)
{
    v16 s[4];
    const v16 x0 = splat16(xt[0]);
    ATT_UNROLL
    for (int k = 0; k < K; k++)
        s[k] = x0 * ld16(yT + jb + 16 * k);
    ATT_UNROLL
    for (int i = 1; i < hd; i++) {
        const v16 x = splat16(xt[i]);
        ATT_UNROLL
        for (int k = 0; k < K; k++)
            s[k] += x * ld16(yT + i * TS + jb + 16 * k);
    }
    ATT_UNROLL
    for (int k = 0; k < K; k++)
        st16(ot + jb + 16 * k, s[k] * splat16(scale));
}

/* block_products on blocks of sixteen keys: out[t * TS + j] = (sum_i x_t[i] yT[i][j] in
 * increasing i) * scale, the last block's lanes past t set to fill. */
FAST_AVX512 ATT_INLINE void block_products16(float *restrict out, const float *restrict x,
                                             size_t xs, const float *restrict yT,
                                             const row_keys16 *rk, int T, int TS, int hd,
                                             float scale, float fill, const att_prefetch *pf,
                                             size_t part)
{
    for (int t = 0; t < T; t++) {
        prefetch_part(pf, part + t);
        const int j0 = rk[t].j0, jend = rk[t].jend;
        const float *xt = x + t * xs;
        float *ot = out + t * TS;
        int jb = j0;
        for (; jb + 64 <= jend; jb += 64)
            products16_k(ot, xt, yT, TS, hd, scale, jb, 4);
        switch ((jend - jb) / 16) {
        case 3:
            products16_k(ot, xt, yT, TS, hd, scale, jb, 3);
            break;
        case 2:
            products16_k(ot, xt, yT, TS, hd, scale, jb, 2);
            break;
        case 1:
            products16_k(ot, xt, yT, TS, hd, scale, jb, 1);
            break;
        default:
            break;
        }
        fill_past16(ot + jend - 16, rk[t].n_last, fill);
    }
}

/* acc (hd/16 vectors) += w[l] x_{j+l} for l = 0..n-1, x (TS, hd) contiguous, in increasing
 * l: combine4's sums. */
FAST_AVX512 ATT_INLINE void combine16(v16 *restrict acc, const float *restrict w, int n,
                                      const float *restrict xj, int hd)
{
    for (int l = 0; l < n; l++) {
        const v16 wl = splat16(w[l]);
        ATT_UNROLL
        for (int c = 0; c < hd / 16; c++)
            acc[c] += wl * ld16(xj + l * hd + 16 * c);
    }
}

/* combine16 for R rows at once (R a constant once inlined, up to 4) over the same n keys,
 * row r's weights at w + r * TS, each row's sums in its own order, side by side. */
FAST_AVX512 ATT_INLINE void combine16_rows(v16 (*restrict acc)[ATT_MAX_HD / 16],
                                           const float *restrict w, int TS, int R, int n,
                                           const float *restrict xj, int hd)
{
    for (int l = 0; l < n; l++) {
        v16 wr[4];
        ATT_UNROLL
        for (int r = 0; r < R; r++)
            wr[r] = splat16(w[r * TS + l]);
        ATT_UNROLL
        for (int c = 0; c < hd / 16; c++) {
            const v16 xv = ld16(xj + l * hd + 16 * c);
            ATT_UNROLL
            for (int r = 0; r < R; r++)
                acc[r][c] += wr[r] * xv;
        }
    }
}

/* For each row t: acc_t = sum_j w_tj x_j over its keys j0..t in increasing j (w's rows TS
 * floats apart, x (TS, hd) rows), stored at dst + t * ds (add: added to what is there). Up to
 * four rows with the same first key go together over the keys they share, then each adds its
 * own last keys in order, so that their sums do not wait on one another. */
FAST_AVX512 ATT_INLINE void store_row16(float *restrict d, const v16 *acc, int hd, bool add)
{
    ATT_UNROLL
    for (int c = 0; c < hd / 16; c++)
        st16(d + 16 * c, add ? ld16(d + 16 * c) + acc[c] : acc[c]);
}

FAST_AVX512 ATT_INLINE void rows_combine16(float *restrict dst, size_t ds, bool add,
                                           const row_keys16 *rk, int T, int TS,
                                           const float *restrict w, const float *restrict x,
                                           int hd)
{
    for (int t = 0; t < T;) {
        const int j0 = rk[t].j0, n = t - j0 + 1;
        int R = 1;
        while (R < 4 && t + R < T && rk[t + R].j0 == j0)
            R++;
        v16 acc[4][ATT_MAX_HD / 16];
        for (int r = 0; r < 4; r++) {
            ATT_UNROLL
            for (int c = 0; c < hd / 16; c++)
                acc[r][c] = splat16(0.0f);
        }
        const float *wt = w + (size_t)t * TS + j0, *xt = x + (size_t)j0 * hd;
        switch (R) {
        case 4:
            combine16_rows(acc, wt, TS, 4, n, xt, hd);
            break;
        case 3:
            combine16_rows(acc, wt, TS, 3, n, xt, hd);
            break;
        case 2:
            combine16_rows(acc, wt, TS, 2, n, xt, hd);
            break;
        default:
            combine16_rows(acc, wt, TS, 1, n, xt, hd);
            break;
        }
        for (int r = 0; r < R; r++) { /* row t + r's keys t + 1 .. t + r */
            combine16(acc[r], wt + (size_t)r * TS + n, r, xt + (size_t)n * hd, hd);
            store_row16(dst + (size_t)(t + r) * ds, acc[r], hd, add);
        }
        t += R;
    }
}

/* head_forward_blocked's arithmetic, sixteen keys at a time. */
FAST_AVX512 ATT_INLINE void head_forward_blocked16(float *restrict out, float *restrict att,
                                                   const float *restrict q,
                                                   const float *restrict k,
                                                   const float *restrict v, int T, int lo,
                                                   size_t rs, size_t os, int hd, float scale,
                                                   const att_prefetch *pf, size_t part,
                                                   const att_bias_item *bi)
{
    const int TS = padded_len16(T);
    float kT[ATT16_LOCAL], vl[ATT16_LOCAL], S[ATT_MAX_T * ATT16_MAX_TS], inv[ATT_MAX_T];
    row_keys16 rk[ATT_MAX_T];
    rows_keys16(rk, T, lo);
    gather_transposed(kT, k, T, TS, rs, hd);
    gather_rows(vl, v, T, TS, rs, hd);
    /* scores, -inf past t */
    block_products16(S, q, rs, kT, rk, T, TS, hd, scale, -INFINITY, pf, part);
    if (bi)
        add_score_bias(S, TS, T, lo, bi);
    /* exponentials (0 past t) and 1 / their sum */
    for (int t = 0; t < T; t++) {
        const int j0 = rk[t].j0, jend = rk[t].jend;
        float *St = S + t * TS;
        v16 vm = ld16(St + j0);
        for (int jb = j0 + 16; jb < jend; jb += 16)
            vm = max16(vm, ld16(St + jb));
        const v16 mx = splat16(_mm512_reduce_max_ps((__m512)vm));
        for (int jb = j0; jb < jend; jb += 16)
            st16(St + jb, exp_softmax16(ld16(St + jb) - mx));
        fill_past16(St + jend - 16, rk[t].n_last, 0.0f);
        float sum = 0.0f; /* in increasing j, as the other kernels add */
        for (int j = j0; j <= t; j++)
            sum += St[j];
        inv[t] = 1.0f / sum;
    }
    /* the probabilities into att (0 elsewhere), and out_t = sum_j a_tj v_j in increasing j */
    if (att)
        memset(att, 0, (size_t)T * T * sizeof *att);
    for (int t = 0; t < T; t++) {
        const int j0 = rk[t].j0, jend = rk[t].jend;
        float *St = S + t * TS;
        for (int jb = j0; jb < jend; jb += 16) {
            const int n = jb + 16 <= t + 1 ? 16 : t + 1 - jb; /* the keys t sees */
            const v16 a = ld16(St + jb) * splat16(inv[t]);
            st16(St + jb, a);
            if (att)
                _mm512_mask_storeu_ps(att + (size_t)t * T + jb, lanes16(n), (__m512)a);
        }
    }
    rows_combine16(out, os, false, rk, T, TS, S, vl, hd);
}

/* head_backward_blocked's arithmetic, sixteen keys at a time; the gradients are added to
 * dq (dk and dv at + C and + 2C). */
FAST_AVX512 ATT_INLINE void head_backward_blocked16(float *restrict dq, const float *restrict dout,
                                                    const float *restrict q,
                                                    const float *restrict att, int T, int lo,
                                                    size_t rs, size_t os, int hd, float scale,
                                                    int C, const att_prefetch *pf, size_t part)
{
    const int TS = padded_len16(T);
    float vT[ATT16_LOCAL], kl[ATT16_LOCAL];
    float A[ATT_MAX_T * ATT16_MAX_TS], dS[ATT_MAX_T * ATT16_MAX_TS];
    row_keys16 rk[ATT_MAX_T];
    rows_keys16(rk, T, lo);
    gather_transposed(vT, q + 2 * C, T, TS, rs, hd);
    gather_rows(kl, q + C, T, TS, rs, hd);
    /* datt, 0 past t */
    block_products16(dS, dout, os, vT, rk, T, TS, hd, 1.0f, 0.0f, pf, part);
    /* att (0 past t), then ds from datt; then dq_t = sum_j ds_tj k_j */
    for (int t = 0; t < T; t++) {
        const int j0 = rk[t].j0, jend = rk[t].jend;
        const float *arow = att + (size_t)t * T;
        float *At = A + t * TS, *dSt = dS + t * TS;
        v4 vs = splat4(0.0f); /* the four-key kernel's partial sums, block by block */
        for (int jb = j0; jb < jend; jb += 16) {
            const int n = jb + 16 <= t + 1 ? 16 : t + 1 - jb;
            const v16 a = (v16)_mm512_maskz_loadu_ps(lanes16(n), arow + jb);
            st16(At + jb, a);
            const v16 p = a * ld16(dSt + jb);
            for (int g = 0; g < 4; g++)
                vs += (v4){p[4 * g], p[4 * g + 1], p[4 * g + 2], p[4 * g + 3]};
        }
        const v16 s = splat16(hsum4(vs)[0]);
        for (int jb = j0; jb < jend; jb += 16)
            st16(dSt + jb, ld16(At + jb) * (ld16(dSt + jb) - s) * splat16(scale));
    }
    rows_combine16(dq, rs, true, rk, T, TS, dS, kl, hd);
    /* dk_j = sum_t ds_tj q_t, dv_j = sum_t att_tj dout_t over the queries t that see j, in
     * increasing t; two keys seen by the same queries from j + 1 on go together */
    for (int j = 0; j < T;) {
        const int t1 = j < lo ? j : T - 1; /* a padding key is seen by its own query only */
        const bool pair = j >= lo && j + 1 < T;
        v16 ak[ATT_MAX_HD / 16], av[ATT_MAX_HD / 16], bk[ATT_MAX_HD / 16], bv[ATT_MAX_HD / 16];
        ATT_UNROLL
        for (int c = 0; c < hd / 16; c++)
            ak[c] = av[c] = bk[c] = bv[c] = splat16(0.0f);
        {
            const v16 d = splat16(dS[j * TS + j]), a = splat16(A[j * TS + j]);
            const float *qt = q + j * rs, *dt = dout + j * os;
            ATT_UNROLL
            for (int c = 0; c < hd / 16; c++) {
                ak[c] += d * ld16(qt + 16 * c);
                av[c] += a * ld16(dt + 16 * c);
            }
        }
        for (int t = j + 1; t <= t1; t++) {
            const float *qt = q + t * rs, *dt = dout + t * os;
            const v16 d = splat16(dS[t * TS + j]), a = splat16(A[t * TS + j]);
            if (pair) {
                const v16 d1 = splat16(dS[t * TS + j + 1]), a1 = splat16(A[t * TS + j + 1]);
                ATT_UNROLL
                for (int c = 0; c < hd / 16; c++) {
                    const v16 qv = ld16(qt + 16 * c), dv = ld16(dt + 16 * c);
                    ak[c] += d * qv;
                    av[c] += a * dv;
                    bk[c] += d1 * qv;
                    bv[c] += a1 * dv;
                }
            } else {
                ATT_UNROLL
                for (int c = 0; c < hd / 16; c++) {
                    ak[c] += d * ld16(qt + 16 * c);
                    av[c] += a * ld16(dt + 16 * c);
                }
            }
        }
        for (int u = 0; u < 1 + pair; u++) {
            const v16 *gk = u ? bk : ak, *gv = u ? bv : av;
            float *dkj = dq + C + (j + u) * rs, *dvj = dq + 2 * C + (j + u) * rs;
            ATT_UNROLL
            for (int c = 0; c < hd / 16; c++) {
                st16(dkj + 16 * c, ld16(dkj + 16 * c) + gk[c]);
                st16(dvj + 16 * c, ld16(dvj + 16 * c) + gv[c]);
            }
        }
        j += 1 + pair;
    }
}
