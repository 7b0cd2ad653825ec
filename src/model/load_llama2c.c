// load_llama2c.c: llama2.c checkpoints (github.com/karpathy/llama2.c, MIT), fp32.
//   version 0 ("legacy", run.c's own format): 7 int32 (dim, hidden_dim, n_layers, n_heads,
//     n_kv_heads, vocab_size, seq_len; vocab_size < 0: an unshared classifier follows), then
//     token embedding (V,dim), rms_att (L,dim), wq (L,dim,dim), wk (L,kv,dim), wv (L,kv,dim),
//     wo (L,dim,dim), rms_ffn (L,dim), w1 (L,hidden,dim), w2 (L,dim,hidden), w3 (L,hidden,dim),
//     rms_final (dim), freq_cis_real and freq_cis_imag (seq_len*hs/2 each, unused: prune
//     computes RoPE), [wcls (V,dim)].
//   version 1 (export.py version1_export): uint32 magic 0x616b3432 ("ak42"), int32 version 1,
//     the same 7 int32 (vocab_size positive), uint8 shared_classifier, zeros to byte 256; then
//     rms_att (L,dim), rms_ffn (L,dim), rms_final (dim), token embedding, wq, wk, wv, wo, w1,
//     w2, w3 (as above), [wcls].
//   version 2 (int8, Q8_0 groups) is refused with a hint.
// The model is llama2.c's run.c: RMSNorm eps 1e-5, RoPE theta 10000 on interleaved pairs,
// SwiGLU with w1 the gate, w3 the up and w2 the down projection, no biases, hs = dim/n_heads.
// The weights are copied into prune's layout (fused [wq|wk|wv] and [w1|w3] per layer).
// Header parsing is a pure function (fuzzed).
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gpt2.h"

#define L2C_MAGIC 0x616b3432u
#define L2C_V1_HEADER 256

static const char *L2C_NAMES[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads",
                                   "vocab_size", "seq_len"};

// Floats of the file's weights for config c (version 0 adds the two freq_cis tables).
static size_t l2c_floats(const GPT2Config *c, int version, int shared) {
    size_t C = c->C, L = c->L, H = c->H, V = c->V, kv = (size_t)c->NKV * c->hs;
    size_t n = V * C + 2 * L * C + C + L * C * C * 2 + 2 * L * kv * C + 3 * L * H * C;
    if (version == 0) n += 2 * (size_t)c->maxT * (c->hs / 2);
    if (!shared) n += V * C;
    return n;
}

int llama2c_parse_header(const unsigned char *hdr, size_t n, size_t file_size, const char *path,
                         GPT2Config *c, int *version, int *shared, size_t *offset, PruneErr *err) {
    int32_t v[9];
    if (n < 28 || file_size < 28)
        return perr(err, "%s: %zu bytes, shorter than a llama2.c header (28 bytes). Hint: the file "
                         "is truncated or not a llama2.c checkpoint.", path, file_size < n ? file_size : n);
    memcpy(v, hdr, n < sizeof v ? n : sizeof v);
    const int32_t *p;
    if ((uint32_t)v[0] == L2C_MAGIC) {
        if (n < 37 || file_size < L2C_V1_HEADER)
            return perr(err, "%s: file is truncated inside its 256-byte llama2.c header. Hint: the "
                             "download or copy was cut short.", path);
        if (v[1] == 2)
            return perr(err, "%s: a llama2.c version-2 (int8, Q8_0) checkpoint: prune reads fp32 "
                             "weights only. Hint: re-export it with llama2.c's export.py --version 1.",
                        path);
        if (v[1] != 1)
            return perr(err, "%s: header field 'version' (int32 #1): expected 1 (fp32), found %d. "
                             "Hint: re-export it with llama2.c's export.py --version 1.", path, v[1]);
        *version = 1;
        p = v + 2;
        if (hdr[36] > 1)
            return perr(err, "%s: header byte 36 (shared_classifier): expected 0 or 1, found %d. Hint: "
                             "the header is damaged.", path, hdr[36]);
        *shared = hdr[36];
        *offset = L2C_V1_HEADER;
        if (p[5] <= 0)
            return perr(err, "%s: header field 'vocab_size': expected a positive value in a version-1 "
                             "file, found %d. Hint: the header is damaged.", path, p[5]);
    } else {
        *version = 0;
        p = v;
        *shared = p[5] > 0;
        *offset = 28;
    }
    int32_t d[7];
    memcpy(d, p, sizeof d);
    if (d[5] < 0 && d[5] != INT32_MIN) d[5] = -d[5];
    for (int i = 0; i < 7; i++)
        if (d[i] <= 0)
            return perr(err, "%s: llama2.c header field '%s': expected a positive value, found %d. "
                             "Hint: not a llama2.c checkpoint, or its header is damaged.", path,
                        L2C_NAMES[i], d[i]);
    if (d[0] % d[3] != 0)
        return perr(err, "%s: dim = %d is not a multiple of n_heads = %d (llama2.c's head size is "
                         "dim / n_heads). Hint: the header is damaged.", path, d[0], d[3]);
    memset(c, 0, sizeof *c);
    c->C = d[0], c->H = d[1], c->L = d[2], c->NH = d[3], c->NKV = d[4], c->V = c->Vp = d[5];
    c->maxT = d[6], c->hs = d[0] / d[3];
    c->norm = NORM_RMSNORM, c->pos = POS_ROPE_INTERLEAVED, c->mlp = MLP_SWIGLU, c->bias = BIAS_NONE;
    c->unembed = *shared ? UNEMBED_TIED : UNEMBED_UNTIED;
    c->norm_eps = 1e-5f, c->rope_theta = 10000.0f;
    gpt2_config_defaults(c);
    if (gpt2_config_check(c, path, err)) return -1;
    size_t expect = *offset + l2c_floats(c, *version, *shared) * 4;
    if (file_size != expect)
        return perr(err, "%s: %zu bytes, but a llama2.c version-%d checkpoint with dim %d, "
                         "hidden_dim %d, n_layers %d, n_heads %d, n_kv_heads %d, vocab_size %d "
                         "(%s classifier), seq_len %d has %zu. Hint: the file is %s.", path,
                    file_size, *version, c->C, c->H, c->L, c->NH, c->NKV, c->V,
                    *shared ? "shared" : "separate", c->maxT, expect,
                    file_size < expect ? "truncated" : "damaged or not a llama2.c checkpoint");
    return 0;
}

int llama2c_sniff(const char *path) {
    struct stat st0;  // never open a FIFO or device here (it would block): the llm.c loader refuses it
    if (stat(path, &st0) || !S_ISREG(st0.st_mode)) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char hdr[64] = {0};
    size_t n = fread(hdr, 1, sizeof hdr, f);
    struct stat st;
    int ok = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    fclose(f);
    if (!ok || n < 28) return 0;
    uint32_t magic;
    memcpy(&magic, hdr, 4);
    if (magic == L2C_MAGIC) return 1;
    GPT2Config c;
    int version, shared;
    size_t off;
    PruneErr e;
    if (llama2c_parse_header(hdr, n, (size_t)st.st_size, path, &c, &version, &shared, &off, &e) == 0) return 1;
    // a version-0 header that looks like one (its first three fields and seq_len in range) but
    // does not fit the file (truncated, damaged fields): the llama2.c loader names what is
    // wrong, where the llm.c loader would only say the magic number is not its own
    int32_t h[7];
    memcpy(h, hdr, sizeof h);
    return h[0] > 0 && h[0] <= 65536 && h[1] > 0 && h[1] <= (1 << 20) && h[2] > 0 && h[2] <= 4096 && h[3] >= 0 &&
           h[3] <= h[0] && h[4] >= 0 && h[4] <= h[0] && h[5] != 0 && h[5] > -(1 << 22) && h[5] < (1 << 22) && h[6] > 0 &&
           h[6] <= (1 << 22);
}

typedef struct {
    GPT2 *m;
    const float *src;  // the file's weights
    int version, shared;
    const char *path;
} L2cRead;

// Copies L layers of (rows, cols) from *src into layer l of dst at row offset row0 of a
// (drows, cols) per-layer tensor, and advances *src.
static void take_layers(float *dst, const float **src, int L, size_t rows, size_t cols, size_t drows,
                        size_t row0) {
    for (int l = 0; l < L; l++) {
        memcpy(dst + ((size_t)l * drows + row0) * cols, *src, sizeof(float) * rows * cols);
        *src += rows * cols;
    }
}

static int l2c_read_weights(void *ctx, PruneErr *err) {
    L2cRead *r = ctx;
    GPT2 *m = r->m;
    const GPT2Config *c = &m->config;
    ParameterTensors *w = &m->params;
    size_t C = c->C, H = c->H, V = c->V, A = cfg_attn_width(c), kv = (size_t)c->NKV * c->hs;
    size_t QKV = cfg_qkv_width(c);
    int L = c->L;
    const float *s = r->src;
    if (r->version == 1) {
        take_layers(w->ln1w, &s, L, C, 1, C, 0);
        take_layers(w->ln2w, &s, L, C, 1, C, 0);
        take_layers(w->lnfw, &s, 1, C, 1, C, 0);
    }
    take_layers(w->wte, &s, 1, V, C, V, 0);
    if (r->version == 0) take_layers(w->ln1w, &s, L, C, 1, C, 0);
    take_layers(w->qkvw, &s, L, A, C, QKV, 0);
    take_layers(w->qkvw, &s, L, kv, C, QKV, A);
    take_layers(w->qkvw, &s, L, kv, C, QKV, A + kv);
    take_layers(w->attprojw, &s, L, C, A, C, 0);
    if (r->version == 0) take_layers(w->ln2w, &s, L, C, 1, C, 0);
    take_layers(w->fcw, &s, L, H, C, 2 * H, 0);      // w1: the gate
    take_layers(w->fcprojw, &s, L, C, H, C, 0);      // w2: the down projection
    take_layers(w->fcw, &s, L, H, C, 2 * H, H);      // w3: the up projection
    if (r->version == 0) {
        take_layers(w->lnfw, &s, 1, C, 1, C, 0);
        s += 2 * (size_t)c->maxT * (c->hs / 2);  // freq_cis_real, freq_cis_imag
    }
    if (!r->shared) take_layers(w->lm_head, &s, 1, V, C, V, 0);
    for (size_t i = 0; i < m->num_parameters; i++)
        if (!isfinite(m->params_memory[i]))
            return perr(err, "%s: weight #%zu (in prune's layout) is %s. Hint: the weights are "
                             "damaged; prune needs finite weights.", r->path, i,
                        isnan(m->params_memory[i]) ? "NaN" : "infinite");
    return 0;
}

int gpt2_load_llama2c(GPT2 *m, const char *path, PruneErr *err) {
    memset(m, 0, sizeof *m);
    void *map;
    size_t len;
    if (map_file(path, 0, &map, &len, err)) return -1;
    int version = 0, shared = 0;
    size_t off = 0;
    if (llama2c_parse_header(map, len < L2C_V1_HEADER ? len : L2C_V1_HEADER, len, path, &m->config,
                             &version, &shared, &off, err)) {
        unmap_file(map, len);
        return -1;
    }
    gpt2_param_sizes(m->param_sizes, &m->config);
    m->num_parameters = gpt2_num_parameters(&m->config);
    char what[4200];
    snprintf(what, sizeof what, "the weights of %s (dim %d, n_layers %d)", path, m->config.C, m->config.L);
    m->owned = palloc(m->num_parameters * sizeof(float), what, err);
    if (!m->owned) {
        unmap_file(map, len);
        return -1;
    }
    m->params_memory = m->owned;
    gpt2_point_params(&m->params, m->params_memory, m->param_sizes);
    // the weights start at byte 28 or 256: 4-byte aligned inside the page-aligned map
    L2cRead r = {m, (const float *)((const char *)map + off), version, shared, path};
    int rc = map_guarded_call(l2c_read_weights, &r, path, err);
    unmap_file(map, len);
    if (rc) {
        gpt2_free(m);
        return -1;
    }
    m->format = FORMAT_LLAMA2C;
    snprintf(m->source, sizeof m->source, "%s", path);
    snprintf(m->dtype, sizeof m->dtype, "F32");
    snprintf(m->arch, sizeof m->arch, "llama2.c v%d", version);
    return 0;
}

// Writes one per-layer slice (rows [row0, row0 + rows) of a (drows, cols) tensor) for every
// layer: the inverse of take_layers.
static int put_layers(AtomicFile *af, const float *src, int L, size_t rows, size_t cols, size_t drows,
                      size_t row0, PruneErr *err) {
    for (int l = 0; l < L; l++)
        if (atomic_write(af, src + ((size_t)l * drows + row0) * cols, sizeof(float) * rows * cols, err)) return -1;
    return 0;
}

int gpt2_write_llama2c(const GPT2 *m, const char *path, PruneErr *err) {
    const GPT2Config *c = &m->config;
    if (c->norm != NORM_RMSNORM || c->pos != POS_ROPE_INTERLEAVED || c->mlp != MLP_SWIGLU ||
        c->bias != BIAS_NONE || c->rope_theta != 10000.0f || c->norm_eps != 1e-5f || c->Vp != c->V ||
        c->hs * c->NH != c->C || c->rope_scaling != ROPE_SCALING_NONE)
        return perr(err, "%s: this model cannot be written as a llama2.c checkpoint, which holds "
                         "RMSNorm (eps 1e-5), interleaved RoPE (theta 10000), SwiGLU, no biases, "
                         "hs = dim / n_heads and an unpadded vocabulary.", path);
    unsigned char hdr[L2C_V1_HEADER] = {0};
    uint32_t magic = L2C_MAGIC;
    int32_t v[8] = {1, c->C, c->H, c->L, c->NH, c->NKV, c->V, c->maxT};
    memcpy(hdr, &magic, 4);
    memcpy(hdr + 4, v, sizeof v);
    hdr[36] = c->unembed == UNEMBED_TIED;
    const ParameterTensors *w = &m->params;
    size_t C = c->C, H = c->H, V = c->V, A = cfg_attn_width(c), kv = (size_t)c->NKV * c->hs, QKV = cfg_qkv_width(c);
    int L = c->L;
    AtomicFile af;
    if (atomic_open(&af, path, err)) return -1;
    if (atomic_write(&af, hdr, sizeof hdr, err) || put_layers(&af, w->ln1w, L, C, 1, C, 0, err) ||
        put_layers(&af, w->ln2w, L, C, 1, C, 0, err) || put_layers(&af, w->lnfw, 1, C, 1, C, 0, err) ||
        put_layers(&af, w->wte, 1, V, C, V, 0, err) || put_layers(&af, w->qkvw, L, A, C, QKV, 0, err) ||
        put_layers(&af, w->qkvw, L, kv, C, QKV, A, err) || put_layers(&af, w->qkvw, L, kv, C, QKV, A + kv, err) ||
        put_layers(&af, w->attprojw, L, C, A, C, 0, err) || put_layers(&af, w->fcw, L, H, C, 2 * H, 0, err) ||
        put_layers(&af, w->fcprojw, L, C, H, C, 0, err) || put_layers(&af, w->fcw, L, H, C, 2 * H, H, err) ||
        (c->unembed == UNEMBED_UNTIED && put_layers(&af, w->lm_head, 1, V, C, V, 0, err))) {
        atomic_abort(&af);
        return -1;
    }
    return atomic_commit(&af, err);
}
