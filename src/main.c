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
    "  prune info MODEL [--json]                 model config, parameter count, file format\n"
    "  prune next MODEL TEXT [--top K] [--json]  top-K next tokens with log-probabilities\n"
    "  prune next MODEL --ids \"464 2068 318\"     the same from token ids\n"
    "  prune tokenize [--model MODEL | --vocab FILE] [--json] TEXT     text -> ids\n"
    "  prune tokenize [--model MODEL | --vocab FILE] --decode \"IDS\"    ids -> text\n"
    "  prune bpe --corpus FILE --vocab-size N --out DIR    learn a byte-level BPE vocabulary\n"
    "  prune gen ioi|gt|gp|induction [--n N] [--seed S] [--out FILE] [--model M | --vocab F]\n"
    "                                            write a task file for a standard circuit task\n"
    "  prune check MODEL TASK [--eval FILE] [--skip-invalid]   validate a task for a model\n"
    "  prune --help                              this text\n"
    "\n"
    "MODEL is an llm.c checkpoint (gpt2_124M.bin: v3 fp32 or v5 bf16), a Hugging Face GPT-2\n"
    "folder (config.json + model.safetensors or model.safetensors.index.json), or a\n"
    "model.safetensors with config.json beside it. Its vocabulary is vocab.json + merges.txt\n"
    "beside the model if present, else GPT-2's (models/gpt2/vocab.bpe), unless --vocab says.\n"
    "\n"
    "options:\n"
    "  --ids \"...\"       token ids, separated by spaces or commas\n"
    "  --vocab FILE      vocab.bpe, encoder.json, vocab.json, merges.txt, or a folder of them\n"
    "  --model MODEL     (tokenize) use this model's vocabulary\n"
    "  --decode          (tokenize) TEXT is a list of ids; print the text they decode to\n"
    "  --top K           how many next tokens to list (default 10)\n"
    "  --json            machine-readable output\n"
    "  --corpus FILE     (bpe) training text\n"
    "  --vocab-size N    (bpe) tokens in the vocabulary, 257..1000000\n"
    "  --out PATH        (bpe) folder for vocab.json and merges.txt; (gen) task file\n"
    "  --n N             (gen) number of examples (default 400)\n"
    "  --seed S          random seed (default 0)\n"
    "  --eval FILE       held-out task file (default: a seeded 50/50 split of TASK)\n"
    "  --skip-invalid    drop invalid task lines with a warning instead of failing\n"
    "  --threads N       OpenMP/OpenBLAS threads (default 2)\n"
    "\n"
    "examples:\n"
    "  prune next tests/data/golden_l2h2.bin --ids \"21 4\"\n"
    "  prune tokenize \"Hello world\"\n";

static int usage_error(const char *msg, const char *arg) {
    fprintf(stderr, "prune: %s%s%s\n\n%s", msg, arg ? ": " : "", arg ? arg : "", USAGE);
    return 2;
}

static int fail(const PruneErr *err) {
    fprintf(stderr, "prune: error: %s\n", err->msg);
    return 1;
}

typedef struct {
    const char *ids, *vocab, *model, *corpus, *out, *eval;
    int json, decode, skip_invalid;
    long top, threads, vocab_size, n, seed;
    const char *pos[4];
    int npos;
} Args;

// Options that take a value, and where each is stored.
static int parse_args(int argc, char **argv, Args *a) {
    struct { const char *name; const char **str; long *num; long lo, hi; } opts[] = {
        {"--ids", &a->ids, NULL, 0, 0},          {"--vocab", &a->vocab, NULL, 0, 0},
        {"--model", &a->model, NULL, 0, 0},      {"--corpus", &a->corpus, NULL, 0, 0},
        {"--out", &a->out, NULL, 0, 0},          {"--top", NULL, &a->top, 1, 1000000},
        {"--threads", NULL, &a->threads, 1, 1024}, {"--vocab-size", NULL, &a->vocab_size, 257, 1000000},
        {"--eval", &a->eval, NULL, 0, 0},        {"--n", NULL, &a->n, 1, 10000000},
        {"--seed", NULL, &a->seed, 0, 2147483647},
    };
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--json")) {
            a->json = 1;
            continue;
        }
        if (!strcmp(s, "--decode")) {
            a->decode = 1;
            continue;
        }
        if (!strcmp(s, "--skip-invalid")) {
            a->skip_invalid = 1;
            continue;
        }
        if (!strcmp(s, "--")) {  // everything after is positional (text starting with '-')
            while (++i < argc && a->npos < 4) a->pos[a->npos++] = argv[i];
            break;
        }
        size_t k = 0, nopts = sizeof opts / sizeof opts[0];
        while (k < nopts && strcmp(s, opts[k].name)) k++;
        if (k < nopts) {
            if (i + 1 >= argc) return usage_error("option needs a value", s);
            const char *v = argv[++i];
            if (opts[k].str) {
                *opts[k].str = v;
            } else if (parse_int(v, opts[k].lo, opts[k].hi, opts[k].num)) {
                char msg[128];
                snprintf(msg, sizeof msg, "%s needs a whole number from %ld to %ld", s, opts[k].lo,
                         opts[k].hi);
                return usage_error(msg, v);
            }
            continue;
        }
        if (s[0] == '-' && s[1] && s[1] == '-') return usage_error("unknown option", s);
        if (a->npos == 4) return usage_error("too many arguments", s);
        a->pos[a->npos++] = s;
    }
    return 0;
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
    Args a = {.top = 10, .threads = 2, .vocab_size = 0, .n = 400, .seed = 0};
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    prune_set_threads((int)a.threads);
    PruneErr err = {{0}};

    if (!strcmp(cmd, "info")) {
        if (a.npos != 1) return usage_error(a.npos ? "too many arguments" : "missing MODEL", NULL);
        return cmd_info(a.pos[0], a.json, stdout, &err) ? fail(&err) : 0;
    }
    if (!strcmp(cmd, "next")) {
        if (a.npos < 1) return usage_error("missing MODEL", NULL);
        if (a.npos > 2) return usage_error("too many arguments (quote the prompt)", a.pos[2]);
        const char *text = a.npos == 2 ? a.pos[1] : NULL;
        if (!text && !a.ids) return usage_error("'prune next' needs a prompt TEXT or --ids", NULL);
        if (text && a.ids) return usage_error("give either TEXT or --ids, not both", NULL);
        int *ids = NULL, n = 0;
        if (a.ids) {
            ids = malloc(sizeof(int) * MAX_IDS);
            if (!ids) return usage_error("out of memory", NULL);
            if (parse_id_list(a.ids, ids, MAX_IDS, &n, &err)) {
                free(ids);
                return usage_error(err.msg, NULL);
            }
        }
        rc = cmd_next(a.pos[0], ids, n, text, a.vocab, (int)a.top, a.json, stdout, &err);
        free(ids);
        return rc ? fail(&err) : 0;
    }
    if (!strcmp(cmd, "tokenize")) {
        if (a.npos != 1) return usage_error(a.npos ? "too many arguments (quote the text)" : "missing TEXT", NULL);
        return cmd_tokenize(a.vocab, a.model, a.pos[0], a.decode, a.json, stdout, &err) ? fail(&err) : 0;
    }
    if (!strcmp(cmd, "bpe")) {
        if (a.npos) return usage_error("unexpected argument", a.pos[0]);
        if (!a.corpus || !a.out || !a.vocab_size)
            return usage_error("'prune bpe' needs --corpus FILE, --vocab-size N and --out DIR", NULL);
        return cmd_bpe(a.corpus, (int)a.vocab_size, a.out, stdout, &err) ? fail(&err) : 0;
    }
    if (!strcmp(cmd, "gen")) {
        if (a.npos != 1) return usage_error(a.npos ? "too many arguments" : "missing KIND (ioi, gt, gp or induction)", NULL);
        return cmd_gen(a.pos[0], (int)a.n, (uint64_t)a.seed, a.vocab, a.model, a.out, stdout, &err)
                   ? fail(&err) : 0;
    }
    if (!strcmp(cmd, "check")) {
        if (a.npos != 2) return usage_error(a.npos < 2 ? "missing MODEL or TASK" : "too many arguments", NULL);
        return cmd_check(a.pos[0], a.pos[1], a.eval, a.vocab, a.skip_invalid, 0, 0.5,
                         (uint64_t)a.seed, stdout, &err) ? fail(&err) : 0;
    }
    return usage_error("unknown command", cmd);
}
