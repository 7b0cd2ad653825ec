// load_llmc.c: llm.c checkpoints. Version 3 (fp32) is memory-mapped, so frozen weights
// are never copied; version 5 (bf16, the upper 16 bits of fp32) is converted on load.
// The writer produces version 3, atomically. Header parsing is a pure function so tests
// can reach every rejection.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpt2.h"

static const char *HDR_NAMES[8] = {"magic", "version", "maxT", "V", "L", "NH", "C", "Vp"};

int llmc_parse_header(const int32_t hdr[LLMC_HEADER_INTS], size_t file_size, const char *path,
                      GPT2Config *c, int *version, PruneErr *err) {
    if (hdr[0] != LLMC_MAGIC)
        return perr(err, "%s: header field 'magic' (int32 #0): expected %d, found %d. Hint: not an "
                         "llm.c model checkpoint (a gpt2_tokenizer.bin has magic 20240328; a Hugging "
                         "Face model is a folder or a .safetensors file).", path, LLMC_MAGIC, hdr[0]);
    if (hdr[1] != 3 && hdr[1] != 5)
        return perr(err, "%s: header field 'version' (int32 #1): expected 3 (fp32) or 5 (bf16), "
                         "found %d. Hint: re-export the checkpoint with llm.c's train_gpt2.py.",
                    path, hdr[1]);
    memset(c, 0, sizeof *c);  // the fields the header does not state take GPT-2's values
    c->maxT = hdr[2];
    c->V = hdr[3];
    c->L = hdr[4];
    c->NH = hdr[5];
    c->C = hdr[6];
    c->Vp = hdr[7];
    for (int i = 2; i < 8; i++)
        if (hdr[i] <= 0)
            return perr(err, "%s: header field '%s' (int32 #%d): expected a positive value, found "
                             "%d. Hint: the header is damaged.", path, HDR_NAMES[i], i, hdr[i]);
    gpt2_config_defaults(c);
    if (gpt2_config_check(c, path, err)) return -1;
    *version = hdr[1];
    size_t bytes_per = hdr[1] == 3 ? 4 : 2;
    size_t expect = LLMC_HEADER_INTS * 4 + gpt2_num_parameters(c) * bytes_per;
    if (file_size < expect)
        return perr(err, "%s: file is truncated: the header (maxT %d, V %d, Vp %d, L %d, NH %d, "
                         "C %d, %s) needs %zu bytes, the file has %zu. Hint: the download or "
                         "copy was cut short.", path, c->maxT, c->V, c->Vp, c->L, c->NH, c->C,
                    hdr[1] == 3 ? "fp32" : "bf16", expect, file_size);
    if (file_size > expect)
        return perr(err, "%s: file has %zu bytes, %zu more than its header (maxT %d, V %d, Vp %d, "
                         "L %d, NH %d, C %d) implies (%zu). Hint: the header does not match the "
                         "weights; the file may be damaged.", path, file_size, file_size - expect,
                    c->maxT, c->V, c->Vp, c->L, c->NH, c->C, expect);
    return 0;
}

// The first weight that is not a finite number, named by tensor, layer and (row, column),
// or 0 when all are finite. Reads every weight once: a NaN bias or an inf left by an
// overflow would otherwise load and turn every metric into NaN.
static int check_finite(const GPT2 *m, const char *path, PruneErr *err) {
    ParamSpec spec[NUM_PARAM_TENSORS];
    gpt2_param_table(spec, &m->config);
    const float *p = m->params_memory;
    for (int t = 0; t < NUM_PARAM_TENSORS; t++) {
        size_t n = m->param_sizes[t], per = param_layer_floats(&spec[t]);
        for (size_t i = 0; i < n; i++) {
            uint32_t bits;
            memcpy(&bits, &p[i], 4);
            if ((bits & 0x7f800000u) != 0x7f800000u) continue;  // exponent all ones: inf or NaN
            size_t l = i / per, k = i % per, cols = spec[t].cols ? spec[t].cols : 1;
            char where[96];
            if (spec[t].per_layer)
                snprintf(where, sizeof where, "layer %zu, ", l);
            else
                where[0] = 0;
            return perr(err, "%s: tensor '%s' (%sentry [%zu, %zu], float #%zu of the file's "
                             "weights) is %s. Hint: the weights are damaged (a diverged training "
                             "run or an overflow when converting); prune needs finite weights.",
                        path, spec[t].name, where, k / cols, k % cols,
                        (size_t)(p + i - m->params_memory), isnan(p[i]) ? "NaN" : "infinite");
        }
        p += n;
    }
    return 0;
}

typedef struct {
    GPT2 *m;
    const void *map;
    int version;
    const char *path;
} LlmcRead;

// Everything that reads the mapping after the header, under map_guarded_call.
static int llmc_read_weights(void *ctx, PruneErr *err) {
    LlmcRead *r = ctx;
    GPT2 *m = r->m;
    if (r->version == 5) {
        const uint16_t *src = (const uint16_t *)((const char *)r->map + LLMC_HEADER_INTS * 4);
        for (size_t i = 0; i < m->num_parameters; i++) {
            uint32_t bits = (uint32_t)src[i] << 16;
            memcpy(&m->owned[i], &bits, 4);
        }
    }
    return check_finite(m, r->path, err);
}

int gpt2_load_llmc(GPT2 *m, const char *path, int writable, PruneErr *err) {
    memset(m, 0, sizeof *m);
    void *map;
    size_t len;
    if (map_file(path, writable, &map, &len, err)) return -1;
    if (len < LLMC_HEADER_INTS * 4) {
        unmap_file(map, len);
        return perr(err, "%s: file is truncated: %zu bytes, shorter than the 1024-byte llm.c "
                         "header. Hint: the download or copy was cut short.", path, len);
    }
    int32_t hdr[LLMC_HEADER_INTS];
    memcpy(hdr, map, sizeof hdr);
    int version;
    if (llmc_parse_header(hdr, len, path, &m->config, &version, err)) {
        unmap_file(map, len);
        return -1;
    }
    gpt2_param_sizes(m->param_sizes, &m->config);
    m->num_parameters = gpt2_num_parameters(&m->config);
    snprintf(m->source, sizeof m->source, "%s", path);
    if (version == 3) {
        // The weights start at byte 1024, 4-byte aligned inside a page-aligned map.
        m->map = map;
        m->map_len = len;
        m->params_memory = (float *)((char *)map + LLMC_HEADER_INTS * 4);
        m->format = FORMAT_LLMC_FP32;
        snprintf(m->dtype, sizeof m->dtype, "F32");
    } else {
        char what[1200];
        snprintf(what, sizeof what, "the fp32 weights of %s (bf16 in the file; header: L %d, C %d, "
                 "V %d)", path, m->config.L, m->config.C, m->config.V);
        m->owned = palloc(m->num_parameters * sizeof(float), what, err);
        if (!m->owned) {
            unmap_file(map, len);
            return -1;
        }
        m->params_memory = m->owned;
        m->format = FORMAT_LLMC_BF16;
        snprintf(m->dtype, sizeof m->dtype, "BF16");
    }
    LlmcRead r = {m, map, version, path};
    int rc = map_guarded_call(llmc_read_weights, &r, path, err);
    if (version == 5) unmap_file(map, len);
    if (rc) {
        gpt2_free(m);  // unmaps an fp32 map, frees the bf16 copy
        return -1;
    }
    gpt2_point_params(&m->params, m->params_memory, m->param_sizes);
    return 0;
}

int gpt2_write_llmc(const GPT2 *m, const char *path, PruneErr *err) {
    int32_t hdr[LLMC_HEADER_INTS] = {0};
    const GPT2Config *c = &m->config;
    hdr[0] = LLMC_MAGIC;
    hdr[1] = 3;
    hdr[2] = c->maxT;
    hdr[3] = c->V;
    hdr[4] = c->L;
    hdr[5] = c->NH;
    hdr[6] = c->C;
    hdr[7] = c->Vp;
    GPT2Config implied = {.maxT = c->maxT, .V = c->V, .Vp = c->Vp, .L = c->L, .NH = c->NH, .C = c->C};
    gpt2_config_defaults(&implied);
    if (memcmp(&implied, c, sizeof implied))  // the header has no field for hs, H, NKV, variants
        return perr(err, "%s: this model (MLP width %d, head size %d) cannot be written as an llm.c "
                         "checkpoint, whose header implies GPT-2's widths (4C, C/NH).", path, c->H, c->hs);
    AtomicFile af;
    if (atomic_open(&af, path, err)) return -1;
    if (atomic_write(&af, hdr, sizeof hdr, err) ||
        atomic_write(&af, m->params_memory, m->num_parameters * sizeof(float), err)) {
        atomic_abort(&af);
        return -1;
    }
    return atomic_commit(&af, err);
}
