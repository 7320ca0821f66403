/*
 * The connection pool.
 *
 * One mutex guards the pool's state; connecting, closing and health checks happen
 * outside it. `open` counts slots: idle connections, connections lent out, and
 * connections being opened. Waiters queue in FIFO order; a released connection or a
 * freed slot is granted to the head waiter directly, so a newcomer never overtakes a
 * thread that has been waiting. A reaper thread retires idle connections (idle timeout,
 * above `min`) and old ones (lifetime), and refills the pool up to `min`.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    int nidle;
    int open;       /* slots: idle + lent + being opened */
    int connecting; /* of which being opened */
    waiter *wq_head, *wq_tail;
    int nwait;

    dsql__body_mark *bodies; /* threads inside a transaction body with one of ours */

    ep_state eps[DSQL__MAX_ENDPOINTS];
    size_t active; /* the endpoint new connections go to */
    int64_t settle_ms, probe_ms;
    int64_t settle_now_ms;  /* settle_ms, doubled after each failover soon after a failback */
    int64_t failback_at_ms; /* when the last failback happened (0 = none yet) */
    pthread_cond_t prober_cv;
    pthread_t prober;
    bool prober_running;

    uint64_t acquires, waits, timeouts, retires, discards;
    uint64_t statements, round_trips, transactions, tx_retries;
    uint64_t prepared, cache_hits, deallocated;
};

/* ---- small helpers (called with mu held unless said otherwise) ---- */

static void abs_deadline(struct timespec *ts, int64_t deadline_ms)
{
    ts->tv_sec = (time_t)(deadline_ms / 1000);
    ts->tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
}

static void idle_push(dsql_pool *p, dsql_conn *c)
{
    c->prev = NULL;
    c->next = p->idle_head;
    if (p->idle_head)
        p->idle_head->prev = c;
    else
        p->idle_tail = c;
    p->idle_head = c;
    p->nidle++;
}

static void idle_remove(dsql_pool *p, dsql_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        p->idle_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        p->idle_tail = c->prev;
    c->prev = c->next = NULL;
    p->nidle--;
}

static waiter *wq_pop(dsql_pool *p)
{
    waiter *w = p->wq_head;
    if (w) {
        p->wq_head = w->next;
        if (!p->wq_head)
            p->wq_tail = NULL;
        w->next = NULL;
        p->nwait--;
    }
    return w;
}

static void wq_remove(dsql_pool *p, waiter *w)
{
    waiter **pp = &p->wq_head, *prev = NULL;
    while (*pp && *pp != w) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = w->next;
    if (p->wq_tail == w)
        p->wq_tail = prev;
    w->next = NULL;
    p->nwait--;
}

/* Hands free slots to waiters, oldest first. */
static void grant_slots(dsql_pool *p)
{
    while (!p->closing && p->wq_head && p->open < p->max) {
        waiter *w = wq_pop(p);
        p->open++;
        p->connecting++;
        w->slot = true;
        w->granted = true;
        pthread_cond_signal(&w->cv);
    }
}

/* A slot was given up (a connection closed or a connect failed). */
static void slot_freed(dsql_pool *p)
{
    p->open--;
    grant_slots(p);
    pthread_cond_broadcast(&p->changed);
}

/* Puts a healthy connection back: to the oldest waiter, else on the idle list. */
static void give_back(dsql_pool *p, dsql_conn *c)
{
    waiter *w = p->closing ? NULL : wq_pop(p);
    if (w) {
        w->conn = c;
        w->granted = true;
        pthread_cond_signal(&w->cv);
        return;
    }
    c->idle_since_ms = dsql__mono_ms();
    idle_push(p, c);
    pthread_cond_broadcast(&p->changed);
}

int64_t dsql__pool_lifetime_deadline(int64_t created_ms, int64_t max_lifetime_ms, double unit)
{
    /* Up to 10 % below the lifetime, so connections opened together do not all retire
     * (and reconnect) in the same instant. */
    int64_t jitter = (int64_t)(unit * (double)max_lifetime_ms * 0.10);
    return created_ms + max_lifetime_ms - jitter;
}

static int connect_failover(dsql_pool *p, int64_t deadline_ms, dsql_conn **out, dsql_error *err);

/* Opens a connection for a slot this thread holds (no lock held). On failure the slot is
 * released. */
static int fill_slot(dsql_pool *p, int64_t deadline_ms, dsql_conn **out, dsql_error *err)
{
    dsql_conn *c = NULL;
    int rc = p->spec.nep == 1 ? dsql__connect(&p->spec, 0, deadline_ms, &p->eps[0].cs, &c, err)
                              : connect_failover(p, deadline_ms, &c, err);
    pthread_mutex_lock(&p->mu);
    p->connecting--;
    if (rc) {
        slot_freed(p);
        pthread_mutex_unlock(&p->mu);
        return rc;
    }
    atomic_fetch_add(&p->eps[c->ep].open, 1);
    c->pool = p;
    c->expires_ms =
        dsql__pool_lifetime_deadline(c->created_ms, p->max_lifetime_ms, dsql__random_unit());
    pthread_mutex_unlock(&p->mu);
    *out = c;
    return DSQL_OK;
}

static void retire(dsql_pool *p, dsql_conn *c, const char *why)
{
    char name[300];
    dsql__endpoint_name(&p->spec.ep[c->ep], name, sizeof name);
    dsql__log(p->spec.log, p->spec.log_ctx, DSQL_LOG_INFO,
              "Retired connection to %s (%s, age %.1f s)", name, why,
              (double)(dsql__mono_ms() - c->created_ms) / 1000.0);
    atomic_fetch_sub(&p->eps[c->ep].open, 1);
    dsql__conn_free(c);
}

/* ---- endpoints: failover and failback (several endpoints only) ---- */

/* Takes the idle connections to endpoint e off the idle list (mu held); the caller retires
 * them (no lock held) once their slots are given up here. */
static dsql_conn *take_idle_of(dsql_pool *p, size_t e)
{
    dsql_conn *victims = NULL;
    for (dsql_conn *c = p->idle_head, *next; c; c = next) {
        next = c->next;
        if (c->ep != e)
            continue;
        idle_remove(p, c);
        p->open--;
        p->retires++;
        p->eps[e].retired++;
        c->next = victims;
        victims = c;
    }
    if (victims) {
        grant_slots(p);
        pthread_cond_broadcast(&p->changed);
    }
    return victims;
}

static void retire_list(dsql_pool *p, dsql_conn *victims, const char *why)
{
    while (victims) {
        dsql_conn *c = victims;
        victims = c->next;
        retire(p, c, why);
    }
}

static void ep_label(const dsql_pool *p, size_t e, char *buf, size_t size)
{
    const dsql__endpoint *ep = &p->spec.ep[e];
    char name[280];
    dsql__endpoint_name(ep, name, sizeof name);
    snprintf(buf, size, "%s%s%s%s", name, ep->region ? " (" : "", ep->region ? ep->region : "",
             ep->region ? ")" : "");
}

/* New connections go to endpoint e from now on (mu held); the idle connections to the
 * others are handed back for retiring. The log line is written to line. */
static dsql_conn *switch_to(dsql_pool *p, size_t e, bool failback, char *line, size_t size)
{
    size_t old = p->active;
    char from[300], to[300];
    ep_label(p, old, from, sizeof from);
    ep_label(p, e, to, sizeof to);
    p->active = e;
    p->eps[e].switches_to++;
    int64_t now = dsql__mono_ms();
    char damp[160] = "";
    if (failback) {
        p->failback_at_ms = now;
        snprintf(line, size,
                 "Failback: new connections go to the preferred endpoint %s again (it answered "
                 "every probe for %lld ms); connections to %s are retired",
                 to, (long long)p->settle_now_ms, from);
    } else {
        p->eps[old].failovers++;
        /* Against flapping: failing again soon after a failback doubles the time the
         * preferred endpoint must stay healthy before the next one (up to 32 times). */
        if (old == p->spec.preferred && p->settle_ms > 0) {
            if (p->failback_at_ms && now - p->failback_at_ms < 2 * p->settle_now_ms) {
                if (p->settle_now_ms < p->settle_ms * 32)
                    p->settle_now_ms *= 2;
                snprintf(damp, sizeof damp,
                         "; it failed again %lld ms after the failback, so the next failback "
                         "waits for %lld ms of health",
                         (long long)(now - p->failback_at_ms), (long long)p->settle_now_ms);
            } else {
                p->settle_now_ms = p->settle_ms;
            }
        }
        snprintf(line, size,
                 "Failover: new connections go to %s instead of %s (%s); connections to %s are "
                 "retired%s",
                 to, from, p->eps[old].last_error[0] ? p->eps[old].last_error : "it failed", from,
                 damp);
    }
    if (e != p->spec.preferred) {
        ep_state *pref = &p->eps[p->spec.preferred];
        pref->healthy_since_ms = 0;
        pref->probe_backoff_ms = p->probe_ms;
        pref->next_probe_ms = dsql__mono_ms() + p->probe_ms;
        pthread_cond_signal(&p->prober_cv);
    }
    dsql_conn *victims = NULL;
    for (size_t i = 0; i < p->spec.nep; i++) {
        if (i == e)
            continue;
        dsql_conn *v = take_idle_of(p, i);
        while (v) {
            dsql_conn *next = v->next;
            v->next = victims;
            victims = v;
            v = next;
        }
    }
    return victims;
}

/* Endpoint e failed (mu held): remembered as down, with the reason for the log line. */
static void mark_down(dsql_pool *p, size_t e, const char *why)
{
    ep_state *st = &p->eps[e];
    if (why)
        snprintf(st->last_error, sizeof st->last_error, "%s", why);
    if (!st->down) {
        st->down = true;
        st->healthy_since_ms = 0;
    }
}

/* The endpoints to try, in order: the active one, then the preferred, then the rest as
 * listed; endpoints known down come after every other (mu held). */
static size_t candidates(dsql_pool *p, size_t *order, bool *verify)
{
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t seq[DSQL__MAX_ENDPOINTS + 2], m = 0;
        seq[m++] = p->active;
        seq[m++] = p->spec.preferred;
        for (size_t i = 0; i < p->spec.nep; i++)
            seq[m++] = i;
        for (size_t k = 0; k < m; k++) {
            size_t e = seq[k];
            bool dup = false;
            for (size_t j = 0; j < n; j++)
                dup = dup || order[j] == e;
            if (dup || p->eps[e].down != (pass == 1))
                continue;
            verify[n] = p->eps[e].suspect || p->eps[e].down;
            order[n++] = e;
        }
    }
    return n;
}

/* A new connection for a pool of several endpoints: to the active endpoint, else to the
 * next one that answers (each tried within connect_timeout and the caller's deadline). A
 * connection made elsewhere than the active endpoint moves new connections there. */
static int connect_failover(dsql_pool *p, int64_t deadline_ms, dsql_conn **out, dsql_error *err)
{
    size_t order[DSQL__MAX_ENDPOINTS];
    bool verify[DSQL__MAX_ENDPOINTS];
    pthread_mutex_lock(&p->mu);
    size_t n = candidates(p, order, verify);
    pthread_mutex_unlock(&p->mu);
    int64_t budget = (int64_t)p->spec.connect_timeout_s * 1000;
    dsql__strbuf why = DSQL__STRBUF_INIT;
    int rc = DSQL_ECONNECT;
    for (size_t k = 0; k < n; k++) {
        size_t e = order[k];
        if (k > 0 && dsql__mono_ms() >= deadline_ms)
            break;
        dsql_error e1 = DSQL_ERROR_INIT;
        dsql_conn *c = NULL;
        /* Each attempt is bounded by connect_timeout (and refusals are waited out no
         * longer, dsql__connect), all of them by the acquire deadline. */
        rc = dsql__connect(&p->spec, e, deadline_ms, &p->eps[e].cs, &c, &e1);
        /* A suspect endpoint must also answer a statement: a stalled server may still
         * accept connections. */
        if (rc == DSQL_OK && verify[k] && (rc = dsql__conn_verify(c, budget, &e1)) != DSQL_OK) {
            atomic_fetch_add(&p->eps[e].cs.failures, 1);
            dsql__conn_free(c);
            c = NULL;
            if (!dsql__connect_failure_is_endpoint(rc))
                rc = DSQL_ECONNECT;
        }
        if (rc == DSQL_OK) {
            char line[2048] = "";
            dsql_conn *victims = NULL;
            pthread_mutex_lock(&p->mu);
            p->eps[e].suspect = false;
            p->eps[e].down = false;
            if (e != p->active)
                victims = switch_to(p, e, false, line, sizeof line);
            pthread_mutex_unlock(&p->mu);
            if (line[0])
                dsql__log(p->spec.log, p->spec.log_ctx, DSQL_LOG_WARN, "%s", line);
            retire_list(p, victims, "endpoint switched");
            dsql__sb_free(&why);
            *out = c;
            return DSQL_OK;
        }
        if (!dsql__connect_failure_is_endpoint(rc)) {
            if (err)
                *err = e1;
            dsql__sb_free(&why);
            return rc;
        }
        char name[300];
        ep_label(p, e, name, sizeof name);
        dsql__sb_appendf(&why, "%s%s: %s", why.len ? "; " : "", name, e1.message);
        pthread_mutex_lock(&p->mu);
        mark_down(p, e, e1.message);
        pthread_mutex_unlock(&p->mu);
        if (k + 1 < n)
            dsql__log(p->spec.log, p->spec.log_ctx, DSQL_LOG_WARN,
                      "Endpoint %s failed (%s); trying the next endpoint", name,
                      dsql_status_name(rc));
    }
    rc = dsql_error_set(err, rc, "could not connect to any of the %zu endpoints: %s", p->spec.nep,
                        why.oom ? "out of memory" : dsql__sb_str(&why));
    dsql__sb_free(&why);
    return rc;
}

/* A connection to endpoint e broke (lost, no answer in time) or an attempt on it met
 * "server unavailable" (mu held): its idle connections are retired, and the next new one
 * is verified; unavailable answers in a row take it down. Returns connections to retire. */
static dsql_conn *endpoint_trouble(dsql_pool *p, size_t e, bool unavailable)
{
    ep_state *st = &p->eps[e];
    if (unavailable && ++st->unavailable_streak >= UNAVAILABLE_STREAK_DOWN)
        mark_down(p, e, "answered \"server unavailable\" repeatedly");
    if (st->suspect && !st->down)
        return NULL;
    st->suspect = true;
    return take_idle_of(p, e);
}

/* The prober (pools of several endpoints): after a failover, probes the preferred endpoint
 * (a connection and SELECT 1) with backoff while it fails; once it has answered every probe
 * for settle_now_ms, new connections go back to it. */
static void *prober_main(void *arg)
{
    dsql_pool *p = arg;
    size_t pref = p->spec.preferred;
    ep_state *st = &p->eps[pref];
    pthread_mutex_lock(&p->mu);
    while (!p->closing) {
        int64_t now = dsql__mono_ms();
        if (p->active == pref || p->settle_ms < 0 || now < st->next_probe_ms) {
            struct timespec ts;
            int64_t until = p->active == pref || p->settle_ms < 0 ? now + 60000 : st->next_probe_ms;
            abs_deadline(&ts, until);
            pthread_cond_timedwait(&p->prober_cv, &p->mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&p->mu);
        int64_t budget = (int64_t)p->spec.connect_timeout_s * 1000;
        dsql_conn *c = NULL;
        dsql_error e = DSQL_ERROR_INIT;
        int rc = dsql__connect(&p->spec, pref, dsql__mono_ms() + budget, &st->cs, &c, &e);
        if (rc == DSQL_OK)
            rc = dsql__conn_verify(c, budget, &e);
        dsql__conn_free(c);
        char line[2048] = "";
        dsql_conn *victims = NULL;
        pthread_mutex_lock(&p->mu);
        now = dsql__mono_ms();
        st->probes++;
        if (rc == DSQL_OK && !p->closing && p->active != pref) {
            if (!st->healthy_since_ms)
                st->healthy_since_ms = now;
            st->probe_backoff_ms = p->probe_ms;
            if (now - st->healthy_since_ms >= p->settle_now_ms) {
                st->down = st->suspect = false;
                st->unavailable_streak = 0;
                victims = switch_to(p, pref, true, line, sizeof line);
            } else {
                int64_t settled = st->healthy_since_ms + p->settle_now_ms;
                st->next_probe_ms = now + p->probe_ms < settled ? now + p->probe_ms : settled;
            }
        } else if (rc != DSQL_OK) {
            st->probe_failures++;
            st->healthy_since_ms = 0;
            int64_t cap =
                p->probe_ms * 32 > MAX_PROBE_BACKOFF_MS ? p->probe_ms * 32 : MAX_PROBE_BACKOFF_MS;
            st->next_probe_ms = now + st->probe_backoff_ms;
            st->probe_backoff_ms = st->probe_backoff_ms * 2 > cap ? cap : st->probe_backoff_ms * 2;
            snprintf(st->last_error, sizeof st->last_error, "%s", e.message);
        }
        pthread_mutex_unlock(&p->mu);
        if (line[0])
            dsql__log(p->spec.log, p->spec.log_ctx, DSQL_LOG_WARN, "%s", line);
        else if (rc != DSQL_OK)
            dsql__log(p->spec.log, p->spec.log_ctx, DSQL_LOG_DEBUG,
                      "Probe of the preferred endpoint failed: %s", e.message);
        retire_list(p, victims, "endpoint switched");
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- acquire / release ---- */

/* The checks a connection passes before being lent (no lock held). */
static const char *unfit_reason(dsql_pool *p, dsql_conn *c, int64_t now)
{
    (void)p;
    if (c->expires_ms && now >= c->expires_ms)
        return "lifetime reached";
    if (!dsql__conn_alive(c))
        return "connection lost while idle";
    return NULL;
}

int dsql_pool_acquire(dsql_pool *p, dsql_conn **out, dsql_error *err)
{
    if (!out)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_pool_acquire: conn is NULL");
    *out = NULL;
    if (!dsql__is_pool(p))
        return dsql_error_set(err, DSQL_EINVAL, "dsql_pool_acquire: not a dsql_pool");
    int64_t deadline = dsql__mono_ms() + p->acquire_timeout_ms;

    pthread_mutex_lock(&p->mu);
    if (p->closing) {
        pthread_mutex_unlock(&p->mu);
        return dsql_error_set(err, DSQL_ECLOSED, "the pool is closed");
    }
    for (dsql__body_mark *b = p->bodies; b; b = b->next) {
        if (pthread_equal(b->thread, pthread_self())) {
            pthread_mutex_unlock(&p->mu);
            return dsql_error_set(
                err, DSQL_EMISUSE,
                "a connection was asked of the pool inside a transaction body running on "
                "the same pool (was the pool passed where the body's dsql_conn belongs?): "
                "statements run that way are not part of the transaction, and the acquire "
                "could wait for the very connection this thread holds; use the dsql_conn "
                "the body was given");
        }
    }
    p->acquires++;
    dsql_conn *c = NULL;
    bool slot = false;
    if (!p->wq_head && p->idle_head) {
        c = p->idle_head;
        idle_remove(p, c);
    } else if (!p->wq_head && p->open < p->max) {
        p->open++;
        p->connecting++;
        slot = true;
    } else {
        waiter w = {.conn = NULL};
        pthread_cond_init(&w.cv, &p->cattr);
        if (p->wq_tail)
            p->wq_tail->next = &w;
        else
            p->wq_head = &w;
        p->wq_tail = &w;
        p->nwait++;
        p->waits++;
        struct timespec ts;
        abs_deadline(&ts, deadline);
        int wr = 0;
        while (!w.granted && !p->closing && wr != ETIMEDOUT)
            wr = pthread_cond_timedwait(&w.cv, &p->mu, &ts);
        pthread_cond_destroy(&w.cv);
        if (!w.granted) {
            wq_remove(p, &w);
            bool closing = p->closing;
            if (!closing)
                p->timeouts++;
            else
                pthread_cond_broadcast(&p->changed); /* close waits for waiters to leave */
            int open = p->open, max = p->max, nwait = p->nwait;
            long long timeout = (long long)p->acquire_timeout_ms;
            pthread_mutex_unlock(&p->mu); /* p may be freed from here on if closing */
            if (closing)
                return dsql_error_set(err, DSQL_ECLOSED, "the pool was closed while waiting");
            return dsql_error_set(err, DSQL_ETIMEOUT,
                                  "no connection available within %lld ms (pool max %d, %d "
                                  "open, %d other waiters): raise max or acquire_timeout_ms, "
                                  "or release connections sooner",
                                  timeout, max, open, nwait);
        }
        c = w.conn;
        slot = w.slot;
    }
    pthread_mutex_unlock(&p->mu);

    if (slot) {
        int rc = fill_slot(p, deadline, &c, err);
        if (rc)
            return rc;
    } else {
        const char *why = unfit_reason(p, c, dsql__mono_ms());
        if (why) {
            /* Keep the slot and open a fresh connection in its place. */
            pthread_mutex_lock(&p->mu);
            if (!strcmp(why, "lifetime reached"))
                p->retires++;
            else
                p->discards++;
            p->connecting++;
            pthread_mutex_unlock(&p->mu);
            retire(p, c, why);
            c = NULL;
            int rc = fill_slot(p, deadline, &c, err);
            if (rc)
                return rc;
        }
    }
    c->stats_at_acquire = c->stats;
    *out = c;
    return DSQL_OK;
}

void dsql_pool_release(dsql_pool *p, dsql_conn *c)
{
    if (!dsql__is_pool(p) || !dsql__is_conn(c) || c->pool != p)
        return;
    /* Outside the lock: a transaction left open is rolled back (one round trip). */
    bool ok = dsql__conn_reset_tx(c);
    int64_t now = dsql__mono_ms();
    bool expired = c->expires_ms && now >= c->expires_ms;

    pthread_mutex_lock(&p->mu);
    p->statements += c->stats.statements - c->stats_at_acquire.statements;
    p->round_trips += c->stats.round_trips - c->stats_at_acquire.round_trips;
    p->prepared += c->stats.prepared - c->stats_at_acquire.prepared;
    p->cache_hits += c->stats.cache_hits - c->stats_at_acquire.cache_hits;
    p->deallocated += c->stats.deallocated - c->stats_at_acquire.deallocated;
    /* New connections go elsewhere now, or are about to (its endpoint is down). */
    bool moved = c->ep != p->active || p->eps[c->ep].down;
    if (ok && !expired && !p->closing && !moved) {
        give_back(p, c);
        pthread_mutex_unlock(&p->mu);
        return;
    }
    dsql_conn *victims = NULL;
    if (!ok) {
        p->discards++;
        /* Several endpoints: a connection that broke under a call (lost, or no answer in
         * time) casts doubt on its endpoint. */
        if (p->spec.nep > 1 && !p->closing)
            victims = endpoint_trouble(p, c->ep, false);
    } else {
        p->retires++;
        if (moved && !expired && !p->closing)
            p->eps[c->ep].retired++;
    }
    pthread_mutex_unlock(&p->mu);
    retire_list(p, victims, "its endpoint is suspect");
    /* The slot is still held, so a concurrent dsql_pool_close waits for this. */
    retire(p, c,
           !ok       ? "broken"
           : expired ? "lifetime reached"
           : moved   ? "endpoint switched"
                     : "pool closing");
    pthread_mutex_lock(&p->mu);
    slot_freed(p);
    pthread_mutex_unlock(&p->mu);
}

/* ---- reaper ---- */

/* True when an idle connection has input waiting (no I/O beyond a zero-timeout poll). */
static bool socket_readable(dsql_conn *c)
{
    struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN};
    return pfd.fd < 0 || poll(&pfd, 1, 0) != 0;
}

static void *reaper_main(void *arg)
{
    dsql_pool *p = arg;
    int64_t refill_after = 0;
    pthread_mutex_lock(&p->mu);
    while (!p->closing) {
        int64_t now = dsql__mono_ms();
        dsql_conn *victims = NULL;
        /* Oldest idle first; keep `min` open. */
        for (dsql_conn *c = p->idle_tail, *prev; c; c = prev) {
            prev = c->prev;
            bool old = c->expires_ms && now >= c->expires_ms;
            bool idle = now - c->idle_since_ms >= p->idle_timeout_ms && p->open > p->min;
            if (old || idle) {
                idle_remove(p, c);
                p->open--;
                p->retires++;
                c->next = victims;
                c->idle_since_ms = old ? -1 : now - c->idle_since_ms; /* for the log line */
                victims = c;
            }
        }
        if (victims) {
            grant_slots(p);
            pthread_cond_broadcast(&p->changed);
            pthread_mutex_unlock(&p->mu);
            while (victims) {
                dsql_conn *c = victims;
                victims = c->next;
                char why[64];
                if (c->idle_since_ms < 0)
                    snprintf(why, sizeof why, "lifetime reached");
                else
                    snprintf(why, sizeof why, "idle %.1f s", (double)c->idle_since_ms / 1000.0);
                retire(p, c, why);
            }
            pthread_mutex_lock(&p->mu);
        }
        /* Idle connections the server spoke to (a termination notice, EOF) are checked
         * outside the lock; healthy ones go back, dead ones are dropped. */
        dsql_conn *suspects = NULL;
        for (dsql_conn *c = p->idle_head, *next; c; c = next) {
            next = c->next;
            if (socket_readable(c)) {
                idle_remove(p, c);
                c->next = suspects;
                suspects = c;
            }
        }
        if (suspects) {
            pthread_mutex_unlock(&p->mu);
            while (suspects) {
                dsql_conn *c = suspects;
                suspects = c->next;
                c->next = NULL;
                bool alive = dsql__conn_alive(c);
                pthread_mutex_lock(&p->mu);
                if (alive) {
                    give_back(p, c);
                } else {
                    p->discards++;
                    slot_freed(p);
                }
                pthread_mutex_unlock(&p->mu);
                if (!alive)
                    retire(p, c, "connection lost while idle");
            }
            pthread_mutex_lock(&p->mu);
        }
        /* Refill to `min`, one connection at a time, backing off after a failure. */
        while (!p->closing && p->open < p->min && dsql__mono_ms() >= refill_after) {
            p->open++;
            p->connecting++;
            pthread_mutex_unlock(&p->mu);
            dsql_conn *c = NULL;
            dsql_error e;
            int rc =
                fill_slot(p, dsql__mono_ms() + (int64_t)p->spec.connect_timeout_s * 1000, &c, &e);
            pthread_mutex_lock(&p->mu);
            if (rc) {
                refill_after = dsql__mono_ms() + 1000;
                break;
            }
            give_back(p, c);
        }
        struct timespec ts;
        abs_deadline(&ts, dsql__mono_ms() + p->reap_period_ms);
        pthread_cond_timedwait(&p->reaper_cv, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- open / close ---- */

int dsql__pool_options_resolve(const dsql_pool_options *o, dsql_pool_options *out, dsql_error *err)
{
    dsql_pool_options d = DSQL_POOL_OPTIONS_INIT;
    if (!o)
        o = &d;
    if (out != o)
        memset(out, 0, sizeof *out); /* the reserved space too */
    if (o->max < 0 || o->max > MAX_CONNECTIONS)
        return dsql_error_set(err, DSQL_EINVAL,
                              "pool option max must be 1..%d (0 = default %d), not %d",
                              MAX_CONNECTIONS, DEFAULT_MAX, o->max);
    if (o->min < 0)
        return dsql_error_set(err, DSQL_EINVAL, "pool option min must not be negative (got %d)",
                              o->min);
    out->max = o->max ? o->max : DEFAULT_MAX;
    out->min = o->min;
    if (out->min > out->max)
        return dsql_error_set(err, DSQL_EINVAL, "pool option min (%d) is larger than max (%d)",
                              out->min, out->max);
    if (o->acquire_timeout_ms < 0)
        return dsql_error_set(err, DSQL_EINVAL,
                              "pool option acquire_timeout_ms must not be negative (got %lld)",
                              (long long)o->acquire_timeout_ms);
    if (o->idle_timeout_ms < 0 || (o->idle_timeout_ms && o->idle_timeout_ms < MIN_IDLE_MS))
        return dsql_error_set(err, DSQL_EINVAL,
                              "pool option idle_timeout_ms must be at least %d (0 = default "
                              "%d), not %lld",
                              MIN_IDLE_MS, DEFAULT_IDLE_MS, (long long)o->idle_timeout_ms);
    if (o->max_lifetime_ms < 0 || (o->max_lifetime_ms && (o->max_lifetime_ms < MIN_LIFETIME_MS ||
                                                          o->max_lifetime_ms >= LIFETIME_CAP_MS)))
        return dsql_error_set(err, DSQL_EINVAL,
                              "pool option max_lifetime_ms must be %d..%d, below Aurora DSQL's "
                              "60-minute connection cap (0 = default 55 min), not %lld",
                              MIN_LIFETIME_MS, LIFETIME_CAP_MS - 1, (long long)o->max_lifetime_ms);
    if (o->failback_settle_ms < -1 ||
        (o->failback_settle_ms > 0 && o->failback_settle_ms < MIN_FAILOVER_MS))
        return dsql_error_set(err, DSQL_EINVAL,
                              "pool option failback_settle_ms must be -1 (never fail back), 0 "
                              "(default %d) or at least %d, not %lld",
                              DEFAULT_SETTLE_MS, MIN_FAILOVER_MS, (long long)o->failback_settle_ms);
    if (o->probe_interval_ms < 0 ||
        (o->probe_interval_ms > 0 && o->probe_interval_ms < MIN_FAILOVER_MS))
        return dsql_error_set(err, DSQL_EINVAL,
                              "pool option probe_interval_ms must be 0 (default %d) or at least "
                              "%d, not %lld",
                              DEFAULT_PROBE_MS, MIN_FAILOVER_MS, (long long)o->probe_interval_ms);
    out->failback_settle_ms = o->failback_settle_ms ? o->failback_settle_ms : DEFAULT_SETTLE_MS;
    out->probe_interval_ms = o->probe_interval_ms ? o->probe_interval_ms : DEFAULT_PROBE_MS;
    out->acquire_timeout_ms = o->acquire_timeout_ms ? o->acquire_timeout_ms : DEFAULT_ACQUIRE_MS;
    out->idle_timeout_ms = o->idle_timeout_ms ? o->idle_timeout_ms : DEFAULT_IDLE_MS;
    out->max_lifetime_ms = o->max_lifetime_ms ? o->max_lifetime_ms : DEFAULT_LIFETIME_MS;
    return DSQL_OK;
}

static int resolve_options(dsql_pool *p, const dsql_pool_options *o, dsql_error *err)
{
    dsql_pool_options r;
    int rc = dsql__pool_options_resolve(o, &r, err);
    if (rc)
        return rc;
    p->max = r.max;
    p->min = r.min;
    p->acquire_timeout_ms = r.acquire_timeout_ms;
    p->idle_timeout_ms = r.idle_timeout_ms;
    p->max_lifetime_ms = r.max_lifetime_ms;
    p->settle_ms = p->settle_now_ms = r.failback_settle_ms;
    p->probe_ms = r.probe_interval_ms;
    int64_t shortest =
        p->idle_timeout_ms < p->max_lifetime_ms ? p->idle_timeout_ms : p->max_lifetime_ms;
    p->reap_period_ms = shortest / 4;
    if (p->reap_period_ms < 5)
        p->reap_period_ms = 5;
    if (p->reap_period_ms > 1000)
        p->reap_period_ms = 1000;
    return DSQL_OK;
}

int dsql_pool_open(const dsql_config *cfg, const dsql_pool_options *opts, dsql_pool **out,
                   dsql_error *err)
{
    if (!out)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_pool_open: out is NULL");
    *out = NULL;
    dsql_pool *p = calloc(1, sizeof *p);
    if (!p)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    int rc = resolve_options(p, opts, err);
    if (rc) {
        free(p);
        return rc;
    }
    rc = dsql__spec_init(&p->spec, cfg, err);
    if (rc) {
        free(p);
        return rc;
    }
    dsql__db_init(&p->db, DSQL__MAGIC_POOL);
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_init(&p->cattr);
    pthread_condattr_setclock(&p->cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&p->changed, &p->cattr);
    pthread_cond_init(&p->reaper_cv, &p->cattr);
    pthread_cond_init(&p->prober_cv, &p->cattr);
    p->active = p->spec.preferred;

    /* Open `min` connections now, so a misconfiguration shows at once. */
    int64_t deadline = dsql__mono_ms() + p->acquire_timeout_ms;
    for (int i = 0; i < p->min; i++) {
        pthread_mutex_lock(&p->mu);
        p->open++;
        p->connecting++;
        pthread_mutex_unlock(&p->mu);
        dsql_conn *c = NULL;
        rc = fill_slot(p, deadline, &c, err);
        if (rc) {
            dsql__err_prefix(err, "opening the pool's %d minimum connections", p->min);
            dsql_pool_close(p);
            return rc;
        }
        pthread_mutex_lock(&p->mu);
        give_back(p, c);
        pthread_mutex_unlock(&p->mu);
    }
    if (pthread_create(&p->reaper, NULL, reaper_main, p) != 0) {
        dsql_pool_close(p);
        return dsql_error_set(err, DSQL_ENOMEM, "could not start the pool's maintenance thread");
    }
    p->reaper_running = true;
    if (p->spec.nep > 1) {
        if (pthread_create(&p->prober, NULL, prober_main, p) != 0) {
            dsql_pool_close(p);
            return dsql_error_set(err, DSQL_ENOMEM, "could not start the pool's probe thread");
        }
        p->prober_running = true;
    }
    dsql__strbuf eps = DSQL__STRBUF_INIT;
    for (size_t i = 0; i < p->spec.nep; i++) {
        char label[300];
        ep_label(p, i, label, sizeof label);
        dsql__sb_appendf(&eps, "%s%s%s", i ? ", " : "", label,
                         p->spec.nep > 1 && i == p->spec.preferred ? " preferred" : "");
    }
    dsql__log(p->spec.log, p->spec.log_ctx, DSQL_LOG_INFO,
              "Pool opened for %s (max %d, min %d, acquire timeout %lld ms, idle timeout %lld "
              "ms, lifetime %lld ms)",
              eps.oom ? "?" : dsql__sb_str(&eps), p->max, p->min, (long long)p->acquire_timeout_ms,
              (long long)p->idle_timeout_ms, (long long)p->max_lifetime_ms);
    dsql__sb_free(&eps);
    *out = p;
    return DSQL_OK;
}

void dsql_pool_close(dsql_pool *p)
{
    if (!dsql__is_pool(p))
        return;
    pthread_mutex_lock(&p->mu);
    p->closing = true;
    /* Waiters give up with DSQL_ECLOSED. */
    for (waiter *w = p->wq_head; w; w = w->next)
        pthread_cond_signal(&w->cv);
    pthread_cond_signal(&p->reaper_cv);
    pthread_cond_signal(&p->prober_cv);
    pthread_mutex_unlock(&p->mu);
    if (p->reaper_running)
        pthread_join(p->reaper, NULL);
    if (p->prober_running)
        pthread_join(p->prober, NULL);

    pthread_mutex_lock(&p->mu);
    /* Connections lent out come back through dsql_pool_release (closed there). */
    while (p->open > p->nidle || p->nwait > 0)
        pthread_cond_wait(&p->changed, &p->mu);
    dsql_conn *c = p->idle_head;
    p->idle_head = p->idle_tail = NULL;
    p->open -= p->nidle;
    p->nidle = 0;
    pthread_mutex_unlock(&p->mu);
    while (c) {
        dsql_conn *next = c->next;
        dsql__conn_free(c);
        c = next;
    }
    dsql__log(p->spec.log, p->spec.log_ctx, DSQL_LOG_INFO, "Pool closed");
    pthread_cond_destroy(&p->changed);
    pthread_cond_destroy(&p->reaper_cv);
    pthread_cond_destroy(&p->prober_cv);
    pthread_condattr_destroy(&p->cattr);
    pthread_mutex_destroy(&p->mu);
    dsql__spec_free(&p->spec);
    dsql__db_close(&p->db);
    free(p);
}

void dsql_pool_get_stats(dsql_pool *p, dsql_pool_stats *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    if (!dsql__is_pool(p))
        return;
    pthread_mutex_lock(&p->mu);
    s->open = p->open - p->connecting;
    s->idle = p->nidle;
    s->in_use = p->open - p->nidle - p->connecting;
    s->waiting = p->nwait;
    s->acquires = p->acquires;
    s->waits = p->waits;
    s->timeouts = p->timeouts;
    s->retires = p->retires;
    s->discards = p->discards;
    s->statements = p->statements;
    s->round_trips = p->round_trips;
    s->prepared = p->prepared;
    s->cache_hits = p->cache_hits;
    s->deallocated = p->deallocated;
    s->transactions = p->transactions;
    s->tx_retries = p->tx_retries;
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < p->spec.nep; i++) {
        s->connects += atomic_load(&p->eps[i].cs.connects);
        s->token_mints += atomic_load(&p->eps[i].cs.token_mints);
        s->failures += atomic_load(&p->eps[i].cs.failures);
    }
}

size_t dsql_pool_endpoint_count(dsql_pool *p)
{
    return dsql__is_pool(p) ? p->spec.nep : 0;
}

int dsql_pool_get_endpoint_stats(dsql_pool *p, size_t index, dsql_endpoint_stats *s,
                                 dsql_error *err)
{
    if (!dsql__is_pool(p))
        return dsql_error_set(err, DSQL_EINVAL, "dsql_pool_get_endpoint_stats: not a dsql_pool");
    if (!s)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_pool_get_endpoint_stats: stats is NULL");
    if (index >= p->spec.nep)
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_pool_get_endpoint_stats: index %zu is past the pool's last "
                              "endpoint (it has %zu)",
                              index, p->spec.nep);
    memset(s, 0, sizeof *s);
    const dsql__endpoint *ep = &p->spec.ep[index];
    ep_state *st = &p->eps[index];
    s->host = ep->host;
    s->region = ep->region;
    s->port = atoi(ep->port);
    s->preferred = index == p->spec.preferred;
    pthread_mutex_lock(&p->mu);
    s->active = index == p->active;
    s->down = st->down;
    for (dsql_conn *c = p->idle_head; c; c = c->next)
        s->idle += c->ep == index;
    s->open = atomic_load(&st->open);
    s->failovers = st->failovers;
    s->switches_to = st->switches_to;
    s->probes = st->probes;
    s->probe_failures = st->probe_failures;
    s->retired = st->retired;
    pthread_mutex_unlock(&p->mu);
    s->in_use = s->open - s->idle;
    if (s->in_use < 0)
        s->in_use = 0;
    s->connects = atomic_load(&st->cs.connects);
    s->token_mints = atomic_load(&st->cs.token_mints);
    s->failures = atomic_load(&st->cs.failures);
    return DSQL_OK;
}

void dsql__pool_logger(dsql_pool *p, dsql_log_fn *fn, void **ctx)
{
    *fn = p->spec.log;
    *ctx = p->spec.log_ctx;
}

void dsql__pool_body_enter(dsql_pool *p, dsql__body_mark *mark)
{
    mark->thread = pthread_self();
    pthread_mutex_lock(&p->mu);
    mark->next = p->bodies;
    p->bodies = mark;
    pthread_mutex_unlock(&p->mu);
}

void dsql__pool_body_leave(dsql_pool *p, dsql__body_mark *mark)
{
    pthread_mutex_lock(&p->mu);
    for (dsql__body_mark **pp = &p->bodies; *pp; pp = &(*pp)->next) {
        if (*pp == mark) {
            *pp = mark->next;
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
}

int dsql__pool_attempt_conn(dsql_pool *p, dsql_conn **held, dsql_conn **conn, dsql_error *err)
{
    if (*held) {
        *conn = *held;
        *held = NULL;
        return DSQL_OK;
    }
    return dsql_pool_acquire(p, conn, err);
}

bool dsql__pool_multi(dsql_pool *p)
{
    return p->spec.nep > 1;
}

void dsql__pool_attempt_done(dsql_pool *p, dsql_conn **held, dsql_conn *conn, int rc,
                             bool retryable)
{
    bool stay = true;
    if (p->spec.nep > 1 && (rc == DSQL_OK || rc == DSQL_EUNAVAILABLE)) {
        dsql_conn *victims = NULL;
        pthread_mutex_lock(&p->mu);
        if (rc == DSQL_OK)
            p->eps[conn->ep].unavailable_streak = 0;
        else
            victims = endpoint_trouble(p, conn->ep, true);
        stay = !p->eps[conn->ep].down;
        pthread_mutex_unlock(&p->mu);
        retire_list(p, victims, "its endpoint is suspect");
    }
    if (rc == DSQL_EUNAVAILABLE && retryable && stay && !*held && !dsql__conn_check_broken(conn) &&
        PQtransactionStatus(conn->pg) == PQTRANS_IDLE) {
        *held = conn;
        return;
    }
    dsql_pool_release(p, conn);
}

void dsql__pool_count_tx(dsql_pool *p, bool retry)
{
    pthread_mutex_lock(&p->mu);
    if (retry)
        p->tx_retries++;
    else
        p->transactions++;
    pthread_mutex_unlock(&p->mu);
}
