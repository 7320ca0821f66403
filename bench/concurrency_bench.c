/*
 * bench_concurrency: per-operation cost with T threads, libdsql's pool against libdsql with
 * one connection per thread and hand-written libpq with one connection per thread.
 *
 *   bench_concurrency --client libdsql|libdsql-conn|libpq --op read|tx --threads T
 *                     [--pool N] [--seconds S]
 *
 * Each thread runs the operation in a loop for S seconds (default 1):
 *   read  a point read by primary key, SELECT name FROM bench_conc WHERE id = $1
 *         (libdsql: dsql_pool_query; libdsql-conn: dsql_conn_query on the thread's own
 *         dsql_conn; libpq: PQexecPrepared on the thread's connection)
 *   tx    a one-insert transaction (libdsql: dsql_transaction with one dsql_conn_query;
 *         libdsql-conn: dsql_conn_transaction on the thread's own dsql_conn; libpq: BEGIN
 *         ISOLATION LEVEL REPEATABLE READ, a prepared INSERT, COMMIT)
 * libdsql reads its connection settings from the environment (dsql_config_from_env) and
 * opens a pool of N connections (default: T), each opened by one of the threads before the
 * timing starts; libpq connects with PQconnectdb("") (the PG*
 * variables). The table bench_conc (id int PRIMARY KEY, name text, plus rows 1..1000) must
 * exist (bench/concurrency.sh creates it). Prints one line:
 *
 *   bench=concurrency client=<c> op=<op> threads=<T> pool=<N> ops=<n> ops_per_sec=<x>
 *   p50_us=<x> p99_us=<x> cpu_us_per_op=<x> ctxsw_per_op=<x>
 *
 * cpu_us_per_op: the process's user + system CPU time over the operations (the client's
 * cost; the server runs in other processes); ctxsw_per_op: voluntary + involuntary context
 * switches of the process per operation.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <libpq-fe.h>

#include "dsql/dsql.h"

#define MAX_THREADS 64
#define MAX_SAMPLES 2000000

typedef struct run {
    const char *client, *op;
    int threads, pool_max;
    double seconds;
    dsql_pool *pool;
    const dsql_config *cfg; /* libdsql-conn: each thread opens its own connection */
    atomic_bool stop;
    atomic_int failed;
    pthread_barrier_t start; /* the threads and main: timing starts once all are set up */
} run;

typedef struct worker {
    run *r;
    int id;
    uint32_t *lat_us; /* per operation */
    size_t n, cap;
    pthread_t th;
} worker;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void note(worker *w, int64_t t0)
{
    if (w->n < w->cap)
        w->lat_us[w->n++] = (uint32_t)((now_ns() - t0) / 1000);
}

static void fail(run *r, const char *what, const char *msg)
{
    if (atomic_fetch_add(&r->failed, 1) == 0)
        fprintf(stderr, "bench_concurrency: %s: %s\n", what, msg);
    atomic_store(&r->stop, true);
}

/* The one-insert transaction's body. */
typedef struct tx_ctx {
    int64_t id;
} tx_ctx;

static int insert_body(dsql_conn *conn, void *ctx, dsql_error *err)
{
    tx_ctx *t = ctx;
    dsql_value v[2] = {DSQL_INT(t->id), DSQL_STR("x")};
    return dsql_conn_query(conn, "INSERT INTO bench_conc_w (id, name) VALUES ($1, $2)", v, 2, NULL,
                           err);
}

static void *libdsql_main(void *arg)
{
    worker *w = arg;
    run *r = w->r;
    dsql_error err = DSQL_ERROR_INIT;
    uint64_t k = (uint64_t)w->id * 7919;
    int64_t seq = (int64_t)w->id << 40;
    /* Each thread opens its pool connection itself before the timing starts, as libpq's
     * and libdsql-conn's threads do: a connection's libpq and OpenSSL state then lives in
     * that thread's malloc arena, not next to the other threads' connections in the main
     * thread's (docs/performance.md says what that costs). Threads beyond the pool's max
     * find the connections open. */
    dsql_conn *warm = NULL;
    if (w->id < r->pool_max && dsql_pool_acquire(r->pool, &warm, &err))
        fail(r, "libdsql warm-up", err.message);
    pthread_barrier_wait(&r->start);
    if (warm)
        dsql_pool_release(r->pool, warm);
    while (!atomic_load(&r->stop)) {
        int64_t t0 = now_ns();
        int rc;
        if (!strcmp(r->op, "read")) {
            dsql_value v = DSQL_INT((int64_t)(k++ % 1000) + 1);
            dsql_result *res = NULL;
            rc = dsql_pool_query(r->pool, "SELECT name FROM bench_conc WHERE id = $1", &v, 1, NULL,
                                 &res, &err);
            dsql_result_free(res);
        } else {
            tx_ctx t = {.id = seq++};
            rc = dsql_transaction(r->pool, insert_body, &t, NULL, NULL, &err);
        }
        if (rc) {
            fail(r, "libdsql", err.message);
            break;
        }
        note(w, t0);
    }
    return NULL;
}

/* libdsql without the pool: the thread's own connection (the pool's overhead is the
 * difference). */
static void *libdsql_conn_main(void *arg)
{
    worker *w = arg;
    run *r = w->r;
    dsql_error err = DSQL_ERROR_INIT;
    dsql_conn *conn = NULL;
    if (dsql_conn_open(r->cfg, &conn, &err))
        fail(r, "libdsql-conn connect", err.message);
    uint64_t k = (uint64_t)w->id * 7919;
    int64_t seq = ((int64_t)w->id << 40) + ((int64_t)1 << 51); /* apart from the others' */
    pthread_barrier_wait(&r->start);
    while (conn && !atomic_load(&r->stop)) {
        int64_t t0 = now_ns();
        int rc;
        if (!strcmp(r->op, "read")) {
            dsql_value v = DSQL_INT((int64_t)(k++ % 1000) + 1);
            dsql_result *res = NULL;
            rc = dsql_conn_query(conn, "SELECT name FROM bench_conc WHERE id = $1", &v, 1, &res,
                                 &err);
            dsql_result_free(res);
        } else {
            tx_ctx t = {.id = seq++};
            rc = dsql_conn_transaction(conn, insert_body, &t, NULL, NULL, &err);
        }
        if (rc) {
            fail(r, "libdsql-conn", err.message);
            break;
        }
        note(w, t0);
    }
    dsql_conn_close(conn);
    return NULL;
}

static bool pq_ok(run *r, PGresult *res, ExecStatusType want, PGconn *pg)
{
    bool ok = PQresultStatus(res) == want;
    if (!ok)
        fail(r, "libpq", PQerrorMessage(pg));
    PQclear(res);
    return ok;
}

static void *libpq_main(void *arg)
{
    worker *w = arg;
    run *r = w->r;
    PGconn *pg = PQconnectdb("");
    bool read = !strcmp(r->op, "read");
    if (PQstatus(pg) != CONNECTION_OK)
        fail(r, "libpq connect", PQerrorMessage(pg));
    else
        pq_ok(r,
              read ? PQprepare(pg, "q", "SELECT name FROM bench_conc WHERE id = $1", 1, NULL)
                   : PQprepare(pg, "q", "INSERT INTO bench_conc_w (id, name) VALUES ($1, $2)", 2,
                               NULL),
              PGRES_COMMAND_OK, pg);
    pthread_barrier_wait(&r->start);
    uint64_t k = (uint64_t)w->id * 7919;
    int64_t seq = ((int64_t)w->id << 40) + ((int64_t)1 << 50); /* apart from libdsql's */
    char a[32];
    while (!atomic_load(&r->stop)) {
        int64_t t0 = now_ns();
        if (read) {
            snprintf(a, sizeof a, "%d", (int)(k++ % 1000) + 1);
            const char *vals[1] = {a};
            if (!pq_ok(r, PQexecPrepared(pg, "q", 1, vals, NULL, NULL, 0), PGRES_TUPLES_OK, pg))
                break;
        } else {
            snprintf(a, sizeof a, "%lld", (long long)seq++);
            const char *vals[2] = {a, "x"};
            if (!pq_ok(r, PQexec(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ"), PGRES_COMMAND_OK,
                       pg) ||
                !pq_ok(r, PQexecPrepared(pg, "q", 2, vals, NULL, NULL, 0), PGRES_COMMAND_OK, pg) ||
                !pq_ok(r, PQexec(pg, "COMMIT"), PGRES_COMMAND_OK, pg))
                break;
        }
        note(w, t0);
    }
    PQfinish(pg);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: bench_concurrency --client libdsql|libdsql-conn|libpq --op read|tx "
                 "--threads T [--pool N] [--seconds S]\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"client", required_argument, NULL, 'c'},
                                         {"op", required_argument, NULL, 'o'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"pool", required_argument, NULL, 'p'},
                                         {"seconds", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    run r = {.seconds = 1};
    int c;
    while ((c = getopt_long(argc, argv, "c:o:t:p:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            r.client = optarg;
            break;
        case 'o':
            r.op = optarg;
            break;
        case 't':
            r.threads = atoi(optarg);
            break;
        case 'p':
            r.pool_max = atoi(optarg);
            break;
        case 's':
            r.seconds = atof(optarg);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!r.client ||
        (strcmp(r.client, "libdsql") && strcmp(r.client, "libdsql-conn") &&
         strcmp(r.client, "libpq")) ||
        !r.op || (strcmp(r.op, "read") && strcmp(r.op, "tx")) || r.threads < 1 ||
        r.threads > MAX_THREADS || r.pool_max < 0 || r.pool_max > MAX_THREADS ||
        !(r.seconds > 0 && r.seconds <= 600) || optind != argc) {
        fprintf(stderr,
                "bench_concurrency: threads and pool from 1 to %d, seconds from 0 "
                "(excluded) to 600\n",
                MAX_THREADS);
        usage(stderr);
        return 2;
    }
    bool libdsql = !strcmp(r.client, "libdsql");
    bool own_conn = !strcmp(r.client, "libdsql-conn");
    if (!r.pool_max)
        r.pool_max = r.threads;
    dsql_config cfg = DSQL_CONFIG_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    r.cfg = &cfg;
    if (own_conn && dsql_config_from_env(&cfg, &err)) {
        fprintf(stderr, "bench_concurrency: %s\n", err.message);
        return 1;
    }
    if (libdsql) {
        dsql_pool_options po = DSQL_POOL_OPTIONS_INIT;
        po.max = r.pool_max;
        if (dsql_config_from_env(&cfg, &err) || dsql_pool_open(&cfg, &po, &r.pool, &err)) {
            fprintf(stderr, "bench_concurrency: %s\n", err.message);
            return 1;
        }
    }
    worker w[MAX_THREADS];
    size_t cap = MAX_SAMPLES / (size_t)r.threads;
    for (int i = 0; i < r.threads; i++) {
        w[i] = (worker){.r = &r, .id = i, .cap = cap};
        w[i].lat_us = malloc(cap * sizeof *w[i].lat_us);
        if (!w[i].lat_us)
            return 1;
    }
    struct rusage ru0, ru1;
    /* Every thread connects before the barrier (libpq's also prepare; the pool's threads
     * each open one of its connections): only the loops are timed. */
    pthread_barrier_init(&r.start, NULL, (unsigned)r.threads + 1);
    for (int i = 0; i < r.threads; i++)
        pthread_create(&w[i].th, NULL,
                       libdsql    ? libdsql_main
                       : own_conn ? libdsql_conn_main
                                  : libpq_main,
                       &w[i]);
    pthread_barrier_wait(&r.start);
    getrusage(RUSAGE_SELF, &ru0);
    int64_t t0 = now_ns();
    struct timespec nap = {.tv_sec = (time_t)r.seconds,
                           .tv_nsec = (long)((r.seconds - (double)(time_t)r.seconds) * 1e9)};
    nanosleep(&nap, NULL);
    atomic_store(&r.stop, true);
    for (int i = 0; i < r.threads; i++)
        pthread_join(w[i].th, NULL);
    int64_t t1 = now_ns();
    getrusage(RUSAGE_SELF, &ru1);
    pthread_barrier_destroy(&r.start);
    if (r.pool)
        dsql_pool_close(r.pool);
    dsql_config_clear(&cfg);
    if (atomic_load(&r.failed)) {
        for (int i = 0; i < r.threads; i++)
            free(w[i].lat_us);
        return 1;
    }

    size_t n = 0;
    for (int i = 0; i < r.threads; i++)
        n += w[i].n;
    uint32_t *all = malloc((n ? n : 1) * sizeof *all);
    if (!all)
        return 1;
    size_t k = 0;
    for (int i = 0; i < r.threads; i++) {
        memcpy(all + k, w[i].lat_us, w[i].n * sizeof *all);
        k += w[i].n;
        free(w[i].lat_us);
    }
    qsort(all, n, sizeof *all, cmp_u32);
    double cpu_us = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) * 1e6 +
                    (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) +
                    (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1e6 +
                    (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec);
    double ctxsw = (double)(ru1.ru_nvcsw - ru0.ru_nvcsw) + (double)(ru1.ru_nivcsw - ru0.ru_nivcsw);
    double secs = (double)(t1 - t0) / 1e9;
    printf("bench=concurrency client=%s op=%s threads=%d pool=%d ops=%zu ops_per_sec=%.0f "
           "p50_us=%u p99_us=%u cpu_us_per_op=%.1f ctxsw_per_op=%.2f\n",
           r.client, r.op, r.threads, libdsql ? r.pool_max : r.threads, n, (double)n / secs,
           n ? all[n / 2] : 0, n ? all[(n * 99) / 100] : 0, n ? cpu_us / (double)n : 0,
           n ? ctxsw / (double)n : 0);
    free(all);
    return 0;
}
