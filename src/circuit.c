// circuit.c: the circuit file and the human summary. circuit.json holds the binary masks,
// the log_alphas, the settings, the seed and the metrics (docs/circuit-format.md); reading
// it back needs only the keep arrays, so circuits from other tools can be evaluated too.
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

// per granularity: rows and columns. emb is [1]; layer, attn, mlp are [L]; head,
// attn_dim, neuron, mlp_out are [L][n] (nested whatever n is, so a 1-head model has the
// same format as any other).
static void gran_shape(const Masks *mk, int g, int *rows, int *cols) {
    int per[NUM_GRAN] = {1, 1, 1, 1, mk->NH, mk->C, 4 * mk->C, mk->C};
    *rows = g == G_EMB ? 1 : mk->L;
    *cols = per[g];
}

static int gran_nested(int g) { return g >= G_HEAD; }

static json_t *metrics_json(const Metrics *m) {
    json_t *o = json_object();
    json_object_set_new(o, "examples", json_integer(m->n));
    json_object_set_new(o, "kl", json_real(m->kl));
    json_object_set_new(o, "logit_diff", m->n_ld ? json_real(m->ld) : json_null());
    json_object_set_new(o, "logit_diff_examples", json_integer(m->n_ld));
    json_object_set_new(o, "prob_diff", json_real(m->pd));
    json_object_set_new(o, "accuracy_pairwise", json_real(m->acc_pair));
    json_object_set_new(o, "accuracy_argmax", json_real(m->acc_argmax));
    json_object_set_new(o, "exact_match", json_real(m->exact));
    return o;
}

int circuit_write(const char *path, const Pruner *p, const unsigned char *keep,
                  const char *model_path, const TaskSet *ts, const RunResult *r, PruneErr *err) {
    const Masks *mk = &p->masks;
    const PruneConfig *cfg = &p->cfg;
    const GPT2Config *c = &p->m->config;
    json_t *o = json_object();
    json_object_set_new(o, "format", json_string("prune-circuit"));
    json_object_set_new(o, "version", json_integer(1));
    json_object_set_new(o, "model", json_pack("{s:s, s:i, s:i, s:i, s:i, s:i}", "path", model_path,
                                              "L", c->L, "NH", c->NH, "C", c->C, "V", c->V, "maxT", c->maxT));
    json_t *task = json_object();
    json_object_set_new(task, "train", json_string(ts->file.path));
    json_object_set_new(task, "eval", ts->split ? json_null() : json_string(ts->eval_file.path));
    json_object_set_new(task, "split", ts->split ? json_pack("{s:I, s:f}", "seed", (json_int_t)ts->seed,
                                                             "train_fraction", ts->train_frac)
                                                 : json_null());
    json_object_set_new(task, "train_examples", json_integer(ts->train.n));
    json_object_set_new(task, "eval_examples", json_integer(ts->eval.n));
    json_object_set_new(o, "task", task);
    json_t *st = json_object(), *grans = json_array();
    json_object_set_new(st, "ablation", json_string(ABLATIONS[cfg->ablation].name));
    for (int g = 0; g < NUM_GRAN; g++)
        if (mk->enabled[g]) json_array_append_new(grans, json_string(GRANULARITIES[g].name));
    json_object_set_new(st, "granularities", grans);
    json_object_set_new(st, "steps", json_integer(cfg->steps));
    json_object_set_new(st, "batch", json_integer(cfg->batch));
    json_object_set_new(st, "chunk", json_integer(cfg->chunk));
    json_object_set_new(st, "lr", json_real(cfg->lr));
    json_object_set_new(st, "seed", json_integer((json_int_t)cfg->seed));
    const char *modes[3] = {"lambda", "target", "kl_budget"};
    json_t *sp = json_object();
    json_object_set_new(sp, "mode", json_string(modes[cfg->mode]));
    if (cfg->mode == SPARSITY_KL_BUDGET) {
        json_object_set_new(sp, "kl_budget", json_real(cfg->kl_budget));
        json_object_set_new(sp, "final_lambda", json_real(p->lambda[0]));
    } else {
        json_t *v = json_object(), *fin = json_object();
        for (int g = 0; g < NUM_GRAN; g++) {
            if (!mk->enabled[g]) continue;
            json_object_set_new(v, GRANULARITIES[g].name, json_real(cfg->mode == SPARSITY_TARGET ? cfg->target[g] : cfg->lambda[g]));
            json_object_set_new(fin, GRANULARITIES[g].name, json_real(p->lambda[g]));
        }
        json_object_set_new(sp, cfg->mode == SPARSITY_TARGET ? "target" : "lambda", v);
        json_object_set_new(sp, "final_lambda", fin);
    }
    if (cfg->mode != SPARSITY_LAMBDA) {
        json_object_set_new(sp, "dual_lr", json_real(cfg->dual_lr));
        json_object_set_new(sp, "warmup", json_real(cfg->warmup));
    }
    json_object_set_new(st, "sparsity", sp);
    json_object_set_new(o, "settings", st);
    json_object_set_new(o, "steps_done", json_integer(r->steps_done));
    json_t *masks = json_object(), *sizes = json_object();
    for (int g = 0; g < NUM_GRAN; g++) {
        int rows, cols, kept = 0;
        gran_shape(mk, g, &rows, &cols);
        json_t *e = json_object(), *k = json_array(), *la = json_array();
        for (int rr = 0; rr < rows; rr++) {
            json_t *kr = json_array(), *lr = json_array();
            for (int cc = 0; cc < cols; cc++) {
                size_t i = mk->off[g] + (size_t)rr * cols + cc;
                kept += keep[i];
                json_array_append_new(kr, json_integer(keep[i]));
                json_array_append_new(lr, json_real(mk->log_alpha[i]));
            }
            if (!gran_nested(g)) {  // emb: [k]; layer/attn/mlp: [k per layer]
                json_array_extend(k, kr);
                json_array_extend(la, lr);
                json_decref(kr), json_decref(lr);
            } else {
                json_array_append_new(k, kr);
                json_array_append_new(la, lr);
            }
        }
        json_object_set_new(e, "shape", gran_nested(g) ? json_pack("[i,i]", rows, cols) : json_pack("[i]", rows));
        json_object_set_new(e, "enabled", json_boolean(mk->enabled[g]));
        json_object_set_new(e, "keep", k);
        json_object_set_new(e, "log_alpha", la);
        json_object_set_new(masks, GRANULARITIES[g].name, e);
        json_object_set_new(sizes, GRANULARITIES[g].name, json_pack("{s:i, s:i}", "kept", kept, "total", mk->count[g]));
    }
    json_object_set_new(sizes, "weight_share", json_real(circuit_weight_share(mk, keep, -1)));
    json_object_set_new(o, "masks", masks);
    json_object_set_new(o, "sizes", sizes);
    json_object_set_new(o, "metrics", json_pack("{s:o, s:o, s:o}", "circuit", metrics_json(&r->circuit),
                                                "full", metrics_json(&r->full), "empty", metrics_json(&r->empty)));
    char *text = json_dumps(o, JSON_INDENT(1) | JSON_REAL_PRECISION(9));
    json_decref(o);
    size_t n = text ? strlen(text) : 0;
    char *t2 = text ? realloc(text, n + 2) : NULL;
    if (!t2) {
        free(text);
        return perr(err, "%s: out of memory writing the circuit.", path);
    }
    t2[n] = '\n', t2[n + 1] = 0;  // the file ends with a newline
    int rc = write_file_atomic(path, t2, n + 1, err);
    free(t2);
    return rc;
}

static int read_flag(json_t *v, int *out) {
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
        *out = (int)json_integer_value(v);
        return 0;
    }
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    return -1;
}

int circuit_read(const char *path, const Masks *mk, unsigned char *keep, PruneErr *err) {
    char *text;
    size_t len;
    if (read_file(path, &text, &len, err)) return -1;
    int rc = circuit_parse(text, len, path, mk, keep, err);
    free(text);
    return rc;
}

int circuit_parse(const char *text, size_t len, const char *path, const Masks *mk, unsigned char *keep,
                  PruneErr *err) {
    json_error_t je;
    json_t *o = json_loadb(text, len, 0, &je);
    if (!o)
        return perr(err, "%s:%d: not valid JSON: %s. Hint: a circuit file is written by prune "
                         "--out (docs/circuit-format.md).", path, je.line, je.text);
    int rc = -1;
    json_t *fmt = json_object_get(o, "format"), *masks = json_object_get(o, "masks");
    if (fmt && (!json_is_string(fmt) || strcmp(json_string_value(fmt), "prune-circuit"))) {
        perr(err, "%s: field \"format\": expected \"prune-circuit\".", path);
        goto done;
    }
    if (!json_is_object(masks)) {
        perr(err, "%s: field \"masks\" is missing or not an object. Hint: it maps granularity names "
                  "(emb, layer, attn, mlp, head, attn_dim, neuron, mlp_out) to {\"keep\": [...]}.", path);
        goto done;
    }
    memset(keep, 1, mk->total);  // granularities the file does not mention are kept whole
    const char *key;
    json_t *e;
    json_object_foreach(masks, key, e) {
        int g = 0;
        while (g < NUM_GRAN && strcmp(key, GRANULARITIES[g].name)) g++;
        if (g == NUM_GRAN) {
            perr(err, "%s: masks.%s: unknown granularity. Hint: emb, layer, attn, mlp, head, "
                      "attn_dim, neuron, mlp_out.", path, key);
            goto done;
        }
        int rows, cols;
        gran_shape(mk, g, &rows, &cols);
        json_t *k = json_object_get(e, "keep");
        int nested = gran_nested(g);
        if (!json_is_array(k) || (int)json_array_size(k) != rows) {
            perr(err, "%s: masks.%s.keep: expected an array of %d %s for this model (L=%d, NH=%d, "
                      "C=%d). Hint: the circuit was found on another model.", path, key, rows,
                 nested ? "rows" : "entries", mk->L, mk->NH, mk->C);
            goto done;
        }
        for (int r = 0; r < rows; r++) {
            json_t *row = nested ? json_array_get(k, (size_t)r) : NULL;
            if (nested && (!json_is_array(row) || (int)json_array_size(row) != cols)) {
                perr(err, "%s: masks.%s.keep[%d]: expected %d entries for this model (L=%d, NH=%d, "
                          "C=%d). Hint: the circuit was found on another model.", path, key, r, cols,
                     mk->L, mk->NH, mk->C);
                goto done;
            }
            for (int cc = 0; cc < cols; cc++) {
                int f;
                json_t *v = nested ? json_array_get(row, (size_t)cc) : json_array_get(k, (size_t)r);
                if (read_flag(v, &f)) {
                    perr(err, "%s: masks.%s.keep[%d]%s: expected 0, 1, true or false.", path, key, r,
                         nested ? "[...]" : "");
                    goto done;
                }
                keep[mk->off[g] + (size_t)r * cols + cc] = (unsigned char)f;
            }
        }
    }
    rc = 0;
done:
    json_decref(o);
    return rc;
}

// --- summary ---------------------------------------------------------------------------

static void print_metric_row(FILE *out, const char *name, double c, double f, double e, const char *fmt) {
    fprintf(out, "  %-22s", name);
    fprintf(out, fmt, c);
    fprintf(out, fmt, f);
    fprintf(out, fmt, e);
    fprintf(out, "\n");
}

void metrics_print(FILE *out, const char *title, const Metrics *c, const Metrics *full,
                   const Metrics *empty) {
    fprintf(out, "%s (%d examples)\n", title, c->n);
    fprintf(out, "  %-22s%12s%12s%12s\n", "", "circuit", "full", "empty");
    print_metric_row(out, "KL(full || .)", c->kl, full->kl, empty->kl, "%12.4f");
    if (c->n_ld) {
        print_metric_row(out, "logit difference", c->ld, full->ld, empty->ld, "%12.3f");
        // ratios only where the denominator is not lost in rounding
        double scale = fabs(full->ld) + fabs(empty->ld) + 1e-12;
        if (fabs(full->ld) > 1e-3)
            fprintf(out, "  %-22s%11.1f%%\n", "logit diff recovered", 100 * c->ld / full->ld);
        if (fabs(full->ld - empty->ld) > 1e-3 * scale && fabs(full->ld - empty->ld) > 1e-3)
            fprintf(out, "  %-22s%11.1f%%   (circuit - empty) / (full - empty)\n",
                    "normalised recovery", 100 * (c->ld - empty->ld) / (full->ld - empty->ld));
    }
    print_metric_row(out, "probability difference", c->pd, full->pd, empty->pd, "%12.3f");
    print_metric_row(out, "accuracy (pairwise)", c->acc_pair, full->acc_pair, empty->acc_pair, "%12.3f");
    print_metric_row(out, "accuracy (argmax)", c->acc_argmax, full->acc_argmax, empty->acc_argmax, "%12.3f");
    print_metric_row(out, "exact match w/ full", c->exact, full->exact, empty->exact, "%12.3f");
}

void circuit_print_summary(FILE *out, const Pruner *p, const unsigned char *keep,
                           const RunResult *r) {
    const Masks *mk = &p->masks;
    int L = mk->L, NH = mk->NH, C = mk->C;
    fprintf(out, "circuit (%s ablation)\n", ABLATIONS[p->cfg.ablation].name);
    fprintf(out, "  %-5s %-5s %-4s %-28s %-11s %-4s %-13s %-11s %s\n", "layer", "kept", "attn",
            "heads kept", "head dims", "mlp", "neurons", "mlp out", "weights");
    for (int l = 0; l < L; l++) {
        const unsigned char *kh = keep + mk->off[G_HEAD] + (size_t)l * NH;
        char heads[256] = "";
        int nh = 0;
        for (int h = 0; h < NH; h++)
            if (kh[h]) {
                char b[16];
                snprintf(b, sizeof b, "%s%d", nh ? " " : "", h);
                if (strlen(heads) + strlen(b) < 24) strcat(heads, b);
                else if (!strstr(heads, "...")) strcat(heads, " ...");
                nh++;
            }
        char hc[320];  // heads holds at most ~30 characters; sized for the compiler's bound
        snprintf(hc, sizeof hc, "%s%s(%d/%d)", heads, nh ? " " : "", nh, NH);
        int nd = 0, nn = 0, no = 0;
        for (int c = 0; c < C; c++) nd += keep[mk->off[G_ATTN_DIM] + (size_t)l * C + c];
        for (int i = 0; i < 4 * C; i++) nn += keep[mk->off[G_NEURON] + (size_t)l * 4 * C + i];
        for (int c = 0; c < C; c++) no += keep[mk->off[G_MLP_OUT] + (size_t)l * C + c];
        char dims[32], neu[32], outs[32];
        snprintf(dims, sizeof dims, "%d/%d", nd, C);
        snprintf(neu, sizeof neu, "%d/%d", nn, 4 * C);
        snprintf(outs, sizeof outs, "%d/%d", no, C);
        fprintf(out, "  %-5d %-5s %-4s %-28s %-11s %-4s %-13s %-11s %5.1f%%\n", l,
                keep[mk->off[G_LAYER] + l] ? "yes" : "no", keep[mk->off[G_ATTN] + l] ? "yes" : "no",
                hc, dims, keep[mk->off[G_MLP] + l] ? "yes" : "no", neu, outs,
                100 * circuit_weight_share(mk, keep, l));
    }
    fprintf(out, "  embedding %s\n", keep[mk->off[G_EMB]] ? "kept" : "ablated");
    fprintf(out, "sizes (kept/total)\n ");
    for (int g = 0; g < NUM_GRAN; g++) {
        int k = 0;
        for (int i = 0; i < mk->count[g]; i++) k += keep[mk->off[g] + (size_t)i];
        fprintf(out, " %s %d/%d%s", GRANULARITIES[g].name, k, mk->count[g], mk->enabled[g] ? "" : " (off)");
    }
    fprintf(out, "\n  block weights used by kept units: %.1f%%\n", 100 * circuit_weight_share(mk, keep, -1));
    if (r) metrics_print(out, "held-out metrics", &r->circuit, &r->full, &r->empty);
}
