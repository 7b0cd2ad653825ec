// gelu.c: GELU with the tanh approximation GPT-2 was trained with ("gelu_new"):
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
#include "kernels.h"
#include "kutil.h"

#include <math.h>
#include <stddef.h>

#define GELU_SCALE 0.7978845608028654f  // sqrt(2/pi)

// The formula and its derivative, once, over a tanh: libm's for the reference kernels,
// tanh_simd (kutil.h) for the fast ones, so their loops vectorise.
#define GELU_PAIR(SUFFIX, TANH)                                                                 \
    static inline float gelu1##SUFFIX(float x) {                                               \
        float u = GELU_SCALE * (x + 0.044715f * x * x * x);                                    \
        return 0.5f * x * (1.0f + TANH(u));                                                    \
    }                                                                                          \
    static inline float gelu_grad1##SUFFIX(float x) {                                          \
        float u = GELU_SCALE * (x + 0.044715f * x * x * x), th = TANH(u);                      \
        return 0.5f * (1.0f + th) +                                                            \
               0.5f * x * (1.0f - th * th) * GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);   \
    }
GELU_PAIR(, tanhf)
GELU_PAIR(_simd, tanh_simd)

// inp (N) -> out (N)
void gelu_forward_ref(float *out, const float *inp, size_t N) {
    for (size_t i = 0; i < N; i++) out[i] = gelu1(inp[i]);
}

void gelu_forward(float *out, const float *inp, size_t N) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < N; i++) out[i] = gelu1_simd(inp[i]);
}

// dout (N) -> dinp (N) +=
void gelu_backward_ref(float *dinp, const float *inp, const float *dout, size_t N) {
    for (size_t i = 0; i < N; i++) dinp[i] += gelu_grad1(inp[i]) * dout[i];
}

void gelu_backward(float *dinp, const float *inp, const float *dout, size_t N) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < N; i++) dinp[i] += gelu_grad1_simd(inp[i]) * dout[i];
}

// dout (N) -> dinp (N) = gelu'(inp) dout, written, not added, and may be dout itself: the
// pruner's data-gradient chain needs no cleared buffer and no second 4C-wide tensor
void gelu_backward_inplace_ref(float *dinp, const float *inp, const float *dout, size_t N) {
    for (size_t i = 0; i < N; i++) dinp[i] = gelu_grad1(inp[i]) * dout[i];
}

void gelu_backward_inplace(float *dinp, const float *inp, const float *dout, size_t N) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < N; i++) dinp[i] = gelu_grad1_simd(inp[i]) * dout[i];
}

// inp (N,OC) += bias (OC); out (N,OC) = gelu(inp)
void bias_gelu_forward_ref(float *out, float *inp, const float *bias, int N, int OC) {
    for (int n = 0; n < N; n++)
        for (int j = 0; j < OC; j++) {
            size_t i = (size_t)n * OC + j;
            inp[i] += bias[j];
            out[i] = gelu1(inp[i]);
        }
}

void bias_gelu_forward(float *out, float *inp, const float *bias, int N, int OC) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *x = inp + (size_t)n * OC, *o = out + (size_t)n * OC;
#pragma omp simd
        for (int j = 0; j < OC; j++) {
            x[j] += bias[j];
            o[j] = gelu1_simd(x[j]);
        }
    }
}
