// tok_internal.h: what tokenizer.c (vocabularies, BPE, GPT-2 files) and tokenizer_json.c
// (the tokenizer.json pipeline) share. Not a public interface: only those two files include it.
#ifndef PRUNE_TOK_INTERNAL_H
#define PRUNE_TOK_INTERNAL_H

#include "tokenizer.h"

// One normalizer, pre-tokenizer or decoder of a tokenizer.json (Sequences are flattened).
enum {
    TS_NFC, TS_NFKC, TS_NFD, TS_NFKD, TS_PREPEND, TS_REPLACE, TS_STRIP, TS_LOWERCASE,  // normalizers
    TS_BYTELEVEL, TS_SPLIT, TS_METASPACE, TS_DIGITS,                                  // pre-tokenizers
    TS_D_BYTELEVEL, TS_D_METASPACE, TS_D_BYTEFALLBACK, TS_D_FUSE, TS_D_STRIP, TS_D_REPLACE  // decoders
};
// Split behaviours (tokenizers' SplitDelimiterBehavior)
enum { SB_ISOLATED, SB_REMOVED, SB_MERGED_PREV, SB_MERGED_NEXT, SB_CONTIGUOUS };
// Metaspace prepend_scheme
enum { PS_ALWAYS, PS_FIRST, PS_NEVER };

typedef struct {
    int kind;        // TS_*
    char *a, *b;     // Prepend: a; Replace: a pattern (String), b content; Metaspace: a replacement;
    size_t al, bl;   // Strip (decoder): a content
    void *re, *md;   // pcre2_code / pcre2_match_data: Split, Replace with a Regex, ByteLevel's regex
    int behavior;    // Split: SB_*
    int invert;      // Split
    int x, y;        // ByteLevel: add_prefix_space, use_regex; Strip: left, right (normalizer) or
                     // start, stop (decoder); Metaspace: prepend_scheme, split; Digits: individual
} TokStep;

typedef struct {
    char *s;
    size_t n;
    int id;
    unsigned char special, lstrip, rstrip, normalized;
} AddedTok;

// A list of byte strings (pieces of text) in one arena.
typedef struct {
    char *buf;
    size_t len, cap;
    size_t *off, *n;
    unsigned char *first;  // the piece starts the text (Metaspace "first", add_prefix_space)
    size_t np, pcap;
} Pieces;

struct TokJson {
    TokStep *norm, *pre, *dec;
    int n_norm, n_pre, n_dec;
    int byte_level;        // BPE units are bytes (a ByteLevel pre-tokenizer); else UTF-8 characters
    int byte_fallback, ignore_merges, fuse_unk;
    int meta_split;        // no pre-tokenizer, and no token has a character other than U+2581
                           // followed by U+2581: BPE may run per "▁word" (same result, cached)
    int byte_fb[256];      // id of "<0xNN>", or -1
    AddedTok *added;
    int n_added;
    unsigned char added_first[256];  // bytes some added token starts with
    char *s0, *s1;         // scratch: valid UTF-8 text, normalized section
    size_t c0, c1;
    char *lvl[16];         // per pre-tokenizer step: its rewritten piece (ByteLevel, Metaspace)
    size_t lvlcap[16];
};

int32_t tok_utf8_next(const unsigned char *s, size_t n, size_t *i);  // -1 on invalid (1 byte consumed)
size_t tok_utf8_put(char *out, uint32_t cp);                        // 1..4 bytes
long tok_bytes_of_name(const char *name, size_t n, char *out);      // byte-level name -> bytes
int tok_add_symbol(Tokenizer *t, const char *bytes, size_t len, int special, PruneErr *err);
int tok_sym_of(const Tokenizer *t, const char *bytes, size_t len);
// BPE of one pre-token (cached): ids appended to out
int tok_bpe_piece(Tokenizer *t, const char *w, size_t wl, IdVec *out, PruneErr *err);

// tokenizer_json.c
int hf_encode(Tokenizer *t, const char *text, size_t len, int cont, IdVec *out, PruneErr *err);
// 1 when every decoder is ByteLevel (or there is none): the symbols are the bytes, and
// tok_decode joins them as for GPT-2's files; else hf_decode runs the decoders.
int hf_decode_plain(const Tokenizer *t);
int hf_decode(const Tokenizer *t, const int *ids, size_t n, char **out, size_t *len, PruneErr *err);
void hf_free(TokJson *h);
int hf_is_special(const Tokenizer *t, int id);

#endif
