// bench_prune.c: one pruning step on a GPT-2-small-shaped model with random weights
// (L=12, NH=12, C=768, V=50257), B=32, T=64, corrupted ablation, all eight granularities,
// 2 threads. With a fourth argument "llama": a Llama-3.2-1B-class shape instead (C=2048,
// L=16, 32 query / 8 K/V heads of 64, SwiGLU H=8192, V=32000, untied head, RoPE), B=8, T=64
// (4.4 GB of fp32 weights; the GPT-2 targets below are not its targets). Reports peak RSS, working memory (peak RSS minus the weights' bytes), time
// per step, and the machine's cblas_sgemm peak measured in the same run.
// Targets (issue 5): working memory < 400 MB; time per step <= 2.0x the time the essential
// FLOPs take at the sgemm peak; executed FLOPs at >= 75% of the peak. Timings on a shared
// machine vary by +-15%: the targets are judged on the best step against the best sgemm
// run (noise only adds time), and the median is printed beside it.
//
// Essential FLOPs: forward of both streams + the clean stream's data-gradient backward, no
// recomputation: per layer and stream 2*BT*12C^2 for the GEMMs and 4*B*NH*hs*T(T+1)/2 for
// causal attention; the backward's GEMMs cost the same as the forward's, its attention
// twice; logits at one position per example. Executed FLOPs add what prune really does:
// the clean stream's layers but the last recomputed before their backward, without the
// attention output projection (1 of 12 C^2; the reference stream's values are stored, not
// recomputed), and every 10th
// step one forward of both streams over the first chunk to measure the read-out circuit's
// KL. Time per step is the mean over 10 steps (one such measurement among them).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "prune.h"

int main(int argc, char **argv) {
    prune_fix_blas_coretype(argv);
    int threads = argc > 1 ? atoi(argv[1]) : 2, steps = argc > 2 ? atoi(argv[2]) : 10;
    int chunk = argc > 3 ? atoi(argv[3]) : 0, llama = argc > 4 && !strcmp(argv[4], "llama");
    prune_set_threads(threads);
    double rss0 = current_rss_bytes();
    GPT2 m;
    int B = 32, T = 64;
    if (llama) {
        GPT2Config lc = {.maxT = 2048, .V = 32000, .Vp = 32000, .L = 16, .NH = 32, .NKV = 8, .hs = 64,
                         .C = 2048, .H = 8192, .norm = NORM_RMSNORM, .pos = POS_ROPE_HALVES,
                         .mlp = MLP_SWIGLU, .unembed = UNEMBED_UNTIED, .bias = BIAS_NONE,
                         .norm_eps = 1e-5f, .rope_theta = 500000.0f};
        PruneErr e;
        if (gpt2_build_random(&m, &lc, 1, 0.02f, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        B = 8;
    } else {
        bench_gpt2_small(&m);
    }
    const GPT2Config c = m.config;
    printf("bench_prune: %s shape, random weights, B=%d T=%d, corrupted ablation, all 8 "
           "granularities, %d threads, OpenBLAS core %s\n", llama ? "Llama 1B-class (C 2048, L 16, 32/8 heads, H 8192)" : "GPT-2 small",
           B, T, threads, prune_blas_core());
    printf("machine sgemm (best of 15, this run):\n");
    double peak = sgemm_peak(1);
    PruneErr err;
    double weight_bytes = m.num_parameters * 4.0;
    // a task of 64 random prompts of exactly T tokens; corrupted differs in 8 positions
    int n = 64;
    Task t = {0};
    t.ex = calloc((size_t)n, sizeof(TaskExample));
    t.ids = calloc((size_t)n * (2 * T + 2), sizeof(int));
    Rng r;
    rng_seed(&r, 5);
    for (int i = 0; i < n; i++) {
        TaskExample *e = &t.ex[i];
        e->len = T, e->line = i + 1;
        e->clean = t.ids + (size_t)i * (2 * T + 2);
        e->corrupt = e->clean + T;
        for (int k = 0; k < T; k++) {
            e->clean[k] = (int)(rng_u64(&r) % (uint64_t)c.V);
            e->corrupt[k] = k % 8 == 3 ? (int)(rng_u64(&r) % (uint64_t)c.V) : e->clean[k];
        }
        e->correct = e->corrupt + T, e->wrong = e->correct + 1;
        e->correct[0] = 100, e->wrong[0] = 200, e->n_correct = e->n_wrong = 1;
    }
    t.n = n, t.max_len = T;
    PruneConfig cfg;
    prune_config_defaults(&cfg);
    cfg.batch = B;
    cfg.chunk = chunk;
    cfg.steps = steps;
    Pruner p;
    if (pruner_build(&p, &m, &cfg, T, &err) || pruner_prepare_targets(&p, &t, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int idx[64];
    for (int i = 0; i < B; i++) idx[i] = i;
    pruner_step(&p, &t, idx, B);  // warm-up (and a KL check: step 0 is a multiple of 5)
    double *ts = malloc(sizeof(double) * (size_t)steps);
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < B; i++) idx[i] = (s * B + i) % n;
        double t0 = now_seconds();
        pruner_step(&p, &t, idx, B);
        ts[s] = now_seconds() - t0;
    }
    double mean = 0, best = ts[0];
    for (int s = 0; s < steps; s++) mean += ts[s] / steps, best = ts[s] < best ? ts[s] : best;
    // The peak moves by +-15% on this machine from minute to minute: measure it again after
    // the steps and take the higher of the two.
    printf("machine sgemm again, after the steps:\n");
    double peak2 = sgemm_peak(1);
    if (peak2 > peak) peak = peak2;
    // per layer and stream: the block's matrices (12 C^2 for GPT-2; q, k, v, o, gate, up, down)
    double BT = (double)B * T, C = c.C, hs = c.hs, A = (double)c.NH * c.hs, QKV = (double)(c.NH + 2 * c.NKV) * c.hs;
    double Hin = (c.mlp == MLP_SWIGLU ? 2.0 : 1.0) * c.H;
    double mats = QKV * C + A * C + Hin * C + C * c.H;
    double gemm = 2.0 * BT * mats, att = 4.0 * B * c.NH * hs * T * (T + 1) / 2.0;
    double logits = 2.0 * B * C * c.Vp;
    double layer = gemm + att;
    double essential = 2 * c.L * layer + logits + (c.L * (gemm + 2 * att) + logits);
    double clean_recompute = 2.0 * BT * (mats - A * C) + att;  // no attention output projection
    double chunk_share = (double)p.cfg.chunk / B;
    double executed = essential + (c.L - 1) * clean_recompute +
                      chunk_share * (2 * c.L * layer + logits) / 10.0;
    double ideal = essential / (peak * 1e9);
    double rss = peak_rss_bytes();
    printf("step times (s):");
    for (int s = 0; s < steps; s++) printf(" %.2f", ts[s]);
    double med = median(ts, steps), sec = best;
    printf("\nstep: best %.3f s, median %.3f s, mean %.3f s (%d steps, one with the read-out KL "
           "check), chunks of %d examples\n", best, med, mean, steps, p.cfg.chunk);
    printf("  essential FLOPs %.1f G -> %.3f s at the sgemm peak %.1f GFLOP/s; best step / that = "
           "%.2fx [target <= 2.0x: %s]; median step / that = %.2fx\n", essential / 1e9, ideal, peak,
           sec / ideal, sec / ideal <= 2.0 ? "met" : "NOT met", med / ideal);
    printf("  executed FLOPs %.1f G at %.1f GFLOP/s = %.0f%% of peak [target >= 75%%: %s]\n",
           executed / 1e9, executed / sec / 1e9, 100 * executed / sec / 1e9 / peak,
           executed / sec / 1e9 >= 0.75 * peak ? "met" : "NOT met");
    printf("memory: peak RSS %.0f MB, weights %.0f MB, working memory (peak RSS - weights) %.0f MB "
           "[target < 400 MB: %s]\n", rss / 1e6, weight_bytes / 1e6, (rss - weight_bytes) / 1e6,
           rss - weight_bytes < 400e6 ? "met" : "NOT met");
    printf("  of which: pruner workspace %.0f MB, masks %.1f MB, cached targets %.1f MB, process "
           "baseline before the model %.0f MB\n", p.nfloats * 4.0 / 1e6, p.masks.total * 7 * 4.0 / 1e6,
           (double)p.n_targets * c.V * 4 / 1e6, rss0 / 1e6);
    free(ts);
    pruner_free(&p);
    task_free(&t);
    gpt2_free(&m);
    return 0;
}
