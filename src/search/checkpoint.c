// checkpoint.c: the search's state on disk, so a long run survives being stopped.
// A checkpoint holds everything pruner_train carries from one step to the next: the step,
// log_alpha, Adam's moments, the multipliers, the KL-budget controller's moving average
// and the best circuit seen. Gate samples and batch order are functions of (seed, step)
// (optim.c), so restoring this state and going on gives the same bytes as never stopping.
// A fingerprint of the model, the task split and the settings refuses a checkpoint from a
// different run. Layout (little-endian, as written by this machine):
//   "PRUNECK1", u32 version, u64 fingerprint, i32 step, i32 best_step, i64 best_kept,
//   f64 kl_ema, f64 lambda[8], f64 best_lambda, f64 dual_scale, u64 total,
//   f32 log_alpha/adam_m/adam_v/best_la[total], u64 FNV-1a of every byte before it.
// Version 2 added best_lambda and dual_scale (the KL-budget controller's backtracking).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

#define CK_MAGIC "PRUNECK1"
#define CK_VERSION 2u
#define CK_HEAD (8 + 4 + 8 + 4 + 4 + 8 + 8 + 8 * NUM_GRAN + 16 + 8)

static uint64_t fnv(uint64_t h, const void *data, size_t n) {
    const unsigned char *s = data;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001B3ull;
    return h;
}
#define FNV0 0xCBF29CE484222325ull

uint64_t pruner_fingerprint(const Pruner *p, const Task *train) {
    const GPT2Config *c = &p->m->config;
    const PruneConfig *g = &p->cfg;
    uint64_t h = fnv(FNV0, c, sizeof *c);
    ParamSpec spec[NUM_PARAM_TENSORS];  // the tensors' names and shapes, from the one table
    gpt2_param_table(spec, c);
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        size_t shape[3] = {spec[i].rows, spec[i].cols, (size_t)spec[i].per_layer};
        h = fnv(fnv(h, spec[i].name, strlen(spec[i].name)), shape, sizeof shape);
    }
    // every 4099th weight: catches a different checkpoint without reading all of a big one
    for (size_t i = 0; i < p->m->num_parameters; i += 4099) h = fnv(h, p->m->params_memory + i, 4);
    // the settings whole (PruneConfig has no padding before run: see prune.h); p->cfg.chunk
    // is the chunk the pruner was built with
    h = fnv(h, g, offsetof(PruneConfig, run));
    h = fnv(h, &train->n, sizeof train->n);
    // every train example whole: clean and corrupted prompts and the answers
    for (int i = 0; i < train->n; i++) {
        const TaskExample *e = &train->ex[i];
        int has_corrupt = e->corrupt != NULL;
        int head[] = {e->len, has_corrupt, e->n_correct, e->n_wrong};
        h = fnv(h, head, sizeof head);
        h = fnv(h, e->clean, sizeof(int) * (size_t)e->len);
        if (has_corrupt) h = fnv(h, e->corrupt, sizeof(int) * (size_t)e->len);
        h = fnv(h, e->correct, sizeof(int) * (size_t)e->n_correct);
        if (e->n_wrong) h = fnv(h, e->wrong, sizeof(int) * (size_t)e->n_wrong);
    }
    return h;
}

int checkpoint_parse(const void *buf, size_t len, size_t total, const char *path, CheckpointHead *out,
                     PruneErr *err) {
    const unsigned char *b = buf;
    if (len < CK_HEAD + 8 || memcmp(b, CK_MAGIC, 8))
        return perr(err, "%s: not a prune checkpoint (no PRUNECK1 header). Hint: --resume takes the "
                         "file a run wrote with --checkpoint.", path);
    uint32_t ver;
    memcpy(&ver, b + 8, 4);
    if (ver != CK_VERSION)
        return perr(err, "%s: checkpoint version %u, this prune reads version %u.", path, ver, CK_VERSION);
    size_t o = 12;
    memcpy(&out->fingerprint, b + o, 8), o += 8;
    memcpy(&out->step, b + o, 4), o += 4;
    memcpy(&out->best_step, b + o, 4), o += 4;
    memcpy(&out->best_kept, b + o, 8), o += 8;
    memcpy(&out->kl_ema, b + o, 8), o += 8;
    memcpy(out->lambda, b + o, 8 * NUM_GRAN), o += 8 * NUM_GRAN;
    memcpy(&out->best_lambda, b + o, 8), o += 8;
    memcpy(&out->dual_scale, b + o, 8), o += 8;
    uint64_t n;
    memcpy(&n, b + o, 8), o += 8;
    if (n != total)
        return perr(err, "%s: field total: the checkpoint has %llu gates, this run has %zu. Hint: it "
                         "belongs to another model or granularity setting.", path, (unsigned long long)n, total);
    if (len != CK_HEAD + 16 * total + 8)
        return perr(err, "%s: %zu bytes, expected %zu for %zu gates (truncated or damaged).", path, len,
                    (size_t)(CK_HEAD + 16 * total + 8), total);
    uint64_t sum;
    memcpy(&sum, b + len - 8, 8);
    if (fnv(FNV0, b, len - 8) != sum)
        return perr(err, "%s: checksum mismatch (the file is damaged).", path);
    if (out->step < 0 || out->best_kept < -1 || out->best_step < 0 || out->best_step > out->step)
        return perr(err, "%s: field step/best_step: inconsistent values %d/%d.", path, out->step, out->best_step);
    out->arrays = b + o;
    // A state that is not finite would resume into NaN masks and a meaningless circuit: a
    // checkpoint written after a bad step, or damaged in a way the checksum was recomputed for.
    if (!isfinite(out->kl_ema))
        return perr(err, "%s: field kl_ema is %g, not a finite number. Hint: the checkpoint holds a "
                         "broken search state; start the search again without --resume.", path,
                    out->kl_ema);
    if (!isfinite(out->best_lambda) || !(out->dual_scale > 0 && out->dual_scale <= 1))
        return perr(err, "%s: field best_lambda/dual_scale is %g/%g, expected a finite number and a factor in "
                         "(0, 1]. Hint: the checkpoint holds a broken search state; start again without --resume.",
                    path, out->best_lambda, out->dual_scale);
    for (int g = 0; g < NUM_GRAN; g++)
        if (!isfinite(out->lambda[g]))
            return perr(err, "%s: field lambda[%d] is %g, not a finite number. Hint: the checkpoint "
                             "holds a broken search state; start again without --resume.", path, g,
                        out->lambda[g]);
    static const char *const names[4] = {"log_alpha", "adam_m", "adam_v", "best_log_alpha"};
    int arrays = out->best_kept >= 0 ? 4 : 3;  // no best circuit yet: that array is unused
    for (int k = 0; k < arrays; k++)
        for (size_t i = 0; i < total; i++) {
            float v;
            memcpy(&v, out->arrays + 4 * (total * (size_t)k + i), 4);
            if (!isfinite(v) || (k == 2 && v < 0))
                return perr(err, "%s: field %s[%zu] is %g, expected a finite number%s. Hint: the "
                                 "checkpoint holds a broken search state; start again without "
                                 "--resume.", path, names[k], i, v, k == 2 ? " >= 0" : "");
        }
    return 0;
}

int pruner_save(const Pruner *p, const Task *train, const char *path, PruneErr *err) {
    size_t total = p->masks.total, len = CK_HEAD + 16 * total + 8;
    unsigned char *b = palloc(len, "checkpoint", err);
    if (!b) return -1;
    uint32_t ver = CK_VERSION;
    uint64_t fp = pruner_fingerprint(p, train), n = total;
    int64_t best_kept = p->best_kept;
    size_t o = 0;
    memcpy(b, CK_MAGIC, 8), o = 8;
    memcpy(b + o, &ver, 4), o += 4;
    memcpy(b + o, &fp, 8), o += 8;
    memcpy(b + o, &p->step, 4), o += 4;
    memcpy(b + o, &p->best_step, 4), o += 4;
    memcpy(b + o, &best_kept, 8), o += 8;
    memcpy(b + o, &p->kl_ema, 8), o += 8;
    memcpy(b + o, p->lambda, 8 * NUM_GRAN), o += 8 * NUM_GRAN;
    memcpy(b + o, &p->best_lambda, 8), o += 8;
    memcpy(b + o, &p->dual_scale, 8), o += 8;
    memcpy(b + o, &n, 8), o += 8;
    const float *arr[4] = {p->masks.log_alpha, p->masks.adam_m, p->masks.adam_v, p->best_la};
    for (int k = 0; k < 4; k++) memcpy(b + o, arr[k], 4 * total), o += 4 * total;
    uint64_t sum = fnv(FNV0, b, o);
    memcpy(b + o, &sum, 8);
    int rc = write_file_atomic(path, b, len, err);
    free(b);
    return rc;
}

int pruner_resume(Pruner *p, const Task *train, const char *path, PruneErr *err) {
    char *buf;
    size_t len;
    if (read_file(path, &buf, &len, err)) return -1;
    CheckpointHead h;
    int rc = checkpoint_parse(buf, len, p->masks.total, path, &h, err);
    if (!rc && h.fingerprint != pruner_fingerprint(p, train))
        rc = perr(err, "%s: written by a run with another model, task split or settings. Hint: resume "
                       "with the same MODEL, TASK and options (--steps, --seed, --batch, ...).", path);
    if (!rc && h.step > p->cfg.steps)
        rc = perr(err, "%s: at step %d, past --steps %d.", path, h.step, p->cfg.steps);
    if (!rc) {
        size_t total = p->masks.total;
        float *arr[4] = {p->masks.log_alpha, p->masks.adam_m, p->masks.adam_v, p->best_la};
        for (int k = 0; k < 4; k++) memcpy(arr[k], h.arrays + 4 * total * (size_t)k, 4 * total);
        p->step = h.step, p->best_step = h.best_step, p->best_kept = (long)h.best_kept;
        p->kl_ema = h.kl_ema;
        memcpy(p->lambda, h.lambda, sizeof p->lambda);
        p->best_lambda = h.best_lambda, p->dual_scale = h.dual_scale;
    }
    free(buf);
    return rc;
}
