// gpt2.c: parameter layout, workspace, and the batched forward and backward of GPT-2.
// Loading and writing files live in load_llmc.c and load_hf.c; masks live in the pruner.
//
// Memory: the workspace is one allocation sized from (maxB, maxT, maxP) up front; no
// call here allocates. With recompute = 1 only the residual stream entering each layer
// is kept and each block's internals are recomputed right before its backward.
#include "gpt2.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "rng.h"

const char *const GPT2_TENSOR_NAMES[NUM_PARAM_TENSORS] = {
    "wte",  "wpe", "ln1w",    "ln1b",    "qkvw", "qkvb", "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw",    "fcb",     "fcprojw", "fcprojb", "lnfw", "lnfb"};

const char *gpt2_format_name(ModelFormat f) {
    switch (f) {
    case FORMAT_RANDOM: return "random (in memory)";
    case FORMAT_LLMC_FP32: return "llm.c checkpoint v3 (fp32, memory-mapped)";
    case FORMAT_LLMC_BF16: return "llm.c checkpoint v5 (bf16, converted to fp32)";
    case FORMAT_SAFETENSORS: return "Hugging Face safetensors (converted to fp32)";
    default: return "none";
    }
}

int gpt2_config_check(const GPT2Config *c, const char *src, PruneErr *err) {
    struct { const char *name; int v; } dims[] = {{"maxT", c->maxT}, {"V", c->V}, {"Vp", c->Vp},
                                                   {"L", c->L},       {"NH", c->NH}, {"C", c->C}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (dims[i].v <= 0)
            return perr(err, "%s: %s = %d, expected a positive value. Hint: the file is not a "
                             "GPT-2 checkpoint or its header is damaged.", src, dims[i].name,
                        dims[i].v);
    if (c->C % c->NH != 0)
        return perr(err, "%s: C = %d is not a multiple of NH = %d, so heads cannot split the "
                         "channels. Hint: the header is damaged or not GPT-2's.", src, c->C, c->NH);
    if (c->Vp < c->V)
        return perr(err, "%s: padded vocabulary Vp = %d is smaller than V = %d. Hint: Vp is V "
                         "rounded up (llm.c uses a multiple of 128).", src, c->Vp, c->V);
    // Keep every tensor and every (B,T,...) offset comfortably inside size_t and int ranges.
    if (c->C > 65536 || c->L > 4096 || c->maxT > 1048576 || c->Vp > 16777216 || c->NH > c->C)
        return perr(err, "%s: dimensions out of range (maxT %d, Vp %d, L %d, NH %d, C %d). Hint: "
                         "the header is damaged.", src, c->maxT, c->Vp, c->L, c->NH, c->C);
    return 0;
}

void gpt2_param_sizes(size_t s[NUM_PARAM_TENSORS], const GPT2Config *c) {
    size_t Vp = c->Vp, C = c->C, maxT = c->maxT, L = c->L;
    s[0] = Vp * C;
    s[1] = maxT * C;
    s[2] = L * C;
    s[3] = L * C;
    s[4] = L * 3 * C * C;
    s[5] = L * 3 * C;
    s[6] = L * C * C;
    s[7] = L * C;
    s[8] = L * C;
    s[9] = L * C;
    s[10] = L * 4 * C * C;
    s[11] = L * 4 * C;
    s[12] = L * C * 4 * C;
    s[13] = L * C;
    s[14] = C;
    s[15] = C;
}

size_t gpt2_num_parameters(const GPT2Config *c) {
    size_t s[NUM_PARAM_TENSORS], n = 0;
    gpt2_param_sizes(s, c);
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) n += s[i];
    return n;
}

void gpt2_point_params(ParameterTensors *p, float *memory, const size_t s[NUM_PARAM_TENSORS]) {
    float **ptrs[NUM_PARAM_TENSORS] = {&p->wte,  &p->wpe,      &p->ln1w,     &p->ln1b,
                                       &p->qkvw, &p->qkvb,     &p->attprojw, &p->attprojb,
                                       &p->ln2w, &p->ln2b,     &p->fcw,      &p->fcb,
                                       &p->fcprojw, &p->fcprojb, &p->lnfw,   &p->lnfb};
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        *ptrs[i] = memory;
        memory += s[i];
    }
}

int gpt2_build_random(GPT2 *m, const GPT2Config *c, uint64_t seed, float std, PruneErr *err) {
    memset(m, 0, sizeof *m);
    if (gpt2_config_check(c, "random model", err)) return -1;
    m->config = *c;
    gpt2_param_sizes(m->param_sizes, c);
    m->num_parameters = gpt2_num_parameters(c);
    m->owned = palloc(m->num_parameters * sizeof(float), "model parameters", err);
    if (!m->owned) return -1;
    m->params_memory = m->owned;
    gpt2_point_params(&m->params, m->params_memory, m->param_sizes);
    Rng r;
    rng_seed(&r, seed);
    float *p = m->params_memory;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        int is_ln_weight = (i == 2 || i == 8 || i == 14);
        for (size_t j = 0; j < m->param_sizes[i]; j++)
            p[j] = (is_ln_weight ? 1.0f : 0.0f) + std * rng_normal(&r);
        p += m->param_sizes[i];
    }
    // llm.c keeps the padded vocabulary rows at zero; so do we.
    memset(m->params.wte + (size_t)c->V * c->C, 0, sizeof(float) * (size_t)(c->Vp - c->V) * c->C);
    m->format = FORMAT_RANDOM;
    snprintf(m->source, sizeof m->source, "random(seed=%llu)", (unsigned long long)seed);
    snprintf(m->dtype, sizeof m->dtype, "F32");
    return 0;
}

void gpt2_free(GPT2 *m) {
    if (m->map) unmap_file(m->map, m->map_len);
    free(m->owned);
    memset(m, 0, sizeof *m);
}

int gpt2_mlp_is_zero(const GPT2 *m) {
    const float *p = m->params.fcw;  // fcw, fcb, fcprojw, fcprojb are contiguous (tensors 10-13)
    size_t n = m->param_sizes[10] + m->param_sizes[11] + m->param_sizes[12] + m->param_sizes[13];
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0.0f) return 0;
    return 1;
}

// --- workspace -------------------------------------------------------------------

// The float counts of a LayerActs, in field order (shared by sizing and carving).
static void layer_act_sizes(size_t s[14], const GPT2Config *c, size_t B, size_t T) {
    size_t C = c->C, NH = c->NH, BT = B * T;
    size_t v[14] = {BT * C, BT, BT, BT * 3 * C, B * NH * T * T, BT * C, BT * C,
                    BT * C, BT * C, BT, BT, BT * 4 * C, BT * 4 * C, BT * C};
    memcpy(s, v, sizeof v);
}

// The fields of a LayerActs in the order of layer_act_sizes (one list for every user).
static void layer_act_fields(LayerActs *a, float **f[14]) {
    float **v[14] = {&a->ln1, &a->ln1_mean, &a->ln1_rstd, &a->qkv,      &a->att,
                     &a->atty, &a->attproj, &a->resid2,   &a->ln2,      &a->ln2_mean,
                     &a->ln2_rstd, &a->fch, &a->fch_gelu, &a->fcproj};
    memcpy(f, v, sizeof v);
}

float *layer_acts_carve(LayerActs *a, float *p, const GPT2Config *c, int B, int T) {
    size_t s[14];
    float **f[14];
    layer_act_sizes(s, c, (size_t)B, (size_t)T);
    layer_act_fields(a, f);
    for (int i = 0; i < 14; i++) {
        *f[i] = p;
        p += s[i];
    }
    return p;
}

void layer_acts_second_half(LayerActs *b, const LayerActs *a, const GPT2Config *c, int B, int T) {
    size_t s[14];
    float **dst[14];
    layer_act_sizes(s, c, (size_t)B, (size_t)T);
    *b = *a;
    layer_act_fields(b, dst);
    for (int i = 0; i < 14; i++) *dst[i] += s[i];
}

static size_t layer_act_total(const GPT2Config *c, size_t B, size_t T) {
    size_t s[14], n = 0;
    layer_act_sizes(s, c, B, T);
    for (int i = 0; i < 14; i++) n += s[i];
    return n;
}

static size_t workspace_floats(const GPT2Config *c, int maxB, int maxT, int maxP, int recompute) {
    size_t B = maxB, T = maxT, P = maxP, C = c->C, L = c->L;
    size_t nacts = recompute ? 1 : L;
    return (L + 1) * B * T * C                    // resid
           + (nacts + 1) * layer_act_total(c, B, T)  // acts + dacts
           + B * T * C                            // dresid
           + 2 * P * C + 2 * P + P * (size_t)c->Vp  // lnf_in, lnf, mean, rstd, logits
           + 2 * P * C;                           // dlnf_in, dlnf
}

size_t layer_acts_floats(const GPT2Config *c, int B, int T) {
    return layer_act_total(c, (size_t)B, (size_t)T);
}

size_t gpt2_workspace_bytes(const GPT2Config *c, int maxB, int maxT, int maxP, int recompute) {
    int L = recompute ? 1 : c->L;
    return workspace_floats(c, maxB, maxT, maxP, recompute) * sizeof(float) +
           sizeof(LayerActs) * (size_t)L + sizeof(int) * ((size_t)maxB * maxT + maxP);
}

int gpt2_workspace_build(GPT2Workspace *ws, const GPT2Config *c, int maxB, int maxT, int maxP,
                         int recompute, PruneErr *err) {
    memset(ws, 0, sizeof *ws);
    if (maxB <= 0 || maxT <= 0 || maxP <= 0)
        return perr(err, "workspace: batch %d, sequence %d and positions %d must be positive.",
                    maxB, maxT, maxP);
    if (maxT > c->maxT)
        return perr(err, "workspace: sequence length %d exceeds the model's context %d. Hint: "
                         "shorten the prompts.", maxT, c->maxT);
    ws->config = *c;
    ws->maxB = maxB;
    ws->maxT = maxT;
    ws->maxP = maxP;
    ws->recompute = recompute;
    ws->nfloats = workspace_floats(c, maxB, maxT, maxP, recompute);
    ws->memory = pcalloc(ws->nfloats * sizeof(float), "the forward/backward workspace", err);
    int nacts = recompute ? 1 : c->L;
    ws->acts = pcalloc(sizeof(LayerActs) * (size_t)nacts, "layer activations", err);
    ws->tokens = pcalloc(sizeof(int) * (size_t)maxB * maxT, "token ids", err);
    ws->pos = pcalloc(sizeof(int) * (size_t)maxP, "positions", err);
    if (!ws->memory || !ws->acts || !ws->tokens || !ws->pos) {
        gpt2_workspace_free(ws);
        return -1;
    }
    size_t B = maxB, T = maxT, P = maxP, C = c->C;
    float *p = ws->memory;
    ws->resid = p;
    p += ((size_t)c->L + 1) * B * T * C;
    for (int l = 0; l < nacts; l++) p = layer_acts_carve(&ws->acts[l], p, c, maxB, maxT);
    p = layer_acts_carve(&ws->dacts, p, c, maxB, maxT);
    ws->dresid = p;
    p += B * T * C;
    ws->lnf_in = p;
    p += P * C;
    ws->lnf = p;
    p += P * C;
    ws->lnf_mean = p;
    p += P;
    ws->lnf_rstd = p;
    p += P;
    ws->logits = p;
    p += P * (size_t)c->Vp;
    ws->dlnf_in = p;
    p += P * C;
    ws->dlnf = p;
    p += P * C;
    CHECK((size_t)(p - ws->memory) == ws->nfloats);
    return 0;
}

void gpt2_workspace_free(GPT2Workspace *ws) {
    free(ws->memory);
    free(ws->acts);
    free(ws->tokens);
    free(ws->pos);
    memset(ws, 0, sizeof *ws);
}

// --- one block -------------------------------------------------------------------

LayerWeights gpt2_layer_weights(const GPT2 *m, int l) {
    const ParameterTensors *p = &m->params;
    size_t C = m->config.C;
    LayerWeights w = {p->ln1w + l * C,           p->ln1b + l * C,
                      p->qkvw + l * 3 * C * C,   p->qkvb + l * 3 * C,
                      p->attprojw + l * C * C,   p->attprojb + l * C,
                      p->ln2w + l * C,           p->ln2b + l * C,
                      p->fcw + l * 4 * C * C,    p->fcb + l * 4 * C,
                      p->fcprojw + l * 4 * C * C, p->fcprojb + l * C};
    return w;
}

LayerGrads gpt2_layer_grads(const ParameterTensors *p, const GPT2Config *c, int l) {
    size_t C = c->C;
    LayerGrads g = {p->ln1w + l * C,           p->ln1b + l * C,
                    p->qkvw + l * 3 * C * C,   p->qkvb + l * 3 * C,
                    p->attprojw + l * C * C,   p->attprojb + l * C,
                    p->ln2w + l * C,           p->ln2b + l * C,
                    p->fcw + l * 4 * C * C,    p->fcb + l * 4 * C,
                    p->fcprojw + l * 4 * C * C, p->fcprojb + l * C};
    return g;
}

void block_forward(float *out, LayerActs *a, const float *inp, const LayerWeights *w, int B, int T,
                   int C, int NH) {
    int BT = B * T;
    size_t N = (size_t)BT * C;
    layernorm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, inp, w->ln1w, w->ln1b, BT, C);
    matmul_forward(a->qkv, a->ln1, w->qkvw, w->qkvb, BT, C, 3 * C);
    attention_forward(a->atty, a->att, a->qkv, B, T, C, NH);
    matmul_forward(a->attproj, a->atty, w->attprojw, w->attprojb, BT, C, C);
    residual_forward(a->resid2, inp, a->attproj, N);
    layernorm_forward(a->ln2, a->ln2_mean, a->ln2_rstd, a->resid2, w->ln2w, w->ln2b, BT, C);
    matmul_forward(a->fch, a->ln2, w->fcw, NULL, BT, C, 4 * C);
    bias_gelu_forward(a->fch_gelu, a->fch, w->fcb, BT, 4 * C);
    matmul_forward(a->fcproj, a->fch_gelu, w->fcprojw, w->fcprojb, BT, 4 * C, C);
    if (out) residual_forward(out, a->resid2, a->fcproj, N);
}

void block_backward(float *dresid, LayerActs *da, LayerGrads *g, const LayerActs *a,
                    const float *inp, const LayerWeights *w, int B, int T, int C, int NH) {
    int BT = B * T;
    size_t N = (size_t)BT * C;
    // The kernels add into gradients; zero this layer's scratch first.
    memset(da->fch_gelu, 0, sizeof(float) * N * 4);
    memset(da->fch, 0, sizeof(float) * N * 4);
    memset(da->ln2, 0, sizeof(float) * N);
    memset(da->atty, 0, sizeof(float) * N);
    memset(da->qkv, 0, sizeof(float) * N * 3);
    memset(da->ln1, 0, sizeof(float) * N);
    // out = resid2 + fcproj: both receive dresid
    memcpy(da->resid2, dresid, sizeof(float) * N);
    matmul_backward(da->fch_gelu, g ? g->fcprojw : NULL, g ? g->fcprojb : NULL, dresid,
                    a->fch_gelu, w->fcprojw, BT, 4 * C, C);
    gelu_backward(da->fch, a->fch, da->fch_gelu, N * 4);
    matmul_backward(da->ln2, g ? g->fcw : NULL, g ? g->fcb : NULL, da->fch, a->ln2, w->fcw, BT, C,
                    4 * C);
    layernorm_backward(da->resid2, g ? g->ln2w : NULL, g ? g->ln2b : NULL, da->ln2, a->resid2,
                       w->ln2w, a->ln2_mean, a->ln2_rstd, BT, C);
    // resid2 = inp + attproj: both receive dresid2
    matmul_backward(da->atty, g ? g->attprojw : NULL, g ? g->attprojb : NULL, da->resid2, a->atty,
                    w->attprojw, BT, C, C);
    attention_backward(da->qkv, da->att, da->atty, a->qkv, a->att, B, T, C, NH);
    matmul_backward(da->ln1, g ? g->qkvw : NULL, g ? g->qkvb : NULL, da->qkv, a->ln1, w->qkvw, BT,
                    C, 3 * C);
    memcpy(dresid, da->resid2, sizeof(float) * N);
    layernorm_backward(dresid, g ? g->ln1w : NULL, g ? g->ln1b : NULL, da->ln1, inp, w->ln1w,
                       a->ln1_mean, a->ln1_rstd, BT, C);
}

// --- the model -------------------------------------------------------------------

int gpt2_embed(const GPT2 *m, GPT2Workspace *ws, const int *tokens, const int *lengths, int B,
               int T, PruneErr *err) {
    const GPT2Config *c = &m->config;
    if (B < 1 || B > ws->maxB || T < 1 || T > ws->maxT)
        return perr(err, "batch shape (B=%d, T=%d) outside the workspace (B<=%d, T<=%d).", B, T,
                    ws->maxB, ws->maxT);
    if (T > c->maxT)
        return perr(err, "sequence length %d exceeds the model's context %d. Hint: shorten the "
                         "prompt.", T, c->maxT);
    for (int b = 0; b < B; b++) {
        int len = lengths ? lengths[b] : T;
        if (len < 1 || len > T)
            return perr(err, "example %d: length %d, expected 1..%d.", b, len, T);
        for (int t = 0; t < T; t++) {
            int id = tokens[b * T + t];
            if (t < len && (id < 0 || id >= c->V))
                return perr(err, "example %d, position %d: token id %d outside the vocabulary "
                                 "0..%d. Hint: the ids must come from this model's tokenizer.",
                            b, t, id, c->V - 1);
            // Padding is never attended to by real positions; id 0 keeps lookups in range.
            ws->tokens[b * T + t] = t < len ? id : 0;
        }
    }
    ws->B = B;
    ws->T = T;
    encoder_forward(ws->resid, ws->tokens, m->params.wte, m->params.wpe, B, T, c->C);
    return 0;
}

int gpt2_forward_layers(const GPT2 *m, GPT2Workspace *ws, const int *pos, int P, PruneErr *err) {
    const GPT2Config *c = &m->config;
    int B = ws->B, T = ws->T, C = c->C;
    if (P < 1 || P > ws->maxP)
        return perr(err, "%d logit positions asked for, the workspace holds 1..%d.", P, ws->maxP);
    for (int p = 0; p < P; p++) {
        if (pos[p] < 0 || pos[p] >= B * T)
            return perr(err, "logit position %d = %d is outside the batch (0..%d).", p, pos[p],
                        B * T - 1);
        ws->pos[p] = pos[p];
    }
    ws->P = P;
    size_t N = (size_t)B * T * C;
    for (int l = 0; l < c->L; l++) {
        LayerWeights w = gpt2_layer_weights(m, l);
        LayerActs *a = &ws->acts[ws->recompute ? 0 : l];
        block_forward(ws->resid + (l + 1) * N, a, ws->resid + l * N, &w, B, T, C, c->NH);
    }
    const ParameterTensors *pt = &m->params;
    gather_forward(ws->lnf_in, ws->resid + (size_t)c->L * N, ws->pos, P, C);
    layernorm_forward(ws->lnf, ws->lnf_mean, ws->lnf_rstd, ws->lnf_in, pt->lnfw, pt->lnfb, P, C);
    logits_forward(ws->logits, ws->lnf, pt->wte, P, C, c->Vp);
    return 0;
}

int gpt2_forward(const GPT2 *m, GPT2Workspace *ws, const int *tokens, const int *lengths, int B,
                 int T, const int *pos, int P, PruneErr *err) {
    if (gpt2_embed(m, ws, tokens, lengths, B, T, err)) return -1;
    for (int p = 0; p < P; p++) {
        int b = pos[p] / T, t = pos[p] % T;
        if (pos[p] >= 0 && b < B && lengths && t >= lengths[b])
            return perr(err, "logit position %d is (example %d, t=%d), past that example's "
                             "length %d.", p, b, t, lengths[b]);
    }
    return gpt2_forward_layers(m, ws, pos, P, err);
}

void gpt2_backward(const GPT2 *m, GPT2Workspace *ws, const float *dlogits,
                   ParameterTensors *grads) {
    const GPT2Config *c = &m->config;
    const ParameterTensors *pt = &m->params;
    int B = ws->B, T = ws->T, P = ws->P, C = c->C;
    size_t N = (size_t)B * T * C;
    memset(ws->dlnf, 0, sizeof(float) * (size_t)P * C);
    memset(ws->dlnf_in, 0, sizeof(float) * (size_t)P * C);
    memset(ws->dresid, 0, sizeof(float) * N);
    logits_backward(ws->dlnf, grads ? grads->wte : NULL, dlogits, ws->lnf, pt->wte, P, C, c->Vp);
    layernorm_backward(ws->dlnf_in, grads ? grads->lnfw : NULL, grads ? grads->lnfb : NULL,
                       ws->dlnf, ws->lnf_in, pt->lnfw, ws->lnf_mean, ws->lnf_rstd, P, C);
    gather_backward(ws->dresid, ws->dlnf_in, ws->pos, P, C);
    for (int l = c->L - 1; l >= 0; l--) {
        LayerWeights w = gpt2_layer_weights(m, l);
        const float *inp = ws->resid + l * N;
        LayerActs *a = &ws->acts[ws->recompute ? 0 : l];
        if (ws->recompute) block_forward(NULL, a, inp, &w, B, T, C, c->NH);
        LayerGrads g;
        if (grads) g = gpt2_layer_grads(grads, c, l);
        block_backward(ws->dresid, &ws->dacts, grads ? &g : NULL, a, inp, &w, B, T, C, c->NH);
    }
    if (grads) encoder_backward(grads->wte, grads->wpe, ws->dresid, ws->tokens, B, T, C);
}
