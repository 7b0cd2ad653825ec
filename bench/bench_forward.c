// bench_forward.c: the engine's forward pass on a GPT-2-small-shaped model with random
// weights (L=12, NH=12, C=768, V=50257), B=8, T=64, 2 threads. Prints time per forward,
// achieved GFLOP/s and the machine's own cblas_sgemm GFLOP/s measured in this run.
// Target (issue 2): the forward reaches at least 70% of that sgemm peak.
//
// FLOPs counted are those executed: the four GEMMs of every block (2*BT*12C^2), the
// causal attention products (QK^T and AV over t2 <= t only) and the logits at the P
// positions asked for. LayerNorm, GELU, softmax and adds are not counted (they are
// memory-bound work that the percentage is meant to expose).
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "gpt2.h"

static double forward_flops(const GPT2Config *c, int B, int T, int P) {
    double BT = (double)B * T, C = c->C, hs = (double)c->C / c->NH;
    double gemm = 2.0 * BT * 12.0 * C * C;
    double att = 2.0 * 2.0 * B * c->NH * (T * (T + 1) / 2.0) * hs;
    return c->L * (gemm + att) + 2.0 * P * C * c->Vp;
}

int main(int argc, char **argv) {
    prune_fix_blas_coretype(argv);
    int threads = argc > 1 ? atoi(argv[1]) : 2, reps = argc > 2 ? atoi(argv[2]) : 10;
    prune_set_threads(threads);
    GPT2 m;
    bench_gpt2_small(&m);
    const GPT2Config c = m.config;
    int B = 8, T = 64;
    printf("bench_forward: GPT-2 small shape (L=%d NH=%d C=%d V=%d), random weights, B=%d T=%d, "
           "%d threads, OpenBLAS core %s\n", c.L, c.NH, c.C, c.V, B, T, threads, prune_blas_core());
    printf("machine sgemm (best of 15, this run):\n");
    double peak = sgemm_peak(1);
    PruneErr err;
    int *tokens = malloc(sizeof(int) * B * T), *lengths = malloc(sizeof(int) * B);
    int *pos = malloc(sizeof(int) * B * T);
    Rng r;
    rng_seed(&r, 7);
    for (int i = 0; i < B * T; i++) tokens[i] = (int)(rng_u64(&r) % c.V);
    for (int b = 0; b < B; b++) lengths[b] = T;
    struct { const char *what; int P, recompute; } cases[] = {
        {"logits at the last position (P=B), as prune uses it", B, 1},
        {"logits at every position (P=B*T), a full LM forward", B * T, 0},
        {"logits at the last position (P=B), all layers stored", B, 0},
    };
    int ok = 1;
    for (int k = 0; k < 3; k++) {
        int P = cases[k].P;
        for (int p = 0; p < P; p++) pos[p] = P == B ? p * T + T - 1 : p;
        GPT2Workspace ws;
        if (gpt2_workspace_build(&ws, &c, B, T, P, cases[k].recompute, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        double *t = malloc(sizeof(double) * reps);
        gpt2_forward(&m, &ws, tokens, lengths, B, T, pos, P, &err);  // warm-up
        for (int i = 0; i < reps; i++) {
            double t0 = now_seconds();
            if (gpt2_forward(&m, &ws, tokens, lengths, B, T, pos, P, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            t[i] = now_seconds() - t0;
        }
        double best = t[0];
        for (int i = 1; i < reps; i++) best = t[i] < best ? t[i] : best;
        double sec = best, fl = forward_flops(&c, B, T, P);
        double gf = fl / sec / 1e9, pct = 100.0 * gf / peak;
        printf("forward, %s:\n", cases[k].what);
        printf("  time %.2f ms (best of %d; median %.2f)  FLOPs %.2f G  achieved %.1f GFLOP/s  = %.0f%% of "
               "sgemm peak %.1f  [target >= 70%%: %s]\n", sec * 1e3, reps, median(t, reps) * 1e3, fl / 1e9, gf, pct, peak,
               pct >= 70 ? "met" : "NOT met");
        printf("  workspace %.1f MB\n", (double)gpt2_workspace_bytes(&c, B, T, P, cases[k].recompute) / 1e6);
        ok &= pct >= 70;
        free(t);
        gpt2_workspace_free(&ws);
    }
    printf("peak RSS %.0f MB (weights %.0f MB)\n", peak_rss_bytes() / 1e6, m.num_parameters * 4.0 / 1e6);
    free(tokens), free(lengths), free(pos);
    gpt2_free(&m);
    return 0;
}
