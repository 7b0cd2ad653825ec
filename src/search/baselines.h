// baselines.h: the coarse methods the search is compared with (`prune compare`,
// docs/method-as-built.md "Baselines"): greedy single-unit knockout and attribution patching
// (EAP-style gate gradients), each a ranking of units that gives nested "keep the top k"
// circuits; and --init attribution, which starts the search's log alpha from the
// attribution scores. Everything runs through the search's own passes (search.c) with gates
// set to 0/1 or to a constant, so a baseline circuit is the same kind of object as a
// searched one and goes through the same evaluator (pruner_evaluate).
#ifndef PRUNE_BASELINES_H
#define PRUNE_BASELINES_H

#include "prune.h"

// Attribution: gradients averaged over this many points of the path z = alpha (every
// gate), alpha = k / steps, k = 1..steps (a right Riemann sum of the integrated gradient).
#define ATTR_STEPS_DEFAULT 8

// Greedy single-unit knockout (the ablation of p's config): score[i] = KL(full || model with
// unit i of granularity g alone ablated, every other gate 1), mean over the examples of t,
// for i = 0..count(g). One forward pass over t per unit, chunk by chunk. Errors: out of memory.
int baseline_knockout(Pruner *p, const Task *t, int g, double *score, PruneErr *err);

// dKL(full || circuit)/dz for every gate (mk->total floats into grad), with every gate at
// z = alpha, mean over the examples of t: one forward and backward over t, chunk by chunk.
// At alpha = 1 the circuit is the full model, the minimum of the KL, so this gradient is 0
// up to rounding (tests check it): the gradient at z = 1 alone ranks nothing.
int baseline_gate_gradient(Pruner *p, const Task *t, float alpha, float *grad, PruneErr *err);

// Attribution scores (EAP-IG on the gates, after Hanna et al. 2024, "Have Faith in
// Faithfulness"): score[i] = (1/steps) sum_{k=1..steps} dKL/dz_i at z = k/steps, an estimate
// of the integral of the gate gradient from the empty circuit (z = 0) to the full model
// (z = 1). Each term is the attribution-patching product (x_clean - x_ref) . dKL/dx at
// the gate's point. Over every gate the scores sum to about -KL(full || empty)
// (completeness). steps forward and backward passes over t. score: mk->total floats.
int baseline_attribution(Pruner *p, const Task *t, int steps, float *score, PruneErr *err);

// order[0..n) = unit indices sorted by key descending (ties: lower index first).
void baseline_rank(const double *key, int n, int *order);

// keep (mk->total) = the units order[0..k) of granularity g kept, its other units ablated,
// every other granularity kept whole; then the consistency rules (circuit_make_consistent).
void baseline_keep_top(const Masks *mk, int g, const int *order, int k, unsigned char *keep);

// --init attribution: log alpha of each enabled granularity's gates from its attribution
// scores (|score|), by rank within the granularity: la = 0.5 + 2.5 q, q = rank / (n - 1) in
// [0, 1] (q = 1 for the largest |score|; a granularity of one gate gets q = 1). The default
// init is U(1.5, 2.5) for every gate; this one keeps every gate in the read-out circuit at
// the start (la > 0) but puts the least attributed closest to the threshold. Adam's state
// is reset. score: mk->total floats. Errors: out of memory.
int masks_init_from_scores(Masks *mk, const float *score, PruneErr *err);
// baseline_attribution on train, then masks_init_from_scores. Errors: out of memory.
int pruner_init_attribution(Pruner *p, const Task *train, int steps, PruneErr *err);

#endif
