// fuzz_llama2c.c: the llama2.c checkpoint header parser (versions 0 and 1). The input is the
// file's first bytes (up to the 256-byte header); its length plus a size taken from the
// input stands for the file size, so the exact-size check sees honest and lying files.
#include <stdint.h>
#include <string.h>

#include "gpt2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned char hdr[256] = {0};
    size_t n = size < sizeof hdr ? size : sizeof hdr;
    memcpy(hdr, data, n);
    size_t file_size = size;
    if (size > sizeof hdr + 8) memcpy(&file_size, data + sizeof hdr, 8);
    GPT2Config c;
    int version, shared;
    size_t off;
    PruneErr err;
    if (llama2c_parse_header(hdr, n, file_size, "fuzz.bin", &c, &version, &shared, &off, &err) == 0) {
        // what a successful parse promises: a config the rest of the engine accepts
        if (gpt2_config_check(&c, "fuzz.bin", &err) || off > file_size) __builtin_trap();
    }
    return 0;
}
