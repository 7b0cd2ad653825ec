// circuit.c: the circuit file and the human summary. circuit.json holds the binary masks,
// the log_alphas, the settings, the seed and the metrics (docs/circuit-format.md); reading
// it back needs only the keep arrays, so circuits from other tools can be evaluated too.
// One pure parser reads it (circuit_parse) for both `prune eval` and `prune report`.
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

// per granularity: rows and columns, from the granularity table. emb is [1]; layer, attn,
// mlp are [L]; head, attn_dim, neuron, mlp_out are [L][n] (nested whatever n is, so a
// 1-head model has the same format as any other).
static void gran_shape(int L, int NH, int C, int hs, int H, int g, int *rows, int *cols) {
    GPT2Config c = {.L = L, .NH = NH, .C = C, .hs = hs, .NKV = NH, .H = H};
    *rows = g == G_EMB ? 1 : L;
    *cols = g == G_EMB ? 1 : gran_per_layer(g, &c);
}

static int gran_nested(int g) { return GRANULARITIES[g].nested; }

static json_t *metrics_json(const Metrics *m) {
    json_t *o = json_object();
    for (int k = 0; k < NUM_METRICS; k++) {
        double v = metric_value(m, k);
        json_object_set_new(o, METRICS[k].name, METRICS[k].is_count ? json_integer((json_int_t)v)
                                                : isnan(v) ? json_null() : json_real(v));
    }
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
    json_object_set_new(o, "model", json_pack("{s:o, s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "path", json_string_lossy(model_path, "the model path"),
                                              "L", c->L, "NH", c->NH, "C", c->C, "hs", c->hs, "H", c->H,
                                              "V", c->V, "maxT", c->maxT));
    json_t *task = json_object();
    json_object_set_new(task, "train", json_string_lossy(ts->file.path, "the task path"));
    int own_split = ts->split || ts->split_field;  // eval comes from the task file itself
    json_object_set_new(task, "eval", own_split ? json_null() : json_string_lossy(ts->eval_file.path, "the --eval path"));
    json_object_set_new(task, "split", ts->split ? json_pack("{s:I, s:f}", "seed", (json_int_t)ts->seed,
                                                             "train_fraction", ts->train_frac)
                                       : ts->split_field ? json_string("field") : json_null());
    json_object_set_new(task, "train_examples", json_integer(ts->train.n));
    json_object_set_new(task, "eval_examples", json_integer(ts->eval.n));
    json_object_set_new(task, "validation_examples", json_integer(r->val_examples));
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
    json_object_set_new(sp, "scale", json_string(cfg->per_granularity ? "granularity" : "gate"));
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
        gran_shape(mk->L, mk->NH, mk->C, mk->hs, mk->H, g, &rows, &cols);
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
    double rec = metrics_recovery(&r->circuit, &r->full, &r->empty);
    json_t *met = json_pack("{s:o, s:o, s:o}", "circuit", metrics_json(&r->circuit), "full", metrics_json(&r->full),
                            "empty", metrics_json(&r->empty));
    json_object_set_new(met, "normalised_recovery", isnan(rec) ? json_null() : json_real(rec));
    json_object_set_new(met, "recovery_of", json_string(r->circuit.n_sets || !r->circuit.n_ld ? "prob_diff" : "logit_diff"));
    json_object_set_new(o, "metrics", met);
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

// --- reading ----------------------------------------------------------------------------
// One pure parser (circuit_parse: text in, a CircuitFile out, every check in it; the fuzz
// target calls it) serves `prune eval`, which then fits the file to the model's masks
// (circuit_apply), and `prune report`, which draws the file as it is.

static int read_flag(json_t *v, unsigned char *out) {
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
        *out = (unsigned char)json_integer_value(v);
        return 0;
    }
    if (json_is_boolean(v)) {
        *out = (unsigned char)json_is_true(v);
        return 0;
    }
    return -1;
}

void circuit_file_free(CircuitFile *cf) {
    for (int g = 0; g < NUM_GRAN; g++) free(cf->gran[g].keep), free(cf->gran[g].log_alpha);
    memset(cf->gran, 0, sizeof cf->gran);
}

// The shape of an array of rows (nested: an array of `cols` numbers each; else one number
// each); rows and cols as expected (> 0) or, when 0, taken from the file (rows > 0, all rows
// as long as the first). Returns -1 with *bad_row set to the row that does not fit (-1: the
// outer array).
static int array_shape(json_t *a, int nested, int *rows, int *cols, int *bad_row) {
    *bad_row = -1;
    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > (size_t)1 << 24 ||
        (*rows && (int)json_array_size(a) != *rows))
        return -1;
    *rows = (int)json_array_size(a);
    if (!nested) {
        *cols = 1;
        return 0;
    }
    for (int r = 0; r < *rows; r++) {
        json_t *row = json_array_get(a, (size_t)r);
        size_t n = json_is_array(row) ? json_array_size(row) : 0;
        if (!*cols && n && n <= (size_t)1 << 24) *cols = (int)n;
        if (n == 0 || (int)n != *cols) {
            *bad_row = r;
            return -1;
        }
    }
    return 0;
}

static json_t *entry(json_t *a, int nested, int r, int c) {
    return nested ? json_array_get(json_array_get(a, (size_t)r), (size_t)c) : json_array_get(a, (size_t)r);
}

// metrics.<which>: each field a number when present (logit_diff may be null); absent: NAN.
static int read_metrics(json_t *o, const char *which, Metrics *m, const char *path, PruneErr *err) {
    m->n = m->n_ld = 0;
    m->kl = m->ld = m->ld_full = m->pd = m->acc_pair = m->acc_argmax = m->exact = NAN;
    json_t *w = json_object_get(o, which);
    if (!w) return 0;
    if (!json_is_object(w)) return perr(err, "%s: field metrics.%s: expected an object.", path, which);
    for (int k = 0; k < NUM_METRICS; k++) {
        const MetricInfo *mi = &METRICS[k];
        json_t *v = json_object_get(w, mi->name);
        if (!v || (json_is_null(v) && !mi->is_count)) continue;
        char *field = (char *)m + mi->offset;
        if (mi->is_count) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 2147483647)
                return perr(err, "%s: field metrics.%s.%s: expected a count.", path, which, mi->name);
            *(int *)field = (int)json_integer_value(v);
        } else {
            if (!json_is_number(v))
                return perr(err, "%s: field metrics.%s.%s: expected a number.", path, which, mi->name);
            *(double *)field = json_number_value(v);
        }
    }
    return 0;
}

static int read_masks(json_t *masks, CircuitFile *cf, const char *path, PruneErr *err) {
    char model[128] = "";
    if (cf->L)
        snprintf(model, sizeof model, " for the file's model (L=%d, NH=%d, C=%d, hs=%d, H=%d)", cf->L, cf->NH, cf->C,
                 cf->hs, cf->H);
    const char *key;
    json_t *e;
    json_object_foreach(masks, key, e) {
        int g = 0;
        while (g < NUM_GRAN && strcmp(key, GRANULARITIES[g].name)) g++;
        if (g == NUM_GRAN)
            return perr(err, "%s: masks.%s: unknown granularity. Hint: %s.", path, key, gran_names());
        int nested = gran_nested(g), rows = 0, cols = 0, bad;
        if (cf->L) gran_shape(cf->L, cf->NH, cf->C, cf->hs, cf->H, g, &rows, &cols);
        json_t *k = json_object_get(e, "keep"), *la = json_object_get(e, "log_alpha");
        if (array_shape(k, nested, &rows, &cols, &bad)) {
            if (bad < 0 && rows)
                return perr(err, "%s: masks.%s.keep: expected an array of %d %s%s.", path, key, rows,
                            nested ? "rows" : "entries", model);
            if (bad < 0)
                return perr(err, "%s: masks.%s.keep: expected a non-empty array of %s. Hint: {\"keep\": "
                                 "[...]} per granularity (docs/circuit-format.md).", path, key,
                            nested ? "rows" : "0/1 entries");
            if (cols)
                return perr(err, "%s: masks.%s.keep[%d]: expected an array of %d entries%s.", path, key, bad,
                            cols, cf->L ? model : " (as many as row 0)");
            return perr(err, "%s: masks.%s.keep[%d]: expected a non-empty array.", path, key, bad);
        }
        CircuitGran *cg = &cf->gran[g];
        size_t n = (size_t)rows * (size_t)cols;
        cg->rows = rows, cg->cols = cols;
        cg->keep = palloc(n, "circuit", err);
        if (!cg->keep) return -1;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                if (read_flag(entry(k, nested, r, c), &cg->keep[(size_t)r * cols + c]))
                    return perr(err, nested ? "%s: masks.%s.keep[%d][%d]: expected 0, 1, true or false."
                                            : "%s: masks.%s.keep[%d]: expected 0, 1, true or false.",
                                path, key, r, c);
        if (!la) continue;
        int lr = rows, lc = cols;
        if (array_shape(la, nested, &lr, &lc, &bad))
            return nested ? perr(err, "%s: masks.%s.log_alpha: expected the shape of keep ([%d][%d]).", path, key,
                                 rows, cols)
                          : perr(err, "%s: masks.%s.log_alpha: expected the shape of keep ([%d]).", path, key, rows);
        cg->log_alpha = palloc(sizeof(double) * n, "circuit", err);
        if (!cg->log_alpha) return -1;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) {
                json_t *v = entry(la, nested, r, c);
                if (!json_is_number(v))
                    return perr(err, nested ? "%s: masks.%s.log_alpha[%d][%d]: expected a number."
                                            : "%s: masks.%s.log_alpha[%d]: expected a number.", path, key, r, c);
                cg->log_alpha[(size_t)r * cols + c] = json_number_value(v);
            }
    }
    return 0;
}

static int parse_object(json_t *o, const char *path, CircuitFile *cf, PruneErr *err) {
    if (!json_is_object(o)) return perr(err, "%s: expected a JSON object (docs/circuit-format.md).", path);
    json_t *fmt = json_object_get(o, "format"), *masks = json_object_get(o, "masks");
    if (fmt && (!json_is_string(fmt) || strcmp(json_string_value(fmt), "prune-circuit")))
        return perr(err, "%s: field \"format\": expected \"prune-circuit\".", path);
    json_t *m = json_object_get(o, "model"), *t = json_object_get(o, "task");
    if (json_is_string(json_object_get(m, "path")))
        snprintf(cf->model, sizeof cf->model, "%s", json_string_value(json_object_get(m, "path")));
    if (json_is_string(json_object_get(t, "train")))
        snprintf(cf->task, sizeof cf->task, "%s", json_string_value(json_object_get(t, "train")));
    if (json_is_string(json_object_get(t, "eval")))
        snprintf(cf->eval, sizeof cf->eval, "%s", json_string_value(json_object_get(t, "eval")));
    json_t *ver = json_object_get(o, "version");
    if (ver && (!json_is_integer(ver) || json_integer_value(ver) != 1))
        return perr(err, "%s: field \"version\": expected 1, the circuit format this prune reads "
                         "(docs/circuit-format.md).", path);
    // the model's shape is optional (another tool's file may have masks alone), but whole
    if (json_object_get(m, "L") || json_object_get(m, "NH") || json_object_get(m, "C")) {
        json_t *L = json_object_get(m, "L"), *NH = json_object_get(m, "NH"), *C = json_object_get(m, "C");
        json_int_t l = json_integer_value(L), nh = json_integer_value(NH), c = json_integer_value(C);
        if (!json_is_integer(L) || !json_is_integer(NH) || !json_is_integer(C) || l < 1 || l > 4096 ||
            nh < 1 || nh > 4096 || c < nh || c > 1 << 20 || c % nh)
            return perr(err, "%s: field \"model\": expected {\"L\": layers, \"NH\": heads, \"C\": width} with "
                             "C a multiple of NH. Hint: a file written by prune --out has it.", path);
        cf->L = (int)l, cf->NH = (int)nh, cf->C = (int)c, cf->hs = (int)(c / nh), cf->H = (int)(4 * c);
        // hs and H (the MLP width), written since the config names them; older files: GPT-2's
        json_t *hs = json_object_get(m, "hs"), *H = json_object_get(m, "H");
        if (hs && (!json_is_integer(hs) || json_integer_value(hs) != cf->hs))
            return perr(err, "%s: field \"model.hs\": expected the head size C / NH = %d. Hint: prune reads "
                             "GPT-2-style circuits.", path, cf->hs);
        if (H && (!json_is_integer(H) || json_integer_value(H) < 1 || json_integer_value(H) > 1 << 20))
            return perr(err, "%s: field \"model.H\": expected the MLP width, a positive integer.", path);
        if (H) cf->H = (int)json_integer_value(H);
    }
    if (!json_is_object(masks))
        return perr(err, "%s: field \"masks\" is missing or not an object. Hint: it maps granularity names "
                         "(%s) to {\"keep\": [...]}.", path, gran_names());
    if (read_masks(masks, cf, path, err)) return -1;
    json_t *met = json_object_get(o, "metrics");
    if (met && !json_is_object(met)) return perr(err, "%s: field \"metrics\": expected an object.", path);
    if (read_metrics(met, "circuit", &cf->circuit, path, err) || read_metrics(met, "full", &cf->full, path, err) ||
        read_metrics(met, "empty", &cf->empty, path, err))
        return -1;
    json_t *sizes = json_object_get(o, "sizes"), *ws = json_object_get(sizes, "weight_share");
    if (sizes && !json_is_object(sizes)) return perr(err, "%s: field \"sizes\": expected an object.", path);
    if (ws && !json_is_number(ws)) return perr(err, "%s: field sizes.weight_share: expected a number.", path);
    cf->weight_share = ws ? json_number_value(ws) : NAN;
    // what `eval` needs to measure the circuit as it was found: its ablation and split
    json_t *st = json_object_get(o, "settings"), *abl = json_object_get(st, "ablation");
    if (st && !json_is_object(st)) return perr(err, "%s: field \"settings\": expected an object.", path);
    if (abl) {
        int k = 0;
        while (json_is_string(abl) && k < NUM_ABLATIONS && strcmp(json_string_value(abl), ABLATIONS[k].name)) k++;
        if (!json_is_string(abl) || k == NUM_ABLATIONS)
            return perr(err, "%s: field settings.ablation: expected one of %s.", path, ablation_names());
        cf->ablation = k;
    }
    json_t *kb = json_object_get(json_object_get(st, "sparsity"), "kl_budget");
    if (kb && (!json_is_number(kb) || !(json_number_value(kb) >= 0)))
        return perr(err, "%s: field settings.sparsity.kl_budget: expected a number >= 0.", path);
    if (kb) cf->kl_budget = json_number_value(kb);
    json_t *sp = json_object_get(t, "split");
    if (json_is_string(sp) && !strcmp(json_string_value(sp), "field")) cf->split = 2;
    else if (json_is_object(sp)) {
        json_t *seed = json_object_get(sp, "seed"), *fr = json_object_get(sp, "train_fraction");
        if (!json_is_integer(seed) || json_integer_value(seed) < 0 || !json_is_number(fr) ||
            !(json_number_value(fr) > 0 && json_number_value(fr) < 1))
            return perr(err, "%s: field task.split: expected {\"seed\": integer >= 0, \"train_fraction\": a "
                             "number in (0, 1)}.", path);
        cf->split = 1, cf->split_seed = (uint64_t)json_integer_value(seed), cf->train_frac = json_number_value(fr);
    } else if (sp && !json_is_null(sp))
        return perr(err, "%s: field task.split: expected an object, \"field\" or null.", path);
    return 0;
}

int circuit_parse(const char *text, size_t len, const char *path, CircuitFile *cf, PruneErr *err) {
    memset(cf, 0, sizeof *cf);
    snprintf(cf->model, sizeof cf->model, "?");
    snprintf(cf->task, sizeof cf->task, "?");
    cf->weight_share = NAN;
    cf->ablation = -1;
    cf->kl_budget = NAN;
    json_error_t je;
    json_t *o = json_loadb(text, len, 0, &je);
    if (!o)
        return perr(err, "%s:%d: not valid JSON: %s. Hint: a circuit file is written by prune "
                         "--out (docs/circuit-format.md).", path, je.line, je.text);
    int rc = parse_object(o, path, cf, err);
    json_decref(o);
    if (rc) circuit_file_free(cf);
    return rc;
}

int circuit_load(const char *path, CircuitFile *cf, PruneErr *err) {
    memset(cf, 0, sizeof *cf);  // free-able whatever happens
    char *text;
    size_t len;
    if (read_file(path, &text, &len, err)) return -1;
    int rc = circuit_parse(text, len, path, cf, err);
    free(text);
    return rc;
}

int circuit_apply(const CircuitFile *cf, const Masks *mk, const char *path, unsigned char *keep, PruneErr *err) {
    memset(keep, 1, mk->total);  // granularities the file does not mention are kept whole
    for (int g = 0; g < NUM_GRAN; g++) {
        const CircuitGran *cg = &cf->gran[g];
        int rows, cols;
        gran_shape(mk->L, mk->NH, mk->C, mk->hs, mk->H, g, &rows, &cols);
        if (!cg->keep) continue;
        if (cg->rows != rows)
            return perr(err, "%s: masks.%s.keep: expected an array of %d %s for this model (L=%d, NH=%d, "
                             "C=%d, H=%d). Hint: the circuit was found on another model.", path, GRANULARITIES[g].name,
                        rows, gran_nested(g) ? "rows" : "entries", mk->L, mk->NH, mk->C, mk->H);
        if (cg->cols != cols)
            return perr(err, "%s: masks.%s.keep[0]: expected %d entries for this model (L=%d, NH=%d, "
                             "C=%d, H=%d). Hint: the circuit was found on another model.", path, GRANULARITIES[g].name,
                        cols, mk->L, mk->NH, mk->C, mk->H);
        memcpy(keep + mk->off[g], cg->keep, (size_t)rows * cols);
    }
    if (cf->L && (cf->L != mk->L || cf->NH != mk->NH || cf->C != mk->C || cf->H != mk->H))
        return perr(err, "%s: field \"model\": L=%d, NH=%d, C=%d, H=%d, but this model has L=%d, NH=%d, C=%d, "
                         "H=%d. Hint: the circuit was found on another model.", path, cf->L, cf->NH, cf->C, cf->H,
                    mk->L, mk->NH, mk->C, mk->H);
    return 0;
}

int circuit_read(const char *path, const Masks *mk, unsigned char *keep, PruneErr *err) {
    CircuitFile cf;
    if (circuit_load(path, &cf, err)) return -1;
    int rc = circuit_apply(&cf, mk, path, keep, err);
    circuit_file_free(&cf);
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
    double rec = metrics_recovery(c, full, empty);
    fprintf(out, "%s (%d examples): KL(full || circuit) %.4f", title, c->n, c->kl);
    if (!isnan(rec)) fprintf(out, ", normalised recovery %.1f%% of the %s", 100 * rec, c->n_sets || !c->n_ld ? "probability difference" : "logit difference");
    fprintf(out, "\n");
    fprintf(out, "  %-22s%12s%12s%12s\n", "", "circuit", "full", "empty");
    for (int k = 0; k < NUM_METRICS; k++) {
        if (METRICS[k].is_count || (METRICS[k].nullable && !c->n_ld)) continue;  // counts: in the title
        print_metric_row(out, METRICS[k].label, metric_value(c, k), metric_value(full, k), metric_value(empty, k),
                         METRICS[k].fmt);
        if (k != (c->n_sets || !c->n_ld ? M_PROB_DIFF : M_LOGIT_DIFF)) continue;
        // after the headline quantity (the probability difference for answer sets): its
        // normalised recovery, and the raw ratio circuit / full only where the empty circuit's
        // value is near 0 (elsewhere it credits the circuit with what the empty one does)
        double rec = metrics_recovery(c, full, empty);
        int pd = k == M_PROB_DIFF;
        double vc = pd ? c->pd : c->ld, vf = pd ? full->pd : full->ld, ve = pd ? empty->pd : empty->ld;
        if (!isnan(rec))
            fprintf(out, "  %-22s%11.1f%%   (circuit - empty) / (full - empty)\n", "normalised recovery", 100 * rec);
        if (fabs(vf) > 1e-3 && fabs(ve) <= 0.05 * fabs(vf))
            fprintf(out, "  %-22s%11.1f%%   circuit / full (the empty circuit is near 0)\n",
                    pd ? "prob diff recovered" : "logit diff recovered", 100 * vc / vf);
    }
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
        for (int d = 0; d < mk->A; d++) nd += keep[mk->off[G_ATTN_DIM] + (size_t)l * mk->A + d];
        for (int i = 0; i < mk->H; i++) nn += keep[mk->off[G_NEURON] + (size_t)l * mk->H + i];
        for (int c = 0; c < C; c++) no += keep[mk->off[G_MLP_OUT] + (size_t)l * C + c];
        char dims[32], neu[32], outs[32];
        snprintf(dims, sizeof dims, "%d/%d", nd, mk->A);
        snprintf(neu, sizeof neu, "%d/%d", nn, mk->H);
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
