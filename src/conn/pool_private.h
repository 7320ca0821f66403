/*
 * Private to the pool (pool.c) and its endpoint failover (failover.c): the pool's state.
 * Everything here is guarded by the pool's mutex unless said otherwise.
 */
#ifndef DSQL_CONN_POOL_PRIVATE_H
#define DSQL_CONN_POOL_PRIVATE_H

#include <pthread.h>
#include <time.h>

#include "conn/private.h"

#define DEFAULT_MAX         5
#define DEFAULT_ACQUIRE_MS  30000
#define DEFAULT_IDLE_MS     10000
#define DEFAULT_LIFETIME_MS (55 * 60 * 1000)
#define LIFETIME_CAP_MS     (60 * 60 * 1000) /* Aurora DSQL closes connections at 60 min */
#define MIN_IDLE_MS         10
#define MIN_LIFETIME_MS     100
#define MAX_CONNECTIONS     10000 /* Aurora DSQL's per-cluster connection limit */
/* Thread slots of a pool's home table: a thread's slot holds the idle connection it
 * released last (threads beyond this many share slots: only the choice among idle
 * connections changes). */
#define HOME_SLOTS 64

/* One endpoint of the pool (several for a multi-Region cluster). Guarded by mu except the
 * atomics. */
typedef struct ep_state {
    dsql__connect_stats cs;
    atomic_int open;          /* its connections, idle and lent */
    bool down;                /* failed: new connections avoid it until probed healthy */
    bool suspect;             /* a connection to it broke: the next new one is verified */
    int unavailable_streak;   /* attempts in a row that met "server unavailable" */
    int64_t next_probe_ms;    /* prober: when to probe it next */
    int64_t probe_backoff_ms; /* prober: the current wait after a failed probe */
    int64_t healthy_since_ms; /* prober: every probe has succeeded since (0 = not) */
    char last_error[512];     /* why it went down, for the switch's log line */
    uint64_t failovers, switches_to, probes, probe_failures, retired;
} ep_state;

/* Unavailable answers in a row that take an endpoint down. */
#define UNAVAILABLE_STREAK_DOWN 3
#define DEFAULT_SETTLE_MS       60000
#define DEFAULT_PROBE_MS        5000
#define MIN_FAILOVER_MS         10
#define MAX_PROBE_BACKOFF_MS    60000

typedef struct waiter {
    pthread_cond_t cv;
    dsql_conn *conn; /* granted: an idle connection */
    bool slot;       /* granted: the right to open one (already counted in `open`) */
    bool granted;
    struct waiter *next;
} waiter;

struct dsql_pool {
    dsql_db db; /* first: a dsql_pool * is a dsql_db * (kind DSQL__MAGIC_POOL) */
    dsql__spec spec;
    int max, min;
    int64_t acquire_timeout_ms, idle_timeout_ms, max_lifetime_ms, reap_period_ms;

    pthread_mutex_t mu;
    pthread_condattr_t cattr; /* CLOCK_MONOTONIC */
    pthread_cond_t changed;   /* a connection came back or went away (close waits on it) */
    pthread_cond_t reaper_cv;
    pthread_t reaper;
    bool reaper_running;
    bool closing;

    dsql_conn *idle_head, *idle_tail; /* most recently used first */
    dsql_conn *home[HOME_SLOTS];      /* per thread slot: the idle connection that thread
                                         released last, while it is idle (else NULL) */
    int nidle;
    int open;       /* slots: idle + lent + being opened */
    int connecting; /* of which being opened */
    waiter *wq_head, *wq_tail;
    int nwait;

    ep_state eps[DSQL__MAX_ENDPOINTS];
    size_t active; /* the endpoint new connections go to */
    int64_t settle_ms, probe_ms;
    int64_t settle_now_ms;  /* settle_ms, doubled after each failover soon after a failback */
    int64_t failback_at_ms; /* when the last failback happened (0 = none yet) */
    pthread_cond_t prober_cv;
    pthread_t prober;
    bool prober_running;

    uint64_t acquires, waits, timeouts, retires, discards;
    uint64_t statements, round_trips;
    atomic_uint_fast64_t transactions, tx_retries; /* counted without the lock */
    uint64_t prepared, cache_hits, deallocated;
};

/* ---- pool.c, for failover.c (mu held unless said otherwise) ---- */

void dsql__pool_abs_deadline(struct timespec *ts, int64_t deadline_ms);
void dsql__pool_idle_remove(dsql_pool *p, dsql_conn *c);
/* Hands free slots to waiters, oldest first. */
void dsql__pool_grant_slots(dsql_pool *p);
/* Logs and closes a connection whose slot is already given up (no lock held). */
void dsql__pool_retire(dsql_pool *p, dsql_conn *c, const char *why);

/* ---- failover.c, for pool.c ---- */

/* A new connection for a pool of several endpoints (no lock held): to the active endpoint,
 * else to the next one that answers; a connection made elsewhere than the active endpoint
 * moves new connections there. */
int dsql__pool_connect_failover(dsql_pool *p, int64_t deadline_ms, dsql_conn **out,
                                dsql_error *err);
/* A connection to endpoint e broke, or an attempt on it met "server unavailable" (mu
 * held). Returns idle connections to retire (no lock held) with dsql__pool_retire_list. */
dsql_conn *dsql__pool_endpoint_trouble(dsql_pool *p, size_t e, bool unavailable);
void dsql__pool_retire_list(dsql_pool *p, dsql_conn *victims, const char *why);
/* "host:port (region)" of endpoint e, for log lines. */
void dsql__pool_ep_label(const dsql_pool *p, size_t e, char *buf, size_t size);
/* The probe thread of a pool of several endpoints. */
void *dsql__pool_prober_main(void *arg);

#endif
