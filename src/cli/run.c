// run.c: the commands built on the pruner: a search (`prune MODEL TASK`), the evaluation of
// a given circuit (`prune eval`) and a sweep of searches (`prune sweep`; its picture is drawn
// in report.c). Loading, reporting and the order of work; the method itself is in
// src/search/.
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "baselines.h"
#include "commands.h"
#include "tokenizer.h"

typedef struct {
    GPT2 m;
    Tokenizer tok;
    TaskSet ts;
    Pruner p;
    Task val;  // --refine: the end of the split's train part (a view, not freed)
    int have_m, have_tok, have_ts, have_p;
} Run;

// An attention-only model's MLPs compute exactly 0 (weights and biases): they are not part
// of any circuit, so they are read out as pruned (which changes no output) and the weight
// share counts attention alone.
static void drop_zero_mlps(const Run *r, unsigned char *keep) {
    if (!gpt2_mlp_is_zero(&r->m)) return;
    const Masks *mk = &r->p.masks;
    for (int l = 0; l < mk->count[G_MLP]; l++) keep[mk->off[G_MLP] + (size_t)l] = 0;
    circuit_make_consistent(mk, keep);
}

static void run_free(Run *r) {
    if (r->have_p) pruner_free(&r->p);
    if (r->have_ts) taskset_free(&r->ts);
    if (r->have_tok) tok_free(&r->tok);
    if (r->have_m) gpt2_free(&r->m);
}

// Model, vocabulary, task split and a pruner sized for the longest prompt.
static int run_open(Run *r, const RunArgs *a, FILE *out, PruneErr *err) {
    memset(r, 0, sizeof *r);
    if (gpt2_load(&r->m, a->model, 0, err)) return -1;
    r->have_m = 1;
    const GPT2Config *c = &r->m.config;
    if (tok_load_for_model(&r->tok, a->model, a->vocab, c->V, err)) {
        if (a->vocab) return -1;
        tok_init_ids_only(&r->tok, c->V, err->msg);  // id tasks still run; text lines say why not
    }
    r->have_tok = 1;
    TaskOptions opt = {.max_len = c->maxT, .skip_invalid = a->skip_invalid,
                       .allow_no_corrupt = ABLATIONS[a->cfg.ablation].streams < 2, .split_field = a->split_field, .warn = stderr};
    if (taskset_load(&r->ts, a->task, a->eval, &r->tok, &opt, a->train_frac, a->cfg.seed, err)) return -1;
    r->have_ts = 1;
    if (a->val_frac > 0) {  // the search's part and the validation part share no example
        if (a->cfg.mode != SPARSITY_KL_BUDGET)
            return perr(err, "--refine makes the circuit meet --kl-budget on validation data, so it goes "
                             "with the KL-budget mode, not --target or --lambda.");
        int nv = (int)(r->ts.train.n * a->val_frac + 0.5);
        // the cut falls between two different clean prompts: the split keeps each repeated
        // prompt's examples together (task_split), so the search and validation parts share
        // none either
        const TaskExample *ex = r->ts.train.ex;
        int cut = r->ts.train.n - nv;
        while (cut > 0 && cut < r->ts.train.n && ex[cut].len == ex[cut - 1].len &&
               !memcmp(ex[cut].clean, ex[cut - 1].clean, sizeof(int) * (size_t)ex[cut].len))
            cut--;
        nv = r->ts.train.n - cut;
        if (nv < 1 || nv >= r->ts.train.n)
            return perr(err, "--refine %g: the training part of %d examples leaves %d for validation. Hint: "
                             "use a larger task or another share.", a->val_frac, r->ts.train.n, nv);
        r->val = r->ts.train;
        r->val.ex += r->ts.train.n - nv;
        r->val.n = nv;
        r->ts.train.n -= nv;
        fprintf(out, "refinement: %d of the %d training examples held out for validation\n", nv, r->ts.train.n + nv);
        if (nv < 30)
            fprintf(out, "warning: %d validation examples are too few to hold a KL budget with confidence (its "
                         "standard error needs many). Hint: a larger task (prune gen --n) or a larger --refine "
                         "share.\n", nv);
    }
    int maxT = r->ts.train.max_len > r->ts.eval.max_len ? r->ts.train.max_len : r->ts.eval.max_len;
    fprintf(out, "model %s: %s, L=%d NH=%d C=%d V=%d, %zu parameters\n", a->model,
            gpt2_format_name(r->m.format), c->L, c->NH, c->C, c->V, r->m.num_parameters);
    PruneConfig cfg = a->cfg;
    char tokdesc[2400];
    tok_describe(&r->tok, tokdesc, sizeof tokdesc);
    fprintf(out, "tokenizer %s\n", tokdesc);
    taskset_report(&r->ts, out);
    MemoryPlan mp = pruner_plan(&r->m, &cfg, maxT, r->ts.train.n);
    size_t avail = prune_memory_available();
    size_t limit = a->max_memory ? a->max_memory : avail;
    if (limit && mp.total > limit)
        return perr(err, "this run needs %.0f MB (weights %.0f, workspace %.0f, masks %.1f, cached "
                         "full-model log-probabilities %.0f) but %s is %.0f MB. Hint: the workspace "
                         "follows --chunk (now %d examples per pass); --max-target-mb caps the cache; "
                         "shorter prompts need less.", mp.total / 1048576.0, mp.weights / 1048576.0,
                    mp.workspace / 1048576.0, mp.masks / 1048576.0, mp.targets / 1048576.0,
                    a->max_memory ? "--max-memory" : "the memory available", limit / 1048576.0,
                    mp.chunk);
    // after the memory check (the plan counts those gates: a bound), so a model too large is
    // refused before its MLP weights are read
    if (gpt2_mlp_is_zero(&r->m) && (cfg.enabled[G_MLP] || cfg.enabled[G_NEURON] || cfg.enabled[G_MLP_OUT])) {
        // nothing to learn there: their gates would drift without any gradient from the task
        cfg.enabled[G_MLP] = cfg.enabled[G_NEURON] = cfg.enabled[G_MLP_OUT] = 0;
        fprintf(out, "attention-only model (every MLP weight is 0): mlp, neuron and mlp_out gates are "
                     "off\n");
    }
    if (pruner_build(&r->p, &r->m, &cfg, maxT, err)) return -1;
    r->have_p = 1;
    if (ABLATIONS[cfg.ablation].needs_means && pruner_compute_means(&r->p, &r->ts.train, err)) return -1;
    return 0;
}

static void print_settings(FILE *out, const Pruner *p) {
    const PruneConfig *cfg = &p->cfg;
    const GPT2Config *c = &p->m->config;
    fprintf(out, "search\n  %s ablation; granularities", ABLATIONS[cfg->ablation].name);
    size_t learned = 0;  // gates of switched-off granularities stay at 1 and are not learned
    for (int g = 0; g < NUM_GRAN; g++)
        if (cfg->enabled[g]) fprintf(out, " %s", GRANULARITIES[g].name);
    for (int g = 0; g < NUM_GRAN; g++)
        if (p->masks.enabled[g]) learned += (size_t)p->masks.count[g];
    fprintf(out, " (%zu gates learned)\n", learned);
    fprintf(out, "  %d steps, batch %d (chunks of %d), Adam lr %g, seed %llu\n", cfg->steps,
            cfg->batch, cfg->chunk, cfg->lr, (unsigned long long)cfg->seed);
    if (cfg->mode == SPARSITY_KL_BUDGET) {
        fprintf(out, "  sparsity: as sparse as possible with KL(full || circuit) <= %g (dual ascent, "
                     "step %g)%s\n", cfg->kl_budget, cfg->dual_lr,
                cfg->per_granularity ? "; each granularity on its own scale" : "");
    } else {
        fprintf(out, "  sparsity: %s", cfg->mode == SPARSITY_TARGET ? "targets (fraction pruned)" : "fixed lambda");
        for (int g = 0; g < NUM_GRAN; g++)
            if (cfg->enabled[g])
                fprintf(out, " %s=%g", GRANULARITIES[g].name, cfg->mode == SPARSITY_TARGET ? cfg->target[g] : cfg->lambda[g]);
        fprintf(out, "\n");
    }
    double targets_mb = p->targets ? (double)p->n_targets * c->V * 4 / 1e6 : 0;
    fprintf(out, "  memory: weights %.1f MB (%s), workspace %.1f MB, cached full-model "
                 "log-probabilities %.1f MB%s\n",
            p->m->num_parameters * 4.0 / 1e6, p->m->map ? "memory-mapped" : "in memory",
            p->nfloats * 4.0 / 1e6, targets_mb,
            p->targets ? "" : " (over the cap: recomputed each step)");
}

// The --log CSV is written in place, a row at a time and flushed (log_row), so a run killed
// at any moment leaves every row of the steps it finished. A resumed run continues the same
// file: the header and the rows up to the resume step are kept, rows after it (an attempt
// that went further than its last checkpoint) are cut off, as is a half-written last line.
static FILE *log_open(const char *path, int resume_step, PruneErr *err) {
    FILE *f = NULL;
    if (resume_step >= 0 && (f = fopen(path, "r+"))) {
        char line[8192];
        long keep = 0;
        for (int first = 1; fgets(line, sizeof line, f); first = 0) {
            char *end;
            long step = strtol(line, &end, 10);
            if (!strchr(line, '\n') || (!first && (end == line || *end != ',' || step > resume_step))) break;
            keep = ftell(f);
        }
        if (fflush(f) || ftruncate(fileno(f), keep) || fseek(f, 0, SEEK_END)) {
            perr(err, "%s: cannot cut the log back to step %d: %s.", path, resume_step, strerror(errno));
            fclose(f);
            return NULL;
        }
        return f;
    }
    if (!(f = fopen(path, "w")))
        perr(err, "%s: cannot write the log: %s. Hint: does the folder exist and is it writable?", path,
             strerror(errno));
    return f;
}

static int evaluate_three(Pruner *p, const Task *t, const unsigned char *keep, RunResult *res,
                          PruneErr *err) {
    unsigned char *zero = pcalloc(p->masks.total, "gates", err);
    if (!zero) return -1;
    int rc = pruner_evaluate(p, t, keep, &res->circuit, err) || pruner_evaluate(p, t, NULL, &res->full, err) ||
             pruner_evaluate(p, t, zero, &res->empty, err);
    free(zero);
    return rc ? -1 : 0;
}

// Every output of a search is checked before the search (a typo must not cost the run): it
// is none of the inputs nor another output, is not a folder (--report: is one), and its
// folder exists and is writable. The checkpoint may be the --resume file (it goes on there).
static int check_run_outputs(const RunArgs *a, PruneErr *err) {
    const char *ck = a->cfg.run.checkpoint;
    const char *in[] = {a->model, a->task, a->eval, a->vocab, a->resume, ck, a->log_path, a->out_path};
    if (a->out_path && check_output(a->out_path, "--out", in, 7, 0, err)) return -1;
    if (a->log_path && check_output(a->log_path, "--log", in, 6, 0, err)) return -1;
    if (a->log_path && a->out_path && check_output(a->log_path, "--log", in + 7, 1, 0, err)) return -1;
    if (ck && check_output(ck, ck == a->resume ? "--resume" : "--checkpoint", in, 4, 0, err))
        return -1;
    if (ck && check_output(ck, "--checkpoint", in + 6, 2, 0, err)) return -1;
    if (a->report_dir && check_output(a->report_dir, "--report", in, 8, 1, err)) return -1;
    return 0;
}

int cmd_prune(const RunArgs *a, FILE *out, PruneErr *err) {
    Run r;
    unsigned char *keep = NULL;
    KlProbe kp = {0};  // --refine: the validation part's probe
    int rc = -1;
    if (check_run_outputs(a, err)) return -1;
    if (run_open(&r, a, out, err)) goto done;
    Pruner *p = &r.p;
    if (pruner_prepare_targets(p, &r.ts.train, err)) goto done;
    print_settings(out, p);
    if (a->resume) {
        if (pruner_resume(p, &r.ts.train, a->resume, err)) goto done;
        fprintf(out, "resuming from %s at step %d\n", a->resume, p->step);
    }
    else if (p->cfg.init == INIT_ATTRIBUTION) {  // a resumed run has its log alpha from the checkpoint
        double ti = now_seconds();
        if (pruner_init_attribution(p, &r.ts.train, p->cfg.attr_steps, err)) goto done;
        fprintf(out, "log alpha initialised from attribution scores (%d passes, %.1f s)\n",
                p->cfg.attr_steps > 0 ? p->cfg.attr_steps : ATTR_STEPS_DEFAULT, now_seconds() - ti);
    }
    FILE *log = NULL;
    if (a->log_path) {
        if (!(log = log_open(a->log_path, a->resume ? p->step : -1, err))) goto done;
        p->cfg.run.log = log;
    }
    // the validation part's full-model log-probabilities, once: the search's budget checks
    // and the refinement measure on it
    if (a->val_frac > 0) {
        // a circuit meets the budget on validation when its mean KL plus 1.64 standard errors
        // (a one-sided 95% bound) is within it: the mean alone passes by luck half the time
        if (kl_probe_build(&kp, p, &r.val, 1.64, err)) goto done;
        p->val = &kp;
    }
    fflush(out);
    double t0 = now_seconds();
    int nonfinite = 0, step0 = p->step;
    int steps = pruner_train(p, &r.ts.train, &nonfinite, err);
    if (log) {  // the rows written stay, whatever happened to the search
        p->cfg.run.log = NULL;
        if (fclose(log) && steps >= 0) {
            perr(err, "%s: could not finish writing the log: %s.", a->log_path, strerror(errno));
            goto done;
        }
    }
    if (steps < 0 && !nonfinite) goto done;
    PruneErr stopped = *err;
    if (nonfinite) {  // the masks of the last finite step are still a circuit: report it
        fprintf(out, "error: %s\n", err->msg);
        steps = p->step;
    }
    RunResult res = {.steps_done = steps, .seconds = now_seconds() - t0};
    if (a->stopped_early) *a->stopped_early = steps < a->cfg.steps;
    if (steps < a->cfg.steps)
        fprintf(out, "stopped after step %d of %d: the circuit below is the one found so far\n", steps,
                a->cfg.steps);
    int ran = steps - step0;  // after --resume the earlier steps ran in another process
    if (step0)
        fprintf(out, "trained steps %d-%d (resumed after step %d) in %.1f s (%.2f s/step)\n", step0 + 1, steps, step0,
                res.seconds, ran > 0 ? res.seconds / ran : 0.0);
    else
        fprintf(out, "trained %d steps in %.1f s (%.2f s/step)\n", steps, res.seconds, steps ? res.seconds / steps : 0.0);
    if (p->cfg.mode == SPARSITY_KL_BUDGET && p->best_kept >= 0)
        fprintf(out, "the circuit read out is the smallest seen within the budget, at step %d\n", p->best_step);
    keep = palloc(p->masks.total, "circuit", err);
    if (!keep) goto done;
    masks_readout(&p->masks, keep);
    drop_zero_mlps(&r, keep);
    if (a->val_frac > 0 && steps < a->cfg.steps) {
        fprintf(out, "refinement skipped: the search was stopped; the circuit is the search's own\n");
    } else if (a->val_frac > 0) {
        RefineStats st;
        if (circuit_refine(p, &kp, a->cfg.kl_budget, keep, &st, err)) goto done;
        drop_zero_mlps(&r, keep);
        res.val_examples = r.val.n, res.refine = st;
        fprintf(out, "refinement on %d validation examples: KL %.4f -> %.4f, %ld units added back, %ld removed; "
                     "%d passes in %.1f s", r.val.n, st.kl_before, st.kl_after, st.added, st.removed, st.evals,
                st.seconds);
        if (res.seconds >= 1)  // a share of a search that barely ran says nothing
            fprintf(out, " (%.0f%% of the search's time)", 100 * st.seconds / res.seconds);
        fprintf(out, "\n");
    }
    if (evaluate_three(p, &r.ts.eval, keep, &res, err)) goto done;
    circuit_print_summary(out, p, keep, &res);
    metrics_warnings(out, &res.circuit, &res.full, &res.empty, p->cfg.mode == SPARSITY_KL_BUDGET ? p->cfg.kl_budget : NAN);
    for (int g = 0; g < NUM_GRAN && p->cfg.mode == SPARSITY_TARGET; g++) {
        if (!p->masks.enabled[g] || p->cfg.target[g] <= 0) continue;
        long kept = 0;
        for (int i = 0; i < p->masks.count[g]; i++) kept += keep[p->masks.off[g] + (size_t)i];
        double pruned = 1.0 - (double)kept / p->masks.count[g];
        if (pruned + 0.02 < p->cfg.target[g])
            fprintf(out, "warning: %s: %.1f%% pruned, short of the target %.1f%%. Hint: more --steps or a larger "
                         "--dual-lr.\n", GRANULARITIES[g].name, 100 * pruned, 100 * p->cfg.target[g]);
    }
    char report_json[4200];
    const char *json_path = a->out_path;
    if (!json_path && a->report_dir) {  // the report is drawn from a circuit.json beside it
        if (mkdir(a->report_dir, 0755) && !path_is_dir(a->report_dir)) {
            perr(err, "%s: cannot create the report folder.", a->report_dir);
            goto done;
        }
        snprintf(report_json, sizeof report_json, "%s/circuit.json", a->report_dir);
        json_path = report_json;
    }
    if (json_path) {
        if (circuit_write(json_path, p, keep, a->model, &r.ts, &res, err)) goto done;
        fprintf(out, "wrote %s\n", json_path);
    }
    if (a->report_dir && cmd_report(json_path, a->log_path, a->report_dir, out, err)) goto done;
    if (steps < a->cfg.steps && a->cfg.run.checkpoint)
        fprintf(out, "the search state is in %s: add --resume %s to go on\n", a->cfg.run.checkpoint,
                a->cfg.run.checkpoint);
    rc = 0;
    if (nonfinite) {
        *err = stopped;
        rc = -1;
    }
done:
    free(keep);
    kl_probe_free(&kp);
    run_free(&r);
    return rc;
}

int cmd_eval(const RunArgs *a, EvalWhat what, const char *circuit, int all_examples, FILE *out,
             PruneErr *err) {
    Run r;
    unsigned char *keep = NULL;
    int rc = -1;
    // a circuit is measured as it was found: under its recorded ablation and on the held-out
    // part of its recorded split, unless the command line says otherwise (then a note)
    CircuitFile cf;
    RunArgs ra = *a;
    memset(&r, 0, sizeof r);
    memset(&cf, 0, sizeof cf);
    if (what == EVAL_CIRCUIT) {
        if (circuit_load(circuit, &cf, err)) return -1;
        if (cf.ablation >= 0 && !a->ablation_given) ra.cfg.ablation = (AblationKind)cf.ablation;
        else if (cf.ablation >= 0 && (int)a->cfg.ablation != cf.ablation)
            fprintf(out, "note: evaluating under --ablation %s; %s was found under %s ablation\n",
                    ABLATIONS[a->cfg.ablation].name, circuit, ABLATIONS[cf.ablation].name);
        if (cf.split == 1 && !a->eval && !a->split_field) {
            if (!a->seed_given) ra.cfg.seed = cf.split_seed;
            if (!a->frac_given) ra.train_frac = cf.train_frac;
            if (ra.cfg.seed != cf.split_seed || fabs(ra.train_frac - cf.train_frac) > 1e-12)
                fprintf(out, "warning: the split (--seed %llu, --train-frac %g) is not the one %s was found on "
                             "(seed %llu, %g): the examples evaluated may include some it was trained on\n",
                        (unsigned long long)ra.cfg.seed, ra.train_frac, circuit, (unsigned long long)cf.split_seed,
                        cf.train_frac);
        }
        // the task and held-out file it was found with: another task may hold its training
        // examples among those evaluated
        if (cf.task[0] && strcmp(cf.task, "?") && !same_file(cf.task, a->task))
            fprintf(out, "warning: %s was found on the task %s, not %s: the examples evaluated may include "
                         "some it was trained on\n", circuit, cf.task, a->task);
        if (cf.eval[0] && !a->eval) {
            if (access(cf.eval, F_OK) == 0) {
                ra.eval = cf.eval;
                fprintf(out, "note: %s was found with --eval %s; evaluating on it as well\n", circuit, cf.eval);
            } else
                fprintf(out, "warning: %s was found with --eval %s, which is not there: evaluating on a split of %s "
                             "instead, whose examples it was trained on\n", circuit, cf.eval, a->task);
        }
        if (cf.split == 2 && !a->eval && !a->split_field) {
            ra.split_field = 1;
            fprintf(out, "note: %s was found on the task's own \"split\" field; evaluating on it as well\n", circuit);
        }
    }
    if (run_open(&r, &ra, out, err)) goto done;
    Pruner *p = &r.p;
    keep = palloc(p->masks.total, "circuit", err);
    if (!keep) goto done;
    const char *label = "full model";
    memset(keep, what == EVAL_EMPTY ? 0 : 1, p->masks.total);
    if (what == EVAL_EMPTY) label = "empty circuit";
    if (what == EVAL_CIRCUIT) {
        if (circuit_apply(&cf, &p->masks, circuit, keep, err)) goto done;
        unsigned char *before = palloc(p->masks.total, "circuit", err);
        if (!before) goto done;
        memcpy(before, keep, p->masks.total);
        circuit_make_consistent(&p->masks, keep);
        size_t changed = 0;
        for (size_t i = 0; i < p->masks.total; i++) changed += before[i] != keep[i];
        free(before);
        if (changed)
            fprintf(out, "note: the consistency rules (method.md §8) removed %zu units of %s that "
                         "cannot act (e.g. dimensions of a pruned head)\n", changed, circuit);
        drop_zero_mlps(&r, keep);  // after the count: not the file's inconsistency
        label = circuit;
    }
    const Task *t = all_examples ? &r.ts.file : &r.ts.eval;
    RunResult res = {0};
    if (evaluate_three(p, t, keep, &res, err)) goto done;
    fprintf(out, "evaluating %s under %s ablation on %s\n", label, ABLATIONS[p->cfg.ablation].name,
            all_examples ? "every example of the task file (including any used to find the circuit)"
                         : "the held-out examples");
    if (ABLATIONS[p->cfg.ablation].needs_means)
        fprintf(out, "mean ablation: the means are over the %d examples of the training part%s\n", r.ts.train.n,
                all_examples ? " (also the ones evaluated here)" : "");
    circuit_print_summary(out, p, keep, NULL);
    metrics_print(out, all_examples ? "metrics on all examples" : "held-out metrics", &res.circuit,
                  &res.full, &res.empty);
    metrics_warnings(out, &res.circuit, &res.full, &res.empty, what == EVAL_CIRCUIT ? cf.kl_budget : NAN);
    rc = 0;
done:
    free(keep);
    circuit_file_free(&cf);
    run_free(&r);
    return rc;
}

// One search per target: the same model, task split and settings, with --target all=t.
int cmd_sweep(const RunArgs *a, const double *targets, int n_targets, const char *out_dir, FILE *out,
              PruneErr *err) {
    Run r;
    unsigned char *keep = NULL;
    int rc = -1;
    SweepPoint *pts = calloc((size_t)n_targets, sizeof *pts);
    if (!pts) return perr(err, "out of memory.");
    const char *in[] = {a->model, a->task, a->eval, a->vocab};
    if (check_output(out_dir, "--out", in, 4, 1, err)) {
        free(pts);
        return -1;
    }
    if (mkdir(out_dir, 0755) && !path_is_dir(out_dir)) {
        free(pts);
        return perr(err, "%s: cannot create the sweep folder. Hint: is its parent writable?", out_dir);
    }
    if (run_open(&r, a, out, err)) goto done;
    PruneConfig base = r.p.cfg;
    const GPT2 *m = &r.m;
    char path[4200];
    snprintf(path, sizeof path, "%s/sweep.csv", out_dir);
    AtomicFile csv = {0};  // written in place and flushed a row at a time: a stopped sweep keeps its rows
    if (!(csv.f = fopen(path, "w"))) {
        perr(err, "%s: cannot write: %s.", path, strerror(errno));
        goto done;
    }
    fprintf(csv.f, "target");
    for (int g = 0; g < NUM_GRAN; g++) fprintf(csv.f, ",kept_%s", GRANULARITIES[g].name);
    // the metrics table's columns, the full model's logit difference and the share recovered
    // right after the circuit's (the order sweep.csv has always had; new metrics at the end)
    fprintf(csv.f, ",weight_share");
    for (int k = 0; k < NUM_METRICS; k++) {
        if (!METRICS[k].is_count) fprintf(csv.f, ",%s", METRICS[k].name);
        if (k == M_LOGIT_DIFF) fprintf(csv.f, ",logit_diff_full,logit_diff_recovered");
    }
    fprintf(csv.f, ",normalised_recovery\n");
    for (int i = 0; i < n_targets; i++) {
        PruneConfig cfg = base;
        cfg.mode = SPARSITY_TARGET;
        for (int g = 0; g < NUM_GRAN; g++) cfg.target[g] = (float)targets[i];
        pruner_free(&r.p);
        r.have_p = 0;
        int maxT = r.ts.train.max_len > r.ts.eval.max_len ? r.ts.train.max_len : r.ts.eval.max_len;
        if (pruner_build(&r.p, m, &cfg, maxT, err)) goto fail_csv;
        r.have_p = 1;
        if (ABLATIONS[cfg.ablation].needs_means && pruner_compute_means(&r.p, &r.ts.train, err)) goto fail_csv;
        if (pruner_prepare_targets(&r.p, &r.ts.train, err)) goto fail_csv;
        int nonfinite;
        if (pruner_train(&r.p, &r.ts.train, &nonfinite, err) < 0) goto fail_csv;
        free(keep);
        keep = palloc(r.p.masks.total, "circuit", err);
        if (!keep) goto fail_csv;
        masks_readout(&r.p.masks, keep);
        drop_zero_mlps(&r, keep);
        RunResult res = {0};
        if (evaluate_three(&r.p, &r.ts.eval, keep, &res, err)) goto fail_csv;
        double share = circuit_weight_share(&r.p.masks, keep, -1);
        double rec = res.circuit.n_ld && res.full.ld != 0 ? res.circuit.ld / res.full.ld : NAN;
        double nrec = metrics_recovery(&res.circuit, &res.full, &res.empty);
        fprintf(csv.f, "%g", targets[i]);
        for (int g = 0; g < NUM_GRAN; g++) {
            long kept = 0;
            for (int k = 0; k < r.p.masks.count[g]; k++) kept += keep[r.p.masks.off[g] + (size_t)k];
            fprintf(csv.f, ",%ld", kept);
        }
        fprintf(csv.f, ",%.6f", share);
        for (int k = 0; k < NUM_METRICS; k++) {
            if (!METRICS[k].is_count) fprintf(csv.f, ",%.6f", metric_value(&res.circuit, k));
            if (k == M_LOGIT_DIFF) fprintf(csv.f, ",%.6f,%.6f", res.full.ld, rec);
        }
        fprintf(csv.f, ",%.6f\n", nrec);
        fflush(csv.f);
        pts[i] = (SweepPoint){targets[i], share, nrec, res.circuit.kl};
        fprintf(out, "target %.3f: %.1f%% of block weights, KL %.4f, normalised recovery %.1f%%\n", targets[i],
                100 * share, res.circuit.kl, 100 * nrec);
        fflush(out);
    }
    int bad = fflush(csv.f) || fsync(fileno(csv.f));
    bad |= fclose(csv.f) != 0;
    csv.f = NULL;
    if (bad) {
        perr(err, "%s: could not finish writing: %s. Hint: is the disk full?", path, strerror(errno));
        goto done;
    }
    snprintf(path, sizeof path, "%s/sweep.svg", out_dir);
    if (sweep_plot_svg(path, pts, n_targets, err)) goto done;
    fprintf(out, "wrote %s/sweep.csv and %s/sweep.svg\n", out_dir, out_dir);
    rc = 0;
    goto done;
fail_csv:
    fclose(csv.f);  // the rows of the searches that finished stay
done:
    free(keep);
    free(pts);
    run_free(&r);
    return rc;
}

// --- prune compare -----------------------------------------------------------------------

// The methods' order in compare.csv and the printed table.
static const char *const COMPARE_METHODS[] = {"search", "search-head-only", "knockout-head", "knockout-mlp",
                                              "attribution-head", "attribution-mlp", "attribution-neuron"};
#define NUM_COMPARE_METHODS (int)(sizeof COMPARE_METHODS / sizeof COMPARE_METHODS[0])

// The held-out metrics and sizes of circuit keep, as one row of the comparison.
static int compare_point(Run *r, const char *method, int k, const unsigned char *keep, const Metrics *full,
                         const Metrics *empty, ComparePoint *pt, PruneErr *err) {
    const Masks *mk = &r->p.masks;
    Metrics c;
    if (pruner_evaluate(&r->p, &r->ts.eval, keep, &c, err)) return -1;
    *pt = (ComparePoint){.method = method, .k = k, .kl = c.kl, .acc = c.acc_pair,
                         .share = circuit_weight_share(mk, keep, -1)};
    for (int i = 0; i < mk->count[G_HEAD]; i++) pt->heads += keep[mk->off[G_HEAD] + (size_t)i];
    for (int i = 0; i < mk->count[G_MLP]; i++) pt->mlps += keep[mk->off[G_MLP] + (size_t)i];
    for (int i = 0; i < mk->count[G_NEURON]; i++) pt->neurons += keep[mk->off[G_NEURON] + (size_t)i];
    pt->recovery = metrics_recovery(&c, full, empty);
    return 0;
}

// A fresh pruner with cfg on the run's split (the mean ablation's means, the cached targets).
static int compare_rebuild(Run *r, const PruneConfig *cfg, PruneErr *err) {
    if (r->have_p) pruner_free(&r->p);
    r->have_p = 0;
    int maxT = r->ts.train.max_len > r->ts.eval.max_len ? r->ts.train.max_len : r->ts.eval.max_len;
    if (pruner_build(&r->p, &r->m, cfg, maxT, err)) return -1;
    r->have_p = 1;
    if (ABLATIONS[cfg->ablation].needs_means && pruner_compute_means(&r->p, &r->ts.train, err)) return -1;
    return pruner_prepare_targets(&r->p, &r->ts.train, err);
}

// One search as `prune MODEL TASK` runs it (init, train, read-out, --refine): its circuit
// into keep (mk->total of a pruner with every granularity, which keep's layout does not
// depend on).
static int compare_search(Run *r, const RunArgs *a, const PruneConfig *cfg, unsigned char *keep, FILE *out,
                          PruneErr *err) {
    if (compare_rebuild(r, cfg, err)) return -1;
    Pruner *p = &r->p;
    KlProbe kp = {0};  // --refine: the budget checks and the refinement measure on validation, as in cmd_prune
    int rc = -1;
    if (cfg->init == INIT_ATTRIBUTION && pruner_init_attribution(p, &r->ts.train, cfg->attr_steps, err)) goto done;
    if (a->val_frac > 0) {
        if (kl_probe_build(&kp, p, &r->val, 1.64, err)) goto done;
        p->val = &kp;
    }
    double t0 = now_seconds();
    int nonfinite = 0;
    int steps = pruner_train(p, &r->ts.train, &nonfinite, err);
    if (steps < 0) goto done;
    fprintf(out, "  %d steps in %.1f s; smallest in-budget circuit at step %d\n", steps, now_seconds() - t0,
            p->best_kept >= 0 ? p->best_step : -1);
    masks_readout(&p->masks, keep);
    drop_zero_mlps(r, keep);
    if (a->val_frac > 0 && steps < a->cfg.steps) {
        fprintf(out, "refinement skipped: the search was stopped; the circuit is the search's own\n");
    } else if (a->val_frac > 0) {
        RefineStats st;
        if (circuit_refine(p, &kp, cfg->kl_budget, keep, &st, err)) goto done;
        drop_zero_mlps(r, keep);
    }
    rc = 0;
done:
    p->val = NULL;
    kl_probe_free(&kp);
    return rc;
}

// A ranking's nested circuits: keep the top k units of g (k in ks[0..nk)), evaluated.
static int compare_curve(Run *r, const char *method, int g, const int *order, const int *ks, int nk,
                         unsigned char *keep, const Metrics *full, const Metrics *empty, ComparePoint *pts, int *n,
                         PruneErr *err) {
    for (int j = 0; j < nk; j++) {
        baseline_keep_top(&r->p.masks, g, order, ks[j], keep);
        drop_zero_mlps(r, keep);
        if (compare_point(r, method, ks[j], keep, full, empty, &pts[(*n)++], err)) return -1;
    }
    return 0;
}

int cmd_compare(const RunArgs *a, const char *out_dir, FILE *out, PruneErr *err) {
    Run r;
    memset(&r, 0, sizeof r);
    unsigned char *keep = NULL;
    double *key = NULL;
    float *attr = NULL;
    int *order = NULL, *ks = NULL, rc = -1, n = 0;
    ComparePoint *pts = NULL;
    AtomicFile af[2] = {{0}};
    // every output is checked before the long run
    const char *in[] = {a->model, a->task, a->eval, a->vocab};
    char csv_path[4200], svg_path[4200];
    snprintf(csv_path, sizeof csv_path, "%s/compare.csv", out_dir);
    snprintf(svg_path, sizeof svg_path, "%s/compare.svg", out_dir);
    if (check_output(out_dir, "--out", in, 4, 1, err)) return -1;
    if (mkdir(out_dir, 0755) && !path_is_dir(out_dir))
        return perr(err, "%s: cannot create the comparison folder: %s. Hint: is its parent writable?", out_dir,
                    strerror(errno));
    if (check_output(csv_path, "--out", in, 4, 0, err) || check_output(svg_path, "--out", in, 4, 0, err)) return -1;
    if (run_open(&r, a, out, err)) goto done;
    PruneConfig base = r.p.cfg;  // after run_open: an attention-only model's MLP gates are off
    if (pruner_prepare_targets(&r.p, &r.ts.train, err)) goto done;
    const Masks *mk = &r.p.masks;
    int mlp_zero = gpt2_mlp_is_zero(&r.m), nmax = 0;
    for (int g = 0; g < NUM_GRAN; g++) nmax = mk->count[g] > nmax ? mk->count[g] : nmax;
    int cap = 2 + 2 * (mk->count[G_HEAD] + 1) + 2 * (mk->count[G_MLP] + 1) + 64;
    keep = palloc(mk->total, "circuit", err);
    key = palloc(sizeof(double) * (size_t)nmax, "scores", err);
    attr = palloc(sizeof(float) * mk->total, "attribution scores", err);
    order = palloc(sizeof(int) * (size_t)nmax, "ranking", err);
    ks = palloc(sizeof(int) * (size_t)(nmax + 1), "curve points", err);
    pts = palloc(sizeof(ComparePoint) * (size_t)cap, "comparison points", err);
    if (!keep || !key || !attr || !order || !ks || !pts) goto done;
    Metrics full, empty;
    memset(keep, 0, mk->total);
    if (pruner_evaluate(&r.p, &r.ts.eval, NULL, &full, err) || pruner_evaluate(&r.p, &r.ts.eval, keep, &empty, err))
        goto done;
    // recovery is of the headline quantity (metrics_recovery): the probability difference for
    // a task with answer sets, else the logit difference
    int by_pd = full.n_sets || !full.n_ld;
    fprintf(out, "held-out: full model %s %.3f, empty circuit %.3f, KL(full || empty) %.4f; recovery below is "
                 "normalised recovery of the %s\n", by_pd ? "probability difference" : "logit difference",
            by_pd ? full.pd : full.ld, by_pd ? empty.pd : empty.ld, empty.kl,
            by_pd ? "probability difference" : "logit difference");
    metrics_warnings(out, &full, &full, &empty, base.mode == SPARSITY_KL_BUDGET ? base.kl_budget : NAN);
    // baselines: rankings on the training part, circuits evaluated on the held-out part
    double t0 = now_seconds();
    const int kn_g[2] = {G_HEAD, G_MLP};
    const char *kn_name[2] = {"knockout-head", "knockout-mlp"};
    for (int j = 0; j < 2; j++) {
        int g = kn_g[j];
        if (g == G_MLP && mlp_zero) continue;  // an attention-only model: nothing to rank
        if (baseline_knockout(&r.p, &r.ts.train, g, key, err)) goto done;
        baseline_rank(key, mk->count[g], order);
        for (int k = 0; k <= mk->count[g]; k++) ks[k] = k;
        if (compare_curve(&r, kn_name[j], g, order, ks, mk->count[g] + 1, keep, &full, &empty, pts, &n, err))
            goto done;
        fprintf(out, "%s: ranked %d units by single-unit knockout KL on %d training examples; top:", kn_name[j],
                mk->count[g], r.ts.train.n);
        for (int i = 0; i < mk->count[g] && i < 4; i++) {
            if (g == G_HEAD) fprintf(out, " L%dH%d (%.4f)", order[i] / mk->NH, order[i] % mk->NH, key[order[i]]);
            else fprintf(out, " L%d (%.4f)", order[i], key[order[i]]);
        }
        fprintf(out, "\n");
    }
    fprintf(out, "knockout: %.1f s\n", now_seconds() - t0);
    t0 = now_seconds();
    int steps = base.attr_steps > 0 ? base.attr_steps : ATTR_STEPS_DEFAULT;
    if (baseline_attribution(&r.p, &r.ts.train, steps, attr, err)) goto done;
    const int at_g[3] = {G_HEAD, G_MLP, G_NEURON};
    const char *at_name[3] = {"attribution-head", "attribution-mlp", "attribution-neuron"};
    for (int j = 0; j < 3; j++) {
        int g = at_g[j], N = mk->count[g], nk = 0;
        if (g != G_HEAD && mlp_zero) continue;
        for (int i = 0; i < N; i++) key[i] = fabs((double)attr[mk->off[g] + (size_t)i]);
        baseline_rank(key, N, order);
        if (g == G_NEURON) {  // a grid of 17 sizes, denser among the small ones
            for (int s = 0; s <= 16; s++) {
                int k = (int)lround((double)N * s * s / 256.0);
                if (!nk || k != ks[nk - 1]) ks[nk++] = k;
            }
        } else {
            for (int k = 0; k <= N; k++) ks[nk++] = k;
        }
        if (compare_curve(&r, at_name[j], g, order, ks, nk, keep, &full, &empty, pts, &n, err)) goto done;
    }
    fprintf(out, "attribution: %d forward and backward passes over %d training examples, %.1f s\n", steps,
            r.ts.train.n, now_seconds() - t0);
    // the searches: the default (the options given) and head-only, each from a fresh pruner
    PruneConfig cfgs[2] = {base, base};
    for (int g = 0; g < NUM_GRAN; g++) cfgs[1].enabled[g] = g == G_HEAD;
    for (int j = 0; j < 2; j++) {
        fprintf(out, "%s:\n", COMPARE_METHODS[j]);
        fflush(out);
        if (compare_search(&r, a, &cfgs[j], keep, out, err)) goto done;
        if (compare_point(&r, COMPARE_METHODS[j], -1, keep, &full, &empty, &pts[n++], err)) goto done;
    }
    if (r.p.cfg.run.stop && *r.p.cfg.run.stop) {
        perr(err, "stopped: nothing written to %s.", out_dir);
        goto done;
    }
    // the files, written together
    if (atomic_open(&af[0], csv_path, err) || atomic_open(&af[1], svg_path, err)) goto done;
    // the recovery column names its quantity: normalised_recovery_logit_diff or _prob_diff
    fprintf(af[0].f, "method,k,heads_kept,heads_total,mlp_kept,neurons_kept,weight_share,%s,normalised_recovery_%s,%s,"
                     "meets_budget\n", METRICS[M_KL].name, by_pd ? "prob_diff" : "logit_diff", METRICS[M_ACC_PAIR].name);
    double budget = base.kl_budget;
    for (int m = 0; m < NUM_COMPARE_METHODS; m++)
        for (int i = 0; i < n; i++) {
            const ComparePoint *q = &pts[i];
            if (strcmp(q->method, COMPARE_METHODS[m])) continue;
            fprintf(af[0].f, "%s,%d,%d,%d,%d,%ld,%.6f,%.6g,%.6f,%.6f,%d\n", q->method, q->k, q->heads,
                    mk->count[G_HEAD], q->mlps, q->neurons, q->share, q->kl, q->recovery, q->acc, q->kl <= budget);
        }
    compare_plot_svg(af[1].f, pts, n, mk->count[G_HEAD], budget);
    if (atomic_commit_all(af, 2, err)) goto done;
    // the table: each method's smallest circuit (fewest block weights) within the budget
    fprintf(out, "\nsmallest circuit of each method with held-out KL <= %g (%d held-out examples)\n", budget,
            r.ts.eval.n);
    fprintf(out, "  %-20s %5s %7s %5s %8s %9s %8s %9s %9s\n", "method", "k", "heads", "mlp", "neurons", "weights",
            "KL", "recovery", "accuracy");
    for (int m = 0; m < NUM_COMPARE_METHODS; m++) {
        const ComparePoint *best = NULL;
        int any = 0;
        for (int i = 0; i < n; i++) {
            const ComparePoint *q = &pts[i];
            if (strcmp(q->method, COMPARE_METHODS[m])) continue;
            any = 1;
            if (q->kl <= budget && (!best || q->share < best->share)) best = q;
        }
        if (!any) continue;
        if (!best) {
            // a search reports its circuit even over budget (marked); a curve has none
            for (int i = 0; i < n && m < 2; i++)
                if (!strcmp(pts[i].method, COMPARE_METHODS[m])) best = &pts[i];
            if (!best) {
                fprintf(out, "  %-20s none of its circuits is within the budget\n", COMPARE_METHODS[m]);
                continue;
            }
        }
        char k[16];
        snprintf(k, sizeof k, best->k < 0 ? "-" : "%d", best->k);
        fprintf(out, "  %-20s %5s %3d/%-3d %5d %8ld %8.1f%% %8.4f %8.1f%% %9.3f%s\n", best->method, k, best->heads,
                mk->count[G_HEAD], best->mlps, best->neurons, 100 * best->share, best->kl, 100 * best->recovery,
                best->acc, best->kl <= budget ? "" : "  (over the budget)");
    }
    fprintf(out, "wrote %s and %s\n", csv_path, svg_path);
    rc = 0;
done:
    for (int i = 0; i < 2; i++) atomic_abort(&af[i]);  // nothing left after a commit
    free(keep), free(key), free(attr), free(order), free(ks), free(pts);
    run_free(&r);
    return rc;
}
