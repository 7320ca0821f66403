/*
 * Aurora DSQL's 3,000-row cap inside the caller's transaction.
 *
 * A model call that runs in the caller's transaction (db is a connection inside one)
 * cannot split its work — the caller's transaction commits as one — and the server's
 * refusal (54000) would abort the whole of it. So such a call finds out first, in the
 * same transaction and snapshot, how many rows it would modify, and refuses before
 * writing anything that would take the transaction past the cap:
 *  - the room left is 3,000 minus the rows the transaction's statements reported so far
 *    (their command tags: dsql__conn_tx_rows);
 *  - a call that knows its row count checks it against the room (dsql__tx_reserve);
 *  - a where-based UPDATE or DELETE carries a guard, a tally of the rows it would modify
 *    computed by the statement itself over at most room + 1 matching rows: the statement
 *    changes nothing when the tally exceeds the room, and only when it changed nothing is
 *    the tally read on its own, to tell "nothing matched" from "too many";
 *  - for a DELETE each row costs 1 plus the rows its ON DELETE actions modify (CASCADE
 *    deletes, SET NULL / SET DEFAULT updates), read from the catalog's foreign keys and
 *    counted through cascades several levels down; the first DELETE also deletes nothing
 *    when such a foreign key references the table, so the catalog is read only then.
 * The check holds on every server, so a program that passes on PostgreSQL (which has no
 * cap) does not fail on Aurora DSQL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"

/* ---- room ---- */

static uint64_t tx_used(dsql_db *db)
{
    return dsql__db_in_transaction(db) ? dsql__conn_tx_rows(dsql__db_conn(db)) : 0;
}

uint64_t dsql__tx_room(dsql_db *db)
{
    uint64_t used = tx_used(db);
    return used >= DSQL__ROW_CAP ? 0 : DSQL__ROW_CAP - used;
}

int dsql__tx_refuse(dsql_db *db, dsql_error *err, const char *subject, const char *what,
                    const char *tail)
{
    uint64_t used = tx_used(db), room = dsql__tx_room(db);
    if (!what)
        return dsql_error_set(err, DSQL_ELIMIT,
                              "%s: the caller's transaction may modify no more rows (one Aurora "
                              "DSQL transaction modifies at most 3,000 rows, and it has modified "
                              "%llu so far); %s",
                              subject, (unsigned long long)used, tail);
    return dsql_error_set(err, DSQL_ELIMIT,
                          "%s: %s, and the caller's transaction may modify only %llu more (one "
                          "Aurora DSQL transaction modifies at most 3,000 rows, and it has "
                          "modified %llu so far); %s",
                          subject, what, (unsigned long long)room, (unsigned long long)used, tail);
}

int dsql__tx_reserve(dsql_db *db, uint64_t rows, const char *fn, const dsql_model *m,
                     dsql_error *err)
{
    if (!dsql__db_in_transaction(db) || rows <= dsql__tx_room(db))
        return DSQL_OK;
    char subject[160];
    snprintf(subject, sizeof subject, "%s: %s", fn, m->name);
    if (rows == 1)
        return dsql__tx_refuse(db, err, subject, NULL, "nothing was sent");
    char what[64];
    snprintf(what, sizeof what, "%llu rows would be written", (unsigned long long)rows);
    return dsql__tx_refuse(db, err, subject, what, "nothing was sent");
}

/* ---- one row at most ---- */

bool dsql__where_one_row(const dsql_model *m, const dsql_where *w)
{
    for (int depth = 0; w && depth < 64; depth++) {
        if (w->op == DSQL_OP_EQ && w->n_values == 1 && w->values && !w->n_path) {
            const dsql_attr *a = dsql__model_attr(m, w->attr);
            const dsql_value *v = &w->values[0];
            return a && (a->primary_key || a->unique) && v->kind != DSQL_V_NULL &&
                   !(v->kind == DSQL_V_TEXT && !v->u.s);
        }
        if (w->op != DSQL_OP_AND || !w->children)
            return false;
        /* An AND matches at most what any one of its terms matches. */
        for (size_t i = 0; i + 1 < w->n_children; i++)
            if (dsql__where_one_row(m, w->children[i]))
                return true;
        w = w->n_children ? w->children[w->n_children - 1] : NULL;
    }
    return false;
}

/* ---- the tally ---- */

void dsql__append_tally(dsql__strbuf *sql, dsql__params *p, const dsql_model *m,
                        const dsql_where *where, const char *cost, uint64_t room, int *where_rc,
                        dsql_error *err)
{
    char limit[24];
    dsql__i64toa((int64_t)room + 1, limit);
    dsql__sb_append(sql, "(SELECT coalesce(sum(\"dsql_c\"), 0) FROM (SELECT ");
    dsql__sb_append(sql, cost);
    dsql__sb_append(sql, " AS \"dsql_c\" FROM ");
    dsql__sql_table(sql, m);
    dsql__sb_append(sql, " AS " DSQL__TALLY_ALIAS " WHERE (");
    *where_rc = dsql__build_where(sql, p, m, NULL, where, err);
    dsql__sb_append(sql, ")");
    dsql__sb_append_param(sql, " LIMIT ", dsql__params_add_copy(p, limit, strlen(limit)));
    dsql__sb_append(sql, ") AS \"dsql_s\")");
}

int dsql__tally(dsql_db *db, const dsql_model *m, const dsql_where *where, const char *cost,
                uint64_t room, uint64_t *count, dsql_error *err)
{
    *count = 0;
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    PGresult *pg = NULL;
    int rc = DSQL_OK;
    dsql__sb_append(&sql, "SELECT ");
    dsql__append_tally(&sql, &p, m, where, cost, room, &rc, err);
    if (!rc)
        rc = dsql__run(db, &sql, &p, &pg, err);
    if (!rc) {
        int64_t n = 0;
        const char *t = PQntuples(pg) == 1 ? PQgetvalue(pg, 0, 0) : "";
        if (!dsql__strtoi64(t, strlen(t), 0, INT64_MAX, &n))
            rc = dsql_error_set(err, DSQL_EPARSE, "%s: the server sent no row count", m->name);
        *count = (uint64_t)n;
    }
    PQclear(pg);
    dsql__sb_free(&sql);
    dsql__params_free(&p);
    return rc;
}

void dsql__append_no_delete_actions(dsql__strbuf *sql, dsql__params *p, const dsql_model *m)
{
    dsql__sb_append(sql, "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k "
                         "JOIN pg_catalog.pg_class t ON t.oid = k.confrelid "
                         "JOIN pg_catalog.pg_namespace s ON s.oid = t.relnamespace "
                         "WHERE k.contype = 'f' AND k.confdeltype IN ('c', 'n', 'd')");
    dsql__sb_append_param(sql, " AND t.relname = ", dsql__params_add(p, m->table, 0, 0));
    if (m->schema && *m->schema)
        dsql__sb_append_param(sql, " AND s.nspname = ", dsql__params_add(p, m->schema, 0, 0));
    else
        dsql__sb_append(sql, " AND s.nspname = pg_catalog.current_schema()");
    dsql__sb_append_c(sql, ')');
}

/* ---- what a DELETE's ON DELETE actions modify ---- */

/* The foreign keys whose ON DELETE action modifies rows (CASCADE, SET NULL, SET DEFAULT),
 * one row per key column in order. */
static const char graph_sql[] =
    "SELECT k.oid::text, cn.nspname::text, c.relname::text, pn.nspname::text, "
    "p.relname::text, k.confdeltype::text, pg_catalog.current_schema()::text, "
    "ca.attname::text, pa.attname::text "
    "FROM pg_catalog.pg_constraint k "
    "JOIN pg_catalog.pg_class c ON c.oid = k.conrelid "
    "JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace "
    "JOIN pg_catalog.pg_class p ON p.oid = k.confrelid "
    "JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace "
    "CROSS JOIN pg_catalog.generate_series(1, 32) AS i (n) "
    "JOIN pg_catalog.pg_attribute ca ON ca.attrelid = k.conrelid AND ca.attnum = k.conkey[i.n] "
    "JOIN pg_catalog.pg_attribute pa ON pa.attrelid = k.confrelid "
    "AND pa.attnum = k.confkey[i.n] "
    "WHERE k.contype = 'f' AND k.confdeltype IN ('c', 'n', 'd') "
    "ORDER BY k.oid, i.n";

#define GRAPH_MAX_DEPTH 8     /* levels of cascades counted ahead */
#define COST_MAX_BYTES  65536 /* the cost expression stops growing past this */

/* One foreign key: rows [first, first + ncols) of the graph result. */
typedef struct fk_edge {
    int first, ncols;
} fk_edge;

typedef struct walk {
    PGresult *g;
    fk_edge *edges;
    size_t n_edges;
    dsql__strbuf *out;
    int aliases;
    bool incomplete; /* a cycle, or a depth or size bound, stopped the counting short */
    const char *path_ns[GRAPH_MAX_DEPTH + 1], *path_rel[GRAPH_MAX_DEPTH + 1];
} walk;

static const char *cell(const walk *w, int row, int col)
{
    return PQgetvalue(w->g, row, col);
}

static bool edge_from(const walk *w, const fk_edge *e, const char *ns, const char *rel)
{
    return !strcmp(cell(w, e->first, 3), ns) && !strcmp(cell(w, e->first, 4), rel);
}

static bool has_edges(const walk *w, const char *ns, const char *rel)
{
    for (size_t i = 0; i < w->n_edges; i++)
        if (edge_from(w, &w->edges[i], ns, rel))
            return true;
    return false;
}

static bool on_path(const walk *w, int depth, const char *ns, const char *rel)
{
    for (int d = 0; d <= depth; d++)
        if (!strcmp(w->path_ns[d], ns) && !strcmp(w->path_rel[d], rel))
            return true;
    return false;
}

/* (a."x", a."y") or a."x" over columns col of the edge's rows. */
static void key_cols(walk *w, const fk_edge *e, const char *alias, int col)
{
    if (e->ncols > 1)
        dsql__sb_append_c(w->out, '(');
    for (int k = 0; k < e->ncols; k++) {
        if (k)
            dsql__sb_append(w->out, ", ");
        dsql__sql_ident(w->out, alias);
        dsql__sb_append_c(w->out, '.');
        dsql__sql_ident(w->out, cell(w, e->first + k, col));
    }
    if (e->ncols > 1)
        dsql__sb_append_c(w->out, ')');
}

/* Appends the rows deleting one row of (ns, rel), called alias, modifies: 1 for itself,
 * plus per foreign key pointing at it the referencing rows (each with its own cascade for
 * ON DELETE CASCADE, within the depth bound). */
static void cost_of(walk *w, const char *ns, const char *rel, const char *alias, int depth)
{
    w->path_ns[depth] = ns;
    w->path_rel[depth] = rel;
    dsql__sb_append_c(w->out, '1');
    for (size_t i = 0; i < w->n_edges; i++) {
        const fk_edge *e = &w->edges[i];
        if (!edge_from(w, e, ns, rel))
            continue;
        const char *cns = cell(w, e->first, 1), *crel = cell(w, e->first, 2);
        bool cascade = cell(w, e->first, 5)[0] == 'c';
        bool deeper = cascade && has_edges(w, cns, crel);
        bool bounded = depth >= GRAPH_MAX_DEPTH || on_path(w, depth, cns, crel) ||
                       w->out->len > COST_MAX_BYTES;
        if (deeper && bounded)
            w->incomplete = true;
        char child[24];
        snprintf(child, sizeof child, "dsql_c%d", ++w->aliases);
        dsql__sb_append(w->out, " + (SELECT ");
        if (deeper && !bounded) {
            dsql__sb_append(w->out, "coalesce(sum(");
            cost_of(w, cns, crel, child, depth + 1);
            dsql__sb_append(w->out, "), 0)");
        } else {
            dsql__sb_append(w->out, "count(*)");
        }
        dsql__sb_append(w->out, " FROM ");
        dsql__sql_ident(w->out, cns);
        dsql__sb_append_c(w->out, '.');
        dsql__sql_ident(w->out, crel);
        dsql__sb_append(w->out, " AS ");
        dsql__sql_ident(w->out, child);
        dsql__sb_append(w->out, " WHERE ");
        key_cols(w, e, child, 7);
        dsql__sb_append(w->out, " = ");
        key_cols(w, e, alias, 8);
        dsql__sb_append_c(w->out, ')');
    }
}

int dsql__delete_cost(dsql_db *db, const dsql_model *m, dsql__strbuf *out, dsql_error *err)
{
    PGresult *g = NULL;
    int rc = dsql__db_exec(db, graph_sql, 0, NULL, NULL, NULL, &g, err);
    if (rc) {
        dsql__err_prefix(err, "%s: reading the foreign keys that reference table %s", m->name,
                         m->table);
        return rc;
    }
    int nrows = PQntuples(g);
    fk_edge *edges = malloc(((size_t)nrows + 1) * sizeof *edges);
    if (!edges) {
        PQclear(g);
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    }
    walk w = {.g = g, .edges = edges, .out = out};
    const char *root_ns = NULL;
    for (int r = 0; r < nrows; r++) {
        if (r == 0 || strcmp(PQgetvalue(g, r, 0), PQgetvalue(g, r - 1, 0)) != 0)
            edges[w.n_edges++] = (fk_edge){r, 0};
        edges[w.n_edges - 1].ncols++;
        /* The model's table: in its schema, or in the connection's current schema (where
         * the model's statements find it, as dsql_sync creates it). */
        const char *schema = m->schema && *m->schema ? m->schema : PQgetvalue(g, r, 6);
        bool is_root =
            !strcmp(PQgetvalue(g, r, 4), m->table) && !strcmp(PQgetvalue(g, r, 3), schema);
        if (is_root)
            root_ns = PQgetvalue(g, r, 3);
    }
    if (root_ns)
        cost_of(&w, root_ns, m->table, DSQL__TALLY_ROW, 0);
    else
        dsql__sb_append_c(out, '1');
    if (w.incomplete)
        dsql__db_log(db, DSQL_LOG_WARN,
                     "%s: the ON DELETE CASCADE chain from table %s loops back or runs deeper "
                     "than %d tables: rows past that are not counted ahead (the server still "
                     "refuses a transaction past 3,000 rows)",
                     m->name, m->table, GRAPH_MAX_DEPTH);
    free(edges);
    PQclear(g);
    return out->oom ? dsql_error_set(err, DSQL_ENOMEM, "out of memory") : DSQL_OK;
}
