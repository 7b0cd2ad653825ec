// search.c: the circuit search's passes (method.md §4, §7; docs/method-as-built.md): the
// workspace, the chunks of examples, the forward and backward of the clean and reference
// streams through the model's one block (block.c) with taps at the gated points, the
// full model's targets, the mean ablation's statistics, and the loss KL(full || circuit).
// It does not choose gates (masks.c), references (ablation.c), steps (optim.c) or
// metrics (metrics.c).
//
// Two streams run side by side over a chunk of examples: the reference stream (the
// corrupted prompt, ungated) and the clean stream, where each gated point becomes
// z x_clean + (1 - z) x_ref; in the forward they are one block over 2B rows. Only the
// residual stream at each block boundary is kept, for both streams, plus the reference
// stream's heads and neurons; each clean layer's internals are recomputed just before its
// backward (the last layer's are still in place after the forward). The backward computes
// data gradients only, and the mask gradients sum (x_clean - x_ref) * dL/dx_out over batch
// and positions. A batch is processed chunk by chunk, accumulating the mask gradients, so
// memory follows the chunk size, not the batch size; one hard-concrete sample per step is
// shared by the whole batch.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "prune.h"

// --- workspace -------------------------------------------------------------------------

static size_t ws_floats(const GPT2Config *c, int B, int T, AblationKind ab) {
    const AblationInfo *ai = &ABLATIONS[ab];
    size_t BT = (size_t)B * T, C = c->C, L = c->L, S = ai->streams, A = cfg_attn_width(c), H = c->H;
    size_t la = layer_acts_floats(c, B, T);
    size_t n = S * (2 * L + 1) * BT * C                 // resid, resid2: every stream
               + (S == 2 ? (L + 1) * BT * (A + H) : 0)  // ref_atty, ref_fch (+1 slot)
               + BT * C                                  // emb_c
               + S * la                                  // ar over both streams (2B rows; ac its
                                                         // second half), or ac alone
               + BT * (A + H)                            // atty_out, fch_out
               + block_grads_floats(c, B, T)             // d
               + BT * C                                  // dresid
               + (size_t)B * (4 * C + 2 + 2 * (size_t)c->Vp + 2 * (size_t)c->V)  // logits etc.
               + (ai->needs_means ? points_floats(c) : 0);  // means
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
    size_t gates = gran_total(c), points = points_floats(c);
    mp.weights = m->num_parameters * sizeof(float);
    mp.workspace = sizeof(float) * ws_floats(c, chunk, maxT, cfg->ablation)
                 + sizeof(float) * (size_t)chunk * ((size_t)c->V + c->Vp)  // full-model outputs
                 + sizeof(int) * ((size_t)2 * chunk * maxT + 2 * (size_t)chunk);
    mp.masks = sizeof(float) * (7 * gates + 3 * points);  // six arrays + best, three gate sets
    size_t tb = (size_t)n_train * c->V * sizeof(float);
    mp.targets = tb <= cfg->run.max_target_bytes ? tb : 0;
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
    p->masks.bias_flows = !ABLATIONS[cfg->ablation].empty_is_pruned;
    for (size_t i = 0; i < points_floats(c); i++) p->ones.mem[i] = 1.0f;
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
    size_t S = ABLATIONS[cfg->ablation].streams, A = cfg_attn_width(c), H = c->H;
#define TAKE(ptr, n) (ptr = q, q += (n))
    TAKE(p->resid, (L + 1) * S * BT * C);
    TAKE(p->resid2, L * S * BT * C);
    if (S == 2) {
        TAKE(p->ref_atty, (L + 1) * BT * A);
        TAKE(p->ref_fch, (L + 1) * BT * H);
        // ar and ac as one pair of twice the rows (layer_acts_second_half, per chunk), so the
        // forward runs each weight over both streams in one GEMM: the weights are packed
        // once, and sgemm runs faster at 2*512 rows than twice at 512
        q = layer_acts_carve(&p->ar, q, c, 2 * chunk, maxT);
    } else {
        q = layer_acts_carve(&p->ac, q, c, chunk, maxT);
    }
    TAKE(p->emb_c, BT * C);
    TAKE(p->atty_out, BT * A);
    TAKE(p->fch_out, BT * H);
    q = block_grads_carve(&p->d, q, c, chunk, maxT);
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
    if (ABLATIONS[cfg->ablation].needs_means) TAKE(p->means, points_floats(c));
#undef TAKE
    CHECK((size_t)(q - p->mem) == p->nfloats);
    for (int g = 0; g < NUM_GRAN; g++)
        p->lambda[g] = cfg->mode == SPARSITY_LAMBDA ? cfg->lambda[g] : 0.0;
    if (cfg->mode == SPARSITY_KL_BUDGET) p->lambda[0] = 1e-3;  // grows while KL is within budget
    p->best_la = palloc(sizeof(float) * p->masks.total, "the best circuit so far", err);
    p->keep_buf = palloc(p->masks.total, "the read-out circuit", err);
    if (!p->best_la || !p->keep_buf) goto fail;
    p->best_kept = -1;
    p->dual_scale = 1.0;
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
    free(p->keep_buf);
    free(p->mem), free(p->tok_c), free(p->tok_r), free(p->lens), free(p->pos), free(p->targets);
    memset(p, 0, sizeof *p);
}

// --- one chunk --------------------------------------------------------------------------

// The residual streams of layer boundary l for the current chunk (N = rows x C of one
// stream): S streams back to back per layer, the reference first, so a block over both
// streams reads one (2 rows, C) tensor.
static float *resid_at(const Pruner *p, float *base, int l, size_t N) {
    return base + (size_t)l * ABLATIONS[p->cfg.ablation].streams * N;
}
static float *clean_at(const Pruner *p, float *base, int l, size_t N) {
    return resid_at(p, base, l, N) + (ABLATIONS[p->cfg.ablation].streams - 1) * N;
}

// The taps of layer l: the gates of pg at its four points (their gradients to dpg), the
// ablation's references, and where the gated heads and neurons go. pair: the forward over
// both streams (row0 = the reference's rows); stream_ref = 0: the reference stream was not
// run (every gate is 1: the full model).
static BlockTaps taps_at(Pruner *p, const PointGates *pg, const PointGates *dpg, int l, int n, int T,
                         int pair, int stream_ref) {
    const GPT2Config *c = &p->m->config;
    size_t C = c->C, A = cfg_attn_width(c), H = c->H, BT = (size_t)n * T;
    BlockTaps t = {0};
    t.heads.z = pg->atty + l * A, t.attn.z = pg->attproj + l * C;
    t.neurons.z = pg->fch + l * H, t.mlp.z = pg->fcproj + l * C;
    if (dpg) {
        t.heads.dz = dpg->atty + l * A, t.attn.dz = dpg->attproj + l * C;
        t.neurons.dz = dpg->fch + l * H, t.mlp.dz = dpg->fcproj + l * C;
    }
    ablation_refs(&t, p, l, n, T, stream_ref);
    t.heads_out = p->atty_out, t.neurons_out = p->fch_out;
    if (pair) {  // gated in place next to the stored reference (see pair_forward)
        t.row0 = (int)BT;
        t.heads_out = p->ref_atty + l * BT * A, t.neurons_out = p->ref_fch + l * BT * H;
    }
    t.keep_mid = 1;
    return t;
}

// The reference stream's block outputs of layer l for the clean stream's backward. The
// forward keeps the residual stream at both block boundaries for both streams and the
// reference's heads and neurons (ref_atty[l], ref_fch[l]); each block's output is the
// difference of the two residuals around it, so the backward recomputes no GEMM of the
// reference stream (storing its heads and neurons saves 7 of a layer's 12 C^2 of
// recomputation).
static void ref_block_outputs(Pruner *p, int l, int B, int T) {
    size_t N = (size_t)B * T * p->m->config.C;
    LayerActs *a = &p->ar;
    const float *x = resid_at(p, p->resid, l, N), *mid = resid_at(p, p->resid2, l, N),
                *y = resid_at(p, p->resid, l + 1, N);
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < N; i++) {
        a->attproj[i] = mid[i] - x[i];
        a->fcproj[i] = y[i] - mid[i];
    }
}

// Layer l of both streams (corrupted ablation): the one block over 2B examples, reference
// rows first (p->ar's first half; p->ac its second). The reference's heads and neurons
// are written straight into their store (ref_atty[l], ref_fch[l]) and the clean ones are
// gated in place in the slot after it, which layer l+1's reference overwrites. The last
// layer's backward reads the clean heads and neurons before their gates (it is not
// recomputed): its heads stay in p->ac (the gated ones are copied to p->atty_out), and
// its neurons, gated in place like every layer's, are recomputed from the pre-activation
// (one GELU, cheaper than keeping a 4C-wide tensor).
static void pair_forward(Pruner *p, const PointGates *pg, int l, int n, int T) {
    const GPT2Config *c = &p->m->config;
    size_t N = (size_t)n * T * c->C;
    int last = l == c->L - 1;
    LayerWeights w = gpt2_layer_weights(p->m, l);
    BlockTaps t = taps_at(p, pg, NULL, l, n, T, 1, 1);
    t.keep_mid = 0;
    LayerActs a = p->ar;
    a.resid2 = resid_at(p, p->resid2, l, N);
    a.fch_gelu = t.neurons_out;  // the last layer's backward recomputes its clean neurons
    if (!last) a.atty = t.heads_out;
    block_forward(resid_at(p, p->resid, l + 1, N), &a, resid_at(p, p->resid, l, N), &w, c, 2 * n, T, &t);
    if (last) memcpy(p->atty_out, t.heads_out + (size_t)n * T * cfg_attn_width(c), sizeof(float) * (size_t)n * T * cfg_attn_width(c));
}

// Loads examples idx[0..n) of t into the token buffers, right-padded to their longest.
int pruner_load_chunk(Pruner *p, const Task *t, const int *idx, int n) {
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
void pruner_forward_chunk(Pruner *p, const PointGates *pg, int n, int T, int need_ref, double *stats) {
    const GPT2 *m = p->m;
    const GPT2Config *c = &m->config;
    int C = c->C, BT = n * T, two = ABLATIONS[p->cfg.ablation].streams == 2, pair = two && need_ref;
    size_t N = (size_t)BT * C;
    if (two) layer_acts_second_half(&p->ac, &p->ar, c, n, T);
    embed_forward(p->emb_c, p->tok_c, m, n, T);
    if (pair) embed_forward(p->resid, p->tok_r, m, n, T);
    Tap emb = {pg->emb, NULL, 0, NULL};
    ablation_emb_ref(&emb, p, pair);
    interchange_forward(clean_at(p, p->resid, 0, N), p->emb_c, emb.ref, emb.ref_stride, emb.z, BT, C);
    for (int l = 0; l < c->L; l++) {
        if (pair) {
            pair_forward(p, pg, l, n, T);
            continue;
        }
        LayerWeights w = gpt2_layer_weights(m, l);
        BlockTaps t = taps_at(p, pg, NULL, l, n, T, 0, 0);
        t.keep_mid = 0;
        LayerActs a = p->ac;
        a.resid2 = clean_at(p, p->resid2, l, N);
        block_forward(clean_at(p, p->resid, l + 1, N), &a, clean_at(p, p->resid, l, N), &w, c, n, T, &t);
        if (stats) ablation_accumulate_means(stats, p, &a, l, n, T);
    }
    head_forward(p->logits, p->lnf_in, p->lnf, p->lnf_mean, p->lnf_rstd, clean_at(p, p->resid, c->L, N), p->pos, n, m);
    log_softmax_forward(p->logp, p->logits, n, c->V, c->Vp);
}

// From dlogits (n,Vp), accumulates dL/dz at every gated point into p->dpg. The buffers of
// the last layer still hold the forward's values; other layers are recomputed first.
static void backward_chunk(Pruner *p, const PointGates *pg, int n, int T) {
    const GPT2 *m = p->m;
    const GPT2Config *c = &m->config;
    int C = c->C, BT = n * T, two = ABLATIONS[p->cfg.ablation].streams == 2;
    size_t N = (size_t)BT * C;
    if (two) layer_acts_second_half(&p->ac, &p->ar, c, n, T);
    memset(p->dresid, 0, sizeof(float) * N);
    head_backward(p->dresid, p->dlnf_in, p->dlnf, NULL, p->dlogits, p->lnf_in, p->lnf, p->lnf_mean, p->lnf_rstd,
                  p->pos, n, m);
    for (int l = c->L - 1; l >= 0; l--) {
        LayerWeights w = gpt2_layer_weights(m, l);
        BlockTaps t = taps_at(p, pg, &p->dpg, l, n, T, 0, 1);
        LayerActs a = p->ac;
        a.resid2 = clean_at(p, p->resid2, l, N);
        const float *inp = clean_at(p, p->resid, l, N);
        if (l < c->L - 1) {
            if (two) ref_block_outputs(p, l, n, T);
            block_forward(NULL, &a, inp, &w, c, n, T, &t);
        } else if (two) {  // the forward gated the last layer's neurons in place (pair_forward)
            a.fch_gelu = p->fch_out;
            block_neurons_recompute(a.fch_gelu, &a, c, n, T);
        }
        block_backward(p->dresid, &p->d, NULL, &a, inp, &w, c, n, T, &t);
    }
    Tap emb = {pg->emb, NULL, 0, p->dpg.emb};
    ablation_emb_ref(&emb, p, 1);
    interchange_backward(p->d.dout, emb.dz, p->dresid, p->emb_c, emb.ref, emb.ref_stride, emb.z, BT, C);
}

// --- full-model targets and means ----------------------------------------------------------

int pruner_compute_means(Pruner *p, const Task *train, PruneErr *err) {
    const GPT2Config *c = &p->m->config;
    size_t n = points_floats(c);
    double *sum = pcalloc(sizeof(double) * n, "mean-ablation sums", err);
    if (!sum) return -1;
    long count = 0;
    int idx[1024];
    for (int s = 0; s < train->n; s += p->maxB) {
        int k = train->n - s < p->maxB ? train->n - s : p->maxB;
        for (int b = 0; b < k; b++) idx[b] = s + b, count += train->ex[s + b].len;
        int T = pruner_load_chunk(p, train, idx, k);
        pruner_forward_chunk(p, &p->ones, k, T, 0, sum);
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
    if (bytes > p->cfg.run.max_target_bytes) return 0;  // recomputed each step instead
    p->targets = palloc(bytes, "the full model's answer log-probabilities", err);
    if (!p->targets) return -1;
    int idx[1024];
    for (int s = 0; s < train->n; s += p->maxB) {
        int k = train->n - s < p->maxB ? train->n - s : p->maxB;
        for (int b = 0; b < k; b++) idx[b] = s + b;
        int T = pruner_load_chunk(p, train, idx, k);
        pruner_forward_chunk(p, &p->ones, k, T, 0, NULL);
        memcpy(p->targets + (size_t)s * c->V, p->logp, sizeof(float) * (size_t)k * c->V);
    }
    p->n_targets = train->n;
    return 0;
}

// --- loss ------------------------------------------------------------------------------

// KL(full || circuit) of each example of the chunk, summed, and dlogits for weight w
// (dKL/dlogp_circuit = -p_full). full: (n,V) log-probs.
double pruner_kl_chunk(Pruner *p, const float *full, int n, float w, int want_grad, double *each) {
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
        if (each) each[b] = kl;
    }
    if (want_grad) {
        memset(p->dlogits, 0, sizeof(float) * (size_t)n * c->Vp);
        log_softmax_backward(p->dlogits, p->dlogp, p->logp, n, V, c->Vp);
    }
    return total;
}

// Runs idx[0..B) chunk by chunk with the gates in p->pg; returns the mean KL. With
// backward, dL/dz at the points is accumulated into p->dpg (zeroed here).
double pruner_run_batch(Pruner *p, const Task *t, const int *idx, int B, int backward) {
    const GPT2Config *c = &p->m->config;
    size_t npg = points_floats(c);
    if (backward) memset(p->dpg.mem, 0, sizeof(float) * npg);
    int cached = p->targets && t == p->target_task;
    float *full = p->full_buf;
    double kl = 0;
    for (int s = 0; s < B; s += p->maxB) {
        int n = B - s < p->maxB ? B - s : p->maxB;
        int T = pruner_load_chunk(p, t, idx + s, n);
        if (cached) {
            for (int b = 0; b < n; b++)
                memcpy(full + (size_t)b * c->V, p->targets + (size_t)idx[s + b] * c->V,
                       sizeof(float) * c->V);
        } else {  // past the cache limit: the full model again, chunk by chunk
            pruner_forward_chunk(p, &p->ones, n, T, 0, NULL);
            memcpy(full, p->logp, sizeof(float) * (size_t)n * c->V);
        }
        pruner_forward_chunk(p, &p->pg, n, T, 1, NULL);
        kl += pruner_kl_chunk(p, full, n, 1.0f / B, backward, NULL);
        if (backward) backward_chunk(p, &p->pg, n, T);
    }
    return kl / B;
}

double pruner_kl(Pruner *p, const Task *t, const int *idx, int B, int backward) {
    point_gates_from_masks(&p->pg, &p->masks);
    double kl = pruner_run_batch(p, t, idx, B, backward);
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
        int T = pruner_load_chunk(p, t, idx + s, n);
        pruner_forward_chunk(p, &p->pg, n, T, 1, NULL);
        memcpy(out + (size_t)s * c->Vp, p->logits, sizeof(float) * (size_t)n * c->Vp);
    }
}

