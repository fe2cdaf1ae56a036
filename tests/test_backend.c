/* test_backend: every op of nn/backend/backend.h against a naive loop written here, in whichever
 * backend this build has (cpu: OpenMP + oneDNN; scalar: plain loops). Products must agree with
 * a double-precision triple loop within float rounding (the library sums in its own order); every
 * other op must give exactly the bits of its loop, since models and the optimizer rely on
 * them not changing; the ops that run in parallel give the same bits with 1 and 2 threads;
 * the workspace planner's buffers are aligned, ordered, disjoint and zeroed. */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/core.h"
#include "nn/nn.h"
#include "nn/fastmath.h" /* fast_force_level */

#define TEST_SEED 20250611u

static rng_state rng;

static float *new_floats(size_t n)
{
    float *p = tensor_alloc((n ? n : 1) * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

static float *new_normal(size_t n, float scale)
{
    float *p = new_floats(n);
    for (size_t i = 0; i < n; i++)
        p[i] = scale * rng_normal(&rng);
    return p;
}

static float *new_copy(const float *x, size_t n)
{
    float *p = new_floats(n);
    memcpy(p, x, n * sizeof(float));
    return p;
}

static bool bitwise_equal(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof(float)) == 0;
}

/* --------------------------------------------------------------------------------- products */

/* out(M,N) = alpha op(a) op(b) + beta out, summed in double. */
static void mat_mul_naive(float *out, const float *a, const float *b, int M, int N, int K,
                          bool trans_a, bool trans_b, float alpha, float beta)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                double x = trans_a ? a[(size_t)k * M + i] : a[(size_t)i * K + k];
                double y = trans_b ? b[(size_t)j * K + k] : b[(size_t)k * N + j];
                s += x * y;
            }
            float *o = &out[(size_t)i * N + j];
            *o = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * *o));
        }
}

static void test_products(void)
{
    /* small; rows below the threaded split (M < 16 threads); large enough for the bands of
     * rows with 2 threads; odd sizes that leave remainders everywhere; K = 1 */
    static const int shapes[][3] = {{3, 5, 7}, {8, 200, 300}, {128, 96, 80}, {67, 129, 33},
                                    {40, 17, 1}, {1, 1, 64}};
    static const float scalars[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {0.5f, 0.25f}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *a = new_normal((size_t)M * K, 1.0f), *b = new_normal((size_t)K * N, 1.0f);
        float *init = new_normal((size_t)M * N, 1.0f);
        for (int t = 0; t < 4; t++) {
            const bool ta = t & 1, tb = t & 2;
            for (size_t c = 0; c < sizeof scalars / sizeof *scalars; c++) {
                const float alpha = scalars[c][0], beta = scalars[c][1];
                float *want = new_copy(init, (size_t)M * N);
                float *got = new_copy(init, (size_t)M * N);
                float *got1 = new_copy(init, (size_t)M * N);
                mat_mul_naive(want, a, b, M, N, K, ta, tb, alpha, beta);
                if (beta == 0.0f) /* beta 0 never reads out: NaN there must not come through */
                    for (size_t i = 0; i < (size_t)M * N; i++)
                        got[i] = got1[i] = NAN;
                core_set_threads(2);
                mat_mul(got, a, b, M, N, K, ta, tb, alpha, beta);
                core_set_threads(1);
                mat_mul_serial(got1, a, b, M, N, K, ta, tb, alpha, beta);
                char what[96];
                snprintf(what, sizeof what, "mat_mul %dx%dx%d ta=%d tb=%d alpha=%g beta=%g", M,
                         N, K, ta, tb, (double)alpha, (double)beta);
                /* float products of unit normals: errors grow like sqrt(K) ulps */
                const double tol = 1e-5 * sqrt((double)K + 1);
                CHECK_CLOSE(what, got, want, (size_t)M * N, tol, 1e-5);
                CHECK_CLOSE("mat_mul_serial", got1, want, (size_t)M * N, tol, 1e-5);
                tensor_free(want);
                tensor_free(got);
                tensor_free(got1);
            }
        }
        tensor_free(a);
        tensor_free(b);
        tensor_free(init);
    }
}

/* ----------------------------------------------------------------------------------- memory */

static void test_alloc(void)
{
    for (size_t bytes = 0; bytes < 300; bytes += 37) {
        unsigned char *p = tensor_alloc(bytes);
        CHECK(p != NULL);
        if (!p)
            continue;
        CHECK((uintptr_t)p % TENSOR_ALIGN == 0);
        size_t nonzero = 0;
        for (size_t i = 0; i < bytes; i++)
            nonzero += p[i] != 0;
        CHECK_EQ_INT(nonzero, 0);
        tensor_free(p);
    }
}

static void test_moves(void)
{
    enum { ROWS = 7, LEN = 13, STRIDE = 20, N = ROWS * STRIDE };
    float *x = new_normal(N, 1.0f), *y = new_normal(N, 1.0f);
    float *got = new_copy(y, N), *want = new_copy(y, N);

    tensor_zero(got, 37);
    for (size_t i = 0; i < 37; i++)
        want[i] = 0.0f;
    CHECK(bitwise_equal(got, want, N));

    tensor_copy(got, x, 50);
    for (size_t i = 0; i < 50; i++)
        want[i] = x[i];
    CHECK(bitwise_equal(got, want, N));

    /* rows of LEN from a stride of STRIDE into a stride of LEN + 2; then one row repeated */
    tensor_copy_rows(got, LEN + 2, x + 3, STRIDE, 5, LEN);
    for (size_t r = 0; r < 5; r++)
        for (size_t j = 0; j < LEN; j++)
            want[r * (LEN + 2) + j] = x[3 + r * STRIDE + j];
    CHECK(bitwise_equal(got, want, N));
    tensor_copy_rows(got + 1, STRIDE, x, 0, ROWS, LEN);
    for (size_t r = 0; r < ROWS; r++)
        for (size_t j = 0; j < LEN; j++)
            want[1 + r * STRIDE + j] = x[j];
    CHECK(bitwise_equal(got, want, N));

    tensor_add_rows(got, STRIDE, y + 2, LEN, 6, LEN);
    for (size_t r = 0; r < 6; r++)
        for (size_t j = 0; j < LEN; j++)
            want[r * STRIDE + j] += y[2 + r * LEN + j];
    CHECK(bitwise_equal(got, want, N));

    /* row moves: rows of 2 segments of 4 floats, segments 9 floats apart, rows 20 apart */
    float *before = new_copy(got, N);
    tensor_row_move(got, STRIDE, 2, 9, 4, 1, 5, false);
    for (size_t s = 0; s < 2; s++)
        for (size_t i = 0; i < 4; i++)
            want[1 * STRIDE + s * 9 + i] = before[5 * STRIDE + s * 9 + i];
    CHECK(bitwise_equal(got, want, N));
    memcpy(before, got, N * sizeof(float));
    tensor_row_move(got, STRIDE, 2, 9, 4, 2, 6, true);
    for (size_t s = 0; s < 2; s++)
        for (size_t i = 0; i < 4; i++) {
            want[2 * STRIDE + s * 9 + i] = before[6 * STRIDE + s * 9 + i];
            want[6 * STRIDE + s * 9 + i] = before[2 * STRIDE + s * 9 + i];
        }
    CHECK(bitwise_equal(got, want, N));
    tensor_free(before);
    tensor_free(x);
    tensor_free(y);
    tensor_free(got);
    tensor_free(want);
}

/* ------------------------------------------------------------------------------- arithmetic */

static void test_arithmetic(void)
{
    enum { N = 1001 };
    float *x = new_normal(N, 2.0f), *y = new_normal(N, 1.0f);
    float *got = new_copy(y, N), *want = new_copy(y, N);

    tensor_scale(got, x, 0.37f, N);
    for (size_t i = 0; i < N; i++)
        want[i] = 0.37f * x[i];
    CHECK(bitwise_equal(got, want, N));
    tensor_scale(got, got, -3.0f, N); /* in place */
    for (size_t i = 0; i < N; i++)
        want[i] = -3.0f * want[i];
    CHECK(bitwise_equal(got, want, N));

    tensor_axpy(got, 1.5f, x, N);
    for (size_t i = 0; i < N; i++)
        want[i] += 1.5f * x[i];
    CHECK(bitwise_equal(got, want, N));

    double dot = 0.25, squares = 1.0, squares2 = 1.0;
    for (size_t i = 0; i < N; i++) {
        dot += (double)x[i] * y[i];
        squares += (double)x[i] * x[i];
    }
    for (size_t i = 0; i < N; i++)
        squares2 += (double)y[i] * y[i];
    CHECK(tensor_dot(0.25, x, y, N) == dot);
    CHECK(tensor_sum_squares(1.0, x, N) == squares);
    /* chained over two buffers: the order of one long sum */
    double chained = tensor_sum_squares(tensor_sum_squares(0.0, x, 400), x + 400, N - 400);
    double once = 0.0;
    for (size_t i = 0; i < N; i++)
        once += (double)x[i] * x[i];
    CHECK(chained == once);
    CHECK(tensor_sum_squares(1.0, y, N) == squares2);

    /* finiteness: every length around the vector widths, a NaN, +inf or -inf at each place;
     * the largest float is finite */
    CHECK(tensor_all_finite(x, N) && tensor_all_finite(x, 0));
    const float odd[3] = {NAN, INFINITY, -INFINITY};
    for (size_t n = 1; n <= 40; n++)
        for (size_t at = 0; at < n; at++)
            for (int k = 0; k < 3; k++) {
                float keep = y[at];
                y[at] = odd[k];
                CHECK_MSG(!tensor_all_finite(y, n), "n %zu, %g at %zu", n, (double)odd[k], at);
                CHECK_MSG(tensor_all_finite(y, at) && tensor_all_finite(y + at + 1, n - at - 1),
                          "n %zu, around %zu", n, at);
                y[at] = FLT_MAX;
                CHECK(tensor_all_finite(y, n));
                y[at] = keep;
            }

    /* clipping: by norm (scale only), then scale and clamp; NaN passes through */
    x[5] = NAN;
    memcpy(got, x, N * sizeof(float));
    memcpy(want, x, N * sizeof(float));
    tensor_clip(got, N, 0.8f, false, 0.0f);
    for (size_t i = 0; i < N; i++)
        want[i] = want[i] * 0.8f;
    CHECK(bitwise_equal(got, want, N));
    tensor_clip(got, N, 0.9f, true, 1.0f);
    for (size_t i = 0; i < N; i++) {
        float v = want[i] * 0.9f;
        want[i] = v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : v;
    }
    CHECK(bitwise_equal(got, want, N));
    size_t outside = 0;
    for (size_t i = 0; i < N; i++)
        outside += fabsf(got[i]) > 1.0f;
    CHECK_EQ_INT(outside, 0);
    CHECK(isnan(got[5]));

    tensor_free(x);
    tensor_free(y);
    tensor_free(got);
    tensor_free(want);
}

static void test_rows(void)
{
    /* argmax: the first of equal maxima; a row of one; -inf and large values */
    const float r1[] = {1.0f, 3.0f, -2.0f, 3.0f, 0.5f};
    const float r2[] = {-INFINITY, -INFINITY, -1e30f};
    const float r3[] = {7.0f};
    CHECK_EQ_INT(argmax_row(r1, 5), 1);
    CHECK_EQ_INT(argmax_row(r2, 3), 2);
    CHECK_EQ_INT(argmax_row(r3, 1), 0);
    enum { V = 300 };
    float *x = new_normal(V, 5.0f);
    int32_t best = 0;
    for (int v = 0; v < V; v++)
        if (x[v] > x[best])
            best = v;
    CHECK_EQ_INT(argmax_row(x, V), best);

    /* log-softmax in double: exp of it sums to 1, the differences are the logits' */
    double *lp = malloc(V * sizeof *lp);
    log_softmax_row(lp, x, V);
    double mx = x[best], sum = 0;
    for (int v = 0; v < V; v++)
        sum += exp((double)x[v] - mx);
    const double lse = mx + log(sum);
    double worst = 0, total = 0;
    for (int v = 0; v < V; v++) {
        worst = fmax(worst, fabs(lp[v] - ((double)x[v] - lse)));
        total += exp(lp[v]);
    }
    CHECK_MSG(worst == 0.0, "log_softmax_row differs from its formula by %.3g", worst);
    CHECK_MSG(fabs(total - 1.0) < 1e-12, "exp(log_softmax) sums to %.17g", total);
    /* no overflow with large logits */
    x[0] = 1e30f;
    log_softmax_row(lp, x, V);
    CHECK(lp[0] == 0.0 && isfinite(lp[1]) && lp[1] < -1e29);
    free(lp);
    tensor_free(x);
}

/* ------------------------------------------------------------------------------------- adam */

static void adam_naive(float *w, float *m, float *v, const float *g, size_t n, double lr,
                       double beta1, double beta2, double eps, double wd, bool decoupled,
                       long long t)
{
    const float b1 = (float)beta1, b2 = (float)beta2;
    const float step = (float)(lr / (1.0 - pow(beta1, (double)t)));
    const float bc2 = (float)sqrt(1.0 - pow(beta2, (double)t));
    for (size_t j = 0; j < n; j++) {
        float grad = g[j];
        if (decoupled)
            w[j] -= (float)lr * (float)wd * w[j];
        else
            grad += (float)wd * w[j];
        m[j] = b1 * m[j] + (1.0f - b1) * grad;
        v[j] = b2 * v[j] + (1.0f - b2) * grad * grad;
        w[j] -= step * m[j] / (sqrtf(v[j]) / bc2 + (float)eps);
    }
}

static void test_adam(void)
{
    /* 40000 elements: above the cpu backend's threshold for threads */
    const size_t sizes[] = {5, 40000, 1037};
    for (size_t s = 0; s < 3 * 3; s++) {
        /* each size on every dispatched path (plain, AVX2, AVX-512: as far as the CPU goes) */
        const size_t n = sizes[s % 3];
        fast_force_level((int)(s / 3));
        for (int decoupled = 0; decoupled < 2; decoupled++) {
            float *w0 = new_normal(n, 1.0f), *g = new_normal(n, 0.1f);
            float *w[3], *m[3], *v[3];
            for (int k = 0; k < 3; k++) {
                w[k] = new_copy(w0, n);
                m[k] = new_floats(n);
                v[k] = new_floats(n);
            }
            for (long long t = 1; t <= 3; t++) {
                adam_naive(w[0], m[0], v[0], g, n, 1e-3, 0.9, 0.98, 1e-8, 0.01, decoupled, t);
                core_set_threads(1);
                adam_update(w[1], m[1], v[1], g, n, 1e-3, 0.9, 0.98, 1e-8, 0.01, decoupled, t);
                core_set_threads(2);
                adam_update(w[2], m[2], v[2], g, n, 1e-3, 0.9, 0.98, 1e-8, 0.01, decoupled, t);
            }
            for (int k = 1; k < 3; k++) {
                CHECK_MSG(bitwise_equal(w[k], w[0], n), "adam_update w, n %zu, decoupled %d, "
                          "threads %d", n, decoupled, k);
                CHECK(bitwise_equal(m[k], m[0], n));
                CHECK(bitwise_equal(v[k], v[0], n));
            }
            CHECK(!bitwise_equal(w[0], w0, n)); /* it moved */
            for (int k = 0; k < 3; k++) {
                tensor_free(w[k]);
                tensor_free(m[k]);
                tensor_free(v[k]);
            }
            tensor_free(w0);
            tensor_free(g);
        }
    }
    fast_force_level(-1);
    core_set_threads(1);
}

/* -------------------------------------------------------------------------------- workspace */

static void test_workspace(void)
{
    float *f1 = NULL, *f2 = NULL, *empty = NULL;
    int32_t *ints = NULL;
    uint8_t *bytes = NULL;
    workspace_plan plan;
    workspace_plan_init(&plan);
    workspace_add_floats(&plan, "f1", &f1, 10);
    workspace_add_bytes(&plan, "bytes", &bytes, 3);
    workspace_add_ints(&plan, "ints", &ints, 17);
    workspace_add_floats(&plan, "empty", &empty, 0);
    workspace_add_floats(&plan, "f2", &f2, 1000);
    /* each rounded up to TENSOR_ALIGN bytes: 40 -> 64, 3 -> 64, 68 -> 128, 0, 4000 -> 4032 */
    CHECK_EQ_INT(workspace_plan_bytes(&plan), 64 + 64 + 128 + 0 + 4032);
    void *block = NULL;
    CHECK_OK(workspace_plan_alloc(&plan, &block, "a test workspace"));
    CHECK(plan.entries == NULL && plan.count == 0);
    unsigned char *base = block;
    CHECK(base != NULL && (uintptr_t)base % TENSOR_ALIGN == 0);
    CHECK((unsigned char *)f1 == base);
    CHECK((unsigned char *)bytes == base + 64);
    CHECK((unsigned char *)ints == base + 128);
    CHECK((unsigned char *)f2 == base + 256);
    CHECK(empty != NULL && (uintptr_t)empty % TENSOR_ALIGN == 0);
    size_t nonzero = 0;
    for (size_t i = 0; i < 1000; i++)
        nonzero += f2[i] != 0.0f;
    for (size_t i = 0; i < 17; i++)
        nonzero += ints[i] != 0;
    CHECK_EQ_INT(nonzero, 0);
    f2[999] = 1.0f; /* the last float is inside the block (ASan would tell) */
    tensor_free(block);

    /* a size no block can hold: an error naming the workspace, and no pointer set */
    float *huge = NULL, *small = NULL;
    workspace_plan_init(&plan);
    workspace_add_floats(&plan, "small", &small, 16);
    workspace_add_floats(&plan, "huge", &huge, SIZE_MAX / 2);
    block = NULL;
    arith_status st = workspace_plan_alloc(&plan, &block, "the impossible workspace");
    CHECK_EQ_INT(st, ARITH_ERR_MEMORY);
    CHECK(strstr(arith_error_message(), "the impossible workspace") != NULL);
    CHECK(block == NULL && huge == NULL && small == NULL);
}

/* The products' instruction set: with ARITH_EXPECT_ISA set (CTest runs this binary again with
 * oneDNN capped at AVX2 and at SSE4.1, DNNL_MAX_CPU_ISA), the products above ran on that path. */
static void test_isa(void)
{
    const char *want = getenv("ARITH_EXPECT_ISA");
    if (want && *want) {
        CHECK(strcmp(backend_isa(), want) == 0);
        if (strcmp(backend_isa(), want) != 0)
            printf("  products ran on %s, expected %s\n", backend_isa(), want);
    }
}

int main(void)
{
    rng_seed(&rng, TEST_SEED);
    test_products();
    printf("test_backend: backend %s, products on %s, seed %u\n", backend_name(), backend_isa(),
           TEST_SEED);
    test_isa();
    test_alloc();
    test_moves();
    test_arithmetic();
    test_rows();
    test_adam();
    test_workspace();
    return check_summary("test_backend");
}
