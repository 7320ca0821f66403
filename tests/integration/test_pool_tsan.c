/* The pool: acquire/release, timeouts, FIFO fairness, release hygiene, retirement (idle,
 * lifetime), killed backends, option errors, clean close. Also run under TSan. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Plain PostgreSQL even under dsql-local: the test uses temporary tables and backends killed behind
 * the pool's back. */
#define DSQL_TEST_PLAIN 1
#include "testutil.h"

#include "conn_util.h"

static char appname[64]; /* unique per process, to find our sessions in pg_stat_activity */

static dsql_pool *open_pool(log_capture *cap, const dsql_pool_options *opts)
{
    return TEST_POOL(.application_name = appname, .logs = cap, .options = opts);
}

/* Backends of this process's pools, as the server sees them. */
static long server_sessions(void)
{
    return admin_long(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s:libdsql/%s'", appname,
        dsql_version());
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

/* Polls the pool's statistics until pred holds (up to 5 s); returns whether it did. */
typedef bool (*stats_pred)(const dsql_pool_stats *st, long arg);
static bool wait_stats(dsql_pool *pool, stats_pred pred, long arg, dsql_pool_stats *out)
{
    for (int i = 0; i < 500; i++) {
        dsql_pool_get_stats(pool, out);
        if (pred(out, arg))
            return true;
        usleep(10000);
    }
    return false;
}

static bool waiting_is(const dsql_pool_stats *st, long n)
{
    return st->waiting == n;
}

/* A pool of at most one connection, and that connection, acquired. */
static dsql_pool *pool_of_one_held(dsql_conn **held)
{
    dsql_pool_options o = {.max = 1};
    dsql_pool *pool = open_pool(NULL, &o);
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_pool_acquire(pool, held, &err), err);
    return pool;
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
    dsql_conn *held;
    dsql_pool *pool = pool_of_one_held(&held);
    enum { N = 6 };
    pthread_t t[N];
    fifo_ctx c[N];
    atomic_int next = 0;
    for (int i = 0; i < N; i++) {
        c[i] = (fifo_ctx){.pool = pool, .id = i, .next_ticket = &next};
        pthread_create(&t[i], NULL, fifo_waiter, &c[i]);
        /* Wait until this thread is queued before starting the next. */
        dsql_pool_stats st;
        assert_true(wait_stats(pool, waiting_is, i + 1, &st));
    }
    dsql_pool_release(pool, held);
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < N; i++)
        assert_int_equal(c[i].ticket, i);
    dsql_pool_close(pool);
}

/* A thread gets back the idle connection it used last, not merely the most recently
 * released one: the helper releases its connection, the main thread releases another
 * after it (on top of the idle list), and the helper's next acquire still gets its own.
 * A thread with no connection of its own idle gets the most recently used one. */
typedef struct affinity_ctx {
    dsql_pool *pool;
    pthread_barrier_t step;
    dsql_conn *first, *second;
    int rc;
} affinity_ctx;

static void *affinity_helper(void *arg)
{
    affinity_ctx *a = arg;
    dsql_error err = DSQL_ERROR_INIT;
    a->rc = dsql_pool_acquire(a->pool, &a->first, &err);
    if (a->rc == DSQL_OK)
        dsql_pool_release(a->pool, a->first);
    pthread_barrier_wait(&a->step); /* 1: the helper's connection is idle */
    pthread_barrier_wait(&a->step); /* 2: the main thread's is idle too, on top */
    if (a->rc == DSQL_OK)
        a->rc = dsql_pool_acquire(a->pool, &a->second, &err);
    if (a->rc == DSQL_OK)
        dsql_pool_release(a->pool, a->second);
    pthread_barrier_wait(&a->step); /* 3: done */
    /* 4: alive until the newcomer has run (a new thread may reuse an exited one's
     * thread-local storage, and with it its claim on a connection) */
    pthread_barrier_wait(&a->step);
    return NULL;
}

static void *affinity_newcomer(void *arg)
{
    affinity_ctx *a = arg;
    dsql_error err = DSQL_ERROR_INIT;
    a->rc = dsql_pool_acquire(a->pool, &a->first, &err);
    if (a->rc == DSQL_OK)
        dsql_pool_release(a->pool, a->first);
    return NULL;
}

static void thread_gets_its_connection_back(void **state)
{
    (void)state;
    dsql_pool_options o = {.max = 3};
    dsql_pool *pool = open_pool(NULL, &o);
    dsql_error err = DSQL_ERROR_INIT;
    dsql_conn *mine;
    assert_dsql_ok(dsql_pool_acquire(pool, &mine, &err), err);
    /* Static: should an assertion fail, the helper may still be waiting on the barrier. */
    static affinity_ctx a;
    a = (affinity_ctx){.pool = pool};
    pthread_barrier_init(&a.step, NULL, 2);
    pthread_t t;
    pthread_create(&t, NULL, affinity_helper, &a);
    pthread_barrier_wait(&a.step);
    dsql_pool_release(pool, mine); /* now the most recently used */
    pthread_barrier_wait(&a.step);
    pthread_barrier_wait(&a.step);
    assert_int_equal(a.rc, DSQL_OK);
    assert_ptr_not_equal(a.first, mine);
    assert_ptr_equal(a.second, a.first);
    /* The main thread's own comes back to it too, whatever was released since. */
    dsql_conn *again;
    assert_dsql_ok(dsql_pool_acquire(pool, &again, &err), err);
    assert_ptr_equal(again, mine);
    dsql_pool_release(pool, again);
    /* A newcomer takes the most recently used (the main thread's): LIFO otherwise. */
    affinity_ctx b = {.pool = pool};
    pthread_t n;
    pthread_create(&n, NULL, affinity_newcomer, &b);
    pthread_join(n, NULL);
    pthread_barrier_wait(&a.step);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&a.step);
    assert_int_equal(b.rc, DSQL_OK);
    assert_ptr_equal(b.first, mine);
    dsql_pool_stats st;
    dsql_pool_get_stats(pool, &st);
    assert_int_equal(st.connects, 2);
    assert_int_equal(st.acquires, 5);
    assert_int_equal(st.waits, 0);
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

/* The backend pid behind a connection. */
static long backend_pid(dsql_conn *c)
{
    return (long)PQbackendPID(dsql_conn_pg(c));
}

static bool open_is(const dsql_pool_stats *st, long n)
{
    return st->open == n && st->in_use == 0;
}

static void idle_retire(void **state)
{
    (void)state;
    log_capture cap;
    cap_init(&cap);
    dsql_pool_options o = {.max = 3, .min = 1, .idle_timeout_ms = 100};
    dsql_pool *pool = open_pool(&cap, &o);
    dsql_error err = DSQL_ERROR_INIT;
    dsql_conn *c[3];
    for (int i = 0; i < 3; i++)
        assert_dsql_ok(dsql_pool_acquire(pool, &c[i], &err), err);
    for (int i = 0; i < 3; i++)
        dsql_pool_release(pool, c[i]);
    dsql_pool_stats st;
    /* Idle connections above min are closed; min stays open. */
    assert_true(wait_stats(pool, open_is, 1, &st));
    assert_int_equal(st.idle, 1);
    assert_int_equal(st.retires, 2);
    assert_int_equal(wait_sessions(1), 1);
    assert_int_equal(cap_count(&cap, "Retired connection to "), 2);
    assert_true(cap_has(&cap, "(idle "));
    dsql_pool_close(pool);
    assert_int_equal(wait_sessions(0), 0);
    cap_free(&cap);
}

static bool retired_at_least(const dsql_pool_stats *st, long n)
{
    return (long)st->retires >= n && st->open >= 1;
}

static void lifetime_retire(void **state)
{
    (void)state;
    log_capture cap;
    cap_init(&cap);
    dsql_pool_options o = {.max = 2, .min = 1, .max_lifetime_ms = 300};
    dsql_pool *pool = open_pool(&cap, &o);
    dsql_error err = DSQL_ERROR_INIT;
    dsql_conn *c;
    assert_dsql_ok(dsql_pool_acquire(pool, &c, &err), err);
    long first = backend_pid(c);
    /* Held past its lifetime: closed when released, never lent again. */
    usleep(400000);
    dsql_pool_release(pool, c);
    dsql_pool_stats st;
    assert_true(wait_stats(pool, retired_at_least, 1, &st));
    assert_dsql_ok(dsql_pool_acquire(pool, &c, &err), err);
    long second = backend_pid(c);
    assert_true(second != first);
    dsql_pool_release(pool, c);
    /* An idle connection past its lifetime is retired by the pool and min refilled. */
    assert_true(wait_stats(pool, retired_at_least, 2, &st));
    assert_dsql_ok(dsql_pool_acquire(pool, &c, &err), err);
    assert_true(backend_pid(c) != second);
    dsql_pool_release(pool, c);
    assert_true(cap_has(&cap, "(lifetime reached, age "));
    dsql_pool_close(pool);
    assert_int_equal(wait_sessions(0), 0);
    cap_free(&cap);
}

static void terminate_our_backends(void)
{
    admin_long("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
               "application_name = '%s:libdsql/%s'",
               appname, dsql_version());
}

static bool discarded(const dsql_pool_stats *st, long n)
{
    return (long)st->discards >= n && st->open == 2 && st->idle == 2;
}

static void killed_backend_never_lent(void **state)
{
    (void)state;
    dsql_pool_options o = {.max = 2, .min = 2};
    dsql_pool *pool = open_pool(NULL, &o);
    dsql_error err = DSQL_ERROR_INIT;
    dsql_conn *a, *b;
    assert_dsql_ok(dsql_pool_acquire(pool, &a, &err), err);
    assert_dsql_ok(dsql_pool_acquire(pool, &b, &err), err);
    long pa = backend_pid(a), pb = backend_pid(b);
    dsql_pool_release(pool, a);
    dsql_pool_release(pool, b);
    terminate_our_backends();
    /* The pool notices, drops both and refills to min, with no acquire needed. */
    dsql_pool_stats st;
    assert_true(wait_stats(pool, discarded, 2, &st));
    assert_int_equal(wait_sessions(2), 2);
    for (int round = 0; round < 2; round++) {
        assert_dsql_ok(dsql_pool_acquire(pool, &a, &err), err);
        assert_dsql_ok(dsql_pool_acquire(pool, &b, &err), err);
        assert_true(backend_pid(a) != pa && backend_pid(a) != pb);
        assert_true(backend_pid(b) != pa && backend_pid(b) != pb);
        assert_dsql_ok(dsql_conn_query(a, "SELECT 1", NULL, 0, NULL, &err), err);
        assert_dsql_ok(dsql_conn_query(b, "SELECT 1", NULL, 0, NULL, &err), err);
        pa = backend_pid(a);
        pb = backend_pid(b);
        if (round == 0) {
            /* Killed while lent out: the statement fails, the release drops it. */
            terminate_our_backends();
            usleep(50000);
            assert_int_equal(dsql_conn_query(a, "SELECT 1", NULL, 0, NULL, &err), DSQL_ECONNLOST);
            assert_false(dsql_conn_ok(a));
        }
        dsql_pool_release(pool, a);
        dsql_pool_release(pool, b);
        if (round == 0)
            assert_true(wait_stats(pool, discarded, 4, &st));
    }
    dsql_pool_close(pool);
    assert_int_equal(wait_sessions(0), 0);
}

typedef struct closer {
    dsql_pool *pool;
    atomic_int done;
} closer;

static void *close_pool(void *arg)
{
    closer *c = arg;
    dsql_pool_close(c->pool);
    atomic_store(&c->done, 1);
    return NULL;
}

typedef struct acq {
    dsql_pool *pool;
    int rc;
    dsql_error err;
} acq;

static void *acquire_one(void *arg)
{
    acq *a = arg;
    dsql_conn *c = NULL;
    a->rc = dsql_pool_acquire(a->pool, &c, &a->err);
    if (a->rc == DSQL_OK)
        dsql_pool_release(a->pool, c);
    return NULL;
}

static void close_cancels_waiters_and_waits_for_users(void **state)
{
    (void)state;
    dsql_conn *held;
    dsql_pool *pool = pool_of_one_held(&held);
    dsql_error err = DSQL_ERROR_INIT;
    acq w = {.pool = pool};
    pthread_t tw, tc;
    pthread_create(&tw, NULL, acquire_one, &w);
    dsql_pool_stats st;
    assert_true(wait_stats(pool, waiting_is, 1, &st));
    closer cl = {.pool = pool};
    pthread_create(&tc, NULL, close_pool, &cl);
    pthread_join(tw, NULL); /* the waiter gives up at once */
    assert_int_equal(w.rc, DSQL_ECLOSED);
    assert_string_equal(w.err.message, "dsql_pool_acquire: the pool was closed while waiting");
    usleep(50000);
    assert_int_equal(atomic_load(&cl.done), 0); /* still waiting for `held` */
    assert_dsql_ok(dsql_conn_query(held, "SELECT 1", NULL, 0, NULL, &err), err);
    dsql_pool_release(pool, held);
    pthread_join(tc, NULL);
    assert_int_equal(atomic_load(&cl.done), 1);
    assert_int_equal(wait_sessions(0), 0);
}

/* ---- a server restart under load, on a private server (others' tests keep theirs) ---- */

typedef struct load {
    dsql_pool *pool;
    atomic_bool stop;
    atomic_long ok, failed, unknown, ok_after_restart;
    atomic_bool restarted;
} load;

static int bump(dsql_conn *conn, void *ctx, dsql_error *err)
{
    (void)ctx;
    return dsql_conn_query(conn, "UPDATE restart_load SET n = n + 1", NULL, 0, NULL, err);
}

static void *load_worker(void *arg)
{
    load *l = arg;
    dsql_retry_policy policy = {.max_retries = 5, .base_delay_ms = 5, .max_delay_ms = 50};
    while (!atomic_load(&l->stop)) {
        dsql_error err;
        int rc = dsql_transaction(l->pool, bump, NULL, &policy, NULL, &err);
        if (rc == DSQL_OK) {
            atomic_fetch_add(&l->ok, 1);
            if (atomic_load(&l->restarted))
                atomic_fetch_add(&l->ok_after_restart, 1);
        } else if (rc == DSQL_EUNKNOWN_OUTCOME) {
            atomic_fetch_add(&l->unknown, 1);
        } else {
            atomic_fetch_add(&l->failed, 1);
            usleep(20000);
        }
    }
    return NULL;
}

static char *read_env_value(const char *env_file, const char *name)
{
    char *text = tu_read_file(env_file, NULL);
    char key[64];
    snprintf(key, sizeof key, "export %s=", name);
    char *p = strstr(text, key);
    assert_non_null(p);
    p += strlen(key);
    size_t n = strcspn(p, "\n");
    if (*p == '\'') {
        p++;
        n -= 2;
    }
    char *v = strndup(p, n);
    free(text);
    return v;
}

static void server_restart_under_load(void **state)
{
    (void)state;
    char dir[400], cmd[2048], env_file[600];
    snprintf(dir, sizeof dir, "%s/localpg-restart-%d", tu_env("DSQL_BINARY_DIR"), (int)getpid());
    snprintf(cmd, sizeof cmd, "LOCALPG_DIR='%s' '%s/scripts/localpg.sh' start >/dev/null 2>&1", dir,
             tu_env("DSQL_SOURCE_DIR"));
    assert_int_equal(system(cmd), 0);
    snprintf(env_file, sizeof env_file, "%s/env", dir);
    char *port = read_env_value(env_file, "PGPORT");
    char *ca = read_env_value(env_file, "PGSSLROOTCERT");

    dsql_config cfg = DSQL_CONFIG_INIT;
    cfg.host = "localhost";
    cfg.hostaddr = "127.0.0.1";
    cfg.port = atoi(port);
    cfg.user = "postgres";
    cfg.sslrootcert = ca;
    cfg.application_name = appname;
    dsql_pool_options o = {.max = 4, .acquire_timeout_ms = 5000};
    load l = {0};
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_pool_open(&cfg, &o, &l.pool, &err), err);
    assert_dsql_ok(dsql_pool_query(l.pool, "CREATE TABLE restart_load (n bigint NOT NULL)", NULL, 0,
                                   NULL, NULL, &err),
                   err);
    assert_dsql_ok(
        dsql_pool_query(l.pool, "INSERT INTO restart_load VALUES (0)", NULL, 0, NULL, NULL, &err),
        err);
    enum { W = 4 };
    pthread_t t[W];
    for (int i = 0; i < W; i++)
        pthread_create(&t[i], NULL, load_worker, &l);
    while (atomic_load(&l.ok) < 100)
        usleep(1000);
    snprintf(cmd, sizeof cmd, "LOCALPG_DIR='%s' '%s/scripts/localpg.sh' restart >/dev/null 2>&1",
             dir, tu_env("DSQL_SOURCE_DIR"));
    assert_int_equal(system(cmd), 0);
    atomic_store(&l.restarted, true);
    /* Recovery: work succeeds again on fresh connections, in the same process. */
    for (int i = 0; i < 1000 && atomic_load(&l.ok_after_restart) < 100; i++)
        usleep(10000);
    atomic_store(&l.stop, true);
    for (int i = 0; i < W; i++)
        pthread_join(t[i], NULL);
    assert_true(atomic_load(&l.ok_after_restart) >= 100);

    /* Every reported commit landed; only unknown outcomes may differ. */
    dsql_result *res;
    assert_dsql_ok(dsql_pool_query(l.pool, "SELECT n FROM restart_load", NULL, 0, NULL, &res, &err),
                   err);
    int64_t n;
    assert_dsql_ok(dsql_result_int(res, 0, 0, &n, &err), err);
    dsql_result_free(res);
    long ok = atomic_load(&l.ok), unknown = atomic_load(&l.unknown);
    assert_true(n >= ok && n <= ok + unknown);
    dsql_pool_stats st;
    dsql_pool_get_stats(l.pool, &st);
    print_message("restart under load: %ld commits (%ld after the restart), %ld failed during "
                  "the restart, %ld unknown outcomes; pool: %llu connects, %llu discarded, "
                  "%llu transaction retries\n",
                  ok, atomic_load(&l.ok_after_restart), atomic_load(&l.failed), unknown,
                  (unsigned long long)st.connects, (unsigned long long)st.discards,
                  (unsigned long long)st.tx_retries);
    assert_true(st.discards >= 1);
    dsql_pool_close(l.pool);
    free(port);
    free(ca);
    snprintf(cmd, sizeof cmd,
             "LOCALPG_DIR='%s' '%s/scripts/localpg.sh' stop >/dev/null 2>&1; "
             "rm -rf '%s'",
             dir, tu_env("DSQL_SOURCE_DIR"), dir);
    assert_int_equal(system(cmd), 0);
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
        cmocka_unit_test(acquire_release_stats),
        cmocka_unit_test(acquire_timeout),
        cmocka_unit_test(fifo_fairness),
        cmocka_unit_test(thread_gets_its_connection_back),
        cmocka_unit_test(release_rolls_back),
        cmocka_unit_test(bad_options),
        cmocka_unit_test(idle_retire),
        cmocka_unit_test(lifetime_retire),
        cmocka_unit_test(killed_backend_never_lent),
        cmocka_unit_test(close_cancels_waiters_and_waits_for_users),
        cmocka_unit_test(server_restart_under_load),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
