// common.c: the helpers of common.h. Nothing here knows about models.
#include "common.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <omp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int perr(PruneErr *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void prune_check_failed(const char *cond, const char *file, int line) {
    fprintf(stderr, "prune: internal check failed: %s at %s:%d (this is a bug in prune)\n", cond,
            file, line);
    abort();
}

void *palloc(size_t bytes, const char *what, PruneErr *err) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p)
        perr(err, "out of memory allocating %zu bytes for %s. Hint: use a smaller batch or "
                  "sequence length, or a machine with more memory.", bytes, what);
    return p;
}

void *pcalloc(size_t bytes, const char *what, PruneErr *err) {
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p)
        perr(err, "out of memory allocating %zu bytes for %s. Hint: use a smaller batch or "
                  "sequence length, or a machine with more memory.", bytes, what);
    return p;
}

int read_file(const char *path, char **out, size_t *len, PruneErr *err) {
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return perr(err, "%s: cannot open: %s. Hint: check the path.", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return perr(err, "%s: not a regular file. Hint: give the path of a file, not a folder.",
                    path);
    }
    size_t n = (size_t)st.st_size;
    char *buf = palloc(n + 1, path, err);
    if (!buf) {
        fclose(f);
        return -1;
    }
    if (n && fread(buf, 1, n, f) != n) {
        free(buf);
        fclose(f);
        return perr(err, "%s: read failed after fewer than %zu bytes.", path, n);
    }
    fclose(f);
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

int map_file(const char *path, int writable, void **out, size_t *len, PruneErr *err) {
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return perr(err, "%s: cannot open: %s. Hint: check the path.", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return perr(err, "%s: not a regular file. Hint: give the path of a file, not a folder.",
                    path);
    }
    size_t n = (size_t)st.st_size;
    if (n == 0) {
        close(fd);
        return perr(err, "%s: the file is empty (0 bytes). Hint: the download or copy may have "
                         "failed.", path);
    }
    // MAP_PRIVATE + PROT_WRITE is copy-on-write: pages are copied only when training writes
    // them, so frozen weights are never duplicated. Read-only maps catch stray writes.
    void *p = mmap(NULL, n, PROT_READ | (writable ? PROT_WRITE : 0), MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return perr(err, "%s: mmap failed: %s.", path, strerror(errno));
    *out = p;
    *len = n;
    return 0;
}

void unmap_file(void *p, size_t len) {
    if (p) munmap(p, len);
}

int atomic_open(AtomicFile *af, const char *path, PruneErr *err) {
    memset(af, 0, sizeof *af);
    if (strlen(path) >= sizeof af->path)
        return perr(err, "%s: output path too long (%zu bytes, at most %zu).", path, strlen(path),
                    sizeof af->path - 1);
    snprintf(af->path, sizeof af->path, "%s", path);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp, "wb");
    if (!af->f)
        return perr(err, "%s: cannot create the temporary file %s: %s. Hint: does the folder "
                         "exist and is it writable?", path, af->tmp, strerror(errno));
    return 0;
}

int atomic_write(AtomicFile *af, const void *data, size_t bytes, PruneErr *err) {
    if (af->failed) return -1;
    if (bytes && fwrite(data, 1, bytes, af->f) != bytes) {
        af->failed = 1;
        return perr(err, "%s: write failed: %s. Hint: is the disk full?", af->path, strerror(errno));
    }
    return 0;
}

int atomic_commit(AtomicFile *af, PruneErr *err) {
    if (af->failed) {
        atomic_abort(af);
        return -1;
    }
    int bad = fflush(af->f) != 0 || fsync(fileno(af->f)) != 0;
    bad |= fclose(af->f) != 0;
    af->f = NULL;
    if (bad) {
        int e = errno;
        remove(af->tmp);
        return perr(err, "%s: could not finish writing: %s. Hint: is the disk full?", af->path,
                    strerror(e));
    }
    if (rename(af->tmp, af->path) != 0) {
        int e = errno;
        remove(af->tmp);
        return perr(err, "%s: could not rename %s into place: %s.", af->path, af->tmp, strerror(e));
    }
    return 0;
}

void atomic_abort(AtomicFile *af) {
    if (af->f) fclose(af->f);
    af->f = NULL;
    if (af->tmp[0]) remove(af->tmp);
}

static int g_threads = 1;

void prune_set_threads(int n) {
    if (n < 1) n = 1;
    g_threads = n;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int prune_get_threads(void) { return g_threads; }

int path_is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int path_is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int str_ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

const char *prune_blas_core(void) { return openblas_get_corename(); }

static int core_in(const char *core, const char *const *list) {
    for (; *list; list++)
        if (!strcasecmp(core, *list)) return 1;
    return 0;
}

void prune_fix_blas_coretype(char **argv) {
    if (getenv("OPENBLAS_CORETYPE") || getenv("PRUNE_BLAS_REEXEC")) return;
    const char *want = NULL;
    static const char *const avx512[] = {"skylakex", "cooperlake", "sapphirerapids", NULL};
    static const char *const avx2[] = {"haswell", "zen", "skylakex", "cooperlake",
                                       "sapphirerapids", NULL};
    const char *core = openblas_get_corename();
    if (!core) return;
    // __builtin_cpu_supports also checks that the OS saves the wide registers (XCR0).
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
        if (!core_in(core, avx512)) want = "SkylakeX";
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        if (!core_in(core, avx2)) want = "Haswell";
    }
    if (!want) return;
    setenv("OPENBLAS_CORETYPE", want, 1);
    setenv("PRUNE_BLAS_REEXEC", "1", 1);  // never loop
    execv("/proc/self/exe", argv);
    // exec failed: carry on with the slower kernels, results are the same
    unsetenv("OPENBLAS_CORETYPE");
}

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int parse_int(const char *s, long lo, long hi, long *out) {
    if (!s || !*s) return -1;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end != 0 || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int read_u64_file(const char *path, unsigned long long *v) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int ok = fscanf(f, "%llu", v) == 1;
    fclose(f);
    return ok ? 0 : -1;
}

size_t prune_memory_available(void) {
    unsigned long long avail = 0, lim, cur;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %llu kB", &avail) == 1) {
                avail *= 1024;
                break;
            }
        fclose(f);
    }
    // a container's limit ("max" does not parse as a number: no limit)
    if (!read_u64_file("/sys/fs/cgroup/memory.max", &lim) && !read_u64_file("/sys/fs/cgroup/memory.current", &cur) &&
        lim > cur && (avail == 0 || lim - cur < avail))
        avail = lim - cur;
    return (size_t)avail;
}

int write_file_atomic(const char *path, const void *data, size_t bytes, PruneErr *err) {
    AtomicFile af;
    if (atomic_open(&af, path, err)) return -1;
    if (atomic_write(&af, data, bytes, err)) {
        atomic_abort(&af);
        return -1;
    }
    return atomic_commit(&af, err);
}
