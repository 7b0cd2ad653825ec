// main.c: argument parsing only. One table of subcommands (COMMANDS: the arguments and
// options each takes, and its handler) and one list of options (parse_args); each
// handler turns the arguments into a library call (commands.c, run.c, report.c, train.c).
// Usage errors print the usage to stderr and exit 2; failures of the work exit 1.
// The one thing besides parsing: SIGINT/SIGTERM set a flag the search checks between steps.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "common.h"
#include "tokenizer.h"

#define MAX_IDS 65536

static const char *USAGE =
    "prune: find circuits in GPT-2-style language models.\n"
    "\n"
    "usage:\n"
    "  prune MODEL TASK [options]                find the circuit for TASK (the main form)\n"
    "  prune eval MODEL TASK (--circuit FILE | --full | --empty) [options]\n"
    "                                            metrics of a given circuit, held out\n"
    "  prune check MODEL TASK [--eval FILE] [--skip-invalid]   validate a task for a model\n"
    "  prune gen ioi|gt|gp|induction [--n N] [--seed S] [--out FILE] [--model M | --vocab F]\n"
    "                                            write a task file for a standard circuit task;\n"
    "                                            --corpus-text: training text for a teaching model\n"
    "  prune heads MODEL TASK [--n N] [--json]  per head: attention to the previous token,\n"
    "                                            induction scores, attention to answer tokens\n"
    "  prune report CIRCUIT.json [--log FILE] [--out DIR]\n"
    "                                            pictures (SVG, Graphviz), edge list, HTML page\n"
    "  prune sweep MODEL TASK --targets 0.5,0.9,... [--out DIR]\n"
    "                                            one search per target sparsity: sweep.csv, .svg\n"
    "  prune compare MODEL TASK [--out DIR] [search options]\n"
    "                                            the search against the baselines (greedy\n"
    "                                            knockout, attribution patching, head-only search)\n"
    "                                            on the same split: compare.csv, compare.svg\n"
    "  prune info MODEL [--json]                 model config, parameter count, file format\n"
    "  prune next MODEL TEXT [--top K] [--json]  top-K next tokens (or --ids \"464 2068 318\")\n"
    "  prune tokenize [--model MODEL | --vocab FILE] [--json] TEXT     text -> ids\n"
    "  prune tokenize [--model MODEL | --vocab FILE] --decode \"IDS\"    ids -> text\n"
    "  prune bpe --corpus FILE --vocab-size N --out DIR [--max-digits N]\n"
    "                                            learn a byte-level BPE vocabulary\n"
    "  prune train --corpus FILE --out DIR [--layers N --heads N --dim N --ctx N --steps N\n"
    "              --batch N --lr X --seed S --vocab-size N --max-digits N --attn-only\n"
    "              --arch gpt2|llama --kv-heads N]\n"
    "                                            train a small GPT-2 (or --arch llama) from scratch\n"
    "  prune --help                              this text\n"
    "\n"
    "MODEL: an llm.c checkpoint (.bin, v3 fp32 or v5 bf16), a llama2.c checkpoint (.bin, v0 or\n"
    "v1 fp32), a Hugging Face GPT-2, Llama, Qwen2 or Mistral folder or its model.safetensors /\n"
    "model.safetensors.index.json. Its tokenizer: tokenizer.json, else\n"
    "vocab.json + merges.txt beside the model, else GPT-2's (models/gpt2/vocab.bpe), unless\n"
    "--vocab says; none that fits: the task gives token ids.\n"
    "TASK: clean<TAB>corrupted<TAB>correct<TAB>wrong per line (docs/tasks.md; a field may be\n"
    "token ids, ids:464 2068 318), or Edge Pruning's JSONL.\n"
    "\n"
    "search options (defaults in brackets):\n"
    "  --steps N            optimisation steps [500]\n"
    "  --batch N            examples per step [32]\n"
    "  --chunk N            examples per forward/backward pass; memory follows it [512/T]\n"
    "  --lr X               Adam learning rate on log_alpha [0.05]\n"
    "  --seed S             seed for the split, the mask init and the gate samples [0]\n"
    "  --ablation A         corrupted | mean | zero [corrupted]\n"
    "  --granularities L    which gates to learn, e.g. head,neuron [all: emb,layer,attn,mlp,\n"
    "                       head,attn_dim,neuron,mlp_out]; the others stay 1\n"
    "  --kl-budget X        find the sparsest circuit with KL(full || circuit) <= X [0.05]\n"
    "  --target L           instead: sparsity targets, e.g. all=0.9 or head=0.8,neuron=0.95\n"
    "  --lambda L           instead: fixed weights on expected density, e.g. all=1\n"
    "  --dual-lr X          step of the dual ascent on the multipliers [0.05]\n"
    "  --scale S            gate: every gate's density weighs alike; granularity: each\n"
    "                       granularity's mean density weighs alike, and circuits within the\n"
    "                       budget are compared by the share kept per granularity [gate]\n"
    "  --warmup X           fraction of steps over which --target ramps up [0.5]\n"
    "  --eval FILE          held-out task file [a seeded split of TASK]\n"
    "  --train-frac X       share of TASK used for training when splitting [0.5]\n"
    "  --split-field        split an Edge Pruning JSONL TASK by its \"split\" field instead:\n"
    "                       \"train\" to train, any other value held out (docs/tasks.md)\n"
    "  --refine X           hold out the share X of the training part as validation, and\n"
    "                       after the search make the circuit meet --kl-budget there and\n"
    "                       locally minimal (docs/method-as-built.md) [off]\n"
    "  --init I             where log alpha starts: uniform, U(1.5, 2.5); attribution, by each\n"
    "                       gate's attribution score (docs/method-as-built.md) [uniform]\n"
    "  --skip-invalid       drop invalid task lines with a warning instead of failing\n"
    "  --max-target-mb N    cap on the cached full-model log-probabilities [512]\n"
    "  --out FILE           write the circuit as JSON (docs/circuit-format.md)\n"
    "  --report DIR         also write the report of the circuit (see prune report) to DIR\n"
    "  --log FILE           a CSV row per step: KL, expected L0, density and lambda per\n"
    "                       granularity (prune report --log draws it)\n"
    "  --checkpoint FILE    save the search state there every --checkpoint-every steps and\n"
    "                       when stopped (Ctrl-C, SIGTERM) [none]\n"
    "  --checkpoint-every N steps between checkpoints [50]\n"
    "  --resume FILE        go on from a checkpoint (same MODEL, TASK and options); the result\n"
    "                       is the same as an uninterrupted run's\n"
    "  --max-memory MB      refuse to start a run that needs more [the memory available]\n"
    "  --quiet              no progress (on a terminal a line redrawn each step; otherwise a\n"
    "                       line on stderr every 5 s)\n"
    "eval options: --circuit FILE, --full, --empty, --all (every example of TASK), and\n"
    "  --ablation, --eval, --seed, --train-frac as above (the same split as the search),\n"
    "  --vocab, --skip-invalid, --chunk, --max-memory, --max-target-mb\n"
    "compare options: --out DIR [compare], and the search's except --report, --log,\n"
    "  --checkpoint, --checkpoint-every, --resume; the options shape the default search, and\n"
    "  the head-only search is the same with --granularities head\n"
    "sweep options: --targets, --out DIR, and the search's except --kl-budget, --target,\n"
    "  --lambda, --report, --log, --checkpoint, --checkpoint-every, --resume, --quiet\n"
    "other options:\n"
    "  --ids \"...\"          token ids, separated by spaces or commas\n"
    "  --vocab FILE         tokenizer.json, vocab.bpe, encoder.json, vocab.json, merges.txt,\n"
    "                       or a folder\n"
    "  --bos yes|no         a prompt starts with the BOS token, or not [the tokenizer's rule:\n"
    "                       tokenizer_config.json, its post-processor; GPT-2: no]\n"
    "  --special-tokens     text spelling a special token (<|endoftext|>, <s>) is that token\n"
    "                       [it is ordinary text]\n"
    "  --model MODEL        (tokenize, gen) use this model's vocabulary\n"
    "  --decode             (tokenize) TEXT is a list of ids\n"
    "  --top K              (next) how many tokens to list [10]\n"
    "  --json               machine-readable output\n"
    "  --corpus FILE        (bpe) training text\n"
    "  --vocab-size N       (bpe) tokens in the vocabulary, 257..1000000\n"
    "  --max-digits N       (bpe, train) no token holds more than N digits [no limit]\n"
    "  --out PATH           (bpe) output folder; (gen) task file; (report, sweep) output folder\n"
    "  --targets L          (sweep) target sparsities, e.g. 0.5,0.8,0.9,0.95,0.98\n"
    "  --n N                (gen) number of examples; (heads) prompts to average over [400]\n"
    "  --threads N          (search, eval, sweep, heads, next, train) OpenMP/OpenBLAS threads [2]\n"
    "train options: --layers [2] --heads [4] --dim [64] --ctx [64] --steps [2000] --batch [32]\n"
    "  --lr [3e-3] --seed [0] --vocab-size [512] --attn-only (no MLP: for induction models)\n"
    "  --arch [gpt2] | llama (RMSNorm, RoPE, SwiGLU; saved as a llama2.c v1 file) --kv-heads N (GQA)\n"    "An option a command does not take is a usage error.\n"
    "exit status: 0 done; 1 the work failed (the message says why); 2 a usage error; 130\n"
    "  (SIGINT, Ctrl-C) or 143 (SIGTERM): stopped before the last step, the circuit found so\n"
    "  far and a --checkpoint written (docs/cli.md)\n"
    "\n"
    "examples:\n"
    "  prune models/induction/model.bin models/induction/task.txt --out circuit.json\n"
    "  prune eval models/induction/model.bin models/induction/task.txt --circuit circuit.json\n"
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
    const char *ids, *vocab, *model, *corpus, *out, *eval, *ablation, *grans, *lambda, *target;
    const char *circuit, *steps_s, *batch_s, *chunk_s, *lr_s, *budget_s, *dual_s, *warm_s, *frac_s, *tmb_s, *refine_s, *scale_s, *init_s;
    int json, decode, skip_invalid, quiet, full, empty, all, attn_only, gen_corpus, split_field;
    const char *bos;
    int special_tokens;
    const char *layers_s, *heads_s, *dim_s, *ctx_s, *ckpt, *ckpt_every_s, *resume, *log, *maxmem_s, *report, *targets;
    const char *arch;
    long top, threads, vocab_size, max_digits, n, seed, kv_heads;
    const char *pos[4];
    int npos;
} Args;

// The subcommands: the positional arguments each takes, the options it reads (an option
// it does not read is a usage error) and the handler that turns Args into a library call.
// The options themselves are listed once, in parse_args.
typedef struct {
    const char *name;  // NULL: the search, `prune MODEL TASK`
    const char *args;  // its positional arguments, for messages
    int min_pos, max_pos;
    const char *opts;  // the options it takes, each followed by a space
    int (*run)(Args *a);
} Command;

// How text becomes ids (every command that tokenizes).
#define TOK_OPTS "--bos --special-tokens "
// What a search and an evaluation share: the model, the task split, the ablation, memory.
#define RUN_OPTS TOK_OPTS "--vocab --eval --train-frac --split-field --seed --skip-invalid --ablation --chunk --max-memory " \
                 "--max-target-mb --threads "
// The optimisation (search and sweep).
#define OPTIMISER_OPTS "--steps --batch --lr --granularities --dual-lr --warmup --scale --init "

static int do_search(Args *a), do_eval(Args *a), do_check(Args *a), do_gen(Args *a), do_heads(Args *a),
    do_report(Args *a), do_sweep(Args *a), do_info(Args *a), do_next(Args *a), do_tokenize(Args *a),
    do_bpe(Args *a), do_train(Args *a), do_compare(Args *a);

static const Command COMMANDS[] = {
    {NULL, "MODEL TASK", 2, 2, RUN_OPTS OPTIMISER_OPTS "--kl-budget --target --lambda --out --report --log "
     "--checkpoint --checkpoint-every --resume --quiet --refine ", do_search},
    {"eval", "MODEL TASK", 2, 2, RUN_OPTS "--circuit --full --empty --all ", do_eval},
    {"check", "MODEL TASK", 2, 2, TOK_OPTS "--vocab --eval --seed --skip-invalid ", do_check},
    {"gen", "KIND", 1, 1, TOK_OPTS "--n --seed --out --model --vocab --corpus-text ", do_gen},
    {"heads", "MODEL TASK", 2, 2, TOK_OPTS "--vocab --n --seed --json --threads ", do_heads},
    {"report", "CIRCUIT.json", 1, 1, "--log --out ", do_report},
    {"sweep", "MODEL TASK", 2, 2, RUN_OPTS OPTIMISER_OPTS "--targets --out ", do_sweep},
    {"compare", "MODEL TASK", 2, 2, RUN_OPTS OPTIMISER_OPTS "--kl-budget --target --lambda --out --refine --quiet ",
     do_compare},
    {"info", "MODEL", 1, 1, "--json ", do_info},
    {"next", "MODEL [TEXT]", 1, 2, TOK_OPTS "--ids --vocab --top --json --threads ", do_next},
    {"tokenize", "TEXT", 1, 1, TOK_OPTS "--vocab --model --decode --json ", do_tokenize},
    {"bpe", "", 0, 0, "--corpus --vocab-size --max-digits --out ", do_bpe},
    {"train", "", 0, 0, "--corpus --out --layers --heads --dim --ctx --steps --batch --lr --seed --vocab-size "
     "--max-digits --attn-only --arch --kv-heads --threads ", do_train},
};
#define NUM_COMMANDS (int)(sizeof COMMANDS / sizeof COMMANDS[0])

static int takes(const Command *c, const char *opt) {
    size_t n = strlen(opt);
    for (const char *s = strstr(c->opts, opt); s; s = strstr(s + 1, opt))
        if ((s == c->opts || s[-1] == ' ') && s[n] == ' ') return 1;
    return 0;
}

// "'prune info' does not take --steps (an option of: the search, sweep, train)"
static int not_taken(const Command *c, const char *opt) {
    char msg[512], *p = msg, *end = msg + sizeof msg;
    p += snprintf(p, (size_t)(end - p), "'prune %s' does not take %s", c->name ? c->name : "MODEL TASK", opt);
    int any = 0;
    for (int k = 0; k < NUM_COMMANDS && p < end; k++)
        if (takes(&COMMANDS[k], opt))
            p += snprintf(p, (size_t)(end - p), "%s%s", any++ ? ", " : " (an option of: ",
                          COMMANDS[k].name ? COMMANDS[k].name : "the search");
    if (any && p < end) snprintf(p, (size_t)(end - p), ")");
    return usage_error(msg, NULL);
}

static int parse_args(int argc, char **argv, int first, const Command *cmd, Args *a) {
    struct { const char *name; const char **str; long *num; long lo, hi; } opts[] = {
        {"--ids", &a->ids, NULL, 0, 0},           {"--vocab", &a->vocab, NULL, 0, 0},
        {"--model", &a->model, NULL, 0, 0},       {"--corpus", &a->corpus, NULL, 0, 0},
        {"--out", &a->out, NULL, 0, 0},           {"--eval", &a->eval, NULL, 0, 0},
        {"--ablation", &a->ablation, NULL, 0, 0}, {"--granularities", &a->grans, NULL, 0, 0},
        {"--lambda", &a->lambda, NULL, 0, 0},     {"--target", &a->target, NULL, 0, 0},
        {"--circuit", &a->circuit, NULL, 0, 0},   {"--steps", &a->steps_s, NULL, 0, 0},
        {"--batch", &a->batch_s, NULL, 0, 0},     {"--chunk", &a->chunk_s, NULL, 0, 0},
        {"--lr", &a->lr_s, NULL, 0, 0},           {"--kl-budget", &a->budget_s, NULL, 0, 0},
        {"--dual-lr", &a->dual_s, NULL, 0, 0},    {"--warmup", &a->warm_s, NULL, 0, 0},
        {"--train-frac", &a->frac_s, NULL, 0, 0}, {"--max-target-mb", &a->tmb_s, NULL, 0, 0},
        {"--refine", &a->refine_s, NULL, 0, 0},   {"--scale", &a->scale_s, NULL, 0, 0},
        {"--init", &a->init_s, NULL, 0, 0},
        {"--layers", &a->layers_s, NULL, 0, 0},   {"--heads", &a->heads_s, NULL, 0, 0},
        {"--dim", &a->dim_s, NULL, 0, 0},         {"--ctx", &a->ctx_s, NULL, 0, 0},
        {"--checkpoint", &a->ckpt, NULL, 0, 0},   {"--checkpoint-every", &a->ckpt_every_s, NULL, 0, 0},
        {"--resume", &a->resume, NULL, 0, 0},     {"--log", &a->log, NULL, 0, 0},
        {"--max-memory", &a->maxmem_s, NULL, 0, 0}, {"--report", &a->report, NULL, 0, 0},
        {"--targets", &a->targets, NULL, 0, 0},  {"--bos", &a->bos, NULL, 0, 0},
        {"--arch", &a->arch, NULL, 0, 0},         {"--kv-heads", NULL, &a->kv_heads, 1, 64},
        {"--top", NULL, &a->top, 1, 1000000},     {"--threads", NULL, &a->threads, 1, 1024},
        {"--vocab-size", NULL, &a->vocab_size, 257, 1000000}, {"--max-digits", NULL, &a->max_digits, 1, 100}, {"--n", NULL, &a->n, 1, 10000000},
        {"--seed", NULL, &a->seed, 0, 2147483647},
    };
    struct { const char *name; int *flag; } flags[] = {
        {"--json", &a->json}, {"--decode", &a->decode}, {"--skip-invalid", &a->skip_invalid},
        {"--quiet", &a->quiet}, {"--full", &a->full}, {"--empty", &a->empty}, {"--all", &a->all},
        {"--split-field", &a->split_field}, {"--special-tokens", &a->special_tokens},
        {"--attn-only", &a->attn_only}, {"--corpus-text", &a->gen_corpus}};
    for (int i = first; i < argc; i++) {
        const char *s = argv[i];
        size_t k, nf = sizeof flags / sizeof flags[0], no = sizeof opts / sizeof opts[0];
        for (k = 0; k < nf && strcmp(s, flags[k].name); k++) {}
        if (k < nf) {
            if (!takes(cmd, s)) return not_taken(cmd, s);
            *flags[k].flag = 1;
            continue;
        }
        if (!strcmp(s, "--")) {  // everything after is positional (text starting with '-')
            while (++i < argc && a->npos < 4) a->pos[a->npos++] = argv[i];
            break;
        }
        for (k = 0; k < no && strcmp(s, opts[k].name); k++) {}
        if (k < no) {
            if (!takes(cmd, s)) return not_taken(cmd, s);
            if (i + 1 >= argc) return usage_error("option needs a value", s);
            const char *v = argv[++i];
            if (opts[k].str) {
                *opts[k].str = v;
            } else if (parse_int(v, opts[k].lo, opts[k].hi, opts[k].num)) {
                char msg[128];
                snprintf(msg, sizeof msg, "%s needs a whole number from %ld to %ld", s, opts[k].lo, opts[k].hi);
                return usage_error(msg, v);
            }
            continue;
        }
        if (s[0] == '-' && s[1] == '-') return usage_error("unknown option", s);
        if (a->npos == 4) return usage_error("too many arguments", s);
        a->pos[a->npos++] = s;
    }
    return 0;
}

static int num(const char *s, const char *opt, double lo, double hi, double *out) {
    char *end;
    double v = s ? strtod(s, &end) : 0;
    if (!s || end == s || *end || !(v >= lo && v <= hi)) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s needs a number from %g to %g", opt, lo, hi);
        return usage_error(msg, s);
    }
    *out = v;
    return 0;
}

static int gran_index(const char *s, size_t n) {
    for (int g = 0; g < NUM_GRAN; g++)
        if (strlen(GRANULARITIES[g].name) == n && !strncmp(s, GRANULARITIES[g].name, n)) return g;
    return -1;
}

// "head=0.8,neuron=0.95" or "all=0.9" into v[NUM_GRAN]
static int parse_gran_values(const char *s, const char *opt, double lo, double hi, float *v) {
    while (*s) {
        const char *eq = strchr(s, '='), *end = strchr(s, ',');
        if (!end) end = s + strlen(s);
        if (!eq || eq > end) return usage_error("expected granularity=value pairs, e.g. head=0.8,neuron=0.95", opt);
        int g = gran_index(s, (size_t)(eq - s)), all = (size_t)(eq - s) == 3 && !strncmp(s, "all", 3);
        if (g < 0 && !all) {
            fprintf(stderr, "prune: granularities are %s, or all\n", gran_names());
            return usage_error("unknown granularity", s);
        }
        char val[64];
        snprintf(val, sizeof val, "%.*s", (int)(end - eq - 1), eq + 1);
        double x;
        if (num(val, opt, lo, hi, &x)) return 2;
        for (int k = 0; k < NUM_GRAN; k++)
            if (all || k == g) v[k] = (float)x;
        s = *end ? end + 1 : end;
    }
    return 0;
}

static int build_run_args(const Args *a, RunArgs *r) {
    memset(r, 0, sizeof *r);
    prune_config_defaults(&r->cfg);
    PruneConfig *c = &r->cfg;
    r->model = a->pos[0], r->task = a->pos[1], r->eval = a->eval, r->vocab = a->vocab;
    r->out_path = a->out, r->skip_invalid = a->skip_invalid, r->train_frac = 0.5, r->split_field = a->split_field;
    r->resume = a->resume, r->log_path = a->log, r->report_dir = a->report;
    c->run.checkpoint = a->ckpt;
    if (a->resume && !a->ckpt) c->run.checkpoint = a->resume;  // a resumed run goes on saving there
    c->seed = a->seed < 0 ? 0 : (uint64_t)a->seed;  // -1: not given
    r->ablation_given = !!a->ablation, r->seed_given = a->seed >= 0, r->frac_given = !!a->frac_s;
    double x;
    if (a->steps_s && (num(a->steps_s, "--steps", 0, 1e7, &x) || (c->steps = (int)x, 0))) return 2;
    if (a->batch_s && (num(a->batch_s, "--batch", 1, 1e6, &x) || (c->batch = (int)x, 0))) return 2;
    if (a->chunk_s && (num(a->chunk_s, "--chunk", 1, 1024, &x) || (c->chunk = (int)x, 0))) return 2;
    if (a->lr_s && (num(a->lr_s, "--lr", 1e-7, 10, &x) || (c->lr = (float)x, 0))) return 2;
    if (a->dual_s && (num(a->dual_s, "--dual-lr", 0, 100, &x) || (c->dual_lr = (float)x, 0))) return 2;
    if (a->scale_s) {
        if (strcmp(a->scale_s, "gate") && strcmp(a->scale_s, "granularity"))
            return usage_error("--scale must be gate or granularity", a->scale_s);
        c->per_granularity = !strcmp(a->scale_s, "granularity");
    }
    if (a->init_s) {
        if (strcmp(a->init_s, "uniform") && strcmp(a->init_s, "attribution"))
            return usage_error("--init must be uniform or attribution", a->init_s);
        c->init = !strcmp(a->init_s, "attribution") ? INIT_ATTRIBUTION : INIT_UNIFORM;
    }
    if (a->warm_s && (num(a->warm_s, "--warmup", 0, 1, &x) || (c->warmup = (float)x, 0))) return 2;
    if (a->frac_s && (num(a->frac_s, "--train-frac", 0.01, 0.99, &x) || (r->train_frac = x, 0))) return 2;
    if (a->refine_s && (num(a->refine_s, "--refine", 0.05, 0.9, &x) || (r->val_frac = x, 0))) return 2;
    if (a->ckpt_every_s && (num(a->ckpt_every_s, "--checkpoint-every", 1, 1e7, &x) || (c->run.checkpoint_every = (int)x, 0))) return 2;
    if (a->maxmem_s && (num(a->maxmem_s, "--max-memory", 1, 1e9, &x) || (r->max_memory = (size_t)(x * 1048576), 0))) return 2;
    if (a->tmb_s && (num(a->tmb_s, "--max-target-mb", 0, 1e7, &x) || (c->run.max_target_bytes = (size_t)(x * 1048576), 0))) return 2;
    if (a->ablation) {
        int k = 0;
        while (k < NUM_ABLATIONS && strcmp(a->ablation, ABLATIONS[k].name)) k++;
        if (k == NUM_ABLATIONS) {
            fprintf(stderr, "prune: --ablation must be one of: %s\n", ablation_names());
            return usage_error("unknown ablation", a->ablation);
        }
        c->ablation = (AblationKind)k;
    }
    if (a->grans && strcmp(a->grans, "all")) {
        for (int g = 0; g < NUM_GRAN; g++) c->enabled[g] = 0;
        for (const char *s = a->grans; *s;) {
            const char *end = strchr(s, ',');
            if (!end) end = s + strlen(s);
            int g = gran_index(s, (size_t)(end - s));
            if (g < 0) {
                fprintf(stderr, "prune: --granularities takes %s\n", gran_names());
                return usage_error("unknown granularity in --granularities", s);
            }
            c->enabled[g] = 1;
            s = *end ? end + 1 : end;
        }
    }
    int modes = !!a->lambda + !!a->target + !!a->budget_s;
    if (modes > 1) return usage_error("give one of --kl-budget, --target and --lambda", NULL);
    if (a->lambda) {
        c->mode = SPARSITY_LAMBDA;
        if (parse_gran_values(a->lambda, "--lambda", 0, 1e6, c->lambda)) return 2;
    } else if (a->target) {
        c->mode = SPARSITY_TARGET;
        if (parse_gran_values(a->target, "--target", 0, 1, c->target)) return 2;
    } else if (a->budget_s) {
        if (num(a->budget_s, "--kl-budget", 0, 100, &x)) return 2;
        c->kl_budget = (float)x;
    }
    return 0;
}

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) {
    g_stop = sig;  // non-zero: stop; the number gives the exit status 128 + sig (stopped())
    signal(sig, SIG_DFL);  // a second Ctrl-C ends the process at once
}

static void catch_stop(void) {
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
}

// A run stopped by a signal wrote what it had (the circuit so far, a checkpoint) but did not
// finish: it exits 128 + the signal's number, as the shell reports a killed command (130 for
// SIGINT, 143 for SIGTERM), so a script can tell it from a finished run.
static int stopped(int rc) { return rc == 0 && g_stop ? 128 + (int)g_stop : rc; }

// --- handlers: Args to a library call; 0, 1 (the work failed) or 2 (usage) -------------

static int do_search(Args *a) {
    RunArgs r;
    int rc = build_run_args(a, &r);
    if (rc) return rc;
    PruneErr err = {{0}};
    r.cfg.run.progress = a->quiet ? NULL : isatty(fileno(stdout)) ? stdout : stderr;  // a log: a line every 5 s
    r.cfg.run.stop = &g_stop;
    int early = 0;  // a stop request after the last step stopped nothing: the result is whole
    r.stopped_early = &early;
    catch_stop();
    rc = cmd_prune(&r, stdout, &err) ? fail(&err) : 0;
    return early ? stopped(rc) : rc;
}

static int do_eval(Args *a) {
    RunArgs r;
    int rc = build_run_args(a, &r);
    if (rc) return rc;
    if (!!a->circuit + a->full + a->empty != 1)
        return usage_error("'prune eval' needs one of --circuit FILE, --full, --empty", NULL);
    PruneErr err = {{0}};
    EvalWhat w = a->circuit ? EVAL_CIRCUIT : a->full ? EVAL_FULL : EVAL_EMPTY;
    return cmd_eval(&r, w, a->circuit, a->all, stdout, &err) ? fail(&err) : 0;
}

static int do_check(Args *a) {
    PruneErr err = {{0}};
    return cmd_check(a->pos[0], a->pos[1], a->eval, a->vocab, a->skip_invalid, 0, 0.5, a->seed < 0 ? 0 : (uint64_t)a->seed,
                     stdout, &err) ? fail(&err) : 0;
}

static int do_gen(Args *a) {
    PruneErr err = {{0}};
    return cmd_gen(a->pos[0], (int)a->n, a->seed < 0 ? 0 : (uint64_t)a->seed, a->vocab, a->model, a->out, a->gen_corpus, stdout,
                   &err) ? fail(&err) : 0;
}

static int do_heads(Args *a) {
    PruneErr err = {{0}};
    return cmd_heads(a->pos[0], a->pos[1], a->vocab, (int)a->n, a->seed < 0 ? 0 : (uint64_t)a->seed, a->json, stdout, &err)
               ? fail(&err) : 0;
}

static int do_report(Args *a) {
    PruneErr err = {{0}};
    return cmd_report(a->pos[0], a->log, a->out ? a->out : "report", stdout, &err) ? fail(&err) : 0;
}

static int do_sweep(Args *a) {
    if (!a->targets) return usage_error("'prune sweep' needs --targets, e.g. 0.5,0.8,0.9,0.95,0.98", NULL);
    double t[64];
    int nt = 0;
    for (const char *s = a->targets; *s && nt < 64;) {
        const char *end = strchr(s, ',');
        char v[64];
        snprintf(v, sizeof v, "%.*s", (int)(end ? end - s : (long)strlen(s)), s);
        if (num(v, "--targets", 0, 0.9999, &t[nt])) return 2;
        nt++;
        s = end ? end + 1 : s + strlen(s);
    }
    const char *out_dir = a->out ? a->out : "sweep";
    a->out = NULL;  // --out names the folder here, not a circuit file
    RunArgs r;
    int rc = build_run_args(a, &r);
    if (rc) return rc;
    PruneErr err = {{0}};
    r.cfg.run.stop = &g_stop;
    signal(SIGINT, on_signal);
    return stopped(cmd_sweep(&r, t, nt, out_dir, stdout, &err) ? fail(&err) : 0);
}

static int do_compare(Args *a) {
    const char *out_dir = a->out ? a->out : "compare";
    a->out = NULL;  // --out names the folder here, not a circuit file
    RunArgs r;
    int rc = build_run_args(a, &r);
    if (rc) return rc;
    PruneErr err = {{0}};
    r.cfg.run.progress = a->quiet ? NULL : isatty(fileno(stdout)) ? stdout : stderr;
    r.cfg.run.stop = &g_stop;
    catch_stop();
    if (cmd_compare(&r, out_dir, stdout, &err) == 0) return stopped(0);
    if (!g_stop) return fail(&err);
    // stopped by a signal: say what was (not) written, and exit as a stopped run does
    fprintf(stderr, "prune: %s\n", err.msg);
    return 128 + (int)g_stop;
}

static int do_info(Args *a) {
    PruneErr err = {{0}};
    return cmd_info(a->pos[0], a->json, stdout, &err) ? fail(&err) : 0;
}

static int do_next(Args *a) {
    const char *text = a->npos == 2 ? a->pos[1] : NULL;
    if (!text && !a->ids) return usage_error("'prune next' needs a prompt TEXT or --ids", NULL);
    if (text && a->ids) return usage_error("give either TEXT or --ids, not both", NULL);
    PruneErr err = {{0}};
    int *ids = NULL, n = 0;
    if (a->ids) {
        ids = malloc(sizeof(int) * MAX_IDS);
        if (!ids) return usage_error("out of memory", NULL);
        if (parse_id_list(a->ids, "--ids", ids, MAX_IDS, &n, &err)) {
            free(ids);
            return usage_error(err.msg, NULL);
        }
    }
    int rc = cmd_next(a->pos[0], ids, n, text, a->vocab, (int)a->top, a->json, stdout, &err);
    free(ids);
    return rc ? fail(&err) : 0;
}

static int do_tokenize(Args *a) {
    PruneErr err = {{0}};
    return cmd_tokenize(a->vocab, a->model, a->pos[0], a->decode, a->json, stdout, &err) ? fail(&err) : 0;
}

static int do_bpe(Args *a) {
    if (!a->corpus || !a->out || !a->vocab_size)
        return usage_error("'prune bpe' needs --corpus FILE, --vocab-size N and --out DIR", NULL);
    PruneErr err = {{0}};
    return cmd_bpe(a->corpus, (int)a->vocab_size, (int)a->max_digits, a->out, stdout, &err) ? fail(&err) : 0;
}

static int do_train(Args *a) {
    if (!a->corpus || !a->out) return usage_error("'prune train' needs --corpus FILE and --out DIR", NULL);
    TrainConfig t;
    train_config_defaults(&t);
    t.corpus = a->corpus, t.out_dir = a->out, t.attn_only = a->attn_only, t.seed = a->seed < 0 ? 0 : (uint64_t)a->seed;
    if (a->arch && strcmp(a->arch, "gpt2") && strcmp(a->arch, "llama"))
        return usage_error("--arch takes gpt2 or llama", a->arch);
    t.llama = a->arch && !strcmp(a->arch, "llama");
    t.kv_heads = (int)a->kv_heads;
    double x;
    struct { const char *s, *name; double lo, hi; int *dst; } ints[] = {
        {a->layers_s, "--layers", 1, 64, &t.layers}, {a->heads_s, "--heads", 1, 64, &t.heads},
        {a->dim_s, "--dim", 1, 4096, &t.dim},        {a->ctx_s, "--ctx", 2, 4096, &t.ctx},
        {a->steps_s, "--steps", 1, 1e7, &t.steps},   {a->batch_s, "--batch", 1, 4096, &t.batch}};
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++)
        if (ints[k].s) {
            if (num(ints[k].s, ints[k].name, ints[k].lo, ints[k].hi, &x)) return 2;
            *ints[k].dst = (int)x;
        }
    if (a->vocab_size) t.vocab_size = (int)a->vocab_size;
    t.max_digits = (int)a->max_digits;
    if (a->lr_s) {
        if (num(a->lr_s, "--lr", 1e-7, 10, &x)) return 2;
        t.lr = (float)x;
    }
    t.stop = &g_stop;
    t.progress = stdout;
    catch_stop();
    PruneErr err = {{0}};
    return stopped(cmd_train(&t, stdout, &err) ? fail(&err) : 0);
}

// The idx-th word of a command's argument list ("MODEL [TEXT]", 1: "[TEXT]").
static void arg_name(const char *args, int idx, char *out, size_t cap) {
    const char *s = args;
    for (int k = 0; k < idx && strchr(s, ' '); k++) s = strchr(s, ' ') + 1;
    snprintf(out, cap, "%.*s", (int)strcspn(s, " "), s);
}

int main(int argc, char **argv) {
    prune_fix_blas_coretype(argv);
    if (argc < 2) {
        fputs(USAGE, stdout);
        return 0;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        fputs(USAGE, stdout);
        return 0;
    }
    const Command *cmd = &COMMANDS[0];  // the search, unless argv[1] names a command
    for (int k = 1; k < NUM_COMMANDS; k++)
        if (!strcmp(name, COMMANDS[k].name)) cmd = &COMMANDS[k];
    if (!cmd->name && name[0] == '-') return usage_error("unknown option", name);
    Args a = {.top = 10, .threads = 2, .n = 400, .seed = -1};
    int rc = parse_args(argc, argv, cmd->name ? 2 : 1, cmd, &a);
    if (rc) return rc;
    char what[64];
    if (!cmd->name && a.npos < 2 && access(name, F_OK) != 0) return usage_error("unknown command", name);
    if (a.npos < cmd->min_pos) {
        arg_name(cmd->args, a.npos, what, sizeof what);
        char msg[160];
        snprintf(msg, sizeof msg, "missing %s: 'prune %s%s%s'", what, cmd->name ? cmd->name : "",
                 cmd->name ? " " : "", cmd->args);
        return usage_error(msg, NULL);
    }
    if (a.npos > cmd->max_pos) {
        char msg[160];
        snprintf(msg, sizeof msg, "too many arguments for 'prune %s%s%s'%s", cmd->name ? cmd->name : "",
                 cmd->name && cmd->args[0] ? " " : "", cmd->args, cmd->max_pos ? " (quote text that has spaces)" : "");
        return usage_error(msg, a.pos[cmd->max_pos]);
    }
    prune_set_threads((int)a.threads);
    if (a.bos && strcmp(a.bos, "yes") && strcmp(a.bos, "no")) return usage_error("--bos takes yes or no", a.bos);
    tok_set_options(a.bos ? (!strcmp(a.bos, "yes") ? TOK_BOS_YES : TOK_BOS_NO) : TOK_BOS_DEFAULT, a.special_tokens);
    return cmd->run(&a);
}
