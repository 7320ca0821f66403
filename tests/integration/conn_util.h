/* Helpers for the conn layer's integration tests (header-only; include after testutil.h). */
#ifndef DSQL_TEST_CONN_UTIL_H
#define DSQL_TEST_CONN_UTIL_H

#include <pthread.h>
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

/* A config for the throwaway server from the PG* environment (the trust superuser). */
static inline void test_config(dsql_config *cfg)
{
    dsql_error err = DSQL_ERROR_INIT;
    *cfg = (dsql_config)DSQL_CONFIG_INIT;
    tu_env("PGPORT");
    if (dsql_config_from_env(cfg, &err)) {
        print_error("dsql_config_from_env: %s\n", err.message);
        fail();
    }
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

/* Fails with the error's text when rc is not DSQL_OK. */
#define assert_dsql_ok(rc, err)                                                                    \
    do {                                                                                           \
        int rc_ = (rc);                                                                            \
        if (rc_ != DSQL_OK) {                                                                      \
            print_error("%s: %s [%s] %s\n", #rc, dsql_status_name(rc_), (err).sqlstate,            \
                        (err).message);                                                            \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

#endif
