// kutil.h: small helpers shared by the kernels (not part of the public API).
#ifndef PRUNE_KUTIL_H
#define PRUNE_KUTIL_H

#include <omp.h>

// Splits [0, n) into one contiguous range per OpenMP thread. Used where several rows
// add into the same weight-gradient entries: each thread owns a slice of columns, so
// the sums are race-free and, with a fixed thread count, deterministic.
static inline void omp_range(int n, int *lo, int *hi) {
    int nt = omp_get_num_threads(), id = omp_get_thread_num();
    int chunk = (n + nt - 1) / nt;
    *lo = id * chunk < n ? id * chunk : n;
    *hi = *lo + chunk < n ? *lo + chunk : n;
}

#endif
