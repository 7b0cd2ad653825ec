// test_models.c: every teaching model shipped in models/ loads with its own vocabulary and
// task and does its task: the full model's accuracy on the first prompts of its task.txt.
// Fast (a few dozen prompts per model); the full held-out numbers are in models/README.md.
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "prune.h"
#include "task.h"
#include "tokenizer.h"

#define MODELS PRUNE_SOURCE_DIR "/models"

// The full model on the first n prompts of dir/task.txt.
static Metrics full_model_metrics(const char *dir, int n, Task *task_out) {
    char mpath[1100], tpath[1100];
    snprintf(mpath, sizeof mpath, "%s/model.bin", dir);
    snprintf(tpath, sizeof tpath, "%s/task.txt", dir);
    PruneErr err;
    GPT2 m;
    Tokenizer tok;
    Task all, part;
    assert_int_equal(gpt2_load(&m, mpath, 0, &err), 0);
    assert_int_equal(tok_load_for_model(&tok, mpath, NULL, m.config.V, &err), 0);
    TaskOptions opt = {.max_len = m.config.maxT};
    if (task_load(&all, tpath, &tok, &opt, &err)) fail_msg("%s: %s", tpath, err.msg);
    part = all;
    part.n = all.n < n ? all.n : n;
    PruneConfig cfg;
    prune_config_defaults(&cfg);
    Pruner p;
    assert_int_equal(pruner_build(&p, &m, &cfg, all.max_len, &err), 0);
    Metrics met;
    assert_int_equal(pruner_evaluate(&p, &part, NULL, &met, &err), 0);
    *task_out = all;
    strcpy(task_out->metric, all.metric);
    pruner_free(&p);
    task_free(&all);
    tok_free(&tok);
    gpt2_free(&m);
    return met;
}

static void test_every_shipped_model_does_its_task(void **state) {
    (void)state;
    DIR *d = opendir(MODELS);
    assert_non_null(d);
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d))) {
        char dir[1024], mpath[1100];
        snprintf(dir, sizeof dir, "%s/%s", MODELS, e->d_name);
        snprintf(mpath, sizeof mpath, "%s/model.bin", dir);
        if (e->d_name[0] == '.' || !path_is_file(mpath)) continue;
        Task t;
        Metrics met = full_model_metrics(dir, 40, &t);
        int prob = !strcmp(t.metric, "prob_diff");
        print_message("  %-14s %s: pairwise accuracy %.3f, logit diff %.2f, prob diff %.3f (%d prompts)\n",
                      e->d_name, t.metric, met.acc_pair, met.ld, met.pd, met.n);
        assert_int_equal(met.n, 40);
        if (prob) {
            // greater-than: the answers are sets of years; the model must put most of its
            // probability on the later ones
            if (met.pd < 0.5) fail_msg("%s: probability difference %.3f < 0.5", e->d_name, met.pd);
        } else if (met.acc_pair < 0.9) {
            fail_msg("%s: pairwise accuracy %.3f < 0.9", e->d_name, met.acc_pair);
        }
        found++;
    }
    closedir(d);
    // induction, ioi-small, gt-small, gp-small: a missing model fails rather than passing
    assert_true(found >= 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_shipped_model_does_its_task),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
