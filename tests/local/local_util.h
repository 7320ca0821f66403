/*
 * Helpers for the tests of dsql-local itself (tests/local): sessions opened with plain
 * libpq the way any PostgreSQL client opens them against Aurora DSQL (an IAM token as the
 * password, TLS verify-full), and the PostgreSQL behind the endpoint for setup and checks.
 * Header-only; include after testutil.h. The tests skip (exit 77) when make test did not
 * start dsql-local (DSQL_LOCAL_PORT unset).
 */
#ifndef DSQL_LOCAL_UTIL_H
#define DSQL_LOCAL_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "dsql/dsql.h"

/* Exit status for "needs dsql-local, which is not running" (CTest SKIP_RETURN_CODE). */
#define LOCAL_SKIP 77

static inline bool local_running(void)
{
    const char *p = getenv("DSQL_LOCAL_PORT");
    return p && *p;
}

static inline void local_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* One command to dsql-local's control socket; the answer's first line in out (may be
 * NULL). True when the answer is "ok...". Safe from any thread. */
static inline bool local_ctl_try(const char *cmd, char *out, size_t cap)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    const char *path = getenv("DSQL_LOCAL_CONTROL");
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path ? path : "");
    char ans[512] = "";
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        char line[256];
        snprintf(line, sizeof line, "%s\n", cmd);
        ssize_t w = write(fd, line, strlen(line));
        ssize_t r = w > 0 ? read(fd, ans, sizeof ans - 1) : -1;
        if (r > 0)
            ans[r] = '\0';
    }
    if (fd >= 0)
        close(fd);
    ans[strcspn(ans, "\n")] = '\0';
    if (out && cap) {
        size_t n = strlen(ans) < cap - 1 ? strlen(ans) : cap - 1;
        memcpy(out, ans, n);
        out[n] = '\0';
    }
    return strncmp(ans, "ok", 2) == 0;
}

/* The same from the test's thread: fails the test unless the answer is "ok...". */
static inline void local_ctl(const char *cmd, char *out, size_t cap)
{
    char ans[512];
    if (!local_ctl_try(cmd, ans, sizeof ans)) {
        print_error("control: %s: %s\n", cmd, ans[0] ? ans : "(no answer)");
        fail();
    }
    if (out && cap) {
        size_t n = strlen(ans) < cap - 1 ? strlen(ans) : cap - 1;
        memcpy(out, ans, n);
        out[n] = '\0';
    }
}

/* A token for the endpoint, signed with this run's credentials (or the override's). */
typedef struct local_token_spec {
    const char *hostname; /* NULL: localhost */
    const char *region;   /* NULL: us-east-1 */
    bool admin_action;    /* DbConnectAdmin (else DbConnect) */
    long expires_in;      /* 0: default (900 s) */
    time_t signing_time;  /* 0: now */
    const char *secret;   /* NULL: AWS_SECRET_ACCESS_KEY */
    const char *akid;     /* NULL: AWS_ACCESS_KEY_ID */
} local_token_spec;

static inline char *local_token(const local_token_spec *s)
{
    dsql_credentials creds = DSQL_CREDENTIALS_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    const char *akid = s->akid ? s->akid : tu_env("AWS_ACCESS_KEY_ID");
    const char *secret = s->secret ? s->secret : tu_env("AWS_SECRET_ACCESS_KEY");
    if (dsql_credentials_set(&creds, akid, secret, NULL, 0, &err)) {
        print_error("dsql_credentials_set: %s\n", err.message);
        fail();
    }
    dsql_token_params p = DSQL_TOKEN_PARAMS_INIT;
    p.hostname = s->hostname ? s->hostname : "localhost";
    p.region = s->region ? s->region : "us-east-1";
    p.action = s->admin_action ? DSQL_TOKEN_DB_CONNECT_ADMIN : DSQL_TOKEN_DB_CONNECT;
    p.expires_in = s->expires_in;
    p.signing_time = s->signing_time;
    char *token = NULL;
    if (dsql_token_generate(&p, &creds, &token, &err)) {
        print_error("dsql_token_generate: %s\n", err.message);
        fail();
    }
    dsql_credentials_clear(&creds);
    return token;
}

/* Connects to dsql-local as user with password (NULL: a fresh token for the user's
 * action), database db (NULL: postgres), plus extra conninfo words. Returns the
 * connection whatever its status (the caller checks). */
static inline PGconn *local_connect_as(const char *user, const char *password, const char *db,
                                       const char *extra)
{
    char *token = NULL;
    if (!password) {
        token = local_token(&(local_token_spec){.admin_action = strcmp(user, "admin") == 0});
        password = token;
    }
    char conninfo[4096];
    snprintf(conninfo, sizeof conninfo,
             "host=localhost hostaddr=127.0.0.1 port=%s user=%s dbname=%s sslmode=verify-full "
             "sslrootcert=%s connect_timeout=10 %s",
             tu_env("DSQL_LOCAL_PORT"), user, db ? db : "postgres", tu_env("LOCALPG_CA"),
             extra ? extra : "");
    const char *keys[] = {"dbname", "password", NULL};
    const char *vals[] = {conninfo, password, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    dsql_token_free(token);
    PQsetNoticeProcessor(c, local_quiet, NULL);
    return c;
}

/* An admin session through dsql-local; fails the test if it cannot connect. */
static inline PGconn *local_connect(const char *db)
{
    PGconn *c = local_connect_as("admin", NULL, db, NULL);
    if (PQstatus(c) != CONNECTION_OK) {
        print_error("connecting to dsql-local: %s\n", PQerrorMessage(c));
        fail();
    }
    return c;
}

/* The PostgreSQL behind the endpoint (trust superuser): setup and checks. */
static inline PGconn *local_backend(const char *db)
{
    char conninfo[1024];
    snprintf(conninfo, sizeof conninfo, "%s%s%s", tu_conninfo(), db ? " dbname=" : "",
             db ? db : "");
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        print_error("connecting to the backend: %s\n", PQerrorMessage(c));
        fail();
    }
    PQsetNoticeProcessor(c, local_quiet, NULL);
    return c;
}

static inline void local_backend_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        print_error("backend: %s: %s\n", sql, PQerrorMessage(c));
        PQclear(r);
        fail();
    }
    PQclear(r);
}

static inline void local_drop_database(const char *db)
{
    PGconn *c = local_backend("postgres");
    char sql[256];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    local_backend_exec(c, sql);
    PQfinish(c);
}

/* A fresh database on the backend (dropped first if a previous run left it). */
static inline void local_fresh_database(const char *db)
{
    local_drop_database(db);
    PGconn *c = local_backend("postgres");
    char sql[256];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    local_backend_exec(c, sql);
    PQfinish(c);
}

/* Runs sql through a session; returns the result (caller clears). */
static inline PGresult *local_exec(PGconn *c, const char *sql)
{
    return PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 0);
}

/* The SQLSTATE of a failed result ("" if it did not fail). */
static inline const char *local_state(const PGresult *r)
{
    const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

static inline const char *local_message(const PGresult *r)
{
    const char *s = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    return s ? s : "";
}

/* Runs sql expecting success; fails the test with the server's message otherwise. */
static inline void local_ok(PGconn *c, const char *sql)
{
    PGresult *r = local_exec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        print_error("%s: %s\n", sql, PQerrorMessage(c));
        PQclear(r);
        fail();
    }
    PQclear(r);
}

/* Runs sql expecting an error with this SQLSTATE and primary message. */
static inline void local_refused(PGconn *c, const char *sql, const char *state, const char *message)
{
    PGresult *r = local_exec(c, sql);
    if (PQresultStatus(r) != PGRES_FATAL_ERROR) {
        print_error("%s: succeeded, want %s %s\n", sql, state, message);
        PQclear(r);
        fail();
    }
    if (strcmp(local_state(r), state) != 0 || strcmp(local_message(r), message) != 0) {
        print_error("%s: got %s \"%s\", want %s \"%s\"\n", sql, local_state(r), local_message(r),
                    state, message);
        PQclear(r);
        fail();
    }
    PQclear(r);
}

/* The single value of a one-row, one-column query (copied into buf). */
static inline const char *local_value(PGconn *c, const char *sql, char *buf, size_t cap)
{
    PGresult *r = local_exec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) != 1) {
        print_error("%s: %s (%d rows)\n", sql, PQerrorMessage(c), PQntuples(r));
        PQclear(r);
        fail();
    }
    snprintf(buf, cap, "%s", PQgetisnull(r, 0, 0) ? "NULL" : PQgetvalue(r, 0, 0));
    PQclear(r);
    return buf;
}

#endif
