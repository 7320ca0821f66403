/*
 * The connection pool.
 *
 * One mutex guards the pool's state; connecting, closing and health checks happen
 * outside it. `open` counts slots: idle connections, connections lent out, and
 * connections being opened. Waiters queue in FIFO order; a released connection or a
 * freed slot is granted to the head waiter directly, so a newcomer never overtakes a
 * thread that has been waiting. Without waiters, a thread gets back the idle connection
 * it used last (idle_pick). A reaper thread retires idle connections (idle timeout,
 * above `min`) and old ones (lifetime), and refills the pool up to `min`.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn/pool_private.h"

/* ---- small helpers (called with mu held unless said otherwise) ---- */

void dsql__pool_abs_deadline(struct timespec *ts, int64_t deadline_ms)
{
    ts->tv_sec = (time_t)(deadline_ms / 1000);
    ts->tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
}

static void idle_push(dsql_pool *p, dsql_conn *c)
{
    if (c->home_slot)
        p->home[c->home_slot - 1] = c;
    c->prev = NULL;
    c->next = p->idle_head;
    if (p->idle_head)
        p->idle_head->prev = c;
    else
        p->idle_tail = c;
    p->idle_head = c;
    p->nidle++;
}

void dsql__pool_idle_remove(dsql_pool *p, dsql_conn *c)
{
    if (c->home_slot && p->home[c->home_slot - 1] == c)
        p->home[c->home_slot - 1] = NULL;
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
void dsql__pool_grant_slots(dsql_pool *p)
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
    dsql__pool_grant_slots(p);
    pthread_cond_broadcast(&p->changed);
}

/* Puts a healthy connection back: to the oldest waiter, else on the idle list (idle since
 * now, a monotonic time). */
static void give_back(dsql_pool *p, dsql_conn *c, int64_t now)
{
    waiter *w = p->closing ? NULL : wq_pop(p);
    if (w) {
        w->conn = c;
        w->granted = true;
        pthread_cond_signal(&w->cv);
        return;
    }
    c->idle_since_ms = now;
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

/* Opens a connection for a slot this thread holds (no lock held). On failure the slot is
 * released. */
static int fill_slot(dsql_pool *p, int64_t deadline_ms, dsql_conn **out, dsql_error *err)
{
    dsql_conn *c = NULL;
    int rc = p->spec.nep == 1 ? dsql__connect(&p->spec, 0, deadline_ms, &p->eps[0].cs, &c, err)
                              : dsql__pool_connect_failover(p, deadline_ms, &c, err);
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

void dsql__pool_retire(dsql_pool *p, dsql_conn *c, const char *why)
{
    char name[300];
    dsql__endpoint_name(&p->spec.ep[c->ep], name, sizeof name);
    dsql__log(p->spec.log, p->spec.log_ctx, DSQL_LOG_INFO,
              "Retired connection to %s (%s, age %.1f s)", name, why,
              (double)(dsql__mono_ms() - c->created_ms) / 1000.0);
    atomic_fetch_sub(&p->eps[c->ep].open, 1);
    dsql__conn_free(c);
}

/* ---- acquire / release ---- */

/* 1 + this thread's slot in every pool's home table; 0 before its first acquire. */
static _Thread_local unsigned thread_slot;
static atomic_uint next_thread_slot;

static unsigned my_slot(void)
{
    if (!thread_slot)
        thread_slot = 1 + atomic_fetch_add(&next_thread_slot, 1) % HOME_SLOTS;
    return thread_slot;
}

/* The transaction bodies this thread is running, innermost first (dsql__pool_body_enter). */
static _Thread_local dsql__body_mark *thread_bodies;

/*
 * The idle connection to lend (mu held, list not empty): the one this thread released
 * last when it is still idle, else the most recently used. A thread that gets its own
 * connection back keeps talking to the same server backend, and the scheduler keeps the
 * two on the CPUs where they last ran; handing connections round between threads (plain
 * LIFO) makes every thread wake a different backend each time, and the two keep migrating
 * between CPUs. The home table finds it without walking the idle list (whose nodes the
 * other threads' cores write). Which idle connection a thread gets never makes anyone
 * wait: only the choice among idle ones changes (a waiter still gets the first connection
 * released, in arrival order).
 */
static dsql_conn *idle_pick(dsql_pool *p)
{
    dsql_conn *c = p->home[my_slot() - 1];
    return c ? c : p->idle_head;
}

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

static int pool_acquire_call(dsql_pool *p, dsql_conn **out, dsql_error *err)
{
    if (!out)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_pool_acquire: conn is NULL");
    *out = NULL;
    if (!dsql__is_pool(p))
        return dsql_error_set(err, DSQL_EINVAL, "dsql_pool_acquire: not a dsql_pool");
    int64_t start = dsql__mono_ms();
    int64_t deadline = start + p->acquire_timeout_ms;

    pthread_mutex_lock(&p->mu);
    if (p->closing) {
        pthread_mutex_unlock(&p->mu);
        return dsql_error_set(err, DSQL_ECLOSED, "the pool is closed");
    }
    for (dsql__body_mark *b = thread_bodies; b; b = b->next) {
        if (b->pool == p) {
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
    bool slot = false, waited = false;
    if (!p->wq_head && p->idle_head) {
        c = idle_pick(p);
        dsql__pool_idle_remove(p, c);
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
        dsql__pool_abs_deadline(&ts, deadline);
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
        waited = true;
    }
    pthread_mutex_unlock(&p->mu);

    if (slot) {
        int rc = fill_slot(p, deadline, &c, err);
        if (rc)
            return rc;
    } else {
        /* A connection handed over by a release while this thread waited is checked
         * against the time now; one taken from the idle list at once, against the start. */
        const char *why = unfit_reason(p, c, waited ? dsql__mono_ms() : start);
        if (why) {
            /* Keep the slot and open a fresh connection in its place. */
            pthread_mutex_lock(&p->mu);
            if (!strcmp(why, "lifetime reached"))
                p->retires++;
            else
                p->discards++;
            p->connecting++;
            pthread_mutex_unlock(&p->mu);
            dsql__pool_retire(p, c, why);
            c = NULL;
            int rc = fill_slot(p, deadline, &c, err);
            if (rc)
                return rc;
        }
    }
    c->stats_at_acquire = c->stats;
    c->home_slot = my_slot();
    *out = c;
    return DSQL_OK;
}

int dsql_pool_acquire(dsql_pool *p, dsql_conn **out, dsql_error *err)
{
    return dsql__api_ret("dsql_pool_acquire", pool_acquire_call(p, out, err), err);
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
        give_back(p, c, now);
        pthread_mutex_unlock(&p->mu);
        return;
    }
    dsql_conn *victims = NULL;
    if (!ok) {
        p->discards++;
        /* Several endpoints: a connection that broke under a call (lost, or no answer in
         * time) casts doubt on its endpoint. */
        if (p->spec.nep > 1 && !p->closing)
            victims = dsql__pool_endpoint_trouble(p, c->ep, false);
    } else {
        p->retires++;
        if (moved && !expired && !p->closing)
            p->eps[c->ep].retired++;
    }
    pthread_mutex_unlock(&p->mu);
    dsql__pool_retire_list(p, victims, "its endpoint is suspect");
    /* The slot is still held, so a concurrent dsql_pool_close waits for this. */
    dsql__pool_retire(p, c,
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
                dsql__pool_idle_remove(p, c);
                p->open--;
                p->retires++;
                c->next = victims;
                c->idle_since_ms = old ? -1 : now - c->idle_since_ms; /* for the log line */
                victims = c;
            }
        }
        if (victims) {
            dsql__pool_grant_slots(p);
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
                dsql__pool_retire(p, c, why);
            }
            pthread_mutex_lock(&p->mu);
        }
        /* Idle connections the server spoke to (a termination notice, EOF) are checked
         * outside the lock; healthy ones go back, dead ones are dropped. */
        dsql_conn *suspects = NULL;
        for (dsql_conn *c = p->idle_head, *next; c; c = next) {
            next = c->next;
            if (socket_readable(c)) {
                dsql__pool_idle_remove(p, c);
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
                /* New connections may have moved to another endpoint meanwhile. */
                bool moved = alive && (c->ep != p->active || p->eps[c->ep].down);
                if (alive && !moved) {
                    give_back(p, c, dsql__mono_ms());
                } else {
                    if (moved) {
                        p->retires++;
                        p->eps[c->ep].retired++;
                    } else {
                        p->discards++;
                    }
                    slot_freed(p);
                }
                pthread_mutex_unlock(&p->mu);
                if (!alive || moved)
                    dsql__pool_retire(p, c,
                                      moved ? "endpoint switched" : "connection lost while idle");
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
            give_back(p, c, dsql__mono_ms());
        }
        struct timespec ts;
        dsql__pool_abs_deadline(&ts, dsql__mono_ms() + p->reap_period_ms);
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

static int pool_open_call(const dsql_config *cfg, const dsql_pool_options *opts, dsql_pool **out,
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
        give_back(p, c, dsql__mono_ms());
        pthread_mutex_unlock(&p->mu);
    }
    if (pthread_create(&p->reaper, NULL, reaper_main, p) != 0) {
        dsql_pool_close(p);
        return dsql_error_set(err, DSQL_ENOMEM, "could not start the pool's maintenance thread");
    }
    p->reaper_running = true;
    if (p->spec.nep > 1) {
        if (pthread_create(&p->prober, NULL, dsql__pool_prober_main, p) != 0) {
            dsql_pool_close(p);
            return dsql_error_set(err, DSQL_ENOMEM, "could not start the pool's probe thread");
        }
        p->prober_running = true;
    }
    dsql__strbuf eps = DSQL__STRBUF_INIT;
    for (size_t i = 0; i < p->spec.nep; i++) {
        char label[300];
        dsql__pool_ep_label(p, i, label, sizeof label);
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

int dsql_pool_open(const dsql_config *cfg, const dsql_pool_options *opts, dsql_pool **out,
                   dsql_error *err)
{
    return dsql__api_ret("dsql_pool_open", pool_open_call(cfg, opts, out, err), err);
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
    memset(p->home, 0, sizeof p->home);
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
    s->transactions = atomic_load_explicit(&p->transactions, memory_order_relaxed);
    s->tx_retries = atomic_load_explicit(&p->tx_retries, memory_order_relaxed);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < p->spec.nep; i++) {
        s->connects += atomic_load(&p->eps[i].cs.connects);
        s->token_mints += atomic_load(&p->eps[i].cs.token_mints);
        s->failures += atomic_load(&p->eps[i].cs.failures);
    }
}

void dsql__pool_logger(dsql_pool *p, dsql_log_fn *fn, void **ctx)
{
    *fn = p->spec.log;
    *ctx = p->spec.log_ctx;
}

/* The marks are the thread's own: registering one takes no lock. */
void dsql__pool_body_enter(dsql_pool *p, dsql__body_mark *mark)
{
    mark->pool = p;
    mark->next = thread_bodies;
    thread_bodies = mark;
}

void dsql__pool_body_leave(dsql_pool *p, dsql__body_mark *mark)
{
    (void)p;
    for (dsql__body_mark **pp = &thread_bodies; *pp; pp = &(*pp)->next) {
        if (*pp == mark) {
            *pp = mark->next;
            break;
        }
    }
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
            victims = dsql__pool_endpoint_trouble(p, conn->ep, true);
        stay = !p->eps[conn->ep].down;
        pthread_mutex_unlock(&p->mu);
        dsql__pool_retire_list(p, victims, "its endpoint is suspect");
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
    atomic_fetch_add_explicit(retry ? &p->tx_retries : &p->transactions, 1, memory_order_relaxed);
}
