// masks.c: the gates. Layout, hard-concrete sampling and the deterministic gate
// (method.md §5), the gate at each gated point as a product of the gates applied there and
// its gradient back to each gate (§3), and the readout with its consistency rules (§8).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

const char *const GRAN_NAMES[NUM_GRAN] = {"emb",  "layer",    "attn",   "mlp",
                                          "head", "attn_dim", "neuron", "mlp_out"};
const char *const ABLATION_NAMES[3] = {"corrupted", "mean", "zero"};

int masks_build(Masks *mk, const GPT2Config *c, const int enabled[NUM_GRAN], PruneErr *err) {
    memset(mk, 0, sizeof *mk);
    mk->L = c->L, mk->NH = c->NH, mk->C = c->C, mk->hs = c->C / c->NH;
    int counts[NUM_GRAN] = {1, c->L, c->L, c->L, c->L * c->NH, c->L * c->C, c->L * 4 * c->C, c->L * c->C};
    for (int g = 0; g < NUM_GRAN; g++) {
        mk->count[g] = counts[g];
        mk->off[g] = mk->total;
        mk->total += (size_t)counts[g];
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

int point_gates_build(PointGates *pg, const GPT2Config *c, PruneErr *err) {
    size_t C = c->C, L = c->L;
    pg->mem = pcalloc(sizeof(float) * (C + L * (C + C + 4 * C + C)), "point gates", err);
    if (!pg->mem) return -1;
    pg->emb = pg->mem;
    pg->atty = pg->emb + C;
    pg->attproj = pg->atty + L * C;
    pg->fch = pg->attproj + L * C;
    pg->fcproj = pg->fch + L * 4 * C;
    return 0;
}

void point_gates_free(PointGates *pg) {
    free(pg->mem);
    memset(pg, 0, sizeof *pg);
}

void point_gates_from_masks(PointGates *pg, const Masks *mk) {
    int L = mk->L, C = mk->C, hs = mk->hs;
    const float *z = mk->z;
    const float *zl = z + mk->off[G_LAYER], *za = z + mk->off[G_ATTN], *zm = z + mk->off[G_MLP],
                *zh = z + mk->off[G_HEAD], *zd = z + mk->off[G_ATTN_DIM],
                *zn = z + mk->off[G_NEURON], *zo = z + mk->off[G_MLP_OUT];
    for (int c = 0; c < C; c++) pg->emb[c] = z[mk->off[G_EMB]];
    for (int l = 0; l < L; l++) {
        for (int c = 0; c < C; c++) {
            pg->atty[l * C + c] = zh[l * mk->NH + c / hs] * zd[l * C + c];
            pg->attproj[l * C + c] = za[l] * zl[l];
            pg->fcproj[l * C + c] = zo[l * C + c] * zm[l] * zl[l];
        }
        memcpy(pg->fch + (size_t)l * 4 * C, zn + (size_t)l * 4 * C, sizeof(float) * 4 * (size_t)C);
    }
}

void masks_grad_from_points(Masks *mk, const PointGates *dpg) {
    int L = mk->L, C = mk->C, hs = mk->hs, NH = mk->NH;
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
        for (int c = 0; c < C; c++) {  // head dims: z = head * attn_dim
            float g = dpg->atty[l * C + c];
            dd[l * C + c] += g * zh[l * NH + c / hs];
            dh[l * NH + c / hs] += g * zd[l * C + c];
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
        for (int i = 0; i < 4 * C; i++) dn[(size_t)l * 4 * C + i] += dpg->fch[(size_t)l * 4 * C + i];
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
    int L = mk->L, C = mk->C, NH = mk->NH, hs = mk->hs;
    unsigned char *kl = keep + mk->off[G_LAYER], *ka = keep + mk->off[G_ATTN],
                  *km = keep + mk->off[G_MLP], *kh = keep + mk->off[G_HEAD],
                  *kd = keep + mk->off[G_ATTN_DIM], *kn = keep + mk->off[G_NEURON],
                  *ko = keep + mk->off[G_MLP_OUT];
    for (int l = 0; l < L; l++) {
        // downward: a pruned container prunes what it contains
        if (!kl[l]) ka[l] = km[l] = 0;
        for (int h = 0; h < NH; h++) {
            if (!ka[l]) kh[l * NH + h] = 0;
            if (!kh[l * NH + h]) memset(kd + (size_t)l * C + (size_t)h * hs, 0, (size_t)hs);
        }
        if (!km[l]) {
            memset(kn + (size_t)l * 4 * C, 0, 4 * (size_t)C);
            memset(ko + (size_t)l * C, 0, (size_t)C);
        }
        // upward: a container with nothing left inside is pruned
        int any_head = 0;
        for (int h = 0; h < NH; h++) {
            int any_dim = 0;
            for (int d = 0; d < hs; d++) any_dim |= kd[(size_t)l * C + (size_t)h * hs + d];
            if (!any_dim) kh[l * NH + h] = 0;
            any_head |= kh[l * NH + h];
        }
        if (!any_head) ka[l] = 0;
        int any_n = 0, any_o = 0;
        for (int i = 0; i < 4 * C; i++) any_n |= kn[(size_t)l * 4 * C + i];
        for (int c = 0; c < C; c++) any_o |= ko[(size_t)l * C + c];
        if (!any_n || !any_o) km[l] = 0;
        if (!ka[l] && !km[l]) kl[l] = 0;
        // and down again for what the upward pass removed
        if (!km[l]) {
            memset(kn + (size_t)l * 4 * C, 0, 4 * (size_t)C);
            memset(ko + (size_t)l * C, 0, (size_t)C);
        }
        if (!ka[l]) {
            memset(kh + (size_t)l * NH, 0, (size_t)NH);
            memset(kd + (size_t)l * C, 0, (size_t)C);
        }
    }
}

// Weights a kept unit uses, per layer (12 C^2 in all): a kept head uses its Q and K rows
// (2 hs C); each kept dimension of it uses its V row and its output-projection column
// (2 C); a kept neuron uses its fc row (C) and, in the output projection, the entries of
// the kept output dimensions (one per kept mlp_out dimension).
double circuit_weight_share(const Masks *mk, const unsigned char *keep, int layer) {
    int C = mk->C, NH = mk->NH, hs = mk->hs, lo = layer < 0 ? 0 : layer, hi = layer < 0 ? mk->L : layer + 1;
    double used = 0, total = 0;
    for (int l = lo; l < hi; l++) {
        total += 12.0 * C * C;
        const unsigned char *kh = keep + mk->off[G_HEAD] + (size_t)l * NH,
                            *kd = keep + mk->off[G_ATTN_DIM] + (size_t)l * C,
                            *kn = keep + mk->off[G_NEURON] + (size_t)l * 4 * C,
                            *ko = keep + mk->off[G_MLP_OUT] + (size_t)l * C;
        for (int h = 0; h < NH; h++) {
            if (!kh[h]) continue;
            used += 2.0 * hs * C;
            for (int d = 0; d < hs; d++) used += kd[h * hs + d] ? 2.0 * C : 0;
        }
        int nn = 0, no = 0;
        for (int i = 0; i < 4 * C; i++) nn += kn[i];
        for (int c = 0; c < C; c++) no += ko[c];
        used += (double)nn * C + (double)nn * no;
    }
    return total > 0 ? used / total : 0;
}
