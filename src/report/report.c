// report.c: pictures and exports of a circuit, made from circuit.json alone (so circuits
// from earlier runs, or edited by hand, can be drawn), read by circuit_load, the parser
// `prune eval` uses: circuit.svg (per-layer rows: block gates, a head grid shaded by
// log_alpha, bars for kept neurons and dimensions), curves.svg
// (from a --log CSV), circuit.dot (kept units and the residual edges a node circuit implies),
// edges.tsv (those edges in Edge Pruning's graph: heads read Q, K and V separately) and
// index.html, which inlines the pictures so it reads offline. It does not run the model.
// Also the picture of a sweep (sweep.svg), drawn from the points cmd_sweep measured.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "commands.h"
#include "log_csv.h"

// A gate as the file has it: a granularity the file lacks is kept whole, with no log_alpha.
static int kp(const CircuitFile *c, int g, int i) { return c->gran[g].keep ? c->gran[g].keep[i] : 1; }
static double la(const CircuitFile *c, int g, int i) { return c->gran[g].log_alpha ? c->gran[g].log_alpha[i] : NAN; }

static int circ_load(CircuitFile *c, const char *path, PruneErr *err) {
    if (circuit_load(path, c, err)) return -1;
    if (!c->L) {
        circuit_file_free(c);
        return perr(err, "%s: field \"model\": expected {\"L\": layers, \"NH\": heads, \"C\": width}, which the "
                         "report needs to draw the layers. Hint: a file written by prune --out has it.", path);
    }
    return 0;
}


static int kept_in(const CircuitFile *c, int g, int l, int per) {
    int n = 0;
    for (int i = 0; i < per; i++) n += kp(c, g, l * per + i);
    return n;
}

// A unit acts when it and every gate above it are kept.
static int head_on(const CircuitFile *c, int l, int h) {
    return kp(c, G_LAYER, l) && kp(c, G_ATTN, l) && kp(c, G_HEAD, l * c->NH + h);
}
static int mlp_on(const CircuitFile *c, int l) {
    return kp(c, G_LAYER, l) && kp(c, G_MLP, l) && kept_in(c, G_NEURON, l, c->H) > 0;
}

// Kept: green, darker the surer (larger log_alpha); pruned: grey-red, darker the more
// firmly pruned. A missing log_alpha (another tool's file) gets the middle shade.
static void gate_colour(char *buf, size_t cap, int kept, double la) {
    double s = isnan(la) ? 0.5 : 1.0 / (1.0 + exp(-fabs(la)));  // 0.5 .. 1
    double t = (s - 0.5) * 2;                                    // 0 .. 1
    if (kept) snprintf(buf, cap, "rgb(%d,%d,%d)", (int)(150 - 120 * t), (int)(215 - 75 * t), (int)(150 - 110 * t));
    else snprintf(buf, cap, "rgb(%d,%d,%d)", (int)(235 - 35 * t), (int)(225 - 95 * t), (int)(225 - 95 * t));
}

static void write_circuit_svg(FILE *f, const CircuitFile *c) {
    int cell = c->NH <= 16 ? 22 : 10, gx = 150, gw = c->NH * (cell + 2), bx = gx + (gw > 160 ? gw : 160) + 20, barw = 120;
    int rowh = cell + 18, top = 78, W = bx + 3 * (barw + 20) + 20, H = top + c->L * rowh + 50;
    char col[64];
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    fprintf(f, "<text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">");
    xml_escape(f, c->model);
    fprintf(f, " on ");
    xml_escape(f, c->task);
    fprintf(f, "</text>\n");
    double kl = c->circuit.kl, ld = c->circuit.ld, ldf = c->full.ld, pd = c->circuit.pd, pdf = c->full.pd;
    fprintf(f, "<text x=\"10\" y=\"40\">held-out KL %.4f", kl);
    if (!isnan(ld) && !isnan(ldf) && ldf != 0) fprintf(f, " · logit difference %.3f of %.3f (%.1f%%)", ld, ldf, 100 * ld / ldf);
    if (!isnan(pd)) fprintf(f, " · probability difference %.3f of %.3f", pd, pdf);
    if (!isnan(c->weight_share)) fprintf(f, " · %.1f%% of block weights", 100 * c->weight_share);
    fprintf(f, "</text>\n");
    fprintf(f, "<text x=\"10\" y=\"%d\" fill=\"#555\">block gates</text><text x=\"%d\" y=\"%d\" fill=\"#555\">heads "
               "(shade: log_alpha)</text>\n", top - 10, gx, top - 10);
    static const char *bar_names[3] = {"neurons", "head dims", "mlp out dims"};
    for (int k = 0; k < 3; k++)
        fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"#555\">%s</text>\n", bx + k * (barw + 20), top - 10, bar_names[k]);
    for (int l = 0; l < c->L; l++) {
        int y = top + l * rowh;
        fprintf(f, "<g id=\"layer%d\"><text x=\"10\" y=\"%d\">layer %d</text>\n", l, y + cell - 6, l);
        static const int bg[3] = {G_LAYER, G_ATTN, G_MLP};
        static const char *bl[3] = {"L", "A", "M"};
        for (int k = 0; k < 3; k++) {
            gate_colour(col, sizeof col, kp(c, bg[k], l), la(c, bg[k], l));
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"#333\"><title>%s "
                       "gate, layer %d: %s</title></rect><text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                    62 + k * (cell + 4), y, cell, cell, col, GRANULARITIES[bg[k]].name, l,
                    kp(c, bg[k], l) ? "kept" : "pruned", 62 + k * (cell + 4) + cell / 2, y + cell - 6, bl[k]);
        }
        for (int h = 0; h < c->NH; h++) {
            int i = l * c->NH + h;
            gate_colour(col, sizeof col, head_on(c, l, h), la(c, G_HEAD, i));
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"#333\">"
                       "<title>L%dH%d %s, log_alpha %.2f</title></rect>\n",
                    gx + h * (cell + 2), y, cell, cell, col, l, h, head_on(c, l, h) ? "kept" : "pruned", la(c, G_HEAD, i));
        }
        int kn = kept_in(c, G_NEURON, l, c->H), kd = kept_in(c, G_ATTN_DIM, l, c->NH * c->hs), ko = kept_in(c, G_MLP_OUT, l, c->C);
        int vals[3] = {kn, kd, ko}, tots[3] = {c->H, c->NH * c->hs, c->C};
        for (int k = 0; k < 3; k++) {
            int x = bx + k * (barw + 20), w = (int)((double)barw * vals[k] / tots[k] + 0.5);
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#eee\" stroke=\"#999\"/>"
                       "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#4a8\"/>"
                       "<text x=\"%d\" y=\"%d\" font-size=\"10\">%d/%d</text>\n",
                    x, y + 2, barw, cell - 4, x, y + 2, w, cell - 4, x + 3, y + cell - 7, vals[k], tots[k]);
        }
        fprintf(f, "</g>\n");
    }
    gate_colour(col, sizeof col, 1, 4);
    fprintf(f, "<rect x=\"10\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"26\" y=\"%d\">kept</text>",
            H - 24, col, H - 14);
    gate_colour(col, sizeof col, 0, -4);
    fprintf(f, "<rect x=\"70\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"86\" y=\"%d\">pruned "
               "(darker: larger |log_alpha|)</text>\n</svg>\n", H - 24, col, H - 14);
}

// The residual edges of a node circuit: every kept writer (embedding, heads, MLPs) to every
// kept reader downstream of it (heads' Q, K and V inputs, MLP inputs, the final residual).
// Inside a block the MLP reads the attention heads of the same layer.
typedef struct {
    long edges;
    int writers, readers;
} EdgeCount;

static EdgeCount write_edges(FILE *tsv, FILE *dot, const CircuitFile *c) {
    EdgeCount ec = {0};
    if (dot) fprintf(dot, "digraph circuit {\n  rankdir=BT;\n  node [shape=box, style=filled, fontname=\"sans-serif\"];\n"
                          "  emb [label=\"embedding\", fillcolor=\"#dddddd\"];\n  out [label=\"logits\", fillcolor=\"#dddddd\"];\n");
    if (tsv) fprintf(tsv, "writer\treader\tinput\n");
    int emb = kp(c, G_EMB, 0);
    ec.writers += emb;
    for (int l = 0; l < c->L; l++) {
        if (dot) fprintf(dot, "  subgraph layer%d { rank=same;", l);
        for (int h = 0; h < c->NH; h++)
            if (head_on(c, l, h) && dot) fprintf(dot, " a%d_%d [label=\"L%dH%d\", fillcolor=\"#99cc99\"];", l, h, l, h);
        if (mlp_on(c, l) && dot) fprintf(dot, " m%d [label=\"MLP %d\", fillcolor=\"#99bbdd\"];", l, l);
        if (dot) fprintf(dot, " }\n");
    }
    // readers in order: heads of layer l (q,k,v), then MLP l; then the output
    for (int l = 0; l <= c->L; l++) {
        for (int part = 0; part < 2; part++) {
            for (int h = 0; h < (part ? 1 : c->NH); h++) {
                int is_out = l == c->L;
                if (is_out && (part || h)) continue;
                int on = is_out ? 1 : part ? mlp_on(c, l) : head_on(c, l, h);
                if (!on) continue;
                char rd[32];
                if (is_out) snprintf(rd, sizeof rd, "logits");
                else if (part) snprintf(rd, sizeof rd, "MLP%d", l);
                else snprintf(rd, sizeof rd, "L%dH%d", l, h);
                char rdot[32];
                if (is_out) snprintf(rdot, sizeof rdot, "out");
                else if (part) snprintf(rdot, sizeof rdot, "m%d", l);
                else snprintf(rdot, sizeof rdot, "a%d_%d", l, h);
                ec.readers++;
                int ninputs = (!is_out && !part) ? 3 : 1;
                static const char *qkv[3] = {"q", "k", "v"};
                // writers upstream: emb, heads of layers < l (and of l for an MLP), MLPs < l
                for (int wl = -1; wl < (is_out ? c->L : l + 1); wl++) {
                    for (int wk = 0; wk <= c->NH; wk++) {  // wk < NH: head wk; wk == NH: the MLP
                        char wr[32], wdot[32];
                        if (wl < 0) {
                            if (wk || !emb) continue;
                            snprintf(wr, sizeof wr, "embedding"), snprintf(wdot, sizeof wdot, "emb");
                        } else if (wk < c->NH) {
                            if (wl == l && !is_out && !part) continue;  // heads do not read their own layer
                            if (!head_on(c, wl, wk)) continue;
                            snprintf(wr, sizeof wr, "L%dH%d", wl, wk), snprintf(wdot, sizeof wdot, "a%d_%d", wl, wk);
                        } else {
                            if (wl == l && !is_out) continue;  // an MLP writes after its own layer's readers
                            if (!mlp_on(c, wl)) continue;
                            snprintf(wr, sizeof wr, "MLP%d", wl), snprintf(wdot, sizeof wdot, "m%d", wl);
                        }
                        for (int q = 0; q < ninputs; q++)
                            if (tsv) fprintf(tsv, "%s\t%s\t%s\n", wr, rd, is_out ? "resid" : part ? "in" : qkv[q]);
                        ec.edges += ninputs;
                        if (dot) fprintf(dot, "  %s -> %s;\n", wdot, rdot);
                    }
                }
            }
        }
    }
    for (int l = 0; l < c->L; l++) {
        for (int h = 0; h < c->NH; h++) ec.writers += head_on(c, l, h);
        ec.writers += mlp_on(c, l);
    }
    if (dot) fprintf(dot, "}\n");
    return ec;
}

// curves.svg from a --log CSV (log_csv_parse checks it): KL (left axis, log scale) and
// density per granularity.
static int write_curves_svg(FILE *f, const char *log_path, PruneErr *err) {
    char *text;
    size_t len;
    if (read_file(log_path, &text, &len, err)) return -1;
    LogCsv t;
    int rc = log_csv_parse(text, len, log_path, &t, err);
    free(text);
    if (rc) return -1;
    int cstep = log_csv_column(&t, "step"), ckl = log_csv_column(&t, "kl"), dens[NUM_GRAN], ndens = 0;
    if (cstep < 0 || ckl < 0) {
        log_csv_free(&t);
        return perr(err, "%s:1: expected the header 'step,kl,expected_l0,...' of a --log file.", log_path);
    }
    for (int c = 0; c < t.ncol && ndens < NUM_GRAN; c++)
        if (!strncmp(t.names[c], "density_", 8)) dens[ndens++] = c;
    if (t.nrow == 0) {
        log_csv_free(&t);
        return perr(err, "%s: no rows. Hint: the run stopped before its first step?", log_path);
    }
    int n = t.nrow;
    int W = 760, H = 300, x0 = 60, y0 = 30, pw = 520, ph = 220;
    double smax = t.v[(size_t)(n - 1) * t.ncol + cstep], kmin = 1e-4, kmax = 10;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n"
               "<text x=\"%d\" y=\"18\" font-size=\"13\" font-weight=\"bold\">training: KL of the sampled circuit (log "
               "scale, left) and expected density (right)</text>\n"
               "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>\n",
            W, H, W, H, W, H, x0, x0, y0, pw, ph);
    for (int d = -4; d <= 1; d++) {
        double y = y0 + ph - ph * (d - log10(kmin)) / (log10(kmax) - log10(kmin));
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">1e%d</text>\n", x0 - 4, y + 4, d);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">step (of %.0f)</text>\n", x0 + pw / 2, y0 + ph + 28, smax);
    static const char *colours[NUM_GRAN + 1] = {"#000", "#e41a1c", "#377eb8", "#4daf4a", "#984ea3",
                                                "#ff7f00", "#a65628", "#f781bf", "#999"};
    for (int s = -1; s < ndens; s++) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" points=\"", colours[s + 1], s < 0 ? "1.5" : "1");
        int stride = n > 2000 ? n / 2000 : 1;
        for (int i = 0; i < n; i += stride) {
            const double *r = t.v + (size_t)i * t.ncol;
            double x = x0 + pw * (smax > 0 ? r[cstep] / smax : 0), y;
            if (s < 0) {
                double k = r[ckl] < kmin ? kmin : r[ckl] > kmax ? kmax : r[ckl];
                y = y0 + ph - ph * (log10(k) - log10(kmin)) / (log10(kmax) - log10(kmin));
            } else {
                y = y0 + ph - ph * r[dens[s]];
            }
            fprintf(f, "%.1f,%.1f ", x, y);
        }
        fprintf(f, "\"/>\n<text x=\"%d\" y=\"%d\" fill=\"%s\">%s", x0 + pw + 12, y0 + 12 + 14 * (s + 1),
                colours[s + 1], s < 0 ? "KL" : "");
        if (s >= 0) xml_escape(f, t.names[dens[s]] + 8);  // a column name is the file's text
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</svg>\n");
    log_csv_free(&t);
    return 0;
}

// What index.html needs besides the circuit and the pictures already drawn.
typedef struct {
    const CircuitFile *c;
    EdgeCount ec;
    const char *graph_svg;  // rendered Graphviz picture to inline, or NULL
} RepCtx;

static void write_html(FILE *f, RepCtx *x, FILE *svg_src, FILE *curves_src) {
    const CircuitFile *c = x->c;
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>circuit: ");
    xml_escape(f, c->task);
    fprintf(f, "</title>\n<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:"
               "collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f4f4f4}"
               "td.l{text-align:left}</style></head><body>\n<h1>Circuit</h1>\n<p>model <code>");
    xml_escape(f, c->model);
    fprintf(f, "</code>, task <code>");
    xml_escape(f, c->task);
    fprintf(f, "</code>. Written by <code>prune report</code> from circuit.json (docs/circuit-format.md).</p>\n");
    char buf[4096];
    size_t k;
    rewind(svg_src);
    while ((k = fread(buf, 1, sizeof buf, svg_src))) fwrite(buf, 1, k, f);
    fprintf(f, "<h2>Metrics (held-out)</h2>\n<table><tr><th></th><th>circuit</th><th>full</th><th>empty</th></tr>\n");
    for (int i = 0; i < NUM_METRICS; i++) {
        if (METRICS[i].is_count) continue;
        fprintf(f, "<tr><td class=\"l\">%s</td>", METRICS[i].name);
        const Metrics *which[3] = {&c->circuit, &c->full, &c->empty};
        for (int w = 0; w < 3; w++) {
            double v = *(const double *)((const char *)which[w] + METRICS[i].offset);  // NAN: not in the file
            if (isnan(v)) fprintf(f, "<td>-</td>");
            else fprintf(f, "<td>%.4f</td>", v);
        }
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n<h2>Per layer</h2>\n<table><tr><th>layer</th><th>block</th><th>attention</th><th>heads "
               "kept</th><th>head dims</th><th>MLP</th><th>neurons</th><th>MLP out dims</th></tr>\n");
    for (int l = 0; l < c->L; l++) {
        fprintf(f, "<tr><td>%d</td><td>%s</td><td>%s</td><td class=\"l\">", l, kp(c, G_LAYER, l) ? "kept" : "pruned",
                kp(c, G_ATTN, l) ? "kept" : "pruned");
        int any = 0;
        for (int h = 0; h < c->NH; h++)
            if (head_on(c, l, h)) fprintf(f, "%s%d", any++ ? " " : "", h);
        fprintf(f, "%s (%d/%d)</td><td>%d/%d</td><td>%s</td><td>%d/%d</td><td>%d/%d</td></tr>\n", any ? "" : "none",
                any, c->NH, kept_in(c, G_ATTN_DIM, l, c->NH * c->hs), c->NH * c->hs, kp(c, G_MLP, l) ? "kept" : "pruned",
                kept_in(c, G_NEURON, l, c->H), c->H, kept_in(c, G_MLP_OUT, l, c->C), c->C);
    }
    fprintf(f, "</table>\n<h2>Graph</h2>\n<p>%d writers and %d readers kept; a node circuit implies <b>%ld edges</b> "
               "in Edge Pruning's graph (heads read Q, K and V separately; edges.tsv lists them; docs/reports.md "
               "gives the rule).</p>\n", x->ec.writers, x->ec.readers, x->ec.edges);
    if (x->graph_svg) {
        FILE *g = fopen(x->graph_svg, "r");
        if (g) {
            // skip Graphviz's XML prologue and doctype: an inline <svg> must start the element
            size_t n = fread(buf, 1, sizeof buf - 1, g);
            buf[n] = 0;
            char *start = strstr(buf, "<svg");
            if (start) fwrite(start, 1, n - (size_t)(start - buf), f);
            while ((n = fread(buf, 1, sizeof buf, g))) fwrite(buf, 1, n, f);
            fclose(g);
        }
    } else {
        fprintf(f, "<p>(Graphviz's <code>dot</code> is not installed: circuit.dot was written but not drawn.)</p>\n");
    }
    if (curves_src) {
        fprintf(f, "<h2>Training</h2>\n");
        rewind(curves_src);
        while ((k = fread(buf, 1, sizeof buf, curves_src))) fwrite(buf, 1, k, f);
    }
    fprintf(f, "</body></html>\n");
}

static int commit_from(FILE *src, const char *path, PruneErr *err) {
    AtomicFile af;
    if (atomic_open(&af, path, err)) return -1;
    char buf[8192];
    size_t k;
    rewind(src);
    int bad = 0;
    while (!bad && (k = fread(buf, 1, sizeof buf, src))) bad = atomic_write(&af, buf, k, err);
    if (bad) {
        atomic_abort(&af);
        return -1;
    }
    return atomic_commit(&af, err);
}

int cmd_report(const char *circuit_path, const char *log_path, const char *out_dir, FILE *out, PruneErr *err) {
    CircuitFile c;
    int rc = -1;
    FILE *svg = NULL, *dot = NULL, *tsv = NULL, *curves = NULL, *html = NULL;
    const char *in[] = {circuit_path, log_path};
    if (check_output(out_dir, "--out", in, 2, 1, err)) return -1;
    if (circ_load(&c, circuit_path, err)) goto done;
    if (mkdir(out_dir, 0755) && !path_is_dir(out_dir)) {
        perr(err, "%s: cannot create the report folder. Hint: is its parent writable?", out_dir);
        goto done;
    }
    // everything is built in temporary streams first, then each file is committed atomically
    svg = tmpfile(), dot = tmpfile(), tsv = tmpfile(), html = tmpfile();
    if (!svg || !dot || !tsv || !html) {
        perr(err, "cannot create temporary files for the report.");
        goto done;
    }
    write_circuit_svg(svg, &c);
    RepCtx x = {.c = &c};
    x.ec = write_edges(tsv, dot, &c);
    if (log_path) {
        if (!(curves = tmpfile())) {
            perr(err, "cannot create a temporary file.");
            goto done;
        }
        if (write_curves_svg(curves, log_path, err)) goto done;
    }
    char path[4200], gpath[4200];
    snprintf(path, sizeof path, "%s/circuit.svg", out_dir);
    if (commit_from(svg, path, err)) goto done;
    snprintf(path, sizeof path, "%s/circuit.dot", out_dir);
    if (commit_from(dot, path, err)) goto done;
    snprintf(path, sizeof path, "%s/edges.tsv", out_dir);
    if (commit_from(tsv, path, err)) goto done;
    if (curves) {
        snprintf(path, sizeof path, "%s/curves.svg", out_dir);
        if (commit_from(curves, path, err)) goto done;
    }
    // Graphviz, when installed: render the graph (to a temporary name, then rename)
    int have_dot = system("command -v dot >/dev/null 2>&1") == 0;
    if (have_dot) {
        char cmd[20000];
        snprintf(gpath, sizeof gpath, "%s/circuit-graph.svg", out_dir);
        snprintf(cmd, sizeof cmd, "dot -Tsvg '%s/circuit.dot' -o '%s.tmp' && mv '%s.tmp' '%s'", out_dir, gpath, gpath, gpath);
        if (strchr(out_dir, '\'') || system(cmd) != 0) have_dot = 0;
    }
    x.graph_svg = have_dot ? gpath : NULL;
    write_html(html, &x, svg, curves);
    snprintf(path, sizeof path, "%s/index.html", out_dir);
    if (commit_from(html, path, err)) goto done;
    fprintf(out, "report in %s/: index.html, circuit.svg, circuit.dot%s, edges.tsv (%ld edges in Edge Pruning's "
                 "graph)%s\n", out_dir, have_dot ? ", circuit-graph.svg" : "", x.ec.edges,
            curves ? ", curves.svg" : "");
    if (!have_dot) fprintf(out, "note: Graphviz's dot is not installed, so circuit.dot was not drawn\n");
    rc = 0;
done:
    if (svg) fclose(svg);
    if (dot) fclose(dot);
    if (tsv) fclose(tsv);
    if (curves) fclose(curves);
    if (html) fclose(html);
    circuit_file_free(&c);
    return rc;
}

// --- sweep.svg (prune sweep) ----------------------------------------------------------

// Normalised recovery against the share of block weights kept, one point a target.
int sweep_plot_svg(const char *path, const SweepPoint *pts, int n, PruneErr *err) {
    // in order of size, so the line reads left to right
    int *ord = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (!ord) return perr(err, "out of memory.");
    for (int i = 0; i < n; i++) ord[i] = i;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && pts[ord[j]].share < pts[ord[j - 1]].share; j--) {
            int t = ord[j];
            ord[j] = ord[j - 1], ord[j - 1] = t;
        }
    AtomicFile svg;
    if (atomic_open(&svg, path, err)) {
        free(ord);
        return -1;
    }
    FILE *f = svg.f;
    int W = 560, H = 380, x0 = 70, y0 = 40, pw = 440, ph = 280;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n"
               "<text x=\"%d\" y=\"22\" font-size=\"13\" font-weight=\"bold\">faithfulness against size (held-out)</text>\n"
               "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>\n",
            W, H, W, H, W, H, x0, x0, y0, pw, ph);
    for (int t = 0; t <= 4; t++) {
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%d%%</text>", x0 - 4, y0 + ph - ph * t / 4 + 4, 25 * t);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%d%%</text>\n", x0 + pw * t / 4, y0 + ph + 16, 25 * t);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">share of block weights kept</text>\n"
               "<text x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" text-anchor=\"middle\">normalised "
               "recovery</text>\n<polyline fill=\"none\" stroke=\"#377eb8\" stroke-width=\"1.5\" points=\"",
            x0 + pw / 2, y0 + ph + 34, y0 + ph / 2, y0 + ph / 2);
    for (int k = 0; k < n; k++) {
        const SweepPoint *q = &pts[ord[k]];
        double y = isnan(q->recovered) ? 0 : q->recovered < 0 ? 0 : q->recovered > 1.2 ? 1.2 : q->recovered;
        fprintf(f, "%.1f,%.1f ", x0 + pw * q->share, y0 + ph - ph * y);
    }
    fprintf(f, "\"/>\n");
    for (int k = 0; k < n; k++) {
        const SweepPoint *q = &pts[ord[k]];
        double y = isnan(q->recovered) ? 0 : q->recovered < 0 ? 0 : q->recovered > 1.2 ? 1.2 : q->recovered;
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"#377eb8\"><title>target %g: %.1f%% of "
                   "weights, %.1f%% normalised recovery, KL %.4f</title></circle>\n", x0 + pw * q->share, y0 + ph - ph * y,
                q->target, 100 * q->share, 100 * q->recovered, q->kl);
    }
    fprintf(f, "</svg>\n");
    free(ord);
    return atomic_commit(&svg, err);
}

// --- compare.svg (prune compare) --------------------------------------------------------

// Each method's colour and whether it is a curve (a ranking's nested circuits) or a point.
static const struct {
    const char *method, *colour;
} COMPARE_STYLE[] = {
    {"search", "#e41a1c"},         {"search-head-only", "#ff7f00"}, {"knockout-head", "#377eb8"},
    {"knockout-mlp", "#4daf4a"},   {"attribution-head", "#984ea3"}, {"attribution-mlp", "#a65628"},
    {"attribution-neuron", "#999999"},
};
#define NUM_COMPARE_STYLES (int)(sizeof COMPARE_STYLE / sizeof COMPARE_STYLE[0])

void compare_plot_svg(FILE *f, const ComparePoint *pts, int n, int heads_total, double budget) {
    int pw = 300, ph = 200, gap = 70, x0 = 70, y0 = 40;
    int W = x0 + 2 * pw + gap + 20, H = y0 + 2 * ph + gap + 110;
    double klmax = budget > 0 ? budget * 10 : 1;  // the KL axis: 1e-4 .. the largest KL (log)
    for (int i = 0; i < n; i++)
        if (pts[i].kl > klmax) klmax = pts[i].kl;
    double lo = -4, hi = ceil(log10(klmax));
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n"
               "<text x=\"%d\" y=\"22\" font-size=\"13\" font-weight=\"bold\">faithfulness against size, held-out "
               "examples (prune compare)</text>\n", W, H, W, H, W, H, x0);
    for (int row = 0; row < 2; row++)
        for (int col = 0; col < 2; col++) {
            int px = x0 + col * (pw + gap), py = y0 + row * (ph + gap);
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>\n", px, py,
                    pw, ph);
            for (int t = 0; t <= 4; t++) {  // x ticks
                if (col == 0) fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%g</text>", px + pw * t / 4,
                                      py + ph + 14, heads_total * t / 4.0);
                else fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%d%%</text>", px + pw * t / 4,
                             py + ph + 14, 25 * t);
            }
            fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", px + pw / 2, py + ph + 30,
                    col == 0 ? "heads kept" : "share of block weights kept");
            if (row == 0) {
                for (double e = lo; e <= hi; e++)
                    fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">1e%g</text>", px - 4,
                            py + ph - ph * (e - lo) / (hi - lo) + 4, e);
                if (budget > 0) {
                    double yb = py + ph - ph * (log10(budget) - lo) / (hi - lo);
                    fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e41a1c\" "
                               "stroke-dasharray=\"4 3\"><title>KL budget %g</title></line>\n", px, yb, px + pw, yb, budget);
                }
            } else {
                for (int t = 0; t <= 4; t++)
                    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%d%%</text>", px - 4,
                            py + ph - ph * t / 4 + 4, 25 * t);
            }
            fprintf(f, "<text x=\"%d\" y=\"%d\" transform=\"rotate(-90 %d %d)\" text-anchor=\"middle\">%s</text>\n",
                    px - 44, py + ph / 2, px - 44, py + ph / 2, row == 0 ? "held-out KL(full || circuit)"
                                                                         : "normalised recovery");
            // the searches' points last, over the curves; a knockout and an attribution ranking
            // often agree, so attribution's lines are dashed to show both
            for (int s0 = 0; s0 < NUM_COMPARE_STYLES; s0++) {
                int s = (s0 + 2) % NUM_COMPARE_STYLES, first = 1, curve = 0;
                for (int i = 0; i < n; i++) {
                    const ComparePoint *q = &pts[i];
                    if (strcmp(q->method, COMPARE_STYLE[s].method)) continue;
                    double x = col == 0 ? (heads_total ? (double)q->heads / heads_total : 0) : q->share;
                    double y = row == 0 ? (log10(q->kl > 1e-4 ? q->kl : 1e-4) - lo) / (hi - lo)
                                        : (isnan(q->recovery) ? 0 : q->recovery);
                    y = y < 0 ? 0 : y > 1 ? 1 : y;
                    double cx = px + pw * x, cy = py + ph - ph * y;
                    if (q->k >= 0) {  // a curve: one polyline through its points in order of k
                        if (first)
                            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s points=\"",
                                    COMPARE_STYLE[s].colour,
                                    strncmp(q->method, "attribution", 11) ? "" : " stroke-dasharray=\"5 3\"");
                        fprintf(f, "%.1f,%.1f ", cx, cy);
                        first = 0, curve = 1;
                    } else {
                        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"9\" height=\"9\" fill=\"%s\" stroke=\"black\" "
                                   "transform=\"rotate(45 %.1f %.1f)\"><title>%s: %d heads, %.1f%% of weights, KL "
                                   "%.4f, recovery %.1f%%</title></rect>\n", cx - 4.5, cy - 4.5,
                                COMPARE_STYLE[s].colour, cx, cy, q->method, q->heads, 100 * q->share, q->kl,
                                100 * q->recovery);
                    }
                }
                if (curve) fprintf(f, "\"/>\n");
            }
        }
    int ly = y0 + 2 * ph + gap + 40;  // legend
    for (int s = 0; s < NUM_COMPARE_STYLES; s++) {
        int lx = x0 + (s % 4) * 165, yy = ly + (s / 4) * 18;
        int point = !strncmp(COMPARE_STYLE[s].method, "search", 6);
        if (point)
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"9\" height=\"9\" fill=\"%s\" stroke=\"black\" "
                       "transform=\"rotate(45 %d %d)\"/>", lx + 6, yy - 8, COMPARE_STYLE[s].colour, lx + 10, yy - 4);
        else
            fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>", lx,
                    yy - 4, lx + 20, yy - 4, COMPARE_STYLE[s].colour,
                    strncmp(COMPARE_STYLE[s].method, "attribution", 11) ? "" : " stroke-dasharray=\"5 3\"");
        fprintf(f, "<text x=\"%d\" y=\"%d\">%s</text>\n", lx + 26, yy, COMPARE_STYLE[s].method);
    }
    fprintf(f, "</svg>\n");
}
