// hmap.c: see hmap.h. Linear probing, load factor <= 1/2, FNV-1a for strings and a
// splitmix finaliser for integers.
#include "hmap.h"

#include <stdlib.h>
#include <string.h>

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < 2 * n) c *= 2;
    return c;
}

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int u64map_init(U64Map *m, size_t expected) {
    memset(m, 0, sizeof *m);
    m->cap = pow2_at_least(expected);
    m->keys = malloc(sizeof(uint64_t) * m->cap);
    m->vals = malloc(sizeof(uint64_t) * m->cap);
    m->used = calloc(m->cap, 1);
    if (!m->keys || !m->vals || !m->used) {
        u64map_free(m);
        return -1;
    }
    return 0;
}

void u64map_free(U64Map *m) {
    free(m->keys), free(m->vals), free(m->used);
    memset(m, 0, sizeof *m);
}

void u64map_clear(U64Map *m) {
    memset(m->used, 0, m->cap);
    m->n = 0;
}

uint64_t *u64map_get(const U64Map *m, uint64_t key) {
    if (!m->cap) return NULL;
    for (size_t i = mix64(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->used[i]) return NULL;
        if (m->keys[i] == key) return &m->vals[i];
    }
}

static int u64map_grow(U64Map *m) {
    U64Map g;
    if (u64map_init(&g, m->cap)) return -1;  // doubles: init makes cap >= 2 * expected
    for (size_t i = 0; i < m->cap; i++)
        if (m->used[i]) u64map_put(&g, m->keys[i], m->vals[i]);
    u64map_free(m);
    *m = g;
    return 0;
}

int u64map_put(U64Map *m, uint64_t key, uint64_t val) {
    if (2 * (m->n + 1) > m->cap && u64map_grow(m)) return -1;
    size_t i = mix64(key) & (m->cap - 1);
    while (m->used[i] && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
    if (!m->used[i]) {
        m->used[i] = 1;
        m->keys[i] = key;
        m->n++;
    }
    m->vals[i] = val;
    return 0;
}

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return mix64(h);
}

int strmap_init(StrMap *m, size_t expected) {
    memset(m, 0, sizeof *m);
    m->cap = pow2_at_least(expected);
    m->off = malloc(sizeof(size_t) * m->cap);
    m->len = malloc(sizeof(uint32_t) * m->cap);
    m->hash = malloc(sizeof(uint64_t) * m->cap);
    m->vals = malloc(sizeof(int64_t) * m->cap);
    m->used = calloc(m->cap, 1);
    m->arena_cap = 64 * expected + 64;
    m->arena = malloc(m->arena_cap);
    if (!m->off || !m->len || !m->hash || !m->vals || !m->used || !m->arena) {
        strmap_free(m);
        return -1;
    }
    return 0;
}

void strmap_free(StrMap *m) {
    free(m->arena), free(m->off), free(m->len), free(m->hash), free(m->vals), free(m->used);
    memset(m, 0, sizeof *m);
}

static size_t strmap_find(const StrMap *m, const char *key, size_t len, uint64_t h) {
    size_t i = h & (m->cap - 1);
    while (m->used[i] && !(m->hash[i] == h && m->len[i] == len &&
                           memcmp(m->arena + m->off[i], key, len) == 0))
        i = (i + 1) & (m->cap - 1);
    return i;
}

int64_t *strmap_get(const StrMap *m, const char *key, size_t len) {
    if (!m->cap) return NULL;
    size_t i = strmap_find(m, key, len, fnv1a(key, len));
    return m->used[i] ? &m->vals[i] : NULL;
}

static int strmap_grow(StrMap *m) {
    size_t ncap = m->cap * 2;
    size_t *off = malloc(sizeof(size_t) * ncap);
    uint32_t *len = malloc(sizeof(uint32_t) * ncap);
    uint64_t *hash = malloc(sizeof(uint64_t) * ncap);
    int64_t *vals = malloc(sizeof(int64_t) * ncap);
    unsigned char *used = calloc(ncap, 1);
    if (!off || !len || !hash || !vals || !used) {
        free(off), free(len), free(hash), free(vals), free(used);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->used[i]) continue;
        size_t j = m->hash[i] & (ncap - 1);
        while (used[j]) j = (j + 1) & (ncap - 1);
        used[j] = 1, off[j] = m->off[i], len[j] = m->len[i], hash[j] = m->hash[i],
        vals[j] = m->vals[i];
    }
    free(m->off), free(m->len), free(m->hash), free(m->vals), free(m->used);
    m->off = off, m->len = len, m->hash = hash, m->vals = vals, m->used = used, m->cap = ncap;
    return 0;
}

int strmap_put(StrMap *m, const char *key, size_t len, int64_t val) {
    if (len >= UINT32_MAX) return -1;
    uint64_t h = fnv1a(key, len);
    size_t i = strmap_find(m, key, len, h);
    if (m->used[i]) {
        m->vals[i] = val;
        return 0;
    }
    if (2 * (m->n + 1) > m->cap) {
        if (strmap_grow(m)) return -1;
        i = strmap_find(m, key, len, h);
    }
    if (m->arena_len + len > m->arena_cap) {
        size_t nc = 2 * (m->arena_len + len) + 64;
        char *a = realloc(m->arena, nc);
        if (!a) return -1;
        m->arena = a, m->arena_cap = nc;
    }
    memcpy(m->arena + m->arena_len, key, len);
    m->used[i] = 1, m->off[i] = m->arena_len, m->len[i] = (uint32_t)len, m->hash[i] = h;
    m->vals[i] = val;
    m->arena_len += len;
    m->n++;
    return 0;
}
