// metrics.c: the evaluator every circuit goes through (method.md §9): KL(full || circuit)
// at the answer position, logit and probability differences, pairwise and argmax
// accuracy, exact match; with gates fixed to a circuit's keep mask.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "prune.h"

#include <stddef.h>

const MetricInfo METRICS[NUM_METRICS] = {
    {"examples", "examples", "%12.0f", offsetof(Metrics, n), 1, 0},
    {"kl", "KL(full || .)", "%12.4f", offsetof(Metrics, kl), 0, 0},
    {"logit_diff", "logit difference", "%12.3f", offsetof(Metrics, ld), 0, 1},
    {"logit_diff_examples", "examples with a wrong answer", "%12.0f", offsetof(Metrics, n_ld), 1, 0},
    {"prob_diff", "probability difference", "%12.3f", offsetof(Metrics, pd), 0, 0},
    {"accuracy_pairwise", "accuracy (pairwise)", "%12.3f", offsetof(Metrics, acc_pair), 0, 0},
    {"accuracy_argmax", "accuracy (argmax)", "%12.3f", offsetof(Metrics, acc_argmax), 0, 0},
    {"exact_match", "exact match w/ full", "%12.3f", offsetof(Metrics, exact), 0, 0},
};

double metric_value(const Metrics *m, int k) {
    const char *base = (const char *)m + METRICS[k].offset;
    if (METRICS[k].is_count) return (double)*(const int *)base;
    if (METRICS[k].nullable && !m->n_ld) return NAN;
    return *(const double *)base;
}

int pruner_evaluate(Pruner *p, const Task *t, const unsigned char *keep, Metrics *out,
                    PruneErr *err) {
    const GPT2Config *c = &p->m->config;
    int V = c->V, Vp = c->Vp;
    (void)err;
    memset(out, 0, sizeof *out);
    float *full = p->full_buf, *full_logits = p->full_buf + (size_t)p->maxB * V;
    masks_set(&p->masks, keep);
    point_gates_from_masks(&p->pg, &p->masks);
    int idx[1024];
    for (int s = 0; s < t->n; s += p->maxB) {
        int n = t->n - s < p->maxB ? t->n - s : p->maxB;
        for (int b = 0; b < n; b++) idx[b] = s + b;
        int T = pruner_load_chunk(p, t, idx, n);
        pruner_forward_chunk(p, &p->ones, n, T, 0, NULL);
        memcpy(full, p->logp, sizeof(float) * (size_t)n * V);
        memcpy(full_logits, p->logits, sizeof(float) * (size_t)n * Vp);
        pruner_forward_chunk(p, &p->pg, n, T, 1, NULL);
        // KL >= 0; float rounding can leave a near-identical distribution at -1e-9
        double klc = pruner_kl_chunk(p, full, n, 0, 0, NULL);
        out->kl += klc > 0 ? klc : 0;
        for (int b = 0; b < n; b++) {
            const TaskExample *e = &t->ex[s + b];
            const float *lg = p->logits + (size_t)b * Vp, *lf = full_logits + (size_t)b * Vp;
            const float *lp = p->logp + (size_t)b * V;
            double mc = 0, mw = 0, fc = 0, fw = 0, pc = 0, pw = 0;
            for (int i = 0; i < e->n_correct; i++) {
                mc += lg[e->correct[i]], fc += lf[e->correct[i]], pc += exp(lp[e->correct[i]]);
            }
            for (int i = 0; i < e->n_wrong; i++) {
                mw += lg[e->wrong[i]], fw += lf[e->wrong[i]], pw += exp(lp[e->wrong[i]]);
            }
            if (e->n_wrong) {
                out->ld += mc / e->n_correct - mw / e->n_wrong;
                out->ld_full += fc / e->n_correct - fw / e->n_wrong;
                out->n_ld++;
            }
            out->pd += pc - pw;
            // one definition for single answers and answer sets: the correct set is more
            // probable than the wrong set (for single answers: the correct logit is higher)
            out->acc_pair += pc > pw;
            out->n_sets += e->n_correct > 1 || e->n_wrong > 1;
            int top = 0, ftop = 0;
            for (int v = 1; v < V; v++) {
                if (lg[v] > lg[top]) top = v;
                if (lf[v] > lf[ftop]) ftop = v;
            }
            int in_correct = 0;
            for (int i = 0; i < e->n_correct; i++) in_correct |= e->correct[i] == top;
            out->acc_argmax += in_correct;
            out->exact += top == ftop;
        }
        out->n += n;
    }
    if (out->n) {
        out->kl /= out->n, out->pd /= out->n, out->acc_pair /= out->n, out->acc_argmax /= out->n,
            out->exact /= out->n;
    }
    if (out->n_ld) out->ld /= out->n_ld, out->ld_full /= out->n_ld;
    return 0;
}

double metrics_recovery(const Metrics *c, const Metrics *full, const Metrics *empty) {
    int use_pd = c->n_sets > 0 || !c->n_ld;
    double vc = use_pd ? c->pd : c->ld, vf = use_pd ? full->pd : full->ld, ve = use_pd ? empty->pd : empty->ld;
    double gap = vf - ve, scale = fabs(vf) + fabs(ve) + 1e-12;
    if (!(fabs(gap) > 1e-3 * scale) || !(fabs(gap) > (use_pd ? 1e-4 : 1e-3))) return NAN;
    return (vc - ve) / gap;
}

int metrics_warnings(FILE *out, const Metrics *c, const Metrics *full, const Metrics *empty, double budget) {
    int n = 0;
    // chance for "p(correct) > p(wrong)" is about one half; a model that does not do the task
    // has no mechanism for a circuit to find
    if (full->n && full->acc_pair < 0.6) {
        fprintf(out, "warning: the full model is near chance on this task (pairwise accuracy %.3f): there is "
                     "little behaviour for a circuit to explain\n", full->acc_pair);
        n++;
    }
    if (!isnan(budget) && empty->n && empty->kl <= budget) {
        fprintf(out, "warning: the empty circuit is already within the KL budget (KL(full || empty) = %.4f <= %g): "
                     "for this model the ablation barely changes the answer, so any circuit meets it\n",
                empty->kl, budget);
        n++;
    }
    if (!isnan(budget) && c->n && c->kl > budget) {
        fprintf(out, "warning: on these examples the circuit misses the KL budget: KL(full || circuit) = %.4f > "
                     "%g\n", c->kl, budget);
        n++;
    }
    return n;
}
