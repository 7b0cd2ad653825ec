// ablation.c: what a pruned unit's value becomes (method.md §4), as one object: the table
// of ablations and, for each gated point of a layer, the reference the taps mix in.
// corrupted: the same activation of the reference stream (the corrupted prompt) run beside
// the clean one in the same pass; mean: the per-unit mean over the train prompts' real
// positions, gathered once before the search; zero: nothing (x_ref = 0).
// Adding an ablation (e.g. resample) touches this file and its CLI name only. It does not
// run the model: the search (search.c) runs the streams this table asks for.
#include <string.h>

#include "prune.h"

const AblationInfo ABLATIONS[NUM_ABLATIONS] = {
    [ABL_CORRUPTED] = {"corrupted", 2, 0, 1},
    [ABL_MEAN] = {"mean", 1, 1, 1},
    [ABL_ZERO] = {"zero", 1, 0, 0},
};

const char *ablation_names(void) {
    static char buf[64];
    if (!buf[0])
        for (int k = 0; k < NUM_ABLATIONS; k++) list_append(buf, sizeof buf, ABLATIONS[k].name);
    return buf;
}

void ablation_refs(BlockTaps *t, const Pruner *p, int l, int n, int T, int stream_ref) {
    const GPT2Config *c = &p->m->config;
    size_t C = c->C, A = cfg_attn_width(c), H = c->H, BT = (size_t)n * T;
    Tap *tap[4] = {&t->heads, &t->attn, &t->neurons, &t->mlp};
    const GatedPoint pts[4] = {POINT_HEADS, POINT_ATTN, POINT_NEURONS, POINT_MLP};
    switch (p->cfg.ablation) {
    case ABL_CORRUPTED:
        if (!stream_ref) break;  // the reference stream was not run: every gate is 1
        // the stored reference heads and neurons, and its block outputs in p->ar's first half
        t->heads.ref = p->ref_atty + l * BT * A, t->heads.ref_stride = A;
        t->attn.ref = p->ar.attproj, t->attn.ref_stride = C;
        t->neurons.ref = p->ref_fch + l * BT * H, t->neurons.ref_stride = H;
        t->mlp.ref = p->ar.fcproj, t->mlp.ref_stride = C;
        break;
    case ABL_MEAN:
        for (int k = 0; k < 4; k++) tap[k]->ref = p->means + point_offset(c, pts[k], l), tap[k]->ref_stride = 0;
        break;
    default: break;  // zero
    }
}

void ablation_emb_ref(Tap *t, const Pruner *p, int stream_ref) {
    if (p->cfg.ablation == ABL_CORRUPTED && stream_ref)
        t->ref = p->resid, t->ref_stride = (size_t)p->m->config.C;  // the reference's embedding
    else if (p->cfg.ablation == ABL_MEAN)
        t->ref = p->means, t->ref_stride = 0;
}

// Sums over real positions of layer l's (ungated) values at its four points, and of the
// embedding with layer 0: stats has points_floats(c) entries in point_offset's layout.
void ablation_accumulate_means(double *stats, const Pruner *p, const LayerActs *a, int l, int n, int T) {
    const GPT2Config *c = &p->m->config;
    int C = c->C, A = cfg_attn_width(c), H = c->H;
    const float *src[4] = {a->atty, a->attproj, a->fch_gelu, a->fcproj};
    const int width[4] = {A, C, H, C};
    const GatedPoint pts[4] = {POINT_HEADS, POINT_ATTN, POINT_NEURONS, POINT_MLP};
    for (int k = 0; k < 4; k++) {
        double *s = stats + point_offset(c, pts[k], l);
        for (int b = 0; b < n; b++)
            for (int t = 0; t < p->lens[b]; t++) {
                const float *row = src[k] + ((size_t)b * T + t) * width[k];
                for (int i = 0; i < width[k]; i++) s[i] += row[i];
            }
    }
    if (l == 0)
        for (int b = 0; b < n; b++)
            for (int t = 0; t < p->lens[b]; t++)
                for (int i = 0; i < C; i++) stats[i] += p->emb_c[((size_t)b * T + t) * C + i];
}
