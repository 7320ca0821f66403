/* The pool: acquire/release, timeouts, FIFO fairness, release hygiene, retirement (idle,
 * lifetime), killed backends, option errors, clean close. Also run under TSan. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "conn_util.h"

static char appname[64]; /* unique per process, to find our sessions in pg_stat_activity */

static dsql_pool *open_pool(log_capture *cap, const dsql_pool_options *opts)
{
    dsql_config cfg;
    test_config(&cfg);
    cfg.application_name = appname;
    if (cap) {
        cfg.log = cap_log;
        cfg.log_ctx = cap;
    }
    dsql_pool *pool = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_pool_open(&cfg, opts, &pool, &err), err);
    dsql_config_clear(&cfg);
    return pool;
}

/* Backends of this process's pools, as the server sees them. */
static long server_sessions(void)
{
    PGconn *pg = admin_pg();
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s:libdsql/%s'",
             appname, dsql_version());
    long n = pg_long(pg, sql);
    PQfinish(pg);
    return n;
}

/* Waits (up to 5 s) until the server's count of our sessions is n. Backends exit
 * asynchronously after the client closes, so this polls instead of sleeping. */
static long wait_sessions(long n)
{
    long got = -1;
    for (int i = 0; i < 500; i++) {
        got = server_sessions();
        if (got == n)
            break;
        usleep(10000);
    }
    return got;
}

static void acquire_release_stats(void **state)
{
    (void)state;
    dsql_pool *pool = open_pool(NULL, NULL);
    dsql_error err = DSQL_ERROR_INIT;
    dsql_conn *a, *b;
    assert_dsql_ok(dsql_pool_acquire(pool, &a, &err), err);
    assert_dsql_ok(dsql_pool_acquire(pool, &b, &err), err);
    assert_ptr_not_equal(a, b);
    dsql_pool_stats st;
    dsql_pool_get_stats(pool, &st);
    assert_int_equal(st.open, 2);
    assert_int_equal(st.in_use, 2);
    assert_int_equal(st.idle, 0);
    assert_int_equal(st.connects, 2);
    assert_int_equal(st.token_mints, 0); /* password mode */
    assert_dsql_ok(dsql_conn_query(a, "SELECT 1", NULL, 0, NULL, &err), err);
    dsql_pool_release(pool, a);
    dsql_conn *again;
    assert_dsql_ok(dsql_pool_acquire(pool, &again, &err), err);
    assert_ptr_equal(again, a); /* the idle connection is reused */
    dsql_pool_release(pool, again);
    dsql_pool_release(pool, b);
    dsql_pool_get_stats(pool, &st);
    assert_int_equal(st.open, 2);
    assert_int_equal(st.idle, 2);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.acquires, 3);
    assert_int_equal(st.connects, 2);
    assert_int_equal(st.statements, 1);
    assert_int_equal(st.round_trips, 1);
    assert_int_equal(wait_sessions(2), 2);
    dsql_pool_close(pool);
    /* No connection outlives the pool. */
    assert_int_equal(wait_sessions(0), 0);
    dsql_pool_close(NULL);
    dsql_pool_release(NULL, NULL);
}

static void acquire_timeout(void **state)
{
    (void)state;
    dsql_pool_options o = {.max = 1, .acquire_timeout_ms = 200};
    dsql_pool *pool = open_pool(NULL, &o);
    dsql_error err = DSQL_ERROR_INIT;
    dsql_conn *a, *b = (dsql_conn *)&err;
    assert_dsql_ok(dsql_pool_acquire(pool, &a, &err), err);
    assert_int_equal(dsql_pool_acquire(pool, &b, &err), DSQL_ETIMEOUT);
    assert_null(b);
    assert_non_null(strstr(err.message, "no connection available within 200 ms (pool max 1"));
    dsql_pool_stats st;
    dsql_pool_get_stats(pool, &st);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.waits, 1);
    assert_int_equal(st.waiting, 0);
    dsql_pool_release(pool, a);
    assert_dsql_ok(dsql_pool_acquire(pool, &b, &err), err);
    assert_ptr_equal(a, b);
    dsql_pool_release(pool, b);
    dsql_pool_close(pool);
}

/* Waiters are served in arrival order. */
typedef struct fifo_ctx {
    dsql_pool *pool;
    int id;
    atomic_int *next_ticket;
    int ticket; /* order in which this thread got a connection */
} fifo_ctx;

static void *fifo_waiter(void *arg)
{
    fifo_ctx *c = arg;
    dsql_conn *conn;
    dsql_error err = DSQL_ERROR_INIT;
    if (dsql_pool_acquire(c->pool, &conn, &err) != DSQL_OK) {
        c->ticket = -1;
        return NULL;
    }
    c->ticket = atomic_fetch_add(c->next_ticket, 1);
    usleep(5000);
    dsql_pool_release(c->pool, conn);
    return NULL;
}

static void fifo_fairness(void **state)
{
    (void)state;
    dsql_pool_options o = {.max = 1};
    dsql_pool *pool = open_pool(NULL, &o);
    dsql_error err = DSQL_ERROR_INIT;
    dsql_conn *held;
    assert_dsql_ok(dsql_pool_acquire(pool, &held, &err), err);
    enum { N = 6 };
    pthread_t t[N];
    fifo_ctx c[N];
    atomic_int next = 0;
    for (int i = 0; i < N; i++) {
        c[i] = (fifo_ctx){.pool = pool, .id = i, .next_ticket = &next};
        pthread_create(&t[i], NULL, fifo_waiter, &c[i]);
        /* Wait until this thread is queued before starting the next. */
        for (;;) {
            dsql_pool_stats st;
            dsql_pool_get_stats(pool, &st);
            if (st.waiting == i + 1)
                break;
            usleep(1000);
        }
    }
    dsql_pool_release(pool, held);
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < N; i++)
        assert_int_equal(c[i].ticket, i);
    dsql_pool_close(pool);
}

static void release_rolls_back(void **state)
{
    (void)state;
    dsql_pool_options o = {.max = 1};
    dsql_pool *pool = open_pool(NULL, &o);
    dsql_error err = DSQL_ERROR_INIT;
    dsql_conn *c;
    assert_dsql_ok(dsql_pool_acquire(pool, &c, &err), err);
    assert_dsql_ok(dsql_conn_query(c, "BEGIN", NULL, 0, NULL, &err), err);
    assert_dsql_ok(dsql_conn_query(c, "CREATE TEMP TABLE left_open (x int)", NULL, 0, NULL, &err),
                   err);
    dsql_pool_release(pool, c);
    dsql_conn *d;
    assert_dsql_ok(dsql_pool_acquire(pool, &d, &err), err);
    assert_ptr_equal(c, d); /* same connection, clean state */
    assert_int_equal(PQtransactionStatus(dsql_conn_pg(d)), PQTRANS_IDLE);
    assert_int_equal(dsql_conn_query(d, "SELECT * FROM left_open", NULL, 0, NULL, &err),
                     DSQL_ESERVER);
    assert_string_equal(err.sqlstate, "42P01"); /* the table was rolled back */
    /* A failed transaction is rolled back too. */
    assert_dsql_ok(dsql_conn_query(d, "BEGIN", NULL, 0, NULL, &err), err);
    assert_int_equal(dsql_conn_query(d, "SELECT 1/0", NULL, 0, NULL, &err), DSQL_ESERVER);
    dsql_pool_release(pool, d);
    assert_dsql_ok(dsql_pool_acquire(pool, &d, &err), err);
    assert_int_equal(PQtransactionStatus(dsql_conn_pg(d)), PQTRANS_IDLE);
    dsql_pool_release(pool, d);
    dsql_pool_stats st;
    dsql_pool_get_stats(pool, &st);
    assert_int_equal(st.connects, 1);
    assert_int_equal(st.discards, 0);
    dsql_pool_close(pool);
}

static void bad_options(void **state)
{
    (void)state;
    static const struct {
        dsql_pool_options o;
        const char *msg;
    } cases[] = {
        {{.max = -1}, "pool option max must be 1..10000 (0 = default 5), not -1"},
        {{.max = 20000}, "pool option max must be 1..10000"},
        {{.min = -2}, "pool option min must not be negative (got -2)"},
        {{.min = 6}, "pool option min (6) is larger than max (5)"},
        {{.max = 2, .min = 3}, "pool option min (3) is larger than max (2)"},
        {{.acquire_timeout_ms = -1}, "acquire_timeout_ms must not be negative"},
        {{.idle_timeout_ms = -5}, "idle_timeout_ms must be at least 10"},
        {{.idle_timeout_ms = 3}, "idle_timeout_ms must be at least 10"},
        {{.max_lifetime_ms = 50}, "max_lifetime_ms must be 100..3599999"},
        {{.max_lifetime_ms = 3600000}, "below Aurora DSQL's 60-minute connection cap"},
        {{.max_lifetime_ms = -1}, "max_lifetime_ms must be"},
    };
    dsql_config cfg;
    test_config(&cfg);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dsql_pool *pool = (dsql_pool *)&cfg;
        dsql_error err = DSQL_ERROR_INIT;
        int rc = dsql_pool_open(&cfg, &cases[i].o, &pool, &err);
        if (rc != DSQL_EINVAL || !strstr(err.message, cases[i].msg)) {
            print_error("case %zu: %s '%s'\n", i, dsql_status_name(rc), err.message);
            fail();
        }
        assert_null(pool);
    }
    /* A config error surfaces at open. */
    dsql_pool *pool;
    dsql_error err = DSQL_ERROR_INIT;
    cfg.sslmode = "sometimes";
    assert_int_equal(dsql_pool_open(&cfg, NULL, &pool, &err), DSQL_ECONFIG);
    assert_non_null(strstr(err.message, "sslmode 'sometimes'"));
    dsql_config_clear(&cfg);
    /* An unreachable server with min > 0 fails at open, naming the cause. */
    dsql_config bad = DSQL_CONFIG_INIT;
    assert_dsql_ok(dsql_config_parse(&bad, "host=127.0.0.1 port=1 sslmode=disable", &err), err);
    dsql_pool_options o = {.min = 1, .acquire_timeout_ms = 500};
    assert_int_equal(dsql_pool_open(&bad, &o, &pool, &err), DSQL_ECONNECT);
    assert_non_null(strstr(err.message, "opening the pool's 1 minimum connections: could not "
                                        "connect to 127.0.0.1:1"));
    dsql_config_clear(&bad);
}

static int setup(void **state)
{
    (void)state;
    snprintf(appname, sizeof appname, "pooltest%d", (int)getpid());
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(acquire_release_stats), cmocka_unit_test(acquire_timeout),
        cmocka_unit_test(fifo_fairness),         cmocka_unit_test(release_rolls_back),
        cmocka_unit_test(bad_options),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
