/*
 * Analysis: a text split into statements (PostgreSQL's own scanner), each parsed by
 * PostgreSQL's own parser (libpg_query, as a JSON tree read with cJSON) and walked once:
 * its kind, and every rule of the table it breaks.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <pg_query.h>

#include "rules/internal.h"

/* ---- the JSON tree ---- */

static const cJSON *get(const cJSON *o, const char *k)
{
    return o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = get(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int num(const cJSON *o, const char *k, int dflt)
{
    const cJSON *v = get(o, k);
    return cJSON_IsNumber(v) ? v->valueint : dflt;
}

/* A node {"Type": {...}}: its type name and body. */
static const char *node_type(const cJSON *n)
{
    return n && n->child ? n->child->string : NULL;
}

static const cJSON *node_body(const cJSON *n, const char *type)
{
    return get(n, type);
}

/* The first object anywhere under j having key k (j itself included). */
static const cJSON *find_key(const cJSON *j, const char *k)
{
    if (!j)
        return NULL;
    if (cJSON_IsObject(j) && get(j, k))
        return j;
    for (const cJSON *c = j->child; c; c = c->next) {
        const cJSON *f = find_key(c, k);
        if (f)
            return f;
    }
    return NULL;
}

/* Calls fn on every object under j having key k. */
static void each_key(const cJSON *j, const char *k, void (*fn)(const cJSON *, void *), void *ctx)
{
    if (!j)
        return;
    if (cJSON_IsObject(j) && get(j, k))
        fn(get(j, k), ctx);
    for (const cJSON *c = j->child; c; c = c->next)
        each_key(c, k, fn, ctx);
}

/* The sval of a String node. */
static const char *sval(const cJSON *n)
{
    return str(get(n, "String"), "sval");
}

/* ---- findings ---- */

typedef struct actx {
    dsql_rules_stmt *st;
    const char *text; /* the statement as parsed (forward text) */
} actx;

static void add(actx *c, const char *id, int location, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add(actx *c, const char *id, int location, const char *fmt, ...)
{
    dsql_rules_stmt *st = c->st;
    const dsql_rule *r = dsql_rules_find(id);
    if (!r || st->n_findings == DSQL_RULES_MAX_FINDINGS)
        return;
    dsql_rules_finding *f = &st->findings[st->n_findings++];
    f->rule = r;
    f->offset = st->offset + (location > 0 ? (size_t)location : 0);
    char arg[192] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(arg, sizeof arg, fmt, ap);
        va_end(ap);
    }
    /* The rule's message holds at most one %s, filled with arg. */
    const char *p = strstr(r->message, "%s");
    if (p)
        snprintf(f->message, sizeof f->message, "%.*s%s%s", (int)(p - r->message), r->message, arg,
                 p + 2);
    else
        snprintf(f->message, sizeof f->message, "%s", r->message);
}

/* ---- types ---- */

/* PostgreSQL's internal names back to the ones people write (and DSQL prints). */
static const char *sql_type_name(const char *n)
{
    static const char *const map[][2] = {
        {"int2", "smallint"},
        {"int4", "integer"},
        {"int8", "bigint"},
        {"float4", "real"},
        {"float8", "double precision"},
        {"bool", "boolean"},
        {"varchar", "character varying"},
        {"bpchar", "character"},
        {"varbit", "bit varying"},
        {"timestamptz", "timestamp with time zone"},
        {"timetz", "time with time zone"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(n, map[i][0]))
            return map[i][1];
    return n;
}

static bool type_refused(const char *n)
{
    static const char *const refused[] = {"money",
                                          "cidr",
                                          "inet",
                                          "macaddr",
                                          "macaddr8",
                                          "point",
                                          "line",
                                          "lseg",
                                          "box",
                                          "path",
                                          "polygon",
                                          "circle",
                                          "tsvector",
                                          "tsquery",
                                          "int4range",
                                          "int8range",
                                          "numrange",
                                          "tsrange",
                                          "tstzrange",
                                          "daterange",
                                          "int4multirange",
                                          "int8multirange",
                                          "nummultirange",
                                          "tsmultirange",
                                          "tstzmultirange",
                                          "datemultirange",
                                          "pg_lsn",
                                          "xml",
                                          "bit",
                                          "varbit",
                                          "txid_snapshot",
                                          "pg_snapshot",
                                          "hstore",
                                          "jsonpath",
                                          "regclass",
                                          "oid"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (!strcasecmp(n, refused[i]))
            return true;
    return false;
}

static bool is_serial(const char *n)
{
    static const char *const s[] = {"serial",  "bigserial", "smallserial",
                                    "serial2", "serial4",   "serial8"};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        if (!strcasecmp(n, s[i]))
            return true;
    return false;
}

/* The first integer type modifier of a TypeName, or -1. */
static int typmod(const cJSON *tn, int which)
{
    const cJSON *mods = get(tn, "typmods");
    const cJSON *m = cJSON_GetArrayItem(mods, which);
    const cJSON *ac = get(m, "A_Const");
    const cJSON *iv = get(ac, "ival");
    if (!ac)
        return -1;
    return iv ? num(iv, "ival", 0) : 0;
}

/* A column's type: refused types, serial, arrays, lengths, bare numeric. */
static void check_type(actx *c, const cJSON *tn)
{
    const cJSON *names = get(tn, "names");
    int n = cJSON_GetArraySize(names);
    if (n == 0)
        return;
    const char *last = sval(cJSON_GetArrayItem(names, n - 1));
    if (!last)
        return;
    bool catalog = n > 1 && sval(cJSON_GetArrayItem(names, 0)) &&
                   !strcmp(sval(cJSON_GetArrayItem(names, 0)), "pg_catalog");
    int loc = num(tn, "location", 0);
    const char *shown = catalog ? sql_type_name(last) : last;
    if (get(tn, "arrayBounds")) {
        add(c, "DSQL-ARRAY-COLUMN", loc, "%s[]", shown);
        return;
    }
    if (!catalog && is_serial(last)) {
        add(c, "DSQL-SERIAL", loc, "%s", last);
        return;
    }
    if (type_refused(last)) {
        add(c, "DSQL-TYPE", loc, "%s", shown);
        return;
    }
    int len = typmod(tn, 0);
    if (catalog && !strcmp(last, "varchar") && len > 65535)
        add(c, "DSQL-VARCHAR-LENGTH", loc,
            "length %d for type varchar is too large: Aurora DSQL stores at most 65535 bytes in "
            "a varchar",
            len);
    if (catalog && !strcmp(last, "bpchar") && len > 4096)
        add(c, "DSQL-CHAR-LENGTH", loc,
            "length %d for type char is too large: Aurora DSQL allows char(n) up to 4096", len);
    if (catalog && !strcmp(last, "numeric") && !get(tn, "typmods"))
        add(c, "DSQL-BARE-NUMERIC", loc, NULL);
}

/* The cache of a sequence's options (a DefElem list): -1 when absent. */
static long seq_cache(const cJSON *options)
{
    for (const cJSON *o = options ? options->child : NULL; o; o = o->next) {
        const cJSON *d = get(o, "DefElem");
        const char *name = str(d, "defname");
        if (!name || strcmp(name, "cache"))
            continue;
        const cJSON *arg = get(d, "arg");
        const cJSON *iv = get(arg, "Integer");
        if (iv)
            return num(iv, "ival", 0);
        const cJSON *fv = get(arg, "Float");
        if (fv && str(fv, "fval"))
            return atol(str(fv, "fval"));
        return 0;
    }
    return -1;
}

static bool cache_ok(long cache)
{
    return cache == 1 || cache >= 65536;
}

/* A column definition (CREATE TABLE or ADD COLUMN). */
static void check_column(actx *c, const cJSON *cd, bool adding)
{
    const cJSON *tn = get(cd, "typeName");
    check_type(c, tn);
    for (const cJSON *k = get(cd, "constraints") ? get(cd, "constraints")->child : NULL; k;
         k = k->next) {
        const cJSON *con = get(k, "Constraint");
        const char *ct = str(con, "contype");
        if (!ct)
            continue;
        if (adding && strcmp(ct, "CONSTR_NULL") != 0) {
            add(c, "DSQL-ADD-COLUMN-CONSTRAINT", num(con, "location", 0), NULL);
            return;
        }
        if (!strcmp(ct, "CONSTR_IDENTITY")) {
            const cJSON *names = get(tn, "names");
            const char *t = sval(cJSON_GetArrayItem(names, cJSON_GetArraySize(names) - 1));
            if (t && strcmp(t, "int8") != 0)
                add(c, "DSQL-IDENTITY-TYPE", num(tn, "location", 0), "%s", sql_type_name(t));
            else if (!cache_ok(seq_cache(get(con, "options"))))
                add(c, "DSQL-IDENTITY-CACHE", num(con, "location", 0), NULL);
        }
    }
}

/* ---- statements ---- */

static void lock_strength(const cJSON *lc, void *ctx)
{
    actx *c = ctx;
    const char *s = str(lc, "strength");
    if (s && (!strcmp(s, "LCS_FORSHARE") || !strcmp(s, "LCS_FORNOKEYUPDATE")))
        add(c, "DSQL-LOCKING", 0, NULL);
}

static void each_lock(const cJSON *arr, void *ctx)
{
    for (const cJSON *e = arr->child; e; e = e->next)
        lock_strength(get(e, "LockingClause"), ctx);
}

static void on_tablesample(const cJSON *n, void *ctx)
{
    add(ctx, "DSQL-TABLESAMPLE", num(n, "location", 0), NULL);
}

static dsql_rules_kind select_stmt(actx *c, const cJSON *s)
{
    if (get(s, "intoClause")) {
        add(c, "DSQL-CREATE-TABLE-AS", 0, NULL);
        return DSQL_RK_DDL;
    }
    each_key(s, "lockingClause", each_lock, c);
    each_key(s, "RangeTableSample", on_tablesample, c);
    if (find_key(s, "InsertStmt") || find_key(s, "UpdateStmt") || find_key(s, "DeleteStmt"))
        return DSQL_RK_DML;
    return DSQL_RK_READ;
}

static dsql_rules_kind transaction_stmt(actx *c, const cJSON *t)
{
    const char *k = str(t, "kind");
    if (!k)
        return DSQL_RK_OTHER;
    if (!strcmp(k, "TRANS_STMT_BEGIN") || !strcmp(k, "TRANS_STMT_START")) {
        for (const cJSON *o = get(t, "options") ? get(t, "options")->child : NULL; o; o = o->next) {
            const cJSON *d = get(o, "DefElem");
            if (!str(d, "defname") || strcmp(str(d, "defname"), "transaction_isolation"))
                continue;
            const char *level = str(get(get(get(d, "arg"), "A_Const"), "sval"), "sval");
            if (level && strcasecmp(level, "repeatable read")) {
                char up[32];
                size_t i = 0;
                for (; level[i] && i + 1 < sizeof up; i++)
                    up[i] = (char)(level[i] >= 'a' && level[i] <= 'z' ? level[i] - 32 : level[i]);
                up[i] = '\0';
                add(c, "DSQL-ISOLATION", num(d, "location", 0), "%s", up);
            }
        }
        return DSQL_RK_BEGIN;
    }
    if (!strcmp(k, "TRANS_STMT_COMMIT"))
        return DSQL_RK_COMMIT;
    if (!strcmp(k, "TRANS_STMT_ROLLBACK"))
        return DSQL_RK_ROLLBACK;
    const char *what = !strcmp(k, "TRANS_STMT_SAVEPOINT")         ? "SAVEPOINT"
                       : !strcmp(k, "TRANS_STMT_RELEASE")         ? "RELEASE"
                       : !strcmp(k, "TRANS_STMT_ROLLBACK_TO")     ? "ROLLBACK TO"
                       : !strcmp(k, "TRANS_STMT_PREPARE")         ? "PREPARE TRANSACTION"
                       : !strcmp(k, "TRANS_STMT_COMMIT_PREPARED") ? "COMMIT PREPARED"
                                                                  : "ROLLBACK PREPARED";
    add(c, "DSQL-SAVEPOINT", 0, "%s", what);
    return DSQL_RK_OTHER;
}

static bool set_allowed(const char *name)
{
    static const char *const ok[] = {
        "application_name", "client_encoding", "datestyle",   "extra_float_digits",
        "intervalstyle",    "timezone",        "search_path", "role"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!strcasecmp(name, ok[i]))
            return true;
    return !strncasecmp(name, "enable_", 7);
}

static dsql_rules_kind set_stmt(actx *c, const cJSON *v)
{
    const char *name = str(v, "name");
    const char *kind = str(v, "kind");
    if (!name)
        return DSQL_RK_SET; /* RESET ALL */
    if (!strcmp(name, "TRANSACTION") || !strcmp(name, "SESSION CHARACTERISTICS")) {
        for (const cJSON *o = get(v, "args") ? get(v, "args")->child : NULL; o; o = o->next) {
            const cJSON *d = get(o, "DefElem");
            const char *level = str(get(get(get(d, "arg"), "A_Const"), "sval"), "sval");
            if (str(d, "defname") && !strcmp(str(d, "defname"), "transaction_isolation") && level &&
                !strcasecmp(level, "serializable")) {
                add(c, "DSQL-ISOLATION", 0, "SERIALIZABLE");
                return DSQL_RK_SET;
            }
        }
        add(c, "DSQL-SET-TRANSACTION", 0, NULL);
        return DSQL_RK_SET;
    }
    (void)kind;
    if (!set_allowed(name))
        add(c, "DSQL-SET", 0, "%s", name);
    return DSQL_RK_SET;
}

static dsql_rules_kind create_stmt(actx *c, const cJSON *s)
{
    const cJSON *rel = get(s, "relation");
    const char *p = str(rel, "relpersistence");
    if (p && !strcmp(p, "t"))
        add(c, "DSQL-TEMP-TABLE", num(rel, "location", 0), NULL);
    else if (p && !strcmp(p, "u"))
        add(c, "DSQL-UNLOGGED-TABLE", num(rel, "location", 0), NULL);
    for (const cJSON *e = get(s, "tableElts") ? get(s, "tableElts")->child : NULL; e; e = e->next)
        if (get(e, "ColumnDef"))
            check_column(c, get(e, "ColumnDef"), false);
    return DSQL_RK_DDL;
}

static dsql_rules_kind alter_table(actx *c, const cJSON *a, bool async)
{
    for (const cJSON *e = get(a, "cmds") ? get(a, "cmds")->child : NULL; e; e = e->next) {
        const cJSON *cmd = get(e, "AlterTableCmd");
        const char *sub = str(cmd, "subtype");
        if (!sub)
            continue;
        const cJSON *def = get(cmd, "def");
        if (!strcmp(sub, "AT_AddColumn")) {
            check_column(c, get(def, "ColumnDef"), true);
        } else if (!strcmp(sub, "AT_AddConstraint")) {
            const cJSON *con = get(def, "Constraint");
            const char *ct = str(con, "contype");
            bool fk_not_valid =
                ct && !strcmp(ct, "CONSTR_FOREIGN") && cJSON_IsTrue(get(con, "skip_validation"));
            if (!fk_not_valid)
                add(c, "DSQL-ALTER-CONSTRAINT", num(con, "location", 0), NULL);
        } else if (!strcmp(sub, "AT_AlterColumnType")) {
            add(c, "DSQL-ALTER-TYPE", 0, NULL);
        } else if (!strcmp(sub, "AT_SetNotNull")) {
            add(c, "DSQL-ALTER-SET-NOT-NULL", 0, NULL);
        } else if (!strcmp(sub, "AT_ValidateConstraint")) {
            if (!async)
                add(c, "DSQL-ALTER-VALIDATE-SYNC", 0, NULL);
        } else if (strcmp(sub, "AT_DropColumn") && strcmp(sub, "AT_DropNotNull") &&
                   strcmp(sub, "AT_ColumnDefault") && strcmp(sub, "AT_DropConstraint") &&
                   strcmp(sub, "AT_SetStorage") && strcmp(sub, "AT_ChangeOwner")) {
            /* "AT_SetRelOptions" -> "SetRelOptions" */
            add(c, "DSQL-ALTER-TABLE", 0, "%s", sub + 3);
        }
    }
    return DSQL_RK_DDL;
}

static dsql_rules_kind function_stmt(actx *c, const cJSON *f)
{
    for (const cJSON *o = get(f, "options") ? get(f, "options")->child : NULL; o; o = o->next) {
        const cJSON *d = get(o, "DefElem");
        if (str(d, "defname") && !strcmp(str(d, "defname"), "language")) {
            const char *lang = sval(get(d, "arg"));
            if (lang && strcasecmp(lang, "sql"))
                add(c, "DSQL-FUNCTION-LANGUAGE", num(d, "location", 0), "%s", lang);
        }
    }
    return DSQL_RK_DDL;
}

/* Statements DSQL refuses whole, answered "unsupported statement: <Name>" (its node). */
static bool refused_statement(const char *type)
{
    static const char *const refused[] = {"CreatedbStmt",
                                          "DropdbStmt",
                                          "ListenStmt",
                                          "UnlistenStmt",
                                          "NotifyStmt",
                                          "LockStmt",
                                          "CreateTrigStmt",
                                          "CreateEventTrigStmt",
                                          "CreateExtensionStmt",
                                          "DeclareCursorStmt",
                                          "ClusterStmt",
                                          "ReindexStmt",
                                          "RefreshMatViewStmt",
                                          "CheckPointStmt",
                                          "LoadStmt",
                                          "AlterSystemStmt",
                                          "CreatePLangStmt",
                                          "CreateTableSpaceStmt",
                                          "DropTableSpaceStmt",
                                          "PrepareStmt",
                                          "ExecuteStmt",
                                          "CreateForeignTableStmt",
                                          "CreateSubscriptionStmt",
                                          "CreatePublicationStmt",
                                          "DoStmt",
                                          "CreateConversionStmt",
                                          "CreateCastStmt",
                                          "CreateOpClassStmt",
                                          "CreateStatsStmt",
                                          "CreatePolicyStmt",
                                          "CreateFdwStmt",
                                          "CreateForeignServerStmt",
                                          "ImportForeignSchemaStmt",
                                          "FetchStmt",
                                          "ClosePortalStmt",
                                          "CreateTransformStmt",
                                          "AlterEventTrigStmt",
                                          "ReassignOwnedStmt"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (!strcmp(type, refused[i]))
            return true;
    return false;
}

static dsql_rules_kind walk(actx *c, const cJSON *stmt, bool async)
{
    const char *type = node_type(stmt);
    const cJSON *b = node_body(stmt, type);
    if (!type)
        return DSQL_RK_EMPTY;
    if (!strcmp(type, "SelectStmt"))
        return select_stmt(c, b);
    if (!strcmp(type, "InsertStmt") || !strcmp(type, "UpdateStmt") || !strcmp(type, "DeleteStmt")) {
        each_key(b, "lockingClause", each_lock, c);
        return DSQL_RK_DML;
    }
    if (!strcmp(type, "MergeStmt")) {
        add(c, "DSQL-MERGE", 0, NULL);
        return DSQL_RK_DML;
    }
    if (!strcmp(type, "CopyStmt"))
        return cJSON_IsTrue(get(b, "is_from")) ? DSQL_RK_DML : DSQL_RK_READ;
    if (!strcmp(type, "TransactionStmt"))
        return transaction_stmt(c, b);
    if (!strcmp(type, "VariableSetStmt"))
        return set_stmt(c, b);
    if (!strcmp(type, "VariableShowStmt")) {
        const char *name = str(b, "name");
        if (name) {
            size_t i = 0;
            for (; name[i] && i + 1 < sizeof c->st->show; i++)
                c->st->show[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
            c->st->show[i] = '\0';
            if (!strcmp(c->st->show, "lc_collate") || !strcmp(c->st->show, "lc_ctype"))
                add(c, "DSQL-SHOW", 0, "%s", c->st->show);
        }
        return DSQL_RK_READ;
    }
    if (!strcmp(type, "ExplainStmt"))
        return DSQL_RK_READ;
    if (!strcmp(type, "CallStmt"))
        return DSQL_RK_CALL;
    if (!strcmp(type, "TruncateStmt")) {
        add(c, "DSQL-TRUNCATE", 0, NULL);
        return DSQL_RK_DML;
    }
    if (!strcmp(type, "VacuumStmt")) {
        if (cJSON_IsTrue(get(b, "is_vacuumcmd")))
            add(c, "DSQL-VACUUM", 0, NULL);
        return DSQL_RK_OTHER;
    }
    if (!strcmp(type, "DeallocateStmt")) {
        if (str(b, "name"))
            add(c, "DSQL-DEALLOCATE", 0, NULL);
        return DSQL_RK_OTHER;
    }
    if (!strcmp(type, "DiscardStmt"))
        return DSQL_RK_OTHER;
    if (refused_statement(type)) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(strlen(type) - 4), type); /* -"Stmt" */
        add(c, "DSQL-UNSUPPORTED-STATEMENT", 0, "%s", name);
        return DSQL_RK_OTHER;
    }
    if (!strcmp(type, "CreateStmt"))
        return create_stmt(c, b);
    if (!strcmp(type, "IndexStmt")) {
        const char *rel = str(get(b, "relation"), "relname");
        if (rel)
            snprintf(c->st->index_table, sizeof c->st->index_table, "%s", rel);
        if (str(b, "idxname"))
            snprintf(c->st->index_name, sizeof c->st->index_name, "%s", str(b, "idxname"));
        if (!async)
            add(c, "DSQL-INDEX-SYNC", 0, NULL);
        return DSQL_RK_DDL;
    }
    if (!strcmp(type, "AlterTableStmt"))
        return alter_table(c, b, async);
    if (!strcmp(type, "CreateTableAsStmt")) {
        add(c, "DSQL-CREATE-TABLE-AS", 0, NULL);
        return DSQL_RK_DDL;
    }
    if (!strcmp(type, "CreateSeqStmt") || !strcmp(type, "AlterSeqStmt")) {
        long cache = seq_cache(get(b, "options"));
        if (!cache_ok(cache) && (cache >= 0 || !strcmp(type, "CreateSeqStmt")))
            add(c, "DSQL-SEQUENCE-CACHE", 0, NULL);
        return DSQL_RK_DDL;
    }
    if (!strcmp(type, "CreateFunctionStmt"))
        return function_stmt(c, b);
    if (!strcmp(type, "CreateEnumStmt") || !strcmp(type, "CompositeTypeStmt") ||
        !strcmp(type, "CreateRangeStmt") ||
        (!strcmp(type, "DefineStmt") && str(b, "kind") && !strcmp(str(b, "kind"), "OBJECT_TYPE"))) {
        add(c, "DSQL-CREATE-TYPE", 0, NULL);
        return DSQL_RK_DDL;
    }
    if (!strcmp(type, "DropStmt")) {
        const char *rt = str(b, "removeType");
        if (rt && !strcmp(rt, "OBJECT_TYPE"))
            add(c, "DSQL-DROP-OBJECT", 0, NULL);
        return DSQL_RK_DDL;
    }
    return DSQL_RK_DDL; /* every other utility statement changes the schema */
}

/* The highest $n of the statement. */
static void max_param(const cJSON *pr, void *ctx)
{
    int *m = ctx;
    int n = num(pr, "number", 0);
    if (n > *m)
        *m = n;
}

/* ---- one statement ---- */

static int analyze_one(const char *sql, size_t off, size_t len, dsql_rules_stmt *st)
{
    /* The statement starts at its first token (positions then point at it). */
    size_t lead = dsql__rules_skip_space(sql + off, len, 0);
    off += lead;
    len -= lead;
    memset(st, 0, sizeof *st);
    st->offset = off;
    st->len = len;
    st->forward = malloc(len + 1);
    if (!st->forward)
        return -1;
    memcpy(st->forward, sql + off, len);
    st->forward[len] = '\0';
    st->rewritten = dsql__rules_prepass(st->forward, len, &st->async);
    actx c = {st, st->forward};
    PgQueryParseResult r = pg_query_parse(st->forward);
    if (r.error) {
        st->syntax_error = true;
        int pos = r.error->cursorpos > 0 ? r.error->cursorpos - 1 : 0;
        add(&c, "DSQL-SYNTAX", pos, "%s", r.error->message);
        st->kind = DSQL_RK_OTHER;
        pg_query_free_parse_result(r);
        return 0;
    }
    cJSON *tree = cJSON_Parse(r.parse_tree);
    pg_query_free_parse_result(r);
    if (!tree)
        return -1;
    const cJSON *stmts = get(tree, "stmts");
    const cJSON *first = cJSON_GetArrayItem(stmts, 0);
    if (!first) {
        st->kind = DSQL_RK_EMPTY;
    } else {
        const cJSON *node = get(first, "stmt");
        st->kind = walk(&c, node, st->async);
        each_key(node, "ParamRef", max_param, &st->max_param);
    }
    cJSON_Delete(tree);
    /* Refusals before warnings. */
    for (size_t i = 1; i < st->n_findings; i++)
        for (size_t k = i; k > 0 && st->findings[k - 1].rule->severity == DSQL_RS_WARNING &&
                           st->findings[k].rule->severity == DSQL_RS_REFUSED;
             k--) {
            dsql_rules_finding t = st->findings[k];
            st->findings[k] = st->findings[k - 1];
            st->findings[k - 1] = t;
        }
    return 0;
}

/* Whether this thread has parser memory to release (pg_query_exit on a thread that never
 * parsed anything would touch memory that does not exist). */
static _Thread_local bool parsed;

int dsql_rules_analyze(const char *sql, dsql_rules_result *out)
{
    parsed = true;
    out->stmts = NULL;
    out->n = 0;
    size_t total = strlen(sql);
    PgQuerySplitResult sp = pg_query_split_with_scanner(sql);
    /* The scanner failed (an unterminated literal), or found no statement start in text
     * that is not empty (what it cannot split, the parser will name): the whole text is
     * one statement. */
    bool whole = sp.error || (sp.n_stmts == 0 && dsql__rules_skip_space(sql, total, 0) < total);
    size_t n = whole ? 1 : (size_t)sp.n_stmts;
    out->stmts = calloc(n ? n : 1, sizeof *out->stmts);
    if (!out->stmts) {
        pg_query_free_split_result(sp);
        return -1;
    }
    int rc = 0;
    if (whole) {
        rc = analyze_one(sql, 0, total, &out->stmts[0]);
        out->n = 1;
    } else {
        for (size_t i = 0; i < n && rc == 0; i++) {
            size_t off = (size_t)sp.stmts[i]->stmt_location;
            size_t len = (size_t)sp.stmts[i]->stmt_len;
            if (len == 0 || off + len > total)
                len = total - off;
            rc = analyze_one(sql, off, len, &out->stmts[out->n]);
            out->n++;
        }
    }
    pg_query_free_split_result(sp);
    if (rc) {
        dsql_rules_result_free(out);
        return -1;
    }
    return 0;
}

void dsql_rules_result_free(dsql_rules_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->stmts[i].forward);
    free(r->stmts);
    r->stmts = NULL;
    r->n = 0;
}

const dsql_rules_finding *dsql_rules_refusal(const dsql_rules_stmt *s)
{
    for (size_t i = 0; i < s->n_findings; i++)
        if (s->findings[i].rule->severity == DSQL_RS_REFUSED)
            return &s->findings[i];
    return NULL;
}

const dsql_rule *dsql_rules_tx_step(dsql_rules_tx *tx, dsql_rules_kind kind)
{
    switch (kind) {
    case DSQL_RK_BEGIN:
        tx->in_block = true;
        tx->ddl = 0;
        tx->dml = false;
        return NULL;
    case DSQL_RK_COMMIT:
    case DSQL_RK_ROLLBACK:
        tx->in_block = false;
        tx->ddl = 0;
        tx->dml = false;
        return NULL;
    case DSQL_RK_DDL:
        if (!tx->in_block && !tx->implicit)
            return NULL;
        if (tx->dml)
            return dsql_rules_find("DSQL-TX-DDL-DML");
        if (tx->ddl++ > 0)
            return dsql_rules_find("DSQL-TX-MULTI-DDL");
        return NULL;
    case DSQL_RK_DML:
        if ((tx->in_block || tx->implicit) && tx->ddl > 0)
            return dsql_rules_find("DSQL-TX-DDL-DML");
        tx->dml = true;
        return NULL;
    default:
        return NULL;
    }
}

void dsql_rules_thread_done(void)
{
    if (parsed)
        pg_query_exit();
    parsed = false;
}
