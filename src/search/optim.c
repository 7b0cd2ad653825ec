// optim.c: the search's optimisation (method.md §5-§6): one step (sample the gates, the
// loss and its gradient over the batch, Adam on log alpha), the sparsity controllers (fixed
// lambda, target sparsity, KL budget: each its own function), the best-circuit snapshot,
// the per-step log and progress, and the training loop with checkpoints.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels.h"
#include "prune.h"

void prune_config_defaults(PruneConfig *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->ablation = ABL_CORRUPTED;
    for (int g = 0; g < NUM_GRAN; g++) cfg->enabled[g] = 1;
    cfg->steps = 500;
    cfg->batch = 32;
    cfg->chunk = 0;  // 0: examples such that chunk * T is about 512 rows
    cfg->lr = 0.05f;
    cfg->seed = 0;
    cfg->mode = SPARSITY_KL_BUDGET;
    cfg->kl_budget = 0.05f;
    cfg->dual_lr = 0.05f;
    cfg->warmup = 0.5f;
    cfg->run.max_target_bytes = (size_t)512 << 20;
    cfg->run.checkpoint_every = 50;
}

#define KL_CHECK 10  // steps between measurements of the read-out circuit's KL

// Adam on log alpha for loss = KL + sum_g lambda_g * sum_{i in g} P(z_i != 0) (method.md
// §6; each gate counts once), with dL/dz already in mk->dz. t: the step, from 1.
static void adam_step(Masks *mk, const double lambda[NUM_GRAN], float lr, int t) {
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    float c1 = 1.0f - powf(b1, (float)t), c2 = 1.0f - powf(b2, (float)t);
    for (int g = 0; g < NUM_GRAN; g++) {
        if (!mk->enabled[g]) continue;
        float lam = (float)lambda[g];
        for (int i = 0; i < mk->count[g]; i++) {
            size_t k = mk->off[g] + (size_t)i;
            float la = mk->log_alpha[k], pn = hc_p_nonzero(la);
            float grad = mk->dz[k] * mk->dzdla[k] + lam * pn * (1.0f - pn);
            mk->adam_m[k] = b1 * mk->adam_m[k] + (1 - b1) * grad;
            mk->adam_v[k] = b2 * mk->adam_v[k] + (1 - b2) * grad * grad;
            mk->log_alpha[k] = la - lr * (mk->adam_m[k] / c1) / (sqrtf(mk->adam_v[k] / c2) + eps);
        }
    }
}

// The size the KL-budget mode minimises among circuits within the budget, of the gates in
// mk->z (0/1): the kept gates, or with per_granularity the share kept of each learned
// granularity, summed (in millionths, so it compares as an integer).
static long circuit_size(const Pruner *p) {
    const Masks *mk = &p->masks;
    long kept = 0;
    if (!p->cfg.per_granularity) {
        for (size_t k = 0; k < mk->total; k++) kept += mk->z[k] > 0.5f;
        return kept;
    }
    for (int g = 0; g < NUM_GRAN; g++) {
        if (!mk->enabled[g]) continue;
        long kg = 0;
        for (int i = 0; i < mk->count[g]; i++) kg += mk->z[mk->off[g] + (size_t)i] > 0.5f;
        kept += (long)llround(1e6 * (double)kg / mk->count[g]);
    }
    return kept;
}

// The budget is on the circuit that would be read out now (log_alpha > 0), not on the
// sampled gates: early on ~40% of samples fall below 1 and their KL says little about the
// circuit. A forward pass (no backward) measures it on the first chunk of this step's
// batch; the controller sees a moving average of that. The multiplier overshoots (the
// problem is discrete: the KL jumps when a needed unit goes), so the result is the
// smallest circuit seen that met the budget, both in this measurement and on the moving
// average (one chunk alone is noisy).
//
// With a validation part (--refine), the check is on all of it and on the circuit as it
// would be read out (consistency rules applied), by the same test refinement uses: mean KL
// plus z standard errors within the budget. Many more examples than one chunk, and none the
// gates were trained on, so the snapshot kept is not the one that passed by luck.
static void measure_readout_kl(Pruner *p, const Task *train, const int *idx, int B) {
    Masks *mk = &p->masks;
    double klb;
    if (p->val) {
        masks_readout(mk, p->keep_buf);
        double mean = kl_probe(p, p->val, p->keep_buf);
        klb = p->kl_ema = mean + p->val->z * p->val->se;
    } else {
        for (size_t k = 0; k < mk->total; k++) mk->z[k] = mk->log_alpha[k] > 0.0f;
        for (int g = 0; g < NUM_GRAN; g++)
            if (!mk->enabled[g])
                for (int i = 0; i < mk->count[g]; i++) mk->z[mk->off[g] + (size_t)i] = 1.0f;
        point_gates_from_masks(&p->pg, mk);
        int n1 = B < p->maxB ? B : p->maxB;
        klb = pruner_run_batch(p, train, idx, n1, 0);
        p->kl_ema = p->step ? 0.7 * p->kl_ema + 0.3 * klb : klb;
    }
    long kept = circuit_size(p);
    if (klb <= p->cfg.kl_budget && p->kl_ema <= p->cfg.kl_budget && (p->best_kept < 0 || kept < p->best_kept)) {
        p->best_kept = kept;
        p->best_step = p->step;
        p->best_lambda = p->lambda[0];
        memcpy(p->best_la, mk->log_alpha, sizeof(float) * mk->total);
    }
    // Backtracking (with a validation part, whose checks are not noise): a circuit that left
    // the budget rarely comes back, because gates pushed far below 0 get almost no gradient
    // (their samples clip to 0) and the multiplier then decays to its floor while the rest
    // of the steps change nothing. So the search returns to the best circuit, with fresh
    // Adam moments, half its multiplier and half the dual step: each return tries a gentler
    // descent from the smallest circuit known to fit.
    if (p->val && klb > p->cfg.kl_budget && p->best_kept >= 0) {
        memcpy(mk->log_alpha, p->best_la, sizeof(float) * mk->total);
        memset(mk->adam_m, 0, sizeof(float) * mk->total);
        memset(mk->adam_v, 0, sizeof(float) * mk->total);
        p->dual_scale *= 0.5;
        p->lambda[0] = p->best_lambda * p->dual_scale;
        p->kl_ema = 0;  // the circuit restored met the budget: advance until the next check says
        if (p->dual_scale < 1e-6) p->dual_scale = 1e-6;
    }
}

// Target sparsity: dual ascent per granularity on density_g <= 1 - target_g (the targets
// ramp up over the first warmup share of the steps).
static void controller_target(Pruner *p, int t) {
    const PruneConfig *cfg = &p->cfg;
    float ramp = cfg->warmup > 0 ? (float)t / (cfg->warmup * cfg->steps) : 1.0f;
    if (ramp > 1) ramp = 1;
    for (int g = 0; g < NUM_GRAN; g++) {
        if (!p->masks.enabled[g] || cfg->target[g] <= 0) continue;
        double want = 1.0 - ramp * cfg->target[g];
        p->lambda[g] += cfg->dual_lr * (masks_density(&p->masks, g) - want);
        if (p->lambda[g] < 0) p->lambda[g] = 0;
    }
}

// KL budget: dual ascent on log lambda for KL <= budget: the pressure to prune grows while
// the circuit is within budget and shrinks when it is not; in log space it is scale-free
// (the right lambda differs by orders of magnitude between models and tasks). Over budget
// it retreats up to five times faster than it advances. One lambda (lambda[0]) serves
// every granularity.
static void controller_kl_budget(Pruner *p) {
    const PruneConfig *cfg = &p->cfg;
    double v = (cfg->kl_budget - p->kl_ema) / (cfg->kl_budget > 0 ? cfg->kl_budget : 1);
    if (v > 1) v = 1;
    if (v < -5) v = -5;
    p->lambda[0] *= exp(cfg->dual_lr * p->dual_scale * v);
    if (p->lambda[0] < 1e-8) p->lambda[0] = 1e-8;
    if (p->lambda[0] > 1e4) p->lambda[0] = 1e4;
}

// The sparsity weight of each granularity this step (fixed and target modes: its own).
// With per_granularity, the weight of a gate is divided by its granularity's gate count,
// so each granularity's term is lambda times its mean density.
static void step_lambdas(const Pruner *p, double lam[NUM_GRAN]) {
    for (int g = 0; g < NUM_GRAN; g++) {
        lam[g] = p->cfg.mode == SPARSITY_KL_BUDGET ? p->lambda[0] : p->lambda[g];
        if (p->cfg.per_granularity) lam[g] /= p->masks.count[g];
    }
}

double pruner_step(Pruner *p, const Task *train, const int *idx, int B) {
    Masks *mk = &p->masks;
    const PruneConfig *cfg = &p->cfg;
    Rng r;  // the sample of step k depends only on (seed, k): resumable, reproducible
    rng_seed(&r, cfg->seed * 0x100000001B3ull + (uint64_t)p->step + 1);
    masks_sample(mk, &r);
    double kl = pruner_kl(p, train, idx, B, 1);
    int t = p->step + 1;
    double lam[NUM_GRAN];
    step_lambdas(p, lam);
    adam_step(mk, lam, cfg->lr, t);
    if (cfg->mode == SPARSITY_KL_BUDGET && p->step % KL_CHECK == 0) measure_readout_kl(p, train, idx, B);
    if (cfg->mode == SPARSITY_TARGET) controller_target(p, t);
    else if (cfg->mode == SPARSITY_KL_BUDGET) controller_kl_budget(p);
    p->step++;
    return kl;
}

// On a terminal a line redrawn every step; elsewhere (a log file, a pipe) a line every few
// seconds, so a long run shows it is alive without flooding the log.
static void progress_line(Pruner *p, double kl, double t0, double *last, int total) {
    FILE *f = p->cfg.run.progress;
    int due = progress_due(f, last, 5.0, p->step >= total);
    if (!due) return;
    double el = now_seconds() - t0, rate = p->step / (el > 0 ? el : 1e-9);
    double eta = (total - p->step) / (rate > 0 ? rate : 1e-9);
    fprintf(f, "%sstep %d/%d  KL %.4f  density", due == 1 ? "\r" : "", p->step, total, kl);
    for (int g = 0; g < NUM_GRAN; g++)
        if (p->masks.enabled[g]) fprintf(f, " %s %.3f", GRANULARITIES[g].name, masks_density(&p->masks, g));
    if (p->cfg.mode == SPARSITY_KL_BUDGET) fprintf(f, "  lambda %.3g", p->lambda[0]);
    else if (p->cfg.mode == SPARSITY_TARGET) {
        fprintf(f, "  lambda");
        for (int g = 0; g < NUM_GRAN; g++)
            if (p->masks.enabled[g] && p->cfg.target[g] > 0) fprintf(f, " %.3g", p->lambda[g]);
    }
    fprintf(f, "  %.1f steps/s  ETA %.0fs%s", rate, eta, due == 1 ? "   " : "\n");
    fflush(f);
}

static void log_row(Pruner *p, double kl) {
    FILE *f = p->cfg.run.log;
    if (!f) return;
    if (ftell(f) == 0) {  // a fresh file (a resumed run goes on below the rows it kept)
        fprintf(f, "step,kl,expected_l0");
        for (int g = 0; g < NUM_GRAN; g++)
            if (p->masks.enabled[g]) fprintf(f, ",density_%s", GRANULARITIES[g].name);
        for (int g = 0; g < NUM_GRAN; g++)
            if (p->masks.enabled[g]) fprintf(f, ",lambda_%s", GRANULARITIES[g].name);
        fprintf(f, "\n");
    }
    double l0 = 0;
    for (int g = 0; g < NUM_GRAN; g++)
        if (p->masks.enabled[g]) l0 += masks_density(&p->masks, g) * p->masks.count[g];
    fprintf(f, "%d,%.6g,%.6g", p->step, kl, l0);
    for (int g = 0; g < NUM_GRAN; g++)
        if (p->masks.enabled[g]) fprintf(f, ",%.6g", masks_density(&p->masks, g));
    for (int g = 0; g < NUM_GRAN; g++)
        if (p->masks.enabled[g])
            fprintf(f, ",%.6g", p->cfg.mode == SPARSITY_KL_BUDGET ? p->lambda[0] : p->lambda[g]);
    fprintf(f, "\n");
    fflush(f);  // a row a step on disk: a killed run keeps the rows of the steps it did
}

// A checkpoint that cannot be written (a full disk, a folder removed) costs only the
// ability to resume from this step: a warning naming the file and the reason, and the
// search goes on to its result (the previous checkpoint, if any, is left whole).
static void save_or_warn(Pruner *p, const Task *train) {
    PruneErr e = {{0}};
    if (pruner_save(p, train, p->cfg.run.checkpoint, &e) == 0) return;
    fprintf(stderr, "prune: warning: step %d: the checkpoint was not written: %s The search goes on; a "
                    "--resume would start from the last checkpoint written.\n", p->step, e.msg);
    fflush(stderr);
}

int pruner_train(Pruner *p, const Task *train, int *nonfinite, PruneErr *err) {
    int n = train->n, B = p->cfg.batch < n ? p->cfg.batch : n;
    size_t total = p->masks.total;
    *nonfinite = 0;
    // the order buffer and a copy of the state before each step (a non-finite loss restores it)
    int *order = palloc(sizeof(int) * (size_t)n, "batch order", err);
    float *keep_state = order ? palloc(sizeof(float) * 3 * total, "state copy", err) : NULL;
    if (!keep_state) {
        free(order);
        return -1;
    }
    Rng r;
    rng_seed(&r, p->cfg.seed ^ 0x6261746368ull);  // "batch"
    int pos = n;  // forces a shuffle first
    int rc = 0;
    double t0 = now_seconds(), last_progress = 0;
    for (int s = 0; s <= p->step && s < p->cfg.steps; s++) {
        // the batch order of step s: replayed from step 0, so a resumed run sees the batches
        // an uninterrupted one would
        if (s > 0) pos += B;
        if (pos + B > n) {  // a new epoch: reshuffle (Fisher-Yates)
            for (int i = 0; i < n; i++) order[i] = i;
            for (int i = n - 1; i > 0; i--) {
                int j = (int)(rng_u64(&r) % (uint64_t)(i + 1)), tmp = order[i];
                order[i] = order[j], order[j] = tmp;
            }
            pos = 0;
        }
        if (s < p->step) continue;
        if (p->cfg.run.stop && *p->cfg.run.stop) break;
        double lam[NUM_GRAN], ema = p->kl_ema;
        memcpy(lam, p->lambda, sizeof lam);
        memcpy(keep_state, p->masks.log_alpha, sizeof(float) * total);
        memcpy(keep_state + total, p->masks.adam_m, sizeof(float) * total);
        memcpy(keep_state + 2 * total, p->masks.adam_v, sizeof(float) * total);
        double kl = pruner_step(p, train, order + pos, B);
        if (!isfinite(kl)) {
            memcpy(p->masks.log_alpha, keep_state, sizeof(float) * total);
            memcpy(p->masks.adam_m, keep_state + total, sizeof(float) * total);
            memcpy(p->masks.adam_v, keep_state + 2 * total, sizeof(float) * total);
            memcpy(p->lambda, lam, sizeof lam);
            p->kl_ema = ema;
            p->step--;
            *nonfinite = 1;
            rc = perr(err, "step %d: the loss is not finite (KL = %g); the masks of step %d are kept. "
                           "Hint: lower --lr.", p->step + 1, kl, p->step);
            break;
        }
        log_row(p, kl);
        progress_line(p, kl, t0, &last_progress, p->cfg.steps);
        if (p->cfg.run.checkpoint && p->cfg.run.checkpoint_every > 0 && p->step % p->cfg.run.checkpoint_every == 0 &&
            p->step < p->cfg.steps)
            save_or_warn(p, train);
    }
    if (p->cfg.run.progress && isatty(fileno(p->cfg.run.progress))) fprintf(p->cfg.run.progress, "\n");
    if (p->cfg.run.log) fflush(p->cfg.run.log);
    // stopped early: the state goes to the checkpoint so --resume can go on from here
    if (rc == 0 && p->cfg.run.checkpoint && p->step < p->cfg.steps) save_or_warn(p, train);
    if (p->cfg.mode == SPARSITY_KL_BUDGET && p->best_kept >= 0)
        memcpy(p->masks.log_alpha, p->best_la, sizeof(float) * total);
    free(order), free(keep_state);
    return rc ? -1 : p->step;
}

