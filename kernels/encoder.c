// encoder.c: token + position embedding (wpe NULL: token embedding alone, for models with
// rotary positions). Ids are trusted here: the model checks them
// against V before any kernel runs.
#include "kernels.h"
#include "kutil.h"

#include <stddef.h>
#include <string.h>

// tokens (B,T), wte (Vp,C), wpe (maxT,C) -> out (B,T,C)
void encoder_forward_ref(float *out, const int *tokens, const float *wte, const float *wpe, int B,
                         int T, int C) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *o = out + ((size_t)b * T + t) * C;
            const float *we = wte + (size_t)tokens[b * T + t] * C;
            for (int i = 0; i < C; i++) o[i] = we[i] + (wpe ? wpe[(size_t)t * C + i] : 0.0f);
        }
}

void encoder_forward(float *out, const int *tokens, const float *wte, const float *wpe, int B,
                     int T, int C) {
#pragma omp parallel for schedule(static)
    for (int bt = 0; bt < B * T; bt++) {
        float *o = out + (size_t)bt * C;
        const float *we = wte + (size_t)tokens[bt] * C;
        if (!wpe) {
            memcpy(o, we, sizeof(float) * (size_t)C);
            continue;
        }
        const float *pe = wpe + (size_t)(bt % T) * C;
#pragma omp simd
        for (int i = 0; i < C; i++) o[i] = we[i] + pe[i];
    }
}

// dout (B,T,C) -> dwte (Vp,C) +=, dwpe (maxT,C) += ; either may be NULL
void encoder_backward_ref(float *dwte, float *dwpe, const float *dout, const int *tokens, int B,
                          int T, int C) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *d = dout + ((size_t)b * T + t) * C;
            for (int i = 0; i < C; i++) {
                if (dwte) dwte[(size_t)tokens[b * T + t] * C + i] += d[i];
                if (dwpe) dwpe[(size_t)t * C + i] += d[i];
            }
        }
}

void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *tokens, int B, int T,
                      int C) {
    // A token id can repeat inside the batch, so rows of dwte collide: each thread owns a
    // slice of channels and walks every (b,t).
#pragma omp parallel
    {
        int lo, hi;
        omp_range(C, &lo, &hi);
        for (int bt = 0; bt < B * T; bt++) {
            const float *d = dout + (size_t)bt * C;
            if (dwte) {
                float *w = dwte + (size_t)tokens[bt] * C;
                for (int i = lo; i < hi; i++) w[i] += d[i];
            }
            if (dwpe) {
                float *p = dwpe + (size_t)(bt % T) * C;
                for (int i = lo; i < hi; i++) p[i] += d[i];
            }
        }
    }
}
