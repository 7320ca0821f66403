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

int dsql__server_is_dsql(dsql_conn *conn, bool *is_dsql, dsql_error *err)
{
    /* Aurora DSQL has the sys.jobs view (asynchronous index jobs); PostgreSQL has no
     * such relation. Reading zero rows of it settles the question in one round trip. */
    dsql_error e = DSQL_ERROR_INIT;
    int rc = dsql__exec_retry(conn, "SELECT 1 FROM sys.jobs LIMIT 0", NULL, NULL, &e);
    if (rc == DSQL_OK || strcmp(e.sqlstate, "42501") == 0) { /* there, if not readable */
        *is_dsql = true;
        return DSQL_OK;
    }
    if (strcmp(e.sqlstate, "42P01") == 0 || strcmp(e.sqlstate, "3F000") == 0) {
        *is_dsql = false;
        return DSQL_OK;
    }
    if (err)
        *err = e;
    dsql__err_prefix(err, "detecting the server kind");
    return rc;
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
        int rc = p ? dsql__conn_exec(conn, sql, p->n, p->values, p->lengths, p->formats, 0, out, &e)
                   : dsql__conn_exec(conn, sql, 0, NULL, NULL, NULL, 0, out, &e);
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

/* Waits for an asynchronous DDL job (CREATE INDEX ASYNC, ALTER TABLE ASYNC). */
static int wait_for_job(dsql_conn *conn, const char *job_id, const char *what, dsql_error *err)
{
    /* The id comes from the server and is checked to be plain alphanumerics before it is
     * written as a literal, in the form the service documents. */
    if (!job_id_ok(job_id))
        return dsql_error_set(err, DSQL_ESERVER, "%s: the server returned a malformed job id",
                              what);
    char sql[192];
    snprintf(sql, sizeof sql, "CALL sys.wait_for_job('%s')", job_id);
    PGresult *res = NULL;
    int rc;
    for (int wait = 1;; wait++) {
        rc = dsql__exec_retry(conn, sql, NULL, &res, err);
        /* The wait is a transaction of its own, and DSQL ends transactions older than five
         * minutes (54000): a long index build is waited for again, in a fresh one. */
        if (rc != DSQL_ELIMIT || wait > JOB_MAX_WAITS)
            break;
        dsql__conn_log(conn, DSQL_LOG_INFO, "schema: job %s still running, waiting again", job_id);
    }
    if (rc) {
        dsql__err_prefix(err, "%s: waiting for job %s", what, job_id);
        return rc;
    }
    bool ok = res && PQntuples(res) == 1 && PQnfields(res) >= 1 && !PQgetisnull(res, 0, 0) &&
              strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!ok)
        return job_failed(conn, job_id, what, err);
    dsql__conn_log(conn, DSQL_LOG_INFO, "schema: job %s done", job_id);
    return DSQL_OK;
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
    /* CREATE INDEX ASYNC and ALTER TABLE ASYNC answer with a job id at once; IF NOT
     * EXISTS on an index already there answers with none. */
    char job[160] = "";
    int col = res ? PQfnumber(res, "job_id") : -1;
    if (col >= 0 && PQntuples(res) > 0 && !PQgetisnull(res, 0, col))
        snprintf(job, sizeof job, "%s", PQgetvalue(res, 0, col));
    PQclear(res);
    if (!*job)
        return DSQL_OK;
    char what[96];
    snprintf(what, sizeof what, "%.40s...", sql);
    return wait_for_job(conn, job, what, err);
}

/* ---- dsql_create_table / dsql_drop_table ---- */

int dsql_create_table(dsql_db *db, const dsql_model *m, dsql_error *err)
{
    if (!m)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_create_table: model is NULL");
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    int rc = dsql__ddl_create_table(&sb, m, NULL, 0, err);
    if (rc) {
        dsql__sb_free(&sb);
        return rc;
    }
    dsql_conn *conn = NULL;
    if ((rc = dsql__db_acquire(db, &conn, err)))
        goto done;
    if ((rc = dsql__ddl_run(conn, dsql__sb_str(&sb), err))) {
        dsql__err_prefix(err, "creating table %s", m->table);
        goto done;
    }
    bool is_dsql = false;
    if (m->n_indexes && (rc = dsql__server_is_dsql(conn, &is_dsql, err)))
        goto done;
    for (size_t i = 0; i < m->n_indexes; i++) {
        dsql__sb_reset(&sb);
        if ((rc = dsql__ddl_create_index(&sb, m, &m->indexes[i], is_dsql, err)))
            goto done;
        if ((rc = dsql__ddl_run(conn, dsql__sb_str(&sb), err))) {
            dsql__err_prefix(err, "creating an index of table %s", m->table);
            goto done;
        }
    }
done:
    if (conn)
        dsql__db_release(db, conn);
    dsql__sb_free(&sb);
    return rc;
}

int dsql_drop_table(dsql_db *db, const dsql_model *m, bool cascade, dsql_error *err)
{
    if (!m)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_drop_table: model is NULL");
    int rc = dsql__model_check(m, err);
    if (rc)
        return rc;
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql__ddl_drop_table(&sb, m, cascade);
    if (sb.oom) {
        dsql__sb_free(&sb);
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory building DROP TABLE");
    }
    dsql_conn *conn = NULL;
    if (!(rc = dsql__db_acquire(db, &conn, err))) {
        if ((rc = dsql__ddl_run(conn, dsql__sb_str(&sb), err)))
            dsql__err_prefix(err, "dropping table %s", m->table);
        dsql__db_release(db, conn);
    }
    dsql__sb_free(&sb);
    return rc;
}
