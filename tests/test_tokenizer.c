// test_tokenizer.c: GPT-2 byte-level BPE. The 46 reference cases (tiktoken's ids) pass
// with ids derived from vocab.bpe alone; edge cases (empty, spaces, newlines, invalid
// UTF-8, very long words); decode(encode(s)) == s for random byte strings; the fast
// heap BPE equals a naive GPT-2-style BPE; the pre-tokenizer's \s is exactly Unicode
// White_Space; the vocabulary formats and their rejections; the BPE trainer on a
// hand-checked example.
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "helpers.h"
#include "tokenizer.h"

#define GPT2_VOCAB PRUNE_SOURCE_DIR "/models/gpt2/vocab.bpe"
#define DATA TEST_DATA_DIR

static Tokenizer gpt2;  // loaded once: 50,000 merges

static int setup(void **state) {
    (void)state;
    PruneErr err;
    if (tok_load(&gpt2, GPT2_VOCAB, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    return 0;
}
static int teardown(void **state) {
    (void)state;
    tok_free(&gpt2);
    return 0;
}

static void expect_ids(Tokenizer *t, const char *text, size_t len, const int *want, size_t n) {
    IdVec v = {0};
    PruneErr err;
    if (tok_encode(t, text, len, &v, &err)) fail_msg("encode failed: %s", err.msg);
    int ok = v.n == n && (n == 0 || memcmp(v.v, want, n * sizeof(int)) == 0);
    if (!ok) {
        char got[2048] = "", exp[2048] = "";
        for (size_t i = 0; i < v.n && strlen(got) < 2000; i++) sprintf(got + strlen(got), "%d ", v.v[i]);
        for (size_t i = 0; i < n && strlen(exp) < 2000; i++) sprintf(exp + strlen(exp), "%d ", want[i]);
        fail_msg("encode(\"%.*s\"): got [%s], want [%s]", (int)(len < 60 ? len : 60), text, got, exp);
    }
    idvec_free(&v);
}

static void expect_round_trip(Tokenizer *t, const char *s, size_t n) {
    IdVec v = {0};
    PruneErr err;
    assert_int_equal(tok_encode(t, s, n, &v, &err), 0);
    char *back;
    size_t bl;
    assert_int_equal(tok_decode(t, v.v, v.n, &back, &bl, &err), 0);
    if (bl != n || memcmp(back, s, n)) fail_msg("round trip changed a %zu-byte string", n);
    free(back);
    idvec_free(&v);
}

// unescape \t \n \r \\ in place; returns the new length
static size_t unescape(char *s) {
    size_t k = 0;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '\\' && s[i + 1]) {
            char c = s[++i];
            s[k++] = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c;
        } else {
            s[k++] = s[i];
        }
    }
    s[k] = 0;
    return k;
}

static void test_reference_vectors(void **state) {
    (void)state;
    char *text;
    size_t len;
    PruneErr err;
    assert_int_equal(read_file(DATA "/gpt2_token_vectors.tsv", &text, &len, &err), 0);
    int cases = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *tab = strrchr(line, '\t');
        assert_non_null(tab);
        *tab = 0;
        size_t n = unescape(line);
        int want[512], nw = 0;
        for (char *p = tab + 1; *p;) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p) break;
            want[nw++] = (int)v;
            p = end;
        }
        expect_ids(&gpt2, line, n, want, (size_t)nw);
        expect_round_trip(&gpt2, line, n);
        cases++;
    }
    assert_int_equal(cases, 46);  // every line has a tab, the empty-text case included
    free(text);
}

static void test_known_ids_and_edges(void **state) {
    (void)state;
    expect_ids(&gpt2, " Mary", 5, (int[]){5335}, 1);
    expect_ids(&gpt2, " John", 5, (int[]){1757}, 1);
    expect_ids(&gpt2, " he", 3, (int[]){339}, 1);
    expect_ids(&gpt2, " she", 4, (int[]){673}, 1);
    expect_ids(&gpt2, "01", 2, (int[]){486}, 1);
    expect_ids(&gpt2, "", 0, NULL, 0);
    expect_ids(&gpt2, " ", 1, (int[]){220}, 1);
    expect_ids(&gpt2, "   ", 3, (int[]){220, 220, 220}, 3);
    expect_ids(&gpt2, "\n\n\n\n", 4, (int[]){628, 628}, 2);
    expect_ids(&gpt2, "  leading", 9, (int[]){220, 3756}, 2);  // " " then " leading"
    // <|endoftext|> in text is ordinary text, not id 50256
    IdVec v = {0};
    PruneErr err;
    assert_int_equal(tok_encode(&gpt2, "<|endoftext|>", 13, &v, &err), 0);
    assert_true(v.n > 1);
    for (size_t i = 0; i < v.n; i++) assert_int_not_equal(v.v[i], 50256);
    idvec_free(&v);
    assert_int_equal(gpt2.eot_id, 50256);
    assert_int_equal(gpt2.n_vocab, 50257);
    // invalid UTF-8: a lone continuation byte, a truncated sequence, an overlong form
    const char bad[] = "ab\x80 c\xe2\x82 \xc0\xaf\xff";
    expect_round_trip(&gpt2, bad, sizeof bad - 1);
    // very long words: one letter repeated, and a long run of digits
    size_t n = 100000;
    char *w = malloc(n);
    memset(w, 'a', n);
    expect_round_trip(&gpt2, w, n);
    for (size_t i = 0; i < n; i++) w[i] = (char)('0' + i % 10);
    expect_round_trip(&gpt2, w, n);
    free(w);
    // decode rejects ids outside the vocabulary
    char *out;
    size_t ol;
    assert_int_equal(tok_decode(&gpt2, (int[]){50257}, 1, &out, &ol, &err), -1);
    assert_non_null(strstr(err.msg, "outside the vocabulary"));
}

static void test_round_trip_random_bytes(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 2024);
    char buf[600];
    // alphabet mixing ASCII, UTF-8 fragments (valid and not) and whitespace
    const char *pieces[] = {"a", "Z", " ", "  ", "\n", "\t", "7", "'s", "'ll", "é", "日本", "🦙",
                            "\xe2\x80\xa8", "\xc2\xa0", "\x80", "\xff", "\xe2\x82", "!", "?!", "\r\n"};
    for (int it = 0; it < 3000; it++) {
        size_t n = 0;
        int len = (int)(rng_u64(&r) % 40);
        for (int k = 0; k < len; k++) {
            if (rng_u64(&r) % 4 == 0) {  // a fully random byte
                buf[n++] = (char)(rng_u64(&r) & 0xff);
            } else {
                const char *p = pieces[rng_u64(&r) % (sizeof pieces / sizeof pieces[0])];
                memcpy(buf + n, p, strlen(p));
                n += strlen(p);
            }
        }
        expect_round_trip(&gpt2, buf, n);
    }
}

// GPT-2's own bpe(): find the lowest-rank bigram, merge every occurrence left to right,
// repeat. Quadratic, obviously right; the reference for the heap version.
static void naive_bpe(Tokenizer *t, const unsigned char *p, size_t n, IdVec *out) {
    int *s = malloc(sizeof(int) * n);
    size_t m = n;
    for (size_t i = 0; i < n; i++) s[i] = t->byte_sym[p[i]];
    for (;;) {
        int64_t best = -1;
        int bl = 0, br = 0, merged = 0;
        for (size_t i = 0; i + 1 < m; i++) {
            uint64_t *v = u64map_get(&t->merges, (uint64_t)s[i] << 32 | (uint32_t)s[i + 1]);
            if (v && (best < 0 || (int64_t)(*v >> 32) < best)) {
                best = (int64_t)(*v >> 32);
                bl = s[i], br = s[i + 1], merged = (int)(uint32_t)*v;
            }
        }
        if (best < 0) break;
        size_t j = 0;
        for (size_t i = 0; i < m;) {
            if (i + 1 < m && s[i] == bl && s[i + 1] == br) {
                s[j++] = merged;
                i += 2;
            } else {
                s[j++] = s[i++];
            }
        }
        m = j;
    }
    for (size_t i = 0; i < m; i++) idvec_push(out, s[i]);
    free(s);
}

static void test_heap_bpe_equals_naive(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 7);
    const char *letters = "etaoinshrdlucmfwypvbgkqjxz";
    char w[300];
    for (int it = 0; it < 2000; it++) {
        size_t n = 1 + rng_u64(&r) % (it < 1900 ? 20 : 300);
        w[0] = ' ';
        for (size_t i = 1; i < n; i++) w[i] = letters[rng_u64(&r) % (1 + rng_u64(&r) % 26)];
        IdVec fast = {0}, slow = {0};
        PruneErr err;
        assert_int_equal(tok_encode(&gpt2, w, n, &fast, &err), 0);  // one pre-token: " letters"
        naive_bpe(&gpt2, (const unsigned char *)w, n, &slow);
        if (fast.n != slow.n || memcmp(fast.v, slow.v, sizeof(int) * fast.n))
            fail_msg("heap BPE differs from naive BPE on \"%.*s\"", (int)n, w);
        idvec_free(&fast), idvec_free(&slow);
    }
}

// Unicode White_Space (PropList.txt)
static int is_white_space(uint32_t c) {
    return (c >= 9 && c <= 13) || c == 32 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

static size_t put_utf8(char *o, uint32_t c) {
    if (c < 0x80) return o[0] = (char)c, 1;
    if (c < 0x800) return o[0] = (char)(0xC0 | c >> 6), o[1] = (char)(0x80 | (c & 63)), 2;
    if (c < 0x10000)
        return o[0] = (char)(0xE0 | c >> 12), o[1] = (char)(0x80 | ((c >> 6) & 63)),
               o[2] = (char)(0x80 | (c & 63)), 3;
    return o[0] = (char)(0xF0 | c >> 18), o[1] = (char)(0x80 | ((c >> 12) & 63)),
           o[2] = (char)(0x80 | ((c >> 6) & 63)), o[3] = (char)(0x80 | (c & 63)), 4;
}

// "a" c c "a" splits into four pre-tokens [a][c][c][a] exactly when c is white space
// (\s+(?!\S) gives back the last c, then \s+ takes it); a letter joins the a's, anything
// else forms one [cc] run. Every code point below U+3100 (all White_Space is there) and
// every 61st above.
static void test_pretokenizer_whitespace_is_unicode_white_space(void **state) {
    (void)state;
    PreTokenizer p;
    PruneErr err;
    assert_int_equal(pretok_init(&p, &err), 0);
    for (uint32_t c = 1; c < 0x110000; c += c < 0x3100 ? 1 : 61) {
        if (c >= 0xD800 && c < 0xE000) continue;
        char s[16];
        size_t n = 0;
        s[n++] = 'a';
        n += put_utf8(s + n, c);
        n += put_utf8(s + n, c);
        s[n++] = 'a';
        size_t pos = 0, a, b;
        int count = 0;
        while (pretok_next(&p, s, n, &pos, &a, &b)) count++;
        int ws = count == 4;
        if (c == ' ') ws = count == 3;  // [a][ ][ a]: " ?\p{L}+" takes the second space
        if (ws != is_white_space(c)) fail_msg("U+%04X: %d pre-tokens; White_Space says %d", c, count, is_white_space(c));
    }
    pretok_free(&p);
}

// --- vocabulary formats ------------------------------------------------------------

static void test_hf_vocab_fixture(void **state) {
    (void)state;
    Tokenizer t;
    PruneErr err;
    assert_int_equal(tok_load(&t, DATA "/lm_buddy_tiny_gpt2", &err), 0);
    assert_int_equal(t.n_vocab, 21);
    assert_int_equal(t.unk_id, 19);
    assert_int_equal(t.eot_id, 20);
    // merges "Ġ l", "Ġl o", "Ġlo w", "e r": " lowest" -> Ġlow e s t; " newer" -> Ġ n e w er;
    // x is not in the vocabulary -> <unk>
    expect_ids(&t, " lowest newer x", 15, (int[]){14, 3, 5, 6, 10, 9, 3, 2, 15, 10, 19}, 11);
    tok_free(&t);
    // the same through vocab.json and through merges.txt
    assert_int_equal(tok_load(&t, DATA "/lm_buddy_tiny_gpt2/vocab.json", &err), 0);
    assert_int_equal(t.n_vocab, 21);
    tok_free(&t);
    assert_int_equal(tok_load(&t, DATA "/lm_buddy_tiny_gpt2/merges.txt", &err), 0);
    assert_int_equal(t.n_merges, 4);
    tok_free(&t);
}

static void test_encoder_json_matches_derived_ids(void **state) {
    (void)state;
    // write encoder.json from the derived ids, load encoder.json + vocab.bpe, compare
    const char *dir = tmp_path("enc");
    mkdir(dir, 0755);
    char path[600];
    snprintf(path, sizeof path, "%s/encoder.json", dir);
    FILE *f = fopen(path, "w");
    fputc('{', f);
    for (int id = 0; id < gpt2.n_vocab; id++) {
        const unsigned char *b = (const unsigned char *)gpt2.arena + gpt2.sym_off[id];
        fputc('"', f);
        for (uint32_t k = 0; k < gpt2.sym_len[id]; k++) {
            uint32_t cp = gpt2.special[id] ? b[k] : byte_to_unicode(b[k]);
            if (cp == '"' || cp == '\\') fputc('\\', f);
            char u[4];
            fwrite(u, 1, put_utf8(u, cp), f);
        }
        fprintf(f, "\": %d%s", id, id + 1 < gpt2.n_vocab ? ", " : "}");
    }
    fclose(f);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/vocab.bpe'", GPT2_VOCAB, dir);
    assert_int_equal(system(cmd), 0);
    Tokenizer t;
    PruneErr err;
    if (tok_load(&t, path, &err)) fail_msg("%s", err.msg);
    assert_int_equal(t.n_vocab, 50257);
    const char *s = "Hello, world! The quick brown fox's 2024 \xf0\x9f\xa6\x99 jumps";
    IdVec a = {0}, b = {0};
    assert_int_equal(tok_encode(&t, s, strlen(s), &a, &err), 0);
    assert_int_equal(tok_encode(&gpt2, s, strlen(s), &b, &err), 0);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.v, b.v, sizeof(int) * a.n);
    idvec_free(&a), idvec_free(&b);
    tok_free(&t);
}

static void expect_build_error(const char *vocab, const char *merges, const char *needle) {
    Tokenizer t;
    PruneErr err = {{0}};
    int rc = tok_build(&t, vocab, vocab ? strlen(vocab) : 0, merges, strlen(merges), "v.json",
                       "m.txt", &err);
    if (rc != -1 || !strstr(err.msg, needle))
        fail_msg("expected an error with '%s', got rc %d: %s", needle, rc, err.msg);
}

static void test_malformed_vocabularies(void **state) {
    (void)state;
    expect_build_error(NULL, "#version: 0.2\nĠ t\nĠ t h\n", "m.txt:3: expected two tokens");
    expect_build_error(NULL, "#version: 0.2\nĠ t\nab\n", "m.txt:3: expected two tokens");
    expect_build_error(NULL, "Ġ t\n t\n", "m.txt:2: expected two tokens");
    expect_build_error(NULL, "Ġ t\nĠt\xe2\x82\xac x\n", "m.txt:2: \"Ġt\xe2\x82\xac x\" has a character outside");
    expect_build_error(NULL, "Ġ t\nĠth e\n", "m.txt:2: \"Ġth\" is not a token yet");
    expect_build_error(NULL, "Ġ t\nĠ t\n", "m.txt:2:");
    expect_build_error("{\"a\": 0, \"b\": 1", "a b\n", "v.json:1: not valid JSON");
    expect_build_error("{\"a\": \"0\"}", "a b\n", "expected an integer id");
    expect_build_error("{\"a\": 0, \"b\": 0}", "a b\n", "id 0 is given to both");
    expect_build_error("{\"a\": 0, \"a\": 1}", "a b\n", "not valid JSON");
    expect_build_error("[1, 2]", "a b\n", "expected a non-empty JSON object");
    expect_build_error("{\"a\": 0, \"b\": 1}", "a b\na b\n", "appears twice");
    // a vocabulary without <unk> cannot encode bytes it lacks
    Tokenizer t;
    PruneErr err;
    const char *v = "{\"a\": 0, \"b\": 1, \"ab\": 2}";
    assert_int_equal(tok_build(&t, v, strlen(v), "a b\n", 4, "v.json", "m.txt", &err), 0);
    expect_ids(&t, "abab", 4, (int[]){2, 2}, 2);
    IdVec iv = {0};
    assert_int_equal(tok_encode(&t, "abc", 3, &iv, &err), -1);
    assert_non_null(strstr(err.msg, "no token in v.json"));
    idvec_free(&iv);
    tok_free(&t);
}

static void test_empty_merges_is_byte_level(void **state) {
    (void)state;
    Tokenizer t;
    PruneErr err;
    assert_int_equal(tok_build(&t, NULL, 0, "#version: 0.2\n", 14, NULL, "m.txt", &err), 0);
    assert_int_equal(t.n_vocab, 257);
    expect_ids(&t, "ab", 2, (int[]){byte_alphabet_id('a'), byte_alphabet_id('b')}, 2);
    tok_free(&t);
}

static void test_model_vocab_resolution(void **state) {
    (void)state;
    Tokenizer t;
    PruneErr err;
    assert_int_equal(tok_load_for_model(&t, DATA "/lm_buddy_tiny_gpt2", NULL, 21, &err), 0);
    assert_int_equal(t.n_vocab, 21);  // the folder's own files
    tok_free(&t);
    assert_int_equal(tok_load_for_model(&t, DATA "/lm_buddy_fake_gpt2", NULL, 50257, &err), 0);
    assert_int_equal(t.n_vocab, 50257);  // no files in the folder: GPT-2's
    tok_free(&t);
    assert_int_equal(tok_load_for_model(&t, DATA "/golden_l2h2.bin", NULL, 29, &err), -1);
    assert_non_null(strstr(err.msg, "has 50257 tokens but the model"));
    assert_int_equal(tok_load(&t, tmp_path("no-such-vocab.bpe"), &err), -1);
    assert_non_null(strstr(err.msg, "cannot open"));
}

// --- trainer ------------------------------------------------------------------------

// "ab cd ab cd" pre-tokenizes to ab, " cd", " ab", " cd". Pair counts: (a,b) 2, (Ġ,c) 2,
// (c,d) 2, (Ġ,a) 1. Ties go to the smallest (left id, right id): a = 64, b = 65, c = 66,
// d = 67, Ġ = 220, so "a b" (id 256), then "c d" (257), then (Ġ,cd) has count 2: "Ġ cd"
// (258); then only (Ġ,ab) with count 1 is left, and training stops.
static void test_trainer_hand_example(void **state) {
    (void)state;
    const char *dir = tmp_path("bpe1");
    int merges = -1;
    PruneErr err;
    assert_int_equal(bpe_train("ab cd ab cd", 11, 1000, 0, dir, &merges, &err), 0);
    assert_int_equal(merges, 3);
    char p[600], *text;
    size_t len;
    snprintf(p, sizeof p, "%s/merges.txt", dir);
    assert_int_equal(read_file(p, &text, &len, &err), 0);
    assert_string_equal(text, "#version: 0.2\na b\nc d\nĠ cd\n");
    free(text);
    Tokenizer t;
    assert_int_equal(tok_load(&t, dir, &err), 0);
    assert_int_equal(t.n_vocab, 260);  // 256 bytes + 3 merges + <|endoftext|>
    assert_int_equal(t.eot_id, 259);
    expect_ids(&t, "ab cd", 5, (int[]){256, 258}, 2);
    expect_ids(&t, " ab", 3, (int[]){220, 256}, 2);
    tok_free(&t);
    // the vocabulary size is a ceiling: 258 tokens leave room for one merge
    assert_int_equal(bpe_train("ab cd ab cd", 11, 258, 0, tmp_path("bpe2"), &merges, &err), 0);
    assert_int_equal(merges, 1);
    assert_int_equal(bpe_train("ab", 2, 100, 0, tmp_path("bpe3"), &merges, &err), -1);
    assert_non_null(strstr(err.msg, "at least 257"));
}

static void test_trainer_deterministic_and_round_trips(void **state) {
    (void)state;
    // a small corpus with repetition, punctuation, digits, newlines and UTF-8
    char corpus[20000];
    size_t n = 0;
    Rng r;
    rng_seed(&r, 3);
    const char *words[] = {"Mary", "John", "went", "to", "the", "store", "gave", "a", "drink",
                           "1984", "café", "!", "\n", "don't", "they'll"};
    while (n < sizeof corpus - 32) {
        const char *w = words[rng_u64(&r) % 15];
        if (n && rng_u64(&r) % 3) corpus[n++] = ' ';
        memcpy(corpus + n, w, strlen(w));
        n += strlen(w);
    }
    PruneErr err;
    int m1, m2;
    const char *d1 = tmp_path("bpe_a"), *d2 = tmp_path("bpe_b");
    assert_int_equal(bpe_train(corpus, n, 400, 0, d1, &m1, &err), 0);
    assert_int_equal(bpe_train(corpus, n, 400, 0, d2, &m2, &err), 0);
    assert_int_equal(m1, m2);
    assert_same_file(d1, d2, "vocab.json");
    assert_same_file(d1, d2, "merges.txt");
    Tokenizer t;
    assert_int_equal(tok_load(&t, d1, &err), 0);
    expect_round_trip(&t, corpus, n);
    IdVec v = {0};
    assert_int_equal(tok_encode(&t, " Mary", 5, &v, &err), 0);
    assert_int_equal(v.n, 1);  // a frequent word becomes one token
    idvec_free(&v);
    tok_free(&t);
}

// --max-digits 2 on years "1100".."1799": without the limit BPE merges " 17" + "3" first
// (that pair is the more frequent), so a year splits " 173" + "2"; with it every token holds
// at most two digits and years split " 17" + "32", the split the greater-than task needs.
static void test_trainer_max_digits(void **state) {
    (void)state;
    char *corpus = malloc(200000);
    size_t n = 0;
    Rng r;
    rng_seed(&r, 5);
    while (n < 200000 - 64)
        n += (size_t)sprintf(corpus + n, "from the year %d%02d to\n", 11 + (int)(rng_u64(&r) % 7),
                             (int)(rng_u64(&r) % 100));
    PruneErr err;
    int merges;
    const char *d0 = tmp_path("bpe_d0"), *d2 = tmp_path("bpe_d2");
    assert_int_equal(bpe_train(corpus, n, 400, 0, d0, &merges, &err), 0);
    assert_int_equal(bpe_train(corpus, n, 400, 2, d2, &merges, &err), 0);
    Tokenizer t0, t2;
    assert_int_equal(tok_load(&t0, d0, &err), 0);
    assert_int_equal(tok_load(&t2, d2, &err), 0);
    IdVec v = {0};
    char *d;
    size_t dl;
    assert_int_equal(tok_encode(&t0, " 1732", 5, &v, &err), 0);
    assert_int_equal(tok_decode(&t0, v.v, 1, &d, &dl, &err), 0);
    assert_true(dl != 3);  // the first token is not " 17" without the limit
    free(d);
    v.n = 0;
    assert_int_equal(tok_encode(&t2, " 1732", 5, &v, &err), 0);
    assert_int_equal(v.n, 2);
    assert_int_equal(tok_decode(&t2, v.v, 1, &d, &dl, &err), 0);
    assert_string_equal(d, " 17");
    free(d);
    assert_int_equal(tok_decode(&t2, v.v + 1, 1, &d, &dl, &err), 0);
    assert_string_equal(d, "32");
    free(d);
    for (int id = 0; id < t2.n_vocab; id++) {
        if (id == t2.eot_id) continue;
        assert_int_equal(tok_decode(&t2, &id, 1, &d, &dl, &err), 0);
        int digits = 0;
        for (size_t k = 0; k < dl; k++) digits += d[k] >= '0' && d[k] <= '9';
        assert_true(digits <= 2);
        free(d);
    }
    idvec_free(&v);
    tok_free(&t0), tok_free(&t2);
    free(corpus);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trainer_max_digits),
        cmocka_unit_test(test_reference_vectors),
        cmocka_unit_test(test_known_ids_and_edges),
        cmocka_unit_test(test_round_trip_random_bytes),
        cmocka_unit_test(test_heap_bpe_equals_naive),
        cmocka_unit_test(test_pretokenizer_whitespace_is_unicode_white_space),
        cmocka_unit_test(test_hf_vocab_fixture),
        cmocka_unit_test(test_encoder_json_matches_derived_ids),
        cmocka_unit_test(test_malformed_vocabularies),
        cmocka_unit_test(test_empty_merges_is_byte_level),
        cmocka_unit_test(test_model_vocab_resolution),
        cmocka_unit_test(test_trainer_hand_example),
        cmocka_unit_test(test_trainer_deterministic_and_round_trips),
    };
    return cmocka_run_group_tests_name("tokenizer", tests, setup, teardown);
}
