/*
 * Paranoid models (DSQL_DELETED_AT): dsql_delete and dsql_delete_row mark rows; finds,
 * counts, aggregates, includes and updates skip them unless .with_deleted; dsql_restore
 * unmarks; dsql_delete_force deletes; an upsert revives; marking more rows than the row
 * cap works in chunks on a pool.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "conn_util.h"

#define DB "dsql_t_paranoid"

typedef struct post post;

typedef struct author {
    int64_t id;
    char *name;
    post *posts;
    size_t n_posts;
} author;

struct post {
    int64_t id;
    int64_t author_id;
    char *title;
    int32_t likes;
    char *deleted_at;
    int32_t version;
};

static const dsql_attr author_attrs[] = {
    DSQL_ATTR(author, id, DSQL_BIGINT, .primary_key = true),
    DSQL_ATTR(author, name, DSQL_STRING(40)),
};
static DSQL_MODEL(author_model, author, "author", author_attrs);

static const dsql_attr post_attrs[] = {
    DSQL_ATTR(post, id, DSQL_BIGINT, .primary_key = true),
    DSQL_ATTR_AS(post, author_id, "authorId", DSQL_BIGINT),
    DSQL_ATTR(post, title, DSQL_STRING(80)),
    DSQL_ATTR(post, likes, DSQL_INTEGER),
    DSQL_ATTR_AS(post, deleted_at, "deletedAt", DSQL_TIMESTAMPTZ, DSQL_DELETED_AT),
    DSQL_ATTR(post, version, DSQL_INTEGER, DSQL_VERSION),
};
static DSQL_MODEL(post_model, post, "post", post_attrs);

static const dsql_assoc author_posts =
    DSQL_ASSOC_HAS_MANY(author, posts, n_posts, .source = &author_model, .target = &post_model,
                        .foreign_key = "authorId");

static dsql_pool *pool;
static log_capture logs;

static int setup(void **state)
{
    (void)state;
    pool = model_db_open(DB, &logs);
    dsql_error err;
    assert_dsql_ok(dsql_create_table(pool, &author_model, &err), err);
    assert_dsql_ok(dsql_create_table(pool, &post_model, &err), err);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    model_db_close(DB, pool, &logs);
    return 0;
}

static void reset(void)
{
    dsql_error err;
    admin_exec("DELETE FROM post"); /* straight to the server: may be more than 3,000 rows */
    admin_exec("DELETE FROM author");
    assert_dsql_ok(
        dsql_exec(pool, "INSERT INTO author VALUES (1, 'Ann'), (2, 'Bob')", NULL, 0, NULL, &err),
        err);
    post rows[4] = {{.id = 1, .author_id = 1, .title = "a", .likes = 1},
                    {.id = 2, .author_id = 1, .title = "b", .likes = 2},
                    {.id = 3, .author_id = 1, .title = "c", .likes = 3},
                    {.id = 4, .author_id = 2, .title = "d", .likes = 4}};
    assert_dsql_ok(dsql_bulk_create(pool, &post_model, rows, 4, NULL, NULL, &err), err);
}

static void delete_marks_and_finds_skip(void **state)
{
    (void)state;
    reset();
    dsql_error err;
    assert_int_equal(admin_long("SELECT count(*) FROM post WHERE \"deletedAt\" IS NULL"), 4);
    uint64_t n = 0;
    assert_dsql_ok(dsql_delete(pool, &post_model, DSQL_LTE("likes", DSQL_INT(2)), &n, &err), err);
    assert_int_equal(n, 2);
    /* Marked, not deleted; the version moved. */
    assert_int_equal(admin_long("SELECT count(*) FROM post"), 4);
    assert_int_equal(admin_long("SELECT count(*) FROM post WHERE \"deletedAt\" IS NOT NULL AND "
                                "version = 1"),
                     2);
    /* Deleting them again marks nothing more. */
    assert_dsql_ok(dsql_delete(pool, &post_model, DSQL_LTE("likes", DSQL_INT(2)), &n, &err), err);
    assert_int_equal(n, 0);

    int64_t count = -1;
    assert_dsql_ok(dsql_count(pool, &post_model, NULL, &count, &err), err);
    assert_int_equal(count, 2);
    assert_dsql_ok(dsql_count(pool, &post_model, DSQL_EQ("id", DSQL_INT(1)), &count, &err), err);
    assert_int_equal(count, 0);
    post *rows;
    size_t k;
    dsql_result *res;
    assert_dsql_ok(dsql_find_all(pool, &post_model, &(dsql_query){DSQL_ORDER_BY(DSQL_ASC("id"))},
                                 &rows, &k, &res, &err),
                   err);
    assert_int_equal(k, 2);
    assert_int_equal(rows[0].id, 3);
    assert_null(rows[0].deleted_at);
    dsql_result_free(res);
    /* An OR in the where does not escape the filter. */
    assert_dsql_ok(dsql_find_all(pool, &post_model,
                                 &(dsql_query){.where = DSQL_OR(DSQL_EQ("id", DSQL_INT(1)),
                                                                DSQL_EQ("id", DSQL_INT(3)))},
                                 &rows, &k, &res, &err),
                   err);
    assert_int_equal(k, 1);
    assert_int_equal(rows[0].id, 3);
    dsql_result_free(res);
    assert_dsql_ok(dsql_find_all(pool, &post_model,
                                 &(dsql_query){.with_deleted = true, DSQL_ORDER_BY(DSQL_ASC("id"))},
                                 &rows, &k, &res, &err),
                   err);
    assert_int_equal(k, 4);
    assert_non_null(rows[0].deleted_at);
    dsql_result_free(res);
    post *one;
    assert_int_equal(dsql_find_by_pk(pool, &post_model, DSQL_INT(1), NULL, &one, &res, &err),
                     DSQL_ENOTFOUND);
    /* Aggregates skip them too. */
    dsql_result *agg;
    assert_dsql_ok(dsql_aggregate(pool, &post_model,
                                  &(dsql_aggregate_query){
                                      .aggs = (const dsql_agg[]){DSQL_AGG(DSQL_AGG_SUM, "likes")},
                                      .n_aggs = 1},
                                  &agg, &err),
                   err);
    assert_string_equal(dsql_result_text(agg, 0, 0), "7");
    dsql_result_free(agg);
    assert_dsql_ok(dsql_aggregate(pool, &post_model,
                                  &(dsql_aggregate_query){
                                      .aggs = (const dsql_agg[]){DSQL_AGG(DSQL_AGG_SUM, "likes")},
                                      .n_aggs = 1,
                                      .with_deleted = true},
                                  &agg, &err),
                   err);
    assert_string_equal(dsql_result_text(agg, 0, 0), "10");
    dsql_result_free(agg);
    /* Includes skip them. */
    author *a;
    assert_dsql_ok(dsql_find_one(pool, &author_model,
                                 &(dsql_query){.where = DSQL_EQ("id", DSQL_INT(1)),
                                               DSQL_INCLUDES({.assoc = &author_posts})},
                                 &a, &res, &err),
                   err);
    assert_int_equal(a->n_posts, 1);
    assert_int_equal(a->posts[0].id, 3);
    dsql_result_free(res);
    assert_dsql_ok(dsql_find_one(pool, &author_model,
                                 &(dsql_query){.where = DSQL_EQ("id", DSQL_INT(1)),
                                               .with_deleted = true,
                                               DSQL_INCLUDES({.assoc = &author_posts})},
                                 &a, &res, &err),
                   err);
    assert_int_equal(a->n_posts, 3);
    dsql_result_free(res);
    /* Updates do not reach marked rows. */
    dsql_assign set[] = {DSQL_SET("title", DSQL_STR("z"))};
    assert_dsql_ok(dsql_update(pool, &post_model, set, 1, DSQL_NOT_NULL("id"), &n, &err), err);
    assert_int_equal(n, 2);
    assert_int_equal(admin_long("SELECT count(*) FROM post WHERE title = 'z'"), 2);
    assert_int_equal(admin_long("SELECT count(*) FROM post WHERE title = 'z' AND "
                                "\"deletedAt\" IS NOT NULL"),
                     0);
}

static void restore_force_row_and_upsert(void **state)
{
    (void)state;
    reset();
    dsql_error err;
    uint64_t n = 0;
    assert_dsql_ok(dsql_delete(pool, &post_model, DSQL_NOT_NULL("id"), &n, &err), err);
    assert_int_equal(n, 4);
    assert_dsql_ok(dsql_restore(pool, &post_model, DSQL_EQ("authorId", DSQL_INT(1)), &n, &err),
                   err);
    assert_int_equal(n, 3);
    assert_int_equal(admin_long("SELECT count(*) FROM post WHERE \"deletedAt\" IS NULL"), 3);
    /* A row by itself. */
    post p = {.id = 2};
    assert_dsql_ok(dsql_delete_row(pool, &post_model, &p, &err), err);
    assert_int_equal(admin_long("SELECT count(*) FROM post WHERE id = 2 AND \"deletedAt\" IS NOT "
                                "NULL"),
                     1);
    assert_int_equal(dsql_delete_row(pool, &post_model, &p, &err), DSQL_ENOTFOUND);
    /* An upsert of a marked row brings it back with the new values. */
    post up = {.id = 2, .author_id = 1, .title = "again", .likes = 9};
    assert_dsql_ok(dsql_upsert(pool, &post_model, &up, NULL, NULL, &err), err);
    assert_int_equal(admin_long("SELECT count(*) FROM post WHERE id = 2 AND \"deletedAt\" IS NULL "
                                "AND title = 'again'"),
                     1);
    /* Forced: gone, marked or not. */
    assert_dsql_ok(dsql_delete_force(pool, &post_model, DSQL_GTE("id", DSQL_INT(3)), &n, &err),
                   err);
    assert_int_equal(n, 2);
    assert_int_equal(admin_long("SELECT count(*) FROM post"), 2);
    /* Assigning the mark is the library's. */
    dsql_assign bad[] = {DSQL_SET("deletedAt", DSQL_STR("2020-01-01 00:00:00Z"))};
    assert_int_equal(dsql_update(pool, &post_model, bad, 1, DSQL_EQ("id", DSQL_INT(1)), &n, &err),
                     DSQL_EINVAL);
    assert_string_equal(
        err.message,
        "dsql_update: update: post.deletedAt: a kept timestamp is written by the library");
    dsql_assign internal[] = {{.attr = "deletedAt", .op = (dsql_assign_op)0x7001}};
    assert_int_equal(
        dsql_update(pool, &post_model, internal, 1, DSQL_EQ("id", DSQL_INT(1)), &n, &err),
        DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_update: assignment 1: unknown op 28673");
    assert_int_equal(admin_long("SELECT count(*) FROM post WHERE \"deletedAt\" IS NOT NULL"), 0);
    /* Restore on a model that is not paranoid. */
    assert_int_equal(dsql_restore(pool, &author_model, DSQL_NOT_NULL("id"), &n, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_restore: model author is not paranoid (it has no "
                                     "DSQL_DELETED_AT attribute)");
}

static void marking_past_the_row_cap_works_in_chunks(void **state)
{
    (void)state;
    dsql_error err;
    assert_dsql_ok(dsql_exec(pool, "DELETE FROM post", NULL, 0, NULL, &err), err);
    /* Straight to the server (one transaction of 3,500 rows is more than DSQL takes). */
    admin_exec("INSERT INTO post (id, \"authorId\", title, likes, version) "
               "SELECT g, 1, 't', 0, 0 FROM generate_series(1, 3500) g");
    uint64_t n = 0;
    assert_dsql_ok(dsql_delete(pool, &post_model, DSQL_NOT_NULL("id"), &n, &err), err);
    assert_int_equal(n, 3500);
    assert_int_equal(admin_long("SELECT count(*) FROM post WHERE \"deletedAt\" IS NOT NULL"), 3500);
    assert_dsql_ok(dsql_restore(pool, &post_model, DSQL_NOT_NULL("id"), &n, &err), err);
    assert_int_equal(n, 3500);
    assert_int_equal(admin_long("SELECT count(*) FROM post WHERE \"deletedAt\" IS NULL"), 3500);
}

static int delete_two_in_tx(dsql_conn *conn, void *ctx, dsql_error *err)
{
    dsql_result **res = ctx;
    author *rows;
    size_t n;
    return dsql_delete_returning(conn, &author_model, DSQL_GTE("id", DSQL_INT(10)), &rows, &n, res,
                                 err);
}

static void delete_returning_gives_the_rows(void **state)
{
    (void)state;
    reset();
    dsql_error err;
    author *authors;
    size_t n;
    dsql_result *res;
    assert_dsql_ok(dsql_delete_returning(pool, &author_model, DSQL_EQ("name", DSQL_STR("Bob")),
                                         &authors, &n, &res, &err),
                   err);
    assert_int_equal(n, 1);
    assert_int_equal(authors[0].id, 2);
    assert_string_equal(authors[0].name, "Bob");
    dsql_result_free(res);
    assert_int_equal(admin_long("SELECT count(*) FROM author"), 1);
    /* Nothing matched: an empty result. */
    assert_dsql_ok(dsql_delete_returning(pool, &author_model, DSQL_EQ("name", DSQL_STR("Bob")),
                                         &authors, &n, &res, &err),
                   err);
    assert_int_equal(n, 0);
    dsql_result_free(res);
    /* A paranoid model: the rows as marked. */
    post *posts;
    assert_dsql_ok(dsql_delete_returning(pool, &post_model, DSQL_EQ("authorId", DSQL_INT(1)),
                                         &posts, &n, &res, &err),
                   err);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(posts[i].deleted_at);
        assert_int_equal(posts[i].version, 1);
    }
    dsql_result_free(res);
    assert_int_equal(admin_long("SELECT count(*) FROM post"), 4);
    /* Inside the caller's transaction (tallied against the row cap). */
    admin_exec("INSERT INTO author VALUES (10, 'X'), (11, 'Y')");
    res = NULL;
    assert_dsql_ok(dsql_transaction(pool, delete_two_in_tx, &res, NULL, NULL, &err), err);
    assert_int_equal(dsql_result_rows(res), 2);
    dsql_result_free(res);
    assert_int_equal(admin_long("SELECT count(*) FROM author WHERE id >= 10"), 0);
    /* Past the row cap on a pool: refused whole, nothing deleted. */
    admin_exec("DELETE FROM post");
    admin_exec("INSERT INTO post (id, \"authorId\", title, likes, version) "
               "SELECT g, 1, 't', 0, 0 FROM generate_series(1, 3001) g");
    if (test_through_dsql_local()) {
        assert_int_equal(
            dsql_delete_returning(pool, &post_model, DSQL_NOT_NULL("id"), &posts, &n, &res, &err),
            DSQL_ELIMIT);
        assert_int_equal(admin_long("SELECT count(*) FROM post WHERE \"deletedAt\" IS NULL"), 3001);
    }
    admin_exec("DELETE FROM post");
}

static void declarations_are_checked(void **state)
{
    (void)state;
    typedef struct bad {
        int64_t id;
        char *gone;
        char *gone2;
        int64_t n;
    } bad;
    const dsql_attr not_null[] = {
        DSQL_ATTR(bad, id, DSQL_BIGINT, .primary_key = true),
        DSQL_ATTR(bad, gone, DSQL_TIMESTAMPTZ, DSQL_DELETED_AT, .not_null = true)};
    const dsql_attr two[] = {DSQL_ATTR(bad, id, DSQL_BIGINT, .primary_key = true),
                             DSQL_ATTR(bad, gone, DSQL_TIMESTAMPTZ, DSQL_DELETED_AT),
                             DSQL_ATTR(bad, gone2, DSQL_TIMESTAMPTZ, DSQL_DELETED_AT)};
    const dsql_attr on_int[] = {DSQL_ATTR(bad, id, DSQL_BIGINT, .primary_key = true),
                                DSQL_ATTR(bad, n, DSQL_BIGINT, DSQL_DELETED_AT)};
    dsql_model m = {.magic = DSQL_MODEL_MAGIC,
                    .name = "bad",
                    .table = "bad",
                    .struct_size = sizeof(bad),
                    .attrs = not_null,
                    .n_attrs = 2};
    dsql_error err;
    assert_int_equal(dsql_model_check(&m, &err), DSQL_EINVAL);
    assert_string_equal(
        err.message, "dsql_model_check: model bad: attribute \"gone\": DSQL_DELETED_AT is NULL on "
                     "every row not deleted: it cannot be NOT NULL");
    m.attrs = two;
    m.n_attrs = 3;
    assert_int_equal(dsql_model_check(&m, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_model_check: model bad: two DSQL_DELETED_AT attributes");
    m.attrs = on_int;
    m.n_attrs = 2;
    assert_int_equal(dsql_model_check(&m, &err), DSQL_EINVAL);
    assert_string_equal(err.message,
                        "dsql_model_check: model bad: attribute \"n\": a kept timestamp must be "
                        "DSQL_TIMESTAMPTZ or DSQL_TIMESTAMP");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(delete_marks_and_finds_skip),
        cmocka_unit_test(restore_force_row_and_upsert),
        cmocka_unit_test(marking_past_the_row_cap_works_in_chunks),
        cmocka_unit_test(delete_returning_gives_the_rows),
        cmocka_unit_test(declarations_are_checked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
