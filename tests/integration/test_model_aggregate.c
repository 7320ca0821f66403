/*
 * Aggregates and pages with their total: dsql_aggregate (count, count distinct, sum, min,
 * max, avg; grouped; HAVING; exact values) and dsql_find_and_count_all (one round trip,
 * one snapshot), with bad input refused before anything is sent.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "conn_util.h"

#define DB "dsql_t_aggregate"

typedef struct product {
    char *name;
    char *category;
} product;

static const dsql_attr product_attrs[] = {
    DSQL_ATTR(product, name, DSQL_STRING(10), .primary_key = true),
    DSQL_ATTR(product, category, DSQL_STRING(10)),
};
static DSQL_MODEL(product_model, product, "product", product_attrs);

typedef struct sale {
    product *prod; /* the joined association's member */
    int64_t id;
    char *region;
    char *product;
    int32_t qty;
    char *price; /* NUMERIC(10,2) */
    double weight;
} sale;

static const dsql_attr sale_attrs[] = {
    DSQL_ATTR(sale, id, DSQL_BIGINT, .primary_key = true),
    DSQL_ATTR(sale, region, DSQL_STRING(10), .not_null = true),
    DSQL_ATTR(sale, product, DSQL_STRING(10), .not_null = true),
    DSQL_ATTR(sale, qty, DSQL_INTEGER, .not_null = true),
    DSQL_ATTR(sale, price, DSQL_NUMERIC(10, 2), .not_null = true),
    DSQL_ATTR(sale, weight, DSQL_DOUBLE, .not_null = true),
};
static DSQL_MODEL(sale_model, sale, "sale", sale_attrs);

static const dsql_assoc sale_product = DSQL_ASSOC_BELONGS_TO(
    sale, prod, .source = &sale_model, .target = &product_model, .foreign_key = "product");

static dsql_pool *pool;
static log_capture logs;

static int setup(void **state)
{
    (void)state;
    admin_exec("DROP DATABASE IF EXISTS " DB " WITH (FORCE)");
    admin_exec("CREATE DATABASE " DB);
    cap_init(&logs);
    pool = TEST_POOL(.database = DB, .logs = &logs);
    dsql_error err;
    assert_dsql_ok(dsql_create_table(pool, &sale_model, &err), err);
    assert_dsql_ok(dsql_create_table(pool, &product_model, &err), err);
    assert_dsql_ok(dsql_exec(pool,
                             "INSERT INTO product VALUES ('apple', 'pome'), ('pear', 'pome'), "
                             "('plum', 'stone')",
                             NULL, 0, NULL, &err),
                   err);
    assert_dsql_ok(
        dsql_exec(pool,
                  "INSERT INTO sale VALUES "
                  "(1, 'north', 'apple', 3, 1.10, 0.5), (2, 'north', 'apple', 2, 1.20, 0.5), "
                  "(3, 'north', 'pear', 5, 2.00, 1.0), (4, 'south', 'apple', 1, 1.00, 0.25), "
                  "(5, 'south', 'plum', 7, 0.33, 2.0), (6, 'east', 'plum', 4, 0.34, 1.5)",
                  NULL, 0, NULL, &err),
        err);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dsql_pool_close(pool);
    cap_free(&logs);
    admin_exec("DROP DATABASE IF EXISTS " DB " WITH (FORCE)");
    return 0;
}

static const char *cell(dsql_result *res, size_t row, const char *col)
{
    int c = dsql_result_col_index(res, col);
    assert_true(c >= 0);
    return dsql_result_text(res, row, (size_t)c);
}

static void totals_without_groups(void **state)
{
    (void)state;
    dsql_error err;
    dsql_result *res;
    const dsql_agg aggs[] = {
        DSQL_AGG(DSQL_AGG_COUNT, NULL),  DSQL_AGG(DSQL_AGG_COUNT_DISTINCT, "product"),
        DSQL_AGG(DSQL_AGG_SUM, "qty"),   DSQL_AGG(DSQL_AGG_SUM, "price"),
        DSQL_AGG(DSQL_AGG_MIN, "price"), DSQL_AGG(DSQL_AGG_MAX, "region"),
        DSQL_AGG(DSQL_AGG_AVG, "qty")};
    assert_dsql_ok(dsql_aggregate(pool, &sale_model,
                                  &(dsql_aggregate_query){.aggs = aggs, .n_aggs = 7}, &res, &err),
                   err);
    assert_int_equal(dsql_result_rows(res), 1);
    assert_string_equal(cell(res, 0, "count"), "6");
    assert_string_equal(cell(res, 0, "count_distinct_product"), "3");
    assert_string_equal(cell(res, 0, "sum_qty"), "22");
    assert_string_equal(cell(res, 0, "sum_price"), "5.97"); /* exact: numeric */
    assert_string_equal(cell(res, 0, "min_price"), "0.33");
    assert_string_equal(cell(res, 0, "max_region"), "south");
    assert_string_equal(cell(res, 0, "avg_qty"), "3.6666666666666667");
    dsql_result_free(res);
    /* Over a where that matches nothing: count 0, sum NULL. */
    assert_dsql_ok(
        dsql_aggregate(pool, &sale_model,
                       &(dsql_aggregate_query){
                           .where = DSQL_EQ("region", DSQL_STR("west")), .aggs = aggs, .n_aggs = 3},
                       &res, &err),
        err);
    assert_string_equal(cell(res, 0, "count"), "0");
    assert_true(dsql_result_is_null(res, 0, 2));
    dsql_result_free(res);
}

static void grouped_with_having(void **state)
{
    (void)state;
    dsql_error err;
    dsql_result *res;
    const dsql_agg aggs[] = {DSQL_AGG(DSQL_AGG_COUNT, NULL), DSQL_AGG(DSQL_AGG_SUM, "qty")};
    const dsql_having having[] = {{.agg = 1, .op = DSQL_OP_GTE, .value = DSQL_INT(5)}};
    dsql_aggregate_query q = {.where = DSQL_NE("product", DSQL_STR("pear")),
                              .group_by = (const char *const[]){"region"},
                              .n_group_by = 1,
                              .aggs = aggs,
                              .n_aggs = 2,
                              .having = having,
                              .n_having = 1};
    assert_dsql_ok(dsql_aggregate(pool, &sale_model, &q, &res, &err), err);
    /* east 4 (dropped by HAVING), north 5, south 8: in group order. */
    assert_int_equal(dsql_result_rows(res), 2);
    assert_string_equal(cell(res, 0, "region"), "north");
    assert_string_equal(cell(res, 0, "sum_qty"), "5");
    assert_string_equal(cell(res, 1, "region"), "south");
    assert_string_equal(cell(res, 1, "count"), "2");
    int64_t v;
    assert_dsql_ok(dsql_result_int(res, 1, 2, &v, &err), err);
    assert_int_equal(v, 8);
    dsql_result_free(res);
    /* Two group attributes and a limit. */
    q = (dsql_aggregate_query){.group_by = (const char *const[]){"region", "product"},
                               .n_group_by = 2,
                               .aggs = aggs,
                               .n_aggs = 1,
                               .limit = 2};
    assert_dsql_ok(dsql_aggregate(pool, &sale_model, &q, &res, &err), err);
    assert_int_equal(dsql_result_rows(res), 2);
    assert_string_equal(cell(res, 0, "region"), "east");
    assert_string_equal(cell(res, 1, "product"), "apple");
    assert_string_equal(cell(res, 1, "count"), "2");
    dsql_result_free(res);
}

static void page_and_total_in_one_round_trip(void **state)
{
    (void)state;
    dsql_error err;
    dsql_result *res;
    sale *s;
    size_t n;
    int64_t total;
    dsql_pool_stats before, after;
    dsql_pool_get_stats(pool, &before);
    dsql_query q = {.where = DSQL_EQ("product", DSQL_STR("apple")),
                    DSQL_ORDER_BY(DSQL_ASC("id")),
                    .limit = 2,
                    .offset = 1};
    assert_dsql_ok(dsql_find_and_count_all(pool, &sale_model, &q, &s, &n, &total, &res, &err), err);
    dsql_pool_get_stats(pool, &after);
    assert_int_equal(total, 3);
    assert_int_equal(n, 2);
    assert_int_equal(s[0].id, 2);
    assert_int_equal(s[1].id, 4);
    assert_string_equal(s[1].price, "1.00");
    dsql_result_free(res);
    assert_int_equal(after.round_trips - before.round_trips, 1);
    /* Past the end: no rows, the total all the same. */
    q.offset = 10;
    assert_dsql_ok(dsql_find_and_count_all(pool, &sale_model, &q, &s, &n, &total, &res, &err), err);
    assert_int_equal(n, 0);
    assert_int_equal(total, 3);
    dsql_result_free(res);
}

static void bad_aggregates_are_refused_before_sending(void **state)
{
    (void)state;
    dsql_error err;
    dsql_result *res;
    size_t mark = logs.len;
    const dsql_agg sum_text[] = {DSQL_AGG(DSQL_AGG_SUM, "region")};
    assert_int_equal(dsql_aggregate(pool, &sale_model,
                                    &(dsql_aggregate_query){.aggs = sum_text, .n_aggs = 1}, &res,
                                    &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_aggregate: sale.region: sum needs a numeric attribute");
    assert_null(res);
    const dsql_agg unknown[] = {DSQL_AGG(DSQL_AGG_MAX, "colour")};
    assert_int_equal(dsql_aggregate(pool, &sale_model,
                                    &(dsql_aggregate_query){.aggs = unknown, .n_aggs = 1}, &res,
                                    &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_aggregate: model sale has no attribute \"colour\"");
    assert_int_equal(dsql_aggregate(pool, &sale_model, &(dsql_aggregate_query){0}, &res, &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_aggregate: sale: no aggregate asked for");
    const dsql_agg count[] = {DSQL_AGG(DSQL_AGG_COUNT, NULL)};
    const dsql_having bad[] = {{.agg = 3, .op = DSQL_OP_GT, .value = DSQL_INT(1)}};
    assert_int_equal(dsql_aggregate(pool, &sale_model,
                                    &(dsql_aggregate_query){
                                        .aggs = count, .n_aggs = 1, .having = bad, .n_having = 1},
                                    &res, &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_aggregate: sale: having 1 names aggregate 4 of 1");
    const dsql_agg avg_none[] = {DSQL_AGG(DSQL_AGG_AVG, NULL)};
    assert_int_equal(dsql_aggregate(pool, &sale_model,
                                    &(dsql_aggregate_query){.aggs = avg_none, .n_aggs = 1}, &res,
                                    &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_aggregate: sale: aggregate 1 (avg) needs an attribute");
    assert_true(logs.len == mark || !strstr(logs.text + mark, "SELECT"));
}

/* Grouped by a joined association's attribute ("prod.category"), in one statement. */
static void grouped_by_a_joined_attribute(void **state)
{
    (void)state;
    dsql_error err;
    dsql_result *res;
    const dsql_agg aggs[] = {DSQL_AGG(DSQL_AGG_COUNT, NULL), DSQL_AGG(DSQL_AGG_SUM, "qty"),
                             DSQL_AGG(DSQL_AGG_COUNT_DISTINCT, "prod.name")};
    dsql_aggregate_query q = {.join = (const dsql_assoc *const[]){&sale_product},
                              .n_join = 1,
                              .group_by = (const char *const[]){"prod.category"},
                              .n_group_by = 1,
                              .aggs = aggs,
                              .n_aggs = 3,
                              .where = DSQL_NE("region", DSQL_STR("east"))};
    assert_dsql_ok(dsql_aggregate(pool, &sale_model, &q, &res, &err), err);
    assert_true(cap_has(&logs, "SELECT \"prod\".\"category\" AS \"prod.category\", count(*) AS "
                               "\"count\", sum(\"sale\".\"qty\") AS \"sum_qty\", count(DISTINCT "
                               "\"prod\".\"name\") AS \"count_distinct_prod.name\" FROM \"sale\" "
                               "LEFT OUTER JOIN \"product\" AS \"prod\" ON \"prod\".\"name\" = "
                               "\"sale\".\"product\" WHERE \"sale\".\"region\" <> $1 GROUP BY "
                               "\"prod\".\"category\" ORDER BY \"prod\".\"category\""));
    assert_int_equal(dsql_result_rows(res), 2);
    assert_string_equal(cell(res, 0, "prod.category"), "pome");
    assert_string_equal(cell(res, 0, "count"), "4");
    assert_string_equal(cell(res, 0, "sum_qty"), "11");
    assert_string_equal(cell(res, 0, "count_distinct_prod.name"), "2");
    assert_string_equal(cell(res, 1, "prod.category"), "stone");
    assert_string_equal(cell(res, 1, "count"), "1");
    assert_string_equal(cell(res, 1, "sum_qty"), "7");
    dsql_result_free(res);
    /* Names that do not resolve. */
    q.group_by = (const char *const[]){"owner.city"};
    assert_int_equal(dsql_aggregate(pool, &sale_model, &q, &res, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_aggregate: group by: sale: \"owner\" in \"owner.city\" "
                                     "is no association in the query's join list");
    q.group_by = (const char *const[]){"prod.colour"};
    assert_int_equal(dsql_aggregate(pool, &sale_model, &q, &res, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_aggregate: join prod: group by: model "
                                     "product has no attribute \"colour\"");
    q.group_by = (const char *const[]){"prod.category"};
    assert_int_equal(dsql_aggregate(pool, &product_model, &q, &res, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_aggregate: product: join prod starts from model sale");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(totals_without_groups),
        cmocka_unit_test(grouped_with_having),
        cmocka_unit_test(page_and_total_in_one_round_trip),
        cmocka_unit_test(bad_aggregates_are_refused_before_sending),
        cmocka_unit_test(grouped_by_a_joined_attribute),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
