// test_prune.c: the pruner on tiny random models. d KL / d log_alpha from the engine
// equals central finite differences for every gate of every granularity under each
// ablation (deterministic gates); all gates 1 gives KL 0; all gates 0 with corrupted
// ablation gives the full model's output on the corrupted prompt; chunking does not change
// the gradient; the readout's consistency rules; same seed, same masks.
//
// Tolerances: finite differences with eps 1e-2 on log_alpha. The KL (~0.15) is a sum over
// float32 log-probabilities, each off by ~1e-7, so a central difference carries ~5e-6 of
// rounding noise (smaller eps is noisier, larger eps adds truncation error); the gradients
// are 1e-4..6e-3: atol 1e-5, rtol 1e-2. The tiny Llama (weights std 0.5) has a noisier KL
// (central differences at eps 1e-2 scatter by ~1e-5 around the analytic value, which they
// approach within 1e-6 at eps 0.04-0.08): eps 2e-2 there. A reference stream left one layer stale, or a
// product-rule slip, is off by 1e-4 or more. Identities: 1e-6 (exact up to summation order).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "baselines.h"
#include "helpers.h"
#include "kernels.h"
#include "log_csv.h"
#include "prune.h"

// A task of n random examples for a model with vocabulary V.
static Task random_task(int n, int V, int maxlen, uint64_t seed) {
    Task t = {0};
    Rng r;
    rng_seed(&r, seed);
    t.ex = calloc((size_t)n, sizeof(TaskExample));
    t.ids = calloc((size_t)n * (2 * maxlen + 4), sizeof(int));
    int *q = t.ids;
    for (int i = 0; i < n; i++) {
        TaskExample *e = &t.ex[i];
        e->line = i + 1;
        e->len = 2 + (int)(rng_u64(&r) % (uint64_t)(maxlen - 1));
        e->clean = q, q += e->len;
        e->corrupt = q, q += e->len;
        for (int k = 0; k < e->len; k++) {
            e->clean[k] = (int)(rng_u64(&r) % (uint64_t)V);
            e->corrupt[k] = k == e->len / 2 ? (int)(rng_u64(&r) % (uint64_t)V) : e->clean[k];
        }
        e->correct = q, e->n_correct = 2, q += 2;
        e->wrong = q, e->n_wrong = 2, q += 2;
        e->correct[0] = 1, e->correct[1] = 2, e->wrong[0] = 3, e->wrong[1] = 4;
        if (e->len > t.max_len) t.max_len = e->len;
    }
    t.n = n;
    snprintf(t.path, sizeof t.path, "random");
    return t;
}

typedef struct {
    Pruner *p;
    Task *t;
    int *idx, B;
} KlCtx;

static double kl_loss(void *vp) {
    KlCtx *k = vp;
    masks_deterministic(&k->p->masks);
    return pruner_kl(k->p, k->t, k->idx, k->B, 0);
}

static void build(Pruner *p, GPT2 *m, AblationKind ab, int chunk, int batch, Task *t) {
    PruneErr err;
    PruneConfig cfg;
    prune_config_defaults(&cfg);
    cfg.ablation = ab;
    cfg.chunk = chunk;
    cfg.batch = batch;
    if (pruner_build(p, m, &cfg, t->max_len, &err)) fail_msg("%s", err.msg);
    if (ab == ABL_MEAN) assert_int_equal(pruner_compute_means(p, t, &err), 0);
    assert_int_equal(pruner_prepare_targets(p, t, &err), 0);
}

static void check_gradient_every_gate_every_ablation(GPT2Config c) {
    GPT2 m;
    PruneErr err;
    assert_int_equal(gpt2_build_random(&m, &c, 21, cfg_is_llama(&c) ? 0.5f : 1.0f, &err), 0);
    Task t = random_task(5, c.V, 6, 3);
    int idx[5] = {0, 1, 2, 3, 4};
    for (int ab = 0; ab < 3; ab++) {
        Pruner p;
        build(&p, &m, (AblationKind)ab, 2, 5, &t);  // chunks of 2: accumulation is in the check
        Rng r;
        rng_seed(&r, 100 + ab);
        // gates strictly inside (0, 1), where the deterministic gate is differentiable
        for (size_t i = 0; i < p.masks.total; i++) p.masks.log_alpha[i] = -1.5f + 3.0f * rng_uniform(&r);
        masks_deterministic(&p.masks);
        pruner_kl(&p, &t, idx, 5, 1);
        float *g = malloc(sizeof(float) * p.masks.total);
        for (size_t i = 0; i < p.masks.total; i++) g[i] = p.masks.dz[i] * p.masks.dzdla[i];
        KlCtx k = {&p, &t, idx, 5};
        for (int gr = 0; gr < NUM_GRAN; gr++) {
            char what[96];
            snprintf(what, sizeof what, "dKL/dlog_alpha %s, %s ablation", GRANULARITIES[gr].name, ABLATIONS[ab].name);
            fd_check(what, kl_loss, &k, p.masks.log_alpha + p.masks.off[gr], g + p.masks.off[gr],
                     NULL, (size_t)p.masks.count[gr], cfg_is_llama(&c) ? 2e-2f : 1e-2f, 1e-5, 1e-2);
        }
        free(g);
        pruner_free(&p);
    }
    task_free(&t);
    gpt2_free(&m);
}
static void test_gradient_every_gate_every_ablation(void **state) {
    (void)state;
    check_gradient_every_gate_every_ablation(tiny_config());
}
// the same on a tiny Llama: GQA, RoPE, SwiGLU neurons, RMSNorm, q/k/v biases, untied head
static void test_gradient_every_gate_every_ablation_llama(void **state) {
    (void)state;
    check_gradient_every_gate_every_ablation(tiny_llama_config());
}

static void check_identities(GPT2Config c) {
    GPT2 m;
    PruneErr err;
    assert_int_equal(gpt2_build_random(&m, &c, 22, 0.5f, &err), 0);
    Task t = random_task(6, c.V, 7, 4);
    int idx[6] = {0, 1, 2, 3, 4, 5};
    for (int ab = 0; ab < 3; ab++) {
        Pruner p;
        build(&p, &m, (AblationKind)ab, 4, 6, &t);
        masks_set(&p.masks, NULL);  // every gate 1: the full model
        double kl = pruner_kl(&p, &t, idx, 6, 0);
        if (!(fabs(kl) < 1e-6)) fail_msg("%s: all gates 1 gives KL %g", ABLATIONS[ab].name, kl);
        pruner_free(&p);
    }
    // all gates 0, corrupted ablation: the full model on the corrupted prompts
    Pruner p;
    build(&p, &m, ABL_CORRUPTED, 4, 6, &t);
    unsigned char *zero = calloc(p.masks.total, 1);
    masks_set(&p.masks, zero);
    float *got = malloc(sizeof(float) * 6 * c.Vp);
    pruner_forward_logits(&p, &t, idx, 6, got);
    GPT2Workspace ws;
    assert_int_equal(gpt2_workspace_build(&ws, &c, 1, 7, 1, 1, &err), 0);
    for (int i = 0; i < 6; i++) {
        const TaskExample *e = &t.ex[i];
        int pos = e->len - 1;
        assert_int_equal(gpt2_forward(&m, &ws, e->corrupt, &e->len, 1, e->len, &pos, 1, &err), 0);
        assert_close("all gates 0 == full model on the corrupted prompt", got + (size_t)i * c.Vp,
                     ws.logits, (size_t)c.V, 1e-5, 1e-5);
    }
    gpt2_workspace_free(&ws);
    free(zero), free(got);
    pruner_free(&p);
    task_free(&t);
    gpt2_free(&m);
}
static void test_identities(void **state) {
    (void)state;
    check_identities(tiny_config());
}
// the same on a tiny Llama: GQA, RoPE, SwiGLU neurons, RMSNorm, q/k/v biases, untied head
static void test_identities_llama(void **state) {
    (void)state;
    check_identities(tiny_llama_config());
}

static void check_chunking_does_not_change_gradients(GPT2Config c) {
    GPT2 m;
    PruneErr err;
    assert_int_equal(gpt2_build_random(&m, &c, 23, 0.5f, &err), 0);
    Task t = random_task(7, c.V, 8, 5);
    int idx[7] = {6, 0, 5, 1, 4, 2, 3};
    Pruner a, b;
    build(&a, &m, ABL_CORRUPTED, 7, 7, &t);
    build(&b, &m, ABL_CORRUPTED, 2, 7, &t);
    masks_deterministic(&a.masks);
    masks_deterministic(&b.masks);
    double ka = pruner_kl(&a, &t, idx, 7, 1), kb = pruner_kl(&b, &t, idx, 7, 1);
    assert_true(fabs(ka - kb) < 1e-6);
    assert_close("dz, one chunk vs chunks of 2", b.masks.dz, a.masks.dz, a.masks.total, 1e-6, 1e-4);
    pruner_free(&a), pruner_free(&b);
    task_free(&t);
    gpt2_free(&m);
}
static void test_chunking_does_not_change_gradients(void **state) {
    (void)state;
    check_chunking_does_not_change_gradients(tiny_config());
}
// the same on a tiny Llama: GQA, RoPE, SwiGLU neurons, RMSNorm, q/k/v biases, untied head
static void test_chunking_does_not_change_gradients_llama(void **state) {
    (void)state;
    check_chunking_does_not_change_gradients(tiny_llama_config());
}

static void test_readout_consistency(void **state) {
    (void)state;
    GPT2Config c = tiny_config();  // L=2, NH=2, C=8, hs=4
    Masks mk;
    PruneErr err;
    int en[NUM_GRAN] = {1, 1, 1, 1, 1, 1, 1, 1};
    assert_int_equal(masks_build(&mk, &c, en, &err), 0);
    for (size_t i = 0; i < mk.total; i++) mk.log_alpha[i] = 1.0f;  // keep everything ...
    mk.log_alpha[mk.off[G_HEAD] + 0] = -1;  // layer 0 head 0 pruned: its dims go too
    for (int d = 0; d < 4; d++) mk.log_alpha[mk.off[G_ATTN_DIM] + 8 + 4 + d] = -1;  // layer 1 head 1: all dims pruned
    mk.log_alpha[mk.off[G_MLP] + 1] = -1;  // layer 1 MLP pruned: neurons and out dims go
    unsigned char *keep = malloc(mk.total);
    masks_readout(&mk, keep);
    for (int d = 0; d < 4; d++) assert_int_equal(keep[mk.off[G_ATTN_DIM] + d], 0);
    assert_int_equal(keep[mk.off[G_HEAD] + 2 + 1], 0);  // upward: a head without dims
    for (int i = 0; i < 32; i++) assert_int_equal(keep[mk.off[G_NEURON] + 32 + i], 0);
    for (int i = 0; i < 8; i++) assert_int_equal(keep[mk.off[G_MLP_OUT] + 8 + i], 0);
    assert_int_equal(keep[mk.off[G_LAYER] + 1], 1);  // its attention still has head 0
    // layer 1: prune the remaining head -> attention pruned -> both blocks pruned -> layer pruned
    mk.log_alpha[mk.off[G_HEAD] + 2] = -1;
    masks_readout(&mk, keep);
    assert_int_equal(keep[mk.off[G_ATTN] + 1], 0);
    assert_int_equal(keep[mk.off[G_LAYER] + 1], 0);
    // an MLP whose neurons are all pruned is pruned; a pruned layer prunes everything in it
    for (size_t i = 0; i < mk.total; i++) mk.log_alpha[i] = 1.0f;
    for (int i = 0; i < 32; i++) mk.log_alpha[mk.off[G_NEURON] + i] = -1;
    mk.log_alpha[mk.off[G_LAYER] + 1] = -1;
    masks_readout(&mk, keep);
    assert_int_equal(keep[mk.off[G_MLP] + 0], 0);
    assert_int_equal(keep[mk.off[G_ATTN] + 0], 1);
    assert_int_equal(keep[mk.off[G_ATTN] + 1], 0);
    assert_int_equal(keep[mk.off[G_HEAD] + 3], 0);
    assert_int_equal(keep[mk.off[G_NEURON] + 40], 0);
    // weight share: all kept = 1, layer 1 gone and layer 0 MLP gone = attention of layer 0 only
    double share = circuit_weight_share(&mk, keep, -1);
    assert_true(fabs(share - (4.0 * 8 * 8) / (2 * 12.0 * 8 * 8)) < 1e-12);
    // a disabled granularity counts as kept
    mk.enabled[G_NEURON] = 0;
    masks_readout(&mk, keep);
    assert_int_equal(keep[mk.off[G_MLP] + 0], 1);
    free(keep);
    masks_free(&mk);
}

// The weight share on the tiny Llama (C 12, 4 query heads over 2 K/V heads of size 4, A 16,
// SwiGLU H 10): one layer's matrices are q 16x12 + k 8x12 + v 8x12 + o 12x16 + gate/up 20x12 +
// down 12x10 = 936. Counted by hand: K/V rows are shared by a group, gate+up per neuron.
static void test_weight_share_llama(void **state) {
    (void)state;
    GPT2Config c = tiny_llama_config();
    Masks mk;
    PruneErr err;
    int en[NUM_GRAN] = {1, 1, 1, 1, 1, 1, 1, 1};
    assert_int_equal(masks_build(&mk, &c, en, &err), 0);
    assert_true(mk.block_weights == 936.0);
    unsigned char *keep = calloc(mk.total, 1);
    // layer 0: query heads 0 and 1 (one group, K/V head 0) with dims {0,1} and {1,2}; neurons 3, 7
    // with mlp_out dims 0..4
    keep[mk.off[G_HEAD] + 0] = keep[mk.off[G_HEAD] + 1] = 1;
    keep[mk.off[G_ATTN_DIM] + 0] = keep[mk.off[G_ATTN_DIM] + 1] = 1;
    keep[mk.off[G_ATTN_DIM] + 4 + 1] = keep[mk.off[G_ATTN_DIM] + 4 + 2] = 1;
    keep[mk.off[G_NEURON] + 3] = keep[mk.off[G_NEURON] + 7] = 1;
    for (int i = 0; i < 5; i++) keep[mk.off[G_MLP_OUT] + i] = 1;
    // Q: 2 heads x 4 x 12 = 96; o columns: 4 dims x 12 = 48; K of group 0: 48; V rows of dims
    // {0,1,2} of K/V head 0: 36; neurons: 2 x (12 + 12) + 2 x 5 = 58 -> 286
    double want0 = (96 + 48 + 48 + 36 + 58) / 936.0;
    assert_true(fabs(circuit_weight_share(&mk, keep, 0) - want0) < 1e-12);
    // plus head 3 in layer 1 (group 1) with dim 0: Q 48 + o 12 + K 48 + V 12 = 120
    keep[mk.off[G_HEAD] + 4 + 3] = 1;
    keep[mk.off[G_ATTN_DIM] + 16 + 12] = 1;
    assert_true(fabs(circuit_weight_share(&mk, keep, 1) - 120 / 936.0) < 1e-12);
    assert_true(fabs(circuit_weight_share(&mk, keep, -1) - (286 + 120) / (2 * 936.0)) < 1e-12);
    free(keep);
    masks_free(&mk);
}

static void test_same_seed_same_masks(void **state) {
    (void)state;
    GPT2 m;
    PruneErr err;
    GPT2Config c = tiny_config();
    assert_int_equal(gpt2_build_random(&m, &c, 24, 0.5f, &err), 0);
    Task t = random_task(8, c.V, 6, 6);
    float *la[2];
    for (int k = 0; k < 2; k++) {
        Pruner p;
        PruneConfig cfg;
        prune_config_defaults(&cfg);
        cfg.steps = 15, cfg.batch = 4, cfg.seed = 9;
        assert_int_equal(pruner_build(&p, &m, &cfg, t.max_len, &err), 0);
        assert_int_equal(pruner_prepare_targets(&p, &t, &err), 0);
        int nf;
        assert_int_equal(pruner_train(&p, &t, &nf, &err), 15);
        la[k] = malloc(sizeof(float) * p.masks.total);
        memcpy(la[k], p.masks.log_alpha, sizeof(float) * p.masks.total);
        size_t n = p.masks.total;
        pruner_free(&p);
        if (k) assert_memory_equal(la[0], la[1], sizeof(float) * n);
    }
    free(la[0]), free(la[1]);
    task_free(&t);
    gpt2_free(&m);
}

// Stopping at step 7 (the stop flag), saving, and resuming in a fresh pruner ends at the
// same bytes as 15 uninterrupted steps; in KL-budget mode so the controller's state and the
// best-circuit snapshot are part of what must survive.
static void test_resume_equals_uninterrupted(void **state) {
    (void)state;
    GPT2 m;
    PruneErr err;
    GPT2Config c = tiny_config();
    assert_int_equal(gpt2_build_random(&m, &c, 24, 0.5f, &err), 0);
    Task t = random_task(10, c.V, 6, 6);
    const char *ck = tmp_path("resume.ck");
    PruneConfig cfg;
    prune_config_defaults(&cfg);
    cfg.steps = 15, cfg.batch = 4, cfg.seed = 5;  // 10 examples, batch 4: epochs reshuffle
    float *la[2];
    size_t n = 0;
    for (int k = 0; k < 2; k++) {
        Pruner p;
        int nf;
        volatile sig_atomic_t stop = 0;
        PruneConfig c2 = cfg;
        if (k == 1) c2.run.checkpoint = ck, c2.run.checkpoint_every = 3, c2.run.stop = &stop;
        assert_int_equal(pruner_build(&p, &m, &c2, t.max_len, &err), 0);
        assert_int_equal(pruner_prepare_targets(&p, &t, &err), 0);
        if (k == 1) {
            p.cfg.steps = 7;  // the first run "stops" after 7 steps, as after Ctrl-C
            assert_int_equal(pruner_train(&p, &t, &nf, &err), 7);
            // a checkpoint at step 7 needs steps < cfg.steps: save explicitly like the stop path
            p.cfg.steps = 15;
            assert_int_equal(pruner_save(&p, &t, ck, &err), 0);
            pruner_free(&p);
            assert_int_equal(pruner_build(&p, &m, &c2, t.max_len, &err), 0);
            assert_int_equal(pruner_prepare_targets(&p, &t, &err), 0);
            assert_int_equal(pruner_resume(&p, &t, ck, &err), 0);
            assert_int_equal(p.step, 7);
        }
        assert_int_equal(pruner_train(&p, &t, &nf, &err), 15);
        n = p.masks.total;
        la[k] = malloc(sizeof(float) * n);
        memcpy(la[k], p.masks.log_alpha, sizeof(float) * n);
        pruner_free(&p);
    }
    assert_memory_equal(la[0], la[1], sizeof(float) * n);
    free(la[0]), free(la[1]);
    // another seed: the fingerprint refuses the checkpoint
    Pruner p;
    cfg.seed = 6;
    assert_int_equal(pruner_build(&p, &m, &cfg, t.max_len, &err), 0);
    assert_int_equal(pruner_resume(&p, &t, ck, &err), -1);
    assert_non_null(strstr(err.msg, "another model, task split or settings"));
    pruner_free(&p);
    task_free(&t);
    gpt2_free(&m);
}

static void test_checkpoint_rejections(void **state) {
    (void)state;
    GPT2 m;
    PruneErr err;
    GPT2Config c = tiny_config();
    assert_int_equal(gpt2_build_random(&m, &c, 24, 0.5f, &err), 0);
    Task t = random_task(4, c.V, 6, 6);
    Pruner p;
    PruneConfig cfg;
    prune_config_defaults(&cfg);
    assert_int_equal(pruner_build(&p, &m, &cfg, t.max_len, &err), 0);
    const char *ck = tmp_path("reject.ck");
    assert_int_equal(pruner_save(&p, &t, ck, &err), 0);
    char *buf;
    size_t len;
    assert_int_equal(read_file(ck, &buf, &len, &err), 0);
    CheckpointHead h;
    size_t total = p.masks.total;
    assert_int_equal(checkpoint_parse(buf, len, total, "ck", &h, &err), 0);
    assert_int_equal(h.step, 0);
    assert_int_equal(checkpoint_parse(buf, 10, total, "ck", &h, &err), -1);
    assert_non_null(strstr(err.msg, "not a prune checkpoint"));
    assert_int_equal(checkpoint_parse(buf, len - 4, total, "ck", &h, &err), -1);
    assert_non_null(strstr(err.msg, "truncated"));
    assert_int_equal(checkpoint_parse(buf, len, total + 1, "ck", &h, &err), -1);
    assert_non_null(strstr(err.msg, "field total"));
    buf[len / 2] ^= 1;  // one flipped bit in the arrays
    assert_int_equal(checkpoint_parse(buf, len, total, "ck", &h, &err), -1);
    assert_non_null(strstr(err.msg, "checksum"));
    buf[len / 2] ^= 1;
    buf[8] = 9;  // version
    assert_int_equal(checkpoint_parse(buf, len, total, "ck", &h, &err), -1);
    assert_non_null(strstr(err.msg, "version"));
    buf[8] = 2;
    // a NaN in the state, with a checksum that matches it: refused, naming the field
    const size_t head = 8 + 4 + 8 + 4 + 4 + 8 + 8 + 8 * NUM_GRAN + 16 + 8;
    struct { size_t off; const char *needle; } nan_at[] = {
        {head + 4 * 3, "field log_alpha[3] is nan"},
        {head + 4 * (total + 1), "field adam_m[1] is nan"},
        {8 + 4 + 8 + 4 + 4 + 8, "field kl_ema is nan"},
        {8 + 4 + 8 + 4 + 4 + 8 + 8 + 8 * 2, "field lambda[2] is nan"},
        {8 + 4 + 8 + 4 + 4 + 8 + 8 + 8 * NUM_GRAN, "field best_lambda/dual_scale is nan"},
    };
    for (size_t k = 0; k < sizeof nan_at / sizeof nan_at[0]; k++) {
        char *b = malloc(len);
        memcpy(b, buf, len);
        int is_double = nan_at[k].off < head;
        if (is_double) {
            double v = NAN;
            memcpy(b + nan_at[k].off, &v, 8);
        } else {
            float v = NAN;
            memcpy(b + nan_at[k].off, &v, 4);
        }
        uint64_t sum = 0xCBF29CE484222325ull;
        for (size_t i = 0; i < len - 8; i++) sum = (sum ^ (unsigned char)b[i]) * 0x100000001B3ull;
        memcpy(b + len - 8, &sum, 8);
        assert_int_equal(checkpoint_parse(b, len, total, "ck", &h, &err), -1);
        if (!strstr(err.msg, nan_at[k].needle)) fail_msg("case %zu: %s", k, err.msg);
        free(b);
    }
    free(buf);
    // The fingerprint covers every setting that shapes the result: the same run resumes; a
    // different chunk (float sums split otherwise) or changed corrupted prompts do not.
    Pruner q;
    assert_int_equal(pruner_build(&q, &m, &cfg, t.max_len, &err), 0);
    assert_int_equal(pruner_resume(&q, &t, ck, &err), 0);
    pruner_free(&q);
    PruneConfig other = cfg;
    other.chunk = 1;
    assert_int_equal(pruner_build(&q, &m, &other, t.max_len, &err), 0);
    assert_int_equal(pruner_resume(&q, &t, ck, &err), -1);
    assert_non_null(strstr(err.msg, "ck"));
    pruner_free(&q);
    t.ex[2].corrupt[1] = (t.ex[2].corrupt[1] + 1) % c.V;
    assert_int_equal(pruner_build(&q, &m, &cfg, t.max_len, &err), 0);
    assert_int_equal(pruner_resume(&q, &t, ck, &err), -1);
    pruner_free(&q);
    pruner_free(&p);
    task_free(&t);
    gpt2_free(&m);
}

// A NaN weight makes the loss non-finite at the first step: the run stops with an error
// and the masks are those before that step (the initial ones), not NaN.
static void test_nonfinite_loss_keeps_last_masks(void **state) {
    (void)state;
    GPT2 m;
    PruneErr err;
    GPT2Config c = tiny_config();
    assert_int_equal(gpt2_build_random(&m, &c, 24, 0.5f, &err), 0);
    Task t = random_task(4, c.V, 6, 6);
    Pruner p;
    PruneConfig cfg;
    prune_config_defaults(&cfg);
    cfg.steps = 5, cfg.batch = 4;
    assert_int_equal(pruner_build(&p, &m, &cfg, t.max_len, &err), 0);
    assert_int_equal(pruner_prepare_targets(&p, &t, &err), 0);
    float *init = malloc(sizeof(float) * p.masks.total);
    memcpy(init, p.masks.log_alpha, sizeof(float) * p.masks.total);
    m.params.attprojw[3] = NAN;  // after the targets: the full model was finite
    int nf = 0;
    assert_int_equal(pruner_train(&p, &t, &nf, &err), -1);
    assert_int_equal(nf, 1);
    assert_non_null(strstr(err.msg, "not finite"));
    assert_int_equal(p.step, 0);
    assert_memory_equal(init, p.masks.log_alpha, sizeof(float) * p.masks.total);
    free(init);
    pruner_free(&p);
    task_free(&t);
    gpt2_free(&m);
}

// The plan computed before allocation matches what pruner_build allocates.
static void test_memory_plan_matches_allocation(void **state) {
    (void)state;
    GPT2 m;
    PruneErr err;
    GPT2Config c = tiny_config();
    assert_int_equal(gpt2_build_random(&m, &c, 24, 0.5f, &err), 0);
    for (int ab = 0; ab < 3; ab++) {
        PruneConfig cfg;
        prune_config_defaults(&cfg);
        cfg.ablation = (AblationKind)ab;
        cfg.batch = 5;
        MemoryPlan mp = pruner_plan(&m, &cfg, 6, 10);
        Pruner p;
        assert_int_equal(pruner_build(&p, &m, &cfg, 6, &err), 0);
        size_t ws = p.nfloats * sizeof(float) + sizeof(float) * (size_t)p.maxB * (c.V + c.Vp) +
                    sizeof(int) * (2 * (size_t)p.maxB * p.maxT + 2 * (size_t)p.maxB);
        assert_int_equal(mp.workspace, ws);
        assert_int_equal(mp.chunk, p.maxB);
        assert_int_equal(mp.targets, 10 * c.V * sizeof(float));
        assert_int_equal(mp.weights, m.num_parameters * sizeof(float));
        assert_true(mp.masks >= 7 * p.masks.total * sizeof(float));
        pruner_free(&p);
    }
    gpt2_free(&m);
}

// --- planted circuit ------------------------------------------------------------------
// C = 32, NH = 4 (hs 8), L = 2, V = 8 (tokens 0..3 content, 4..7 filler), maxT = 8.
// Task: the prompt is [A, filler x4]; the answer is A; the corruption changes A to B.
// Residual dims: 0,1 a constant +-40 (LayerNorm's std is then ~10 whatever else is written,
// so LayerNorm is close to linear and writes elsewhere hardly move it); 2..5 the token's
// identity; 6..9 the answer (the only dims the final LayerNorm and the unembedding read);
// 10..13 an intermediate copy; 14 a position-0 marker; 15..31 junk.
// Planted: layer 0 head 0 attends to position 0 and copies dims 2..5 into 10..13 (its head
// dims 0..3); layer 1 neurons 0..3 read 10..13 and write 6..9. Every other head and neuron
// has random weights but writes only into junk dims, which nothing downstream reads; their
// write matrices have zero column sums, so they do not move the residual's mean either (a
// LayerNorm subtracts it from every dim: random-sign junk shifted it by ~0.5 and moved the
// planted neurons' thresholds). They still change LayerNorm's variance, by ~1%.
enum { PC = 32, PNH = 4, PHS = 8, PL = 2, PV = 8 };

static void planted_model(GPT2 *m, uint64_t seed) {
    PruneErr err;
    GPT2Config c = {.maxT = 8, .V = PV, .Vp = PV, .L = PL, .NH = PNH, .C = PC};
    gpt2_config_defaults(&c);
    assert_int_equal(gpt2_build_random(m, &c, seed, 0.5f, &err), 0);
    ParameterTensors *p = &m->params;
    Rng r;
    rng_seed(&r, seed + 1);
    memset(p->wte, 0, sizeof(float) * PV * PC);
    for (int v = 0; v < 4; v++) p->wte[v * PC + 2 + v] = 1.0f, p->wte[v * PC + 6 + v] = 1.0f;
    memset(p->wpe, 0, sizeof(float) * 8 * PC);
    for (int t = 0; t < 8; t++) p->wpe[t * PC + 0] = 40.0f, p->wpe[t * PC + 1] = -40.0f;
    p->wpe[0 * PC + 14] = 1.0f;
    for (int l = 0; l < PL; l++) {
        float *ln1w = p->ln1w + l * PC, *ln1b = p->ln1b + l * PC, *ln2w = p->ln2w + l * PC, *ln2b = p->ln2b + l * PC;
        memset(ln1w, 0, sizeof(float) * PC), memset(ln1b, 0, sizeof(float) * PC);
        memset(ln2w, 0, sizeof(float) * PC), memset(ln2b, 0, sizeof(float) * PC);
        // the blocks read identity, intermediate and marker dims (x10 undoes LayerNorm's /10)
        for (int d = 2; d <= 5; d++) ln1w[d] = 10.0f;
        ln1w[14] = 10.0f;
        for (int d = 10; d <= 13; d++) ln2w[d] = 10.0f;
        float *qkvw = p->qkvw + (size_t)l * 3 * PC * PC, *qkvb = p->qkvb + l * 3 * PC;
        float *projw = p->attprojw + (size_t)l * PC * PC, *projb = p->attprojb + l * PC;
        float *fcw = p->fcw + (size_t)l * 4 * PC * PC, *fcb = p->fcb + l * 4 * PC;
        float *fpw = p->fcprojw + (size_t)l * 4 * PC * PC, *fpb = p->fcprojb + l * PC;
        memset(projw, 0, sizeof(float) * PC * PC), memset(projb, 0, sizeof(float) * PC);
        memset(fpw, 0, sizeof(float) * 4 * PC * PC), memset(fpb, 0, sizeof(float) * PC);
        // junk: every other head's output and neuron goes to dims 15..31 with random weights
        // whose columns sum to zero, so a junk write leaves the residual's mean (which every
        // LayerNorm subtracts from the dims the planted units read) unchanged
        for (int o = 15; o < PC; o++) {
            for (int i = 0; i < PC; i++)
                if (!(l == 0 && i < PHS)) projw[o * PC + i] = 0.3f * rng_normal(&r);
            for (int i = 0; i < 4 * PC; i++)
                if (!(l == 1 && i < 4)) fpw[o * 4 * PC + i] = 0.3f * rng_normal(&r);
        }
        for (int i = 0; i < 4 * PC; i++) {
            float s1 = 0, s4 = 0;
            for (int o = 15; o < PC; o++) s4 += fpw[o * 4 * PC + i], s1 += i < PC ? projw[o * PC + i] : 0;
            for (int o = 15; o < PC; o++) {
                fpw[o * 4 * PC + i] -= s4 / (PC - 15);
                if (i < PC) projw[o * PC + i] -= s1 / (PC - 15);
            }
        }
        if (l == 0) {  // planted head 0: query constant, key = position-0 marker, value = identity
            for (int i = 0; i < PHS; i++) {
                for (int k = 0; k < PC; k++)
                    qkvw[(size_t)i * PC + k] = qkvw[(size_t)(PC + i) * PC + k] = qkvw[(size_t)(2 * PC + i) * PC + k] = 0;
                qkvb[i] = qkvb[PC + i] = qkvb[2 * PC + i] = 0;
            }
            qkvb[0] = 5.0f;
            qkvw[(size_t)PC * PC + 14] = 5.0f;  // k[0] = 5 * marker: scores 25/sqrt(8) at position 0
            for (int i = 0; i < 4; i++) {
                qkvw[(size_t)(2 * PC + i) * PC + 2 + i] = 1.0f;  // v[i] = identity dim 2+i
                projw[(10 + i) * PC + i] = 1.0f;                 // -> intermediate dim 10+i
            }
        } else {  // planted neurons 0..3: fire on intermediate dim 10+i, write answer dim 6+i
            for (int i = 0; i < 4; i++) {
                for (int k = 0; k < PC; k++) fcw[(size_t)i * PC + k] = 0;
                fcw[(size_t)i * PC + 10 + i] = 4.0f;
                fcb[i] = -2.0f;
                fpw[(6 + i) * 4 * PC + i] = 2.6f;
            }
        }
    }
    memset(p->lnfw, 0, sizeof(float) * PC), memset(p->lnfb, 0, sizeof(float) * PC);
    for (int d = 6; d <= 9; d++) p->lnfw[d] = 10.0f;
}

static Task planted_task(int n, uint64_t seed) {
    Task t = {0};
    Rng r;
    rng_seed(&r, seed);
    t.ex = calloc((size_t)n, sizeof(TaskExample));
    t.ids = calloc((size_t)n * 12, sizeof(int));
    int *q = t.ids;
    for (int i = 0; i < n; i++) {
        TaskExample *e = &t.ex[i];
        int a = (int)(rng_u64(&r) % 4), b = (a + 1 + (int)(rng_u64(&r) % 3)) % 4;
        e->line = i + 1, e->len = 5;
        e->clean = q, q += 5;
        e->corrupt = q, q += 5;
        e->clean[0] = a, e->corrupt[0] = b;
        for (int k = 1; k < 5; k++) e->clean[k] = e->corrupt[k] = 4 + (int)(rng_u64(&r) % 4);
        e->correct = q, e->n_correct = 1, q[0] = a, q++;
        e->wrong = q, e->n_wrong = 1, q[0] = b, q++;
    }
    t.n = n, t.max_len = 5;
    snprintf(t.path, sizeof t.path, "planted");
    return t;
}

static void test_planted_circuit(void **state) {
    (void)state;
    GPT2 m;
    PruneErr err;
    planted_model(&m, 31);
    Task train = planted_task(64, 1), eval = planted_task(64, 2);
    Pruner p;
    PruneConfig cfg;
    prune_config_defaults(&cfg);  // the defaults: KL budget 0.05, corrupted ablation, all granularities
    cfg.steps = 300;
    cfg.seed = 3;
    assert_int_equal(pruner_build(&p, &m, &cfg, 5, &err), 0);
    assert_int_equal(pruner_prepare_targets(&p, &train, &err), 0);
    Metrics full;
    assert_int_equal(pruner_evaluate(&p, &eval, NULL, &full, &err), 0);
    if (full.acc_pair < 1.0 || full.ld < 3.0)  // the model does the task
        fail_msg("planted model: accuracy %.3f, logit difference %.3f", full.acc_pair, full.ld);
    int nf;
    assert_int_equal(pruner_train(&p, &train, &nf, &err), 300);
    unsigned char *keep = malloc(p.masks.total);
    masks_readout(&p.masks, keep);
    const Masks *mk = &p.masks;
    unsigned char *planted = calloc(mk->total, 1);
    planted[mk->off[G_EMB]] = 1;
    planted[mk->off[G_LAYER] + 0] = planted[mk->off[G_LAYER] + 1] = 1;
    planted[mk->off[G_ATTN] + 0] = planted[mk->off[G_MLP] + 1] = 1;
    planted[mk->off[G_HEAD] + 0] = 1;
    for (int i = 0; i < 4; i++) {
        planted[mk->off[G_ATTN_DIM] + i] = 1;                // layer 0, head 0, dims 0..3
        planted[mk->off[G_NEURON] + 4 * PC + i] = 1;         // layer 1 neurons 0..3
        planted[mk->off[G_MLP_OUT] + PC + 6 + i] = 1;        // layer 1 output dims 6..9
    }
    size_t rest = 0, dropped = 0;
    for (size_t i = 0; i < mk->total; i++) {
        if (planted[i] && !keep[i]) {
            int g = NUM_GRAN - 1;
            while (i < mk->off[g]) g--;
            fail_msg("planted unit %s[%zu] was pruned (log_alpha %.3f)", GRANULARITIES[g].name, i - mk->off[g], mk->log_alpha[i]);
        }
        if (!planted[i]) rest++, dropped += !keep[i];
    }
    if (dropped * 100 < rest * 95) fail_msg("dropped %zu of %zu other units (< 95%%)", dropped, rest);
    Metrics circ;
    assert_int_equal(pruner_evaluate(&p, &eval, keep, &circ, &err), 0);
    if (circ.acc_pair < 1.0) fail_msg("the planted circuit's accuracy is %.3f", circ.acc_pair);
    free(keep), free(planted);
    pruner_free(&p);
    task_free(&train), task_free(&eval);
    gpt2_free(&m);
}

// Refinement alone, from the whole model: on validation data it drops what the planted
// model does not need and keeps the planted units, within the budget (as its upper bound).
// With a validation part the budget checks run on it and the controller backtracks to the
// best circuit; that state (best_lambda, dual_scale) goes through the checkpoint too.
static void test_resume_with_validation_backtracking(void **state) {
    (void)state;
    GPT2 m;
    PruneErr err;
    GPT2Config c = tiny_config();
    assert_int_equal(gpt2_build_random(&m, &c, 24, 0.5f, &err), 0);
    Task t = random_task(10, c.V, 6, 6), val = random_task(12, c.V, 6, 7);
    const char *ck = tmp_path("resume_val.ck");
    PruneConfig cfg;
    prune_config_defaults(&cfg);
    cfg.steps = 45, cfg.batch = 4, cfg.seed = 5, cfg.kl_budget = 1e-4f, cfg.dual_lr = 1.0f;
    float *la[2];
    double scale[2];
    size_t n = 0;
    for (int k = 0; k < 2; k++) {
        Pruner p;
        KlProbe kp;
        int nf;
        PruneConfig c2 = cfg;
        assert_int_equal(pruner_build(&p, &m, &c2, t.max_len, &err), 0);
        assert_int_equal(pruner_prepare_targets(&p, &t, &err), 0);
        assert_int_equal(kl_probe_build(&kp, &p, &val, 1.64, &err), 0);
        p.val = &kp;
        if (k == 1) {  // a periodic checkpoint at step 30 (the run's own), then a fresh resume
            p.cfg.run.checkpoint = ck, p.cfg.run.checkpoint_every = 30;
            assert_int_equal(pruner_train(&p, &t, &nf, &err), 45);
            pruner_free(&p);
            assert_int_equal(pruner_build(&p, &m, &c2, t.max_len, &err), 0);
            assert_int_equal(pruner_prepare_targets(&p, &t, &err), 0);
            assert_int_equal(pruner_resume(&p, &t, ck, &err), 0);
            assert_int_equal(p.step, 30);
            p.val = &kp;
        }
        assert_int_equal(pruner_train(&p, &t, &nf, &err), 45);
        n = p.masks.total;
        la[k] = malloc(sizeof(float) * n);
        memcpy(la[k], p.masks.log_alpha, sizeof(float) * n);
        scale[k] = p.dual_scale;
        kl_probe_free(&kp);
        pruner_free(&p);
    }
    if (!(scale[0] < 1.0)) fail_msg("no backtracking happened (dual_scale %g): the test does not cover it", scale[0]);
    assert_true(scale[0] == scale[1]);
    assert_memory_equal(la[0], la[1], sizeof(float) * n);
    free(la[0]), free(la[1]);
    task_free(&t), task_free(&val);
    gpt2_free(&m);
}

static void test_refine_finds_planted_units(void **state) {
    (void)state;
    GPT2 m;
    PruneErr err;
    planted_model(&m, 31);
    Task val = planted_task(64, 4);
    Pruner p;
    PruneConfig cfg;
    prune_config_defaults(&cfg);
    assert_int_equal(pruner_build(&p, &m, &cfg, 5, &err), 0);
    const Masks *mk = &p.masks;
    for (size_t i = 0; i < mk->total; i++) p.masks.log_alpha[i] = 1.0f;  // no ranking: all alike
    unsigned char *keep = malloc(mk->total);
    memset(keep, 1, mk->total);
    KlProbe kp;
    RefineStats st;
    assert_int_equal(kl_probe_build(&kp, &p, &val, 1.64, &err), 0);
    assert_int_equal(circuit_refine(&p, &kp, 0.05, keep, &st, &err), 0);
    double kl = kl_probe(&p, &kp, keep);
    if (!(kl + 1.64 * kp.se <= 0.05)) fail_msg("refined circuit: validation KL %.4f (se %.4f) over 0.05", kl, kp.se);
    assert_true(st.removed > 0 && st.added == 0);
    assert_true(keep[mk->off[G_HEAD] + 0]);  // the planted head and MLP block stay
    assert_true(keep[mk->off[G_MLP] + 1]);
    int heads = 0;
    for (int i = 0; i < mk->count[G_HEAD]; i++) heads += keep[mk->off[G_HEAD] + i];
    if (heads > 1) fail_msg("%d heads kept; the planted circuit has 1", heads);
    // locally minimal: removing the one kept head breaks the budget
    keep[mk->off[G_HEAD] + 0] = 0;
    circuit_make_consistent(mk, keep);
    kl = kl_probe(&p, &kp, keep);
    if (kl + 1.64 * kp.se <= 0.05) fail_msg("without the planted head the KL is still %.4f", kl);
    kl_probe_free(&kp);
    free(keep);
    pruner_free(&p);
    task_free(&val);
    gpt2_free(&m);
}

// --- baselines (baselines.c) ------------------------------------------------------------

// On the planted model, greedy knockout and attribution both rank the planted head (layer 0
// head 0) and the planted MLP block (layer 1) first, and keeping the top-ranked head alone
// (every MLP kept) meets the budget on other examples while keeping none does not.
static void test_baselines_rank_planted_units_first(void **state) {
    (void)state;
    GPT2 m;
    PruneErr err;
    planted_model(&m, 31);
    Task train = planted_task(64, 1), eval = planted_task(64, 2);
    Pruner p;
    PruneConfig cfg;
    prune_config_defaults(&cfg);
    assert_int_equal(pruner_build(&p, &m, &cfg, 5, &err), 0);
    assert_int_equal(pruner_prepare_targets(&p, &train, &err), 0);
    const Masks *mk = &p.masks;
    double ko[PL * PNH], km[PL], key[PL * PNH];
    int order[PL * PNH];
    assert_int_equal(baseline_knockout(&p, &train, G_HEAD, ko, &err), 0);
    baseline_rank(ko, PL * PNH, order);
    if (order[0] != 0) fail_msg("knockout ranks head %d first (KL %.4f); the planted head 0 has %.4f", order[0], ko[order[0]], ko[0]);
    if (ko[0] < 0.5 || ko[order[1]] > 0.05)
        fail_msg("knockout KL: planted head %.4f, next %.4f (the planted head alone matters)", ko[0], ko[order[1]]);
    assert_int_equal(baseline_knockout(&p, &train, G_MLP, km, &err), 0);
    baseline_rank(km, PL, order);
    assert_int_equal(order[0], 1);
    float *attr = malloc(sizeof(float) * mk->total);
    assert_int_equal(baseline_attribution(&p, &train, ATTR_STEPS_DEFAULT, attr, &err), 0);
    for (int i = 0; i < PL * PNH; i++) key[i] = fabs(attr[mk->off[G_HEAD] + i]);
    baseline_rank(key, PL * PNH, order);
    if (order[0] != 0) fail_msg("attribution ranks head %d first (%.4g); the planted head has %.4g", order[0], key[order[0]], key[0]);
    for (int i = 0; i < PL; i++) key[i] = fabs(attr[mk->off[G_MLP] + i]);
    baseline_rank(key, PL, order);
    assert_int_equal(order[0], 1);
    // nested circuits: top 1 head meets the budget held out, top 0 does not
    unsigned char *keep = malloc(mk->total);
    Metrics c1, c0;
    baseline_rank(ko, PL * PNH, order);
    baseline_keep_top(mk, G_HEAD, order, 1, keep);
    assert_int_equal(pruner_evaluate(&p, &eval, keep, &c1, &err), 0);
    int heads = 0;
    for (int i = 0; i < mk->count[G_HEAD]; i++) heads += keep[mk->off[G_HEAD] + i];
    assert_int_equal(heads, 1);
    assert_true(keep[mk->off[G_MLP] + 0] && keep[mk->off[G_MLP] + 1] && keep[mk->off[G_NEURON] + 5]);
    baseline_keep_top(mk, G_HEAD, order, 0, keep);
    assert_int_equal(pruner_evaluate(&p, &eval, keep, &c0, &err), 0);
    if (!(c1.kl <= 0.05 && c0.kl > 0.5)) fail_msg("held-out KL: top-1 head %.4f, no head %.4f", c1.kl, c0.kl);
    free(attr), free(keep);
    pruner_free(&p);
    task_free(&train), task_free(&eval);
    gpt2_free(&m);
}

typedef struct {
    Pruner *p;
    Task *t;
    int *idx, B;
} GateCtx;

static double kl_at_gates(void *vp) {  // the gates in p->masks.z as they are
    GateCtx *k = vp;
    return pruner_kl(k->p, k->t, k->idx, k->B, 0);
}

// The attribution's gate gradient (dKL/dz with every gate at z = alpha) equals central
// finite differences in each gate, for every granularity and ablation; at alpha = 1 (the
// full model, the KL's minimum) it is 0 up to rounding, which is why the scores integrate
// along alpha instead of reading the gradient at z = 1 alone. Tolerances, measured: eps
// 3e-3 on z itself (at 1e-2 the embedding's gate under zero ablation, where the KL curves
// most, keeps a 3% truncation error); the KL's rounding (~5e-7 here: differences of float
// log-probabilities at z = 0.5) over 2 eps gives up to ~1e-4 of noise: atol 2e-4, rtol
// 1e-2. The largest gradients are ~0.5, so a wrong factor or a gradient w.r.t. log alpha
// instead of z fails by orders of magnitude more.
static void test_attribution_gate_gradient_fd(void **state) {
    (void)state;
    GPT2 m;
    PruneErr err;
    GPT2Config c = tiny_config();
    assert_int_equal(gpt2_build_random(&m, &c, 22, 1.0f, &err), 0);
    Task t = random_task(5, c.V, 6, 4);
    int idx[5] = {0, 1, 2, 3, 4};
    for (int ab = 0; ab < NUM_ABLATIONS; ab++) {
        Pruner p;
        build(&p, &m, (AblationKind)ab, 2, 5, &t);
        size_t n = p.masks.total;
        float *g = malloc(sizeof(float) * n);
        assert_int_equal(baseline_gate_gradient(&p, &t, 0.5f, g, &err), 0);
        GateCtx k = {&p, &t, idx, 5};
        double big = 0;
        for (int gr = 0; gr < NUM_GRAN; gr++) {
            char what[96];
            snprintf(what, sizeof what, "attribution dKL/dz at z = 0.5, %s, %s ablation", GRANULARITIES[gr].name,
                     ABLATIONS[ab].name);
            fd_check(what, kl_at_gates, &k, p.masks.z + p.masks.off[gr], g + p.masks.off[gr], NULL,
                     (size_t)p.masks.count[gr], 3e-3f, 2e-4, 1e-2);
            for (int i = 0; i < p.masks.count[gr]; i++) big = fmax(big, fabs(g[p.masks.off[gr] + i]));
        }
        if (big < 1e-3) fail_msg("%s ablation: gate gradients at z = 0.5 are all below 1e-3 (%.2g)", ABLATIONS[ab].name, big);
        assert_int_equal(baseline_gate_gradient(&p, &t, 1.0f, g, &err), 0);
        double at1 = 0;
        for (size_t i = 0; i < n; i++) at1 = fmax(at1, fabs(g[i]));
        if (at1 > 1e-5) fail_msg("%s ablation: the gate gradient at z = 1 is %.3g, not 0", ABLATIONS[ab].name, at1);
        free(g);
        pruner_free(&p);
    }
    task_free(&t);
    gpt2_free(&m);
}

// --init attribution's map is monotone in |score| within each granularity, spans
// [0.5, 3] and keeps every gate in the read-out circuit at the start.
static void test_init_from_scores_monotone(void **state) {
    (void)state;
    GPT2 m;
    PruneErr err;
    GPT2Config c = tiny_config();
    assert_int_equal(gpt2_build_random(&m, &c, 23, 1.0f, &err), 0);
    Masks mk;
    int en[NUM_GRAN];
    for (int g = 0; g < NUM_GRAN; g++) en[g] = 1;
    assert_int_equal(masks_build(&mk, &m.config, en, &err), 0);
    float *s = malloc(sizeof(float) * mk.total);
    Rng r;
    rng_seed(&r, 5);
    for (size_t i = 0; i < mk.total; i++) s[i] = rng_normal(&r);
    assert_int_equal(masks_init_from_scores(&mk, s, &err), 0);
    for (int g = 0; g < NUM_GRAN; g++) {
        float lo = 1e9f, hi = -1e9f;
        for (int i = 0; i < mk.count[g]; i++) {
            size_t a = mk.off[g] + (size_t)i;
            lo = fminf(lo, mk.log_alpha[a]), hi = fmaxf(hi, mk.log_alpha[a]);
            for (int j = 0; j < mk.count[g]; j++) {
                size_t b = mk.off[g] + (size_t)j;
                if (fabsf(s[a]) > fabsf(s[b]) && !(mk.log_alpha[a] > mk.log_alpha[b]))
                    fail_msg("%s: |score| %.3f > %.3f but log alpha %.3f <= %.3f", GRANULARITIES[g].name, fabsf(s[a]),
                             fabsf(s[b]), mk.log_alpha[a], mk.log_alpha[b]);
            }
        }
        if (mk.count[g] > 1) assert_true(fabsf(lo - 0.5f) < 1e-6f && fabsf(hi - 3.0f) < 1e-6f);
        else assert_true(fabsf(hi - 3.0f) < 1e-6f);
    }
    free(s);
    masks_free(&mk);
    gpt2_free(&m);
}

static void test_circuit_file_round_trip(void **state) {
    (void)state;
    GPT2 m;
    PruneErr err;
    GPT2Config c = tiny_config();
    assert_int_equal(gpt2_build_random(&m, &c, 25, 0.5f, &err), 0);
    Task t = random_task(6, c.V, 6, 7);
    Pruner p;
    build(&p, &m, ABL_CORRUPTED, 3, 6, &t);
    Rng r;
    rng_seed(&r, 3);
    for (size_t i = 0; i < p.masks.total; i++) p.masks.log_alpha[i] = rng_uniform(&r) * 4 - 1;
    unsigned char *keep = malloc(p.masks.total), *back = malloc(p.masks.total);
    masks_readout(&p.masks, keep);
    TaskSet ts = {0};
    ts.file = t, ts.train = t, ts.eval = t, ts.split = 1, ts.train_frac = 0.5;
    RunResult res = {0};
    const char *path = tmp_path("circuit.json");
    assert_int_equal(circuit_write(path, &p, keep, "random", &ts, &res, &err), 0);
    assert_int_equal(circuit_read(path, &p.masks, back, &err), 0);
    assert_memory_equal(keep, back, p.masks.total);
    // a model of another shape is refused, naming the field
    Masks other;
    GPT2Config c2 = c;
    c2.NH = 4;
    int en[NUM_GRAN] = {1, 1, 1, 1, 1, 1, 1, 1};
    assert_int_equal(masks_build(&other, &c2, en, &err), 0);
    unsigned char *k2 = malloc(other.total);
    assert_int_equal(circuit_read(path, &other, k2, &err), -1);
    assert_non_null(strstr(err.msg, "masks.head.keep[0]: expected 4 entries"));
    free(k2);
    masks_free(&other);
    free(keep), free(back);
    pruner_free(&p);
    task_free(&t);
    gpt2_free(&m);
}

// The one circuit.json parser (eval and report): another tool's masks alone read; every
// field that is there is checked, naming it.
static void test_circuit_parse(void **state) {
    (void)state;
    CircuitFile cf;
    PruneErr err;
    const char *bare = "{\"masks\": {\"head\": {\"keep\": [[1, 0], [true, false]]}}}";
    assert_int_equal(circuit_parse(bare, strlen(bare), "c.json", &cf, &err), 0);
    assert_int_equal(cf.L, 0);
    assert_null(cf.gran[G_NEURON].keep);
    assert_int_equal(cf.gran[G_HEAD].rows, 2);
    assert_int_equal(cf.gran[G_HEAD].cols, 2);
    assert_memory_equal(cf.gran[G_HEAD].keep, "\1\0\1\0", 4);
    assert_true(isnan(cf.circuit.kl) && isnan(cf.weight_share));
    circuit_file_free(&cf);
    struct { const char *text, *msg; } bad[] = {
        {"[1]", "c.json: expected a JSON object"},
        {"{\"format\": \"x\", \"masks\": {}}", "c.json: field \"format\""},
        {"{\"model\": {\"L\": 2, \"NH\": 3, \"C\": 8}, \"masks\": {}}", "c.json: field \"model\""},
        {"{\"model\": {\"L\": 2, \"NH\": 2, \"C\": 8}, \"masks\": {\"head\": {\"keep\": [[1, 1]]}}}",
         "c.json: masks.head.keep: expected an array of 2 rows for the file's model"},
        {"{\"masks\": {\"head\": {\"keep\": [[1, 1], [1]]}}}", "c.json: masks.head.keep[1]: expected an array of 2 entries"},
        {"{\"masks\": {\"layer\": {\"keep\": [1, 2]}}}", "c.json: masks.layer.keep[1]: expected 0, 1, true or false"},
        {"{\"masks\": {\"layer\": {\"keep\": [1], \"log_alpha\": [1, 2]}}}", "c.json: masks.layer.log_alpha: expected the shape of keep ([1])"},
        {"{\"masks\": {\"layer\": {\"keep\": [1], \"log_alpha\": [\"a\"]}}}", "c.json: masks.layer.log_alpha[0]: expected a number"},
        {"{\"masks\": {}, \"metrics\": {\"full\": {\"kl\": \"a\"}}}", "c.json: field metrics.full.kl: expected a number"},
        {"{\"masks\": {\"heads\": {}}}", "c.json: masks.heads: unknown granularity"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(circuit_parse(bad[i].text, strlen(bad[i].text), "c.json", &cf, &err), -1);
        if (!strstr(err.msg, bad[i].msg)) fail_msg("input %zu: got '%s', wanted '%s'", i, err.msg, bad[i].msg);
        circuit_file_free(&cf);
    }
}

// The --log CSV the report draws: good files read whole, bad ones are refused naming the
// line and the column.
static void test_log_csv(void **state) {
    (void)state;
    LogCsv t;
    PruneErr err;
    const char *good = "step,kl,density_head\n1,0.5,0.9\r\n\n2,1e-3,0.75\n";
    assert_int_equal(log_csv_parse(good, strlen(good), "log.csv", &t, &err), 0);
    assert_int_equal(t.ncol, 3);
    assert_int_equal(t.nrow, 2);
    assert_string_equal(t.names[2], "density_head");
    assert_int_equal(log_csv_column(&t, "kl"), 1);
    assert_int_equal(log_csv_column(&t, "lambda_head"), -1);
    assert_true(t.v[0] == 1 && t.v[1] == 0.5 && t.v[3] == 2 && t.v[4] == 1e-3 && t.v[5] == 0.75);
    log_csv_free(&t);
    const char *header_only = "step,kl";  // no rows, no final newline: read, with 0 rows
    assert_int_equal(log_csv_parse(header_only, strlen(header_only), "log.csv", &t, &err), 0);
    assert_int_equal(t.nrow, 0);
    log_csv_free(&t);
    struct { const char *text, *msg; } bad[] = {
        {"", "log.csv:1: no header"},
        {"\n\n", "log.csv:1: no header"},
        {"step,,kl\n", "log.csv:1: column 2: expected a name"},
        {"step,kl\n1,0.5\n2,0.4,7\n", "log.csv:3: 3 fields, but the header names 2 columns"},
        {"step,kl\n1\n", "log.csv:2: 1 fields, but the header names 2 columns"},
        {"step,kl\n1,nan\n", "log.csv:2: column 2 (kl): 'nan' is not a finite number"},
        {"step,kl\n1,1e999\n", "log.csv:2: column 2 (kl): '1e999' is not a finite number"},
        {"step,kl\n1,0.5x\n", "log.csv:2: column 2 (kl): '0.5x' is not a finite number"},
        {"step,kl\n\n,0.5\n", "log.csv:3: column 1 (step): '' is not a finite number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(log_csv_parse(bad[i].text, strlen(bad[i].text), "log.csv", &t, &err), -1);
        if (!strstr(err.msg, bad[i].msg)) fail_msg("input %zu: got '%s', wanted '%s'", i, err.msg, bad[i].msg);
        assert_null(t.names);
        assert_null(t.v);
    }
    char nul[] = "step,kl\n1,0\0005\n";  // a NUL inside a field
    assert_int_equal(log_csv_parse(nul, sizeof nul - 1, "log.csv", &t, &err), -1);
    assert_non_null(strstr(err.msg, "log.csv:2: column 2 (kl)"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradient_every_gate_every_ablation), cmocka_unit_test(test_gradient_every_gate_every_ablation_llama),
        cmocka_unit_test(test_identities), cmocka_unit_test(test_identities_llama),
        cmocka_unit_test(test_chunking_does_not_change_gradients), cmocka_unit_test(test_chunking_does_not_change_gradients_llama),
        cmocka_unit_test(test_readout_consistency), cmocka_unit_test(test_weight_share_llama),
        cmocka_unit_test(test_same_seed_same_masks),
        cmocka_unit_test(test_resume_equals_uninterrupted),
        cmocka_unit_test(test_checkpoint_rejections),
        cmocka_unit_test(test_nonfinite_loss_keeps_last_masks),
        cmocka_unit_test(test_memory_plan_matches_allocation),
        cmocka_unit_test(test_planted_circuit),
        cmocka_unit_test(test_refine_finds_planted_units),
        cmocka_unit_test(test_resume_with_validation_backtracking),
        cmocka_unit_test(test_baselines_rank_planted_units_first),
        cmocka_unit_test(test_attribution_gate_gradient_fd),
        cmocka_unit_test(test_init_from_scores_monotone),
        cmocka_unit_test(test_circuit_file_round_trip),
        cmocka_unit_test(test_circuit_parse),
        cmocka_unit_test(test_log_csv),
    };
    return cmocka_run_group_tests_name("prune", tests, NULL, NULL);
}
