// kernels.h: the GPT-2 building blocks, each a _forward/_backward pair with a naive
// _ref version kept beside the fast one (tests compare them). Shape letters: B batch,
// T sequence, C channels, OC output channels, NH heads, hs = C/NH head size, V vocab,
// Vp padded vocab, P number of chosen positions.
//
// Conventions (as llm.c): arguments are outputs, then inputs, then sizes. Backward
// kernels ADD into every gradient they write, so the caller zeroes them first. A
// weight-gradient pointer may be NULL: then that gradient is skipped (pruning never
// needs weight gradients; training does). Fast kernels use OpenMP for element-wise and
// reduction loops and OpenBLAS (cblas_sgemm) for GEMMs; no kernel calls OpenBLAS from
// inside an OpenMP region.
#ifndef PRUNE_KERNELS_H
#define PRUNE_KERNELS_H

#include <stddef.h>

#define LN_EPS 1e-5f  // GPT-2's layer_norm_epsilon

// --- embedding -------------------------------------------------------------------
// tokens (B,T) ids, wte (Vp,C), wpe (maxT,C) or NULL (no learned positions)
// -> out (B,T,C) = wte[token] + wpe[t]
void encoder_forward(float *out, const int *tokens, const float *wte, const float *wpe, int B,
                     int T, int C);
void encoder_forward_ref(float *out, const int *tokens, const float *wte, const float *wpe, int B,
                         int T, int C);
// dout (B,T,C) -> dwte (Vp,C) +=, dwpe (maxT,C) += (the data gradient is dout itself)
void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *tokens, int B, int T,
                      int C);
void encoder_backward_ref(float *dwte, float *dwpe, const float *dout, const int *tokens, int B,
                          int T, int C);

// --- LayerNorm -------------------------------------------------------------------
// inp (N,C), weight (C), bias (C) -> out (N,C), mean (N), rstd (N)
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                       const float *bias, int N, int C);
void layernorm_forward_ref(float *out, float *mean, float *rstd, const float *inp,
                           const float *weight, const float *bias, int N, int C);
// dout (N,C) -> dinp (N,C) +=, dweight (C) +=, dbias (C) += (weight grads may be NULL)
void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const float *mean, const float *rstd,
                        int N, int C);
void layernorm_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, const float *mean,
                            const float *rstd, int N, int C);

// --- matmul (OpenBLAS) -----------------------------------------------------------
// inp (N,C), weight (OC,C), bias (OC) or NULL -> out (N,OC) = inp weight^T + bias
void matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int N,
                    int C, int OC);
void matmul_forward_ref(float *out, const float *inp, const float *weight, const float *bias,
                        int N, int C, int OC);
// dout (N,OC) -> dinp (N,C) += (may be NULL), dweight (OC,C) +=, dbias (OC) +=
void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int N, int C, int OC);
void matmul_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *inp, const float *weight, int N, int C, int OC);
// dout (N,OC) -> dinp (N,C) = dout weight, overwritten: the data gradient alone, for callers
// that would otherwise clear dinp first (saves a pass over it)
void matmul_backward_data(float *dinp, const float *dout, const float *weight, int N, int C, int OC);
void matmul_backward_data_ref(float *dinp, const float *dout, const float *weight, int N, int C, int OC);

// --- RMSNorm (Llama) ---------------------------------------------------------------
// inp (N,C), weight (C) -> out (N,C) = inp / sqrt(mean(inp^2) + eps) * weight, rstd (N)
void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N, int C,
                     float eps);
void rmsnorm_forward_ref(float *out, float *rstd, const float *inp, const float *weight, int N,
                         int C, float eps);
// dout (N,C) -> dinp (N,C) +=, dweight (C) += (may be NULL)
void rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                      const float *weight, const float *rstd, int N, int C);
void rmsnorm_backward_ref(float *dinp, float *dweight, const float *dout, const float *inp,
                          const float *weight, const float *rstd, int N, int C);

// --- causal multi-head self-attention with grouped-query attention ------------------
// qkv (B,T,(NH+2NKV)hs) [Q (NH heads) | K (NKV heads) | V (NKV heads), head h at h*hs inside
// each]; query head h reads K/V head h / (NH/NKV) (NKV divides NH; NKV = NH for GPT-2)
// -> out (B,T,NH hs), att (B,NH,T,T) softmax probabilities (entries t2 > t are 0), scale
// 1/sqrt(hs)
void attention_forward(float *out, float *att, const float *qkv, int B, int T, int NH, int NKV,
                       int hs);
void attention_forward_ref(float *out, float *att, const float *qkv, int B, int T, int NH, int NKV,
                           int hs);
// dout (B,T,NH hs) -> dqkv (B,T,(NH+2NKV)hs) +=; datt (B,NH,T,T) is scratch (overwritten)
void attention_backward(float *dqkv, float *datt, const float *dout, const float *qkv,
                        const float *att, int B, int T, int NH, int NKV, int hs);
void attention_backward_ref(float *dqkv, float *datt, const float *dout, const float *qkv,
                            const float *att, int B, int T, int NH, int NKV, int hs);

// --- rotary position embeddings (RoPE), in place on a fused QKV tensor ---------------
// qkv (B,T,(NH+2NKV)hs): the NH query and NKV key heads of row (b,t) are turned by the
// angles t inv_freq[i] (inv_freq (hs/2)); interleaved 1: pairs (2i, 2i+1) (llama2.c, Meta),
// 0: pairs (i, i+hs/2) (Hugging Face rotate_half). Values untouched. hs even, hs/2 <=
// ROPE_MAXHALF.
#define ROPE_MAXHALF 512
void rope_forward(float *qkv, const float *inv_freq, int B, int T, int NH, int NKV, int hs,
                  int interleaved);
void rope_forward_ref(float *qkv, const float *inv_freq, int B, int T, int NH, int NKV, int hs,
                      int interleaved);
// dqkv (B,T,(NH+2NKV)hs): the gradient w.r.t. the rotated q, k -> w.r.t. the unrotated,
// in place (the inverse rotation)
void rope_backward(float *dqkv, const float *inv_freq, int B, int T, int NH, int NKV, int hs,
                   int interleaved);
void rope_backward_ref(float *dqkv, const float *inv_freq, int B, int T, int NH, int NKV, int hs,
                       int interleaved);

// --- SwiGLU (Llama MLP activation) ------------------------------------------------------
// inp (N,2H) rows [gate | up] -> out (N,H) = silu(gate) * up
void swiglu_forward(float *out, const float *inp, int N, int H);
void swiglu_forward_ref(float *out, const float *inp, int N, int H);
// dout (N,H) -> dinp (N,2H) WRITTEN ([dgate | dup])
void swiglu_backward(float *dinp, const float *inp, const float *dout, int N, int H);
void swiglu_backward_ref(float *dinp, const float *inp, const float *dout, int N, int H);

// --- GELU, tanh approximation ("gelu_new") -----------------------------------------
// inp (N) -> out (N)
void gelu_forward(float *out, const float *inp, size_t N);
void gelu_forward_ref(float *out, const float *inp, size_t N);
// The MLP's bias folded into its GELU: inp (N,OC) without bias, bias (OC) -> inp += bias
// (the pre-activation, kept for the backward), out (N,OC) = gelu(inp). Saves the pass
// that seeds a GEMM output with its bias, on the widest activation of a block.
void bias_gelu_forward(float *out, float *inp, const float *bias, int N, int OC);
void bias_gelu_forward_ref(float *out, float *inp, const float *bias, int N, int OC);
// dout (N) -> dinp (N) +=
void gelu_backward(float *dinp, const float *inp, const float *dout, size_t N);
void gelu_backward_ref(float *dinp, const float *inp, const float *dout, size_t N);
// dout (N) -> dinp (N) = (WRITTEN, may alias dout)
void gelu_backward_inplace(float *dinp, const float *inp, const float *dout, size_t N);
void gelu_backward_inplace_ref(float *dinp, const float *inp, const float *dout, size_t N);

// --- residual add ----------------------------------------------------------------
// inp1 (N), inp2 (N) -> out (N) = inp1 + inp2
void residual_forward(float *out, const float *inp1, const float *inp2, size_t N);
void residual_forward_ref(float *out, const float *inp1, const float *inp2, size_t N);
// dout (N) -> dinp1 (N) +=, dinp2 (N) +=
void residual_backward(float *dinp1, float *dinp2, const float *dout, size_t N);
void residual_backward_ref(float *dinp1, float *dinp2, const float *dout, size_t N);

// --- logits at chosen positions --------------------------------------------------
// The final LayerNorm and the unembedding run only on the P rows whose logits are
// wanted (pos[p] = b*T + t), so a pruning step computes 1 row per example, not T.
// inp (N,C), pos (P) -> out (P,C) = inp[pos]
void gather_forward(float *out, const float *inp, const int *pos, int P, int C);
void gather_forward_ref(float *out, const float *inp, const int *pos, int P, int C);
// dout (P,C) -> dinp (N,C) += at rows pos (rows may repeat)
void gather_backward(float *dinp, const float *dout, const int *pos, int P, int C);
void gather_backward_ref(float *dinp, const float *dout, const int *pos, int P, int C);
// lnf (P,C), wte (Vp,C) -> logits (P,Vp): a matmul with the tied embedding, no bias
void logits_forward(float *logits, const float *lnf, const float *wte, int P, int C, int Vp);
void logits_forward_ref(float *logits, const float *lnf, const float *wte, int P, int C, int Vp);
// dlogits (P,Vp) -> dlnf (P,C) +=, dwte (Vp,C) += (may be NULL)
void logits_backward(float *dlnf, float *dwte, const float *dlogits, const float *lnf,
                     const float *wte, int P, int C, int Vp);
void logits_backward_ref(float *dlnf, float *dwte, const float *dlogits, const float *lnf,
                         const float *wte, int P, int C, int Vp);

// --- softmax, log-softmax, cross-entropy over the first V of Vp logits ---------------
// logits (P,Vp) -> probs (P,V)
void softmax_forward(float *probs, const float *logits, int P, int V, int Vp);
void softmax_forward_ref(float *probs, const float *logits, int P, int V, int Vp);
// dprobs (P,V) -> dlogits (P,Vp) += (columns V..Vp-1 untouched)
void softmax_backward(float *dlogits, const float *dprobs, const float *probs, int P, int V,
                      int Vp);
void softmax_backward_ref(float *dlogits, const float *dprobs, const float *probs, int P, int V,
                          int Vp);
// logits (P,Vp) -> logp (P,V)
void log_softmax_forward(float *logp, const float *logits, int P, int V, int Vp);
void log_softmax_forward_ref(float *logp, const float *logits, int P, int V, int Vp);
// dlogp (P,V) -> dlogits (P,Vp) +=
void log_softmax_backward(float *dlogits, const float *dlogp, const float *logp, int P, int V,
                          int Vp);
void log_softmax_backward_ref(float *dlogits, const float *dlogp, const float *logp, int P, int V,
                              int Vp);
// logp (P,V), targets (P) -> losses (P) = -logp[target]
void crossentropy_forward(float *losses, const float *logp, const int *targets, int P, int V);
void crossentropy_forward_ref(float *losses, const float *logp, const int *targets, int P, int V);
// dlosses (P) -> dlogp (P,V) +=
void crossentropy_backward(float *dlogp, const float *dlosses, const int *targets, int P, int V);
void crossentropy_backward_ref(float *dlogp, const float *dlosses, const int *targets, int P,
                               int V);

// --- interchange: a gated unit, z x_clean + (1 - z) x_ref ----------------------------
// clean (N,D), ref (N,D) with ref_stride = D, or one row (D) with ref_stride = 0, or NULL
// (zero), z (D) -> out (N,D)
void interchange_forward(float *out, const float *clean, const float *ref, size_t ref_stride,
                         const float *z, int N, int D);
void interchange_forward_ref(float *out, const float *clean, const float *ref, size_t ref_stride,
                             const float *z, int N, int D);
// resid (N,D) + the same -> out (N,D): a gated block's output added to the residual
// stream in one pass (backward: interchange_backward; the residual passes through)
void interchange_residual_forward(float *out, const float *resid, const float *clean,
                                  const float *ref, size_t ref_stride, const float *z, int N, int D);
void interchange_residual_forward_ref(float *out, const float *resid, const float *clean,
                                      const float *ref, size_t ref_stride, const float *z, int N, int D);
// dout (N,D) -> dclean (N,D) = z dout (WRITTEN, may alias dout), dz (D) += sum_n
// (clean - ref) dout: the mask-gradient reduction over batch and positions
void interchange_backward(float *dclean, float *dz, const float *dout, const float *clean,
                          const float *ref, size_t ref_stride, const float *z, int N, int D);
void interchange_backward_ref(float *dclean, float *dz, const float *dout, const float *clean,
                              const float *ref, size_t ref_stride, const float *z, int N, int D);

// The gate gradient sum (out - ref) * g for out = inp W^T + b, from u = g W instead of out:
// inp, u (N,IC), bias (OC) or NULL (none), ref (N,OC)/(OC)/NULL, g (N,OC) -> the scalar sum
double interchange_dz_linear(const float *inp, const float *u, const float *bias, const float *ref,
                             size_t ref_stride, const float *g, int N, int IC, int OC);
double interchange_dz_linear_ref(const float *inp, const float *u, const float *bias,
                                 const float *ref, size_t ref_stride, const float *g, int N,
                                 int IC, int OC);

#endif
