// fuzz_llmc.c: the llm.c checkpoint header parser. The input is the file's first bytes
// (zero-padded to the 1024-byte header); its length plus a size taken from the input
// stands for the file size, so the size checks see both honest and lying files.
#include <stdint.h>
#include <string.h>

#include "gpt2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int32_t hdr[LLMC_HEADER_INTS] = {0};
    memcpy(hdr, data, size < sizeof hdr ? size : sizeof hdr);
    size_t file_size = size;
    if (size > sizeof hdr + 8) memcpy(&file_size, data + sizeof hdr, 8);
    GPT2Config c;
    int version;
    PruneErr err;
    if (llmc_parse_header(hdr, file_size, "fuzz.bin", &c, &version, &err) == 0) {
        // what a successful parse promises: a config the rest of the engine accepts
        if (gpt2_config_check(&c, "fuzz.bin", &err)) __builtin_trap();
    }
    return 0;
}
