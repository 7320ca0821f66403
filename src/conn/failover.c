/*
 * Multi-Region failover for pools of several endpoints: where new connections go (the
 * active endpoint), moving them when an endpoint fails (connect failures, timeouts,
 * "server unavailable"), retiring the connections to the old one, probing the preferred
 * endpoint and failing back once it has stayed healthy for the settle time, and the
 * per-endpoint statistics. The pool's mutex guards all of it (pool_private.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn/pool_private.h"

/* Takes the idle connections to endpoint e off the idle list (mu held); the caller retires
 * them (no lock held) once their slots are given up here. */
static dsql_conn *take_idle_of(dsql_pool *p, size_t e)
{
    dsql_conn *victims = NULL;
    for (dsql_conn *c = p->idle_head, *next; c; c = next) {
        next = c->next;
        if (c->ep != e)
            continue;
        dsql__pool_idle_remove(p, c);
        p->open--;
        p->retires++;
        p->eps[e].retired++;
        c->next = victims;
        victims = c;
    }
    if (victims) {
        dsql__pool_grant_slots(p);
        pthread_cond_broadcast(&p->changed);
    }
    return victims;
}

void dsql__pool_retire_list(dsql_pool *p, dsql_conn *victims, const char *why)
{
    while (victims) {
        dsql_conn *c = victims;
        victims = c->next;
        dsql__pool_retire(p, c, why);
    }
}

void dsql__pool_ep_label(const dsql_pool *p, size_t e, char *buf, size_t size)
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
    dsql__pool_ep_label(p, old, from, sizeof from);
    dsql__pool_ep_label(p, e, to, sizeof to);
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
int dsql__pool_connect_failover(dsql_pool *p, int64_t deadline_ms, dsql_conn **out, dsql_error *err)
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
            dsql__pool_retire_list(p, victims, "endpoint switched");
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
        dsql__pool_ep_label(p, e, name, sizeof name);
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
dsql_conn *dsql__pool_endpoint_trouble(dsql_pool *p, size_t e, bool unavailable)
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
void *dsql__pool_prober_main(void *arg)
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
            dsql__pool_abs_deadline(&ts, until);
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
        dsql__pool_retire_list(p, victims, "endpoint switched");
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

bool dsql__pool_multi(dsql_pool *p)
{
    return p->spec.nep > 1;
}

size_t dsql_pool_endpoint_count(dsql_pool *p)
{
    return dsql__is_pool(p) ? p->spec.nep : 0;
}

static int pool_get_endpoint_stats_call(dsql_pool *p, size_t index, dsql_endpoint_stats *s,
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

int dsql_pool_get_endpoint_stats(dsql_pool *p, size_t index, dsql_endpoint_stats *s,
                                 dsql_error *err)
{
    return dsql__api_ret("dsql_pool_get_endpoint_stats",
                         pool_get_endpoint_stats_call(p, index, s, err), err);
}
