/*
 * Upserts and duplicates: dsql_upsert (INSERT ... ON CONFLICT (key) DO UPDATE / DO NOTHING,
 * on the primary key, a unique attribute or a unique index, all or some attributes
 * updated), bulk create that skips or updates rows whose key is taken, concurrent upserts
 * of one key, and descriptions refused before anything is sent.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "conn_util.h"

#define DB "dsql_t_upsert"

typedef struct item {
    int64_t id;
    char *sku; /* unique */
    char *name;
    char *shop; /* (shop, code) is a unique index */
    char *code;
    int32_t stock;
    bool has_stock;
} item;

static const dsql_attr item_attrs[] = {
    DSQL_ATTR(item, id, DSQL_BIGINT, .primary_key = true),
    DSQL_ATTR(item, sku, DSQL_STRING(20), .unique = true),
    DSQL_ATTR(item, name, DSQL_STRING(40)),
    DSQL_ATTR(item, shop, DSQL_STRING(20)),
    DSQL_ATTR(item, code, DSQL_STRING(20)),
    DSQL_ATTR(item, stock, DSQL_INTEGER, DSQL_HAS(item, has_stock)),
};
static const dsql_index item_indexes[] = {DSQL_INDEX("item_shop_code_uq", true, "shop", "code")};
static DSQL_MODEL_INDEXED(item_model, item, "item", item_attrs, item_indexes);

static dsql_pool *pool;
static log_capture logs;

static int setup(void **state)
{
    (void)state;
    pool = model_db_open(DB, &logs);
    dsql_error err;
    const dsql_model *m[] = {&item_model};
    assert_dsql_ok(dsql_sync(pool, m, 1, NULL, 0, NULL, &err), err);
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
    assert_dsql_ok(dsql_exec(pool, "DELETE FROM item", NULL, 0, NULL, &err), err);
    assert_dsql_ok(dsql_exec(pool,
                             "INSERT INTO item VALUES (1, 'A-1', 'apple', 'north', 'x1', 5), "
                             "(2, 'B-2', 'banana', 'north', 'x2', 7)",
                             NULL, 0, NULL, &err),
                   err);
}

static void upsert_inserts_then_updates(void **state)
{
    (void)state;
    reset();
    dsql_error err;
    dsql_result *stored;
    item fresh = {.id = 3,
                  .sku = "C-3",
                  .name = "cherry",
                  .shop = "south",
                  .code = "y1",
                  .stock = 9,
                  .has_stock = true};
    assert_dsql_ok(dsql_upsert(pool, &item_model, &fresh, NULL, &stored, &err), err);
    size_t n;
    item *r = dsql_result_models(stored, &n);
    assert_int_equal(n, 1);
    assert_string_equal(r->name, "cherry");
    dsql_result_free(stored);
    /* The same key again: the row there takes every other attribute. */
    item again = {.id = 3, .sku = "C-3b", .name = "cherries", .shop = "south", .code = "y9"};
    assert_dsql_ok(dsql_upsert(pool, &item_model, &again, NULL, &stored, &err), err);
    r = dsql_result_models(stored, &n);
    assert_int_equal(n, 1);
    assert_string_equal(r->name, "cherries");
    assert_string_equal(r->sku, "C-3b");
    assert_false(r->has_stock); /* NULL taken from the new row */
    dsql_result_free(stored);
    assert_int_equal(admin_long("SELECT count(*) FROM item"), 3);
    assert_true(cap_has(&logs, "ON CONFLICT (\"id\") DO UPDATE SET \"sku\" = EXCLUDED.\"sku\", "
                               "\"name\" = EXCLUDED.\"name\""));
}

static void upsert_on_other_keys_and_some_attributes(void **state)
{
    (void)state;
    reset();
    dsql_error err;
    dsql_result *stored;
    size_t n;
    /* On the unique sku: only stock is taken; the row keeps its id and name. */
    item by_sku = {.id = 99, .sku = "A-1", .name = "ignored", .stock = 50, .has_stock = true};
    dsql_conflict c = {.action = DSQL_CONFLICT_UPDATE,
                       .target = (const char *const[]){"sku"},
                       .n_target = 1,
                       .update = (const char *const[]){"stock"},
                       .n_update = 1};
    assert_dsql_ok(dsql_upsert(pool, &item_model, &by_sku, &c, &stored, &err), err);
    item *r = dsql_result_models(stored, &n);
    assert_int_equal(n, 1);
    assert_int_equal(r->id, 1);
    assert_string_equal(r->name, "apple");
    assert_int_equal(r->stock, 50);
    dsql_result_free(stored);
    /* On the unique index (shop, code), named in any order. */
    item by_pair = {.id = 98, .sku = "Z-9", .name = "banana!", .shop = "north", .code = "x2"};
    c = (dsql_conflict){.action = DSQL_CONFLICT_UPDATE,
                        .target = (const char *const[]){"code", "shop"},
                        .n_target = 2,
                        .update = (const char *const[]){"name"},
                        .n_update = 1};
    assert_dsql_ok(dsql_upsert(pool, &item_model, &by_pair, &c, NULL, &err), err);
    assert_int_equal(admin_long("SELECT count(*) FROM item WHERE id = 2 AND name = 'banana!'"), 1);
    /* IGNORE: the row there is left alone, and nothing is returned. */
    item dup = {.id = 1, .sku = "A-1", .name = "other"};
    c = (dsql_conflict){.action = DSQL_CONFLICT_IGNORE};
    assert_dsql_ok(dsql_upsert(pool, &item_model, &dup, &c, &stored, &err), err);
    dsql_result_models(stored, &n);
    assert_int_equal(n, 0);
    dsql_result_free(stored);
    assert_int_equal(admin_long("SELECT count(*) FROM item WHERE name = 'apple'"), 1);
}

static void bulk_create_skips_or_updates_duplicates(void **state)
{
    (void)state;
    reset();
    dsql_error err;
    item rows[] = {{.id = 1, .sku = "A-1", .name = "apple2"},
                   {.id = 10, .sku = "K-10", .name = "kiwi"},
                   {.id = 11, .sku = "L-11", .name = "lime"}};
    dsql_bulk_options o = {.on_conflict = {.action = DSQL_CONFLICT_IGNORE}};
    dsql_bulk_report rep;
    assert_dsql_ok(dsql_bulk_create(pool, &item_model, rows, 3, &o, &rep, &err), err);
    assert_int_equal(rep.rows_done, 3);
    assert_int_equal(admin_long("SELECT count(*) FROM item"), 4);
    assert_int_equal(admin_long("SELECT count(*) FROM item WHERE name = 'apple'"), 1);
    /* Without an option a duplicate is the error it always was, and the chunk lands not. */
    item again[] = {{.id = 12, .sku = "M-12", .name = "mango"}, {.id = 1, .sku = "A-1"}};
    assert_int_equal(dsql_bulk_create(pool, &item_model, again, 2, NULL, &rep, &err),
                     DSQL_ECONSTRAINT);
    assert_int_equal(admin_long("SELECT count(*) FROM item WHERE id = 12"), 0);
    /* updateOnDuplicate: name only. */
    item upd[] = {{.id = 1, .sku = "A-1", .name = "apple3", .stock = 1, .has_stock = true},
                  {.id = 12, .sku = "M-12", .name = "mango"}};
    o.on_conflict = (dsql_conflict){
        .action = DSQL_CONFLICT_UPDATE, .update = (const char *const[]){"name"}, .n_update = 1};
    assert_dsql_ok(dsql_bulk_create(pool, &item_model, upd, 2, &o, &rep, &err), err);
    assert_int_equal(admin_long("SELECT count(*) FROM item WHERE id = 1 AND name = 'apple3' AND "
                                "stock = 5"),
                     1);
    assert_int_equal(admin_long("SELECT count(*) FROM item"), 5);
}

static void *upsert_many(void *arg)
{
    int *failures = arg;
    for (int i = 0; i < 30; i++) {
        dsql_error err;
        item it = {.id = 500, .sku = "HOT", .name = "hot", .stock = i, .has_stock = true};
        if (dsql_upsert(pool, &item_model, &it, NULL, NULL, &err) != DSQL_OK)
            (*failures)++;
    }
    return NULL;
}

static void concurrent_upserts_of_one_key(void **state)
{
    (void)state;
    reset();
    enum { THREADS = 5 };
    pthread_t t[THREADS];
    int failures[THREADS] = {0};
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, upsert_many, &failures[i]), 0);
    int total = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        total += failures[i];
    }
    assert_int_equal(total, 0);
    assert_int_equal(admin_long("SELECT count(*) FROM item WHERE id = 500"), 1);
}

static void bad_conflicts_are_refused_before_sending(void **state)
{
    (void)state;
    reset();
    dsql_error err;
    size_t mark = logs.len;
    item it = {.id = 7, .sku = "Q"};
    dsql_conflict not_unique = {
        .action = DSQL_CONFLICT_UPDATE, .target = (const char *const[]){"name"}, .n_target = 1};
    assert_int_equal(dsql_upsert(pool, &item_model, &it, &not_unique, NULL, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_upsert: item: the conflict target is not a unique key "
                                     "of the model (its primary key, a unique attribute, or all "
                                     "the attributes of a unique index)");
    dsql_conflict half_index = {
        .action = DSQL_CONFLICT_UPDATE, .target = (const char *const[]){"shop"}, .n_target = 1};
    assert_int_equal(dsql_upsert(pool, &item_model, &it, &half_index, NULL, &err), DSQL_EINVAL);
    dsql_conflict key_updated = {
        .action = DSQL_CONFLICT_UPDATE, .update = (const char *const[]){"id"}, .n_update = 1};
    assert_int_equal(dsql_upsert(pool, &item_model, &it, &key_updated, NULL, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_upsert: item.id: in the conflict target, so it cannot "
                                     "be updated on conflict");
    dsql_conflict unknown = {
        .action = DSQL_CONFLICT_UPDATE, .update = (const char *const[]){"colour"}, .n_update = 1};
    assert_int_equal(dsql_upsert(pool, &item_model, &it, &unknown, NULL, &err), DSQL_EINVAL);
    assert_string_equal(err.message,
                        "dsql_upsert: conflict update: model item has no attribute \"colour\"");
    dsql_conflict error = {.action = DSQL_CONFLICT_ERROR};
    assert_int_equal(dsql_upsert(pool, &item_model, &it, &error, NULL, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_upsert: item: the conflict action must be "
                                     "DSQL_CONFLICT_UPDATE or DSQL_CONFLICT_IGNORE");
    dsql_conflict odd = {.action = (dsql_conflict_action)9};
    dsql_bulk_options o = {.on_conflict = odd};
    assert_int_equal(dsql_bulk_create(pool, &item_model, &it, 1, &o, NULL, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_bulk_create: item: unknown conflict action 9");
    assert_true(logs.len == mark || !strstr(logs.text + mark, "INSERT"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(upsert_inserts_then_updates),
        cmocka_unit_test(upsert_on_other_keys_and_some_attributes),
        cmocka_unit_test(bulk_create_skips_or_updates_duplicates),
        cmocka_unit_test(concurrent_upserts_of_one_key),
        cmocka_unit_test(bad_conflicts_are_refused_before_sending),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
