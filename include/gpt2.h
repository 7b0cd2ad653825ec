// gpt2.h: the GPT-2 model in memory (config, one parameter allocation carved into the
// 16 llm.c tensors), its loaders and writer, and the batched forward/backward.
// It does not know about masks, tasks or tokenizers.
#ifndef PRUNE_GPT2_H
#define PRUNE_GPT2_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef struct {
    int maxT;  // context length (positions in wpe)
    int V;     // vocabulary size
    int Vp;    // padded vocabulary (rows of wte; rows V..Vp-1 are zero)
    int L;     // layers
    int NH;    // heads per layer
    int C;     // channels
} GPT2Config;

#define NUM_PARAM_TENSORS 16
// In llm.c order. Matrices are (out, in): out = in W^T + b. Each per-layer tensor holds
// all L layers back to back.
typedef struct {
    float *wte;       // (Vp, C), also the tied unembedding
    float *wpe;       // (maxT, C)
    float *ln1w;      // (L, C)
    float *ln1b;      // (L, C)
    float *qkvw;      // (L, 3C, C)
    float *qkvb;      // (L, 3C)
    float *attprojw;  // (L, C, C)
    float *attprojb;  // (L, C)
    float *ln2w;      // (L, C)
    float *ln2b;      // (L, C)
    float *fcw;       // (L, 4C, C)
    float *fcb;       // (L, 4C)
    float *fcprojw;   // (L, C, 4C)
    float *fcprojb;   // (L, C)
    float *lnfw;      // (C)
    float *lnfb;      // (C)
} ParameterTensors;

extern const char *const GPT2_TENSOR_NAMES[NUM_PARAM_TENSORS];

typedef enum {
    FORMAT_NONE = 0,
    FORMAT_RANDOM,       // built in memory (tests, benchmarks)
    FORMAT_LLMC_FP32,    // llm.c version 3, memory-mapped
    FORMAT_LLMC_BF16,    // llm.c version 5, converted to fp32 on load
    FORMAT_SAFETENSORS,  // Hugging Face, converted and transposed on load
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
} GPT2;

const char *gpt2_format_name(ModelFormat f);

// Validates a config (positive dims, C % NH == 0, Vp >= V); src names the file for errors.
int gpt2_config_check(const GPT2Config *c, const char *src, PruneErr *err);
void gpt2_param_sizes(size_t sizes[NUM_PARAM_TENSORS], const GPT2Config *c);
size_t gpt2_num_parameters(const GPT2Config *c);
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
typedef struct {
    float *ln1, *ln1_mean, *ln1_rstd;  // (B,T,C), (B,T), (B,T)
    float *qkv;                        // (B,T,3C)
    float *att;                        // (B,NH,T,T) attention probabilities
    float *atty;                       // (B,T,C) heads' outputs, before the projection
    float *attproj;                    // (B,T,C) attention block output
    float *resid2;                     // (B,T,C) residual after attention
    float *ln2, *ln2_mean, *ln2_rstd;  // (B,T,C), (B,T), (B,T)
    float *fch;                        // (B,T,4C) MLP pre-activation
    float *fch_gelu;                   // (B,T,4C) neurons, after GELU
    float *fcproj;                     // (B,T,C) MLP block output
} LayerActs;

// Floats one LayerActs needs for (B,T), and carving them from p (returns the end).
size_t layer_acts_floats(const GPT2Config *c, int B, int T);
float *layer_acts_carve(LayerActs *a, float *p, const GPT2Config *c, int B, int T);
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
    LayerActs dacts;       // gradients of one layer's internals, reused layer by layer
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

// One block, exposed so callers (the pruner) can compose their own passes.
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
// inp (B,T,C) -> a (internals), out (B,T,C) (out may be NULL: recomputation for a backward)
void block_forward(float *out, LayerActs *a, const float *inp, const LayerWeights *w, int B, int T,
                   int C, int NH);
// dresid (B,T,C): in, d loss / d out; out, d loss / d inp. g may be NULL (no weight grads).
void block_backward(float *dresid, LayerActs *da, LayerGrads *g, const LayerActs *a,
                    const float *inp, const LayerWeights *w, int B, int T, int C, int NH);

#endif
