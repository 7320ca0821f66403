/* Splits a SQL text into statements and analyses each (skeleton: statements come next). */
#include <pg_query.h>
#include <stdlib.h>
#include <string.h>

#include "rules/internal.h"

static int set_err(dsql_error *err, int status, const char *msg)
{
    return dsql_error_set(err, status, "%s", msg);
}

int dsql_rules_analyze(const char *sql, size_t len, dsql_rules_result **out, dsql_error *err)
{
    if (!out)
        return set_err(err, DSQL_EINVAL, "dsql_rules_analyze: out is NULL");
    *out = NULL;
    if (!sql)
        return set_err(err, DSQL_EINVAL, "dsql_rules_analyze: sql is NULL");
    if (memchr(sql, '\0', len))
        return set_err(err, DSQL_EINVAL, "SQL text holds a NUL byte");
    dsql_rules_result *r = calloc(1, sizeof *r);
    if (!r)
        return set_err(err, DSQL_ENOMEM, "out of memory analysing SQL");
    r->magic = DSQL__RULES_MAGIC;
    r->text = dsql__arena_memdup(&r->arena, sql, len);
    if (!r->text) {
        dsql_rules_result_free(r);
        return set_err(err, DSQL_ENOMEM, "out of memory analysing SQL");
    }
    r->len = len;
    *out = r;
    return DSQL_OK;
}

void dsql_rules_result_free(dsql_rules_result *r)
{
    if (!r)
        return;
    dsql__arena_free(&r->arena);
    r->magic = 0;
    free(r);
}

size_t dsql_rules_count(const dsql_rules_result *r)
{
    return r ? r->n : 0;
}

const dsql_rules_stmt *dsql_rules_stmt_at(const dsql_rules_result *r, size_t i)
{
    return r && i < r->n ? &r->stmts[i] : NULL;
}

const dsql_rules_finding *dsql_rules_syntax_error(const dsql_rules_result *r)
{
    return r ? r->syntax_error : NULL;
}

size_t dsql_rules_error_position(const dsql_rules_result *r, const dsql_rules_finding *f)
{
    size_t chars = 0;
    for (size_t i = 0; i < f->offset && i < r->len; i++)
        if (((unsigned char)r->text[i] & 0xC0) != 0x80)
            chars++;
    return chars + 1;
}

const dsql_rules_finding *dsql_rules_refusal(const dsql_rules_stmt *s)
{
    for (size_t i = 0; s && i < s->n_findings; i++)
        if (s->findings[i].rule->severity == DSQL_RULE_REFUSED)
            return &s->findings[i];
    return NULL;
}

const char *dsql_rules_kind_name(dsql_rules_kind kind)
{
    static const char *const names[] = {"unknown",  "read",      "dml", "ddl",  "begin", "commit",
                                        "rollback", "savepoint", "set", "show", "call",  "utility"};
    if ((int)kind < 0 || (size_t)kind >= DSQL__ARRAY_LEN(names))
        return "unknown";
    return names[kind];
}

void dsql_rules_thread_done(void)
{
    pg_query_exit();
}
