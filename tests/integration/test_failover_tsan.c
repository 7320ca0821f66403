/* Multi-Region failover: two dsql-local endpoints ("Regions" us-east-1 and us-west-2) in
 * front of the one throwaway PostgreSQL, so both see the same data as peered clusters do.
 * Faults are injected into the preferred one (stopped, stalled, refusing as an impaired
 * Region would) while threads run transactions; the tests measure the time from the fault
 * to the first transaction committed on the other endpoint and count the errors callers
 * saw, check that nothing committed is lost, that the pool fails back once the endpoint is
 * healthy again (without flapping), and that the runner retries uncommitted work on the new
 * endpoint but reports an in-flight COMMIT as an unknown outcome. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#include "conn_util.h"
#include "dsql/dsql.h"

extern char **environ;

#define TABLE     "failover_t"
#define NWORKERS  3
#define BOUND_MS  30000 /* generous: a loaded 2-core machine, sanitizers */
#define SETTLE_MS 500
#define PROBE_MS  100

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- one dsql-local endpoint of our own ---- */

typedef struct endpoint {
    pid_t pid;
    int port;
    char dir[64];
    char control[96];
    const char *region;
} endpoint;

static void ep_start(endpoint *e, const char *region)
{
    memset(e, 0, sizeof *e);
    e->region = region;
    snprintf(e->dir, sizeof e->dir, "/tmp/dsql-failover-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    char backend[512], cert[512], key[512], portfile[128], log[128];
    const char *sock = tu_env("LOCALPG_SOCKET_DIR");
    snprintf(backend, sizeof backend, "%s:%s", sock, tu_env("LOCALPG_PORT"));
    snprintf(cert, sizeof cert, "%s/tls/server.crt", sock);
    snprintf(key, sizeof key, "%s/tls/server.key", sock);
    snprintf(portfile, sizeof portfile, "%s/port", e->dir);
    snprintf(e->control, sizeof e->control, "%.80s/ctl.sock", e->dir);
    snprintf(log, sizeof log, "%s/log", e->dir);
    char *argv[] = {(char *)tu_env("DSQL_LOCAL_BIN"),
                    "--backend",
                    backend,
                    "--tls-cert",
                    cert,
                    "--tls-key",
                    key,
                    "--hostname",
                    "localhost",
                    "--region",
                    (char *)region,
                    "--listen",
                    "127.0.0.1:0",
                    "--port-file",
                    portfile,
                    "--control",
                    e->control,
                    NULL};
    /* The endpoint verifies tokens signed with this run's credentials. */
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = calloc(n + 3, sizeof *envp);
    assert_non_null(envp);
    memcpy(envp, environ, n * sizeof *envp);
    char akid[256], secret[256];
    snprintf(akid, sizeof akid, "DSQL_LOCAL_ACCESS_KEY_ID=%s", tu_env("AWS_ACCESS_KEY_ID"));
    snprintf(secret, sizeof secret, "DSQL_LOCAL_SECRET_ACCESS_KEY=%s",
             tu_env("AWS_SECRET_ACCESS_KEY"));
    envp[n] = akid;
    envp[n + 1] = secret;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = posix_spawn(&e->pid, argv[0], &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    assert_int_equal(rc, 0);
    for (int i = 0; i < 400 && !e->port; i++) {
        FILE *f = fopen(portfile, "r");
        if (f) {
            if (fscanf(f, "%d", &e->port) != 1)
                e->port = 0;
            fclose(f);
        }
        if (!e->port)
            nap_ms(25);
    }
    if (!e->port)
        fail_msg("dsql-local for %s did not start (log: %s)", region, log);
}

static void ep_stop(endpoint *e)
{
    if (e->pid > 0) {
        kill(e->pid, SIGKILL);
        waitpid(e->pid, NULL, 0);
        e->pid = 0;
    }
    char path[160];
    static const char *const files[] = {"port", "ctl.sock", "log"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", e->dir, files[i]);
        unlink(path);
    }
    rmdir(e->dir);
}

static void ep_ctl(const endpoint *e, const char *cmd)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", e->control);
    char ans[256] = "";
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        char line[128];
        snprintf(line, sizeof line, "%s\n", cmd);
        if (write(fd, line, strlen(line)) > 0) {
            ssize_t r = read(fd, ans, sizeof ans - 1);
            ans[r > 0 ? r : 0] = '\0';
        }
    }
    if (fd >= 0)
        close(fd);
    if (strncmp(ans, "ok", 2))
        fail_msg("control %s: %s: %s", e->region, cmd, ans[0] ? ans : "(no answer)");
}

/* ---- the pool over both endpoints ---- */

typedef struct fixture {
    endpoint a, b; /* a: us-east-1, the preferred; b: us-west-2 */
    log_capture logs;
    dsql_pool *pool;
} fixture;

static void open_pool(fixture *f, const char *local_region, int64_t settle_ms)
{
    char hosts[128];
    snprintf(hosts, sizeof hosts, "localhost:%d,localhost:%d", f->a.port, f->b.port);
    dsql_config cfg = DSQL_CONFIG_INIT;
    cfg.host = hosts;
    cfg.hostaddr = "127.0.0.1,127.0.0.1";
    cfg.region = "us-east-1,us-west-2";
    cfg.local_region = local_region;
    cfg.auth = DSQL_AUTH_IAM;
    cfg.user = "admin";
    cfg.database = "postgres";
    cfg.sslrootcert = tu_env("LOCALPG_CA");
    cfg.connect_timeout_s = 1;
    cfg.query_timeout_ms = 1000;
    cfg.log = cap_log;
    cfg.log_ctx = &f->logs;
    dsql_pool_options o = DSQL_POOL_OPTIONS_INIT;
    o.max = NWORKERS + 1;
    o.acquire_timeout_ms = BOUND_MS;
    o.failback_settle_ms = settle_ms;
    o.probe_interval_ms = PROBE_MS;
    dsql_error err = DSQL_ERROR_INIT;
    int rc = dsql_pool_open(&cfg, &o, &f->pool, &err);
    if (rc)
        test_open_failed("dsql_pool_open", rc, &err);
}

static int setup(void **state)
{
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    if (!test_through_dsql_local()) {
        fprintf(stderr, "skipped: dsql-local is not running (run through make test)\n");
        return 0;
    }
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    cap_init(&f->logs);
    ep_start(&f->a, "us-east-1");
    ep_start(&f->b, "us-west-2");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (!f)
        return 0;
    dsql_pool_close(f->pool);
    ep_stop(&f->a);
    ep_stop(&f->b);
    if (getenv("DSQL_TEST_VERBOSE") && f->logs.text)
        fprintf(stderr, "%s", f->logs.text);
    cap_free(&f->logs);
    free(f);
    return 0;
}

static void endpoint_stats(fixture *f, size_t i, dsql_endpoint_stats *s)
{
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_pool_get_endpoint_stats(f->pool, i, s, &err), DSQL_OK);
}

/* ---- transactions that say where they ran ---- */

typedef struct tx_ctx {
    char id[64];
    int port;                                       /* the endpoint the attempt ran on */
    int first_port;                                 /* ... and the first attempt */
    int attempts;                                   /* attempts of the body so far */
    void (*between)(struct tx_ctx *t, int attempt); /* called after the INSERT */
    bool at_end; /* call it after the SELECT instead: the next statement is COMMIT */
    fixture *f;
} tx_ctx;

static int insert_body(dsql_conn *conn, void *arg, dsql_error *err)
{
    tx_ctx *t = arg;
    t->attempts++;
    t->port = atoi(PQport(dsql_conn_pg(conn)));
    if (t->attempts == 1)
        t->first_port = t->port;
    char id[80];
    snprintf(id, sizeof id, "%s-a%d", t->id, t->attempts);
    dsql_value v[] = {DSQL_STR(id), DSQL_INT(t->port)};
    int rc =
        dsql_conn_query(conn, "INSERT INTO " TABLE " (id, port) VALUES ($1, $2)", v, 2, NULL, err);
    if (rc)
        return rc;
    if (t->between && !t->at_end)
        t->between(t, t->attempts);
    rc = dsql_conn_query(conn, "SELECT count(*) FROM " TABLE " WHERE id = $1", v, 1, NULL, err);
    if (rc == DSQL_OK && t->between && t->at_end)
        t->between(t, t->attempts);
    return rc;
}

static long rows_like(const char *prefix)
{
    return admin_long("SELECT count(*) FROM " TABLE " WHERE id LIKE '%s%%'", prefix);
}

/* Threads running transactions while a fault is injected. */
typedef struct load {
    fixture *f;
    char tag[16];
    atomic_bool stop;
    _Atomic int64_t fault_at;       /* 0 = no fault yet */
    _Atomic int64_t first_ok_after; /* ms from the fault to the first commit on b */
    atomic_int committed, unknown, other_errors, seq;
    pthread_mutex_t mu;
    char other[600]; /* the first unexpected error */
    int statuses[64];
} load;

static void *worker(void *arg)
{
    load *l = arg;
    while (!atomic_load(&l->stop)) {
        tx_ctx t = {.f = l->f};
        snprintf(t.id, sizeof t.id, "%s-%d", l->tag, atomic_fetch_add(&l->seq, 1));
        dsql_error err = DSQL_ERROR_INIT;
        int64_t fault = atomic_load(&l->fault_at);
        int rc = dsql_transaction(l->f->pool, insert_body, &t, NULL, NULL, &err);
        if (rc == DSQL_OK) {
            atomic_fetch_add(&l->committed, 1);
            int64_t zero = 0;
            if (fault && t.port == l->f->b.port)
                atomic_compare_exchange_strong(&l->first_ok_after, &zero,
                                               now_ms() - fault > 0 ? now_ms() - fault : 1);
        } else {
            pthread_mutex_lock(&l->mu);
            if (rc >= 0 && rc < 64)
                l->statuses[rc]++;
            if (rc == DSQL_EUNKNOWN_OUTCOME) {
                atomic_fetch_add(&l->unknown, 1);
            } else {
                atomic_fetch_add(&l->other_errors, 1);
                if (!l->other[0])
                    snprintf(l->other, sizeof l->other, "%s: %s", dsql_status_name(rc),
                             err.message);
            }
            pthread_mutex_unlock(&l->mu);
        }
        nap_ms(5);
    }
    return NULL;
}

typedef void (*fault_fn)(fixture *f);

/* Runs the load, injects the fault, waits for the first commit on b; returns the ms. */
static int64_t run_fault(fixture *f, const char *tag, fault_fn inject, load *l)
{
    memset(l, 0, sizeof *l);
    l->f = f;
    snprintf(l->tag, sizeof l->tag, "%s", tag);
    pthread_mutex_init(&l->mu, NULL);
    pthread_t th[NWORKERS];
    for (int i = 0; i < NWORKERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, l), 0);
    /* Warm: commits on the preferred endpoint first. */
    int64_t until = now_ms() + BOUND_MS;
    while (atomic_load(&l->committed) < 10 && now_ms() < until)
        nap_ms(10);
    assert_true(atomic_load(&l->committed) >= 10);
    atomic_store(&l->fault_at, now_ms());
    inject(f);
    until = now_ms() + BOUND_MS;
    while (!atomic_load(&l->first_ok_after) && now_ms() < until)
        nap_ms(5);
    int after = atomic_load(&l->committed);
    until = now_ms() + BOUND_MS;
    while (atomic_load(&l->committed) < after + 10 && now_ms() < until)
        nap_ms(10);
    atomic_store(&l->stop, true);
    for (int i = 0; i < NWORKERS; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&l->mu);
    int64_t ms = atomic_load(&l->first_ok_after);
    printf("failover[%s]: first commit on the other endpoint %lld ms after the fault; %d "
           "transactions committed, callers saw %d unknown outcomes (COMMIT in flight) and %d "
           "other errors%s%s\n",
           tag, (long long)ms, atomic_load(&l->committed), atomic_load(&l->unknown),
           atomic_load(&l->other_errors), l->other[0] ? ": " : "", l->other);
    fflush(stdout);
    if (!ms)
        fail_msg("%s: no transaction committed on the other endpoint within %d ms", tag, BOUND_MS);
    assert_int_equal(atomic_load(&l->other_errors), 0);
    /* Nothing committed is lost: every commit is there, and at most the unknown ones
     * more (an unknown outcome may have committed). */
    long rows = rows_like(tag);
    assert_true(rows >= atomic_load(&l->committed));
    assert_true(rows <= atomic_load(&l->committed) + atomic_load(&l->unknown));
    return ms;
}

static void wait_log(fixture *f, const char *needle, int64_t bound_ms)
{
    int64_t until = now_ms() + bound_ms;
    while (!cap_has(&f->logs, needle) && now_ms() < until)
        nap_ms(10);
    if (!cap_has(&f->logs, needle))
        fail_msg("no log line with '%s' within %lld ms", needle, (long long)bound_ms);
}

static void create_table(fixture *f)
{
    dsql_error err = DSQL_ERROR_INIT;
    int rc = dsql_pool_query(
        f->pool, "CREATE TABLE IF NOT EXISTS " TABLE " (id text PRIMARY KEY, port int NOT NULL)",
        NULL, 0, NULL, NULL, &err);
    if (rc)
        test_open_failed("create table", rc, &err);
    admin_exec("DELETE FROM " TABLE); /* rows of an earlier run (the other build's) */
}

/* The failover line names both endpoints, the direction and the cause. */
static void expect_failover_line(fixture *f)
{
    char line[200];
    snprintf(line, sizeof line,
             "Failover: new connections go to localhost:%d (us-west-2) instead of "
             "localhost:%d (us-east-1) (",
             f->b.port, f->a.port);
    wait_log(f, line, 1000);
    assert_int_equal(cap_count(&f->logs, "Failover: "), 1);
}

static void expect_switched(fixture *f, bool to_b)
{
    dsql_endpoint_stats a, b;
    endpoint_stats(f, 0, &a);
    endpoint_stats(f, 1, &b);
    assert_true(a.preferred);
    assert_false(b.preferred);
    assert_int_equal(a.active, !to_b);
    assert_int_equal(b.active, to_b);
}

/* ---- the tests ---- */

/* The local Region's endpoint is preferred, and each endpoint gets a token minted for its
 * own Region (dsql-local refuses a token signed for another one). */
static void local_region_preferred(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    open_pool(f, "us-west-2", SETTLE_MS);
    create_table(f);
    dsql_error err = DSQL_ERROR_INIT;
    dsql_result *res = NULL;
    assert_int_equal(dsql_pool_query(f->pool, "SELECT 1", NULL, 0, NULL, &res, &err), DSQL_OK);
    dsql_result_free(res);
    dsql_endpoint_stats a, b;
    endpoint_stats(f, 0, &a);
    endpoint_stats(f, 1, &b);
    assert_string_equal(a.host, "localhost");
    assert_int_equal(a.port, f->a.port);
    assert_string_equal(a.region, "us-east-1");
    assert_string_equal(b.region, "us-west-2");
    assert_false(a.preferred);
    assert_true(b.preferred && b.active);
    assert_int_equal(a.connects, 0);
    assert_true(b.connects >= 1);
    assert_int_equal(b.failures, 0);
    assert_int_equal(b.open, b.idle + b.in_use);
    assert_int_equal(dsql_pool_endpoint_count(f->pool), 2);
    assert_int_equal(dsql_pool_get_endpoint_stats(f->pool, 2, &a, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_pool_get_endpoint_stats: index 2 is past the pool's "
                                     "last endpoint (it has 2)");
    dsql_pool_stats total;
    dsql_pool_get_stats(f->pool, &total);
    assert_int_equal(total.connects, a.connects + b.connects);

    /* Regions given the wrong way round: access denied is not a reason to fail over. */
    char hosts[128];
    snprintf(hosts, sizeof hosts, "localhost:%d,localhost:%d", f->a.port, f->b.port);
    dsql_config cfg = DSQL_CONFIG_INIT;
    cfg.host = hosts;
    cfg.hostaddr = "127.0.0.1,127.0.0.1";
    cfg.region = "us-west-2,us-east-1";
    cfg.auth = DSQL_AUTH_IAM;
    cfg.database = "postgres";
    cfg.sslrootcert = tu_env("LOCALPG_CA");
    cfg.connect_timeout_s = 2;
    dsql_conn *conn = NULL;
    assert_int_equal(dsql_conn_open(&cfg, &conn, &err), DSQL_EAUTH);
    assert_non_null(strstr(err.message, "access denied"));
    assert_non_null(strstr(err.message, "region 'us-west-2'"));
}

static void stop_a(fixture *f)
{
    kill(f->a.pid, SIGKILL);
    waitpid(f->a.pid, NULL, 0);
    f->a.pid = 0;
}

/* The preferred endpoint's server stops (killed): sessions drop, connects are refused. */
static void stop_fails_over(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    open_pool(f, "us-east-1", SETTLE_MS);
    create_table(f);
    load l;
    run_fault(f, "stop", stop_a, &l);
    expect_failover_line(f);
    expect_switched(f, true);
    dsql_endpoint_stats a, b;
    endpoint_stats(f, 0, &a);
    endpoint_stats(f, 1, &b);
    assert_true(a.down);
    assert_int_equal(a.failovers, 1);
    assert_int_equal(b.switches_to, 1);
    assert_int_equal(a.open, 0);
    /* Probes of the stopped endpoint fail, with backoff: never a failback. */
    int64_t until = now_ms() + BOUND_MS;
    while (a.probe_failures < 2 && now_ms() < until) {
        nap_ms(20);
        endpoint_stats(f, 0, &a);
    }
    assert_true(a.probe_failures >= 2);
    assert_int_equal(a.probes, a.probe_failures);
    assert_false(cap_has(&f->logs, "Failback"));
}

static void stall_a(fixture *f)
{
    kill(f->a.pid, SIGSTOP);
}

/* The preferred endpoint stops answering (sockets open, nothing comes back); when it answers
 * again the pool fails back after the settle time, once. */
static void stall_fails_over_and_back(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    open_pool(f, "us-east-1", SETTLE_MS);
    create_table(f);
    load l;
    run_fault(f, "stall", stall_a, &l);
    expect_failover_line(f);
    expect_switched(f, true);

    int64_t resumed = now_ms();
    kill(f->a.pid, SIGCONT);
    wait_log(f, "Failback: new connections go to the preferred endpoint", BOUND_MS);
    int64_t back = now_ms() - resumed;
    printf("failback[stall]: back on the preferred endpoint %lld ms after it answered again "
           "(settle %d ms, probes every %d ms)\n",
           (long long)back, SETTLE_MS, PROBE_MS);
    assert_true(back >= SETTLE_MS);
    expect_switched(f, false);
    dsql_endpoint_stats a, b;
    endpoint_stats(f, 0, &a);
    endpoint_stats(f, 1, &b);
    /* One failover, one failback: no flapping. */
    assert_int_equal(a.failovers, 1);
    assert_int_equal(b.failovers, 0);
    assert_int_equal(a.switches_to, 1);
    assert_int_equal(b.switches_to, 1);
    assert_false(a.down);
    assert_true(a.probes >= 2);
    assert_int_equal(b.idle, 0); /* connections to b retired */

    /* New work runs on the preferred endpoint again. */
    tx_ctx t = {.f = f};
    snprintf(t.id, sizeof t.id, "back");
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_transaction(f->pool, insert_body, &t, NULL, NULL, &err), DSQL_OK);
    assert_int_equal(t.port, f->a.port);
    assert_int_equal(cap_count(&f->logs, "Failover: "), 1);
    assert_int_equal(cap_count(&f->logs, "Failback: "), 1);
}

static void refuse_a(fixture *f)
{
    ep_ctl(&f->a, "refuse unavailable all");
    ep_ctl(&f->a, "kill-all");
}

/* The preferred endpoint answers as an impaired Region: every session dropped, every new
 * connection refused "server unavailable"; then it recovers. */
static void refuse_fails_over_and_back(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    open_pool(f, "us-east-1", SETTLE_MS);
    create_table(f);
    load l;
    run_fault(f, "refuse", refuse_a, &l);
    expect_failover_line(f);
    assert_true(cap_has(&f->logs, "server unavailable"));
    expect_switched(f, true);
    int64_t healed = now_ms();
    ep_ctl(&f->a, "reset");
    wait_log(f, "Failback: new connections go to the preferred endpoint", BOUND_MS);
    printf("failback[refuse]: back on the preferred endpoint %lld ms after it recovered\n",
           (long long)(now_ms() - healed));
    expect_switched(f, false);
}

static void unavailable_a(fixture *f)
{
    ep_ctl(&f->a, "unavailable 1");
}

/* The preferred endpoint takes connections and reads but answers every write XX000 "server
 * unavailable": three such answers in a row take it down. Its probes (SELECT 1) pass, so
 * the pool fails back, meets the fault again and fails over again: the second failback
 * waits twice the settle time (no flapping at the settle time's pace). */
static void unavailable_fails_over_without_flapping(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    open_pool(f, "us-east-1", SETTLE_MS);
    create_table(f);
    load l;
    run_fault(f, "unavail", unavailable_a, &l);
    expect_failover_line(f);
    assert_true(cap_has(&f->logs, "answered \"server unavailable\" repeatedly"));
    wait_log(f, "Failback: new connections go to the preferred endpoint", BOUND_MS);
    assert_true(cap_has(&f->logs, "it answered every probe for 500 ms"));
    /* Writes meet the fault again. */
    int64_t until = now_ms() + BOUND_MS;
    for (int i = 0; cap_count(&f->logs, "Failover: ") < 2 && now_ms() < until; i++) {
        tx_ctx t = {.f = f};
        snprintf(t.id, sizeof t.id, "again-%d", i);
        dsql_error err = DSQL_ERROR_INIT;
        int rc = dsql_transaction(f->pool, insert_body, &t, NULL, NULL, &err);
        assert_true(rc == DSQL_OK || rc == DSQL_EUNKNOWN_OUTCOME || rc == DSQL_EUNAVAILABLE);
    }
    assert_int_equal(cap_count(&f->logs, "Failover: "), 2);
    assert_true(cap_has(&f->logs, "so the next failback waits for 1000 ms of health"));
    ep_ctl(&f->a, "reset");
    wait_log(f, "it answered every probe for 1000 ms", BOUND_MS);
    expect_switched(f, false);
}

/* dsql_conn_open tries the endpoints in order; when none answers, the error names each. */
static void conn_open_fails_over(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    char hosts[128];
    snprintf(hosts, sizeof hosts, "localhost:1,localhost:%d", f->b.port);
    dsql_config cfg = DSQL_CONFIG_INIT;
    cfg.host = hosts;
    cfg.hostaddr = "127.0.0.1,127.0.0.1";
    cfg.region = "us-east-1,us-west-2";
    cfg.auth = DSQL_AUTH_IAM;
    cfg.database = "postgres";
    cfg.sslrootcert = tu_env("LOCALPG_CA");
    cfg.connect_timeout_s = 2;
    cfg.log = cap_log;
    cfg.log_ctx = &f->logs;
    dsql_conn *conn = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    int rc = dsql_conn_open(&cfg, &conn, &err);
    if (rc)
        fail_msg("%s: %s", dsql_status_name(rc), err.message);
    assert_int_equal(atoi(PQport(dsql_conn_pg(conn))), f->b.port);
    dsql_conn_close(conn);
    assert_true(cap_has(&f->logs, "Endpoint localhost:1 failed (DSQL_ECONNECT); trying the next "
                                  "endpoint"));

    snprintf(hosts, sizeof hosts, "localhost:1,localhost:2");
    assert_int_equal(dsql_conn_open(&cfg, &conn, &err), DSQL_ECONNECT);
    assert_null(conn);
    assert_non_null(strstr(err.message,
                           "could not connect to any of the 2 endpoints: "
                           "localhost:1: could not connect to localhost:1 as admin: "));
    assert_non_null(strstr(err.message, "; localhost:2: could not connect to localhost:2 as "
                                        "admin: "));
}

/* A transaction whose endpoint stalls before COMMIT is run again, whole, on the other
 * endpoint; the first attempt's write never commits. */
static void stall_mid_body(tx_ctx *t, int attempt)
{
    if (attempt == 1)
        kill(t->f->a.pid, SIGSTOP);
}

static void runner_retries_on_new_endpoint(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    tx_ctx t;
    int attempts = 0;
    /* The scenario needs the first attempt on the preferred endpoint; on a loaded machine
     * its connect can miss the 1 s connect timeout and the pool fail over at once (then
     * nothing here is tested): run it again, with a fresh pool, a few times at most. */
    for (int round = 0; round < 3; round++) {
        if (round) {
            kill(f->a.pid, SIGCONT);
            dsql_pool_close(f->pool);
            f->pool = NULL;
        }
        open_pool(f, "us-east-1", -1);
        create_table(f);
        t = (tx_ctx){.f = f, .between = stall_mid_body};
        snprintf(t.id, sizeof t.id, "retry%d", round);
        dsql_error err = DSQL_ERROR_INIT;
        int rc = dsql_transaction(f->pool, insert_body, &t, NULL, &attempts, &err);
        if (rc)
            fail_msg("%s: %s", dsql_status_name(rc), err.message);
        if (t.first_port == f->a.port)
            break;
    }
    assert_int_equal(t.first_port, f->a.port);
    assert_int_equal(attempts, 2);
    assert_int_equal(t.port, f->b.port);
    char a1[80], a2[80];
    snprintf(a1, sizeof a1, "%s-a1", t.id);
    snprintf(a2, sizeof a2, "%s-a2", t.id);
    assert_int_equal(rows_like(a2), 1);
    kill(f->a.pid, SIGCONT);
    assert_int_equal(rows_like(a1), 0);
    /* failback_settle_ms = -1: never back. */
    dsql_endpoint_stats a;
    endpoint_stats(f, 0, &a);
    assert_int_equal(a.probes, 0);
}

/* The endpoint stalls with COMMIT in flight: unknown outcome, never run again. A stall
 * before COMMIT: the transaction runs again and commits once. */
static void stall_next(tx_ctx *t, int attempt)
{
    if (attempt == 1)
        ep_ctl(&t->f->a, "stall 1"); /* the next statement stalls its session */
}

static void commit_in_flight_is_unknown(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    open_pool(f, "us-east-1", -1);
    create_table(f);
    dsql_error err = DSQL_ERROR_INIT;

    /* A pipelined transaction sends COMMIT with its statements: unknown. (First: the
     * stall must catch the batch itself, not the check of a suspect endpoint's new
     * connection.) */
    char id[32] = "inflight";
    dsql_value v[] = {DSQL_STR(id), DSQL_INT(f->a.port)};
    dsql_stmt st[] = {{"INSERT INTO " TABLE " (id, port) VALUES ($1, $2)", v, 2}};
    ep_ctl(&f->a, "stall 1");
    int rc = dsql_pipeline_tx(f->pool, st, 1, NULL, NULL, &err);
    assert_int_equal(rc, DSQL_EUNKNOWN_OUTCOME);
    assert_non_null(strstr(err.message, "may or may not have committed"));

    /* The statement after the INSERT stalls: nothing committed, run again. */
    tx_ctx t = {.f = f, .between = stall_next};
    snprintf(t.id, sizeof t.id, "beforecommit");
    int attempts = 0;
    rc = dsql_transaction(f->pool, insert_body, &t, NULL, &attempts, &err);
    if (rc)
        fail_msg("%s: %s", dsql_status_name(rc), err.message);
    assert_int_equal(attempts, 2);
    assert_int_equal(rows_like("beforecommit-a2"), 1);
    assert_int_equal(rows_like("beforecommit-a1"), 0);

    /* COMMIT stalls: unknown outcome after one attempt. */
    tx_ctx c = {.f = f, .between = stall_next, .at_end = true};
    snprintf(c.id, sizeof c.id, "atcommit");
    rc = dsql_transaction(f->pool, insert_body, &c, NULL, &attempts, &err);
    assert_int_equal(rc, DSQL_EUNKNOWN_OUTCOME);
    assert_int_equal(attempts, 1);
    assert_non_null(strstr(err.message, "no answer to COMMIT in time: the transaction may or "
                                        "may not have committed, so it was not retried"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(local_region_preferred, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_fails_over, setup, teardown),
        cmocka_unit_test_setup_teardown(stall_fails_over_and_back, setup, teardown),
        cmocka_unit_test_setup_teardown(refuse_fails_over_and_back, setup, teardown),
        cmocka_unit_test_setup_teardown(unavailable_fails_over_without_flapping, setup, teardown),
        cmocka_unit_test_setup_teardown(conn_open_fails_over, setup, teardown),
        cmocka_unit_test_setup_teardown(runner_retries_on_new_endpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(commit_in_flight_is_unknown, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
