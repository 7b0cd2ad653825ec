// task.c: task files -> tokenised, validated examples (see task.h and docs/tasks.md).
// Every check names the file and line; without skip_invalid all invalid lines are listed
// on the warning stream and the load fails, with them it drops and counts them.
#include "task.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

size_t task_unescape(char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n &&
            (s[i + 1] == 't' || s[i + 1] == 'n' || s[i + 1] == '\\' || s[i + 1] == '|')) {
            char c = s[++i];
            s[k++] = c == 't' ? '\t' : c == 'n' ? '\n' : c;
        } else {
            s[k++] = s[i];  // any other backslash is literal text
        }
    }
    return k;
}

// --- building the example list --------------------------------------------------------

typedef struct {
    int line, len, n_correct, n_wrong, has_corrupt;
    size_t clean, corrupt, correct, wrong;  // offsets into ids
    int part;                               // TASK_PART_*
} ExOff;

typedef struct {
    const char *path;
    Tokenizer *tok;
    const TaskOptions *opt;
    ExOff *ex;
    int n, cap, invalid, max_len;
    IdVec ids;
    char first_error[1536];
    char prompt_end;  // the clean prompt's last byte, for the leading-space check
    int space_line;   // the last line warned about a missing leading space
    int space_warned; // lines warned about it
    int part;         // the current line's "split" (JSONL), TASK_PART_*
} Builder;

#define SPACE_WARN_MAX 5  // lines listed; the rest are counted

// An answer is scored as the token that follows the prompt. GPT-2's tokens carry the space
// before a word (" Mary"), so "Mary" after a prompt ending in a word or punctuation is the
// token that would continue that word ("toMary"), almost never what was meant. Warned, not
// refused: some tasks do continue a word or number (the greater-than task's "17" + "33").
static void check_leading_space(Builder *b, int line, const char *what, const char *alt, size_t al) {
    unsigned char end = (unsigned char)b->prompt_end, first = al ? (unsigned char)alt[0] : 0;
    int end_joins = end > ' ' && !strchr("([{<\"'`-/_@#$", end);
    int starts_word = (first >= 'A' && first <= 'Z') || (first >= 'a' && first <= 'z') || first >= 0xC0;
    if (!end_joins || !starts_word || b->space_line == line) return;
    b->space_line = line;
    if (++b->space_warned <= SPACE_WARN_MAX && b->opt->warn)
        fprintf(b->opt->warn, "prune: warning: %s:%d: the %s answer \"%.*s\" has no leading space and "
                              "the prompt ends in '%c', so it is scored as the token that continues "
                              "the prompt's last word, not as a new word. Hint: write \" %.*s\".\n",
                b->path, line, what, (int)(al < 60 ? al : 60), alt, end >= 0x80 ? '?' : end,
                (int)(al < 60 ? al : 60), alt);
}

// Records an invalid line: printed to the warning stream, the first one kept for err.
static void invalid(Builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void invalid(Builder *b, const char *fmt, ...) {
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!b->invalid) snprintf(b->first_error, sizeof b->first_error, "%s", msg);
    b->invalid++;
    if (b->opt->warn)
        fprintf(b->opt->warn, "prune: %s: %s%s\n", b->opt->skip_invalid ? "warning" : "error", msg,
                b->opt->skip_invalid ? " (line dropped)" : "");
}

// "[464 \"The\", 2068 \" quick\"]" for messages
static void describe_ids(const Tokenizer *tok, const int *ids, size_t n, char *out, size_t cap) {
    size_t k = (size_t)snprintf(out, cap, "[");
    for (size_t i = 0; i < n && k + 40 < cap; i++) {
        char r[200];
        tok_repr(tok, ids[i], r, sizeof r);
        k += (size_t)snprintf(out + k, cap - k, "%s%d %s", i ? ", " : "", ids[i], r);
    }
    if (k + 2 < cap) snprintf(out + k, cap - k, "]");
}

static int encode(Builder *b, const char *s, size_t n, IdVec *v, PruneErr *err) {
    v->n = 0;
    return tok_encode(b->tok, s, n, v, err);
}

// Answers: the '|'-separated alternatives of field f (escapes still in place) -> ids
// appended to b->ids. Returns the count, or -1 (invalid line, already recorded) or -2
// (a hard error in err).
static int add_answers(Builder *b, int line, const char *what, char *f, size_t n, PruneErr *err) {
    int count = 0;
    IdVec v = {0};
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && f[i] == '\\' && i + 1 < n) {
            i++;  // an escaped character, \| included, is part of the alternative
            continue;
        }
        if (i < n && f[i] != '|') continue;
        char *alt = f + start;
        size_t al = task_unescape(alt, i - start);
        start = i + 1;
        if (al) check_leading_space(b, line, what, alt, al);
        if (al == 0) {
            invalid(b, "%s:%d: empty alternative in the %s answers. Hint: alternatives are "
                       "separated by '|', e.g. \" he| she\"; a literal '|' is written \\|.",
                    b->path, line, what);
            idvec_free(&v);
            return -1;
        }
        if (encode(b, alt, al, &v, err)) {
            idvec_free(&v);
            return -2;
        }
        if (v.n != 1) {
            char d[1024];
            describe_ids(b->tok, v.v, v.n, d, sizeof d);
            invalid(b, "%s:%d: %s answer \"%.*s\" is %zu tokens %s; an answer must be exactly one "
                       "token. Hint: answers keep their leading space (\" Mary\"), and names "
                       "that split into several tokens cannot be answers.",
                    b->path, line, what, (int)(al < 80 ? al : 80), alt, v.n, d);
            idvec_free(&v);
            return -1;
        }
        if (idvec_push(&b->ids, v.v[0])) {
            idvec_free(&v);
            perr(err, "out of memory reading %s.", b->path);
            return -2;
        }
        count++;
    }
    idvec_free(&v);
    return count;
}

// One example from its fields (answers still escaped; prompts already unescaped).
// Returns 0 (added or recorded as invalid) or -1 on a hard error.
static int add_example(Builder *b, int line, const char *clean, size_t cl, const char *corrupt,
                       size_t crl, int has_corrupt, char *correct, size_t col, char *wrong,
                       size_t wl, PruneErr *err) {
    if (cl == 0) {
        invalid(b, "%s:%d: the clean prompt is empty.", b->path, line);
        return 0;
    }
    if (!has_corrupt && !b->opt->allow_no_corrupt) {
        invalid(b, "%s:%d: the corrupted prompt is \"-\", which only --ablation mean or zero "
                   "accepts. Hint: give a corrupted prompt for the default corrupted ablation.",
                b->path, line);
        return 0;
    }
    if (has_corrupt && crl == 0) {
        invalid(b, "%s:%d: the corrupted prompt is empty. Hint: write \"-\" for none (mean or "
                   "zero ablation).", b->path, line);
        return 0;
    }
    size_t mark = b->ids.n;
    b->prompt_end = clean[cl - 1];
    IdVec a = {0}, c = {0};
    int rc = 0;
    if (encode(b, clean, cl, &a, err) || (has_corrupt && encode(b, corrupt, crl, &c, err))) {
        rc = -1;
        goto out;
    }
    if ((int)a.n > b->opt->max_len) {
        invalid(b, "%s:%d: the clean prompt is %zu tokens, longer than the model's context of %d. "
                   "Hint: shorten the prompt.", b->path, line, a.n, b->opt->max_len);
        goto out;
    }
    if (has_corrupt && c.n != a.n) {
        char da[2048], dc[2048];
        describe_ids(b->tok, a.v, a.n, da, sizeof da);
        describe_ids(b->tok, c.v, c.n, dc, sizeof dc);
        invalid(b, "%s:%d: clean and corrupted prompts are %zu and %zu tokens; they must be "
                   "equally long. clean: %s corrupted: %s. Hint: corrupt by swapping words that "
                   "are the same number of tokens.", b->path, line, a.n, c.n, da, dc);
        goto out;
    }
    size_t off_clean = b->ids.n;
    for (size_t i = 0; i < a.n; i++)
        if (idvec_push(&b->ids, a.v[i])) goto oom;
    size_t off_corrupt = b->ids.n;
    for (size_t i = 0; has_corrupt && i < c.n; i++)
        if (idvec_push(&b->ids, c.v[i])) goto oom;
    size_t off_correct = b->ids.n;
    int nc = add_answers(b, line, "correct", correct, col, err);
    if (nc == -2) {
        rc = -1;
        goto out;
    }
    if (nc < 0) goto drop;
    size_t off_wrong = b->ids.n;
    int nw = wrong ? add_answers(b, line, "wrong", wrong, wl, err) : 0;
    if (nw == -2) {
        rc = -1;
        goto out;
    }
    if (nw < 0) goto drop;
    for (int i = 0; i < nc; i++)
        for (int j = 0; j < nw; j++)
            if (b->ids.v[off_correct + i] == b->ids.v[off_wrong + j]) {
                char r[200];
                tok_repr(b->tok, b->ids.v[off_correct + i], r, sizeof r);
                invalid(b, "%s:%d: %s (id %d) is both a correct and a wrong answer.", b->path,
                        line, r, b->ids.v[off_correct + i]);
                goto drop;
            }
    if (b->n == b->cap) {
        int ncap = b->cap ? 2 * b->cap : 256;
        ExOff *e = realloc(b->ex, sizeof(ExOff) * (size_t)ncap);
        if (!e) goto oom;
        b->ex = e, b->cap = ncap;
    }
    b->ex[b->n++] = (ExOff){line, (int)a.n, nc, nw, has_corrupt, off_clean, off_corrupt, off_correct,
                            off_wrong, b->part};
    if ((int)a.n > b->max_len) b->max_len = (int)a.n;
    goto out;
oom:
    rc = perr(err, "out of memory reading %s.", b->path);
    goto out;
drop:
    b->ids.n = mark;  // forget what this line added
out:
    idvec_free(&a);
    idvec_free(&c);
    return rc;
}

static void read_meta(Task *t, const char *s, size_t n) {
    const char *keys[2] = {"task=", "metric="};
    char *dst[2] = {t->name, t->metric};
    size_t cap[2] = {sizeof t->name, sizeof t->metric};
    for (int k = 0; k < 2; k++) {
        size_t kl = strlen(keys[k]);
        for (size_t i = 0; i + kl <= n; i++) {
            if (memcmp(s + i, keys[k], kl) || (i && s[i - 1] != ' ' && s[i - 1] != '#')) continue;
            size_t j = i + kl, e = j;
            while (e < n && s[e] != ' ' && s[e] != '\t') e++;
            snprintf(dst[k], cap[k], "%.*s", (int)(e - j), s + j);
            break;
        }
    }
}

// The next line of text[0..len) from *pos: its start and length (without \n or \r\n).
static int next_line(char *text, size_t len, size_t *pos, char **s, size_t *n) {
    if (*pos >= len) return 0;
    size_t e = *pos;
    while (e < len && text[e] != '\n') e++;
    *s = text + *pos;
    *n = e - *pos;
    *pos = e + 1;
    if (*n && (*s)[*n - 1] == '\r') (*n)--;
    return 1;
}

static int parse_txt(Builder *b, Task *t, char *text, size_t len, PruneErr *err) {
    int line = 0;
    size_t pos = 0, n;
    char *s;
    while (next_line(text, len, &pos, &s, &n)) {
        line++;
        size_t blank = 0;
        while (blank < n && (s[blank] == ' ' || s[blank] == '\t')) blank++;
        if (blank == n) continue;  // blank line
        if (s[0] == '#') {
            read_meta(t, s, n);
            continue;
        }
        char *f[4];
        size_t fl[4];
        int nf = 0;
        size_t start = 0;
        for (size_t i = 0; i <= n; i++) {
            if (i < n && s[i] != '\t') continue;
            if (nf < 4) f[nf] = s + start, fl[nf] = i - start;
            nf++;
            start = i + 1;
        }
        if (nf != 4) {
            invalid(b, "%s:%d: expected 4 tab-separated fields (clean, corrupted, correct, wrong), "
                       "found %d. Hint: separate the fields with one TAB character each; write a "
                       "literal tab inside a field as \\t.", b->path, line, nf);
            continue;
        }
        int has_corrupt = !(fl[1] == 1 && f[1][0] == '-');
        fl[0] = task_unescape(f[0], fl[0]);
        fl[1] = task_unescape(f[1], fl[1]);
        if (add_example(b, line, f[0], fl[0], f[1], fl[1], has_corrupt, f[2], fl[2], f[3], fl[3], err))
            return -1;
    }
    return 0;
}

// Edge Pruning's custom format: {"clean": "1 + 2 = <predict>3</predict>", "corrupted": ...}.
// The prompt is the text before <predict>; its trailing white space moves into the answer
// (the whole string tokenises "=" " 3"); correct is the clean span, wrong the corrupted
// span when it differs.
// Joins the strings of a JSON array into add_answers' form: '|' between answers, '|' and '\'
// inside one escaped. NULL when an entry is not a string (or out of memory).
static char *join_answers(json_t *a, size_t *n) {
    size_t cap = 1, m = 0, i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v)) return NULL;
        cap += 2 * json_string_length(v) + 1;
    }
    char *out = malloc(cap);
    if (!out) return NULL;
    json_array_foreach(a, i, v) {
        const char *s = json_string_value(v);
        if (i) out[m++] = '|';
        for (size_t k = 0; k < json_string_length(v); k++) {
            if (s[k] == '|' || s[k] == '\\') out[m++] = '\\';
            out[m++] = s[k];
        }
    }
    out[m] = 0;
    *n = m;
    return out;
}

// auto-circuit's layout, one JSON document: {"prompts": [{"clean": ..., "corrupt": ...,
// "answers": [...], "wrong_answers": [...]}, ...]}. Prompt i is reported as line i + 1.
static int parse_prompts(Builder *b, json_t *prompts, PruneErr *err) {
    size_t i;
    json_t *e;
    json_array_foreach(prompts, i, e) {
        int line = (int)i + 1;
        json_t *c = json_object_get(e, "clean"), *r = json_object_get(e, "corrupt");
        json_t *a = json_object_get(e, "answers"), *w = json_object_get(e, "wrong_answers");
        size_t al = 0, wl = 0;
        char *as = json_is_array(a) && json_array_size(a) ? join_answers(a, &al) : NULL;
        char *ws = json_is_array(w) ? join_answers(w, &wl) : NULL;
        if (!json_is_string(c) || !json_is_string(r) || !as || !ws) {
            invalid(b, "%s: prompts[%zu]: expected string fields \"clean\" and \"corrupt\" and arrays of "
                       "strings \"answers\" (not empty) and \"wrong_answers\" (auto-circuit's layout).",
                    b->path, i);
            free(as), free(ws);
            continue;
        }
        int rc = add_example(b, line, json_string_value(c), json_string_length(c), json_string_value(r),
                             json_string_length(r), 1, as, al, wl ? ws : NULL, wl, err);
        free(as), free(ws);
        if (rc) return -1;
    }
    return 0;
}

// A file that is one JSON document over several lines (pretty-printed) is not JSON Lines:
// auto-circuit's {"prompts": [...]} is imported, anything else is one error (not one per
// line). Returns 1 when text was such a document (handled), 0 when it is JSON Lines, -1.
static int parse_document(Builder *b, const char *text, size_t len, PruneErr *err) {
    const char *nl = memchr(text, '\n', len);
    size_t k = nl ? (size_t)(nl - text) : len;
    while (k < len && (text[k] == '\n' || text[k] == '\r' || text[k] == ' ' || text[k] == '\t')) k++;
    if (k >= len) return 0;  // a single line: JSON Lines with one record
    json_error_t je;
    json_t *o = json_loadb(text, len, 0, &je);
    if (!o) return 0;  // several documents (JSON Lines) or invalid: the line parser reports
    json_t *prompts = json_object_get(o, "prompts");
    int rc = 1;
    if (json_is_array(prompts)) {
        if (parse_prompts(b, prompts, err)) rc = -1;
    } else {
        rc = perr(err, "%s: one JSON document over several lines (pretty-printed), not JSON Lines. Hint: "
                       "Edge Pruning's format is one object a line ({\"clean\": ..., \"corrupted\": ...}); "
                       "auto-circuit's {\"prompts\": [{\"clean\", \"corrupt\", \"answers\", "
                       "\"wrong_answers\"}]} is also read.", b->path);
    }
    json_decref(o);
    return rc;
}

static int parse_jsonl(Builder *b, char *text, size_t len, PruneErr *err) {
    int doc = parse_document(b, text, len, err);
    if (doc) return doc < 0 ? -1 : 0;
    int line = 0;
    size_t pos = 0, n;
    char *s;
    while (next_line(text, len, &pos, &s, &n)) {
        line++;
        size_t blank = 0;
        while (blank < n && (s[blank] == ' ' || s[blank] == '\t')) blank++;
        if (blank == n) continue;
        json_error_t je;
        json_t *o = json_loadb(s, n, 0, &je);
        const char *fields[2] = {"clean", "corrupted"};
        const char *str[2] = {NULL, NULL};
        if (!o) {
            invalid(b, "%s:%d: not valid JSON: %s (column %d).", b->path, line, je.text, je.column);
            continue;
        }
        for (int k = 0; k < 2; k++) {
            json_t *v = json_object_get(o, fields[k]);
            str[k] = json_is_string(v) ? json_string_value(v) : NULL;
        }
        // Edge Pruning marks its train and validation examples with "split" (--split-field)
        json_t *sp = json_object_get(o, "split");
        if (sp && !json_is_string(sp)) {
            invalid(b, "%s:%d: field \"split\": expected a string such as \"train\" or \"validation\".",
                    b->path, line);
            json_decref(o);
            continue;
        }
        b->part = !sp ? TASK_PART_NONE : !strcmp(json_string_value(sp), "train") ? TASK_PART_TRAIN : TASK_PART_HELD_OUT;
        if (!str[0] || !str[1]) {
            invalid(b, "%s:%d: expected an object with string fields \"clean\" and \"corrupted\".",
                    b->path, line);
            json_decref(o);
            continue;
        }
        char *prompt[2] = {NULL, NULL}, *ans[2] = {NULL, NULL};
        size_t pl[2] = {0, 0}, al[2] = {0, 0};
        int ok = 1;
        for (int k = 0; k < 2 && ok; k++) {
            const char *p = strstr(str[k], "<predict>"), *q = p ? strstr(p, "</predict>") : NULL;
            if (!p || !q) {
                if (k == 0) {
                    invalid(b, "%s:%d: the clean text has no <predict>...</predict> span. Hint: mark "
                               "the answer, e.g. \"1 + 2 = <predict>3</predict>\".", b->path, line);
                    ok = 0;
                } else {  // corrupted without a span: its whole text is the prompt
                    p = str[k] + strlen(str[k]);
                    q = NULL;
                }
            }
            if (!ok) break;
            size_t before = (size_t)(p - str[k]), ws = before;
            while (ws > 0 && (str[k][ws - 1] == ' ' || str[k][ws - 1] == '\t')) ws--;
            const char *inner = q ? p + 9 : p;
            size_t il = q ? (size_t)(q - inner) : 0;
            prompt[k] = strndup(str[k], ws);
            pl[k] = ws;
            ans[k] = malloc(before - ws + il + 1);
            if (!prompt[k] || !ans[k]) {
                ok = 0;
                break;
            }
            memcpy(ans[k], str[k] + ws, before - ws);
            memcpy(ans[k] + before - ws, inner, il);
            al[k] = q ? before - ws + il : 0;
            // answers are taken literally: escape '|' and '\' for add_answers
            char *esc = malloc(2 * al[k] + 1);
            size_t m = 0;
            for (size_t i = 0; esc && i < al[k]; i++) {
                if (ans[k][i] == '|' || ans[k][i] == '\\') esc[m++] = '\\';
                esc[m++] = ans[k][i];
            }
            free(ans[k]);
            ans[k] = esc;
            al[k] = m;
            if (!esc) ok = 0;
        }
        int rc = 0;
        if (ok) {
            int has_wrong = al[1] > 0 && !(al[1] == al[0] && !memcmp(ans[0], ans[1], al[0]));
            rc = add_example(b, line, prompt[0], pl[0], prompt[1], pl[1], 1, ans[0], al[0],
                             has_wrong ? ans[1] : NULL, has_wrong ? al[1] : 0, err);
        }
        for (int k = 0; k < 2; k++) free(prompt[k]), free(ans[k]);
        json_decref(o);
        if (rc) return -1;
    }
    return 0;
}

int task_parse(Task *t, const char *text_in, size_t len, const char *path, Tokenizer *tok,
               const TaskOptions *opt, PruneErr *err) {
    memset(t, 0, sizeof *t);
    snprintf(t->path, sizeof t->path, "%s", path);
    Builder b = {.path = path, .tok = tok, .opt = opt};
    char *text = palloc(len + 1, path, err);  // parsing unescapes in place
    if (!text) return -1;
    // A byte-order mark (Windows editors write one) is not text: it would become three byte
    // tokens at the start of the first prompt.
    size_t bom = utf8_bom_len(text_in, len);
    len -= bom;
    memcpy(text, text_in + bom, len);
    text[len] = 0;
    size_t first = 0;
    while (first < len && (text[first] == ' ' || text[first] == '\n' || text[first] == '\r' ||
                           text[first] == '\t'))
        first++;
    int rc = first < len && text[first] == '{' ? parse_jsonl(&b, text, len, err)
                                               : parse_txt(&b, t, text, len, err);
    free(text);
    if (rc) goto fail;
    if (b.space_warned > SPACE_WARN_MAX && opt->warn)
        fprintf(opt->warn, "prune: warning: %s: %d more lines with an answer that has no leading "
                           "space (%d in all).\n", path, b.space_warned - SPACE_WARN_MAX, b.space_warned);
    if (b.invalid && !opt->skip_invalid) {
        if (b.invalid == 1)
            perr(err, "%s", b.first_error);
        else
            perr(err, "%s (%d invalid lines in all, each listed above; --skip-invalid drops them)",
                 b.first_error, b.invalid);
        goto fail;
    }
    if (b.n == 0) {
        perr(err, "%s: no valid examples%s. Hint: one example a line: "
                  "clean<TAB>corrupted<TAB>correct<TAB>wrong.", path,
             b.invalid ? " (every line was invalid)" : "");
        goto fail;
    }
    t->ex = pcalloc(sizeof(TaskExample) * (size_t)b.n, "task examples", err);
    if (!t->ex) goto fail;
    t->ids = b.ids.v;  // the examples point into this one allocation
    for (int i = 0; i < b.n; i++) {
        ExOff *o = &b.ex[i];
        t->ex[i] = (TaskExample){o->line, o->len, t->ids + o->clean,
                                 o->has_corrupt ? t->ids + o->corrupt : NULL,
                                 t->ids + o->correct, o->n_correct, t->ids + o->wrong, o->n_wrong, o->part};
    }
    t->n = b.n;
    t->max_len = b.max_len;
    t->dropped = b.invalid;
    free(b.ex);
    return 0;
fail:
    free(b.ex);
    idvec_free(&b.ids);
    memset(t, 0, sizeof *t);
    return -1;
}

int task_load(Task *t, const char *path, Tokenizer *tok, const TaskOptions *opt, PruneErr *err) {
    char *text;
    size_t len;
    if (read_file(path, &text, &len, err)) return -1;
    int rc = task_parse(t, text, len, path, tok, opt, err);
    free(text);
    return rc;
}

void task_free(Task *t) {
    free(t->ex);
    free(t->ids);
    memset(t, 0, sizeof *t);
}

// The two parts of a split: the examples in `order`, each to train when in_train[its index]
// (ntr of them), else to eval; both views borrow all's examples.
static int fill_parts(const Task *all, const int *order, const unsigned char *in_train, int ntr, Task *train,
                      Task *eval, PruneErr *err) {
    train->ex = palloc(sizeof(TaskExample) * (size_t)ntr, "split", err);
    eval->ex = palloc(sizeof(TaskExample) * (size_t)(all->n - ntr), "split", err);
    if (!train->ex || !eval->ex) {
        free(train->ex), free(eval->ex);
        train->ex = eval->ex = NULL;
        return -1;
    }
    Task *parts[2] = {train, eval};
    for (int p = 0; p < 2; p++) {
        snprintf(parts[p]->path, sizeof parts[p]->path, "%s", all->path);
        snprintf(parts[p]->name, sizeof parts[p]->name, "%s", all->name);
        snprintf(parts[p]->metric, sizeof parts[p]->metric, "%s", all->metric);
    }
    for (int i = 0; i < all->n; i++) {
        const TaskExample *e = &all->ex[order[i]];
        Task *p = in_train[order[i]] ? train : eval;
        p->ex[p->n++] = *e;
        if (e->len > p->max_len) p->max_len = e->len;
    }
    return 0;
}

typedef struct {
    uint64_t h;
    int i;
} Keyed;

static int by_key(const void *a, const void *b) {
    const Keyed *x = a, *y = b;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

int task_split(const Task *all, double train_frac, uint64_t seed, Task *train, Task *eval,
               PruneErr *err) {
    memset(train, 0, sizeof *train);
    memset(eval, 0, sizeof *eval);
    int n = all->n, ntr = (int)(n * train_frac + 0.5);
    if (ntr < 1 || ntr >= n)
        return perr(err, "%s: %d examples cannot be split %.0f/%.0f into two non-empty parts. Hint: "
                         "give a held-out file with --eval, or more examples.", all->path, n,
                    100 * train_frac, 100 * (1 - train_frac));
    int *perm = palloc(sizeof(int) * (size_t)n, "split", err);
    int *group = palloc(sizeof(int) * (size_t)n, "split", err);  // example -> its group's first example
    int *next = palloc(sizeof(int) * (size_t)n, "split", err);   // the group's next example, -1: none
    int *order = palloc(sizeof(int) * (size_t)n, "split", err);
    unsigned char *in_train = palloc((size_t)n, "split", err);
    Keyed *key = palloc(sizeof(Keyed) * (size_t)n, "split", err);
    int rc = -1;
    if (!perm || !group || !next || !order || !in_train || !key) goto out;
    // groups of equal clean prompts: sort by (hash, index); within a run of equal hashes each
    // example joins the first earlier one with the same ids
    for (int i = 0; i < n; i++) {
        uint64_t x = 1469598103934665603ull ^ (uint64_t)all->ex[i].len;
        for (int t = 0; t < all->ex[i].len; t++) x = (x ^ (uint64_t)(unsigned)all->ex[i].clean[t]) * 1099511628211ull;
        key[i] = (Keyed){x, i};
        group[i] = i, next[i] = -1;
    }
    qsort(key, (size_t)n, sizeof *key, by_key);
    for (int a = 0; a < n;) {
        int b = a + 1;
        while (b < n && key[b].h == key[a].h) b++;
        for (int i = a + 1; i < b; i++) {
            const TaskExample *x = &all->ex[key[i].i];
            for (int j = a; j < i; j++) {
                const TaskExample *y = &all->ex[key[j].i];
                if (group[key[j].i] == key[j].i && x->len == y->len &&
                    !memcmp(x->clean, y->clean, sizeof(int) * (size_t)x->len)) {
                    group[key[i].i] = key[j].i;
                    break;
                }
            }
        }
        a = b;
    }
    // each group's members in file order (perm holds the last member seen, as scratch)
    int dup_prompts = 0, dup_examples = 0;
    for (int i = 0; i < n; i++) {
        int g = group[i];
        if (g != i) {
            next[perm[g]] = i;
            if (perm[g] == g) dup_prompts++, dup_examples++;  // the group's second member
            dup_examples++;
        }
        perm[g] = i;
    }
    // the groups (their first examples, in file order), shuffled; without repeats exactly the
    // permutation of the examples this split has always drawn
    int ng = 0;
    for (int i = 0; i < n; i++)
        if (group[i] == i) perm[ng++] = i;
    Rng r;
    rng_seed(&r, seed);
    for (int i = ng - 1; i > 0; i--) {  // Fisher-Yates
        int j = (int)(rng_u64(&r) % (uint64_t)(i + 1));
        int tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    int k = 0, filled = 0;
    for (int gi = 0; gi < ng; gi++) {
        int to_train = filled < ntr;  // a group goes whole to one part
        for (int i = perm[gi]; i >= 0; i = next[i]) {
            in_train[i] = (unsigned char)to_train;
            order[k++] = i;
            filled += to_train;
        }
    }
    if (filled >= n) {
        rc = perr(err, "%s: its %d examples have so few different clean prompts (%d) that none is left to hold "
                       "out. Hint: give a held-out file with --eval, or more distinct prompts.", all->path, n, ng);
        goto out;
    }
    rc = fill_parts(all, order, in_train, filled, train, eval, err);
    if (!rc) {
        train->dup_prompts = eval->dup_prompts = dup_prompts;
        train->dup_examples = eval->dup_examples = dup_examples;
    }
out:
    free(perm), free(group), free(next), free(order), free(in_train), free(key);
    return rc;
}

void task_split_free(Task *part) {
    free(part->ex);
    memset(part, 0, sizeof *part);
}

static int view_all(const Task *src, Task *dst, PruneErr *err) {
    *dst = *src;
    dst->ids = NULL;  // a view: the examples' ids belong to src
    dst->ex = palloc(sizeof(TaskExample) * (size_t)src->n, "task view", err);
    if (!dst->ex) return -1;
    memcpy(dst->ex, src->ex, sizeof(TaskExample) * (size_t)src->n);
    return 0;
}

// --split-field: examples whose JSONL "split" is "train" to train, every other value to
// eval; an example without the field is an error (the option asks for the file's own split).
static int split_by_field(const Task *all, Task *train, Task *eval, PruneErr *err) {
    memset(train, 0, sizeof *train);
    memset(eval, 0, sizeof *eval);
    int ntr = 0;
    for (int i = 0; i < all->n; i++) {
        if (all->ex[i].part == TASK_PART_NONE)
            return perr(err, "%s:%d: no \"split\" field, but --split-field splits by it. Hint: every line "
                             "needs \"split\": \"train\" or another value (held out), or drop --split-field.",
                        all->path, all->ex[i].line);
        ntr += all->ex[i].part == TASK_PART_TRAIN;
    }
    if (ntr == 0 || ntr == all->n)
        return perr(err, "%s: --split-field puts %d examples in train and %d in eval; both must be non-empty. "
                         "Hint: \"split\": \"train\" marks train, any other value held out.", all->path, ntr,
                    all->n - ntr);
    int *order = palloc(sizeof(int) * (size_t)all->n, "split", err);  // file order within each part
    unsigned char *in_train = palloc((size_t)all->n, "split", err);
    int rc = -1;
    if (order && in_train) {
        for (int i = 0; i < all->n; i++) order[i] = i, in_train[i] = all->ex[i].part == TASK_PART_TRAIN;
        rc = fill_parts(all, order, in_train, ntr, train, eval, err);
    }
    free(order), free(in_train);
    return rc;
}

int taskset_load(TaskSet *ts, const char *task_path, const char *eval_path, Tokenizer *tok,
                 const TaskOptions *opt, double train_frac, uint64_t seed, PruneErr *err) {
    memset(ts, 0, sizeof *ts);
    ts->train_frac = train_frac;
    ts->seed = seed;
    if (eval_path && opt->split_field)
        return perr(err, "--split-field splits %s by its own \"split\" field; with --eval %s there is nothing to "
                         "split. Hint: use one of the two.", task_path, eval_path);
    if (task_load(&ts->file, task_path, tok, opt, err)) return -1;
    int rc;
    if (eval_path) {
        rc = task_load(&ts->eval_file, eval_path, tok, opt, err);
        if (!rc) rc = view_all(&ts->file, &ts->train, err);
        if (!rc) rc = view_all(&ts->eval_file, &ts->eval, err);
    } else if (opt->split_field) {
        ts->split_field = 1;
        rc = split_by_field(&ts->file, &ts->train, &ts->eval, err);
    } else {
        ts->split = 1;
        rc = task_split(&ts->file, train_frac, seed, &ts->train, &ts->eval, err);
    }
    if (rc) taskset_free(ts);
    return rc;
}

void taskset_free(TaskSet *ts) {
    task_split_free(&ts->train);
    task_split_free(&ts->eval);
    task_free(&ts->file);
    task_free(&ts->eval_file);
    memset(ts, 0, sizeof *ts);
}

static void report_file(const Task *t, FILE *out) {
    fprintf(out, "  %s: %d examples", t->path, t->n);
    if (t->dropped) fprintf(out, " (%d invalid lines dropped)", t->dropped);
    if (t->name[0]) fprintf(out, ", task=%s", t->name);
    if (t->metric[0]) fprintf(out, ", metric=%s", t->metric);
    fprintf(out, ", prompts up to %d tokens\n", t->max_len);
}

void taskset_report(const TaskSet *ts, FILE *out) {
    fprintf(out, "task\n");
    report_file(&ts->file, out);
    if (ts->split_field) {
        fprintf(out, "  split by the file's \"split\" field: %d train / %d eval; metrics are on the eval part "
                     "only\n", ts->train.n, ts->eval.n);
    } else if (ts->split) {
        fprintf(out, "  split: %d train / %d eval (seed %llu, %.0f%% train); metrics are on the "
                     "eval part only\n", ts->train.n, ts->eval.n, (unsigned long long)ts->seed,
                100 * ts->train_frac);
        if (ts->train.dup_prompts)
            fprintf(out, "  note: %d clean prompts occur more than once (%d examples); each is kept within one "
                         "part, so no held-out prompt was trained on\n", ts->train.dup_prompts,
                    ts->train.dup_examples);
    } else {
        report_file(&ts->eval_file, out);
        fprintf(out, "  train on all %d of the first, evaluate on all %d of the second\n",
                ts->train.n, ts->eval.n);
    }
}
