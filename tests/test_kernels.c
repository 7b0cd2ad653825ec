// test_kernels.c: every kernel, three ways. (1) fast vs naive reference on the same
// inputs, forward and backward; (2) the backward (data and weight gradients) against
// central finite differences of the forward, through a random linear read-out
// loss = sum(out * R); (3) kernel-specific invariants (causal mask, padded vocabulary).
// Sizes are small and odd on purpose (T=5, C=12, NH=3) to hit loop edges.
//
// Tolerances: fast vs naive differ only by summation order (sgemm blocking, SIMD
// reductions): atol 1e-5, rtol 1e-4. Finite differences in float32 with eps 1e-3 carry
// about 1e-4 of rounding noise on these sizes: atol 2e-3, rtol 1e-2.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "kernels.h"
#include "kutil.h"

enum { B = 2, T = 5, C = 12, NH = 3, OC = 7, N = B * T, V = 9, Vp = 12, P = 4 };
#define EPS 1e-3f
#define FD_ATOL 2e-3
#define FD_RTOL 1e-2
#define AG_ATOL 1e-5
#define AG_RTOL 1e-4

static float *vec(size_t n, Rng *r, float scale) {
    float *x = malloc(sizeof(float) * n);
    fill_normal(x, n, r, scale);
    return x;
}
static float *zeros(size_t n) { return calloc(n, sizeof(float)); }

// --- encoder ---------------------------------------------------------------------
static int tokens[B * T] = {3, 1, 3, 8, 0, 5, 5, 1, 7, 3};  // repeats on purpose

typedef struct {
    float *wte, *wpe, *out, *R;
} EncCtx;
static double enc_loss(void *p) {
    EncCtx *c = p;
    encoder_forward(c->out, tokens, c->wte, c->wpe, B, T, C);
    return dot_d(c->out, c->R, (size_t)N * C);
}

static void test_encoder(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 1);
    EncCtx c = {vec(Vp * C, &r, 1), vec(T * C, &r, 1), zeros(N * C), vec(N * C, &r, 1)};
    float *ref = zeros(N * C);
    encoder_forward(c.out, tokens, c.wte, c.wpe, B, T, C);
    encoder_forward_ref(ref, tokens, c.wte, c.wpe, B, T, C);
    assert_close("encoder forward fast vs ref", c.out, ref, N * C, 0, 0);
    float *dwte = zeros(Vp * C), *dwpe = zeros(T * C), *dwte2 = zeros(Vp * C), *dwpe2 = zeros(T * C);
    encoder_backward(dwte, dwpe, c.R, tokens, B, T, C);
    encoder_backward_ref(dwte2, dwpe2, c.R, tokens, B, T, C);
    assert_close("encoder dwte fast vs ref", dwte, dwte2, Vp * C, AG_ATOL, AG_RTOL);
    assert_close("encoder dwpe fast vs ref", dwpe, dwpe2, T * C, AG_ATOL, AG_RTOL);
    fd_check("encoder dwte", enc_loss, &c, c.wte, dwte, NULL, Vp * C, EPS, FD_ATOL, FD_RTOL);
    fd_check("encoder dwpe", enc_loss, &c, c.wpe, dwpe, NULL, T * C, EPS, FD_ATOL, FD_RTOL);
    free(c.wte), free(c.wpe), free(c.out), free(c.R), free(ref);
    free(dwte), free(dwpe), free(dwte2), free(dwpe2);
}

// --- layernorm -------------------------------------------------------------------
typedef struct {
    float *inp, *w, *b, *out, *mean, *rstd, *R;
} LnCtx;
static double ln_loss(void *p) {
    LnCtx *c = p;
    layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->w, c->b, N, C);
    return dot_d(c->out, c->R, (size_t)N * C);
}

static void test_layernorm(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 2);
    LnCtx c = {vec(N * C, &r, 2), vec(C, &r, 1), vec(C, &r, 1), zeros(N * C), zeros(N), zeros(N),
               vec(N * C, &r, 1)};
    for (int i = 0; i < N * C; i++) c.inp[i] += 3.0f;  // a non-zero mean, as in real residuals
    float *out2 = zeros(N * C), *m2 = zeros(N), *s2 = zeros(N);
    layernorm_forward(c.out, c.mean, c.rstd, c.inp, c.w, c.b, N, C);
    layernorm_forward_ref(out2, m2, s2, c.inp, c.w, c.b, N, C);
    assert_close("layernorm forward fast vs ref", c.out, out2, N * C, AG_ATOL, AG_RTOL);
    assert_close("layernorm rstd fast vs ref", c.rstd, s2, N, AG_ATOL, AG_RTOL);
    float *di = zeros(N * C), *dw = zeros(C), *db = zeros(C);
    float *di2 = zeros(N * C), *dw2 = zeros(C), *db2 = zeros(C);
    layernorm_backward(di, dw, db, c.R, c.inp, c.w, c.mean, c.rstd, N, C);
    layernorm_backward_ref(di2, dw2, db2, c.R, c.inp, c.w, c.mean, c.rstd, N, C);
    assert_close("layernorm dinp fast vs ref", di, di2, N * C, AG_ATOL, AG_RTOL);
    assert_close("layernorm dweight fast vs ref", dw, dw2, C, AG_ATOL, AG_RTOL);
    assert_close("layernorm dbias fast vs ref", db, db2, C, AG_ATOL, AG_RTOL);
    fd_check("layernorm dinp", ln_loss, &c, c.inp, di, NULL, N * C, EPS, FD_ATOL, FD_RTOL);
    fd_check("layernorm dweight", ln_loss, &c, c.w, dw, NULL, C, EPS, FD_ATOL, FD_RTOL);
    fd_check("layernorm dbias", ln_loss, &c, c.b, db, NULL, C, EPS, FD_ATOL, FD_RTOL);
    // weight grads are optional: NULL must leave the data gradient unchanged
    float *di3 = zeros(N * C);
    layernorm_backward(di3, NULL, NULL, c.R, c.inp, c.w, c.mean, c.rstd, N, C);
    assert_close("layernorm dinp without weight grads", di3, di, N * C, 0, 0);
    free(c.inp), free(c.w), free(c.b), free(c.out), free(c.mean), free(c.rstd), free(c.R);
    free(out2), free(m2), free(s2), free(di), free(dw), free(db), free(di2), free(dw2), free(db2),
        free(di3);
}

// --- matmul ----------------------------------------------------------------------
typedef struct {
    float *inp, *w, *b, *out, *R;
    int use_bias;
} MmCtx;
static double mm_loss(void *p) {
    MmCtx *c = p;
    matmul_forward(c->out, c->inp, c->w, c->use_bias ? c->b : NULL, N, C, OC);
    return dot_d(c->out, c->R, (size_t)N * OC);
}

static void test_matmul(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 3);
    MmCtx c = {vec(N * C, &r, 1), vec(OC * C, &r, 1), vec(OC, &r, 1), zeros(N * OC),
               vec(N * OC, &r, 1), 1};
    float *out2 = zeros(N * OC);
    for (int ub = 0; ub < 2; ub++) {
        matmul_forward(c.out, c.inp, c.w, ub ? c.b : NULL, N, C, OC);
        matmul_forward_ref(out2, c.inp, c.w, ub ? c.b : NULL, N, C, OC);
        assert_close("matmul forward fast vs ref", c.out, out2, N * OC, AG_ATOL, AG_RTOL);
    }
    float *di = zeros(N * C), *dw = zeros(OC * C), *db = zeros(OC);
    float *di2 = zeros(N * C), *dw2 = zeros(OC * C), *db2 = zeros(OC);
    matmul_backward(di, dw, db, c.R, c.inp, c.w, N, C, OC);
    matmul_backward_ref(di2, dw2, db2, c.R, c.inp, c.w, N, C, OC);
    assert_close("matmul dinp fast vs ref", di, di2, N * C, AG_ATOL, AG_RTOL);
    assert_close("matmul dweight fast vs ref", dw, dw2, OC * C, AG_ATOL, AG_RTOL);
    assert_close("matmul dbias fast vs ref", db, db2, OC, AG_ATOL, AG_RTOL);
    fd_check("matmul dinp", mm_loss, &c, c.inp, di, NULL, N * C, EPS, FD_ATOL, FD_RTOL);
    fd_check("matmul dweight", mm_loss, &c, c.w, dw, NULL, OC * C, EPS, FD_ATOL, FD_RTOL);
    fd_check("matmul dbias", mm_loss, &c, c.b, db, NULL, OC, EPS, FD_ATOL, FD_RTOL);
    // backward adds: a second call doubles the gradient
    matmul_backward(di, NULL, NULL, c.R, c.inp, c.w, N, C, OC);
    for (int i = 0; i < N * C; i++) di2[i] *= 2;
    assert_close("matmul backward accumulates", di, di2, N * C, AG_ATOL, AG_RTOL);
    // the data-only variant overwrites whatever was there (NaN included)
    for (int i = 0; i < N * C; i++) di[i] = NAN, di2[i] = NAN;
    matmul_backward_data(di, c.R, c.w, N, C, OC);
    matmul_backward_data_ref(di2, c.R, c.w, N, C, OC);
    assert_close("matmul data-only fast vs ref", di, di2, N * C, AG_ATOL, AG_RTOL);
    free(c.inp), free(c.w), free(c.b), free(c.out), free(c.R), free(out2);
    free(di), free(dw), free(db), free(di2), free(dw2), free(db2);
}

// --- attention -------------------------------------------------------------------
typedef struct {
    float *qkv, *out, *att, *R;
} AttCtx;
static double att_loss(void *p) {
    AttCtx *c = p;
    attention_forward(c->out, c->att, c->qkv, B, T, NH, NH, C / NH);
    return dot_d(c->out, c->R, (size_t)N * C);
}

static void test_attention(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 4);
    AttCtx c = {vec(N * 3 * C, &r, 1), zeros(N * C), zeros(B * NH * T * T), vec(N * C, &r, 1)};
    float *out2 = zeros(N * C), *att2 = zeros(B * NH * T * T);
    attention_forward(c.out, c.att, c.qkv, B, T, NH, NH, C / NH);
    attention_forward_ref(out2, att2, c.qkv, B, T, NH, NH, C / NH);
    assert_close("attention forward fast vs ref", c.out, out2, N * C, AG_ATOL, AG_RTOL);
    assert_close("attention probs fast vs ref", c.att, att2, B * NH * T * T, AG_ATOL, AG_RTOL);
    // causal: rows sum to 1 over t2 <= t, zero after
    for (int bh = 0; bh < B * NH; bh++)
        for (int t = 0; t < T; t++) {
            double s = 0;
            for (int t2 = 0; t2 < T; t2++) {
                float a = c.att[((size_t)bh * T + t) * T + t2];
                if (t2 > t) assert_true(a == 0.0f);
                s += a;
            }
            assert_true(fabs(s - 1.0) < 1e-5);
        }
    float *dq = zeros(N * 3 * C), *dq2 = zeros(N * 3 * C), *scratch = zeros(B * NH * T * T);
    attention_backward(dq, scratch, c.R, c.qkv, c.att, B, T, NH, NH, C / NH);
    attention_backward_ref(dq2, scratch, c.R, c.qkv, c.att, B, T, NH, NH, C / NH);
    assert_close("attention dqkv fast vs ref", dq, dq2, N * 3 * C, AG_ATOL, AG_RTOL);
    fd_check("attention dqkv", att_loss, &c, c.qkv, dq, NULL, N * 3 * C, EPS, FD_ATOL, FD_RTOL);
    free(c.qkv), free(c.out), free(c.att), free(c.R), free(out2), free(att2), free(dq), free(dq2),
        free(scratch);
}

static double att64_loss(void *vp) {
    AttCtx *k = vp;
    attention_forward(k->out, k->att, k->qkv, 2, 37, 2, 2, 64);
    return dot_d(k->out, k->R, (size_t)2 * 37 * 128);
}

// The hs = 64 fast paths (GPT-2's head size), odd T, against the reference and finite
// differences.
static void test_attention_hs64(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 41);
    int b = 2, t = 37, c = 128, nh = 2;
    size_t n = (size_t)b * t;
    float *qkv = vec(n * 3 * c, &r, 1), *o1 = zeros(n * c), *o2 = zeros(n * c);
    float *a1 = zeros((size_t)b * nh * t * t), *a2 = zeros((size_t)b * nh * t * t);
    attention_forward(o1, a1, qkv, b, t, nh, nh, c / nh);
    attention_forward_ref(o2, a2, qkv, b, t, nh, nh, c / nh);
    assert_close("attention hs=64 forward fast vs ref", o1, o2, n * c, AG_ATOL, AG_RTOL);
    assert_close("attention hs=64 probs fast vs ref", a1, a2, (size_t)b * nh * t * t, AG_ATOL, AG_RTOL);
    float *d = vec(n * c, &r, 1), *g1 = zeros(n * 3 * c), *g2 = zeros(n * 3 * c);
    float *s1 = zeros((size_t)b * nh * t * t);
    attention_backward(g1, s1, d, qkv, a1, b, t, nh, nh, c / nh);
    attention_backward_ref(g2, s1, d, qkv, a1, b, t, nh, nh, c / nh);
    assert_close("attention hs=64 backward fast vs ref", g1, g2, n * 3 * c, AG_ATOL, AG_RTOL);
    // and against finite differences, through a random read-out of the output
    AttCtx ac = {qkv, o1, a1, d};
    size_t idx[64];
    for (int k = 0; k < 64; k++) idx[k] = rng_u64(&r) % (n * 3 * c);
    fd_check("attention hs=64 dqkv", att64_loss, &ac, qkv, g1, idx, 64, EPS, FD_ATOL, FD_RTOL);
    free(d), free(g1), free(g2), free(s1);
    free(qkv), free(o1), free(o2), free(a1), free(a2);
}

// --- Llama kernels: GQA attention, RMSNorm, RoPE, SwiGLU -----------------------------

// Grouped-query attention: 6 query heads over 2 K/V heads (and 3 over 3, 4 over 1), head
// sizes 8 and 64 (the fast path), against the naive twin and finite differences. The naive
// twin is also checked against plain multi-head attention with K/V heads repeated, which
// is what GQA means.
typedef struct {
    float *qkv, *out, *att, *R;
    int b, t, nh, nkv, hs;
} GqaCtx;
static double gqa_loss(void *p) {
    GqaCtx *c = p;
    attention_forward(c->out, c->att, c->qkv, c->b, c->t, c->nh, c->nkv, c->hs);
    return dot_d(c->out, c->R, (size_t)c->b * c->t * c->nh * c->hs);
}

static void gqa_case(int b, int t, int nh, int nkv, int hs, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    size_t n = (size_t)b * t, W = (size_t)(nh + 2 * nkv) * hs, A = (size_t)nh * hs, na = (size_t)b * nh * t * t;
    GqaCtx c = {vec(n * W, &r, 1), zeros(n * A), zeros(na), vec(n * A, &r, 1), b, t, nh, nkv, hs};
    float *out2 = zeros(n * A), *att2 = zeros(na);
    attention_forward(c.out, c.att, c.qkv, b, t, nh, nkv, hs);
    attention_forward_ref(out2, att2, c.qkv, b, t, nh, nkv, hs);
    assert_close("GQA attention forward fast vs ref", c.out, out2, n * A, AG_ATOL, AG_RTOL);
    assert_close("GQA attention probs fast vs ref", c.att, att2, na, AG_ATOL, AG_RTOL);
    // the same as multi-head attention over K/V heads repeated for their group
    size_t W2 = 3 * A;
    float *rep = zeros(n * W2), *out3 = zeros(n * A), *att3 = zeros(na);
    for (size_t row = 0; row < n; row++)
        for (int h = 0; h < nh; h++) {
            int g = h / (nh / nkv);
            const float *src = c.qkv + row * W;
            float *dst = rep + row * W2;
            memcpy(dst + (size_t)h * hs, src + (size_t)h * hs, sizeof(float) * hs);
            memcpy(dst + A + (size_t)h * hs, src + A + (size_t)g * hs, sizeof(float) * hs);
            memcpy(dst + 2 * A + (size_t)h * hs, src + A + (size_t)(nkv + g) * hs, sizeof(float) * hs);
        }
    attention_forward_ref(out3, att3, rep, b, t, nh, nh, hs);
    assert_close("GQA = MHA with repeated K/V heads", out2, out3, n * A, 1e-6, 1e-6);
    float *dq = zeros(n * W), *dq2 = zeros(n * W), *scratch = zeros(na);
    attention_backward(dq, scratch, c.R, c.qkv, c.att, b, t, nh, nkv, hs);
    attention_backward_ref(dq2, scratch, c.R, c.qkv, c.att, b, t, nh, nkv, hs);
    assert_close("GQA attention dqkv fast vs ref", dq, dq2, n * W, AG_ATOL, AG_RTOL);
    size_t idx[96], nidx = n * W < 96 ? n * W : 96;
    for (size_t k = 0; k < nidx; k++) idx[k] = n * W <= 96 ? k : rng_u64(&r) % (n * W);
    fd_check("GQA attention dqkv", gqa_loss, &c, c.qkv, dq, idx, nidx, EPS, FD_ATOL, FD_RTOL);
    free(c.qkv), free(c.out), free(c.att), free(c.R), free(out2), free(att2), free(rep), free(out3),
        free(att3), free(dq), free(dq2), free(scratch);
}

static void test_attention_gqa(void **state) {
    (void)state;
    gqa_case(2, 5, 6, 2, 8, 51);
    gqa_case(2, 7, 4, 1, 16, 52);
    gqa_case(1, 6, 3, 3, 4, 53);
    gqa_case(2, 19, 4, 2, 64, 54);  // the hs = 64 fast path
}

typedef struct {
    float *inp, *w, *out, *rstd, *R;
} RmsCtx;
static double rms_loss(void *p) {
    RmsCtx *c = p;
    rmsnorm_forward(c->out, c->rstd, c->inp, c->w, N, C, 1e-5f);
    return dot_d(c->out, c->R, (size_t)N * C);
}

static void test_rmsnorm(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 61);
    RmsCtx c = {vec(N * C, &r, 2), vec(C, &r, 1), zeros(N * C), zeros(N), vec(N * C, &r, 1)};
    for (int i = 0; i < N * C; i++) c.inp[i] += 1.0f;
    float *out2 = zeros(N * C), *s2 = zeros(N);
    rmsnorm_forward(c.out, c.rstd, c.inp, c.w, N, C, 1e-5f);
    rmsnorm_forward_ref(out2, s2, c.inp, c.w, N, C, 1e-5f);
    assert_close("rmsnorm forward fast vs ref", c.out, out2, N * C, AG_ATOL, AG_RTOL);
    assert_close("rmsnorm rstd fast vs ref", c.rstd, s2, N, AG_ATOL, AG_RTOL);
    // the definition, in double: x / sqrt(mean(x^2) + eps) * w
    for (int n = 0; n < N; n++) {
        double ss = 0;
        for (int i = 0; i < C; i++) ss += (double)c.inp[n * C + i] * c.inp[n * C + i];
        double s = 1.0 / sqrt(ss / C + 1e-5);
        for (int i = 0; i < C; i++)
            assert_true(fabs(c.inp[n * C + i] * s * c.w[i] - out2[n * C + i]) < 1e-5);
    }
    float *di = zeros(N * C), *dw = zeros(C), *di2 = zeros(N * C), *dw2 = zeros(C), *di3 = zeros(N * C);
    rmsnorm_backward(di, dw, c.R, c.inp, c.w, c.rstd, N, C);
    rmsnorm_backward_ref(di2, dw2, c.R, c.inp, c.w, c.rstd, N, C);
    assert_close("rmsnorm dinp fast vs ref", di, di2, N * C, AG_ATOL, AG_RTOL);
    assert_close("rmsnorm dweight fast vs ref", dw, dw2, C, AG_ATOL, AG_RTOL);
    fd_check("rmsnorm dinp", rms_loss, &c, c.inp, di, NULL, N * C, EPS, FD_ATOL, FD_RTOL);
    fd_check("rmsnorm dweight", rms_loss, &c, c.w, dw, NULL, C, EPS, FD_ATOL, FD_RTOL);
    rmsnorm_backward(di3, NULL, c.R, c.inp, c.w, c.rstd, N, C);
    assert_close("rmsnorm dinp without weight grads", di3, di, N * C, 0, 0);
    free(c.inp), free(c.w), free(c.out), free(c.rstd), free(c.R), free(out2), free(s2), free(di),
        free(dw), free(di2), free(dw2), free(di3);
}

// RoPE in both conventions: fast vs naive, the backward against finite differences, the
// rotation keeps each pair's norm, V is untouched, position 0 is the identity, and the
// two conventions are the same map up to the permutation of a head's rows that Hugging
// Face's conversion applies (interleaved pair (2i, 2i+1) <-> halves pair (i, i + hs/2)).
enum { RNH = 4, RNKV = 2, RHS = 8 };
typedef struct {
    float *x, *y, *R, *inv;
    int inter;
} RopeCtx;
static double rope_loss(void *p) {
    RopeCtx *c = p;
    size_t n = (size_t)N * (RNH + 2 * RNKV) * RHS;
    memcpy(c->y, c->x, sizeof(float) * n);
    rope_forward(c->y, c->inv, B, T, RNH, RNKV, RHS, c->inter);
    return dot_d(c->y, c->R, n);
}

static void test_rope(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 71);
    size_t W = (RNH + 2 * RNKV) * RHS, n = (size_t)N * W;
    float inv[RHS / 2];
    for (int i = 0; i < RHS / 2; i++) inv[i] = powf(10000.0f, -2.0f * i / RHS) + 0.3f;  // angles > 2 pi at t = 4
    for (int inter = 0; inter < 2; inter++) {
        RopeCtx c = {vec(n, &r, 1), zeros(n), vec(n, &r, 1), inv, inter};
        float *y2 = zeros(n);
        memcpy(c.y, c.x, sizeof(float) * n);
        memcpy(y2, c.x, sizeof(float) * n);
        rope_forward(c.y, inv, B, T, RNH, RNKV, RHS, inter);
        rope_forward_ref(y2, inv, B, T, RNH, RNKV, RHS, inter);
        assert_close("rope forward fast vs ref", c.y, y2, n, 1e-6, 1e-6);
        for (int bt = 0; bt < N; bt++) {
            const float *xr = c.x + (size_t)bt * W, *yr = c.y + (size_t)bt * W;
            for (size_t j = (RNH + RNKV) * RHS; j < W; j++) assert_true(xr[j] == yr[j]);  // V
            if (bt % T == 0)
                for (size_t j = 0; j < W; j++) assert_true(fabsf(xr[j] - yr[j]) < 1e-6f);
            for (int h = 0; h < RNH + RNKV; h++)
                for (int i = 0; i < RHS / 2; i++) {
                    int i0 = inter ? 2 * i : i, i1 = inter ? 2 * i + 1 : i + RHS / 2;
                    const float *a = xr + h * RHS, *b = yr + h * RHS;
                    assert_true(fabsf(hypotf(a[i0], a[i1]) - hypotf(b[i0], b[i1])) < 1e-5f);
                }
        }
        // backward: the inverse rotation of the read-out
        float *g = zeros(n), *g2 = zeros(n);
        memcpy(g, c.R, sizeof(float) * n);
        memcpy(g2, c.R, sizeof(float) * n);
        rope_backward(g, inv, B, T, RNH, RNKV, RHS, inter);
        rope_backward_ref(g2, inv, B, T, RNH, RNKV, RHS, inter);
        assert_close("rope backward fast vs ref", g, g2, n, 1e-6, 1e-6);
        fd_check(inter ? "rope (interleaved) dqkv" : "rope (halves) dqkv", rope_loss, &c, c.x, g,
                 NULL, n, EPS, FD_ATOL, FD_RTOL);
        free(c.x), free(c.y), free(c.R), free(y2), free(g), free(g2);
    }
    // interleaved on x == halves on the permuted x, permuted back
    float *x = vec(n, &r, 1), *xp = zeros(n), *yi = zeros(n);
    for (size_t row = 0; row < (size_t)N; row++)
        for (int h = 0; h < RNH + 2 * RNKV; h++)
            for (int i = 0; i < RHS / 2; i++) {
                const float *src = x + row * W + h * RHS;
                float *dst = xp + row * W + h * RHS;
                dst[i] = src[2 * i];
                dst[i + RHS / 2] = src[2 * i + 1];
            }
    memcpy(yi, x, sizeof(float) * n);
    rope_forward_ref(yi, inv, B, T, RNH, RNKV, RHS, 1);
    rope_forward_ref(xp, inv, B, T, RNH, RNKV, RHS, 0);
    for (size_t row = 0; row < (size_t)N; row++)
        for (int h = 0; h < RNH + RNKV; h++)
            for (int i = 0; i < RHS / 2; i++) {
                const float *a = yi + row * W + h * RHS, *b = xp + row * W + h * RHS;
                assert_true(fabsf(a[2 * i] - b[i]) < 1e-6f && fabsf(a[2 * i + 1] - b[i + RHS / 2]) < 1e-6f);
            }
    free(x), free(xp), free(yi);
}

typedef struct {
    float *inp, *out, *R;
} SwiCtx;
static double swiglu_loss(void *p) {
    SwiCtx *c = p;
    swiglu_forward(c->out, c->inp, N, OC);
    return dot_d(c->out, c->R, (size_t)N * OC);
}

static void test_swiglu(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 81);
    SwiCtx c = {vec(N * 2 * OC, &r, 3), zeros(N * OC), vec(N * OC, &r, 1)};
    float *out2 = zeros(N * OC);
    swiglu_forward(c.out, c.inp, N, OC);
    swiglu_forward_ref(out2, c.inp, N, OC);
    assert_close("swiglu forward fast vs ref", c.out, out2, N * OC, AG_ATOL, AG_RTOL);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < OC; i++) {
            double g = c.inp[n * 2 * OC + i], u = c.inp[n * 2 * OC + OC + i];
            assert_true(fabs(g / (1 + exp(-g)) * u - out2[n * OC + i]) < 1e-5 * (1 + fabs(g * u)));
        }
    float *d = zeros(N * 2 * OC), *d2 = zeros(N * 2 * OC);
    swiglu_backward(d, c.inp, c.R, N, OC);
    swiglu_backward_ref(d2, c.inp, c.R, N, OC);
    assert_close("swiglu backward fast vs ref", d, d2, N * 2 * OC, AG_ATOL, AG_RTOL);
    fd_check("swiglu dinp", swiglu_loss, &c, c.inp, d, NULL, N * 2 * OC, EPS, FD_ATOL, FD_RTOL);
    free(c.inp), free(c.out), free(c.R), free(out2), free(d), free(d2);
}

// The token embedding alone (no learned positions) equals the encoder with zero positions.
static void test_encoder_no_positions(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 91);
    float *wte = vec(Vp * C, &r, 1), *zp = zeros(T * C), *o1 = zeros(N * C), *o2 = zeros(N * C), *o3 = zeros(N * C);
    encoder_forward(o1, tokens, wte, NULL, B, T, C);
    encoder_forward_ref(o2, tokens, wte, NULL, B, T, C);
    encoder_forward_ref(o3, tokens, wte, zp, B, T, C);
    assert_close("encoder without positions fast vs ref", o1, o2, N * C, 0, 0);
    assert_close("encoder without positions = zero positions", o1, o3, N * C, 0, 0);
    free(wte), free(zp), free(o1), free(o2), free(o3);
}

// --- gelu, residual --------------------------------------------------------------
typedef struct {
    float *a, *b, *out, *R;
    size_t n;
} EwCtx;
static double gelu_loss(void *p) {
    EwCtx *c = p;
    gelu_forward(c->out, c->a, c->n);
    return dot_d(c->out, c->R, c->n);
}
static double resid_loss(void *p) {
    EwCtx *c = p;
    residual_forward(c->out, c->a, c->b, c->n);
    return dot_d(c->out, c->R, c->n);
}

static void test_gelu(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 5);
    size_t n = 1000;
    EwCtx c = {vec(n, &r, 3), NULL, zeros(n), vec(n, &r, 1), n};
    float *out2 = zeros(n), *d = zeros(n), *d2 = zeros(n);
    gelu_forward(c.out, c.a, n);
    gelu_forward_ref(out2, c.a, n);
    assert_close("gelu forward fast vs ref", c.out, out2, n, AG_ATOL, AG_RTOL);
    // known values of the tanh approximation (from its formula in double precision)
    float x3[3] = {-1.0f, 0.5f, 2.0f}, y3[3], e3[3] = {-0.15880801f, 0.34571401f, 1.95459769f};
    gelu_forward(y3, x3, 3);
    assert_close("gelu known values", y3, e3, 3, 1e-6, 1e-6);
    // the bias-folded variant: fast vs ref, and equal to a bias add then gelu
    float bias[40], *x1 = malloc(sizeof(float) * n), *x2 = malloc(sizeof(float) * n), *y1 = zeros(n), *y2 = zeros(n);
    fill_normal(bias, 40, &r, 1);
    memcpy(x1, c.a, sizeof(float) * n), memcpy(x2, c.a, sizeof(float) * n);
    bias_gelu_forward(y1, x1, bias, (int)n / 40, 40);
    bias_gelu_forward_ref(y2, x2, bias, (int)n / 40, 40);
    assert_close("bias_gelu inp fast vs ref", x1, x2, n, 0, 0);
    assert_close("bias_gelu out fast vs ref", y1, y2, n, AG_ATOL, AG_RTOL);
    gelu_forward(y2, x2, n);
    assert_close("bias_gelu == gelu(x + b)", y1, y2, n, 0, 0);
    free(x1), free(x2), free(y1), free(y2);
    gelu_backward(d, c.a, c.R, n);
    gelu_backward_ref(d2, c.a, c.R, n);
    assert_close("gelu backward fast vs ref", d, d2, n, AG_ATOL, AG_RTOL);
    fd_check("gelu dinp", gelu_loss, &c, c.a, d, NULL, n, EPS, FD_ATOL, FD_RTOL);
    // the written variant, in place: equal to the accumulating one on a zeroed buffer
    float *g1 = malloc(sizeof(float) * n), *g2 = malloc(sizeof(float) * n);
    memcpy(g1, c.R, sizeof(float) * n), memcpy(g2, c.R, sizeof(float) * n);
    gelu_backward_inplace(g1, c.a, g1, n);
    gelu_backward_inplace_ref(g2, c.a, g2, n);
    assert_close("gelu backward in place fast vs ref", g1, g2, n, AG_ATOL, AG_RTOL);
    assert_close("gelu backward in place vs accumulated", g1, d2, n, AG_ATOL, AG_RTOL);
    free(g1), free(g2);
    free(c.a), free(c.out), free(c.R), free(out2), free(d), free(d2);
}

static void test_residual(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 6);
    size_t n = 333;
    EwCtx c = {vec(n, &r, 1), vec(n, &r, 1), zeros(n), vec(n, &r, 1), n};
    float *out2 = zeros(n), *da = zeros(n), *db = zeros(n), *da2 = zeros(n), *db2 = zeros(n);
    residual_forward(c.out, c.a, c.b, n);
    residual_forward_ref(out2, c.a, c.b, n);
    assert_close("residual forward fast vs ref", c.out, out2, n, 0, 0);
    residual_backward(da, db, c.R, n);
    residual_backward_ref(da2, db2, c.R, n);
    assert_close("residual backward fast vs ref", da, da2, n, 0, 0);
    fd_check("residual dinp1", resid_loss, &c, c.a, da, NULL, n, EPS, FD_ATOL, FD_RTOL);
    fd_check("residual dinp2", resid_loss, &c, c.b, db, NULL, n, EPS, FD_ATOL, FD_RTOL);
    free(c.a), free(c.b), free(c.out), free(c.R), free(out2), free(da), free(db), free(da2),
        free(db2);
}

// --- gather and logits -----------------------------------------------------------
static int pos[P] = {4, 7, 4, 9};  // row 4 twice: the backward must add both

typedef struct {
    float *inp, *out, *lnf, *wte, *R;
} LgCtx;
static double gather_loss(void *p) {
    LgCtx *c = p;
    gather_forward(c->out, c->inp, pos, P, C);
    return dot_d(c->out, c->R, (size_t)P * C);
}
static double logits_loss(void *p) {
    LgCtx *c = p;
    logits_forward(c->out, c->lnf, c->wte, P, C, Vp);
    return dot_d(c->out, c->R, (size_t)P * Vp);
}

static void test_gather(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 7);
    LgCtx c = {vec(N * C, &r, 1), zeros(P * C), NULL, NULL, vec(P * C, &r, 1)};
    float *out2 = zeros(P * C), *d = zeros(N * C), *d2 = zeros(N * C);
    gather_forward(c.out, c.inp, pos, P, C);
    gather_forward_ref(out2, c.inp, pos, P, C);
    assert_close("gather forward fast vs ref", c.out, out2, P * C, 0, 0);
    gather_backward(d, c.R, pos, P, C);
    gather_backward_ref(d2, c.R, pos, P, C);
    assert_close("gather backward fast vs ref", d, d2, N * C, AG_ATOL, AG_RTOL);
    fd_check("gather dinp", gather_loss, &c, c.inp, d, NULL, N * C, EPS, FD_ATOL, FD_RTOL);
    free(c.inp), free(c.out), free(c.R), free(out2), free(d), free(d2);
}

static void test_logits(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 8);
    LgCtx c = {NULL, zeros(P * Vp), vec(P * C, &r, 1), vec(Vp * C, &r, 1), vec(P * Vp, &r, 1)};
    float *out2 = zeros(P * Vp);
    logits_forward(c.out, c.lnf, c.wte, P, C, Vp);
    logits_forward_ref(out2, c.lnf, c.wte, P, C, Vp);
    assert_close("logits forward fast vs ref", c.out, out2, P * Vp, AG_ATOL, AG_RTOL);
    float *dl = zeros(P * C), *dw = zeros(Vp * C), *dl2 = zeros(P * C), *dw2 = zeros(Vp * C);
    logits_backward(dl, dw, c.R, c.lnf, c.wte, P, C, Vp);
    logits_backward_ref(dl2, dw2, c.R, c.lnf, c.wte, P, C, Vp);
    assert_close("logits dlnf fast vs ref", dl, dl2, P * C, AG_ATOL, AG_RTOL);
    assert_close("logits dwte fast vs ref", dw, dw2, Vp * C, AG_ATOL, AG_RTOL);
    fd_check("logits dlnf", logits_loss, &c, c.lnf, dl, NULL, P * C, EPS, FD_ATOL, FD_RTOL);
    fd_check("logits dwte", logits_loss, &c, c.wte, dw, NULL, Vp * C, EPS, FD_ATOL, FD_RTOL);
    free(c.out), free(c.lnf), free(c.wte), free(c.R), free(out2), free(dl), free(dw), free(dl2),
        free(dw2);
}

// --- softmax, log-softmax, cross-entropy ------------------------------------------
static int targets[P] = {2, 8, 0, 2};

typedef struct {
    float *logits, *out, *R;
    int which;  // 0 softmax, 1 log-softmax, 2 cross-entropy of log-softmax
} SmCtx;
static double sm_loss(void *p) {
    SmCtx *c = p;
    if (c->which == 0) softmax_forward(c->out, c->logits, P, V, Vp);
    else log_softmax_forward(c->out, c->logits, P, V, Vp);
    if (c->which < 2) return dot_d(c->out, c->R, (size_t)P * V);
    float losses[P];
    crossentropy_forward(losses, c->out, targets, P, V);
    return dot_d(losses, c->R, P);
}

static void test_softmax_family(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 9);
    SmCtx c = {vec(P * Vp, &r, 2), zeros(P * V), vec(P * V, &r, 1), 0};
    float *out2 = zeros(P * V);
    softmax_forward(c.out, c.logits, P, V, Vp);
    softmax_forward_ref(out2, c.logits, P, V, Vp);
    assert_close("softmax forward fast vs ref", c.out, out2, P * V, AG_ATOL, AG_RTOL);
    // padded columns V..Vp-1 take no part: changing them changes nothing
    c.logits[V] = 1e4f;
    softmax_forward(out2, c.logits, P, V, Vp);
    assert_close("softmax ignores padded vocabulary", out2, c.out, P * V, 0, 0);
    float *dl = zeros(P * Vp), *dl2 = zeros(P * Vp);
    softmax_backward(dl, c.R, c.out, P, V, Vp);
    softmax_backward_ref(dl2, c.R, c.out, P, V, Vp);
    assert_close("softmax backward fast vs ref", dl, dl2, P * Vp, AG_ATOL, AG_RTOL);
    for (int p = 0; p < P; p++)
        for (int i = V; i < Vp; i++) assert_true(dl[p * Vp + i] == 0.0f);
    fd_check("softmax dlogits", sm_loss, &c, c.logits, dl, NULL, P * Vp, EPS, FD_ATOL, FD_RTOL);

    c.which = 1;
    log_softmax_forward(c.out, c.logits, P, V, Vp);
    log_softmax_forward_ref(out2, c.logits, P, V, Vp);
    assert_close("log_softmax forward fast vs ref", c.out, out2, P * V, AG_ATOL, AG_RTOL);
    memset(dl, 0, sizeof(float) * P * Vp);
    memset(dl2, 0, sizeof(float) * P * Vp);
    log_softmax_backward(dl, c.R, c.out, P, V, Vp);
    log_softmax_backward_ref(dl2, c.R, c.out, P, V, Vp);
    assert_close("log_softmax backward fast vs ref", dl, dl2, P * Vp, AG_ATOL, AG_RTOL);
    fd_check("log_softmax dlogits", sm_loss, &c, c.logits, dl, NULL, P * Vp, EPS, FD_ATOL, FD_RTOL);

    c.which = 2;
    float losses[P], losses2[P], dlogp[P * V] = {0}, dlogp2[P * V] = {0};
    log_softmax_forward(c.out, c.logits, P, V, Vp);
    crossentropy_forward(losses, c.out, targets, P, V);
    crossentropy_forward_ref(losses2, c.out, targets, P, V);
    assert_close("crossentropy forward fast vs ref", losses, losses2, P, 0, 0);
    crossentropy_backward(dlogp, c.R, targets, P, V);  // dlosses = R[0..P)
    crossentropy_backward_ref(dlogp2, c.R, targets, P, V);
    assert_close("crossentropy backward fast vs ref", dlogp, dlogp2, P * V, 0, 0);
    memset(dl, 0, sizeof(float) * P * Vp);
    log_softmax_backward(dl, dlogp, c.out, P, V, Vp);
    fd_check("crossentropy(log_softmax) dlogits", sm_loss, &c, c.logits, dl, NULL, P * Vp, EPS,
             FD_ATOL, FD_RTOL);
    free(c.logits), free(c.out), free(c.R), free(out2), free(dl), free(dl2);
}

// --- interchange ------------------------------------------------------------------
typedef struct {
    float *clean, *ref, *z, *out, *R;
    size_t stride;
} IxCtx;
static double ix_loss(void *vp) {
    IxCtx *k = vp;
    interchange_forward(k->out, k->clean, k->ref, k->stride, k->z, N, C);
    return dot_d(k->out, k->R, (size_t)N * C);
}

static void test_interchange(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 12);
    float *clean = vec(N * C, &r, 1), *ref = vec(N * C, &r, 1), *z = vec(C, &r, 0.3f);
    float *R = vec(N * C, &r, 1), *o1 = zeros(N * C), *o2 = zeros(N * C);
    for (int i = 0; i < C; i++) z[i] += 0.5f;
    z[0] = 0.0f, z[1] = 1.0f;  // the exact ends
    // three kinds of reference: a tensor (corrupted), one row (mean), none (zero)
    struct { const float *ref; size_t stride; } kinds[3] = {{ref, C}, {ref, 0}, {NULL, 0}};
    for (int k = 0; k < 3; k++) {
        interchange_forward(o1, clean, kinds[k].ref, kinds[k].stride, z, N, C);
        interchange_forward_ref(o2, clean, kinds[k].ref, kinds[k].stride, z, N, C);
        assert_close("interchange forward fast vs ref", o1, o2, N * C, AG_ATOL, AG_RTOL);
        for (int n = 0; n < N; n++) {  // z = 1 is the clean value, z = 0 the reference, exactly
            assert_true(o1[n * C + 1] == clean[n * C + 1]);
            float want = kinds[k].ref ? kinds[k].ref[n * kinds[k].stride + 0] : 0.0f;
            assert_true(o1[n * C + 0] == want);
        }
        // fused with the residual add: the same values plus the residual
        float *res = vec(N * C, &r, 1), *f1 = zeros(N * C), *f2 = zeros(N * C);
        interchange_residual_forward(f1, res, clean, kinds[k].ref, kinds[k].stride, z, N, C);
        interchange_residual_forward_ref(f2, res, clean, kinds[k].ref, kinds[k].stride, z, N, C);
        assert_close("interchange+residual fast vs ref", f1, f2, N * C, AG_ATOL, AG_RTOL);
        for (int i = 0; i < N * C; i++) f2[i] = res[i] + o2[i];
        assert_close("interchange+residual vs interchange then add", f1, f2, N * C, AG_ATOL, AG_RTOL);
        free(res), free(f1), free(f2);
        float *dc1 = zeros(N * C), *dc2 = zeros(N * C), dz1[C] = {0}, dz2[C] = {0};
        interchange_backward(dc1, dz1, R, clean, kinds[k].ref, kinds[k].stride, z, N, C);
        interchange_backward_ref(dc2, dz2, R, clean, kinds[k].ref, kinds[k].stride, z, N, C);
        assert_close("interchange dclean fast vs ref", dc1, dc2, N * C, AG_ATOL, AG_RTOL);
        assert_close("interchange dz fast vs ref", dz1, dz2, C, AG_ATOL, AG_RTOL);
        IxCtx ctx = {clean, (float *)kinds[k].ref, z, o1, R, kinds[k].stride};
        fd_check("interchange dclean", ix_loss, &ctx, clean, dc1, NULL, N * C, EPS, FD_ATOL, FD_RTOL);
        fd_check("interchange dz", ix_loss, &ctx, z, dz1, NULL, C, EPS, FD_ATOL, FD_RTOL);
        // the linear-map form: sum (inp W^T + b - ref) g == sum <inp, g W> + sum (b - ref) g
        float *inp = vec(N * OC, &r, 1), *w = vec(C * OC, &r, 1), *b = vec(C, &r, 1);
        float *out = zeros(N * C), *u = zeros(N * OC);
        matmul_forward(out, inp, w, b, N, OC, C);
        matmul_backward(u, NULL, NULL, R, NULL, w, N, OC, C);
        double direct = 0;
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++)
                direct += ((double)out[n * C + c] - (kinds[k].ref ? kinds[k].ref[n * kinds[k].stride + c] : 0)) * R[n * C + c];
        double fast = interchange_dz_linear(inp, u, b, kinds[k].ref, kinds[k].stride, R, N, OC, C);
        double slow = interchange_dz_linear_ref(inp, u, b, kinds[k].ref, kinds[k].stride, R, N, OC, C);
        assert_true(fabs(fast - slow) <= 1e-4 * (1 + fabs(slow)));
        assert_true(fabs(fast - direct) <= 1e-4 * (1 + fabs(direct)));
        free(dc1), free(dc2), free(inp), free(w), free(b), free(out), free(u);
    }
    free(clean), free(ref), free(z), free(R), free(o1), free(o2);
}

// exp_simd and tanh_simd replace libm in the fast kernels: relative error of exp within
// 4e-7 (about 3 ulp) over its whole clamped range, tanh within 2e-7 absolute.
static void test_exp_tanh_simd(void **state) {
    (void)state;
    double worst_exp = 0, worst_tanh = 0;
    for (int i = 0; i <= 200000; i++) {
        float x = -87.0f + 175.0f * (float)i / 200000.0f;
        double e = exp((double)x), rel = fabs(exp_simd(x) - e) / e;
        worst_exp = rel > worst_exp ? rel : worst_exp;
        float u = -10.0f + 20.0f * (float)i / 200000.0f;
        double d = fabs(tanh_simd(u) - tanh((double)u));
        worst_tanh = d > worst_tanh ? d : worst_tanh;
    }
    if (worst_exp > 4e-7) fail_msg("exp_simd relative error %g", worst_exp);
    if (worst_tanh > 2e-7) fail_msg("tanh_simd absolute error %g", worst_tanh);
    assert_true(exp_simd(-1000.0f) > 0.0f && exp_simd(1000.0f) < INFINITY);  // clamped, finite
    assert_true(tanh_simd(50.0f) == 1.0f && tanh_simd(-50.0f) == -1.0f);
}

// The checker can fail: a gradient off by 3% or with the wrong sign is caught, the right
// one is not (x^2 at 1.5: gradient 3).
static double square_loss(void *p) {
    float *x = p;
    return (double)x[0] * x[0];
}
static void test_fd_check_catches_errors(void **state) {
    (void)state;
    float x[1] = {1.5f}, good[1] = {3.0f}, off[1] = {3.1f}, sign[1] = {-3.0f};
    assert_int_equal(fd_count(square_loss, x, x, good, NULL, 1, EPS, FD_ATOL, FD_RTOL, NULL, 0), 0);
    assert_int_equal(fd_count(square_loss, x, x, off, NULL, 1, EPS, FD_ATOL, FD_RTOL, NULL, 0), 1);
    assert_int_equal(fd_count(square_loss, x, x, sign, NULL, 1, EPS, FD_ATOL, FD_RTOL, NULL, 0), 1);
    assert_true(x[0] == 1.5f);  // the input is restored
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoder),   cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_matmul),    cmocka_unit_test(test_attention),
        cmocka_unit_test(test_attention_hs64), cmocka_unit_test(test_attention_gqa),
        cmocka_unit_test(test_rmsnorm), cmocka_unit_test(test_rope), cmocka_unit_test(test_swiglu),
        cmocka_unit_test(test_encoder_no_positions),
        cmocka_unit_test(test_gelu),      cmocka_unit_test(test_residual),
        cmocka_unit_test(test_gather),    cmocka_unit_test(test_logits),
        cmocka_unit_test(test_softmax_family), cmocka_unit_test(test_fd_check_catches_errors),
        cmocka_unit_test(test_exp_tanh_simd),  cmocka_unit_test(test_interchange),
    };
    return cmocka_run_group_tests_name("kernels", tests, NULL, NULL);
}
