/*
 * Batches on a real server (through the local DSQL endpoint, and on plain PostgreSQL): the
 * whole batch in one round trip (pool counters), atomic batches applied whole or not at all
 * and retried whole after a conflict, independent batches whose failures undo nothing
 * else, finds that see the writes queued before them, a connection killed mid-batch, the
 * row cap and the caller's limits refused before anything is sent, bad input, and a batch
 * inside the caller's transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "petclinic.h"

#define DB "dsql_t_batch"

static log_capture logs;
static dsql_pool *pool;
static PGconn *pg;

/* A table with traps, set by triggers the test creates behind the library's back: a row
 * named "conflict" fails with Aurora DSQL's OCC error the first time it is inserted, a row
 * named "kill" ends the server session that inserts it. */
typedef struct trap {
    dsql_uuid id;
    char *name;
} trap;
static const dsql_attr trap_attrs[] = {
    DSQL_ATTR(trap, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR(trap, name, DSQL_STRING(30), .not_null = true),
};
static DSQL_MODEL(trap_model, trap, "trap", trap_attrs);

/* The same table with hooks: they log their events; a row named "veto" is refused. */
static char events[256];
static int trap_hook(dsql_hook *h)
{
    static const char *const names[] = {"",   "BC", "AC",  "BS",  "AS",  "BU",  "AU",  "BUP", "AUP",
                                        "BD", "AD", "BBC", "ABC", "BBU", "ABU", "BBD", "ABD"};
    strcat(events, names[h->event]);
    strcat(events, " ");
    const trap *t = h->row;
    if (h->event == DSQL_HOOK_BEFORE_CREATE && !strcmp(t->name, "veto")) {
        snprintf(h->why, h->why_cap, "no vetoes here");
        return 1;
    }
    return 0;
}
static DSQL_MODEL_WITH(hooked_trap_model, trap, "trap", trap_attrs, DSQL_HOOKS(trap_hook, NULL));

#define JOHN "0b000000-0000-4000-8000-000000000001"

static int setup(void **state)
{
    (void)state;
    pc_open(DB, &pool, &pg, &logs);
    pc_sync_clinic(pool);
    pg_ok(pg, "CREATE TABLE trap (id uuid PRIMARY KEY, name varchar(30) NOT NULL); "
              "CREATE SEQUENCE trap_calls; "
              "CREATE FUNCTION trap_fire() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN "
              "IF NEW.name = 'conflict' AND nextval('trap_calls') <= 1 THEN RAISE EXCEPTION "
              "'change conflicts with another transaction, please retry: (OC000)' USING "
              "ERRCODE = '40001'; END IF; "
              "IF NEW.name = 'kill' THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF; "
              "RETURN NEW; END $f$; "
              "CREATE TRIGGER trap_fire BEFORE INSERT ON trap FOR EACH ROW EXECUTE FUNCTION "
              "trap_fire()");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pc_close(DB, pool, pg, &logs);
    return 0;
}

static void reset_rows(void)
{
    pc_delete_rows(pg);
    pg_ok(pg, "DELETE FROM trap; SELECT setval('trap_calls', 1, false)");
}

static dsql_batch *batch_new(dsql_pool *p, dsql_batch_mode mode)
{
    dsql_batch *b = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    dsql_batch_options o = DSQL_BATCH_OPTIONS_INIT;
    o.mode = mode;
    assert_dsql_ok(dsql_batch_new(p, &o, &b, &err), err);
    return b;
}

/* The seed's flow as one atomic batch on p: every write and every read, one round trip. */
static void seed_flow(dsql_pool *p)
{
    dsql_error err = DSQL_ERROR_INIT;
    dsql_batch *b = batch_new(p, DSQL_BATCH_ATOMIC);
    owner john = {.id = {JOHN}, .name = "John Doe", .city = "Anytown"};
    owner mary = {.name = "Mary Major", .city = "Anytown", .telephone = "555-555-0123"};
    assert_dsql_ok(dsql_batch_create(b, &owner_model, &john, &err), err); /* 0 */
    assert_dsql_ok(dsql_batch_create(b, &owner_model, &mary, &err), err); /* 1 */
    assert_int_equal(strlen(mary.id.str), 36); /* the key is known at queue time */
    pet pet1 = {.name = "Pet1", .birth_date = "2006-10-25", .owner_id = john.id};
    assert_dsql_ok(dsql_batch_create(b, &pet_model, &pet1, &err), err); /* 2 */
    specialty specs[] = {{"Exotic"}, {"Dogs"}, {"Cats"}};
    assert_dsql_ok(dsql_batch_bulk_create(b, &specialty_model, specs, 3, NULL, &err), err); /* 3 */
    vet carlos = {.name = "Carlos Salazar"};
    assert_dsql_ok(dsql_batch_create(b, &vet_model, &carlos, &err), err); /* 4 */
    assert_dsql_ok(dsql_batch_set_associated(b, &vet_specialties, &carlos,
                                             (const void *const[]){&specs[2], &specs[1]}, 2, &err),
                   err); /* 5 */
    assert_dsql_ok(dsql_batch_find_one(b, &pet_model,
                                       &(dsql_query){.where = DSQL_EQ("name", DSQL_STR("Pet1")),
                                                     DSQL_INCLUDES({.assoc = &pet_owner})},
                                       &err),
                   err); /* 6 */
    assert_dsql_ok(
        dsql_batch_find_by_pk(b, &vet_model, DSQL_STR(carlos.id.str),
                              &(dsql_query){DSQL_INCLUDES(
                                  {.assoc = &vet_specialties, DSQL_ORDER_BY(DSQL_ASC("id"))})},
                              &err),
        err); /* 7 */
    assert_dsql_ok(dsql_batch_find_by_pk(b, &specialty_model, DSQL_STR("Birds"), NULL, &err),
                   err); /* 8 */
    assert_dsql_ok(
        dsql_batch_find_all(b, &owner_model, &(dsql_query){DSQL_ORDER_BY(DSQL_ASC("name"))}, &err),
        err); /* 9 */
    assert_int_equal(dsql_batch_size(b), 10);
    assert_int_equal(dsql_batch_status(b, 0), DSQL_EMISUSE); /* not run yet */
    pool_counters c = pool_counters_of(p);
    assert_dsql_ok(dsql_batch_run(b, &err), err);
    /* BEGIN, 4 inserts, a bulk insert, the set's 3 statements, 4 finds, COMMIT. */
    assert_sent(p, c, 1, 14);
    assert_int_equal(dsql_batch_attempts(b), 1);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(dsql_batch_status(b, i), DSQL_OK);
    assert_int_equal(dsql_batch_status(b, 8), DSQL_ENOTFOUND);
    assert_string_equal(dsql_batch_error(b, 8)->message,
                        "operation 8 (dsql_batch_find_by_pk specialty): specialty: no row matches");
    assert_null(dsql_batch_error(b, 0));
    assert_int_equal(dsql_batch_affected(b, 3), 3);
    /* The create's row as stored; the finds see the writes queued before them. */
    owner *stored;
    size_t n;
    assert_dsql_ok(dsql_batch_rows(b, 1, &stored, &n, &err), err);
    assert_int_equal(n, 1);
    assert_string_equal(stored->id.str, mary.id.str);
    assert_string_equal(stored->telephone, "555-555-0123");
    pet *p1;
    assert_dsql_ok(dsql_batch_rows(b, 6, &p1, &n, &err), err);
    assert_int_equal(n, 1);
    assert_string_equal(p1->id.str, pet1.id.str);
    assert_non_null(p1->owner);
    assert_string_equal(p1->owner->name, "John Doe");
    vet *v;
    assert_dsql_ok(dsql_batch_rows(b, 7, &v, &n, &err), err);
    assert_int_equal(v->n_specialties, 2);
    assert_string_equal(v->specialties[0].id, "Cats");
    assert_string_equal(v->specialties[1].id, "Dogs");
    owner *all;
    assert_dsql_ok(dsql_batch_rows(b, 9, &all, &n, &err), err);
    assert_int_equal(n, 2);
    assert_string_equal(all[0].name, "John Doe");
    assert_string_equal(all[1].name, "Mary Major");
    specialty *none = (specialty *)1;
    assert_int_equal(dsql_batch_rows(b, 8, &none, &n, &err), DSQL_ENOTFOUND);
    assert_null(none);
    assert_int_equal(n, 0);
    assert_int_equal(dsql_batch_rows(b, 10, &none, &n, &err), DSQL_EMISUSE);
    /* A batch runs once. */
    assert_int_equal(dsql_batch_run(b, &err), DSQL_EMISUSE);
    assert_int_equal(dsql_batch_create(b, &owner_model, &john, &err), DSQL_EMISUSE);
    dsql_batch_free(b);
}

static void test_atomic_one_round_trip(void **state)
{
    (void)state;
    reset_rows();
    seed_flow(pool);
    assert_rows(pg, "SELECT name FROM owner ORDER BY name", "John Doe\nMary Major\n");
    assert_rows(pg, "SELECT \"specialtyId\" FROM \"vetSpecialties\" ORDER BY 1", "Cats\nDogs\n");
    assert_true(cap_has(&logs, "Executing pipeline of 14 statements in one round trip: BEGIN"));
}

static void test_plain_postgres(void **state)
{
    (void)state;
    reset_rows();
    dsql_pool *plain = TEST_POOL(.plain = true, .database = DB);
    seed_flow(plain);
    dsql_pool_close(plain);
    assert_rows(pg, "SELECT count(*) FROM pet", "1\n");
}

static void test_atomic_failure_applies_nothing(void **state)
{
    (void)state;
    reset_rows();
    dsql_error err = DSQL_ERROR_INIT;
    dsql_batch *b = batch_new(pool, DSQL_BATCH_ATOMIC);
    owner a = {.id = {JOHN}, .name = "A", .city = "X"}, dup = a;
    assert_dsql_ok(dsql_batch_create(b, &owner_model, &a, &err), err);
    assert_dsql_ok(dsql_batch_create(b, &owner_model, &dup, &err), err);
    assert_dsql_ok(dsql_batch_find_all(b, &owner_model, NULL, &err), err);
    pool_counters c = pool_counters_of(pool);
    assert_int_equal(dsql_batch_run(b, &err), DSQL_ECONSTRAINT);
    /* The batch (BEGIN, 3 statements, COMMIT), then the ROLLBACK of its failed transaction. */
    assert_sent(pool, c, 2, 6);
    assert_string_equal(err.sqlstate, "23505");
    assert_true(strstr(err.message, "dsql_batch_run: operation 1 (dsql_batch_create owner): "));
    assert_int_equal(dsql_batch_status(b, 0), DSQL_EABORTED);
    assert_int_equal(dsql_batch_status(b, 1), DSQL_ECONSTRAINT);
    assert_int_equal(dsql_batch_status(b, 2), DSQL_EABORTED);
    assert_string_equal(dsql_batch_error(b, 0)->message,
                        "operation 0 (dsql_batch_create owner): not applied: the batch is one "
                        "transaction and it failed at another operation");
    assert_int_equal(dsql_batch_affected(b, 0), 0);
    dsql_batch_free(b);
    assert_rows(pg, "SELECT count(*) FROM owner", "0\n");
}

static void test_atomic_conflict_retried(void **state)
{
    (void)state;
    reset_rows();
    dsql_error err = DSQL_ERROR_INIT;
    dsql_batch *b = batch_new(pool, DSQL_BATCH_ATOMIC);
    owner a = {.name = "A", .city = "X"};
    trap t = {.name = "conflict"};
    assert_dsql_ok(dsql_batch_create(b, &owner_model, &a, &err), err);
    assert_dsql_ok(dsql_batch_create(b, &trap_model, &t, &err), err);
    pool_counters c = pool_counters_of(pool);
    assert_dsql_ok(dsql_batch_run(b, &err), err);
    /* The first attempt met the conflict (rolled back); the second applied everything, once. */
    assert_sent(pool, c, 3, 9);
    assert_int_equal(dsql_batch_attempts(b), 2);
    assert_int_equal(dsql_batch_status(b, 1), DSQL_OK);
    dsql_batch_free(b);
    assert_rows(pg, "SELECT count(*) FROM owner", "1\n");
    assert_rows(pg, "SELECT name FROM trap", "conflict\n");
}

static void test_independent_partial_failure(void **state)
{
    (void)state;
    reset_rows();
    dsql_error err = DSQL_ERROR_INIT;
    dsql_batch *b = batch_new(pool, DSQL_BATCH_INDEPENDENT);
    owner a = {.id = {JOHN}, .name = "A", .city = "X"}, dup = a;
    vet v = {.name = "V"};
    specialty cats = {"Cats"};
    assert_dsql_ok(dsql_batch_create(b, &owner_model, &a, &err), err);   /* 0: applies */
    assert_dsql_ok(dsql_batch_create(b, &owner_model, &dup, &err), err); /* 1: 23505 */
    assert_dsql_ok(dsql_batch_update(b, &owner_model,
                                     (const dsql_assign[]){DSQL_SET("city", DSQL_STR("Y"))}, 1,
                                     DSQL_EQ("id", DSQL_STR(JOHN)), &err),
                   err);                                                      /* 2: applies */
    assert_dsql_ok(dsql_batch_create(b, &vet_model, &v, &err), err);          /* 3 */
    assert_dsql_ok(dsql_batch_create(b, &specialty_model, &cats, &err), err); /* 4 */
    assert_dsql_ok(
        dsql_batch_set_associated(b, &vet_specialties, &v, (const void *const[]){&cats}, 1, &err),
        err); /* 5: BEGIN, 3 statements, COMMIT */
    assert_dsql_ok(dsql_batch_find_by_pk(b, &owner_model, DSQL_STR(JOHN), NULL, &err), err); /* 6 */
    assert_dsql_ok(dsql_batch_delete(b, &owner_model, DSQL_EQ("id", DSQL_STR(JOHN)), &err),
                   err); /* 7 */
    pool_counters c = pool_counters_of(pool);
    assert_int_equal(dsql_batch_run(b, &err), DSQL_EPARTIAL);
    assert_sent(pool, c, 1, 12);
    assert_true(strstr(err.message, "dsql_batch_run: 1 of 8 operations failed, 6 writes applied; "
                                    "the first failure: operation 1 (dsql_batch_create owner): "));
    int want[] = {DSQL_OK, DSQL_ECONSTRAINT, DSQL_OK, DSQL_OK, DSQL_OK, DSQL_OK, DSQL_OK, DSQL_OK};
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(dsql_batch_status(b, i), want[i]);
    assert_string_equal(dsql_batch_error(b, 1)->sqlstate, "23505");
    assert_int_equal(dsql_batch_affected(b, 2), 1);
    assert_int_equal(dsql_batch_affected(b, 7), 1);
    owner *o;
    size_t n;
    assert_dsql_ok(dsql_batch_rows(b, 6, &o, &n, &err), err);
    assert_int_equal(n, 1);
    assert_string_equal(o->city, "Y"); /* the update before it, committed */
    dsql_batch_free(b);
    assert_rows(pg, "SELECT count(*) FROM owner", "0\n");
    assert_rows(pg, "SELECT \"specialtyId\" FROM \"vetSpecialties\"", "Cats\n");
}

/* An independent write that met a conflict runs again in a second round (one more round
 * trip, after the policy's backoff) when nothing queued after it uses its table. */
static void test_independent_conflict_retried(void **state)
{
    (void)state;
    reset_rows();
    dsql_error err = DSQL_ERROR_INIT;
    dsql_batch *b = batch_new(pool, DSQL_BATCH_INDEPENDENT);
    owner a = {.name = "A", .city = "X"};
    trap t = {.name = "conflict"};
    vet v = {.name = "V"};
    assert_dsql_ok(dsql_batch_create(b, &owner_model, &a, &err), err); /* 0 */
    assert_dsql_ok(dsql_batch_create(b, &trap_model, &t, &err), err);  /* 1: conflicts once */
    assert_dsql_ok(dsql_batch_create(b, &vet_model, &v, &err), err);   /* 2 */
    int warned = cap_count(&logs, "Batch attempt 1 of 4 hit a conflict (40001); retrying in ");
    pool_counters c = pool_counters_of(pool);
    assert_dsql_ok(dsql_batch_run(b, &err), err);
    assert_sent(pool, c, 2, 4); /* three statements, then the conflicted one again */
    assert_int_equal(dsql_batch_attempts(b), 2);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(dsql_batch_status(b, i), DSQL_OK);
    assert_null(dsql_batch_error(b, 1));
    assert_int_equal(cap_count(&logs, "Batch attempt 1 of 4 hit a conflict (40001); retrying in "),
                     warned + 1);
    dsql_batch_free(b);
    assert_rows(pg, "SELECT count(*) FROM owner", "1\n");
    assert_rows(pg, "SELECT name FROM trap", "conflict\n");
    assert_rows(pg, "SELECT name FROM vet", "V\n");
}

/* ... and stays a conflict when a later operation writes or reads its table: run after
 * them it would overwrite a later write or be missing from a later read. */
static void test_independent_conflict_kept(void **state)
{
    (void)state;
    reset_rows();
    dsql_error err = DSQL_ERROR_INIT;
    dsql_batch *b = batch_new(pool, DSQL_BATCH_INDEPENDENT);
    trap t = {.name = "conflict"}, fine = {.name = "fine"};
    assert_dsql_ok(dsql_batch_create(b, &trap_model, &t, &err), err);    /* 0: conflicts */
    assert_dsql_ok(dsql_batch_create(b, &trap_model, &fine, &err), err); /* 1: same table */
    pool_counters c = pool_counters_of(pool);
    assert_int_equal(dsql_batch_run(b, &err), DSQL_EPARTIAL);
    assert_sent(pool, c, 1, 2);
    assert_int_equal(dsql_batch_attempts(b), 1);
    assert_int_equal(dsql_batch_status(b, 0), DSQL_ECONFLICT);
    assert_int_equal(dsql_batch_status(b, 1), DSQL_OK);
    assert_string_equal(dsql_batch_error(b, 0)->message,
                        "operation 0 (dsql_batch_create trap): change conflicts with another "
                        "transaction, please retry: (OC000); not run again: operation 1, queued "
                        "after it, uses table trap");
    dsql_batch_free(b);
    assert_rows(pg, "SELECT name FROM trap", "fine\n");

    /* A later read of the table holds it back too. */
    reset_rows();
    b = batch_new(pool, DSQL_BATCH_INDEPENDENT);
    assert_dsql_ok(dsql_batch_create(b, &trap_model, &t, &err), err);     /* 0: conflicts */
    assert_dsql_ok(dsql_batch_find_all(b, &trap_model, NULL, &err), err); /* 1: reads trap */
    assert_int_equal(dsql_batch_run(b, &err), DSQL_ECONFLICT);
    assert_int_equal(dsql_batch_status(b, 0), DSQL_ECONFLICT);
    assert_true(strstr(dsql_batch_error(b, 0)->message,
                       "; not run again: operation 1, queued after it, uses table trap"));
    trap *rows;
    size_t n = 7;
    assert_dsql_ok(dsql_batch_rows(b, 1, &rows, &n, &err), err);
    assert_int_equal(n, 0); /* what it read is what the table held: the create had not applied */
    dsql_batch_free(b);
    assert_rows(pg, "SELECT count(*) FROM trap", "0\n");
}

/* A conflict in every round: the retries run out, the error says so. */
static void test_independent_conflict_gives_up(void **state)
{
    (void)state;
    reset_rows();
    pg_ok(pg, "ALTER SEQUENCE trap_calls MINVALUE -1000000; "
              "SELECT setval('trap_calls', -1000000)"); /* every insert conflicts */
    dsql_error err = DSQL_ERROR_INIT;
    dsql_batch_options o = DSQL_BATCH_OPTIONS_INIT;
    o.mode = DSQL_BATCH_INDEPENDENT;
    dsql_retry_policy rp = {.max_retries = 2, .base_delay_ms = 1, .max_delay_ms = 2};
    o.policy = &rp;
    dsql_batch *b = NULL;
    assert_dsql_ok(dsql_batch_new(pool, &o, &b, &err), err);
    trap t = {.name = "conflict"};
    assert_dsql_ok(dsql_batch_create(b, &trap_model, &t, &err), err);
    assert_int_equal(dsql_batch_run(b, &err), DSQL_ECONFLICT);
    assert_int_equal(dsql_batch_attempts(b), 3);
    assert_string_equal(dsql_batch_error(b, 0)->message,
                        "operation 0 (dsql_batch_create trap): change conflicts with another "
                        "transaction, please retry: (OC000); gave up after 3 attempts");
    assert_string_equal(err.message,
                        "dsql_batch_run: operation 0 (dsql_batch_create trap): change conflicts "
                        "with another transaction, please retry: (OC000); gave up after 3 "
                        "attempts");
    dsql_batch_free(b);
    assert_rows(pg, "SELECT count(*) FROM trap", "0\n");
}

/* A session killed mid-batch (plain PostgreSQL: the trigger ends its own backend). */
static void test_connection_killed(void **state)
{
    (void)state;
    reset_rows();
    dsql_error err = DSQL_ERROR_INIT;
    dsql_pool *plain = TEST_POOL(.plain = true, .database = DB);
    dsql_batch *b = batch_new(plain, DSQL_BATCH_INDEPENDENT);
    owner a = {.name = "A", .city = "X"};
    trap k = {.name = "kill"};
    assert_dsql_ok(dsql_batch_create(b, &owner_model, &a, &err), err);
    assert_dsql_ok(dsql_batch_create(b, &trap_model, &k, &err), err);
    assert_dsql_ok(dsql_batch_find_by_pk(b, &owner_model, DSQL_STR(a.id.str), NULL, &err), err);
    assert_int_equal(dsql_batch_run(b, &err), DSQL_EPARTIAL);
    assert_int_equal(dsql_batch_status(b, 0), DSQL_OK);
    assert_int_equal(dsql_batch_status(b, 1), DSQL_EUNKNOWN_OUTCOME);
    assert_int_equal(dsql_batch_status(b, 2), DSQL_ECONNLOST);
    assert_true(
        strstr(dsql_batch_error(b, 1)->message,
               "operation 1 (dsql_batch_create trap): it may or may not have been applied"));
    dsql_batch_free(b);
    /* The pool replaced the lost connection. */
    int64_t count;
    assert_dsql_ok(dsql_count(plain, &owner_model, NULL, &count, &err), err);
    assert_int_equal(count, 1);
    dsql_pool_close(plain);

    /* Atomic: the whole transaction's outcome is unknown. */
    plain = TEST_POOL(.plain = true, .database = DB);
    b = batch_new(plain, DSQL_BATCH_ATOMIC);
    owner z = {.name = "Z", .city = "X"};
    assert_dsql_ok(dsql_batch_create(b, &owner_model, &z, &err), err);
    assert_dsql_ok(dsql_batch_create(b, &trap_model, &k, &err), err);
    assert_dsql_ok(dsql_batch_find_all(b, &owner_model, NULL, &err), err);
    assert_int_equal(dsql_batch_run(b, &err), DSQL_EUNKNOWN_OUTCOME);
    assert_int_equal(dsql_batch_status(b, 0), DSQL_EUNKNOWN_OUTCOME);
    assert_int_equal(dsql_batch_status(b, 1), DSQL_EUNKNOWN_OUTCOME);
    assert_int_equal(dsql_batch_status(b, 2), DSQL_ECONNLOST);
    dsql_batch_free(b);
    dsql_pool_close(plain);
    assert_rows(pg, "SELECT name FROM owner", "A\n");
}

static void test_limits_refused_before_sending(void **state)
{
    (void)state;
    reset_rows();
    dsql_error err = DSQL_ERROR_INIT;
    enum { N = 3001 };
    specialty *rows = calloc(N, sizeof *rows);
    char(*names)[16] = calloc(N, sizeof *names);
    assert_non_null(rows);
    assert_non_null(names);
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "s%zu", i);
        rows[i].id = names[i];
    }
    pool_counters c = pool_counters_of(pool);
    /* Atomic: 2,000 rows fit, 1,001 more do not. */
    dsql_batch *b = batch_new(pool, DSQL_BATCH_ATOMIC);
    assert_dsql_ok(dsql_batch_bulk_create(b, &specialty_model, rows, 2000, NULL, &err), err);
    assert_int_equal(dsql_batch_bulk_create(b, &specialty_model, rows + 2000, 1001, NULL, &err),
                     DSQL_ELIMIT);
    assert_string_equal(err.message,
                        "dsql_batch_bulk_create: specialty: the atomic batch would modify 3001 "
                        "rows, more than one Aurora DSQL transaction may (3000: 3,000); nothing "
                        "was sent: split the work over several batches or use "
                        "DSQL_BATCH_INDEPENDENT");
    assert_int_equal(dsql_batch_run(b, &err), DSQL_EMISUSE);
    assert_true(strstr(err.message, "dsql_batch_run: operation 1 was refused when it was queued"));
    dsql_batch_free(b);
    /* Independent: one operation of 3,001 rows is one statement: refused too. */
    b = batch_new(pool, DSQL_BATCH_INDEPENDENT);
    assert_int_equal(dsql_batch_bulk_create(b, &specialty_model, rows, N, NULL, &err), DSQL_ELIMIT);
    assert_true(strstr(err.message, "3001 rows in one operation"));
    dsql_batch_free(b);
    /* The caller's limits. */
    dsql_batch_options o = DSQL_BATCH_OPTIONS_INIT;
    o.mode = DSQL_BATCH_INDEPENDENT;
    o.max_rows = 10;
    assert_dsql_ok(dsql_batch_new(pool, &o, &b, &err), err);
    assert_dsql_ok(dsql_batch_bulk_create(b, &specialty_model, rows, 6, NULL, &err), err);
    assert_int_equal(dsql_batch_bulk_create(b, &specialty_model, rows + 6, 5, NULL, &err),
                     DSQL_ELIMIT);
    assert_string_equal(err.message,
                        "dsql_batch_bulk_create: specialty: the batch would hold 11 rows to "
                        "write, more than its max_rows (10); nothing was sent: run it in "
                        "several batches");
    dsql_batch_free(b);
    o.max_rows = 0;
    o.max_bytes = 1000;
    assert_dsql_ok(dsql_batch_new(pool, &o, &b, &err), err);
    assert_int_equal(dsql_batch_bulk_create(b, &specialty_model, rows, 100, NULL, &err),
                     DSQL_ELIMIT);
    assert_true(strstr(err.message, "more than its max_bytes (1000)"));
    dsql_batch_free(b);
    assert_sent(pool, c, 0, 0);
    assert_rows(pg, "SELECT count(*) FROM specialty", "0\n");
    free(rows);
    free(names);
}

static void test_bad_input(void **state)
{
    (void)state;
    reset_rows();
    dsql_error err = DSQL_ERROR_INIT;
    dsql_batch *b = NULL;
    assert_int_equal(dsql_batch_new(pool, NULL, NULL, &err), DSQL_EINVAL);
    assert_int_equal((dsql_batch_new)(NULL, NULL, &b, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_batch_new: db is neither a dsql_pool nor a dsql_conn");
    dsql_batch_options o = {.mode = (dsql_batch_mode)7};
    assert_int_equal(dsql_batch_new(pool, &o, &b, &err), DSQL_EINVAL);
    assert_null(b);
    assert_int_equal(dsql_batch_create(NULL, &owner_model, &(owner){0}, &err), DSQL_EINVAL);
    assert_int_equal(dsql_batch_run(NULL, &err), DSQL_EINVAL);
    dsql_batch_free(NULL);
    assert_int_equal(dsql_batch_size(NULL), 0);
    pool_counters c = pool_counters_of(pool);

    b = batch_new(pool, DSQL_BATCH_ATOMIC);
    assert_int_equal(dsql_batch_run(b, &err), DSQL_OK); /* empty: nothing sent */
    dsql_batch_free(b);

    b = batch_new(pool, DSQL_BATCH_ATOMIC);
    owner ok = {.name = "OK", .city = "X"};
    owner long_name = {.name = "A name far longer than thirty characters", .city = "X"};
    assert_dsql_ok(dsql_batch_create(b, &owner_model, &ok, &err), err);
    assert_int_equal(dsql_batch_create(b, &owner_model, &long_name, &err), DSQL_EVALIDATION);
    assert_true(strstr(err.message, "dsql_batch_create: owner.name: "));
    assert_int_equal(dsql_batch_update(b, &owner_model,
                                       (const dsql_assign[]){DSQL_SET("city", DSQL_STR("Y"))}, 1,
                                       DSQL_EQ("city", DSQL_STR("X")), &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message,
                        "dsql_batch_update: owner: where must select at most one row (an "
                        "equality on the primary key or a unique attribute), so that the rows "
                        "the batch writes are known before it is sent; for many rows use "
                        "dsql_update");
    assert_int_equal(dsql_batch_delete(b, &owner_model, NULL, &err), DSQL_EINVAL);
    assert_int_equal(dsql_batch_find_by_pk(b, &owner_model, DSQL_NULL, NULL, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_batch_find_by_pk: owner.id: the key is NULL");
    assert_int_equal(dsql_batch_find_all(b, &owner_model,
                                         &(dsql_query){.where = DSQL_EQ("nme", DSQL_STR("x"))},
                                         &err),
                     DSQL_EINVAL);
    assert_int_equal(dsql_batch_set_associated(b, &vet_specialties, &(vet){0}, NULL, 0, &err),
                     DSQL_EINVAL);
    /* The first refusal keeps the whole batch from running. */
    assert_int_equal(dsql_batch_run(b, &err), DSQL_EMISUSE);
    assert_true(strstr(err.message, "dsql_batch_run: operation 1 was refused when it was queued, "
                                    "so nothing of the batch is sent"));
    assert_int_equal(dsql_batch_status(b, 0), DSQL_EMISUSE);
    dsql_batch_free(b);
    assert_sent(pool, c, 0, 0);
    assert_rows(pg, "SELECT count(*) FROM owner", "0\n");
}

/* In the caller's transaction the batch's statements join it. */
static int in_tx(dsql_conn *conn, void *ctx, dsql_error *err)
{
    owner *a = ctx;
    dsql_batch *b;
    int rc = dsql_batch_new(conn, NULL, &b, err);
    if (rc)
        return rc;
    if (!(rc = dsql_batch_create(b, &owner_model, a, err)) &&
        !(rc = dsql_batch_find_by_pk(b, &owner_model, DSQL_STR(a->id.str), NULL, err)))
        rc = dsql_batch_run(b, err);
    size_t n = 0;
    owner *rows;
    if (!rc)
        rc = dsql_batch_rows(b, 1, &rows, &n, err);
    dsql_batch_free(b);
    if (!rc && n != 1)
        return dsql_error_set(err, DSQL_EINTERNAL, "expected 1 owner, got %zu", n);
    return rc ? rc : !strcmp(a->name, "Rollback") ? DSQL_EINVAL : DSQL_OK;
}

static void test_in_caller_transaction(void **state)
{
    (void)state;
    reset_rows();
    dsql_error err = DSQL_ERROR_INIT;
    owner a = {.name = "Committed", .city = "X"}, r = {.name = "Rollback", .city = "X"};
    pool_counters c = pool_counters_of(pool);
    assert_dsql_ok(dsql_transaction(pool, in_tx, &a, NULL, NULL, &err), err);
    /* BEGIN rides with the batch: one round trip, then COMMIT. */
    assert_sent(pool, c, 2, 4);
    assert_int_equal(dsql_transaction(pool, in_tx, &r, NULL, NULL, &err), DSQL_EINVAL);
    assert_rows(pg, "SELECT name FROM owner", "Committed\n");
}

/* Validation and the before hooks run when an operation is queued; the after hooks once
 * it applied. */
static void test_hooks_at_queue_time(void **state)
{
    (void)state;
    reset_rows();
    dsql_error err = DSQL_ERROR_INIT;
    events[0] = '\0';
    pool_counters c = pool_counters_of(pool);
    dsql_batch *b = batch_new(pool, DSQL_BATCH_INDEPENDENT);
    trap ok = {.name = "fine"}, veto = {.name = "veto"};
    assert_dsql_ok(dsql_batch_create(b, &hooked_trap_model, &ok, &err), err);
    assert_string_equal(events, "BC BS ");
    assert_int_equal(dsql_batch_create(b, &hooked_trap_model, &veto, &err), DSQL_EVETO);
    assert_true(strstr(err.message, "no vetoes here"));
    assert_int_equal(dsql_batch_run(b, &err), DSQL_EMISUSE);
    dsql_batch_free(b);
    assert_sent(pool, c, 0, 0);
    assert_string_equal(events, "BC BS BC ");

    events[0] = '\0';
    b = batch_new(pool, DSQL_BATCH_INDEPENDENT);
    assert_dsql_ok(dsql_batch_create(b, &hooked_trap_model, &ok, &err), err);
    assert_dsql_ok(
        dsql_batch_delete(b, &hooked_trap_model, DSQL_EQ("id", DSQL_STR(ok.id.str)), &err), err);
    assert_string_equal(events, "BC BS BBD ");
    assert_dsql_ok(dsql_batch_run(b, &err), err);
    assert_string_equal(events, "BC BS BBD AC AS ABD ");
    dsql_batch_free(b);
    assert_rows(pg, "SELECT count(*) FROM trap", "0\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_atomic_one_round_trip),
        cmocka_unit_test(test_plain_postgres),
        cmocka_unit_test(test_atomic_failure_applies_nothing),
        cmocka_unit_test(test_atomic_conflict_retried),
        cmocka_unit_test(test_independent_conflict_retried),
        cmocka_unit_test(test_independent_conflict_kept),
        cmocka_unit_test(test_independent_conflict_gives_up),
        cmocka_unit_test(test_independent_partial_failure),
        cmocka_unit_test(test_connection_killed),
        cmocka_unit_test(test_limits_refused_before_sending),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_in_caller_transaction),
        cmocka_unit_test(test_hooks_at_queue_time),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
