// main.c: argument parsing only. Each subcommand's work is a library call in commands.c.
// Usage errors print the usage to stderr and exit 2; failures of the work exit 1.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "common.h"

#define MAX_IDS 65536

static const char *USAGE =
    "prune: find circuits in GPT-2-style language models.\n"
    "\n"
    "usage:\n"
    "  prune info MODEL [--json]             model config, parameter count, file format\n"
    "  prune next MODEL --ids \"464 2068 318\" [--top K] [--json] [--threads N]\n"
    "                                        top-K next tokens with log-probabilities\n"
    "  prune --help                          this text\n"
    "\n"
    "MODEL is an llm.c checkpoint (gpt2_124M.bin: v3 fp32 or v5 bf16), a Hugging Face GPT-2\n"
    "folder (config.json + model.safetensors or model.safetensors.index.json), or a\n"
    "model.safetensors with config.json beside it.\n"
    "\n"
    "options:\n"
    "  --ids \"...\"    token ids, separated by spaces or commas\n"
    "  --top K        how many next tokens to list (default 10)\n"
    "  --json         machine-readable output\n"
    "  --threads N    OpenMP/OpenBLAS threads (default 2)\n"
    "\n"
    "example:\n"
    "  prune next tests/data/lm_buddy_tiny_gpt2 --ids \"10 11 13\"\n";

static int usage_error(const char *msg, const char *arg) {
    fprintf(stderr, "prune: %s%s%s\n\n%s", msg, arg ? ": " : "", arg ? arg : "", USAGE);
    return 2;
}

static int fail(const PruneErr *err) {
    fprintf(stderr, "prune: error: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv) {
    prune_fix_blas_coretype(argv);
    if (argc < 2) {
        fputs(USAGE, stdout);
        return 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (strcmp(cmd, "info") && strcmp(cmd, "next")) return usage_error("unknown command", cmd);
    const char *model = NULL, *ids_arg = NULL;
    int json = 0;
    long top = 10, threads = 2;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--ids")) {
            if (!has_val) return usage_error("--ids needs a value", NULL);
            ids_arg = argv[++i];
        } else if (!strcmp(a, "--top")) {
            if (!has_val || parse_int(argv[i + 1], 1, 1000000, &top))
                return usage_error("--top needs a whole number from 1 to 1000000", has_val ? argv[i + 1] : NULL);
            i++;
        } else if (!strcmp(a, "--threads")) {
            if (!has_val || parse_int(argv[i + 1], 1, 1024, &threads))
                return usage_error("--threads needs a whole number from 1 to 1024", has_val ? argv[i + 1] : NULL);
            i++;
        } else if (a[0] == '-' && a[1]) {
            return usage_error("unknown option", a);
        } else if (!model) {
            model = a;
        } else {
            return usage_error("unexpected argument", a);
        }
    }
    if (!model) return usage_error("missing MODEL", NULL);
    prune_set_threads((int)threads);
    PruneErr err = {{0}};
    if (!strcmp(cmd, "info")) {
        if (ids_arg) return usage_error("--ids is for 'prune next'", NULL);
        return cmd_info(model, json, stdout, &err) ? fail(&err) : 0;
    }
    if (!ids_arg) return usage_error("'prune next' needs --ids", NULL);
    int *ids = malloc(sizeof(int) * MAX_IDS), n = 0;
    if (!ids) return usage_error("out of memory", NULL);
    int rc = 0;
    if (parse_id_list(ids_arg, ids, MAX_IDS, &n, &err)) {
        rc = usage_error(err.msg, NULL);
    } else if (cmd_next(model, ids, n, (int)top, json, stdout, &err)) {
        rc = fail(&err);
    }
    free(ids);
    return rc;
}
