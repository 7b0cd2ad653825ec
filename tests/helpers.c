// helpers.c: see helpers.h.
#include "helpers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void fill_normal(float *x, size_t n, Rng *r, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = scale * rng_normal(r);
}

void assert_close(const char *what, const float *a, const float *b, size_t n, double atol,
                  double rtol) {
    size_t worst = 0;
    double worst_excess = -1.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]), tol = atol + rtol * fabs((double)b[i]);
        if (!(d <= tol) && d - tol > worst_excess) {  // !(<=) also catches NaN
            worst_excess = isnan(d) ? INFINITY : d - tol;
            worst = i;
        }
    }
    if (worst_excess >= 0)
        fail_msg("%s: index %zu: got %.8g, expected %.8g (atol %g, rtol %g)", what, worst,
                 a[worst], b[worst], atol, rtol);
}

size_t fd_count(LossFn loss, void *ctx, float *x, const float *g, const size_t *idx, size_t n,
                float eps, double atol, double rtol, char *msg, size_t msg_cap) {
    size_t bad = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = idx ? idx[k] : k;
        float keep = x[i];
        x[i] = keep + eps;
        double lp = loss(ctx);
        x[i] = keep - eps;
        double lm = loss(ctx);
        x[i] = keep;
        // The step actually taken in float, not the nominal eps.
        double h = (double)(keep + eps) - (double)(keep - eps);
        double fd = (lp - lm) / h;
        if (!(fabs(fd - g[i]) <= atol + rtol * fabs(fd))) {
            if (!bad && msg)
                snprintf(msg, msg_cap, "d/dx[%zu]: analytic %.7g, finite difference %.7g (atol %g, rtol %g)",
                         i, g[i], fd, atol, rtol);
            bad++;
        }
    }
    return bad;
}

void fd_check(const char *what, LossFn loss, void *ctx, float *x, const float *g,
              const size_t *idx, size_t n, float eps, double atol, double rtol) {
    char msg[256];
    if (fd_count(loss, ctx, x, g, idx, n, eps, atol, rtol, msg, sizeof msg)) fail_msg("%s: %s", what, msg);
}

double dot_d(const float *out, const float *r, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)out[i] * r[i];
    return s;
}

static char g_tmpdir[256];

static void remove_tmpdir(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_tmpdir);
}

const char *tmp_path(const char *name) {
    static char buf[8][512];
    static int k = 0;
    if (!g_tmpdir[0]) {
        snprintf(g_tmpdir, sizeof g_tmpdir, "/tmp/prune-test-XXXXXX");
        if (!mkdtemp(g_tmpdir)) {
            perror("mkdtemp");
            abort();
        }
        atexit(remove_tmpdir);
    }
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_tmpdir, name);
    return buf[k];
}

int write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

void assert_same_file(const char *dir1, const char *dir2, const char *name) {
    char p1[1024], p2[1024], *t1, *t2;
    size_t l1, l2;
    PruneErr err;
    snprintf(p1, sizeof p1, "%s/%s", dir1, name);
    snprintf(p2, sizeof p2, "%s/%s", dir2, name);
    if (read_file(p1, &t1, &l1, &err) || read_file(p2, &t2, &l2, &err)) fail_msg("%s", err.msg);
    int same = l1 == l2 && memcmp(t1, t2, l1) == 0;
    free(t1), free(t2);
    if (!same) fail_msg("%s differs between %s and %s", name, dir1, dir2);
}

GPT2Config tiny_config(void) {
    GPT2Config c = {.maxT = 8, .V = 11, .Vp = 16, .L = 2, .NH = 2, .C = 8};
    gpt2_config_defaults(&c);
    return c;
}

GPT2Config tiny_llama_config(void) {
    // A = NH hs = 16 differs from C = 12 on purpose: no code may assume NH hs == C
    GPT2Config c = {.maxT = 8, .V = 11, .Vp = 16, .L = 2, .NH = 4, .NKV = 2, .hs = 4, .C = 12, .H = 10,
                    .norm = NORM_RMSNORM, .pos = POS_ROPE_HALVES, .mlp = MLP_SWIGLU,
                    .unembed = UNEMBED_UNTIED, .bias = BIAS_QKV, .norm_eps = 1e-5f,
                    .rope_theta = 10000.0f};
    gpt2_config_defaults(&c);
    return c;
}

float round_bf16(float x) {  // round to nearest even, as torch does
    uint32_t u;
    memcpy(&u, &x, 4);
    u += 0x7fff + ((u >> 16) & 1);
    u &= 0xffff0000u;
    memcpy(&x, &u, 4);
    return x;
}

static uint16_t to_bf16(float x) {
    x = round_bf16(x);
    uint32_t u;
    memcpy(&u, &x, 4);
    return (uint16_t)(u >> 16);
}

// float -> IEEE half, round to nearest even; only normal-range values are needed here.
static uint16_t to_f16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    uint32_t sign = (u >> 16) & 0x8000;
    int exp = (int)((u >> 23) & 0xff) - 127 + 15;
    uint32_t mant = u & 0x7fffff;
    if (exp <= 0) return (uint16_t)sign;  // flush tiny values (not used by the tests)
    uint32_t h = ((uint32_t)exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float round_f16(float x) {
    uint16_t h = to_f16(x);
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0) return sign ? -0.0f : 0.0f;
    uint32_t bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

typedef struct {
    char name[128];
    int rows, cols;   // HF shape (cols 0 for vectors)
    const float *src; // llm.c tensor start
    int transpose;    // src is (cols, rows) in llm.c, stored (rows, cols) in HF
} HfTensor;

int write_hf_model(const char *dir, const GPT2 *m, const char *dtype, const char *prefix,
                   int nshards) {
    const GPT2Config *c = &m->config;
    const ParameterTensors *p = &m->params;
    int C = c->C, L = c->L, nt = 0;
    HfTensor *ts = calloc(5 + 12 * (size_t)L, sizeof(HfTensor));
#define ADD(nm, r, cl, s, tr)                                                                    \
    do {                                                                                         \
        snprintf(ts[nt].name, sizeof ts[nt].name, "%s%s", prefix, nm);                           \
        ts[nt].rows = r, ts[nt].cols = cl, ts[nt].src = s, ts[nt].transpose = tr;                \
        nt++;                                                                                    \
    } while (0)
    ADD("wte.weight", c->V, C, p->wte, 0);
    ADD("wpe.weight", c->maxT, C, p->wpe, 0);
    for (int l = 0; l < L; l++) {
        char nm[96];
        size_t lC = (size_t)l * C, lCC = (size_t)l * C * C;
#define LADD(sfx, r, cl, s, tr)                                                                  \
    do {                                                                                         \
        snprintf(nm, sizeof nm, "h.%d.%s", l, sfx);                                              \
        ADD(nm, r, cl, s, tr);                                                                   \
    } while (0)
        LADD("ln_1.weight", C, 0, p->ln1w + lC, 0);
        LADD("ln_1.bias", C, 0, p->ln1b + lC, 0);
        LADD("attn.c_attn.weight", C, 3 * C, p->qkvw + 3 * lCC, 1);
        LADD("attn.c_attn.bias", 3 * C, 0, p->qkvb + 3 * lC, 0);
        LADD("attn.c_proj.weight", C, C, p->attprojw + lCC, 1);
        LADD("attn.c_proj.bias", C, 0, p->attprojb + lC, 0);
        LADD("ln_2.weight", C, 0, p->ln2w + lC, 0);
        LADD("ln_2.bias", C, 0, p->ln2b + lC, 0);
        LADD("mlp.c_fc.weight", C, 4 * C, p->fcw + 4 * lCC, 1);
        LADD("mlp.c_fc.bias", 4 * C, 0, p->fcb + 4 * lC, 0);
        LADD("mlp.c_proj.weight", 4 * C, C, p->fcprojw + 4 * lCC, 1);
        LADD("mlp.c_proj.bias", C, 0, p->fcprojb + lC, 0);
    }
    ADD("ln_f.weight", C, 0, p->lnfw, 0);
    ADD("ln_f.bias", C, 0, p->lnfb, 0);
    if (p->lm_head) ADD("lm_head.weight", c->V, C, p->lm_head, 0);  // an untied head
    int es = strcmp(dtype, "F32") ? 2 : 4;
    char path[1024];
    FILE *index = NULL;
    if (nshards > 1) {
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
        index = fopen(path, "w");
        fprintf(index, "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {");
    }
    int per = (nt + nshards - 1) / nshards, rc = 0;
    for (int s = 0; s < nshards; s++) {
        int lo = s * per, hi = lo + per < nt ? lo + per : nt;
        char header[65536];
        size_t hl = 0, off = 0;
        hl += snprintf(header + hl, sizeof header - hl, "{\"__metadata__\":{\"format\":\"pt\"}");
        for (int i = lo; i < hi; i++) {
            size_t n = (size_t)ts[i].rows * (ts[i].cols ? ts[i].cols : 1);
            if (ts[i].cols)
                hl += snprintf(header + hl, sizeof header - hl,
                               ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%d,%d],\"data_offsets\":[%zu,%zu]}",
                               ts[i].name, dtype, ts[i].rows, ts[i].cols, off, off + n * es);
            else
                hl += snprintf(header + hl, sizeof header - hl,
                               ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%d],\"data_offsets\":[%zu,%zu]}",
                               ts[i].name, dtype, ts[i].rows, off, off + n * es);
            off += n * es;
        }
        hl += snprintf(header + hl, sizeof header - hl, "}");
        while (hl % 8) header[hl++] = ' ';  // safetensors pads the header with spaces
        char fname[128];
        if (nshards > 1)
            snprintf(fname, sizeof fname, "model-%05d-of-%05d.safetensors", s + 1, nshards);
        else
            snprintf(fname, sizeof fname, "model.safetensors");
        snprintf(path, sizeof path, "%s/%s", dir, fname);
        FILE *f = fopen(path, "wb");
        uint64_t n64 = hl;
        fwrite(&n64, 8, 1, f);
        fwrite(header, 1, hl, f);
        for (int i = lo; i < hi; i++) {
            int R = ts[i].rows, K = ts[i].cols ? ts[i].cols : 1;
            for (int r = 0; r < R; r++)
                for (int k = 0; k < K; k++) {
                    float v = ts[i].transpose ? ts[i].src[(size_t)k * R + r] : ts[i].src[(size_t)r * K + k];
                    if (es == 4) {
                        fwrite(&v, 4, 1, f);
                    } else {
                        uint16_t h = strcmp(dtype, "BF16") ? to_f16(v) : to_bf16(v);
                        fwrite(&h, 2, 1, f);
                    }
                }
            if (index) fprintf(index, "%s\"%s\": \"%s\"", (i || s) ? ", " : "", ts[i].name, fname);
        }
        if (fclose(f)) rc = -1;
    }
    if (index) {
        fprintf(index, "}}\n");
        fclose(index);
    }
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"model_type\": \"gpt2\", \"activation_function\": \"gelu_new\", \"n_embd\": %d, "
               "\"n_layer\": %d, \"n_head\": %d, \"n_positions\": %d, \"vocab_size\": %d, "
               "\"n_inner\": null, \"layer_norm_epsilon\": 1e-05}\n",
            C, L, c->NH, c->maxT, c->V);
    fclose(f);
    free(ts);
    return rc;
}
