// fuzz_vocab.c: vocabulary files. The input splits at its first NUL byte into vocab.json
// and merges.txt; with no NUL it is a vocab.bpe alone (ids derived from the merges). A
// tokenizer that builds must then encode and decode a fixed text without failing.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data, *nul = memchr(s, 0, size);
    Tokenizer t;
    PruneErr err;
    int rc = nul ? tok_build(&t, s, (size_t)(nul - s), nul + 1, size - (size_t)(nul - s) - 1, "vocab.json",
                             "merges.txt", &err)
                 : tok_build(&t, NULL, 0, s, size, NULL, "vocab.bpe", &err);
    if (rc) return 0;
    static const char text[] = "Then, Mary and John went to the store. 1732 caf\xc3\xa9 \xff!";
    IdVec v = {0};
    if (tok_encode(&t, text, sizeof text - 1, &v, &err) == 0) {
        for (size_t i = 0; i < v.n; i++)
            if (v.v[i] < 0 || v.v[i] >= t.n_vocab) __builtin_trap();
        char *out;
        size_t len;
        if (tok_decode(&t, v.v, v.n, &out, &len, &err) == 0) free(out);
    }
    idvec_free(&v);
    tok_free(&t);
    return 0;
}
