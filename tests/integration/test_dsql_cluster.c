/*
 * Against a real Aurora DSQL cluster, only when one is configured: `make test` with
 * CLUSTER_ENDPOINT (and CLUSTER_REGION when the host carries none, CLUSTER_USER, AWS
 * credentials) set. The Makefile runs this test alone, in the caller's environment, with
 * those handed over as DSQL_TEST_CLUSTER_* (every other test goes through dsql-local).
 * Without them the program says it skipped and exits 77, which CTest reports as skipped.
 *
 * What only a real cluster can show: IAM tokens accepted (DbConnect / DbConnectAdmin),
 * TLS verify-full against Amazon's certificate, the server told apart from PostgreSQL,
 * sync's one-DDL-per-transaction and CREATE INDEX ASYNC with a job wait, the statement
 * cache's named statements, an association set in one pipelined transaction, and an OCC
 * conflict (OC000) retried by the transaction runner.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#include "dsql/dsql.h"

typedef struct note {
    dsql_uuid id;
    char *title;
    int64_t hits;
} note;

static const dsql_attr note_attrs[] = {
    DSQL_ATTR(note, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR(note, title, DSQL_STRING(40), .not_null = true),
    DSQL_ATTR(note, hits, DSQL_BIGINT, .not_null = true),
};
static const dsql_index note_indexes[] = {DSQL_INDEX(NULL, false, "title")};

static dsql_model note_model; /* a copy with a table name of this run's own */
static char table[64];
static dsql_pool *pool;

static bool cluster_configured(void)
{
    const char *e = getenv("DSQL_TEST_CLUSTER_ENDPOINT");
    return e && *e;
}

static void cluster_config(dsql_config *cfg)
{
    *cfg = (dsql_config)DSQL_CONFIG_INIT;
    cfg->host = getenv("DSQL_TEST_CLUSTER_ENDPOINT");
    cfg->region = getenv("DSQL_TEST_CLUSTER_REGION");
    const char *user = getenv("DSQL_TEST_CLUSTER_USER");
    cfg->user = user && *user ? user : "admin";
    cfg->auth = DSQL_AUTH_IAM;
    cfg->application_name = "libdsql-tests";
    /* Only to rehearse this test on a stand-in server (a private CA, another port); a
     * real cluster needs neither. */
    cfg->sslrootcert = getenv("DSQL_TEST_CLUSTER_SSLROOTCERT");
    const char *port = getenv("DSQL_TEST_CLUSTER_PORT");
    cfg->port = port ? atoi(port) : 0;
    if (strcmp(cfg->user, "admin") != 0)
        cfg->schema = "myschema";
}

static int setup(void **state)
{
    (void)state;
    snprintf(table, sizeof table, "libdsql_test_%ld", (long)getpid());
    note_model = (dsql_model){.magic = DSQL_MODEL_MAGIC,
                              .name = "note",
                              .table = table,
                              .struct_size = sizeof(note),
                              .attrs = note_attrs,
                              .n_attrs = TU_LEN(note_attrs),
                              .indexes = note_indexes,
                              .n_indexes = TU_LEN(note_indexes)};
    dsql_config cfg;
    cluster_config(&cfg);
    dsql_error err = DSQL_ERROR_INIT;
    if (dsql_pool_open(&cfg, NULL, &pool, &err)) {
        print_error("dsql_pool_open: %s\n", err.message);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (pool) {
        dsql_drop_table(pool, &note_model, true, NULL);
        dsql_pool_close(pool);
    }
    return 0;
}

#define OK(call)                                                                                   \
    do {                                                                                           \
        if ((call) != DSQL_OK)                                                                     \
            fail_msg("%s: %s [%s]", #call, err.message, err.sqlstate);                             \
    } while (0)

static void iam_connection(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    dsql_result *res = NULL;
    OK(dsql_exec(pool, "SELECT 1", NULL, 0, &res, &err));
    assert_string_equal(dsql_result_text(res, 0, 0), "1");
    dsql_result_free(res);
    dsql_pool_stats st;
    dsql_pool_get_stats(pool, &st);
    assert_true(st.token_mints >= 1);
    assert_int_equal(st.token_mints, st.connects);
    /* The server is Aurora DSQL, as the library's probe sees it: the sys.jobs view of
     * asynchronous index jobs is there (PostgreSQL has none). */
    OK(dsql_exec(pool, "SELECT 1 FROM sys.jobs LIMIT 0", NULL, 0, NULL, &err));
}

static void sync_and_crud(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    const dsql_model *models[] = {&note_model};
    dsql_sync_report rep;
    OK(dsql_sync(pool, models, 1, NULL, 0, &rep, &err));
    assert_int_equal(rep.tables_created, 1);
    assert_int_equal(rep.indexes_created, 1); /* CREATE INDEX ASYNC, then the job waited */
    OK(dsql_sync(pool, models, 1, NULL, 0, &rep, &err));
    assert_int_equal(rep.statements, 0); /* the second sync is a no-op */

    note n = {.title = "first", .hits = 0};
    OK(dsql_create(pool, &note_model, &n, NULL, &err));
    for (int i = 0; i < 3; i++) { /* the statement cache's named statement, reused */
        note *found;
        dsql_result *res;
        OK(dsql_find_by_pk(pool, &note_model, DSQL_STR(n.id.str), NULL, &found, &res, &err));
        assert_string_equal(found->title, "first");
        dsql_result_free(res);
    }
    uint64_t affected = 0;
    OK(dsql_update(pool, &note_model, (const dsql_assign[]){DSQL_SET("hits", DSQL_INT(5))}, 1,
                   DSQL_EQ("id", DSQL_STR(n.id.str)), &affected, &err));
    assert_int_equal(affected, 1);
    int64_t count = -1;
    OK(dsql_count(pool, &note_model, DSQL_EQ("hits", DSQL_INT(5)), &count, &err));
    assert_int_equal(count, 1);
}

/* T1 reads, T2 writes the row and commits, T1 writes it: OC000 at T1's commit, and the
 * runner reruns T1's body, which then sees T2's value. */
typedef struct race {
    const char *id;
    int calls;
} race;

static int bump(dsql_conn *conn, void *ctx, dsql_error *err)
{
    race *r = ctx;
    r->calls++;
    note *n;
    dsql_result *res;
    int rc = dsql_find_by_pk(conn, &note_model, DSQL_STR(r->id), NULL, &n, &res, err);
    if (rc)
        return rc;
    int64_t hits = n->hits;
    dsql_result_free(res);
    if (r->calls == 1) { /* another session commits a change to the same row meanwhile */
        rc = dsql_update(pool, &note_model,
                         (const dsql_assign[]){DSQL_SET("hits", DSQL_INT(hits + 100))}, 1,
                         DSQL_EQ("id", DSQL_STR(r->id)), NULL, err);
        if (rc)
            return rc;
    }
    return dsql_update(conn, &note_model,
                       (const dsql_assign[]){DSQL_SET("hits", DSQL_INT(hits + 1))}, 1,
                       DSQL_EQ("id", DSQL_STR(r->id)), NULL, err);
}

static void occ_conflict_retried(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    note n = {.title = "race", .hits = 0};
    OK(dsql_create(pool, &note_model, &n, NULL, &err));
    race r = {.id = n.id.str};
    int attempts = 0;
    OK(dsql_transaction(pool, bump, &r, NULL, &attempts, &err));
    assert_int_equal(attempts, 2);
    note *found;
    dsql_result *res;
    OK(dsql_find_by_pk(pool, &note_model, DSQL_STR(n.id.str), NULL, &found, &res, &err));
    assert_int_equal(found->hits, 101); /* T2's 100, then T1's rerun + 1 */
    dsql_result_free(res);
}

int main(void)
{
    if (!cluster_configured()) {
        printf("skipped: no Aurora DSQL cluster configured (make test with CLUSTER_ENDPOINT "
               "set runs these tests against it)\n");
        return 77; /* CTest's SKIP_RETURN_CODE */
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(iam_connection),
        cmocka_unit_test(sync_and_crud),
        cmocka_unit_test(occ_conflict_retried),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
