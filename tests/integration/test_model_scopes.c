/*
 * Scopes: a model's default scope applies to every read unless .unscoped; named scopes
 * apply when a query names them, their wheres ANDed with the query's, the query's own
 * order, attributes and limit winning; counts and find-and-count-all take the wheres;
 * writes are never scoped; bad scope names and tables are refused before sending.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "conn_util.h"

#define DB "dsql_t_scopes"

typedef struct item {
    int64_t id;
    char *name;
    char *status;
    int32_t price;
    dsql_row_state state;
} item;

static const dsql_attr item_attrs[] = {
    DSQL_ATTR(item, id, DSQL_BIGINT, .primary_key = true),
    DSQL_ATTR(item, name, DSQL_STRING(20)),
    DSQL_ATTR(item, status, DSQL_STRING(10)),
    DSQL_ATTR(item, price, DSQL_INTEGER),
};

static const dsql_scope item_scopes[] = {
    {.name = DSQL_DEFAULT_SCOPE,
     .where = DSQL_NE("status", DSQL_STATIC_STR("hidden")),
     DSQL_ORDER_BY(DSQL_ASC("id"))},
    {.name = "cheap",
     .where = DSQL_LT("price", DSQL_STATIC_INT(10)),
     DSQL_ORDER_BY(DSQL_ASC("price"))},
    {.name = "top2", DSQL_ORDER_BY(DSQL_DESC("price")), .limit = 2},
    {.name = "names", DSQL_ATTRIBUTES("name")},
    {.name = "sale", .where = DSQL_EQ("status", DSQL_STATIC_STR("sale"))},
};
static DSQL_MODEL_WITH(item_model, item, "item", item_attrs, DSQL_ROW_STATE(item, state),
                       DSQL_SCOPES(item_scopes));

static dsql_pool *pool;
static log_capture logs;

static int setup(void **state)
{
    (void)state;
    pool = model_db_open(DB, &logs);
    dsql_error err;
    assert_dsql_ok(dsql_create_table(pool, &item_model, &err), err);
    assert_dsql_ok(dsql_exec(pool,
                             "INSERT INTO item VALUES (1, 'pen', 'sale', 2), (2, 'ink', 'new', 8), "
                             "(3, 'desk', 'sale', 90), (4, 'lamp', 'hidden', 5), "
                             "(5, 'chair', 'new', 40)",
                             NULL, 0, NULL, &err),
                   err);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    model_db_close(DB, pool, &logs);
    return 0;
}

/* The ids found, as "1,2,3". */
static const char *ids(const dsql_query *q)
{
    static char out[128];
    dsql_error err;
    item *rows;
    size_t n;
    dsql_result *res;
    int rc = dsql_find_all(pool, &item_model, q, &rows, &n, &res, &err);
    if (rc)
        fail_msg("dsql_find_all: %s", err.message);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%lld", i ? "," : "",
                 (long long)rows[i].id);
    dsql_result_free(res);
    return out;
}

static void default_scope_and_unscoped(void **state)
{
    (void)state;
    assert_string_equal(ids(NULL), "1,2,3,5");
    assert_string_equal(ids(&(dsql_query){.unscoped = true, DSQL_ORDER_BY(DSQL_ASC("id"))}),
                        "1,2,3,4,5");
    /* The query's where is ANDed with the scope's: lamp stays hidden. */
    assert_string_equal(ids(&(dsql_query){.where = DSQL_LT("price", DSQL_INT(10))}), "1,2");
    assert_string_equal(ids(&(dsql_query){.where = DSQL_OR(DSQL_EQ("id", DSQL_INT(4)),
                                                           DSQL_EQ("id", DSQL_INT(5)))}),
                        "5");
    /* The query's own order wins. */
    assert_string_equal(ids(&(dsql_query){DSQL_ORDER_BY(DSQL_DESC("id"))}), "5,3,2,1");
    item *one;
    dsql_result *res;
    dsql_error err;
    assert_int_equal(dsql_find_by_pk(pool, &item_model, DSQL_INT(4), NULL, &one, &res, &err),
                     DSQL_ENOTFOUND);
    assert_dsql_ok(dsql_find_by_pk(pool, &item_model, DSQL_INT(4), &(dsql_query){.unscoped = true},
                                   &one, &res, &err),
                   err);
    assert_string_equal(one->name, "lamp");
    dsql_result_free(res);
    int64_t count;
    assert_dsql_ok(dsql_count(pool, &item_model, NULL, &count, &err), err);
    assert_int_equal(count, 4);
}

static void named_scopes_combine(void **state)
{
    (void)state;
    assert_string_equal(ids(&(dsql_query){DSQL_USE_SCOPES("cheap")}), "1,2");
    assert_string_equal(ids(&(dsql_query){DSQL_USE_SCOPES("cheap", "sale")}), "1");
    assert_string_equal(ids(&(dsql_query){DSQL_USE_SCOPES("top2")}), "3,5");
    /* The last scope's order wins over an earlier one's; the query's limit over a scope's. */
    assert_string_equal(ids(&(dsql_query){DSQL_USE_SCOPES("cheap", "top2")}), "2,1");
    assert_string_equal(ids(&(dsql_query){DSQL_USE_SCOPES("top2"), .limit = 3}), "3,5,2");
    assert_string_equal(ids(&(dsql_query){DSQL_USE_SCOPES("cheap"), .unscoped = true}), "1,4,2");
    /* A scope's attribute list: the rows know what they lack. */
    dsql_error err;
    item *rows;
    size_t n;
    dsql_result *res;
    assert_dsql_ok(dsql_find_all(pool, &item_model, &(dsql_query){DSQL_USE_SCOPES("names", "sale")},
                                 &rows, &n, &res, &err),
                   err);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].name, "pen");
    assert_null(rows[0].status);
    dsql_result_free(res);
    assert_true(cap_has(&logs, "SELECT \"id\", \"name\" FROM \"item\" WHERE (\"status\" <> $1 AND "
                               "\"status\" = $2) ORDER BY \"id\" ASC"));
    /* find-and-count-all: the page and the total under the same scopes. */
    int64_t total;
    assert_dsql_ok(dsql_find_and_count_all(pool, &item_model,
                                           &(dsql_query){DSQL_USE_SCOPES("sale"), .limit = 1},
                                           &rows, &n, &total, &res, &err),
                   err);
    assert_int_equal(n, 1);
    assert_int_equal(total, 2);
    dsql_result_free(res);
    dsql_result *agg;
    assert_dsql_ok(dsql_aggregate(pool, &item_model,
                                  &(dsql_aggregate_query){
                                      .aggs = (const dsql_agg[]){DSQL_AGG(DSQL_AGG_SUM, "price")},
                                      .n_aggs = 1},
                                  &agg, &err),
                   err);
    /* Aggregates take the default scope's where (lamp, 5, is hidden), and named ones'. */
    assert_string_equal(dsql_result_text(agg, 0, 0), "140");
    dsql_result_free(agg);
    assert_dsql_ok(dsql_aggregate(pool, &item_model,
                                  &(dsql_aggregate_query){
                                      .aggs = (const dsql_agg[]){DSQL_AGG(DSQL_AGG_SUM, "price")},
                                      .n_aggs = 1,
                                      DSQL_USE_SCOPES("sale")},
                                  &agg, &err),
                   err);
    assert_string_equal(dsql_result_text(agg, 0, 0), "92");
    dsql_result_free(agg);
    assert_dsql_ok(dsql_aggregate(pool, &item_model,
                                  &(dsql_aggregate_query){
                                      .aggs = (const dsql_agg[]){DSQL_AGG(DSQL_AGG_SUM, "price")},
                                      .n_aggs = 1,
                                      .unscoped = true},
                                  &agg, &err),
                   err);
    assert_string_equal(dsql_result_text(agg, 0, 0), "145");
    dsql_result_free(agg);
}

static void writes_are_not_scoped_and_bad_scopes_refused(void **state)
{
    (void)state;
    dsql_error err;
    uint64_t n = 0;
    dsql_assign set[] = {DSQL_SET("price", DSQL_INT(6))};
    assert_dsql_ok(dsql_update(pool, &item_model, set, 1, DSQL_EQ("id", DSQL_INT(4)), &n, &err),
                   err);
    assert_int_equal(n, 1); /* the hidden lamp: its where says so */
    assert_int_equal(admin_long("SELECT price FROM item WHERE id = 4"), 6);

    item *rows;
    size_t k;
    dsql_result *res;
    size_t mark = logs.len;
    assert_int_equal(dsql_find_all(pool, &item_model, &(dsql_query){DSQL_USE_SCOPES("dear")}, &rows,
                                   &k, &res, &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_find_all: model item has no scope \"dear\"");
    assert_true(logs.len == mark || !strstr(logs.text + mark, "SELECT"));

    const dsql_scope twice[] = {{.name = "a"}, {.name = "a"}};
    dsql_model m = item_model;
    m.scopes = twice;
    m.n_scopes = 2;
    assert_int_equal(dsql_model_check(&m, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_model_check: model item: scope \"a\" is declared twice");
    const dsql_scope unnamed[] = {{.where = NULL}};
    m.scopes = unnamed;
    m.n_scopes = 1;
    assert_int_equal(dsql_model_check(&m, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_model_check: model item: scope #0 has no name");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_scope_and_unscoped),
        cmocka_unit_test(named_scopes_combine),
        cmocka_unit_test(writes_are_not_scoped_and_bad_scopes_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
