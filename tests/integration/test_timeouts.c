/*
 * Nothing waits forever. A proxy in front of the throwaway server stalls a connection
 * (alive, silent) when the client sends a marker, accepts connections it never answers,
 * or stops listening as a restarting server does. Each call must end within its bound:
 * query_timeout_ms for a round trip, the pool's acquire timeout for a connect, at once for
 * the mistake of acquiring from the pool inside a transaction body on that pool.
 * Every call runs in a watchdog thread: on the old code they blocked forever (or for the
 * whole connect_timeout), which fails the test instead of hanging it.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "testutil.h"

#include "conn_util.h"
#include "proxy.h"

#define MARK "stall-here"

static char table[64];

static int setup(void **state)
{
    (void)state;
    snprintf(table, sizeof table, "timeouts_%d", (int)getpid());
    admin_exec("DROP TABLE IF EXISTS %s; CREATE TABLE %s (id int PRIMARY KEY)", table, table);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    admin_exec("DROP TABLE IF EXISTS %s", table);
    return 0;
}

/* ---- a call with a watchdog ---- */

typedef struct call {
    int (*fn)(struct call *c);
    void *a, *b; /* the call's handles */
    const char *sql;
    int rc, attempts;
    dsql_error err;
    int64_t ms; /* how long it took */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
} call;

static void *call_main(void *arg)
{
    call *c = arg;
    int64_t t0 = tu_mono_ms();
    int rc = c->fn(c);
    pthread_mutex_lock(&c->mu);
    c->rc = rc;
    c->ms = tu_mono_ms() - t0;
    c->done = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* Runs c->fn in a thread and fails the test if it has not returned within limit_ms (the
 * thread is left behind: the process ends with the failed test). */
static void run_bounded(call *c, int64_t limit_ms)
{
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->done = false;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, call_main, c), 0);
    int64_t deadline = tu_mono_ms() + limit_ms;
    pthread_mutex_lock(&c->mu);
    while (!c->done && tu_mono_ms() < deadline) {
        pthread_mutex_unlock(&c->mu);
        tu_sleep_ms(10);
        pthread_mutex_lock(&c->mu);
    }
    bool done = c->done;
    pthread_mutex_unlock(&c->mu);
    if (!done) {
        print_error("the call did not return within %lld ms\n", (long long)limit_ms);
        fail();
    }
    pthread_join(t, NULL);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
}

static int do_conn_query(call *c)
{
    return dsql_conn_query(c->a, c->sql, NULL, 0, NULL, &c->err);
}

static int body_with_marker(dsql_conn *conn, void *ctx, dsql_error *err)
{
    call *c = ctx;
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT INTO %s VALUES (1)", table);
    int rc = dsql_conn_query(conn, sql, NULL, 0, NULL, err);
    if (rc == DSQL_OK && c->sql)
        rc = dsql_conn_query(conn, c->sql, NULL, 0, NULL, err);
    return rc;
}

static int do_transaction(call *c)
{
    return dsql_transaction(c->a, body_with_marker, c, NULL, &c->attempts, &c->err);
}

static int do_acquire(call *c)
{
    dsql_conn *conn = NULL;
    int rc = dsql_pool_acquire(c->a, &conn, &c->err);
    if (rc == DSQL_OK)
        dsql_pool_release(c->a, conn);
    return rc;
}

static proxy *start_proxy(const char *stall_on)
{
    proxy *p = calloc(1, sizeof *p);
    assert_non_null(p);
    p->stall_on = stall_on;
    assert_true(proxy_start(p, atoi(tu_env("PGPORT"))));
    return p;
}

static void stop_proxy(proxy *p)
{
    proxy_stop(p);
    free(p);
}

static void assert_took(const call *c, int64_t lo_ms, int64_t hi_ms)
{
    if (c->ms < lo_ms || c->ms > hi_ms) {
        print_error("took %lld ms, expected %lld..%lld\n", (long long)c->ms, (long long)lo_ms,
                    (long long)hi_ms);
        fail();
    }
}

/* ---- a stalled link ---- */

static void stalled_read_times_out(void **state)
{
    (void)state;
    proxy *px = start_proxy(MARK);
    dsql_conn *conn = TEST_CONN(.port = px->port, .sslmode = "disable", .query_timeout_ms = 500);
    call c = {.fn = do_conn_query, .a = conn, .sql = "SELECT '" MARK "'"};
    run_bounded(&c, 10000);
    assert_int_equal(c.rc, DSQL_ETIMEOUT);
    assert_int_equal(c.err.status, DSQL_ETIMEOUT);
    assert_non_null(strstr(c.err.message, "no answer from the server within 500 ms while waiting "
                                          "for a result (query_timeout_ms)"));
    assert_took(&c, 450, 5000);
    assert_int_equal(atomic_load(&px->stalls), 1);
    assert_false(dsql_conn_ok(conn)); /* never used again */
    assert_int_equal(dsql_conn_query(conn, "SELECT 1", NULL, 0, NULL, &c.err), DSQL_ECONNLOST);
    dsql_conn_close(conn);
    stop_proxy(px);
}

static void stalled_autocommit_write_is_unknown_outcome(void **state)
{
    (void)state;
    proxy *px = start_proxy(MARK);
    dsql_conn *conn = TEST_CONN(.port = px->port, .sslmode = "disable", .query_timeout_ms = 400);
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT INTO %s VALUES (7) /* " MARK " */", table);
    call c = {.fn = do_conn_query, .a = conn, .sql = sql};
    run_bounded(&c, 10000);
    assert_int_equal(c.rc, DSQL_EUNKNOWN_OUTCOME);
    assert_non_null(strstr(c.err.message, "no answer in time while an autocommit statement that "
                                          "writes was in flight: it may or may not have been "
                                          "applied"));
    dsql_conn_close(conn);
    stop_proxy(px);
}

static void stalled_commit_is_unknown_outcome(void **state)
{
    (void)state;
    proxy *px = start_proxy("COMMIT");
    dsql_pool *pool = TEST_POOL(.port = px->port, .sslmode = "disable", .query_timeout_ms = 400);
    call c = {.fn = do_transaction, .a = pool};
    run_bounded(&c, 10000);
    assert_int_equal(c.rc, DSQL_EUNKNOWN_OUTCOME);
    assert_int_equal(c.attempts, 1); /* never retried */
    assert_non_null(strstr(c.err.message, "no answer to COMMIT in time: the transaction may or "
                                          "may not have committed"));
    assert_took(&c, 350, 5000);
    dsql_pool_close(pool);
    stop_proxy(px);
}

static void stalled_body_times_out_without_retry(void **state)
{
    (void)state;
    admin_exec("DELETE FROM %s", table);
    proxy *px = start_proxy(MARK);
    dsql_pool *pool = TEST_POOL(.port = px->port, .sslmode = "disable", .query_timeout_ms = 400);
    call c = {.fn = do_transaction, .a = pool, .sql = "SELECT '" MARK "'"};
    run_bounded(&c, 10000);
    assert_int_equal(c.rc, DSQL_ETIMEOUT);
    assert_int_equal(c.attempts, 1);
    dsql_pool_stats st;
    dsql_pool_get_stats(pool, &st);
    assert_int_equal(st.open, 0); /* the stalled connection was discarded, not pooled */
    assert_int_equal(st.discards, 1);
    dsql_pool_close(pool);
    stop_proxy(px);
    /* COMMIT was never sent: nothing of the transaction is there. */
    assert_int_equal(admin_long("SELECT count(*) FROM %s", table), 0);
}

static int do_pipeline(call *c)
{
    dsql_stmt s[] = {{"SELECT 1", NULL, 0}, {c->sql, NULL, 0}};
    return dsql_pipeline_tx((dsql_db *)c->a, s, 2, NULL, NULL, &c->err);
}

static void stalled_pipeline_is_unknown_outcome(void **state)
{
    (void)state;
    proxy *px = start_proxy(MARK);
    dsql_pool *pool = TEST_POOL(.port = px->port, .sslmode = "disable", .query_timeout_ms = 400);
    call c = {.fn = do_pipeline, .a = pool, .sql = "SELECT '" MARK "'"};
    run_bounded(&c, 10000);
    assert_int_equal(c.rc, DSQL_EUNKNOWN_OUTCOME);
    assert_non_null(strstr(c.err.message, "no answer in time during a pipelined transaction"));
    dsql_pool_close(pool);
    stop_proxy(px);
}

/* ---- a statement the server is still running when the deadline passes ---- */

#define SLEEPER "SELECT pg_sleep(30) /* cancel-me */"

static int do_sleep(call *c)
{
    return dsql_conn_query(c->a, SLEEPER, NULL, 0, NULL, &c->err);
}

/* Backends running the sleeper, as the server sees them. */
static long running_sleepers(void)
{
    return admin_long("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query "
                      "LIKE '" SLEEPER "%%'");
}

/* The server stops the statement soon after the deadline (it would otherwise sleep on for
 * 30 s: PostgreSQL notices a vanished client only when it next writes to it). Through the
 * local DSQL endpoint too, which relays the cancel request to the backend. */
static void timed_out_statement_is_cancelled(void **state)
{
    (void)state;
    for (int via_endpoint = 0; via_endpoint <= (int)test_through_dsql_local(); via_endpoint++) {
        log_capture cap;
        cap_init(&cap);
        dsql_conn *conn = TEST_CONN(.plain = !via_endpoint, .query_timeout_ms = 300, .logs = &cap);
        call c = {.fn = do_sleep, .a = conn};
        run_bounded(&c, 10000);
        assert_int_equal(c.rc, DSQL_ETIMEOUT);
        assert_took(&c, 250, 5000);
        int64_t t0 = tu_mono_ms();
        long running;
        while ((running = running_sleepers()) != 0 && tu_mono_ms() - t0 < 5000)
            tu_sleep_ms(50);
        assert_int_equal(running, 0);
        assert_true(cap_has(&cap, "No answer within 300 ms: asked the server to cancel the "
                                  "statement; the connection is closed"));
        dsql_conn_close(conn);
        cap_free(&cap);
    }
}

/* DDL and CALL may take long by design (an index built on PostgreSQL, CALL
 * sys.wait_for_job waiting for an Aurora DSQL index build, which the model layer's sync
 * runs): their round trips are bounded by 330 s at least, whatever query_timeout_ms says.
 * Other statements keep query_timeout_ms. (Before, every DDL statement or CALL that took
 * longer than query_timeout_ms failed with DSQL_ETIMEOUT and lost its connection.) */
static void ddl_and_call_get_the_long_bound(void **state)
{
    (void)state;
    admin_exec("CREATE OR REPLACE PROCEDURE %s_wait() LANGUAGE plpgsql AS $p$ BEGIN PERFORM "
               "pg_sleep(0.8); END $p$",
               table);
    dsql_conn *conn = TEST_CONN(.plain = true, .query_timeout_ms = 300);
    dsql_error err;
    char sql[160];
    snprintf(sql, sizeof sql, "CREATE TABLE %s_slow AS SELECT pg_sleep(0.8)::text AS s", table);
    assert_dsql_ok(dsql_conn_query(conn, sql, NULL, 0, NULL, &err), err);
    snprintf(sql, sizeof sql, " /* c */ call %s_wait()", table);
    assert_dsql_ok(dsql_conn_query(conn, sql, NULL, 0, NULL, &err), err);
    /* A pipeline holding one DDL statement: the whole round trip gets the long bound. */
    snprintf(sql, sizeof sql, "DROP TABLE %s_slow", table);
    dsql_stmt s[] = {{"SELECT pg_sleep(0.8)", NULL, 0}, {sql, NULL, 0}};
    assert_dsql_ok(dsql_conn_pipeline(conn, s, 2, NULL, &err), err);
    /* Anything else keeps query_timeout_ms. */
    assert_int_equal(dsql_conn_query(conn, "SELECT pg_sleep(0.8)", NULL, 0, NULL, &err),
                     DSQL_ETIMEOUT);
    assert_non_null(strstr(err.message, "no answer from the server within 300 ms while waiting "
                                        "for a result (query_timeout_ms); the connection was "
                                        "closed"));
    dsql_conn_close(conn);
    admin_exec("DROP PROCEDURE %s_wait(); DROP TABLE IF EXISTS %s_slow", table, table);
}

/* A pipeline far larger than the socket buffers, on a link that stalls at its first
 * statement: the send itself cannot finish. */
enum { BIG_STMTS = 24, BIG_PARAM = 1 << 20 };

static int do_big_pipeline(call *c)
{
    char *text = malloc(BIG_PARAM + 1);
    assert_non_null(text);
    memset(text, 'x', BIG_PARAM);
    text[BIG_PARAM] = '\0';
    dsql_value p = DSQL_STR(text);
    dsql_stmt s[BIG_STMTS];
    s[0] = (dsql_stmt){"SELECT '" MARK "'", NULL, 0};
    for (int i = 1; i < BIG_STMTS; i++)
        s[i] = (dsql_stmt){"SELECT length($1)", &p, 1};
    int rc = dsql_conn_pipeline(c->a, s, BIG_STMTS, NULL, &c->err);
    free(text);
    return rc;
}

static void stalled_send_times_out(void **state)
{
    (void)state;
    proxy *px = start_proxy(MARK);
    dsql_conn *conn = TEST_CONN(.port = px->port, .sslmode = "disable", .query_timeout_ms = 500);
    call c = {.fn = do_big_pipeline, .a = conn};
    run_bounded(&c, 15000);
    assert_int_equal(c.rc, DSQL_ETIMEOUT);
    assert_non_null(strstr(c.err.message, "no answer from the server within 500 ms while sending "
                                          "(query_timeout_ms)"));
    assert_took(&c, 450, 10000);
    assert_false(dsql_conn_ok(conn));
    dsql_conn_close(conn);
    stop_proxy(px);
}

/* A peer that vanishes is noticed even while nothing is sent: TCP keepalives after 30 s
 * idle, every 10 s, 3 misses; data unacknowledged for 30 s drops the connection. */
static void sockets_carry_keepalives(void **state)
{
    (void)state;
    for (int via_endpoint = 0; via_endpoint <= (int)test_through_dsql_local(); via_endpoint++) {
        dsql_conn *conn = TEST_CONN(.plain = !via_endpoint);
        int fd = PQsocket(dsql_conn_pg(conn));
        assert_true(fd >= 0);
        static const struct {
            int level, name, want;
            const char *what;
        } opts[] = {
            {SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE"},
            {IPPROTO_TCP, TCP_KEEPIDLE, 30, "TCP_KEEPIDLE"},
            {IPPROTO_TCP, TCP_KEEPINTVL, 10, "TCP_KEEPINTVL"},
            {IPPROTO_TCP, TCP_KEEPCNT, 3, "TCP_KEEPCNT"},
            {IPPROTO_TCP, TCP_USER_TIMEOUT, 30000, "TCP_USER_TIMEOUT"},
        };
        for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
            int v = -1;
            socklen_t len = sizeof v;
            assert_int_equal(getsockopt(fd, opts[i].level, opts[i].name, &v, &len), 0);
            if (v != opts[i].want) {
                print_error("%s is %d, expected %d\n", opts[i].what, v, opts[i].want);
                fail();
            }
        }
        dsql_conn_close(conn);
    }
}

/* ---- connects ---- */

static void acquire_timeout_bounds_connect(void **state)
{
    (void)state;
    proxy *px = start_proxy(NULL);
    atomic_store(&px->hold_new, true); /* accepts, never answers */
    dsql_pool_options o = {.acquire_timeout_ms = 800};
    dsql_config cfg;
    test_spec_config(&(test_spec){.port = px->port, .sslmode = "disable"}, &cfg);
    assert_int_equal(cfg.connect_timeout_s, 0); /* the default, 10 s */
    dsql_pool *pool = NULL;
    dsql_error err;
    assert_dsql_ok(dsql_pool_open(&cfg, &o, &pool, &err), err);
    dsql_config_clear(&cfg);
    call c = {.fn = do_acquire, .a = pool};
    run_bounded(&c, 8000);
    assert_int_equal(c.rc, DSQL_ETIMEOUT);
    /* The time left is 800 ms less what the acquire spent before connecting (a few ms on
     * a loaded machine), so the number is not pinned. */
    assert_non_null(strstr(c.err.message, "as postgres: no answer within "));
    assert_non_null(strstr(c.err.message, " ms (the time left of the pool's acquire timeout); "
                                          "the server or the network is not responding"));
    assert_took(&c, 700, 4000);
    dsql_pool_close(pool);
    stop_proxy(px);
}

static int do_connect(call *c)
{
    dsql_conn *conn = NULL;
    int rc = dsql_conn_open(c->a, &conn, &c->err);
    dsql_conn_close(conn);
    return rc;
}

static void connect_timeout_bounds_connect(void **state)
{
    (void)state;
    proxy *px = start_proxy(NULL);
    atomic_store(&px->hold_new, true);
    dsql_config cfg;
    test_spec_config(&(test_spec){.port = px->port, .sslmode = "disable", .connect_timeout_s = 1},
                     &cfg);
    call c = {.fn = do_connect, .a = &cfg};
    run_bounded(&c, 8000);
    assert_int_equal(c.rc, DSQL_ETIMEOUT);
    assert_non_null(strstr(c.err.message, "no answer within 1000 ms (connect_timeout)"));
    assert_took(&c, 900, 5000);
    dsql_config_clear(&cfg);
    stop_proxy(px);
}

static void shutting_down_refusals_are_waited_out(void **state)
{
    (void)state;
    proxy *px = calloc(1, sizeof *px);
    assert_non_null(px);
    px->reject[0] = (px_reject){"57P03", "the database system is shutting down", NULL};
    px->reject[1] = px->reject[0];
    px->nreject = 2;
    assert_true(proxy_start(px, atoi(tu_env("PGPORT"))));
    dsql_config cfg;
    test_spec_config(&(test_spec){.port = px->port, .sslmode = "disable"}, &cfg);
    call c = {.fn = do_connect, .a = &cfg};
    run_bounded(&c, 8000);
    assert_dsql_ok(c.rc, c.err);
    assert_int_equal(atomic_load(&px->accepted), 3);
    dsql_config_clear(&cfg);
    stop_proxy(px);
}

static void *listen_again(void *arg)
{
    proxy *px = arg;
    tu_sleep_ms(700);
    atomic_store(&px->refuse, false);
    return NULL;
}

static void pool_waits_out_a_restart(void **state)
{
    (void)state;
    proxy *px = start_proxy(NULL);
    dsql_pool_options o = {.acquire_timeout_ms = 8000};
    dsql_pool *pool = TEST_POOL(.port = px->port, .sslmode = "disable", .options = &o);
    call c = {.fn = do_acquire, .a = pool};
    run_bounded(&c, 8000);
    assert_dsql_ok(c.rc, c.err);
    /* The server goes away: its connections drop, nobody listens for a while. */
    atomic_store(&px->refuse, true);
    tu_sleep_ms(200);
    pthread_t t;
    pthread_create(&t, NULL, listen_again, px);
    run_bounded(&c, 8000);
    pthread_join(t, NULL);
    assert_dsql_ok(c.rc, c.err);
    assert_took(&c, 400, 7000);
    dsql_pool_stats st;
    dsql_pool_get_stats(pool, &st);
    assert_int_equal(st.connects, 2);
    assert_true(st.failures >= 1);
    dsql_pool_close(pool);
    stop_proxy(px);
}

static void first_refusal_fails_at_once(void **state)
{
    (void)state;
    proxy *px = start_proxy(NULL);
    atomic_store(&px->refuse, true);
    tu_sleep_ms(150);
    dsql_pool_options o = {.acquire_timeout_ms = 8000};
    dsql_config cfg;
    test_spec_config(&(test_spec){.port = px->port, .sslmode = "disable"}, &cfg);
    dsql_pool *pool = NULL;
    dsql_error err;
    assert_dsql_ok(dsql_pool_open(&cfg, &o, &pool, &err), err);
    dsql_config_clear(&cfg);
    call c = {.fn = do_acquire, .a = pool};
    run_bounded(&c, 8000);
    /* Never connected: a wrong port is reported at once, not after 8 s. */
    assert_int_equal(c.rc, DSQL_ECONNECT);
    assert_took(&c, 0, 2000);
    dsql_pool_close(pool);
    stop_proxy(px);
}

/* ---- the pool passed where the body's connection belongs ---- */

static int body_uses_pool(dsql_conn *conn, void *ctx, dsql_error *err)
{
    (void)conn;
    call *c = ctx;
    return dsql_pool_query(c->b, "SELECT 1", NULL, 0, NULL, NULL, err);
}

static int do_misuse(call *c)
{
    return dsql_transaction(c->a, body_uses_pool, c, NULL, &c->attempts, &c->err);
}

static void nested_acquire_is_misuse(void **state)
{
    (void)state;
    dsql_pool_options o = {.max = 1, .acquire_timeout_ms = 3000};
    dsql_pool *pool = TEST_POOL(.options = &o);
    call c = {.fn = do_misuse, .a = pool, .b = pool};
    run_bounded(&c, 10000);
    assert_int_equal(c.rc, DSQL_EMISUSE);
    assert_int_equal(c.attempts, 1);
    assert_non_null(strstr(c.err.message, "inside a transaction body running on the same pool "
                                          "(was the pool passed where the body's dsql_conn "
                                          "belongs?)"));
    assert_took(&c, 0, 1500);
    /* Outside a body the same call is fine, and another thread may use the pool. */
    assert_int_equal(dsql_pool_query(pool, "SELECT 1", NULL, 0, NULL, NULL, &c.err), DSQL_OK);
    dsql_pool_close(pool);
}

static int do_conn_misuse(call *c)
{
    return dsql_conn_transaction(c->a, body_uses_pool, c, NULL, &c->attempts, &c->err);
}

/* The same mistake in dsql_conn_transaction on a connection the program acquired from the
 * pool (before: a wait for the whole acquire timeout, then a timeout). */
static void nested_acquire_on_pooled_connection_is_misuse(void **state)
{
    (void)state;
    dsql_pool_options o = {.max = 1, .acquire_timeout_ms = 3000};
    dsql_pool *pool = TEST_POOL(.options = &o);
    dsql_conn *conn = NULL;
    dsql_error err;
    assert_dsql_ok(dsql_pool_acquire(pool, &conn, &err), err);
    call c = {.fn = do_conn_misuse, .a = conn, .b = pool};
    run_bounded(&c, 10000);
    assert_int_equal(c.rc, DSQL_EMISUSE);
    assert_int_equal(c.attempts, 1);
    assert_non_null(strstr(c.err.message, "(was the pool passed where the body's dsql_conn "
                                          "belongs?)"));
    assert_took(&c, 0, 1500);
    dsql_pool_release(pool, conn);
    dsql_pool_close(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stalled_read_times_out),
        cmocka_unit_test(stalled_autocommit_write_is_unknown_outcome),
        cmocka_unit_test(stalled_commit_is_unknown_outcome),
        cmocka_unit_test(stalled_body_times_out_without_retry),
        cmocka_unit_test(stalled_pipeline_is_unknown_outcome),
        cmocka_unit_test(stalled_send_times_out),
        cmocka_unit_test(timed_out_statement_is_cancelled),
        cmocka_unit_test(ddl_and_call_get_the_long_bound),
        cmocka_unit_test(sockets_carry_keepalives),
        cmocka_unit_test(acquire_timeout_bounds_connect),
        cmocka_unit_test(connect_timeout_bounds_connect),
        cmocka_unit_test(shutting_down_refusals_are_waited_out),
        cmocka_unit_test(pool_waits_out_a_restart),
        cmocka_unit_test(first_refusal_fails_at_once),
        cmocka_unit_test(nested_acquire_is_misuse),
        cmocka_unit_test(nested_acquire_on_pooled_connection_is_misuse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
