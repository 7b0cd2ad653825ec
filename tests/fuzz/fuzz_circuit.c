// fuzz_circuit.c: circuit.json (prune's own or another tool's) through the one parser that
// `prune eval` and `prune report` share, then fitted to a 2-layer, 2-head, width-8 model.
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
    CircuitFile cf;
    if (circuit_parse((const char *)data, size, "circuit.json", &cf, &err)) return 0;
    // what the report relies on: a model shape fixes every keep's shape; gates are 0 or 1
    int per[NUM_GRAN] = {1, 1, 1, 1, cf.NH, cf.C, 4 * cf.C, cf.C};
    for (int g = 0; g < NUM_GRAN; g++) {
        const CircuitGran *cg = &cf.gran[g];
        if (!cg->keep) continue;
        if (cf.L && (cg->rows != (g == G_EMB ? 1 : cf.L) || cg->cols != per[g])) __builtin_trap();
        for (size_t i = 0; i < (size_t)cg->rows * cg->cols; i++)
            if (cg->keep[i] > 1) __builtin_trap();
    }
    if (circuit_apply(&cf, &mk, "circuit.json", keep, &err) == 0)
        for (size_t i = 0; i < mk.total; i++)
            if (keep[i] > 1) __builtin_trap();
    circuit_file_free(&cf);
    return 0;
}
