// attention.c: causal multi-head self-attention on a fused QKV tensor, softmax over
// t2 <= t with scale 1/sqrt(hs), with grouped-query attention (GQA): NKV key/value heads,
// query head h reads K/V head h / (NH / NKV) (NKV = NH is plain multi-head attention).
// The probabilities are kept (att) for the backward. The fast forward parallelises over
// (b, h); the fast backward over (b, g) for K/V head g, which owns its k, v slices and runs
// its group's query heads in turn, so the scatter into dk and dv is race-free. Dot products use dot16 (kutil.h)
// and the probability-weighted sum of values takes four keys per pass; see there why.

#include "kernels.h"
#include "kutil.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

// Offsets inside a row of qkv (width C3) of query head h's key and value: its K/V head is
// h / G, G = NH / NKV query heads per K/V head.
#define KOFF(h) (A + ((h) / G) * hs)
#define VOFF(h) (A + (NKV + (h) / G) * hs)

// qkv (B,T,(NH+2NKV)hs) -> out (B,T,NH hs), att (B,NH,T,T)
void attention_forward_ref(float *out, float *att, const float *qkv, int B, int T, int NH, int NKV, int hs) {
    int A = NH * hs, C3 = (NH + 2 * NKV) * hs, G = NH / NKV;
    float scale = 1.0f / sqrtf((float)hs);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++) {
                const float *q = qkv + ((size_t)b * T + t) * C3 + h * hs;
                float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float maxv = -INFINITY;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *k = qkv + ((size_t)b * T + t2) * C3 + KOFF(h);
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
                float *o = out + ((size_t)b * T + t) * A + h * hs;
                for (int i = 0; i < hs; i++) o[i] = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = qkv + ((size_t)b * T + t2) * C3 + VOFF(h);
                    for (int i = 0; i < hs; i++) o[i] += a[t2] * v[i];
                }
            }
}

// hs = 64 (every GPT-2 size) and T <= 256: K is transposed once per (b, h) into a tile on
// the stack; scores are computed 4 queries x 16 keys at a time in a fixed-size accumulator
// (four vector registers), so there are no horizontal sums (they dominated the general
// path) and each K^T load serves four queries; the weighted sum of values accumulates in a
// fixed 64-float array the compiler keeps in registers.
#define ATT_HS 64
#define ATT_MAXT 256
static void attention_forward_hs64(float *out, float *att, const float *qkv, int B, int T, int NH,
                                   int NKV) {
    int A = NH * ATT_HS, C3 = (NH + 2 * NKV) * ATT_HS, G = NH / NKV, T16 = (T + 15) & ~15;
    const int hs = ATT_HS;
    const float scale = 0.125f;  // 1/sqrt(64)
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            float kt[ATT_HS * ATT_MAXT];  // K^T of this (b, h): (hs, T16), zero past T
            float sc[4][ATT_MAXT];        // scores of four queries
            const float *base = qkv + (size_t)b * T * C3;
            for (int t2 = 0; t2 < T16; t2++) {
                const float *k = base + (size_t)t2 * C3 + KOFF(h);
                for (int i = 0; i < ATT_HS; i++) kt[i * T16 + t2] = t2 < T ? k[i] : 0.0f;
            }
            for (int t0 = 0; t0 < T; t0 += 4) {
                int nq = T - t0 < 4 ? T - t0 : 4, nk = t0 + nq;
                float qs[4][ATT_HS];
                for (int r = 0; r < 4; r++)
                    for (int i = 0; i < ATT_HS; i++)
                        qs[r][i] = r < nq ? scale * base[(size_t)(t0 + r) * C3 + h * ATT_HS + i] : 0.0f;
                for (int kb = 0; kb < nk; kb += 16) {
                    float acc[4][16] = {{0}};
                    for (int i = 0; i < ATT_HS; i++) {
                        const float *row = kt + i * T16 + kb;
                        for (int r = 0; r < 4; r++) {
                            float qv = qs[r][i];
#pragma omp simd
                            for (int j = 0; j < 16; j++) acc[r][j] += qv * row[j];
                        }
                    }
                    for (int r = 0; r < 4; r++) memcpy(&sc[r][kb], acc[r], sizeof acc[r]);
                }
                for (int r = 0; r < nq; r++) {
                    int t = t0 + r, n = t + 1;
                    float *a = att + (((size_t)b * NH + h) * T + t) * T, *srow = sc[r];
                    float maxv = -INFINITY;
                    for (int t2 = 0; t2 < n; t2++) maxv = srow[t2] > maxv ? srow[t2] : maxv;
                    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                    for (int t2 = 0; t2 < n; t2++) {
                        a[t2] = exp_simd(srow[t2] - maxv);
                        sum += a[t2];
                    }
                    float inv = 1.0f / sum;
#pragma omp simd
                    for (int t2 = 0; t2 < n; t2++) a[t2] *= inv;
                    if (n < T) memset(a + n, 0, sizeof(float) * (size_t)(T - n));
                    float o[ATT_HS] = {0};
                    for (int t2 = 0; t2 < n; t2++) {
                        const float *v = base + (size_t)t2 * C3 + VOFF(h);
                        float w = a[t2];
#pragma omp simd
                        for (int i = 0; i < ATT_HS; i++) o[i] += w * v[i];
                    }
                    memcpy(out + ((size_t)b * T + t) * A + h * ATT_HS, o, sizeof o);
                }
            }
        }
}

void attention_forward(float *out, float *att, const float *qkv, int B, int T, int NH, int NKV, int hs) {
    int A = NH * hs, C3 = (NH + 2 * NKV) * hs, G = NH / NKV;
    if (hs == ATT_HS && T <= ATT_MAXT) {
        attention_forward_hs64(out, att, qkv, B, T, NH, NKV);
        return;
    }
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
                    const float *k = base + (size_t)t2 * C3 + KOFF(h);
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
                float *o = out + ((size_t)b * T + t) * A + h * hs;
                memset(o, 0, sizeof(float) * (size_t)hs);
                // four keys per pass over o: a quarter of the load/store round trips on o,
                // which otherwise chain every iteration through memory
                const float *v0 = base + VOFF(h);
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

// dout (B,T,NH hs) -> dqkv (B,T,(NH+2NKV)hs) +=, using datt (B,NH,T,T) as scratch
void attention_backward_ref(float *dqkv, float *datt, const float *dout, const float *qkv,
                            const float *att, int B, int T, int NH, int NKV, int hs) {
    int A = NH * hs, C3 = (NH + 2 * NKV) * hs, G = NH / NKV;
    float scale = 1.0f / sqrtf((float)hs);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++) {
                const float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float *da = datt + (((size_t)b * NH + h) * T + t) * T;
                const float *d = dout + ((size_t)b * T + t) * A + h * hs;
                const float *q = qkv + ((size_t)b * T + t) * C3 + h * hs;
                float *dq = dqkv + ((size_t)b * T + t) * C3 + h * hs;
                // through out = sum_t2 a[t2] v[t2]
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = qkv + ((size_t)b * T + t2) * C3 + VOFF(h);
                    float *dv = dqkv + ((size_t)b * T + t2) * C3 + VOFF(h);
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
                    const float *k = qkv + ((size_t)b * T + t2) * C3 + KOFF(h);
                    float *dk = dqkv + ((size_t)b * T + t2) * C3 + KOFF(h);
                    for (int i = 0; i < hs; i++) {
                        dq[i] += dpre * k[i];
                        dk[i] += dpre * q[i];
                    }
                }
            }
}

// hs = 64 and T <= 256, as attention_forward_hs64: V is transposed once per (b, h) so the
// gradient of the probabilities, dot(dout_t, v_t2) for every key, vectorises across keys in
// registers; dq accumulates in a fixed 64-float array; dk and dv rows get one axpy each.
static void attention_backward_hs64(float *dqkv, float *datt, const float *dout, const float *qkv,
                                    const float *att, int B, int T, int NH, int NKV) {
    int A = NH * ATT_HS, C3 = (NH + 2 * NKV) * ATT_HS, G = NH / NKV, T16 = (T + 15) & ~15;
    const int hs = ATT_HS;
    const float scale = 0.125f;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int g = 0; g < NKV; g++)
            for (int h = g * G; h < (g + 1) * G; h++) {
            float vt[ATT_HS * ATT_MAXT];
            const float *base = qkv + (size_t)b * T * C3;
            float *dbase = dqkv + (size_t)b * T * C3;
            for (int t2 = 0; t2 < T16; t2++) {
                const float *v = base + (size_t)t2 * C3 + VOFF(h);
                for (int i = 0; i < ATT_HS; i++) vt[i * T16 + t2] = t2 < T ? v[i] : 0.0f;
            }
            for (int t = 0; t < T; t++) {
                const float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float *da = datt + (((size_t)b * NH + h) * T + t) * T;
                const float *d = dout + ((size_t)b * T + t) * A + h * ATT_HS;
                const float *q = base + (size_t)t * C3 + h * ATT_HS;
                int n = t + 1;
                for (int kb = 0; kb < n; kb += 16) {  // da[t2] = dot(d, v_t2)
                    float acc[16] = {0};
                    for (int i = 0; i < ATT_HS; i++) {
                        const float *row = vt + i * T16 + kb;
                        float di = d[i];
#pragma omp simd
                        for (int j = 0; j < 16; j++) acc[j] += di * row[j];
                    }
                    int m = n - kb < 16 ? n - kb : 16;
                    memcpy(da + kb, acc, sizeof(float) * (size_t)m);
                }
                float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
                for (int t2 = 0; t2 < n; t2++) dot += a[t2] * da[t2];
                float dq[ATT_HS] = {0};
                for (int t2 = 0; t2 < n; t2++) {
                    float w = a[t2], dpre = w * (da[t2] - dot) * scale;
                    const float *k = base + (size_t)t2 * C3 + KOFF(h);
                    float *dk = dbase + (size_t)t2 * C3 + KOFF(h);
                    float *dv = dbase + (size_t)t2 * C3 + VOFF(h);
#pragma omp simd
                    for (int i = 0; i < ATT_HS; i++) {
                        dq[i] += dpre * k[i];
                        dk[i] += dpre * q[i];
                        dv[i] += w * d[i];
                    }
                }
                float *dqp = dbase + (size_t)t * C3 + h * ATT_HS;
                for (int i = 0; i < ATT_HS; i++) dqp[i] += dq[i];
            }
        }
}

void attention_backward(float *dqkv, float *datt, const float *dout, const float *qkv,
                        const float *att, int B, int T, int NH, int NKV, int hs) {
    int A = NH * hs, C3 = (NH + 2 * NKV) * hs, G = NH / NKV;
    if (hs == ATT_HS && T <= ATT_MAXT) {
        attention_backward_hs64(dqkv, datt, dout, qkv, att, B, T, NH, NKV);
        return;
    }
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int g = 0; g < NKV; g++)
            for (int h = g * G; h < (g + 1) * G; h++) {
            const float *base = qkv + (size_t)b * T * C3;
            float *dbase = dqkv + (size_t)b * T * C3;
            for (int t = 0; t < T; t++) {
                const float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float *da = datt + (((size_t)b * NH + h) * T + t) * T;
                const float *d = dout + ((size_t)b * T + t) * A + h * hs;
                const float *q = base + (size_t)t * C3 + h * hs;
                float *dq = dbase + (size_t)t * C3 + h * hs;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = base + (size_t)t2 * C3 + VOFF(h);
                    float *dv = dbase + (size_t)t2 * C3 + VOFF(h);
                    float s = dot16(d, v, hs), w = a[t2];
#pragma omp simd
                    for (int i = 0; i < hs; i++) dv[i] += w * d[i];
                    da[t2] = s;
                }
                float dot = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) dot += a[t2] * da[t2];
                for (int t2 = 0; t2 <= t; t2++) {
                    float dpre = a[t2] * (da[t2] - dot) * scale;
                    const float *k = base + (size_t)t2 * C3 + KOFF(h);
                    float *dk = dbase + (size_t)t2 * C3 + KOFF(h);
#pragma omp simd
                    for (int i = 0; i < hs; i++) {
                        dq[i] += dpre * k[i];
                        dk[i] += dpre * q[i];
                    }
                }
            }
        }
}
