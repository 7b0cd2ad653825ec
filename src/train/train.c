// train.c: training a small GPT-2 from scratch (teaching models). The corpus is text, one
// sequence a line; the vocabulary is learned from it (bpe_train); every training sequence
// starts at a line boundary and packs whole lines up to the context, so prompts that start
// at position 0 (task prompts) are in distribution. AdamW with linear warm-up and cosine
// decay to 10%, global-norm gradient clipping; weight decay on matrices only. At the end,
// cmd_train: the `prune train` command, which prints around train_model.
#include "train.h"

#include "commands.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gpt2.h"
#include "kernels.h"
#include "rng.h"
#include "tokenizer.h"

void train_config_defaults(TrainConfig *c) {
    memset(c, 0, sizeof *c);
    c->layers = 2, c->heads = 4, c->dim = 64, c->ctx = 64;
    c->steps = 2000, c->batch = 32, c->vocab_size = 512;
    c->lr = 3e-3f, c->weight_decay = 0.1f, c->grad_clip = 1.0f, c->warmup = 0.05f;
    c->eval_frac = 0.1f, c->eval_every = 250;
}

typedef struct {
    int *ids;          // the corpus as tokens, lines back to back
    size_t *line_off;  // start of each line in ids
    int nlines;
} Corpus;

// Tokenises each line (with its newline) and records where lines start.
static int tokenize_corpus(Tokenizer *tok, const char *text, size_t len, Corpus *c, PruneErr *err) {
    IdVec all = {0};
    size_t cap = 1024, bom = utf8_bom_len(text, len);  // a byte-order mark is not corpus text
    text += bom, len -= bom;
    c->line_off = palloc(sizeof(size_t) * cap, "line offsets", err);
    if (!c->line_off) return -1;
    c->nlines = 0;
    size_t pos = 0;
    while (pos < len) {
        size_t e = pos;
        while (e < len && text[e] != '\n') e++;
        size_t n = e < len ? e - pos + 1 : e - pos;  // keep the newline: the model learns line ends
        if (e > pos) {
            if ((size_t)c->nlines + 1 >= cap) {
                size_t *q = realloc(c->line_off, sizeof(size_t) * (cap *= 2));
                if (!q) return perr(err, "out of memory tokenising the corpus.");
                c->line_off = q;
            }
            c->line_off[c->nlines++] = all.n;
            if (tok_encode(tok, text + pos, n, &all, err)) return -1;
        }
        pos = e + 1;
    }
    c->line_off[c->nlines] = all.n;
    c->ids = all.v;
    return 0;
}

// One sequence starting at line `line`, at most T+1 tokens and not past line `end_line`
// (exclusive): inputs tok and next-token targets tgt. Returns the positions filled.
static int fill_sequence(const Corpus *c, int line, int end_line, int T, int *tok, int *tgt) {
    size_t start = c->line_off[line], end = c->line_off[end_line];
    size_t n = end - start < (size_t)T + 1 ? end - start : (size_t)T + 1;
    for (size_t i = 0; i + 1 < n; i++) tok[i] = c->ids[start + i], tgt[i] = c->ids[start + i + 1];
    return n > 1 ? (int)n - 1 : 0;
}

// An MLP matrix or bias (not its norm): what an attention-only model holds at exactly 0.
static int mlp_weight(const ParamSpec *s) {
    return s->part == PART_MLP && (s->kind == PK_MATRIX || s->kind == PK_BIAS);
}

static void init_weights(GPT2 *m, uint64_t seed, int attn_only) {
    const GPT2Config *c = &m->config;
    Rng r;
    rng_seed(&r, seed);
    float *p = m->params_memory;
    float resid_std = 0.02f / sqrtf(2.0f * c->L);  // GPT-2: residual projections scaled down
    ParamSpec spec[NUM_PARAM_TENSORS];
    gpt2_param_table(spec, c);
    for (int t = 0; t < NUM_PARAM_TENSORS; t++) {
        int ln_w = spec[t].kind == PK_NORM_WEIGHT, bias = spec[t].kind == PK_BIAS || spec[t].kind == PK_NORM_BIAS;
        for (size_t i = 0; i < m->param_sizes[t]; i++)
            p[i] = ln_w ? 1.0f : bias ? 0.0f : (spec[t].resid_proj ? resid_std : 0.02f) * rng_normal(&r);
        p += m->param_sizes[t];
    }
    memset(m->params.wte + (size_t)c->V * c->C, 0, sizeof(float) * (size_t)(c->Vp - c->V) * c->C);
    if (attn_only)  // the MLP computes exactly 0 and is never updated
        for (int t = 0; t < NUM_PARAM_TENSORS; t++)
            if (mlp_weight(&spec[t])) memset(*param_field(&m->params, (ParamId)t), 0, sizeof(float) * m->param_sizes[t]);
}

// Mean cross-entropy over the real positions of a batch; with grads, also the backward.
static double batch_loss(GPT2 *m, GPT2Workspace *ws, const int *tok, const int *tgt, const int *lens,
                         int B, int T, int *pos, float *logp, float *dlogp, float *dlogits,
                         ParameterTensors *grads) {
    const GPT2Config *c = &m->config;
    int P = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < lens[b]; t++) pos[P++] = b * T + t;
    PruneErr e;
    CHECK(gpt2_forward(m, ws, tok, lens, B, T, pos, P, &e) == 0);
    log_softmax_forward(logp, ws->logits, P, c->V, c->Vp);
    double loss = 0;
    int k = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < lens[b]; t++, k++) loss -= logp[(size_t)k * c->V + tgt[b * T + t]];
    if (grads) {
        memset(dlogp, 0, sizeof(float) * (size_t)P * c->V);
        memset(dlogits, 0, sizeof(float) * (size_t)P * c->Vp);
        k = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < lens[b]; t++, k++) dlogp[(size_t)k * c->V + tgt[b * T + t]] = -1.0f / P;
        log_softmax_backward(dlogits, dlogp, logp, P, c->V, c->Vp);
        gpt2_backward(m, ws, dlogits, grads);
    }
    return loss / P;
}

// The model's config for vocabulary V: GPT-2 (the default) or, with cfg->llama, a Llama
// with RMSNorm (eps 1e-5), interleaved RoPE (theta 10000), SwiGLU of width 8/3 dim rounded
// up to a multiple of 8 (llama2.c's 2/3 of 4 dim), GQA over cfg->kv_heads K/V heads, a
// tied head and no padding of the vocabulary: what a llama2.c version-1 file holds.
static GPT2Config train_model_config(const TrainConfig *cfg, int V) {
    GPT2Config mc = {.maxT = cfg->ctx, .V = V, .Vp = (V + 63) / 64 * 64, .L = cfg->layers,
                     .NH = cfg->heads, .C = cfg->dim};
    if (cfg->llama) {
        mc.Vp = V, mc.hs = cfg->dim / cfg->heads, mc.NKV = cfg->kv_heads ? cfg->kv_heads : cfg->heads;
        mc.H = (8 * cfg->dim / 3 + 7) / 8 * 8;
        mc.norm = NORM_RMSNORM, mc.pos = POS_ROPE_INTERLEAVED, mc.mlp = MLP_SWIGLU, mc.bias = BIAS_NONE;
        mc.unembed = UNEMBED_TIED, mc.norm_eps = 1e-5f, mc.rope_theta = 10000.0f;
    }
    gpt2_config_defaults(&mc);
    return mc;
}

static int write_model(const GPT2 *m, const char *path, PruneErr *err) {
    return cfg_is_llama(&m->config) ? gpt2_write_llama2c(m, path, err) : gpt2_write_llmc(m, path, err);
}

// Puts the model file and the sizes that set every allocation in front of err's message,
// so an out-of-memory error says which run and which settings asked for the bytes.
static int train_context(PruneErr *err, const TrainConfig *cfg) {
    if (!err) return -1;
    char m[sizeof err->msg];
    snprintf(m, sizeof m, "%s", err->msg);
    return perr(err, "%s/model.bin (--layers %d --dim %d --heads %d --ctx %d --batch %d): %.1500s",
                cfg->out_dir, cfg->layers, cfg->dim, cfg->heads, cfg->ctx, cfg->batch, m);
}

// The memory a run needs, from the settings alone (the vocabulary at its largest,
// --vocab-size), checked before anything is read or allocated: the weights, their
// gradients and AdamW's two moments, the workspace, the log-probabilities and their
// gradients, and the corpus with its tokens.
static int train_memory_check(const TrainConfig *cfg, PruneErr *err) {
    GPT2Config mc = train_model_config(cfg, cfg->vocab_size);
    struct stat st;
    size_t corpus = stat(cfg->corpus, &st) == 0 && st.st_size > 0 ? (size_t)st.st_size : 0;
    size_t P = (size_t)cfg->batch * cfg->ctx;
    double w = 4.0 * gpt2_num_parameters(&mc), ws = (double)gpt2_workspace_bytes(&mc, cfg->batch, cfg->ctx, (int)P, 0);
    double lp = 4.0 * P * (2.0 * mc.V + mc.Vp), text = 5.0 * corpus + 20.0 * P;
    double total = 4 * w + ws + lp + text;
    size_t avail = prune_memory_available();
    if (avail && total > (double)avail)
        return perr(err, "%s/model.bin (--layers %d --dim %d --heads %d --ctx %d --batch %d --vocab-size %d): "
                         "training needs %.0f MB (weights, gradients and AdamW state %.0f, workspace %.0f, "
                         "log-probabilities %.0f, corpus %.0f) but the memory available is %.0f MB. Hint: "
                         "--batch and --ctx set the workspace and log-probabilities; --dim, --layers and "
                         "--vocab-size the weights.", cfg->out_dir, cfg->layers, cfg->dim, cfg->heads, cfg->ctx,
                    cfg->batch, cfg->vocab_size, total / 1048576, 4 * w / 1048576, ws / 1048576, lp / 1048576,
                    text / 1048576, avail / 1048576.0);
    return 0;
}

// The model folder's three files belong together: vocab.json and merges.txt are learned
// first but stay pending (written, not renamed) until the first model.bin is written too;
// then the three are renamed back to back. A run that dies before (a kill, an allocation
// error) leaves the folder as it was; later saves replace model.bin alone.
static int save_model(const GPT2 *m, const char *dir, AtomicFile pending[2], int *committed, PruneErr *err) {
    char path[4200], staged[4300];
    snprintf(path, sizeof path, "%s/model.bin", dir);
    if (*committed) return write_model(m, path, err);
    snprintf(staged, sizeof staged, "%s/.model.bin.pending.%ld", dir, (long)getpid());
    if (write_model(m, staged, err)) return -1;
    int bad = atomic_rename(&pending[0], err) || atomic_rename(&pending[1], err);
    if (!bad && rename(staged, path)) bad = perr(err, "%s: could not rename %s into place: %s.", path, staged, strerror(errno));
    if (bad) {
        atomic_abort(&pending[1]);
        remove(staged);
        return -1;
    }
    *committed = 1;
    return 0;
}

int train_model(const TrainConfig *cfg, TrainResult *res, PruneErr *err) {
    memset(res, 0, sizeof *res);
    if (cfg->dim % cfg->heads)
        return perr(err, "--dim %d is not a multiple of --heads %d.", cfg->dim, cfg->heads);
    if (cfg->llama && ((cfg->kv_heads && cfg->heads % cfg->kv_heads) || (cfg->dim / cfg->heads) % 2))
        return perr(err, "--arch llama: --heads %d must be a multiple of --kv-heads %d and the head size "
                         "%d even (RoPE turns pairs).", cfg->heads, cfg->kv_heads ? cfg->kv_heads : cfg->heads,
                    cfg->dim / cfg->heads);
    if (!cfg->llama && cfg->kv_heads && cfg->kv_heads != cfg->heads)
        return perr(err, "--kv-heads is for --arch llama (GPT-2 has one key/value head per query head).");
    if (check_output(cfg->out_dir, "--out", &cfg->corpus, 1, 1, err)) return -1;
    if (train_memory_check(cfg, err)) return -1;
    char *text = NULL;
    size_t len;
    if (read_file(cfg->corpus, &text, &len, err)) return -1;
    mkdir(cfg->out_dir, 0755);
    AtomicFile pending[2] = {{0}};
    int committed = 0;
    int merges, rc = -1;
    Tokenizer tok = {0};
    Corpus corp = {0};
    GPT2 m = {0};
    GPT2Workspace ws = {0};
    float *gmem = NULL, *mom = NULL, *vel = NULL, *logp = NULL, *dlogp = NULL, *dlogits = NULL;
    int *tk = NULL, *tg = NULL, *lens = NULL, *pos = NULL, *order = NULL;
    if (bpe_train_pending(text, len, cfg->vocab_size, cfg->max_digits, cfg->out_dir, &merges, pending, err)) goto done;
    if (tok_load_files(&tok, pending[0].tmp, pending[1].tmp, err)) goto done;
    if (tokenize_corpus(&tok, text, len, &corp, err)) goto done;
    if (corp.nlines < 20) {
        perr(err, "%s: %d lines; training needs at least 20 (10%% are held out).", cfg->corpus, corp.nlines);
        goto done;
    }
    int n_eval = (int)(corp.nlines * cfg->eval_frac), n_train = corp.nlines - n_eval;
    GPT2Config mc = train_model_config(cfg, tok.n_vocab);
    if (gpt2_build_random(&m, &mc, cfg->seed, 0.02f, err)) {
        train_context(err, cfg);
        goto done;
    }
    init_weights(&m, cfg->seed, cfg->attn_only);
    int B = cfg->batch, T = cfg->ctx, P = B * T;
    size_t np = m.num_parameters;
    if (gpt2_workspace_build(&ws, &m.config, B, T, P, 0, err)) {
        train_context(err, cfg);
        goto done;
    }
    gmem = pcalloc(sizeof(float) * np, "gradients", err);
    mom = pcalloc(sizeof(float) * np, "AdamW state", err);
    vel = pcalloc(sizeof(float) * np, "AdamW state", err);
    logp = palloc(sizeof(float) * (size_t)P * mc.V, "log-probabilities", err);
    dlogp = palloc(sizeof(float) * (size_t)P * mc.V, "gradients", err);
    dlogits = palloc(sizeof(float) * (size_t)P * mc.Vp, "gradients", err);
    tk = pcalloc(sizeof(int) * (size_t)P, "tokens", err);
    tg = pcalloc(sizeof(int) * (size_t)P, "targets", err);
    lens = pcalloc(sizeof(int) * (size_t)B, "lengths", err);
    pos = pcalloc(sizeof(int) * (size_t)P, "positions", err);
    order = palloc(sizeof(int) * (size_t)n_train, "order", err);
    if (!gmem || !mom || !vel || !logp || !dlogp || !dlogits || !tk || !tg || !lens || !pos || !order) {
        train_context(err, cfg);
        goto done;
    }
    ParameterTensors grads;
    gpt2_point_params(&grads, gmem, m.param_sizes);
    // weight decay applies to the matrices (wte, wpe, qkvw, attprojw, fcw, fcprojw)
    ParamSpec spec[NUM_PARAM_TENSORS];
    gpt2_param_table(spec, &m.config);
    size_t off[NUM_PARAM_TENSORS + 1] = {0};
    for (int t = 0; t < NUM_PARAM_TENSORS; t++) off[t + 1] = off[t] + m.param_sizes[t];
    Rng r;
    rng_seed(&r, cfg->seed ^ 0x747261696eull);  // "train"
    int opos = n_train;
    double t0 = now_seconds(), ema = 0;
    int step;
    for (step = 0; step < cfg->steps; step++) {
        if (cfg->stop && *cfg->stop) break;
        memset(tk, 0, sizeof(int) * (size_t)P);
        for (int b = 0; b < B; b++) {  // sequences start at line boundaries, epochs shuffled
            if (opos >= n_train) {
                for (int i = 0; i < n_train; i++) order[i] = i;
                for (int i = n_train - 1; i > 0; i--) {
                    int j = (int)(rng_u64(&r) % (uint64_t)(i + 1)), x = order[i];
                    order[i] = order[j], order[j] = x;
                }
                opos = 0;
            }
            lens[b] = fill_sequence(&corp, order[opos++], n_train, T, tk + b * T, tg + b * T);
            if (lens[b] < 1) lens[b] = 1, tk[b * T] = tg[b * T] = 0;
        }
        memset(gmem, 0, sizeof(float) * np);
        double loss = batch_loss(&m, &ws, tk, tg, lens, B, T, pos, logp, dlogp, dlogits, &grads);
        if (!isfinite(loss)) {
            perr(err, "step %d: the training loss is not finite. Hint: lower --lr.", step);
            goto done;
        }
        ema = step ? 0.95 * ema + 0.05 * loss : loss;
        double norm = 0;
        for (size_t i = 0; i < np; i++) norm += (double)gmem[i] * gmem[i];
        norm = sqrt(norm);
        float clip = norm > cfg->grad_clip ? (float)(cfg->grad_clip / norm) : 1.0f;
        float warm = cfg->warmup * cfg->steps;
        float lr = step < warm ? cfg->lr * (step + 1) / warm
                               : cfg->lr * (0.1f + 0.45f * (1 + cosf(3.14159265f * (step - warm) / (cfg->steps - warm + 1))));
        float b1 = 0.9f, b2 = 0.95f, c1 = 1 - powf(b1, step + 1.0f), c2 = 1 - powf(b2, step + 1.0f);
        for (int t = 0; t < NUM_PARAM_TENSORS; t++) {
            if (cfg->attn_only && mlp_weight(&spec[t])) continue;  // the MLP stays exactly 0
            float wd = param_decays(&spec[t]) ? cfg->weight_decay : 0;
            for (size_t i = off[t]; i < off[t + 1]; i++) {
                float g = gmem[i] * clip;
                mom[i] = b1 * mom[i] + (1 - b1) * g;
                vel[i] = b2 * vel[i] + (1 - b2) * g * g;
                float *w = m.params_memory + i;
                *w -= lr * ((mom[i] / c1) / (sqrtf(vel[i] / c2) + 1e-8f) + wd * *w);
            }
        }
        memset(m.params.wte + (size_t)mc.V * mc.C, 0, sizeof(float) * (size_t)(mc.Vp - mc.V) * mc.C);
        if ((step + 1) % cfg->eval_every == 0 || step + 1 == cfg->steps) {
            if (save_model(&m, cfg->out_dir, pending, &committed, err)) goto done;
            if (cfg->progress)
                fprintf(cfg->progress, "step %d/%d  train loss %.4f  lr %.2e  %.1f s\n", step + 1,
                        cfg->steps, ema, lr, now_seconds() - t0);
            if (cfg->progress) fflush(cfg->progress);  // visible in a log file as it happens
        }
    }
    // held-out loss: every held-out line on its own, from position 0 (as task prompts are)
    double ev = 0;
    int ne = 0;
    for (int s = n_train; s < corp.nlines; s += B) {
        int nb = corp.nlines - s < B ? corp.nlines - s : B;
        memset(tk, 0, sizeof(int) * (size_t)P);
        for (int b = 0; b < nb; b++) {
            lens[b] = fill_sequence(&corp, s + b, s + b + 1, T, tk + b * T, tg + b * T);
            if (lens[b] < 1) lens[b] = 1, tk[b * T] = tg[b * T] = 0;
        }
        ev += batch_loss(&m, &ws, tk, tg, lens, nb, T, pos, logp, dlogp, dlogits, NULL) * nb;
        ne += nb;
    }
    if (save_model(&m, cfg->out_dir, pending, &committed, err)) goto done;  // the final (or interrupted) weights
    res->train_loss = ema;
    res->eval_loss = ne ? ev / ne : NAN;
    res->seconds = now_seconds() - t0;
    res->steps_done = step;
    res->vocab = mc.V;
    res->params = np;
    rc = 0;
done:
    if (!committed) atomic_abort(&pending[0]), atomic_abort(&pending[1]);  // the folder stays as it was
    free(text), free(corp.ids), free(corp.line_off);
    free(gmem), free(mom), free(vel), free(logp), free(dlogp), free(dlogits);
    free(tk), free(tg), free(lens), free(pos), free(order);
    gpt2_workspace_free(&ws);
    gpt2_free(&m);
    tok_free(&tok);
    return rc;
}

// --- `prune train`: the command around train_model -----------------------------------

int cmd_train(const TrainConfig *cfg, FILE *out, PruneErr *err) {
    fprintf(out, "training %s%d layers, %d heads, width %d, context %d on %s; vocabulary of up to "
                 "%d tokens; %d steps, batch %d, lr %g, seed %llu\n", cfg->attn_only ? "attention-only, " : "",
            cfg->layers, cfg->heads, cfg->dim, cfg->ctx, cfg->corpus, cfg->vocab_size, cfg->steps,
            cfg->batch, cfg->lr, (unsigned long long)cfg->seed);
    TrainResult r;
    if (train_model(cfg, &r, err)) return -1;
    if (r.steps_done < cfg->steps)
        fprintf(out, "stopped after step %d of %d; the checkpoint holds the weights of that step\n",
                r.steps_done, cfg->steps);
    fprintf(out, "trained %d steps in %.1f s: %zu parameters, vocabulary %d; train loss %.4f, held-out "
                 "loss %.4f\nwrote %s/model.bin, %s/vocab.json, %s/merges.txt\n", r.steps_done, r.seconds,
            r.params, r.vocab, r.train_loss, r.eval_loss, cfg->out_dir, cfg->out_dir, cfg->out_dir);
    return 0;
}
