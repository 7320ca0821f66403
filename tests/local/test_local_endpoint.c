/*
 * dsql-local as a client sees it, through plain libpq: IAM token authentication (every way
 * a token can be wrong is refused, with DSQL's words and nothing more), TLS and SNI
 * required, the server's identity, snapshot isolation with conflicts reported as OC000,
 * the row cap, the transaction and connection age caps, asynchronous index jobs, cancel
 * requests, injected faults, and many sessions at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "testutil.h"
#include "local_util.h"

#define DB "dsql_local_endpoint"

static const char *denied = "FATAL:  unable to accept connection, access denied";

static int setup(void **state)
{
    (void)state;
    local_fresh_database(DB);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char ans[256];
    local_ctl("reset", ans, sizeof ans);
    local_drop_database(DB);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A connection attempt that must fail; its error text must hold want and, when hint is
 * NULL, no HINT at all. */
static void refused_with(PGconn *c, const char *want, const char *hint)
{
    const char *msg = PQerrorMessage(c);
    if (PQstatus(c) == CONNECTION_OK || !strstr(msg, want) ||
        (hint ? !strstr(msg, hint) : strstr(msg, "HINT") != NULL)) {
        print_error("connection: status %d, message: %s (want '%s'%s%s)\n", PQstatus(c), msg, want,
                    hint ? ", hint " : ", no hint", hint ? hint : "");
        PQfinish(c);
        fail();
    }
    /* The refusal never echoes the token. */
    assert_null(strstr(msg, "X-Amz-Signature"));
    PQfinish(c);
}

static void token_refused(const local_token_spec *spec, const char *user, const char *hint)
{
    char *token = local_token(spec);
    refused_with(local_connect_as(user, token, DB, NULL), denied, hint);
    dsql_token_free(token);
}

/* ---- identity and authentication ---- */

static void admin_token_connects(void **state)
{
    (void)state;
    PGconn *c = local_connect(DB);
    char buf[64];
    assert_string_equal(local_value(c, "SELECT current_user", buf, sizeof buf), "admin");
    assert_string_equal(local_value(c, "SHOW server_version", buf, sizeof buf), "16.15");
    assert_string_equal(PQparameterStatus(c, "server_version"), "16.15");
    assert_string_equal(local_value(c, "SHOW transaction_isolation", buf, sizeof buf),
                        "repeatable read");
    assert_int_equal(PQsslInUse(c), 1);
    PQfinish(c);
}

static void every_wrong_token_is_refused(void **state)
{
    (void)state;
    time_t now = time(NULL);
    /* Signed with another secret, for another region, for another host name. */
    token_refused(&(local_token_spec){.admin_action = true,
                                      .secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
                  "admin", NULL);
    token_refused(&(local_token_spec){.admin_action = true, .region = "eu-west-1"}, "admin", NULL);
    token_refused(&(local_token_spec){.admin_action = true, .hostname = "other.example"}, "admin",
                  NULL);
    /* An access key the endpoint does not know. */
    token_refused(&(local_token_spec){.admin_action = true, .akid = "AKIAIOSFODNN7EXAMPLE"},
                  "admin", NULL);
    /* DbConnect is not enough for admin. */
    token_refused(&(local_token_spec){.admin_action = false}, "admin", NULL);
    /* Expired (signed 1,000 s ago for 900 s): the one refusal that says why. */
    token_refused(
        &(local_token_spec){.admin_action = true, .signing_time = now - 1000, .expires_in = 900},
        "admin", "HINT:  Signature expired");
    /* Signed in the future, past the tolerated clock skew. */
    token_refused(&(local_token_spec){.admin_action = true, .signing_time = now + 1000}, "admin",
                  NULL);
    /* Not a token; a token whose signature was changed by one character. */
    refused_with(local_connect_as("admin", "not-a-token", DB, NULL), denied, NULL);
    char *token = local_token(&(local_token_spec){.admin_action = true});
    size_t n = strlen(token);
    token[n - 1] = token[n - 1] == '0' ? '1' : '0';
    refused_with(local_connect_as("admin", token, DB, NULL), denied, NULL);
    dsql_token_free(token);
    /* A token signed now with a short lifetime is fine. */
    token = local_token(&(local_token_spec){.admin_action = true, .expires_in = 5});
    PGconn *c = local_connect_as("admin", token, DB, NULL);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQfinish(c);
    dsql_token_free(token);
}

static void roles_other_than_admin(void **state)
{
    (void)state;
    PGconn *b = local_backend(DB);
    local_backend_exec(b, "DROP ROLE IF EXISTS local_app");
    /* A role that does not exist: access denied, as on DSQL. */
    token_refused(&(local_token_spec){.admin_action = false}, "local_app", NULL);
    local_backend_exec(b, "CREATE ROLE local_app LOGIN");
    PGconn *c = local_connect_as("local_app", NULL, DB, NULL);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    char buf[64];
    assert_string_equal(local_value(c, "SELECT current_user", buf, sizeof buf), "local_app");
    PQfinish(c);
    /* The admin action does not open other roles. */
    token_refused(&(local_token_spec){.admin_action = true}, "local_app", NULL);
    local_backend_exec(b, "DROP ROLE local_app");
    PQfinish(b);
}

static void tls_and_sni_are_required(void **state)
{
    (void)state;
    refused_with(local_connect_as("admin", "x", DB, "sslmode=disable"),
                 "FATAL:  unable to accept connection, SSL/TLS is required", NULL);
    /* libpq sends no SNI for an address literal. */
    char conninfo[512];
    snprintf(conninfo, sizeof conninfo,
             "host=127.0.0.1 port=%s user=admin dbname=%s sslmode=require password=x "
             "connect_timeout=10",
             tu_env("DSQL_LOCAL_PORT"), DB);
    refused_with(PQconnectdb(conninfo), "unable to accept connection, sni was not received", NULL);
}

/* Direct TLS (PostgreSQL 17's sslnegotiation=direct): the handshake first, ALPN
 * "postgresql", then the startup message; the endpoint asks for the password (the token).
 * Returns the first message type the endpoint answers with, or 0 when the handshake or
 * the exchange failed. */
static char direct_tls_startup(const char *alpn)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_load_verify_locations(ctx, tu_env("LOCALPG_CA"), NULL), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)atoi(tu_env("DSQL_LOCAL_PORT")))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set1_host(ssl, "localhost");
    if (alpn) {
        unsigned char protos[32];
        protos[0] = (unsigned char)strlen(alpn);
        memcpy(protos + 1, alpn, strlen(alpn));
        SSL_set_alpn_protos(ssl, protos, (unsigned)strlen(alpn) + 1);
    }
    char answer = 0;
    if (SSL_connect(ssl) == 1) {
        /* StartupMessage: length, protocol 3.0, user admin, database DB. */
        unsigned char m[128];
        size_t n = 8;
        const char *kv[] = {"user", "admin", "database", DB};
        for (int i = 0; i < 4; i++) {
            memcpy(m + n, kv[i], strlen(kv[i]) + 1);
            n += strlen(kv[i]) + 1;
        }
        m[n++] = 0;
        uint32_t len = htonl((uint32_t)n), proto = htonl(196608);
        memcpy(m, &len, 4);
        memcpy(m + 4, &proto, 4);
        unsigned char r[16];
        if (SSL_write(ssl, m, (int)n) == (int)n && SSL_read(ssl, r, sizeof r) >= 9) {
            uint32_t code;
            memcpy(&code, r + 5, 4);
            answer = (char)r[0];
            if (answer == 'R')
                assert_int_equal(ntohl(code), 3); /* AuthenticationCleartextPassword */
        }
    }
    ERR_clear_error();
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
    return answer;
}

static void direct_tls_with_alpn(void **state)
{
    (void)state;
    assert_int_equal(direct_tls_startup("postgresql"), 'R');
    /* Without the ALPN PostgreSQL requires for direct TLS, the session is refused. */
    assert_int_equal(direct_tls_startup(NULL), 0);
}

/* ---- transactions ---- */

static void conflicting_writers_get_oc000(void **state)
{
    (void)state;
    PGconn *a = local_connect(DB), *b = local_connect(DB);
    local_ok(a, "CREATE TABLE counter (id int PRIMARY KEY, n int)");
    local_ok(a, "INSERT INTO counter VALUES (1, 0)");
    local_ok(a, "BEGIN");
    local_ok(b, "BEGIN");
    char buf[32];
    assert_string_equal(local_value(b, "SELECT n FROM counter WHERE id = 1", buf, sizeof buf), "0");
    local_ok(a, "UPDATE counter SET n = n + 1 WHERE id = 1");
    local_ok(a, "COMMIT");
    /* b read the row before a's write committed: its write conflicts. */
    local_refused(b, "UPDATE counter SET n = n + 1 WHERE id = 1", "40001",
                  "change conflicts with another transaction, please retry: (OC000)");
    local_ok(b, "ROLLBACK");
    assert_string_equal(local_value(b, "SELECT n FROM counter WHERE id = 1", buf, sizeof buf), "1");
    local_ok(a, "DROP TABLE counter");
    PQfinish(a);
    PQfinish(b);
}

static void row_cap_counts_the_transaction(void **state)
{
    (void)state;
    PGconn *c = local_connect(DB);
    local_ok(c, "CREATE TABLE bulk (id int PRIMARY KEY)");
    PGresult *r = local_exec(c, "INSERT INTO bulk SELECT generate_series(1, 3000)");
    assert_string_equal(PQcmdStatus(r), "INSERT 0 3000");
    PQclear(r);
    local_ok(c, "BEGIN");
    /* 2,000 updated and 1,000 deleted: exactly the cap; one row more crosses it. */
    local_ok(c, "UPDATE bulk SET id = id + 10000 WHERE id <= 2000");
    r = local_exec(c, "DELETE FROM bulk WHERE id BETWEEN 2001 AND 3000");
    assert_string_equal(PQcmdStatus(r), "DELETE 1000");
    PQclear(r);
    local_refused(c, "INSERT INTO bulk VALUES (1)", "54000", "transaction row limit exceeded");
    local_refused(c, "SELECT 1", "25P02",
                  "current transaction is aborted, commands ignored until end of transaction "
                  "block");
    local_ok(c, "ROLLBACK");
    char buf[32];
    assert_string_equal(
        local_value(c, "SELECT count(*) FROM bulk WHERE id <= 3000", buf, sizeof buf), "3000");
    local_ok(c, "DROP TABLE bulk");
    PQfinish(c);
}

static void transaction_age_cap(void **state)
{
    (void)state;
    local_ctl("max-transaction-age 1", NULL, 0);
    PGconn *c = local_connect(DB);
    local_ok(c, "BEGIN");
    local_ok(c, "SELECT 1");
    usleep(2100 * 1000);
    local_refused(c, "SELECT 1", "54000", "transaction age limit of 1s exceeded");
    local_ok(c, "ROLLBACK");
    local_ok(c, "SELECT 1"); /* a new transaction is young again */
    local_ctl("max-transaction-age 300", NULL, 0);
    PQfinish(c);
}

static void connection_age_cap(void **state)
{
    (void)state;
    local_ctl("max-connection-age 2", NULL, 0);
    PGconn *c = local_connect(DB);
    local_ok(c, "SELECT 1");
    usleep(3500 * 1000);
    PGresult *r = local_exec(c, "SELECT 1");
    assert_int_not_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    const char *msg = PQerrorMessage(c);
    if (!strstr(msg, "terminating connection: it has reached the maximum connection duration "
                     "of 2 seconds")) {
        print_error("after the cap: %s\n", msg);
        fail();
    }
    local_ctl("max-connection-age 3600", NULL, 0);
    PQfinish(c);
}

/* ---- asynchronous index jobs ---- */

static void index_jobs(void **state)
{
    (void)state;
    PGconn *c = local_connect(DB);
    local_ok(c, "CREATE TABLE tagged (id int PRIMARY KEY, label text)");
    local_ok(c, "INSERT INTO tagged VALUES (1, 'a'), (2, 'a'), (3, 'b')");
    /* A synchronous CREATE INDEX is refused; ASYNC answers with a job at once. */
    local_refused(c, "CREATE INDEX tagged_plain ON tagged (label)", "0A000",
                  "unsupported mode. please use CREATE INDEX ASYNC.");
    PGresult *r = local_exec(c, "CREATE INDEX ASYNC tagged_label ON tagged (label)");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQcmdStatus(r), "CREATE INDEX");
    assert_string_equal(PQfname(r, 0), "job_id");
    char job[64];
    snprintf(job, sizeof job, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    assert_int_equal(strlen(job), 26);
    char sql[160], buf[256];
    snprintf(sql, sizeof sql, "CALL sys.wait_for_job('%s')", job);
    assert_string_equal(local_value(c, sql, buf, sizeof buf), "t");
    snprintf(sql, sizeof sql, "SELECT status FROM sys.jobs WHERE job_id = '%s'", job);
    assert_string_equal(local_value(c, sql, buf, sizeof buf), "completed");
    /* A unique index over duplicates: the job fails and says why; the index is left
     * behind, not valid (as on DSQL). */
    r = local_exec(c, "CREATE UNIQUE INDEX ASYNC tagged_label_uq ON tagged (label)");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    snprintf(job, sizeof job, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    snprintf(sql, sizeof sql, "CALL sys.wait_for_job('%s')", job);
    assert_string_equal(local_value(c, sql, buf, sizeof buf), "f");
    snprintf(sql, sizeof sql, "SELECT status || ': ' || details FROM sys.jobs WHERE job_id = '%s'",
             job);
    assert_string_equal(local_value(c, sql, buf, sizeof buf),
                        "failed: could not create unique index \"tagged_label_uq\"");
    assert_string_equal(local_value(c,
                                    "SELECT indisvalid FROM pg_index WHERE indexrelid = "
                                    "'tagged_label_uq'::regclass",
                                    buf, sizeof buf),
                        "f");
    /* An ASYNC index on a table that does not exist fails at once; the statement after it
     * keeps its own command tag (the emulated result's tag does not leak into it). */
    local_refused(c, "CREATE INDEX ASYNC nowhere_label ON nowhere (label)", "42P01",
                  "relation \"nowhere\" does not exist");
    r = local_exec(c, "UPDATE tagged SET label = 'c' WHERE id = 3");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    assert_string_equal(PQcmdStatus(r), "UPDATE 1");
    assert_string_equal(PQcmdTuples(r), "1");
    PQclear(r);
    /* A job id that does not exist. */
    local_refused(c, "CALL sys.wait_for_job('aaaaaaaaaaaaaaaaaaaaaaaaaa')", "42704",
                  "job aaaaaaaaaaaaaaaaaaaaaaaaaa does not exist");
    local_ok(c, "DROP TABLE tagged");
    PQfinish(c);
}

/* ---- cancel, faults, sessions ---- */

static void cancel_requests_reach_the_backend(void **state)
{
    (void)state;
    PGconn *c = local_connect(DB);
    assert_int_equal(PQsendQuery(c, "SELECT pg_sleep(30)"), 1);
    usleep(200 * 1000);
    PGcancel *k = PQgetCancel(c);
    char errbuf[256];
    double t0 = now_s();
    assert_int_equal(PQcancel(k, errbuf, sizeof errbuf), 1);
    PQfreeCancel(k);
    PGresult *r = PQgetResult(c);
    assert_string_equal(local_state(r), "57014");
    assert_string_equal(local_message(r), "canceling statement due to user request");
    PQclear(r);
    while ((r = PQgetResult(c)))
        PQclear(r);
    assert_true(now_s() - t0 < 5.0);
    local_ok(c, "SELECT 1"); /* the session goes on */
    PQfinish(c);
}

static void injected_faults(void **state)
{
    (void)state;
    PGconn *c = local_connect(DB);
    local_ok(c, "CREATE TABLE faulty (id int PRIMARY KEY)");
    local_ctl("occ 1", NULL, 0);
    local_refused(c, "INSERT INTO faulty VALUES (1)", "40001",
                  "change conflicts with another transaction, please retry: (OC000)");
    local_ctl("reset", NULL, 0);
    local_ctl("oc001 1", NULL, 0);
    local_refused(c, "SELECT count(*) FROM faulty", "40001",
                  "schema has been updated by another transaction, please retry: (OC001)");
    local_ctl("reset", NULL, 0);
    local_ctl("unavailable 1", NULL, 0);
    local_refused(c, "INSERT INTO faulty VALUES (2)", "XX000", "server unavailable");
    local_ctl("reset", NULL, 0);
    char buf[32];
    assert_string_equal(local_value(c, "SELECT count(*) FROM faulty", buf, sizeof buf), "0");
    /* Refused connections, once each. */
    local_ctl("refuse 53300 1", NULL, 0);
    refused_with(local_connect_as("admin", NULL, DB, NULL),
                 "FATAL:  unable to accept connection, too many open connections", NULL);
    local_ctl("refuse 53400 1", NULL, 0);
    refused_with(local_connect_as("admin", NULL, DB, NULL),
                 "FATAL:  unable to accept connection, rate exceeded", NULL);
    PGconn *d = local_connect(DB);
    /* Every session dropped at once (a restart, seen from the clients). */
    char ans[128];
    local_ctl("kill-all", ans, sizeof ans);
    assert_true(strncmp(ans, "ok ", 3) == 0 && atoi(ans + 3) >= 2);
    PGresult *r = local_exec(d, "SELECT 1");
    assert_int_not_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    PQfinish(d);
    PQfinish(c);
    c = local_connect(DB);
    local_ok(c, "DROP TABLE faulty");
    PQfinish(c);
}

/* Executions of a named prepared statement meet the same injected faults as statements
 * sent as text (a client's statement cache runs most statements that way). */
static void faults_reach_prepared_statements(void **state)
{
    (void)state;
    PGconn *c = local_connect(DB);
    local_ok(c, "CREATE TABLE faulty2 (id int PRIMARY KEY)");
    PGresult *r = PQprepare(c, "ins", "INSERT INTO faulty2 VALUES ($1)", 1, NULL);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    r = PQprepare(c, "cnt", "SELECT count(*) FROM faulty2", 0, NULL);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    const char *one[] = {"1"}, *two[] = {"2"}, *three[] = {"3"};
    r = PQexecPrepared(c, "ins", 1, one, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    struct {
        const char *ctl, *stmt, *state, *msg;
        const char *const *params;
    } cases[] = {
        {"occ 1", "ins", "40001",
         "change conflicts with another transaction, please retry: (OC000)", two},
        {"oc001 1", "cnt", "40001",
         "schema has been updated by another transaction, please retry: (OC001)", NULL},
        {"unavailable 1", "ins", "XX000", "server unavailable", three},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        local_ctl(cases[i].ctl, NULL, 0);
        r = PQexecPrepared(c, cases[i].stmt, cases[i].params ? 1 : 0, cases[i].params, NULL, NULL,
                           0);
        assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
        if (strcmp(PQresultErrorField(r, PG_DIAG_SQLSTATE), cases[i].state))
            fail_msg("%s: %s", cases[i].ctl, PQresultErrorMessage(r));
        assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), cases[i].state);
        assert_string_equal(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY), cases[i].msg);
        PQclear(r);
        local_ctl("reset", NULL, 0);
    }
    /* Nothing written by the faulted executions; the statements still work. */
    r = PQexecPrepared(c, "ins", 1, two, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    r = PQexecPrepared(c, "cnt", 0, NULL, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), "2");
    PQclear(r);
    local_ok(c, "DROP TABLE faulty2");
    PQfinish(c);
}

#define MANY 200

static void many_sessions_at_once(void **state)
{
    (void)state;
    static PGconn *conns[MANY];
    for (int i = 0; i < MANY; i++) {
        conns[i] = local_connect(DB);
    }
    char ans[256];
    local_ctl("stats", ans, sizeof ans);
    const char *open = strstr(ans, "open=");
    assert_non_null(open);
    assert_true(atoi(open + 5) >= MANY);
    char buf[32], want[32];
    for (int i = 0; i < MANY; i++) {
        snprintf(want, sizeof want, "%d", i);
        char sql[32];
        snprintf(sql, sizeof sql, "SELECT %d", i);
        assert_string_equal(local_value(conns[i], sql, buf, sizeof buf), want);
    }
    for (int i = 0; i < MANY; i++)
        PQfinish(conns[i]);
}

int main(void)
{
    if (!local_running()) {
        fprintf(stderr, "skipped: dsql-local is not running (run through make test)\n");
        return LOCAL_SKIP;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(admin_token_connects),
        cmocka_unit_test(every_wrong_token_is_refused),
        cmocka_unit_test(roles_other_than_admin),
        cmocka_unit_test(tls_and_sni_are_required),
        cmocka_unit_test(direct_tls_with_alpn),
        cmocka_unit_test(conflicting_writers_get_oc000),
        cmocka_unit_test(row_cap_counts_the_transaction),
        cmocka_unit_test(transaction_age_cap),
        cmocka_unit_test(connection_age_cap),
        cmocka_unit_test(index_jobs),
        cmocka_unit_test(cancel_requests_reach_the_backend),
        cmocka_unit_test(injected_faults),
        cmocka_unit_test(faults_reach_prepared_statements),
        cmocka_unit_test(many_sessions_at_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
