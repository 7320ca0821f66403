/*
 * Migrations against real servers, each scenario twice: through the local DSQL endpoint
 * (DSQL's rules enforced: one DDL per transaction, the 3,000-row cap, CREATE INDEX ASYNC
 * jobs) and on the plain PostgreSQL behind it (CREATE INDEX without ASYNC). Applying and
 * the table's records, the row cap (DML grouped, then one transaction each), a backfill in
 * chunks, a changed applied migration, a failing migration resumed at its statement (and
 * refused when a statement before it changed), down, a dead runner's claim taken over,
 * waiting for a live one, and two runners started at once applying each migration once.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "conn_util.h"
#include "petclinic.h"

#define DB_DSQL  "dsql_t_migrate"
#define DB_PLAIN "dsql_t_migrate_pg"

typedef struct target {
    const char *db;
    bool plain;
    dsql_pool *pool;
    PGconn *pg;
    bool dsql; /* DSQL's rules apply (through dsql-local) */
} target;

static target targets[2] = {{.db = DB_DSQL}, {.db = DB_PLAIN, .plain = true}};

static dsql_pool *open_pool(const target *t)
{
    return TEST_POOL(.database = t->db, .plain = t->plain);
}

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        target *t = &targets[i];
        pc_create_db(t->db);
        t->pool = open_pool(t);
        t->pg = pc_pg(t->db);
        t->dsql = !t->plain && test_through_dsql_local();
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        dsql_pool_close(targets[i].pool);
        PQfinish(targets[i].pg);
        pc_drop_db(targets[i].db);
    }
    return 0;
}

static void reset(target *t)
{
    pg_ok(t->pg, "DROP TABLE IF EXISTS dsql_migrations, users, t3, t4, runs, gone CASCADE");
}

static char *pg_text(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        print_error("%s: %s\n", sql, PQerrorMessage(pg));
        PQclear(r);
        fail();
    }
    char *s = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return s;
}

static void assert_text(PGconn *pg, const char *sql, const char *want)
{
    char *got = pg_text(pg, sql);
    if (strcmp(got, want))
        print_error("%s: got '%s', want '%s'\n", sql, got, want);
    assert_string_equal(got, want);
    free(got);
}

/* ---- definitions ---- */

static const dsql_migration_step users_up[] = {
    {.sql = "CREATE TABLE users (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), "
            "name varchar(40) NOT NULL, n int)"},
    {.sql = "CREATE INDEX ASYNC users_name ON users (name)"},
    /* together 3,500 rows: past DSQL's cap in one transaction */
    {.sql = "INSERT INTO users (name) SELECT 'u' || g FROM generate_series(1, 2500) g"},
    {.sql = "INSERT INTO users (name) SELECT 'v' || g FROM generate_series(1, 1000) g"},
};
static const dsql_migration_step users_down[] = {{.sql = "DROP TABLE users"}};
static const dsql_migration_step backfill_up[] = {
    {.sql = "ALTER TABLE users ADD COLUMN flag int"},
    {.sql = "UPDATE users SET flag = 1 WHERE id IN "
            "(SELECT id FROM users WHERE flag IS NULL LIMIT 1000)",
     .flags = DSQL_STEP_BACKFILL},
};
static const dsql_migration_step backfill_down[] = {{.sql = "ALTER TABLE users DROP COLUMN flag"}};

static dsql_migration base[2] = {
    {.version = "20260101000000",
     .name = "users",
     .up = users_up,
     .n_up = 4,
     .down = users_down,
     .n_down = 1},
    {.version = "20260102000000",
     .name = "flag",
     .up = backfill_up,
     .n_up = 2,
     .down = backfill_down,
     .n_down = 1},
};

static void up_ok(target *t, const dsql_migration *m, size_t n, const dsql_migrate_options *o,
                  dsql_migrate_report *rep)
{
    dsql_error err = DSQL_ERROR_INIT;
    int rc = dsql_migrate_up(t->pool, m, n, o, rep, &err);
    if (rc)
        print_error("%s: dsql_migrate_up: %s [%s] %s\n", t->db, dsql_status_name(rc), err.sqlstate,
                    err.message);
    assert_int_equal(rc, DSQL_OK);
}

static void apply_status_down(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        target *t = &targets[i];
        reset(t);
        /* nothing there yet: all pending, and status creates nothing */
        dsql_migration_status *st = NULL;
        size_t n = 0;
        dsql_error err = DSQL_ERROR_INIT;
        assert_int_equal(dsql_migrate_status(t->pool, base, 2, NULL, &st, &n, &err), DSQL_OK);
        assert_int_equal(n, 2);
        assert_int_equal(st[0].state, DSQL_MIGRATION_PENDING);
        assert_string_equal(st[1].version, "20260102000000");
        assert_int_equal(st[1].duration_ms, -1);
        dsql_migrate_status_free(st);
        assert_int_equal(pg_long(t->pg, "SELECT count(*) FROM pg_tables WHERE tablename = "
                                        "'dsql_migrations'"),
                         0);

        dsql_migrate_report rep;
        up_ok(t, base, 2, NULL, &rep);
        assert_int_equal(rep.applied, 2);
        assert_int_equal(rep.already, 0);
        assert_int_equal(rep.statements, 6);
        /* 2 DDL + the inserts (together on PostgreSQL; past DSQL's cap, so one each there) +
         * the added column + 4 backfill runs that change rows and the one that finds none */
        assert_int_equal(rep.transactions, t->dsql ? 10 : 9);
        assert_int_equal(rep.rows, 7000);
        assert_string_equal(rep.failed_version, "");
        assert_int_equal(pg_long(t->pg, "SELECT count(*) FROM users"), 3500);
        assert_int_equal(pg_long(t->pg, "SELECT count(*) FROM users WHERE flag = 1"), 3500);
        assert_int_equal(pg_long(t->pg, "SELECT count(*) FROM pg_indexes i JOIN pg_class c ON "
                                        "c.relname = i.indexname JOIN pg_index x ON "
                                        "x.indexrelid = c.oid WHERE i.indexname = 'users_name' "
                                        "AND x.indisvalid"),
                         1);
        if (t->dsql) /* built as an asynchronous job, and waited for */
            assert_int_equal(pg_long(t->pg, "SELECT count(*) FROM sys.jobs WHERE object_name = "
                                            "'users_name' AND status = 'completed'"),
                             1);
        char sum[65];
        assert_int_equal(dsql_migration_checksum(&base[0], sum, &err), DSQL_OK);
        char sql[512];
        snprintf(sql, sizeof sql,
                 "SELECT version || ' ' || name || ' ' || state || ' ' || step || ' ' || "
                 "(checksum = '%s') || ' ' || (owner IS NULL) || ' ' || (error IS NULL) || ' ' || "
                 "(duration_ms >= 0) || ' ' || (applied_at <= now()) FROM dsql_migrations "
                 "WHERE version = '20260101000000'",
                 sum);
        assert_text(t->pg, sql, "20260101000000 users applied 4 true true true true true");

        assert_int_equal(dsql_migrate_status(t->pool, base, 2, NULL, &st, &n, &err), DSQL_OK);
        assert_int_equal(n, 2);
        assert_int_equal(st[0].state, DSQL_MIGRATION_APPLIED);
        assert_int_equal(st[1].state, DSQL_MIGRATION_APPLIED);
        assert_string_equal(st[0].checksum, sum);
        assert_int_equal(strlen(st[0].applied_at), 20); /* 2026-12-04T05:02:09Z */
        assert_true(st[0].duration_ms >= 0);
        dsql_migrate_status_free(st);

        /* again: nothing to do, nothing sent but reads */
        up_ok(t, base, 2, NULL, &rep);
        assert_int_equal(rep.applied, 0);
        assert_int_equal(rep.already, 2);
        assert_int_equal(rep.statements, 0);

        /* down: the last one only, then all */
        assert_int_equal(dsql_migrate_down(t->pool, base, 2, NULL, &rep, &err), DSQL_OK);
        assert_int_equal(rep.applied, 1);
        assert_int_equal(pg_long(t->pg, "SELECT count(*) FROM information_schema.columns WHERE "
                                        "table_name = 'users' AND column_name = 'flag'"),
                         0);
        assert_int_equal(pg_long(t->pg, "SELECT count(*) FROM dsql_migrations"), 1);
        dsql_migrate_options o = DSQL_MIGRATE_OPTIONS_INIT;
        o.target = "0";
        assert_int_equal(dsql_migrate_down(t->pool, base, 2, &o, &rep, &err), DSQL_OK);
        assert_int_equal(rep.applied, 1);
        assert_int_equal(pg_long(t->pg, "SELECT count(*) FROM dsql_migrations"), 0);
        assert_int_equal(pg_long(t->pg, "SELECT count(*) FROM pg_tables WHERE tablename = "
                                        "'users'"),
                         0);
        /* --to: up to the first only */
        o.target = "20260101000000";
        up_ok(t, base, 2, &o, &rep);
        assert_int_equal(rep.applied, 1);
        assert_int_equal(pg_long(t->pg, "SELECT count(*) FROM dsql_migrations"), 1);
    }
}

static void changed_and_bad_input(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        target *t = &targets[i];
        reset(t);
        dsql_migrate_report rep;
        up_ok(t, base, 1, NULL, &rep);
        /* the applied one changed: refused before anything is sent (the second stays pending) */
        dsql_migration_step up[4];
        memcpy(up, users_up, sizeof up);
        up[3].sql = "INSERT INTO users (name) SELECT 'w' || g FROM generate_series(1, 10) g";
        dsql_migration changed[2] = {base[0], base[1]};
        changed[0].up = up;
        dsql_error err = DSQL_ERROR_INIT;
        assert_int_equal(dsql_migrate_up(t->pool, changed, 2, NULL, &rep, &err), DSQL_EINVAL);
        assert_non_null(strstr(
            err.message, "dsql_migrate_up: migration 20260101000000 (users) is applied, but its "
                         "statements changed since (checksum "));
        assert_non_null(strstr(err.message, "an applied migration must not change; write a new "
                                            "migration for the change"));
        assert_int_equal(pg_long(t->pg, "SELECT count(*) FROM dsql_migrations"), 1);
        dsql_migration_status *st = NULL;
        size_t n = 0;
        assert_int_equal(dsql_migrate_status(t->pool, changed, 2, NULL, &st, &n, &err), DSQL_OK);
        assert_int_equal(st[0].state, DSQL_MIGRATION_CHANGED);
        assert_int_equal(st[1].state, DSQL_MIGRATION_PENDING);
        dsql_migrate_status_free(st);
        /* a row without a definition is listed as unknown; down refuses it */
        assert_int_equal(dsql_migrate_status(t->pool, &base[1], 1, NULL, &st, &n, &err), DSQL_OK);
        assert_int_equal(n, 2);
        assert_int_equal(st[1].state, DSQL_MIGRATION_UNKNOWN);
        assert_string_equal(st[1].name, "users");
        dsql_migrate_status_free(st);
        assert_int_equal(dsql_migrate_down(t->pool, &base[1], 1, NULL, &rep, &err), DSQL_EINVAL);
        assert_string_equal(
            err.message, "dsql_migrate_down: migration 20260101000000 (users) is applied, but no "
                         "definition of it was given: cannot revert it");
        /* no down part */
        dsql_migration nodown = base[0];
        nodown.n_down = 0;
        nodown.down = NULL;
        /* (its checksum differs: the down part counts; status says changed) */
        assert_int_equal(dsql_migrate_down(t->pool, &nodown, 1, NULL, &rep, &err), DSQL_EINVAL);
        assert_string_equal(
            err.message, "dsql_migrate_down: migration 20260101000000 (users) has no down part: it "
                         "cannot be reverted (nothing was reverted)");
        /* bad options */
        dsql_migrate_options o = DSQL_MIGRATE_OPTIONS_INIT;
        o.table = "Bad-Name";
        assert_int_equal(dsql_migrate_up(t->pool, base, 2, &o, &rep, &err), DSQL_EINVAL);
        assert_string_equal(err.message, "dsql_migrate_up: migrations table 'Bad-Name': use 1 to "
                                         "63 lower-case letters, digits and '_', starting with a "
                                         "letter or '_'");
        o.table = NULL;
        o.target = "v2";
        assert_int_equal(dsql_migrate_up(t->pool, base, 2, &o, &rep, &err), DSQL_EINVAL);
        assert_string_equal(err.message,
                            "dsql_migrate_up: target version 'v2' must be 1 to 32 digits");
        /* inside a transaction */
        dsql_conn *c = NULL;
        assert_int_equal(dsql_pool_acquire(t->pool, &c, &err), DSQL_OK);
        assert_int_equal(dsql_conn_query(c, "BEGIN", NULL, 0, NULL, &err), DSQL_OK);
        assert_int_equal(dsql_migrate_up(c, base, 2, NULL, &rep, &err), DSQL_EINVAL);
        assert_string_equal(err.message, "dsql_migrate_up: the connection is inside a transaction; "
                                         "migrations make their own (each DDL statement alone)");
        dsql_pool_release(t->pool, c);
        /* a statement over the row cap: named, with what to do (DSQL only) */
        static const dsql_migration_step big[] = {
            {.sql = "INSERT INTO users (name) SELECT 'b' || g FROM generate_series(1, 3001) g"}};
        dsql_migration m = {.version = "30", .name = "big", .up = big, .n_up = 1};
        int rc = dsql_migrate_up(t->pool, &m, 1, NULL, &rep, &err);
        if (t->dsql) {
            assert_int_equal(rc, DSQL_ELIMIT);
            assert_non_null(strstr(err.message, "migration 30 (big): up statement 1 of 1: "));
            assert_non_null(strstr(err.message, "make it a backfill, '-- dsql:backfill' before "
                                                "it"));
            assert_int_equal(pg_long(t->pg, "SELECT count(*) FROM users WHERE name LIKE 'b%'"), 0);
        } else {
            assert_int_equal(rc, DSQL_OK);
        }
    }
}

static void failing_resumed(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        target *t = &targets[i];
        reset(t);
        dsql_migration_step up[4] = {
            {.sql = "CREATE TABLE t3 (id int PRIMARY KEY, v int)"},
            {.sql = "INSERT INTO t3 VALUES (1, 1)"},
            {.sql = "CREATE INDEX ASYNC t3_v ON t3_missing (v)", .line = 3},
            {.sql = "CREATE TABLE t4 (id int PRIMARY KEY)"},
        };
        dsql_migration m = {
            .version = "3", .name = "t3", .up = up, .n_up = 4, .source = "migrations/3_t3.sql"};
        dsql_migrate_report rep;
        dsql_error err = DSQL_ERROR_INIT;
        assert_int_equal(dsql_migrate_up(t->pool, &m, 1, NULL, &rep, &err), DSQL_ESERVER);
        assert_string_equal(err.sqlstate, "42P01");
        assert_string_equal(err.message, "dsql_migrate_up: migration 3 (t3): up statement 3 of 4 "
                                         "(migrations/3_t3.sql:3): relation \"t3_missing\" does "
                                         "not exist");
        assert_string_equal(rep.failed_version, "3");
        assert_int_equal(rep.failed_step, 3);
        assert_text(t->pg,
                    "SELECT state || ' ' || step || ' ' || (owner IS NULL) FROM "
                    "dsql_migrations",
                    "failed 2 true");
        dsql_migration_status *st = NULL;
        size_t n = 0;
        assert_int_equal(dsql_migrate_status(t->pool, &m, 1, NULL, &st, &n, &err), DSQL_OK);
        assert_int_equal(st[0].state, DSQL_MIGRATION_FAILED);
        assert_int_equal(st[0].step, 3);
        assert_non_null(strstr(st[0].error, "relation \"t3_missing\" does not exist"));
        dsql_migrate_status_free(st);

        /* the fix changes statement 2 as well: refused, nothing run */
        up[1].sql = "INSERT INTO t3 VALUES (1, 2)";
        up[2].sql = "CREATE INDEX ASYNC t3_v ON t3 (v)";
        assert_int_equal(dsql_migrate_up(t->pool, &m, 1, NULL, &rep, &err), DSQL_EINVAL);
        assert_string_equal(
            err.message,
            "dsql_migrate_up: migration 3 (t3): statements 1 to 2 of its up part ran before it "
            "stopped at statement 3, and they have changed since: they cannot run "
            "again (DDL commits as it runs). Restore them as they were and fix "
            "statement 3 or later, or write a new migration");
        assert_text(t->pg, "SELECT state FROM dsql_migrations", "failed");

        /* the fix alone: resumed at statement 3; statement 2 is not run again */
        up[1].sql = "INSERT INTO t3 VALUES (1, 1)";
        up_ok(t, &m, 1, NULL, &rep);
        assert_int_equal(rep.resumed, 1);
        assert_int_equal(rep.applied, 1);
        assert_int_equal(rep.statements, 2);
        assert_int_equal(pg_long(t->pg, "SELECT count(*) FROM t3"), 1);
        assert_int_equal(pg_long(t->pg, "SELECT count(*) FROM pg_tables WHERE tablename = 't4'"),
                         1);
        char sum[65];
        assert_int_equal(dsql_migration_checksum(&m, sum, &err), DSQL_OK);
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT state || ' ' || step || ' ' || (checksum = '%s') FROM dsql_migrations",
                 sum);
        assert_text(t->pg, sql, "applied 4 true");

        /* a DML group that fails part-way is rolled back whole: it is run again from its first
         * statement */
        dsql_migration_step up2[3] = {
            {.sql = "CREATE TABLE runs (id int PRIMARY KEY)"},
            {.sql = "INSERT INTO runs VALUES (1)"},
            {.sql = "INSERT INTO runs VALUES (1)"}, /* duplicate key */
        };
        dsql_migration m2 = {.version = "4", .name = "runs", .up = up2, .n_up = 3};
        dsql_migration both[2] = {m, m2};
        assert_int_equal(dsql_migrate_up(t->pool, both, 2, NULL, &rep, &err), DSQL_ECONSTRAINT);
        assert_int_equal(rep.failed_step, 2);
        assert_int_equal(pg_long(t->pg, "SELECT count(*) FROM runs"), 0);
        up2[2].sql = "INSERT INTO runs VALUES (2)";
        up_ok(t, both, 2, NULL, &rep);
        assert_int_equal(rep.resumed, 1);
        assert_int_equal(pg_long(t->pg, "SELECT count(*) FROM runs"), 2);
    }
}

static void claims(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        target *t = &targets[i];
        reset(t);
        dsql_migrate_report rep;
        up_ok(t, base, 1, NULL, &rep); /* creates the table */
        /* a live runner holds 2: waited for, then a clear timeout */
        pg_ok(t->pg, "INSERT INTO dsql_migrations (version, name, checksum, state, step, prefix, "
                     "owner, claimed_at, heartbeat_at) VALUES ('20260102000000', 'flag', 'x', "
                     "'running', 1, 'x', 'otherhost:42:abc', now(), now())");
        dsql_migrate_options o = DSQL_MIGRATE_OPTIONS_INIT;
        o.wait_ms = 300;
        dsql_error err = DSQL_ERROR_INIT;
        int64_t t0 = tu_mono_ms();
        assert_int_equal(dsql_migrate_up(t->pool, base, 2, &o, &rep, &err), DSQL_ETIMEOUT);
        assert_true(tu_mono_ms() - t0 >= 150);
        assert_non_null(strstr(err.message,
                               "migration 20260102000000 (flag) is being applied by "
                               "runner otherhost:42:abc (statement 2, last progress "));
        /* the same runner, dead for longer than the lease: taken over at its statement, after
         * the statements before it are checked unchanged */
        /* (the claim's prefix, the digest of statement 1, is the one a real run that
         * stopped at statement 2 recorded: one whose statement 2 failed) */
        pg_ok(t->pg, "DELETE FROM dsql_migrations WHERE version = '20260102000000'");
        const dsql_migration_step stopped_up[] = {
            backfill_up[0],
            {.sql = "UPDATE no_such_table SET flag = 1", .flags = DSQL_STEP_BACKFILL},
        };
        dsql_migration stopped[2] = {base[0], base[1]};
        stopped[1].up = stopped_up;
        assert_int_equal(dsql_migrate_up(t->pool, stopped, 2, NULL, &rep, &err), DSQL_ESERVER);
        assert_int_equal(rep.failed_step, 2);
        pg_ok(t->pg, "UPDATE dsql_migrations SET state = 'running', owner = 'otherhost:42:abc', "
                     "heartbeat_at = now() - interval '6 hours' WHERE version = '20260102000000'");
        up_ok(t, base, 2, NULL, &rep);
        assert_int_equal(rep.applied, 1);
        assert_int_equal(rep.statements, 1);
        assert_int_equal(pg_long(t->pg, "SELECT count(*) FROM users WHERE flag = 1"), 3500);
        assert_text(t->pg, "SELECT state FROM dsql_migrations WHERE version = '20260102000000'",
                    "applied");
    }
}

/* ---- two runners at once ---- */

static const dsql_migration_step r1[] = {{.sql = "CREATE TABLE runs (id uuid PRIMARY KEY, "
                                                 "m int NOT NULL)"},
                                         {.sql = "INSERT INTO runs VALUES (gen_random_uuid(), 1)"},
                                         {.sql = "SELECT pg_sleep(0.3)"}};
static const dsql_migration_step r2[] = {{.sql = "INSERT INTO runs VALUES (gen_random_uuid(), 2)"},
                                         {.sql = "CREATE TABLE gone (id int PRIMARY KEY)"}};
static const dsql_migration_step r3[] = {{.sql = "INSERT INTO runs VALUES (gen_random_uuid(), 3)"},
                                         {.sql = "SELECT pg_sleep(0.2)"}};
static const dsql_migration runs[3] = {
    {.version = "1", .name = "runs", .up = r1, .n_up = 3},
    {.version = "2", .name = "two", .up = r2, .n_up = 2},
    {.version = "3", .name = "three", .up = r3, .n_up = 2},
};

typedef struct runner_arg {
    const target *t;
    pthread_barrier_t *go;
    int rc;
    dsql_migrate_report rep;
    dsql_error err;
} runner_arg;

static void *runner_main(void *p)
{
    runner_arg *a = p;
    dsql_pool *pool = open_pool(a->t);
    pthread_barrier_wait(a->go);
    a->rc = dsql_migrate_up(pool, runs, 3, NULL, &a->rep, &a->err);
    dsql_pool_close(pool);
    return NULL;
}

static void two_runners(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        target *t = &targets[i];
        for (int round = 0; round < 3; round++) {
            reset(t);
            pthread_barrier_t go;
            pthread_barrier_init(&go, NULL, 2);
            runner_arg a[2] = {{.t = t, .go = &go}, {.t = t, .go = &go}};
            pthread_t th[2];
            for (int k = 0; k < 2; k++)
                assert_int_equal(pthread_create(&th[k], NULL, runner_main, &a[k]), 0);
            for (int k = 0; k < 2; k++)
                pthread_join(th[k], NULL);
            pthread_barrier_destroy(&go);
            for (int k = 0; k < 2; k++)
                if (a[k].rc)
                    print_error("%s: runner %d: %s %s\n", t->db, k, dsql_status_name(a[k].rc),
                                a[k].err.message);
            assert_int_equal(a[0].rc, DSQL_OK);
            assert_int_equal(a[1].rc, DSQL_OK);
            /* each migration applied once, by one runner; the other found it done */
            assert_int_equal(a[0].rep.applied + a[1].rep.applied, 3);
            assert_int_equal(a[0].rep.already + a[1].rep.already, 3);
            assert_int_equal(pg_long(t->pg, "SELECT count(*) FROM runs"), 3);
            assert_int_equal(pg_long(t->pg, "SELECT count(DISTINCT m) FROM runs"), 3);
            assert_int_equal(pg_long(t->pg, "SELECT count(*) FROM dsql_migrations WHERE state = "
                                            "'applied'"),
                             3);
        }
    }
}

/* A migration that fails while another runner waits for it: the waiting one reports the
 * failure and does not run it again. */
static const dsql_migration_step bad[] = {{.sql = "CREATE TABLE runs (id uuid PRIMARY KEY, "
                                                  "m int NOT NULL)"},
                                          {.sql = "INSERT INTO runs VALUES (gen_random_uuid(), 1)"},
                                          {.sql = "SELECT pg_sleep(0.5)"},
                                          {.sql = "INSERT INTO runs_missing VALUES (1)"}};
static const dsql_migration bad_m = {.version = "7", .name = "bad", .up = bad, .n_up = 4};

static void *bad_runner_main(void *p)
{
    runner_arg *a = p;
    dsql_pool *pool = open_pool(a->t);
    pthread_barrier_wait(a->go);
    a->rc = dsql_migrate_up(pool, &bad_m, 1, NULL, &a->rep, &a->err);
    dsql_pool_close(pool);
    return NULL;
}

static void two_runners_failure(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        target *t = &targets[i];
        reset(t);
        dsql_migrate_report rep;
        up_ok(t, base, 1, NULL, &rep); /* the table exists: both runners start at the claim */
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, 2);
        runner_arg a[2] = {{.t = t, .go = &go}, {.t = t, .go = &go}};
        pthread_t th[2];
        for (int k = 0; k < 2; k++)
            assert_int_equal(pthread_create(&th[k], NULL, bad_runner_main, &a[k]), 0);
        for (int k = 0; k < 2; k++)
            pthread_join(th[k], NULL);
        pthread_barrier_destroy(&go);
        int ran = a[0].rep.failed_step ? 0 : 1, waited = 1 - ran;
        assert_int_equal(a[ran].rc, DSQL_ESERVER);
        assert_int_equal(a[ran].rep.failed_step, 4);
        assert_string_equal(a[ran].err.sqlstate, "42P01");
        assert_int_equal(a[waited].rc, DSQL_ESERVER);
        assert_int_equal(a[waited].rep.failed_step, 0);
        assert_non_null(strstr(a[waited].err.message,
                               "migration 7 (bad) failed in the runner that applied it while this "
                               "one waited, at statement 4: migration 7 (bad): up statement 4 of "
                               "4: relation \"runs_missing\" does not exist. Fix it and run up "
                               "again: it resumes there"));
        assert_int_equal(pg_long(t->pg, "SELECT count(*) FROM runs"), 1);
        assert_text(t->pg, "SELECT state || ' ' || step FROM dsql_migrations WHERE version = '7'",
                    "failed 3");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(apply_status_down), cmocka_unit_test(changed_and_bad_input),
        cmocka_unit_test(failing_resumed),   cmocka_unit_test(claims),
        cmocka_unit_test(two_runners),       cmocka_unit_test(two_runners_failure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
