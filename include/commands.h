// commands.h: what each CLI subcommand does, as library calls. main.c only parses
// arguments and calls these; they print to `out` and return 0 or -1 with err filled.
#ifndef PRUNE_COMMANDS_H
#define PRUNE_COMMANDS_H

#include <stdio.h>

#include "common.h"

// `prune info MODEL`: config, parameter count, file format, storage dtype, memory.
int cmd_info(const char *model_path, int json, FILE *out, PruneErr *err);

// `prune next MODEL --ids "..."`: the top-k next tokens after ids with log-probabilities.
int cmd_next(const char *model_path, const int *ids, int n, int topk, int json, FILE *out,
             PruneErr *err);

// Parses "464 2068 318" (spaces or commas) into ids; at most cap of them.
int parse_id_list(const char *s, int *ids, int cap, int *n, PruneErr *err);

#endif
