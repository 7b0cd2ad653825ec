// pruner.c: the circuit search (method.md §4-§9 as built; docs/method-as-built.md).
//
// Two streams run side by side over a chunk of examples: the reference stream (the
// corrupted prompt, ungated) and the clean stream, where each gated point becomes
// z x_clean + (1 - z) x_ref; in the forward they share each GEMM (pair_block_forward). Only
// the residual stream at each block boundary is kept, for both streams, plus the reference
// stream's heads and neurons; each clean layer's internals are recomputed just before its
// backward (the last layer's are still in place after the forward). The backward computes data gradients only, and the
// mask gradients sum (x_clean - x_ref) * dL/dx_out over batch and positions
// (interchange_backward). A batch is processed chunk by chunk, accumulating the mask
// gradients, so memory follows the chunk size, not the batch size; one hard-concrete sample
// per step is shared by the whole batch.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "prune.h"

void prune_config_defaults(PruneConfig *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->ablation = ABL_CORRUPTED;
    for (int g = 0; g < NUM_GRAN; g++) cfg->enabled[g] = 1;
    cfg->steps = 500;
    cfg->batch = 32;
    cfg->chunk = 0;  // 0: examples such that chunk * T is about 512 rows
    cfg->lr = 0.05f;
    cfg->seed = 0;
    cfg->mode = SPARSITY_KL_BUDGET;
    cfg->kl_budget = 0.05f;
    cfg->dual_lr = 0.05f;
    cfg->warmup = 0.5f;
    cfg->max_target_bytes = (size_t)512 << 20;
    cfg->checkpoint_every = 50;
}

// --- workspace -------------------------------------------------------------------------

static size_t ws_floats(const GPT2Config *c, int B, int T, Ablation ab) {
    size_t BT = (size_t)B * T, C = c->C, L = c->L, att = (size_t)B * c->NH * T * T;
    size_t la = layer_acts_floats(c, B, T);
    size_t n = (2 * L + 1) * BT * C                      // resid_c, resid2_c
               + (ab == ABL_CORRUPTED ? (2 * L + 1) * BT * C + la : 0)  // resid_r, resid2_r, ar
               + (ab == ABL_CORRUPTED ? (L + 1) * BT * C * 5 : 0)  // ref_atty, ref_fch (+1 slot)
               + BT * C                                  // emb_c
               + la                                      // ac
               + BT * C * 5                              // atty_out, fch_out
               + BT * C * 10 + att                       // d1 d4a dln datty dqkv, datt
               + BT * C                                  // dresid
               + (size_t)B * (4 * C + 2 + 2 * (size_t)c->Vp + 2 * (size_t)c->V)  // logits etc.
               + (ab == ABL_MEAN ? C + L * 7 * C : 0);   // means
    return n;
}

static int chunk_for(const PruneConfig *cfg, int maxT) {
    int chunk = cfg->chunk > 0 ? cfg->chunk : 512 / maxT;
    if (chunk < 1) chunk = 1;
    if (chunk > cfg->batch) chunk = cfg->batch;
    return chunk;
}

MemoryPlan pruner_plan(const GPT2 *m, const PruneConfig *cfg, int maxT, int n_train) {
    const GPT2Config *c = &m->config;
    MemoryPlan mp = {0};
    int chunk = chunk_for(cfg, maxT);
    mp.chunk = chunk;
    size_t gates = (size_t)c->L * (3 + c->NH + 2 * c->C + 4 * c->C) + 1, points = (size_t)c->C * (1 + 7 * c->L);
    mp.weights = m->num_parameters * sizeof(float);
    mp.workspace = sizeof(float) * ws_floats(c, chunk, maxT, cfg->ablation)
                 + sizeof(float) * (size_t)chunk * ((size_t)c->V + c->Vp)  // full-model outputs
                 + sizeof(int) * ((size_t)2 * chunk * maxT + 2 * (size_t)chunk);
    mp.masks = sizeof(float) * (7 * gates + 3 * points);  // six arrays + best, three gate sets
    size_t tb = (size_t)n_train * c->V * sizeof(float);
    mp.targets = tb <= cfg->max_target_bytes ? tb : 0;
    mp.total = mp.weights + mp.workspace + mp.masks + mp.targets;
    return mp;
}

int pruner_build(Pruner *p, const GPT2 *m, const PruneConfig *cfg, int maxT, PruneErr *err) {
    memset(p, 0, sizeof *p);
    p->m = m;
    p->cfg = *cfg;
    const GPT2Config *c = &m->config;
    if (maxT < 1 || maxT > c->maxT)
        return perr(err, "prompts of %d tokens do not fit the model's context of %d.", maxT, c->maxT);
    int chunk = chunk_for(cfg, maxT);
    p->maxB = chunk;
    p->maxT = maxT;
    if (chunk > 1024) chunk = 1024;  // the index arrays below are sized for this
    p->cfg.chunk = chunk;
    if (masks_build(&p->masks, c, cfg->enabled, err) || point_gates_build(&p->pg, c, err) ||
        point_gates_build(&p->dpg, c, err) || point_gates_build(&p->ones, c, err))
        goto fail;
    for (size_t i = 0; i < (size_t)c->C + (size_t)c->L * 7 * c->C; i++) p->ones.mem[i] = 1.0f;
    p->full_buf = palloc(sizeof(float) * (size_t)chunk * ((size_t)c->V + c->Vp), "full-model outputs", err);
    if (!p->full_buf) goto fail;
    masks_init_log_alpha(&p->masks, cfg->seed);
    p->nfloats = ws_floats(c, chunk, maxT, cfg->ablation);
    p->mem = pcalloc(sizeof(float) * p->nfloats, "the pruning workspace", err);
    size_t BT = (size_t)chunk * maxT, C = c->C, L = c->L, B = chunk;
    p->tok_c = pcalloc(sizeof(int) * BT, "tokens", err);
    p->tok_r = pcalloc(sizeof(int) * BT, "tokens", err);
    p->lens = pcalloc(sizeof(int) * B, "lengths", err);
    p->pos = pcalloc(sizeof(int) * B, "positions", err);
    if (!p->mem || !p->tok_c || !p->tok_r || !p->lens || !p->pos) goto fail;
    float *q = p->mem;
#define TAKE(ptr, n) (ptr = q, q += (n))
    TAKE(p->resid_c, (L + 1) * BT * C);
    TAKE(p->resid2_c, L * BT * C);
    if (cfg->ablation == ABL_CORRUPTED) {
        TAKE(p->resid_r, (L + 1) * BT * C);
        TAKE(p->resid2_r, L * BT * C);
        TAKE(p->ref_atty, (L + 1) * BT * C);
        TAKE(p->ref_fch, (L + 1) * BT * 4 * C);
        // ar and ac as one pair of twice the rows (layer_acts_second_half, per chunk), so the
        // forward runs each weight over both streams in one GEMM: the weights are packed
        // once, and sgemm runs faster at 2*512 rows than twice at 512
        q = layer_acts_carve(&p->ar, q, c, 2 * chunk, maxT);
    } else {
        q = layer_acts_carve(&p->ac, q, c, chunk, maxT);
    }
    TAKE(p->emb_c, BT * C);
    TAKE(p->atty_out, BT * C);
    TAKE(p->fch_out, BT * 4 * C);
    TAKE(p->d1, BT * C);
    TAKE(p->d4a, BT * 4 * C);
    TAKE(p->dln, BT * C);
    TAKE(p->datty, BT * C);
    TAKE(p->dqkv, BT * 3 * C);
    TAKE(p->datt, B * (size_t)c->NH * maxT * maxT);
    TAKE(p->dresid, BT * C);
    TAKE(p->lnf_in, B * C);
    TAKE(p->lnf, B * C);
    TAKE(p->dlnf, B * C);
    TAKE(p->dlnf_in, B * C);
    TAKE(p->lnf_mean, B);
    TAKE(p->lnf_rstd, B);
    TAKE(p->logits, B * (size_t)c->Vp);
    TAKE(p->dlogits, B * (size_t)c->Vp);
    TAKE(p->logp, B * (size_t)c->V);
    TAKE(p->dlogp, B * (size_t)c->V);
    if (cfg->ablation == ABL_MEAN) TAKE(p->means, C + L * 7 * C);
#undef TAKE
    CHECK((size_t)(q - p->mem) == p->nfloats);
    for (int g = 0; g < NUM_GRAN; g++)
        p->lambda[g] = cfg->mode == SPARSITY_LAMBDA ? cfg->lambda[g] : 0.0;
    if (cfg->mode == SPARSITY_KL_BUDGET) p->lambda[0] = 1e-3;  // grows while KL is within budget
    p->best_la = palloc(sizeof(float) * p->masks.total, "the best circuit so far", err);
    if (!p->best_la) goto fail;
    p->best_kept = -1;
    return 0;
fail:
    pruner_free(p);
    return -1;
}

void pruner_free(Pruner *p) {
    masks_free(&p->masks);
    point_gates_free(&p->pg);
    point_gates_free(&p->dpg);
    point_gates_free(&p->ones);
    free(p->full_buf);
    free(p->best_la);
    free(p->mem), free(p->tok_c), free(p->tok_r), free(p->lens), free(p->pos), free(p->targets);
    memset(p, 0, sizeof *p);
}

// --- one chunk --------------------------------------------------------------------------

typedef struct {
    const float *atty, *attproj, *fch, *fcproj;
    size_t s1, s4;  // row strides: C and 4C for a tensor, 0 for a broadcast row (means)
} Refs;

// N: rows x C of the current chunk (where layer l's stored reference values start).
static Refs refs_for(const Pruner *p, int l, size_t N) {
    const GPT2Config *c = &p->m->config;
    size_t C = c->C;
    Refs r = {0};
    if (p->cfg.ablation == ABL_CORRUPTED) {
        r = (Refs){p->ref_atty + l * N, p->ar.attproj, p->ref_fch + 4 * l * N, p->ar.fcproj, C, 4 * C};
    } else if (p->cfg.ablation == ABL_MEAN) {
        const float *m = p->means + C + (size_t)l * 7 * C;
        r = (Refs){m, m + C, m + 2 * C, m + 6 * C, 0, 0};
    }
    return r;
}

typedef struct {
    const float *atty, *attproj, *fch, *fcproj;
} Gates;

static Gates gates_at(const PointGates *pg, const GPT2Config *c, int l) {
    size_t C = c->C;
    Gates g = {pg->atty + l * C, pg->attproj + l * C, pg->fch + l * 4 * C, pg->fcproj + l * C};
    return g;
}

// The clean stream's block with its four gated points. mid is where the residual between
// attention and MLP is kept (resid2_c[l]). out == NULL recomputes for the backward: the
// attention half then starts from the kept mid residual, so the attention output projection
// is not recomputed (its gate's gradient does without it, see gated_block_backward).
static void gated_block_forward(Pruner *p, float *out, float *mid, const float *inp,
                                const LayerWeights *w, const Refs *r, const Gates *z, int B, int T) {
    const GPT2Config *c = &p->m->config;
    int C = c->C, BT = B * T;
    LayerActs *a = &p->ac;
    layernorm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, inp, w->ln1w, w->ln1b, BT, C);
    matmul_forward(a->qkv, a->ln1, w->qkvw, w->qkvb, BT, C, 3 * C);
    attention_forward(a->atty, a->att, a->qkv, B, T, C, c->NH);
    interchange_forward(p->atty_out, a->atty, r->atty, r->s1, z->atty, BT, C);
    if (out) {
        matmul_forward(a->attproj, p->atty_out, w->attprojw, w->attprojb, BT, C, C);
        interchange_residual_forward(mid, inp, a->attproj, r->attproj, r->s1, z->attproj, BT, C);
    }
    layernorm_forward(a->ln2, a->ln2_mean, a->ln2_rstd, mid, w->ln2w, w->ln2b, BT, C);
    matmul_forward(a->fch, a->ln2, w->fcw, NULL, BT, C, 4 * C);
    bias_gelu_forward(a->fch_gelu, a->fch, w->fcb, BT, 4 * C);
    interchange_forward(p->fch_out, a->fch_gelu, r->fch, r->s4, z->fch, BT, 4 * C);
    matmul_forward(a->fcproj, p->fch_out, w->fcprojw, w->fcprojb, BT, 4 * C, C);
    if (!out) return;  // recomputation for the backward: nothing reads the block's output
    interchange_residual_forward(out, mid, a->fcproj, r->fcproj, r->s1, z->fcproj, BT, C);
}

// dresid: in, dL/d(block output); out, dL/d(block input). Mask gradients go into dz.
static void gated_block_backward(Pruner *p, float *dresid, const float *inp, const float *mid,
                                 const LayerWeights *w, const Refs *r, const Gates *z,
                                 const Gates *dz, int B, int T) {
    const GPT2Config *c = &p->m->config;
    int C = c->C, BT = B * T;
    size_t N = (size_t)BT * C;
    LayerActs *a = &p->ac;
    // out = resid2 + fcproj_out: dresid becomes d resid2 where the MLP's LayerNorm adds to it
    interchange_backward(p->d1, (float *)dz->fcproj, dresid, a->fcproj, r->fcproj, r->s1, z->fcproj, BT, C);
    matmul_backward_data(p->d4a, p->d1, w->fcprojw, BT, 4 * C, C);
    interchange_backward(p->d4a, (float *)dz->fch, p->d4a, a->fch_gelu, r->fch, r->s4, z->fch, BT, 4 * C);
    gelu_backward_inplace(p->d4a, a->fch, p->d4a, N * 4);
    matmul_backward_data(p->dln, p->d4a, w->fcw, BT, C, 4 * C);
    layernorm_backward(dresid, NULL, NULL, p->dln, mid, w->ln2w, a->ln2_mean, a->ln2_rstd, BT, C);
    // mid = inp + attproj_out, attproj_out = z attproj + (1 - z) ref with one z for the block:
    // u = dresid W gives both the data gradient (z u) and, with atty_out, the gate's gradient.
    matmul_backward_data(p->datty, dresid, w->attprojw, BT, C, C);
    ((float *)dz->attproj)[0] += (float)interchange_dz_linear(p->atty_out, p->datty, w->attprojb, r->attproj,
                                                              r->s1, dresid, BT, C, C);
    float zb = z->attproj[0];
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < N; i++) p->datty[i] *= zb;
    interchange_backward(p->datty, (float *)dz->atty, p->datty, a->atty, r->atty, r->s1, z->atty, BT, C);
    memset(p->dqkv, 0, sizeof(float) * N * 3);
    attention_backward(p->dqkv, p->datt, p->datty, a->qkv, a->att, B, T, C, c->NH);
    matmul_backward_data(p->dln, p->dqkv, w->qkvw, BT, C, 3 * C);
    layernorm_backward(dresid, NULL, NULL, p->dln, inp, w->ln1w, a->ln1_mean, a->ln1_rstd, BT, C);
}

// The reference stream's block outputs of layer l for the clean stream's backward. The
// forward (pair_block_forward) keeps the residual stream at both block boundaries
// (resid_r[l], resid2_r[l], resid_r[l+1]) and the heads' and neurons' values (ref_atty[l],
// ref_fch[l]); each block's output is the difference of the two residuals around it, so the
// backward recomputes no GEMM of the reference stream (storing 5C floats per row and layer
// saves 7 of a layer's 12 C^2 of recomputation).
static void ref_block_outputs(Pruner *p, int l, int B, int T) {
    size_t N = (size_t)B * T * p->m->config.C;
    LayerActs *a = &p->ar;
    const float *x = p->resid_r + l * N, *mid = p->resid2_r + l * N, *y = p->resid_r + (l + 1) * N;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < N; i++) {
        a->attproj[i] = mid[i] - x[i];
        a->fcproj[i] = y[i] - mid[i];
    }
}

// Layer l of both streams for the corrupted ablation, each weight applied to the two streams
// in one GEMM over 2BT rows (reference rows first: p->ar's first half, p->ac its second).
// What it leaves is what the clean stream's backward needs: the reference stream's
// residuals, heads and neurons (ref_atty[l], ref_fch[l]) and block outputs (ar.attproj,
// ar.fcproj), and the clean stream's block values in p->ac. The clean heads and neurons
// after their gates go to slot l+1 of ref_atty and ref_fch, right after the reference's, so
// attention, GELU and the projections each run once over both streams; layer l+1's
// reference overwrites them (the last layer's gated heads are copied to p->atty_out, which
// its backward reads).
static void pair_block_forward(Pruner *p, const LayerWeights *w, int l, const Gates *z, int B, int T) {
    const GPT2Config *c = &p->m->config;
    int C = c->C, BT = B * T;
    size_t N = (size_t)BT * C;
    LayerActs *ar = &p->ar, *ac = &p->ac;
    const float *xr = p->resid_r + l * N, *xc = p->resid_c + l * N;
    float *midr = p->resid2_r + l * N, *midc = p->resid2_c + l * N;
    float *heads = p->ref_atty + l * N, *neurons = p->ref_fch + 4 * l * N;  // (2BT, C), (2BT, 4C)
    layernorm_forward(ar->ln1, ar->ln1_mean, ar->ln1_rstd, xr, w->ln1w, w->ln1b, BT, C);
    layernorm_forward(ac->ln1, ac->ln1_mean, ac->ln1_rstd, xc, w->ln1w, w->ln1b, BT, C);
    matmul_forward(ar->qkv, ar->ln1, w->qkvw, w->qkvb, 2 * BT, C, 3 * C);
    // The last layer's backward reads the clean heads and neurons before their gates (no
    // recomputation there), so they go to p->ac; other layers' are gated in place.
    int last = l == c->L - 1;
    if (last) {
        attention_forward(heads, ar->att, ar->qkv, B, T, C, c->NH);
        attention_forward(ac->atty, ac->att, ac->qkv, B, T, C, c->NH);
    } else {
        attention_forward(heads, ar->att, ar->qkv, 2 * B, T, C, c->NH);
    }
    interchange_forward(heads + N, last ? ac->atty : heads + N, heads, C, z->atty, BT, C);
    matmul_forward(ar->attproj, heads, w->attprojw, w->attprojb, 2 * BT, C, C);
    residual_forward(midr, xr, ar->attproj, N);
    interchange_residual_forward(midc, xc, ac->attproj, ar->attproj, C, z->attproj, BT, C);
    layernorm_forward(ar->ln2, ar->ln2_mean, ar->ln2_rstd, midr, w->ln2w, w->ln2b, BT, C);
    layernorm_forward(ac->ln2, ac->ln2_mean, ac->ln2_rstd, midc, w->ln2w, w->ln2b, BT, C);
    matmul_forward(ar->fch, ar->ln2, w->fcw, NULL, 2 * BT, C, 4 * C);
    if (last) {
        bias_gelu_forward(neurons, ar->fch, w->fcb, BT, 4 * C);
        bias_gelu_forward(ac->fch_gelu, ac->fch, w->fcb, BT, 4 * C);
    } else {
        bias_gelu_forward(neurons, ar->fch, w->fcb, 2 * BT, 4 * C);
    }
    interchange_forward(neurons + 4 * N, last ? ac->fch_gelu : neurons + 4 * N, neurons, 4 * C, z->fch, BT, 4 * C);
    matmul_forward(ar->fcproj, neurons, w->fcprojw, w->fcprojb, 2 * BT, 4 * C, C);
    residual_forward(p->resid_r + (l + 1) * N, midr, ar->fcproj, N);
    interchange_residual_forward(p->resid_c + (l + 1) * N, midc, ac->fcproj, ar->fcproj, C, z->fcproj, BT, C);
    if (last) memcpy(p->atty_out, heads + N, sizeof(float) * N);
}

// Loads examples idx[0..n) of t into the token buffers, right-padded to their longest.
static int load_chunk(Pruner *p, const Task *t, const int *idx, int n) {
    int T = 1;
    for (int b = 0; b < n; b++) T = t->ex[idx[b]].len > T ? t->ex[idx[b]].len : T;
    CHECK(n <= p->maxB && T <= p->maxT);
    for (int b = 0; b < n; b++) {
        const TaskExample *e = &t->ex[idx[b]];
        for (int i = 0; i < T; i++) {
            p->tok_c[b * T + i] = i < e->len ? e->clean[i] : 0;
            p->tok_r[b * T + i] = i < e->len && e->corrupt ? e->corrupt[i] : 0;
        }
        p->lens[b] = e->len;
        p->pos[b] = b * T + e->len - 1;  // the answer position: the last prompt token
    }
    return T;
}

// Forward of both streams with gates pg; leaves logits (n,Vp) and logp (n,V) at the
// answer positions. need_ref = 0 skips the reference stream (only valid when every gate
// is 1). stats, when set, accumulates the mean-ablation sums (ungated pass).
static void forward_chunk(Pruner *p, const PointGates *pg, int n, int T, int need_ref, double *stats) {
    const GPT2 *m = p->m;
    const GPT2Config *c = &m->config;
    int C = c->C, BT = n * T, corrupted = p->cfg.ablation == ABL_CORRUPTED && need_ref;
    size_t N = (size_t)BT * C;
    if (p->cfg.ablation == ABL_CORRUPTED) layer_acts_second_half(&p->ac, &p->ar, c, n, T);
    encoder_forward(p->emb_c, p->tok_c, m->params.wte, m->params.wpe, n, T, C);
    const float *emb_ref = NULL;
    size_t emb_stride = 0;
    if (corrupted) {
        encoder_forward(p->resid_r, p->tok_r, m->params.wte, m->params.wpe, n, T, C);
        emb_ref = p->resid_r, emb_stride = (size_t)C;
    } else if (p->cfg.ablation == ABL_MEAN) {
        emb_ref = p->means;
    }
    interchange_forward(p->resid_c, p->emb_c, emb_ref, emb_stride, pg->emb, BT, C);
    for (int l = 0; l < c->L; l++) {
        LayerWeights w = gpt2_layer_weights(m, l);
        Gates z = gates_at(pg, c, l);
        if (corrupted) {
            pair_block_forward(p, &w, l, &z, n, T);
            continue;
        }
        Refs r = refs_for(p, l, N);
        if (p->cfg.ablation == ABL_CORRUPTED) memset(&r, 0, sizeof r);  // no reference: z = 1
        gated_block_forward(p, p->resid_c + (l + 1) * N, p->resid2_c + l * N, p->resid_c + l * N, &w, &r, &z, n, T);
        if (stats) {  // sums over real positions of the (ungated) activations
            double *s = stats + C + (size_t)l * 7 * C;
            const float *src[4] = {p->ac.atty, p->ac.attproj, p->ac.fch_gelu, p->ac.fcproj};  // the forward computes all four
            const int width[4] = {C, C, 4 * C, C}, at[4] = {0, C, 2 * C, 6 * C};
            for (int b = 0; b < n; b++)
                for (int t = 0; t < p->lens[b]; t++)
                    for (int k = 0; k < 4; k++) {
                        const float *row = src[k] + ((size_t)b * T + t) * width[k];
                        for (int i = 0; i < width[k]; i++) s[at[k] + i] += row[i];
                    }
            if (l == 0)
                for (int b = 0; b < n; b++)
                    for (int t = 0; t < p->lens[b]; t++)
                        for (int i = 0; i < C; i++) stats[i] += p->emb_c[((size_t)b * T + t) * C + i];
        }
    }
    gather_forward(p->lnf_in, p->resid_c + (size_t)c->L * N, p->pos, n, C);
    layernorm_forward(p->lnf, p->lnf_mean, p->lnf_rstd, p->lnf_in, m->params.lnfw, m->params.lnfb, n, C);
    logits_forward(p->logits, p->lnf, m->params.wte, n, C, c->Vp);
    log_softmax_forward(p->logp, p->logits, n, c->V, c->Vp);
}

// From dlogits (n,Vp), accumulates dL/dz at every gated point into p->dpg. The buffers of
// the last layer still hold the forward's values; other layers are recomputed first.
static void backward_chunk(Pruner *p, const PointGates *pg, int n, int T) {
    const GPT2 *m = p->m;
    const GPT2Config *c = &m->config;
    int C = c->C, BT = n * T, corrupted = p->cfg.ablation == ABL_CORRUPTED;
    size_t N = (size_t)BT * C;
    if (corrupted) layer_acts_second_half(&p->ac, &p->ar, c, n, T);
    memset(p->dlnf, 0, sizeof(float) * (size_t)n * C);
    memset(p->dlnf_in, 0, sizeof(float) * (size_t)n * C);
    memset(p->dresid, 0, sizeof(float) * N);
    logits_backward(p->dlnf, NULL, p->dlogits, p->lnf, m->params.wte, n, C, c->Vp);
    layernorm_backward(p->dlnf_in, NULL, NULL, p->dlnf, p->lnf_in, m->params.lnfw, p->lnf_mean,
                       p->lnf_rstd, n, C);
    gather_backward(p->dresid, p->dlnf_in, p->pos, n, C);
    for (int l = c->L - 1; l >= 0; l--) {
        LayerWeights w = gpt2_layer_weights(m, l);
        Refs r = refs_for(p, l, N);
        Gates z = gates_at(pg, c, l), dz = gates_at(&p->dpg, c, l);
        if (l < c->L - 1) {
            if (corrupted) ref_block_outputs(p, l, n, T);
            gated_block_forward(p, NULL, p->resid2_c + l * N, p->resid_c + l * N, &w, &r, &z, n, T);
        }
        gated_block_backward(p, p->dresid, p->resid_c + l * N, p->resid2_c + l * N, &w, &r, &z, &dz, n, T);
    }
    const float *emb_ref = corrupted ? p->resid_r : p->cfg.ablation == ABL_MEAN ? p->means : NULL;
    size_t emb_stride = corrupted ? (size_t)C : 0;
    interchange_backward(p->d1, p->dpg.emb, p->dresid, p->emb_c, emb_ref, emb_stride, pg->emb, BT, C);
}

// --- full-model targets and means ----------------------------------------------------------

int pruner_compute_means(Pruner *p, const Task *train, PruneErr *err) {
    const GPT2Config *c = &p->m->config;
    size_t n = (size_t)c->C + (size_t)c->L * 7 * c->C;
    double *sum = pcalloc(sizeof(double) * n, "mean-ablation sums", err);
    if (!sum) return -1;
    long count = 0;
    int idx[1024];
    for (int s = 0; s < train->n; s += p->maxB) {
        int k = train->n - s < p->maxB ? train->n - s : p->maxB;
        for (int b = 0; b < k; b++) idx[b] = s + b, count += train->ex[s + b].len;
        int T = load_chunk(p, train, idx, k);
        forward_chunk(p, &p->ones, k, T, 0, sum);
    }
    for (size_t i = 0; i < n; i++) p->means[i] = (float)(sum[i] / (double)count);
    free(sum);
    return 0;
}

int pruner_prepare_targets(Pruner *p, const Task *train, PruneErr *err) {
    const GPT2Config *c = &p->m->config;
    free(p->targets);
    p->targets = NULL;
    p->n_targets = 0;
    p->target_task = train;
    size_t bytes = (size_t)train->n * c->V * sizeof(float);
    if (bytes > p->cfg.max_target_bytes) return 0;  // recomputed each step instead
    p->targets = palloc(bytes, "the full model's answer log-probabilities", err);
    if (!p->targets) return -1;
    int idx[1024];
    for (int s = 0; s < train->n; s += p->maxB) {
        int k = train->n - s < p->maxB ? train->n - s : p->maxB;
        for (int b = 0; b < k; b++) idx[b] = s + b;
        int T = load_chunk(p, train, idx, k);
        forward_chunk(p, &p->ones, k, T, 0, NULL);
        memcpy(p->targets + (size_t)s * c->V, p->logp, sizeof(float) * (size_t)k * c->V);
    }
    p->n_targets = train->n;
    return 0;
}

// --- loss ------------------------------------------------------------------------------

// KL(full || circuit) of each example of the chunk, summed, and dlogits for weight w
// (dKL/dlogp_circuit = -p_full). full: (n,V) log-probs.
static double kl_chunk(Pruner *p, const float *full, int n, float w, int want_grad) {
    const GPT2Config *c = &p->m->config;
    int V = c->V;
    double total = 0;
    for (int b = 0; b < n; b++) {
        const float *lf = full + (size_t)b * V, *lc = p->logp + (size_t)b * V;
        float *dl = p->dlogp + (size_t)b * V;
        double kl = 0;
        for (int v = 0; v < V; v++) {
            double pf = exp((double)lf[v]);
            kl += pf * ((double)lf[v] - lc[v]);
            dl[v] = (float)(-pf) * w;
        }
        total += kl;
    }
    if (want_grad) {
        memset(p->dlogits, 0, sizeof(float) * (size_t)n * c->Vp);
        log_softmax_backward(p->dlogits, p->dlogp, p->logp, n, V, c->Vp);
    }
    return total;
}

// Runs idx[0..B) chunk by chunk with the gates in p->pg; returns the mean KL. With
// backward, dL/dz at the points is accumulated into p->dpg (zeroed here).
#define KL_CHECK 10  // steps between measurements of the read-out circuit's KL

static double run_batch(Pruner *p, const Task *t, const int *idx, int B, int backward) {
    const GPT2Config *c = &p->m->config;
    size_t npg = (size_t)c->C + (size_t)c->L * 7 * c->C;
    if (backward) memset(p->dpg.mem, 0, sizeof(float) * npg);
    int cached = p->targets && t == p->target_task;
    float *full = p->full_buf;
    double kl = 0;
    for (int s = 0; s < B; s += p->maxB) {
        int n = B - s < p->maxB ? B - s : p->maxB;
        int T = load_chunk(p, t, idx + s, n);
        if (cached) {
            for (int b = 0; b < n; b++)
                memcpy(full + (size_t)b * c->V, p->targets + (size_t)idx[s + b] * c->V,
                       sizeof(float) * c->V);
        } else {  // past the cache limit: the full model again, chunk by chunk
            forward_chunk(p, &p->ones, n, T, 0, NULL);
            memcpy(full, p->logp, sizeof(float) * (size_t)n * c->V);
        }
        forward_chunk(p, &p->pg, n, T, 1, NULL);
        kl += kl_chunk(p, full, n, 1.0f / B, backward);
        if (backward) backward_chunk(p, &p->pg, n, T);
    }
    return kl / B;
}

double pruner_kl(Pruner *p, const Task *t, const int *idx, int B, int backward) {
    point_gates_from_masks(&p->pg, &p->masks);
    double kl = run_batch(p, t, idx, B, backward);
    if (backward) {
        memset(p->masks.dz, 0, sizeof(float) * p->masks.total);
        masks_grad_from_points(&p->masks, &p->dpg);
    }
    return kl;
}

void pruner_forward_logits(Pruner *p, const Task *t, const int *idx, int B, float *out) {
    const GPT2Config *c = &p->m->config;
    point_gates_from_masks(&p->pg, &p->masks);
    for (int s = 0; s < B; s += p->maxB) {
        int n = B - s < p->maxB ? B - s : p->maxB;
        int T = load_chunk(p, t, idx + s, n);
        forward_chunk(p, &p->pg, n, T, 1, NULL);
        memcpy(out + (size_t)s * c->Vp, p->logits, sizeof(float) * (size_t)n * c->Vp);
    }
}

// --- optimisation ----------------------------------------------------------------------

double pruner_step(Pruner *p, const Task *train, const int *idx, int B) {
    Masks *mk = &p->masks;
    const PruneConfig *cfg = &p->cfg;
    Rng r;  // the sample of step k depends only on (seed, k): resumable, reproducible
    rng_seed(&r, cfg->seed * 0x100000001B3ull + (uint64_t)p->step + 1);
    masks_sample(mk, &r);
    double kl = pruner_kl(p, train, idx, B, 1);
    // loss = KL + sum_g lambda_g * sum_{i in g} P(z_i != 0)  (method.md §6; each gate counts
    // once). In KL-budget mode one lambda serves every granularity.
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    int t = p->step + 1;
    float c1 = 1.0f - powf(b1, (float)t), c2 = 1.0f - powf(b2, (float)t);
    for (int g = 0; g < NUM_GRAN; g++) {
        if (!mk->enabled[g]) continue;
        float lam = (float)(cfg->mode == SPARSITY_KL_BUDGET ? p->lambda[0] : p->lambda[g]);
        for (int i = 0; i < mk->count[g]; i++) {
            size_t k = mk->off[g] + (size_t)i;
            float la = mk->log_alpha[k], pn = hc_p_nonzero(la);
            float grad = mk->dz[k] * mk->dzdla[k] + lam * pn * (1.0f - pn);
            mk->adam_m[k] = b1 * mk->adam_m[k] + (1 - b1) * grad;
            mk->adam_v[k] = b2 * mk->adam_v[k] + (1 - b2) * grad * grad;
            mk->log_alpha[k] = la - cfg->lr * (mk->adam_m[k] / c1) / (sqrtf(mk->adam_v[k] / c2) + eps);
        }
    }
    // The budget is on the circuit that would be read out now (log_alpha > 0), not on the
    // sampled gates: early on ~40% of samples fall below 1 and their KL says little about
    // the circuit. Every KL_CHECK steps a forward pass (no backward) measures it on the first
    // chunk of this step's batch; the controller sees a moving average of that.
    if (cfg->mode == SPARSITY_KL_BUDGET && (p->step % KL_CHECK == 0)) {
        for (size_t k = 0; k < mk->total; k++) mk->z[k] = mk->log_alpha[k] > 0.0f;
        for (int g = 0; g < NUM_GRAN; g++)
            if (!mk->enabled[g])
                for (int i = 0; i < mk->count[g]; i++) mk->z[mk->off[g] + (size_t)i] = 1.0f;
        point_gates_from_masks(&p->pg, mk);
        int n1 = B < p->maxB ? B : p->maxB;
        double klb = run_batch(p, train, idx, n1, 0);
        p->kl_ema = p->step ? 0.7 * p->kl_ema + 0.3 * klb : klb;
        // The multiplier overshoots (the problem is discrete: the KL jumps when a needed
        // unit goes), so the result is the smallest circuit seen that met the budget, both in
        // this measurement and on the moving average (one chunk alone is noisy).
        long kept = 0;
        for (size_t k = 0; k < mk->total; k++) kept += mk->z[k] > 0.5f;
        if (klb <= cfg->kl_budget && p->kl_ema <= cfg->kl_budget &&
            (p->best_kept < 0 || kept < p->best_kept)) {
            p->best_kept = kept;
            p->best_step = p->step;
            memcpy(p->best_la, mk->log_alpha, sizeof(float) * mk->total);
        }
    }
    if (cfg->mode == SPARSITY_TARGET) {
        // dual ascent per granularity on density_g <= 1 - target_g (targets ramp up first)
        float ramp = cfg->warmup > 0 ? (float)t / (cfg->warmup * cfg->steps) : 1.0f;
        if (ramp > 1) ramp = 1;
        for (int g = 0; g < NUM_GRAN; g++) {
            if (!mk->enabled[g] || cfg->target[g] <= 0) continue;
            double want = 1.0 - ramp * cfg->target[g];
            p->lambda[g] += cfg->dual_lr * (masks_density(mk, g) - want);
            if (p->lambda[g] < 0) p->lambda[g] = 0;
        }
    } else if (cfg->mode == SPARSITY_KL_BUDGET) {
        // dual ascent on log lambda for KL <= budget: the pressure to prune grows while the
        // circuit is within budget and shrinks when it is not; in log space it is scale-free
        // (the right lambda differs by orders of magnitude between models and tasks)
        // Over budget it retreats up to five times faster than it advances.
        double v = (cfg->kl_budget - p->kl_ema) / (cfg->kl_budget > 0 ? cfg->kl_budget : 1);
        if (v > 1) v = 1;
        if (v < -5) v = -5;
        p->lambda[0] *= exp(cfg->dual_lr * v);
        if (p->lambda[0] < 1e-8) p->lambda[0] = 1e-8;
        if (p->lambda[0] > 1e4) p->lambda[0] = 1e4;
    }
    p->step++;
    return kl;
}

static void progress_line(Pruner *p, double kl, double t0, int total) {
    FILE *f = p->cfg.progress;
    if (!f) return;
    double el = now_seconds() - t0, rate = p->step / (el > 0 ? el : 1e-9);
    double eta = (total - p->step) / (rate > 0 ? rate : 1e-9);
    fprintf(f, "\rstep %d/%d  KL %.4f  density", p->step, total, kl);
    for (int g = 0; g < NUM_GRAN; g++)
        if (p->masks.enabled[g]) fprintf(f, " %s %.3f", GRAN_NAMES[g], masks_density(&p->masks, g));
    if (p->cfg.mode == SPARSITY_KL_BUDGET) fprintf(f, "  lambda %.3g", p->lambda[0]);
    else if (p->cfg.mode == SPARSITY_TARGET) {
        fprintf(f, "  lambda");
        for (int g = 0; g < NUM_GRAN; g++)
            if (p->masks.enabled[g] && p->cfg.target[g] > 0) fprintf(f, " %.3g", p->lambda[g]);
    }
    fprintf(f, "  %.1f steps/s  ETA %.0fs   ", rate, eta);
    fflush(f);
}

static void log_row(Pruner *p, double kl) {
    FILE *f = p->cfg.log;
    if (!f) return;
    if (ftell(f) == 0) {  // a fresh file (also after --resume: the log covers this run)
        fprintf(f, "step,kl,expected_l0");
        for (int g = 0; g < NUM_GRAN; g++)
            if (p->masks.enabled[g]) fprintf(f, ",density_%s", GRAN_NAMES[g]);
        for (int g = 0; g < NUM_GRAN; g++)
            if (p->masks.enabled[g]) fprintf(f, ",lambda_%s", GRAN_NAMES[g]);
        fprintf(f, "\n");
    }
    double l0 = 0;
    for (int g = 0; g < NUM_GRAN; g++)
        if (p->masks.enabled[g]) l0 += masks_density(&p->masks, g) * p->masks.count[g];
    fprintf(f, "%d,%.6g,%.6g", p->step, kl, l0);
    for (int g = 0; g < NUM_GRAN; g++)
        if (p->masks.enabled[g]) fprintf(f, ",%.6g", masks_density(&p->masks, g));
    for (int g = 0; g < NUM_GRAN; g++)
        if (p->masks.enabled[g])
            fprintf(f, ",%.6g", p->cfg.mode == SPARSITY_KL_BUDGET ? p->lambda[0] : p->lambda[g]);
    fprintf(f, "\n");
}

int pruner_train(Pruner *p, const Task *train, int *nonfinite, PruneErr *err) {
    int n = train->n, B = p->cfg.batch < n ? p->cfg.batch : n;
    size_t total = p->masks.total;
    *nonfinite = 0;
    // the order buffer and a copy of the state before each step (a non-finite loss restores it)
    int *order = palloc(sizeof(int) * (size_t)n, "batch order", err);
    float *keep_state = order ? palloc(sizeof(float) * 3 * total, "state copy", err) : NULL;
    if (!keep_state) {
        free(order);
        return -1;
    }
    Rng r;
    rng_seed(&r, p->cfg.seed ^ 0x6261746368ull);  // "batch"
    int pos = n;  // forces a shuffle first
    int rc = 0;
    double t0 = now_seconds();
    for (int s = 0; s <= p->step && s < p->cfg.steps; s++) {
        // the batch order of step s: replayed from step 0, so a resumed run sees the batches
        // an uninterrupted one would
        if (s > 0) pos += B;
        if (pos + B > n) {  // a new epoch: reshuffle (Fisher-Yates)
            for (int i = 0; i < n; i++) order[i] = i;
            for (int i = n - 1; i > 0; i--) {
                int j = (int)(rng_u64(&r) % (uint64_t)(i + 1)), tmp = order[i];
                order[i] = order[j], order[j] = tmp;
            }
            pos = 0;
        }
        if (s < p->step) continue;
        if (p->cfg.stop && *p->cfg.stop) break;
        double lam[NUM_GRAN], ema = p->kl_ema;
        memcpy(lam, p->lambda, sizeof lam);
        memcpy(keep_state, p->masks.log_alpha, sizeof(float) * total);
        memcpy(keep_state + total, p->masks.adam_m, sizeof(float) * total);
        memcpy(keep_state + 2 * total, p->masks.adam_v, sizeof(float) * total);
        double kl = pruner_step(p, train, order + pos, B);
        if (!isfinite(kl)) {
            memcpy(p->masks.log_alpha, keep_state, sizeof(float) * total);
            memcpy(p->masks.adam_m, keep_state + total, sizeof(float) * total);
            memcpy(p->masks.adam_v, keep_state + 2 * total, sizeof(float) * total);
            memcpy(p->lambda, lam, sizeof lam);
            p->kl_ema = ema;
            p->step--;
            *nonfinite = 1;
            rc = perr(err, "step %d: the loss is not finite (KL = %g); the masks of step %d are kept. "
                           "Hint: lower --lr.", p->step + 1, kl, p->step);
            break;
        }
        log_row(p, kl);
        progress_line(p, kl, t0, p->cfg.steps);
        if (p->cfg.checkpoint && p->cfg.checkpoint_every > 0 && p->step % p->cfg.checkpoint_every == 0 &&
            p->step < p->cfg.steps && pruner_save(p, train, p->cfg.checkpoint, err)) {
            rc = -1;
            break;
        }
    }
    if (p->cfg.progress) fprintf(p->cfg.progress, "\n");
    if (p->cfg.log) fflush(p->cfg.log);
    // stopped early: the state goes to the checkpoint so --resume can go on from here
    if (rc == 0 && p->cfg.checkpoint && p->step < p->cfg.steps && pruner_save(p, train, p->cfg.checkpoint, err))
        rc = -1;
    if (p->cfg.mode == SPARSITY_KL_BUDGET && p->best_kept >= 0)
        memcpy(p->masks.log_alpha, p->best_la, sizeof(float) * total);
    free(order), free(keep_state);
    return rc ? -1 : p->step;
}

// --- evaluation -------------------------------------------------------------------------

int pruner_evaluate(Pruner *p, const Task *t, const unsigned char *keep, Metrics *out,
                    PruneErr *err) {
    const GPT2Config *c = &p->m->config;
    int V = c->V, Vp = c->Vp;
    (void)err;
    memset(out, 0, sizeof *out);
    float *full = p->full_buf, *full_logits = p->full_buf + (size_t)p->maxB * V;
    masks_set(&p->masks, keep);
    point_gates_from_masks(&p->pg, &p->masks);
    int idx[1024];
    for (int s = 0; s < t->n; s += p->maxB) {
        int n = t->n - s < p->maxB ? t->n - s : p->maxB;
        for (int b = 0; b < n; b++) idx[b] = s + b;
        int T = load_chunk(p, t, idx, n);
        forward_chunk(p, &p->ones, n, T, 0, NULL);
        memcpy(full, p->logp, sizeof(float) * (size_t)n * V);
        memcpy(full_logits, p->logits, sizeof(float) * (size_t)n * Vp);
        forward_chunk(p, &p->pg, n, T, 1, NULL);
        // KL >= 0; float rounding can leave a near-identical distribution at -1e-9
        double klc = kl_chunk(p, full, n, 0, 0);
        out->kl += klc > 0 ? klc : 0;
        for (int b = 0; b < n; b++) {
            const TaskExample *e = &t->ex[s + b];
            const float *lg = p->logits + (size_t)b * Vp, *lf = full_logits + (size_t)b * Vp;
            const float *lp = p->logp + (size_t)b * V;
            double mc = 0, mw = 0, fc = 0, fw = 0, pc = 0, pw = 0, best_c = -INFINITY, best_w = -INFINITY;
            for (int i = 0; i < e->n_correct; i++) {
                mc += lg[e->correct[i]], fc += lf[e->correct[i]], pc += exp(lp[e->correct[i]]);
                best_c = lg[e->correct[i]] > best_c ? lg[e->correct[i]] : best_c;
            }
            for (int i = 0; i < e->n_wrong; i++) {
                mw += lg[e->wrong[i]], fw += lf[e->wrong[i]], pw += exp(lp[e->wrong[i]]);
                best_w = lg[e->wrong[i]] > best_w ? lg[e->wrong[i]] : best_w;
            }
            if (e->n_wrong) {
                out->ld += mc / e->n_correct - mw / e->n_wrong;
                out->ld_full += fc / e->n_correct - fw / e->n_wrong;
                out->n_ld++;
            }
            out->pd += pc - pw;
            out->acc_pair += best_c > best_w;
            int top = 0, ftop = 0;
            for (int v = 1; v < V; v++) {
                if (lg[v] > lg[top]) top = v;
                if (lf[v] > lf[ftop]) ftop = v;
            }
            int in_correct = 0;
            for (int i = 0; i < e->n_correct; i++) in_correct |= e->correct[i] == top;
            out->acc_argmax += in_correct;
            out->exact += top == ftop;
        }
        out->n += n;
    }
    if (out->n) {
        out->kl /= out->n, out->pd /= out->n, out->acc_pair /= out->n, out->acc_argmax /= out->n,
            out->exact /= out->n;
    }
    if (out->n_ld) out->ld /= out->n_ld, out->ld_full /= out->n_ld;
    return 0;
}
