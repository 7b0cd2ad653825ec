// prune.h: the circuit search of ../docs/method.md. Masks at eight granularities with
// hard-concrete gates and the granularity table (masks.c), the ablations (ablation.c), the
// gated forward/backward over a clean and a reference stream that keeps only the residual
// stream (search.c), the training loop with fixed, target or KL-budget sparsity control
// (optim.c), the readout, the evaluator and the metrics table (metrics.c), checkpoints
// (checkpoint.c) and the circuit file (circuit.c).
#ifndef PRUNE_PRUNE_H
#define PRUNE_PRUNE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"
#include "gpt2.h"
#include "rng.h"
#include "task.h"

// --- the gated points and the granularities (masks.c) ----------------------------------
// A gated point is a place in the model where gates multiply (a block tap, or the
// embedding); each granularity's gates multiply at one point, and the gate of an element
// there is the product of every granularity's gate that covers it (method.md §3).
typedef enum { POINT_EMB, POINT_HEADS, POINT_ATTN, POINT_NEURONS, POINT_MLP, NUM_POINTS } GatedPoint;

enum { G_EMB, G_LAYER, G_ATTN, G_MLP, G_HEAD, G_ATTN_DIM, G_NEURON, G_MLP_OUT, NUM_GRAN };
typedef struct {
    const char *name;    // the CLI's and circuit.json's name
    const char *shape;   // the gates' shape, in the config's letters
    int parent;          // the granularity that contains it (-1: none): pruning it prunes this
    int points[2];       // the point(s) where it multiplies (-1: none)
    int nested;          // several gates per layer: circuit.json writes [L][n], else [L] (emb: [1])
} GranInfo;
extern const GranInfo GRANULARITIES[NUM_GRAN];
// "emb, layer, ..., mlp_out": the table's names for messages (a static string).
const char *gran_names(void);
// Gates of granularity g per layer (emb: 1 in all) and in all, for config c.
int gran_per_layer(int g, const GPT2Config *c);
int gran_count(int g, const GPT2Config *c);
size_t gran_total(const GPT2Config *c);  // every granularity's gates
// Floats of one value per gated element: emb (C), then per layer heads (A), attention
// output (C), neurons (H), MLP output (C). PointGates, their gradients and means use it.
size_t points_floats(const GPT2Config *c);

// --- ablations (ablation.c) ---------------------------------------------------------------
// An ablation says what a pruned unit's value becomes (method.md §4): the reference x_ref.
typedef enum { ABL_CORRUPTED, ABL_MEAN, ABL_ZERO, NUM_ABLATIONS } AblationKind;
typedef struct {
    const char *name;
    int streams;      // 2: the reference is a second (corrupted) stream run beside the clean one
    int needs_means;  // 1: per-unit means over the train prompts, computed before the search
    // 1: the reference is linear in the units (a corrupted run, a mean), so a block whose
    // heads (neurons) are all ablated computes the block's own reference and reads out as
    // the block pruned. 0 (zero): its output projection's bias still flows, which is not
    // the block pruned (output 0): the read-out keeps the block.
    int empty_is_pruned;
} AblationInfo;
extern const AblationInfo ABLATIONS[NUM_ABLATIONS];
// "corrupted, mean, zero": the table's names for messages (a static string).
const char *ablation_names(void);

// Hard-concrete constants (Louizos et al. 2018), method.md §5.
#define HC_BETA (2.0f / 3.0f)
#define HC_LO (-0.1f)
#define HC_HI 1.1f

// --- masks -------------------------------------------------------------------------
// One log_alpha per gate, all granularities in one array (layout: off[g] + index; per
// layer l: layer/attn/mlp l; head l*NH + h; attn_dim l*A + d; neuron l*H + i; mlp_out
// l*C + c).
typedef struct {
    int L, NH, C, hs, A, H;  // A = NH hs heads' width, H MLP width
    int NKV;                 // K/V heads (GQA: query head h reads K/V head h / (NH / NKV))
    int neuron_in_rows;      // input-projection rows per neuron: 1 (GPT-2 fc), 2 (SwiGLU gate + up)
    double block_weights;    // one layer's matrix weights (the parameter table's): the weight share's whole
    int count[NUM_GRAN];
    size_t off[NUM_GRAN], total;
    int enabled[NUM_GRAN];  // a disabled granularity's gates are fixed to 1
    int bias_flows;         // the ablation's !empty_is_pruned: see circuit_make_consistent
    float *mem;             // one allocation behind the six arrays
    float *log_alpha, *z, *dzdla, *dz, *adam_m, *adam_v;
} Masks;

int masks_build(Masks *mk, const GPT2Config *c, const int enabled[NUM_GRAN], PruneErr *err);
void masks_free(Masks *mk);
void masks_init_log_alpha(Masks *mk, uint64_t seed);  // U(1.5, 2.5), seeded
// Training sample: u ~ U(eps, 1-eps), one per gate per step (shared by the whole batch).
void masks_sample(Masks *mk, Rng *r);
void masks_deterministic(Masks *mk);  // z = clamp(sigmoid(log_alpha)(r-l)+l, 0, 1)
void masks_set(Masks *mk, const unsigned char *keep);  // z = keep (0/1); NULL: all 1
float hc_p_nonzero(float log_alpha);  // P(z != 0) = sigmoid(log_alpha - beta log(-l/r))
double masks_density(const Masks *mk, int g);  // mean P(z != 0) over g's gates

// Readout (method.md §8): keep = log_alpha > 0, then the consistency rules.
void masks_readout(const Masks *mk, unsigned char *keep);
void circuit_make_consistent(const Masks *mk, unsigned char *keep);
// Share of the block weights per layer (the parameter table's matrices: 12 C^2 for GPT-2)
// that the kept units use (docs/method-as-built.md).
double circuit_weight_share(const Masks *mk, const unsigned char *keep, int layer /* -1: all */);

// The gate at each gated point, the product of the gates applied there:
//   emb (C) embedding; atty (L,A) head h dim d = head * attn_dim; attproj (L,C) attention
//   block output = attn * layer; fch (L,H) neurons = neuron; fcproj (L,C) MLP output
//   dims = mlp_out * mlp * layer.
// The same layout (point_offset) holds the gates' gradients and the mean ablation's means.
typedef struct {
    float *mem;  // points_floats(c) floats
    float *emb, *atty, *attproj, *fch, *fcproj;
} PointGates;
// Where point pt of layer l starts in a points_floats array (l ignored for the embedding).
size_t point_offset(const GPT2Config *c, GatedPoint pt, int l);
int point_gates_build(PointGates *pg, const GPT2Config *c, PruneErr *err);
void point_gates_free(PointGates *pg);
void point_gates_from_masks(PointGates *pg, const Masks *mk);
// dL/dz at the points -> dL/dz per gate (added into mk->dz) by the product rule.
void masks_grad_from_points(Masks *mk, const PointGates *dpg);

typedef enum { SPARSITY_LAMBDA, SPARSITY_TARGET, SPARSITY_KL_BUDGET } SparsityMode;
// Where log alpha starts: U(1.5, 2.5) (masks_init_log_alpha), or from the attribution
// scores (--init attribution, masks_init_from_scores in baselines.h).
enum { INIT_UNIFORM, INIT_ATTRIBUTION };

// --- the search ----------------------------------------------------------------------

// Where a search reports and saves, and its memory knobs: nothing here changes the
// circuit, so the checkpoint fingerprint leaves it out.
typedef struct {
    volatile sig_atomic_t *stop;  // set by a signal handler: stop after the current step
    FILE *progress;           // progress line (NULL: quiet)
    FILE *log;                // a CSV row per step (NULL: none)
    const char *checkpoint;   // save the search state here (NULL: never)
    int checkpoint_every;     // ... every N steps, and when stopped
    size_t max_target_bytes;  // cap on the cached full-model log-probabilities
} SearchRuntime;

// The settings that shape a search: everything before `run` is hashed whole by the
// checkpoint fingerprint, so a resume with any of them changed is refused. The fields
// are laid out without padding (checked below) so that their bytes are their values.
typedef struct {
    uint64_t seed;
    AblationKind ablation;
    SparsityMode mode;
    int enabled[NUM_GRAN];
    int steps, batch, chunk;  // chunk: examples per forward/backward pass (memory knob, but the
                              // float sums split by it: it shapes the bytes of the result)
    float lr;
    float lambda[NUM_GRAN];   // SPARSITY_LAMBDA: weight on each granularity's expected density
    float target[NUM_GRAN];   // SPARSITY_TARGET: sparsity (fraction pruned) per granularity
    float kl_budget;          // SPARSITY_KL_BUDGET: the KL (nats) the circuit may lose
    float dual_lr;            // step size of the dual ascent on the multipliers
    float warmup;             // fraction of steps over which targets ramp up from 0
    int per_granularity;      // 1: each granularity's sparsity term is its mean density (its own
                              // scale: a head weighs as much as the neurons of an MLP) and
                              // circuits are compared by the summed share kept per granularity;
                              // 0: every gate counts once (--scale granularity | gate)
    int init;                 // log alpha's start: INIT_UNIFORM, or INIT_ATTRIBUTION (baselines.h)
    int attr_steps;           // INIT_ATTRIBUTION: points of the attribution's path (0: ATTR_STEPS_DEFAULT)
    SearchRuntime run;        // not a setting: handles and knobs of this process
} PruneConfig;
_Static_assert(offsetof(PruneConfig, run) == sizeof(uint64_t) + 4 * (7 + 3 * NUM_GRAN + 5),
               "PruneConfig's settings must have no padding: the fingerprint hashes their bytes");

void prune_config_defaults(PruneConfig *cfg);

typedef struct {
    int n;               // examples evaluated
    double kl;           // mean KL(full || circuit) at the answer position
    double ld, ld_full;  // mean logit difference (mean correct logit - mean wrong logit)
    int n_ld;            // examples with a wrong answer (the others have no logit difference)
    double pd;           // mean probability difference: sum p(correct) - sum p(wrong)
    double acc_pair;     // fraction where the best correct answer beats every wrong one
    double acc_argmax;   // fraction where the top token is a correct answer
    double exact;        // fraction where the top token equals the full model's top token
    int n_sets;          // examples with more than one correct or wrong answer (not in METRICS)
} Metrics;
// The headline: normalised recovery (circuit - empty) / (full - empty) of the logit
// difference, or of the probability difference when the task has answer sets
// (docs/method-as-built.md, "Metrics"). NAN when full and empty are too close to divide.
double metrics_recovery(const Metrics *c, const Metrics *full, const Metrics *empty);
// Warnings a reader needs beside the numbers (one line each, "warning: ..."): the full model
// near chance, the empty circuit already within the KL budget (budget NAN: not checked), the
// circuit over the budget. Returns the number printed.
int metrics_warnings(FILE *out, const Metrics *c, const Metrics *full, const Metrics *empty, double budget);

typedef struct {
    const GPT2 *m;
    PruneConfig cfg;
    Masks masks;
    PointGates pg, dpg;
    int maxB, maxT;          // chunk capacity
    float *mem;              // the workspace: one allocation, sized once
    size_t nfloats;
    float *resid;            // (L+1, S, B, T, C) residual stream entering each layer, S streams
                             // (the ablation's: reference first, then clean)
    float *resid2;           // (L, S, B, T, C) the residual stream between attention and MLP
    float *ref_atty, *ref_fch;   // (L+1, B, T, A), (L+1, B, T, H) the reference stream's heads and
                             // neurons (+1 slot: the clean ones gated in place, see pair_forward)
    float *emb_c;            // (B,T,C) the clean embedding before its gate
    LayerActs ac, ar;        // one layer of internals: clean (gated), both streams (2B rows)
    float *atty_out, *fch_out;  // (B,T,A), (B,T,H) clean heads and neurons after their gates
    BlockGrads d;            // one layer of data gradients
    float *dresid;           // (B,T,C)
    float *lnf_in, *lnf, *lnf_mean, *lnf_rstd, *logits, *logp, *dlogp, *dlogits, *dlnf, *dlnf_in;
    float *means;            // mean ablation: a value per gated element (point_offset's layout)
    int *tok_c, *tok_r, *lens, *pos;
    PointGates ones;         // every gate 1: the full model
    float *full_buf;         // (maxB, V + Vp) the full model's log-probs and logits for a chunk
    float *targets;          // (n_targets, V) full-model log-probs of the train examples, or NULL
    int n_targets;
    const Task *target_task; // the task the targets belong to
    double lambda[NUM_GRAN]; // current multipliers / weights
    int step;
    double kl_ema;           // moving average of the read-out circuit's KL (KL-budget mode)
    float *best_la;          // log_alpha of the smallest read-out circuit seen within budget
    long best_kept;          // its kept gates (-1: none yet)
    int best_step;
    // --refine: the validation part's probe (not owned; NULL: none). The search's budget
    // checks then measure the read-out circuit on all of it (mean + z standard errors)
    // instead of on the first chunk of the step's training batch.
    struct KlProbe *val;
    unsigned char *keep_buf;  // (masks.total) scratch for the read-out circuit
    // backtracking (with val): the multiplier when the best circuit was seen, and the factor
    // on the dual step and on that multiplier, halved at each return to the best circuit
    double best_lambda, dual_scale;
} Pruner;

int pruner_build(Pruner *p, const GPT2 *m, const PruneConfig *cfg, int maxT, PruneErr *err);

// What a search will hold in memory, computed before anything is allocated (the run refuses
// to start when it exceeds --max-memory or the memory available).
typedef struct {
    size_t weights, workspace, masks, targets, total;  // bytes
    int chunk;                                          // examples per pass it was sized for
} MemoryPlan;
MemoryPlan pruner_plan(const GPT2 *m, const PruneConfig *cfg, int maxT, int n_train);
void pruner_free(Pruner *p);

// The ablation's references (ablation.c) for layer l's taps and for the embedding;
// stream_ref = 0 when the reference stream was not run (all gates 1). The mean ablation's
// sums of layer l's values over real positions (stats: points_floats entries).
void ablation_refs(BlockTaps *t, const Pruner *p, int l, int n, int T, int stream_ref);
void ablation_emb_ref(Tap *t, const Pruner *p, int stream_ref);
void ablation_accumulate_means(double *stats, const Pruner *p, const LayerActs *a, int l, int n, int T);

// Mean ablation: per-unit means over the task's clean prompts and real positions.
int pruner_compute_means(Pruner *p, const Task *train, PruneErr *err);
// The full model's log-probabilities at each train example's answer position, computed
// once (cached when n * V * 4 bytes <= max_target_bytes, else recomputed every step).
int pruner_prepare_targets(Pruner *p, const Task *train, PruneErr *err);

// One optimisation step on the examples idx[0..B): sample gates, forward and backward
// chunk by chunk, Adam on log_alpha, dual update. Returns the batch-mean KL.
double pruner_step(Pruner *p, const Task *train, const int *idx, int B);
// The whole search: steps over seeded shuffled epochs. In KL-budget mode it ends by
// restoring the smallest read-out circuit seen whose KL was within budget (best_step).
// Starts from p->step (after pruner_resume the batch order is replayed up to it). Saves
// cfg.checkpoint every cfg.checkpoint_every steps and when stopped. Returns the steps done
// (fewer if stopped), or -1 on error; a non-finite loss is an error that leaves the masks
// of the last finite step in place (*nonfinite set), so the caller can still read them out.
int pruner_train(Pruner *p, const Task *train, int *nonfinite, PruneErr *err);

// --- checkpoints (checkpoint.c) ---------------------------------------------------------
typedef struct {
    uint64_t fingerprint;
    int step, best_step;
    int64_t best_kept;
    double kl_ema, lambda[NUM_GRAN];
    double best_lambda, dual_scale;
    const unsigned char *arrays;  // log_alpha, adam_m, adam_v, best_la: total floats each
} CheckpointHead;
// Hash of the model, the train examples and the settings that shape the search.
uint64_t pruner_fingerprint(const Pruner *p, const Task *train);
// Pure parser of a checkpoint held in buf (checks magic, version, size, checksum).
int checkpoint_parse(const void *buf, size_t len, size_t total, const char *path, CheckpointHead *out,
                     PruneErr *err);
// Writes the search state atomically / restores it (refusing another run's checkpoint).
int pruner_save(const Pruner *p, const Task *train, const char *path, PruneErr *err);
int pruner_resume(Pruner *p, const Task *train, const char *path, PruneErr *err);

// The passes other parts of the search share (search.c): load examples idx[0..n) into the
// token buffers (returns T); forward a loaded chunk with gates pg (need_ref 0: the
// reference stream is skipped, valid when every gate is 1; stats: mean-ablation sums);
// KL(full || circuit) of the chunk (full: (n,V) log-probs; each, if set, gets every
// example's) and, with want_grad, dlogits for weight w; and a batch chunk by chunk with the gates in p->pg (mean KL).
int pruner_load_chunk(Pruner *p, const Task *t, const int *idx, int n);
void pruner_forward_chunk(Pruner *p, const PointGates *pg, int n, int T, int need_ref, double *stats);
double pruner_kl_chunk(Pruner *p, const float *full, int n, float w, int want_grad, double *each);
double pruner_run_batch(Pruner *p, const Task *t, const int *idx, int B, int backward);

// Loss and gradient for tests: the batch-mean KL with the gates currently in p->masks.z
// (no sampling), accumulating dL/dz into p->masks.dz when backward is set.
double pruner_kl(Pruner *p, const Task *t, const int *idx, int B, int backward);
// Logits (P rows, Vp) of the gated model for the examples idx (tests, evaluation).
void pruner_forward_logits(Pruner *p, const Task *t, const int *idx, int B, float *out);

// Metrics of the model with gates z = keep (NULL: all 1, the full model) on t.
int pruner_evaluate(Pruner *p, const Task *t, const unsigned char *keep, Metrics *out,
                    PruneErr *err);

// --- refinement (refine.c) --------------------------------------------------------------
// KL(full || circuit) with binary gates on a fixed set of examples (the validation part),
// the full model's log-probabilities computed once.
typedef struct KlProbe {
    const Task *task;
    float *full;  // (n, V)
    int *idx;     // 0..n-1
    double *each; // (n) the last probe's KL per example
    double se;    // the last probe's standard error of the mean
    double z;     // a circuit meets the budget when mean + z se <= budget
    int evals;    // probes so far
} KlProbe;
int kl_probe_build(KlProbe *k, Pruner *p, const Task *t, double z, PruneErr *err);
void kl_probe_free(KlProbe *k);
double kl_probe(Pruner *p, KlProbe *k, const unsigned char *keep);

typedef struct {
    double kl_before, kl_after;  // validation KL of the read-out and the refined circuit
    long added, removed;         // units added back / removed
    int evals;                   // forward passes over the validation part
    double seconds;
} RefineStats;
// Makes keep meet budget on val (adding back by log alpha) and locally minimal (removing
// blocks, heads, then the finest units, coarse to fine); keep is consistent on return.
int circuit_refine(Pruner *p, KlProbe *val, double budget, unsigned char *keep, RefineStats *st, PruneErr *err);

// --- circuit file --------------------------------------------------------------------
// The one table of metrics (metrics.c): circuit.json's keys, the summary's rows, the
// report's table and the sweep's columns all come from it, in this order.
typedef struct {
    const char *name;   // circuit.json's key and the CSV column
    const char *label;  // the printed summary's row
    const char *fmt;    // the summary's format for one value
    size_t offset;      // offsetof(Metrics, field): a double, or an int when is_count
    int is_count;       // a count of examples (not shown as a metric row)
    int nullable;       // null in circuit.json when no example has it (logit difference)
} MetricInfo;
enum { M_EXAMPLES, M_KL, M_LOGIT_DIFF, M_LOGIT_DIFF_EXAMPLES, M_PROB_DIFF, M_ACC_PAIR, M_ACC_ARGMAX, M_EXACT,
       NUM_METRICS };
extern const MetricInfo METRICS[NUM_METRICS];
double metric_value(const Metrics *m, int k);  // NAN for a nullable metric no example has

typedef struct {
    Metrics circuit, full, empty;
    int steps_done;
    double seconds;
    int val_examples;        // --refine: examples the circuit was refined on (0: no refinement)
    RefineStats refine;
} RunResult;

// Writes circuit.json atomically (format in docs/circuit-format.md).
int circuit_write(const char *path, const Pruner *p, const unsigned char *keep,
                  const char *model_path, const TaskSet *ts, const RunResult *r, PruneErr *err);
// A circuit file as read, before it meets a model (circuit_parse checked all of it). What
// the file lacks stays empty: no model shape (L = 0), a granularity without keep (kept
// whole), metrics NAN, paths "?"; so circuits from other tools (masks.<g>.keep alone) read.
typedef struct {
    int rows, cols;           // keep's shape in the file: [rows] (cols = 1) or [rows][cols]
    unsigned char *keep;      // rows * cols gates, each 0 or 1; NULL: not in the file
    double *log_alpha;        // the same shape, or NULL
} CircuitGran;
typedef struct {
    int L, NH, C, hs, H;      // model.{L, NH, C, hs, H}; when present every keep has its shape
    char model[1024], task[1024];  // model.path, task.train
    char eval[1024];          // task.eval (a separate held-out file), "" when none
    CircuitGran gran[NUM_GRAN];
    Metrics circuit, full, empty;  // metrics.*
    double weight_share;      // sizes.weight_share
    int ablation;             // settings.ablation (an AblationKind), -1: not in the file
    int split;                // task.split: 0 not in the file (or null), 1 seeded, 2 "field"
    uint64_t split_seed;      // task.split.seed (split 1)
    double train_frac;        // task.split.train_fraction (split 1)
    double kl_budget;         // settings.sparsity.kl_budget, NAN: not a KL-budget search
} CircuitFile;
// The parser, pure (the fuzz target and tests call it); circuit_load reads the file first.
// Errors name the file and the field. Free with circuit_file_free (also after an error).
int circuit_parse(const char *text, size_t len, const char *path, CircuitFile *cf, PruneErr *err);
int circuit_load(const char *path, CircuitFile *cf, PruneErr *err);
void circuit_file_free(CircuitFile *cf);
// Fits a parsed file to this model: keep (mk->total) gets its masks, granularities the file
// lacks all kept; a shape or a model.{L,NH,C} that differs from the model's is an error.
int circuit_apply(const CircuitFile *cf, const Masks *mk, const char *path, unsigned char *keep,
                  PruneErr *err);
// circuit_load + circuit_apply.
int circuit_read(const char *path, const Masks *mk, unsigned char *keep, PruneErr *err);
// The human summary: per-layer table, sizes per granularity, weight share, metrics.
void circuit_print_summary(FILE *out, const Pruner *p, const unsigned char *keep,
                           const RunResult *r);
void metrics_print(FILE *out, const char *title, const Metrics *c, const Metrics *full,
                   const Metrics *empty);

#endif
