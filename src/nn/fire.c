/* fire: FIRE's attention bias (Li et al. 2023, "Functional Interpolation for Relative Positions
 * Improves Long Context Transformers"), as a table over pairs of position ids (nn.h). Every
 * row at or below the threshold has the same normalizer, so its entries depend on |i - j|
 * alone: the MLP runs once per distance for all of them (row 0 holds the values), and once per
 * entry only in rows past the threshold. The backward sums the table's gradient the same way
 * before it goes through the MLP. */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "nn/nn.h"

/* FIRE's constants for one table: |c|, the threshold and psi of it. */
typedef struct {
    double ac, thr, norm_thr; /* |c|, |L| * L0, psi(thr) + eps */
    int shared;               /* rows 0..shared (and only these, within [0, P)) use thr */
} fire_consts;

static double psi(double ac, double x)
{
    return log(ac * x + 1.0);
}

static fire_consts fire_setup(const float *c, const float *L, int P)
{
    fire_consts k;
    k.ac = fabs((double)*c);
    k.thr = fabs((double)*L) * (double)FIRE_L0;
    k.norm_thr = psi(k.ac, k.thr) + (double)FIRE_EPS;
    /* row i uses the threshold when i <= thr (the tie included) */
    const double last = floor(k.thr);
    k.shared = last >= (double)(P - 1) ? P - 1 : (int)last;
    return k;
}

/* The MLP's input for distance d in a row whose normalizer is `norm`. */
static float fire_input(const fire_consts *k, int d, double norm)
{
    return (float)(psi(k->ac, (double)d) / norm);
}

/* out(H) = w2 relu(w1 x + b1) + b2, summed over the hidden units in order. */
static void fire_mlp(float *out, float x, const float *w1, const float *b1, const float *w2,
                     const float *b2, int H, int W)
{
    float hid[FIRE_MAX_WIDTH];
    for (int k = 0; k < W; k++) {
        const float u = w1[k] * x + b1[k];
        hid[k] = u > 0.0f ? u : 0.0f;
    }
    for (int h = 0; h < H; h++) {
        float s = b2[h];
        for (int k = 0; k < W; k++)
            s += w2[(size_t)h * W + k] * hid[k];
        out[h] = s;
    }
}

void fire_table(float *table, const float *w1, const float *b1, const float *w2, const float *b2,
                const float *c, const float *L, int H, int W, int P, int i0)
{
    if (P < 1)
        return;
    const fire_consts k = fire_setup(c, L, P);
    const size_t PP = (size_t)P * P;
    if (i0 < 0)
        i0 = 0;
    /* row 0: the shared rows' values by distance d = j */
#pragma omp parallel for schedule(static) if ((size_t)P * W * H > 65536)
    for (int d = 0; d < P; d++) {
        float out[FIRE_MAX_WIDTH];
        fire_mlp(out, fire_input(&k, d, k.norm_thr), w1, b1, w2, b2, H, W);
        for (int h = 0; h < H; h++)
            table[h * PP + (size_t)d] = out[h];
    }
    /* the other shared rows: copies by distance */
    for (int h = 0; h < H; h++) {
        const float *g = table + h * PP;
        for (int i = i0 > 1 ? i0 : 1; i <= k.shared; i++) {
            float *row = table + h * PP + (size_t)i * P;
            for (int j = 0; j < P; j++)
                row[j] = g[i > j ? i - j : j - i];
        }
    }
    /* rows past the threshold: their own normalizer psi(i) */
    const int first = i0 > k.shared + 1 ? i0 : k.shared + 1;
#pragma omp parallel for schedule(static) if ((size_t)(P - first) * P * W * H > 65536)
    for (int i = first; i < P; i++) {
        const double norm = psi(k.ac, (double)i) + (double)FIRE_EPS;
        float out[FIRE_MAX_WIDTH];
        for (int j = 0; j < P; j++) {
            fire_mlp(out, fire_input(&k, i > j ? i - j : j - i, norm), w1, b1, w2, b2, H, W);
            for (int h = 0; h < H; h++)
                table[h * PP + (size_t)i * P + j] = out[h];
        }
    }
}

/* The MLP's backward at input x for output gradient g(H): adds into the weight gradients (each
 * may be NULL) and returns dL/dx. */
static double fire_mlp_backward(float *dw1, float *db1, float *dw2, float *db2, const float *g,
                                float x, const float *w1, const float *b1, const float *w2, int H,
                                int W)
{
    double dx = 0.0;
    for (int k = 0; k < W; k++) {
        const float u = w1[k] * x + b1[k];
        if (u > 0.0f) {
            float dh = 0.0f;
            for (int h = 0; h < H; h++) {
                dh += g[h] * w2[(size_t)h * W + k];
                if (dw2)
                    dw2[(size_t)h * W + k] += g[h] * u;
            }
            if (dw1)
                dw1[k] += dh * x;
            if (db1)
                db1[k] += dh;
            dx += (double)dh * w1[k];
        }
    }
    if (db2)
        for (int h = 0; h < H; h++)
            db2[h] += g[h];
    return dx;
}

void fire_backward(float *dw1, float *db1, float *dw2, float *db2, float *dc, float *dL,
                   float *dtable, const float *w1, const float *b1, const float *w2,
                   const float *b2, const float *c, const float *L, int H, int W, int P)
{
    (void)b2;
    if (P < 1)
        return;
    const fire_consts k = fire_setup(c, L, P);
    const size_t PP = (size_t)P * P;
    /* x = u / v with u = psi(d) = log(|c| d + 1), v = psi(n) + eps; d/d|c| of psi(y) is
     * y / (|c| y + 1), d/dn of psi(n) is |c| / (|c| n + 1) */
    double d_ac = 0.0, d_thr = 0.0;
    /* the shared rows' gradient by distance, into row 0 */
    for (int h = 0; h < H; h++) {
        float *g = dtable + h * PP;
        for (int i = 1; i <= k.shared; i++) {
            const float *row = dtable + h * PP + (size_t)i * P;
            for (int j = 0; j < P; j++)
                g[i > j ? i - j : j - i] += row[j];
        }
    }
    float g[FIRE_MAX_WIDTH];
    const double v_thr = k.norm_thr;
    const double dv_thr = k.ac / (k.ac * k.thr + 1.0); /* d psi(thr) / d thr */
    const double dvc_thr = k.thr / (k.ac * k.thr + 1.0); /* d psi(thr) / d|c| */
    for (int d = 0; d < P; d++) {
        bool any = false;
        for (int h = 0; h < H; h++) {
            g[h] = dtable[h * PP + (size_t)d];
            any = any || g[h] != 0.0f;
        }
        if (!any)
            continue;
        const double u = psi(k.ac, (double)d), du_c = (double)d / (k.ac * d + 1.0);
        const double dx = fire_mlp_backward(dw1, db1, dw2, db2, g, fire_input(&k, d, v_thr), w1,
                                            b1, w2, H, W);
        d_ac += dx * (du_c * v_thr - u * dvc_thr) / (v_thr * v_thr);
        d_thr += dx * (-u / (v_thr * v_thr)) * dv_thr;
    }
    /* rows past the threshold, entry by entry (skipping those that got no gradient) */
    for (int i = k.shared + 1; i < P; i++) {
        const double v = psi(k.ac, (double)i) + (double)FIRE_EPS;
        const double dvc = (double)i / (k.ac * i + 1.0);
        for (int j = 0; j < P; j++) {
            bool any = false;
            for (int h = 0; h < H; h++) {
                g[h] = dtable[h * PP + (size_t)i * P + j];
                any = any || g[h] != 0.0f;
            }
            if (!any)
                continue;
            const int d = i > j ? i - j : j - i;
            const double u = psi(k.ac, (double)d), du_c = (double)d / (k.ac * d + 1.0);
            const double dx = fire_mlp_backward(dw1, db1, dw2, db2, g, fire_input(&k, d, v), w1,
                                                b1, w2, H, W);
            d_ac += dx * (du_c * v - u * dvc) / (v * v);
        }
    }
    /* through |c| and thr = |L| L0 (the sign at 0 taken as +) */
    if (dc)
        *dc += (float)(d_ac * (*c < 0.0f ? -1.0 : 1.0));
    if (dL)
        *dL += (float)(d_thr * (double)FIRE_L0 * (*L < 0.0f ? -1.0 : 1.0));
}
