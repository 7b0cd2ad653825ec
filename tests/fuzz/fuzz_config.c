// fuzz_config.c: a Hugging Face config.json.
#include <stdint.h>

#include "gpt2.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    GPT2Config c;
    PruneErr err;
    if (hf_parse_config((const char *)data, size, "config.json", &c, &err) == 0 &&
        gpt2_config_check(&c, "config.json", &err))
        __builtin_trap();  // a config that parses is a config the engine accepts
    return 0;
}
