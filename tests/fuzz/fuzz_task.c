// fuzz_task.c: task files (task.txt and Edge Pruning JSONL, told apart by their first
// character), tokenised with GPT-2's vocabulary (models/gpt2/vocab.bpe), both strict and
// with --skip-invalid.
#include <stdint.h>
#include <stdlib.h>

#include "task.h"
#include "tokenizer.h"

static Tokenizer tok;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    PruneErr err;
    if (tok_load(&tok, PRUNE_SOURCE_DIR "/models/gpt2/vocab.bpe", &err)) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int skip = 0; skip < 2; skip++) {
        TaskOptions opt = {.max_len = 64, .skip_invalid = skip, .allow_no_corrupt = skip, .warn = NULL};
        Task t;
        PruneErr err;
        if (task_parse(&t, (const char *)data, size, "task.txt", &tok, &opt, &err) == 0) {
            for (int i = 0; i < t.n; i++)  // what the pruner relies on
                if (t.ex[i].len < 1 || t.ex[i].len > 64 || t.ex[i].n_correct < 1) __builtin_trap();
            task_free(&t);
        }
    }
    return 0;
}
