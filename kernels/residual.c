// residual.c: the residual-stream add and its backward.
#include "kernels.h"

#include <stddef.h>

// inp1 (N), inp2 (N) -> out (N)
void residual_forward_ref(float *out, const float *inp1, const float *inp2, size_t N) {
    for (size_t i = 0; i < N; i++) out[i] = inp1[i] + inp2[i];
}

void residual_forward(float *out, const float *inp1, const float *inp2, size_t N) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < N; i++) out[i] = inp1[i] + inp2[i];
}

// dout (N) -> dinp1 (N) +=, dinp2 (N) +=
void residual_backward_ref(float *dinp1, float *dinp2, const float *dout, size_t N) {
    for (size_t i = 0; i < N; i++) {
        dinp1[i] += dout[i];
        dinp2[i] += dout[i];
    }
}

void residual_backward(float *dinp1, float *dinp2, const float *dout, size_t N) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < N; i++) {
        dinp1[i] += dout[i];
        dinp2[i] += dout[i];
    }
}
