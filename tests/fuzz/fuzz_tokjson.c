// fuzz_tokjson.c: tokenizer.json (+ tokenizer_config.json). The input splits at its first NUL
// byte into tokenizer.json and tokenizer_config.json; with no NUL it is a tokenizer.json alone.
// A tokenizer that builds must then encode (with and without special tokens, as a prompt and
// as a continuation) and decode a fixed text, every id inside its vocabulary.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data, *nul = memchr(s, 0, size);
    Tokenizer t;
    PruneErr err;
    size_t jl = nul ? (size_t)(nul - s) : size;
    if (tok_build_json(&t, s, jl, nul ? nul + 1 : NULL, nul ? size - jl - 1 : 0, "tokenizer.json",
                       "tokenizer_config.json", &err))
        return 0;
    static const char text[] = "Then, Mary and John went to the store. 1732 caf\xc3\xa9 \xff! <s> <|endoftext|>\n\n";
    for (int mode = 0; mode < 3; mode++) {
        t.match_special = mode == 1;
        IdVec v = {0};
        int rc = mode == 2 ? tok_encode_cont(&t, text, sizeof text - 1, &v, &err)
                           : tok_encode_prompt(&t, text, sizeof text - 1, &v, &err);
        if (rc == 0) {
            for (size_t i = 0; i < v.n; i++)
                if (v.v[i] < 0 || v.v[i] >= t.n_vocab) __builtin_trap();
            char *out;
            size_t len;
            if (tok_decode(&t, v.v, v.n, &out, &len, &err) == 0) free(out);
        }
        idvec_free(&v);
    }
    tok_free(&t);
    return 0;
}
