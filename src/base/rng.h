// rng.h: a small seeded generator (splitmix64 seeding xoshiro128+-style state would be
// overkill here). Same seed, same numbers, on every platform: prune's determinism rests
// on it, so it never reads the clock or the thread id.
#ifndef PRUNE_RNG_H
#define PRUNE_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct {
    uint64_t s;
} Rng;

static inline void rng_seed(Rng *r, uint64_t seed) { r->s = seed ^ 0x9E3779B97F4A7C15ull; }

// splitmix64: passes BigCrush, one 64-bit state, trivially reproducible.
static inline uint64_t rng_u64(Rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// uniform in [0, 1) with 24 random bits (exactly representable as float)
static inline float rng_uniform(Rng *r) { return (float)(rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

// standard normal by Box-Muller (one of the pair is discarded: simpler, deterministic)
static inline float rng_normal(Rng *r) {
    double u1 = ((double)(rng_u64(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double u2 = (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

#endif
