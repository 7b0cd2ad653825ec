// commands.h: what each CLI subcommand does, as library calls. main.c only parses
// arguments and calls these; they print to `out` and return 0 or -1 with err filled.
#ifndef PRUNE_COMMANDS_H
#define PRUNE_COMMANDS_H

#include <stdio.h>

#include "common.h"
#include "prune.h"

// `prune info MODEL`: config, parameter count, file format, storage dtype, memory.
int cmd_info(const char *model_path, int json, FILE *out, PruneErr *err);

// `prune next MODEL (--ids "..." | TEXT)`: the top-k next tokens with log-probabilities.
// With text, the prompt is encoded with the model's tokenizer (vocab overrides it); ids
// may be NULL then. Token strings are shown when a vocabulary is available.
int cmd_next(const char *model_path, const int *ids, int n, const char *text, const char *vocab,
             int topk, int json, FILE *out, PruneErr *err);

// `prune tokenize [--vocab FILE | --model MODEL] TEXT` prints ids; with decode, TEXT is a
// list of ids and the decoded text is printed.
int cmd_tokenize(const char *vocab, const char *model, const char *text, int decode, int json,
                 FILE *out, PruneErr *err);

// `prune bpe --corpus FILE --vocab-size N --out DIR`: learn a byte-level BPE vocabulary.
int cmd_bpe(const char *corpus, int vocab_size, int max_digits, const char *out_dir, FILE *out,
            PruneErr *err);

// Parses "464 2068 318" (spaces or commas) into ids; at most cap of them.
// opt: the option the list came from, for messages ("--ids", "--decode").
int parse_id_list(const char *s, const char *opt, int *ids, int cap, int *n, PruneErr *err);

// `prune gen KIND [--n N] [--seed S] [--out FILE]`: a task file for GPT-2's vocabulary
// (or --vocab / --model's). Writes to out_path atomically, or to `out` when NULL.
int cmd_gen(const char *kind, int n, uint64_t seed, const char *vocab, const char *model,
            const char *out_path, int corpus, FILE *out, PruneErr *err);

// `prune check MODEL TASK [--eval FILE] [--skip-invalid]`: load and validate a task the way
// a pruning run would, and report it.
int cmd_check(const char *model, const char *task, const char *eval, const char *vocab,
              int skip_invalid, int allow_no_corrupt, double train_frac, uint64_t seed, FILE *out,
              PruneErr *err);

// `prune MODEL TASK [options]`: find the circuit, print it and its held-out metrics, and
// write circuit.json when out_path is set.
typedef struct {
    const char *model, *task, *eval, *vocab, *out_path;
    const char *resume;    // checkpoint to go on from (NULL: a fresh search)
    const char *log_path;  // per-step CSV (NULL: none)
    size_t max_memory;     // bytes a run may need (0: the memory available)
    const char *report_dir;  // --report DIR: the report of the circuit found (NULL: none)
    int skip_invalid;
    int split_field;       // --split-field: TASK's JSONL "split" field decides train and eval
    double train_frac;
    double val_frac;       // --refine: share of the train part held out for validation (0: off)
    // given on the command line (eval: otherwise the circuit file's own ablation and split)
    int ablation_given, seed_given, frac_given;
    int *stopped_early;    // out (may be NULL): the search ended before its last step (a stop request)
    PruneConfig cfg;
} RunArgs;
int cmd_prune(const RunArgs *a, FILE *out, PruneErr *err);

// `prune eval MODEL TASK (--circuit FILE | --full | --empty)`: the metrics of a given circuit
// on the held-out part (the same seeded split as a run, or --eval FILE; all_examples: every
// example of TASK, labelled as such).
typedef enum { EVAL_CIRCUIT, EVAL_FULL, EVAL_EMPTY } EvalWhat;
int cmd_eval(const RunArgs *a, EvalWhat what, const char *circuit, int all_examples, FILE *out,
             PruneErr *err);

// `prune heads MODEL TASK`: per-head attention diagnostics (previous-token, induction and
// repeated-random-sequence scores, attention to answer positions) over the first
// max_examples clean prompts of TASK.
int cmd_heads(const char *model, const char *task_path, const char *vocab, int max_examples,
              uint64_t seed, int json, FILE *out, PruneErr *err);

// `prune report circuit.json [--log FILE] [--out DIR]`: circuit.svg, circuit.dot (drawn when
// Graphviz is installed), edges.tsv, curves.svg (with a --log CSV) and index.html in out_dir.
int cmd_report(const char *circuit_path, const char *log_path, const char *out_dir, FILE *out, PruneErr *err);

// `prune sweep MODEL TASK --targets 0.5,0.9,...`: one search per target sparsity (all
// granularities), the results in out_dir/sweep.csv and out_dir/sweep.svg.
int cmd_sweep(const RunArgs *a, const double *targets, int n_targets, const char *out_dir, FILE *out,
              PruneErr *err);
// One sweep result and sweep.svg, its picture (report.c): logit difference recovered against
// the share of block weights kept, written atomically to path.
typedef struct {
    double target, share, recovered, kl;  // recovered: normalised recovery (metrics_recovery; NAN: none)
} SweepPoint;
int sweep_plot_svg(const char *path, const SweepPoint *pts, int n, PruneErr *err);

// `prune compare MODEL TASK [--out DIR]`: the default search, the head-only search and the
// baselines (baselines.h: greedy knockout of heads and of MLP blocks, attribution of heads,
// MLP blocks and neurons, each as nested keep-top-k circuits) on the same split, every
// circuit through the same evaluator on the held-out part; out_dir/compare.csv and
// out_dir/compare.svg, written atomically together, and a table of the smallest circuit
// of each method within the KL budget.
int cmd_compare(const RunArgs *a, const char *out_dir, FILE *out, PruneErr *err);
// One circuit of a comparison: a point of a baseline's curve (k units of its granularity
// kept) or a search's result (k = -1).
typedef struct {
    const char *method;  // "search", "search-head-only", "knockout-head", ... (a static string)
    int k;
    int heads, mlps;     // kept heads and MLP blocks
    long neurons;        // kept MLP neurons
    double share;        // share of the block weights the kept units use
    double kl;           // held-out KL(full || circuit)
    double recovery;     // normalised recovery of the logit difference (NAN: no wrong answers)
    double acc;          // pairwise accuracy
} ComparePoint;
// compare.svg (report.c): a 2 x 2 grid, x = heads kept | share of block weights kept, y =
// held-out KL (log scale, the budget dashed) | normalised recovery; a line per baseline, a
// marked point per search. Writes to f (the caller commits the file).
void compare_plot_svg(FILE *f, const ComparePoint *pts, int n, int heads_total, double budget);

// `prune train --corpus FILE --out DIR [...]`: train a small GPT-2 from scratch (train.c).
#include "train.h"
int cmd_train(const TrainConfig *cfg, FILE *out, PruneErr *err);

#endif
