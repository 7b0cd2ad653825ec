// matmul.c: out = inp weight^T + bias with weights stored (out, in) as in llm.c.
// The fast path is OpenBLAS cblas_sgemm, called from serial code only (OpenBLAS
// threads itself); the reference is a plain triple loop.
#include "kernels.h"
#include "kutil.h"

#include <cblas.h>
#include <stddef.h>

// inp (N,C), weight (OC,C), bias (OC) or NULL -> out (N,OC)
void matmul_forward_ref(float *out, const float *inp, const float *weight, const float *bias,
                        int N, int C, int OC) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            float acc = bias ? bias[o] : 0.0f;
            for (int i = 0; i < C; i++) acc += inp[(size_t)n * C + i] * weight[(size_t)o * C + i];
            out[(size_t)n * OC + o] = acc;
        }
}

void matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int N,
                    int C, int OC) {
    float beta = 0.0f;
    if (bias) {
        // Seed the output with the bias and let sgemm accumulate (beta = 1): one pass less
        // over the output than adding the bias afterwards.
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++) {
            float *o = out + (size_t)n * OC;
#pragma omp simd
            for (int j = 0; j < OC; j++) o[j] = bias[j];
        }
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, weight, C, beta,
                out, OC);
}

// dout (N,OC) -> dinp (N,C) +=, dweight (OC,C) +=, dbias (OC) += ; any may be NULL
void matmul_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *inp, const float *weight, int N, int C, int OC) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            float d = dout[(size_t)n * OC + o];
            if (dbias) dbias[o] += d;
            for (int i = 0; i < C; i++) {
                if (dinp) dinp[(size_t)n * C + i] += d * weight[(size_t)o * C + i];
                if (dweight) dweight[(size_t)o * C + i] += d * inp[(size_t)n * C + i];
            }
        }
}

void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int N, int C, int OC) {
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, weight, C,
                    1.0f, dinp, C);
    if (dweight)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f,
                    dweight, C);
    if (dbias) {
#pragma omp parallel
        {
            int lo, hi;
            omp_range(OC, &lo, &hi);
            for (int n = 0; n < N; n++) {
                const float *d = dout + (size_t)n * OC;
                for (int o = lo; o < hi; o++) dbias[o] += d[o];
            }
        }
    }
}

void matmul_backward_data_ref(float *dinp, const float *dout, const float *weight, int N, int C, int OC) {
    for (size_t i = 0; i < (size_t)N * C; i++) dinp[i] = 0.0f;
    matmul_backward_ref(dinp, NULL, NULL, dout, NULL, weight, N, C, OC);
}

void matmul_backward_data(float *dinp, const float *dout, const float *weight, int N, int C, int OC) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, weight, C, 0.0f,
                dinp, C);
}
