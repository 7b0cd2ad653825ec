// tokenizer.h: BPE tokenizers. GPT-2's byte-level BPE from its vocabulary files (vocab.bpe,
// encoder.json, vocab.json + merges.txt), and Hugging Face tokenizer.json files with a BPE
// model (Llama 3, Qwen2/3, SmolLM, GPT-NeoX, GPT-2; Llama 2 / Mistral SentencePiece-style
// with byte fallback): normalizers, pre-tokenizers, decoders, added and special tokens, and
// the BOS rule (tokenizer_config.json, the post-processor, or --bos). Also a BPE trainer for
// the small teaching models. Not: WordPiece, Unigram, or any tokenizer.json component not
// listed in docs/tokenizer.md (those are refused with an error naming the component).
// Encoding is single-threaded; a Tokenizer is not safe to share between threads (it owns a
// cache and scratch buffers).
#ifndef PRUNE_TOKENIZER_H
#define PRUNE_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "hmap.h"

// The pre-tokenizer: GPT-2's pattern with \s spelled out as Unicode White_Space (PCRE2's
// UCP \s also matches U+180E, which is not White_Space; tiktoken's \s does not).
typedef struct {
    void *re;  // pcre2_code *
    void *md;  // pcre2_match_data *
} PreTokenizer;

int pretok_init(PreTokenizer *p, PruneErr *err);
void pretok_free(PreTokenizer *p);
// The next pre-token of text[0..len) starting at *pos: sets *start, *end and advances
// *pos. Returns 1 while there is one, 0 at the end. Bytes that are not valid UTF-8
// cannot match the pattern; each maximal run of them is a pre-token of its own, so every
// input byte lands in exactly one pre-token.
int pretok_next(PreTokenizer *p, const char *text, size_t len, size_t *pos, size_t *start,
                size_t *end);

// A growable list of token ids.
typedef struct {
    int *v;
    size_t n, cap;
} IdVec;
int idvec_push(IdVec *v, int id);
void idvec_free(IdVec *v);

typedef struct TokJson TokJson;  // a tokenizer.json pipeline (tokenizer_json.c)

enum { TOK_BOS_DEFAULT = -1, TOK_BOS_NO = 0, TOK_BOS_YES = 1 };

typedef struct {
    int n_vocab;           // ids 0..n_vocab-1
    int n_sym;             // internal symbols: the vocabulary, then bytes/merge results it lacks
    int sym_cap;
    char *arena;           // symbol bytes
    size_t arena_len, arena_cap;
    size_t *sym_off;
    uint32_t *sym_len;
    unsigned char *special;  // token name is not byte-level text (e.g. "<unk>"); never produced by BPE
    StrMap by_bytes;       // byte-level symbol bytes -> symbol id
    U64Map merges;         // (left << 32 | right) -> (rank << 32 | merged symbol)
    int n_merges;
    int byte_sym[256];     // symbol of each single byte
    int unk_id, eot_id;    // "<unk>" and "<|endoftext|>", or -1
    PreTokenizer pre;
    StrMap cache;          // pre-token bytes -> (offset << 16 | count) into cache_ids
    IdVec cache_ids;
    // BPE scratch, grown as needed
    int *s_sym, *s_prev, *s_next;
    uint64_t *s_heap;
    size_t *s_start;       // byte offset of each BPE unit
    size_t s_cap, h_cap;
    char source[1024];     // the file(s) it came from, for messages
    TokJson *hf;           // tokenizer.json pipeline, or NULL for GPT-2's vocabulary files
    char type[96];         // "GPT-2 byte-level BPE (vocab files)", "tokenizer.json BPE (...)"
    int bos_id;            // the BOS token, or -1
    int add_bos;           // 1: a prompt starts with bos_id (tok_encode_prompt)
    char bos_rule[160];    // why: "tokenizer_config.json add_bos_token", "--bos yes", ...
    int match_special;     // 1: text spelling a special token becomes that token (--special-tokens)
    int ids_only;          // 1: no tokenizer (tok_init_ids_only): tasks give token ids
} Tokenizer;

// GPT-2's byte alphabet: byte b is written as the code point byte_to_unicode(b); the
// tokens 0..255 of a vocab.bpe-derived vocabulary are the bytes in alphabet order.
uint32_t byte_to_unicode(int b);
int byte_alphabet_id(int b);  // the GPT-2 id of the single-byte token for byte b

// Builds a tokenizer from file contents (pure: no file access, every rejection
// testable). vocab_json may be NULL: then ids are derived from merges as GPT-2's
// vocab.bpe implies (0..255 bytes, 256 + r for merge line r, then <|endoftext|>).
// Names are used in error messages ("file:line: ...").
int tok_build(Tokenizer *t, const char *vocab_json, size_t vocab_len, const char *merges,
              size_t merges_len, const char *vocab_name, const char *merges_name, PruneErr *err);
// Loads from a file or folder: tokenizer.json (+ tokenizer_config.json beside it); a folder
// holding tokenizer.json (preferred) or one of the pairs below; vocab.bpe alone; encoder.json (+ vocab.bpe beside it);
// vocab.json (+ merges.txt beside it) or merges.txt (+ vocab.json); a folder holding
// vocab.json + merges.txt, or encoder.json + vocab.bpe, or vocab.bpe.
int tok_load(Tokenizer *t, const char *path, PruneErr *err);
// The tokenizer for a model: `vocab` if given, else the model folder's own files
// (tokenizer.json first, then vocab.json + merges.txt), else
// GPT-2's vocab.bpe shipped in models/gpt2/ (found beside the executable or in the
// source tree). Checks that every id it can produce is < model_V.
int tok_load_for_model(Tokenizer *t, const char *model_path, const char *vocab, int model_V,
                       PruneErr *err);
// GPT-2's vocabulary as shipped in models/gpt2/vocab.bpe (the default when no model or
// --vocab names one).
int tok_load_gpt2(Tokenizer *t, PruneErr *err);
void tok_free(Tokenizer *t);

// text (len bytes, any bytes) -> ids appended to out. No BOS. For a tokenizer.json, bytes
// that are not valid UTF-8 are first replaced by U+FFFD as a UTF-8 decoder does (WHATWG:
// one per maximal ill-formed subpart), since the reference tokenizers take Unicode strings;
// GPT-2's vocabulary files keep such bytes as byte tokens.
int tok_encode(Tokenizer *t, const char *text, size_t len, IdVec *out, PruneErr *err);
// A prompt: BOS first when the tokenizer's rule says so (t->add_bos), then tok_encode.
int tok_encode_prompt(Tokenizer *t, const char *text, size_t len, IdVec *out, PruneErr *err);
// Text that continues earlier text (an answer after its prompt): as tok_encode, without
// what a tokenizer adds at the start of a text (SentencePiece's Prepend "▁", Metaspace's
// prepend_scheme "first", ByteLevel add_prefix_space). For GPT-2 the same as tok_encode.
int tok_encode_cont(Tokenizer *t, const char *text, size_t len, IdVec *out, PruneErr *err);
// Sets the BOS rule: TOK_BOS_YES / TOK_BOS_NO override (--bos), TOK_BOS_DEFAULT keeps the
// tokenizer's own. Fails when yes is asked and the tokenizer has no BOS token.
int tok_set_bos(Tokenizer *t, int mode, PruneErr *err);
// The id of a special or added token spelled exactly text (e.g. "<|endoftext|>"), or -1.
int tok_special_id(const Tokenizer *t, const char *text, size_t len);
// The first special token spelled inside text[0..len) (for check's warning): its id and
// byte offset, or -1.
int tok_find_special(const Tokenizer *t, const char *text, size_t len, size_t *at);
// One line naming the tokenizer: type, vocabulary size, source and BOS rule.
void tok_describe(const Tokenizer *t, char *buf, size_t cap);

// A stand-in for a model with no usable tokenizer (stories260K; a folder whose vocabulary
// does not fit): n_vocab = V, so "ids:" task fields validate; encoding text fails with why.
void tok_init_ids_only(Tokenizer *t, int V, const char *why);

// The command line's --bos and --special-tokens: set once at start-up, applied by every
// loader below (tok_load, tok_load_gpt2, tok_load_for_model), not by the pure builders.
void tok_set_options(int bos_mode, int match_special);

// Builds a tokenizer from the contents of a tokenizer.json (pure: no file access) and, if
// config is not NULL, its tokenizer_config.json (for add_bos_token / bos_token). Every
// rejection names name (or config_name) and the JSON field. Format: Hugging Face
// tokenizers' serialisation (tokenizers/src/tokenizer/serialization.rs).
int tok_build_json(Tokenizer *t, const char *json, size_t len, const char *config, size_t config_len,
                   const char *name, const char *config_name, PruneErr *err);
// ids -> bytes (malloc'd, NUL-terminated; *len excludes the NUL)
int tok_decode(const Tokenizer *t, const int *ids, size_t n, char **out, size_t *len,
               PruneErr *err);
// A printable, quoted form of one token: "\" Mary\"", with \n, \t, \\, \" and \xNN escapes.
void tok_repr(const Tokenizer *t, int id, char *buf, size_t cap);

// Learns merges from text until the vocabulary has vocab_size tokens (256 bytes + merges +
// <|endoftext|>) or no pair occurs twice. Each step merges the most frequent adjacent pair
// (counted over pre-tokens, weighted by their frequency); ties go to the pair with the
// smallest (left id, right id), i.e. the pair of earliest-created tokens. Writes
// out_dir/vocab.json and out_dir/merges.txt atomically; *merges_done gets the count.
// max_digits > 0: no token holds more than that many ASCII digits (0: no limit).
// The two files are written to temporaries and renamed only once both are whole (a full disk
// leaves the old pair untouched; atomic_commit_all).
int bpe_train(const char *text, size_t len, int vocab_size, int max_digits, const char *out_dir,
              int *merges_done, PruneErr *err);
// The same, but the two files are left finished and not renamed: pending[0] is vocab.json,
// pending[1] merges.txt; the caller renames them (atomic_rename) together with the files
// that belong with them (a trained model.bin), or removes them (atomic_abort).
int bpe_train_pending(const char *text, size_t len, int vocab_size, int max_digits, const char *out_dir,
                      int *merges_done, AtomicFile pending[2], PruneErr *err);
// The tokenizer.json equivalent of a GPT-2 tokenizer from vocabulary files (ByteLevel
// pre-tokenizer and decoder, <|endoftext|> as a special added token): malloc'd JSON, or NULL.
char *tok_gpt2_json(const Tokenizer *t, PruneErr *err);
// Loads vocab.json + merges.txt given as two paths (any names: e.g. pending temporaries).
int tok_load_files(Tokenizer *t, const char *vocab_json, const char *merges, PruneErr *err);

#endif
