// baselines.c: greedy single-unit knockout and attribution patching (EAP-style) as rankings
// of units, the nested "keep the top k" circuits they give, and --init attribution
// (baselines.h, docs/method-as-built.md "Baselines"). It runs the search's passes
// (search.c: pruner_run_batch / pruner_kl, and kl_probe of refine.c) with the gates set
// here; it has no forward of its own and learns nothing. It does not evaluate circuits
// (metrics.c) or choose the examples (the caller passes the training part).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "baselines.h"

int baseline_knockout(Pruner *p, const Task *t, int g, double *score, PruneErr *err) {
    const Masks *mk = &p->masks;
    KlProbe kp;
    unsigned char *keep = palloc(mk->total, "a knockout circuit", err);
    if (!keep) return -1;
    if (kl_probe_build(&kp, p, t, 0, err)) {  // the full model's log-probabilities, once
        free(keep);
        return -1;
    }
    for (int i = 0; i < mk->count[g]; i++) {
        memset(keep, 1, mk->total);
        keep[mk->off[g] + (size_t)i] = 0;
        // a layer's only head knocked out also prunes its attention block: under the
        // corrupted and mean ablations the same function (both give the reference's output)
        circuit_make_consistent(mk, keep);
        double kl = kl_probe(p, &kp, keep);
        score[i] = kl > 0 ? kl : 0;
    }
    kl_probe_free(&kp);
    free(keep);
    return 0;
}

int baseline_gate_gradient(Pruner *p, const Task *t, float alpha, float *grad, PruneErr *err) {
    Masks *mk = &p->masks;
    int *idx = palloc(sizeof(int) * (size_t)(t->n > 0 ? t->n : 1), "example indices", err);
    if (!idx) return -1;
    for (int i = 0; i < t->n; i++) idx[i] = i;
    for (size_t k = 0; k < mk->total; k++) mk->z[k] = alpha, mk->dzdla[k] = 0;
    pruner_kl(p, t, idx, t->n, 1);  // dKL/dz of every gate into mk->dz (mean over t)
    memcpy(grad, mk->dz, sizeof(float) * mk->total);
    free(idx);
    return 0;
}

int baseline_attribution(Pruner *p, const Task *t, int steps, float *score, PruneErr *err) {
    const Masks *mk = &p->masks;
    if (steps < 1) steps = 1;
    float *g = palloc(sizeof(float) * mk->total, "gate gradients", err);
    double *sum = pcalloc(sizeof(double) * mk->total, "attribution sums", err);
    if (!g || !sum) {
        free(g), free(sum);
        return -1;
    }
    for (int k = 1; k <= steps; k++) {
        if (baseline_gate_gradient(p, t, (float)k / steps, g, err)) {
            free(g), free(sum);
            return -1;
        }
        for (size_t i = 0; i < mk->total; i++) sum[i] += g[i];
    }
    for (size_t i = 0; i < mk->total; i++) score[i] = (float)(sum[i] / steps);
    free(g), free(sum);
    return 0;
}

// Insertion sort: n is a granularity's gate count, and the order must not depend on qsort's
// handling of ties.
void baseline_rank(const double *key, int n, int *order) {
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 1; i < n; i++) {
        int v = order[i], j = i;
        while (j > 0 && key[order[j - 1]] < key[v]) order[j] = order[j - 1], j--;
        order[j] = v;
    }
}

void baseline_keep_top(const Masks *mk, int g, const int *order, int k, unsigned char *keep) {
    memset(keep, 1, mk->total);
    memset(keep + mk->off[g], 0, (size_t)mk->count[g]);
    for (int i = 0; i < k && i < mk->count[g]; i++) keep[mk->off[g] + (size_t)order[i]] = 1;
    circuit_make_consistent(mk, keep);
}

typedef struct {
    size_t k;
    float s;
} Scored;

static int by_abs_asc(const void *a, const void *b) {
    const Scored *x = a, *y = b;
    float u = fabsf(x->s), v = fabsf(y->s);
    if (u != v) return u < v ? -1 : 1;
    return x->k < y->k ? 1 : x->k > y->k ? -1 : 0;  // ties: the lower index ranks higher
}

int masks_init_from_scores(Masks *mk, const float *score, PruneErr *err) {
    int nmax = 0;
    for (int g = 0; g < NUM_GRAN; g++) nmax = mk->count[g] > nmax ? mk->count[g] : nmax;
    Scored *r = palloc(sizeof(Scored) * (size_t)nmax, "the attribution ranking", err);
    if (!r) return -1;
    for (int g = 0; g < NUM_GRAN; g++) {
        int n = mk->count[g];
        for (int i = 0; i < n; i++) r[i] = (Scored){mk->off[g] + (size_t)i, score[mk->off[g] + i]};
        qsort(r, (size_t)n, sizeof *r, by_abs_asc);
        for (int i = 0; i < n; i++) {
            float q = n > 1 ? (float)i / (float)(n - 1) : 1.0f;
            mk->log_alpha[r[i].k] = 0.5f + 2.5f * q;
        }
    }
    memset(mk->adam_m, 0, sizeof(float) * mk->total);
    memset(mk->adam_v, 0, sizeof(float) * mk->total);
    free(r);
    return 0;
}

int pruner_init_attribution(Pruner *p, const Task *train, int steps, PruneErr *err) {
    float *s = palloc(sizeof(float) * p->masks.total, "attribution scores", err);
    if (!s) return -1;
    int rc = baseline_attribution(p, train, steps, s, err);
    if (!rc) rc = masks_init_from_scores(&p->masks, s, err);
    free(s);
    return rc;
}
