// commands.c: the subcommands behind the CLI. Each loads what it needs, does its work,
// prints, and frees; none exits the process.
#include "commands.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpt2.h"
#include "kernels.h"

int parse_id_list(const char *s, int *ids, int cap, int *n, PruneErr *err) {
    *n = 0;
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t') p++;
        if (!*p) break;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ' ' && *end != ',' && *end != '\t') || v < 0 ||
            v > 1000000000)
            return perr(err, "--ids: '%.*s' is not a token id. Hint: give non-negative integers "
                             "separated by spaces, e.g. --ids \"464 2068 318\".",
                        (int)strcspn(p, " ,\t"), p);
        if (*n >= cap)
            return perr(err, "--ids: more than %d ids. Hint: shorten the prompt.", cap);
        ids[(*n)++] = (int)v;
        p = end;
    }
    if (*n == 0) return perr(err, "--ids: no token ids given. Hint: --ids \"464 2068 318\".");
    return 0;
}

int cmd_info(const char *model_path, int json, FILE *out, PruneErr *err) {
    GPT2 m;
    if (gpt2_load(&m, model_path, 0, err)) return -1;
    const GPT2Config *c = &m.config;
    if (json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:I}", "model",
                              model_path, "format", gpt2_format_name(m.format), "dtype", m.dtype,
                              "maxT", c->maxT, "V", c->V, "Vp", c->Vp, "L", c->L, "NH", c->NH,
                              "C", c->C, "hs", c->C / c->NH, "parameters",
                              (json_int_t)m.num_parameters);
        char *s = json_dumps(o, JSON_INDENT(2));
        fprintf(out, "%s\n", s);
        free(s);
        json_decref(o);
    } else {
        fprintf(out, "model       %s\n", model_path);
        fprintf(out, "format      %s\n", gpt2_format_name(m.format));
        fprintf(out, "dtype       %s on disk, fp32 in memory\n", m.dtype);
        fprintf(out, "layers      L  = %d\n", c->L);
        fprintf(out, "heads       NH = %d (head size hs = %d)\n", c->NH, c->C / c->NH);
        fprintf(out, "channels    C  = %d (MLP width %d)\n", c->C, 4 * c->C);
        fprintf(out, "vocabulary  V  = %d (padded Vp = %d)\n", c->V, c->Vp);
        fprintf(out, "context     maxT = %d\n", c->maxT);
        fprintf(out, "parameters  %zu (%.1f MB as fp32)\n", m.num_parameters,
                m.num_parameters * 4.0 / 1e6);
        size_t gates = 1 + (size_t)c->L * (3 + c->NH + (size_t)c->C + 4 * (size_t)c->C + c->C);
        fprintf(out, "mask gates  %zu over 8 granularities\n", gates);
    }
    gpt2_free(&m);
    return 0;
}

typedef struct {
    int id;
    float logp;
} Scored;

static int by_logp_desc(const void *a, const void *b) {
    const Scored *x = a, *y = b;
    if (x->logp != y->logp) return x->logp < y->logp ? 1 : -1;
    return x->id - y->id;  // ties by id: deterministic order
}

int cmd_next(const char *model_path, const int *ids, int n, int topk, int json, FILE *out,
             PruneErr *err) {
    GPT2 m;
    if (gpt2_load(&m, model_path, 0, err)) return -1;
    const GPT2Config *c = &m.config;
    int rc = -1;
    GPT2Workspace ws = {0};
    float *logp = NULL;
    Scored *sc = NULL;
    if (n > c->maxT) {
        perr(err, "--ids: %d tokens, the model's context is %d. Hint: shorten the prompt.", n,
             c->maxT);
        goto done;
    }
    if (topk > c->V) topk = c->V;
    // One example, one logit row; recompute = 1 keeps only the residual stream.
    if (gpt2_workspace_build(&ws, c, 1, n, 1, 1, err)) goto done;
    int pos = n - 1;
    if (gpt2_forward(&m, &ws, ids, &n, 1, n, &pos, 1, err)) goto done;
    logp = palloc(sizeof(float) * (size_t)c->V, "log-probabilities", err);
    sc = palloc(sizeof(Scored) * (size_t)c->V, "scores", err);
    if (!logp || !sc) goto done;
    log_softmax_forward(logp, ws.logits, 1, c->V, c->Vp);
    for (int i = 0; i < c->V; i++) sc[i] = (Scored){i, logp[i]};
    qsort(sc, (size_t)c->V, sizeof(Scored), by_logp_desc);
    if (json) {
        json_t *o = json_object(), *in = json_array(), *top = json_array();
        for (int i = 0; i < n; i++) json_array_append_new(in, json_integer(ids[i]));
        for (int i = 0; i < topk; i++)
            json_array_append_new(top, json_pack("{s:i, s:f, s:f}", "id", sc[i].id, "logprob",
                                                 (double)sc[i].logp, "prob", exp(sc[i].logp)));
        json_object_set_new(o, "model", json_string(model_path));
        json_object_set_new(o, "ids", in);
        json_object_set_new(o, "top", top);
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(7));
        fprintf(out, "%s\n", s);
        free(s);
        json_decref(o);
    } else {
        fprintf(out, "next token after %d ids (top %d):\n", n, topk);
        fprintf(out, "%5s  %8s  %10s  %8s\n", "rank", "id", "logprob", "prob");
        for (int i = 0; i < topk; i++)
            fprintf(out, "%5d  %8d  %10.4f  %8.4f\n", i + 1, sc[i].id, sc[i].logp,
                    exp(sc[i].logp));
    }
    rc = 0;
done:
    free(logp);
    free(sc);
    gpt2_workspace_free(&ws);
    gpt2_free(&m);
    return rc;
}
