// heads.c: `prune heads MODEL TASK`, attention diagnostics that make a circuit believable.
// For every head it averages, over the task's clean prompts, where the head looks:
//   prev       attention from position t to t-1 (t >= 1): previous-token heads score ~1;
//   induction  attention from t to s+1 for every earlier s with the same token as t (the
//              token after an earlier copy of the current one): induction heads score high;
//   duplicate  attention from t to those earlier copies s themselves (duplicate-token heads);
//   repeat     the same induction score on sequences of random tokens repeated twice
//              (Olsson et al. 2022), which no bigram statistics can explain; the tokens are
//              drawn from those the task's prompts use, so they are in distribution;
//   correct /  attention from the answer position to the positions holding a correct /
//   wrong      wrong answer token (for IOI: the indirect object / the subject's two mentions).
// It reads attention probabilities only; it does not prune or ablate anything.
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "rng.h"
#include "task.h"
#include "tokenizer.h"

typedef struct {
    double sum[6];  // prev, induction, repeat, correct, wrong, duplicate
    long cnt[6];
} HeadScore;

enum { S_PREV, S_IND, S_REP, S_CORRECT, S_WRONG, S_DUP, S_N };
static const char *const SCORE_NAMES[S_N] = {"prev", "induction", "repeat", "correct", "wrong", "duplicate"};

static int has(const int *v, int n, int x) {
    for (int i = 0; i < n; i++)
        if (v[i] == x) return 1;
    return 0;
}

// Adds one batch's scores. toks (B,T), lens (B); ex (B) the task examples or NULL for the
// repeated random sequences (then only S_REP is scored, over the second half).
static void score_batch(HeadScore *hs, const GPT2Workspace *ws, const GPT2Config *c, const int *toks,
                        const int *lens, const TaskExample *const *ex, int B, int T) {
    for (int l = 0; l < c->L; l++)
        for (int h = 0; h < c->NH; h++) {
            HeadScore *s = &hs[l * c->NH + h];
            for (int b = 0; b < B; b++) {
                const float *att = ws->acts[l].att + ((size_t)b * c->NH + h) * T * T;
                const int *x = toks + (size_t)b * T;
                int n = lens[b];
                if (!ex) {  // x[t] == x[t - n/2]: the token after it is at t - n/2 + 1
                    for (int t = n / 2; t < n; t++) {
                        s->sum[S_REP] += att[(size_t)t * T + t - n / 2 + 1];
                        s->cnt[S_REP]++;
                    }
                    continue;
                }
                for (int t = 1; t < n; t++) {
                    s->sum[S_PREV] += att[(size_t)t * T + t - 1];
                    s->cnt[S_PREV]++;
                    double a = 0, d = 0;
                    int any = 0, anyd = 0;
                    for (int q = 0; q < t; q++)
                        if (x[q] == x[t]) {
                            d += att[(size_t)t * T + q], anyd = 1;
                            if (q + 1 < t) a += att[(size_t)t * T + q + 1], any = 1;
                        }
                    if (any) s->sum[S_IND] += a, s->cnt[S_IND]++;
                    if (anyd) s->sum[S_DUP] += d, s->cnt[S_DUP]++;
                }
                const float *last = att + (size_t)(n - 1) * T;
                double ac = 0, aw = 0;
                int anyc = 0, anyw = 0;
                for (int q = 0; q < n; q++) {
                    if (has(ex[b]->correct, ex[b]->n_correct, x[q])) ac += last[q], anyc = 1;
                    if (has(ex[b]->wrong, ex[b]->n_wrong, x[q])) aw += last[q], anyw = 1;
                }
                if (anyc) s->sum[S_CORRECT] += ac, s->cnt[S_CORRECT]++;
                if (anyw) s->sum[S_WRONG] += aw, s->cnt[S_WRONG]++;
            }
        }
}

static double mean_of(const HeadScore *s, int k) { return s->cnt[k] ? s->sum[k] / (double)s->cnt[k] : -1; }

int cmd_heads(const char *model, const char *task_path, const char *vocab, int max_examples,
              uint64_t seed, int json, FILE *out, PruneErr *err) {
    GPT2 m;
    Tokenizer tok;
    Task task;
    GPT2Workspace ws;
    HeadScore *hs = NULL;
    int *toks = NULL, *lens = NULL, *pos = NULL, *pool = NULL, rc = -1;
    const TaskExample **exb = NULL;
    int have_tok = 0, have_task = 0, have_ws = 0;
    if (gpt2_load(&m, model, 0, err)) return -1;
    const GPT2Config *c = &m.config;
    if (tok_load_for_model(&tok, model, vocab, c->V, err)) {
        if (vocab) goto done;
        tok_init_ids_only(&tok, c->V, err->msg);  // no usable tokenizer: id tasks only, as a search
    }
    have_tok = 1;
    TaskOptions opt = {.max_len = c->maxT, .skip_invalid = 0, .allow_no_corrupt = 1, .warn = stderr};
    if (task_load(&task, task_path, &tok, &opt, err)) goto done;
    have_task = 1;
    int n = task.n < max_examples ? task.n : max_examples;
    // repeated random sequences: a quarter of the context (at most 32 tokens) twice, so the
    // repeat stays within the lengths a small model saw in training
    int R = c->maxT / 4 < 32 ? c->maxT / 4 : 32;
    int T = task.max_len > 2 * R ? task.max_len : 2 * R, B = 16;
    if (R < 2) {
        perr(err, "%s: context %d is too short for the repeated-sequence test.", model, c->maxT);
        goto done;
    }
    if (gpt2_workspace_build(&ws, c, B, T, B, 0, err)) goto done;
    have_ws = 1;
    hs = calloc((size_t)c->L * c->NH, sizeof *hs);
    toks = calloc((size_t)B * T, sizeof(int));
    lens = calloc((size_t)B, sizeof(int));
    pos = calloc((size_t)B, sizeof(int));
    exb = calloc((size_t)B, sizeof *exb);
    pool = calloc((size_t)c->V, sizeof(int));
    if (!hs || !toks || !lens || !pos || !exb || !pool) {
        perr(err, "out of memory.");
        goto done;
    }
    for (int i0 = 0; i0 < n; i0 += B) {
        int nb = n - i0 < B ? n - i0 : B;
        for (int b = 0; b < nb; b++) {
            const TaskExample *e = &task.ex[i0 + b];
            exb[b] = e;
            lens[b] = e->len;
            memcpy(toks + (size_t)b * T, e->clean, sizeof(int) * (size_t)e->len);
            pos[b] = b * T + e->len - 1;
        }
        if (gpt2_forward(&m, &ws, toks, lens, nb, T, pos, nb, err)) goto done;
        score_batch(hs, &ws, c, toks, lens, exb, nb, T);
    }
    // the distinct tokens the prompts use, for the random repeats
    int npool = 0;
    for (int i = 0; i < task.n; i++)
        for (int t = 0; t < task.ex[i].len; t++) {
            int id = task.ex[i].clean[t];
            if (!has(pool, npool, id)) pool[npool++] = id;
        }
    Rng r;
    rng_seed(&r, seed);
    for (int rep = 0; rep < 4; rep++) {  // 64 sequences
        for (int b = 0; b < B; b++) {
            int *x = toks + (size_t)b * T;
            for (int t = 0; t < R; t++) x[t] = x[t + R] = pool[rng_u64(&r) % (uint64_t)npool];
            lens[b] = 2 * R;
            pos[b] = b * T + 2 * R - 1;
        }
        if (gpt2_forward(&m, &ws, toks, lens, B, T, pos, B, err)) goto done;
        score_batch(hs, &ws, c, toks, lens, NULL, B, T);
    }
    int H = c->L * c->NH;
    if (json) {
        json_t *jm = json_string_lossy(model, "the model path"), *jt = json_string_lossy(task_path, "the task path");
        char *qm = jm ? json_dumps(jm, JSON_ENCODE_ANY) : NULL, *qt = jt ? json_dumps(jt, JSON_ENCODE_ANY) : NULL;
        fprintf(out, "{\"model\": %s, \"task\": %s, \"examples\": %d, \"repeat_length\": %d, "
                     "\"heads\": [", qm ? qm : "null", qt ? qt : "null", n, R);
        free(qm), free(qt);
        json_decref(jm), json_decref(jt);
        for (int i = 0; i < H; i++) {
            fprintf(out, "%s\n  {\"layer\": %d, \"head\": %d", i ? "," : "", i / c->NH, i % c->NH);
            for (int k = 0; k < S_N; k++) {
                double v = mean_of(&hs[i], k);
                if (v < 0) fprintf(out, ", \"%s\": null", SCORE_NAMES[k]);
                else fprintf(out, ", \"%s\": %.4f", SCORE_NAMES[k], v);
            }
            fprintf(out, "}");
        }
        fprintf(out, "\n]}\n");
        rc = 0;
        goto done;
    }
    fprintf(out, "attention of each head, averaged over %d clean prompts of %s\n", n, task_path);
    fprintf(out, "  prev:      to the previous token\n"
                 "  induction: to the token after an earlier copy of the current token (task prompts)\n"
                 "  repeat:    the same on %d random in-task tokens repeated twice (64 sequences)\n"
                 "  correct:   from the answer position to correct-answer tokens in the prompt\n"
                 "  wrong:     from the answer position to wrong-answer tokens in the prompt\n"
                 "  duplicate: to earlier copies of the current token (task prompts)\n"
                 "  (- : the prompts have no such positions)\n\n", R);
    fprintf(out, "head    prev  induction  repeat  correct  wrong  duplicate\n");
    int best[S_N];
    for (int k = 0; k < S_N; k++) best[k] = -1;
    for (int i = 0; i < H; i++) {
        fprintf(out, "L%dH%-3d", i / c->NH, i % c->NH);
        static const int width[S_N] = {6, 11, 8, 9, 7, 11};
        for (int k = 0; k < S_N; k++) {
            double v = mean_of(&hs[i], k);
            if (v < 0) fprintf(out, "%*s", width[k], "-");
            else fprintf(out, "%*.3f", width[k], v);
            if (v >= 0 && (best[k] < 0 || v > mean_of(&hs[best[k]], k))) best[k] = i;
        }
        fprintf(out, "\n");
    }
    fprintf(out, "\n");
    for (int k = 0; k < S_N; k++)
        if (best[k] >= 0)
            fprintf(out, "top %-9s head: L%dH%d (%.3f)\n", SCORE_NAMES[k], best[k] / c->NH,
                    best[k] % c->NH, mean_of(&hs[best[k]], k));
    rc = 0;
done:
    free(hs), free(toks), free(lens), free(pos), free(exb), free(pool);
    if (have_ws) gpt2_workspace_free(&ws);
    if (have_task) task_free(&task);
    if (have_tok) tok_free(&tok);
    gpt2_free(&m);
    return rc;
}
