/* The rules module from many threads at once (a threaded server): the same answers as
 * one thread gives, no race (ThreadSanitizer build), and each thread's parser memory
 * released when the thread exits (LeakSanitizer would report a thread's parser state left
 * behind: 64 short-lived threads each parse once). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#include "rules/rules.h"

static const char *const texts[] = {
    "SELECT 1; SELEC 2; SELECT 3 FOR SHARE",
    "CREATE TABLE t (id serial PRIMARY KEY, v money, n numeric)",
    "CREATE UNIQUE INDEX ASYNC IF NOT EXISTS i ON s.t (a, b) INCLUDE (c)",
    "BEGIN ISOLATION LEVEL SERIALIZABLE; INSERT INTO t VALUES ($1); COMMIT",
    "ALTER TABLE c ADD CONSTRAINT c_p FOREIGN KEY (p) REFERENCES p (id)",
    "SELECT 'unterminated",
};
#define N_TEXTS (sizeof texts / sizeof texts[0])

/* A summary of an analysis: statement kinds, offsets and findings, as text. */
static void summarize(const char *sql, char *out, size_t size)
{
    dsql_rules_result *r = NULL;
    if (dsql_rules_analyze(sql, strlen(sql), &r, NULL) != DSQL_OK) {
        snprintf(out, size, "failed");
        return;
    }
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < dsql_rules_count(r); i++) {
        const dsql_rules_stmt *st = dsql_rules_stmt_at(r, i);
        int w = snprintf(out + used, size - used, "[%s %zu+%zu", dsql_rules_kind_name(st->kind),
                         st->offset, st->length);
        used += w > 0 ? (size_t)w : 0;
        for (size_t k = 0; k < st->n_findings && used < size; k++) {
            w = snprintf(out + used, size - used, " %s@%zu:%s", st->findings[k].rule->id,
                         st->findings[k].offset, st->findings[k].message);
            used += w > 0 ? (size_t)w : 0;
        }
        if (used < size) {
            w = snprintf(out + used, size - used, "]");
            used += w > 0 ? (size_t)w : 0;
        }
    }
    dsql_rules_result_free(r);
}

static char expected[N_TEXTS][2048];

typedef struct worker {
    int rounds;
    int mismatches;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    char got[2048];
    for (int k = 0; k < w->rounds; k++)
        for (size_t i = 0; i < N_TEXTS; i++) {
            summarize(texts[i], got, sizeof got);
            if (strcmp(got, expected[i]) != 0)
                w->mismatches++;
        }
    return NULL;
}

static void concurrent_threads(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_TEXTS; i++)
        summarize(texts[i], expected[i], sizeof expected[i]);
    assert_non_null(strstr(expected[0], "syntax@10:syntax error at or near \"SELEC\""));

    enum { THREADS = 8 };
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.rounds = 25, .mismatches = 0};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].mismatches, 0);
    }
}

static void short_lived_threads(void **state)
{
    (void)state;
    for (int i = 0; i < 64; i++) {
        pthread_t th;
        worker w = {.rounds = 1, .mismatches = 0};
        assert_int_equal(pthread_create(&th, NULL, work, &w), 0);
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_int_equal(w.mismatches, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(concurrent_threads),
        cmocka_unit_test(short_lived_threads),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    dsql_rules_thread_done();
    return rc;
}
