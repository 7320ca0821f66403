/*
 * The rules module against every probe recorded on a real Aurora DSQL cluster
 * (tests/data/shared/dsql_probes): for each step, a refusal the module predicts must be
 * exactly DSQL's (SQLSTATE and message), and a statement DSQL accepted must never be
 * flagged. Answers that depend on data or on the server (constraint violations, the row
 * cap, an aborted transaction, OCC) are counted as needing a server; dsql-local's
 * conformance test replays those.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "testutil.h"
#include "rules/rules.h"

typedef struct tally {
    int matched, accepted, server, mismatched;
} tally;

/* The module's answer to one step: the first refusal (statement or transaction rule). */
static int predict(const char *sql, dsql_rules_tx *tx, const char **state, const char **msg,
                   char *buf, size_t cap)
{
    dsql_rules_result r;
    assert_int_equal(dsql_rules_analyze(sql, &r), 0);
    *state = *msg = NULL;
    for (size_t i = 0; i < r.n && !*state; i++) {
        const dsql_rules_finding *f = dsql_rules_refusal(&r.stmts[i]);
        if (f) {
            snprintf(buf, cap, "%s", f->message);
            *state = f->rule->sqlstate;
            *msg = buf;
            break;
        }
        const dsql_rule *t = dsql_rules_tx_step(tx, r.stmts[i].kind);
        if (t) {
            snprintf(buf, cap, "%s", t->message);
            *state = t->sqlstate;
            *msg = buf;
        }
    }
    dsql_rules_result_free(&r);
    return 0;
}

static void one_file(const char *path, tally *t)
{
    size_t len;
    char *text = tu_read_file(path, &len);
    cJSON *root = cJSON_ParseWithLength(text, len);
    assert_non_null(root);
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        const char *name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
        bool simple = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "simple_protocol"));
        const cJSON *steps = cJSON_GetObjectItemCaseSensitive(c, "steps");
        const cJSON *obs = cJSON_GetObjectItemCaseSensitive(c, "observations");
        dsql_rules_tx tx = {.implicit = false};
        for (int i = 0; i < cJSON_GetArraySize(steps); i++) {
            const char *sql = cJSON_GetArrayItem(steps, i)->valuestring;
            const cJSON *o = cJSON_GetArrayItem(obs, i);
            const char *outcome = cJSON_GetObjectItemCaseSensitive(o, "outcome")->valuestring;
            bool ok = !strcmp(outcome, "ok");
            tx.implicit = simple && !tx.in_block;
            if (tx.implicit) {
                tx.ddl = 0;
                tx.dml = false;
            }
            const char *state, *msg;
            char buf[256];
            predict(sql, &tx, &state, &msg, buf, sizeof buf);
            if (ok && !state) {
                t->accepted++;
            } else if (ok && state) {
                t->mismatched++;
                print_error("FALSE POSITIVE %s step %d: %s -> %s %s\n", name, i, sql, state, msg);
            } else if (!state) {
                t->server++;
            } else {
                const char *want_state =
                    cJSON_GetObjectItemCaseSensitive(o, "sqlstate")->valuestring;
                const char *want_msg = cJSON_GetObjectItemCaseSensitive(o, "message")->valuestring;
                if (!strcmp(state, want_state) && !strcmp(msg, want_msg)) {
                    t->matched++;
                } else {
                    t->mismatched++;
                    print_error("MISMATCH %s step %d: %s\n  predicted %s %s\n  recorded  %s %s\n",
                                name, i, sql, state, msg, want_state, want_msg);
                }
            }
        }
    }
    cJSON_Delete(root);
    free(text);
}

static void every_probe(void **state)
{
    (void)state;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/dsql_probes", tu_env("DSQL_SHARED_TESTDATA"));
    DIR *d = opendir(dir);
    assert_non_null(d);
    tally t = {0};
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".json"))
            continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        one_file(path, &t);
        files++;
    }
    closedir(d);
    print_message("probes: %d files; refusals matched exactly: %d; accepted, none flagged: %d; "
                  "answered by the server's data or state: %d; mismatched: %d\n",
                  files, t.matched, t.accepted, t.server, t.mismatched);
    assert_int_equal(files, 13);
    assert_int_equal(t.mismatched, 0);
    assert_true(t.matched >= 25);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(every_probe)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    dsql_rules_thread_done();
    return rc;
}
