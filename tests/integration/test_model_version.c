/*
 * Optimistic versioning across requests (DSQL_VERSION): 0 at insert, one more at every
 * write of the row; a save of a row read before another write is DSQL_ESTALE with nothing
 * written, where without a version it would silently overwrite the other write.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "conn_util.h"

#define DB "dsql_t_version"

typedef struct doc {
    int64_t id;
    char *body;
    int32_t likes;
    bool has_likes;
    int32_t version;
    dsql_row_state state;
} doc;

static const dsql_attr doc_attrs[] = {
    DSQL_ATTR(doc, id, DSQL_BIGINT, .primary_key = true),
    DSQL_ATTR(doc, body, DSQL_TEXT),
    DSQL_ATTR(doc, likes, DSQL_INTEGER, DSQL_HAS(doc, has_likes)),
    DSQL_ATTR(doc, version, DSQL_INTEGER, .not_null = true, DSQL_VERSION),
};
static DSQL_MODEL_WITH(doc_model, doc, "doc", doc_attrs, DSQL_ROW_STATE(doc, state));

static dsql_pool *pool;

static int setup(void **state)
{
    (void)state;
    admin_exec("DROP DATABASE IF EXISTS " DB " WITH (FORCE)");
    admin_exec("CREATE DATABASE " DB);
    setenv("PGDATABASE", DB, 1);
    pool = TEST_POOL(.database = DB);
    dsql_error err;
    assert_dsql_ok(dsql_create_table(pool, &doc_model, &err), err);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dsql_pool_close(pool);
    setenv("PGDATABASE", "postgres", 1);
    admin_exec("DROP DATABASE IF EXISTS " DB " WITH (FORCE)");
    return 0;
}

static doc *read_doc(int64_t id, dsql_result **res)
{
    dsql_error err;
    doc *d;
    assert_dsql_ok(dsql_find_by_pk(pool, &doc_model, DSQL_INT(id), NULL, &d, res, &err), err);
    return d;
}

static void a_stale_save_writes_nothing(void **state)
{
    (void)state;
    dsql_error err;
    doc fresh = {.id = 1, .body = "first", .version = 7}; /* the member is not what is stored */
    assert_dsql_ok(dsql_create(pool, &doc_model, &fresh, NULL, &err), err);
    assert_int_equal(admin_long("SELECT version FROM doc WHERE id = 1"), 0);

    /* Two requests read the row; the first saves. */
    dsql_result *r1, *r2;
    doc *a = read_doc(1, &r1), *b = read_doc(1, &r2);
    assert_int_equal(a->version, 0);
    a->body = "from a";
    assert_dsql_ok(dsql_save(pool, &doc_model, a, NULL, 0, &err), err);
    assert_int_equal(a->version, 1); /* the row knows its new version */
    assert_int_equal(admin_long("SELECT version FROM doc WHERE id = 1"), 1);
    /* The second, read before that save: refused, and a's write stands. */
    b->body = "from b";
    assert_int_equal(dsql_save(pool, &doc_model, b, NULL, 0, &err), DSQL_ESTALE);
    assert_string_equal(err.message, "dsql_save: doc: the row with id = 1 changed since it was "
                                     "read (its version is no longer 0): nothing was written; "
                                     "read it again and redo the change");
    assert_int_equal(admin_long("SELECT count(*) FROM doc WHERE body = 'from a'"), 1);
    assert_int_equal(b->version, 0);
    /* a saves again from its new version. */
    a->body = "again";
    assert_dsql_ok(dsql_save(pool, &doc_model, a, NULL, 0, &err), err);
    assert_int_equal(a->version, 2);
    dsql_result_free(r1);
    dsql_result_free(r2);
    /* A key nobody has: not found, not stale. */
    doc ghost = {.id = 99, .body = "x"};
    assert_int_equal(dsql_save(pool, &doc_model, &ghost, (const char *const[]){"body"}, 1, &err),
                     DSQL_ENOTFOUND);
    assert_string_equal(err.message, "dsql_save: doc: no row with id = 99");
}

static void every_write_moves_the_version(void **state)
{
    (void)state;
    dsql_error err;
    long v = admin_long("SELECT version FROM doc WHERE id = 1");
    dsql_assign set[] = {DSQL_SET("body", DSQL_STR("updated"))};
    assert_dsql_ok(dsql_update(pool, &doc_model, set, 1, DSQL_EQ("id", DSQL_INT(1)), NULL, &err),
                   err);
    assert_int_equal(admin_long("SELECT version FROM doc WHERE id = 1"), v + 1);
    dsql_result *res;
    doc *d;
    size_t n;
    dsql_assign inc[] = {DSQL_INCREMENT("likes", DSQL_INT(0))};
    assert_dsql_ok(dsql_exec(pool, "UPDATE doc SET likes = 0 WHERE id = 1", NULL, 0, NULL, &err),
                   err); /* behind the library's back: no version change */
    assert_dsql_ok(
        dsql_increment(pool, &doc_model, inc, 1, DSQL_EQ("id", DSQL_INT(1)), &d, &n, &res, &err),
        err);
    assert_int_equal(d->version, v + 2);
    dsql_result_free(res);
    doc up = {.id = 1, .body = "upserted"};
    assert_dsql_ok(dsql_upsert(pool, &doc_model, &up, NULL, &res, &err), err);
    d = dsql_result_models(res, &n);
    assert_int_equal(d->version, v + 3);
    assert_string_equal(d->body, "upserted");
    dsql_result_free(res);
    /* An upsert that inserts starts at 0. */
    doc other = {.id = 2, .body = "new"};
    assert_dsql_ok(dsql_upsert(pool, &doc_model, &other, NULL, NULL, &err), err);
    assert_int_equal(admin_long("SELECT version FROM doc WHERE id = 2"), 0);
}

static void the_version_is_the_librarys(void **state)
{
    (void)state;
    dsql_error err;
    dsql_assign set[] = {DSQL_SET("version", DSQL_INT(0))};
    assert_int_equal(dsql_update(pool, &doc_model, set, 1, DSQL_EQ("id", DSQL_INT(1)), NULL, &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message,
                        "dsql_update: update: doc.version: a kept version is written by the "
                        "library");
    /* A partial find without the version cannot be saved: the check needs it. */
    dsql_result *res;
    doc *d;
    dsql_query q = {.where = DSQL_EQ("id", DSQL_INT(1)), DSQL_ATTRIBUTES("id", "body")};
    assert_dsql_ok(dsql_find_one(pool, &doc_model, &q, &d, &res, &err), err);
    d->body = "partial";
    assert_int_equal(dsql_save(pool, &doc_model, d, NULL, 0, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_save: doc.version (its version) was not loaded by the "
                                     "find that read this row, so the save cannot check it; "
                                     "nothing was sent");
    dsql_result_free(res);
    typedef struct bad {
        int64_t id;
        char *v;
    } bad;
    static const dsql_attr bad_attrs[] = {DSQL_ATTR(bad, id, DSQL_BIGINT, .primary_key = true),
                                          DSQL_ATTR(bad, v, DSQL_TEXT, DSQL_VERSION)};
    static DSQL_MODEL(bad_model, bad, "bad", bad_attrs);
    assert_int_equal(dsql_model_check(&bad_model, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_model_check: model bad: attribute \"v\": a version must "
                                     "be DSQL_INTEGER or DSQL_BIGINT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_stale_save_writes_nothing),
        cmocka_unit_test(every_write_moves_the_version),
        cmocka_unit_test(the_version_is_the_librarys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
