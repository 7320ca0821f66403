/*
 * Statements: kind, command, the facts a server needs, and the rules a statement's own node
 * breaks. One switch maps PostgreSQL's statement nodes to kinds and rule numbers; the rules'
 * wording lives in rules_table.c. Statements DSQL refuses as a whole and that need no more
 * than a name in the message are rows of one table below (node -> kind, command, rule,
 * DSQL's name for the statement); the others have a function each.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <pg_query.h>

#include "rules/internal.h"

/* ---- statements judged by their node alone ---- */

typedef struct node_rule {
    PgQuery__Node__NodeCase node;
    dsql_rules_kind kind;
    const char *command; /* PostgreSQL's command tag words */
    dsql_rule_id rule;   /* DSQL_RULE__COUNT: none */
    const char *arg;     /* the name DSQL's message gives the statement */
} node_rule;

#define NONE DSQL_RULE__COUNT

static const node_rule node_rules[] = {
    {PG_QUERY__NODE__NODE_TRUNCATE_STMT, DSQL_RULES_DML, "TRUNCATE TABLE", DSQL_RULE_TRUNCATE,
     NULL},
    {PG_QUERY__NODE__NODE_CREATEDB_STMT, DSQL_RULES_DDL, "CREATE DATABASE",
     DSQL_RULE_CREATE_DATABASE, "Createdb"},
    {PG_QUERY__NODE__NODE_DROPDB_STMT, DSQL_RULES_DDL, "DROP DATABASE", DSQL_RULE_CREATE_DATABASE,
     "Dropdb"},
    {PG_QUERY__NODE__NODE_ALTER_DATABASE_STMT, DSQL_RULES_DDL, "ALTER DATABASE",
     DSQL_RULE_CREATE_DATABASE, "AlterDatabase"},
    {PG_QUERY__NODE__NODE_ALTER_DATABASE_SET_STMT, DSQL_RULES_DDL, "ALTER DATABASE",
     DSQL_RULE_CREATE_DATABASE, "AlterDatabaseSet"},
    {PG_QUERY__NODE__NODE_ALTER_DATABASE_REFRESH_COLL_STMT, DSQL_RULES_DDL, "ALTER DATABASE",
     DSQL_RULE_CREATE_DATABASE, "AlterDatabaseRefreshColl"},
    {PG_QUERY__NODE__NODE_LISTEN_STMT, DSQL_RULES_UTILITY, "LISTEN", DSQL_RULE_LISTEN_NOTIFY,
     "Listen"},
    {PG_QUERY__NODE__NODE_NOTIFY_STMT, DSQL_RULES_UTILITY, "NOTIFY", DSQL_RULE_LISTEN_NOTIFY,
     "Notify"},
    {PG_QUERY__NODE__NODE_UNLISTEN_STMT, DSQL_RULES_UTILITY, "UNLISTEN", DSQL_RULE_LISTEN_NOTIFY,
     "Unlisten"},
    {PG_QUERY__NODE__NODE_MERGE_STMT, DSQL_RULES_DML, "MERGE", DSQL_RULE_MERGE, NULL},
    {PG_QUERY__NODE__NODE_REFRESH_MAT_VIEW_STMT, DSQL_RULES_DDL, "REFRESH MATERIALIZED VIEW",
     DSQL_RULE_MATERIALIZED_VIEW, "RefreshMatView"},
    {PG_QUERY__NODE__NODE_CREATE_TRIG_STMT, DSQL_RULES_DDL, "CREATE TRIGGER", DSQL_RULE_TRIGGER,
     "CreateTrig"},
    {PG_QUERY__NODE__NODE_CREATE_EVENT_TRIG_STMT, DSQL_RULES_DDL, "CREATE EVENT TRIGGER",
     DSQL_RULE_TRIGGER, "CreateEventTrig"},
    {PG_QUERY__NODE__NODE_ALTER_EVENT_TRIG_STMT, DSQL_RULES_DDL, "ALTER EVENT TRIGGER",
     DSQL_RULE_TRIGGER, "AlterEventTrig"},
    {PG_QUERY__NODE__NODE_CREATE_EXTENSION_STMT, DSQL_RULES_DDL, "CREATE EXTENSION",
     DSQL_RULE_EXTENSION, "CreateExtension"},
    {PG_QUERY__NODE__NODE_ALTER_EXTENSION_STMT, DSQL_RULES_DDL, "ALTER EXTENSION",
     DSQL_RULE_EXTENSION, "AlterExtension"},
    {PG_QUERY__NODE__NODE_ALTER_EXTENSION_CONTENTS_STMT, DSQL_RULES_DDL, "ALTER EXTENSION",
     DSQL_RULE_EXTENSION, "AlterExtensionContents"},
    {PG_QUERY__NODE__NODE_CREATE_ENUM_STMT, DSQL_RULES_DDL, "CREATE TYPE", DSQL_RULE_CREATE_TYPE,
     "CREATE TYPE"},
    {PG_QUERY__NODE__NODE_COMPOSITE_TYPE_STMT, DSQL_RULES_DDL, "CREATE TYPE", DSQL_RULE_CREATE_TYPE,
     "CREATE TYPE"},
    {PG_QUERY__NODE__NODE_CREATE_RANGE_STMT, DSQL_RULES_DDL, "CREATE TYPE", DSQL_RULE_CREATE_TYPE,
     "CREATE TYPE"},
    {PG_QUERY__NODE__NODE_ALTER_TYPE_STMT, DSQL_RULES_DDL, "ALTER TYPE", DSQL_RULE_CREATE_TYPE,
     "ALTER TYPE"},
    {PG_QUERY__NODE__NODE_ALTER_ENUM_STMT, DSQL_RULES_DDL, "ALTER TYPE", DSQL_RULE_CREATE_TYPE,
     "ALTER TYPE"},
    {PG_QUERY__NODE__NODE_DO_STMT, DSQL_RULES_UTILITY, "DO", DSQL_RULE_DO_BLOCK, NULL},
    {PG_QUERY__NODE__NODE_LOCK_STMT, DSQL_RULES_UTILITY, "LOCK TABLE", DSQL_RULE_LOCK_TABLE, NULL},
    {PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT, DSQL_RULES_UTILITY, "DECLARE CURSOR",
     DSQL_RULE_CURSOR, "DeclareCursor"},
    {PG_QUERY__NODE__NODE_FETCH_STMT, DSQL_RULES_UTILITY, "FETCH", DSQL_RULE_CURSOR, "Fetch"},
    {PG_QUERY__NODE__NODE_CLOSE_PORTAL_STMT, DSQL_RULES_UTILITY, "CLOSE CURSOR", DSQL_RULE_CURSOR,
     "ClosePortal"},
    {PG_QUERY__NODE__NODE_CREATE_TABLE_SPACE_STMT, DSQL_RULES_DDL, "CREATE TABLESPACE",
     DSQL_RULE_TABLESPACE, NULL},
    {PG_QUERY__NODE__NODE_DROP_TABLE_SPACE_STMT, DSQL_RULES_DDL, "DROP TABLESPACE",
     DSQL_RULE_TABLESPACE, NULL},
    {PG_QUERY__NODE__NODE_ALTER_TABLE_SPACE_OPTIONS_STMT, DSQL_RULES_DDL, "ALTER TABLESPACE",
     DSQL_RULE_TABLESPACE, NULL},
    {PG_QUERY__NODE__NODE_ALTER_TABLE_MOVE_ALL_STMT, DSQL_RULES_DDL, "ALTER TABLE",
     DSQL_RULE_TABLESPACE, NULL},
    {PG_QUERY__NODE__NODE_ALTER_SYSTEM_STMT, DSQL_RULES_UTILITY, "ALTER SYSTEM",
     DSQL_RULE_UNSUPPORTED_STATEMENT, "AlterSystem"},
    {PG_QUERY__NODE__NODE_LOAD_STMT, DSQL_RULES_UTILITY, "LOAD", DSQL_RULE_UNSUPPORTED_STATEMENT,
     "Load"},
    {PG_QUERY__NODE__NODE_CHECK_POINT_STMT, DSQL_RULES_UTILITY, "CHECKPOINT",
     DSQL_RULE_UNSUPPORTED_STATEMENT, "CheckPoint"},
    {PG_QUERY__NODE__NODE_CLUSTER_STMT, DSQL_RULES_DDL, "CLUSTER", DSQL_RULE_UNSUPPORTED_STATEMENT,
     "Cluster"},
    {PG_QUERY__NODE__NODE_RULE_STMT, DSQL_RULES_DDL, "CREATE RULE", DSQL_RULE_UNSUPPORTED_STATEMENT,
     "Rule"},
    {PG_QUERY__NODE__NODE_CREATE_PLANG_STMT, DSQL_RULES_DDL, "CREATE LANGUAGE",
     DSQL_RULE_UNSUPPORTED_STATEMENT, "CreatePLang"},
    {PG_QUERY__NODE__NODE_CREATE_FDW_STMT, DSQL_RULES_DDL, "CREATE FOREIGN DATA WRAPPER",
     DSQL_RULE_UNSUPPORTED_STATEMENT, "CreateFdw"},
    {PG_QUERY__NODE__NODE_ALTER_FDW_STMT, DSQL_RULES_DDL, "ALTER FOREIGN DATA WRAPPER",
     DSQL_RULE_UNSUPPORTED_STATEMENT, "AlterFdw"},
    {PG_QUERY__NODE__NODE_CREATE_FOREIGN_SERVER_STMT, DSQL_RULES_DDL, "CREATE SERVER",
     DSQL_RULE_UNSUPPORTED_STATEMENT, "CreateForeignServer"},
    {PG_QUERY__NODE__NODE_ALTER_FOREIGN_SERVER_STMT, DSQL_RULES_DDL, "ALTER SERVER",
     DSQL_RULE_UNSUPPORTED_STATEMENT, "AlterForeignServer"},
    {PG_QUERY__NODE__NODE_CREATE_FOREIGN_TABLE_STMT, DSQL_RULES_DDL, "CREATE FOREIGN TABLE",
     DSQL_RULE_UNSUPPORTED_STATEMENT, "CreateForeignTable"},
    {PG_QUERY__NODE__NODE_CREATE_USER_MAPPING_STMT, DSQL_RULES_DDL, "CREATE USER MAPPING",
     DSQL_RULE_UNSUPPORTED_STATEMENT, "CreateUserMapping"},
    {PG_QUERY__NODE__NODE_ALTER_USER_MAPPING_STMT, DSQL_RULES_DDL, "ALTER USER MAPPING",
     DSQL_RULE_UNSUPPORTED_STATEMENT, "AlterUserMapping"},
    {PG_QUERY__NODE__NODE_DROP_USER_MAPPING_STMT, DSQL_RULES_DDL, "DROP USER MAPPING",
     DSQL_RULE_UNSUPPORTED_STATEMENT, "DropUserMapping"},
    {PG_QUERY__NODE__NODE_IMPORT_FOREIGN_SCHEMA_STMT, DSQL_RULES_DDL, "IMPORT FOREIGN SCHEMA",
     DSQL_RULE_UNSUPPORTED_STATEMENT, "ImportForeignSchema"},
    {PG_QUERY__NODE__NODE_CREATE_PUBLICATION_STMT, DSQL_RULES_DDL, "CREATE PUBLICATION",
     DSQL_RULE_UNSUPPORTED_STATEMENT, "CreatePublication"},
    {PG_QUERY__NODE__NODE_ALTER_PUBLICATION_STMT, DSQL_RULES_DDL, "ALTER PUBLICATION",
     DSQL_RULE_UNSUPPORTED_STATEMENT, "AlterPublication"},
    {PG_QUERY__NODE__NODE_CREATE_SUBSCRIPTION_STMT, DSQL_RULES_DDL, "CREATE SUBSCRIPTION",
     DSQL_RULE_UNSUPPORTED_STATEMENT, "CreateSubscription"},
    {PG_QUERY__NODE__NODE_ALTER_SUBSCRIPTION_STMT, DSQL_RULES_DDL, "ALTER SUBSCRIPTION",
     DSQL_RULE_UNSUPPORTED_STATEMENT, "AlterSubscription"},
    {PG_QUERY__NODE__NODE_DROP_SUBSCRIPTION_STMT, DSQL_RULES_DDL, "DROP SUBSCRIPTION",
     DSQL_RULE_UNSUPPORTED_STATEMENT, "DropSubscription"},
    {PG_QUERY__NODE__NODE_CREATE_AM_STMT, DSQL_RULES_DDL, "CREATE ACCESS METHOD",
     DSQL_RULE_UNSUPPORTED_STATEMENT, "CreateAm"},
    {PG_QUERY__NODE__NODE_CREATE_CONVERSION_STMT, DSQL_RULES_DDL, "CREATE CONVERSION",
     DSQL_RULE_UNSUPPORTED_STATEMENT, "CreateConversion"},
    {PG_QUERY__NODE__NODE_CREATE_TRANSFORM_STMT, DSQL_RULES_DDL, "CREATE TRANSFORM",
     DSQL_RULE_UNSUPPORTED_STATEMENT, "CreateTransform"},
    /* statements DSQL runs: kind and command only */
    {PG_QUERY__NODE__NODE_CREATE_SCHEMA_STMT, DSQL_RULES_DDL, "CREATE SCHEMA", NONE, NULL},
    {PG_QUERY__NODE__NODE_CREATE_DOMAIN_STMT, DSQL_RULES_DDL, "CREATE DOMAIN", NONE, NULL},
    {PG_QUERY__NODE__NODE_ALTER_DOMAIN_STMT, DSQL_RULES_DDL, "ALTER DOMAIN", NONE, NULL},
    {PG_QUERY__NODE__NODE_VIEW_STMT, DSQL_RULES_DDL, "CREATE VIEW", NONE, NULL},
    {PG_QUERY__NODE__NODE_COMMENT_STMT, DSQL_RULES_DDL, "COMMENT", NONE, NULL},
    {PG_QUERY__NODE__NODE_GRANT_STMT, DSQL_RULES_DDL, "GRANT", NONE, NULL},
    {PG_QUERY__NODE__NODE_GRANT_ROLE_STMT, DSQL_RULES_DDL, "GRANT ROLE", NONE, NULL},
    {PG_QUERY__NODE__NODE_ALTER_DEFAULT_PRIVILEGES_STMT, DSQL_RULES_DDL, "ALTER DEFAULT PRIVILEGES",
     NONE, NULL},
    {PG_QUERY__NODE__NODE_CREATE_ROLE_STMT, DSQL_RULES_DDL, "CREATE ROLE", NONE, NULL},
    {PG_QUERY__NODE__NODE_ALTER_ROLE_STMT, DSQL_RULES_DDL, "ALTER ROLE", NONE, NULL},
    {PG_QUERY__NODE__NODE_ALTER_ROLE_SET_STMT, DSQL_RULES_DDL, "ALTER ROLE", NONE, NULL},
    {PG_QUERY__NODE__NODE_DROP_ROLE_STMT, DSQL_RULES_DDL, "DROP ROLE", NONE, NULL},
    {PG_QUERY__NODE__NODE_DROP_OWNED_STMT, DSQL_RULES_DDL, "DROP OWNED", NONE, NULL},
    {PG_QUERY__NODE__NODE_REASSIGN_OWNED_STMT, DSQL_RULES_DDL, "REASSIGN OWNED", NONE, NULL},
    {PG_QUERY__NODE__NODE_RENAME_STMT, DSQL_RULES_DDL, "ALTER", NONE, NULL},
    {PG_QUERY__NODE__NODE_ALTER_OWNER_STMT, DSQL_RULES_DDL, "ALTER", NONE, NULL},
    {PG_QUERY__NODE__NODE_ALTER_OBJECT_SCHEMA_STMT, DSQL_RULES_DDL, "ALTER", NONE, NULL},
    {PG_QUERY__NODE__NODE_ALTER_OBJECT_DEPENDS_STMT, DSQL_RULES_DDL, "ALTER", NONE, NULL},
    {PG_QUERY__NODE__NODE_ALTER_FUNCTION_STMT, DSQL_RULES_DDL, "ALTER FUNCTION", NONE, NULL},
    {PG_QUERY__NODE__NODE_CREATE_CAST_STMT, DSQL_RULES_DDL, "CREATE CAST", NONE, NULL},
    {PG_QUERY__NODE__NODE_CREATE_OP_CLASS_STMT, DSQL_RULES_DDL, "CREATE OPERATOR CLASS", NONE,
     NULL},
    {PG_QUERY__NODE__NODE_CREATE_OP_FAMILY_STMT, DSQL_RULES_DDL, "CREATE OPERATOR FAMILY", NONE,
     NULL},
    {PG_QUERY__NODE__NODE_ALTER_OP_FAMILY_STMT, DSQL_RULES_DDL, "ALTER OPERATOR FAMILY", NONE,
     NULL},
    {PG_QUERY__NODE__NODE_ALTER_OPERATOR_STMT, DSQL_RULES_DDL, "ALTER OPERATOR", NONE, NULL},
    {PG_QUERY__NODE__NODE_DEFINE_STMT, DSQL_RULES_DDL, "CREATE", NONE, NULL},
    {PG_QUERY__NODE__NODE_CREATE_POLICY_STMT, DSQL_RULES_DDL, "CREATE POLICY", NONE, NULL},
    {PG_QUERY__NODE__NODE_ALTER_POLICY_STMT, DSQL_RULES_DDL, "ALTER POLICY", NONE, NULL},
    {PG_QUERY__NODE__NODE_CREATE_STATS_STMT, DSQL_RULES_DDL, "CREATE STATISTICS", NONE, NULL},
    {PG_QUERY__NODE__NODE_ALTER_STATS_STMT, DSQL_RULES_DDL, "ALTER STATISTICS", NONE, NULL},
    {PG_QUERY__NODE__NODE_ALTER_COLLATION_STMT, DSQL_RULES_DDL, "ALTER COLLATION", NONE, NULL},
    {PG_QUERY__NODE__NODE_ALTER_TSDICTIONARY_STMT, DSQL_RULES_DDL, "ALTER TEXT SEARCH DICTIONARY",
     NONE, NULL},
    {PG_QUERY__NODE__NODE_ALTER_TSCONFIGURATION_STMT, DSQL_RULES_DDL,
     "ALTER TEXT SEARCH CONFIGURATION", NONE, NULL},
    {PG_QUERY__NODE__NODE_SEC_LABEL_STMT, DSQL_RULES_DDL, "SECURITY LABEL", NONE, NULL},
    {PG_QUERY__NODE__NODE_REINDEX_STMT, DSQL_RULES_DDL, "REINDEX", NONE, NULL},
    {PG_QUERY__NODE__NODE_DISCARD_STMT, DSQL_RULES_UTILITY, "DISCARD", NONE, NULL},
    {PG_QUERY__NODE__NODE_CONSTRAINTS_SET_STMT, DSQL_RULES_UTILITY, "SET CONSTRAINTS", NONE, NULL},
};

/* ---- helpers ---- */

static const char *defelem_name(const PgQuery__Node *n)
{
    return n && n->node_case == PG_QUERY__NODE__NODE_DEF_ELEM ? n->def_elem->defname : NULL;
}

/* "cache" of a sequence or identity option list: 0 none, 1 accepted, -1 refused. */
static int cache_option(PgQuery__Node **opts, size_t n, int32_t *location)
{
    for (size_t i = 0; i < n; i++) {
        const char *name = defelem_name(opts[i]);
        if (!name || strcmp(name, "cache") != 0)
            continue;
        long long v = 0;
        *location = opts[i]->def_elem->location;
        if (!dsql__rules_int(opts[i]->def_elem->arg, &v))
            return -1;
        return v == 1 || v >= 65536 ? 1 : -1;
    }
    return 0;
}

/* The byte offset just after the first token at or after from whose type is t, within the
 * statement; 0 when none. */
static size_t after_token(const dsql__rules_ctx *c, size_t from, PgQuery__Token t)
{
    const dsql__rules_scan *sc = c->scan;
    size_t end = c->st->offset + c->st->length;
    for (size_t i = dsql__rules_tok_at(sc, from); i < sc->n; i++) {
        if ((size_t)sc->tok[i]->start >= end)
            break;
        if (sc->tok[i]->token == t)
            return (size_t)sc->tok[i]->end;
    }
    return 0;
}

/* The location (relative to the parsed string) of the first token t in the statement that
 * is followed by next (0: by anything); -1 (the statement's start) when there is none. */
static int32_t token_location(const dsql__rules_ctx *c, PgQuery__Token t, PgQuery__Token next)
{
    const dsql__rules_scan *sc = c->scan;
    size_t end = c->st->offset + c->st->length;
    for (size_t i = dsql__rules_tok_at(sc, c->st->offset); i < sc->n; i++) {
        if ((size_t)sc->tok[i]->start >= end)
            break;
        if (sc->tok[i]->token != t)
            continue;
        size_t j = i + 1;
        while (j < sc->n && dsql__rules_tok_comment(sc->tok[j]))
            j++;
        if (next == 0 || (j < sc->n && sc->tok[j]->token == next))
            return (int32_t)((size_t)sc->tok[i]->start - c->base);
    }
    return -1;
}

/* Whether PostgreSQL's scanner reads s as a keyword that cannot stand as a bare name. */
static bool reserved_word(const char *s)
{
    PgQueryScanResult res = pg_query_scan(s);
    bool reserved = true; /* when in doubt, quote */
    if (!res.error) {
        PgQuery__ScanResult *sr =
            pg_query__scan_result__unpack(NULL, res.pbuf.len, (const uint8_t *)res.pbuf.data);
        if (sr && sr->n_tokens == 1)
            reserved = sr->tokens[0]->keyword_kind != PG_QUERY__KEYWORD_KIND__NO_KEYWORD &&
                       sr->tokens[0]->keyword_kind != PG_QUERY__KEYWORD_KIND__UNRESERVED_KEYWORD;
        if (sr)
            pg_query__scan_result__free_unpacked(sr, NULL);
    }
    pg_query_free_scan_result(res);
    return reserved;
}

/* An identifier as SQL text: bare when PostgreSQL reads it back unchanged, else quoted. */
static const char *quote_ident(const char *s, char *buf, size_t size)
{
    bool plain = s[0] && ((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_');
    for (const char *p = s; plain && *p; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
    if (plain && !reserved_word(s)) {
        snprintf(buf, size, "%s", s);
        return buf;
    }
    size_t o = 0;
    buf[o++] = '"';
    for (const char *p = s; *p && o + 3 < size; p++) {
        if (*p == '"')
            buf[o++] = '"';
        buf[o++] = *p;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

static const char *rangevar_text(dsql__rules_ctx *c, const PgQuery__RangeVar *rv, char *buf,
                                 size_t size)
{
    char a[160], b[160];
    if (rv->schemaname && rv->schemaname[0])
        snprintf(buf, size, "%s.%s", quote_ident(rv->schemaname, a, sizeof a),
                 quote_ident(rv->relname, b, sizeof b));
    else
        snprintf(buf, size, "%s", quote_ident(rv->relname, a, sizeof a));
    return buf;
}

/* ---- CREATE TABLE / ADD COLUMN ---- */

static void identity(dsql__rules_ctx *c, const PgQuery__ColumnDef *col,
                     const PgQuery__Constraint *k)
{
    if (!dsql__rules_type_is_bigint(col->type_name)) {
        char shown[160];
        dsql__rules_find(c, DSQL_RULE_IDENTITY_TYPE, col->type_name->location,
                         dsql__rules_type_display(col->type_name, shown, sizeof shown));
    }
    int32_t loc = k->location;
    int cache = cache_option(k->options, k->n_options, &loc);
    if (cache == 1)
        return;
    char *rw = NULL;
    if (cache == 0) {
        size_t at = after_token(c, dsql__rules_offset(c, k->location), PG_QUERY__TOKEN__IDENTITY_P);
        if (at)
            rw = dsql__rules_splice(c, at, at, " (CACHE 65536)");
    }
    dsql__rules_find_rw(c, DSQL_RULE_IDENTITY_CACHE, loc, NULL, rw);
}

static void collation(dsql__rules_ctx *c, const PgQuery__CollateClause *cc)
{
    if (!cc || cc->n_collname == 0)
        return;
    const char *name = dsql__rules_str(cc->collname[cc->n_collname - 1]);
    if (!name || strcmp(name, "C") == 0 || strcmp(name, "POSIX") == 0 ||
        strcmp(name, "default") == 0 || strcmp(name, "ucs_basic") == 0)
        return;
    dsql__rules_find(c, DSQL_RULE_COLLATION, cc->location, name);
}

/* A column of CREATE TABLE (add_column false) or ALTER TABLE ADD COLUMN. */
static void column(dsql__rules_ctx *c, const PgQuery__ColumnDef *col, bool add_column)
{
    if (add_column && (col->n_constraints > 0 || col->raw_default)) {
        int32_t loc = col->n_constraints > 0 &&
                              col->constraints[0]->node_case == PG_QUERY__NODE__NODE_CONSTRAINT
                          ? col->constraints[0]->constraint->location
                          : col->location;
        dsql__rules_find(c, DSQL_RULE_ALTER_ADD_COLUMN_CONSTRAINT, loc, NULL);
    }
    dsql__rules_check_type(c, col->type_name);
    collation(c, col->coll_clause);
    for (size_t i = 0; i < col->n_constraints; i++) {
        if (col->constraints[i]->node_case != PG_QUERY__NODE__NODE_CONSTRAINT)
            continue;
        const PgQuery__Constraint *k = col->constraints[i]->constraint;
        if (k->contype == PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY && !add_column)
            identity(c, col, k);
        else if (k->contype == PG_QUERY__CONSTR_TYPE__CONSTR_EXCLUSION)
            dsql__rules_find(c, DSQL_RULE_EXCLUSION_CONSTRAINT, k->location, NULL);
    }
}

/* A table constraint of CREATE TABLE. */
static void table_constraint(dsql__rules_ctx *c, const PgQuery__Constraint *k)
{
    if (k->contype == PG_QUERY__CONSTR_TYPE__CONSTR_EXCLUSION)
        dsql__rules_find(c, DSQL_RULE_EXCLUSION_CONSTRAINT, k->location, NULL);
    else if ((k->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY ||
              k->contype == PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE) &&
             k->n_keys > 8)
        dsql__rules_find(c, DSQL_RULE_KEY_COLUMNS, k->location, NULL);
}

static void create_table(dsql__rules_ctx *c, const PgQuery__CreateStmt *s)
{
    c->st->kind = DSQL_RULES_DDL;
    c->st->command = "CREATE TABLE";
    const PgQuery__RangeVar *rv = s->relation;
    dsql__rules_target(c, rv);
    if (rv && rv->relpersistence && rv->relpersistence[0] == 't') {
        char *rw = NULL;
        /* CREATE [GLOBAL|LOCAL] TEMP[ORARY] TABLE: the same without the words before TABLE. */
        size_t first = dsql__rules_tok_at(c->scan, c->st->offset);
        size_t table_end = after_token(c, c->st->offset, PG_QUERY__TOKEN__TABLE);
        if (s->oncommit <= PG_QUERY__ON_COMMIT_ACTION__ONCOMMIT_NOOP && table_end &&
            first < c->scan->n)
            rw = dsql__rules_splice(c, (size_t)c->scan->tok[first]->end, table_end - 5, " ");
        dsql__rules_find_rw(c, DSQL_RULE_TEMP_TABLE, rv->location, NULL, rw);
    } else if (rv && rv->relpersistence && rv->relpersistence[0] == 'u') {
        dsql__rules_find(c, DSQL_RULE_UNLOGGED_TABLE, rv->location, NULL);
    }
    if (s->partspec)
        dsql__rules_find(c, DSQL_RULE_PARTITION, s->partspec->location, NULL);
    if (s->partbound)
        dsql__rules_find(c, DSQL_RULE_PARTITION, s->partbound->location, NULL);
    if (s->n_inh_relations > 0 && !s->partbound)
        dsql__rules_find(c, DSQL_RULE_INHERITS, token_location(c, PG_QUERY__TOKEN__INHERITS, 0),
                         NULL);
    if (s->tablespacename && s->tablespacename[0])
        dsql__rules_find(c, DSQL_RULE_TABLESPACE, token_location(c, PG_QUERY__TOKEN__TABLESPACE, 0),
                         NULL);
    size_t columns = 0;
    for (size_t i = 0; i < s->n_table_elts; i++) {
        const PgQuery__Node *e = s->table_elts[i];
        if (e->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF) {
            columns++;
            column(c, e->column_def, false);
        } else if (e->node_case == PG_QUERY__NODE__NODE_CONSTRAINT) {
            table_constraint(c, e->constraint);
        }
    }
    if (columns > 255)
        dsql__rules_find(c, DSQL_RULE_TOO_MANY_COLUMNS, -1, NULL);
}

/* ---- ALTER TABLE ---- */

static void add_constraint(dsql__rules_ctx *c, const PgQuery__AlterTableStmt *s,
                           const PgQuery__Constraint *k)
{
    if (k->contype != PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN) {
        dsql__rules_find(c, DSQL_RULE_ALTER_ADD_CONSTRAINT, k->location, NULL);
        return;
    }
    if (k->skip_validation)
        return; /* NOT VALID: accepted, validated later with ALTER TABLE ASYNC */
    char *rw = NULL;
    if (s->n_cmds == 1 && s->relation) {
        /* The same constraint NOT VALID, then the asynchronous validation. PostgreSQL's
         * default name is <table>_<first column>_fkey. */
        char table[400], name[400], qname[420], suffix[1024];
        const char *conname = k->conname && k->conname[0] ? k->conname : NULL;
        const char *col = k->n_fk_attrs > 0 ? dsql__rules_str(k->fk_attrs[0]) : NULL;
        if (!conname && col) {
            snprintf(name, sizeof name, "%s_%s_fkey", s->relation->relname, col);
            conname = name;
        }
        if (conname) {
            snprintf(suffix, sizeof suffix,
                     " NOT VALID;\nALTER TABLE ASYNC %s VALIDATE CONSTRAINT %s",
                     rangevar_text(c, s->relation, table, sizeof table),
                     quote_ident(conname, qname, sizeof qname));
            rw = dsql__rules_append(c, suffix);
        }
    }
    dsql__rules_find_rw(c, DSQL_RULE_FOREIGN_KEY_NOT_VALID, k->location, NULL, rw);
}

static void alter_table(dsql__rules_ctx *c, const PgQuery__AlterTableStmt *s)
{
    c->st->kind = DSQL_RULES_DDL;
    switch (s->objtype) {
    case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX:
        c->st->command = "ALTER INDEX";
        break;
    case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW:
        c->st->command = "ALTER VIEW";
        break;
    case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE:
        c->st->command = "ALTER SEQUENCE";
        break;
    case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW:
        c->st->command = "ALTER MATERIALIZED VIEW";
        dsql__rules_find(c, DSQL_RULE_MATERIALIZED_VIEW, -1, "AlterTable");
        break;
    default:
        c->st->command = "ALTER TABLE";
        break;
    }
    dsql__rules_target(c, s->relation);
    for (size_t i = 0; i < s->n_cmds; i++) {
        if (s->cmds[i]->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD)
            continue;
        const PgQuery__AlterTableCmd *cmd = s->cmds[i]->alter_table_cmd;
        const PgQuery__Node *def = cmd->def;
        switch (cmd->subtype) {
        case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn:
            if (def && def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
                column(c, def->column_def, true);
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType:
            dsql__rules_find(c, DSQL_RULE_ALTER_COLUMN_TYPE,
                             def && def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF
                                 ? def->column_def->location
                                 : -1,
                             NULL);
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_SetNotNull:
            dsql__rules_find(c, DSQL_RULE_ALTER_SET_NOT_NULL,
                             token_location(c, PG_QUERY__TOKEN__SET, PG_QUERY__TOKEN__NOT), NULL);
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint:
            if (def && def->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
                add_constraint(c, s, def->constraint);
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_SetUnLogged:
            dsql__rules_find(c, DSQL_RULE_UNLOGGED_TABLE, -1, NULL);
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_AttachPartition:
        case PG_QUERY__ALTER_TABLE_TYPE__AT_DetachPartition:
        case PG_QUERY__ALTER_TABLE_TYPE__AT_DetachPartitionFinalize:
            dsql__rules_find(c, DSQL_RULE_PARTITION, -1, NULL);
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_AddInherit:
            dsql__rules_find(c, DSQL_RULE_INHERITS, -1, NULL);
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_SetTableSpace:
            dsql__rules_find(c, DSQL_RULE_TABLESPACE, -1, NULL);
            break;
        default:
            break;
        }
    }
}

/* ---- CREATE INDEX ---- */

static void create_index(dsql__rules_ctx *c, const PgQuery__IndexStmt *s)
{
    c->st->kind = DSQL_RULES_DDL;
    c->st->command = "CREATE INDEX";
    dsql__rules_target(c, s->relation);
    dsql_rules_index *ix = dsql__arena_alloc(&c->r->arena, sizeof *ix);
    const char **cols = dsql__arena_alloc(&c->r->arena, (s->n_index_params + 1) * sizeof *cols);
    const char **inc =
        dsql__arena_alloc(&c->r->arena, (s->n_index_including_params + 1) * sizeof *inc);
    if (!ix || !cols || !inc) {
        c->oom = true;
        return;
    }
    ix->name = s->idxname && s->idxname[0] ? dsql__rules_strdup(c, s->idxname) : NULL;
    if (s->relation) {
        ix->table.schema = s->relation->schemaname && s->relation->schemaname[0]
                               ? dsql__rules_strdup(c, s->relation->schemaname)
                               : NULL;
        ix->table.name = dsql__rules_strdup(c, s->relation->relname);
    }
    ix->unique = s->unique;
    ix->if_not_exists = s->if_not_exists;
    ix->partial = s->where_clause != NULL;
    ix->nulls_not_distinct = s->nulls_not_distinct;
    for (size_t i = 0; i < s->n_index_params; i++) {
        const PgQuery__Node *p = s->index_params[i];
        if (p->node_case != PG_QUERY__NODE__NODE_INDEX_ELEM)
            continue;
        const PgQuery__IndexElem *e = p->index_elem;
        cols[ix->n_columns++] = e->name && e->name[0] ? dsql__rules_strdup(c, e->name) : NULL;
    }
    for (size_t i = 0; i < s->n_index_including_params; i++) {
        const PgQuery__Node *p = s->index_including_params[i];
        if (p->node_case == PG_QUERY__NODE__NODE_INDEX_ELEM && p->index_elem->name)
            inc[ix->n_include++] = dsql__rules_strdup(c, p->index_elem->name);
    }
    ix->columns = cols;
    ix->include = inc;
    c->st->index = ix;

    if (!c->st->async) {
        /* The same statement with ASYNC after INDEX, then the wait for its job. */
        char *rw = NULL;
        size_t at = after_token(c, c->st->offset, PG_QUERY__TOKEN__INDEX);
        /* CONCURRENTLY is PostgreSQL's way not to block writers; ASYNC replaces it. */
        int32_t conc = s->concurrent ? token_location(c, PG_QUERY__TOKEN__CONCURRENTLY, 0) : -1;
        if (at) {
            char *async =
                conc >= 0 ? dsql__rules_splice(c, dsql__rules_offset(c, conc),
                                               dsql__rules_offset(c, conc) + strlen("CONCURRENTLY"),
                                               "ASYNC")
                          : dsql__rules_splice(c, at, at, " ASYNC");
            if (async) {
                size_t n = strlen(async);
                const char *wait = ";\n-- it returns a job_id; wait for it:\n"
                                   "CALL sys.wait_for_job('<job_id>')";
                rw = dsql__arena_alloc(&c->r->arena, n + strlen(wait) + 1);
                if (rw) {
                    memcpy(rw, async, n);
                    strcpy(rw + n, wait);
                }
            }
        }
        dsql__rules_find_rw(c, DSQL_RULE_INDEX_SYNC, -1, NULL, rw);
    }
    if (s->access_method && s->access_method[0] && strcmp(s->access_method, "btree") != 0)
        dsql__rules_find(c, DSQL_RULE_INDEX_METHOD, token_location(c, PG_QUERY__TOKEN__USING, 0),
                         s->access_method);
    for (size_t i = 0; i < s->n_index_params; i++) {
        const PgQuery__Node *p = s->index_params[i];
        if (p->node_case != PG_QUERY__NODE__NODE_INDEX_ELEM)
            continue;
        const PgQuery__IndexElem *e = p->index_elem;
        if (e->ordering > PG_QUERY__SORT_BY_DIR__SORTBY_DEFAULT ||
            e->nulls_ordering > PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_DEFAULT) {
            int32_t at = e->ordering == PG_QUERY__SORT_BY_DIR__SORTBY_ASC
                             ? token_location(c, PG_QUERY__TOKEN__ASC, 0)
                         : e->ordering == PG_QUERY__SORT_BY_DIR__SORTBY_DESC
                             ? token_location(c, PG_QUERY__TOKEN__DESC, 0)
                         : e->nulls_ordering == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_FIRST
                             ? token_location(c, PG_QUERY__TOKEN__NULLS_P, PG_QUERY__TOKEN__FIRST_P)
                             : token_location(c, PG_QUERY__TOKEN__NULLS_P, PG_QUERY__TOKEN__LAST_P);
            dsql__rules_find(c, DSQL_RULE_INDEX_ORDER, at, NULL);
        }
        if (e->n_opclass > 0) {
            const char *oc = dsql__rules_str(e->opclass[e->n_opclass - 1]);
            dsql__rules_find(c, DSQL_RULE_INDEX_OPCLASS, -1, oc ? oc : "?");
        }
    }
    if (s->n_index_params > 8)
        dsql__rules_find(c, DSQL_RULE_KEY_COLUMNS, -1, NULL);
    if (s->table_space && s->table_space[0])
        dsql__rules_find(c, DSQL_RULE_TABLESPACE, -1, NULL);
}

/* ---- transactions and settings ---- */

static dsql_rules_isolation isolation_of(const char *level)
{
    if (strcmp(level, "serializable") == 0)
        return DSQL_RULES_ISO_SERIALIZABLE;
    if (strcmp(level, "repeatable read") == 0)
        return DSQL_RULES_ISO_REPEATABLE_READ;
    if (strcmp(level, "read committed") == 0)
        return DSQL_RULES_ISO_READ_COMMITTED;
    if (strcmp(level, "read uncommitted") == 0)
        return DSQL_RULES_ISO_READ_UNCOMMITTED;
    return DSQL_RULES_ISO_NONE;
}

/* Reads BEGIN / SET TRANSACTION modes; refuses an isolation level other than REPEATABLE
 * READ. Returns true when it added a finding. */
static bool tx_modes(dsql__rules_ctx *c, PgQuery__Node **opts, size_t n)
{
    bool refused = false;
    for (size_t i = 0; i < n; i++) {
        const char *name = defelem_name(opts[i]);
        if (!name)
            continue;
        const PgQuery__DefElem *d = opts[i]->def_elem;
        const PgQuery__Node *arg = d->arg;
        if (strcmp(name, "transaction_isolation") == 0 && arg &&
            arg->node_case == PG_QUERY__NODE__NODE_A_CONST &&
            arg->a_const->val_case == PG_QUERY__A__CONST__VAL_SVAL) {
            const char *level = arg->a_const->sval->sval;
            c->st->isolation = isolation_of(level);
            if (c->st->isolation != DSQL_RULES_ISO_REPEATABLE_READ) {
                char upper[64];
                size_t k = 0;
                for (; level[k] && k + 1 < sizeof upper; k++)
                    upper[k] =
                        (char)(level[k] >= 'a' && level[k] <= 'z' ? level[k] - 32 : level[k]);
                upper[k] = '\0';
                const char *rw = c->st->read_only
                                     ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                                     : "BEGIN ISOLATION LEVEL REPEATABLE READ";
                dsql__rules_find_rw(c, DSQL_RULE_ISOLATION_LEVEL, d->location, upper, rw);
                refused = true;
            }
        } else if (strcmp(name, "transaction_read_only") == 0) {
            long long v = 0;
            c->st->read_only = dsql__rules_int(arg, &v) && v != 0;
        }
    }
    return refused;
}

static void transaction(dsql__rules_ctx *c, const PgQuery__TransactionStmt *s)
{
    const char *savepoint = NULL;
    switch (s->kind) {
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN:
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START:
        c->st->kind = DSQL_RULES_BEGIN;
        c->st->command = s->kind == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN
                             ? "BEGIN"
                             : "START TRANSACTION";
        /* read-only first, so the rewrite of a refused level keeps it */
        for (size_t i = 0; i < s->n_options; i++) {
            const char *name = defelem_name(s->options[i]);
            long long v = 0;
            if (name && strcmp(name, "transaction_read_only") == 0)
                c->st->read_only = dsql__rules_int(s->options[i]->def_elem->arg, &v) && v != 0;
        }
        tx_modes(c, s->options, s->n_options);
        return;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT:
        c->st->kind = DSQL_RULES_COMMIT;
        c->st->command = "COMMIT";
        return;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK:
        c->st->kind = DSQL_RULES_ROLLBACK;
        c->st->command = "ROLLBACK";
        return;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_SAVEPOINT:
        savepoint = "SAVEPOINT";
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_RELEASE:
        savepoint = "RELEASE";
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_TO:
        savepoint = "ROLLBACK";
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE:
        savepoint = "PREPARE TRANSACTION";
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT_PREPARED:
        savepoint = "COMMIT PREPARED";
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_PREPARED:
        savepoint = "ROLLBACK PREPARED";
        break;
    default:
        return;
    }
    c->st->kind = DSQL_RULES_SAVEPOINT;
    c->st->command = savepoint;
    dsql__rules_find(c, DSQL_RULE_SAVEPOINT, -1, savepoint);
}

/* Session settings DSQL accepts (DSQL.md); names as PostgreSQL lower-cases them. */
static bool setting_allowed(const char *name)
{
    static const char *const allowed[] = {
        "application_name", "client_encoding", "datestyle",   "extra_float_digits",
        "intervalstyle",    "timezone",        "search_path", "role"};
    for (size_t i = 0; i < DSQL__ARRAY_LEN(allowed); i++)
        if (strcmp(name, allowed[i]) == 0)
            return true;
    return strncmp(name, "enable_", 7) == 0;
}

static char *lower_copy(dsql__rules_ctx *c, const char *s)
{
    char *out = dsql__rules_strdup(c, s);
    for (char *p = out; p && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
    return out;
}

static void variable_set(dsql__rules_ctx *c, const PgQuery__VariableSetStmt *s)
{
    c->st->kind = DSQL_RULES_SET;
    c->st->set_local = s->is_local;
    bool reset = s->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET ||
                 s->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL;
    c->st->command = reset ? "RESET" : "SET";
    if (s->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL) {
        c->st->setting = "all";
        return;
    }
    const char *name = s->name ? s->name : "";
    c->st->setting = lower_copy(c, name);
    if (s->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_MULTI) {
        /* SET TRANSACTION ... / SET SESSION CHARACTERISTICS AS TRANSACTION ... */
        c->st->command = "SET";
        if (strcmp(name, "TRANSACTION") == 0 && tx_modes(c, s->args, s->n_args))
            return;
        dsql__rules_find_rw(c, DSQL_RULE_SET_TRANSACTION, -1, name,
                            "BEGIN ISOLATION LEVEL REPEATABLE READ");
        return;
    }
    if (!setting_allowed(c->st->setting ? c->st->setting : ""))
        dsql__rules_find(c, DSQL_RULE_SET_PARAMETER, -1, name);
}

static void variable_show(dsql__rules_ctx *c, const PgQuery__VariableShowStmt *s)
{
    /* Parameters PostgreSQL 16 (DSQL's base) no longer has. */
    static const char *const gone[] = {"lc_collate", "lc_ctype", "force_parallel_mode",
                                       "promote_trigger_file", "vacuum_defer_cleanup_age"};
    c->st->kind = DSQL_RULES_SHOW;
    c->st->command = "SHOW";
    c->st->setting = lower_copy(c, s->name ? s->name : "");
    for (size_t i = 0; c->st->setting && i < DSQL__ARRAY_LEN(gone); i++)
        if (strcmp(c->st->setting, gone[i]) == 0)
            dsql__rules_find(c, DSQL_RULE_SHOW_PARAMETER, -1, s->name);
}

/* ---- other statements with their own checks ---- */

static void create_function(dsql__rules_ctx *c, const PgQuery__CreateFunctionStmt *s)
{
    c->st->kind = DSQL_RULES_DDL;
    c->st->command = s->is_procedure ? "CREATE PROCEDURE" : "CREATE FUNCTION";
    for (size_t i = 0; i < s->n_options; i++) {
        const char *name = defelem_name(s->options[i]);
        if (!name || strcmp(name, "language") != 0)
            continue;
        const char *lang = dsql__rules_str(s->options[i]->def_elem->arg);
        if (lang && strcasecmp(lang, "sql") != 0)
            dsql__rules_find(c, DSQL_RULE_FUNCTION_LANGUAGE, s->options[i]->def_elem->location,
                             lang);
    }
}

static void create_sequence(dsql__rules_ctx *c, PgQuery__Node **opts, size_t n, bool create)
{
    c->st->kind = DSQL_RULES_DDL;
    c->st->command = create ? "CREATE SEQUENCE" : "ALTER SEQUENCE";
    int32_t loc = -1;
    int cache = cache_option(opts, n, &loc);
    if (cache == -1 || (create && cache == 0))
        dsql__rules_find_rw(c, DSQL_RULE_SEQUENCE_CACHE, loc, NULL,
                            cache == 0 ? dsql__rules_append(c, " CACHE 65536") : NULL);
}

static void drop(dsql__rules_ctx *c, const PgQuery__DropStmt *s)
{
    static const struct {
        PgQuery__ObjectType type;
        const char *command;
        bool refused;
    } kinds[] = {
        {PG_QUERY__OBJECT_TYPE__OBJECT_TABLE, "DROP TABLE", false},
        {PG_QUERY__OBJECT_TYPE__OBJECT_INDEX, "DROP INDEX", false},
        {PG_QUERY__OBJECT_TYPE__OBJECT_VIEW, "DROP VIEW", false},
        {PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE, "DROP SEQUENCE", false},
        {PG_QUERY__OBJECT_TYPE__OBJECT_SCHEMA, "DROP SCHEMA", false},
        {PG_QUERY__OBJECT_TYPE__OBJECT_DOMAIN, "DROP DOMAIN", false},
        {PG_QUERY__OBJECT_TYPE__OBJECT_FUNCTION, "DROP FUNCTION", false},
        {PG_QUERY__OBJECT_TYPE__OBJECT_PROCEDURE, "DROP PROCEDURE", false},
        {PG_QUERY__OBJECT_TYPE__OBJECT_TYPE, "DROP TYPE", true},
        {PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW, "DROP MATERIALIZED VIEW", true},
        {PG_QUERY__OBJECT_TYPE__OBJECT_TRIGGER, "DROP TRIGGER", true},
        {PG_QUERY__OBJECT_TYPE__OBJECT_EVENT_TRIGGER, "DROP EVENT TRIGGER", true},
        {PG_QUERY__OBJECT_TYPE__OBJECT_EXTENSION, "DROP EXTENSION", true},
        {PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE, "DROP FOREIGN TABLE", true},
        {PG_QUERY__OBJECT_TYPE__OBJECT_RULE, "DROP RULE", true},
    };
    c->st->kind = DSQL_RULES_DDL;
    c->st->command = "DROP";
    for (size_t i = 0; i < DSQL__ARRAY_LEN(kinds); i++) {
        if (kinds[i].type != s->remove_type)
            continue;
        c->st->command = kinds[i].command;
        if (kinds[i].refused)
            dsql__rules_find(c, DSQL_RULE_DROP_OBJECT, -1, NULL);
    }
    bool relation = s->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE ||
                    s->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_INDEX ||
                    s->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_VIEW ||
                    s->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE;
    for (size_t i = 0; relation && i < s->n_objects; i++) {
        const PgQuery__Node *o = s->objects[i];
        if (o->node_case != PG_QUERY__NODE__NODE_LIST || o->list->n_items == 0)
            continue;
        const PgQuery__List *l = o->list;
        const char *name = dsql__rules_str(l->items[l->n_items - 1]);
        const char *schema = l->n_items >= 2 ? dsql__rules_str(l->items[l->n_items - 2]) : NULL;
        if (name)
            dsql__rules_target_names(c, schema, name);
    }
}

static void truncate_stmt(dsql__rules_ctx *c, const PgQuery__TruncateStmt *s)
{
    /* The chunked DELETE per table; the key must be filled in by the reader. */
    size_t cap = 64 + 160 * s->n_relations, used = 0;
    char *rw = dsql__arena_alloc(&c->r->arena, cap);
    if (rw) {
        used += (size_t)snprintf(rw, cap, "-- repeat each until it deletes no row:");
        for (size_t i = 0; i < s->n_relations; i++) {
            if (s->relations[i]->node_case != PG_QUERY__NODE__NODE_RANGE_VAR)
                continue;
            char t[128];
            rangevar_text(c, s->relations[i]->range_var, t, sizeof t);
            int w = snprintf(rw + used, cap - used,
                             "\nDELETE FROM %s WHERE <key> IN (SELECT <key> FROM %s LIMIT 3000);",
                             t, t);
            if (w < 0 || (size_t)w >= cap - used)
                break;
            used += (size_t)w;
        }
    }
    for (size_t i = 0; i < s->n_relations; i++)
        if (s->relations[i]->node_case == PG_QUERY__NODE__NODE_RANGE_VAR)
            dsql__rules_target(c, s->relations[i]->range_var);
    dsql__rules_find_rw(c, DSQL_RULE_TRUNCATE, -1, NULL, rw);
}

static bool has_sublink(const PgQuery__Node *n, int32_t *location);

static bool any_sublink(PgQuery__Node **items, size_t n, int32_t *location)
{
    for (size_t i = 0; i < n; i++)
        if (has_sublink(items[i], location))
            return true;
    return false;
}

/* A subquery in a CALL argument (arguments are expressions: operators, casts, functions). */
static bool has_sublink(const PgQuery__Node *n, int32_t *location)
{
    if (!n)
        return false;
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_SUB_LINK:
        *location = n->sub_link->location;
        return true;
    case PG_QUERY__NODE__NODE_TYPE_CAST:
        return has_sublink(n->type_cast->arg, location);
    case PG_QUERY__NODE__NODE_A_EXPR:
        return has_sublink(n->a_expr->lexpr, location) || has_sublink(n->a_expr->rexpr, location);
    case PG_QUERY__NODE__NODE_FUNC_CALL:
        return any_sublink(n->func_call->args, n->func_call->n_args, location);
    case PG_QUERY__NODE__NODE_NAMED_ARG_EXPR:
        return has_sublink(n->named_arg_expr->arg, location);
    case PG_QUERY__NODE__NODE_COALESCE_EXPR:
        return any_sublink(n->coalesce_expr->args, n->coalesce_expr->n_args, location);
    case PG_QUERY__NODE__NODE_BOOL_EXPR:
        return any_sublink(n->bool_expr->args, n->bool_expr->n_args, location);
    default:
        return false;
    }
}

static void call(dsql__rules_ctx *c, const PgQuery__CallStmt *s)
{
    c->st->kind = DSQL_RULES_CALL;
    c->st->command = "CALL";
    int32_t loc = -1;
    if (s->funccall && any_sublink(s->funccall->args, s->funccall->n_args, &loc))
        dsql__rules_find(c, DSQL_RULE_CALL_SUBQUERY, loc, NULL);
}

static void create_table_as(dsql__rules_ctx *c, const PgQuery__CreateTableAsStmt *s)
{
    c->st->kind = DSQL_RULES_DDL;
    if (s->into && s->into->rel)
        dsql__rules_target(c, s->into->rel);
    if (s->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW) {
        c->st->command = "CREATE MATERIALIZED VIEW";
        dsql__rules_find(c, DSQL_RULE_MATERIALIZED_VIEW, -1, "CreateTableAs");
        return;
    }
    c->st->command = s->is_select_into ? "SELECT INTO" : "CREATE TABLE AS";
    dsql__rules_find(c, DSQL_RULE_CREATE_TABLE_AS, -1, NULL);
}

static void select_stmt(dsql__rules_ctx *c, const PgQuery__SelectStmt *s)
{
    if (s->into_clause) {
        c->st->kind = DSQL_RULES_DDL;
        c->st->command = "SELECT INTO";
        if (s->into_clause->rel)
            dsql__rules_target(c, s->into_clause->rel);
        dsql__rules_find(c, DSQL_RULE_CREATE_TABLE_AS, -1, NULL);
        return;
    }
    c->st->command = "SELECT";
    c->st->kind = c->n_nested > 0 ? DSQL_RULES_DML : DSQL_RULES_READ;
}

static bool explain_analyze(const PgQuery__ExplainStmt *s)
{
    for (size_t i = 0; i < s->n_options; i++) {
        const char *name = defelem_name(s->options[i]);
        if (!name || strcmp(name, "analyze") != 0)
            continue;
        const PgQuery__Node *arg = s->options[i]->def_elem->arg;
        const char *v = dsql__rules_str(arg);
        long long n;
        if (!arg)
            return true;
        if (v)
            return strcasecmp(v, "false") != 0 && strcasecmp(v, "off") != 0 && strcmp(v, "0") != 0;
        if (arg->node_case == PG_QUERY__NODE__NODE_BOOLEAN)
            return arg->boolean->boolval;
        if (arg->node_case == PG_QUERY__NODE__NODE_A_CONST &&
            arg->a_const->val_case == PG_QUERY__A__CONST__VAL_BOOLVAL)
            return arg->a_const->boolval->boolval;
        return dsql__rules_int(arg, &n) && n != 0;
    }
    return false;
}

static void classify_node(dsql__rules_ctx *c, const PgQuery__Node *n);

static void explain(dsql__rules_ctx *c, const PgQuery__ExplainStmt *s)
{
    if (s->query)
        classify_node(c, s->query);
    bool runs = explain_analyze(s);
    bool writes = runs && c->st->kind == DSQL_RULES_DML;
    c->st->kind = writes ? DSQL_RULES_DML : DSQL_RULES_READ;
    c->st->writes = writes;
    if (!writes)
        c->n_targets = 0; /* only planned, nothing written */
    c->st->command = "EXPLAIN";
    c->st->index = NULL;
}

static void prepared(dsql__rules_ctx *c, const PgQuery__Node *n)
{
    c->st->kind = DSQL_RULES_UTILITY;
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_PREPARE_STMT:
        c->st->command = "PREPARE";
        c->st->prepared = DSQL_RULES_PREP_PREPARE;
        c->st->prepared_name = dsql__rules_strdup(c, n->prepare_stmt->name);
        dsql__rules_find(c, DSQL_RULE_SQL_PREPARE, -1, NULL);
        break;
    case PG_QUERY__NODE__NODE_EXECUTE_STMT:
        c->st->command = "EXECUTE";
        c->st->prepared = DSQL_RULES_PREP_EXECUTE;
        c->st->prepared_name = dsql__rules_strdup(c, n->execute_stmt->name);
        dsql__rules_find(c, DSQL_RULE_SQL_EXECUTE, -1, NULL);
        break;
    default: {
        const char *name = n->deallocate_stmt->name;
        if (!name || !name[0]) {
            c->st->command = "DEALLOCATE ALL";
            c->st->prepared = DSQL_RULES_PREP_DEALLOCATE_ALL;
        } else {
            c->st->command = "DEALLOCATE";
            c->st->prepared = DSQL_RULES_PREP_DEALLOCATE;
            c->st->prepared_name = dsql__rules_strdup(c, name);
            dsql__rules_find_rw(c, DSQL_RULE_DEALLOCATE_NAME, -1, NULL, "DEALLOCATE ALL");
        }
        break;
    }
    }
}

static void classify_node(dsql__rules_ctx *c, const PgQuery__Node *n)
{
    dsql_rules_stmt *st = c->st;
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT:
        select_stmt(c, n->select_stmt);
        return;
    case PG_QUERY__NODE__NODE_INSERT_STMT:
        st->kind = DSQL_RULES_DML;
        st->command = "INSERT";
        st->writes = true;
        dsql__rules_target(c, n->insert_stmt->relation);
        return;
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
        st->kind = DSQL_RULES_DML;
        st->command = "UPDATE";
        st->writes = true;
        dsql__rules_target(c, n->update_stmt->relation);
        return;
    case PG_QUERY__NODE__NODE_DELETE_STMT:
        st->kind = DSQL_RULES_DML;
        st->command = "DELETE";
        st->writes = true;
        dsql__rules_target(c, n->delete_stmt->relation);
        return;
    case PG_QUERY__NODE__NODE_MERGE_STMT:
        st->writes = true;
        dsql__rules_target(c, n->merge_stmt->relation);
        break; /* kind, command and rule from the table */
    case PG_QUERY__NODE__NODE_COPY_STMT:
        st->command = "COPY";
        st->kind = n->copy_stmt->is_from ? DSQL_RULES_DML : DSQL_RULES_READ;
        st->writes = n->copy_stmt->is_from;
        if (n->copy_stmt->relation)
            dsql__rules_target(c, n->copy_stmt->relation);
        return;
    case PG_QUERY__NODE__NODE_EXPLAIN_STMT:
        explain(c, n->explain_stmt);
        return;
    case PG_QUERY__NODE__NODE_CREATE_STMT:
        create_table(c, n->create_stmt);
        return;
    case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
        create_table_as(c, n->create_table_as_stmt);
        return;
    case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
        alter_table(c, n->alter_table_stmt);
        return;
    case PG_QUERY__NODE__NODE_INDEX_STMT:
        create_index(c, n->index_stmt);
        return;
    case PG_QUERY__NODE__NODE_DROP_STMT:
        drop(c, n->drop_stmt);
        return;
    case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
        st->writes = true;
        truncate_stmt(c, n->truncate_stmt);
        st->kind = DSQL_RULES_DML;
        st->command = "TRUNCATE TABLE";
        return;
    case PG_QUERY__NODE__NODE_VACUUM_STMT:
        st->kind = DSQL_RULES_UTILITY;
        st->command = n->vacuum_stmt->is_vacuumcmd ? "VACUUM" : "ANALYZE";
        if (n->vacuum_stmt->is_vacuumcmd)
            dsql__rules_find(c, DSQL_RULE_VACUUM, -1, NULL);
        return;
    case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
        transaction(c, n->transaction_stmt);
        return;
    case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
        variable_set(c, n->variable_set_stmt);
        return;
    case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT:
        variable_show(c, n->variable_show_stmt);
        return;
    case PG_QUERY__NODE__NODE_CALL_STMT:
        call(c, n->call_stmt);
        return;
    case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT:
        create_function(c, n->create_function_stmt);
        return;
    case PG_QUERY__NODE__NODE_CREATE_SEQ_STMT:
        dsql__rules_target(c, n->create_seq_stmt->sequence);
        create_sequence(c, n->create_seq_stmt->options, n->create_seq_stmt->n_options, true);
        return;
    case PG_QUERY__NODE__NODE_ALTER_SEQ_STMT:
        dsql__rules_target(c, n->alter_seq_stmt->sequence);
        create_sequence(c, n->alter_seq_stmt->options, n->alter_seq_stmt->n_options, false);
        return;
    case PG_QUERY__NODE__NODE_PREPARE_STMT:
    case PG_QUERY__NODE__NODE_EXECUTE_STMT:
    case PG_QUERY__NODE__NODE_DEALLOCATE_STMT:
        prepared(c, n);
        return;
    case PG_QUERY__NODE__NODE_CREATE_DOMAIN_STMT:
        dsql__rules_check_type(c, n->create_domain_stmt->type_name);
        break;
    case PG_QUERY__NODE__NODE_DEFINE_STMT:
        if (n->define_stmt->kind == PG_QUERY__OBJECT_TYPE__OBJECT_TYPE) {
            st->kind = DSQL_RULES_DDL;
            st->command = "CREATE TYPE";
            dsql__rules_find(c, DSQL_RULE_CREATE_TYPE, -1, "CREATE TYPE");
            return;
        }
        break;
    case PG_QUERY__NODE__NODE_VIEW_STMT:
        dsql__rules_target(c, n->view_stmt->view);
        break;
    default:
        break;
    }
    for (size_t i = 0; i < DSQL__ARRAY_LEN(node_rules); i++) {
        const node_rule *r = &node_rules[i];
        if (r->node != n->node_case)
            continue;
        st->kind = r->kind;
        st->command = r->command;
        if (r->rule != NONE)
            dsql__rules_find(c, r->rule, -1, r->arg);
        return;
    }
    st->kind = DSQL_RULES_UTILITY;
    st->command = "";
}

void dsql__rules_classify(dsql__rules_ctx *c, const PgQuery__Node *stmt)
{
    classify_node(c, stmt);
    /* Statements that only hold another one (PREPARE, a rule's actions) write nothing now. */
    c->st->writes = c->st->kind == DSQL_RULES_DML;
}
