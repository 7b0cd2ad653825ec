// masks.c: the gates. Layout, hard-concrete sampling and the deterministic gate
// (method.md §5), the gate at each gated point as a product of the gates applied there and
// its gradient back to each gate (§3), and the readout with its consistency rules (§8).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

// The one table of granularities (method.md §3). Adding one: a row here, its count in
// gran_per_layer, its product at its point in point_gates_from_masks/masks_grad_from_points,
// and its consistency rule in circuit_make_consistent.
const GranInfo GRANULARITIES[NUM_GRAN] = {
    [G_EMB] = {"emb", "1", -1, {POINT_EMB, -1}, 0},
    [G_LAYER] = {"layer", "L", -1, {POINT_ATTN, POINT_MLP}, 0},
    [G_ATTN] = {"attn", "L", G_LAYER, {POINT_ATTN, -1}, 0},
    [G_MLP] = {"mlp", "L", G_LAYER, {POINT_MLP, -1}, 0},
    [G_HEAD] = {"head", "L x NH", G_ATTN, {POINT_HEADS, -1}, 1},
    [G_ATTN_DIM] = {"attn_dim", "L x NH hs", G_HEAD, {POINT_HEADS, -1}, 1},
    [G_NEURON] = {"neuron", "L x H", G_MLP, {POINT_NEURONS, -1}, 1},
    [G_MLP_OUT] = {"mlp_out", "L x C", G_MLP, {POINT_MLP, -1}, 1},
};

const char *gran_names(void) {
    static char buf[128];
    if (!buf[0])
        for (int g = 0; g < NUM_GRAN; g++) list_append(buf, sizeof buf, GRANULARITIES[g].name);
    return buf;
}

int gran_per_layer(int g, const GPT2Config *c) {
    switch (g) {
    case G_EMB: return 1;
    case G_HEAD: return c->NH;
    case G_ATTN_DIM: return cfg_attn_width(c);
    case G_NEURON: return c->H;
    case G_MLP_OUT: return c->C;
    default: return 1;  // layer, attn, mlp
    }
}

int gran_count(int g, const GPT2Config *c) { return g == G_EMB ? 1 : c->L * gran_per_layer(g, c); }

size_t gran_total(const GPT2Config *c) {
    size_t n = 0;
    for (int g = 0; g < NUM_GRAN; g++) n += (size_t)gran_count(g, c);
    return n;
}

int masks_build(Masks *mk, const GPT2Config *c, const int enabled[NUM_GRAN], PruneErr *err) {
    memset(mk, 0, sizeof *mk);
    mk->L = c->L, mk->NH = c->NH, mk->C = c->C, mk->hs = c->hs, mk->A = cfg_attn_width(c), mk->H = c->H;
    ParamSpec spec[NUM_PARAM_TENSORS];
    gpt2_param_table(spec, c);
    for (int i = 0; i < NUM_PARAM_TENSORS; i++)
        if (spec[i].per_layer && spec[i].kind == PK_MATRIX) mk->block_weights += (double)param_layer_floats(&spec[i]);
    for (int g = 0; g < NUM_GRAN; g++) {
        mk->count[g] = gran_count(g, c);
        mk->off[g] = mk->total;
        mk->total += (size_t)mk->count[g];
        mk->enabled[g] = enabled[g];
    }
    mk->mem = pcalloc(sizeof(float) * mk->total * 6, "mask parameters", err);
    if (!mk->mem) return -1;
    float **arr[6] = {&mk->log_alpha, &mk->z, &mk->dzdla, &mk->dz, &mk->adam_m, &mk->adam_v};
    for (int i = 0; i < 6; i++) *arr[i] = mk->mem + (size_t)i * mk->total;
    for (size_t i = 0; i < mk->total; i++) mk->z[i] = 1.0f;
    return 0;
}

void masks_free(Masks *mk) {
    free(mk->mem);
    memset(mk, 0, sizeof *mk);
}

void masks_init_log_alpha(Masks *mk, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed ^ 0x6C6F67616C706861ull);  // its own stream: "logalpha"
    for (size_t i = 0; i < mk->total; i++) mk->log_alpha[i] = 1.5f + rng_uniform(&r);
    memset(mk->adam_m, 0, sizeof(float) * mk->total);
    memset(mk->adam_v, 0, sizeof(float) * mk->total);
}

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

static int gran_of(const Masks *mk, size_t i) {
    int g = NUM_GRAN - 1;
    while (g > 0 && i < mk->off[g]) g--;
    return g;
}

void masks_sample(Masks *mk, Rng *r) {
    const float eps = 1e-6f;  // keeps log(u) and log(1-u) finite
    for (int g = 0; g < NUM_GRAN; g++) {
        float *z = mk->z + mk->off[g], *d = mk->dzdla + mk->off[g], *la = mk->log_alpha + mk->off[g];
        for (int i = 0; i < mk->count[g]; i++) {
            if (!mk->enabled[g]) {
                z[i] = 1.0f, d[i] = 0.0f;
                continue;
            }
            float u = eps + (1.0f - 2.0f * eps) * rng_uniform(r);
            float s = sigmoidf((logf(u) - logf(1.0f - u) + la[i]) / HC_BETA);
            float zz = s * (HC_HI - HC_LO) + HC_LO;
            // the gradient flows through s only where the clamp is inactive
            if (zz <= 0.0f) z[i] = 0.0f, d[i] = 0.0f;
            else if (zz >= 1.0f) z[i] = 1.0f, d[i] = 0.0f;
            else z[i] = zz, d[i] = (HC_HI - HC_LO) * s * (1.0f - s) / HC_BETA;
        }
    }
}

void masks_deterministic(Masks *mk) {
    for (size_t i = 0; i < mk->total; i++) {
        if (!mk->enabled[gran_of(mk, i)]) {
            mk->z[i] = 1.0f, mk->dzdla[i] = 0.0f;
            continue;
        }
        float s = sigmoidf(mk->log_alpha[i]), zz = s * (HC_HI - HC_LO) + HC_LO;
        if (zz <= 0.0f) mk->z[i] = 0.0f, mk->dzdla[i] = 0.0f;
        else if (zz >= 1.0f) mk->z[i] = 1.0f, mk->dzdla[i] = 0.0f;
        else mk->z[i] = zz, mk->dzdla[i] = (HC_HI - HC_LO) * s * (1.0f - s);
    }
}

void masks_set(Masks *mk, const unsigned char *keep) {
    for (size_t i = 0; i < mk->total; i++) {
        mk->z[i] = keep ? (float)(keep[i] != 0) : 1.0f;
        mk->dzdla[i] = 0.0f;
    }
}

float hc_p_nonzero(float log_alpha) {
    return sigmoidf(log_alpha - HC_BETA * logf(-HC_LO / HC_HI));
}

double masks_density(const Masks *mk, int g) {
    if (!mk->enabled[g]) return 1.0;
    double s = 0;
    for (int i = 0; i < mk->count[g]; i++) s += hc_p_nonzero(mk->log_alpha[mk->off[g] + i]);
    return s / mk->count[g];
}

// --- gated points ---------------------------------------------------------------------

// The one layout of values at the gated points: the embedding (C), then every layer's
// heads (L,A), attention outputs (L,C), neurons (L,H), MLP outputs (L,C).
size_t point_offset(const GPT2Config *c, GatedPoint pt, int l) {
    size_t C = c->C, L = c->L, A = cfg_attn_width(c), H = c->H;
    switch (pt) {
    case POINT_HEADS: return C + (size_t)l * A;
    case POINT_ATTN: return C + L * A + (size_t)l * C;
    case POINT_NEURONS: return C + L * (A + C) + (size_t)l * H;
    case POINT_MLP: return C + L * (A + C + H) + (size_t)l * C;
    default: return 0;  // POINT_EMB
    }
}

size_t points_floats(const GPT2Config *c) { return point_offset(c, POINT_MLP, c->L); }

int point_gates_build(PointGates *pg, const GPT2Config *c, PruneErr *err) {
    pg->mem = pcalloc(sizeof(float) * points_floats(c), "point gates", err);
    if (!pg->mem) return -1;
    pg->emb = pg->mem;
    pg->atty = pg->mem + point_offset(c, POINT_HEADS, 0);
    pg->attproj = pg->mem + point_offset(c, POINT_ATTN, 0);
    pg->fch = pg->mem + point_offset(c, POINT_NEURONS, 0);
    pg->fcproj = pg->mem + point_offset(c, POINT_MLP, 0);
    return 0;
}

void point_gates_free(PointGates *pg) {
    free(pg->mem);
    memset(pg, 0, sizeof *pg);
}

void point_gates_from_masks(PointGates *pg, const Masks *mk) {
    int L = mk->L, C = mk->C, hs = mk->hs, A = mk->A, H = mk->H;
    const float *z = mk->z;
    const float *zl = z + mk->off[G_LAYER], *za = z + mk->off[G_ATTN], *zm = z + mk->off[G_MLP],
                *zh = z + mk->off[G_HEAD], *zd = z + mk->off[G_ATTN_DIM],
                *zn = z + mk->off[G_NEURON], *zo = z + mk->off[G_MLP_OUT];
    for (int c = 0; c < C; c++) pg->emb[c] = z[mk->off[G_EMB]];
    for (int l = 0; l < L; l++) {
        for (int d = 0; d < A; d++) pg->atty[l * A + d] = zh[l * mk->NH + d / hs] * zd[l * A + d];
        for (int c = 0; c < C; c++) {
            pg->attproj[l * C + c] = za[l] * zl[l];
            pg->fcproj[l * C + c] = zo[l * C + c] * zm[l] * zl[l];
        }
        memcpy(pg->fch + (size_t)l * H, zn + (size_t)l * H, sizeof(float) * (size_t)H);
    }
}

void masks_grad_from_points(Masks *mk, const PointGates *dpg) {
    int L = mk->L, C = mk->C, hs = mk->hs, NH = mk->NH, A = mk->A, H = mk->H;
    const float *z = mk->z;
    float *dz = mk->dz;
    const float *zl = z + mk->off[G_LAYER], *za = z + mk->off[G_ATTN], *zm = z + mk->off[G_MLP],
                *zh = z + mk->off[G_HEAD], *zd = z + mk->off[G_ATTN_DIM], *zo = z + mk->off[G_MLP_OUT];
    float *dl = dz + mk->off[G_LAYER], *da = dz + mk->off[G_ATTN], *dm = dz + mk->off[G_MLP],
          *dh = dz + mk->off[G_HEAD], *dd = dz + mk->off[G_ATTN_DIM], *dn = dz + mk->off[G_NEURON],
          *dout = dz + mk->off[G_MLP_OUT];
    double e = 0;
    for (int c = 0; c < C; c++) e += dpg->emb[c];
    dz[mk->off[G_EMB]] += (float)e;
    for (int l = 0; l < L; l++) {
        for (int d = 0; d < A; d++) {  // head dims: z = head * attn_dim
            float g = dpg->atty[l * A + d];
            dd[l * A + d] += g * zh[l * NH + d / hs];
            dh[l * NH + d / hs] += g * zd[l * A + d];
        }
        double ga = 0, gm = 0;
        for (int c = 0; c < C; c++) {
            ga += dpg->attproj[l * C + c];  // attention block: z = attn * layer
            float g = dpg->fcproj[l * C + c];  // MLP output dims: z = mlp_out * mlp * layer
            dout[l * C + c] += g * zm[l] * zl[l];
            gm += (double)g * zo[l * C + c];
        }
        da[l] += (float)(ga * zl[l]);
        dl[l] += (float)(ga * za[l] + gm * zm[l]);
        dm[l] += (float)(gm * zl[l]);
        for (int i = 0; i < H; i++) dn[(size_t)l * H + i] += dpg->fch[(size_t)l * H + i];
    }
}

// --- readout ------------------------------------------------------------------------

void masks_readout(const Masks *mk, unsigned char *keep) {
    for (int g = 0; g < NUM_GRAN; g++)
        for (int i = 0; i < mk->count[g]; i++) {
            size_t k = mk->off[g] + (size_t)i;
            keep[k] = !mk->enabled[g] || mk->log_alpha[k] > 0.0f;
        }
    circuit_make_consistent(mk, keep);
}

void circuit_make_consistent(const Masks *mk, unsigned char *keep) {
    int L = mk->L, C = mk->C, NH = mk->NH, hs = mk->hs, A = mk->A, H = mk->H;
    unsigned char *kl = keep + mk->off[G_LAYER], *ka = keep + mk->off[G_ATTN],
                  *km = keep + mk->off[G_MLP], *kh = keep + mk->off[G_HEAD],
                  *kd = keep + mk->off[G_ATTN_DIM], *kn = keep + mk->off[G_NEURON],
                  *ko = keep + mk->off[G_MLP_OUT];
    for (int l = 0; l < L; l++) {
        // downward: a pruned container prunes what it contains
        if (!kl[l]) ka[l] = km[l] = 0;
        for (int h = 0; h < NH; h++) {
            if (!ka[l]) kh[l * NH + h] = 0;
            if (!kh[l * NH + h]) memset(kd + (size_t)l * A + (size_t)h * hs, 0, (size_t)hs);
        }
        if (!km[l]) {
            memset(kn + (size_t)l * H, 0, (size_t)H);
            memset(ko + (size_t)l * C, 0, (size_t)C);
        }
        // upward: a container with nothing left inside is pruned; under zero ablation an
        // attention block (MLP) with no head (neuron) left still adds its output projection's
        // bias, the function the search was trained with, so it stays (bias_flows)
        int any_head = 0;
        for (int h = 0; h < NH; h++) {
            int any_dim = 0;
            for (int d = 0; d < hs; d++) any_dim |= kd[(size_t)l * A + (size_t)h * hs + d];
            if (!any_dim) kh[l * NH + h] = 0;
            any_head |= kh[l * NH + h];
        }
        if (!any_head && !mk->bias_flows) ka[l] = 0;
        int any_n = 0, any_o = 0;
        for (int i = 0; i < H; i++) any_n |= kn[(size_t)l * H + i];
        for (int c = 0; c < C; c++) any_o |= ko[(size_t)l * C + c];
        if ((!any_n && !mk->bias_flows) || !any_o) km[l] = 0;
        if (!ka[l] && !km[l]) kl[l] = 0;
        // and down again for what the upward pass removed
        if (!km[l]) {
            memset(kn + (size_t)l * H, 0, (size_t)H);
            memset(ko + (size_t)l * C, 0, (size_t)C);
        }
        if (!ka[l]) {
            memset(kh + (size_t)l * NH, 0, (size_t)NH);
            memset(kd + (size_t)l * A, 0, (size_t)A);
        }
    }
}

// Weights a kept unit uses, per layer (of the block's matrices in the parameter table: 12 C^2
// for GPT-2): a kept head uses its Q and K rows (2 hs C); each kept dimension of
// it uses its V row and its output-projection column (2 C); a kept neuron uses its fc row
// (C) and, in the output projection, the entries of the kept output dimensions (one per
// kept mlp_out dimension).
double circuit_weight_share(const Masks *mk, const unsigned char *keep, int layer) {
    int C = mk->C, NH = mk->NH, hs = mk->hs, A = mk->A, H = mk->H;
    int lo = layer < 0 ? 0 : layer, hi = layer < 0 ? mk->L : layer + 1;
    double used = 0, total = 0;
    for (int l = lo; l < hi; l++) {
        total += mk->block_weights;
        const unsigned char *kh = keep + mk->off[G_HEAD] + (size_t)l * NH,
                            *kd = keep + mk->off[G_ATTN_DIM] + (size_t)l * A,
                            *kn = keep + mk->off[G_NEURON] + (size_t)l * H,
                            *ko = keep + mk->off[G_MLP_OUT] + (size_t)l * C;
        for (int h = 0; h < NH; h++) {
            if (!kh[h]) continue;
            used += 2.0 * hs * C;
            for (int d = 0; d < hs; d++) used += kd[h * hs + d] ? 2.0 * C : 0;
        }
        int nn = 0, no = 0;
        for (int i = 0; i < H; i++) nn += kn[i];
        for (int c = 0; c < C; c++) no += ko[c];
        used += (double)nn * C + (double)nn * no;
    }
    return total > 0 ? used / total : 0;
}
