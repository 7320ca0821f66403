/*
 * Retrying: the policy (AWS's connector defaults), the backoff, and the one retry loop
 * every retried unit of work runs in - transactions (dsql_transaction,
 * dsql_conn_transaction), pipelined transactions (dsql_pipeline_tx) and single
 * statements (dsql_pool_query and the model layer's statements).
 *
 * What may be retried is decided by each unit's attempt function, from one rule: nothing
 * can have committed. A conflict (40001, OC000, OC001) or a transient fault (XX000
 * "server unavailable") before COMMIT, or a connection lost before COMMIT was sent, is
 * retried; the same at COMMIT (or under an autocommit write) is an unknown outcome,
 * never retried.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "conn/private.h"

int dsql__policy_resolve(const dsql_retry_policy *in, dsql__policy *p, dsql_error *err)
{
    dsql_retry_policy d = DSQL_RETRY_POLICY_INIT;
    if (!in)
        in = &d;
    if (in->max_retries < -1)
        return dsql_error_set(err, DSQL_EINVAL,
                              "retry policy: max_retries must be -1 (never retry), 0 (default "
                              "3) or positive, not %d",
                              in->max_retries);
    if (in->base_delay_ms < 0 || in->max_delay_ms < 0)
        return dsql_error_set(err, DSQL_EINVAL,
                              "retry policy: delays must not be negative (base %lld ms, max %lld "
                              "ms)",
                              (long long)in->base_delay_ms, (long long)in->max_delay_ms);
    if (in->multiplier != 0 && !(in->multiplier >= 1.0 && in->multiplier <= 100.0))
        return dsql_error_set(err, DSQL_EINVAL,
                              "retry policy: multiplier must be 1..100 (0 = default 2), not %g",
                              in->multiplier);
    if (in->jitter != 0 && in->jitter != -1 && !(in->jitter > 0 && in->jitter <= 1.0))
        return dsql_error_set(err, DSQL_EINVAL,
                              "retry policy: jitter must be a fraction in (0, 1] (0 = default "
                              "0.25, -1 = none), not %g",
                              in->jitter);
    p->max_retries = in->max_retries == -1 ? 0 : in->max_retries ? in->max_retries : 3;
    p->base_delay_ms = in->base_delay_ms ? in->base_delay_ms : 100;
    p->multiplier = in->multiplier != 0 ? in->multiplier : 2.0;
    p->max_delay_ms = in->max_delay_ms ? in->max_delay_ms : 5000;
    p->jitter = in->jitter == -1 ? 0 : in->jitter != 0 ? in->jitter : 0.25;
    p->on_retry = in->on_retry;
    p->on_retry_ctx = in->on_retry_ctx;
    return DSQL_OK;
}

int64_t dsql__policy_delay(const dsql__policy *p, int retry)
{
    double d = (double)p->base_delay_ms * pow(p->multiplier, retry > 0 ? retry - 1 : 0);
    if (d > (double)p->max_delay_ms)
        d = (double)p->max_delay_ms;
    d += d * p->jitter * dsql__random_unit();
    return (int64_t)d;
}

static const char *why_retried(const dsql_error *cause)
{
    switch (cause->status) {
    case DSQL_ECONFLICT:
        return "hit a conflict";
    case DSQL_EUNAVAILABLE:
        return "met a transient server fault";
    case DSQL_ETIMEOUT:
        return "got no answer in time";
    default:
        return "lost its connection";
    }
}

int dsql__retry_run(const dsql__retry_unit *u, void *ctx, int *attempts, dsql_error *err)
{
    if (attempts)
        *attempts = 0;
    dsql_error e = DSQL_ERROR_INIT;
    int rc = DSQL_OK;
    for (int attempt = 1;; attempt++) {
        if (attempts)
            *attempts = attempt;
        bool retryable = false;
        dsql_error_clear(&e);
        rc = u->attempt(ctx, attempt, &retryable, &e);
        if (rc == DSQL_OK)
            break;
        if (!retryable || attempt > u->policy->max_retries) {
            if (attempt > 1 || retryable)
                dsql__err_prefix(&e, "gave up after %d attempt%s", attempt,
                                 attempt == 1 ? "" : "s");
            break;
        }
        int64_t delay = dsql__policy_delay(u->policy, attempt);
        char state[16] = "";
        if (e.sqlstate[0])
            snprintf(state, sizeof state, " (%s)", e.sqlstate);
        dsql__log(u->log, u->log_ctx, DSQL_LOG_WARN,
                  "%s attempt %d of %d %s%s; retrying in %lld ms", u->what, attempt,
                  u->policy->max_retries + 1, why_retried(&e), state, (long long)delay);
        dsql__log(u->log, u->log_ctx, DSQL_LOG_DEBUG, "retry cause: %s", e.message);
        if (u->policy->on_retry)
            u->policy->on_retry(attempt, &e, delay, u->policy->on_retry_ctx);
        dsql__sleep_ms(delay);
    }
    if (rc && err)
        *err = e;
    return rc;
}
