// common.h: error reporting, always-on invariant checks, checked file helpers,
// thread set-up and timing. Library code reports bad input through PruneErr and a
// non-zero return; it never calls exit(). CHECK is for internal invariants only
// (a failed CHECK is a bug in prune, not in the user's input).
#ifndef PRUNE_COMMON_H
#define PRUNE_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

// The message a failed call leaves for the user: which file, which field or line,
// what was expected, what was found, and a hint.
typedef struct {
    char msg[2048];
} PruneErr;

// Formats msg into err (if err is not NULL) and returns -1, so callers can write
// `return perr(err, "...", ...);`.
int perr(PruneErr *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Always-on check for invariants of prune itself (not compiled out by NDEBUG).
#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) prune_check_failed(#cond, __FILE__, __LINE__);                      \
    } while (0)
void prune_check_failed(const char *cond, const char *file, int line) __attribute__((noreturn));

// Allocation that fails loudly with the size asked for; it returns NULL and fills err.
void *palloc(size_t bytes, const char *what, PruneErr *err);
// Zeroed variant.
void *pcalloc(size_t bytes, const char *what, PruneErr *err);

// Reads a whole file into a NUL-terminated buffer (the NUL is not counted in *len). Both
// readers refuse anything but a regular file (a FIFO, a device, a folder) without blocking.
int read_file(const char *path, char **out, size_t *len, PruneErr *err);
// Memory-maps a file read-only (writable=1 gives a private copy-on-write mapping). If the
// file is truncated while mapped, an access to the lost pages ends prune with a message
// naming the file on stderr (SIGBUS), or, inside map_guarded_call, an error.
int map_file(const char *path, int writable, void **out, size_t *len, PruneErr *err);
void unmap_file(void *p, size_t len);
// Runs fn(ctx, err) with a SIGBUS on any mapped file turned into an error naming path (the
// loaders' single-threaded passes over a mapping). Returns fn's result, or -1.
int map_guarded_call(int (*fn)(void *ctx, PruneErr *err), void *ctx, const char *path,
                     PruneErr *err);

// Atomic output: write to "<path>.tmp.<pid>.<random>", created exclusively (a file or
// symlink already at that name is never opened), then rename over path. On any failure
// the temporary file is removed and path is left as it was.
typedef struct {
    FILE *f;
    char path[4096];
    char tmp[4200];
    int failed;
} AtomicFile;
int atomic_open(AtomicFile *af, const char *path, PruneErr *err);
int atomic_write(AtomicFile *af, const void *data, size_t bytes, PruneErr *err);
int atomic_commit(AtomicFile *af, PruneErr *err);  // fsync, close, rename
// The two halves of atomic_commit, for files that belong together (a vocabulary's
// vocab.json and merges.txt, a trained model's three files): finish every one (flush,
// fsync, close; on failure the temporary is removed), and rename them only once all are
// finished, back to back. A crash between two of those renames is the only moment the set
// can be mixed (docs/reliability.md); a disk that fills up changes nothing.
int atomic_finish(AtomicFile *af, PruneErr *err);
int atomic_rename(AtomicFile *af, PruneErr *err);
// Finishes all n files, then renames all of them; on a failure before the first rename
// every temporary is removed and no path changes.
int atomic_commit_all(AtomicFile *af, int n, PruneErr *err);
void atomic_abort(AtomicFile *af);                 // close and remove the temporary
// The whole of data to path, atomically (open, write, commit; abort on any failure).
int write_file_atomic(const char *path, const void *data, size_t bytes, PruneErr *err);

// Threads: sets both OpenMP and OpenBLAS (which shares the OpenMP pool in Debian's
// libopenblas-openmp build) once, at start-up, outside any parallel region.
void prune_set_threads(int n);
// Bytes this process may still allocate: MemAvailable, or the cgroup's limit minus its use
// when that is smaller; 0 when neither can be read.
size_t prune_memory_available(void);
int prune_get_threads(void);

// OpenBLAS picks its kernels from the CPU model at load time; under some hypervisors it
// falls back to "Prescott" (SSE3) on AVX-512 machines and sgemm runs ~6x slower. When
// OPENBLAS_CORETYPE is unset and the detected core is weaker than the CPU's own feature
// flags allow, this sets OPENBLAS_CORETYPE and re-executes the program once (the variable
// is read only when the library loads). Returns normally when nothing needs fixing or
// the re-exec is not possible. A user's own OPENBLAS_CORETYPE is always left alone.
// The same re-exec sets OMP_WAIT_POLICY=passive unless OMP_WAIT_POLICY or GOMP_SPINCOUNT
// is set: spinning OpenMP workers collapse under load (libgomp reads the variable only at
// start-up, before main). Call it first thing in main.
void prune_fix_blas_coretype(char **argv);
// The core OpenBLAS is using, e.g. "SkylakeX".
const char *prune_blas_core(void);

// Small path and string predicates shared by the loaders.
int path_is_dir(const char *p);
// 1 when both paths name one existing file (same device and inode); when either does not
// exist, when the two strings are equal.
int same_file(const char *a, const char *b);
int path_is_file(const char *p);
int str_ends_with(const char *s, const char *suffix);
// 3 if s[0..n) starts with a UTF-8 byte-order mark (EF BB BF), else 0: text readers skip it.
size_t utf8_bom_len(const char *s, size_t n);

// Outputs are checked before a run starts: `out` (the value of option `opt`) must not be
// one of the n inputs (the same file by device and inode, or the same path once resolved,
// for an output that does not exist yet), must not be a folder, and its folder must exist
// and be writable. dir_ok: `out` names a folder (created if missing; its parent is checked).
int check_output(const char *out, const char *opt, const char *const *inputs, int n, int dir_ok,
                 PruneErr *err);

// UTF-8. utf8_decode reads one code point of s[0..n): its length, or 0 when the bytes are
// not a valid encoding (overlong, a surrogate, above U+10FFFF, cut short).
int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
int utf8_valid(const char *s, size_t n);
// A copy of s (malloc'd) with every byte that is not valid UTF-8 replaced by U+FFFD;
// *replaced gets how many. NULL when out of memory.
char *utf8_lossy(const char *s, size_t n, size_t *replaced);
// The one way prune puts a text into JSON: a JSON string of s, valid UTF-8 whatever s holds
// (jansson refuses invalid strings, and a NULL member silently drops the field): bytes that
// are not UTF-8 become U+FFFD, with a note on stderr naming `what`.
struct json_t;
struct json_t *json_string_lossy(const char *s, const char *what);
// The one way prune puts a text into HTML or SVG: <, >, &, " and ' escaped; characters
// XML 1.0 forbids dropped (controls other than tab, LF, CR; U+FFFE, U+FFFF) and bytes
// that are not valid UTF-8 (lone surrogates included) written as U+FFFD.
void xml_escape(FILE *f, const char *s);

double now_seconds(void);
// Throttles a progress stream. On a terminal every update is shown (each rewrites the line
// with '\r'): returns 1. On a file or pipe (a log, CI) one full line at most every `every`
// seconds, and the final one: returns 2 when a line ending in '\n' is due, else 0. *last is
// the caller's clock, 0 to start.
int progress_due(FILE *f, double *last, double every, int final);

// Parses a whole decimal integer in [lo, hi]; returns -1 on anything else.
// Appends name to the ", "-separated list in buf (cap bytes, NUL-terminated; cut at cap).
void list_append(char *buf, size_t cap, const char *name);
int parse_int(const char *s, long lo, long hi, long *out);

#endif
