// refine.c: after the learned search, a forward-only pass on the validation part that
// makes the circuit meet the KL budget there and locally minimal (docs/method-as-built.md,
// "Refinement"). It measures KL(full || circuit) with binary gates on held-out examples;
// it does not learn anything and never sees the test part.
//
// 1. Add back: when the read-out circuit misses the budget, units are restored in the
//    order the search ranked them (log alpha, highest first), the fewest that meet it
//    (a binary search on the threshold).
// 2. Remove, coarse to fine: each kept attention block and MLP block, then each kept
//    head, least harmful first (the KL its removal alone gives), is dropped when the
//    budget still holds without it; then the finest units (head dimensions, neurons, MLP output
//    dimensions), ranked by log alpha across layers, lose the largest lowest-ranked share
//    that keeps the budget (a binary search); last, the blocks and heads are tried once
//    more, so that removing any single kept head or MLP block breaks the budget.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

int kl_probe_build(KlProbe *k, Pruner *p, const Task *t, double z, PruneErr *err) {
    const GPT2Config *c = &p->m->config;
    memset(k, 0, sizeof *k);
    k->task = t;
    k->z = z;
    if (t->n < 1) return perr(err, "the validation part is empty. Hint: use a larger task or a larger --val-frac.");
    k->full = palloc(sizeof(float) * (size_t)t->n * c->V, "the full model's validation log-probabilities", err);
    k->idx = palloc(sizeof(int) * (size_t)t->n, "validation indices", err);
    k->each = palloc(sizeof(double) * (size_t)t->n, "validation KLs", err);
    if (!k->full || !k->idx || !k->each) {
        kl_probe_free(k);
        return -1;
    }
    for (int i = 0; i < t->n; i++) k->idx[i] = i;
    for (int s = 0; s < t->n; s += p->maxB) {
        int n = t->n - s < p->maxB ? t->n - s : p->maxB;
        int T = pruner_load_chunk(p, t, k->idx + s, n);
        pruner_forward_chunk(p, &p->ones, n, T, 0, NULL);
        memcpy(k->full + (size_t)s * c->V, p->logp, sizeof(float) * (size_t)n * c->V);
    }
    return 0;
}

void kl_probe_free(KlProbe *k) {
    free(k->full);
    free(k->idx);
    free(k->each);
    memset(k, 0, sizeof *k);
}

double kl_probe(Pruner *p, KlProbe *k, const unsigned char *keep) {
    const GPT2Config *c = &p->m->config;
    const Task *t = k->task;
    masks_set(&p->masks, keep);
    point_gates_from_masks(&p->pg, &p->masks);
    double kl = 0;
    for (int s = 0; s < t->n; s += p->maxB) {
        int n = t->n - s < p->maxB ? t->n - s : p->maxB;
        int T = pruner_load_chunk(p, t, k->idx + s, n);
        memcpy(p->full_buf, k->full + (size_t)s * c->V, sizeof(float) * (size_t)n * c->V);
        pruner_forward_chunk(p, &p->pg, n, T, 1, NULL);
        double klc = pruner_kl_chunk(p, p->full_buf, n, 0, 0, k->each + s);
        kl += klc > 0 ? klc : 0;
    }
    k->evals++;
    double mean = kl / t->n, var = 0;
    for (int i = 0; i < t->n; i++) var += (k->each[i] - mean) * (k->each[i] - mean);
    k->se = t->n > 1 ? sqrt(var / (t->n - 1) / t->n) : 0;
    return mean;
}

// The budget test of refinement: the mean KL's upper confidence bound.
static int fits(const KlProbe *k, double kl, double budget) { return kl + k->z * k->se <= budget; }

typedef struct {
    size_t k;
    float la;
} Ranked;

static int by_la_desc(const void *a, const void *b) {
    const Ranked *x = a, *y = b;
    if (x->la != y->la) return x->la < y->la ? 1 : -1;
    return x->k < y->k ? -1 : x->k > y->k;  // ties: a fixed order
}

static int by_la_asc(const void *a, const void *b) { return by_la_desc(b, a); }

// keep = the units ranked above position n of r, made consistent (enabled gates only).
static void keep_top(const Masks *mk, const Ranked *r, size_t n_ranked, size_t n, unsigned char *keep) {
    for (int g = 0; g < NUM_GRAN; g++)
        for (int i = 0; i < mk->count[g]; i++) keep[mk->off[g] + (size_t)i] = !mk->enabled[g];
    for (size_t i = 0; i < n && i < n_ranked; i++) keep[r[i].k] = 1;
    circuit_make_consistent(mk, keep);
}

static int is_fine(int g) { return g == G_ATTN_DIM || g == G_NEURON || g == G_MLP_OUT; }

// One pass over the kept units of granularities gs, least harmful first: each unit's
// removal alone is measured, then the units are dropped in that order while the budget
// holds. (The search's log alpha orders them less well: it ranks units under the sampled
// gates of training, not against this circuit.) Returns the units removed.
static int remove_singly(Pruner *p, KlProbe *val, double budget, unsigned char *keep, unsigned char *trial,
                         const int *gs, int ngs, Ranked *r, RefineStats *st) {
    const Masks *mk = &p->masks;
    size_t n = 0;
    for (int j = 0; j < ngs; j++) {
        int g = gs[j];
        if (!mk->enabled[g]) continue;
        for (int i = 0; i < mk->count[g]; i++) {
            size_t k = mk->off[g] + (size_t)i;
            if (keep[k]) r[n++] = (Ranked){k, mk->log_alpha[k]};
        }
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(trial, keep, mk->total);
        trial[r[i].k] = 0;
        circuit_make_consistent(mk, trial);
        r[i].la = (float)kl_probe(p, val, trial);  // the sort key: KL without this unit
    }
    qsort(r, n, sizeof *r, by_la_asc);
    int removed = 0;
    for (size_t i = 0; i < n; i++) {
        if (!keep[r[i].k]) continue;  // gone with a container removed earlier
        memcpy(trial, keep, mk->total);
        trial[r[i].k] = 0;
        circuit_make_consistent(mk, trial);
        double kl = kl_probe(p, val, trial);
        if (fits(val, kl, budget)) {
            memcpy(keep, trial, mk->total);
            st->kl_after = kl;
            removed++;
        }
    }
    return removed;
}

// Removes the largest share of the kept finest units (granularity only, or all three when
// only < 0), lowest log alpha first, that keeps the budget (a binary search on the share).
static long remove_share(Pruner *p, KlProbe *val, double budget, unsigned char *keep, unsigned char *trial,
                         int only, Ranked *r, RefineStats *st) {
    const Masks *mk = &p->masks;
    size_t n = 0;
    for (int g = 0; g < NUM_GRAN; g++)
        if (mk->enabled[g] && is_fine(g) && (only < 0 || g == only))
            for (int i = 0; i < mk->count[g]; i++) {
                size_t k = mk->off[g] + (size_t)i;
                if (keep[k]) r[n++] = (Ranked){k, mk->log_alpha[k]};
            }
    qsort(r, n, sizeof *r, by_la_asc);
    size_t lo = 0, hi = n;  // removing the lowest lo keeps the budget; hi is the bound
    while (hi > lo) {
        size_t mid = lo + (hi - lo + 1) / 2;
        memcpy(trial, keep, mk->total);
        for (size_t i = 0; i < mid; i++) trial[r[i].k] = 0;
        circuit_make_consistent(mk, trial);
        double kl = kl_probe(p, val, trial);
        if (fits(val, kl, budget)) lo = mid, st->kl_after = kl;
        else hi = mid - 1;
    }
    for (size_t i = 0; i < lo; i++) keep[r[i].k] = 0;
    circuit_make_consistent(mk, keep);
    return (long)lo;
}

int circuit_refine(Pruner *p, KlProbe *val, double budget, unsigned char *keep, RefineStats *st, PruneErr *err) {
    const Masks *mk = &p->masks;
    double t0 = now_seconds();
    memset(st, 0, sizeof *st);
    int evals0 = val->evals;
    Ranked *r = palloc(sizeof(Ranked) * mk->total, "refinement ranking", err);
    unsigned char *trial = palloc(mk->total, "refinement circuit", err);
    if (!r || !trial) {
        free(r), free(trial);
        return -1;
    }
    st->kl_before = st->kl_after = kl_probe(p, val, keep);
    // 1. add back, by the search's own ranking, the fewest units that meet the budget
    if (!fits(val, st->kl_before, budget)) {
        size_t n = 0;
        for (int g = 0; g < NUM_GRAN; g++)
            if (mk->enabled[g])
                for (int i = 0; i < mk->count[g]; i++) r[n++] = (Ranked){mk->off[g] + (size_t)i, mk->log_alpha[mk->off[g] + i]};
        qsort(r, n, sizeof *r, by_la_desc);
        size_t have = 0;  // units kept now: those with log alpha > 0 lead the ranking
        while (have < n && r[have].la > 0) have++;
        size_t lo = have, hi = n;  // lo misses the budget; hi (every unit) is the full model
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            keep_top(mk, r, n, mid, trial);
            if (fits(val, kl_probe(p, val, trial), budget)) hi = mid;
            else lo = mid;
        }
        keep_top(mk, r, n, hi, keep);
        st->added = (long)(hi - have);
        st->kl_after = kl_probe(p, val, keep);
    }
    // 2. remove, coarse to fine
    const int blocks[] = {G_LAYER, G_ATTN, G_MLP}, heads[] = {G_HEAD};
    st->removed += remove_singly(p, val, budget, keep, trial, blocks, 3, r, st);
    st->removed += remove_singly(p, val, budget, keep, trial, heads, 1, r, st);
    // the finest units: first across the three granularities, then each on its own (a
    // share of one may go that the joint ranking kept), twice
    for (int pass = 0; pass < 7; pass++) {
        int only = pass == 0 ? -1 : (const int[]){G_ATTN_DIM, G_NEURON, G_MLP_OUT}[(pass - 1) % 3];
        st->removed += remove_share(p, val, budget, keep, trial, only, r, st);
    }
    st->removed += remove_singly(p, val, budget, keep, trial, blocks, 3, r, st);
    st->removed += remove_singly(p, val, budget, keep, trial, heads, 1, r, st);
    st->kl_after = kl_probe(p, val, keep);
    st->evals = val->evals - evals0;
    st->seconds = now_seconds() - t0;
    free(r), free(trial);
    return 0;
}
