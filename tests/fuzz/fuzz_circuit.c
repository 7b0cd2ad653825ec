// fuzz_circuit.c: circuit.json (prune's own or another tool's) for a 2-layer, 2-head,
// width-8 model.
#include <stdint.h>
#include <stdlib.h>

#include "prune.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static Masks mk;
    static unsigned char *keep;
    if (!keep) {
        GPT2Config c = {.maxT = 8, .V = 11, .Vp = 16, .L = 2, .NH = 2, .C = 8};
        gpt2_config_defaults(&c);
        int enabled[NUM_GRAN] = {1, 1, 1, 1, 1, 1, 1, 1};
        PruneErr err;
        if (masks_build(&mk, &c, enabled, &err)) abort();
        keep = malloc(mk.total);
    }
    PruneErr err;
    if (circuit_parse((const char *)data, size, "circuit.json", &mk, keep, &err) == 0)
        for (size_t i = 0; i < mk.total; i++)
            if (keep[i] > 1) __builtin_trap();
    return 0;
}
