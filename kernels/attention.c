// attention.c: causal multi-head self-attention on a fused QKV tensor, softmax over
// t2 <= t with scale 1/sqrt(hs). The probabilities are kept (att) for the backward.
// The fast version parallelises over (b, h), which owns all of its q, k, v slices, so
// the backward's scatter into dk and dv is race-free. Dot products use dot16 (kutil.h)
// and the probability-weighted sum of values takes four keys per pass; see there why.

#include "kernels.h"
#include "kutil.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

// qkv (B,T,3C) -> out (B,T,C), att (B,NH,T,T)
void attention_forward_ref(float *out, float *att, const float *qkv, int B, int T, int C, int NH) {
    int C3 = 3 * C, hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++) {
                const float *q = qkv + ((size_t)b * T + t) * C3 + h * hs;
                float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float maxv = -INFINITY;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *k = qkv + ((size_t)b * T + t2) * C3 + C + h * hs;
                    float s = 0.0f;
                    for (int i = 0; i < hs; i++) s += q[i] * k[i];
                    s *= scale;
                    a[t2] = s;
                    if (s > maxv) maxv = s;
                }
                float sum = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    a[t2] = expf(a[t2] - maxv);
                    sum += a[t2];
                }
                for (int t2 = 0; t2 < T; t2++) a[t2] = t2 <= t ? a[t2] / sum : 0.0f;
                float *o = out + ((size_t)b * T + t) * C + h * hs;
                for (int i = 0; i < hs; i++) o[i] = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = qkv + ((size_t)b * T + t2) * C3 + 2 * C + h * hs;
                    for (int i = 0; i < hs; i++) o[i] += a[t2] * v[i];
                }
            }
}

void attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH) {
    int C3 = 3 * C, hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *base = qkv + (size_t)b * T * C3;
            for (int t = 0; t < T; t++) {
                const float *q = base + (size_t)t * C3 + h * hs;
                float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float maxv = -INFINITY;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *k = base + (size_t)t2 * C3 + C + h * hs;
                    float s = dot16(q, k, hs) * scale;
                    a[t2] = s;
                    maxv = s > maxv ? s : maxv;
                }
                float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                for (int t2 = 0; t2 <= t; t2++) {
                    a[t2] = exp_simd(a[t2] - maxv);
                    sum += a[t2];
                }
                float inv = 1.0f / sum;
                for (int t2 = 0; t2 <= t; t2++) a[t2] *= inv;
                if (t + 1 < T) memset(a + t + 1, 0, sizeof(float) * (size_t)(T - t - 1));
                float *o = out + ((size_t)b * T + t) * C + h * hs;
                memset(o, 0, sizeof(float) * (size_t)hs);
                // four keys per pass over o: a quarter of the load/store round trips on o,
                // which otherwise chain every iteration through memory
                const float *v0 = base + 2 * C + h * hs;
                int t2 = 0;
                for (; t2 + 4 <= t + 1; t2 += 4) {
                    const float *va = v0 + (size_t)t2 * C3, *vb = va + C3, *vc = vb + C3,
                                *vd = vc + C3;
                    float wa = a[t2], wb = a[t2 + 1], wc = a[t2 + 2], wd = a[t2 + 3];
#pragma omp simd
                    for (int i = 0; i < hs; i++)
                        o[i] += (wa * va[i] + wb * vb[i]) + (wc * vc[i] + wd * vd[i]);
                }
                for (; t2 <= t; t2++) {
                    const float *v = v0 + (size_t)t2 * C3;
                    float w = a[t2];
#pragma omp simd
                    for (int i = 0; i < hs; i++) o[i] += w * v[i];
                }
            }
        }
}

// dout (B,T,C) -> dqkv (B,T,3C) +=, using datt (B,NH,T,T) as scratch
void attention_backward_ref(float *dqkv, float *datt, const float *dout, const float *qkv,
                            const float *att, int B, int T, int C, int NH) {
    int C3 = 3 * C, hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++) {
                const float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float *da = datt + (((size_t)b * NH + h) * T + t) * T;
                const float *d = dout + ((size_t)b * T + t) * C + h * hs;
                const float *q = qkv + ((size_t)b * T + t) * C3 + h * hs;
                float *dq = dqkv + ((size_t)b * T + t) * C3 + h * hs;
                // through out = sum_t2 a[t2] v[t2]
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = qkv + ((size_t)b * T + t2) * C3 + 2 * C + h * hs;
                    float *dv = dqkv + ((size_t)b * T + t2) * C3 + 2 * C + h * hs;
                    float s = 0.0f;
                    for (int i = 0; i < hs; i++) {
                        s += d[i] * v[i];
                        dv[i] += a[t2] * d[i];
                    }
                    da[t2] = s;
                }
                // through the softmax: dpre = a * (da - sum_j a_j da_j)
                float dot = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) dot += a[t2] * da[t2];
                for (int t2 = 0; t2 <= t; t2++) {
                    float dpre = a[t2] * (da[t2] - dot) * scale;
                    const float *k = qkv + ((size_t)b * T + t2) * C3 + C + h * hs;
                    float *dk = dqkv + ((size_t)b * T + t2) * C3 + C + h * hs;
                    for (int i = 0; i < hs; i++) {
                        dq[i] += dpre * k[i];
                        dk[i] += dpre * q[i];
                    }
                }
            }
}

void attention_backward(float *dqkv, float *datt, const float *dout, const float *qkv,
                        const float *att, int B, int T, int C, int NH) {
    int C3 = 3 * C, hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *base = qkv + (size_t)b * T * C3;
            float *dbase = dqkv + (size_t)b * T * C3;
            for (int t = 0; t < T; t++) {
                const float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float *da = datt + (((size_t)b * NH + h) * T + t) * T;
                const float *d = dout + ((size_t)b * T + t) * C + h * hs;
                const float *q = base + (size_t)t * C3 + h * hs;
                float *dq = dbase + (size_t)t * C3 + h * hs;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = base + (size_t)t2 * C3 + 2 * C + h * hs;
                    float *dv = dbase + (size_t)t2 * C3 + 2 * C + h * hs;
                    float s = dot16(d, v, hs), w = a[t2];
#pragma omp simd
                    for (int i = 0; i < hs; i++) dv[i] += w * d[i];
                    da[t2] = s;
                }
                float dot = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) dot += a[t2] * da[t2];
                for (int t2 = 0; t2 <= t; t2++) {
                    float dpre = a[t2] * (da[t2] - dot) * scale;
                    const float *k = base + (size_t)t2 * C3 + C + h * hs;
                    float *dk = dbase + (size_t)t2 * C3 + C + h * hs;
#pragma omp simd
                    for (int i = 0; i < hs; i++) {
                        dq[i] += dpre * k[i];
                        dk[i] += dpre * q[i];
                    }
                }
            }
        }
}
