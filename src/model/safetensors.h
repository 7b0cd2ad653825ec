// safetensors.h: pure parsers for the Hugging Face pieces prune reads: the safetensors
// JSON header and config.json. They take bytes and return a status, so tests can reach
// every rejection without files. Loading them into a GPT2 is gpt2_load_hf (load_hf.c).
#ifndef PRUNE_SAFETENSORS_H
#define PRUNE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "gpt2.h"

#define ST_MAX_DIMS 8
#define ST_MAX_NAME 256
// The header is JSON text; GPT-2 XL's is ~30 KB. Anything past this is not a model header.
#define ST_MAX_HEADER (100u << 20)

typedef struct {
    char name[ST_MAX_NAME];
    char dtype[8];   // "F32", "F16", "BF16", ...
    int dsize;       // bytes per element
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t begin, end;  // byte offsets into the data buffer
} StTensor;

typedef struct {
    StTensor *t;
    int n;
} StHeader;

// json (n bytes) is the header; data_len is the size of the data buffer that follows it.
// Checks: valid JSON object, every tensor has a known dtype, a shape of non-negative
// ints, data_offsets [begin, end] with begin <= end <= data_len and end - begin equal to
// the element count times the dtype size.
int st_parse_header(const char *json, size_t n, size_t data_len, const char *path, StHeader *h,
                    PruneErr *err);
void st_header_free(StHeader *h);

// Reads the GPT-2 hyper-parameters (n_embd, n_layer, n_head, n_positions or n_ctx,
// vocab_size, n_inner: the MLP width, null for 4C) and rejects what this engine does not
// compute (another activation, a LayerNorm eps other than 1e-5, unscaled attention). Vp is V
// rounded up to a multiple of 128, as llm.c pads it.
int hf_parse_config(const char *json, size_t n, const char *path, GPT2Config *c, PruneErr *err);

#endif
