/* nn: layers as plain functions on float arrays with explicit shapes.
 *
 * Conventions (as llm.c): outputs first, then inputs, then dimensions. Every *_backward ADDS
 * into the gradients it writes (dinp, dweight, dbias), so the caller zeroes them once; a NULL
 * gradient pointer means "not needed" and is skipped. Row-major throughout; (N, C) means N rows
 * of C floats. Weights follow PyTorch's nn.Linear layout: w is (out, in) and y = x w^T + b.
 * Loops are parallel with OpenMP; matrix products and the other tensor ops come from the
 * backend (nn/backend/backend.h, included here), the one place that calls BLAS. */
#ifndef ARITH_NN_H
#define ARITH_NN_H

#include <stddef.h>
#include <stdint.h>

#include "nn/backend/backend.h"

#define LAYERNORM_EPS 1e-5f

/* ----------------------------------------------------------------------------- embeddings */

/* out(N,C) = scale * wte[ids[n]]   wte: (V, C) */
void embedding_forward(float *out, const int32_t *ids, const float *wte, int N, int C, float scale);
/* out(N,V) = one-hot rows: 1 at column ids[n], 0 elsewhere (recurrent models' --input onehot). */
void onehot_forward(float *out, const int32_t *ids, int N, int V);
/* dwte(V,C) += scale * dout[n] at row ids[n] */
void embedding_backward(float *dwte, const float *dout, const int32_t *ids, int N, int C, float scale);

/* Sinusoidal table (Vaswani et al., as seed 001 builds it): pe(T,C),
 * pe[t][2i] = sin(t * 10000^(-2i/C)), pe[t][2i+1] = cos(t * 10000^(-2i/C)). */
void sinusoidal_table(float *pe, int T, int C);
/* x(N,C) += table[pos[n]]   table: (Tmax, C); used for sinusoidal and learned positions. */
void positional_add_forward(float *x, const float *table, const int32_t *pos, int N, int C);
/* dtable[pos[n]] += dx[n] */
void positional_add_backward(float *dtable, const float *dx, const int32_t *pos, int N, int C);

/* --------------------------------------------------------------------------------- linear */

/* out(N,O) = inp(N,I) @ w(O,I)^T + b(O); b may be NULL. */
void linear_forward(float *out, const float *inp, const float *w, const float *b, int N, int I, int O);
/* dinp(N,I) += dout @ w; dw(O,I) += dout^T @ inp; db(O) += sum_n dout[n] */
void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int N, int I, int O);
/* The same layer with GPT-2's Conv1D layout: out(N,O) = inp(N,I) @ w(I,O) + b(O);
 * dinp += dout @ w^T; dw(I,O) += inp^T @ dout; db += sum_n dout[n]. dw and db may be NULL
 * (a frozen weight), as in linear_backward. */
void conv1d_forward(float *out, const float *inp, const float *w, const float *b, int N, int I, int O);
void conv1d_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int N, int I, int O);
/* A dense layer's forward, then then(ctx, r0, r1) on its rows [r0, r1) by the thread that
 * computed them, in the product's parallel region: each thread takes a band of rows (as
 * mat_mul's bands) through the product, the bias and the row-wise work after them while they
 * are in its cache, with no fork, join or pass over the whole output between them. `then` may
 * call nn's kernels on rows [r0, r1) of its arrays (inside the region they run on the calling
 * thread; dropout through dropout_forward_range, which draws from the whole tensor's element
 * indices), and must touch no other rows. r0 is a multiple of 8. A product that mat_mul keeps
 * on one thread runs here, then then(ctx, 0, N). then may be NULL (linear_forward and
 * conv1d_forward are these with NULL: the bias added to each band with its product). */
typedef void dense_rows_fn(void *ctx, int r0, int r1);
void linear_forward_then(float *out, const float *inp, const float *w, const float *b, int N,
                         int I, int O, dense_rows_fn *then, void *ctx);
void conv1d_forward_then(float *out, const float *inp, const float *w, const float *b, int N,
                         int I, int O, dense_rows_fn *then, void *ctx);
/* The backwards named ..._to (here and below) write the input gradient instead of adding to
 * it: dinp = 0 + what the plain call would add, the values of zeroing dinp and calling the
 * plain one (oneDNN's beta-0 product may give a -0 where that gives +0), without the pass over
 * dinp that zeroes it. Parameter gradients (dw, db) still add. */
void linear_backward_to(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, int N, int I, int O);
void conv1d_backward_to(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, int N, int I, int O);

/* ------------------------------------------------------------------------------ layernorm */

/* out(N,C) = (inp - mean) * rstd * w + b; saves mean(N) and rstd(N) for the backward. */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                       const float *b, int N, int C);
/* dinp += the input gradient, dw and db += theirs (each may be NULL); dinp must not overlap
 * dout or inp (both parts run in one parallel region). */
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, const float *mean, const float *rstd, int N, int C);
void layernorm_backward_to(float *dinp, float *dw, float *db, const float *dout,
                           const float *inp, const float *w, const float *mean,
                           const float *rstd, int N, int C);

/* ---------------------------------------------------------------------------- activations */

void relu_forward(float *out, const float *inp, size_t n);
void relu_backward(float *dinp, const float *dout, const float *inp, size_t n);
void relu_backward_to(float *dinp, const float *dout, const float *inp, size_t n);
/* d(n) = d where inp > 0, else 0: the backward in place, when d holds dout and nothing else. */
void relu_backward_inplace(float *d, const float *inp, size_t n);
/* GELU, exact: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), PyTorch's default. */
void gelu_forward(float *out, const float *inp, size_t n);
void gelu_backward(float *dinp, const float *dout, const float *inp, size_t n);
void gelu_backward_to(float *dinp, const float *dout, const float *inp, size_t n);
/* GELU, tanh approximation (GPT-2's "gelu_new"). */
void gelu_tanh_forward(float *out, const float *inp, size_t n);
void gelu_tanh_backward(float *dinp, const float *dout, const float *inp, size_t n);
void gelu_tanh_backward_to(float *dinp, const float *dout, const float *inp, size_t n);

/* out(n) = a + b; out may alias a or b. */
void add_forward(float *out, const float *a, const float *b, size_t n);

/* -------------------------------------------------------------------------------- dropout */

/* Inverted dropout with a counter-based mask: element i is kept when its 16-bit draw,
 * bits [16*(i%4), 16*(i%4)+16) of rng_hash(seed, i/4), is >= ceil(p * 65536), and kept
 * elements are scaled by 1/(1-p). The mask depends only on (seed, i), never on the thread
 * count. p == 0 copies. out may alias inp. mask (n bytes, may be NULL) receives 1 for kept
 * elements, so that the backward need not draw again. */
void dropout_forward(float *out, uint8_t *mask, const float *inp, size_t n, float p,
                     uint64_t seed);
/* dropout_forward on elements [first, end) of out, mask and inp (first a multiple of 4), with
 * those elements' draws: the bits and mask of the whole call's. */
void dropout_forward_range(float *out, uint8_t *mask, const float *inp, size_t first,
                           size_t end, float p, uint64_t seed);
/* dinp += dout * keep / (1-p), keep from `mask` when given (as dropout_forward wrote it),
 * else drawn again from (seed, p). */
void dropout_backward(float *dinp, const float *dout, const uint8_t *mask, size_t n, float p,
                      uint64_t seed);
void dropout_backward_to(float *dinp, const float *dout, const uint8_t *mask, size_t n, float p,
                         uint64_t seed);

/* ----------------------------------------------------------------------------------- rope */

/* Rotary position tables: cos_tab, sin_tab are (Tmax, hd/2),
 * angle(t, i) = t * base^(-2i/hd). */
void rope_tables(float *cos_tab, float *sin_tab, int Tmax, int hd, float base);
/* Rotates, in place, the q and k parts of qkv (N rows of 3C: [q | k | v], head h at
 * columns [h*hd, (h+1)*hd) of each part, hd = C/H) by the angle of pos[n], pairing
 * "rotate-half" style: for i < hd/2, (x[i], x[i+hd/2]) ->
 * (x[i] cos - x[i+hd/2] sin, x[i] sin + x[i+hd/2] cos). v is untouched. */
void rope_forward(float *qkv, const int32_t *pos, const float *cos_tab, const float *sin_tab,
                  int N, int C, int H);
/* The backward of rope_forward, in place on dqkv: rotates the q and k gradients back by the
 * same angles (the transpose rotation). Not accumulating: it transforms dqkv. */
void rope_backward(float *dqkv, const int32_t *pos, const float *cos_tab, const float *sin_tab,
                   int N, int C, int H);

/* ------------------------------------------------------------------------------ attention */

/* Causal multi-head self-attention core (the projections are linear layers around it).
 * qkv: (B,T,3C) as in rope_forward; out: (B,T,C), heads concatenated; att: (B,H,T,T) softmax
 * probabilities, saved for the backward (masked entries are 0).
 * start: (B) first real column of each sequence (left padding before it), or NULL for all 0.
 * Query t of sequence b attends to keys j with max(start[b], 0) <= j <= t; a padding query
 * (t < start[b]) attends only to itself, so nothing is ever NaN. Scale 1/sqrt(hd). */
void attention_forward(float *out, float *att, const float *qkv, const int32_t *start,
                       int B, int T, int C, int H);
/* dqkv(B,T,3C) += gradient of out w.r.t. qkv. */
void attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                        const int32_t *start, int B, int T, int C, int H);
/* Whether attention over (T, C, H) runs on the kernels of several heads at a time, which take
 * att = NULL: attention_forward(_biased) without a bias then stores no probabilities, and
 * attention_backward(_to) recomputes them from qkv, to the bits the forward would have
 * stored (a (B, H, T, T) array less to write and read back per layer). */
bool attention_recomputes(int T, int C, int H);
/* dqkv = the gradient (written, as nn.h's ..._to backwards do) */
void attention_backward_to(float *dqkv, const float *dout, const float *qkv, const float *att,
                           const int32_t *start, int B, int T, int C, int H);
/* The plain, obviously-correct version of attention_forward, kept to test the fast one. */
void attention_forward_reference(float *out, float *att, const float *qkv, const int32_t *start,
                                 int B, int T, int C, int H);

/* One decoding step with a key/value cache: sequence b has its new query in
 * q[b * q_stride .. + C) at column t; k_cache and v_cache are (B, H, Tmax, hd), so that each
 * head's keys lie contiguous, and already hold columns 0..t (the new token's k and v
 * included). out: (B, C). Keys attended as in attention_forward: max(start[b],0) <= j <= t. */
void attention_decode(float *out, const float *q, int q_stride, const float *k_cache,
                      const float *v_cache, const int32_t *start, int B, int t, int Tmax,
                      int C, int H);

/* An additive bias on the attention scores (ALiBi, FIRE), as a table over pairs of position
 * ids: the score of query t and key j in head h, after the 1/sqrt(hd) scaling and before the
 * softmax, gets table[(h * P + pq) * P + pk] added, pq and pk the query's and the key's ids.
 * In the (B, T) functions pq = pos[b*T + t] and pk = pos[b*T + j] (the batch's ids, so a
 * left-padded row sees exactly what it would alone). In attention_decode_biased, pq = pos[b]
 * (the new column's id) and pk = kpos[b * kpos_stride + j] when kpos is given, else
 * max(j - start[b], 0): the batch's numbering of columns. Every id must lie in [0, P). */
typedef struct {
    const float *table;   /* (H, P, P) */
    int P;
    const int32_t *pos;   /* (B*T) ids of the columns; attention_decode_biased: (B) queries' */
    const int32_t *kpos;  /* attention_decode_biased only: keys' ids, or NULL (columns) */
    int kpos_stride;
} attn_bias;

/* attention_forward with the bias (NULL: attention_forward itself); same bits as the
 * unbiased kernels' arithmetic with the bias added to each scaled score. */
void attention_forward_biased(float *out, float *att, const float *qkv, const int32_t *start,
                              const attn_bias *bias, int B, int T, int C, int H);
void attention_forward_reference_biased(float *out, float *att, const float *qkv,
                                        const int32_t *start, const attn_bias *bias, int B,
                                        int T, int C, int H);
/* The gradient of the bias: dtable(H, P, P) += sum over the visible (b, t, j) at their
 * (pq, pk) of att_tj (datt_tj - sum_j' att_tj' datt_tj'), datt_tj = dout_t . v_j (heads
 * apart). att from the biased forward. Parallel over heads, the same bits for any thread
 * count. */
void attention_bias_backward(float *dtable, const float *dout, const float *qkv, const float *att,
                             const int32_t *start, const attn_bias *bias, int B, int T, int C,
                             int H);
/* The backward of attention_forward_biased: dqkv as attention_backward gives it (given att,
 * the bias changes nothing there), and, when dtable is not NULL, the bias's gradient as
 * attention_bias_backward adds it. */
void attention_backward_biased(float *dqkv, float *dtable, const float *dout, const float *qkv,
                               const float *att, const int32_t *start, const attn_bias *bias,
                               int B, int T, int C, int H);
/* attention_decode with the bias (NULL: none), on a cache of width W: k_cache and v_cache
 * are (B, H/W, Tmax, hd, W), column j's column i of head g * W + l at [g][j][i][l], W heads
 * interleaved (W = 1: attention_decode's layout). attention_cache_width gives the width whose
 * kernel runs fastest; a cache of width 4 or 16 gives the forward's bits exactly, since its
 * heads go through the arithmetic of the forward's heads kernels, lane by lane. */
void attention_decode_biased(float *out, const float *q, int q_stride, const float *k_cache,
                             const float *v_cache, const int32_t *start, const attn_bias *bias,
                             int B, int t, int Tmax, int C, int H, int W);
/* The cache width for C, H on this CPU, for head sizes 8, 16, 32 and 64: 16 with AVX-512 when
 * H is a multiple of 16, else 4 when H is a multiple of 4; 1 otherwise. */
int attention_cache_width(int C, int H);
/* Writes the keys and values of n qkv rows (qkv_stride floats apart; k at + C, v at + 2C) as
 * columns c0 .. c0+n-1 of one sequence's cache of width W (k_row, v_row: H * Tmax * hd floats
 * each). */
void attention_cache_store(float *k_row, float *v_row, const float *qkv, size_t qkv_stride,
                           int n, int c0, int Tmax, int C, int H, int W);

/* ALiBi (Press et al. 2022): head h's slope, for H a power of two m_h = 2^(-8(h+1)/H); for
 * other H, the slopes of the power of two below H, then every other slope of twice that
 * power (as the reference implementation's get_slopes). */
void alibi_slopes(float *slopes, int H);
/* table(H, P, P)[h][i][j] = -slopes[h] * |i - j|: with causal keys at ids that grow along a
 * row, -m_h (i - j). */
void alibi_table(float *table, const float *slopes, int H, int P);

/* FIRE (Li et al. 2023), one module per layer: bias_h(i, j) = f(psi(|i - j|) /
 * (psi(max(thr, i)) + FIRE_EPS)), psi(x) = log(|c| x + 1), thr = |L| * FIRE_L0,
 * f(x) = w2 relu(w1 x + b1) + b2, an MLP 1 -> W -> H (w1 (W, 1), b1 (W), w2 (H, W), b2 (H)).
 * c and L are learned scalars kept positive by the absolute values, as the reference code
 * does (its L_multiplier: L is the threshold in units of FIRE_L0, starting at 1; c starts at
 * 0.1). Below the threshold (rows i <= thr, every row when ids stay under 512) the bias is a
 * function of |i - j| alone; past it the normalizer grows with i (progressive
 * interpolation). On a tie i == thr the threshold is the normalizer. */
#define FIRE_L0 512.0f
#define FIRE_EPS 1e-6f
#define FIRE_MAX_WIDTH 256
/* table(H, P, P) rows i in [i0, P) (and row 0, which holds the shared rows' values), every
 * column j in [0, P). H and W at most FIRE_MAX_WIDTH. */
void fire_table(float *table, const float *w1, const float *b1, const float *w2, const float *b2,
                const float *c, const float *L, int H, int W, int P, int i0);
/* Adds the gradients of the MLP, c and L given dtable(H, P, P), the loss's gradient w.r.t.
 * every entry of fire_table(..., P, 0). dtable is used as scratch (its row 0 is
 * overwritten). Any gradient pointer may be NULL (a frozen parameter). */
void fire_backward(float *dw1, float *db1, float *dw2, float *db2, float *dc, float *dL,
                   float *dtable, const float *w1, const float *b1, const float *w2,
                   const float *b2, const float *c, const float *L, int H, int W, int P);

/* ----------------------------------------------------------------------------------- loss */

/* Softmax cross-entropy over rows of logits(N,V); rows with targets[n] < 0 are skipped.
 * probs(N,V) receives the softmax of counted rows (for the backward). Returns the summed loss
 * of counted rows, and their number in *count. */
double crossentropy_forward(float *probs, const float *logits, const int32_t *targets, int N,
                            int V, int *count);
/* dlogits(N,V) += scale * (probs - onehot(target)) on counted rows (scale = 1/count: mean). */
void crossentropy_backward(float *dlogits, const float *probs, const int32_t *targets, int N,
                           int V, float scale);

/* ----------------------------------------------------------------------------------- lstm */

/* One LSTM layer, one direction, exactly as torch.nn.LSTM: w_ih (4H, I), w_hh (4H, H),
 * b_ih (4H), b_hh (4H), gate row blocks in the order i, f, g, o ([0,H) i, [H,2H) f, ...):
 *   z = x_t w_ih^T + b_ih + h_{t-1} w_hh^T + b_hh;  i, f, o = sigmoid(z_i, z_f, z_o),
 *   g = tanh(z_g);  c_t = f c_{t-1} + i g;  h_t = o tanh(c_t).
 * Time-major: row t*B + b of x (T*B, I) and of out (T*B, H) is step t of sequence b.
 * valid (T*B bytes, NULL = all valid): where valid[t*B + b] == 0, step t leaves sequence b's
 * state (h, c) as it is and out's row is 0; this keeps left and right padding out of the
 * states. reverse != 0 runs t = T-1 down to 0 (the backward half of a bidirectional LSTM),
 * masked the same way. h0, c0 (B, H): the initial state, NULL = zeros. h_last, c_last (B, H),
 * when not NULL, receive the final state (after t = T-1 forward, after t = 0 reverse); they
 * may alias h0, c0 (for any T), which is how generation steps one token at a time with T = 1.
 * b_ih, b_hh may be NULL (no bias). out and cache (lstm_cache_floats(T, B, H) floats, also
 * for T = 1) are required; the cache receives what the backward needs, and nothing is
 * allocated. sigmoid and tanh come from a vectorized exp, within a few ulp. The recurrence
 * runs in parallel over bands of batch rows (omp_get_max_threads() of them at most). */
size_t lstm_cache_floats(int T, int B, int H);
/* Floats of scratch lstm_backward needs (I is not used today; pass it all the same). */
size_t lstm_scratch_floats(int T, int B, int I, int H);
void lstm_forward(float *out, float *h_last, float *c_last, float *cache, const float *x,
                  const uint8_t *valid, const float *h0, const float *c0, const float *w_ih,
                  const float *w_hh, const float *b_ih, const float *b_hh, int T, int B, int I,
                  int H, int reverse);
/* The backward of lstm_forward (same x, valid, h0, c0, weights, shapes and the cache it
 * filled): adds into dx (T*B, I), dh0, dc0 (B, H), dw_ih, dw_hh, db_ih, db_hh the gradients
 * of a loss whose gradients with respect to out, h_last and c_last are dout, dh_last and
 * dc_last (each may be NULL = zero). Any gradient output may be NULL (not needed). Invalid
 * steps send nothing into the weights or x, and pass dh, dc through unchanged. scratch:
 * lstm_scratch_floats floats. */
void lstm_backward(float *dx, float *dh0, float *dc0, float *dw_ih, float *dw_hh, float *db_ih,
                   float *db_hh, const float *dout, const float *dh_last, const float *dc_last,
                   float *scratch, const float *cache, const float *x, const uint8_t *valid,
                   const float *h0, const float *c0, const float *w_ih, const float *w_hh, int T,
                   int B, int I, int H, int reverse);

#endif
