// fuzz_checkpoint.c: a --resume checkpoint (header, sizes, checksum).
#include <stdint.h>

#include "prune.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    CheckpointHead h;
    PruneErr err;
    size_t total = size > 140 ? (size - 140) / 16 : 1;  // the header is 140 bytes with the checksum
    if (checkpoint_parse(data, size, total, "run.ck", &h, &err) == 0 && h.step < 0) __builtin_trap();
    return 0;
}
