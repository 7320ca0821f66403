/* Credentials values and the provider core: a cache with one refresher per provider;
 * the static and custom providers. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/internal.h"
#include "auth/sigv4.h"

struct dsql_credentials_provider {
    const dsql__provider_ops *ops;
    void *impl;
    dsql__auth_log log; /* under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool refreshing;   /* a thread is fetching; others wait or use the valid cache */
    unsigned long gen; /* bumped at the end of every fetch */
    bool have;         /* cache holds credentials */
    time_t refresh_at; /* refresh once now >= this; 0 = never */
    dsql_credentials cache;
    int last_status; /* outcome of the last fetch, for threads that waited on it */
    dsql_error last_err;
};

static int credentials_set_call(dsql_credentials *creds, const char *access_key_id,
                                const char *secret_access_key, const char *session_token,
                                time_t expiration, dsql_error *err)
{
    if (!creds)
        return dsql_error_set(err, DSQL_EINVAL, "credentials: NULL credentials");
    if (!access_key_id || !*access_key_id)
        return dsql_error_set(err, DSQL_EINVAL, "credentials: the access key id is empty");
    if (!secret_access_key || !*secret_access_key)
        return dsql_error_set(err, DSQL_EINVAL, "credentials: the secret access key is empty");
    /* Copy first: the arguments may point into creds itself. */
    char *a = dsql__strdup(access_key_id);
    char *s = dsql__strdup(secret_access_key);
    char *t = session_token && *session_token ? dsql__strdup(session_token) : NULL;
    if (!a || !s || (session_token && *session_token && !t)) {
        dsql__free_secret(a);
        dsql__free_secret(s);
        dsql__free_secret(t);
        return dsql_error_set(err, DSQL_ENOMEM, "credentials: out of memory");
    }
    dsql__free_secret(creds->access_key_id);
    dsql__free_secret(creds->secret_access_key);
    dsql__free_secret(creds->session_token);
    dsql__sigv4_memo_free(creds->priv_);
    creds->access_key_id = a;
    creds->secret_access_key = s;
    creds->session_token = t;
    creds->expiration = expiration;
    /* A new memo for the new strings (NULL if memory runs out: signing then works
     * without one). */
    creds->priv_ = dsql__sigv4_memo_new();
    return DSQL_OK;
}

int dsql_credentials_set(dsql_credentials *creds, const char *access_key_id,
                         const char *secret_access_key, const char *session_token,
                         time_t expiration, dsql_error *err)
{
    return dsql__api_ret("dsql_credentials_set",
                         credentials_set_call(creds, access_key_id, secret_access_key,
                                              session_token, expiration, err),
                         err);
}

void dsql_credentials_clear(dsql_credentials *creds)
{
    if (!creds)
        return;
    dsql__free_secret(creds->access_key_id);
    dsql__free_secret(creds->secret_access_key);
    dsql__free_secret(creds->session_token);
    dsql__sigv4_memo_free(creds->priv_);
    memset(creds, 0, sizeof *creds);
}

void dsql__credentials_source(dsql_credentials *out, const char *name)
{
    snprintf(out->source, sizeof out->source, "%s", name);
}

int dsql__credentials_copy(dsql_credentials *dst, const dsql_credentials *src, dsql_error *err)
{
    if (dst == src)
        return DSQL_OK;
    int rc = dsql_credentials_set(dst, src->access_key_id, src->secret_access_key,
                                  src->session_token, src->expiration, err);
    if (rc == DSQL_OK)
        memcpy(dst->source, src->source, sizeof dst->source);
    return rc;
}

int dsql__credentials_check_fresh(const dsql_credentials *creds, const char *source,
                                  dsql_error *err)
{
    if (creds->expiration != 0 && creds->expiration <= time(NULL)) {
        char when[32];
        dsql__format_iso8601(creds->expiration, when);
        return dsql_error_set(err, DSQL_ECREDENTIALS,
                              "%s: the credentials it returned expired at %s", source, when);
    }
    return DSQL_OK;
}

int dsql__provider_new(const dsql__provider_ops *ops, void *impl, dsql_credentials_provider **out,
                       dsql_error *err)
{
    dsql_credentials_provider *p = calloc(1, sizeof *p);
    if (!p || pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        if (ops->free)
            ops->free(impl);
        return dsql_error_set(err, DSQL_ENOMEM, "credentials provider: out of memory");
    }
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        if (ops->free)
            ops->free(impl);
        return dsql_error_set(err, DSQL_ENOMEM, "credentials provider: out of resources");
    }
    p->ops = ops;
    p->impl = impl;
    *out = p;
    return DSQL_OK;
}

void dsql_credentials_provider_free(dsql_credentials_provider *p)
{
    if (!p)
        return;
    if (p->ops->free)
        p->ops->free(p->impl);
    dsql_credentials_clear(&p->cache);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* Cached credentials serve while more than the margin is left. */
static bool still_valid(const dsql_credentials *c, time_t now)
{
    return c->expiration == 0 || now < c->expiration - DSQL__EXPIRY_MARGIN_S;
}

static int credentials_provider_get_call(dsql_credentials_provider *p, dsql_credentials *out,
                                         dsql_error *err)
{
    if (!p || !out)
        return dsql_error_set(err, DSQL_EINVAL, "credentials provider: NULL argument");
    int rc;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        time_t now = time(NULL);
        if (p->have && (p->refresh_at == 0 || now < p->refresh_at)) {
            rc = dsql__credentials_copy(out, &p->cache, err);
            pthread_mutex_unlock(&p->mu);
            return rc;
        }
        if (!p->refreshing)
            break;
        /* Another thread is refreshing: a cache that has not expired yet still serves. */
        if (p->have && still_valid(&p->cache, now)) {
            rc = dsql__credentials_copy(out, &p->cache, err);
            pthread_mutex_unlock(&p->mu);
            return rc;
        }
        unsigned long gen = p->gen;
        while (p->refreshing && p->gen == gen)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->gen != gen && p->last_status != DSQL_OK) {
            /* The refresh we waited for failed: report its error rather than retrying. */
            rc = p->last_status;
            if (err)
                *err = p->last_err;
            pthread_mutex_unlock(&p->mu);
            return rc;
        }
    }
    p->refreshing = true;
    dsql__auth_log log = p->log;
    pthread_mutex_unlock(&p->mu);

    dsql_credentials fresh = DSQL_CREDENTIALS_INIT;
    dsql_error e = DSQL_ERROR_INIT;
    rc = p->ops->fetch(p->impl, &log, &fresh, &e);
    if (rc == DSQL_OK && (!fresh.access_key_id || !fresh.secret_access_key))
        rc = dsql_error_set(&e, DSQL_EINTERNAL, "%s: a source returned no credentials",
                            fresh.source[0] ? fresh.source : "credentials provider");
    if (rc == DSQL_OK)
        rc = dsql__credentials_check_fresh(&fresh, fresh.source[0] ? fresh.source : "credentials",
                                           &e);
    if (rc != DSQL_OK && !e.message[0])
        dsql_error_set(&e, rc, "credentials provider failed (%s)", dsql_status_name(rc));

    pthread_mutex_lock(&p->mu);
    time_t now = time(NULL);
    if (rc == DSQL_OK) {
        dsql_credentials_clear(&p->cache);
        p->cache = fresh; /* moved */
        memset(&fresh, 0, sizeof fresh);
        p->have = true;
        time_t exp = p->cache.expiration;
        if (exp == 0) {
            p->refresh_at = 0;
        } else {
            p->refresh_at = exp - DSQL__REFRESH_AHEAD_S -
                            (time_t)(dsql__random_unit() * DSQL__REFRESH_JITTER_S);
            /* Short-lived credentials: refresh half way, not on every call. */
            if (p->refresh_at <= now)
                p->refresh_at = now + (exp - now) / 2;
        }
    }
    p->last_status = rc;
    p->last_err = rc == DSQL_OK ? (dsql_error)DSQL_ERROR_INIT : e;
    p->gen++;
    p->refreshing = false;
    pthread_cond_broadcast(&p->cv);
    if (rc == DSQL_OK) {
        rc = dsql__credentials_copy(out, &p->cache, err);
    } else if (p->have && still_valid(&p->cache, now)) {
        /* The refresh failed but the cached credentials have not expired: use them. */
        rc = dsql__credentials_copy(out, &p->cache, err);
    } else if (err) {
        *err = e;
    }
    pthread_mutex_unlock(&p->mu);
    dsql_credentials_clear(&fresh);
    return rc;
}

int dsql_credentials_provider_get(dsql_credentials_provider *p, dsql_credentials *out,
                                  dsql_error *err)
{
    return dsql__api_ret("dsql_credentials_provider_get",
                         credentials_provider_get_call(p, out, err), err);
}

void dsql_credentials_provider_set_log(dsql_credentials_provider *p, dsql_log_fn fn, void *ctx)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->log.fn = fn;
    p->log.ctx = ctx;
    pthread_mutex_unlock(&p->mu);
}

void dsql__auth_log_msg(const dsql__auth_log *lg, dsql_log_level level, const char *fmt, ...)
{
    if (!lg || !lg->fn)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lg->fn(level, msg, lg->ctx);
}

time_t dsql__provider_refresh_at(dsql_credentials_provider *p)
{
    pthread_mutex_lock(&p->mu);
    time_t t = p->have ? p->refresh_at : 0;
    pthread_mutex_unlock(&p->mu);
    return t;
}

void dsql__provider_force_refresh(dsql_credentials_provider *p)
{
    pthread_mutex_lock(&p->mu);
    if (p->have)
        p->refresh_at = 1;
    pthread_mutex_unlock(&p->mu);
}

/* ---- static provider ---- */

static int static_fetch(void *impl, const dsql__auth_log *log, dsql_credentials *out,
                        dsql_error *err)
{
    (void)log;
    return dsql__credentials_copy(out, impl, err);
}

static void static_free(void *impl)
{
    dsql_credentials_clear(impl);
    free(impl);
}

static const dsql__provider_ops static_ops = {static_fetch, static_free};

static int credentials_provider_static_call(const char *access_key_id,
                                            const char *secret_access_key,
                                            const char *session_token,
                                            dsql_credentials_provider **out, dsql_error *err)
{
    if (!out)
        return dsql_error_set(err, DSQL_EINVAL, "static credentials: NULL out");
    *out = NULL;
    dsql_credentials *c = calloc(1, sizeof *c);
    if (!c)
        return dsql_error_set(err, DSQL_ENOMEM, "static credentials: out of memory");
    int rc = dsql_credentials_set(c, access_key_id, secret_access_key, session_token, 0, err);
    if (rc != DSQL_OK) {
        free(c);
        dsql__err_prefix(err, "static credentials");
        return rc;
    }
    dsql__credentials_source(c, "static");
    return dsql__provider_new(&static_ops, c, out, err);
}

int dsql_credentials_provider_static(const char *access_key_id, const char *secret_access_key,
                                     const char *session_token, dsql_credentials_provider **out,
                                     dsql_error *err)
{
    return dsql__api_ret(
        "dsql_credentials_provider_static",
        credentials_provider_static_call(access_key_id, secret_access_key, session_token, out, err),
        err);
}

/* ---- custom provider ---- */

typedef struct custom {
    dsql_credentials_fn fn;
    void *ctx;
} custom;

static int custom_fetch(void *impl, const dsql__auth_log *log, dsql_credentials *out,
                        dsql_error *err)
{
    (void)log;
    custom *c = impl;
    int rc = c->fn(c->ctx, out, err);
    if (rc != DSQL_OK) {
        if (err && !err->message[0])
            dsql_error_set(err, rc, "custom credentials callback failed (%s)",
                           dsql_status_name(rc));
        return rc;
    }
    if (!out->access_key_id || !out->secret_access_key)
        return dsql_error_set(err, DSQL_ECREDENTIALS,
                              "custom credentials callback returned DSQL_OK without "
                              "credentials (fill them with dsql_credentials_set)");
    if (!out->source[0])
        dsql__credentials_source(out, "custom");
    return DSQL_OK;
}

static const dsql__provider_ops custom_ops = {custom_fetch, free};

static int credentials_provider_custom_call(dsql_credentials_fn fn, void *ctx,
                                            dsql_credentials_provider **out, dsql_error *err)
{
    if (!out || !fn)
        return dsql_error_set(err, DSQL_EINVAL, "custom credentials: NULL callback or out");
    *out = NULL;
    custom *c = malloc(sizeof *c);
    if (!c)
        return dsql_error_set(err, DSQL_ENOMEM, "custom credentials: out of memory");
    c->fn = fn;
    c->ctx = ctx;
    return dsql__provider_new(&custom_ops, c, out, err);
}

int dsql_credentials_provider_custom(dsql_credentials_fn fn, void *ctx,
                                     dsql_credentials_provider **out, dsql_error *err)
{
    return dsql__api_ret("dsql_credentials_provider_custom",
                         credentials_provider_custom_call(fn, ctx, out, err), err);
}
