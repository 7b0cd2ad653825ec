// tokenizer.c: GPT-2 byte-level BPE (see tokenizer.h). Pre-tokens come from PCRE2 in
// UTF + UCP mode with JIT; BPE merges the lowest-rank adjacent pair first (leftmost on
// ties) using a heap, which gives GPT-2's merge order in O(n log n) even for very long
// words; results are cached per pre-token. Vocabulary files are validated with line
// numbers. The trainer at the end learns merges for the teaching models.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer.h"
#include "tok_internal.h"

#include <jansson.h>
#include <limits.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PRUNE_SOURCE_DIR
#define PRUNE_SOURCE_DIR "."
#endif

// --- byte alphabet ----------------------------------------------------------------

static int printable_byte(int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174; }

uint32_t byte_to_unicode(int b) {
    if (printable_byte(b)) return (uint32_t)b;
    int k = 0;  // rank of b among the 68 non-printable bytes
    for (int x = 0; x < b; x++) k += !printable_byte(x);
    return 256u + (uint32_t)k;
}

int byte_alphabet_id(int b) {
    int id = 0;
    for (int x = 0; x < 256; x++) {  // printable bytes first (ascending), then the rest
        if (!printable_byte(x)) continue;
        if (x == b) return id;
        id++;
    }
    for (int x = 0; x < 256; x++) {
        if (printable_byte(x)) continue;
        if (x == b) return id;
        id++;
    }
    return -1;
}

static int unicode_to_byte(uint32_t cp) {
    if (cp < 256 && printable_byte((int)cp)) return (int)cp;
    if (cp >= 256 && cp < 256 + 68) {
        int k = (int)cp - 256;
        for (int x = 0; x < 256; x++)
            if (!printable_byte(x) && k-- == 0) return x;
    }
    return -1;
}

// Next code point of s[*i..n) or -1 for invalid UTF-8 (then *i advances by one byte).
int32_t tok_utf8_next(const unsigned char *s, size_t n, size_t *i) {
    unsigned char c = s[*i];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!len || *i + (size_t)len > n) {
        (*i)++;
        return -1;
    }
    int32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (int k = 1; k < len; k++) {
        if ((s[*i + k] & 0xc0) != 0x80) {
            (*i)++;
            return -1;
        }
        cp = (cp << 6) | (s[*i + k] & 0x3f);
    }
    static const int32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) {
        (*i)++;
        return -1;
    }
    *i += (size_t)len;
    return cp;
}

size_t tok_utf8_put(char *out, uint32_t cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

// A byte-level token name (e.g. "Ġthe") -> raw bytes in out (room for n bytes).
// Returns the byte count, or -1 when some character is not in the byte alphabet.
long tok_bytes_of_name(const char *name, size_t n, char *out) {
    size_t i = 0, k = 0;
    while (i < n) {
        int32_t cp = tok_utf8_next((const unsigned char *)name, n, &i);
        int b = cp < 0 ? -1 : unicode_to_byte((uint32_t)cp);
        if (b < 0) return -1;
        out[k++] = (char)b;
    }
    return (long)k;
}

// --- id vectors ---------------------------------------------------------------------

int idvec_push(IdVec *v, int id) {
    if (v->n == v->cap) {
        size_t nc = v->cap ? 2 * v->cap : 64;
        int *p = realloc(v->v, sizeof(int) * nc);
        if (!p) return -1;
        v->v = p, v->cap = nc;
    }
    v->v[v->n++] = id;
    return 0;
}

void idvec_free(IdVec *v) {
    free(v->v);
    memset(v, 0, sizeof *v);
}

// --- pre-tokenizer ------------------------------------------------------------------

// Unicode White_Space (PropList.txt), as tiktoken's \s.
#define WS "\\t\\n\\x{0B}\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
static const char *GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS
                                  "\\p{L}\\p{N}]+|[" WS "]+(?![^" WS "])|[" WS "]+";

int pretok_init(PreTokenizer *p, PruneErr *err) {
    memset(p, 0, sizeof *p);
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)GPT2_PATTERN, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &code, &off,
                                   NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return perr(err, "pre-tokenizer pattern failed to compile at %zu: %s", (size_t)off,
                    (char *)msg);
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if it fails
    p->re = re;
    p->md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!p->md) {
        pretok_free(p);
        return perr(err, "out of memory creating the pre-tokenizer.");
    }
    return 0;
}

void pretok_free(PreTokenizer *p) {
    if (p->md) pcre2_match_data_free(p->md);
    if (p->re) pcre2_code_free(p->re);
    memset(p, 0, sizeof *p);
}

int pretok_next(PreTokenizer *p, const char *text, size_t len, size_t *pos, size_t *start,
                size_t *end) {
    if (*pos >= len) return 0;
    int rc = pcre2_match(p->re, (PCRE2_SPTR)text, len, *pos, 0, p->md, NULL);
    size_t ms = len, me = len;
    if (rc > 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(p->md);
        ms = ov[0], me = ov[1];
    }
    if (ms > *pos) {  // a run of invalid UTF-8 before the next match (or the end)
        *start = *pos;
        *end = ms;
        *pos = ms;
        return 1;
    }
    CHECK(me > ms);  // every alternative of the pattern consumes at least one character
    *start = ms;
    *end = me;
    *pos = me;
    return 1;
}

// --- building a tokenizer -----------------------------------------------------------

int tok_add_symbol(Tokenizer *t, const char *bytes, size_t len, int special, PruneErr *err) {
    if (t->n_sym == t->sym_cap) {
        int nc = t->sym_cap ? 2 * t->sym_cap : 1024;
        size_t *o = realloc(t->sym_off, sizeof(size_t) * nc);
        if (o) t->sym_off = o;
        uint32_t *l = realloc(t->sym_len, sizeof(uint32_t) * nc);
        if (l) t->sym_len = l;
        unsigned char *s = realloc(t->special, (size_t)nc);
        if (s) t->special = s;
        if (!o || !l || !s) return perr(err, "out of memory building the vocabulary.");
        t->sym_cap = nc;
    }
    if (!t->arena || t->arena_len + len > t->arena_cap) {  // a first symbol may be empty
        size_t nc = 2 * (t->arena_len + len) + 1024;
        char *a = realloc(t->arena, nc);
        if (!a) return perr(err, "out of memory building the vocabulary.");
        t->arena = a, t->arena_cap = nc;
    }
    int id = t->n_sym++;
    memcpy(t->arena + t->arena_len, bytes, len);
    t->sym_off[id] = t->arena_len;
    t->sym_len[id] = (uint32_t)len;
    t->special[id] = (unsigned char)special;
    t->arena_len += len;
    if (!special && strmap_put(&t->by_bytes, bytes, len, id))
        return perr(err, "out of memory building the vocabulary.");
    return id;
}

int tok_sym_of(const Tokenizer *t, const char *bytes, size_t len) {
    int64_t *v = strmap_get(&t->by_bytes, bytes, len);
    return v ? (int)*v : -1;
}

// vocab.json / encoder.json: {"token": id, ...} -> symbols 0..n_vocab-1
static int build_vocab(Tokenizer *t, const char *json, size_t len, const char *name,
                       PruneErr *err) {
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return perr(err, "%s:%d: not valid JSON: %s. Hint: a vocab.json maps token strings to "
                         "ids, {\"!\": 0, ...}.", name, je.line, je.text);
    int rc = -1;
    char **names = NULL;
    if (!json_is_object(root) || json_object_size(root) == 0) {
        perr(err, "%s: expected a non-empty JSON object mapping tokens to ids.", name);
        goto done;
    }
    const char *key;
    json_t *v;
    json_int_t max_id = -1;
    json_object_foreach(root, key, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= (1 << 24)) {
            perr(err, "%s: token \"%.40s\": expected an integer id from 0 to %d. Hint: the file is "
                      "damaged or not a vocabulary.", name, key, (1 << 24) - 1);
            goto done;
        }
        if (json_integer_value(v) > max_id) max_id = json_integer_value(v);
    }
    int n = (int)max_id + 1;
    names = calloc((size_t)n, sizeof(char *));
    if (!names) {
        perr(err, "out of memory reading %s.", name);
        goto done;
    }
    json_object_foreach(root, key, v) {
        int id = (int)json_integer_value(v);
        if (names[id]) {
            perr(err, "%s: id %d is given to both \"%.40s\" and \"%.40s\". Hint: ids must be "
                      "unique.", name, id, names[id], key);
            goto done;
        }
        names[id] = (char *)key;
    }
    char *buf = malloc(4096);
    if (!buf) goto done;
    for (int id = 0; id < n; id++) {
        const char *nm = names[id] ? names[id] : "";
        size_t nl = strlen(nm);
        long bl = -1;
        if (names[id] && nl && nl < 4096) bl = tok_bytes_of_name(nm, nl, buf);
        // Not byte-level text (e.g. "<unk>" is, "<s>" too; "▁" is not): a special token,
        // kept by name for display, never produced by BPE. Missing ids are empty specials.
        int special = bl < 0 || !names[id];
        if (!special && tok_sym_of(t, buf, (size_t)bl) >= 0) {
            perr(err, "%s: tokens \"%.40s\" (id %d) and id %d decode to the same bytes. Hint: "
                      "the vocabulary is not a byte-level BPE vocabulary.", name, nm, id,
                 tok_sym_of(t, buf, (size_t)bl));
            free(buf);
            goto done;
        }
        if (tok_add_symbol(t, special ? nm : buf, special ? nl : (size_t)bl, special, err) < 0) {
            free(buf);
            goto done;
        }
        if (!strcmp(nm, "<unk>")) t->unk_id = id;
        if (!strcmp(nm, "<|endoftext|>")) t->eot_id = id;
    }
    free(buf);
    t->n_vocab = n;
    rc = 0;
done:
    free(names);
    json_decref(root);
    return rc;
}

static int build_merges(Tokenizer *t, const char *text, size_t len, const char *name, int derive,
                        PruneErr *err) {
    size_t pos = 0;
    int line = 0, rank = 0;
    char *a = malloc(len + 1), *merged = malloc(len + 1);
    if (!a || !merged) {
        free(a), free(merged);
        return perr(err, "out of memory reading %s.", name);
    }
    int rc = -1;
    while (pos < len) {
        line++;
        size_t e = pos;
        while (e < len && text[e] != '\n') e++;
        size_t ll = e - pos;
        const char *s = text + pos;
        pos = e + 1;
        if (ll && s[ll - 1] == '\r') ll--;  // tolerate Windows line ends
        if (ll == 0) continue;
        if (line == 1 && ll >= 8 && !memcmp(s, "#version", 8)) continue;
        const char *sp = memchr(s, ' ', ll);
        if (!sp || sp == s || sp == s + ll - 1 || memchr(sp + 1, ' ', (size_t)(s + ll - sp - 1))) {
            perr(err, "%s:%d: expected two tokens separated by one space, found \"%.*s\". Hint: "
                      "each merges line reads like \"Ġ t\".", name, line, (int)(ll < 60 ? ll : 60), s);
            goto done;
        }
        size_t la = (size_t)(sp - s), lb = ll - la - 1;
        long ba = tok_bytes_of_name(s, la, a), bb = tok_bytes_of_name(sp + 1, lb, merged + 0);
        if (ba < 0 || bb < 0) {
            perr(err, "%s:%d: \"%.*s\" has a character outside GPT-2's byte alphabet. Hint: the "
                      "file is not a byte-level BPE merges file.", name, line,
                 (int)(ll < 60 ? ll : 60), s);
            goto done;
        }
        // merged = a bytes + b bytes (b's bytes were decoded into merged[0..bb))
        memmove(merged + ba, merged, (size_t)bb);
        memcpy(merged, a, (size_t)ba);
        int left = tok_sym_of(t, merged, (size_t)ba), right = tok_sym_of(t, merged + ba, (size_t)bb);
        if (derive && (left < 0 || right < 0)) {
            perr(err, "%s:%d: \"%.*s\" is not a token yet. Hint: in a vocab.bpe every merge uses "
                      "single bytes or results of earlier lines.", name, line,
                 (int)(left < 0 ? la : lb), left < 0 ? s : sp + 1);
            goto done;
        }
        if (left < 0 && (left = tok_add_symbol(t, merged, (size_t)ba, 0, err)) < 0) goto done;
        if (right < 0 && (right = tok_add_symbol(t, merged + ba, (size_t)bb, 0, err)) < 0) goto done;
        int res = tok_sym_of(t, merged, (size_t)(ba + bb));
        if (derive && res >= 0) {
            perr(err, "%s:%d: \"%.*s\" makes a token that an earlier line already made.", name,
                 line, (int)(ll < 60 ? ll : 60), s);
            goto done;
        }
        if (res < 0 && (res = tok_add_symbol(t, merged, (size_t)(ba + bb), 0, err)) < 0) goto done;
        uint64_t key = (uint64_t)left << 32 | (uint32_t)right;
        if (u64map_get(&t->merges, key)) {
            perr(err, "%s:%d: the merge \"%.*s\" appears twice.", name, line,
                 (int)(ll < 60 ? ll : 60), s);
            goto done;
        }
        if (u64map_put(&t->merges, key, (uint64_t)rank << 32 | (uint32_t)res)) {
            perr(err, "out of memory reading %s.", name);
            goto done;
        }
        rank++;
    }
    t->n_merges = rank;
    rc = 0;
done:
    free(a), free(merged);
    return rc;
}

int tok_build(Tokenizer *t, const char *vocab_json, size_t vocab_len, const char *merges,
              size_t merges_len, const char *vocab_name, const char *merges_name, PruneErr *err) {
    memset(t, 0, sizeof *t);
    t->unk_id = t->eot_id = -1;
    snprintf(t->source, sizeof t->source, "%s%s%s", vocab_name ? vocab_name : "",
             vocab_name ? " + " : "", merges_name);
    if (strmap_init(&t->by_bytes, 1024) || u64map_init(&t->merges, 1024) ||
        strmap_init(&t->cache, 1024)) {
        tok_free(t);
        return perr(err, "out of memory creating a tokenizer.");
    }
    if (vocab_json) {
        if (build_vocab(t, vocab_json, vocab_len, vocab_name, err)) goto fail;
    } else {
        char byte_of[256];  // ids 0..255: the bytes in alphabet order
        for (int b = 0; b < 256; b++) byte_of[byte_alphabet_id(b)] = (char)b;
        for (int id = 0; id < 256; id++)
            if (tok_add_symbol(t, &byte_of[id], 1, 0, err) < 0) goto fail;
    }
    if (build_merges(t, merges, merges_len, merges_name, !vocab_json, err)) goto fail;
    if (!vocab_json) {
        t->eot_id = tok_add_symbol(t, "<|endoftext|>", 13, 1, err);
        if (t->eot_id < 0) goto fail;
        t->n_vocab = t->n_sym;
    }
    // Every byte needs a starting symbol; a vocabulary without one (like a 21-token test
    // vocabulary) maps text using that byte to <unk> after BPE.
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        int s = tok_sym_of(t, &c, 1);
        if (s < 0 && (s = tok_add_symbol(t, &c, 1, 0, err)) < 0) goto fail;
        t->byte_sym[b] = s;
    }
    if (pretok_init(&t->pre, err)) goto fail;
    snprintf(t->type, sizeof t->type, "GPT-2 byte-level BPE (vocabulary files)");
    t->bos_id = t->eot_id;
    t->add_bos = 0;
    snprintf(t->bos_rule, sizeof t->bos_rule, "no BOS (GPT-2's own tokenizer adds none; --bos yes "
             "prepends <|endoftext|> as TransformerLens does)");
    return 0;
fail:
    tok_free(t);
    return -1;
}

void tok_free(Tokenizer *t) {
    free(t->arena), free(t->sym_off), free(t->sym_len), free(t->special);
    strmap_free(&t->by_bytes);
    u64map_free(&t->merges);
    strmap_free(&t->cache);
    idvec_free(&t->cache_ids);
    pretok_free(&t->pre);
    free(t->s_sym), free(t->s_prev), free(t->s_next), free(t->s_heap), free(t->s_start);
    if (t->hf) hf_free(t->hf);
    memset(t, 0, sizeof *t);
}

// --- loading files -------------------------------------------------------------------

static void sibling(char *out, size_t cap, const char *path, const char *name) {
    const char *slash = strrchr(path, '/');
    if (slash) snprintf(out, cap, "%.*s/%s", (int)(slash - path), path, name);
    else snprintf(out, cap, "%s", name);
}

static int load_pair(Tokenizer *t, const char *vocab, const char *merges, PruneErr *err) {
    char *vt = NULL, *mt = NULL;
    size_t vl = 0, ml = 0;
    if (vocab && read_file(vocab, &vt, &vl, err)) return -1;
    if (read_file(merges, &mt, &ml, err)) {
        free(vt);
        return -1;
    }
    size_t vb = vt ? utf8_bom_len(vt, vl) : 0, mb = utf8_bom_len(mt, ml);  // not text: skipped
    int rc = tok_build(t, vt ? vt + vb : NULL, vl - vb, mt + mb, ml - mb, vocab, merges, err);
    free(vt), free(mt);
    return rc;
}

static int opt_bos = TOK_BOS_DEFAULT, opt_special = 0;

void tok_set_options(int bos_mode, int match_special) {
    opt_bos = bos_mode;
    opt_special = match_special;
}

// The options on a freshly loaded tokenizer (frees it on failure).
static int apply_options(Tokenizer *t, int rc, PruneErr *err) {
    if (rc) return rc;
    t->match_special = opt_special;
    if (tok_set_bos(t, opt_bos, err)) {
        tok_free(t);
        return -1;
    }
    return 0;
}

// tokenizer.json, with the tokenizer_config.json beside it when there is one.
static int load_json(Tokenizer *t, const char *path, PruneErr *err) {
    char cfg[4200], *jt = NULL, *ct = NULL;
    size_t jl = 0, cl = 0;
    sibling(cfg, sizeof cfg, path, "tokenizer_config.json");
    if (read_file(path, &jt, &jl, err)) return -1;
    int have_cfg = path_is_file(cfg);
    if (have_cfg && read_file(cfg, &ct, &cl, err)) {
        free(jt);
        return -1;
    }
    size_t jb = utf8_bom_len(jt, jl), cb = ct ? utf8_bom_len(ct, cl) : 0;
    int rc = tok_build_json(t, jt + jb, jl - jb, ct ? ct + cb : NULL, cl - cb, path, cfg, err);
    if (!rc && have_cfg) snprintf(t->source, sizeof t->source, "%s (+ tokenizer_config.json)", path);
    free(jt), free(ct);
    return rc;
}

static int load_any(Tokenizer *t, const char *path, PruneErr *err) {
    char a[4200], b[4200];
    if (str_ends_with(path, "tokenizer.json") || (str_ends_with(path, ".json") && !path_is_dir(path) &&
                                                 !str_ends_with(path, "vocab.json") &&
                                                 !str_ends_with(path, "encoder.json")))
        return load_json(t, path, err);
    if (path_is_dir(path)) {
        snprintf(a, sizeof a, "%s/tokenizer.json", path);
        if (path_is_file(a)) return load_json(t, a, err);
        snprintf(a, sizeof a, "%s/vocab.json", path);
        snprintf(b, sizeof b, "%s/merges.txt", path);
        if (path_is_file(a) && path_is_file(b)) return load_pair(t, a, b, err);
        snprintf(a, sizeof a, "%s/encoder.json", path);
        snprintf(b, sizeof b, "%s/vocab.bpe", path);
        if (path_is_file(a) && path_is_file(b)) return load_pair(t, a, b, err);
        if (path_is_file(b)) return load_pair(t, NULL, b, err);
        return perr(err, "%s: folder has no vocabulary (tokenizer.json, vocab.json + merges.txt, "
                         "encoder.json + vocab.bpe, or vocab.bpe). Hint: give the vocabulary file with --vocab.",
                    path);
    }
    if (str_ends_with(path, ".json")) {
        sibling(b, sizeof b, path, str_ends_with(path, "encoder.json") ? "vocab.bpe" : "merges.txt");
        if (!path_is_file(b)) sibling(b, sizeof b, path, "vocab.bpe");
        if (!path_is_file(b))
            return perr(err, "%s: no merges file beside it (merges.txt or vocab.bpe). Hint: a "
                             "vocab.json needs its merges.txt in the same folder.", path);
        return load_pair(t, path, b, err);
    }
    if (str_ends_with(path, "merges.txt")) {
        sibling(a, sizeof a, path, "vocab.json");
        if (!path_is_file(a))
            return perr(err, "%s: no vocab.json beside it. Hint: merges.txt needs its vocab.json; "
                             "GPT-2's vocab.bpe works alone.", path);
        return load_pair(t, a, path, err);
    }
    return load_pair(t, NULL, path, err);  // vocab.bpe: ids derived from the merges
}

int tok_load(Tokenizer *t, const char *path, PruneErr *err) {
    return apply_options(t, load_any(t, path, err), err);
}

// GPT-2's vocab.bpe as shipped in models/gpt2/: beside the executable (or up to two folders
// above it, for build/release/prune), $PRUNE_HOME, or the source tree it was built from.
static int find_gpt2_vocab(char *out, size_t cap) {
    const char *home = getenv("PRUNE_HOME");
    if (home) {
        snprintf(out, cap, "%s/models/gpt2/vocab.bpe", home);
        if (path_is_file(out)) return 0;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        const char *ups[3] = {"", "/..", "/../.."};
        for (int i = 0; i < 3; i++) {
            snprintf(out, cap, "%s%s/models/gpt2/vocab.bpe", exe, ups[i]);
            if (path_is_file(out)) return 0;
        }
    }
    snprintf(out, cap, "%s/models/gpt2/vocab.bpe", PRUNE_SOURCE_DIR);
    return path_is_file(out) ? 0 : -1;
}

int tok_load_gpt2(Tokenizer *t, PruneErr *err) {
    char path[4200];
    if (find_gpt2_vocab(path, sizeof path))
        return perr(err, "GPT-2's models/gpt2/vocab.bpe was not found beside the executable or in %s. "
                         "Hint: pass --vocab FILE, or set PRUNE_HOME to the prune folder.", PRUNE_SOURCE_DIR);
    return apply_options(t, load_pair(t, NULL, path, err), err);
}

int tok_load_for_model(Tokenizer *t, const char *model_path, const char *vocab, int model_V,
                       PruneErr *err) {
    char dir[4096], a[4200], b[4200];
    int rc, own = 0;
    if (vocab) {
        rc = tok_load(t, vocab, err);
    } else {
        if (path_is_dir(model_path)) snprintf(dir, sizeof dir, "%s", model_path);
        else sibling(dir, sizeof dir, model_path, ".");
        snprintf(a, sizeof a, "%s/tokenizer.json", dir);
        snprintf(b, sizeof b, "%s/merges.txt", dir);
        if (path_is_file(a)) {
            if (load_json(t, a, err)) return -1;
            rc = 0;
        } else if (snprintf(a, sizeof a, "%s/vocab.json", dir), path_is_file(a) && path_is_file(b)) {
            rc = load_pair(t, a, b, err);
            own = 1;
        } else {
            if (find_gpt2_vocab(a, sizeof a))
                return perr(err, "%s: no vocabulary beside the model and GPT-2's "
                                 "models/gpt2/vocab.bpe was not found. Hint: pass --vocab FILE, or "
                                 "set PRUNE_HOME to the prune folder.", model_path);
            rc = load_pair(t, NULL, a, err);
        }
    }
    if (rc) return -1;
    if (own && t->n_vocab != model_V) {
        // the folder's own vocabulary and model were written together (prune train commits
        // them at once); a size that differs means they belong to different runs
        int n = t->n_vocab;
        tok_free(t);
        return perr(err, "%s: the vocabulary beside the model has %d tokens but the model %s has V = %d: "
                         "they do not belong together (e.g. a training run that stopped between writing "
                         "them). Hint: train again, or give the model's vocabulary with --vocab.", a, n,
                    model_path, model_V);
    }
    if (t->n_vocab > model_V) {
        int n = t->n_vocab;
        char src[1024];
        snprintf(src, sizeof src, "%s", t->source);
        tok_free(t);
        return perr(err, "%s: the vocabulary has %d tokens but the model %s has V = %d. Hint: use "
                         "the vocabulary the model was trained with (--vocab), or, for a model without "
                         "one, token ids (prune next --ids, ids: fields in a task).", src, n,
                    model_path, model_V);
    }
    return apply_options(t, 0, err);
}

// --- encoding and decoding -------------------------------------------------------------

static int grow_scratch(Tokenizer *t, size_t n) {
    if (n <= t->s_cap) return 0;
    size_t c = n + n / 2 + 16;
    int *a = realloc(t->s_sym, sizeof(int) * c);
    if (a) t->s_sym = a;
    int *b = realloc(t->s_prev, sizeof(int) * c);
    if (b) t->s_prev = b;
    int *d = realloc(t->s_next, sizeof(int) * c);
    if (d) t->s_next = d;
    uint64_t *h = realloc(t->s_heap, sizeof(uint64_t) * (3 * c + 1));
    if (h) t->s_heap = h;
    size_t *st = realloc(t->s_start, sizeof(size_t) * (c + 1));
    if (st) t->s_start = st;
    if (!a || !b || !d || !h || !st) return -1;
    t->s_cap = c;
    return 0;
}

// min-heap of (rank << 32 | position): lowest rank first, leftmost on ties
static void heap_push(uint64_t *h, size_t *n, uint64_t v) {
    size_t i = (*n)++;
    while (i && h[(i - 1) / 2] > v) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = v;
}

static uint64_t heap_pop(uint64_t *h, size_t *n) {
    uint64_t top = h[0], v = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && h[c + 1] < h[c]) c++;
        if (h[c] >= v) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = v;
    return top;
}

static int64_t pair_rank(const Tokenizer *t, int a, int b, int *merged) {
    uint64_t *v = u64map_get(&t->merges, (uint64_t)a << 32 | (uint32_t)b);
    if (!v) return -1;
    if (merged) *merged = (int)(uint32_t)*v;
    return (int64_t)(*v >> 32);
}

// One pre-token -> ids. Units are bytes (byte-level BPE) or, for a character-level
// tokenizer.json (SentencePiece-style), UTF-8 characters; a character with no token stays a
// unit of its own (no merge names it) and becomes its <0xNN> byte tokens (byte_fallback) or
// <unk> (consecutive ones fused when fuse_unk), as tokenizers' BPE::merge_word does.
static int bpe_word(Tokenizer *t, const unsigned char *p, size_t n, IdVec *out, PruneErr *err) {
    if (grow_scratch(t, n)) return perr(err, "out of memory encoding a %zu-byte word.", n);
    int *sym = t->s_sym, *prev = t->s_prev, *next = t->s_next;
    size_t *start = t->s_start;
    uint64_t *heap = t->s_heap;
    size_t hn = 0, nu = 0;
    const TokJson *h = t->hf;
    if (!h || h->byte_level) {
        for (size_t i = 0; i < n; i++) {
            sym[i] = t->byte_sym[p[i]];
            start[i] = i;
        }
        nu = n;
    } else {
        for (size_t i = 0; i < n;) {
            size_t j = i;
            if (tok_utf8_next(p, n, &j) < 0) j = i + 1;  // (the text is valid UTF-8 by now)
            int s = tok_sym_of(t, (const char *)p + i, j - i);
            sym[nu] = s >= 0 && !t->special[s] ? s : -2;  // -2: a character with no token
            start[nu++] = i;
            i = j;
        }
    }
    start[nu] = n;
    for (size_t i = 0; i < nu; i++) {
        prev[i] = (int)i - 1;
        next[i] = i + 1 < nu ? (int)i + 1 : -1;
    }
    for (size_t i = 0; i + 1 < nu; i++) {
        if (sym[i] < 0 || sym[i + 1] < 0) continue;
        int64_t r = pair_rank(t, sym[i], sym[i + 1], NULL);
        if (r >= 0) heap_push(heap, &hn, (uint64_t)r << 32 | i);
    }
    while (hn) {
        uint64_t e = heap_pop(heap, &hn);
        int pos = (int)(uint32_t)e, merged;
        // stale entries: the left symbol was merged away, or the pair at pos changed (a
        // rank names exactly one pair, so an equal rank means the same pair)
        if (sym[pos] < 0 || next[pos] < 0 || sym[next[pos]] < 0) continue;
        if (pair_rank(t, sym[pos], sym[next[pos]], &merged) != (int64_t)(e >> 32)) continue;
        int right = next[pos];
        sym[pos] = merged;
        sym[right] = -1;
        next[pos] = next[right];
        if (next[pos] >= 0) prev[next[pos]] = pos;
        int64_t r;
        if (prev[pos] >= 0 && sym[prev[pos]] >= 0 && (r = pair_rank(t, sym[prev[pos]], sym[pos], NULL)) >= 0)
            heap_push(heap, &hn, (uint64_t)r << 32 | (uint32_t)prev[pos]);
        if (next[pos] >= 0 && sym[next[pos]] >= 0 && (r = pair_rank(t, sym[pos], sym[next[pos]], NULL)) >= 0)
            heap_push(heap, &hn, (uint64_t)r << 32 | (uint32_t)pos);
    }
    int last_unk = 0;
    for (int i = 0; i >= 0 && nu; i = next[i]) {
        int s = sym[i];
        if (s >= 0 && s < t->n_vocab && !t->special[s]) {
            if (idvec_push(out, s)) return perr(err, "out of memory encoding text.");
            last_unk = 0;
            continue;
        }
        size_t b0 = start[i], b1 = next[i] >= 0 ? start[next[i]] : n;
        if (s < 0 && h && h->byte_fallback) {  // every byte must have its <0xNN> token
            size_t k = b0;
            while (k < b1 && h->byte_fb[p[k]] >= 0) k++;
            if (k == b1) {
                for (k = b0; k < b1; k++)
                    if (idvec_push(out, h->byte_fb[p[k]])) return perr(err, "out of memory encoding text.");
                last_unk = 0;
                continue;
            }
        }
        if (t->unk_id < 0)
            return perr(err, "the text contains bytes (first 0x%02x) with no token in %s, which "
                             "has no <unk> token. Hint: use the model's own vocabulary.",
                        p[b0], t->source);
        if (h && h->fuse_unk && last_unk) continue;
        if (idvec_push(out, t->unk_id)) return perr(err, "out of memory encoding text.");
        last_unk = 1;
    }
    return 0;
}

int tok_bpe_piece(Tokenizer *t, const char *w, size_t wl, IdVec *out, PruneErr *err) {
    int64_t *hit = strmap_get(&t->cache, w, wl);
    if (hit) {
        size_t off = (size_t)(*hit >> 16), cnt = (size_t)(*hit & 0xffff);
        for (size_t k = 0; k < cnt; k++)
            if (idvec_push(out, t->cache_ids.v[off + k])) return perr(err, "out of memory.");
        return 0;
    }
    size_t before = out->n;
    if (bpe_word(t, (const unsigned char *)w, wl, out, err)) return -1;
    size_t cnt = out->n - before;
    if (cnt < 0xffff && wl < 256) {  // cache short pre-tokens: they are the repeated ones
        if (t->cache.n > (1u << 20)) {  // bound the cache: start over
            strmap_free(&t->cache);
            t->cache_ids.n = 0;
            if (strmap_init(&t->cache, 1024)) return perr(err, "out of memory.");
        }
        int64_t val = (int64_t)t->cache_ids.n << 16 | (int64_t)cnt;
        for (size_t k = 0; k < cnt; k++)
            if (idvec_push(&t->cache_ids, out->v[before + k])) return perr(err, "out of memory.");
        if (strmap_put(&t->cache, w, wl, val)) return perr(err, "out of memory.");
    }
    return 0;
}

void tok_init_ids_only(Tokenizer *t, int V, const char *why) {
    memset(t, 0, sizeof *t);
    t->n_vocab = V;
    t->unk_id = t->eot_id = t->bos_id = -1;
    snprintf(t->type, sizeof t->type, "none (token ids only)");
    snprintf(t->source, sizeof t->source, "%s", why);
    snprintf(t->bos_rule, sizeof t->bos_rule, "no BOS (ids are given as they are)");
    t->ids_only = 1;
}

int tok_encode(Tokenizer *t, const char *text, size_t len, IdVec *out, PruneErr *err) {
    if (t->ids_only)
        return perr(err, "text \"%.*s\" cannot be tokenized: the model has no usable tokenizer (%s). Hint: give "
                         "prompts and answers as token ids (\"ids:12 34 5\", docs/tasks.md), or pass --vocab.",
                    (int)(len < 40 ? len : 40), text, t->source);
    if (t->hf) return hf_encode(t, text, len, 0, out, err);
    if (t->match_special && t->eot_id >= 0) {  // --special-tokens: "<|endoftext|>" is the token
        size_t at;
        if (tok_find_special(t, text, len, &at) >= 0) {
            Tokenizer *u = t;
            u->match_special = 0;
            int rc = tok_encode(u, text, at, out, err);
            u->match_special = 1;
            if (rc || idvec_push(out, t->eot_id)) return rc ? rc : perr(err, "out of memory.");
            return tok_encode(t, text + at + 13, len - at - 13, out, err);
        }
    }
    size_t pos = 0, s, e;
    while (pretok_next(&t->pre, text, len, &pos, &s, &e))
        if (tok_bpe_piece(t, text + s, e - s, out, err)) return -1;
    return 0;
}

int tok_encode_cont(Tokenizer *t, const char *text, size_t len, IdVec *out, PruneErr *err) {
    if (t->hf) return hf_encode(t, text, len, 1, out, err);
    return tok_encode(t, text, len, out, err);
}

int tok_encode_prompt(Tokenizer *t, const char *text, size_t len, IdVec *out, PruneErr *err) {
    if (t->add_bos && t->bos_id >= 0 && idvec_push(out, t->bos_id)) return perr(err, "out of memory.");
    return tok_encode(t, text, len, out, err);
}

int tok_special_id(const Tokenizer *t, const char *text, size_t len) {
    if (t->hf) {
        for (int i = 0; i < t->hf->n_added; i++)
            if (t->hf->added[i].n == len && !memcmp(t->hf->added[i].s, text, len)) return t->hf->added[i].id;
        int s = tok_sym_of(t, text, len);  // a vocabulary token named so (e.g. "<s>" in vocab only)
        if (s >= 0 && s < t->n_vocab) return s;
        for (int id = 0; id < t->n_vocab; id++)
            if (t->special[id] && t->sym_len[id] == len && !memcmp(t->arena + t->sym_off[id], text, len))
                return id;
        return -1;
    }
    if (t->eot_id >= 0 && len == 13 && !memcmp(text, "<|endoftext|>", 13)) return t->eot_id;
    return -1;
}

int tok_find_special(const Tokenizer *t, const char *text, size_t len, size_t *at) {
    for (size_t i = 0; i < len; i++) {
        if (t->hf) {
            if (!t->hf->added_first[(unsigned char)text[i]]) continue;
            for (int k = 0; k < t->hf->n_added; k++) {
                const AddedTok *a = &t->hf->added[k];
                if (a->special && a->n <= len - i && !memcmp(text + i, a->s, a->n)) {
                    *at = i;
                    return a->id;
                }
            }
        } else if (t->eot_id >= 0 && len - i >= 13 && !memcmp(text + i, "<|endoftext|>", 13)) {
            *at = i;
            return t->eot_id;
        }
    }
    return -1;
}

void tok_describe(const Tokenizer *t, char *buf, size_t cap) {
    char bos[200] = "";
    if (t->bos_id >= 0) tok_repr(t, t->bos_id, bos, sizeof bos);
    snprintf(buf, cap, "%s, %d tokens, from %s; %s%s%s%s", t->type, t->n_vocab, t->source, t->bos_rule,
             t->bos_id >= 0 ? ", BOS token " : "", bos, t->match_special ? "; special tokens in text are matched" : "");
}

int tok_set_bos(Tokenizer *t, int mode, PruneErr *err) {
    if (mode == TOK_BOS_DEFAULT || t->ids_only) return 0;
    if (mode == TOK_BOS_YES && t->bos_id < 0)
        return perr(err, "--bos yes: %s has no BOS token (no bos_token in tokenizer_config.json, none "
                         "in its post-processor, no <|endoftext|>). Hint: write the ids yourself in an "
                         "ids: task.", t->source);
    t->add_bos = mode == TOK_BOS_YES;
    snprintf(t->bos_rule, sizeof t->bos_rule, "%s (--bos %s)", t->add_bos ? "BOS first" : "no BOS",
             t->add_bos ? "yes" : "no");
    return 0;
}

int tok_decode(const Tokenizer *t, const int *ids, size_t n, char **out, size_t *len,
               PruneErr *err) {
    if (t->ids_only) return perr(err, "no tokenizer to decode with (%s).", t->source);
    if (t->hf && !hf_decode_plain(t)) return hf_decode(t, ids, n, out, len, err);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab)
            return perr(err, "id %d (position %zu) is outside the vocabulary 0..%d of %s.", ids[i],
                        i, t->n_vocab - 1, t->source);
        total += t->sym_len[ids[i]];
    }
    char *buf = palloc(total + 1, "decoded text", err);
    if (!buf) return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + k, t->arena + t->sym_off[ids[i]], t->sym_len[ids[i]]);
        k += t->sym_len[ids[i]];
    }
    buf[k] = 0;
    *out = buf;
    *len = k;
    return 0;
}

void tok_repr(const Tokenizer *t, int id, char *buf, size_t cap) {
    if (cap < 16) {
        if (cap) buf[0] = 0;
        return;
    }
    if (id < 0 || id >= t->n_vocab || t->ids_only) {
        snprintf(buf, cap, "<id %d>", id);
        return;
    }
    const unsigned char *s = (const unsigned char *)t->arena + t->sym_off[id];
    size_t n = t->sym_len[id], k = 0;
    if (t->special[id]) {
        snprintf(buf, cap, "%.*s", (int)n, (const char *)s);
        return;
    }
    buf[k++] = '"';
    for (size_t i = 0; i < n && k + 8 < cap;) {
        size_t j = i;
        int32_t cp = tok_utf8_next(s, n, &j);
        if (cp < 0) {
            k += (size_t)snprintf(buf + k, cap - k, "\\x%02x", s[i]);
        } else if (cp == '\n' || cp == '\t' || cp == '\r' || cp == '"' || cp == '\\') {
            buf[k++] = '\\';
            buf[k++] = cp == '\n' ? 'n' : cp == '\t' ? 't' : cp == '\r' ? 'r' : (char)cp;
        } else if (cp < 32 || cp == 127) {
            k += (size_t)snprintf(buf + k, cap - k, "\\x%02x", (unsigned)cp);
        } else {
            memcpy(buf + k, s + i, j - i);
            k += j - i;
        }
        i = j;
    }
    buf[k++] = '"';
    buf[k] = 0;
}

// --- BPE trainer ----------------------------------------------------------------------

// JSON string literal of a byte-level name (jansson escapes '"' and '\').
static char *json_quote(const char *s) {
    json_t *js = json_string(s);
    if (!js) return NULL;
    char *q = json_dumps(js, JSON_ENCODE_ANY);
    json_decref(js);
    return q;
}

// bytes -> byte-level name (each byte as its alphabet code point, UTF-8)
static char *name_of_bytes(const char *b, size_t n) {
    char *out = malloc(3 * n + 1);
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += tok_utf8_put(out + k, byte_to_unicode((unsigned char)b[i]));
    out[k] = 0;
    return out;
}

char *tok_gpt2_json(const Tokenizer *t, PruneErr *err) {
    if (t->hf) {
        perr(err, "%s is already a tokenizer.json.", t->source);
        return NULL;
    }
    json_t *root = json_object(), *model = json_object(), *vocab = json_object(), *merges = json_array();
    json_t *added = json_array();
    int bad = !root || !model || !vocab || !merges || !added;
    char **byrank = calloc((size_t)t->n_merges + 1, sizeof(char *));
    bad = bad || !byrank;
    for (int id = 0; id < t->n_vocab && !bad; id++) {
        const char *b = t->arena + t->sym_off[id];
        char *nm = t->special[id] ? strndup(b, t->sym_len[id]) : name_of_bytes(b, t->sym_len[id]);
        bad = !nm || json_object_set_new(vocab, nm, json_integer(id));
        free(nm);
    }
    for (size_t i = 0; i < t->merges.cap && !bad; i++) {
        if (!t->merges.used[i]) continue;
        int l = (int)(t->merges.keys[i] >> 32), r = (int)(uint32_t)t->merges.keys[i];
        size_t rank = (size_t)(t->merges.vals[i] >> 32);
        if (rank >= (size_t)t->n_merges) continue;
        char *a = name_of_bytes(t->arena + t->sym_off[l], t->sym_len[l]);
        char *b = name_of_bytes(t->arena + t->sym_off[r], t->sym_len[r]);
        byrank[rank] = a && b ? malloc(strlen(a) + strlen(b) + 2) : NULL;
        if (byrank[rank]) sprintf(byrank[rank], "%s %s", a, b);
        bad = !byrank[rank];
        free(a), free(b);
    }
    for (int r = 0; r < t->n_merges && !bad; r++) bad = !byrank[r] || json_array_append_new(merges, json_string(byrank[r]));
    if (!bad && t->eot_id >= 0)
        bad = json_array_append_new(added, json_pack("{s:i,s:s,s:b,s:b,s:b,s:b,s:b}", "id", t->eot_id, "content",
                                                     "<|endoftext|>", "single_word", 0, "lstrip", 0, "rstrip", 0,
                                                     "normalized", 1, "special", 1));
    char *out = NULL;
    if (!bad) {
        json_object_set_new(model, "type", json_string("BPE"));
        json_object_set_new(model, "vocab", vocab);
        json_object_set_new(model, "merges", merges);
        vocab = merges = NULL;
        json_object_set_new(root, "version", json_string("1.0"));
        json_object_set_new(root, "added_tokens", added);
        added = NULL;
        json_object_set_new(root, "normalizer", json_null());
        json_object_set_new(root, "pre_tokenizer", json_pack("{s:s,s:b,s:b,s:b}", "type", "ByteLevel",
                                                             "add_prefix_space", 0, "trim_offsets", 1, "use_regex", 1));
        json_object_set_new(root, "post_processor", json_pack("{s:s}", "type", "ByteLevel"));
        json_object_set_new(root, "decoder", json_pack("{s:s}", "type", "ByteLevel"));
        json_object_set_new(root, "model", model);
        model = NULL;
        out = json_dumps(root, JSON_COMPACT);
    }
    if (!out) perr(err, "out of memory writing a tokenizer.json.");
    for (int r = 0; byrank && r < t->n_merges; r++) free(byrank[r]);
    free(byrank);
    json_decref(root), json_decref(model), json_decref(vocab), json_decref(merges), json_decref(added);
    return out;
}

int tok_load_files(Tokenizer *t, const char *vocab_json, const char *merges, PruneErr *err) {
    return load_pair(t, vocab_json, merges, err);
}

int bpe_train(const char *text, size_t len, int vocab_size, int max_digits, const char *out_dir,
              int *merges_done, PruneErr *err) {
    AtomicFile af[2];
    if (bpe_train_pending(text, len, vocab_size, max_digits, out_dir, merges_done, af, err)) return -1;
    if (atomic_rename(&af[0], err)) {
        atomic_abort(&af[1]);
        return -1;
    }
    return atomic_rename(&af[1], err);
}

int bpe_train_pending(const char *text, size_t len, int vocab_size, int max_digits, const char *out_dir,
                      int *merges_done, AtomicFile pending[2], PruneErr *err) {
    if (vocab_size < 257)
        return perr(err, "--vocab-size %d: at least 257 (256 bytes + <|endoftext|>).", vocab_size);
    size_t bom = utf8_bom_len(text, len);  // a byte-order mark is not corpus text
    text += bom, len -= bom;
    int rc = -1, ntok = 256;
    PreTokenizer pre = {0};
    StrMap words = {0};
    U64Map pairs = {0};
    int *syms = NULL, *wlen = NULL, *wstart = NULL;
    int64_t *wcount = NULL;
    size_t *toff = NULL;
    uint32_t *tlen = NULL;
    int *mleft = NULL, *mright = NULL, *tdig = NULL;
    char *tb = NULL;
    size_t tb_len = 0, nw = 0;
    if (pretok_init(&pre, err)) return -1;
    if (strmap_init(&words, 4096) || u64map_init(&pairs, 4096)) {
        perr(err, "out of memory.");
        goto done;
    }
    // 1. count pre-tokens
    size_t pos = 0, s, e;
    while (pretok_next(&pre, text, len, &pos, &s, &e)) {
        int64_t *c = strmap_get(&words, text + s, e - s);
        if (c) (*c)++;
        else if (strmap_put(&words, text + s, e - s, 1)) {
            perr(err, "out of memory counting words.");
            goto done;
        }
    }
    // 2. each distinct word as a run of symbols, in a deterministic order (slot order)
    syms = malloc(sizeof(int) * (words.arena_len + 1));
    wlen = malloc(sizeof(int) * (words.n + 1));
    wstart = malloc(sizeof(int) * (words.n + 1));
    wcount = malloc(sizeof(int64_t) * (words.n + 1));
    int maxtok = vocab_size;
    toff = malloc(sizeof(size_t) * (size_t)maxtok);
    tlen = malloc(sizeof(uint32_t) * (size_t)maxtok);
    mleft = malloc(sizeof(int) * (size_t)maxtok);
    mright = malloc(sizeof(int) * (size_t)maxtok);
    tdig = malloc(sizeof(int) * (size_t)maxtok);
    tb = malloc(256 + (size_t)maxtok * 64 + words.arena_len);
    if (!syms || !wlen || !wstart || !wcount || !toff || !tlen || !mleft || !mright || !tdig || !tb) {
        perr(err, "out of memory.");
        goto done;
    }
    size_t tb_cap = 256 + (size_t)maxtok * 64 + words.arena_len;
    for (int b = 0; b < 256; b++) {  // token id byte_alphabet_id(b) is byte b
        int id = byte_alphabet_id(b);
        tb[id] = (char)b;
        toff[id] = (size_t)id;
        tlen[id] = 1;
        tdig[id] = b >= '0' && b <= '9';
    }
    tb_len = 256;
    size_t ns = 0;
    STRMAP_FOREACH(&words, i) {
        wstart[nw] = (int)ns;
        wlen[nw] = (int)words.len[i];
        wcount[nw] = words.vals[i];
        for (uint32_t k = 0; k < words.len[i]; k++)
            syms[ns++] = byte_alphabet_id((unsigned char)words.arena[words.off[i] + k]);
        nw++;
    }
    // 3. merge the most frequent pair until the vocabulary is full
    while (ntok < vocab_size - 1) {
        u64map_clear(&pairs);
        for (size_t w = 0; w < nw; w++) {
            int *p = syms + wstart[w];
            for (int k = 0; k + 1 < wlen[w]; k++) {
                // --max-digits: a token never holds more digits than that (years split as
                // " 17" + "32" rather than " 173" + "2"), as later tokenizers group digits
                if (max_digits > 0 && tdig[p[k]] + tdig[p[k + 1]] > max_digits) continue;
                uint64_t key = (uint64_t)p[k] << 32 | (uint32_t)p[k + 1];
                uint64_t *c = u64map_get(&pairs, key);
                if (c) *c += (uint64_t)wcount[w];
                else if (u64map_put(&pairs, key, (uint64_t)wcount[w])) {
                    perr(err, "out of memory counting pairs.");
                    goto done;
                }
            }
        }
        uint64_t best_key = 0, best = 0;
        for (size_t i = 0; i < pairs.cap; i++)
            if (pairs.used[i] && (pairs.vals[i] > best ||
                                  (pairs.vals[i] == best && pairs.keys[i] < best_key))) {
                best = pairs.vals[i];
                best_key = pairs.keys[i];
            }
        if (best < 2) break;  // a pair seen once saves nothing
        int a = (int)(best_key >> 32), b = (int)(uint32_t)best_key, id = ntok++;
        if (tb_len + tlen[a] + tlen[b] > tb_cap) {
            size_t nc = 2 * (tb_len + tlen[a] + tlen[b]);
            char *q = realloc(tb, nc);
            if (!q) {
                perr(err, "out of memory.");
                goto done;
            }
            tb = q, tb_cap = nc;
        }
        toff[id] = tb_len;
        memcpy(tb + tb_len, tb + toff[a], tlen[a]);
        memcpy(tb + tb_len + tlen[a], tb + toff[b], tlen[b]);
        tlen[id] = tlen[a] + tlen[b];
        tdig[id] = tdig[a] + tdig[b];
        tb_len += tlen[id];
        mleft[id] = a, mright[id] = b;
        for (size_t w = 0; w < nw; w++) {  // left to right, non-overlapping, as BPE applies it
            int *p = syms + wstart[w], j = 0;
            for (int k = 0; k < wlen[w];) {
                if (k + 1 < wlen[w] && p[k] == a && p[k + 1] == b) {
                    p[j++] = id;
                    k += 2;
                } else {
                    p[j++] = p[k++];
                }
            }
            wlen[w] = j;
        }
    }
    // 4. write vocab.json and merges.txt
    mkdir(out_dir, 0755);  // may exist already; a real failure shows when writing
    char path[4200];
    AtomicFile vf, mf;
    snprintf(path, sizeof path, "%s/vocab.json", out_dir);
    if (atomic_open(&vf, path, err)) goto done;
    snprintf(path, sizeof path, "%s/merges.txt", out_dir);
    if (atomic_open(&mf, path, err)) {
        atomic_abort(&vf);
        goto done;
    }
    int bad = atomic_write(&vf, "{", 1, err) || atomic_write(&mf, "#version: 0.2\n", 14, err);
    for (int id = 0; id < ntok && !bad; id++) {
        char *nm = name_of_bytes(tb + toff[id], tlen[id]), *q = nm ? json_quote(nm) : NULL;
        char num[32];
        int nl = snprintf(num, sizeof num, ": %d, ", id);
        bad = !q || atomic_write(&vf, q, strlen(q), err) || atomic_write(&vf, num, (size_t)nl, err);
        if (!bad && id >= 256) {
            char *l = name_of_bytes(tb + toff[mleft[id]], tlen[mleft[id]]);
            char *r = name_of_bytes(tb + toff[mright[id]], tlen[mright[id]]);
            bad = !l || !r || atomic_write(&mf, l, strlen(l), err) || atomic_write(&mf, " ", 1, err) ||
                  atomic_write(&mf, r, strlen(r), err) || atomic_write(&mf, "\n", 1, err);
            free(l), free(r);
        }
        free(nm), free(q);
    }
    char tail[64];
    int tl = snprintf(tail, sizeof tail, "\"<|endoftext|>\": %d}\n", ntok);
    bad = bad || atomic_write(&vf, tail, (size_t)tl, err);
    if (bad) {
        if (!err || !err->msg[0]) perr(err, "%s: out of memory writing the vocabulary.", out_dir);
        atomic_abort(&vf);
        atomic_abort(&mf);
        goto done;
    }
    // both files whole on disk before either is renamed into place
    if (atomic_finish(&vf, err)) {
        atomic_abort(&mf);
        goto done;
    }
    if (atomic_finish(&mf, err)) {
        atomic_abort(&vf);
        goto done;
    }
    pending[0] = vf, pending[1] = mf;
    if (merges_done) *merges_done = ntok - 256;
    rc = 0;
done:
    pretok_free(&pre);
    strmap_free(&words);
    u64map_free(&pairs);
    free(syms), free(wlen), free(wstart), free(wcount), free(toff), free(tlen), free(mleft),
        free(mright), free(tdig), free(tb);
    return rc;
}
