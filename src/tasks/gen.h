// gen.h: generators for the standard circuit tasks (IOI, greater-than, gendered pronoun,
// induction), writing task files that validate for a given tokenizer. Same seed, same
// file. The word lists are in gen_lists.c.
#ifndef PRUNE_GEN_H
#define PRUNE_GEN_H

#include <stdint.h>

#include "common.h"
#include "tokenizer.h"

extern const char *const IOI_NAMES[], *const IOI_BABA_TEMPLATES[], *const IOI_PLACES[],
    *const IOI_OBJECTS[], *const GT_NOUNS[], *const GP_TEMPLATES[], *const GP_FEMALE[],
    *const GP_MALE[];
extern const int IOI_NAMES_N, IOI_BABA_TEMPLATES_N, IOI_PLACES_N, IOI_OBJECTS_N, GT_NOUNS_N,
    GP_TEMPLATES_N, GP_FEMALE_N, GP_MALE_N;

// kind: "ioi", "gt", "gp" or "induction". Produces n examples (a header comment, then one
// line each) in *out (malloc'd, NUL-terminated). Every line is checked with the task
// parser against tok and max_len; invalid candidates are redrawn.
int gen_task(const char *kind, int n, uint64_t seed, Tokenizer *tok, int max_len, char **out,
             size_t *out_len, PruneErr *err);
// Training text for a teaching model of the task: n lines, each a whole clean example with
// its answer (the same templates, names and words as the task), no tokenizer needed.
int gen_corpus(const char *kind, int n, uint64_t seed, char **out, size_t *out_len, PruneErr *err);

#endif
