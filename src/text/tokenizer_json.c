// tokenizer_json.c: Hugging Face tokenizer.json files with a BPE model, as the `tokenizers`
// library runs them (serialisation: tokenizers/src/tokenizer/serialization.rs; behaviour:
// normalizers/, pre_tokenizers/, decoders/, models/bpe/). The pipeline: text -> valid UTF-8
// (U+FFFD for ill-formed bytes) -> split out added tokens -> normalizers (NFC, NFKC, NFD,
// NFKD via utf8proc; Prepend, Replace, Strip, Lowercase) -> pre-tokenizers (ByteLevel,
// Split, Metaspace, Digits) -> BPE (tokenizer.c's, by merge rank, byte- or character-level,
// byte_fallback, ignore_merges, unk/fuse_unk) -> ids; decoding runs the decoders (ByteLevel,
// Metaspace, ByteFallback, Fuse, Strip, Replace). Regexes run on PCRE2 with \s and \S as
// Unicode White_Space (as Oniguruma and tiktoken's regexes, not JavaScript's \s).
// Does not: WordPiece, Unigram, WordLevel, BPE dropout, subword prefixes/suffixes, other
// components; each is refused naming the component and the file. Parsing is pure
// (tok_build_json takes the file contents) and fuzzed (tests/fuzz/fuzz_tokjson.c).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tok_internal.h"

// Unicode White_Space (PropList.txt), as in tokenizer.c's GPT-2 pattern.
#define WS "\\t\\n\\x{0B}\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
static const char *BYTELEVEL_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS
                                       "\\p{L}\\p{N}]+|[" WS "]+(?![^" WS "])|[" WS "]+";

static int is_white(uint32_t c) {
    return (c >= 9 && c <= 13) || c == ' ' || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
           c == 0x3000;
}

// --- growable buffers ------------------------------------------------------------------

static int reserve(char **b, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t nc = need + need / 2 + 256;
    char *p = realloc(*b, nc);
    if (!p) return -1;
    *b = p, *cap = nc;
    return 0;
}

static void pieces_clear(Pieces *p) { p->len = p->np = 0; }

static void pieces_free(Pieces *p) {
    free(p->buf), free(p->off), free(p->n), free(p->first);
    memset(p, 0, sizeof *p);
}

static int pieces_add(Pieces *p, const char *s, size_t n, int first) {
    if (p->np == p->pcap) {
        size_t nc = p->pcap ? 2 * p->pcap : 64;
        size_t *o = realloc(p->off, sizeof(size_t) * nc);
        if (o) p->off = o;
        size_t *l = realloc(p->n, sizeof(size_t) * nc);
        if (l) p->n = l;
        unsigned char *f = realloc(p->first, nc);
        if (f) p->first = f;
        if (!o || !l || !f) return -1;
        p->pcap = nc;
    }
    if (reserve(&p->buf, &p->cap, p->len + n + 1)) return -1;
    memcpy(p->buf + p->len, s, n);
    p->off[p->np] = p->len;
    p->n[p->np] = n;
    p->first[p->np++] = (unsigned char)first;
    p->len += n;
    return 0;
}

// Appends bytes to the last piece (which must be the last thing written to buf).
static int pieces_extend_last(Pieces *p, const char *s, size_t n) {
    if (reserve(&p->buf, &p->cap, p->len + n + 1)) return -1;
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    p->n[p->np - 1] += n;
    return 0;
}

// --- UTF-8 -----------------------------------------------------------------------------

// text -> valid UTF-8 in *out: each maximal ill-formed subpart becomes U+FFFD (WHATWG
// Encoding "utf-8 decode", as Node's Buffer.toString and Python's errors="replace" do).
static int make_valid(const unsigned char *s, size_t n, char **out, size_t *cap, size_t *on) {
    if (reserve(out, cap, 3 * n + 1)) return -1;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c < 0x80) {
            (*out)[k++] = (char)c, i++;
            continue;
        }
        int need = 0;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) need = 1;
        else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0) lo = 0xa0;
            if (c == 0xed) hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0) lo = 0x90;
            if (c == 0xf4) hi = 0x8f;
        }
        size_t j = i + 1;
        int ok = need > 0;
        for (int m = 0; ok && m < need; m++, j++) {
            if (j >= n || s[j] < lo || s[j] > hi) {
                ok = 0;
                break;
            }
            lo = 0x80, hi = 0xbf;
        }
        if (ok) {
            memcpy(*out + k, s + i, j - i);
            k += j - i;
        } else {
            memcpy(*out + k, "\xef\xbf\xbd", 3);
            k += 3;
        }
        i = j;  // past the sequence, or past the maximal subpart before the offending byte
    }
    *on = k;
    return 0;
}

// --- regexes ---------------------------------------------------------------------------

// A tokenizers regex (Oniguruma syntax as used in tokenizer.json) -> PCRE2 syntax: \s and \S
// spelled as White_Space (inside and outside classes), everything else as is.
static char *translate_regex(const char *re) {
    size_t n = strlen(re), k = 0;
    char *out = malloc(n * 120 + 1);
    if (!out) return NULL;
    int in_class = 0;
    for (size_t i = 0; i < n; i++) {
        if (re[i] == '\\' && i + 1 < n) {
            char c = re[i + 1];
            if (c == 's' || c == 'S') {
                const char *w = c == 's' ? (in_class ? WS : "[" WS "]")
                                         : (in_class ? "\\P{Xsp}" : "[^" WS "]");
                // \S inside a class is rare; PCRE2's \P{Xsp} is its nearest (Perl space)
                size_t wl = strlen(w);
                memcpy(out + k, w, wl);
                k += wl;
                i++;
                continue;
            }
            out[k++] = re[i++];
            out[k++] = re[i];
            continue;
        }
        if (re[i] == '[' && !in_class) in_class = 1;
        else if (re[i] == ']' && in_class) in_class = 0;
        out[k++] = re[i];
    }
    out[k] = 0;
    return out;
}

static int compile_regex(TokStep *st, const char *pattern, int literal, const char *file,
                         const char *field, PruneErr *err) {
    char *pat = literal ? strdup(pattern) : translate_regex(pattern);
    if (!pat) return perr(err, "out of memory reading %s.", file);
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                                   literal ? PCRE2_UTF | PCRE2_LITERAL : PCRE2_UTF | PCRE2_UCP, &code, &off, NULL);
    free(pat);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return perr(err, "%s: %s: the regex \"%.80s\" is rejected by PCRE2 at offset %zu: %s. Hint: "
                         "prune runs tokenizer.json regexes on PCRE2; this one needs a syntax it lacks.",
                    file, field, pattern, (size_t)off, (char *)msg);
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if it fails
    st->re = re;
    st->md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!st->md) return perr(err, "out of memory reading %s.", file);
    return 0;
}

// The next non-empty match of st's regex in s[0..n) at or after pos: [*ms, *me). 0 if none.
static int next_match(const TokStep *st, const char *s, size_t n, size_t pos, size_t *ms, size_t *me) {
    while (pos <= n) {
        // the text is valid UTF-8 by now (make_valid): no check of the whole subject per call
        int rc = pcre2_match(st->re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, st->md, NULL);
        if (rc <= 0) return 0;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(st->md);
        if (ov[1] > ov[0]) {
            *ms = ov[0], *me = ov[1];
            return 1;
        }
        pos = ov[0] + 1;  // an empty match: try one character further
        while (pos < n && ((unsigned char)s[pos] & 0xc0) == 0x80) pos++;
    }
    return 0;
}

// --- parsing tokenizer.json ----------------------------------------------------------------

typedef struct {
    const char *file;
    TokJson *h;
    PruneErr *err;
} Ctx;

static TokStep *add_step(TokStep **arr, int *n, Ctx *c) {
    TokStep *p = realloc(*arr, sizeof(TokStep) * (size_t)(*n + 1));
    if (!p) {
        perr(c->err, "out of memory reading %s.", c->file);
        return NULL;
    }
    *arr = p;
    memset(&p[*n], 0, sizeof(TokStep));
    return &p[(*n)++];
}

static const char *jstr(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int jbool(json_t *o, const char *key, int dflt) {
    json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static int dupstr(char **dst, size_t *dl, const char *s, Ctx *c) {
    *dl = strlen(s);
    *dst = strdup(s);
    return *dst ? 0 : perr(c->err, "out of memory reading %s.", c->file);
}

static int unknown_component(Ctx *c, const char *field, const char *type, const char *what) {
    return perr(c->err, "%s: %s: the %s \"%s\" is not supported. Hint: prune reads BPE tokenizer.json "
                        "files with the components listed in docs/tokenizer.md (Llama 3, Qwen2/3, "
                        "SmolLM, GPT-NeoX, GPT-2, Llama 2 / Mistral).", c->file, field, what,
                type ? type : "(no type)");
}

// "pattern": {"String": "..."} or {"Regex": "..."}
static int read_pattern(TokStep *st, json_t *o, Ctx *c, const char *field, int need_regex) {
    json_t *p = json_object_get(o, "pattern");
    const char *s = json_is_object(p) ? jstr(p, "String") : NULL;
    const char *r = json_is_object(p) ? jstr(p, "Regex") : NULL;
    char f[400];
    snprintf(f, sizeof f, "%s.pattern", field);
    if (!s && !r)
        return perr(c->err, "%s: %s: expected {\"String\": ...} or {\"Regex\": ...}.", c->file, f);
    if (s) {
        if (!*s) return perr(c->err, "%s: %s.String: an empty pattern matches nothing.", c->file, f);
        if (dupstr(&st->a, &st->al, s, c)) return -1;
        return need_regex ? compile_regex(st, s, 1, c->file, f, c->err) : 0;
    }
    snprintf(f, sizeof f, "%s.pattern.Regex", field);
    return compile_regex(st, r, 0, c->file, f, c->err);
}

static int parse_normalizer(json_t *o, Ctx *c, const char *field) {
    if (!o || json_is_null(o)) return 0;  // absent or null: none
    const char *type = json_is_object(o) ? jstr(o, "type") : NULL;
    if (!type) return perr(c->err, "%s: %s: expected an object with a \"type\".", c->file, field);
    char f[400];
    if (!strcmp(type, "Sequence")) {
        json_t *a = json_object_get(o, "normalizers");
        if (!json_is_array(a)) return perr(c->err, "%s: %s.normalizers: expected an array.", c->file, field);
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) {
            snprintf(f, sizeof f, "%s.normalizers[%zu]", field, i);
            if (parse_normalizer(v, c, f)) return -1;
        }
        return 0;
    }
    static const char *names[] = {"NFC", "NFKC", "NFD", "NFKD", "Prepend", "Replace", "Strip", "Lowercase"};
    int kind = -1;
    for (int k = 0; k < 8; k++)
        if (!strcmp(type, names[k])) kind = k;
    if (kind < 0) return unknown_component(c, field, type, "normalizer");
    TokStep *st = add_step(&c->h->norm, &c->h->n_norm, c);
    if (!st) return -1;
    st->kind = kind;
    if (kind == TS_PREPEND) {
        const char *p = jstr(o, "prepend");
        if (!p) return perr(c->err, "%s: %s.prepend: expected a string.", c->file, field);
        return dupstr(&st->a, &st->al, p, c);
    }
    if (kind == TS_REPLACE) {
        const char *ct = jstr(o, "content");
        if (!ct) return perr(c->err, "%s: %s.content: expected a string.", c->file, field);
        if (dupstr(&st->b, &st->bl, ct, c)) return -1;
        return read_pattern(st, o, c, field, 1);
    }
    if (kind == TS_STRIP) {
        st->x = jbool(o, "strip_left", 1);
        st->y = jbool(o, "strip_right", 1);
    }
    return 0;
}

static int parse_pretok(json_t *o, Ctx *c, const char *field) {
    if (!o || json_is_null(o)) return 0;  // absent or null: none
    const char *type = json_is_object(o) ? jstr(o, "type") : NULL;
    if (!type) return perr(c->err, "%s: %s: expected an object with a \"type\".", c->file, field);
    char f[400];
    if (!strcmp(type, "Sequence")) {
        json_t *a = json_object_get(o, "pretokenizers");
        if (!json_is_array(a)) return perr(c->err, "%s: %s.pretokenizers: expected an array.", c->file, field);
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) {
            snprintf(f, sizeof f, "%s.pretokenizers[%zu]", field, i);
            if (parse_pretok(v, c, f)) return -1;
        }
        return 0;
    }
    int kind = !strcmp(type, "ByteLevel") ? TS_BYTELEVEL : !strcmp(type, "Split") ? TS_SPLIT
             : !strcmp(type, "Metaspace") ? TS_METASPACE : !strcmp(type, "Digits") ? TS_DIGITS : -1;
    if (kind < 0) return unknown_component(c, field, type, "pre-tokenizer");
    if (c->h->n_pre == 16)
        return perr(c->err, "%s: %s: more than 16 pre-tokenizers in a Sequence.", c->file, field);
    TokStep *st = add_step(&c->h->pre, &c->h->n_pre, c);
    if (!st) return -1;
    st->kind = kind;
    if (kind == TS_BYTELEVEL) {
        c->h->byte_level = 1;
        st->x = jbool(o, "add_prefix_space", 0);
        st->y = jbool(o, "use_regex", 1);
        snprintf(f, sizeof f, "%s (GPT-2's pattern)", field);
        return st->y ? compile_regex(st, BYTELEVEL_PATTERN, 0, c->file, f, c->err) : 0;
    }
    if (kind == TS_SPLIT) {
        const char *b = jstr(o, "behavior");
        static const char *bn[] = {"Isolated", "Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
        st->behavior = -1;
        for (int k = 0; b && k < 5; k++)
            if (!strcmp(b, bn[k])) st->behavior = k;
        if (st->behavior < 0)
            return perr(c->err, "%s: %s.behavior: \"%s\" is not one of Isolated, Removed, MergedWithPrevious, "
                                "MergedWithNext, Contiguous.", c->file, field, b ? b : "(missing)");
        st->invert = jbool(o, "invert", 0);
        return read_pattern(st, o, c, field, 1);
    }
    if (kind == TS_METASPACE) {
        const char *r = jstr(o, "replacement");
        if (!r) r = "\xe2\x96\x81";
        size_t i = 0;
        if (!*r || tok_utf8_next((const unsigned char *)r, strlen(r), &i) < 0 || r[i])
            return perr(c->err, "%s: %s.replacement: expected one character.", c->file, field);
        if (dupstr(&st->a, &st->al, r, c)) return -1;
        const char *ps = jstr(o, "prepend_scheme");
        if (ps) {
            st->x = !strcmp(ps, "always") ? PS_ALWAYS : !strcmp(ps, "first") ? PS_FIRST
                  : !strcmp(ps, "never") ? PS_NEVER : -1;
            if (st->x < 0)
                return perr(c->err, "%s: %s.prepend_scheme: \"%s\" is not always, first or never.", c->file,
                            field, ps);
        } else {
            st->x = jbool(o, "add_prefix_space", 1) ? PS_ALWAYS : PS_NEVER;  // older files
        }
        st->y = jbool(o, "split", 1);
        return 0;
    }
    st->x = jbool(o, "individual_digits", 0);  // Digits
    return 0;
}

static int parse_decoder(json_t *o, Ctx *c, const char *field) {
    if (!o || json_is_null(o)) return 0;  // absent or null: none
    const char *type = json_is_object(o) ? jstr(o, "type") : NULL;
    if (!type) return perr(c->err, "%s: %s: expected an object with a \"type\".", c->file, field);
    char f[400];
    if (!strcmp(type, "Sequence")) {
        json_t *a = json_object_get(o, "decoders");
        if (!json_is_array(a)) return perr(c->err, "%s: %s.decoders: expected an array.", c->file, field);
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) {
            snprintf(f, sizeof f, "%s.decoders[%zu]", field, i);
            if (parse_decoder(v, c, f)) return -1;
        }
        return 0;
    }
    int kind = !strcmp(type, "ByteLevel") ? TS_D_BYTELEVEL : !strcmp(type, "Metaspace") ? TS_D_METASPACE
             : !strcmp(type, "ByteFallback") ? TS_D_BYTEFALLBACK : !strcmp(type, "Fuse") ? TS_D_FUSE
             : !strcmp(type, "Strip") ? TS_D_STRIP : !strcmp(type, "Replace") ? TS_D_REPLACE : -1;
    if (kind < 0) return unknown_component(c, field, type, "decoder");
    TokStep *st = add_step(&c->h->dec, &c->h->n_dec, c);
    if (!st) return -1;
    st->kind = kind;
    if (kind == TS_D_REPLACE) {
        const char *ct = jstr(o, "content");
        json_t *p = json_object_get(o, "pattern");
        const char *s = json_is_object(p) ? jstr(p, "String") : NULL;
        if (!ct || !s || !*s)
            return perr(c->err, "%s: %s: a Replace decoder needs \"pattern\": {\"String\": ...} and a "
                                "\"content\" string (a Regex pattern is not supported in decoders).",
                        c->file, field);
        return dupstr(&st->a, &st->al, s, c) || dupstr(&st->b, &st->bl, ct, c) ? -1 : 0;
    }
    if (kind == TS_D_STRIP) {
        const char *ct = jstr(o, "content");
        if (!ct) ct = " ";
        json_t *a = json_object_get(o, "start"), *b = json_object_get(o, "stop");
        st->x = json_is_integer(a) ? (int)json_integer_value(a) : 0;
        st->y = json_is_integer(b) ? (int)json_integer_value(b) : 0;
        if (st->x < 0 || st->y < 0 || st->x > 1000 || st->y > 1000)
            return perr(c->err, "%s: %s.start/stop: expected counts from 0 to 1000.", c->file, field);
        return dupstr(&st->a, &st->al, ct, c);
    }
    if (kind == TS_D_METASPACE) {
        const char *r = jstr(o, "replacement");
        if (dupstr(&st->a, &st->al, r ? r : "\xe2\x96\x81", c)) return -1;
        const char *ps = jstr(o, "prepend_scheme");
        st->x = ps ? (!strcmp(ps, "never") ? PS_NEVER : PS_ALWAYS)
                   : (jbool(o, "add_prefix_space", 1) ? PS_ALWAYS : PS_NEVER);
    }
    return 0;
}

// The post-processor decides the BOS (a TemplateProcessing "single" that starts with a
// special token); ByteLevel adds nothing. Returns the BOS id, -1 for none, -2 on error.
static int parse_post(json_t *o, Ctx *c, const char *field, Tokenizer *t) {
    if (json_is_null(o) || !o) return -1;
    const char *type = json_is_object(o) ? jstr(o, "type") : NULL;
    if (!type) return perr(c->err, "%s: %s: expected an object with a \"type\".", c->file, field), -2;
    if (!strcmp(type, "ByteLevel")) return -1;
    if (!strcmp(type, "Sequence")) {
        json_t *a = json_object_get(o, "processors");
        if (!json_is_array(a))
            return perr(c->err, "%s: %s.processors: expected an array.", c->file, field), -2;
        size_t i;
        json_t *v;
        int bos = -1;
        json_array_foreach(a, i, v) {
            char f[400];
            snprintf(f, sizeof f, "%s.processors[%zu]", field, i);
            int b = parse_post(v, c, f, t);
            if (b == -2) return -2;
            if (b >= 0 && bos < 0) bos = b;
        }
        return bos;
    }
    if (strcmp(type, "TemplateProcessing"))
        return unknown_component(c, field, type, "post-processor"), -2;
    json_t *single = json_object_get(o, "single");
    if (!json_is_array(single))
        return perr(c->err, "%s: %s.single: expected an array.", c->file, field), -2;
    json_t *first = json_array_get(single, 0);
    json_t *sp = json_is_object(first) ? json_object_get(first, "SpecialToken") : NULL;
    if (!sp) return -1;  // the template starts with the text: no BOS
    const char *name = jstr(sp, "id");
    json_t *map = json_object_get(o, "special_tokens");
    json_t *ent = name && json_is_object(map) ? json_object_get(map, name) : NULL;
    json_t *ids = json_is_object(ent) ? json_object_get(ent, "ids") : NULL;
    json_t *id0 = json_is_array(ids) ? json_array_get(ids, 0) : NULL;
    if (!json_is_integer(id0) || json_integer_value(id0) < 0 || json_integer_value(id0) >= t->n_vocab)
        return perr(c->err, "%s: %s.special_tokens[\"%s\"].ids: expected the id of the template's first "
                            "special token (0..%d).", c->file, field, name ? name : "?", t->n_vocab - 1), -2;
    return (int)json_integer_value(id0);
}

// A vocabulary name -> symbol (byte-level names are decoded to bytes first).
static int name_sym(Tokenizer *t, const char *s, size_t n, char *buf) {
    if (!t->hf->byte_level) return tok_sym_of(t, s, n);
    long bl = tok_bytes_of_name(s, n, buf);
    return bl < 0 ? -1 : tok_sym_of(t, buf, (size_t)bl);
}

static int parse_model(json_t *m, Ctx *c, Tokenizer *t, json_t *added) {
    TokJson *h = c->h;
    const char *file = c->file;
    PruneErr *err = c->err;
    if (!json_is_object(m)) return perr(err, "%s: model: expected an object.", file);
    const char *type = jstr(m, "type");
    if (type && strcmp(type, "BPE")) return unknown_component(c, "model.type", type, "model");
    json_t *vocab = json_object_get(m, "vocab"), *merges = json_object_get(m, "merges");
    if (!json_is_object(vocab) || json_object_size(vocab) == 0)
        return perr(err, "%s: model.vocab: expected a non-empty object mapping tokens to ids.", file);
    if (!json_is_array(merges)) return perr(err, "%s: model.merges: expected an array.", file);
    json_t *dr = json_object_get(m, "dropout");
    if (dr && !json_is_null(dr) && !(json_is_number(dr) && json_number_value(dr) == 0))
        return perr(err, "%s: model.dropout: BPE dropout is not supported (prune tokenizes "
                         "deterministically). Hint: set it to null.", file);
    const char *pre = jstr(m, "continuing_subword_prefix"), *suf = jstr(m, "end_of_word_suffix");
    if ((pre && *pre) || (suf && *suf))
        return perr(err, "%s: model.%s: subword prefixes and suffixes are not supported.", file,
                    pre && *pre ? "continuing_subword_prefix" : "end_of_word_suffix");
    h->byte_fallback = jbool(m, "byte_fallback", 0);
    h->ignore_merges = jbool(m, "ignore_merges", 0);
    h->fuse_unk = jbool(m, "fuse_unk", 0);
    // ids: the vocabulary and the added tokens
    const char *key;
    json_t *v;
    json_int_t max_id = -1;
    json_object_foreach(vocab, key, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= (1 << 24))
            return perr(err, "%s: model.vocab[\"%.40s\"]: expected an integer id from 0 to %d.", file, key,
                        (1 << 24) - 1);
        if (json_integer_value(v) > max_id) max_id = json_integer_value(v);
    }
    for (int i = 0; i < h->n_added; i++)
        if (h->added[i].id > max_id) max_id = h->added[i].id;
    int n = (int)max_id + 1, rc = -1;
    const char **names = calloc((size_t)n, sizeof(char *));
    size_t *nlen = calloc((size_t)n, sizeof(size_t));
    unsigned char *is_added = calloc((size_t)n, 1);
    char *buf = malloc(65536);
    if (!names || !nlen || !is_added || !buf) {
        perr(err, "out of memory reading %s.", file);
        goto done;
    }
    json_object_foreach(vocab, key, v) {
        int id = (int)json_integer_value(v);
        if (names[id]) {
            perr(err, "%s: model.vocab: id %d is given to both \"%.40s\" and \"%.40s\". Hint: ids must be "
                      "unique.", file, id, names[id], key);
            goto done;
        }
        names[id] = key;
        nlen[id] = strlen(key);
    }
    for (int i = 0; i < h->n_added; i++) {
        AddedTok *a = &h->added[i];
        if (names[a->id] && !is_added[a->id] && (nlen[a->id] != a->n || memcmp(names[a->id], a->s, a->n))) {
            perr(err, "%s: added_tokens[%d]: id %d is \"%.40s\" but model.vocab gives it to \"%.40s\". "
                      "Hint: ids must be unique.", file, i, a->id, a->s, names[a->id]);
            goto done;
        }
        if (is_added[a->id]) {
            perr(err, "%s: added_tokens[%d]: id %d is given to two added tokens.", file, i, a->id);
            goto done;
        }
        if (!names[a->id]) names[a->id] = a->s, nlen[a->id] = a->n;
        is_added[a->id] = 1 + a->special;
    }
    for (int id = 0; id < n; id++) {
        const char *nm = names[id] ? names[id] : "";
        size_t nl = nlen[id];
        long bl = -1;
        int special = !names[id] || is_added[id] == 2;
        if (is_added[id]) special = 1;  // added tokens are matched in the text, never made by BPE
        if (!special && h->byte_level) {
            bl = nl < 65536 ? tok_bytes_of_name(nm, nl, buf) : -1;
            if (bl < 0) special = 1;  // not byte-level text ("<unk>"-like): kept by name
        }
        if (!special && !h->byte_level && nl == 6 && !memcmp(nm, "<0x", 3) && nm[5] == '>') {
            char hex[3] = {nm[3], nm[4], 0}, *end;
            long b = strtol(hex, &end, 16);
            if (!*end && ((hex[0] >= '0' && hex[0] <= '9') || (hex[0] >= 'A' && hex[0] <= 'F'))) {
                if (h->byte_fb[b] < 0) h->byte_fb[b] = id;
                special = 1;  // shown as <0xNN>, produced only by byte fallback
            }
        }
        const char *bytes = h->byte_level && !special ? buf : nm;
        size_t blen = h->byte_level && !special ? (size_t)bl : nl;
        if (!special && tok_sym_of(t, bytes, blen) >= 0) {
            perr(err, "%s: model.vocab: \"%.40s\" (id %d) and id %d are the same token. Hint: the "
                      "vocabulary is damaged.", file, nm, id, tok_sym_of(t, bytes, blen));
            goto done;
        }
        if (tok_add_symbol(t, bytes, blen, special, err) < 0) goto done;
    }
    t->n_vocab = n;
    const char *unk = jstr(m, "unk_token");
    if (unk) {
        json_t *u = json_object_get(vocab, unk);
        if (!u) {
            perr(err, "%s: model.unk_token: \"%.40s\" is not in model.vocab.", file, unk);
            goto done;
        }
        t->unk_id = (int)json_integer_value(u);
    }
    // merges: "a b" or ["a", "b"]; both parts and the result must be tokens
    size_t i;
    char *b2 = malloc(65536 * 2);
    if (!b2) {
        perr(err, "out of memory reading %s.", file);
        goto done;
    }
    json_array_foreach(merges, i, v) {
        const char *a = NULL, *b = NULL;
        size_t la = 0, lb = 0;
        if (json_is_string(v)) {
            const char *s = json_string_value(v), *sp = strchr(s, ' ');
            if (!sp || strchr(sp + 1, ' ') || sp == s || !sp[1]) {
                perr(err, "%s: model.merges[%zu]: \"%.60s\": expected two tokens separated by one space.",
                     file, i, s);
                free(b2);
                goto done;
            }
            a = s, la = (size_t)(sp - s), b = sp + 1, lb = strlen(sp + 1);
        } else if (json_is_array(v) && json_array_size(v) == 2 && json_is_string(json_array_get(v, 0)) &&
                   json_is_string(json_array_get(v, 1))) {
            a = json_string_value(json_array_get(v, 0)), la = json_string_length(json_array_get(v, 0));
            b = json_string_value(json_array_get(v, 1)), lb = json_string_length(json_array_get(v, 1));
        } else {
            perr(err, "%s: model.merges[%zu]: expected \"a b\" or [\"a\", \"b\"].", file, i);
            free(b2);
            goto done;
        }
        if (la + lb >= 65536) {
            perr(err, "%s: model.merges[%zu]: the tokens are too long.", file, i);
            free(b2);
            goto done;
        }
        int l = name_sym(t, a, la, buf), r = name_sym(t, b, lb, buf);
        memcpy(b2, a, la);
        memcpy(b2 + la, b, lb);
        int res = name_sym(t, b2, la + lb, buf);
        if (l < 0 || r < 0 || res < 0) {
            perr(err, "%s: model.merges[%zu]: \"%.*s\" is not in model.vocab (merge \"%.*s\" + \"%.*s\"). "
                      "Hint: every merge joins two tokens of the vocabulary into a third.", file, i,
                 (int)(l < 0 ? la : r < 0 ? lb : la + lb), l < 0 ? a : r < 0 ? b : b2, (int)(la < 40 ? la : 40), a,
                 (int)(lb < 40 ? lb : 40), b);
            free(b2);
            goto done;
        }
        if (u64map_put(&t->merges, (uint64_t)l << 32 | (uint32_t)r, (uint64_t)i << 32 | (uint32_t)res)) {
            perr(err, "out of memory reading %s.", file);
            free(b2);
            goto done;
        }
    }
    free(b2);
    t->n_merges = (int)json_array_size(merges);
    rc = 0;
done:
    free(names), free(nlen), free(is_added), free(buf);
    return rc;
}

static int parse_added(json_t *a, Ctx *c) {
    if (!a || json_is_null(a)) return 0;
    if (!json_is_array(a)) return perr(c->err, "%s: added_tokens: expected an array.", c->file);
    size_t i;
    json_t *v;
    c->h->added = calloc(json_array_size(a) + 1, sizeof(AddedTok));
    if (!c->h->added) return perr(c->err, "out of memory reading %s.", c->file);
    json_array_foreach(a, i, v) {
        json_t *id = json_object_get(v, "id");
        const char *s = jstr(v, "content");
        if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) >= (1 << 24) || !s || !*s)
            return perr(c->err, "%s: added_tokens[%zu]: expected {\"id\": 0..%d, \"content\": \"...\"}.",
                        c->file, i, (1 << 24) - 1);
        AddedTok *t = &c->h->added[c->h->n_added++];
        if (dupstr(&t->s, &t->n, s, c)) return -1;
        t->id = (int)json_integer_value(id);
        t->special = (unsigned char)jbool(v, "special", 0);
        t->lstrip = (unsigned char)jbool(v, "lstrip", 0);
        t->rstrip = (unsigned char)jbool(v, "rstrip", 0);
        t->normalized = (unsigned char)jbool(v, "normalized", 0);
        c->h->added_first[(unsigned char)s[0]] = 1;
    }
    return 0;
}

// tokenizer_config.json's bos_token: "<s>" or {"content": "<s>", ...}
static const char *config_bos(json_t *cfg) {
    json_t *b = json_object_get(cfg, "bos_token");
    if (json_is_string(b)) return json_string_value(b);
    if (json_is_object(b)) return jstr(b, "content");
    return NULL;
}

int tok_build_json(Tokenizer *t, const char *json, size_t len, const char *config, size_t config_len,
                   const char *name, const char *config_name, PruneErr *err) {
    memset(t, 0, sizeof *t);
    t->unk_id = t->eot_id = t->bos_id = -1;
    snprintf(t->source, sizeof t->source, "%s", name);
    json_t *root = NULL, *cfg = NULL;
    TokJson *h = calloc(1, sizeof *h);
    if (!h || strmap_init(&t->by_bytes, 1024) || u64map_init(&t->merges, 1024) || strmap_init(&t->cache, 1024)) {
        free(h);
        tok_free(t);
        return perr(err, "out of memory creating a tokenizer.");
    }
    t->hf = h;
    for (int b = 0; b < 256; b++) h->byte_fb[b] = -1;
    Ctx c = {name, h, err};
    json_error_t je;
    root = json_loadb(json, len, 0, &je);
    if (!root) {
        perr(err, "%s:%d: not valid JSON: %s. Hint: a tokenizer.json is the file Hugging Face "
                  "tokenizers save (tokenizer.save(\"tokenizer.json\")).", name, je.line, je.text);
        goto fail;
    }
    if (!json_is_object(root) || !json_object_get(root, "model")) {
        perr(err, "%s: expected a JSON object with a \"model\" (a Hugging Face tokenizer.json).", name);
        goto fail;
    }
    json_t *mt = json_object_get(json_object_get(root, "model"), "type");
    if (json_is_string(mt) && strcmp(json_string_value(mt), "BPE")) {  // the model's kind before its parts
        unknown_component(&c, "model.type", json_string_value(mt), "model");
        goto fail;
    }
    if (parse_added(json_object_get(root, "added_tokens"), &c) ||
        parse_normalizer(json_object_get(root, "normalizer"), &c, "normalizer") ||
        parse_pretok(json_object_get(root, "pre_tokenizer"), &c, "pre_tokenizer") ||
        parse_decoder(json_object_get(root, "decoder"), &c, "decoder") ||
        parse_model(json_object_get(root, "model"), &c, t, json_object_get(root, "added_tokens")))
        goto fail;
    for (int i = 0; i < h->n_added; i++)
        if (!strcmp(h->added[i].s, "<|endoftext|>")) t->eot_id = h->added[i].id;
    if (!h->byte_level && h->n_pre == 0 && !h->ignore_merges && tok_sym_of(t, "\xe2\x96\x81", 3) >= 0) {
        h->meta_split = 1;  // unless some token has "x▁" with x not ▁
        for (int id = 0; id < t->n_vocab && h->meta_split; id++) {
            const char *b = t->arena + t->sym_off[id];
            size_t n = t->sym_len[id];
            for (size_t i = 1; i + 3 <= n; i++)
                if (!memcmp(b + i, "\xe2\x96\x81", 3) && !(i >= 3 && !memcmp(b + i - 3, "\xe2\x96\x81", 3))) {
                    h->meta_split = 0;
                    break;
                }
        }
    }
    if (h->byte_level)
        for (int b = 0; b < 256; b++) {
            char ch = (char)b;
            int s = tok_sym_of(t, &ch, 1);
            if (s < 0 && (s = tok_add_symbol(t, &ch, 1, 0, err)) < 0) goto fail;
            t->byte_sym[b] = s;
        }
    // BOS: tokenizer_config.json's add_bos_token if it says, else the post-processor
    int post_bos = parse_post(json_object_get(root, "post_processor"), &c, "post_processor", t);
    if (post_bos == -2) goto fail;
    const char *cbos = NULL;
    if (config) {
        cfg = json_loadb(config, config_len, JSON_DECODE_INT_AS_REAL, &je);  // model_max_length may be 1e30
        if (!cfg || !json_is_object(cfg)) {
            perr(err, "%s:%d: not a valid JSON object%s%s. Hint: tokenizer_config.json is saved beside "
                      "tokenizer.json; remove it to use tokenizer.json alone.", config_name,
                 cfg ? 1 : je.line, cfg ? "" : ": ", cfg ? "" : je.text);
            goto fail;
        }
        cbos = config_bos(cfg);
        if (cbos) {
            t->bos_id = tok_special_id(t, cbos, strlen(cbos));
            if (t->bos_id < 0) {
                perr(err, "%s: bos_token: \"%.40s\" is not a token of %s.", config_name, cbos, name);
                goto fail;
            }
        }
    }
    json_t *ab = cfg ? json_object_get(cfg, "add_bos_token") : NULL;
    if (json_is_boolean(ab)) {
        t->add_bos = json_is_true(ab);
        if (t->bos_id < 0) t->bos_id = post_bos;
        if (t->add_bos && t->bos_id < 0) {
            perr(err, "%s: add_bos_token is true but there is no bos_token.", config_name);
            goto fail;
        }
        snprintf(t->bos_rule, sizeof t->bos_rule, "%s (tokenizer_config.json add_bos_token)",
                 t->add_bos ? "BOS first" : "no BOS");
    } else if (post_bos >= 0) {
        t->add_bos = 1;
        t->bos_id = post_bos;
        snprintf(t->bos_rule, sizeof t->bos_rule, "BOS first (the post-processor's template)");
    } else {
        snprintf(t->bos_rule, sizeof t->bos_rule, "no BOS (neither tokenizer_config.json nor the "
                 "post-processor adds one)");
    }
    snprintf(t->type, sizeof t->type, "tokenizer.json BPE, %s%s", h->byte_level ? "byte-level" : "character-level",
             h->byte_fallback ? " with byte fallback" : "");
    json_decref(root);
    json_decref(cfg);
    return 0;
fail:
    json_decref(root);
    json_decref(cfg);
    tok_free(t);
    return -1;
}

void hf_free(TokJson *h) {
    TokStep *all[3] = {h->norm, h->pre, h->dec};
    int ns[3] = {h->n_norm, h->n_pre, h->n_dec};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < ns[k]; i++) {
            free(all[k][i].a), free(all[k][i].b);
            if (all[k][i].md) pcre2_match_data_free(all[k][i].md);
            if (all[k][i].re) pcre2_code_free(all[k][i].re);
        }
        free(all[k]);
    }
    for (int i = 0; i < h->n_added; i++) free(h->added[i].s);
    free(h->added);
    free(h->s0), free(h->s1);
    for (int i = 0; i < 16; i++) free(h->lvl[i]);
    free(h);
}

int hf_is_special(const Tokenizer *t, int id) {
    for (int i = 0; t->hf && i < t->hf->n_added; i++)
        if (t->hf->added[i].id == id) return t->hf->added[i].special;
    return 0;
}

// --- encoding ----------------------------------------------------------------------------

// Normalizers on s[0..n) -> h->s1 (*on bytes). cont: the text continues earlier text (no Prepend).
static int normalize(TokJson *h, const char *s, size_t n, int cont, size_t *on) {
    if (reserve(&h->s1, &h->c1, n + 1)) return -1;
    memcpy(h->s1, s, n);
    size_t len = n;
    char *tmp = NULL;
    for (int k = 0; k < h->n_norm; k++) {
        const TokStep *st = &h->norm[k];
        if (len == 0) break;
        if (st->kind <= TS_NFKD) {
            static const int opt[4] = {UTF8PROC_COMPOSE, UTF8PROC_COMPOSE | UTF8PROC_COMPAT, UTF8PROC_DECOMPOSE,
                                       UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT};
            utf8proc_uint8_t *dst = NULL;
            utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)h->s1, (utf8proc_ssize_t)len, &dst,
                                              (utf8proc_option_t)(UTF8PROC_STABLE | opt[st->kind]));
            if (r < 0) return -1;
            if (reserve(&h->s1, &h->c1, (size_t)r + 1)) {
                free(dst);
                return -1;
            }
            memcpy(h->s1, dst, (size_t)r);
            len = (size_t)r;
            free(dst);
        } else if (st->kind == TS_PREPEND) {
            if (cont) continue;
            if (reserve(&h->s1, &h->c1, len + st->al + 1)) return -1;
            memmove(h->s1 + st->al, h->s1, len);
            memcpy(h->s1, st->a, st->al);
            len += st->al;
        } else if (st->kind == TS_REPLACE) {
            size_t cap = 0, k2 = 0, pos = 0, ms, me;
            while (next_match(st, h->s1, len, pos, &ms, &me)) {
                if (reserve(&tmp, &cap, k2 + (ms - pos) + st->bl + 1)) goto oom;
                memcpy(tmp + k2, h->s1 + pos, ms - pos);
                k2 += ms - pos;
                memcpy(tmp + k2, st->b, st->bl);
                k2 += st->bl;
                pos = me;
            }
            if (reserve(&tmp, &cap, k2 + (len - pos) + 1)) goto oom;
            memcpy(tmp + k2, h->s1 + pos, len - pos);
            k2 += len - pos;
            if (reserve(&h->s1, &h->c1, k2 + 1)) goto oom;
            memcpy(h->s1, tmp, k2);
            len = k2;
            free(tmp);
            tmp = NULL;
        } else if (st->kind == TS_STRIP) {
            size_t b = 0, e = len;
            while (st->x && b < e) {
                size_t j = b;
                int32_t cp = tok_utf8_next((const unsigned char *)h->s1, e, &j);
                if (cp < 0 || !is_white((uint32_t)cp)) break;
                b = j;
            }
            while (st->y && e > b) {
                size_t j = e - 1;
                while (j > b && ((unsigned char)h->s1[j] & 0xc0) == 0x80) j--;
                size_t j2 = j;
                int32_t cp = tok_utf8_next((const unsigned char *)h->s1, e, &j2);
                if (cp < 0 || !is_white((uint32_t)cp)) break;
                e = j;
            }
            memmove(h->s1, h->s1 + b, e - b);
            len = e - b;
        } else if (st->kind == TS_LOWERCASE) {
            size_t cap = 0, k2 = 0;
            if (reserve(&tmp, &cap, 4 * len + 1)) goto oom;
            for (size_t i = 0; i < len;) {
                int32_t cp = tok_utf8_next((const unsigned char *)h->s1, len, &i);
                k2 += tok_utf8_put(tmp + k2, (uint32_t)utf8proc_tolower(cp < 0 ? 0xfffd : cp));
            }
            if (reserve(&h->s1, &h->c1, k2 + 1)) goto oom;
            memcpy(h->s1, tmp, k2);
            len = k2;
            free(tmp);
            tmp = NULL;
        }
    }
    *on = len;
    return 0;
oom:
    free(tmp);
    return -1;
}

// Pre-tokenizers stream: each step splits its piece and hands every sub-piece to the next
// step at once, the last to BPE, so no list of all pieces is ever built (a 4 MB text makes
// two million of them). A step that rewrites its piece (ByteLevel's prefix space, Metaspace's
// replacement) writes it to a buffer of its own level (h->lvl[k]).
typedef struct {
    Tokenizer *t;
    IdVec *out;
    PruneErr *err;
    int cont_first;  // the text continues earlier text: no ByteLevel prefix space on its first piece
} Sink;

static int pretok_step(Sink *k, int step, const char *p, size_t n, int first);

// The end of the pipeline: one pre-token -> ids.
static int emit_piece(Sink *k, int step, const char *w, size_t wl, int first) {
    if (!wl) return 0;
    if (step + 1 < k->t->hf->n_pre) return pretok_step(k, step + 1, w, wl, first);
    Tokenizer *t = k->t;
    if (t->hf->ignore_merges) {
        int sym = tok_sym_of(t, w, wl);
        if (sym >= 0 && sym < t->n_vocab && !t->special[sym])
            return idvec_push(k->out, sym) ? perr(k->err, "out of memory.") : 0;
    }
    return tok_bpe_piece(t, w, wl, k->out, k->err);
}

// Segments of p (delimiter or not) in order -> pieces by tokenizers' SplitDelimiterBehavior:
// Isolated, Removed, MergedWithPrevious (a delimiter joins the piece before it),
// MergedWithNext (a delimiter joins the non-delimiter after it), Contiguous (a run of
// delimiters is one piece). One segment of look-behind is enough for all five.
typedef struct {
    size_t s, e;  // the held piece, if any
    int held, held_delim, prev_delim, first_done;
} SplitState;

static int seg_flush(Sink *k, int step, const char *p, SplitState *st, int first) {
    if (!st->held) return 0;
    st->held = 0;
    int f = first && !st->first_done;
    st->first_done = 1;
    return emit_piece(k, step, p + st->s, st->e - st->s, f);
}

static int seg_push(Sink *k, int step, const char *p, SplitState *st, int behavior, size_t s, size_t e, int delim,
                    int first) {
    int rc = 0;
    switch (behavior) {
    case SB_ISOLATED:
        rc = seg_flush(k, step, p, st, first);
        st->s = s, st->e = e, st->held = 1;
        break;
    case SB_REMOVED:
        rc = seg_flush(k, step, p, st, first);
        if (!delim) st->s = s, st->e = e, st->held = 1;
        break;
    case SB_MERGED_PREV:
        if (delim && !st->prev_delim && st->held) {
            st->e = e;
        } else {
            rc = seg_flush(k, step, p, st, first);
            st->s = s, st->e = e, st->held = 1;
        }
        break;
    case SB_MERGED_NEXT:  // a held lone delimiter takes the non-delimiter that follows
        if (st->held && st->held_delim && !delim) {
            st->e = e;
            st->held_delim = 0;
        } else {
            rc = seg_flush(k, step, p, st, first);
            st->s = s, st->e = e, st->held = 1, st->held_delim = delim;
        }
        break;
    default:  // SB_CONTIGUOUS
        if (delim && st->prev_delim && st->held) {
            st->e = e;
        } else {
            rc = seg_flush(k, step, p, st, first);
            st->s = s, st->e = e, st->held = 1;
        }
    }
    st->prev_delim = delim;
    return rc;
}

// Splits p[0..n) by st's regex, or by characters (Digits: ASCII digits; Metaspace: the
// replacement), and passes the pieces on.
static int split_stream(Sink *k, int step, const TokStep *ts, const char *p, size_t n, int first) {
    SplitState ss = {0};
    int behavior;
    if (ts->kind == TS_DIGITS || ts->kind == TS_METASPACE) {
        behavior = ts->kind == TS_METASPACE ? SB_MERGED_NEXT : ts->x ? SB_ISOLATED : SB_CONTIGUOUS;
        size_t rs = 0;  // start of the current run of non-delimiter characters
        for (size_t i = 0; i < n;) {
            size_t j = i;
            if (tok_utf8_next((const unsigned char *)p, n, &j) < 0) j = i + 1;
            int m = ts->kind == TS_DIGITS ? (j == i + 1 && p[i] >= '0' && p[i] <= '9')
                                          : (j - i == ts->al && !memcmp(p + i, ts->a, ts->al));
            if (m) {
                if (i > rs && seg_push(k, step, p, &ss, behavior, rs, i, 0, first)) return -1;
                if (seg_push(k, step, p, &ss, behavior, i, j, 1, first)) return -1;
                rs = j;
            }
            i = j;
        }
        if (n > rs && seg_push(k, step, p, &ss, behavior, rs, n, 0, first)) return -1;
    } else {
        behavior = ts->kind == TS_BYTELEVEL ? SB_ISOLATED : ts->behavior;
        int inv = ts->kind == TS_SPLIT && ts->invert;
        size_t pos = 0, ms, me;
        while (next_match(ts, p, n, pos, &ms, &me)) {
            if (ms > pos && seg_push(k, step, p, &ss, behavior, pos, ms, inv, first)) return -1;
            if (seg_push(k, step, p, &ss, behavior, ms, me, !inv, first)) return -1;
            pos = me;
        }
        if (pos < n && seg_push(k, step, p, &ss, behavior, pos, n, inv, first)) return -1;
    }
    return seg_flush(k, step, p, &ss, first);
}

static int pretok_step(Sink *k, int step, const char *p, size_t n, int first) {
    TokJson *h = k->t->hf;
    const TokStep *ts = &h->pre[step];
    if (ts->kind == TS_SPLIT || ts->kind == TS_DIGITS) return split_stream(k, step, ts, p, n, first);
    // ByteLevel / Metaspace rewrite the piece into this level's buffer first
    char **buf = &h->lvl[step];
    size_t *cap = &h->lvlcap[step], t = 0;
    if (ts->kind == TS_BYTELEVEL) {
        int pre = ts->x && !(n && p[0] == ' ') && !(k->cont_first && first);
        if (!pre && !ts->y) return emit_piece(k, step, p, n, first);  // nothing to do: bytes are bytes
        if (!pre) return split_stream(k, step, ts, p, n, first);
        if (reserve(buf, cap, n + 2)) return perr(k->err, "out of memory.");
        (*buf)[t++] = ' ';
        memcpy(*buf + t, p, n);
        t += n;
    } else {  // Metaspace: spaces -> the replacement; maybe one in front
        int pre = ts->x == PS_ALWAYS || (ts->x == PS_FIRST && first);
        if (reserve(buf, cap, n * ts->al + ts->al + 1)) return perr(k->err, "out of memory.");
        if (pre && !(n >= ts->al && !memcmp(p, ts->a, ts->al)) && !(n && p[0] == ' ')) {
            memcpy(*buf, ts->a, ts->al);
            t = ts->al;
        }
        for (size_t j = 0; j < n; j++) {
            if (p[j] == ' ') {
                memcpy(*buf + t, ts->a, ts->al);
                t += ts->al;
            } else {
                (*buf)[t++] = p[j];
            }
        }
    }
    if (!ts->y) return emit_piece(k, step, *buf, t, first);  // ByteLevel use_regex / Metaspace split
    return split_stream(k, step, ts, *buf, t, first);
}

// One section of text (no added tokens in it) -> ids.
static int encode_section(Tokenizer *t, const char *s, size_t n, int first, int cont, IdVec *out, PruneErr *err) {
    TokJson *h = t->hf;
    const char *w = s;
    size_t nn = n;
    if (h->n_norm) {
        if (normalize(h, s, n, cont && first, &nn)) return perr(err, "out of memory normalizing text.");
        w = h->s1;
    }
    if (nn == 0) return 0;
    Sink k = {t, out, err, first && cont};
    if (h->n_pre == 0 && h->meta_split) {  // per "▁word": no merge crosses "x▁" (checked at load)
        size_t b = 0;
        for (size_t i = 1; i + 3 <= nn; i++)
            if (!memcmp(w + i, "\xe2\x96\x81", 3) && !(i >= 3 && !memcmp(w + i - 3, "\xe2\x96\x81", 3))) {
                if (emit_piece(&k, -1, w + b, i - b, 0)) return -1;
                b = i;
            }
        return emit_piece(&k, -1, w + b, nn - b, 0);
    }
    if (h->n_pre == 0) return emit_piece(&k, -1, w, nn, first && !cont);  // the whole section is one pre-token
    return pretok_step(&k, 0, w, nn, first && !cont);
}

// Moves *e back over White_Space characters (not before b).
static void trim_white_end(const char *s, size_t b, size_t *e) {
    while (*e > b) {
        size_t j = *e - 1;
        while (j > b && ((unsigned char)s[j] & 0xc0) == 0x80) j--;
        size_t j2 = j;
        int32_t cp = tok_utf8_next((const unsigned char *)s, *e, &j2);
        if (cp < 0 || !is_white((uint32_t)cp)) break;
        *e = j;
    }
}

int hf_encode(Tokenizer *t, const char *text, size_t len, int cont, IdVec *out, PruneErr *err) {
    TokJson *h = t->hf;
    size_t n;
    const char *s = text;
    size_t q = 0;
    int valid = 1;
    while (q < len && valid) valid = tok_utf8_next((const unsigned char *)text, len, &q) >= 0;
    if (!valid) {
        // not valid UTF-8: a copy with U+FFFD (s0 is written by nothing below)
        if (make_valid((const unsigned char *)text, len, &h->s0, &h->c0, &n))
            return perr(err, "out of memory encoding a %zu-byte text.", len);
        s = h->s0;
    } else {
        n = len;
    }
    size_t start = 0, i = 0;
    int skip_ws = 0;
    for (;;) {
        const AddedTok *best = NULL;
        if (i < n && h->added_first[(unsigned char)s[i]])
            for (int k = 0; k < h->n_added; k++) {  // leftmost, then longest (as tokenizers)
                const AddedTok *a = &h->added[k];
                if (a->special && !t->match_special) continue;
                if (a->n <= n - i && !memcmp(s + i, a->s, a->n) && (!best || a->n > best->n)) best = a;
            }
        if (!best && i < n) {
            i++;
            continue;
        }
        size_t b = start, e = i;
        while (skip_ws && b < e) {  // the previous added token strips white space on its right
            size_t j = b;
            int32_t cp = tok_utf8_next((const unsigned char *)s, e, &j);
            if (cp < 0 || !is_white((uint32_t)cp)) break;
            b = j;
        }
        if (best && best->lstrip) trim_white_end(s, b, &e);
        if (e > b && encode_section(t, s + b, e - b, start == 0, cont, out, err)) return -1;
        if (!best) break;
        if (idvec_push(out, best->id)) return perr(err, "out of memory.");
        skip_ws = best->rstrip;
        i += best->n;
        start = i;
    }
    return 0;
}

// --- decoding ----------------------------------------------------------------------------

static int replace_all(const char *s, size_t n, const char *a, size_t al, const char *b, size_t bl, Pieces *out,
                       int first) {
    if (pieces_add(out, "", 0, first)) return -1;
    size_t i = 0, st = 0;
    while (i + al <= n) {
        if (!memcmp(s + i, a, al)) {
            if (pieces_extend_last(out, s + st, i - st) || pieces_extend_last(out, b, bl)) return -1;
            i += al;
            st = i;
        } else {
            i++;
        }
    }
    return pieces_extend_last(out, s + st, n - st);
}

static int byte_token(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return -1;
    int v = 0;
    for (int k = 3; k < 5; k++) {
        char c = s[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = 16 * v + d;
    }
    return v;
}

int hf_decode_plain(const Tokenizer *t) {
    const TokJson *h = t->hf;
    int plain = 1;
    for (int k = 0; k < h->n_dec; k++) plain &= h->dec[k].kind == TS_D_BYTELEVEL;
    return plain;
}

int hf_decode(const Tokenizer *t, const int *ids, size_t n, char **out, size_t *len, PruneErr *err) {
    const TokJson *h = t->hf;
    Pieces a = {0}, b = {0};
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab) {
            perr(err, "id %d (position %zu) is outside the vocabulary 0..%d of %s.", ids[i], i, t->n_vocab - 1,
                 t->source);
            goto done;
        }
        if (pieces_add(&a, t->arena + t->sym_off[ids[i]], t->sym_len[ids[i]], i == 0)) goto oom;
    }
    for (int k = 0; k < h->n_dec; k++) {
        const TokStep *st = &h->dec[k];
        pieces_clear(&b);
        if (st->kind == TS_D_BYTELEVEL) continue;  // symbols are already bytes
        for (size_t i = 0; i < a.np; i++) {
            const char *p = a.buf + a.off[i];
            size_t pn = a.n[i];
            if (st->kind == TS_D_REPLACE) {
                if (replace_all(p, pn, st->a, st->al, st->b, st->bl, &b, a.first[i])) goto oom;
            } else if (st->kind == TS_D_METASPACE) {
                if (replace_all(p, pn, st->a, st->al, " ", 1, &b, a.first[i])) goto oom;
                if (i == 0 && st->x != PS_NEVER && b.n[b.np - 1] && b.buf[b.off[b.np - 1]] == ' ') {
                    b.off[b.np - 1]++;
                    b.n[b.np - 1]--;
                }
            } else if (st->kind == TS_D_FUSE) {
                if (i == 0 ? pieces_add(&b, p, pn, 1) : pieces_extend_last(&b, p, pn)) goto oom;
            } else if (st->kind == TS_D_STRIP) {
                size_t s0 = 0, e0 = pn;
                for (int c = 0; c < st->x && e0 - s0 >= st->al && !memcmp(p + s0, st->a, st->al); c++) s0 += st->al;
                for (int c = 0; c < st->y && e0 - s0 >= st->al && !memcmp(p + e0 - st->al, st->a, st->al); c++)
                    e0 -= st->al;
                if (pieces_add(&b, p + s0, e0 - s0, a.first[i])) goto oom;
            } else if (st->kind == TS_D_BYTEFALLBACK) {
                int v = byte_token(p, pn);
                if (v < 0) {
                    if (pieces_add(&b, p, pn, a.first[i])) goto oom;
                    continue;
                }
                // a run of byte tokens: one piece, valid UTF-8 or U+FFFD per byte
                size_t j = i;
                char run[4096];
                size_t rl = 0;
                while (j < a.np && rl < sizeof run && (v = byte_token(a.buf + a.off[j], a.n[j])) >= 0) {
                    run[rl++] = (char)v;
                    j++;
                }
                size_t q = 0;
                int valid = 1;
                while (q < rl && valid) valid = tok_utf8_next((const unsigned char *)run, rl, &q) >= 0;
                if (valid) {
                    if (pieces_add(&b, run, rl, a.first[i])) goto oom;
                } else {
                    if (pieces_add(&b, "", 0, a.first[i])) goto oom;
                    for (size_t r = 0; r < rl; r++)
                        if (pieces_extend_last(&b, "\xef\xbf\xbd", 3)) goto oom;
                }
                i = j - 1;
            }
        }
        Pieces sw = a;
        a = b, b = sw;
    }
    size_t total = 0;
    for (size_t i = 0; i < a.np; i++) total += a.n[i];
    char *buf = palloc(total + 1, "decoded text", err);
    if (!buf) goto done;
    size_t k = 0;
    for (size_t i = 0; i < a.np; i++) {
        memcpy(buf + k, a.buf + a.off[i], a.n[i]);
        k += a.n[i];
    }
    buf[k] = 0;
    *out = buf;
    *len = k;
    rc = 0;
    goto done;
oom:
    perr(err, "out of memory decoding.");
done:
    pieces_free(&a);
    pieces_free(&b);
    return rc;
}
