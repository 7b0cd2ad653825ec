// rope.c: rotary position embeddings (Su et al. 2021, RoFormer) on the query and key heads
// of a fused QKV tensor, in place. Pair i of a head, with frequency inv_freq[i], is turned by
// the angle t inv_freq[i] at position t:
//   interleaved = 1: pairs (2i, 2i+1)       (llama2.c, Meta's checkpoints)
//   interleaved = 0: pairs (i, i + hs/2)    (Hugging Face's rotate_half; their q/k rows are
//                                            stored permuted to match)
// The angle is formed in float and turned by cosf/sinf, as llama2.c's run.c and Hugging
// Face's LlamaRotaryEmbedding in float32 do. inv_freq (rope_theta, llama3 scaling) is the
// caller's (gpt2.c: rope_inv_freq). The backward turns the gradient back by -angle (a
// rotation's inverse is its transpose); the values are not needed.
#include "kernels.h"
#include "kutil.h"

#include <math.h>
#include <stddef.h>

// Rotates the pair (x[i0], x[i1]) by the angle whose cosine and sine are (c, s).
static inline void rot(float *x, int i0, int i1, float c, float s) {
    float a = x[i0], b = x[i1];
    x[i0] = a * c - b * s;
    x[i1] = a * s + b * c;
}

// qkv (B,T,(NH+2NKV)hs), inv_freq (hs/2); sign +1 forward, -1 the inverse rotation
static void rope_apply_ref(float *qkv, const float *inv_freq, int B, int T, int NH, int NKV, int hs,
                           int interleaved, float sign) {
    int W = (NH + 2 * NKV) * hs, half = hs / 2;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH + NKV; h++) {  // the NH query heads, then the NKV key heads
                float *x = qkv + ((size_t)b * T + t) * W + (size_t)h * hs;
                for (int i = 0; i < half; i++) {
                    float ang = (float)t * inv_freq[i];
                    int i0 = interleaved ? 2 * i : i, i1 = interleaved ? 2 * i + 1 : i + half;
                    rot(x, i0, i1, cosf(ang), sign * sinf(ang));
                }
            }
}

void rope_forward_ref(float *qkv, const float *inv_freq, int B, int T, int NH, int NKV, int hs,
                      int interleaved) {
    rope_apply_ref(qkv, inv_freq, B, T, NH, NKV, hs, interleaved, 1.0f);
}
void rope_backward_ref(float *dqkv, const float *inv_freq, int B, int T, int NH, int NKV, int hs,
                       int interleaved) {
    rope_apply_ref(dqkv, inv_freq, B, T, NH, NKV, hs, interleaved, -1.0f);
}

// One (cos, sin) per pair and row, shared by every head of the row. hs/2 <= ROPE_MAXHALF
// (the config check bounds hs).
static void rope_apply(float *qkv, const float *inv_freq, int B, int T, int NH, int NKV, int hs,
                       int interleaved, float sign) {
    int W = (NH + 2 * NKV) * hs, half = hs / 2;
#pragma omp parallel for schedule(static)
    for (int bt = 0; bt < B * T; bt++) {
        float cs[ROPE_MAXHALF], sn[ROPE_MAXHALF];
        int t = bt % T;
        for (int i = 0; i < half; i++) {
            float ang = (float)t * inv_freq[i];
            cs[i] = cosf(ang);
            sn[i] = sign * sinf(ang);
        }
        float *row = qkv + (size_t)bt * W;
        for (int h = 0; h < NH + NKV; h++) {
            float *x = row + (size_t)h * hs;
            if (interleaved) {
                for (int i = 0; i < half; i++) rot(x, 2 * i, 2 * i + 1, cs[i], sn[i]);
            } else {
                float *x1 = x + half;
#pragma omp simd
                for (int i = 0; i < half; i++) {
                    float a = x[i], b = x1[i];
                    x[i] = a * cs[i] - b * sn[i];
                    x1[i] = a * sn[i] + b * cs[i];
                }
            }
        }
    }
}

void rope_forward(float *qkv, const float *inv_freq, int B, int T, int NH, int NKV, int hs,
                  int interleaved) {
    rope_apply(qkv, inv_freq, B, T, NH, NKV, hs, interleaved, 1.0f);
}
void rope_backward(float *dqkv, const float *inv_freq, int B, int T, int NH, int NKV, int hs,
                   int interleaved) {
    rope_apply(dqkv, inv_freq, B, T, NH, NKV, hs, interleaved, -1.0f);
}
