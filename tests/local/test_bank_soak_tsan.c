/*
 * Invariants under injected failure: a bank. N accounts hold 1,000 each; threads move money
 * between them through the OCC transaction runner (a shared pool, IAM over TLS, through
 * dsql-local) while a fault thread makes the endpoint misbehave: OC000 / OC001 at a rate,
 * transient XX000, latency, sessions dropped before and after COMMIT and mid-result,
 * refused connects (53300 / 53400), stalled sessions, every session dropped at once (a
 * restart).
 *
 * Every transfer carries an idempotency key (the transfers table's primary key). Afterwards:
 *  - every call returned success, a clear error, or DSQL_EUNKNOWN_OUTCOME, within its
 *    bound (no call longer than HANG_MS);
 *  - each unknown outcome is reconciled by its key: committed or not, never half;
 *  - every transfer reported committed is in the table;
 *  - the total is exact, and each account's balance is 1,000 plus what the transfers
 *    table says came in minus what went out (no partial transaction);
 *  - the pool is back to idle (no connection leaked) and no log line or error holds the
 *    secret key, the token's signature or the session token.
 *
 * make test runs it for a few seconds (and its TSan build); make soak for SOAK_SECONDS
 * (DSQL_SOAK_SECONDS, default 6; DSQL_SOAK_THREADS, default 6), and writes the figures to
 * DSQL_SOAK_REPORT when set.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "local_util.h"

#define DB       "dsql_soak_bank"
#define ACCOUNTS 40
#define START    1000
#define HANG_MS  45000 /* the longest any call may take: timeouts x retries, generously */

static int seconds = 6, threads = 6;
static dsql_pool *pool;
static atomic_bool stop;

/* ---- what the workload saw ---- */

typedef struct outcome {
    char key[37];
    int rc;
} outcome;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static outcome *outcomes;
static size_t n_outcomes, cap_outcomes;
static atomic_ulong by_status[32];
static atomic_long longest_ms;
static atomic_ulong log_lines;
static char leaked[256]; /* the first log line holding a secret */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool holds_secret(const char *s)
{
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
    return strstr(s, "X-Amz-Signature") || strstr(s, "X-Amz-Security-Token") ||
           (secret && *secret && strstr(s, secret));
}

static void on_log(dsql_log_level level, const char *message, void *ctx)
{
    (void)ctx;
    (void)level;
    atomic_fetch_add(&log_lines, 1);
    if (holds_secret(message)) {
        pthread_mutex_lock(&mu);
        if (!leaked[0])
            snprintf(leaked, sizeof leaked, "log: %.200s", message);
        pthread_mutex_unlock(&mu);
    }
}

static void record(const char *key, int rc, const dsql_error *err)
{
    atomic_fetch_add(&by_status[rc >= 0 && rc < 32 ? rc : 31], 1);
    pthread_mutex_lock(&mu);
    if (rc && holds_secret(err->message) && !leaked[0])
        snprintf(leaked, sizeof leaked, "error: %.200s", err->message);
    if (n_outcomes == cap_outcomes) {
        cap_outcomes = cap_outcomes ? 2 * cap_outcomes : 4096;
        outcomes = realloc(outcomes, cap_outcomes * sizeof *outcomes);
        if (!outcomes)
            abort(); /* out of memory in a test: nothing to report */
    }
    snprintf(outcomes[n_outcomes].key, sizeof outcomes[n_outcomes].key, "%s", key);
    outcomes[n_outcomes++].rc = rc;
    pthread_mutex_unlock(&mu);
}

/* ---- the workload ---- */

typedef struct transfer {
    char key[37];
    int from, to;
    int64_t amount;
} transfer;

static int move_money(dsql_conn *conn, void *ctx, dsql_error *err)
{
    const transfer *t = ctx;
    dsql_value out[] = {DSQL_INT(t->amount), DSQL_INT(t->from)};
    dsql_value in[] = {DSQL_INT(t->amount), DSQL_INT(t->to)};
    dsql_value row[] = {DSQL_STR(t->key), DSQL_INT(t->from), DSQL_INT(t->to), DSQL_INT(t->amount)};
    int rc = dsql_conn_query(conn, "UPDATE account SET balance = balance - $1 WHERE id = $2", out,
                             2, NULL, err);
    if (!rc)
        rc = dsql_conn_query(conn, "UPDATE account SET balance = balance + $1 WHERE id = $2", in, 2,
                             NULL, err);
    if (!rc)
        rc = dsql_conn_query(conn,
                             "INSERT INTO transfer (id, from_id, to_id, amount) VALUES ($1, $2, "
                             "$3, $4)",
                             row, 4, NULL, err);
    return rc;
}

static void *teller(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    const dsql_retry_policy policy = {.max_retries = 5, .base_delay_ms = 5, .max_delay_ms = 200};
    while (!atomic_load(&stop)) {
        transfer t;
        dsql_uuid u;
        dsql_uuid_v4(&u);
        snprintf(t.key, sizeof t.key, "%s", u.str);
        t.from = (int)(rand_r(&seed) % ACCOUNTS);
        t.to = (int)((unsigned)(t.from + 1 + (int)(rand_r(&seed) % (ACCOUNTS - 1))) % ACCOUNTS);
        t.amount = 1 + rand_r(&seed) % 50;
        dsql_error err = DSQL_ERROR_INIT;
        int64_t t0 = now_ms();
        int rc = dsql_transaction(pool, move_money, &t, &policy, NULL, &err);
        int64_t took = now_ms() - t0;
        for (long prev = atomic_load(&longest_ms); took > prev;)
            if (atomic_compare_exchange_weak(&longest_ms, &prev, took))
                break;
        record(t.key, rc, &err);
    }
    return NULL;
}

/* ---- the faults ---- */

static const char *const faults[] = {
    "occ 0.05",          "oc001 0.03",           "unavailable 0.03",
    "latency 15",        "drop-before-commit 2", "drop-after-commit 2",
    "drop-mid-result 2", "refuse 53300 2",       "refuse 53400 2",
    "stall 1",           "drop-rate 0.01",       "kill-all",
};

static void *chaos(void *arg)
{
    (void)arg;
    unsigned seed = 7;
    while (!atomic_load(&stop)) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "%s", faults[rand_r(&seed) % (sizeof faults / sizeof faults[0])]);
        if (!local_ctl_try(cmd, NULL, 0))
            fprintf(stderr, "control: %s refused\n", cmd);
        usleep(250 * 1000);
        if (rand_r(&seed) % 3 == 0)
            local_ctl_try("reset", NULL, 0);
    }
    local_ctl_try("reset", NULL, 0);
    return NULL;
}

/* ---- checks ---- */

static long backend_long(PGconn *b, const char *sql)
{
    PGresult *r = PQexec(b, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    long v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static bool committed(PGconn *b, const char *key)
{
    const char *params[] = {key};
    PGresult *r =
        PQexecParams(b, "SELECT 1 FROM transfer WHERE id = $1", 1, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    bool yes = PQntuples(r) == 1;
    PQclear(r);
    return yes;
}

static void bank_keeps_every_cent(void **state)
{
    (void)state;
    local_fresh_database(DB);
    PGconn *b = local_backend(DB);
    local_backend_exec(b, "CREATE TABLE account (id int PRIMARY KEY, balance bigint NOT NULL)");
    local_backend_exec(b, "CREATE TABLE transfer (id uuid PRIMARY KEY, from_id int NOT NULL, "
                          "to_id int NOT NULL, amount bigint NOT NULL)");
    char sql[160];
    snprintf(sql, sizeof sql, "INSERT INTO account SELECT g, %d FROM generate_series(0, %d) g",
             START, ACCOUNTS - 1);
    local_backend_exec(b, sql);

    dsql_config cfg = DSQL_CONFIG_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_config_from_env(&cfg, &err), DSQL_OK);
    cfg.database = DB;
    cfg.query_timeout_ms = 3000; /* a stalled session is given up after 3 s */
    cfg.log = on_log;
    dsql_pool_options opts = {.max = 5, .acquire_timeout_ms = 15000};
    assert_int_equal(dsql_pool_open(&cfg, &opts, &pool, &err), DSQL_OK);

    char before[256];
    local_ctl("stats", before, sizeof before);
    pthread_t tid[64], ch;
    for (int i = 0; i < threads; i++)
        assert_int_equal(pthread_create(&tid[i], NULL, teller, (void *)(uintptr_t)(i + 1)), 0);
    assert_int_equal(pthread_create(&ch, NULL, chaos, NULL), 0);
    sleep((unsigned)seconds);
    atomic_store(&stop, true);
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    pthread_join(ch, NULL);
    char after[256];
    local_ctl("stats", after, sizeof after);
    unsigned long inj0 = strtoul(strstr(before, "injected=") + 9, NULL, 10);
    unsigned long inj1 = strtoul(strstr(after, "injected=") + 9, NULL, 10);

    /* The pool is back to idle: nothing borrowed, nothing leaked. */
    dsql_pool_stats st;
    dsql_pool_get_stats(pool, &st);
    int violations = 0;
    if (st.in_use != 0 || st.waiting != 0 || st.open != st.idle) {
        printf("violation: pool not idle after the run: open %d, idle %d, in use %d, waiting %d\n",
               st.open, st.idle, st.in_use, st.waiting);
        violations++;
    }

    /* Every outcome against the table. */
    unsigned long ok = 0, unknown = 0, unknown_committed = 0, errors = 0;
    for (size_t i = 0; i < n_outcomes; i++) {
        int rc = outcomes[i].rc;
        bool there = committed(b, outcomes[i].key);
        if (rc == DSQL_OK) {
            ok++;
            if (!there) {
                printf("violation: transfer %s reported committed is not there\n", outcomes[i].key);
                violations++;
            }
        } else if (rc == DSQL_EUNKNOWN_OUTCOME) {
            unknown++;
            unknown_committed += there;
        } else {
            errors++;
            if (there) {
                printf("violation: transfer %s failed (%s) but is there\n", outcomes[i].key,
                       dsql_status_name(rc));
                violations++;
            }
            if (rc == DSQL_EINTERNAL || rc == DSQL_EINVAL || rc == DSQL_EMISUSE) {
                printf("violation: transfer %s: %s is not a fault's answer\n", outcomes[i].key,
                       dsql_status_name(rc));
                violations++;
            }
        }
    }
    long rows = backend_long(b, "SELECT count(*) FROM transfer");
    if ((unsigned long)rows != ok + unknown_committed) {
        printf("violation: %ld transfers stored, %lu committed + %lu reconciled\n", rows, ok,
               unknown_committed);
        violations++;
    }
    long total = backend_long(b, "SELECT sum(balance) FROM account");
    if (total != (long)ACCOUNTS * START) {
        printf("violation: the bank holds %ld, not %d\n", total, ACCOUNTS * START);
        violations++;
    }
    long off =
        backend_long(b, "SELECT count(*) FROM account a WHERE a.balance <> 1000 "
                        "+ coalesce((SELECT sum(amount) FROM transfer WHERE to_id = a.id), 0) "
                        "- coalesce((SELECT sum(amount) FROM transfer WHERE from_id = a.id), 0)");
    if (off != 0) {
        printf("violation: %ld accounts disagree with the transfers (a half transaction)\n", off);
        violations++;
    }
    if (atomic_load(&longest_ms) > HANG_MS) {
        printf("violation: a call took %ld ms\n", (long)atomic_load(&longest_ms));
        violations++;
    }
    if (leaked[0]) {
        printf("violation: a secret in %s\n", leaked);
        violations++;
    }

    char report[1024];
    snprintf(report, sizeof report,
             "soak: %d s, %d threads: %lu faults injected, %zu transfers tried: %lu committed, "
             "%lu unknown outcomes (%lu committed, %lu not, all reconciled), %lu clear errors "
             "(conflict %lu, unavailable %lu, timeout %lu, connect %lu, lost %lu, limit %lu); "
             "longest call %ld ms; %lu log lines; pool: %llu connects, %llu discards, %llu "
             "retries; %d invariant violations\n",
             seconds, threads, inj1 - inj0, n_outcomes, ok, unknown, unknown_committed,
             unknown - unknown_committed, errors, atomic_load(&by_status[DSQL_ECONFLICT]),
             atomic_load(&by_status[DSQL_EUNAVAILABLE]), atomic_load(&by_status[DSQL_ETIMEOUT]),
             atomic_load(&by_status[DSQL_ECONNECT]), atomic_load(&by_status[DSQL_ECONNLOST]),
             atomic_load(&by_status[DSQL_ELIMIT]), (long)atomic_load(&longest_ms),
             atomic_load(&log_lines), (unsigned long long)st.connects,
             (unsigned long long)st.discards, (unsigned long long)st.tx_retries, violations);
    fputs(report, stdout);
    const char *path = getenv("DSQL_SOAK_REPORT");
    if (path && *path) {
        FILE *f = fopen(path, "a");
        if (f) {
            fputs(report, f);
            fclose(f);
        }
    }
    dsql_pool_close(pool);
    dsql_config_clear(&cfg);
    PQfinish(b);
    local_drop_database(DB);
    free(outcomes);
    assert_int_equal(violations, 0);
    assert_true(ok > 0);
    assert_true(inj1 - inj0 > 0);
}

int main(void)
{
    if (!local_running()) {
        fprintf(stderr, "skipped: dsql-local is not running (run through make test)\n");
        return LOCAL_SKIP;
    }
    const char *s = getenv("DSQL_SOAK_SECONDS"), *t = getenv("DSQL_SOAK_THREADS");
    if (s && atoi(s) > 0)
        seconds = atoi(s);
    if (t && atoi(t) > 0 && atoi(t) <= 64)
        threads = atoi(t);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bank_keeps_every_cent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
