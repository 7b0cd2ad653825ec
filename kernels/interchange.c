// interchange.c: a gated unit becomes x_out = z x_clean + (1 - z) x_ref (method.md §4),
// one gate per column. Written this way (not x_ref + z (x_clean - x_ref)) so that z = 1
// gives x_clean and z = 0 gives x_ref exactly. The reference is a full tensor (the
// corrupted stream), one row broadcast to every row (mean ablation: ref_stride 0), or
// zero (ref NULL). The backward gives the clean stream's gradient and the mask-gradient
// reduction dL/dz_d = sum over rows of (x_clean - x_ref) * dL/dx_out.
#include "kernels.h"
#include "kutil.h"

#include <stddef.h>

static inline const float *ref_row(const float *ref, size_t ref_stride, int n) {
    return ref ? ref + (size_t)n * ref_stride : NULL;
}

// clean (N,D), ref (N,D)/(D)/NULL, z (D) -> out (N,D)
void interchange_forward_ref(float *out, const float *clean, const float *ref, size_t ref_stride,
                             const float *z, int N, int D) {
    for (int n = 0; n < N; n++) {
        const float *c = clean + (size_t)n * D, *r = ref_row(ref, ref_stride, n);
        float *o = out + (size_t)n * D;
        for (int d = 0; d < D; d++) o[d] = z[d] * c[d] + (1.0f - z[d]) * (r ? r[d] : 0.0f);
    }
}

void interchange_forward(float *out, const float *clean, const float *ref, size_t ref_stride,
                         const float *z, int N, int D) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *c = clean + (size_t)n * D, *r = ref_row(ref, ref_stride, n);
        float *o = out + (size_t)n * D;
        if (r) {
#pragma omp simd
            for (int d = 0; d < D; d++) o[d] = z[d] * c[d] + (1.0f - z[d]) * r[d];
        } else {
#pragma omp simd
            for (int d = 0; d < D; d++) o[d] = z[d] * c[d];
        }
    }
}

// A gated block output added to the residual stream in one pass: resid (N,D), clean (N,D),
// ref as above, z (D) -> out (N,D) = resid + z clean + (1 - z) ref. Its backward is
// interchange_backward (the residual passes its gradient through unchanged).
void interchange_residual_forward_ref(float *out, const float *resid, const float *clean,
                                      const float *ref, size_t ref_stride, const float *z, int N, int D) {
    interchange_forward_ref(out, clean, ref, ref_stride, z, N, D);
    for (size_t i = 0; i < (size_t)N * D; i++) out[i] = resid[i] + out[i];
}

void interchange_residual_forward(float *out, const float *resid, const float *clean,
                                  const float *ref, size_t ref_stride, const float *z, int N, int D) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *c = clean + (size_t)n * D, *r = ref_row(ref, ref_stride, n), *x = resid + (size_t)n * D;
        float *o = out + (size_t)n * D;
        if (r) {
#pragma omp simd
            for (int d = 0; d < D; d++) o[d] = x[d] + (z[d] * c[d] + (1.0f - z[d]) * r[d]);
        } else {
#pragma omp simd
            for (int d = 0; d < D; d++) o[d] = x[d] + z[d] * c[d];
        }
    }
}

// dout (N,D) -> dclean (N,D) = z * dout (written, not added: it may be dout itself),
// dz (D) += sum_n (clean - ref) * dout
void interchange_backward_ref(float *dclean, float *dz, const float *dout, const float *clean,
                              const float *ref, size_t ref_stride, const float *z, int N, int D) {
    for (int n = 0; n < N; n++) {
        const float *c = clean + (size_t)n * D, *r = ref_row(ref, ref_stride, n),
                    *g = dout + (size_t)n * D;
        float *dc = dclean + (size_t)n * D;
        for (int d = 0; d < D; d++) {
            dz[d] += (c[d] - (r ? r[d] : 0.0f)) * g[d];
            dc[d] = z[d] * g[d];
        }
    }
}

void interchange_backward(float *dclean, float *dz, const float *dout, const float *clean,
                          const float *ref, size_t ref_stride, const float *z, int N, int D) {
    // Each thread owns a slice of columns and walks all rows: the dz sums need no atomics
    // and, with a fixed thread count, add in a fixed order.
#pragma omp parallel
    {
        int lo, hi;
        omp_range(D, &lo, &hi);
        for (int n = 0; n < N; n++) {
            const float *c = clean + (size_t)n * D, *r = ref_row(ref, ref_stride, n),
                        *g = dout + (size_t)n * D;
            float *dc = dclean + (size_t)n * D;
            if (r) {
#pragma omp simd
                for (int d = lo; d < hi; d++) dz[d] += (c[d] - r[d]) * g[d];
            } else {
#pragma omp simd
                for (int d = lo; d < hi; d++) dz[d] += c[d] * g[d];
            }
#pragma omp simd
            for (int d = lo; d < hi; d++) dc[d] = z[d] * g[d];
        }
    }
}

// The gradient of a gate on the output of a linear map out = inp W^T + b, without that
// output: sum over rows and columns of (out - ref) * g = sum_rows <inp, u> + sum (b - ref) g,
// where u = g W is the data gradient the backward computes anyway. One scalar (the gate is
// one per block). inp, u (N,IC); ref (N,OC), one row (ref_stride 0) or NULL; g (N,OC).
// Per-thread partial sums in double, added in thread order: deterministic.
double interchange_dz_linear(const float *inp, const float *u, const float *bias, const float *ref,
                             size_t ref_stride, const float *g, int N, int IC, int OC) {
    double total = 0;
#pragma omp parallel
    {
        double part = 0;
#pragma omp for schedule(static)
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * IC, *uu = u + (size_t)n * IC, *gg = g + (size_t)n * OC;
            const float *r = ref ? ref + (size_t)n * ref_stride : NULL;
            float s1 = 0, s2 = 0;
#pragma omp simd reduction(+ : s1)
            for (int i = 0; i < IC; i++) s1 += x[i] * uu[i];
            if (r) {
#pragma omp simd reduction(+ : s2)
                for (int j = 0; j < OC; j++) s2 += ((bias ? bias[j] : 0.0f) - r[j]) * gg[j];
            } else {
#pragma omp simd reduction(+ : s2)
                for (int j = 0; j < OC; j++) s2 += (bias ? bias[j] : 0.0f) * gg[j];
            }
            part += (double)s1 + s2;
        }
#pragma omp for ordered schedule(static, 1)
        for (int t = 0; t < omp_get_num_threads(); t++) {
#pragma omp ordered
            total += part;
        }
    }
    return total;
}

double interchange_dz_linear_ref(const float *inp, const float *u, const float *bias,
                                 const float *ref, size_t ref_stride, const float *g, int N,
                                 int IC, int OC) {
    double total = 0;
    for (int n = 0; n < N; n++) {
        for (int i = 0; i < IC; i++) total += (double)inp[(size_t)n * IC + i] * u[(size_t)n * IC + i];
        for (int j = 0; j < OC; j++)
            total += ((bias ? (double)bias[j] : 0.0) - (ref ? ref[(size_t)n * ref_stride + j] : 0.0)) * g[(size_t)n * OC + j];
    }
    return total;
}
