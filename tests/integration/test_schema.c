/*
 * Schema against the throwaway PostgreSQL: create/drop of the seed's five tables, sync
 * (twice: the second is a no-op), the DSQL statement rules checked on everything sync
 * sends, added columns, indexes, opt-in foreign keys, OCC retries of DDL, the job wait
 * of asynchronous DDL, and bad input.
 *
 * Every statement is checked two ways: the pool's logging callback shows each statement
 * the library sends and how (alone, or in a pipeline), and an event trigger in the test
 * database records the transaction id of every DDL command the server runs, so "one DDL
 * per transaction" is checked on the server's side too.
 */
#include <stdlib.h>
#include <string.h>

/* Plain PostgreSQL even under dsql-local: the test installs event triggers (which write
 * rows in DDL transactions) and a sys schema of its own. */
#define DSQL_TEST_PLAIN 1
#include "testutil.h"
#include "petclinic.h"

#define DB  "dsql_t_schema"
#define APP "schematest"

static log_capture logs;
static dsql_pool *pool;
static PGconn *pg; /* to the test database, for checks behind the library's back */

static int setup(void **state)
{
    (void)state;
    pc_create_db(DB);
    cap_init(&logs);
    pool = TEST_POOL(.database = DB, .application_name = APP, .logs = &logs);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pc_close(DB, pool, NULL, &logs);
    return 0;
}

/* Each test starts from an empty schema of its own. */
static void fresh_schema(void)
{
    pg_ok(pg, "DROP SCHEMA IF EXISTS public CASCADE");
    pg_ok(pg, "CREATE SCHEMA public");
    pg_ok(pg, "CREATE TABLE public.ddl_audit (n serial, txid bigint, tag text)");
    pg_ok(pg, "CREATE FUNCTION public.ddl_audit_fn() RETURNS event_trigger LANGUAGE plpgsql AS "
              "$$ BEGIN IF current_setting('application_name') LIKE '" APP ":%' THEN "
              "INSERT INTO public.ddl_audit (txid, tag) VALUES (txid_current(), tg_tag); "
              "END IF; END $$");
    pg_ok(pg, "DROP EVENT TRIGGER IF EXISTS ddl_audit");
    pg_ok(pg, "CREATE EVENT TRIGGER ddl_audit ON ddl_command_end "
              "EXECUTE FUNCTION public.ddl_audit_fn()");
}

static int open_fresh(void **state)
{
    (void)state;
    pg = pc_pg(DB);
    fresh_schema();
    return 0;
}

static int close_pg(void **state)
{
    (void)state;
    PQfinish(pg);
    pg = NULL;
    return 0;
}

/* Log lines since mark (an offset into logs.text), each statement classified. */
typedef struct stmt_counts {
    int ddl;       /* CREATE / ALTER / DROP sent alone */
    int dml;       /* INSERT / UPDATE / DELETE / MERGE */
    int tx;        /* BEGIN / START / COMMIT / ROLLBACK */
    int pipelines; /* batches sent in pipeline mode */
    int reads;     /* SELECT */
    int other;
} stmt_counts;

static bool starts(const char *s, const char *word)
{
    return strncmp(s, word, strlen(word)) == 0;
}

static stmt_counts count_statements(size_t mark)
{
    stmt_counts c = {0};
    pthread_mutex_lock(&logs.mu);
    char *text = strdup(logs.text && logs.len > mark ? logs.text + mark : "");
    pthread_mutex_unlock(&logs.mu);
    assert_non_null(text);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (starts(line, "Executing pipeline")) {
            c.pipelines++;
            continue;
        }
        if (!starts(line, "Executing: "))
            continue;
        const char *sql = line + strlen("Executing: ");
        if (starts(sql, "CREATE ") || starts(sql, "ALTER ") || starts(sql, "DROP "))
            c.ddl++;
        else if (starts(sql, "INSERT") || starts(sql, "UPDATE") || starts(sql, "DELETE") ||
                 starts(sql, "MERGE"))
            c.dml++;
        else if (starts(sql, "BEGIN") || starts(sql, "START") || starts(sql, "COMMIT") ||
                 starts(sql, "ROLLBACK") || starts(sql, "END"))
            c.tx++;
        else if (starts(sql, "SELECT"))
            c.reads++;
        else
            c.other++;
    }
    free(text);
    return c;
}

static size_t log_mark(void)
{
    pthread_mutex_lock(&logs.mu);
    size_t m = logs.len;
    pthread_mutex_unlock(&logs.mu);
    return m;
}

static const char *owner_columns_sql =
    "SELECT column_name, data_type, coalesce(character_maximum_length::text, '-'), is_nullable "
    "FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'owner' "
    "ORDER BY ordinal_position";

/* The seed's way: drop each table (cascade), then create it — five tables, then dropped. */
static void test_create_drop_seed(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    for (size_t i = 0; i < 5; i++) {
        assert_dsql_ok(dsql_drop_table(pool, seed_models[i], true, &err), err);
        assert_dsql_ok(dsql_create_table(pool, seed_models[i], &err), err);
    }
    /* Created again: IF NOT EXISTS, no error. */
    assert_dsql_ok(dsql_create_table(pool, &owner_model, &err), err);

    assert_rows(pg,
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                "AND table_name <> 'ddl_audit' ORDER BY table_name",
                "owner\npet\nspecialty\nvet\nvetSpecialties\n");
    assert_rows(pg, owner_columns_sql,
                "id|uuid|-|NO\n"
                "name|character varying|30|NO\n"
                "city|character varying|80|NO\n"
                "telephone|character varying|20|YES\n");
    assert_rows(pg,
                "SELECT column_name, data_type, coalesce(character_maximum_length::text, '-'), "
                "is_nullable FROM information_schema.columns WHERE table_name = 'pet' "
                "ORDER BY ordinal_position",
                "id|uuid|-|NO\nname|character varying|30|NO\nbirthDate|date|-|NO\n"
                "ownerId|uuid|-|YES\n");
    /* Specialty: attribute id is the primary-key column "name". */
    assert_rows(pg,
                "SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints "
                "tc JOIN information_schema.key_column_usage kcu USING (constraint_schema, "
                "constraint_name) WHERE tc.constraint_type = 'PRIMARY KEY' AND "
                "tc.table_schema = 'public' ORDER BY 1",
                "owner|id\npet|id\nspecialty|name\nvet|id\nvetSpecialties|id\n");
    assert_rows(pg,
                "SELECT column_name, data_type FROM information_schema.columns WHERE "
                "table_name = 'vetSpecialties' ORDER BY ordinal_position",
                "id|uuid\nvetId|uuid\nspecialtyId|character varying\n");
    /* No foreign keys: the seed's constraints: false. */
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pg_constraint WHERE contype = 'f'"), 0);

    for (size_t i = 0; i < 5; i++)
        assert_dsql_ok(dsql_drop_table(pool, seed_models[i], true, &err), err);
    assert_dsql_ok(dsql_drop_table(pool, &owner_model, false, &err), err); /* IF EXISTS */
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM information_schema.tables WHERE "
                                 "table_schema = 'public' AND table_name <> 'ddl_audit'"),
                     0);
}

static void test_sync_twice(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    dsql_sync_report rep;
    size_t mark = log_mark();
    pool_counters pc = pool_counters_of(pool);
    assert_dsql_ok(dsql_sync(pool, seed_models, 5, NULL, 0, &rep, &err), err);
    assert_int_equal(rep.tables_created, 5);
    assert_int_equal(rep.columns_added, 0);
    assert_int_equal(rep.indexes_created, 0);
    assert_int_equal(rep.constraints_added, 0);
    assert_int_equal(rep.not_applied, 0);
    assert_int_equal(rep.statements, 5);
    /* Two round trips: the catalog reads (current schema, columns, indexes) as one
     * pipeline, then the five CREATE TABLEs as another (it was eight: one per read and
     * one per table). */
    assert_sent(pool, pc, 2, 8);

    /* The DSQL rules, on what the library sent: five DDL statements, each alone in its
     * own transaction (no BEGIN/COMMIT anywhere; in the pipeline a Sync ends each one),
     * no DML at all. */
    stmt_counts c = count_statements(mark);
    assert_int_equal(c.ddl, 5);
    assert_int_equal(c.dml, 0);
    assert_int_equal(c.tx, 0);
    assert_int_equal(c.pipelines, 2);
    assert_int_equal(c.reads, 3);
    assert_int_equal(c.other, 0);
    assert_true(cap_has(&logs, "Executing pipeline of 5 statements, each its own transaction, "
                               "in one round trip ("));
    assert_true(cap_has(&logs, "Executing: CREATE TABLE IF NOT EXISTS \"vetSpecialties\" ("));
    assert_true(cap_has(&logs, ", pipelined 5 of 5)"));
    /* ... and on what the server ran: five DDL commands in five distinct transactions. */
    assert_rows(pg, "SELECT tag, count(*), count(DISTINCT txid) FROM public.ddl_audit GROUP BY 1",
                "CREATE TABLE|5|5\n");
    assert_rows(pg, owner_columns_sql,
                "id|uuid|-|NO\nname|character varying|30|NO\ncity|character varying|80|NO\n"
                "telephone|character varying|20|YES\n");

    /* Second sync: nothing to do, nothing sent but catalog reads. */
    mark = log_mark();
    pc = pool_counters_of(pool);
    assert_dsql_ok(dsql_sync(pool, seed_models, 5, NULL, 0, &rep, &err), err);
    dsql_sync_report zero = {0};
    assert_memory_equal(&rep, &zero, sizeof rep);
    assert_sent(pool, pc, 1, 3);
    c = count_statements(mark);
    assert_int_equal(c.ddl, 0);
    assert_int_equal(c.dml, 0);
    assert_int_equal(c.tx, 0);
    assert_int_equal(c.pipelines, 1);
    assert_int_equal(c.reads, 3);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM public.ddl_audit"), 5);

    /* Dropped again by the library. */
    for (size_t i = 0; i < 5; i++)
        assert_dsql_ok(dsql_drop_table(pool, seed_models[i], true, &err), err);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM information_schema.tables WHERE "
                                 "table_schema = 'public' AND table_name <> 'ddl_audit'"),
                     0);
}

/* owner as it was before telephone, nickname and email existed. */
typedef struct owner_v2 {
    dsql_uuid id;
    char *name, *city, *telephone, *nickname, *email;
} owner_v2;
static const dsql_attr owner_v1_attrs[] = {
    DSQL_ATTR(owner_v2, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR(owner_v2, name, DSQL_STRING(30), .not_null = true),
    DSQL_ATTR(owner_v2, city, DSQL_STRING(80), .not_null = true),
};
static DSQL_MODEL(owner_v1_model, owner_v2, "owner", owner_v1_attrs);
static const dsql_attr owner_v2_attrs[] = {
    DSQL_ATTR(owner_v2, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR(owner_v2, name, DSQL_STRING(30), .not_null = true),
    DSQL_ATTR(owner_v2, city, DSQL_STRING(80), .not_null = true),
    DSQL_ATTR(owner_v2, telephone, DSQL_STRING(20)),
    DSQL_ATTR(owner_v2, nickname, DSQL_STRING(20), .unique = true),
    DSQL_ATTR(owner_v2, email, DSQL_STRING(60), .not_null = true, .default_sql = "'none'"),
};
static DSQL_MODEL(owner_v2_model, owner_v2, "owner", owner_v2_attrs);
static const dsql_attr owner_v3_attrs[] = {
    DSQL_ATTR(owner_v2, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR(owner_v2, name, DSQL_STRING(40), .not_null = true),
    DSQL_ATTR(owner_v2, city, DSQL_TEXT, .not_null = true),
    DSQL_ATTR(owner_v2, telephone, DSQL_STRING(20)),
};
static DSQL_MODEL(owner_v3_model, owner_v2, "owner", owner_v3_attrs);

static void test_sync_adds_columns(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    dsql_sync_report rep;
    const dsql_model *v1[] = {&owner_v1_model}, *v2[] = {&owner_v2_model};
    assert_dsql_ok(dsql_sync(pool, v1, 1, NULL, 0, &rep, &err), err);
    assert_int_equal(rep.tables_created, 1);
    pg_ok(pg, "INSERT INTO owner (id, name, city) VALUES (gen_random_uuid(), 'Old', 'Town')");
    pg_ok(pg, "TRUNCATE public.ddl_audit");

    size_t mark = log_mark();
    assert_dsql_ok(dsql_sync(pool, v2, 1, NULL, 0, &rep, &err), err);
    assert_int_equal(rep.tables_created, 0);
    assert_int_equal(rep.columns_added, 3);
    assert_int_equal(rep.indexes_created, 1); /* nickname's uniqueness, as a unique index */
    assert_int_equal(rep.constraints_added, 0);
    assert_int_equal(rep.not_applied, 1); /* email's NOT NULL */
    /* 3 ADD COLUMN + SET DEFAULT for email + CREATE UNIQUE INDEX for nickname */
    assert_int_equal(rep.statements, 5);
    stmt_counts c = count_statements(mark);
    assert_int_equal(c.ddl, 5);
    assert_int_equal(c.pipelines, 2); /* the catalog reads, the DDL */
    assert_int_equal(c.dml + c.tx + c.other, 0);
    assert_true(cap_has(&logs, "Executing: ALTER TABLE \"owner\" ADD COLUMN \"email\" "
                               "varchar(60) ("));
    assert_true(cap_has(&logs, "Executing: ALTER TABLE \"owner\" ALTER COLUMN \"email\" SET "
                               "DEFAULT 'none' ("));
    assert_true(cap_has(&logs, "sync: column owner.email was added as a nullable column without "
                               "NOT NULL: Aurora DSQL cannot add it to an existing table"));
    assert_rows(pg, "SELECT count(*), count(DISTINCT txid) FROM public.ddl_audit", "5|5\n");

    assert_rows(pg,
                "SELECT column_name, data_type, coalesce(character_maximum_length::text, '-'), "
                "is_nullable, coalesce(column_default, '-') FROM information_schema.columns "
                "WHERE table_name = 'owner' ORDER BY ordinal_position",
                "id|uuid|-|NO|-\n"
                "name|character varying|30|NO|-\n"
                "city|character varying|80|NO|-\n"
                "telephone|character varying|20|YES|-\n"
                "nickname|character varying|20|YES|-\n"
                "email|character varying|60|YES|'none'::character varying\n");
    assert_rows(pg, "SELECT indexdef FROM pg_indexes WHERE indexname = 'owner_nickname_key'",
                "CREATE UNIQUE INDEX owner_nickname_key ON public.owner USING btree (nickname)\n");
    /* The old row kept its values; new columns are NULL. */
    assert_rows(pg, "SELECT name, city, telephone, nickname, email FROM owner",
                "Old|Town|NULL|NULL|NULL\n");

    /* In line now: a no-op. */
    assert_dsql_ok(dsql_sync(pool, v2, 1, NULL, 0, &rep, &err), err);
    assert_int_equal(rep.statements, 0);

    /* Types that differ from the table's are reported, never altered. */
    const dsql_model *v3[] = {&owner_v3_model};
    assert_dsql_ok(dsql_sync(pool, v3, 1, NULL, 0, &rep, &err), err);
    assert_int_equal(rep.statements, 0);
    assert_int_equal(rep.type_mismatches, 2);
    assert_true(cap_has(&logs, "sync: column owner.name is character varying(30) in the database "
                               "but STRING(40) in model owner_v2; sync does not change column "
                               "types"));
    assert_true(cap_has(&logs, "sync: column owner.city is character varying(80) in the database "
                               "but TEXT in model owner_v2; sync does not change column types"));
    assert_rows(pg,
                "SELECT data_type, character_maximum_length FROM information_schema.columns "
                "WHERE table_name = 'owner' AND column_name = 'name'",
                "character varying|30\n");
}

/* Every type: created, then found exactly as declared (no type mismatch). */
typedef struct every {
    dsql_uuid id;
    char *s, *t, *c, *num, *num0, *d, *tm, *ts, *tstz, *iv, *j, *jb;
    int16_t sm;
    int32_t in;
    int64_t bi;
    float r;
    double dbl;
    bool b;
    dsql_bytes by;
} every;
static const dsql_attr every_attrs[] = {
    DSQL_ATTR(every, id, DSQL_UUID, .primary_key = true),
    DSQL_ATTR(every, s, DSQL_STRING(30)),
    DSQL_ATTR(every, t, DSQL_TEXT),
    DSQL_ATTR(every, c, DSQL_CHAR(2)),
    DSQL_ATTR(every, sm, DSQL_SMALLINT),
    DSQL_ATTR(every, in, DSQL_INTEGER),
    DSQL_ATTR(every, bi, DSQL_BIGINT),
    DSQL_ATTR(every, r, DSQL_REAL),
    DSQL_ATTR(every, dbl, DSQL_DOUBLE),
    DSQL_ATTR(every, num, DSQL_NUMERIC(10, 2)),
    DSQL_ATTR(every, num0, DSQL_NUMERIC(0, 0)),
    DSQL_ATTR(every, b, DSQL_BOOLEAN),
    DSQL_ATTR(every, d, DSQL_DATEONLY),
    DSQL_ATTR(every, tm, DSQL_TIME),
    DSQL_ATTR(every, ts, DSQL_TIMESTAMP),
    DSQL_ATTR(every, tstz, DSQL_TIMESTAMPTZ),
    DSQL_ATTR(every, iv, DSQL_INTERVAL),
    DSQL_ATTR(every, by, DSQL_BYTEA),
    DSQL_ATTR(every, j, DSQL_JSON),
    DSQL_ATTR(every, jb, DSQL_JSONB),
};
static DSQL_MODEL(every_model, every, "every", every_attrs);

static void test_sync_every_type(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    dsql_sync_report rep;
    const dsql_model *m[] = {&every_model};
    assert_dsql_ok(dsql_sync(pool, m, 1, NULL, 0, &rep, &err), err);
    assert_int_equal(rep.tables_created, 1);
    assert_rows(
        pg,
        "SELECT string_agg(format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM "
        "pg_attribute WHERE attrelid = 'every'::regclass AND attnum > 0",
        "uuid, character varying(30), text, character(2), smallint, "
        "integer, bigint, real, double precision, numeric(10,2), numeric(18,6), boolean, date, "
        "time without time zone, timestamp without time zone, timestamp with time zone, "
        "interval, bytea, json, jsonb\n");
    assert_dsql_ok(dsql_sync(pool, m, 1, NULL, 0, &rep, &err), err);
    dsql_sync_report zero = {0};
    assert_memory_equal(&rep, &zero, sizeof rep);
}

/* pet with indexes: one by default name, one unique with its own name. */
static const dsql_index pet_indexes_1[] = {DSQL_INDEX(NULL, false, "name")};
static const dsql_index pet_indexes_2[] = {
    DSQL_INDEX(NULL, false, "name"),
    DSQL_INDEX("pet_owner_name_uq", true, "ownerId", "name"),
};
static DSQL_MODEL_INDEXED(pet_idx1_model, pet, "pet", pet_attrs, pet_indexes_1);
static DSQL_MODEL_INDEXED(pet_idx2_model, pet, "pet", pet_attrs, pet_indexes_2);

static void test_sync_indexes(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    dsql_sync_report rep;
    const dsql_model *m1[] = {&pet_idx1_model}, *m2[] = {&pet_idx2_model};
    size_t mark = log_mark();
    assert_dsql_ok(dsql_sync(pool, m1, 1, NULL, 0, &rep, &err), err);
    assert_int_equal(rep.tables_created, 1);
    assert_int_equal(rep.indexes_created, 1);
    assert_int_equal(rep.statements, 2);
    /* PostgreSQL: a plain CREATE INDEX (DSQL would get CREATE INDEX ASYNC and a wait). */
    assert_true(cap_has(&logs, "Executing: CREATE INDEX IF NOT EXISTS \"pet_name_idx\" ON "
                               "\"pet\" (\"name\") ("));
    stmt_counts c = count_statements(mark);
    assert_int_equal(c.ddl, 2);
    assert_int_equal(c.pipelines, 2);
    assert_int_equal(c.reads, 4); /* schema, columns, indexes, the server kind */
    assert_int_equal(c.dml + c.tx, 0);

    assert_dsql_ok(dsql_sync(pool, m2, 1, NULL, 0, &rep, &err), err);
    assert_int_equal(rep.tables_created, 0);
    assert_int_equal(rep.indexes_created, 1);
    assert_int_equal(rep.statements, 1);
    assert_rows(pg,
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'pet' "
                "ORDER BY indexname",
                "pet_name_idx|CREATE INDEX pet_name_idx ON public.pet USING btree (name)\n"
                "pet_owner_name_uq|CREATE UNIQUE INDEX pet_owner_name_uq ON public.pet USING "
                "btree (\"ownerId\", name)\n"
                "pet_pkey|CREATE UNIQUE INDEX pet_pkey ON public.pet USING btree (id)\n");
    assert_rows(pg, "SELECT count(*), count(DISTINCT txid) FROM public.ddl_audit", "3|3\n");

    assert_dsql_ok(dsql_sync(pool, m2, 1, NULL, 0, &rep, &err), err);
    assert_int_equal(rep.statements, 0);
}

static const char *fk_sql =
    "SELECT conrelid::regclass::text, conname, convalidated, pg_get_constraintdef(oid) "
    "FROM pg_constraint WHERE contype = 'f' ORDER BY 2";

static void test_sync_foreign_keys(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    dsql_sync_report rep;

    /* Constraints off (the seed's associations): no foreign key. */
    const dsql_assoc *off[] = {&pet_owner, &owner_pets, &vet_specialties};
    assert_dsql_ok(dsql_sync(pool, seed_models, 5, off, 3, &rep, &err), err);
    assert_int_equal(rep.tables_created, 5);
    assert_int_equal(rep.constraints_added, 0);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pg_constraint WHERE contype = 'f'"), 0);

    /* Opted in on existing tables (holding a row): ADD CONSTRAINT ... NOT VALID, then
     * VALIDATE, each alone. */
    pg_ok(pg, "INSERT INTO owner VALUES ('6f1b2c1e-8f47-4d55-9b8e-1c1f0b7f2a10', 'A', 'B', NULL)");
    pg_ok(pg, "INSERT INTO pet VALUES (gen_random_uuid(), 'P', '2020-01-01', "
              "'6f1b2c1e-8f47-4d55-9b8e-1c1f0b7f2a10')");
    pg_ok(pg, "TRUNCATE public.ddl_audit");
    size_t mark = log_mark();
    const dsql_assoc *on[] = {&pet_owner_fk};
    assert_dsql_ok(dsql_sync(pool, seed_models, 5, on, 1, &rep, &err), err);
    assert_int_equal(rep.tables_created, 0);
    assert_int_equal(rep.constraints_added, 1);
    assert_int_equal(rep.statements, 2);
    assert_true(cap_has(&logs, "Executing: ALTER TABLE \"pet\" ADD CONSTRAINT "
                               "\"pet_ownerId_fkey\" FOREIGN KEY (\"ownerId\") REFERENCES "
                               "\"owner\" (\"id\") ON DELETE SET NULL NOT VALID ("));
    assert_true(cap_has(&logs, "Executing: ALTER TABLE \"pet\" VALIDATE CONSTRAINT "
                               "\"pet_ownerId_fkey\" ("));
    stmt_counts c = count_statements(mark);
    assert_int_equal(c.ddl, 2);
    assert_int_equal(c.pipelines, 2);
    assert_int_equal(c.dml + c.tx, 0);
    assert_rows(pg, "SELECT count(*), count(DISTINCT txid) FROM public.ddl_audit", "2|2\n");
    assert_rows(pg, fk_sql,
                "pet|pet_ownerId_fkey|t|FOREIGN KEY (\"ownerId\") REFERENCES owner(id) ON DELETE "
                "SET NULL\n");
    /* Second time: nothing. */
    assert_dsql_ok(dsql_sync(pool, seed_models, 5, on, 1, &rep, &err), err);
    assert_int_equal(rep.statements, 0);

    /* A constraint left NOT VALID (an interrupted sync) is validated, not re-added. */
    pg_ok(pg, "ALTER TABLE pet DROP CONSTRAINT \"pet_ownerId_fkey\"");
    pg_ok(pg, "ALTER TABLE pet ADD CONSTRAINT \"pet_ownerId_fkey\" FOREIGN KEY (\"ownerId\") "
              "REFERENCES owner (id) ON DELETE SET NULL NOT VALID");
    assert_dsql_ok(dsql_sync(pool, seed_models, 5, on, 1, &rep, &err), err);
    assert_int_equal(rep.constraints_added, 0);
    assert_int_equal(rep.statements, 1);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pg_constraint WHERE conname = "
                                 "'pet_ownerId_fkey' AND convalidated"),
                     1);

    /* New tables: the join table is listed first but created last, its two keys inline. */
    fresh_schema();
    const dsql_model *order[] = {&vet_specialty_model, &vet_model, &specialty_model};
    dsql_assoc cascade = vet_specialties_fk;
    cascade.on_delete = "cascade";
    const dsql_assoc *btm[] = {&cascade};
    mark = log_mark();
    assert_dsql_ok(dsql_sync(pool, order, 3, btm, 1, &rep, &err), err);
    assert_int_equal(rep.tables_created, 3);
    assert_int_equal(rep.constraints_added, 2);
    assert_int_equal(rep.statements, 3);
    c = count_statements(mark);
    assert_int_equal(c.ddl, 3);
    assert_rows(pg, "SELECT tag, count(*), count(DISTINCT txid) FROM public.ddl_audit GROUP BY 1",
                "CREATE TABLE|3|3\n");
    assert_rows(pg, fk_sql,
                "\"vetSpecialties\"|vetSpecialties_specialtyId_fkey|t|FOREIGN KEY "
                "(\"specialtyId\") REFERENCES specialty(name) ON DELETE CASCADE\n"
                "\"vetSpecialties\"|vetSpecialties_vetId_fkey|t|FOREIGN KEY (\"vetId\") "
                "REFERENCES vet(id) ON DELETE CASCADE\n");
    /* It is a real constraint. */
    PGresult *r = PQexec(pg, "INSERT INTO \"vetSpecialties\" VALUES (gen_random_uuid(), "
                             "gen_random_uuid(), 'Nope')");
    assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "23503");
    PQclear(r);
}

/* DDL that meets an OCC conflict (40001, OC001) is retried alone; here the server's
 * event trigger fails the first two attempts the way DSQL reports a schema conflict. */
static void test_sync_retries_conflicts(void **state)
{
    (void)state;
    pg_ok(pg, "CREATE SEQUENCE public.occ_attempts");
    pg_ok(pg, "CREATE FUNCTION public.occ_fn() RETURNS event_trigger LANGUAGE plpgsql AS $$ "
              "BEGIN IF current_setting('application_name') LIKE '" APP ":%' AND "
              "nextval('public.occ_attempts') <= 2 THEN RAISE EXCEPTION "
              "'schema has been updated by another transaction, please retry: (OC001)' "
              "USING ERRCODE = '40001'; END IF; END $$");
    pg_ok(pg, "CREATE EVENT TRIGGER occ ON ddl_command_end EXECUTE FUNCTION public.occ_fn()");
    dsql_error err = DSQL_ERROR_INIT;
    dsql_sync_report rep;
    const dsql_model *m[] = {&vet_model};
    int warns = cap_count(&logs, "schema: concurrency conflict");
    assert_dsql_ok(dsql_sync(pool, m, 1, NULL, 0, &rep, &err), err);
    assert_int_equal(rep.tables_created, 1);
    assert_int_equal(rep.statements, 1);
    assert_int_equal(cap_count(&logs, "schema: concurrency conflict") - warns, 2);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM vet"), 0);
    pg_ok(pg, "DROP EVENT TRIGGER occ");
}

/* create_tables and drop_tables: every statement its own transaction, all in one round
 * trip. */
static void test_create_drop_tables_one_trip(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    pool_counters pc = pool_counters_of(pool);
    assert_dsql_ok(dsql_create_tables(pool, seed_models, 5, &err), err);
    assert_sent(pool, pc, 1, 5); /* was 5 round trips: one per table */
    assert_rows(pg, "SELECT tag, count(*), count(DISTINCT txid) FROM public.ddl_audit GROUP BY 1",
                "CREATE TABLE|5|5\n");
    assert_rows(pg,
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                "AND table_name <> 'ddl_audit' ORDER BY table_name",
                "owner\npet\nspecialty\nvet\nvetSpecialties\n");

    pc = pool_counters_of(pool);
    assert_dsql_ok(dsql_drop_tables(pool, seed_models, 5, true, &err), err);
    assert_sent(pool, pc, 1, 5);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM information_schema.tables WHERE "
                                 "table_schema = 'public' AND table_name <> 'ddl_audit'"),
                     0);
    assert_rows(pg,
                "SELECT tag, count(*), count(DISTINCT txid) FROM public.ddl_audit WHERE tag = "
                "'DROP TABLE' GROUP BY 1",
                "DROP TABLE|5|5\n");

    /* A table with an index: the server kind, then the table and its index together. */
    const dsql_model *m[] = {&owner_model, &pet_idx1_model};
    pc = pool_counters_of(pool);
    assert_dsql_ok(dsql_create_tables(pool, m, 2, &err), err);
    assert_sent(pool, pc, 2, 4);
    assert_rows(pg, "SELECT indexname FROM pg_indexes WHERE tablename = 'pet' ORDER BY 1",
                "pet_name_idx\npet_pkey\n");

    /* Nothing at all: nothing sent. */
    pc = pool_counters_of(pool);
    assert_dsql_ok(dsql_create_tables(pool, m, 0, &err), err);
    assert_dsql_ok(dsql_drop_tables(pool, m, 0, false, &err), err);
    assert_sent(pool, pc, 0, 0);
}

/* A model whose CREATE TABLE the server refuses: its default calls no function there. */
static const dsql_attr bad_default_attrs[] = {
    DSQL_ATTR(owner, id, DSQL_UUID, .primary_key = true, .default_sql = "no_such_fn()"),
};
static DSQL_MODEL(bad_default_model, owner, "bad", bad_default_attrs);

/* Statements of one pipeline are separate transactions: one that fails does not stop the
 * others, and the error is that statement's own, exactly as the server gave it. */
static void test_pipeline_error_per_statement(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    dsql_sync_report rep;
    const dsql_model *m[] = {&owner_model, &bad_default_model, &vet_model};
    pool_counters pc = pool_counters_of(pool);
    assert_int_equal(dsql_sync(pool, m, 3, NULL, 0, &rep, &err), DSQL_ESERVER);
    assert_string_equal(err.sqlstate, "42883");
    assert_string_equal(err.message, "dsql_sync: sync: bad: function no_such_fn() does not exist");
    assert_sent(pool, pc, 2, 6);
    assert_int_equal(rep.tables_created, 2);
    assert_int_equal(rep.statements, 2);
    assert_rows(pg, "SELECT tag, count(*), count(DISTINCT txid) FROM public.ddl_audit GROUP BY 1",
                "CREATE TABLE|2|2\n");
    assert_rows(pg,
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                "AND table_name <> 'ddl_audit' ORDER BY table_name",
                "owner\nvet\n");

    /* The same through create_tables, and the error names its table. */
    dsql_error_clear(&err);
    const dsql_model *m2[] = {&specialty_model, &bad_default_model, &pet_model};
    assert_int_equal(dsql_create_tables(pool, m2, 3, &err), DSQL_ESERVER);
    assert_string_equal(err.sqlstate, "42883");
    assert_string_equal(
        err.message,
        "dsql_create_tables: creating table bad: function no_such_fn() does not exist");
    assert_rows(pg,
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                "AND table_name <> 'ddl_audit' ORDER BY table_name",
                "owner\npet\nspecialty\nvet\n");
    /* The connection stays usable: it went back to the pool clean. */
    assert_dsql_ok(dsql_drop_tables(pool, seed_models, 5, true, &err), err);
}

/* An OCC conflict in the middle of a pipeline: the conflicted statements run again, alone
 * in a second pipeline, and the others are not repeated. */
static void test_pipeline_retries_conflicts(void **state)
{
    (void)state;
    pg_ok(pg, "CREATE SEQUENCE public.occ_attempts");
    pg_ok(pg, "CREATE FUNCTION public.occ_fn() RETURNS event_trigger LANGUAGE plpgsql AS $$ "
              "BEGIN IF current_setting('application_name') LIKE '" APP ":%' AND "
              "nextval('public.occ_attempts') IN (1, 3) THEN RAISE EXCEPTION "
              "'schema has been updated by another transaction, please retry: (OC001)' "
              "USING ERRCODE = '40001'; END IF; END $$");
    pg_ok(pg, "CREATE EVENT TRIGGER occ ON ddl_command_end EXECUTE FUNCTION public.occ_fn()");
    dsql_error err = DSQL_ERROR_INIT;
    dsql_sync_report rep;
    int warns = cap_count(&logs, "schema: concurrency conflict");
    size_t mark = log_mark();
    pool_counters pc = pool_counters_of(pool);
    assert_dsql_ok(dsql_sync(pool, seed_models, 5, NULL, 0, &rep, &err), err);
    assert_int_equal(rep.tables_created, 5);
    assert_int_equal(rep.statements, 5);
    assert_int_equal(cap_count(&logs, "schema: concurrency conflict") - warns, 1);
    /* reads; the five tables (owner and specialty conflict); owner and specialty again */
    assert_sent(pool, pc, 3, 3 + 5 + 2);
    stmt_counts c = count_statements(mark);
    assert_int_equal(c.ddl, 7);
    assert_rows(pg,
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                "'public' AND table_name <> 'ddl_audit'",
                "5\n");
    pg_ok(pg, "DROP EVENT TRIGGER occ");
}

static void test_bad_input(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    dsql_sync_report rep;
    size_t mark = log_mark();

    const dsql_model *dup[] = {&owner_model, &pet_model, &owner_v2_model};
    assert_int_equal(dsql_sync(pool, dup, 3, NULL, 0, &rep, &err), DSQL_EINVAL);
    assert_non_null(strstr(err.message, "both use table owner"));

    /* A foreign key on a table not synced. */
    const dsql_model *only_owner[] = {&owner_model};
    const dsql_assoc *on[] = {&pet_owner_fk};
    assert_int_equal(dsql_sync(pool, only_owner, 1, on, 1, &rep, &err), DSQL_EINVAL);
    assert_non_null(strstr(err.message, "association owner"));
    assert_non_null(strstr(err.message, "not among the models synced"));

    const dsql_model *null_model[] = {&owner_model, NULL};
    assert_int_equal(dsql_sync(pool, null_model, 2, NULL, 0, &rep, &err), DSQL_EINVAL);
    assert_non_null(strstr(err.message, "models[1] is NULL"));
    assert_int_equal(dsql_sync(pool, NULL, 2, NULL, 0, &rep, &err), DSQL_EINVAL);

    dsql_model broken = owner_model;
    broken.magic = 1;
    assert_int_equal(dsql_create_table(pool, &broken, &err), DSQL_EINVAL);
    assert_int_equal(dsql_drop_table(pool, &broken, true, &err), DSQL_EINVAL);
    assert_int_equal(dsql_create_table(pool, NULL, &err), DSQL_EINVAL);
    assert_int_equal((dsql_create_table)(NULL, &owner_model, &err), DSQL_EINVAL);

    /* Nothing was sent for any of them. */
    stmt_counts c = count_statements(mark);
    assert_int_equal(c.ddl + c.dml + c.tx + c.pipelines + c.reads + c.other, 0);
    assert_memory_equal(&rep, &(dsql_sync_report){0}, sizeof rep);

    /* DDL inside the caller's transaction is refused before anything is sent. */
    dsql_conn *conn;
    assert_dsql_ok(dsql_pool_acquire(pool, &conn, &err), err);
    assert_dsql_ok(dsql_conn_query(conn, "BEGIN", NULL, 0, NULL, &err), err);
    assert_int_equal(dsql_sync(conn, seed_models, 5, NULL, 0, &rep, &err), DSQL_EINVAL);
    assert_non_null(strstr(err.message, "inside a transaction"));
    assert_int_equal(dsql_create_table(conn, &owner_model, &err), DSQL_EINVAL);
    assert_dsql_ok(dsql_conn_query(conn, "ROLLBACK", NULL, 0, NULL, &err), err);
    /* On a connection outside a transaction, sync works. */
    assert_dsql_ok(dsql_sync(conn, seed_models, 5, NULL, 0, &rep, &err), err);
    assert_int_equal(rep.tables_created, 5);
    dsql_pool_release(pool, conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_drop_seed, open_fresh, close_pg),
        cmocka_unit_test_setup_teardown(test_sync_twice, open_fresh, close_pg),
        cmocka_unit_test_setup_teardown(test_sync_adds_columns, open_fresh, close_pg),
        cmocka_unit_test_setup_teardown(test_sync_every_type, open_fresh, close_pg),
        cmocka_unit_test_setup_teardown(test_sync_indexes, open_fresh, close_pg),
        cmocka_unit_test_setup_teardown(test_sync_foreign_keys, open_fresh, close_pg),
        cmocka_unit_test_setup_teardown(test_sync_retries_conflicts, open_fresh, close_pg),
        cmocka_unit_test_setup_teardown(test_create_drop_tables_one_trip, open_fresh, close_pg),
        cmocka_unit_test_setup_teardown(test_pipeline_error_per_statement, open_fresh, close_pg),
        cmocka_unit_test_setup_teardown(test_pipeline_retries_conflicts, open_fresh, close_pg),
        cmocka_unit_test_setup_teardown(test_bad_input, open_fresh, close_pg),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
