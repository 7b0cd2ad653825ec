// train.h: training small GPT-2s from scratch, for the teaching models (issue 6). Weight
// gradients and AdamW over the engine's forward/backward; not used by the pruner.
#ifndef PRUNE_TRAIN_H
#define PRUNE_TRAIN_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"

typedef struct {
    const char *corpus;    // training text, one sentence or sequence a line
    const char *out_dir;   // gets model.bin, vocab.json, merges.txt
    int layers, heads, dim, ctx;
    int steps, batch, vocab_size, max_digits, attn_only;
    int llama;             // 1: the Llama architecture (RMSNorm, interleaved RoPE, SwiGLU,
                           // optional GQA), saved as a llama2.c version-1 checkpoint
    int kv_heads;          // Llama: key/value heads (0: as many as --heads)
    float lr, weight_decay, grad_clip, warmup;  // warmup: fraction of steps
    float eval_frac;       // share of the corpus's lines held out
    int eval_every;        // steps between held-out evaluations and checkpoints
    uint64_t seed;
    volatile sig_atomic_t *stop;
    FILE *progress;        // a line per evaluation (NULL: quiet)
} TrainConfig;

void train_config_defaults(TrainConfig *c);

typedef struct {
    double train_loss, eval_loss, seconds;
    int steps_done, vocab;
    size_t params;
} TrainResult;

// Learns the vocabulary, tokenises the corpus, trains, and writes the checkpoint atomically
// every eval_every steps and at the end (an interrupted run leaves the last one intact).
int train_model(const TrainConfig *cfg, TrainResult *res, PruneErr *err);

#endif
