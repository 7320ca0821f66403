/*
 * DDL text (CREATE/DROP TABLE, ADD COLUMN, indexes, foreign keys), running one DDL
 * statement the way Aurora DSQL requires (alone, in autocommit, OCC conflicts retried,
 * asynchronous jobs waited for), and dsql_create_table / dsql_drop_table.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/ddl.h"

/* ---- DDL text ---- */

/* Copies at most DSQL__IDENT_MAX bytes of s into out without splitting a UTF-8 character. */
static void ident_cut(char out[DSQL__IDENT_MAX + 1], const char *s)
{
    size_t n = strlen(s);
    if (n > DSQL__IDENT_MAX) {
        n = DSQL__IDENT_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out, s, n);
    out[n] = '\0';
}

static const char *const fk_actions[] = {"CASCADE", "SET NULL", "SET DEFAULT", "RESTRICT",
                                         "NO ACTION"};

/* The canonical spelling of an ON DELETE action (any case, single spaces), or NULL. */
static const char *fk_action(const char *s)
{
    for (size_t i = 0; i < DSQL__ARRAY_LEN(fk_actions); i++)
        if (strcasecmp(s, fk_actions[i]) == 0)
            return fk_actions[i];
    return NULL;
}

static int fk_fill(dsql__fk *fk, const dsql_assoc *a, const dsql_model *holder,
                   const dsql_attr *key, const dsql_model *ref, const dsql_attr *ref_key,
                   dsql_error *err)
{
    memset(fk, 0, sizeof *fk);
    fk->model = holder;
    fk->attr = key;
    fk->ref = ref;
    fk->ref_attr = ref_key;
    if (!key || !ref_key)
        return dsql_error_set(err, DSQL_EINVAL,
                              "association %s: a foreign key needs %s to have a primary key",
                              a->alias ? a->alias : "?", ref->name);
    if (a->on_delete && !(fk->on_delete = fk_action(a->on_delete)))
        return dsql_error_set(err, DSQL_EINVAL,
                              "association %s: on_delete \"%s\" is not one of CASCADE, SET NULL, "
                              "SET DEFAULT, RESTRICT, NO ACTION",
                              a->alias ? a->alias : "?", a->on_delete);
    char name[3 * 256];
    snprintf(name, sizeof name, "%s_%s_fkey", holder->table, dsql__attr_column(key));
    ident_cut(fk->name, name);
    return DSQL_OK;
}

int dsql__assoc_fks(const dsql_assoc *a, dsql__fk out[2], size_t *n, dsql_error *err)
{
    *n = 0;
    dsql__assoc_keys k;
    int rc = dsql__assoc_resolve(a, &k, err);
    if (rc || !a->constraints)
        return rc;
    switch (a->kind) {
    case DSQL_ASSOC_BELONGS_TO:
        rc = fk_fill(&out[0], a, a->source, k.foreign_key, a->target, k.target_key, err);
        *n = rc ? 0 : 1;
        return rc;
    case DSQL_ASSOC_HAS_ONE:
    case DSQL_ASSOC_HAS_MANY:
        rc = fk_fill(&out[0], a, a->target, k.foreign_key, a->source, k.source_key, err);
        *n = rc ? 0 : 1;
        return rc;
    case DSQL_ASSOC_BELONGS_TO_MANY:
        rc = fk_fill(&out[0], a, a->through, k.foreign_key, a->source, k.source_key, err);
        if (!rc)
            rc = fk_fill(&out[1], a, a->through, k.other_key, a->target, k.target_key, err);
        *n = rc ? 0 : 2;
        return rc;
    }
    return dsql_error_set(err, DSQL_EINVAL, "association %s: unknown kind %d",
                          a->alias ? a->alias : "?", (int)a->kind);
}

static void fk_clause(dsql__strbuf *sb, const dsql__fk *fk)
{
    dsql__sb_append(sb, "CONSTRAINT ");
    dsql__sql_ident(sb, fk->name);
    dsql__sb_append(sb, " FOREIGN KEY (");
    dsql__sql_ident(sb, dsql__attr_column(fk->attr));
    dsql__sb_append(sb, ") REFERENCES ");
    dsql__sql_table(sb, fk->ref);
    dsql__sb_append(sb, " (");
    dsql__sql_ident(sb, dsql__attr_column(fk->ref_attr));
    dsql__sb_append_c(sb, ')');
    if (fk->on_delete) {
        dsql__sb_append(sb, " ON DELETE ");
        dsql__sb_append(sb, fk->on_delete);
    }
}

int dsql__ddl_create_table(dsql__strbuf *sb, const dsql_model *m, const dsql__fk *fks, size_t n_fks,
                           dsql_error *err)
{
    int rc = dsql__model_check(m, err);
    if (rc)
        return rc;
    if (m->n_attrs == 0)
        return dsql_error_set(err, DSQL_EINVAL, "model %s has no attributes", m->name);
    dsql__sb_append(sb, "CREATE TABLE IF NOT EXISTS ");
    dsql__sql_table(sb, m);
    dsql__sb_append(sb, " (");
    char type[32];
    for (size_t i = 0; i < m->n_attrs; i++) {
        const dsql_attr *a = &m->attrs[i];
        if (i)
            dsql__sb_append(sb, ", ");
        dsql__sql_ident(sb, dsql__attr_column(a));
        dsql__sb_append_c(sb, ' ');
        dsql__sb_append(sb, dsql__sql_type(a, type, sizeof type));
        if (a->primary_key)
            dsql__sb_append(sb, " PRIMARY KEY"); /* implies NOT NULL and UNIQUE */
        else {
            if (a->not_null)
                dsql__sb_append(sb, " NOT NULL");
            if (a->unique)
                dsql__sb_append(sb, " UNIQUE");
        }
        if (a->default_sql && *a->default_sql) {
            dsql__sb_append(sb, " DEFAULT ");
            dsql__sb_append(sb, a->default_sql);
        }
    }
    for (size_t i = 0; i < n_fks; i++) {
        dsql__sb_append(sb, ", ");
        fk_clause(sb, &fks[i]);
    }
    dsql__sb_append_c(sb, ')');
    return sb->oom ? dsql_error_set(err, DSQL_ENOMEM, "out of memory building CREATE TABLE")
                   : DSQL_OK;
}

void dsql__ddl_drop_table(dsql__strbuf *sb, const dsql_model *m, bool cascade)
{
    dsql__sb_append(sb, "DROP TABLE IF EXISTS ");
    dsql__sql_table(sb, m);
    if (cascade)
        dsql__sb_append(sb, " CASCADE");
}

void dsql__ddl_add_column(dsql__strbuf *sb, const dsql_model *m, const dsql_attr *a)
{
    dsql__sb_append(sb, "ALTER TABLE ");
    dsql__sql_table(sb, m);
    dsql__sb_append(sb, " ADD COLUMN ");
    dsql__sql_ident(sb, dsql__attr_column(a));
    dsql__sb_append_c(sb, ' ');
    char type[32];
    dsql__sb_append(sb, dsql__sql_type(a, type, sizeof type));
}

void dsql__ddl_index_name(char out[DSQL__IDENT_MAX + 1], const dsql_model *m, const dsql_index *idx)
{
    if (idx->name && *idx->name) {
        ident_cut(out, idx->name);
        return;
    }
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql__sb_append(&sb, m->table);
    for (size_t i = 0; i < idx->n_attrs; i++) {
        const dsql_attr *a = dsql__model_attr(m, idx->attrs[i]);
        dsql__sb_append_c(&sb, '_');
        dsql__sb_append(&sb, a ? dsql__attr_column(a) : idx->attrs[i]);
    }
    dsql__sb_append(&sb, "_idx");
    ident_cut(out, sb.oom ? "" : dsql__sb_str(&sb));
    dsql__sb_free(&sb);
}

int dsql__ddl_create_index(dsql__strbuf *sb, const dsql_model *m, const dsql_index *idx, bool async,
                           dsql_error *err)
{
    if (idx->n_attrs == 0)
        return dsql_error_set(err, DSQL_EINVAL, "model %s: an index has no attributes", m->name);
    char name[DSQL__IDENT_MAX + 1];
    dsql__ddl_index_name(name, m, idx);
    dsql__sb_append(sb, idx->unique ? "CREATE UNIQUE INDEX " : "CREATE INDEX ");
    if (async)
        dsql__sb_append(sb, "ASYNC ");
    dsql__sb_append(sb, "IF NOT EXISTS ");
    dsql__sql_ident(sb, name);
    dsql__sb_append(sb, " ON ");
    dsql__sql_table(sb, m);
    dsql__sb_append(sb, " (");
    for (size_t i = 0; i < idx->n_attrs; i++) {
        const dsql_attr *a = dsql__model_attr(m, idx->attrs[i]);
        if (!a)
            return dsql_error_set(err, DSQL_EINVAL,
                                  "model %s: index %s names \"%s\", which is not an attribute",
                                  m->name, name, idx->attrs[i]);
        if (i)
            dsql__sb_append(sb, ", ");
        dsql__sql_ident(sb, dsql__attr_column(a));
    }
    dsql__sb_append_c(sb, ')');
    return sb->oom ? dsql_error_set(err, DSQL_ENOMEM, "out of memory building CREATE INDEX")
                   : DSQL_OK;
}

void dsql__ddl_add_fk(dsql__strbuf *sb, const dsql__fk *fk, bool not_valid)
{
    dsql__sb_append(sb, "ALTER TABLE ");
    dsql__sql_table(sb, fk->model);
    dsql__sb_append(sb, " ADD ");
    fk_clause(sb, fk);
    if (not_valid)
        dsql__sb_append(sb, " NOT VALID");
}

void dsql__ddl_validate_fk(dsql__strbuf *sb, const dsql__fk *fk, bool async)
{
    dsql__sb_append(sb, async ? "ALTER TABLE ASYNC " : "ALTER TABLE ");
    dsql__sql_table(sb, fk->model);
    dsql__sb_append(sb, " VALIDATE CONSTRAINT ");
    dsql__sql_ident(sb, fk->name);
}

/* ---- running DDL ---- */

#define DDL_MAX_RETRIES   5
#define DDL_BASE_DELAY_MS 100
#define DDL_MAX_DELAY_MS  2000
#define JOB_MAX_WAITS     48 /* of up to 5 minutes each: 4 hours */

int dsql__server_probe_answer(int rc, const dsql_error *e, bool *is_dsql, dsql_error *err)
{
    if (rc == DSQL_OK || strcmp(e->sqlstate, "42501") == 0) { /* there, if not readable */
        *is_dsql = true;
        return DSQL_OK;
    }
    if (strcmp(e->sqlstate, "42P01") == 0 || strcmp(e->sqlstate, "3F000") == 0) {
        *is_dsql = false;
        return DSQL_OK;
    }
    if (err)
        *err = *e;
    dsql__err_prefix(err, "detecting the server kind");
    return rc;
}

int dsql__server_is_dsql(dsql_conn *conn, bool *is_dsql, dsql_error *err)
{
    /* Aurora DSQL has the sys.jobs view (asynchronous index jobs); PostgreSQL has no
     * such relation. Reading zero rows of it settles the question in one round trip. */
    dsql_error e = DSQL_ERROR_INIT;
    int rc = dsql__exec_retry(conn, DSQL__SERVER_PROBE_SQL, NULL, NULL, &e);
    return dsql__server_probe_answer(rc, &e, is_dsql, err);
}

/* A delay in [d, d * 1.25): jitter keeps processes that sync at once from retrying in
 * lockstep. */
static int64_t jittered(int64_t d)
{
    uint64_t x = (uint64_t)dsql__mono_us() * 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    return d + (int64_t)(x % (uint64_t)(d / 4 + 1));
}

int dsql__exec_retry(dsql_conn *conn, const char *sql, const dsql__params *p, PGresult **out,
                     dsql_error *err)
{
    int64_t delay = DDL_BASE_DELAY_MS;
    for (int attempt = 0;; attempt++) {
        dsql_error e = DSQL_ERROR_INIT;
        int rc = p ? dsql__conn_exec(conn, sql, p->n, p->values, p->lengths, p->formats, p->flags,
                                     0, out, &e)
                   : dsql__conn_exec(conn, sql, 0, NULL, NULL, NULL, NULL, 0, out, &e);
        if (rc != DSQL_ECONFLICT || attempt >= DDL_MAX_RETRIES) {
            if (rc && err)
                *err = e;
            return rc;
        }
        int64_t d = jittered(delay);
        dsql__conn_log(conn, DSQL_LOG_WARN,
                       "schema: concurrency conflict (%s), retry %d of %d in %lld ms", e.message,
                       attempt + 1, DDL_MAX_RETRIES, (long long)d);
        dsql__sleep_ms(d);
        delay = delay * 2 > DDL_MAX_DELAY_MS ? DDL_MAX_DELAY_MS : delay * 2;
    }
}

static bool job_id_ok(const char *id)
{
    if (!*id || strlen(id) > 128)
        return false;
    for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
            return false;
    return true;
}

/* A job that did not complete: its status and details from sys.jobs in the error. A unique
 * index whose build found duplicate keys is a constraint failure, as the same CREATE
 * UNIQUE INDEX run synchronously (23505) is. */
static int job_failed(dsql_conn *conn, const char *job_id, const char *what, dsql_error *err)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT status, coalesce(details, '') FROM sys.jobs WHERE job_id = '%s'", job_id);
    PGresult *res = NULL;
    dsql_error e = DSQL_ERROR_INIT;
    char status[32] = "failed", details[320] = "";
    if (dsql__exec_retry(conn, sql, NULL, &res, &e) == DSQL_OK && res && PQntuples(res) == 1 &&
        PQnfields(res) == 2) {
        snprintf(status, sizeof status, "%s", PQgetvalue(res, 0, 0));
        snprintf(details, sizeof details, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    int code = strstr(details, "could not create unique index") ? DSQL_ECONSTRAINT : DSQL_ESERVER;
    if (*details)
        return dsql_error_set(err, code, "%s: job %s %s: %s", what, job_id, status, details);
    return dsql_error_set(err, code, "%s: job %s %s (sys.jobs has no details)", what, job_id,
                          status);
}

/* The job id a statement answered with (CREATE INDEX ASYNC, ALTER TABLE ASYNC), into job
 * ("" when none: IF NOT EXISTS on an index already there answers with none). */
static void job_of(const PGresult *res, char job[DSQL__JOB_MAX])
{
    job[0] = '\0';
    int col = res ? PQfnumber(res, "job_id") : -1;
    if (col >= 0 && PQntuples(res) > 0 && !PQgetisnull(res, 0, col))
        snprintf(job, DSQL__JOB_MAX, "%s", PQgetvalue(res, 0, col));
}

/* Names a statement in the errors of its job: its first 40 bytes. */
static void job_what(char what[96], const char *sql)
{
    snprintf(what, 96, "%.40s...", sql);
}

/*
 * Waits for the jobs of items (those with a job id), all together: one pipeline of CALL
 * sys.wait_for_job, each its own transaction, so the waits cost one round trip and the
 * jobs' time overlaps. A wait cut by DSQL's transaction age limit (54000) is waited again
 * (a long index build), one that meets an OCC conflict runs again after a backoff; a job
 * that did not complete is an error naming it (with sys.jobs' status and details).
 */
static void wait_jobs(dsql_conn *conn, dsql__ddl_item *items, size_t n)
{
    size_t n_jobs = 0;
    for (size_t i = 0; i < n; i++) {
        dsql__ddl_item *it = &items[i];
        if (it->rc || !it->job[0])
            continue;
        /* The id comes from the server and is checked to be plain alphanumerics before it
         * is written as a literal, in the form the service documents. */
        if (!job_id_ok(it->job)) {
            char what[96];
            job_what(what, it->sql);
            it->rc = dsql_error_set(&it->err, DSQL_ESERVER,
                                    "%s: the server returned a malformed job id", what);
            continue;
        }
        n_jobs++;
    }
    if (!n_jobs)
        return;
    dsql__each_stmt *st = calloc(n_jobs, sizeof *st);
    size_t *idx = calloc(n_jobs, sizeof *idx);
    int *waits = calloc(n_jobs, sizeof *waits), *conflicts = calloc(n_jobs, sizeof *conflicts);
    char(*sql)[192] = calloc(n_jobs, sizeof *sql);
    if (!st || !idx || !waits || !conflicts || !sql) {
        for (size_t i = 0; i < n; i++)
            if (!items[i].rc && items[i].job[0])
                items[i].rc = dsql_error_set(&items[i].err, DSQL_ENOMEM, "out of memory");
        goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!items[i].rc && items[i].job[0]) {
            idx[k] = i;
            snprintf(sql[k], sizeof sql[k], "CALL sys.wait_for_job('%s')", items[i].job);
            waits[k++] = 1;
        }
    int64_t delay = DDL_BASE_DELAY_MS;
    while (n_jobs) {
        for (size_t j = 0; j < n_jobs; j++)
            st[j] = (dsql__each_stmt){.sql = sql[j]};
        dsql__conn_exec_each(conn, st, n_jobs, NULL);
        size_t again = 0;
        bool conflict = false;
        for (size_t j = 0; j < n_jobs; j++) {
            dsql__ddl_item *it = &items[idx[j]];
            char what[96];
            job_what(what, it->sql);
            int rc = st[j].rc;
            bool wait_again = false;
            if (rc == DSQL_ELIMIT && waits[j] <= JOB_MAX_WAITS) {
                /* The wait is a transaction of its own, and DSQL ends transactions older
                 * than five minutes (54000): a long index build is waited for again, in a
                 * fresh one. */
                dsql__conn_log(conn, DSQL_LOG_INFO, "schema: job %s still running, waiting again",
                               it->job);
                waits[j]++;
                wait_again = true;
            } else if (rc == DSQL_ECONFLICT && conflicts[j] < DDL_MAX_RETRIES) {
                dsql__conn_log(conn, DSQL_LOG_WARN,
                               "schema: concurrency conflict (%s), retry %d of %d",
                               st[j].err.message, conflicts[j] + 1, DDL_MAX_RETRIES);
                conflicts[j]++;
                wait_again = conflict = true;
            } else if (rc) {
                it->rc = rc;
                it->err = st[j].err;
                dsql__err_prefix(&it->err, "%s: waiting for job %s", what, it->job);
            } else {
                const PGresult *res = st[j].res;
                bool ok = res && PQntuples(res) == 1 && PQnfields(res) >= 1 &&
                          !PQgetisnull(res, 0, 0) && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
                if (ok)
                    dsql__conn_log(conn, DSQL_LOG_INFO, "schema: job %s done", it->job);
                else
                    it->rc = job_failed(conn, it->job, what, &it->err);
            }
            PQclear(st[j].res);
            st[j].res = NULL;
            if (wait_again && dsql_conn_ok(conn)) {
                idx[again] = idx[j];
                waits[again] = waits[j];
                conflicts[again] = conflicts[j];
                memmove(sql[again], sql[j], sizeof sql[j]);
                again++;
            } else if (wait_again) {
                it->rc = st[j].rc;
                it->err = st[j].err;
                dsql__err_prefix(&it->err, "%s: waiting for job %s", what, it->job);
            }
        }
        n_jobs = again;
        if (n_jobs && conflict) {
            dsql__sleep_ms(jittered(delay));
            delay = delay * 2 > DDL_MAX_DELAY_MS ? DDL_MAX_DELAY_MS : delay * 2;
        }
    }
done:
    free(st);
    free(idx);
    free(waits);
    free(conflicts);
    free(sql);
}

int dsql__ddl_run(dsql_conn *conn, const char *sql, dsql_error *err)
{
    if (dsql__db_in_transaction(dsql_conn_db(conn)))
        return dsql_error_set(err, DSQL_EINVAL,
                              "schema changes need a connection outside any transaction "
                              "(Aurora DSQL runs each DDL statement in its own)");
    PGresult *res = NULL;
    int rc = dsql__exec_retry(conn, sql, NULL, &res, err);
    if (rc)
        return rc;
    dsql__ddl_item it = {.sql = sql, .err = DSQL_ERROR_INIT};
    job_of(res, it.job);
    PQclear(res);
    wait_jobs(conn, &it, 1);
    if (it.rc && err)
        *err = it.err;
    return it.rc;
}

int dsql__ddl_run_all(dsql_conn *conn, dsql__ddl_item *items, size_t n, size_t *failed,
                      dsql_error *err)
{
    if (failed)
        *failed = n;
    for (size_t i = 0; i < n; i++) {
        items[i].rc = DSQL_OK;
        items[i].err = (dsql_error)DSQL_ERROR_INIT;
        items[i].job[0] = '\0';
    }
    if (n == 0)
        return DSQL_OK;
    if (dsql__db_in_transaction(dsql_conn_db(conn)))
        return dsql_error_set(err, DSQL_EINVAL,
                              "schema changes need a connection outside any transaction "
                              "(Aurora DSQL runs each DDL statement in its own)");
    dsql__each_stmt *st = calloc(n, sizeof *st);
    size_t *idx = calloc(n, sizeof *idx);
    if (!st || !idx) {
        free(st);
        free(idx);
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    }
    size_t n_run = n;
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    int64_t delay = DDL_BASE_DELAY_MS;
    for (int attempt = 0;; attempt++) {
        for (size_t j = 0; j < n_run; j++)
            st[j] = (dsql__each_stmt){.sql = items[idx[j]].sql};
        dsql__conn_exec_each(conn, st, n_run, NULL);
        size_t first = n_run; /* the first statement that failed */
        for (size_t j = 0; j < n_run; j++) {
            dsql__ddl_item *it = &items[idx[j]];
            it->rc = st[j].rc;
            it->err = st[j].err;
            if (!it->rc)
                job_of(st[j].res, it->job);
            else if (first == n_run)
                first = j;
            PQclear(st[j].res);
        }
        /* A conflict first: it and every statement after it that failed (one may have
         * failed only because it needed the first) run again, in order. Any other failure
         * first is the answer. */
        if (first == n_run || st[first].rc != DSQL_ECONFLICT || attempt >= DDL_MAX_RETRIES ||
            !dsql_conn_ok(conn))
            break;
        int64_t d = jittered(delay);
        dsql__conn_log(conn, DSQL_LOG_WARN,
                       "schema: concurrency conflict (%s), retry %d of %d in %lld ms",
                       st[first].err.message, attempt + 1, DDL_MAX_RETRIES, (long long)d);
        size_t again = 0;
        for (size_t j = first; j < n_run; j++)
            if (st[j].rc)
                idx[again++] = idx[j];
        n_run = again;
        dsql__sleep_ms(d);
        delay = delay * 2 > DDL_MAX_DELAY_MS ? DDL_MAX_DELAY_MS : delay * 2;
    }
    free(st);
    free(idx);
    if (dsql_conn_ok(conn))
        wait_jobs(conn, items, n);
    int rc = DSQL_OK;
    for (size_t i = 0; i < n; i++) {
        if (!items[i].rc)
            continue;
        if (items[i].what)
            dsql__err_prefix(&items[i].err, "%s", items[i].what);
        if (!rc) {
            rc = items[i].rc;
            if (failed)
                *failed = i;
            if (err)
                *err = items[i].err;
        }
    }
    return rc;
}

/* ---- dsql_create_table / dsql_drop_table ---- */

/* The DDL of create_tables / drop_tables: statements, their texts and error prefixes. */
typedef struct ddl_list {
    dsql__ddl_item *items;
    char **sql;
    char (*what)[160];
    size_t n, cap;
} ddl_list;

static int list_add(ddl_list *l, dsql__strbuf *sb, const char *what, dsql_error *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        dsql__ddl_item *it = realloc(l->items, cap * sizeof *it);
        if (it)
            l->items = it;
        char **sq = it ? realloc(l->sql, cap * sizeof *sq) : NULL;
        if (sq)
            l->sql = sq;
        char(*wh)[160] = sq ? realloc(l->what, cap * sizeof *wh) : NULL;
        if (!wh)
            return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
        l->what = wh;
        l->cap = cap;
    }
    char *sql = sb->oom ? NULL : dsql__strdup(dsql__sb_str(sb));
    dsql__sb_reset(sb);
    if (!sql)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory building DDL");
    l->sql[l->n] = sql;
    snprintf(l->what[l->n], sizeof l->what[l->n], "%s", what);
    l->n++;
    return DSQL_OK;
}

static void list_free(ddl_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->sql[i]);
    free(l->sql);
    free(l->what);
    free(l->items);
}

/* Runs the list on db: one pipeline, each statement its own transaction. */
static int list_run(dsql_conn *conn, ddl_list *l, dsql_error *err)
{
    for (size_t i = 0; i < l->n; i++)
        l->items[i] = (dsql__ddl_item){.sql = l->sql[i], .what = l->what[i]};
    return dsql__ddl_run_all(conn, l->items, l->n, NULL, err);
}

static int models_check(const char *fn, const dsql_model *const *models, size_t n, dsql_error *err)
{
    if (n && !models)
        return dsql_error_set(err, DSQL_EINVAL, "%s: models is NULL", fn);
    for (size_t i = 0; i < n; i++) {
        if (!models[i])
            return dsql_error_set(err, DSQL_EINVAL, "%s: models[%zu] is NULL", fn, i);
        int rc = dsql__model_check(models[i], err);
        if (rc)
            return rc;
    }
    return DSQL_OK;
}

static int create_tables_call(dsql_db *db, const dsql_model *const *models, size_t n,
                              dsql_error *err)
{
    int rc = models_check("dsql_create_tables", models, n, err);
    if (rc || n == 0)
        return rc;
    ddl_list l = {0};
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql_conn *conn = NULL;
    bool any_index = false;
    for (size_t i = 0; i < n; i++) {
        any_index = any_index || models[i]->n_indexes;
        if ((rc = dsql__ddl_create_table(&sb, models[i], NULL, 0, err)))
            goto done;
        for (size_t k = 0; k < models[i]->n_indexes && !rc; k++) {
            dsql__sb_reset(&sb);
            rc = dsql__ddl_create_index(&sb, models[i], &models[i]->indexes[k], false, err);
        }
        dsql__sb_reset(&sb);
        if (rc)
            goto done; /* nothing sent for a model that is not right */
    }
    if ((rc = dsql__db_acquire(db, &conn, err)))
        goto done;
    if (dsql__db_in_transaction(dsql_conn_db(conn))) {
        rc = dsql_error_set(err, DSQL_EINVAL,
                            "schema changes need a connection outside any transaction "
                            "(Aurora DSQL runs each DDL statement in its own)");
        goto done;
    }
    bool is_dsql = false;
    if (any_index && (rc = dsql__server_is_dsql(conn, &is_dsql, err)))
        goto done;
    /* Each table, then its indexes: the pipeline runs them in this order. */
    char what[160];
    for (size_t i = 0; i < n; i++) {
        const dsql_model *m = models[i];
        snprintf(what, sizeof what, "creating table %s", m->table);
        if ((rc = dsql__ddl_create_table(&sb, m, NULL, 0, err)) ||
            (rc = list_add(&l, &sb, what, err)))
            goto done;
        snprintf(what, sizeof what, "creating an index of table %s", m->table);
        for (size_t k = 0; k < m->n_indexes; k++)
            if ((rc = dsql__ddl_create_index(&sb, m, &m->indexes[k], is_dsql, err)) ||
                (rc = list_add(&l, &sb, what, err)))
                goto done;
    }
    rc = list_run(conn, &l, err);
done:
    if (conn)
        dsql__db_release(db, conn);
    dsql__sb_free(&sb);
    list_free(&l);
    return rc;
}

int dsql_create_tables(dsql_db *db, const dsql_model *const *models, size_t n, dsql_error *err)
{
    return dsql__api_ret("dsql_create_tables", create_tables_call(db, models, n, err), err);
}

static int create_table_call(dsql_db *db, const dsql_model *m, dsql_error *err)
{
    if (!m)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_create_table: model is NULL");
    return dsql_create_tables(db, &m, 1, err);
}

int dsql_create_table(dsql_db *db, const dsql_model *m, dsql_error *err)
{
    return dsql__api_ret("dsql_create_table", create_table_call(db, m, err), err);
}

static int drop_tables_call(dsql_db *db, const dsql_model *const *models, size_t n, bool cascade,
                            dsql_error *err)
{
    int rc = models_check("dsql_drop_tables", models, n, err);
    if (rc || n == 0)
        return rc;
    ddl_list l = {0};
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    char what[160];
    for (size_t i = 0; i < n && !rc; i++) {
        dsql__ddl_drop_table(&sb, models[i], cascade);
        snprintf(what, sizeof what, "dropping table %s", models[i]->table);
        rc = list_add(&l, &sb, what, err);
    }
    dsql_conn *conn = NULL;
    if (!rc && !(rc = dsql__db_acquire(db, &conn, err))) {
        rc = list_run(conn, &l, err);
        dsql__db_release(db, conn);
    }
    dsql__sb_free(&sb);
    list_free(&l);
    return rc;
}

int dsql_drop_tables(dsql_db *db, const dsql_model *const *models, size_t n, bool cascade,
                     dsql_error *err)
{
    return dsql__api_ret("dsql_drop_tables", drop_tables_call(db, models, n, cascade, err), err);
}

static int drop_table_call(dsql_db *db, const dsql_model *m, bool cascade, dsql_error *err)
{
    if (!m)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_drop_table: model is NULL");
    return dsql_drop_tables(db, &m, 1, cascade, err);
}

int dsql_drop_table(dsql_db *db, const dsql_model *m, bool cascade, dsql_error *err)
{
    return dsql__api_ret("dsql_drop_table", drop_table_call(db, m, cascade, err), err);
}
