/*
 * Probe conformance: every case recorded on a real Aurora DSQL cluster
 * (the JSON files of tests/data/shared/dsql_probes) run through the analyser and the transaction
 * tracker, one tracker per case, steps in order (a simple-protocol step is one Query that
 * may hold several statements).
 *
 * - DSQL refused a step and the refusal follows from the text: the predicted SQLSTATE and
 *   message must equal the recorded ones ("matched").
 * - DSQL ran a step: nothing may be refused ("accepted"; a refusal is a false positive).
 * - DSQL's answer depends on data or server state (constraint violations, the row limit,
 *   conflicts, a missing object): "needs a server", counted, not asserted; the tracker is
 *   told the statement failed, as the server would tell it.
 * Counts are printed; any mismatch fails the test.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "rules/rules.h"

typedef struct counts {
    int matched, accepted, server, mismatched, steps, cases;
} counts;

/* Answers only a server can give: they depend on rows, quotas, concurrency, catalog. */
static bool needs_server(const char *sqlstate)
{
    static const char *const states[] = {"54000", "40001", "XX000", "42P01", "42P07",
                                         "42703", "42710", "53100", "53200"};
    if (strncmp(sqlstate, "23", 2) == 0) /* integrity constraint violations */
        return true;
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        if (strcmp(sqlstate, states[i]) == 0)
            return true;
    return false;
}

static const char *str_field(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Runs one step (a Query) through analyser and tracker; the first refusal, if any. */
static bool predict(dsql_rules_tracker *t, const char *sql, char *state, size_t state_size,
                    char *msg, size_t msg_size)
{
    dsql_rules_result *r = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    if (dsql_rules_analyze(sql, strlen(sql), &r, &err) != DSQL_OK)
        fail_msg("analyse %s: %s", sql, err.message);
    bool refused = false;
    dsql_rules_tracker_query_begin(t, dsql_rules_count(r));
    for (size_t i = 0; i < dsql_rules_count(r); i++) {
        dsql_rules_verdict v;
        if (!dsql_rules_tracker_step(t, dsql_rules_stmt_at(r, i), &v))
            continue;
        if (!refused && v.rule) {
            snprintf(state, state_size, "%s", v.rule->sqlstate);
            snprintf(msg, msg_size, "%s", v.message);
            refused = true;
        }
    }
    dsql_rules_tracker_query_end(t);
    dsql_rules_result_free(r);
    return refused;
}

static void run_case(const cJSON *cs, const char *file, counts *n)
{
    const char *name = str_field(cs, "name");
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(cs, "steps");
    const cJSON *obs = cJSON_GetObjectItemCaseSensitive(cs, "observations");
    if (!name || !cJSON_IsArray(steps) || !cJSON_IsArray(obs) ||
        cJSON_GetArraySize(steps) != cJSON_GetArraySize(obs))
        fail_msg("%s: a case without name, steps or one observation per step", file);
    dsql_rules_tracker t;
    dsql_rules_tracker_init(&t);
    n->cases++;
    for (int i = 0; i < cJSON_GetArraySize(steps); i++) {
        const cJSON *step = cJSON_GetArrayItem(steps, i);
        const cJSON *o = cJSON_GetArrayItem(obs, i);
        const char *outcome = str_field(o, "outcome");
        if (!cJSON_IsString(step) || !outcome)
            fail_msg("%s/%s step %d: malformed", file, name, i);
        n->steps++;
        char state[8] = "", msg[512] = "";
        bool refused = predict(&t, step->valuestring, state, sizeof state, msg, sizeof msg);
        if (strcmp(outcome, "ok") == 0) {
            if (refused) {
                print_error("MISMATCH %s/%s step %d: DSQL ran it, predicted %s %s\n  %s\n", file,
                            name, i, state, msg, step->valuestring);
                n->mismatched++;
            } else {
                n->accepted++;
            }
            continue;
        }
        const char *rstate = str_field(o, "sqlstate");
        const char *rmsg = str_field(o, "message");
        if (!rstate || !rmsg)
            fail_msg("%s/%s step %d: an error without sqlstate or message", file, name, i);
        if (!refused && needs_server(rstate)) {
            n->server++;
            dsql_rules_tracker_failed(&t);
            continue;
        }
        if (refused && strcmp(state, rstate) == 0 && strcmp(msg, rmsg) == 0) {
            n->matched++;
            continue;
        }
        print_error("MISMATCH %s/%s step %d: DSQL answered %s %s, predicted %s\n  %s\n", file, name,
                    i, rstate, rmsg, refused ? msg : "nothing", step->valuestring);
        n->mismatched++;
    }
}

static int json_name(const struct dirent *d)
{
    size_t len = strlen(d->d_name);
    return len > 5 && strcmp(d->d_name + len - 5, ".json") == 0;
}

static void recorded_probes(void **state)
{
    (void)state;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/dsql_probes", tu_env("DSQL_SHARED_TESTDATA"));
    struct dirent **names = NULL;
    int nfiles = scandir(dir, &names, json_name, alphasort);
    if (nfiles <= 0)
        fail_msg("no probe files in %s", dir);
    counts n = {0};
    for (int f = 0; f < nfiles; f++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, names[f]->d_name);
        size_t len = 0;
        char *text = tu_read_file(path, &len);
        cJSON *doc = cJSON_ParseWithLength(text, len);
        if (!doc)
            fail_msg("%s: not JSON", path);
        const cJSON *cases = cJSON_GetObjectItemCaseSensitive(doc, "cases");
        if (!cJSON_IsArray(cases))
            fail_msg("%s: no cases", path);
        const cJSON *cs;
        cJSON_ArrayForEach(cs, cases) run_case(cs, names[f]->d_name, &n);
        cJSON_Delete(doc);
        free(text);
        free(names[f]);
    }
    free(names);
    printf("probes: %d cases, %d steps: %d refusals matched, %d accepted with no refusal, "
           "%d need a server, %d mismatched\n",
           n.cases, n.steps, n.matched, n.accepted, n.server, n.mismatched);
    assert_int_equal(n.mismatched, 0);
    assert_int_equal(n.matched + n.accepted + n.server, n.steps);
    /* The recorded set: 82 cases in 13 files (its README). */
    assert_int_equal(n.cases, 82);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(recorded_probes),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    dsql_rules_thread_done();
    return rc;
}
