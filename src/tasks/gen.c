// gen.c: task generators (see gen.h, docs/tasks.md). Each draws a candidate example from
// its template with a seeded Rng, checks it with task_parse, and redraws when the
// tokenizer splits something the wrong way (a name into two tokens, a year into one).
#include "gen.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "task.h"

typedef struct {
    char *s;
    size_t n, cap;
} Buf;

static int bprintf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bprintf(Buf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) return -1;
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return 0;
        }
        size_t nc = 2 * (b->cap + (size_t)k) + 256;
        char *p = realloc(b->s, nc);
        if (!p) return -1;
        b->s = p, b->cap = nc;
    }
}

static int pick(Rng *r, int n) { return (int)(rng_u64(r) % (uint64_t)n); }

// Fills an IOI template up to (not including) its final " [A]". names_by_slot, when not
// NULL, gives the name for each [A]/[B] slot in order (the ABC corruption); otherwise
// [A] -> a and [B] -> b.
static void fill_ioi(Buf *o, const char *tpl, const char *a, const char *b,
                     const char *const *names_by_slot, const char *place, const char *object) {
    const char *end = strrchr(tpl, '[');  // the final [A]: the answer
    while (end > tpl && end[-1] == ' ') end--;
    int slot = 0;
    for (const char *p = tpl; p < end;) {
        if (!strncmp(p, "[A]", 3) || !strncmp(p, "[B]", 3)) {
            const char *nm = names_by_slot ? names_by_slot[slot] : (p[1] == 'A' ? a : b);
            bprintf(o, "%s", nm);
            slot++;
            p += 3;
        } else if (!strncmp(p, "[PLACE]", 7)) {
            bprintf(o, "%s", place);
            p += 7;
        } else if (!strncmp(p, "[OBJECT]", 8)) {
            bprintf(o, "%s", object);
            p += 8;
        } else {
            bprintf(o, "%c", *p++);
        }
    }
}

// The ABBA form of a BABA template: the first clause's [B] and [A] swap places.
static void abba_of(const char *baba, char *out, size_t cap) {
    snprintf(out, cap, "%s", baba);
    char *b = strstr(out, "[B]"), *a = strstr(out, "[A]");
    if (a && b && b < a) b[1] = 'A', a[1] = 'B';
}

static void distinct_names(Rng *r, int k, const char **out) {
    for (int i = 0; i < k; i++) {
        int again;
        do {
            out[i] = IOI_NAMES[pick(r, IOI_NAMES_N)];
            again = 0;
            for (int j = 0; j < i; j++) again |= out[j] == out[i];
        } while (again);
    }
}

static void gen_ioi(Buf *o, Rng *r) {
    const char *nm[5];  // A, B, then the three corrupting names
    distinct_names(r, 5, nm);
    char tpl[512];
    const char *baba = IOI_BABA_TEMPLATES[pick(r, IOI_BABA_TEMPLATES_N)];
    if (rng_u64(r) & 1) abba_of(baba, tpl, sizeof tpl);
    else snprintf(tpl, sizeof tpl, "%s", baba);
    const char *place = IOI_PLACES[pick(r, IOI_PLACES_N)], *object = IOI_OBJECTS[pick(r, IOI_OBJECTS_N)];
    fill_ioi(o, tpl, nm[0], nm[1], NULL, place, object);
    bprintf(o, "\t");
    fill_ioi(o, tpl, NULL, NULL, nm + 2, place, object);
    bprintf(o, "\t %s\t %s\n", nm[0], nm[1]);  // correct: the indirect object; wrong: the subject
}

static int same_ids(Tokenizer *tok, const char *whole, const char *p1, const char *p2) {
    IdVec a = {0}, b = {0};
    PruneErr e;
    int ok = !tok_encode_cont(tok, whole, strlen(whole), &a, &e) && !tok_encode_cont(tok, p1, strlen(p1), &b, &e) &&
             !tok_encode_cont(tok, p2, strlen(p2), &b, &e) && a.n == b.n &&
             !memcmp(a.v, b.v, sizeof(int) * a.n);
    idvec_free(&a), idvec_free(&b);
    return ok;
}

static int one_token(Tokenizer *tok, const char *s) {
    IdVec v = {0};
    PruneErr e;
    int ok = !tok_encode_cont(tok, s, strlen(s), &v, &e) && v.n == 1;
    idvec_free(&v);
    return ok;
}

// Hanna et al.: "The {noun} lasted from the year XXYY to the year XX"; corrupted YY -> 01;
// correct: the later two-digit years, wrong: YY and earlier. Returns 0 when the year does
// not tokenise as " XX" + "YY" (then the caller draws again).
static int gen_gt(Buf *o, Rng *r, Tokenizer *tok) {
    const char *noun = GT_NOUNS[pick(r, GT_NOUNS_N)];
    int xx = 11 + pick(r, 7), yy = 2 + pick(r, 97);  // 11..17, 02..98
    char whole[16], p1[8], p2[8];
    snprintf(whole, sizeof whole, " %02d%02d", xx, yy);
    snprintf(p1, sizeof p1, " %02d", xx);
    snprintf(p2, sizeof p2, "%02d", yy);
    if (!same_ids(tok, whole, p1, p2)) return 0;
    snprintf(whole, sizeof whole, " %02d01", xx);
    if (!same_ids(tok, whole, p1, "01")) return 0;
    bprintf(o, "The %s lasted from the year %02d%02d to the year %02d\t", noun, xx, yy, xx);
    bprintf(o, "The %s lasted from the year %02d01 to the year %02d\t", noun, xx, xx);
    for (int y = yy + 1; y <= 99; y++) bprintf(o, "%s%02d", y > yy + 1 ? "|" : "", y);
    bprintf(o, "\t");
    for (int y = 0; y <= yy; y++) bprintf(o, "%s%02d", y ? "|" : "", y);
    bprintf(o, "\n");
    return 1;
}

static void gen_gp(Buf *o, Rng *r) {
    const char *tpl = GP_TEMPLATES[pick(r, GP_TEMPLATES_N)];
    int female = (int)(rng_u64(r) & 1);
    const char *name = female ? GP_FEMALE[pick(r, GP_FEMALE_N)] : GP_MALE[pick(r, GP_MALE_N)];
    const char *other = female ? GP_MALE[pick(r, GP_MALE_N)] : GP_FEMALE[pick(r, GP_FEMALE_N)];
    const char *slot = strstr(tpl, "{name}");
    int pre = (int)(slot - tpl);
    bprintf(o, "%.*s%s%s\t%.*s%s%s\t%s\t%s\n", pre, tpl, name, slot + 6, pre, tpl, other, slot + 6,
            female ? " she" : " he", female ? " he" : " she");
}

// Induction: prefix, a segment S, filler, then S again up to S[j]; the answer is S[j+1],
// the token that followed S[j] the first time. The corruption replaces the first S by
// other words, so the copy has nothing to copy from. Words are single tokens " word".
static void gen_induction(Buf *o, Rng *r, const char *const *pool, int npool, int ids) {
    enum { PRE = 3, SEG = 5, FILL = 3 };
    int seg[SEG], used[PRE + SEG + FILL + SEG + 2], nu = 0;
    for (int i = 0; i < SEG + PRE + FILL + SEG + 1; i++) {  // distinct words throughout
        int w, again;
        do {
            w = pick(r, npool);
            again = 0;
            for (int k = 0; k < nu; k++) again |= used[k] == w;
        } while (again);
        used[nu++] = w;
    }
    for (int i = 0; i < SEG; i++) seg[i] = used[i];
    const int *pre = used + SEG, *fill = used + SEG + PRE, *repl = used + SEG + PRE + FILL;
    int foil = used[SEG + PRE + FILL + SEG];
    int j = 1 + pick(r, SEG - 2);  // the repeat shows S[0..j], the answer is S[j+1]
    for (int pass = 0; pass < 2; pass++) {
        if (ids) bprintf(o, "ids:");  // the pool holds ids: " 12" after "ids:" reads as ids
        for (int i = 0; i < PRE; i++) bprintf(o, " %s", pool[pre[i]]);
        for (int i = 0; i < SEG; i++) bprintf(o, " %s", pool[pass ? repl[i] : seg[i]]);
        for (int i = 0; i < FILL; i++) bprintf(o, " %s", pool[fill[i]]);
        for (int i = 0; i <= j; i++) bprintf(o, " %s", pool[seg[i]]);
        bprintf(o, "\t");
    }
    if (ids) bprintf(o, "ids:%s\tids:%s\n", pool[seg[j + 1]], pool[foil]);
    else bprintf(o, " %s\t %s\n", pool[seg[j + 1]], pool[foil]);
}

// Words that are one token with a leading space (after earlier text: SentencePiece's "▁word"),
// for the induction generator.
static int single_token_pool(Tokenizer *tok, const char ***out) {
    const char *const *lists[4] = {IOI_NAMES, IOI_PLACES, IOI_OBJECTS, GT_NOUNS};
    const int ns[4] = {IOI_NAMES_N, IOI_PLACES_N, IOI_OBJECTS_N, GT_NOUNS_N};
    const char **pool = malloc(sizeof(char *) * (size_t)(ns[0] + ns[1] + ns[2] + ns[3]));
    int n = 0;
    for (int l = 0; pool && l < 4; l++)
        for (int i = 0; i < ns[l]; i++) {
            char w[64];
            snprintf(w, sizeof w, " %s", lists[l][i]);
            IdVec v = {0};
            PruneErr e;
            if (!tok_encode_cont(tok, w, strlen(w), &v, &e) && v.n == 1) pool[n++] = lists[l][i];
            idvec_free(&v);
        }
    *out = pool;
    return n;
}

int gen_task(const char *kind, int n, uint64_t seed, Tokenizer *tok, int max_len, char **out,
             size_t *out_len, PruneErr *err) {
    int k = !strcmp(kind, "ioi") ? 0 : !strcmp(kind, "gt") ? 1 : !strcmp(kind, "gp") ? 2
          : !strcmp(kind, "induction") ? 3 : -1;
    if (k < 0)
        return perr(err, "unknown task kind '%s'. Hint: ioi, gt, gp or induction.", kind);
    if (n < 1) return perr(err, "--n %d: at least one example.", n);
    static const char *headers[4] = {
        "# task=ioi metric=logit_diff generator=prune gen ioi (Wang et al. 2022 names and "
        "templates, BABA and ABBA; ABC corruption)",
        "# task=gt metric=prob_diff generator=prune gen gt (Hanna et al. 2023 template; YY -> 01 "
        "corruption)",
        "# task=gp metric=logit_diff generator=prune gen gp (Edge Pruning templates; the name "
        "swapped for one of the other gender)",
        "# task=induction metric=logit_diff generator=prune gen induction (repeated segment of "
        "single-token words; first occurrence replaced)"};
    static const char *ids_header = "# task=induction metric=logit_diff generator=prune gen induction (repeated "
                                    "segment of random token ids: the model has no tokenizer; first occurrence "
                                    "replaced)";
    Buf o = {0}, line = {0};
    const char **pool = NULL;
    char (*idpool)[12] = NULL;
    int npool = 0;
    if (tok->ids_only && k != 3)
        return perr(err, "'prune gen %s' writes text, but the model has no usable tokenizer (%s). Hint: "
                         "'prune gen induction --model M' writes a token-id task for such a model.", kind, tok->source);
    if (k == 3 && tok->ids_only) {
        // Random in-vocabulary tokens. The lowest ids are skipped (a tenth of the vocabulary, at
        // least 3): byte, <unk>, <s> and </s> tokens sit there in SentencePiece-style and
        // GPT-2-style vocabularies, and a bare id cannot tell them apart.
        int lo = tok->n_vocab / 10 > 3 ? tok->n_vocab / 10 : 3;
        npool = tok->n_vocab - lo;
        if (npool < 20) return perr(err, "a vocabulary of %d tokens is too small for induction sequences.", tok->n_vocab);
        idpool = malloc(sizeof *idpool * (size_t)npool);
        pool = malloc(sizeof(char *) * (size_t)npool);
        if (!idpool || !pool) {
            free(idpool), free(pool);
            return perr(err, "out of memory generating a task.");
        }
        for (int i = 0; i < npool; i++) {
            snprintf(idpool[i], sizeof idpool[i], "%d", lo + i);
            pool[i] = idpool[i];
        }
    } else if (k == 3 && (npool = single_token_pool(tok, &pool)) < 20) {
        free(pool);
        return perr(err, "%s: fewer than 20 of the generator's words are single tokens with a "
                         "leading space, too few for induction sequences.", tok->source);
    }
    if (k == 1 && ((!same_ids(tok, " 1732", " 17", "32") && !same_ids(tok, " 1650", " 16", "50")) ||
                   !one_token(tok, "32"))) {
        IdVec v = {0};
        PruneErr e;
        char d[512] = "";
        size_t dk = 0;
        if (!tok_encode_cont(tok, " 1732", 5, &v, &e))
            for (size_t i = 0; i < v.n && dk + 40 < sizeof d; i++) {
                char r[64];
                tok_repr(tok, v.v[i], r, sizeof r);
                dk += (size_t)snprintf(d + dk, sizeof d - dk, "%s%s", i ? " + " : "", r);
            }
        idvec_free(&v);
        return perr(err, "%s writes the year \" 1732\" as %s, not \" 17\" + \"32\" (two tokens, the second one token on its own): the greater-than task "
                         "(Hanna et al.) scores two-digit year tokens, which this tokenizer does not have. Hint: "
                         "use a GPT-2-style vocabulary for gt.", tok->source, d);
    }
    bprintf(&o, "%s seed=%llu n=%d\n", tok->ids_only ? ids_header : headers[k], (unsigned long long)seed, n);
    bprintf(&o, "# clean_prompt<TAB>corrupted_prompt<TAB>correct(|-separated)<TAB>wrong(|-separated)\n");
    Rng r;
    rng_seed(&r, seed);
    TaskOptions opt = {.max_len = max_len, .skip_invalid = 0, .allow_no_corrupt = 0, .warn = NULL};
    int made = 0, tries = 0, rc = -1;
    while (made < n) {
        if (++tries > 100 * n + 1000) {
            perr(err, "could not generate valid '%s' examples for %s (%d of %d after %d tries). "
                      "Hint: the vocabulary splits the generator's words differently.",
                 kind, tok->source, made, n, tries);
            goto done;
        }
        line.n = 0;
        int ok = 1;
        if (k == 0) gen_ioi(&line, &r);
        else if (k == 1) ok = gen_gt(&line, &r, tok);
        else if (k == 2) gen_gp(&line, &r);
        else gen_induction(&line, &r, pool, npool, tok->ids_only);
        if (!ok || !line.s) continue;
        Task t;
        PruneErr e;
        if (task_parse(&t, line.s, line.n, "generated", tok, &opt, &e)) continue;
        task_free(&t);
        bprintf(&o, "%.*s", (int)line.n, line.s);
        made++;
    }
    if (!o.s) {
        perr(err, "out of memory generating a task.");
        goto done;
    }
    *out = o.s;
    *out_len = o.n;
    o.s = NULL;
    rc = 0;
done:
    free(o.s), free(line.s), free(pool), free(idpool);
    return rc;
}

// Training text for the induction model: random words from the names, places and objects,
// with one segment repeated. Nothing but the repeat is predictable (the words are uniform
// and independent), so the only way to lower the loss below log(pool size) is to copy:
// exactly the pressure that makes previous-token and induction heads form.
static const char *induction_word(int k) {
    return k < IOI_NAMES_N ? IOI_NAMES[k]
         : k < IOI_NAMES_N + IOI_PLACES_N ? IOI_PLACES[k - IOI_NAMES_N]
         : IOI_OBJECTS[k - IOI_NAMES_N - IOI_PLACES_N];
}

// Half the lines are a run of 6..14 words said twice (Olsson et al.'s repeated random
// sequences, with a varying period so no fixed positional offset can stand in for
// induction), half the task's shape: a few words, a segment, a few words, the segment again.
static void corpus_induction(Buf *o, Rng *r) {
    const int npool = IOI_NAMES_N + IOI_PLACES_N + IOI_OBJECTS_N;
    int pre, seg, fill, w[14];
    if (rng_u64(r) & 1) pre = 0, seg = 6 + pick(r, 9), fill = 0;
    else pre = pick(r, 4), seg = 3 + pick(r, 6), fill = pick(r, 4);
    for (int i = 0; i < pre + seg + fill; i++) {
        int k = pick(r, npool);
        if (i >= pre && i < pre + seg) w[i - pre] = k;
        bprintf(o, " %s", induction_word(k));  // a leading space, as in the task prompts
    }
    for (int j = 0; j < seg; j++) bprintf(o, " %s", induction_word(w[j]));
    bprintf(o, "\n");
}

// Greater-than training text: the Hanna et al. sentence completed with a later year of the
// same century, uniformly among YY+1..99, so the best prediction is "any year after YY".
// YY runs over 00..98 (the task's 02..98 plus the corruption's 01) so every two-digit
// answer is a token the model has seen.
static void corpus_gt(Buf *o, Rng *r) {
    const char *noun = GT_NOUNS[pick(r, GT_NOUNS_N)];
    int xx = 11 + pick(r, 7), yy = pick(r, 99), zz = yy + 1 + pick(r, 99 - yy);
    bprintf(o, "The %s lasted from the year %02d%02d to the year %02d%02d.\n", noun, xx, yy, xx, zz);
}

int gen_corpus(const char *kind, int n, uint64_t seed, char **out, size_t *out_len, PruneErr *err) {
    int k = !strcmp(kind, "ioi") ? 0 : !strcmp(kind, "gt") ? 1 : !strcmp(kind, "gp") ? 2
          : !strcmp(kind, "induction") ? 3 : -1;
    if (k < 0) return perr(err, "unknown task kind '%s'. Hint: ioi, gt, gp or induction.", kind);
    if (n < 1) return perr(err, "--n %d: at least one line.", n);
    Buf o = {0}, line = {0};
    Rng r;
    rng_seed(&r, seed ^ 0x636f72707573ull);  // "corpus": not the task's stream
    for (int i = 0; i < n; i++) {
        if (k == 1) {
            corpus_gt(&o, &r);
            continue;
        }
        if (k == 3) {
            corpus_induction(&o, &r);
            continue;
        }
        line.n = 0;
        if (k == 0) gen_ioi(&line, &r);
        else gen_gp(&line, &r);
        // clean<TAB>corrupted<TAB>correct<TAB>wrong -> clean + correct + "."
        char *t1 = memchr(line.s, '\t', line.n), *t2 = t1 ? memchr(t1 + 1, '\t', line.n - (size_t)(t1 + 1 - line.s)) : NULL;
        char *t3 = t2 ? memchr(t2 + 1, '\t', line.n - (size_t)(t2 + 1 - line.s)) : NULL;
        CHECK(t1 && t2 && t3);
        bprintf(&o, "%.*s%.*s.\n", (int)(t1 - line.s), line.s, (int)(t3 - t2 - 1), t2 + 1);
    }
    free(line.s);
    if (!o.s) return perr(err, "out of memory generating a corpus.");
    *out = o.s;
    *out_len = o.n;
    return 0;
}
