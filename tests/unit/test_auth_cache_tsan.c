/* Concurrent callers of one provider: one refresh, no stampede, no data race. */
#include <pthread.h>
#include <string.h>

#include "authtest.h"
#include "httpd.h"
#include "auth/internal.h"
#include "dsql/auth.h"

#define THREADS 8

typedef struct slow {
    pthread_mutex_t mu;
    int calls;
    int fail;
} slow;

static int slow_source(void *ctx, dsql_credentials *out, dsql_error *err)
{
    slow *s = ctx;
    pthread_mutex_lock(&s->mu);
    int n = ++s->calls;
    int fail = s->fail;
    pthread_mutex_unlock(&s->mu);
    dsql__sleep_ms(100); /* long enough for every thread to pile up behind the refresh */
    if (fail)
        return dsql_error_set(err, DSQL_ECREDENTIALS, "vault down (call %d)", n);
    char akid[16];
    snprintf(akid, sizeof akid, "AK%d", n);
    return dsql_credentials_set(out, akid, "SK", "ST", time(NULL) + 3600, err);
}

typedef struct job {
    dsql_credentials_provider *p;
    pthread_barrier_t *start;
    int rc;
    char akid[16];
    char msg[512];
} job;

static void *worker(void *arg)
{
    job *j = arg;
    pthread_barrier_wait(j->start);
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    j->rc = dsql_credentials_provider_get(j->p, &c, &err);
    if (j->rc == DSQL_OK)
        snprintf(j->akid, sizeof j->akid, "%s", c.access_key_id);
    else
        snprintf(j->msg, sizeof j->msg, "%s", err.message);
    dsql_credentials_clear(&c);
    return NULL;
}

static void run(dsql_credentials_provider *p, job *jobs)
{
    pthread_t t[THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (job){p, &start, -1, "", ""};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
}

static void test_one_refresh(void **state)
{
    (void)state;
    slow s = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
    dsql_credentials_provider *p;
    assert_int_equal(dsql_credentials_provider_custom(slow_source, &s, &p, NULL), DSQL_OK);
    job jobs[THREADS];
    run(p, jobs);
    assert_int_equal(s.calls, 1);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(jobs[i].rc, DSQL_OK);
        assert_string_equal(jobs[i].akid, "AK1");
    }
    /* Refresh time: one thread refreshes, the others use the still-valid cache. */
    dsql__provider_force_refresh(p);
    run(p, jobs);
    assert_int_equal(s.calls, 2);
    int fresh = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(jobs[i].rc, DSQL_OK);
        fresh += !strcmp(jobs[i].akid, "AK2");
    }
    assert_true(fresh >= 1);
    dsql_credentials_provider_free(p);
}

static void test_one_failure(void **state)
{
    (void)state;
    slow s = {PTHREAD_MUTEX_INITIALIZER, 0, 1};
    dsql_credentials_provider *p;
    assert_int_equal(dsql_credentials_provider_custom(slow_source, &s, &p, NULL), DSQL_OK);
    job jobs[THREADS];
    run(p, jobs);
    /* Threads that waited on the failed refresh share its error instead of retrying. Threads
     * that arrived after it finished may try again, so the count is at least 1 and the
     * error always names a call. */
    assert_true(s.calls >= 1 && s.calls < THREADS);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(jobs[i].rc, DSQL_ECREDENTIALS);
        assert_contains(jobs[i].msg, "vault down (call ");
    }
    dsql_credentials_provider_free(p);
}

/* The default chain against a real container endpoint: threads that ask at once make one
 * HTTP request between them, and all get its credentials. */
static void test_one_request(void **state)
{
    (void)state;
    at_clean_env();
    tu_httpd *srv = tu_httpd_start();
    tu_httpd_route(srv, "GET", "/creds", 200,
                   "{\"AccessKeyId\":\"AKCONT\",\"SecretAccessKey\":\"SKCONT\",\"Token\":"
                   "\"TKCONT\",\"Expiration\":\"2999-01-01T00:00:00Z\"}");
    char url[128];
    snprintf(url, sizeof url, "%s/creds", tu_httpd_url(srv));
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
    dsql_credentials_provider *p;
    assert_int_equal(dsql_credentials_provider_default(NULL, &p, NULL), DSQL_OK);
    job jobs[THREADS];
    run(p, jobs);
    assert_int_equal(tu_httpd_count(srv), 1);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(jobs[i].rc, DSQL_OK);
        assert_string_equal(jobs[i].akid, "AKCONT");
    }
    /* refresh time: still one request */
    dsql__provider_force_refresh(p);
    run(p, jobs);
    assert_int_equal(tu_httpd_count(srv), 2);
    dsql_credentials_provider_free(p);
    tu_httpd_stop(srv);
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_refresh),
        cmocka_unit_test(test_one_failure),
        cmocka_unit_test(test_one_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
