/*
 * No false positives on libdsql's own SQL: what the library sends to Aurora DSQL, built by
 * its real builders (DDL for the pet-clinic models, SELECTs with includes, INSERTs) and,
 * for statements built inside the model and conn layers' own functions, their text as
 * those functions write it for the pet-clinic models. None may be refused; the forms the
 * library sends only to a plain PostgreSQL are refused, as on DSQL.
 */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#include "clinic_models.h"
#include "model/ddl.h"
#include "model/internal.h"
#include "rules/rules.h"

static int checked;

/* Fails the test when any statement of sql is refused or warned about. */
static void accepted(const char *sql)
{
    dsql_rules_result *r = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    if (dsql_rules_analyze(sql, strlen(sql), &r, &err) != DSQL_OK)
        fail_msg("analyse %s: %s", sql, err.message);
    assert_true(dsql_rules_count(r) >= 1);
    for (size_t i = 0; i < dsql_rules_count(r); i++) {
        const dsql_rules_stmt *st = dsql_rules_stmt_at(r, i);
        if (st->n_findings)
            fail_msg("libdsql's own SQL flagged [%s] %s:\n  %s", st->findings[0].rule->id,
                     st->findings[0].message, sql);
    }
    dsql_rules_result_free(r);
    checked++;
}

/* The first refusal of sql's only statement. */
static dsql_rule_id refused(const char *sql)
{
    dsql_rules_result *r = NULL;
    assert_int_equal(dsql_rules_analyze(sql, strlen(sql), &r, NULL), DSQL_OK);
    const dsql_rules_finding *f = dsql_rules_refusal(dsql_rules_stmt_at(r, 0));
    if (!f)
        fail_msg("not refused: %s", sql);
    dsql_rule_id id = f->rule->number;
    dsql_rules_result_free(r);
    return id;
}

static void ddl_builders(void **state)
{
    (void)state;
    const dsql_model *models[] = {&owner_model,       &pet_model,           &specialty_model,
                                  &vet_model,         &vet_specialty_model, &collar_model,
                                  &weighed_pet_model, &visit_model};
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        dsql__sb_reset(&sb);
        assert_int_equal(dsql__ddl_create_table(&sb, models[i], NULL, 0, &err), DSQL_OK);
        accepted(dsql__sb_str(&sb));
        dsql__sb_reset(&sb);
        dsql__ddl_drop_table(&sb, models[i], true);
        accepted(dsql__sb_str(&sb));
        dsql__sb_reset(&sb);
        dsql__ddl_add_column(&sb, models[i], &models[i]->attrs[models[i]->n_attrs - 1]);
        accepted(dsql__sb_str(&sb));
    }
    /* Indexes: ASYNC on DSQL; the synchronous form goes to plain PostgreSQL only. */
    static const char *const attrs[] = {"name", "city"};
    const dsql_index idx = {.name = NULL, .attrs = attrs, .n_attrs = 2, .unique = true};
    dsql__sb_reset(&sb);
    assert_int_equal(dsql__ddl_create_index(&sb, &owner_model, &idx, true, &err), DSQL_OK);
    accepted(dsql__sb_str(&sb));
    dsql__sb_reset(&sb);
    assert_int_equal(dsql__ddl_create_index(&sb, &owner_model, &idx, false, &err), DSQL_OK);
    assert_int_equal(refused(dsql__sb_str(&sb)), DSQL_RULE_INDEX_SYNC);

    /* Foreign keys: in CREATE TABLE, or added NOT VALID and validated asynchronously. */
    dsql__fk fks[2];
    size_t n = 0;
    assert_int_equal(dsql__assoc_fks(&pet_owner_fk, fks, &n, &err), DSQL_OK);
    assert_int_equal(n, 1);
    dsql__sb_reset(&sb);
    assert_int_equal(dsql__ddl_create_table(&sb, &pet_model, fks, n, &err), DSQL_OK);
    accepted(dsql__sb_str(&sb));
    dsql__sb_reset(&sb);
    dsql__ddl_add_fk(&sb, &fks[0], true);
    accepted(dsql__sb_str(&sb));
    dsql__sb_reset(&sb);
    dsql__ddl_validate_fk(&sb, &fks[0], true);
    accepted(dsql__sb_str(&sb));
    dsql__sb_reset(&sb);
    dsql__ddl_add_fk(&sb, &fks[0], false);
    assert_int_equal(refused(dsql__sb_str(&sb)), DSQL_RULE_FOREIGN_KEY_NOT_VALID);
    assert_int_equal(dsql__assoc_fks(&vet_specialties_fk, fks, &n, &err), DSQL_OK);
    assert_int_equal(n, 2);
    dsql__sb_reset(&sb);
    assert_int_equal(dsql__ddl_create_table(&sb, &vet_specialty_model, fks, n, &err), DSQL_OK);
    accepted(dsql__sb_str(&sb));
    dsql__sb_free(&sb);
}

static void select(const dsql__select *s)
{
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    dsql__plan plan = DSQL__PLAN_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    if (dsql__build_select(s, &sql, &p, &plan, &err))
        fail_msg("build: %s", err.message);
    accepted(dsql__sb_str(&sql));
    dsql__sb_free(&sql);
    dsql__params_free(&p);
    dsql__plan_free(&plan);
}

static void dml_builders(void **state)
{
    (void)state;
    select(&(dsql__select){.m = &owner_model});
    select(&(dsql__select){.m = &pet_model,
                           .q = &(dsql_query){.where = DSQL_EQ("name", DSQL_STR("Pet1"))},
                           .limit = 1});
    select(&(dsql__select){
        .m = &pet_model, .q = &(dsql_query){.where = DSQL_IS_NULL("ownerId")}, .count = true});
    select(&(dsql__select){.m = &vet_model,
                           .q = &(dsql_query){DSQL_INCLUDES({.assoc = &vet_specialties})}});
    select(&(dsql__select){
        .m = &owner_model,
        .q = &(dsql_query){DSQL_INCLUDES({.assoc = &owner_weighed_pets}), .limit = 10}});
    select(&(dsql__select){
        .m = &weighed_pet_model,
        .q = &(dsql_query){
            .where = DSQL_AND(DSQL_GT("weight", DSQL_INT(1)), DSQL_LIKE("name", DSQL_STR("R%"))),
            DSQL_INCLUDES({.assoc = &weighed_pet_owner}, {.assoc = &weighed_pet_visits})}});
    select(&(dsql__select){
        .m = &specialty_model, .via = &vet_specialties, .via_row = &(vet){.name = "Carlos"}});

    owner rows[2] = {{.name = "John Doe", .city = "Anytown"}, {.name = "Mary", .city = "X"}};
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    dsql__build_insert(&sql, &p, &owner_model, rows, 2, NULL, true);
    accepted(dsql__sb_str(&sql));
    dsql__sb_reset(&sql);
    dsql__params_reset(&p);
    dsql__build_insert(&sql, &p, &owner_model, rows, 1, NULL, false);
    accepted(dsql__sb_str(&sql));
    /* upserts: ON CONFLICT (key) DO UPDATE / DO NOTHING */
    static const dsql_conflict conflicts[] = {{.action = DSQL_CONFLICT_UPDATE},
                                              {.action = DSQL_CONFLICT_IGNORE}};
    for (size_t i = 0; i < 2; i++) {
        dsql__sb_reset(&sql);
        dsql__params_reset(&p);
        dsql__build_insert(&sql, &p, &owner_model, rows, 1, &conflicts[i], true);
        accepted(dsql__sb_str(&sql));
    }
    dsql__sb_free(&sql);
    dsql__params_free(&p);
}

/* Statements built inside the layers' own functions (crud.c, destroy.c, assoc_ops.c,
 * sync.c, schema.c, tx.c, iam.c), as they read for the pet-clinic models. */
/* The columns migrate.c reads of a row of the migrations table. */
#define COLS                                                                                       \
    "version, name, checksum, state, step, prefix, coalesce(owner, ''), "                          \
    "coalesce(to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "     \
    "coalesce(duration_ms, -1), coalesce(error, ''), "                                             \
    "coalesce((extract(epoch FROM now() - heartbeat_at) * 1000)::bigint, 0)"

static void layer_statements(void **state)
{
    (void)state;
    static const char *const sql[] = {
        /* conn: transactions, server detection, the connection's schema */
        "BEGIN ISOLATION LEVEL REPEATABLE READ",
        "COMMIT",
        "ROLLBACK",
        "SELECT current_schema()",
        "SELECT 1 FROM sys.jobs LIMIT 0",
        "CALL sys.wait_for_job('mbcq2q7grjbs7ldy4ot2qzfymm')",
        /* crud.c: update one row, update where, save */
        "UPDATE \"owner\" SET \"name\" = $1, \"city\" = $2 WHERE \"id\" = $3 RETURNING \"id\", "
        "\"name\", \"city\", \"telephone\"",
        "UPDATE \"pet\" SET \"name\" = $1 WHERE (\"name\" = $2)",
        "UPDATE \"vet\" SET \"name\" = \"name\" WHERE \"id\" = $1",
        /* destroy.c: a chunk under the row cap */
        "DELETE FROM \"pet\" WHERE \"id\" IN (SELECT \"id\" FROM \"pet\" WHERE (\"ownerId\" IS "
        "NULL) LIMIT 3000)",
        "DELETE FROM \"vetSpecialties\" WHERE \"vetId\" = $1",
        /* assoc_ops.c: set / add / remove associated */
        "DELETE FROM \"vetSpecialties\" WHERE \"vetId\" = $1 AND (\"specialtyId\" IS NULL OR "
        "\"specialtyId\" NOT IN ($2::varchar(80), $3::varchar(80)))",
        "INSERT INTO \"vetSpecialties\" (\"id\", \"vetId\", \"specialtyId\") SELECT v.\"id\", "
        "v.\"vetId\", v.\"specialtyId\" FROM (VALUES ($1::uuid, $2::uuid, $3::varchar(80))) AS "
        "v (\"id\", \"vetId\", \"specialtyId\") WHERE NOT EXISTS (SELECT 1 FROM "
        "\"vetSpecialties\" j WHERE j.\"vetId\" = v.\"vetId\" AND j.\"specialtyId\" = "
        "v.\"specialtyId\")",
        "UPDATE \"pet\" SET \"ownerId\" = NULL WHERE \"ownerId\" = $1 AND \"id\" NOT IN ($2::uuid)",
        "UPDATE \"pet\" SET \"ownerId\" = $1 WHERE \"id\" IN ($2::uuid, $3::uuid)",
        /* sync.c: reading the catalog, a default set apart from ADD COLUMN */
        "SELECT table_schema::text, table_name::text, NULL::text, NULL::text, NULL::int, "
        "NULL::int, NULL::int FROM information_schema.tables WHERE (table_schema = $1 AND "
        "table_name = $2) UNION ALL SELECT table_schema::text, table_name::text, "
        "column_name::text, data_type::text, character_maximum_length::int, "
        "numeric_precision::int, numeric_scale::int FROM information_schema.columns WHERE "
        "(table_schema = $1 AND table_name = $2)",
        "SELECT schemaname::text, tablename::text, indexname::text FROM pg_catalog.pg_indexes "
        "WHERE (schemaname = $1 AND tablename = $2)",
        "SELECT n.nspname::text, t.relname::text, k.conname::text, k.convalidated FROM "
        "pg_catalog.pg_constraint k JOIN pg_catalog.pg_class t ON t.oid = k.conrelid JOIN "
        "pg_catalog.pg_namespace n ON n.oid = t.relnamespace WHERE k.contype = 'f' AND "
        "(n.nspname = $1 AND t.relname = $2)",
        "ALTER TABLE \"owner\" ALTER COLUMN \"createdAt\" SET DEFAULT now()",
        /* the statement cache's deallocation of all statements */
        "DEALLOCATE ALL",
        /* migrate.c: the migrations table, claims, progress */
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() "
        "AND table_name = $1",
        "CREATE TABLE IF NOT EXISTS \"dsql_migrations\" (version varchar(32) PRIMARY KEY, "
        "name varchar(200) NOT NULL, checksum varchar(64) NOT NULL, "
        "state varchar(16) NOT NULL, step integer NOT NULL, prefix varchar(64) NOT NULL, "
        "owner varchar(128), claimed_at timestamptz, heartbeat_at timestamptz, "
        "applied_at timestamptz, duration_ms bigint, error varchar(1000))",
        "SELECT " COLS " FROM \"dsql_migrations\" WHERE version = $1",
        "SELECT " COLS " FROM \"dsql_migrations\"",
        "INSERT INTO \"dsql_migrations\" (version, name, checksum, state, step, prefix, owner, "
        "claimed_at, heartbeat_at) VALUES ($1, $2, $3, 'running', 0, $4, $5, now(), now())",
        "UPDATE \"dsql_migrations\" SET heartbeat_at = now() WHERE version = $1 AND owner = $2",
        "UPDATE \"dsql_migrations\" SET step = $1, prefix = $2, heartbeat_at = now() "
        "WHERE version = $3 AND owner = $4",
        "UPDATE \"dsql_migrations\" SET state = $1, step = $2, prefix = $3, error = $4, "
        "owner = NULL, heartbeat_at = now() WHERE version = $5 AND owner = $6",
        "UPDATE \"dsql_migrations\" SET state = 'running', owner = $1, claimed_at = now(), "
        "heartbeat_at = now() WHERE version = $2 AND state = 'failed'",
        "UPDATE \"dsql_migrations\" SET owner = $1, claimed_at = now(), heartbeat_at = now() "
        "WHERE version = $2 AND state = 'running' AND owner = $3",
        "UPDATE \"dsql_migrations\" SET state = 'applied', step = $1, prefix = $2, owner = NULL, "
        "error = NULL, applied_at = now(), duration_ms = $3, heartbeat_at = now(), "
        "checksum = $4, name = $5 WHERE version = $6 AND owner = $7",
        "UPDATE \"dsql_migrations\" SET state = 'reverting', step = 0, prefix = $1, owner = $2, "
        "claimed_at = now(), heartbeat_at = now(), error = NULL "
        "WHERE version = $3 AND state = 'applied'",
        "UPDATE \"dsql_migrations\" SET state = 'reverting', owner = $1, claimed_at = now(), "
        "heartbeat_at = now() WHERE version = $2 AND state = $3 AND coalesce(owner, '') = $4",
        "DELETE FROM \"dsql_migrations\" WHERE version = $1 AND owner = $2",
    };
    for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++)
        accepted(sql[i]);
    /* The statement cache evicts with DEALLOCATE "dsql_<n>" outside transactions, which
     * DSQL refuses (only DEALLOCATE ALL is taken): the cache stops sending it after the
     * first refusal (exec.c). It is refused here too. */
    assert_int_equal(refused("DEALLOCATE \"dsql_17\""), DSQL_RULE_DEALLOCATE_NAME);
}

static void summary(void **state)
{
    (void)state;
    printf("libdsql statements checked: %d, none flagged\n", checked);
    assert_int_equal(checked, 74);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ddl_builders),
        cmocka_unit_test(dml_builders),
        cmocka_unit_test(layer_statements),
        cmocka_unit_test(summary),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    dsql_rules_thread_done();
    return rc;
}
