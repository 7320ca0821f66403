/*
 * What a statement is, read from its text without a server: the first keyword (leading
 * white space, parentheses and comments skipped) decides whether the statement cache may
 * prepare it, whether it can have written anything, whether it commits, and whether it is
 * DDL - the last for Aurora DSQL's rule of one DDL statement per transaction and never DDL
 * with DML. (The full rules, with PostgreSQL's parser, live in the DSQL rules module used
 * by the local endpoint and `dsql lint`; the library needs only these keywords.)
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conn/private.h"

/* The first keyword of sql, upper-cased into kw; empty when sql does not start with one
 * (or, unless skip_comments, when it starts with a comment). */
static void first_keyword(const char *sql, bool skip_comments, char *kw, size_t size)
{
    const char *p = sql;
    for (;;) {
        while (isspace((unsigned char)*p) || *p == '(')
            p++;
        if (skip_comments && p[0] == '-' && p[1] == '-')
            p += strcspn(p, "\n");
        else if (skip_comments && p[0] == '/' && p[1] == '*')
            p = strstr(p + 2, "*/") ? strstr(p + 2, "*/") + 2 : p + strlen(p);
        else
            break;
    }
    size_t n = 0;
    while (n + 1 < size && isalpha((unsigned char)*p))
        kw[n++] = (char)toupper((unsigned char)*p++);
    if (isalnum((unsigned char)*p) || *p == '_')
        n = 0; /* longer than any keyword we look for */
    kw[n] = '\0';
}

void dsql__sql_keyword(const char *sql, char *kw, size_t size)
{
    first_keyword(sql, true, kw, size);
}

bool dsql__sql_cacheable(const char *sql)
{
    static const char *const kws[] = {"SELECT", "INSERT", "UPDATE", "DELETE",
                                      "WITH",   "VALUES", "TABLE",  "MERGE"};
    char kw[8];
    first_keyword(sql, false, kw, sizeof kw);
    for (size_t i = 0; i < DSQL__ARRAY_LEN(kws); i++)
        if (!strcmp(kw, kws[i]))
            return true;
    return false;
}

bool dsql__sql_commits_nothing(const char *sql)
{
    char kw[8];
    first_keyword(sql, false, kw, sizeof kw);
    return dsql__sql_cacheable(sql) || !strcmp(kw, "BEGIN") || !strcmp(kw, "START");
}

bool dsql__sql_may_write(const char *sql)
{
    /* Statements that change nothing when they run in autocommit. Anything else (DML,
     * DDL, CALL, WITH, EXPLAIN ANALYZE, ...) may have been applied before a connection
     * dropped. */
    static const char *const harmless[] = {"SELECT", "SHOW",   "VALUES",     "TABLE",    "BEGIN",
                                           "START",  "COMMIT", "END",        "ROLLBACK", "ABORT",
                                           "SET",    "RESET",  "DEALLOCATE", "DISCARD"};
    char kw[12];
    first_keyword(sql, true, kw, sizeof kw);
    if (!kw[0])
        return false;
    for (size_t i = 0; i < DSQL__ARRAY_LEN(harmless); i++)
        if (!strcmp(kw, harmless[i]))
            return false;
    return true;
}

bool dsql__sql_drops_statements(const char *sql)
{
    char kw[12];
    first_keyword(sql, false, kw, sizeof kw);
    if (strcmp(kw, "DISCARD") && strcmp(kw, "DEALLOCATE"))
        return false;
    /* DISCARD ALL, DEALLOCATE [PREPARE] ALL; a single DEALLOCATE of a name the cache
     * made would also invalidate it, so any DEALLOCATE resets the cache. */
    if (!strcmp(kw, "DEALLOCATE"))
        return true;
    const char *p = sql;
    while (isspace((unsigned char)*p))
        p++;
    p += strlen("DISCARD");
    while (isspace((unsigned char)*p))
        p++;
    return !strncasecmp(p, "ALL", 3) && !isalnum((unsigned char)p[3]) && p[3] != '_';
}

dsql__sql_kind dsql__sql_kind_of(const char *sql)
{
    static const struct {
        const char *kw;
        dsql__sql_kind kind;
    } kinds[] = {
        {"SELECT", DSQL__SQL_READ}, {"SHOW", DSQL__SQL_READ},    {"VALUES", DSQL__SQL_READ},
        {"TABLE", DSQL__SQL_READ},  {"EXPLAIN", DSQL__SQL_READ}, {"INSERT", DSQL__SQL_DML},
        {"UPDATE", DSQL__SQL_DML},  {"DELETE", DSQL__SQL_DML},   {"MERGE", DSQL__SQL_DML},
        {"WITH", DSQL__SQL_DML},    {"COPY", DSQL__SQL_DML},     {"CREATE", DSQL__SQL_DDL},
        {"ALTER", DSQL__SQL_DDL},   {"DROP", DSQL__SQL_DDL},     {"COMMENT", DSQL__SQL_DDL},
        {"GRANT", DSQL__SQL_DDL},   {"REVOKE", DSQL__SQL_DDL},   {"TRUNCATE", DSQL__SQL_DDL},
        {"REINDEX", DSQL__SQL_DDL}, {"SECURITY", DSQL__SQL_DDL}, {"IMPORT", DSQL__SQL_DDL},
        {"REFRESH", DSQL__SQL_DDL}, {"CLUSTER", DSQL__SQL_DDL},
    };
    char kw[12];
    first_keyword(sql, true, kw, sizeof kw);
    for (size_t i = 0; i < DSQL__ARRAY_LEN(kinds); i++)
        if (!strcmp(kw, kinds[i].kw))
            return kinds[i].kind;
    return DSQL__SQL_OTHER;
}

int dsql__check_one_transaction(const dsql_stmt *stmts, size_t n, const char *what, dsql_error *err)
{
    size_t ddl = n, dml = n;
    for (size_t i = 0; i < n; i++) {
        if (!stmts[i].sql)
            continue;
        dsql__sql_kind k = dsql__sql_kind_of(stmts[i].sql);
        if (k == DSQL__SQL_DDL && ddl < n)
            return dsql_error_set(err, DSQL_EUNSUPPORTED,
                                  "%s: statements %zu and %zu are both DDL, and they would run in "
                                  "one transaction: Aurora DSQL allows one DDL statement per "
                                  "transaction (multiple ddl statements not supported in a "
                                  "transaction); run each DDL statement on its own, nothing was "
                                  "sent",
                                  what, ddl, i);
        if (k == DSQL__SQL_DDL)
            ddl = i;
        else if (k == DSQL__SQL_DML && dml == n)
            dml = i;
    }
    if (ddl < n && dml < n)
        return dsql_error_set(err, DSQL_EUNSUPPORTED,
                              "%s: statement %zu is DDL and statement %zu is DML, and they would "
                              "run in one transaction: Aurora DSQL never runs DDL and DML in the "
                              "same transaction (ddl and dml are not supported in the same "
                              "transaction); run the DDL on its own, nothing was sent",
                              what, ddl, dml);
    return DSQL_OK;
}

bool dsql__sql_waits_long(const char *sql)
{
    if (dsql__sql_kind_of(sql) == DSQL__SQL_DDL)
        return true;
    char kw[8];
    first_keyword(sql, true, kw, sizeof kw);
    return !strcmp(kw, "CALL");
}
