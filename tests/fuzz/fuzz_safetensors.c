// fuzz_safetensors.c: the safetensors header (its JSON, dtypes, shapes, offsets). The
// first 8 input bytes give the size of the data buffer the header describes. On success
// every tensor lies inside the data and shares no byte with another.
#include <stdint.h>
#include <string.h>

#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 8) return 0;
    uint64_t data_len;
    memcpy(&data_len, data, 8);
    StHeader h;
    PruneErr err;
    if (st_parse_header((const char *)data + 8, size - 8, (size_t)data_len, "fuzz.safetensors", &h, &err) == 0) {
        for (int i = 0; i < h.n; i++) {  // every tensor lies inside the data buffer, alone
            if (h.t[i].begin > h.t[i].end || h.t[i].end > data_len) __builtin_trap();
            for (int j = 0; j < i && h.n < 64 && h.t[i].end > h.t[i].begin; j++)
                if (h.t[j].end > h.t[j].begin && h.t[i].begin < h.t[j].end && h.t[j].begin < h.t[i].end)
                    __builtin_trap();
        }
        st_header_free(&h);
    }
    return 0;
}
