// log_csv.c: the --log CSV read back (log_csv.h). Line by line over the text in memory: the
// header gives the column names, every later line one row of finite numbers.
#include "log_csv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLS 4096
#define MAX_FIELD 63  // a name or a number: "%.6g" needs 13 characters

void log_csv_free(LogCsv *t) {
    for (int c = 0; c < t->ncol && t->names; c++) free(t->names[c]);
    free(t->names);
    free(t->v);
    memset(t, 0, sizeof *t);
}

int log_csv_column(const LogCsv *t, const char *name) {
    for (int c = 0; c < t->ncol; c++)
        if (!strcmp(t->names[c], name)) return c;
    return -1;
}

// The fields of one line [s, end): their starts and lengths; the count (MAX_COLS + 1: too many).
static int split(const char *s, const char *end, const char **at, int *n) {
    int k = 0;
    for (;;) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *stop = comma ? comma : end;
        if (k == MAX_COLS) return MAX_COLS + 1;
        at[k] = s, n[k] = (int)(stop - s), k++;
        if (!comma) return k;
        s = comma + 1;
    }
}

static int parse_lines(const char *text, size_t len, const char *path, LogCsv *t, PruneErr *err) {
    const char **at = malloc(sizeof(char *) * MAX_COLS);
    int *n = malloc(sizeof(int) * MAX_COLS), rc = -1, cap = 0;
    if (!at || !n) {
        perr(err, "out of memory.");
        goto done;
    }
    const char *p = text, *end = text + len;
    for (int line = 1; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *stop = nl ? nl : end, *next = nl ? nl + 1 : end;
        if (stop > p && stop[-1] == '\r') stop--;
        if (stop == p) {  // a blank line
            p = next;
            continue;
        }
        int k = split(p, stop, at, n);
        if (!t->names) {  // the header
            if (k > MAX_COLS) {
                perr(err, "%s:%d: more than %d columns.", path, line, MAX_COLS);
                goto done;
            }
            t->names = calloc((size_t)k, sizeof(char *));
            if (!t->names) {
                perr(err, "out of memory.");
                goto done;
            }
            for (int c = 0; c < k; c++) {
                if (n[c] == 0 || n[c] > MAX_FIELD || memchr(at[c], 0, (size_t)n[c])) {
                    perr(err, "%s:%d: column %d: expected a name of 1 to %d characters. Hint: the first "
                              "line of a --log file is its header, e.g. 'step,kl,expected_l0,...'.", path,
                         line, c + 1, MAX_FIELD);
                    goto done;
                }
                if (!(t->names[c] = strndup(at[c], (size_t)n[c]))) {
                    perr(err, "out of memory.");
                    goto done;
                }
                t->ncol = c + 1;
            }
            p = next;
            continue;
        }
        if (k != t->ncol) {
            perr(err, "%s:%d: %s%d fields, but the header names %d columns.", path, line,
                 k > MAX_COLS ? "more than " : "", k > MAX_COLS ? MAX_COLS : k, t->ncol);
            goto done;
        }
        if (t->nrow == cap) {
            cap = cap ? 2 * cap : 256;
            double *v = realloc(t->v, sizeof(double) * (size_t)cap * (size_t)t->ncol);
            if (!v) {
                perr(err, "out of memory.");
                goto done;
            }
            t->v = v;
        }
        double *row = t->v + (size_t)t->nrow * t->ncol;
        for (int c = 0; c < k; c++) {
            char buf[MAX_FIELD + 1], *e;
            int ok = n[c] > 0 && n[c] <= MAX_FIELD && !memchr(at[c], 0, (size_t)n[c]);
            if (ok) {
                memcpy(buf, at[c], (size_t)n[c]);
                buf[n[c]] = 0;
                row[c] = strtod(buf, &e);
                ok = e == buf + n[c] && isfinite(row[c]);
            }
            if (!ok) {
                perr(err, "%s:%d: column %d (%s): '%.*s' is not a finite number.", path, line, c + 1,
                     t->names[c], n[c] > MAX_FIELD ? MAX_FIELD : n[c], at[c]);
                goto done;
            }
        }
        t->nrow++;
        p = next;
    }
    if (!t->names) {
        perr(err, "%s:1: no header. Hint: a --log file starts with 'step,kl,expected_l0,...'.", path);
        goto done;
    }
    rc = 0;
done:
    free(at);
    free(n);
    return rc;
}

int log_csv_parse(const char *text, size_t len, const char *path, LogCsv *out, PruneErr *err) {
    memset(out, 0, sizeof *out);
    int rc = parse_lines(text, len, path, out, err);
    if (rc) log_csv_free(out);
    return rc;
}
