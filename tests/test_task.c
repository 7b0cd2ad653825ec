// test_task.c: task files. Every validation error, with its message and line number;
// escapes, comments, metadata and CRLF; --skip-invalid; the bundled task files (Edge
// Pruning's IOI splits reported line by line or dropped); Edge Pruning's JSONL; seeded
// splits; and each generator's output validates, reproducibly.
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "helpers.h"
#include "task.h"

#define TASKS TEST_DATA_DIR "/tasks"
static Tokenizer tok;

static int setup(void **state) {
    (void)state;
    PruneErr err;
    return tok_load(&tok, PRUNE_SOURCE_DIR "/models/gpt2/vocab.bpe", &err);
}
static int teardown(void **state) {
    (void)state;
    tok_free(&tok);
    return 0;
}

static TaskOptions opts(int max_len, int skip, int allow_no_corrupt, FILE *warn) {
    TaskOptions o = {.max_len = max_len, .skip_invalid = skip, .allow_no_corrupt = allow_no_corrupt,
                     .warn = warn};
    return o;
}

static void expect_error(const char *text, const char *needle) {
    Task t;
    PruneErr err = {{0}};
    TaskOptions o = opts(1024, 0, 0, NULL);
    int rc = task_parse(&t, text, strlen(text), "t.txt", &tok, &o, &err);
    if (rc != -1 || !strstr(err.msg, needle))
        fail_msg("expected an error containing '%s', got rc %d: %s", needle, rc, err.msg);
}

#define OK_LINE "When Mary and John went to the store, John gave a drink to\tWhen Anna and Paul went to the store, Paul gave a drink to\t Mary\t John\n"

static void test_each_error_with_line(void **state) {
    (void)state;
    expect_error("# header\n" OK_LINE "a\tb\tc\n", "t.txt:3: expected 4 tab-separated fields");
    expect_error(OK_LINE "\n\ta b\t x\t y\n", "t.txt:3: the clean prompt is empty");
    expect_error(OK_LINE "a b\t\t x\t y\n", "t.txt:2: the corrupted prompt is empty");
    expect_error("Hello there friend\tHello there\t x\t y\n",
                 "t.txt:1: clean and corrupted prompts are 3 and 2 tokens");
    // both token lists are printed
    expect_error("Hello there friend\tHello there\t x\t y\n",
                 "clean: [15496 \"Hello\", 612 \" there\", 1545 \" friend\"] corrupted: [15496");
    expect_error("A b\tC d\t Mary Ann\t John\n", "t.txt:1: correct answer \" Mary Ann\" is 2 tokens [5335 \" Mary\"");
    expect_error("A b\tC d\t Mary\t John|Juana\n", "t.txt:1: wrong answer \"Juana\" is 2 tokens");
    expect_error("A b\tC d\t Mary| John\t John\n", "t.txt:1: \" John\" (id 1757) is both a correct and a wrong answer");
    expect_error("A b\tC d\t Mary||x\t John\n", "t.txt:1: empty alternative in the correct answers");
    expect_error("A b\t-\t Mary\t John\n", "t.txt:1: the corrupted prompt is \"-\", which only --ablation mean or zero");
    expect_error("# only a comment\n\n", "t.txt: no valid examples");
    // prompt longer than the model's context
    Task t;
    PruneErr err;
    TaskOptions o = opts(5, 0, 0, NULL);
    const char *lng = "one two three four five six\tone two three four five seven\t x\t y\n";
    assert_int_equal(task_parse(&t, lng, strlen(lng), "t.txt", &tok, &o, &err), -1);
    assert_non_null(strstr(err.msg, "t.txt:1: the clean prompt is 6 tokens, longer than the model's context of 5"));
}

static void test_all_invalid_lines_listed_and_skip(void **state) {
    (void)state;
    const char *text = OK_LINE "bad line\n" OK_LINE "A b\tC d\t Mary Ann\t John\n" OK_LINE;
    char *log = NULL;
    size_t logn = 0;
    FILE *w = open_memstream(&log, &logn);
    Task t;
    PruneErr err;
    TaskOptions o = opts(1024, 0, 0, w);
    assert_int_equal(task_parse(&t, text, strlen(text), "t.txt", &tok, &o, &err), -1);
    fflush(w);
    assert_non_null(strstr(err.msg, "t.txt:2:"));
    assert_non_null(strstr(err.msg, "2 invalid lines in all"));
    assert_non_null(strstr(log, "prune: error: t.txt:2:"));
    assert_non_null(strstr(log, "prune: error: t.txt:4:"));
    fclose(w);
    free(log);
    // --skip-invalid: warnings, the lines dropped, counted
    log = NULL;
    w = open_memstream(&log, &logn);
    o = opts(1024, 1, 0, w);
    assert_int_equal(task_parse(&t, text, strlen(text), "t.txt", &tok, &o, &err), 0);
    fflush(w);
    assert_int_equal(t.n, 3);
    assert_int_equal(t.dropped, 2);
    assert_int_equal(t.ex[0].line, 1);
    assert_int_equal(t.ex[1].line, 3);
    assert_int_equal(t.ex[2].line, 5);
    assert_non_null(strstr(log, "prune: warning: t.txt:4:"));
    assert_non_null(strstr(log, "(line dropped)"));
    task_free(&t);
    fclose(w);
    free(log);
}

static void test_format_details(void **state) {
    (void)state;
    // escapes in prompts (\t, \n, \\) and answers (\| is a literal pipe), comments with
    // metadata, blank lines, CRLF, and "-" when allowed
    const char *text = "# task=demo metric=logit_diff\r\n\r\n"
                       "a\\tb\\\\c\\nd\tx\\ty\\\\z\\ne\t\\|\t!\r\n"
                       "Hello world\t-\t Mary| John\t she| he\n";
    Task t;
    PruneErr err;
    TaskOptions o = opts(1024, 0, 1, NULL);
    if (task_parse(&t, text, strlen(text), "t.txt", &tok, &o, &err)) fail_msg("%s", err.msg);
    assert_string_equal(t.name, "demo");
    assert_string_equal(t.metric, "logit_diff");
    assert_int_equal(t.n, 2);
    assert_int_equal(t.ex[0].line, 3);
    IdVec v = {0};
    assert_int_equal(tok_encode(&tok, "a\tb\\c\nd", 7, &v, &err), 0);
    assert_int_equal(t.ex[0].len, (int)v.n);
    assert_memory_equal(t.ex[0].clean, v.v, sizeof(int) * v.n);
    idvec_free(&v);
    assert_int_equal(t.ex[0].n_correct, 1);
    assert_int_equal(t.ex[0].correct[0], 91);  // "|"
    assert_int_equal(t.ex[0].wrong[0], 0);     // "!"
    assert_null(t.ex[1].corrupt);
    assert_int_equal(t.ex[1].n_correct, 2);
    assert_int_equal(t.ex[1].correct[0], 5335);
    assert_int_equal(t.ex[1].correct[1], 1757);
    assert_int_equal(t.ex[1].wrong[0], 673);
    assert_int_equal(t.ex[1].wrong[1], 339);
    assert_int_equal(t.max_len, 2 > t.ex[0].len ? 2 : t.ex[0].len);
    task_free(&t);
}

static void load_file(const char *name, int skip, int expect_rc, int expect_n, int expect_dropped) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", TASKS, name);
    Task t;
    PruneErr err;
    TaskOptions o = opts(1024, skip, 0, NULL);
    int rc = task_load(&t, path, &tok, &o, &err);
    if (rc != expect_rc) fail_msg("%s: rc %d: %s", name, rc, rc ? err.msg : "");
    if (rc) {
        // the first multi-token name is named, with its file and line
        assert_non_null(strstr(err.msg, ":3: correct answer \" Juana\" is 2 tokens"));
        assert_non_null(strstr(err.msg, "invalid lines in all"));
        return;
    }
    if (t.n != expect_n || t.dropped != expect_dropped)
        fail_msg("%s: %d examples, %d dropped; expected %d, %d", name, t.n, t.dropped, expect_n, expect_dropped);
    task_free(&t);
}

static void test_bundled_task_files(void **state) {
    (void)state;
    load_file("ioi_wang_abc.txt", 0, 0, 400, 0);
    load_file("gt_hanna.txt", 0, 0, 400, 0);
    load_file("ep_gp_train.txt", 0, 0, 150, 0);
    load_file("ep_gp_validation.txt", 0, 0, 150, 0);
    load_file("ep_gp_test.txt", 0, 0, 378, 0);
    load_file("ep_gt_train.txt", 0, 0, 150, 0);
    load_file("ep_gt_validation.txt", 0, 0, 150, 0);
    load_file("ep_ioi_train.txt", 0, -1, 0, 0);
    load_file("ep_ioi_train.txt", 1, 0, 59, 141);
    load_file("ep_ioi_validation.txt", 1, 0, 68, 132);
}

// Issue 15 item 13: a pretty-printed JSON document is reported once (it was one "not valid
// JSON" a line), and auto-circuit's {"prompts": [...]} layout is imported.
static void test_json_document(void **state) {
    (void)state;
    const char *ac = "{\n \"prompts\": [\n  {\"clean\": \"1 + 2 =\", \"corrupt\": \"1 + 4 =\", \"answers\": [\" 3\"],"
                     " \"wrong_answers\": [\" 5\"]},\n  {\"clean\": \"1 + 4 =\", \"corrupt\": \"1 + 2 =\","
                     " \"answers\": [\" 5\"], \"wrong_answers\": []}\n ]\n}\n";
    Task t;
    PruneErr err;
    TaskOptions o = opts(1024, 0, 0, NULL);
    if (task_parse(&t, ac, strlen(ac), "ac.json", &tok, &o, &err)) fail_msg("%s", err.msg);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.ex[0].correct[0], 513);  // " 3"
    assert_int_equal(t.ex[0].wrong[0], 642);    // " 5"
    assert_int_equal(t.ex[1].n_wrong, 0);
    task_free(&t);
    const char *pp = "{\n  \"clean\": \"x <predict>3</predict>\",\n  \"corrupted\": \"y\"\n}\n";
    assert_int_equal(task_parse(&t, pp, strlen(pp), "pp.json", &tok, &o, &err), -1);
    assert_non_null(strstr(err.msg, "pp.json: one JSON document over several lines"));
    const char *bad = "{\"prompts\": [{\"clean\": \"x\", \"corrupt\": \"y\", \"answers\": [3]}]\n}\n";
    assert_int_equal(task_parse(&t, bad, strlen(bad), "b.json", &tok, &o, &err), -1);
    assert_non_null(strstr(err.msg, "b.json: prompts[0]: expected"));
}

// --split-field: the JSONL "split" field decides train ("train") and eval (anything else),
// in file order; a line without it, or a part left empty, is an error naming the file.
static void test_split_field(void **state) {
    (void)state;
    const char *text =
        "{\"clean\": \"1 + 2 = <predict>3</predict>\", \"corrupted\": \"1 + 4 = <predict>5</predict>\", \"split\": \"train\"}\n"
        "{\"clean\": \"2 + 2 = <predict>4</predict>\", \"corrupted\": \"2 + 5 = <predict>7</predict>\", \"split\": \"validation\"}\n"
        "{\"clean\": \"3 + 2 = <predict>5</predict>\", \"corrupted\": \"3 + 4 = <predict>7</predict>\", \"split\": \"train\"}\n";
    const char *path = tmp_path("split.jsonl");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    TaskOptions o = opts(1024, 0, 0, NULL);
    o.split_field = 1;
    TaskSet ts;
    PruneErr err;
    if (taskset_load(&ts, path, NULL, &tok, &o, 0.5, 0, &err)) fail_msg("%s", err.msg);
    assert_int_equal(ts.train.n, 2);
    assert_int_equal(ts.eval.n, 1);
    assert_int_equal(ts.train.ex[0].line, 1);
    assert_int_equal(ts.train.ex[1].line, 3);
    assert_int_equal(ts.eval.ex[0].line, 2);
    taskset_free(&ts);
    f = fopen(path, "w");  // a line without the field
    fputs("{\"clean\": \"1 + 2 = <predict>3</predict>\", \"corrupted\": \"1 + 4 = <predict>5</predict>\", \"split\": \"train\"}\n"
          "{\"clean\": \"2 + 2 = <predict>4</predict>\", \"corrupted\": \"2 + 5 = <predict>7</predict>\"}\n", f);
    fclose(f);
    assert_int_equal(taskset_load(&ts, path, NULL, &tok, &o, 0.5, 0, &err), -1);
    assert_non_null(strstr(err.msg, ":2: no \"split\" field"));
    f = fopen(path, "w");  // every line train: no eval part
    fputs("{\"clean\": \"1 + 2 = <predict>3</predict>\", \"corrupted\": \"1 + 4 = <predict>5</predict>\", \"split\": \"train\"}\n", f);
    fclose(f);
    assert_int_equal(taskset_load(&ts, path, NULL, &tok, &o, 0.5, 0, &err), -1);
    assert_non_null(strstr(err.msg, "both must be non-empty"));
    assert_int_equal(taskset_load(&ts, path, path, &tok, &o, 0.5, 0, &err), -1);  // with --eval
    assert_non_null(strstr(err.msg, "nothing to split"));
}

static void test_edge_pruning_jsonl(void **state) {
    (void)state;
    const char *text =
        "{\"clean\": \"1 + 2 = <predict>3</predict>\", \"corrupted\": \"1 + 4 = <predict>5</predict>\"}\n"
        "\n"
        "{\"clean\": \"The sky is <predict>blue</predict>\", \"corrupted\": \"The sea is <predict>blue</predict>\", \"split\": \"train\"}\n";
    Task t;
    PruneErr err;
    TaskOptions o = opts(1024, 0, 0, NULL);
    if (task_parse(&t, text, strlen(text), "ep.jsonl", &tok, &o, &err)) fail_msg("%s", err.msg);
    assert_int_equal(t.n, 2);
    IdVec v = {0};
    assert_int_equal(tok_encode(&tok, "1 + 2 =", 7, &v, &err), 0);
    assert_int_equal(t.ex[0].len, (int)v.n);  // trailing space moved into the answer
    assert_memory_equal(t.ex[0].clean, v.v, sizeof(int) * v.n);
    idvec_free(&v);
    assert_int_equal(t.ex[0].n_correct, 1);
    assert_int_equal(t.ex[0].correct[0], 513);  // " 3"
    assert_int_equal(t.ex[0].wrong[0], 642);    // " 5"
    assert_int_equal(t.ex[1].n_wrong, 0);       // same answer in both: no wrong answer
    assert_int_equal(t.ex[1].line, 3);
    task_free(&t);
    const char *bad = "{\"clean\": \"x <predict>3</predict>\", \"corrupted\": \"y\"}\n{\"clean\": 3}\n";
    assert_int_equal(task_parse(&t, bad, strlen(bad), "ep.jsonl", &tok, &o, &err), -1);
    assert_non_null(strstr(err.msg, "ep.jsonl:2: expected an object with string fields"));
    const char *nospan = "{\"clean\": \"x 3\", \"corrupted\": \"y 3\"}\n";
    assert_int_equal(task_parse(&t, nospan, strlen(nospan), "ep.jsonl", &tok, &o, &err), -1);
    assert_non_null(strstr(err.msg, "ep.jsonl:1: the clean text has no <predict>"));
    const char *notjson = "{\"clean\": \n";
    assert_int_equal(task_parse(&t, notjson, strlen(notjson), "ep.jsonl", &tok, &o, &err), -1);
    assert_non_null(strstr(err.msg, "ep.jsonl:1: not valid JSON"));
}

// Issue 15, item 14: a UTF-8 byte-order mark is not text; an answer without its leading
// space after a prompt ending in a word is warned about, naming file and line.
static char *warnings_of(const char *text, int expect_rc) {
    Task t;
    PruneErr err = {{0}};
    FILE *w = tmpfile();
    TaskOptions o = opts(1024, 0, 0, w);
    int rc = task_parse(&t, text, strlen(text), "t.txt", &tok, &o, &err);
    if (rc != expect_rc) fail_msg("rc %d: %s", rc, err.msg);
    if (!rc) task_free(&t);
    static char buf[8192];
    rewind(w);
    size_t n = fread(buf, 1, sizeof buf - 1, w);
    buf[n] = 0;
    fclose(w);
    return buf;
}

static void test_bom_and_leading_space(void **state) {
    (void)state;
    PruneErr err;
    TaskOptions o = opts(1024, 0, 0, NULL);
    Task a, b;
    assert_int_equal(task_parse(&a, OK_LINE, strlen(OK_LINE), "t.txt", &tok, &o, &err), 0);
    const char *bom = "\xEF\xBB\xBF" OK_LINE;
    assert_int_equal(task_parse(&b, bom, strlen(bom), "t.txt", &tok, &o, &err), 0);
    assert_int_equal(a.ex[0].len, b.ex[0].len);
    assert_memory_equal(a.ex[0].clean, b.ex[0].clean, sizeof(int) * (size_t)a.ex[0].len);
    task_free(&a);
    task_free(&b);
    // the same for JSONL: the BOM does not hide the '{' that selects the format
    const char *jl = "\xEF\xBB\xBF{\"clean\": \"1 + 2 = <predict>3</predict>\", \"corrupted\": \"1 + 5 = <predict>6</predict>\"}\n";
    assert_int_equal(task_parse(&a, jl, strlen(jl), "t.jsonl", &tok, &o, &err), 0);
    task_free(&a);

    const char *w = warnings_of("A drink to\tA drink for\tMary\t John\n", 0);
    if (!strstr(w, "prune: warning: t.txt:1: the correct answer \"Mary\" has no leading space") ||
        !strstr(w, "write \" Mary\""))
        fail_msg("warnings: %s", w);
    w = warnings_of("A drink to,\tA drink for,\t Mary\tJohn\n", 0);
    if (!strstr(w, "t.txt:1: the wrong answer \"John\"")) fail_msg("warnings: %s", w);
    w = warnings_of("{\"clean\": \"drink to<predict>Mary</predict>\", \"corrupted\": \"drink for<predict>John</predict>\"}\n", 0);
    if (!strstr(w, "t.txt:1: the correct answer \"Mary\"")) fail_msg("warnings: %s", w);
    // no warning: a leading space, a prompt ending in a space or '(', a number continued
    w = warnings_of(OK_LINE "drink to \tdrink for \tMary\tJohn\nsaid (\tsaid [\tMary\tJohn\n"
                    "year 17\tyear 18\t33\t01\n", 0);
    if (w[0]) fail_msg("unexpected warnings: %s", w);
    // many lines: five listed, the rest counted
    char many[2048] = "";
    for (int i = 0; i < 7; i++) strcat(many, "A drink to\tA drink for\tMary\t John\n");
    w = warnings_of(many, 0);
    if (!strstr(w, "t.txt:5:") || strstr(w, "t.txt:6:") || !strstr(w, "2 more lines with an answer that has no leading space (7 in all)"))
        fail_msg("warnings: %s", w);
}

static void test_split(void **state) {
    (void)state;
    Task all, tr, ev, tr2, ev2;
    PruneErr err;
    TaskOptions o = opts(1024, 0, 0, NULL);
    assert_int_equal(task_load(&all, TASKS "/ioi_wang_abc.txt", &tok, &o, &err), 0);
    assert_int_equal(task_split(&all, 0.5, 7, &tr, &ev, &err), 0);
    assert_int_equal(tr.n, 200);
    assert_int_equal(ev.n, 200);
    // disjoint, and together every example once
    int maxline = 0;
    for (int i = 0; i < all.n; i++) maxline = all.ex[i].line > maxline ? all.ex[i].line : maxline;
    int *seen = calloc((size_t)maxline + 1, sizeof(int));
    for (int i = 0; i < tr.n; i++) seen[tr.ex[i].line]++;
    for (int i = 0; i < ev.n; i++) seen[ev.ex[i].line] += 2;
    for (int i = 0; i < all.n; i++) assert_true(seen[all.ex[i].line] == 1 || seen[all.ex[i].line] == 2);
    int ones = 0;
    for (int i = 0; i < all.n; i++) ones += seen[all.ex[i].line] == 1;
    assert_int_equal(ones, 200);
    free(seen);
    // same seed, same split; another seed, another split
    assert_int_equal(task_split(&all, 0.5, 7, &tr2, &ev2, &err), 0);
    for (int i = 0; i < tr.n; i++) assert_int_equal(tr.ex[i].line, tr2.ex[i].line);
    task_split_free(&tr2), task_split_free(&ev2);
    assert_int_equal(task_split(&all, 0.5, 8, &tr2, &ev2, &err), 0);
    int same = 0;
    for (int i = 0; i < tr.n; i++) same += tr.ex[i].line == tr2.ex[i].line;
    assert_true(same < 20);
    task_split_free(&tr2), task_split_free(&ev2);
    task_split_free(&tr), task_split_free(&ev);
    // too few examples to split
    Task one;
    assert_int_equal(task_parse(&one, OK_LINE, strlen(OK_LINE), "t.txt", &tok, &o, &err), 0);
    assert_int_equal(task_split(&one, 0.5, 1, &tr, &ev, &err), -1);
    assert_non_null(strstr(err.msg, "--eval"));
    task_free(&one);
    task_free(&all);
    // repeated clean prompts stay within one part: 12 lines, 4 prompts (one of them 5 times,
    // one twice with different answers), for several seeds
    char rep[4096] = "";
    const char *prompts[4] = {"When Mary and John went to the store, John gave a drink to",
                              "When Anna and Tom went to the park, Tom gave a ball to",
                              "Then, Sarah and James had a long argument. Afterwards James said to",
                              "When Kate and Mark went to the office, Mark gave a book to"};
    const int which[12] = {0, 1, 0, 2, 0, 3, 1, 0, 2, 0, 3, 1};
    for (int i = 0; i < 12; i++) {
        strcat(rep, prompts[which[i]]);
        strcat(rep, "\t-\t Mary\t John\n");
    }
    TaskOptions o2 = opts(1024, 0, 1, NULL);
    Task dup;
    assert_int_equal(task_parse(&dup, rep, strlen(rep), "t.txt", &tok, &o2, &err), 0);
    assert_int_equal(dup.n, 12);
    for (uint64_t seed = 0; seed < 8; seed++) {
        assert_int_equal(task_split(&dup, 0.5, seed, &tr, &ev, &err), 0);
        assert_int_equal(tr.n + ev.n, 12);
        assert_true(tr.n >= 6);  // whole groups until train has its share
        assert_int_equal(tr.dup_prompts, 4);
        assert_int_equal(tr.dup_examples, 12);
        for (int i = 0; i < tr.n; i++)
            for (int j = 0; j < ev.n; j++)
                assert_false(tr.ex[i].len == ev.ex[j].len &&
                             !memcmp(tr.ex[i].clean, ev.ex[j].clean, sizeof(int) * (size_t)tr.ex[i].len));
        task_split_free(&tr), task_split_free(&ev);
    }
    // one prompt only: nothing can be held out
    Task same1;
    char one_p[1024] = "";
    for (int i = 0; i < 4; i++) strcat(one_p, "When Mary and John went to the store, John gave a drink to\t-\t Mary\t John\n");
    assert_int_equal(task_parse(&same1, one_p, strlen(one_p), "t.txt", &tok, &o2, &err), 0);
    assert_int_equal(task_split(&same1, 0.5, 1, &tr, &ev, &err), -1);
    assert_non_null(strstr(err.msg, "different clean prompts (1)"));
    task_free(&same1);
    task_free(&dup);
}

static void test_generators(void **state) {
    (void)state;
    const char *kinds[4] = {"ioi", "gt", "gp", "induction"};
    for (int k = 0; k < 4; k++) {
        char *a, *b, *c;
        size_t la, lb, lc;
        PruneErr err;
        if (gen_task(kinds[k], 120, 5, &tok, 1024, &a, &la, &err)) fail_msg("%s: %s", kinds[k], err.msg);
        assert_int_equal(gen_task(kinds[k], 120, 5, &tok, 1024, &b, &lb, &err), 0);
        assert_int_equal(gen_task(kinds[k], 120, 6, &tok, 1024, &c, &lc, &err), 0);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);  // same seed, same file
        assert_true(la != lc || memcmp(a, c, la) != 0);
        Task t;
        TaskOptions o = opts(1024, 0, 0, NULL);
        if (task_parse(&t, a, la, kinds[k], &tok, &o, &err)) fail_msg("%s: %s", kinds[k], err.msg);
        assert_int_equal(t.n, 120);
        assert_int_equal(t.dropped, 0);
        assert_string_equal(t.name, kinds[k]);
        for (int i = 0; i < t.n; i++) {
            assert_non_null(t.ex[i].corrupt);
            assert_true(memcmp(t.ex[i].clean, t.ex[i].corrupt, sizeof(int) * (size_t)t.ex[i].len) != 0);
        }
        if (k == 1)  // greater-than: correct + wrong cover all 100 two-digit years
            for (int i = 0; i < t.n; i++) assert_int_equal(t.ex[i].n_correct + t.ex[i].n_wrong, 100);
        task_free(&t);
        free(a), free(b), free(c);
    }
    char *x;
    size_t lx;
    PruneErr err;
    assert_int_equal(gen_task("sva", 3, 1, &tok, 1024, &x, &lx, &err), -1);
    assert_non_null(strstr(err.msg, "unknown task kind 'sva'"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_error_with_line),   cmocka_unit_test(test_all_invalid_lines_listed_and_skip),
        cmocka_unit_test(test_format_details),         cmocka_unit_test(test_bundled_task_files),
        cmocka_unit_test(test_edge_pruning_jsonl),
        cmocka_unit_test(test_split_field),     cmocka_unit_test(test_split),
        cmocka_unit_test(test_json_document),
        cmocka_unit_test(test_generators),             cmocka_unit_test(test_bom_and_leading_space),
    };
    return cmocka_run_group_tests_name("task", tests, setup, teardown);
}
