// test_model.c: the whole forward/backward on a tiny random model, GPT-2 and then a Llama
// (GQA, RoPE, SwiGLU, RMSNorm, q/k/v biases, untied head: every test runs on both). Finite
// differences of the mean cross-entropy at chosen positions w.r.t. the input embedding
// and w.r.t. entries of all 16 weight tensors; the recomputing workspace gives
// bit-identical gradients to the one that stores every layer; right padding and the
// choice of logit positions do not change an example's outputs; bad batches are errors.
//
// Tolerances: finite differences with eps 1e-3 on a model whose loss is O(1): atol 2e-3,
// rtol 2e-2 (float32 forward, 2 layers). Padding: GEMMs of different M may sum in a
// different order: atol 1e-5, rtol 1e-5.
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "kernels.h"

enum { B = 2, T = 6, P = 4 };
static const int lengths[B] = {6, 4};
static const int pos[P] = {1, 5, 6 + 0, 6 + 3};  // (b,t) = (0,1) (0,5) (1,0) (1,3)
static const int targets[P] = {3, 10, 0, 7};

static int g_llama;  // 1: the suite's second run, on tiny_llama_config()

typedef struct {
    GPT2 m;
    GPT2Workspace ws;
    int tokens[B * T];
    float *logp, *dlogp, *dlogits;
} Ctx;

static Ctx *ctx_new(int recompute, uint64_t seed) {
    Ctx *c = calloc(1, sizeof *c);
    PruneErr err;
    GPT2Config cfg = g_llama ? tiny_llama_config() : tiny_config();
    assert_int_equal(gpt2_build_random(&c->m, &cfg, seed, 0.5f, &err), 0);
    assert_int_equal(gpt2_workspace_build(&c->ws, &cfg, B, T, P, recompute, &err), 0);
    Rng r;
    rng_seed(&r, seed + 1);
    for (int i = 0; i < B * T; i++) c->tokens[i] = (int)(rng_u64(&r) % cfg.V);
    c->logp = calloc((size_t)P * cfg.V, sizeof(float));
    c->dlogp = calloc((size_t)P * cfg.V, sizeof(float));
    c->dlogits = calloc((size_t)P * cfg.Vp, sizeof(float));
    return c;
}

static void ctx_free(Ctx *c) {
    gpt2_workspace_free(&c->ws);
    gpt2_free(&c->m);
    free(c->logp), free(c->dlogp), free(c->dlogits), free(c);
}

// mean cross-entropy over the P positions, from the logits already in the workspace
static double loss_from_logits(Ctx *c) {
    const GPT2Config *g = &c->m.config;
    float losses[P];
    log_softmax_forward(c->logp, c->ws.logits, P, g->V, g->Vp);
    crossentropy_forward(losses, c->logp, targets, P, g->V);
    double s = 0;
    for (int p = 0; p < P; p++) s += losses[p];
    return s / P;
}

static double loss_full(void *p) {  // from tokens
    Ctx *c = p;
    PruneErr err;
    assert_int_equal(gpt2_forward(&c->m, &c->ws, c->tokens, lengths, B, T, pos, P, &err), 0);
    return loss_from_logits(c);
}

static double loss_from_embedding(void *p) {  // from resid[0] as it stands
    Ctx *c = p;
    PruneErr err;
    assert_int_equal(gpt2_forward_layers(&c->m, &c->ws, pos, P, &err), 0);
    return loss_from_logits(c);
}

static void backward(Ctx *c, ParameterTensors *grads) {
    const GPT2Config *g = &c->m.config;
    loss_full(c);
    float dl[P];
    for (int p = 0; p < P; p++) dl[p] = 1.0f / P;
    memset(c->dlogp, 0, sizeof(float) * P * g->V);
    memset(c->dlogits, 0, sizeof(float) * P * g->Vp);
    crossentropy_backward(c->dlogp, dl, targets, P, g->V);
    log_softmax_backward(c->dlogits, c->dlogp, c->logp, P, g->V, g->Vp);
    gpt2_backward(&c->m, &c->ws, c->dlogits, grads);
}

static void test_grad_wrt_embedding(void **state) {
    (void)state;
    for (int rc = 0; rc < 2; rc++) {
        Ctx *c = ctx_new(rc, 11);
        size_t n = (size_t)B * T * c->m.config.C;
        backward(c, NULL);
        float *g = malloc(sizeof(float) * n);
        memcpy(g, c->ws.dresid, sizeof(float) * n);
        // padded positions (b=1, t>=4) never reach a loss: their gradient must be exactly 0
        for (int t = lengths[1]; t < T; t++)
            for (int i = 0; i < c->m.config.C; i++)
                assert_true(g[((size_t)1 * T + t) * c->m.config.C + i] == 0.0f);
        PruneErr err;
        assert_int_equal(gpt2_embed(&c->m, &c->ws, c->tokens, lengths, B, T, &err), 0);
        fd_check("d loss / d embedding", loss_from_embedding, c, c->ws.resid, g, NULL, n, 1e-3f,
                 2e-3, 2e-2);
        free(g);
        ctx_free(c);
    }
}

static void test_grad_wrt_weights(void **state) {
    (void)state;
    Ctx *c = ctx_new(0, 12);
    PruneErr err;
    float *gmem = calloc(c->m.num_parameters, sizeof(float));
    ParameterTensors grads;
    gpt2_point_params(&grads, gmem, c->m.param_sizes);
    backward(c, &grads);
    // a few entries of every tensor; wte only in its real rows (padded rows stay 0)
    Rng r;
    rng_seed(&r, 99);
    size_t off = 0;
    for (int t = 0; t < NUM_PARAM_TENSORS; t++) {
        size_t n = t == P_WTE || t == P_LMHEAD ? (size_t)c->m.config.V * c->m.config.C : c->m.param_sizes[t];
        if (!c->m.param_sizes[t]) continue;  // a tensor this variant does not have
        size_t idx[8];
        for (int k = 0; k < 8; k++) idx[k] = off + rng_u64(&r) % n;
        char what[64];
        snprintf(what, sizeof what, "d loss / d %s", gpt2_param_name((ParamId)t));
        fd_check(what, loss_full, c, c->m.params_memory, gmem, idx, 8, 1e-3f, 2e-3, 2e-2);
        off += c->m.param_sizes[t];
    }
    for (size_t i = (size_t)c->m.config.V * c->m.config.C; i < c->m.param_sizes[P_WTE]; i++)
        assert_true(grads.wte[i] == 0.0f);
    (void)err;
    free(gmem);
    ctx_free(c);
}

static void test_recompute_matches_stored(void **state) {
    (void)state;
    Ctx *a = ctx_new(0, 13), *b = ctx_new(1, 13);
    size_t np = a->m.num_parameters, n = (size_t)B * T * a->m.config.C;
    float *ga = calloc(np, sizeof(float)), *gb = calloc(np, sizeof(float));
    ParameterTensors pa, pb;
    gpt2_point_params(&pa, ga, a->m.param_sizes);
    gpt2_point_params(&pb, gb, b->m.param_sizes);
    backward(a, &pa);
    backward(b, &pb);
    assert_memory_equal(a->ws.logits, b->ws.logits, sizeof(float) * P * a->m.config.Vp);
    assert_memory_equal(a->ws.dresid, b->ws.dresid, sizeof(float) * n);
    assert_memory_equal(ga, gb, sizeof(float) * np);
    // and the recomputing workspace really is smaller
    const GPT2Config *g = &a->m.config;
    assert_true(gpt2_workspace_bytes(g, B, T, P, 1) < gpt2_workspace_bytes(g, B, T, P, 0));
    free(ga), free(gb);
    ctx_free(a), ctx_free(b);
}

static void test_padding_and_positions(void **state) {
    (void)state;
    Ctx *c = ctx_new(0, 14);
    const GPT2Config *g = &c->m.config;
    PruneErr err;
    gpt2_workspace_free(&c->ws);  // room for every position's logits
    assert_int_equal(gpt2_workspace_build(&c->ws, g, B, T, B * T, 0, &err), 0);
    // garbage (even out-of-range) ids after an example's length are ignored
    c->tokens[1 * T + 4] = 12345;
    c->tokens[1 * T + 5] = -7;
    int all[B * T], np = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < lengths[b]; t++) all[np++] = b * T + t;
    assert_int_equal(gpt2_forward(&c->m, &c->ws, c->tokens, lengths, B, T, all, np, &err), 0);
    float *batch = malloc(sizeof(float) * np * g->Vp);
    memcpy(batch, c->ws.logits, sizeof(float) * np * g->Vp);
    // example 1 alone, unpadded, must give the same logits at each of its positions
    int len1 = lengths[1], alone[4] = {0, 1, 2, 3};
    assert_int_equal(gpt2_forward(&c->m, &c->ws, c->tokens + T, &len1, 1, len1, alone, 4, &err), 0);
    assert_close("example alone vs padded in a batch", c->ws.logits,
                 batch + (size_t)lengths[0] * g->Vp, (size_t)4 * g->Vp, 1e-5, 1e-5);
    // a subset of positions gives the same rows as the full set
    int sub[2] = {0 * T + 5, 1 * T + 2};
    assert_int_equal(gpt2_forward(&c->m, &c->ws, c->tokens, lengths, B, T, sub, 2, &err), 0);
    assert_close("position subset, row 0", c->ws.logits, batch + (size_t)5 * g->Vp, g->Vp, 1e-5, 1e-5);
    assert_close("position subset, row 1", c->ws.logits + g->Vp, batch + (size_t)8 * g->Vp, g->Vp,
                 1e-5, 1e-5);
    free(batch);
    ctx_free(c);
}

static void test_bad_batches_are_errors(void **state) {
    (void)state;
    Ctx *c = ctx_new(1, 15);
    PruneErr err;
    c->tokens[2] = c->m.config.V;  // one past the vocabulary, inside the length
    assert_int_equal(gpt2_forward(&c->m, &c->ws, c->tokens, lengths, B, T, pos, P, &err), -1);
    assert_non_null(strstr(err.msg, "outside the vocabulary"));
    c->tokens[2] = 0;
    int late[1] = {1 * T + 4};  // past example 1's length
    assert_int_equal(gpt2_forward(&c->m, &c->ws, c->tokens, lengths, B, T, late, 1, &err), -1);
    assert_non_null(strstr(err.msg, "past that example's length"));
    int big[1] = {B * T};
    assert_int_equal(gpt2_forward(&c->m, &c->ws, c->tokens, lengths, B, T, big, 1, &err), -1);
    assert_int_equal(gpt2_forward(&c->m, &c->ws, c->tokens, lengths, B, T + 1, pos, P, &err), -1);
    assert_non_null(strstr(err.msg, "outside the workspace"));
    int badlen[B] = {0, 3};
    assert_int_equal(gpt2_forward(&c->m, &c->ws, c->tokens, badlen, B, T, pos, 1, &err), -1);
    GPT2Workspace ws;
    GPT2Config g = c->m.config;
    assert_int_equal(gpt2_workspace_build(&ws, &g, 1, g.maxT + 1, 1, 1, &err), -1);
    assert_non_null(strstr(err.msg, "exceeds the model's context"));
    ctx_free(c);
}

static void test_deterministic(void **state) {
    (void)state;
    Ctx *a = ctx_new(1, 16), *b = ctx_new(1, 16);
    loss_full(a);
    loss_full(b);
    assert_memory_equal(a->ws.logits, b->ws.logits, sizeof(float) * P * a->m.config.Vp);
    ctx_free(a), ctx_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_wrt_embedding),   cmocka_unit_test(test_grad_wrt_weights),
        cmocka_unit_test(test_recompute_matches_stored), cmocka_unit_test(test_padding_and_positions),
        cmocka_unit_test(test_bad_batches_are_errors), cmocka_unit_test(test_deterministic),
    };
    int fails = cmocka_run_group_tests_name("model (GPT-2)", tests, NULL, NULL);
    g_llama = 1;
    return fails + cmocka_run_group_tests_name("model (Llama)", tests, NULL, NULL);
}
