/*
 * dsql_sync: brings the database in line with a set of models, in the form Aurora DSQL
 * accepts.
 *
 * First it reads what exists (information_schema, pg_indexes, pg_constraint), each read
 * in autocommit and never beside DDL. Then it plans only what is missing and sends it as
 * one pipeline, each DDL statement alone in its own transaction (a Sync after each), in
 * order, OCC conflicts retried, and the asynchronous jobs waited for together
 * (dsql__ddl_run_all): CREATE TABLE for new tables (foreign keys inline, referenced tables
 * first), ALTER TABLE ADD COLUMN for missing columns (bare: DSQL takes no default or
 * constraint there; a default follows as ALTER COLUMN SET DEFAULT, uniqueness as a unique
 * index), CREATE INDEX ASYNC plus a wait on DSQL (plain CREATE INDEX on PostgreSQL),
 * and foreign keys of existing tables as ADD CONSTRAINT ... NOT VALID then VALIDATE
 * (ALTER TABLE ASYNC on DSQL). Nothing missing: nothing sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/ddl.h"

/* One model's table. */
typedef struct table_state {
    const dsql_model *m;
    const char *schema; /* m->schema, or the connection's current schema */
    bool exists;        /* before this sync */
    bool created;       /* by this sync */
} table_state;

/* What a planned statement counts in the report once it has run. */
typedef enum step_kind {
    STEP_TABLE,      /* CREATE TABLE (n_inline foreign keys with it) */
    STEP_COLUMN,     /* ALTER TABLE ADD COLUMN */
    STEP_INDEX,      /* CREATE INDEX */
    STEP_INDEX_DROP, /* DROP INDEX of an invalid one, before it is built again */
    STEP_FK,         /* ADD CONSTRAINT ... NOT VALID */
    STEP_OTHER       /* SET DEFAULT, VALIDATE CONSTRAINT */
} step_kind;

/* One DDL statement sync plans to send. */
typedef struct step {
    char *sql;
    char what[200]; /* "sync: <name>" */
    step_kind kind;
    size_t n_inline;
    const char *warn; /* STEP_COLUMN: the constraint DSQL cannot add ("NOT NULL"...) */
    const table_state *t;
    const dsql_attr *a;
} step;

typedef struct sync_ctx {
    dsql_conn *conn;
    bool is_dsql;
    bool kind_known; /* is_dsql asked (only when some DDL depends on it) */
    table_state *tables;
    size_t n_tables;
    dsql__fk *fks;
    size_t n_fks;
    bool *fk_inline; /* created inline in a CREATE TABLE of this sync */
    char *current_schema;
    dsql__params where_params; /* schema, table of every table: $1, $2, ... */
    PGresult *columns;         /* schema, table, column (NULL column: the table itself) */
    PGresult *indexes;         /* schema, table, index */
    PGresult *constraints;     /* schema, table, constraint, validated */
    dsql_sync_report rep;
    dsql__strbuf sql;
    step *steps; /* planned, sent together (dsql__ddl_run_all) */
    size_t n_steps, cap_steps;
} sync_ctx;

/* ---- reading the catalog ---- */

/* Appends "((<scol> = coalesce($1, current_schema()) AND <tcol> = $2) OR ...)" over every
 * table: a model without a schema of its own names the connection's current one. */
static void where_tables(const sync_ctx *c, dsql__strbuf *sb, const char *scol, const char *tcol)
{
    dsql__sb_append_c(sb, '(');
    for (size_t i = 0; i < c->n_tables; i++)
        dsql__sb_appendf(sb, "%s(%s = coalesce($%zu, current_schema()) AND %s = $%zu)",
                         i ? " OR " : "", scol, 2 * i + 1, tcol, 2 * i + 2);
    dsql__sb_append_c(sb, ')');
}

/* Whether some DDL sync may plan depends on the server's kind (indexes, foreign keys). */
static bool needs_kind(const sync_ctx *c)
{
    if (c->n_fks)
        return true;
    for (size_t i = 0; i < c->n_tables; i++) {
        const dsql_model *m = c->tables[i].m;
        if (m->n_indexes)
            return true;
        for (size_t k = 0; k < m->n_attrs; k++)
            if (m->attrs[k].unique && !m->attrs[k].primary_key)
                return true;
    }
    return false;
}

/* The catalog reads, independent of each other, go out as one pipeline, each its own
 * autocommit read (never beside DDL): the current schema, the tables and their columns,
 * their indexes, their foreign keys (when any association asks for one) and, when some
 * DDL depends on it, the server's kind. One round trip; a read that meets an OCC conflict
 * (on DSQL even catalog reads do while the schema changes) runs them all again. */
enum { READ_SCHEMA, READ_COLUMNS, READ_INDEXES, READ_CONSTRAINTS, READ_KIND, N_READS };

static const char *const read_what[N_READS] = {"the current schema", "the tables and their columns",
                                               "the tables' indexes", "the tables' foreign keys",
                                               "the server kind"};

/* The reads' SQL, each over every table ($1, $2, ... in c->where_params). */
static void catalog_sql(const sync_ctx *c, dsql__strbuf sb[N_READS])
{
    dsql__sb_append(&sb[READ_SCHEMA], "SELECT current_schema()");
    dsql__sb_append(&sb[READ_COLUMNS],
                    "SELECT table_schema::text, table_name::text, NULL::text, NULL::text, "
                    "NULL::int, NULL::int, NULL::int FROM information_schema.tables WHERE ");
    where_tables(c, &sb[READ_COLUMNS], "table_schema", "table_name");
    dsql__sb_append(&sb[READ_COLUMNS],
                    " UNION ALL SELECT table_schema::text, table_name::text, "
                    "column_name::text, data_type::text, character_maximum_length::int, "
                    "numeric_precision::int, numeric_scale::int "
                    "FROM information_schema.columns WHERE ");
    where_tables(c, &sb[READ_COLUMNS], "table_schema", "table_name");
    /* indisvalid: an index whose build failed (an ASYNC job that failed, an interrupted
     * CREATE INDEX CONCURRENTLY) exists by name but serves nothing. */
    dsql__sb_append(&sb[READ_INDEXES],
                    "SELECT n.nspname::text, t.relname::text, i.relname::text, "
                    "x.indisvalid FROM pg_catalog.pg_index x "
                    "JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid "
                    "JOIN pg_catalog.pg_class t ON t.oid = x.indrelid "
                    "JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace WHERE ");
    where_tables(c, &sb[READ_INDEXES], "n.nspname", "t.relname");
    if (!c->n_fks)
        return;
    dsql__sb_append(&sb[READ_CONSTRAINTS],
                    "SELECT n.nspname::text, t.relname::text, k.conname::text, "
                    "k.convalidated FROM pg_catalog.pg_constraint k "
                    "JOIN pg_catalog.pg_class t ON t.oid = k.conrelid "
                    "JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace "
                    "WHERE k.contype = 'f' AND ");
    where_tables(c, &sb[READ_CONSTRAINTS], "n.nspname", "t.relname");
}

/* The reads this sync needs as statements, st[0..*n); which[j] names st[j]'s read. */
static int catalog_stmts(const sync_ctx *c, dsql__strbuf sb[N_READS], dsql__each_stmt st[N_READS],
                         int which[N_READS], size_t *n, dsql_error *err)
{
    bool kind = needs_kind(c);
    const dsql__params *p = &c->where_params;
    *n = 0;
    for (int k = 0; k < N_READS; k++) {
        if ((k == READ_CONSTRAINTS && !c->n_fks) || (k == READ_KIND && !kind))
            continue;
        if (sb[k].oom)
            return dsql_error_set(err, DSQL_ENOMEM, "out of memory reading the catalog");
        bool with_params = k == READ_COLUMNS || k == READ_INDEXES || k == READ_CONSTRAINTS;
        st[*n] =
            (dsql__each_stmt){.sql = k == READ_KIND ? DSQL__SERVER_PROBE_SQL : dsql__sb_str(&sb[k]),
                              .nparams = with_params ? p->n : 0,
                              .values = with_params ? p->values : NULL,
                              .lengths = with_params ? p->lengths : NULL,
                              .formats = with_params ? p->formats : NULL};
        which[(*n)++] = k;
    }
    return DSQL_OK;
}

/* One attempt's answers: the first error ends the reads (returned), an OCC conflict asks
 * for another attempt (*conflict). */
static int check_answers(sync_ctx *c, dsql__each_stmt *st, const int *which, size_t n,
                         bool *conflict, dsql_error *err)
{
    int rc = DSQL_OK;
    *conflict = false;
    for (size_t j = 0; j < n && !rc; j++) {
        int k = which[j];
        if (k == READ_KIND) {
            int krc = dsql__server_probe_answer(st[j].rc, &st[j].err, &c->is_dsql, err);
            if (krc == DSQL_ECONFLICT)
                *conflict = true;
            else if (krc)
                rc = krc;
            else
                c->kind_known = true;
        } else if (st[j].rc == DSQL_ECONFLICT) {
            *conflict = true;
        } else if (st[j].rc) {
            rc = st[j].rc;
            if (err)
                *err = st[j].err;
            dsql__err_prefix(err, "sync: reading %s", read_what[k]);
        }
    }
    return rc;
}

/* Keeps the results of an attempt that succeeded in c; frees them otherwise. */
static void take_results(sync_ctx *c, dsql__each_stmt *st, const int *which, size_t n, bool keep)
{
    for (size_t j = 0; j < n; j++) {
        PGresult *r = st[j].res;
        st[j].res = NULL;
        int k = which[j];
        if (!keep || k == READ_KIND) {
            PQclear(r);
        } else if (k == READ_SCHEMA) {
            if (r && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
                c->current_schema = dsql__strdup(PQgetvalue(r, 0, 0));
            PQclear(r);
        } else {
            PGresult **out = k == READ_COLUMNS   ? &c->columns
                             : k == READ_INDEXES ? &c->indexes
                                                 : &c->constraints;
            *out = r;
        }
    }
}

/* The last attempt's conflict, as the error; DSQL_OK when no read met one. */
static int conflict_error(const dsql__each_stmt *st, const int *which, size_t n, dsql_error *err)
{
    for (size_t j = 0; j < n; j++) {
        if (st[j].rc != DSQL_ECONFLICT)
            continue;
        if (err)
            *err = st[j].err;
        dsql__err_prefix(err, "sync: reading %s", read_what[which[j]]);
        return DSQL_ECONFLICT;
    }
    return DSQL_OK;
}

/* Sends the reads, and again after an OCC conflict: 5 retries at most, 100 ms apart at
 * first, doubling. */
static int run_reads(sync_ctx *c, dsql__each_stmt *st, const int *which, size_t n, dsql_error *err)
{
    int64_t delay = 100;
    for (int attempt = 0;; attempt++) {
        dsql__conn_exec_each(c->conn, st, n, NULL);
        bool conflict;
        int rc = check_answers(c, st, which, n, &conflict, err);
        take_results(c, st, which, n, !rc && !conflict);
        if (rc || !conflict)
            return rc;
        if (attempt >= 5)
            return conflict_error(st, which, n, err);
        dsql__conn_log(c->conn, DSQL_LOG_WARN,
                       "schema: concurrency conflict reading the catalog, retry %d of 5",
                       attempt + 1);
        dsql__sleep_ms(delay);
        delay *= 2;
    }
}

/* Each table's schema: its model's, else the connection's current one. */
static int resolve_schemas(sync_ctx *c, dsql_error *err)
{
    for (size_t i = 0; i < c->n_tables; i++) {
        table_state *t = &c->tables[i];
        t->schema = t->m->schema && *t->m->schema ? t->m->schema : c->current_schema;
        if (!t->schema)
            return dsql_error_set(err, DSQL_EINVAL,
                                  "sync: model %s names no schema and the connection has no "
                                  "current schema (its search_path is empty)",
                                  t->m->name);
    }
    return DSQL_OK;
}

static int read_catalog(sync_ctx *c, dsql_error *err)
{
    for (size_t i = 0; i < c->n_tables; i++) {
        const dsql_model *m = c->tables[i].m;
        dsql__params_add(&c->where_params, m->schema && *m->schema ? m->schema : NULL, 0, 0);
        dsql__params_add(&c->where_params, m->table, 0, 0);
    }
    if (c->where_params.oom)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory reading the catalog");

    dsql__strbuf sb[N_READS];
    for (int k = 0; k < N_READS; k++)
        sb[k] = (dsql__strbuf)DSQL__STRBUF_INIT;
    catalog_sql(c, sb);
    dsql__each_stmt st[N_READS];
    int which[N_READS];
    size_t n;
    int rc = catalog_stmts(c, sb, st, which, &n, err);
    if (!rc)
        rc = run_reads(c, st, which, n, err);
    for (int k = 0; k < N_READS; k++)
        dsql__sb_free(&sb[k]);
    if (rc)
        return rc;
    return resolve_schemas(c, err);
}

/* The row of res (schema, table, name, ...) naming name on t's table, or -1. name NULL
 * matches a row whose third column is NULL. */
static int catalog_row(const PGresult *res, const table_state *t, const char *name)
{
    for (int r = 0, n = res ? PQntuples(res) : 0; r < n; r++) {
        if (strcmp(PQgetvalue(res, r, 0), t->schema) != 0 ||
            strcmp(PQgetvalue(res, r, 1), t->m->table) != 0)
            continue;
        if (name ? !PQgetisnull(res, r, 2) && strcmp(PQgetvalue(res, r, 2), name) == 0
                 : PQgetisnull(res, r, 2))
            return r;
    }
    return -1;
}

static table_state *table_of(sync_ctx *c, const dsql_model *m)
{
    for (size_t i = 0; i < c->n_tables; i++)
        if (c->tables[i].m == m)
            return &c->tables[i];
    return NULL;
}

/* ---- sending DDL ---- */

/* Whether the server is DSQL, asked the first time a statement depends on it. */
static int server_kind(sync_ctx *c, dsql_error *err)
{
    if (c->kind_known)
        return DSQL_OK;
    int rc = dsql__server_is_dsql(c->conn, &c->is_dsql, err);
    c->kind_known = rc == DSQL_OK;
    return rc;
}

/* Plans the DDL in c->sql: it is sent later, with the others, each in its own
 * transaction. */
static step *plan(sync_ctx *c, step_kind kind, const char *what, dsql_error *err)
{
    if (c->n_steps == c->cap_steps) {
        size_t cap = c->cap_steps ? 2 * c->cap_steps : 16;
        step *n = realloc(c->steps, cap * sizeof *n);
        if (!n) {
            dsql__sb_reset(&c->sql);
            dsql_error_set(err, DSQL_ENOMEM, "out of memory planning DDL");
            return NULL;
        }
        c->steps = n;
        c->cap_steps = cap;
    }
    char *sql = c->sql.oom ? NULL : dsql__strdup(dsql__sb_str(&c->sql));
    dsql__sb_reset(&c->sql);
    if (!sql) {
        dsql_error_set(err, DSQL_ENOMEM, "out of memory building DDL");
        return NULL;
    }
    step *st = &c->steps[c->n_steps++];
    memset(st, 0, sizeof *st);
    st->sql = sql;
    st->kind = kind;
    snprintf(st->what, sizeof st->what, "sync: %s", what);
    return st;
}

static int ddl(sync_ctx *c, step_kind kind, const char *what, dsql_error *err)
{
    return plan(c, kind, what, err) ? DSQL_OK : DSQL_ENOMEM;
}

/* An index left invalid by a failed build: dropped (alone), so it can be built again. */
static int drop_invalid_index(sync_ctx *c, const table_state *t, const char *name, dsql_error *err)
{
    dsql__conn_log(c->conn, DSQL_LOG_WARN,
                   "sync: index %s on %s exists but is not valid (its build failed or was "
                   "interrupted); dropping it and building it again",
                   name, t->m->table);
    dsql__sb_append(&c->sql, "DROP INDEX ");
    dsql__sql_ident(&c->sql, t->schema);
    dsql__sb_append_c(&c->sql, '.');
    dsql__sql_ident(&c->sql, name);
    return ddl(c, STEP_INDEX_DROP, name, err);
}

static int create_index(sync_ctx *c, const table_state *t, const dsql_index *idx, dsql_error *err)
{
    char name[DSQL__IDENT_MAX + 1];
    dsql__ddl_index_name(name, t->m, idx);
    int row = t->created ? -1 : catalog_row(c->indexes, t, name);
    int rc;
    if (row >= 0 && strcmp(PQgetvalue(c->indexes, row, 3), "t") == 0)
        return DSQL_OK;
    if (row >= 0 && (rc = drop_invalid_index(c, t, name, err)))
        return rc;
    rc = server_kind(c, err);
    if (!rc)
        rc = dsql__ddl_create_index(&c->sql, t->m, idx, c->is_dsql, err);
    if (!rc)
        rc = ddl(c, STEP_INDEX, name, err);
    return rc;
}

/* The foreign keys of fks held by table t that can go inline in its CREATE TABLE: those
 * whose referenced table exists, was created already, is t itself, or is not synced
 * here (then it must exist already). */
static bool fk_ready(const sync_ctx *c, const dsql__fk *fk, const table_state *t)
{
    if (fk->ref == t->m)
        return true;
    for (size_t i = 0; i < c->n_tables; i++)
        if (c->tables[i].m == fk->ref)
            return c->tables[i].exists || c->tables[i].created;
    return true;
}

static int create_table(sync_ctx *c, table_state *t, dsql_error *err)
{
    dsql__fk inl[64];
    size_t n_inl = 0;
    for (size_t i = 0; i < c->n_fks; i++) {
        if (c->fks[i].model != t->m || !fk_ready(c, &c->fks[i], t))
            continue;
        if (n_inl == DSQL__ARRAY_LEN(inl))
            break; /* the rest follow as ALTER TABLE */
        inl[n_inl++] = c->fks[i];
        c->fk_inline[i] = true;
    }
    int rc = dsql__ddl_create_table(&c->sql, t->m, inl, n_inl, err);
    step *st = rc ? NULL : plan(c, STEP_TABLE, t->m->table, err);
    if (!st)
        return rc ? rc : DSQL_ENOMEM;
    st->n_inline = n_inl;
    t->created = true; /* planned: what follows may count on it (sent in order) */
    for (size_t i = 0; i < t->m->n_indexes; i++)
        if ((rc = create_index(c, t, &t->m->indexes[i], err)))
            return rc;
    return DSQL_OK;
}

/* True when a new table still waits for another new table it references. */
static bool waits_for_other(const sync_ctx *c, const table_state *t)
{
    for (size_t i = 0; i < c->n_fks; i++) {
        const dsql__fk *fk = &c->fks[i];
        if (fk->model != t->m || fk->ref == t->m)
            continue;
        for (size_t j = 0; j < c->n_tables; j++)
            if (c->tables[j].m == fk->ref && !c->tables[j].exists && !c->tables[j].created)
                return true;
    }
    return false;
}

/* New tables, referenced ones first; a cycle is broken in list order (its remaining
 * foreign keys follow as ALTER TABLE). */
static int create_tables(sync_ctx *c, dsql_error *err)
{
    for (;;) {
        table_state *next = NULL, *first = NULL;
        for (size_t i = 0; i < c->n_tables && !next; i++) {
            table_state *t = &c->tables[i];
            if (t->exists || t->created)
                continue;
            if (!first)
                first = t;
            if (!waits_for_other(c, t))
                next = t;
        }
        if (!next)
            next = first;
        if (!next)
            return DSQL_OK;
        int rc = create_table(c, next, err);
        if (rc)
            return rc;
    }
}

static int add_column(sync_ctx *c, table_state *t, const dsql_attr *a, dsql_error *err)
{
    const char *col = dsql__attr_column(a);
    char what[160];
    snprintf(what, sizeof what, "adding column %s.%s", t->m->table, col);
    dsql__ddl_add_column(&c->sql, t->m, a);
    step *st = plan(c, STEP_COLUMN, what, err);
    if (!st)
        return DSQL_ENOMEM;
    if (a->primary_key || a->not_null) {
        st->warn = a->primary_key ? "PRIMARY KEY" : "NOT NULL";
        st->t = t;
        st->a = a;
    }
    int rc;
    if (a->default_sql && *a->default_sql) {
        /* Allowed on DSQL as its own statement; applies to rows inserted from now on. */
        dsql__sb_append(&c->sql, "ALTER TABLE ");
        dsql__sql_table(&c->sql, t->m);
        dsql__sb_append(&c->sql, " ALTER COLUMN ");
        dsql__sql_ident(&c->sql, col);
        dsql__sb_append(&c->sql, " SET DEFAULT ");
        dsql__sb_append(&c->sql, a->default_sql);
        if ((rc = ddl(c, STEP_OTHER, what, err)))
            return rc;
    }
    if (a->unique && !a->primary_key) {
        /* DSQL adds no UNIQUE constraint to an existing table; a unique index enforces
         * the same rule. */
        char name[3 * 256];
        snprintf(name, sizeof name, "%s_%s_key", t->m->table, col);
        const char *attrs[1] = {a->name};
        dsql_index idx = {.name = name, .attrs = attrs, .n_attrs = 1, .unique = true};
        if ((rc = create_index(c, t, &idx, err)))
            return rc;
    }
    return DSQL_OK;
}

/* information_schema's data_type for a model type, and the length / precision / scale
 * that must match (0: any). */
static const char *info_type(const dsql_attr *a, int *len, int *prec, int *scale)
{
    *len = *prec = *scale = 0;
    switch (a->type) {
    case DSQL_T_UUID:
        return "uuid";
    case DSQL_T_STRING:
        *len = a->length;
        return "character varying";
    case DSQL_T_TEXT:
        return "text";
    case DSQL_T_CHAR:
        *len = a->length > 0 ? a->length : 1;
        return "character";
    case DSQL_T_SMALLINT:
        return "smallint";
    case DSQL_T_INTEGER:
        return "integer";
    case DSQL_T_BIGINT:
        return "bigint";
    case DSQL_T_REAL:
        return "real";
    case DSQL_T_DOUBLE:
        return "double precision";
    case DSQL_T_NUMERIC:
        dsql__numeric_ps(a, prec, scale);
        return "numeric";
    case DSQL_T_BOOLEAN:
        return "boolean";
    case DSQL_T_DATEONLY:
        return "date";
    case DSQL_T_TIME:
        return "time without time zone";
    case DSQL_T_TIMESTAMP:
        return "timestamp without time zone";
    case DSQL_T_TIMESTAMPTZ:
        return "timestamp with time zone";
    case DSQL_T_INTERVAL:
        return "interval";
    case DSQL_T_BYTEA:
        return "bytea";
    case DSQL_T_JSON:
        return "json";
    case DSQL_T_JSONB:
        return "jsonb";
    }
    return "";
}

static int int_col(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : atoi(PQgetvalue(r, row, col));
}

/* An existing column whose type is not the model's is reported, never altered (DSQL cannot
 * change a column's type). */
static void check_type(sync_ctx *c, const table_state *t, const dsql_attr *a, int row)
{
    const PGresult *r = c->columns;
    int len, prec, scale;
    const char *want = info_type(a, &len, &prec, &scale);
    const char *have = PQgetvalue(r, row, 3);
    int have_len = int_col(r, row, 4), have_prec = int_col(r, row, 5),
        have_scale = int_col(r, row, 6);
    if (strcmp(want, have) == 0 && (!len || len == have_len) &&
        (!prec || (prec == have_prec && scale == have_scale)))
        return;
    c->rep.type_mismatches++;
    char decl[48];
    dsql__strbuf db = DSQL__STRBUF_INIT;
    dsql__sb_append(&db, have);
    if (have_len)
        dsql__sb_appendf(&db, "(%d)", have_len);
    else if (prec && have_prec)
        dsql__sb_appendf(&db, "(%d,%d)", have_prec, have_scale);
    dsql__conn_log(c->conn, DSQL_LOG_WARN,
                   "sync: column %s.%s is %s in the database but %s in model %s; sync does not "
                   "change column types",
                   t->m->table, dsql__attr_column(a), db.oom ? have : dsql__sb_str(&db),
                   dsql__type_name(a, decl, sizeof decl), t->m->name);
    dsql__sb_free(&db);
}

static int update_table(sync_ctx *c, table_state *t, dsql_error *err)
{
    int rc;
    for (size_t i = 0; i < t->m->n_attrs; i++) {
        const dsql_attr *a = &t->m->attrs[i];
        int row = catalog_row(c->columns, t, dsql__attr_column(a));
        if (row >= 0)
            check_type(c, t, a, row);
        else if ((rc = add_column(c, t, a, err)))
            return rc;
    }
    for (size_t i = 0; i < t->m->n_indexes; i++)
        if ((rc = create_index(c, t, &t->m->indexes[i], err)))
            return rc;
    return DSQL_OK;
}

/* A foreign key not created inline: ADD CONSTRAINT ... NOT VALID, then VALIDATE (the form
 * DSQL requires on a table that may hold rows). One left unvalidated by an earlier,
 * interrupted sync is validated now. */
static int add_fk(sync_ctx *c, const dsql__fk *fk, dsql_error *err)
{
    table_state *t = table_of(c, fk->model);
    int row = catalog_row(c->constraints, t, fk->name);
    bool validated = row >= 0 && strcmp(PQgetvalue(c->constraints, row, 3), "t") == 0;
    if (validated)
        return DSQL_OK;
    int rc;
    if (row < 0) {
        dsql__ddl_add_fk(&c->sql, fk, true);
        if ((rc = ddl(c, STEP_FK, fk->name, err)))
            return rc;
    }
    if ((rc = server_kind(c, err)))
        return rc;
    dsql__ddl_validate_fk(&c->sql, fk, c->is_dsql);
    return ddl(c, STEP_OTHER, fk->name, err);
}

/* ---- dsql_sync ---- */

static int collect(sync_ctx *c, const dsql_model *const *models, size_t n_models,
                   const dsql_assoc *const *assocs, size_t n_assocs, dsql_error *err)
{
    int rc;
    if ((n_models && !models) || (n_assocs && !assocs))
        return dsql_error_set(err, DSQL_EINVAL, "dsql_sync: models or assocs is NULL");
    c->tables = calloc(n_models ? n_models : 1, sizeof *c->tables);
    c->fks = calloc(n_assocs ? 2 * n_assocs : 1, sizeof *c->fks);
    c->fk_inline = calloc(n_assocs ? 2 * n_assocs : 1, sizeof *c->fk_inline);
    if (!c->tables || !c->fks || !c->fk_inline)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    for (size_t i = 0; i < n_models; i++) {
        const dsql_model *m = models[i];
        if (!m)
            return dsql_error_set(err, DSQL_EINVAL, "dsql_sync: models[%zu] is NULL", i);
        if ((rc = dsql__model_check(m, err)))
            return rc;
        for (size_t j = 0; j < c->n_tables; j++) {
            const dsql_model *o = c->tables[j].m;
            bool same_schema = (!m->schema && !o->schema) ||
                               (m->schema && o->schema && strcmp(m->schema, o->schema) == 0);
            if (same_schema && strcmp(m->table, o->table) == 0)
                return dsql_error_set(err, DSQL_EINVAL,
                                      "dsql_sync: models %s and %s both use table %s", o->name,
                                      m->name, m->table);
        }
        c->tables[c->n_tables++].m = m;
    }
    for (size_t i = 0; i < n_assocs; i++) {
        if (!assocs[i])
            return dsql_error_set(err, DSQL_EINVAL, "dsql_sync: assocs[%zu] is NULL", i);
        dsql__fk fk[2];
        size_t n;
        if ((rc = dsql__assoc_fks(assocs[i], fk, &n, err)))
            return rc;
        for (size_t k = 0; k < n; k++) {
            if (!table_of(c, fk[k].model))
                return dsql_error_set(err, DSQL_EINVAL,
                                      "dsql_sync: association %s puts a foreign key on table "
                                      "%s, whose model %s is not among the models synced",
                                      assocs[i]->alias ? assocs[i]->alias : "?", fk[k].model->table,
                                      fk[k].model->name);
            bool dup = false; /* e.g. both sides of one relation opt in */
            for (size_t j = 0; j < c->n_fks && !dup; j++)
                dup = c->fks[j].model == fk[k].model && strcmp(c->fks[j].name, fk[k].name) == 0;
            if (!dup)
                c->fks[c->n_fks++] = fk[k];
        }
    }
    return DSQL_OK;
}

static void sync_free(sync_ctx *c)
{
    free(c->tables);
    free(c->fks);
    free(c->fk_inline);
    free(c->current_schema);
    dsql__params_free(&c->where_params);
    PQclear(c->columns);
    PQclear(c->indexes);
    PQclear(c->constraints);
    dsql__sb_free(&c->sql);
    for (size_t i = 0; i < c->n_steps; i++)
        free(c->steps[i].sql);
    free(c->steps);
}

/* Sends the planned DDL (one pipeline, each statement its own transaction; the jobs
 * waited for together) and counts what ran into the report. */
static int run_steps(sync_ctx *c, dsql_error *err)
{
    if (!c->n_steps)
        return DSQL_OK;
    dsql__ddl_item *items = calloc(c->n_steps, sizeof *items);
    if (!items)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->n_steps; i++) {
        items[i].sql = c->steps[i].sql;
        items[i].what = c->steps[i].what;
    }
    int rc = dsql__ddl_run_all(c->conn, items, c->n_steps, NULL, err);
    for (size_t i = 0; i < c->n_steps; i++) {
        const step *st = &c->steps[i];
        if (items[i].rc)
            continue;
        c->rep.statements++;
        switch (st->kind) {
        case STEP_TABLE:
            c->rep.tables_created++;
            c->rep.constraints_added += st->n_inline;
            break;
        case STEP_COLUMN:
            c->rep.columns_added++;
            if (st->warn) {
                c->rep.not_applied++;
                dsql__conn_log(c->conn, DSQL_LOG_WARN,
                               "sync: column %s.%s was added as a nullable column without %s: "
                               "Aurora DSQL cannot add it to an existing table",
                               st->t->m->table, dsql__attr_column(st->a), st->warn);
            }
            break;
        case STEP_INDEX:
            c->rep.indexes_created++;
            break;
        case STEP_INDEX_DROP:
            c->rep.indexes_rebuilt++;
            break;
        case STEP_FK:
            c->rep.constraints_added++;
            break;
        case STEP_OTHER:
            break;
        }
    }
    free(items);
    return rc;
}

static int sync_run(sync_ctx *c, dsql_error *err)
{
    int rc = read_catalog(c, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < c->n_tables; i++)
        c->tables[i].exists = catalog_row(c->columns, &c->tables[i], NULL) >= 0;
    if ((rc = create_tables(c, err)))
        return rc;
    for (size_t i = 0; i < c->n_tables; i++)
        if (c->tables[i].exists && (rc = update_table(c, &c->tables[i], err)))
            return rc;
    for (size_t i = 0; i < c->n_fks; i++)
        if (!c->fk_inline[i] && (rc = add_fk(c, &c->fks[i], err)))
            return rc;
    return run_steps(c, err);
}

static int sync_call(dsql_db *db, const dsql_model *const *models, size_t n_models,
                     const dsql_assoc *const *assocs, size_t n_assocs, dsql_sync_report *report,
                     dsql_error *err)
{
    sync_ctx c;
    memset(&c, 0, sizeof c);
    c.where_params = (dsql__params)DSQL__PARAMS_INIT;
    c.sql = (dsql__strbuf)DSQL__STRBUF_INIT;
    if (report)
        memset(report, 0, sizeof *report);
    int rc = collect(&c, models, n_models, assocs, n_assocs, err);
    if (rc || c.n_tables == 0)
        goto done;
    if ((rc = dsql__db_acquire(db, &c.conn, err)))
        goto done;
    if (dsql__db_in_transaction(dsql_conn_db(c.conn))) {
        rc = dsql_error_set(err, DSQL_EINVAL,
                            "dsql_sync: the connection is inside a transaction; schema changes "
                            "run each DDL statement in its own transaction");
    } else {
        rc = sync_run(&c, err);
        dsql__conn_log(c.conn, rc ? DSQL_LOG_ERROR : DSQL_LOG_INFO,
                       "sync%s: %zu tables created, %zu columns added, %zu indexes created "
                       "(%zu of them rebuilt), %zu foreign keys added, %zu DDL statements, %zu "
                       "not applied, %zu type mismatches",
                       rc ? " (failed)" : "", c.rep.tables_created, c.rep.columns_added,
                       c.rep.indexes_created, c.rep.indexes_rebuilt, c.rep.constraints_added,
                       c.rep.statements, c.rep.not_applied, c.rep.type_mismatches);
    }
    dsql__db_release(db, c.conn);
done:
    if (report)
        *report = c.rep;
    sync_free(&c);
    return rc;
}

int dsql_sync(dsql_db *db, const dsql_model *const *models, size_t n_models,
              const dsql_assoc *const *assocs, size_t n_assocs, dsql_sync_report *report,
              dsql_error *err)
{
    return dsql__api_ret("dsql_sync",
                         sync_call(db, models, n_models, assocs, n_assocs, report, err), err);
}
