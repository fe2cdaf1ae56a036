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
        for (int jb = j0; jb < jend; jb += 16) {
            v16 s = splat16(xt[0]) * ld16(yT + jb);
            ATT_UNROLL
            for (int i = 1; i < hd; i++)
                s += splat16(xt[i]) * ld16(yT + i * TS + jb);
            st16(ot + jb, s * splat16(scale));
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
    if (bi) { /* the bias on the visible keys */
        for (int t = 0; t < T; t++) {
            const float *brow = bias_row(bi, t);
            float *St = S + t * TS;
            for (int j = rk[t].j0; j <= t; j++)
                St[j] += brow[bi->pos[j]];
        }
    }
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
        v16 acc[ATT_MAX_HD / 16];
        ATT_UNROLL
        for (int c = 0; c < hd / 16; c++)
            acc[c] = splat16(0.0f);
        for (int jb = j0; jb < jend; jb += 16) {
            const int n = jb + 16 <= t + 1 ? 16 : t + 1 - jb; /* the keys t sees */
            const v16 a = ld16(St + jb) * splat16(inv[t]);
            st16(St + jb, a);
            if (att)
                _mm512_mask_storeu_ps(att + (size_t)t * T + jb, lanes16(n), (__m512)a);
            combine16(acc, St + jb, n, vl + jb * hd, hd);
        }
        float *ot = out + t * os;
        ATT_UNROLL
        for (int c = 0; c < hd / 16; c++)
            st16(ot + 16 * c, acc[c]);
    }
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
    /* att (0 past t), then ds from datt; dq_t = sum_j ds_tj k_j */
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
        v16 acc[ATT_MAX_HD / 16];
        ATT_UNROLL
        for (int c = 0; c < hd / 16; c++)
            acc[c] = splat16(0.0f);
        for (int jb = j0; jb < jend; jb += 16) {
            const int n = jb + 16 <= t + 1 ? 16 : t + 1 - jb;
            const v16 d = ld16(At + jb) * (ld16(dSt + jb) - s) * splat16(scale);
            st16(dSt + jb, d);
            combine16(acc, dSt + jb, n, kl + jb * hd, hd);
        }
        float *dqt = dq + t * rs;
        ATT_UNROLL
        for (int c = 0; c < hd / 16; c++)
            st16(dqt + 16 * c, ld16(dqt + 16 * c) + acc[c]);
    }
    /* dk_j = sum_t ds_tj q_t, dv_j = sum_t att_tj dout_t over the queries t that see j */
    for (int j = 0; j < T; j++) {
        const int t1 = j < lo ? j : T - 1; /* a padding key is seen by its own query only */
        v16 ak[ATT_MAX_HD / 16], av[ATT_MAX_HD / 16];
        ATT_UNROLL
        for (int c = 0; c < hd / 16; c++)
            ak[c] = av[c] = splat16(0.0f);
        for (int t = j; t <= t1; t++) {
            const v16 d = splat16(dS[t * TS + j]), a = splat16(A[t * TS + j]);
            const float *qt = q + t * rs, *dt = dout + t * os;
            ATT_UNROLL
            for (int c = 0; c < hd / 16; c++) {
                ak[c] += d * ld16(qt + 16 * c);
                av[c] += a * ld16(dt + 16 * c);
            }
        }
        float *dkj = dq + C + j * rs, *dvj = dq + 2 * C + j * rs;
        ATT_UNROLL
        for (int c = 0; c < hd / 16; c++) {
            st16(dkj + 16 * c, ld16(dkj + 16 * c) + ak[c]);
            st16(dvj + 16 * c, ld16(dvj + 16 * c) + av[c]);
        }
    }
}
