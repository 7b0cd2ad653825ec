// fuzz_logcsv.c: the per-step CSV of a search (--log), as `prune report --log` reads it.
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "log_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    LogCsv t;
    PruneErr err;
    if (log_csv_parse((const char *)data, size, "log.csv", &t, &err)) return 0;
    // what the report relies on: named columns, a full row of finite numbers per line
    if (t.ncol < 1 || t.nrow < 0) __builtin_trap();
    for (int c = 0; c < t.ncol; c++)
        if (!t.names[c][0] || log_csv_column(&t, t.names[c]) > c) __builtin_trap();
    for (size_t i = 0; i < (size_t)t.nrow * t.ncol; i++)
        if (!isfinite(t.v[i])) __builtin_trap();
    log_csv_free(&t);
    return 0;
}
