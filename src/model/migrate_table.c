/*
 * The migrations table (dsql/migrate.h): its rows, the statements that read and write it
 * for the runner (migrate.c), and dsql_migrate_status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/migrate.h"

/* ---- statements on the table ---- */

/* One statement with text parameters (NULL = SQL NULL) in autocommit, OCC retried. */
int dsql__mig_q(dsql__mig_runner *r, const char *sql, int n, const char *const *vals,
                PGresult **out, dsql_error *err)
{
    dsql__params p = DSQL__PARAMS_INIT;
    for (int i = 0; i < n; i++)
        dsql__params_add(&p, vals[i], 0, 0);
    int rc = p.oom ? dsql__params_error(&p, err) : dsql__exec_retry(r->conn, sql, &p, out, err);
    dsql__params_free(&p);
    return rc;
}

uint64_t dsql__mig_affected(PGresult *res)
{
    const char *t = res ? PQcmdTuples(res) : "";
    return *t ? strtoull(t, NULL, 10) : 0;
}

/* A bounded copy (truncated at size - 1 bytes). */
void dsql__mig_cpy(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void dsql__mig_row_from(PGresult *res, int i, dsql__mig_row *w)
{
    memset(w, 0, sizeof *w);
    w->found = true;
    dsql__mig_cpy(w->version, sizeof w->version, PQgetvalue(res, i, 0));
    dsql__mig_cpy(w->name, sizeof w->name, PQgetvalue(res, i, 1));
    dsql__mig_cpy(w->checksum, sizeof w->checksum, PQgetvalue(res, i, 2));
    dsql__mig_cpy(w->state, sizeof w->state, PQgetvalue(res, i, 3));
    w->step = (size_t)strtoull(PQgetvalue(res, i, 4), NULL, 10);
    dsql__mig_cpy(w->prefix, sizeof w->prefix, PQgetvalue(res, i, 5));
    dsql__mig_cpy(w->owner, sizeof w->owner, PQgetvalue(res, i, 6));
    dsql__mig_cpy(w->applied_at, sizeof w->applied_at, PQgetvalue(res, i, 7));
    w->duration_ms = strtoll(PQgetvalue(res, i, 8), NULL, 10);
    dsql__mig_cpy(w->error, sizeof w->error, PQgetvalue(res, i, 9));
    w->idle_ms = strtoll(PQgetvalue(res, i, 10), NULL, 10);
}

int dsql__mig_read_row(dsql__mig_runner *r, const char *version, dsql__mig_row *w, dsql_error *err)
{
    char sql[768];
    snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE version = $1", DSQL__MIG_ROW_COLUMNS,
             r->table);
    PGresult *res = NULL;
    const char *v[] = {version};
    int rc = dsql__mig_q(r, sql, 1, v, &res, err);
    if (!rc) {
        if (PQntuples(res) == 1 && PQnfields(res) == 11)
            dsql__mig_row_from(res, 0, w);
        else
            memset(w, 0, sizeof *w);
    }
    PQclear(res);
    return rc;
}

int dsql__mig_table_name(const dsql_migrate_options *o, char *out, size_t size, dsql_error *err)
{
    const char *t = o->table ? o->table : DSQL__MIG_DEFAULT_TABLE;
    size_t n = strlen(t);
    bool ok = n >= 1 && n <= DSQL__IDENT_MAX && (t[0] == '_' || (t[0] >= 'a' && t[0] <= 'z'));
    for (size_t i = 0; ok && i < n; i++)
        ok = t[i] == '_' || (t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9');
    if (!ok)
        return dsql_error_set(err, DSQL_EINVAL,
                              "migrations table '%s': use 1 to 63 lower-case letters, digits and "
                              "'_', starting with a letter or '_'",
                              t);
    snprintf(out, size, "\"%s\"", t);
    return DSQL_OK;
}

/* Whether the table exists (information_schema: what the library reads on DSQL too). */
int dsql__mig_table_exists(dsql__mig_runner *r, bool *exists, dsql_error *err)
{
    PGresult *res = NULL;
    char name[80];
    snprintf(name, sizeof name, "%.*s", (int)strlen(r->table) - 2, r->table + 1); /* unquoted */
    const char *v[] = {name};
    int rc = dsql__mig_q(r,
                         "SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                         "current_schema() AND table_name = $1",
                         1, v, &res, err);
    if (!rc)
        *exists = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "0") != 0;
    PQclear(res);
    return rc;
}

int dsql__mig_ensure_table(dsql__mig_runner *r, dsql_error *err)
{
    bool exists = false;
    int rc = dsql__mig_table_exists(r, &exists, err);
    if (rc || exists)
        return rc;
    char sql[1024];
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS %s (version varchar(32) PRIMARY KEY, "
             "name varchar(200) NOT NULL, checksum varchar(64) NOT NULL, "
             "state varchar(16) NOT NULL, step integer NOT NULL, prefix varchar(64) NOT NULL, "
             "owner varchar(128), claimed_at timestamptz, heartbeat_at timestamptz, "
             "applied_at timestamptz, duration_ms bigint, error varchar(1000))",
             r->table);
    dsql_error e = DSQL_ERROR_INIT;
    rc = dsql__ddl_run(r->conn, sql, &e);
    /* Two runners creating it at once on PostgreSQL: the loser's IF NOT EXISTS can still
     * meet the winner's catalog rows (23505, or 42710 "type ... already exists"); the table
     * is there either way. */
    if (rc && rc != DSQL_ECONNLOST && rc != DSQL_ETIMEOUT &&
        !dsql__mig_table_exists(r, &exists, err) && exists)
        return DSQL_OK;
    if (rc) {
        if (err)
            *err = e;
        dsql__err_prefix(err, "creating the migrations table %s", r->table);
    }
    return rc;
}

int dsql__mig_by_version(const void *a, const void *b)
{
    const dsql_migration *x = *(const dsql_migration *const *)a;
    const dsql_migration *y = *(const dsql_migration *const *)b;
    return dsql__mig_version_cmp(x->version, y->version);
}

/* Sorted pointers to the definitions (new, free()). */
const dsql_migration **dsql__mig_sorted(const dsql_migration *migs, size_t n, dsql_error *err)
{
    const dsql_migration **s = malloc((n ? n : 1) * sizeof *s);
    if (!s) {
        dsql_error_set(err, DSQL_ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        s[i] = &migs[i];
    qsort(s, n, sizeof *s, dsql__mig_by_version);
    return s;
}

/* ---- status ---- */

static dsql_migration_state state_of(const dsql__mig_row *w, const char *sum)
{
    if (!strcmp(w->state, DSQL__MIG_ST_APPLIED))
        return sum && strcmp(w->checksum, sum) ? DSQL_MIGRATION_CHANGED : DSQL_MIGRATION_APPLIED;
    if (!strcmp(w->state, DSQL__MIG_ST_FAILED))
        return DSQL_MIGRATION_FAILED;
    if (!strcmp(w->state, DSQL__MIG_ST_RUNNING))
        return DSQL_MIGRATION_RUNNING;
    return DSQL_MIGRATION_REVERTING;
}

static void fill(dsql_migration_status *st, const dsql__mig_row *w, const dsql_migration *m,
                 const char *sum)
{
    memset(st, 0, sizeof *st);
    dsql__mig_cpy(st->version, sizeof st->version, m ? m->version : w->version);
    dsql__mig_cpy(st->name, sizeof st->name, m ? m->name : w->name);
    st->duration_ms = -1;
    if (!w || !w->found) {
        st->state = DSQL_MIGRATION_PENDING;
        return;
    }
    st->state = m ? state_of(w, sum) : DSQL_MIGRATION_UNKNOWN;
    dsql__mig_cpy(st->checksum, sizeof st->checksum, w->checksum);
    dsql__mig_cpy(st->applied_at, sizeof st->applied_at, w->applied_at);
    st->duration_ms = w->duration_ms;
    st->step = w->step + 1;
    dsql__mig_cpy(st->error, sizeof st->error, w->error);
}

static int migrate_status_call(dsql_db *db, const dsql_migration *migrations, size_t n,
                               const dsql_migrate_options *opts, dsql_migration_status **out,
                               size_t *n_out, dsql_error *err)
{
    if (!out || !n_out)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_migrate_status: out or n_out is NULL");
    *out = NULL;
    *n_out = 0;
    static const dsql_migrate_options defaults = DSQL_MIGRATE_OPTIONS_INIT;
    dsql_migrate_report rep;
    dsql__mig_runner r = {.o = opts ? opts : &defaults, .rep = &rep};
    int rc = dsql_migrations_check(migrations, n, err);
    if (!rc)
        rc = dsql__mig_table_name(r.o, r.table, sizeof r.table, err);
    if (rc) {
        dsql__err_prefix(err, "dsql_migrate_status");
        return rc;
    }
    const dsql_migration **s = dsql__mig_sorted(migrations, n, err);
    if (!s)
        return DSQL_ENOMEM;
    if ((rc = dsql__db_acquire(db, &r.conn, err))) {
        free(s);
        return rc;
    }
    bool exists = false;
    PGresult *res = NULL;
    rc = dsql__mig_table_exists(&r, &exists, err);
    if (!rc && exists) {
        char sql[1024];
        snprintf(sql, sizeof sql, "SELECT %s FROM %s", DSQL__MIG_ROW_COLUMNS, r.table);
        rc = dsql__mig_q(&r, sql, 0, NULL, &res, err);
    }
    int nrows = res ? PQntuples(res) : 0;
    dsql_migration_status *st = NULL;
    if (!rc && !(st = calloc(n + (size_t)nrows + 1, sizeof *st)))
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    size_t k = 0;
    bool *matched = rc ? NULL : calloc((size_t)nrows + 1, sizeof *matched);
    if (!rc && !matched)
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        dsql__mig_row w = {0};
        for (int j = 0; j < nrows; j++)
            if (!dsql__mig_version_cmp(PQgetvalue(res, j, 0), s[i]->version)) {
                dsql__mig_row_from(res, j, &w);
                matched[j] = true;
            }
        char sum[65];
        if ((rc = dsql_migration_checksum(s[i], sum, err)))
            break;
        fill(&st[k++], &w, s[i], sum);
    }
    for (int j = 0; !rc && j < nrows; j++)
        if (!matched[j]) {
            dsql__mig_row w;
            dsql__mig_row_from(res, j, &w);
            fill(&st[k++], &w, NULL, NULL);
        }
    free(matched);
    PQclear(res);
    dsql__db_release(db, r.conn);
    free(s);
    if (rc) {
        free(st);
        dsql__err_prefix(err, "dsql_migrate_status");
        return rc;
    }
    *out = st;
    *n_out = k;
    return DSQL_OK;
}

int dsql_migrate_status(dsql_db *db, const dsql_migration *migrations, size_t n,
                        const dsql_migrate_options *opts, dsql_migration_status **out,
                        size_t *n_out, dsql_error *err)
{
    return dsql__api_ret("dsql_migrate_status",
                         migrate_status_call(db, migrations, n, opts, out, n_out, err), err);
}

void dsql_migrate_status_free(dsql_migration_status *status)
{
    free(status);
}
