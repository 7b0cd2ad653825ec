// common.c: the helpers of common.h. Nothing here knows about models.
#include "common.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <omp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/random.h>
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

// The message names what the bytes were for (callers put the file or setting in `what`)
// and their size in GB, so a damaged header claiming terabytes reads as such.
static void oom(size_t bytes, const char *what, PruneErr *err) {
    perr(err, "out of memory allocating %zu bytes (%.2f GB) for %s. Hint: if that size is "
              "unexpected, the file or the settings named are wrong; otherwise free memory or "
              "use a machine with more.", bytes, (double)bytes / 1e9, what);
}

void *palloc(size_t bytes, const char *what, PruneErr *err) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) oom(bytes, what, err);
    return p;
}

void *pcalloc(size_t bytes, const char *what, PruneErr *err) {
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) oom(bytes, what, err);
    return p;
}

// Opens an input for reading without blocking: O_NONBLOCK makes open() return at once on a
// FIFO with no writer (a plain open waits there for ever), and the S_ISREG check refuses
// FIFOs, devices and folders before anything is read. The flag is harmless on a regular file.
static int open_input(const char *path, struct stat *st, PruneErr *err) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return perr(err, "%s: cannot open: %s. Hint: check the path.", path, strerror(errno));
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        int dir = S_ISDIR(st->st_mode);
        close(fd);
        return perr(err, "%s: not a regular file (%s). Hint: give the path of a file%s.", path,
                    dir ? "a folder" : S_ISFIFO(st->st_mode) ? "a FIFO or pipe"
                                                              : "a device, socket or pipe",
                    dir ? ", not a folder" : "; write a stream to a file first");
    }
    return fd;
}

int read_file(const char *path, char **out, size_t *len, PruneErr *err) {
    *out = NULL;
    *len = 0;
    struct stat st;
    int fd = open_input(path, &st, err);
    if (fd < 0) return -1;
    size_t n = (size_t)st.st_size, got = 0;
    char *buf = palloc(n + 1, path, err);
    if (!buf) {
        close(fd);
        return -1;
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            free(buf);
            close(fd);
            return perr(err, "%s: read failed after %zu of %zu bytes%s%s. Hint: was the file "
                             "changed while prune read it?", path, got, n, e ? ": " : "",
                        e ? strerror(e) : "");
        }
        got += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

// --- mapped files and SIGBUS ---------------------------------------------------------
// A mapped file that another process truncates makes every later access to the lost pages
// raise SIGBUS; without a handler prune would die with no word of why. Mapped regions are
// registered here and one SIGBUS handler looks the faulting address up:
// - inside map_guarded_call (the loaders' one-pass reads of a mapping) the fault jumps back
//   to the caller, which returns an error naming the file;
// - anywhere else (the search reading a memory-mapped fp32 model) there is no safe way to
//   carry on, so the handler writes one line naming the file to stderr with write(2) (async-
//   signal-safe), restores the default action and returns: the access faults again and the
//   process ends by SIGBUS, as before, but no longer silently.
// A SIGBUS outside every registered region gets the default action too.
#define MAX_MAPS 32
static struct {
    char *p;
    size_t len;
    char msg[600];
} g_maps[MAX_MAPS];
static volatile sig_atomic_t g_nmaps;
static _Thread_local sigjmp_buf *g_guard;

static int find_map(const void *addr) {
    const char *a = addr;
    for (int i = 0; i < g_nmaps; i++)
        if (g_maps[i].p && a >= g_maps[i].p && a < g_maps[i].p + g_maps[i].len) return i;
    return -1;
}

static void on_sigbus(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    int i = find_map(si->si_addr);
    if (i >= 0 && g_guard) siglongjmp(*g_guard, 1);
    if (i >= 0) {
        ssize_t w = write(2, g_maps[i].msg, strlen(g_maps[i].msg));
        (void)w;
    }
    signal(sig, SIG_DFL);  // a fault is retried on return and ends the process
    if (si->si_code <= 0) raise(sig);  // sent by kill(): no retry, so raise it again
}

static void register_map(void *p, size_t len, const char *path) {
    struct sigaction old;
    // (re)installed when another handler took SIGBUS since (a test harness, a library)
    if (sigaction(SIGBUS, NULL, &old) == 0 && old.sa_sigaction != on_sigbus) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_sigbus;
        sa.sa_flags = SA_SIGINFO | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGBUS, &sa, NULL);
    }
    int slot = -1;
    for (int i = 0; i < g_nmaps && slot < 0; i++)
        if (!g_maps[i].p) slot = i;
    if (slot < 0 && g_nmaps < MAX_MAPS) slot = g_nmaps;
    if (slot < 0) return;  // more maps than slots: that one is unguarded, as before
    snprintf(g_maps[slot].msg, sizeof g_maps[slot].msg,
             "\nprune: %s: the file shrank (was it overwritten or truncated?) while prune had it "
             "memory-mapped; stopping. Hint: do not change a model file while prune uses it; "
             "write a new file and rename it instead.\n", path);
    g_maps[slot].len = len;
    g_maps[slot].p = p;
    if (slot == g_nmaps) g_nmaps = slot + 1;
}

int map_guarded_call(int (*fn)(void *ctx, PruneErr *err), void *ctx, const char *path,
                     PruneErr *err) {
    sigjmp_buf jb, *prev = g_guard;
    if (sigsetjmp(jb, 1)) {
        g_guard = prev;
        return perr(err, "%s: the file shrank while prune was reading it (was it overwritten or "
                         "truncated?). Hint: do not change a model file while prune reads it.",
                    path);
    }
    g_guard = &jb;
    int rc = fn(ctx, err);
    g_guard = prev;
    return rc;
}

int map_file(const char *path, int writable, void **out, size_t *len, PruneErr *err) {
    *out = NULL;
    *len = 0;
    struct stat st;
    int fd = open_input(path, &st, err);
    if (fd < 0) return -1;
    size_t n = (size_t)st.st_size;
    if (n == 0) {
        close(fd);
        return perr(err, "%s: the file is empty (0 bytes). Hint: the download or copy may have "
                         "failed.", path);
    }
    // MAP_PRIVATE + PROT_WRITE is copy-on-write: pages are copied only when training writes
    // them, so frozen weights are never duplicated. Read-only maps catch stray writes.
    void *p = mmap(NULL, n, PROT_READ | (writable ? PROT_WRITE : 0), MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        close(fd);
        return perr(err, "%s: mmap failed: %s.", path, strerror(e));
    }
    // The size again, now that the map exists: a file cut between the first fstat and mmap
    // is refused here rather than faulting later.
    struct stat st2;
    int bad = fstat(fd, &st2) != 0 || (size_t)st2.st_size < n;
    close(fd);
    if (bad) {
        munmap(p, n);
        return perr(err, "%s: the file shrank from %zu bytes while prune opened it. Hint: do not "
                         "change a model file while prune reads it.", path, n);
    }
    register_map(p, n, path);
    *out = p;
    *len = n;
    return 0;
}

void unmap_file(void *p, size_t len) {
    if (!p) return;
    for (int i = 0; i < g_nmaps; i++)
        if (g_maps[i].p == p) g_maps[i].p = NULL;
    munmap(p, len);
}

// A temporary name no other process can predict: pid plus 48 random bits.
static void tmp_name(char *out, size_t cap, const char *path) {
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (uint64_t)(now_seconds() * 1e9) ^ ((uint64_t)(uintptr_t)out << 17);
    snprintf(out, cap, "%s.tmp.%ld.%012llx", path, (long)getpid(),
             (unsigned long long)(r & 0xFFFFFFFFFFFFull));
}

int atomic_open(AtomicFile *af, const char *path, PruneErr *err) {
    memset(af, 0, sizeof *af);
    if (strlen(path) >= sizeof af->path)
        return perr(err, "%s: output path too long (%zu bytes, at most %zu).", path, strlen(path),
                    sizeof af->path - 1);
    snprintf(af->path, sizeof af->path, "%s", path);
    // O_CREAT | O_EXCL creates a new file or fails: it never opens what is already there and
    // never follows a symlink (not even a dangling one), so nothing planted at the temporary
    // name is written through. The random suffix makes the name unguessable; a collision
    // just draws another.
    int fd = -1, e = 0;
    for (int tries = 0; tries < 16 && fd < 0; tries++) {
        tmp_name(af->tmp, sizeof af->tmp, path);
        fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        e = errno;
        if (fd < 0 && e != EEXIST) break;
    }
    if (fd < 0 || !(af->f = fdopen(fd, "wb"))) {
        if (fd >= 0) {
            e = errno;
            close(fd);
            remove(af->tmp);
        }
        char tmp[sizeof af->tmp];
        snprintf(tmp, sizeof tmp, "%s", af->tmp);
        af->tmp[0] = 0;
        return perr(err, "%s: cannot create the temporary file %s: %s. Hint: does the folder "
                         "exist and is it writable?", path, tmp, strerror(e));
    }
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

int atomic_finish(AtomicFile *af, PruneErr *err) {
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
        af->tmp[0] = 0;
        return perr(err, "%s: could not finish writing: %s. Hint: is the disk full?", af->path,
                    strerror(e));
    }
    return 0;
}

int atomic_rename(AtomicFile *af, PruneErr *err) {
    if (rename(af->tmp, af->path) != 0) {
        int e = errno;
        remove(af->tmp);
        perr(err, "%s: could not rename %s into place: %s.", af->path, af->tmp, strerror(e));
        af->tmp[0] = 0;
        return -1;
    }
    af->tmp[0] = 0;
    return 0;
}

int atomic_commit(AtomicFile *af, PruneErr *err) {
    return atomic_finish(af, err) || atomic_rename(af, err) ? -1 : 0;
}

int atomic_commit_all(AtomicFile *af, int n, PruneErr *err) {
    for (int i = 0; i < n; i++)
        if (atomic_finish(&af[i], err)) {
            for (int k = 0; k < n; k++) atomic_abort(&af[k]);
            return -1;
        }
    for (int i = 0; i < n; i++)
        if (atomic_rename(&af[i], err)) {
            for (int k = i + 1; k < n; k++) atomic_abort(&af[k]);
            return -1;
        }
    return 0;
}

void atomic_abort(AtomicFile *af) {
    if (af->f) fclose(af->f);
    af->f = NULL;
    if (af->tmp[0]) remove(af->tmp);
    af->tmp[0] = 0;
}

// The folder part of path ("." when it has none) into out.
static void dir_of(const char *path, char *out, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(out, cap, ".");
    else if (slash == path) snprintf(out, cap, "/");
    else snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

// The path resolved: realpath of the file, or of its folder plus its name when the file
// does not exist yet. 0 on success.
static int resolve(const char *path, char *out, size_t cap) {
    char buf[PATH_MAX], dir[4096];
    if (realpath(path, buf)) return snprintf(out, cap, "%s", buf) >= (int)cap ? -1 : 0;
    dir_of(path, dir, sizeof dir);
    if (!realpath(dir, buf)) return -1;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    return snprintf(out, cap, "%s/%s", buf, base) >= (int)cap ? -1 : 0;
}

int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) || stat(b, &sb)) return !strcmp(a, b);
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int check_output(const char *out, const char *opt, const char *const *inputs, int n, int dir_ok,
                 PruneErr *err) {
    struct stat so;
    int exists = stat(out, &so) == 0;
    char ro[PATH_MAX + 256], ri[PATH_MAX + 256];
    int have_ro = resolve(out, ro, sizeof ro) == 0;
    for (int i = 0; i < n; i++) {
        if (!inputs[i]) continue;
        int same = exists && access(inputs[i], F_OK) == 0 && same_file(out, inputs[i]);
        if (!same && have_ro && resolve(inputs[i], ri, sizeof ri) == 0) {
            same = !strcmp(ro, ri);
            // a model folder: the files its loader reads are inputs too
            size_t k = strlen(ri);
            const char *base = ro + k + 1;
            if (path_is_dir(inputs[i]) && !strncmp(ro, ri, k) && ro[k] == '/' && !strchr(base, '/'))
                same = !strcmp(base, "config.json") || !strcmp(base, "vocab.json") || !strcmp(base, "merges.txt") ||
                       !strcmp(base, "model.bin") || str_ends_with(base, ".safetensors") ||
                       str_ends_with(base, ".safetensors.index.json");
        }
        if (same)
            return perr(err, "%s %s: that is also an input or output of this run (%s); writing it would "
                             "destroy it. Hint: give another output path.", opt, out, inputs[i]);
    }
    if (exists && S_ISDIR(so.st_mode) && !dir_ok)
        return perr(err, "%s %s: is a folder; a file is expected. Hint: give a file name, e.g. %s/circuit.json.",
                    opt, out, out);
    if (exists && !S_ISDIR(so.st_mode) && dir_ok)
        return perr(err, "%s %s: is a file; a folder is expected.", opt, out);
    char dir[4096];
    if (dir_ok && exists) snprintf(dir, sizeof dir, "%s", out);
    else dir_of(out, dir, sizeof dir);
    if (!path_is_dir(dir))
        return perr(err, "%s %s: the folder %s does not exist. Hint: create it first (mkdir -p %s).", opt, out,
                    dir, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return perr(err, "%s %s: the folder %s is not writable (%s).", opt, out, dir, strerror(errno));
    return 0;
}

int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    if (n == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) return *cp = c, 1;
    int len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? (c < 0xF0 ? 3 : 0) : c >= 0xC2 ? 2 : 0;
    if (!len || (size_t)len > n) return 0;
    uint32_t v = c & (0x7F >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

int utf8_valid(const char *s, size_t n) {
    uint32_t cp;
    for (size_t i = 0; i < n;) {
        int k = utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (!k) return 0;
        i += (size_t)k;
    }
    return 1;
}

char *utf8_lossy(const char *s, size_t n, size_t *replaced) {
    char *out = malloc(3 * n + 1), *o = out;
    if (!out) return NULL;
    size_t bad = 0;
    uint32_t cp;
    for (size_t i = 0; i < n;) {
        int k = utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (k) {
            memcpy(o, s + i, (size_t)k), o += k, i += (size_t)k;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3), o += 3, i++, bad++;
        }
    }
    *o = 0;
    if (replaced) *replaced = bad;
    return out;
}

json_t *json_string_lossy(const char *s, const char *what) {
    size_t n = strlen(s), bad = 0;
    if (utf8_valid(s, n)) return json_stringn(s, n);
    char *t = utf8_lossy(s, n, &bad);
    json_t *j = t ? json_string(t) : NULL;
    if (j) fprintf(stderr, "prune: note: %s is not valid UTF-8; JSON holds it with %zu byte%s replaced by U+FFFD\n",
                   what, bad, bad == 1 ? "" : "s");
    free(t);
    return j;
}

void xml_escape(FILE *f, const char *s) {
    size_t n = strlen(s);
    uint32_t cp;
    for (size_t i = 0; i < n;) {
        int k = utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (!k) {
            fputs("\xEF\xBF\xBD", f);  // U+FFFD for a byte that is not UTF-8
            i++;
            continue;
        }
        if (cp == '<') fputs("&lt;", f);
        else if (cp == '>') fputs("&gt;", f);
        else if (cp == '&') fputs("&amp;", f);
        else if (cp == '"') fputs("&quot;", f);
        else if (cp == '\'') fputs("&#39;", f);
        else if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0xFFFE || cp == 0xFFFF) {
        }  // not allowed in XML 1.0, not even escaped: dropped
        else fwrite(s + i, 1, (size_t)k, f);
        i += (size_t)k;
    }
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

size_t utf8_bom_len(const char *s, size_t n) {
    return n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3) ? 3 : 0;
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

// Why the wait policy: libgomp's default lets an idle worker spin for up to ~300,000
// iterations before sleeping. On a machine whose cores are busy with other work the
// spinning workers steal the time the working ones need, and a 30-step search took 257 s
// instead of 6 s (docs/performance.md). OMP_WAIT_POLICY=passive makes idle workers sleep at
// once. libgomp reads it only in its constructor, which runs before main (a setenv in
// main, or in a constructor of prune's own, is too late: measured, no effect), so it is
// set here together with OPENBLAS_CORETYPE and the program re-executes itself once.
void prune_fix_blas_coretype(char **argv) {
    if (getenv("PRUNE_BLAS_REEXEC")) return;  // never loop
    int set_wait = !getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT");
    const char *want = NULL;
    static const char *const avx512[] = {"skylakex", "cooperlake", "sapphirerapids", NULL};
    static const char *const avx2[] = {"haswell", "zen", "skylakex", "cooperlake",
                                       "sapphirerapids", NULL};
    const char *core = getenv("OPENBLAS_CORETYPE") ? NULL : openblas_get_corename();
    // __builtin_cpu_supports also checks that the OS saves the wide registers (XCR0).
    if (!core) {
    } else if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
        if (!core_in(core, avx512)) want = "SkylakeX";
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        if (!core_in(core, avx2)) want = "Haswell";
    }
    if (!want && !set_wait) return;
    if (want) setenv("OPENBLAS_CORETYPE", want, 1);
    if (set_wait) setenv("OMP_WAIT_POLICY", "passive", 1);
    setenv("PRUNE_BLAS_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    // exec failed: carry on as we are (slower kernels or spinning workers, same results)
    if (want) unsetenv("OPENBLAS_CORETYPE");
    if (set_wait) unsetenv("OMP_WAIT_POLICY");
}

int progress_due(FILE *f, double *last, double every, int final) {
    if (!f) return 0;
    if (isatty(fileno(f))) return 1;
    double now = now_seconds();
    if (!final && *last > 0 && now - *last < every) return 0;
    if (*last == 0 && !final) {  // the first call starts the clock: a line after `every` s
        *last = now;
        return 0;
    }
    *last = now;
    return 2;
}

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void list_append(char *buf, size_t cap, const char *name) {
    size_t n = strlen(buf);
    if (n < cap) snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", name);
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
