// logits.c: logits at chosen positions only. The model gathers the P rows it needs,
// applies the final LayerNorm to them, then multiplies by the tied token embedding.
// A pruning step needs one row per example (the answer position), not B*T.
#include "kernels.h"
#include "kutil.h"

#include <cblas.h>
#include <stddef.h>
#include <string.h>

// inp (N,C), pos (P) -> out (P,C)
void gather_forward_ref(float *out, const float *inp, const int *pos, int P, int C) {
    for (int p = 0; p < P; p++)
        for (int i = 0; i < C; i++) out[(size_t)p * C + i] = inp[(size_t)pos[p] * C + i];
}

void gather_forward(float *out, const float *inp, const int *pos, int P, int C) {
#pragma omp parallel for schedule(static)
    for (int p = 0; p < P; p++)
        memcpy(out + (size_t)p * C, inp + (size_t)pos[p] * C, sizeof(float) * (size_t)C);
}

// dout (P,C) -> dinp (N,C) += at rows pos
void gather_backward_ref(float *dinp, const float *dout, const int *pos, int P, int C) {
    for (int p = 0; p < P; p++)
        for (int i = 0; i < C; i++) dinp[(size_t)pos[p] * C + i] += dout[(size_t)p * C + i];
}

void gather_backward(float *dinp, const float *dout, const int *pos, int P, int C) {
    // Two chosen positions may be the same row: split by channel, not by row.
#pragma omp parallel
    {
        int lo, hi;
        omp_range(C, &lo, &hi);
        for (int p = 0; p < P; p++) {
            float *di = dinp + (size_t)pos[p] * C;
            const float *d = dout + (size_t)p * C;
            for (int i = lo; i < hi; i++) di[i] += d[i];
        }
    }
}

// lnf (P,C), wte (Vp,C) -> logits (P,Vp)
void logits_forward_ref(float *logits, const float *lnf, const float *wte, int P, int C, int Vp) {
    matmul_forward_ref(logits, lnf, wte, NULL, P, C, Vp);
}

void logits_forward(float *logits, const float *lnf, const float *wte, int P, int C, int Vp) {
    matmul_forward(logits, lnf, wte, NULL, P, C, Vp);
}

// dlogits (P,Vp) -> dlnf (P,C) +=, dwte (Vp,C) += (may be NULL)
void logits_backward_ref(float *dlnf, float *dwte, const float *dlogits, const float *lnf,
                         const float *wte, int P, int C, int Vp) {
    matmul_backward_ref(dlnf, dwte, NULL, dlogits, lnf, wte, P, C, Vp);
}

void logits_backward(float *dlnf, float *dwte, const float *dlogits, const float *lnf,
                     const float *wte, int P, int C, int Vp) {
    matmul_backward(dlnf, dwte, NULL, dlogits, lnf, wte, P, C, Vp);
}
