// kutil.h: small helpers shared by the kernels (not part of the public API).
#ifndef PRUNE_KUTIL_H
#define PRUNE_KUTIL_H

#include <omp.h>
#include <stdint.h>

// Splits [0, n) into one contiguous range per OpenMP thread. Used where several rows
// add into the same weight-gradient entries: each thread owns a slice of columns, so
// the sums are race-free and, with a fixed thread count, deterministic.
static inline void omp_range(int n, int *lo, int *hi) {
    int nt = omp_get_num_threads(), id = omp_get_thread_num();
    int chunk = (n + nt - 1) / nt;
    *lo = id * chunk < n ? id * chunk : n;
    *hi = *lo + chunk < n ? *lo + chunk : n;
}

// Dot product with 16 independent partial sums and a pairwise tree at the end. GCC
// lowers `omp simd reduction` into a stack array summed lane by lane (16 dependent
// scalar adds per call), which dominated the attention scores; separate lanes vectorise
// into one FMA per 16 elements and need no such epilogue.
static inline float dot16(const float *a, const float *b, int n) {
    float p[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) p[j] += a[i + j] * b[i + j];
    for (int j = 0; i < n; i++, j++) p[j] += a[i] * b[i];
    for (int w = 8; w >= 1; w /= 2)
        for (int j = 0; j < w; j++) p[j] += p[j + w];
    return p[0];
}

// exp(x) built from arithmetic only, so `#pragma omp simd` loops vectorise it without
// -ffast-math (glibc's expf and tanhf are scalar calls: GELU over B*T*4C elements spent
// 9 ms a layer in tanhf on GPT-2 small). Cody-Waite reduction x = n ln2 + r with
// |r| <= ln2/2, then Cephes' degree-6 polynomial: max relative error ~2 ulp on
// [-87, 88]; inputs are clamped there (exp(-87) ~ 1.6e-38, still a normal float).
static inline float exp_simd(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    // round x*log2(e) to the nearest integer: adding 1.5*2^23 pushes the fraction out of
    // the mantissa (exact in IEEE arithmetic, no rint call needed)
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f - n * -2.12194440e-4f;  // ln2 split hi + lo
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    // a NaN input leaves n NaN: the exponent is built from a clamped copy (converting NaN to
    // an int is undefined) and the NaN still reaches the result through p
    float nc = n == n ? n : 0.0f;
    union { uint32_t i; float f; } scale = {.i = (uint32_t)((int32_t)nc + 127) << 23};
    return p * scale.f;
}

// tanh(u) = 1 - 2 / (exp(2u) + 1): absolute error ~1e-7, which is what GELU needs
// (its output is 0.5 x (1 + tanh)); saturates cleanly to +-1.
static inline float tanh_simd(float u) { return 1.0f - 2.0f / (exp_simd(2.0f * u) + 1.0f); }

#endif
