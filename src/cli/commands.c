// commands.c: the subcommands behind the CLI. Each loads what it needs, does its work,
// prints, and frees; none exits the process.
#include "commands.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpt2.h"
#include "kernels.h"
#include "tokenizer.h"
#include "gen.h"
#include "task.h"

int parse_id_list(const char *s, const char *opt, int *ids, int cap, int *n, PruneErr *err) {
    *n = 0;
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t') p++;
        if (!*p) break;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ' ' && *end != ',' && *end != '\t') || v < 0 ||
            v > 1000000000)
            return perr(err, "%s: '%.*s' is not a token id. Hint: give non-negative integers "
                             "separated by spaces, e.g. %s \"464 2068 318\".",
                        opt, (int)strcspn(p, " ,\t"), p, opt);
        if (*n >= cap)
            return perr(err, "%s: more than %d ids. Hint: shorten the prompt.", opt, cap);
        ids[(*n)++] = (int)v;
        p = end;
    }
    if (*n == 0) return perr(err, "%s: no token ids given. Hint: %s \"464 2068 318\".", opt, opt);
    return 0;
}

// The architecture's parts in words, for prune info (one place for text and JSON).
typedef struct {
    const char *norm, *pos, *mlp, *bias, *unembed;
    char rope[160];  // RoPE settings, "" without RoPE
} ArchWords;

static void arch_words(ArchWords *w, const GPT2Config *c) {
    w->norm = c->norm == NORM_RMSNORM ? "RMSNorm" : "LayerNorm";
    w->pos = c->pos == POS_LEARNED ? "learned positions"
             : c->pos == POS_ROPE_HALVES ? "RoPE, rotate-half pairs (i, i+hs/2)"
                                         : "RoPE, interleaved pairs (2i, 2i+1)";
    w->mlp = c->mlp == MLP_SWIGLU ? "SwiGLU down(silu(gate) * up)" : "GELU (tanh)";
    w->bias = c->bias == BIAS_ALL ? "all" : c->bias == BIAS_QKV ? "q/k/v only" : "none";
    w->unembed = c->unembed == UNEMBED_TIED ? "tied to the token embedding" : "separate lm_head";
    w->rope[0] = 0;
    if (c->pos != POS_LEARNED) {
        int n = snprintf(w->rope, sizeof w->rope, "theta %g", (double)c->rope_theta);
        if (c->rope_scaling == ROPE_SCALING_LLAMA3)
            snprintf(w->rope + n, sizeof w->rope - (size_t)n,
                     ", llama3 scaling (factor %g, low %g, high %g, original context %d)",
                     (double)c->rope_factor, (double)c->rope_low_freq_factor,
                     (double)c->rope_high_freq_factor, c->rope_orig_maxT);
    }
}

int cmd_info(const char *model_path, int json, FILE *out, PruneErr *err) {
    GPT2 m;
    if (gpt2_load(&m, model_path, 0, err)) return -1;
    const GPT2Config *c = &m.config;
    ArchWords aw;
    arch_words(&aw, c);
    // The tokenizer text tasks would use: the model's own, else GPT-2's if it fits V
    char tokdesc[2400];
    Tokenizer tok;
    PruneErr terr = {{0}};
    if (tok_load_for_model(&tok, model_path, NULL, c->V, &terr) == 0) {
        tok_describe(&tok, tokdesc, sizeof tokdesc);
        tok_free(&tok);
    } else {
        snprintf(tokdesc, sizeof tokdesc, "none usable (%.2000s); tasks can give token ids (ids: in docs/tasks.md)",
                 terr.msg);
    }
    if (json) {
        json_t *o = json_pack("{s:o, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:I}", "model",
                              json_string_lossy(model_path, "the model path"), "format", gpt2_format_name(m.format), "dtype", m.dtype,
                              "maxT", c->maxT, "V", c->V, "Vp", c->Vp, "L", c->L, "NH", c->NH,
                              "C", c->C, "hs", c->hs, "NKV", c->NKV, "H", c->H, "parameters",
                              (json_int_t)m.num_parameters, "gates", (json_int_t)gran_total(c));
        json_object_set_new(o, "family", json_string(cfg_family(c)));
        json_object_set_new(o, "architecture", json_string_lossy(m.arch, "the architecture"));
        json_object_set_new(o, "norm", json_string(aw.norm));
        json_object_set_new(o, "norm_eps", json_real(c->norm_eps));
        json_object_set_new(o, "positions", json_string(aw.pos));
        if (c->pos != POS_LEARNED) {
            json_object_set_new(o, "rope_theta", json_real(c->rope_theta));
            json_object_set_new(o, "rope_scaling", c->rope_scaling == ROPE_SCALING_LLAMA3 ? json_string("llama3") : json_null());
        }
        json_object_set_new(o, "mlp", json_string(aw.mlp));
        json_object_set_new(o, "biases", json_string(aw.bias));
        json_object_set_new(o, "unembedding", json_string(aw.unembed));
        json_object_set_new(o, "sliding_window", json_integer(c->sliding_window));
        json_t *gates = json_object();
        for (int g = 0; g < NUM_GRAN; g++) json_object_set_new(gates, GRANULARITIES[g].name, json_integer(gran_count(g, c)));
        json_object_set_new(o, "gates_per_granularity", gates);
        json_object_set_new(o, "tokenizer", json_string_lossy(tokdesc, "the tokenizer"));
        char *s = json_dumps(o, JSON_INDENT(2));
        fprintf(out, "%s\n", s);
        free(s);
        json_decref(o);
    } else {
        fprintf(out, "model       %s\n", model_path);
        fprintf(out, "family      %s (%s)\n", cfg_family(c), m.arch[0] ? m.arch : "-");
        fprintf(out, "tokenizer   %s\n", tokdesc);
        fprintf(out, "format      %s\n", gpt2_format_name(m.format));
        fprintf(out, "dtype       %s on disk, fp32 in memory\n", m.dtype);
        fprintf(out, "layers      L  = %d\n", c->L);
        if (c->NKV == c->NH)
            fprintf(out, "heads       NH = %d (head size hs = %d, key/value heads %d)\n", c->NH, c->hs, c->NKV);
        else
            fprintf(out, "heads       NH = %d query heads of size hs = %d over NKV = %d key/value heads "
                         "(GQA: %d query heads share each K/V head)\n", c->NH, c->hs, c->NKV, c->NH / c->NKV);
        fprintf(out, "channels    C  = %d (heads' width NH hs = %d, MLP width H = %d)\n", c->C, cfg_attn_width(c), c->H);
        fprintf(out, "blocks      %s (eps %g), %s, biases %s, unembedding %s\n", aw.norm, (double)c->norm_eps,
                aw.mlp, aw.bias, aw.unembed);
        fprintf(out, "positions   %s%s%s\n", aw.pos, aw.rope[0] ? "; " : "", aw.rope);
        if (c->sliding_window) fprintf(out, "window      sliding window %d (longer prompts are refused)\n", c->sliding_window);
        fprintf(out, "vocabulary  V  = %d (padded Vp = %d)\n", c->V, c->Vp);
        fprintf(out, "context     maxT = %d\n", c->maxT);
        fprintf(out, "parameters  %zu (%.1f MB as fp32)\n", m.num_parameters,
                m.num_parameters * 4.0 / 1e6);
        fprintf(out, "mask gates  %zu over %d granularities:", gran_total(c), NUM_GRAN);
        for (int g = 0; g < NUM_GRAN; g++)
            fprintf(out, " %s %d (%s)%s", GRANULARITIES[g].name, gran_count(g, c), GRANULARITIES[g].shape,
                    g + 1 < NUM_GRAN ? "," : "\n");
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

int cmd_next(const char *model_path, const int *ids_in, int n, const char *text, const char *vocab,
             int topk, int json, FILE *out, PruneErr *err) {
    GPT2 m;
    if (gpt2_load(&m, model_path, 0, err)) return -1;
    const GPT2Config *c = &m.config;
    int rc = -1, have_tok = 0;
    GPT2Workspace ws = {0};
    float *logp = NULL;
    Scored *sc = NULL;
    Tokenizer tok;
    IdVec iv = {0};
    const int *ids = ids_in;
    // The vocabulary is needed for text and is shown beside ids when it can be found.
    if (text || vocab) {
        if (tok_load_for_model(&tok, model_path, vocab, c->V, err)) goto done;
        have_tok = 1;
    } else {
        have_tok = tok_load_for_model(&tok, model_path, NULL, c->V, NULL) == 0;
    }
    if (text) {
        if (tok_encode_prompt(&tok, text, strlen(text), &iv, err)) goto done;
        if (iv.n == 0) {
            perr(err, "the prompt is empty after tokenisation. Hint: give some text.");
            goto done;
        }
        ids = iv.v;
        n = (int)iv.n;
    }
    if (n > c->maxT) {
        perr(err, "the prompt has %d tokens, the model's context is %d. Hint: shorten the prompt.",
             n, c->maxT);
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
    char repr[512];
    if (json) {
        json_t *o = json_object(), *in = json_array(), *top = json_array();
        for (int i = 0; i < n; i++) json_array_append_new(in, json_integer(ids[i]));
        for (int i = 0; i < topk; i++) {
            json_t *e = json_pack("{s:i, s:f, s:f}", "id", sc[i].id, "logprob", (double)sc[i].logp,
                                  "prob", exp(sc[i].logp));
            if (have_tok && sc[i].id < tok.n_vocab) {
                char *bytes;
                size_t bl;
                if (tok_decode(&tok, &sc[i].id, 1, &bytes, &bl, NULL) == 0) {
                    // token text as JSON (invalid UTF-8 bytes replaced by U+FFFD by jansson's
                    // rules would fail: use the printable form for those)
                    json_t *js = json_stringn(bytes, bl);
                    if (!js) {
                        tok_repr(&tok, sc[i].id, repr, sizeof repr);
                        js = json_string(repr);
                    }
                    json_object_set_new(e, "token", js);
                    free(bytes);
                }
            }
            json_array_append_new(top, e);
        }
        json_object_set_new(o, "model", json_string_lossy(model_path, "the model path"));
        json_object_set_new(o, "ids", in);
        if (have_tok) {
            char d[2400];
            tok_describe(&tok, d, sizeof d);
            json_object_set_new(o, "tokenizer", json_string_lossy(d, "the tokenizer"));
        }
        json_object_set_new(o, "top", top);
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(7));
        fprintf(out, "%s\n", s);
        free(s);
        json_decref(o);
    } else {
        if (have_tok) {
            char d[2400];
            tok_describe(&tok, d, sizeof d);
            fprintf(out, "tokenizer: %s\n", d);
        }
        fprintf(out, "next token after %d tokens (top %d):\n", n, topk);
        fprintf(out, "%5s  %8s  %10s  %8s  %s\n", "rank", "id", "logprob", "prob",
                have_tok ? "token" : "");
        for (int i = 0; i < topk; i++) {
            repr[0] = 0;
            if (have_tok) tok_repr(&tok, sc[i].id, repr, sizeof repr);
            fprintf(out, "%5d  %8d  %10.4f  %8.4f  %s\n", i + 1, sc[i].id, sc[i].logp,
                    exp(sc[i].logp), repr);
        }
    }
    rc = 0;
done:
    free(logp);
    free(sc);
    idvec_free(&iv);
    if (have_tok) tok_free(&tok);
    gpt2_workspace_free(&ws);
    gpt2_free(&m);
    return rc;
}

int cmd_tokenize(const char *vocab, const char *model, const char *text, int decode, int json,
                 FILE *out, PruneErr *err) {
    Tokenizer tok;
    int rc = -1;
    if (model) {
        GPT2 m;  // only the vocabulary size is needed; llm.c files are mapped, not read
        if (gpt2_load(&m, model, 0, err)) return -1;
        int V = m.config.V;
        gpt2_free(&m);
        if (tok_load_for_model(&tok, model, vocab, V, err)) return -1;
    } else if (vocab) {
        if (tok_load(&tok, vocab, err)) return -1;
    } else if (tok_load_gpt2(&tok, err)) {
        return -1;
    }
    IdVec iv = {0};
    if (decode) {
        int cap = (int)strlen(text) / 2 + 2, n;
        int *ids = palloc(sizeof(int) * (size_t)cap, "ids", err);
        char *bytes = NULL;
        size_t bl;
        if (ids && parse_id_list(text, "--decode", ids, cap, &n, err) == 0 &&
            tok_decode(&tok, ids, (size_t)n, &bytes, &bl, err) == 0) {
            if (json) {  // a JSON string (bytes that are not UTF-8 become U+FFFD, as json_string_lossy says)
                json_t *js = json_string_lossy(bytes, "the decoded text");
                char *s = json_dumps(js, JSON_ENCODE_ANY);
                fprintf(out, "%s\n", s ? s : "null");
                free(s);
                json_decref(js);
            } else {
                fwrite(bytes, 1, bl, out);
                fputc('\n', out);
            }
            rc = 0;
        }
        free(ids);
        free(bytes);
    } else if (tok_encode_prompt(&tok, text, strlen(text), &iv, err) == 0) {  // BOS as the rule says
        if (json) {
            json_t *a = json_array();
            for (size_t i = 0; i < iv.n; i++) json_array_append_new(a, json_integer(iv.v[i]));
            char *s = json_dumps(a, JSON_COMPACT);
            fprintf(out, "%s\n", s);
            free(s);
            json_decref(a);
        } else {
            for (size_t i = 0; i < iv.n; i++) fprintf(out, "%s%d", i ? " " : "", iv.v[i]);
            fputc('\n', out);
        }
        rc = 0;
    }
    idvec_free(&iv);
    tok_free(&tok);
    return rc;
}

int cmd_bpe(const char *corpus, int vocab_size, int max_digits, const char *out_dir, FILE *out,
            PruneErr *err) {
    char *text;
    size_t len;
    if (check_output(out_dir, "--out", &corpus, 1, 1, err)) return -1;
    if (read_file(corpus, &text, &len, err)) return -1;
    int merges = 0;
    double t0 = now_seconds();
    int rc = bpe_train(text, len, vocab_size, max_digits, out_dir, &merges, err);
    if (rc == 0)
        fprintf(out, "learned %d merges from %zu bytes in %.1f s: %s/vocab.json (%d tokens), "
                     "%s/merges.txt\n", merges, len, now_seconds() - t0, out_dir, 256 + merges + 1,
                out_dir);
    free(text);
    return rc;
}

// The tokenizer and context length for a model path (or GPT-2's when model is NULL).
static int tokenizer_for(const char *model, const char *vocab, Tokenizer *tok, int *maxT,
                         PruneErr *err) {
    if (!model) {
        *maxT = 1024;  // GPT-2's context
        return vocab ? tok_load(tok, vocab, err) : tok_load_gpt2(tok, err);
    }
    GPT2 m;
    if (gpt2_load(&m, model, 0, err)) return -1;
    int V = m.config.V;
    *maxT = m.config.maxT;
    gpt2_free(&m);
    if (tok_load_for_model(tok, model, vocab, V, err) == 0) return 0;
    if (vocab) return -1;
    tok_init_ids_only(tok, V, err->msg);  // a model without a usable tokenizer: id tasks only
    return 0;
}

int cmd_gen(const char *kind, int n, uint64_t seed, const char *vocab, const char *model,
            const char *out_path, int corpus, FILE *out, PruneErr *err) {
    const char *in[] = {vocab, model};
    if (out_path && check_output(out_path, "--out", in, 2, 0, err)) return -1;
    char *text = NULL;
    size_t len = 0;
    int rc;
    if (corpus) {
        rc = gen_corpus(kind, n, seed, &text, &len, err);
    } else {
        Tokenizer tok;
        int maxT;
        if (tokenizer_for(model, vocab, &tok, &maxT, err)) return -1;
        rc = gen_task(kind, n, seed, &tok, maxT, &text, &len, err);
        tok_free(&tok);
    }
    if (rc) return -1;
    if (out_path) {
        rc = write_file_atomic(out_path, text, len, err);
    } else {
        fwrite(text, 1, len, out);
    }
    free(text);
    return rc;
}

int cmd_check(const char *model, const char *task, const char *eval, const char *vocab,
              int skip_invalid, int allow_no_corrupt, double train_frac, uint64_t seed, FILE *out,
              PruneErr *err) {
    Tokenizer tok;
    int maxT;
    if (tokenizer_for(model, vocab, &tok, &maxT, err)) return -1;
    TaskOptions opt = {.max_len = maxT, .skip_invalid = skip_invalid,
                       .allow_no_corrupt = allow_no_corrupt, .warn = stderr};
    TaskSet ts;
    int rc = taskset_load(&ts, task, eval, &tok, &opt, train_frac, seed, err);
    if (rc == 0) {
        char d[2400];
        tok_describe(&tok, d, sizeof d);
        fprintf(out, "tokenizer %s\n", d);
        taskset_report(&ts, out);
        int sets = 0, nowrong = 0;
        for (int i = 0; i < ts.file.n; i++) {
            sets += ts.file.ex[i].n_correct > 1 || ts.file.ex[i].n_wrong > 1;
            nowrong += ts.file.ex[i].n_wrong == 0;
        }
        if (sets) fprintf(out, "  %d examples have answer sets (probability difference applies)\n", sets);
        if (nowrong) fprintf(out, "  %d examples have no wrong answer (logit difference skips them)\n", nowrong);
        fprintf(out, "ok\n");
        taskset_free(&ts);
    }
    tok_free(&tok);
    return rc;
}
