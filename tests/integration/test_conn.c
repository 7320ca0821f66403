/* Connections against the throwaway PostgreSQL (password/trust mode, TLS verify-full):
 * typed parameters, results, errors, pipelines, logging, startup settings, connect
 * failures and retries. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Plain PostgreSQL even under dsql-local: the test uses temporary tables, DO blocks and password
 * roles. */
#define DSQL_TEST_PLAIN 1
#include "testutil.h"

#include "conn_util.h"

static dsql_conn *connect_env(log_capture *cap)
{
    return TEST_CONN(.logs = cap);
}

static void typed_parameters(void **state)
{
    (void)state;
    dsql_conn *conn = connect_env(NULL);
    dsql_error err = DSQL_ERROR_INIT;
    const unsigned char blob[] = {0x00, 0x01, 0xff, 'a', 0x00};
    dsql_value p[] = {
        DSQL_STR("héllo 'quoted'"),
        DSQL_INT(INT64_MIN),
        DSQL_DBL(0.1),
        DSQL_BOOL(true),
        DSQL_BYTES(blob, sizeof blob),
        DSQL_NULL,
        DSQL_STR(NULL),
        DSQL_DBL(NAN),
        DSQL_DBL(INFINITY),
        DSQL_DBL(-INFINITY),
        DSQL_DBL(1.0 / 3.0),
        DSQL_DBL(-1.5e-310),
        DSQL_BOOL(false),
        DSQL_INT(INT64_MAX),
    };
    dsql_result *res = NULL;
    assert_dsql_ok(dsql_conn_query(conn,
                                   "SELECT $1::text, $2::int8, $3::float8, $4::bool, $5::bytea, "
                                   "$6::text, $7::text, $8::float8, $9::float8, $10::float8, "
                                   "$11::float8 = 1::float8 / 3, $12::float8, $13::bool, "
                                   "$14::int8, $3::numeric, octet_length($5)",
                                   p, sizeof p / sizeof p[0], &res, &err),
                   err);
    assert_int_equal(dsql_result_rows(res), 1);
    assert_int_equal(dsql_result_cols(res), 16);
    assert_string_equal(dsql_result_text(res, 0, 0), "héllo 'quoted'");
    int64_t i;
    assert_dsql_ok(dsql_result_int(res, 0, 1, &i, &err), err);
    assert_true(i == INT64_MIN);
    double d;
    assert_dsql_ok(dsql_result_double(res, 0, 2, &d, &err), err);
    assert_true(d == 0.1);
    bool b;
    assert_dsql_ok(dsql_result_bool(res, 0, 3, &b, &err), err);
    assert_true(b);
    const void *data;
    size_t len;
    assert_string_equal(dsql_result_text(res, 0, 4), "\\x0001ff6100");
    assert_dsql_ok(dsql_result_bytes(res, 0, 4, &data, &len, &err), err);
    assert_int_equal(len, sizeof blob);
    assert_memory_equal(data, blob, sizeof blob);
    assert_true(dsql_result_is_null(res, 0, 5));
    assert_true(dsql_result_is_null(res, 0, 6));
    assert_string_equal(dsql_result_text(res, 0, 5), "");
    assert_string_equal(dsql_result_text(res, 0, 7), "NaN");
    assert_string_equal(dsql_result_text(res, 0, 8), "Infinity");
    assert_string_equal(dsql_result_text(res, 0, 9), "-Infinity");
    assert_dsql_ok(dsql_result_double(res, 0, 7, &d, &err), err);
    assert_true(isnan(d));
    assert_dsql_ok(dsql_result_double(res, 0, 9, &d, &err), err);
    assert_true(isinf(d) && d < 0);
    assert_string_equal(dsql_result_text(res, 0, 10), "t"); /* full precision sent */
    assert_dsql_ok(dsql_result_double(res, 0, 11, &d, &err), err);
    assert_true(d == -1.5e-310);
    assert_string_equal(dsql_result_text(res, 0, 12), "f");
    assert_dsql_ok(dsql_result_int(res, 0, 13, &i, &err), err);
    assert_true(i == INT64_MAX);
    assert_string_equal(dsql_result_text(res, 0, 14), "0.1"); /* shortest exact text */
    assert_string_equal(dsql_result_text(res, 0, 15), "5");
    dsql_result_free(res);
    dsql_conn_close(conn);
}

static void result_access(void **state)
{
    (void)state;
    dsql_conn *conn = connect_env(NULL);
    dsql_error err = DSQL_ERROR_INIT;
    dsql_result *res = NULL;
    assert_dsql_ok(dsql_conn_query(conn,
                                   "SELECT 'abc' AS \"Name\", NULL::int AS n, 'x'::text AS flag "
                                   "UNION ALL SELECT 'def', 42, 'yes'",
                                   NULL, 0, &res, &err),
                   err);
    assert_int_equal(dsql_result_rows(res), 2);
    assert_string_equal(dsql_result_col_name(res, 0), "Name");
    assert_null(dsql_result_col_name(res, 3));
    assert_int_equal(dsql_result_col_index(res, "Name"), 0);
    assert_int_equal(dsql_result_col_index(res, "name"), -1); /* exact match */
    assert_int_equal(dsql_result_col_index(res, "flag"), 2);
    assert_true(dsql_result_is_null(res, 0, 1));
    assert_false(dsql_result_is_null(res, 1, 1));
    assert_true(dsql_result_is_null(res, 5, 0)); /* out of range */
    assert_string_equal(dsql_result_text(res, 9, 9), "");
    int64_t i;
    assert_int_equal(dsql_result_int(res, 0, 1, &i, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_result_int: row 0, column \"n\" is NULL");
    assert_int_equal(dsql_result_int(res, 0, 0, &i, &err), DSQL_EPARSE);
    assert_string_equal(err.message,
                        "dsql_result_int: row 0, column \"Name\": 'abc' is not a 64-bit integer");
    assert_int_equal(dsql_result_int(res, 2, 0, &i, &err), DSQL_EINVAL);
    assert_non_null(strstr(err.message, "out of range"));
    bool b;
    assert_int_equal(dsql_result_bool(res, 1, 2, &b, &err), DSQL_EPARSE);
    assert_string_equal(err.message,
                        "dsql_result_bool: row 1, column \"flag\": 'yes' is not a boolean");
    double d;
    assert_int_equal(dsql_result_double(res, 0, 0, &d, &err), DSQL_EPARSE);
    assert_dsql_ok(dsql_result_int(res, 1, 1, &i, &err), err);
    assert_int_equal(i, 42);
    dsql_result_free(res);

    assert_dsql_ok(dsql_conn_query(conn, "CREATE TEMP TABLE ra (x int)", NULL, 0, NULL, &err), err);
    assert_dsql_ok(
        dsql_conn_query(conn, "INSERT INTO ra SELECT generate_series(1, 3)", NULL, 0, &res, &err),
        err);
    assert_int_equal(dsql_result_affected(res), 3);
    assert_int_equal(dsql_result_rows(res), 0);
    dsql_result_free(res);
    dsql_result_free(NULL);
    dsql_conn_close(conn);
    dsql_conn_close(NULL);
}

static void server_errors_classified(void **state)
{
    (void)state;
    dsql_conn *conn = connect_env(NULL);
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(
        dsql_conn_query(conn, "CREATE TEMP TABLE ec (id int PRIMARY KEY)", NULL, 0, NULL, &err),
        err);
    assert_dsql_ok(dsql_conn_query(conn, "INSERT INTO ec VALUES (1)", NULL, 0, NULL, &err), err);
    static const struct {
        const char *sql;
        int status;
        const char *sqlstate;
        const char *msg;
    } cases[] = {
        {"INSERT INTO ec VALUES (1)", DSQL_ECONSTRAINT, "23505", "duplicate key value"},
        {"INSERT INTO ec VALUES (NULL)", DSQL_ECONSTRAINT, "23502", "null value"},
        {"SELEC 1", DSQL_ESERVER, "42601", "syntax error at or near \"SELEC\""},
        {"SELECT 1/0", DSQL_ESERVER, "22012", "division by zero"},
        {"SELECT repeat('x', 1073741824)", DSQL_ELIMIT, "54000", "requested length too large"},
        {"DO $$BEGIN RAISE EXCEPTION USING ERRCODE = '40001', MESSAGE = 'x'; END$$", DSQL_ECONFLICT,
         "40001", "x"},
        {"DO $$BEGIN RAISE EXCEPTION 'change conflicts with another transaction, please "
         "retry: (OC000)'; END$$",
         DSQL_ECONFLICT, "P0001", "(OC000)"},
        {"DO $$BEGIN RAISE EXCEPTION USING ERRCODE = '0A000', MESSAGE = 'nope'; END$$",
         DSQL_EUNSUPPORTED, "0A000", "nope"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = dsql_conn_query(conn, cases[i].sql, NULL, 0, NULL, &err);
        if (rc != cases[i].status ||
            (cases[i].sqlstate[0] &&
             (strcmp(err.sqlstate, cases[i].sqlstate) || !strstr(err.message, cases[i].msg)))) {
            print_error("%s: got %s [%s] %s\n", cases[i].sql, dsql_status_name(rc), err.sqlstate,
                        err.message);
            fail();
        }
    }
    assert_int_equal(dsql_conn_query(conn, "INSERT INTO ec VALUES (1)", NULL, 0, NULL, &err),
                     DSQL_ECONSTRAINT);
    assert_string_equal(err.detail, "Key (id)=(1) already exists.");
    assert_true(dsql_conn_ok(conn));
    assert_int_equal(dsql_conn_query(conn, NULL, NULL, 0, NULL, &err), DSQL_EINVAL);
    assert_int_equal(dsql_conn_query(conn, "SELECT $1", NULL, 1, NULL, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_conn_query: 1 parameters announced but params is NULL");
    dsql_value bad = {.kind = (dsql_value_kind)99};
    assert_int_equal(dsql_conn_query(conn, "SELECT $1", &bad, 1, NULL, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_conn_query: parameter $1: unknown value kind 99");
    dsql_conn_close(conn);
}

static void pipeline_one_round_trip(void **state)
{
    (void)state;
    log_capture cap;
    cap_init(&cap);
    dsql_conn *conn = connect_env(&cap);
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_conn_query(conn, "CREATE TEMP TABLE pl (id int PRIMARY KEY, v text)", NULL,
                                   0, NULL, &err),
                   err);
    dsql_conn_stats before, after;
    dsql_conn_get_stats(conn, &before);
    dsql_value a[] = {DSQL_INT(1), DSQL_STR("one")};
    dsql_value b[] = {DSQL_INT(2), DSQL_STR("two")};
    dsql_stmt stmts[] = {
        {"INSERT INTO pl VALUES ($1, $2)", a, 2},
        {"INSERT INTO pl VALUES ($1, $2)", b, 2},
        {"SELECT v FROM pl ORDER BY id", NULL, 0},
    };
    dsql_result *res[3];
    assert_dsql_ok(dsql_conn_pipeline(conn, stmts, 3, res, &err), err);
    dsql_conn_get_stats(conn, &after);
    assert_int_equal(after.round_trips - before.round_trips, 1);
    assert_int_equal(after.statements - before.statements, 3);
    assert_int_equal(dsql_result_affected(res[0]), 1);
    assert_int_equal(dsql_result_rows(res[2]), 2);
    assert_string_equal(dsql_result_text(res[2], 1, 0), "two");
    for (int i = 0; i < 3; i++)
        dsql_result_free(res[i]);
    assert_true(cap_has(&cap, "Executing pipeline of 3 statements in one round trip: INSERT INTO "
                              "pl VALUES ($1, $2); INSERT INTO pl VALUES ($1, $2); SELECT v "
                              "FROM pl ORDER BY id ("));

    /* A failure names its statement, stops the rest, and (one Sync = one implicit
     * transaction) undoes the statements before it. */
    dsql_value c[] = {DSQL_INT(3), DSQL_STR("three")};
    dsql_stmt bad[] = {
        {"INSERT INTO pl VALUES ($1, $2)", c, 2},
        {"INSERT INTO pl VALUES ($1, $2)", a, 2},
        {"SELECT 1", NULL, 0},
    };
    assert_int_equal(dsql_conn_pipeline(conn, bad, 3, res, &err), DSQL_ECONSTRAINT);
    assert_string_equal(err.sqlstate, "23505");
    assert_non_null(strstr(err.message, "pipeline statement 1 of 3: duplicate key value"));
    assert_non_null(res[0]);
    assert_null(res[1]);
    assert_null(res[2]);
    dsql_result_free(res[0]);
    assert_true(dsql_conn_ok(conn));
    dsql_result *r;
    assert_dsql_ok(dsql_conn_query(conn, "SELECT count(*) FROM pl", NULL, 0, &r, &err), err);
    assert_string_equal(dsql_result_text(r, 0, 0), "2");
    dsql_result_free(r);

    /* A bad parameter is caught before anything is sent. */
    dsql_value badv = {.kind = (dsql_value_kind)42};
    dsql_stmt badp[] = {{"SELECT 1", NULL, 0}, {"SELECT $1", &badv, 1}};
    assert_int_equal(dsql_conn_pipeline(conn, badp, 2, NULL, &err), DSQL_EINVAL);
    assert_string_equal(
        err.message,
        "dsql_conn_pipeline: pipeline statement 1 of 2: parameter $1: unknown value kind 42");
    assert_true(dsql_conn_ok(conn));
    assert_dsql_ok(dsql_conn_pipeline(conn, stmts + 2, 1, NULL, &err), err);
    assert_dsql_ok(dsql_conn_pipeline(conn, NULL, 0, NULL, &err), err);
    dsql_conn_close(conn);
    cap_free(&cap);
}

static void logging_and_redaction(void **state)
{
    (void)state;
    log_capture cap;
    cap_init(&cap);
    dsql_conn *conn = connect_env(&cap);
    dsql_error err = DSQL_ERROR_INIT;
    char buf[256];
    snprintf(buf, sizeof buf, "Connected to localhost:%s as postgres (password, TLS on) in ",
             tu_env("PGPORT"));
    assert_true(cap_has(&cap, buf));
    /* A value no port number, duration or pid can spell. */
    dsql_value v = DSQL_STR("val-ZQX8675309");
    assert_dsql_ok(dsql_conn_query(conn, "SELECT $1::text || 'x'", &v, 1, NULL, &err), err);
    assert_true(cap_has(&cap, "Executing: SELECT $1::text || 'x' (1 param, "));
    assert_false(cap_has(&cap, "ZQX8675309")); /* values are not logged */
    char role[64], sql[256];
    snprintf(role, sizeof role, "redact_%d", (int)getpid());
    snprintf(sql, sizeof sql, "CREATE ROLE %s PASSWORD 'sup3r''secret'", role);
    assert_dsql_ok(dsql_conn_query(conn, sql, NULL, 0, NULL, &err), err);
    snprintf(sql, sizeof sql, "ALTER ROLE %s WITH password E'an0ther\\'secret' LOGIN", role);
    assert_dsql_ok(dsql_conn_query(conn, sql, NULL, 0, NULL, &err), err);
    snprintf(sql, sizeof sql, "DROP ROLE %s", role);
    assert_dsql_ok(dsql_conn_query(conn, sql, NULL, 0, NULL, &err), err);
    assert_false(cap_has(&cap, "secret"));
    assert_true(cap_has(&cap, "PASSWORD '***' ("));
    assert_true(cap_has(&cap, "password E'***' LOGIN ("));
    dsql_conn_close(conn);
    cap_free(&cap);
}

static void startup_settings(void **state)
{
    (void)state;
    PGconn *pg = admin_pg();
    char schema[64], sql[256];
    snprintf(schema, sizeof schema, "Sch ema_%d", (int)getpid());
    snprintf(sql, sizeof sql, "CREATE SCHEMA \"%s\"", schema);
    pg_ok(pg, sql);

    dsql_config cfg;
    test_config(&cfg);
    cfg.schema = schema;
    cfg.application_name = "petclinic";
    dsql_conn *conn = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_conn_open(&cfg, &conn, &err), err);
    dsql_result *res;
    assert_dsql_ok(dsql_conn_query(conn,
                                   "SELECT current_setting('search_path'), "
                                   "current_setting('application_name'), current_schema()",
                                   NULL, 0, &res, &err),
                   err);
    char want[128];
    snprintf(want, sizeof want, "\"%s\"", schema);
    assert_string_equal(dsql_result_text(res, 0, 0), want);
    snprintf(want, sizeof want, "petclinic:libdsql/%s", dsql_version());
    assert_string_equal(dsql_result_text(res, 0, 1), want);
    assert_string_equal(dsql_result_text(res, 0, 2), schema);
    dsql_result_free(res);
    assert_non_null(dsql_conn_pg(conn));
    assert_int_equal(PQsslInUse(dsql_conn_pg(conn)), 1);
    dsql_conn_close(conn);
    dsql_config_clear(&cfg);
    snprintf(sql, sizeof sql, "DROP SCHEMA \"%s\"", schema);
    pg_ok(pg, sql);
    PQfinish(pg);
}

static void password_auth(void **state)
{
    (void)state;
    dsql_config cfg;
    test_config(&cfg);
    cfg.user = tu_env("LOCALPG_PW_USER");
    cfg.password = tu_env("LOCALPG_PW_PASSWORD");
    cfg.auth = DSQL_AUTH_PASSWORD;
    dsql_conn *conn = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_conn_open(&cfg, &conn, &err), err);
    dsql_result *res;
    assert_dsql_ok(dsql_conn_query(conn, "SELECT current_user", NULL, 0, &res, &err), err);
    assert_string_equal(dsql_result_text(res, 0, 0), tu_env("LOCALPG_PW_USER"));
    dsql_result_free(res);
    dsql_conn_close(conn);

    cfg.password = "wrong-horse-battery";
    assert_int_equal(dsql_conn_open(&cfg, &conn, &err), DSQL_EAUTH);
    assert_null(conn);
    assert_non_null(strstr(err.message, "password authentication failed for user \"dsql_pw\""));
    assert_null(strstr(err.message, "wrong-horse-battery"));
    dsql_config_clear(&cfg);
}

static void connect_failures(void **state)
{
    (void)state;
    dsql_config cfg = DSQL_CONFIG_INIT;
    dsql_conn *conn = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    char ci[512];

    /* Nothing listens on port 1. */
    assert_dsql_ok(dsql_config_parse(&cfg,
                                     "host=127.0.0.1 port=1 user=postgres sslmode=disable "
                                     "connect_timeout=3",
                                     &err),
                   err);
    assert_int_equal(dsql_conn_open(&cfg, &conn, &err), DSQL_ECONNECT);
    assert_non_null(strstr(err.message, "could not connect to 127.0.0.1:1 as postgres: "));
    assert_non_null(strstr(err.message, "Connection refused"));
    dsql_config_clear(&cfg);

    /* The wrong CA: the system bundle does not know the throwaway server's CA. */
    snprintf(ci, sizeof ci,
             "host=localhost hostaddr=127.0.0.1 port=%s user=postgres sslmode=verify-full "
             "sslrootcert=/etc/ssl/certs/ca-certificates.crt",
             tu_env("PGPORT"));
    assert_dsql_ok(dsql_config_parse(&cfg, ci, &err), err);
    assert_int_equal(dsql_conn_open(&cfg, &conn, &err), DSQL_ECONNECT);
    assert_non_null(strstr(err.message, "certificate verify failed"));
    dsql_config_clear(&cfg);

    /* A CA file that does not exist. */
    snprintf(ci, sizeof ci,
             "host=localhost hostaddr=127.0.0.1 port=%s user=postgres sslrootcert=/nonexistent",
             tu_env("PGPORT"));
    assert_dsql_ok(dsql_config_parse(&cfg, ci, &err), err);
    assert_int_equal(dsql_conn_open(&cfg, &conn, &err), DSQL_ECONNECT);
    assert_non_null(strstr(err.message, "root certificate file \"/nonexistent\" does not exist"));
    dsql_config_clear(&cfg);

    /* Host name not in the certificate. */
    snprintf(ci, sizeof ci,
             "host=wrong.example hostaddr=127.0.0.1 port=%s user=postgres sslrootcert=%s",
             tu_env("PGPORT"), tu_env("PGSSLROOTCERT"));
    assert_dsql_ok(dsql_config_parse(&cfg, ci, &err), err);
    assert_int_equal(dsql_conn_open(&cfg, &conn, &err), DSQL_ECONNECT);
    assert_non_null(strstr(err.message, "does not match host name \"wrong.example\""));
    dsql_config_clear(&cfg);

    assert_int_equal(dsql_conn_open(NULL, &conn, &err), DSQL_EINVAL);
    assert_int_equal(dsql_conn_open(&cfg, NULL, &err), DSQL_EINVAL);
}

typedef struct holder {
    PGconn *pg;
    int delay_ms;
} holder;

static void *release_later(void *arg)
{
    holder *h = arg;
    usleep((useconds_t)h->delay_ms * 1000);
    PQfinish(h->pg);
    return NULL;
}

/* 53300 (too many connections) is retried with backoff within the connect window. */
static void connection_limit_retry(void **state)
{
    (void)state;
    PGconn *pg = admin_pg();
    char role[64], sql[256], ci[512];
    snprintf(role, sizeof role, "limited_%d", (int)getpid());
    snprintf(sql, sizeof sql, "CREATE ROLE %s LOGIN CONNECTION LIMIT 1", role);
    pg_ok(pg, sql);
    snprintf(ci, sizeof ci, "%s", tu_conninfo());
    char *u = strstr(ci, "user=postgres");
    assert_non_null(u);
    snprintf(u, sizeof ci - (size_t)(u - ci), "user=%s sslrootcert=%s", role,
             tu_env("PGSSLROOTCERT"));
    holder h = {.pg = PQconnectdb(ci), .delay_ms = 700};
    assert_int_equal(PQstatus(h.pg), CONNECTION_OK);

    log_capture cap;
    cap_init(&cap);
    dsql_config cfg;
    test_config(&cfg);
    cfg.user = role;
    cfg.connect_timeout_s = 2;
    cfg.log = cap_log;
    cfg.log_ctx = &cap;
    dsql_conn *conn = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    /* Still held for the whole window: a clear failure naming the limit. */
    assert_int_equal(dsql_conn_open(&cfg, &conn, &err), DSQL_ECONNECT);
    assert_non_null(strstr(err.message, "too many connections for role"));
    assert_true(cap_has(&cap, "Connect attempt 1 refused for now"));

    pthread_t t;
    pthread_create(&t, NULL, release_later, &h);
    assert_dsql_ok(dsql_conn_open(&cfg, &conn, &err), err);
    pthread_join(t, NULL);
    assert_true(dsql_conn_ok(conn));
    dsql_conn_close(conn);
    dsql_config_clear(&cfg);
    cap_free(&cap);
    snprintf(sql, sizeof sql, "DROP ROLE %s", role);
    pg_ok(pg, sql);
    PQfinish(pg);
}

static int body_insert(dsql_conn *conn, void *ctx, dsql_error *err)
{
    int *calls = ctx;
    (*calls)++;
    return dsql_conn_query(conn, "INSERT INTO ct VALUES (1)", NULL, 0, NULL, err);
}

static void conn_transaction(void **state)
{
    (void)state;
    dsql_conn *conn = connect_env(NULL);
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(
        dsql_conn_query(conn, "CREATE TEMP TABLE ct (x int PRIMARY KEY)", NULL, 0, NULL, &err),
        err);
    int calls = 0, attempts = 0;
    assert_dsql_ok(dsql_conn_transaction(conn, body_insert, &calls, NULL, &attempts, &err), err);
    assert_int_equal(calls, 1);
    assert_int_equal(attempts, 1);
    /* A constraint violation is not retried, and surfaces as is. */
    assert_int_equal(dsql_conn_transaction(conn, body_insert, &calls, NULL, &attempts, &err),
                     DSQL_ECONSTRAINT);
    assert_int_equal(calls, 2);
    assert_int_equal(attempts, 1);
    assert_string_equal(err.sqlstate, "23505");
    assert_int_equal(PQtransactionStatus(dsql_conn_pg(conn)), PQTRANS_IDLE);
    dsql_conn_close(conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(typed_parameters),
        cmocka_unit_test(result_access),
        cmocka_unit_test(server_errors_classified),
        cmocka_unit_test(pipeline_one_round_trip),
        cmocka_unit_test(logging_and_redaction),
        cmocka_unit_test(startup_settings),
        cmocka_unit_test(password_auth),
        cmocka_unit_test(connect_failures),
        cmocka_unit_test(connection_limit_retry),
        cmocka_unit_test(conn_transaction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
