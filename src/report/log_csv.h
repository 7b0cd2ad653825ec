// log_csv.h: the per-step CSV of a search (--log FILE; optim.c writes it: a header of column
// names, then a row of numbers per step) read back, for the report's training curves.
#ifndef PRUNE_LOG_CSV_H
#define PRUNE_LOG_CSV_H

#include <stddef.h>

#include "common.h"

typedef struct {
    int ncol, nrow;
    char **names;  // ncol column names, from the header
    double *v;     // nrow * ncol values, row by row, every one finite
} LogCsv;

// Pure (the fuzz target and tests call it): the header must name every column (non-empty,
// at most 63 characters), each further line hold as many fields, each a finite number;
// blank lines are skipped and "\r\n" ends a line too. Errors name path, the line and the
// column. Free with log_csv_free (also after an error).
int log_csv_parse(const char *text, size_t len, const char *path, LogCsv *out, PruneErr *err);
void log_csv_free(LogCsv *t);
// The index of the column called name, or -1.
int log_csv_column(const LogCsv *t, const char *name);

#endif
