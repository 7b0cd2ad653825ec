// test_prune.c: the pruner on tiny random models. d KL / d log_alpha from the engine
// equals central finite differences for every gate of every granularity under each
// ablation (deterministic gates); all gates 1 gives KL 0; all gates 0 with corrupted
// ablation gives the full model's output on the corrupted prompt; chunking does not change
// the gradient; the readout's consistency rules; same seed, same masks.
//
// Tolerances: finite differences with eps 1e-2 on log_alpha. The KL (~0.15) is a sum over
// float32 log-probabilities, each off by ~1e-7, so a central difference carries ~5e-6 of
// rounding noise (smaller eps is noisier, larger eps adds truncation error); the gradients
// are 1e-4..6e-3: atol 1e-5, rtol 1e-2. A reference stream left one layer stale, or a
// product-rule slip, is off by 1e-4 or more. Identities: 1e-6 (exact up to summation order).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "kernels.h"
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

static void build(Pruner *p, GPT2 *m, Ablation ab, int chunk, int batch, Task *t) {
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

static void test_gradient_every_gate_every_ablation(void **state) {
    (void)state;
    GPT2 m;
    PruneErr err;
    GPT2Config c = tiny_config();
    assert_int_equal(gpt2_build_random(&m, &c, 21, 1.0f, &err), 0);
    Task t = random_task(5, c.V, 6, 3);
    int idx[5] = {0, 1, 2, 3, 4};
    for (int ab = 0; ab < 3; ab++) {
        Pruner p;
        build(&p, &m, (Ablation)ab, 2, 5, &t);  // chunks of 2: accumulation is in the check
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
            snprintf(what, sizeof what, "dKL/dlog_alpha %s, %s ablation", GRAN_NAMES[gr], ABLATION_NAMES[ab]);
            fd_check(what, kl_loss, &k, p.masks.log_alpha + p.masks.off[gr], g + p.masks.off[gr],
                     NULL, (size_t)p.masks.count[gr], 1e-2f, 1e-5, 1e-2);
        }
        free(g);
        pruner_free(&p);
    }
    task_free(&t);
    gpt2_free(&m);
}

static void test_identities(void **state) {
    (void)state;
    GPT2 m;
    PruneErr err;
    GPT2Config c = tiny_config();
    assert_int_equal(gpt2_build_random(&m, &c, 22, 0.5f, &err), 0);
    Task t = random_task(6, c.V, 7, 4);
    int idx[6] = {0, 1, 2, 3, 4, 5};
    for (int ab = 0; ab < 3; ab++) {
        Pruner p;
        build(&p, &m, (Ablation)ab, 4, 6, &t);
        masks_set(&p.masks, NULL);  // every gate 1: the full model
        double kl = pruner_kl(&p, &t, idx, 6, 0);
        if (!(fabs(kl) < 1e-6)) fail_msg("%s: all gates 1 gives KL %g", ABLATION_NAMES[ab], kl);
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

static void test_chunking_does_not_change_gradients(void **state) {
    (void)state;
    GPT2 m;
    PruneErr err;
    GPT2Config c = tiny_config();
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
        assert_int_equal(pruner_train(&p, &t, &err), 15);
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradient_every_gate_every_ablation),
        cmocka_unit_test(test_identities),
        cmocka_unit_test(test_chunking_does_not_change_gradients),
        cmocka_unit_test(test_readout_consistency),
        cmocka_unit_test(test_same_seed_same_masks),
    };
    return cmocka_run_group_tests_name("prune", tests, NULL, NULL);
}
