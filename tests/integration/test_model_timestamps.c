/*
 * Kept timestamps (DSQL_CREATED_AT / DSQL_UPDATED_AT): the server's now() on every insert
 * (create, bulk create, upsert), on every update, save, counter and association change;
 * a stale copy in the row never overwrites them; assigning them is refused; descriptors
 * that cannot work are refused by the model check.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#include "conn_util.h"

#define DB "dsql_t_timestamps"

typedef struct post {
    int64_t id;
    char *title;
    int32_t likes;
    bool has_likes;
    char *created_at;
    char *updated_at;
} post;

static const dsql_attr post_attrs[] = {
    DSQL_ATTR(post, id, DSQL_BIGINT, .primary_key = true),
    DSQL_ATTR(post, title, DSQL_STRING(40)),
    DSQL_ATTR(post, likes, DSQL_INTEGER, DSQL_HAS(post, has_likes)),
    DSQL_ATTR_AS(post, created_at, "createdAt", DSQL_TIMESTAMPTZ, DSQL_CREATED_AT),
    DSQL_ATTR_AS(post, updated_at, "updatedAt", DSQL_TIMESTAMPTZ, DSQL_UPDATED_AT),
};
static DSQL_MODEL(post_model, post, "post", post_attrs);

static dsql_pool *pool;

static int setup(void **state)
{
    (void)state;
    admin_exec("DROP DATABASE IF EXISTS " DB " WITH (FORCE)");
    admin_exec("CREATE DATABASE " DB);
    setenv("PGDATABASE", DB, 1);
    pool = TEST_POOL(.database = DB);
    dsql_error err;
    assert_dsql_ok(dsql_create_table(pool, &post_model, &err), err);
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

/* 1 when post id's updatedAt is later than its createdAt, 0 when equal. */
static long moved(int64_t id)
{
    return admin_long("SELECT CASE WHEN \"updatedAt\" > \"createdAt\" THEN 1 WHEN \"updatedAt\" = "
                      "\"createdAt\" THEN 0 ELSE -1 END FROM post WHERE id = %lld",
                      (long long)id);
}

static void inserts_write_both(void **state)
{
    (void)state;
    dsql_error err;
    dsql_result *stored;
    /* A stale copy in the row is not what is stored. */
    post p = {.id = 1,
              .title = "hello",
              .created_at = "2000-01-01 00:00:00+00",
              .updated_at = "2000-01-01 00:00:00+00"};
    assert_dsql_ok(dsql_create(pool, &post_model, &p, &stored, &err), err);
    size_t n;
    post *s = dsql_result_models(stored, &n);
    assert_int_equal(n, 1);
    assert_non_null(s->created_at);
    assert_string_equal(s->created_at, s->updated_at);
    assert_null(strstr(s->created_at, "2000-01-01"));
    dsql_result_free(stored);
    assert_int_equal(admin_long("SELECT count(*) FROM post WHERE id = 1 AND \"createdAt\" > now() "
                                "- interval '1 minute'"),
                     1);
    post rows[] = {{.id = 2, .title = "b"}, {.id = 3, .title = "c"}};
    assert_dsql_ok(dsql_bulk_create(pool, &post_model, rows, 2, NULL, NULL, &err), err);
    assert_int_equal(admin_long("SELECT count(*) FROM post WHERE \"createdAt\" IS NOT NULL AND "
                                "\"updatedAt\" = \"createdAt\""),
                     3);
}

static void updates_move_updated_at_only(void **state)
{
    (void)state;
    dsql_error err;
    usleep(2000);
    dsql_assign set[] = {DSQL_SET("title", DSQL_STR("edited"))};
    assert_dsql_ok(dsql_update(pool, &post_model, set, 1, DSQL_EQ("id", DSQL_INT(1)), NULL, &err),
                   err);
    assert_int_equal(moved(1), 1);
    assert_int_equal(moved(2), 0); /* untouched rows keep theirs */
    /* A save, a counter, an upsert's update: each moves it again. */
    long before = admin_long("SELECT (extract(epoch FROM \"updatedAt\") * 1000000)::bigint FROM "
                             "post WHERE id = 2");
    usleep(2000);
    post p = {.id = 2, .title = "saved"};
    assert_dsql_ok(dsql_save(pool, &post_model, &p, (const char *const[]){"title"}, 1, &err), err);
    long after = admin_long("SELECT (extract(epoch FROM \"updatedAt\") * 1000000)::bigint FROM "
                            "post WHERE id = 2");
    assert_true(after > before);
    dsql_result *res;
    post *r;
    size_t n;
    usleep(2000);
    dsql_assign inc[] = {DSQL_INCREMENT("likes", DSQL_INT(1))};
    assert_dsql_ok(dsql_exec(pool, "UPDATE post SET likes = 0 WHERE id = 3", NULL, 0, NULL, &err),
                   err);
    assert_dsql_ok(
        dsql_increment(pool, &post_model, inc, 1, DSQL_EQ("id", DSQL_INT(3)), &r, &n, &res, &err),
        err);
    assert_int_equal(n, 1);
    assert_int_equal(r->likes, 1);
    assert_string_not_equal(r->updated_at, r->created_at);
    dsql_result_free(res);
    char created[64];
    snprintf(created, sizeof created, "%ld",
             admin_long("SELECT (extract(epoch FROM \"createdAt\") * 1000000)::bigint FROM post "
                        "WHERE id = 3"));
    usleep(2000);
    post up = {.id = 3, .title = "upserted", .created_at = "2001-01-01 00:00:00+00"};
    assert_dsql_ok(dsql_upsert(pool, &post_model, &up, NULL, &res, &err), err);
    r = dsql_result_models(res, &n);
    assert_string_equal(r->title, "upserted");
    dsql_result_free(res);
    assert_int_equal(admin_long("SELECT (extract(epoch FROM \"createdAt\") * 1000000)::bigint FROM "
                                "post WHERE id = 3"),
                     atol(created));
    assert_int_equal(moved(3), 1);
}

static void kept_timestamps_are_not_assigned(void **state)
{
    (void)state;
    dsql_error err;
    dsql_assign set[] = {DSQL_SET("updatedAt", DSQL_STR("2020-01-01 00:00:00+00"))};
    assert_int_equal(dsql_update(pool, &post_model, set, 1, DSQL_EQ("id", DSQL_INT(1)), NULL, &err),
                     DSQL_EINVAL);
    assert_string_equal(
        err.message,
        "dsql_update: update: post.updatedAt: a kept timestamp is written by the library");
    post p = {.id = 1};
    assert_int_equal(dsql_save(pool, &post_model, &p, (const char *const[]){"createdAt"}, 1, &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message,
                        "dsql_save: post.createdAt: a kept timestamp is written by the library");
}

typedef struct bad {
    int64_t id;
    char *when;
    char *also;
} bad;

static void descriptors_that_cannot_work(void **state)
{
    (void)state;
    dsql_error err;
    static const dsql_attr text_ts[] = {DSQL_ATTR(bad, id, DSQL_BIGINT, .primary_key = true),
                                        DSQL_ATTR(bad, when, DSQL_TEXT, DSQL_CREATED_AT)};
    static DSQL_MODEL(text_model, bad, "bad", text_ts);
    assert_int_equal(dsql_model_check(&text_model, &err), DSQL_EINVAL);
    assert_string_equal(err.message,
                        "dsql_model_check: model bad: attribute \"when\": a kept timestamp must be "
                        "DSQL_TIMESTAMPTZ or DSQL_TIMESTAMP");
    static const dsql_attr two[] = {DSQL_ATTR(bad, id, DSQL_BIGINT, .primary_key = true),
                                    DSQL_ATTR(bad, when, DSQL_TIMESTAMPTZ, DSQL_UPDATED_AT),
                                    DSQL_ATTR(bad, also, DSQL_TIMESTAMPTZ, DSQL_UPDATED_AT)};
    static DSQL_MODEL(two_model, bad, "bad", two);
    assert_int_equal(dsql_model_check(&two_model, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_model_check: model bad: two DSQL_UPDATED_AT attributes");
    static const dsql_attr dflt[] = {
        DSQL_ATTR(bad, id, DSQL_BIGINT, .primary_key = true),
        DSQL_ATTR(bad, when, DSQL_TIMESTAMPTZ, DSQL_CREATED_AT, .default_sql = "now()")};
    static DSQL_MODEL(dflt_model, bad, "bad", dflt);
    assert_int_equal(dsql_model_check(&dflt_model, &err), DSQL_EINVAL);
    assert_string_equal(err.message,
                        "dsql_model_check: model bad: attribute \"when\": a kept timestamp has no "
                        "default and is not a key (the library writes it)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(inserts_write_both),
        cmocka_unit_test(updates_move_updated_at_only),
        cmocka_unit_test(kept_timestamps_are_not_assigned),
        cmocka_unit_test(descriptors_that_cannot_work),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
