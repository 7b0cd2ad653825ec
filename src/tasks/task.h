// task.h: what behaviour to explain. A task file holds examples, one a line:
//   clean_prompt<TAB>corrupted_prompt<TAB>correct<TAB>wrong
// (docs/tasks.md), or Edge Pruning's JSONL. Loading tokenises with the model's
// tokenizer and validates every line; splitting makes a seeded train/eval partition.
#ifndef PRUNE_TASK_H
#define PRUNE_TASK_H

#include <stdio.h>

#include "common.h"
#include "tokenizer.h"

typedef struct {
    int line;          // 1-based line in its file
    int len;           // tokens in the clean (and corrupted) prompt
    int *clean;        // (len) token ids
    int *corrupt;      // (len) token ids, or NULL when the corrupted field is "-"
    int *correct;      // token ids of the correct answers (>= 1)
    int n_correct;
    int *wrong;        // token ids of the wrong answers (may be 0 for JSONL tasks)
    int n_wrong;
    int part;          // a JSONL line's "split" field: TASK_PART_NONE (absent), _TRAIN, _HELD_OUT
} TaskExample;

enum { TASK_PART_NONE, TASK_PART_TRAIN, TASK_PART_HELD_OUT };

typedef struct {
    TaskExample *ex;
    int n;
    int max_len;           // longest prompt, in tokens
    int dropped;           // invalid lines dropped by skip_invalid
    char path[1024];       // the file it came from
    char name[64];         // from a "# task=NAME" comment, else ""
    char metric[32];       // from a "# ... metric=NAME" comment, else ""
    int *ids;              // one allocation behind every id array above
    int dup_prompts, dup_examples;  // (task_split's parts) clean prompts that occur more than
                                    // once, and the examples that carry them
} Task;

typedef struct {
    int max_len;           // the model's context: longer prompts are errors
    int skip_invalid;      // drop invalid lines with a warning instead of failing
    int allow_no_corrupt;  // the corrupted field may be "-" (mean and zero ablation)
    FILE *warn;            // where per-line errors/warnings go (NULL: nowhere)
    int split_field;       // taskset_load: split by the JSONL "split" field (--split-field)
} TaskOptions;

// Parses text (a task.txt or Edge Pruning JSONL, detected by its first non-blank
// character) named path. On error, err names the first invalid line (every invalid line
// is also written to opt->warn); with skip_invalid, invalid lines are dropped and counted.
int task_parse(Task *t, const char *text, size_t len, const char *path, Tokenizer *tok,
               const TaskOptions *opt, PruneErr *err);
int task_load(Task *t, const char *path, Tokenizer *tok, const TaskOptions *opt, PruneErr *err);
void task_free(Task *t);

// A seeded split: examples with the same clean prompt form a group (a repeated prompt must
// not be trained on and evaluated on); a random permutation of the groups (seed), each to
// train while train holds fewer than round(n * train_frac) examples, the rest to eval. Both
// share no example and no clean prompt; without repeats this is a permutation of the
// examples, the first round(n * train_frac) to train. The Task structs returned borrow the
// examples of all (free only all); both record the repeats found (dup_prompts, dup_examples).
int task_split(const Task *all, double train_frac, uint64_t seed, Task *train, Task *eval,
               PruneErr *err);
void task_split_free(Task *part);

// What a run trains and evaluates on: the task file split by seed (train_frac to train),
// or, with an eval file, all of the task file to train and all of the eval file to eval.
typedef struct {
    Task file, eval_file;  // what was loaded
    Task train, eval;      // views (split) or copies of the above
    int split;             // 1: train/eval are a seeded split of `file`
    int split_field;       // 1: train/eval come from `file`'s JSONL "split" field
    double train_frac;
    uint64_t seed;
} TaskSet;

int taskset_load(TaskSet *ts, const char *task_path, const char *eval_path, Tokenizer *tok,
                 const TaskOptions *opt, double train_frac, uint64_t seed, PruneErr *err);
void taskset_free(TaskSet *ts);
// One paragraph for the start of a run: files, counts, dropped lines, how it was split.
void taskset_report(const TaskSet *ts, FILE *out);

// Unescapes a task field in place (\t \n \\ \|); returns its new length.
size_t task_unescape(char *s, size_t n);

#endif
