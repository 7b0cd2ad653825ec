// gpt2.h: the model in memory: a config that names the architecture, one parameter
// allocation carved by a named table into the 16 llm.c tensors, its loaders and writer,
// the batched forward/backward, and the one transformer block (block.c) that the forward,
// training and the circuit search all run, the search through taps at the gated points.
// It does not know about masks, tasks or tokenizers.
#ifndef PRUNE_GPT2_H
#define PRUNE_GPT2_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

// The variant of each part that differs between transformer families. Value 0 of each is
// GPT-2's; the Llama family (Llama 2/3, Qwen2, Mistral, llama2.c) sets RMSNorm, RoPE,
// SwiGLU, no biases or QKV biases only, and a tied or separate unembedding. Every width
// below is read from the config, never assumed.
typedef enum { NORM_LAYERNORM = 0, NORM_RMSNORM } NormKind;
// Rotary positions rotate pairs of each query/key head: POS_ROPE_HALVES pairs (i, i + hs/2)
// (Hugging Face's rotate_half), POS_ROPE_INTERLEAVED pairs (2i, 2i+1) (llama2.c, Meta).
typedef enum { POS_LEARNED = 0, POS_ROPE_HALVES, POS_ROPE_INTERLEAVED } PosKind;
// MLP_SWIGLU: down(silu(gate x) * up x); the gate and up rows are fused in fcw (2H, C).
typedef enum { MLP_GELU_TANH = 0, MLP_SWIGLU } MlpKind;
typedef enum { UNEMBED_TIED = 0, UNEMBED_UNTIED } UnembedKind;  // untied: lm_head (Vp, C)
typedef enum { BIAS_ALL = 0, BIAS_NONE, BIAS_QKV } BiasKind;    // GPT-2, Llama, Qwen2
// rope_scaling of Hugging Face configs: none, or Llama 3.1's "llama3" (the only type read)
typedef enum { ROPE_SCALING_NONE = 0, ROPE_SCALING_LLAMA3 } RopeScaling;

typedef struct {
    int maxT;  // context length (positions in wpe)
    int V;     // vocabulary size
    int Vp;    // padded vocabulary (rows of wte; rows V..Vp-1 are zero)
    int L;     // layers
    int NH;    // query heads per layer
    int C;     // channels (residual stream width)
    int hs;    // head size (GPT-2: C / NH)
    int NKV;   // key/value heads (GPT-2: NH; fewer under grouped-query attention)
    int H;     // MLP hidden width (GPT-2: 4C; Hugging Face n_inner / intermediate_size)
    NormKind norm;
    PosKind pos;
    MlpKind mlp;
    UnembedKind unembed;
    BiasKind bias;
    float norm_eps;     // GPT-2: 1e-5 (LayerNorm); Llama: rms_norm_eps
    float rope_theta;   // RoPE base (10000, 500000, 1000000, ...); 0 without RoPE
    RopeScaling rope_scaling;
    float rope_factor, rope_low_freq_factor, rope_high_freq_factor;  // llama3 scaling
    int rope_orig_maxT;  // llama3 scaling: original_max_position_embeddings
    int sliding_window;  // Mistral: attention window; 0 none (prompts past it are refused)
} GPT2Config;

// 1 for a Llama-family config (RMSNorm, RoPE, SwiGLU), 0 for GPT-2's.
static inline int cfg_is_llama(const GPT2Config *c) { return c->norm == NORM_RMSNORM; }
// The family's name for messages and prune info: "gpt2" or "llama".
const char *cfg_family(const GPT2Config *c);
// RoPE's inverse frequencies inv_freq (hs/2): theta^(-2i/hs) in float as llama2.c and Hugging
// Face compute them, then Llama 3.1's rope_scaling "llama3" when set (Hugging Face's
// _compute_llama3_parameters: wavelengths above original/low_freq_factor are divided by
// factor, below original/high_freq_factor kept, smoothly interpolated between).
void rope_inv_freq(float *inv_freq, const GPT2Config *c);

// Fills the fields a GPT-2 file does not state (hs, NKV, H, norm_eps) with GPT-2's values
// where they are 0. Every loader and builder calls it before gpt2_config_check.
void gpt2_config_defaults(GPT2Config *c);
// Derived widths: the heads' concatenated output (NH hs) and the fused QKV ((NH + 2 NKV) hs).
static inline int cfg_attn_width(const GPT2Config *c) { return c->NH * c->hs; }
static inline int cfg_qkv_width(const GPT2Config *c) { return (c->NH + 2 * c->NKV) * c->hs; }

// --- parameters: one named table ------------------------------------------------------
// The tensors in llm.c's order (its file format stores them so), then the separate
// unembedding. Each per-layer tensor holds all L layers back to back. Matrices are
// (out, in): out = in W^T + b. A tensor a variant does not have (biases and wpe in Llama,
// LayerNorm biases under RMSNorm, lm_head when tied) has 0 rows: no floats, NULL in
// LayerWeights. Llama's q/k/v are fused in qkvw as [q (NH hs) | k (NKV hs) | v (NKV hs)] and
// its gate/up in fcw as [gate (H) | up (H)].
typedef enum {
    P_WTE, P_WPE, P_LN1W, P_LN1B, P_QKVW, P_QKVB, P_ATTPROJW, P_ATTPROJB,
    P_LN2W, P_LN2B, P_FCW, P_FCB, P_FCPROJW, P_FCPROJB, P_LNFW, P_LNFB, P_LMHEAD, NUM_PARAM_TENSORS
} ParamId;

typedef enum { PK_EMBEDDING, PK_MATRIX, PK_BIAS, PK_NORM_WEIGHT, PK_NORM_BIAS } ParamKind;
typedef enum { PART_NONE, PART_ATTN, PART_MLP } BlockPart;

typedef struct {
    const char *name;  // llm.c's name (wte, qkvw, ...)
    ParamKind kind;    // what it is: decides initialisation and weight decay
    BlockPart part;    // which block it belongs to (attention-only models zero the MLP)
    int per_layer;     // 1: L copies back to back
    int resid_proj;    // a matrix that writes into the residual stream (GPT-2 scales its init)
    size_t rows, cols; // one copy's shape; cols 0 for a vector
} ParamSpec;

// The table for config c: every user of a tensor's size, name or kind reads it.
void gpt2_param_table(ParamSpec t[NUM_PARAM_TENSORS], const GPT2Config *c);
// Floats of one layer's copy (rows x cols) and of the whole tensor (times L if per layer).
size_t param_layer_floats(const ParamSpec *s);
size_t param_floats(const ParamSpec *s, const GPT2Config *c);
// Weight decay applies to matrices and embeddings, not to biases and norm gains (GPT-2/llm.c).
static inline int param_decays(const ParamSpec *s) { return s->kind == PK_MATRIX || s->kind == PK_EMBEDDING; }

typedef struct {
    float *wte;       // (Vp, C), also the unembedding when tied
    float *wpe;       // (maxT, C); none under RoPE
    float *ln1w;      // (L, C)
    float *ln1b;      // (L, C)
    float *qkvw;      // (L, QKV, C), QKV = (NH + 2 NKV) hs
    float *qkvb;      // (L, QKV)
    float *attprojw;  // (L, C, NH hs)
    float *attprojb;  // (L, C)
    float *ln2w;      // (L, C)
    float *ln2b;      // (L, C)
    float *fcw;       // (L, H, C); SwiGLU: (L, 2H, C), gate rows then up rows
    float *fcb;       // (L, H)
    float *fcprojw;   // (L, C, H)
    float *fcprojb;   // (L, C)
    float *lnfw;      // (C)
    float *lnfb;      // (C)
    float *lm_head;   // (Vp, C) when untied; none when tied
} ParameterTensors;
// The llm.c name of tensor id (the same for every config).
const char *gpt2_param_name(ParamId id);
// The field of tensor id (in ParamId order).
float **param_field(ParameterTensors *p, ParamId id);


typedef enum {
    FORMAT_NONE = 0,
    FORMAT_RANDOM,       // built in memory (tests, benchmarks)
    FORMAT_LLMC_FP32,    // llm.c version 3, memory-mapped
    FORMAT_LLMC_BF16,    // llm.c version 5, converted to fp32 on load
    FORMAT_SAFETENSORS,  // Hugging Face, converted and transposed on load
    FORMAT_LLAMA2C,      // llama2.c (Karpathy) fp32 checkpoint, version 0 or 1, copied
} ModelFormat;

typedef struct {
    GPT2Config config;
    ParameterTensors params;
    size_t param_sizes[NUM_PARAM_TENSORS];
    size_t num_parameters;
    float *params_memory;  // into map (fp32 llm.c) or owned
    void *map;             // mmap of the whole checkpoint, or NULL
    size_t map_len;
    float *owned;          // malloc'd parameters, or NULL
    ModelFormat format;
    char source[4096];     // the path it came from
    char dtype[16];        // storage dtype of the source ("F32", "BF16", "F16", mixed)
    char arch[48];         // the source's architecture name (LlamaForCausalLM, llama2.c v1, ...)
} GPT2;

const char *gpt2_format_name(ModelFormat f);

// Validates a completed config (positive dims; GPT-2: NH hs == C, NKV == NH, its variants;
// Llama: NKV divides NH, hs even, RoPE settings; Vp >= V); src names the file for errors.
int gpt2_config_check(const GPT2Config *c, const char *src, PruneErr *err);
void gpt2_param_sizes(size_t sizes[NUM_PARAM_TENSORS], const GPT2Config *c);
size_t gpt2_num_parameters(const GPT2Config *c);
// Points each tensor of p into memory, in table order.
void gpt2_point_params(ParameterTensors *p, float *memory, const size_t sizes[NUM_PARAM_TENSORS]);

// A model with random weights (normal, std for matrices and embeddings; LayerNorm
// weights 1 + std*noise). Deterministic in seed.
int gpt2_build_random(GPT2 *m, const GPT2Config *c, uint64_t seed, float std, PruneErr *err);
// Loads an llm.c .bin (v3 fp32 mapped, v5 bf16 converted), a Hugging Face folder, a
// model.safetensors (config.json beside it) or a model.safetensors.index.json.
// writable = 1 maps fp32 weights copy-on-write so training can update them.
int gpt2_load(GPT2 *m, const char *path, int writable, PruneErr *err);
int gpt2_load_llmc(GPT2 *m, const char *path, int writable, PruneErr *err);
int gpt2_load_hf(GPT2 *m, const char *path, PruneErr *err);
// llama2.c checkpoints (github.com/karpathy/llama2.c): the legacy version-0 file (7 int32
// header dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (negative: a separate
// classifier), seq_len; then the weights in run.c's order) and export.py's version-1 fp32
// file (magic "ak42", version 1, the 7 ints, shared-classifier byte, 256-byte header).
// Version 2 (int8) is refused. Interleaved RoPE, theta 10000, RMSNorm eps 1e-5.
int gpt2_load_llama2c(GPT2 *m, const char *path, PruneErr *err);
// Writes a llama2.c version-1 fp32 checkpoint atomically (what prune train --arch llama
// saves); a config llama2.c cannot hold (biases, rotate-half RoPE, ...) is an error.
int gpt2_write_llama2c(const GPT2 *m, const char *path, PruneErr *err);
// 1 when the file at path starts like a llama2.c checkpoint (magic "ak42", or a legacy
// header with plausible dims and a size that matches exactly).
int llama2c_sniff(const char *path);
// Pure parser of a llama2.c header (the first up to 256 bytes, n of them read) for a file
// of file_size bytes: fills c, *version (0 or 1), *shared (tied classifier), *offset (first
// weight's byte). Checks the file size exactly.
int llama2c_parse_header(const unsigned char *hdr, size_t n, size_t file_size, const char *path,
                         GPT2Config *c, int *version, int *shared, size_t *offset, PruneErr *err);
// Writes an llm.c version-3 (fp32) checkpoint atomically (temporary file, then rename).
int gpt2_write_llmc(const GPT2 *m, const char *path, PruneErr *err);
void gpt2_free(GPT2 *m);
// 1 when every MLP weight and bias is exactly 0 (an attention-only model, e.g. trained with
// prune train --attn-only): its MLPs add nothing.
int gpt2_mlp_is_zero(const GPT2 *m);

// Pure parser of the 256-int32 llm.c header; file_size is checked exactly.
#define LLMC_MAGIC 20240326
#define LLMC_HEADER_INTS 256
int llmc_parse_header(const int32_t hdr[LLMC_HEADER_INTS], size_t file_size, const char *path,
                      GPT2Config *c, int *version, PruneErr *err);

// --- forward / backward ----------------------------------------------------------

// Everything a block computes from its input residual; kept for all L layers when
// training, or for one layer when the backward recomputes (see gpt2_workspace_build).
// Widths: A = NH hs (heads), QKV = (NH + 2 NKV) hs, H the MLP width.
typedef struct {
    float *ln1, *ln1_mean, *ln1_rstd;  // (B,T,C), (B,T), (B,T); RMSNorm leaves mean unused
    float *qkv;                        // (B,T,QKV), q and k after RoPE
    float *att;                        // (B,NH,T,T) attention probabilities
    float *atty;                       // (B,T,A) heads' outputs, before the projection
    float *attproj;                    // (B,T,C) attention block output
    float *resid2;                     // (B,T,C) residual after attention
    float *ln2, *ln2_mean, *ln2_rstd;  // (B,T,C), (B,T), (B,T)
    float *fch;                        // (B,T,H) MLP pre-activation; SwiGLU (B,T,2H) [gate | up]
    float *fch_gelu;                   // (B,T,H) neurons, after the activation
    float *fcproj;                     // (B,T,C) MLP block output
} LayerActs;

// The data gradients block_backward needs for one layer (reused layer by layer).
typedef struct {
    float *dout;     // (B,T,C) gradient of the MLP output after its tap (taps only)
    float *dhidden;  // (B,T,H) neurons' gradient, then the pre-activation's, in place
    float *dln;      // (B,T,C) gradient of a norm's output (the MLP's, then the attention's)
    float *dheads;   // (B,T,A) heads' gradient
    float *dqkv;     // (B,T,QKV)
    float *datt;     // (B,NH,T,T)
    float *dfch;     // (B,T,2H) SwiGLU's [gate | up] gradient; none for GELU
} BlockGrads;

// Floats one LayerActs / BlockGrads needs for (B,T), and carving them from p (returns the end).
size_t layer_acts_floats(const GPT2Config *c, int B, int T);
float *layer_acts_carve(LayerActs *a, float *p, const GPT2Config *c, int B, int T);
size_t block_grads_floats(const GPT2Config *c, int B, int T);
float *block_grads_carve(BlockGrads *d, float *p, const GPT2Config *c, int B, int T);
// With a carved for 2B examples, points b's fields at the rows after a's first B examples
// of shape (B,T): each field of the pair is then one (2B,T) tensor, so one GEMM call can
// serve both halves (the pruner's reference and clean streams).
void layer_acts_second_half(LayerActs *b, const LayerActs *a, const GPT2Config *c, int B, int T);

typedef struct {
    GPT2Config config;
    int maxB, maxT, maxP;  // capacity, fixed at build time
    int B, T, P;           // shape of the last forward
    int recompute;         // 1: keep one LayerActs and recompute each layer in backward
    float *memory;         // the one allocation behind every float buffer below
    size_t nfloats;
    float *resid;          // (L+1, B, T, C): resid[0] embedding, resid[l+1] output of layer l
    LayerActs *acts;       // L of them, or 1 with recompute
    BlockGrads dacts;      // gradients of one layer's internals, reused layer by layer
    float *dresid;         // (B,T,C) gradient flowing down the residual stream
    float *lnf_in, *lnf, *lnf_mean, *lnf_rstd;  // (P,C), (P,C), (P), (P)
    float *logits;         // (P,Vp)
    float *dlnf_in, *dlnf;  // (P,C)
    int *tokens;           // (B,T) the ids used (padding replaced by 0)
    int *pos;              // (P) flat positions b*T + t
} GPT2Workspace;

// Sizes every buffer once for batches up to (maxB, maxT) and maxP logit rows.
int gpt2_workspace_build(GPT2Workspace *ws, const GPT2Config *c, int maxB, int maxT, int maxP,
                         int recompute, PruneErr *err);
size_t gpt2_workspace_bytes(const GPT2Config *c, int maxB, int maxT, int maxP, int recompute);
void gpt2_workspace_free(GPT2Workspace *ws);

// Checks the batch against the model and the workspace and writes the embedding into
// resid[0]. tokens (B,T) right-padded: example b has lengths[b] real tokens; ids at
// t >= lengths[b] are ignored. Causal attention means padding never reaches a real
// position, so an example's outputs equal those of running it alone.
int gpt2_embed(const GPT2 *m, GPT2Workspace *ws, const int *tokens, const int *lengths, int B,
               int T, PruneErr *err);
// Runs the blocks from resid[0] and computes logits (P,Vp) at pos[p] = b*T + t only;
// each t must be < lengths[b] (checked by gpt2_forward).
int gpt2_forward_layers(const GPT2 *m, GPT2Workspace *ws, const int *pos, int P, PruneErr *err);
// gpt2_embed + position checks + gpt2_forward_layers.
int gpt2_forward(const GPT2 *m, GPT2Workspace *ws, const int *tokens, const int *lengths, int B,
                 int T, const int *pos, int P, PruneErr *err);
// dlogits (P,Vp) -> data gradients down to the embedding (left in ws->dresid, B,T,C),
// plus weight gradients added into grads when grads is not NULL.
void gpt2_backward(const GPT2 *m, GPT2Workspace *ws, const float *dlogits,
                   ParameterTensors *grads);

// --- one block (block.c): every caller runs the model through these ------------------

typedef struct {
    const float *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb;
    const float *ln2w, *ln2b, *fcw, *fcb, *fcprojw, *fcprojb;
} LayerWeights;
typedef struct {
    float *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb;
    float *ln2w, *ln2b, *fcw, *fcb, *fcprojw, *fcprojb;
} LayerGrads;
LayerWeights gpt2_layer_weights(const GPT2 *m, int l);
LayerGrads gpt2_layer_grads(const ParameterTensors *g, const GPT2Config *c, int l);

// A tap: the search's hook at one gated point of a block (method.md §4). Over the gated
// rows the value x becomes z x + (1 - z) x_ref, one gate per column. The model knows
// nothing of masks: a tap is plain arrays.
typedef struct {
    const float *z;     // (D) gate per column
    const float *ref;   // reference of gated row i at ref + i ref_stride; NULL: zero
    size_t ref_stride;  // D for a tensor (the corrupted stream), 0 for one row (means)
    float *dz;          // (D) block_backward adds dL/dz here
} Tap;

// The four gated points of a block, and where the gated heads and neurons go (the
// projections read them). Rows before row0 pass ungated: when two streams share the block
// (2B examples, the reference first), row0 = B T and the taps' references point into
// the first half. out buffers (S,T... as the block's rows) may be the raw buffer itself
// (gating in place); otherwise rows before row0 are copied across.
typedef struct {
    int row0;          // first gated row
    Tap heads;         // (A) heads' outputs, before the output projection
    Tap attn;          // (C) attention block output; one gate value for the whole block
    Tap neurons;       // (H) MLP hidden units, after the activation
    Tap mlp;           // (C) MLP block output
    float *heads_out;  // (rows, A) the gated heads
    float *neurons_out;  // (rows, H) the gated neurons
    int keep_mid;      // 1: a->resid2 already holds the residual between attention and MLP
                       // (kept by the caller): out == NULL then recomputes only what the
                       // backward reads, without the attention projection
} BlockTaps;

// inp (B,T,C) -> a (internals), out (B,T,C). out == NULL: recomputation for a backward
// (the block output itself is not formed). taps NULL: the plain model.
void block_forward(float *out, LayerActs *a, const float *inp, const LayerWeights *w,
                   const GPT2Config *c, int B, int T, const BlockTaps *taps);
// dresid (B,T,C): in, d loss / d out; out, d loss / d inp. g NULL: no weight gradients.
// With taps, dL/dz of each gate is added into its tap's dz. a and taps as in the forward
// (taps->heads_out / neurons_out hold the gated values).
void block_backward(float *dresid, BlockGrads *d, LayerGrads *g, const LayerActs *a,
                    const float *inp, const LayerWeights *w, const GPT2Config *c, int B, int T,
                    const BlockTaps *taps);

// The neurons (B,T,H) before any gate, again from the pre-activation a->fch the forward
// kept: for a caller that gated them in place (the search's last layer saves a tensor).
void block_neurons_recompute(float *out, const LayerActs *a, const GPT2Config *c, int B, int T);

// The embedding: tokens (B,T) -> out (B,T,C) (token + learned position).
void embed_forward(float *out, const int *tokens, const GPT2 *m, int B, int T);
// The model's head at P chosen rows: resid (B,T,C), pos (P) -> lnf_in, lnf (P,C), mean,
// rstd (P), logits (P,Vp). Backward: dlogits (P,Vp) -> dresid (B,T,C) += (dlnf, dlnf_in:
// (P,C) scratch), weight gradients into grads when not NULL.
void head_forward(float *logits, float *lnf_in, float *lnf, float *mean, float *rstd,
                  const float *resid, const int *pos, int P, const GPT2 *m);
void head_backward(float *dresid, float *dlnf_in, float *dlnf, ParameterTensors *grads,
                   const float *dlogits, const float *lnf_in, const float *lnf, const float *mean,
                   const float *rstd, const int *pos, int P, const GPT2 *m);

#endif
