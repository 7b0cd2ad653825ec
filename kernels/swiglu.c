// swiglu.c: the SwiGLU activation of Llama-family MLPs (Shazeer 2020): from the fused
// gate/up projection inp (N, 2H), row [g | u], out = silu(g) * u with silu(g) = g sigmoid(g).
// The product is the MLP's hidden unit, the neuron the search gates. Not the projections.
#include "kernels.h"
#include "kutil.h"

#include <math.h>
#include <stddef.h>

// inp (N,2H) -> out (N,H)
void swiglu_forward_ref(float *out, const float *inp, int N, int H) {
    for (int n = 0; n < N; n++) {
        const float *g = inp + (size_t)n * 2 * H, *u = g + H;
        float *o = out + (size_t)n * H;
        for (int i = 0; i < H; i++) o[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

void swiglu_forward(float *out, const float *inp, int N, int H) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *g = inp + (size_t)n * 2 * H, *u = g + H;
        float *o = out + (size_t)n * H;
#pragma omp simd
        for (int i = 0; i < H; i++) o[i] = g[i] / (1.0f + exp_simd(-g[i])) * u[i];
    }
}

// d silu(g) / dg = s (1 + g (1 - s)), s = sigmoid(g).
// dout (N,H) -> dinp (N,2H) (WRITTEN: [dg | du])
void swiglu_backward_ref(float *dinp, const float *inp, const float *dout, int N, int H) {
    for (int n = 0; n < N; n++) {
        const float *g = inp + (size_t)n * 2 * H, *u = g + H, *d = dout + (size_t)n * H;
        float *dg = dinp + (size_t)n * 2 * H, *du = dg + H;
        for (int i = 0; i < H; i++) {
            float s = 1.0f / (1.0f + expf(-g[i]));
            dg[i] = d[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
            du[i] = d[i] * g[i] * s;
        }
    }
}

void swiglu_backward(float *dinp, const float *inp, const float *dout, int N, int H) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *g = inp + (size_t)n * 2 * H, *u = g + H, *d = dout + (size_t)n * H;
        float *dg = dinp + (size_t)n * 2 * H, *du = dg + H;
#pragma omp simd
        for (int i = 0; i < H; i++) {
            float s = 1.0f / (1.0f + exp_simd(-g[i]));
            dg[i] = d[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
            du[i] = d[i] * g[i] * s;
        }
    }
}
