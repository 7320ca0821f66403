/*
 * Aurora DSQL's 3,000-row cap inside the caller's transaction. A call there cannot split
 * its work (the caller's transaction commits as one), and the server's refusal (54000)
 * would abort the whole transaction. So every write path counts first, in the caller's
 * transaction, and refuses before writing what would take it past the cap — the rows the
 * transaction modified already included, and for a destroy the rows its ON DELETE actions
 * modify. The caller's transaction stays usable after such a refusal: it goes on and
 * commits. The same holds on a plain PostgreSQL that has no cap (a program behaves the
 * same there as on Aurora DSQL).
 *
 * Each test runs on the local DSQL endpoint (which enforces the cap) and on the plain
 * PostgreSQL behind it. On the old code the update, the destroy, the set and the create
 * were refused by the server (or, on plain PostgreSQL, went through past the cap) and the
 * caller's transaction was aborted.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "conn_util.h"
#include "petclinic.h"

#define DB "dsql_t_row_cap_tx"

static dsql_pool *endpoint, *plain;
static PGconn *pg;
static log_capture logs;

typedef struct item {
    int64_t id;
    int32_t grp;
} item;

static const dsql_attr item_attrs[] = {
    DSQL_ATTR(item, id, DSQL_BIGINT, .primary_key = true),
    DSQL_ATTR(item, grp, DSQL_INTEGER, .not_null = true),
};
static DSQL_MODEL(item_model, item, "item", item_attrs);

typedef struct loose {
    int32_t v;
} loose;

static const dsql_attr loose_attrs[] = {DSQL_ATTR(loose, v, DSQL_INTEGER, .not_null = true)};
static DSQL_MODEL(loose_model, loose, "loose", loose_attrs);

typedef struct parent {
    int64_t id;
} parent;

static const dsql_attr parent_attrs[] = {DSQL_ATTR(parent, id, DSQL_BIGINT, .primary_key = true)};
static DSQL_MODEL(parent_model, parent, "parent", parent_attrs);

static int setup(void **state)
{
    (void)state;
    pc_open(DB, &endpoint, &pg, &logs);
    plain = TEST_POOL(.plain = true, .database = DB);
    pc_sync_clinic(endpoint);
    pg_ok(pg, "CREATE TABLE item (id bigint PRIMARY KEY, grp int NOT NULL)");
    pg_ok(pg, "CREATE TABLE loose (v int NOT NULL)");
    pg_ok(pg, "CREATE TABLE parent (id bigint PRIMARY KEY)");
    /* Deleting a parent deletes its children, and clears the pointer of its notes. */
    pg_ok(pg, "CREATE TABLE child (id bigint PRIMARY KEY, parent_id bigint REFERENCES parent "
              "ON DELETE CASCADE)");
    pg_ok(pg, "CREATE TABLE note (id bigint PRIMARY KEY, parent_id bigint REFERENCES parent "
              "ON DELETE SET NULL)");
    pg_ok(pg, "CREATE TABLE grandchild (id bigint PRIMARY KEY, child_id bigint REFERENCES child "
              "ON DELETE CASCADE)");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dsql_pool_close(plain);
    pc_close(DB, endpoint, pg, &logs);
    return 0;
}

/* Fills a table in statements of at most 3,000 rows:
 * "INSERT INTO <into> SELECT <select> FROM generate_series(a, b) g". */
static void fill(const char *into, const char *select, long from, long to)
{
    for (long a = from; a <= to; a += 3000) {
        long b = a + 2999 < to ? a + 2999 : to;
        char sql[256];
        snprintf(sql, sizeof sql, "INSERT INTO %s SELECT %s FROM generate_series(%ld, %ld) g", into,
                 select, a, b);
        pg_ok(pg, sql);
    }
}

/* The message starts with prefix. */
#define assert_prefix(message, prefix)                                                             \
    do {                                                                                           \
        if (strncmp((message), (prefix), strlen(prefix)) != 0)                                     \
            fail_msg("message \"%s\" does not start with \"%s\"", (message), (prefix));            \
    } while (0)

/* A transaction body: its steps run in order; a step's status is recorded, and the body
 * goes on after a failure (that is the point: the caller's transaction is still usable). */
typedef int (*step_fn)(dsql_conn *conn, dsql_error *err);

typedef struct script {
    step_fn steps[4];
    int rc[4];
    dsql_error err[4];
} script;

static int run_script(dsql_conn *conn, void *ctx, dsql_error *err)
{
    (void)err;
    script *s = ctx;
    for (int i = 0; i < 4 && s->steps[i]; i++)
        s->rc[i] = s->steps[i](conn, &s->err[i]);
    return DSQL_OK;
}

/* Runs the script in one transaction on pool, which must commit. */
static void run_in_tx(dsql_pool *pool, script *s)
{
    dsql_error err;
    memset(s->rc, 0, sizeof s->rc);
    assert_dsql_ok(dsql_transaction(pool, run_script, s, NULL, NULL, &err), err);
}

/* ---- update ---- */

static int update_all(dsql_conn *conn, dsql_error *err)
{
    uint64_t n = 0;
    return dsql_update(conn, &item_model, (const dsql_assign[]){DSQL_SET("grp", DSQL_INT(9))}, 1,
                       DSQL_GTE("id", DSQL_INT(1)), &n, err);
}

static int update_100(dsql_conn *conn, dsql_error *err)
{
    uint64_t n = 0;
    int rc = dsql_update(conn, &item_model, (const dsql_assign[]){DSQL_SET("grp", DSQL_INT(1))}, 1,
                         DSQL_LTE("id", DSQL_INT(100)), &n, err);
    return rc         ? rc
           : n == 100 ? DSQL_OK
                      : dsql_error_set(err, DSQL_EINTERNAL, "%llu rows", (unsigned long long)n);
}

static int update_2901(dsql_conn *conn, dsql_error *err)
{
    return dsql_update(conn, &item_model, (const dsql_assign[]){DSQL_SET("grp", DSQL_INT(2))}, 1,
                       DSQL_BETWEEN("id", DSQL_INT(101), DSQL_INT(3001)), NULL, err);
}

static int update_2900(dsql_conn *conn, dsql_error *err)
{
    uint64_t n = 0;
    int rc = dsql_update(conn, &item_model, (const dsql_assign[]){DSQL_SET("grp", DSQL_INT(3))}, 1,
                         DSQL_BETWEEN("id", DSQL_INT(101), DSQL_INT(3000)), &n, err);
    return rc          ? rc
           : n == 2900 ? DSQL_OK
                       : dsql_error_set(err, DSQL_EINTERNAL, "%llu rows", (unsigned long long)n);
}

static int update_none(dsql_conn *conn, dsql_error *err)
{
    uint64_t n = 7;
    int rc = dsql_update(conn, &item_model, (const dsql_assign[]){DSQL_SET("grp", DSQL_INT(4))}, 1,
                         DSQL_GT("id", DSQL_INT(1000000)), &n, err);
    return rc       ? rc
           : n == 0 ? DSQL_OK
                    : dsql_error_set(err, DSQL_EINTERNAL, "%llu rows", (unsigned long long)n);
}

static int update_by_key(dsql_conn *conn, dsql_error *err)
{
    return dsql_update(conn, &item_model, (const dsql_assign[]){DSQL_SET("grp", DSQL_INT(5))}, 1,
                       DSQL_EQ("id", DSQL_INT(1)), NULL, err);
}

static void update_in_tx(dsql_pool *pool)
{
    pg_ok(pg, "DELETE FROM item WHERE true");
    fill("item", "g, 0", 1, 3500);
    script s = {.steps = {update_all, update_100, update_2901, update_2900}};
    run_in_tx(pool, &s);
    assert_int_equal(s.rc[0], DSQL_ELIMIT);
    assert_string_equal(s.err[0].message,
                        "dsql_update: item: more than 3000 rows match, and the caller's "
                        "transaction may modify only 3000 more (one Aurora DSQL transaction "
                        "modifies at most 3,000 rows, and it has modified 0 so far); nothing was "
                        "changed: update in smaller steps, or call it on the pool (which updates "
                        "in chunks of up to 3,000 rows, each its own transaction)");
    assert_string_equal(s.err[0].sqlstate, "");
    assert_int_equal(s.rc[1], DSQL_OK);
    /* 100 modified already: 2,901 more would be 3,001. */
    assert_int_equal(s.rc[2], DSQL_ELIMIT);
    assert_prefix(s.err[2].message, "dsql_update: item: more than 2900 rows match, and the "
                                    "caller's transaction may modify only 2900 more (one Aurora "
                                    "DSQL transaction modifies at most 3,000 rows, and it has "
                                    "modified 100 so far); nothing was changed");
    assert_int_equal(s.rc[3], DSQL_OK); /* exactly 3,000 is fine */
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM item WHERE grp = 1"), 100);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM item WHERE grp = 3"), 2900);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM item WHERE grp = 0"), 500);
    /* An update by key needs no tally: one row at most. */
    cap_free(&logs);
    cap_init(&logs);
    script k = {.steps = {update_by_key}};
    run_in_tx(pool, &k);
    assert_int_equal(k.rc[0], DSQL_OK);
    if (pool == endpoint)
        assert_true(cap_has(&logs, "UPDATE \"item\" SET \"grp\" = $1 WHERE \"id\" = $2 ("));
    /* Nothing matching is no error, and costs nothing of the room. */
    script z = {.steps = {update_none, update_100}};
    run_in_tx(pool, &z);
    assert_int_equal(z.rc[0], DSQL_OK);
    assert_int_equal(z.rc[1], DSQL_OK);
}

static void update_refused_before_writing(void **state)
{
    (void)state;
    update_in_tx(endpoint);
    update_in_tx(plain);
}

/* ---- destroy ---- */

static int destroy_loose(dsql_conn *conn, dsql_error *err)
{
    return dsql_delete(conn, &loose_model, DSQL_GT("v", DSQL_INT(0)), NULL, err);
}

static int destroy_loose_3000(dsql_conn *conn, dsql_error *err)
{
    uint64_t n = 0;
    int rc = dsql_delete(conn, &loose_model, DSQL_LTE("v", DSQL_INT(3000)), &n, err);
    return rc          ? rc
           : n == 3000 ? DSQL_OK
                       : dsql_error_set(err, DSQL_EINTERNAL, "%llu rows", (unsigned long long)n);
}

static void destroy_without_key_in_tx(dsql_pool *pool)
{
    pg_ok(pg, "DELETE FROM loose WHERE true");
    fill("loose", "g", 1, 4000);
    script s = {.steps = {destroy_loose, destroy_loose_3000}};
    run_in_tx(pool, &s);
    assert_int_equal(s.rc[0], DSQL_ELIMIT);
    assert_string_equal(s.err[0].message,
                        "dsql_delete: loose: more than 3000 rows would be deleted, and the "
                        "caller's transaction may modify only 3000 more (one Aurora DSQL "
                        "transaction modifies at most 3,000 rows, and it has modified 0 so far); "
                        "nothing was changed: delete in smaller steps, or call it on the pool "
                        "(which deletes in chunks of up to 3,000 rows, each its own transaction)");
    assert_int_equal(s.rc[1], DSQL_OK);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM loose"), 1000);
}

static int destroy_parents_100(dsql_conn *conn, dsql_error *err)
{
    return dsql_delete(conn, &parent_model, DSQL_LTE("id", DSQL_INT(100)), NULL, err);
}

static int destroy_parents_50(dsql_conn *conn, dsql_error *err)
{
    uint64_t n = 0;
    int rc = dsql_delete(conn, &parent_model, DSQL_LTE("id", DSQL_INT(50)), &n, err);
    return rc        ? rc
           : n == 50 ? DSQL_OK
                     : dsql_error_set(err, DSQL_EINTERNAL, "%llu rows", (unsigned long long)n);
}

static void cascading_destroy_in_tx(dsql_pool *pool)
{
    pg_ok(pg, "DELETE FROM grandchild WHERE true");
    pg_ok(pg, "DELETE FROM note WHERE true");
    pg_ok(pg, "DELETE FROM child WHERE true");
    pg_ok(pg, "DELETE FROM parent WHERE true");
    /* 100 parents; each has 20 children with one grandchild each, and 5 notes: deleting a
     * parent modifies 1 + 20 + 20 + 5 = 46 rows, 100 parents 4,600. */
    fill("parent", "g", 1, 100);
    fill("child", "g, (g + 19) / 20", 1, 2000);
    fill("grandchild", "g, g", 1, 2000);
    fill("note", "g, (g + 4) / 5", 1, 500);
    script s = {.steps = {destroy_parents_100, destroy_parents_50}};
    run_in_tx(pool, &s);
    assert_int_equal(s.rc[0], DSQL_ELIMIT);
    assert_string_equal(s.err[0].message,
                        "dsql_delete: parent: more than 3000 rows would be deleted or changed "
                        "(with the rows their ON DELETE actions reach), and the caller's "
                        "transaction may modify only 3000 more (one Aurora DSQL transaction "
                        "modifies at most 3,000 rows, and it has modified 0 so far); nothing was "
                        "changed: delete in smaller steps, or call it on the pool (which deletes "
                        "in chunks of up to 3,000 rows, each its own transaction)");
    assert_int_equal(s.rc[1], DSQL_OK); /* 50 parents: 2,300 rows */
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM parent"), 50);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM child"), 1000);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM grandchild"), 1000);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM note WHERE parent_id IS NULL"), 250);
}

/* A model in a schema of its own, without a primary key, whose rows are referenced by a
 * two-column foreign key. */
typedef struct part {
    int64_t a, b;
} part;

static const dsql_attr part_attrs[] = {
    DSQL_ATTR(part, a, DSQL_BIGINT, .not_null = true),
    DSQL_ATTR(part, b, DSQL_BIGINT, .not_null = true),
};
static DSQL_MODEL_WITH(part_model, part, "part", part_attrs, .schema = "shop");

static int destroy_parts(dsql_conn *conn, dsql_error *err)
{
    return dsql_delete(conn, &part_model, DSQL_EQ("a", DSQL_INT(1)), NULL, err);
}

static int destroy_one_part(dsql_conn *conn, dsql_error *err)
{
    return dsql_delete(conn, &part_model,
                       DSQL_AND(DSQL_EQ("a", DSQL_INT(1)), DSQL_EQ("b", DSQL_INT(2))), NULL, err);
}

static void composite_cascade_in_tx(dsql_pool *pool)
{
    pg_ok(pg, "DELETE FROM shop.piece WHERE true");
    pg_ok(pg, "DELETE FROM shop.part WHERE true");
    pg_ok(pg, "INSERT INTO shop.part VALUES (1, 1), (1, 2)");
    fill("shop.piece", "g, 1, 1 + g % 2", 1, 3200); /* 1,600 pieces per part */
    script s = {.steps = {destroy_parts, destroy_one_part}};
    run_in_tx(pool, &s);
    assert_int_equal(s.rc[0], DSQL_ELIMIT);
    assert_prefix(s.err[0].message, "dsql_delete: part: more than 3000 rows would be deleted "
                                    "or changed (with the rows their ON DELETE actions reach)");
    assert_int_equal(s.rc[1], DSQL_OK);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM shop.part"), 1);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM shop.piece"), 1600);
}

static void destroy_refused_before_writing(void **state)
{
    (void)state;
    destroy_without_key_in_tx(endpoint);
    destroy_without_key_in_tx(plain);
    cascading_destroy_in_tx(endpoint);
    cascading_destroy_in_tx(plain);
    pg_ok(pg, "CREATE SCHEMA shop");
    pg_ok(pg, "CREATE TABLE shop.part (a bigint, b bigint, PRIMARY KEY (a, b))");
    pg_ok(pg, "CREATE TABLE shop.piece (id bigint PRIMARY KEY, pa bigint, pb bigint, "
              "FOREIGN KEY (pa, pb) REFERENCES shop.part ON DELETE CASCADE)");
    composite_cascade_in_tx(endpoint);
    composite_cascade_in_tx(plain);
}

/* ---- association setters ---- */

enum { PETS = 3200 };
static owner many = {.name = "Many", .city = "Pets"};
static owner other = {.name = "Other", .city = "Pets"};
static pet *pets;
static const void **targets;

static int set_all_pets(dsql_conn *conn, dsql_error *err)
{
    /* 1,600 linked now, 1,600 others asked for: 1,600 cleared + 1,600 set + the owner. */
    return dsql_set_associated(conn, &owner_pets, &many, targets + 1600, 1600, err);
}

static int add_two_pets(dsql_conn *conn, dsql_error *err)
{
    return dsql_add_associated(conn, &owner_pets, &other, targets + 3100, 2, err);
}

static void set_in_tx(dsql_pool *pool)
{
    dsql_error err;
    pg_ok(pg, "UPDATE pet SET \"ownerId\" = NULL WHERE true");
    assert_dsql_ok(dsql_set_associated(pool, &owner_pets, &many, targets, 1600, &err), err);
    script s = {.steps = {set_all_pets, add_two_pets}};
    run_in_tx(pool, &s);
    assert_int_equal(s.rc[0], DSQL_ELIMIT);
    assert_string_equal(s.err[0].message,
                        "dsql_set_associated: association pets: the change would modify 3201 "
                        "rows (the source row, the links removed and the links added), and the "
                        "caller's transaction may modify only 3000 more (one Aurora DSQL "
                        "transaction modifies at most 3,000 rows, and it has modified 0 so far); "
                        "nothing was changed");
    assert_int_equal(s.rc[1], DSQL_OK);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pet WHERE \"ownerId\" = '%s'", many.id.str);
    assert_int_equal(pg_long(pg, sql), 1600);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pet WHERE \"ownerId\" = '%s'", other.id.str);
    assert_int_equal(pg_long(pg, sql), 2);
}

static void set_refused_before_writing(void **state)
{
    (void)state;
    dsql_error err;
    pets = calloc(PETS, sizeof *pets);
    targets = calloc(PETS, sizeof *targets);
    char(*names)[16] = calloc(PETS, sizeof *names);
    assert_non_null(pets);
    assert_non_null(targets);
    assert_non_null(names);
    for (int i = 0; i < PETS; i++) {
        snprintf(names[i], sizeof names[i], "p%d", i);
        pets[i].name = names[i];
        pets[i].birth_date = "2020-01-01";
        targets[i] = &pets[i];
    }
    assert_dsql_ok(dsql_create(endpoint, &owner_model, &many, NULL, &err), err);
    assert_dsql_ok(dsql_create(endpoint, &owner_model, &other, NULL, &err), err);
    assert_dsql_ok(dsql_bulk_create(endpoint, &pet_model, pets, PETS, NULL, NULL, &err), err);
    set_in_tx(endpoint);
    set_in_tx(plain);
    free(names);
    free(targets);
    free(pets);
}

/* Belongs-to-many: the join rows removed and added count, and so does the new row of a
 * dsql_create_linked. */
enum { SPECS = 3100 };
static vet carlos = {.name = "Carlos"};
static const void **specs;

static int set_other_specialties(dsql_conn *conn, dsql_error *err)
{
    /* 2,000 links removed, 1,100 added, and the vet's row. */
    return dsql_set_associated(conn, &vet_specialties, &carlos, specs + 2000, 1100, err);
}

static int remove_five(dsql_conn *conn, dsql_error *err)
{
    return dsql_remove_associated(conn, &vet_specialties, &carlos, specs, 5, err);
}

static int create_linked_3000(dsql_conn *conn, dsql_error *err)
{
    vet v = {.name = "Linked"};
    return dsql_create_linked(conn, &vet_specialties, &v, specs, 3000, err);
}

static void btm_in_tx(dsql_pool *pool)
{
    dsql_error err;
    pg_ok(pg, "DELETE FROM \"vetSpecialties\" WHERE true");
    assert_dsql_ok(dsql_set_associated(pool, &vet_specialties, &carlos, specs, 2000, &err), err);
    script s = {.steps = {set_other_specialties, remove_five, create_linked_3000}};
    run_in_tx(pool, &s);
    assert_int_equal(s.rc[0], DSQL_ELIMIT);
    assert_string_equal(s.err[0].message,
                        "dsql_set_associated: association specialties: the change would modify "
                        "3101 rows (the source row, the links removed and the links added), and "
                        "the caller's transaction may modify only 3000 more (one Aurora DSQL "
                        "transaction modifies at most 3,000 rows, and it has modified 0 so far); "
                        "nothing was changed");
    assert_int_equal(s.rc[1], DSQL_OK);
    /* 3,000 links and the new vet: known without asking. */
    assert_int_equal(s.rc[2], DSQL_ELIMIT);
    assert_string_equal(s.err[2].message,
                        "dsql_create_linked: association specialties: the change would modify "
                        "3001 rows (the new row and its links), and the caller's transaction may "
                        "modify only 2994 more (one Aurora DSQL transaction modifies at most "
                        "3,000 rows, and it has modified 6 so far); nothing was sent");
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM \"vetSpecialties\""), 1995);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM vet WHERE name = 'Linked'"), 0);
}

static void join_rows_count(void **state)
{
    (void)state;
    dsql_error err;
    specialty *rows = calloc(SPECS, sizeof *rows);
    specs = calloc(SPECS, sizeof *specs);
    char(*names)[16] = calloc(SPECS, sizeof *names);
    assert_non_null(rows);
    assert_non_null(specs);
    assert_non_null(names);
    for (int i = 0; i < SPECS; i++) {
        snprintf(names[i], sizeof names[i], "s%04d", i);
        rows[i].id = names[i];
        specs[i] = &rows[i];
    }
    assert_dsql_ok(dsql_bulk_create(endpoint, &specialty_model, rows, SPECS, NULL, NULL, &err),
                   err);
    assert_dsql_ok(dsql_create(endpoint, &vet_model, &carlos, NULL, &err), err);
    btm_in_tx(endpoint);
    btm_in_tx(plain);
    free(names);
    free(specs);
    free(rows);
}

/* ---- a transaction at the cap ---- */

static int insert_3000(dsql_conn *conn, dsql_error *err)
{
    return dsql_exec(conn, "INSERT INTO loose SELECT g FROM generate_series(1, 3000) g", NULL, 0,
                     NULL, err);
}

static int create_one(dsql_conn *conn, dsql_error *err)
{
    owner o = {.name = "One more", .city = "Nowhere"};
    return dsql_create(conn, &owner_model, &o, NULL, err);
}

static void full_tx(dsql_pool *pool)
{
    pg_ok(pg, "DELETE FROM loose WHERE true");
    script s = {.steps = {insert_3000, create_one, update_by_key}};
    run_in_tx(pool, &s);
    assert_int_equal(s.rc[0], DSQL_OK);
    assert_int_equal(s.rc[1], DSQL_ELIMIT);
    assert_string_equal(s.err[1].message,
                        "dsql_create: owner: the caller's transaction may modify no more rows "
                        "(one Aurora DSQL transaction modifies at most 3,000 rows, and it has "
                        "modified 3000 so far); nothing was sent");
    /* By key: one row at most, known without a tally. */
    assert_int_equal(s.rc[2], DSQL_ELIMIT);
    assert_string_equal(s.err[2].message,
                        "dsql_update: item: the caller's transaction may modify no more rows "
                        "(one Aurora DSQL transaction modifies at most 3,000 rows, and it has "
                        "modified 3000 so far); nothing was sent");
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM loose"), 3000);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM owner WHERE name = 'One more'"), 0);
}

static void full_transaction_refuses_more(void **state)
{
    (void)state;
    full_tx(endpoint);
    full_tx(plain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(update_refused_before_writing),
        cmocka_unit_test(destroy_refused_before_writing),
        cmocka_unit_test(set_refused_before_writing),
        cmocka_unit_test(join_rows_count),
        cmocka_unit_test(full_transaction_refuses_more),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
