// bench_util.h: what every benchmark measures beside its own work: the machine's
// cblas_sgemm GFLOP/s in the same run (the yardstick for "percent of peak"), peak RSS,
// and a median of repeated timings. Header-only so each bench is one file.
#ifndef PRUNE_BENCH_UTIL_H
#define PRUNE_BENCH_UTIL_H

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common.h"
#include "gpt2.h"
#include "rng.h"

static inline int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// GFLOP/s of C(M,N) = A(M,K) B(K,N)^T, the shape prune's matmul_forward uses: the best of
// reps runs. On a shared machine noise only adds time, so the best run is the estimate of
// what the hardware does; the benchmarks compare it with their own best runs.
static inline double sgemm_gflops(int M, int N, int K, int reps) {
    float *a = malloc(sizeof(float) * (size_t)M * K), *b = malloc(sizeof(float) * (size_t)N * K),
          *c = malloc(sizeof(float) * (size_t)M * N);
    Rng r;
    rng_seed(&r, 1);
    for (size_t i = 0; i < (size_t)M * K; i++) a[i] = rng_uniform(&r) - 0.5f;
    for (size_t i = 0; i < (size_t)N * K; i++) b[i] = rng_uniform(&r) - 0.5f;
    double *t = malloc(sizeof(double) * (size_t)reps);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N);
    for (int i = 0; i < reps; i++) {
        double t0 = now_seconds();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N);
        t[i] = now_seconds() - t0;
    }
    double best = t[0];
    for (int i = 1; i < reps; i++) best = t[i] < best ? t[i] : best;
    double g = 2.0 * M * N * K / best / 1e9;
    free(a), free(b), free(c), free(t);
    return g;
}

// The peak prune is measured against: the best of a large square product and the
// GPT-2-small layer shapes at 512 rows (B*T = 8*64), each the best of 15 runs.
static inline double sgemm_peak(int verbose) {
    struct { int M, N, K; const char *what; } s[] = {
        {2048, 2048, 2048, "square 2048"},
        {512, 2304, 768, "qkv   512x2304x768"},
        {512, 3072, 768, "fc    512x3072x768"},
        {512, 768, 3072, "proj  512x768x3072"},
    };
    double best = 0;
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        double g = sgemm_gflops(s[i].M, s[i].N, s[i].K, 15);
        if (verbose) printf("  sgemm %-20s %7.1f GFLOP/s\n", s[i].what, g);
        if (g > best) best = g;
    }
    return best;
}

// Peak resident set size of this process so far, in bytes.
static inline double peak_rss_bytes(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss * 1024.0;
}

// Current resident set size (from /proc), in bytes.
static inline double current_rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    return (double)rss * 4096.0;
}

// The model both benchmarks measure: GPT-2 small's shape (L=12, NH=12, C=768, V=50257,
// maxT=1024) with random weights (std 0.02, seed 42). Exits on failure (benchmarks only).
static inline void bench_gpt2_small(GPT2 *m) {
    GPT2Config c = {.maxT = 1024, .V = 50257, .Vp = 50304, .L = 12, .NH = 12, .C = 768};
    PruneErr err;
    if (gpt2_build_random(m, &c, 42, 0.02f, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
}

#endif
