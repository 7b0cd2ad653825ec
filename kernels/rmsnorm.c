// rmsnorm.c: RMSNorm over the last dimension (Zhang & Sennrich 2019; Llama, Qwen2, Mistral):
// out = x / sqrt(mean(x^2) + eps) * weight, no mean subtraction and no bias. eps comes from
// the model's config (rms_norm_eps: 1e-5 for Llama 2 and llama2.c, 1e-6 for Qwen2, Llama 3).
#include "kernels.h"
#include "kutil.h"

#include <math.h>
#include <stddef.h>

// inp (N,C), weight (C) -> out (N,C), rstd (N)
void rmsnorm_forward_ref(float *out, float *rstd, const float *inp, const float *weight, int N,
                         int C, float eps) {
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float ss = 0.0f;
        for (int i = 0; i < C; i++) ss += x[i] * x[i];
        float s = 1.0f / sqrtf(ss / C + eps);
        float *o = out + (size_t)n * C;
        for (int i = 0; i < C; i++) o[i] = x[i] * s * weight[i];
        rstd[n] = s;
    }
}

void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N, int C,
                     float eps) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
        for (int i = 0; i < C; i++) ss += x[i] * x[i];
        float s = 1.0f / sqrtf(ss / C + eps);
        float *o = out + (size_t)n * C;
#pragma omp simd
        for (int i = 0; i < C; i++) o[i] = x[i] * s * weight[i];
        rstd[n] = s;
    }
}

// With y_i = w_i d_i: dx_i = s y_i - x_i s^3 / C sum_j y_j x_j, dw_i = sum_n d_i x_i s.
// dout (N,C) -> dinp (N,C) +=, dweight (C) += (may be NULL)
void rmsnorm_backward_ref(float *dinp, float *dweight, const float *dout, const float *inp,
                          const float *weight, const float *rstd, int N, int C) {
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
        float *di = dinp + (size_t)n * C;
        float s = rstd[n], dot = 0.0f;
        for (int i = 0; i < C; i++) dot += weight[i] * d[i] * x[i];
        float k = dot * s * s * s / C;
        for (int i = 0; i < C; i++) {
            di[i] += s * weight[i] * d[i] - x[i] * k;
            if (dweight) dweight[i] += d[i] * x[i] * s;
        }
    }
}

void rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                      const float *weight, const float *rstd, int N, int C) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
        float *di = dinp + (size_t)n * C;
        float s = rstd[n], dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int i = 0; i < C; i++) dot += weight[i] * d[i] * x[i];
        float k = dot * s * s * s / C;
#pragma omp simd
        for (int i = 0; i < C; i++) di[i] += s * weight[i] * d[i] - x[i] * k;
    }
    if (!dweight) return;
    // rows share dweight: each thread owns a slice of channels (race-free, deterministic)
#pragma omp parallel
    {
        int lo, hi;
        omp_range(C, &lo, &hi);
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
            float s = rstd[n];
            for (int i = lo; i < hi; i++) dweight[i] += d[i] * x[i] * s;
        }
    }
}
