/* backend: the compute seam. The ops here are the only code that touches tensor memory on hot
 * paths outside nn/'s layers: allocation and the workspace planner, matrix products, the Adam
 * update, sums of squares and clipping, copies and row moves (caches, layouts), argmax and
 * log-softmax over a row. models/ and train/ call them instead of looping over floats.
 *
 * One folder per implementation of this header, chosen at build time (CMake's ARITH_BACKEND):
 *   cpu/     OpenMP + oneDNN's sgemm (JIT kernels chosen by CPUID: AVX-512, AVX2, SSE4.1): the
 *            default, and the only code in arith that calls oneDNN;
 *   scalar/  plain loops, no OpenMP, no BLAS: portable, slow, and an oracle for the others.
 * workspace.c (the planner) is shared: it only calls tensor_alloc. A new backend (#7's AVX-512
 * kernels, CUDA) is one more folder implementing this header, a value of ARITH_BACKEND, and a
 * pass of tests/test_backend.c, which checks every op against a naive loop.
 *
 * Conventions as nn's: outputs first, then inputs, then sizes. Every op but the products gives
 * the same bits whatever the thread count; where an op sums, it says in which order and type.
 * The products give the same bits from run to run at a given thread count. */
#ifndef ARITH_NN_BACKEND_H
#define ARITH_NN_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* "cpu" or "scalar": the backend this library was built with. */
const char *backend_name(void);
/* The instruction set the products run on, as found at run time: "avx512", "avx2", "sse4.1",
 * "avx" or "generic" (the scalar backend's plain loops). */
const char *backend_isa(void);

/* ----------------------------------------------------------------------------------- memory */

/* Every tensor and every workspace buffer starts on this boundary (bytes). */
#define TENSOR_ALIGN 64

/* Zeroed memory on a TENSOR_ALIGN boundary; NULL (with a message) when out of memory. */
void *tensor_alloc(size_t bytes);
void tensor_free(void *p);

/* x(n) = 0 */
void tensor_zero(float *x, size_t n);
/* dst(n) = src; they must not overlap. */
void tensor_copy(float *dst, const float *src, size_t n);
/* Strided rows: dst[r * dst_stride + j] = src[r * src_stride + j] for r < rows, j < len (floats).
 * src_stride 0 repeats one row; layouts are changed this way (time-major <-> batch-major, two
 * directions side by side <-> apart). Source and destination must not overlap. */
void tensor_copy_rows(float *dst, size_t dst_stride, const float *src, size_t src_stride,
                      size_t rows, size_t len);
/* The same with += : dst[r * dst_stride + j] += src[r * src_stride + j]. */
void tensor_add_rows(float *dst, size_t dst_stride, const float *src, size_t src_stride,
                     size_t rows, size_t len);
/* Copies (or swaps) row `from` into row dst of a buffer in which row r holds nseg segments of
 * len floats, at base + r*row_stride + s*seg_stride: one move of a cache's row (a key/value
 * cache's heads, an LSTM's state), as model_rows_reorder asks for them. */
void tensor_row_move(float *base, size_t row_stride, int nseg, size_t seg_stride, size_t len,
                     int dst, int from, bool swap);

/* ------------------------------------------------------------------------------- arithmetic */

/* out(n) = s * x; out may be x. */
void tensor_scale(float *out, const float *x, float s, size_t n);
/* y(n) += a * x */
void tensor_axpy(float *y, float a, const float *x, size_t n);
/* acc + sum_i (double)a[i] * b[i], in double, i in order. */
double tensor_dot(double acc, const float *a, const float *b, size_t n);
/* acc + sum_i (double)x[i] * x[i], in double, i in order: a global norm is these chained over
 * the views, so it never depends on the thread count. */
double tensor_sum_squares(double acc, const float *x, size_t n);
/* Whether every one of x(n) is finite (no NaN, no infinity): the training loop asks it of the
 * weights after every update, so it is one vectorized pass. */
bool tensor_all_finite(const float *x, size_t n);
/* x(n) = clamp(x * scale, -limit, limit), or only x * scale when !clamp (gradient clipping by
 * norm and by value in one pass). */
void tensor_clip(float *x, size_t n, float scale, bool clamp, float limit);

/* Index of the largest of n values (the first on ties). */
int32_t argmax_row(const float *x, int n);
/* out(n) = log softmax(x), in double: x[i] - (max + log sum_j exp(x[j] - max)), the sum in
 * double in order. */
void log_softmax_row(double *out, const float *x, int n);

/* One Adam step on n parameters, in float as torch.optim.Adam / AdamW compute it: with
 * g' = g + wd w (Adam: L2 in the gradient) or w *= 1 - lr wd first (decoupled: AdamW),
 *   m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2;
 *   w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps),
 * the bias corrections computed in double for step t (1 for the first). */
void adam_update(float *w, float *m, float *v, const float *g, size_t n, double lr, double beta1,
                 double beta2, double eps, double weight_decay, bool decoupled, long long t);

/* --------------------------------------------------------------------------------- products */

/* Row-major matrix products: out(M,N) = alpha * op(a) @ op(b) + beta * out, op(x) = x or x^T.
 * a is (M,K) or, transposed, (K,M); b is (K,N) or, transposed, (N,K). beta == 0 never reads
 * out. mat_mul may use every thread (core_set_threads); mat_mul_serial does not divide the
 * work itself: it is for products inside a parallel region (the LSTM's bands of rows), where it
 * runs on the calling thread. Each output element is computed by one thread, in an order fixed
 * by the shapes and the thread count (the library's blocking). */
void mat_mul(float *out, const float *a, const float *b, int M, int N, int K, bool trans_a,
             bool trans_b, float alpha, float beta);
void mat_mul_serial(float *out, const float *a, const float *b, int M, int N, int K,
                    bool trans_a, bool trans_b, float alpha, float beta);

/* Runs fn(ctx, r0, r1) over rows 0..n-1 split into one band per thread (multiples of 8 rows,
 * as mat_mul's bands), all in one parallel region, for work whose rows do not depend on each
 * other from start to end (a decoding step through every layer): one fork and join instead of
 * one per kernel. The kernels fn calls see the parallel region and run on the calling thread.
 * With one thread, or fewer than min_rows rows per thread, fn(ctx, 0, n) runs here. */
void run_row_bands(int n, int min_rows, void (*fn)(void *ctx, int r0, int r1), void *ctx);

/* Whether mat_mul splits an (M, N, K) product over the threads (in bands of rows): small
 * products stay on one thread. */
bool mat_mul_splits(int M, int N, int K);

/* -------------------------------------------------------------------------------- workspace */

/* The workspace planner: a list of named buffers, carved from one zeroed block in the order
 * given, each on a TENSOR_ALIGN boundary. Sizing and carving come from the one list, so they
 * cannot disagree:
 *
 *     workspace_plan plan;
 *     workspace_plan_init(&plan);
 *     workspace_add_floats(&plan, "logits", &n->logits, (size_t)B * T * V);
 *     workspace_add_ints(&plan, "ids", &n->ids, (size_t)B * T);
 *     st = workspace_plan_alloc(&plan, &n->work, "an LSTM workspace");
 *
 * Nothing is pointed until workspace_plan_alloc succeeds; it frees the list either way. */
typedef struct {
    const char *name;
    void *at;       /* the float **, int32_t ** or uint8_t ** that receives the buffer */
    int kind;
    size_t bytes;
} workspace_entry;

typedef struct {
    workspace_entry *entries;
    int count, capacity;
    bool failed;    /* an entry could not be recorded, or its size overflows */
} workspace_plan;

void workspace_plan_init(workspace_plan *plan);
void workspace_add_floats(workspace_plan *plan, const char *name, float **at, size_t n);
void workspace_add_ints(workspace_plan *plan, const char *name, int32_t **at, size_t n);
void workspace_add_bytes(workspace_plan *plan, const char *name, uint8_t **at, size_t n);
/* Bytes of the block the plan needs (each buffer rounded up to TENSOR_ALIGN). */
size_t workspace_plan_bytes(const workspace_plan *plan);
/* One block for every buffer added (*block: free it with tensor_free), each pointer set; on
 * failure an error naming `what`, its size and its largest buffer, and nothing set. */
arith_status workspace_plan_alloc(workspace_plan *plan, void **block, const char *what);

#endif
