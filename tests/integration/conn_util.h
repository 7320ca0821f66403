/* Helpers for the integration tests: log capture, pools and connections on the throwaway
 * server, superuser checks behind the library's back (header-only; include after testutil.h). */
#ifndef DSQL_TEST_CONN_UTIL_H
#define DSQL_TEST_CONN_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "dsql/dsql.h"

/* Every log line, kept for searching (thread-safe). */
typedef struct log_capture {
    pthread_mutex_t mu;
    char *text; /* lines joined by '\n' */
    size_t len, cap;
    int lines;
} log_capture;

static inline void cap_init(log_capture *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
}

static inline void cap_free(log_capture *c)
{
    free(c->text);
    pthread_mutex_destroy(&c->mu);
}

static inline void cap_log(dsql_log_level level, const char *msg, void *ctx)
{
    log_capture *c = ctx;
    (void)level;
    size_t n = strlen(msg);
    pthread_mutex_lock(&c->mu);
    if (c->len + n + 2 > c->cap) {
        size_t cap = (c->cap + n + 2) * 2;
        char *t = realloc(c->text, cap);
        if (!t) {
            pthread_mutex_unlock(&c->mu);
            return;
        }
        c->text = t;
        c->cap = cap;
    }
    memcpy(c->text + c->len, msg, n);
    c->len += n;
    c->text[c->len++] = '\n';
    c->text[c->len] = '\0';
    c->lines++;
    if (getenv("DSQL_TEST_VERBOSE"))
        fprintf(stderr, "log: %s\n", msg);
    pthread_mutex_unlock(&c->mu);
}

static inline bool cap_has(log_capture *c, const char *needle)
{
    pthread_mutex_lock(&c->mu);
    bool found = c->text && strstr(c->text, needle);
    pthread_mutex_unlock(&c->mu);
    return found;
}

static inline int cap_count(log_capture *c, const char *needle)
{
    int n = 0;
    pthread_mutex_lock(&c->mu);
    for (const char *p = c->text; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* A config for the throwaway PostgreSQL itself (the trust superuser, TLS verify-full),
 * for tests that need its internals or put their own proxy in front of it. */
static inline void test_config_plain(dsql_config *cfg)
{
    *cfg = (dsql_config)DSQL_CONFIG_INIT;
    cfg->host = tu_env("PGHOST");
    cfg->hostaddr = tu_env("PGHOSTADDR");
    cfg->port = atoi(tu_env("PGPORT"));
    cfg->user = tu_env("PGUSER");
    cfg->database = tu_env("PGDATABASE");
    cfg->sslmode = "verify-full";
    cfg->sslrootcert = tu_env("PGSSLROOTCERT");
    cfg->auth = DSQL_AUTH_PASSWORD;
}

/* A config from the environment: the local DSQL endpoint when make test runs one (IAM over
 * TLS, as in production: CLUSTER_ENDPOINT and friends), else the throwaway PostgreSQL.
 * A test of PostgreSQL-side machinery DSQL does not offer (temporary tables, DO blocks,
 * pg_prepared_statements) defines DSQL_TEST_PLAIN before including this file. */
static inline void test_config(dsql_config *cfg)
{
#ifdef DSQL_TEST_PLAIN
    test_config_plain(cfg);
    return;
#endif
    dsql_error err = DSQL_ERROR_INIT;
    *cfg = (dsql_config)DSQL_CONFIG_INIT;
    tu_env("PGPORT");
    if (dsql_config_from_env(cfg, &err)) {
        print_error("dsql_config_from_env: %s\n", err.message);
        fail();
    }
}

/* True when make test runs the local DSQL endpoint (library tests go through it). */
static inline bool test_through_dsql_local(void)
{
    const char *p = getenv("DSQL_LOCAL_PORT");
    return p && *p;
}

static inline void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* A raw libpq connection as the superuser, for setup and checks behind the library's back. */
static inline PGconn *admin_pg(void)
{
    PGconn *pg = PQconnectdb(tu_conninfo());
    if (PQstatus(pg) != CONNECTION_OK) {
        print_error("admin connection failed: %s\n", PQerrorMessage(pg));
        fail();
    }
    PQsetNoticeProcessor(pg, quiet_notices, NULL);
    return pg;
}

/* Runs sql on pg, failing the test on error. */
static inline void pg_ok(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        print_error("%s: %s\n", sql, PQerrorMessage(pg));
        PQclear(r);
        fail();
    }
    PQclear(r);
}

/* The single value sql returns, as a long (fails the test otherwise). */
static inline long pg_long(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        print_error("%s: %s\n", sql, PQerrorMessage(pg));
        PQclear(r);
        fail();
    }
    long v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/* Runs sql (printf-style) on a fresh superuser connection, failing the test on error;
 * with want_value, returns the single value it returns as a long. */
static inline long admin_vrun(bool want_value, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static inline long admin_vrun(bool want_value, const char *fmt, va_list ap)
{
    char sql[1024];
    int n = vsnprintf(sql, sizeof sql, fmt, ap);
    assert_true(n > 0 && (size_t)n < sizeof sql);
    PGconn *pg = admin_pg();
    long v = 0;
    if (want_value)
        v = pg_long(pg, sql);
    else
        pg_ok(pg, sql);
    PQfinish(pg);
    return v;
}

static inline void admin_exec(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void admin_exec(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    admin_vrun(false, fmt, ap);
    va_end(ap);
}

static inline long admin_long(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline long admin_long(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    long v = admin_vrun(true, fmt, ap);
    va_end(ap);
    return v;
}

/* How a test's pool or connection differs from test_config(): a field left NULL / 0
 * keeps the default. */
typedef struct test_spec {
    bool plain; /* the throwaway PostgreSQL itself, not the local DSQL endpoint */
    const char *database;
    const char *application_name;
    int port;
    const char *sslmode;
    int statement_cache;
    int query_timeout_ms;
    int connect_timeout_s;
    log_capture *logs;                /* receives every log line */
    int log_parameters;               /* dsql_config.log_parameters */
    const dsql_pool_options *options; /* pools only */
} test_spec;

static inline void test_spec_config(const test_spec *spec, dsql_config *cfg)
{
    /* A port of its own (a test proxy) or a weaker sslmode means plain PostgreSQL. */
    if (spec->plain || spec->port || spec->sslmode)
        test_config_plain(cfg);
    else
        test_config(cfg);
    if (spec->database)
        cfg->database = spec->database;
    if (spec->application_name)
        cfg->application_name = spec->application_name;
    if (spec->port)
        cfg->port = spec->port;
    if (spec->sslmode)
        cfg->sslmode = spec->sslmode;
    if (spec->statement_cache)
        cfg->statement_cache = spec->statement_cache;
    if (spec->query_timeout_ms)
        cfg->query_timeout_ms = spec->query_timeout_ms;
    if (spec->connect_timeout_s)
        cfg->connect_timeout_s = spec->connect_timeout_s;
    if (spec->logs) {
        cfg->log = cap_log;
        cfg->log_ctx = spec->logs;
    }
    if (spec->log_parameters)
        cfg->log_parameters = spec->log_parameters;
}

static inline void test_open_failed(const char *what, int rc, const dsql_error *err)
{
    print_error("%s: %s [%s] %s\n", what, dsql_status_name(rc), err->sqlstate, err->message);
    fail();
}

/* A pool on the throwaway server as the trust superuser; fails the test if it cannot open. */
static inline dsql_pool *test_pool_open(const test_spec *spec)
{
    dsql_config cfg;
    test_spec_config(spec, &cfg);
    dsql_pool *pool = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    int rc = dsql_pool_open(&cfg, spec->options, &pool, &err);
    dsql_config_clear(&cfg);
    if (rc != DSQL_OK)
        test_open_failed("dsql_pool_open", rc, &err);
    return pool;
}

/* One connection, the same way. */
static inline dsql_conn *test_conn_open(const test_spec *spec)
{
    dsql_config cfg;
    test_spec_config(spec, &cfg);
    dsql_conn *conn = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    int rc = dsql_conn_open(&cfg, &conn, &err);
    dsql_config_clear(&cfg);
    if (rc != DSQL_OK)
        test_open_failed("dsql_conn_open", rc, &err);
    return conn;
}

/* TEST_POOL(.database = DB, .logs = &logs), TEST_CONN(.port = p): at least one field. */
#define TEST_POOL(...) test_pool_open(&(test_spec){__VA_ARGS__})
#define TEST_CONN(...) test_conn_open(&(test_spec){__VA_ARGS__})

/* A fresh database `db` for one test program, with a pool on it whose statements are
 * logged into logs; PGDATABASE names it, so the admin_* checks made behind the library's
 * back look there. model_db_close undoes it all. */
static inline dsql_pool *model_db_open(const char *db, log_capture *logs)
{
    admin_exec("DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    admin_exec("CREATE DATABASE %s", db);
    setenv("PGDATABASE", db, 1);
    cap_init(logs);
    return TEST_POOL(.database = db, .logs = logs);
}

static inline void model_db_close(const char *db, dsql_pool *pool, log_capture *logs)
{
    dsql_pool_close(pool);
    cap_free(logs);
    setenv("PGDATABASE", "postgres", 1);
    admin_exec("DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
}

/* A pool's counters, to count what one call sends: take them before, assert_sent after. */
typedef struct pool_counters {
    uint64_t statements, round_trips;
} pool_counters;

static inline pool_counters pool_counters_of(dsql_pool *pool)
{
    dsql_pool_stats s;
    dsql_pool_get_stats(pool, &s);
    return (pool_counters){s.statements, s.round_trips};
}

/* The round trips and statements pool sent since counters c. */
#define assert_sent(pool, c, trips, stmts)                                                         \
    do {                                                                                           \
        pool_counters n_ = pool_counters_of((pool));                                               \
        assert_int_equal(n_.round_trips - (c).round_trips, (trips));                               \
        assert_int_equal(n_.statements - (c).statements, (stmts));                                 \
    } while (0)

/* The integer in the first row and column of what sql returns on conn, into *v. */
static inline int conn_query_int(dsql_conn *conn, const char *sql, const dsql_value *params,
                                 size_t nparams, int64_t *v, dsql_error *err)
{
    dsql_result *res;
    int rc = dsql_conn_query(conn, sql, params, nparams, &res, err);
    if (rc)
        return rc;
    rc = dsql_result_int(res, 0, 0, v, err);
    dsql_result_free(res);
    return rc;
}

#endif
