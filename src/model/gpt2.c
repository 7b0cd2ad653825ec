// gpt2.c: the config, the parameter table and layout, the workspace, and the batched
// forward and backward over the blocks of block.c. Loading and writing files live in
// load_llmc.c and load_hf.c; masks live in the search.
//
// Memory: the workspace is one allocation sized from (maxB, maxT, maxP) up front; no
// call here allocates. With recompute = 1 only the residual stream entering each layer
// is kept and each block's internals are recomputed right before its backward.
#include "gpt2.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "rng.h"

// The config check bounds the head size so RoPE's per-row tables fit its kernel.
#define ROPE_MAXHALF_CFG ROPE_MAXHALF

const char *gpt2_format_name(ModelFormat f) {
    switch (f) {
    case FORMAT_RANDOM: return "random (in memory)";
    case FORMAT_LLMC_FP32: return "llm.c checkpoint v3 (fp32, memory-mapped)";
    case FORMAT_LLMC_BF16: return "llm.c checkpoint v5 (bf16, converted to fp32)";
    case FORMAT_SAFETENSORS: return "Hugging Face safetensors (converted to fp32)";
    case FORMAT_LLAMA2C: return "llama2.c checkpoint (fp32)";
    default: return "none";
    }
}

void gpt2_config_defaults(GPT2Config *c) {
    if (!c->hs && c->NH > 0) c->hs = c->C / c->NH;
    if (!c->NKV) c->NKV = c->NH;
    // a damaged header's C may be near INT_MAX: saturate, and let the range check refuse it
    if (!c->H) c->H = c->C > 0 && c->C <= INT_MAX / 4 ? 4 * c->C : INT_MAX;
    if (!(c->norm_eps > 0)) c->norm_eps = 1e-5f;
    if (c->pos != POS_LEARNED && !(c->rope_theta > 0)) c->rope_theta = 10000.0f;
}

const char *cfg_family(const GPT2Config *c) { return cfg_is_llama(c) ? "llama" : "gpt2"; }

void rope_inv_freq(float *inv_freq, const GPT2Config *c) {
    int half = c->hs / 2;
    for (int i = 0; i < half; i++) {
        float f = 1.0f / powf(c->rope_theta, (float)(2 * i) / (float)c->hs);
        if (c->rope_scaling == ROPE_SCALING_LLAMA3) {
            // transformers' _compute_llama3_parameters, in double then rounded once
            double old = c->rope_orig_maxT, lo = c->rope_low_freq_factor, hi = c->rope_high_freq_factor;
            double wavelen = 2.0 * 3.14159265358979323846 / f, inv = f;
            if (wavelen > old / lo) {
                inv = f / c->rope_factor;
            } else if (wavelen >= old / hi) {  // medium: between the two wavelengths
                double smooth = (old / wavelen - lo) / (hi - lo);
                inv = (1.0 - smooth) * f / c->rope_factor + smooth * f;
            }
            f = (float)inv;
        }
        inv_freq[i] = f;
    }
}

int gpt2_config_check(const GPT2Config *c, const char *src, PruneErr *err) {
    struct { const char *name; int v; } dims[] = {{"maxT", c->maxT}, {"V", c->V},   {"Vp", c->Vp},
                                                   {"L", c->L},       {"NH", c->NH}, {"C", c->C},
                                                   {"hs", c->hs},     {"NKV", c->NKV}, {"H", c->H}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (dims[i].v <= 0)
            return perr(err, "%s: %s = %d, expected a positive value. Hint: the file is not a "
                             "GPT-2 checkpoint or its header is damaged.", src, dims[i].name,
                        dims[i].v);
    if (!cfg_is_llama(c)) {
        if (c->C % c->NH != 0)
            return perr(err, "%s: C = %d is not a multiple of NH = %d, so heads cannot split the "
                             "channels. Hint: the header is damaged or not GPT-2's.", src, c->C, c->NH);
        if (c->NH * c->hs != c->C)
            return perr(err, "%s: NH = %d heads of size hs = %d do not span C = %d channels. Hint: "
                             "a GPT-2 model's head size is C / NH.", src, c->NH, c->hs, c->C);
        if (c->NKV != c->NH)
            return perr(err, "%s: %d key/value heads for %d query heads: grouped-query attention is "
                             "read for Llama-family models only. Hint: the header is damaged.", src,
                        c->NKV, c->NH);
        if (c->pos != POS_LEARNED || c->mlp != MLP_GELU_TANH || c->bias != BIAS_ALL ||
            c->norm_eps != 1e-5f)
            return perr(err, "%s: an architecture variant other than GPT-2's (LayerNorm eps 1e-5, "
                             "learned positions, GELU MLP, biases) with LayerNorm. Hint: prune reads "
                             "GPT-2 and Llama-family models.", src);
    } else {
        if (c->pos == POS_LEARNED || c->mlp != MLP_SWIGLU || c->bias == BIAS_ALL)
            return perr(err, "%s: a Llama-family model (RMSNorm) needs rotary positions, a SwiGLU "
                             "MLP and no biases outside q/k/v. Hint: the config mixes families.", src);
        if (c->NH % c->NKV != 0)
            return perr(err, "%s: %d query heads are not a multiple of %d key/value heads "
                             "(num_key_value_heads), so grouped-query attention cannot share them. "
                             "Hint: the config is damaged.", src, c->NH, c->NKV);
        if (c->hs % 2 != 0 || c->hs / 2 > ROPE_MAXHALF_CFG)
            return perr(err, "%s: head size %d: rotary positions need an even head size of at most "
                             "%d. Hint: head_dim in config.json.", src, c->hs, 2 * ROPE_MAXHALF_CFG);
        if (!(c->rope_theta > 1.0f) || !isfinite(c->rope_theta))
            return perr(err, "%s: rope_theta = %g, expected a finite value above 1 (10000, 500000, "
                        "...).", src, (double)c->rope_theta);
        if (!(c->norm_eps > 0) || !(c->norm_eps < 1))
            return perr(err, "%s: rms_norm_eps = %g, expected a small positive value (1e-5, 1e-6).",
                        src, (double)c->norm_eps);
        if (c->rope_scaling == ROPE_SCALING_LLAMA3 &&
            !(c->rope_factor >= 1 && c->rope_low_freq_factor > 0 &&
              c->rope_high_freq_factor > c->rope_low_freq_factor && c->rope_orig_maxT > 0))
            return perr(err, "%s: rope_scaling llama3 with factor %g, low_freq_factor %g, "
                             "high_freq_factor %g, original_max_position_embeddings %d: expected "
                             "factor >= 1, 0 < low < high and a positive original context.", src,
                        (double)c->rope_factor, (double)c->rope_low_freq_factor,
                        (double)c->rope_high_freq_factor, c->rope_orig_maxT);
        if (c->sliding_window < 0)
            return perr(err, "%s: sliding_window = %d, expected 0 (none) or a positive length.", src,
                        c->sliding_window);
    }
    if ((long long)c->NH * c->hs > 1048576)
        return perr(err, "%s: NH = %d heads of size %d out of range. Hint: the header is damaged.",
                    src, c->NH, c->hs);
    if (c->Vp < c->V)
        return perr(err, "%s: padded vocabulary Vp = %d is smaller than V = %d. Hint: Vp is V "
                         "rounded up (llm.c uses a multiple of 128).", src, c->Vp, c->V);
    // Keep every tensor and every (B,T,...) offset comfortably inside size_t and int ranges.
    if (c->C > 65536 || c->H > 1048576 || c->L > 4096 || c->maxT > 1048576 || c->Vp > 16777216 ||
        c->NH > 65536)
        return perr(err, "%s: dimensions out of range (maxT %d, Vp %d, L %d, NH %d, C %d, H %d). "
                         "Hint: the header is damaged.", src, c->maxT, c->Vp, c->L, c->NH, c->C, c->H);
    return 0;
}

// --- the parameter table -------------------------------------------------------------

void gpt2_param_table(ParamSpec t[NUM_PARAM_TENSORS], const GPT2Config *c) {
    size_t Vp = c->Vp, C = c->C, maxT = c->maxT, A = cfg_attn_width(c), QKV = cfg_qkv_width(c), H = c->H;
    // the variants' absent tensors have 0 rows
    size_t lnb = c->norm == NORM_LAYERNORM ? C : 0, pe = c->pos == POS_LEARNED ? maxT : 0;
    size_t qb = c->bias != BIAS_NONE ? QKV : 0, ob = c->bias == BIAS_ALL, Hf = c->mlp == MLP_SWIGLU ? 2 * H : H;
    size_t lm = c->unembed == UNEMBED_UNTIED ? Vp : 0;
    const ParamSpec v[NUM_PARAM_TENSORS] = {
        [P_WTE] = {"wte", PK_EMBEDDING, PART_NONE, 0, 0, Vp, C},
        [P_WPE] = {"wpe", PK_EMBEDDING, PART_NONE, 0, 0, pe, C},
        [P_LN1W] = {"ln1w", PK_NORM_WEIGHT, PART_ATTN, 1, 0, C, 0},
        [P_LN1B] = {"ln1b", PK_NORM_BIAS, PART_ATTN, 1, 0, lnb, 0},
        [P_QKVW] = {"qkvw", PK_MATRIX, PART_ATTN, 1, 0, QKV, C},
        [P_QKVB] = {"qkvb", PK_BIAS, PART_ATTN, 1, 0, qb, 0},
        [P_ATTPROJW] = {"attprojw", PK_MATRIX, PART_ATTN, 1, 1, C, A},
        [P_ATTPROJB] = {"attprojb", PK_BIAS, PART_ATTN, 1, 0, ob * C, 0},
        [P_LN2W] = {"ln2w", PK_NORM_WEIGHT, PART_MLP, 1, 0, C, 0},
        [P_LN2B] = {"ln2b", PK_NORM_BIAS, PART_MLP, 1, 0, lnb, 0},
        [P_FCW] = {"fcw", PK_MATRIX, PART_MLP, 1, 0, Hf, C},
        [P_FCB] = {"fcb", PK_BIAS, PART_MLP, 1, 0, ob * H, 0},
        [P_FCPROJW] = {"fcprojw", PK_MATRIX, PART_MLP, 1, 1, C, H},
        [P_FCPROJB] = {"fcprojb", PK_BIAS, PART_MLP, 1, 0, ob * C, 0},
        [P_LNFW] = {"lnfw", PK_NORM_WEIGHT, PART_NONE, 0, 0, C, 0},
        [P_LNFB] = {"lnfb", PK_NORM_BIAS, PART_NONE, 0, 0, lnb, 0},
        [P_LMHEAD] = {"lm_head", PK_MATRIX, PART_NONE, 0, 0, lm, C},
    };
    memcpy(t, v, sizeof v);
}

const char *gpt2_param_name(ParamId id) {
    ParamSpec t[NUM_PARAM_TENSORS];
    GPT2Config c = {0};
    gpt2_param_table(t, &c);
    return t[id].name;
}

size_t param_layer_floats(const ParamSpec *s) { return s->rows * (s->cols ? s->cols : 1); }

size_t param_floats(const ParamSpec *s, const GPT2Config *c) {
    return param_layer_floats(s) * (s->per_layer ? (size_t)c->L : 1);
}

float **param_field(ParameterTensors *p, ParamId id) {
    float **f[NUM_PARAM_TENSORS] = {&p->wte,     &p->wpe,      &p->ln1w, &p->ln1b, &p->qkvw,    &p->qkvb,
                                    &p->attprojw, &p->attprojb, &p->ln2w, &p->ln2b, &p->fcw,     &p->fcb,
                                    &p->fcprojw, &p->fcprojb,  &p->lnfw, &p->lnfb, &p->lm_head};
    return f[id];
}

void gpt2_param_sizes(size_t s[NUM_PARAM_TENSORS], const GPT2Config *c) {
    ParamSpec t[NUM_PARAM_TENSORS];
    gpt2_param_table(t, c);
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) s[i] = param_floats(&t[i], c);
}

size_t gpt2_num_parameters(const GPT2Config *c) {
    size_t s[NUM_PARAM_TENSORS], n = 0;
    gpt2_param_sizes(s, c);
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) n += s[i];
    return n;
}

void gpt2_point_params(ParameterTensors *p, float *memory, const size_t s[NUM_PARAM_TENSORS]) {
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        *param_field(p, (ParamId)i) = s[i] ? memory : NULL;  // an absent tensor is NULL
        memory += s[i];
    }
}

int gpt2_build_random(GPT2 *m, const GPT2Config *c, uint64_t seed, float std, PruneErr *err) {
    memset(m, 0, sizeof *m);
    m->config = *c;
    gpt2_config_defaults(&m->config);
    if (gpt2_config_check(&m->config, "random model", err)) return -1;
    c = &m->config;
    gpt2_param_sizes(m->param_sizes, c);
    m->num_parameters = gpt2_num_parameters(c);
    m->owned = palloc(m->num_parameters * sizeof(float), "model parameters", err);
    if (!m->owned) return -1;
    m->params_memory = m->owned;
    gpt2_point_params(&m->params, m->params_memory, m->param_sizes);
    Rng r;
    rng_seed(&r, seed);
    float *p = m->params_memory;
    ParamSpec t[NUM_PARAM_TENSORS];
    gpt2_param_table(t, c);
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        int is_ln_weight = t[i].kind == PK_NORM_WEIGHT;
        for (size_t j = 0; j < m->param_sizes[i]; j++)
            p[j] = (is_ln_weight ? 1.0f : 0.0f) + std * rng_normal(&r);
        p += m->param_sizes[i];
    }
    // llm.c keeps the padded vocabulary rows at zero; so do we.
    memset(m->params.wte + (size_t)c->V * c->C, 0, sizeof(float) * (size_t)(c->Vp - c->V) * c->C);
    if (m->params.lm_head)
        memset(m->params.lm_head + (size_t)c->V * c->C, 0, sizeof(float) * (size_t)(c->Vp - c->V) * c->C);
    m->format = FORMAT_RANDOM;
    snprintf(m->arch, sizeof m->arch, "%s", cfg_family(c));
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
    ParamSpec t[NUM_PARAM_TENSORS];
    gpt2_param_table(t, &m->config);
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        if (t[i].part != PART_MLP || t[i].kind == PK_NORM_WEIGHT || t[i].kind == PK_NORM_BIAS) continue;
        const float *p = *param_field((ParameterTensors *)&m->params, (ParamId)i);
        for (size_t j = 0; j < m->param_sizes[i]; j++)
            if (p[j] != 0.0f) return 0;
    }
    return 1;
}

// --- workspace -------------------------------------------------------------------

// The float counts of a LayerActs, in field order (shared by sizing and carving).
static void layer_act_sizes(size_t s[14], const GPT2Config *c, size_t B, size_t T) {
    size_t C = c->C, NH = c->NH, BT = B * T, A = cfg_attn_width(c), QKV = cfg_qkv_width(c), H = c->H;
    size_t Hf = c->mlp == MLP_SWIGLU ? 2 * H : H;
    size_t v[14] = {BT * C, BT, BT, BT * QKV, B * NH * T * T, BT * A, BT * C,
                    BT * C, BT * C, BT, BT, BT * Hf, BT * H, BT * C};
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

// The float counts of a BlockGrads, in field order.
static void block_grad_sizes(size_t s[7], const GPT2Config *c, size_t B, size_t T) {
    size_t BT = B * T, C = c->C;
    size_t v[7] = {BT * C, BT * c->H, BT * C, BT * cfg_attn_width(c), BT * cfg_qkv_width(c),
                   B * (size_t)c->NH * T * T, c->mlp == MLP_SWIGLU ? BT * 2 * (size_t)c->H : 0};
    memcpy(s, v, sizeof v);
}

size_t block_grads_floats(const GPT2Config *c, int B, int T) {
    size_t s[7], n = 0;
    block_grad_sizes(s, c, (size_t)B, (size_t)T);
    for (int i = 0; i < 7; i++) n += s[i];
    return n;
}

float *block_grads_carve(BlockGrads *d, float *p, const GPT2Config *c, int B, int T) {
    size_t s[7];
    float **f[7] = {&d->dout, &d->dhidden, &d->dln, &d->dheads, &d->dqkv, &d->datt, &d->dfch};
    block_grad_sizes(s, c, (size_t)B, (size_t)T);
    for (int i = 0; i < 7; i++) {
        *f[i] = p;
        p += s[i];
    }
    return p;
}

static size_t workspace_floats(const GPT2Config *c, int maxB, int maxT, int maxP, int recompute) {
    size_t B = maxB, T = maxT, P = maxP, C = c->C, L = c->L;
    size_t nacts = recompute ? 1 : L;
    return (L + 1) * B * T * C                    // resid
           + nacts * layer_act_total(c, B, T)      // acts
           + block_grads_floats(c, maxB, maxT)      // dacts
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
    p = block_grads_carve(&ws->dacts, p, c, maxB, maxT);
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
        if (c->sliding_window > 0 && len > c->sliding_window)
            return perr(err, "example %d: %d tokens, longer than the model's sliding attention "
                             "window of %d: prune attends over the whole prompt, which differs "
                             "from the model past its window. Hint: shorten the prompt.", b, len,
                        c->sliding_window);
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
    embed_forward(ws->resid, ws->tokens, m, B, T);
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
        block_forward(ws->resid + (l + 1) * N, a, ws->resid + l * N, &w, c, B, T, NULL);
    }
    head_forward(ws->logits, ws->lnf_in, ws->lnf, ws->lnf_mean, ws->lnf_rstd, ws->resid + (size_t)c->L * N,
                 ws->pos, P, m);
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
    int B = ws->B, T = ws->T, P = ws->P;
    size_t N = (size_t)B * T * c->C;
    memset(ws->dresid, 0, sizeof(float) * N);
    head_backward(ws->dresid, ws->dlnf_in, ws->dlnf, grads, dlogits, ws->lnf_in, ws->lnf, ws->lnf_mean,
                  ws->lnf_rstd, ws->pos, P, m);
    for (int l = c->L - 1; l >= 0; l--) {
        LayerWeights w = gpt2_layer_weights(m, l);
        const float *inp = ws->resid + l * N;
        LayerActs *a = &ws->acts[ws->recompute ? 0 : l];
        if (ws->recompute) block_forward(NULL, a, inp, &w, c, B, T, NULL);
        LayerGrads g;
        if (grads) g = gpt2_layer_grads(grads, c, l);
        block_backward(ws->dresid, &ws->dacts, grads ? &g : NULL, a, inp, &w, c, B, T, NULL);
    }
    if (grads) encoder_backward(grads->wte, grads->wpe, ws->dresid, ws->tokens, B, T, c->C);  // wpe NULL under RoPE
}
