// hmap.h: two small open-addressing hash maps used by the tokenizer and the BPE trainer:
// u64 -> u64 (token pairs) and byte string -> int64 (tokens, pre-token cache, word
// counts). Keys are copied into the map. Growth allocates, so neither belongs in a
// training step loop; they are for loading vocabularies and encoding text.
#ifndef PRUNE_HMAP_H
#define PRUNE_HMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t *keys, *vals;
    unsigned char *used;
    size_t cap, n;  // cap is a power of two
} U64Map;

int u64map_init(U64Map *m, size_t expected);
void u64map_free(U64Map *m);
uint64_t *u64map_get(const U64Map *m, uint64_t key);  // NULL if absent
int u64map_put(U64Map *m, uint64_t key, uint64_t val);  // insert or replace; -1 on OOM
void u64map_clear(U64Map *m);

typedef struct {
    char *arena;  // key bytes, back to back
    size_t arena_len, arena_cap;
    size_t *off;
    uint32_t *len;
    uint64_t *hash;
    int64_t *vals;
    unsigned char *used;
    size_t cap, n;
} StrMap;

int strmap_init(StrMap *m, size_t expected);
void strmap_free(StrMap *m);
int64_t *strmap_get(const StrMap *m, const char *key, size_t len);
int strmap_put(StrMap *m, const char *key, size_t len, int64_t val);  // -1 on OOM or len >= 4G
// Visits every entry (order: slot order, deterministic for the same insertions).
#define STRMAP_FOREACH(m, i) for (size_t i = 0; i < (m)->cap; i++) if ((m)->used[i])

#endif
