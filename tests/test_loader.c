// test_loader.c: model files. The Hugging Face fixtures load with the right config and
// give the log-probabilities of an independent Python GPT-2 (tests/ref/gpt2_ref.py); an
// llm.c golden model does too; llm.c write -> read is bit-identical; bf16 llm.c files and
// F32/F16/BF16, prefixed and sharded safetensors load to the values they store; and every
// malformed file is a clear error naming the file and the field, never a crash.
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "helpers.h"
#include "kernels.h"
#include "safetensors.h"
#include "tokenizer.h"

#define DATA TEST_DATA_DIR

// log-probabilities at the last position for ids, into lp (V)
static void next_logprobs(const GPT2 *m, const int *ids, int n, float *lp) {
    GPT2Workspace ws;
    PruneErr err;
    assert_int_equal(gpt2_workspace_build(&ws, &m->config, 1, n, 1, 1, &err), 0);
    int p = n - 1;
    assert_int_equal(gpt2_forward(m, &ws, ids, &n, 1, n, &p, 1, &err), 0);
    log_softmax_forward(lp, ws.logits, 1, m->config.V, m->config.Vp);
    gpt2_workspace_free(&ws);
}

static void assert_config(const GPT2Config *c, int maxT, int V, int Vp, int L, int NH, int C) {
    assert_int_equal(c->maxT, maxT);
    assert_int_equal(c->V, V);
    assert_int_equal(c->Vp, Vp);
    assert_int_equal(c->L, L);
    assert_int_equal(c->NH, NH);
    assert_int_equal(c->C, C);
}

// Golden values: python3 tests/ref/gpt2_ref.py tests/data/lm_buddy_tiny_gpt2 10 11 13
static void test_hf_tiny_fixture(void **state) {
    (void)state;
    GPT2 m;
    PruneErr err;
    assert_int_equal(gpt2_load(&m, DATA "/lm_buddy_tiny_gpt2", 0, &err), 0);
    assert_config(&m.config, 1024, 21, 128, 1, 1, 2);
    assert_int_equal(m.format, FORMAT_SAFETENSORS);
    int ids[3] = {10, 11, 13};
    float lp[21];
    next_logprobs(&m, ids, 3, lp);
    const float golden[8] = {-3.0410264f, -3.0419504f, -3.0406835f, -3.0471278f,
                             -3.0497363f, -3.0452987f, -3.0477844f, -3.0428457f};
    assert_close("tiny fixture vs Python reference", lp, golden, 8, 2e-6, 0);
    gpt2_free(&m);
    // the same model by its .safetensors path
    assert_int_equal(gpt2_load(&m, DATA "/lm_buddy_tiny_gpt2/model.safetensors", 0, &err), 0);
    assert_config(&m.config, 1024, 21, 128, 1, 1, 2);
    gpt2_free(&m);
}

// Golden: python3 tests/ref/gpt2_ref.py tests/data/lm_buddy_fake_gpt2 464 2068 318 1000
static void test_hf_fake_fixture_prefixed(void **state) {
    (void)state;
    GPT2 m;
    PruneErr err;
    assert_int_equal(gpt2_load(&m, DATA "/lm_buddy_fake_gpt2", 0, &err), 0);
    assert_config(&m.config, 1024, 50257, 50304, 1, 1, 2);
    int ids[4] = {464, 2068, 318, 1000};
    float *lp = malloc(sizeof(float) * 50257);
    next_logprobs(&m, ids, 4, lp);
    const int top[3] = {47143, 37524, 14689};
    const float golden[3] = {-10.7119875f, -10.7224389f, -10.7239041f};
    for (int i = 0; i < 3; i++) assert_close("fake fixture vs Python reference", &lp[top[i]], &golden[i], 1, 2e-5, 0);
    free(lp);
    gpt2_free(&m);
}

// Golden: python3 tests/ref/gpt2_ref.py --llmc tests/data/golden_l2h2.bin
static void test_llmc_golden(void **state) {
    (void)state;
    GPT2 m;
    PruneErr err;
    assert_int_equal(gpt2_load(&m, DATA "/golden_l2h2.bin", 0, &err), 0);
    assert_config(&m.config, 16, 29, 32, 2, 2, 8);
    assert_int_equal(m.format, FORMAT_LLMC_FP32);
    // fp32 weights are the file's own pages, not a copy
    assert_non_null(m.map);
    assert_ptr_equal(m.params_memory, (float *)((char *)m.map + 1024));
    assert_null(m.owned);
    int a[7] = {3, 17, 5, 28, 0, 9, 12}, b[2] = {21, 4};
    const float ga[29] = {-3.2865849f, -3.9056813f, -2.3427256f, -3.5943891f, -4.6012807f, -7.1138947f,
                          -5.5549638f, -1.9673647f, -2.3953970f, -1.8513978f, -6.0554668f, -3.0907802f,
                          -6.4915255f, -4.4191155f, -4.1065430f, -3.6194759f, -5.0752970f, -5.4791449f,
                          -2.7427604f, -4.7666926f, -2.7418630f, -2.4341417f, -6.4581327f, -3.9741372f,
                          -5.3663272f, -5.1418531f, -3.6817208f, -6.9411763f, -3.9559363f};
    const float gb[29] = {-2.6243388f, -4.1592993f, -2.1394411f, -3.9515787f, -4.4255749f, -7.1294137f,
                          -5.9968437f, -1.7075815f, -2.1679124f, -2.3627644f, -6.5121372f, -2.7620854f,
                          -6.3333746f, -4.0339712f, -5.8129054f, -3.6910534f, -5.1589339f, -5.9715331f,
                          -2.5767255f, -5.5268598f, -2.9838505f, -2.6415588f, -7.0024813f, -4.1894738f,
                          -4.7097173f, -5.7590539f, -4.6904354f, -6.8913410f, -4.6903771f};
    float lp[29];
    next_logprobs(&m, a, 7, lp);
    assert_close("golden llm.c model, 7 tokens", lp, ga, 29, 1e-5, 0);
    next_logprobs(&m, b, 2, lp);
    assert_close("golden llm.c model, 2 tokens", lp, gb, 29, 1e-5, 0);
    gpt2_free(&m);
}

static void assert_same_params(const GPT2 *a, const GPT2 *b) {
    assert_memory_equal(&a->config, &b->config, sizeof(GPT2Config));
    assert_int_equal(a->num_parameters, b->num_parameters);
    assert_memory_equal(a->params_memory, b->params_memory, a->num_parameters * sizeof(float));
}

// Files in path's folder whose names start with "<basename of path>.tmp.".
static int count_tmp_files(const char *path) {
    char dir[600], pre[600];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    *slash = 0;
    snprintf(pre, sizeof pre, "%s.tmp.", slash + 1);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += !strncmp(e->d_name, pre, strlen(pre));
    closedir(d);
    return n;
}

static void test_llmc_round_trip(void **state) {
    (void)state;
    GPT2 a, b;
    PruneErr err;
    GPT2Config c = tiny_config();
    assert_int_equal(gpt2_build_random(&a, &c, 5, 0.3f, &err), 0);
    const char *path = tmp_path("rt.bin");
    assert_int_equal(gpt2_write_llmc(&a, path, &err), 0);
    assert_int_equal(gpt2_load(&b, path, 0, &err), 0);
    assert_same_params(&a, &b);
    gpt2_free(&b);
    gpt2_free(&a);
    // a Hugging Face model written as llm.c reads back identical
    assert_int_equal(gpt2_load(&a, DATA "/lm_buddy_tiny_gpt2", 0, &err), 0);
    assert_int_equal(gpt2_write_llmc(&a, path, &err), 0);
    assert_int_equal(gpt2_load(&b, path, 0, &err), 0);
    assert_same_params(&a, &b);
    gpt2_free(&b);
    gpt2_free(&a);
    // no temporary file is left behind
    assert_int_equal(count_tmp_files(path), 0);
}

static void test_llmc_write_failure_leaves_nothing(void **state) {
    (void)state;
    GPT2 a;
    PruneErr err;
    GPT2Config c = tiny_config();
    assert_int_equal(gpt2_build_random(&a, &c, 5, 0.3f, &err), 0);
    assert_int_equal(gpt2_write_llmc(&a, "/nonexistent-dir/x.bin", &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x.bin"));
    gpt2_free(&a);
}

static void write_llmc_raw(const char *path, const int32_t hdr[256], const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(hdr, 4, 256, f), 256);
    if (n) assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void test_llmc_bf16(void **state) {
    (void)state;
    GPT2 a, b;
    PruneErr err;
    GPT2Config c = tiny_config();
    assert_int_equal(gpt2_build_random(&a, &c, 6, 0.3f, &err), 0);
    uint16_t *h = malloc(2 * a.num_parameters);
    for (size_t i = 0; i < a.num_parameters; i++) {
        float r = round_bf16(a.params_memory[i]);
        a.params_memory[i] = r;  // the values the file can hold
        uint32_t u;
        memcpy(&u, &r, 4);
        h[i] = (uint16_t)(u >> 16);
    }
    int32_t hdr[256] = {LLMC_MAGIC, 5, c.maxT, c.V, c.L, c.NH, c.C, c.Vp};
    const char *path = tmp_path("bf16.bin");
    write_llmc_raw(path, hdr, h, 2 * a.num_parameters);
    assert_int_equal(gpt2_load(&b, path, 0, &err), 0);
    assert_int_equal(b.format, FORMAT_LLMC_BF16);
    assert_same_params(&a, &b);
    free(h);
    gpt2_free(&a);
    gpt2_free(&b);
}

static void test_hf_dtypes_prefixes_shards(void **state) {
    (void)state;
    PruneErr err;
    GPT2 a;
    GPT2Config c = tiny_config();
    assert_int_equal(gpt2_build_random(&a, &c, 7, 0.3f, &err), 0);
    a.config.Vp = 128;  // a Hugging Face load pads V to a multiple of 128
    struct { const char *dtype, *prefix; int shards; } cases[] = {
        {"F32", "", 1}, {"F16", "transformer.", 1}, {"BF16", "", 1}, {"F32", "transformer.", 3}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char name[64];
        snprintf(name, sizeof name, "hf%zu", k);
        const char *dir = tmp_path(name);
        mkdir(dir, 0755);
        a.config.Vp = c.Vp;  // write from the llm.c layout
        assert_int_equal(write_hf_model(dir, &a, cases[k].dtype, cases[k].prefix, cases[k].shards), 0);
        GPT2 b;
        if (gpt2_load(&b, dir, 0, &err)) fail_msg("%s", err.msg);
        assert_config(&b.config, c.maxT, c.V, 128, c.L, c.NH, c.C);
        // compare tensor by tensor (wte only in its V real rows; the paddings differ)
        float *pa = a.params_memory, *pb = b.params_memory;
        for (int t = 0; t < NUM_PARAM_TENSORS; t++) {
            size_t n = t == P_WTE ? (size_t)c.V * c.C : a.param_sizes[t];
            float *want = malloc(sizeof(float) * n);
            for (size_t i = 0; i < n; i++)
                want[i] = !strcmp(cases[k].dtype, "F32") ? pa[i]
                          : !strcmp(cases[k].dtype, "F16") ? round_f16(pa[i]) : round_bf16(pa[i]);
            char what[96];
            snprintf(what, sizeof what, "%s %s%s shards=%d", gpt2_param_name((ParamId)t), cases[k].prefix,
                     cases[k].dtype, cases[k].shards);
            assert_close(what, pb, want, n, 0, 0);
            free(want);
            pa += a.param_sizes[t];
            pb += b.param_sizes[t];
        }
        gpt2_free(&b);
    }
    gpt2_free(&a);
}

// --- rejections: llm.c -----------------------------------------------------------

static void expect_load_error(const char *path, const char *needle1, const char *needle2) {
    GPT2 m;
    PruneErr err = {{0}};
    assert_int_equal(gpt2_load(&m, path, 0, &err), -1);
    if (!strstr(err.msg, needle1) || (needle2 && !strstr(err.msg, needle2)))
        fail_msg("error for %s lacks '%s'/'%s': %s", path, needle1, needle2 ? needle2 : "", err.msg);
    if (!strstr(err.msg, "Hint") && !strstr(err.msg, "hint"))
        fail_msg("error for %s has no hint: %s", path, err.msg);
}

static void test_llmc_rejections(void **state) {
    (void)state;
    GPT2Config c = tiny_config();
    size_t np = gpt2_num_parameters(&c);
    float *w = calloc(np + 64, sizeof(float));
    int32_t good[256] = {LLMC_MAGIC, 3, c.maxT, c.V, c.L, c.NH, c.C, c.Vp};
    int32_t h[256];
    const char *p = tmp_path("bad.bin");

    write_llmc_raw(p, good, w, np * 4 - 100);
    expect_load_error(p, "truncated", "needs");
    write_llmc_raw(p, good, w, np * 4 + 8);
    expect_load_error(p, "more than its header", NULL);
    write_bytes(p, good, 100);
    expect_load_error(p, "shorter than the 1024-byte", NULL);
    write_bytes(p, "", 0);
    expect_load_error(p, "empty", NULL);

    memcpy(h, good, sizeof h);
    h[0] = 20240328;
    write_llmc_raw(p, h, w, np * 4);
    expect_load_error(p, "'magic'", "gpt2_tokenizer.bin");
    memcpy(h, good, sizeof h);
    h[1] = 4;
    write_llmc_raw(p, h, w, np * 4);
    expect_load_error(p, "'version'", "found 4");
    memcpy(h, good, sizeof h);
    h[6] = 10;  // C = 10, NH = 2 fine; NH = 3 not
    h[5] = 3;
    write_llmc_raw(p, h, w, np * 4);
    expect_load_error(p, "not a multiple of NH", NULL);
    memcpy(h, good, sizeof h);
    h[7] = c.V - 1;
    write_llmc_raw(p, h, w, np * 4);
    expect_load_error(p, "Vp", "smaller than V");
    memcpy(h, good, sizeof h);
    h[4] = 0;
    write_llmc_raw(p, h, w, np * 4);
    expect_load_error(p, "'L'", "positive");
    memcpy(h, good, sizeof h);
    h[3] = -5;
    write_llmc_raw(p, h, w, np * 4);
    expect_load_error(p, "'V'", "positive");
    expect_load_error(tmp_path("does-not-exist.bin"), "cannot open", NULL);
    free(w);
}

static void test_llmc_header_pure(void **state) {
    (void)state;
    GPT2Config c = tiny_config(), out;
    int v;
    PruneErr err;
    int32_t h[256] = {LLMC_MAGIC, 3, c.maxT, c.V, c.L, c.NH, c.C, c.Vp};
    size_t size = 1024 + gpt2_num_parameters(&c) * 4;
    assert_int_equal(llmc_parse_header(h, size, "x.bin", &out, &v, &err), 0);
    assert_int_equal(v, 3);
    assert_memory_equal(&out, &c, sizeof c);
    h[1] = 5;
    assert_int_equal(llmc_parse_header(h, size, "x.bin", &out, &v, &err), -1);  // bf16 is half
    assert_int_equal(llmc_parse_header(h, 1024 + (size - 1024) / 2, "x.bin", &out, &v, &err), 0);
    h[2] = 1 << 30;  // absurd context: refused before any size arithmetic overflows
    assert_int_equal(llmc_parse_header(h, size, "x.bin", &out, &v, &err), -1);
}

// --- rejections: safetensors and config.json ---------------------------------------

static void test_st_header_pure(void **state) {
    (void)state;
    StHeader h;
    PruneErr err;
    const char *ok = "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],"
                     "\"data_offsets\":[0,24]}}";
    assert_int_equal(st_parse_header(ok, strlen(ok), 24, "m.safetensors", &h, &err), 0);
    assert_int_equal(h.n, 1);
    assert_int_equal(h.t[0].shape[1], 3);
    st_header_free(&h);
    struct { const char *json; size_t data; const char *needle; } bad[] = {
        {ok, 20, "past the data buffer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 24, "need 24"},
        {"{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "non-negative"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "begin <= end"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "data_offsets"},
        {"{\"a\": [1, 2]}", 8, "expected an object"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8, "not valid JSON"},
        {"[1,2,3]", 8, "must be a JSON object"},
        {"{\"a\":1,\"a\":2}", 8, "not valid JSON"},  // duplicate keys
        {"", 0, "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = st_parse_header(bad[i].json, strlen(bad[i].json), bad[i].data, "m.safetensors", &h, &err);
        if (rc != -1 || !strstr(err.msg, bad[i].needle) || !strstr(err.msg, "m.safetensors"))
            fail_msg("case %zu: rc %d, message: %s", i, rc, rc ? err.msg : "(none)");
    }
}

static void test_config_pure(void **state) {
    (void)state;
    GPT2Config c;
    PruneErr err;
    const char *ok = "{\"n_embd\":8,\"n_layer\":2,\"n_head\":2,\"n_ctx\":16,\"vocab_size\":29}";
    assert_int_equal(hf_parse_config(ok, strlen(ok), "config.json", &c, &err), 0);
    assert_config(&c, 16, 29, 128, 2, 2, 8);
    struct { const char *json; const char *needle; } bad[] = {
        {"{\"n_layer\":2,\"n_head\":2,\"n_positions\":16,\"vocab_size\":29}", "\"n_embd\" is missing"},
        {"{\"n_embd\":\"8\",\"n_layer\":2,\"n_head\":2,\"n_positions\":16,\"vocab_size\":29}", "positive integer"},
        {"{\"n_embd\":8,\"n_layer\":2,\"n_head\":2,\"vocab_size\":29}", "\"n_ctx\" is missing"},
        {"{\"n_embd\":8,\"n_layer\":2,\"n_head\":3,\"n_positions\":16,\"vocab_size\":29}", "multiple of NH"},
        {"{\"n_embd\":8,\"n_layer\":2,\"n_head\":2,\"n_positions\":16,\"vocab_size\":29,\"activation_function\":\"relu\"}", "activation_function"},
        {"{\"n_embd\":8,\"n_layer\":2,\"n_head\":2,\"n_positions\":16,\"vocab_size\":29,\"n_inner\":0}", "n_inner"},
        {"{\"n_embd\":8,\"n_layer\":2,\"n_head\":2,\"n_positions\":16,\"vocab_size\":29,\"layer_norm_epsilon\":1e-6}", "layer_norm_epsilon"},
        {"{\"model_type\":\"bert\",\"n_embd\":8}", "model_type"},
        {"{\"n_embd\":8,", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = hf_parse_config(bad[i].json, strlen(bad[i].json), "config.json", &c, &err);
        if (rc != -1 || !strstr(err.msg, bad[i].needle) || !strstr(err.msg, "config.json"))
            fail_msg("case %zu: rc %d, message: %s", i, rc, rc ? err.msg : "(none)");
    }
    // n_inner is the MLP width the config carries (no longer assumed 4C); null means 4C
    const char *inner = "{\"n_embd\":8,\"n_layer\":2,\"n_head\":2,\"n_positions\":16,\"vocab_size\":29,\"n_inner\":16}";
    assert_int_equal(hf_parse_config(inner, strlen(inner), "config.json", &c, &err), 0);
    assert_int_equal(c.H, 16);
    assert_int_equal(c.hs, 4);
}

// A folder with the tiny fixture's config.json and a hand-made model.safetensors.
static const char *st_dir(const char *name, const char *header, size_t data_len, int64_t declared) {
    const char *dir = tmp_path(name);
    mkdir(dir, 0755);
    char p[600];
    snprintf(p, sizeof p, "%s/config.json", dir);
    const char *cfg = "{\"n_embd\":2,\"n_layer\":1,\"n_head\":1,\"n_positions\":1024,\"vocab_size\":21}";
    write_bytes(p, cfg, strlen(cfg));
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    FILE *f = fopen(p, "wb");
    uint64_t n = declared >= 0 ? (uint64_t)declared : strlen(header);
    fwrite(&n, 8, 1, f);
    fwrite(header, 1, strlen(header), f);
    for (size_t i = 0; i < data_len; i++) fputc(0, f);
    fclose(f);
    return dir;
}

static void test_safetensors_file_rejections(void **state) {
    (void)state;
    expect_load_error(st_dir("st1", "{\"wte.weight\":{\"dtype\":\"F32\",\"shape\":[21,2],"
                                    "\"data_offsets\":[0,168]}}", 100, -1),
                      "wte.weight", "past the data buffer");
    expect_load_error(st_dir("st2", "{\"wte.weight\": not json}", 0, -1), "not valid JSON", NULL);
    expect_load_error(st_dir("st3", "{\"wte.weight\":{\"dtype\":\"F32\",\"shape\":[21,3],"
                                    "\"data_offsets\":[0,252]}}", 252, -1),
                      "'wte.weight': shape [21, 3], expected [21, 2]", NULL);
    expect_load_error(st_dir("st4", "{\"h.0.attn.q_proj.weight\":{\"dtype\":\"F32\",\"shape\":[2],"
                                    "\"data_offsets\":[0,8]}}", 8, -1),
                      "unknown tensor 'h.0.attn.q_proj.weight'", NULL);
    expect_load_error(st_dir("st5", "{\"h.7.ln_1.weight\":{\"dtype\":\"F32\",\"shape\":[2],"
                                    "\"data_offsets\":[0,8]}}", 8, -1),
                      "layer 7", "n_layer = 1");
    expect_load_error(st_dir("st6", "{\"wte.weight\":{\"dtype\":\"F32\",\"shape\":[21,2],"
                                    "\"data_offsets\":[0,168]}}", 168, -1),
                      "tensor 'wpe.weight' is missing", NULL);
    expect_load_error(st_dir("st7", "{\"wte.weight\":{\"dtype\":\"I64\",\"shape\":[21,2],"
                                    "\"data_offsets\":[0,336]}}", 336, -1),
                      "dtype I64 is not supported", NULL);
    expect_load_error(st_dir("st8", "{}", 0, 1 << 20), "header length field", NULL);
    // a folder with no weights, and weights with no config.json
    const char *empty = tmp_path("st_empty");
    mkdir(empty, 0755);
    expect_load_error(empty, "neither model.safetensors", NULL);
    const char *lone = tmp_path("lone.safetensors");
    write_bytes(lone, "\x02\0\0\0\0\0\0\0{}", 10);
    expect_load_error(lone, "config.json", NULL);
}

static void test_missing_layer_tensor_is_named(void **state) {
    (void)state;
    // Rename h.1.mlp.c_fc.bias to h.1.attn.bias (a causal-mask buffer name, which the loader
    // skips) padded to the same byte length: the file stays valid, the weight is missing.
    GPT2 a;
    PruneErr err;
    GPT2Config c = tiny_config();
    assert_int_equal(gpt2_build_random(&a, &c, 8, 0.3f, &err), 0);
    const char *dir = tmp_path("hf_missing");
    mkdir(dir, 0755);
    assert_int_equal(write_hf_model(dir, &a, "F32", "", 1), 0);
    char p[600], *text;
    size_t len;
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    assert_int_equal(read_file(p, &text, &len, &err), 0);
    const char *from = "\"h.1.mlp.c_fc.bias\":", *to = "\"h.1.attn.bias\"    :";
    char *s = strstr(text + 8, from);
    assert_non_null(s);
    memcpy(s, to, strlen(to));
    write_bytes(p, text, len);
    free(text);
    GPT2 b;
    assert_int_equal(gpt2_load(&b, dir, 0, &err), -1);
    if (!strstr(err.msg, "tensor 'h.1.mlp.c_fc.bias' is missing"))
        fail_msg("unexpected message: %s", err.msg);
    gpt2_free(&a);
}

// --- issue 15: temporary files, non-regular inputs, files cut while mapped -----------

// A symlink planted where an output's temporary file used to be named (<path>.tmp.<pid>)
// must not be written through: its target stays as it was.
static void test_atomic_write_ignores_planted_symlink(void **state) {
    (void)state;
    PruneErr err;
    const char *victim = tmp_path("victim.txt"), *out = tmp_path("out.json");
    assert_int_equal(write_bytes(victim, "precious", 8), 0);
    char planted[600];
    snprintf(planted, sizeof planted, "%s.tmp.%ld", out, (long)getpid());
    assert_int_equal(symlink(victim, planted), 0);
    assert_int_equal(write_file_atomic(out, "new contents", 12, &err), 0);
    char *text;
    size_t len;
    assert_int_equal(read_file(victim, &text, &len, &err), 0);
    assert_int_equal(len, 8);
    assert_memory_equal(text, "precious", 8);
    free(text);
    assert_int_equal(read_file(out, &text, &len, &err), 0);
    assert_memory_equal(text, "new contents", 12);
    free(text);
    struct stat st;
    assert_int_equal(lstat(planted, &st), 0);  // left alone, still a symlink
    assert_true(S_ISLNK(st.st_mode));
    unlink(planted);
    // two writers of one path at once get distinct temporary files, each a new regular file
    AtomicFile a, b;
    assert_int_equal(atomic_open(&a, out, &err), 0);
    assert_int_equal(atomic_open(&b, out, &err), 0);
    assert_string_not_equal(a.tmp, b.tmp);
    assert_int_equal(lstat(a.tmp, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    atomic_abort(&a);
    atomic_abort(&b);
    assert_int_equal(count_tmp_files(out), 0);
}

static void on_alarm(int sig) {
    (void)sig;
    static const char m[] = "FAIL: reading a FIFO blocked\n";
    ssize_t w = write(2, m, sizeof m - 1);
    (void)w;
    _exit(3);
}

// A FIFO (no writer) given as any input is refused at once, not waited on for ever.
static void test_fifo_input_refused(void **state) {
    (void)state;
    PruneErr err;
    const char *fifo = tmp_path("model.fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    signal(SIGALRM, on_alarm);
    alarm(10);
    char *text;
    size_t len;
    void *map;
    assert_int_equal(read_file(fifo, &text, &len, &err), -1);
    assert_non_null(strstr(err.msg, "model.fifo: not a regular file (a FIFO"));
    assert_int_equal(map_file(fifo, 0, &map, &len, &err), -1);
    assert_non_null(strstr(err.msg, "not a regular file"));
    expect_load_error(fifo, "not a regular file", NULL);
    alarm(0);
    signal(SIGALRM, SIG_DFL);
    unlink(fifo);
}

static int touch_map(void *ctx, PruneErr *err) {
    (void)err;
    volatile const char *p = ctx;
    long sum = 0;
    for (size_t i = 0; i < 3 * 4096; i += 4096) sum += p[i];
    return (int)(sum & 0);
}

// A file cut short while mapped: the loaders' guarded reads return an error naming it; an
// unguarded access (the search reading an fp32 model) ends the process by SIGBUS with a
// message naming the file on stderr.
static void test_truncated_while_mapped(void **state) {
    (void)state;
    PruneErr err = {{0}};
    const char *path = tmp_path("shrinks.bin");
    char *zeros = calloc(1, 3 * 4096);
    assert_int_equal(write_bytes(path, zeros, 3 * 4096), 0);
    free(zeros);
    void *map;
    size_t len;
    assert_int_equal(map_file(path, 0, &map, &len, &err), 0);
    assert_int_equal(map_guarded_call(touch_map, map, path, &err), 0);
    assert_int_equal(truncate(path, 100), 0);
    assert_int_equal(map_guarded_call(touch_map, map, path, &err), -1);
    assert_non_null(strstr(err.msg, "shrinks.bin: the file shrank"));
    unmap_file(map, len);

    char *big = calloc(1, 3 * 4096);
    assert_int_equal(write_bytes(path, big, 3 * 4096), 0);
    free(big);
    const char *log = tmp_path("sigbus.log");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 2);
        if (map_file(path, 0, &map, &len, &err)) _exit(4);
        if (truncate(path, 0)) _exit(5);
        touch_map(map, &err);
        _exit(0);  // not reached: the access faults
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGBUS);
    char *text;
    assert_int_equal(read_file(log, &text, &len, &err), 0);
    if (!strstr(text, "shrinks.bin: the file shrank")) fail_msg("stderr of the child: %s", text);
    free(text);
}

// --- issue 15: non-finite weights are refused on load, naming the tensor ---------------

static void test_nonfinite_weights_refused(void **state) {
    (void)state;
    PruneErr err;
    GPT2 a;
    GPT2Config c = tiny_config();
    assert_int_equal(gpt2_build_random(&a, &c, 9, 0.3f, &err), 0);
    // llm.c fp32: a NaN in layer 1's MLP bias, entry 5
    float saved = a.params.fcb[c.H + 5];
    a.params.fcb[c.H + 5] = NAN;
    const char *p = tmp_path("nan.bin");
    assert_int_equal(gpt2_write_llmc(&a, p, &err), 0);
    expect_load_error(p, "tensor 'fcb' (layer 1, entry [5, 0]", "NaN");
    a.params.fcb[c.H + 5] = saved;
    // llm.c bf16: an infinity in wte
    size_t np = a.num_parameters;
    uint16_t *h = calloc(np, 2);
    for (size_t i = 0; i < np; i++) {
        uint32_t u;
        memcpy(&u, &a.params_memory[i], 4);
        h[i] = (uint16_t)(u >> 16);
    }
    h[3 * c.C + 1] = 0x7f80;  // +inf, wte row 3
    int32_t hdr[256] = {LLMC_MAGIC, 5, c.maxT, c.V, c.L, c.NH, c.C, c.Vp};
    write_llmc_raw(p, hdr, h, 2 * np);
    expect_load_error(p, "tensor 'wte' (entry [3, 1]", "infinite");
    free(h);
    // safetensors: F16 overflowing to inf, BF16 and F32 NaN; the error names the HF tensor
    struct { const char *dtype; float *at; float v; const char *needle; } cases[] = {
        {"F16", &a.params.attprojb[c.C + 2], 65536.0f, "'h.1.attn.c_proj.bias' (F16): entry [2] is infinite"},
        {"BF16", &a.params.lnfb[1], NAN, "'ln_f.bias' (BF16): entry [1] is NaN"},
        {"F32", &a.params.fcw[3 * c.C + 4], -INFINITY, "'h.0.mlp.c_fc.weight' (F32): entry [4, 3] is infinite"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char name[32];
        snprintf(name, sizeof name, "hf_nan%zu", k);
        const char *dir = tmp_path(name);
        mkdir(dir, 0755);
        float keep = *cases[k].at;
        *cases[k].at = cases[k].v;
        assert_int_equal(write_hf_model(dir, &a, cases[k].dtype, "", 1), 0);
        *cases[k].at = keep;
        expect_load_error(dir, cases[k].needle, NULL);
    }
    gpt2_free(&a);
}

// --- issue 15: safetensors exactness ----------------------------------------------------

static void test_st_exactness(void **state) {
    (void)state;
    StHeader h;
    PruneErr err;
    struct { const char *json; size_t data; const char *needle; } bad[] = {
        // two tensors sharing bytes
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlap"},
        {"{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, "overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "overlap"},
        // __metadata__ is an object of strings
        {"{\"__metadata__\":5}", 0, "\"__metadata__\" must be an object of strings"},
        {"{\"__metadata__\":[\"pt\"]}", 0, "found a array"},
        {"{\"__metadata__\":{\"format\":1}}", 0, "\"__metadata__\".\"format\" must be a string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = st_parse_header(bad[i].json, strlen(bad[i].json), bad[i].data, "m.safetensors", &h, &err);
        if (rc != -1 || !strstr(err.msg, bad[i].needle) || !strstr(err.msg, "m.safetensors"))
            fail_msg("case %zu: rc %d, message: %s", i, rc, rc ? err.msg : "(none)");
    }
    // adjacent tensors and empty ones at the same offset are fine
    const char *ok = "{\"__metadata__\":{},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                     "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
    assert_int_equal(st_parse_header(ok, strlen(ok), 12, "m.safetensors", &h, &err), 0);
    st_header_free(&h);
    // layer indices: canonical decimal only
    const char *names[] = {"h.+0.ln_1.weight", "h.00.ln_1.weight", "h. 0.ln_1.weight",
                           "h.0x0.ln_1.weight", "h.-0.ln_1.weight", "h..ln_1.weight"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char hdr[256], dir[32];
        snprintf(hdr, sizeof hdr, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                 names[i]);
        snprintf(dir, sizeof dir, "st_layer%zu", i);
        char needle[128];
        snprintf(needle, sizeof needle, "tensor '%s': the layer index must be a plain decimal", names[i]);
        expect_load_error(st_dir(dir, hdr, 8, -1), needle, NULL);
    }
}

// A config.json, vocab.json and merges.txt saved with a UTF-8 byte-order mark still load.
static void test_bom_text_files(void **state) {
    (void)state;
    PruneErr err;
    const char *dir = tmp_path("hf_bom");
    mkdir(dir, 0755);
    const char *names[] = {"config.json", "vocab.json", "merges.txt", "model.safetensors"};
    for (int i = 0; i < 4; i++) {
        char src[600], dst[600], *text;
        size_t len;
        snprintf(src, sizeof src, DATA "/lm_buddy_tiny_gpt2/%s", names[i]);
        snprintf(dst, sizeof dst, "%s/%s", dir, names[i]);
        assert_int_equal(read_file(src, &text, &len, &err), 0);
        FILE *f = fopen(dst, "wb");
        if (i < 3) fputs("\xEF\xBB\xBF", f);
        fwrite(text, 1, len, f);
        fclose(f);
        free(text);
    }
    GPT2 m;
    if (gpt2_load(&m, dir, 0, &err)) fail_msg("%s", err.msg);
    gpt2_free(&m);
    Tokenizer a, b;
    assert_int_equal(tok_load(&a, DATA "/lm_buddy_tiny_gpt2", &err), 0);
    if (tok_load(&b, dir, &err)) fail_msg("%s", err.msg);
    assert_int_equal(a.n_vocab, b.n_vocab);
    tok_free(&a);
    tok_free(&b);
}

// Progress on a file or pipe: a line at most every `every` seconds, and the final one.
static void test_progress_due(void **state) {
    (void)state;
    FILE *f = tmpfile();
    double last = 0;
    assert_int_equal(progress_due(NULL, &last, 5, 0), 0);
    assert_int_equal(progress_due(f, &last, 5, 0), 0);  // starts the clock
    assert_int_equal(progress_due(f, &last, 5, 0), 0);  // too soon
    assert_int_equal(progress_due(f, &last, 5, 1), 2);  // the final line always
    last = now_seconds() - 6;
    assert_int_equal(progress_due(f, &last, 5, 0), 2);  // due
    assert_int_equal(progress_due(f, &last, 5, 0), 0);
    fclose(f);
}

static void test_info_command(void **state) {
    (void)state;
    PruneErr err;
    FILE *f = tmpfile();
    assert_int_equal(cmd_info(DATA "/golden_l2h2.bin", 0, f, &err), 0);
    rewind(f);
    char buf[4096] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    assert_true(n > 0);
    assert_non_null(strstr(buf, "parameters  2144"));
    assert_non_null(strstr(buf, "llm.c checkpoint v3"));
    // 1 + L*(3 + NH + C + 4C + C) gates = 1 + 2*(3 + 2 + 8 + 32 + 8)
    assert_non_null(strstr(buf, "mask gates  107"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hf_tiny_fixture),          cmocka_unit_test(test_hf_fake_fixture_prefixed),
        cmocka_unit_test(test_llmc_golden),              cmocka_unit_test(test_llmc_round_trip),
        cmocka_unit_test(test_llmc_write_failure_leaves_nothing), cmocka_unit_test(test_llmc_bf16),
        cmocka_unit_test(test_hf_dtypes_prefixes_shards), cmocka_unit_test(test_llmc_rejections),
        cmocka_unit_test(test_llmc_header_pure),         cmocka_unit_test(test_st_header_pure),
        cmocka_unit_test(test_config_pure),              cmocka_unit_test(test_safetensors_file_rejections),
        cmocka_unit_test(test_missing_layer_tensor_is_named), cmocka_unit_test(test_info_command),
        cmocka_unit_test(test_atomic_write_ignores_planted_symlink), cmocka_unit_test(test_fifo_input_refused),
        cmocka_unit_test(test_truncated_while_mapped), cmocka_unit_test(test_nonfinite_weights_refused),
        cmocka_unit_test(test_st_exactness),             cmocka_unit_test(test_bom_text_files),
        cmocka_unit_test(test_progress_due),
    };
    return cmocka_run_group_tests_name("loader", tests, NULL, NULL);
}
